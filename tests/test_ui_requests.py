"""Request → review → release in a real headless Chromium, with four keys on one real server (`cohort
serve` over the tiny mart of ``tests.api_fixtures``, real DICOM files): the researcher asks and
requests the data from the answer; two stewards review in the queue (one in Korean, one in English),
reading the request, the read-back, the counts and the disclosure check; the export client downloads
the package on its page, and the test verifies every checksum of the file the browser saved.

Why: the committee and the export client use this page, not the API; what they read and download
must be what the API says, in both languages, with nothing loaded from elsewhere.

The walk starts with the researcher's own list: the UI has no upload form, so the list goes up
through `POST /v1/uploads` with the researcher's key, and the question then names it ("… who are in
my list 'echo-study'"); the cohort is exactly the hand-written SQL's persons.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.api_fixtures import MRNS, build_tiny_mart
from tests.served import served
from tests.test_ui_chat import CHROMIUM, CHROMIUM_ARGS, SHOTS

pytestmark = pytest.mark.browser

KEYS = {"researcher": "researcher", "steward1": "steward", "steward2": "steward", "export": "export_client"}
PURPOSE = "Outcomes after CABG versus PCI in early MI (protocol 2026-17)"
#: The researcher's list: persons 1–13 (all imaged) by MRN, and 3 identifiers that are nobody's.
LIST_CSV = ("mrn\n" + "".join(f"{m}\n" for m in MRNS[:13]) + "X0000001\nX0000002\nX0000003\n").encode()
QUESTION = "patients diagnosed in October 2023 who are in my list 'echo-study'"
HAND_SQL = (
    "SELECT DISTINCT c.person_id FROM condition_occurrence AS c JOIN person AS p USING (person_id) "
    "WHERE c.condition_start_date BETWEEN DATE '2023-10-01' AND DATE '2023-10-31' "
    f"AND p.person_source_value IN ({', '.join(repr(m) for m in MRNS[:13])})"
)


@pytest.fixture(scope="module", autouse=True)
def _chromium_installed() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run scripts/setup-system.sh (installs chromium)", pytrace=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("ui-requests")
    mart = build_tiny_mart(work / "mart.duckdb")
    with duckdb.connect(str(mart), read_only=True) as con:  # before the server holds the file
        hand = {int(r[0]) for r in con.execute(HAND_SQL).fetchall()}
    with served(mart, work, KEYS, args=["--k", "2"]) as s:
        s.hand = hand  # type: ignore[attr-defined]
        yield s


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _api(server, who: str, path: str) -> dict:
    r = httpx.get(server.base + path, headers={"Authorization": f"Bearer {server.keys[who]}"}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def _page(browser, server, who: str, lang: str):
    page = browser.new_page(
        viewport={"width": 1366, "height": 900}, locale="ko-KR" if lang == "ko" else "en-US"
    )
    seen: dict[str, list[str]] = {"requests": [], "errors": []}
    page.on("request", lambda req: seen["requests"].append(req.url))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.goto(server.base + "/")
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#api-key", server.keys[who])
    page.click("#key-save")
    page.click(f"#lang-{lang}")
    return page, seen


def _clean(server, seen) -> None:
    assert not seen["errors"], seen["errors"]
    assert all(u.startswith(server.base) or u.startswith(("data:", "blob:")) for u in seen["requests"])


def _open_request(page, rid: str) -> None:
    page.click("[data-testid=requests-button]")
    page.click(f"[data-testid=rq-item][data-id='{rid}'] [data-testid=rq-open]")
    page.wait_for_selector(f"[data-testid=rq-detail][data-id='{rid}']")


def test_request_review_release_walk(browser, server, tmp_path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)

    # 1. the researcher uploads a list (the API: the UI has no upload form), asks with it, requests
    r = httpx.post(
        server.base + "/v1/uploads",
        headers={"Authorization": f"Bearer {server.keys['researcher']}"},
        data={"name": "echo-study", "id_column": "mrn"},
        files={"file": ("echo.csv", LIST_CSV, "text/csv")},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["rows"], r.json()["matched"]["display"]) == (16, "13")
    assert server.hand == set(range(1, 14))
    page, seen = _page(browser, server, "researcher", "en")
    page.fill("#question", QUESTION)
    page.click("#ask-button")
    page.wait_for_selector("#result:not([hidden]) [data-testid=request-panel]:not([hidden])", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#count').textContent !== '–'")
    asked = page.evaluate("window.cohortUI.state.result")
    assert [u["name"] for u in asked["spec"]["lists"]] == ["echo-study"]
    mine = _api(server, "researcher", f"/v1/cohorts/{asked['cohort_id']}")
    assert page.text_content("#count") == mine["count_display"]  # the researcher's (noisy) count
    page.click("[data-testid=request-data]")
    page.fill("#rq-purpose", PURPOSE)
    page.fill("#rq-org", "Example University Hospital")
    page.check("#rq-domain-conditions")
    page.check("#rq-domain-procedures")
    page.check("#rq-images")
    page.fill("#rq-modalities", "CT")
    page.fill("#rq-start", "-30")
    page.fill("#rq-end", "60")
    page.click("#rq-submit")
    page.wait_for_selector("[data-testid=rq-status][data-request-id]")
    rid = page.get_attribute("[data-testid=rq-status]", "data-request-id")
    assert (
        page.text_content("[data-testid=rq-status]")
        == f"Request {rid} submitted; the review committee decides."
    )
    req = _api(server, "researcher", f"/v1/requests/{rid}")
    assert (req["status"], req["domains"], req["modalities"], req["window"]) == (
        "submitted",
        ["conditions", "procedures"],
        ["CT"],
        {"start": -30, "end": 60},
    )
    assert req["purpose"] == PURPOSE and req["cohort_id"] == page.evaluate(
        "window.cohortUI.state.result.cohort_id"
    )
    # the researcher's own queue shows it, waiting; no review buttons for the requester
    _open_request(page, rid)
    assert page.get_attribute("[data-testid=rq-detail]", "data-status") == "submitted"
    assert page.locator("[data-testid=rq-approve]").count() == 0
    page.screenshot(path=str(SHOTS / "requests-researcher-en.png"), full_page=True)
    _clean(server, seen)
    page.close()

    # 2. the first steward reviews in Korean: the request, the read-back, the counts, the disclosure check
    page, seen = _page(browser, server, "steward1", "ko")
    _open_request(page, rid)
    assert page.text_content("[data-testid=requests-button]") == "반출 요청"
    cohort = _api(server, "steward1", f"/v1/cohorts/{req['cohort_id']}")
    disclosure = _api(server, "steward1", f"/v1/requests/{rid}/disclosure")
    page.wait_for_selector("[data-testid=rq-disclosure]")
    assert page.text_content("[data-testid=rq-readback]") == cohort["readback"]
    assert page.text_content("[data-testid=rq-count]") == cohort["count_display"] == str(len(server.hand))
    assert cohort["counts"] == "exact" and cohort["count"] == len(server.hand)
    assert page.locator("[data-testid=rq-attrition]").count() == len(cohort["attrition"])
    assert page.get_attribute("[data-testid=rq-disclosure]", "data-withheld") == str(disclosure["withheld"])
    assert page.text_content("[data-testid=rq-disclosure]").startswith(
        f"k=2: 환자 {disclosure['persons']}명 중"
    )
    assert PURPOSE in page.text_content("[data-testid=rq-detail]")
    page.fill("#rq-comment", "목적이 분명합니다")
    page.click("[data-testid=rq-approve]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=rq-act-status]')?.textContent === '완료.'"
    )
    assert page.get_attribute("[data-testid=rq-detail]", "data-status") == "submitted"
    assert "승인 1/2" in page.text_content("[data-testid=rq-detail]")
    assert page.locator("[data-testid=rq-approve]").count() == 0  # approved once already
    page.screenshot(path=str(SHOTS / "requests-steward-ko.png"), full_page=True)
    _clean(server, seen)
    page.close()

    # 3. the second steward approves in English: the quorum is reached and the package is built
    page, seen = _page(browser, server, "steward2", "en")
    _open_request(page, rid)
    page.fill("#rq-comment", "agreed; CT only")
    page.click("[data-testid=rq-approve]")
    page.wait_for_selector(f"[data-testid=rq-detail][data-id='{rid}'][data-status=approved]")
    page.wait_for_selector("[data-testid=rq-package][data-status=ready]", timeout=120_000)
    assert [
        t.split(" · ")[0] for t in page.locator("[data-testid=rq-review] strong").all_text_contents()
    ] == [
        "round 1",
        "round 1",
    ]
    assert (
        page.locator("[data-testid=rq-download]").count() == 0
    )  # stewards review; they do not take data out
    _clean(server, seen)
    page.close()

    # 4. the export client downloads on its page; the file the browser saved verifies
    page, seen = _page(browser, server, "export", "en")
    _open_request(page, rid)
    pkg = _api(server, "export", f"/v1/requests/{rid}")["package"]
    assert page.text_content("[data-testid=rq-sha256]") == pkg["sha256"]
    assert PURPOSE not in page.text_content("[data-testid=rq-detail]")  # the purpose is the committee's
    with page.expect_download() as info:
        page.click("[data-testid=rq-download]")
    saved = tmp_path / "package.zip"
    info.value.save_as(saved)
    assert info.value.suggested_filename == f"{rid}.zip"
    page.wait_for_selector("[data-testid=rq-download-status][data-verified=true]")
    assert page.text_content("[data-testid=rq-download-status]") == "SHA-256 verified"
    data = saved.read_bytes()
    assert len(data) == pkg["bytes"] and hashlib.sha256(data).hexdigest() == pkg["sha256"]
    with zipfile.ZipFile(saved) as zf:
        sums = [line.split("  ", 1) for line in zf.read("SHA256SUMS").decode().splitlines()]
        assert sorted(name for _d, name in sums) == sorted(n for n in zf.namelist() if n != "SHA256SUMS")
        for digest, name in sums:
            assert hashlib.sha256(zf.read(name)).hexdigest() == digest, name
        assert any(n.startswith("images/files/") for n in zf.namelist())
        assert "records/conditions.parquet" in zf.namelist()
    page.screenshot(path=str(SHOTS / "requests-export-en.png"), full_page=True)
    _clean(server, seen)
    page.close()
    after = _api(server, "steward1", f"/v1/requests/{rid}")
    assert (after["status"], after["approvals"], after["package"]["downloads"]) == ("approved", 2, 1)
