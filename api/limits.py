"""The API's own bounds on what one request may ask for (how many overrides, how long a mention).

The spec bounds its own fields (``cohort_engine.spec``: concept ids, windows, ages, dates, list
lengths; no ``inf``/``NaN``), so a spec that breaks them never gets past request validation, and every
door (CLI, API, LLM, gold specs) refuses it alike. What stays here is about requests, not specs: the
overrides of an ask or run are an API input with no spec model around them.
"""

from __future__ import annotations

from collections.abc import Mapping

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
