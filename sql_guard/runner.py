"""Read-only, hardened execution of guarded SQL on a DuckDB mart.

Why a hardened connection when every SQL already passed the guard: the guard is a parser-level check
and parsers have bugs; the database's own settings are a second, independent wall. The mart is opened
with ``read_only=True`` (no write, whatever the SQL), ``enable_external_access=false`` (no file,
network, ATTACH or COPY outside the database file), no extension auto-install / auto-load, and then
``lock_configuration=true`` so that no later statement can switch any of this back.

Time limit: DuckDB has no server-side ``statement_timeout``; :func:`run_query` arms a
:class:`threading.Timer` that calls ``interrupt()`` on the query's cursor and turns the resulting
interrupt into :class:`~sql_guard.errors.QueryTimeout`. Each query runs on its own cursor (a DuckDB
connection sharing the same database and settings), so one connection can serve several threads
(API workers) and an interrupt can only ever hit the query it was armed for. :func:`execute_internal`
gives the same time limit and error scrubbing to SQL that this package's callers build themselves
(cohort hashes, charts, imaging manifests) and fetch in batches.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import duckdb

from cohort_engine.sql_guard.errors import GuardError, MartError, QueryError, QueryTimeout
from cohort_engine.sql_guard.guard import ValidatedSQL, revalidate, validate

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "REQUIRED_TABLES",
    "GuardError",
    "MartError",
    "QueryError",
    "QueryResult",
    "QueryTimeout",
    "execute_internal",
    "guarded_query",
    "open_mart",
    "run_query",
]

DEFAULT_TIMEOUT_S = 30.0
#: Tables whose presence makes a DuckDB file an OMOP mart for this engine (checked case-insensitively).
REQUIRED_TABLES: tuple[str, ...] = ("person", "concept")

#: Settings applied when the database is opened. ``lock_configuration`` is set afterwards.
HARDENED_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    # DuckDB's Python client would otherwise resolve an unknown table name to a same-named pandas /
    # Arrow object in the caller's frames (a catalogued table missing from a mart, e.g. ``note``)
    "python_enable_replacements": False,
}


@dataclass(frozen=True)
class QueryResult:
    """Rows of a guarded query.

    ``truncated`` is True when as many rows came back as the LIMIT allowed, i.e. there may be more.
    """

    columns: list[str]
    rows: list[tuple[Any, ...]]
    limit: int
    sql: str = field(repr=False)

    @property
    def truncated(self) -> bool:
        return len(self.rows) >= self.limit


def open_mart(
    path: str | PathLike[str],
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open an OMOP mart read-only with external access disabled and the configuration locked.

    Args:
        path: the DuckDB database file.
        threads: DuckDB worker threads (default: DuckDB's, i.e. all cores).
        memory_limit: DuckDB memory limit, e.g. ``"2GB"`` (default: DuckDB's).

    Raises:
        MartError: the file is missing, is not a DuckDB database (or is locked by a writer), or lacks
            the OMOP tables ``person`` and ``concept``.
    """
    p = Path(path)
    if not p.is_file():
        raise MartError(f"mart file not found: {p} (give the path of an OMOP CDM DuckDB database)")
    config: dict[str, Any] = dict(HARDENED_CONFIG)
    if threads is not None:
        config["threads"] = int(threads)
    if memory_limit is not None:
        config["memory_limit"] = str(memory_limit)
    try:
        con = duckdb.connect(str(p), read_only=True, config=config)
    except duckdb.Error as e:
        if "different configuration" in str(e):
            raise MartError(
                f"{p} is already open in this process with other settings (DuckDB shares one database "
                "instance per file and process); close that connection, or open the mart only through "
                "open_mart with the same threads / memory_limit"
            ) from None
        raise MartError(
            f"cannot open {p} as a read-only DuckDB database ({type(e).__name__}): "
            "is it a DuckDB file, of a compatible version, and not held open by a writer?"
        ) from None
    try:
        found = {
            str(name).lower()
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE lower(table_schema) = 'main'"
            ).fetchall()
        }
        missing = [t for t in REQUIRED_TABLES if t not in found]
        if missing:
            raise MartError(
                f"{p} is a DuckDB database but not an OMOP mart: missing table(s) {', '.join(missing)}"
            )
        _lock_and_verify(con, p)
    except BaseException:
        con.close()
        raise
    return con


def _lock_and_verify(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Lock the configuration, then read the hardening back rather than trust it.

    A second ``open_mart`` of the same file shares DuckDB's database instance, whose configuration is
    already locked (setting it again would fail), so the lock is only set when not yet in force.
    """
    (locked,) = con.execute("SELECT current_setting('lock_configuration')").fetchone() or (False,)
    if not locked:
        con.execute("SET lock_configuration = true")
    names = [*HARDENED_CONFIG, "lock_configuration"]
    row = con.execute("SELECT " + ", ".join(f"current_setting('{name}')" for name in names)).fetchone()
    expected = [*HARDENED_CONFIG.values(), True]
    wrong = [n for n, got, want in zip(names, row or (), expected, strict=True) if bool(got) != want]
    if wrong:
        raise MartError(f"{path} could not be opened hardened: {', '.join(wrong)} not in force")


_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_LONG_NUMBER = re.compile(r"\d{4,}")


def _scrub(message: str) -> str:
    """First line of a DuckDB error, with quoted text and long numbers redacted.

    DuckDB messages echo values (``Could not convert string 'X' to INT32``) and, on later lines, the
    query text; both may be identifying, and these messages reach API responses and logs.
    """
    first = message.strip().splitlines()[0] if message.strip() else ""
    first = _QUOTED.sub("'…'", first)
    return _LONG_NUMBER.sub("#", first)[:300]


@contextmanager
def _time_limited(cursor: duckdb.DuckDBPyConnection, timeout_s: float | None) -> Iterator[None]:
    """Interrupt ``cursor`` after ``timeout_s`` (None: no limit); DuckDB errors raised inside become
    :class:`QueryTimeout` (the interrupt) or :class:`QueryError` (message scrubbed of values)."""
    if timeout_s is not None and timeout_s <= 0:
        raise ValueError("timeout_s must be positive")
    fired = threading.Event()
    timer: threading.Timer | None = None
    if timeout_s is not None:

        def _interrupt() -> None:
            fired.set()
            cursor.interrupt()

        timer = threading.Timer(timeout_s, _interrupt)
        timer.daemon = True
        timer.start()
    try:
        yield
    except duckdb.Error as e:
        if fired.is_set() or isinstance(e, duckdb.InterruptException):
            raise QueryTimeout(timeout_s or 0.0) from None
        raise QueryError(type(e).__name__, _scrub(str(e))) from None
    finally:
        if timer is not None:
            timer.cancel()


def execute_internal(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence[Any] | None = None,
    *,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> duckdb.DuckDBPyConnection:
    """Run SQL built by the engine itself (not a user's text: it is not guarded here) on its own cursor
    with a time limit; return that cursor, executed, for the caller to fetch from and close.

    ``timeout_s=None`` runs without a limit.  Raises :class:`QueryTimeout` or :class:`QueryError`
    (DuckDB's message scrubbed of values), never a raw ``duckdb.Error``.
    """
    cursor = con.cursor()
    try:
        with _time_limited(cursor, timeout_s):
            cursor.execute(sql, list(params) if params else [])
    except BaseException:
        cursor.close()
        raise
    return cursor


def run_query(
    con: duckdb.DuckDBPyConnection,
    validated: ValidatedSQL,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> QueryResult:
    """Run a guarded query with a time limit and return its rows.

    ``validated`` is validated again first (:func:`sql_guard.guard.revalidate`), so that a hand-built
    ValidatedSQL is held to the same rules; the re-validated SQL is what runs.

    Raises:
        GuardError: ``validated`` does not pass the guard.
        QueryTimeout: the query ran longer than ``timeout_s`` and was interrupted.
        QueryError: DuckDB refused or failed the query (message scrubbed of values).
    """
    if timeout_s <= 0:
        raise ValueError("timeout_s must be positive")
    checked = revalidate(validated)
    cursor = con.cursor()
    try:
        with _time_limited(cursor, timeout_s):
            cursor.execute(checked.sql)
            rows = cursor.fetchall()
            columns = [d[0] for d in cursor.description or []]
    finally:
        cursor.close()
    return QueryResult(columns=columns, rows=rows, limit=checked.limit, sql=checked.sql)


def guarded_query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    **validate_kwargs: Any,
) -> QueryResult:
    """Validate ``sql`` (keyword arguments go to :func:`sql_guard.guard.validate`) and run it."""
    return run_query(con, validate(sql, **validate_kwargs), timeout_s=timeout_s)
