"""The shipped few-shot pool (nlq/data/few_shot.jsonl): current, and made of dev-split questions only.

The LLM prompt's examples come from this file, which the evals generate; the parser never reads the
gold set at question time. If a test here fails after a change to the gold set or the rule parser,
regenerate the file with ``python -m cohort_engine.evals.few_shot`` (and check that the diff is meant).
"""

from __future__ import annotations

import json

from cohort_engine.evals.few_shot import build, few_shot_path, render
from cohort_engine.evals.gold import load_gold
from cohort_engine.parsers import few_shot_examples

RECORDS = load_gold()
SHIPPED = few_shot_path().read_text("utf-8")


def test_the_shipped_pool_is_what_the_generator_makes_now() -> None:
    assert render(build(RECORDS)) == SHIPPED


def test_the_pool_holds_only_dev_questions_and_no_test_material() -> None:
    by_id = {r.id: r for r in RECORDS}
    rows = [json.loads(line) for line in SHIPPED.splitlines()]
    assert len(rows) >= 150
    assert all(by_id[row["id"]].split == "dev" for row in rows)
    assert all(row["question"] == by_id[row["id"]].question for row in rows)
    test = [r for r in RECORDS if r.split == "test"]
    assert not [r.id for r in test if r.question in SHIPPED or f'"{r.id}"' in SHIPPED]
    assert not [r.id for r in test if r.intent in {row["intent"] for row in rows}]
    assert "SELECT" not in SHIPPED  # no gold SQL either


def test_the_generator_never_takes_a_test_record_even_when_handed_one() -> None:
    test = [r for r in RECORDS if r.split == "test" and r.expected_status == "ok" and r.gold_spec]
    assert test and build(test) == []


def test_the_registry_loads_the_file_as_written() -> None:
    loaded = few_shot_examples()
    assert render(loaded) == SHIPPED
    assert [e.id for e in loaded] == [json.loads(line)["id"] for line in SHIPPED.splitlines()]
