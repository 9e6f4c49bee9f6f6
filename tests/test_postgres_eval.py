"""The eval runner over a PostgreSQL mart URL: Eunomia's questions score and answer as on DuckDB.

Eunomia (GiBleed) is copied into a throwaway PostgreSQL cluster (``schema_catalog.pg_load``) and opened
by URL, as ``cohort eval --eunomia postgresql://…`` opens it. Every distinct gold SQL of the dev and open
splits must give the same person set on both engines (PostgreSQL 15 refuses some of DuckDB's spellings,
e.g. an unaliased subquery in FROM: ``sql_guard.dialect_shapes`` renders them), and a fixed sample of the
questions must come back from the runner with the same outcome, person for person. The demo and demo7
questions are compared in full by ``benchmarks/eval_engines.py`` (minutes: two 20,000-person marts);
``tests/test_postgres.py`` samples the demo questions of the dev and test splits.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from cohort_engine.evals.gold import GoldRecord, load_gold
from cohort_engine.evals.runner import evaluate_question, gold_person_ids, run_eval
from cohort_engine.parsers import parser_for
from cohort_engine.pipeline import run_spec
from cohort_engine.schema_catalog.pg_load import load_into_postgres
from cohort_engine.sql_guard.runner import open_mart
from tests.pg_server import postgres_server

pytestmark = pytest.mark.postgres

PORT = 55443
#: Questions of the open split run through the runner on both engines (a fixed sample, by id).
SAMPLE = 16


def _records() -> list[GoldRecord]:
    return [r for r in load_gold() if r.mart == "eunomia" and r.split in ("dev", "open")]


RECORDS = _records()
GOLD_SQL = sorted({r.gold_sql for r in RECORDS if r.gold_sql})
OPEN = sorted((r for r in RECORDS if r.split == "open"), key=lambda r: r.id)
OPEN_SAMPLE = OPEN[:: max(1, len(OPEN) // SAMPLE)][:SAMPLE]


@pytest.fixture(scope="module")
def pg_eunomia(eunomia_path) -> Iterator:
    with postgres_server(port=PORT) as dsn:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("CREATE DATABASE eunomia")
        load_into_postgres(eunomia_path, dsn.replace("dbname=postgres", "dbname=eunomia"))
        parts = dict(item.split("=", 1) for item in dsn.split())
        con = open_mart(f"postgresql://postgres@localhost/eunomia?host={parts['host']}&port={PORT}")
        try:
            yield con
        finally:
            con.close()


def test_the_splits_hold_what_this_module_counts_on() -> None:
    # at least what the independent batches held when this was written (new batches only add to it)
    assert len(RECORDS) >= 232 and len(GOLD_SQL) >= 182
    assert {r.split for r in OPEN_SAMPLE} == {"open"} and len(OPEN_SAMPLE) == SAMPLE
    assert {r.expected_status for r in OPEN_SAMPLE} >= {"ok"}


def test_every_gold_query_gives_the_same_persons(eunomia, pg_eunomia) -> None:
    differ = [
        i
        for i, sql in enumerate(GOLD_SQL)
        if gold_person_ids(pg_eunomia, sql) != gold_person_ids(eunomia, sql)
    ]
    assert differ == []


@pytest.mark.parametrize("record", OPEN_SAMPLE, ids=[r.id for r in OPEN_SAMPLE])
def test_runner_scores_the_same_on_both(record: GoldRecord, eunomia, pg_eunomia) -> None:
    parse = parser_for("rule")
    gold = gold_person_ids(eunomia, record.gold_sql) if record.gold_sql else None
    duck = evaluate_question(record, eunomia, parse, gold)
    post = evaluate_question(record, pg_eunomia, parse, gold)
    skip = {"latency_ms"}
    assert post.model_dump(exclude=skip) == duck.model_dump(exclude=skip)
    parsed = parse(record.question, today=record.today)
    if parsed.status == "ok" and parsed.spec is not None:
        a = run_spec(parsed.spec, eunomia, include_person_ids=True, sample_size=0)
        b = run_spec(parsed.spec, pg_eunomia, include_person_ids=True, sample_size=0)
        assert (b.status, b.person_ids) == (a.status, a.person_ids)


def test_run_eval_takes_an_open_url_mart(eunomia, pg_eunomia) -> None:
    parse = parser_for("rule")
    records = OPEN_SAMPLE[:4]
    duck = run_eval(records, {"eunomia": eunomia}, parse, split="open")
    post = run_eval(records, {"eunomia": pg_eunomia}, parse, split="open")
    assert [o.model_dump(exclude={"latency_ms"}) for o in post.outcomes] == [
        o.model_dump(exclude={"latency_ms"}) for o in duck.outcomes
    ]
    assert post.skipped == duck.skipped == {}
