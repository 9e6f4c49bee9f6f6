"""Leak test: identifiers planted in a mart, its notes and its DICOM files must not survive `cohort export`.

The corpus is a tiny OMOP mart (``tests.dicom_fixtures.make_tiny_mart``) whose identities are made
distinctive, its demo DICOM files (``dicom_index.demo.write_demo_dicom``), and three extra files with
identifiers planted in more than 40 attributes: nested sequences, private blocks (also inside a
public sequence item), OtherPatientIDs(+Sequence), overlays, SR-style content, free text holding
names, Korean resident registration numbers (YYMMDD-NNNNNNN), Korean phone numbers, e-mail and dates
— in UTF-8, Latin-1/implicit VR and ISO 2022 IR 149 (EUC-KR) files.  Notes (``note.note_text``) hold
the same kinds of values.

The real CLI runs twice (typer's CliRunner): a folder export (series manifest in all four formats,
burned-in files left out, secret from the environment) and a zip export (instance manifest,
burned-in allowed, secret from a file); and the manifests the REST API serves (``iter_manifest_rows``
+ ``write_manifest``, both levels, all formats) are written straight from the mart.  Then every
output byte is scanned — every file, the zip as stored and each member unpacked, file and member
names, the Parquet manifests decoded, stdout, stderr, file-descriptor output, every log record and
warning — for every planted value in UTF-8 (ASCII case-insensitive), EUC-KR, Latin-1 and JSON \\u
escapes; names also as DICOM PN (``FAMILY^GIVEN``) and in both orders, dates as YYYYMMDD,
YYYY-MM-DD, YYYY.MM.DD, YYYY/MM/DD, Korean and English forms, phones and RRNs also as bare digits;
plus the original UIDs of every file and the release secret (as text, hex and base64).  A positive
control runs the same scan over the inputs and must find every planted value there.
The test prints the number of planted values, attributes, needles and leaks (0).

The corpus builder is shared with ``test_deid_manifest`` and ``test_deid_export``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import logging
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from typer.testing import CliRunner

from cohort_engine.cli import app
from cohort_engine.deid.manifest import iter_manifest_rows, write_manifest
from cohort_engine.deid.policy import ReleasePolicy, remap_uid
from cohort_engine.deid.scrub import scrub_text
from cohort_engine.dicom_index.demo import write_demo_dicom
from cohort_engine.dicom_index.indexer import index_folders
from cohort_engine.pipeline import compile_spec
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.runner import open_mart
from tests.dicom_fixtures import make_tiny_mart

SECRET = "leak-test-secret-Q7vX2mP9kR4tW8zL"
PROJECT = "leaktest-2026"
SENTENCE = "patients diagnosed between 2018-01-01 and 2024-12-31"
SPEC = {
    "index": {"domain": "condition", "date_range": {"start": "2018-01-01", "end": "2024-12-31"}},
    "criteria": [
        {"label": "imaging after", "domain": "imaging", "window": {"start": 0, "end": 3000}},
        {"label": "no death", "domain": "death", "occurrence": {"type": "exactly", "count": 0}},
    ],
}

# --------------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------------

_FAMILY = [
    ("Hwangbo", "황보"),
    ("Namgung", "남궁"),
    ("Jegal", "제갈"),
    ("Seonu", "선우"),
    ("Dokgo", "독고"),
    ("Sagong", "사공"),
    ("Seomun", "서문"),
    ("Dongbang", "동방"),
    ("Eogeum", "어금"),
    ("Mangjeol", "망절"),
]
_GIVEN = [
    ("Seungheon", "승헌"),
    ("Chaewon", "채원"),
    ("Jiseong", "지성"),
    ("Sihyeon", "시현"),
    ("Taegyun", "태균"),
    ("Eunchae", "은채"),
    ("Minhyuk", "민혁"),
    ("Yoonseo", "윤서"),
    ("Hyunwoo", "현우"),
    ("Jungwon", "정원"),
]
_STREETS = [
    "Banpo-daero",
    "Dosan-daero",
    "Eonju-ro",
    "Hakdong-ro",
    "Nonhyeon-ro",
    "Bongeunsa-ro",
    "Seolleung-ro",
    "Yeoksam-ro",
    "Samseong-ro",
    "Apgujeong-ro",
]
#: Staff names planted in the extra files (PN form).
_STAFF = [
    "RYEOM^DAEHYUN",
    "GYEON^SORIM",
    "PYEON^HAJUN",
    "YEOP^GAYEON",
    "BANGHWA^NARAE",
    "JEUP^BYEOLHA",
    "OKGYE^SEULGI",
    "CHEONJI^HANBYUL",
    "GWAK^SEOJIN",
    "NAMGOONG^WOOJIN",
    "JEGAL^YERIM",
]


@dataclass
class Planted:
    """One planted value: where it went, what kind it is (decides the spellings scanned for)."""

    where: str
    kind: str  # name | pn | hangul | id | date | dt | phone | rrn | address | email | uid | text
    value: str


@dataclass
class Corpus:
    root: Path
    mart: Path
    dicom: Path
    planted: list[Planted] = field(default_factory=list)
    planted_attributes: set[tuple[str, str]] = field(default_factory=set)
    """(planted file, attribute path) pairs."""
    current_file: str = ""
    notes: dict[int, str] = field(default_factory=dict)
    identities: dict[int, dict[str, str]] = field(default_factory=dict)

    def plant(self, where: str, kind: str, value: str, attribute: bool = True) -> str:
        self.planted.append(Planted(where, kind, value))
        if attribute:
            self.planted_attributes.add((self.current_file, where))
        return value


def _identity(pid: int) -> dict[str, str]:
    (fam, fam_h), (giv, giv_h) = _FAMILY[(pid - 1) % 10], _GIVEN[(pid * 3) % 10]
    birth = dt.date(1940 + pid * 4, 1 + pid % 12, 10 + pid)
    return {
        "family": fam,
        "given": giv,
        "hangul": fam_h + giv_h,
        "family_h": fam_h,
        "given_h": giv_h,
        "address": f"{100 + pid} {_STREETS[pid % 10]}, Seocho-gu, Seoul",
        "phone": f"010-{4821 + pid * 37:04d}-{7736 - pid * 11:04d}",
        "mrn": f"H{(pid * 48271 + 10398) % 10**8:08d}",
        "birth": birth.isoformat(),
        "rrn": f"{birth:%y%m%d}-{1 if birth.year < 2000 else 3}{(pid * 739391) % 10**6:06d}",
    }


def _pixels(ds: Dataset) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (np.arange(64, dtype="<u2") * 7).tobytes()


def _base(c: Corpus, who: dict[str, str], study: str, series: str, sop: str, transfer: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(transfer)
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = c.plant("SOPInstanceUID", "uid", sop)
    ds.StudyInstanceUID = c.plant("StudyInstanceUID", "uid", study)
    ds.SeriesInstanceUID = c.plant("SeriesInstanceUID", "uid", series)
    ds.Modality = "CT"
    ds.BodyPartExamined = "CHEST"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20220311"
    ds.StudyTime = "101500"
    ds.PatientID = c.plant("PatientID", "id", who["mrn"])
    ds.PatientSex = "M"
    ds.PatientAge = "045Y"
    ds.InstanceNumber = 1
    ds.SeriesNumber = 1
    _pixels(ds)
    return ds


def _planted_file_utf8(c: Corpus, who: dict[str, str], uids: tuple[str, str, str]) -> Dataset:
    """File A: UTF-8, explicit VR — the full set of planted attributes."""
    p = c.plant
    ds = _base(c, who, *uids, ExplicitVRLittleEndian)
    ds.SpecificCharacterSet = "ISO_IR 192"
    fam, giv, han = who["family"], who["given"], who["hangul"]
    p("PatientName", "name", fam)
    p("PatientName", "name", giv)
    p("PatientName", "hangul", han)
    ds.PatientName = f"{fam.upper()}^{giv.upper()}={who['family_h']}^{who['given_h']}"
    ds.IssuerOfPatientID = p("IssuerOfPatientID", "id", "SEOMUN-MEMORIAL-HIS")
    ds.OtherPatientIDs = p("OtherPatientIDs", "id", "H55021987")
    other = Dataset()
    other.PatientID = p("OtherPatientIDsSequence/PatientID", "id", "K-7781-2204")
    other.IssuerOfPatientID = p("OtherPatientIDsSequence/IssuerOfPatientID", "id", "DONGBANG-CLINIC")
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = DicomSequence([other])
    ds.OtherPatientNames = p("OtherPatientNames", "pn", "DOKGO^HARANG")
    ds.PatientBirthName = p("PatientBirthName", "pn", "MANGJEOL^SOBIN")
    ds.PatientMotherBirthName = p("PatientMotherBirthName", "pn", "JANGGOK^YEONHWA")
    ds.PatientBirthDate = who["birth"].replace("-", "")
    p("PatientBirthDate", "date", who["birth"])
    ds.PatientAddress = p("PatientAddress", "address", who["address"])
    ds.PatientTelephoneNumbers = p("PatientTelephoneNumbers", "phone", who["phone"])
    ds.MedicalRecordLocator = p("MedicalRecordLocator", "id", "MRL-77-4410")
    ds.AdmissionID = p("AdmissionID", "id", "ADM20220311X77")
    rrn = p("PatientComments", "rrn", who["rrn"])
    ds.PatientComments = (
        f"Lives with daughter; RRN {rrn}; emergency contact {p('PatientComments', 'phone', '010-9932-1045')}"
    )
    ds.AdditionalPatientHistory = (
        f"{giv} {fam} had surgery on {p('AdditionalPatientHistory', 'date', '1996-07-23')} (MRN {who['mrn']})"
    )
    ds.AccessionNumber = p("AccessionNumber", "id", "ACC88412077")
    ds.StudyID = p("StudyID", "id", "ST-XQ7781")
    ds.StudyDescription = f"CT chest for {fam} {giv} {han}님"
    p("StudyDescription", "text", f"{fam} {giv}")
    ds.SeriesDescription = f"AX 5mm {han} 환자 MRN {who['mrn']}"
    p("SeriesDescription", "text", han)
    email = p("ImageComments", "email", f"{giv.lower()}.{fam.lower()}@naver.com")
    ds.ImageComments = (
        f"pt called from {p('ImageComments', 'phone', '+82 10-5532-9081')}, email {email}, "
        f"seen {p('ImageComments', 'date', '1999-02-17')}"
    )
    ds.InstitutionName = p("InstitutionName", "text", "Seomun Memorial Hospital")
    ds.InstitutionAddress = p("InstitutionAddress", "address", "77 Dongbang-ro 12-gil, Seongdong-gu, Seoul")
    ds.InstitutionalDepartmentName = p("InstitutionalDepartmentName", "text", "Mangjeol Cardiology Wing")
    ds.ReferringPhysicianName = p("ReferringPhysicianName", "pn", _STAFF[0])
    ds.ReferringPhysicianAddress = p("ReferringPhysicianAddress", "address", "15 Ryeom-gil, Mapo-gu, Seoul")
    ds.ReferringPhysicianTelephoneNumbers = p("ReferringPhysicianTelephoneNumbers", "phone", "02-3410-2114")
    ds.PerformingPhysicianName = p("PerformingPhysicianName", "pn", _STAFF[1])
    ds.NameOfPhysiciansReadingStudy = p("NameOfPhysiciansReadingStudy", "pn", _STAFF[2])
    ds.OperatorsName = p("OperatorsName", "pn", _STAFF[3])
    ds.PhysiciansOfRecord = p("PhysiciansOfRecord", "pn", _STAFF[4])
    ds.ConsultingPhysicianName = p("ConsultingPhysicianName", "pn", _STAFF[9])
    ds.StationName = p("StationName", "id", "CTGANGNAM07")
    ds.DeviceSerialNumber = p("DeviceSerialNumber", "id", "SNKX88421Q")
    ds.ProtocolName = f"CHEST {fam.upper()} PROTOCOL"
    p("ProtocolName", "text", fam)
    ds.PerformedProcedureStepDescription = f"CT by Dr. Gyeon for {giv}"
    p("PerformedProcedureStepDescription", "text", giv)
    ds.MedicalAlerts = f"contact Mrs. Seomun {p('MedicalAlerts', 'phone', '010-2211-3344')}"
    ds.RegionOfResidence = p("RegionOfResidence", "text", "Seocho-gu Banpo-2-dong")
    ds.CurrentPatientLocation = p("CurrentPatientLocation", "text", "Ward 7B Seomun wing")
    ds.ResponsiblePerson = p("ResponsiblePerson", "pn", _STAFF[10])
    ds.ResponsibleOrganization = p("ResponsibleOrganization", "text", "Gwangmyeong Welfare Foundation")

    # Request Attributes Sequence: nested code sequence and a private block inside the item.
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "P101", "99PLANT"
    code.CodeMeaning = f"Protocol for {fam}"
    p("RequestAttributesSequence/ScheduledProtocolCodeSequence/CodeMeaning", "text", fam)
    req = Dataset()
    req.SpecificCharacterSet = "ISO_IR 192"
    req.RequestedProcedureDescription = f"Chest CT {han}"
    p("RequestAttributesSequence/RequestedProcedureDescription", "hangul", han)
    req.ReasonForTheRequestedProcedure = (
        f"f/u RRN {p('RequestAttributesSequence/ReasonForTheRequestedProcedure', 'rrn', '520814-1048213')}"
    )
    req.RequestedProcedureID = p("RequestAttributesSequence/RequestedProcedureID", "id", "RPX-55190")
    req.ScheduledProcedureStepID = p("RequestAttributesSequence/ScheduledProcedureStepID", "id", "SPSX-55190")
    req.RequestingPhysician = p("RequestAttributesSequence/RequestingPhysician", "pn", _STAFF[5])
    req.ScheduledProtocolCodeSequence = DicomSequence([code])
    blk = req.private_block(0x0033, "PLANTED NESTED", create=True)
    blk.add_new(0x01, "LO", f"{giv}^{fam}")
    p("RequestAttributesSequence/(0033,1001) private", "text", f"{giv}^{fam}")
    ds.RequestAttributesSequence = DicomSequence([req])

    # SR-style content, two levels deep.
    inner = Dataset()
    inner.ValueType = "TEXT"
    inner.TextValue = f"RRN {p('ContentSequence/ContentSequence/TextValue', 'rrn', '610203-2234567')} noted"
    outer = Dataset()
    outer.ValueType = "TEXT"
    outer.TextValue = f"Called {who['phone']}; address {who['address']}"
    p("ContentSequence/TextValue", "text", who["address"])
    outer.PersonName = p("ContentSequence/PersonName", "pn", _STAFF[6])
    outer.DateTime = "19960723101500"
    p("ContentSequence/DateTime", "dt", "1996-07-23")
    outer.ContentSequence = DicomSequence([inner])
    ds.ContentSequence = DicomSequence([outer])

    observer = Dataset()
    observer.VerifyingObserverName = p("VerifyingObserverSequence/VerifyingObserverName", "pn", _STAFF[7])
    observer.VerifyingOrganization = p(
        "VerifyingObserverSequence/VerifyingOrganization", "text", "Cheonji Radiology Group"
    )
    observer.VerificationDateTime = "19960723120000"
    ds.VerifyingObserverSequence = DicomSequence([observer])

    ref_patient = Dataset()
    ref_patient.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.1.1"
    ref_patient.ReferencedSOPInstanceUID = p(
        "ReferencedPatientSequence/ReferencedSOPInstanceUID", "uid", "1.2.410.200013.99.7.1"
    )
    ds.ReferencedPatientSequence = DicomSequence([ref_patient])
    ref_study = Dataset()
    ref_study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    ref_study.ReferencedSOPInstanceUID = p(
        "ReferencedStudySequence/ReferencedSOPInstanceUID", "uid", "1.2.410.200013.99.7.2"
    )
    ds.ReferencedStudySequence = DicomSequence([ref_study])
    ds.FrameOfReferenceUID = p("FrameOfReferenceUID", "uid", "1.2.410.200013.99.7.3")

    ds.add_new(0x60000022, "LO", f"overlay {fam}")  # OverlayDescription (repeating group)
    p("(6000,0022) OverlayDescription", "text", fam)

    vendor = ds.private_block(0x0009, "PLANTED VENDOR 1.0", create=True)
    vendor.add_new(0x01, "LO", f"{fam}^{giv}")
    p("(0009,1001) private LO", "text", f"{fam}^{giv}")
    vendor.add_new(0x02, "LT", f"RRN {p('(0009,1002) private LT', 'rrn', '480916-1777231')}")
    vendor.add_new(0x03, "SH", p("(0009,1003) private SH", "phone", "031-987-6543"))
    vendor.add_new(0x04, "DA", "19570402")
    p("(0009,1004) private DA", "date", "1957-04-02")
    item = Dataset()
    item.add_new(0x00091010, "LO", "PLANTED VENDOR 1.0")
    item.add_new(0x00091001, "LO", p("(0009,1005) private SQ/item LO", "id", "H91827364"))
    vendor.add_new(0x05, "SQ", DicomSequence([item]))
    return ds


def _planted_file_latin1(c: Corpus, who: dict[str, str], uids: tuple[str, str, str]) -> Dataset:
    """File B: Latin-1, implicit VR little endian."""
    p = c.plant
    ds = _base(c, who, *uids, ImplicitVRLittleEndian)
    ds.SpecificCharacterSet = "ISO_IR 100"
    fam, giv = who["family"], who["given"]
    ds.PatientName = f"{fam.upper()}^{giv.upper()}"
    p("PatientName (Latin-1)", "name", fam)
    ds.PatientBirthDate = who["birth"].replace("-", "")
    ds.PatientAddress = p("PatientAddress (Latin-1)", "address", who["address"])
    ds.InstitutionName = p("InstitutionName (Latin-1)", "text", "Hôpital Sainte-Thérèse Seomun")
    ds.ReferringPhysicianName = p("ReferringPhysicianName (Latin-1)", "pn", _STAFF[8])
    # A staff name typed into a description: the index does not hold staff names, so only an export
    # that reads the header (ReferringPhysicianName) can tell the manifest's scrubber about it.
    ds.StudyDescription = f"Thorax für {fam} {giv}, geb. {who['birth']}, ref. Seojin Gwak"
    p("StudyDescription (Latin-1)", "text", f"{fam} {giv}")
    p("StudyDescription (Latin-1)", "text", "Seojin Gwak")
    ds.ImageComments = f"Rückruf {p('ImageComments (Latin-1)', 'phone', '010-7788-4411')} RRN {who['rrn']}"
    ds.AccessionNumber = p("AccessionNumber (Latin-1)", "id", "ACC55120934")
    other = Dataset()
    other.PatientID = p("OtherPatientIDsSequence/PatientID (Latin-1)", "id", "K-3310-9087")
    ds.OtherPatientIDsSequence = DicomSequence([other])
    vendor = ds.private_block(0x0019, "PLANTED LATIN", create=True)
    vendor.add_new(0x01, "LO", f"{fam} {giv}")
    p("(0019,1001) private LO (Latin-1)", "text", f"{fam} {giv}")
    return ds


def _planted_file_euckr(c: Corpus, who: dict[str, str], uids: tuple[str, str, str]) -> Dataset:
    """File C: ISO 2022 IR 149 (EUC-KR Hangul with escape sequences), explicit VR."""
    p = c.plant
    ds = _base(c, who, *uids, ExplicitVRLittleEndian)
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 149"]
    ds.PatientName = f"{who['family'].upper()}^{who['given'].upper()}={who['family_h']}^{who['given_h']}"
    p("PatientName (EUC-KR)", "hangul", who["hangul"])
    ds.StudyDescription = f"흉부 CT {who['hangul']}님"
    p("StudyDescription (EUC-KR)", "hangul", who["hangul"])
    ds.InstitutionName = p("InstitutionName (EUC-KR)", "hangul", "서문기념병원")
    ds.PatientAddress = p("PatientAddress (EUC-KR)", "address", "서울특별시 서초구 반포대로 58")
    ds.ImageComments = f"{who['hangul']} 환자 주민번호 {who['rrn']} 연락처 {who['phone']}"
    p("ImageComments (EUC-KR)", "rrn", who["rrn"])
    ds.OperatorsName = p("OperatorsName (EUC-KR)", "pn", "탁^별하")
    vendor = ds.private_block(0x0021, "PLANTED KOREAN", create=True)
    vendor.add_new(0x01, "LO", who["hangul"])
    p("(0021,1001) private LO (EUC-KR)", "hangul", who["hangul"])
    return ds


def build_corpus(root: Path, persons: int = 10, studies: int = 8) -> Corpus:
    """Mart + notes + demo DICOM + planted files, indexed.  ~1 s."""
    mart, dicom = root / "mart.duckdb", root / "dicom"
    c = Corpus(root=root, mart=mart, dicom=dicom)
    make_tiny_mart(mart, persons=persons, studies=studies, seed=5)
    con = duckdb.connect(str(mart))
    try:
        con.execute("DELETE FROM demo_identity")
        for pid in range(1, persons + 1):
            who = _identity(pid)
            c.identities[pid] = who
            birth = dt.date.fromisoformat(who["birth"])
            con.execute(
                "UPDATE person SET person_source_value = ?, year_of_birth = ?, month_of_birth = ?, "
                "day_of_birth = ? WHERE person_id = ?",
                [who["mrn"], birth.year, birth.month, birth.day, pid],
            )
            con.execute(
                "INSERT INTO demo_identity VALUES (?, ?, ?, ?, ?, ?)",
                [pid, who["family"], who["given"], who["hangul"], who["address"], who["phone"]],
            )
            where = f"mart person {pid}"
            for kind, key in (
                ("name", "family"),
                ("name", "given"),
                ("hangul", "hangul"),
                ("hangul", "given_h"),
                ("id", "mrn"),
                ("date", "birth"),
                ("address", "address"),
                ("phone", "phone"),
            ):
                c.plant(where, kind, who[key], attribute=False)
            c.plant(f"note of person {pid}", "rrn", who["rrn"], attribute=False)
            note = (
                f"{who['hangul']}({who['given']} {who['family']}, {who['mrn']}) 님은 {who['birth']} 생으로 "
                f"주민등록번호 {who['rrn']}, 주소 {who['address']}, 연락처 {who['phone']}. "
                f"Seen on {dt.date(1998, 5, pid):%B %d, %Y} by Dr. Ryeom; call +82 10-5532-9081."
            )
            c.notes[pid] = note
            con.execute(
                "INSERT INTO note (note_id, person_id, note_date, note_type_concept_id, "
                "note_class_concept_id, "
                "note_text, encoding_concept_id, language_concept_id) VALUES (?, ?, DATE '2020-01-01', "
                "0, 0, ?, 0, 0)",
                [pid, pid, note],
            )
            c.plant(f"note of person {pid}", "date", f"1998-05-{pid:02d}", attribute=False)
        con.execute(
            "INSERT INTO condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, "
            "condition_start_date, condition_type_concept_id) "
            "SELECT person_id, person_id, 0, DATE '2018-01-01' + INTERVAL (person_id * 10) DAY, 32817 "
            "FROM person"
        )
    finally:
        con.close()
    write_demo_dicom(mart, dicom, seed=5)
    # Planted files: one new CT study per variant, linked to its person through image_occurrence
    # (added after the demo writer ran, so that these series hold the planted file only).
    (dicom / "planted").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(mart))
    try:
        next_id = (
            int(con.execute("SELECT max(image_occurrence_id) FROM image_occurrence").fetchall()[0][0]) + 1
        )
        variants = [(1, _planted_file_utf8), (2, _planted_file_latin1), (3, _planted_file_euckr)]
        for n, (pid, make) in enumerate(variants, start=1):
            uids = (f"1.2.410.200013.77.{n}", f"1.2.410.200013.77.{n}.1", f"1.2.410.200013.77.{n}.1.1")
            con.execute(
                "INSERT INTO image_occurrence (image_occurrence_id, person_id, image_occurrence_date, "
                "image_study_uid, image_series_uid, modality_source_value, anatomic_site_source_value) "
                "VALUES (?, ?, DATE '2022-03-11', ?, ?, 'CT', 'CHEST')",
                [next_id + n, pid, uids[0], uids[1]],
            )
            c.current_file = f"planted_{n}.dcm"
            make(c, c.identities[pid], uids).save_as(
                dicom / "planted" / c.current_file, enforce_file_format=True
            )
            c.current_file = ""
    finally:
        con.close()
    _plant_from_demo_files(c)
    index_folders(mart, [dicom], workers=1)
    return c


def _plant_from_demo_files(c: Corpus) -> None:
    """Values the demo writer put into its files: staff names, institutions, IDs, every original UID."""
    seen: set[tuple[str, str]] = set()

    def add(where: str, kind: str, value: str) -> None:
        if value and (kind, value) not in seen:
            seen.add((kind, value))
            c.plant(where, kind, value, attribute=False)

    def walk(ds: Dataset) -> None:
        for elem in ds:
            if elem.VR == "SQ":
                for item in elem.value:
                    walk(item)
            elif elem.VR == "PN" and elem.value:
                for comp in str(elem.value).split("="):
                    if comp and elem.keyword != "PatientName":
                        add(f"demo {elem.keyword}", "pn", comp)
            elif (
                elem.VR == "UI" and elem.keyword != "SOPClassUID" and elem.keyword != "ReferencedSOPClassUID"
            ):
                add(f"demo {elem.keyword}", "uid", str(elem.value))
            elif (
                elem.keyword
                in (
                    "AccessionNumber",
                    "RequestedProcedureID",
                    "ScheduledProcedureStepID",
                    "OtherPatientIDs",
                    "InstitutionName",
                    "InstitutionAddress",
                )
                or elem.keyword == "PatientID"
                and elem.value
            ):
                add(f"demo {elem.keyword}", "id", str(elem.value))

    for path in sorted(c.dicom.rglob("*")):
        if path.is_file() and "planted" not in path.parts:
            walk(dcmread(path, stop_before_pixels=True))


# --------------------------------------------------------------------------------------------------
# Needles: every spelling a planted value may take in an output
# --------------------------------------------------------------------------------------------------

_HANGUL = re.compile(r"[가-힣]")


def _date_spellings(iso: str) -> list[str]:
    d = dt.date.fromisoformat(iso)
    return [
        f"{d:%Y%m%d}",
        f"{d:%Y-%m-%d}",
        f"{d:%Y.%m.%d}",
        f"{d:%Y/%m/%d}",
        f"{d.year}년 {d.month}월 {d.day}일",
        f"{d:%B %d, %Y}",
        f"{d:%B} {d.day}, {d.year}",
        f"{d.day} {d:%B} {d.year}",
        f"{d:%d/%m/%Y}",
    ]


def spellings(p: Planted) -> set[str]:
    """The strings to look for (matched case-insensitively) for one planted value."""
    v = p.value
    out = {v}
    if p.kind in ("date", "dt"):
        out = set(_date_spellings(v))
    elif p.kind in ("phone", "rrn"):
        out |= {re.sub(r"\D", "", v)}
        if v.startswith("+82"):
            out |= {"0" + re.sub(r"\D", "", v)[2:]}
    elif p.kind == "pn":
        parts = [x for x in re.split(r"[\^ ]", v) if x]
        out |= {" ".join(parts), " ".join(reversed(parts))}
        out |= {x for x in parts if len(x) >= 5 or (_HANGUL.search(x) and len(x) >= 2)}
    elif p.kind == "name":
        out = {v} if len(v) >= 5 else set()
    elif p.kind == "address":
        tokens = v.split()
        if len(tokens) >= 2 and tokens[0].isdigit():
            out.add(" ".join(tokens[:2]).rstrip(","))  # "101 Banpo-daero"
    elif p.kind == "text" and "^" in v:
        out |= {v.replace("^", " ")}
    return {s for s in out if len(s) >= 5 or _HANGUL.search(s)}


def needles(planted: list[Planted]) -> dict[bytes, str]:
    """Encoded needle -> a description (where it was planted), lower-cased for ASCII case folding."""
    out: dict[bytes, str] = {}
    for p in planted:
        for s in spellings(p):
            desc = f"{p.where} [{p.kind}] {s!r}"
            forms = {s.lower().encode("utf-8")}
            for codec in ("euc_kr", "latin_1"):
                with contextlib.suppress(UnicodeEncodeError):
                    forms.add(s.lower().encode(codec))
            if not s.isascii():
                forms.add(json.dumps(s.lower()).strip('"').encode("ascii"))  # JSON \\u escapes
            for f in forms:
                out.setdefault(f, desc)
    return out


def scan(blobs: dict[str, bytes], needle_map: dict[bytes, str]) -> list[str]:
    """Every (output, needle) hit.  ASCII case folding only: ``bytes.lower`` leaves other bytes alone."""
    hits = []
    for name, data in blobs.items():
        low = data.lower()
        for n, desc in needle_map.items():
            if n in low:
                hits.append(f"{name}: {desc}")
    return hits


def collect_outputs(out_dir: Path) -> dict[str, bytes]:
    """Every output byte: files as stored, names, zip members unpacked, Parquet decoded."""
    blobs: dict[str, bytes] = {}
    names = []
    for path in sorted(out_dir.rglob("*")):
        rel = str(path.relative_to(out_dir))
        names.append(rel)
        if not path.is_file():
            continue
        data = path.read_bytes()
        blobs[rel] = data
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    names.append(f"{rel}!{info.filename}")
                    member = zf.read(info)
                    blobs[f"{rel}!{info.filename}"] = member
                    if info.filename.endswith(".parquet"):
                        blobs[f"{rel}!{info.filename} (decoded)"] = _parquet_text(member)
        if path.suffix == ".parquet":
            blobs[f"{rel} (decoded)"] = _parquet_text(data)
    blobs["(file and member names)"] = "\n".join(names).encode("utf-8")
    return blobs


def _parquet_text(data: bytes) -> bytes:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    return json.dumps(table.to_pylist(), ensure_ascii=False, default=str).encode("utf-8")


# --------------------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("leak"))


@pytest.fixture
def captured_logs() -> Iterator[_Records]:
    handler = _Records()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def test_planted_corpus_is_rich_enough(corpus: Corpus) -> None:
    in_utf8_file = {a for f, a in corpus.planted_attributes if f == "planted_1.dcm"}
    assert len(in_utf8_file) >= 40, sorted(in_utf8_file)
    nested = [a for _, a in corpus.planted_attributes if "/" in a]
    private = [a for _, a in corpus.planted_attributes if "private" in a]
    assert len(nested) >= 8 and len(private) >= 6
    kinds = {p.kind for p in corpus.planted}
    assert {"rrn", "phone", "hangul", "pn", "date", "uid", "email", "address"} <= kinds


def test_needles_find_every_planted_value_in_the_sources(corpus: Corpus) -> None:
    """Positive control: each planted value is found in the inputs (DICOM files as stored, notes) by
    the same scan — so a clean scan of the outputs means removed, not mis-encoded or mis-spelled."""
    sources = {
        str(p.relative_to(corpus.dicom)): p.read_bytes() for p in corpus.dicom.rglob("*") if p.is_file()
    }
    sources["notes"] = "\n".join(corpus.notes.values()).encode("utf-8")
    missing = [f"{p.where} [{p.kind}] {p.value!r}" for p in corpus.planted if not scan(sources, needles([p]))]
    assert missing == []
    euc = sources["planted/planted_3.dcm"]
    assert corpus.identities[3]["hangul"].encode("euc_kr") in euc  # really ISO 2022 IR 149 on disk
    assert corpus.identities[3]["hangul"].encode("utf-8") not in euc


def test_notes_are_scrubbed(corpus: Corpus) -> None:
    """The mart's notes hold every kind of planted value; scrub_text with the patient's identifiers
    removes them all (the manifests include no note text; this is what any note excerpt would get)."""
    policy = ReleasePolicy(project_key=PROJECT, secret=SECRET)
    note_needles = needles([p for p in corpus.planted if p.where.startswith(("mart person", "note of"))])
    blobs: dict[str, bytes] = {}
    for pid, text in corpus.notes.items():
        who = corpus.identities[pid]
        known = [
            who["family"],
            who["given"],
            who["hangul"],
            who["address"],
            who["phone"],
            who["mrn"],
            who["birth"],
            f"{who['family']}^{who['given']}",
        ]
        blobs[f"note {pid}"] = scrub_text(text, known, policy).encode("utf-8")
        assert "[NAME]" in blobs[f"note {pid}"].decode() and "[RRN]" in blobs[f"note {pid}"].decode()
    hits = scan(blobs, note_needles)
    print(f"\nnotes: {len(corpus.notes)} notes, {len(note_needles)} needles, leaks: {len(hits)}")
    assert hits == []


@pytest.mark.slow
def test_export_leaks_nothing(
    corpus: Corpus, tmp_path: Path, capfd: pytest.CaptureFixture[str], captured_logs: _Records
) -> None:
    runner = CliRunner()
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(SPEC), "utf-8")
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n", "utf-8")
    secret_file.chmod(0o600)
    out_a, out_b = tmp_path / "out_a", tmp_path / "out_b"

    common = [
        "export",
        "--mart",
        str(corpus.mart),
        "--project-key",
        PROJECT,
        "--format",
        "jsonl",
        "--format",
        "json",
        "--format",
        "csv",
        "--format",
        "parquet",
    ]
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        # A: folder, series manifest, burned-in files left out, secret from the environment, spec file.
        res_a = runner.invoke(
            app,
            [*common, "--out", str(out_a), "--spec", str(spec_file)],
            env={"COHORT_RELEASE_SECRET": SECRET},
        )
        # B: one zip, instance manifest, burned-in files allowed, secret from a file, cohort from a sentence.
        res_b = runner.invoke(
            app,
            [
                *common,
                "--out",
                str(out_b),
                "--secret-file",
                str(secret_file),
                "--zip",
                "--level",
                "instance",
                "--allow-burned-in",
                SENTENCE,
            ],
            env={"COHORT_RELEASE_SECRET": None},
        )
        # C: what the REST API serves: manifests straight from the mart (no DICOM files written).
        out_c = tmp_path / "out_c"
        out_c.mkdir()
        con = open_mart(corpus.mart)
        try:
            compiled = compile_spec(CohortSpec.model_validate(SPEC), con)
            policy = ReleasePolicy(project_key=PROJECT, secret=SECRET)
            for level in ("series", "instance"):
                for fmt in ("jsonl", "json", "csv", "parquet"):
                    write_manifest(
                        iter_manifest_rows(con, compiled, None, policy, level),
                        out_c / f"{level}.{fmt}",
                        fmt,
                        level,
                    )
        finally:
            con.close()
    fd = capfd.readouterr()
    assert res_a.exit_code == 0, res_a.output
    assert res_b.exit_code == 0, res_b.output

    blobs = {
        **{f"A/{k}": v for k, v in collect_outputs(out_a).items()},
        **{f"B/{k}": v for k, v in collect_outputs(out_b).items()},
        **{f"C/{k}": v for k, v in collect_outputs(out_c).items()},
    }
    for label, res in (("A", res_a), ("B", res_b)):
        blobs[f"{label} stdout"] = res.stdout.encode("utf-8")
        blobs[f"{label} stderr"] = res.stderr.encode("utf-8")
    blobs["fd stdout"] = fd.out.encode("utf-8")
    blobs["fd stderr"] = fd.err.encode("utf-8")
    blobs["log records"] = "\n".join(captured_logs.lines).encode("utf-8")
    blobs["warnings"] = "\n".join(f"{w.category.__name__}: {w.message}" for w in warned).encode("utf-8")

    dicom_out = [k for k in blobs if k.endswith(".dcm")]
    assert len([k for k in dicom_out if k.startswith("A/")]) > 50
    assert any(k.startswith("B/") and "!files/" in k for k in dicom_out)
    # The planted files were exported (else the test proves nothing about them).
    for n in (1, 2, 3):
        sop = remap_uid(policy, f"1.2.410.200013.77.{n}.1.1")
        assert any(k.startswith("A/") and k.endswith(f"/{sop}.dcm") for k in blobs), (
            f"planted file {n} not exported"
        )

    secret = SECRET.encode()
    secret_planted = [
        Planted("release secret", "id", v) for v in (SECRET, secret.hex(), base64.b64encode(secret).decode())
    ]
    all_planted = corpus.planted + secret_planted
    needle_map = needles(all_planted)
    hits = scan(blobs, needle_map)
    in_files = [p for p in corpus.planted if not p.where.startswith(("mart ", "note ", "demo "))]
    file_a = {a for f, a in corpus.planted_attributes if f == "planted_1.dcm"}
    total_bytes = sum(len(v) for v in blobs.values())
    print(
        f"\nplanted values: {len({(p.kind, p.value) for p in all_planted})} distinct "
        f"({len({(p.kind, p.value) for p in in_files})} in the 3 planted files over "
        f"{len(corpus.planted_attributes)} "
        f"attributes, {len(file_a)} in the UTF-8 file alone; the rest from the mart, its notes, the "
        "demo files' "
        "names/IDs/original UIDs, and the release secret); needles incl. spellings/encodings: "
        f"{len(needle_map)}; "
        f"scanned {len(blobs)} outputs ({len(dicom_out)} DICOM files, {len(warned)} warnings, "
        f"{len(captured_logs.lines)} log records), {total_bytes:,} bytes; leaks: {len(hits)}"
    )
    assert hits == [], "\n".join(hits[:50])
