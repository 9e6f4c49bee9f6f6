"""A Parquet mart read by Spark, behind the small part of DuckDB's connection interface the engine uses.

Why a facade, as for PostgreSQL (:mod:`sql_guard.pg_mart`): the pipeline, the runner, the vocabulary
and the eval runner hold "a connection" and call ``execute(sql, params)``, ``fetch*``,
``description``, ``cursor()``, ``interrupt()`` and ``close()`` on it with DuckDB SQL. :class:`SparkMart`
offers exactly that over a folder of Parquet tables (``DIR/<table>/…parquet``, what ``cohort demo-data
--target parquet:DIR`` writes, or Hive-style partitioned folders): each table is a temporary view of
a Spark session, each statement is rendered for Spark from its sqlglot tree
(:func:`sql_guard.dialect_shapes.to_spark`), so every caller works unchanged.

One Spark driver per process (a JVM: seconds to start, hundreds of MB), started on first use: on
``local[2]`` it binds to the loopback only, with the UI off, few shuffle partitions, ANSI SQL (errors
where DuckDB errors too: bad casts, overflow), UTC session time and no SQL over raw file paths. Each
opened mart gets a session of its own on that driver (its own views); each cursor its own temporary
tables.

Read-only by construction: only a query (``SELECT``/``WITH``/set operations) is rendered; any other
statement is refused with ``PermissionException`` before Spark sees it; a statement may read only the
mart's tables, its CTEs and this handle's temporary tables (never a path, a table function or
``reflect``); the views read Parquet files and nothing writes them. ``CREATE TEMP TABLE x AS q`` (how
the runner evaluates a cohort once) is computed once into a checkpointed DataFrame under a view name
private to the handle; later statements read that.

Errors come back as DuckDB's exception classes carrying Spark's error condition and SQLSTATE only
(``TABLE_OR_VIEW_NOT_FOUND``, ``CAST_INVALID_INPUT`` …): Spark's message text quotes values, so it is
never passed on, and the driver's own logging (JVM and PySpark's query-context loggers) is switched off
for the same reason.

Catalog reads (``information_schema.tables/columns``, ``duckdb_databases()``) are answered by an empty
in-memory DuckDB database with the same tables and column types: Spark has no ``information_schema``.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from sqlglot import exp

from cohort_engine.schema_catalog.mart_url import SPARK_LOCAL_MASTER, MartLocation
from cohort_engine.sql_guard.dialect_shapes import (
    FetchedRows,
    StatementCache,
    bind_parameters,
    concept_set_ctes,
    inline_concept_sets,
    parse_duckdb,
    temp_table_statement,
    to_spark,
)
from cohort_engine.sql_guard.errors import MartError

__all__ = [
    "MIN_JAVA",
    "SPARK_CONF",
    "SparkMart",
    "java_problem",
    "open_spark_mart",
    "spark_session",
]

T = TypeVar("T")

#: The oldest Java that PySpark 4 runs on.
MIN_JAVA = 17
REQUIRED_TABLES: tuple[str, ...] = ("person", "concept")
#: Settings of the process's Spark driver (see the module docstring); the loopback-only and memory
#: settings are added for a local master only (a cluster's executors must reach the driver).
SPARK_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.runSQLOnFiles": "false",
    "spark.sql.catalogImplementation": "in-memory",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
}
_LOCAL_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    # 2 GB: with 1 GB the driver ran out of heap during the test suite's Spark modules (old generation
    # at 727 of 970 MB with two full collections on a passing run; a failing CI run lost the JVM, and
    # every later query was refused a connection)
    "spark.driver.memory": "2g",
    # one shuffle partition and broadcasts up to 64 MB: the seed question's evaluation on the demo
    # mart took 1.4 s instead of 2.8 s with Spark's defaults (4 partitions, 10 MB), on 2 cores
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.autoBroadcastJoinThreshold": str(64 * 1024 * 1024),
}
#: log4j2 configuration of the driver: nothing logged (Spark's task failures quote data values).
#: (Spark replaces a configuration without appenders by its own defaults, hence the null appender.)
_LOG4J = (
    "appender.quiet.type = Null\nappender.quiet.name = quiet\n"
    "rootLogger.level = off\nrootLogger.appenderRef.quiet.ref = quiet\n"
    # PySpark's driver counts as a shell, whose level Spark raises to WARN unless this logger has one
    "logger.spark.name = org.apache.spark\nlogger.spark.level = off\n"
)
#: Functions no statement may call on Spark, whatever the guard let through (they reach the JVM).
_FORBIDDEN_FUNCTIONS = frozenset({"reflect", "java_method", "try_reflect"})
_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
_URL = re.compile(r"^[a-z][a-z0-9+.\-]*://", re.IGNORECASE)

_lock = threading.Lock()
_session: Any = None
_master: str | None = None
_workdir: Path | None = None
_views = itertools.count(1)


def java_problem() -> str | None:
    """Why Spark cannot start here (no ``java``, or one older than :data:`MIN_JAVA`), or None."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).is_file():
        return (
            f"Spark marts need Java {MIN_JAVA} or newer and `java` was not found: install "
            "openjdk-17-jre-headless (scripts/setup-system.sh does) or set JAVA_HOME"
        )
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return f"Spark marts need Java {MIN_JAVA} or newer and `{java} -version` did not run"
    m = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    major = (int(m.group(2)) if m.group(1) == "1" and m.group(2) else int(m.group(1))) if m else 0
    if major < MIN_JAVA:
        return (
            f"Spark marts need Java {MIN_JAVA} or newer; {java} is "
            f"{'version ' + str(major) if major else 'of an unknown version'}: install "
            "openjdk-17-jre-headless or point JAVA_HOME at a newer Java"
        )
    return None


def _quiet_python_loggers() -> None:
    """PySpark logs every failed query's message (values included) through two loggers of its own;
    they are created here, as PySpark creates them, and disabled."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True


def _cleanup() -> None:
    global _session
    if _session is not None:
        with contextlib.suppress(Exception):  # the JVM may already be gone at exit
            _session.stop()
        _session = None
    if _workdir is not None:
        shutil.rmtree(_workdir, ignore_errors=True)


def spark_session(master: str = SPARK_LOCAL_MASTER) -> Any:
    """The process's Spark driver session on ``master``, started on first use.

    Raises:
        MartError: no usable Java, or this process already runs a driver on another master (Spark
            allows one per process).
    """
    global _session, _master, _workdir
    with _lock:
        if _session is not None:
            if master != _master:
                raise MartError(
                    f"this process already runs Spark on {_master}; one Spark master per process "
                    f"(open {master} from another process)"
                )
            return _session
        problem = java_problem()
        if problem:
            raise MartError(problem)
        from pyspark.sql import SparkSession

        _quiet_python_loggers()
        if master.startswith("local"):
            # the driver's own address lookup: loopback, rather than the first interface's address
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        _workdir = Path(tempfile.mkdtemp(prefix="cohort-spark-"))
        log4j = _workdir / "log4j2.properties"
        log4j.write_text(_LOG4J, "utf-8")
        conf = {
            **SPARK_CONF,
            **(_LOCAL_CONF if master.startswith("local") else {}),
            "spark.local.dir": str(_workdir / "local"),
            "spark.sql.warehouse.dir": str(_workdir / "warehouse"),
            "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log4j}",
        }
        builder = SparkSession.builder.master(master).appName("cohort-engine")
        for key, value in conf.items():
            builder = builder.config(key, value)
        try:
            session = builder.getOrCreate()
        except Exception as e:  # Py4J / JVM start-up failures; their text names hosts and paths only
            raise MartError(f"Spark could not start on {master} ({type(e).__name__})") from None
        session.sparkContext.setLogLevel("OFF")
        _session, _master = session, master
        atexit.register(_cleanup)
        return session


# -- errors --------------------------------------------------------------------------------------------

_CONDITION_CLASSES: tuple[tuple[tuple[str, ...], type[duckdb.Error]], ...] = (
    (("TABLE_OR_VIEW_NOT_FOUND", "UNRESOLVED_", "ROUTINE_NOT_FOUND"), duckdb.CatalogException),
    (("PARSE_", "INVALID_SQL_SYNTAX"), duckdb.ParserException),
    (("CAST_", "CANNOT_PARSE_", "INVALID_FORMAT", "DATETIME_"), duckdb.ConversionException),
    (
        ("DIVIDE_BY_ZERO", "ARITHMETIC_OVERFLOW", "NUMERIC_", "INVALID_ARRAY_INDEX"),
        duckdb.OutOfRangeException,
    ),
    (("UNSUPPORTED_",), duckdb.NotImplementedException),
    (("DATATYPE_MISMATCH", "WRONG_NUM_ARGS", "MISSING_", "AMBIGUOUS_", "GROUP_BY"), duckdb.BinderException),
)


def _duckdb_error(e: BaseException, *, interrupted: bool) -> duckdb.Error:
    """The DuckDB exception that means the same, with Spark's condition and SQLSTATE only."""
    if interrupted:
        return duckdb.InterruptException("Spark job cancelled")
    condition = ""
    state = ""
    getter = getattr(e, "getCondition", None) or getattr(e, "getErrorClass", None)
    if callable(getter):
        try:
            condition = str(getter() or "")
            state = str(e.getSqlState() or "")  # type: ignore[attr-defined]
        except Exception:  # a half-converted JVM error: its class name is enough
            condition = ""
    text = f"Spark error {condition or type(e).__name__}" + (f" (SQLSTATE {state})" if state else "")
    if "CANCELLED" in condition or "INTERRUPTED" in condition:
        return duckdb.InterruptException(text)
    if "OUT_OF_MEMORY" in condition or "OutOfMemory" in type(e).__name__:
        return duckdb.OutOfMemoryException(text)
    for prefixes, cls in _CONDITION_CLASSES:
        if any(condition.startswith(p) for p in prefixes):
            return cls(text)
    if type(e).__name__ in ("Py4JNetworkError", "Py4JError", "ConnectionRefusedError"):
        return duckdb.ConnectionException(text)
    if type(e).__name__ == "AnalysisException":
        return duckdb.BinderException(text)
    return duckdb.Error(text)


# -- the catalog ---------------------------------------------------------------------------------------


def _duckdb_type(spark_type: str) -> str:
    """The DuckDB column type of a Spark type (``simpleString``)."""
    base = spark_type.lower()
    simple = {
        "bigint": "BIGINT",
        "int": "INTEGER",
        "smallint": "SMALLINT",
        "tinyint": "TINYINT",
        "string": "VARCHAR",
        "date": "DATE",
        "double": "DOUBLE",
        "float": "FLOAT",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMPTZ",
        "timestamp_ntz": "TIMESTAMP",
        "binary": "BLOB",
    }
    if base in simple:
        return simple[base]
    m = re.fullmatch(r"decimal\((\d+),(\d+)\)", base)
    if m:
        return f"DECIMAL({m.group(1)},{m.group(2)})"
    return "VARCHAR"


def _catalog_database(schemas: dict[str, list[tuple[str, str]]]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB database with an empty table per view: what ``information_schema`` shows."""
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    for table, columns in schemas.items():
        cols = ", ".join(f'"{name}" {_duckdb_type(typ)}' for name, typ in columns)
        con.execute(f'CREATE TABLE "{table}" ({cols})')
    con.execute("SET lock_configuration = true")
    return con


def _is_catalog_table(t: exp.Table) -> bool:
    if isinstance(t.this, exp.Anonymous) and t.this.name.lower() == "duckdb_databases":
        return True
    return t.db.lower() == "information_schema"


def _local_catalog_functions(identity: str) -> Callable[[exp.Expr], exp.Expr]:
    """``duckdb_databases()`` as the mart's row (its display name) and ``current_setting
    ('access_mode')`` as ``read_only``, for the catalog database (how the pipeline learns a mart's
    identity and that it is read-only)."""

    def transform(node: exp.Expr) -> exp.Expr:
        if _is_catalog_table(node) if isinstance(node, exp.Table) else False:
            assert isinstance(node, exp.Table)
            if isinstance(node.this, exp.Anonymous):
                sub = parse_duckdb(
                    f"SELECT {exp.Literal.string(identity).sql('duckdb')} AS path, "
                    "current_database() AS database_name"
                )
                alias = node.alias or "duckdb_databases"
                return exp.Subquery(this=sub, alias=exp.TableAlias(this=exp.to_identifier(alias)))
        if (
            isinstance(node, exp.Anonymous)
            and node.name.lower() == "current_setting"
            and len(node.expressions) == 1
            and isinstance(node.expressions[0], exp.Literal)
            and node.expressions[0].this.lower() == "access_mode"
        ):
            return exp.Literal.string("read_only")
        return node

    return transform


# -- the mart ------------------------------------------------------------------------------------------


class _Shared:
    """What a mart's root handle and its cursors share: the Spark session with the mart's views, the
    catalog database and the parse cache."""

    def __init__(self, location: MartLocation, session: Any, tables: dict[str, Any]) -> None:
        self.location = location
        self.session = session
        self.tables = tables
        self.lock = threading.Lock()
        self.statements = StatementCache("Spark")
        schemas = {
            name: [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
            for name, df in tables.items()
        }
        self.catalog = _catalog_database(schemas)


class SparkMart(FetchedRows):
    """A DuckDB-connection-shaped handle on a Parquet mart read by Spark (see the module docstring).

    ``cursor()`` returns another handle on the same Spark session with its own result and its own
    temporary tables, as a DuckDB cursor is a connection of its own. One handle serves one thread at a
    time; ``interrupt()`` may come from another.
    """

    def __init__(self, shared: _Shared, *, root: bool) -> None:
        self._shared = shared
        self._root = root
        self._tag = f"cohort-{next(_views)}"
        #: temporary table name → (its private view name, the checkpointed DataFrame)
        self._temps: dict[str, tuple[str, Any]] = {}
        #: registered Arrow tables: name → (its private view name, the DataFrame)
        self._registered: dict[str, tuple[str, Any]] = {}
        self._rows: list[tuple[Any, ...]] = []
        self._next = 0
        self._description: list[tuple[Any, ...]] | None = None
        self._running = False
        self._interrupted = False
        self._closed = False

    @property
    def location(self) -> MartLocation:
        return self._shared.location

    @property
    def description(self) -> list[tuple[Any, ...]] | None:
        return self._description

    def cursor(self) -> SparkMart:
        self._check_open()
        return SparkMart(self._shared, root=False)

    def register(self, name: str, table: Any) -> SparkMart:
        """DuckDB's ``register``: an Arrow table (rows the caller holds: an uploaded list, an extract's
        persons) readable as ``name`` by this handle's statements, as a Spark DataFrame under a
        private view name; the rows never enter the SQL text."""
        self._check_open()
        session = self._shared.session
        view = f"_cohort_r{next(_views)}"

        def work() -> Any:
            frame = session.createDataFrame(table)
            frame.createOrReplaceTempView(view)
            return frame

        frame = self._tagged(work)
        self.unregister(name)
        self._registered[name.lower()] = (view, frame)
        return self

    def unregister(self, name: str) -> SparkMart:
        """DuckDB's ``unregister`` (a temporary table made from the rows keeps its own copy)."""
        held = self._registered.pop(name.lower(), None)
        if held is not None:
            with contextlib.suppress(Exception):  # the session is gone: so is the view
                self._shared.session.catalog.dropTempView(held[0])
        return self

    # -- rendering ---------------------------------------------------------------------------------

    def _tree(self, sql: str, parameters: Sequence[Any] | None) -> exp.Expr:
        self._check_open()
        parsed = self._shared.statements.parse(sql)
        tree = parsed.tree.copy()
        params = list(parameters or [])
        if parsed.placeholders or params:
            try:
                bind_parameters(tree, params)
            except ValueError as e:
                raise duckdb.InvalidInputException(str(e)) from None
        return tree

    def _spark_text(self, tree: exp.Expr) -> str:
        """Spark SQL of a query tree: temporary tables resolved to this handle's views, every table
        checked against what the mart has (see the module docstring)."""
        ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
        for t in list(tree.find_all(exp.Table)):
            name = t.name.lower()
            if not isinstance(t.this, exp.Identifier) or t.args.get("catalog"):  # read_parquet(…), a.b.c
                raise duckdb.PermissionException("a Spark mart reads its own tables only")
            db = t.db.lower()
            held = self._temps.get(name) or self._registered.get(name)
            if db in ("", "temp") and held is not None and name not in ctes:
                t.set("this", exp.to_identifier(held[0]))
                t.set("db", None)
            elif db == "" and (name in ctes or name in self._shared.tables):
                continue
            elif db == "main" and name in self._shared.tables:
                t.set("db", None)
            else:
                raise duckdb.CatalogException(f"Spark mart: no table {name}")
        for fn in tree.find_all(exp.Anonymous, exp.Func):
            name = fn.name.lower() if isinstance(fn, exp.Anonymous) else fn.sql_name().lower()
            if name in _FORBIDDEN_FUNCTIONS:
                raise duckdb.PermissionException(f"function {name} is not available on a Spark mart")
        sets = concept_set_ctes(tree)
        if sets:
            tree = inline_concept_sets(tree, {name: self._concept_set(body) for name, body in sets.items()})
        return to_spark(_unique_nested_ctes(tree))

    def _concept_set(self, body: exp.Query) -> list[int]:
        """The concept ids of a constant concept-set query, run once per mart (the vocabulary of a
        Parquet mart does not change under it).

        Why: ``x IN (SELECT concept_id FROM cs)`` is a semi-join that Spark plans as a shuffle of the
        event table on both sides; as a literal list it is a filter pushed into the Parquet scan
        (the seed question's evaluation: 4.2 s → see docs/SCALE.md)."""
        text = to_spark(body.copy())
        session = self._shared.session

        def fetch() -> list[int]:
            rows = self._tagged(lambda: session.sql(text).toArrow().column(0).to_pylist())
            return [int(v) for v in rows if v is not None]

        return self._shared.statements.concept_ids(text, fetch)

    def render(self, sql: str, parameters: Sequence[Any] | None = None) -> str | None:
        """The Spark SQL that :meth:`execute` runs for a DuckDB statement (None for a temporary
        table's DROP, or a catalog read, which never reach Spark)."""
        tree = self._tree(sql, parameters)
        temp = temp_table_statement(tree)
        if temp is not None:
            return None if temp.query is None else self._spark_text(temp.query)
        if not isinstance(tree, exp.Query) or any(_is_catalog_table(t) for t in tree.find_all(exp.Table)):
            return None
        return self._spark_text(tree)

    # -- running -----------------------------------------------------------------------------------

    def _tagged(self, work: Callable[[], T]) -> T:
        """``work()`` under this handle's job group (what :meth:`interrupt` cancels), errors turned into
        DuckDB's classes (see the module docstring)."""
        session = self._shared.session
        self._interrupted = False
        self._running = True
        try:
            # this thread's jobs form this handle's group (a thread-local property; the session's
            # interruptTag found no operation to cancel for these); interruptOnCancel kills running
            # tasks too, which Spark otherwise only marks, while a nested-loop join runs on
            session.sparkContext.setJobGroup(self._tag, "cohort-engine statement", interruptOnCancel=True)
            return work()
        except duckdb.Error:
            raise
        except Exception as e:
            raise _duckdb_error(e, interrupted=self._interrupted) from None
        finally:
            self._running = False

    def sql(self, query: str) -> _SparkRelation:
        """DuckDB's relational ``sql``, for the one use the engine makes of it: reading a query's rows
        as Arrow record batches (deid.records, over the persons it registered on this handle)."""
        self._check_open()
        return _SparkRelation(self, query)

    def arrow(self, query: str) -> Any:
        """The Arrow table of one query over the mart's and this handle's tables, as Spark returns
        it (no detour through Python rows: the extract's columns keep their types)."""
        self._rows, self._next, self._description = [], 0, None
        tree = self._tree(query, None)
        if (
            not isinstance(tree, exp.Query)
            or temp_table_statement(tree) is not None
            or any(_is_catalog_table(t) for t in tree.find_all(exp.Table))
        ):
            raise duckdb.NotImplementedException("a Spark mart reads Arrow batches of a query only")
        text = self._spark_text(tree)
        session = self._shared.session
        return self._tagged(lambda: session.sql(text).toArrow())

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> SparkMart:
        """Run one DuckDB statement: a query on Spark (rows fetched at once, as Arrow), a temporary
        table's CREATE / DROP on this handle, a catalog read on the catalog database."""
        self._rows, self._next, self._description = [], 0, None
        tree = self._tree(sql, parameters)
        temp = temp_table_statement(tree)
        if temp is not None:
            if temp.query is None:
                self._drop_temp(temp.name)
            elif not (temp.if_not_exists and temp.name in self._temps):
                self._create_temp(temp.name, temp.query)
            return self
        if not isinstance(tree, exp.Query):
            raise duckdb.PermissionException("a Spark mart is read-only: only SELECT statements run on it")
        tables = list(tree.find_all(exp.Table))
        if tables and any(_is_catalog_table(t) for t in tables):
            return self._catalog_read(tree, tables)
        text = self._spark_text(tree)
        session = self._shared.session
        arrow = self._tagged(lambda: session.sql(text).toArrow())
        self._take(arrow)
        return self

    def _take(self, table: Any) -> None:
        import pyarrow as pa

        columns = []
        for field, column in zip(table.schema, table.columns, strict=True):
            values = column.to_pylist()
            if pa.types.is_decimal(field.type):
                values = [_number(v) for v in values]
            columns.append(values)
        self._description = [(f.name, str(f.type), None, None, None, None, None) for f in table.schema]
        self._rows = list(zip(*columns, strict=True)) if columns else []

    def _catalog_read(self, tree: exp.Expr, tables: list[exp.Table]) -> SparkMart:
        if not all(_is_catalog_table(t) for t in tables):
            raise duckdb.NotImplementedException(
                "a statement may not join the catalog with the mart's tables"
            )
        text = tree.transform(_local_catalog_functions(self.location.display)).sql(dialect="duckdb")
        with self._shared.lock:
            cur = self._shared.catalog.cursor()
        try:
            cur.execute(text)
            self._description = [tuple(d) for d in cur.description or []]
            self._rows = [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()
        return self

    def _create_temp(self, name: str, query: exp.Expr) -> None:
        """Compute the query once into a checkpointed DataFrame under a view name of this handle (the
        runner's evaluate-once tables)."""
        text = self._spark_text(query)
        session = self._shared.session
        view = f"_cohort_t{next(_views)}_{name}" if _PLAIN.match(name) else f"_cohort_t{next(_views)}"

        def work() -> Any:
            frame = session.sql(text).localCheckpoint(eager=True)
            frame.createOrReplaceTempView(view)
            return frame

        frame = self._tagged(work)
        self._drop_temp(name)
        self._temps[name] = (view, frame)

    def _drop_temp(self, name: str) -> None:
        held = self._temps.pop(name, None)
        if held is None:
            return
        view, frame = held
        try:
            self._shared.session.catalog.dropTempView(view)
            frame.unpersist()
        except Exception:  # the session is gone: so is the view
            return

    def interrupt(self) -> None:
        """Cancel the Spark jobs of the statement running on this handle (from another thread)."""
        if not self._running:
            return
        self._interrupted = True
        try:
            self._shared.session.sparkContext.cancelJobGroup(self._tag)
        except Exception:  # nothing running any more
            return

    def close(self) -> None:
        """A handle drops its temporary tables; the process's Spark driver stays up for the next mart
        (it stops when the process exits)."""
        for name in list(self._temps):
            self._drop_temp(name)
        for name in list(self._registered):
            self.unregister(name)
        self._rows = []
        if self._root and not self._closed:
            self._shared.catalog.close()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise duckdb.ConnectionException("Connection already closed")

    def __enter__(self) -> SparkMart:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SparkRelation:
    """What :meth:`SparkMart.sql` returns: a query whose rows are read as Arrow record batches (read
    whole by Spark, then cut: deid.records bounds each query to one slice of persons)."""

    def __init__(self, mart: SparkMart, query: str) -> None:
        self._mart = mart
        self._query = query

    def to_arrow_reader(self, batch_size: int = 1_000_000) -> Iterator[Any]:
        yield from self._mart.arrow(self._query).to_batches(max_chunksize=max(1, batch_size))

    record_batch = to_arrow_reader


def _unique_nested_ctes(tree: exp.Expr) -> exp.Expr:
    """The tree with every CTE below the top level renamed to a name no other CTE or table has.

    Why: sqlglot writes Spark SQL with every CTE moved to the top ``WITH`` (Hive's rule; it leaves name
    clashes to the caller), and the engine's own statements nest the same cohort CTEs twice (the
    manifest joins the cohort's events to its imaging rows, each a compiled cohort with ``index_events``,
    ``cohort`` …): Spark then refuses the duplicates (``DUPLICATED_CTE_NAMES``). DuckDB scopes each
    ``WITH`` to its query, so a name is renamed in the query that holds its ``WITH`` only; the innermost
    ``WITH`` goes first, so a query never sees an inner definition of the name it renames."""
    nested = [w for w in tree.find_all(exp.With) if w.parent is not tree]
    if not nested:
        return tree
    taken = {t.name.lower() for t in tree.find_all(exp.Table)}
    taken |= {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    counter = itertools.count(1)
    for with_ in reversed(nested):  # pre-order reversed: a descendant before its ancestor
        scope = with_.parent
        if scope is None:
            continue
        ctes = list(with_.expressions)
        for i, cte in enumerate(ctes):
            old = cte.alias_or_name.lower()
            new = f"{old}_{next(counter)}"
            while new in taken:
                new = f"{old}_{next(counter)}"
            taken.add(new)
            cte.args["alias"].set("this", exp.to_identifier(new))  # its column list, if any, kept
            # a CTE's own body and those before it read the outer name (unless the WITH is recursive)
            unseen = (
                set() if with_.args.get("recursive") else {id(n) for c in ctes[: i + 1] for n in c.walk()}
            )
            for t in scope.find_all(exp.Table):
                if id(t) in unseen:
                    continue
                if t.name.lower() == old and not t.db and not t.catalog:
                    t.set("this", exp.to_identifier(new))
                    if not t.alias:
                        t.set("alias", exp.TableAlias(this=exp.to_identifier(old)))
    return tree


def _number(value: Any) -> Any:
    """A decimal as DuckDB hands its values over: a whole number as int, anything else as float."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return float(value)
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    return value


def _remote_table_folders(session: Any, folder: str) -> dict[str, str]:
    """Table name → folder of an ``hdfs://`` / ``s3a://`` / ``file://`` URL, listed through Spark's
    Hadoop file system (what the executors will read)."""
    jvm = session.sparkContext._jvm
    root = jvm.org.apache.hadoop.fs.Path(folder)
    fs = root.getFileSystem(session.sparkContext._jsc.hadoopConfiguration())
    found = {}
    for status in fs.listStatus(root):
        name = status.getPath().getName()
        if status.isDirectory() and _PLAIN.match(name):
            found[name] = str(status.getPath().toString())
    return found


def _local_table_folders(base: Path) -> dict[str, str]:
    """Table name → folder, for each plain-named folder holding Parquet files (at any depth: a
    Hive-style partitioned table keeps them in ``key=value`` subfolders)."""
    return {
        p.name: str(p)
        for p in sorted(base.iterdir())
        if p.is_dir() and _PLAIN.match(p.name) and next(p.rglob("*.parquet"), None) is not None
    }


def _check_tables(location: MartLocation, folders: dict[str, str]) -> None:
    missing = [t for t in REQUIRED_TABLES if t not in folders]
    if missing:
        raise MartError(
            f"{location.display} is not an OMOP mart: no Parquet table(s) {', '.join(missing)} "
            "(expected DIR/<table>/*.parquet, as `cohort demo-data --target parquet:DIR` writes)"
        )


def open_spark_mart(location: MartLocation) -> SparkMart:
    """Start (or reuse) the process's Spark driver and register the Parquet tables of ``location``
    as views of a session of their own; check that they hold ``person`` and ``concept``.

    Raises:
        MartError: no Java, Spark cannot start, the folder is missing or holds no OMOP tables.
    """
    if location.kind != "spark":
        raise ValueError(f"not a Spark mart: {location.display}")
    folder = location.parquet
    folders: dict[str, str] = {}
    if not _URL.match(folder):  # a local folder is checked before Spark starts (seconds)
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise MartError(
                f"Parquet folder not found: {folder} (write one with "
                "`cohort demo-data --target parquet:DIR`, then use spark-local:DIR)"
            )
        folders = _local_table_folders(path.resolve())
        _check_tables(location, folders)
    session = spark_session(location.conninfo).newSession()
    if _URL.match(folder):
        try:
            folders = _remote_table_folders(session, folder)
        except Exception as e:
            raise MartError(
                f"cannot list the Parquet folder of {location.display} ({type(e).__name__})"
            ) from None
        _check_tables(location, folders)
    tables: dict[str, Any] = {}
    for name, where in folders.items():
        try:
            frame = session.read.parquet(where)
        except Exception as e:
            raise MartError(
                f"cannot read table {name} of {location.display} as Parquet ({type(e).__name__})"
            ) from None
        frame.createOrReplaceTempView(name)
        tables[name] = frame
    return SparkMart(_Shared(location, session, tables), root=True)
