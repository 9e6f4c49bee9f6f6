"""Record extraction of an approved cohort as a background job: the same dataset as ``cohort extract``.

``POST /v1/cohorts/{id}/extracts`` starts a ``record_extract`` job on the jobs runner (``api.jobs``): it
runs :func:`deid.dataset.extract_dataset` — the one implementation of record extraction, the CLI's too —
with the cohort's own release policy (``CohortService.release_policy``, fitted to the spec), so the
records carry the pseudonyms and date shifts of the cohort's imaging manifest (``GET
/v1/cohorts/{id}/manifest``) and join it on ``patient``. The dataset folder (persons, one file per
domain, the image manifest, ``datapackage.json``, ``disclosure.json``, ``README.txt``) is served as one
zip from ``GET /v1/jobs/{id}/result``.

Why only approved cohorts, for every role: records are row-level data about persons; a steward's
approval of the release (re-checked against the approved person set before anything is read) is what
allows them out. The disclosure check runs with the server's k, before anything is written.

Progress: the job's ``rows_done``/``rows_total`` are the rows of the step running now, ``progress`` the
share of steps done (persons, each domain, images), and ``message`` names the step — counts only.
"""

from __future__ import annotations

import logging
import os
import shutil
import zipfile
from pathlib import Path

from cohort_engine.api.auth import Principal
from cohort_engine.api.errors import ApiError
from cohort_engine.api.jobs import JobRunner
from cohort_engine.api.schemas import ExtractJobRequest
from cohort_engine.api.service import CohortService
from cohort_engine.api.state import CohortRecord, JobRecord, now_iso
from cohort_engine.deid.dataset import ExtractError, ExtractOptions, ExtractProgress, extract_dataset
from cohort_engine.deid.records import DOMAIN_NAMES, parse_domains, parse_window
from cohort_engine.spec import CohortSpec

log = logging.getLogger("cohort.jobs")

__all__ = ["EXTRACT_KIND", "ZIP_MEDIA_TYPE", "extract_options", "start_extract"]

EXTRACT_KIND = "record_extract"
ZIP_MEDIA_TYPE = "application/zip"


def check_extract_access(rec: CohortRecord, p: Principal) -> None:
    """Researchers never (they request a release); everyone else only for an approved, successful run."""
    if p.role == "researcher":
        raise ApiError(
            403,
            "forbidden",
            "Researchers do not download row-level records: request a release "
            "(POST /v1/cohorts/{id}/release-request); a data steward reviews it and an export client "
            "extracts the approved cohort's records.",
        )
    if rec.status != "ok":
        raise ApiError(409, "cohort_not_ok", "This cohort run did not succeed; there are no records.")
    if rec.release_status != "approved":
        raise ApiError(
            409,
            "not_approved",
            "Records are extracted only for approved cohorts: the researcher requests a release "
            "(POST /v1/cohorts/{id}/release-request) and another steward approves it "
            "(POST /v1/cohorts/{id}/approve).",
        )


def extract_options(body: ExtractJobRequest, k: int) -> ExtractOptions:
    """The request as the release stage's options, or ``422`` saying what was wrong."""
    try:
        domains = parse_domains(body.domains) if body.domains is not None else DOMAIN_NAMES
        window = parse_window(body.window)
    except ValueError as e:
        raise ApiError(422, "validation_error", f"{e}.") from None
    return ExtractOptions(domains=domains, window=window, format=body.format, k=k)


def start_extract(
    runner: JobRunner, service: CohortService, rec: CohortRecord, p: Principal, body: ExtractJobRequest
) -> JobRecord:
    check_extract_access(rec, p)
    options = extract_options(body, service.settings.k)
    job = runner.state.add_job(
        kind=EXTRACT_KIND, cohort_id=rec.cohort_id, key_id=p.key_id, fmt=options.format, owner=runner.owner
    )
    runner.submit(_run_extract, runner, job.job_id, service, rec, p, options)
    return job


def _run_extract(
    runner: JobRunner,
    job_id: str,
    service: CohortService,
    rec: CohortRecord,
    p: Principal,
    options: ExtractOptions,
) -> None:
    st = runner.state
    if not st.update_job(job_id, status="running", started_at=now_iso()):
        return  # declared dead (lease expired) before it started: it stays failed
    work = runner.export_dir / f"{job_id}.d"
    path = runner.export_dir / f"{job_id}.zip"
    part = path.with_suffix(".zip.part")
    steps = ["reading persons", *options.domains, "images"]

    def progress(e: ExtractProgress) -> None:
        i = steps.index(e.step) if e.step in steps else 0
        share = e.done / e.total if e.total else 0.0
        st.update_job(
            job_id,
            rows_done=e.done,
            rows_total=e.total,
            progress=min((i + min(share, 1.0)) / len(steps), 0.99),
            message=e.step,
        )

    try:
        with service.pool.connection(wait_s=600) as con:
            compiled = service.compile(rec, con)
            if service.current_hash(con, compiled) != rec.approved_hash:
                raise ApiError(
                    409,
                    "cohort_changed",
                    "The cohort no longer has the persons that were approved (the mart changed); "
                    "ask for a new review.",
                )
            spec = CohortSpec.model_validate(rec.spec)
            summary = extract_dataset(
                con,
                compiled,
                service.release_policy(rec.cohort_id).for_cohort(spec),
                work,
                options,
                imaging=spec.imaging,
                progress=progress,
            )
        _zip_folder(work, part, service.release_name(rec.cohort_id))
        os.replace(part, path)
        rows = sum(summary.rows.values()) + (summary.image_series or 0)
        finished = st.update_job(
            job_id,
            status="done",
            progress=1.0,
            rows_done=rows,
            rows_total=rows,
            result_path=str(path),
            finished_at=now_iso(),
            message=f"{summary.persons} patients, {rows} rows",
        )
        if not finished:  # another server failed it meanwhile: a failed job has no result
            path.unlink(missing_ok=True)
    except (ApiError, ExtractError) as e:
        part.unlink(missing_ok=True)
        message = e.message if isinstance(e, ApiError) else str(e)
        st.update_job(job_id, status="failed", message=message, finished_at=now_iso())
    except Exception as e:  # never a traceback or data in the job message
        part.unlink(missing_ok=True)
        log.error("extract job %s failed: %s", job_id, type(e).__name__)
        st.update_job(
            job_id,
            status="failed",
            message=f"the extraction failed ({type(e).__name__}); nothing was released",
            finished_at=now_iso(),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _zip_folder(folder: Path, dest: Path, top: str) -> None:
    """The dataset folder as one zip (0600 from the first byte), its files under ``top/``."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as stream, zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.iterdir()):
            if f.is_file():
                z.write(f, f"{top}/{f.name}")
