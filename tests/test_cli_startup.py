"""`cohort` starts light: importing the CLI, or asking for help, loads no stage and no heavy library;
asking a question loads the parser's stack but not the release stage's (presidio), nor spaCy's
command line, nor Kiwi for an English question; spaCy imported without its command line tokenizes
exactly as a plain ``import spacy``.

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


#: Never loaded by `cohort ask`: the release stage's scrubber (presidio registers a spaCy factory that
#: ``spacy.blank()`` would import, 0.5 s), spaCy's command line (``spacy/__init__`` imports it for
#: ``spacy.info``: every subcommand, requests, weasel; ~0.2 s), the API and the DICOM indexer.
NOT_FOR_ASK = (
    "presidio",
    "cohort_engine.deid",
    "spacy.cli",
    "requests",
    "weasel",
    "fastapi",
    "uvicorn",
    "pydicom",
    "cohort_engine.api",
    "cohort_engine.evals",
)


@pytest.mark.slow
@pytest.mark.parametrize("question", [SEED_EN, SEED_KO], ids=["en", "ko"])
def test_ask_loads_the_parser_but_not_the_scrubber(tmp_path: Path, question: str) -> None:
    """What `cohort ask` imports (``cohort_engine.nlq.spacy_plugins``); Kiwi only for Korean."""
    mart = build_tiny_mart(tmp_path / "mart.duckdb")
    loaded = _modules("ask", "--json", "--mart", str(mart), question)
    assert {"spacy", "duckdb", "sqlglot", "cohort_engine.nlq.parser"} <= loaded
    assert sorted(m for m in loaded if m.split(".")[0] in NOT_FOR_ASK or m.startswith(NOT_FOR_ASK)) == []
    assert ("kiwipiepy" in loaded) == (question == SEED_KO)


SPACY_PROBE = """
import json, sys
if sys.argv[1] == "light":
    from cohort_engine.nlq.spacy_plugins import skip_plugin_factories
    skip_plugin_factories()
    deferred = "spacy.cli" not in sys.modules and "requests" not in sys.modules
else:
    import spacy
    deferred = False
from cohort_engine.nlq import nlp
texts = json.loads(sys.argv[2])
out = {
    "deferred": deferred,
    "tokens": [
        [nlp.tokens(t, "en"), nlp.tokens(t, "ko"), nlp.find_terms_en(t), nlp.find_terms_ko(t)] for t in texts
    ],
}
import spacy  # the command line is still there when asked for, with or without `import spacy.cli`
out["cli"] = callable(spacy.cli.download) and "spacy_version" in spacy.info(silent=True, markdown=False)
print(json.dumps(out))
"""


def test_spacy_without_its_command_line_tokenizes_the_same() -> None:
    """``import_spacy`` defers ``spacy.cli`` and nothing else: the tokens and mentions of both
    languages are those of a plain ``import spacy``, and ``spacy.cli`` / ``spacy.info()`` still work."""
    texts = [
        SEED_EN,
        SEED_KO,
        "T2DM pts w/ HbA1c>=7.5% (e.g. on metformin 500mg b.i.d.) since 01/02/2020, aged 40-65",
        "PCI or CABG within 30 days; no prior MI. What's the count?",
        "고혈압 및 당뇨병 환자 중 65세 이상, MRI 촬영을 받은 사람",
    ]
    outs = {}
    for mode in ("light", "plain"):
        done = subprocess.run(
            [sys.executable, "-c", SPACY_PROBE, mode, json.dumps(texts)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        outs[mode] = json.loads(done.stdout)
    assert outs["light"]["deferred"] is True
    assert outs["light"]["cli"] is True
    assert outs["light"]["tokens"] == outs["plain"]["tokens"]
    assert outs["light"]["tokens"][0][2] != []  # the seed's English mentions were found
