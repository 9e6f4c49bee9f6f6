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
from urllib.parse import parse_qs, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict

__all__ = ["MartLocation", "MartLocationError", "mart_dialect", "parse_mart"]

MartKind = Literal["duckdb", "postgresql", "spark"]

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
    #: The Parquet folder (or a URL every Spark executor can read) of a Spark mart (``kind == "spark"``);
    #: its master (``local[2]`` or ``spark://host:port``) is :attr:`conninfo`.
    parquet: str = ""

    @property
    def name(self) -> str:
        """A short name to show and to match a request's ``mart`` against: the file's name, or the
        PostgreSQL database's (never the host, the socket folder or a password)."""
        if self.kind == "duckdb":
            return self.path.name if self.path is not None else self.display
        if self.kind == "spark":  # the Parquet folder's own name (never the master's host)
            return self.parquet.rstrip("/").rsplit("/", 1)[-1] or self.parquet
        parts = urlsplit(self.display)
        dbname = re.search(r"(?:^|&)dbname=([^&]*)", parts.query)
        return parts.path.strip("/") or (dbname.group(1) if dbname else "")

    @property
    def dialect(self) -> str:
        """The sqlglot dialect of the engine (what the guard parses a user's SQL in)."""
        if self.kind == "spark":
            return "spark"
        return "postgres" if self.kind == "postgresql" else "duckdb"


def _unfold(text: str) -> str:
    return _FOLDED.sub(lambda m: f"{m.group(1)}://", text, count=1)


def parse_mart(value: str | PathLike[str]) -> MartLocation:
    """The location a ``--mart`` / ``COHORT_MART`` value names.

    A ``postgresql://`` (or ``postgres://``) URL is a PostgreSQL database; ``spark-local:DIR`` and
    ``spark://host:port?parquet=DIR`` are Parquet folders read by Spark (sql_guard.spark_mart); any
    other ``scheme://`` is refused with the list of what is supported; everything else is a DuckDB file
    path.
    """
    raw = str(value).strip()
    if raw.lower().startswith(SPARK_LOCAL_PREFIX):
        return _spark_local(raw)
    text = _unfold(raw)
    m = _SCHEME.match(text)
    if m is None:
        return MartLocation(kind="duckdb", path=Path(value), display=str(value))
    scheme = m.group(1).lower()
    if scheme == "spark":
        return _spark_cluster(text)
    if scheme not in _PG_SCHEMES:
        raise MartLocationError(
            f"unsupported mart URL scheme {scheme!r}: give a DuckDB file path, a "
            "postgresql://user@host:port/database URL, spark-local:DIR or spark://host:port?parquet=DIR"
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


#: ``spark-local:DIR``: a Parquet folder (``DIR/<table>/*.parquet``) read by PySpark in local mode.
SPARK_LOCAL_PREFIX = "spark-local:"
#: The local master: two cores, as on the CI machines (sql_guard.spark_mart).
SPARK_LOCAL_MASTER = "local[2]"
SPARK_DEFAULT_PORT = 7077


def _spark_local(raw: str) -> MartLocation:
    folder = raw[len(SPARK_LOCAL_PREFIX) :].strip()
    if not folder:
        raise MartLocationError(
            "spark-local: needs the Parquet folder, e.g. spark-local:demo/parquet "
            "(write one with `cohort demo-data --target parquet:demo/parquet`)"
        )
    return MartLocation(
        kind="spark",
        path=Path(folder),
        parquet=folder,
        conninfo=SPARK_LOCAL_MASTER,
        display=f"{SPARK_LOCAL_PREFIX}{folder}",
    )


def _spark_cluster(text: str) -> MartLocation:
    """``spark://host[:port]?parquet=DIR``: a standalone Spark master and the Parquet folder its
    executors read (a shared path or an ``hdfs://`` / ``s3a://`` URL)."""
    parts = urlsplit(text)
    if parts.username or parts.password:
        # Spark masters take no credentials in the URL; never echo what was given
        raise MartLocationError(
            "a spark:// mart URL carries no user or password: Spark's own authentication "
            "(spark.authenticate.secret) belongs in the cluster's configuration"
        )
    if not parts.hostname:
        raise MartLocationError(
            "a Spark mart URL must name the master: spark://host:7077?parquet=DIR (or spark-local:DIR)"
        )
    try:
        port = parts.port or SPARK_DEFAULT_PORT
    except ValueError:
        raise MartLocationError("the port of a spark:// mart URL must be a number, e.g. 7077") from None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(k for k in query if k != "parquet")
    if unknown:
        raise MartLocationError(
            f"unknown parameter(s) {', '.join(unknown)} in a spark:// mart URL: only parquet=DIR is read"
        )
    folder = _unfold((query.get("parquet") or [""])[-1].strip())  # hdfs:// held in a Path folds too
    if not folder or parts.path.strip("/"):
        raise MartLocationError(
            "a Spark mart URL must name the Parquet folder as a parameter: spark://host:7077?parquet=DIR"
        )
    master = f"spark://{parts.hostname}:{port}"
    return MartLocation(kind="spark", parquet=folder, conninfo=master, display=f"{master}?parquet={folder}")


def mart_dialect(value: str | PathLike[str]) -> str:
    """The sqlglot dialect of the mart ``value`` names ("duckdb" for a path or a malformed URL: the
    opener reports what is wrong with it)."""
    try:
        return parse_mart(value).dialect
    except MartLocationError:
        return "duckdb"
