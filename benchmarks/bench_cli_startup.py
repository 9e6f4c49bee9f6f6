"""CLI start-up: median wall time of `cohort --help`, `cohort ask` (the seed question, English and
Korean, on the demo mart), `cohort index --help`, `cohort index` on an empty folder and the bare import.

Each command runs in a fresh interpreter N times (after one unmeasured warm-up run that fills the
OS file cache); the figures include interpreter start, as a user at a terminal sees them. Targets:
issue 14, `cohort --help` ≤ 0.3 s and `cohort ask` of the English seed question ≤ 0.8 s; issue 15,
`cohort index` ≤ 0.5 s. `--help` holds only while the CLI module keeps its imports inside the
command functions (no spaCy, DuckDB, parser or API at import time: tests/test_cli_startup.py); `ask`
pays for the parser's stack (spaCy, the lexicon, Kiwi for Korean), DuckDB and sqlglot.

Usage: ``python benchmarks/bench_cli_startup.py [N_RUNS] [--mart demo/mart.duckdb]`` (default 7 runs;
the `ask` rows are skipped when the mart is missing: `make demo` builds it).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cohort_engine.seed import SEED_EN, SEED_KO  # noqa: E402

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
    # `cohort index` on an empty folder ends with exit 2 ("no DICOM files") once it has started; an
    # ask must answer (0), not fail (2), ask back (3) or refuse (4)
    assert done.returncode in ((0,) if "ask" in argv else (0, 2)), argv
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


#: Issue targets, seconds (median).
TARGETS = {"cohort --help": 0.3, "cohort ask <seed, en>": 0.8, "cohort index <empty folder>": 0.5}


def main(runs: int = 7, mart: Path = ROOT / "demo" / "mart.duckdb") -> dict[str, float]:
    medians: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    commands = {**COMMANDS, "cohort index <empty folder>": _index_start(tmp)}
    if mart.is_file():
        for name, question in (("cohort ask <seed, en>", SEED_EN), ("cohort ask <seed, ko>", SEED_KO)):
            commands[name] = [sys.executable, "-c", ENTRY, "ask", "--mart", str(mart), question]
    else:
        print(f"no mart at {mart}: `cohort ask` not measured (`make demo` builds it)")
    for name, argv in commands.items():
        _once(argv)  # warm-up: file cache, .pyc files
        times = [_once(argv) for _ in range(runs)]
        medians[name] = statistics.median(times)
        target = f"  target ≤ {TARGETS[name]:g} s" if name in TARGETS else ""
        print(
            f"{name:<28} median {medians[name]:.3f} s  (min {min(times):.3f}, max {max(times):.3f}, "
            f"n={runs}){target}"
        )
    return medians


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="?", type=int, default=7)
    ap.add_argument("--mart", type=Path, default=ROOT / "demo" / "mart.duckdb")
    args = ap.parse_args()
    main(args.runs, args.mart)
