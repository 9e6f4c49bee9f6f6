"""The same compiled spec gives the same cohort on a real PostgreSQL server as on DuckDB.

Eunomia's OMOP tables are copied into a throwaway PostgreSQL cluster; every compiler case of
test_compiler_eunomia is rendered for the postgres dialect from the one sqlglot tree and run there.
"""

from __future__ import annotations

import psycopg
import pytest

from cohort_engine.sql_guard.compiler import compile_cohort
from tests.pg_server import postgres_server
from tests.test_compiler_eunomia import CASES

pytestmark = pytest.mark.postgres

TABLES = [
    "person",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "visit_occurrence",
    "concept",
    "concept_ancestor",
    "concept_synonym",
]
PG_TYPES = {
    "BIGINT": "BIGINT",
    "INTEGER": "INTEGER",
    "DATE": "DATE",
    "VARCHAR": "TEXT",
    "DOUBLE": "DOUBLE PRECISION",
    "TIMESTAMP": "TIMESTAMP",
    "FLOAT": "REAL",
}


@pytest.fixture(scope="module")
def pg(eunomia):
    with postgres_server() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        for table in TABLES:
            cols = eunomia.execute(f"DESCRIBE {table}").fetchall()
            ddl = ", ".join(f"{name.lower()} {PG_TYPES.get(typ, 'TEXT')}" for name, typ, *_ in cols)
            conn.execute(f"CREATE TABLE {table} ({ddl})")
            rows = eunomia.execute(f"SELECT * FROM {table}").fetchall()
            with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.execute("ANALYZE")
        yield conn


@pytest.mark.parametrize("name,spec,hand_sql", CASES, ids=[c[0] for c in CASES])
def test_postgres_cohort_equals_duckdb_cohort(pg, eunomia, name, spec, hand_sql) -> None:
    duck = compile_cohort(spec, dialect="duckdb")
    post = compile_cohort(spec, dialect="postgres")
    assert post.dialect == "postgres"
    if any(word in duck.cohort_sql for word in ("INTERVAL", "QUALIFY")):
        # really rendered for another engine (SQL with neither is the same text in both dialects)
        assert post.cohort_sql != duck.cohort_sql
    want = eunomia.execute(duck.cohort_sql).fetchall()
    got = pg.execute(post.cohort_sql).fetchall()
    assert [tuple(r) for r in got] == [tuple(r) for r in want]
    assert list(pg.execute(post.attrition_sql).fetchone()) == list(
        eunomia.execute(duck.attrition_sql).fetchall()[0]
    )
