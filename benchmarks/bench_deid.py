"""Header de-identification speed: files/s per core, ours beside the naive approach.

Generates a few hundred small CT files (64x64 pixels, ~90 header elements, sequences, private tags,
identifiers in descriptions) in a temporary directory, then times on one core:

* ``read only``      - ``pydicom.dcmread`` (the floor for any file-based approach);
* ``read+write``     - read and write back unchanged;
* ``ours``           - :func:`deid.dicom_profile.deidentify_file` (read, de-identify, write);
* ``ours in-memory`` - :func:`deid.dicom_profile.deidentify_dataset` on already-parsed datasets;
* ``naive``          - ``dicomanonymizer.anonymize_dicom_file`` with the same 2026c table (applies
  the table rule by rule with ``dataset.get``/``dataset.walk``; unkeyed, no sequences, no options).

The same suite then runs on demo files — the files ``dicom_index.demo.write_demo_dicom`` writes for
the demo mart (``schema_catalog.demo.generate_mart``, or the tiny fixture mart when that is not
importable): smaller pixel data, UTF-8/Latin-1 Hangul names, nested sequences, multi-frame XA/US.
Last, ``deid.export.export_cohort`` runs end to end on the demo files (cohort and imaging SQL,
manifests in three formats, de-identified copies).

One-off startup (presidio import + analyzer build) is reported separately, not in the rates.
Usage: ``python benchmarks/bench_deid.py [N_FILES] [N_REPEATS] [--source=generated|demo|both]``.
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

from cohort_engine.deid.dicom_profile import (
    DeidContext,
    deidentify_dataset,
    deidentify_file,
    load_action_table,
)
from cohort_engine.deid.policy import ReleasePolicy

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
        f"{_SURNAMES[patient % 10]}^{_GIVEN[patient % 5]}=={_HANGUL[patient % 10]}^{_GIVEN_KO[patient % 5]}"
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


def _rate(fn: Callable[[], None], n: int, repeats: int) -> tuple[float, float, float]:
    """(best, median) files per wall-clock second, and files per CPU second of this process (best).

    The CPU figure is the per-core rate even on a shared machine, where other processes stretch
    the wall clock but not this process's CPU time.
    """
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    best = min(times)
    return n / best, n / statistics.median(times), n / max(min(cpu), 1e-9)


def demo_paths(folder: Path, n_files: int, seed: int = 42) -> tuple[list[Path], Path, str]:
    """Demo files as the DICOM index writes them (``dicom_index.demo.write_demo_dicom``), from the
    real demo mart generator.

    Returns (files, mart, which mart).  Demo files differ from the generated ones: 32x32 pixels, a
    UTF-8 or Latin-1 character set, Hangul names, nested request/code sequences, a private block,
    multi-frame XA/US — and BurnedInAnnotation=YES on US.
    """
    from cohort_engine.dicom_index.demo import write_demo_dicom
    from cohort_engine.schema_catalog.demo import generate_mart

    mart = generate_mart(folder / "mart", persons=max(50, n_files // 4), seed=seed)
    which = f"demo mart (schema_catalog.demo.generate_mart, {max(50, n_files // 4)} persons)"
    write_demo_dicom(mart, folder / "dicom", seed=seed, max_files=n_files)
    return sorted(p for p in (folder / "dicom").rglob("*") if p.is_file()), mart, which


def run_suite(
    label: str, paths: list[Path], root: Path, policy: ReleasePolicy, repeats: int
) -> dict[str, tuple[float, float]]:
    """Time read / read+write / ours / ours in memory / naive on ``paths``; print and return the rates."""
    context = DeidContext()
    table = load_action_table()
    out = root / f"out-{label}"
    out.mkdir()
    naive_out = root / f"naive-{label}"
    naive_out.mkdir()
    targets = [out / f"{i:06d}.dcm" for i in range(len(paths))]  # demo files share names across folders

    def read_only() -> None:
        for p in paths:
            dcmread(p)

    def read_write() -> None:
        for p, t in zip(paths, targets, strict=True):
            dcmread(p).save_as(t, enforce_file_format=True)

    def ours() -> None:
        for p, t in zip(paths, targets, strict=True):
            deidentify_file(p, t, policy, context)

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

    naive_failed = 0

    def naive() -> None:
        nonlocal naive_failed
        naive_failed = 0
        for i, p in enumerate(paths):
            try:
                anonymize_dicom_file(str(p), str(naive_out / f"{i:06d}.dcm"), base_rules_gen=rules)
            except Exception:
                naive_failed += 1

    rows = [("read only", read_only), ("read+write", read_write), ("ours (read+deid+write)", ours)]
    results = {name: _rate(fn, len(paths), repeats) for name, fn in rows}
    mem_times, mem_cpu = [], []
    for _ in range(repeats):
        prepare()
        t0, c0 = time.perf_counter(), time.process_time()
        ours_mem()
        mem_times.append(time.perf_counter() - t0)
        mem_cpu.append(time.process_time() - c0)
    n = len(paths)
    results["ours in-memory (deid only)"] = (
        n / min(mem_times),
        n / statistics.median(mem_times),
        n / min(mem_cpu),
    )
    results["naive dicom-anonymizer (read+anon+write)"] = _rate(naive, len(paths), max(1, repeats - 1))

    print(f"\n[{label}] {len(paths)} files")
    print(f"{'approach':44s} {'best files/s':>13s} {'median files/s':>15s} {'files/CPU-s':>12s}")
    for name, (best, med, cpu) in results.items():
        print(f"{name:44s} {best:13.0f} {med:15.0f} {cpu:12.0f}")
    if naive_failed:
        print(f"(naive: {naive_failed} files raised and were skipped)")
    r = deidentify_file(paths[0], root / f"check-{label}.dcm", policy, context)
    print(f"actions on one file: {r.actions_applied_counts}")
    ours_best, _, ours_cpu = results["ours (read+deid+write)"]
    naive_best, _, naive_cpu = results["naive dicom-anonymizer (read+anon+write)"]
    print(
        f"ours vs naive: {ours_best / naive_best:.1f}x wall, {ours_cpu / naive_cpu:.1f}x CPU; "
        f"target >= 500 files/s per core: {'met' if ours_cpu >= 500 else 'NOT met'} "
        f"({ours_cpu:.0f} files per CPU-second; {ours_best:.0f}/s wall, single process)"
    )
    return results


def bench_export(paths: list[Path], mart: Path, root: Path, policy: ReleasePolicy) -> None:
    """The whole ``cohort export`` path on the demo files: index, cohort SQL, manifests, files."""
    from cohort_engine.deid.export import export_cohort
    from cohort_engine.dicom_index.indexer import index_folders
    from cohort_engine.spec import CohortSpec
    from cohort_engine.sql_guard.compiler import compile_cohort
    from cohort_engine.sql_guard.runner import open_mart

    index_folders(mart, [paths[0].parents[2]], workers=1)  # demo layout: dicom/<study>/<series>/<file>
    con = open_mart(mart)
    try:
        compiled = compile_cohort(CohortSpec.model_validate({"index": {"domain": "imaging"}}), {})
        t0, c0 = time.perf_counter(), time.process_time()
        s = export_cohort(con, compiled, None, policy, root / "export", formats=["jsonl", "csv", "parquet"])
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        con.close()
    print(
        f"\n[export] export_cohort end to end (cohort + imaging SQL, manifests in 3 formats, files): "
        f"{s.files_seen} files, {s.files_written} written, {s.files_excluded} excluded in {elapsed:.2f}s = "
        f"{s.files_seen / elapsed:.0f} files/s wall, {s.files_seen / cpu:.0f} files per CPU-second "
        f"({s.patients} patients, {s.series} series, {s.bytes_written:,} bytes)"
    )


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    source = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--source=")), "both")
    n_files = int(args[0]) if args else 300
    repeats = int(args[1]) if len(args) > 1 else 3
    # allow_burned_in: demo US files carry BurnedInAnnotation=YES; leaving them out would skip their work.
    policy = ReleasePolicy(project_key="bench", secret="bench-secret-0123456789abcdef", allow_burned_in=True)
    table = load_action_table()
    print(f"table {table.edition} dicom-anonymizer {table.package_version}, {len(table)} attributes")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        suites: dict[str, list[Path]] = {}
        if source in ("generated", "both"):
            src = root / "src"
            src.mkdir()
            t0 = time.perf_counter()
            suites["generated"] = generate(src, n_files)
            print(
                f"generated {n_files} files in {time.perf_counter() - t0:.1f}s "
                f"(~{suites['generated'][0].stat().st_size // 1024} KiB each)"
            )
        mart = None
        if source in ("demo", "both"):
            t0 = time.perf_counter()
            suites["demo"], mart, which = demo_paths(root / "demo", n_files)
            sizes = [p.stat().st_size for p in suites["demo"]]
            burned = sum(
                1
                for p in suites["demo"]
                if dcmread(p, stop_before_pixels=True).get("BurnedInAnnotation") == "YES"
            )
            print(
                f"demo files: {len(sizes)} from the {which} in {time.perf_counter() - t0:.1f}s "
                f"(~{statistics.mean(sizes) / 1024:.1f} KiB each, {burned} with BurnedInAnnotation=YES)"
            )

        first = next(iter(suites.values()))[0]
        t0 = time.perf_counter()
        deidentify_file(first, root / "warm.dcm", policy, DeidContext())  # presidio import + analyzer build
        print(f"startup (first file incl. presidio import/analyzer build): {time.perf_counter() - t0:.2f}s")
        for label, paths in suites.items():
            run_suite(label, paths, root, policy, repeats)
        if mart is not None:
            bench_export(
                suites["demo"],
                mart,
                root,
                ReleasePolicy(project_key="bench", secret="bench-secret-0123456789abcdef"),
            )


if __name__ == "__main__":
    main()
