"""Record extraction speed and memory: rows/s and peak RSS of `cohort extract` on the demo mart.

Builds a demo mart of N persons (``schema_catalog.demo.generate_mart``, in a child process so its
memory does not count) unless ``--mart`` names one, picks a cohort of about ``--cohort`` persons (any
diagnosis from 2023-10-01 for as many days as it takes), and extracts all domains in a one-year
window (-365..+365) as Parquet with the disclosure check (k = 11) — the whole of
``deid.dataset.extract_dataset``: persons, keyed values, one streamed query per domain, the writers,
the Data Package.  Then the same with ``--window all`` (every event of the same persons): the peak
RSS should barely move with five to ten times the rows, since rows stream in Arrow batches.  Last,
Table 1 of the same cohort (``api.characterise.table1_tables``, the API's and ``cohort describe``'s
exact rows), twice: the first run reads the mart's pages cold, the second is the warm figure.

Prints the rows per domain, rows/s and the process's peak RSS (``ru_maxrss``; the baseline after
imports and opening the mart is printed beside it).

Usage: ``python benchmarks/bench_extract.py [--persons N] [--cohort M] [--mart PATH] [--format csv]
[--windows=-365:365,all] [--no-table1]``.  The issue's 1M figure (targets: records ≤ 30 s with memory
flat, Table 1 ≤ 2 s) on the scale benchmark's mart, which this does not rebuild::

    python benchmarks/bench_extract.py --mart build/bench-scale/p1000000/mart.duckdb --cohort 10000 \
        --windows=-365:365
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from pydantic import SecretBytes

from cohort_engine.api.characterise import table1_tables
from cohort_engine.deid.dataset import ExtractOptions, extract_dataset
from cohort_engine.deid.policy import ReleasePolicy
from cohort_engine.deid.records import RecordWindow, parse_window
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.compiler import compile_cohort
from cohort_engine.sql_guard.runner import open_mart


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _make_mart(folder: Path, persons: int) -> Path:
    code = (
        "import sys; from pathlib import Path; from cohort_engine.schema_catalog.demo import generate_mart; "
        "print(generate_mart(Path(sys.argv[1]), persons=int(sys.argv[2]), seed=42))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder), str(persons)], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def _age_min(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date, target: int) -> int:
    """The highest minimum age at index that still leaves at least ``target`` persons."""
    rows = con.execute(
        "SELECT EXTRACT(YEAR FROM MIN(c.condition_start_date)) - p.year_of_birth AS age "
        "FROM condition_occurrence c JOIN person p USING (person_id) "
        "WHERE c.condition_start_date BETWEEN ? AND ? "
        "GROUP BY c.person_id, p.year_of_birth ORDER BY age DESC",
        [start, end],
    ).fetchall()
    ages = [int(a) for (a,) in rows]
    return ages[min(target, len(ages)) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=20_000, help="demo mart size (default 20000)")
    ap.add_argument("--cohort", type=int, default=1_000, help="about how many persons to extract")
    ap.add_argument("--mart", type=Path, default=None, help="use this mart instead of building one")
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    ap.add_argument(
        "--windows", default="-365:365,all", help="comma-separated record windows (default -365:365,all)"
    )
    ap.add_argument("--no-table1", action="store_true", help="skip Table 1 of the cohort")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        mart = args.mart or _make_mart(Path(tmp), args.persons)
        if args.mart is None:
            print(f"demo mart: {args.persons:,} persons built in {time.perf_counter() - t0:.1f} s")
        con = open_mart(mart)
        start = dt.date(2023, 10, 1)
        days = 1
        while True:  # the shortest range from 2023-10-01 whose persons reach the target
            end = start + dt.timedelta(days=days - 1)
            row = con.execute(
                "SELECT count(DISTINCT person_id) FROM condition_occurrence "
                "WHERE condition_start_date BETWEEN ? AND ?",
                [start, end],
            ).fetchone()
            n = int(row[0]) if row else 0
            if n >= args.cohort or days > 3650:
                break
            days += 1
        # a day of a large mart can overshoot the target by half: a minimum age at the first diagnosis of
        # the range trims the cohort back to about the target (the youngest left out)
        age_min = _age_min(con, start, end, args.cohort) if n > 1.1 * args.cohort else None
        index = {"domain": "condition", "date_range": {"start": str(start), "end": str(end)}}
        spec = CohortSpec.model_validate({"index": index, "demographics": {"age_min": age_min}})
        compiled = compile_cohort(spec, {})
        n = int(con.execute(f"SELECT count(*) FROM ({compiled.cohort_sql})").fetchone()[0])  # type: ignore[index]
        policy = ReleasePolicy(project_key="bench-extract", secret=SecretBytes(os.urandom(32))).for_cohort(
            spec
        )
        aged = f", aged {age_min}+ at index" if age_min is not None else ""
        print(f"cohort: {n:,} persons (any diagnosis {start}..{end}{aged}); format {args.format}")
        print(f"baseline RSS after imports and opening the mart: {_rss_mb():.0f} MB")
        windows: list[tuple[str, RecordWindow]] = [(w, parse_window(w)) for w in args.windows.split(",")]
        for label, window in windows:
            out = Path(tmp) / f"release-{label.replace(':', '_')}"
            t = time.perf_counter()
            summary = extract_dataset(
                con, compiled, policy, out, ExtractOptions(window=window, format=args.format)
            )
            elapsed = time.perf_counter() - t
            rows = sum(summary.rows.values())
            size = sum(p.stat().st_size for p in out.iterdir())
            per = ", ".join(f"{d} {r:,}" for d, r in summary.rows.items())
            print(
                f"window {label:>8}: {summary.persons:,} persons released "
                f"({summary.disclosure.withheld} withheld), {rows:,} rows ({per})"
            )
            print(
                f"  {elapsed:.2f} s, {rows / elapsed:,.0f} rows/s, {size / 1e6:.1f} MB written, "
                f"peak RSS so far {_rss_mb():.0f} MB"
            )
        if not args.no_table1:
            for run in ("first", "second"):
                t = time.perf_counter()
                (table,) = table1_tables(con, [compiled], timeout_s=600)
                elapsed = time.perf_counter() - t
                print(
                    f"Table 1 ({run} run): {table.persons.n:,} persons, "
                    f"{sum(len(v) for v in table.concepts.values())} concept rows, {len(table.labs)} labs, "
                    f"{elapsed:.2f} s, peak RSS so far {_rss_mb():.0f} MB"
                )
        con.close()


if __name__ == "__main__":
    main()
