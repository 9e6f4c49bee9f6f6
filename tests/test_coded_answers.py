"""Coded answers of an observation ('current smoker' of smoking status): a value_as_concept_id filter.

The spec carries them as ``value_concepts`` (measurements and observations only); the resolver finds
them among answer concepts by the lexicon and exact names; the compiler matches value_as_concept_id.
Each question's persons are checked against hand-written SQL on the demo mart.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cohort_engine.nlq.parser import parse
from cohort_engine.pipeline import run_spec
from cohort_engine.spec import ConceptSet, Domain, EventFilter

SMOKING = "SELECT concept_id FROM concept WHERE vocabulary_id = 'LOINC' AND concept_code = '72166-2'"


def _answer(name: str) -> str:
    return f"SELECT concept_id FROM concept WHERE concept_name = '{name}' AND domain_id = 'Meas Value'"


HISTOLOGY = "SELECT concept_id FROM concept WHERE vocabulary_id = 'DEMO' AND concept_code = 'PATH-HIST'"


def _with(condition_codes: str, answer: str, observation: str = SMOKING) -> str:
    return (
        "SELECT DISTINCT c.person_id FROM condition_occurrence c JOIN concept k ON k.concept_id = "
        f"c.condition_concept_id WHERE k.vocabulary_id = 'ICD10CM' AND ({condition_codes}) AND EXISTS ("
        "SELECT 1 FROM observation o WHERE o.person_id = c.person_id AND o.observation_concept_id IN "
        f"({observation}) AND o.value_as_concept_id IN ({_answer(answer)}))"
    )


CASES = [
    ("COPD pts who are current smokers", _with("k.concept_code LIKE 'J44%'", "Current smoker")),
    (
        "COPD patients whose smoking status was recorded as current smoker",
        _with("k.concept_code LIKE 'J44%'", "Current smoker"),
    ),
    ("lung cancer in never smokers", _with("k.concept_code LIKE 'C34%'", "Never smoker")),
    ("폐암 환자 중 과거 흡연자", _with("k.concept_code LIKE 'C34%'", "Former smoker")),
    (
        "gastric cancer patients whose pathology came back as signet ring cell carcinoma",
        _with("k.concept_code LIKE 'C16%'", "Signet ring cell carcinoma", HISTOLOGY),
    ),
    (
        "stomach cancer patients with signet ring cell carcinoma on histopathology",
        _with("k.concept_code LIKE 'C16%'", "Signet ring cell carcinoma", HISTOLOGY),
    ),
]


def test_a_histology_name_without_pathology_words_is_no_answer() -> None:
    """'adenocarcinoma' is a pathology result only where the question speaks of pathology or histology."""
    parsed = parse("patients with adenocarcinoma diagnosed in 2023")
    assert parsed.spec is None or parsed.spec.index.value_concepts is None


@pytest.mark.parametrize(("question", "gold"), CASES, ids=[c[0] for c in CASES])
def test_coded_answers_select_the_hand_written_persons(demo, question: str, gold: str) -> None:
    parsed = parse(question)
    assert parsed.status == "ok", parsed.message
    assert parsed.spec is not None
    res = run_spec(parsed.spec, demo, parsed=parsed, include_person_ids=True, sample_size=0)
    want = {r[0] for r in demo.execute(gold).fetchall()}
    assert want and set(res.person_ids or []) == want


def test_the_observation_named_again_is_the_answered_one() -> None:
    """'… after the smoking status was recorded' refers to the current-smoker observation."""
    parsed = parse(
        "patients recorded as current smokers who were diagnosed with lung cancer after the smoking status "
        "was recorded"
    )
    assert parsed.spec is not None
    assert parsed.spec.index.value_concepts == ConceptSet(terms=["current smokers"])
    assert [c.window.start for c in parsed.spec.criteria] == [0]


def test_answers_belong_to_measurements_and_observations_only() -> None:
    EventFilter(domain=Domain.observation, value_concepts=ConceptSet(terms=["current smoker"]))
    with pytest.raises(ValidationError, match="coded answers apply to measurements or observations"):
        EventFilter(domain=Domain.condition, value_concepts=ConceptSet(terms=["current smoker"]))


def test_an_answer_mixed_with_a_concept_is_asked_back() -> None:
    parsed = parse("patients with current smoker or hypertension")
    assert parsed.status == "clarify"
