"""The one function that turns an exact person count into what a researcher sees (``docs/PRIVACY.md``).

Keyed, consistent noise plus a threshold, in the style of i2b2/SHRINE obfuscation: a cell's noise is
a deterministic function of the server secret and the **set of persons behind the cell** (its
:func:`person_set_digest`), so the same question asked again, or the same persons reached by another
phrasing, always shows the same number (nothing to average away), while two cells whose person sets
differ by one person get independent draws. A noisy count below the threshold ``k`` shows as
``"<k"``. The noise is bounded by ``k − 2`` at most, so a cell of 0 or 1 person never shows a number:
an empty cell and a one-person cell look alike.

Why not ``opendp``'s samplers: they draw from the operating system's randomness on every call, which
is what differential privacy wants and exactly what consistent noise must not do (a fresh draw per
ask averages away). The sampler here is an inverse-CDF draw from a truncated discrete Gaussian with
the uniform taken from the HMAC, small enough to test exhaustively.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from cohort_engine.api.suppression import DEFAULT_K, Cell, hidden_with_row, small

__all__ = [
    "DEFAULT_K",
    "Protector",
    "digest_of_text",
    "digest_sql",
    "noise",
    "person_set_digest",
    "person_set_text",
    "person_set_text_sql",
    "shown",
]
#: Standard deviation of the (untruncated) discrete Gaussian noise.
NOISE_SD = 2.5
#: Largest absolute noise (further capped at ``k − 2``, so that 0 and 1 person never show a number).
NOISE_BOUND = 7

#: The SQL (DuckDB) of :func:`person_set_digest` over a column or expression: NULLs and duplicates
#: dropped, ids sorted as numbers, joined with commas, MD5; an empty set is ``md5('')``.
#: Why one ordered ``list(DISTINCT …)`` rather than ``list_sort(list_distinct(list(…)))``: the
#: aggregate dedupes while it collects instead of building a list of every row's id first (2–3.6×
#: faster on the 1M mart, ``benchmarks/bench_digest_sql.py``), and sqlglot renders it as
#: ``ARRAY_AGG(DISTINCT … ORDER BY …)``, which PostgreSQL runs too (the old shape rendered to
#: ``ARRAY_DISTINCT``, which PostgreSQL lacks).
#: The NULL a CASE leaves in the list is skipped by ``array_to_string`` (a list of only NULLs
#: gives NULL in DuckDB, ``''`` in PostgreSQL: ``md5('')`` either way).
PERSON_SET_DIGEST_SQL = "COALESCE(md5(array_to_string(list(DISTINCT {expr} ORDER BY {expr}), ',')), md5(''))"

#: The text the digest hashes (ids distinct, sorted as numbers, comma-joined; ``''`` for no person),
#: in SQL: for a caller that needs more than the digest from the same set (the API's keyed result hash
#: of a run), so that the set is collected once, in the database, rather than fetched row by row.
PERSON_SET_TEXT_SQL = "COALESCE(array_to_string(list(DISTINCT {expr} ORDER BY {expr}), ','), '')"

EMPTY_DIGEST = hashlib.md5(b"").hexdigest()


def person_set_text(person_ids: Iterable[int]) -> str:
    """The canonical text of a set of persons (what :func:`person_set_digest` hashes; never shown)."""
    return ",".join(str(i) for i in sorted({int(i) for i in person_ids}))


def digest_of_text(text: str | None) -> str:
    """:func:`person_set_digest` of the persons whose :func:`person_set_text` is ``text``."""
    return hashlib.md5((text or "").encode()).hexdigest()


def person_set_digest(person_ids: Iterable[int]) -> str:
    """An unkeyed fingerprint of a set of persons (never shown; only fed to :func:`noise`)."""
    return digest_of_text(person_set_text(person_ids))


def digest_sql(expr: str) -> str:
    """:data:`PERSON_SET_DIGEST_SQL` for one expression (an aggregate: use it where COUNT(DISTINCT) goes)."""
    return PERSON_SET_DIGEST_SQL.format(expr=expr)


def person_set_text_sql(expr: str) -> str:
    """:data:`PERSON_SET_TEXT_SQL` for one expression (an aggregate, like :func:`digest_sql`)."""
    return PERSON_SET_TEXT_SQL.format(expr=expr)


def noise_bound(k: int) -> int:
    return max(0, min(NOISE_BOUND, k - 2))


@lru_cache(maxsize=64)
def _cdf(bound: int, sd: float) -> tuple[float, ...]:
    """Cumulative probabilities of a discrete Gaussian truncated to ``-bound…bound``."""
    weights = [math.exp(-(x * x) / (2 * sd * sd)) for x in range(-bound, bound + 1)]
    total = sum(weights)
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return tuple(out)


def draw(u: float, bound: int, sd: float = NOISE_SD) -> int:
    """The noise value at quantile ``u`` (0 ≤ u < 1) of the truncated discrete Gaussian."""
    if bound <= 0:
        return 0
    for i, c in enumerate(_cdf(bound, sd)):
        if u < c:
            return i - bound
    return bound


def noise(secret: bytes, digest: str, k: int, measure: str = "persons") -> int:
    """The noise of one cell: keyed by the server secret, the person set and what is counted."""
    mac = hmac.new(secret, f"disclosure-noise/v1/{measure}/{digest}".encode(), hashlib.sha256).digest()
    u = int.from_bytes(mac[:8], "big") / 2**64
    return draw(u, noise_bound(k))


def shown(n: int, secret: bytes, digest: str, k: int, measure: str = "persons") -> Cell:
    """THE function: an exact count of the persons with this digest, as a researcher sees it."""
    noisy = max(0, int(n) + noise(secret, digest, k, measure))
    if noisy < k:
        return small(k)
    return Cell(value=noisy, display=str(noisy), suppressed=False)


@dataclass(frozen=True)
class Protector:
    """:func:`shown` bound to one server secret and threshold (what views hand around)."""

    secret: bytes
    k: int

    def seal(self, digest: str) -> str:
        """A person-set fingerprint keyed with the secret: what is stored with a run (a stolen
        stored run cannot be matched against guessed person sets without the secret)."""
        return hmac.new(self.secret, f"person-set/v1/{digest}".encode(), hashlib.sha256).hexdigest()

    def cell(self, n: int, digest: str | None, measure: str = "persons") -> Cell:
        return shown(n, self.secret, digest or EMPTY_DIGEST, self.k, measure)

    def funnel(self, counts: Sequence[int], digests: Sequence[str | None]) -> list[Cell]:
        """Funnel steps, each protected, then clamped: a step never shows more than the one above it
        (and after a ``"<k"`` step every later step is ``"<k"``)."""
        out: list[Cell] = []
        for n, d in zip(counts, digests, strict=True):
            c = self.cell(n, d)
            if out:
                above = out[-1]
                if above.value is None:
                    c = small(self.k)
                elif c.value is not None and c.value > above.value:
                    c = Cell(value=above.value, display=above.display)
            out.append(c)
        return out

    def image_counts(self, persons: Cell, counts: Mapping[str, int], digest: str | None) -> dict[str, Cell]:
        """A row's image counts (``{"studies": n, "series": n, …}``), keyed by the row's persons and
        the measure's name: hidden with a ``"<k"`` person cell; otherwise noisy, and never below the
        shown persons (each of them has at least one study, series and instance in the row).
        The same persons and measure give the same value in the answer and in the charts."""
        if persons.value is None:
            return {name: hidden_with_row() for name in counts}
        out: dict[str, Cell] = {}
        for name, n in counts.items():
            v = max(persons.value, int(n) + noise(self.secret, digest or EMPTY_DIGEST, self.k, name))
            out[name] = Cell(value=v, display=str(v))
        return out
