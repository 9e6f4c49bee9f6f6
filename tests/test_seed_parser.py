"""The seed scenario, in both languages, parses to the same cohort rules; read-backs are exact."""

from __future__ import annotations

from datetime import date

import pytest

from cohort_engine.nlq.dates import find_dates
from cohort_engine.nlq.parser import parse
from cohort_engine.nlq.readback import readback
from cohort_engine.seed import SEED_EN, SEED_KO


def test_seed_sentences_parse_to_the_same_rules() -> None:
    en, ko = parse(SEED_EN), parse(SEED_KO)
    assert en.status == ko.status == "ok"
    assert en.language == "en" and ko.language == "ko"
    for r in (en, ko):
        assert r.spec.index.domain == "condition"
        assert r.spec.index.concepts.is_empty()
        assert (r.spec.index.date_range.start, r.spec.index.date_range.end) == (
            date(2023, 10, 1),
            date(2023, 10, 10),
        )
        [c] = r.spec.criteria
        assert c.domain == "procedure"
        assert (c.window.start, c.window.end, c.window.anchor) == (7, 14, "index")
        assert c.occurrence.type == "at_least" and c.occurrence.count == 1
    assert en.spec.criteria[0].concepts.terms == ["myocardial infarction", "coronary artery disease"]
    assert ko.spec.criteria[0].concepts.terms == ["심근경색", "관상 동맥 질환"]
    assert "concept level" in ko.notes[0]


def test_seed_readback_english() -> None:
    assert readback(parse(SEED_EN).spec) == (
        "Index event: any diagnosis, dated 2023-10-01 to 2023-10-10 (inclusive).\n"
        "[surgery] at least 1 procedure of “myocardial infarction” or “coronary artery disease” (incl. "
        "sub-concepts) "
        "between 7 days after and 14 days after the index event (inclusive).\n"
        "A patient qualifies when any one of their index events meets every rule above."
    )


def test_seed_readback_korean() -> None:
    assert readback(parse(SEED_KO).spec) == (
        "기준 사건: 모든 진단, 기간 2023-10-01 ~ 2023-10-10 (양 끝 포함).\n"
        "[surgery] 기준 사건 7일 후부터 14일 후까지(양 끝 포함) “심근경색” 또는 “관상 동맥 질환” (하위 "
        "개념 포함) 시술/수술 1회 이상.\n"
        "환자의 기준 사건 중 하나라도 위 조건을 모두 만족하면 포함됩니다."
    )


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2023-10-01", [date(2023, 10, 1)]),
        ("2023.10.01.", [date(2023, 10, 1)]),
        ("2023/1/5", [date(2023, 1, 5)]),
        ("Oct 1 2023", [date(2023, 10, 1)]),
        ("October 1, 2023", [date(2023, 10, 1)]),
        ("1 October 2023", [date(2023, 10, 1)]),
        ("2nd Feb 2021", [date(2021, 2, 2)]),
        ("2023년 10월 1일", [date(2023, 10, 1)]),
        ("2023년10월1일부터 2023년 10월 10일까지", [date(2023, 10, 1), date(2023, 10, 10)]),
        ("between 2023-02-30 and 2023-03-01", [date(2023, 3, 1)]),
    ],
)
def test_dates(text: str, expected: list[date]) -> None:
    assert [d for d, _ in find_dates(text)] == expected


@pytest.mark.parametrize(
    "sentence,range_",
    [
        ("patients diagnosed with MI in 2021", (date(2021, 1, 1), date(2021, 12, 31))),
        (
            "patients diagnosed with MI between Oct 1 2023 and Oct 10 2023",
            (date(2023, 10, 1), date(2023, 10, 10)),
        ),
        ("patients diagnosed with MI for ten days from 2023-10-01", (date(2023, 10, 1), date(2023, 10, 10))),
        ("2023년 10월 1일부터 열흘 동안 심근경색으로 진단받은 환자", (date(2023, 10, 1), date(2023, 10, 10))),
        ("2021년 심근경색으로 진단받은 환자", (date(2021, 1, 1), date(2021, 12, 31))),
    ],
)
def test_index_date_ranges(sentence: str, range_: tuple[date, date]) -> None:
    r = parse(sentence)
    assert r.status == "ok"
    assert (r.spec.index.date_range.start, r.spec.index.date_range.end) == range_


@pytest.mark.parametrize(
    "sentence,status,message_part",
    [
        ("delete all patients", "refused", "never changes or deletes data"),
        ("DROP TABLE person", "refused", "never changes or deletes data"),
        ("show their names and resident numbers", "refused", "Identifying details"),
        ("환자 이름과 주민번호를 보여줘", "refused", "식별 정보는 제공하지 않습니다"),
        ("what's the weather", "refused", "not a question about a patient cohort"),
        ("patients who had a surgery", "clarify", "could not find the index event"),
    ],
)
def test_refusals_and_clarifications(sentence: str, status: str, message_part: str) -> None:
    r = parse(sentence)
    assert r.status == status
    assert r.spec is None
    assert message_part in r.message
