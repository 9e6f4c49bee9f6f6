"""Export outputs (issue 11): 0600 files and 0700 folders, nothing left behind by a failed or interrupted
export, and a pinned index window cuts dates in every manifest format and in the DICOM copies."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pydicom import dcmread

import cohort_engine.deid.export as export_mod
from cohort_engine.deid.export import export_cohort
from cohort_engine.deid.policy import ReleasePolicy
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.compiler import CompiledCohort
from tests.deid_fixtures import compiled, corpus, mart  # noqa: F401  (fixtures)

SECRET = "release-export-secret-5e2a9c7b1d3f8e6a0c4b"


def _pinned_policy() -> ReleasePolicy:
    """As if the cohort's index range were one day (the cohort itself is the corpus's)."""
    one_day = {"index": {"domain": "condition", "date_range": {"start": "2020-05-01", "end": "2020-05-01"}}}
    return ReleasePolicy(project_key="pinned-rel", secret=SECRET).for_cohort(
        CohortSpec.model_validate(one_day)
    )


def _modes(root: Path) -> tuple[set[int], set[int]]:
    files = {stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_file()}
    dirs = {stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")] if p.is_dir()}
    return files, dirs


@pytest.mark.slow
def test_folder_export_is_private_and_dates_follow_the_precision(
    mart: Any, compiled: CompiledCohort, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    old = os.umask(0o022)  # a usual umask: the export must not rely on it
    try:
        summary = export_cohort(
            mart, compiled, None, _pinned_policy(), out, formats=["jsonl", "json", "csv", "parquet"]
        )
    finally:
        os.umask(old)
    assert summary.files_written > 0
    files, dirs = _modes(out)
    assert files == {0o600} and dirs == {0o700}
    assert not [p for p in out.rglob("*") if p.name.endswith(".part") or p.name.startswith(".staging")]
    jsonl = [json.loads(line) for line in (out / "manifest.jsonl").read_text("utf-8").splitlines()]
    as_json = json.loads((out / "manifest.json").read_text("utf-8"))
    with open(out / "manifest.csv", encoding="utf-8", newline="") as f:
        as_csv = list(csv.DictReader(f))
    as_parquet = pq.read_table(out / "manifest.parquet").to_pylist()
    for rows in (jsonl, as_json, as_parquet):
        assert rows and all(r["index_date"] is None for r in rows)
        assert all(re.fullmatch(r"\d{4}-Q[1-4]", r["study_date"]) for r in rows)
    assert as_csv and all(r["index_date"] == "" for r in as_csv)
    dicom_dates = {dcmread(p).StudyDate for p in (out / "files").rglob("*.dcm")}
    assert dicom_dates and all(re.fullmatch(r"\d{4}0101", d) for d in dicom_dates)  # year-cut copies
    record = json.loads((out / "export.json").read_text("utf-8"))
    assert record["options"]["date_precision_days"] == 30
    assert record["options"]["index_window_days"] == 1
    assert record["options"]["index_date"].startswith("withheld")
    assert record["options"]["dicom_date_granularity"] == "year"
    readme = (out / "README.txt").read_text("utf-8")
    assert "Stated date precision: 30 days." in readme and "- index_date: withheld" in readme
    assert "DICOM copies' dates: shifted per patient and cut to the year." in readme


@pytest.mark.slow
def test_zip_export_is_private(mart: Any, compiled: CompiledCohort, tmp_path: Path) -> None:
    out = tmp_path / "z"
    summary = export_cohort(mart, compiled, None, _pinned_policy(), out, archive=True, formats=["jsonl"])
    assert sorted(p.name for p in out.iterdir()) == ["pinned-rel.zip"] and summary.archive == "pinned-rel.zip"
    assert _modes(out) == ({0o600}, {0o700})
    with zipfile.ZipFile(out / "pinned-rel.zip") as zf:
        assert {"manifest.jsonl", "excluded.csv", "export.json", "README.txt"} <= set(zf.namelist())


@pytest.mark.slow
@pytest.mark.parametrize("archive", [False, True])
@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
def test_failed_or_interrupted_export_leaves_nothing(
    mart: Any,
    compiled: CompiledCohort,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    archive: bool,
    error: type[BaseException],
) -> None:
    real = export_mod._deidentify_one
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:  # a few files are written, then the disk fails or Ctrl-C / SIGTERM arrives
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(export_mod, "_deidentify_one", failing)
    out = tmp_path / "out"
    with pytest.raises(error):
        export_cohort(mart, compiled, None, _pinned_policy(), out, archive=archive)
    assert calls["n"] == 3
    assert list(out.iterdir()) == []  # no .part, no staging folder, no half release under final names
