"""CLI start-up: median wall time of `cohort --help`, `cohort index --help` and the bare import.

Each command runs in a fresh interpreter N times (after one unmeasured warm-up run that fills the
OS file cache); the figures include interpreter start, as a user at a terminal sees them. The
target of issue 15 is ≤ 0.5 s for `cohort --help` and `cohort index`, which only holds while the
CLI module keeps its imports inside the command functions (no spaCy, DuckDB, parser or API at
import time).

Usage: ``python benchmarks/bench_cli_startup.py [N_RUNS]`` (default 7).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The `cohort` entry point is ``cohort_engine.cli:app``; running it through the same interpreter
#: avoids depending on where the console script was installed.
ENTRY = "import sys; from cohort_engine.cli import app; sys.argv[0] = 'cohort'; app()"
COMMANDS: dict[str, list[str]] = {
    "cohort --help": [sys.executable, "-c", ENTRY, "--help"],
    "cohort index --help": [sys.executable, "-c", ENTRY, "index", "--help"],
    "import cohort_engine.cli": [sys.executable, "-c", "import cohort_engine.cli"],
}


def _once(argv: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # `cohort index` on an empty folder ends with exit 2 ("no DICOM files") once it has started
    assert done.returncode in (0, 2), argv
    return time.perf_counter() - t0


def _index_start(tmp: Path) -> list[str]:
    """`cohort index` on an empty OMOP mart and an empty folder: everything up to listing the folder
    (imports, opening the mart, creating the index tables), which is the start-up a user waits for."""
    import duckdb

    from cohort_engine.schema_catalog.ddl import omop_ddl

    mart, folder = tmp / "mart.duckdb", tmp / "empty"
    folder.mkdir()
    with duckdb.connect(str(mart)) as con:
        con.execute(omop_ddl())
    return [sys.executable, "-c", ENTRY, "index", "--mart", str(mart), str(folder)]


def main(runs: int = 7) -> dict[str, float]:
    medians: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    commands = {**COMMANDS, "cohort index <empty folder>": _index_start(tmp)}
    for name, argv in commands.items():
        _once(argv)  # warm-up: file cache, .pyc files
        times = [_once(argv) for _ in range(runs)]
        medians[name] = statistics.median(times)
        print(
            f"{name:<28} median {medians[name]:.3f} s  (min {min(times):.3f}, max {max(times):.3f}, n={runs})"
        )
    return medians


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
