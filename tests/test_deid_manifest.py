"""Manifests: keyed pseudonyms and UIDs, shifted dates, days from index, criteria, scrubbed text; the four
formats agree; 10,000 patients stream in flat memory; the REST API adapter pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from cohort_engine.deid.manifest import (
    FORMATS,
    INSTANCE_COLUMNS,
    SERIES_COLUMNS,
    ImagingManifestSource,
    ManifestRequest,
    count_manifest_rows,
    imaging_records,
    iter_manifest_rows,
    manifest_chunks,
    manifest_row,
    write_manifest,
)
from cohort_engine.deid.policy import ReleasePolicy, date_shift_days, pseudonym, remap_uid
from cohort_engine.dicom_index.indexer import ensure_tables
from cohort_engine.schema_catalog.ddl import omop_ddl
from cohort_engine.spec import CohortSpec, ImagingRequest
from cohort_engine.sql_guard.compiler import CompiledCohort, compile_cohort
from cohort_engine.sql_guard.errors import QueryError, QueryTimeout
from cohort_engine.sql_guard.runner import open_mart
from tests.deid_fixtures import compiled, corpus, mart  # noqa: F401  (fixtures)
from tests.dicom_fixtures import DEMO_IDENTITY_DDL
from tests.test_deid_leaks import Corpus

# Precision 1 day: these tests check the shifting itself; the stated precision has its own tests.
POLICY = ReleasePolicy(
    project_key="manifest-test",
    secret="manifest-test-secret-0123456789",
    date_precision_days=1,
    finer_precision_approved=True,
)


@pytest.mark.slow
def test_rows_are_keyed_shifted_and_scrubbed(corpus: Corpus, mart: Any, compiled: CompiledCohort) -> None:
    records = list(imaging_records(mart, compiled, None, POLICY, "series"))
    rows = list(iter_manifest_rows(mart, compiled, None, POLICY, "series"))
    assert len(rows) == len(records) == count_manifest_rows(mart, compiled, None, "series") > 10
    assert {1, 2, 3} <= {r.person_id for r in records}  # the persons of the planted files
    for rec, row in zip(records, rows, strict=True):
        assert list(row) == list(SERIES_COLUMNS)
        key = str(rec.person_id)
        shift = dt.timedelta(days=date_shift_days(POLICY, key))
        assert rec.index_date is not None and rec.series_date is not None
        assert row["patient"] == pseudonym(POLICY, key)
        assert row["study_uid"] == remap_uid(POLICY, rec.study_uid)
        assert row["series_uid"] == remap_uid(POLICY, rec.series_uid)
        assert row["index_date"] == (rec.index_date + shift).isoformat()
        assert row["series_date"] == (rec.series_date + shift).isoformat()
        # Intervals survive the shift: days from index computed on shifted dates = on real dates.
        shifted_days = (
            dt.date.fromisoformat(row["series_date"]) - dt.date.fromisoformat(row["index_date"])
        ).days
        assert row["days_from_index"] == shifted_days == (rec.series_date - rec.index_date).days
        assert [c["label"] for c in row["criteria"]] == ["imaging after", "no death"]
        imaging_after = dict(rec.criteria)["imaging after"]
        assert imaging_after is not None
        assert row["criteria"][0]["days_from_index"] == (imaging_after - rec.index_date).days
        assert row["criteria"][1]["days_from_index"] is None  # absence: no matched event
        assert row["total_bytes"] > 0 and row["n_instances"] >= 1
    planted = [r for rec, r in zip(records, rows, strict=True) if rec.study_uid == "1.2.410.200013.77.1"]
    who = corpus.identities[1]
    assert (
        planted and planted[0]["study_description"] == "CT chest for [NAME]님"
    )  # "Fam Giv 한글" is one span
    assert planted[0]["series_description"] == "AX 5mm [NAME] 환자 MRN [MRN]"
    assert who["family"] not in json.dumps(rows, ensure_ascii=False)


def test_instance_rows(mart: Any, compiled: CompiledCohort) -> None:
    rows = list(
        iter_manifest_rows(mart, compiled, ImagingRequest(modalities=["US", "CT"]), POLICY, "instance")
    )
    assert rows and all(list(r) == list(INSTANCE_COLUMNS) for r in rows)
    assert {r["modality"] for r in rows} == {"US", "CT"}
    assert len({r["sop_uid"] for r in rows}) == len(rows)
    assert {r["burned_in_annotation"] for r in rows if r["modality"] == "US"} == {"YES"}
    assert all(r["file_size"] > 0 and r["sop_uid"].startswith("2.25.") for r in rows)


def test_month_granularity(mart: Any, compiled: CompiledCohort) -> None:
    policy = ReleasePolicy(
        project_key="manifest-test",
        secret="manifest-test-secret-0123456789",
        date_granularity="month",
        date_precision_days=1,
        finer_precision_approved=True,
    )
    row = next(iter_manifest_rows(mart, compiled, None, policy))
    assert len(row["study_date"]) == len(row["index_date"]) == 7  # YYYY-MM


def _read(data: bytes, fmt: str) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        return [json.loads(line) for line in data.decode("utf-8").splitlines()]
    if fmt == "json":
        return json.loads(data)
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(data)).to_pylist()
    out = []
    for r in csv.DictReader(io.StringIO(data.decode("utf-8"))):
        out.append(
            {
                k: (
                    None
                    if v == ""
                    else json.loads(v)
                    if k == "criteria"
                    else int(v)
                    if k in ("days_from_index", "n_instances", "total_bytes", "file_size")
                    else v
                )
                for k, v in r.items()
            }
        )
    return out


@pytest.mark.slow
@pytest.mark.parametrize("level", ["series", "instance"])
@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_formats_round_trip_and_stream_identically(
    mart: Any, compiled: CompiledCohort, fmt: str, level: str
) -> None:
    rows = list(iter_manifest_rows(mart, compiled, None, POLICY, level))  # type: ignore[arg-type]
    sink = io.BytesIO()
    assert write_manifest(rows, sink, fmt, level, row_group_size=7) == len(rows)  # type: ignore[arg-type]
    assert _read(sink.getvalue(), fmt) == rows
    chunks = list(manifest_chunks(rows, fmt, level, chunk_bytes=512, row_group_size=7))  # type: ignore[arg-type]
    assert b"".join(chunks) == sink.getvalue()
    if fmt == "parquet":
        assert pq.ParquetFile(io.BytesIO(sink.getvalue())).num_row_groups == -(-len(rows) // 7)
    else:
        assert len(chunks) > 1


def test_empty_manifests_are_valid(tmp_path: Path) -> None:
    for fmt in FORMATS:
        path = tmp_path / f"m.{fmt}"
        assert write_manifest([], path, fmt) == 0
        assert _read(path.read_bytes(), fmt) == []
    assert (tmp_path / "m.csv").read_text().strip() == ",".join(SERIES_COLUMNS)


def test_record_repr_hides_identifying_values(mart: Any, compiled: CompiledCohort) -> None:
    rec = next(imaging_records(mart, compiled, None, POLICY, "instance"))
    text = repr(rec) + str(rec) + repr([rec])
    assert rec.study_uid not in text and (rec.path or "") not in text and "identifying values hidden" in text


def test_extra_identifiers_reach_the_scrubber(mart: Any, compiled: CompiledCohort) -> None:
    rec = next(r for r in imaging_records(mart, compiled, None, POLICY) if r.study_description)
    assert rec.study_description is not None
    word = rec.study_description.split()[0]
    row = manifest_row(rec, POLICY, extra_identifiers=[word])
    assert word not in (row["study_description"] or "")


@pytest.mark.slow
def test_api_adapter_counts_and_pages(mart: Any, compiled: CompiledCohort) -> None:
    req = ManifestRequest(
        con=mart,
        compiled=compiled,
        imaging=None,
        policy=POLICY,
        order_salt="salt-1",
        timeout_s=60,
    )
    source = ImagingManifestSource("series")
    assert source.columns == SERIES_COLUMNS
    everything = list(source.rows(req))
    assert source.count(req) == len(everything)
    pages = [r for off in range(0, len(everything), 4) for r in source.rows(req, offset=off, limit=4)]
    assert pages == everything
    reordered = list(source.rows(req.model_copy(update={"order_salt": "salt-2"})))
    assert reordered != everything
    assert sorted(map(json.dumps, reordered)) == sorted(map(json.dumps, everything))
    instances = ImagingManifestSource("instance")
    assert instances.columns == INSTANCE_COLUMNS
    # n_instances carries keyed jitter per release (unlinkable); the records hold the real counts.
    real = sum(rec.n_instances or 0 for rec in imaging_records(mart, compiled, None, POLICY, "series"))
    assert instances.count(req) == len(list(instances.rows(req))) == real


@pytest.mark.slow
def test_manifest_request_keeps_live_objects_and_defaults_the_order_to_the_policy(
    mart: Any, compiled: CompiledCohort
) -> None:
    req = ManifestRequest(con=mart, compiled=compiled, policy=POLICY)
    assert req.con is mart and req.compiled is compiled  # the live connection, not a copy
    assert (req.imaging, req.order_salt, req.timeout_s) == (None, None, None)
    by_policy = list(iter_manifest_rows(mart, compiled, None, POLICY))
    source = ImagingManifestSource("series")
    assert list(source.rows(req)) == list(source.rows(req.model_copy(update={"order_salt": ""}))) == by_policy
    fields = {"con": mart, "compiled": compiled, "policy": POLICY}
    with pytest.raises(ValidationError):  # the API's own fields (cohort id …) are not the release's
        ManifestRequest.model_validate({**fields, "cohort_id": "c1"})
    with pytest.raises(ValidationError):
        ManifestRequest.model_validate({**fields, "con": "mart.duckdb"})


@pytest.mark.slow
def test_api_adapter_time_limit(mart: Any, compiled: CompiledCohort, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's per-request time limit reaches every manifest query, and the runner enforces it."""
    import cohort_engine.deid.manifest as dm

    seen: list[float | None] = []
    real = dm.execute_internal

    def spy(con: Any, sql: str, params: Any = None, *, timeout_s: float | None = None) -> Any:
        seen.append(timeout_s)
        return real(con, sql, params, timeout_s=timeout_s)

    monkeypatch.setattr(dm, "execute_internal", spy)
    req = ManifestRequest(con=mart, compiled=compiled, imaging=None, policy=POLICY, timeout_s=42.0)
    source = ImagingManifestSource("instance")
    source.count(req)
    next(source.rows(req, limit=1))
    assert seen == [42.0, 42.0]
    # What the limit does: interrupts the query (QueryTimeout); other failures come without their values.
    with pytest.raises(QueryTimeout):
        real(mart, "SELECT count(*) FROM range(100000000000) AS a(x) WHERE x % 7 = 3", timeout_s=0.2)
    with pytest.raises(QueryError) as err:
        real(mart, "SELECT CAST('H12345678 Kim' AS INTEGER)", timeout_s=5)
    assert "H12345678" not in str(err.value) and "Kim" not in str(err.value)


# --------------------------------------------------------------------------------------------------
# 10,000 patients: batches from DuckDB, row groups out, flat memory
# --------------------------------------------------------------------------------------------------


def _big_mart(path: Path, n: int) -> None:
    """n persons, one indexed CT series each (no files needed for a manifest)."""
    con = duckdb.connect(str(path))
    try:
        con.execute(omop_ddl())
        ensure_tables(con)
        con.execute(DEMO_IDENTITY_DDL)
        con.execute(
            f"INSERT INTO person (person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth, "
            f"person_source_value) SELECT i, 8507, 1950 + i % 50, 1 + i % 12, 1 + i % 28, "
            f"'H' || lpad(CAST(i AS VARCHAR), 8, '0') FROM range(1, {n} + 1) t(i)"
        )
        con.execute(
            "INSERT INTO demo_identity SELECT i, 'Fam' || i, 'Giv' || i, '김' || i, i || ' "
            "Banpo-daero, Seoul', "
            f"'010-1234-' || lpad(CAST(i % 10000 AS VARCHAR), 4, '0') FROM range(1, {n} + 1) t(i)"
        )
        con.execute(
            "INSERT INTO condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, "
            "condition_start_date, condition_type_concept_id) "
            "SELECT person_id, person_id, 0, DATE '2020-01-01' + INTERVAL (person_id % 300) DAY, 0 "
            "FROM person"
        )
        con.execute(
            "INSERT INTO image_occurrence (image_occurrence_id, person_id, image_occurrence_date, "
            "image_study_uid, image_series_uid, modality_source_value) SELECT person_id, person_id, "
            "DATE '2020-06-01' + INTERVAL (person_id % 200) DAY, '1.2.3.' || person_id, "
            "'1.2.3.' || person_id || '.1', 'CT' FROM person"
        )
        con.execute(
            "INSERT INTO dicom_study (study_instance_uid, patient_id, study_date, study_description, "
            "accession_number, n_series, n_instances, n_files) SELECT image_study_uid, "
            "'H' || lpad(CAST(person_id AS VARCHAR), 8, '0'), image_occurrence_date, 'CT chest', "
            "'A' || person_id, 1, 3, 3 FROM image_occurrence"
        )
        con.execute(
            "INSERT INTO dicom_series (series_instance_uid, study_instance_uid, modality, "
            "body_part_examined, "
            "series_date, series_description, n_instances, n_files, total_bytes) SELECT image_series_uid, "
            "image_study_uid, 'CT', 'CHEST', image_occurrence_date, 'AX soft tissue', 3, 3, 30000 "
            "FROM image_occurrence"
        )
    finally:
        con.close()


class _Counting(io.RawIOBase):
    def __init__(self) -> None:
        self.n = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.n += len(b)
        return len(b)


class _SpyConnection:
    """Records how rows are fetched: one cursor, ``fetchmany`` batches, never ``fetchall``."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.fetches: list[int] = []

    def execute(self, *a: Any) -> Any:
        return self._con.execute(*a)

    def cursor(self) -> Any:
        spy, cur = self, self._con.cursor()

        class Cursor:
            def execute(self, *a: Any) -> Any:
                return cur.execute(*a)

            def fetchmany(self, n: int) -> list[Any]:
                rows = cur.fetchmany(n)
                spy.fetches.append(len(rows))
                return rows

            def close(self) -> None:
                cur.close()

        return Cursor()


@pytest.mark.slow
def test_ten_thousand_patients_stream(tmp_path: Path) -> None:
    n = 10_000
    _big_mart(tmp_path / "big.duckdb", n)
    con = open_mart(tmp_path / "big.duckdb")
    spy = _SpyConnection(con)
    compiled = compile_cohort(CohortSpec.model_validate({"index": {"domain": "condition"}}), {})
    blocks: dict[int, int] = {}

    def rows() -> Any:
        for i, row in enumerate(iter_manifest_rows(spy, compiled, None, POLICY, batch_size=500), start=1):  # type: ignore[arg-type]
            if i in (4000, n):
                blocks[i] = sys.getallocatedblocks()
            yield row

    sink = _Counting()
    try:
        assert write_manifest(rows(), sink, "parquet", row_group_size=1000) == n  # type: ignore[arg-type]
    finally:
        con.close()
    assert max(spy.fetches) == 500 and len(spy.fetches) == n // 500 + 1
    growth = blocks[n] - blocks[4000]
    # Held rows would cost ~15 interpreter blocks each (~90,000 for the last 6,000); streaming: caches only.
    print(
        f"\n10,000-patient manifest: {sink.n:,} bytes of Parquet, {len(spy.fetches)} fetches of <= 500 rows, "
        f"allocated blocks grew by {growth:,} over the last 6,000 rows"
    )
    assert growth < 20_000
