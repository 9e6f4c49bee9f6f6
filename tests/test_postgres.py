"""The same compiled spec gives the same cohort on a real PostgreSQL server as on DuckDB.

Eunomia's OMOP tables are copied into a throwaway PostgreSQL cluster; every compiler case of
test_compiler_eunomia is rendered for the postgres dialect from the one sqlglot tree and run there.
"""

from __future__ import annotations

import os

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


# -- a mart is a URL: the demo and Eunomia marts loaded into PostgreSQL, asked through the engine ----

PG_MART_PORT = 55437
#: A fixed sample of the gold questions (dev and test splits only: never the blind one's sentences).
SAMPLE_DEMO = 20
SAMPLE_EUNOMIA = 10


def _url(dsn: str, dbname: str, user: str = "postgres") -> str:
    parts = dict(item.split("=", 1) for item in dsn.split())
    return f"postgresql://{user}@localhost/{dbname}?host={parts['host']}&port={parts['port']}"


@pytest.fixture(scope="module")
def pg_marts(demo_mart_path, eunomia_path):
    """One cluster: the demo mart (loaded by `cohort demo-data --target … --load-only`) in ``postgres``,
    Eunomia in ``eunomia``, and a read-only role ``cohort_reader`` on both."""
    import subprocess
    import sys

    from cohort_engine.schema_catalog.pg_load import load_into_postgres

    with postgres_server(port=PG_MART_PORT) as dsn:
        demo_url = _url(dsn, "postgres")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cohort_engine.cli",
                "demo-data",
                "--out",
                str(demo_mart_path.parent),
                "--target",
                demo_url,
                "--load-only",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "COLUMNS": "400"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "indexes into postgresql://postgres@localhost/postgres" in done.stdout
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("CREATE DATABASE eunomia")
        load_into_postgres(eunomia_path, dsn.replace("dbname=postgres", "dbname=eunomia"))
        for db in ("postgres", "eunomia"):
            with psycopg.connect(dsn.replace("dbname=postgres", f"dbname={db}"), autocommit=True) as admin:
                if db == "postgres":
                    admin.execute("CREATE ROLE cohort_reader LOGIN")
                    admin.execute("ALTER ROLE cohort_reader SET default_transaction_read_only = on")
                admin.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO cohort_reader")
        yield {"dsn": dsn, "demo": demo_url, "eunomia": _url(dsn, "eunomia")}


@pytest.fixture(scope="module")
def pg_demo(pg_marts):
    from cohort_engine.sql_guard.runner import open_mart

    con = open_mart(pg_marts["demo"])
    yield con
    con.close()


@pytest.fixture(scope="module")
def pg_eunomia(pg_marts):
    from cohort_engine.sql_guard.runner import open_mart

    con = open_mart(pg_marts["eunomia"])
    yield con
    con.close()


def test_loaded_tables_have_the_same_rows(pg_marts, demo) -> None:
    with psycopg.connect(pg_marts["dsn"]) as conn:
        for table in ("person", "condition_occurrence", "concept", "concept_ancestor", "measurement"):
            (want,) = demo.execute(f"SELECT count(*) FROM {table}").fetchone()
            (got,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert got == want, table
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert {"idx_condition_occurrence_person_id", "idx_concept_ancestor_ancestor_concept_id"} <= indexes


def test_seed_question_same_cohort_on_postgres(pg_demo, demo) -> None:
    from cohort_engine.nlq.parser import parse
    from cohort_engine.pipeline import run_spec
    from tests.conftest import SEED_EN

    spec = parse(SEED_EN).spec
    assert spec is not None
    duck = run_spec(spec, demo, include_person_ids=True)
    post = run_spec(spec, pg_demo, include_person_ids=True)
    assert post.status == duck.status == "ok"
    assert post.count == duck.count == 16
    assert post.person_ids == duck.person_ids
    assert [a.persons for a in post.attrition] == [a.persons for a in duck.attrition] == [1476, 16]
    assert post.imaging == duck.imaging
    assert post.resolutions == duck.resolutions


def _gold_sample():
    from cohort_engine.evals.gold import load_gold

    records = [
        r
        for r in load_gold()
        if r.split in ("dev", "test") and r.expected_status == "ok" and r.mart in ("demo", "eunomia")
    ]
    out = []
    for mart, n in (("demo", SAMPLE_DEMO), ("eunomia", SAMPLE_EUNOMIA)):
        mine = sorted((r for r in records if r.mart == mart), key=lambda r: r.id)
        step = max(1, len(mine) // n)
        out += mine[::step][:n]
    return out


GOLD_SAMPLE = _gold_sample()


@pytest.mark.parametrize("record", GOLD_SAMPLE, ids=[r.id for r in GOLD_SAMPLE])
def test_gold_question_same_person_set_on_postgres(record, demo, eunomia, pg_demo, pg_eunomia) -> None:
    from cohort_engine.evals.runner import gold_person_ids
    from cohort_engine.parsers import parser_for
    from cohort_engine.pipeline import answer_from_parse, run_spec

    duck_con, pg_con = (demo, pg_demo) if record.mart == "demo" else (eunomia, pg_eunomia)
    assert record.gold_sql
    assert gold_person_ids(pg_con, record.gold_sql) == gold_person_ids(duck_con, record.gold_sql)
    parsed = parser_for("rule")(record.question, today=record.today)
    if parsed.status != "ok" or parsed.spec is None:
        assert answer_from_parse(parsed).status != "ok"
        return
    duck = run_spec(parsed.spec, duck_con, include_person_ids=True, sample_size=0)
    post = run_spec(parsed.spec, pg_con, include_person_ids=True, sample_size=0)
    assert (post.status, post.message) == (duck.status, duck.message)
    assert post.person_ids == duck.person_ids
    assert [a.persons for a in post.attrition] == [a.persons for a in duck.attrition]


def _cohort(*args: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "cohort_engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "400"},
    )


def test_cli_ask_on_a_postgres_url(pg_marts, demo_mart_path, tmp_path) -> None:
    import json

    question = "patients diagnosed with MI in 2023"
    post = _cohort("ask", "--json", "--mart", pg_marts["demo"], question)
    duck = _cohort("ask", "--json", "--mart", str(demo_mart_path), question)
    assert post.returncode == duck.returncode == 0, post.stderr[-2000:]
    p, d = json.loads(post.stdout), json.loads(duck.stdout)
    assert p["status"] == "ok" and p["count"] == d["count"] == 304
    assert p["attrition"] == d["attrition"]
    assert p["spec"] == d["spec"]
    spec = tmp_path / "mi.json"
    spec.write_text(json.dumps(p["spec"]), "utf-8")
    run = _cohort("run", "--json", "--person-ids", "--mart", pg_marts["demo"], str(spec))
    again = _cohort("run", "--json", "--person-ids", "--mart", str(demo_mart_path), str(spec))
    assert run.returncode == again.returncode == 0, run.stderr[-2000:]
    r, a = json.loads(run.stdout), json.loads(again.stdout)
    assert r["count"] == 304 and r["person_ids"] == a["person_ids"] and len(r["person_ids"]) == 304


def test_cli_sql_guard_on_postgres(pg_marts) -> None:
    import json

    ok = _cohort(
        "sql",
        "--json",
        "--mart",
        pg_marts["demo"],
        "SELECT count(*) AS n FROM person WHERE gender_concept_id::text ~ '^85'",  # PostgreSQL dialect
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert json.loads(ok.stdout) == {"status": "ok", "columns": ["n"], "rows": [[20000]]}
    bad = _cohort("sql", "--json", "--mart", pg_marts["demo"], "SELECT person_source_value FROM person")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["rule"] == "identifying_column"


def test_cli_refuses_unknown_engines_and_hides_the_password(pg_marts) -> None:
    bad = _cohort("ask", "--mart", "mysql://u@h/db", "patients with MI")
    assert bad.returncode == 2
    assert "unsupported mart URL scheme 'mysql'" in bad.stderr
    url = pg_marts["demo"].replace("postgres@", "postgres:s3cret-pw@").replace("/postgres?", "/nodb?")
    missing = _cohort("ask", "--mart", url, "patients with MI")
    assert missing.returncode == 2
    assert 'database "nodb" does not exist' in missing.stderr
    assert "s3cret-pw" not in missing.stderr + missing.stdout


def test_writes_fail_through_the_connection(pg_demo) -> None:
    import duckdb

    for sql in (
        "CREATE TABLE scratch (a INTEGER)",
        "INSERT INTO person (person_id) VALUES (-1)",
        "DELETE FROM person",
    ):
        with pytest.raises(duckdb.PermissionException, match="25006"):  # read_only_sql_transaction
            pg_demo.execute(sql)
    (n,) = pg_demo.execute("SELECT count(*) FROM person").fetchone()
    assert n == 20000


def test_read_only_role_holds_even_when_the_session_default_is_lifted(pg_marts) -> None:
    import duckdb

    from cohort_engine.sql_guard.runner import open_mart

    con = open_mart(_url(pg_marts["dsn"], "postgres", user="cohort_reader"))
    try:
        cur = con.cursor()
        cur.execute("SET default_transaction_read_only = off")  # a statement the guard never lets through
        with pytest.raises(duckdb.PermissionException, match="25006"):  # the pool reset the session
            cur.execute("INSERT INTO person (person_id) VALUES (-1)")
        (mode,) = cur.execute("SELECT current_setting('default_transaction_read_only')").fetchone()
        assert mode == "on"
    finally:
        con.close()
    # the role's grants are the wall that no session setting lifts
    raw = pg_marts["dsn"].replace("user=postgres", "user=cohort_reader")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO person (person_id) VALUES (-1)")


def test_query_timeout_cancels_on_postgres(pg_demo) -> None:
    from cohort_engine.sql_guard.runner import QueryTimeout, guarded_query

    with pytest.raises(QueryTimeout):
        guarded_query(
            pg_demo,
            "SELECT count(*) FROM measurement a, measurement b WHERE a.value_as_number < b.value_as_number",
            timeout_s=0.5,
        )


def test_mart_url_parsing() -> None:
    from pathlib import Path

    from cohort_engine.schema_catalog.mart_url import MartLocationError, parse_mart

    loc = parse_mart(Path("postgresql://reader:pw@db.example:5432/omop?sslmode=require"))  # folded by Path
    assert loc.kind == "postgresql" and loc.dialect == "postgres"
    assert loc.conninfo == "postgresql://reader:pw@db.example:5432/omop?sslmode=require"
    assert loc.display == "postgresql://reader@db.example:5432/omop?sslmode=require"
    assert parse_mart("demo/mart.duckdb").kind == "duckdb"
    with pytest.raises(MartLocationError, match="must name the database"):
        parse_mart("postgresql://reader@db.example:5432")
    with pytest.raises(MartLocationError, match="unsupported mart URL scheme 'mysql'"):
        parse_mart("mysql://reader@db.example/omop")
    with pytest.raises(MartLocationError, match="must name the Parquet folder"):
        parse_mart("spark://host:7077")
