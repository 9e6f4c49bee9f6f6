"""Link the DICOM index to the OMOP mart: studies to persons, series to ``image_occurrence`` rows, studies
to the procedures that produced them.

Why here and not in an ETL: the index changes whenever folders or a PACS are (re)indexed, and cohort
queries reach images only through ``image_occurrence`` (the OHDSI imaging extension), so linking runs
after every indexing run (``cohort index``) and on demand (``cohort link``).

Rules (each one deterministic, each outcome counted in :class:`LinkReport`):

* **person**: the study's PatientID equals ``person.person_source_value`` (both trimmed, exact case).
  A study whose PatientID is empty, matches no person, or matches several persons is *unlinked*: it
  gets no ``image_occurrence`` row and is counted under that reason — never dropped silently.
* **one row per indexed series** of a linked study: person_id, image_study_uid, image_series_uid,
  modality_source_value (Modality), anatomic_site_source_value (BodyPartExamined),
  image_occurrence_date (StudyDate, else SeriesDate, else the linked procedure's date; a series with
  none is unlinked), ``local_path`` = the folder holding the series' files (their common folder when
  spread out) and/or ``wadors_uri`` = ``{server}/studies/{st}/series/{se}`` for a crawled series.
* **procedure**: the procedure whose id the AccessionNumber encodes (``accession_pattern``; the demo
  writer writes ``A{procedure_occurrence_id:09d}``) when it belongs to the same person; else the same
  person's *imaging* procedure on the study date (a concept in ``imaging_concept_ids``, or whose name
  matches ``imaging_name_pattern``), preferring one whose name fits the study's modality, then the
  lowest id; else the row's earlier procedure if it still exists for the same person; else NULL.
  ``visit_occurrence_id`` is the linked procedure's visit (or the row's earlier visit when it still
  belongs to the same person).
* **refresh, not append**: the rows of indexed series are replaced in one transaction; a series keeps
  its ``image_occurrence_id`` (criteria and exports refer to it) and its concept ids (which the index
  cannot know); duplicate rows of one series are merged into one.  Rows of series the index does not
  hold (an ETL's rows for images stored elsewhere) are left alone and counted.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel

from cohort_engine.dicom_index.indexer import ensure_tables
from cohort_engine.schema_catalog.ddl import table_ddl
from cohort_engine.schema_catalog.tables import TABLES_BY_NAME

__all__ = [
    "ACCESSION_PATTERN",
    "IMAGING_NAME_PATTERN",
    "LinkReport",
    "link_image_occurrence",
    "link_mart",
]

#: AccessionNumber → procedure_occurrence_id (group 1).  The demo writer's ``A{id:09d}``.
ACCESSION_PATTERN = r"^A0*([0-9]{1,18})$"
#: Procedure concept names that are imaging (lower-cased; English vocabularies and Korean names).
IMAGING_NAME_PATTERN = (
    r"tomograph|\bct\b|magnetic resonance|\bmri\b|x-ray|xray|radiograph|roentgen|ultrasound|ultrason|"
    r"sonograph|echocardiog|angiogra|arteriogra|venogra|fluorosc|mammogra|scintigra|\bpet\b|imaging|"
    r"촬영|초음파|조영|영상"
)
#: A procedure name that fits each modality, to choose among same-day imaging procedures.
_MODALITY_NAMES: dict[str, str] = {
    "CT": r"tomograph|\bct\b",
    "MR": r"magnetic resonance|\bmri?\b",
    "XA": r"angiogra|arteriogra|catheter",
    "US": r"ultrasound|ultrason|sonograph|echocardiog",
    "CR": r"x-ray|xray|radiograph|roentgen",
    "DX": r"x-ray|xray|radiograph|roentgen",
    "MG": r"mammogra",
    "NM": r"scintigra|nuclear",
    "PT": r"positron|\bpet\b",
}


class LinkReport(BaseModel):
    """Outcome of one linking run.  Counts and value-free reasons only: safe to log and show."""

    studies: int
    studies_linked: int
    studies_unlinked: dict[str, int]
    series_linked: int
    series_unlinked: int
    rows_inserted: int
    rows_refreshed: int
    duplicate_rows_merged: int
    procedures_by_accession: int
    procedures_by_date: int
    procedures_kept: int
    series_without_procedure: int
    accession_of_other_person: int
    rows_not_in_index: int
    elapsed_s: float


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0].lower()
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    }


def _common_folder(dirs: list[str] | None) -> str | None:
    if not dirs:
        return None
    if len(dirs) == 1:
        return dirs[0]
    try:
        return os.path.commonpath(dirs)
    except ValueError:  # different drives (Windows): no common folder
        return None


def link_image_occurrence(
    con: duckdb.DuckDBPyConnection,
    *,
    accession_pattern: str = ACCESSION_PATTERN,
    imaging_name_pattern: str = IMAGING_NAME_PATTERN,
    imaging_concept_ids: Collection[int] = (),
) -> LinkReport:
    """Link the index in the (read-write) connection's mart; see the module docstring."""
    import pyarrow as pa  # here, not at import: `cohort index` starts without it

    t0 = time.perf_counter()
    present = _tables(con)
    if "person" not in present:
        raise ValueError("the mart has no person table; linking needs an OMOP mart")
    ensure_tables(con)
    if "image_occurrence" not in present:
        con.execute(table_ddl(TABLES_BY_NAME["image_occurrence"]))
    has_proc = "procedure_occurrence" in present
    has_concept = "concept" in present

    con.execute("""CREATE OR REPLACE TEMP TABLE _lk_study AS
        WITH persons AS (
          SELECT trim(person_source_value) AS psv, min(person_id) AS person_id, count(*) AS n FROM person
          WHERE nullif(trim(person_source_value), '') IS NOT NULL GROUP BY 1)
        SELECT st.study_instance_uid, st.study_date, st.accession_number, st.modalities_in_study,
               CASE WHEN nullif(trim(st.patient_id), '') IS NULL THEN 'no PatientID'
                    WHEN p.person_id IS NULL THEN 'no person with this PatientID'
                    WHEN p.n > 1 THEN 'PatientID matches several persons' END AS problem,
               CASE WHEN p.n = 1 THEN p.person_id END AS person_id
        FROM dicom_study st LEFT JOIN persons p ON p.psv = trim(st.patient_id)""")

    if has_proc:
        ids = ", ".join(str(int(i)) for i in sorted(set(imaging_concept_ids)))
        by_id = f"po.procedure_concept_id IN ({ids})" if ids else "FALSE"
        name = "lower(c.concept_name)" if has_concept else "NULL"
        concept_join = "LEFT JOIN concept c ON c.concept_id = po.procedure_concept_id" if has_concept else ""
        fits = " + ".join(
            f"(coalesce(list_contains(string_split(s.modalities_in_study, '\\'), {_lit(m)}) "
            f"AND regexp_matches({name}, {_lit(p)}), FALSE))::INTEGER"
            for m, p in _MODALITY_NAMES.items()
        )
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _lk_proc AS
            WITH acc AS (
              SELECT s.study_instance_uid, po.procedure_occurrence_id, po.visit_occurrence_id,
                     po.procedure_date,
                     po.person_id = s.person_id AS same_person
              FROM _lk_study s JOIN procedure_occurrence po ON po.procedure_occurrence_id =
                   TRY_CAST(regexp_extract(trim(s.accession_number), {_lit(accession_pattern)}, 1) AS BIGINT)
              WHERE s.person_id IS NOT NULL),
            by_date AS (
              SELECT s.study_instance_uid, po.procedure_occurrence_id, po.visit_occurrence_id,
                     po.procedure_date,
                     ROW_NUMBER() OVER (PARTITION BY s.study_instance_uid
                                        ORDER BY ({fits}) DESC, po.procedure_occurrence_id) AS rk
              FROM _lk_study s
              JOIN procedure_occurrence po ON po.person_id = s.person_id AND po.procedure_date = s.study_date
              {concept_join}
              WHERE s.person_id IS NOT NULL
                AND ({by_id} OR coalesce(regexp_matches({name}, {_lit(imaging_name_pattern)}), FALSE)))
            SELECT s.study_instance_uid,
                   coalesce(a.procedure_occurrence_id, d.procedure_occurrence_id) AS procedure_occurrence_id,
                   CASE WHEN a.procedure_occurrence_id IS NOT NULL THEN a.visit_occurrence_id
                        ELSE d.visit_occurrence_id END AS visit_occurrence_id,
                   coalesce(a.procedure_date, d.procedure_date) AS procedure_date,
                   CASE WHEN a.procedure_occurrence_id IS NOT NULL THEN 'accession'
                        WHEN d.procedure_occurrence_id IS NOT NULL THEN 'date' END AS how,
                   coalesce(bool_or(NOT o.same_person), FALSE) AS other_person
            FROM _lk_study s
            LEFT JOIN acc a ON a.study_instance_uid = s.study_instance_uid AND a.same_person
            LEFT JOIN acc o ON o.study_instance_uid = s.study_instance_uid AND NOT o.same_person
            LEFT JOIN by_date d ON d.study_instance_uid = s.study_instance_uid AND d.rk = 1
            WHERE s.person_id IS NOT NULL
            GROUP BY ALL""")
    else:
        con.execute("""CREATE OR REPLACE TEMP TABLE _lk_proc AS SELECT study_instance_uid,
            NULL::BIGINT AS procedure_occurrence_id, NULL::BIGINT AS visit_occurrence_id,
            NULL::DATE AS procedure_date, NULL::VARCHAR AS how, FALSE AS other_person FROM _lk_study""")

    series = con.execute(r"""
        WITH loc AS (
          SELECT series_instance_uid,
                 list(DISTINCT regexp_replace(path, '/[^/]*$', '')) FILTER (WHERE NOT regexp_matches(path, '^https?://'))
                   AS dirs,
                 min(regexp_replace(path, '/instances/[^/]*$', '')) FILTER (WHERE regexp_matches(path, '^https?://'))
                   AS wadors
          FROM dicom_instance GROUP BY series_instance_uid)
        SELECT se.series_instance_uid, se.study_instance_uid, s.person_id, s.problem,
               coalesce(s.study_date, se.series_date, pr.procedure_date) AS image_date,
               se.modality, se.body_part_examined, pr.procedure_occurrence_id, pr.visit_occurrence_id, pr.how,
               coalesce(pr.other_person, FALSE), list_sort(loc.dirs), loc.wadors
        FROM dicom_series se
        JOIN _lk_study s ON s.study_instance_uid = se.study_instance_uid
        LEFT JOIN _lk_proc pr ON pr.study_instance_uid = se.study_instance_uid
        LEFT JOIN loc ON loc.series_instance_uid = se.series_instance_uid
        ORDER BY se.study_instance_uid, se.series_instance_uid""").fetchall()

    study_problem: dict[str, str | None] = {
        uid: problem
        for uid, problem in con.execute("SELECT study_instance_uid, problem FROM _lk_study").fetchall()
    }
    linked_series: dict[str, list[Any]] = {}
    study_has_row: dict[str, bool] = {}
    other_person: set[str] = set()
    series_unlinked = 0
    for (
        series_uid,
        study_uid,
        person_id,
        problem,
        date,
        modality,
        site,
        proc,
        visit,
        how,
        other,
        dirs,
        wadors,
    ) in series:
        if other:
            other_person.add(study_uid)
        if problem is not None or person_id is None or date is None:
            series_unlinked += 1
            study_has_row.setdefault(study_uid, False)
            continue
        study_has_row[study_uid] = True
        linked_series[series_uid] = [
            series_uid,
            study_uid,
            person_id,
            date,
            modality,
            site,
            proc,
            visit,
            how,
            _common_folder(dirs),
            wadors,
        ]

    unlinked: Counter[str] = Counter()
    for study_uid, problem in study_problem.items():
        if study_has_row.get(study_uid):
            continue
        unlinked[problem or ("no study or series date" if study_uid in study_has_row else "no series")] += 1

    new = pa.table(
        {
            name: pa.array([r[i] for r in linked_series.values()], type=typ)
            for i, (name, typ) in enumerate(
                [
                    ("series_uid", pa.string()),
                    ("study_uid", pa.string()),
                    ("person_id", pa.int64()),
                    ("image_date", pa.date32()),
                    ("modality", pa.string()),
                    ("site", pa.string()),
                    ("proc", pa.int64()),
                    ("visit", pa.int64()),
                    ("how", pa.string()),
                    ("local_path", pa.string()),
                    ("wadors_uri", pa.string()),
                ]
            )
        }
    )
    kept_join = (
        "LEFT JOIN procedure_occurrence kp ON kp.procedure_occurrence_id = o.proc AND kp.person_id = "
        "n.person_id "
        "AND n.proc IS NULL"
        if has_proc
        else "LEFT JOIN (SELECT NULL::BIGINT AS procedure_occurrence_id, NULL::BIGINT AS "
        "visit_occurrence_id) kp ON FALSE"
    )
    visit_join = (
        "LEFT JOIN visit_occurrence kv ON kv.visit_occurrence_id = o.visit AND kv.person_id = n.person_id "
        "AND n.proc IS NULL AND kp.procedure_occurrence_id IS NULL"
        if "visit_occurrence" in present
        else "LEFT JOIN (SELECT NULL::BIGINT AS visit_occurrence_id) kv ON FALSE"
    )
    con.register("_lk_new", new)
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _lk_final AS
            WITH old AS (
              SELECT image_series_uid, min(image_occurrence_id) AS id, count(*) AS n,
                     arg_min(procedure_occurrence_id, image_occurrence_id) AS proc,
                     arg_min(visit_occurrence_id, image_occurrence_id) AS visit,
                     arg_min(modality_concept_id, image_occurrence_id) AS modality_concept_id,
                     arg_min(anatomic_site_concept_id, image_occurrence_id) AS anatomic_site_concept_id
              FROM image_occurrence WHERE image_series_uid IN (SELECT series_uid FROM _lk_new) GROUP BY 1),
            top AS (SELECT coalesce(max(image_occurrence_id), 0) AS m FROM image_occurrence)
            SELECT coalesce(o.id, top.m + ROW_NUMBER() OVER (PARTITION BY o.id IS NULL
                                                              ORDER BY n.study_uid, n.series_uid))
                     AS image_occurrence_id,
                   n.person_id,
                   coalesce(n.proc, kp.procedure_occurrence_id) AS procedure_occurrence_id,
                   CASE WHEN n.proc IS NOT NULL THEN n.visit
                        WHEN kp.procedure_occurrence_id IS NOT NULL THEN kp.visit_occurrence_id
                        ELSE kv.visit_occurrence_id END AS visit_occurrence_id,
                   o.anatomic_site_concept_id, n.wadors_uri, n.local_path,
                   n.image_date AS image_occurrence_date,
                   n.study_uid AS image_study_uid, n.series_uid AS image_series_uid, o.modality_concept_id,
                   n.modality AS modality_source_value, n.site AS anatomic_site_source_value,
                   CASE WHEN n.proc IS NOT NULL THEN n.how
                        WHEN kp.procedure_occurrence_id IS NOT NULL THEN 'kept' END AS how,
                   o.id IS NOT NULL AS existed, coalesce(o.n, 0) AS old_rows
            FROM _lk_new n CROSS JOIN top
            LEFT JOIN old o ON o.image_series_uid = n.series_uid
            {kept_join}
            {visit_join}""")
    finally:
        con.unregister("_lk_new")
    stats = con.execute("""SELECT count(*), count(*) FILTER (WHERE existed),
            coalesce(sum(greatest(old_rows - 1, 0)), 0),
            count(*) FILTER (WHERE how = 'accession'), count(*) FILTER (WHERE how = 'date'),
            count(*) FILTER (WHERE how = 'kept'), count(*) FILTER (WHERE procedure_occurrence_id IS NULL)
            FROM _lk_final""").fetchone() or (0, 0, 0, 0, 0, 0, 0)
    cols = [c.name for c in TABLES_BY_NAME["image_occurrence"].columns]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "DELETE FROM image_occurrence WHERE image_series_uid IN (SELECT image_series_uid FROM _lk_final)"
        )
        con.execute(
            f"INSERT INTO image_occurrence ({', '.join(cols)}) SELECT {', '.join(cols)} FROM _lk_final "
            "ORDER BY image_occurrence_id"
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    (untouched,) = con.execute(
        "SELECT count(*) FROM image_occurrence WHERE image_series_uid IS NULL OR image_series_uid NOT IN "
        "(SELECT series_instance_uid FROM dicom_series)"
    ).fetchone() or (0,)
    for t in ("_lk_study", "_lk_proc", "_lk_final"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    total, existed, merged, by_acc, by_date, kept, no_proc = stats
    return LinkReport(
        studies=len(study_problem),
        studies_linked=sum(study_has_row.values()),
        studies_unlinked=dict(sorted(unlinked.items())),
        series_linked=total,
        series_unlinked=series_unlinked,
        rows_inserted=total - existed,
        rows_refreshed=existed,
        duplicate_rows_merged=merged,
        procedures_by_accession=by_acc,
        procedures_by_date=by_date,
        procedures_kept=kept,
        series_without_procedure=no_proc,
        accession_of_other_person=len(other_person),
        rows_not_in_index=untouched,
        elapsed_s=time.perf_counter() - t0,
    )


def link_mart(mart_path: Path | str, **options: Any) -> LinkReport:
    """Open the mart read-write, link (see :func:`link_image_occurrence`), close."""
    con = duckdb.connect(str(mart_path))
    try:
        return link_image_occurrence(con, **options)
    finally:
        con.close()
