"""Copy a DuckDB mart into PostgreSQL: the same tables, COPY, then the standard OMOP indexes.

Why: OMOP sites run PostgreSQL, and the engine must be measured and tested where they run it. The
demo mart (and the benchmark's larger marts) are built in DuckDB; this writes the very same rows into
a PostgreSQL schema, so that the same question can be asked of both and the person sets compared.

How: each table goes through a CSV that DuckDB writes (NULL as an empty field, an empty string as
``""``, which is how PostgreSQL's CSV reads them) and PostgreSQL reads with ``COPY FROM STDIN``; then
the indexes of OHDSI's ``OMOPCDM_postgresql_5.4_indices.sql`` (those whose columns the table has) and
``ANALYZE``. Tables are created without constraints, as the OHDSI DDL does before loading.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, Field

__all__ = ["OMOP_INDEXES", "LoadReport", "PgLoadError", "load_into_postgres", "pg_type"]

#: OHDSI's standard indexes (OMOP CDM 5.4, PostgreSQL): table → indexed columns, one index each.
OMOP_INDEXES: dict[str, tuple[str, ...]] = {
    "person": ("person_id", "gender_concept_id"),
    "observation_period": ("person_id",),
    "visit_occurrence": ("person_id", "visit_concept_id"),
    "visit_detail": ("person_id", "visit_detail_concept_id", "visit_occurrence_id"),
    "condition_occurrence": ("person_id", "condition_concept_id", "visit_occurrence_id"),
    "drug_exposure": ("person_id", "drug_concept_id", "visit_occurrence_id"),
    "procedure_occurrence": ("person_id", "procedure_concept_id", "visit_occurrence_id"),
    "device_exposure": ("person_id", "device_concept_id", "visit_occurrence_id"),
    "measurement": ("person_id", "measurement_concept_id", "visit_occurrence_id"),
    "observation": ("person_id", "observation_concept_id", "visit_occurrence_id"),
    "death": ("person_id",),
    "note": ("person_id", "note_type_concept_id", "visit_occurrence_id"),
    "specimen": ("person_id", "specimen_concept_id"),
    "drug_era": ("person_id", "drug_concept_id"),
    "condition_era": ("person_id", "condition_concept_id"),
    "concept": ("concept_id", "concept_code", "vocabulary_id", "domain_id", "concept_class_id"),
    "vocabulary": ("vocabulary_id",),
    "concept_relationship": ("concept_id_1", "concept_id_2", "relationship_id"),
    "concept_synonym": ("concept_id",),
    "concept_ancestor": ("ancestor_concept_id", "descendant_concept_id"),
    "image_occurrence": ("person_id",),
}

_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
_DIRECT = {
    "BIGINT": "BIGINT",
    "INTEGER": "INTEGER",
    "SMALLINT": "SMALLINT",
    "TINYINT": "SMALLINT",
    "UBIGINT": "NUMERIC(20)",
    "UINTEGER": "BIGINT",
    "USMALLINT": "INTEGER",
    "UTINYINT": "SMALLINT",
    "HUGEINT": "NUMERIC(39)",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "TIME": "TIME",
    "DOUBLE": "DOUBLE PRECISION",
    "FLOAT": "REAL",
    "VARCHAR": "TEXT",
    "BOOLEAN": "BOOLEAN",
    "BLOB": "BYTEA",
    "UUID": "UUID",
    "INTERVAL": "INTERVAL",
}


class PgLoadError(ValueError):
    """The load cannot proceed (the message says what to do)."""


class LoadReport(BaseModel):
    """What a load wrote."""

    tables: dict[str, int] = Field(description="Table → rows copied.")
    indexes: list[str] = Field(description="Indexes created.")
    seconds: float


def pg_type(duckdb_type: str) -> str:
    """The PostgreSQL column type of a DuckDB column type (lists and structs become JSON text)."""
    t = duckdb_type.upper().strip()
    if t in _DIRECT:
        return _DIRECT[t]
    m = re.fullmatch(r"(DECIMAL|NUMERIC)\((\d+),\s*(\d+)\)", t)
    if m:
        return f"NUMERIC({m.group(2)},{m.group(3)})"
    if t.startswith("VARCHAR"):
        return "TEXT"
    return "TEXT"


def load_into_postgres(
    mart: Path,
    conninfo: str,
    *,
    exclude: Sequence[str] = (),
    replace: bool = False,
    progress: Callable[[str], Any] | None = None,
) -> LoadReport:
    """Copy every table of the DuckDB mart ``mart`` into the current schema of ``conninfo``.

    Args:
        exclude: tables to leave out (lower-case names).
        replace: drop tables of the same names first; without it, a table that exists is an error
            (a load never silently mixes two marts).

    Raises:
        PgLoadError: the mart is missing, or a table exists and ``replace`` is False.
    """
    import psycopg

    started = time.perf_counter()
    if not Path(mart).is_file():
        raise PgLoadError(f"mart file not found: {mart} (build one with `cohort demo-data`)")
    # ATTACHed to a database of its own: the same process may hold the mart open with the engine's
    # hardened settings, and DuckDB refuses a second connect() to a file with another configuration
    src = duckdb.connect()
    src.execute("SET enable_progress_bar = false")  # stdout belongs to the command's own report
    src.execute(f"ATTACH {_quote(str(mart))} AS src (READ_ONLY)")
    tables: dict[str, int] = {}
    indexes: list[str] = []
    try:
        names = [
            str(n).lower()
            for (n,) in src.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src' "
                "AND table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
            ).fetchall()
        ]
        names = [n for n in names if n not in {e.lower() for e in exclude} and _PLAIN.match(n)]
        with psycopg.connect(conninfo, autocommit=True) as pg, tempfile.TemporaryDirectory() as tmp:
            existing = {
                str(n)
                for (n,) in pg.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                ).fetchall()
            }
            clash = sorted(set(names) & existing)
            if clash and not replace:
                raise PgLoadError(
                    f"the target already has table(s) {', '.join(clash)}; "
                    "load into an empty schema or pass --replace"
                )
            for name in names:
                if progress:
                    progress(name)
                cols = src.execute(f'DESCRIBE src."{name}"').fetchall()
                ddl = ", ".join(f'"{str(c[0]).lower()}" {pg_type(str(c[1]))}' for c in cols)
                csv = Path(tmp) / f"{name}.csv"
                src.execute(f'COPY src."{name}" TO {_quote(str(csv))} (FORMAT csv, HEADER false)')
                with pg.transaction():
                    pg.execute(f'DROP TABLE IF EXISTS "{name}"')
                    pg.execute(f'CREATE TABLE "{name}" ({ddl})')
                    with (
                        pg.cursor().copy(f'COPY "{name}" FROM STDIN (FORMAT csv)') as copy,
                        csv.open("rb") as f,
                    ):
                        while chunk := f.read(1 << 20):
                            copy.write(chunk)
                csv.unlink()
                (count,) = pg.execute(f'SELECT count(*) FROM "{name}"').fetchone() or (0,)
                tables[name] = int(count)
                present = {str(c[0]).lower() for c in cols}
                for column in OMOP_INDEXES.get(name, ()):
                    if column in present:
                        index = f"idx_{name}_{column}"[:63]
                        if progress:
                            progress(f"{name}: index on {column}")
                        pg.execute(f'CREATE INDEX "{index}" ON "{name}" ("{column}")')
                        indexes.append(index)
            pg.execute("ANALYZE")
    finally:
        src.close()
    return LoadReport(tables=tables, indexes=indexes, seconds=round(time.perf_counter() - started, 3))


def _quote(text: str) -> str:
    """A DuckDB string literal (ATTACH and COPY take no parameters)."""
    return "'" + text.replace("'", "''") + "'"
