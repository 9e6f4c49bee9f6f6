"""Saved, reusable concept sets: a spec names one with `concepts.codeset`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response

from cohort_engine.api.audit import note
from cohort_engine.api.auth import ResearcherKey
from cohort_engine.api.context import Ctx
from cohort_engine.api.errors import responses
from cohort_engine.api.schemas import CodesetIn, CodesetOut, CodesetUpdate

router = APIRouter(prefix="/v1", tags=["codesets"])

CodesetName = Annotated[str, Path(min_length=1, max_length=64, description="Code set name.")]


@router.get(
    "/codesets", response_model=list[CodesetOut], summary="List code sets", responses=responses(401, 403)
)
def list_codesets(ctx: Ctx, p: ResearcherKey) -> list[CodesetOut]:
    return ctx.codesets.list_all()


@router.get(
    "/codesets/{name}",
    response_model=CodesetOut,
    summary="Read a code set",
    responses=responses(401, 403, 404),
)
def get_codeset(request: Request, name: CodesetName, ctx: Ctx, p: ResearcherKey) -> CodesetOut:
    return ctx.codesets.get(name)


@router.post(
    "/codesets",
    response_model=CodesetOut,
    status_code=201,
    summary="Save a code set",
    responses=responses(401, 403, 409, 422),
)
def create_codeset(
    body: CodesetIn, request: Request, response: Response, ctx: Ctx, p: ResearcherKey
) -> CodesetOut:
    out = ctx.codesets.create(body, p)
    note(request, target=out.name, details={"concepts": len(out.concept_ids)})
    # Percent-encoded (RFC 3986): a header is Latin-1 on the wire, and a name may be Hangul.
    response.headers["Location"] = "/v1/codesets/" + quote(out.name, safe="")
    return out


@router.put(
    "/codesets/{name}",
    response_model=CodesetOut,
    summary="Replace a code set",
    description="Researchers may change the code sets they created; stewards and admins any.",
    responses=responses(401, 403, 404, 422),
)
def update_codeset(
    body: CodesetUpdate, request: Request, name: CodesetName, ctx: Ctx, p: ResearcherKey
) -> CodesetOut:
    out = ctx.codesets.update(name, body, p)
    note(request, target=out.name, details={"concepts": len(out.concept_ids), "version": out.version})
    return out


@router.delete(
    "/codesets/{name}", status_code=204, summary="Delete a code set", responses=responses(401, 403, 404)
)
def delete_codeset(request: Request, name: CodesetName, ctx: Ctx, p: ResearcherKey) -> Response:
    ctx.codesets.delete(name, p)
    return Response(status_code=204)
