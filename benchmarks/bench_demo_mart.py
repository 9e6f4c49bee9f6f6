"""Benchmark of the demo mart generator: wall time and rows per table.

Why: the generator must stay fast enough for 100k persons in about a minute and 1M persons in
about ten minutes on a two-core machine; this prints the figures (no assertions, per project rules).

    python benchmarks/bench_demo_mart.py                  # 100,000 persons
    python benchmarks/bench_demo_mart.py --persons 20000  # any size
    python benchmarks/bench_demo_mart.py --million        # 100,000 and then 1,000,000 persons
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from cohort_engine.schema_catalog.demo import generate_mart


def bench(persons: int, seed: int, out: Path) -> None:
    """Generate one mart and print the elapsed time per stage and the row counts."""
    marks: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(stage: str, fraction: float) -> None:
        marks.setdefault(f"{stage}:{fraction:.0f}", time.perf_counter() - t0)

    path = generate_mart(out, persons, seed, progress)
    total = time.perf_counter() - t0
    vocab = marks.get("vocabulary:1", 0.0)
    print(
        f"\n== {persons:,} persons, seed {seed}: {total:.1f} s total "
        f"(vocabulary {vocab:.1f} s, population {total - vocab:.1f} s), "
        f"{path.stat().st_size / 2**20:,.0f} MiB"
    )
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
            ).fetchall()
        ]
        rows = 0
        for name in names:
            n = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            rows += n
            print(f"  {name:<22}{n:>14,}")
        print(f"  {'(all tables)':<22}{rows:>14,}  ->  {rows / total:,.0f} rows/s")
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--million", action="store_true", help="also run 1,000,000 persons")
    ap.add_argument("--out", type=Path, help="keep the mart(s) here instead of a temporary folder")
    args = ap.parse_args()
    sizes = [args.persons] + ([1_000_000] if args.million else [])
    for n in sizes:
        out = args.out / f"p{n}" if args.out else Path(tempfile.mkdtemp(prefix="bench_demo_mart_"))
        try:
            bench(n, args.seed, out)
        finally:
            if not args.out:
                shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
