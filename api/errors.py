"""One error shape for every failure: ``{"error": {"code": "...", "message": "..."}}``.

Messages are written for a person (what went wrong, what to do). They never carry a stack trace, a
value from the mart, or a value the client sent (pydantic's ``input`` is dropped from validation
errors, since a client may have typed an identifier into a field).
"""

from __future__ import annotations

import logging
import secrets
import traceback

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cohort_engine.api.state import ReleaseStateError

log = logging.getLogger("cohort.api")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. 'forbidden', 'validation_error'.")
    message: str = Field(description="What went wrong and what to do, for a human.")
    rule: str | None = Field(default=None, description="SQL guard rule, for rejected SQL.")
    where: str | None = Field(
        default=None, description="Offending SQL fragment (identifiers only), for rejected SQL."
    )
    fields: list[dict] | None = Field(default=None, description="Per-field problems, for validation errors.")


class ErrorBody(BaseModel):
    error: ErrorDetail

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"error": {"code": "forbidden", "message": "This endpoint needs the steward or admin role."}}
            ]
        }
    }


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: object
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = {k: v for k, v in extra.items() if v is not None}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}}
    return JSONResponse(body, status_code=status, headers=headers)


#: Standard error responses for the OpenAPI document.
def responses(*statuses: int) -> dict[int | str, dict]:
    text = {
        400: "The request cannot be carried out as given.",
        401: "Missing or unknown API key.",
        403: "The key's role may not do this.",
        404: "No such resource.",
        409: "The resource is not in a state that allows this.",
        422: "The request body or parameters are invalid.",
        503: "The mart is unavailable or busy.",
        504: "The query ran past its time limit.",
    }
    return {s: {"model": ErrorBody, "description": text.get(s, "Error.")} for s in statuses}


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


def _loc(loc: tuple | list) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
        return f"{where}: {'.'.join(rest)}" if rest else where
    return ".".join(parts)


def _readable(errors: list[dict]) -> tuple[str, list[dict]]:
    fields = []
    for e in errors[:20]:
        msg = str(e.get("msg", "invalid value"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        fields.append({"location": _loc(e.get("loc", ())), "problem": msg})
    summary = "; ".join(f"{f['location']}: {f['problem']}" for f in fields[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"The request is invalid — {summary}{more}.", fields


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(ReleaseStateError)
    async def _release_state(request: Request, exc: ReleaseStateError) -> JSONResponse:
        # A race the endpoint's own check could not see (two stewards at once): the state file decides.
        return error_response(409, "release_state", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, fields = _readable(list(exc.errors()))
        return error_response(422, "validation_error", message, fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            message = "There is nothing at this address; see /docs for the API."
        elif exc.status_code == 405:
            message = "This method is not allowed here; see /docs for the API."
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        ref = secrets.token_hex(4)
        # The type only: exception text may quote data or input.
        # Frames (file, line, code) help the operator; no exception message, no locals.
        frames = "".join(traceback.format_tb(exc.__traceback__)[-8:])
        log.error(
            "unexpected %s on %s %s (ref %s)\n%s",
            type(exc).__name__,
            request.method,
            request.url.path,
            ref,
            frames,
        )
        return error_response(
            500,
            "internal_error",
            "Something went wrong on the server; nothing was changed. "
            f"Quote reference {ref} to the operator.",
        )
