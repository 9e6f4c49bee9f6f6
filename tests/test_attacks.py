"""The attack suite (issue 11, item 6): what an attacker with an ordinary researcher key (and a few with
an export-client or steward key) tries against a real `cohort serve` on the demo mart with its DICOM
index, and the condition under which the attack would have succeeded.

Each test is one attack. It asserts that the attacker's success condition fails: the numbers shown do
not pin a true value more exactly than the disclosure model allows (docs/PRIVACY.md: researchers see
counts of persons with consistent keyed noise and a threshold '<k'; no ad-hoc SQL; releases state a date
precision and jitter their quasi-identifiers per release key). Ground truth comes straight from the mart
file (tests/attack_truth.py), never from the API.

A failing test here is a finding (a missing defence), not a test to loosen. `ATTACKS` maps each class of
the issue's table to its attacks; the last tests check the table and that no response was a 5xx.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pydantic import SecretBytes

from cohort_engine.api.state import StateStore
from cohort_engine.api.suppression import DEFAULT_K
from cohort_engine.deid.policy import ReleasePolicy, pseudonym
from tests.attack_harness import QUERY_TIMEOUT_S, Server, body_text, hidden, shown, start_server
from tests.attack_truth import Truth, index_dates

pytestmark = pytest.mark.slow

# --- the table: class → attacks ---------------------------------------------------------------

ATTACKS: dict[str, list[str]] = {
    "counts wrapped in expressions": [
        "test_sql_count_filter_on_a_rare_death_cause",
        "test_sql_sum_case",
        "test_sql_scalar_subquery",
        "test_sql_having_count_equals_two",
        "test_sql_intersect",
        "test_sql_union_all_with_a_large_branch",
        "test_sql_count_plus_constant",
        "test_sql_count_times_float",
    ],
    "rows vs persons": [
        "test_imaging_row_of_two_persons_with_seven_series",
        "test_imaging_row_of_one_person",
        "test_index_step_counts_persons_not_events",
    ],
    "per-person values": [
        "test_sql_max_case_birth_year_of_one_person",
        "test_sql_one_persons_death_date",
        "test_single_person_cohort_count",
        "test_single_person_cohort_charts",
        "test_researcher_answer_carries_no_rows",
        "test_researcher_reads_a_manifest",
    ],
    "error text": [
        "test_sql_tinyint_overflow_error_text",
        "test_sql_division_by_count_error_text",
        "test_spec_validation_error_echoes_no_value",
        "test_unknown_codeset_error_text",
        "test_answer_text_repeats_the_true_count",
    ],
    "grouping in disguise": [
        "test_sql_group_by_correlated_subquery",
        "test_sql_window_function_histogram",
        "test_age_histogram_by_threshold_differencing",
        "test_month_chart_small_cells",
    ],
    "charts vs funnel": [
        "test_month_chart_sum_pins_the_count",
        "test_pyramid_sum_pins_the_count",
        "test_modality_chart_vs_imaging_rows",
        "test_stats_total_vs_count",
        "test_funnel_step_vs_same_set_count",
    ],
    "real dates back": [
        "test_one_day_window_manifest_gives_real_dates",
        "test_one_day_window_shifted_index_date_gives_shift",
        "test_one_day_window_export_file_gives_real_dates",
    ],
    "linkable releases": [
        "test_link_releases_by_exact_signature",
        "test_link_releases_by_nearest_neighbour",
        "test_link_releases_by_instance_file_sizes",
    ],
    "cross-query differencing": [
        "test_age_threshold_pairs_one_apart",
        "test_sex_split_differencing",
        "test_repeat_the_same_question",
        "test_rephrase_the_same_person_set",
        "test_counts_are_not_exact",
    ],
    "smaller faults": [
        "test_codeset_named_in_hangul",
        "test_codeset_named_with_decomposed_accent",
        "test_codeset_name_with_trailing_space",
        "test_probe_cohort_ids",
        "test_probe_manifest_of_unapproved_cohort",
        "test_approve_without_request",
        "test_odd_ids_in_paths",
        "test_nan_inf_and_huge_windows",
        "test_control_characters_in_question",
        "test_like_wildcards_in_name_contains",
        "test_steward_repeat_blowup",
        "test_steward_range_runaway",
        "test_concurrent_requests_per_key",
        "test_served_k_is_the_documented_default",
        "test_free_text_kept_in_audit_and_state",
        "test_state_file_and_docs",
    ],
}

# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv(demo_dicom_mart_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(demo_dicom_mart_path, tmp_path_factory.mktemp("attacks"))


@pytest.fixture(scope="module")
def truth(demo_dicom_mart_path: Path) -> Iterator[Truth]:
    t = Truth(demo_dicom_mart_path)
    yield t
    t.close()


# --- specs on the demo mart (persons=20000, seed=42) ----------------------------------------------------

MI_2023: dict[str, Any] = {
    "domain": "condition",
    "concepts": {"terms": ["MI"]},
    "date_range": {"start": "2023-01-01", "end": "2023-12-31"},
}
ONE_DAY = "2023-10-10"
DAY_INDEX: dict[str, Any] = {"domain": "condition", "date_range": {"start": ONE_DAY, "end": ONE_DAY}}
#: (base index, age a, age a+1): the cohorts "aged a or older" and "aged a+1 or older" differ by exactly
#: one person (checked against the truth in the test).
ONE_APART = [
    (MI_2023, 41),
    (MI_2023, 44),
    (MI_2023, 46),
    (MI_2023, 53),
    (MI_2023, 57),
    (MI_2023, 67),
    (DAY_INDEX, 34),
    (DAY_INDEX, 36),
    (DAY_INDEX, 38),
    (DAY_INDEX, 41),
]


def spec_of(index: dict[str, Any], **demo: Any) -> dict[str, Any]:
    return {"index": index, "demographics": demo} if demo else {"index": index}


def run(srv: Server, spec: dict[str, Any], role: str = "researcher") -> dict[str, Any]:
    r = srv.req(role, "POST", "/v1/cohorts", json={"spec": spec})
    assert r.status_code == 201, body_text(r)[:500]
    out: dict[str, Any] = r.json()
    assert out["status"] == "ok", out.get("message")
    return out


def stats(srv: Server, cohort_id: str, role: str = "researcher") -> dict[str, Any]:
    r = srv.req(role, "GET", f"/v1/cohorts/{cohort_id}/stats")
    assert r.status_code == 200, body_text(r)[:500]
    out: dict[str, Any] = r.json()
    return out


def cells(stats_out: dict[str, Any], chart: str) -> list[str]:
    return [c["persons"]["display"] for c in stats_out[chart]]


def released(srv: Server, spec: dict[str, Any]) -> str:
    """A researcher's run, its release requested and approved by a steward: the cohort id."""
    cid = run(srv, spec)["cohort_id"]
    assert srv.req("researcher", "POST", f"/v1/cohorts/{cid}/release-request").status_code == 200
    r = srv.req("steward", "POST", f"/v1/cohorts/{cid}/approve")
    assert r.status_code == 200, body_text(r)[:500]
    return str(cid)


def manifest_rows(srv: Server, cid: str, level: str = "series") -> list[dict[str, Any]]:
    r = srv.req(
        "export_client", "GET", f"/v1/cohorts/{cid}/manifest", params={"level": level, "limit": 10000}
    )
    assert r.status_code == 200, body_text(r)[:500]
    page = r.json()
    assert page["next"] is None, "the attack reads one page; the manifest is larger"
    rows: list[dict[str, Any]] = page["rows"]
    return rows


def researcher_sql_refused(srv: Server, sql: str, secret_values: list[int | str] = ()) -> None:  # type: ignore[assignment]
    """The trick gets no answer: 403 before anything runs, and the body names none of the hidden values."""
    r = srv.req("researcher", "POST", "/v1/sql", json={"sql": sql})
    text = body_text(r)
    assert r.status_code == 403, f"researcher SQL answered {r.status_code}: {text[:300]}"
    assert r.json()["error"]["code"] == "forbidden"
    assert '"rows"' not in text
    for v in secret_values:
        assert str(v) not in text, f"hidden value {v} in the refusal"


# --- counts wrapped in expressions ----------------------------------------------------------------------


def rare_death_cause(truth: Truth) -> tuple[int, int]:
    """A death cause held by 1–4 persons: (cause_concept_id, persons)."""
    row = truth.con.execute(
        "SELECT cause_concept_id, COUNT(DISTINCT person_id) n FROM death WHERE cause_concept_id IS NOT NULL "
        "GROUP BY 1 HAVING n BETWEEN 1 AND 4 ORDER BY n, 1 LIMIT 1"
    ).fetchone()
    assert row is not None, "ground truth: the demo mart has no rare death cause"
    return int(row[0]), int(row[1])


def test_sql_count_filter_on_a_rare_death_cause(srv: Server, truth: Truth) -> None:
    cause, n = rare_death_cause(truth)
    researcher_sql_refused(
        srv, f"SELECT COUNT(*) FILTER (WHERE cause_concept_id = {cause}) AS n, COUNT(*) AS total FROM death"
    )
    # stewards keep SQL, and it is exact for them: the 403 is the model, not a broken endpoint
    r = srv.req(
        "steward",
        "POST",
        "/v1/sql",
        json={"sql": f"SELECT COUNT(*) FILTER (WHERE cause_concept_id = {cause}) AS n FROM death"},
    )
    assert r.status_code == 200, body_text(r)[:300]
    assert r.json()["rows"] == [[n]]


def test_sql_sum_case(srv: Server, truth: Truth) -> None:
    cause, _ = rare_death_cause(truth)
    researcher_sql_refused(
        srv, f"SELECT SUM(CASE WHEN cause_concept_id = {cause} THEN 1 ELSE 0 END) FROM death"
    )


def test_sql_scalar_subquery(srv: Server, truth: Truth) -> None:
    cause, _ = rare_death_cause(truth)
    researcher_sql_refused(
        srv,
        f"SELECT COUNT(*) AS total, (SELECT COUNT(*) FROM death WHERE cause_concept_id = {cause}) AS n "
        "FROM person",
    )


def test_sql_having_count_equals_two(srv: Server) -> None:
    researcher_sql_refused(
        srv,
        "SELECT COUNT(*) FROM (SELECT cause_concept_id FROM death GROUP BY 1 HAVING COUNT(*) = 2) AS t",
    )


def test_sql_intersect(srv: Server, truth: Truth) -> None:
    cause, _ = rare_death_cause(truth)
    researcher_sql_refused(
        srv,
        "SELECT COUNT(*) FROM (SELECT person_id FROM death INTERSECT "
        f"SELECT person_id FROM death WHERE cause_concept_id = {cause}) AS t",
    )


def test_sql_union_all_with_a_large_branch(srv: Server, truth: Truth) -> None:
    cause, _ = rare_death_cause(truth)
    researcher_sql_refused(
        srv,
        "SELECT COUNT(*) FROM (SELECT person_id FROM person UNION ALL "
        f"SELECT person_id FROM death WHERE cause_concept_id = {cause}) AS t",
    )


def test_sql_count_plus_constant(srv: Server, truth: Truth) -> None:
    cause, n = rare_death_cause(truth)
    researcher_sql_refused(
        srv, f"SELECT COUNT(*) + 100 FROM death WHERE cause_concept_id = {cause}", [100 + n]
    )


def test_sql_count_times_float(srv: Server, truth: Truth) -> None:
    cause, _ = rare_death_cause(truth)
    researcher_sql_refused(srv, f"SELECT COUNT(*) * 1.0 FROM death WHERE cause_concept_id = {cause}")


# --- rows vs persons -------------------------------------------------------------------------------------


def imaging_rows(answer: dict[str, Any], modality: str) -> list[dict[str, Any]]:
    """The answer's rows of one modality (none when a small row is left out altogether)."""
    return [r for r in answer["imaging"] or [] if r["modality"] == modality]


def test_imaging_row_of_two_persons_with_seven_series(srv: Server, truth: Truth) -> None:
    """2 persons with 7 series: a check that counted series (rows) would show the row as 7. The model
    shows a row only on its noisy *person* count (true ± min(7, k − 2), at least k)."""
    spec = spec_of(DAY_INDEX)
    ct = [r for r in truth.run(spec).imaging or [] if r.modality == "CT"]
    assert [(r.persons, r.series) for r in ct] == [(2, 7)], "ground truth moved"
    answer = run(srv, spec)
    bound = min(7, answer["k"] - 2)
    for row in imaging_rows(answer, "CT"):
        persons = shown(row["persons"]["display"])
        if persons is None:
            for what in ("studies", "series", "instances"):
                assert row[what]["value"] is None and hidden(row[what]["display"]), (what, row)
        else:
            assert answer["k"] <= persons <= 2 + bound, (persons, row)


def test_imaging_row_of_one_person(srv: Server, truth: Truth) -> None:
    spec = spec_of(DAY_INDEX)
    mr = [r for r in truth.run(spec).imaging or [] if r.modality == "MR"]
    assert [(r.persons, r.instances) for r in mr] == [(1, 23)], "ground truth moved"
    for row in imaging_rows(run(srv, spec), "MR"):
        assert [row[w]["value"] for w in ("persons", "studies", "series", "instances")] == [None] * 4
        assert "23" not in json.dumps(row)


def test_index_step_counts_persons_not_events(srv: Server, truth: Truth) -> None:
    """The funnel's first step is persons: a count of index events would be far larger."""
    spec = spec_of({"domain": "condition", "date_range": {"start": "2023-01-01", "end": "2023-12-31"}})
    persons = truth.count(spec)
    events = truth.scalar(
        "SELECT COUNT(*) FROM condition_occurrence "
        "WHERE condition_start_date BETWEEN '2023-01-01' AND '2023-12-31'"
    )
    assert events > 1.5 * persons, "ground truth: the year has too few repeat events for this attack"
    step = run(srv, spec)["attrition"][0]
    n = shown(step["display"])
    assert n is not None and abs(n - persons) <= 0.05 * persons, (step, persons, events)


# --- per-person values -----------------------------------------------------------------------------------


def test_sql_max_case_birth_year_of_one_person(srv: Server, truth: Truth) -> None:
    yob = truth.scalar("SELECT year_of_birth FROM person WHERE person_id = 1")
    researcher_sql_refused(
        srv,
        "SELECT MAX(CASE WHEN person_id = 1 THEN year_of_birth END) AS y, "
        "MAX(CASE WHEN person_id = 1 THEN month_of_birth END) AS m, "
        "MAX(CASE WHEN person_id = 1 THEN gender_concept_id END) AS s, COUNT(*) FROM person",
        [yob],
    )


def test_sql_one_persons_death_date(srv: Server, truth: Truth) -> None:
    pid, day = truth.con.execute(
        "SELECT person_id, death_date FROM death ORDER BY person_id LIMIT 1"
    ).fetchone()  # type: ignore[misc]
    researcher_sql_refused(
        srv,
        f"SELECT MAX(CASE WHEN person_id = {pid} THEN death_date END) AS d, COUNT(*) FROM death",
        [str(day)],
    )


SINGLE = spec_of(MI_2023, age_min=99, sexes=["female"])


def test_single_person_cohort_count(srv: Server, truth: Truth) -> None:
    assert truth.count(SINGLE) == 1, "ground truth moved"
    out = run(srv, SINGLE)
    assert out["count"] is None and hidden(out["count_display"]), out["count_display"]
    assert out["attrition"][-1]["persons"] is None and hidden(out["attrition"][-1]["display"])


def test_single_person_cohort_charts(srv: Server, truth: Truth) -> None:
    """A cohort of one: any shown pyramid or month cell would give that person's sex, age and index month."""
    assert truth.count(SINGLE) == 1, "ground truth moved"
    st = stats(srv, run(srv, SINGLE)["cohort_id"])
    assert hidden(st["total"]["display"])
    for chart in ("pyramid", "index_months", "modalities", "body_parts"):
        assert all(hidden(d) for d in cells(st, chart)), (chart, st[chart])


def test_researcher_answer_carries_no_rows(srv: Server) -> None:
    out = run(srv, spec_of(DAY_INDEX))
    assert out["sample"] == []
    assert "person_ids" not in out
    st = json.dumps(stats(srv, out["cohort_id"]))
    assert "P-" not in st and "2.25." not in st


def test_researcher_reads_a_manifest(srv: Server) -> None:
    cid = released(srv, spec_of(DAY_INDEX))
    for path in (f"/v1/cohorts/{cid}/manifest", f"/v1/cohorts/{cid}/manifest?level=instance"):
        r = srv.req("researcher", "GET", path)
        assert r.status_code in (403, 404), r.status_code
        assert "2.25." not in body_text(r) and "P-" not in body_text(r)
    r = srv.req("researcher", "POST", f"/v1/cohorts/{cid}/exports", json={"format": "csv"})
    assert r.status_code in (403, 404), r.status_code


# --- error text -------------------------------------------------------------------------------------------


def test_sql_tinyint_overflow_error_text(srv: Server, truth: Truth) -> None:
    cause, n = rare_death_cause(truth)
    researcher_sql_refused(
        srv, f"SELECT CAST(COUNT(*) + 126 AS TINYINT) FROM death WHERE cause_concept_id = {cause}", [126 + n]
    )


def test_sql_division_by_count_error_text(srv: Server, truth: Truth) -> None:
    yob = truth.scalar("SELECT year_of_birth FROM person WHERE person_id = 2")
    researcher_sql_refused(
        srv,
        "SELECT CAST(MAX(CASE WHEN person_id = 2 THEN 'year ' || year_of_birth END) AS INTEGER) FROM person",
        [yob],
    )


def test_spec_validation_error_echoes_no_value(srv: Server) -> None:
    secret = 987654321012
    spec = {"index": {"domain": "condition", "concepts": {"concept_ids": [secret]}}}
    r = srv.req("researcher", "POST", "/v1/cohorts", json={"spec": spec})
    assert r.status_code == 422, r.status_code
    assert str(secret) not in body_text(r)
    assert r.json()["error"]["code"] == "validation_error"


def test_unknown_codeset_error_text(srv: Server) -> None:
    spec = {"index": {"domain": "condition", "concepts": {"codeset": "no-such-set'; --"}}}
    r = srv.req("researcher", "POST", "/v1/cohorts", json={"spec": spec})
    text = body_text(r)
    assert r.status_code < 500, text[:300]
    for leak in ("Traceback", "duckdb", "sqlite", 'File "', "SELECT"):
        assert leak not in text, leak


def test_answer_text_repeats_the_true_count(srv: Server, truth: Truth) -> None:
    """The message, read-back and notes are text: none may state the true count behind a noisy one."""
    leaked = []
    for spec in [spec_of(MI_2023, age_min=a) for a in (41, 44, 46, 53, 57, 67)]:
        n = truth.count(spec)
        out = run(srv, spec)
        if shown(out["count_display"]) == n:
            continue
        text = " ".join([out.get("message") or "", out.get("readback") or "", *out.get("notes", [])])
        if re.search(rf"(?<![\d.]){n}(?![\d.])", text.replace(str(spec["demographics"]["age_min"]), "")):
            leaked.append((n, out["count_display"], out.get("message")))
    assert leaked == [], leaked


# --- grouping in disguise --------------------------------------------------------------------------------


def test_sql_group_by_correlated_subquery(srv: Server) -> None:
    researcher_sql_refused(
        srv,
        "SELECT (SELECT p2.year_of_birth FROM person p2 WHERE p2.person_id = p.person_id) AS y, COUNT(*) "
        "FROM person p GROUP BY 1",
    )


def test_sql_window_function_histogram(srv: Server) -> None:
    researcher_sql_refused(
        srv,
        "SELECT MAX(n) FROM (SELECT year_of_birth, COUNT(*) OVER (PARTITION BY year_of_birth) AS n "
        "FROM person) AS t",
    )


def test_age_histogram_by_threshold_differencing(srv: Server, truth: Truth) -> None:
    """Persons per single year of age from 'aged a or older' for a = 85…99: no bin may come out exact."""
    ages = list(range(85, 100))
    true = [truth.count(spec_of(MI_2023, age_min=a)) for a in ages]
    seen = [shown(run(srv, spec_of(MI_2023, age_min=a))["count_display"]) for a in ages]
    exact_bins = sum(
        1
        for i in range(len(ages) - 1)
        if seen[i] is not None and seen[i + 1] is not None and seen[i] - seen[i + 1] == true[i] - true[i + 1]  # type: ignore[operator]
    )
    assert exact_bins < (len(ages) - 1) / 2, f"{exact_bins} of {len(ages) - 1} age bins exact"


def test_month_chart_small_cells(srv: Server, truth: Truth) -> None:
    """Persons per index month of a 38-person cohort (months of 1–6): a month of one person never shows a
    number, and the small months' shown numbers are not their true counts."""
    spec = spec_of(MI_2023, age_min=90)
    months = Counter(d.strftime("%Y-%m") for d in index_dates(truth, spec).values())
    assert any(n == 1 for n in months.values()), "ground truth: no one-person month"
    st = stats(srv, run(srv, spec)["cohort_id"])
    k = st["k"]
    pairs = [(months.get(c["label"], 0), shown(c["persons"]["display"])) for c in st["index_months"]]
    small = [(n, v) for n, v in pairs if n < k and v is not None]
    assert all(n > 1 for n, _ in small), small
    exact = sum(1 for n, v in small if n == v)
    assert exact <= len(small) / 2, f"{exact} of {len(small)} small months shown exactly"


# --- charts vs funnel ------------------------------------------------------------------------------------

CHART_COHORTS = [spec_of(MI_2023, age_min=a) for a in (41, 44, 46, 53, 57, 67)]


def _chart_sum_attack(srv: Server, truth: Truth, chart: str) -> None:
    pinned = 0
    for spec in CHART_COHORTS:
        n = truth.count(spec)
        out = run(srv, spec)
        if shown(out["count_display"]) == n:
            continue  # the count itself was exact: counted by test_counts_are_not_exact
        ds = cells(stats(srv, out["cohort_id"]), chart)
        if all(not hidden(d) for d in ds) and sum(shown(d) or 0 for d in ds) == n:
            pinned += 1
    assert pinned <= len(CHART_COHORTS) // 3, f"the {chart} chart summed to the hidden count {pinned} times"


def test_month_chart_sum_pins_the_count(srv: Server, truth: Truth) -> None:
    _chart_sum_attack(srv, truth, "index_months")


def test_pyramid_sum_pins_the_count(srv: Server, truth: Truth) -> None:
    _chart_sum_attack(srv, truth, "pyramid")


def test_modality_chart_vs_imaging_rows(srv: Server) -> None:
    """Two draws of one person set (the modality chart, the answer's imaging rows) must agree, or their
    average narrows the noise."""
    spec = {"index": {"domain": "imaging"}}
    out = run(srv, spec)
    st = stats(srv, out["cohort_id"])
    chart = {c["label"]: c["persons"]["display"] for c in st["modalities"]}
    rows = {r["modality"]: r["persons"]["display"] for r in out["imaging"]}
    assert rows and chart == rows


def test_stats_total_vs_count(srv: Server) -> None:
    for spec in CHART_COHORTS[:3]:
        out = run(srv, spec)
        assert stats(srv, out["cohort_id"])["total"]["display"] == out["count_display"]


def test_funnel_step_vs_same_set_count(srv: Server, truth: Truth) -> None:
    """The funnel's index step of 'MI in 2023 aged 44+' is the person set of 'MI in 2023': one number."""
    with_age = run(srv, spec_of(MI_2023, age_min=44))
    plain = run(srv, spec_of(MI_2023))
    assert set(truth.run(spec_of(MI_2023)).person_ids or []) == set(
        truth.run(spec_of(MI_2023, age_min=0)).person_ids or []
    )
    assert with_age["attrition"][0]["display"] == plain["count_display"]


# --- real dates back -------------------------------------------------------------------------------------

PRECISION_DAYS = 30


def _guess_real(row: dict[str, Any], day: dt.date) -> dt.date | None:
    """The attacker knows the cohort's one-day index window (their own spec): real = day + offset."""
    off = row.get("days_from_index")
    if isinstance(off, int):
        return day + dt.timedelta(days=off)
    try:
        shifted_series = dt.date.fromisoformat(str(row.get("series_date") or row.get("study_date")))
        shifted_index = dt.date.fromisoformat(str(row.get("index_date")))
    except ValueError:
        return None
    return day + (shifted_series - shifted_index)


def _recovered_patients(
    rows: list[dict[str, Any]], guesses: list[dt.date | None], real: list[dt.date]
) -> int:
    """Patients all of whose series dates the attacker got to the exact day (each true date used once)."""
    left = Counter(real)
    per_patient: dict[str, list[bool]] = {}
    for row, g in zip(rows, guesses, strict=True):
        hit = g is not None and left[g] > 0
        if hit:
            left[g] -= 1  # type: ignore[index]
        per_patient.setdefault(str(row.get("patient")), []).append(hit)
    return sum(1 for hits in per_patient.values() if all(hits))


def _real_dates_attack(rows: list[dict[str, Any]], real: list[dt.date]) -> None:
    day = dt.date.fromisoformat(ONE_DAY)
    recovered = _recovered_patients(rows, [_guess_real(r, day) for r in rows], real)
    patients = len({r.get("patient") for r in rows})
    # offsets jittered over 30 days: a patient comes out exact by chance with p = 1/30
    assert recovered <= max(2, patients // 10), f"every real date of {recovered} of {patients} patients"


def test_one_day_window_manifest_gives_real_dates(srv: Server, truth: Truth) -> None:
    spec = spec_of(DAY_INDEX)
    real = [t.series_date for t in truth.imaging(spec)]
    assert len(real) == 53, "ground truth moved"
    cid = released(srv, spec)
    rows = manifest_rows(srv, cid)
    assert len(rows) == len(real)
    _real_dates_attack(rows, real)
    # the spec as the export client reads it back must not state the one-day window either
    r = srv.req("export_client", "GET", f"/v1/cohorts/{cid}")
    assert r.status_code == 200
    seen_spec = r.json().get("spec") or {}
    rng = ((seen_spec.get("index") or {}).get("date_range")) or {}
    if rng.get("start") and rng.get("end"):
        width = (dt.date.fromisoformat(rng["end"]) - dt.date.fromisoformat(rng["start"])).days + 1
        assert width >= PRECISION_DAYS, f"export client reads a {width}-day index window"


def test_one_day_window_shifted_index_date_gives_shift(srv: Server, truth: Truth) -> None:
    """shift = shifted index_date − the real (one) index day; real = shifted date − shift."""
    spec = spec_of(DAY_INDEX)
    real = [t.series_date for t in truth.imaging(spec)]
    rows = manifest_rows(srv, released(srv, spec))
    day = dt.date.fromisoformat(ONE_DAY)
    guesses: list[dt.date | None] = []
    for r in rows:
        try:
            shift = dt.date.fromisoformat(str(r["index_date"])) - day
            guesses.append(dt.date.fromisoformat(str(r["series_date"])) - shift)
        except (ValueError, KeyError, TypeError):
            guesses.append(None)
    recovered = _recovered_patients(rows, guesses, real)
    patients = len({r.get("patient") for r in rows})
    assert recovered <= max(2, patients // 10), f"every real date of {recovered} of {patients} patients"


def test_one_day_window_export_file_gives_real_dates(srv: Server, truth: Truth) -> None:
    spec = spec_of(DAY_INDEX)
    real = [t.series_date for t in truth.imaging(spec)]
    cid = released(srv, spec)
    r = srv.req("export_client", "POST", f"/v1/cohorts/{cid}/exports", json={"format": "jsonl"})
    assert r.status_code == 202, body_text(r)[:300]
    job = r.json()["job_id"]
    for _ in range(300):
        j = srv.req("export_client", "GET", f"/v1/jobs/{job}").json()
        if j["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert j["status"] == "done", j
    f = srv.req("export_client", "GET", f"/v1/jobs/{job}/result")
    assert f.status_code == 200
    rows = [json.loads(line) for line in body_text(f).splitlines() if line.strip()]
    assert len(rows) == len(real)
    _real_dates_attack(rows, real)


# --- linkable releases -----------------------------------------------------------------------------------

LINK_SPEC: dict[str, Any] = {"index": {"domain": "imaging"}}


def _release_key(cid: str) -> str:
    return "cohort-" + cid.replace("_", "-")


def _true_pseudonyms(srv: Server, truth: Truth, cid: str, rows: list[dict[str, Any]]) -> dict[str, int]:
    """pseudonym → person_id of one release, computed with the server's secret (the attack's truth)."""
    store = StateStore(srv.state)
    secret = store.server_secret()
    store.close()
    policy = ReleasePolicy(project_key=_release_key(cid), secret=SecretBytes(secret))
    persons = {t.person_id for t in truth.imaging(LINK_SPEC)}
    table = {pseudonym(policy, str(p)): p for p in persons}
    shown_ps = {r["patient"] for r in rows}
    assert shown_ps <= set(table), "attack truth broken: the release's pseudonyms are keyed differently"
    return table


@pytest.fixture(scope="module")
def two_releases(srv: Server, truth: Truth) -> dict[str, Any]:
    """The same cohort released twice (two project keys), as series and instance manifests."""
    out: dict[str, Any] = {}
    for name in ("a", "b"):
        cid = released(srv, LINK_SPEC)
        series = manifest_rows(srv, cid, "series")
        out[name] = {
            "cid": cid,
            "series": series,
            "instance": manifest_rows(srv, cid, "instance"),
            "truth": _true_pseudonyms(srv, truth, cid, series),
        }
    return out


def _by_patient(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["patient"], []).append(r)
    return out


def _correct(links: dict[str, str], rel: dict[str, Any]) -> int:
    ta, tb = rel["a"]["truth"], rel["b"]["truth"]
    return sum(1 for pa, pb in links.items() if ta.get(pa) == tb.get(pb))


def _chance_limit(n: int) -> int:
    """A random one-to-one matching links ~1 patient right (Poisson(1)); ≥ 6 happens with p < 0.001."""
    return max(5, n // 20)


def _exact_links(rel: dict[str, Any], level: str, key: Any) -> dict[str, str]:
    sig = {
        side: {p: tuple(sorted(key(r) for r in rs)) for p, rs in _by_patient(rel[side][level]).items()}
        for side in ("a", "b")
    }
    inv: dict[Any, list[str]] = {}
    for p, s in sig["b"].items():
        inv.setdefault(s, []).append(p)
    count_a = Counter(sig["a"].values())
    return {p: inv[s][0] for p, s in sig["a"].items() if count_a[s] == 1 and len(inv.get(s, [])) == 1}


def test_link_releases_by_exact_signature(two_releases: dict[str, Any]) -> None:
    links = _exact_links(
        two_releases,
        "series",
        lambda r: (r["days_from_index"], r["modality"], r["n_instances"], r["total_bytes"]),
    )
    n = len(_by_patient(two_releases["a"]["series"]))
    right = _correct(links, two_releases)
    assert right <= _chance_limit(n), f"{right} of {n} patients linked across two releases"


def _features(rows: list[dict[str, Any]]) -> tuple[Counter[str], list[float], float, float]:
    mods = Counter(str(r["modality"]) for r in rows)
    offsets = sorted(float(r["days_from_index"]) for r in rows if isinstance(r.get("days_from_index"), int))
    # a per-patient jitter moves every offset alike: the gaps between a patient's own series survive it
    days = [x - offsets[0] for x in offsets]
    nbytes = sum(float(r["total_bytes"]) for r in rows if isinstance(r.get("total_bytes"), int | float))
    inst = sum(float(r["n_instances"]) for r in rows if isinstance(r.get("n_instances"), int | float))
    return mods, days, nbytes, inst


def _distance(
    a: tuple[Counter[str], list[float], float, float], b: tuple[Counter[str], list[float], float, float]
) -> float:
    mods = sum(((a[0] - b[0]) + (b[0] - a[0])).values()) * 100.0
    if len(a[1]) == len(b[1]) and a[1]:
        days = sum(abs(x - y) for x, y in zip(a[1], b[1], strict=True)) / len(a[1])
    else:
        days = 100.0 * (abs(len(a[1]) - len(b[1])) + 1)
    size = abs(math.log1p(a[2]) - math.log1p(b[2])) * 20.0
    inst = abs(a[3] - b[3])
    return mods + days + size + inst


@pytest.mark.xfail(
    strict=True,
    reason="open finding of issue 11: a patient's structure (series per modality, gaps between dates) "
    "survives the per-release jitter, so nearest-value matching still links releases (docs/PRIVACY.md)",
)
def test_link_releases_by_nearest_neighbour(two_releases: dict[str, Any]) -> None:
    """Greedy one-to-one matching on the jitter-tolerant distance of each patient's imaging."""
    fa = {p: _features(rs) for p, rs in _by_patient(two_releases["a"]["series"]).items()}
    fb = {p: _features(rs) for p, rs in _by_patient(two_releases["b"]["series"]).items()}
    pairs = sorted((_distance(x, y), pa, pb) for pa, x in fa.items() for pb, y in fb.items())
    links: dict[str, str] = {}
    used: set[str] = set()
    for _, pa, pb in pairs:
        if pa not in links and pb not in used:
            links[pa] = pb
            used.add(pb)
    right = _correct(links, two_releases)
    assert right <= _chance_limit(len(fa)), f"{right} of {len(fa)} patients linked across two releases"


def test_link_releases_by_instance_file_sizes(two_releases: dict[str, Any]) -> None:
    links = _exact_links(two_releases, "instance", lambda r: (r["modality"], r["file_size"]))
    n = len(_by_patient(two_releases["a"]["instance"]))
    right = _correct(links, two_releases)
    assert right <= _chance_limit(n), f"{right} of {n} patients linked by instance file sizes"


# --- cross-query differencing ----------------------------------------------------------------------------


def test_age_threshold_pairs_one_apart(srv: Server, truth: Truth) -> None:
    """'aged a or older' vs 'aged a+1 or older', ten pairs one person apart: the shown difference must not
    be the true one every time (and the same ask twice gives the same numbers: see the repeat attack)."""
    revealed = 0
    for index, a in ONE_APART:
        lo, hi = spec_of(index, age_min=a), spec_of(index, age_min=a + 1)
        assert truth.count(lo) - truth.count(hi) == 1, f"ground truth moved at age {a}"
        s_lo, s_hi = shown(run(srv, lo)["count_display"]), shown(run(srv, hi)["count_display"])
        if s_lo is not None and s_hi is not None and s_lo - s_hi == 1:
            revealed += 1
    assert revealed < len(ONE_APART) / 2, f"{revealed} of {len(ONE_APART)} one-person differences shown"


def test_sex_split_differencing(srv: Server, truth: Truth) -> None:
    """Women = all − men, for 'MI in 2023 aged a+' (a = 90…99, where women are 1–8): the shown
    difference must not be the true number of women for most a; a woman alone is never shown."""
    exact = 0
    tried: set[frozenset[int]] = set()
    for a in range(90, 100):
        both, men = spec_of(MI_2023, age_min=a), spec_of(MI_2023, age_min=a, sexes=["male"])
        persons = frozenset(truth.run(both).person_ids or [])
        if persons in tried:
            continue  # the same person sets again: the same draws, not a new try
        tried.add(persons)
        women = truth.count(both) - truth.count(men)
        s_both, s_men = shown(run(srv, both)["count_display"]), shown(run(srv, men)["count_display"])
        if s_both is not None and s_men is not None and s_both - s_men == women:
            exact += 1
    assert exact < len(tried) / 2, f"{exact} of {len(tried)} women counts recovered by subtraction"
    one_woman = spec_of(MI_2023, age_min=99)
    assert truth.count(one_woman) - truth.count(spec_of(MI_2023, age_min=99, sexes=["male"])) == 1
    st = stats(srv, run(srv, one_woman)["cohort_id"])
    assert all(hidden(c["persons"]["display"]) for c in st["pyramid"] if c["sex"] == "female"), st["pyramid"]


def test_repeat_the_same_question(srv: Server) -> None:
    """Asking again must not average the noise away: five asks, one answer."""
    q = "patients diagnosed with MI in 2023 aged 45 or older"
    answers = []
    for _ in range(5):
        r = srv.req("researcher", "POST", "/v1/ask", json={"question": q})
        assert r.status_code == 200
        out = r.json()
        answers.append((out["count_display"], tuple(a["display"] for a in out["attrition"])))
    assert len(set(answers)) == 1, answers
    other = srv.req("researcher2", "POST", "/v1/ask", json={"question": q}).json()
    assert other["count_display"] == answers[0][0], "a second key draws fresh noise"


def test_rephrase_the_same_person_set(srv: Server, truth: Truth) -> None:
    """Same persons, different specs: each phrasing would be a fresh noise draw to average."""
    base = spec_of(MI_2023, age_min=45)
    variants = [
        base,
        spec_of(MI_2023, age_min=45, age_max=150),
        spec_of(MI_2023, age_min=45, sexes=["male", "female"]),
        {**base, "title": "MI, 45+"},
    ]
    ids = [frozenset(truth.run(v).person_ids or []) for v in variants]
    assert len(set(ids)) == 1, "ground truth: the variants are different person sets"
    displays = {run(srv, v)["count_display"] for v in variants}
    asked = srv.req(
        "researcher",
        "POST",
        "/v1/ask",
        json={"question": "patients diagnosed with MI in 2023 aged 45 or older"},
    ).json()
    displays.add(asked["count_display"])
    assert len(displays) == 1, displays


def test_counts_are_not_exact(srv: Server, truth: Truth) -> None:
    """Without noise every count is exact and any two cohorts difference exactly."""
    specs = [spec_of(MI_2023, age_min=a) for a in range(40, 100, 4)]
    exact = sum(1 for s in specs if shown(run(srv, s)["count_display"]) == truth.count(s))
    assert exact < len(specs) / 2, f"{exact} of {len(specs)} counts exact"


# --- smaller faults ---------------------------------------------------------------------------------------


def _codeset_roundtrip(srv: Server, name: str) -> None:
    body = {"name": name, "concept_ids": [2000000022]}
    r = srv.req("researcher", "POST", "/v1/codesets", json=body)
    assert r.status_code in (201, 422), body_text(r)[:300]
    if r.status_code == 201:
        loc = r.headers["Location"]
        assert loc.isascii(), loc
        back = srv.req("researcher", "GET", loc)
        assert back.status_code == 200, (loc, back.status_code)
        assert back.json()["name"] == r.json()["name"]


def test_codeset_named_in_hangul(srv: Server) -> None:
    _codeset_roundtrip(srv, "심근경색")


def test_codeset_named_with_decomposed_accent(srv: Server) -> None:
    _codeset_roundtrip(srv, "cafe\u0301 set")


def test_codeset_name_with_trailing_space(srv: Server) -> None:
    _codeset_roundtrip(srv, "trailing ")


def test_probe_cohort_ids(srv: Server) -> None:
    """Another researcher's id and a made-up id answer alike, so ids cannot be probed."""
    cid = run(srv, spec_of(DAY_INDEX))["cohort_id"]
    theirs = srv.req("researcher2", "GET", f"/v1/cohorts/{cid}")
    unknown = srv.req("researcher2", "GET", "/v1/cohorts/coh_0000000000000000")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["error"]["code"] == unknown.json()["error"]["code"]
    assert srv.req("researcher2", "GET", f"/v1/cohorts/{cid}/stats").status_code == 404


def test_probe_manifest_of_unapproved_cohort(srv: Server) -> None:
    cid = run(srv, spec_of(DAY_INDEX))["cohort_id"]
    unapproved = srv.req("export_client", "GET", f"/v1/cohorts/{cid}/manifest")
    unknown = srv.req("export_client", "GET", "/v1/cohorts/coh_0000000000000000/manifest")
    assert unapproved.status_code == unknown.status_code == 404, (unapproved.status_code, unknown.status_code)
    assert unapproved.json()["error"] == {
        **unapproved.json()["error"],
        "code": unknown.json()["error"]["code"],
    }


def test_approve_without_request(srv: Server) -> None:
    cid = run(srv, spec_of(DAY_INDEX))["cohort_id"]
    r = srv.req("steward", "POST", f"/v1/cohorts/{cid}/approve")
    assert r.status_code == 409, r.status_code
    assert srv.req("export_client", "GET", f"/v1/cohorts/{cid}/manifest").status_code == 404


def test_odd_ids_in_paths(srv: Server) -> None:
    odd = [
        "..%2F..%2Fetc%2Fpasswd",
        "coh_" + "a" * 5000,
        quote("없는코호트"),
        "%00",
        quote("\u202e"),
        "coh_%27%20OR%201=1",
    ]
    for i in odd:
        for path in (f"/v1/cohorts/{i}", f"/v1/cohorts/{i}/stats", f"/v1/jobs/{i}", f"/v1/codesets/{i}"):
            r = srv.req("researcher", "GET", path)
            assert r.status_code in (400, 404, 414, 422), (path[:80], r.status_code)


def test_nan_inf_and_huge_windows(srv: Server) -> None:
    bad = [
        '{"spec": {"index": {"domain": "measurement", "value": {"op": ">", "value": NaN}}}}',
        '{"spec": {"index": {"domain": "measurement", "value": {"op": ">", "value": Infinity}}}}',
        '{"spec": {"index": {"domain": "measurement", "value": {"op": ">", "value": 1e308}}}}',
        '{"spec": {"index": {"domain": "condition"}, "criteria": [{"label": "x", "domain": "drug", '
        '"window": {"start": -1000000000000, "end": 1000000000000}}]}}',
        '{"spec": {"index": {"domain": "condition", '
        '"date_range": {"start": "0001-01-01", "end": "9999-12-31"}}}}',
    ]
    for content in bad:
        r = srv.req("researcher", "POST", "/v1/cohorts", content=content)
        assert r.status_code == 422, (content, r.status_code, body_text(r)[:200])


def _strings(v: Any) -> Iterator[str]:
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from _strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from _strings(x)


def test_control_characters_in_question(srv: Server) -> None:
    q = "patients diagnosed with MI\x1b[2J\x1b[31m in 2023\x00\x07 aged 45 or older\r\n"
    r = srv.req("researcher", "POST", "/v1/ask", json={"question": q})
    assert r.status_code in (200, 422), r.status_code
    for s in _strings(r.json()):
        assert not any(ch in s for ch in "\x1b\x00\x07"), repr(s)
    r = srv.req("researcher", "POST", "/v1/codesets", json={"name": "x\x1b[31m", "concept_ids": [1]})
    assert r.status_code == 422
    log = srv.log.read_bytes()
    assert b"\x1b[2J" not in log and b"\x00" not in log and b"\x1b[31m" not in log


def test_like_wildcards_in_name_contains(srv: Server, truth: Truth) -> None:
    """'%' and '_' are characters, not wildcards: they must not match every concept."""
    everyone = truth.count({"index": {"domain": "condition"}})
    for pattern in ("_", "%%", "%_%", "__"):
        literal = truth.scalar(
            f"SELECT (SELECT COUNT(*) FROM concept WHERE strpos(concept_name, '{pattern}') > 0) + "
            f"(SELECT COUNT(*) FROM concept_synonym WHERE strpos(concept_synonym_name, '{pattern}') > 0)"
        )
        assert literal == 0, "ground truth: a condition name holds the wildcard"
        spec = {"index": {"domain": "condition", "concepts": {"name_contains": [pattern]}}}
        r = srv.req("researcher", "POST", "/v1/cohorts", json={"spec": spec})
        assert r.status_code in (201, 422), r.status_code
        out = r.json()
        n = shown(out.get("count_display")) if r.status_code == 201 else None
        assert out.get("status") != "ok" or n is None or n < everyone / 2, (pattern, out.get("count_display"))


def _timed(srv: Server, role: str, sql: str) -> tuple[httpx.Response, float]:
    t = time.monotonic()
    r = srv.req(role, "POST", "/v1/sql", json={"sql": sql}, timeout=QUERY_TIMEOUT_S * 6)
    return r, time.monotonic() - t


def test_steward_repeat_blowup(srv: Server) -> None:
    r, took = _timed(srv, "steward", "SELECT length(repeat('x', 500000000)) AS n")
    assert r.status_code in (400, 413, 422, 504), (r.status_code, body_text(r)[:200])
    assert took <= QUERY_TIMEOUT_S + 5, took
    assert srv.alive()


def test_steward_range_runaway(srv: Server) -> None:
    """A steward's `range(1e8)` is refused or ends at the limit; a cross join that passes every check
    ends at the limit too, and a researcher's ask meanwhile is at most 2× slower."""
    r, took = _timed(srv, "steward", "SELECT SUM(x) AS n FROM (SELECT unnest(range(100000000)) AS x) t")
    assert r.status_code in (400, 422, 504), (r.status_code, body_text(r)[:200])
    assert took <= QUERY_TIMEOUT_S + 5, took
    q = {"question": "patients diagnosed with MI in 2023 aged 45 or older"}
    base = []
    for _ in range(3):
        t = time.monotonic()
        assert srv.req("researcher", "POST", "/v1/ask", json=q).status_code == 200
        base.append(time.monotonic() - t)
    result: dict[str, Any] = {}

    def runaway() -> None:
        result["r"], result["took"] = _timed(
            srv, "steward", "SELECT COUNT(*) AS n FROM person AS a, person AS b, person AS c"
        )

    th = threading.Thread(target=runaway)
    th.start()
    time.sleep(1.0)
    t = time.monotonic()
    during = srv.req("researcher", "POST", "/v1/ask", json=q)
    slow = time.monotonic() - t
    th.join(timeout=QUERY_TIMEOUT_S * 6)
    assert during.status_code == 200
    assert "r" in result, "the runaway request did not come back"
    assert result["r"].status_code == 504, (result["r"].status_code, body_text(result["r"])[:200])
    assert result["took"] <= QUERY_TIMEOUT_S + 5, result["took"]
    assert slow <= 2 * sorted(base)[1] + 1.0, (slow, base)


def test_concurrent_requests_per_key(srv: Server) -> None:
    """30 asks at once with one key: the key is told to slow down (429), and nothing breaks (no 5xx)."""
    statuses: list[int] = []
    lock = threading.Lock()

    def ask(i: int) -> None:
        try:
            r = srv.req(
                "researcher",
                "POST",
                "/v1/ask",
                json={"question": f"patients diagnosed with MI in 20{10 + i % 14}"},
            )
            code = r.status_code
        except httpx.HTTPError:
            code = 0
        with lock:
            statuses.append(code)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert 0 not in statuses, "a connection dropped"
    assert all(s < 500 for s in statuses), Counter(statuses)
    assert 429 in statuses, Counter(statuses)
    assert srv.alive()


def test_free_text_kept_in_audit_and_state(srv: Server) -> None:
    """A name typed into a question or a name match is free text: the audit log and the state file keep
    its digest only (what the docs promise), so whoever reads either does not learn whom it named."""
    name = "Quartermaine"
    q = f"patients diagnosed with {name} syndrome in 2023"
    assert srv.req("researcher", "POST", "/v1/ask", json={"question": q}).status_code == 200
    spec = {"index": {"domain": "condition", "concepts": {"name_contains": [name]}}}
    assert srv.req("researcher", "POST", "/v1/cohorts", json={"spec": spec}).status_code in (201, 422)
    text, after = "", 0
    while True:
        r = srv.req("steward", "GET", "/v1/audit", params={"after": after, "limit": 1000})
        assert r.status_code == 200
        page = r.json()
        text += body_text(r)
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert name not in text, "the audit log keeps the free text"
    for f in (srv.state, srv.state.with_name(srv.state.name + "-wal")):
        assert not f.exists() or name.encode() not in f.read_bytes(), f"{f.name} keeps the free text"


def test_state_file_and_docs(srv: Server) -> None:
    """The state file (server secret, key hashes) is the service's alone (0600), and /docs works offline."""
    assert srv.state.stat().st_mode & 0o077 == 0, oct(srv.state.stat().st_mode)
    r = srv.req(None, "GET", "/docs")
    assert r.status_code == 200
    assert "cdn." not in body_text(r) and "https://" not in body_text(r)


def test_served_k_is_the_documented_default(srv: Server) -> None:
    """`cohort serve` without `--k` must apply the model's threshold (docs/PRIVACY.md: k = 11), or every
    guarantee stated for the default is weaker on a default install."""
    out = run(srv, spec_of(MI_2023))
    assert out["k"] == DEFAULT_K, (out["k"], DEFAULT_K)


# --- the suite's own checks ----------------------------------------------------------------------------


def test_attack_table_complete() -> None:
    names = [n for ns in ATTACKS.values() for n in ns]
    assert len(names) == len(set(names))
    assert len(names) >= 40, len(names)
    classes = {
        "counts wrapped in expressions",
        "rows vs persons",
        "per-person values",
        "error text",
        "grouping in disguise",
        "charts vs funnel",
        "real dates back",
        "linkable releases",
        "cross-query differencing",
    }
    assert classes <= {c for c, ns in ATTACKS.items() if ns}
    defined = {n for n in globals() if n.startswith("test_")}
    assert set(names) <= defined, set(names) - defined


def test_no_5xx_anywhere(srv: Server) -> None:
    """Every response the suite saw (runs last: pytest keeps file order)."""
    assert len(srv.seen) > 100, "run the whole module: the attacks above record their responses"
    bad = [s for s in srv.seen if s.status >= 500 and not (s.status == 504 and s.path == "/v1/sql")]
    assert bad == [], bad[:20]
    assert srv.proc.poll() is None, "the server died"
