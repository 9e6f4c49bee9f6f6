"""De-identified imaging manifests of a cohort: the seam between the API and the release stage.

The API never builds manifest rows itself; it calls a :class:`ManifestSource` with a
:class:`ManifestRequest` (an open read-only mart cursor, the cohort's compiled SQL, the imaging request
of its spec and the release policy) and streams, pages or exports whatever rows come back, in the
source's column order. ``create_app(..., manifest_source=…)`` swaps the source; the release stage
(``deid/``) can provide one that, for example, lists instances or applies a richer profile.

The built-in :class:`SeriesManifest` lists one row per imaging series (``image_occurrence``) of the
cohort's persons, restricted by the spec's ``imaging`` request (modalities, body parts, a window around
the index or a named criterion), with:

* ``patient`` — keyed pseudonym (``deid.policy.pseudonym``; HMAC-SHA256 under a per-release key);
* ``study_uid`` / ``series_uid`` — keyed UID remaps (``deid.policy.remap_uid``), so the hierarchy
  survives and the files can be matched by whoever runs the de-identifying export;
* ``study_date`` — shifted per person (``deid.policy.shift_date``), intervals preserved;
* ``days_from_index`` — days from the (real) index date to the study, which the shift preserves;
* ``modality``, ``body_part`` — DICOM codes.

Each cohort is its own release (``project_key = "cohort-<id>"``), so pseudonyms from two cohorts
cannot be joined. No person id, MRN, real date, path, DICOMweb URI or original UID leaves this module.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb

from deid.policy import ReleasePolicy, pseudonym, remap_uid, shift_date
from nlq.spec import ImagingRequest
from sql_guard.compiler import CompiledCohort, lit


@dataclass(frozen=True)
class ManifestRequest:
    cohort_id: str
    con: duckdb.DuckDBPyConnection
    compiled: CompiledCohort
    imaging: ImagingRequest | None
    policy: ReleasePolicy
    order_salt: str = ""
    """Keyed ordering (rows come in an order that says nothing about internal person ids)."""
    timeout_s: float = 120.0


class ManifestSource(Protocol):
    """Where manifest rows come from. ``rows`` must yield dicts keyed by ``columns`` in a stable order."""

    columns: tuple[str, ...]

    def count(self, req: ManifestRequest) -> int: ...

    def rows(self, req: ManifestRequest, offset: int = 0, limit: int | None = None) -> Iterator[dict[str, Any]]: ...


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None, timeout_s: float = 60.0) -> duckdb.DuckDBPyConnection:
    """Run trusted internal SQL on its own cursor with a time limit; returns the cursor to fetch from."""
    import threading

    from sql_guard.errors import QueryError, QueryTimeout

    cursor = con.cursor()
    fired = threading.Event()

    def _interrupt() -> None:
        fired.set()
        cursor.interrupt()

    timer = threading.Timer(timeout_s, _interrupt)
    timer.daemon = True
    timer.start()
    try:
        cursor.execute(sql, params or [])
    except duckdb.Error as e:
        cursor.close()
        if fired.is_set() or isinstance(e, duckdb.InterruptException):
            raise QueryTimeout(timeout_s) from None
        raise QueryError(type(e).__name__, "an internal query failed") from None
    finally:
        timer.cancel()
    return cursor


def cohort_subquery(compiled: CompiledCohort) -> str:
    return f"({compiled.cohort_sql}) AS c"


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    rows = con.execute(
        "SELECT 1 FROM information_schema.tables WHERE lower(table_name) = ? AND lower(table_schema) = 'main'",
        [table],
    ).fetchall()
    return bool(rows)


def imaging_filter_sql(compiled: CompiledCohort, imaging: ImagingRequest | None, alias: str = "io") -> str:
    """WHERE conditions (after the cohort join) for the spec's imaging request."""
    conds: list[str] = []
    if imaging is None:
        return ""
    if imaging.modalities:
        conds.append(f"UPPER({alias}.modality_source_value) IN ({', '.join(lit(m) for m in imaging.modalities)})")
    if imaging.body_parts:
        conds.append(f"UPPER({alias}.anatomic_site_source_value) IN ({', '.join(lit(b) for b in imaging.body_parts)})")
    w = imaging.window
    if w is not None:
        anchor = "c.index_date" if w.anchor == "index" else f"c.{compiled.event_columns.get(w.anchor, 'index_date')}"
        if w.start is not None:
            conds.append(f"CAST({alias}.image_occurrence_date AS DATE) >= {anchor} + INTERVAL ({int(w.start)}) DAY")
        if w.end is not None:
            conds.append(f"CAST({alias}.image_occurrence_date AS DATE) <= {anchor} + INTERVAL ({int(w.end)}) DAY")
    return " AND ".join(conds)


class SeriesManifest:
    """One row per imaging series of the cohort (see the module docstring)."""

    columns: tuple[str, ...] = (
        "patient", "study_uid", "series_uid", "study_date", "days_from_index", "modality", "body_part",
    )

    def _from_where(self, req: ManifestRequest) -> str | None:
        if not has_table(req.con, "image_occurrence"):
            return None
        cond = imaging_filter_sql(req.compiled, req.imaging)
        return f"FROM image_occurrence AS io JOIN {cohort_subquery(req.compiled)} ON io.person_id = c.person_id" + (
            f" WHERE {cond}" if cond else ""
        )

    def count(self, req: ManifestRequest) -> int:
        fw = self._from_where(req)
        if fw is None:
            return 0
        return int(execute(req.con, f"SELECT COUNT(*) {fw}", timeout_s=req.timeout_s).fetchone()[0])

    def rows(self, req: ManifestRequest, offset: int = 0, limit: int | None = None) -> Iterator[dict[str, Any]]:
        fw = self._from_where(req)
        if fw is None:
            return
        page = f" LIMIT {int(limit)}" if limit is not None else ""
        page += f" OFFSET {int(offset)}" if offset else ""
        cursor = execute(
            req.con,
            "SELECT io.person_id, c.index_date, CAST(io.image_occurrence_date AS DATE), io.image_study_uid, "
            "io.image_series_uid, io.modality_source_value, io.anatomic_site_source_value "
            f"{fw} ORDER BY md5(? || CAST(io.person_id AS VARCHAR)), io.image_occurrence_date, io.image_occurrence_id"
            f"{page}",
            [req.order_salt],
            timeout_s=req.timeout_s,
        )
        try:
            while batch := cursor.fetchmany(1000):
                for pid, index_date, study_date, study_uid, series_uid, modality, body_part in batch:
                    key = str(pid)
                    shifted = shift_date(req.policy, key, study_date) if study_date is not None else None
                    yield {
                        "patient": pseudonym(req.policy, key),
                        "study_uid": remap_uid(req.policy, str(study_uid)) if study_uid else None,
                        "series_uid": remap_uid(req.policy, str(series_uid)) if series_uid else None,
                        "study_date": shifted.isoformat() if hasattr(shifted, "isoformat") else shifted,
                        "days_from_index": (study_date - index_date).days
                        if study_date is not None and index_date is not None else None,
                        "modality": (modality or "").upper() or None,
                        "body_part": (body_part or "").upper() or None,
                    }
        finally:
            cursor.close()


# -- encoders ------------------------------------------------------------------------------------


def _scalar(v: Any) -> Any:
    """Lists/dicts (e.g. a source's per-criterion column) as compact JSON text; scalars as they are."""
    if isinstance(v, list | dict | tuple):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=str)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def csv_chunks(columns: tuple[str, ...], rows: Iterable[dict[str, Any]], batch: int = 500) -> Iterator[bytes]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for n, r in enumerate(rows, start=1):
        w.writerow(["" if r.get(c) is None else _scalar(r.get(c)) for c in columns])
        if n % batch == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def jsonl_chunks(rows: Iterable[dict[str, Any]], batch: int = 500) -> Iterator[bytes]:
    out: list[str] = []
    for r in rows:
        out.append(json.dumps(r, ensure_ascii=False, default=str))
        if len(out) >= batch:
            yield ("\n".join(out) + "\n").encode("utf-8")
            out = []
    if out:
        yield ("\n".join(out) + "\n").encode("utf-8")


def _arrow_type(values: list[Any]) -> Any:
    import pyarrow as pa

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64()
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.float64()
    return pa.string()


def write_parquet(columns: tuple[str, ...], rows: Iterable[dict[str, Any]], sink: Any, batch: int = 5000,
                  on_batch: Any = None) -> int:
    """Parquet, one row group per ``batch`` rows; column types inferred from the first batch
    (integers, floats, booleans; everything else as text, lists/dicts as JSON text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    schema = None
    n = 0
    buf: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal writer, schema
        if schema is None:
            schema = pa.schema([(c, _arrow_type([r.get(c) for r in buf])) for c in columns])
            writer = pq.ParquetWriter(sink, schema)
        if buf:
            cooked = []
            for r in buf:
                row = {}
                for f in schema:
                    v = r.get(f.name)
                    row[f.name] = (None if v is None else v if not pa.types.is_string(f.type)
                                   else str(_scalar(v)))
                cooked.append(row)
            writer.write_table(pa.Table.from_pylist(cooked, schema=schema))
            buf.clear()

    try:
        for r in rows:
            buf.append(r)
            n += 1
            if len(buf) >= batch:
                flush()
                if on_batch:
                    on_batch(n)
        flush()
    finally:
        if writer is not None:
            writer.close()
    return n


def parquet_bytes(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> bytes:
    sink = io.BytesIO()
    write_parquet(columns, rows, sink)
    return sink.getvalue()
