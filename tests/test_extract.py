"""De-identified record extraction as a dataset (issue 12, items 1-4): `cohort extract`.

* exact rows: every domain of a small cohort (any diagnosis on 2023-10-01..03) against hand-written
  SQL on the demo mart — counts, days_from_index, concept code and name, and the shifted dates — under
  four precisions (one day: date = real date + the person's shift; quarter; year; none);
* the pseudonyms are the image manifest's for the same person, and records join the manifest on them;
* a leak test: names, MRN-like strings and provider/care-site ids planted into a copy of the demo mart
  (notes, every source value and free-text column, the key columns) appear in no extracted byte;
* the Data Package validates (frictionless: the CSV release with its data and foreign keys, the
  Parquet release's descriptor, and each Parquet file's schema against it);
* the disclosure check: table-driven cases of the generalisation steps, and a planted person alone in
  their class, withheld from every file;
* the CLI: its errors for bad domains, windows, formats, secret files, project keys and folders, and a
  run whose files are 0600 in a 0700 folder with no staging folder left.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import stat
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import frictionless
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cohort_engine.cli import app
from cohort_engine.deid.dataset import ExtractError, ExtractOptions, extract_dataset
from cohort_engine.deid.kanon import age_band, generalise, sex_label
from cohort_engine.deid.manifest import iter_manifest_rows
from cohort_engine.deid.policy import (
    ReleasePolicy,
    date_shift_days,
    jitter_days,
    pseudonym,
    release_date,
)
from cohort_engine.deid.records import DOMAIN_NAMES, RecordWindow, parse_domains, parse_window
from cohort_engine.pipeline import compile_spec
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.compiler import CompiledCohort
from cohort_engine.sql_guard.runner import open_mart

SECRET = "extract-test-secret-8d1f0b7e2c9a4f6e3b5d"
#: Any diagnosis in three days: a small cohort whose definition is easy to write by hand.
SMALL_SPEC = {"index": {"domain": "condition", "date_range": {"start": "2023-10-01", "end": "2023-10-03"}}}
SMALL_COHORT_SQL = (
    "SELECT person_id, min(condition_start_date) AS index_date FROM condition_occurrence "
    "WHERE condition_start_date BETWEEN DATE '2023-10-01' AND DATE '2023-10-03' GROUP BY person_id"
)
#: MI patients of 2023: many have coronary angiograms in the demo DICOM index.
MI_SENTENCE = "patients diagnosed with MI in 2023"
MI_SPEC = {
    "index": {
        "domain": "condition",
        "concepts": {"terms": ["MI"]},
        "date_range": {"start": "2023-01-01", "end": "2023-12-31"},
    }
}
#: Hand-written SQL per domain: (person_id, start date, end date, concept id) of every event.
HAND_SQL: dict[str, str] = {
    "conditions": "SELECT person_id, condition_start_date, condition_end_date, condition_concept_id "
    "FROM condition_occurrence",
    "procedures": "SELECT person_id, procedure_date, NULL, procedure_concept_id FROM procedure_occurrence",
    "drugs": "SELECT person_id, drug_exposure_start_date, drug_exposure_end_date, drug_concept_id "
    "FROM drug_exposure",
    "measurements": "SELECT person_id, measurement_date, NULL, measurement_concept_id FROM measurement",
    "observations": "SELECT person_id, observation_date, NULL, observation_concept_id FROM observation",
    "visits": "SELECT person_id, visit_start_date, visit_end_date, visit_concept_id FROM visit_occurrence",
    "death": "SELECT person_id, death_date, NULL, cause_concept_id FROM death",
}

#: Tests on the demo mart are ``slow``: its DICOM-indexed build takes ~7 s once per session.
slow = pytest.mark.slow


def _policy(project: str = "extract-test", **kw: Any) -> ReleasePolicy:
    return ReleasePolicy(project_key=project, secret=SECRET, **kw)


@pytest.fixture(scope="module")
def con(demo_dicom_mart_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = open_mart(demo_dicom_mart_path)
    yield c
    c.close()


@pytest.fixture(scope="module")
def small(con: duckdb.DuckDBPyConnection) -> tuple[CohortSpec, CompiledCohort]:
    spec = CohortSpec.model_validate(SMALL_SPEC)
    return spec, compile_spec(spec, con)


@pytest.fixture(scope="module")
def mi(con: duckdb.DuckDBPyConnection) -> tuple[CohortSpec, CompiledCohort]:
    spec = CohortSpec.model_validate(MI_SPEC)
    return spec, compile_spec(spec, con)


def _read(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".csv":
        return pacsv.read_csv(path).to_pylist()
    return pq.read_table(path).to_pylist()


# --------------------------------------------------------------------------------------------------
# Options: domains and windows
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-365:365", (-365, 365)),
        ("0:90", (0, 90)),
        ("-30:", (-30, None)),
        (":0", (None, 0)),
        ("all", (None, None)),
        (" ALL ", (None, None)),
        ("+7:+14", (7, 14)),
    ],
)
def test_windows_parse(text: str, expected: tuple[int | None, int | None]) -> None:
    w = parse_window(text)
    assert (w.start, w.end) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("365:-365", "after its end"),
        ("soon", "START:END"),
        (":", "START:END"),
        ("1:2:3", "START:END"),
        ("-99999:0", "36500"),
    ],
)
def test_bad_windows_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drugs,conditions", ("conditions", "drugs")),
        ("Death , visits", ("visits", "death")),
        (",".join(DOMAIN_NAMES), DOMAIN_NAMES),
    ],
)
def test_domains_parse_in_canonical_order(text: str, expected: tuple[str, ...]) -> None:
    assert parse_domains(text) == expected


@pytest.mark.parametrize(
    ("text", "message"), [("conditions,notes", "unknown domain 'notes'"), (" , ", "no domain")]
)
def test_bad_domains_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_domains(text)


# --------------------------------------------------------------------------------------------------
# The disclosure check, table-driven
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "width", "band"),
    [(0, 5, "0-4"), (64, 5, "60-64"), (64, 10, "60-69"), (89, 5, "85-89"), (90, 5, "90+"), (103, 10, "90+")]
    + [(None, 5, "unknown"), (-1, 5, "unknown")],
)
def test_age_bands_are_top_coded(age: int | None, width: int, band: str) -> None:
    assert age_band(age, width) == band


def test_sex_labels() -> None:
    assert [sex_label(c) for c in (8532, 8507, 0, None)] == ["F", "M", "unknown", "unknown"]


@pytest.mark.parametrize(
    ("case", "qis", "k", "steps", "counts"),
    [
        ("all in one class", [("F", 62, 2023)] * 3, 3, [0, 0, 0], (3, 0, 0, 0)),
        # two 60-64 and one 65-69: together in the 10-year band 60-69
        ("band widened", [("F", 61, 2023)] * 2 + [("F", 66, 2023)], 3, [1, 1, 1], (0, 3, 0, 0)),
        # three of 2023, one of 2022: the 2022 one is alone until the year goes; then 1 < 3: withheld
        ("rare one withheld", [("M", 40, 2023)] * 3 + [("M", 41, 2022)], 3, [0, 0, 0, None], (3, 0, 0, 1)),
        # two of 2022 and one of 2023 in 60-69: only without the year do they make three
        (
            "year removed",
            [("F", 60, 2022), ("F", 69, 2022), ("F", 65, 2023), ("M", 30, 2020)] + [("M", 31, 2020)] * 2,
            3,
            [2, 2, 2, 0, 0, 0],
            (3, 0, 3, 0),
        ),
        ("nobody", [], 11, [], (0, 0, 0, 0)),
    ],
)
def test_generalisation_steps(
    case: str,
    qis: list[tuple[str, int | None, int | None]],
    k: int,
    steps: list[int | None],
    counts: tuple[int, int, int, int],
) -> None:
    got, report = generalise(qis, k)
    assert got == steps, case
    assert (report.kept, report.age_band_widened, report.index_year_removed, report.withheld) == counts
    assert report.released == len(qis) - report.withheld
    assert report.smallest_released_class is None or report.smallest_released_class >= k


def test_k_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="k must be at least 2"):
        generalise([("F", 1, 2020)], 1)


# --------------------------------------------------------------------------------------------------
# Exact rows against hand-written SQL
# --------------------------------------------------------------------------------------------------


def _hand_rows(con: duckdb.DuckDBPyConnection, domain: str) -> list[tuple[Any, ...]]:
    sql = f"""WITH coh AS ({SMALL_COHORT_SQL})
SELECT e.person_id, coh.index_date, e.start_date, e.end_date, e.concept_id, c.vocabulary_id, c.concept_code,
       c.concept_name
FROM ({HAND_SQL[domain]}) AS e(person_id, start_date, end_date, concept_id)
JOIN coh ON coh.person_id = e.person_id
LEFT JOIN concept AS c ON c.concept_id = e.concept_id
WHERE e.start_date BETWEEN coh.index_date - 365 AND coh.index_date + 365"""
    return con.execute(sql).fetchall()


@slow
@pytest.mark.parametrize(
    ("name", "policy_kw", "date_pattern"),
    [
        ("day", {"date_precision_days": 1, "finer_precision_approved": True}, None),
        ("quarter", {}, r"\d{4}-Q[1-4]"),
        ("year", {"date_precision_days": 365}, r"\d{4}"),
        ("none", {"date_precision_days": 400}, None),
    ],
)
def test_rows_equal_hand_written_sql(
    con: duckdb.DuckDBPyConnection,
    small: tuple[CohortSpec, CompiledCohort],
    tmp_path: Path,
    name: str,
    policy_kw: dict[str, Any],
    date_pattern: str | None,
) -> None:
    import re

    spec, compiled = small
    policy = _policy(**policy_kw).for_cohort(spec)
    summary = extract_dataset(con, compiled, policy, tmp_path / "rel", ExtractOptions(images=False))
    persons = {r["patient"]: r for r in _read(tmp_path / "rel" / "persons.parquet")}
    assert list(persons) == sorted(persons)  # keyed order, never the person ids
    cohort = dict(con.execute(SMALL_COHORT_SQL).fetchall())
    by_patient = {pseudonym(policy, str(pid)): pid for pid in cohort}
    assert set(persons) <= set(by_patient) and summary.disclosure.persons == len(cohort)
    assert len(persons) == summary.persons == len(cohort) - summary.disclosure.withheld
    # the index window (3 days) is narrower than every precision but one day: index dates withheld
    assert all(p["index_date"] is None for p in persons.values()) == (name != "day")

    for domain in DOMAIN_NAMES:
        got = _read(tmp_path / "rel" / f"{domain}.parquet")
        assert summary.rows[domain] == len(got)
        expected: Counter[tuple[Any, ...]] = Counter()
        for pid, index_date, start, end, cid, vocab, code, cname in _hand_rows(con, domain):
            patient = pseudonym(policy, str(pid))
            if patient not in persons:
                continue  # withheld by the disclosure check
            key = str(pid)
            shifted: Any = None
            if persons[patient]["generalisation"] != "index_year_removed":
                shifted = release_date(policy, key, start)
                if name == "day":  # the promise, spelled out: real date + this person's shift
                    shifted = start + dt.timedelta(days=date_shift_days(policy, key))
                    assert release_date(policy, key, start) == shifted.isoformat()
            days = jitter_days(policy, key, (start - index_date).days)
            if name == "day":
                assert days == (start - index_date).days
            end_days = None if end is None else jitter_days(policy, key, (end - index_date).days)
            row = (patient, shifted, days, cid, vocab, code, cname)
            expected[row + ((end_days,) if domain in ("conditions", "drugs", "visits") else ())] += 1
        actual = Counter(
            (r["patient"], r["date"], r["days_from_index"], r["concept_id"], r["vocabulary_id"])
            + (r["concept_code"], r["concept_name"])
            + ((r["end_days_from_index"],) if "end_days_from_index" in r else ())
            for r in got
        )
        assert actual == expected, domain
        assert sum(expected.values()) > 0 or domain == "death", f"{domain}: no rows to compare"
        if date_pattern:
            assert all(re.fullmatch(date_pattern, r["date"]) for r in got if r["date"] is not None)
        if name == "none":
            assert all(r["date"] is None for r in got)


@slow
def test_measurements_carry_value_unit_and_range(
    con: duckdb.DuckDBPyConnection, small: tuple[CohortSpec, CompiledCohort], tmp_path: Path
) -> None:
    spec, compiled = small
    policy = _policy().for_cohort(spec)
    opts = ExtractOptions(domains=("measurements", "conditions"), images=False, k=2)
    extract_dataset(con, compiled, policy, tmp_path / "rel", opts)
    released = {r["patient"] for r in _read(tmp_path / "rel" / "persons.parquet")}
    hand = con.execute(
        f"""WITH coh AS ({SMALL_COHORT_SQL})
SELECT m.person_id, m.measurement_concept_id, m.value_as_number, u.concept_code, m.range_low, m.range_high
FROM measurement AS m JOIN coh USING (person_id) LEFT JOIN concept AS u ON u.concept_id = m.unit_concept_id
WHERE m.measurement_date BETWEEN coh.index_date - 365 AND coh.index_date + 365"""
    ).fetchall()
    expected = Counter(
        (pseudonym(policy, str(pid)), cid, v, unit, lo, hi)
        for pid, cid, v, unit, lo, hi in hand
        if pseudonym(policy, str(pid)) in released
    )
    got = _read(tmp_path / "rel" / "measurements.parquet")
    assert (
        Counter(
            (
                r["patient"],
                r["concept_id"],
                r["value_as_number"],
                r["unit_code"],
                r["range_low"],
                r["range_high"],
            )
            for r in got
        )
        == expected
    )
    assert any(r["unit_code"] for r in got) and any(r["range_high"] is not None for r in got)
    korean = dict(
        con.execute(
            "SELECT concept_id, min(concept_synonym_name) FROM concept_synonym "
            "WHERE language_concept_id = 4175771 GROUP BY 1"
        ).fetchall()
    )
    conditions = _read(tmp_path / "rel" / "conditions.parquet")
    assert all(r["concept_name_ko"] == korean.get(r["concept_id"]) for r in conditions + got)
    assert any(r["concept_name_ko"] for r in conditions)


@slow
def test_window_all_and_narrow(
    con: duckdb.DuckDBPyConnection, small: tuple[CohortSpec, CompiledCohort], tmp_path: Path
) -> None:
    spec, compiled = small
    policy = _policy(date_precision_days=1, finer_precision_approved=True).for_cohort(spec)
    counts = {}
    for label, window in (("all", RecordWindow(start=None, end=None)), ("0:0", RecordWindow(start=0, end=0))):
        opts = ExtractOptions(domains=("conditions",), window=window, images=False, k=2)
        s = extract_dataset(con, compiled, policy, tmp_path / label.replace(":", "_"), opts)
        counts[label] = s.rows["conditions"]
        rows = _read(tmp_path / label.replace(":", "_") / "conditions.parquet")
        if label == "0:0":
            assert rows and {r["days_from_index"] for r in rows} == {0}
    assert counts["all"] > counts["0:0"] > 0


# --------------------------------------------------------------------------------------------------
# Pseudonyms and the image manifest
# --------------------------------------------------------------------------------------------------


@slow
def test_records_join_the_image_manifest_on_the_pseudonym(
    con: duckdb.DuckDBPyConnection, mi: tuple[CohortSpec, CompiledCohort], tmp_path: Path
) -> None:
    spec, compiled = mi
    policy = _policy().for_cohort(spec)
    summary = extract_dataset(con, compiled, policy, tmp_path / "rel", ExtractOptions(k=2))
    persons = _read(tmp_path / "rel" / "persons.parquet")
    images = _read(tmp_path / "rel" / "images.parquet")
    procedures = _read(tmp_path / "rel" / "procedures.parquet")
    assert summary.image_series == len(images) > 0
    # the manifest the export and the REST API write, for the same policy: same pseudonyms
    manifest = list(iter_manifest_rows(con, compiled, None, policy))
    released = {p["patient"] for p in persons}
    assert {r["patient"] for r in manifest} & released == {r["patient"] for r in images}

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["patient"], r["study_uid"], r["series_uid"], r["days_from_index"], r["n_instances"])

    assert [key(r) for r in manifest if r["patient"] in released] == [key(r) for r in images]
    pids = [r[0] for r in con.execute(f"SELECT person_id FROM ({compiled.cohort_sql})").fetchall()]
    assert released <= {pseudonym(policy, str(pid)) for pid in pids}
    # the join: each image series in the window has its imaging procedure in the records, same day
    # offset (both carry the person's one jitter)
    proc_days = {(r["patient"], r["days_from_index"]) for r in procedures}
    in_window = [r for r in images if r["patient"] in released and abs(r["days_from_index"] or 0) <= 350]
    assert in_window and all((r["patient"], r["days_from_index"]) in proc_days for r in in_window)


# --------------------------------------------------------------------------------------------------
# The Data Package
# --------------------------------------------------------------------------------------------------

_ARROW_OF = {"string": "string", "integer": "int64", "number": "double", "date": "date32[day]"}


@slow
def test_datapackage_validates(
    con: duckdb.DuckDBPyConnection, mi: tuple[CohortSpec, CompiledCohort], tmp_path: Path
) -> None:
    spec, compiled = mi
    policy = _policy().for_cohort(spec)
    extract_dataset(con, compiled, policy, tmp_path / "csv", ExtractOptions(format="csv"))
    report = frictionless.validate(str(tmp_path / "csv" / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]

    day = _policy(date_precision_days=1, finer_precision_approved=True).for_cohort(spec)
    extract_dataset(con, compiled, day, tmp_path / "pq", ExtractOptions())
    descriptor = json.loads((tmp_path / "pq" / "datapackage.json").read_text("utf-8"))
    assert list(frictionless.Package.metadata_validate(descriptor)) == []
    names = [r["name"] for r in descriptor["resources"]]
    assert names == ["persons", *DOMAIN_NAMES, "images"]
    for res in descriptor["resources"]:
        schema = pq.read_schema(tmp_path / "pq" / res["path"])
        declared = res["schema"]["fields"]
        assert schema.names == [f["name"] for f in declared], res["name"]
        assert all(f["description"] for f in declared)
        if res["name"] != "images":  # the manifest has its own (string dates, nested criteria)
            assert [str(t) for t in schema.types] == [_ARROW_OF[f["type"]] for f in declared], res["name"]
        if res["name"] != "persons":
            assert res["schema"]["foreignKeys"][0]["reference"] == {
                "resource": "persons",
                "fields": ["patient"],
            }
    # descriptions come from the catalogue where a column has one there
    measurement = next(r for r in descriptor["resources"] if r["name"] == "measurements")
    desc = {f["name"]: f["description"] for f in measurement["schema"]["fields"]}
    assert desc["range_low"] == "Reference range low." and desc["concept_id"] == "Test concept."


# --------------------------------------------------------------------------------------------------
# Leaks and the rare class, on a copy of the demo mart with identifiers planted
# --------------------------------------------------------------------------------------------------

_TEXT_TABLES = ("condition_occurrence", "procedure_occurrence", "drug_exposure", "measurement", "observation")
_KEY_COLUMNS = ("provider_id", "care_site_id", "visit_detail_id", "location_id")


def _plant(path: Path, pids: list[int]) -> tuple[list[str], list[int]]:
    """Distinctive names/MRNs into every text column, distinctive ids into the key columns."""
    strings: list[str] = []
    ints: list[int] = []
    c = duckdb.connect(str(path))
    try:
        ids = ", ".join(str(p) for p in pids)
        tables = [*_TEXT_TABLES, "visit_occurrence", "death", "person", "note"]
        n = 0
        for table in tables:
            for col, typ in c.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall():
                n += 1
                if typ == "VARCHAR":
                    value = f"Hwangbo Seungheon {n} MRN H{77_000_000 + n} 남궁채원"
                    strings += [f"H{77_000_000 + n}", f"Seungheon {n} "]
                    c.execute(f"UPDATE {table} SET {col} = ? WHERE person_id IN ({ids})", [value])
                elif col in _KEY_COLUMNS:
                    ints.append(987_650_000 + n)
                    c.execute(f"UPDATE {table} SET {col} = ? WHERE person_id IN ({ids})", [ints[-1]])
        strings += ["Hwangbo", "남궁채원"]
    finally:
        c.close()
    return strings, ints


@slow
def test_planted_identifiers_appear_in_no_extracted_byte(
    demo_dicom_mart_path: Path, mi: tuple[CohortSpec, CompiledCohort], tmp_path: Path
) -> None:
    spec, compiled = mi
    copy = tmp_path / "mart.duckdb"
    shutil.copyfile(demo_dicom_mart_path, copy)
    ro = open_mart(copy)
    try:
        cohort = ro.execute(f"SELECT person_id, index_date FROM ({compiled.cohort_sql})").fetchall()
        births = ro.execute(
            "SELECT person_id, birth_datetime, person_source_value FROM person WHERE person_id IN "
            f"({', '.join(str(p) for p, _ in cohort)})"
        ).fetchall()
    finally:
        ro.close()
    pids = [p for p, _ in cohort]
    strings, ints = _plant(copy, pids)
    ro = open_mart(copy)  # positive control: the planted values are there to be found
    try:
        assert ro.execute("SELECT count(*) FROM note WHERE note_text LIKE '%Hwangbo%'").fetchone()[0] > 0
        assert (
            ro.execute(
                f"SELECT count(*) FROM visit_occurrence WHERE care_site_id IN ({', '.join(map(str, ints))})"
            ).fetchone()[0]
            > 0
        )
        assert (
            ro.execute(
                "SELECT count(*) FROM measurement WHERE unit_source_value LIKE '%Seungheon%'"
            ).fetchone()[0]
            > 0
        )
    finally:
        ro.close()
    strings += [str(mrn) for _, _, mrn in births if mrn]
    strings += [b.date().isoformat() for _, b, _ in births if b]
    # the rare one: a child of unknown sex, alone in any class at every step
    rare_pid, rare_index = cohort[0]
    c = duckdb.connect(str(copy))
    c.execute(
        "UPDATE person SET gender_concept_id = 0, year_of_birth = ? WHERE person_id = ?",
        [rare_index.year - 3, rare_pid],
    )
    c.close()

    policy = _policy("leak-check").for_cohort(spec)
    con = open_mart(copy)
    try:
        for fmt in ("csv", "parquet"):
            out = tmp_path / fmt
            s = extract_dataset(con, compiled, policy, out, ExtractOptions(format=fmt))
            assert s.persons > 0 and sum(s.rows.values()) > 1000
            rare = pseudonym(policy, str(rare_pid))
            files = sorted(out.iterdir())
            blobs = [p.read_bytes() for p in files]
            for p in files:
                if p.suffix == ".parquet":  # compressed pages: decode every value
                    blobs.append(
                        json.dumps(pq.read_table(p).to_pylist(), default=str, ensure_ascii=False).encode()
                    )
            text = b"\n".join(blobs).decode("utf-8", errors="replace").lower()
            leaks = [v for v in strings if v.lower() in text] + [i for i in ints if str(i) in text]
            assert leaks == [], f"{fmt}: {len(leaks)} planted values found"
            assert rare.lower() not in text, "the person alone in their class was released"
            some = _read(out / f"persons.{fmt}")[0]["patient"]
            assert some.lower() in text  # the scan does find what is there
            report = json.loads((out / "disclosure.json").read_text("utf-8"))
            assert report["withheld"] >= 1 and report["persons"] == len(cohort)
            assert report["kept"] + report["age_band_widened"] + report["index_year_removed"] + report[
                "withheld"
            ] == len(cohort)
            readme = (out / "README.txt").read_text("utf-8")
            assert f"Withheld (no rows at all): {report['withheld']}." in readme and "k = 11" in readme
            persons = _read(out / f"persons.{fmt}")
            classes = Counter((p["sex"], p["age_band"], p["index_year"]) for p in persons)
            assert min(classes.values()) >= 11
    finally:
        con.close()


# --------------------------------------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    f = tmp_path / "release.secret"
    f.write_bytes(base64.b64encode(os.urandom(48)))
    f.chmod(0o600)
    return f


def _run(args: list[str]) -> Any:
    return CliRunner().invoke(app, ["extract", *args])


@slow
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--domains", "conditions,notes"], "unknown domain 'notes'"),
        (["--window", "365:-365"], "after its end"),
        (["--window=soon"], "START:END"),
        (["--format", "xlsx"], "--format must be parquet or csv"),
        (["--project-key", "../up"], "project key must be a name"),
        (["--secret-file", "{tmp}/missing.secret"], "secret file does not exist"),
        (["--secret-file", "{tmp}/open.secret"], "readable or writable by other users"),
        (["--secret-file", "{tmp}/weak.secret"], "too short"),
        (["--out", "{tmp}/full"], "must not exist yet or be empty"),
        (["--spec", "{tmp}/spec.json"], "give either a sentence or --spec FILE"),
    ],
)
def test_cli_errors_are_clear(
    demo_dicom_mart_path: Path, secret_file: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    (tmp_path / "open.secret").write_bytes(base64.b64encode(os.urandom(48)))
    (tmp_path / "open.secret").chmod(0o644)
    (tmp_path / "weak.secret").write_bytes(b"short")
    (tmp_path / "weak.secret").chmod(0o600)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "spec.json").write_text(json.dumps(SMALL_SPEC))
    base = {
        "--mart": str(demo_dicom_mart_path),
        "--project-key": "cli-test",
        "--secret-file": str(secret_file),
        "--out": str(tmp_path / "out"),
    }
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    for opt in list(base):
        if opt in extra:
            del base[opt]
    args = [a for kv in base.items() for a in kv] + extra + [MI_SENTENCE]
    res = _run(args)
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split()), res.output
    assert not (tmp_path / "out").exists()


@slow
def test_cli_writes_a_private_dataset(demo_dicom_mart_path: Path, secret_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "release"
    old = os.umask(0o022)
    try:
        res = _run(
            [
                "--mart",
                str(demo_dicom_mart_path),
                "--project-key",
                "study-001",
                "--secret-file",
                str(secret_file),
                "--domains",
                "conditions,measurements,death",
                "--window=-30:30",
                "--format",
                "csv",
                "--out",
                str(out),
                "--json",
                MI_SENTENCE,
            ]
        )
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["window"] == "-30:30" and summary["domains"] == ["conditions", "measurements", "death"]
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["persons.csv", "conditions.csv", "measurements.csv", "death.csv", "images.csv"]
        + ["datapackage.json", "disclosure.json", "README.txt"]
    )
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o600}
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    readme = (out / "README.txt").read_text("utf-8")
    assert "Index event: any diagnosis of" in readme and "Stated date precision: 30 days" in readme
    assert all(abs(int(r["days_from_index"])) <= 30 + 15 for r in _read(out / "conditions.csv"))


@slow
def test_a_folder_that_is_not_empty_is_refused_before_reading(
    con: duckdb.DuckDBPyConnection, small: tuple[CohortSpec, CompiledCohort], tmp_path: Path
) -> None:
    (tmp_path / "x").write_text("x")
    with pytest.raises(ExtractError, match="must not exist yet or be empty"):
        extract_dataset(con, small[1], _policy(), tmp_path)


@slow
def test_a_failed_run_leaves_no_file_behind(
    con: duckdb.DuckDBPyConnection,
    small: tuple[CohortSpec, CompiledCohort],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cohort_engine.deid.dataset as dataset_mod

    real = dataset_mod.record_batches

    def failing(*args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from real(*args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(dataset_mod, "record_batches", failing)
    out = tmp_path / "rel"
    with pytest.raises(OSError):
        extract_dataset(con, small[1], _policy().for_cohort(small[0]), out, ExtractOptions(images=False))
    assert out.is_dir() and list(out.iterdir()) == []
