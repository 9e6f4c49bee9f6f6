"""The one window-SQL helper: exact text, inclusive whole-day bounds, and same-visit only with visits."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from cohort_engine.spec import Window
from cohort_engine.sql_guard.compiler import CompileError as CompilerCompileError
from cohort_engine.sql_guard.errors import CompileError
from cohort_engine.sql_guard.windows import shifted, stay_end, window_conditions


def test_shifted_is_date_plus_whole_days_with_the_sign_outside() -> None:
    assert shifted("a.d", 7) == "a.d + 7"
    assert shifted("a.d", -30) == "a.d - 30"
    assert shifted("a.d", 0) == "a.d"


def test_shifted_stays_a_date_in_duckdb() -> None:
    """DATE ± days is a DATE (an INTERVAL would make it a TIMESTAMP and every compared date a cast)."""
    con = duckdb.connect()
    later = shifted("DATE '2024-02-28'", 2)
    earlier = shifted("DATE '2024-03-01'", -1)
    row = con.execute(f"SELECT typeof({later}), {earlier}").fetchone()
    assert row == ("DATE", dt.date(2024, 2, 29))


def test_conditions_text() -> None:
    w = Window(start=-7, end=14, same_visit=True)
    assert window_conditions(
        w,
        event_date="e.event_date",
        anchor_date="a.event_date",
        event_visit="e.visit_id",
        anchor_visit="a.visit_id",
    ) == [
        "e.event_date >= a.event_date - 7",
        "e.event_date <= a.event_date + 14",
        "e.visit_id = a.visit_id",
    ]
    # a visit anchor: the event dated during its stay (first to last day), whatever visit it is filed under
    assert window_conditions(
        Window(same_visit=True),
        event_date="e.event_date",
        anchor_date="a.event_date",
        event_visit="e.visit_id",
        anchor_visit="a.visit_id",
        anchor_is_visit=True,
    ) == ["e.event_date >= a.event_date", f"e.event_date <= {stay_end('a.visit_id')}"]
    assert window_conditions(Window(end=-1), event_date="x.d", anchor_date="x.a") == ["x.d <= x.a - 1"]
    assert window_conditions(Window(), event_date="x.d", anchor_date="x.a") == []


@pytest.mark.parametrize(
    ("event_visit", "anchor_visit"), [(None, None), ("e.visit_id", None), (None, "a.visit_id")]
)
def test_same_visit_needs_both_visits(event_visit: str | None, anchor_visit: str | None) -> None:
    with pytest.raises(CompileError):
        window_conditions(
            Window(start=0, same_visit=True),
            event_date="e.d",
            anchor_date="a.d",
            event_visit=event_visit,
            anchor_visit=anchor_visit,
        )
    assert CompilerCompileError is CompileError  # callers catching the compiler's name still catch it


def test_bounds_are_inclusive_whole_days_in_duckdb() -> None:
    con = duckdb.connect()
    anchor = dt.date(2024, 3, 1)
    days = range(-10, 11)
    con.execute("CREATE TABLE t (d DATE, a DATE)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(anchor + dt.timedelta(days=n), anchor) for n in days])
    conds = window_conditions(Window(start=-3, end=5), event_date="t.d", anchor_date="t.a")
    rows = con.execute(
        f"SELECT DATE_DIFF('day', a, d) FROM t WHERE {' AND '.join(conds)} ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in rows] == list(range(-3, 6))
