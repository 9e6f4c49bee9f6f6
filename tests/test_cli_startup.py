"""`cohort` starts light: importing the CLI, or asking for help, loads no stage and no heavy library;
asking a question loads the parser's stack but not the release stage's (presidio).

Start-up time itself is measured by benchmarks/bench_cli_startup.py; what is tested here is the
behaviour that keeps it low: every command imports what it needs inside its own function.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cohort_engine.seed import SEED_EN, SEED_KO
from tests.api_fixtures import build_tiny_mart

#: Never loaded just to show help: each costs from 0.1 s (DuckDB) to over a second (spaCy).
HEAVY = (
    "spacy",
    "duckdb",
    "fastapi",
    "uvicorn",
    "langchain_core",
    "sqlglot",
    "pyarrow",
    "pydicom",
    "httpx",
    "presidio_analyzer",
    "presidio_anonymizer",
    "kiwipiepy",
    "cohort_engine.nlq",
    "cohort_engine.pipeline",
    "cohort_engine.parsers",
    "cohort_engine.schema_catalog",
    "cohort_engine.sql_guard",
    "cohort_engine.dicom_index",
    "cohort_engine.deid",
    "cohort_engine.api",
    "cohort_engine.evals",
)

PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
from cohort_engine.cli import app
sys.argv[0] = "cohort"
if len(sys.argv) > 1:
    app()
"""


def _modules(*argv: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120, check=False
    )
    line = next(x for x in out.stderr.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv", [(), ("--help",), ("index", "--help"), ("export", "--help"), ("eval", "--help")]
)
def test_import_and_help_load_nothing_heavy(argv: tuple[str, ...]) -> None:
    loaded = _modules(*argv)
    assert "cohort_engine.cli" in loaded and "typer" in loaded
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)) == []


def test_a_command_still_loads_what_it_needs() -> None:
    loaded = _modules("schema", "spec")  # the probe itself is checked: a command does import its stage
    assert "cohort_engine.spec" in loaded and "spacy" not in loaded


@pytest.mark.slow
@pytest.mark.parametrize("question", [SEED_EN, SEED_KO], ids=["en", "ko"])
def test_ask_loads_the_parser_but_not_the_scrubber(tmp_path: Path, question: str) -> None:
    """``spacy.blank()`` imports every installed spaCy factory; presidio registers one, 0.5 s of imports
    and regex compiles that no question needs (``cohort_engine.nlq.spacy_plugins``)."""
    mart = build_tiny_mart(tmp_path / "mart.duckdb")
    loaded = _modules("ask", "--json", "--mart", str(mart), question)
    assert {"spacy", "duckdb", "sqlglot", "cohort_engine.nlq.parser"} <= loaded
    assert sorted(m for m in loaded if m.startswith(("presidio", "cohort_engine.deid"))) == []
