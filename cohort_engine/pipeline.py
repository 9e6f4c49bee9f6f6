"""The one core that the CLI and the REST API share: sentence → spec → concepts → SQL → cohort.

Each stage is called in flow order (nlq → schema_catalog → sql_guard); this module only wires them
and turns every expected failure into a result with a status and a message, never a traceback. The
parser is taken from the registry (:mod:`cohort_engine.parsers`), and a parse that stops short
becomes an answer in one place (:func:`answer_from_parse`), so every door answers alike.

Cost of an ask (why it is shaped this way):

* **Evaluate once.** The cohort's CTE chain runs once per ask, into a temporary table on the ask's own
  cursor (``sql_guard.runner.EvalSession``; ``CompiledCohort.eval_sql``: one row per person with an
  index event, how far down the funnel they got, their index date and first matched events). The
  attrition, the person list, the sample and the imaging summary are read back from that table.
* **Imaging only when wanted**: the summary runs when the spec asks for images, or when the caller
  shows it (``imaging=True``, the default of the CLI and the REST API) and the mart has a DICOM index.
* **Fixed sqlglot cost once per spec**: compilation and the guard's validation of every statement are
  cached (:func:`prepare`, an LRU keyed by the spec's canonical JSON, its resolved concepts and the
  mart's identity), so a repeated question skips both.
* **Timings**: every answer that ran carries ``timings`` (ms per stage); :func:`timing_scope` lets an
  outer caller (the REST route) collect them without changing the answer's path.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, Field

from cohort_engine.dicom_index.select import has_imaging_index, imaging_summary_sql
from cohort_engine.nlq.readback import readback
from cohort_engine.nlq.result import Clarification, ParseResult
from cohort_engine.parsers import ParserName, ParserUnavailable, parser_for
from cohort_engine.schema_catalog.imaging_procedures import (
    MODALITIES_SQL,
    absent_modalities,
    imaging_as_procedures,
)
from cohort_engine.schema_catalog.mart import MartCapabilityError, MartProfile, check_spec_fits, profile_mart
from cohort_engine.schema_catalog.resolve import (
    ConceptMatch,
    SpecResolution,
    TermResolution,
    Vocabulary,
    resolve_spec,
)
from cohort_engine.schema_catalog.units import reconcile_spec
from cohort_engine.spec import CohortSpec, Domain, ImagingRequest
from cohort_engine.sql_guard.compiler import (
    EVAL_TABLE,
    CompiledCohort,
    CompileError,
    codeset_sql,
    compile_cohort,
    eval_table,
    inlined_codeset_keys,
)
from cohort_engine.sql_guard.guard import HARD_MAX_ROWS, GuardError, ValidatedSQL, validate
from cohort_engine.sql_guard.runner import EvalSession, open_mart

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


class Timings(BaseModel):
    """Milliseconds per stage of one answer (0 for a stage that did not run)."""

    parse: float = Field(default=0.0, description="Sentence → spec (0 when a spec was given).")
    resolve: float = Field(default=0.0, description="Mart check and terms → concepts.")
    compile: float = Field(default=0.0, description="Spec → SQL (0 when cached).")
    guard: float = Field(default=0.0, description="Validation of every statement (0 when cached).")
    sql: float = Field(default=0.0, description="The cohort evaluated once; counts and persons read back.")
    imaging: float = Field(default=0.0, description="The imaging summary (0 when not wanted).")
    total: float = Field(default=0.0, description="All of it, end to end.")

    def server_timing(self) -> str:
        """The ``Server-Timing`` HTTP header value (W3C), one metric per stage."""
        return ", ".join(f"{name};dur={value:.1f}" for name, value in self.model_dump().items())


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
    timings: Timings | None = Field(
        default=None, description="Milliseconds per stage; None when not measured."
    )

    def __eq__(self, other: object) -> bool:
        """Answers are equal when they say the same; ``timings`` describe the run, not the answer."""
        if not isinstance(other, AskResult):
            return NotImplemented
        return self.model_dump(exclude={"timings"}) == other.model_dump(exclude={"timings"})

    __hash__ = None  # type: ignore[assignment]  # mutable, as every non-frozen pydantic model

    def public_dict(self) -> dict[str, Any]:
        """The answer as stored and sent (timings left out: they describe this run, not the cohort)."""
        return self.model_dump(mode="json", exclude_none=False, exclude={"timings"})


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
    the cohort's rows (export) without resolving the spec's terms a second time. ``extra`` is what
    the caller's ``on_session`` returned (None without one, or when the cohort did not run)."""

    answer: AskResult
    compiled: CompiledCohort | None
    extra: Any = None


# -- prepared cohorts: compiled and validated once per spec ------------------------------------------

#: Most prepared cohorts kept; the least recently used is dropped first.
PREPARED_CACHE_SIZE = 256


@dataclass
class PreparedCohort:
    """A compiled cohort with its guarded statements, built once per (spec, concepts, mart).

    Why: sqlglot's parse of a long CTE chain and the guard's analysis of it cost more than running it
    on a warm mart, and neither depends on anything but the spec, its resolved concepts and the mart.
    Statements are validated on first use and kept; the same spec gets the very same objects back.
    """

    key: str
    compiled: CompiledCohort
    imaging_request: ImagingRequest | None
    _statements: dict[tuple[str, int], ValidatedSQL] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def statement(
        self, name: Literal["eval", "attrition", "persons", "sample", "imaging"], n: int = 0
    ) -> ValidatedSQL:
        """One guarded statement of the ask (``n``: rows of the sample). Raises GuardError or
        CompileError (the imaging window names no criterion with events)."""
        with self._lock:
            got = self._statements.get((name, n))
            if got is None:
                got = self._statements[(name, n)] = self._validate(name, n)
            return got

    def _validate(self, name: str, n: int) -> ValidatedSQL:
        c = self.compiled
        tables = {EVAL_TABLE: eval_table(c)}
        if name == "eval":
            return validate(c.eval_sql, max_rows=HARD_MAX_ROWS)
        if name == "attrition":
            return validate(c.eval_attrition_sql, aggregates_only=True, extra_tables=tables)
        if name == "persons":
            return validate(
                f"SELECT c.person_id FROM ({c.eval_cohort_sql}) AS c ORDER BY c.person_id",
                max_rows=HARD_MAX_ROWS,
                extra_tables=tables,
            )
        if name == "sample":
            return validate(
                f"{c.eval_cohort_sql} ORDER BY person_id", max_rows=max(1, n), extra_tables=tables
            )
        if name == "imaging":
            return imaging_summary_sql(c, self.imaging_request, from_eval=True)
        raise ValueError(f"unknown statement {name!r}")


_PREPARED: OrderedDict[str, PreparedCohort] = OrderedDict()
_PREPARED_LOCK = threading.Lock()


def listed_concepts(
    spec: CohortSpec, resolved: Mapping[str, Sequence[int]], fetch: Callable[[str, list], list[tuple]]
) -> dict[str, list[int]]:
    """Every concept of each concept set the compiler may write as literals (``inlined_codeset_keys``),
    as the mart lists it (descendants, names and exclusions applied by the set's own ``codeset_sql``);
    the other sets are not read."""
    filters = {"index": spec.index, **{c.label: c for c in spec.criteria}}
    out: dict[str, list[int]] = {}
    for key in inlined_codeset_keys(spec):
        f = filters[key]
        sql = codeset_sql(f.concepts, f.domain, resolved.get(key, ()))
        if sql is not None:
            out[key] = sorted({int(r[0]) for r in fetch(sql, []) if r[0] is not None})
    return out


def prepare(
    spec: CohortSpec,
    resolved: Mapping[str, Sequence[int]],
    mart: str = "",
    fetch: Callable[[str, list], list[tuple]] | None = None,
) -> tuple[PreparedCohort, bool]:
    """The prepared cohort of ``spec`` with ``resolved`` concepts on the mart ``mart`` (its identity), and
    whether it came from the cache. ``fetch`` reads the mart: given, small concept sets are listed
    from it once, on a miss, and written as literals (the identity stands for the vocabulary they came
    from). Raises CompileError or GuardError (never cached)."""
    canonical = json.dumps(
        {
            "spec": spec.model_dump(mode="json"),
            "resolved": {k: sorted({int(i) for i in v}) for k, v in resolved.items()},
            "mart": mart,
            "listed": fetch is not None,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    key = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    with _PREPARED_LOCK:
        hit = _PREPARED.get(key)
        if hit is not None:
            _PREPARED.move_to_end(key)
            return hit, True
    expanded = listed_concepts(spec, resolved, fetch) if fetch is not None else None
    compiled = compile_cohort(spec, resolved, expanded=expanded)
    prepared = PreparedCohort(key=key, compiled=compiled, imaging_request=spec.imaging)
    with _PREPARED_LOCK:
        prepared = _PREPARED.setdefault(key, prepared)
        _PREPARED.move_to_end(key)
        while len(_PREPARED) > PREPARED_CACHE_SIZE:
            _PREPARED.popitem(last=False)
    return prepared, False


def clear_caches() -> None:
    """Forget every prepared cohort and what is known of open marts (benchmarks of a cold start)."""
    with _PREPARED_LOCK:
        _PREPARED.clear()
    _MARTS.clear()


@dataclass(frozen=True)
class _MartInfo:
    identity: str
    profile: MartProfile
    has_imaging: bool
    #: the DICOM modalities of the image index, read on the first imaging rule (the info is frozen; the
    #: cache is its one mutable part)
    _modalities: dict[str, set[str]] = field(default_factory=dict)

    def image_modalities(self, con: duckdb.DuckDBPyConnection) -> set[str]:
        if "all" not in self._modalities:
            self._modalities["all"] = {str(r[0]) for r in Vocabulary.of(con).fetch(MODALITIES_SQL, [])}
        return self._modalities["all"]


#: What an ask needs to know of a read-only connection's mart, per connection: its catalog cannot
#: change under a read-only connection, so it is read once (a writable one is read every time).
_MARTS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, _MartInfo] = weakref.WeakKeyDictionary()


def _no_such_images(base: AskResult, spec: CohortSpec, absent: list[str], present: list[str]) -> AskResult:
    """The clarify answer of a rule on images the mart does not hold (``absent_modalities``)."""
    lang = spec.language
    held = ", ".join(present) or ("none" if lang == "en" else "없음")
    if lang == "ko":
        msg = f"이 데이터마트의 영상 색인에는 {'/'.join(absent)} 영상이 없습니다(있는 모달리티: {held})."
        ask = "다른 영상 검사로 바꾸거나, 그 조건을 빼고 다시 물어봐 주세요."
    else:
        msg = f"This mart's image index holds no {'/'.join(absent)} images (it holds: {held})."
        ask = "Ask about another kind of imaging, or drop that rule."
    return base.model_copy(
        update={
            "status": "clarify",
            "message": msg,
            "clarifications": [Clarification(question=ask)],
            "readback": readback(spec, lang),
        }
    )


def _mart_info(con: duckdb.DuckDBPyConnection) -> _MartInfo:
    known = _MARTS.get(con)
    if known is not None:
        return known
    row = con.execute(
        "SELECT d.path, current_setting('access_mode') FROM duckdb_databases() AS d "
        "WHERE d.database_name = current_database()"
    ).fetchone()
    path, mode = (str(row[0] or ""), str(row[1]).lower()) if row else ("", "")
    try:
        st = os.stat(path) if path else None
    except OSError:
        st = None
    identity = f"{path}|{st.st_size}|{st.st_mtime_ns}" if st else path or ":memory:"
    info = _MartInfo(identity=identity, profile=profile_mart(con), has_imaging=has_imaging_index(con))
    if mode == "read_only":
        _MARTS[con] = info
    return info


# -- timings -----------------------------------------------------------------------------------------


@dataclass
class TimingRecord:
    """One run's timings, and when it started (``time.perf_counter``), for :func:`timing_scope`."""

    started: float
    timings: Timings


_TIMING_SINK: contextvars.ContextVar[list[TimingRecord] | None] = contextvars.ContextVar(
    "cohort_timing_sink", default=None
)


@contextmanager
def timing_scope() -> Iterator[list[TimingRecord]]:
    """Collect the timings of every run inside the ``with`` block (of this thread / task).

    Why a scope rather than a return value: the REST route measures around a service that returns its
    own view of the answer; the scope hands it the pipeline's stage times without another path."""
    sink: list[TimingRecord] = []
    token = _TIMING_SINK.set(sink)
    try:
        yield sink
    finally:
        _TIMING_SINK.reset(token)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


# -- running a spec ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CohortRead:
    """The evaluated cohort of one ask, for a caller's ``on_session``: further reads of the same
    evaluation (e.g. the REST API's person-set digests per count) without running the chain again."""

    session: EvalSession
    prepared: PreparedCohort
    imaging: bool

    @property
    def compiled(self) -> CompiledCohort:
        return self.prepared.compiled

    @property
    def attrition_sql(self) -> str:
        """The attrition (``step_0`` …, ``COUNT(DISTINCT … person_id …)``) over :data:`EVAL_TABLE`."""
        return self.prepared.statement("attrition").sql

    def imaging_summary(self) -> ValidatedSQL:
        """The imaging summary per modality over :data:`EVAL_TABLE` (the answer's ``imaging``)."""
        return self.prepared.statement("imaging")

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of engine-built SQL over this session (see ``EvalSession.fetch_internal``)."""
        return self.session.fetch_internal(sql)


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
    imaging: bool = True,
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
        imaging=imaging,
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
    imaging: bool = True,
    on_session: Callable[[CohortRead], Any] | None = None,
) -> RunOutcome:
    """Resolve, compile, guard and run ``spec``: the answer, and the compiled cohort when it is ``ok``.

    Every expected failure (the mart lacks a table, a term does not resolve, the compiler or the guard
    rejects the spec) is an answer with a status and a message; only query timeouts and mart errors raise.

    ``imaging``: whether the caller shows the imaging summary. It runs when the mart has a DICOM index
    and the spec asks for images or ``imaging`` is True (the answer's ``imaging`` is None otherwise).
    ``on_session``: called with the evaluated cohort (:class:`CohortRead`) before its session closes;
    its return value is ``RunOutcome.extra``.
    """
    started = time.perf_counter()
    timings = Timings()
    sink = _TIMING_SINK.get()
    if sink is not None:
        sink.append(TimingRecord(started=started, timings=timings))
    lang = spec.language
    base = AskResult(
        status="ok",
        language=lang,
        spec=spec,
        notes=list(parsed.notes) if parsed else [],
        timings=timings,
    )

    def done(answer: AskResult, compiled: CompiledCohort | None, extra: Any = None) -> RunOutcome:
        timings.total = _ms(started)
        return RunOutcome(answer, compiled, extra)

    t = time.perf_counter()
    mart = _mart_info(con)
    if mart.profile.domain_problem(Domain.imaging) is not None:
        spec, imaging_notes = imaging_as_procedures(spec, Vocabulary.of(con).fetch)
        base.spec = spec
        base.notes += imaging_notes
    try:
        check_spec_fits(spec, mart.profile)
    except MartCapabilityError as e:
        timings.resolve = _ms(t)
        update: dict[str, Any] = {"status": "error", "message": str(e), "readback": readback(spec, lang)}
        if e.absent:  # a question about data this mart does not hold: ask for another
            ask = (
                "Ask about what this mart holds, or drop that rule."
                if lang == "en"
                else ("이 데이터마트에 있는 자료로 바꾸거나, 그 조건을 빼고 다시 물어봐 주세요.")
            )
            update |= {"status": "clarify", "clarifications": [Clarification(question=ask)]}
        return done(base.model_copy(update=update), None)
    if any(f.domain is Domain.imaging for f in (spec.index, *spec.criteria)):
        absent = absent_modalities(spec, mart.image_modalities(con))
        if absent:
            timings.resolve = _ms(t)
            return done(_no_such_images(base, spec, absent, sorted(mart.image_modalities(con))), None)
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
        timings.resolve = _ms(t)
        msg, clar = _clarify_terms(problems, lang)
        return done(
            base.model_copy(update={"status": "clarify", "message": msg, "clarifications": clar}), None
        )
    units = reconcile_spec(spec, resolution, vocab.fetch)
    timings.resolve = _ms(t)
    if units.questions:
        msg = (
            "A lab threshold does not fit the values this mart records."
            if lang == "en"
            else "검사 수치 기준이 이 데이터마트에 기록된 값과 맞지 않습니다."
        )
        clar = [Clarification(question=q) for q in units.questions]
        return done(
            base.model_copy(update={"status": "clarify", "message": msg, "clarifications": clar}), None
        )
    if units.notes:
        spec = units.spec
        base.spec = spec
        base.readback = readback(spec, lang, concept_labels(resolution, lang))
        base.notes += units.notes
    try:
        t = time.perf_counter()
        prepared, cached = prepare(spec, resolution.concept_ids(), mart.identity, vocab.fetch)
        compiled = prepared.compiled
        base.sql = compiled.cohort_sql  # rendered once per prepared cohort
        timings.compile = 0.0 if cached else _ms(t)
        t = time.perf_counter()
        eval_q = prepared.statement("eval")
        attrition_q = prepared.statement("attrition")
        persons_q = prepared.statement("persons") if include_person_ids else None
        sample_q = prepared.statement("sample", sample_size) if sample_size else None
        timings.guard = 0.0 if cached else _ms(t)
    except (CompileError, GuardError) as e:
        return done(base.model_copy(update={"status": "error", "message": str(e)}), None)
    want_imaging = mart.has_imaging and (imaging or spec.imaging is not None)
    extra: Any = None
    with EvalSession(con, timeout_s=timeout_s) as session:
        t = time.perf_counter()
        session.materialise(EVAL_TABLE, eval_q)
        counts = session.query(attrition_q).rows[0]
        base.attrition = [
            AttritionRow(step=s.name, description=s.description, persons=int(n))
            for s, n in zip(compiled.steps, counts, strict=True)
        ]
        base.count = base.attrition[-1].persons
        if persons_q is not None:
            base.person_ids = [int(r[0]) for r in session.query(persons_q).rows]
        if sample_q is not None:
            base.sample = _sample(session.query(sample_q).rows, compiled, sample_size)
        timings.sql = _ms(t)
        if want_imaging:
            t = time.perf_counter()
            summary = session.query(prepared.statement("imaging")).rows
            base.imaging = [
                ImagingRow(modality=m, persons=p, studies=st, series=se, instances=i)
                for m, p, st, se, i in summary
            ]
            timings.imaging = _ms(t)
        if on_session is not None:
            extra = on_session(CohortRead(session=session, prepared=prepared, imaging=want_imaging))
    base.message = (
        f"{base.count} patients match." if lang == "en" else f"조건에 맞는 환자는 {base.count}명입니다."
    )
    return done(base, compiled, extra)


def compile_spec(
    spec: CohortSpec,
    con: duckdb.DuckDBPyConnection,
    *,
    overrides: dict[str, list[int]] | None = None,
    codesets: Mapping[str, Sequence[int]] | None = None,
) -> CompiledCohort:
    """Resolve and compile a spec that :func:`run_spec` accepted (same resolution path, no run).

    Raises CompileError when a term no longer resolves. Used by callers that need the cohort's rows
    themselves (manifests, aggregate charts) rather than its counts; the compiled cohort comes from
    the same cache as an ask's.
    """
    mart = _mart_info(con)
    check_spec_fits(spec, mart.profile)
    vocab = Vocabulary.of(con)
    resolution = resolve_spec(vocab, spec, overrides)
    resolve_codesets(spec, vocab, resolution, codesets)
    if resolution.problems():
        raise CompileError("some terms of this cohort no longer resolve to concepts in this mart")
    return prepare(spec, resolution.concept_ids(), mart.identity, vocab.fetch)[0].compiled


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
    overrides: dict[str, list[int]] | None = None,
    name_cache: bool = False,
) -> AskResult:
    """Parse ``question`` with ``parser`` and run the spec on ``mart``.

    ``overrides`` pins mentions to concept ids (the concept picks of a clarification). ``name_cache``:
    a one-shot process (``cohort ask``) reads the resolver's concept-name index from the per-mart file
    cache (``schema_catalog.name_keys_cache``) instead of building it (0.2–0.35 s on the demo mart), and
    leaves one there when it had to build it; a server builds it once per pooled connection instead.

    ``parser``: ``rule`` (the offline parser), ``llm`` (the chat model named by ``COHORT_LLM_MODEL``;
    the rule parser's refusal guard runs first) or ``hybrid`` (rule parser, the LLM only for what it
    asks back about). An LLM parser without a configured model is an ``error`` result whose message
    says what to set. Every parser's spec takes the same path: resolution, compilation, the SQL guard.
    The mart is opened only once the question has become a spec. The answer's ``timings`` include the
    parse (and ``total`` the opening of the mart).
    """
    started = time.perf_counter()
    try:
        parsed = parser_for(parser)(question, today=today)
    except ParserUnavailable as e:
        return AskResult(status="error", message=str(e))
    parse_ms = _ms(started)
    if parsed.status != "ok" or parsed.spec is None:
        res = answer_from_parse(parsed)
        res.timings = Timings(parse=parse_ms, total=parse_ms)
        return res
    con = open_mart(mart)
    try:
        if name_cache:
            from cohort_engine.schema_catalog import name_keys_cache

            cached = name_keys_cache.load(con, mart)
        res = run_spec(
            parsed.spec,
            con,
            parsed=parsed,
            include_person_ids=include_person_ids,
            sample_size=sample_size,
            overrides=overrides,
        )
        total_ms = _ms(started)
        if name_cache and not cached:
            name_keys_cache.save(con, mart)
    finally:
        con.close()
    res.timings = (res.timings or Timings()).model_copy(update={"parse": parse_ms, "total": total_ms})
    return res
