"""The bench_scale mix on Spark (PySpark, local mode) against DuckDB, and Parquet write/read rates.

Why: issue 16's network tier reads the marts as Parquet with Spark. This prints what that costs here
(a 2-core machine, shared): per question, the whole ask through the engine on ``spark-local:DIR`` (the
first, cold run and the best warm one) and on the DuckDB file; the person sets are checked equal. And
the figures docs/SCALE.md extrapolates from: the mart written as Parquet (rows/s), the DICOM index
written as date-partitioned Parquet, Spark reading every column of the largest tables back (rows/s),
the driver's start-up.

    .venv/bin/python benchmarks/bench_spark.py        # demo/mart.duckdb (make demo), else builds one
    .venv/bin/python benchmarks/bench_spark.py --mart M.duckdb --only seed,never --runs 3

It asserts only the person sets; timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_scale import build_mart, load_questions, select  # noqa: E402

from cohort_engine import pipeline  # noqa: E402
from cohort_engine.parsers import parser_for  # noqa: E402
from cohort_engine.sql_guard.runner import open_mart  # noqa: E402

#: Tables whose full read back through Spark is timed (the largest event tables of the demo mart).
READ_TABLES = ("measurement", "condition_occurrence", "drug_exposure", "visit_occurrence")


def ask(con, question: str) -> tuple[float, list[int]]:
    """Seconds of one whole ask (parse, resolve, compile, guard, run, imaging) and its persons."""
    t0 = time.perf_counter()
    parsed = parser_for("rule")(question)
    assert parsed.status == "ok" and parsed.spec is not None, (question, parsed.status)
    res = pipeline.run_spec(parsed.spec, con, parsed=parsed, include_person_ids=True, sample_size=5)
    assert res.status == "ok", (question, res.message)
    return time.perf_counter() - t0, list(res.person_ids or [])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mart", type=Path, default=None, help="DuckDB mart (default demo/mart.duckdb)")
    ap.add_argument("--only", default="", help="comma-separated parts of question ids")
    ap.add_argument("--runs", type=int, default=2, help="warm runs per question and engine (best kept)")
    args = ap.parse_args()
    mart = args.mart or ROOT / "demo" / "mart.duckdb"
    if not mart.is_file():
        mart = build_mart(20_000, 42, ROOT / "build" / "bench-spark")
    records = select(load_questions(), args.only)
    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        from cohort_engine.dicom_index.parquet_partitions import export_dicom_parquet
        from cohort_engine.schema_catalog.parquet_export import export_parquet
        from cohort_engine.sql_guard.spark_mart import spark_session

        folder = work / "parquet"
        written = export_parquet(mart, folder)
        rows = sum(written.tables.values())
        size = sum(p.stat().st_size for p in folder.rglob("*.parquet"))
        print(f"mart: {mart} ({mart.stat().st_size / 1e6:.0f} MB)")
        print(
            f"Parquet write (DuckDB COPY): {rows:,} rows, {len(written.tables)} tables, {size / 1e6:.0f} MB "
            f"in {written.seconds:.1f} s = {rows / written.seconds / 1e6:.2f}M rows/s"
        )
        dicom = None
        if "dicom_instance" in written.tables:
            dicom = export_dicom_parquet(mart, work / "dicom")
            n = dicom.tables["dicom_instance"]
            print(
                f"DICOM index as date-partitioned Parquet: {n:,} instance rows "
                f"({sum(dicom.tables.values()):,} with series and studies), "
                f"{dicom.partitions['dicom_instance']} (year, month) folders, {dicom.bytes / 1e6:.1f} MB "
                f"in {dicom.seconds:.2f} s"
            )

        t0 = time.perf_counter()
        session = spark_session()
        print(f"Spark driver start (local[2], JVM): {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        spark = open_mart(f"spark-local:{folder}")
        print(f"open spark-local mart ({len(written.tables)} views): {time.perf_counter() - t0:.1f} s")
        duck = open_mart(mart)

        print("\nSpark reading every column back (noop sink), best of 2:")
        for table in READ_TABLES:
            frame = session.read.parquet(str(folder / table))
            best = min(
                _timed(lambda f=frame: f.write.format("noop").mode("overwrite").save()) for _ in range(2)
            )
            n = written.tables[table]
            print(
                f"  {table:<22} {n:>9,} rows {len(frame.columns):>3} cols {best:6.2f} s "
                f"= {n / best / 1e6:.2f}M rows/s"
            )
        if dicom is not None:
            frame = session.read.parquet(str(work / "dicom" / "dicom_instance"))
            year = frame.agg({"study_year": "max"}).collect()[0][0]
            total = _timed(lambda: frame.count())
            one = _timed(
                lambda: frame.where(f"study_year = {year}").write.format("noop").mode("overwrite").save()
            )
            print(
                f"  dicom_instance: count over all partitions {total:.2f} s; "
                f"one year ({year}) read {one:.2f} s"
            )

        print(f"\nper question, seconds (whole ask; Spark cold = first run, warm = best of {args.runs}):")
        print(
            f"  {'question':<34} {'persons':>8} {'duckdb':>7} {'spark cold':>10} {'spark warm':>10} "
            f"{'ratio':>6}"
        )
        ratios = []
        for rec in records:
            q = rec["question"]
            cold, got = ask(spark, q)
            warm = min(ask(spark, q)[0] for _ in range(args.runs))
            d_best, want = min(ask(duck, q) for _ in range(args.runs))
            assert got == want, f"{rec['id']}: Spark and DuckDB differ"
            ratios.append(warm / d_best)
            name = rec["id"].removeprefix("demo-").removesuffix("-en1")
            print(
                f"  {name:<34} {len(want):>8,} {d_best:7.2f} {cold:10.2f} {warm:10.2f} {warm / d_best:6.0f}x"
            )
        print(
            f"\nperson sets equal on all {len(records)}; "
            f"Spark warm / DuckDB median {statistics.median(ratios):.0f}x"
        )
        spark.close()
        duck.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    raise SystemExit(main())
