"""The one core that the CLI and the REST API share: sentence → spec → concepts → SQL → cohort.

Each stage is called in flow order (nlq → schema_catalog → sql_guard); this module only wires them
and turns every expected failure into a result with a status and a message, never a traceback. The
parser is taken from the registry (:mod:`cohort_engine.parsers`), and a parse that stops short
becomes an answer in one place (:func:`answer_from_parse`), so every door answers alike.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, Field

from cohort_engine.dicom_index.select import has_imaging_index, imaging_summary_sql
from cohort_engine.nlq.readback import readback
from cohort_engine.nlq.result import Clarification, ParseResult
from cohort_engine.parsers import ParserName, ParserUnavailable, parser_for
from cohort_engine.schema_catalog.mart import MartCapabilityError, check_spec_fits, profile_mart
from cohort_engine.schema_catalog.resolve import (
    ConceptMatch,
    SpecResolution,
    TermResolution,
    Vocabulary,
    resolve_spec,
)
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.compiler import CompiledCohort, CompileError, compile_cohort
from cohort_engine.sql_guard.guard import GuardError, validate
from cohort_engine.sql_guard.runner import open_mart, run_query

Status = Literal["ok", "clarify", "refused", "error"]


class AttritionRow(BaseModel):
    step: str
    description: str
    persons: int


class SampleRow(BaseModel):
    """A display row with no identifying value: pseudonym, index month, days to each matched event."""

    pseudonym: str
    index_month: str
    days_to_events: dict[str, int | None]


class ImagingRow(BaseModel):
    """The cohort's requested images for one modality (counts only)."""

    modality: str | None
    persons: int
    studies: int
    series: int
    instances: int


class AskResult(BaseModel):
    status: Status
    message: str = ""
    language: Literal["en", "ko"] = "en"
    spec: CohortSpec | None = None
    readback: str | None = None
    notes: list[str] = Field(default_factory=list)
    clarifications: list[Clarification] = Field(default_factory=list)
    resolutions: dict[str, list[TermResolution]] = Field(default_factory=dict)
    sql: str | None = None
    attrition: list[AttritionRow] = Field(default_factory=list)
    count: int | None = None
    person_ids: list[int] | None = None
    sample: list[SampleRow] = Field(default_factory=list)
    imaging: list[ImagingRow] | None = Field(
        default=None,
        description="Per modality, the indexed images the spec's imaging request selects; "
        "None when the mart has no DICOM index.",
    )

    def public_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=False)


def concept_labels(resolution: SpecResolution, lang: str = "en") -> dict[str, list[str]]:
    labels: dict[str, list[str]] = {}
    for rs in resolution.by_key.values():
        for r in rs:
            labels[r.term] = [m.label(lang) for m in r.matches[:6]] + (
                [f"+{len(r.matches) - 6} more" if lang == "en" else f"외 {len(r.matches) - 6}개"]
                if len(r.matches) > 6
                else []
            )
    return labels


def _clarify_terms(problems: list[TermResolution], lang: str) -> tuple[str, list[Clarification]]:
    clar = []
    for p in problems:
        if p.status == "ambiguous":
            q = (
                f"Which concept did you mean by “{p.term}”?"
                if lang == "en"
                else f"“{p.term}”은(는) 어떤 개념인가요?"
            )
            clar.append(Clarification(question=q, span=p.term, choices=[c.label(lang) for c in p.candidates]))
        else:
            q = p.note or f"“{p.term}” was not found."
            clar.append(Clarification(question=q, span=p.term))
    msg = (
        "Some clinical terms did not resolve to concepts in this mart."
        if lang == "en"
        else "일부 임상 용어를 이 데이터마트의 개념으로 찾지 못했습니다."
    )
    return msg, clar


def resolve_codesets(
    spec: CohortSpec,
    vocab: Vocabulary,
    resolution: SpecResolution,
    codesets: Mapping[str, Sequence[int]] | None,
) -> None:
    """Add the concepts of every saved code set the spec names (``ConceptSet.codeset``) to ``resolution``.

    The code set store lives with the caller (the REST API keeps it in its state file); the pipeline
    only receives ``{name: concept ids}``. A name missing from ``codesets`` (or whose concepts are all
    absent from this mart) becomes an unresolved term, so it surfaces as a clarification.
    """
    codesets = codesets or {}
    for key, f in [("index", spec.index), *((c.label, c) for c in spec.criteria)]:
        name = f.concepts.codeset
        if not name:
            continue
        term = f"code set “{name}”"
        if name not in codesets:
            tr = TermResolution(
                term=term,
                domain=f.domain,
                status="unresolved",
                note=f"There is no saved code set named “{name}”.",
            )
        else:
            matches: list[ConceptMatch] = []
            for cid in dict.fromkeys(int(c) for c in codesets[name]):
                try:
                    matches.append(vocab.concept(cid, "explicit"))
                except KeyError:
                    continue
            tr = TermResolution(
                term=term,
                domain=f.domain,
                status="resolved" if matches else "unresolved",
                matches=matches,
                note="saved code set"
                if matches
                else f"None of the concepts of code set “{name}” is in this mart.",
            )
        resolution.by_key.setdefault(key, []).append(tr)


def answer_from_parse(parsed: ParseResult) -> AskResult:
    """The answer to a question the parser did not turn into a spec: its refusal or its questions back.

    Every door (CLI, REST API, evals) shows a parse that stopped short the same way, with the
    parser's message, notes and clarifications and nothing run. A parse that says ``ok`` without a
    spec is a parser bug and becomes an ``error``, never an empty cohort.
    """
    if parsed.status == "ok":
        return AskResult(
            status="error",
            message="the parser said ok but returned no spec",
            language=parsed.language,
            notes=parsed.notes,
        )
    return AskResult(
        status=parsed.status,
        message=parsed.message,
        language=parsed.language,
        clarifications=parsed.clarifications,
        notes=parsed.notes,
    )


@dataclass(frozen=True)
class RunOutcome:
    """An answer and, when it is ``ok``, the compiled cohort it ran: for callers that go on to use
    the cohort's rows (export) without resolving the spec's terms a second time."""

    answer: AskResult
    compiled: CompiledCohort | None


def run_spec(
    spec: CohortSpec,
    con: duckdb.DuckDBPyConnection,
    *,
    parsed: ParseResult | None = None,
    include_person_ids: bool = False,
    sample_size: int = 5,
    overrides: dict[str, list[int]] | None = None,
    timeout_s: float = 30.0,
    codesets: Mapping[str, Sequence[int]] | None = None,
) -> AskResult:
    """Resolve, compile, guard and run ``spec`` on ``con``: the answer (see :func:`run_spec_compiled`)."""
    return run_spec_compiled(
        spec,
        con,
        parsed=parsed,
        include_person_ids=include_person_ids,
        sample_size=sample_size,
        overrides=overrides,
        timeout_s=timeout_s,
        codesets=codesets,
    ).answer


def run_spec_compiled(
    spec: CohortSpec,
    con: duckdb.DuckDBPyConnection,
    *,
    parsed: ParseResult | None = None,
    include_person_ids: bool = False,
    sample_size: int = 5,
    overrides: dict[str, list[int]] | None = None,
    timeout_s: float = 30.0,
    codesets: Mapping[str, Sequence[int]] | None = None,
) -> RunOutcome:
    """Resolve, compile, guard and run ``spec``: the answer, and the compiled cohort when it is ``ok``.

    Every expected failure (the mart lacks a table, a term does not resolve, the compiler or the guard
    rejects the spec) is an answer with a status and a message; only query timeouts and mart errors raise.
    """
    lang = spec.language
    base = AskResult(
        status="ok",
        language=lang,
        spec=spec,
        notes=list(parsed.notes) if parsed else [],
    )
    try:
        check_spec_fits(spec, profile_mart(con))
    except MartCapabilityError as e:
        return RunOutcome(
            base.model_copy(update={"status": "error", "message": str(e), "readback": readback(spec, lang)}),
            None,
        )
    vocab = Vocabulary.of(con)
    resolution = resolve_spec(vocab, spec, overrides)
    resolve_codesets(spec, vocab, resolution, codesets)
    base.resolutions = resolution.by_key
    base.readback = readback(spec, lang, concept_labels(resolution, lang))
    base.notes += [
        r.note for rs in resolution.by_key.values() for r in rs if r.note and r.status == "resolved"
    ]
    problems = resolution.problems()
    if problems:
        msg, clar = _clarify_terms(problems, lang)
        return RunOutcome(
            base.model_copy(update={"status": "clarify", "message": msg, "clarifications": clar}), None
        )
    try:
        compiled = compile_cohort(spec, resolution.concept_ids())
        cohort_q = validate(compiled.cohort_sql, max_rows=10_000_000)
        attrition_q = validate(compiled.attrition_sql, aggregates_only=True)
    except (CompileError, GuardError) as e:
        return RunOutcome(base.model_copy(update={"status": "error", "message": str(e)}), None)
    base.sql = compiled.cohort_sql
    counts = run_query(con, attrition_q, timeout_s=timeout_s).rows[0]
    base.attrition = [
        AttritionRow(step=s.name, description=s.description, persons=int(n))
        for s, n in zip(compiled.steps, counts, strict=True)
    ]
    base.count = base.attrition[-1].persons
    if include_person_ids or sample_size:
        rows = run_query(con, cohort_q, timeout_s=timeout_s).rows
        if include_person_ids:
            base.person_ids = [int(r[0]) for r in rows]
        base.sample = _sample(rows, compiled, sample_size)
    if has_imaging_index(con):
        summary = run_query(con, imaging_summary_sql(compiled, spec.imaging), timeout_s=timeout_s).rows
        base.imaging = [
            ImagingRow(modality=m, persons=p, studies=st, series=se, instances=i)
            for m, p, st, se, i in summary
        ]
    base.message = (
        f"{base.count} patients match." if lang == "en" else f"조건에 맞는 환자는 {base.count}명입니다."
    )
    return RunOutcome(base, compiled)


def compile_spec(
    spec: CohortSpec,
    con: duckdb.DuckDBPyConnection,
    *,
    overrides: dict[str, list[int]] | None = None,
    codesets: Mapping[str, Sequence[int]] | None = None,
) -> CompiledCohort:
    """Resolve and compile a spec that :func:`run_spec` accepted (same resolution path, no run).

    Raises CompileError when a term no longer resolves. Used by callers that need the cohort's rows
    themselves (manifests, aggregate charts) rather than its counts.
    """
    check_spec_fits(spec, profile_mart(con))
    vocab = Vocabulary.of(con)
    resolution = resolve_spec(vocab, spec, overrides)
    resolve_codesets(spec, vocab, resolution, codesets)
    if resolution.problems():
        raise CompileError("some terms of this cohort no longer resolve to concepts in this mart")
    return compile_cohort(spec, resolution.concept_ids())


def _sample(rows: list[tuple], compiled: CompiledCohort, n: int) -> list[SampleRow]:
    """Pseudonyms keyed by a per-call random secret: stable within one answer, unlinkable across answers."""
    key = secrets.token_bytes(32)
    labels = list(compiled.event_columns)
    out = []
    for r in rows[:n]:
        pid, index_date, *events = r
        digest = hmac.new(key, str(pid).encode(), hashlib.sha256).hexdigest()[:10]
        days = {
            label: ((ev - index_date).days if isinstance(ev, date) and isinstance(index_date, date) else None)
            for label, ev in zip(labels, events, strict=False)
        }
        out.append(SampleRow(pseudonym=f"P-{digest}", index_month=f"{index_date:%Y-%m}", days_to_events=days))
    return out


def ask(
    question: str,
    mart: Path,
    *,
    include_person_ids: bool = False,
    sample_size: int = 5,
    today: date | None = None,
    parser: ParserName = "rule",
) -> AskResult:
    """Parse ``question`` with ``parser`` and run the spec on ``mart``.

    ``parser``: ``rule`` (the offline parser), ``llm`` (the chat model named by ``COHORT_LLM_MODEL``;
    the rule parser's refusal guard runs first) or ``hybrid`` (rule parser, the LLM only for what it
    asks back about). An LLM parser without a configured model is an ``error`` result whose message
    says what to set. Every parser's spec takes the same path: resolution, compilation, the SQL guard.
    The mart is opened only once the question has become a spec.
    """
    try:
        parsed = parser_for(parser)(question, today=today)
    except ParserUnavailable as e:
        return AskResult(status="error", message=str(e))
    if parsed.status != "ok" or parsed.spec is None:
        return answer_from_parse(parsed)
    con = open_mart(mart)
    try:
        return run_spec(
            parsed.spec, con, parsed=parsed, include_person_ids=include_person_ids, sample_size=sample_size
        )
    finally:
        con.close()
