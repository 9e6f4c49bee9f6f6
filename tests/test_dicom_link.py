"""Linking the DICOM index to the mart: exact image_occurrence rows on a tiny mart with demo files, every
unlinked study counted by reason, and the `cohort index` / `cohort link` commands (counts only)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pydicom
import pytest
from typer.testing import CliRunner

from cohort_engine.dicom_index.demo import demo_files, write_demo_dicom
from cohort_engine.dicom_index.indexer import index_folders
from cohort_engine.dicom_index.link import link_mart
from tests.dicom_fixtures import make_tiny_mart

ROOT = "1.2.826.0.1.3680043.8.498.7"
CONCEPTS = [  # procedure concepts: the date rule must pick the imaging one that fits the study's modality
    (2001, "Knee arthroscopy"),
    (2002, "Appendectomy"),
    (2003, "Magnetic resonance imaging of brain and brain stem"),
    (2004, "Computerized axial tomography of thorax"),
]
# procedure_occurrence_id, person_id, concept, date, visit
PROCEDURES = [
    (1000, 8, 2004, dt.date(2020, 5, 13), 501),  # study 1: accession A000001000, same person
    (1001, 3, 2003, dt.date(2022, 4, 15), 502),  # study 2: accession names another person's procedure
    (1003, 2, 2003, dt.date(2022, 9, 17), 503),  # study 4: accession, same person
    (2001, 2, 2001, dt.date(2021, 1, 1), 505),  # study 2, series 1: the earlier row's procedure (kept)
    (2002, 8, 2002, dt.date(2021, 11, 28), 506),  # study 5 (no procedure in its accession): not imaging
    (2003, 8, 2003, dt.date(2021, 11, 28), 507),  # imaging, but MR does not fit the CR/DX/CT study
    (2004, 8, 2004, dt.date(2021, 11, 28), 504),  # imaging and CT fits: chosen
    (2005, 8, 2004, dt.date(2021, 11, 29), 508),  # the next day: not a candidate
]


def _rows(mart: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(mart), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _extra_study(src: Path, dest: Path, n: int, patient_id: str) -> None:
    """A copy of one demo file as a study of its own with the given PatientID."""
    ds = pydicom.dcmread(src)
    ds.StudyInstanceUID = f"{ROOT}.{n}"
    ds.SeriesInstanceUID = f"{ROOT}.{n}.1"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.UID(f"{ROOT}.{n}.1.1")
    ds.PatientID = patient_id
    dest.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dest, enforce_file_format=True)


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """(target mart, DICOM folder, series UID → folder of its files)."""
    source = tmp_path / "source.duckdb"
    make_tiny_mart(source, persons=12, studies=6, seed=7)
    folder = tmp_path / "dicom"
    write_demo_dicom(source, folder, seed=4)
    folders = {
        str(pydicom.dcmread(f.path, stop_before_pixels=True).SeriesInstanceUID): str(f.path.parent)
        for f in demo_files(source, folder, seed=4)
    }
    first = min(p for p in folder.rglob("*") if p.is_file())
    _extra_study(first, folder / "extra" / "a.dcm", 90, "99999999")  # no such person
    _extra_study(first, folder / "extra" / "b.dcm", 91, "")  # no PatientID

    mart = tmp_path / "mart.duckdb"
    shutil.copy(source, mart)
    con = duckdb.connect(str(mart))
    con.executemany(
        "INSERT INTO concept (concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, "
        "concept_code, valid_start_date, valid_end_date) VALUES (?, ?, 'Procedure', 'ICD9Proc', "
        "'Procedure', 'x', DATE '1970-01-01', DATE '2099-12-31')",
        CONCEPTS,
    )
    con.executemany(
        "INSERT INTO procedure_occurrence (procedure_occurrence_id, person_id, procedure_concept_id, "
        "procedure_date, visit_occurrence_id) VALUES (?, ?, ?, ?, ?)",
        PROCEDURES,
    )
    # Person 12's MRN is also given to person 5: studies 3 and 6 cannot be linked.
    con.execute(
        "UPDATE person SET person_source_value = (SELECT person_source_value FROM person WHERE "
        "person_id = 12) "
        "WHERE person_id = 5"
    )
    # image_occurrence before linking: an earlier row for series 2.1, two rows for series 1.1, one ETL row
    # for a series the index does not hold.
    con.execute("DELETE FROM image_occurrence")
    con.executemany(
        "INSERT INTO image_occurrence (image_occurrence_id, person_id, procedure_occurrence_id, "
        "visit_occurrence_id, "
        "anatomic_site_concept_id, local_path, image_occurrence_date, image_study_uid, image_series_uid, "
        "modality_concept_id, modality_source_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                500,
                2,
                2001,
                999,
                678,
                "old/place",
                dt.date(2000, 1, 1),
                f"{ROOT}.2",
                f"{ROOT}.2.1",
                12345,
                "OT",
            ),
            (501, 8, None, None, None, None, dt.date(2000, 1, 1), f"{ROOT}.1", f"{ROOT}.1.1", None, "CT"),
            (502, 8, None, None, None, None, dt.date(2000, 1, 1), f"{ROOT}.1", f"{ROOT}.1.1", None, "CT"),
            (900, 1, None, None, None, None, dt.date(2020, 1, 1), "9.9", "9.9.1", None, "CT"),
        ],
    )
    con.close()
    return mart, folder, folders


def _expected(folders: dict[str, str]) -> list[tuple[Any, ...]]:
    d1, d2, d4, d5 = dt.date(2020, 5, 13), dt.date(2022, 4, 15), dt.date(2022, 9, 17), dt.date(2021, 11, 28)

    def row(
        id_: int,
        person: int,
        proc: int | None,
        visit: int | None,
        site_c: int | None,
        date: dt.date,
        study: int,
        series: int,
        mod_c: int | None,
        modality: str,
        site: str,
    ) -> tuple[Any, ...]:
        uid = f"{ROOT}.{study}.{series}"
        return (
            id_,
            person,
            proc,
            visit,
            site_c,
            None,
            folders[uid],
            date,
            f"{ROOT}.{study}",
            uid,
            mod_c,
            modality,
            site,
        )

    return [
        row(
            500, 2, 2001, 505, 678, d2, 2, 1, 12345, "MR", "KNEE"
        ),  # kept id, concepts, procedure (and its visit)
        row(501, 8, 1000, 501, None, d1, 1, 1, None, "CT", "HEAD"),  # duplicates 501/502 merged into 501
        (
            900,
            1,
            None,
            None,
            None,
            None,
            None,
            dt.date(2020, 1, 1),
            "9.9",
            "9.9.1",
            None,
            "CT",
            None,
        ),  # untouched
        row(901, 2, None, None, None, d2, 2, 2, None, "XA", "HEART"),  # accession of person 3: not used
        row(902, 2, None, None, None, d2, 2, 3, None, "US", "THYROID"),
        row(903, 2, 1003, 503, None, d4, 4, 1, None, "US", "THYROID"),
        row(904, 8, 2004, 504, None, d5, 5, 1, None, "CR", "CHEST"),  # by date: CT-named imaging procedure
        row(905, 8, 2004, 504, None, d5, 5, 2, None, "DX", "CHEST"),
        row(906, 8, 2004, 504, None, d5, 5, 3, None, "CT", "HEAD"),
    ]


@pytest.mark.slow
def test_image_occurrence_rows_are_exact(setup: tuple[Path, Path, dict[str, str]]) -> None:
    mart, folder, folders = setup
    index_folders(mart, [folder], workers=1)
    rep = link_mart(mart)
    assert _rows(mart, "SELECT * FROM image_occurrence ORDER BY image_occurrence_id") == _expected(folders)
    assert (rep.studies, rep.studies_linked, rep.series_linked, rep.series_unlinked) == (8, 4, 8, 8)
    assert rep.studies_unlinked == {
        "PatientID matches several persons": 2,
        "no PatientID": 1,
        "no person with this PatientID": 1,
    }
    assert (rep.rows_inserted, rep.rows_refreshed, rep.duplicate_rows_merged) == (6, 2, 1)
    assert (rep.procedures_by_accession, rep.procedures_by_date, rep.procedures_kept) == (2, 3, 1)
    assert (rep.series_without_procedure, rep.accession_of_other_person, rep.rows_not_in_index) == (2, 1, 1)

    # Linking again changes nothing.
    again = link_mart(mart)
    assert _rows(mart, "SELECT * FROM image_occurrence ORDER BY image_occurrence_id") == _expected(folders)
    assert (again.rows_inserted, again.rows_refreshed, again.duplicate_rows_merged) == (0, 8, 0)


@pytest.mark.slow
def test_cli_index_links_and_prints_counts_only(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    from cohort_engine.cli import app

    mart, folder, folders = setup
    runner = CliRunner()
    result = runner.invoke(app, ["index", "--mart", str(mart), str(folder), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert _rows(mart, "SELECT * FROM image_occurrence ORDER BY image_occurrence_id") == _expected(folders)
    for title in (
        "folder index",
        "linking to the mart",
        "studies not linked",
        "PatientID matches several persons",
    ):
        assert title in result.output
    secrets = [
        *folders,
        *folders.values(),
        str(folder),
        *(r[0] for r in _rows(mart, "SELECT person_source_value FROM person")),
    ]
    assert not [s for s in secrets if s in result.output]

    linked = runner.invoke(app, ["link", "--mart", str(mart)])
    assert linked.exit_code == 0 and "refreshed rows" in linked.output

    # An existing folder that is now empty (an unmounted share) is refused, and nothing is removed …
    shutil.rmtree(folder)
    folder.mkdir()
    refused = runner.invoke(app, ["index", "--mart", str(mart), str(folder)])
    assert refused.exit_code == 2 and "--allow-empty" in refused.output
    assert _rows(mart, "SELECT count(*) FROM dicom_instance")[0][0] > 0
    # … unless the operator says the files are gone; the links then stay (their series left the index).
    accepted = runner.invoke(app, ["index", "--mart", str(mart), str(folder), "--allow-empty"])
    assert accepted.exit_code == 0, accepted.output
    assert _rows(mart, "SELECT count(*) FROM dicom_instance")[0][0] == 0
    assert _rows(mart, "SELECT count(*) FROM image_occurrence")[0][0] == 9

    assert runner.invoke(app, ["index", "--mart", str(tmp_path / "typo.duckdb"), str(folder)]).exit_code == 2
    assert not (tmp_path / "typo.duckdb").exists()
    assert runner.invoke(app, ["index", "--mart", str(mart)]).exit_code == 2  # nothing to index
    assert runner.invoke(app, ["index", "--mart", str(mart), str(tmp_path / "missing")]).exit_code == 2


def test_link_creates_image_occurrence_on_a_mart_without_it(tmp_path: Path) -> None:
    source = tmp_path / "source.duckdb"
    make_tiny_mart(source, persons=5, studies=2, seed=1)
    write_demo_dicom(source, tmp_path / "dicom", seed=1)
    mart = tmp_path / "mart.duckdb"
    shutil.copy(source, mart)
    con = duckdb.connect(str(mart))
    con.execute("DROP TABLE image_occurrence")
    con.execute("DROP TABLE procedure_occurrence")
    con.close()
    index_folders(mart, [tmp_path / "dicom"], workers=1)
    rep = link_mart(mart)
    assert rep.studies_linked == 2 and rep.rows_inserted == rep.series_linked == rep.series_without_procedure
    original = _rows(
        source,
        "SELECT person_id, image_study_uid, image_series_uid, image_occurrence_date, "
        "modality_source_value FROM image_occurrence ORDER BY image_series_uid",
    )
    assert (
        _rows(
            mart,
            "SELECT person_id, image_study_uid, image_series_uid, image_occurrence_date, "
            "modality_source_value FROM image_occurrence ORDER BY image_series_uid",
        )
        == original
    )
