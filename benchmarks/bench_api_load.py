"""Load benchmark of the REST API: 50 concurrent clients on POST /v1/ask and POST /v1/cohorts.

Builds the demo mart (20,000 persons, seed 42, unless --mart is given), starts the real server
(`cohort serve` on 127.0.0.1, a free port) in its own process, makes a researcher key, and lets
``--clients`` concurrent clients alternate the seed question (English, Korean) on /v1/ask with the
seed spec on /v1/cohorts, until ``--requests`` requests are done or ``--seconds`` have passed.
Prints p50/p99/max latency per endpoint, throughput and errors; exits 1 when any request failed.

    .venv/bin/python benchmarks/bench_api_load.py [--clients 50] [--requests 400] [--seconds 180]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cohort_engine.seed import SEED_EN, SEED_KO  # noqa: E402
from tests.served import served  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _load(base: str, keys: list[str], spec: dict, clients: int, total: int, seconds: float) -> dict:
    """``clients`` concurrent clients, each with its own researcher key (a key may have only a few heavy
    requests in flight: many users, not one user many times)."""
    lat: dict[str, list[float]] = {"/v1/ask": [], "/v1/cohorts": []}
    errors: dict[str, int] = {}
    issued = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def worker(w: int) -> None:
            nonlocal issued
            i = 0
            while issued < total and time.perf_counter() < deadline:
                issued += 1
                body: dict[str, object]
                if (w + i) % 2 == 0:
                    path, body = "/v1/ask", {"question": SEED_EN if (w + i) % 4 == 0 else SEED_KO}
                else:
                    path, body = "/v1/cohorts", {"spec": spec}
                i += 1
                t0 = time.perf_counter()
                try:
                    r = await client.post(path, json=body, headers={"Authorization": f"Bearer {keys[w]}"})
                    ok = r.status_code in (200, 201) and r.json().get("status") == "ok"
                    label = "ok" if ok else f"HTTP {r.status_code} {r.json().get('status', '')}".strip()
                except httpx.HTTPError as e:
                    ok, label = False, type(e).__name__
                lat[path].append(time.perf_counter() - t0)
                if not ok:
                    errors[f"{path}: {label}"] = errors.get(f"{path}: {label}", 0) + 1

        t_start = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(clients)))
        elapsed = time.perf_counter() - t_start
    return {"lat": lat, "errors": errors, "elapsed": elapsed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mart", type=Path, help="Existing OMOP DuckDB mart (default: build the demo mart).")
    ap.add_argument("--persons", type=int, default=20_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=400, help="Total requests (bounded).")
    ap.add_argument("--seconds", type=float, default=180, help="Time bound for the load phase.")
    ap.add_argument(
        "--workers", type=int, default=2, help="Server worker processes (`cohort serve --workers`)."
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        tmpdir = Path(tmp)
        if args.mart:
            mart = args.mart
        else:
            from cohort_engine.schema_catalog.demo import generate_mart

            t0 = time.perf_counter()
            mart = generate_mart(tmpdir / "demo", persons=args.persons, seed=42)
            print(f"demo mart: {args.persons} persons in {time.perf_counter() - t0:.1f} s")
        keys = {f"client{w}": "researcher" for w in range(args.clients)}
        with served(mart, tmpdir, keys, args=["--workers", str(args.workers)]) as srv:
            base, client_keys = srv.base, list(srv.keys.values())
            key = client_keys[0]
            warm = httpx.post(
                f"{base}/v1/ask",
                json={"question": SEED_EN},
                timeout=120,
                headers={"Authorization": f"Bearer {key}"},
            ).json()
            assert warm["status"] == "ok", warm
            solo = []
            for i in range(10):  # service time without queueing: one client, sequential
                t0 = time.perf_counter()
                r = httpx.post(
                    f"{base}/v1/ask" if i % 2 else f"{base}/v1/cohorts",
                    timeout=120,
                    json={"question": SEED_EN} if i % 2 else {"spec": warm["spec"]},
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert r.status_code in (200, 201), r.text
                solo.append((time.perf_counter() - t0) * 1000)
            print(
                f"seed scenario: {warm['count_display']} patients; one client, sequential: "
                f"p50 {_pct(solo, 0.5):.0f} ms, max {max(solo):.0f} ms"
            )
            print(
                f"load: {args.clients} clients, ≤{args.requests} requests, ≤{args.seconds:g} s, "
                f"{args.workers} server worker(s), {os.cpu_count()} CPUs"
            )
            res = asyncio.run(
                _load(base, client_keys, warm["spec"], args.clients, args.requests, args.seconds)
            )

    lat, errors, elapsed = res["lat"], res["errors"], res["elapsed"]
    n = sum(len(v) for v in lat.values())
    print(f"{'endpoint':<14}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'mean ms':>10}")
    for path, values in lat.items():
        ms = [v * 1000 for v in values]
        print(
            f"{path:<14}{len(ms):>6}{_pct(ms, 0.5):>10.0f}{_pct(ms, 0.99):>10.0f}"
            f"{max(ms, default=float('nan')):>10.0f}{statistics.fmean(ms) if ms else float('nan'):>10.0f}"
        )
    allms = [v * 1000 for vs in lat.values() for v in vs]
    print(
        f"{'all':<14}{n:>6}{_pct(allms, 0.5):>10.0f}{_pct(allms, 0.99):>10.0f}{max(allms, default=0):>10.0f}"
    )
    print(f"throughput: {n / elapsed:.1f} req/s over {elapsed:.1f} s; errors: {sum(errors.values())}")
    for what, count in sorted(errors.items()):
        print(f"  {count} × {what}")
    return 1 if errors or n == 0 else 0


if __name__ == "__main__":
    raise SystemExit(main())
