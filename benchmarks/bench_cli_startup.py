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
import time

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
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(runs: int = 7) -> dict[str, float]:
    medians: dict[str, float] = {}
    for name, argv in COMMANDS.items():
        _once(argv)  # warm-up: file cache, .pyc files
        times = [_once(argv) for _ in range(runs)]
        medians[name] = statistics.median(times)
        print(
            f"{name:<28} median {medians[name]:.3f} s  (min {min(times):.3f}, max {max(times):.3f}, n={runs})"
        )
    return medians


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
