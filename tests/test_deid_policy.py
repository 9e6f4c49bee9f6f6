"""Release policy: keyed pseudonyms, UID remapping, date shifts, age groups, secret hygiene."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import pickle
import re

import pytest
from pydantic import ValidationError

from cohort_engine.deid.policy import (
    ReleasePolicy,
    age_group,
    date_shift_days,
    dicom_age_top_code,
    is_valid_uid,
    pseudonym,
    remap_uid,
    shift_da,
    shift_date,
    shift_dt,
    shift_tm,
)

SECRET = "TOPSECRET-release-key-7f3a9c"
P1 = ReleasePolicy(project_key="lung-2025", secret=SECRET)
P2 = ReleasePolicy(project_key="liver-2025", secret=SECRET)
P1_OTHER_SECRET = ReleasePolicy(project_key="lung-2025", secret="another-secret-0123456789")

# ------------------------------------------------------------------------------------ pseudonyms


def test_pseudonym_format_and_stability() -> None:
    a = pseudonym(P1, "12345678")
    assert re.fullmatch(r"P-[A-Z2-7]{16}", a)
    assert pseudonym(P1, "12345678") == a
    assert pseudonym(ReleasePolicy(project_key="lung-2025", secret=SECRET), "12345678") == a  # same release


def test_pseudonyms_unlinkable_across_projects_and_secrets() -> None:
    keys = [f"{i:08d}" for i in range(200)]
    s1 = {pseudonym(P1, k) for k in keys}
    assert len(s1) == len(keys)
    assert s1.isdisjoint({pseudonym(P2, k) for k in keys})
    assert s1.isdisjoint({pseudonym(P1_OTHER_SECRET, k) for k in keys})


def test_pseudonym_is_not_an_unkeyed_hash() -> None:
    """An unkeyed hash of an MRN is reversed by enumerating MRNs; the keyed pseudonym is not."""
    mrn = "00004242"
    space = [f"{i:08d}" for i in range(5000)]
    unkeyed = hashlib.sha256(mrn.encode()).hexdigest()
    assert [c for c in space if hashlib.sha256(c.encode()).hexdigest() == unkeyed] == [mrn]
    target = pseudonym(P1, mrn).split("-", 1)[1]
    for c in space:  # without the secret, no unkeyed construction reproduces it
        digest = hashlib.sha256(c.encode()).digest()
        assert base64.b32encode(digest[:10]).decode() != target
        assert base64.b32encode(hashlib.sha256(("lung-2025" + c).encode()).digest()[:10]).decode() != target


# ------------------------------------------------------------------------------------ UIDs


def test_remap_uid_valid_deterministic_distinct() -> None:
    uids = [f"1.2.840.113619.2.55.3.{i}.{j}" for i in range(30) for j in range(10)]
    out = [remap_uid(P1, u) for u in uids]
    assert all(o.startswith("2.25.") and is_valid_uid(o) and len(o) <= 64 for o in out)
    assert len(set(out)) == len(uids)
    assert out == [remap_uid(P1, u) for u in uids]
    assert set(out).isdisjoint(remap_uid(P2, u) for u in uids)
    assert remap_uid(P1, "1.2.3\x00") == remap_uid(P1, "1.2.3")  # DICOM padding ignored


def test_is_valid_uid() -> None:
    assert is_valid_uid("2.25.0")
    assert not is_valid_uid("2.25.01")
    assert not is_valid_uid("1..2")
    assert not is_valid_uid("1." + "1" * 64)


# ------------------------------------------------------------------------------------ dates


def test_date_shift_in_range_and_constant_per_patient() -> None:
    shifts = [date_shift_days(P1, f"person-{i}") for i in range(1000)]
    assert all(-365 <= s <= -1 for s in shifts)
    assert len(set(shifts)) > 200  # spread over the range
    assert date_shift_days(P1, "person-7") == shifts[7]
    custom = ReleasePolicy(project_key="x", secret=SECRET, date_shift_min_days=-10, date_shift_max_days=10)
    assert all(-10 <= date_shift_days(custom, str(i)) <= 10 for i in range(300))


def test_intervals_survive_full_granularity() -> None:
    d1, d2 = dt.date(2023, 1, 31), dt.date(2023, 10, 1)
    for key in ("a", "b", "c"):
        s1, s2 = shift_date(P1, key, d1), shift_date(P1, key, d2)
        assert isinstance(s1, dt.date) and isinstance(s2, dt.date)
        assert (s2 - s1) == (d2 - d1)
        assert (d1 - s1).days == -date_shift_days(P1, key)


def test_granularity_month_and_year() -> None:
    pm = ReleasePolicy(project_key="lung-2025", secret=SECRET, date_granularity="month")
    py = ReleasePolicy(project_key="lung-2025", secret=SECRET, date_granularity="year")
    full = shift_date(P1, "k", dt.date(2023, 10, 1))
    assert shift_date(pm, "k", dt.date(2023, 10, 1)) == f"{full.year:04d}-{full.month:02d}"
    assert shift_date(py, "k", dt.date(2023, 10, 1)) == f"{full.year:04d}"
    assert shift_da(pm, "k", "20231001") == f"{full.year:04d}{full.month:02d}01"
    assert shift_da(py, "k", "20231001") == f"{full.year:04d}0101"
    assert shift_dt(pm, "k", "20231001101010") == f"{full.year:04d}{full.month:02d}"


def test_dicom_date_helpers() -> None:
    full = shift_date(P1, "k", dt.date(2023, 10, 1))
    da = full.strftime("%Y%m%d")
    assert shift_da(P1, "k", "20231001") == da
    assert shift_da(P1, "k", "2023.10.01") == da
    assert shift_da(P1, "k", "20231001\\20231002").split("\\")[0] == da
    assert shift_dt(P1, "k", "20231001101530.123456+0900") == da + "101530.123456+0900"
    assert shift_dt(P1, "k", "2023") != ""
    assert shift_tm(P1, "k", "101530") == "101530"
    for bad in ("20231301", "notadate", "2023-10-01x"):
        assert shift_da(P1, "k", bad) == ""  # never passed through
    assert shift_dt(P1, "k", "garbage") == ""


# ------------------------------------------------------------------------------------ ages


@pytest.mark.parametrize(("age", "group"), [(0, "0"), (45, "45"), (89, "89"), (90, "90+"), (104, "90+")])
def test_age_group(age: int, group: str) -> None:
    assert age_group(age) == group


@pytest.mark.parametrize(
    ("value", "coded"),
    [
        ("045Y", "045Y"),
        ("089Y", "089Y"),
        ("090Y", "090Y"),
        ("095Y", "090Y"),
        ("011M", "011M"),
        ("1100M", ""),
        ("099W", "099W"),
        ("bad", ""),
    ],
)
def test_dicom_age_top_code(value: str, coded: str) -> None:
    assert dicom_age_top_code(value) == coded


# ------------------------------------------------------------------------------------ secret hygiene


def _secret_forms() -> list[str]:
    return [SECRET, SECRET.encode().hex(), base64.b64encode(SECRET.encode()).decode(), repr(SECRET.encode())]


def test_secret_never_in_repr_str_json() -> None:
    outputs = [
        repr(P1),
        str(P1),
        P1.model_dump_json(),
        json.dumps(P1.model_dump(mode="json")),
        repr(P1.model_dump()),
        format(P1),
        f"{P1!r}",
        str(P1.model_fields_set),
    ]
    for out in outputs:
        for form in _secret_forms():
            assert form not in out
    assert hash(P1) == hash(P1_OTHER_SECRET)  # the hash does not depend on the secret


def test_secret_never_in_validation_errors() -> None:
    attempts = [
        {"project_key": "x", "secret": "short-secret"},
        {"project_key": "x", "secret": SECRET, "date_granularity": "week"},
        {"project_key": "bad key!", "secret": SECRET},
        {"project_key": "x", "secret": SECRET, "date_shift_min_days": 5, "date_shift_max_days": 1},
        {"project_key": "x", "secret": SECRET, "mrn_patterns": ["(unclosed"]},
        {"project_key": "x", "secret": SECRET, "unknown_field": SECRET},
    ]
    for kwargs in attempts:
        with pytest.raises(ValidationError) as exc:
            ReleasePolicy(**kwargs)
        text = (
            str(exc.value) + repr(exc.value) + json.dumps(exc.value.errors(include_input=False), default=str)
        )
        for form in [*_secret_forms(), "short-secret"]:
            assert form not in text


def test_policy_is_frozen_and_accepts_bytes() -> None:
    with pytest.raises(ValidationError):
        P1.project_key = "other"  # type: ignore[misc]
    pb = ReleasePolicy(project_key="lung-2025", secret=SECRET.encode())
    assert pseudonym(pb, "1") == pseudonym(P1, "1")
    # a pickled copy (e.g. sent to a worker process) derives the same keys
    assert pseudonym(pickle.loads(pickle.dumps(P1)), "1") == pseudonym(P1, "1")
