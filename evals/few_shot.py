"""The LLM prompt's few-shot pool, generated from the dev split into ``nlq/data/few_shot.jsonl``.

Why a generated file: the examples come from the gold set, but the parser must not read the gold
set at question time (the evals sit above the pipeline, and the test split must stay unseen). So
the pool is written here, from :func:`~cohort_engine.evals.gold.few_shot_pool` (dev only), and
shipped as package data; ``tests/test_few_shot.py`` fails when the file differs from what
:func:`render` makes now, or holds anything from the test split.

Each example's spec is the rule parser's reading of the question, kept only when it agrees with
every field of the hand-written gold spec (the gold spec itself carries no terms, so it cannot be
shown as an answer). Regenerate after changing the gold set or the parser::

    python -m cohort_engine.evals.few_shot
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from cohort_engine.evals.gold import GoldRecord, few_shot_pool, load_gold
from cohort_engine.evals.metrics import spec_field_diff
from cohort_engine.nlq.llm import FewShotExample
from cohort_engine.nlq.parser import parse as rule_parse
from cohort_engine.parsers import FEW_SHOT_FILE, FEW_SHOT_PACKAGE


def few_shot_path() -> Path:
    """Where the pool file lives in this checkout (the ``cohort_engine.nlq`` package's data folder)."""
    return Path(str(resources.files(FEW_SHOT_PACKAGE).joinpath(FEW_SHOT_FILE)))


def example_for(record: GoldRecord) -> FewShotExample | None:
    """The record as an example, or None when the rule parser's reading differs from the gold spec."""
    try:
        res = rule_parse(record.question, today=record.today)
    except Exception:  # a question the parser cannot read is left out, not fatal
        return None
    if res.status != "ok" or res.spec is None:
        return None
    if spec_field_diff(record.gold_spec or {}, res.spec.model_dump(mode="json"))[2]:
        return None
    spec = res.spec.model_dump(mode="json", exclude_defaults=True, exclude={"title"})
    spec["language"] = res.spec.language
    return FewShotExample(
        id=record.id, intent=record.intent, question=record.question, today=record.today, spec=spec
    )


def build(records: Sequence[GoldRecord]) -> list[FewShotExample]:
    """The pool: dev-split answerable records with a gold spec whose reading is verified, in gold order."""
    pool = [r for r in few_shot_pool(records) if r.expected_status == "ok" and r.gold_spec]
    return [ex for r in pool if r.split == "dev" and (ex := example_for(r)) is not None]


def render(examples: Sequence[FewShotExample]) -> str:
    """One JSON object per line; key order kept, since the prompt shows each spec as written."""
    lines = []
    for ex in examples:
        row = {"id": ex.id, "intent": ex.intent, "question": ex.question}
        if ex.today is not None:
            row["today"] = ex.today.isoformat()
        lines.append(json.dumps({**row, "spec": ex.spec}, ensure_ascii=False) + "\n")
    return "".join(lines)


def main() -> None:
    path = few_shot_path()
    examples = build(load_gold())
    path.write_text(render(examples), "utf-8")
    sys.stdout.write(f"wrote {len(examples)} examples to {path}\n")


if __name__ == "__main__":
    main()
