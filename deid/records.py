"""De-identified clinical records of a cohort: its persons' events around each index date, streamed.

What a record row holds (and why each value is safe to release)
---------------------------------------------------------------
* ``patient`` — :func:`deid.policy.pseudonym` of ``str(person_id)``, exactly as the image manifest
  and the de-identified DICOM files carry it, so records and images join on it;
* ``date`` — the event's date shifted by the patient's keyed offset (:func:`deid.policy.date_shift_days`)
  and shown as the period of the release's stated precision, exactly as :func:`deid.policy.release_date`
  shows a manifest's study date (the period is computed in SQL; ``tests/test_extract.py`` checks it
  against ``release_date`` row by row).  A typed ``date`` only where the precision is one day; else a
  ``YYYY-MM`` / ``YYYY-Qn`` / ``YYYY`` string.  Null for patients whose index year the disclosure
  check removed (``deid.kanon``): a period would give the year back;
* ``days_from_index`` (and ``end_days_from_index``) — real day differences plus the patient's keyed
  jitter (:func:`deid.policy.jitter_days`, the same one the manifest adds), so intervals between a
  patient's own events are exact and the offset from the index is known only to the precision;
* concept id, vocabulary, code and names (English ``concept.concept_name``, Korean from
  ``concept_synonym`` where the mart has one) and the safe numeric columns of the catalogue
  (values, units as their UCUM concept code, reference ranges, quantities).

Never in a row: person_id, any ``*_source_value`` (a hospital's local codes and text), provider,
care site and visit keys, free text (``note``, ``value_as_string``, ``stop_reason``, ``sig``), lot
numbers, real dates, birth dates.  The SQL below names every output column; nothing is ``SELECT *``.

Streaming
---------
The cohort's persons are read once (:func:`cohort_persons`, ``fetchmany`` on one cursor) and their
keyed values (pseudonym, shift, jitter) computed in Python by the policy's own functions; that small
per-person table is registered with DuckDB as an Arrow table, and each domain is then one SQL query
whose result comes back as Arrow record batches (:func:`record_batches`, DuckDB's relational reader,
which does not materialise the result).  Memory: the per-person table (tens of bytes per person) plus
one batch, whatever the number of events.

Rows are ordered by pseudonym (a keyed hash: the order says nothing about person ids or registration
order), then days from index, concept, and the event's own key (never output).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cohort_engine.deid.policy import (
    ReleasePolicy,
    date_shift_days,
    jitter_days,
    period_granularity,
    pseudonym,
    release_date,
)
from cohort_engine.schema_catalog.tables import TABLES_BY_NAME
from cohort_engine.sql_guard.compiler import CompiledCohort
from cohort_engine.sql_guard.errors import QueryError, describe_db_error
from cohort_engine.sql_guard.runner import execute_internal

__all__ = [
    "DOMAINS",
    "DOMAIN_NAMES",
    "DomainName",
    "FieldType",
    "KOREAN_LANGUAGE_CONCEPT_ID",
    "OutField",
    "PersonRecord",
    "RecordDomain",
    "RecordWindow",
    "arrow_schema",
    "cohort_persons",
    "count_records",
    "date_type",
    "parse_domains",
    "parse_window",
    "persons_arrow",
    "record_batches",
    "records_sql",
    "release_period_days",
]

DomainName = Literal["conditions", "procedures", "drugs", "measurements", "observations", "visits", "death"]
#: Frictionless Table Schema field types used here.
FieldType = Literal["string", "integer", "number", "date", "boolean", "array"]
#: ``concept_synonym.language_concept_id`` of Korean (OMOP).
KOREAN_LANGUAGE_CONCEPT_ID = 4175771
#: Name of the per-person Arrow table registered on the query cursor (never a mart table's name).
PERSONS_VIEW = "_extract_persons"

_SQL_TYPE: dict[str, str] = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "array": "JSON",
}


@dataclass(frozen=True)
class OutField:
    """One output column: its name, Table Schema type, description, and the SQL that computes it."""

    name: str
    type: FieldType
    description: str
    sql: str = ""


@dataclass(frozen=True)
class RecordDomain:
    """One OMOP event table as a release resource (the columns are fixed here, never the table's all)."""

    name: DomainName
    table: str
    key: str | None
    """The event's own key: orders rows with the same day and concept; never output."""
    concept: str
    start: str
    end: str | None
    extras: tuple[OutField, ...] = ()

    @property
    def title(self) -> str:
        return TABLES_BY_NAME[self.table].description

    def catalogue(self, column: str) -> str:
        """The catalogue's description of a column of this table (``schema_catalog.tables``)."""
        return TABLES_BY_NAME[self.table].column(column).description


def _cat(table: str, column: str) -> str:
    return TABLES_BY_NAME[table].column(column).description


def _value_fields(table: str) -> tuple[OutField, ...]:
    """Result value and unit columns shared by measurement and observation."""
    return (
        OutField("value_as_number", "number", _cat(table, "value_as_number"), "e.value_as_number"),
        OutField(
            "value_as_concept_id", "integer", _cat(table, "value_as_concept_id"), "e.value_as_concept_id"
        ),
        OutField(
            "value_concept_name",
            "string",
            "English name of value_as_concept_id (vocabulary).",
            "vc.concept_name",
        ),
        OutField("unit_concept_id", "integer", _cat(table, "unit_concept_id"), "e.unit_concept_id"),
        OutField(
            "unit_code",
            "string",
            "Unit as its vocabulary code (UCUM, e.g. mg/dL) from unit_concept_id; never the source text.",
            "uc.concept_code",
        ),
    )


DOMAINS: dict[str, RecordDomain] = {
    d.name: d
    for d in (
        RecordDomain(
            "conditions",
            "condition_occurrence",
            "condition_occurrence_id",
            "condition_concept_id",
            "condition_start_date",
            "condition_end_date",
            (
                OutField(
                    "condition_status_concept_id",
                    "integer",
                    _cat("condition_occurrence", "condition_status_concept_id"),
                    "e.condition_status_concept_id",
                ),
            ),
        ),
        RecordDomain(
            "procedures",
            "procedure_occurrence",
            "procedure_occurrence_id",
            "procedure_concept_id",
            "procedure_date",
            None,
            (OutField("quantity", "integer", _cat("procedure_occurrence", "quantity"), "e.quantity"),),
        ),
        RecordDomain(
            "drugs",
            "drug_exposure",
            "drug_exposure_id",
            "drug_concept_id",
            "drug_exposure_start_date",
            "drug_exposure_end_date",
            (
                OutField("quantity", "number", _cat("drug_exposure", "quantity"), "e.quantity"),
                OutField("days_supply", "integer", _cat("drug_exposure", "days_supply"), "e.days_supply"),
                OutField("refills", "integer", _cat("drug_exposure", "refills"), "e.refills"),
                OutField(
                    "route_concept_id",
                    "integer",
                    _cat("drug_exposure", "route_concept_id"),
                    "e.route_concept_id",
                ),
            ),
        ),
        RecordDomain(
            "measurements",
            "measurement",
            "measurement_id",
            "measurement_concept_id",
            "measurement_date",
            None,
            (
                *_value_fields("measurement"),
                OutField("range_low", "number", _cat("measurement", "range_low"), "e.range_low"),
                OutField("range_high", "number", _cat("measurement", "range_high"), "e.range_high"),
                OutField(
                    "operator_concept_id",
                    "integer",
                    _cat("measurement", "operator_concept_id"),
                    "e.operator_concept_id",
                ),
            ),
        ),
        RecordDomain(
            "observations",
            "observation",
            "observation_id",
            "observation_concept_id",
            "observation_date",
            None,
            _value_fields("observation"),
        ),
        RecordDomain(
            "visits",
            "visit_occurrence",
            "visit_occurrence_id",
            "visit_concept_id",
            "visit_start_date",
            "visit_end_date",
        ),
        RecordDomain("death", "death", None, "cause_concept_id", "death_date", None),
    )
}
DOMAIN_NAMES: tuple[DomainName, ...] = tuple(DOMAINS)  # type: ignore[arg-type]


class RecordWindow(BaseModel):
    """Days relative to each person's index date, inclusive at both ends; None = unbounded (``all``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: int | None = Field(default=-365, ge=-36_500, le=36_500)
    end: int | None = Field(default=365, ge=-36_500, le=36_500)

    @model_validator(mode="after")
    def _ordered(self) -> RecordWindow:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError("the window's start must not be after its end")
        return self

    def label(self) -> str:
        if self.start is None and self.end is None:
            return "all"
        lo = "" if self.start is None else str(self.start)
        hi = "" if self.end is None else str(self.end)
        return f"{lo}:{hi}"

    def describe(self) -> str:
        if self.start is None and self.end is None:
            return "every event of the persons, whatever its date"
        lo = "any time" if self.start is None else f"{self.start:+d} days"
        hi = "any time" if self.end is None else f"{self.end:+d} days"
        return f"events from {lo} to {hi} relative to each person's index date (inclusive)"


_WINDOW_RE = re.compile(r"^\s*([+-]?\d{1,5})?\s*:\s*([+-]?\d{1,5})?\s*$")


def parse_window(text: str) -> RecordWindow:
    """``"-365:365"`` (either end may be left open: ``"0:"``), or ``"all"``; ValueError says how."""
    t = text.strip().lower()
    if t == "all":
        return RecordWindow(start=None, end=None)
    m = _WINDOW_RE.match(t)
    if not m or (m.group(1) is None and m.group(2) is None):
        raise ValueError(
            "the window must be START:END in days relative to the index date (e.g. -365:365, 0:90, -30:) "
            "or 'all'"
        )
    lo = None if m.group(1) is None else int(m.group(1))
    hi = None if m.group(2) is None else int(m.group(2))
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"the window's start ({lo}) is after its end ({hi})")
    if any(v is not None and abs(v) > 36_500 for v in (lo, hi)):
        raise ValueError("window ends must lie within ±36500 days (100 years); use 'all' for everything")
    return RecordWindow(start=lo, end=hi)


def parse_domains(text: str | Sequence[str]) -> tuple[DomainName, ...]:
    """Comma-separated (or listed) domain names, in the canonical order; ValueError names the bad one."""
    items = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    names = [i.strip().lower() for i in items if i.strip()]
    if not names:
        raise ValueError(f"no domain given; choose from {', '.join(DOMAIN_NAMES)}")
    bad = [n for n in names if n not in DOMAINS]
    if bad:
        shown = bad[0] if len(bad[0]) <= 40 else bad[0][:40] + "…"
        raise ValueError(f"unknown domain {shown!r}; choose from {', '.join(DOMAIN_NAMES)}")
    return tuple(d for d in DOMAIN_NAMES if d in names)


# --------------------------------------------------------------------------------------------------
# Dates: the release's period, as SQL
# --------------------------------------------------------------------------------------------------


def release_period_days(policy: ReleasePolicy) -> int:
    """The precision :func:`deid.policy.release_date` rounds to: the policy's, coarsened by its
    ``date_granularity`` (month → at least 28 days, year → at least 365)."""
    precision = policy.date_precision_days
    if policy.date_granularity == "month":
        precision = max(precision, 28)
    elif policy.date_granularity == "year":
        precision = max(precision, 365)
    return precision


def date_type(policy: ReleasePolicy) -> FieldType:
    """``date`` where released dates are whole days, else ``string`` (periods such as ``2023-Q2``)."""
    return "date" if period_granularity(release_period_days(policy)) == "full" else "string"


def _period_sql(policy: ReleasePolicy, d: str) -> str:
    """SQL for :func:`deid.policy.date_period` of the (already shifted) DATE expression ``d``."""
    g = period_granularity(release_period_days(policy))
    if g == "full":
        return f"CAST({d} AS DATE)"
    if g == "month":
        return f"strftime({d}, '%Y-%m')"
    if g == "quarter":
        return f"(strftime({d}, '%Y') || '-Q' || CAST(quarter({d}) AS VARCHAR))"
    if g == "year":
        return f"strftime({d}, '%Y')"
    return "CAST(NULL AS VARCHAR)"


# --------------------------------------------------------------------------------------------------
# Persons
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True, repr=False, eq=False)
class PersonRecord:
    """One cohort person as the mart holds them (identifying: person_id, real index date); never output.

    ``repr=False``: a record in a traceback or log line must not print ids or dates.
    """

    person_id: int
    index_date: dt.date
    gender_concept_id: int | None
    year_of_birth: int | None

    def __repr__(self) -> str:
        return "PersonRecord(<identifying values hidden>)"

    @property
    def age(self) -> int | None:
        """Age at index as the engine defines it everywhere: year(index date) − year_of_birth."""
        if self.year_of_birth is None:
            return None
        return self.index_date.year - int(self.year_of_birth)


def cohort_persons(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    *,
    batch_size: int = 10_000,
    timeout_s: float | None = None,
) -> Iterator[PersonRecord]:
    """The cohort's persons (one row each, the cohort's earliest qualifying index date), streamed."""
    if compiled.dialect != "duckdb":
        raise ValueError("records are read from the DuckDB mart: compile the cohort for dialect 'duckdb'")
    sql = (
        "SELECT coh.person_id, coh.index_date, p.gender_concept_id, p.year_of_birth "
        f"FROM ({compiled.cohort_sql}) AS coh JOIN person AS p ON p.person_id = coh.person_id"
    )
    cursor = execute_internal(con, sql, timeout_s=timeout_s)
    try:
        while batch := cursor.fetchmany(batch_size):
            for pid, index_date, gender, yob in batch:
                if isinstance(index_date, dt.datetime):
                    index_date = index_date.date()
                yield PersonRecord(
                    person_id=int(pid),
                    index_date=index_date,
                    gender_concept_id=None if gender is None else int(gender),
                    year_of_birth=None if yob is None else int(yob),
                )
    finally:
        cursor.close()


def persons_arrow(
    policy: ReleasePolicy, persons: Sequence[PersonRecord], dates_ok: Sequence[bool]
) -> pa.Table:
    """The per-person table the record queries join (internal; registered on a cursor, never written).

    Each keyed value comes from the policy's own function, so records carry exactly the pseudonym,
    shift and jitter of the image manifest: ``shift`` = :func:`date_shift_days`, ``jitter`` =
    :func:`jitter_days` of a zero offset (the jitter is one constant per patient and release).
    """
    keys = [str(p.person_id) for p in persons]
    return pa.table(
        {
            "person_id": pa.array([p.person_id for p in persons], pa.int64()),
            "patient": pa.array([pseudonym(policy, k) for k in keys], pa.string()),
            "index_date": pa.array([p.index_date for p in persons], pa.date32()),
            "shift": pa.array([date_shift_days(policy, k) for k in keys], pa.int32()),
            "jitter": pa.array([jitter_days(policy, k, 0) or 0 for k in keys], pa.int32()),
            "dates_ok": pa.array(list(dates_ok), pa.bool_()),
        }
    )


def shifted_index_year(policy: ReleasePolicy, person: PersonRecord) -> int | None:
    """The year of the released (shifted) index date, or None where the precision hides years."""
    period = release_date(policy, str(person.person_id), person.index_date)
    return int(period[:4]) if period else None


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


def fields(domain: RecordDomain, policy: ReleasePolicy) -> tuple[OutField, ...]:
    """The domain's output columns in order, with the SQL of each (over aliases ``e`` event, ``px``
    person, ``c`` concept, ``ko`` Korean synonym, ``vc``/``uc`` value and unit concepts)."""
    start = f"CAST(e.{domain.start} AS DATE)"
    period = _period_sql(policy, f"({start} + px.shift)")
    dtype = date_type(policy)
    cols: list[OutField] = [
        OutField(
            "patient",
            "string",
            "Keyed pseudonym of the patient: the same value in persons, every domain and the image manifest.",
            "px.patient",
        ),
        OutField(
            "date",
            dtype,
            f"{domain.catalogue(domain.start)} Shifted per patient (same shift as the images), shown as the "
            "period of the release's stated precision; empty where the patient's index year was removed.",
            f"CASE WHEN px.dates_ok THEN {period} END",
        ),
        OutField(
            "days_from_index",
            "integer",
            "Days from the index date to this event, plus one keyed per-patient offset spread over the "
            "stated precision (intervals between a patient's events are exact).",
            f"date_diff('day', px.index_date, {start}) + px.jitter",
        ),
    ]
    if domain.end:
        cols.append(
            OutField(
                "end_days_from_index",
                "integer",
                f"{domain.catalogue(domain.end)} As days from index, with the same per-patient offset.",
                f"date_diff('day', px.index_date, CAST(e.{domain.end} AS DATE)) + px.jitter",
            )
        )
    cols += [
        OutField("concept_id", "integer", domain.catalogue(domain.concept), f"e.{domain.concept}"),
        OutField("vocabulary_id", "string", _cat("concept", "vocabulary_id"), "c.vocabulary_id"),
        OutField("concept_code", "string", _cat("concept", "concept_code"), "c.concept_code"),
        OutField("concept_name", "string", _cat("concept", "concept_name"), "c.concept_name"),
        OutField(
            "concept_name_ko",
            "string",
            "Korean name of the concept (concept_synonym, language 4175771), where the mart has one.",
            "ko.name",
        ),
        *domain.extras,
    ]
    return tuple(cols)


def arrow_schema(out: Sequence[OutField]) -> pa.Schema:
    """The Arrow (Parquet) schema of a resource, from its Table Schema types."""
    types = {
        "string": pa.string(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "date": pa.date32(),
        "boolean": pa.bool_(),
    }
    return pa.schema([(f.name, types[f.type]) for f in out])


def _window_sql(domain: RecordDomain, window: RecordWindow) -> str:
    days = f"date_diff('day', px.index_date, CAST(e.{domain.start} AS DATE))"
    conds = [f"e.{domain.start} IS NOT NULL"]
    if window.start is not None:
        conds.append(f"{days} >= {int(window.start)}")
    if window.end is not None:
        conds.append(f"{days} <= {int(window.end)}")
    return " AND ".join(conds)


def records_sql(
    domain: RecordDomain, policy: ReleasePolicy, window: RecordWindow, *, korean: bool = True
) -> str:
    """The domain's release rows for the persons of :data:`PERSONS_VIEW` (see the module docstring).

    Every value is an engine-built expression over catalogued columns (no user text), so the SQL is run
    with :func:`record_batches` rather than the guard (as the manifests' SQL is).  ``korean``: the mart
    has ``concept_synonym`` (else the Korean names are NULL).
    """
    out = fields(domain, policy)
    select = ",\n       ".join(f"CAST({f.sql} AS {_SQL_TYPE[f.type]}) AS {f.name}" for f in out)
    names = {f.name for f in out}
    joins = [f"LEFT JOIN concept AS c ON c.concept_id = e.{domain.concept}"]
    if korean:
        joins.append(
            "LEFT JOIN (SELECT concept_id, min(concept_synonym_name) AS name FROM concept_synonym "
            f"WHERE language_concept_id = {KOREAN_LANGUAGE_CONCEPT_ID} GROUP BY concept_id) AS ko "
            f"ON ko.concept_id = e.{domain.concept}"
        )
    else:
        joins.append("LEFT JOIN (SELECT NULL::INTEGER AS concept_id, NULL::VARCHAR AS name) AS ko ON FALSE")
    if "value_concept_name" in names:
        joins.append("LEFT JOIN concept AS vc ON vc.concept_id = e.value_as_concept_id")
    if "unit_code" in names:
        joins.append("LEFT JOIN concept AS uc ON uc.concept_id = e.unit_concept_id")
    order = "px.patient, days_from_index, concept_id" + (f", e.{domain.key}" if domain.key else "")
    return (
        f"SELECT {select}\nFROM {domain.table} AS e\n"
        f"JOIN {PERSONS_VIEW} AS px ON px.person_id = e.person_id\n"
        + "\n".join(joins)
        + f"\nWHERE {_window_sql(domain, window)}\nORDER BY {order}"
    )


def count_records(
    con: duckdb.DuckDBPyConnection, domain: RecordDomain, window: RecordWindow, persons: pa.Table
) -> int:
    """How many rows :func:`record_batches` yields for the domain (for progress bars)."""
    sql = (
        f"SELECT count(*) FROM {domain.table} AS e JOIN {PERSONS_VIEW} AS px ON px.person_id = e.person_id "
        f"WHERE {_window_sql(domain, window)}"
    )
    cursor = con.cursor()
    try:
        cursor.register(PERSONS_VIEW, persons)
        row = cursor.execute(sql).fetchone()
    except duckdb.Error as e:
        raise QueryError(*describe_db_error(e)) from None
    finally:
        cursor.close()
    return int(row[0]) if row else 0


def record_batches(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    persons: pa.Table,
    *,
    batch_size: int = 10_000,
) -> Iterator[pa.RecordBatch]:
    """Arrow batches of ``sql`` (from :func:`records_sql`) on a cursor of its own, with ``persons``
    (:func:`persons_arrow`) registered as :data:`PERSONS_VIEW`.

    Read through DuckDB's relational reader, which streams: the DB-API cursor's Arrow reader would
    first copy the whole result.  DuckDB errors become :class:`QueryError` with a fixed description
    (DuckDB's own message can quote values).
    """
    cursor = con.cursor()
    try:
        cursor.register(PERSONS_VIEW, persons)
        rel: Any = cursor.sql(sql)
        # DuckDB >= 1.4 names it to_arrow_reader; older releases record_batch (same streaming reader)
        make_reader = getattr(rel, "to_arrow_reader", None) or rel.record_batch
        reader = make_reader(batch_size)
        for batch in reader:
            if batch.num_rows:
                yield batch
    except duckdb.Error as e:
        raise QueryError(*describe_db_error(e)) from None
    finally:
        cursor.close()
