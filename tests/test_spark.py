"""The same questions give the same persons on Spark (PySpark, local mode) as on DuckDB.

The demo mart is written as Parquet folders (what `cohort demo-data --target parquet:DIR` writes) and
opened as `spark-local:DIR` through `open_mart`, so the pipeline, the guard, the runner, the eval
runner and the CLI run on Spark unchanged. One Spark driver serves the whole test session (it is the
process's). Spark needs Java 17+: where it is missing these tests fail with the reason (CI installs
it through scripts/setup-system.sh), they never skip.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from cohort_engine.schema_catalog.mart_url import MartLocationError, mart_dialect, parse_mart
from cohort_engine.sql_guard.runner import MartError, open_mart

#: Gold questions of different shapes (dev split), asked on both engines; their gold SQL too.
SHAPES = [
    "demo-seed-en1",  # the seed: procedures 7..14 days after any diagnosis in a date range
    "demo-seed-ko1",  # the seed in Korean
    "demo-af_never_warfarin-en1",  # an exclusion (never)
    "demo-colon_cancer_one_colonoscopy-en1",  # a count criterion: exactly one in 90 days before
    "demo-hba1c_gt_9_2024-en1",  # a lab threshold (unit-checked against the mart's values)
    "demo-bmi_ge_30_2022-ko1",  # a lab threshold, in Korean
    "demo-new_t2dm_2022-en1",  # first occurrence ever, then the date range
    "demo-warfarin_2023_75plus-en1",  # age at index, drugs
    "demo-lung_cancer_death_365d-en1",  # death within a window of the first diagnosis
    "demo-stroke_mri_within_3d-en1",  # an imaging criterion
]


@pytest.fixture(scope="session")
def spark_dir(demo_mart_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cohort_engine.schema_catalog.parquet_export import export_parquet

    out = tmp_path_factory.mktemp("spark") / "parquet"
    export_parquet(demo_mart_path, out)
    return out


@pytest.fixture(scope="session")
def spark_demo(spark_dir: Path):
    from cohort_engine.sql_guard.spark_mart import java_problem

    problem = java_problem()
    if problem:
        pytest.fail(problem)  # skipping is not passing: CI must have Java (scripts/setup-system.sh)
    con = open_mart(f"spark-local:{spark_dir}")
    yield con
    con.close()


# -- the mart value ----------------------------------------------------------------------------------


def test_spark_mart_values_parse() -> None:
    local = parse_mart(Path("spark-local:/data/omop"))  # survives being held as a Path
    assert (local.kind, local.dialect, local.parquet, local.conninfo, local.display) == (
        "spark",
        "spark",
        "/data/omop",
        "local[2]",
        "spark-local:/data/omop",
    )
    cluster = parse_mart(Path("spark://master.example:7077?parquet=hdfs://nn/omop"))
    assert (cluster.conninfo, cluster.parquet, cluster.display) == (
        "spark://master.example:7077",
        "hdfs://nn/omop",
        "spark://master.example:7077?parquet=hdfs://nn/omop",
    )
    assert parse_mart("spark://m?parquet=/mnt/omop").conninfo == "spark://m:7077"
    assert mart_dialect("spark-local:x") == "spark"
    assert (local.name, cluster.name) == ("omop", "omop")  # the folder's name, never the host
    with pytest.raises(MartLocationError, match="needs the Parquet folder") as e:
        parse_mart("spark-local:")
    assert "spark-local:demo/parquet" in str(e.value)
    with pytest.raises(MartLocationError, match="must name the Parquet folder"):
        parse_mart("spark://master:7077")
    with pytest.raises(MartLocationError, match=r"unknown parameter\(s\) user in a spark://"):
        parse_mart("spark://master:7077?parquet=/x&user=a")
    with pytest.raises(MartLocationError, match="carries no user or password") as e:
        parse_mart("spark://u:s3cret-pw@master:7077?parquet=/x")
    assert "s3cret-pw" not in str(e.value)
    with pytest.raises(MartLocationError, match="unsupported mart URL scheme 'mysql'.*spark-local:DIR"):
        parse_mart("mysql://u@h/db")


def test_open_refuses_what_is_not_a_parquet_mart(tmp_path: Path) -> None:
    with pytest.raises(MartError, match="Parquet folder not found: .*cohort demo-data --target parquet:DIR"):
        open_mart(f"spark-local:{tmp_path / 'missing'}")
    (tmp_path / "person").mkdir()
    with pytest.raises(MartError, match=r"is not an OMOP mart: no Parquet table\(s\) person, concept"):
        open_mart(f"spark-local:{tmp_path}")  # a folder without Parquet files is no table


#: Two sibling subqueries with a WITH each, the same names over different rows, one nested deeper and
#: one CTE reading the outer CTE of its own name: the manifest's shape and more (sql_guard.spark_mart).
NESTED_CTES = """
WITH base AS (SELECT v FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS t(v))
SELECT a.n, b.n, c.n, d.n FROM
  (WITH cohort AS (SELECT v FROM base WHERE v < 3), k AS (SELECT v FROM cohort)
   SELECT count(*) AS n FROM k) AS a
  JOIN (WITH cohort AS (SELECT v FROM base WHERE v >= 3),
             k AS (SELECT v FROM (WITH cohort AS (SELECT 1 AS v) SELECT * FROM cohort) AS z
                   UNION ALL SELECT v FROM cohort)
        SELECT count(*) AS n FROM k) AS b ON TRUE
  JOIN (SELECT count(*) AS n FROM base) AS c ON TRUE
  JOIN (WITH base AS (SELECT v FROM base WHERE v > 5) SELECT count(*) AS n FROM base) AS d ON TRUE
"""


def _rows(sql: str) -> list[tuple]:
    """The rows of ``sql`` on a throwaway in-memory DuckDB database."""
    with duckdb.connect() as con:
        return con.execute(sql).fetchall()


def test_nested_ctes_get_names_of_their_own_for_spark() -> None:
    """sqlglot moves every CTE to the top WITH for Spark; renamed apart first, the statement keeps its
    meaning (run here on DuckDB, before and after) and Spark gets no duplicate name."""
    import sqlglot
    from sqlglot import exp

    from cohort_engine.sql_guard.dialect_shapes import parse_duckdb, to_spark
    from cohort_engine.sql_guard.spark_mart import _unique_nested_ctes

    want = _rows(NESTED_CTES)
    assert want == [(3, 8, 10, 4)]
    renamed = _unique_nested_ctes(parse_duckdb(NESTED_CTES))
    assert _rows(renamed.sql(dialect="duckdb")) == want
    spark = sqlglot.parse_one(to_spark(renamed), read="spark")
    names = [c.alias_or_name for c in spark.find_all(exp.CTE)]
    assert len(names) == len(set(names)) == 7 and "base" in names
    assert sum(1 for w in spark.find_all(exp.With)) == 1  # all at the top, as Spark gets them
    assert _rows(spark.sql(dialect="duckdb")) == want  # and still the same rows
    flat = sqlglot.parse_one(NESTED_CTES, read="duckdb")  # without the renaming: the duplicates
    dup = [c.alias_or_name for c in sqlglot.parse_one(to_spark(flat), read="spark").find_all(exp.CTE)]
    assert len(dup) > len(set(dup))
    plain = parse_duckdb("WITH a AS (SELECT 1 AS x) SELECT x FROM a")
    assert _unique_nested_ctes(plain) is plain and plain.sql() == "WITH a AS (SELECT 1 AS x) SELECT x FROM a"


# -- the same persons ------------------------------------------------------------------------------


def _record(record_id: str):
    from cohort_engine.evals.gold import load_gold

    return next(r for r in load_gold(split="dev") if r.id == record_id)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("record_id", SHAPES)
def test_same_person_set_on_spark(record_id: str, demo, spark_demo) -> None:
    from cohort_engine.evals.runner import gold_person_ids
    from cohort_engine.parsers import parser_for
    from cohort_engine.pipeline import run_spec

    record = _record(record_id)
    assert record.gold_sql
    gold = gold_person_ids(demo, record.gold_sql)
    assert gold_person_ids(spark_demo, record.gold_sql) == gold
    parsed = parser_for("rule")(record.question, today=record.today)
    assert parsed.status == "ok" and parsed.spec is not None
    duck = run_spec(parsed.spec, demo, include_person_ids=True, sample_size=0)
    spark = run_spec(parsed.spec, spark_demo, include_person_ids=True, sample_size=0)
    assert duck.status == "ok"
    assert (spark.status, spark.message) == (duck.status, duck.message)
    assert spark.person_ids == duck.person_ids
    assert len(spark.person_ids or []) == duck.count
    assert [a.persons for a in spark.attrition] == [a.persons for a in duck.attrition]
    assert spark.imaging == duck.imaging
    if record_id.startswith("demo-seed"):
        assert spark.count == 16 and [a.persons for a in spark.attrition] == [1476, 16]


@pytest.mark.spark
@pytest.mark.slow
def test_eval_runner_on_a_spark_url(demo, spark_demo) -> None:
    """`cohort eval --mart spark-local:DIR` runs the gold questions through run_eval: the same
    outcome per question as on DuckDB (a fixed subset; the full dev split is in docs/SCALE.md)."""
    from cohort_engine.evals.runner import run_eval
    from cohort_engine.parsers import parser_for

    records = [_record("demo-htn_18_39-en1")]
    parse = parser_for("rule")

    def outcomes(con: duckdb.DuckDBPyConnection) -> list[tuple]:
        report = run_eval(records, {"demo": con}, parse, split="dev")
        return [(o.id, o.status, o.gold_size, o.produced_size, o.exact) for o in report.outcomes]

    on_spark = outcomes(spark_demo)
    assert on_spark == outcomes(demo)
    assert all(exact for *_, exact in on_spark)


# -- the CLI, the guard ------------------------------------------------------------------------------


def _cli(*args: str):
    from typer.testing import CliRunner

    from cohort_engine.cli import app

    return CliRunner().invoke(app, list(args))  # in process: the session's Spark driver serves it


@pytest.mark.spark
@pytest.mark.slow
def test_cli_ask_and_sql_on_a_spark_mart(spark_demo, spark_dir: Path, demo_mart_path: Path) -> None:
    mart = f"spark-local:{spark_dir}"
    question = "patients diagnosed with MI in 2023"
    spark = _cli("ask", "--json", "--mart", mart, question)
    duck = _cli("ask", "--json", "--mart", str(demo_mart_path), question)
    assert spark.exit_code == duck.exit_code == 0, spark.output[-2000:]
    s, d = json.loads(spark.stdout), json.loads(duck.stdout)
    assert s["status"] == "ok" and s["count"] == d["count"] == 304
    assert s["attrition"] == d["attrition"] and s["spec"] == d["spec"]
    # Spark's dialect in, the same guard: RLIKE and a cast as Spark writes them
    ok = _cli(
        "sql",
        "--json",
        "--mart",
        mart,
        "SELECT count(*) AS n FROM person WHERE CAST(gender_concept_id AS STRING) RLIKE '^85'",
    )
    assert ok.exit_code == 0, ok.output[-2000:]
    assert json.loads(ok.stdout) == {"status": "ok", "columns": ["n"], "rows": [[20000]]}
    bad = _cli("sql", "--json", "--mart", mart, "SELECT person_source_value FROM person")
    assert bad.exit_code == 1 and json.loads(bad.stdout)["rule"] == "identifying_column"


# -- read-only, quiet errors, time limit -------------------------------------------------------------


@pytest.mark.spark
@pytest.mark.slow
def test_only_queries_over_the_marts_tables_run(spark_demo) -> None:
    for sql in (
        "CREATE TABLE scratch (a INTEGER)",
        "INSERT INTO person (person_id) VALUES (-1)",
        "DELETE FROM person",
        "COPY person TO '/tmp/x.csv'",
    ):
        with pytest.raises(duckdb.PermissionException, match="read-only: only SELECT"):
            spark_demo.execute(sql)
    with pytest.raises(duckdb.PermissionException, match="reads its own tables only"):
        spark_demo.execute("SELECT * FROM read_parquet('/etc/hostname')")
    with pytest.raises(duckdb.PermissionException, match="function reflect is not available"):
        spark_demo.execute("SELECT reflect('java.lang.System', 'getenv', 'HOME')")
    with pytest.raises(duckdb.CatalogException, match="Spark mart: no table pg_shadow"):
        spark_demo.execute("SELECT * FROM pg_shadow")
    (n,) = spark_demo.execute("SELECT count(*) FROM person").fetchone()
    assert n == 20000


@pytest.mark.spark
@pytest.mark.slow
def test_registered_rows_are_read_as_a_table(spark_demo) -> None:
    """What the runner does with rows the caller holds (sql_guard.uploads): register, copy into a
    temporary table, unregister, join."""
    import pyarrow as pa

    cur = spark_demo.cursor()
    try:
        cur.register("staging", pa.table({"person_id": pa.array([1, 2, 3, 99_999_999], pa.int64())}))
        cur.execute("CREATE OR REPLACE TEMP TABLE picked AS SELECT * FROM staging")
        cur.unregister("staging")
        with pytest.raises(duckdb.CatalogException, match="no table staging"):
            cur.execute("SELECT * FROM staging")
        got = cur.execute(
            "SELECT count(*) FROM picked AS k JOIN person AS p ON p.person_id = k.person_id"
        ).fetchone()
        assert got == (3,)
        with pytest.raises(duckdb.CatalogException, match="no table picked"):
            spark_demo.execute("SELECT * FROM picked")  # another handle's table
    finally:
        cur.close()


@pytest.mark.spark
@pytest.mark.slow
def test_errors_carry_the_condition_never_a_value(spark_demo, demo, capfd) -> None:
    from cohort_engine.sql_guard.runner import QueryError, execute_internal

    (name,) = demo.execute("SELECT family_name FROM demo_identity ORDER BY person_id LIMIT 1").fetchone()
    sql = "SELECT CAST(family_name AS INTEGER) FROM demo_identity ORDER BY person_id"
    with pytest.raises(duckdb.ConversionException) as e:
        spark_demo.execute(sql)
    assert str(e.value) == "Spark error CAST_INVALID_INPUT (SQLSTATE 22018)"
    with pytest.raises(QueryError) as q:
        execute_internal(spark_demo, sql)
    assert name not in str(q.value) and "ConversionException" in str(q.value)
    out, err = capfd.readouterr()
    assert name not in out + err  # PySpark's and the JVM's loggers are off


@pytest.mark.spark
@pytest.mark.slow
def test_query_timeout_cancels_the_spark_job(spark_demo) -> None:
    from cohort_engine.sql_guard.runner import QueryTimeout, guarded_query

    with pytest.raises(QueryTimeout):
        guarded_query(
            spark_demo,
            # 15 billion pairs: a nested-loop join over a broadcast person table, minutes if not cancelled
            "SELECT count(*) FROM measurement a, person b WHERE a.value_as_number < b.year_of_birth",
            timeout_s=1.0,
        )
    assert spark_demo.execute("SELECT count(*) FROM death").fetchone() == (837,)


@pytest.mark.spark
@pytest.mark.slow
def test_a_file_url_is_listed_through_hadoop(spark_demo, spark_dir: Path) -> None:
    """How a cluster's folder (hdfs://, s3a://) is listed: through Spark's Hadoop file system."""
    con = open_mart(f"spark-local:file://{spark_dir}")
    try:
        assert con.execute("SELECT count(*) FROM person").fetchone() == (20000,)
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert {"person", "concept", "measurement", "image_occurrence"} <= tables
    finally:
        con.close()


# -- the DICOM index as date-partitioned Parquet ----------------------------------------------------


@pytest.mark.spark
@pytest.mark.slow
def test_dicom_index_as_partitioned_parquet_reads_back_on_spark(spark_demo, tmp_path: Path) -> None:
    from cohort_engine.dicom_index.demo import write_demo_dicom
    from cohort_engine.dicom_index.indexer import index_folders
    from cohort_engine.dicom_index.parquet_partitions import export_dicom_parquet
    from cohort_engine.sql_guard.spark_mart import spark_session
    from tests.dicom_fixtures import make_tiny_mart

    mart = tmp_path / "mart.duckdb"
    make_tiny_mart(mart, persons=30, studies=24, seed=3)
    assert write_demo_dicom(mart, tmp_path / "dicom", seed=3) > 0
    index_folders(mart, [tmp_path / "dicom"], workers=1)
    with duckdb.connect(str(mart)) as con:  # a file without StudyDate, as the reader indexes one
        con.execute(
            "UPDATE dicom_instance SET study_date = NULL WHERE path = (SELECT min(path) FROM dicom_instance)"
        )
        want = con.execute("SELECT * FROM dicom_instance ORDER BY path").fetchall()
        columns = [d[0] for d in con.execute("SELECT * FROM dicom_instance LIMIT 0").description]
        months = {
            f"study_year={y}/study_month={m}"
            for y, m in con.execute(
                "SELECT DISTINCT year(study_date), month(study_date) FROM dicom_instance "
                "WHERE study_date IS NOT NULL"
            ).fetchall()
        }
        (in_2020,) = con.execute(
            "SELECT count(*) FROM dicom_instance WHERE year(study_date) = 2020"
        ).fetchall()[0]
    out = tmp_path / "parquet"
    report = export_dicom_parquet(mart, out)
    assert report.tables["dicom_instance"] == len(want)
    folders = {
        str(p.parent.relative_to(out / "dicom_instance")) for p in (out / "dicom_instance").rglob("*.parquet")
    }
    assert folders == months | {
        "study_year=__HIVE_DEFAULT_PARTITION__/study_month=__HIVE_DEFAULT_PARTITION__"
    }
    assert report.partitions["dicom_instance"] == len(folders)

    spark = spark_session()
    frame = spark.read.parquet(str(out / "dicom_instance"))
    assert frame.columns == [*columns, "study_year", "study_month"]  # partitions discovered, typed
    assert dict(frame.dtypes)["study_year"] == "int"
    got = sorted((tuple(r) for r in frame.select(*columns).collect()), key=lambda r: r[0])
    assert got == want
    assert frame.where("study_year = 2020").count() == in_2020 > 0  # read by partition
    assert frame.where("study_year IS NULL").count() == 1
    # the same folders read by DuckDB's Hive-partition discovery
    glob = f"{out}/dicom_instance/*/*/*.parquet"
    ((n,),) = _rows(
        f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true) WHERE study_year = 2020"
    )
    assert n == in_2020
