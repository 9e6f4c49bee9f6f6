"""Independent questions: their own open/blind split, gzip-shipped blind files, silent wrong answers
counted on their own, and reports that show the blind split only as scores and failure classes."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from cohort_engine.evals.gold import GoldError, GoldRecord, is_blind, load_gold, split_for
from cohort_engine.evals.metrics import QuestionOutcome, failure_class, group_metrics, score, summarize
from cohort_engine.evals.report import print_report, report_html, report_json
from cohort_engine.evals.runner import EvalReport

BLIND_QUESTION = "pts w/ DM2 and an HbA1c over nine in the last year (blind wording)"


def _intent(source: str, split: str) -> str:
    """An intent that the split rule sends to ``split``."""
    return next(f"intent-{n}" for n in range(1000) if split_for(f"intent-{n}", source) == split)  # type: ignore[arg-type]


def _record(**changes: object) -> dict:
    rec = {
        "id": "x-1",
        "intent": _intent("independent", "blind"),
        "question": BLIND_QUESTION,
        "language": "en",
        "split": "blind",
        "source": "independent",
        "mart": "demo7",
        "constructs": ["labs"],
        "expected_status": "ok",
        "gold_sql": "SELECT 1 AS person_id",
    }
    rec.update(changes)
    return rec


def test_independent_questions_split_open_or_blind_by_their_own_rule() -> None:
    splits = {split_for(f"i-{n}", "independent") for n in range(200)}
    assert splits == {"open", "blind"}
    assert {split_for(f"i-{n}") for n in range(200)} == {"dev", "test"}
    GoldRecord.model_validate(_record())
    with pytest.raises(ValueError, match="does not follow the split rule"):
        GoldRecord.model_validate(_record(split="open"))
    with pytest.raises(ValueError, match="does not follow the split rule"):
        GoldRecord.model_validate(_record(split="test"))  # independent questions never join dev/test


def test_blind_files_are_read_gzip_compressed(tmp_path: Path) -> None:
    (tmp_path / "open.jsonl").write_text(
        json.dumps(_record(id="o-1", intent=_intent("independent", "open"), split="open")) + "\n", "utf-8"
    )
    (tmp_path / "blind.jsonl.gz").write_bytes(gzip.compress((json.dumps(_record()) + "\n").encode()))
    records = load_gold(tmp_path)
    assert [(r.id, r.split) for r in records] == [("x-1", "blind"), ("o-1", "open")]
    assert [r.id for r in load_gold(tmp_path, split="blind")] == ["x-1"]
    assert BLIND_QUESTION.encode() not in (tmp_path / "blind.jsonl.gz").read_bytes()


def test_a_bad_blind_record_is_named_by_place_not_by_its_words(tmp_path: Path) -> None:
    bad = _record(split="open")
    (tmp_path / "blind.jsonl.gz").write_bytes(gzip.compress((json.dumps(bad) + "\n").encode()))
    with pytest.raises(GoldError) as exc:
        load_gold(tmp_path)
    assert "blind.jsonl.gz:1" in str(exc.value) and "question" not in str(exc.value).lower()


def _outcome(split: str, expected: str, status: str, gold: set[int] | None, got: set[int] | None, n: int):
    return score(
        id=f"{split}-{n}",
        question=f"{split} question {n}" if split != "blind" else f"{BLIND_QUESTION} #{n}",
        language="en",
        mart="demo7",
        split=split,
        tags=["labs", "english"],
        expected_status=expected,
        status=status,  # type: ignore[arg-type]
        gold=gold,
        produced=got,
        latency_ms=1.0,
    )


CASES = [
    # expected, status, gold, produced → failure class
    ("ok", "ok", {1, 2}, {1, 2}, None),
    ("ok", "ok", {1, 2}, {1}, "wrong_ok"),
    ("clarify", "ok", None, {1}, "answered_unanswerable"),
    ("ok", "clarify", {1}, None, "false_clarify"),
    ("ok", "refused", {1}, None, "false_refusal"),
    ("refused", "clarify", None, None, "wrong_abstention"),
    ("ok", "error", {1}, None, "error"),
    ("refused", "refused", None, None, None),
]


@pytest.mark.parametrize(("expected", "status", "gold", "got", "cls"), CASES)
def test_failure_classes(expected: str, status: str, gold, got, cls) -> None:
    assert failure_class(_outcome("test", expected, status, gold, got, 0)) == cls


def _report(split_of_wrong: str) -> EvalReport:
    outcomes: list[QuestionOutcome] = [
        _outcome("test", "ok", "clarify", {1}, None, 1),  # false clarify, listed after the wrong ok
        _outcome(split_of_wrong, "ok", "ok", {1, 2}, {1}, 2),  # a silent wrong answer
        _outcome("test", "ok", "ok", {3}, {3}, 3),
        _outcome("test", "refused", "ok", None, {4}, 4),  # answered what it had to refuse
    ]
    return EvalReport(parser="rule", split="all", summary=summarize(outcomes), outcomes=outcomes)


def test_silent_wrong_answers_are_counted_and_listed_first() -> None:
    report = _report("test")
    s = report.summary
    assert (s["wrong_ok"], s["answerable"], s["wrong_ok_rate"]) == (2, 3, pytest.approx(2 / 3))
    assert s["failure_classes"] == {"wrong_ok": 1, "answered_unanswerable": 1, "false_clarify": 1}
    assert [o.id for o in report.failures()] == ["test-2", "test-4", "test-1"]
    assert group_metrics([])["wrong_ok_rate"] is None


def test_reports_never_show_a_blind_question() -> None:
    report = _report("blind")
    data = report_json(report)
    assert data["blind_failures_redacted"] == 1 and data["wrong_ok"] == 2
    assert [f["id"] for f in data["failures"]] == ["test-4", "test-1"]
    out = io.StringIO()
    print_report(report, Console(file=out, width=200), max_failures=0)
    for text in (json.dumps(data, ensure_ascii=False), out.getvalue(), report_html(report)):
        assert BLIND_QUESTION not in text and "blind-2" not in text
    assert "1 failures of the blind split are counted above and not listed." in out.getvalue()
    assert "silent wrong answers (ok, wrong)" in out.getvalue()
    assert is_blind("blind") and not is_blind("open")
