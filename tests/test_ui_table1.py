"""The chat UI's Table 1 panel in a real headless Chromium over a real `cohort serve` on the demo mart: after
the seed answer, the "Table 1" / "특성표" button opens the cohort's baseline characteristics, and every cell
on screen is the API's (`GET /v1/cohorts/{id}/table1`) for the same cohort and key, in English and Korean;
with a second cohort picked in the compare selector, both columns and the SMDs are the API's `?compare=`.

Why: researchers read this panel, not the JSON; a cell the API suppresses ("<11") must stay suppressed on
screen, in the charts' tooltips too, and never show the exact number a steward would see.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest

from cohort_engine.seed import SEED_EN, SEED_KO
from tests.served import served
from tests.test_ui_chat import CHROMIUM, SHOTS, _ask_on_page, _chromium_installed, _open, browser  # noqa: F401

pytestmark = pytest.mark.browser

COMPARE_QUESTION = "patients with a first-ever stroke"
SECTION_TITLES = {
    "en": {
        "age": "Age",
        "sex": "Sex",
        "condition": "Conditions",
        "lab": "Labs, median (IQR)",
        "death": "Deaths",
    },
    "ko": {"age": "나이", "sex": "성별", "condition": "진단", "lab": "검사, 중앙값 (IQR)", "death": "사망"},
}
SEX_LABELS = {"en": {"male": "Male", "female": "Female"}, "ko": {"male": "남성", "female": "여성"}}
DEATH_30 = {"en": "Died within 30 days after index", "ko": "기준일 후 30일 이내 사망"}


@pytest.fixture(scope="module")
def server(demo_mart_path: Path, tmp_path_factory: pytest.TempPathFactory):
    keys = {"researcher": "researcher", "steward": "steward"}
    with served(demo_mart_path, tmp_path_factory.mktemp("ui-table1"), keys) as s:
        yield {"base": s.base, "key": s.keys["researcher"], "steward": s.keys["steward"]}


def _get(server, path: str, *, key: str | None = None, **params: str) -> dict:
    r = httpx.get(
        server["base"] + path,
        params=params,
        timeout=120,
        headers={"Authorization": f"Bearer {key or server['key']}"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def _post(server, path: str, body: dict) -> dict:
    r = httpx.post(
        server["base"] + path, json=body, timeout=120, headers={"Authorization": f"Bearer {server['key']}"}
    )
    assert r.status_code < 300, r.text
    return r.json()


def _fixed(x: float, digits: int) -> str:
    """``x.toFixed(digits)`` as the browser writes it: the exact binary value rounded, a tie away from zero
    (JavaScript), where Python's format rounds a tie to even (1.625 → '1.63', not '1.62')."""
    exact = Decimal(x) if x != 0 else Decimal(0)  # (-0).toFixed(2) is '0.00'
    return str(exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _cell_text(row: dict, cell: dict) -> str:
    """What the panel must show for one cohort's cell of ``row`` (the API's own strings and numbers)."""
    if row["section"] == "age":
        return cell["value"] or "–"
    c = cell["persons"]
    text = c["display"] if c["value"] is None else f"{c['display']} ({_fixed(cell['percent'], 1)}%)"
    return f"{text} · {cell['value']}" if row["section"] == "lab" and cell["value"] else text


def _screen_rows(page) -> list[tuple[str, str, list[str], str | None]]:
    out = []
    for tr in page.locator("[data-testid=table1-row]").all():
        cells = tr.locator("[data-testid=table1-cell]").all_text_contents()
        smd = tr.locator("[data-testid=table1-smd]")
        out.append(
            (
                tr.get_attribute("data-section") or "",
                tr.get_attribute("data-label") or "",
                cells,
                smd.text_content() if smd.count() else None,
            )
        )
    return out


def _expected_rows(api: dict) -> list[tuple[str, str, list[str], str | None]]:
    order = ["age", "age_band", "sex", "condition", "procedure", "drug", "lab", "death", "imaging"]
    two = len(api["cohort_ids"]) == 2
    rows = sorted(api["rows"], key=lambda r: order.index(r["section"]))  # stable: API order within a section
    return [
        (
            r["section"],
            r["label"],
            [_cell_text(r, c) for c in r["cells"]],
            (_fixed(r["smd"], 2) if r["smd"] is not None else "") if two else None,
        )
        for r in rows
    ]


def _open_table1(page) -> None:
    page.wait_for_selector("#table1-button:not([disabled])")
    page.click("#table1-button")
    page.wait_for_selector("[data-testid=table1-row]", timeout=60_000)


@pytest.mark.parametrize("lang,question", [("en", SEED_EN), ("ko", SEED_KO)])
def test_table1_on_screen_equals_api_in_both_languages(browser, server, lang: str, question: str) -> None:  # noqa: F811
    page, requests, errors = _open(browser, server, viewport={"width": 1366, "height": 900}, lang=lang)
    _ask_on_page(page, question)
    assert page.text_content("#table1-button") == ("특성표" if lang == "ko" else "Table 1")
    _open_table1(page)
    cohort_id = page.evaluate("window.cohortUI.state.result.cohort_id")
    api = _get(server, f"/v1/cohorts/{cohort_id}/table1")
    assert api["counts"] == "noisy"
    assert _screen_rows(page) == _expected_rows(api)
    totals = page.locator("[data-testid=table1-total]").all_text_contents()
    assert [t.rsplit("= ", 1)[1] for t in totals] == [f"{t['display']})" for t in api["totals"]]
    # labels follow the language: section headings, sex, deaths
    sections = page.locator(".table1-table tr.section th").all_text_contents()
    for s, title in SECTION_TITLES[lang].items():
        assert (title in sections) == any(r["section"] == s for r in api["rows"]), (s, sections)
    for sex, label in SEX_LABELS[lang].items():
        if any(r["section"] == "sex" and r["label"] == sex for r in api["rows"]):
            row = page.locator(f"[data-testid=table1-row][data-section=sex][data-label={sex}] th")
            assert row.text_content() == label
    death = page.locator("[data-testid=table1-row][data-section=death]").first.locator("th")
    assert death.text_content() == DEATH_30[lang]
    # the charts are drawn: top-N bars per concept section, box plots for labs
    for name in ("condition", "procedure", "drug", "lab"):
        assert page.locator(f"[data-testid=table1-chart-{name}] svg").count() == 1
    page.locator("#table1-panel").screenshot(path=str(SHOTS / f"table1-{lang}.png"))
    # switching language re-labels the open panel without another request's numbers changing
    other = "ko" if lang == "en" else "en"
    page.click(f"#lang-{other}")
    assert page.text_content("#table1-button") == ("특성표" if other == "ko" else "Table 1")
    assert _screen_rows(page) == _expected_rows(api)
    assert all(u.startswith(server["base"]) or u.startswith("data:") for u in requests), requests
    assert not errors, errors
    page.close()


def test_compare_side_by_side_with_smd(browser, server) -> None:  # noqa: F811
    second = _post(server, "/v1/ask", {"question": COMPARE_QUESTION})
    assert second["status"] == "ok"
    page, _, errors = _open(browser, server, viewport={"width": 1366, "height": 900}, lang="en")
    _ask_on_page(page, SEED_EN)
    _open_table1(page)
    cohort_id = page.evaluate("window.cohortUI.state.result.cohort_id")
    options = page.locator("#table1-compare option").evaluate_all("os => os.map(o => o.value)")
    assert second["cohort_id"] in options and cohort_id not in options
    page.select_option("#table1-compare", second["cohort_id"])
    page.wait_for_function("() => document.querySelectorAll('[data-testid=table1-total]').length === 2")
    page.wait_for_selector("[data-testid=table1-smd]")
    api = _get(server, f"/v1/cohorts/{cohort_id}/table1", compare=second["cohort_id"])
    assert api["cohort_ids"] == [cohort_id, second["cohort_id"]]
    assert _screen_rows(page) == _expected_rows(api)
    # every bar chart has one bar per cohort per row shown
    bars = page.locator("[data-testid=table1-chart-drug] rect")
    shown = min(8, sum(r["section"] == "drug" for r in api["rows"]))
    assert bars.count() == 2 * shown
    page.locator("#table1-panel").screenshot(path=str(SHOTS / "table1-compare-en.png"))
    assert not errors, errors
    page.close()


def test_a_suppressed_cell_is_not_revealed(browser, server) -> None:  # noqa: F811
    page, _, errors = _open(browser, server, viewport={"width": 1366, "height": 900}, lang="en")
    _ask_on_page(page, SEED_EN)
    _open_table1(page)
    cohort_id = page.evaluate("window.cohortUI.state.result.cohort_id")
    seen = _get(server, f"/v1/cohorts/{cohort_id}/table1")
    exact = _get(server, f"/v1/cohorts/{cohort_id}/table1", key=server["steward"])
    assert exact["counts"] == "exact"
    hidden = [
        (r, e)
        for r in seen["rows"]
        for e in exact["rows"]
        if (r["section"], r["label"]) == (e["section"], e["label"])
        and r["section"] in ("condition", "procedure", "drug")
        and r["cells"][0]["persons"]["display"] == f"<{seen['k']}"
        and 0 < e["cells"][0]["persons"]["value"] < seen["k"]
    ]
    assert hidden, "the seed cohort has a concept row below k"
    for row, truth in hidden:
        n = truth["cells"][0]["persons"]["value"]
        label = row["label"]
        tr = page.locator(
            f"[data-testid=table1-row][data-section={row['section']}][data-label={json.dumps(label)}]"
        )
        cell = tr.locator("[data-testid=table1-cell]")
        assert cell.text_content() == f"<{seen['k']}"
        assert "suppressed" in (cell.get_attribute("class") or "")
        row_html = tr.evaluate("e => e.outerHTML")
        assert f">{n}<" not in row_html and f"{n} (" not in row_html
        # the chart's tooltip and bar label say "<k" as well, never the count
        titles = page.locator(f"[data-testid=table1-chart-{row['section']}] rect title").all_text_contents()
        for title in titles:
            if title.startswith(label + ":"):
                assert title == f"{label}: <{seen['k']}"
    # the page never received the exact count: the researcher's JSON is all it has
    state_json = page.evaluate("JSON.stringify(window.cohortUI.state.result)")
    assert '"counts":"exact"' not in state_json
    assert not errors, errors
    page.close()
