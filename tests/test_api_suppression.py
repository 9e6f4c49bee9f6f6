"""What researchers see of related counts (api.disclosure.Protector): funnels and imaging rows.

Why: noise on each count alone is not the whole rule — a funnel must not rise (a step cannot have
more persons than the one above), a "<k" step hides every later one, and a row's image counts must
hide with its persons, or "1 study, 2 series" would pin a small row down.
"""

from __future__ import annotations

import random

import pytest

from cohort_engine.api.disclosure import Protector, person_set_digest
from cohort_engine.api.suppression import DEFAULT_K, Cell, exact, hidden_with_row, small

P = Protector(secret=b"k" * 32, k=DEFAULT_K)


def test_cell_shapes() -> None:
    assert exact(12) == Cell(value=12, display="12", suppressed=False)
    assert small(11) == Cell(value=None, display="<11", suppressed=True)
    assert hidden_with_row() == Cell(value=None, display="suppressed", suppressed=True)


def _token(ids) -> str:
    return P.seal(person_set_digest(ids))


def test_sealed_tokens_are_keyed() -> None:
    d = person_set_digest([1, 2])
    assert P.seal(d) == P.seal(d) != Protector(secret=b"j" * 32, k=11).seal(d) and d not in P.seal(d)


@pytest.mark.parametrize("seed", range(6))
def test_funnel_is_clamped_and_small_steps_hide_the_rest(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(300):
        ids = list(range(1, rnd.choice([3, 12, 15, 30, 80]) + 1))
        steps = [ids]
        for _ in range(rnd.randint(1, 4)):
            steps.append([i for i in steps[-1] if rnd.random() > rnd.choice([0.0, 0.05, 0.3, 0.9])])
        counts = [len(s) for s in steps]
        cells = P.funnel(counts, [_token(s) for s in steps])
        own = [P.cell(n, _token(s)) for n, s in zip(counts, steps, strict=True)]
        assert cells[0] == own[0]
        for i in range(1, len(cells)):
            above, here = cells[i - 1], cells[i]
            if above.value is None or own[i].value is None:
                assert here == small(11)
            else:
                assert here.value == min(above.value, own[i].value) and here.display == str(here.value)


def test_funnel_table() -> None:
    # Same person set on two steps (a rule that drops nobody): the same draw, so the same number.
    ids = list(range(1, 41))
    cells = P.funnel([40, 40, 2, 2], [_token(ids), _token(ids), _token([1, 2]), _token([1, 2])])
    assert cells[0] == cells[1] and cells[0].value is not None and abs(cells[0].value - 40) <= 7
    assert cells[2:] == [small(11), small(11)]
    assert P.funnel([], []) == []


def test_image_counts_hide_with_their_persons_and_never_undercut_them() -> None:
    counts = {"studies": 3, "series": 4, "instances": 400}
    assert P.image_counts(small(11), counts, _token([1, 2, 3])) == {m: hidden_with_row() for m in counts}
    for n in range(11, 60):
        tok = _token(range(n))
        persons = P.cell(n, tok)
        if persons.value is None:
            continue
        got = P.image_counts(persons, {"studies": n, "series": n, "instances": 30 * n}, tok)
        assert all(c.value is not None and c.value >= persons.value for c in got.values())
        assert abs(got["instances"].value - 30 * n) <= 7
        # Consistent: the same persons and measure give the same number wherever they are shown.
        assert got["series"] == P.image_counts(persons, {"series": n}, tok)["series"]
