"""Audit of every request: who (key id and role), when, what (method and route), the spec, the counts
and a hash of the result, appended to the hash-chained, append-only ``audit_log`` table.

A pure ASGI middleware, so that streamed responses (manifests) are hashed chunk by chunk and audited
when they finish. Endpoints add what they know (spec, exact counts, the cohort's result hash) with
:func:`note`. Free text (the question, SQL) is recorded as a SHA-256, never as text: a question may
quote an identifier, and the audit log is a log.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("cohort.audit")

_KEY = "cohort_audit"


def note(request: Request, **fields: Any) -> None:
    """Attach audit fields (spec, counts, result_hash, target, details) to the current request."""
    bag = request.scope.setdefault("state", {}).setdefault(_KEY, {})
    spec = fields.get("spec")
    if isinstance(spec, dict) and spec.get("title"):
        # The parser fills the title with the question text: free text, recorded as a digest.
        fields["spec"] = {**spec, "title": text_digest(str(spec["title"]))}
    for k, v in fields.items():
        if k == "details" and isinstance(v, dict):
            bag.setdefault("details", {}).update(v)
        else:
            bag[k] = v


def text_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        digest = hashlib.sha256()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            await send(message)
            # Recorded once sent: a response whose headers could not go out is audited as a 500,
            # not as the status the endpoint meant.
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            elif message["type"] == "http.response.body":
                digest.update(message.get("body", b""))

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            await self._record(scope, state, status["code"], digest.hexdigest())

    async def _record(self, scope: Scope, state: dict, status: int, body_hash: str) -> None:
        app = scope.get("app")
        ctx = getattr(getattr(app, "state", None), "ctx", None)
        if ctx is None:
            return
        principal = state.get("principal")
        bag: dict[str, Any] = state.get(_KEY, {})
        route = scope.get("route")
        endpoint = getattr(route, "path", None) or "(unmatched)"
        target = bag.get("target")
        if target is None:
            params = scope.get("path_params") or {}
            target = next(iter(params.values()), None) if params else None
        entry = dict(
            key_id=getattr(principal, "key_id", None),
            role=getattr(principal, "role", None),
            method=scope.get("method", ""),
            endpoint=endpoint,
            status=status,
            target=str(target)[:200] if target is not None else None,
            spec=bag.get("spec"),
            counts=bag.get("counts"),
            result_hash=bag.get("result_hash") or f"sha256:{body_hash}",
            details=bag.get("details"),
        )
        try:
            await anyio.to_thread.run_sync(lambda: ctx.state.audit.append(**entry))
        except Exception as e:  # the response is already sent; say so loudly, with no data
            log.error("audit append failed: %s", type(e).__name__)
