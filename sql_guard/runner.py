"""Read-only, hardened execution of guarded SQL on a DuckDB mart.

Why a hardened connection when every SQL already passed the guard: the guard is a parser-level check
and parsers have bugs; the database's own settings are a second, independent wall. The mart is opened
with ``read_only=True`` (no write, whatever the SQL), ``enable_external_access=false`` (no file,
network, ATTACH or COPY outside the database file), no extension auto-install / auto-load, and then
``lock_configuration=true`` so that no later statement can switch any of this back.

Resources: one runaway query must not take the server down or starve everyone else, so the database
instance gets a memory limit (:data:`DEFAULT_MEMORY_LIMIT`), a thread cap (:data:`DEFAULT_THREADS`)
and no spilling to disk (``temp_directory=''``, ``max_temp_directory_size=0``: a read-only mart has no
business writing ``<mart>.tmp`` next to itself, and a disk-filling query is as bad as a memory-filling
one). A query that needs more memory fails with a "out of memory" :class:`QueryError`. These bound the
whole instance; the guard (``sql_guard.guard``) bounds what one expression may expand to, because
DuckDB cannot interrupt a single scalar function call such as ``range(1e8)`` or ``repeat(s, 5e8)``.

Time limit: DuckDB has no server-side ``statement_timeout``; :func:`run_query` runs the statement on a
thread of its own while the calling thread watches it: at the limit it calls ``interrupt()`` on the
query's cursor, and again every :data:`REINTERRUPT_S` until the statement has ended (an interrupt that
lands between two phases of a query — planning, execution, fetching — is otherwise lost), and turns
the result into :class:`~sql_guard.errors.QueryTimeout`. A statement still running after
:data:`DEMOTE_AFTER_S` has its thread's CPU priority lowered, so that a runaway query gives way to
everyone's short ones rather than halving their speed. Each query runs on its own cursor (a DuckDB
connection sharing the same database and settings), so one connection can serve several threads
(API workers) and an interrupt can only ever hit the query it was armed for. :func:`execute_internal`
gives the same time limit and error scrubbing to SQL that this package's callers build themselves
(cohort hashes, charts, imaging manifests) and fetch in batches.

Evaluate once: :class:`EvalSession` keeps one cursor for several guarded statements, so that a cohort's
CTE chain is evaluated once into a temporary table (``CREATE TEMP TABLE … AS`` a guarded SELECT; a
DuckDB temporary table belongs to its own cursor's connection, lives in memory and is allowed on a
read-only database) and its counts, persons and images are read back from it by further guarded
statements. Nothing of it outlives the session.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar, cast

import duckdb

from cohort_engine.sql_guard.errors import GuardError, MartError, QueryError, QueryTimeout, describe_db_error
from cohort_engine.sql_guard.guard import ValidatedSQL, revalidate, validate
from cohort_engine.sql_guard.uploads import UPLOAD_TABLE, attach_uploads

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_THREADS",
    "DEFAULT_TIMEOUT_S",
    "REQUIRED_TABLES",
    "EvalSession",
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
#: DuckDB memory limit of an opened mart (the whole database instance, all cursors together).
DEFAULT_MEMORY_LIMIT = "1GB"
#: DuckDB worker threads of an opened mart: a few, never all cores of a shared server.
DEFAULT_THREADS = max(1, min(4, (os.cpu_count() or 1) // 2))
#: Seconds between repeated interrupts of a query that has passed its limit and not yet ended.
REINTERRUPT_S = 0.1
#: Seconds after which a query's thread yields the CPU to shorter queries (see :func:`_execute`).
DEMOTE_AFTER_S = 1.0
#: The nice value of a demoted query thread (the lowest priority).
DEMOTED_NICE = 19

T = TypeVar("T")
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
    # no spilling: nothing is written next to the mart or anywhere else
    "temp_directory": "",
    "max_temp_directory_size": "0B",
}
#: How each setting of HARDENED_CONFIG reads back through ``current_setting``.
_READ_BACK: dict[str, Any] = {
    **{k: v for k, v in HARDENED_CONFIG.items() if isinstance(v, bool)},
    "temp_directory": "",
    "max_temp_directory_size": "0 bytes",
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
    """Open an OMOP mart read-only with external access disabled, resources bounded, the configuration
    locked.

    Args:
        path: the DuckDB database file.
        threads: DuckDB worker threads (default :data:`DEFAULT_THREADS`).
        memory_limit: DuckDB memory limit, e.g. ``"2GB"`` (default :data:`DEFAULT_MEMORY_LIMIT`).

    Raises:
        MartError: the file is missing, is not a DuckDB database (or is locked by a writer), or lacks
            the OMOP tables ``person`` and ``concept``.
    """
    pg = _postgres_mart(path)
    if pg is not None:
        return pg
    spark = _spark_mart(path)
    if spark is not None:
        return spark
    p = Path(path)
    if not p.is_file():
        raise MartError(f"mart file not found: {p} (give the path of an OMOP CDM DuckDB database)")
    config: dict[str, Any] = dict(HARDENED_CONFIG)
    config["threads"] = int(threads if threads is not None else DEFAULT_THREADS)
    config["memory_limit"] = str(memory_limit if memory_limit is not None else DEFAULT_MEMORY_LIMIT)
    if config["threads"] < 1:
        raise ValueError("threads must be at least 1")
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


def _postgres_mart(path: str | PathLike[str]) -> duckdb.DuckDBPyConnection | None:
    """The mart a ``postgresql://`` value names, opened read-only (sql_guard.pg_mart: a PostgreSQL
    mart behind the DuckDB connection interface every caller uses); None for a DuckDB path."""
    from cohort_engine.schema_catalog.mart_url import MartLocationError, parse_mart

    try:
        location = parse_mart(path)
    except MartLocationError as e:
        raise MartError(str(e)) from None
    if location.kind != "postgresql":
        return None
    try:
        from cohort_engine.sql_guard.pg_mart import open_pg_mart
    except ModuleNotFoundError:
        raise MartError(
            "PostgreSQL marts need psycopg and psycopg-pool: pip install 'cohort-engine[postgres]'"
        ) from None
    return cast("duckdb.DuckDBPyConnection", open_pg_mart(location))


def _spark_mart(path: str | PathLike[str]) -> duckdb.DuckDBPyConnection | None:
    """The Parquet mart a ``spark-local:DIR`` / ``spark://…?parquet=DIR`` value names, read by Spark
    (sql_guard.spark_mart: behind the same DuckDB connection interface); None for anything else."""
    from cohort_engine.schema_catalog.mart_url import MartLocationError, parse_mart

    try:
        location = parse_mart(path)
    except MartLocationError as e:
        raise MartError(str(e)) from None
    if location.kind != "spark":
        return None
    try:
        from cohort_engine.sql_guard.spark_mart import open_spark_mart
    except ModuleNotFoundError:
        raise MartError("Spark marts need PySpark: pip install 'cohort-engine[spark]'") from None
    return cast("duckdb.DuckDBPyConnection", open_spark_mart(location))


def _lock_and_verify(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Lock the configuration, then read the hardening back rather than trust it.

    A second ``open_mart`` of the same file shares DuckDB's database instance, whose configuration is
    already locked (setting it again would fail), so the lock is only set when not yet in force.
    """
    (locked,) = con.execute("SELECT current_setting('lock_configuration')").fetchone() or (False,)
    if not locked:
        con.execute("SET lock_configuration = true")
    names = [*_READ_BACK, "lock_configuration"]
    row = con.execute("SELECT " + ", ".join(f"current_setting('{name}')" for name in names)).fetchone()
    expected = [*_READ_BACK.values(), True]
    wrong = [
        n
        for n, got, want in zip(names, row or (), expected, strict=True)
        if (bool(got) != want if isinstance(want, bool) else str(got) != want)
    ]
    if wrong:
        raise MartError(f"{path} could not be opened hardened: {', '.join(wrong)} not in force")


def _demote(thread: threading.Thread) -> None:
    """Lower the OS scheduling priority of ``thread`` alone (Linux: a thread id is a process id for
    ``setpriority``). Best effort: elsewhere, or without permission, the query runs on unchanged."""
    tid = thread.native_id
    if tid is None or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, tid, DEMOTED_NICE)
    except OSError:
        return


def _execute(cursor: duckdb.DuckDBPyConnection, work: Callable[[], T], timeout_s: float | None) -> T:
    """``work()`` (which uses ``cursor``) on a thread of its own, watched by the calling thread.

    After :data:`DEMOTE_AFTER_S` the query's thread gets the lowest CPU priority, so that a long
    query yields the cores to short ones (an ask) instead of sharing them evenly; at ``timeout_s``
    (None: no limit) the cursor is interrupted, and again every :data:`REINTERRUPT_S` until ``work``
    has ended. A thread per query, not a pool: the demoted priority must end with the query.

    Raises :class:`QueryTimeout` (the interrupt) or :class:`QueryError` (a fixed description of the
    kind of database error, never DuckDB's text, which quotes values).
    """
    if timeout_s is not None and timeout_s <= 0:
        raise ValueError("timeout_s must be positive")
    outcome: list[tuple[bool, Any]] = []
    done = threading.Event()

    def target() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as e:  # handed to the calling thread below
            outcome.append((False, e))
        finally:
            done.set()

    thread = threading.Thread(target=target, name="mart-query", daemon=True)
    started = time.monotonic()
    thread.start()
    fired = False
    first = min(DEMOTE_AFTER_S, math.inf if timeout_s is None else timeout_s)
    if not done.wait(None if math.isinf(first) else first):
        if time.monotonic() - started >= DEMOTE_AFTER_S:
            _demote(thread)
        left = None if timeout_s is None else max(0.0, timeout_s - (time.monotonic() - started))
        if not done.wait(left):
            fired = True
            while not done.is_set():
                try:
                    cursor.interrupt()
                except duckdb.Error:  # the cursor is already closed: nothing left to stop
                    break
                done.wait(REINTERRUPT_S)
    thread.join()
    ok, value = outcome[0]
    if ok:
        return cast(T, value)
    if isinstance(value, duckdb.Error):
        if fired or isinstance(value, duckdb.InterruptException):
            raise QueryTimeout(timeout_s or 0.0) from None
        kind, detail = describe_db_error(value)
        raise QueryError(kind, detail) from None
    if isinstance(value, (ValueError, OverflowError)):
        # a value DuckDB returned that Python cannot hold (a date beyond year 9999, …); the message
        # would quote it
        raise QueryError(
            "ConversionException", "a result value cannot be represented in the response"
        ) from None
    raise value


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
        attach_uploads(cursor)  # the run's own uploaded lists, inside sql_guard.uploads.session_uploads
        _execute(cursor, lambda: cursor.execute(sql, list(params) if params else []), timeout_s)
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
    if UPLOAD_TABLE in checked.tables:
        attach_uploads(cursor)

    def work() -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor.execute(checked.sql)
        rows = cursor.fetchall()
        return [d[0] for d in cursor.description or []], rows

    try:
        columns, rows = _execute(cursor, work, timeout_s)
    finally:
        cursor.close()
    return QueryResult(columns=columns, rows=rows, limit=checked.limit, sql=checked.sql)


_TEMP_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class EvalSession:
    """Guarded statements on one cursor of ``con``, sharing that cursor's temporary tables.

    Use as a context manager; on exit every table it materialised is dropped and the cursor closed.
    Each statement has its own time limit (``timeout_s``), like :func:`run_query`.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.timeout_s = timeout_s
        self.cursor = con.cursor()
        self._tables: list[str] = []
        try:
            attach_uploads(self.cursor)  # inside sql_guard.uploads.session_uploads: the run's own lists
        except BaseException:
            self.cursor.close()
            raise

    def materialise(self, table: str, validated: ValidatedSQL) -> None:
        """Run a guarded SELECT into the temporary table ``table`` (replacing one of that name).

        The SELECT is re-validated like every statement the runner executes; the only text added
        around it is ``CREATE OR REPLACE TEMP TABLE <plain name> AS``.
        """
        if not _TEMP_NAME.match(table):
            raise ValueError(f"not a plain table name: {table!r}")
        checked = revalidate(validated)
        sql = f"CREATE OR REPLACE TEMP TABLE {table} AS {checked.sql}"
        _execute(self.cursor, lambda: self.cursor.execute(sql), self.timeout_s)
        if table not in self._tables:
            self._tables.append(table)

    def query(self, validated: ValidatedSQL) -> QueryResult:
        """Run a guarded query on this session's cursor (see :func:`run_query`)."""
        checked = revalidate(validated)

        def work() -> tuple[list[str], list[tuple[Any, ...]]]:
            self.cursor.execute(checked.sql)
            rows = self.cursor.fetchall()
            return [d[0] for d in self.cursor.description or []], rows

        columns, rows = _execute(self.cursor, work, self.timeout_s)
        return QueryResult(columns=columns, rows=rows, limit=checked.limit, sql=checked.sql)

    def fetch_internal(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of SQL the engine built itself over this session's tables (not a user's text: not
        guarded here, like :func:`execute_internal`), with the same time limit and error scrubbing."""

        def work() -> list[tuple[Any, ...]]:
            return self.cursor.execute(sql).fetchall()

        return _execute(self.cursor, work, self.timeout_s)

    def close(self) -> None:
        try:
            for table in self._tables:
                try:
                    self.cursor.execute(f"DROP TABLE IF EXISTS temp.{table}")
                except duckdb.Error:  # the cursor is gone with its tables
                    break
        finally:
            self._tables.clear()
            self.cursor.close()

    def __enter__(self) -> EvalSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def guarded_query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    **validate_kwargs: Any,
) -> QueryResult:
    """Validate ``sql`` (keyword arguments go to :func:`sql_guard.guard.validate`) and run it."""
    return run_query(con, validate(sql, **validate_kwargs), timeout_s=timeout_s)
