"""GET /v1/audit — read the append-only audit log (stewards and admins). There is no write endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Query

from cohort_engine.api.auth import StewardKey
from cohort_engine.api.context import Ctx
from cohort_engine.api.errors import responses
from cohort_engine.api.schemas import AuditOut, AuditPage

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="Read the audit log",
    description="Entries after `after` (a sequence number), oldest first; `chain_ok` re-verifies the hash "
    "chain of the whole log.",
    responses=responses(401, 403, 422),
)
def read_audit(
    ctx: Ctx,
    p: StewardKey,
    after: int = Query(default=0, ge=0, le=2**62),
    limit: int = Query(default=200, ge=1, le=1000),
) -> AuditPage:
    entries = ctx.state.audit.entries(after=after, limit=limit)
    ok, _ = ctx.state.audit.verify()
    return AuditPage(
        entries=[
            AuditOut(
                seq=e.seq,
                at=e.at,
                key_id=e.key_id,
                role=e.role,
                method=e.method,
                endpoint=e.endpoint,
                target=e.target,
                status=e.status,
                spec=e.spec,
                counts=e.counts,
                result_hash=e.result_hash,
                details=e.details,
            )
            for e in entries
        ],
        chain_ok=ok,
        next_after=entries[-1].seq if len(entries) == limit else None,
    )
