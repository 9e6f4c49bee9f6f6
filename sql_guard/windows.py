"""Window SQL: the one place where a :class:`~cohort_engine.spec.Window` becomes SQL conditions.

A window is written by three callers — the cohort compiler (criterion events around their anchor), the
imaging selection (series dates around the index or a criterion's event) and the API's imaging charts —
and the three must agree on its meaning, which ``cohort_engine.spec`` defines: whole days, inclusive at
both ends, negative offsets before the anchor, ``same_visit`` putting the event inside the stay of its
visit anchor (first to last day; the README's "during that stay"), or comparing the visits of two events
that are not visits.
The expressions are plain DuckDB SQL text, so each caller keeps its own aliases and casts.
"""

from __future__ import annotations

from cohort_engine.spec import Window
from cohort_engine.sql_guard.errors import CompileError

__all__ = ["shifted", "stay_end", "window_conditions"]


def shifted(date_expr: str, days: int) -> str:
    """``date_expr`` ± whole days, as a DATE: ``d + 7``, ``d - 30``.

    DATE ± INTEGER is a DATE in DuckDB and PostgreSQL alike, so both sides of a window compare as
    dates. ``d + INTERVAL '7' DAY`` would be a TIMESTAMP, and DuckDB then casts every event date to a
    timestamp to compare it (measured: the window joins of a chained cohort about 20 % slower on a
    1M-person mart). The sign goes outside the number; a shift of 0 days is the date itself.
    """
    if int(days) == 0:
        return date_expr
    return f"{date_expr} {'-' if days < 0 else '+'} {abs(int(days))}"


def stay_end(visit_id: str) -> str:
    """The last day of the visit ``visit_id`` (its start day when it has no end): a stay's span."""
    return (
        "(SELECT CAST(COALESCE(v.visit_end_date, v.visit_start_date) AS DATE) FROM visit_occurrence AS v "
        f"WHERE v.visit_occurrence_id = {visit_id})"
    )


def window_conditions(
    window: Window,
    *,
    event_date: str,
    anchor_date: str,
    event_visit: str | None = None,
    anchor_visit: str | None = None,
    anchor_is_visit: bool = False,
    event_is_visit: bool = False,
) -> list[str]:
    """SQL boolean conditions (to be AND-ed) that put ``event_date`` inside ``window`` of ``anchor_date``.

    Both date expressions must be DATEs (a timestamp would make the end bound exclude the last day's
    later hours, and DATE arithmetic on a timestamp is an error).  An open end adds no condition, so an
    unbounded window yields ``[]``.
    ``same_visit`` needs both visit expressions: a caller without visits (imaging series carry none)
    cannot honour it and gets a ``CompileError`` rather than a silently wider window.
    """
    conds: list[str] = []
    if window.start is not None:
        conds.append(f"{event_date} >= {shifted(anchor_date, window.start)}")
    if window.end is not None:
        conds.append(f"{event_date} <= {shifted(anchor_date, window.end)}")
    if window.same_visit:
        if event_visit is None or anchor_visit is None:
            raise CompileError("a window on the same visit is not supported here; give a day window")
        if anchor_is_visit:
            # 'admitted for pneumonia': a diagnosis dated during that stay, from its first to its last day,
            # whichever visit record it was filed under (the ER visit that led to the admission, say)
            conds += [f"{event_date} >= {anchor_date}", f"{event_date} <= {stay_end(anchor_visit)}"]
        elif event_is_visit:
            conds += [f"{anchor_date} >= {event_date}", f"{anchor_date} <= {stay_end(event_visit)}"]
        else:
            conds.append(f"{event_visit} = {anchor_visit}")
    return conds
