"""A researcher's own uploaded patient lists, as one temporary table on the cursors of one run.

Why a temporary table and not SQL text: a list holds up to 100,000 persons, and the compiled SQL is
shown to its asker (``AskResult.sql``) and cached per spec; person ids in it would leave with the
answer. The compiler only names :data:`UPLOAD_TABLE` and the list's name; the rows reach DuckDB beside
the SQL, on the run's own cursors (a DuckDB temporary table belongs to one connection, lives in
memory and is allowed on a read-only mart). On a PostgreSQL mart, whose sessions are read-only and
cannot create even a temporary table, the same two calls (``register``, ``CREATE TEMP TABLE … AS``)
make the list a CTE over array *parameters* sent beside each statement that reads it
(``sql_guard.pg_rows``): still no person id in any SQL text, at most ``pg_rows.MAX_ROWS`` rows a run.

Why a scope (:func:`session_uploads`): the guard accepts :data:`UPLOAD_TABLE` only while a caller that
loaded its owner's lists is running a cohort with them. Outside a scope the table is unknown to the
guard (a steward's ad-hoc SQL cannot name it) and no cursor has it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import duckdb

from cohort_engine.schema_catalog.tables import Table, col
from cohort_engine.sql_guard.errors import QueryError

if TYPE_CHECKING:  # pyarrow (with numpy: ~0.3 s) is imported by the functions that build a table, so that
    import pyarrow as pa  # `cohort ask` without an uploaded list never pays for it

__all__ = ["UPLOAD_TABLE", "UploadRows", "active_upload_tables", "attach_uploads", "session_uploads"]

#: The temporary table of a run's uploaded lists (all lists of the run, told apart by ``list_name``).
UPLOAD_TABLE = "cohort_upload"
_STAGING = "cohort_upload_rows"


@dataclass(frozen=True)
class UploadRows:
    """One stored list as the runner loads it: mapped persons and the list's own columns."""

    name: str
    person_ids: Sequence[int]
    values: Sequence[float | None] = field(default_factory=tuple)
    dates: Sequence[date | None] = field(default_factory=tuple)


_ACTIVE: contextvars.ContextVar[pa.Table | None] = contextvars.ContextVar("cohort_uploads", default=None)


def upload_table() -> Table:
    """:data:`UPLOAD_TABLE` as the guard sees it: persons and the list's own columns are quasi-identifiers,
    like the mart's person ids and dates."""
    return Table(
        name=UPLOAD_TABLE,
        description="Persons of the asker's own uploaded lists (temporary, per run).",
        columns=[
            col("list_name", "VARCHAR", "safe", "The list's name, as its owner saved it."),
            col("person_id", "BIGINT", "quasi", "Patient the uploaded identifier mapped to."),
            col("value", "DOUBLE", "quasi", "The list's own number column (label, score), if any."),
            col("list_date", "DATE", "quasi", "The list's own date column, if any."),
        ],
    )


@contextmanager
def session_uploads(lists: Sequence[UploadRows]) -> Iterator[None]:
    """Within the block, the guard accepts :data:`UPLOAD_TABLE` and every cursor the runner opens gets it."""
    token = _ACTIVE.set(_arrow(lists))  # built once per scope, attached to each cursor
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active_upload_tables() -> dict[str, Table]:
    """``{UPLOAD_TABLE: table}`` inside :func:`session_uploads`, else empty (for the guard)."""
    return {UPLOAD_TABLE: upload_table()} if _ACTIVE.get() is not None else {}


def _arrow(lists: Sequence[UploadRows]) -> pa.Table:
    import pyarrow as pa

    names: list[str] = []
    pids: list[int] = []
    values: list[float | None] = []
    dates: list[date | None] = []
    for lst in lists:
        n = len(lst.person_ids)
        names += [lst.name] * n
        pids += [int(p) for p in lst.person_ids]
        values += list(lst.values) if lst.values else [None] * n
        dates += list(lst.dates) if lst.dates else [None] * n
    return pa.table(
        {
            "list_name": pa.array(names, pa.string()),
            "person_id": pa.array(pids, pa.int64()),
            "value": pa.array(values, pa.float64()),
            "list_date": pa.array(dates, pa.date32()),
        }
    )


def attach_uploads(cursor: duckdb.DuckDBPyConnection) -> None:
    """Put the active lists on ``cursor`` as :data:`UPLOAD_TABLE` (nothing outside a scope)."""
    rows = _ACTIVE.get()
    if rows is None:
        return
    try:
        cursor.register(_STAGING, rows)
    except duckdb.InvalidInputException as e:  # a PostgreSQL mart's row limit: the message is counts only
        raise QueryError("InvalidInputException", f"the run's uploaded lists are too large: {e}") from None
    try:
        cursor.execute(f"CREATE OR REPLACE TEMP TABLE {UPLOAD_TABLE} AS SELECT * FROM {_STAGING}")
    finally:
        cursor.unregister(_STAGING)
