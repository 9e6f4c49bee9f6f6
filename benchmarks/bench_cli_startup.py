"""CLI start-up: median wall time of `cohort --help`, `cohort ask` (the seed question, English and
Korean, on the demo mart), `cohort index --help`, `cohort index` on an empty folder and the bare import,
then where an `ask`'s time goes.

Each command runs in a fresh interpreter N times (after one unmeasured warm-up run that writes the
.pyc files and the mart's concept-name cache); the figures include interpreter start, as a user at a
terminal sees them. Next to the wall time each row prints the CPU time (user + system) of the same
runs: on a machine shared with other work the wall time swings by 2x, the CPU time much less.
Targets: issue 14, `cohort --help` ≤ 0.3 s and `cohort ask` of the English seed question ≤ 0.8 s;
issue 15, `cohort index` ≤ 0.5 s.

Byte code: the commands run with ``PYTHONDONTWRITEBYTECODE`` unset and ``PYTHONPYCACHEPREFIX`` set to
a folder of this run, so the project's modules load from .pyc files as an installed package's do (an
environment that forbids .pyc files recompiles ~50 modules on every start: +0.25 s), without writing
``__pycache__`` folders into the working tree.

The breakdown runs the `ask` path's stages one by one in a fresh interpreter (median of the same N):
the imports (typer and rich; DuckDB; sqlglot; the pipeline and parser modules, with spaCy where
they still import it for its stop-word list), the lexicon, the tokenizers and the lexicon's phrase
tables (``nlq.rule_tokenizer`` over spaCy's rules read from their cache file,
``nlq.tokenizer_cache``: spaCy itself is imported only to build that file), Kiwi for Korean, the
parse itself, opening the mart, loading the resolver's concept-name index from its cache
(``schema_catalog.name_keys_cache``), the stages of the run (the answer's own ``timings``) and
printing. `cohort ask` pays for the parser's stack (the lexicon, the tokenizer rules' regular
expressions, Kiwi for Korean), DuckDB and sqlglot; `--help` holds only while the CLI module keeps
its imports inside the command functions (tests/test_cli_startup.py).

Usage: ``python benchmarks/bench_cli_startup.py [N_RUNS] [--mart demo/mart.duckdb]`` (default 7 runs;
the `ask` rows and the breakdown are skipped when the mart is missing: `make demo` builds it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cohort_engine.seed import SEED_EN, SEED_KO  # noqa: E402

#: The `cohort` console script is ``cohort_engine.cli:main`` (`app`, with a quick exit for `ask`); running
#: it through the same interpreter avoids depending on where the console script was installed.
ENTRY = "import sys; from cohort_engine.cli import main; sys.argv[0] = 'cohort'; main()"
COMMANDS: dict[str, list[str]] = {
    "cohort --help": [sys.executable, "-c", ENTRY, "--help"],
    "cohort index --help": [sys.executable, "-c", ENTRY, "index", "--help"],
    "import cohort_engine.cli": [sys.executable, "-c", "import cohort_engine.cli"],
}

#: The `ask` path stage by stage, in one fresh interpreter; prints {stage: ms} as JSON.
STAGES = r"""
import io, json, sys, time
t0 = time.perf_counter()
ms = {}
def lap(name):
    global t0
    now = time.perf_counter(); ms[name] = ms.get(name, 0.0) + (now - t0) * 1000; t0 = now
lang, mart = sys.argv[1], sys.argv[2]
import cohort_engine.cli as cli; lap("import cli (typer, rich)")
from cohort_engine.nlq.spacy_plugins import skip_plugin_factories; skip_plugin_factories()
lap("skip_plugin_factories (imports nothing)")
import duckdb; lap("import duckdb")
import sqlglot, sqlglot.dialects.duckdb; lap("import sqlglot (+ its DuckDB dialect)")
from cohort_engine.followups import apply_answers
from cohort_engine.pipeline import Timings, run_spec
from cohort_engine.parsers import parser_for
from cohort_engine.schema_catalog import name_keys_cache
from cohort_engine.sql_guard.runner import open_mart
parse = parser_for("rule")
lap("import pipeline + parser modules" + (" (+ spaCy)" if "spacy" in sys.modules else " (no spaCy)"))
from cohort_engine.nlq import lexicon, nlp
lexicon.aliases(); lap("lexicon")
nlp.tokenizer("en"); lap("English tokenizer (rules from the cache file)")
if lang == "ko":
    nlp.tokenizer("ko"); lap("Korean tokenizer")
nlp._english_matcher(); lap("English lexicon phrase tables")
if lang == "ko":
    from cohort_engine.nlq import morph
    morph.warm_up(); lap("Kiwi load + first analysis")
from cohort_engine.seed import SEED_EN, SEED_KO
parsed = parse(SEED_KO if lang == "ko" else SEED_EN); lap("parse")
con = open_mart(mart); lap("open mart")
name_keys_cache.load(con, mart); lap("concept-name index from cache")
res = run_spec(parsed.spec, con, parsed=parsed); t0 = time.perf_counter()
for k, v in (res.timings or Timings()).model_dump().items():
    if k != "total":
        ms["run: " + k] = v
con.close(); lap("close mart")
cli.console = cli.SafeConsole(file=io.StringIO(), width=100)
cli._print_result(res, False, False); lap("print")
print(json.dumps(ms))
"""


def _env(tmp: Path) -> dict[str, str]:
    """The commands' environment: .pyc files on, in ``tmp``; the name-key cache in ``tmp`` too (empty
    at the start, filled by each command's warm-up run)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    env["COHORT_ENGINE_CACHE"] = str(tmp / "cache")
    return env


def _once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # `cohort index` on an empty folder ends with exit 2 ("no DICOM files") once it has started; an
    # ask must answer (0), not fail (2), ask back (3) or refuse (4)
    assert done.returncode in ((0,) if "ask" in argv else (0, 2)), argv
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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


def stages(lang: str, mart: Path, runs: int, env: dict[str, str]) -> dict[str, float]:
    """Median ms per stage of the `ask` path (:data:`STAGES`) over ``runs`` fresh interpreters."""
    argv = [sys.executable, "-c", STAGES, lang, str(mart)]
    subprocess.run(argv, capture_output=True, check=True, env=env)  # warm-up
    samples = [
        json.loads(subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout)
        for _ in range(runs)
    ]
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


def main(runs: int = 7, mart: Path = ROOT / "demo" / "mart.duckdb") -> dict[str, float]:
    medians: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    env = _env(tmp)
    commands = {**COMMANDS, "cohort index <empty folder>": _index_start(tmp)}
    if mart.is_file():
        for name, question in (("cohort ask <seed, en>", SEED_EN), ("cohort ask <seed, ko>", SEED_KO)):
            commands[name] = [sys.executable, "-c", ENTRY, "ask", "--mart", str(mart), question]
    else:
        print(f"no mart at {mart}: `cohort ask` not measured (`make demo` builds it)")
    for name, argv in commands.items():
        _once(argv, env)  # warm-up: file cache, .pyc files, the mart's concept-name cache
        walls, cpus = zip(*(_once(argv, env) for _ in range(runs)), strict=True)
        medians[name] = statistics.median(walls)
        target = f"  target ≤ {TARGETS[name]:g} s" if name in TARGETS else ""
        print(
            f"{name:<28} median {medians[name]:.3f} s  (min {min(walls):.3f}, max {max(walls):.3f}, "
            f"n={runs}; CPU median {statistics.median(cpus):.3f} s){target}"
        )
    if mart.is_file():
        for lang in ("en", "ko"):
            ms = stages(lang, mart, runs, env)
            print(
                f"\nwhere `cohort ask <seed, {lang}>` spends its time (median ms of {runs} runs, in-process):"
            )
            for stage, value in ms.items():
                print(f"  {stage:<48} {value:7.1f}")
            print(f"  {'sum':<48} {sum(ms.values()):7.1f}  (+ interpreter start and exit)")
    return medians


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="?", type=int, default=7)
    ap.add_argument("--mart", type=Path, default=ROOT / "demo" / "mart.duckdb")
    args = ap.parse_args()
    main(args.runs, args.mart)
