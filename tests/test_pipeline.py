"""End to end through the pipeline: sentence → spec → concepts → guarded SQL → cohort."""

from __future__ import annotations

from cohort_engine.pipeline import ask, run_spec
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
