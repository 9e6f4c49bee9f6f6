"""Rows held by the caller (an Arrow table) as a relation a read-only PostgreSQL session can read.

Why: DuckDB callers ``register`` an Arrow table on a cursor and join it (a researcher's uploaded list,
the identifiers of an upload being mapped, the persons of an extract, imported codes). A read-only
PostgreSQL session cannot create a table, temporary or not, and the rows must not be written into the
SQL text either: that text can reach the server's logs, and a list holds up to 100,000 person ids. So
each column travels as one array *parameter* beside the statement, and the relation is
``SELECT * FROM UNNEST(CAST($1 AS BIGINT[]), …) AS name(col, …)``: server-side bound values, planned
with their real length (an unnamed statement is planned with its parameters), read-only throughout.

In the sqlglot tree a column's array is a named parameter (:data:`TOKEN_PREFIX` + a number) that
:func:`number_row_parameters` turns into ``$1``, ``$2`` … at the last moment, after the statement's own
``?`` placeholders were bound as literals, so the two kinds never meet.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from sqlglot import exp

__all__ = ["MAX_ROWS", "TOKEN_PREFIX", "RowsTooLarge", "arrow_relation", "number_row_parameters"]

#: Most rows one registered table may hold on PostgreSQL: ten lists of the upload limit (100,000).
MAX_ROWS = 1_000_000
#: Names of the array parameters in a tree (never a name a statement of the engine uses).
TOKEN_PREFIX = "cohort_rows_"

_COUNTER = itertools.count(1)


class RowsTooLarge(ValueError):
    """A registered table over :data:`MAX_ROWS` (the message says how many and what to do)."""


def _pg_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        # as wide as the Arrow column: DuckDB adds an INTEGER to a DATE, and so does PostgreSQL, which
        # has no ``date + bigint`` (deid.records shifts dates by an int32 column)
        return (
            "BIGINT"
            if t.bit_width > 32 or (t.bit_width == 32 and pa.types.is_unsigned_integer(t))
            else "INTEGER"
        )
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "DOUBLE PRECISION"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "TEXT"
    raise TypeError(f"a column of Arrow type {t} cannot be passed to PostgreSQL as an array")


def arrow_relation(name: str, table: Any) -> tuple[exp.Query, dict[str, list[Any]]]:
    """The query that reads ``table`` (a ``pyarrow.Table`` or ``RecordBatch``) as relation ``name``,
    and the arrays its parameters stand for (token → values).

    Raises:
        RowsTooLarge: more than :data:`MAX_ROWS` rows.
        TypeError: not an Arrow table, or a column type with no PostgreSQL array.
    """
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if not isinstance(table, pa.Table):
        raise TypeError(
            f"only Arrow tables can be registered on a PostgreSQL mart, not {type(table).__name__}"
        )
    if table.num_rows > MAX_ROWS:
        raise RowsTooLarge(
            f"{table.num_rows:,} rows are more than a PostgreSQL mart takes beside one statement "
            f"({MAX_ROWS:,}); use fewer or smaller lists"
        )
    arrays: dict[str, list[Any]] = {}
    args: list[exp.Expr] = []
    for column, field in zip(table.columns, table.schema, strict=True):
        token = f"{TOKEN_PREFIX}{next(_COUNTER)}"
        arrays[token] = column.to_pylist()
        param = exp.Parameter(this=exp.Var(this=token))
        args.append(exp.cast(param, exp.DataType.build(f"{_pg_type(field.type)}[]", dialect="postgres")))
    alias = exp.TableAlias(
        this=exp.to_identifier(name), columns=[exp.to_identifier(f.name.lower()) for f in table.schema]
    )
    unnest = exp.Unnest(expressions=args, alias=alias)
    query = exp.select("*").from_(unnest)
    return query, arrays


def number_row_parameters(tree: exp.Expr, arrays: Mapping[str, list[Any]]) -> list[list[Any]]:
    """Replace the array parameters of ``tree`` with ``$1``, ``$2`` … (one number per array, however
    often it is read) and return their values in that order (empty when the tree has none)."""
    numbers: dict[str, int] = {}
    values: list[list[Any]] = []
    for node in list(tree.find_all(exp.Parameter)):
        token = node.name
        if not token.startswith(TOKEN_PREFIX):
            continue
        if token not in arrays:
            raise ValueError("a registered table was read after it was dropped")
        if token not in numbers:
            values.append(arrays[token])
            numbers[token] = len(values)
        node.replace(exp.Parameter(this=exp.Literal.number(numbers[token])))
    return values


def tokens_in(tree: exp.Expr) -> set[str]:
    """The array parameters a tree reads (to forget the arrays no remembered relation needs)."""
    return {p.name for p in tree.find_all(exp.Parameter) if p.name.startswith(TOKEN_PREFIX)}
