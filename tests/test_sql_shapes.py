"""The compiler's SQL shapes give exactly what hand-written SQL gives, on the demo mart.

Each case is a spec and the SQL a data engineer would write for it, returning each qualifying person
with their earliest qualifying index date and, per criterion with matched events, the first matched
event around that index date. The shapes under test (see ``sql_guard.compiler``): a criterion anchored
on another's events (the ``k<n>_keys`` path), an absence at the end of such a chain, a rule implied by
a narrower one on the same events (left out of the cohort's WHERE), first-ever index events with and
without a same-visit window (the latter's first event looked up from the events, not the keys: see
``compiler.first_lookup``), windows starting on the anchor's day (``d + 0`` is ``d``), counts (pairs
keyed by row numbers), exclusions without a window. Concept ids are looked up in the mart by code, so
the hand SQL and the spec name the same concepts.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cohort_engine.pipeline import listed_concepts
from cohort_engine.spec import (
    CohortSpec,
    ConceptSet,
    Criterion,
    DateRange,
    Demographics,
    Domain,
    IndexEvent,
    Occurrence,
    ValueFilter,
    Window,
)
from cohort_engine.sql_guard.compiler import INLINE_CONCEPTS_MAX, compile_cohort
from cohort_engine.sql_guard.guard import validate

Codes = Callable[[str, str], list[int]]


def _set(ids: list[int]) -> str:
    """A concept set with its descendants, written the way the hand SQL below reads it."""
    listed = ", ".join(map(str, ids))
    return (
        f"(SELECT descendant_concept_id FROM concept_ancestor WHERE ancestor_concept_id IN ({listed}) "
        f"UNION SELECT concept_id FROM concept WHERE concept_id IN ({listed}))"
    )


def cond(ids: list[int]) -> str:
    return (
        "SELECT person_id, condition_start_date AS d, visit_occurrence_id AS v, "
        "condition_occurrence_id AS id FROM condition_occurrence "
        f"WHERE condition_concept_id IN {_set(ids)}"
    )


def proc(ids: list[int]) -> str:
    return (
        "SELECT person_id, procedure_date AS d, visit_occurrence_id AS v FROM procedure_occurrence "
        f"WHERE procedure_concept_id IN {_set(ids)}"
    )


def meas(ids: list[int]) -> str:
    return (
        "SELECT person_id, measurement_date AS d, measurement_id AS id FROM measurement "
        f"WHERE measurement_concept_id IN {_set(ids)}"
    )


def _c(label: str, domain: str, ids: list[int], window: Window, **kw: Any) -> Criterion:
    return Criterion(
        label=label, domain=Domain(domain), concepts=ConceptSet(concept_ids=ids), window=window, **kw
    )


def _index(ids: list[int], **kw: Any) -> IndexEvent:
    return IndexEvent(domain=Domain("condition"), concepts=ConceptSet(concept_ids=ids), **kw)


NONE = Occurrence(type="exactly", count=0)


def case_chain(code: Codes) -> tuple[CohortSpec, str]:
    """MI, an angiography within 3 days, then a PCI within 1 day of that angiography."""
    mi, angio, pci = code("ICD10CM", "I21"), code("ICD9Proc", "88.5%"), code("ICD9Proc", "00.66")
    spec = CohortSpec(
        index=_index(mi),
        criteria=[
            _c("angio", "procedure", angio, Window(start=0, end=3)),
            _c("pci", "procedure", pci, Window(start=0, end=1, anchor="angio")),
        ],
    )
    hand = f"""
        WITH mi AS ({cond(mi)}), angio AS ({proc(angio)}), pci AS ({proc(pci)}),
        firsts AS (
            SELECT m.person_id, MIN(m.d) AS d FROM mi AS m
            WHERE EXISTS (SELECT 1 FROM angio AS a WHERE a.person_id = m.person_id
                          AND a.d BETWEEN m.d AND m.d + 3
                          AND EXISTS (SELECT 1 FROM pci AS p WHERE p.person_id = a.person_id
                                      AND p.d BETWEEN a.d AND a.d + 1))
            GROUP BY m.person_id)
        SELECT f.person_id, f.d,
            (SELECT MIN(a.d) FROM angio AS a WHERE a.person_id = f.person_id AND a.d BETWEEN f.d AND f.d + 3),
            (SELECT MIN(p.d) FROM angio AS a JOIN pci AS p ON p.person_id = a.person_id
               AND p.d BETWEEN a.d AND a.d + 1
             WHERE a.person_id = f.person_id AND a.d BETWEEN f.d AND f.d + 3)
        FROM firsts AS f ORDER BY 1"""
    return spec, hand


def case_chain_ends_in_absence(code: Codes) -> tuple[CohortSpec, str]:
    """MI and an angiography within 3 days that was not followed by a PCI within 1 day."""
    mi, angio, pci = code("ICD10CM", "I21"), code("ICD9Proc", "88.5%"), code("ICD9Proc", "00.66")
    spec = CohortSpec(
        index=_index(mi),
        criteria=[
            _c("angio", "procedure", angio, Window(start=0, end=3)),
            _c("no pci", "procedure", pci, Window(start=0, end=1, anchor="angio"), occurrence=NONE),
        ],
    )
    hand = f"""
        WITH mi AS ({cond(mi)}), angio AS ({proc(angio)}), pci AS ({proc(pci)}),
        firsts AS (
            SELECT m.person_id, MIN(m.d) AS d FROM mi AS m
            WHERE EXISTS (SELECT 1 FROM angio AS a WHERE a.person_id = m.person_id
                          AND a.d BETWEEN m.d AND m.d + 3
                          AND NOT EXISTS (SELECT 1 FROM pci AS p WHERE p.person_id = a.person_id
                                          AND p.d BETWEEN a.d AND a.d + 1))
            GROUP BY m.person_id)
        SELECT f.person_id, f.d,
            (SELECT MIN(a.d) FROM angio AS a WHERE a.person_id = f.person_id AND a.d BETWEEN f.d AND f.d + 3)
        FROM firsts AS f ORDER BY 1"""
    return spec, hand


def case_nested_windows_on_the_same_events(code: Codes) -> tuple[CohortSpec, str]:
    """Heart failure with a PCI at any time and a PCI within 7 days: the first is implied."""
    hf, pci = code("ICD10CM", "I50"), code("ICD9Proc", "00.66")
    spec = CohortSpec(
        index=_index(hf),
        criteria=[
            _c("pci ever", "procedure", pci, Window()),
            _c("pci 7d", "procedure", pci, Window(start=0, end=7)),
        ],
    )
    hand = f"""
        WITH hf AS ({cond(hf)}), pci AS ({proc(pci)}),
        firsts AS (
            SELECT h.person_id, MIN(h.d) AS d FROM hf AS h
            WHERE EXISTS (SELECT 1 FROM pci AS p WHERE p.person_id = h.person_id
                          AND p.d BETWEEN h.d AND h.d + 7)
            GROUP BY h.person_id)
        SELECT f.person_id, f.d,
            (SELECT MIN(p.d) FROM pci AS p WHERE p.person_id = f.person_id),
            (SELECT MIN(p.d) FROM pci AS p WHERE p.person_id = f.person_id AND p.d BETWEEN f.d AND f.d + 7)
        FROM firsts AS f ORDER BY 1"""
    return spec, hand


def case_first_ever_with_demographics(code: Codes) -> tuple[CohortSpec, str]:
    """Women aged 75 or more at their first-ever stroke."""
    stroke = code("ICD10CM", "I63")
    spec = CohortSpec(
        index=_index(stroke, first_occurrence=True),
        demographics=Demographics(sexes=["female"], age_min=75),
    )
    hand = f"""
        WITH firsts AS (SELECT person_id, MIN(d) AS d FROM ({cond(stroke)}) GROUP BY person_id)
        SELECT f.person_id, f.d FROM firsts AS f JOIN person AS p ON p.person_id = f.person_id
        WHERE p.gender_concept_id = 8532 AND year(f.d) - p.year_of_birth >= 75 ORDER BY 1"""
    return spec, hand


def case_first_ever_with_a_same_visit_window(code: Codes) -> tuple[CohortSpec, str]:
    """First-ever MI with a PCI in the visit of that first MI (the first event's visit is needed)."""
    mi, pci = code("ICD10CM", "I21"), code("ICD9Proc", "00.66")
    spec = CohortSpec(
        index=_index(mi, first_occurrence=True),
        criteria=[_c("pci", "procedure", pci, Window(same_visit=True))],
    )
    hand = f"""
        WITH mi AS ({cond(mi)}),
        first_ev AS (SELECT person_id, d, v FROM mi
                     QUALIFY ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY d, id) = 1)
        SELECT f.person_id, f.d,
            (SELECT MIN(p.d) FROM ({proc(pci)}) AS p WHERE p.person_id = f.person_id AND p.v = f.v)
        FROM first_ev AS f
        WHERE EXISTS (SELECT 1 FROM ({proc(pci)}) AS p WHERE p.person_id = f.person_id AND p.v = f.v)
        ORDER BY 1"""
    return spec, hand


def case_diagnosis_during_the_stay(code: Codes) -> tuple[CohortSpec, str]:
    """Admissions with an MI dated during the stay, first day to last, whatever visit the diagnosis was
    filed under (README: 'admitted for X' = an X diagnosis during that stay)."""
    mi = code("ICD10CM", "I21")
    spec = CohortSpec(
        index=IndexEvent(domain=Domain("visit"), visit_concept_ids=[9201, 262]),
        criteria=[_c("mi", "condition", mi, Window(same_visit=True))],
    )
    hand = f"""
        WITH stays AS (
            SELECT person_id, visit_start_date AS d, COALESCE(visit_end_date, visit_start_date) AS e
            FROM visit_occurrence WHERE visit_concept_id IN (9201, 262)),
        pairs AS (
            SELECT s.person_id, s.d, m.d AS md FROM stays AS s
            JOIN ({cond(mi)}) AS m ON m.person_id = s.person_id AND m.d BETWEEN s.d AND s.e),
        firsts AS (SELECT person_id, MIN(d) AS d FROM pairs GROUP BY person_id)
        SELECT f.person_id, f.d,
            (SELECT MIN(p.md) FROM pairs AS p WHERE p.person_id = f.person_id AND p.d = f.d)
        FROM firsts AS f ORDER BY 1"""
    return spec, hand


def case_window_from_the_same_day(code: Codes) -> tuple[CohortSpec, str]:
    """MI in 2023 and a PCI on the day of the MI or within 7 days after it."""
    mi, pci = code("ICD10CM", "I21"), code("ICD9Proc", "00.66")
    spec = CohortSpec(
        index=_index(mi, date_range=DateRange(start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31))),
        criteria=[_c("pci", "procedure", pci, Window(start=0, end=7))],
    )
    hand = f"""
        WITH mi AS ({cond(mi)}), pci AS ({proc(pci)}),
        firsts AS (
            SELECT m.person_id, MIN(m.d) AS d FROM mi AS m
            WHERE m.d BETWEEN DATE '2023-01-01' AND DATE '2023-12-31'
            AND EXISTS (SELECT 1 FROM pci AS p WHERE p.person_id = m.person_id
                        AND p.d BETWEEN m.d AND m.d + 7)
            GROUP BY m.person_id)
        SELECT f.person_id, f.d,
            (SELECT MIN(p.d) FROM pci AS p WHERE p.person_id = f.person_id AND p.d BETWEEN f.d AND f.d + 7)
        FROM firsts AS f ORDER BY 1"""
    return spec, hand


def case_count(code: Codes) -> tuple[CohortSpec, str]:
    """Type 2 diabetes diagnosed in 2023 with at least 3 HbA1c tests in the 365 days after."""
    t2dm, hba1c = code("ICD10CM", "E11"), code("LOINC", "4548-4")
    spec = CohortSpec(
        index=_index(t2dm, date_range=DateRange(start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31))),
        criteria=[
            _c(
                "hba1c",
                "measurement",
                hba1c,
                Window(start=0, end=365),
                occurrence=Occurrence(type="at_least", count=3),
            )
        ],
    )
    hand = f"""
        WITH dx AS ({cond(t2dm)}), lab AS ({meas(hba1c)}),
        firsts AS (
            SELECT x.person_id, MIN(x.d) AS d FROM dx AS x
            WHERE x.d BETWEEN DATE '2023-01-01' AND DATE '2023-12-31'
            AND (SELECT COUNT(*) FROM lab AS l WHERE l.person_id = x.person_id
                 AND l.d BETWEEN x.d AND x.d + 365) >= 3
            GROUP BY x.person_id)
        SELECT f.person_id, f.d,
            (SELECT MIN(l.d) FROM lab AS l WHERE l.person_id = f.person_id AND l.d BETWEEN f.d AND f.d + 365)
        FROM firsts AS f ORDER BY 1"""
    return spec, hand


def case_count_around_another_criterion(code: Codes) -> tuple[CohortSpec, str]:
    """MI, a PCI within 7 days, and at least 2 drug exposures (any drug) within 30 days of a PCI."""
    mi, pci = code("ICD10CM", "I21"), code("ICD9Proc", "00.66")
    spec = CohortSpec(
        index=_index(mi),
        criteria=[
            _c("pci", "procedure", pci, Window(start=0, end=7)),
            Criterion(
                label="drugs",
                domain=Domain("drug"),
                window=Window(start=0, end=30, anchor="pci"),
                occurrence=Occurrence(type="at_least", count=2),
            ),
        ],
    )
    drugs = "SELECT person_id, drug_exposure_start_date AS d FROM drug_exposure"
    hand = f"""
        WITH mi AS ({cond(mi)}), pci AS ({proc(pci)}), drugs AS ({drugs}),
        firsts AS (
            SELECT m.person_id, MIN(m.d) AS d FROM mi AS m
            WHERE EXISTS (SELECT 1 FROM pci AS p WHERE p.person_id = m.person_id
                          AND p.d BETWEEN m.d AND m.d + 7
                          AND (SELECT COUNT(*) FROM drugs AS x WHERE x.person_id = p.person_id
                               AND x.d BETWEEN p.d AND p.d + 30) >= 2)
            GROUP BY m.person_id)
        SELECT f.person_id, f.d,
            (SELECT MIN(p.d) FROM pci AS p WHERE p.person_id = f.person_id AND p.d BETWEEN f.d AND f.d + 7),
            (SELECT MIN(x.d) FROM pci AS p JOIN drugs AS x ON x.person_id = p.person_id
               AND x.d BETWEEN p.d AND p.d + 30
             WHERE p.person_id = f.person_id AND p.d BETWEEN f.d AND f.d + 7)
        FROM firsts AS f ORDER BY 1"""
    return spec, hand


def case_exclusion_without_a_window(code: Codes) -> tuple[CohortSpec, str]:
    """Hypertension, never a type 2 diabetes diagnosis."""
    htn, t2dm = code("ICD10CM", "I10"), code("ICD10CM", "E11")
    spec = CohortSpec(
        index=_index(htn),
        criteria=[_c("no diabetes", "condition", t2dm, Window(), occurrence=NONE)],
    )
    hand = f"""
        SELECT h.person_id, MIN(h.d) FROM ({cond(htn)}) AS h
        WHERE NOT EXISTS (SELECT 1 FROM ({cond(t2dm)}) AS x WHERE x.person_id = h.person_id)
        GROUP BY h.person_id ORDER BY 1"""
    return spec, hand


def case_three_step_chain(code: Codes) -> tuple[CohortSpec, str]:
    """MI, an angiography within 3 days, a PCI within 1 day of it, then a drug within 7 days of the PCI
    (each step's events read as their (person, date) pairs: see ``compiler.dated``)."""
    mi, angio, pci = code("ICD10CM", "I21"), code("ICD9Proc", "88.5%"), code("ICD9Proc", "00.66")
    spec = CohortSpec(
        index=_index(mi),
        criteria=[
            _c("angio", "procedure", angio, Window(start=0, end=3)),
            _c("pci", "procedure", pci, Window(start=0, end=1, anchor="angio")),
            Criterion(label="drug", domain=Domain("drug"), window=Window(start=0, end=7, anchor="pci")),
        ],
    )
    drugs = "SELECT person_id, drug_exposure_start_date AS d FROM drug_exposure"
    hand = f"""
        WITH mi AS ({cond(mi)}), angio AS ({proc(angio)}), pci AS ({proc(pci)}), drugs AS ({drugs}),
        firsts AS (
            SELECT m.person_id, MIN(m.d) AS d FROM mi AS m
            WHERE EXISTS (SELECT 1 FROM angio AS a WHERE a.person_id = m.person_id
                          AND a.d BETWEEN m.d AND m.d + 3
                          AND EXISTS (SELECT 1 FROM pci AS p WHERE p.person_id = a.person_id
                                      AND p.d BETWEEN a.d AND a.d + 1
                                      AND EXISTS (SELECT 1 FROM drugs AS x WHERE x.person_id = p.person_id
                                                  AND x.d BETWEEN p.d AND p.d + 7)))
            GROUP BY m.person_id)
        SELECT f.person_id, f.d,
            (SELECT MIN(a.d) FROM angio AS a WHERE a.person_id = f.person_id AND a.d BETWEEN f.d AND f.d + 3),
            (SELECT MIN(p.d) FROM angio AS a JOIN pci AS p ON p.person_id = a.person_id
               AND p.d BETWEEN a.d AND a.d + 1
             WHERE a.person_id = f.person_id AND a.d BETWEEN f.d AND f.d + 3),
            (SELECT MIN(x.d) FROM angio AS a JOIN pci AS p ON p.person_id = a.person_id
               AND p.d BETWEEN a.d AND a.d + 1 JOIN drugs AS x ON x.person_id = p.person_id
               AND x.d BETWEEN p.d AND p.d + 7
             WHERE a.person_id = f.person_id AND a.d BETWEEN f.d AND f.d + 3)
        FROM firsts AS f ORDER BY 1"""
    return spec, hand


def case_count_that_zero_satisfies(code: Codes) -> tuple[CohortSpec, str]:
    """Any diagnosis in October 2023 with at most 1 drug exposure in the 30 days after: a count kept per
    index day, where one person's diagnoses of the same day are several index rows of one key, and a
    day with no drug at all qualifies."""
    spec = CohortSpec(
        index=IndexEvent(
            domain=Domain("condition"),
            date_range=DateRange(start=dt.date(2023, 10, 1), end=dt.date(2023, 10, 31)),
        ),
        criteria=[
            Criterion(
                label="drugs",
                domain=Domain("drug"),
                window=Window(start=0, end=30),
                occurrence=Occurrence(type="at_most", count=1),
            )
        ],
    )
    drugs = "SELECT person_id, drug_exposure_start_date AS d FROM drug_exposure"
    hand = f"""
        WITH dx AS (SELECT person_id, condition_start_date AS d FROM condition_occurrence),
        drugs AS ({drugs}),
        firsts AS (
            SELECT x.person_id, MIN(x.d) AS d FROM dx AS x
            WHERE x.d BETWEEN DATE '2023-10-01' AND DATE '2023-10-31'
            AND (SELECT COUNT(*) FROM drugs AS l WHERE l.person_id = x.person_id
                 AND l.d BETWEEN x.d AND x.d + 30) <= 1
            GROUP BY x.person_id)
        SELECT f.person_id, f.d,
            (SELECT MIN(l.d) FROM drugs AS l WHERE l.person_id = f.person_id AND l.d BETWEEN f.d AND f.d + 30)
        FROM firsts AS f ORDER BY 1"""
    return spec, hand


def case_count_on_the_first_ever_event(code: Codes) -> tuple[CohortSpec, str]:
    """First-ever type 2 diabetes with at least 2 HbA1c tests in the 365 days after."""
    t2dm, hba1c = code("ICD10CM", "E11"), code("LOINC", "4548-4")
    spec = CohortSpec(
        index=_index(t2dm, first_occurrence=True),
        criteria=[
            _c(
                "hba1c",
                "measurement",
                hba1c,
                Window(start=0, end=365),
                occurrence=Occurrence(type="at_least", count=2),
            )
        ],
    )
    hand = f"""
        WITH dx AS ({cond(t2dm)}), lab AS ({meas(hba1c)}),
        firsts AS (SELECT person_id, MIN(d) AS d FROM dx GROUP BY person_id)
        SELECT f.person_id, f.d,
            (SELECT MIN(l.d) FROM lab AS l WHERE l.person_id = f.person_id AND l.d BETWEEN f.d AND f.d + 365)
        FROM firsts AS f
        WHERE (SELECT COUNT(*) FROM lab AS l WHERE l.person_id = f.person_id
               AND l.d BETWEEN f.d AND f.d + 365) >= 2
        ORDER BY 1"""
    return spec, hand


def case_first_ever_criterion(code: Codes) -> tuple[CohortSpec, str]:
    """MI in 2023 whose first-ever heart failure diagnosis came 0 to 365 days after it: the person's
    first HF, not any HF, must fall in the window (Criterion.first_occurrence)."""
    mi, hf = code("ICD10CM", "I21%"), code("ICD10CM", "I50%")
    spec = CohortSpec(
        index=_index(mi, date_range=DateRange(start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31))),
        criteria=[_c("hf", "condition", hf, Window(start=0, end=365), first_occurrence=True)],
    )
    hand = f"""
        WITH mi AS ({cond(mi)}),
        hf_first AS (SELECT person_id, MIN(d) AS d FROM ({cond(hf)}) AS h GROUP BY person_id),
        firsts AS (
            SELECT m.person_id, MIN(m.d) AS d FROM mi AS m JOIN hf_first AS h ON h.person_id = m.person_id
            WHERE m.d BETWEEN DATE '2023-01-01' AND DATE '2023-12-31' AND h.d BETWEEN m.d AND m.d + 365
            GROUP BY m.person_id)
        SELECT f.person_id, f.d, h.d FROM firsts AS f JOIN hf_first AS h ON h.person_id = f.person_id
        ORDER BY 1"""
    return spec, hand


def case_value_range_with_one_end_left_out(code: Codes) -> tuple[CohortSpec, str]:
    """HbA1c of at least 7 and under 9 in 2023 ('7 이상 9 미만'): the mart holds results of exactly 9, which
    an inclusive BETWEEN would take."""
    hba1c = code("LOINC", "4548-4")
    spec = CohortSpec(
        index=IndexEvent(
            domain=Domain("measurement"),
            concepts=ConceptSet(concept_ids=hba1c),
            value=ValueFilter(op="between", value=7, value_high=9, exclude_high=True),
            date_range=DateRange(start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31)),
        )
    )
    hand = f"""
        SELECT person_id, MIN(measurement_date) FROM measurement
        WHERE measurement_concept_id IN {_set(hba1c)} AND value_as_number >= 7 AND value_as_number < 9
          AND measurement_date BETWEEN DATE '2023-01-01' AND DATE '2023-12-31'
        GROUP BY person_id ORDER BY 1"""
    return spec, hand


CASES: list[Callable[[Codes], tuple[CohortSpec, str]]] = [
    case_chain,
    case_chain_ends_in_absence,
    case_nested_windows_on_the_same_events,
    case_first_ever_with_demographics,
    case_first_ever_with_a_same_visit_window,
    case_diagnosis_during_the_stay,
    case_window_from_the_same_day,
    case_count,
    case_count_around_another_criterion,
    case_exclusion_without_a_window,
    case_three_step_chain,
    case_count_that_zero_satisfies,
    case_count_on_the_first_ever_event,
    case_first_ever_criterion,
    case_value_range_with_one_end_left_out,
]


def test_a_first_ever_event_is_one_event() -> None:
    with pytest.raises(ValueError, match="one first-ever event"):
        Criterion(
            label="hf",
            domain=Domain("condition"),
            first_occurrence=True,
            occurrence=Occurrence(type="at_least", count=2),
        )


@pytest.fixture(scope="module")
def code(demo) -> Codes:
    """Concept ids of a vocabulary's codes (a LIKE pattern), read from the demo mart."""

    def ids(vocabulary: str, pattern: str) -> list[int]:
        rows = demo.execute(
            "SELECT concept_id FROM concept WHERE vocabulary_id = ? AND concept_code LIKE ? ORDER BY 1",
            [vocabulary, pattern],
        ).fetchall()
        assert rows, (vocabulary, pattern)
        return [int(r[0]) for r in rows]

    return ids


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.removeprefix("case_") for c in CASES])
def test_cohort_equals_hand_written_sql(
    demo, code: Codes, case: Callable[[Codes], tuple[CohortSpec, str]]
) -> None:
    spec, hand = case(code)
    compiled = compile_cohort(spec)
    validate(compiled.cohort_sql)  # the guard takes the compiler's SQL as it is
    ours = [tuple(r) for r in demo.execute(compiled.cohort_sql).fetchall()]
    expected = [tuple(r) for r in demo.execute(hand).fetchall()]
    assert ours == expected
    assert len(ours) > 0  # a case that selects nobody would prove nothing
    # the per-person evaluation an ask runs gives the same rows for the persons who get through
    full = len(compiled.steps) - 1
    rows = demo.execute(compiled.eval_sql).fetchall()
    assert sorted((r[0], *r[2:]) for r in rows if r[1] == full) == ours


def test_shapes_of_the_cases(code: Codes) -> None:
    """What each case is there for: the shape it compiles to."""
    chain = compile_cohort(case_chain(code)[0]).cohort_sql
    # one windowed join down the chain, grouped by index key, gives both tests and both first events
    assert "k1_keys" in chain and "k2_keys" not in chain and "_matched" not in chain
    # the last member as its (person, date) pairs: it holds where their count is not 0
    assert re.search(r"LEFT JOIN \(\s*SELECT\s+person_id,\s+event_date\s+FROM k2_all\b", chain)
    assert "k2_n > 0" in chain
    assert "ROW_NUMBER" not in chain
    counted = compile_cohort(case_count_around_another_criterion(code)[0]).cohort_sql
    assert "k2_pairs" in counted and "k1_events" in counted and "k1_matched" in counted
    absence = compile_cohort(case_chain_ends_in_absence(code)[0]).cohort_sql
    assert "k2_keys" in absence and "NOT EXISTS" in absence
    nested = compile_cohort(case_nested_windows_on_the_same_events(code)[0])
    assert "k2_all" not in nested.cohort_sql  # the same events: one CTE
    qualified = nested.cohort_sql.split("qualified AS (", 1)[1].split("cohort AS (", 1)[0]
    assert qualified.count("EXISTS") == 1  # "any time" is implied by "within 7 days"
    first = compile_cohort(case_first_ever_with_demographics(code)[0]).cohort_sql
    assert "ROW_NUMBER" not in first and "index_all" not in first
    same_visit = compile_cohort(case_first_ever_with_a_same_visit_window(code)[0]).cohort_sql
    assert "ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY event_date, event_id)" in same_visit
    same_day = compile_cohort(case_window_from_the_same_day(code)[0]).cohort_sql
    assert "INTERVAL" not in same_day and "event_date + 0" not in same_day
    assert "JOIN person" not in same_day  # no demographics: no join to the person table
    # a count around the index: per index day (no numbering of the index rows), read by the cohort
    count = compile_cohort(case_count(code)[0]).cohort_sql
    assert "ROW_NUMBER" not in count and "k1_pairs" not in count and "FROM k1_ok AS x" in count
    at_most = " ".join(compile_cohort(case_count_that_zero_satisfies(code)[0]).cohort_sql.split())
    assert (
        "SELECT DISTINCT person_id, event_date FROM index_rows" in at_most and "LEFT JOIN k1_all" in at_most
    )
    three = " ".join(compile_cohort(case_three_step_chain(code)[0]).cohort_sql.split())
    # angio, PCI and drug as (person, date) pairs; DISTINCT only over images, several series a day
    assert three.count("SELECT person_id, event_date FROM k") == 3
    assert "SELECT DISTINCT person_id, event_date FROM k" not in three
    assert "qualified AS (" not in three and "FROM k1_keys AS x WHERE x.k3_n > 0 GROUP BY" in three


def test_a_count_is_kept_per_index_day(demo) -> None:
    """What ``case_count_that_zero_satisfies`` is there for: on the demo mart some persons have several
    index rows on one day, so counting per row and per day must agree, and some days have no drug."""
    dup = demo.execute(
        "SELECT COUNT(*) FROM (SELECT person_id, condition_start_date FROM condition_occurrence "
        "WHERE condition_start_date BETWEEN DATE '2023-10-01' AND DATE '2023-10-31' GROUP BY ALL "
        "HAVING COUNT(*) > 1)"
    ).fetchone()
    assert dup is not None and dup[0] > 0


# -- the same shapes on a real PostgreSQL server ---------------------------------------------------------

PG_TABLES = (
    "person",
    "condition_occurrence",
    "procedure_occurrence",
    "drug_exposure",
    "measurement",
    "visit_occurrence",
)
PG_TYPES = {"BIGINT": "BIGINT", "INTEGER": "INTEGER", "DATE": "DATE", "DOUBLE": "DOUBLE PRECISION"}


@pytest.fixture(scope="module")
def pg(demo) -> Iterator[Any]:
    """The demo mart's event tables (their typed columns) and the vocabulary tables the compiled SQL
    reads, copied into a throwaway PostgreSQL cluster."""
    import psycopg
    import pyarrow.csv as pacsv

    from tests.pg_server import postgres_server

    def load(conn: Any, table: str, columns: list[tuple[str, str]]) -> None:
        conn.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {t}' for n, t in columns)})")
        names = ", ".join(n for n, _ in columns)
        cur = demo.cursor()
        try:
            data = cur.sql(f"SELECT {names} FROM {table}").to_arrow_table()
        finally:
            cur.close()
        buf = io.BytesIO()
        pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=False))
        with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buf.getvalue())

    with postgres_server(port=55447) as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        for table in PG_TABLES:
            described = demo.execute(f"DESCRIBE {table}").fetchall()
            load(conn, table, [(str(n), PG_TYPES[t]) for n, t, *_ in described if t in PG_TYPES])
        load(conn, "concept", [("concept_id", "BIGINT"), ("concept_name", "TEXT"), ("domain_id", "TEXT")])
        load(
            conn, "concept_ancestor", [("ancestor_concept_id", "BIGINT"), ("descendant_concept_id", "BIGINT")]
        )
        conn.execute("ANALYZE")
        yield conn


@pytest.mark.postgres
@pytest.mark.parametrize("case", CASES, ids=[c.__name__.removeprefix("case_") for c in CASES])
def test_postgres_gives_the_same_rows(
    pg, demo, code: Codes, case: Callable[[Codes], tuple[CohortSpec, str]]
) -> None:
    """Each shape rendered for PostgreSQL from the one tree: the same rows and attrition as DuckDB."""
    spec, _ = case(code)
    duck, post = compile_cohort(spec), compile_cohort(spec, dialect="postgres")
    assert [tuple(r) for r in pg.execute(post.cohort_sql).fetchall()] == [
        tuple(r) for r in demo.execute(duck.cohort_sql).fetchall()
    ]
    assert list(pg.execute(post.attrition_sql).fetchone()) == list(
        demo.execute(duck.attrition_sql).fetchall()[0]
    )


def test_a_small_concept_set_read_from_the_mart_is_written_as_literals(demo, code: Codes) -> None:
    """With no criterion, the index's set as the mart lists it is the scan's own filter, and the cohort
    is the hand-written one; with criteria, every set stays a codeset CTE (join orders: see
    ``compile_cohort``)."""
    spec, hand = case_first_ever_with_demographics(code)
    listed = listed_concepts(spec, {}, lambda sql, params: demo.execute(sql, params).fetchall())
    assert 0 < len(listed["index"]) <= INLINE_CONCEPTS_MAX
    inlined = compile_cohort(spec, expanded=listed).cohort_sql
    assert "cs_index" not in inlined
    listed_sql = "".join(inlined.split()).split("condition_concept_idIN(")[1].split(")")[0]
    assert listed_sql == ",".join(map(str, listed["index"]))
    assert demo.execute(inlined).fetchall() == demo.execute(hand).fetchall()
    chain, _ = case_chain(code)
    listed = listed_concepts(chain, {}, lambda sql, params: demo.execute(sql, params).fetchall())
    assert compile_cohort(chain, expanded=listed).cohort_sql == compile_cohort(chain).cohort_sql
