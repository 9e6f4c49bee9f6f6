"""POST /v1/sql — one guarded, read-only SELECT, for stewards and admins (researchers: 403)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cohort_engine.api.audit import note, text_digest
from cohort_engine.api.auth import HeavyResearcherKey
from cohort_engine.api.context import Ctx
from cohort_engine.api.errors import responses
from cohort_engine.api.guarded_sql import check_sql_allowed
from cohort_engine.api.schemas import SqlRequest, SqlResult

router = APIRouter(prefix="/v1", tags=["sql"])


@router.post(
    "/sql",
    response_model=SqlResult,
    summary="Run guarded SQL",
    description=(
        "One read-only SELECT over the catalogued OMOP tables, checked by the SQL guard (identifying columns "
        "never come out, whoever asks). For data stewards and admins only, who may select rows. Researchers "
        "get 403: a count can leave ad-hoc SQL inside any expression, so they use the typed aggregates "
        "(`/v1/ask`, `/v1/cohorts`, `/v1/cohorts/{id}/stats`), whose every count is noisy and thresholded "
        "(docs/PRIVACY.md). A rejected query answers 400 with the guard's `rule` and `where`."
    ),
    responses=responses(400, 401, 403, 422, 503, 504),
)
def run_sql(body: SqlRequest, request: Request, ctx: Ctx, p: HeavyResearcherKey) -> SqlResult:
    note(request, details={"sql": text_digest(body.sql)})
    check_sql_allowed(p)
    out, audit = ctx.service.sql(body, p)
    note(request, **audit)
    return out
