"""Per-file work of the indexer: header + hash → an instance row, or a quarantine row with a reason.

Kept apart from ``indexer.py`` so that worker processes import only this module, ``header.py`` and
``xxhash`` (no DuckDB, pyarrow or pydantic): a spawned worker starts in tens of milliseconds.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import threading
import time
from typing import Any

from cohort_engine.dicom_index.header import DICOMDIR_SOP_CLASS, DicomHeader, read_header_and_hash

__all__ = ["INSTANCE_COLUMNS", "QUARANTINE_COLUMNS", "scan_chunk", "scan_file", "watch_parent"]

#: Column order of ``dicom_instance`` rows (the test pins it to ``dicom_index.tables``).
INSTANCE_COLUMNS: tuple[str, ...] = (
    "path",
    "file_size",
    "file_mtime_ns",
    "content_hash",
    "sop_instance_uid",
    "series_instance_uid",
    "study_instance_uid",
    "patient_id",
    "sop_class_uid",
    "study_date",
    "study_time",
    "series_date",
    "modality",
    "body_part_examined",
    "study_description",
    "series_description",
    "accession_number",
    "manufacturer",
    "manufacturer_model_name",
    "image_rows",
    "image_columns",
    "slice_thickness",
    "number_of_frames",
    "transfer_syntax_uid",
    "series_number",
    "instance_number",
    "burned_in_annotation",
)
#: Column order of ``dicom_quarantine`` rows.
QUARANTINE_COLUMNS: tuple[str, ...] = ("path", "reason", "file_size", "file_mtime_ns", "content_hash")

_HEADER_FIELDS = INSTANCE_COLUMNS[4:]
_RENAMED = {"image_rows": "rows", "image_columns": "columns"}
_REQUIRED_UIDS = (
    ("study_instance_uid", "StudyInstanceUID"),
    ("series_instance_uid", "SeriesInstanceUID"),
    ("sop_instance_uid", "SOPInstanceUID"),
)
_INT32 = 2**31


def _date(value: str | None) -> dt.date | None:
    """DICOM DA (YYYYMMDD, or the ACR-NEMA YYYY.MM.DD) → date; anything else → NULL."""
    if not value:
        return None
    v = value.strip().replace(".", "")
    if len(v) != 8 or not v.isdigit():
        return None
    try:
        return dt.date(int(v[:4]), int(v[4:6]), int(v[6:]))
    except ValueError:
        return None


def _int32(value: int | None) -> int | None:
    return value if value is not None and -_INT32 <= value < _INT32 else None


def _quarantine_reason(h: DicomHeader) -> str | None:
    if h.media_storage_sop_class_uid == DICOMDIR_SOP_CLASS:
        return "DICOMDIR (media directory, not an instance)"
    missing = [kw for name, kw in _REQUIRED_UIDS if not getattr(h, name)]
    if len(missing) == len(_REQUIRED_UIDS) and not h.has_file_meta and not (h.sop_class_uid or h.modality):
        return "not DICOM (no DICOM attributes found)"
    if missing:
        return "missing " + ", ".join(missing)
    return None


def scan_file(path: str) -> tuple[bool, tuple[Any, ...]]:
    """Read one file: ``(True, instance row)`` or ``(False, quarantine row)``.  Never raises."""
    try:
        st = os.stat(path)
        header, error, size, digest = read_header_and_hash(path)
    except OSError as e:
        return False, (path, f"unreadable file ({errno.errorcode.get(e.errno or 0, 'OS error')})", 0, 0, None)
    except Exception as e:  # a reader bug must not stop a run; the type names it, not a value
        return False, (path, f"reader error ({type(e).__name__})", 0, 0, None)
    mtime = st.st_mtime_ns
    if error is not None or header is None:
        return False, (path, error.reason if error else "reader error", size, mtime, digest)
    reason = _quarantine_reason(header)
    if reason is not None:
        return False, (path, reason, size, mtime, digest)
    values = []
    for col in _HEADER_FIELDS:
        v = getattr(header, _RENAMED.get(col, col))
        if col in ("study_date", "series_date"):
            v = _date(v)
        elif isinstance(v, int) and not isinstance(v, bool):
            v = _int32(v)
        values.append(v)
    return True, (path, size, mtime, digest, *values)


def scan_chunk(paths: list[str]) -> list[tuple[bool, tuple[Any, ...]]]:
    """Worker entry point: one task is a chunk of files, to amortise inter-process overhead."""
    return [scan_file(p) for p in paths]


def watch_parent(parent_pid: int) -> None:
    """Worker initializer: exit when the indexing process is gone.

    A killed indexer (``kill -9``, OOM) cannot tell its pool to stop; without this the workers would
    wait on their task queue forever.
    """

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
