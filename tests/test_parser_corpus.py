"""The parser corpus (evals/parser_corpus/*.jsonl) pinned sentence by sentence.

Each line holds a sentence, the date that anchors its relative spans, and the expected outcome written
by hand: the exact cohort spec (compared field by field, the title excepted), or the clarify/refuse
status with words the answer must contain.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from cohort_engine.nlq.parser import parse
from cohort_engine.spec import CohortSpec

CORPUS = Path(__file__).resolve().parent.parent / "evals" / "parser_corpus"


def _rows(lang: str) -> list[dict]:
    path = CORPUS / f"{lang}.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


ROWS = _rows("en") + _rows("ko")


def _canonical(spec: CohortSpec) -> dict:
    return spec.model_dump(mode="json", exclude={"title"})


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_corpus_sentence(row: dict) -> None:
    result = parse(row["sentence"], today=date.fromisoformat(row["today"]))
    expect = row["expect"]
    assert result.language == row["language"]
    assert result.status == expect["status"], (result.message, [c.question for c in result.clarifications])
    if expect["status"] == "ok":
        wanted = CohortSpec.model_validate({**expect["spec"], "language": row["language"]})
        assert result.spec is not None
        assert _canonical(result.spec) == _canonical(wanted)
        return
    assert result.spec is None
    texts = (
        [result.message]
        + [c.question for c in result.clarifications]
        + [choice for c in result.clarifications for choice in c.choices]
    )
    assert any(expect["message_contains"] in t for t in texts), texts
    if "span" in expect:
        assert any(c.span and expect["span"] in c.span for c in result.clarifications)


def test_corpus_size_and_coverage() -> None:
    en, ko = _rows("en"), _rows("ko")
    assert len(en) >= 150 and len(ko) >= 100
    constructs = {
        "date-iso",
        "date-dotted",
        "date-month-name",
        "date-korean",
        "year",
        "since",
        "between",
        "for-n-days",
        "korean-span",
        "from-to",
        "relative",
        "window-range",
        "window-within",
        "window-of",
        "window-at-least",
        "window-before",
        "same-day",
        "same-visit",
        "domain-diagnosis",
        "domain-surgery",
        "domain-procedure",
        "domain-pathology",
        "domain-drug",
        "domain-lab-value",
        "domain-imaging",
        "domain-death",
        "domain-admission",
        "domain-er",
        "sex",
        "age",
        "count",
        "first",
        "negation",
        "name-match",
        "concept-level",
        "literal",
        "disjunction",
        "conjunction",
        "typo",
        "informal",
        "clarify",
        "refuse",
        "imaging-request",
    }
    for lang, rows in (("en", en), ("ko", ko)):
        tags = {t for r in rows for t in r["tags"]}
        missing = (
            constructs - tags - ({"korean-span", "date-korean"} if lang == "en" else {"date-month-name"})
        )
        assert not missing, (lang, sorted(missing))
    ids = [r["id"] for r in en + ko]
    assert len(ids) == len(set(ids))
