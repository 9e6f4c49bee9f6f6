"""A PostgreSQL mart behind the small part of DuckDB's connection interface that the engine uses.

Why a facade and not a second code path: the pipeline, the runner, the vocabulary and the eval
runner all hold "a connection" and call ``execute(sql, params)``, ``fetchall``/``fetchone``,
``description``, ``cursor()``, ``interrupt()`` and ``close()`` on it, with DuckDB SQL (the compiler's
and the guard's output). :class:`PgMart` offers exactly that: each statement is rendered for
PostgreSQL from its sqlglot tree (:mod:`sql_guard.dialect_shapes`) and run on a connection from a
pool, so every caller works on PostgreSQL unchanged.

Read-only, twice over, like a DuckDB mart: every pooled session starts with
``default_transaction_read_only=on`` and a ``statement_timeout`` (read back after connecting rather
than trusted), and the guard has validated every user statement before it arrives. The role the URL
names should itself be read-only (docs/SCALE.md shows one); a session setting is a default that a
statement could change, a role's grants are not.

Errors come back as DuckDB's exception classes (``duckdb.InterruptException`` for a cancelled
statement, ``duckdb.CatalogException`` for an unknown name, …) carrying only the SQLSTATE, so the
runner's time limit, its scrubbing of database messages and every ``except duckdb.Error`` keep
working; PostgreSQL's own text, which quotes values, is never passed on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.numeric import NumericLoader
from psycopg_pool import ConnectionPool, PoolTimeout
from sqlglot import exp

from cohort_engine.schema_catalog.mart_url import MartLocation
from cohort_engine.sql_guard.dialect_shapes import (
    FetchedRows,
    StatementCache,
    bind_parameters,
    concept_set_ctes,
    inline_concept_sets,
    inline_temp_tables,
    temp_table_statement,
    to_postgres,
)
from cohort_engine.sql_guard.errors import MartError
from cohort_engine.sql_guard.pg_rows import RowsTooLarge, arrow_relation, number_row_parameters, tokens_in

__all__ = ["DEFAULT_POOL_SIZE", "DEFAULT_STATEMENT_TIMEOUT_S", "PgMart", "open_pg_mart"]

#: Most pooled sessions per opened mart (the API's workers share them).
DEFAULT_POOL_SIZE = 8
#: The server-side limit of any one statement: a backstop behind the runner's own time limit.
DEFAULT_STATEMENT_TIMEOUT_S = 600
#: Seconds to wait for the first connection before the mart is reported unreachable.
CONNECT_TIMEOUT_S = 10.0
REQUIRED_TABLES: tuple[str, ...] = ("person", "concept")


class _NumberLoader(NumericLoader):
    """``numeric`` as DuckDB hands its values over: a whole number as int, anything else as float
    (``sum``/``avg`` results feed JSON and arithmetic that a ``Decimal`` would break)."""

    def load(self, data: Any) -> Any:
        value = super().load(data)
        if isinstance(value, Decimal):
            if not value.is_finite():
                return float(value)
            exponent = value.as_tuple().exponent
            return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
        return value


def _duckdb_error(e: psycopg.Error) -> duckdb.Error:
    """The DuckDB exception that means the same, with the SQLSTATE only (see the module docstring)."""
    state = getattr(e, "sqlstate", None) or ""
    text = f"PostgreSQL error {state or type(e).__name__}"
    if isinstance(e, pg_errors.QueryCanceled):
        return duckdb.InterruptException(text)
    if isinstance(e, (pg_errors.UndefinedTable, pg_errors.UndefinedColumn, pg_errors.UndefinedFunction)):
        return duckdb.CatalogException(text)
    if isinstance(e, pg_errors.SyntaxError):
        return duckdb.ParserException(text)
    if isinstance(e, (pg_errors.ReadOnlySqlTransaction, pg_errors.InsufficientPrivilege)):
        return duckdb.PermissionException(text)
    if isinstance(e, pg_errors.NumericValueOutOfRange):
        return duckdb.OutOfRangeException(text)
    if isinstance(e, pg_errors.OutOfMemory):
        return duckdb.OutOfMemoryException(text)
    if isinstance(e, pg_errors.DataError):
        return duckdb.ConversionException(text)
    if isinstance(e, pg_errors.FeatureNotSupported):
        return duckdb.NotImplementedException(text)
    if isinstance(e, pg_errors.ProgrammingError):
        return duckdb.BinderException(text)
    return duckdb.Error(text)


class _Shared:
    """What the root connection and its cursors share: the pool and the parse cache."""

    def __init__(self, location: MartLocation, pool: ConnectionPool) -> None:
        self.location = location
        self.pool = pool
        self.statements = StatementCache("PostgreSQL")


class PgMart(FetchedRows):
    """A DuckDB-connection-shaped handle on a PostgreSQL mart (see the module docstring).

    ``cursor()`` returns another handle on the same pool with its own result and its own temporary
    tables, as a DuckDB cursor is a connection of its own. One handle serves one thread at a time.
    """

    def __init__(self, shared: _Shared, *, root: bool) -> None:
        self._shared = shared
        self._root = root
        self._temps: dict[str, exp.Expr] = {}
        #: Arrow tables registered on this handle (:meth:`register`) and their columns' values.
        self._registered: dict[str, exp.Expr] = {}
        self._arrays: dict[str, list[Any]] = {}
        self._rows: list[tuple[Any, ...]] = []
        self._next = 0
        self._description: list[tuple[Any, ...]] | None = None
        self._active: psycopg.Connection[Any] | None = None
        self._closed = False

    @property
    def location(self) -> MartLocation:
        return self._shared.location

    @property
    def description(self) -> list[tuple[Any, ...]] | None:
        return self._description

    def cursor(self) -> PgMart:
        self._check_open()
        return PgMart(self._shared, root=False)

    def render(self, sql: str, parameters: Sequence[Any] | None = None) -> str | None:
        """The PostgreSQL text that :meth:`execute` sends for a DuckDB statement, or None for a
        temporary table's CREATE / DROP (kept by this handle, see :mod:`sql_guard.dialect_shapes`)."""
        return self._render(sql, parameters)[0]

    def register(self, name: str, table: Any) -> PgMart:
        """DuckDB's ``register``: an Arrow table readable as ``name`` by this handle's statements, its
        columns sent as array parameters beside each statement that reads it (sql_guard.pg_rows: a
        read-only session cannot create a table, and the rows never enter the SQL text)."""
        self._check_open()
        try:
            query, arrays = arrow_relation(name.lower(), table)
        except RowsTooLarge as e:
            raise duckdb.InvalidInputException(str(e)) from None
        self._registered[name.lower()] = query
        self._arrays.update(arrays)
        self._forget_unread_arrays()
        return self

    def unregister(self, name: str) -> PgMart:
        """DuckDB's ``unregister`` (a temporary table made from the rows keeps them)."""
        self._registered.pop(name.lower(), None)
        self._forget_unread_arrays()
        return self

    def sql(self, query: str) -> _PgRelation:
        """DuckDB's relational ``sql``, for the one use the engine makes of it: reading a statement's
        rows as Arrow record batches (deid.records)."""
        self._check_open()
        return _PgRelation(self, query)

    def _forget_unread_arrays(self) -> None:
        read = set().union(*(tokens_in(t) for t in [*self._registered.values(), *self._temps.values()]))
        for token in [t for t in self._arrays if t not in read]:
            del self._arrays[token]

    def _render(self, sql: str, parameters: Sequence[Any] | None) -> tuple[str | None, bool]:
        """(the PostgreSQL text, whether it reads a remembered temporary table)."""
        text, reads_temps, _ = self._render_with_rows(sql, parameters)
        return text, reads_temps

    def _render_with_rows(
        self, sql: str, parameters: Sequence[Any] | None
    ) -> tuple[str | None, bool, list[list[Any]]]:
        """(the PostgreSQL text, whether it reads a remembered temporary table, the values of its
        ``$n`` array parameters: the registered tables it reads)."""
        self._check_open()
        parsed = self._shared.statements.parse(sql)
        tree = parsed.tree.copy()
        params = list(parameters or [])
        if parsed.placeholders or params:
            try:
                bind_parameters(tree, params)
            except ValueError as e:
                raise duckdb.InvalidInputException(str(e)) from None
        temp = temp_table_statement(tree)
        if temp is not None:
            if temp.query is None:
                self._temps.pop(temp.name, None)
            elif not (temp.if_not_exists and temp.name in self._temps):
                self._temps.pop(temp.name, None)
                query = inline_temp_tables(temp.query, self._registered)
                self._temps[temp.name] = inline_temp_tables(query, self._temps)
            self._forget_unread_arrays()
            return None, False, []
        before = tree.sql()
        tree = inline_temp_tables(tree, self._temps)
        reads_temps = tree.sql() != before
        tree = inline_temp_tables(tree, self._registered)
        arrays = number_row_parameters(tree, self._arrays)
        sets = concept_set_ctes(tree)
        if sets:
            tree = inline_concept_sets(tree, {name: self._concept_set(body) for name, body in sets.items()})
        return to_postgres(tree, identity=self.location.display), reads_temps, arrays

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> PgMart:
        """Run one DuckDB statement on PostgreSQL; rows are fetched at once (guarded queries are
        bounded by their LIMIT, engine-built ones are small).

        A statement over a remembered temporary table runs with ``enable_nestloop=off``: its
        ``MATERIALIZED`` CTE has no statistics, PostgreSQL guesses 1–200 rows for it and for what is
        built on it, and picks nested loops over them (36 s for one definition's attrition on the 200k
        mart, 383M join-filter comparisons; 1.8 s with hash joins). The pool's reset undoes the setting.
        """
        self._rows, self._next, self._description = [], 0, None
        text, reads_temps, arrays = self._render_with_rows(sql, parameters)
        if text is None:
            return self
        try:
            with self._shared.pool.connection() as conn:
                self._active = conn
                try:
                    if reads_temps:
                        conn.execute("SET enable_nestloop = off")
                    # registered rows: server-side $n parameters (sql_guard.pg_rows)
                    cur: psycopg.Cursor[Any] = (
                        psycopg.RawCursor(conn).execute(text.encode("utf-8"), arrays)
                        if arrays
                        else conn.execute(text.encode("utf-8"))
                    )
                    if cur.description is not None:
                        self._description = [tuple(c) for c in cur.description]
                        self._rows = cur.fetchall()
                finally:
                    self._active = None
        except psycopg.Error as e:
            raise _duckdb_error(e) from None
        except PoolTimeout:
            raise duckdb.ConnectionException("no PostgreSQL session came free in time") from None
        return self

    def forget_concept_sets(self) -> None:
        """Drop the remembered concept sets of this mart (a benchmark's cold start)."""
        self._shared.statements.forget_concept_sets()

    def _concept_set(self, body: exp.Query) -> list[int]:
        """The concept ids of a constant concept-set query, run once per mart (vocabulary tables do
        not change under a read-only session)."""
        text = to_postgres(body.copy())

        def fetch() -> list[int]:
            try:
                with self._shared.pool.connection() as conn:
                    rows = conn.execute(text.encode("utf-8")).fetchall()
            except psycopg.Error as e:
                raise _duckdb_error(e) from None
            return [int(r[0]) for r in rows if r[0] is not None]

        return self._shared.statements.concept_ids(text, fetch)

    def interrupt(self) -> None:
        """Cancel the statement running on this handle (from another thread), if any."""
        conn = self._active
        if conn is not None:
            try:
                conn.cancel_safe(timeout=5.0)
            except psycopg.Error:
                return

    def close(self) -> None:
        """A cursor forgets its tables and rows; the root connection also closes the pool."""
        self._temps.clear()
        self._registered.clear()
        self._arrays.clear()
        self._rows = []
        if self._root and not self._closed:
            self._shared.pool.close()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise duckdb.ConnectionException("Connection already closed")

    def __enter__(self) -> PgMart:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _PgRelation:
    """What :meth:`PgMart.sql` returns: a statement whose rows are read as Arrow record batches.

    The rows are fetched whole and cut into batches: the engine's callers already bound each
    statement (deid.records reads one slice of persons per statement)."""

    def __init__(self, mart: PgMart, query: str) -> None:
        self._mart = mart
        self._query = query

    def to_arrow_reader(self, batch_size: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        cur = self._mart.execute(self._query)
        names = [str(d[0]) for d in cur.description or []]
        while rows := cur.fetchmany(max(1, batch_size)):
            columns = list(zip(*rows, strict=True))
            yield pa.RecordBatch.from_arrays([pa.array(list(c)) for c in columns], names=names)

    record_batch = to_arrow_reader


def _session_conninfo(conninfo: str, statement_timeout_s: int) -> str:
    """The URL's parameters plus the session settings that make every transaction read-only."""
    params = conninfo_to_dict(conninfo)
    # jit=off: the compiled cohort's estimated cost (nested EXISTS) makes PostgreSQL JIT-compile it,
    # which took 0.86 s of a 0.98 s seed question on the demo mart; the plan itself ran in 0.12 s
    ours = (
        f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_s * 1000)} "
        "-c jit=off"
    )
    params["options"] = f"{params['options']} {ours}" if params.get("options") else ours
    params.setdefault("application_name", "cohort-engine")
    params.setdefault("connect_timeout", str(int(CONNECT_TIMEOUT_S)))
    return make_conninfo("", **params)


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Each new session: numbers as DuckDB returns them, then the read-only settings read back."""
    conn.adapters.register_loader("numeric", _NumberLoader)
    row = conn.execute("SELECT current_setting('default_transaction_read_only')").fetchone()
    if not row or row[0] != "on":
        raise psycopg.OperationalError("the session did not come up read-only")


def _reset(conn: psycopg.Connection[Any]) -> None:
    """A session going back to the pool returns to its start-up settings (read-only, time limit),
    whatever a statement set on it: the next borrower must not inherit a change."""
    conn.execute("RESET ALL")


def open_pg_mart(
    location: MartLocation,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    statement_timeout_s: int = DEFAULT_STATEMENT_TIMEOUT_S,
) -> PgMart:
    """Open a pool of read-only sessions on the PostgreSQL mart ``location`` and check that it holds
    the OMOP tables ``person`` and ``concept`` in its current schema.

    Raises:
        MartError: the server cannot be reached or refuses the login (the message names the URL
            without its password), the session is not read-only, or the OMOP tables are missing.
    """
    if location.kind != "postgresql":
        raise ValueError(f"not a PostgreSQL mart: {location.display}")
    try:
        conninfo = _session_conninfo(location.conninfo, statement_timeout_s)
    except psycopg.Error:
        raise MartError(f"not a valid PostgreSQL URL: {location.display}") from None
    reason = _connect_reason(conninfo)  # one direct try first: libpq's reason, at once
    if reason is not None:
        raise MartError(f"cannot open the PostgreSQL mart {location.display}: {reason}")
    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max(1, pool_size),
        kwargs={"autocommit": True},
        configure=_configure,
        reset=_reset,
        open=False,
        name="cohort-mart",
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    except PoolTimeout:
        pool.close()
        raise MartError(f"cannot open the PostgreSQL mart {location.display}: the pool timed out") from None
    mart = PgMart(_Shared(location, pool), root=True)
    try:
        found = {
            str(name).lower()
            for (name,) in mart.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            ).fetchall()
        }
    except duckdb.Error:
        mart.close()
        raise MartError(f"cannot read the catalog of the PostgreSQL mart {location.display}") from None
    missing = [t for t in REQUIRED_TABLES if t not in found]
    if missing:
        mart.close()
        raise MartError(
            f"{location.display} is a PostgreSQL database but not an OMOP mart: missing table(s) "
            f"{', '.join(missing)} in its current schema (load one with `cohort demo-data --target URL`)"
        )
    return mart


def _connect_reason(conninfo: str) -> str | None:
    """Why a connection fails, in libpq's words (they name the host, never the password); None when
    it succeeds."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            _configure(conn)
    except psycopg.Error as e:
        lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
        return (lines[-1] if lines else type(e).__name__)[:200]
    return None
