"""The SQL of a cohort's aggregate charts (``GET /v1/cohorts/{id}/stats``), before any suppression.

Age/sex pyramid and index months come from the cohort and ``person``. The imaging charts (per
modality, per body part) come from the DICOM index through ``dicom_index.select`` when the mart has
one — the selection of the ask answer's ``imaging``, the manifests and the exports — and otherwise
from ``image_occurrence`` (an imaging ETL filled it, but there are no files to index), filtered by
the spec's imaging request with the compiler's window SQL (``sql_guard.windows``).
Who sees which numbers is :mod:`cohort_engine.api.views`' business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import duckdb

from cohort_engine.deid.manifest import has_table
from cohort_engine.dicom_index.select import has_imaging_index, imaging_summary_sql
from cohort_engine.spec import ImagingRequest
from cohort_engine.sql_guard.compiler import CompiledCohort, lit
from cohort_engine.sql_guard.runner import execute_internal, run_query
from cohort_engine.sql_guard.windows import window_conditions

#: (label, persons, series) of one imaging chart bar.
ImagingBar = tuple[str, int, int]

NO_IMAGING_NOTE = "This mart has no image_occurrence table, so there are no imaging charts."


@dataclass
class ChartRows:
    """Exact counts of the charts, as the mart gives them."""

    pyramid: list[tuple[str, int, int]]
    """(sex, ten-year age band 0…9 where 9 is 90+, persons), by band then sex."""
    months: list[tuple[str, int]]
    """(index month ``YYYY-MM``, persons), by month."""
    modalities: list[ImagingBar] = field(default_factory=list)
    body_parts: list[ImagingBar] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def cohort_subquery(compiled: CompiledCohort) -> str:
    return f"({compiled.cohort_sql}) AS c"


def imaging_filter_sql(compiled: CompiledCohort, imaging: ImagingRequest | None, alias: str = "io") -> str:
    """WHERE conditions (after the cohort join) for the spec's imaging request, on ``image_occurrence``.

    Only for the imaging charts of marts *without* a DICOM index; with an index, the charts come from
    ``dicom_index.select`` like the summary, manifests and exports do. A same-visit window is a
    ``CompileError`` here as there (images carry no visit)."""
    if imaging is None:
        return ""
    conds: list[str] = []
    # Codes compared upper-case on both sides, as dicom_index.select does ("ct" asks for CT).
    modalities = sorted({m.strip().upper() for m in imaging.modalities if m.strip()})
    parts = sorted({b.strip().upper() for b in imaging.body_parts if b.strip()})
    if modalities:
        conds.append(f"UPPER({alias}.modality_source_value) IN ({', '.join(lit(m) for m in modalities)})")
    if parts:
        conds.append(f"UPPER({alias}.anatomic_site_source_value) IN ({', '.join(lit(b) for b in parts)})")
    w = imaging.window
    if w is not None:
        anchor = "index_date" if w.anchor == "index" else compiled.event_columns.get(w.anchor, "index_date")
        conds += window_conditions(
            w, event_date=f"CAST({alias}.image_occurrence_date AS DATE)", anchor_date=f"c.{anchor}"
        )
    return " AND ".join(conds)


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, timeout_s: float) -> list[tuple]:
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
    """The exact counts of every chart of one compiled cohort."""
    sub = cohort_subquery(compiled)
    pyramid = _fetch(
        con,
        "SELECT CASE p.gender_concept_id WHEN 8507 THEN 'male' WHEN 8532 THEN 'female' ELSE 'other' END "
        "AS sex, LEAST(GREATEST(CAST(FLOOR((EXTRACT(YEAR FROM c.index_date) - p.year_of_birth) / 10.0) "
        f"AS INTEGER), 0), 9) AS band, COUNT(*) AS n FROM {sub} "
        "JOIN person AS p ON p.person_id = c.person_id GROUP BY 1, 2 ORDER BY 2, 1",
        timeout_s,
    )
    months = _fetch(
        con,
        f"SELECT strftime(c.index_date, '%Y-%m') AS m, COUNT(*) FROM {sub} GROUP BY 1 ORDER BY 1",
        timeout_s,
    )
    out = ChartRows(
        pyramid=[(str(s), int(b), int(n)) for s, b, n in pyramid],
        months=[(str(m), int(n)) for m, n in months],
    )
    if has_imaging_index(con):
        by_index: list[tuple[Literal["modality", "body_part"], list[ImagingBar]]] = [
            ("modality", out.modalities),
            ("body_part", out.body_parts),
        ]
        for by, bars in by_index:
            res = run_query(con, imaging_summary_sql(compiled, imaging, by=by), timeout_s=timeout_s)
            bars += [(label or "UNKNOWN", int(n), int(series)) for label, n, _st, series, _i in res.rows]
    elif has_table(con, "image_occurrence"):
        cond = imaging_filter_sql(compiled, imaging)
        where = f" WHERE {cond}" if cond else ""
        for col, bars in (
            ("modality_source_value", out.modalities),
            ("anatomic_site_source_value", out.body_parts),
        ):
            rows = _fetch(
                con,
                f"SELECT COALESCE(NULLIF(UPPER(io.{col}), ''), 'UNKNOWN') AS label, "
                f"COUNT(DISTINCT io.person_id), COUNT(*) FROM image_occurrence AS io JOIN {sub} "
                f"ON io.person_id = c.person_id{where} GROUP BY 1 ORDER BY 2 DESC, 1",
                timeout_s,
            )
            bars += [(str(label), int(n), int(series)) for label, n, series in rows]
    else:
        out.notes.append(NO_IMAGING_NOTE)
    return out
