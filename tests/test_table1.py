"""Table 1 (``api/characterise.py``, ``GET /v1/cohorts/{id}/table1``, ``cohort describe``): every row
against hand-written SQL on the demo mart, and what a researcher sees through the API."""

from __future__ import annotations

import json
import math
import statistics

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cohort_engine.api.app import create_app
from cohort_engine.api.characterise import smd_mean, smd_proportion, table1_rows
from cohort_engine.api.disclosure import person_set_digest
from cohort_engine.api.state import StateStore
from cohort_engine.cli import app as cli
from cohort_engine.pipeline import compile_spec
from cohort_engine.spec import CohortSpec
from tests.api_fixtures import build_tiny_mart
from tests.test_api_core import SEED_SPEC, H, assert_error

#: First-ever MI (ICD10CM I21/I22) of the demo mart, as hand-written SQL: person, index date.
MI_FIRST = """
SELECT person_id, MIN(condition_start_date) AS index_date FROM condition_occurrence
WHERE condition_concept_id IN (SELECT concept_id FROM concept WHERE vocabulary_id = 'ICD10CM'
  AND (concept_code LIKE 'I21%' OR concept_code LIKE 'I22%'))
GROUP BY person_id
"""
MI_SPEC = {
    "index": {
        "domain": "condition",
        "concepts": {"terms": ["myocardial infarction"]},
        "first_occurrence": True,
    }
}


@pytest.fixture(scope="module")
def mi_table(demo):
    compiled = compile_spec(CohortSpec.model_validate(MI_SPEC), demo)
    return table1_rows(demo, compiled, timeout_s=60)


def test_persons_age_and_sex_equal_hand_written_sql(demo, mi_table) -> None:
    rows = demo.execute(
        f"SELECT c.person_id, YEAR(c.index_date) - p.year_of_birth, p.gender_concept_id FROM ({MI_FIRST}) c "
        "JOIN person p USING (person_id)"
    ).fetchall()
    ages = [a for _, a, _ in rows]
    assert mi_table.persons.n == len(rows) and mi_table.persons.digest == person_set_digest(
        r[0] for r in rows
    )
    assert math.isclose(mi_table.age_mean, statistics.mean(ages)) and math.isclose(
        mi_table.age_sd, statistics.stdev(ages)
    )
    bands: dict[int, int] = {}
    for a in ages:
        bands[min(max(a // 10, 0), 9)] = bands.get(min(max(a // 10, 0), 9), 0) + 1
    assert [(b, pc.n) for b, pc in mi_table.age_bands] == sorted(bands.items())
    sexes = {"male": sum(g == 8507 for *_, g in rows), "female": sum(g == 8532 for *_, g in rows)}
    assert {s: pc.n for s, pc in mi_table.sexes} == {s: n for s, n in sexes.items() if n}


@pytest.mark.parametrize(
    ("domain", "table", "column", "date"),
    [
        ("condition", "condition_occurrence", "condition_concept_id", "condition_start_date"),
        ("procedure", "procedure_occurrence", "procedure_concept_id", "procedure_date"),
        ("drug", "drug_exposure", "drug_concept_id", "drug_exposure_start_date"),
    ],
)
def test_top_concepts_in_the_year_before_index(demo, mi_table, domain, table, column, date) -> None:
    expected = demo.execute(
        f"SELECT e.{column}, COUNT(DISTINCT e.person_id) FROM {table} e "
        f"JOIN ({MI_FIRST}) c USING (person_id) "
        f"WHERE e.{column} <> 0 AND e.{date} BETWEEN c.index_date - 365 AND c.index_date "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
    ).fetchall()
    assert [(r.concept_id, r.persons.n) for r in mi_table.concepts[domain]] == expected


def test_labs_are_the_median_of_each_persons_latest_value(demo, mi_table) -> None:
    lab = mi_table.labs[0]
    values = [
        v
        for (v,) in demo.execute(
            f"SELECT arg_max(m.value_as_number, (m.measurement_date, m.measurement_id)) FROM measurement m "
            f"JOIN ({MI_FIRST}) c USING (person_id) WHERE m.measurement_concept_id = ? "
            "AND m.value_as_number IS NOT NULL "
            "AND m.measurement_date BETWEEN c.index_date - 365 AND c.index_date "
            "GROUP BY m.person_id",
            [lab.concept_id],
        ).fetchall()
    ]
    assert lab.persons.n == len(values) and math.isclose(lab.median, statistics.median(values))
    q = statistics.quantiles(values, n=4, method="inclusive")
    assert math.isclose(lab.q1, q[0]) and math.isclose(lab.q3, q[2])


def test_deaths_and_imaging(demo, mi_table) -> None:
    for days in (30, 365):
        (n,) = demo.execute(
            f"SELECT COUNT(DISTINCT d.person_id) FROM death d JOIN ({MI_FIRST}) c USING (person_id) "
            f"WHERE d.death_date BETWEEN c.index_date AND c.index_date + {days}"
        ).fetchone()
        assert mi_table.deaths[days].n == n
    expected = demo.execute(
        f"SELECT UPPER(modality_source_value), COUNT(DISTINCT io.person_id) FROM image_occurrence io "
        f"JOIN ({MI_FIRST}) c USING (person_id) GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    assert [(m, pc.n) for m, pc in mi_table.imaging] == expected


@pytest.mark.parametrize(
    ("p1", "p2", "smd"),
    [
        (0.5, 0.5, 0.0),
        (0.6, 0.4, 0.2 / math.sqrt(0.24)),
        (0.0, 0.0, 0.0),
        (1.0, 0.0, None),
        (None, 0.3, None),
    ],
)
def test_smd_of_proportions(p1, p2, smd) -> None:
    got = smd_proportion(p1, p2)
    assert got == smd if smd is None or smd == 0 else math.isclose(got, smd)


def test_smd_of_means() -> None:
    assert math.isclose(smd_mean(65, 10, 60, 10), 0.5)
    assert smd_mean(65, None, 60, 10) is None


# -- through the API, on the tiny mart ------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    mart = build_tiny_mart(tmp_path_factory.mktemp("table1") / "mart.duckdb")
    app = create_app(mart)
    store: StateStore = app.state.ctx.state
    keys = {role: store.create_key(role, role)[1] for role in ("researcher", "steward")}
    keys["researcher2"] = store.create_key("researcher", "other")[1]
    with TestClient(app) as client:
        yield {"client": client, "keys": keys, "app": app}


def _run(env, spec: dict, role: str = "researcher") -> str:
    r = env["client"].post("/v1/cohorts", json={"spec": spec}, headers=H(env, role))
    assert r.status_code == 201, r.text
    return r.json()["cohort_id"]


def _row(out: dict, section: str, label: str) -> dict:
    return next(r for r in out["rows"] if r["section"] == section and r["label"] == label)


def test_stewards_see_exact_counts(env) -> None:
    cid = _run(env, SEED_SPEC, "steward")
    r = env["client"].get(f"/v1/cohorts/{cid}/table1", headers=H(env, "steward"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["counts"] == "exact" and out["totals"] == [{"value": 13, "display": "13", "suppressed": False}]
    # persons 1-13: odd ids male (7), even female (6); year of birth 1940 + (7 pid mod 50), index 2023
    assert _row(out, "sex", "male")["cells"][0]["persons"]["value"] == 7
    assert _row(out, "sex", "female")["cells"][0]["persons"]["value"] == 6
    ages = [2023 - (1940 + (pid * 7) % 50) for pid in range(1, 14)]
    assert _row(out, "age", "age at index, mean (SD)")["cells"][0]["value"] == (
        f"{round(statistics.mean(ages), 1):g} ({round(statistics.stdev(ages), 1):g})"
    )
    assert _row(out, "imaging", "CT")["cells"][0]["persons"]["value"] == 13
    assert _row(out, "imaging", "XA")["cells"][0]["percent"] == round(100 * 6 / 13, 1)
    # the diagnosis is the index event itself (day 0 is in the default window); procedures come after
    assert {r["label"] for r in out["rows"] if r["section"] == "condition"} == {"Acute myocardial infarction"}
    assert not [r for r in out["rows"] if r["section"] == "procedure"]
    after = (
        env["client"]
        .get(
            f"/v1/cohorts/{cid}/table1",
            params={"window_start": 0, "window_end": 30},
            headers=H(env, "steward"),
        )
        .json()
    )
    procs = {
        r["label"]: r["cells"][0]["persons"]["value"] for r in after["rows"] if r["section"] == "procedure"
    }
    assert procs == {"Coronary artery bypass graft": 7, "Percutaneous transluminal coronary angioplasty": 6}


def test_researchers_see_noisy_cells_below_k_hidden(env) -> None:
    cid = _run(env, SEED_SPEC)
    out = env["client"].get(f"/v1/cohorts/{cid}/table1", headers=H(env, "researcher")).json()
    assert out["counts"] == "noisy" and out["k"] == 11
    shown = env["client"].get(f"/v1/cohorts/{cid}", headers=H(env, "researcher")).json()
    assert out["totals"][0]["display"] == shown["count_display"]  # one run, one number
    prot = env["app"].state.ctx.service.protector
    for row in out["rows"]:
        for cell in row["cells"]:
            if cell["persons"] is not None:
                assert cell["persons"]["value"] is None or cell["persons"]["value"] >= 11, row
    male = _row(out, "sex", "male")["cells"][0]["persons"]
    assert male == prot.cell(7, prot.seal(person_set_digest(range(1, 14, 2)))).model_dump()
    assert "from the age bands" in out["rows"][0]["label"]


def test_two_cohorts_side_by_side(env) -> None:
    mi = _run(env, {"index": {"domain": "condition", "concepts": {"concept_ids": [1001]}}}, "steward")
    cad = _run(env, {"index": {"domain": "condition", "concepts": {"concept_ids": [1002]}}}, "steward")
    out = (
        env["client"]
        .get(f"/v1/cohorts/{mi}/table1", params={"compare": cad}, headers=H(env, "steward"))
        .json()
    )
    assert out["cohort_ids"] == [mi, cad] and [t["value"] for t in out["totals"]] == [40, 10]
    # persons 1-20 and 41-60 had MI (20 odd = male of 40); persons 21-30 CAD (5 male)
    male = _row(out, "sex", "male")
    assert [c["persons"]["value"] for c in male["cells"]] == [20, 5]
    assert male["smd"] == 0.0
    rows = {
        r["label"]: [c["persons"]["value"] for c in r["cells"]]
        for r in out["rows"]
        if r["section"] == "condition"
    }
    assert rows == {
        "Acute myocardial infarction": [40, 0],
        "Atherosclerotic heart disease of native coronary artery": [0, 10],
    }
    assert _row(out, "condition", "Acute myocardial infarction")["smd"] is None  # 100% vs 0%: undefined


def test_bad_requests(env) -> None:
    c = env["client"]
    cid = _run(env, SEED_SPEC)
    err = assert_error(
        c.get(
            f"/v1/cohorts/{cid}/table1",
            params={"window_start": 5, "window_end": 0},
            headers=H(env, "researcher"),
        ),
        422,
        "validation_error",
    )
    assert "start" in err["message"]
    assert_error(c.get(f"/v1/cohorts/{cid}/table1", headers=H(env, "researcher2")), 404, "not_found")
    assert_error(
        c.get(f"/v1/cohorts/{cid}/table1", params={"compare": "coh_nope"}, headers=H(env, "researcher")), 404
    )


def test_cli_describe(demo_mart_path) -> None:
    r = CliRunner().invoke(
        cli, ["describe", "--mart", str(demo_mart_path), "--json", "patients with a first-ever heart attack"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["counts"] == "exact" and out["totals"][0]["value"] > 0
    assert {r["section"] for r in out["rows"]} >= {"age", "sex", "condition", "drug", "lab", "death"}
