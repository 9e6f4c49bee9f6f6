"""Imaging criteria on a mart without a DICOM index become the imaging procedures its vocabulary names
(schema_catalog/imaging_procedures.py): table-driven on names, exact on Eunomia against hand SQL."""

from __future__ import annotations

from datetime import date

import pytest

from cohort_engine.nlq.parser import parse
from cohort_engine.pipeline import run_spec
from cohort_engine.schema_catalog.imaging_procedures import procedure_concepts
from cohort_engine.spec import Domain, EventFilter, ImagingFilter

NAMES = [
    (1, "Plain chest X-ray"),
    (2, "Radiography of ankle"),
    (3, "Pelvis X-ray"),
    (4, "Bone density scan"),
    (5, "CT of chest"),
    (6, "Computed tomography of head"),
    (7, "Magnetic resonance imaging of brain"),
    (8, "Appendectomy"),
]


@pytest.mark.parametrize(
    ("modalities", "parts", "ids"),
    [
        (["CR", "DX"], ["CHEST"], [1]),
        (["CR", "DX"], ["ANKLE"], [2]),
        (["CR", "DX"], [], [1, 2, 3]),
        (["CT"], ["CHEST"], [5]),
        (["CT"], ["HEAD"], [6]),
        (["MR"], ["HEAD"], [7]),
        (["CR"], ["KNEE"], []),  # nothing names a knee X-ray: left unconverted, the mart says why
        (["CR"], ["NOSE"], []),  # a body part with no words: never widened to every X-ray
    ],
)
def test_procedures_that_name_the_modality_and_the_part(modalities, parts, ids) -> None:
    f = EventFilter(domain=Domain.imaging, imaging=ImagingFilter(modalities=modalities, body_parts=parts))
    assert procedure_concepts(f, NAMES) == ids


HAND = """
SELECT DISTINCT i.person_id FROM condition_occurrence i
JOIN person p ON p.person_id = i.person_id
WHERE i.condition_concept_id IN (SELECT descendant_concept_id FROM concept_ancestor
                                 WHERE ancestor_concept_id = 4230399)
  AND p.gender_concept_id = 8532 AND year(i.condition_start_date) - p.year_of_birth >= 70
  AND EXISTS (SELECT 1 FROM procedure_occurrence x JOIN concept c ON c.concept_id = x.procedure_concept_id
              WHERE x.person_id = i.person_id AND c.concept_name = 'Pelvis X-ray'
                AND x.procedure_date = i.condition_start_date)
"""


def test_a_pelvis_x_ray_on_eunomia_is_its_procedure(eunomia) -> None:
    parsed = parse(
        "hip fracture in women 70 or older with a pelvis X-ray the same day", today=date(2019, 7, 1)
    )
    assert parsed.status == "ok" and parsed.spec is not None
    res = run_spec(parsed.spec, eunomia, parsed=parsed, include_person_ids=True, sample_size=0)
    assert res.status == "ok", res.message
    want = {int(r[0]) for r in eunomia.execute(HAND).fetchall()}
    assert want and set(res.person_ids or []) == want
    assert any("Pelvis X-ray" in n for n in res.notes)
    assert res.spec is not None and res.spec.criteria[0].domain is Domain.procedure


def test_an_imaging_criterion_with_no_procedure_still_says_the_mart_cannot(eunomia) -> None:
    parsed = parse("patients with an MRI of the brain", today=date(2019, 7, 1))
    assert parsed.spec is not None
    res = run_spec(parsed.spec, eunomia, parsed=parsed)
    assert res.status == "clarify"  # the user can ask otherwise: a question back, not an error
    assert res.message == "this mart has no image_occurrence table, so imaging criteria cannot be evaluated"
    assert [c.question for c in res.clarifications] == ["Ask about what this mart holds, or drop that rule."]


@pytest.mark.parametrize(
    ("question", "message"),
    [
        (
            "폐암 환자 중 PET-CT 찍은 사람",
            "이 데이터마트의 영상 색인에는 PT 영상이 없습니다(있는 모달리티: CR, CT, DX, MR, US, XA).",
        ),
        (
            "lung cancer patients without a mammogram",
            "This mart's image index holds no MG images (it holds: CR, CT, DX, MR, US, XA).",
        ),
    ],
)
def test_a_rule_on_images_the_index_does_not_hold_is_asked_back(demo, question: str, message: str) -> None:
    parsed = parse(question, today=date(2025, 7, 1))
    assert parsed.status == "ok" and parsed.spec is not None
    answer = run_spec(parsed.spec, demo, parsed=parsed)
    assert (answer.status, answer.message, answer.count) == ("clarify", message, None)


def test_images_the_index_holds_under_another_code_are_answered(demo) -> None:
    """'chest X-ray' is CR or DX: a mart with either answers it."""
    parsed = parse("lung cancer patients with a chest x-ray", today=date(2025, 7, 1))
    assert parsed.spec is not None
    assert run_spec(parsed.spec, demo, parsed=parsed).status == "ok"
