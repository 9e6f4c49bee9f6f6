"""Guarded ad-hoc SQL: who may run it, and how its values travel as JSON.

Only stewards and admins run SQL (``POST /v1/sql``). Researchers do not: a count can leave a query
inside any expression (``COUNT(*) FILTER``, ``SUM(CASE …)``, a scalar subquery, ``HAVING``, a set
operation, arithmetic, a conversion error's text), and a per-person value inside ``MAX(CASE WHEN
person_id = 1 …)``; no pattern-matching of SQL can find them all. Researchers get the typed
aggregates instead (ask, cohorts, stats), every number through ``api.disclosure`` (docs/PRIVACY.md).
"""

from __future__ import annotations

from typing import Any

from cohort_engine.api.auth import Principal
from cohort_engine.api.errors import ApiError

SQL_FORBIDDEN_MESSAGE = (
    "Ad-hoc SQL is for data stewards and admins. Researchers get aggregate counts of persons through "
    "the typed endpoints: POST /v1/ask or POST /v1/cohorts (cohort count and attrition funnel, imaging "
    "per modality) and GET /v1/cohorts/{id}/stats (age/sex pyramid, index months, modality and body-part "
    "charts). Ask a data steward for anything else."
)


def check_sql_allowed(p: Principal) -> None:
    """403 for anyone but stewards and admins (see the module docstring for why)."""
    if p.role not in ("steward", "admin"):
        raise ApiError(403, "forbidden", SQL_FORBIDDEN_MESSAGE)


def jsonable(v: Any) -> Any:
    """A result value as JSON can carry it (dates as ISO text, anything else odd as text)."""
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)
