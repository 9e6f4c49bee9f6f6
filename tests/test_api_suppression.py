"""Small-cell suppression rules (api.suppression), table-driven, plus the no-subtraction property.

Why: a count of 1–4 people shown to a researcher can single someone out, and so can the difference of
two shown counts; these tests pin both, whatever the funnel looks like.
"""

from __future__ import annotations

import itertools
import random

import pytest

from cohort_engine.api.suppression import (
    suppress_attrition,
    suppress_count,
    suppress_each,
    suppress_partition,
)

K = 5


@pytest.mark.parametrize(
    "counts,shown",
    [
        ([1210, 11], ["1210", "11"]),
        ([40, 13], ["40", "13"]),
        ([40, 2], ["40", "<5"]),
        ([40, 38], ["40", "36–39"]),
        ([100, 97, 94, 3, 0], ["100", "96–99", "94", "<5", "0"]),
        ([100, 98, 96, 90, 2], ["100", "96–99", "96–99", "90", "<5"]),
        ([6, 5, 2, 0], ["6", "2–5", "2–5", "0"]),
        ([3, 2, 0], ["<5", "<5", "0"]),
        ([0, 0], ["0", "0"]),
        ([5, 5, 0], ["5", "5", "0"]),
    ],
)
def test_attrition_table(counts: list[int], shown: list[str]) -> None:
    assert [c.display for c in suppress_attrition(counts, K)] == shown


def _funnels(n: int = 3000) -> list[list[int]]:
    rnd = random.Random(7)
    out = []
    for _ in range(n):
        steps = [rnd.choice([0, 1, 3, 5, 6, 9, 12, 40, 100])]
        for _ in range(rnd.randint(1, 5)):
            steps.append(max(0, steps[-1] - rnd.choice([0, 0, 1, 2, 3, 4, 5, 6, 20])))
        out.append(steps)
    return out


@pytest.mark.parametrize("k", [2, 5, 11])
def test_no_small_cell_is_exact_or_derivable_by_subtraction(k: int) -> None:
    for counts in _funnels():
        cells = suppress_attrition(counts, k)
        exact = [c.value for c in cells if c.value is not None]
        assert all(v == 0 or v >= k for v in exact), counts
        assert all(not 0 < abs(a - b) < k for a, b in itertools.combinations(exact, 2)), counts
        for c, n in zip(cells, counts, strict=True):
            if c.suppressed and "–" in c.display:
                lo, hi = map(int, c.display.split("–"))
                assert lo <= n <= hi and hi - lo == k - 2, (counts, c.display)  # a band never pins n down


@pytest.mark.parametrize(
    "counts,shown",
    [
        ([10, 20, 30], ["10", "20", "30"]),
        ([10, 3, 20, 7], ["10", "<5", "20", "suppressed"]),  # one hidden cell would follow from the total
        ([10, 1, 1, 20, 7], ["10", "<5", "<5", "20", "suppressed"]),  # 1 + 1 < k: hide more
        ([3, 4], ["<5", "<5"]),
        ([0, 12], ["0", "12"]),
    ],
)
def test_partition_table(counts: list[int], shown: list[str]) -> None:
    assert [c.display for c in suppress_partition(counts, K)] == shown


def test_partition_hidden_cells_hold_at_least_k() -> None:
    rnd = random.Random(3)
    for _ in range(2000):
        counts = [rnd.choice([0, 1, 2, 4, 5, 8, 30]) for _ in range(rnd.randint(1, 8))]
        cells = suppress_partition(counts, K)
        hidden = [n for n, c in zip(counts, cells, strict=True) if c.suppressed]
        shown = [n for n, c in zip(counts, cells, strict=True) if not c.suppressed]
        assert all(v == 0 or v >= K for v in shown)
        if hidden and len(hidden) < len(counts):
            assert len(hidden) >= 2 and sum(hidden) >= K or not any(shown), counts


def test_single_counts() -> None:
    assert suppress_count(None, K) is None
    cells = [suppress_count(n, K) for n in (0, 1, 4, 5)]
    assert [c.display if c else None for c in cells] == ["0", "<5", "<5", "5"]
    assert [c.display for c in suppress_each([1, 6, 0], K)] == ["<5", "6", "0"]


# -- rows keyed by persons (imaging per modality / body part) ------------------------------------------------


def _shown(rows: list[tuple[int, list[int]]]) -> list[tuple[str, list[str]]]:
    from cohort_engine.api.suppression import suppress_rows

    return [(p.display, [c.display for c in o]) for p, o in suppress_rows(rows, K, partition=1)]


@pytest.mark.parametrize(
    "rows,shown",
    [
        # nothing small: every count exact
        ([(13, [13, 13, 500]), (6, [6, 6, 120])], [("13", ["13", "13", "500"]), ("6", ["6", "6", "120"])]),
        # a small row hides its image counts; one hidden row is complemented by the row with the fewest series
        (
            [(13, [13, 13, 500]), (6, [6, 6, 120]), (2, [2, 2, 40])],
            [("13", ["13", "13", "500"]), ("6", ["suppressed"] * 3), ("<5", ["suppressed"] * 3)],
        ),
        # two hidden rows holding ≥ k series need nothing more
        (
            [(20, [30, 40, 900]), (3, [3, 4, 50]), (2, [2, 3, 30])],
            [("20", ["30", "40", "900"]), ("<5", ["suppressed"] * 3), ("<5", ["suppressed"] * 3)],
        ),
        # a lone small row (nothing to complement with) is still hidden
        ([(2, [2, 2, 40])], [("<5", ["suppressed"] * 3)]),
        ([(0, [0, 0, 0])], [("0", ["0", "0", "0"])]),
    ],
)
def test_imaging_rows_table(rows, shown) -> None:
    assert _shown(rows) == shown


def test_imaging_rows_hidden_series_cannot_be_pinned_by_a_total() -> None:
    """Series partition across rows: whatever total is known elsewhere, the hidden rows are ≥ 2 and hold
    ≥ k series (or every row with series is hidden); persons are never complemented (they overlap across
    rows)."""
    from cohort_engine.api.suppression import suppress_rows

    rnd = random.Random(11)
    for _ in range(2000):
        rows = []
        for _ in range(rnd.randint(1, 6)):
            persons = rnd.choice([0, 1, 2, 4, 5, 8, 30])
            series = persons + rnd.choice([0, 0, 1, 3, 10])
            rows.append((persons, [series, series + rnd.choice([0, 2]), series * 20]))
        cells = suppress_rows(rows, K, partition=1)
        hidden = [r[1][1] for r, (_, o) in zip(rows, cells, strict=True) if o[1].suppressed]
        for (persons, others), (pc, oc) in zip(rows, cells, strict=True):
            assert pc.display == ("<5" if 0 < persons < K else str(persons))
            assert pc.suppressed == (0 < persons < K)
            assert pc.suppressed <= all(c.suppressed for c in oc)  # a small row hides all its image counts
            assert all(c.value in (None, x) for c, x in zip(oc, others, strict=True))
        shown_series = [
            r[1][1] for r, (_, o) in zip(rows, cells, strict=True) if not o[1].suppressed and r[1][1] > 0
        ]
        if hidden and shown_series:
            assert len(hidden) >= 2 and sum(hidden) >= K, rows
