"""Saved, reusable concept sets: a spec names one with `concepts.codeset`."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Request, Response, UploadFile

from cohort_engine.api.audit import note
from cohort_engine.api.auth import ResearcherKey
from cohort_engine.api.codesets import CodesetImports
from cohort_engine.api.context import Ctx
from cohort_engine.api.errors import responses
from cohort_engine.api.routers.uploads import SizedRoute
from cohort_engine.api.schemas import (
    CodesetImportOut,
    CodesetIn,
    CodesetOut,
    CodesetUpdate,
    CodesetVersionOut,
)
from cohort_engine.spec import Domain

router = APIRouter(prefix="/v1", tags=["codesets"], route_class=SizedRoute)

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


@router.post(
    "/codesets/import",
    response_model=CodesetImportOut,
    status_code=201,
    summary="Import a code set from a CSV of codes",
    description="A CSV (or XLSX) with a header row, one code per row: a `code` column and a `vocabulary` "
    "column (ICD10CM, KCD7 where the mart has it, SNOMED, LOINC, RxNorm, ATC, EDI; ‘ICD-10-CM’, ‘KCD-7’ "
    "and a dotless ICD code are read too). Codes are resolved through the mart's `concept` table; the "
    "report lists the rows that did not resolve and why. An existing set you may change gets a new "
    "version (old versions stay readable: `GET /v1/codesets/{name}/versions`). Code sets are shared: every "
    "key can read and use them.",
    responses=responses(401, 403, 409, 413, 422),
)
def import_codeset(
    request: Request,
    response: Response,
    ctx: Ctx,
    p: ResearcherKey,
    file: Annotated[UploadFile, File(description="The codes: .csv or .xlsx.")],
    name: Annotated[str, Form(min_length=1, max_length=64, description="The code set's name.")],
    description: Annotated[str, Form(max_length=500)] = "",
    domain: Annotated[Domain | None, Form()] = None,
    code_column: Annotated[str, Form(min_length=1, max_length=100)] = "code",
    vocabulary_column: Annotated[str, Form(min_length=1, max_length=100)] = "vocabulary",
    encoding: Annotated[Literal["utf-8", "cp949"], Form()] = "utf-8",
) -> CodesetImportOut:
    out = CodesetImports(ctx.codesets).import_file(
        p,
        name=name,
        stream=file.file,
        filename=file.filename or "",
        description=description,
        domain=domain.value if domain else None,
        code_column=code_column,
        vocabulary_column=vocabulary_column,
        encoding=encoding,
    )
    note(
        request,
        target=out.codeset.name,
        details={"concepts": len(out.codeset.concept_ids), "version": out.codeset.version},
    )
    response.headers["Location"] = "/v1/codesets/" + quote(out.codeset.name, safe="")
    return out


@router.get(
    "/codesets/{name}/versions",
    response_model=list[CodesetVersionOut],
    summary="Every version of a code set",
    responses=responses(401, 403, 404),
)
def codeset_versions(name: CodesetName, ctx: Ctx, p: ResearcherKey) -> list[CodesetVersionOut]:
    return CodesetImports(ctx.codesets).versions(name)


@router.get(
    "/codesets/{name}/versions/{version}",
    response_model=CodesetVersionOut,
    summary="One version of a code set",
    responses=responses(401, 403, 404),
)
def codeset_version(
    name: CodesetName,
    version: Annotated[int, Path(ge=1, le=1_000_000)],
    ctx: Ctx,
    p: ResearcherKey,
) -> CodesetVersionOut:
    return CodesetImports(ctx.codesets).version(name, version)


@router.get(
    "/cohorts/{cohort_id}/codesets",
    response_model=dict[str, int],
    summary="The code set versions a cohort run used",
    description="`{name: version}` of each saved code set the run's spec named, as they were when it ran "
    "(read each with `GET /v1/codesets/{name}/versions/{version}`).",
    tags=["cohorts"],
    responses=responses(401, 403, 404),
)
def cohort_codesets(
    cohort_id: Annotated[str, Path(min_length=1, max_length=64)], ctx: Ctx, p: ResearcherKey
) -> dict[str, int]:
    rec = ctx.service.cohort_for(cohort_id, p)
    return ctx.state.cohort_codesets(rec.cohort_id)
