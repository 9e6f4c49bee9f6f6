"""The runner's figures are right on a tiny synthetic case, computed by hand.

A six-person mart with one condition; a stub parser returns fixed results, so every number below
(execution accuracy, Jaccard, precision, recall, reliability, refusal accuracy, spec fields) can be
checked with pencil and paper.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import duckdb
import pytest
from rich.console import Console
from typer.testing import CliRunner

from cohort_engine.cli import app
from cohort_engine.evals.gold import GoldRecord, split_for
from cohort_engine.evals.metrics import (
    jaccard,
    percentile,
    precision,
    recall,
    reliability_points,
    spec_field_diff,
)
from cohort_engine.evals.report import print_report, report_html, report_json
from cohort_engine.evals.runner import run_eval
from cohort_engine.nlq.llm import LLM_ENV
from cohort_engine.nlq.result import ParseResult
from cohort_engine.parsers import ParserUnavailable, parser_for
from cohort_engine.schema_catalog.ddl import omop_ddl
from cohort_engine.spec import CohortSpec, ConceptSet, IndexEvent
from cohort_engine.sql_guard.runner import open_mart

COND = 100


def test_set_metrics_by_hand() -> None:
    p, g = {1, 2, 3, 4}, {3, 4, 5}
    assert jaccard(p, g) == pytest.approx(2 / 5)
    assert precision(p, g) == pytest.approx(2 / 4)
    assert recall(p, g) == pytest.approx(2 / 3)
    assert (jaccard(set(), g), precision(set(), g), recall(set(), g)) == (0.0, 0.0, 0.0)
    assert jaccard(set(), set()) == 1.0


@pytest.mark.parametrize(
    "expected,status,exact,points",
    [
        ("ok", "ok", True, 1),
        ("ok", "ok", False, -10),
        ("ok", "clarify", False, 0),
        ("ok", "refused", False, 0),
        ("ok", "error", False, 0),
        ("refused", "refused", False, 1),
        ("refused", "clarify", False, 1),
        ("clarify", "clarify", False, 1),
        ("refused", "ok", False, -10),
        ("clarify", "error", False, 0),
    ],
)
def test_reliability_points(expected: str, status: str, exact: bool, points: int) -> None:
    assert reliability_points(expected, status, exact) == points


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([40, 10, 30, 20], 50) == pytest.approx(25.0)
    assert percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    assert percentile([7], 95) == 7
    assert percentile([], 50) is None


def test_spec_fields_ignore_labels_and_compare_structure() -> None:
    gold = {
        "index": {"domain": "condition", "date_range": {"start": "2023-01-01", "end": "2023-12-31"}},
        "criteria": [
            {
                "domain": "procedure",
                "window": {"start": 0, "end": 3, "anchor": "index"},
                "occurrence": "at_least:1",
            },
            {"domain": "procedure", "window": {"start": 0, "end": 1, "anchor": "#1"}, "occurrence": "absent"},
        ],
    }
    produced = {
        "index": {
            "domain": "condition",
            "date_range": {"start": "2023-01-01", "end": "2023-12-30"},
            "concepts": {},
        },
        "criteria": [
            {
                "label": "angio",
                "domain": "procedure",
                "window": {"start": 0, "end": 3, "anchor": "index"},
                "occurrence": {"type": "at_least", "count": 1},
            },
            {
                "label": "pci",
                "domain": "procedure",
                "window": {"start": 0, "end": 1, "anchor": "angio"},
                "occurrence": {"type": "at_most", "count": 0},
            },
        ],
    }
    right, total, wrong = spec_field_diff(gold, produced)
    # index.domain, start, end; criteria.length; 2 × (domain, start, end, anchor, occurrence) = 14 fields
    assert (right, total) == (13, 14)
    assert wrong == ["index.date_range.end"]
    assert spec_field_diff(gold, None)[:2] == (0, 14)


# ---------------------------------------------------------------- end to end on a tiny mart
@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    path = Path(tmp_path_factory.mktemp("tiny")) / "mart.duckdb"
    con = duckdb.connect(str(path))
    con.execute(omop_ddl())
    con.execute(
        "INSERT INTO concept (concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, "
        "concept_code, valid_start_date, valid_end_date) "
        f"VALUES ({COND}, 'Testitis', 'Condition', 'TEST', 'Clinical Finding', 'T1', "
        "DATE '1970-01-01', DATE '2099-12-31')"
    )
    con.execute(
        "INSERT INTO person (person_id, gender_concept_id, year_of_birth) "
        "SELECT i, 8507, 1970 FROM range(1, 7) t(i)"
    )
    # persons 1, 2: Testitis in 2023; 3, 4: in 2021; 5, 6: nothing.
    for i, (pid, day) in enumerate(
        [(1, "2023-03-01"), (2, "2023-05-01"), (3, "2021-01-01"), (4, "2021-02-01")], 1
    ):
        con.execute(
            "INSERT INTO condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, "
            "condition_start_date, condition_type_concept_id) "
            f"VALUES ({i}, {pid}, {COND}, DATE '{day}', 32817)"
        )
    con.close()
    ro = open_mart(path)
    yield ro
    ro.close()


def _rec(intent: str, question: str, expected: str, sql: str | None = None, **kw) -> GoldRecord:
    return GoldRecord(
        id=intent,
        intent=intent,
        question=question,
        language="en",
        split=split_for(intent),
        mart="demo",
        constructs=kw.pop("constructs", ["dates"]),
        expected_status=expected,
        gold_sql=sql,
        **kw,
    )


ALL_SQL = f"SELECT DISTINCT person_id FROM condition_occurrence WHERE condition_concept_id = {COND}"
SQL_2023 = ALL_SQL + " AND condition_start_date BETWEEN DATE '2023-01-01' AND DATE '2023-12-31'"
ALL_SPEC = CohortSpec(index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[COND])))
RECORDS = [
    _rec("t-exact", "all testitis", "ok", ALL_SQL),  # answered right: +1
    _rec(
        "t-wrong",
        "testitis in 2023",
        "ok",
        SQL_2023,  # answered {1,2,3,4} vs {1,2}: −10
        gold_spec={
            "index": {"domain": "condition", "date_range": {"start": "2023-01-01", "end": "2023-12-31"}}
        },
    ),
    _rec("t-asked", "testitis, somehow", "ok", ALL_SQL, constructs=["negation"]),  # clarify: 0
    _rec("t-refuse", "delete testitis", "refused", constructs=["refusal"]),  # refused: +1
    _rec("t-clarify", "those patients", "clarify", constructs=["refusal"]),  # answered: −10
]


def stub_parser(text: str, today: date | None = None) -> ParseResult:
    if text in ("all testitis", "testitis in 2023", "those patients"):
        return ParseResult(status="ok", spec=ALL_SPEC)
    if text == "delete testitis":
        return ParseResult(status="refused", message="read only")
    return ParseResult(status="clarify", message="which one?")


def test_run_eval_figures_by_hand(tiny) -> None:
    report = run_eval(RECORDS, {"demo": tiny}, stub_parser, parser_name="stub", split="all")
    s = report.summary
    assert (s["questions"], s["answerable"], s["refusable"]) == (5, 3, 2)
    assert s["execution_accuracy"] == pytest.approx(1 / 3)
    assert s["mean_jaccard"] == pytest.approx((1 + 2 / 4 + 0) / 3)
    assert s["mean_precision"] == pytest.approx((1 + 2 / 4 + 0) / 3)
    assert s["mean_recall"] == pytest.approx((1 + 1 + 0) / 3)
    assert s["answered_rate"] == pytest.approx(2 / 3)
    assert s["refusal_accuracy"] == pytest.approx(1 / 2)
    assert s["abstention_rate"] == pytest.approx(1 / 2)
    assert s["reliability_points"] == 1 - 10 + 0 + 1 - 10
    assert s["reliability_score"] == pytest.approx(100 * -18 / 5)
    assert s["spec_field_accuracy"] == pytest.approx(1 / 3)  # domain right; start and end wrong
    assert s["status_counts"] == {"clarify": 1, "ok": 3, "refused": 1}
    assert s["by_construct"]["refusal"]["refusal_accuracy"] == pytest.approx(1 / 2)
    assert s["by_construct"]["negation"]["reliability_score"] == 0.0
    assert s["by_construct"]["english"]["questions"] == 5
    assert s["latency_p50_ms"] is not None and s["latency_p95_ms"] >= s["latency_p50_ms"]

    wrong = next(o for o in report.outcomes if o.id == "t-wrong")
    assert (wrong.gold_size, wrong.produced_size, wrong.missing, wrong.extra) == (2, 4, 0, 2)
    assert wrong.extra_examples == [3, 4] and wrong.readback
    assert {o.id for o in report.failures()} == {"t-wrong", "t-asked", "t-clarify"}

    data = report_json(report)
    for key in (
        "questions",
        "answerable",
        "refusable",
        "execution_accuracy",
        "mean_jaccard",
        "refusal_accuracy",
        "reliability_score",
        "latency_p50_ms",
        "latency_p95_ms",
        "by_construct",
        "failures",
    ):
        assert key in data
    assert len(data["failures"]) == 3
    buf = io.StringIO()
    print_report(report, Console(file=buf, width=200), max_failures=1)
    text = buf.getvalue()
    assert "execution_accuracy" in text and "failures (3; first 1 shown" in text and "t-wrong" in text
    page = report_html(report)
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page


def test_unknown_mart_is_skipped_not_run(tiny) -> None:
    rec = _rec("t-eu", "all testitis on eunomia", "ok", ALL_SQL).model_copy(update={"mart": "eunomia"})
    report = run_eval([*RECORDS[:1], rec], {"demo": tiny}, stub_parser)
    assert report.skipped == {"eunomia": 1} and report.summary["questions"] == 1


def test_a_crashing_parser_is_scored_as_error(tiny) -> None:
    def boom(text: str, today: date | None = None) -> ParseResult:
        raise RuntimeError("parser bug")

    report = run_eval(RECORDS[:1], {"demo": tiny}, boom)
    o = report.outcomes[0]
    assert (o.status, o.points, o.exact) == ("error", 0, False) and "RuntimeError" in o.message


def test_llm_parser_without_a_model_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LLM_ENV, raising=False)
    for name in ("llm", "hybrid"):
        with pytest.raises(ParserUnavailable, match=LLM_ENV):
            parser_for(name)
    result = CliRunner().invoke(app, ["eval", "--parser", "llm"])
    assert result.exit_code == 2 and LLM_ENV in result.output


def test_the_rule_parsers_own_failure_answer_is_scored_as_error(
    tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule parser turns its own exceptions into a 'clarify' asking to rephrase (for users); the
    evaluation still counts them as errors, so a reading bug never passes for a question asked back."""
    from cohort_engine.nlq import parser as parser_module

    def broken(*_: object) -> None:
        raise ValueError("reading bug")

    monkeypatch.setattr(parser_module, "recognise", broken)
    report = run_eval(RECORDS[:1], {"demo": tiny}, parser_module.parse)
    assert [(o.status, o.points) for o in report.outcomes] == [("error", 0)]
