"""Long work (full manifest exports) as background jobs with status and progress.

A job is a row in the state file (``queued`` → ``running`` → ``done``/``failed``, ``progress`` 0…1,
rows done/total) and, once done, a file under the export folder that ``GET /v1/jobs/{id}/result``
serves. Jobs run on a small thread pool inside the server process. Each job records its owner (this
process id and a random per-process token) and the runner refreshes its jobs' heartbeat; a server
that starts on the same state file fails only jobs whose owner stopped beating for longer than
``state.JOB_LEASE_S`` (a restart, a killed process), never a live neighbour's. A finished job's state
never flips: if a job was declared dead while it still ran, its late result is discarded.

An export job writes the whole manifest of one level (series or instance) as one file, with the
release stage's writer (:func:`deid.manifest.write_manifest`: JSON Lines, a JSON array, CSV with
``criteria`` as JSON text, or Parquet with typed columns), streamed row by row from the mart.  It
writes no DICOM files: de-identified copies of the images are made on the mart host with
``cohort export`` (``deid.export``), where the files are.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cohort_engine.api.auth import Principal
from cohort_engine.api.errors import ApiError
from cohort_engine.api.schemas import JobOut
from cohort_engine.api.service import CohortService
from cohort_engine.api.state import JOB_LEASE_S, CohortRecord, JobRecord, StateStore, now_iso
from cohort_engine.api.uploads import list_names, upload_scope
from cohort_engine.deid.manifest import EXTENSIONS, ManifestFormat, ManifestLevel, write_manifest

log = logging.getLogger("cohort.jobs")

__all__ = ["MEDIA_TYPES", "JobRunner"]

#: Media type per manifest format (file names: ``deid.manifest.EXTENSIONS``).
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
#: Rows between two progress updates of a running export.
PROGRESS_EVERY = 1000


class JobRunner:
    def __init__(
        self, state: StateStore, export_dir: Path, workers: int = 2, lease_s: float = JOB_LEASE_S
    ) -> None:
        self.state = state
        self.export_dir = Path(export_dir)
        self.export_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        #: Who runs this runner's jobs: the process id, and a token since ids are reused.
        self.owner = f"{os.getpid()}:{secrets.token_hex(8)}"
        self.lease_s = lease_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cohort-job")
        self._stop = threading.Event()
        state.fail_interrupted_jobs(self.owner, lease_s)
        self._remove_stale_parts()
        self._beat = threading.Thread(target=self._heartbeat, name="cohort-job-heartbeat", daemon=True)
        self._beat.start()

    def _remove_stale_parts(self) -> None:
        """Delete ``.part`` files of jobs that no longer run (a killed export leaves its part behind)."""
        for part in self.export_dir.glob("job_*.part"):
            job = self.state.get_job(part.name.split(".", 1)[0])
            if job is None or job.status not in ("queued", "running"):
                part.unlink(missing_ok=True)

    def _heartbeat(self) -> None:
        """Keep this process's jobs' lease fresh (three beats per lease), until shutdown."""
        while not self._stop.wait(self.lease_s / 3):
            try:
                self.state.heartbeat_jobs(self.owner)
            except Exception as e:  # a closed or busy state file: try again at the next beat
                log.warning("job heartbeat failed: %s", type(e).__name__)

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        """Run another feature's job (a row it added with :meth:`StateStore.add_job`, ``owner`` =
        :attr:`owner`) on this runner's pool, under the same heartbeat (release packages)."""
        self._pool.submit(fn, *args)

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def out(self, job: JobRecord) -> JobOut:
        return JobOut(
            job_id=job.job_id,
            kind=job.kind,
            cohort_id=job.cohort_id,
            format=job.format,
            level=job.level,
            status=job.status,
            progress=max(0.0, min(1.0, job.progress)),
            rows_done=job.rows_done,
            rows_total=job.rows_total,
            message=job.message,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            download=f"/v1/jobs/{job.job_id}/result" if job.status == "done" and job.result_path else None,
        )

    def job_for(self, job_id: str, p: Principal) -> JobRecord:
        job = self.state.get_job(job_id) if len(job_id) <= 64 else None
        if job is None or (job.key_id != p.key_id and not p.privileged):
            raise ApiError(404, "not_found", "No job with this id (you see the jobs you started).")
        return job

    def start_export(
        self,
        service: CohortService,
        rec: CohortRecord,
        p: Principal,
        fmt: ManifestFormat,
        level: ManifestLevel = "series",
    ) -> JobRecord:
        service.check_manifest_access(rec, p)
        with service.pool.connection() as con:  # refuse now rather than fail in the background
            service.require_imaging_index(con)
        job = self.state.add_job(
            kind="manifest_export",
            cohort_id=rec.cohort_id,
            key_id=p.key_id,
            fmt=fmt,
            level=level,
            owner=self.owner,
        )
        self._pool.submit(self._run_export, job.job_id, service, rec, p, fmt, level)
        return job

    def _run_export(
        self,
        job_id: str,
        service: CohortService,
        rec: CohortRecord,
        p: Principal,
        fmt: ManifestFormat,
        level: ManifestLevel,
    ) -> None:
        st = self.state
        if not st.update_job(job_id, status="running", started_at=now_iso()):
            return  # declared dead (lease expired) before it started: it stays failed
        path = self.export_dir / f"{job_id}.{EXTENSIONS[fmt]}"
        part = path.with_suffix(path.suffix + ".part")
        try:
            # a spec on uploaded lists re-runs with its owner's lists (this thread has no request scope)
            with (
                upload_scope(st, rec.key_id, list_names(rec.spec)),
                service.pool.connection(wait_s=600) as con,
            ):
                req = service.manifest_request(rec, con, p, timeout_s=3600)
                source = service.manifest_source(level)
                total = source.count(req)
                st.update_job(job_id, rows_total=total)
                done = 0

                def counted() -> Iterator[dict[str, Any]]:
                    nonlocal done
                    for row in source.rows(req):
                        done += 1
                        if done % PROGRESS_EVERY == 0:
                            st.update_job(
                                job_id, rows_done=done, progress=min(done / total, 1.0) if total else 1.0
                            )
                        yield row

                # 0600 from the first byte: the file lists a cohort's images (only the server reads it).
                fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as stream:
                    write_manifest(counted(), stream, fmt, level)
            os.replace(part, path)
            finished = st.update_job(
                job_id,
                status="done",
                progress=1.0,
                rows_done=done,
                result_path=str(path),
                finished_at=now_iso(),
                message=f"{done} rows",
            )
            if not finished:  # another server failed it meanwhile: a failed job has no result
                path.unlink(missing_ok=True)
        except ApiError as e:
            part.unlink(missing_ok=True)
            st.update_job(job_id, status="failed", message=e.message, finished_at=now_iso())
        except Exception as e:  # never a traceback or data in the job message
            part.unlink(missing_ok=True)
            log.error("export job %s failed: %s", job_id, type(e).__name__)
            st.update_job(
                job_id,
                status="failed",
                message=f"the export failed ({type(e).__name__})",
                finished_at=now_iso(),
            )
