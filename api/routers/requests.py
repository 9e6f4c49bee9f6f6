"""Release requests: a researcher asks for a stored cohort's data, the committee reviews, the export
client downloads the package (``api/release_requests.py``; the rules in ``api/request_flow.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from cohort_engine.api.audit import note
from cohort_engine.api.auth import AnyKey, Principal, ResearcherKey, StewardKey, require
from cohort_engine.api.errors import ApiError, responses
from cohort_engine.api.release_requests import ReleaseRequests
from cohort_engine.api.request_schemas import RequestIn, RequestOut, ResubmitIn, ReviewIn
from cohort_engine.deid.kanon import DisclosureReport

router = APIRouter(prefix="/v1", tags=["requests"])

#: Only the export client (and admin) downloads packages: stewards review, they do not take data out.
ExportClientKey = Annotated[Principal, Depends(require("export_client"))]
_CHUNK = 1 << 16
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def get_requests(request: Request) -> ReleaseRequests:
    return request.app.state.release_requests


Requests = Annotated[ReleaseRequests, Depends(get_requests)]


@router.post(
    "/requests",
    response_model=RequestOut,
    status_code=201,
    summary="Request a release of a stored cohort",
    description="For a cohort run made with this key: purpose, organisation, records domains, images "
    "(and which modalities), and the window of records around each person's index date. The request "
    "starts `submitted`; the review committee (stewards, `quorum` of them, never the requester) decides.",
    responses=responses(401, 403, 404, 409, 422),
)
def create_request(body: RequestIn, request: Request, rr: Requests, p: ResearcherKey) -> RequestOut:
    rec = rr.create(body, p)
    note(
        request,
        target=rec.request_id,
        details={
            "request_action": "submit",
            "cohort": rec.cohort_id,
            "domains": list(body.domains),
            "images": body.images,
            "modalities": list(body.modalities),
            "window": body.window.model_dump(),
            "purpose": rr.state.text_hash(body.purpose),
            "organisation": rr.state.text_hash(body.organisation),
        },
    )
    return rr.out(rec, p)


@router.get(
    "/requests",
    response_model=list[RequestOut],
    summary="List release requests",
    description="Researchers see their own, stewards all (filter `status=submitted` for the review queue), "
    "export clients the approved ones.",
    responses=responses(401, 422),
)
def list_requests(
    rr: Requests,
    p: AnyKey,
    status: Literal["submitted", "changes_requested", "approved", "rejected"] | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=500),
) -> list[RequestOut]:
    return [rr.out(r, p) for r in rr.list_for(p, status, limit)]


@router.get(
    "/requests/{request_id}",
    response_model=RequestOut,
    summary="Read a release request",
    responses=responses(401, 404),
)
def get_request(request_id: str, rr: Requests, p: AnyKey) -> RequestOut:
    return rr.out(rr.visible(request_id, p), p)


@router.post(
    "/requests/{request_id}/reviews",
    response_model=RequestOut,
    summary="Review a request (steward)",
    description="`approve`, `reject` or `request_changes`, each with a comment. The request is approved "
    "once `quorum` distinct stewards approved its current version; its package is then built in the "
    "background. Refusals: `403 self_review` (your own request), `409 already_reviewed` (you approved "
    "already), `409 awaiting_changes` (the requester must resubmit first), `409 request_closed` "
    "(decided already), `422 comment_required`.",
    responses=responses(401, 403, 404, 409, 422),
)
def review_request(
    request_id: str, body: ReviewIn, request: Request, rr: Requests, p: StewardKey
) -> RequestOut:
    rec, audit = rr.act(request_id, p, body.decision, body.comment)
    note(request, target=rec.request_id, details={"request_action": body.decision, **audit})
    return rr.out(rec, p)


@router.post(
    "/requests/{request_id}/resubmit",
    response_model=RequestOut,
    summary="Resubmit a request after changes were asked for (requester)",
    description="With a comment and, optionally, the request as changed. Approvals of the earlier version "
    "do not count for the new one.",
    responses=responses(401, 403, 404, 409, 422),
)
def resubmit_request(
    request_id: str, body: ResubmitIn, request: Request, rr: Requests, p: ResearcherKey
) -> RequestOut:
    rec, audit = rr.act(request_id, p, "resubmit", body.comment, body.changes)
    note(request, target=rec.request_id, details={"request_action": "resubmit", **audit})
    return rr.out(rec, p)


@router.get(
    "/requests/{request_id}/disclosure",
    response_model=DisclosureReport,
    summary="The disclosure check the release would apply (steward)",
    description="The k-anonymity check over (sex, age band, index year) that the records extraction "
    "applies: how many persons are kept, generalised or withheld. Counts only.",
    responses=responses(401, 403, 404, 409, 503, 504),
)
def request_disclosure(request_id: str, request: Request, rr: Requests, p: StewardKey) -> DisclosureReport:
    rec = rr.visible(request_id, p)
    out = rr.disclosure(rec)
    note(request, target=rec.request_id, counts={"persons": out.persons, "withheld": out.withheld})
    return out


@router.post(
    "/requests/{request_id}/package",
    response_model=RequestOut,
    status_code=202,
    summary="Build a failed package again (steward)",
    description="Starts the package build of an approved request again after it failed (`409 not_approved`, "
    "`409 package_not_failed` otherwise).",
    responses=responses(401, 403, 404, 409),
)
def rebuild_package(request_id: str, request: Request, rr: Requests, p: StewardKey) -> RequestOut:
    rec = rr.rebuild(rr.visible(request_id, p), p)
    note(request, target=rec.request_id, details={"request_action": "rebuild", "package_job": rec.job_id})
    return rr.out(rec, p)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range ``header`` asks for, inclusive, or None for the whole file.

    RFC 9110: a header that is not a single well-formed byte range is ignored (the whole file is sent);
    a well-formed range that starts past the end is refused with ``416``.
    """
    if not header:
        return None
    m = _RANGE.match(header.strip().replace(" ", ""))
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    first, last = m.group(1), m.group(2)
    if first == "":  # the last N bytes
        n = int(last)
        if n == 0:
            raise _unsatisfiable(size)
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if last == "" else int(last)
    if last != "" and end < start:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    return start, min(end, size - 1)


def _unsatisfiable(size: int) -> ApiError:
    return ApiError(
        416,
        "range_not_satisfiable",
        f"The range starts past the end of the package ({size} bytes); ask for bytes 0-{size - 1}.",
        headers={"Content-Range": f"bytes */{size}"},
    )


@router.get(
    "/requests/{request_id}/package",
    summary="Download the release package (export client)",
    description="The zip of an approved request (records, image manifest, de-identified DICOM copies, "
    "`SHA256SUMS`). Supports one `Range: bytes=…` (206, or 416 past the end); `ETag` is the zip's "
    "SHA-256. Available until it expires (`package.expires_at`) or has been downloaded as often as allowed; "
    "then `410`. Every download is audited.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The whole package."},
        206: {"content": {"application/zip": {}}, "description": "The byte range asked for."},
        **responses(401, 403, 404, 409, 410, 416),
    },
)
def download_package(
    request_id: str,
    request: Request,
    rr: Requests,
    p: ExportClientKey,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> StreamingResponse:
    rec = rr.visible(request_id, p)
    path = rr.package_file(rec)
    size = path.stat().st_size
    span = parse_range(range_header, size)
    start, end = span if span is not None else (0, size - 1)
    complete = end == size - 1
    f = open(path, "rb")  # noqa: SIM115 (closed by the stream): held open, a sweep cannot cut the download
    note(
        request,
        target=rec.request_id,
        counts={"bytes": end - start + 1},
        result_hash=f"sha256:{rec.package_sha256}",
        details={"download": f"{start}-{end}/{size}", "reaches_end": complete},
    )

    def chunks() -> Iterator[bytes]:
        try:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                data = f.read(min(_CHUNK, left))
                if not data:
                    break
                left -= len(data)
                yield data
            if left == 0 and complete:
                n = rr.finish_download(rec.request_id)
                note(request, details={"downloads": n})
        finally:
            f.close()

    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start + 1),
        "ETag": f'"{rec.package_sha256}"',
        "Content-Disposition": f'attachment; filename="{rec.request_id}.zip"',
    }
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return StreamingResponse(
        chunks(), status_code=206 if span is not None else 200, media_type="application/zip", headers=headers
    )
