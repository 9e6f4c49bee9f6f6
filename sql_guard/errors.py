"""Errors raised by the SQL guard and the read-only runner.

They live in one small module so that callers (API, CLI, evaluation runner) can catch them without
importing sqlglot or duckdb, and so that their text stays under one privacy rule: a message names
identifiers (tables, columns, functions, statement keywords) and positions, never a literal value from
the query or from the data, because literals may be identifying (MRNs, names, dates) and messages end
up in API responses and log lines.
"""

from __future__ import annotations

from enum import StrEnum


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

    The text keeps DuckDB's error class and first line with quoted strings and long numbers
    redacted, because DuckDB echoes values ("Could not convert string 'X' to INT32") and the
    query text ("LINE 1: ...") in its messages.
    """

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}" if detail else kind)
