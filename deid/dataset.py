"""A cohort's de-identified records as one dataset: a folder per release, described by a Data Package.

Layout (every name fixed here; nothing in a path comes from a person)::

    DIR/
      persons.parquet        one row per released person: pseudonym, sex, age band, index year/date
      conditions.parquet     one file per domain asked for (procedures, drugs, measurements,
      …                      observations, visits, death): deid.records rows, typed columns
      images.parquet         the image manifest (series level), where the mart has a DICOM index
      datapackage.json       Frictionless Data Package: every resource, column, type and description,
                             the primary key of persons and the foreign keys on ``patient``
      disclosure.json        the disclosure check (deid.kanon): counts per generalisation step
      README.txt             the cohort's read-back, the counts, the release policy (precision, k)

``--format csv`` writes ``.csv`` files instead of ``.parquet`` (UTF-8, header row, empty = null).

How a run goes, and why in this order:

1. the cohort's persons are read (``deid.records.cohort_persons``) and the disclosure check decides,
   for each, the step of generalisation or withholding (``deid.kanon.generalise``) — *before anything
   is written*, so a release never holds a row the check would have kept back;
2. everything is written inside ``DIR/.staging-*`` (0700; files 0600), domain by domain, each domain
   streamed as Arrow batches straight into its Parquet (or CSV) writer;
3. only a complete release is moved to its final names (``os.replace``); a failed or interrupted run
   removes the staging folder, so no half-written release ever sits under a final name.

Records and images carry the same pseudonym, shift and jitter (the policy's own functions), so
``records.patient = images.patient`` joins them, and ``days_from_index`` of both count from the same
index date with the same per-patient offset.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal

import duckdb
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from cohort_engine.deid.export import ExportError, check_out_dir, release_readme
from cohort_engine.deid.kanon import (
    DEFAULT_K,
    STEP_NAMES,
    DisclosureReport,
    generalise,
    released_values,
    sex_label,
)
from cohort_engine.deid.manifest import SERIES_COLUMNS, ManifestWriter, has_table, iter_manifest_rows
from cohort_engine.deid.policy import (
    ReleasePolicy,
    dates_pinned,
    period_granularity,
    pseudonym,
    release_date,
)
from cohort_engine.deid.records import (
    DOMAIN_NAMES,
    DOMAINS,
    DomainName,
    OutField,
    PersonRecord,
    RecordWindow,
    arrow_schema,
    cohort_persons,
    count_records,
    date_type,
    fields,
    persons_arrow,
    record_batches,
    records_sql,
    release_period_days,
    shifted_index_year,
)
from cohort_engine.spec import ImagingRequest
from cohort_engine.sql_guard.compiler import CompiledCohort

__all__ = [
    "DatasetFormat",
    "ExtractError",
    "ExtractOptions",
    "ExtractProgress",
    "ExtractSummary",
    "IMAGE_FIELDS",
    "person_fields",
    "extract_dataset",
]

DatasetFormat = Literal["parquet", "csv"]
_MEDIATYPES = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv"}


class ExtractError(Exception):
    """The extraction cannot run (output folder not empty, …).  Messages never hold identifying values."""


class ExtractOptions(BaseModel):
    """What to extract and how strictly to check it (the keys and dates come from the ReleasePolicy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domains: tuple[DomainName, ...] = DOMAIN_NAMES
    window: RecordWindow = Field(default_factory=RecordWindow)
    format: DatasetFormat = "parquet"
    k: int = Field(default=DEFAULT_K, ge=2, le=1000)
    """Smallest class of (sex, age band, index year) released; smaller ones are generalised or withheld."""
    age_band_years: int = Field(default=5, ge=1, le=50)
    images: bool = True
    """Add the image manifest (series level) where the mart has a DICOM index."""
    batch_size: int = Field(default=10_000, ge=100, le=1_000_000)
    """Rows per Arrow batch (and Parquet row group at most)."""
    persons_per_query: int = Field(default=2_000, ge=1, le=1_000_000)
    """Persons per domain query: bounds the rows DuckDB sorts at once, so memory stays flat."""


class ExtractProgress(BaseModel):
    """Counts only: safe to show in a progress bar."""

    step: str
    done: int
    total: int | None


class ExtractSummary(BaseModel):
    """What an extraction wrote: counts and output names only — no secret, no original value."""

    project_key: str
    format: DatasetFormat
    window: str
    domains: list[str]
    missing_domains: list[str] = Field(default_factory=list)
    """Domains asked for whose table the mart does not have (no file written)."""
    persons: int
    """Persons released (the cohort less those withheld)."""
    rows: dict[str, int]
    image_series: int | None
    """Rows of the image manifest; None when the mart has no DICOM index (or images were not asked for)."""
    outputs: list[str]
    disclosure: DisclosureReport
    elapsed_s: float


# --------------------------------------------------------------------------------------------------
# Resources other than the domains: persons and the image manifest
# --------------------------------------------------------------------------------------------------


def person_fields(policy: ReleasePolicy) -> tuple[OutField, ...]:
    """Columns of ``persons``."""
    return (
        OutField("patient", "string", "Keyed pseudonym of the patient (primary key; joins every resource)."),
        OutField("sex", "string", "F, M or unknown (person.gender_concept_id)."),
        OutField(
            "age_band",
            "string",
            "Age at index (year of the index date − year of birth) as a band, e.g. 60-64; ages above the "
            "top code as 90+; widened (e.g. 60-69) where the disclosure check needed it.",
        ),
        OutField(
            "index_year",
            "integer",
            "Year of the shifted index date; empty where the disclosure check removed it.",
        ),
        OutField(
            "index_date",
            date_type(policy),
            "Index date shifted per patient, shown as the period of the stated precision; empty where the "
            "cohort's own index window is narrower than the precision, or the index year was removed.",
        ),
        OutField(
            "generalisation",
            "string",
            "What the disclosure check did to this person's quasi-identifiers: "
            + ", ".join(STEP_NAMES)
            + ".",
        ),
    )


#: The image manifest's columns (deid.manifest, series level) as Table Schema fields.
IMAGE_FIELDS: tuple[OutField, ...] = (
    OutField("patient", "string", "Keyed pseudonym of the patient (as in persons and every domain)."),
    OutField("study_uid", "string", "StudyInstanceUID remapped under 2.25 (keyed; as in the DICOM copies)."),
    OutField("series_uid", "string", "SeriesInstanceUID remapped under 2.25 (keyed)."),
    OutField("index_date", "string", "Shifted index date as a period; empty where withheld."),
    OutField("study_date", "string", "Shifted study date as a period of the stated precision."),
    OutField("series_date", "string", "Shifted series date as a period of the stated precision."),
    OutField("days_from_index", "integer", "Days from index to the series, plus the per-patient offset."),
    OutField("modality", "string", "DICOM Modality (CT, MR, XA …), scrubbed."),
    OutField("body_part", "string", "DICOM BodyPartExamined, scrubbed."),
    OutField("study_description", "string", "Study description, scrubbed of identifiers."),
    OutField("series_description", "string", "Series description, scrubbed of identifiers."),
    OutField("n_instances", "integer", "Instances in the series, with about ±15 % keyed jitter."),
    OutField("total_bytes", "integer", "Bytes of the series, with about ±15 % keyed jitter."),
    OutField("criteria", "array", "Criteria that qualified the patient: label and days from index."),
)


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def _private_opener(path: str, flags: int) -> int:
    """Files are created 0600: they describe patients, whatever the umask says."""
    return os.open(path, flags, 0o600)


class _TableWriter:
    """Arrow batches → one Parquet file (a row group per batch) or one CSV file, created 0600."""

    def __init__(self, path: Path, format: DatasetFormat, schema: pa.Schema) -> None:
        self.format = format
        self.schema = schema
        self.rows = 0
        self._file: IO[bytes] = open(path, "wb", opener=_private_opener)  # noqa: SIM115
        self._writer: Any
        if format == "parquet":
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(self._file, schema)
        else:
            import pyarrow.csv as pcsv

            self._writer = pcsv.CSVWriter(self._file, schema)

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        table = table.cast(self.schema)  # the SQL already casts each column: a no-op that checks it
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        try:
            self._writer.close()
        finally:
            self._file.close()


def _write_private_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", opener=_private_opener) as f:
        f.write(text)


def _field_json(f: OutField) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "type": f.type, "description": f.description}
    if f.type == "date":
        out["format"] = "default"
    return out


def _resource(name: str, fmt: DatasetFormat, out: Sequence[OutField], title: str, *, primary: bool) -> dict:
    path = f"{name}.{fmt}"
    schema: dict[str, Any] = {"fields": [_field_json(f) for f in out]}
    if primary:
        schema["primaryKey"] = ["patient"]
    else:
        schema["foreignKeys"] = [
            {"fields": ["patient"], "reference": {"resource": "persons", "fields": ["patient"]}}
        ]
    res: dict[str, Any] = {
        "name": name,
        "path": path,
        "profile": "tabular-data-resource",
        "title": title,
        "format": fmt,
        "mediatype": _MEDIATYPES[fmt],
        "schema": schema,
    }
    if fmt == "csv":
        res["encoding"] = "utf-8"
    return res


def _package_name(project_key: str) -> str:
    """A Data Package name (lower-case letters, digits, ``-._``): the project key, lower-cased."""
    return project_key.lower()


# --------------------------------------------------------------------------------------------------
# The extraction
# --------------------------------------------------------------------------------------------------


def _persons_rows(
    policy: ReleasePolicy, persons: Sequence[PersonRecord], steps: Sequence[int | None], band_years: int
) -> Iterator[dict[str, Any]]:
    pinned = dates_pinned(policy)
    full = date_type(policy) == "date"
    for p, step in zip(persons, steps, strict=True):
        if step is None:
            continue
        key = str(p.person_id)
        qi = (sex_label(p.gender_concept_id), p.age, shifted_index_year(policy, p))
        sex, band, year = released_values(qi, step, band_years, policy.age_top_code)
        index_date: Any = None
        if not pinned and step < 2:
            period = release_date(policy, key, p.index_date)
            index_date = dt.date.fromisoformat(period) if full and period else period
        yield {
            "patient": pseudonym(policy, key),
            "sex": sex,
            "age_band": band,
            "index_year": year,
            "index_date": index_date,
            "generalisation": STEP_NAMES[step],
        }


def _image_rows(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    request: ImagingRequest | None,
    policy: ReleasePolicy,
    step_of: Mapping[str, int],
    batch_size: int,
) -> Iterator[dict[str, Any]]:
    """The image manifest's series rows of the released persons; absolute dates emptied where the
    disclosure check removed the person's index year (as their records' dates are)."""
    for row in iter_manifest_rows(con, compiled, request, policy, "series", batch_size=batch_size):
        step = step_of.get(row["patient"])
        if step is None:
            continue  # withheld: none of their rows leaves
        if step >= 2:
            row["index_date"] = row["study_date"] = row["series_date"] = None
        yield row


def extract_dataset(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    policy: ReleasePolicy,
    out_dir: Path,
    options: ExtractOptions | None = None,
    *,
    imaging: ImagingRequest | None = None,
    readback: str | None = None,
    progress: Callable[[ExtractProgress], None] | None = None,
) -> ExtractSummary:
    """Write the cohort's de-identified records (and image manifest) as one dataset under ``out_dir``.

    ``policy`` should be :meth:`ReleasePolicy.for_cohort` of the cohort's spec (else the index window
    is unknown and index dates are withheld).  ``readback``: the cohort in words, for README.txt (the
    pipeline's read-back; this stage does not parse or render specs).  ``out_dir`` must not exist or be
    empty.  See the module docstring for what is written and in which order.
    """
    t0 = time.perf_counter()
    opts = options or ExtractOptions()
    if compiled.dialect != "duckdb":
        raise ExtractError("records are read from the DuckDB mart: compile the cohort for dialect 'duckdb'")
    out_dir = Path(out_dir)
    try:
        check_out_dir(out_dir)
    except ExportError as e:
        raise ExtractError(str(e)) from None

    def report(step: str, done: int, total: int | None) -> None:
        if progress is not None:
            progress(ExtractProgress(step=step, done=done, total=total))

    # 1. persons and the disclosure check, before anything is written
    report("reading persons", 0, None)
    persons = list(cohort_persons(con, compiled, batch_size=opts.batch_size))
    # in pseudonym order (a keyed hash), as every resource: the cohort's order follows person ids
    persons.sort(key=lambda p: pseudonym(policy, str(p.person_id)))
    qis = [(sex_label(p.gender_concept_id), p.age, shifted_index_year(policy, p)) for p in persons]
    steps, disclosure = generalise(qis, opts.k, band_years=opts.age_band_years, top=policy.age_top_code)
    released = [p for p, s in zip(persons, steps, strict=True) if s is not None]
    released_steps = [s for s in steps if s is not None]
    px = persons_arrow(policy, released, [s is not None and s < 2 for s in released_steps])
    px = px.sort_by("patient")
    step_of = {pseudonym(policy, str(p.person_id)): s for p, s in zip(released, released_steps, strict=True)}
    report("reading persons", len(persons), len(persons))

    present = [d for d in opts.domains if has_table(con, DOMAINS[d].table)]
    missing = [d for d in opts.domains if d not in present]
    korean = has_table(con, "concept_synonym")
    with_images = opts.images and all(
        has_table(con, t) for t in ("image_occurrence", "dicom_series", "dicom_study")
    )

    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))  # 0700
    fmt = opts.format
    outputs: list[str] = []
    resources: list[dict[str, Any]] = []
    rows: dict[str, int] = {}
    image_series: int | None = None
    try:
        # 2. persons
        pf = person_fields(policy)
        name = f"persons.{fmt}"
        w = _TableWriter(staging / name, fmt, arrow_schema(pf))
        try:
            chunk: list[dict[str, Any]] = []
            for r in _persons_rows(policy, persons, steps, opts.age_band_years):
                chunk.append(r)
                if len(chunk) >= opts.batch_size:
                    w.write(pa.Table.from_pylist(chunk, schema=arrow_schema(pf)))
                    chunk.clear()
            if chunk or w.rows == 0:
                w.write(pa.Table.from_pylist(chunk, schema=arrow_schema(pf)))
        finally:
            w.close()
        outputs.append(name)
        resources.append(_resource("persons", fmt, pf, "Persons of the cohort (one row each)", primary=True))

        # 3. one resource per domain, streamed
        for d in present:
            domain = DOMAINS[d]
            out = fields(domain, policy)
            schema = arrow_schema(out)
            total = count_records(con, domain, opts.window, px)
            report(d, 0, total)
            name = f"{d}.{fmt}"
            w = _TableWriter(staging / name, fmt, schema)
            try:
                sql = records_sql(domain, policy, opts.window, korean=korean)
                # persons in pseudonym order, a slice per query: each query sorts only its slice's rows
                # (DuckDB's ORDER BY holds its whole input), and the slices concatenate in order
                for lo in range(0, max(px.num_rows, 1), opts.persons_per_query):
                    part = px.slice(lo, opts.persons_per_query)
                    for batch in record_batches(con, sql, part, batch_size=opts.batch_size):
                        w.write(batch)
                        report(d, w.rows, total)
                if w.rows == 0:
                    w.write(schema.empty_table())
            finally:
                w.close()
            rows[d] = w.rows
            outputs.append(name)
            resources.append(_resource(d, fmt, out, domain.title, primary=False))

        # 4. the image manifest
        if with_images:
            report("images", 0, None)
            name = f"images.{fmt}"
            with ManifestWriter(staging / name, fmt, SERIES_COLUMNS) as mw:
                for r in _image_rows(con, compiled, imaging, policy, step_of, opts.batch_size):
                    mw.write(r)
                    if mw.rows_written % 500 == 0:
                        report("images", mw.rows_written, None)
                image_series = mw.rows_written
            report("images", image_series, image_series)
            outputs.append(name)
            resources.append(
                _resource(
                    "images", fmt, IMAGE_FIELDS, "Image manifest: one row per DICOM series", primary=False
                )
            )

        summary = ExtractSummary(
            project_key=policy.project_key,
            format=fmt,
            window=opts.window.label(),
            domains=[str(d) for d in present],
            missing_domains=[str(d) for d in missing],
            persons=disclosure.released,
            rows=rows,
            image_series=image_series,
            outputs=[*outputs, "datapackage.json", "disclosure.json", "README.txt"],
            disclosure=disclosure,
            elapsed_s=0.0,
        )
        created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        package = {
            "profile": "tabular-data-package",
            "name": _package_name(policy.project_key),
            "title": f"De-identified records of cohort release {policy.project_key}",
            "description": _package_description(policy, opts),
            "created": created,
            "resources": resources,
        }
        _write_private_text(
            staging / "datapackage.json", json.dumps(package, indent=2, ensure_ascii=False) + "\n"
        )
        disclosure_record = {
            **disclosure.model_dump(),
            "project_key": policy.project_key,
            "created_utc": created,
        }
        _write_private_text(
            staging / "disclosure.json", json.dumps(disclosure_record, indent=2, ensure_ascii=False) + "\n"
        )
        _write_private_text(staging / "README.txt", dataset_readme(policy, opts, summary, readback))

        # 5. into place
        for entry in summary.outputs:
            os.replace(staging / entry, out_dir / entry)
        summary.elapsed_s = round(time.perf_counter() - t0, 3)
        return summary
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after success it holds nothing; after a failure, all


def _package_description(policy: ReleasePolicy, opts: ExtractOptions) -> str:
    return (
        f"Records of the cohort's persons, {opts.window.describe()}; dates shifted per patient and shown "
        f"with a precision of {policy.date_precision_days} days; every combination of sex, age band and "
        f"index year shared by at least {opts.k} persons. Resources join on 'patient'."
    )


def dataset_readme(
    policy: ReleasePolicy, opts: ExtractOptions, summary: ExtractSummary, readback: str | None
) -> str:
    """The release's README: the cohort in words, the counts, what the release promises."""
    p = policy.date_precision_days
    period = period_granularity(release_period_days(policy))
    shown = "as the shifted day" if period == "full" else f"as a {period} period of the shifted date"
    if dates_pinned(policy):
        index = (
            "withheld: the cohort's own index window is narrower than the precision, so the shifted index "
            "date would give back each patient's shift"
        )
    else:
        index = f"shifted per patient, shown {shown}"
    approved = (
        " (finer than the default: approved by the reviewers)" if policy.finer_precision_approved else ""
    )
    fmt = summary.format
    lines = [f"De-identified record release {policy.project_key}", ""]
    if readback:
        lines += ["Cohort (as the engine read the question back):"]
        lines += [f"  {line}" for line in readback.strip().splitlines()]
        lines += [""]
    lines += [f"Contents ({fmt}; Frictionless Data Package in datapackage.json):"]
    lines += [f"  {'persons.' + fmt:<21}{summary.persons:>10,} persons"]
    for d in summary.domains:
        lines += [f"  {d + '.' + fmt:<21}{summary.rows[d]:>10,} rows"]
    if summary.image_series is not None:
        lines += [
            f"  {'images.' + fmt:<21}{summary.image_series:>10,} image series of the released persons "
            "(the images the question asked for, else all indexed ones; joins on 'patient')"
        ]
    if summary.missing_domains:
        lines += [f"  not in this mart (no file): {', '.join(summary.missing_domains)}"]
    lines += [
        "",
        f"Window: {opts.window.describe()}.",
        "",
        "Release policy:",
        f"  Stated date precision: {p} days{approved}. No value in this release pins a real date more "
        "finely.",
        f"  - date (records): shifted per patient, shown {shown}.",
        f"  - index_date (persons): {index}.",
        f"  - days_from_index, end_days_from_index: exact intervals plus one unknown per-patient offset "
        f"spread over {p} days.",
        f"  - ages: bands of {opts.age_band_years} years at the index date, above {policy.age_top_code} as "
        f"{policy.age_top_code + 1}+; no birth dates.",
        f"  - k = {opts.k} (disclosure check below).",
        "",
        "Disclosure check (before anything was written):",
        *[f"  {line}" for line in summary.disclosure.lines()],
        "",
        "Not in this release: person ids, names, MRNs, source values (local codes and text), provider, care "
        "site and visit keys, free text (notes, free-text values, stop reasons, directions), real dates, "
        "birth dates.",
        "Pseudonyms, shifts and offsets are keyed to this release and differ in any other release.",
    ]
    text = "\n".join(lines) + "\n"
    if summary.image_series is not None:
        text += "\n" + release_readme(policy)
    return text
