"""Table 1 shares (``api/views.py``): a share shown is never above 100 % and never made from a hidden
cell, although researchers' row counts and totals are noisy each on their own persons."""

from __future__ import annotations

import pytest

from cohort_engine.api.characterise import PersonCount, Table1Rows
from cohort_engine.api.disclosure import Protector, person_set_digest
from cohort_engine.api.suppression import Cell, exact, small
from cohort_engine.api.views import share_percent, table1_view

K = 11


def shown(n: int) -> Cell:
    """A noisy count as a researcher sees it (not suppressed)."""
    return Cell(value=n, display=str(n))


@pytest.mark.parametrize(
    ("part", "total", "expected"),
    [
        (shown(6), shown(13), 46.2),  # an ordinary share, rounded to one decimal
        (shown(15), shown(15), 100.0),
        (shown(18), shown(15), 100.0),  # the noisy row above the noisy total: capped ("18 (120.0%)")
        (shown(200), shown(11), 100.0),
        (exact(3), exact(3), 100.0),  # exact counts of stewards are never above, the rule is the same
        (exact(0), exact(40), 0.0),
        (exact(1), exact(3), 33.3),
        (small(K), shown(40), None),  # "<k": no share of a hidden count
        (shown(12), small(K), None),  # nor of a hidden total
        (small(K), small(K), None),
        (
            Cell(value=12, display="12", suppressed=True),
            shown(40),
            None,
        ),  # a suppressed cell, whatever its value
        (shown(12), Cell(value=40, display="40", suppressed=True), None),
        (shown(12), exact(0), None),  # an empty cohort has no shares
        (Cell(value=None, display="–"), shown(40), None),
    ],
)
def test_share_percent(part: Cell, total: Cell, expected: float | None) -> None:
    assert share_percent(part, total) == expected


def _table(sex_count: PersonCount, persons: PersonCount) -> Table1Rows:
    return Table1Rows(
        persons=persons,
        age_mean=None,
        age_sd=None,
        age_bands=[],
        sexes=[("FEMALE", sex_count)],
        concepts={},
        labs=[],
        deaths={},
        imaging=[],
    )


def test_researchers_table1_row_above_its_total_shows_100_percent() -> None:
    """Every person of a 15-person cohort is female; the row's noise lands above the total shown."""
    protector = Protector(secret=b"s" * 32, k=K)
    total = shown(15)
    # the first person set (15 consecutive ids) whose noisy count of 15 shows above 15
    for offset in range(1000):
        digest = person_set_digest(range(offset, offset + 15))
        row = protector.cell(15, protector.seal(digest))
        if row.value is not None and row.value > total.value:  # type: ignore[operator]
            break
    else:  # pragma: no cover - the noise is symmetric, some set lands above within a few tries
        pytest.fail("no person set shows above its count")
    everyone = PersonCount(15, digest)
    out = table1_view(
        [_table(everyone, everyone), _table(everyone, everyone)],
        ["a", "b"],
        [total, total],
        privileged=False,
        protector=protector,
        k=K,
    )
    (female,) = [r for r in out.rows if r.section == "sex"]
    assert [c.persons.value for c in female.cells] == [row.value, row.value]  # type: ignore[union-attr]
    assert [c.percent for c in female.cells] == [100.0, 100.0]
    assert female.smd == 0.0


def test_researchers_table1_hidden_row_has_no_percent() -> None:
    """A row of two persons is always "<k" for researchers: no share, no SMD."""
    protector = Protector(secret=b"s" * 32, k=K)
    two = PersonCount(2, person_set_digest([1, 2]))
    cohort = PersonCount(40, person_set_digest(range(40)))
    out = table1_view([_table(two, cohort)], ["a"], [shown(40)], privileged=False, protector=protector, k=K)
    (female,) = [r for r in out.rows if r.section == "sex"]
    assert female.cells[0].persons == small(K)
    assert female.cells[0].percent is None
