"""Two releases of one cohort under two project keys cannot be joined on their quasi-identifiers.

The attack of issue 11: the same 13 patients released under two project keys, every patient's rows
summarised by their (days_from_index, modality, n_instances, total_bytes) tuples, the best one-to-one
matching between the two releases by the number of equal tuples.  On exact values it links 13/13; on
the released rows it must link no more than random matching does (1 expected) plus a small margin.
Rows come from :func:`deid.manifest.manifest_row`, which every manifest format and the REST API use.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from cohort_engine.deid.manifest import ImagingRecord, manifest_row
from cohort_engine.deid.policy import ReleasePolicy, jitter_count, jitter_days, pseudonym

SECRET = "linkage-test-secret-9f8e7d6c5b4a39281706"
MODALITIES = ("CT", "MR", "CR", "US", "XA", "DX")


def cohort(persons: int = 13, seed: int = 11) -> list[ImagingRecord]:
    """Persons with 1-4 studies of 1-3 series each, offsets within a year of a spread-out index."""
    rng = random.Random(seed)
    out: list[ImagingRecord] = []
    for pid in range(1, persons + 1):
        index = dt.date(2021, 3, 15) + dt.timedelta(days=rng.randint(0, 700))
        for s in range(rng.randint(1, 4)):
            days = rng.randint(-365, 365)
            when = index + dt.timedelta(days=days)
            for k in range(rng.randint(1, 3)):
                n = rng.randint(1, 300)
                out.append(
                    ImagingRecord(
                        person_id=pid,
                        index_date=index,
                        study_uid=f"1.2.826.0.1.{pid}.{s}",
                        series_uid=f"1.2.826.0.1.{pid}.{s}.{k}",
                        modality=rng.choice(MODALITIES),
                        body_part=None,
                        study_date=when,
                        series_date=when,
                        study_description=None,
                        series_description=None,
                        n_instances=n,
                        total_bytes=n * 524_288 + rng.randint(0, 9_999),
                        days_from_index=days,
                        criteria=(),
                        identifiers=(),
                    )
                )
    return out


def best_matching(score: Sequence[Sequence[float]]) -> dict[int, int]:
    """Maximum-weight one-to-one matching of a square score matrix (Hungarian method, O(n^3))."""
    n = len(score)
    top = max((max(r) for r in score), default=0.0)
    cost = [[top - score[i][j] for j in range(n)] for i in range(n)]
    inf = float("inf")
    u, v, p, way = [0.0] * (n + 1), [0.0] * (n + 1), [0] * (n + 1), [0] * (n + 1)
    for i in range(1, n + 1):
        p[0], j0 = i, 0
        minv, used = [inf] * (n + 1), [False] * (n + 1)
        while True:
            used[j0], i0, delta, j1 = True, p[j0], inf, 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    return {p[j] - 1: j - 1 for j in range(1, n + 1)}


def _tuples(rows: list[dict[str, Any]]) -> dict[str, Counter[tuple[Any, ...]]]:
    out: dict[str, Counter[tuple[Any, ...]]] = {}
    for r in rows:
        qi = (r["days_from_index"], r["modality"], r["n_instances"], r["total_bytes"])
        out.setdefault(r["patient"], Counter())[qi] += 1
    return out


def correct_links(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]], truth: dict[str, str]) -> int:
    """Links the attack makes with evidence (at least one equal tuple) that are right."""
    a, b = _tuples(rows_a), _tuples(rows_b)
    ka, kb = sorted(a), sorted(b)
    score = [[float(sum((a[x] & b[y]).values())) for y in kb] for x in ka]
    match = best_matching(score)
    return sum(1 for i, j in match.items() if score[i][j] > 0 and truth[ka[i]] == kb[j])


def _exact_rows(records: list[ImagingRecord]) -> list[dict[str, Any]]:
    """What the release held before issue 11: the exact values (person ids stand for pseudonyms)."""
    return [
        {
            "patient": str(r.person_id),
            "days_from_index": r.days_from_index,
            "modality": r.modality,
            "n_instances": r.n_instances,
            "total_bytes": r.total_bytes,
        }
        for r in records
    ]


def test_matching_finds_the_best_assignment() -> None:
    assert best_matching([[1, 5, 0], [4, 1, 0], [0, 0, 2]]) == {0: 1, 1: 0, 2: 2}
    assert best_matching([[0, 0], [0, 3]]) == {0: 0, 1: 1}


def test_exact_quasi_identifiers_link_every_patient() -> None:
    """The attack works: on exact values (the old release) it links all 13 patients."""
    records = cohort()
    ids = {str(r.person_id) for r in records}
    assert len(ids) == 13 and 25 <= len({r.study_uid for r in records}) <= 40
    assert correct_links(_exact_rows(records), _exact_rows(records), {i: i for i in ids}) == 13


@pytest.mark.slow
def test_two_project_keys_link_no_more_than_chance() -> None:
    records = cohort()
    p1 = ReleasePolicy(project_key="lung-ct-a", secret=SECRET)
    p2 = ReleasePolicy(project_key="lung-ct-b", secret=SECRET)
    rows1 = [manifest_row(r, p1) for r in records]
    rows2 = [manifest_row(r, p2) for r in records]
    truth = {pseudonym(p1, str(i)): pseudonym(p2, str(i)) for i in range(1, 14)}
    # Random one-to-one matching gets 1 link right on average; the margin allows 2 more.
    assert correct_links(rows1, rows2, truth) <= 3
    # Other cohorts and keys too: never above chance plus the margin.
    for seed in (1, 2, 3):
        recs = cohort(persons=30, seed=seed)
        a = ReleasePolicy(project_key=f"k{seed}-a", secret=SECRET)
        b = ReleasePolicy(project_key=f"k{seed}-b", secret=SECRET)
        t = {pseudonym(a, str(i)): pseudonym(b, str(i)) for i in range(1, 31)}
        assert correct_links([manifest_row(r, a) for r in recs], [manifest_row(r, b) for r in recs], t) <= 3


@pytest.mark.slow
def test_jitter_is_stable_within_a_release_and_bounded() -> None:
    """Same release, same values (a re-download cannot average the jitter away); bounded error."""
    records = cohort()
    policy = ReleasePolicy(project_key="lung-ct-a", secret=SECRET)
    again = ReleasePolicy(project_key="lung-ct-a", secret=SECRET)
    assert [manifest_row(r, policy) for r in records] == [manifest_row(r, again) for r in records]
    for r in records:
        row = manifest_row(r, policy)
        assert r.days_from_index is not None and r.n_instances is not None and r.total_bytes is not None
        assert -15 <= row["days_from_index"] - r.days_from_index <= 14  # P = 30 values around 0
        assert abs(row["n_instances"] - r.n_instances) <= max(2, r.n_instances * 15 // 100)
        assert abs(row["total_bytes"] - r.total_bytes) <= r.total_bytes * 15 // 100
    # One jitter per patient: intervals between a patient's own offsets stay exact.
    by_patient: dict[int, set[int]] = {}
    for r in records:
        assert r.days_from_index is not None
        by_patient.setdefault(r.person_id, set()).add(
            manifest_row(r, policy)["days_from_index"] - r.days_from_index
        )
    assert all(len(j) == 1 for j in by_patient.values())
    assert len({next(iter(j)) for j in by_patient.values()}) > 5  # but differs between patients


def test_jitter_helpers_edge_values() -> None:
    policy = ReleasePolicy(project_key="lung-ct-a", secret=SECRET)
    assert jitter_days(policy, "1", None) is None and jitter_count(policy, "1", None) is None
    assert jitter_count(policy, "1", 0) == 0
    assert all(jitter_count(policy, str(k), 1) in (1, 2, 3) for k in range(50))
    exact = ReleasePolicy(
        project_key="lung-ct-a", secret=SECRET, date_precision_days=1, finer_precision_approved=True
    )
    assert jitter_days(exact, "1", 17) == 17
