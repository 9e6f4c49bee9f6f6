"""De-identified DICOM export of a cohort: manifests + PS3.15 copies of every file, as a folder or a zip.

Output layout (nothing in a path or file name comes from an original identifier)::

    DIR/
      manifest.jsonl | manifest.json | manifest.csv | manifest.parquet   one row per series (or instance)
      excluded.csv          files left out: patient, study_uid, series_uid, sop_uid (all remapped), reason
      export.json           summary: project key, counts, bytes, profile edition (no secret, no paths)
      README.txt            what the release promises: the stated date precision and how values are cut
      files/<patient pseudonym>/<remapped study UID>/<remapped series UID>/<remapped SOP UID>.dcm

With ``archive=True`` the same tree goes into one ``DIR/<project_key>.zip`` instead (members stored,
not deflated: image data rarely shrinks, storing is fast, and the archive can be checked byte for
byte).

How a run goes: one streamed pass over the cohort's instances (``deid.manifest.imaging_records``,
ordered by a keyed hash of the person, then study, series, instance).  Each file is read once; its
header's own identifying values (patient and staff names, other IDs) are collected for scrubbing the
manifest's descriptions, then the header is de-identified by :func:`deid.dicom_profile.deidentify_dataset`
with the patient's key (the mart's person_id, as in the manifests) and known identifiers, and the
copy is written.  Files with burned-in annotation (BurnedInAnnotation=YES, or US/SC/OT/XC/ES without
BurnedInAnnotation=NO) are left out unless the policy allows them; unreadable files and duplicate
copies of one instance are left out too; each goes to ``excluded.csv`` with a reason code.  Manifest
rows are written as their series (or instance) completes, so memory stays flat for any cohort size.

The secret lives only inside the :class:`~deid.policy.ReleasePolicy` (a ``SecretBytes``); nothing
here logs, prints or writes it, and error reasons are codes, never messages (a pydicom or OS error
message may quote a value or a path).  ``cohort export`` takes it from a file (``--secret-file``,
mode 0600) or the environment (``COHORT_RELEASE_SECRET``), never from a command-line argument:
arguments stay in shell history and are visible to every local user in the process list
(``ps``, ``/proc/<pid>/cmdline``) while the export runs.

Files and folders: everything is built inside ``DIR/.staging-*`` (mode 0700, so nobody else can look
in while it grows), files are created 0600 and folders 0700, and only a complete release is moved to its
final names (``os.replace``, atomic per entry).  A failed or interrupted export removes the staging
folder: no ``.part`` file and no half-written release under a final name is ever left.  (A process
killed with SIGKILL cannot clean up; what it leaves is that one unreadable staging folder.)

Dates: where the cohort's index window is narrower than the release's stated precision
(:func:`deid.policy.dates_pinned`), the copies' DICOM dates are cut to the month (precision <= 28 days)
or the year, so a file's shifted StudyDate cannot give back the patient's shift.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, Field
from pydicom import dcmread

from cohort_engine.deid.dicom_io import write_dataset_file
from cohort_engine.deid.dicom_profile import (
    DeidContext,
    deidentify_dataset,
    identifiers_from_dataset,
    load_action_table,
    pydicom_quiet,
)
from cohort_engine.deid.manifest import (
    EXTENSIONS,
    INSTANCE_COLUMNS,
    SERIES_COLUMNS,
    ImagingRecord,
    ManifestFormat,
    ManifestLevel,
    ManifestWriter,
    count_manifest_rows,
    has_table,
    imaging_records,
    manifest_row,
)
from cohort_engine.deid.policy import ReleasePolicy, dates_pinned, period_granularity, pseudonym, remap_uid
from cohort_engine.spec import ImagingRequest
from cohort_engine.sql_guard.compiler import CompiledCohort
from cohort_engine.sql_guard.guard import HARD_MAX_ROWS

__all__ = [
    "EXCLUDED_COLUMNS",
    "ExportError",
    "ExportProgress",
    "ExportSummary",
    "check_out_dir",
    "export_cohort",
    "files_policy",
    "release_readme",
]

DEFAULT_FORMATS: tuple[ManifestFormat, ...] = ("jsonl", "csv", "parquet")
EXCLUDED_COLUMNS: tuple[str, ...] = ("patient", "study_uid", "series_uid", "sop_uid", "reason")
#: Columns the export adds to manifest rows: what happened to the files.
SERIES_EXPORT_COLUMNS: tuple[str, ...] = ("files_written", "files_excluded")
INSTANCE_EXPORT_COLUMNS: tuple[str, ...] = ("file", "status")


class ExportError(Exception):
    """The export cannot run (output folder not empty, …).  Messages never hold identifying values."""


class ExportProgress(BaseModel):
    """Counts only: safe to show in a progress bar or a job status."""

    files_total: int
    files_done: int
    files_written: int
    files_excluded: int
    bytes_written: int


class ExportSummary(BaseModel):
    """What an export wrote.  Counts, codes and output names only — no secret, no original value."""

    project_key: str
    level: str
    formats: list[str]
    patients: int
    series: int
    files_seen: int
    files_written: int
    files_excluded: int
    excluded_reasons: dict[str, int] = Field(default_factory=dict)
    bytes_written: int
    manifest_rows: int
    outputs: list[str]
    """Paths relative to the output folder (or archive members): manifests, excluded list, summary."""
    archive: str | None = None
    profile: str
    elapsed_s: float


def _private_opener(path: str, flags: int) -> int:
    """Create files 0600: a release holds patient data, whatever the process umask says."""
    return os.open(path, flags, 0o600)


def _write_private_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", opener=_private_opener) as f:
        f.write(text)


def files_policy(policy: ReleasePolicy) -> ReleasePolicy:
    """The policy for the DICOM copies: dates cut to month/year where the index window pins them."""
    if not dates_pinned(policy):
        return policy
    month = period_granularity(policy.date_precision_days) == "month"
    granularity = "year" if policy.date_granularity == "year" or not month else "month"
    return policy.model_copy(update={"date_granularity": granularity})


def check_out_dir(out_dir: Path) -> None:
    """Refuse an output folder that holds anything: one folder per release, never mixed with another."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ExportError("the output folder must not exist yet or be empty (one folder per release)")


def _exclusion_reason(flags: Sequence[str]) -> str:
    for f in flags:
        if f.startswith("burned_in") and f != "excluded_burned_in":
            return f
    return "excluded"


class _FileOutput:
    """Where de-identified files go: the folder, or one zip archive (through a reused temp file)."""

    def __init__(self, root: Path, archive: zipfile.ZipFile | None, tmp: Path) -> None:
        self.root = root
        self.archive = archive
        self.tmp = tmp
        self._made: set[Path] = set()

    def discard(self, rel: str) -> None:
        """Remove what a failed write may have left (folder mode; the archive only gets whole files)."""
        if self.archive is None:
            (self.root / rel).unlink(missing_ok=True)

    def write_dataset(self, ds: Any, rel: str) -> int:
        if self.archive is None:
            dst = self.root / rel
            if dst.parent not in self._made:
                _make_private_dirs(self.root, dst.parent)
                self._made.add(dst.parent)
            write_dataset_file(ds, dst)
            os.chmod(dst, 0o600)
            return dst.stat().st_size
        write_dataset_file(ds, self.tmp)
        os.chmod(self.tmp, 0o600)
        size = self.tmp.stat().st_size
        self.archive.write(self.tmp, rel)
        return size


def _make_private_dirs(root: Path, folder: Path) -> None:
    """mkdir -p with mode 0700 for every level below ``root`` (mkdir's mode is cut by the umask)."""
    missing: list[Path] = []
    p = folder
    while p != root and not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        os.chmod(d, 0o700)


def export_cohort(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    request: ImagingRequest | None,
    policy: ReleasePolicy,
    out_dir: Path,
    *,
    level: ManifestLevel = "series",
    formats: Sequence[ManifestFormat] = DEFAULT_FORMATS,
    archive: bool = False,
    progress: Callable[[ExportProgress], None] | None = None,
    batch_size: int = 2000,
) -> ExportSummary:
    """Write the cohort's de-identified imaging under ``out_dir`` (see the module docstring).

    ``out_dir`` must not exist or be empty.  ``level`` chooses one manifest row per series or per
    instance; ``formats`` which manifest files are written (any of jsonl, json, csv, parquet).
    ``policy`` should be :meth:`ReleasePolicy.for_cohort` of the cohort's spec (otherwise the index
    window is unknown and dates are treated as pinned).
    """
    t0 = time.perf_counter()
    if level not in ("series", "instance"):
        raise ExportError("level must be 'series' or 'instance'")
    formats = list(dict.fromkeys(formats))
    if not formats or any(f not in EXTENSIONS for f in formats):
        raise ExportError("manifest formats must be among jsonl, json, csv, parquet")
    for needed in ("dicom_instance", "dicom_series", "dicom_study"):
        if not has_table(con, needed):
            raise ExportError("the mart has no DICOM index: index the imaging folders first")
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    table = load_action_table()
    total = count_manifest_rows(con, compiled, request, "instance")
    if total >= HARD_MAX_ROWS:  # the imaging query is capped there: refuse rather than cut silently
        raise ExportError(
            f"the cohort has {HARD_MAX_ROWS:,} or more image files; split it into smaller releases"
        )
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    dicom_policy = files_policy(policy)

    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))  # 0700
    meta_root = staging / "meta" if archive else staging
    meta_root.mkdir(mode=0o700, exist_ok=True)
    zip_path = out_dir / f"{policy.project_key}.zip"
    zip_part = staging / "archive.zip"
    zf = None
    if archive:
        _write_private_text(zip_part, "")  # created 0600; ZipFile truncates it, the mode stays
        zf = zipfile.ZipFile(zip_part, "w", zipfile.ZIP_STORED, allowZip64=True)
    files = _FileOutput(staging, zf, staging / "file.tmp")

    columns = (
        SERIES_COLUMNS + SERIES_EXPORT_COLUMNS
        if level == "series"
        else INSTANCE_COLUMNS + INSTANCE_EXPORT_COLUMNS
    )
    manifest_names = [f"manifest.{EXTENSIONS[f]}" for f in formats]
    writers = [
        ManifestWriter(meta_root / name, f, columns) for name, f in zip(manifest_names, formats, strict=True)
    ]
    excluded_file = open(  # noqa: SIM115
        meta_root / "excluded.csv", "w", encoding="utf-8", newline="", opener=_private_opener
    )
    excluded_csv = csv.writer(excluded_file, lineterminator="\n")
    excluded_csv.writerow(EXCLUDED_COLUMNS)

    if progress is not None:
        progress(
            ExportProgress(
                files_total=total, files_done=0, files_written=0, files_excluded=0, bytes_written=0
            )
        )
    reasons: Counter[str] = Counter()
    counts = {"seen": 0, "written": 0, "excluded": 0, "bytes": 0, "rows": 0, "series": 0}
    patients: set[str] = set()
    ok = False
    try:
        first: ImagingRecord | None = None  # first record of the current series
        group_ids: set[str] = set()  # header identifiers read from the current series' files
        group_counts = [0, 0]  # files written, excluded in the current series
        prev_sop: str | None = None

        def emit_series() -> None:
            if first is None:
                return
            counts["series"] += 1
            if level == "series":
                row = manifest_row(first, policy, "series", extra_identifiers=group_ids)
                row["files_written"], row["files_excluded"] = group_counts
                for w in writers:
                    w.write(row)
                counts["rows"] += 1

        for rec in imaging_records(
            con, compiled, request, policy, "instance", batch_size=batch_size, read_headers=False
        ):  # every file is read below anyway
            if first is None or (rec.person_id, rec.study_uid, rec.series_uid) != (
                first.person_id,
                first.study_uid,
                first.series_uid,
            ):
                emit_series()
                first, group_ids, group_counts, prev_sop = rec, set(), [0, 0], None
            counts["seen"] += 1
            key = str(rec.person_id)
            pseudo = pseudonym(policy, key)
            patients.add(pseudo)
            study, series = remap_uid(policy, rec.study_uid), remap_uid(policy, rec.series_uid)
            sop = remap_uid(policy, rec.sop_uid) if rec.sop_uid else ""
            rel = f"files/{pseudo}/{study}/{series}/{sop}.dcm"
            header_ids: list[str] = []
            if rec.sop_uid is not None and rec.sop_uid == prev_sop:
                reason: str | None = "duplicate_file"  # a second stored copy of an instance already written
            else:
                reason, size, header_ids = _deidentify_one(rec, key, dicom_policy, files, rel)
                if reason is None:
                    counts["bytes"] += size
            prev_sop = rec.sop_uid
            group_ids.update(header_ids)
            if reason is None:
                counts["written"] += 1
                group_counts[0] += 1
            else:
                counts["excluded"] += 1
                group_counts[1] += 1
                reasons[reason] += 1
                excluded_csv.writerow([pseudo, study, series, sop, reason])
            if level == "instance":
                row = manifest_row(rec, policy, "instance", extra_identifiers=header_ids)
                row["file"] = rel if reason is None else None
                row["status"] = "written" if reason is None else reason
                for w in writers:
                    w.write(row)
                counts["rows"] += 1
            if progress is not None:
                progress(
                    ExportProgress(
                        files_total=total,
                        files_done=counts["seen"],
                        files_written=counts["written"],
                        files_excluded=counts["excluded"],
                        bytes_written=counts["bytes"],
                    )
                )
        emit_series()
        for w in writers:
            w.close()
        excluded_file.close()

        summary = ExportSummary(
            project_key=policy.project_key,
            level=level,
            formats=list(formats),
            patients=len(patients),
            series=counts["series"],
            files_seen=counts["seen"],
            files_written=counts["written"],
            files_excluded=counts["excluded"],
            excluded_reasons=dict(sorted(reasons.items())),
            bytes_written=counts["bytes"],
            manifest_rows=counts["rows"],
            outputs=[*manifest_names, "excluded.csv", "export.json", "README.txt"],
            archive=zip_path.name if archive else None,
            profile=f"DICOM PS3.15 Table E.1-1 {table.edition} (dicom-anonymizer {table.package_version})",
            elapsed_s=0.0,
        )
        summary.elapsed_s = round(time.perf_counter() - t0, 3)
        record = {
            **summary.model_dump(),
            "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "options": _options(policy),
        }
        _write_private_text(
            meta_root / "export.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n"
        )
        _write_private_text(meta_root / "README.txt", release_readme(policy))
        if zf is not None:
            for name in summary.outputs:
                zf.write(meta_root / name, name)
            zf.close()
            os.replace(zip_part, zip_path)
        else:
            (staging / "file.tmp").unlink(missing_ok=True)
            for entry in ["files", *summary.outputs]:
                if (staging / entry).exists():
                    os.replace(staging / entry, out_dir / entry)
        ok = True
        return summary
    finally:
        if not ok:
            for w in writers:
                with contextlib.suppress(Exception):  # a failed writer must not hide the original error
                    w.close()
            excluded_file.close()
            if zf is not None:
                with contextlib.suppress(Exception):
                    zf.close()
        shutil.rmtree(staging, ignore_errors=True)


def release_readme(policy: ReleasePolicy) -> str:
    """The release's README: what a recipient may rely on, and how coarse each kind of value is."""
    p = policy.date_precision_days
    files = files_policy(policy)
    if dates_pinned(policy):
        index = (
            "withheld: the cohort's own index window is narrower than the precision, so the shifted index "
            "date would give back each patient's shift"
        )
    else:
        index = f"shifted per patient, shown as a {period_granularity(p)} period"
    dicom = (
        "shifted per patient (intervals between a patient's dates are exact)"
        if files.date_granularity == "full"
        else f"shifted per patient and cut to the {files.date_granularity}"
    )
    approved = (
        " (finer than the default: approved by the reviewers)" if policy.finer_precision_approved else ""
    )
    return (
        f"De-identified imaging release {policy.project_key}\n\n"
        f"Stated date precision: {p} days{approved}. No value in this release pins a real date more finely.\n"
        f"- index_date: {index}.\n"
        f"- study_date, series_date: shifted per patient, shown as a {period_granularity(p)} period.\n"
        f"- days_from_index (and criteria): exact intervals plus one unknown per-patient offset spread over "
        f"{p} days.\n"
        "- n_instances, total_bytes, file_size: about +-15 % keyed jitter (unlinkable to other releases).\n"
        f"- DICOM copies' dates: {dicom}.\n"
        "Pseudonyms, UIDs, shifts and jitter are keyed to this release and differ in any other release.\n"
    )


def _options(policy: ReleasePolicy) -> dict[str, Any]:
    """The release options worth recording (never the secret or anything derived from it)."""
    return {
        "date_shift_days": [policy.date_shift_min_days, policy.date_shift_max_days],
        "date_granularity": policy.date_granularity,
        "date_precision_days": policy.date_precision_days,
        "finer_precision_approved": policy.finer_precision_approved,
        "index_window_days": policy.index_window_days,
        "index_date": "withheld (index window narrower than the precision)"
        if dates_pinned(policy)
        else "shifted, as a period of the precision",
        "dicom_date_granularity": files_policy(policy).date_granularity,
        "allow_burned_in": policy.allow_burned_in,
        "retain_safe_private": policy.retain_safe_private,
        "profile_options": [
            "Retain Longitudinal Temporal Information with Modified Dates",
            "Retain Patient Characteristics",
            "Clean Descriptors",
        ]
        + (["Retain Safe Private"] if policy.retain_safe_private else []),
    }


def _deidentify_one(
    rec: ImagingRecord, key: str, policy: ReleasePolicy, files: _FileOutput, rel: str
) -> tuple[str | None, int, list[str]]:
    """(exclusion reason or None, bytes written, the header's identifying values) for one file.

    A file whose size differs from the indexed one is left out (``changed_since_indexing``): the
    manifest describes what was indexed, and pydicom reads a truncated file without complaint.  A file
    that cannot be read or de-identified is left out with a reason code (the exception's
    message is dropped: pydicom and the OS quote values and paths).  A failure to *write* stops the
    export instead: a full disk must not look like a clean release with files missing.
    """
    if not rec.path:
        return "missing_file", 0, []
    try:
        size_now = os.stat(rec.path).st_size
    except FileNotFoundError:
        return "missing_file", 0, []
    except OSError:
        return "unreadable", 0, []
    if rec.file_size is not None and size_now != rec.file_size:
        # pydicom reads a truncated file without complaint; the index saw the whole one.
        return "changed_since_indexing", 0, []
    with pydicom_quiet():
        try:
            ds = dcmread(rec.path)
        except Exception:  # InvalidDicomError, OSError, a malformed element …
            return "unreadable", 0, []
        try:
            header_ids = identifiers_from_dataset(ds)
            result = deidentify_dataset(
                ds, policy, DeidContext(person_key=key, known_identifiers=rec.identifiers)
            )
        except Exception:  # DeidError or a malformed element the profile could not handle
            return "deid_error", 0, []
        if result.dataset is None:
            return _exclusion_reason(result.flags), 0, header_ids
        try:
            size = files.write_dataset(result.dataset, rel)
        except OSError as e:
            raise ExportError(f"writing a de-identified file failed ({type(e).__name__})") from None
        except Exception:  # the dataset cannot be encoded (e.g. a file whose meta information was cut)
            files.discard(rel)
            return "unwritable_dataset", 0, header_ids
    return None, size, header_ids
