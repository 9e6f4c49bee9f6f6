"""Load benchmark of the REST API (issue 14): 20 concurrent clients for 60 s on ``POST /v1/ask``.

Targets on the 1M-person demo mart, 2 cores: **≥ 8 req/s, p99 ≤ 3 s, 0 errors**, with every request
evaluating its SQL. The server keeps no result cache (only the compiled, validated SQL is cached per
spec: ``pipeline.prepare``), so every answered ask runs its cohort on the mart; this prints that, and
prints a second, "repeated" figure (every client asks the seed question only) when ``--phase both``.

What it does:

* serves ``--mart`` (default ``build/bench-scale/p1000000/mart.duckdb``, built by
  ``benchmarks/bench_scale.py --persons 1000000``) with the real ``cohort serve`` in its own process
  (``tests/served.py``), with one researcher key per client (many users, not one user many times);
* asks each question of the mix once, one client, sequentially: the service time without queueing;
* lets ``--clients`` closed-loop clients ask the 10-question mix of ``bench_scale.py`` (each client
  starts at a different question) for ``--seconds``;
* counts an answer ``ok`` when it is HTTP 200 with ``status: ok`` and the count the solo run gave;
  ``503`` (the server's bounded queue is full) as *shed*: the client waits ``Retry-After`` as a polite
  client does and goes on; anything else (a 5xx, a wrong count, a dropped connection) as an *error*;
* prints answered req/s, p50/p95/p99/max latency of the answered requests, shed and errors, and the
  server's CPU time per answered ask (core-ms, DuckDB's threads included, from ``/proc``): on a
  machine shared with other work the rate is bounded by the CPU left to the server, while core-ms per
  ask is what it costs (2 cores / core-ms per ask = the rate on 2 idle cores). It asserts no timing;
  exit 1 when any request was an error.

    .venv/bin/python benchmarks/bench_api_load.py [--clients 20] [--seconds 60] [--phase evaluate]
    .venv/bin/python benchmarks/bench_api_load.py --serve-args="--workers 2"   # other server settings
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_scale import load_questions  # noqa: E402
from cohort_engine.api.settings import DEFAULT_MART_THREADS, DEFAULT_POOL_SIZE  # noqa: E402
from cohort_engine.seed import SEED_EN  # noqa: E402
from tests.served import served  # noqa: E402

DEFAULT_MART = ROOT / "build" / "bench-scale" / "p1000000" / "mart.duckdb"


@dataclass
class Tally:
    ok: list[float] = field(default_factory=list)
    shed: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _retry_after(r: httpx.Response) -> float:
    try:
        return max(0.0, float(r.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


async def load(
    base: str, keys: list[str], questions: list[str], expected: dict[str, int | None], seconds: float
) -> Tally:
    """Closed-loop clients: each sends its next question as soon as the last one is answered."""
    tally = Tally()
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=len(keys), max_keepalive_connections=len(keys))
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def worker(w: int) -> None:
            i = w
            while time.perf_counter() < deadline:
                q = questions[i % len(questions)]
                i += 1
                t0 = time.perf_counter()
                try:
                    r = await client.post(
                        "/v1/ask", json={"question": q}, headers={"Authorization": f"Bearer {keys[w]}"}
                    )
                except httpx.HTTPError as e:
                    tally.error(type(e).__name__)
                    continue
                took = time.perf_counter() - t0
                if r.status_code == 503 and "retry-after" in r.headers:
                    tally.shed.append(took)
                    await asyncio.sleep(min(_retry_after(r), max(0.0, deadline - time.perf_counter())))
                    continue
                body: dict[str, Any] = (
                    r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                )
                if r.status_code != 200:
                    err = body.get("error") or {}
                    # the API's messages carry no value from the mart (api/errors.py): safe to print
                    tally.error(f"HTTP {r.status_code} {err.get('code', '')}: {err.get('message', '')[:100]}")
                elif body.get("status") != "ok":
                    tally.error(f"status {body.get('status')}")
                elif body.get("count") != expected[q]:
                    tally.error("a different count than the solo run")
                else:
                    tally.ok.append(took)

        t_start = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(len(keys))))
        tally.elapsed = time.perf_counter() - t_start
    return tally


def solo(base: str, key: str, questions: list[str]) -> dict[str, int | None]:
    """Each question once, sequentially (warms the server); its count, and its time printed."""
    counts: dict[str, int | None] = {}
    times = []
    for q in questions:
        t0 = time.perf_counter()
        r = httpx.post(
            f"{base}/v1/ask", json={"question": q}, timeout=120, headers={"Authorization": f"Bearer {key}"}
        )
        times.append((time.perf_counter() - t0) * 1000)
        body = r.json()
        assert r.status_code == 200 and body["status"] == "ok", (q, r.status_code, body)
        counts[q] = body["count"]
    print(
        f"one client, sequential ({len(questions)} questions, first answers): "
        f"p50 {pct(times, 0.5):.0f} ms, max {max(times):.0f} ms"
    )
    return counts


def _stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (Linux)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of the server process and its live children (the workers of
    ``--workers N``), from ``/proc``."""
    pids = [str(pid)]
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and _stat(entry.name)[1] == str(pid):
                pids.append(entry.name)
        except OSError:  # gone meanwhile
            continue
    ticks = 0
    for p in pids:
        try:
            ticks += sum(int(f) for f in _stat(p)[11:13])
        except OSError:
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def report(title: str, clients: int, tally: Tally, server_cpu_s: float) -> bool:
    ms = [v * 1000 for v in tally.ok]
    n_err = sum(tally.errors.values())
    print(f"\n{title}: {clients} clients, {tally.elapsed:.1f} s")
    print(
        f"  answered {len(ms)} ({len(ms) / tally.elapsed:.2f} req/s); latency p50 {pct(ms, 0.5):.0f} ms, "
        f"p95 {pct(ms, 0.95):.0f} ms, p99 {pct(ms, 0.99):.0f} ms, max {max(ms, default=float('nan')):.0f} ms"
        + (f", mean {statistics.fmean(ms):.0f} ms" if ms else "")
    )
    shed_ms = [v * 1000 for v in tally.shed]
    print(
        f"  shed (503 + Retry-After): {len(shed_ms)}"
        + (f" (answered in p99 {pct(shed_ms, 0.99):.0f} ms)" if shed_ms else "")
        + f"; errors: {n_err}"
    )
    for what, count in sorted(tally.errors.items()):
        print(f"    {count} × {what}")
    if ms:
        # what the server itself spent: on a shared machine the rate above is bounded by the CPU left
        # to it; 2 cores / this figure is the rate the same server would reach on 2 idle cores
        per = server_cpu_s / len(ms)
        print(
            f"  server CPU: {server_cpu_s:.1f} core-s ({server_cpu_s / tally.elapsed:.2f} cores busy on "
            f"average), {per * 1000:.0f} core-ms per answered ask → {(os.cpu_count() or 1) / per:.1f} "
            "req/s if the server had every core"
        )
    return n_err == 0 and bool(ms)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mart", type=Path, default=DEFAULT_MART)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument(
        "--phase",
        choices=("evaluate", "repeated", "both"),
        default="evaluate",
        help="evaluate: the 10-question mix; repeated: the seed question only; both: one after the other.",
    )
    ap.add_argument("--serve-args", default="", help="Extra `cohort serve` options, e.g. '--workers 2'.")
    args = ap.parse_args()
    if not args.mart.is_file():
        print(
            f"no mart at {args.mart}: build it with "
            "`.venv/bin/python benchmarks/bench_scale.py --persons 1000000` or pass --mart",
            file=sys.stderr,
        )
        return 2

    mix = [r["question"] for r in load_questions()]
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        keys = {f"client{w}": "researcher" for w in range(args.clients)}
        extra = shlex.split(args.serve_args)
        with served(args.mart, Path(tmp), keys, args=extra) as srv:
            client_keys = list(srv.keys.values())
            print(
                f"mart {args.mart} ({args.mart.stat().st_size / 1e9:.1f} GB); server: `cohort serve "
                f"{' '.join(extra)}` (by default {DEFAULT_POOL_SIZE} cursors × {DEFAULT_MART_THREADS} "
                f"DuckDB thread(s)); {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} "
                "before the run)"
            )
            expected = solo(srv.base, client_keys[0], mix)
            if args.phase in ("evaluate", "both"):
                cpu0 = cpu_seconds(srv.proc.pid)
                tally = asyncio.run(load(srv.base, client_keys, mix, expected, args.seconds))
                cpu = cpu_seconds(srv.proc.pid) - cpu0
                ok &= report("10-question mix, every ask evaluates its SQL", args.clients, tally, cpu)
            if args.phase in ("repeated", "both"):
                seed = (
                    {SEED_EN: expected[SEED_EN]}
                    if SEED_EN in expected
                    else solo(srv.base, client_keys[0], [SEED_EN])
                )
                cpu0 = cpu_seconds(srv.proc.pid)
                tally = asyncio.run(load(srv.base, client_keys, [SEED_EN], seed, args.seconds))
                cpu = cpu_seconds(srv.proc.pid) - cpu0
                ok &= report(
                    "the seed question only (compiled SQL cached, cohort evaluated)", args.clients, tally, cpu
                )
            print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
