"""GET /v1/health — liveness and readiness, without a key (reveals nothing about the data)."""

from __future__ import annotations

import sqlite3

import duckdb
from fastapi import APIRouter

from cohort_engine.api.context import Ctx
from cohort_engine.api.errors import ApiError
from cohort_engine.api.schemas import HealthOut

try:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    __version__ = _version("cohort-engine")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0"

router = APIRouter(prefix="/v1", tags=["health"])


@router.get(
    "/health",
    response_model=HealthOut,
    summary="Is the service up?",
    description="No API key needed. `mart` and `state` say whether each answered a trivial query.",
)
def health(ctx: Ctx) -> HealthOut:
    mart_ok = state_ok = True
    try:
        with ctx.pool.connection(wait_s=5) as con:
            con.execute("SELECT 1").fetchall()
    except (duckdb.Error, ApiError, OSError):  # busy, gone, locked or broken: not ready
        mart_ok = False
    try:
        ctx.state.ping()
    except (sqlite3.Error, OSError):
        state_ok = False
    return HealthOut(
        status="ok" if mart_ok and state_ok else "degraded",
        version=__version__,
        mart=mart_ok,
        mart_name=ctx.settings.mart_name,
        state=state_ok,
    )
