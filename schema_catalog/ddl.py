"""DDL of the OMOP CDM 5.4 subset, generated from the one table description in ``tables.py``."""

from __future__ import annotations

from cohort_engine.schema_catalog.tables import TABLES, Table


def table_ddl(table: Table, dialect: str = "duckdb") -> str:
    cols = ",\n".join(f"  {c.name} {c.type}{' NOT NULL' if c.required else ''}" for c in table.columns)
    sql = f"CREATE TABLE IF NOT EXISTS {table.name} (\n{cols}\n)"
    if dialect == "duckdb":
        return sql
    import sqlglot  # only for other dialects: DuckDB callers (the DICOM indexer) start without it

    return sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=True)[0]


def omop_ddl(dialect: str = "duckdb") -> str:
    return ";\n\n".join(table_ddl(t, dialect) for t in TABLES) + ";\n"
