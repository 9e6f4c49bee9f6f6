"""Small-cell suppression of the person counts that researchers see.

Researchers get counts, never rows; a count of 1–4 people can still single someone out, so every
count below ``k`` (default 5) is shown as ``"<5"``. Stewards, export clients and admins see exact
counts. Zero is shown as 0 (an empty cell identifies nobody).

Suppressing each number on its own is not enough when numbers are related, because the hidden
value can come back by subtraction. Three cases:

**Attrition funnel** (persons left after each rule, non-increasing). If the funnel shows 100 and then
97, the step dropped exactly 3 people: a small cell, although neither number is small. So, walking the
funnel from the top, a step whose count is 1…k−1 below the last exactly shown count is shown as the
band of all such values — ``"96–99"`` after an exact 100 with k = 5 (``"2–5"`` after an exact 6: the
band is always k−1 wide, so it never pins a value down, small or not); otherwise a count of 1…k−1 is
``"<5"`` and any other count is exact. Later steps keep being compared with the last *exact* count, so
no two exact numbers ever differ by 1…k−1, and a band tells no more than ``"<5"`` does: that fewer than
k people were dropped. The cohort count is the last step, shown the same way.

**Partitions** (age/sex pyramid, index months: every person is in exactly one cell, and the total is
known). After the primary suppression of cells below k, if the hidden cells could be recovered from
the total (one hidden cell, or hidden cells summing to fewer than k), the next smallest cells are
hidden too, until the hidden cells together hold at least k people (complementary suppression).

**Overlapping categories** (one person in several cells) — no cell is the total minus the others, so
primary suppression is applied (:func:`suppress_each`). The imaging charts are such categories for
persons but carry image counts too; they follow the next rule.

**Rows keyed by persons** (the cohort's images per modality or body part: persons, then studies,
series, instances). A row whose person count is 1…k−1 shows persons as ``"<5"`` and hides its other
counts with it (``"suppressed"``): "1 study, 2 series" would pin the persons down. A row with k or
more persons can show every count: each of its persons has at least one study, series and instance
there, so those counts are at least k too. Persons overlap across modalities (one person can have CT
and MR), so no total across the rows gives a hidden person count back, and none is shown. Series
(and instances), however, *do* partition: every series has exactly one modality and one body part,
and summing the body-part chart gives the total number of series — minus the shown modality rows,
that would be the hidden row's series. So the image counts of these rows get complementary
suppression like a partition: while fewer than two rows are hidden, or the hidden rows hold fewer
than k series, the image counts of the row with the fewest series are hidden too (its persons stay
shown: persons do not add up). The same rule, on the same numbers, gives the same cells in the ask
answer (``imaging``) and in the modality chart of ``/stats``.

Not covered by any per-answer rule: differencing *across* queries (ask for a cohort, then for the
same cohort with one more condition, and subtract). That is mitigated, not prevented, by the audit
log (every query, its spec and its exact counts are recorded for stewards to review) and by
researchers getting no row-level data at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

DEFAULT_K = 5


class Cell(BaseModel):
    """A person count as shown: ``value`` is None when suppressed; ``display`` is always set."""

    value: int | None
    display: str
    suppressed: bool = False


def exact(n: int) -> Cell:
    return Cell(value=int(n), display=str(int(n)))


def small(k: int) -> Cell:
    return Cell(value=None, display=f"<{k}", suppressed=True)


def suppress_count(n: int | None, k: int) -> Cell | None:
    if n is None:
        return None
    return small(k) if 0 < n < k else exact(n)


def suppress_attrition(counts: Sequence[int], k: int) -> list[Cell]:
    """Funnel counts as shown to researchers (see the module docstring)."""
    out: list[Cell] = []
    last_exact: int | None = None
    for n in counts:
        n = int(n)
        if last_exact is not None and 0 < last_exact - n < k:
            # Fewer than k dropped since the last exact count: show the band of every value that
            # would be shown this way (width k-1 whatever n is, so n is never pinned down).
            lo, hi = max(1, last_exact - k + 1), last_exact - 1
            out.append(Cell(value=None, display=f"{lo}–{hi}" if lo < hi else f"<{k}", suppressed=True))
        elif 0 < n < k:
            out.append(small(k))
        else:
            out.append(exact(n))
            last_exact = n
    return out


def suppress_partition(counts: Sequence[int], k: int) -> list[Cell]:
    """Cells of a partition of a known total, with complementary suppression."""
    values = [int(n) for n in counts]
    hidden = {i for i, n in enumerate(values) if 0 < n < k}
    if hidden:
        candidates = sorted((n, i) for i, n in enumerate(values) if n > 0 and i not in hidden)
        while candidates and (len(hidden) < 2 or sum(values[i] for i in hidden) < k):
            _, i = candidates.pop(0)
            hidden.add(i)
    return [
        Cell(value=None, display=f"<{k}" if values[i] < k else "suppressed", suppressed=True)
        if i in hidden
        else exact(values[i])
        for i in range(len(values))
    ]


def suppressed_other() -> Cell:
    """An image count hidden with its row (not a small count itself: see the module docstring)."""
    return Cell(value=None, display="suppressed", suppressed=True)


def suppress_rows(
    rows: Sequence[tuple[int, Sequence[int]]], k: int, *, partition: int = 0
) -> list[tuple[Cell, list[Cell]]]:
    """Rows of ``(persons, [other counts])`` as shown to researchers (see the module docstring).

    ``partition`` is the index, among the other counts, of the one that partitions across the rows
    (series): complementary suppression keeps the hidden rows at two or more holding at least k of it.
    """
    persons = [int(n) for n, _ in rows]
    part = [int(others[partition]) if others else 0 for _, others in rows]
    hidden = {i for i, n in enumerate(persons) if 0 < n < k}
    if hidden:
        candidates = sorted((part[i], i) for i in range(len(rows)) if i not in hidden and part[i] > 0)
        while candidates and (len(hidden) < 2 or sum(part[i] for i in hidden) < k):
            hidden.add(candidates.pop(0)[1])
    out: list[tuple[Cell, list[Cell]]] = []
    for i, (n, others) in enumerate(zip(persons, (o for _, o in rows), strict=True)):
        cell = small(k) if 0 < n < k else exact(n)
        out.append(
            (cell, [suppressed_other() for _ in others] if i in hidden else [exact(int(x)) for x in others])
        )
    return out


def suppress_each(counts: Sequence[int], k: int) -> list[Cell]:
    """Primary suppression only, for overlapping categories."""
    return [small(k) if 0 < int(n) < k else exact(int(n)) for n in counts]
