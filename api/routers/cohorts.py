"""Cohorts: run a spec, read a run, its aggregate charts, and the release workflow."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response

from cohort_engine.api.audit import note
from cohort_engine.api.auth import AnyKey, HeavyResearcherKey, Principal, ResearcherKey, StewardKey
from cohort_engine.api.context import AppContext, Ctx
from cohort_engine.api.errors import ApiError, responses
from cohort_engine.api.schemas import (
    CohortResult,
    CohortRunRequest,
    CohortSummary,
    ReleaseOverlap,
    StatsOut,
    Table1Out,
)
from cohort_engine.api.state import CohortRecord

router = APIRouter(prefix="/v1", tags=["cohorts"])

CohortId = str
#: The one answer for an id that does not exist and for one this key may not see.
NOT_FOUND_MESSAGE = "No cohort with this id that your key may see."


def visible_cohort(ctx: AppContext, cohort_id: str, p: Principal) -> CohortRecord:
    """The cohort, or ``404`` alike for an unknown id and for one the role may not see.

    Why one answer: a distinct ``403`` for "exists but not yours / not approved" lets a key probe
    which ids exist. Researchers see their own runs; export clients approved ones; stewards all.
    """
    rec = ctx.state.get_cohort(cohort_id) if len(cohort_id) <= 64 else None
    hidden = rec is None or (
        (p.role == "researcher" and rec.key_id != p.key_id)
        or (p.role == "export_client" and rec.release_status != "approved")
    )
    if hidden or rec is None:
        raise ApiError(404, "not_found", NOT_FOUND_MESSAGE)
    return rec


@router.post(
    "/cohorts",
    response_model=CohortResult,
    status_code=201,
    summary="Run a cohort spec",
    description=(
        "Runs a spec (for example an edited read-back) and stores the run; the answer carries its "
        "`cohort_id`. Code set references (`concepts.codeset`) resolve to the saved code sets."
    ),
    responses=responses(401, 403, 422, 503, 504),
)
def run_cohort(
    body: CohortRunRequest, request: Request, response: Response, ctx: Ctx, p: HeavyResearcherKey
) -> CohortResult:
    result, audit = ctx.service.run(body.spec, body.overrides, p)
    note(
        request,
        spec=body.spec.model_dump(mode="json"),
        details={"status": result.status},
        **{k: v for k, v in audit.items() if k != "status"},
    )
    if result.cohort_id:
        response.headers["Location"] = f"/v1/cohorts/{result.cohort_id}"
    return result


@router.get(
    "/cohorts",
    response_model=list[CohortSummary],
    summary="List cohort runs",
    description="Researchers see their own runs, export clients the approved ones, stewards and admins all "
    "(filter with `release=requested` for the review queue).",
    responses=responses(401, 403, 422),
)
def list_cohorts(
    ctx: Ctx,
    p: AnyKey,
    release: Literal["none", "requested", "approved"] | None = Query(default=None),
    limit: int = Query(default=50, ge=1, le=500),
) -> list[CohortSummary]:
    return ctx.service.list_cohorts(p, release, limit)


@router.get(
    "/cohorts/{cohort_id}",
    response_model=CohortResult,
    summary="Read a cohort run",
    responses=responses(401, 403, 404),
)
def get_cohort(cohort_id: CohortId, request: Request, ctx: Ctx, p: AnyKey) -> CohortResult:
    rec = visible_cohort(ctx, cohort_id, p)
    note(request, target=rec.cohort_id, counts={"count": rec.person_count}, result_hash=rec.result_hash)
    return ctx.service.view(rec, p)


@router.get(
    "/cohorts/{cohort_id}/stats",
    response_model=StatsOut,
    summary="Aggregate charts of a cohort",
    description="Age/sex pyramid (age at index, 10-year bands, 90+), index dates by month, and modalities "
    "and body parts of the cohort's imaging series (persons per category). For researchers every "
    "cell is noisy (keyed by its persons) and cells below k are left out (docs/PRIVACY.md).",
    responses=responses(401, 403, 404, 409, 503, 504),
)
def cohort_stats(cohort_id: CohortId, request: Request, ctx: Ctx, p: HeavyResearcherKey) -> StatsOut:
    rec = visible_cohort(ctx, cohort_id, p)
    out, audit = ctx.service.stats(rec, p)
    note(request, target=rec.cohort_id, **audit)
    return out


@router.get(
    "/cohorts/{cohort_id}/table1",
    response_model=Table1Out,
    summary="Table 1: baseline characteristics (optionally of two cohorts side by side)",
    description="Age (mean, SD, bands), sex, the most frequent conditions, procedures and drugs and the labs "
    "(median, IQR of each person's latest value) in a window relative to the index date (default −365…0 "
    "days), deaths within 30 and 365 days, imaging by modality. With `compare`, a second cohort on the same "
    "rows and the standardised mean difference of each. For researchers every count is noisy and keyed by "
    "its persons, cells below k are '<k', age comes from the noisy bands, lab statistics only on rows of at "
    "least k persons, rounded (docs/PRIVACY.md).",
    responses=responses(401, 403, 404, 409, 422, 503, 504),
)
def cohort_table1(
    cohort_id: CohortId,
    request: Request,
    ctx: Ctx,
    p: HeavyResearcherKey,
    compare: str | None = Query(default=None, max_length=64, description="A second cohort's id."),
    window_start: int = Query(default=-365, ge=-36500, le=36500, description="First day, relative to index."),
    window_end: int = Query(default=0, ge=-36500, le=36500, description="Last day, relative to index."),
) -> Table1Out:
    if window_start > window_end:
        raise ApiError(
            422,
            "validation_error",
            f"The window starts on day {window_start} after it ends on day {window_end}; give start ≤ end.",
        )
    recs = [visible_cohort(ctx, cohort_id, p)]
    if compare is not None:
        recs.append(visible_cohort(ctx, compare, p))
    out, audit = ctx.service.table1(recs, p, (window_start, window_end))
    note(request, target=",".join(r.cohort_id for r in recs), **audit)
    return out


@router.post(
    "/cohorts/{cohort_id}/release-request",
    response_model=CohortResult,
    summary="Request a manifest release",
    description="Asks a data steward to review this cohort for a de-identified imaging manifest release.",
    responses=responses(401, 403, 404, 409),
)
def request_release(cohort_id: CohortId, request: Request, ctx: Ctx, p: ResearcherKey) -> CohortResult:
    rec = ctx.service.request_release(visible_cohort(ctx, cohort_id, p), p)
    note(request, target=rec.cohort_id, details={"release": rec.release_status})
    return ctx.service.view(rec, p)


@router.post(
    "/cohorts/{cohort_id}/approve",
    response_model=CohortResult,
    summary="Approve a release (steward)",
    description="Approves a requested release: re-runs the cohort, checks it still has the persons of the "
    "reviewed run (keyed result hash) and approves it for export clients. Only a requested release can be "
    "approved (`409 not_requested`), once (`409 already_approved`); a steward cannot approve a run made "
    "with their own key, nor a release they requested themselves.",
    responses=responses(401, 403, 404, 409, 503, 504),
)
def approve(cohort_id: CohortId, request: Request, ctx: Ctx, p: StewardKey) -> CohortResult:
    rec = visible_cohort(ctx, cohort_id, p)
    if rec.release_status != "requested":
        raise ApiError(
            409,
            "not_requested" if rec.release_status == "none" else "already_approved",
            "Nobody has requested a release of this cohort: the researcher asks first "
            "(POST /v1/cohorts/{id}/release-request), then a steward approves."
            if rec.release_status == "none"
            else "This cohort's release is approved already.",
        )
    if rec.requested_by == p.key_id:
        raise ApiError(
            403, "forbidden", "You requested this release yourself; another steward must approve it."
        )
    rec = ctx.service.approve(rec, p)
    overlaps = ctx.service.release_overlaps(rec)
    note(
        request,
        target=rec.cohort_id,
        result_hash=rec.approved_hash,
        details={
            "release": "approved",
            "overlaps": [{"cohort_id": o.cohort_id, "persons": o.persons_shared} for o in overlaps],
        },
    )
    return ctx.service.view(rec, p)


@router.get(
    "/cohorts/{cohort_id}/release-overlap",
    response_model=list[ReleaseOverlap],
    summary="Earlier releases sharing persons (steward)",
    description="Earlier approved releases that share persons with this cohort, with how many, most shared "
    "first. Two releases of the same persons to different projects can be linked through the images "
    "themselves, whatever the per-release keys and jitter do (docs/PRIVACY.md): reviewers read this before "
    "approving; the approval's audit entry records it.",
    responses=responses(401, 403, 404, 409, 503, 504),
)
def release_overlap(cohort_id: CohortId, request: Request, ctx: Ctx, p: StewardKey) -> list[ReleaseOverlap]:
    rec = visible_cohort(ctx, cohort_id, p)
    out = ctx.service.release_overlaps(rec)
    note(request, target=rec.cohort_id, counts={"overlaps": len(out)})
    return out
