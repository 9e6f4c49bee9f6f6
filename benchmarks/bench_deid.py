"""Header de-identification speed: files/s per core, ours beside the naive approach.

Generates a few hundred small CT files (64x64 pixels, ~90 header elements, sequences, private tags,
identifiers in descriptions) in a temporary directory, then times on one core:

* ``read only``      - ``pydicom.dcmread`` (the floor for any file-based approach);
* ``read+write``     - read and write back unchanged;
* ``ours``           - :func:`deid.dicom_profile.deidentify_file` (read, de-identify, write);
* ``ours in-memory`` - :func:`deid.dicom_profile.deidentify_dataset` on already-parsed datasets;
* ``naive``          - ``dicomanonymizer.anonymize_dicom_file`` with the same 2026c table (applies
  the table rule by rule with ``dataset.get``/``dataset.walk``; unkeyed, no sequences, no options).

One-off startup (presidio import + analyzer build) is reported separately, not in the rates.
Usage: ``python benchmarks/bench_deid.py [N_FILES] [N_REPEATS]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from deid.dicom_profile import DeidContext, deidentify_dataset, deidentify_file, load_action_table
from deid.policy import ReleasePolicy

_SURNAMES = ["KIM", "LEE", "PARK", "CHOI", "JUNG", "KANG", "CHO", "YOON", "JANG", "LIM"]
_HANGUL = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"]
_GIVEN = ["MINJUN", "SEOYEON", "JIHO", "HAEUN", "DOYUN"]
_GIVEN_KO = ["민준", "서연", "지호", "하은", "도윤"]


def make_dataset(i: int, patient: int, study_uid: str, series_uid: str, frame_uid: str) -> Dataset:
    """One CT instance with a realistic header (identifiers planted where real files have them)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    sop = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = f"2023{1 + patient % 12:02d}15"
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "101530.123"
    ds.AccessionNumber = f"A{20230000 + patient}"
    ds.Modality = "CT"
    ds.Manufacturer = "ACME"
    ds.InstitutionName = "Example University Hospital"
    ds.InstitutionAddress = "101 Daehak-ro, Jongno-gu, Seoul"
    ds.ReferringPhysicianName = "PARK^JISOO"
    ds.StationName = "CT01"
    ds.StudyDescription = "CT CHEST W/O CONTRAST"
    ds.SeriesDescription = f"AXIAL 5mm {_SURNAMES[patient % 10]} F/U"
    ds.PerformingPhysicianName = "CHOI^MINHO"
    ds.OperatorsName = "TECH^ONE"
    ds.ManufacturerModelName = "Model X"
    ds.PatientName = (
        f"{_SURNAMES[patient % 10]}^{_GIVEN[patient % 5]}="
        f"={_HANGUL[patient % 10]}^{_GIVEN_KO[patient % 5]}"
    )
    ds.PatientID = f"H{10000000 + patient}"
    ds.PatientBirthDate = f"19{50 + patient % 40}0{1 + patient % 9}1{patient % 9}"
    ds.PatientSex = "MF"[patient % 2]
    ds.PatientAge = f"{33 + patient % 60:03d}Y"
    ds.PatientWeight = 70
    ds.PatientAddress = "서울특별시 종로구 대학로 101"
    ds.PatientTelephoneNumbers = "010-1234-5678"
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = 5
    ds.KVP = 120
    ds.DeviceSerialNumber = "SN-0001"
    ds.SoftwareVersions = "1.0"
    ds.ProtocolName = "CHEST ROUTINE"
    ds.ContrastBolusAgent = ""
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = 2
    ds.InstanceNumber = i + 1
    ds.ImagePositionPatient = [0, 0, float(i * 5)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = float(i * 5)
    ds.ImageComments = f"MRN {ds.PatientID} phone 010-1234-5678"
    ref = Dataset()
    ref.ReferencedSOPClassUID = CTImageStorage
    ref.ReferencedSOPInstanceUID = generate_uid()
    ds.ReferencedImageSequence = [ref]
    code = Dataset()
    code.CodeValue = "CT0101"
    code.CodingSchemeDesignator = "99LOCAL"
    code.CodeMeaning = "CT CHEST"
    ds.ProcedureCodeSequence = [code]
    other = Dataset()
    other.PatientID = f"OLD{patient:06d}"
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = [other]
    block = ds.private_block(0x0009, "ACME_PRIVATE", create=True)
    block.add_new(0x01, "LO", f"{ds.PatientID}")
    block.add_new(0x02, "DS", "1.5")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    ds.PixelData = (np.arange(64 * 64, dtype=np.uint16) + i).tobytes()
    return ds


def generate(folder: Path, n_files: int, per_series: int = 20) -> list[Path]:
    paths: list[Path] = []
    patient = 0
    while len(paths) < n_files:
        study, series, frame = generate_uid(), generate_uid(), generate_uid()
        for i in range(min(per_series, n_files - len(paths))):
            p = folder / f"p{patient:03d}_{i:03d}.dcm"
            make_dataset(i, patient, study, series, frame).save_as(p, enforce_file_format=True)
            paths.append(p)
        patient += 1
    return paths


def _rate(fn: Callable[[], None], n: int, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    best = min(times)
    return n / best, n / statistics.median(times)


def main() -> None:
    n_files = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    policy = ReleasePolicy(project_key="bench", secret="bench-secret-0123456789abcdef")
    context = DeidContext()
    table = load_action_table()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = root / "src"
        src.mkdir()
        t0 = time.perf_counter()
        paths = generate(src, n_files)
        print(f"generated {len(paths)} files in {time.perf_counter() - t0:.1f}s "
              f"(~{paths[0].stat().st_size // 1024} KiB each); table {table.edition} "
              f"dicom-anonymizer {table.package_version}, {len(table)} attributes")

        t0 = time.perf_counter()
        deidentify_file(paths[0], root / "warm.dcm", policy, context)  # presidio import + analyzer build
        print(f"startup (first file incl. presidio import/analyzer build): {time.perf_counter() - t0:.2f}s")

        out = root / "out"
        out.mkdir()
        naive_out = root / "naive"
        naive_out.mkdir()

        def read_only() -> None:
            for p in paths:
                dcmread(p)

        def read_write() -> None:
            for p in paths:
                dcmread(p).save_as(out / p.name, enforce_file_format=True)

        def ours() -> None:
            for p in paths:
                deidentify_file(p, out / p.name, policy, context)

        parsed: list[Dataset] = []

        def prepare() -> None:
            parsed.clear()
            parsed.extend(dcmread(p) for p in paths)

        def ours_mem() -> None:
            for ds in parsed:
                deidentify_dataset(ds, policy, context)

        from dicomanonymizer import anonymize_dicom_file, initialize_actions

        def rules() -> dict[tuple[int, ...], object]:
            return initialize_actions(f"dicomfields_{table.edition}")

        def naive() -> None:
            for p in paths:
                anonymize_dicom_file(str(p), str(naive_out / p.name), base_rules_gen=rules)

        rows = [("read only", read_only), ("read+write", read_write), ("ours (read+deid+write)", ours)]
        results = {name: _rate(fn, len(paths), repeats) for name, fn in rows}
        mem_times = []
        for _ in range(repeats):
            prepare()
            t0 = time.perf_counter()
            ours_mem()
            mem_times.append(time.perf_counter() - t0)
        results["ours in-memory (deid only)"] = (len(paths) / min(mem_times), len(paths) / statistics.median(mem_times))
        results["naive dicom-anonymizer (read+anon+write)"] = _rate(naive, len(paths), max(1, repeats - 1))

        print(f"\n{'approach':44s} {'best files/s':>13s} {'median files/s':>15s}")
        for name, (best, med) in results.items():
            print(f"{name:44s} {best:13.0f} {med:15.0f}")
        r = deidentify_file(paths[0], root / "check.dcm", policy, context)
        print(f"\nactions on one file: {r.actions_applied_counts}")
        ours_best = results["ours (read+deid+write)"][0]
        naive_best = results["naive dicom-anonymizer (read+anon+write)"][0]
        print(f"ours vs naive: {ours_best / naive_best:.1f}x; target >= 500 files/s per core: "
              f"{'met' if ours_best >= 500 else 'NOT met'} (single process = one core)")


if __name__ == "__main__":
    main()
