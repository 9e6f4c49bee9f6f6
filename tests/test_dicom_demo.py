"""`cohort demo-data` writes real Part-10 files under OUT/dicom/, indexes and links them into the demo mart.

The link must reproduce the generator's own image_occurrence rows for the series it wrote (persons,
dates, modalities, body parts, procedures by accession number, visits), adding only the files' folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from cohort_engine.cli import app
from cohort_engine.dicom_index.console import DEMO_MARKER
from cohort_engine.schema_catalog.demo import generate_mart

PERSONS, SEED, FILES = 3_000, 42, 600
COLS = (
    "image_occurrence_id, person_id, procedure_occurrence_id, visit_occurrence_id, image_occurrence_date, "
    "image_study_uid, image_series_uid, modality_source_value, anatomic_site_source_value"
)


def _rows(mart: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(mart), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_demo_data_writes_indexes_and_links_dicom(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    (out / "dicom").mkdir(parents=True)
    (out / "dicom" / "mine.txt").write_text("someone else's file")
    runner = CliRunner()
    refused = runner.invoke(app, ["demo-data", "--persons", str(PERSONS), "--out", str(out)])
    assert refused.exit_code == 2 and not (out / "mart.duckdb").exists()  # refused before any work
    (out / "dicom" / "mine.txt").unlink()

    result = runner.invoke(
        app,
        [
            "demo-data",
            "--persons",
            str(PERSONS),
            "--seed",
            str(SEED),
            "--out",
            str(out),
            "--dicom-files",
            str(FILES),
        ],
    )
    assert result.exit_code == 0, result.output
    mart = out / "mart.duckdb"
    files = [p for p in (out / "dicom").rglob("*") if p.is_file()]
    assert 500 <= len(files) <= 2 * FILES and (out / DEMO_MARKER).exists()
    (instances, quarantined, series, studies, modalities) = _rows(
        mart,
        """
        SELECT (SELECT count(*) FROM dicom_instance), (SELECT count(*) FROM dicom_quarantine),
               (SELECT count(*) FROM dicom_series), (SELECT count(*) FROM dicom_study),
               (SELECT count(DISTINCT modality) FROM dicom_series)""",
    )[0]
    assert (instances, quarantined) == (len(files), 0) and studies > 20 and modalities == 6

    # Every written series is linked, by accession number, to exactly the generator's row.
    reference = tmp_path / "reference"
    generate_mart(reference, persons=PERSONS, seed=SEED)
    indexed = {r[0] for r in _rows(mart, "SELECT series_instance_uid FROM dicom_series")}
    before = [
        r
        for r in _rows(reference / "mart.duckdb", f"SELECT {COLS} FROM image_occurrence ORDER BY 1")
        if r[6] in indexed
    ]
    after = _rows(
        mart,
        f"SELECT {COLS} FROM image_occurrence WHERE image_series_uid IN "
        "(SELECT series_instance_uid FROM dicom_series) ORDER BY 1",
    )
    assert after == before and len(after) == series
    assert _rows(
        mart,
        f"SELECT {COLS} FROM image_occurrence WHERE image_series_uid NOT IN "
        "(SELECT series_instance_uid FROM dicom_series) ORDER BY 1",
    ) == [
        r
        for r in _rows(reference / "mart.duckdb", f"SELECT {COLS} FROM image_occurrence ORDER BY 1")
        if r[6] not in indexed
    ]
    for local, uri in _rows(
        mart,
        "SELECT local_path, wadors_uri FROM image_occurrence WHERE image_series_uid IN "
        "(SELECT series_instance_uid FROM dicom_series)",
    ):
        assert Path(local).is_dir() and Path(local).is_relative_to(out.resolve() / "dicom") and uri is None
    assert "procedure by accession number" in result.output and "linking to the mart" in result.output
    uids = {r[0] for r in _rows(mart, "SELECT study_instance_uid FROM dicom_study")}
    mrns = {r[0] for r in _rows(mart, "SELECT patient_id FROM dicom_study")}
    assert not [v for v in uids | mrns if v in result.output]  # counts only
