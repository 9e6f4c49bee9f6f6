"""The DICOM index written as Parquet partitioned by study date (Hive-style ``study_year=/study_month=``).

Why: at network scale the index is appended to every day (3.5 TB of images a day across the network,
see docs/SCALE.md), and nearly every imaging question is bounded by a study date window. Partitioning
by the study's year and month lets an engine that reads Parquet (Spark, DuckDB, Trino) skip every
folder outside the window, and lets a day's crawl write or replace one month's folder without
touching the rest. Hive-style names (``key=value``) are what Spark and DuckDB discover on their own; a
study without a date lands in ``study_year=__HIVE_DEFAULT_PARTITION__``, which both read as NULL.

``dicom_instance`` and ``dicom_study`` are partitioned by their own ``study_date``, ``dicom_series``
by its study's, so a series and its instances share a folder. Identifying columns (UIDs, PatientID,
paths) are written as they are: the Parquet folder is the index itself, as private as the mart.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
from pydantic import BaseModel, Field

__all__ = ["PARTITION_COLUMNS", "DicomParquetError", "DicomParquetReport", "export_dicom_parquet"]

#: The partition columns added to each table (integers: ``study_year=2023/study_month=10``).
PARTITION_COLUMNS: tuple[str, str] = ("study_year", "study_month")
#: Each partitioned table and the SQL of its study date (``t`` is the table).
_DATES: dict[str, str] = {
    "dicom_instance": "t.study_date",
    "dicom_study": "t.study_date",
    "dicom_series": (
        "(SELECT min(s.study_date) FROM src.dicom_study AS s "
        "WHERE s.study_instance_uid = t.study_instance_uid)"
    ),
}
#: Rows per Arrow batch read from DuckDB (bounded memory on an index of millions of instances).
_BATCH_ROWS = 100_000


class DicomParquetError(ValueError):
    """The export cannot proceed (the message says what to do)."""


class DicomParquetReport(BaseModel):
    tables: dict[str, int] = Field(description="Table → rows written.")
    partitions: dict[str, int] = Field(description="Table → (year, month) folders written.")
    bytes: int = Field(description="Parquet bytes written, all tables.")
    seconds: float


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_dicom_parquet(mart: Path, out: Path, *, replace: bool = False) -> DicomParquetReport:
    """Write the mart's DICOM index tables under ``out`` as ``<table>/study_year=Y/study_month=M/
    part-N.parquet``.

    Raises:
        DicomParquetError: the mart is missing or has no DICOM index, or a table's folder exists and
            ``replace`` is False.
    """
    started = time.perf_counter()
    if not Path(mart).is_file():
        raise DicomParquetError(f"mart file not found: {mart} (build one with `cohort demo-data`)")
    src = duckdb.connect()  # ATTACHed: the process may hold the mart open with other settings
    src.execute("SET enable_progress_bar = false")
    src.execute(f"ATTACH {_quote(str(mart))} AS src (READ_ONLY)")
    tables: dict[str, int] = {}
    partitions: dict[str, int] = {}
    try:
        present = {
            str(n).lower()
            for (n,) in src.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src' "
                "AND table_schema = 'main'"
            ).fetchall()
        }
        names = [t for t in _DATES if t in present]
        if "dicom_instance" not in names:
            raise DicomParquetError(
                f"{mart} has no DICOM index (dicom_instance): index images first with `cohort index`"
            )
        clash = sorted(n for n in names if (out / n).exists())
        if clash and not replace:
            raise DicomParquetError(
                f"{out} already has folder(s) {', '.join(clash)}; choose an empty folder or pass replace"
            )
        scheme = ds.partitioning(
            pa.schema([(PARTITION_COLUMNS[0], pa.int32()), (PARTITION_COLUMNS[1], pa.int32())]),
            flavor="hive",
        )
        for name in names:
            folder = out / name
            if folder.exists():
                shutil.rmtree(folder)
            date = _DATES[name]
            cur = src.cursor()  # a reader of its own per table: DuckDB allows one open result per cursor
            rel: Any = cur.sql(
                f"SELECT t.*, CAST(year({date}) AS INTEGER) AS {PARTITION_COLUMNS[0]}, "
                f"CAST(month({date}) AS INTEGER) AS {PARTITION_COLUMNS[1]} FROM src.{name} AS t"
            )
            # DuckDB >= 1.4 names the streaming reader to_arrow_reader; older releases record_batch
            reader = (getattr(rel, "to_arrow_reader", None) or rel.record_batch)(_BATCH_ROWS)
            ds.write_dataset(
                reader,
                folder,
                format="parquet",
                partitioning=scheme,
                basename_template="part-{i}.parquet",
                existing_data_behavior="overwrite_or_ignore",
            )
            cur.close()
            (rows,) = src.execute(f"SELECT count(*) FROM src.{name}").fetchone() or (0,)
            tables[name] = int(rows)
            partitions[name] = len({p.parent for p in folder.rglob("*.parquet")})
    finally:
        src.close()
    size = sum(p.stat().st_size for name in tables for p in (out / name).rglob("*.parquet"))
    return DicomParquetReport(
        tables=tables, partitions=partitions, bytes=size, seconds=round(time.perf_counter() - started, 3)
    )
