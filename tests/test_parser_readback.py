"""Read-backs a clinician checks: every window, count, filter and code set in words, both languages."""

from __future__ import annotations

from datetime import date

import pytest

from cohort_engine.nlq.parser import parse
from cohort_engine.nlq.readback import readback

TODAY = date(2024, 6, 30)
EN_END = "A patient qualifies when any one of their index events meets every rule above."
KO_END = "환자의 기준 사건 중 하나라도 위 조건을 모두 만족하면 포함됩니다."

CASES = [
    (
        "patients whose surgery name contains 'bypass'",
        [
            "Index event: any procedure whose name or synonym contains “bypass”.",
        ],
    ),
    (
        "patients admitted with pneumonia who had a chest CT during the same visit",
        [
            "Index event: any visit (visit type inpatient 9201 or ER-and-inpatient 262).",
            "[diagnosis] at least 1 diagnosis of “pneumonia” (incl. sub-concepts) during the same visit as "
            "the index event.",
            "[imaging] at least 1 imaging study (modality CT, body part CHEST) during the same visit as "
            "the index event.",
        ],
    ),
    (
        "patients with MI excluding those with prior stroke",
        [
            "Index event: any diagnosis of “MI” (incl. sub-concepts).",
            "[no_diagnosis] no diagnoses of “stroke” (incl. sub-concepts) at any time up to 1 day before "
            "the index event.",
        ],
    ),
    (
        "patients with CAD who had a PCI and then died within 30 days after the PCI",
        [
            "Index event: any diagnosis of “CAD” (incl. sub-concepts).",
            "[procedure] at least 1 procedure of “PCI” (incl. sub-concepts) at any time relative to the "
            "index event.",
            "[death] at least 1 death (any cause) between the day of and 30 days after the [procedure] "
            "event (inclusive).",
        ],
    ),
    (
        "women over 65 diagnosed with osteoporosis",
        [
            "Index event: any diagnosis of “osteoporosis” (incl. sub-concepts).",
            "Demographics: female, aged 66 or older at the index date.",
        ],
    ),
    (
        "patients with at least 2 diagnoses of diabetes",
        [
            "Index event: any diagnosis of “diabetes” (incl. sub-concepts).",
            "[diagnosis_count] at least 2 diagnoses of “diabetes” (incl. sub-concepts) at any time "
            "relative to the index event.",
        ],
    ),
    (
        "patients with HbA1c above 7% in the last 3 months",
        [
            "Index event: any measurement of “HbA1c” (incl. sub-concepts) (value > 7 %), dated 2024-03-30 "
            "to 2024-06-30 "
            "(inclusive).",
        ],
    ),
    (
        "patients with a first diagnosis of type 2 diabetes in 2022",
        [
            "Index event: the first-ever diagnosis of “type 2 diabetes” (incl. sub-concepts), dated "
            "2022-01-01 to 2022-12-31 "
            "(inclusive).",
        ],
    ),
    (
        "폐렴으로 입원한 환자 중 같은 입원 기간에 흉부 CT를 촬영한 환자",
        [
            "기준 사건: 방문 (방문 유형 입원 9201 또는 응급실 경유 입원 262).",
            "[diagnosis] 기준 사건과 같은 방문 중 “폐렴” (하위 개념 포함) 진단 1회 이상.",
            "[imaging] 기준 사건과 같은 방문 중 영상 검사 (모달리티 CT, 부위 CHEST) 1회 이상.",
        ],
    ),
    (
        "65세 이상 여성 당뇨병 환자 중 인슐린을 처방받은 적이 없는 환자",
        [
            "기준 사건: “당뇨병” (하위 개념 포함) 진단.",
            "인구학적 조건: 여성, 기준일 나이 65세 이상.",
            "[no_drug] 기준 사건과 관계없이 언제든 “인슐린” (하위 개념 포함) 약물 처방 없음.",
        ],
    ),
    (
        "관상동맥우회술 후 30일 이내 사망한 환자",
        [
            "기준 사건: “관상동맥우회술” (하위 개념 포함) 시술/수술.",
            "[death] 기준 사건 당일부터 30일 후까지(양 끝 포함) 모든 사망 1회 이상.",
        ],
    ),
    (
        "처방명에 '스타틴'이 포함된 환자",
        [
            "기준 사건: 이름이나 동의어에 “스타틴” 포함 약물 처방.",
        ],
    ),
    (
        "심근경색으로 진단받고 같은 날 PCI를 받은 환자",
        [
            "기준 사건: “심근경색” (하위 개념 포함) 진단.",
            "[procedure] 기준 사건과 같은 날 “PCI” (하위 개념 포함) 시술/수술 1회 이상.",
        ],
    ),
]


@pytest.mark.parametrize("sentence,lines", CASES, ids=[c[0][:40] for c in CASES])
def test_readback(sentence: str, lines: list[str]) -> None:
    r = parse(sentence, today=TODAY)
    assert r.status == "ok", r.message
    end = EN_END if r.language == "en" else KO_END
    assert readback(r.spec) == "\n".join([*lines, end])


def test_readback_shows_resolved_codes() -> None:
    r = parse("patients diagnosed with MI in 2021", today=TODAY)
    text = readback(r.spec, concept_labels={"MI": ["Myocardial infarction (SNOMED 22298006)"]})
    assert "“MI” [Myocardial infarction (SNOMED 22298006)] (incl. sub-concepts)" in text


def test_readback_in_the_other_language() -> None:
    r = parse("patients diagnosed with MI in 2021", today=TODAY)
    assert readback(r.spec, "ko").startswith(
        "기준 사건: “MI” (하위 개념 포함) 진단, 기간 2021-01-01 ~ 2021-12-31"
    )


IMAGING_CASES = [
    (
        "patients with MI in 2023 who underwent CABG surgery within 14 days; give me their CT scans within "
        "30 days after "
        "the surgery",
        [
            "Index event: any diagnosis of “MI” (incl. sub-concepts), dated 2023-01-01 to 2023-12-31 "
            "(inclusive).",
            "[surgery] at least 1 procedure of “CABG” (incl. sub-concepts) between the day of and 14 days "
            "after the index "
            "event (inclusive).",
            EN_END,
            "Images to return: CT studies dated 0 to 30 days after “surgery” (inclusive).",
        ],
    ),
    (
        "patients with stroke in 2023 and their brain MRIs within 7 days of the diagnosis",
        [
            "Index event: any diagnosis of “stroke” (incl. sub-concepts), dated 2023-01-01 to 2023-12-31 "
            "(inclusive).",
            EN_END,
            "Images to return: MR studies (body part HEAD) dated 7 days before to 7 days after the index "
            "event (inclusive).",
        ],
    ),
    (
        "patients with MI in 2023 and their images",
        [
            "Index event: any diagnosis of “MI” (incl. sub-concepts), dated 2023-01-01 to 2023-12-31 "
            "(inclusive).",
            EN_END,
            "Images to return: all imaging studies, at any date.",
        ],
    ),
    (
        "2023년 심근경색 환자 중 14일 이내 관상동맥우회술을 받은 환자들의 수술 후 30일 이내 CT 영상을 모아줘",
        [
            "기준 사건: “심근경색” (하위 개념 포함) 진단, 기간 2023-01-01 ~ 2023-12-31 (양 끝 포함).",
            "[procedure] 기준 사건 당일부터 14일 후까지(양 끝 포함) “관상동맥우회술” (하위 개념 포함) "
            "시술/수술 1회 이상.",
            KO_END,
            "반환할 영상: “procedure” 후 0일부터 30일까지(양 끝 포함)의 CT 검사.",
        ],
    ),
    (
        "2023년 유방암 환자의 진단 전 1년 이내 유방촬영술 영상을 추출해줘",
        [
            "기준 사건: “유방암” (하위 개념 포함) 진단, 기간 2023-01-01 ~ 2023-12-31 (양 끝 포함).",
            KO_END,
            "반환할 영상: 기준 사건 전 365일부터 0일까지(양 끝 포함)의 MG 검사 (부위 BREAST).",
        ],
    ),
    (
        "2023년 심근경색 환자의 영상 전부",
        [
            "기준 사건: “심근경색” (하위 개념 포함) 진단, 기간 2023-01-01 ~ 2023-12-31 (양 끝 포함).",
            KO_END,
            "반환할 영상: 날짜 제한 없는 모든 영상 검사.",
        ],
    ),
]


@pytest.mark.parametrize("sentence,lines", IMAGING_CASES, ids=[c[0][:40] for c in IMAGING_CASES])
def test_readback_imaging_request(sentence: str, lines: list[str]) -> None:
    """The images to return come last, after the sentence on who qualifies: they are no rule."""
    r = parse(sentence, today=TODAY)
    assert r.status == "ok", r.message
    assert r.spec.imaging is not None
    assert readback(r.spec) == "\n".join(lines)


def test_readback_imaging_request_windows_in_words() -> None:
    from cohort_engine.spec import ImagingRequest, Window

    spec = parse("patients with MI in 2023", today=TODAY).spec
    cases = [
        (
            ImagingRequest(modalities=["CR", "DX"], body_parts=["CHEST"], window=Window(end=-1)),
            "Images to return: CR/DX studies (body part CHEST) dated up to 1 day before the index event.",
            "반환할 영상: 기준 사건 전 1일까지의 CR/DX 검사 (부위 CHEST).",
        ),
        (
            ImagingRequest(body_parts=["HEAD"], window=Window(start=0, end=0)),
            "Images to return: imaging studies (body part HEAD) dated on the day of the index event.",
            "반환할 영상: 기준 사건 당일의 영상 검사 (부위 HEAD).",
        ),
        (
            ImagingRequest(modalities=["XA"], window=Window(start=1)),
            "Images to return: XA studies dated from 1 day after the index event on.",
            "반환할 영상: 기준 사건 후 1일부터의 XA 검사.",
        ),
    ]
    for request, en, ko in cases:
        with_images = spec.model_copy(update={"imaging": request})
        assert readback(with_images, "en").splitlines()[-1] == en
        assert readback(with_images, "ko").splitlines()[-1] == ko
    assert "Images to return" not in readback(spec, "en") and "반환할 영상" not in readback(spec, "ko")
