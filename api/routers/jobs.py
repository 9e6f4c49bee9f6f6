"""Jobs: long work (full manifest exports) with status and progress."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from cohort_engine.api.audit import note
from cohort_engine.api.auth import AnyKey
from cohort_engine.api.context import Ctx
from cohort_engine.api.errors import ApiError, responses
from cohort_engine.api.jobs import MEDIA_TYPES
from cohort_engine.api.schemas import JobOut
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
            },
            "description": "The exported file.",
        },
        **responses(401, 404, 409),
    },
)
def job_result(job_id: str, request: Request, ctx: Ctx, p: AnyKey) -> FileResponse:
    job = ctx.jobs.job_for(job_id, p)
    if job.status != "done" or not job.result_path or not Path(job.result_path).is_file():
        raise ApiError(
            409, "not_ready", f"This job is {job.status}; fetch the result once its status is 'done'."
        )
    note(
        request,
        target=job.job_id,
        details={"cohort": job.cohort_id, "format": job.format, "level": job.level},
    )
    fmt = job.format or "csv"
    return FileResponse(
        job.result_path,
        media_type=MEDIA_TYPES[fmt],
        filename=f"manifest-{job.cohort_id}-{job.level or 'series'}.{EXTENSIONS[fmt]}",
    )
