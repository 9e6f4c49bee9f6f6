"""The SQL of a cohort's aggregate charts (``GET /v1/cohorts/{id}/stats``), before any disclosure control.

Every cell comes with the fingerprint of its set of persons (``api.disclosure.person_set_digest``,
computed in SQL), which keys the cell's noise for researchers.

Age/sex pyramid and index months come from the cohort and ``person``. The imaging charts (per
modality, per body part) come from the DICOM index through ``dicom_index.select`` when the mart has
one — the selection of the ask answer's ``imaging``, the manifests and the exports — and otherwise
from ``image_occurrence`` (an imaging ETL filled it, but there are no files to index), filtered by
the spec's imaging request with the compiler's window SQL (``sql_guard.windows``).
Who sees which numbers is :mod:`cohort_engine.api.views`' business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import duckdb
import sqlglot
from sqlglot import exp

from cohort_engine.api import disclosure
from cohort_engine.api.disclosure import digest_sql
from cohort_engine.deid.manifest import has_table
from cohort_engine.dicom_index.select import code_filters, has_imaging_index, imaging_summary_sql
from cohort_engine.spec import ImagingRequest
from cohort_engine.sql_guard.compiler import CompiledCohort
from cohort_engine.sql_guard.guard import HARD_MAX_ROWS, validate
from cohort_engine.sql_guard.runner import EvalSession, execute_internal, run_query
from cohort_engine.sql_guard.windows import window_conditions

#: (label, persons, series, digest of the persons) of one imaging chart bar.
ImagingBar = tuple[str, int, int, str]

NO_IMAGING_NOTE = "This mart has no image_occurrence table, so there are no imaging charts."


@dataclass
class ChartRows:
    """Exact counts of the charts, as the mart gives them."""

    pyramid: list[tuple[str, int, int, str]]
    """(sex, ten-year age band 0…9 where 9 is 90+, persons, digest), by band then sex."""
    months: list[tuple[str, int, str]]
    """(index month ``YYYY-MM``, persons, digest), by month."""
    modalities: list[ImagingBar] = field(default_factory=list)
    body_parts: list[ImagingBar] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def cohort_subquery(compiled: CompiledCohort) -> str:
    return f"({compiled.cohort_sql}) AS c"


#: The TEMP table a chart or Table 1 reads its cohort from (its own cursor's; dropped after).
COHORT_TABLE = "described_cohort"


@contextmanager
def materialised_cohort(
    con: duckdb.DuckDBPyConnection, compiled: CompiledCohort, timeout_s: float
) -> Iterator[tuple[str, Callable[[str], list[tuple]]]]:
    """The cohort's rows evaluated once on one cursor: (the FROM item that reads them as ``c``, a fetch
    of engine SQL on that cursor). Why: charts and Table 1 read the cohort in several queries, and each
    would otherwise evaluate its whole chain again."""
    with EvalSession(con, timeout_s=timeout_s) as session:
        session.materialise(COHORT_TABLE, validate(compiled.cohort_sql, max_rows=HARD_MAX_ROWS))
        yield f"{COHORT_TABLE} AS c", session.fetch_internal


def with_person_digests(sql: str) -> str:
    """``sql`` (one SELECT) with each outer ``COUNT(DISTINCT x)`` of persons (``x`` reads a
    ``person_id``) turned into the digest of the set of ``x`` (``api.disclosure.digest_sql``), every
    other column as it was. Cached (keyed by the digest's SQL too): an ask's statements repeat per
    spec, and sqlglot's parse and render of them cost more than the digests' own SQL on a small
    cohort."""
    return _with_person_digests(sql, disclosure.PERSON_SET_DIGEST_SQL)


@lru_cache(maxsize=512)
def _with_person_digests(sql: str, template: str) -> str:
    return _digested(sql, template)[0].sql(dialect="duckdb")


def with_person_set_text(sql: str) -> str:
    """:func:`with_person_digests` with one more column, last: the person-set text
    (``api.disclosure.person_set_text_sql``) of the last count it turned into a digest. Why: the API's
    keyed result hash of a run hashes that text; read in the same pass as the digests, the cohort's
    person list never has to come back as rows."""
    return _with_person_set_text(sql, disclosure.PERSON_SET_DIGEST_SQL, disclosure.PERSON_SET_TEXT_SQL)


@lru_cache(maxsize=512)
def _with_person_set_text(sql: str, template: str, text_template: str) -> str:
    root, last = _digested(sql, template)
    if last is None:
        raise ValueError("with_person_set_text needs a COUNT(DISTINCT …) of persons")
    text = sqlglot.parse_one(text_template.format(expr=last), read="duckdb")
    root.append("expressions", exp.alias_(text, "person_set_text"))
    return root.sql(dialect="duckdb")


def _digested(sql: str, template: str) -> tuple[exp.Select, str | None]:
    """The tree of :func:`with_person_digests` and the argument of its last digest (None: none)."""
    root = sqlglot.parse_one(sql, read="duckdb")
    if not isinstance(root, exp.Select):
        raise ValueError("with_person_digests needs one SELECT")
    last = None
    for e in root.expressions:
        for cnt in list(e.find_all(exp.Count)):
            if not (isinstance(cnt.this, exp.Distinct) and len(cnt.this.expressions) == 1):
                continue
            target = cnt.this.expressions[0]
            if any(c.name == "person_id" for c in target.find_all(exp.Column)):
                last = target.sql(dialect="duckdb")
                cnt.replace(sqlglot.parse_one(template.format(expr=last), read="duckdb"))
    return root, last


def imaging_digests(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    imaging: ImagingRequest | None,
    by: Literal["modality", "body_part"],
    *,
    timeout_s: float,
) -> dict[str | None, str]:
    """Label → digest of its persons, for the DICOM index's summary (``imaging_summary_sql``): the
    guarded summary SQL of the ask answer's ``imaging`` with its person count turned into a digest
    (engine SQL, run internally)."""
    sql = with_person_digests(imaging_summary_sql(compiled, imaging, by=by).sql)
    return {r[0]: str(r[1]) for r in fetch_rows(con, sql, timeout_s)}


def imaging_filter_sql(compiled: CompiledCohort, imaging: ImagingRequest | None, alias: str = "io") -> str:
    """WHERE conditions (after the cohort join) for the spec's imaging request, on ``image_occurrence``.

    Only for the imaging charts of marts *without* a DICOM index; with an index, the charts come from
    ``dicom_index.select`` like the summary, manifests and exports do. A same-visit window is a
    ``CompileError`` here as there (images carry no visit)."""
    if imaging is None:
        return ""
    conds = code_filters(imaging, f"{alias}.modality_source_value", f"{alias}.anatomic_site_source_value")
    w = imaging.window
    if w is not None:
        anchor = "index_date" if w.anchor == "index" else compiled.event_columns.get(w.anchor, "index_date")
        conds += window_conditions(
            w, event_date=f"CAST({alias}.image_occurrence_date AS DATE)", anchor_date=f"c.{anchor}"
        )
    return " AND ".join(conds)


def fetch_rows(con: duckdb.DuckDBPyConnection, sql: str, timeout_s: float) -> list[tuple]:
    """All rows of engine-built SQL, run internally with a time limit (its cursor closed)."""
    cur = execute_internal(con, sql, timeout_s=timeout_s)
    try:
        return cur.fetchall()
    finally:
        cur.close()


def chart_rows(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    imaging: ImagingRequest | None,
    *,
    timeout_s: float,
) -> ChartRows:
    """The exact counts of every chart of one compiled cohort (the cohort evaluated once)."""
    with materialised_cohort(con, compiled, timeout_s) as (sub, fetch):
        return _chart_rows(con, compiled, imaging, sub, fetch, timeout_s)


def _chart_rows(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    imaging: ImagingRequest | None,
    sub: str,
    fetch: Callable[[str], list[tuple]],
    timeout_s: float,
) -> ChartRows:
    persons = f"COUNT(DISTINCT c.person_id), {digest_sql('c.person_id')}"
    pyramid = fetch(
        "SELECT CASE p.gender_concept_id WHEN 8507 THEN 'male' WHEN 8532 THEN 'female' ELSE 'other' END "
        "AS sex, LEAST(GREATEST(CAST(FLOOR((EXTRACT(YEAR FROM c.index_date) - p.year_of_birth) / 10.0) "
        f"AS INTEGER), 0), 9) AS band, {persons} FROM {sub} "
        "JOIN person AS p ON p.person_id = c.person_id GROUP BY 1, 2 ORDER BY 2, 1",
    )
    months = fetch(
        f"SELECT strftime(c.index_date, '%Y-%m') AS m, {persons} FROM {sub} GROUP BY 1 ORDER BY 1",
    )
    out = ChartRows(
        pyramid=[(str(s), int(b), int(n), str(d)) for s, b, n, d in pyramid],
        months=[(str(m), int(n), str(d)) for m, n, d in months],
    )
    if has_imaging_index(con):
        by_index: list[tuple[Literal["modality", "body_part"], list[ImagingBar]]] = [
            ("modality", out.modalities),
            ("body_part", out.body_parts),
        ]
        for by, bars in by_index:
            res = run_query(con, imaging_summary_sql(compiled, imaging, by=by), timeout_s=timeout_s)
            digests = imaging_digests(con, compiled, imaging, by, timeout_s=timeout_s)
            bars += [
                (label or "UNKNOWN", int(n), int(series), digests.get(label, ""))
                for label, n, _st, series, _i in res.rows
            ]
    elif has_table(con, "image_occurrence"):
        cond = imaging_filter_sql(compiled, imaging)
        where = f" WHERE {cond}" if cond else ""
        for col, bars in (
            ("modality_source_value", out.modalities),
            ("anatomic_site_source_value", out.body_parts),
        ):
            rows = fetch(
                f"SELECT COALESCE(NULLIF(UPPER(io.{col}), ''), 'UNKNOWN') AS label, "
                f"COUNT(DISTINCT io.person_id), COUNT(*), {digest_sql('io.person_id')} "
                f"FROM image_occurrence AS io JOIN {sub} "
                f"ON io.person_id = c.person_id{where} GROUP BY 1 ORDER BY 2 DESC, 1",
            )
            bars += [(str(label), int(n), int(series), str(d)) for label, n, series, d in rows]
    else:
        out.notes.append(NO_IMAGING_NOTE)
    return out
