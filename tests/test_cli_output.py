"""What the CLI prints never carries control characters from input or data.

Why: a question, a key name, a file name or a mart value may hold ANSI escapes or NUL; printed raw
they clear or rewrite the operator's terminal and can hide what was printed (issue 11).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.table import Table
from typer.testing import CliRunner

from cohort_engine.cli import SafeConsole, _json_safe, app, terminal_safe
from tests.api_fixtures import build_tiny_mart

EVIL = "\x1b[2J\x1b[31mred\x00nul\x07bel\r\x9bcsi\u202eevil"
RAW = ("\x1b", "\x00", "\x07", "\r", "\x9b", "\u202e")


def _clean(text: str) -> bool:
    return not any(ch in text for ch in RAW)


def test_terminal_safe_shows_controls_as_escapes() -> None:
    assert terminal_safe(EVIL) == "\\x1b[2J\\x1b[31mred\\x00nul\\x07bel\\x0d\\x9bcsi\\u202eevil"
    assert terminal_safe("심근경색 환자\tok\n") == "심근경색 환자\tok\n"  # text, tabs and newlines stay


def test_json_lines_stay_valid_json_with_controls_escaped() -> None:
    line = _json_safe(json.dumps({"q": EVIL}, ensure_ascii=False))
    assert _clean(line) and json.loads(line) == {"q": EVIL}


def test_rich_output_of_strings_and_table_cells_is_clean() -> None:
    buf = io.StringIO()
    con = SafeConsole(file=buf, width=200, force_terminal=False)
    t = Table()
    t.add_column("value")
    t.add_row(EVIL)
    con.print(t)
    con.print(f"error: {EVIL}", markup=False)
    con.rule(EVIL)
    out = buf.getvalue()
    assert _clean(out) and out.count("\\x1b[2J") == 3


def test_key_names_and_bad_options_print_clean(tmp_path: Path) -> None:
    state = tmp_path / "state" / "cohort_state.sqlite"
    runner = CliRunner()
    made = runner.invoke(
        app, ["keys", "create", "--role", "researcher", "--name", EVIL, "--state", str(state)]
    )
    assert made.exit_code == 0, made.output
    assert _clean(made.output) and "\\x1b[2J" in made.output
    listed = runner.invoke(app, ["keys", "list", "--state", str(state)])
    assert listed.exit_code == 0 and _clean(listed.output), listed.output
    bad = runner.invoke(app, ["keys", "create", "--role", EVIL, "--state", str(state)])
    assert bad.exit_code == 2 and _clean(bad.output) and "unknown role" in bad.output


@pytest.mark.slow
def test_a_question_with_escapes_prints_clean(tmp_path: Path) -> None:
    """The read-back, notes and clarifications quote the question: control characters leave it at the
    parser's door (nlq.text.normalise), so neither the screen nor --json carries them."""
    mart = build_tiny_mart(tmp_path / "mart.duckdb")
    question = '"\x1b[2Jevil\x00" appendectomy patients'
    runner = CliRunner()
    shown = runner.invoke(app, ["ask", question, "--mart", str(mart)])
    assert _clean(shown.output) and "“[2Jevil”" in shown.output, shown.output
    as_json = runner.invoke(app, ["ask", question, "--mart", str(mart), "--json"])
    assert _clean(as_json.output)
    readback = json.loads(as_json.output)["readback"]
    assert "“[2Jevil”" in readback and "\x1b" not in readback and "\x00" not in readback
