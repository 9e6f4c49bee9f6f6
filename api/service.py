"""What the REST API does, independent of HTTP: runs over a pool of read-only mart cursors, code sets,
stored cohorts, role-dependent views with small-cell suppression, aggregate charts, guarded SQL and
manifests. Routers only translate HTTP to these calls.

Manifests are the release stage's (``deid.manifest``): :class:`deid.manifest.ImagingManifestSource`
reads the cohort's imaging from the DICOM index (``dicom_index.select``) and renders release rows
(keyed pseudonyms and UIDs, shifted dates, scrubbed descriptions, counts, qualifying criteria); this
module only decides who may have them and hands the source a :class:`ManifestRequest`.  Each cohort
is its own release (``project_key = "cohort-<id>"``, keyed with the server secret), so pseudonyms of
two cohorts cannot be joined.

Concurrency: a DuckDB connection must not be used by two threads at once, so each request takes its
own cursor (``root.cursor()``: a separate connection to the same read-only database, with the same
hardened, locked settings) from :class:`MartPool`, which also bounds how many queries run at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from cohort_engine.api.auth import Principal
from cohort_engine.api.errors import ApiError
from cohort_engine.api.schemas import (
    AttritionOut,
    ChoiceOut,
    ClarificationOut,
    CodesetIn,
    CodesetOut,
    CodesetUpdate,
    CohortResult,
    CohortSummary,
    ImagingRowOut,
    LabelCell,
    PyramidCell,
    ReleaseOut,
    SqlRequest,
    SqlResult,
    StatsOut,
)
from cohort_engine.api.state import CodesetRecord, CohortRecord, StateStore
from cohort_engine.api.suppression import (
    DEFAULT_K,
    Cell,
    exact,
    suppress_attrition,
    suppress_partition,
    suppress_rows,
)
from cohort_engine.deid.manifest import ImagingManifestSource, ManifestLevel, has_table
from cohort_engine.deid.policy import ReleasePolicy
from cohort_engine.dicom_index.select import has_imaging_index, imaging_summary_sql
from cohort_engine.nlq.parser import parse
from cohort_engine.nlq.result import ParseResult
from cohort_engine.pipeline import AskResult, ParserName, compile_spec, run_spec
from cohort_engine.spec import CohortSpec, ImagingRequest
from cohort_engine.sql_guard.compiler import CompiledCohort, CompileError, lit
from cohort_engine.sql_guard.errors import GuardError, MartError, QueryError, QueryTimeout
from cohort_engine.sql_guard.guard import validate
from cohort_engine.sql_guard.runner import execute_internal, open_mart, run_query

INT32_MAX = 2**31 - 1

log = logging.getLogger("cohort.api")


@dataclass
class Settings:
    mart: Path
    state_db: Path
    k: int = DEFAULT_K
    query_timeout_s: float = 30.0
    max_concurrent_queries: int = 8
    manifest_page_max: int = 10_000
    export_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class MartPool:
    """Read-only cursors on one hardened mart connection, at most ``size`` in use at once.

    Cursors are kept and handed out again (one thread at a time each), so what is remembered per
    connection — the vocabulary's answers (``schema_catalog.resolve.Vocabulary.of``) — survives
    from one request to the next.
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path = Path(path)
        self.root = open_mart(self.path)
        self._sem = threading.BoundedSemaphore(max(1, size))
        self._lock = threading.Lock()
        self._idle: list[duckdb.DuckDBPyConnection] = []

    @contextmanager
    def connection(self, wait_s: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self._sem.acquire(timeout=wait_s):
            raise ApiError(
                503,
                "busy",
                "The mart is busy with other queries; try again in a moment.",
                headers={"Retry-After": "5"},
            )
        try:
            with self._lock:  # cursor() on the shared root connection, one thread at a time
                cur = self._idle.pop() if self._idle else self.root.cursor()
            try:
                yield cur
            finally:
                with self._lock:
                    self._idle.append(cur)
        finally:
            self._sem.release()

    def close(self) -> None:
        with self._lock:
            for cur in self._idle:
                cur.close()
            self._idle.clear()
        self.root.close()


@dataclass(frozen=True)
class ManifestRequest:
    """What :class:`deid.manifest.ImagingManifestSource` needs for one cohort's manifest."""

    cohort_id: str
    con: duckdb.DuckDBPyConnection
    compiled: CompiledCohort
    imaging: ImagingRequest | None
    policy: ReleasePolicy
    order_salt: str = ""
    """Keyed ordering (rows come in an order that says nothing about internal person ids)."""
    timeout_s: float = 120.0


def cohort_subquery(compiled: CompiledCohort) -> str:
    return f"({compiled.cohort_sql}) AS c"


def imaging_filter_sql(compiled: CompiledCohort, imaging: ImagingRequest | None, alias: str = "io") -> str:
    """WHERE conditions (after the cohort join) for the spec's imaging request, on ``image_occurrence``.

    Only for the imaging charts of marts *without* a DICOM index (an imaging ETL filled
    ``image_occurrence`` but there are no files to index); with an index, the charts come from
    ``dicom_index.select`` like the summary, manifests and exports do."""
    conds: list[str] = []
    if imaging is None:
        return ""
    # Codes compared upper-case on both sides, as dicom_index.select does ("ct" asks for CT).
    modalities = sorted({m.strip().upper() for m in imaging.modalities if m.strip()})
    parts = sorted({b.strip().upper() for b in imaging.body_parts if b.strip()})
    if modalities:
        conds.append(f"UPPER({alias}.modality_source_value) IN ({', '.join(lit(m) for m in modalities)})")
    if parts:
        conds.append(f"UPPER({alias}.anatomic_site_source_value) IN ({', '.join(lit(b) for b in parts)})")
    w = imaging.window
    if w is not None:
        anchor = (
            "c.index_date"
            if w.anchor == "index"
            else f"c.{compiled.event_columns.get(w.anchor, 'index_date')}"
        )
        if w.start is not None:
            conds.append(
                f"CAST({alias}.image_occurrence_date AS DATE) >= {anchor} + INTERVAL ({int(w.start)}) DAY"
            )
        if w.end is not None:
            conds.append(
                f"CAST({alias}.image_occurrence_date AS DATE) <= {anchor} + INTERVAL ({int(w.end)}) DAY"
            )
    return " AND ".join(conds)


# -- parsers ----------------------------------------------------------------------------------------


def parse_question(question: str, parser: ParserName = "rule") -> ParseResult:
    """Parse with the rule parser, the LLM parser or both (``cohort_engine.pipeline.ask``'s choices).

    ``llm``/``hybrid`` on a server with no usable chat model is ``409 parser_unavailable``: the request
    is valid, the server is not set up for it (like ``no_imaging_index``), and resending it unchanged
    will not help until an operator configures a model. The message says what to set; the provider's
    own error text goes to the server log only (it can name packages, hosts or key variables).
    """
    if parser == "rule":
        return parse(question)
    from cohort_engine.nlq.llm import LLM_ENV, LLMNotConfigured, parse_hybrid
    from cohort_engine.nlq.llm import parse as llm_parse

    try:
        return (llm_parse if parser == "llm" else parse_hybrid)(question)
    except LLMNotConfigured as e:
        if os.environ.get(LLM_ENV, "").strip():
            log.warning("the %s parser is unavailable: %s", parser, e)
            why = (
                f"{LLM_ENV} is set on this server, but its chat model could not be loaded (the server log says "
                "why): the operator installs the LLM extra and the provider's package "
                "(pip install 'cohort-engine[llm]' langchain-openai) and sets the provider's API key"
            )
        else:
            why = (
                f"no chat model is configured on this server: the operator sets {LLM_ENV} to a LangChain chat "
                "model identifier (e.g. 'openai:gpt-4o-mini'), installs the LLM extra and the provider's "
                "package (pip install 'cohort-engine[llm]' langchain-openai), puts the provider's API key in "
                "its environment variable (e.g. OPENAI_API_KEY) and restarts the server"
            )
        raise ApiError(
            409,
            "parser_unavailable",
            f"The “{parser}” parser needs a chat model, and {why}. Until then, ask with "
            '"parser": "rule" (the default, offline parser).',
        ) from None


# -- input bounds -----------------------------------------------------------------------------------


def check_spec_bounds(spec: CohortSpec) -> None:
    """Reject specs whose numbers cannot be meant (and would overflow SQL types) with a 422."""
    problems: list[str] = []
    filters = [("index", spec.index), *((f"criterion {c.label!r}"[:60], c) for c in spec.criteria)]
    if len(spec.criteria) > 30:
        problems.append("at most 30 criteria")
    if spec.title and len(spec.title) > 200:
        problems.append("title longer than 200 characters")
    for where, f in filters:
        cs = f.concepts
        for name, ids in (
            ("concept_ids", cs.concept_ids),
            ("exclude_concept_ids", cs.exclude_concept_ids),
            ("visit_concept_ids", f.visit_concept_ids),
        ):
            if len(ids) > 5000:
                problems.append(f"{where}: {name} has more than 5000 ids")
            if any(not 0 <= i <= INT32_MAX for i in ids):
                problems.append(f"{where}: {name} must be between 0 and {INT32_MAX}")
        for name, texts in (("terms", cs.terms), ("name_contains", cs.name_contains)):
            if len(texts) > 50 or any(len(t) > 200 for t in texts):
                problems.append(f"{where}: {name} takes at most 50 entries of at most 200 characters")
        if cs.codeset is not None and len(cs.codeset) > 64:
            problems.append(f"{where}: codeset names are at most 64 characters")
        if f.value is not None and any(
            v is not None and abs(v) > 1e12 for v in (f.value.value, f.value.value_high)
        ):
            problems.append(f"{where}: value out of range")
        if f.imaging is not None and (
            len(f.imaging.modalities) > 50
            or len(f.imaging.body_parts) > 50
            or any(len(x) > 64 for x in [*f.imaging.modalities, *f.imaging.body_parts])
        ):
            problems.append(f"{where}: too many or too long modality/body part codes")
    for c in spec.criteria:
        if len(c.label) > 100:
            problems.append("criterion labels are at most 100 characters")
        for v in (c.window.start, c.window.end):
            if v is not None and abs(v) > 36_600:
                problems.append(
                    f"criterion {c.label[:40]!r}: windows are at most 36600 days (100 years) long"
                )
        if c.occurrence.count > 100_000:
            problems.append(f"criterion {c.label[:40]!r}: occurrence count above 100000")
    for v in (spec.demographics.age_min, spec.demographics.age_max):
        if v is not None and v > 150:
            problems.append("ages are at most 150")
    if spec.imaging is not None:
        w = spec.imaging.window
        if w is not None and any(v is not None and abs(v) > 36_600 for v in (w.start, w.end)):
            problems.append("imaging window is at most 36600 days")
        if len(spec.imaging.modalities) > 50 or len(spec.imaging.body_parts) > 50:
            problems.append("imaging request: at most 50 modalities/body parts")
        if w is not None and w.anchor != "index" and w.anchor not in {c.label for c in spec.criteria}:
            problems.append(f"imaging window anchor {w.anchor[:40]!r} is not a criterion label")
    for f in (spec.index.date_range,):
        if f is not None and any(d is not None and not 1800 <= d.year <= 2200 for d in (f.start, f.end)):
            problems.append("index dates must fall between the years 1800 and 2200")
    if problems:
        raise ApiError(
            422, "validation_error", "The spec is invalid — " + "; ".join(dict.fromkeys(problems)) + "."
        )


def check_overrides(overrides: Mapping[str, list[int]]) -> None:
    if len(overrides) > 100:
        raise ApiError(422, "validation_error", "At most 100 overrides.")
    for term, ids in overrides.items():
        if not term.strip() or len(term) > 200:
            raise ApiError(422, "validation_error", "Override mentions must be 1–200 characters.")
        if not ids or len(ids) > 5000 or any(not 0 <= i <= INT32_MAX for i in ids):
            raise ApiError(
                422,
                "validation_error",
                f"Overrides need 1–5000 concept ids between 0 and {INT32_MAX} per mention.",
            )


def known_concepts(con: duckdb.DuckDBPyConnection, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = con.execute(
        "SELECT concept_id, concept_name, vocabulary_id, concept_code FROM concept "
        "WHERE concept_id IN (SELECT unnest(?::BIGINT[]))",
        [sorted(set(ids))],
    ).fetchall()
    return {int(r[0]): f"{r[1]} ({r[2]} {r[3]})" for r in rows}


def codeset_names(spec: CohortSpec) -> list[str]:
    return [f.concepts.codeset for f in [spec.index, *spec.criteria] if f.concepts.codeset]


def _mart_errors(fn):  # decorator: mart/runner failures → API errors with human messages
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except QueryTimeout as e:
            raise ApiError(504, "query_timeout", str(e)) from None
        except QueryError as e:
            raise ApiError(400, "query_failed", f"The database could not run this query: {e}") from None
        except MartError as e:
            raise ApiError(503, "mart_unavailable", str(e)) from None
        except GuardError as e:
            raise ApiError(400, "sql_rejected", e.message, rule=str(e.rule), where=e.where or None) from None
        except CompileError as e:
            raise ApiError(409, "cannot_compile", str(e)) from None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


class CohortService:
    def __init__(self, settings: Settings, state: StateStore, pool: MartPool) -> None:
        self.settings = settings
        self.state = state
        self.pool = pool
        self.k = settings.k
        self._secret = state.server_secret()

    # -- hashing ---------------------------------------------------------------------------------

    def result_hash(self, person_ids: list[int]) -> str:
        """Keyed hash of the set of persons: equal cohorts compare equal, but it cannot be brute-forced."""
        msg = b"cohort-result/v1/" + ",".join(str(i) for i in sorted(set(person_ids))).encode()
        return "hmac-sha256:" + hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def release_policy(self, cohort_id: str) -> ReleasePolicy:
        return ReleasePolicy(project_key=self.release_name(cohort_id), secret=self._secret)

    @staticmethod
    def release_name(cohort_id: str) -> str:
        return "cohort-" + cohort_id.replace("_", "-")

    # -- ask / run -------------------------------------------------------------------------------

    @_mart_errors
    def ask(
        self, question: str, overrides: Mapping[str, list[int]], p: Principal, parser: ParserName = "rule"
    ) -> tuple[CohortResult, dict]:
        check_overrides(overrides)
        parsed = parse_question(question, parser)
        if parsed.status != "ok" or parsed.spec is None:
            res = AskResult(
                status=parsed.status,
                message=parsed.message,
                language=parsed.language,
                clarifications=parsed.clarifications,
                notes=parsed.notes,
            )
            return self._view(res.public_dict(), p), {"status": res.status}
        return self.run(parsed.spec, overrides, p, parsed=parsed)

    @_mart_errors
    def run(
        self,
        spec: CohortSpec,
        overrides: Mapping[str, list[int]],
        p: Principal,
        parsed: ParseResult | None = None,
    ) -> tuple[CohortResult, dict]:
        check_spec_bounds(spec)
        check_overrides(overrides)
        codesets = self.state.codeset_map(codeset_names(spec))
        with self.pool.connection() as con:
            if overrides:
                known = known_concepts(con, [i for ids in overrides.values() for i in ids])
                unknown = sorted({i for ids in overrides.values() for i in ids} - set(known))
                if unknown:
                    raise ApiError(
                        422,
                        "unknown_concept",
                        f"Concept id(s) {', '.join(map(str, unknown[:20]))} are not in this mart's vocabulary.",
                    )
            res = run_spec(
                spec,
                con,
                parsed=parsed,
                include_person_ids=True,
                sample_size=5 if p.privileged else 0,
                overrides=dict(overrides) or None,
                timeout_s=self.settings.query_timeout_s,
                codesets=codesets,
            )
        ids = res.person_ids or []
        rhash = self.result_hash(ids) if res.status == "ok" else None
        sample = res.sample if p.privileged else []
        stored = res.model_copy(update={"person_ids": None, "sample": []}).public_dict()
        rec = self.state.add_cohort(
            key_id=p.key_id,
            status=res.status,
            spec=spec.model_dump(mode="json"),
            overrides=dict(overrides),
            codesets=codesets,
            result=stored,
            person_count=res.count,
            result_hash=rhash,
        )
        audit = {
            "status": res.status,
            "counts": {"count": res.count, "attrition": [a.persons for a in res.attrition]},
            "result_hash": rhash,
            "target": rec.cohort_id,
        }
        return self.view(rec, p, sample=[s.model_dump() for s in sample]), audit

    # -- views -----------------------------------------------------------------------------------

    def _view(
        self, r: dict, p: Principal, *, rec: CohortRecord | None = None, sample: list | None = None
    ) -> CohortResult:
        k = self.k
        attrition = r.get("attrition") or []
        raw = [int(a["persons"]) for a in attrition]
        cells = [exact(n) for n in raw] if p.privileged else suppress_attrition(raw, k)
        count_cell: Cell | None = cells[-1] if cells else None
        status = r.get("status", "error")
        lang = r.get("language", "en")
        message = r.get("message", "")
        if status == "ok" and count_cell is not None:
            message = (
                f"{count_cell.display} patients match."
                if lang == "en"
                else f"조건에 맞는 환자는 {count_cell.display}명입니다."
            )
        ambiguous: dict[str, Any] = {}
        for rs in (r.get("resolutions") or {}).values():
            for tr in rs:
                if tr.get("status") == "ambiguous":
                    ambiguous[tr["term"]] = tr
        clarifications = []
        for c in r.get("clarifications") or []:
            tr = ambiguous.get(c.get("span") or "")
            if tr is not None:
                choices = [
                    ChoiceOut(label=label, concept_id=cand["concept_id"], term=tr["term"])
                    for label, cand in zip(c.get("choices", []), tr.get("candidates", []), strict=False)
                ]
            else:
                choices = [ChoiceOut(label=label) for label in c.get("choices", [])]
            clarifications.append(
                ClarificationOut(question=c["question"], span=c.get("span"), choices=choices)
            )
        imaging = self._imaging(r.get("imaging"), p)
        return CohortResult(
            cohort_id=rec.cohort_id if rec else None,
            status=status,
            message=message,
            language=lang,
            spec=r.get("spec"),
            readback=r.get("readback"),
            notes=r.get("notes") or [],
            clarifications=clarifications,
            resolutions=r.get("resolutions") or {},
            sql=r.get("sql"),
            attrition=[
                AttritionOut(
                    step=a["step"],
                    description=a["description"],
                    persons=cell.value,
                    display=cell.display,
                    suppressed=cell.suppressed,
                )
                for a, cell in zip(attrition, cells, strict=True)
            ],
            count=count_cell.value if count_cell else None,
            count_display=count_cell.display if count_cell else None,
            suppressed=any(c.suppressed for c in cells) or any(row.suppressed for row in imaging or []),
            k=k,
            sample=(sample or []) if p.privileged else [],
            imaging=imaging,
            release=self._release(rec) if rec else None,
            created_at=rec.created_at if rec else None,
        )

    def _imaging(self, rows: list[dict] | None, p: Principal) -> list[ImagingRowOut] | None:
        """The stored per-modality image counts as this principal sees them (``api.suppression``)."""
        if rows is None:
            return None
        raw = [(int(r["persons"]), [int(r["studies"]), int(r["series"]), int(r["instances"])]) for r in rows]
        cells = (
            [(exact(n), [exact(x) for x in others]) for n, others in raw]
            if p.privileged
            else suppress_rows(raw, self.k, partition=1)
        )
        return [
            ImagingRowOut(
                modality=r.get("modality"),
                persons=pc,
                studies=oc[0],
                series=oc[1],
                instances=oc[2],
                suppressed=pc.suppressed or any(c.suppressed for c in oc),
            )
            for r, (pc, oc) in zip(rows, cells, strict=True)
        ]

    @staticmethod
    def _release(rec: CohortRecord) -> ReleaseOut:
        return ReleaseOut(
            status=rec.release_status,
            requested_at=rec.requested_at,  # type: ignore[arg-type]
            approved_at=rec.approved_at,
        )

    def view(self, rec: CohortRecord, p: Principal, sample: list | None = None) -> CohortResult:
        return self._view(rec.result, p, rec=rec, sample=sample)

    def summary(self, rec: CohortRecord, p: Principal) -> CohortSummary:
        v = self.view(rec, p)
        return CohortSummary(
            cohort_id=rec.cohort_id,
            created_at=rec.created_at,
            status=rec.status,
            title=(rec.spec or {}).get("title"),
            count_display=v.count_display,
            release=self._release(rec),
        )

    # -- access ----------------------------------------------------------------------------------

    def cohort_for(self, cohort_id: str, p: Principal) -> CohortRecord:
        rec = self.state.get_cohort(cohort_id) if len(cohort_id) <= 64 else None
        if rec is None or (p.role == "researcher" and rec.key_id != p.key_id):
            raise ApiError(404, "not_found", "No cohort with this id (researchers see their own cohorts).")
        if p.role == "export_client" and rec.release_status != "approved":
            raise ApiError(
                403, "not_approved", "This cohort has not been approved for release by a data steward."
            )
        return rec

    def list_cohorts(self, p: Principal, release_status: str | None, limit: int) -> list[CohortSummary]:
        if p.role == "researcher":
            recs = self.state.list_cohorts(key_id=p.key_id, release_status=release_status, limit=limit)
        elif p.role == "export_client":
            recs = self.state.list_cohorts(release_status="approved", limit=limit)
        else:
            recs = self.state.list_cohorts(release_status=release_status, limit=limit)
        return [self.summary(r, p) for r in recs]

    # -- cohort rows (internal) ------------------------------------------------------------------

    def compile(self, rec: CohortRecord, con: duckdb.DuckDBPyConnection) -> CompiledCohort:
        if rec.status != "ok" or rec.spec is None:
            raise ApiError(
                409, "cohort_not_ok", "This cohort run did not succeed; fix its spec and run it again."
            )
        spec = CohortSpec.model_validate(rec.spec)
        return compile_spec(spec, con, overrides=rec.overrides or None, codesets=rec.codesets)

    def current_hash(self, con: duckdb.DuckDBPyConnection, compiled: CompiledCohort) -> str:
        cur = execute_internal(
            con, f"SELECT person_id FROM {cohort_subquery(compiled)}", timeout_s=self.settings.query_timeout_s
        )
        try:
            ids = [int(r[0]) for r in cur.fetchall()]
        finally:
            cur.close()
        return self.result_hash(ids)

    # -- release workflow ------------------------------------------------------------------------

    def request_release(self, rec: CohortRecord, p: Principal) -> CohortRecord:
        if rec.status != "ok":
            raise ApiError(409, "cohort_not_ok", "Only a cohort that ran successfully can be released.")
        if rec.release_status == "none":
            self.state.request_release(rec.cohort_id, p.key_id)
        return self.state.get_cohort(rec.cohort_id)  # type: ignore[return-value]

    @_mart_errors
    def approve(self, rec: CohortRecord, p: Principal) -> CohortRecord:
        if rec.status != "ok":
            raise ApiError(409, "cohort_not_ok", "Only a cohort that ran successfully can be approved.")
        if rec.key_id == p.key_id and p.role != "admin":
            raise ApiError(403, "forbidden", "A steward cannot approve a cohort they ran themselves.")
        with self.pool.connection() as con:
            h = self.current_hash(con, self.compile(rec, con))
        if h != rec.result_hash:
            raise ApiError(
                409,
                "cohort_changed",
                "Re-running this cohort gives different persons than the reviewed run (the mart changed); "
                "run it again and review the new run.",
            )
        self.state.approve_release(rec.cohort_id, p.key_id, h)
        return self.state.get_cohort(rec.cohort_id)  # type: ignore[return-value]

    # -- stats -----------------------------------------------------------------------------------

    @_mart_errors
    def stats(self, rec: CohortRecord, p: Principal) -> tuple[StatsOut, dict]:
        k = self.k
        t = self.settings.query_timeout_s
        with self.pool.connection() as con:
            compiled = self.compile(rec, con)
            sub = cohort_subquery(compiled)

            def fetch(sql: str) -> list[tuple]:
                cur = execute_internal(con, sql, timeout_s=t)
                try:
                    return cur.fetchall()
                finally:
                    cur.close()

            pyramid = fetch(
                "SELECT CASE p.gender_concept_id WHEN 8507 THEN 'male' WHEN 8532 THEN 'female' ELSE 'other' END AS sex, "
                "LEAST(GREATEST(CAST(FLOOR((EXTRACT(YEAR FROM c.index_date) - p.year_of_birth) / 10.0) AS INTEGER), 0), 9) "
                f"AS band, COUNT(*) AS n FROM {sub} JOIN person AS p ON p.person_id = c.person_id "
                "GROUP BY 1, 2 ORDER BY 2, 1"
            )
            months = fetch(
                f"SELECT strftime(c.index_date, '%Y-%m') AS m, COUNT(*) FROM {sub} GROUP BY 1 ORDER BY 1"
            )
            # (label, persons, series) per modality and per body part
            modalities: list[tuple] = []
            bodies: list[tuple] = []
            notes: list[str] = []
            spec = CohortSpec.model_validate(rec.spec)
            if has_imaging_index(con):
                # The selection of the imaging summary, manifests and exports (dicom_index.select).
                for by, out in (("modality", modalities), ("body_part", bodies)):
                    res = run_query(con, imaging_summary_sql(compiled, spec.imaging, by=by), timeout_s=t)
                    out += [
                        (label or "UNKNOWN", int(n), int(series)) for label, n, _st, series, _i in res.rows
                    ]
            elif has_table(con, "image_occurrence"):
                # No files indexed (an imaging ETL filled image_occurrence): its rows, filtered alike.
                cond = imaging_filter_sql(compiled, spec.imaging)
                where = f" WHERE {cond}" if cond else ""
                for col, out in (
                    ("modality_source_value", modalities),
                    ("anatomic_site_source_value", bodies),
                ):
                    out += fetch(
                        f"SELECT COALESCE(NULLIF(UPPER(io.{col}), ''), 'UNKNOWN') AS label, COUNT(DISTINCT io.person_id), "
                        f"COUNT(*) FROM image_occurrence AS io JOIN {sub} ON io.person_id = c.person_id{where} "
                        "GROUP BY 1 ORDER BY 2 DESC, 1"
                    )
            else:
                notes.append("This mart has no image_occurrence table, so there are no imaging charts.")
        total_n = sum(int(r[2]) for r in pyramid)
        if p.privileged:
            pyr_cells = [exact(int(r[2])) for r in pyramid]
            month_cells = [exact(int(r[1])) for r in months]
            mod_cells = [(exact(int(r[1])), [exact(int(r[2]))]) for r in modalities]
            body_cells = [(exact(int(r[1])), [exact(int(r[2]))]) for r in bodies]
            total = exact(total_n)
        else:
            pyr_cells = suppress_partition([int(r[2]) for r in pyramid], k)
            month_cells = suppress_partition([int(r[1]) for r in months], k)
            mod_cells = suppress_rows([(int(r[1]), [int(r[2])]) for r in modalities], k)
            body_cells = suppress_rows([(int(r[1]), [int(r[2])]) for r in bodies], k)
            view = self.view(rec, p)
            total = Cell(value=view.count, display=view.count_display or "0", suppressed=view.count is None)

        def band(b: int) -> str:
            return "90+" if b >= 9 else f"{b * 10}–{b * 10 + 9}"

        out = StatsOut(
            cohort_id=rec.cohort_id,
            k=k,
            total=total,
            pyramid=[
                PyramidCell(sex=r[0], age_band=band(int(r[1])), persons=c)
                for r, c in zip(pyramid, pyr_cells, strict=True)
            ],
            index_months=[LabelCell(label=r[0], persons=c) for r, c in zip(months, month_cells, strict=True)],
            modalities=[
                LabelCell(label=r[0], persons=c, series=sc[0].value)
                for r, (c, sc) in zip(modalities, mod_cells, strict=True)
            ],
            body_parts=[
                LabelCell(label=r[0], persons=c, series=sc[0].value)
                for r, (c, sc) in zip(bodies, body_cells, strict=True)
            ],
            notes=notes,
        )
        audit = {"counts": {"total": total_n, "pyramid_cells": len(pyramid), "months": len(months)}}
        return out, audit

    # -- manifests -------------------------------------------------------------------------------

    def check_manifest_access(self, rec: CohortRecord, p: Principal) -> None:
        if p.role == "researcher":
            raise ApiError(
                403,
                "forbidden",
                "Researchers do not download row-level manifests: request a release "
                "(POST /v1/cohorts/{id}/release-request); a data steward reviews it and an export client "
                "downloads the approved manifest.",
            )
        if rec.status != "ok":
            raise ApiError(409, "cohort_not_ok", "This cohort run did not succeed; there is no manifest.")
        if p.role == "export_client" and rec.release_status != "approved":
            raise ApiError(
                403, "not_approved", "This cohort has not been approved for release by a data steward."
            )

    @staticmethod
    def manifest_source(level: ManifestLevel) -> ImagingManifestSource:
        """The release stage's manifest of one level: ``series`` (one row per series) or ``instance``."""
        return ImagingManifestSource(level)

    @staticmethod
    def require_imaging_index(con: duckdb.DuckDBPyConnection) -> None:
        if not has_imaging_index(con):
            raise ApiError(
                409,
                "no_imaging_index",
                "This mart has no DICOM index, so there is no imaging manifest: an operator indexes the "
                "imaging folders or PACS and links them to the mart (`cohort index`, `cohort link`).",
            )

    def manifest_request(
        self,
        rec: CohortRecord,
        con: duckdb.DuckDBPyConnection,
        p: Principal,
        timeout_s: float | None = None,
        verify: bool = True,
    ) -> ManifestRequest:
        self.require_imaging_index(con)
        compiled = self.compile(rec, con)
        if verify and p.role == "export_client" and self.current_hash(con, compiled) != rec.approved_hash:
            raise ApiError(
                409,
                "cohort_changed",
                "The cohort no longer has the persons that were approved (the mart changed); "
                "ask for a new review.",
            )
        spec = CohortSpec.model_validate(rec.spec)
        salt = hmac.new(self._secret, f"manifest-order/{rec.cohort_id}".encode(), hashlib.sha256).hexdigest()
        return ManifestRequest(
            cohort_id=rec.cohort_id,
            con=con,
            compiled=compiled,
            imaging=spec.imaging,
            policy=self.release_policy(rec.cohort_id),
            order_salt=salt,
            timeout_s=timeout_s or max(self.settings.query_timeout_s, 120.0),
        )

    @_mart_errors
    def manifest_page(
        self, rec: CohortRecord, p: Principal, level: ManifestLevel, offset: int, limit: int
    ) -> tuple[tuple[str, ...], int, list[dict[str, Any]]]:
        """(columns, total rows, the page's rows) of a cohort's manifest.

        The page (at most ``Settings.manifest_page_max`` rows) is read whole while a mart cursor is
        held, then released before the response is sent: a slow client never holds a pool slot, and
        a failing query is an error response, not a cut-off stream.
        """
        source = self.manifest_source(level)
        with self.pool.connection() as con:
            req = self.manifest_request(rec, con, p)
            total = source.count(req)
            rows = list(source.rows(req, offset=offset, limit=min(limit, self.settings.manifest_page_max)))
        return source.columns, total, rows

    # -- code sets -------------------------------------------------------------------------------

    def codeset_out(self, rec: CodesetRecord, labels: dict[int, str] | None = None) -> CodesetOut:
        labels = labels or {}
        return CodesetOut(
            name=rec.name,
            description=rec.description,
            domain=rec.domain,
            concept_ids=rec.concept_ids,
            concepts=[labels[i] for i in rec.concept_ids if i in labels],
            created_by=rec.created_by,
            created_at=rec.created_at,
            updated_at=rec.updated_at,
            version=rec.version,
        )

    @_mart_errors
    def codeset_labels(self, ids: list[int]) -> dict[int, str]:
        with self.pool.connection() as con:
            return known_concepts(con, ids)

    def _check_ids(self, ids: list[int]) -> dict[int, str]:
        if any(not 0 <= i <= INT32_MAX for i in ids):
            raise ApiError(422, "validation_error", f"Concept ids are between 0 and {INT32_MAX}.")
        labels = self.codeset_labels(ids)
        unknown = sorted(set(ids) - set(labels))
        if unknown:
            raise ApiError(
                422,
                "unknown_concept",
                f"Concept id(s) {', '.join(map(str, unknown[:20]))} are not in this mart's vocabulary.",
            )
        return labels

    def create_codeset(self, body: CodesetIn, p: Principal) -> CodesetOut:
        labels = self._check_ids(body.concept_ids)
        rec = self.state.create_codeset(
            body.name,
            body.description,
            body.domain.value if body.domain else None,
            body.concept_ids,
            True,
            p.key_id,
        )
        if rec is None:
            raise ApiError(409, "conflict", f"A code set named “{body.name}” exists; update it with PUT.")
        return self.codeset_out(rec, labels)

    def _editable(self, name: str, p: Principal) -> CodesetRecord:
        rec = self.state.get_codeset(name)
        if rec is None:
            raise ApiError(404, "not_found", "No code set with this name.")
        if p.role == "researcher" and rec.created_by != p.key_id:
            raise ApiError(
                403, "forbidden", "Researchers change only the code sets they created; ask a steward."
            )
        return rec

    def update_codeset(self, name: str, body: CodesetUpdate, p: Principal) -> CodesetOut:
        self._editable(name, p)
        labels = self._check_ids(body.concept_ids)
        rec = self.state.update_codeset(
            name, body.description, body.domain.value if body.domain else None, body.concept_ids, True
        )
        if rec is None:
            raise ApiError(404, "not_found", "No code set with this name.")
        return self.codeset_out(rec, labels)

    def delete_codeset(self, name: str, p: Principal) -> None:
        self._editable(name, p)
        self.state.delete_codeset(name)

    # -- guarded SQL -----------------------------------------------------------------------------

    @_mart_errors
    def sql(self, body: SqlRequest, p: Principal) -> tuple[SqlResult, dict]:
        aggregates_only = not p.privileged
        validated = validate(body.sql, aggregates_only=aggregates_only, max_rows=body.max_rows)
        suppressed = 0
        with self.pool.connection() as con:
            if aggregates_only:
                columns, rows, suppressed = self._aggregate_sql(con, validated)
            else:
                res = run_query(con, validated, timeout_s=self.settings.query_timeout_s)
                columns, rows = list(res.columns), [list(r) for r in res.rows]
        out = SqlResult(
            columns=columns,
            rows=[[_jsonable(v) for v in r] for r in rows],
            row_count=len(rows),
            truncated=len(rows) >= validated.limit,
            aggregates_only=aggregates_only,
            suppressed_cells=suppressed,
            tables=list(validated.tables),
        )
        audit = {
            "details": {
                "tables": list(validated.tables),
                "columns": list(validated.columns),
                "aggregates_only": aggregates_only,
                "rows": len(rows),
            }
        }
        return out, audit

    def _aggregate_sql(
        self, con: duckdb.DuckDBPyConnection, validated: Any
    ) -> tuple[list[str], list[list], int]:
        """Run an aggregate query for a researcher, hiding aggregates over fewer than k rows.

        A hidden ``COUNT(*)`` is added to the outermost SELECT; in every output row whose group has
        fewer than k rows, each aggregate column is shown as '<k'. Where that rewrite is impossible
        (set operations), any COUNT column value of 1…k−1 is hidden instead.
        """
        k = self.k
        t = self.settings.query_timeout_s
        tree = sqlglot.parse_one(validated.sql, read="duckdb")
        root = tree
        agg_cols: list[int] = []
        if isinstance(root, exp.Select):
            agg_cols = [i for i, e in enumerate(root.expressions) if e.find(exp.AggFunc) is not None]
            probe = root.copy()
            probe.select(exp.alias_(exp.Count(this=exp.Star()), "cohort_cell_rows__"), copy=False)
            try:
                probed = validate(
                    probe.sql(dialect="duckdb"), aggregates_only=True, max_rows=validated.max_rows
                )
                res = run_query(con, probed, timeout_s=t)
            except (GuardError, QueryError):
                res = None
            if res is not None:
                n = 0
                rows = []
                for r in res.rows:
                    vals = list(r[:-1])
                    if 0 < int(r[-1] or 0) < k:
                        for i in agg_cols:
                            vals[i] = f"<{k}"
                            n += 1
                    rows.append(vals)
                return list(res.columns[:-1]), rows, n
        res = run_query(con, validated, timeout_s=t)
        counts = set()
        if isinstance(root, exp.Select):
            counts = {i for i, e in enumerate(root.expressions) if e.find(exp.Count) is not None}
        n = 0
        rows = []
        for r in res.rows:
            vals = list(r)
            for i, v in enumerate(vals):
                if (
                    (i in counts or not counts)
                    and isinstance(v, int)
                    and not isinstance(v, bool)
                    and 0 < v < k
                ):
                    vals[i] = f"<{k}"
                    n += 1
            rows.append(vals)
        return list(res.columns), rows, n


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)
