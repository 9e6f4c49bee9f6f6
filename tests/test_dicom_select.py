"""The imaging output part of the spec (``dicom_index.select.cohort_imaging_sql``) and imaging criteria /
index events, on a tiny mart with demo files, checked against expectations computed in Python."""

from __future__ import annotations

import datetime as dt
import random
import shutil
from pathlib import Path
from typing import Any, get_args

import duckdb
import pytest

from cohort_engine.dicom_index.demo import write_demo_dicom
from cohort_engine.dicom_index.indexer import index_folders
from cohort_engine.dicom_index.link import link_mart
from cohort_engine.dicom_index.select import (
    IMAGING_GUARD_OPTIONS,
    INSTANCE_OUTPUT_COLUMNS,
    SERIES_OUTPUT_COLUMNS,
    Level,
    cohort_imaging_sql,
    run_cohort_imaging,
    validate_imaging_sql,
)
from cohort_engine.dicom_index.tables import DICOM_TABLES_BY_NAME
from cohort_engine.pipeline import run_spec
from cohort_engine.spec import (
    CohortSpec,
    ConceptSet,
    Criterion,
    ImagingFilter,
    ImagingRequest,
    IndexEvent,
    Occurrence,
    Window,
)
from cohort_engine.sql_guard.compiler import CompileError, compile_cohort
from cohort_engine.sql_guard.errors import GuardError, Rule
from cohort_engine.sql_guard.guard import validate
from cohort_engine.sql_guard.runner import open_mart, run_query
from tests.dicom_fixtures import make_tiny_mart

DIAGNOSIS, SURGERY = 9100, 9001


@pytest.fixture(scope="module")
def mart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny mart (40 persons, 60 studies) with its demo files indexed and linked, diagnoses and surgeries
    placed around some imaging dates, and one file stored twice."""
    root = tmp_path_factory.mktemp("select")
    path = root / "mart.duckdb"
    make_tiny_mart(path, persons=40, studies=60, seed=12)
    write_demo_dicom(path, root / "dicom", seed=3)
    copy = min(p for p in (root / "dicom").rglob("*") if p.is_file())
    (root / "dicom" / "copies").mkdir()
    shutil.copy(copy, root / "dicom" / "copies" / "again.dcm")
    con = duckdb.connect(str(path))
    con.executemany(
        "INSERT INTO concept (concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, "
        "concept_code, valid_start_date, valid_end_date) VALUES (?, ?, ?, 'Test', 'Test', ?, "
        "DATE '1970-01-01', DATE '2099-12-31')",
        [(DIAGNOSIS, "Some diagnosis", "Condition", "D1"), (SURGERY, "Some surgery", "Procedure", "S1")],
    )
    rng = random.Random(5)
    dates = con.execute(
        "SELECT DISTINCT person_id, image_occurrence_date FROM image_occurrence ORDER BY 1, 2"
    ).fetchall()
    conditions, procedures = [], []
    for k, (person, day) in enumerate(dates):
        if k % 2 == 0:
            conditions.append((k + 1, person, DIAGNOSIS, day - dt.timedelta(days=rng.randint(0, 60)), 32817))
        if k % 3 != 2:
            procedures.append((k + 1, person, SURGERY, day - dt.timedelta(days=rng.randint(-10, 40))))
    con.executemany(
        "INSERT INTO condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, "
        "condition_start_date, condition_type_concept_id) VALUES (?, ?, ?, ?, ?)",
        conditions,
    )
    con.executemany(
        "INSERT INTO procedure_occurrence (procedure_occurrence_id, person_id, procedure_concept_id, "
        "procedure_date) VALUES (?, ?, ?, ?)",
        procedures,
    )
    con.close()
    index_folders(path, [root / "dicom"], workers=1)
    link_mart(path)
    return path


def _cohort(mart: Path, spec: CohortSpec) -> dict[int, dict[str, Any]]:
    """person_id → the cohort's output row (as a dict), run through the guard like the pipeline does."""
    compiled = compile_cohort(spec)
    con = open_mart(mart)
    try:
        res = run_query(con, validate(compiled.cohort_sql))
    finally:
        con.close()
    return {row[0]: dict(zip(res.columns, row, strict=True)) for row in res.rows}


def _indexed_series(mart: Path) -> list[dict[str, Any]]:
    con = duckdb.connect(str(mart), read_only=True)
    try:
        rows = con.execute("""
            SELECT io.person_id, st.study_instance_uid, s.series_instance_uid, s.modality,
                   s.body_part_examined,
                   coalesce(s.series_date, st.study_date) AS series_date, st.study_description,
                   s.series_description, s.n_instances, s.total_bytes
            FROM image_occurrence io JOIN dicom_series s ON s.series_instance_uid = io.image_series_uid
            JOIN dicom_study st ON st.study_instance_uid = s.study_instance_uid""").fetchall()
    finally:
        con.close()
    keys = (
        "person_id",
        "study_instance_uid",
        "series_instance_uid",
        "modality",
        "body_part_examined",
        "series_date",
        "study_description",
        "series_description",
        "n_instances",
        "total_bytes",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _expected(mart: Path, cohort: dict[int, dict[str, Any]], keep: Any) -> list[tuple[Any, ...]]:
    out = []
    for s in _indexed_series(mart):
        c = cohort.get(s["person_id"])
        if c is None or not keep(s, c):
            continue
        days = (s["series_date"] - c["index_date"]).days
        out.append(
            (
                s["person_id"],
                c["index_date"],
                s["study_instance_uid"],
                s["series_instance_uid"],
                s["modality"],
                s["body_part_examined"],
                s["series_date"],
                s["study_description"],
                s["series_description"],
                s["n_instances"],
                s["total_bytes"],
                days,
            )
        )
    return sorted(out, key=lambda r: (r[0], r[6], r[2], r[3]))


def _run(
    mart: Path, spec: CohortSpec, request: ImagingRequest | None, level: str = "series"
) -> list[tuple[Any, ...]]:
    con = open_mart(mart)
    try:
        res = run_cohort_imaging(con, compile_cohort(spec), request, level)  # type: ignore[arg-type]
    finally:
        con.close()
    assert tuple(res.columns) == (SERIES_OUTPUT_COLUMNS if level == "series" else INSTANCE_OUTPUT_COLUMNS)
    return res.rows


SURGERY_INDEX = CohortSpec(index=IndexEvent(domain="procedure", concepts=ConceptSet(concept_ids=[SURGERY])))
DIAGNOSIS_THEN_SURGERY = CohortSpec(
    index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[DIAGNOSIS])),
    criteria=[
        Criterion(
            label="the surgery",
            domain="procedure",
            concepts=ConceptSet(concept_ids=[SURGERY]),
            window=Window(start=0, end=60),
        )
    ],
)


@pytest.mark.slow
def test_default_is_every_indexed_series_of_the_cohorts_persons(mart: Path) -> None:
    cohort = _cohort(mart, SURGERY_INDEX)
    expected = _expected(mart, cohort, lambda s, c: True)
    assert len({r[0] for r in expected}) >= 10 and len(expected) > 30
    assert _run(mart, SURGERY_INDEX, None) == expected
    assert _run(mart, SURGERY_INDEX, ImagingRequest()) == expected


@pytest.mark.slow
def test_modality_body_part_and_window_relative_to_the_index(mart: Path) -> None:
    cohort = _cohort(mart, SURGERY_INDEX)
    request = ImagingRequest(
        modalities=["ct", "MR "], body_parts=["head", "KNEE", "CHEST"], window=Window(start=-5, end=30)
    )
    expected = _expected(
        mart,
        cohort,
        lambda s, c: (
            s["modality"] in ("CT", "MR")
            and s["body_part_examined"] in ("HEAD", "KNEE", "CHEST")
            and -5 <= (s["series_date"] - c["index_date"]).days <= 30
        ),
    )
    assert 3 <= len(expected) < len(_expected(mart, cohort, lambda s, c: True))
    assert _run(mart, SURGERY_INDEX, request) == expected
    open_ended = ImagingRequest(modalities=["XA"], window=Window(start=1))
    assert _run(mart, SURGERY_INDEX, open_ended) == _expected(
        mart, cohort, lambda s, c: s["modality"] == "XA" and (s["series_date"] - c["index_date"]).days >= 1
    )


@pytest.mark.slow
def test_window_relative_to_a_named_criterion(mart: Path) -> None:
    """ "their CT scans within 30 days after the surgery": the window is on the criterion's event date,
    days_from_index stays relative to the index date."""
    cohort = _cohort(mart, DIAGNOSIS_THEN_SURGERY)
    assert cohort and all(c["the_surgery_date"] is not None for c in cohort.values())
    request = ImagingRequest(modalities=["CT"], window=Window(start=0, end=30, anchor="the surgery"))
    expected = _expected(
        mart,
        cohort,
        lambda s, c: s["modality"] == "CT" and 0 <= (s["series_date"] - c["the_surgery_date"]).days <= 30,
    )
    assert expected
    assert _run(mart, DIAGNOSIS_THEN_SURGERY, request) == expected
    on_index = _expected(
        mart,
        cohort,
        lambda s, c: s["modality"] == "CT" and 0 <= (s["series_date"] - c["index_date"]).days <= 30,
    )
    assert on_index != expected  # the anchor matters on this data


def test_instance_level_one_row_per_sop_instance(mart: Path) -> None:
    series = _run(mart, SURGERY_INDEX, ImagingRequest(modalities=["CT", "MR", "US"]))
    rows = _run(mart, SURGERY_INDEX, ImagingRequest(modalities=["CT", "MR", "US"]), level="instance")
    assert [r[:12] for r in rows] == [s for s in series for _ in range(s[9])]  # n_instances rows per series
    sops = [(r[0], r[12]) for r in rows]
    assert len(sops) == len(set(sops))  # the file stored twice comes once
    con = duckdb.connect(str(mart), read_only=True)
    files = {
        p: (size, burned)
        for p, size, burned in con.execute(
            "SELECT path, file_size, burned_in_annotation FROM dicom_instance"
        ).fetchall()
    }
    con.close()
    for r in rows:
        assert files[r[13]] == (r[14], r[15]) and "copies" not in r[13]  # the first file by path


@pytest.mark.slow
def test_sql_is_guarded_with_exactly_the_released_identifying_columns(mart: Path) -> None:
    compiled = compile_cohort(DIAGNOSIS_THEN_SURGERY)
    request = ImagingRequest(modalities=["CT"], window=Window(start=0, end=30, anchor="the surgery"))
    for level in get_args(Level):
        sql = cohort_imaging_sql(compiled, request, level)
        v = validate_imaging_sql(sql)
        assert v.sql == sql and "dicom_series" in v.tables
        # Without the release the guard refuses it: the UIDs are identifying.
        with pytest.raises(GuardError) as info:
            validate(sql, extra_tables=DICOM_TABLES_BY_NAME)
        assert info.value.rule == Rule.IDENTIFYING_COLUMN
    # The release names only what the query returns: adding a PatientID to it is refused.
    leaky = sql.replace("i.path AS path", "i.patient_id AS path", 1)
    with pytest.raises(GuardError) as info:
        validate(leaky, **IMAGING_GUARD_OPTIONS)
    assert info.value.where == "dicom_instance.patient_id"


def test_anchor_errors_are_compile_errors() -> None:
    with_absence = DIAGNOSIS_THEN_SURGERY.model_copy(
        update={
            "criteria": [
                *DIAGNOSIS_THEN_SURGERY.criteria,
                Criterion(label="no death", domain="death", occurrence=Occurrence(type="exactly", count=0)),
            ]
        }
    )
    compiled = compile_cohort(with_absence)
    for anchor in ("no death", "unknown"):
        with pytest.raises(CompileError):
            cohort_imaging_sql(compiled, ImagingRequest(window=Window(start=0, anchor=anchor)))
    with pytest.raises(CompileError):
        cohort_imaging_sql(compiled, ImagingRequest(window=Window(start=0, same_visit=True)))
    with pytest.raises(ValueError):
        cohort_imaging_sql(compile_cohort(SURGERY_INDEX, dialect="postgres"), None)


@pytest.mark.slow
def test_imaging_index_events_and_criteria_run_on_a_mart_with_image_occurrence(mart: Path) -> None:
    con = duckdb.connect(str(mart), read_only=True)
    io = con.execute(
        "SELECT person_id, image_occurrence_date, modality_source_value, anatomic_site_source_value "
        "FROM image_occurrence"
    ).fetchall()
    surgeries = con.execute("SELECT person_id, procedure_date FROM procedure_occurrence").fetchall()
    con.close()
    ct_head = {p for p, _, m, b in io if m == "CT" and b == "HEAD"}
    spec = CohortSpec(
        index=IndexEvent(domain="imaging", imaging=ImagingFilter(modalities=["ct"], body_parts=["head"]))
    )
    con = open_mart(mart)
    try:
        res = run_spec(spec, con, include_person_ids=True)
        assert res.status == "ok", res.message
        assert set(res.person_ids or []) == ct_head and res.count == len(ct_head)
        # an imaging criterion: an XA series 0..30 days after a surgery
        spec2 = CohortSpec(
            index=IndexEvent(domain="procedure", concepts=ConceptSet(concept_ids=[SURGERY])),
            criteria=[
                Criterion(
                    label="angio",
                    domain="imaging",
                    imaging=ImagingFilter(modalities=["XA"]),
                    window=Window(start=0, end=30),
                )
            ],
        )
        res2 = run_spec(spec2, con, include_person_ids=True)
    finally:
        con.close()
    expected = {
        p for p, d in surgeries for q, e, m, _ in io if q == p and m == "XA" and 0 <= (e - d).days <= 30
    }
    assert res2.status == "ok", res2.message
    assert set(res2.person_ids or []) == expected and expected


def test_ask_result_summarises_the_requested_images_per_modality(mart: Path) -> None:
    """run_spec's imaging summary counts exactly the rows the export's selection returns."""
    spec = CohortSpec(
        index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[DIAGNOSIS])),
        imaging=ImagingRequest(
            modalities=["CT", "MR", "US", "XA", "CR", "DX"], window=Window(start=0, end=365)
        ),
    )
    con = open_mart(mart)
    try:
        res = run_spec(spec, con, sample_size=0)
        rows = run_cohort_imaging(con, compile_cohort(spec), spec.imaging).rows
    finally:
        con.close()
    assert res.status == "ok" and res.imaging
    cols = list(SERIES_OUTPUT_COLUMNS)
    want: dict[str, dict[str, Any]] = {}
    for r in rows:
        row = dict(zip(cols, r, strict=True))
        w = want.setdefault(
            row["modality"], {"persons": set(), "studies": set(), "series": 0, "instances": 0}
        )
        w["persons"].add(row["person_id"])
        w["studies"].add(row["study_instance_uid"])
        w["series"] += 1
        w["instances"] += row["n_instances"]
    got = {r.modality: (r.persons, r.studies, r.series, r.instances) for r in res.imaging}
    assert got == {
        m: (len(w["persons"]), len(w["studies"]), w["series"], w["instances"]) for m, w in want.items()
    }
    assert sum(r.series for r in res.imaging) == len(rows) > 0
