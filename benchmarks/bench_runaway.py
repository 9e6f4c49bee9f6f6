"""How much a runaway steward query slows everybody else's asks (issue 11: target ≤ 2×).

Opens the demo mart (``demo/mart.duckdb``, 20,000 persons; ``--mart`` for another) in an in-process
app with its resource limits (memory limit, thread cap, per-key concurrency), measures the p50
latency of the seed question on POST /v1/ask alone and while a steward key keeps running a runaway
cross join on POST /v1/sql in other threads (each one ended by the time limit), in alternating
blocks, and prints both p50s and their ratio. Exits 1 when the ratio is above ``--target``.
``--no-demote`` keeps long queries at full CPU priority, for comparison.

    .venv/bin/python benchmarks/bench_runaway.py [--asks 5] [--rounds 4] [--runaways 1] [--timeout 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cohort_engine.api.app import create_app  # noqa: E402
from cohort_engine.seed import SEED_EN  # noqa: E402
from cohort_engine.sql_guard import runner  # noqa: E402

#: CPU-bound and unbounded: 20k × 20k persons, every pair computed (the guard lets stewards join).
RUNAWAY_SQL = (
    "SELECT MAX(a.year_of_birth * b.year_of_birth + a.person_id - b.person_id) AS m "
    "FROM person a, person b, person c"
)


def _asks(client: TestClient, headers: dict[str, str], n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        r = client.post("/v1/ask", json={"question": SEED_EN}, headers=headers)
        times.append(time.perf_counter() - started)
        if r.status_code != 200:
            raise SystemExit(f"ask failed: {r.status_code} {r.text[:200]}")
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mart", type=Path, default=ROOT / "demo" / "mart.duckdb")
    ap.add_argument("--asks", type=int, default=5, help="asks per block")
    ap.add_argument("--rounds", type=int, default=4, help="alone / beside-runaway block pairs")
    ap.add_argument("--runaways", type=int, default=1, help="runaway queries in flight at once")
    ap.add_argument("--timeout", type=float, default=5.0, help="the app's query time limit (s)")
    ap.add_argument("--target", type=float, default=2.0, help="largest acceptable slow-down")
    ap.add_argument(
        "--no-demote", action="store_true", help="for comparison: long queries keep their CPU priority"
    )
    args = ap.parse_args()
    if args.no_demote:
        runner.DEMOTE_AFTER_S = float("inf")
    if not args.mart.is_file():
        print(f"no mart at {args.mart}; build it with `cohort demo` first", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(args.mart, Path(tmp) / "state.sqlite", query_timeout_s=args.timeout)
        state = app.state.ctx.state
        researcher = {"Authorization": f"Bearer {state.create_key('researcher', 'bench')[1]}"}
        steward = {"Authorization": f"Bearer {state.create_key('steward', 'runaway')[1]}"}
        with TestClient(app) as client:
            _asks(client, researcher, 3)  # warm the vocabulary cache and the parser
            alone: list[float] = []
            loaded: list[float] = []
            outcomes: Counter[str] = Counter()
            # alternate alone / beside-runaway blocks, so that drifting load on the host (other
            # processes) weighs on both figures alike
            for _ in range(args.rounds):
                alone += _asks(client, researcher, args.asks)
                stop = threading.Event()

                def runaway(stop: threading.Event = stop) -> None:
                    while not stop.is_set():
                        r = client.post("/v1/sql", json={"sql": RUNAWAY_SQL}, headers=steward)
                        outcomes[f"{r.status_code} {r.json().get('error', {}).get('code', 'ok')}"] += 1

                threads = [threading.Thread(target=runaway, daemon=True) for _ in range(args.runaways)]
                for t in threads:
                    t.start()
                time.sleep(runner.DEMOTE_AFTER_S + 0.5 if not args.no_demote else 1.5)
                loaded += _asks(client, researcher, args.asks)
                stop.set()
                for t in threads:
                    t.join(args.timeout + 10)

    p50_alone, p50_loaded = statistics.median(alone), statistics.median(loaded)
    ratio = p50_loaded / p50_alone
    print(
        f"mart: {args.mart}  asks: {args.rounds} x {args.asks} per side  "
        f"runaway queries in flight: {args.runaways}  DuckDB threads: {runner.DEFAULT_THREADS}  "
        f"demote after: {runner.DEMOTE_AFTER_S:g} s"
    )
    print(f"ask p50 alone:            {p50_alone * 1000:8.1f} ms   (max {max(alone) * 1000:.1f} ms)")
    print(f"ask p50 beside runaways:  {p50_loaded * 1000:8.1f} ms   (max {max(loaded) * 1000:.1f} ms)")
    print(f"slow-down: {ratio:.2f}x (target ≤ {args.target:g}x)")
    print(f"runaway outcomes: {dict(outcomes)}")
    return 0 if ratio <= args.target else 1


if __name__ == "__main__":
    raise SystemExit(main())
