"""DuckDB SQL, as the engine writes and the guard emits it, made into SQL that PostgreSQL runs.

Why a post-compile transform rather than a second compiler: the compiler and the guard speak DuckDB,
and every statement that reaches a mart (guarded cohort SQL, the vocabulary's lookups, catalog reads,
trusted gold SQL) has passed through one of them. Rendering that one sqlglot tree for PostgreSQL
and fixing, here, the few things that do not translate keeps one source of truth for what a cohort
means. What this module fixes:

* **Parameters** are bound as literals (:func:`bind_parameters`): sqlglot renders ``?`` as psycopg's
  ``%(n)s``, which would make every ``%`` in a string literal a format directive; a literal rendered
  by sqlglot is quoted for PostgreSQL (``'`` doubled; ``standard_conforming_strings`` is on).
* **DuckDB-only functions**: ``arg_max(v, k)`` (an ordered ``array_agg``), ``duckdb_databases()`` and
  ``current_setting('access_mode')`` (how the pipeline learns the mart's identity and that it is
  read-only).
* **Temporary tables** on a read-only PostgreSQL session cannot be created
  (``default_transaction_read_only`` forbids every CREATE), so ``CREATE TEMP TABLE x AS q`` is
  remembered by the session and later statements that read ``x`` get ``WITH x AS MATERIALIZED (q)``
  (:func:`inline_temp_tables`): the cohort chain then runs once per statement that reads it, not once
  per ask, the price of a session that cannot write.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

__all__ = [
    "TempTableStatement",
    "bind_parameters",
    "number_placeholders",
    "parse_duckdb",
    "concept_set_ctes",
    "inline_concept_sets",
    "inline_temp_tables",
    "temp_table_statement",
    "to_postgres",
    "to_spark",
]


def number_placeholders(sql: str) -> tuple[str, int]:
    """DuckDB SQL with each ``?`` placeholder, in the order written, renamed ``$1``, ``$2`` …, and how
    many there were (tokenised, so a ``?`` inside a string literal or a comment is left alone)."""
    out: list[str] = []
    last = 0
    n = 0
    for tok in DuckDB().tokenize(sql):
        if tok.token_type == TokenType.PLACEHOLDER and tok.text == "?":
            n += 1
            out.append(sql[last : tok.start])
            out.append(f"${n}")
            last = tok.end + 1
    out.append(sql[last:])
    return "".join(out), n


def bind_parameters(tree: exp.Expr, params: Sequence[Any]) -> exp.Expr:
    """Replace the tree's ``$n`` placeholders (:func:`number_placeholders`) with literal values.

    Raises ValueError when a placeholder has no value (a caller bug)."""
    for holder in list(tree.find_all(exp.Placeholder, exp.Parameter)):
        name = holder.name
        if not name.isdigit() or not 1 <= int(name) <= len(params):
            raise ValueError(f"placeholder ${name} has no value ({len(params)} given)")
        holder.replace(_literal(params[int(name) - 1]))
    return tree


def _literal(value: Any) -> exp.Expr:
    if isinstance(value, (list, tuple)) and not value:
        # an empty list only ever reaches `IN (SELECT unnest(?))`: a typed empty array matches nothing
        return exp.cast(exp.Array(expressions=[]), "TEXT[]")
    return exp.convert(list(value) if isinstance(value, tuple) else value)


def _arg_max(node: exp.Expr) -> exp.Expr:
    if not isinstance(node, exp.ArgMax):
        return node
    value = node.this.sql(dialect="postgres")
    key = node.expression.sql(dialect="postgres")
    return sqlglot.parse_one(
        f"(ARRAY_AGG({value} ORDER BY {key} DESC) FILTER (WHERE {key} IS NOT NULL))[1]", read="postgres"
    )


def _catalog_functions(identity: str) -> Any:
    def transform(node: exp.Expr) -> exp.Expr:
        if (
            isinstance(node, exp.Table)
            and isinstance(node.this, exp.Anonymous)
            and node.this.name.lower() == "duckdb_databases"
        ):
            sub = sqlglot.parse_one(
                f"SELECT {exp.Literal.string(identity).sql('postgres')} AS path, "
                "current_database() AS database_name",
                read="postgres",
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
            return sqlglot.parse_one(
                "CASE WHEN current_setting('transaction_read_only') = 'on' "
                "THEN 'read_only' ELSE 'read_write' END",
                read="postgres",
            )
        return node

    return transform


class TempTableStatement:
    """``CREATE [OR REPLACE] TEMP TABLE name AS query`` or ``DROP TABLE [IF EXISTS] [temp.]name``."""

    def __init__(self, name: str, query: exp.Expr | None, if_not_exists: bool = False) -> None:
        self.name = name
        #: None for a DROP.
        self.query = query
        self.if_not_exists = if_not_exists


def temp_table_statement(tree: exp.Expr) -> TempTableStatement | None:
    """The temporary table a statement creates or drops, or None when it is not one of those."""
    if isinstance(tree, exp.Create) and str(tree.args.get("kind") or "").upper() == "TABLE":
        props = tree.args.get("properties")
        temporary = props is not None and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions)
        query = tree.args.get("expression")
        if temporary and isinstance(tree.this, exp.Table) and isinstance(query, exp.Query):
            return TempTableStatement(tree.this.name.lower(), query, bool(tree.args.get("exists")))
    if isinstance(tree, exp.Drop) and str(tree.args.get("kind") or "").upper() == "TABLE":
        tables = tree.args.get("tables") or [tree.this]
        if len(tables) == 1 and isinstance(tables[0], exp.Table) and tables[0].db.lower() in ("", "temp"):
            return TempTableStatement(tables[0].name.lower(), None)
    return None


def inline_temp_tables(tree: exp.Expr, temps: Mapping[str, exp.Expr]) -> exp.Expr:
    """Give a statement that reads remembered temporary tables their queries as leading
    ``MATERIALIZED`` CTEs (in the order they were created: a later one may read an earlier one)."""
    if not temps or not isinstance(tree, exp.Query):
        return tree
    read = {t.name.lower() for t in tree.find_all(exp.Table) if t.db.lower() in ("", "temp")}
    wanted = [name for name in temps if name in read]
    # a remembered table read only by another remembered one
    for name in list(temps):
        if name in wanted:
            continue
        if any(name in {t.name.lower() for t in temps[w].find_all(exp.Table)} for w in wanted):
            wanted.append(name)
    if not wanted:
        return tree
    for t in tree.find_all(exp.Table):
        if t.name.lower() in wanted and t.db.lower() == "temp":
            t.set("db", None)
    ordered = [name for name in temps if name in wanted]
    ctes = [
        exp.CTE(
            this=temps[name].copy(), alias=exp.TableAlias(this=exp.to_identifier(name)), materialized=True
        )
        for name in ordered
    ]
    existing = tree.args.get("with_") or tree.args.get("with")
    if existing is not None:
        existing.set("expressions", [*ctes, *existing.expressions])
    else:
        tree.set("with_", exp.With(expressions=ctes))
    return tree


class ParsedStatement:
    """A statement's DuckDB tree, cached by text; copied before each use."""

    def __init__(self, tree: exp.Expr, placeholders: int) -> None:
        self.tree = tree
        self.placeholders = placeholders


class FetchedRows:
    """The fetch side of DuckDB's connection interface over a result already read whole (``_rows``, with
    ``_next`` the next row to hand out): what ``PgMart`` and ``SparkMart`` give their callers."""

    _rows: list[tuple[Any, ...]]
    _next: int

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._rows[self._next :]
        self._next = len(self._rows)
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        rows = self._rows[self._next : self._next + size]
        self._next += len(rows)
        return rows


class StatementCache:
    """What every handle on one mart of another engine shares (``PgMart``, ``SparkMart``): statements
    parsed once per text (the callers repeat the same few), and the concept ids of each constant
    concept-set query (the vocabulary does not change under a read-only session). Bounded, thread-safe.
    ``engine`` names the engine in the error a statement that cannot be rendered raises."""

    def __init__(self, engine: str, size: int = 512) -> None:
        self.engine = engine
        self.size = size
        self.lock = threading.Lock()
        self._parsed: OrderedDict[str, ParsedStatement] = OrderedDict()
        self._concept_sets: dict[str, list[int]] = {}

    def parse(self, sql: str) -> ParsedStatement:
        with self.lock:
            hit = self._parsed.get(sql)
            if hit is not None:
                self._parsed.move_to_end(sql)
                return hit
        numbered, n = number_placeholders(sql)
        try:
            parsed = ParsedStatement(parse_duckdb(numbered), n)
        except ValueError:
            raise duckdb.ParserException(f"the statement could not be rendered for {self.engine}") from None
        with self.lock:
            self._parsed[sql] = parsed
            while len(self._parsed) > self.size:
                self._parsed.popitem(last=False)
        return parsed

    def concept_ids(self, text: str, fetch: Callable[[], list[int]]) -> list[int]:
        """The ids the concept-set query ``text`` gives: ``fetch()`` runs it the first time only."""
        with self.lock:
            hit = self._concept_sets.get(text)
        if hit is not None:
            return hit
        ids = fetch()
        with self.lock:
            if len(self._concept_sets) >= self.size:
                self._concept_sets.clear()
            self._concept_sets[text] = ids
        return ids

    def forget_concept_sets(self) -> None:
        with self.lock:
            self._concept_sets.clear()


def parse_duckdb(sql: str) -> exp.Expr:
    """One DuckDB statement as a sqlglot tree (ValueError when sqlglot cannot read it)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except SqlglotError as e:
        raise ValueError(f"cannot read the statement as DuckDB SQL ({type(e).__name__})") from None
    if len(statements) != 1:
        raise ValueError(f"expected one statement, got {len(statements)}")
    return statements[0]


def to_postgres(tree: exp.Expr, *, identity: str = "") -> str:
    """PostgreSQL text of a DuckDB tree (parameters already bound): DuckDB-only functions replaced.

    ``identity``: what ``duckdb_databases().path`` reads as (the mart's display URL)."""
    tree = (
        tree.transform(_arg_max)
        .transform(_catalog_functions(identity))
        .transform(_inline_ctes)
        .transform(_estimable_case_folds)
        .transform(_date_parts)
    )
    _alias_subqueries(tree)
    return tree.sql(dialect="postgres")


def _alias_subqueries(tree: exp.Expr) -> None:
    """A subquery in FROM or JOIN without an alias gets one (``_sub1``, …): DuckDB and PostgreSQL 16
    read ``FROM (SELECT …)``, PostgreSQL 15 refuses it (42601); nothing can name an unaliased
    subquery, so any unused name keeps the meaning (hand-written gold SQL and ``cohort sql`` use it)."""
    taken = {t.alias_or_name.lower() for t in tree.find_all(exp.Table, exp.Subquery)}
    n = 0
    for sub in list(tree.find_all(exp.Subquery)):
        if sub.alias or not isinstance(sub.parent, (exp.From, exp.Join)):
            continue
        n += 1
        while f"_sub{n}" in taken:
            n += 1
        sub.set("alias", exp.TableAlias(this=exp.to_identifier(f"_sub{n}")))


def _date_parts(node: exp.Expr) -> exp.Expr:
    """DuckDB's ``quarter(d)`` (the extract's quarter dates, deid.records) is ``EXTRACT(QUARTER FROM d)``
    in PostgreSQL, which has no ``quarter`` function (sqlglot renders it as is)."""
    if not isinstance(node, exp.Quarter):
        return node
    return exp.Extract(this=exp.var("QUARTER"), expression=node.this.copy())


def _inline_ctes(node: exp.Expr) -> exp.Expr:
    """A CTE read inside an ``EXISTS`` is ``NOT MATERIALIZED``: PostgreSQL materialises a CTE read
    twice, and the compiler's ``EXISTS (SELECT 1 FROM k1_all WHERE person_id = a.person_id …)`` over a
    materialised CTE scans all of it per index event (no index reaches it); inlined, the correlated
    EXISTS runs on the event table's ``person_id`` index. The other CTEs keep PostgreSQL's choice
    (inlined when read once, computed once when read more), so the funnel's aggregates (``best``,
    ``cohort``) are not recomputed per reader; the temporary tables' CTEs (:func:`inline_temp_tables`)
    stay ``MATERIALIZED``: evaluating the cohort once is their point."""
    if not isinstance(node, exp.With):
        return node
    scope = node.parent
    if scope is None:
        return node
    in_exists = {t.name.lower() for e in scope.find_all(exp.Exists) for t in e.find_all(exp.Table)}
    for cte in node.expressions:
        if (
            cte.args.get("materialized") is None
            and cte.alias_or_name.lower() in in_exists
            and _plain_selection(cte.this)
        ):
            cte.set("materialized", False)
    return node


def _plain_selection(body: exp.Expr) -> bool:
    """A filter over tables (no grouping, aggregate, DISTINCT, window or LIMIT): inlining it into an
    EXISTS costs nothing more than an index lookup per row. An aggregate CTE read in an EXISTS is
    computed once instead (inlined, it would be recomputed per outer row)."""
    if not isinstance(body, exp.Select):
        return False
    if any(body.args.get(k) for k in ("group", "distinct", "limit", "having", "qualify")):
        return False
    return not any(isinstance(n, (exp.AggFunc, exp.Window)) for e in body.expressions for n in e.walk())


#: Vocabulary tables: a CTE that reads only these is a constant set of concepts.
VOCABULARY_TABLES = frozenset({"concept", "concept_ancestor", "concept_relationship", "concept_synonym"})


def concept_set_ctes(tree: exp.Expr) -> dict[str, exp.Query]:
    """The CTEs (at any depth) that are constant concept sets: one output column, reading only the
    vocabulary tables. A name defined twice with different bodies is left out (scopes could differ)."""
    found: dict[str, exp.Query] = {}
    clash: set[str] = set()
    for cte in tree.find_all(exp.CTE):
        body = cte.this
        if not isinstance(body, exp.Query) or len(body.named_selects) != 1:
            continue
        tables = {t.name.lower() for t in body.find_all(exp.Table)}
        if not tables or not tables <= VOCABULARY_TABLES or body.find(exp.Placeholder, exp.Parameter):
            continue
        name = cte.alias_or_name.lower()
        if name in found and found[name].sql() != body.sql():
            clash.add(name)
        found.setdefault(name, body)
    return {k: v for k, v in found.items() if k not in clash}


def inline_concept_sets(tree: exp.Expr, values: Mapping[str, Sequence[int]]) -> exp.Expr:
    """``x IN (SELECT concept_id FROM cs)`` with ``cs`` a known concept set becomes ``x IN (1, 2, …)``.

    Why: PostgreSQL cannot estimate how many events a subquery's concepts match, and on the 200k mart it
    planned a 4.6M-row nested loop for a two-concept index set; with the literal list it reads the
    column's statistics and takes the ``*_concept_id`` index. The values come from the mart itself
    (:class:`sql_guard.pg_mart.PgMart` runs each set's query once and remembers it)."""
    for node in list(tree.find_all(exp.In)):
        query = node.args.get("query")
        select = query.this if isinstance(query, exp.Subquery) else query
        if not isinstance(select, exp.Select) or select.args.get("where") or select.args.get("joins"):
            continue
        source = select.args.get("from_") or select.args.get("from")
        table = source.this if source is not None else None
        if not isinstance(table, exp.Table) or table.db or table.name.lower() not in values:
            continue
        ids = sorted({int(v) for v in values[table.name.lower()]})
        if ids:
            node.replace(exp.In(this=node.this.copy(), expressions=[exp.Literal.number(i) for i in ids]))
        else:
            node.replace(exp.false())
    return tree


def _estimable_case_folds(node: exp.Expr) -> exp.Expr:
    """``UPPER(col) IN ('XA', …)`` becomes ``(col IN ('XA', …) OR UPPER(col) IN ('XA', …))``: the same
    rows (a value equal to an upper-case literal is its own upper case), but PostgreSQL can estimate
    the first term from the column's statistics, where for ``UPPER(col)`` it has none and guesses
    0.5 %. The compiler's imaging filters (``UPPER(modality_source_value) IN ('XA')`` and the body
    part) were estimated at 20 rows of 785,000 on the 200k mart; the nested loops planned on that
    estimate ran past 60 s (0.5 s with the estimate right)."""
    if not isinstance(node, exp.In) or node.args.get("query") is not None:
        return node
    upper = node.this
    if not isinstance(upper, exp.Upper) or not isinstance(upper.this, exp.Column):
        return node
    values = node.expressions
    if not values or not all(
        isinstance(v, exp.Literal) and v.is_string and v.this == v.this.upper() for v in values
    ):
        return node
    plain = exp.In(this=upper.this.copy(), expressions=[v.copy() for v in values])
    return exp.Paren(this=exp.Or(this=plain, expression=node.copy()))


# -- Spark (sql_guard.spark_mart) ---------------------------------------------------------------------


def to_spark(tree: exp.Expr) -> str:
    """Spark SQL text of a DuckDB tree (parameters already bound, temporary tables already resolved).

    sqlglot renders most of DuckDB for Spark itself (``arg_max`` → ``max_by``, ``QUALIFY`` → a
    filtered subquery, ``regexp_replace(…, 'g')`` → Spark's replace-all, date arithmetic, NULL
    ordering); what is fixed here are the two shapes Spark does not read:

    * ``WITH x AS MATERIALIZED (…)``: Spark has no such hint (it plans CTEs itself), so it is dropped;
    * ``x IN (SELECT unnest(<bound list>))`` (the vocabulary's lookups): a plain ``x IN (…values…)``,
      and ``FALSE`` for an empty list, instead of an ``explode`` subquery over a typed empty array;
    * ``quantile_cont(x, p)`` (the lab-unit check's value range): Spark's exact ``percentile(x, p)``,
      which interpolates as DuckDB does (sqlglot writes ``PERCENTILE_CONT(x, p)``, which Spark
      refuses, or an approximate percentile).
    """
    tree = tree.transform(_spark_plain_ctes).transform(_unnest_lists).transform(_exact_percentiles)
    return tree.sql(dialect="spark")


def _exact_percentiles(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.PercentileCont) and node.args.get("expression") is not None:
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this.copy(), node.expression.copy()])
    return node


def _spark_plain_ctes(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)
    return node


def _unnest_lists(node: exp.Expr) -> exp.Expr:
    if not isinstance(node, exp.In):
        return node
    query = node.args.get("query")
    select = query.this if isinstance(query, exp.Subquery) else query
    if (
        not isinstance(select, exp.Select)
        or len(select.expressions) != 1
        or any(select.args.get(k) for k in ("from", "from_", "where", "joins", "group"))
    ):
        return node
    unnest = select.expressions[0]
    if not isinstance(unnest, (exp.Unnest, exp.Explode)):
        return node
    inner = unnest.expressions[0] if isinstance(unnest, exp.Unnest) and unnest.expressions else unnest.this
    if isinstance(inner, exp.Cast):
        inner = inner.this
    if not isinstance(inner, exp.Array):
        return node
    values = [v.copy() for v in inner.expressions]
    if not values:
        return exp.false()
    return exp.In(this=node.this.copy(), expressions=values)
