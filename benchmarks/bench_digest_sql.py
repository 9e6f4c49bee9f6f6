"""Person-set digests of an ask's funnel (``Service.person_tokens``): the old and the current SQL.

Why: the digests are read on every REST ask, over the ask's own evaluated cohort; on the 1M mart the
``list_sort(list_distinct(list(x)))`` shape took about a quarter of an ask. This times both shapes on
the same evaluation (the digest queries only, the cohort chain is not part of the figure) and checks
that they give the same digests. The mart is reused, never built here::

    .venv/bin/python benchmarks/bench_digest_sql.py [--mart build/bench-scale/p1000000/mart.duckdb]
        [--question demo-htn_without_diabetes-en1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cohort_engine.api import disclosure  # noqa: E402
from cohort_engine.api.charts import with_person_digests  # noqa: E402
from cohort_engine.parsers import parser_for  # noqa: E402
from cohort_engine.pipeline import CohortRead, run_spec_compiled  # noqa: E402
from cohort_engine.sql_guard.runner import open_mart  # noqa: E402

#: The shape used before issue 14 (sort and dedupe a list of every row's id).
OLD_SQL = "COALESCE(md5(array_to_string(list_sort(list_distinct(list({expr}))), ',')), md5(''))"


def question(gold_id: str) -> str:
    for line in (ROOT / "evals/gold/demo.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip() and (rec := json.loads(line))["id"] == gold_id:
            return str(rec["question"])
    raise SystemExit(f"no demo gold question {gold_id!r}")


def timed(read: CohortRead, template: str, repeat: int) -> tuple[list[float], list[tuple]]:
    """Milliseconds of each digest read with ``template`` as the digest SQL, and its rows."""
    saved = disclosure.PERSON_SET_DIGEST_SQL
    disclosure.PERSON_SET_DIGEST_SQL = template
    try:
        sql = with_person_digests(read.attrition_sql)
    finally:
        disclosure.PERSON_SET_DIGEST_SQL = saved
    times, rows = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = read.fetch(sql)
        times.append((time.perf_counter() - t0) * 1000)
    return times, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mart", default=str(ROOT / "build/bench-scale/p1000000/mart.duckdb"))
    ap.add_argument("--question", default="demo-htn_without_diabetes-en1")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if not Path(args.mart).is_file():
        raise SystemExit(f"no mart at {args.mart} (build it with benchmarks/bench_scale.py)")
    text = question(args.question)
    parsed = parser_for("rule")(text)
    if parsed.spec is None:
        raise SystemExit(f"{args.question} does not parse")
    con = open_mart(args.mart)
    out: dict[str, tuple[list[float], list[tuple]]] = {}

    def measure(read: CohortRead) -> None:
        timed(read, disclosure.PERSON_SET_DIGEST_SQL, 1)  # warm the cached tables once
        for name, template in (("old", OLD_SQL), ("new", disclosure.PERSON_SET_DIGEST_SQL)):
            out[name] = timed(read, template, args.repeat)

    res = run_spec_compiled(parsed.spec, con, parsed=parsed, timeout_s=600, on_session=measure).answer
    print(f"mart {args.mart}; question {args.question}: {text!r}")
    print(f"persons {res.count}; funnel {[a.persons for a in res.attrition]}")
    medians = {name: statistics.median(times) for name, (times, _) in out.items()}
    for name, (times, _) in out.items():
        print(f"{name}: median {medians[name]:.0f} ms, min {min(times):.0f} ms over {len(times)} runs")
    same = out["old"][1] == out["new"][1]
    print(f"digests equal: {same}; speed-up (median) {medians['old'] / medians['new']:.2f}x")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
