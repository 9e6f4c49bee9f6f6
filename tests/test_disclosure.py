"""The one disclosure function (api.disclosure): keyed, consistent noise plus a threshold.

Why: every count a researcher sees goes through it, so its promises are the model's promises
(docs/PRIVACY.md) — the same persons always give the same number, one person more gives an
independent draw, the noise is bounded and centred, and 0 or 1 person never shows a number.
"""

from __future__ import annotations

import random
import statistics

import duckdb
import pytest

from cohort_engine.api.disclosure import (
    DEFAULT_K,
    NOISE_BOUND,
    NOISE_SD,
    _cdf,
    digest_sql,
    draw,
    noise,
    noise_bound,
    person_set_digest,
    shown,
)

SECRET = b"s" * 32
OTHER_SECRET = b"t" * 32


def test_default_threshold_is_pcornets() -> None:
    assert DEFAULT_K == 11 and NOISE_BOUND == 7


@pytest.mark.parametrize(
    "a,b,same",
    [
        ([1, 2, 3], [3, 2, 1], True),
        ([1, 2, 3], [1, 1, 2, 3, 3], True),
        ([1, 2, 3], [1, 2], False),
        ([10, 2], [2, 10], True),
        ([12], [1, 2], False),  # "12" vs "1,2": the separator keeps sets apart
        ([], [], True),
    ],
)
def test_person_set_digest_is_a_set_fingerprint(a: list[int], b: list[int], same: bool) -> None:
    assert (person_set_digest(a) == person_set_digest(b)) is same


@pytest.mark.parametrize("ids", [[], [7], [3, 1, 2], [100, 9, 10, 9, 1], list(range(1, 500, 7))])
def test_sql_digest_equals_the_python_digest(ids: list[int]) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (person_id BIGINT, keep BOOLEAN)")
    for i in ids:
        con.execute("INSERT INTO t VALUES (?, true)", [i])
    con.execute("INSERT INTO t VALUES (NULL, true), (424242, false)")
    got = con.execute(f"SELECT {digest_sql('CASE WHEN keep THEN person_id END')} FROM t").fetchone()
    assert got == (person_set_digest(ids),)
    empty = con.execute(f"SELECT {digest_sql('person_id')} FROM t WHERE false").fetchone()
    assert empty == (person_set_digest([]),)


@pytest.mark.parametrize(
    "u,bound,value",
    [
        (0.0, 7, -7),
        (0.5, 7, 0),
        (0.999999, 7, 7),
        (0.3, 0, 0),
        (0.0, 3, -3),
        (0.999999, 3, 3),
    ],
)
def test_draw_is_the_inverse_cdf(u: float, bound: int, value: int) -> None:
    assert draw(u, bound) == value


@pytest.mark.parametrize("k,bound", [(11, 7), (20, 7), (9, 7), (5, 3), (2, 0), (1, 0)])
def test_noise_bound_keeps_zero_and_one_below_k(k: int, bound: int) -> None:
    assert noise_bound(k) == bound
    assert 1 + bound < k or bound == 0


def test_noise_is_deterministic_per_secret_and_person_set() -> None:
    d = person_set_digest([1, 2, 3])
    assert {noise(SECRET, d, 11) for _ in range(5)} == {noise(SECRET, d, 11)}
    assert noise(SECRET, person_set_digest([3, 2, 1]), 11) == noise(SECRET, d, 11)
    # Another secret, another measure: other (independent) draws — over many sets, mostly different.
    sets = [person_set_digest(range(1, n)) for n in range(2, 300)]
    assert sum(noise(SECRET, s, 11) != noise(OTHER_SECRET, s, 11) for s in sets) > 200
    assert sum(noise(SECRET, s, 11) != noise(SECRET, s, 11, "series") for s in sets) > 200


def test_one_person_more_is_an_independent_draw() -> None:
    """Cohorts that differ by one person: their draws agree only as often as two independent draws do
    (Σ p² ≈ 0.16 for sd 2.5), and the shown difference is not the true difference of 1."""
    rnd = random.Random(11)
    pairs = []
    for _ in range(3000):
        base = rnd.sample(range(1, 10_000), rnd.randint(20, 60))
        extra = next(i for i in iter(lambda: rnd.randint(1, 10_000), None) if i not in base)
        pairs.append(
            (noise(SECRET, person_set_digest(base), 11), noise(SECRET, person_set_digest([*base, extra]), 11))
        )
    equal = sum(a == b for a, b in pairs) / len(pairs)
    cdf = (0.0, *_cdf(7, NOISE_SD))
    independent = sum((cdf[i + 1] - cdf[i]) ** 2 for i in range(15))  # ≈ 0.113
    assert abs(equal - independent) < 0.02
    xs, ys = zip(*pairs, strict=True)
    assert abs(statistics.correlation(xs, ys)) < 0.06
    # Shown difference (n+1+b) − (n+a) = 1 exactly only when the draws agree: as rare as above.
    assert sum(b - a + 1 == 1 for a, b in pairs) / len(pairs) == equal


@pytest.mark.parametrize("k", [11, 5])
def test_noise_distribution_is_bounded_and_centred(k: int) -> None:
    draws = [noise(SECRET, person_set_digest([i, i + 1]), k) for i in range(20_000)]
    bound = noise_bound(k)
    assert min(draws) == -bound and max(draws) == bound
    assert abs(statistics.fmean(draws)) < 0.1
    if k == 11:
        assert 2.3 < statistics.pstdev(draws) < 2.6  # sd 2.5, barely truncated at ±7
    assert abs(sum(d < 0 for d in draws) - sum(d > 0 for d in draws)) < 0.03 * len(draws)


@pytest.mark.parametrize("k", [11, 5, 20])
def test_threshold(k: int) -> None:
    bound = noise_bound(k)
    for n in range(0, k + bound + 5):
        for i in range(40):
            d = person_set_digest([n * 1000 + i])
            c = shown(n, SECRET, d, k)
            if c.value is None:
                assert c.display == f"<{k}" and c.suppressed
                assert n + noise(SECRET, d, k) < k
            else:
                assert c.value == n + noise(SECRET, d, k) >= k and c.display == str(c.value)
                assert not c.suppressed
            if n <= 1:
                assert c.value is None  # an empty cell and a one-person cell look alike
            if n >= k + bound:
                assert c.value is not None
