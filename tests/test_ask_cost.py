"""What one ask costs, checked by shape and by count (never by the clock; timings live in benchmarks/).

* exclusions and "at least 1" anchored on the index compile to NOT EXISTS / EXISTS, with a windowed
  join only where a window or a count needs one; the first matched event is no correlated subquery;
* the per-person evaluation gives the same persons, index dates, first events and attrition as the
  standalone cohort and attrition queries;
* an ask evaluates the cohort chain once, and runs no imaging SQL when the images are neither asked
  for nor shown;
* the prepared-cohort cache hands back the very same compiled and validated objects for the same spec.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cohort_engine import pipeline
from cohort_engine.spec import (
    CohortSpec,
    ConceptSet,
    Criterion,
    DateRange,
    Demographics,
    ImagingRequest,
    IndexEvent,
    Occurrence,
    Window,
)
from cohort_engine.sql_guard.compiler import compile_cohort
from cohort_engine.sql_guard.runner import open_mart
from tests.test_compiler_eunomia import CASES, GI_BLEED, OSTEOARTHRITIS

ASPIRIN = 1112807


def _index() -> IndexEvent:
    return IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[GI_BLEED]))


def _criterion(window: Window, occurrence: Occurrence) -> Criterion:
    return Criterion(
        label="aspirin",
        domain="drug",
        concepts=ConceptSet(concept_ids=[ASPIRIN]),
        window=window,
        occurrence=occurrence,
    )


UNBOUNDED = Window()
WINDOWED = Window(start=-365, end=-1)
NONE = Occurrence(type="exactly", count=0)
AT_MOST_0 = Occurrence(type="at_most", count=0)
ONE = Occurrence(type="at_least", count=1)
TWO = Occurrence(type="at_least", count=2)

#: (name, window, occurrence, exists keyword expected, windowed join expected)
SHAPES: list[tuple[str, Window, Occurrence, str | None, bool]] = [
    ("exclusion, no window", UNBOUNDED, NONE, "NOT EXISTS", False),
    ("at most 0, no window", UNBOUNDED, AT_MOST_0, "NOT EXISTS", False),
    ("exclusion in a window", WINDOWED, NONE, "NOT EXISTS", False),
    ("at least 1, no window", UNBOUNDED, ONE, "EXISTS", False),
    ("at least 1 in a window", WINDOWED, ONE, "EXISTS", False),
    ("a count needs the windowed join", WINDOWED, TWO, None, True),
]


def _flat(sql: str) -> str:
    return re.sub(r"\s+", " ", sql)


@pytest.mark.parametrize("name,window,occurrence,keyword,pairs", SHAPES, ids=[s[0] for s in SHAPES])
def test_criterion_shape(
    name: str, window: Window, occurrence: Occurrence, keyword: str | None, pairs: bool
) -> None:
    compiled = compile_cohort(CohortSpec(index=_index(), criteria=[_criterion(window, occurrence)]))
    for sql in (compiled.cohort_sql, compiled.attrition_sql, compiled.eval_sql):
        flat = _flat(sql)
        # a count joins the events to each (person, index day) in the window and counts them there;
        # presence and absence never join (EXISTS / NOT EXISTS)
        assert ("JOIN k1_all AS e ON e.person_id = a.person_id" in flat) is pairs
        assert ("HAVING COUNT(e.event_id) >= 2" in flat) is pairs
        assert "k1_pairs" not in flat
        if keyword == "NOT EXISTS":
            assert "NOT EXISTS" in flat
        elif keyword == "EXISTS":
            assert "EXISTS" in flat and "NOT EXISTS" not in flat
        # the first matched event: a grouped join, never a correlated subquery in the SELECT list
        assert "(SELECT MIN(" not in flat
    if window == UNBOUNDED and keyword is not None:
        # no window: the subquery compares the person only, no dates
        exists = _flat(compiled.eval_sql).split("EXISTS (", 1)[1].split(")", 1)[0]
        assert "event_date" not in exists


def test_no_row_numbering_when_no_criterion_needs_it() -> None:
    """Numbering index rows sorts every index event; nothing here needs it any more: a count around the
    index is counted per person and index day (sql_guard.compiler, issue 14), not per numbered row."""
    simple = compile_cohort(CohortSpec(index=_index(), criteria=[_criterion(UNBOUNDED, NONE)]))
    assert "ROW_NUMBER() OVER (ORDER BY" not in simple.eval_sql
    counted = compile_cohort(CohortSpec(index=_index(), criteria=[_criterion(WINDOWED, TWO)]))
    assert "ROW_NUMBER() OVER (ORDER BY" not in counted.eval_sql
    assert "GROUP BY a.person_id, a.event_date" in _flat(counted.eval_sql)


EXTRA_CASES: list[tuple[str, CohortSpec]] = [
    (
        "demographics and an exclusion with no window",
        CohortSpec(
            index=_index(),
            demographics=Demographics(sexes=["male"], age_min=40),
            criteria=[_criterion(UNBOUNDED, NONE)],
        ),
    ),
    (
        "at most 0 anchored on a matched event",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[OSTEOARTHRITIS])),
            criteria=[
                Criterion(label="any drug", domain="drug", window=Window(start=0, end=365)),
                Criterion(
                    label="no bleed",
                    domain="condition",
                    concepts=ConceptSet(concept_ids=[GI_BLEED]),
                    window=Window(start=0, end=90, anchor="any drug"),
                    occurrence=AT_MOST_0,
                ),
            ],
        ),
    ),
    (
        "first occurrence in a date range, then at least 1 any time",
        CohortSpec(
            index=IndexEvent(
                domain="condition",
                concepts=ConceptSet(concept_ids=[OSTEOARTHRITIS]),
                first_occurrence=True,
                date_range=DateRange(start="1950-01-01", end="2020-12-31"),
            ),
            criteria=[Criterion(label="a drug", domain="drug", window=UNBOUNDED, occurrence=ONE)],
        ),
    ),
]
ALL_SPECS = [(name, spec) for name, spec, _ in CASES] + EXTRA_CASES


@pytest.mark.slow
@pytest.mark.parametrize("name,spec", ALL_SPECS, ids=[c[0] for c in ALL_SPECS])
def test_evaluation_once_equals_the_standalone_queries(eunomia, name: str, spec: CohortSpec) -> None:
    """One row per person with an index event gives the cohort (persons, index dates, first events)
    and the attrition exactly as the standalone cohort and attrition queries do."""
    compiled = compile_cohort(spec)
    cohort = [tuple(r) for r in eunomia.execute(compiled.cohort_sql).fetchall()]
    attrition = list(eunomia.execute(compiled.attrition_sql).fetchall()[0])
    rows = eunomia.execute(compiled.eval_sql).fetchall()
    full = len(compiled.steps) - 1
    assert sorted((r[0], *r[2:]) for r in rows if r[1] == full) == cohort
    assert [len(rows)] + [sum(1 for r in rows if r[1] >= i) for i in range(1, full + 1)] == attrition
    assert len({r[0] for r in rows}) == len(rows)  # one row per person


# -- an ask: statements executed ------------------------------------------------------------------------


class Recorder:
    """A connection (or cursor) that records every SQL text executed through it or its cursors."""

    def __init__(self, con: Any, log: list[str]) -> None:
        self._con = con
        self.log = log

    def cursor(self) -> Recorder:
        return Recorder(self._con.cursor(), self.log)

    def execute(self, sql: str, *args: Any) -> Any:
        self.log.append(sql)
        self._con.execute(sql, *args)
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


SEED_LIKE = CohortSpec(
    index=IndexEvent(domain="condition", date_range=DateRange(start="2023-10-01", end="2023-10-10")),
    criteria=[Criterion(label="surgery", domain="procedure", window=Window(start=7, end=14))],
)


def _ask(mart: Path, spec: CohortSpec, **kwargs: Any) -> tuple[pipeline.AskResult, list[str]]:
    con = open_mart(mart)
    log: list[str] = []
    try:
        res = pipeline.run_spec(spec, Recorder(con, log), include_person_ids=True, **kwargs)  # type: ignore[arg-type]
    finally:
        con.close()
    assert res.status == "ok", res.message
    return res, log


def _chain_runs(log: list[str]) -> int:
    """Statements that evaluate the cohort's CTE chain (its index events)."""
    return sum(1 for sql in log if "index_events" in sql)


def _imaging_runs(log: list[str]) -> int:
    return sum(1 for sql in log if "dicom_series" in sql)


@pytest.mark.slow
def test_an_ask_evaluates_the_chain_once_and_imaging_only_when_wanted(demo_dicom_mart_path: Path) -> None:
    pipeline.clear_caches()
    shown, log = _ask(demo_dicom_mart_path, SEED_LIKE, imaging=True)
    assert _chain_runs(log) == 1 and shown.imaging is not None and _imaging_runs(log) == 1
    hidden, log = _ask(demo_dicom_mart_path, SEED_LIKE, imaging=False)
    assert _chain_runs(log) == 1 and hidden.imaging is None and _imaging_runs(log) == 0
    # the same persons and counts either way
    assert hidden.person_ids == shown.person_ids and hidden.attrition == shown.attrition
    # images asked for by the spec: the summary runs whatever the caller shows
    asked = SEED_LIKE.model_copy(update={"imaging": ImagingRequest(modalities=["CT"])})
    res, log = _ask(demo_dicom_mart_path, asked, imaging=False)
    assert res.imaging is not None and _imaging_runs(log) == 1 and _chain_runs(log) == 1


@pytest.mark.slow
def test_an_ask_equals_the_standalone_queries(demo_dicom_mart_path: Path) -> None:
    """Person list, attrition and the imaging summary of an ask are those of the standalone statements."""
    from cohort_engine.dicom_index.select import imaging_summary_sql
    from cohort_engine.sql_guard.runner import run_query

    res, _ = _ask(demo_dicom_mart_path, SEED_LIKE, sample_size=3)
    con = open_mart(demo_dicom_mart_path)
    try:
        compiled = pipeline.compile_spec(SEED_LIKE, con)
        persons = [int(r[0]) for r in con.execute(compiled.cohort_sql).fetchall()]
        attrition = list(con.execute(compiled.attrition_sql).fetchall()[0])
        summary = run_query(con, imaging_summary_sql(compiled, None)).rows
    finally:
        con.close()
    assert res.person_ids == persons and [a.persons for a in res.attrition] == attrition
    assert [(r.modality, r.persons, r.studies, r.series, r.instances) for r in res.imaging or []] == summary
    assert len(res.sample) == min(3, len(persons))


# -- the prepared-cohort cache -------------------------------------------------------------------------


def test_the_cache_returns_the_same_objects_for_the_same_spec() -> None:
    pipeline.clear_caches()
    spec = CohortSpec(index=_index(), criteria=[_criterion(UNBOUNDED, NONE)])
    first, cached = pipeline.prepare(spec, {}, "mart-a")
    assert not cached
    again, cached = pipeline.prepare(CohortSpec.model_validate(spec.model_dump(mode="json")), {}, "mart-a")
    assert cached and again is first and again.compiled is first.compiled
    assert again.statement("eval") is first.statement("eval")
    assert again.compiled.cohort_sql is first.compiled.cohort_sql
    # another mart, other concepts or another spec: another entry
    assert pipeline.prepare(spec, {}, "mart-b")[0] is not first
    assert pipeline.prepare(spec, {"aspirin": [ASPIRIN]}, "mart-a")[0] is not first
    other = CohortSpec(index=_index(), criteria=[_criterion(WINDOWED, NONE)])
    assert pipeline.prepare(other, {}, "mart-a")[0] is not first


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline.clear_caches()
    monkeypatch.setattr(pipeline, "PREPARED_CACHE_SIZE", 2)
    specs = [
        CohortSpec(index=_index(), criteria=[_criterion(Window(start=-n, end=0), NONE)]) for n in (1, 2, 3)
    ]
    first = pipeline.prepare(specs[0], {}, "m")[0]
    for spec in specs[1:]:
        pipeline.prepare(spec, {}, "m")
    assert pipeline.prepare(specs[0], {}, "m")[0] is not first  # the least recently used was dropped


def test_a_run_carries_its_timings(eunomia) -> None:
    spec = CohortSpec(index=_index(), criteria=[_criterion(WINDOWED, NONE)])
    pipeline.clear_caches()
    with pipeline.timing_scope() as runs:
        cold = pipeline.run_spec(spec, eunomia, sample_size=0)
        warm = pipeline.run_spec(spec, eunomia, sample_size=0)
    assert cold.timings is not None and warm.timings is not None
    assert [r.timings for r in runs] == [cold.timings, warm.timings]
    assert set(cold.timings.model_dump()) == {
        "parse",
        "resolve",
        "compile",
        "guard",
        "sql",
        "imaging",
        "total",
    }
    assert warm.timings.compile == warm.timings.guard == 0.0  # cached
    assert cold == warm  # timings are not part of what an answer says
    assert "timings" not in cold.public_dict()
    header = cold.timings.server_timing()
    assert header.startswith("parse;dur=") and "total;dur=" in header
