"""Own-data upload speed: a 100,000-row patient list (MRNs, a label and a date column) mapped to the
persons of a large demo mart and stored, as ``POST /v1/uploads`` does (``api.uploads.store_list``:
read the CSV row by row, map MRNs on the mart, store the list in the state file in one transaction).

The list is 95,000 MRNs of the mart (a random sample, seed 1) and 5,000 that are nobody's, in random
order. It also times one cohort with the list as a rule (``CohortSpec.lists``), through the pipeline.
The issue's target: ≤ 10 s for 100,000 rows on a 1M-person mart. Nothing is asserted; it prints.

Usage: ``python benchmarks/bench_upload.py [MART]`` (default ``build/bench-scale/p1000000/mart.duckdb``;
``cohort demo-data --persons 1000000 --out build/bench-scale/p1000000`` builds it).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from cohort_engine.api.state import StateStore
from cohort_engine.api.upload_files import Columns
from cohort_engine.api.uploads import list_rows, store_list
from cohort_engine.pipeline import run_spec
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.runner import open_mart
from cohort_engine.sql_guard.uploads import session_uploads

ROWS = 100_000
UNMATCHED = 5_000


def main() -> None:
    mart = Path(sys.argv[1] if len(sys.argv) > 1 else "build/bench-scale/p1000000/mart.duckdb")
    if not mart.is_file():
        sys.exit(f"no mart at {mart}; build it with `cohort demo-data --persons 1000000 --out {mart.parent}`")
    con = open_mart(mart)
    persons = con.execute("SELECT COUNT(*) FROM person").fetchone()[0]  # type: ignore[index]
    rng = random.Random(1)
    mrns = [r[0] for r in con.execute("SELECT person_source_value FROM person").fetchall()]
    picked = rng.sample(mrns, ROWS - UNMATCHED) + [f"NOBODY{i:07d}" for i in range(UNMATCHED)]
    rng.shuffle(picked)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "list.csv"
        with csv_path.open("w", encoding="utf-8") as f:
            f.write("mrn,label,seen\n")
            for i, mrn in enumerate(picked):
                f.write(f"{mrn},{i % 2},2023-{1 + i % 12:02d}-{1 + i % 28:02d}\n")
        size = csv_path.stat().st_size
        store = StateStore(Path(tmp) / "state.sqlite")
        started = time.perf_counter()
        with csv_path.open("rb") as fh:
            rec = store_list(
                store,
                con,
                key_id="key_bench",
                name="bench",
                stream=fh,
                filename="list.csv",
                columns=Columns(id_column="mrn", value_column="label", date_column="seen"),
            )
        upload_s = time.perf_counter() - started
        print(f"mart: {mart} ({persons:,} persons)")
        print(f"upload of {ROWS:,} rows ({size / 1e6:.1f} MB CSV): {upload_s:.2f} s, {rec.matched:,} matched")
        spec = CohortSpec.model_validate(
            {
                "index": {"domain": "condition", "date_range": {"start": "2023-01-01", "end": "2023-12-31"}},
                "lists": [{"name": "bench", "value": {"op": "=", "value": 1}}],
            }
        )
        started = time.perf_counter()
        rows = list_rows(store, "key_bench", ["bench"])
        load_s = time.perf_counter() - started
        with session_uploads(rows):
            started = time.perf_counter()
            res = run_spec(spec, con, imaging=False)
            run_s = time.perf_counter() - started
        print(f"list loaded from the state file: {load_s:.2f} s")
        print(f"cohort with the list: {run_s:.2f} s, {res.count} persons")
        store.close()
    con.close()


if __name__ == "__main__":
    main()
