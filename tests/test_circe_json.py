"""The Circe cohort definitions benchmarks/bench_circe.py writes mean what our specs mean.

The benchmark times our SQL against OHDSI Circe's; that comparison is only worth something if the Circe
JSON it generates selects the same persons. Here a few definitions of the mix go spec → Circe JSON →
duckcdm (Circe + SqlRender, DuckDB) → a temp cohort table on the demo mart, and must return exactly the
persons of our pipeline and of the hand-written gold SQL. No timing is asserted.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

pytest.importorskip("duckcdm")

import bench_circe  # noqa: E402
import bench_scale  # noqa: E402

#: Index + first occurrence + age + sex; a windowed exclusion; a windowless exclusion; a count.
IDS = (
    "demo-first_stroke_women_75-en1",
    "demo-mi_2023_no_pci_30d-en1",
    "demo-af_never_warfarin-en1",
    "demo-t2dm_2023_hba1c_3x-en1",
)


def _record(qid: str) -> dict[str, Any]:
    (rec,) = [r for r in bench_scale.load_questions() if r["id"] == qid]
    return rec


@pytest.fixture(scope="module")
def circe_cursor(demo: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    cur = demo.cursor()
    bench_circe.prepare_target(cur)
    yield cur
    cur.close()


@pytest.mark.parametrize("qid", IDS)
def test_circe_returns_our_persons(
    qid: str, demo: duckdb.DuckDBPyConnection, circe_cursor: duckdb.DuckDBPyConnection
) -> None:
    rec = _record(qid)
    res, _ = bench_scale.ask_once(demo, rec["question"])
    assert res.spec is not None
    expression = bench_circe.circe_expression(res.spec, bench_circe.resolved_ids(res))
    _, _, circe_ids = bench_circe.run_circe(circe_cursor, bench_circe.circe_statements(expression))
    gold = {int(r[0]) for r in demo.cursor().sql(rec["gold_sql"]).fetchall()}
    assert circe_ids == set(res.person_ids or []) == gold
    assert len(gold) > 0


def test_stroke_definition_json(demo: duckdb.DuckDBPyConnection) -> None:
    res, _ = bench_scale.ask_once(demo, _record("demo-first_stroke_women_75-en1")["question"])
    assert res.spec is not None
    expression = bench_circe.circe_expression(res.spec, bench_circe.resolved_ids(res))
    assert expression["ConceptSets"] == [
        {
            "id": 0,
            "name": "index",
            "expression": {"items": [{"concept": {"CONCEPT_ID": 2000012097}, "includeDescendants": True}]},
        }
    ]
    assert expression["PrimaryCriteria"]["CriteriaList"] == [
        {
            "ConditionOccurrence": {
                "First": True,
                "Gender": [{"CONCEPT_ID": 8532}],
                "Age": {"Value": 75, "Op": "gte"},
                "CodesetId": 0,
            }
        }
    ]
    assert expression["InclusionRules"] == []


def test_imaging_criterion_is_not_expressible(demo: duckdb.DuckDBPyConnection) -> None:
    res, _ = bench_scale.ask_once(demo, _record("demo-hf_echo_7d-en1")["question"])
    assert res.spec is not None
    with pytest.raises(bench_circe.NotExpressible) as e:
        bench_circe.circe_expression(res.spec, bench_circe.resolved_ids(res))
    assert str(e.value) == "imaging: Circe has no imaging domain (no image_occurrence table)"
