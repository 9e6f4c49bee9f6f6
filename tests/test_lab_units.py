"""Lab thresholds reconciled with the unit and values the mart records (schema_catalog/units.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cohort_engine.pipeline import ask
from cohort_engine.schema_catalog.units import LabProfile, Reconciled, UnitQuestion, reconcile, unit_code
from cohort_engine.spec import ValueFilter

HB = LabProfile(unit="g/dL", low=6.0, high=18.0, loinc="718-7")
GLUCOSE = LabProfile(unit="mg/dL", low=55.0, high=400.0, loinc="2345-7")
CREATININE = LabProfile(unit="mg/dL", low=0.3, high=9.0, loinc="2160-0")
PLATELETS = LabProfile(unit="10*3/uL", low=20.0, high=600.0, loinc="777-3")
HBA1C = LabProfile(unit="%", low=4.5, high=14.0, loinc="4548-4")
CRP = LabProfile(unit="mg/L", low=0.5, high=250.0, loinc="1988-5")
TROPONIN = LabProfile(unit="ng/mL", low=0.01, high=80.0, loinc="10839-9")
ALT = LabProfile(unit="U/L", low=5.0, high=300.0, loinc="1742-6")

# (threshold as parsed, the test's profile) → the threshold compared, or None when it is asked back
CASES = [
    (ValueFilter(op="<", value=70, unit="g/L"), HB, ("<", 7.0, None, "g/dL")),
    (ValueFilter(op="<", value=7, unit="g/dL"), HB, ("<", 7, None, "g/dL")),
    (ValueFilter(op="<", value=7), HB, ("<", 7, None, None)),
    (ValueFilter(op="<", value=70), HB, None),
    (ValueFilter(op=">", value=11.1, unit="mmol/L"), GLUCOSE, (">", 200.0, None, "mg/dL")),
    (ValueFilter(op=">", value=7), GLUCOSE, None),
    (ValueFilter(op=">", value=177, unit="umol/L"), CREATININE, (">", 2.002, None, "mg/dL")),
    (ValueFilter(op=">", value=150), CREATININE, None),
    (ValueFilter(op="<", value=50000), PLATELETS, ("<", 50.0, None, "10*3/uL")),
    (ValueFilter(op="<", value=50000, unit="/uL"), PLATELETS, ("<", 50.0, None, "10*3/uL")),
    (ValueFilter(op="<", value=100, unit="10^9/L"), PLATELETS, ("<", 100.0, None, "10*3/uL")),
    (ValueFilter(op="<", value=100), PLATELETS, ("<", 100, None, None)),
    (ValueFilter(op=">", value=53, unit="mmol/mol"), HBA1C, (">", 7.0, None, "%")),
    (ValueFilter(op=">", value=53), HBA1C, None),
    (ValueFilter(op="between", value=7, value_high=9, unit="%"), HBA1C, ("between", 7, 9, "%")),
    (ValueFilter(op=">", value=10, unit="mg/dL"), CRP, (">", 100.0, None, "mg/L")),
    (ValueFilter(op=">", value=0.04), TROPONIN, (">", 0.04, None, None)),
    (ValueFilter(op=">", value=3, unit="mmol/L"), ALT, None),  # no fixed factor between these units
]


@pytest.mark.parametrize(("threshold", "profile", "expected"), CASES)
def test_reconcile(threshold: ValueFilter, profile: LabProfile, expected: tuple | None) -> None:
    got = reconcile(threshold, "test", profile)
    if expected is None:
        assert isinstance(got, UnitQuestion)
        return
    assert isinstance(got, Reconciled)
    v = got.value
    assert (v.op, v.value, v.value_high, v.unit) == expected
    assert (got.note is None) == (v == threshold)


def test_question_names_the_mart_unit_and_range() -> None:
    got = reconcile(ValueFilter(op="<", value=70), "Hb", HB)
    assert isinstance(got, UnitQuestion)
    assert got.message == (
        "This mart records “Hb” in g/dL, mostly between 6–18; 70 is far outside that. "
        "Which unit did you mean? Please give the threshold with its unit."
    )
    ko = reconcile(ValueFilter(op="<", value=70), "혈색소", HB, "ko")
    assert isinstance(ko, UnitQuestion) and "g/dL" in ko.message and "6–18" in ko.message


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("mg/dl", "mg/dL"),
        ("x10^9/L", "10*9/L"),
        ("K/uL", "10*3/uL"),
        ("µmol/L", "umol/L"),
        ("furlongs", None),
    ],
)
def test_unit_code(written: str, code: str | None) -> None:
    assert unit_code(written) == code


TODAY = date(2026, 12, 6)


@pytest.fixture(scope="module")
def mart(demo_mart_path: Path) -> Path:
    return demo_mart_path


@pytest.mark.parametrize(
    ("question", "same_as"),
    [
        ("patients with hemoglobin below 70 g/L", "patients with hemoglobin below 7 g/dL"),
        ("patients with platelets under 50,000", "patients with platelets under 50"),
        ("patients with platelet count < 50k", "patients with platelets under 50"),
        ("patients with glucose over 11.1 mmol/L", "patients with glucose over 200 mg/dL"),
        ("혈색소 70 g/L 미만 환자", "patients with hemoglobin below 7 g/dL"),
    ],
)
def test_converted_threshold_selects_the_same_patients(mart: Path, question: str, same_as: str) -> None:
    got, want = ask(question, mart, today=TODAY), ask(same_as, mart, today=TODAY)
    assert got.status == want.status == "ok"
    assert got.count == want.count and got.count
    assert any("the unit this mart records" in n or "단위" in n or "read as" in n for n in got.notes)


@pytest.mark.parametrize(
    "question", ["patients with Hb < 70", "patients with creatinine above 150", "크레아티닌 150 이상인 환자"]
)
def test_threshold_outside_the_mart_range_is_asked_back(mart: Path, question: str) -> None:
    got = ask(question, mart, today=TODAY)
    assert got.status == "clarify"
    assert got.count is None
    assert got.clarifications
    assert "g/dL" in got.clarifications[0].question  # the unit the mart records (g/dL or mg/dL)


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        (
            "GI bleed patients with a hemoglobin under 10 within a day of the bleed",
            "This mart records “hemoglobin” (137 measurements) but never its numeric result, so no "
            "patient can be chosen by a threshold on it. Ask for patients who had the test, without the "
            "value?",
        ),
        (
            "위장관 출혈 환자 중 하루 이내 혈색소 10 미만",
            "이 데이터마트에는 “혈색소” 검사 기록(137건)은 있지만 수치 결과가 하나도 없어서 "
            "기준값으로 환자를 고를 수 없습니다. 기준값 없이 검사를 받은 환자로 찾을까요?",
        ),
    ],
)
def test_threshold_on_a_test_recorded_without_values_is_asked_back(
    eunomia_path: Path, question: str, asked: str
) -> None:
    """Eunomia records hemoglobin tests but types value_as_number as text, every value empty: a threshold
    there would return nobody as if it were an answer (it raised a binder error before)."""
    got = ask(question, eunomia_path, today=TODAY)
    assert got.status == "clarify", got.message
    assert got.count is None
    assert [c.question for c in got.clarifications] == [asked]
