"""De-identified imaging manifests: cohort → one row per series (or per instance), streamed.

What a row holds (and why each value is safe to release)
--------------------------------------------------------
* ``patient`` — :func:`deid.policy.pseudonym` of ``str(person_id)``: the mart's person_id is the one
  person key of a release, so the manifest, the de-identified DICOM files (``PatientID``) and every
  shifted date agree;
* ``study_uid`` / ``series_uid`` / ``sop_uid`` — :func:`deid.policy.remap_uid` of the original UIDs,
  the same values the de-identified files carry;
* ``index_date``, ``study_date``, ``series_date`` — shifted by the patient's keyed offset, then shown
  as the period of the release's stated precision (``YYYY-MM`` / ``YYYY-Qn`` / ``YYYY``;
  :func:`deid.policy.release_date`); ``index_date`` is withheld (None) where the cohort's own index
  window is narrower than the precision (:func:`deid.policy.dates_pinned`) — there the shifted index
  date would *be* the shift;
* ``days_from_index`` and each criterion's ``days_from_index`` — differences between real dates,
  plus a keyed per-patient jitter spread over the precision (:func:`deid.policy.jitter_days`);
* ``modality``, ``body_part``, ``study_description``, ``series_description`` (and criterion labels)
  — through :func:`deid.scrub.scrub_text` with that patient's known identifiers: name parts in Latin
  and Hangul, MRN and birth date (``person``), address and phone (``demo_identity`` when the mart has
  it), the header's PatientID and AccessionNumber (``dicom_study``), and the identifying values of
  one file header per series (patient and staff names, other IDs — which the index does not hold but
  descriptions repeat), read when the files are reachable (the export reads every file anyway);
* ``n_instances``, ``total_bytes``, ``file_size`` — keyed jitter per release
  (:func:`deid.policy.jitter_count`), so two releases of one cohort cannot be joined on them;
  ``burned_in_annotation`` — a code;
* ``criteria`` — the criteria that qualified the patient: ``[{"label", "days_from_index"}]`` from the
  cohort SQL's ``<label>_date`` columns (``None`` for absence criteria, which match no event).

Never in a row: person_id, MRN, names, real dates, original UIDs, file paths.

Streaming
---------
Rows come from one DuckDB query fetched ``batch_size`` rows at a time and are written as they come:
JSON Lines, a JSON array, CSV, or Parquet (one row group per ``row_group_size`` rows through
:class:`pyarrow.parquet.ParquetWriter`).  Peak memory is one batch plus one row group, whatever the
cohort size.  Rows are ordered by a keyed hash of the person (not by person_id, whose order says
something about when a patient was registered), then by study, series and instance.

Where the imaging rows come from: :func:`dicom_index.select.cohort_imaging_sql` (persons of the
cohort × the DICOM index); this module adds the cohort's criterion dates and the identifying values
needed for scrubbing, and never outputs them.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, PlainValidator

from cohort_engine.deid.policy import (
    ReleasePolicy,
    dates_pinned,
    jitter_count,
    jitter_days,
    pseudonym,
    release_date,
    remap_uid,
)
from cohort_engine.deid.scrub import scrub_text
from cohort_engine.spec import ImagingRequest
from cohort_engine.sql_guard.compiler import CompiledCohort
from cohort_engine.sql_guard.runner import execute_internal

__all__ = [
    "FORMATS",
    "INSTANCE_COLUMNS",
    "SERIES_COLUMNS",
    "ImagingManifestSource",
    "ImagingRecord",
    "ManifestFormat",
    "ManifestLevel",
    "ManifestRequest",
    "ManifestWriter",
    "columns_for",
    "count_manifest_rows",
    "has_table",
    "header_identifiers",
    "imaging_records",
    "iter_manifest_rows",
    "manifest_chunks",
    "manifest_row",
    "write_manifest",
]

ManifestFormat = Literal["jsonl", "json", "csv", "parquet"]
ManifestLevel = Literal["series", "instance"]
FORMATS: tuple[ManifestFormat, ...] = ("jsonl", "json", "csv", "parquet")
#: File name extension per format.
EXTENSIONS: dict[str, str] = {"jsonl": "jsonl", "json": "json", "csv": "csv", "parquet": "parquet"}

SERIES_COLUMNS: tuple[str, ...] = (
    "patient",
    "study_uid",
    "series_uid",
    "index_date",
    "study_date",
    "series_date",
    "days_from_index",
    "modality",
    "body_part",
    "study_description",
    "series_description",
    "n_instances",
    "total_bytes",
    "criteria",
)
INSTANCE_COLUMNS: tuple[str, ...] = (
    "patient",
    "study_uid",
    "series_uid",
    "sop_uid",
    "index_date",
    "study_date",
    "series_date",
    "days_from_index",
    "modality",
    "body_part",
    "study_description",
    "series_description",
    "file_size",
    "burned_in_annotation",
    "criteria",
)

_INT32 = frozenset({"days_from_index", "n_instances", "files_written", "files_excluded"})
_INT64 = frozenset({"total_bytes", "file_size"})


def columns_for(level: ManifestLevel) -> tuple[str, ...]:
    """The columns of a manifest level, in output order."""
    if level not in ("series", "instance"):
        raise ValueError("level must be 'series' or 'instance'")
    return SERIES_COLUMNS if level == "series" else INSTANCE_COLUMNS


# --------------------------------------------------------------------------------------------------
# Reading: cohort × imaging, with what scrubbing needs
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True, repr=False, eq=False)
class ImagingRecord:
    """One imaging row as the mart holds it — identifying; never output as such.

    ``repr=False`` on purpose: a record in a traceback or a log line must not print names, dates,
    UIDs or paths.
    """

    person_id: int
    index_date: dt.date | None
    study_uid: str
    series_uid: str
    modality: str | None
    body_part: str | None
    study_date: dt.date | None
    series_date: dt.date | None
    study_description: str | None
    series_description: str | None
    n_instances: int | None
    total_bytes: int | None
    days_from_index: int | None
    criteria: tuple[tuple[str, dt.date | None], ...]
    identifiers: tuple[str, ...]
    """The patient's known identifying values (mart + index header values), for the scrubber."""
    sop_uid: str | None = None
    path: str | None = None
    file_size: int | None = None
    burned_in_annotation: str | None = None

    def __repr__(self) -> str:
        return "ImagingRecord(<identifying values hidden>)"


def _imaging_sql(compiled: CompiledCohort, request: ImagingRequest | None, level: ManifestLevel) -> str:
    """The cohort's imaging rows from the DICOM index (guard-validated ``dicom_index.select`` query)."""
    from cohort_engine.dicom_index.select import cohort_imaging_sql

    return cohort_imaging_sql(compiled, request, level=level)


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the mart has this table (``demo_identity`` and the DICOM index are optional)."""
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE lower(table_name) = ? AND "
        "table_schema = current_schema()",  # DuckDB's main, PostgreSQL's public (or the URL's schema)
        [name],
    ).fetchone()
    return bool(row and row[0])


def _criteria_labels(compiled: CompiledCohort) -> list[tuple[str, str | None]]:
    """(label, output date column or None) for every criterion, in spec order.

    Absence criteria ("exactly 0") have no date column but did qualify the patient, so they are
    listed too; their steps are named ``k1``, ``k2`` … by the compiler.
    """
    out: list[tuple[str, str | None]] = []
    for step in compiled.steps:
        if step.name.startswith("k") and step.name[1:].isdigit():
            out.append((step.description, compiled.event_columns.get(step.description)))
    return out


def _records_sql(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    request: ImagingRequest | None,
    level: ManifestLevel,
    header_paths: bool,
) -> tuple[str, list[tuple[str, str | None]]]:
    if compiled.dialect != "duckdb":
        raise ValueError("manifests run on the DuckDB mart: compile the cohort for dialect 'duckdb'")
    img = _imaging_sql(compiled, request, level)
    crits = _criteria_labels(compiled)
    crit_cols = [f"coh.{col}" if col else "CAST(NULL AS DATE)" for _, col in crits]
    inst = (
        "img.sop_instance_uid, img.path, img.file_size, img.burned_in_annotation"
        if level == "instance"
        else "NULL, NULL, NULL, NULL"
    )
    if has_table(con, "demo_identity"):
        identity = (
            "LEFT JOIN (SELECT person_id, list(family_name) AS fam, list(given_name) AS giv, "
            "list(name_hangul) AS han, list(address) AS addr, list(phone) AS phone "
            "FROM demo_identity GROUP BY person_id) AS d ON d.person_id = img.person_id"
        )
        id_cols = "d.fam, d.giv, d.han, d.addr, d.phone"
    else:
        identity, id_cols = "", "NULL, NULL, NULL, NULL, NULL"
    if has_table(con, "dicom_study"):
        study = "LEFT JOIN dicom_study AS st ON st.study_instance_uid = img.study_instance_uid"
        study_cols = "st.study_date, st.patient_id, st.accession_number"
    else:
        study, study_cols = "", "NULL, NULL, NULL"
    if header_paths and has_table(con, "dicom_instance"):
        # One file per series whose header tells the scrubber what the index does not hold (staff names).
        header = (
            "LEFT JOIN (SELECT series_instance_uid, min(path) AS path FROM dicom_instance GROUP BY 1) AS hp "
            "ON hp.series_instance_uid = img.series_instance_uid"
        )
        header_col = "hp.path"
    else:
        header, header_col = "", "NULL"
    order = (
        "md5(? || CAST(img.person_id AS VARCHAR)), img.person_id, img.study_instance_uid, "
        "img.series_instance_uid"
    )
    if level == "instance":
        order += ", img.sop_instance_uid, img.path"
    sql = f"""SELECT img.person_id, img.index_date, img.study_instance_uid, img.series_instance_uid,
       img.modality, img.body_part_examined, img.series_date, img.study_description, img.series_description,
       img.n_instances, img.total_bytes, img.days_from_index, {inst},
       p.person_source_value, p.year_of_birth, p.month_of_birth, p.day_of_birth, p.birth_datetime,
       {id_cols}, {study_cols}, {header_col}{"".join(", " + c for c in crit_cols)}
FROM ({img}) AS img
JOIN ({compiled.cohort_sql}) AS coh ON coh.person_id = img.person_id
JOIN person AS p ON p.person_id = img.person_id
{identity}
{study}
{header}
ORDER BY {order}"""
    return sql, crits


def _birth_date(y: Any, m: Any, d: Any, birth_dt: Any) -> str | None:
    """The full birth date when the mart has one; a year alone identifies nobody and is not denied."""
    if isinstance(birth_dt, dt.datetime | dt.date):
        return (birth_dt.date() if isinstance(birth_dt, dt.datetime) else birth_dt).isoformat()
    if y and m and d:
        try:
            return dt.date(int(y), int(m), int(d)).isoformat()
        except ValueError:
            return None
    return None


def _flat(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, list | tuple):
            out += _flat(v)
        elif str(v).strip():
            out.append(str(v).strip())
    return out


def _identifiers(
    fam: Any,
    giv: Any,
    han: Any,
    addr: Any,
    phone: Any,
    mrn: Any,
    birth: str | None,
    header_pid: Any,
    accession: Any,
) -> tuple[str, ...]:
    ids = _flat([fam, giv, han, addr, phone, mrn, birth, header_pid, accession])
    fams, givs = _flat([fam]), _flat([giv])
    ids += [f"{f}^{g}" for f in fams for g in givs]  # "Kim^Minsu": the scrubber expands name orders
    return tuple(sorted(set(ids)))


@functools.lru_cache(maxsize=4096)
def header_identifiers(path: str) -> tuple[str, ...]:
    """Identifying values in one file's header (patient and staff names, IDs, birth date, address,
    phone) — what the DICOM index does not keep but free text may repeat.  Empty when the file cannot
    be read (the manifest then relies on the mart's values and the patterns)."""
    from pydicom import dcmread

    from cohort_engine.deid.dicom_profile import identifiers_from_dataset, pydicom_quiet

    with pydicom_quiet():
        try:
            ds = dcmread(path, stop_before_pixels=True)
            return tuple(sorted(set(identifiers_from_dataset(ds))))
        except Exception:  # unreadable or gone: the message could quote a value or the path
            return ()


def imaging_records(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    request: ImagingRequest | None,
    policy: ReleasePolicy,
    level: ManifestLevel = "series",
    *,
    batch_size: int = 2000,
    order_salt: str | None = None,
    offset: int = 0,
    limit: int | None = None,
    read_headers: bool = True,
    timeout_s: float | None = None,
) -> Iterator[ImagingRecord]:
    """The cohort's imaging rows with everything a manifest or an export needs (identifying).

    Fetched ``batch_size`` rows at a time from one cursor.  ``order_salt`` keys the row order
    (default: derived from the policy's keyed pseudonym function, so the order is stable within a
    release and says nothing about person ids).  ``read_headers``: add the identifying values of one
    file header per series (:func:`header_identifiers`) to the record's identifiers — staff names
    typed into descriptions are found only that way (the export reads every file and passes False).
    ``timeout_s`` limits the query (``sql_guard.errors.QueryTimeout``); None: no limit.  DuckDB
    errors come as ``sql_guard.errors.QueryError`` with values scrubbed from the message.
    """
    columns_for(level)
    sql, crits = _records_sql(con, compiled, request, level, read_headers)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if offset:
        sql += f" OFFSET {int(offset)}"
    salt = order_salt if order_salt is not None else pseudonym(policy, "cohort-engine/manifest-order")
    cursor = execute_internal(con, sql, [salt], timeout_s=timeout_s)
    try:
        last_key: tuple[Any, ...] = ()
        last_ids: tuple[str, ...] = ()
        while batch := cursor.fetchmany(batch_size):
            for r in batch:
                (
                    pid,
                    index_date,
                    study_uid,
                    series_uid,
                    modality,
                    body_part,
                    series_date,
                    study_desc,
                    series_desc,
                    n_inst,
                    total_bytes,
                    days,
                    sop,
                    path,
                    size,
                    burned,
                    mrn,
                    y,
                    m,
                    d,
                    birth_dt,
                    fam,
                    giv,
                    han,
                    addr,
                    phone,
                    study_date,
                    header_pid,
                    accession,
                    header_path,
                    *events,
                ) = r
                key = (pid, header_pid, accession, header_path)
                if key != last_key:  # rows come grouped by person: compute identifiers once per series
                    birth = _birth_date(y, m, d, birth_dt)
                    last_ids = _identifiers(fam, giv, han, addr, phone, mrn, birth, header_pid, accession)
                    if header_path:
                        last_ids = tuple(sorted({*last_ids, *header_identifiers(str(header_path))}))
                    last_key = key
                yield ImagingRecord(
                    person_id=int(pid),
                    index_date=index_date,
                    study_uid=str(study_uid),
                    series_uid=str(series_uid),
                    modality=modality,
                    body_part=body_part,
                    study_date=study_date,
                    series_date=series_date,
                    study_description=study_desc,
                    series_description=series_desc,
                    n_instances=None if n_inst is None else int(n_inst),
                    total_bytes=None if total_bytes is None else int(total_bytes),
                    days_from_index=None if days is None else int(days),
                    criteria=tuple((label, ev) for (label, _), ev in zip(crits, events, strict=True)),
                    identifiers=last_ids,
                    sop_uid=None if sop is None else str(sop),
                    path=path,
                    file_size=None if size is None else int(size),
                    burned_in_annotation=burned,
                )
    finally:
        cursor.close()


def count_manifest_rows(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    request: ImagingRequest | None,
    level: ManifestLevel = "series",
    *,
    timeout_s: float | None = None,
) -> int:
    """How many rows :func:`iter_manifest_rows` yields (for progress bars, job totals, pages)."""
    columns_for(level)
    img = _imaging_sql(compiled, request, level)
    cursor = execute_internal(con, f"SELECT count(*) FROM ({img}) AS img", timeout_s=timeout_s)
    try:
        row = cursor.fetchone()
    finally:
        cursor.close()
    return int(row[0]) if row else 0


# --------------------------------------------------------------------------------------------------
# Rendering: record → release row
# --------------------------------------------------------------------------------------------------


def _date_out(policy: ReleasePolicy, key: str, d: Any) -> str | None:
    if d is None:
        return None
    if isinstance(d, str):
        try:
            d = dt.date.fromisoformat(d[:10])
        except ValueError:
            return None  # an unparseable date is dropped, never passed through
    return release_date(policy, key, d)


def _days(a: Any, b: Any) -> int | None:
    if isinstance(a, dt.datetime):
        a = a.date()
    if isinstance(b, dt.datetime):
        b = b.date()
    if isinstance(a, dt.date) and isinstance(b, dt.date):
        return (b - a).days
    return None


def _clean(text: Any, known: Sequence[str], policy: ReleasePolicy) -> str | None:
    if text is None:
        return None
    s = str(text).strip()
    return scrub_text(s, known, policy) if s else None


def manifest_row(
    rec: ImagingRecord,
    policy: ReleasePolicy,
    level: ManifestLevel = "series",
    extra_identifiers: Iterable[str] = (),
) -> dict[str, Any]:
    """The release row of one record (keys in :data:`SERIES_COLUMNS` / :data:`INSTANCE_COLUMNS` order).

    ``extra_identifiers``: more identifying values of this patient/study (e.g. read from the DICOM
    header by the export), added to the scrubber's deny list.
    """
    key = str(rec.person_id)
    known = rec.identifiers
    extra = tuple(extra_identifiers)
    if extra:
        known = tuple(sorted({*known, *extra}))
    days = rec.days_from_index
    if days is None:
        days = _days(rec.index_date, rec.series_date or rec.study_date)
    series_key = f"{key}/{rec.series_uid}"
    row: dict[str, Any] = {
        "patient": pseudonym(policy, key),
        "study_uid": remap_uid(policy, rec.study_uid),
        "series_uid": remap_uid(policy, rec.series_uid),
    }
    if level == "instance":
        row["sop_uid"] = remap_uid(policy, rec.sop_uid) if rec.sop_uid else None
    row.update(
        {
            "index_date": None if dates_pinned(policy) else _date_out(policy, key, rec.index_date),
            "study_date": _date_out(policy, key, rec.study_date),
            "series_date": _date_out(policy, key, rec.series_date),
            "days_from_index": jitter_days(policy, key, days),
            "modality": _clean(rec.modality, known, policy),
            "body_part": _clean(rec.body_part, known, policy),
            "study_description": _clean(rec.study_description, known, policy),
            "series_description": _clean(rec.series_description, known, policy),
        }
    )
    if level == "instance":
        row["file_size"] = jitter_count(policy, f"{series_key}/{rec.sop_uid}", rec.file_size)
        burned = (rec.burned_in_annotation or "").strip().upper()
        row["burned_in_annotation"] = burned if burned in ("YES", "NO") else None
    else:
        row["n_instances"] = jitter_count(policy, f"{series_key}/n", rec.n_instances)
        row["total_bytes"] = jitter_count(policy, f"{series_key}/bytes", rec.total_bytes)
    row["criteria"] = [
        {
            "label": _clean(label, known, policy),
            "days_from_index": jitter_days(policy, key, _days(rec.index_date, ev)),
        }
        for label, ev in rec.criteria
    ]
    return row


def iter_manifest_rows(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    request: ImagingRequest | None,
    policy: ReleasePolicy,
    level: ManifestLevel = "series",
    *,
    batch_size: int = 2000,
    order_salt: str | None = None,
    offset: int = 0,
    limit: int | None = None,
    read_headers: bool = True,
    timeout_s: float | None = None,
) -> Iterator[dict[str, Any]]:
    """Release rows of the cohort's imaging, one per series (or instance), streamed from DuckDB.

    The imaging query is capped at ``sql_guard.guard.HARD_MAX_ROWS`` rows (10 million); the export
    refuses larger cohorts, a caller paging through this function should compare with
    :func:`count_manifest_rows`.

    With ``read_headers`` (default) one file per series is opened (header only) so that the
    scrubber also knows the names and IDs the index does not hold; where the files are not reachable
    the mart's values and the patterns remain.
    """
    for rec in imaging_records(
        con,
        compiled,
        request,
        policy,
        level,
        batch_size=batch_size,
        order_salt=order_salt,
        offset=offset,
        limit=limit,
        read_headers=read_headers,
        timeout_s=timeout_s,
    ):
        yield manifest_row(rec, policy, level)


def _a_connection(value: Any) -> Any:
    """A mart connection by its shape, not its class: a PostgreSQL mart (sql_guard.pg_mart.PgMart)
    offers the DuckDB connection's ``execute`` and ``cursor`` without being one."""
    if isinstance(value, duckdb.DuckDBPyConnection) or (
        callable(getattr(value, "execute", None)) and callable(getattr(value, "cursor", None))
    ):
        return value
    raise ValueError("con must be an open mart connection (sql_guard.runner.open_mart)")


class ManifestRequest(BaseModel):
    """One cohort's manifest, as the REST API asks :class:`ImagingManifestSource` for it.

    Owned here, not by the API, because it says what the release stage needs (data flows deid → api,
    never back); the API builds one per request after its own checks (role, approval, imaging index).
    The connection and the compiled cohort are live objects, kept as given (not copied; the connection
    is checked by its shape only, see :func:`_a_connection`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    con: Annotated[duckdb.DuckDBPyConnection, PlainValidator(_a_connection)]
    compiled: CompiledCohort
    imaging: ImagingRequest | None = None
    policy: ReleasePolicy
    """Pass ``ReleasePolicy.for_cohort(spec)``: without the spec's index window the index date is
    withheld (dates treated as pinned, the safe side)."""
    order_salt: str | None = None
    """Keys the row order (rows come in an order that says nothing about internal person ids);
    None or empty: derived from the policy."""
    timeout_s: float | None = None
    """Limit of each manifest query; None: no limit."""


class ImagingManifestSource:
    """The REST API's manifest source: a level's ``columns``, ``count(req)`` and paged ``rows(req, …)``."""

    def __init__(self, level: ManifestLevel = "series") -> None:
        self.level: ManifestLevel = level
        self.columns: tuple[str, ...] = columns_for(level)

    def count(self, req: ManifestRequest) -> int:
        return count_manifest_rows(req.con, req.compiled, req.imaging, self.level, timeout_s=req.timeout_s)

    def rows(
        self, req: ManifestRequest, offset: int = 0, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        return iter_manifest_rows(
            req.con,
            req.compiled,
            req.imaging,
            req.policy,
            self.level,
            order_salt=req.order_salt or None,
            offset=offset,
            limit=limit,
            timeout_s=req.timeout_s,
        )


# --------------------------------------------------------------------------------------------------
# Writing: JSON Lines, JSON array, CSV, Parquet — incrementally
# --------------------------------------------------------------------------------------------------


def _parquet_schema(columns: Sequence[str]) -> Any:
    import pyarrow as pa

    criteria = pa.list_(pa.struct([("label", pa.string()), ("days_from_index", pa.int32())]))

    def typ(c: str) -> Any:
        if c in _INT32:
            return pa.int32()
        if c in _INT64:
            return pa.int64()
        if c == "criteria":
            return criteria
        return pa.string()

    return pa.schema([(c, typ(c)) for c in columns])


def _parquet_value(column: str, v: Any) -> Any:
    """Coerce to the column's Arrow type up front (Arrow's conversion errors quote the value)."""
    if v is None or column == "criteria":
        return v
    if column in _INT32 or column in _INT64:
        return int(v)
    return v.isoformat() if isinstance(v, dt.date) else str(v)


def _private_opener(path: str, flags: int) -> int:
    """Manifest files are created 0600: they describe patients, whatever the umask says."""
    return os.open(path, flags, 0o600)


def _json_default(v: Any) -> Any:
    if isinstance(v, dt.date):
        return v.isoformat()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")  # type name only, never the value


class ManifestWriter:
    """Writes release rows one at a time to a binary stream (or a file it opens and closes).

    CSV holds ``criteria`` as compact JSON text (CSV has no nested values); JSON and JSON Lines hold
    it as a list of objects; Parquet as ``list<struct<label, days_from_index>>``.  Parquet rows are
    buffered up to ``row_group_size`` and written as one row group each.
    """

    def __init__(
        self,
        out: IO[bytes] | io.RawIOBase | Path,
        format: ManifestFormat,
        columns: Sequence[str],
        *,
        row_group_size: int = 5000,
        text_buffer_bytes: int = 64 * 1024,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.format = format
        self.columns = tuple(columns)
        self.rows_written = 0
        self._owns = isinstance(out, str | Path)
        self._out: IO[bytes] | io.RawIOBase = (
            open(out, "wb", opener=_private_opener) if isinstance(out, str | Path) else out  # noqa: SIM115
        )
        self._row_group_size = row_group_size
        self._text_buffer_bytes = text_buffer_bytes
        self._buf: list[dict[str, Any]] = []
        self._text = io.StringIO()
        self._csv: Any = None
        self._pq: Any = None
        self._closed = False
        if format == "csv":
            self._csv = csv.writer(self._text, lineterminator="\n")
            self._csv.writerow(self.columns)
        elif format == "json":
            self._out.write(b"[")
        elif format == "parquet":
            import pyarrow.parquet as pq

            self._schema = _parquet_schema(self.columns)
            self._pq = pq.ParquetWriter(self._out, self._schema)

    def write(self, row: Mapping[str, Any]) -> None:
        cols = self.columns
        if self.format == "jsonl":
            line = json.dumps({c: row.get(c) for c in cols}, ensure_ascii=False, default=_json_default)
            self._out.write(line.encode("utf-8") + b"\n")
        elif self.format == "json":
            sep = b"\n" if self.rows_written == 0 else b",\n"
            obj = json.dumps({c: row.get(c) for c in cols}, ensure_ascii=False, default=_json_default)
            self._out.write(sep + obj.encode("utf-8"))
        elif self.format == "csv":
            self._csv.writerow([_csv_cell(row.get(c)) for c in cols])
            if self._text.tell() >= self._text_buffer_bytes:
                self._flush_text()
        else:
            self._buf.append({c: _parquet_value(c, row.get(c)) for c in cols})
            if len(self._buf) >= self._row_group_size:
                self._flush_parquet()
        self.rows_written += 1

    def write_all(self, rows: Iterable[Mapping[str, Any]]) -> int:
        for r in rows:
            self.write(r)
        return self.rows_written

    def _flush_text(self) -> None:
        data = self._text.getvalue()
        if data:
            self._out.write(data.encode("utf-8"))
            self._text.seek(0)
            self._text.truncate()

    def _flush_parquet(self) -> None:
        import pyarrow as pa

        if self._buf:
            self._pq.write_table(
                pa.Table.from_pylist(self._buf, schema=self._schema), row_group_size=len(self._buf)
            )
            self._buf.clear()

    def flush(self) -> None:
        """Push buffered CSV text (not Parquet: a row group is written only when full or at close)."""
        if self.format == "csv":
            self._flush_text()
        self._out.flush()

    def close(self) -> None:
        """Finish the format (closing bracket, Parquet footer); close the file if this writer opened it."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.format == "csv":
                self._flush_text()
            elif self.format == "json":
                self._out.write(b"\n]\n" if self.rows_written else b"]\n")
            elif self.format == "parquet":
                self._flush_parquet()
                self._pq.close()
            self._out.flush()
        finally:
            if self._owns:
                self._out.close()

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, list | dict):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    return v


def write_manifest(
    rows: Iterable[Mapping[str, Any]],
    out: IO[bytes] | Path,
    format: ManifestFormat,
    level: ManifestLevel = "series",
    *,
    columns: Sequence[str] | None = None,
    row_group_size: int = 5000,
) -> int:
    """Write release rows (from :func:`iter_manifest_rows`) to ``out``; returns the number of rows.

    ``out`` is a path (created, closed at the end) or a binary stream (left open).  ``columns``
    defaults to the level's columns; ``row_group_size`` is the Parquet row group (rows held in memory).
    """
    with ManifestWriter(out, format, columns or columns_for(level), row_group_size=row_group_size) as w:
        return w.write_all(rows)


class _ChunkSink(io.RawIOBase):
    """A write-only stream that hands what was written to a generator (no seeking needed)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._parts.append(data)
        self._size += len(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        return data


def manifest_chunks(
    rows: Iterable[Mapping[str, Any]],
    format: ManifestFormat,
    level: ManifestLevel = "series",
    *,
    columns: Sequence[str] | None = None,
    chunk_bytes: int = 64 * 1024,
    row_group_size: int = 5000,
) -> Iterator[bytes]:
    """The manifest as a stream of byte chunks (for an HTTP streaming response), same bytes as
    :func:`write_manifest`.  Parquet chunks come per row group and at the footer."""
    sink = _ChunkSink()
    writer = ManifestWriter(
        sink,
        format,
        columns or columns_for(level),
        row_group_size=row_group_size,
        text_buffer_bytes=chunk_bytes,
    )
    try:
        for r in rows:
            writer.write(r)
            if sink._size >= chunk_bytes:
                yield sink.take()
    finally:
        writer.close()
    tail = sink.take()
    if tail:
        yield tail
