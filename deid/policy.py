"""Release policy: keyed pseudonyms, keyed UID remapping and keyed per-patient date shifts.

One :class:`ReleasePolicy` exists per data release.  It holds a public ``project_key`` (the name of
the release, safe to print) and a ``secret`` that never appears in any output, ``repr``, log line,
JSON dump or error message (it is a :class:`pydantic.SecretBytes` and the model hides inputs in
validation errors).

Why keyed HMAC and not a plain hash
-----------------------------------
An unkeyed hash such as ``sha256(mrn)`` is *not* a pseudonym: anyone who holds (or can enumerate)
the original identifiers - MRNs are short numbers, UIDs appear in PACS logs - can recompute the hash
and re-identify every row, and two releases that use the same hash are trivially linkable.  Here every
derived value is ``HMAC-SHA256(K_purpose, identifier)`` where
``K_purpose = HMAC-SHA256(secret, "cohort-engine/v1/<purpose>/" + project_key)``:

* without the secret nobody can compute or test a mapping (the HMAC is a PRF);
* the same person gets the same pseudonym, UID and date shift everywhere within one project;
* two projects (different ``project_key``) derive independent keys, so their pseudonyms cannot be
  joined even if both releases leave the hospital;
* the purposes (``pseudonym``, ``uid``, ``date-shift``, ``release-jitter``) use separate keys, so
  knowing one patient's shift says nothing about their pseudonym.

Stated date precision, and why shifting alone is not enough
-----------------------------------------------------------
A per-patient shift hides real dates only while the shift is unknown.  A cohort whose index date range
is one day tells everyone the real index date; the shifted index date then *is* the shift, and every
shifted date turns back into a real one.  So each release states a precision (``date_precision_days``,
default 30) and nothing it hands out may pin a real date more finely:

* day offsets (days from index, criterion days) carry a keyed per-patient, per-release jitter spread
  over the precision (:func:`jitter_days`): the jitter is unknown and shared by all of a patient's
  offsets, so even exact differences between a patient's dates (which the DICOM copies keep) do not
  narrow it;
* absolute shifted dates in manifests are periods no shorter than the precision (:func:`date_period`);
* where the cohort's own index window is narrower than the precision (:attr:`ReleasePolicy.index_window_days`,
  see :func:`index_window_days`) the shifted index date is withheld and the DICOM copies' dates are cut
  to the period too - unless the reviewers approved the finer precision (``finer_precision_approved``).

Unlinkable releases
-------------------
Pseudonyms, UIDs and shifts differ per project key, but exact quasi-identifiers (byte totals, instance
counts, day offsets) would still join two releases of one cohort.  They are released with keyed
jitter per release (:func:`jitter_count`, :func:`jitter_days`), whose keys differ per project key, so
equal values across releases are chance.  The limits: the DICOM copies' pixel data are the same in
every release of the same images, and a patient's number of series, modalities and the rough shape of
their timeline remain (those are the research content).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretBytes, field_validator, model_validator

if TYPE_CHECKING:
    from cohort_engine.spec import CohortSpec

__all__ = [
    "DEFAULT_DATE_PRECISION_DAYS",
    "DEFAULT_MRN_PATTERNS",
    "PROJECT_KEY_PATTERN",
    "ReleasePolicy",
    "UNBOUNDED_WINDOW_DAYS",
    "age_group",
    "date_period",
    "date_shift_days",
    "dates_pinned",
    "dicom_age_top_code",
    "index_window_days",
    "jitter_count",
    "jitter_days",
    "period_granularity",
    "pseudonym",
    "release_date",
    "remap_uid",
    "shift_da",
    "shift_date",
    "shift_dt",
    "shift_tm",
]

Granularity = Literal["full", "month", "year"]

#: Default MRN formats: 'H' + 8 digits, and plain 8-10 digit numbers right after a label such as
#: MRN / 등록번호 / 환자번호 / 병록번호 / chart no (the label itself is kept, only the number goes).
DEFAULT_MRN_PATTERNS: tuple[str, ...] = (
    r"(?<![A-Za-z0-9])H\d{8}(?!\d)",
    r"(?<=(?:MRN|Chart\s*No\.?|Patient\s*ID|등록번호|환자번호|병록번호|차트번호)\s*[:#.]?\s*)\d{6,10}(?!\d)",
)

_MIN_SECRET_BYTES = 16
#: A project key is a name: letters/digits first, then letters, digits, ``.``, ``_``, ``-`` (no ``..``,
#: no path separator) - it names the release's archive and folders.
PROJECT_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#: The stated date precision of a release unless reviewers approve a finer one.
DEFAULT_DATE_PRECISION_DAYS = 30
#: What :func:`index_window_days` returns when the spec does not bound the index date on both ends.
UNBOUNDED_WINDOW_DAYS = 1_000_000
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


class ReleasePolicy(BaseModel):
    """Everything that decides how one data release is de-identified.

    The policy is immutable (frozen) so a release cannot change its keys half-way; derived HMAC keys
    are computed once in ``model_post_init`` and kept in private attributes (not fields, so they are
    never serialised either).
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True, extra="forbid")

    project_key: Annotated[str, Field(min_length=1, max_length=64, pattern=PROJECT_KEY_PATTERN)]
    """Public name of the release (appears in manifests, names the archive); no ``..``, no ``/``."""
    secret: SecretBytes
    """At least 16 bytes of key material; str input is UTF-8 encoded.  Never printed."""
    date_shift_min_days: int = -365
    date_shift_max_days: int = -1
    date_granularity: Granularity = "full"
    """``full`` keeps shifted dates; ``month``/``year`` truncate them after shifting."""
    age_top_code: int = 89
    """Ages above this are reported as a group ("90+"), as HIPAA Safe Harbor requires."""
    allow_burned_in: bool = False
    """Release images flagged for burned-in annotation (normally they are left out)."""
    retain_safe_private: bool = False
    """Retain Safe Private option; only private tags listed in ``safe_private_tags`` survive."""
    safe_private_tags: tuple[str, ...] = ()
    """Entries ``"GGGG,PRIVATE CREATOR,EE"`` (group hex, creator, element byte hex)."""
    pseudonym_prefix: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{0,7}$")] = "P"
    mrn_patterns: tuple[str, ...] = DEFAULT_MRN_PATTERNS
    """Regular expressions (Python ``regex`` syntax) that recognise MRNs in free text."""
    date_precision_days: Annotated[int, Field(ge=1, le=3660)] = DEFAULT_DATE_PRECISION_DAYS
    """No released value pins a real date more finely than this many days (see the module docstring)."""
    finer_precision_approved: bool = False
    """The reviewers approved releasing the shifted index date (and unrounded DICOM dates) although the
    cohort's index window is narrower than the precision; the API records that approval in its audit."""
    index_window_days: Annotated[int, Field(ge=1)] | None = None
    """Width in days of the calendar range the cohort definition pins each index date to
    (:func:`index_window_days` of the spec); None = not known, treated as pinned (the safe side)."""

    _k_pseudonym: bytes = PrivateAttr(default=b"")
    _k_uid: bytes = PrivateAttr(default=b"")
    _k_shift: bytes = PrivateAttr(default=b"")
    _k_jitter: bytes = PrivateAttr(default=b"")

    @field_validator("secret", mode="before")
    @classmethod
    def _encode_secret(cls, v: object) -> object:
        """Accept str or bytes; the error never echoes the value (hide_input_in_errors)."""
        if isinstance(v, str):
            v = v.encode("utf-8")
        if isinstance(v, bytes | bytearray) and len(v) < _MIN_SECRET_BYTES:
            raise ValueError(f"secret must be at least {_MIN_SECRET_BYTES} bytes")
        return v

    @field_validator("project_key")
    @classmethod
    def _real_name(cls, v: str) -> str:
        if ".." in v:
            raise ValueError("project key must be a name, not a path: '..' is not allowed")
        return v

    @field_validator("mrn_patterns")
    @classmethod
    def _check_patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        """Fail at policy creation, not in the middle of an export."""
        import regex

        for i, p in enumerate(v):
            try:
                regex.compile(p)
            except regex.error as exc:  # message names the index only
                raise ValueError(f"mrn_patterns[{i}] is not a valid regular expression") from exc
        return v

    @field_validator("safe_private_tags")
    @classmethod
    def _check_safe_private(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for i, entry in enumerate(v):
            parts = entry.split(",")
            if len(parts) != 3:
                raise ValueError(f"safe_private_tags[{i}] must be 'GGGG,CREATOR,EE'")
            try:
                group, elem = int(parts[0], 16), int(parts[2], 16)
            except ValueError as exc:
                raise ValueError(f"safe_private_tags[{i}] must be 'GGGG,CREATOR,EE'") from exc
            if not group & 1 or not 0 <= elem <= 0xFF:
                raise ValueError(f"safe_private_tags[{i}]: odd group and element byte 00-FF required")
        return v

    @model_validator(mode="after")
    def _check_range(self) -> ReleasePolicy:
        if self.date_shift_min_days > self.date_shift_max_days:
            raise ValueError("date_shift_min_days must be <= date_shift_max_days")
        if self.date_precision_days < DEFAULT_DATE_PRECISION_DAYS and not self.finer_precision_approved:
            raise ValueError(
                f"a date precision finer than {DEFAULT_DATE_PRECISION_DAYS} days needs the reviewers' "
                "approval (finer_precision_approved=True, recorded in the audit)"
            )
        return self

    def model_post_init(self, __context: object) -> None:
        """Derive one key per purpose so values of different kinds are independent."""
        secret = self.secret.get_secret_value()
        self._k_pseudonym = _derive(secret, "pseudonym", self.project_key)
        self._k_uid = _derive(secret, "uid", self.project_key)
        self._k_shift = _derive(secret, "date-shift", self.project_key)
        self._k_jitter = _derive(secret, "release-jitter", self.project_key)

    def __hash__(self) -> int:
        """Hash without the secret: a hash of the key material is itself an output derived from it."""
        return hash((self.project_key, self.options_key()))

    def for_cohort(self, spec: CohortSpec) -> ReleasePolicy:
        """This policy for one cohort: records how narrowly the spec pins the index date."""
        return self.model_copy(update={"index_window_days": index_window_days(spec)})

    def options_key(self) -> tuple[object, ...]:
        """Hashable summary of the non-secret options (used to cache compiled plans/analyzers)."""
        return (
            self.date_granularity,
            self.date_precision_days,
            self.finer_precision_approved,
            self.index_window_days,
            self.retain_safe_private,
            self.safe_private_tags,
            self.age_top_code,
            self.mrn_patterns,
        )


def _derive(secret: bytes, purpose: str, project_key: str) -> bytes:
    return hmac.new(secret, f"cohort-engine/v1/{purpose}/{project_key}".encode(), hashlib.sha256).digest()


def _mac(key: bytes, value: str) -> bytes:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()


def pseudonym(policy: ReleasePolicy, person_key: str) -> str:
    """Stable per-project pseudonym, e.g. ``P-3K7QX2M4ZB6W5TAN``.

    80 bits of HMAC in base32 (no padding, no ambiguous case) after a readable prefix; fits the
    DICOM LO and PN value lengths.  Collisions are negligible (birthday bound ~2^40 persons).
    """
    digest = _mac(policy._k_pseudonym, person_key)
    return f"{policy.pseudonym_prefix}-{base64.b32encode(digest[:10]).decode('ascii')}"


def remap_uid(policy: ReleasePolicy, uid: str) -> str:
    """Deterministic keyed UID under the ``2.25`` root (ISO/IEC 9834-8 UUID-derived arc).

    The same input UID always maps to the same output within a project, so the study/series/instance
    hierarchy and every cross-reference (ReferencedSOPInstanceUID, FrameOfReferenceUID …) survive.
    ``2.25.`` + at most 39 decimal digits = at most 44 characters (limit 64); decimal integers have
    no leading zeros, so the result is always a valid UID.
    """
    value = int.from_bytes(_mac(policy._k_uid, uid.strip().rstrip("\x00"))[:16], "big")
    return f"2.25.{value}"


def is_valid_uid(uid: str) -> bool:
    """DICOM UID syntax: dot-separated decimal components without leading zeros, <= 64 chars."""
    return len(uid) <= 64 and bool(_UID_RE.match(uid))


def date_shift_days(policy: ReleasePolicy, person_key: str) -> int:
    """The one shift (in days) applied to every date of this person in this project.

    Uniform over ``[date_shift_min_days, date_shift_max_days]``; 64 bits of HMAC reduced modulo the
    range width (bias < 2^-50 for any sensible range).
    """
    width = policy.date_shift_max_days - policy.date_shift_min_days + 1
    n = int.from_bytes(_mac(policy._k_shift, person_key)[:8], "big")
    return policy.date_shift_min_days + n % width


def shift_date(policy: ReleasePolicy, person_key: str, d: dt.date) -> dt.date | str:
    """Shift ``d`` by the person's offset, then apply the policy's granularity.

    ``full`` returns a :class:`datetime.date` (intervals between a person's dates survive exactly);
    ``month`` returns ``"YYYY-MM"``; ``year`` returns ``"YYYY"``.
    """
    if isinstance(d, dt.datetime):
        d = d.date()
    shifted = d + dt.timedelta(days=date_shift_days(policy, person_key))
    if policy.date_granularity == "month":
        return f"{shifted.year:04d}-{shifted.month:02d}"
    if policy.date_granularity == "year":
        return f"{shifted.year:04d}"
    return shifted


# --------------------------------------------------------------------------------------------------
# Stated precision and keyed jitter (see the module docstring)
# --------------------------------------------------------------------------------------------------


def index_window_days(spec: CohortSpec) -> int:
    """Width in days of the calendar range the spec pins every index date to.

    Only the index event's date range bounds the index on the calendar (criterion and imaging windows
    are relative to it); an open end gives :data:`UNBOUNDED_WINDOW_DAYS`.
    """
    rng = spec.index.date_range
    if rng is None or rng.start is None or rng.end is None:
        return UNBOUNDED_WINDOW_DAYS
    return (rng.end - rng.start).days + 1


def dates_pinned(policy: ReleasePolicy) -> bool:
    """Whether the cohort's index window is narrower than the precision and nobody approved that."""
    if policy.finer_precision_approved or policy.date_precision_days <= 1:
        return False
    window = policy.index_window_days
    return window is None or window < policy.date_precision_days


def period_granularity(precision_days: int) -> Literal["full", "month", "quarter", "year", "none"]:
    """The calendar period no shorter than ``precision_days`` (February has 28 days, quarters >= 90)."""
    if precision_days <= 1:
        return "full"
    if precision_days <= 28:
        return "month"
    if precision_days <= 90:
        return "quarter"
    if precision_days <= 365:
        return "year"
    return "none"


def date_period(d: dt.date, precision_days: int) -> str | None:
    """``d`` as the period of the precision: ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY-Qn``, ``YYYY`` or None."""
    g = period_granularity(precision_days)
    if g == "full":
        return d.isoformat()
    if g == "month":
        return f"{d.year:04d}-{d.month:02d}"
    if g == "quarter":
        return f"{d.year:04d}-Q{(d.month - 1) // 3 + 1}"
    if g == "year":
        return f"{d.year:04d}"
    return None


def release_date(policy: ReleasePolicy, person_key: str, d: dt.date) -> str | None:
    """A shifted date as a manifest shows it: the coarser of the policy's granularity and the period
    of the stated precision."""
    if isinstance(d, dt.datetime):
        d = d.date()
    shifted = d + dt.timedelta(days=date_shift_days(policy, person_key))
    precision = policy.date_precision_days
    if policy.date_granularity == "month":
        precision = max(precision, 28)
    elif policy.date_granularity == "year":
        precision = max(precision, 365)
    return date_period(shifted, precision)


def _unit(policy: ReleasePolicy, purpose: str, key: str, n: int) -> int:
    """Keyed uniform integer in ``[0, n)`` for this release, purpose and key."""
    return int.from_bytes(_mac(policy._k_jitter, f"{purpose}/{key}")[:8], "big") % n


def jitter_days(policy: ReleasePolicy, person_key: str, days: int | None) -> int | None:
    """A day offset plus the patient's keyed jitter ``j``, uniform over ``P`` values around 0.

    One ``j`` per patient and release: intervals between a patient's own dates stay exact (what
    longitudinal research needs), while the offset from the index is known only to within ``P`` days -
    and no number of exact intervals narrows that, since they all carry the same unknown ``j``.
    ``j`` is drawn anew per project key, so the same series shows different offsets in two releases
    (an offset matches across releases with probability 1/P).  Unbiased: the mean of ``j`` is 0 for
    odd ``P`` (-1/2 for even).
    """
    if days is None:
        return None
    p = policy.date_precision_days
    if p <= 1:
        return int(days)
    return int(days) + _unit(policy, "days", person_key, p) - p // 2


def jitter_count(policy: ReleasePolicy, key: str, n: int | None) -> int | None:
    """A count or byte total plus keyed jitter of about +-15 % (at least +-2), never below 1.

    Counts of images are no secret in themselves but joined two releases of one cohort exactly
    (instances, bytes): with jitter keyed per release and ``key`` (patient + series) the same series
    shows the same value in one release and an independent one in another.
    """
    if n is None:
        return None
    n = int(n)
    if n <= 0:
        return n
    w = max(2, (n * 15) // 100)
    return max(1, n + _unit(policy, "count", key, 2 * w + 1) - w)


def _shift_da_one(policy: ReleasePolicy, days: int, value: str) -> str:
    v = value.strip()
    if not v:
        return ""
    if len(v) == 10 and v[4] == "." and v[7] == ".":  # ACR-NEMA style YYYY.MM.DD
        v = v.replace(".", "")
    try:
        d = dt.date(int(v[0:4]), int(v[4:6]), int(v[6:8])) if len(v) == 8 and v.isdigit() else None
    except ValueError:
        d = None
    if d is None:
        return ""  # unparseable: drop rather than leak the original
    try:
        s = d + dt.timedelta(days=days)
    except OverflowError:
        return ""
    if policy.date_granularity == "month":
        return f"{s.year:04d}{s.month:02d}01"
    if policy.date_granularity == "year":
        return f"{s.year:04d}0101"
    return f"{s.year:04d}{s.month:02d}{s.day:02d}"


def shift_da(policy: ReleasePolicy, person_key: str, value: str) -> str:
    """Shift a DICOM DA value (``YYYYMMDD``; backslash-separated multiple values allowed).

    DA has no partial-date form, so ``month``/``year`` granularity yields the first day of the
    month/year.  Values that are not valid dates become empty (never passed through).
    """
    days = date_shift_days(policy, person_key)
    return "\\".join(_shift_da_one(policy, days, part) for part in value.split("\\"))


_DT_RE = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?([+-]\d{4})?$")


def _shift_dt_one(policy: ReleasePolicy, days: int, value: str) -> str:
    v = value.strip()
    if not v:
        return ""
    m = _DT_RE.match(v)
    if not m:
        return ""
    year, month, day, time_part, offset = m.groups()
    try:
        d = dt.date(int(year), int(month or 1), int(day or 1))
        s = d + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return ""
    if policy.date_granularity == "year":
        return f"{s.year:04d}"
    if policy.date_granularity == "month":
        return f"{s.year:04d}{s.month:02d}"
    if month is None:
        return f"{s.year:04d}"
    if day is None:
        return f"{s.year:04d}{s.month:02d}"
    return f"{s.year:04d}{s.month:02d}{s.day:02d}{time_part or ''}{offset or ''}"


def shift_dt(policy: ReleasePolicy, person_key: str, value: str) -> str:
    """Shift a DICOM DT value (``YYYYMMDDHHMMSS.FFFFFF&ZZXX``); the time of day is kept.

    DT allows partial values, so ``month``/``year`` granularity truncate to ``YYYYMM``/``YYYY``
    (and drop the time).  Unparseable values become empty.
    """
    days = date_shift_days(policy, person_key)
    return "\\".join(_shift_dt_one(policy, days, part) for part in value.split("\\"))


def shift_tm(policy: ReleasePolicy, person_key: str, value: str) -> str:
    """TM values are kept: a whole-day shift does not change the time of day."""
    del policy, person_key
    return value


def age_group(age: int) -> str:
    """Age for release: the number up to 89, ``"90+"`` above (HIPAA Safe Harbor)."""
    if age < 0:
        raise ValueError("age must be non-negative")
    return "90+" if age > 89 else str(age)


def dicom_age_top_code(value: str, top: int = 89) -> str:
    """Top-code a DICOM AS value (``nnnD/W/M/Y``): ages above ``top`` years become ``(top+1)Y``.

    AS cannot hold "90+", so ``090Y`` stands for the 90-or-older group.  Malformed values become
    empty rather than passing through.
    """
    v = value.strip()
    if not v:
        return ""
    if len(v) != 4 or not v[:3].isdigit() or v[3] not in "DWMY":
        return ""
    n, unit = int(v[:3]), v[3]
    years = {"D": n / 365.25, "W": n * 7 / 365.25, "M": n / 12, "Y": float(n)}[unit]
    if years > top:
        return f"{top + 1:03d}Y"
    return v
