"""Jobs: long work (full manifest exports) with status and progress."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from cohort_engine.api.audit import note
from cohort_engine.api.auth import AnyKey, ExportKey
from cohort_engine.api.context import Ctx
from cohort_engine.api.errors import ApiError, responses
from cohort_engine.api.extract_jobs import EXTRACT_KIND, ZIP_MEDIA_TYPE, start_extract
from cohort_engine.api.jobs import MEDIA_TYPES
from cohort_engine.api.routers.cohorts import visible_cohort
from cohort_engine.api.schemas import ExtractJobRequest, JobOut
from cohort_engine.deid.manifest import EXTENSIONS

router = APIRouter(prefix="/v1", tags=["jobs"])


@router.get("/jobs", response_model=list[JobOut], summary="List your jobs", responses=responses(401))
def list_jobs(ctx: Ctx, p: AnyKey) -> list[JobOut]:
    jobs = ctx.state.list_jobs(None if p.privileged else p.key_id)
    return [ctx.jobs.out(j) for j in jobs]


@router.get(
    "/jobs/{job_id}", response_model=JobOut, summary="Job status and progress", responses=responses(401, 404)
)
def get_job(job_id: str, ctx: Ctx, p: AnyKey) -> JobOut:
    return ctx.jobs.out(ctx.jobs.job_for(job_id, p))


@router.get(
    "/jobs/{job_id}/result",
    summary="Download a finished job's file",
    response_class=FileResponse,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.apache.parquet": {},
                "application/x-ndjson": {},
                "application/json": {},
                "application/zip": {},
            },
            "description": "The exported file (a record extraction: one zip of its dataset folder).",
        },
        **responses(401, 404, 409),
    },
)
def job_result(job_id: str, request: Request, ctx: Ctx, p: AnyKey) -> FileResponse:
    job = ctx.jobs.job_for(job_id, p)
    if job.kind == "release_package":
        raise ApiError(
            409,
            "not_a_file_job",
            "A release package is downloaded by the export client from GET /v1/requests/{id}/package.",
        )
    if job.status != "done" or not job.result_path or not Path(job.result_path).is_file():
        raise ApiError(
            409, "not_ready", f"This job is {job.status}; fetch the result once its status is 'done'."
        )
    note(
        request,
        target=job.job_id,
        details={"cohort": job.cohort_id, "format": job.format, "level": job.level},
    )
    if job.kind == EXTRACT_KIND:
        return FileResponse(
            job.result_path, media_type=ZIP_MEDIA_TYPE, filename=f"records-{job.cohort_id}.zip"
        )
    fmt = job.format or "csv"
    return FileResponse(
        job.result_path,
        media_type=MEDIA_TYPES[fmt],
        filename=f"manifest-{job.cohort_id}-{job.level or 'series'}.{EXTENSIONS[fmt]}",
    )


@router.post(
    "/cohorts/{cohort_id}/extracts",
    response_model=JobOut,
    status_code=202,
    summary="Extract an approved cohort's de-identified records as a background job",
    description="Starts a job that writes the cohort's records as one dataset, as `cohort extract` does: "
    "persons, one Parquet (or CSV) per domain inside the window relative to each index date, the image "
    "manifest, a Frictionless `datapackage.json`, the disclosure check (k of the server) and a README; "
    "records and images carry the pseudonyms of this cohort's manifest. Only for approved cohorts "
    "(`409 not_approved`; researchers `403`). Poll `GET /v1/jobs/{id}` (the step and its rows are the "
    "progress), then fetch the zip from `GET /v1/jobs/{id}/result`.",
    responses=responses(401, 403, 404, 409, 422),
)
def start_record_extract(
    cohort_id: str, body: ExtractJobRequest, request: Request, ctx: Ctx, p: ExportKey
) -> JSONResponse:
    rec = visible_cohort(ctx, cohort_id, p)
    job = start_extract(ctx.jobs, ctx.service, rec, p, body)
    note(
        request,
        target=rec.cohort_id,
        details={"job": job.job_id, "kind": job.kind, "format": body.format, "window": body.window},
    )
    return JSONResponse(
        ctx.jobs.out(job).model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/v1/jobs/{job.job_id}"},
    )
