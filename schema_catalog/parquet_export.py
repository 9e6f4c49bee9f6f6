"""Write a DuckDB mart as Parquet: one folder per table, the layout Spark and other engines read.

Why: the network tier (Spark, a data lake) reads tables as Parquet folders; the demo mart (and the
benchmark's larger ones) are built in DuckDB. Each table becomes ``OUT/<table>/part-0.parquet`` with
its DuckDB column types (dates stay dates), so the same rows can be loaded anywhere.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, Field

__all__ = ["ParquetExportError", "ParquetReport", "export_parquet"]

_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")


class ParquetExportError(ValueError):
    """The export cannot proceed (the message says what to do)."""


class ParquetReport(BaseModel):
    tables: dict[str, int] = Field(description="Table → rows written.")
    seconds: float


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_parquet(
    mart: Path,
    out: Path,
    *,
    exclude: Sequence[str] = (),
    replace: bool = False,
    progress: Callable[[str], Any] | None = None,
) -> ParquetReport:
    """Write every table of ``mart`` under ``out`` as ``<table>/part-0.parquet``.

    Raises:
        ParquetExportError: the mart is missing, or a table's folder exists and ``replace`` is False.
    """
    started = time.perf_counter()
    if not Path(mart).is_file():
        raise ParquetExportError(f"mart file not found: {mart} (build one with `cohort demo-data`)")
    src = duckdb.connect()  # ATTACHed: the process may hold the mart open with other settings
    src.execute("SET enable_progress_bar = false")  # stdout belongs to the command's own report
    src.execute(f"ATTACH {_quote(str(mart))} AS src (READ_ONLY)")
    tables: dict[str, int] = {}
    try:
        names = [
            str(n).lower()
            for (n,) in src.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src' "
                "AND table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
            ).fetchall()
        ]
        skip = {e.lower() for e in exclude}
        names = [n for n in names if n not in skip and _PLAIN.match(n)]
        clash = sorted(n for n in names if (out / n).exists())
        if clash and not replace:
            raise ParquetExportError(
                f"{out} already has folder(s) {', '.join(clash)}; choose an empty folder or pass --replace"
            )
        for name in names:
            if progress:
                progress(name)
            folder = out / name
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            target = folder / "part-0.parquet"
            src.execute(f'COPY src."{name}" TO {_quote(str(target))} (FORMAT parquet)')
            (rows,) = src.execute(f"SELECT count(*) FROM read_parquet({_quote(str(target))})").fetchone() or (
                0,
            )
            tables[name] = int(rows)
    finally:
        src.close()
    return ParquetReport(tables=tables, seconds=round(time.perf_counter() - started, 3))
