"""A researcher's own patient lists (CSV or XLSX): upload, list, read, delete. A spec uses one as a rule
(``CohortSpec.lists``); responses carry counts only, never which identifiers matched."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Request, Response, UploadFile
from fastapi.routing import APIRoute

from cohort_engine.api.audit import note
from cohort_engine.api.auth import ResearcherKey
from cohort_engine.api.context import AppContext, Ctx
from cohort_engine.api.errors import ApiError, responses
from cohort_engine.api.schemas import UploadOut
from cohort_engine.api.upload_files import ERROR_CODES, MAX_BYTES, MAX_ROWS, Columns
from cohort_engine.api.uploads import UploadService

#: Room for the multipart framing and the form fields around the file.
_FORM_SLACK = 64 * 1024


class SizedRoute(APIRoute):
    """Refuses a body whose declared length is over the limit before it is read (``413``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_BYTES + _FORM_SLACK:
                raise ApiError(
                    413,
                    "file_too_large",
                    f"The upload has {int(length):,} bytes; at most {MAX_BYTES:,} are read. Split the list "
                    "or drop columns that are not needed.",
                )
            return await handler(request)

        return checked


router = APIRouter(prefix="/v1", tags=["uploads"], route_class=SizedRoute)

ListName = Annotated[str, Path(min_length=1, max_length=64, description="The list's name.")]
Column = Annotated[str | None, Form(min_length=1, max_length=100)]


def uploads_of(ctx: AppContext) -> UploadService:
    return UploadService(ctx.state, ctx.pool, ctx.service)


@router.post(
    "/uploads",
    response_model=UploadOut,
    status_code=201,
    summary="Upload your own patient list",
    description=f"A CSV (UTF-8, or cp949) or XLSX of up to {MAX_ROWS:,} patients, one per row under a header "
    "row: an identifier column (hospital MRNs, or pseudonyms of an earlier approved release of yours: "
    "`id_kind=pseudonym` with `release=<cohort id>`), optionally a number column (label, score) and a date "
    "column (YYYY-MM-DD). The list is stored whole or not at all, under your key and `name`; the answer "
    "says how many rows matched a patient and how many did not (below k shown as `<k`), never which. "
    "A spec then uses it as `lists: [{name, mode: include|exclude, value?, date_window?}]`. Bad files get "
    "a 4xx with the row number: "
    + ", ".join(f"`{c}`" for c in (*ERROR_CODES, "name_taken", "invalid_name", "unknown_release"))
    + ".",
    responses=responses(401, 403, 404, 409, 413, 422),
)
def upload_list(
    request: Request,
    response: Response,
    ctx: Ctx,
    p: ResearcherKey,
    file: Annotated[UploadFile, File(description="The list: .csv or .xlsx.")],
    name: Annotated[str, Form(min_length=1, max_length=64, description="Your name for the list.")],
    id_column: Annotated[str, Form(min_length=1, max_length=100, description="Header of the id column.")],
    id_kind: Annotated[Literal["mrn", "pseudonym"], Form()] = "mrn",
    release: Annotated[str | None, Form(max_length=64, description="Cohort id of the release.")] = None,
    value_column: Column = None,
    date_column: Column = None,
    sheet: Annotated[str | None, Form(min_length=1, max_length=100, description="XLSX sheet.")] = None,
    encoding: Annotated[Literal["utf-8", "cp949"], Form()] = "utf-8",
) -> UploadOut:
    out = uploads_of(ctx).upload(
        p,
        name=name,
        stream=file.file,
        filename=file.filename or "",
        columns=Columns(id_column=id_column, value_column=value_column, date_column=date_column),
        id_kind=id_kind,
        release=release,
        sheet=sheet,
        encoding=encoding,
    )
    note(request, target=out.name, details={"rows": out.rows, "id_kind": out.id_kind})
    response.headers["Location"] = "/v1/uploads/" + quote(out.name, safe="")
    return out


@router.get(
    "/uploads", response_model=list[UploadOut], summary="Your uploaded lists", responses=responses(401, 403)
)
def list_lists(ctx: Ctx, p: ResearcherKey) -> list[UploadOut]:
    return uploads_of(ctx).list_all(p)


@router.get(
    "/uploads/{name}",
    response_model=UploadOut,
    summary="Read one of your lists (counts only)",
    responses=responses(401, 403, 404, 422),
)
def get_list(name: ListName, ctx: Ctx, p: ResearcherKey) -> UploadOut:
    return uploads_of(ctx).get(p, name)


@router.delete(
    "/uploads/{name}",
    status_code=204,
    summary="Delete one of your lists",
    responses=responses(401, 403, 404, 422),
)
def delete_list(request: Request, name: ListName, ctx: Ctx, p: ResearcherKey) -> Response:
    uploads_of(ctx).delete(p, name)
    note(request, target=name)
    return Response(status_code=204)
