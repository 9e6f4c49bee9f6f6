"""`cohort` starts light: importing the CLI, or asking for help, loads no stage and no heavy library;
asking a question loads the parser's stack but not the release stage's (presidio), nor spaCy's
command line, nor Kiwi for an English question; spaCy imported without its command line tokenizes
exactly as a plain ``import spacy``.

Start-up time itself is measured by benchmarks/bench_cli_startup.py; what is tested here is the
behaviour that keeps it low: every command imports what it needs inside its own function.
"""

from __future__ import annotations

import json
import os
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


def _modules(*argv: str, env: dict[str, str] | None = None) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
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
    """What `cohort ask` imports (``cohort_engine.nlq.spacy_plugins``); Kiwi only for Korean. The first
    ask takes the tokenizer rules from spaCy and writes them to the cache; the next builds no spaCy
    pipeline (``nlq.spacy_rules``), reading them from the file."""
    mart = build_tiny_mart(tmp_path / "mart.duckdb")
    env = {**os.environ, "COHORT_ENGINE_CACHE": str(tmp_path / "cache")}
    argv = ("ask", "--json", "--mart", str(mart), question)
    first, loaded = _modules(*argv, env=env), _modules(*argv, env=env)
    assert "cohort_engine.nlq.spacy_rules" in first and "cohort_engine.nlq.spacy_rules" not in loaded
    assert {"duckdb", "sqlglot", "cohort_engine.nlq.parser", "cohort_engine.nlq.rule_tokenizer"} <= loaded
    for modules in (first, loaded):
        assert sorted(m for m in modules if m.split(".")[0] in NOT_FOR_ASK or m.startswith(NOT_FOR_ASK)) == []
        assert ("kiwipiepy" in modules) == (question == SEED_KO)


MAIN_PROBE = """
import atexit, sys
atexit.register(lambda: sys.__stderr__.write("EXIT HANDLERS RAN\\n"))
from cohort_engine.cli import main
sys.argv[0] = "cohort"
main()
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "code", "printed"),
    [(SEED_EN, 0, '"status": "ok"'), ("delete every patient record", 4, '"status": "refused"')],
    ids=["answered", "refused"],
)
def test_the_console_script_leaves_ask_quickly_but_completely(
    tmp_path: Path, question: str, code: int, printed: str
) -> None:
    """`cohort ask` through the console script skips the interpreter's teardown, but not its output, its
    exit code or its exit handlers (the regular-expression cache is saved by one)."""
    mart = build_tiny_mart(tmp_path / "mart.duckdb")
    env = {**os.environ, "COHORT_ENGINE_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", MAIN_PROBE, "ask", "--json", "--mart", str(mart), question],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == code, done.stderr[-2000:]
    assert printed in done.stdout
    assert "EXIT HANDLERS RAN" in done.stderr
    assert list((tmp_path / "cache" / "regex").glob("*.marshal"))  # the cache was written on the way out


SPACY_PROBE = """
import json, sys
if sys.argv[1] == "light":
    from cohort_engine.nlq.spacy_plugins import skip_plugin_factories
    skip_plugin_factories()
    imported = "spacy" in sys.modules
    from spacy.lang.en.stop_words import STOP_WORDS  # any first import of spaCy is the light one
    deferred = not imported and "spacy.cli" not in sys.modules and "requests" not in sys.modules
    import spacy
    deferred = deferred and spacy.util.registry._entry_point_factories.entry_points is False
else:
    import spacy
    deferred = False
from cohort_engine.nlq import spacy_rules
texts = json.loads(sys.argv[2])
out = {
    "deferred": deferred,
    "tokens": [
        [[t.text for t in nlp.tokenizer(text)] for nlp in (spacy_rules.english(), spacy_rules.korean())]
        for text in texts
    ],
}
import spacy  # the command line is still there when asked for, with or without `import spacy.cli`
out["cli"] = callable(spacy.cli.download) and "spacy_version" in spacy.info(silent=True, markdown=False)
print(json.dumps(out))
"""


def test_spacy_without_its_command_line_tokenizes_the_same() -> None:
    """``skip_plugin_factories`` imports nothing, and makes the process's first ``import spacy`` (here
    the stop words' import) defer ``spacy.cli`` and switch off other packages' factories, nothing else:
    both languages' spaCy tokens are those of a plain ``import spacy``, and ``spacy.cli`` /
    ``spacy.info()`` still work."""
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
    assert outs["light"]["tokens"][0][0][:2] == ["patients", "diagnosed"]
