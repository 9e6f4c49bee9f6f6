"""DICOM index: fast header reader vs pydicom, folder indexing (quarantine, incremental, resume),
demo DICOM writer round trip, table descriptions."""

from __future__ import annotations

import io
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import duckdb
import pydicom
import pytest
import xxhash
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.multival import MultiValue
from pydicom.uid import UID as PydicomUID
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
)

from cohort_engine.dicom_index import header, indexer
from cohort_engine.dicom_index.demo import (
    SOP_CLASSES,
    demo_files,
    encode_part10,
    to_pydicom,
    write_demo_dicom,
)
from cohort_engine.dicom_index.header import (
    INDEXED_ATTRIBUTES,
    DicomHeader,
    HeaderError,
    read_header,
    read_header_and_hash,
)
from cohort_engine.dicom_index.indexer import index_folders
from cohort_engine.dicom_index.scan import INSTANCE_COLUMNS, QUARANTINE_COLUMNS
from cohort_engine.dicom_index.tables import DICOM_INSTANCE, DICOM_QUARANTINE, DICOM_TABLES_BY_NAME
from tests.dicom_fixtures import make_tiny_mart

PYDICOM_DATA = Path(pydicom.data.__file__).parent
PYDICOM_DIRS = [PYDICOM_DATA / "test_files", PYDICOM_DATA / "charset_files"]
ALL_PYDICOM_FILES = sorted(p for d in PYDICOM_DIRS for p in d.rglob("*") if p.is_file())

#: Every reason the index may give; none may carry a value read from a file.
REASON_PATTERNS = [
    r"not DICOM \([A-Za-z ,]+\)",
    r"truncated file \([a-z ]+\)",
    r"unknown VR code in element stream",
    r"bad VR [a-z ()]+",
    r"malformed [a-z ()]+",
    r"corrupt deflated dataset",
    r"sequences nested too deeply",
    r"DICOMDIR \([A-Za-z ,]+\)",
    r"missing (StudyInstanceUID|SeriesInstanceUID|SOPInstanceUID)(, (SeriesInstanceUID|SOPInstanceUID))*",
    r"unreadable file \([A-Z]+\)",
    r"reader error \(\w+\)",
    r"duplicate SOPInstanceUID \(indexed at another path\)",
]
#: pydicom test files that pydicom opens (with force=True) but that cannot be indexed.
KNOWN_REJECTS = {
    "MR_truncated.dcm": "truncated file",  # pixel data cut short
    "rtplan_truncated.dcm": "truncated file",  # cut inside the header
    "no_meta.dcm": "not DICOM",  # a stray byte before the stream: pydicom reads one garbage element
}
_INT_FIELDS = {"rows", "columns", "number_of_frames", "series_number", "instance_number"}


def _valid_reason(reason: str) -> bool:
    return any(re.fullmatch(p, reason) for p in REASON_PATTERNS)


def _reference(ds: Dataset) -> dict[str, Any]:
    """pydicom's values, normalised the way ``DicomHeader`` documents its own."""
    out: dict[str, Any] = {}
    for name, kw in INDEXED_ATTRIBUTES.items():
        v = ds[kw].value if kw in ds else None
        if name in _INT_FIELDS or name == "slice_thickness":
            if isinstance(v, list | MultiValue):
                v = v[0] if len(v) else None
            try:
                f = float(v) if v not in (None, "") and not isinstance(v, bytes) else None
            except (TypeError, ValueError):
                f = None
            out[name] = f if name == "slice_thickness" or f is None else (int(f) if f.is_integer() else None)
        else:
            if isinstance(v, list | MultiValue):
                v = "\\".join(str(x) for x in v)
            out[name] = (str(v) or None) if v is not None else None
    ts = ds.file_meta.get("TransferSyntaxUID") if getattr(ds, "file_meta", None) is not None else None
    if ts is None and len(ds):
        implicit, little = ds.original_encoding
        ts = "1.2.840.10008.1.2" if implicit else ("1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2")
    out["transfer_syntax_uid"] = str(ts) if ts else None
    return out


def _ours(h: DicomHeader) -> dict[str, Any]:
    return {k: getattr(h, k) for k in [*INDEXED_ATTRIBUTES, "transfer_syntax_uid"]}


# --- reader ----------------------------------------------------------------------------------------


def test_reader_equals_pydicom_on_every_pydicom_test_file() -> None:
    assert len(ALL_PYDICOM_FILES) > 150
    compared = 0
    for path in ALL_PYDICOM_FILES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds: Dataset | None = pydicom.dcmread(path, force=True, stop_before_pixels=True)
            except Exception:
                ds = None
        try:
            ours: DicomHeader | None = read_header(path)
        except HeaderError as e:
            assert _valid_reason(e.reason), (path.name, e.reason)
            if path.name in KNOWN_REJECTS:
                assert e.reason.startswith(KNOWN_REJECTS[path.name]), (path.name, e.reason)
            else:  # a file we reject must be one pydicom cannot make an instance of either
                assert ds is None or "SOPInstanceUID" not in ds, path.name
            continue
        assert path.name not in KNOWN_REJECTS, path.name
        assert ds is not None and ours is not None, path.name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns on invalid values, e.g. IS '1A'
            reference = _reference(ds)
        assert _ours(ours) == reference, path.name
        compared += 1
    assert compared > 140


def test_reader_reads_files_without_preamble_and_big_endian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _hand_made_set(tmp_path)
    assert read_header(files["implicit"]).transfer_syntax_uid == "1.2.840.10008.1.2"
    assert not read_header(files["implicit"]).has_file_meta
    assert read_header(files["bigendian"]).rows == 16
    assert read_header(files["deflated"]).sop_instance_uid == UID + ".1.2.2"
    # Large files are read as a growing prefix while the hash streams: same header, same hash.
    paths = [*files.values(), *ALL_PYDICOM_FILES]
    whole = [read_header_and_hash(p) for p in paths]
    monkeypatch.setattr(header, "SMALL_FILE_LIMIT", 64)
    monkeypatch.setattr(header, "PREFIX_SIZE", 200)
    prefixed = [read_header_and_hash(p) for p in paths]
    for p, (h1, e1, s1, d1), (h2, e2, s2, d2) in zip(paths, whole, prefixed, strict=True):
        assert (h1, e1 and e1.reason, s1, d1) == (h2, e2 and e2.reason, s2, d2), p.name


# --- a small hand-made set, indexed exactly ---------------------------------------------------------

UID = "1.2.826.0.1.3680043.8.498.77"
SECRET_PID = "PID-SECRET-0001"


def _dataset(series: int, instance: int, modality: str, **extra: Any) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Secret^Person"
    ds.PatientID = SECRET_PID
    ds.StudyInstanceUID = UID + ".1"
    ds.SeriesInstanceUID = f"{UID}.1.{series}"
    ds.SOPInstanceUID = f"{UID}.1.{series}.{instance}"
    ds.SOPClassUID = SOP_CLASSES[modality]
    ds.StudyDate = "20240102"
    ds.StudyTime = "101500"
    ds.SeriesDate = "20240102"
    ds.Modality = modality
    ds.ReferringPhysicianName = "Doctor^Who"
    ds.StudyDescription = "Chest exam"
    ds.SeriesDescription = f"Series {series}"
    ds.AccessionNumber = "ACC-SECRET-9"
    ds.Manufacturer = "ACME"
    ds.ManufacturerModelName = "Model 1"
    ds.SeriesNumber = series
    ds.InstanceNumber = instance
    ds.Rows = 16
    ds.Columns = 16
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    for k, v in extra.items():
        setattr(ds, k, v)
    ds.PixelData = bytes(16 * 16 * 2)
    return ds


def _part10(ds: Dataset, path: Path, ts: str = ExplicitVRLittleEndian, sop: str | None = None) -> Path:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = PydicomUID(sop or ds.SOPInstanceUID)
    ds.file_meta.TransferSyntaxUID = PydicomUID(ts)
    path.parent.mkdir(parents=True, exist_ok=True)
    dcmwrite(path, ds, enforce_file_format=True)
    return path


def _hand_made_set(root: Path) -> dict[str, Path]:
    f: dict[str, Path] = {}
    f["explicit"] = _part10(
        _dataset(1, 1, "CT", BodyPartExamined="CHEST", SliceThickness="1.25", BurnedInAnnotation="NO"),
        root / "a" / "explicit_preamble.dcm",
    )
    raw = _dataset(1, 2, "CT", BodyPartExamined="CHEST", SliceThickness="1.25")
    f["implicit"] = root / "a" / "IMPLICIT_RAW"  # no preamble, no file meta, no extension
    dcmwrite(f["implicit"], raw, implicit_vr=True, little_endian=True)
    f["copy"] = root / "b" / "copy_of_explicit.dcm"  # the same instance stored twice
    f["copy"].parent.mkdir(parents=True)
    shutil.copy(f["explicit"], f["copy"])
    f["bigendian"] = _part10(_dataset(2, 1, "MR"), root / "b" / "c" / "bigendian.dcm", ExplicitVRBigEndian)
    f["deflated"] = _part10(
        _dataset(2, 2, "MR"), root / "b" / "c" / "deflated.dcm", DeflatedExplicitVRLittleEndian
    )
    data = f["explicit"].read_bytes()
    f["truncated"] = root / "bad" / "truncated.dcm"
    f["truncated"].parent.mkdir(parents=True)
    f["truncated"].write_bytes(data[:400])
    f["text"] = root / "bad" / "notes.txt"
    f["text"].write_text(f"Patient {SECRET_PID} called back; see {UID}.1\n" * 20)
    f["empty"] = root / "bad" / "empty.dcm"
    f["empty"].write_bytes(b"")
    no_sop = _dataset(1, 3, "CT")
    del no_sop.SOPInstanceUID
    f["no_sop"] = _part10(no_sop, root / "bad" / "no_sop.dcm", sop=f"{UID}.1.1.3")
    at = data.index(b"\x08\x00\x90\x00PN")  # ReferringPhysicianName: make its VR code unknown
    f["bad_vr"] = root / "bad" / "bad_vr.dcm"
    f["bad_vr"].write_bytes(data[: at + 4] + b"QX" + data[at + 6 :])
    return f


def _rows(mart: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(mart), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def test_hand_made_set_is_indexed_exactly(tmp_path: Path) -> None:
    f = _hand_made_set(tmp_path / "in")
    mart = tmp_path / "mart.duckdb"
    rep = index_folders(mart, [tmp_path / "in"], workers=1)
    # The copy of the explicit file is the same instance (SOPInstanceUID): quarantined, not counted twice.
    assert (rep.files_seen, rep.indexed, rep.quarantined, rep.removed) == (10, 4, 6, 0)
    assert (rep.studies, rep.series, rep.instances) == (1, 2, 4)

    quarantine = dict(_rows(mart, "SELECT path, reason FROM dicom_quarantine"))
    assert quarantine == {
        str(f["truncated"].resolve()): "truncated file (element extends past end of file)",
        str(f["text"].resolve()): "not DICOM (no DICM prefix and no DICOM element stream)",
        str(f["empty"].resolve()): "not DICOM (file too small)",
        str(f["no_sop"].resolve()): "missing SOPInstanceUID",
        str(f["bad_vr"].resolve()): "unknown VR code in element stream",
        str(f["copy"].resolve()): "duplicate SOPInstanceUID (indexed at another path)",
    }
    for reason in quarantine.values():
        assert SECRET_PID not in reason and UID not in reason and _valid_reason(reason)

    cols = (
        "path, file_size, content_hash, sop_instance_uid, series_instance_uid, study_instance_uid, "
        "patient_id, "
        "sop_class_uid, study_date, study_time, series_date, modality, body_part_examined, "
        "study_description, "
        "series_description, accession_number, manufacturer, manufacturer_model_name, image_rows, "
        "image_columns, slice_thickness, number_of_frames, transfer_syntax_uid, series_number, "
        "instance_number, burned_in_annotation"
    )
    got = {r[0]: r[1:] for r in _rows(mart, f"SELECT {cols} FROM dicom_instance")}
    import datetime as dt

    day = dt.date(2024, 1, 2)

    def expect(
        key: str,
        series: int,
        inst: int,
        modality: str,
        ts: str,
        part: str | None,
        thick: float | None,
        burned: str | None,
    ) -> tuple[Any, ...]:
        data = f[key].read_bytes()
        return (
            len(data),
            xxhash.xxh3_128_hexdigest(data),
            f"{UID}.1.{series}.{inst}",
            f"{UID}.1.{series}",
            f"{UID}.1",
            SECRET_PID,
            SOP_CLASSES[modality],
            day,
            "101500",
            day,
            modality,
            part,
            "Chest exam",
            f"Series {series}",
            "ACC-SECRET-9",
            "ACME",
            "Model 1",
            16,
            16,
            thick,
            None,
            ts,
            series,
            inst,
            burned,
        )

    assert got == {
        str(f["explicit"].resolve()): expect(
            "explicit", 1, 1, "CT", ExplicitVRLittleEndian, "CHEST", 1.25, "NO"
        ),
        str(f["implicit"].resolve()): expect(
            "implicit", 1, 2, "CT", "1.2.840.10008.1.2", "CHEST", 1.25, None
        ),
        str(f["bigendian"].resolve()): expect("bigendian", 2, 1, "MR", ExplicitVRBigEndian, None, None, None),
        str(f["deflated"].resolve()): expect(
            "deflated", 2, 2, "MR", DeflatedExplicitVRLittleEndian, None, None, None
        ),
    }
    assert _rows(
        mart,
        "SELECT series_instance_uid, study_instance_uid, patient_id, modality, body_part_examined, "
        "series_number, slice_thickness, burned_in_annotation, n_instances, n_files "
        "FROM dicom_series ORDER BY 1",
    ) == [
        (f"{UID}.1.1", f"{UID}.1", SECRET_PID, "CT", "CHEST", 1, 1.25, "NO", 2, 2),
        (f"{UID}.1.2", f"{UID}.1", SECRET_PID, "MR", None, 2, None, None, 2, 2),
    ]
    assert _rows(
        mart,
        "SELECT study_instance_uid, patient_id, study_date, accession_number, modalities_in_study, "
        "n_series, n_instances, n_files FROM dicom_study",
    ) == [
        (f"{UID}.1", SECRET_PID, day, "ACC-SECRET-9", "CT\\MR", 2, 4, 4),
    ]


# --- every pydicom test file: indexed or quarantined --------------------------------------------------


def test_every_pydicom_test_file_is_indexed_or_quarantined(tmp_path: Path) -> None:
    mart = tmp_path / "mart.duckdb"
    listed = [Path(p).resolve() for p in pydicom.data.get_testdata_files() if Path(p).is_file()]
    elsewhere = [p for p in listed if not any(p.is_relative_to(d.resolve()) for d in PYDICOM_DIRS)]
    rep = index_folders(mart, [*PYDICOM_DIRS, *elsewhere], workers=1)  # (elsewhere: a download cache)
    indexed = {r[0] for r in _rows(mart, "SELECT path FROM dicom_instance")}
    quarantined = dict(_rows(mart, "SELECT path, reason FROM dicom_quarantine"))
    expected = {str(p.resolve()) for p in ALL_PYDICOM_FILES} | {str(p) for p in listed}
    assert indexed | set(quarantined) == expected
    assert not indexed & set(quarantined)
    assert rep.indexed == len(indexed) and rep.quarantined == len(quarantined) == sum(
        rep.quarantine_reasons.values()
    )
    for reason in quarantined.values():
        assert _valid_reason(reason), reason
    by_name = {Path(p).name: r for p, r in quarantined.items()}
    assert by_name["DICOMDIR"].startswith("DICOMDIR")
    assert by_name["README.txt"].startswith("not DICOM")
    assert by_name["MR_truncated.dcm"].startswith("truncated file")
    # pydicom ships many files that are one instance (one SOPInstanceUID) in several encodings.
    assert len(indexed) > 125
    duplicates = [p for p, r in quarantined.items() if r.startswith("duplicate SOPInstanceUID")]
    assert len(duplicates) > 10
    uids = _rows(mart, "SELECT count(*), count(DISTINCT sop_instance_uid) FROM dicom_instance")[0]
    assert uids == (len(indexed), len(indexed))


# --- incremental and resumable ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    root = tmp_path_factory.mktemp("demo")
    mart = root / "mart.duckdb"
    make_tiny_mart(mart, persons=40, studies=30, seed=3)
    n = write_demo_dicom(mart, root / "dicom", seed=11)
    return mart, root / "dicom", n


def _instance_table(mart: Path) -> list[tuple[Any, ...]]:
    return _rows(mart, "SELECT * FROM dicom_instance ORDER BY path")


@pytest.mark.slow
def test_incremental_rerun_skips_unchanged_and_follows_changes(
    demo: tuple[Path, Path, int], tmp_path: Path
) -> None:
    _, src, n = demo
    d = tmp_path / "dicom"
    shutil.copytree(src, d)
    mart = tmp_path / "idx.duckdb"
    first = index_folders(mart, [d], workers=1)
    assert (first.indexed, first.quarantined) == (n, 0)
    again = index_folders(mart, [d], workers=1)
    assert (again.skipped_unchanged, again.indexed, again.quarantined, again.removed) == (n, 0, 0, 0)

    files = sorted(p for p in d.rglob("*") if p.is_file())
    st = files[0].stat()
    os.utime(files[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: re-read
    files[1].unlink()  # deleted: removed
    (d / "stray.txt").write_text("not an image")  # new: quarantined
    third = index_folders(mart, [d], workers=1)
    assert (third.skipped_unchanged, third.indexed, third.quarantined, third.removed) == (n - 2, 1, 1, 1)
    assert third.instances == n - 1
    paths = [
        r[0]
        for r in _rows(mart, "SELECT path FROM dicom_instance UNION ALL SELECT path FROM dicom_quarantine")
    ]
    assert len(paths) == len(set(paths)) == n


@pytest.mark.slow
def test_killed_run_resumes_without_duplicates(
    demo: tuple[Path, Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, src, n = demo
    clean = tmp_path / "clean.duckdb"
    index_folders(clean, [src], workers=1)

    # A run killed after two committed batches of 20 files.
    mart = tmp_path / "idx.duckdb"
    real_commit = indexer._Writer.commit
    commits = {"n": 0}

    def crashing_commit(self: indexer._Writer) -> None:
        if len(self) and commits["n"] == 2:
            raise KeyboardInterrupt  # what a kill looks like to the code in flight
        commits["n"] += bool(len(self))
        real_commit(self)

    monkeypatch.setattr(indexer._Writer, "commit", crashing_commit)
    with pytest.raises(KeyboardInterrupt):
        index_folders(mart, [src], workers=1, batch_files=20)
    monkeypatch.undo()
    assert len(_instance_table(mart)) == 40

    resumed = index_folders(mart, [src], workers=1)
    assert (resumed.skipped_unchanged, resumed.indexed) == (40, n - 40)
    assert _instance_table(mart) == _instance_table(clean)

    # Indexing half of the folders, then all of them, ends in the same place too.
    half = sorted(p for p in src.iterdir() if p.is_dir())[::2]
    mart2 = tmp_path / "idx2.duckdb"
    index_folders(mart2, half, workers=1)
    index_folders(mart2, [src], workers=1)
    assert _instance_table(mart2) == _instance_table(clean)
    for table in ("dicom_series", "dicom_study"):
        assert _rows(mart2, f"SELECT * FROM {table} ORDER BY 1") == _rows(
            clean, f"SELECT * FROM {table} ORDER BY 1"
        )


@pytest.mark.slow
def test_same_files_under_a_new_path_are_not_counted_twice(
    demo: tuple[Path, Path, int], tmp_path: Path
) -> None:
    _, src, n = demo
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(src, a)
    mart = tmp_path / "idx.duckdb"
    index_folders(mart, [a], workers=1)
    series_before = _rows(mart, "SELECT * FROM dicom_series ORDER BY 1")
    bytes_before = _rows(mart, "SELECT sum(file_size), count(*) FROM dicom_instance")
    assert bytes_before[0][1] == n

    shutil.copytree(src, b)  # the same files again, under another path
    rep = index_folders(mart, [b], workers=1)
    assert (rep.indexed, rep.quarantined, rep.instances) == (0, n, n)
    assert rep.quarantine_reasons == {indexer.DUPLICATE_REASON: n}
    assert _rows(mart, "SELECT sum(file_size), count(*) FROM dicom_instance") == bytes_before
    assert _rows(mart, "SELECT * FROM dicom_series ORDER BY 1") == series_before
    assert _rows(mart, "SELECT count(DISTINCT sop_instance_uid) FROM dicom_instance") == [(n,)]

    # The first copy goes away: re-indexing its folder drops it, and the second copy takes its place.
    shutil.rmtree(a)
    a.mkdir()
    index_folders(mart, [a], workers=1, allow_empty=True)
    moved = index_folders(mart, [b], workers=1)
    assert (moved.indexed, moved.quarantined) == (n, 0)
    assert _rows(mart, "SELECT sum(file_size), count(*) FROM dicom_instance") == bytes_before
    assert _rows(
        mart, "SELECT count(*) FROM dicom_instance WHERE starts_with(path, ?)", [str(b.resolve())]
    ) == [(n,)]


# --- demo writer -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_writer_hierarchy_reads_back_exactly(
    demo: tuple[Path, Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mart, src, n = demo
    assert n == sum(1 for p in src.rglob("*") if p.is_file()) > 100
    monkeypatch.setattr(indexer, "MIN_FILES_FOR_POOL", 1)  # exercise the process pool on a small set
    idx = tmp_path / "idx.duckdb"
    progress: list[indexer.IndexProgress] = []
    rep = index_folders(idx, [src], workers=2, progress=progress.append)
    assert (rep.indexed, rep.quarantined, rep.workers) == (n, 0, 2)
    assert progress and progress[-1].files_done == n

    con = duckdb.connect(str(idx))
    con.execute(f"ATTACH '{mart}' AS m (READ_ONLY)")
    try:
        io_rows = con.execute("""
            SELECT io.image_study_uid, io.image_series_uid, io.modality_source_value,
                   coalesce(io.anatomic_site_source_value, ''), p.person_source_value,
                   io.image_occurrence_date
            FROM m.image_occurrence io JOIN m.person p USING (person_id) ORDER BY 2""").fetchall()
        series = con.execute("""
            SELECT st.study_instance_uid, se.series_instance_uid, se.modality, se.body_part_examined,
                   st.patient_id, st.study_date
            FROM dicom_series se JOIN dicom_study st USING (study_instance_uid) ORDER BY 2""").fetchall()
        defaults = {"CT": "CHEST", "MR": "HEAD", "XA": "HEART", "US": "ABDOMEN", "CR": "CHEST", "DX": "CHEST"}
        assert series == [(a, b, m, site or defaults[m], pid, day) for a, b, m, site, pid, day in io_rows]
        # one accession number per study, instance numbers 1..n per series, unique SOP instance UIDs
        assert con.execute(
            "SELECT max(c) FROM (SELECT count(DISTINCT accession_number) c FROM dicom_instance "
            "GROUP BY study_instance_uid)"
        ).fetchone() == (1,)
        assert con.execute(
            "SELECT bool_and(n = mx AND n = n_distinct) FROM (SELECT count(*) n, max(instance_number) mx, "
            "count(DISTINCT instance_number) n_distinct FROM dicom_instance "
            "GROUP BY series_instance_uid)"
        ).fetchone() == (True,)
        assert con.execute(
            "SELECT count(DISTINCT sop_instance_uid) = count(*) FROM dicom_instance"
        ).fetchone() == (True,)
        assert con.execute(
            "SELECT bool_and(burned_in_annotation = 'YES') FROM dicom_instance WHERE modality = 'US'"
        ).fetchone() == (True,)
        assert (
            con.execute("SELECT count(*) FROM dicom_instance WHERE number_of_frames > 1").fetchall()[0][0] > 0
        )
    finally:
        con.close()

    # Deterministic per seed; another seed gives other files.
    same = tmp_path / "same"
    assert write_demo_dicom(mart, same, seed=11) == n
    assert all(
        (same / p.relative_to(src)).read_bytes() == p.read_bytes() for p in src.rglob("*") if p.is_file()
    )
    other = tmp_path / "other"
    assert write_demo_dicom(mart, other, seed=12, max_files=10) == 10


@pytest.mark.slow
def test_demo_files_are_pydicom_identical_and_carry_planted_identifiers(demo: tuple[Path, Path, int]) -> None:
    mart, src, _ = demo
    files = list(demo_files(mart, src, seed=11))
    sample: dict[tuple[str, str], Any] = {}
    for f in files:
        ds = to_pydicom(f)
        key = (ds.Modality, ds.SpecificCharacterSet)
        sample.setdefault(key, f)
    assert {m for m, _ in sample} == {"CT", "MR", "XA", "US", "CR", "DX"}
    assert {c for _, c in sample} == {"ISO_IR 100", "ISO_IR 192"}
    for f in sample.values():
        buf = io.BytesIO()
        dcmwrite(buf, to_pydicom(f), enforce_file_format=True)
        assert encode_part10(f) == buf.getvalue()  # the fast encoder writes what pydicom writes
        on_disk = pydicom.dcmread(f.path)
        assert _ours(read_header(f.path)) == _reference(on_disk)
        # planted identifying values, for de-identification to remove
        assert on_disk.PatientName and on_disk.PatientBirthDate and on_disk.PatientID
        assert on_disk.OtherPatientIDsSequence[0].PatientID
        assert on_disk.InstitutionName and on_disk.InstitutionAddress and on_disk.ReferringPhysicianName
        assert on_disk.PerformingPhysicianName and on_disk.OperatorsName and on_disk.PatientAddress
        item = on_disk.RequestAttributesSequence[0]
        assert item.RequestingPhysician and item.ScheduledProtocolCodeSequence[0].CodeMeaning
        block = on_disk.private_block(0x0011, "COHORT DEMO 1.0")
        assert str(on_disk.PatientName).split("=")[0] == block[0x10].value
        assert block[0x11].value == on_disk.PatientID
    hangul = [pydicom.dcmread(f.path) for k, f in sample.items() if k[1] == "ISO_IR 192"]
    assert any(re.search("[\uac00-\ud7a3]", str(ds.PatientName)) for ds in hangul)
    texts = [
        str(to_pydicom(f).get("ImageComments", "")) + str(to_pydicom(f).get("StudyDescription", ""))
        for f in files[:200]
    ]
    mrns = {str(to_pydicom(f).PatientID) for f in files[:200]}
    assert any(m in t for t in texts for m in mrns)  # free text repeating the MRN


# --- table descriptions ---------------------------------------------------------------------------------


def test_tables_describe_the_rows_with_privacy_classes() -> None:
    assert tuple(c.name for c in DICOM_INSTANCE.columns) == INSTANCE_COLUMNS
    assert tuple(c.name for c in DICOM_QUARANTINE.columns) == QUARANTINE_COLUMNS
    privacy = {(t, c.name): c.privacy for t, tab in DICOM_TABLES_BY_NAME.items() for c in tab.columns}
    for t in ("dicom_study", "dicom_series", "dicom_instance"):
        assert privacy[(t, "study_instance_uid")] == privacy[(t, "patient_id")] == "identifying"
    for col in (
        "path",
        "content_hash",
        "sop_instance_uid",
        "series_instance_uid",
        "accession_number",
        "study_description",
        "series_description",
    ):
        assert privacy[("dicom_instance", col)] == "identifying"
    assert privacy[("dicom_instance", "study_date")] == privacy[("dicom_series", "series_date")] == "quasi"
    assert (
        privacy[("dicom_instance", "modality")] == privacy[("dicom_series", "body_part_examined")] == "safe"
    )
    assert privacy[("dicom_quarantine", "path")] == "identifying"
    assert privacy[("dicom_quarantine", "reason")] == "safe"
