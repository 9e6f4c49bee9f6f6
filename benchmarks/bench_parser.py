"""Offline parser speed: milliseconds per sentence over the whole parser corpus.

Parses every sentence of ``evals/parser_corpus/*.jsonl`` (English and Korean) N times on one core
and prints the median and p95 per sentence, overall and per language. Process start, imports and
the one-off build of the spaCy pipelines, matchers and lexicon indexes are timed separately (the
first parse) and excluded from the figures, as the issue asks (target: median ≤ 20 ms).

Usage: ``python benchmarks/bench_parser.py [N_ROUNDS]`` (default 5).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "evals" / "parser_corpus"


def _load() -> list[dict]:
    rows: list[dict] = []
    for lang in ("en", "ko"):
        rows += [
            json.loads(x) for x in (CORPUS / f"{lang}.jsonl").read_text("utf-8").splitlines() if x.strip()
        ]
    return rows


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main(rounds: int = 5) -> dict[str, float]:
    t0 = time.perf_counter()
    from cohort_engine.nlq.parser import parse

    rows = _load()
    parse(rows[0]["sentence"], today=date.fromisoformat(rows[0]["today"]))
    parse("2023년 심근경색 환자", today=date(2024, 6, 30))
    warm = (time.perf_counter() - t0) * 1000

    times: dict[str, list[float]] = {"en": [], "ko": []}
    for _ in range(rounds):
        for r in rows:
            today = date.fromisoformat(r["today"])
            start = time.perf_counter()
            parse(r["sentence"], today=today)
            times[r["language"]].append((time.perf_counter() - start) * 1000)
    all_ms = times["en"] + times["ko"]
    out = {
        "sentences": len(rows),
        "rounds": rounds,
        "warmup_ms": warm,
        "median_ms": statistics.median(all_ms),
        "p95_ms": _pct(all_ms, 0.95),
        "max_ms": max(all_ms),
        "en_median_ms": statistics.median(times["en"]),
        "en_p95_ms": _pct(times["en"], 0.95),
        "ko_median_ms": statistics.median(times["ko"]),
        "ko_p95_ms": _pct(times["ko"], 0.95),
    }
    print(
        f"parser: {len(rows)} corpus sentences x {rounds} rounds, one core "
        f"(imports + pipeline build {warm:.0f} ms, excluded)"
    )
    print(
        f"  all      median {out['median_ms']:.2f} ms   p95 {out['p95_ms']:.2f} ms   "
        f"max {out['max_ms']:.2f} ms"
    )
    for lang, name in (("en", "English"), ("ko", "Korean ")):
        print(
            f"  {name}  median {out[f'{lang}_median_ms']:.2f} ms   p95 {out[f'{lang}_p95_ms']:.2f} ms   "
            f"({len(times[lang]) // rounds} sentences)"
        )
    print(f"  target   median <= 20 ms: {'met' if out['median_ms'] <= 20 else 'NOT met'}")
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
