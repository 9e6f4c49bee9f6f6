"""The imaging part of a cohort: which indexed studies/series (or instances) to return for its persons.

Why a separate query rather than a criterion: a criterion decides *who* is in the cohort; the imaging
request decides *which images* of those persons to hand to the export ("their CT scans within 30 days
after the surgery").  The cohort SQL is wrapped, not re-derived, so the persons, index dates and
matched event dates are exactly those of the cohort.

What the query does (DuckDB; guarded like every other statement):

* persons and dates: the compiled cohort's own CTEs, then its final SELECT as ``img_cohort``
  (person_id, index_date, one ``<label>_date`` per non-absence criterion);
* images: ``image_occurrence`` (filled by ``dicom_index.link``) → ``dicom_series`` → ``dicom_study``;
  only series present in the index come back ("all indexed studies of the cohort's persons" when the
  request is empty or None);
* filters: modality (``dicom_series.modality``) and body part (``dicom_series.body_part_examined``),
  compared upper-case; a window in whole days, inclusive at both ends, of the series date
  (SeriesDate, else StudyDate, else the image_occurrence date) relative to the index date or to a
  named criterion's first matched event (``CompiledCohort.event_columns``);
* output: one row per (person, series), or per (person, SOP instance) at ``level="instance"`` (an
  instance stored in several files comes once, from its first file by path), ordered by person,
  series date, study, series (and instance number).

The output holds identifying values — UIDs, file paths, free-text descriptions — because it feeds
de-identification (``deid/``), which remaps or drops each of them before anything leaves.  The guard
therefore validates it with ``identifying_output`` = exactly those columns
(:data:`IMAGING_IDENTIFYING_OUTPUT`); every other identifying column stays refused.
"""

from __future__ import annotations

from typing import Any, Literal

import duckdb
import sqlglot
from sqlglot import exp

from cohort_engine.dicom_index.tables import DICOM_TABLES_BY_NAME
from cohort_engine.spec import ImagingRequest
from cohort_engine.sql_guard.compiler import WITH_ARG, CompiledCohort, CompileError, eval_table, lit
from cohort_engine.sql_guard.guard import HARD_MAX_ROWS, ValidatedSQL, validate
from cohort_engine.sql_guard.runner import DEFAULT_TIMEOUT_S, QueryResult, run_query
from cohort_engine.sql_guard.windows import window_conditions

__all__ = [
    "IMAGING_GUARD_OPTIONS",
    "IMAGING_IDENTIFYING_OUTPUT",
    "INSTANCE_OUTPUT_COLUMNS",
    "Level",
    "SERIES_OUTPUT_COLUMNS",
    "SUMMARY_BY",
    "cohort_imaging_sql",
    "has_imaging_index",
    "imaging_summary_sql",
    "run_cohort_imaging",
    "validate_imaging_sql",
]

Level = Literal["series", "instance"]

#: Result columns at series level, in order.
SERIES_OUTPUT_COLUMNS: tuple[str, ...] = (
    "person_id",
    "index_date",
    "study_instance_uid",
    "series_instance_uid",
    "modality",
    "body_part_examined",
    "series_date",
    "study_description",
    "series_description",
    "n_instances",
    "total_bytes",
    "days_from_index",
)
#: Result columns at instance level, in order.
INSTANCE_OUTPUT_COLUMNS: tuple[str, ...] = (
    *SERIES_OUTPUT_COLUMNS,
    "sop_instance_uid",
    "path",
    "file_size",
    "burned_in_annotation",
)
#: The identifying columns this query reads and returns (and nothing else identifying).
IMAGING_IDENTIFYING_OUTPUT: tuple[str, ...] = (
    "image_occurrence.image_series_uid",
    "dicom_series.series_instance_uid",
    "dicom_series.study_instance_uid",
    "dicom_series.series_description",
    "dicom_study.study_instance_uid",
    "dicom_study.study_description",
    "dicom_instance.sop_instance_uid",
    "dicom_instance.series_instance_uid",
    "dicom_instance.study_instance_uid",
    "dicom_instance.path",
)
#: Guard options for this query (for callers that validate or run the SQL string themselves).
IMAGING_GUARD_OPTIONS: dict[str, Any] = {
    "extra_tables": DICOM_TABLES_BY_NAME,
    "identifying_output": IMAGING_IDENTIFYING_OUTPUT,
}


def _split_cohort(compiled: CompiledCohort) -> tuple[list[str], str]:
    """(the cohort's CTEs as SQL, its final SELECT without ORDER BY) — to be re-used as CTEs."""
    if compiled.dialect != "duckdb":
        raise ValueError("cohort_imaging_sql needs a cohort compiled for DuckDB")
    tree = sqlglot.parse_one(compiled.cohort_sql, read="duckdb")
    if not isinstance(tree, exp.Select):
        raise ValueError("the compiled cohort SQL is not a SELECT")
    with_ = tree.args.get(WITH_ARG)
    ctes = [cte.sql(dialect="duckdb") for cte in (with_.expressions if with_ is not None else [])]
    tree.set(WITH_ARG, None)
    tree.set("order", None)
    return ctes, tree.sql(dialect="duckdb")


def _anchor_column(compiled: CompiledCohort, request: ImagingRequest | None) -> str:
    if request is None or request.window is None or request.window.anchor == "index":
        return "c.index_date"
    label = request.window.anchor
    column = compiled.event_columns.get(label)
    if column is None:
        raise CompileError(
            f"the imaging window is anchored on {label!r}, which is no criterion of this cohort with "
            "matched events (absence criteria have none)"
        )
    return f"c.{column}"


def code_filters(request: ImagingRequest, modality: str, body_part: str) -> list[str]:
    """The request's modality and body-part codes as SQL conditions on the given columns.

    Codes are compared upper-case on both sides ("ct" asks for CT), the same for the DICOM index here
    and for ``image_occurrence`` in the API's charts of marts without an index."""
    conds = []
    modalities = sorted({m.strip().upper() for m in request.modalities if m.strip()})
    parts = sorted({b.strip().upper() for b in request.body_parts if b.strip()})
    if modalities:
        conds.append(f"UPPER({modality}) IN ({', '.join(lit(m) for m in modalities)})")
    if parts:
        conds.append(f"UPPER({body_part}) IN ({', '.join(lit(b) for b in parts)})")
    return conds


def _build(
    compiled: CompiledCohort, request: ImagingRequest | None, level: Level, *, from_eval: bool = False
) -> str:
    if level not in ("series", "instance"):
        raise ValueError("level must be 'series' or 'instance'")
    if from_eval:
        # the cohort's rows as an ask materialised them (EVAL_TABLE): the same persons, index dates
        # and first matched events as the cohort SQL's, without evaluating its chain again
        if compiled.dialect != "duckdb":
            raise ValueError("cohort_imaging_sql needs a cohort compiled for DuckDB")
        ctes: list[str] = []
        cohort_body = compiled.eval_cohort_sql
    else:
        ctes, cohort_body = _split_cohort(compiled)
    anchor = _anchor_column(compiled, request)
    filters: list[str] = []
    window: list[str] = []
    if request is not None:
        filters = code_filters(request, "s.modality", "s.body_part_examined")
        if request.window is not None:
            # Series carry no visit, so a same-visit window is a CompileError here.
            window = window_conditions(
                request.window, event_date="x.series_date", anchor_date="x.anchor_date"
            )
    where = f" WHERE {' AND '.join(filters)}" if filters else ""
    window_where = f" WHERE {' AND '.join(window)}" if window else ""
    series_cols = (
        "x.person_id, x.index_date, x.study_instance_uid, x.series_instance_uid, x.modality, "
        "x.body_part_examined, x.series_date, x.study_description, x.series_description, x.n_instances, "
        "x.total_bytes, DATE_DIFF('day', x.index_date, x.series_date) AS days_from_index"
    )
    mine = [
        f"img_cohort AS ({cohort_body})",
        "img_link AS (SELECT io.person_id AS person_id, io.image_series_uid AS image_series_uid, "
        "MIN(io.image_occurrence_date) AS image_date FROM image_occurrence AS io "
        "WHERE io.person_id IN (SELECT person_id FROM img_cohort) AND NOT io.image_series_uid IS NULL "
        "GROUP BY io.person_id, io.image_series_uid)",
        "img_series AS (SELECT c.person_id AS person_id, c.index_date AS index_date, "
        f"{anchor} AS anchor_date, st.study_instance_uid AS study_instance_uid, "
        "s.series_instance_uid AS series_instance_uid, s.modality AS modality, "
        "s.body_part_examined AS body_part_examined, "
        "COALESCE(s.series_date, st.study_date, l.image_date) AS series_date, "
        "st.study_description AS study_description, s.series_description AS series_description, "
        "s.n_instances AS n_instances, s.total_bytes AS total_bytes "
        "FROM img_cohort AS c JOIN img_link AS l ON l.person_id = c.person_id "
        "JOIN dicom_series AS s ON s.series_instance_uid = l.image_series_uid "
        f"JOIN dicom_study AS st ON st.study_instance_uid = s.study_instance_uid{where})",
        f"img_selected AS (SELECT * FROM img_series AS x{window_where})",
    ]
    with_sql = "WITH " + ",\n".join([*ctes, *mine])
    if level == "series":
        return (
            f"{with_sql}\nSELECT {series_cols} FROM img_selected AS x "
            "ORDER BY x.person_id, x.series_date, x.study_instance_uid, x.series_instance_uid"
        )
    return (
        f"{with_sql}\nSELECT {series_cols}, i.sop_instance_uid AS sop_instance_uid, i.path AS path, "
        "i.file_size AS file_size, i.burned_in_annotation AS burned_in_annotation "
        "FROM img_selected AS x JOIN dicom_instance AS i ON i.series_instance_uid = x.series_instance_uid "
        "AND i.study_instance_uid = x.study_instance_uid "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY x.person_id, i.series_instance_uid, i.sop_instance_uid "
        "ORDER BY i.path) = 1 "
        "ORDER BY x.person_id, x.series_date, x.study_instance_uid, x.series_instance_uid, "
        "i.instance_number NULLS LAST, i.sop_instance_uid"
    )


def validate_imaging_sql(sql: str, *, max_rows: int = HARD_MAX_ROWS) -> ValidatedSQL:
    """Validate an imaging selection under :data:`IMAGING_GUARD_OPTIONS` (what the runner needs)."""
    return validate(sql, max_rows=max_rows, **IMAGING_GUARD_OPTIONS)


def cohort_imaging_sql(
    compiled: CompiledCohort,
    request: ImagingRequest | None,
    level: Level = "series",
    *,
    max_rows: int = HARD_MAX_ROWS,
) -> str:
    """DuckDB SQL returning the cohort's images (see the module docstring), validated by the guard.

    The returned text is the guard's rewrite (qualified, LIMIT ``max_rows``): run it with
    :func:`run_cohort_imaging`, or validate it again with :func:`validate_imaging_sql` and
    ``sql_guard.runner.run_query``.  Raises ``CompileError`` when the window names no criterion with
    events, ``GuardError`` never for a well-formed cohort.
    """
    return validate_imaging_sql(_build(compiled, request, level), max_rows=max_rows).sql


def run_cohort_imaging(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    request: ImagingRequest | None,
    level: Level = "series",
    *,
    max_rows: int = HARD_MAX_ROWS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> QueryResult:
    """Run the imaging selection on a mart opened with ``sql_guard.runner.open_mart``."""
    sql = cohort_imaging_sql(compiled, request, level, max_rows=max_rows)
    return run_query(con, validate_imaging_sql(sql, max_rows=max_rows), timeout_s=timeout_s)


#: Grouping columns of :func:`imaging_summary_sql` (output name → column of the selection).
SUMMARY_BY: dict[str, str] = {"modality": "modality", "body_part": "body_part_examined"}


def imaging_summary_sql(
    compiled: CompiledCohort,
    request: ImagingRequest | None,
    by: Literal["modality", "body_part"] = "modality",
    *,
    from_eval: bool = False,
) -> ValidatedSQL:
    """Per modality (or per body part, ``by="body_part"``): persons, studies, series and instances of
    the cohort's requested images.

    Counts only, so it can be shown to anyone the cohort's counts can be shown to; it wraps the same
    selection the export uses, so the summary, the API's imaging charts and the export never disagree
    about which images.  Columns: ``modality`` (or ``body_part``, the series' BodyPartExamined as
    indexed, NULL when absent), ``persons``, ``studies``, ``series``, ``instances``; ordered by series
    (descending), then the label.

    ``from_eval=True`` reads the cohort's rows from the per-ask table ``EVAL_TABLE`` (see
    ``sql_guard.compiler.CompiledCohort.eval_sql``) instead of the cohort's own CTEs: run it on the
    session (``sql_guard.runner.EvalSession``) that materialised it.
    """
    if by not in SUMMARY_BY:
        raise ValueError("by must be 'modality' or 'body_part'")
    column = SUMMARY_BY[by]
    inner = _build(compiled, request, "series", from_eval=from_eval).rstrip().removesuffix(";")
    inner = inner[: inner.rfind("ORDER BY")] if "ORDER BY" in inner else inner
    sql = (
        f"SELECT s.{column} AS {by}, COUNT(DISTINCT s.person_id) AS persons, "
        "COUNT(DISTINCT s.study_instance_uid) AS studies, COUNT(*) AS series, "
        f"COALESCE(SUM(s.n_instances), 0) AS instances FROM ({inner}) AS s "
        f"GROUP BY s.{column} ORDER BY series DESC, {by}"
    )
    options = dict(IMAGING_GUARD_OPTIONS)
    if from_eval:
        options["extra_tables"] = {**DICOM_TABLES_BY_NAME, **{t.name: t for t in [eval_table(compiled)]}}
    return validate(sql, aggregates_only=True, **options)


def has_imaging_index(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the mart carries a linked DICOM index (the tables the imaging selection reads)."""
    names = {r[0].lower() for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return {"image_occurrence", "dicom_series", "dicom_study"} <= names
