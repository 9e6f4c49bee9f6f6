"""Headers/s of the DICOM index on demo files: the naive pydicom loop, the fast reader, and the whole
indexer (header + whole-file hash + DuckDB batches) with 1 and 2 processes — in one run.

    .venv/bin/python benchmarks/bench_dicom_index.py            # generates ~3,000 demo files in a tmp dir
    .venv/bin/python benchmarks/bench_dicom_index.py --dir DIR  # or takes existing files

Every variant reads the same files with a warm page cache (one untimed pass first), so the figures
compare parsing, not the disk; each figure is the best of ``--repeat`` runs, because the machine is
shared and a single run mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pydicom

from cohort_engine.dicom_index.demo import write_demo_dicom
from cohort_engine.dicom_index.header import INDEXED_ATTRIBUTES, read_header, read_header_and_hash
from cohort_engine.dicom_index.indexer import _mp_context, index_folders, walk_files

# The tiny mart is test material (tests/, not in the wheel): run from a checkout, so import it from there.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.dicom_fixtures import make_tiny_mart  # noqa: E402

_KEYWORDS = list(INDEXED_ATTRIBUTES.values())


def naive(paths: list[str]) -> None:
    """What one would write first: dcmread(stop_before_pixels=True) and read the indexed attributes."""
    for p in paths:
        ds = pydicom.dcmread(p, stop_before_pixels=True, force=True)
        _ = [ds.get(k) for k in _KEYWORDS], ds.file_meta.get("TransferSyntaxUID")


def fast_header(paths: list[str]) -> None:
    for p in paths:
        read_header(p)


def fast_header_hash(paths: list[str]) -> None:
    for p in paths:
        read_header_and_hash(p)


def _chunk(paths: list[str]) -> int:
    fast_header_hash(paths)
    return len(paths)


def fast_pool(paths: list[str], workers: int, repeat: int) -> float:
    """The reader alone in a warm process pool (start-up excluded): the scaling with processes."""
    chunks = [paths[i : i + 64] for i in range(0, len(paths), 64)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as pool:
        list(pool.map(_chunk, [paths[:8]] * workers))  # start and warm the workers
        return timed(lambda: sum(pool.map(_chunk, chunks)), repeat)


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dir", type=Path, help="existing DICOM files (default: generate demo files)")
    ap.add_argument("--studies", type=int, default=300, help="demo studies to generate (~10 files each)")
    ap.add_argument("--naive-max", type=int, default=1500, help="files for the (slow) naive loop")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is shown")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.dir:
            src = args.dir
        else:
            mart = root / "mart.duckdb"
            make_tiny_mart(mart, persons=3000, studies=args.studies, seed=1)
            t = time.perf_counter()
            n = write_demo_dicom(mart, root / "dicom", seed=1)
            print(f"demo writer: {n} files in {time.perf_counter() - t:.2f} s")
            src = root / "dicom"
        paths = sorted(p for p, _, _ in walk_files([src]))
        size = sum(os.path.getsize(p) for p in paths)
        print(f"{len(paths)} files, {size / len(paths) / 1024:.1f} KiB mean, cpus={os.cpu_count()}")
        fast_header_hash(paths)  # warm the page cache

        rows: list[tuple[str, float]] = []
        sub = paths[: args.naive_max]
        r = args.repeat
        rows.append(
            ("naive dcmread(stop_before_pixels) loop, 1 process", len(sub) / timed(lambda: naive(sub), r))
        )
        rows.append(
            ("fast reader (header only), 1 process", len(paths) / timed(lambda: fast_header(paths), r))
        )
        rows.append(
            (
                "fast reader + xxh3 file hash, 1 process",
                len(paths) / timed(lambda: fast_header_hash(paths), r),
            )
        )
        for w in (1, 2):
            rows.append((f"fast reader + hash, pool of {w} process(es)", len(paths) / fast_pool(paths, w, r)))
        for w in (1, 2):
            reports = [index_folders(root / f"index{w}_{k}.duckdb", [src], workers=w) for k in range(r)]
            rep = max(reports, key=lambda x: x.files_per_s)
            rows.append((f"index_folders (reader+hash+DuckDB), workers={w}", rep.files_per_s))
            print(
                f"index_folders workers={w}: {rep.indexed} indexed, {rep.elapsed_s:.2f} s end to end "
                "(walk, process start-up, commits, series/study rebuild)"
            )
            again = index_folders(root / f"index{w}_0.duckdb", [src], workers=w)
            assert again.skipped_unchanged == len(paths), "re-run must skip every file"
        print(
            f"re-run of an unchanged folder: {again.elapsed_s:.2f} s for {again.files_seen} files (all "
            "skipped)"
        )
        base = rows[0][1]
        for name, rate in rows:
            print(f"{name:<52} {rate:8.0f} files/s  ×{rate / base:4.1f}")


if __name__ == "__main__":
    main()
