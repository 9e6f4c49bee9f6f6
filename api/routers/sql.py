"""POST /v1/sql — one guarded, read-only SELECT."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cohort_engine.api.audit import note, text_digest
from cohort_engine.api.auth import ResearcherKey
from cohort_engine.api.context import Ctx
from cohort_engine.api.errors import responses
from cohort_engine.api.schemas import SqlRequest, SqlResult

router = APIRouter(prefix="/v1", tags=["sql"])


@router.post(
    "/sql",
    response_model=SqlResult,
    summary="Run guarded SQL",
    description=(
        "One read-only SELECT over the catalogued OMOP tables, checked by the SQL guard (identifying columns "
        "never come out, whoever asks). Researchers may only run aggregate queries, and aggregates over "
        "fewer than k rows come back as '<k'. Stewards and admins may select rows. A rejected query answers "
        "400 with the guard's `rule` and `where`."
    ),
    responses=responses(400, 401, 403, 422, 503, 504),
)
def run_sql(body: SqlRequest, request: Request, ctx: Ctx, p: ResearcherKey) -> SqlResult:
    note(request, details={"sql": text_digest(body.sql)})
    out, audit = ctx.service.sql(body, p)
    note(request, **audit)
    return out
