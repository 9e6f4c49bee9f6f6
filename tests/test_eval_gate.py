"""CI gate: the offline (rule) parser must not fall below the accuracy floor on the test split.

The floor lives in ``evals/floor.json``; raise it whenever the parser improves (measured figure minus
a small margin), so that a later change cannot quietly give the gain back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cohort_engine.evals.gold import load_gold
from cohort_engine.evals.runner import run_eval
from cohort_engine.parsers import parser_for

FLOOR = json.loads((Path(__file__).parents[1] / "evals" / "floor.json").read_text("utf-8"))


@pytest.mark.slow
def test_rule_parser_stays_above_the_floor(demo, eunomia) -> None:
    assert FLOOR["parser"] == "rule" and FLOOR["split"] == "test"
    records = load_gold(split="test")
    report = run_eval(records, {"demo": demo, "eunomia": eunomia}, parser_for("rule"), split="test")
    s = report.summary
    assert not report.skipped and s["questions"] == len(records)
    worst = sorted(
        ((name, g["accuracy"]) for name, g in s["by_construct"].items() if g["accuracy"] is not None),
        key=lambda kv: kv[1],
    )[:5]
    figures = (
        f"execution accuracy {s['execution_accuracy']:.3f} (floor {FLOOR['execution_accuracy']}), "
        f"reliability {s['reliability_score']:.1f} (floor {FLOOR['reliability_score']}); "
        f"weakest constructs {worst}; run `cohort eval --split test` for the failure list"
    )
    assert s["execution_accuracy"] >= FLOOR["execution_accuracy"], figures
    assert s["reliability_score"] >= FLOOR["reliability_score"], figures


@pytest.mark.slow
@pytest.mark.parametrize("split", ["open", "blind"])
def test_independent_questions_stay_above_their_floor(split: str, demo7, eunomia) -> None:
    """Questions nobody tuned on: no fall in accuracy, and never more silent wrong answers than now.

    The message carries figures and failure classes only (the blind split's sentences stay unseen).
    """
    floor = FLOOR["independent"][split]
    records = load_gold(split=split)  # type: ignore[arg-type]
    report = run_eval(records, {"demo7": demo7, "eunomia": eunomia}, parser_for("rule"), split=split)
    s = report.summary
    assert not report.skipped and s["questions"] == len(records) > 0
    figures = (
        f"{split}: execution accuracy {s['execution_accuracy']:.3f} (floor {floor['execution_accuracy']}), "
        f"reliability {s['reliability_score']:.1f} (floor {floor['reliability_score']}), "
        f"silent wrong answers {s['wrong_ok']} (at most {floor['max_wrong_ok']}); "
        f"failure classes {s['failure_classes']}"
    )
    assert s["execution_accuracy"] >= floor["execution_accuracy"], figures
    assert s["reliability_score"] >= floor["reliability_score"], figures
    assert s["wrong_ok"] <= floor["max_wrong_ok"], figures
