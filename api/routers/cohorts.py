"""Cohorts: run a spec, read a run, its aggregate charts, and the release workflow."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response

from cohort_engine.api.audit import note
from cohort_engine.api.auth import AnyKey, ResearcherKey, StewardKey
from cohort_engine.api.context import Ctx
from cohort_engine.api.errors import responses
from cohort_engine.api.schemas import CohortResult, CohortRunRequest, CohortSummary, StatsOut

router = APIRouter(prefix="/v1", tags=["cohorts"])

CohortId = str


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
    body: CohortRunRequest, request: Request, response: Response, ctx: Ctx, p: ResearcherKey
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
    rec = ctx.service.cohort_for(cohort_id, p)
    note(request, target=rec.cohort_id, counts={"count": rec.person_count}, result_hash=rec.result_hash)
    return ctx.service.view(rec, p)


@router.get(
    "/cohorts/{cohort_id}/stats",
    response_model=StatsOut,
    summary="Aggregate charts of a cohort",
    description="Age/sex pyramid (age at index, 10-year bands, 90+), index dates by month, and modalities "
    "and body parts of the cohort's imaging series (persons per category). Small cells suppressed for "
    "researchers, with complementary suppression where a total would give them away.",
    responses=responses(401, 403, 404, 409, 503, 504),
)
def cohort_stats(cohort_id: CohortId, request: Request, ctx: Ctx, p: ResearcherKey) -> StatsOut:
    rec = ctx.service.cohort_for(cohort_id, p)
    out, audit = ctx.service.stats(rec, p)
    note(request, target=rec.cohort_id, **audit)
    return out


@router.post(
    "/cohorts/{cohort_id}/release-request",
    response_model=CohortResult,
    summary="Request a manifest release",
    description="Asks a data steward to review this cohort for a de-identified imaging manifest release.",
    responses=responses(401, 403, 404, 409),
)
def request_release(cohort_id: CohortId, request: Request, ctx: Ctx, p: ResearcherKey) -> CohortResult:
    rec = ctx.service.request_release(ctx.service.cohort_for(cohort_id, p), p)
    note(request, target=rec.cohort_id, details={"release": rec.release_status})
    return ctx.service.view(rec, p)


@router.post(
    "/cohorts/{cohort_id}/approve",
    response_model=CohortResult,
    summary="Approve a release (steward)",
    description="Re-runs the cohort, checks it still has the persons of the reviewed run (keyed result hash) "
    "and approves it for export clients. A steward cannot approve a run made with their own key.",
    responses=responses(401, 403, 404, 409, 503, 504),
)
def approve(cohort_id: CohortId, request: Request, ctx: Ctx, p: StewardKey) -> CohortResult:
    rec = ctx.service.approve(ctx.service.cohort_for(cohort_id, p), p)
    note(request, target=rec.cohort_id, result_hash=rec.approved_hash, details={"release": "approved"})
    return ctx.service.view(rec, p)
