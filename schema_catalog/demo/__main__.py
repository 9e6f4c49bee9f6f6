"""``python -m schema_catalog.demo --out DIR --persons N --seed S``: write DIR/mart.duckdb.

Why: lets anyone build the seed scenario mart (``--persons 20000 --seed 42``) without writing code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cohort_engine.schema_catalog.demo import generate_mart


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m schema_catalog.demo", description="Generate the demo OMOP mart."
    )
    ap.add_argument("--out", type=Path, required=True, help="folder for mart.duckdb")
    ap.add_argument("--persons", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)

    def progress(stage: str, fraction: float) -> None:
        print(
            f"\r{stage:<12}{fraction:6.0%}", end="" if stage != "done" else "\n", file=sys.stderr, flush=True
        )

    print(generate_mart(args.out, args.persons, args.seed, progress))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
