"""Guarded SQL for researchers: aggregates only, and no aggregate over fewer than k rows shown.

The SQL guard (``sql_guard.guard.validate``) decides what may run at all; this module is the API's
small-cell rule on top of it for principals who see counts, never rows.
"""

from __future__ import annotations

from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from cohort_engine.sql_guard.errors import GuardError, QueryError
from cohort_engine.sql_guard.guard import ValidatedSQL, validate
from cohort_engine.sql_guard.runner import run_query

#: Name of the hidden per-group row count added to a researcher's outermost SELECT.
ROWS_PROBE = "cohort_cell_rows__"


def aggregate_rows(
    con: duckdb.DuckDBPyConnection, validated: ValidatedSQL, k: int, timeout_s: float
) -> tuple[list[str], list[list[Any]], int]:
    """(columns, rows, number of hidden cells) of an aggregate query, with small groups hidden.

    A hidden ``COUNT(*)`` is added to the outermost SELECT; in every output row whose group has
    fewer than k rows, each aggregate column is shown as '<k'. Where that rewrite is impossible
    (set operations), any COUNT column value of 1…k−1 is hidden instead.
    """
    root = sqlglot.parse_one(validated.sql, read="duckdb")
    if isinstance(root, exp.Select):
        agg_cols = [i for i, e in enumerate(root.expressions) if e.find(exp.AggFunc) is not None]
        probe = root.copy()
        probe.select(exp.alias_(exp.Count(this=exp.Star()), ROWS_PROBE), copy=False)
        try:
            probed = validate(probe.sql(dialect="duckdb"), aggregates_only=True, max_rows=validated.max_rows)
            res = run_query(con, probed, timeout_s=timeout_s)
        except (GuardError, QueryError):
            res = None
        if res is not None:
            n = 0
            rows = []
            for r in res.rows:
                vals = list(r[:-1])
                if 0 < int(r[-1] or 0) < k:
                    for i in agg_cols:
                        vals[i] = f"<{k}"
                        n += 1
                rows.append(vals)
            return list(res.columns[:-1]), rows, n
    res = run_query(con, validated, timeout_s=timeout_s)
    counts: set[int] = set()
    if isinstance(root, exp.Select):
        counts = {i for i, e in enumerate(root.expressions) if e.find(exp.Count) is not None}
    n = 0
    rows = []
    for r in res.rows:
        vals = list(r)
        for i, v in enumerate(vals):
            if (i in counts or not counts) and isinstance(v, int) and not isinstance(v, bool) and 0 < v < k:
                vals[i] = f"<{k}"
                n += 1
        rows.append(vals)
    return list(res.columns), rows, n


def jsonable(v: Any) -> Any:
    """A result value as JSON can carry it (dates as ISO text, anything else odd as text)."""
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)
