"""Count cells and the threshold: the shapes of the disclosure model of ``docs/PRIVACY.md``.

Researchers see aggregate counts of **persons** only, and every such count passes through one
function, :func:`cohort_engine.api.disclosure.shown`: keyed, consistent noise (a deterministic draw
from the server secret and the set of persons behind the cell) plus a threshold — a noisy count below
``k`` (default 11, PCORnet's) shows as ``"<k"``. That covers the cohort count, every step of the
attrition funnel (clamped so that a step never shows more than the one above it), the age/sex
pyramid, the index months, the modality and body-part charts, and the imaging rows of an answer.
Researchers do not run ad-hoc SQL (``/v1/sql`` is for stewards and admins): no pattern-matching of
SQL can stop a count from leaving inside an expression.

Stewards, admins and export clients see exact counts (``exact``).

What is *not* here any more: per-answer rules (bands after an exact funnel step, complementary
suppression of partitions). Noise makes them unnecessary — a difference of two noisy counts is not a
count — and they broke across answers (a funnel band and an exact chart differed by one person).
"""

from __future__ import annotations

from pydantic import BaseModel

#: PCORnet's small-cell threshold: counts below 11 are not released to researchers.
DEFAULT_K = 11


class Cell(BaseModel):
    """A count as shown: ``value`` is None when hidden; ``display`` is always set (``"<11"``, ``"42"``)."""

    value: int | None
    display: str
    suppressed: bool = False


def exact(n: int) -> Cell:
    return Cell(value=int(n), display=str(int(n)))


def small(k: int) -> Cell:
    return Cell(value=None, display=f"<{k}", suppressed=True)


def hidden_with_row() -> Cell:
    """An image count hidden because its row's persons are below the threshold (not a count itself)."""
    return Cell(value=None, display="suppressed", suppressed=True)
