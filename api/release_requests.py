"""Release requests, independent of HTTP: submit, review by the committee, the package job, downloads
and the expiry sweep.

The rules of review are :mod:`~cohort_engine.api.request_flow`'s (pure, table-driven); this module loads
the facts, applies the outcome in one state-file transaction (:mod:`~cohort_engine.api.request_store`)
and, when a request is approved, builds its package in the background
(:mod:`~cohort_engine.api.release_package`, on the :class:`~cohort_engine.api.jobs.JobRunner`'s pool, so
``GET /v1/jobs/{id}`` shows its progress too).

Each request is its own release: its pseudonyms are keyed with ``cohort-req-<id>`` (the server secret
and the request id, :meth:`CohortService.release_policy`), so two releases of one cohort cannot be joined.

A package lives until ``Settings.release_package_ttl_s`` after it was built, or until it has been
downloaded ``Settings.release_max_downloads`` times (None: any number until expiry); then it is
deleted. A download counts once a response has sent the package's last byte (a download resumed with
``Range`` counts once, when it completes). The sweep that deletes expired packages runs on start-up
and every ``Settings.release_sweep_interval_s``; its clock is injectable (tests move it forward).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cohort_engine.api.auth import Principal
from cohort_engine.api.errors import ApiError
from cohort_engine.api.jobs import JobRunner
from cohort_engine.api.mart_errors import mart_errors
from cohort_engine.api.pool import MartPool
from cohort_engine.api.release_package import PackageContents, build_package, disclosure_report
from cohort_engine.api.request_flow import FINAL_STATES, Action, Facts, TransitionError, decide
from cohort_engine.api.request_schemas import (
    PackageOut,
    RequestFields,
    RequestIn,
    RequestOut,
    ReviewOut,
    WindowIn,
)
from cohort_engine.api.request_store import RequestRecord, RequestStore
from cohort_engine.api.service import CohortService
from cohort_engine.api.settings import Settings
from cohort_engine.api.state import CohortRecord, StateStore, now_iso
from cohort_engine.api.uploads import list_names, upload_scope
from cohort_engine.deid.kanon import DisclosureReport
from cohort_engine.deid.records import RecordWindow
from cohort_engine.spec import CohortSpec

log = logging.getLogger("cohort.requests")

__all__ = ["NOT_FOUND", "ReleaseRequests"]

#: One answer for an unknown id and for a request this key may not see (no probing of ids).
NOT_FOUND = "No release request with this id that your key may see."
#: Progress is written to the state at most this often (fraction of the whole build).
_PROGRESS_STEP = 0.01

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


class ReleaseRequests:
    def __init__(
        self,
        settings: Settings,
        state: StateStore,
        pool: MartPool,
        service: CohortService,
        jobs: JobRunner,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.pool = pool
        self.service = service
        self.jobs = jobs
        self.store = RequestStore(state)
        self.clock: Clock = clock or _utc_now
        self.package_dir = Path(settings.export_dir or state.path.parent / "cohort_exports") / "packages"
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self.sweep()  # on start-up: whatever expired while the server was down goes now

    # -- settings --------------------------------------------------------------------------------

    @property
    def quorum(self) -> int:
        q = int(self.settings.release_quorum)
        if q < 1:
            raise ValueError("release_quorum must be at least 1")
        return q

    # -- background sweep ------------------------------------------------------------------------

    def start_sweeper(self) -> None:
        if self._sweeper is not None:
            return

        def loop() -> None:
            while not self._stop.wait(max(1.0, float(self.settings.release_sweep_interval_s))):
                try:
                    self.sweep()
                except Exception as e:  # a closed or busy state file: try again next time
                    log.warning("release package sweep failed: %s", type(e).__name__)

        self._sweeper = threading.Thread(target=loop, name="release-sweep", daemon=True)
        self._sweeper.start()

    def close(self) -> None:
        self._stop.set()

    # -- reading ---------------------------------------------------------------------------------

    def visible(self, request_id: str, p: Principal) -> RequestRecord:
        """The request, or ``404`` alike for an unknown id and one this key may not see: researchers
        see their own, export clients approved ones, stewards and admins all."""
        rec = self.store.get(request_id) if len(request_id) <= 64 else None
        if rec is None or not self._may_see(rec, p):
            raise ApiError(404, "not_found", NOT_FOUND)
        return rec

    @staticmethod
    def _may_see(rec: RequestRecord, p: Principal) -> bool:
        if p.role == "researcher":
            return rec.key_id == p.key_id
        if p.role == "export_client":
            return rec.status == "approved"
        return True

    def list_for(self, p: Principal, status: str | None, limit: int) -> list[RequestRecord]:
        if p.role == "researcher":
            return self.store.select(key_id=p.key_id, status=status, limit=limit)
        if p.role == "export_client":
            return self.store.select(status="approved", limit=limit) if status in (None, "approved") else []
        return self.store.select(status=status, limit=limit)

    def out(self, rec: RequestRecord, p: Principal) -> RequestOut:
        d = rec.details
        client = p.role == "export_client"
        return RequestOut(
            request_id=rec.request_id,
            cohort_id=rec.cohort_id,
            requester=rec.key_id,
            status=rec.status,
            round=rec.round,
            purpose=None if client else d["purpose"],
            organisation=None if client else d["organisation"],
            domains=list(d["domains"]),
            images=bool(d["images"]),
            modalities=list(d["modalities"]),
            window=WindowIn.model_validate(d["window"]),
            created_at=rec.created_at,
            updated_at=rec.updated_at,
            decided_at=rec.decided_at,
            quorum=self.quorum,
            approvals=len(rec.approvals()),
            reviews=[]
            if client
            else [
                ReviewOut(round=r.round, reviewer=r.key_id, decision=r.action, comment=r.comment, at=r.at)
                for r in rec.reviews
            ],
            package=self._package_out(rec),
            actions=self._actions(rec, p),
        )

    def _actions(self, rec: RequestRecord, p: Principal) -> list[str]:
        out: list[str] = []
        if p.privileged and rec.status == "submitted" and p.key_id != rec.key_id:
            if p.key_id not in rec.approvals():
                out.append("approve")
            out += ["reject", "request_changes"]
        if rec.status == "changes_requested" and p.key_id == rec.key_id:
            out.append("resubmit")
        if p.role in ("export_client", "admin") and rec.package_status == "ready":
            out.append("download")
        return out

    def _package_out(self, rec: RequestRecord) -> PackageOut:
        status = rec.package_status
        progress, message = (1.0 if status == "ready" else 0.0), ""
        if status == "building" and rec.job_id:
            job = self.state.get_job(rec.job_id)
            if job is not None:
                progress, message = job.progress, job.message
                if job.status == "failed":  # e.g. failed by a restart before it could say so here
                    status = "failed"
        elif status == "failed" and rec.job_id:
            job = self.state.get_job(rec.job_id)
            message = job.message if job else ""
        limit = self.settings.release_max_downloads
        return PackageOut(
            status=status,  # type: ignore[arg-type]
            progress=max(0.0, min(1.0, progress)),
            message=message,
            job_id=rec.job_id,
            bytes=rec.package_bytes,
            sha256=rec.package_sha256,
            expires_at=rec.expires_at,
            downloads=rec.downloads,
            downloads_left=None if limit is None else max(0, limit - rec.downloads),
            download=f"/v1/requests/{rec.request_id}/package" if status == "ready" else None,
            counts=rec.package_summary,
        )

    # -- submitting ------------------------------------------------------------------------------

    def _cohort(self, cohort_id: str, p: Principal) -> CohortRecord:
        rec = self.state.get_cohort(cohort_id)
        if rec is None or (rec.key_id != p.key_id and p.role == "researcher"):
            raise ApiError(404, "not_found", "No cohort with this id that your key may see.")
        if rec.key_id != p.key_id:
            raise ApiError(
                403, "not_owner", "A release is requested by the key that ran the cohort; ask its owner."
            )
        if rec.status != "ok":
            raise ApiError(409, "cohort_not_ok", "Only a cohort that ran successfully can be released.")
        if rec.spec is None:
            raise ApiError(
                409,
                "cohort_not_kept",
                "This run's definition was not kept for re-running, so it cannot be released; fix the spec "
                "and run it again.",
            )
        return rec

    @mart_errors
    def _check_images(self, fields: RequestFields) -> None:
        if fields.images:
            with self.pool.connection() as con:
                self.service.require_imaging_index(con)

    @staticmethod
    def _details(fields: RequestFields) -> dict[str, Any]:
        return {
            "purpose": fields.purpose,
            "organisation": fields.organisation,
            "domains": list(fields.domains),
            "images": fields.images,
            "modalities": list(fields.modalities),
            "window": fields.window.model_dump(),
        }

    def create(self, body: RequestIn, p: Principal) -> RequestRecord:
        cohort = self._cohort(body.cohort_id, p)
        open_ = [
            r
            for r in self.store.select(key_id=p.key_id, limit=1000)
            if r.cohort_id == cohort.cohort_id and r.status not in FINAL_STATES
        ]
        if open_:
            raise ApiError(
                409,
                "request_open",
                f"This cohort has an open request ({open_[0].request_id}); follow it up or wait for its "
                "decision.",
            )
        self._check_images(body)
        return self.store.add(cohort_id=cohort.cohort_id, key_id=p.key_id, details=self._details(body))

    # -- steps -----------------------------------------------------------------------------------

    def act(
        self,
        request_id: str,
        p: Principal,
        action: Action,
        comment: str,
        changes: RequestFields | None = None,
    ) -> tuple[RequestRecord, dict[str, Any]]:
        """One step of the state machine for ``p``; returns the request after it and what to audit."""
        self.visible(request_id, p)
        if changes is not None:
            self._check_images(changes)
        quorum = self.quorum

        def step(con: Any, rec: RequestRecord) -> dict[str, Any]:
            facts = Facts(state=rec.status, requester=rec.key_id, approvals=rec.approvals(), quorum=quorum)
            try:
                outcome = decide(facts, action, p.key_id, comment)
            except TransitionError as e:
                raise ApiError(e.status, e.code, e.message) from None
            ts = now_iso()
            self.store.add_review(con, rec.request_id, rec.round, p.key_id, action, comment.strip())
            fields: dict[str, Any] = {"status": outcome.state, "updated_at": ts}
            if outcome.new_round:
                fields["round"] = rec.round + 1
                if changes is not None:
                    fields["details"] = self._details(changes)
            if outcome.state in FINAL_STATES:
                fields["decided_at"] = ts
            self.store.update(con, rec.request_id, **fields)
            return {
                "action": action,
                "from": rec.status,
                "to": outcome.state,
                "round": rec.round,
                "approvals": outcome.approvals,
                "quorum": quorum,
                "comment": self.state.text_hash(comment.strip()),
            }

        rec, audit = self.store.step(request_id, step)
        if audit["to"] == "approved":
            rec = self.start_package(rec, p)
            audit["package_job"] = rec.job_id
        return rec, audit

    # -- the package -----------------------------------------------------------------------------

    def start_package(self, rec: RequestRecord, p: Principal) -> RequestRecord:
        job = self.state.add_job(
            kind="release_package", cohort_id=rec.cohort_id, key_id=p.key_id, fmt=None, owner=self.jobs.owner
        )
        self.store.set(rec.request_id, package_status="building", job_id=job.job_id)
        self.jobs.submit(self._build, rec.request_id, job.job_id)
        return self.store.get(rec.request_id)  # type: ignore[return-value]

    def rebuild(self, rec: RequestRecord, p: Principal) -> RequestRecord:
        """Build the package of an approved request again after its build failed (a restart, a busy
        mart). Not after expiry or its downloads: the committee approved one period, not a renewal."""
        if rec.status != "approved":
            raise ApiError(409, "not_approved", "Only an approved request has a package to build.")
        status = self._package_out(rec).status
        if status not in ("failed", "none"):  # none: approved, but the server stopped before the build began
            raise ApiError(
                409,
                "package_not_failed",
                f"The package is {status}; only a failed build is started again.",
            )
        return self.start_package(rec, p)

    def contents(self, rec: RequestRecord) -> PackageContents:
        d = rec.details
        return PackageContents(
            request_id=rec.request_id,
            release=self.service.release_name(rec.request_id),
            domains=tuple(d["domains"]),
            window=RecordWindow(start=d["window"]["start"], end=d["window"]["end"]),
            images=bool(d["images"]),
            modalities=tuple(d["modalities"]),
            k=max(2, self.settings.k),
        )

    def _build(self, request_id: str, job_id: str) -> None:
        st = self.state
        if not st.update_job(job_id, status="running", started_at=now_iso()):
            return
        last_fraction, last_step = -1.0, ""

        def progress(fraction: float, step: str) -> None:
            nonlocal last_fraction, last_step
            head = step.split(":")[0]
            if fraction - last_fraction >= _PROGRESS_STEP or head != last_step:
                last_fraction, last_step = fraction, head
                st.update_job(job_id, progress=fraction, message=step)

        try:
            rec = self.store.get(request_id)
            cohort = st.get_cohort(rec.cohort_id) if rec else None
            if rec is None or cohort is None:
                raise ApiError(409, "not_found", "The request or its cohort is gone.")
            # a spec on uploaded lists re-runs with its owner's lists (this thread has no request scope)
            with (
                upload_scope(st, cohort.key_id, list_names(cohort.spec)),
                self.pool.connection(wait_s=600) as con,
            ):
                compiled = self.service.compile(cohort, con)
                if self.service.current_hash(con, compiled) != cohort.result_hash:
                    raise ApiError(
                        409,
                        "cohort_changed",
                        "Re-running the cohort gives different persons than the reviewed run (the mart "
                        "changed); run it again and request a new review.",
                    )
                spec = CohortSpec.model_validate(cohort.spec)
                policy = self.service.release_policy(request_id).for_cohort(spec)
                result = build_package(
                    con,
                    compiled,
                    spec,
                    policy,
                    self.contents(rec),
                    self.package_dir,
                    readback=(cohort.result or {}).get("readback"),
                    progress=progress,
                )
            expires = self.clock() + timedelta(seconds=float(self.settings.release_package_ttl_s))
            done = st.update_job(
                job_id,
                status="done",
                progress=1.0,
                finished_at=now_iso(),
                message=f"{result.members} files, {result.bytes:,} bytes",
            )
            if not done:  # declared dead meanwhile: a failed job has no result
                Path(result.path).unlink(missing_ok=True)
                self.store.set(request_id, package_status="failed")
                return
            self._audit_build(request_id, job_id, "built", sha256=result.sha256, counts=result.summary)
            self.store.set(
                request_id,
                package_status="ready",
                package_path=result.path,
                package_sha256=result.sha256,
                package_bytes=result.bytes,
                package_summary=result.summary,
                expires_at=_iso(expires),
            )
        except ApiError as e:
            st.update_job(job_id, status="failed", message=e.message, finished_at=now_iso())
            self.store.set(request_id, package_status="failed")
            self._audit_build(request_id, job_id, "failed", reason=e.code)
        except Exception as e:  # never a traceback or data in the job message
            log.error("release package %s failed: %s", request_id, type(e).__name__)
            st.update_job(
                job_id,
                status="failed",
                message=f"the package build failed ({type(e).__name__})",
                finished_at=now_iso(),
            )
            self.store.set(request_id, package_status="failed")
            self._audit_build(request_id, job_id, "failed", reason=type(e).__name__)

    def _audit_build(
        self,
        request_id: str,
        job_id: str,
        outcome: str,
        *,
        sha256: str | None = None,
        counts: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        """The package build is a step of the release too: its outcome, the zip's hash and counts."""
        try:
            self.state.audit.append(
                key_id=None,
                role="system",
                method="POST",
                endpoint="(release package build)",
                status=200 if outcome == "built" else 500,
                target=request_id,
                counts=counts,
                result_hash=f"sha256:{sha256}" if sha256 else None,
                details={"package": outcome, "job": job_id, **({"reason": reason} if reason else {})},
            )
        except Exception as e:  # the build's own state is already recorded; say so, with no data
            log.error("audit of release package %s failed: %s", request_id, type(e).__name__)

    @mart_errors
    def disclosure(self, rec: RequestRecord) -> DisclosureReport:
        """The records extraction's k-anonymity check, run now on the cohort (for the reviewers)."""
        cohort = self.state.get_cohort(rec.cohort_id)
        if cohort is None:
            raise ApiError(404, "not_found", NOT_FOUND)
        with upload_scope(self.state, cohort.key_id, list_names(cohort.spec)), self.pool.connection() as con:
            compiled = self.service.compile(cohort, con)
            spec = CohortSpec.model_validate(cohort.spec)
            policy = self.service.release_policy(rec.request_id).for_cohort(spec)
            return disclosure_report(con, compiled, policy, max(2, self.settings.k))

    # -- downloads -------------------------------------------------------------------------------

    def package_file(self, rec: RequestRecord) -> Path:
        """The package to send, or the reason there is none (409 not yet / failed, 410 gone)."""
        status = self._package_out(rec).status
        if status in ("none", "building"):
            raise ApiError(
                409, "package_not_ready", "The package is being built; fetch it once its status is 'ready'."
            )
        if status == "failed":
            raise ApiError(
                409,
                "package_failed",
                "Building the package failed; a steward starts it again (POST /v1/requests/{id}/package).",
            )
        if status == "expired":
            raise ApiError(410, "package_expired", "This package expired and was deleted.")
        if status == "consumed":
            raise ApiError(
                410, "package_gone", "This package was downloaded as often as allowed and deleted."
            )
        if rec.expires_at and _parse(rec.expires_at) <= self.clock():
            self._delete(rec, "expired")
            raise ApiError(410, "package_expired", "This package expired and was deleted.")
        path = Path(rec.package_path or "")
        if not rec.package_path or not path.is_file():
            raise ApiError(410, "package_gone", "This package's file is gone; a steward can rebuild it.")
        return path

    def finish_download(self, request_id: str) -> int:
        """A response sent the package's last byte: count it, and delete the package when that was the
        last download allowed. Returns the downloads so far."""
        limit = self.settings.release_max_downloads

        def step(con: Any, rec: RequestRecord) -> bool:
            self.store.update(con, rec.request_id, downloads=rec.downloads + 1)
            return limit is not None and rec.downloads + 1 >= limit

        rec, used_up = self.store.step(request_id, step)
        if used_up:
            self._delete(rec, "consumed")
        return rec.downloads

    def _delete(self, rec: RequestRecord, reason: str) -> None:
        """Delete the package file and say so in the request and in the audit log."""
        if rec.package_path:
            Path(rec.package_path).unlink(missing_ok=True)
        self.store.set(rec.request_id, package_status=reason, package_path=None, deleted_at=now_iso())
        self.state.audit.append(
            key_id=None,
            role="system",
            method="DELETE",
            endpoint="/v1/requests/{request_id}/package",
            status=200,
            target=rec.request_id,
            details={"package": "deleted", "reason": reason, "downloads": rec.downloads},
        )

    def sweep(self) -> int:
        """Delete every package whose expiry has passed (by this instance's clock); returns how many."""
        now = self.clock()
        n = 0
        for rec in self.store.select(status="approved", limit=100_000):
            if rec.package_status == "ready" and rec.expires_at and _parse(rec.expires_at) <= now:
                self._delete(rec, "expired")
                n += 1
        return n
