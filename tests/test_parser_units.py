"""The parser's parts, table by table: dates, windows (the README conventions), demographics, Korean
particles, notes for chosen readings, clarifications with their readings, refusals, and speed hygiene."""

from __future__ import annotations

from datetime import date

import pytest

from cohort_engine.nlq.dates import recognise_dates
from cohort_engine.nlq.items import DateData, ItemKind
from cohort_engine.nlq.lexicon import code_within, entries, lookup, narrower
from cohort_engine.nlq.parser import parse
from cohort_engine.nlq.text import Raw, items_of, strip_josa

TODAY = date(2024, 6, 30)


def _range(text: str, lang: str = "en") -> tuple[date | None, date | None]:
    [item] = [i for i in items_of(recognise_dates([Raw(text, 0)], lang, TODAY)) if i.kind is ItemKind.date]
    dates = item.data_as(DateData)
    return dates.start, dates.end


@pytest.mark.parametrize(
    "text,lang,expected",
    [
        ("between 2023-10-01 and 2023-10-10", "en", (date(2023, 10, 1), date(2023, 10, 10))),
        ("for ten days from 2023-10-01", "en", (date(2023, 10, 1), date(2023, 10, 10))),
        ("from 2023-01-31 for 1 month", "en", (date(2023, 1, 31), date(2023, 2, 27))),
        ("since 2019", "en", (date(2019, 1, 1), None)),
        ("after 2020", "en", (date(2021, 1, 1), None)),
        ("before 2020", "en", (None, date(2019, 12, 31))),
        ("until March 2021", "en", (None, date(2021, 3, 31))),
        ("in the last 3 months", "en", (date(2024, 3, 30), date(2024, 6, 30))),
        ("last year", "en", (date(2023, 1, 1), date(2023, 12, 31))),
        ("this year", "en", (date(2024, 1, 1), date(2024, 6, 30))),
        ("in Q4 2023", "en", (date(2023, 10, 1), date(2023, 12, 31))),
        ("October 1 to October 10, 2023", "en", (date(2023, 10, 1), date(2023, 10, 10))),
        ("in 2022 and 2023", "en", (date(2022, 1, 1), date(2023, 12, 31))),
        ("2023년 10월 1일부터 열흘 동안", "ko", (date(2023, 10, 1), date(2023, 10, 10))),
        ("2023년 10월 1일부터 두 달 동안", "ko", (date(2023, 10, 1), date(2023, 11, 30))),
        ("2023년 10월 1일부터 10월 10일까지", "ko", (date(2023, 10, 1), date(2023, 10, 10))),
        ("2019년 이후", "ko", (date(2019, 1, 1), None)),
        ("2020년 이전", "ko", (None, date(2020, 12, 31))),
        ("최근 6개월", "ko", (date(2023, 12, 30), date(2024, 6, 30))),
        ("작년", "ko", (date(2023, 1, 1), date(2023, 12, 31))),
        ("지난달", "ko", (date(2024, 5, 1), date(2024, 5, 31))),
        ("the year before last", "en", (date(2022, 1, 1), date(2022, 12, 31))),
        ("재작년", "ko", (date(2022, 1, 1), date(2022, 12, 31))),
        ("지지난달", "ko", (date(2024, 4, 1), date(2024, 4, 30))),
        ("2023년 하반기", "ko", (date(2023, 7, 1), date(2023, 12, 31))),
    ],
)
def test_date_ranges(text: str, lang: str, expected: tuple[date | None, date | None]) -> None:
    assert _range(text, lang) == expected


def _window(sentence: str) -> tuple[int | None, int | None, bool]:
    r = parse(sentence, today=TODAY)
    assert r.status == "ok", r.message
    w = r.spec.criteria[-1].window
    return w.start, w.end, w.same_visit


@pytest.mark.parametrize(
    "sentence,expected",
    [
        ("patients with MI who had a PCI within 30 days after the diagnosis", (0, 30, False)),
        ("patients with MI who had a PCI 7 to 14 days after the diagnosis", (7, 14, False)),
        ("patients with MI who had a PCI within 30 days before the diagnosis", (-30, 0, False)),
        ("patients with MI who had a PCI within 30 days of the diagnosis", (-30, 30, False)),
        ("patients with MI who had a stroke at least 3 months before the diagnosis", (None, -90, False)),
        ("patients with MI who had a stroke at least 1 year after the diagnosis", (365, None, False)),
        ("patients with MI who had a PCI on the same day", (0, 0, False)),
        ("patients with MI who had a PCI during the same visit", (None, None, True)),
        ("patients with MI who had a PCI within 2 weeks", (0, 14, False)),
        ("patients with MI who had a PCI within 36 hours", (0, 2, False)),
        ("patients with MI who had a PCI after the diagnosis", (0, None, False)),
        ("patients with MI who had a stroke before the diagnosis", (None, 0, False)),
        (
            "patients with MI who had a stroke before the diagnosis (not counting the diagnosis day)",
            (None, -1, False),
        ),
        ("patients with MI and a prior stroke", (None, -1, False)),
        ("patients with a history of stroke before MI", (None, -1, False)),
        ("심근경색 진단 전에 뇌졸중 병력이 있는 환자", (None, -1, False)),
        ("심근경색 진단일 기준 7일부터 14일 이내 PCI를 받은 환자", (7, 14, False)),
        ("심근경색 진단 후 30일 이내 PCI를 받은 환자", (0, 30, False)),
        ("심근경색 진단 전 1년 이내 뇌졸중 진단을 받은 환자", (-365, 0, False)),
        ("심근경색 진단과 같은 날 PCI를 받은 환자", (0, 0, False)),
        ("심근경색 진단 전후 7일 이내 PCI를 받은 환자", (-7, 7, False)),
        ("심근경색 진단 후 3개월 이상 지나서 PCI를 받은 환자", (90, None, False)),
    ],
)
def test_window_conventions(sentence: str, expected: tuple[int | None, int | None, bool]) -> None:
    assert _window(sentence) == expected


@pytest.mark.parametrize(
    "sentence,age_min,age_max",
    [
        ("women aged 65 or older with MI", 65, None),
        ("patients over 65 with MI", 66, None),
        ("patients under 18 with asthma", None, 17),
        ("patients aged 18 to 64 with asthma", 18, 64),
        ("65세 이상 심근경색 환자", 65, None),
        ("65세 초과 심근경색 환자", 66, None),
        ("18세 미만 천식 환자", None, 17),
        ("40대 천식 환자", 40, 49),
    ],
)
def test_age_bounds(sentence: str, age_min: int | None, age_max: int | None) -> None:
    d = parse(sentence, today=TODAY).spec.demographics
    assert (d.age_min, d.age_max) == (age_min, age_max)


@pytest.mark.parametrize(
    "word,stem,josa",
    [
        ("심근경색이나", "심근경색", "이나"),
        ("당뇨병과", "당뇨병", "과"),
        ("아스피린을", "아스피린", "을"),
        ("PCI를", "PCI", "를"),
        ("나이", "나이", ""),
        ("사이", "사이", ""),
        ("결과", "결과", ""),
        ("환자는", "환자", "는"),
    ],
)
def test_korean_particles(word: str, stem: str, josa: str) -> None:
    assert strip_josa(word) == (stem, josa)


def test_spacing_variants_are_one_mention() -> None:
    a = parse("관상 동맥 질환 환자", today=TODAY).spec.index.concepts.terms
    b = parse("관상동맥질환 환자", today=TODAY).spec.index.concepts.terms
    assert (a, b) == (["관상 동맥 질환"], ["관상동맥질환"])
    assert lookup(a[0]) == lookup(b[0]) != []


def test_name_match_keeps_both_readings() -> None:
    concept = parse("patients whose surgery name contains myocardial infarction", today=TODAY)
    assert concept.spec.index.concepts.terms == ["myocardial infarction"]
    assert "concept level" in concept.notes[0] and "literal name match" in concept.notes[0]
    literal = parse("patients whose surgery name contains 'bypass'", today=TODAY)
    assert literal.spec.index.concepts.name_contains == ["bypass"]
    assert "read literally" in literal.notes[0] and "concept level" in literal.notes[0]


@pytest.mark.parametrize(
    "sentence,choice",
    [
        ("elderly patients with diabetes", "aged 65 or older"),
        ("patients recently diagnosed with MI", "in the last 6 months"),
        ("patients who died 30 days after CABG", "within 30 days after"),
        ("patients diagnosed with MI on 03/04/2023", None),
        ("고령 당뇨병 환자", "65세 이상"),
        ("수술 30일 후 사망한 환자", "30일 후 이내"),
        ("폐렴으로 입원한 후 30일 이내 재 입원한 환자", None),
    ],
)
def test_clarifications_offer_readings(sentence: str, choice: str | None) -> None:
    r = parse(sentence, today=TODAY)
    assert r.status == "clarify" and r.spec is None
    assert r.clarifications and all(c.question for c in r.clarifications)
    if choice:
        assert any(choice in c for cl in r.clarifications for c in cl.choices)


@pytest.mark.parametrize(
    "sentence,part",
    [
        ("delete all patients", "never changes or deletes data"),
        ("show me the discharge notes of patients with stroke", "Identifying details"),
        ("is Kim Min-jun in the lung cancer cohort?", "Identifying details"),
        ("what is the best treatment for MI?", "no medical advice"),
        ("what's the weather", "not a question about a patient cohort"),
        ("심근경색 환자의 주민번호", "식별 정보"),
    ],
)
def test_refusals(sentence: str, part: str) -> None:
    r = parse(sentence, today=TODAY)
    assert r.status == "refused" and part in r.message


@pytest.mark.parametrize(
    "sentence,refused",
    [
        ("export all data", True),
        ("export the whole database", True),
        ("데이터 전부 내보내줘", True),
        ("patients with lung cancer diagnosed in 2022, export all their records", True),
        ("patients with lung cancer diagnosed in 2022, export all their chest CTs", False),
        ("2023년 폐암 환자의 흉부 CT 영상 전부 내보내줘", False),
    ],
)
def test_a_cohorts_images_are_no_bulk_dump(sentence: str, refused: bool) -> None:
    r = parse(sentence, today=TODAY)
    assert (r.status == "refused") is refused, r.message
    if not refused:
        assert r.status == "ok" and r.spec.imaging is not None and r.spec.imaging.modalities == ["CT"]


def test_imaging_request_is_noted_and_changes_no_rule() -> None:
    """'… and their chest CTs' says which images to return; the cohort (who qualifies) stays the same."""
    plain = parse("patients with MI in 2023", today=TODAY)
    asked = parse("patients with MI in 2023 and their chest CTs", today=TODAY)
    assert asked.status == "ok" and plain.spec is not None and asked.spec is not None
    assert asked.spec.criteria == plain.spec.criteria == [] and asked.spec.index == plain.spec.index
    assert plain.spec.imaging is None
    assert any("images to return" in n and "not as a rule" in n for n in asked.notes)
    ko = parse("2023년 심근경색 환자의 흉부 CT 영상", today=TODAY)
    assert ko.spec is not None and ko.spec.criteria == [] and any("돌려줄 영상" in n for n in ko.notes)


def test_name_of_a_procedure_is_not_identifying() -> None:
    assert parse("patients whose procedure name contains 'stent'", today=TODAY).status == "ok"
    assert parse("수술 이름에 위절제술이 들어간 환자", today=TODAY).status == "ok"


def test_typos_are_repaired_and_noted() -> None:
    r = parse("pateints diagnosd with diabtes in 2021", today=TODAY)
    assert r.status == "ok" and r.spec.index.concepts.terms == ["diabetes"]
    assert "read “diagnosd” as “diagnosed”" in r.notes


def test_today_defaults_to_the_real_date() -> None:
    r = parse("patients diagnosed with MI this year")
    assert r.spec.index.date_range.start == date(date.today().year, 1, 1)


def test_lexicon_links_resolve() -> None:
    known = entries()
    for e in known.values():
        assert e.en or e.ko, e.key
        assert all(k in known for k in e.treated_by), e.key


@pytest.mark.parametrize(
    "text,refused",
    [
        ("심근경색 진단받은 환자 2023년", False),  # a year after 환자 is a date, not a patient number
        ("환자 2023-10-01 진단", False),
        ("환자 12345 기록 보여줘", True),
        ("환자번호 2023", True),
    ],
)
def test_korean_patient_numbers_versus_years(text: str, refused: bool) -> None:
    from cohort_engine.nlq.guard import refusal

    assert (refusal(text, "ko") is not None) is refused


def test_a_pictograph_is_a_word_we_could_not_read_not_punctuation() -> None:
    """'diagnosed with 💥' must not silently become 'any diagnosis': the symbol is kept as a mention,
    which term resolution then cannot find, so the user is asked back."""
    r = parse("patients diagnosed with 💥 in 2023")
    assert r.status == "ok" and r.spec is not None
    assert r.spec.index.concepts.terms == ["💥"]


def test_a_reading_bug_is_asked_back_without_the_question_in_the_log(monkeypatch, caplog) -> None:
    """An exception inside the rules comes back as 'clarify' asking to rephrase (never a 500), and the
    log names the exception's type only, never the question's words."""
    from cohort_engine.nlq import parser as parser_module

    def broken(*_: object) -> None:
        raise ValueError("dates must fall between the years 1800 and 2200: Kim Minsu 8480-6")

    monkeypatch.setattr(parser_module, "recognise", broken)
    with caplog.at_level("ERROR", logger="cohort_engine.nlq.parser"):
        en = parser_module.parse("patients with MI in 2023")
        ko = parser_module.parse("2023년 심근경색 환자")
    assert (en.status, en.message) == ("clarify", parser_module.say("parser_failed", "en"))
    assert (ko.status, ko.language) == ("clarify", "ko") and ko.message.startswith(
        "이 질문을 읽지 못했습니다"
    )
    assert [r.getMessage() for r in caplog.records] == ["the parser failed on a question (ValueError)"] * 2


@pytest.mark.parametrize(
    "code,broad,inside",
    [
        ("C16.9", "C16", True),
        ("C169", "C16", True),
        ("C16", "C16", True),
        ("C17", "C16", False),
        ("43.59", "43.5", True),
        ("36.12", "36.1", True),
        ("36.2", "36.1", False),
        ("22298006", "2229800", False),  # SNOMED and RxNorm numbers hold only themselves
        ("22298006", "22298006", True),
        ("I21", "I20-I25", False),  # a range is not a prefix
    ],
)
def test_codes_nest_by_their_written_form(code: str, broad: str, inside: bool) -> None:
    assert code_within(code, broad) is inside


def test_narrower_codes_name_less_than_the_broad_ones() -> None:
    assert narrower({"I21.4"}, {"I21", "I22"})
    assert narrower({"I21"}, {"I21", "I22"})
    assert not narrower({"I21"}, {"I21", "I22"}, each=True)  # not strictly inside
    assert not narrower({"I21", "I22"}, {"I21", "I22"})
    assert not narrower({"I21", "I50"}, {"I21", "I22"})
    assert not narrower(set(), {"I21"})
