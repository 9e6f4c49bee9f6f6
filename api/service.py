"""What the REST API does with cohorts, independent of HTTP: the use cases behind the routers (ask,
run, read, release, charts, manifests, guarded SQL), each composed from one-job modules:

* :mod:`~cohort_engine.api.pool` — the read-only mart cursors a request runs on;
* :mod:`~cohort_engine.api.limits` — the request's own bounds (the spec bounds its fields itself);
* :mod:`~cohort_engine.api.parsing` — the named parser, or ``409 parser_unavailable``;
* :mod:`~cohort_engine.api.views` — what a role sees of a run (keyed noise + threshold for researchers,
  through :mod:`~cohort_engine.api.disclosure`; ``docs/PRIVACY.md``);
* :mod:`~cohort_engine.api.charts` — the aggregate charts' SQL, with each cell's person-set digest;
* :mod:`~cohort_engine.api.guarded_sql` — who may run ad-hoc SQL (stewards and admins only);
* :mod:`~cohort_engine.api.mart_errors` — the stages' failures as API errors.

Code sets have their own service (:mod:`~cohort_engine.api.codesets`).

The answer itself is the pipeline's (``cohort_engine.pipeline``): the same parse → answer and spec →
run as the CLI and the evals.

Manifests are the release stage's (``deid.manifest``): :class:`deid.manifest.ImagingManifestSource`
reads the cohort's imaging from the DICOM index and renders release rows (keyed pseudonyms and UIDs,
shifted dates, scrubbed descriptions, counts, qualifying criteria); this module only decides who may
have them and hands the source a :class:`deid.manifest.ManifestRequest`.  Each cohort is its own release
(``project_key = "cohort-<id>"``, keyed with the server secret), so pseudonyms of two cohorts cannot
be joined.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import duckdb
from pydantic import SecretBytes

from cohort_engine.api.auth import Principal
from cohort_engine.api.characterise import table1_tables
from cohort_engine.api.charts import (
    chart_rows,
    cohort_subquery,
    with_person_digests,
    with_person_set_text,
)
from cohort_engine.api.codesets import check_known, known_concepts
from cohort_engine.api.disclosure import Protector, person_set_text
from cohort_engine.api.errors import ApiError
from cohort_engine.api.guarded_sql import check_sql_allowed, jsonable
from cohort_engine.api.limits import check_overrides
from cohort_engine.api.mart_errors import mart_errors
from cohort_engine.api.parsing import parse_question
from cohort_engine.api.pool import MartPool
from cohort_engine.api.schemas import (
    CohortResult,
    CohortSummary,
    ReleaseOverlap,
    SqlRequest,
    SqlResult,
    StatsOut,
    Table1Out,
)
from cohort_engine.api.sealing import (
    NotKeptAtConceptLevel,
    concept_level_result,
    concept_level_spec,
    seal_for_owner,
)
from cohort_engine.api.settings import Settings
from cohort_engine.api.state import CohortRecord, StateStore
from cohort_engine.api.suppression import Cell, exact
from cohort_engine.api.views import record_view, result_view, stats_view, summary_view, table1_view
from cohort_engine.deid.manifest import ImagingManifestSource, ManifestLevel, ManifestRequest
from cohort_engine.deid.policy import ReleasePolicy
from cohort_engine.dicom_index.select import has_imaging_index
from cohort_engine.nlq.result import ParseResult
from cohort_engine.parsers import ParserName
from cohort_engine.pipeline import CohortRead, answer_from_parse, compile_spec, run_spec_compiled
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.compiler import CompiledCohort
from cohort_engine.sql_guard.guard import validate
from cohort_engine.sql_guard.runner import execute_internal, run_query

__all__ = ["CohortService"]


def codeset_names(spec: CohortSpec) -> list[str]:
    return [f.concepts.codeset for f in [spec.index, *spec.criteria] if f.concepts.codeset]


class CohortService:
    def __init__(self, settings: Settings, state: StateStore, pool: MartPool) -> None:
        self.settings = settings
        self.state = state
        self.pool = pool
        self.k = settings.k
        self._secret = state.server_secret()
        self.protector = Protector(secret=self._secret, k=settings.k)

    # -- hashing ---------------------------------------------------------------------------------

    def result_hash(self, person_ids: list[int]) -> str:
        """Keyed hash of the set of persons: equal cohorts compare equal, but it cannot be brute-forced."""
        return self.result_hash_of_text(person_set_text(person_ids))

    def result_hash_of_text(self, text: str) -> str:
        """:meth:`result_hash` of the persons whose ``api.disclosure.person_set_text`` is ``text``."""
        msg = b"cohort-result/v1/" + text.encode()
        return "hmac-sha256:" + hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def release_policy(self, cohort_id: str) -> ReleasePolicy:
        return ReleasePolicy(project_key=self.release_name(cohort_id), secret=SecretBytes(self._secret))

    @staticmethod
    def release_name(cohort_id: str) -> str:
        return "cohort-" + cohort_id.replace("_", "-")

    # -- ask / run -------------------------------------------------------------------------------

    @mart_errors
    def ask(
        self, question: str, overrides: Mapping[str, list[int]], p: Principal, parser: ParserName = "rule"
    ) -> tuple[CohortResult, dict]:
        check_overrides(overrides)
        parsed = parse_question(question, parser)
        if parsed.status != "ok" or parsed.spec is None:
            res = answer_from_parse(parsed)
            return result_view(res.public_dict(), p, self.protector), {"status": res.status}
        return self.run(parsed.spec, overrides, p, parsed=parsed)

    @mart_errors
    def run(
        self,
        spec: CohortSpec,
        overrides: Mapping[str, list[int]],
        p: Principal,
        parsed: ParseResult | None = None,
    ) -> tuple[CohortResult, dict]:
        check_overrides(overrides)
        codesets = self.state.codeset_map(codeset_names(spec))
        with self.pool.connection() as con:
            if overrides:
                ids = [i for ids in overrides.values() for i in ids]
                check_known(ids, known_concepts(con, ids))
            outcome = run_spec_compiled(
                spec,
                con,
                parsed=parsed,
                sample_size=5 if p.privileged else 0,
                overrides=dict(overrides) or None,
                timeout_s=self.settings.query_timeout_s,
                codesets=codesets,
                on_session=self.evaluated_tokens,
            )
            res = outcome.answer
            disclosure, rhash = outcome.extra if res.status == "ok" else (None, None)
            stored = res.model_copy(update={"person_ids": None, "sample": []}).public_dict()
            if disclosure is not None:
                stored["disclosure"] = disclosure
            kept = self.concept_level(spec, stored, con) if res.status == "ok" else None
        sample = res.sample if p.privileged else []
        box_key = p.box_key
        rec = self.state.add_cohort(
            key_id=p.key_id,
            status=res.status,
            spec=kept.model_dump(mode="json") if kept else None,
            overrides={},
            codesets={},
            result=concept_level_result(stored, kept),
            person_count=res.count,
            result_hash=rhash,
            owner_box=(lambda cid: seal_for_owner({"result": stored}, box_key, cid)) if box_key else None,
        )
        audit = {
            "status": res.status,
            "counts": {"count": res.count, "attrition": [a.persons for a in res.attrition]},
            "result_hash": rhash,
            "target": rec.cohort_id,
        }
        return self.view(rec, p, sample=[s.model_dump() for s in sample]), audit

    def concept_level(
        self, spec: CohortSpec, stored: dict[str, Any], con: duckdb.DuckDBPyConnection
    ) -> CohortSpec | None:
        """The run's definition with no typed word, as kept in the state (``api/sealing.py``), or None
        when it cannot be written as concept ids (the run is then kept without one: it can be read,
        not re-run)."""
        try:
            return concept_level_spec(
                spec, stored.get("resolutions") or {}, con, timeout_s=self.settings.query_timeout_s
            )
        except NotKeptAtConceptLevel as e:
            stored.setdefault("notes", []).append(f"Not kept for re-running: {e}.")
            return None

    def person_tokens(self, read: CohortRead) -> dict[str, Any]:
        """The sealed fingerprints of the persons behind each count of a run (funnel steps, imaging
        rows by modality), stored with the run: they key each count's noise for researchers. Read from
        the ask's own evaluation (``on_session``): the cohort is not evaluated again for them."""
        return self.evaluated_tokens(read)[0]

    def evaluated_tokens(self, read: CohortRead) -> tuple[dict[str, Any], str]:
        """:meth:`person_tokens` and the run's :meth:`result_hash`, from one statement over the ask's
        evaluation: the cohort's persons are hashed from their text, collected in the database with
        the digests, never fetched as a list of ids (on 1M persons that list cost more CPU than the
        digests)."""
        row = read.fetch(with_person_set_text(read.attrition_sql))
        *digests, text = row[0]
        rhash = self.result_hash_of_text(str(text or ""))
        out: dict[str, Any] = {"attrition": [self.protector.seal(str(d)) for d in digests]}
        if read.imaging:
            rows = read.fetch(with_person_digests(read.imaging_summary().sql))
            out["imaging"] = {(r[0] or ""): self.protector.seal(str(r[1])) for r in rows}
        return out, rhash

    def view(self, rec: CohortRecord, p: Principal, sample: list | None = None) -> CohortResult:
        return record_view(rec, p, self.protector, sample=sample)

    def summary(self, rec: CohortRecord, p: Principal) -> CohortSummary:
        return summary_view(rec, p, self.protector)

    # -- access ----------------------------------------------------------------------------------

    def cohort_for(self, cohort_id: str, p: Principal) -> CohortRecord:
        rec = self.state.get_cohort(cohort_id) if len(cohort_id) <= 64 else None
        if rec is None or (p.role == "researcher" and rec.key_id != p.key_id):
            raise ApiError(404, "not_found", "No cohort with this id (researchers see their own cohorts).")
        if p.role == "export_client" and rec.release_status != "approved":
            # the same 404 as an unknown id: a different answer would let ids be probed
            raise ApiError(404, "not_found", "No approved cohort with this id.")
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
        if rec.status != "ok":
            raise ApiError(
                409, "cohort_not_ok", "This cohort run did not succeed; fix its spec and run it again."
            )
        if rec.spec is None:
            raise ApiError(
                409,
                "cohort_not_kept",
                "This run's definition was not kept for re-running (a rule selects no concept in this "
                "mart, or too many by name); fix the spec and run it again.",
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

    @mart_errors
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

    @mart_errors
    def release_overlaps(self, rec: CohortRecord, limit: int = 200) -> list[ReleaseOverlap]:
        """Earlier approved releases sharing persons with ``rec``, most shared first (re-run from their
        concept-level definitions: the state keeps no person list)."""
        earlier = [
            r
            for r in self.state.list_cohorts(release_status="approved", limit=limit)
            if r.cohort_id != rec.cohort_id and r.spec is not None
        ]
        out = []
        with self.pool.connection() as con:
            mine = f"({self.compile(rec, con).cohort_sql})"
            for other in earlier:
                theirs = f"({self.compile(other, con).cohort_sql})"
                cur = execute_internal(
                    con,
                    f"SELECT count(*) FROM {mine} AS a JOIN {theirs} AS b ON a.person_id = b.person_id",
                    timeout_s=self.settings.query_timeout_s,
                )
                try:
                    shared = int((cur.fetchone() or (0,))[0])
                finally:
                    cur.close()
                if shared:
                    out.append(
                        ReleaseOverlap(
                            cohort_id=other.cohort_id,
                            release=self.release_name(other.cohort_id),
                            approved_at=other.approved_at,
                            persons_shared=shared,
                        )
                    )
        return sorted(out, key=lambda o: (-o.persons_shared, o.cohort_id))

    # -- stats -----------------------------------------------------------------------------------

    @mart_errors
    def stats(self, rec: CohortRecord, p: Principal) -> tuple[StatsOut, dict]:
        with self.pool.connection() as con:
            compiled = self.compile(rec, con)
            spec = CohortSpec.model_validate(rec.spec)
            charts = chart_rows(con, compiled, spec.imaging, timeout_s=self.settings.query_timeout_s)
        total_n = sum(n for _s, _b, n, _d in charts.pyramid)
        total = exact(total_n) if p.privileged else self.shown_total(rec, p)
        out = stats_view(rec.cohort_id, charts, p, self.protector, total)
        audit = {
            "counts": {"total": total_n, "pyramid_cells": len(charts.pyramid), "months": len(charts.months)}
        }
        return out, audit

    # -- table 1 ---------------------------------------------------------------------------------

    @mart_errors
    def table1(
        self, recs: list[CohortRecord], p: Principal, window: tuple[int, int]
    ) -> tuple[Table1Out, dict]:
        """Table 1 of one cohort, or of two side by side on the same rows (the union of both top lists)."""
        with self.pool.connection() as con:
            compiled = [self.compile(r, con) for r in recs]
            tables = table1_tables(con, compiled, window=window, timeout_s=self.settings.query_timeout_s)
        totals = [
            exact(tb.persons.n) if p.privileged else self.shown_total(r, p)
            for tb, r in zip(tables, recs, strict=True)
        ]
        out = table1_view(
            tables,
            [r.cohort_id for r in recs],
            totals,
            privileged=p.privileged,
            protector=self.protector,
            k=self.protector.k,
        )
        return out, {"counts": {"persons": [tb.persons.n for tb in tables], "rows": len(out.rows)}}

    def shown_total(self, rec: CohortRecord, p: Principal) -> Cell:
        """The cohort's count as its answer shows it to ``p`` (one run, one number everywhere)."""
        view = self.view(rec, p)
        return Cell(value=view.count, display=view.count_display or "0", suppressed=view.count is None)

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
            raise ApiError(404, "not_found", "No approved cohort with this id.")

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
            con=con,
            compiled=compiled,
            imaging=spec.imaging,
            # the spec's index window decides whether the index date would pin each patient's shift
            policy=self.release_policy(rec.cohort_id).for_cohort(spec),
            order_salt=salt,
            timeout_s=timeout_s or max(self.settings.query_timeout_s, 120.0),
        )

    @mart_errors
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

    # -- guarded SQL -----------------------------------------------------------------------------

    @mart_errors
    def sql(self, body: SqlRequest, p: Principal) -> tuple[SqlResult, dict]:
        """Stewards' and admins' guarded SQL (researchers: 403, see ``guarded_sql``)."""
        check_sql_allowed(p)
        validated = validate(body.sql, max_rows=body.max_rows)
        with self.pool.connection() as con:
            res = run_query(con, validated, timeout_s=self.settings.query_timeout_s)
            columns, rows = list(res.columns), [list(r) for r in res.rows]
        out = SqlResult(
            columns=columns,
            rows=[[jsonable(v) for v in r] for r in rows],
            row_count=len(rows),
            truncated=len(rows) >= validated.limit,
            aggregates_only=False,
            suppressed_cells=0,
            tables=list(validated.tables),
        )
        audit = {
            "details": {
                "tables": list(validated.tables),
                "columns": list(validated.columns),
                "aggregates_only": False,
                "rows": len(rows),
            }
        }
        return out, audit
