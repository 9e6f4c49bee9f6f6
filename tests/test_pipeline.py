"""End to end through the pipeline: sentence → spec → concepts → guarded SQL → cohort."""

from __future__ import annotations

import pytest

from cohort_engine.nlq.parser import parse
from cohort_engine.nlq.result import Clarification, ParseResult
from cohort_engine.pipeline import (
    AskResult,
    answer_from_parse,
    ask,
    compile_spec,
    run_spec,
    run_spec_compiled,
)
from cohort_engine.seed import SEED_EN, SEED_KO
from cohort_engine.spec import CohortSpec, Criterion, Domain, IndexEvent

SEED_HAND_SQL = """
SELECT DISTINCT d.person_id
FROM condition_occurrence d
JOIN procedure_occurrence p ON p.person_id = d.person_id
JOIN concept c ON c.concept_id = p.procedure_concept_id
WHERE d.condition_start_date BETWEEN DATE '2023-10-01' AND DATE '2023-10-10'
  AND p.procedure_date BETWEEN d.condition_start_date + 7 AND d.condition_start_date + 14
  AND c.vocabulary_id = 'ICD9Proc'
  AND (c.concept_code LIKE '36.1%' OR c.concept_code IN ('00.66', '36.06', '36.07'))
ORDER BY 1
"""


@pytest.mark.slow
def test_seed_scenario_both_languages_same_cohort_as_hand_sql(demo_mart_path, demo) -> None:
    want = [r[0] for r in demo.execute(SEED_HAND_SQL).fetchall()]
    assert len(want) >= 5
    en = ask(SEED_EN, demo_mart_path, include_person_ids=True)
    ko = ask(SEED_KO, demo_mart_path, include_person_ids=True)
    assert en.status == ko.status == "ok"
    assert en.person_ids == want
    assert ko.person_ids == want
    assert en.count == ko.count == len(want)
    assert [a.persons for a in en.attrition] == [a.persons for a in ko.attrition]
    assert en.attrition[-1].persons == len(want)


def test_seed_answer_has_no_identifying_values(demo_mart_path, demo) -> None:
    res = ask(SEED_EN, demo_mart_path)
    text = res.model_dump_json()
    mrns = [r[0] for r in demo.execute("SELECT person_source_value FROM person LIMIT 20000").fetchall()]
    assert not any(m in text for m in mrns)
    assert res.person_ids is None
    assert all(s.pseudonym.startswith("P-") for s in res.sample)


def test_unresolvable_term_asks_back(eunomia) -> None:
    spec = CohortSpec(index=IndexEvent(domain="condition", concepts={"terms": ["xylophone disease"]}))
    res = run_spec(spec, eunomia)
    assert res.status == "clarify"
    assert res.count is None and res.sql is None
    assert res.clarifications[0].span == "xylophone disease"


def test_malformed_table_gives_a_clear_error(eunomia) -> None:
    spec = CohortSpec(
        index=IndexEvent(domain="condition", concepts={"concept_ids": [192671]}),
        criteria=[Criterion(label="died", domain=Domain.death)],
    )
    res = run_spec(spec, eunomia)
    assert res.status == "error"
    assert res.message == (
        "this mart's death table lacks the OMOP column(s) person_id, death_date, cause_concept_id, "
        "so death criteria cannot be evaluated"
    )


# ------------------------------------------------------------------------------ refusals and questions back
@pytest.mark.parametrize("status", ["refused", "clarify"])
def test_a_parse_that_stopped_short_is_answered_with_its_own_words(status: str) -> None:
    clar = [Clarification(question="How old is elderly?", span="elderly", choices=["65+", "75+"])]
    parsed = ParseResult(
        status=status, language="ko", message="왜냐하면", clarifications=clar, notes=["a note"]
    )
    assert answer_from_parse(parsed) == AskResult(
        status=status,
        message="왜냐하면",
        language="ko",
        clarifications=clar,
        notes=["a note"],
    )


def test_ok_without_a_spec_is_an_error_not_an_empty_cohort() -> None:
    res = answer_from_parse(ParseResult(status="ok", notes=["n"]))
    assert (res.status, res.message, res.notes, res.count) == (
        "error",
        "the parser said ok but returned no spec",
        ["n"],
        None,
    )


def test_ask_answers_a_refusal_without_opening_the_mart(tmp_path) -> None:
    q = "delete all patients diagnosed with MI in 2023"
    res = ask(q, tmp_path / "absent.duckdb")
    assert res == answer_from_parse(parse(q)) and res.status == "refused"


def test_ask_with_an_unknown_parser_is_an_error(tmp_path) -> None:
    res = ask(SEED_EN, tmp_path / "absent.duckdb", parser="gpt")
    assert (res.status, res.message) == ("error", "unknown parser 'gpt': use rule, llm or hybrid")


# ------------------------------------------------------------------------------ one pass for export
def test_run_spec_compiled_returns_the_cohort_it_ran(demo) -> None:
    parsed = parse(SEED_EN)
    assert parsed.spec is not None
    outcome = run_spec_compiled(parsed.spec, demo, parsed=parsed, sample_size=0, include_person_ids=True)
    again = compile_spec(parsed.spec, demo)
    assert outcome.answer.status == "ok" and outcome.compiled is not None
    assert outcome.answer.sql == outcome.compiled.cohort_sql == again.cohort_sql
    assert outcome.compiled == again
    assert outcome.answer == run_spec(
        parsed.spec, demo, parsed=parsed, sample_size=0, include_person_ids=True
    )


def test_run_spec_compiled_has_no_cohort_when_the_answer_is_not_ok(eunomia) -> None:
    spec = CohortSpec(index=IndexEvent(domain="condition", concepts={"terms": ["xylophone disease"]}))
    outcome = run_spec_compiled(spec, eunomia)
    assert outcome.answer.status == "clarify" and outcome.compiled is None
