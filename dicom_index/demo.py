"""Demo DICOM: real Part-10 files for the demo mart's imaging series, with identifying values planted.

Why planted values: de-identification (``deid/``) must be tested on files that carry what real ones
carry — names in Latin and Hangul (UTF-8), birth dates, MRNs and other patient IDs, institution,
physicians, free text that repeats the name or MRN, nested sequences and a private block holding the
name — and the indexer must read back exactly the hierarchy that ``image_occurrence`` describes.

Every file is explicit VR little endian with a small pixel array (32×32; XA and some US multi-frame),
organised as ``out_dir/<study>/<series>/<instance>`` with the study/series UIDs of ``image_occurrence``
and SOP instance UIDs derived from (seed, series UID, instance number).  Everything is a pure function
of the mart and the seed, so two runs write byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import struct
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

__all__ = [
    "SOP_CLASSES",
    "DemoFile",
    "demo_files",
    "encode_part10",
    "select_demo_persons",
    "to_pydicom",
    "write_demo_dicom",
]

#: One data element: (tag, VR, value); an SQ value is a list of items, each a list of elements.
Elem = tuple[int, str, Any]
_D = TypeVar("_D", bound=Dataset)  # a Dataset or a FileMetaDataset, filled in place and returned
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.8.498.1"  # pydicom's root, as pydicom would write
IMPLEMENTATION_VERSION = "COHORT_DEMO_1"

#: Storage SOP class per modality (secondary capture for anything else).
SOP_CLASSES: dict[str, str] = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "XA": "1.2.840.10008.5.1.4.1.1.12.1",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "US_MF": "1.2.840.10008.5.1.4.1.1.3.1",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "OT": "1.2.840.10008.5.1.4.1.1.7",
}
_EQUIPMENT: dict[str, list[tuple[str, str]]] = {
    "CT": [
        ("SIEMENS", "SOMATOM Force"),
        ("GE MEDICAL SYSTEMS", "Revolution CT"),
        ("Canon Medical Systems", "Aquilion ONE"),
    ],
    "MR": [("SIEMENS", "MAGNETOM Vida"), ("Philips", "Ingenia"), ("GE MEDICAL SYSTEMS", "SIGNA Architect")],
    "XA": [("Philips", "Azurion 7 M20"), ("SIEMENS", "Artis Q")],
    "US": [("SAMSUNG MEDISON", "RS85"), ("GE Healthcare", "LOGIQ E10"), ("Philips", "EPIQ 7")],
    "CR": [("FUJIFILM Corporation", "FCR PROFECT CS"), ("Carestream Health", "DirectView CR975")],
    "DX": [("SAMSUNG ELECTRONICS", "GC85A"), ("DRGEM", "GXR-68SD"), ("Carestream Health", "DRX-Evolution")],
}
_DEFAULT_BODY_PART = {
    "CT": "CHEST",
    "MR": "HEAD",
    "XA": "HEART",
    "US": "ABDOMEN",
    "CR": "CHEST",
    "DX": "CHEST",
}
#: (files per series low, high) per modality.
_INSTANCES = {"CT": (6, 12), "MR": (4, 10), "XA": (2, 5), "US": (3, 6), "CR": (2, 4), "DX": (2, 4)}
_INSTITUTIONS = [
    ("Hanbit University Hospital", "101 Daehak-ro, Jongno-gu, Seoul"),
    ("Seoul Mirae Medical Center", "88 Olympic-ro 43-gil, Songpa-gu, Seoul"),
    ("Namsan General Hospital", "20 Toegye-ro, Jung-gu, Seoul"),
]
_STAFF_FAMILY = ["Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim"]
_STAFF_GIVEN = ["Minjun", "Seoyeon", "Jiho", "Hayoon", "Dohyun", "Jiwoo", "Yejun", "Sua", "Eunwoo", "Jimin"]
_FALLBACK_HANGUL_FAMILY = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"]
_FALLBACK_HANGUL_GIVEN = ["민준", "서연", "지호", "하윤", "도현", "지우", "예준", "수아", "은우", "지민"]
_STUDY_TEXT = {
    "CT": "CT {part} w/o contrast",
    "MR": "MRI {part} w/ and w/o Gd",
    "XA": "Coronary angiography",
    "US": "US {part} complete",
    "CR": "XR {part} 2 views",
    "DX": "XR {part} PA",
}
_PRIVATE_CREATOR = "COHORT DEMO 1.0"


def _rng(*parts: object) -> random.Random:
    """A generator seeded by a stable digest of ``parts`` (``hash()`` is salted per process)."""
    return random.Random(hashlib.sha256(repr(parts).encode()).digest())


def _uid(seed: int, *parts: object) -> str:
    """A deterministic UUID-derived UID (2.25.<128-bit integer>, PS3.5 B.2) from the seed and parts.

    (pydicom's ``generate_uid(prefix=None)`` ignores its entropy sources and is random.)"""
    digest = hashlib.sha256(repr((seed, *map(str, parts))).encode()).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


def _staff(rng: random.Random) -> str:
    return f"{rng.choice(_STAFF_FAMILY)}^{rng.choice(_STAFF_GIVEN)}"


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


def _read_series(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """image_occurrence × person (× demo_identity when present), ordered by study, series."""
    identity = _table_exists(con, "demo_identity")
    cols = (
        "d.family_name, d.given_name, d.name_hangul, d.address, d.phone"
        if identity
        else "NULL, NULL, NULL, NULL, NULL"
    )
    join = "LEFT JOIN demo_identity d ON d.person_id = p.person_id" if identity else ""
    rows = con.execute(f"""
        SELECT io.image_occurrence_id, io.person_id, io.procedure_occurrence_id, io.image_occurrence_date,
               io.image_study_uid, io.image_series_uid, io.modality_source_value,
               io.anatomic_site_source_value, p.person_source_value, p.year_of_birth, p.month_of_birth,
               p.day_of_birth, p.gender_concept_id, p.gender_source_value, {cols}
        FROM image_occurrence io JOIN person p ON p.person_id = io.person_id {join}
        ORDER BY io.image_study_uid, io.image_series_uid, io.image_occurrence_id
    """).fetchall()
    keys = (
        "image_occurrence_id",
        "person_id",
        "procedure_occurrence_id",
        "date",
        "study_uid",
        "series_uid",
        "modality",
        "body_part",
        "mrn",
        "yob",
        "mob",
        "dob",
        "gender_concept_id",
        "gender_source",
        "family_name",
        "given_name",
        "name_hangul",
        "address",
        "phone",
    )
    out: list[dict[str, Any]] = []
    last_series = None
    for r in rows:
        d = dict(zip(keys, r, strict=True))
        if (d["study_uid"], d["series_uid"]) == last_series:
            continue  # one series, one set of files, even if the mart lists it twice
        last_series = (d["study_uid"], d["series_uid"])
        out.append(d)
    return out


def _identity(p: dict[str, Any], seed: int) -> dict[str, Any]:
    """Names etc. from demo_identity, or deterministic stand-ins when the mart has none."""
    rng = _rng(seed, "identity", p["person_id"])
    family = p["family_name"] or rng.choice(_STAFF_FAMILY)
    given = p["given_name"] or rng.choice(_STAFF_GIVEN)
    hangul = p["name_hangul"] or (rng.choice(_FALLBACK_HANGUL_FAMILY) + rng.choice(_FALLBACK_HANGUL_GIVEN))
    birth = None
    if p["yob"]:
        try:
            birth = dt.date(int(p["yob"]), int(p["mob"] or 1), int(p["dob"] or 1))
        except ValueError:
            birth = None
    recorded = str(p["gender_source"] or "").strip()[:1].upper()
    sex = {8507: "M", 8532: "F"}.get(p["gender_concept_id"] or 0) or (
        recorded if recorded in ("M", "F") else "O"
    )
    return {
        "family": str(family),
        "given": str(given),
        "hangul": str(hangul),
        "birth": birth,
        "sex": sex,
        "mrn": str(p["mrn"]) if p["mrn"] is not None else f"P{p['person_id']:08d}",
        "address": p["address"] or f"{rng.randint(1, 300)} Sejong-daero, Jung-gu, Seoul",
        "phone": p["phone"] or f"010-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        "hangul_group": (rng.random() < 0.35),
    }


def _fits_latin1(values: Iterable[str]) -> bool:
    try:
        for v in values:
            v.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _pixels(rng: np.random.Generator, frames: int, bits: int) -> bytes:
    """A small gradient-plus-noise image (deterministic per rng)."""
    y, x = np.mgrid[0:32, 0:32]
    base = (x * 8 + y * 4).astype(np.int32)
    if bits == 8:
        arr = (base[None] + rng.integers(0, 40, (frames, 32, 32))).clip(0, 255).astype(np.uint8)
    else:
        arr = (base[None] * 8 + rng.integers(0, 400, (frames, 32, 32))).clip(0, 4095).astype("<u2")
    return arr.tobytes()


def _study_elements(
    seed: int, first: dict[str, Any], who: dict[str, Any], modalities: list[str]
) -> tuple[list[Elem], dict[str, Any]]:
    """Patient and study level elements shared by every file of a study."""
    study_uid = first["study_uid"]
    rng = _rng(seed, "study", study_uid)
    inst_name, inst_addr = rng.choice(_INSTITUTIONS)
    date: dt.date = first["date"]
    da = date.strftime("%Y%m%d")
    tm = f"{rng.randint(7, 19):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}"
    proc = first["procedure_occurrence_id"]
    accession = f"A{proc:09d}" if proc is not None else f"X{rng.randint(0, 10**9 - 1):09d}"
    hangul = who["hangul_group"]
    latin_pn = f"{who['family'].upper()}^{who['given'].upper()}"
    h = who["hangul"]
    hangul_pn = f"{latin_pn}={h[:1]}^{h[1:]}" if len(h) > 1 else f"{latin_pn}={h}"
    modality = modalities[0]
    part = (first["body_part"] or _DEFAULT_BODY_PART.get(modality, "")).lower()
    desc = _STUDY_TEXT.get(modality, "{part} imaging").format(part=part)
    if rng.random() < 0.25:  # free text that repeats the name or the MRN, as real RIS entries do
        desc += f" - {who['family']} {who['given']}" if rng.random() < 0.5 else f" (MRN {who['mrn']})"
    if hangul and rng.random() < 0.3:
        desc += f" {h} 환자"
    age = None
    if who["birth"]:
        age = (
            date.year - who["birth"].year - ((date.month, date.day) < (who["birth"].month, who["birth"].day))
        )
    referring = _staff(rng)
    texts = [inst_name, inst_addr, who["address"], who["family"], who["given"], desc]
    charset = "ISO_IR 192" if hangul or not _fits_latin1(texts) else "ISO_IR 100"

    code: list[Elem] = [
        (0x00080100, "SH", f"P{rng.randint(100, 999)}"),  # CodeValue
        (0x00080102, "SH", "99COHORT"),  # CodingSchemeDesignator
        (0x00080104, "LO", desc),  # CodeMeaning
    ]
    reason = (
        f"r/o pathology, pt {who['family']} {who['given']} MRN {who['mrn']}"
        if rng.random() < 0.3
        else "r/o pathology"
    )
    request: list[Elem] = [
        (0x00321032, "PN", referring),  # RequestingPhysician, inside the item
        (0x00321060, "LO", desc),  # RequestedProcedureDescription
        (0x00400008, "SQ", [code]),  # ScheduledProtocolCodeSequence (nested)
        (0x00400009, "SH", f"SPS{accession[1:]}"),  # ScheduledProcedureStepID
        (0x00401001, "SH", f"RP{accession[1:]}"),  # RequestedProcedureID
        (0x00401002, "LO", reason),  # ReasonForTheRequestedProcedure, sometimes naming the patient
    ]
    old_mrn = f"H{int(hashlib.sha256(who['mrn'].encode()).hexdigest()[:8], 16) % 10**8:08d}"
    other_id: list[Elem] = [
        (0x00100020, "LO", old_mrn),
        (0x00100021, "LO", "OLD-HIS"),  # IssuerOfPatientID
        (0x00100022, "CS", "TEXT"),  # TypeOfPatientID
    ]

    elements: list[Elem] = [
        (0x00080005, "CS", charset),
        (0x00080020, "DA", da),
        (0x00080030, "TM", tm),
        (0x00080050, "SH", accession),
        (0x00080080, "LO", inst_name),
        (0x00080081, "ST", inst_addr),
        (0x00080090, "PN", referring),
        (0x00081030, "LO", desc),
        (0x00100010, "PN", hangul_pn if hangul else latin_pn),
        (0x00100020, "LO", who["mrn"]),
        (0x00100021, "LO", "HANBIT-HIS"),
        (0x00100030, "DA", who["birth"].strftime("%Y%m%d") if who["birth"] else ""),
        (0x00100040, "CS", who["sex"]),
        (0x00101000, "LO", who["mrn"][::-1]),  # OtherPatientIDs (retired, still seen in the wild)
        (0x00101002, "SQ", [other_id]),  # OtherPatientIDsSequence
        (0x00101010, "AS", f"{age:03d}Y" if age is not None and 0 <= age < 1000 else ""),
        (0x00101040, "LO", who["address"]),  # PatientAddress
        (0x00102154, "SH", who["phone"]),  # PatientTelephoneNumbers
        (0x0020000D, "UI", study_uid),
        (0x00200010, "SH", f"{rng.randint(1, 99999)}"),  # StudyID
        (0x00400275, "SQ", [request]),  # RequestAttributesSequence
    ]
    context = {"date": da, "time": tm, "latin_pn": latin_pn, "hangul": hangul}
    return elements, context


def _series_files(
    seed: int,
    s: dict[str, Any],
    number: int,
    who: dict[str, Any],
    study: list[Elem],
    ctx: dict[str, Any],
    out_dir: Path,
) -> list[DemoFile]:
    """The datasets (and paths) of one series."""
    series_uid = s["series_uid"]
    raw_modality = (s["modality"] or "OT").strip().upper() or "OT"
    modality = raw_modality if raw_modality in _EQUIPMENT else "OT"
    rng = _rng(seed, "series", series_uid)
    nprng = np.random.default_rng(
        int.from_bytes(hashlib.sha256(f"{seed}:{series_uid}".encode()).digest()[:8], "little")
    )
    manufacturer, model = rng.choice(_EQUIPMENT.get(modality, [("COHORT", "Demo SC")]))
    body_part = (s["body_part"] or _DEFAULT_BODY_PART.get(modality, "")).upper()
    lo, hi = _INSTANCES.get(modality, (1, 3))
    count = rng.randint(lo, hi)
    multiframe = modality == "XA" or (modality == "US" and rng.random() < 0.3)
    frames = rng.randint(2, 4) if multiframe else 1
    sop_class = SOP_CLASSES["US_MF" if modality == "US" and multiframe else modality]
    bits = 8 if modality in ("XA", "US") else 16
    thickness = (
        rng.choice(["0.625", "1.0", "1.25", "2.5", "5.0"])
        if modality == "CT"
        else (rng.choice(["1.0", "3.0", "4.0", "5.0"]) if modality == "MR" else None)
    )
    series_desc = {
        "CT": f"{body_part.title()} {thickness}mm",
        "MR": rng.choice(["T1 SE AX", "T2 TSE SAG", "FLAIR AX", "DWI b1000"]),
        "XA": "LCA RAO 30",
        "US": f"{body_part.title()} survey",
        "CR": rng.choice(["PA", "LAT"]),
        "DX": rng.choice(["PA", "AP", "LAT"]),
    }.get(modality, "Secondary capture")
    if rng.random() < 0.15:
        series_desc += f" {who['family'].upper()}"  # operator typed the name into the series description
    operator = _staff(rng)
    performing = _staff(rng)
    frame_of_ref = _uid(seed, series_uid, "for")
    burned = "YES" if modality == "US" else ("NO" if modality in ("CR", "DX", "XA") else None)
    study_key = hashlib.sha256(f"{seed}:{s['study_uid']}".encode()).hexdigest()[:12]
    no_ext = int(study_key, 16) % 5 == 0  # some studies as DICOMDIR-style names without extension
    folder = out_dir / f"ST{study_key}" / f"SE{number:03d}"

    series: list[Elem] = [
        (0x00080016, "UI", sop_class),
        (0x00080021, "DA", ctx["date"]),
        (0x00080031, "TM", ctx["time"]),
        (0x00080060, "CS", raw_modality if modality == "OT" and raw_modality != "OT" else modality),
        (0x00080070, "LO", manufacturer),
        (0x00081010, "SH", f"{modality}{rng.randint(1, 9):02d}"),  # StationName
        (0x0008103E, "LO", series_desc),
        (0x00081050, "PN", performing),  # PerformingPhysicianName
        (0x00081070, "PN", operator),  # OperatorsName
        (0x00081090, "LO", model),
        (0x00180015, "CS", body_part),
        (0x00181000, "LO", f"{rng.randint(10000, 99999)}"),  # DeviceSerialNumber
        (0x0020000E, "UI", series_uid),
        (0x00200011, "IS", str(number)),
        (0x00200052, "UI", frame_of_ref),
        (0x00280002, "US", 1),
        (0x00280004, "CS", "MONOCHROME2"),
        (0x00280010, "US", 32),
        (0x00280011, "US", 32),
        (0x00280100, "US", bits),
        (0x00280101, "US", 8 if bits == 8 else 12),
        (0x00280102, "US", 7 if bits == 8 else 11),
        (0x00280103, "US", 0),
    ]
    if thickness:
        series.append((0x00180050, "DS", thickness))
    if modality == "CT":
        series += [
            (0x00080008, "CS", ["ORIGINAL", "PRIMARY", "AXIAL"]),
            (0x00180060, "DS", "120"),
            (0x00181210, "SH", rng.choice(["B30f", "STANDARD", "FC07"])),
            (0x00281052, "DS", "-1024"),
            (0x00281053, "DS", "1"),
            (0x00280030, "DS", ["0.7", "0.7"]),
        ]
    elif modality == "MR":
        series += [
            (0x00080008, "CS", ["ORIGINAL", "PRIMARY", "M"]),
            (0x00180087, "DS", rng.choice(["1.5", "3"])),
            (0x00180080, "DS", "500"),
            (0x00180081, "DS", "15"),
            (0x00280030, "DS", ["0.9", "0.9"]),
        ]
    elif modality in ("CR", "DX"):
        series += [(0x00185101, "CS", rng.choice(["PA", "AP", "LL"])), (0x00280030, "DS", ["0.15", "0.15"])]
        if modality == "DX":
            series.append((0x00080068, "CS", "FOR PRESENTATION"))
    if burned is not None:
        series.append((0x00280301, "CS", burned))
    if multiframe:
        series += [
            (0x00280008, "IS", str(frames)),
            (0x00181063, "DS", "66.7"),
            (0x00280009, "AT", 0x00181063),
        ]

    files: list[DemoFile] = []
    for i in range(1, count + 1):
        sop_uid = _uid(seed, series_uid, i)
        elems: list[Elem] = [
            *study,
            *series,
            (0x00080018, "UI", sop_uid),
            (0x00080023, "DA", ctx["date"]),  # ContentDate
            (0x00080033, "TM", ctx["time"]),  # ContentTime
            (0x00200013, "IS", str(i)),
        ]
        if modality in ("CT", "MR"):
            elems += [
                (0x00200032, "DS", ["-120", "-120", f"{i * float(thickness or 1):.2f}"]),
                (0x00200037, "DS", ["1", "0", "0", "0", "1", "0"]),
            ]
        if rng.random() < 0.2:  # ImageComments: free text with identifying content
            elems.append(
                (
                    0x00204000,
                    "LT",
                    f"Patient {who['family']} {who['given']} ({who['mrn']}) repositioned"
                    if rng.random() < 0.6
                    else f"MRN {who['mrn']} motion artefact",
                )
            )
        birth = who["birth"].strftime("%Y%m%d") if who["birth"] else ""
        elems += [  # a private block that repeats the identity, as some vendors' do
            (0x00110010, "LO", _PRIVATE_CREATOR),
            (0x00111010, "LO", ctx["latin_pn"]),
            (0x00111011, "LO", who["mrn"]),
            (0x00111012, "DA", birth),
            (0x00111013, "LT", f"exported for {who['hangul'] if ctx['hangul'] else ctx['latin_pn']}"),
            (0x7FE00010, "OB" if bits == 8 else "OW", _pixels(nprng, frames, bits)),
        ]
        meta: list[Elem] = [
            (0x00020001, "OB", b"\x00\x01"),
            (0x00020002, "UI", sop_class),
            (0x00020003, "UI", sop_uid),
            (0x00020010, "UI", EXPLICIT_VR_LE),
            (0x00020012, "UI", IMPLEMENTATION_CLASS_UID),
            (0x00020013, "SH", IMPLEMENTATION_VERSION),
        ]
        name = f"IM{i:05d}" if no_ext else f"IM{i:05d}.dcm"
        files.append(DemoFile(path=folder / name, meta=meta, elements=sorted(elems, key=lambda e: e[0])))
    return files


# --- encoding -------------------------------------------------------------------------------------

_LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
_TEXT_VRS = {"LO", "LT", "PN", "SH", "ST", "UC", "UT"}
_PY_ENCODING = {"ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8", "": "ascii"}
_NUMERIC = {"US": "H", "UL": "L", "SS": "h", "SL": "l", "FL": "f", "FD": "d"}


@dataclass(slots=True)
class DemoFile:
    """One demo file before encoding: its path, file meta elements and dataset elements."""

    path: Path
    meta: list[Elem]
    elements: list[Elem]


def _value(vr: str, value: Any, enc: str) -> bytes:
    if vr == "SQ":
        out = []
        for item in value:
            body = _encode_elements(item, enc)
            out.append(struct.pack("<HHL", 0xFFFE, 0xE000, len(body)) + body)
        return b"".join(out)
    if vr in _NUMERIC:
        vals = value if isinstance(value, list) else [value]
        return struct.pack(f"<{len(vals)}{_NUMERIC[vr]}", *vals)
    if vr == "AT":
        vals = value if isinstance(value, list) else [value]
        return b"".join(struct.pack("<HH", t >> 16, t & 0xFFFF) for t in vals)
    if isinstance(value, bytes):
        return value + b"\0" if len(value) % 2 else value
    text = "\\".join(value) if isinstance(value, list) else str(value)
    raw = text.encode(enc if vr in _TEXT_VRS else "ascii")
    if len(raw) % 2:
        raw += b"\0" if vr == "UI" else b" "
    return raw


def _encode_elements(elems: list[Elem], enc: str) -> bytes:
    out = []
    for tag, vr, value in sorted(elems, key=lambda e: e[0]):
        raw = _value(vr, value, enc)
        if vr in _LONG_VRS:
            out.append(struct.pack("<HH2s2xL", tag >> 16, tag & 0xFFFF, vr.encode(), len(raw)))
        else:
            out.append(struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), len(raw)))
        out.append(raw)
    return b"".join(out)


def encode_part10(f: DemoFile) -> bytes:
    """Encode a demo file as Part 10, explicit VR little endian — byte-identical to pydicom's
    ``dcmwrite(enforce_file_format=True)`` of :func:`to_pydicom` (the tests check it), at ~1/20 of
    the cost, which is what makes thousands of demo files take seconds."""
    charset = next((v for t, _, v in f.elements if t == 0x00080005), "")
    enc = _PY_ENCODING[charset]
    meta = _encode_elements(f.meta, "ascii")
    group_length = struct.pack("<HH2sHL", 0x0002, 0x0000, b"UL", 4, len(meta))
    return b"\0" * 128 + b"DICM" + group_length + meta + _encode_elements(f.elements, enc)


def _to_dataset(elems: list[Elem], ds: _D) -> _D:
    for tag, vr, value in elems:
        if vr == "SQ":
            value = Sequence([_to_dataset(item, Dataset()) for item in value])
        ds.add(DataElement(tag, vr, value))
    return ds


def to_pydicom(f: DemoFile) -> Dataset:
    """The same file as a pydicom dataset (reference for :func:`encode_part10`, and for de-id tests)."""
    ds = _to_dataset(f.elements, Dataset())
    ds.file_meta = _to_dataset(f.meta, FileMetaDataset())
    return ds


def demo_files(
    mart_path: Path, out_dir: Path, seed: int, persons: Collection[int] | None = None
) -> Iterator[DemoFile]:
    """Every demo file of the mart (of ``persons`` only, when given), in a stable order (study UID,
    series, instance), not yet encoded."""
    con = duckdb.connect(str(mart_path), read_only=True)
    try:
        series_rows = _read_series(con)
    finally:
        con.close()
    if persons is not None:
        wanted = set(persons)
        series_rows = [s for s in series_rows if s["person_id"] in wanted]
    by_study: dict[str, list[dict[str, Any]]] = {}
    for s in series_rows:
        by_study.setdefault(s["study_uid"], []).append(s)
    for study_uid in sorted(by_study):
        members = by_study[study_uid]
        first = members[0]
        who = _identity(first, seed)
        modalities = [(m["modality"] or "OT").strip().upper() for m in members]
        study_elems, ctx = _study_elements(seed, first, who, modalities)
        for number, s in enumerate(members, start=1):
            yield from _series_files(seed, s, number, who, study_elems, ctx, out_dir)


def select_demo_persons(mart_path: Path, seed: int, max_files: int, first: Collection[int] = ()) -> list[int]:
    """Persons whose imaging makes about ``max_files`` demo files: whole persons in an order fixed by
    (seed, person_id) — a uniform sample, so that any cohort of the demo mart finds images for about the
    same share of its persons — plus, on top, the persons in ``first`` (e.g. the seed scenario's cohort,
    so the README tour finds their images).

    Why: the demo mart has every imaging series of every person (~25 files per imaged person), far
    more files than a demo needs; a sample of whole persons keeps each chosen person's imaging
    complete (criteria windows see all of it).  Files per series are estimated from the writer's
    per-modality range, so the count written is near, not exactly, ``max_files``.
    """
    con = duckdb.connect(str(mart_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT person_id, upper(trim(coalesce(modality_source_value, 'OT'))), count(DISTINCT "
            "image_series_uid) "
            "FROM image_occurrence GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    estimate: dict[int, float] = {}
    for person_id, modality, n in rows:
        lo, hi = _INSTANCES.get(modality, (1, 3))
        estimate[person_id] = estimate.get(person_id, 0.0) + n * (lo + hi) / 2
    order = sorted(estimate, key=lambda p: hashlib.sha256(f"{seed}:demo-person:{p}".encode()).digest())
    chosen: list[int] = []
    total = 0.0
    for p in order:
        if total >= max_files:
            break
        if chosen and total + estimate[p] > max_files:
            continue  # a person with less imaging may still fit
        chosen.append(p)
        total += estimate[p]
    # ``first`` persons come on top of the uniform sample, which therefore keeps its variety.
    taken = set(chosen)
    chosen += [p for p in first if p in estimate and p not in taken]
    return sorted(chosen)


def write_demo_dicom(
    mart_path: Path,
    out_dir: Path,
    seed: int,
    max_files: int | None = None,
    persons: Collection[int] | None = None,
) -> int:
    """Write Part-10 files for every imaging series of the mart under ``out_dir``; return how many.

    Reads ``image_occurrence`` × ``person`` (× ``demo_identity`` when the mart has it; deterministic
    stand-in names otherwise).  ``max_files`` stops after that many files (whole studies first are
    kept in study-UID order); ``persons`` restricts the files to those persons' series
    (:func:`select_demo_persons`).  Deterministic in (mart, seed, persons).
    """
    written = 0
    made: set[Path] = set()
    for f in demo_files(mart_path, out_dir, seed, persons):
        if max_files is not None and written >= max_files:
            break
        if f.path.parent not in made:
            f.path.parent.mkdir(parents=True, exist_ok=True)
            made.add(f.path.parent)
        f.path.write_bytes(encode_part10(f))
        written += 1
    return written
