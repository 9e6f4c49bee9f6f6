"""Dictated questions as a typist would write them (nlq/spoken.py): one row per reading, the sentence as
dictation writes it → the sentence the grammars read, and the corrections the read-back quotes."""

from __future__ import annotations

import pytest

from cohort_engine.nlq.parser import parse
from cohort_engine.nlq.spoken import read_spoken

ENGLISH: list[tuple[str, str, list[str]]] = [
    # fillers, compounds and a number word after a comparison
    (
        "so like women sixty five or older with afib",
        "women 65 or older with afib",
        [],
    ),
    (
        "um give me everybody with two or more ER visits in twenty twenty four.",
        "give me everybody with two or more ER visits in 2024.",
        [],
    ),
    ("patients over eighty who died within thirty days", "patients over 80 who died within thirty days", []),
    ("kids under twelve with otitis media", "kids under 12 with otitis media", []),
    ("a CRP over a hundred", "a CRP over 100", []),
    ("one hundred and fifty mg", "150 mg", []),
    # years, decimals, hundreds said as a digit, a month's ordinal day
    ("between twenty twenty and twenty twenty one", "between 2020 and 2021", []),
    ("first ever peptic ulcer in nineteen ninety nine", "first ever peptic ulcer in 1999", []),
    ("creatinine over two um two point oh at least twice", "creatinine over 2.0 at least twice", []),
    (
        "from march first twenty twenty two to june thirtieth twenty twenty two",
        "from march 1 2022 to june 30 2022",
        [],
    ),
    ("a CA nineteen nine over a hundred", "a CA 19-9 over 100", []),
    # a duration said again in days, letters said one by one
    (
        "had a P C I and then died within a year after it so three sixty five days",
        "had a PCI and then died within a year after it",
        [],
    ),
    (
        "died within two years after the diagnosis like seven thirty days",
        "died within two years after the diagnosis",
        [],
    ),
    # self-corrections: from the repeated word, a word of the same kind, or the word before
    ("kids under twelve no wait under ten", "kids under 10", ["under ten"]),
    ("an echo before the diagnosis no wait after", "an echo after the diagnosis", ["after"]),
    ("LDL one ninety sorry one sixty or higher", "LDL 160 or higher", ["one sixty or higher"]),
    ("cabbage I mean CABG patients", "CABG patients", ["CABG patients"]),
    # left alone: words the grammar reads, and 'and' between two numbers
    ("three or more admissions within thirty days", "three or more admissions within thirty days", []),
    ("between twenty and thirty days after", "between twenty and thirty days after", []),
    ("patients who like exercise", "patients who like exercise", []),
    (
        "a systolic blood pressure of 170 mm Hg or higher",
        "a systolic blood pressure of 170 mm Hg or higher",
        [],
    ),
    (
        "right knee OA (M17.11) s/p total knee replacement",
        "right knee OA (M17.11) s/p total knee replacement",
        [],
    ),
    (
        "Who was readmitted within 30 days? I mean patients with an inpatient admission in 2022",
        "Who was readmitted within 30 days? I mean patients with an inpatient admission in 2022",
        [],
    ),
    ("more than one ER visit", "more than one ER visit", []),
]

KOREAN: list[tuple[str, str, list[str]]] = [
    (
        "당뇨병 환자중에 음 당화혈색소 칠 점 오 이상 나온 사람",
        "당뇨병 환자중에 당화혈색소 7.5 이상 나온 사람",
        [],
    ),
    ("트로포닌 일 점 영 이상", "트로포닌 1.0 이상", []),
    ("수축기 혈압 백팔십 이상 찍힌 사람", "수축기 혈압 180 이상 찍힌 사람", []),
    ("피에스에이 삼 이상", "PSA 3 이상", []),
    # letter names that spell a known abbreviation, and only those
    ("피씨아이나 관상동맥 우회술", "PCI나 관상동맥 우회술", []),
    ("머리 씨티 찍은 환자", "머리 CT 찍은 환자", []),
    ("이비인후과 진료", "이비인후과 진료", []),
    ("2023년 삼월에 입원한 사람", "2023년 3월에 입원한 사람", []),
    ("사십대 여성 유방암 환자", "40대 여성 유방암 환자", []),
    ("이천이십사년에 응급실 온 열여덟 살 미만 소아", "2024년에 응급실 온 18살 미만 소아", []),
    (
        "조직검사 하고 이주 안에 위암 진단 받고 그 후 석달 안에",
        "조직검사 하고 2주 안에 위암 진단 받고 그 후 석달 안에",
        [],
    ),
    ("응급실 다녀가고 하루에서 칠일 사이에", "응급실 다녀가고 1일에서 7일 사이에", []),
    (
        "다음날 티피에이 아 알테플라제 투여 받은 환자",
        "다음날 알테플라제 투여 받은 환자",
        ["알테플라제 투여 받은 환자"],
    ),
    ("아이엔알 삼 점 오 아니 그냥 삼 이상 나온 환자", "INR 3 이상 나온 환자", ["3 이상 나온 환자"]),
    ("진단 후 삼십일 안에 와파린 아 아니다 육십일로 해줘", "진단 후 60일 안에 와파린", ["60일로 해줘"]),
    ("진단 후 삼십일 안에 아 아니다 육십일 안에 와파린", "진단 후 60일 안에 와파린", ["60일 안에 와파린"]),
]


ROWS = [(lang, *row) for lang, rows in (("en", ENGLISH), ("ko", KOREAN)) for row in rows]


@pytest.mark.parametrize(("lang", "said", "typed", "kept"), ROWS, ids=[f"{r[0]}-{r[1][:36]}" for r in ROWS])
def test_dictation(lang: str, said: str, typed: str, kept: list[str]) -> None:
    assert read_spoken(said, lang) == (typed, kept)


def test_a_correction_is_noted_in_the_read_back() -> None:
    result = parse("asthma patients under twelve no wait under ten")
    assert result.status == "ok", result.message
    assert result.spec is not None and result.spec.demographics.age_max == 9
    assert "The question corrects itself; the correction was read: “under ten”." in result.notes
