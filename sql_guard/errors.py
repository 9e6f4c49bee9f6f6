"""Errors raised by the SQL guard and the read-only runner.

They live in one small module so that callers (API, CLI, evaluation runner) can catch them without
importing sqlglot or duckdb, and so that their text stays under one privacy rule: a message names
identifiers (tables, columns, functions, statement keywords) and positions, never a literal value from
the query or from the data, because literals may be identifying (MRNs, names, dates) and messages end
up in API responses and log lines.
"""

from __future__ import annotations

from enum import StrEnum

#: What each DuckDB error class means, for a person. DuckDB's own text is never passed on: it quotes
#: values from the data and the query ("Type INT64 with value 20126 can't be cast …", "Could not
#: convert string 'X'", "LINE 1: SELECT …"), and a value that a query may only see aggregated (a
#: count, a birth year) leaks through it. Unknown classes get the generic description.
DB_ERROR_DESCRIPTIONS: dict[str, str] = {
    "ConversionException": (
        "conversion error: a value could not be converted to the requested type or does not fit in it; "
        "use a wider type or TRY_CAST"
    ),
    "OutOfRangeException": (
        "out of range: a computed value overflowed its type; use a wider type (BIGINT, DOUBLE)"
    ),
    "OutOfMemoryException": (
        "out of memory: the query needs more memory than this server allows; aggregate earlier, "
        "narrow the cohort or return fewer columns"
    ),
    "InvalidInputException": "invalid input: a function was given an argument it cannot use",
    "BinderException": "binder error: a name, type or function call in the query does not fit the mart",
    "CatalogException": "catalog error: a table, column or function named in the query does not exist",
    "ParserException": "parser error: the database could not parse the query",
    "NotImplementedException": "not implemented: the database does not support this construct",
    "PermissionException": "permission error: files, network, settings and extensions are not reachable",
    "DependencyException": "dependency error: the query depends on an object that cannot be used",
    "InternalException": "internal error of the database; report the query to an operator",
}
GENERIC_DB_ERROR = "the database could not run this query"


def describe_db_error(error: BaseException) -> tuple[str, str]:
    """(kind, description) of a database error: the error class and a fixed text for it, never the
    database's message (see :data:`DB_ERROR_DESCRIPTIONS`)."""
    kind = type(error).__name__
    return kind, DB_ERROR_DESCRIPTIONS.get(kind, GENERIC_DB_ERROR)


class Rule(StrEnum):
    """Stable rule codes of :class:`GuardError` (a ``str``: ``err.rule == "unknown_table"`` works).

    Clients branch on these codes (e.g. to ask the LLM for a repair); never rename one.
    """

    PARSE_ERROR = "parse_error"
    INVALID_CHARACTERS = "invalid_characters"
    MULTIPLE_STATEMENTS = "multiple_statements"
    NOT_READ_ONLY = "not_read_only"
    FORBIDDEN_STATEMENT = "forbidden_statement"
    FORBIDDEN_FUNCTION = "forbidden_function"
    UNKNOWN_TABLE = "unknown_table"
    UNKNOWN_COLUMN = "unknown_column"
    IDENTIFYING_COLUMN = "identifying_column"
    NOT_AGGREGATE = "not_aggregate"
    UNSUPPORTED_SYNTAX = "unsupported_syntax"
    EXPANSION_LIMIT = "expansion_limit"


class GuardError(ValueError):
    """A SQL statement was refused by :func:`sql_guard.guard.validate`.

    Attributes:
        rule: stable machine-readable code (:class:`Rule`).
        message: what was wrong and what to do instead, for a human or an LLM repair loop.
        where: the offending fragment (table / column / function name, statement keyword, position);
            literal values are never echoed here, they are replaced by ``?``.
    """

    def __init__(self, rule: Rule | str, message: str, where: str = "") -> None:
        self.rule: Rule = Rule(rule)
        self.message: str = message
        self.where: str = where
        super().__init__(f"[{self.rule}] {message}" + (f" (at: {where})" if where else ""))


class CompileError(ValueError):
    """The spec cannot be turned into SQL (e.g. a term was never resolved to concepts)."""


class MartError(RuntimeError):
    """The mart file is missing, is not a DuckDB database, or is not an OMOP mart."""


class QueryTimeout(TimeoutError):
    """A query ran past its time limit and was interrupted."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(
            f"query exceeded its {timeout_s:g} s time limit and was cancelled; "
            "narrow the cohort, add filters, or ask an operator for a longer limit"
        )


class QueryError(RuntimeError):
    """DuckDB refused or failed a query that had passed the guard.

    ``kind`` is DuckDB's error class (``ConversionException``, ``OutOfMemoryException``, …) and
    ``detail`` a fixed description of that class (:func:`describe_db_error`), never DuckDB's message.
    """

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}" if detail else kind)
