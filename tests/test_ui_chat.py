"""The chat UI in a real headless Chromium (Debian's `chromium`, driven by Playwright): the real server
(`cohort serve` on 127.0.0.1, a free port) over the demo mart; the seed scenario typed in English and
in Korean; the funnel and the count on screen must equal the API's numbers for the same question;
editing a criterion and re-running must equal the API's run of the edited spec. Screenshots land in
artifacts/screenshots/ (laptop and tablet sizes).

Why: researchers use this page, not the API; what they read must be what the API says, with the same
small-cell suppression, in both languages, with nothing loaded from the internet.

Needs `scripts/setup-system.sh` (chromium, fonts-noto-cjk); never `playwright install`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from cohort_engine.seed import SEED_EN, SEED_KO
from tests.served import served

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("COHORT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


@pytest.fixture(scope="module", autouse=True)
def _chromium_installed() -> None:
    """A missing browser fails the UI tests with the fix, rather than skipping them."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run scripts/setup-system.sh (installs chromium)", pytrace=False)


@pytest.fixture(scope="module")
def server(demo_dicom_mart_path: Path, tmp_path_factory: pytest.TempPathFactory):
    with served(demo_dicom_mart_path, tmp_path_factory.mktemp("ui"), {"researcher": "researcher"}) as s:
        yield {"base": s.base, "key": s.keys["researcher"]}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _api(server, method: str, path: str, body: dict | None = None) -> dict:
    r = httpx.request(
        method,
        server["base"] + path,
        json=body,
        timeout=60,
        headers={"Authorization": f"Bearer {server['key']}"},
    )
    assert r.status_code < 300, r.text
    return r.json()


def _open(browser, server, *, viewport: dict, lang: str):
    page = browser.new_page(viewport=viewport, locale="ko-KR" if lang == "ko" else "en-US")
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server["base"] + "/")
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#api-key", server["key"])
    page.click("#key-save")
    page.click(f"#lang-{lang}")
    return page, requests, errors


def _ask_on_page(page, question: str) -> None:
    page.fill("#question", question)
    page.click("#ask-button")
    page.wait_for_selector("#result:not([hidden]) [data-testid=funnel-step]", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#count').textContent !== '–'")


def _screen_numbers(page) -> tuple[list[str], str]:
    return page.locator("[data-testid=funnel-count]").all_text_contents(), page.text_content("#count") or ""


def _wait_charts(page) -> None:
    page.wait_for_function(
        "() => ['chart-pyramid','chart-months','chart-modalities','chart-bodyparts']"
        ".every(id => document.getElementById(id).children.length > 0)",
        timeout=60_000,
    )


@pytest.mark.parametrize("lang,question", [("en", SEED_EN), ("ko", SEED_KO)])
def test_seed_scenario_on_screen_matches_api(browser, server, lang: str, question: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, requests, errors = _open(browser, server, viewport={"width": 1366, "height": 900}, lang=lang)
    _ask_on_page(page, question)
    api = _api(server, "POST", "/v1/ask", {"question": question})
    funnel, count = _screen_numbers(page)
    assert api["status"] == "ok"
    assert funnel == [a["display"] for a in api["attrition"]]
    assert count == api["count_display"]
    # The page's own answer is the same cohort (same spec, same read-back).
    shown = page.evaluate("window.cohortUI.state.result")
    assert shown["spec"] == api["spec"] and page.text_content("#readback") == api["readback"]
    _wait_charts(page)
    assert page.locator("#sql").text_content().startswith("WITH")
    assert page.locator("[data-testid=block-criterion]").count() == len(api["spec"]["criteria"])
    # UI strings follow the language; Hangul has a font to render with.
    assert page.text_content("#ask-button") == ("질문하기" if lang == "ko" else "Ask")
    assert page.evaluate("document.documentElement.lang") == lang
    if lang == "ko":
        assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK KR\"', '한국어')")
        assert "기준 사건" in page.text_content("#readback")
    page.screenshot(path=str(SHOTS / f"chat-{lang}-laptop.png"), full_page=True)
    assert all(u.startswith(server["base"]) or u.startswith("data:") for u in requests), requests
    assert not errors, errors
    page.close()


def test_edit_criteria_and_rerun_matches_api(browser, server) -> None:
    page, _, errors = _open(browser, server, viewport={"width": 1366, "height": 900}, lang="en")
    _ask_on_page(page, SEED_EN)
    spec = page.evaluate("window.cohortUI.state.result.spec")
    # Widen the window to 0..30 days and re-run without retyping.
    block = page.locator("[data-testid=block-criterion]").first
    block.locator("[name=wstart]").fill("0")
    block.locator("[name=wend]").fill("30")
    before = page.locator("[data-testid=msg-assistant]").count()
    page.click("#rerun")
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=msg-assistant]').length > {before}"
    )
    page.wait_for_function("() => window.cohortUI.state.result.spec.criteria[0].window.end === 30")
    edited = json.loads(json.dumps(spec))
    edited["criteria"][0]["window"].update({"start": 0, "end": 30})
    api = _api(server, "POST", "/v1/cohorts", {"spec": edited})
    funnel, count = _screen_numbers(page)
    assert funnel == [a["display"] for a in api["attrition"]] and count == api["count_display"]
    # Drop the criterion: only the index step is left.
    page.locator("[data-testid=block-criterion] [data-testid=drop]").first.click()
    page.click("#rerun")
    page.wait_for_function("() => window.cohortUI.state.result.spec.criteria.length === 0")
    funnel, count = _screen_numbers(page)
    api = _api(server, "POST", "/v1/cohorts", {"spec": {**edited, "criteria": []}})
    assert funnel == [api["attrition"][0]["display"]] and count == api["count_display"]
    # Ask for a manifest release: the button turns into a status line.
    page.click("#request-manifest")
    page.wait_for_function("() => document.querySelector('#manifest-status').textContent.length > 0")
    assert "steward" in page.text_content("#manifest-status")
    assert page.is_disabled("#request-manifest")
    assert not errors, errors
    page.close()


def test_tablet_layout_in_korean(browser, server) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, _, errors = _open(browser, server, viewport={"width": 820, "height": 1180}, lang="ko")
    _ask_on_page(page, SEED_KO)
    _wait_charts(page)
    # One column: the result sits below the chat, nothing overflows sideways.
    chat, result = page.locator(".chat").bounding_box(), page.locator("#result").bounding_box()
    assert result["y"] >= chat["y"] + chat["height"] - 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(SHOTS / "chat-ko-tablet.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_clarification_choices_are_clickable(browser, server) -> None:
    page, _, errors = _open(browser, server, viewport={"width": 1366, "height": 900}, lang="en")
    question = "show me some people please"
    api = _api(server, "POST", "/v1/ask", {"question": question})
    assert api["status"] == "clarify" and api["clarifications"][0]["choices"]
    page.fill("#question", question)
    page.click("#ask-button")
    choice = page.locator("[data-testid=choice]").first
    choice.wait_for()
    assert choice.text_content() == api["clarifications"][0]["choices"][0]["label"]
    choice.click()
    assert api["clarifications"][0]["choices"][0]["label"] in page.input_value("#question")
    assert not errors, errors
    page.close()


def test_swap_in_a_saved_code_set_and_rerun(browser, server) -> None:
    seed = _api(server, "POST", "/v1/ask", {"question": SEED_EN})
    ids = sorted({m["concept_id"] for r in seed["resolutions"]["surgery"] for m in r["matches"]})[:2]
    httpx.delete(
        f"{server['base']}/v1/codesets/ui-revasc", headers={"Authorization": f"Bearer {server['key']}"}
    )
    _api(server, "POST", "/v1/codesets", {"name": "ui-revasc", "domain": "procedure", "concept_ids": ids})
    page, _, errors = _open(browser, server, viewport={"width": 1366, "height": 900}, lang="en")
    _ask_on_page(page, SEED_EN)
    block = page.locator("[data-testid=block-criterion]").first
    block.locator("[name=terms]").fill("")
    block.locator("[name=codeset]").select_option("ui-revasc")
    page.click("#rerun")
    page.wait_for_function(
        "() => window.cohortUI.state.result.spec.criteria[0].concepts.codeset === 'ui-revasc'"
    )
    edited = json.loads(json.dumps(seed["spec"]))
    edited["criteria"][0]["concepts"].update({"terms": [], "codeset": "ui-revasc"})
    api = _api(server, "POST", "/v1/cohorts", {"spec": edited})
    assert api["status"] == "ok"
    funnel, count = _screen_numbers(page)
    assert funnel == [a["display"] for a in api["attrition"]] and count == api["count_display"]
    assert "ui-revasc" in page.text_content("#codes")
    assert not errors, errors
    page.close()


def test_their_images_panel_matches_api(browser, server) -> None:
    """The seed cohort's indexed images per modality: the table on screen is the API's, cell for cell."""
    page, requests, errors = _open(browser, server, viewport={"width": 1366, "height": 900}, lang="en")
    _ask_on_page(page, SEED_EN)
    api = _api(server, "POST", "/v1/ask", {"question": SEED_EN})
    assert api["imaging"], "the seed cohort has indexed images in the demo"
    page.wait_for_selector("[data-testid=imaging-row]")
    shown = {
        row.get_attribute("data-modality"): row.locator("[data-testid=imaging-persons]").text_content()
        for row in page.locator("[data-testid=imaging-row]").all()
    }
    assert shown == {r["modality"]: r["persons"]["display"] for r in api["imaging"]}
    page.locator("#imaging-panel").screenshot(path=str(SHOTS / "imaging-en.png"))
    assert not errors
    assert all(u.startswith(server["base"]) for u in requests)
