"""Manifests: the de-identified imaging list of a cohort, paged or streamed, or exported as a job.

Who: export clients for cohorts a steward approved; stewards and admins for review. Researchers
request a release instead. Rows come from the app's manifest source (see ``api.manifest``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api.audit import note
from api.auth import ExportKey
from api.context import Ctx
from api.errors import responses
from api.manifest import csv_chunks, parquet_bytes
from api.schemas import ExportRequest, JobOut, ManifestPage
from api.service import _mart_errors

router = APIRouter(prefix="/v1", tags=["manifests"])

_MANIFEST_ROLES = ("export_client", "steward")


@router.get(
    "/cohorts/{cohort_id}/manifest",
    summary="De-identified imaging manifest of a cohort",
    description=(
        "One row per imaging series of the cohort's persons: keyed pseudonym, remapped study/series UIDs, "
        "shifted study date, days from the index date, modality and body part. `format=json` answers one page "
        "(`offset`, `limit`, `total`, `next`); `csv` and `parquet` stream the same page as a file, with "
        "`X-Total-Count` and a `Link: rel=next` header. For a whole large manifest in one file, start an export "
        "job (`POST /v1/cohorts/{id}/exports`)."
    ),
    response_model=ManifestPage,
    responses={200: {"content": {"application/json": {}, "text/csv": {}, "application/vnd.apache.parquet": {}},
                     "description": "A page of the manifest."}, **responses(401, 403, 404, 409, 422, 503, 504)},
)
def manifest(
    cohort_id: str, request: Request, ctx: Ctx,
    p: ExportKey,
    format: Literal["json", "csv", "parquet"] = Query(default="json", description="Output format."),
    offset: int = Query(default=0, ge=0, le=10**9),
    limit: int = Query(default=1000, ge=1, le=10_000),
):
    svc = ctx.service
    rec = svc.cohort_for(cohort_id, p)
    svc.check_manifest_access(rec, p)
    source = svc.manifest_source

    @_mart_errors
    def page() -> tuple[int, list[dict]]:
        with ctx.pool.connection() as con:
            req = svc.manifest_request(rec, con, p)
            return source.count(req), list(source.rows(req, offset=offset, limit=limit))

    total, rows = page()
    nxt = None
    if offset + len(rows) < total:
        nxt = f"/v1/cohorts/{rec.cohort_id}/manifest?" + urlencode({"format": format, "offset": offset + len(rows),
                                                                   "limit": limit})
    note(request, target=rec.cohort_id, result_hash=rec.approved_hash or rec.result_hash,
         counts={"rows": len(rows), "total": total}, details={"format": format, "offset": offset})
    headers = {"X-Total-Count": str(total)}
    if nxt:
        headers["Link"] = f'<{nxt}>; rel="next"'
    if format == "json":
        body = ManifestPage(cohort_id=rec.cohort_id, release=svc.release_name(rec.cohort_id),
                            columns=list(source.columns), offset=offset, limit=limit, total=total, next=nxt, rows=rows)
        return JSONResponse(body.model_dump(mode="json"), headers=headers)
    filename = f"manifest-{rec.cohort_id}-{offset}.{format}"
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if format == "csv":
        return StreamingResponse(csv_chunks(source.columns, rows), media_type="text/csv; charset=utf-8", headers=headers)
    data = parquet_bytes(source.columns, rows)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    return StreamingResponse(chunks(), media_type="application/vnd.apache.parquet", headers=headers)


@router.post(
    "/cohorts/{cohort_id}/exports", response_model=JobOut, status_code=202,
    summary="Export a whole manifest as a background job",
    description="Starts a job that writes the full manifest to a file; poll `GET /v1/jobs/{id}` for status and "
                "progress, then fetch `GET /v1/jobs/{id}/result`.",
    responses=responses(401, 403, 404, 409, 422),
)
def start_export(cohort_id: str, body: ExportRequest, request: Request, ctx: Ctx,
                 p: ExportKey) -> JSONResponse:
    rec = ctx.service.cohort_for(cohort_id, p)
    job = ctx.jobs.start_export(ctx.service, rec, p, body.format)
    note(request, target=rec.cohort_id, details={"job": job.job_id, "format": body.format})
    out = ctx.jobs.out(job)
    return JSONResponse(out.model_dump(mode="json"), status_code=202, headers={"Location": f"/v1/jobs/{job.job_id}"})
