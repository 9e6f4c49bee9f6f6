"""`cohort`: the operator's command line over the same pipeline as the REST API."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.pipeline import AskResult, ask, run_spec
from nlq.spec import CohortSpec, dump_json_schema
from schema_catalog.tables import catalog_json
from sql_guard.guard import GuardError, validate
from sql_guard.runner import MartError, QueryTimeout, open_mart, run_query

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()
err = Console(stderr=True)

DEFAULT_MART = Path(os.environ.get("COHORT_MART", "demo/mart.duckdb"))
MartOpt = Annotated[Path, typer.Option("--mart", help="OMOP CDM 5.3/5.4 DuckDB file (env COHORT_MART).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@app.command("demo-data")
def demo_data(
    persons: Annotated[int, typer.Option(help="Number of patients.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same mart.")] = 42,
    out: Annotated[Path, typer.Option(help="Output folder; writes OUT/mart.duckdb.")] = Path("demo"),
) -> None:
    """Write a fictional hospital network's OMOP mart (and, when available, its DICOM files)."""
    from schema_catalog.demo import generate_mart

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("demo mart", total=1.0)

        def progress(step: str, fraction: float) -> None:
            bar.update(task, description=f"demo mart: {step}", completed=fraction)

        path = generate_mart(out, persons=persons, seed=seed, progress=progress)
    console.print(f"wrote {path} ({persons} persons, seed {seed})")


def _print_result(res: AskResult, as_json: bool, person_ids: bool) -> None:
    if as_json:
        data = {
            "status": res.status, "message": res.message, "count": res.count,
            "spec": res.spec.model_dump(mode="json") if res.spec else None,
            "sql": res.sql, "readback": res.readback,
            "attrition": [a.model_dump() for a in res.attrition],
            "notes": res.notes,
            "clarifications": [c.model_dump() for c in res.clarifications],
            "resolutions": {k: [r.model_dump(mode="json") for r in v] for k, v in res.resolutions.items()},
        }
        if person_ids:
            data["person_ids"] = res.person_ids or []
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        return
    colour = {"ok": "green", "clarify": "yellow", "refused": "red", "error": "red"}[res.status]
    console.print(f"[bold {colour}]{res.status}[/] {res.message}")
    if res.readback:
        console.rule("read-back")
        console.print(res.readback)
    for note in res.notes:
        console.print(f"[dim]note:[/] {note}")
    for c in res.clarifications:
        console.print(f"[yellow]?[/] {c.question}" + (f"  choices: {', '.join(c.choices)}" if c.choices else ""))
    if res.sql:
        console.rule("SQL")
        console.print(res.sql, highlight=False, markup=False)
    if res.attrition:
        t = Table(title="attrition")
        t.add_column("step")
        t.add_column("rule")
        t.add_column("persons", justify="right")
        for a in res.attrition:
            t.add_row(a.step, a.description, str(a.persons))
        console.print(t)
    if res.sample:
        t = Table(title="sample (pseudonymous)")
        t.add_column("patient")
        t.add_column("index month")
        t.add_column("days to matched events")
        for s in res.sample:
            t.add_row(s.pseudonym, s.index_month, ", ".join(f"{k}: {v}" for k, v in s.days_to_events.items()))
        console.print(t)
    if res.count is not None:
        console.print(f"[bold]cohort size: {res.count}[/]")
    if person_ids and res.person_ids is not None:
        console.print("person_ids: " + " ".join(map(str, res.person_ids)))


def _exit_code(res: AskResult) -> int:
    return {"ok": 0, "clarify": 3, "refused": 4, "error": 2}[res.status]


@app.command("ask")
def ask_cmd(
    question: Annotated[str, typer.Argument(help="The cohort question, in English or Korean.")],
    mart: MartOpt = DEFAULT_MART,
    as_json: JsonOpt = False,
    person_ids: Annotated[bool, typer.Option("--person-ids", help="Include the person_id list (operator use).")] = False,
) -> None:
    """Parse a question, show the read-back and SQL, run it, and print the cohort size."""
    try:
        res = ask(question, mart, include_person_ids=person_ids)
    except (MartError, QueryTimeout) as e:
        _fail(str(e))
        return
    _print_result(res, as_json, person_ids)
    raise typer.Exit(_exit_code(res))


@app.command("run")
def run_cmd(
    spec_file: Annotated[Path, typer.Argument(help="A cohort spec as JSON (see `cohort schema`).")],
    mart: MartOpt = DEFAULT_MART,
    as_json: JsonOpt = False,
    person_ids: Annotated[bool, typer.Option("--person-ids")] = False,
) -> None:
    """Run a saved cohort spec."""
    try:
        spec = CohortSpec.model_validate_json(spec_file.read_text("utf-8"))
    except FileNotFoundError:
        _fail(f"no spec file at {spec_file}")
        return
    except ValueError as e:
        _fail(f"{spec_file} is not a valid cohort spec: {e}")
        return
    try:
        con = open_mart(mart)
    except MartError as e:
        _fail(str(e))
        return
    try:
        res = run_spec(spec, con, include_person_ids=person_ids)
    except QueryTimeout as e:
        _fail(str(e))
        return
    finally:
        con.close()
    _print_result(res, as_json, person_ids)
    raise typer.Exit(_exit_code(res))


@app.command("sql")
def sql_cmd(
    query: Annotated[str, typer.Argument(help="One read-only SELECT over the catalogued OMOP tables.")],
    mart: MartOpt = DEFAULT_MART,
    as_json: JsonOpt = False,
) -> None:
    """Run a guarded SELECT; exits 1 with the broken rule when the guard rejects it."""
    try:
        validated = validate(query)
    except GuardError as e:
        if as_json:
            sys.stdout.write(json.dumps({"status": "rejected", "rule": e.rule, "message": e.message, "where": e.where}) + "\n")
        else:
            err.print(f"[bold red]rejected[/] ({e.rule}): {e.message}")
        raise typer.Exit(1) from None
    try:
        con = open_mart(mart)
        result = run_query(con, validated)
    except (MartError, QueryTimeout) as e:
        _fail(str(e))
        return
    if as_json:
        sys.stdout.write(json.dumps({"status": "ok", "columns": result.columns, "rows": result.rows}, default=str) + "\n")
        return
    t = Table()
    for c in result.columns:
        t.add_column(c)
    for r in result.rows[:200]:
        t.add_row(*map(str, r))
    console.print(t)
    console.print(f"{len(result.rows)} rows")


@app.command("schema")
def schema_cmd(
    what: Annotated[str, typer.Argument(help="'spec' (cohort spec JSON Schema) or 'catalog' (tables).")] = "spec",
) -> None:
    """Print the cohort spec JSON Schema or the table catalog (meaning, type, privacy class)."""
    if what == "spec":
        sys.stdout.write(dump_json_schema() + "\n")
    elif what == "catalog":
        sys.stdout.write(json.dumps(catalog_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        _fail(f"unknown schema {what!r}: use 'spec' or 'catalog'")


if __name__ == "__main__":
    app()
