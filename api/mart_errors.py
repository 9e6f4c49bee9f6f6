"""The lower stages' failures as API errors, with messages for a person.

The guard, compiler and runner raise their own exceptions (``sql_guard.errors``); a service method
that touches the mart is wrapped in :func:`mart_errors`, so each failure has one status and code
wherever it happens: a time-out is 504, a mart that cannot be opened 503, SQL the guard refuses 400
with the rule it broke, a spec that cannot be compiled 409.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from cohort_engine.api.errors import ApiError
from cohort_engine.sql_guard.errors import CompileError, GuardError, MartError, QueryError, QueryTimeout

P = ParamSpec("P")
R = TypeVar("R")


def mart_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` with mart, guard and compiler failures turned into :class:`ApiError`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except QueryTimeout as e:
            raise ApiError(504, "query_timeout", str(e)) from None
        except QueryError as e:
            raise ApiError(400, "query_failed", f"The database could not run this query: {e}") from None
        except MartError as e:
            raise ApiError(503, "mart_unavailable", str(e)) from None
        except GuardError as e:
            raise ApiError(400, "sql_rejected", e.message, rule=str(e.rule), where=e.where or None) from None
        except CompileError as e:
            raise ApiError(409, "cannot_compile", str(e)) from None

    return wrapper
