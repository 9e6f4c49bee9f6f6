"""API keys (``Authorization: Bearer ck_…``) and roles.

* ``researcher``: ask, run and refine cohorts, see counts (small cells suppressed), aggregate charts,
  read-back, SQL text; aggregate-only guarded SQL; manage code sets; request a release. No row-level
  data, no person ids.
* ``steward``: everything a researcher may, with exact counts; row-level guarded SQL (identifying
  columns never); review and approve releases; preview manifests; read the audit log.
* ``export_client``: read approved cohorts and download their de-identified manifests (directly or as
  export jobs).
* ``admin``: everything.

Nobody gets person ids from the API; manifests carry keyed pseudonyms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cohort_engine.api.errors import ApiError
from cohort_engine.api.limits import key_concurrency
from cohort_engine.api.sealing import owner_box_key
from cohort_engine.api.state import Role

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made with `cohort keys create --role …`, sent as `Authorization: Bearer ck_…`.",
)

PRIVILEGED: frozenset[str] = frozenset({"steward", "admin"})


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    name: str = ""
    #: Opens the runs this key made (``api/sealing.py``); derived from the key on each request, never stored.
    box_key: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def privileged(self) -> bool:
        """Sees exact counts and row-level (pseudonymous) samples."""
        return self.role in PRIVILEGED


def _authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or not credentials.credentials:
        raise ApiError(
            401, "unauthorized", "Send an API key as 'Authorization: Bearer <key>'.", headers=challenge
        )
    ctx = request.app.state.ctx
    rec = ctx.state.lookup_key(credentials.credentials.strip())
    if rec is None:
        raise ApiError(401, "unauthorized", "This API key is unknown or revoked.", headers=challenge)
    principal = Principal(
        key_id=rec.key_id,
        role=rec.role,
        name=rec.name,
        box_key=owner_box_key(credentials.credentials.strip()),
    )
    request.state.principal = principal
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    """Dependency: an authenticated key whose role is one of ``roles`` (admin always passes)."""
    allowed = frozenset(roles) | {"admin"}

    def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Principal:
        principal = _authenticate(request, credentials)
        if principal.role not in allowed:
            names = " or ".join(sorted(allowed))
            raise ApiError(
                403, "forbidden", f"This needs the {names} role; this key is a {principal.role} key."
            )
        return principal

    return dependency


def require_heavy(*roles: str) -> Callable[..., Iterator[Principal]]:
    """Dependency: :func:`require` ``(*roles)``, then one of the key's heavy-request slots, held until
    the request is answered (``429 too_many_requests`` with ``Retry-After`` when the key already has
    ``settings.max_inflight_per_key`` in flight). For routes that run queries on the mart."""
    role_dependency = require(*roles)

    def dependency(request: Request, principal: Principal = Depends(role_dependency)) -> Iterator[Principal]:
        with key_concurrency(request.app).slot(principal.key_id):
            yield principal

    return dependency


ANY_ROLE = ("researcher", "steward", "export_client", "admin")


#: Dependency aliases for routers.
AnyKey = Annotated[Principal, Depends(require(*ANY_ROLE))]
ResearcherKey = Annotated[Principal, Depends(require("researcher", "steward"))]
StewardKey = Annotated[Principal, Depends(require("steward"))]
ExportKey = Annotated[Principal, Depends(require("export_client", "steward"))]
#: The same roles, holding one of the key's heavy-request slots (ask, sql, stats, manifest).
HeavyResearcherKey = Annotated[Principal, Depends(require_heavy("researcher", "steward"))]
HeavyExportKey = Annotated[Principal, Depends(require_heavy("export_client", "steward"))]
