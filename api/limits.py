"""The API's own bounds on what one request may ask for (how many overrides, how long a mention) and
on how many heavy requests one key may have running at once (:class:`KeyConcurrency`).

The spec bounds its own fields (``cohort_engine.spec``: concept ids, windows, ages, dates, list
lengths; no ``inf``/``NaN``), so a spec that breaks them never gets past request validation, and every
door (CLI, API, LLM, gold specs) refuses it alike. What stays here is about requests, not specs: the
overrides of an ask or run are an API input with no spec model around them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from cohort_engine.api.errors import ApiError

MAX_OVERRIDES = 100
MAX_MENTION_CHARS = 200
MAX_OVERRIDE_IDS = 5000


def check_overrides(overrides: Mapping[str, list[int]]) -> None:
    """``422 validation_error`` for more overrides, longer mentions or more ids than a person picks.

    The ids' range is the schema's (:data:`cohort_engine.spec.ConceptId`)."""
    if len(overrides) > MAX_OVERRIDES:
        raise ApiError(422, "validation_error", f"At most {MAX_OVERRIDES} overrides.")
    for term, ids in overrides.items():
        if not term.strip() or len(term) > MAX_MENTION_CHARS:
            raise ApiError(
                422, "validation_error", f"Override mentions must be 1–{MAX_MENTION_CHARS} characters."
            )
        if not ids or len(ids) > MAX_OVERRIDE_IDS:
            raise ApiError(
                422, "validation_error", f"Overrides need 1–{MAX_OVERRIDE_IDS} concept ids per mention."
            )


class KeyConcurrency:
    """How many heavy requests each key has in flight, at most ``per_key`` at once.

    Why per key and not only the mart pool's global bound: one key firing many slow asks would
    otherwise take every pool slot and every DuckDB thread, and everyone else would wait behind it.
    """

    def __init__(self, per_key: int) -> None:
        if per_key < 1:
            raise ValueError("per_key must be at least 1")
        self.per_key = per_key
        self._lock = threading.Lock()
        self._inflight: dict[str, int] = {}

    def in_flight(self, key_id: str) -> int:
        with self._lock:
            return self._inflight.get(key_id, 0)

    @contextmanager
    def slot(self, key_id: str) -> Iterator[None]:
        """Hold one of ``key_id``'s slots for the block; ``429 too_many_requests`` when none is free."""
        with self._lock:
            n = self._inflight.get(key_id, 0)
            if n >= self.per_key:
                raise ApiError(
                    429,
                    "too_many_requests",
                    f"This key already has {self.per_key} heavy requests (ask, sql, stats, manifest) "
                    "running; wait for one to finish and try again.",
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
            self._inflight[key_id] = n + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._inflight[key_id] - 1
                if left:
                    self._inflight[key_id] = left
                else:
                    del self._inflight[key_id]


#: Seconds a client told 429 should wait before trying again.
RETRY_AFTER_S = 2
_APP_LOCK = threading.Lock()


def key_concurrency(app: Any) -> KeyConcurrency:
    """The app's :class:`KeyConcurrency`, made on first use from ``settings.max_inflight_per_key``
    (kept on ``app.state`` so that each app instance, e.g. each test's, counts on its own)."""
    limiter = getattr(app.state, "key_concurrency", None)
    if limiter is None:
        with _APP_LOCK:
            limiter = getattr(app.state, "key_concurrency", None)
            if limiter is None:
                limiter = KeyConcurrency(app.state.ctx.settings.max_inflight_per_key)
                app.state.key_concurrency = limiter
    return limiter
