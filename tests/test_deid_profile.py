"""PS3.15 Basic Profile: the action table from dicom-anonymizer, our options and keys, a byte-level
leak test over re-serialised output, burned-in handling, and the raw writer's fidelity."""

from __future__ import annotations

import importlib
import io
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit

from cohort_engine.deid import ps315_options
from cohort_engine.deid.dicom_io import write_dataset_file
from cohort_engine.deid.dicom_profile import (
    DeidContext,
    DeidError,
    available_editions,
    deidentify_dataset,
    deidentify_file,
    identifiers_from_dataset,
    load_action_table,
)
from cohort_engine.deid.policy import (
    ReleasePolicy,
    date_shift_days,
    is_valid_uid,
    pseudonym,
    remap_uid,
    shift_da,
)

POLICY = ReleasePolicy(project_key="profile-test", secret="profile-test-secret-0123456789")
STUDY_UID = "1.2.826.0.1.3680043.99.1"
SERIES_UID = "1.2.826.0.1.3680043.99.1.2"
FRAME_UID = "1.2.826.0.1.3680043.99.1.4"

# ------------------------------------------------------------------------------------ the table


def _source_module() -> ModuleType:
    return importlib.import_module(
        f"dicomanonymizer.dicom_anonymization_databases.dicomfields_{load_action_table().edition}"
    )


def test_table_comes_from_the_package_newest_edition() -> None:
    table = load_action_table()
    editions = available_editions()
    assert table.edition == editions[-1]
    assert {"2023", "2024b"} <= set(editions)
    src = _source_module()
    assert len(table) == len(src.ALL_TAGS) == len(set(src.ALL_TAGS))
    assert len(table) >= 600
    print(
        f"Table E.1-1 edition {table.edition} from dicom-anonymizer {table.package_version}: "
        f"{len(table)} attributes"
    )


@pytest.mark.parametrize(
    ("keyword", "category"),
    [
        ("PatientName", "Z_TAGS"),
        ("StudyInstanceUID", "U_TAGS"),
        ("SOPInstanceUID", "U_TAGS"),
        ("InstitutionName", "X_Z_D_TAGS"),
        ("ReferencedImageSequence", "X_Z_U_STAR_TAGS"),
        ("StudyDescription", "X_TAGS"),
        ("AccessionNumber", "Z_TAGS"),
        ("OtherPatientIDsSequence", "X_TAGS"),
    ],
)
def test_known_actions_match_the_source(keyword: str, category: str) -> None:
    tag = tag_for_keyword(keyword)
    assert tag is not None, keyword
    src = _source_module()
    assert (tag >> 16, tag & 0xFFFF) in getattr(src, category)
    code = {"Z_TAGS": "Z", "U_TAGS": "U", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*", "X_TAGS": "X"}
    assert load_action_table().action_by_keyword(keyword) == code[category]


def test_patient_id_action_read_from_source() -> None:
    """PatientID is Z in the 2023 edition and Z/D from 2024b on; we report what the source says."""
    src = _source_module()
    action = load_action_table().action_by_keyword("PatientID")
    in_z = (0x0010, 0x0020) in src.Z_TAGS
    assert action == ("Z" if in_z else "Z/D")
    assert load_action_table("2023").action_by_keyword("PatientID") == "Z"


def test_repeating_groups_and_option_lists() -> None:
    table = load_action_table()
    assert table.action_for(0x50003000) == "X"  # curve data (50xx,xxxx)
    assert table.action_for(0x60224000) == "X"  # overlay comments (60xx,4000)
    for kw in (
        *ps315_options.CLEAN_DESCRIPTORS,
        *ps315_options.PATIENT_CHARACTERISTICS_KEEP,
        *ps315_options.PATIENT_CHARACTERISTICS_CLEAN,
        *ps315_options.DATE_OPTION_EXCLUDED,
    ):
        tag = tag_for_keyword(kw)
        assert tag is not None, kw
        assert table.action_for(tag) is not None, kw


# ------------------------------------------------------------------------------------ corpus


def _item(**kw: object) -> Dataset:
    ds = Dataset()
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def _planted_dataset(sop_uid: str, referenced_uid: str | None = None) -> tuple[Dataset, list[str]]:
    """A CT header with identifiers planted in >= 40 attributes (sequences, private tags, text)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    ds.file_meta.SourceApplicationEntityTitle = "SRCAE-PLANT"
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = SERIES_UID
    ds.FrameOfReferenceUID = FRAME_UID
    ds.Modality = "CT"
    ds.BurnedInAnnotation = "NO"
    # identifying attributes (planted values are listed in `planted` below)
    ds.PatientName = "HONG^GILDONG=洪^吉童=홍^길동"
    ds.PatientID = "H12345678"
    ds.PatientBirthDate = "19800315"
    ds.PatientBirthTime = "083017"
    ds.PatientSex = "M"
    ds.PatientAge = "093Y"
    ds.PatientWeight = 71
    ds.OtherPatientIDs = "OPID-ALPHA-771"
    ds.OtherPatientNames = "ALIASNAME^ZED"
    ds.PatientBirthName = "BIRTHNAME^QUX"
    ds.PatientMotherBirthName = "MOTHERNAME^QUUX"
    ds.PatientAddress = "서울특별시 강남구 테헤란로 427"
    ds.PatientTelephoneNumbers = "010-5555-7777"
    ds.MedicalRecordLocator = "MRL-99812"
    ds.IssuerOfPatientID = "ISSUER-TOP-PLANT"
    ds.PatientReligiousPreference = "RELIGION-PLANT"
    ds.MilitaryRank = "RANK-PLANT"
    ds.BranchOfService = "BRANCH-PLANT"
    ds.RegionOfResidence = "REGION-PLANT"
    ds.CountryOfResidence = "COUNTRY-PLANT"
    ds.AccessionNumber = "ACC77123"
    ds.StudyID = "STUDYID-5531"
    ds.InstitutionName = "Planted University Hospital"
    ds.InstitutionAddress = "77 Plantedro Jongno"
    ds.InstitutionalDepartmentName = "PLANTED-DEPT-RADIOLOGY"
    ds.ReferringPhysicianName = "REFDOC^ALPHA"
    ds.ReferringPhysicianTelephoneNumbers = "02-999-1234"
    ds.PerformingPhysicianName = "PERFDOC^BETA"
    ds.NameOfPhysiciansReadingStudy = "READDOC^GAMMA"
    ds.OperatorsName = "OPERATOR^DELTA"
    ds.RequestingPhysician = "REQDOC^PLANT"
    ds.PhysiciansOfRecord = "RECDOC^PLANT"
    ds.ConsultingPhysicianName = "CONSULT^PLANT"
    ds.ScheduledPerformingPhysicianName = "SCHEDDOC^PLANT"
    ds.PerformedStationName = "PSTATION-PLANT"
    ds.PerformedLocation = "PLOC-PLANT"
    ds.StationName = "STATION-PLANT-9"
    ds.DeviceSerialNumber = "DEVSN-448812"
    # dates (shifted, never kept) incl. one the table does not list
    ds.StudyDate = "20231001"
    ds.SeriesDate = "20231002"
    ds.AcquisitionDateTime = "20231003101010"
    ds.ContentDate = "20231004"
    ds.StudyUpdateDateTime = "20230909121212"
    ds.StudyTime = "101010"
    # free text: cleaned by the scrubber (Clean Descriptors option)
    ds.StudyDescription = "CT chest HONG GILDONG 800315-1234567 010-5555-7777"
    ds.SeriesDescription = "AXIAL 홍길동 f/u"
    ds.ImageComments = "MRN H12345678 call 010-5555-7777 on 2023-10-01"
    ds.PatientComments = "Patient lives at 서울특별시 강남구 테헤란로 427"
    ds.AdditionalPatientHistory = "history per Dr. Zorblatt"
    ds.ProtocolName = "CHEST H12345678"
    ds.RequestedProcedureDescription = "REQ for hong@example.org"
    ds.PerformedProcedureStepDescription = "PPS born 1980-03-15"
    ds.Occupation = "HONG GILDONG"
    ds.AdmittingDiagnosesDescription = "dx 등록번호 87654321"
    ds.AcquisitionComments = "acq tech OPERATOR DELTA"
    ds.StudyComments = "mail hong@example.org"
    # sequences
    ds.OtherPatientIDsSequence = [_item(PatientID="SEQPID-3321", IssuerOfPatientID="SEQISSUER-PLANT")]
    ds.RequestAttributesSequence = [
        _item(
            RequestedProcedureID="REQPROC-881",
            ScheduledProcedureStepID="SPS-9912",
            ScheduledProcedureStepDescription="SPSD-PLANT",
        )
    ]
    ds.ReferencedPatientSequence = [
        _item(ReferencedSOPClassUID="1.2.3", ReferencedSOPInstanceUID="9.8.7.6.5.4321")
    ]
    ds.ProcedureCodeSequence = [
        _item(CodeValue="CT0101", CodingSchemeDesignator="99LOCAL", CodeMeaning="CT chest for GILDONG")
    ]
    ds.OperatorIdentificationSequence = [
        _item(
            PersonIdentificationCodeSequence=[
                _item(CodeValue="OPCODE-55", CodingSchemeDesignator="99LOCAL", CodeMeaning="OPNAME-MEANING")
            ],
            InstitutionName="OPINST-PLANT",
            PersonAddress="OPADDR-PLANT",
        )
    ]
    ds.InstitutionCodeSequence = [
        _item(CodeValue="INSTCODE-77", CodingSchemeDesignator="99LOCAL", CodeMeaning="INSTMEANING-PLANT")
    ]
    ds.VerifyingObserverSequence = [
        _item(
            VerifyingObserverName="VERIFIER^OMEGA",
            VerifyingOrganization="VERORG-PLANT",
            VerificationDateTime="20231005090909",
        )
    ]
    ds.ContentSequence = [
        _item(RelationshipType="CONTAINS", ValueType="TEXT", TextValue="SRTEXT-PLANT 010-5555-7777")
    ]
    ds.ReferencedStudySequence = [
        _item(ReferencedSOPClassUID="1.2.3", ReferencedSOPInstanceUID="5.5.5.5.7777")
    ]
    if referenced_uid:
        ds.ReferencedImageSequence = [
            _item(ReferencedSOPClassUID=CTImageStorage, ReferencedSOPInstanceUID=referenced_uid)
        ]
    # private tags, curves, overlays
    block = ds.private_block(0x0009, "PLANTCORP", create=True)
    block.add_new(0x01, "LO", "PRIVATE-H12345678-X")
    block.add_new(0x02, "SQ", [_item(PatientID="PRIVSEQ-PLANT")])
    block2 = ds.private_block(0x0011, "OTHERVENDOR", create=True)
    block2.add_new(0x10, "LO", "PRIVSECRET-2")
    ds.add_new(0x50003000, "OB", b"CURVEPLANT")
    ds.add_new(0x60004000, "LT", "OVERLAYPLANT")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = 8
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = np.arange(64, dtype=np.uint16).tobytes()

    planted = [
        "GILDONG",
        "길동",
        "吉童",
        "H12345678",
        "19800315",
        "083017",
        "OPID-ALPHA-771",
        "ALIASNAME",
        "BIRTHNAME",
        "MOTHERNAME",
        "테헤란로 427",
        "010-5555-7777",
        "MRL-99812",
        "ISSUER-TOP-PLANT",
        "RELIGION-PLANT",
        "RANK-PLANT",
        "BRANCH-PLANT",
        "REGION-PLANT",
        "COUNTRY-PLANT",
        "ACC77123",
        "STUDYID-5531",
        "Planted University",
        "Plantedro",
        "PLANTED-DEPT",
        "REFDOC",
        "02-999-1234",
        "PERFDOC",
        "READDOC",
        "OPERATOR",
        "DELTA",
        "REQDOC",
        "RECDOC",
        "CONSULT^PLANT",
        "SCHEDDOC",
        "PSTATION-PLANT",
        "PLOC-PLANT",
        "STATION-PLANT-9",
        "DEVSN-448812",
        "20231001",
        "20231002",
        "20231003",
        "20231004",
        "20230909",
        "800315-1234567",
        "2023-10-01",
        "Zorblatt",
        "hong@example.org",
        "1980-03-15",
        "87654321",
        "SEQPID-3321",
        "SEQISSUER-PLANT",
        "REQPROC-881",
        "SPS-9912",
        "SPSD-PLANT",
        "9.8.7.6.5.4321",
        "OPCODE-55",
        "OPNAME-MEANING",
        "OPINST-PLANT",
        "OPADDR-PLANT",
        "INSTCODE-77",
        "INSTMEANING-PLANT",
        "VERIFIER",
        "VERORG-PLANT",
        "20231005",
        "SRTEXT-PLANT",
        "5.5.5.5.7777",
        "PLANTCORP",
        "PRIVATE-H12345678-X",
        "PRIVSEQ-PLANT",
        "OTHERVENDOR",
        "PRIVSECRET-2",
        "CURVEPLANT",
        "OVERLAYPLANT",
        "SRCAE-PLANT",
        STUDY_UID,
        SERIES_UID,
        FRAME_UID,
        sop_uid,
    ]
    if referenced_uid:
        planted.append(referenced_uid)
    return ds, planted


def _write(ds: Dataset, path: Path, ts: str = ExplicitVRLittleEndian) -> Path:
    ds.file_meta.TransferSyntaxUID = UID(ts)
    ds.save_as(path, enforce_file_format=True)
    return path


def _leaks(data: bytes, planted: list[str]) -> list[str]:
    low = data.lower()
    return [p for p in planted if p.encode("utf-8").lower() in low]


# ------------------------------------------------------------------------------------ leak test


def test_no_planted_identifier_survives_anywhere(tmp_path: Path) -> None:
    sop1, sop2 = "1.2.826.0.1.3680043.99.1.2.3.1", "1.2.826.0.1.3680043.99.1.2.3.2"
    ds1, planted1 = _planted_dataset(sop1)
    ds2, planted2 = _planted_dataset(sop2, referenced_uid=sop1)
    src1, src2 = _write(ds1, tmp_path / "a.dcm"), _write(ds2, tmp_path / "b.dcm")
    planted = sorted(set(planted1) | set(planted2))
    assert len(_leaks(src1.read_bytes() + src2.read_bytes(), planted)) == len(planted)  # really planted

    r1 = deidentify_file(src1, tmp_path / "out" / "a.dcm", POLICY)
    r2 = deidentify_file(src2, tmp_path / "out" / "b.dcm", POLICY)
    data = (tmp_path / "out" / "a.dcm").read_bytes() + (tmp_path / "out" / "b.dcm").read_bytes()
    leaks = _leaks(data, planted)
    print(
        f"planted {len(planted)} values in {_count_attributes(ds2)} attributes; leaks: {len(leaks)} {leaks}"
    )
    assert leaks == []
    assert r1.flags == [] and r2.flags == []
    assert r1.actions_applied_counts["private_removed"] >= 4
    assert r1.actions_applied_counts["clean"] >= 10

    out1, out2 = dcmread(tmp_path / "out" / "a.dcm"), dcmread(tmp_path / "out" / "b.dcm")
    # keyed identity and UID hierarchy / cross-references
    assert out1.PatientID == out1.PatientName == pseudonym(POLICY, "H12345678")
    assert out1.StudyInstanceUID == out2.StudyInstanceUID == remap_uid(POLICY, STUDY_UID)
    assert out1.SeriesInstanceUID == out2.SeriesInstanceUID == remap_uid(POLICY, SERIES_UID)
    assert out1.FrameOfReferenceUID == out2.FrameOfReferenceUID
    assert out2.ReferencedImageSequence[0].ReferencedSOPInstanceUID == out1.SOPInstanceUID
    assert out1.SOPInstanceUID == out1.file_meta.MediaStorageSOPInstanceUID != out2.SOPInstanceUID
    for uid in (out1.SOPInstanceUID, out1.StudyInstanceUID, out1.SeriesInstanceUID):
        assert is_valid_uid(uid) and uid.startswith("2.25.")
    # dates shifted by one per-patient offset, intervals kept; birth date removed
    shift = date_shift_days(POLICY, "H12345678")
    assert out1.StudyDate == shift_da(POLICY, "H12345678", "20231001")
    assert out1.StudyUpdateDateTime == shift_da(POLICY, "H12345678", "20230909") + "121212"
    assert -365 <= shift <= -1
    assert out1.PatientBirthDate == ""
    assert out1.StudyTime == "101010"
    # patient characteristics kept, age top-coded
    assert out1.PatientSex == "M" and float(out1.PatientWeight) == 71 and out1.PatientAge == "090Y"
    # descriptors cleaned, not removed
    assert out1.StudyDescription == "CT chest [NAME] [RRN] [PHONE]"
    assert out1.SeriesDescription == "AXIAL [NAME] f/u"
    assert out1.ImageComments == "MRN [MRN] call [PHONE] on [DATE]"
    assert (
        out1.ProcedureCodeSequence[0].CodeMeaning == "CT chest for [NAME]"
    )  # safety net, unlisted attribute
    # removed / emptied / dummies
    for kw in (
        "OtherPatientIDsSequence",
        "PatientAddress",
        "RequestAttributesSequence",
        "InstitutionAddress",
        "OtherPatientIDs",
        "PatientBirthTime",
        "ReferencedPatientSequence",
    ):
        assert kw not in out1, kw
    assert out1.AccessionNumber == "" and len(out1.ReferencedStudySequence) == 0
    assert out1.InstitutionName == "ANONYMIZED"
    assert not any(elem.tag.is_private for elem in out1.iterall())
    # de-identification markers
    assert out1.PatientIdentityRemoved == "YES"
    assert out1.LongitudinalTemporalInformationModified == "MODIFIED"
    assert [c.CodeValue for c in out1.DeidentificationMethodCodeSequence] == [
        "113100",
        "113107",
        "113108",
        "113105",
    ]
    assert all(len(v) <= 64 for v in out1.DeidentificationMethod)
    assert "SourceApplicationEntityTitle" not in out1.file_meta
    # pixel data untouched
    assert out1.PixelData == ds1.PixelData


def _count_attributes(ds: Dataset) -> int:
    return sum(1 for _ in ds.iterall())


def test_korean_iso2022_charset(tmp_path: Path) -> None:
    ds, _ = _planted_dataset("1.2.826.0.1.3680043.99.7.1")
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 149"]
    ds.PatientName = "HONG^GILDONG=洪^吉童=홍^길동"
    ds.SeriesDescription = "흉부 홍길동 추적"
    ds.StudyDescription = "길동님 재검"
    ds.PatientAddress = "서울특별시 강남구 테헤란로 427"
    for kw in ("PatientComments", "AdmittingDiagnosesDescription"):
        delattr(ds, kw)
    src = _write(ds, tmp_path / "ko.dcm")
    assert "홍길동".encode("euc_kr") in src.read_bytes()
    deidentify_file(src, tmp_path / "ko_out.dcm", POLICY)
    data = (tmp_path / "ko_out.dcm").read_bytes()
    for s in ("홍길동", "길동", "테헤란로"):
        assert s.encode("euc_kr") not in data and s.encode("utf-8") not in data
    out = dcmread(tmp_path / "ko_out.dcm")
    assert out.SeriesDescription == "흉부 [NAME] 추적"
    assert out.StudyDescription == "[NAME]님 재검"


# ------------------------------------------------------------------------------------ burned-in


@pytest.mark.parametrize(
    ("modality", "burned", "excluded", "flag"),
    [
        ("CT", "YES", True, "burned_in_annotation"),
        ("US", None, True, "burned_in_suspected_modality"),
        ("SC", "", True, "burned_in_suspected_modality"),
        ("US", "NO", False, None),
        ("CT", None, False, None),
    ],
)
def test_burned_in_annotation(modality: str, burned: str | None, excluded: bool, flag: str | None) -> None:
    ds, _ = _planted_dataset("1.2.826.0.1.3680043.99.8.1")
    ds.Modality = modality
    if burned is None:
        del ds.BurnedInAnnotation
    else:
        ds.BurnedInAnnotation = burned
    r = deidentify_dataset(ds, POLICY)
    assert r.excluded is excluded
    if flag:
        assert flag in r.flags
    if excluded:
        assert ds.PatientID == "H12345678"  # left untouched, never released
        allowed = ReleasePolicy(
            project_key="profile-test", secret="profile-test-secret-0123456789", allow_burned_in=True
        )
        r2 = deidentify_dataset(ds, allowed)
        assert r2.dataset is not None and flag in r2.flags


# ------------------------------------------------------------------------------------ options, errors, I/O


def test_retain_safe_private() -> None:
    policy = ReleasePolicy(
        project_key="profile-test",
        secret="profile-test-secret-0123456789",
        retain_safe_private=True,
        safe_private_tags=("0011,OTHERVENDOR,10",),
    )
    ds, _ = _planted_dataset("1.2.826.0.1.3680043.99.9.1")
    ds.private_block(0x0011, "OTHERVENDOR").add_new(0x10, "DS", "2.5")
    r = deidentify_dataset(ds, policy)
    assert r.dataset is not None
    private = {int(e.tag) for e in r.dataset if e.tag.is_private}
    assert private == {0x00110010, 0x00111010}
    assert "113111" in [c.CodeValue for c in r.dataset.DeidentificationMethodCodeSequence]


def test_person_key_from_context_and_missing_key_error() -> None:
    ds, _ = _planted_dataset("1.2.826.0.1.3680043.99.10.1")
    r = deidentify_dataset(ds, POLICY, DeidContext(person_key="person-42", known_identifiers=("Zorblatt",)))
    assert r.dataset is not None and r.dataset.PatientID == pseudonym(POLICY, "person-42")
    assert "person-42" not in repr(DeidContext(person_key="person-42"))
    ds2, _ = _planted_dataset("1.2.826.0.1.3680043.99.10.2")
    del ds2.PatientID
    with pytest.raises(DeidError) as exc:
        deidentify_dataset(ds2, POLICY)
    assert "HONG" not in str(exc.value) and "H1234" not in str(exc.value)


def test_identifiers_from_dataset() -> None:
    ds, _ = _planted_dataset("1.2.826.0.1.3680043.99.11.1")
    ids = identifiers_from_dataset(ds)
    assert {"HONG^GILDONG", "홍^길동", "H12345678", "19800315", "SEQPID-3321", "REFDOC^ALPHA"} <= set(ids)


@pytest.mark.parametrize("ts", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit])
def test_raw_writer_matches_pydicom(tmp_path: Path, ts: str) -> None:
    ds, _ = _planted_dataset("1.2.826.0.1.3680043.99.12.1")
    if ts == JPEGBaseline8Bit:  # encapsulated pixel data: undefined length, copied as is
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelData = encapsulate([b"\xff\xd8fake-jpeg-frame\xff\xd9"])
        ds["PixelData"].VR = "OB"
    src = _write(ds, tmp_path / "src.dcm", ts)
    a, b = dcmread(src), dcmread(src)
    deidentify_dataset(a, POLICY)
    deidentify_dataset(b, POLICY)
    write_dataset_file(a, tmp_path / "fast.dcm")
    buf = io.BytesIO()
    b.save_as(buf, enforce_file_format=True)
    assert (tmp_path / "fast.dcm").read_bytes() == buf.getvalue()
    out = dcmread(tmp_path / "fast.dcm")
    assert out.PatientIdentityRemoved == "YES"
    assert out.PixelData == dcmread(src).PixelData


def test_dataset_built_in_memory() -> None:
    """No original encoding (not read from a file): the pydicom path is used, same result."""
    ds, planted = _planted_dataset("1.2.826.0.1.3680043.99.13.1")
    r = deidentify_dataset(ds, POLICY)
    assert r.dataset is not None
    buf = io.BytesIO()
    r.dataset.save_as(buf, enforce_file_format=True)
    assert _leaks(buf.getvalue(), planted) == []


def test_invalid_values_are_not_echoed_in_logs_or_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """pydicom reports invalid values *with the value* ("Invalid value for VR DA: '...'"); during
    de-identification validation is off (defence in depth: our own writes are raw or valid)."""
    import logging
    import warnings

    from pydicom import config

    ds, planted = _planted_dataset("1.2.826.0.1.3680043.99.14.1")
    with warnings.catch_warnings():  # building and writing the bad input warns; that is not us
        warnings.simplefilter("ignore")
        ds.StudyDate = "2023-10-01"  # invalid DA
        ds.OtherPatientIDsSequence[0].PatientID = "BADVALUE\nSEQPID-3321"
        ds.SeriesDescription = "흉부 홍길동\x07 REST-OF-TEXT"  # control char: invalid LO
        src = _write(ds, tmp_path / "bad.dcm")
    caplog.clear()
    before = (config.settings.reading_validation_mode, config.settings.writing_validation_mode)
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = deidentify_file(src, tmp_path / "bad_out.dcm", POLICY)
    assert r.dataset is not None
    text = caplog.text + " ".join(str(w.message) for w in caught)
    assert [p for p in [*planted, "2023-10-01", "BADVALUE", "REST-OF-TEXT"] if p in text] == []
    assert (config.settings.reading_validation_mode, config.settings.writing_validation_mode) == before


def test_month_granularity_in_headers() -> None:
    policy = ReleasePolicy(
        project_key="profile-test", secret="profile-test-secret-0123456789", date_granularity="month"
    )
    ds, _ = _planted_dataset("1.2.826.0.1.3680043.99.15.1")
    r = deidentify_dataset(ds, policy)
    assert r.dataset is not None
    assert r.dataset.StudyDate == shift_da(policy, "H12345678", "20231001")
    assert r.dataset.StudyDate.endswith("01") and len(r.dataset.StudyDate) == 8
    assert len(r.dataset.AcquisitionDateTime) == 6  # YYYYMM
