"""The REST API and chat UI (FastAPI): ``create_app(mart)`` → an ASGI app; ``cohort serve`` runs it.

Everything under ``/v1`` (OpenAPI at ``/openapi.json``, docs at ``/docs``); the chat page at ``/``
with its assets under ``/static`` (no CDN: the page works without internet). ``/docs`` is Swagger UI
from the ``swagger-ui-bundle`` package's files, served at ``/docs-assets`` and started by
``static/docs.js``: FastAPI's default page loads Swagger UI from a CDN with an inline script, both of
which the app's own CSP blocks. See ``api.auth`` for the roles, ``api.disclosure`` for researchers'
noisy, thresholded counts (docs/PRIVACY.md), ``api.audit`` for the audit log; manifests are the release
stage's (``deid.manifest``), served by ``api.routers.manifest`` and ``api.jobs``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cohort_engine.api.audit import AuditMiddleware
from cohort_engine.api.codesets import CodesetService
from cohort_engine.api.context import AppContext
from cohort_engine.api.errors import install_handlers
from cohort_engine.api.jobs import JobRunner
from cohort_engine.api.pool import MartPool
from cohort_engine.api.release_requests import ReleaseRequests
from cohort_engine.api.routers import ask, audit, codesets, cohorts, health, jobs, manifest, sql
from cohort_engine.api.routers import requests as release_requests_router
from cohort_engine.api.routers import uploads as uploads_router
from cohort_engine.api.settings import (
    DEFAULT_MART_THREADS,
    DEFAULT_MAX_QUEUED,
    DEFAULT_POOL_SIZE,
    DEFAULT_QUEUE_WAIT_S,
    Settings,
)
from cohort_engine.api.state import StateStore, default_state_path
from cohort_engine.api.suppression import DEFAULT_K
from cohort_engine.api.uploads import ListAwareCohortService
from cohort_engine.nlq import morph
from cohort_engine.nlq.spacy_plugins import skip_plugin_factories

STATIC_DIR = Path(__file__).parent / "static"

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

TAGS = [
    {"name": "ask", "description": "Natural-language questions (English, Korean) → cohort."},
    {"name": "cohorts", "description": "Run specs, read runs, aggregate charts, release workflow."},
    {"name": "codesets", "description": "Saved, reusable concept sets referenced by `concepts.codeset`."},
    {"name": "uploads", "description": "Your own patient lists (CSV/XLSX), usable as rules of a spec."},
    {"name": "manifests", "description": "De-identified imaging manifests of approved cohorts."},
    {"name": "jobs", "description": "Long-running exports with status and progress."},
    {"name": "requests", "description": "Release requests: submit, committee review, release package."},
    {"name": "sql", "description": "Guarded, read-only SQL."},
    {"name": "audit", "description": "The append-only audit log (stewards, admins)."},
    {"name": "health", "description": "Liveness; no key needed."},
]

#: Who may do what, as the OpenAPI document's table shows it.
_ROLE_TABLE = (
    (
        "researcher",
        "ask, run and refine cohorts; counts (noisy, below k shown as `<k`; docs/PRIVACY.md), aggregate "
        "charts, read-back, SQL text; code sets; request a release. No ad-hoc SQL, no rows, no person ids.",
    ),
    (
        "steward",
        "as researcher with exact counts and row-level guarded SQL; approve releases; preview manifests; "
        "audit log.",
    ),
    ("export_client", "approved cohorts and their de-identified manifests and exports."),
    ("admin", "everything."),
)

DESCRIPTION = (
    """
Natural-language cohort queries over an OMOP CDM 5.4 mart (DuckDB, read-only).

**Auth.** Send `Authorization: Bearer <key>`; keys are made on the server with
`cohort keys create --role researcher|steward|export_client|admin` and stored only as hashes.

| role | may |
|---|---|
"""
    + "".join(f"| {role} | {may} |\n" for role, may in _ROLE_TABLE)
    + """
**Errors** are always `{"error": {"code": "...", "message": "..."}}`. Every request is audited.
"""
)


class SecurityHeaders:
    """No caching of answers; a strict CSP (the page may load nothing from elsewhere)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"no-referrer",
                    b"content-security-policy": _CSP.encode(),
                }
                if not scope.get("path", "").startswith(("/static/", "/docs-assets/")):
                    extra[b"cache-control"] = b"no-store"
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _warm_up() -> None:
    """Before the first question: spaCy without other packages' factories (``spacy_plugins``), then the
    Korean morphology."""
    skip_plugin_factories()
    morph.warm_up()


def _enough_threads(settings: Settings) -> None:
    """Room in the server's thread pool for every request the mart pool admits (running or waiting)
    and some to spare. Why: sync endpoints run on AnyIO's threads (40 by default); were they all taken
    by requests waiting for the mart, the rest (health, reads, the chat page's lists) would queue
    unseen behind them, and the mart pool's bound and ``503 busy`` would not be what decides."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    wanted = settings.max_concurrent_queries + settings.max_queued_queries + 16
    limiter.total_tokens = max(int(limiter.total_tokens), wanted)


def create_app(
    mart: Path,
    state_db: Path | None = None,
    *,
    k: int = DEFAULT_K,
    query_timeout_s: float = 30.0,
    max_concurrent_queries: int = DEFAULT_POOL_SIZE,
    max_queued_queries: int = DEFAULT_MAX_QUEUED,
    queue_wait_s: float = DEFAULT_QUEUE_WAIT_S,
    export_dir: Path | None = None,
    max_inflight_per_key: int = 4,
    mart_memory_limit: str | None = None,
    mart_threads: int | None = None,
) -> FastAPI:
    """Build the app over one mart. The state file defaults to ``<mart dir>/cohort_state.sqlite``."""
    mart = Path(mart)
    state_path = Path(state_db) if state_db else default_state_path(mart)
    settings = Settings(
        mart=mart,
        state_db=state_path,
        k=k,
        query_timeout_s=query_timeout_s,
        max_concurrent_queries=max_concurrent_queries,
        max_queued_queries=max_queued_queries,
        queue_wait_s=queue_wait_s,
        export_dir=export_dir or state_path.parent / "cohort_exports",
        max_inflight_per_key=max_inflight_per_key,
        mart_memory_limit=mart_memory_limit,
        mart_threads=mart_threads,
    )
    state = StateStore(state_path)
    pool = MartPool(
        mart,
        settings.max_concurrent_queries,
        max_waiting=settings.max_queued_queries,
        wait_s=settings.queue_wait_s,
        retry_after_s=settings.busy_retry_after_s,
        memory_limit=settings.mart_memory_limit,
        threads=settings.mart_threads,
    )
    service = ListAwareCohortService(settings, state, pool)  # runs see their owner's uploaded lists
    runner = JobRunner(state, settings.export_dir)  # type: ignore[arg-type]
    ctx = AppContext(
        settings=settings,
        state=state,
        pool=pool,
        service=service,
        codesets=CodesetService(state, pool),
        jobs=runner,
    )
    release_requests = ReleaseRequests(settings, state, pool, service, runner)  # sweeps expired packages

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Korean morphology loads in about a second; do it now, not on the first Korean question.
        threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
        _enough_threads(settings)
        release_requests.start_sweeper()
        yield
        release_requests.close()
        ctx.close()

    app = FastAPI(
        title="cohort-engine API",
        version="1",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # served below from local files (see the module docstring)
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.release_requests = release_requests
    install_handlers(app)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(SecurityHeaders)
    for r in (health, ask, cohorts, codesets, sql, jobs, manifest, audit):
        app.include_router(r.router)
    app.include_router(uploads_router.router)
    app.include_router(release_requests_router.router)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")

    _mount_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def swagger_ui_dir() -> Path | None:
    """The Swagger UI files of the ``swagger-ui-bundle`` package, or None when it is not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return Path(swagger_ui_path)


_NO_DOCS_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>cohort-engine API</title></head>'
    "<body><p>The interactive docs need the <code>swagger-ui-bundle</code> package; the API description "
    'is at <a href="/openapi.json">/openapi.json</a>.</p></body></html>'
)


def _mount_docs(app: FastAPI) -> None:
    assets = swagger_ui_dir()

    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    def docs() -> HTMLResponse:
        if assets is None:
            return HTMLResponse(_NO_DOCS_PAGE)
        return HTMLResponse((STATIC_DIR / "docs.html").read_text("utf-8"))

    if assets is not None:
        app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory api.app:app_from_env`` (and ``cohort serve --workers N``): mart from
    COHORT_MART, state from COHORT_STATE, k from COHORT_K, query time limit from COHORT_TIMEOUT, the
    mart connection's memory limit and threads from COHORT_MEMORY_LIMIT and COHORT_THREADS, heavy
    requests in flight per key from COHORT_MAX_INFLIGHT, the mart pool and its queue from
    COHORT_POOL_SIZE, COHORT_MAX_QUEUED and COHORT_QUEUE_WAIT."""
    mart = Path(os.environ.get("COHORT_MART", "demo/mart.duckdb"))
    state = os.environ.get("COHORT_STATE")
    return create_app(
        mart,
        Path(state) if state else None,
        k=int(os.environ.get("COHORT_K", DEFAULT_K)),
        query_timeout_s=float(os.environ.get("COHORT_TIMEOUT", "30")),
        max_inflight_per_key=int(os.environ.get("COHORT_MAX_INFLIGHT", "4")),
        mart_memory_limit=os.environ.get("COHORT_MEMORY_LIMIT") or None,
        mart_threads=int(os.environ.get("COHORT_THREADS") or DEFAULT_MART_THREADS),
        max_concurrent_queries=int(os.environ.get("COHORT_POOL_SIZE") or DEFAULT_POOL_SIZE),
        max_queued_queries=int(os.environ.get("COHORT_MAX_QUEUED") or DEFAULT_MAX_QUEUED),
        queue_wait_s=float(os.environ.get("COHORT_QUEUE_WAIT") or DEFAULT_QUEUE_WAIT_S),
    )
