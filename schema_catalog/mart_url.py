"""Where a mart lives: a DuckDB file or a PostgreSQL database, named by one string.

Why one parser: ``--mart``, ``COHORT_MART``, the API and the eval runner all carry the mart as a
``Path``, and every opener must agree on what a value means. ``Path("postgresql://h/db")`` folds the
``//`` to ``/``; :func:`parse_mart` undoes that fold, so a URL survives being held as a path (name a
host and a database: ``postgresql://user@host:5432/db``; for a unix socket
``postgresql://user@localhost/db?host=/run/postgresql``).

The password never leaves this module in text meant for people: :attr:`MartLocation.display` is the
URL without it, and it is what messages, the pipeline's mart identity and logs show.
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict

__all__ = ["MartLocation", "MartLocationError", "mart_dialect", "parse_mart"]

MartKind = Literal["duckdb", "postgresql"]

_PG_SCHEMES = ("postgresql", "postgres")
_FOLDED = re.compile(r"^([a-z][a-z0-9+.\-]+):/(?!/)", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*)://", re.IGNORECASE)


class MartLocationError(ValueError):
    """A mart value that names no supported engine, or a malformed URL (the message says which)."""


class MartLocation(BaseModel):
    """A parsed mart value: which engine, and how to reach it."""

    model_config = ConfigDict(frozen=True)

    kind: MartKind
    #: The DuckDB file (``kind == "duckdb"``).
    path: Path | None = None
    #: The libpq connection URL, password included (``kind == "postgresql"``); never print it.
    conninfo: str = ""
    #: What people see: the file, or the URL without its password.
    display: str

    @property
    def dialect(self) -> str:
        """The sqlglot dialect of the engine (what the guard parses a user's SQL in)."""
        return "postgres" if self.kind == "postgresql" else "duckdb"


def _unfold(text: str) -> str:
    return _FOLDED.sub(lambda m: f"{m.group(1)}://", text, count=1)


def parse_mart(value: str | PathLike[str]) -> MartLocation:
    """The location a ``--mart`` / ``COHORT_MART`` value names.

    A ``postgresql://`` (or ``postgres://``) URL is a PostgreSQL database; any other ``scheme://`` is
    refused with the list of what is supported; everything else is a DuckDB file path.
    """
    text = _unfold(str(value).strip())
    m = _SCHEME.match(text)
    if m is None:
        return MartLocation(kind="duckdb", path=Path(value), display=str(value))
    scheme = m.group(1).lower()
    if scheme not in _PG_SCHEMES:
        raise MartLocationError(
            f"unsupported mart URL scheme {scheme!r}: give a DuckDB file path or a "
            "postgresql://user@host:port/database URL"
        )
    parts = urlsplit(text)
    if not parts.path.strip("/") and "dbname=" not in parts.query:
        raise MartLocationError(
            "a PostgreSQL mart URL must name the database: postgresql://user@host:port/database"
        )
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    netloc = user + host + (f":{parts.port}" if parts.port else "")
    query = re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query)
    display = urlunsplit(("postgresql", netloc, parts.path, query, ""))
    return MartLocation(kind="postgresql", conninfo=text, display=display)


def mart_dialect(value: str | PathLike[str]) -> str:
    """The sqlglot dialect of the mart ``value`` names ("duckdb" for a path or a malformed URL: the
    opener reports what is wrong with it)."""
    try:
        return parse_mart(value).dialect
    except MartLocationError:
        return "duckdb"
