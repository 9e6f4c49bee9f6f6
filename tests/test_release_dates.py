"""A cohort's own index window must not turn shifted dates back into real ones (issue 11, item 2).

The attack: a cohort whose index date range is one day tells everyone each patient's real index date;
the shifted ``index_date`` of the manifest then *is* the patient's shift, and every shifted date turns
back into a real one (33/33 before the fix).  Here an attacker who knows the mechanism and the spec but
not the secret enumerates every (jitter, shift) the released values allow: each real study date must
stay ambiguous over at least the stated precision.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from typing import Any

import pytest
from pydantic import ValidationError

from cohort_engine.deid.export import files_policy
from cohort_engine.deid.manifest import ImagingRecord, manifest_row
from cohort_engine.deid.policy import (
    UNBOUNDED_WINDOW_DAYS,
    ReleasePolicy,
    date_period,
    dates_pinned,
    index_window_days,
    period_granularity,
    release_date,
    shift_da,
)
from cohort_engine.spec import CohortSpec

SECRET = "dates-test-secret-4b7e1c9a2f6d8e0b3a5c"
DAY = dt.date(2021, 3, 15)


def one_day_spec() -> CohortSpec:
    return CohortSpec.model_validate(
        {"index": {"domain": "condition", "date_range": {"start": DAY.isoformat(), "end": DAY.isoformat()}}}
    )


def one_day_cohort(persons: int = 13, seed: int = 3) -> list[ImagingRecord]:
    """Every index on DAY; 33 studies between a year before and a year after."""
    rng = random.Random(seed)
    per_person = [1] * persons
    for _ in range(33 - persons):
        per_person[rng.randrange(persons)] += 1
    out: list[ImagingRecord] = []
    for pid, n in enumerate(per_person, start=1):
        for s in range(n):
            days = rng.randint(-365, 365)
            when = DAY + dt.timedelta(days=days)
            out.append(
                ImagingRecord(
                    person_id=pid,
                    index_date=DAY,
                    study_uid=f"1.2.826.0.2.{pid}.{s}",
                    series_uid=f"1.2.826.0.2.{pid}.{s}.1",
                    modality="CT",
                    body_part=None,
                    study_date=when,
                    series_date=when,
                    study_description=None,
                    series_description=None,
                    n_instances=100,
                    total_bytes=52_428_800,
                    days_from_index=days,
                    criteria=(("imaging", when),),
                    identifiers=(),
                )
            )
    return out


def test_index_window_of_a_spec() -> None:
    assert index_window_days(one_day_spec()) == 1
    spec = CohortSpec.model_validate(
        {"index": {"domain": "condition", "date_range": {"start": "2020-01-01", "end": "2020-01-10"}}}
    )
    assert index_window_days(spec) == 10
    open_end = CohortSpec.model_validate(
        {"index": {"domain": "condition", "date_range": {"start": "2020-01-01"}}}
    )
    assert index_window_days(open_end) == UNBOUNDED_WINDOW_DAYS
    assert (
        index_window_days(CohortSpec.model_validate({"index": {"domain": "condition"}}))
        == UNBOUNDED_WINDOW_DAYS
    )


def test_pinned_unless_wide_or_approved() -> None:
    base = ReleasePolicy(project_key="dates-a", secret=SECRET)
    assert base.date_precision_days == 30 and base.index_window_days is None
    assert dates_pinned(base)  # window unknown: the safe side
    assert dates_pinned(base.for_cohort(one_day_spec()))
    wide = base.for_cohort(CohortSpec.model_validate({"index": {"domain": "condition"}}))
    assert not dates_pinned(wide) and wide.index_window_days == UNBOUNDED_WINDOW_DAYS
    approved = ReleasePolicy(project_key="dates-a", secret=SECRET, finer_precision_approved=True)
    assert not dates_pinned(approved.for_cohort(one_day_spec()))
    with pytest.raises(ValidationError, match="needs the reviewers' approval"):
        ReleasePolicy(project_key="dates-a", secret=SECRET, date_precision_days=7)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        ReleasePolicy(project_key="dates-a", secret=SECRET, date_precision_days=0)


def test_periods_are_never_shorter_than_the_precision() -> None:
    d = dt.date(2021, 2, 14)
    assert [date_period(d, p) for p in (1, 28, 29, 90, 91, 365, 366)] == [
        "2021-02-14",
        "2021-02",
        "2021-Q1",
        "2021-Q1",
        "2021",
        "2021",
        None,
    ]
    assert period_granularity(30) == "quarter"  # February has 28 days: a month could pin 28 < 30


def test_dicom_copies_are_cut_to_the_year_where_the_window_pins_dates() -> None:
    policy = ReleasePolicy(project_key="dates-a", secret=SECRET).for_cohort(one_day_spec())
    files = files_policy(policy)
    assert files.date_granularity == "year" and files.project_key == policy.project_key
    assert re.fullmatch(r"\d{4}0101", shift_da(files, "7", "20210315"))
    fine = ReleasePolicy(project_key="dates-a", secret=SECRET, finer_precision_approved=True)
    assert files_policy(fine.for_cohort(one_day_spec())).date_granularity == "full"


def _consistent_real_dates(
    rows: list[dict[str, Any]], policy: ReleasePolicy, study_dates_real: list[dt.date]
) -> list[set[dt.date]]:
    """Per row: every real study date some (jitter, shift) in the mechanism's range agrees with.

    The attacker knows DAY (the spec), the jitter's range (P values) and the shift's range, and sees
    every released value of the patient's rows.
    """
    p = policy.date_precision_days
    out: list[set[dt.date]] = []
    for row, _ in zip(rows, study_dates_real, strict=True):
        same = [r for r in rows if r["patient"] == row["patient"]]
        possible: set[dt.date] = set()
        for j in range(-(p // 2), p - p // 2):
            reals = [DAY + dt.timedelta(days=r["days_from_index"] - j) for r in same]
            for shift in range(policy.date_shift_min_days, policy.date_shift_max_days + 1):
                # (The DICOM copies' year-cut dates are coarser than these quarters: no more to check.)
                ok = all(
                    date_period(real + dt.timedelta(days=shift), p) == r["study_date"]
                    for real, r in zip(reals, same, strict=True)
                )
                if ok:
                    possible.add(DAY + dt.timedelta(days=row["days_from_index"] - j))
                    break
        out.append(possible)
    return out


@pytest.mark.slow
def test_one_day_window_does_not_give_back_real_dates() -> None:
    spec = one_day_spec()
    policy = ReleasePolicy(project_key="dates-a", secret=SECRET).for_cohort(spec)
    records = one_day_cohort()
    rows = [manifest_row(r, policy) for r in records]
    assert len(rows) == 33 and len({r["patient"] for r in rows}) == 13
    # The attack needs the shifted index date: it is withheld.
    assert all(r["index_date"] is None for r in rows)
    assert all(re.fullmatch(r"\d{4}-Q[1-4]", r["study_date"]) for r in rows)
    # The naive estimate DAY + days_from_index is off by the patient's unknown jitter.
    exact = sum(
        DAY + dt.timedelta(days=r["days_from_index"]) == rec.study_date
        for r, rec in zip(rows, records, strict=True)
    )
    # (Right only for patients whose jitter happens to be 0, and the attacker cannot tell which.)
    assert exact <= 33 // 4
    # The full enumeration: every real study date stays ambiguous over >= P candidate days.
    real = [r.study_date for r in records if r.study_date is not None]
    candidates = _consistent_real_dates(rows, policy, real)
    assert all(truth in c for truth, c in zip(real, candidates, strict=True))
    assert min(len(c) for c in candidates) >= policy.date_precision_days


def test_approved_finer_precision_shows_the_index_as_a_period() -> None:
    policy = ReleasePolicy(project_key="dates-a", secret=SECRET, finer_precision_approved=True).for_cohort(
        one_day_spec()
    )
    row = manifest_row(one_day_cohort()[0], policy)
    assert re.fullmatch(r"\d{4}-Q[1-4]", row["index_date"])
    assert row["index_date"] == release_date(policy, "1", DAY)
