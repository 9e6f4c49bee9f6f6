"""Manifests: the de-identified imaging list of a cohort, paged or streamed, or exported as a job.

Who: export clients for cohorts a steward approved; stewards and admins for review. Researchers
request a release instead. Rows are the release stage's (``deid.manifest``: read from the DICOM
index, keyed, shifted and scrubbed there); bytes are written by ``deid.manifest.manifest_chunks``, the
same writer as the release files, so a page, an export job and ``cohort export`` agree byte for byte
on how a row is encoded.
"""

from __future__ import annotations

import json
from itertools import chain
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from cohort_engine.api.audit import note
from cohort_engine.api.auth import ExportKey, HeavyExportKey
from cohort_engine.api.context import Ctx
from cohort_engine.api.errors import responses
from cohort_engine.api.jobs import MEDIA_TYPES
from cohort_engine.api.routers.cohorts import visible_cohort
from cohort_engine.api.schemas import ExportRequest, JobOut, ManifestPage
from cohort_engine.deid.manifest import EXTENSIONS, ManifestLevel, manifest_chunks

router = APIRouter(prefix="/v1", tags=["manifests"])

_LEVEL_DOC = (
    "`series` (default): one row per imaging series — patient, study_uid, series_uid, index_date, "
    "study_date, series_date, days_from_index, modality, body_part, study_description, series_description, "
    "n_instances, total_bytes, criteria. `instance`: one row per SOP instance — patient, study_uid, "
    "series_uid, sop_uid, index_date, study_date, series_date, days_from_index, modality, body_part, "
    "study_description, series_description, file_size, burned_in_annotation, criteria."
)

LevelQuery = Annotated[ManifestLevel, Query(description=_LEVEL_DOC)]


@router.get(
    "/cohorts/{cohort_id}/manifest",
    summary="De-identified imaging manifest of a cohort",
    description=(
        "The cohort's indexed imaging, one row per series or per instance (`level`): keyed pseudonym, "
        "remapped UIDs, dates shifted per patient (intervals kept; `days_from_index` is exact), modality, "
        "body part, descriptions scrubbed of identifying text, counts and sizes, and `criteria` — the "
        "criteria that qualified the patient as `[{label, days_from_index}]`. `format=json` answers one page "
        "as an object (`cohort_id`, `release`, `level`, `columns`, `offset`, `limit`, `total`, `next`) whose "
        "`rows` is a JSON array; `jsonl` (JSON Lines, one row per line), `csv` (`criteria` as JSON text) and "
        "`parquet` (typed columns, `criteria` as list<struct<label, days_from_index>>) stream the same page "
        "as a file. Every format carries `X-Total-Count` and, when more rows follow, a `Link: rel=next` "
        "header. For a whole large manifest in one file, start an export job (`POST "
        "/v1/cohorts/{id}/exports`)."
    ),
    response_model=ManifestPage,
    responses={
        200: {
            "content": {
                "application/json": {},
                "application/x-ndjson": {},
                "text/csv": {},
                "application/vnd.apache.parquet": {},
            },
            "description": "A page of the manifest.",
        },
        **responses(401, 403, 404, 409, 422, 503, 504),
    },
)
def manifest(
    cohort_id: str,
    request: Request,
    ctx: Ctx,
    p: HeavyExportKey,
    format: Literal["json", "jsonl", "csv", "parquet"] = Query(default="json", description="Output format."),
    level: LevelQuery = "series",
    offset: int = Query(default=0, ge=0, le=10**9),
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> StreamingResponse:
    svc = ctx.service
    rec = visible_cohort(ctx, cohort_id, p)
    svc.check_manifest_access(rec, p)
    columns, total, rows = svc.manifest_page(rec, p, level, offset, limit)
    nxt = None
    if offset + len(rows) < total:
        nxt = f"/v1/cohorts/{rec.cohort_id}/manifest?" + urlencode(
            {"format": format, "level": level, "offset": offset + len(rows), "limit": limit}
        )
    note(
        request,
        target=rec.cohort_id,
        result_hash=rec.approved_hash or rec.result_hash,
        counts={"rows": len(rows), "total": total},
        details={"format": format, "level": level, "offset": offset},
    )
    headers = {"X-Total-Count": str(total)}
    if nxt:
        headers["Link"] = f'<{nxt}>; rel="next"'
    if format == "json":
        head = ManifestPage(
            cohort_id=rec.cohort_id,
            release=svc.release_name(rec.cohort_id),
            level=level,
            columns=list(columns),
            offset=offset,
            limit=limit,
            total=total,
            next=nxt,
            rows=[],
        ).model_dump(mode="json")
        del head["rows"]
        prefix = json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": '
        body = chain(
            [prefix.encode("utf-8")], manifest_chunks(rows, "json", level, columns=columns), [b"}\n"]
        )
        return StreamingResponse(body, media_type=MEDIA_TYPES["json"], headers=headers)
    headers["Content-Disposition"] = (
        f'attachment; filename="manifest-{rec.cohort_id}-{level}-{offset}.{EXTENSIONS[format]}"'
    )
    return StreamingResponse(
        manifest_chunks(rows, format, level, columns=columns), media_type=MEDIA_TYPES[format], headers=headers
    )


@router.post(
    "/cohorts/{cohort_id}/exports",
    response_model=JobOut,
    status_code=202,
    summary="Export a whole manifest as a background job",
    description="Starts a job that writes the cohort's full manifest at `level` to one file in `format`; "
    "poll `GET /v1/jobs/{id}` for status and progress, then fetch `GET /v1/jobs/{id}/result`. The file "
    "lists the images; de-identified copies of the DICOM files themselves are made on the mart host "
    "(`cohort export`).",
    responses=responses(401, 403, 404, 409, 422),
)
def start_export(
    cohort_id: str,
    body: ExportRequest,
    request: Request,
    ctx: Ctx,
    p: ExportKey,
    level: LevelQuery = "series",
) -> JSONResponse:
    rec = visible_cohort(ctx, cohort_id, p)
    job = ctx.jobs.start_export(ctx.service, rec, p, body.format, level)
    note(request, target=rec.cohort_id, details={"job": job.job_id, "format": body.format, "level": level})
    out = ctx.jobs.out(job)
    return JSONResponse(
        out.model_dump(mode="json"), status_code=202, headers={"Location": f"/v1/jobs/{job.job_id}"}
    )
