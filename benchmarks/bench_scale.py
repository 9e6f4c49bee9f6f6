"""Scale benchmark of one ask: a 10-question mix on a large demo mart, per stage, against hand-written SQL.

Why: an ask must stay interactive on a hospital-sized mart (issue targets on 1M persons, 2 cores: warm
ask p50 ≤ 0.15 s, p95 ≤ 0.5 s; the engine's SQL within 1.3× of what a data engineer writes by hand).
This prints the figures; it asserts only correctness (equal person sets), never a timing.

What it does:

* builds (or reuses) ``DIR/p<N>/mart.duckdb`` with ``cohort demo-data --persons N --seed 42
  --dicom-files 0``;
* takes ten demo gold questions (``evals/gold/demo.jsonl``) covering the compiler's shapes: the seed
  scenario, index only, first occurrence + demographics, a window, a chain, a count, a windowed and two
  windowless exclusions, an imaging criterion;
* **cold**: each question once on a freshly opened mart with the pipeline's caches cleared;
  **warm**: ``--rounds`` more rounds on the same connection. Every answer's ``timings`` (parse,
  resolve, compile, guard, sql, imaging, total ms) gives the per-stage p50/p95;
* **SQL vs hand-written**: the compiled cohort SQL and the gold SQL of each question, warm, best of
  ``--sql-runs`` run alternately (so both see the same load on a shared machine); asserts equal person
  sets and prints the ratio (and the same for the pipeline's whole SQL stage, which also counts the
  attrition), by wall time and by the process's CPU time (on a shared machine the wall time also
  counts waiting for a core; the CPU time is the steadier figure).

Note that the gold SQL names its concepts by code lists, while the engine uses the concepts its
resolver found: where those sets differ in size the ratio also measures the data read, not only the
SQL's shape (until session 11 "coronary angiography" was read as XA images, 812k rows on the 1M mart,
where the gold SQL takes its procedure codes, 270k rows; it is now that procedure).

    .venv/bin/python benchmarks/bench_scale.py                    # 200,000 persons
    .venv/bin/python benchmarks/bench_scale.py --persons 1000000  # the issue's size (minutes to build)
    # the SQL comparison alone, for some definitions, with DuckDB's EXPLAIN ANALYZE of both statements:
    .venv/bin/python benchmarks/bench_scale.py --persons 1000000 --rounds 0 --only angio,htn --explain
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cohort_engine import pipeline  # noqa: E402
from cohort_engine.parsers import parser_for  # noqa: E402
from cohort_engine.sql_guard.runner import open_mart  # noqa: E402

#: Demo gold ids of the mix (English; hand-written gold SQL returns ``person_id``).
QUESTIONS: tuple[str, ...] = (
    "demo-seed-en1",
    "demo-mi_2023-en1",
    "demo-first_stroke_women_75-en1",
    "demo-mi_pci_7d-en1",
    "demo-mi_angio_then_pci-en1",
    "demo-t2dm_2023_hba1c_3x-en1",
    "demo-mi_2023_no_pci_30d-en1",
    "demo-af_never_warfarin-en1",
    "demo-htn_without_diabetes-en1",
    "demo-hf_echo_7d-en1",
)
STAGES = ("parse", "resolve", "compile", "guard", "sql", "imaging", "total")


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def build_mart(persons: int, seed: int, root: Path) -> Path:
    """The demo mart of ``persons`` under ``root`` (built once, reused after)."""
    out = root / f"p{persons}"
    mart = out / "mart.duckdb"
    if mart.is_file():
        return mart
    cohort = Path(sys.executable).with_name("cohort")
    cmd = [str(cohort), "demo-data", "--persons", str(persons), "--seed", str(seed)]
    cmd += ["--out", str(out), "--dicom-files", "0"]
    print("building:", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"built in {time.perf_counter() - t0:.0f} s", flush=True)
    return mart


def load_questions() -> list[dict[str, Any]]:
    by_id = {}
    for line in (ROOT / "evals/gold/demo.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            by_id[rec["id"]] = rec
    return [by_id[q] for q in QUESTIONS]


def select(records: list[dict[str, Any]], only: str) -> list[dict[str, Any]]:
    """The records whose id contains one of the comma-separated parts of ``only`` (all when empty)."""
    parts = [p.strip() for p in only.split(",") if p.strip()]
    chosen = [r for r in records if not parts or any(p in r["id"] for p in parts)]
    if not chosen:
        raise SystemExit(f"--only {only!r} matches none of: {', '.join(r['id'] for r in records)}")
    return chosen


def explain(con: duckdb.DuckDBPyConnection, title: str, sql: str) -> None:
    """EXPLAIN ANALYZE of one statement (where the time goes, operator by operator)."""
    rows = con.sql(f"EXPLAIN ANALYZE {sql}").fetchall()
    print(f"\n--- {title}\n{rows[0][1]}")


def ask_once(con: duckdb.DuckDBPyConnection, question: str) -> tuple[pipeline.AskResult, dict[str, float]]:
    """Parse and run one question as the REST API does (person ids and a sample); stage times in ms."""
    t0 = time.perf_counter()
    parsed = parser_for("rule")(question)
    parse_ms = (time.perf_counter() - t0) * 1000
    assert parsed.status == "ok" and parsed.spec is not None, (question, parsed.status)
    res = pipeline.run_spec(parsed.spec, con, parsed=parsed, include_person_ids=True, sample_size=5)
    total_ms = (time.perf_counter() - t0) * 1000
    assert res.status == "ok", (question, res.message)
    timings = dict(getattr(res, "timings", None) or {})
    timings["parse"] = parse_ms
    timings["total"] = total_ms
    return res, timings


def clear_caches() -> None:
    clear = getattr(pipeline, "clear_caches", None)
    if clear is not None:
        clear()


def print_stages(title: str, rows: list[dict[str, float]]) -> None:
    print(f"\n{title} ({len(rows)} asks), ms")
    print(f"  {'stage':<10}{'p50':>10}{'p95':>10}{'max':>10}")
    for stage in STAGES:
        vals = [r[stage] for r in rows if stage in r]
        if vals:
            print(f"  {stage:<10}{pct(vals, 0.5):>10.1f}{pct(vals, 0.95):>10.1f}{max(vals):>10.1f}")


def run_timed(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[float, float, set[int]]:
    """Wall and CPU time (ms) of one execution fetched as Arrow (so that Python's conversion of dates
    does not count against the statement that returns them), and the person ids.

    The CPU time is the process's (all its threads): on a machine shared with other work the wall time
    also counts the time the statement waited for a core, the CPU time does not."""
    cur = con.cursor()
    t0, c0 = time.perf_counter(), time.process_time()
    table = cur.sql(sql).to_arrow_table()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    cur.close()
    return wall * 1000, cpu * 1000, {int(v) for v in table.column(0).to_pylist()}


def run_once(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[float, set[int]]:
    """Wall time (ms) of one execution (see :func:`run_timed`) and the person ids."""
    wall, _, ids = run_timed(con, sql)
    return wall, ids


@dataclass
class Best:
    """Best wall and best CPU time (ms) of a statement over several runs, and its persons."""

    wall: float = float("inf")
    cpu: float = float("inf")
    ids: set[int] = field(default_factory=set)

    def add(self, wall: float, cpu: float, ids: set[int]) -> None:
        self.wall, self.cpu, self.ids = min(self.wall, wall), min(self.cpu, cpu), ids


def best_of_pair(con: duckdb.DuckDBPyConnection, ours: str, hand: str, runs: int) -> tuple[Best, Best]:
    """Best of ``runs`` for our SQL and the hand-written SQL, run alternately: on a shared machine the
    load changes from second to second, and alternating exposes both statements to the same load."""
    best_ours, best_hand = Best(), Best()
    for _ in range(runs):
        best_ours.add(*run_timed(con, ours))
        best_hand.add(*run_timed(con, hand))
    return best_ours, best_hand


def main() -> int:
    if sys.argv[1:3] == ["--engine", "postgres"]:
        # The same mix on a real PostgreSQL 15 with the OMOP indexes, ours vs hand-written
        # (bench_postgres.py takes the remaining options).
        import bench_postgres

        sys.argv = [sys.argv[0], *sys.argv[3:]]
        return bench_postgres.main()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--engine",
        choices=["duckdb", "postgres"],
        default="duckdb",
        help="postgres: run bench_postgres.py (must come first: --engine postgres [its options]).",
    )
    ap.add_argument("--persons", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dir", type=Path, default=ROOT / "build" / "bench-scale")
    ap.add_argument("--mart", type=Path, help="An existing mart instead of the demo one.")
    ap.add_argument("--rounds", type=int, default=5, help="Warm rounds over the mix.")
    ap.add_argument("--sql-runs", type=int, default=3, help="Runs per SQL in the hand-written comparison.")
    ap.add_argument(
        "--only",
        default="",
        help="Comma-separated parts of question ids to run (e.g. 'angio,htn'); default: the whole mix.",
    )
    ap.add_argument(
        "--explain",
        action="store_true",
        help="Print DuckDB's EXPLAIN ANALYZE of our cohort SQL and of the hand-written SQL per definition.",
    )
    args = ap.parse_args()

    mart = args.mart or build_mart(args.persons, args.seed, args.dir)
    records = select(load_questions(), args.only)
    print(f"mart {mart} ({mart.stat().st_size / 2**20:,.0f} MiB), {len(records)} questions")

    # Cold: a freshly opened mart, empty caches, each question once.
    clear_caches()
    con = open_mart(mart)
    cold: list[dict[str, float]] = []
    answers: dict[str, pipeline.AskResult] = {}
    for rec in records:
        res, t = ask_once(con, rec["question"])
        cold.append(t)
        answers[rec["id"]] = res
    # Warm: the same connection, caches filled.
    warm: list[dict[str, float]] = []
    per_question: dict[str, list[float]] = {r["id"]: [] for r in records}
    per_question_sql: dict[str, list[float]] = {r["id"]: [] for r in records}
    for _ in range(args.rounds):
        for rec in records:
            res, t = ask_once(con, rec["question"])
            assert res.person_ids == answers[rec["id"]].person_ids
            warm.append(t)
            per_question[rec["id"]].append(t["total"])
            if "sql" in t:
                per_question_sql[rec["id"]].append(t["sql"])
    print_stages("cold", cold)
    print_stages("warm", warm)

    print(
        "\nper definition, ms: the ask (warm p50 of total and of its sql stage, which also counts the "
        "attrition and reads the persons back), the cohort SQL alone and the hand-written SQL (best of "
        f"{args.sql_runs})"
    )
    print(
        "(wall: elapsed; cpu: the process's CPU time, which a loaded machine does not inflate)\n"
        f"{'question':<34}{'count':>8}{'ask p50':>9}{'sql p50':>9}{'ours':>8}{'hand':>8}"
        f"{'ours/hand':>10}{'sql/hand':>10}{'cpu ours':>10}{'cpu hand':>10}{'cpu o/h':>9}"
    )
    ratios, stage_ratios, cpu_ratios = [], [], []
    for rec in records:
        res = answers[rec["id"]]
        assert res.sql is not None
        best_ours, best_hand = best_of_pair(con, res.sql, rec["gold_sql"], args.sql_runs)
        ours, hand = best_ours.wall, best_hand.wall
        if args.explain:
            explain(con, f"{rec['id']}: ours", res.sql)
            explain(con, f"{rec['id']}: hand", rec["gold_sql"])
        assert best_ours.ids == best_hand.ids == set(res.person_ids or []), f"{rec['id']}: person sets differ"
        sql_p50 = (
            statistics.median(per_question_sql[rec["id"]]) if per_question_sql[rec["id"]] else float("nan")
        )
        ask_p50 = statistics.median(per_question[rec["id"]]) if per_question[rec["id"]] else float("nan")
        ratios.append(ours / hand)
        stage_ratios.append(sql_p50 / hand)
        cpu_ratios.append(best_ours.cpu / best_hand.cpu)
        print(
            f"{rec['id']:<34}{res.count:>8}{ask_p50:>9.1f}{sql_p50:>9.1f}"
            f"{ours:>8.1f}{hand:>8.1f}{ours / hand:>10.2f}{sql_p50 / hand:>10.2f}"
            f"{best_ours.cpu:>10.1f}{best_hand.cpu:>10.1f}{cpu_ratios[-1]:>9.2f}"
        )
    print(
        f"\nworst ratio: cohort SQL/hand {max(ratios):.2f} wall, {max(cpu_ratios):.2f} CPU; "
        f"ask sql stage/hand {max(stage_ratios):.2f}; person sets equal on all {len(records)} definitions"
    )
    con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
