"""POST /v1/ask — a question in English or Korean → status, spec, read-back, clarifications, SQL,
attrition and count (stored as a cohort run when it parses)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cohort_engine.api.audit import note, text_digest
from cohort_engine.api.auth import HeavyResearcherKey
from cohort_engine.api.context import Ctx
from cohort_engine.api.errors import ApiError, responses
from cohort_engine.api.schemas import AskRequest, CohortResult

router = APIRouter(prefix="/v1", tags=["ask"])


@router.post(
    "/ask",
    response_model=CohortResult,
    summary="Ask a cohort question",
    description=(
        "Parses the question, resolves its clinical terms in the mart's vocabulary, compiles and runs the "
        "cohort, and answers with the read-back, resolved codes, SQL, attrition and count. `status` is `ok`, "
        "`clarify` (see `clarifications`; pick a choice and resend with `overrides`), `refused` or `error`. "
        "Researchers see noisy counts of persons (keyed, consistent noise: the same persons always give the "
        "same number) and '<k' below the threshold `k`, never rows or person ids (docs/PRIVACY.md). "
        "`imaging` counts the cohort's indexed images per modality (null without a DICOM index). "
        "`parser` picks the reader "
        "(`rule`, default; `llm`; `hybrid`); `llm`/`hybrid` on a server without a chat model answer 409 "
        "`parser_unavailable`, saying what the operator sets."
    ),
    responses=responses(401, 403, 409, 422, 503, 504),
)
def ask(body: AskRequest, request: Request, ctx: Ctx, p: HeavyResearcherKey) -> CohortResult:
    served = ctx.settings.mart
    if body.mart is not None and body.mart not in (served.name, served.stem):
        raise ApiError(422, "unknown_mart", f"This server serves the mart “{served.name}” only.")
    result, audit = ctx.service.ask(body.question, body.overrides, p, parser=body.parser)
    note(
        request,
        spec=result.spec.model_dump(mode="json") if result.spec else None,
        details={
            "question": text_digest(body.question),
            "status": result.status,
            "parser": body.parser,
            "overrides": sorted(body.overrides),
        },
        **{k: v for k, v in audit.items() if k != "status"},
    )
    return result
