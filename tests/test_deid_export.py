"""DICOM export: layout without original identifiers, files consistent with the manifest, burned-in
exclusion, zip archive, bad files, and the CLI's secret handling."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from typer.testing import CliRunner

from cohort_engine.cli import app
from cohort_engine.deid.export import ExportError, ExportProgress, export_cohort
from cohort_engine.deid.policy import ReleasePolicy, date_period, pseudonym, remap_uid
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.compiler import CompiledCohort, compile_cohort
from cohort_engine.sql_guard.runner import open_mart
from tests.deid_fixtures import compiled, corpus, mart  # noqa: F401  (fixtures)
from tests.test_deid_leaks import SPEC, Corpus, build_corpus

SECRET = "export-test-secret-0123456789abcdef"
# The spec's index range is years wide: the index window does not pin dates, the copies keep exact dates.
POLICY = ReleasePolicy(project_key="export-test", secret=SECRET).for_cohort(CohortSpec.model_validate(SPEC))
_UID = r"2\.25\.\d{1,39}"
FILE_PATH = re.compile(rf"files/P-[A-Z2-7]{{16}}/{_UID}/{_UID}/{_UID}\.dcm")


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_folder_export_matches_manifest(mart: Any, compiled: CompiledCohort, tmp_path: Path) -> None:
    seen: list[ExportProgress] = []
    out = tmp_path / "out"
    summary = export_cohort(mart, compiled, None, POLICY, out, progress=seen.append)
    assert sorted(p.name for p in out.iterdir()) == [
        "README.txt",
        "excluded.csv",
        "export.json",
        "files",
        "manifest.csv",
        "manifest.jsonl",
        "manifest.parquet",
    ]
    files = sorted(str(p.relative_to(out)) for p in (out / "files").rglob("*") if p.is_file())
    assert files and all(FILE_PATH.fullmatch(f) for f in files)
    assert summary.files_written == len(files) and summary.files_seen == seen[-1].files_total == len(seen) - 1
    assert seen[0].files_done == 0 and seen[-1].files_done == summary.files_seen
    assert summary.files_excluded == summary.excluded_reasons["burned_in_annotation"] > 0
    assert summary.bytes_written == sum((out / f).stat().st_size for f in files)

    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text("utf-8").splitlines()]
    assert len(rows) == summary.series == summary.manifest_rows
    by_series = {r["series_uid"]: r for r in rows}
    written: dict[str, int] = {}
    for f in files:
        _, patient, study, series, name = f.split("/")
        ds = dcmread(out / f)
        row = by_series[series]
        # The file and the manifest agree on the keyed values: pseudonym, UIDs, shifted dates.
        assert ds.PatientID == ds.PatientName == patient == row["patient"]
        assert (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID + ".dcm") == (
            study,
            series,
            name,
        )
        assert row["study_uid"] == study
        # The manifest shows the period of the stated precision (30 days → quarter) the file's date is in.
        assert date_period(dt.datetime.strptime(ds.StudyDate, "%Y%m%d").date(), 30) == row["study_date"]
        assert ds.PatientIdentityRemoved == "YES"
        written[series] = written.get(series, 0) + 1
    for r in rows:
        assert r["files_written"] == written.get(r["series_uid"], 0)
        n = r["files_written"] + r["files_excluded"]  # n_instances carries keyed jitter (+-15 %, >= 2)
        assert abs(r["n_instances"] - n) <= max(2, n * 15 // 100)
    excluded = _csv(out / "excluded.csv")
    assert len(excluded) == summary.files_excluded
    assert {e["reason"] for e in excluded} == {"burned_in_annotation"}
    assert all(by_series[e["series_uid"]]["modality"] == "US" for e in excluded)
    assert all(re.fullmatch(_UID, e["sop_uid"]) and e["patient"].startswith("P-") for e in excluded)
    record = json.loads((out / "export.json").read_text("utf-8"))
    assert record["project_key"] == "export-test" and record["files_written"] == summary.files_written
    assert SECRET not in (out / "export.json").read_text("utf-8")


@pytest.mark.slow
def test_zip_instance_level_with_burned_in_allowed(
    mart: Any, compiled: CompiledCohort, tmp_path: Path
) -> None:
    policy = ReleasePolicy(project_key="export-test", secret=SECRET, allow_burned_in=True)
    out = tmp_path / "zip"
    summary = export_cohort(
        mart, compiled, None, policy, out, level="instance", formats=["json", "csv"], archive=True
    )
    assert [p.name for p in out.iterdir()] == ["export-test.zip"]
    assert summary.files_excluded == 0 and summary.archive == "export-test.zip"
    with zipfile.ZipFile(out / "export-test.zip") as zf:
        names = zf.namelist()
        assert {"manifest.json", "manifest.csv", "excluded.csv", "export.json"} <= set(names)
        members = [n for n in names if n.startswith("files/")]
        assert len(members) == summary.files_written and all(FILE_PATH.fullmatch(n) for n in members)
        rows = json.loads(zf.read("manifest.json"))
        assert len(rows) == summary.files_seen
        assert {r["file"] for r in rows} == set(members) and {r["status"] for r in rows} == {"written"}
        assert all(zf.getinfo(n).compress_type == zipfile.ZIP_STORED for n in names)
        us = [r for r in rows if r["modality"] == "US"]
        assert us and all(r["burned_in_annotation"] == "YES" for r in us)


@pytest.mark.slow
def test_same_release_same_values_other_release_unlinkable(
    mart: Any, compiled: CompiledCohort, tmp_path: Path
) -> None:
    def patients(policy: ReleasePolicy, name: str) -> set[str]:
        out = tmp_path / name
        export_cohort(mart, compiled, None, policy, out, formats=["jsonl"])
        return {json.loads(line)["patient"] for line in (out / "manifest.jsonl").read_text().splitlines()}

    again = patients(POLICY, "a")
    assert again == patients(ReleasePolicy(project_key="export-test", secret=SECRET), "b")
    assert not again & patients(ReleasePolicy(project_key="other-project", secret=SECRET), "c")


@pytest.mark.slow
def test_bad_files_are_left_out_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    small = build_corpus(tmp_path / "c", persons=4, studies=3)
    files = sorted(p for p in small.dicom.rglob("*") if p.is_file() and "planted" not in p.parts)
    files[0].write_bytes(files[0].read_bytes()[:-10])  # truncated after indexing
    files[1].unlink()
    files[2].write_bytes(b"\0" * files[2].stat().st_size)  # same size, not DICOM any more
    con = open_mart(small.mart)
    try:
        compiled = compile_cohort(CohortSpec.model_validate({"index": {"domain": "condition"}}), {})
        summary = export_cohort(con, compiled, None, POLICY, tmp_path / "out")
    finally:
        con.close()
    reasons = {k: v for k, v in summary.excluded_reasons.items() if k != "burned_in_annotation"}
    assert reasons == {"changed_since_indexing": 1, "missing_file": 1, "unreadable": 1}
    assert summary.files_written == summary.files_seen - summary.files_excluded > 0


def test_output_folder_must_be_empty(mart: Any, compiled: CompiledCohort, tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "old.txt").write_text("previous release")
    with pytest.raises(ExportError, match="must not exist yet or be empty"):
        export_cohort(mart, compiled, None, POLICY, tmp_path / "x")


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def _err(res: Any) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(res.stderr.split())


def _export(corpus: Corpus, out: Path, *args: str, env: Mapping[str, str | None] | None = None) -> Any:
    return CliRunner().invoke(
        app,
        ["export", "--mart", str(corpus.mart), "--project-key", "cli-test", "--out", str(out), *args],
        env=env or {"COHORT_RELEASE_SECRET": None},
    )


@pytest.mark.slow
def test_cli_secret_never_from_the_command_line(corpus: Corpus, tmp_path: Path) -> None:
    sentence = "patients diagnosed between 2018-01-01 and 2024-12-31"
    res = _export(corpus, tmp_path / "a", sentence)
    assert res.exit_code == 2 and "--secret-file" in _err(res) and "COHORT_RELEASE_SECRET" in _err(res)
    assert not (tmp_path / "a").exists()
    res = _export(corpus, tmp_path / "a", "--secret", "x" * 20, sentence)
    assert res.exit_code == 2 and "No such option" in _err(res)  # there is no --secret option at all
    short = "short-secret-9"
    res = _export(corpus, tmp_path / "a", sentence, env={"COHORT_RELEASE_SECRET": short})
    assert res.exit_code == 2 and "too short (at least 32 bytes)" in _err(res) and short not in res.output
    assert "head -c 32 /dev/urandom | base64 > release.secret && chmod 600 release.secret" in _err(res)
    missing = tmp_path / "no-such-secret"
    res = _export(corpus, tmp_path / "a", "--secret-file", str(missing), sentence)
    assert res.exit_code == 2 and "the secret file does not exist" in _err(res)
    loose = tmp_path / "secret"
    loose.write_text(SECRET)
    os.chmod(loose, 0o644)
    res = _export(corpus, tmp_path / "b", "--secret-file", str(loose), "--format", "csv", sentence)
    assert res.exit_code == 2 and "readable or writable by other users (mode 0644)" in _err(res)
    assert SECRET not in res.output and not (tmp_path / "b").exists()
    os.chmod(loose, 0o600)
    res = _export(corpus, tmp_path / "b", "--secret-file", str(loose), "--format", "csv", sentence)
    assert res.exit_code == 0, res.output
    assert "files written" in res.stdout and (tmp_path / "b" / "manifest.csv").exists()


@pytest.mark.slow
def test_cli_arguments_and_cohort_outcomes(corpus: Corpus, tmp_path: Path) -> None:
    env = {"COHORT_RELEASE_SECRET": SECRET}
    res = _export(corpus, tmp_path / "a", env=env)
    assert res.exit_code == 2 and "either a sentence or --spec" in _err(res)
    res = _export(corpus, tmp_path / "a", "--level", "study", "patients diagnosed with MI", env=env)
    assert res.exit_code == 2 and "--level" in _err(res)
    res = _export(corpus, tmp_path / "a", "patients diagnosed with MI in 2023", env=env)
    assert res.exit_code == 3  # the tiny mart has no such concept: the parser's clarification, no output
    assert not (tmp_path / "a").exists()
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    res = _export(corpus, tmp_path / "ok", "--spec", str(spec), "--json", "--level", "instance", env=env)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["level"] == "instance" and summary["files_written"] > 0
    res = _export(corpus, tmp_path / "ok", "--spec", str(spec), env=env)
    assert res.exit_code == 2 and "must not exist yet or be empty" in _err(res)


def test_cli_mart_without_dicom_index(tmp_path: Path) -> None:
    from tests.dicom_fixtures import make_tiny_mart

    make_tiny_mart(tmp_path / "m.duckdb", persons=3, studies=2)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"index": {"domain": "imaging"}}))
    res = CliRunner().invoke(
        app,
        [
            "export",
            "--mart",
            str(tmp_path / "m.duckdb"),
            "--project-key",
            "p",
            "--out",
            str(tmp_path / "o"),
            "--spec",
            str(spec),
        ],
        env={"COHORT_RELEASE_SECRET": SECRET},
    )
    assert res.exit_code == 2 and "no DICOM index" in _err(res)


@pytest.mark.slow
def test_paths_hold_no_original_uid(mart: Any, compiled: CompiledCohort, tmp_path: Path) -> None:
    """Demo SOP UIDs are 2.25 UIDs too, so the path pattern alone proves nothing: compare with the
    originals."""
    from cohort_engine.deid.manifest import imaging_records

    out = tmp_path / "out"
    export_cohort(mart, compiled, None, POLICY, out, formats=["jsonl"])
    paths = {str(p.relative_to(out)) for p in out.rglob("*")}
    components = {c for p in paths for c in p.split("/")} | {p.removesuffix(".dcm") for p in paths}
    records = list(imaging_records(mart, compiled, None, POLICY, "instance"))
    originals = (
        {r.study_uid for r in records} | {r.series_uid for r in records} | {str(r.sop_uid) for r in records}
    )
    assert not originals & {c.removesuffix(".dcm") for c in components}
    assert {pseudonym(POLICY, str(r.person_id)) for r in records} <= components
    assert {remap_uid(POLICY, r.series_uid) for r in records if r.modality != "US"} <= components
