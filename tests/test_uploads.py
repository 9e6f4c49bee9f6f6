"""Own-data upload (``POST /v1/uploads``) on the tiny, fully known mart (``tests.api_fixtures``): exact
matched counts, exact cohorts of a spec with a list against hand-written SQL, every kind of bad file
with its exact error and nothing stored, and no identifier in any response."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Sequence
from datetime import date

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from cohort_engine.api.app import create_app
from cohort_engine.api.state import StateStore
from cohort_engine.api.upload_files import ERROR_CODES, MAX_BYTES, MAX_ROWS, ParsedList, UploadFileError
from cohort_engine.api.uploads import mapped_persons, shown_counts
from cohort_engine.deid.policy import pseudonym
from cohort_engine.pipeline import run_spec
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.errors import GuardError
from cohort_engine.sql_guard.guard import validate
from cohort_engine.sql_guard.uploads import UPLOAD_TABLE, UploadRows, session_uploads
from tests.api_fixtures import MRNS, build_tiny_mart

K = 11
UNKNOWN = [f"X{i:07d}" for i in range(12)]  # identifiers that are no MRN of the mart


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("uploads")
    mart = build_tiny_mart(root / "mart.duckdb")
    app = create_app(mart, k=K)
    store: StateStore = app.state.ctx.state
    keys = {role: store.create_key(role, role) for role in ("researcher", "steward")}
    keys["researcher2"] = store.create_key("researcher", "other")
    with TestClient(app) as client:
        yield {"client": client, "keys": keys, "app": app, "mart": mart, "store": store}


def H(env, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['keys'][who][1]}"}


def key_id(env, who: str) -> str:
    return env["keys"][who][0].key_id


def upload(env, who: str, name: str, content: bytes, filename: str = "list.csv", **form: str):
    data = {"name": name, "id_column": "mrn", **form}
    return env["client"].post(
        "/v1/uploads", headers=H(env, who), data=data, files={"file": (filename, content, "text/csv")}
    )


def csv_of(rows: Sequence[Sequence[object]], header: str = "mrn,label,seen") -> bytes:
    lines = [header] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def xlsx_of(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def stored(env) -> tuple[int, int]:
    """(lists, rows) in the state file."""
    q = env["store"]._query
    return q("SELECT COUNT(*) FROM upload_lists")[0][0], q("SELECT COUNT(*) FROM upload_rows")[0][0]


def hand(env, sql: str) -> set[int]:
    with env["app"].state.ctx.pool.connection() as con:  # the server's own read-only mart
        return {int(r[0]) for r in con.execute(sql).fetchall()}


#: The "echo-study" list: persons 1–30 by MRN (label 1 for odd ids, a date for ids ≤ 10) and 12
#: identifiers that are nobody's MRN.
ECHO = csv_of(
    [[MRNS[pid - 1], pid % 2, f"2023-09-{pid:02d}" if pid <= 10 else None] for pid in range(1, 31)]
    + [[u, 0, None] for u in UNKNOWN]
)
OCT = {"domain": "condition", "date_range": {"start": "2023-10-01", "end": "2023-10-31"}}
HAND_OCT = (
    "SELECT DISTINCT person_id FROM condition_occurrence "
    "WHERE condition_start_date BETWEEN DATE '2023-10-01' AND DATE '2023-10-31'"
)


def run_count(env, who: str, spec: dict) -> int:
    r = env["client"].post("/v1/cohorts", headers=H(env, who), json={"spec": spec})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "ok" and body["counts"] == "exact", body
    return body["count"]


@pytest.fixture(scope="module")
def echo(env) -> dict:
    r = upload(env, "steward", "echo-study", ECHO, value_column="label", date_column="seen")
    assert r.status_code == 201, r.text
    return r.json()


def test_upload_counts_matched_and_unmatched_exactly(env, echo) -> None:
    assert echo["name"] == "echo-study" and echo["rows"] == 42 and echo["id_kind"] == "mrn"
    assert echo["matched"] == {"value": 30, "display": "30", "suppressed": False}
    assert echo["unmatched"] == {"value": 12, "display": "12", "suppressed": False}
    assert echo["has_value"] is True and echo["has_date"] is True
    rec = env["store"].get_upload(key_id(env, "steward"), "echo-study")
    assert rec is not None
    persons = env["store"].upload_persons(rec.list_id)
    assert [p for p, _, _ in persons] == list(range(1, 31))
    assert persons[0] == (1, 1.0, "2023-09-01") and persons[29] == (30, 0.0, None)
    r = env["client"].get("/v1/uploads", headers=H(env, "steward"))
    assert [u["name"] for u in r.json()] == ["echo-study"]
    assert env["client"].get("/v1/uploads/echo-study", headers=H(env, "steward")).json() == echo


def test_small_counts_are_suppressed_both_ways(env) -> None:
    # 5 unmatched of 35: '<11', and the matched count, which would give it away, hidden too
    content = csv_of([[MRNS[i], 1, None] for i in range(30)] + [[u, 1, None] for u in UNKNOWN[:5]])
    r = upload(env, "researcher", "few-unknown", content)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["matched"] == {"value": None, "display": "suppressed", "suppressed": True}
    assert body["unmatched"] == {"value": None, "display": "<11", "suppressed": True}
    assert shown_counts(0, 40, K)[0].display == "0" and shown_counts(12, 0, K)[0].display == "12"
    assert shown_counts(3, 0, K)[0].display == "<11"


def test_no_identifier_leaves_in_responses(env, echo) -> None:
    texts = [
        env["client"].get("/v1/uploads", headers=H(env, "steward")).text,
        upload(env, "steward", "echo-study", ECHO).text,  # name taken
        upload(env, "steward", "dup", csv_of([[MRNS[0], 1, None], [MRNS[0], 1, None]])).text,
        upload(env, "steward", "bad", csv_of([[MRNS[3], "x", None]]), value_column="label").text,
    ]
    for text in texts:
        for ident in MRNS + UNKNOWN:
            assert ident not in text


def test_spec_with_list_include_by_value_is_exact(env, echo) -> None:
    spec = {"index": OCT, "lists": [{"name": "echo-study", "value": {"op": "=", "value": 1}}]}
    odd = ", ".join(f"'{MRNS[p - 1]}'" for p in range(1, 31) if p % 2)
    want = hand(
        env,
        f"{HAND_OCT} AND person_id IN (SELECT person_id FROM person WHERE person_source_value IN ({odd}))",
    )
    assert want == set(range(1, 31, 2))
    assert run_count(env, "steward", spec) == len(want) == 15
    # the same spec through the pipeline, person by person
    rec = env["store"].get_upload(key_id(env, "steward"), "echo-study")
    rows = env["store"].upload_persons(rec.list_id)
    lst = UploadRows("echo-study", [r[0] for r in rows], [r[1] for r in rows])
    with env["app"].state.ctx.pool.connection() as con, session_uploads([lst]):
        res = run_spec(CohortSpec.model_validate(spec), con, include_person_ids=True)
    assert res.status == "ok" and set(res.person_ids or []) == want
    assert [a.step for a in res.attrition] == ["index", "u1"]
    assert "Only patients in your list “echo-study” whose value is 1." in (res.readback or "")


def test_spec_with_list_exclude_and_between_is_exact(env, echo) -> None:
    listed = ", ".join(f"'{m}'" for m in MRNS[:30])
    want = hand(
        env,
        f"{HAND_OCT} AND person_id NOT IN "
        f"(SELECT person_id FROM person WHERE person_source_value IN ({listed}))",
    )
    assert want == set(range(31, 41))
    assert (
        run_count(env, "steward", {"index": OCT, "lists": [{"name": "echo-study", "mode": "exclude"}]}) == 10
    )
    between = {"name": "echo-study", "value": {"op": "between", "value": 0, "value_high": 0.5}}
    assert run_count(env, "steward", {"index": OCT, "lists": [between]}) == 15  # the even ids 2–30
    both = [
        {"name": "echo-study"},
        {"name": "echo-study", "mode": "exclude", "value": {"op": ">=", "value": 1}},
    ]
    assert run_count(env, "steward", {"index": OCT, "lists": both}) == 15


def test_lists_belong_to_their_key(env, echo) -> None:
    assert env["client"].get("/v1/uploads", headers=H(env, "researcher2")).json() == []
    r = env["client"].get("/v1/uploads/echo-study", headers=H(env, "researcher2"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = env["client"].post(
        "/v1/cohorts",
        headers=H(env, "researcher2"),
        json={"spec": {"index": OCT, "lists": [{"name": "echo-study"}]}},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_list"


def test_the_guard_accepts_the_list_table_only_inside_a_run(env, echo) -> None:
    sql = f"SELECT COUNT(*) FROM {UPLOAD_TABLE}"
    with pytest.raises(GuardError) as e:
        validate(sql)
    assert e.value.rule.value == "unknown_table"
    with session_uploads([UploadRows("x", [1])]):
        assert validate(sql).tables == (UPLOAD_TABLE,)
    r = env["client"].post("/v1/sql", headers=H(env, "steward"), json={"sql": sql})
    assert r.status_code == 400 and r.json()["error"]["code"] == "sql_rejected"


def test_pseudonyms_of_an_approved_release_map_back(env) -> None:
    store, c = env["store"], env["client"]
    r = c.post("/v1/cohorts", headers=H(env, "researcher"), json={"spec": {"index": OCT}})
    cid = r.json()["cohort_id"]
    store.request_release(cid, key_id(env, "researcher"))
    store.approve_release(cid, key_id(env, "steward"), "hash")
    policy = env["app"].state.ctx.service.release_policy(cid)
    rows = [[pseudonym(policy, str(pid)), 1, None] for pid in range(5, 25)] + [
        ["P-AAAAAAAAAAAAAAAA", 1, None]
    ]
    r = upload(env, "researcher", "from-release", csv_of(rows), id_kind="pseudonym", release=cid)
    assert r.status_code == 201, r.text
    assert r.json()["matched"]["value"] is None  # 1 unmatched: both hidden
    rec = store.get_upload(key_id(env, "researcher"), "from-release")
    assert [p for p, _, _ in store.upload_persons(rec.list_id)] == list(range(5, 25))
    # another key's release, or a release that was never approved: refused the same way
    for who, release in (("researcher2", cid), ("researcher", "coh_0000000000000000")):
        r = upload(env, who, "x", csv_of(rows), id_kind="pseudonym", release=release)
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_release"


def test_delete(env) -> None:
    assert upload(env, "researcher", "gone", csv_of([[MRNS[0], 1, None]])).status_code == 201
    before = stored(env)
    r = env["client"].delete("/v1/uploads/gone", headers=H(env, "researcher"))
    assert r.status_code == 204
    assert stored(env) == (before[0] - 1, before[1] - 1)
    assert env["client"].delete("/v1/uploads/gone", headers=H(env, "researcher")).status_code == 404


def _many(n: int) -> bytes:
    return ("mrn\n" + "".join(f"Z{i}\n" for i in range(n))).encode()


#: (kind, file name, content, extra form fields, status, message fragment)
BAD_FILES: list[tuple[str, str, bytes, dict[str, str], int, str]] = [
    ("empty_file", "a.csv", b"", {}, 422, "The file is empty"),
    ("unknown_format", "a.pdf", b"%PDF-1.4\n", {}, 422, "neither a CSV"),
    ("legacy_xls", "a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, {}, 422, "Old Excel (.xls)"),
    ("bad_encoding", "a.csv", b"mrn\nH90000001\n\xff\xfeA\n", {}, 422, "Row 3 is not valid UTF-8 text"),
    ("bad_csv", "a.csv", b'mrn\nH90000001\n"H90000002\n', {}, 422, "is not valid CSV"),
    ("corrupt_xlsx", "a.xlsx", b"PK\x03\x04 not a zip", {}, 422, "cannot be opened"),
    ("several_sheets", "a.xlsx", xlsx_of({"A": [["mrn"], [MRNS[0]]], "B": [["x"]]}), {}, 422, "has 2 sheets"),
    (
        "unknown_sheet",
        "a.xlsx",
        xlsx_of({"A": [["mrn"], [MRNS[0]]]}),
        {"sheet": "Z"},
        422,
        "no sheet of that name",
    ),
    ("header_missing", "a.csv", b",,\nH90000001,1,\n", {}, 422, "Row 1 must name the columns"),
    ("duplicate_header", "a.csv", b"mrn,mrn\nH90000001,1\n", {}, 422, "Columns 1 and 2 of row 1"),
    ("missing_column", "a.csv", b"patient\nH90000001\n", {}, 422, "no identifier column named “mrn”"),
    ("no_rows", "a.csv", b"mrn\n\n", {}, 422, "no rows of patients"),
    (
        "too_many_rows",
        "a.csv",
        _many(MAX_ROWS + 1),
        {},
        413,
        f"more than {MAX_ROWS:,} rows (row {MAX_ROWS + 2})",
    ),
    ("ragged_row", "a.csv", b"mrn\nH90000001\nH90000002,9\n", {}, 422, "Row 3 has more cells"),
    ("empty_id", "a.csv", b"mrn,label\nH90000001,1\n,2\n", {}, 422, "Row 3 has no identifier"),
    ("bad_id", "a.csv", b"mrn\n" + b"H" * 65 + b"\n", {}, 422, "Row 2: the identifier is longer"),
    (
        "duplicate_id",
        "a.csv",
        b"mrn\nH90000001\nH90000002\nH90000001\n",
        {},
        422,
        "Rows 2 and 4 have the same",
    ),
    (
        "bad_value",
        "a.csv",
        b"mrn,label\nH90000001,1\nH90000002,high\n",
        {"value_column": "label"},
        422,
        "Row 3: column “label” must hold a number",
    ),
    (
        "bad_date",
        "a.csv",
        b"mrn,seen\nH90000001,2023-13-01\n",
        {"date_column": "seen"},
        422,
        "Row 2: column “seen” must hold a date as YYYY-MM-DD",
    ),
    (
        "formula_cell",
        "a.xlsx",
        xlsx_of({"A": [["mrn", "label"], [MRNS[0], "=1+1"]]}),
        {"value_column": "label"},
        422,
        "Row 2, column B holds a formula",
    ),
]


@pytest.mark.parametrize(("kind", "filename", "content", "form", "status", "fragment"), BAD_FILES)
def test_bad_files_get_their_error_and_store_nothing(
    env, kind, filename, content, form, status, fragment
) -> None:
    before = stored(env)
    r = upload(env, "researcher", f"bad-{kind}", content, filename=filename, **form)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == kind and fragment in err["message"], err
    assert stored(env) == before


def test_request_level_errors(env) -> None:
    before = stored(env)
    assert upload(env, "researcher", "taken", csv_of([[MRNS[0], 1, None]])).status_code == 201
    after = stored(env)
    cases = [
        (upload(env, "researcher", "taken", csv_of([[MRNS[1], 1, None]])), 409, "name_taken"),
        (upload(env, "researcher", "-bad name", csv_of([[MRNS[1], 1, None]])), 422, "invalid_name"),
        (
            upload(env, "researcher", "p", csv_of([[MRNS[1], 1, None]]), id_kind="pseudonym"),
            404,
            "unknown_release",
        ),
    ]
    for r, status, code in cases:
        assert r.status_code == status and r.json()["error"]["code"] == code, r.text
    assert after == (before[0] + 1, before[1] + 1) and stored(env) == after
    big = b"mrn\n" + b"H90000001\n" * (MAX_BYTES // 10 + 10)
    r = upload(env, "researcher", "big", big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
    assert stored(env) == after


def test_every_error_code_is_tested() -> None:
    tested = {k for k, *_ in BAD_FILES} | {"file_too_large", "duplicate_person"}
    assert tested == set(ERROR_CODES) and len(tested) + 3 >= 15  # + name_taken, invalid_name, unknown_release


def test_two_identifiers_of_one_person_are_refused() -> None:
    parsed = ParsedList(ids=["a", "b"], row_numbers=[2, 5], values=[], dates=[date(2023, 1, 1)] * 2)
    with pytest.raises(UploadFileError) as e:
        mapped_persons(parsed, {0: 7, 1: 7})
    assert e.value.code == "duplicate_person" and e.value.message.startswith("Rows 2 and 5 name the same")
    assert mapped_persons(parsed, {1: 7}) == [(7, None, "2023-01-01")]


#: The list rule 'in my list "echo-study" whose label is 1' as the spec stores it (every field written out).
ECHO_LABEL_1 = [
    {
        "name": "echo-study",
        "mode": "include",
        "value": {
            "op": "=",
            "value": 1.0,
            "value_high": None,
            "exclude_low": False,
            "exclude_high": False,
            "unit": None,
        },
        "date_window": None,
    }
]


def test_stored_run_keeps_the_list_by_name_and_reruns_with_it(env, echo) -> None:
    spec = {"index": OCT, "lists": [{"name": "echo-study", "value": {"op": "=", "value": 1}}]}
    r = env["client"].post("/v1/cohorts", headers=H(env, "steward"), json={"spec": spec})
    cid = r.json()["cohort_id"]
    rec = env["store"].get_cohort(cid)
    assert rec.spec["lists"] == ECHO_LABEL_1
    row = env["store"]._query(
        "SELECT spec, result, codesets, overrides FROM cohorts WHERE cohort_id = ?", (cid,)
    )
    assert not any(m in str(row) for m in MRNS)
    # a re-run (the charts) reads the owner's list again: the same 15 persons
    r = env["client"].get(f"/v1/cohorts/{cid}/stats", headers=H(env, "steward"))
    assert r.status_code == 200 and r.json()["total"]["value"] == 15, r.text


def test_openapi_documents_the_upload_routes(env) -> None:
    doc = env["client"].get("/openapi.json").json()
    post = doc["paths"]["/v1/uploads"]["post"]
    form = post["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"file", "name", "id_column"} <= set(doc["components"]["schemas"][form]["required"])
    assert post["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/UploadOut"
    }
    assert {"get", "delete"} <= set(doc["paths"]["/v1/uploads/{name}"])
    assert "post" in doc["paths"]["/v1/codesets/import"]
    assert "get" in doc["paths"]["/v1/codesets/{name}/versions/{version}"]
    lists = doc["components"]["schemas"]["CohortSpec"]["properties"]["lists"]
    assert lists["items"] == {"$ref": "#/components/schemas/UploadList"}


def test_list_date_window_on_the_index_event_is_exact(env, echo) -> None:
    # persons 1–10 carry 2023-09-<id>; their diagnosis is 2023-10-<1 + id % 10>: 31 days later for 1–9,
    # 21 days for 10
    dates = ", ".join(f"('{MRNS[p - 1]}', DATE '2023-09-{p:02d}')" for p in range(1, 11))
    hand_sql = (
        "SELECT DISTINCT c.person_id FROM condition_occurrence AS c JOIN person AS p USING (person_id) "
        f"JOIN (VALUES {dates}) AS l(mrn, d) ON l.mrn = p.person_source_value "
        "WHERE c.condition_start_date BETWEEN DATE '2023-10-01' AND DATE '2023-10-31' "
        "AND c.condition_start_date BETWEEN l.d AND l.d + INTERVAL '{end}' DAY"
    )
    for end, want_ids in ((30, {10}), (31, set(range(1, 11)))):
        want = hand(env, hand_sql.replace("{end}", str(end)))
        assert want == want_ids
        spec = {"index": OCT, "lists": [{"name": "echo-study", "date_window": {"start": 0, "end": end}}]}
        assert run_count(env, "steward", spec) == len(want)
    excl = {"name": "echo-study", "mode": "exclude", "date_window": {"start": 0, "end": 30}}
    assert run_count(env, "steward", {"index": OCT, "lists": [excl]}) == 39  # 40 − person 10


@pytest.mark.parametrize(
    "question",
    [
        "patients diagnosed in October 2023 who are in my list 'echo-study' whose label is 1",
        "내 업로드 목록 'echo-study'에서 라벨이 1인 환자 중 2023년 10월에 진단받은 환자",
    ],
)
def test_a_question_naming_the_list_runs_with_it(env, echo, question: str) -> None:
    """The parser reads "in my list '…'" as the list rule: the same 15 persons as the spec above."""
    r = env["client"].post("/v1/ask", headers=H(env, "steward"), json={"question": question})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok", body
    assert body["spec"]["lists"] == ECHO_LABEL_1
    assert body["count"] == 15


def test_a_question_excluding_the_list(env, echo) -> None:
    question = "patients diagnosed in October 2023 excluding those in my list 'echo-study'"
    r = env["client"].post("/v1/ask", headers=H(env, "steward"), json={"question": question})
    body = r.json()
    assert body["status"] == "ok", body
    listed = ", ".join(f"'{m}'" for m in MRNS[:30])
    want = hand(
        env,
        f"{HAND_OCT} AND person_id NOT IN "
        f"(SELECT person_id FROM person WHERE person_source_value IN ({listed}))",
    )
    assert body["count"] == len(want)


# -- background jobs re-run a cohort on a list with its owner's lists --------------------------------

#: Persons 1–13 have imaging series (tests.api_fixtures); the researcher's list keeps the odd ones of 1–30.
ODD_MRNS = ", ".join(f"'{MRNS[p - 1]}'" for p in range(1, 31) if p % 2)
HAND_LISTED = (
    f"{HAND_OCT} AND person_id IN (SELECT person_id FROM person WHERE person_source_value IN ({ODD_MRNS}))"
)


def _job_done(env, job_id: str, who: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        job = env["client"].get(f"/v1/jobs/{job_id}", headers=H(env, who)).json()
        if job["status"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


@pytest.fixture(scope="module")
def rel(tmp_path_factory: pytest.TempPathFactory):
    """A server of k = 2 (at the module's k = 11 the disclosure check withholds every one of the 15
    persons, and an empty package would prove nothing) with the four keys of the release flow, and a
    researcher's cohort on their own list, approved by a steward for manifests."""
    root = tmp_path_factory.mktemp("uploads-release")
    app = create_app(build_tiny_mart(root / "mart.duckdb"), k=2, export_dir=root / "exports")
    store: StateStore = app.state.ctx.state
    roles = {
        "researcher": "researcher",
        "steward": "steward",
        "steward2": "steward",
        "export": "export_client",
    }
    keys = {who: store.create_key(role, who) for who, role in roles.items()}
    with TestClient(app) as client:
        env = {"client": client, "keys": keys, "app": app, "store": store}
        odd_list = csv_of([[MRNS[pid - 1], pid % 2, None] for pid in range(1, 31)])
        r = upload(env, "researcher", "echo-release", odd_list, value_column="label")
        assert r.status_code == 201, r.text
        spec = {"index": OCT, "lists": [{"name": "echo-release", "value": {"op": "=", "value": 1}}]}
        r = client.post("/v1/cohorts", headers=H(env, "researcher"), json={"spec": spec})
        assert r.status_code == 201 and r.json()["status"] == "ok", r.text  # a researcher's count is noisy
        cid = r.json()["cohort_id"]
        r = client.post(f"/v1/cohorts/{cid}/release-request", headers=H(env, "researcher"))
        assert r.status_code == 200, r.text
        r = client.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "steward"))
        assert r.status_code == 200, r.text
        yield {**env, "cohort_id": cid, "spec": CohortSpec.model_validate(spec)}


def test_export_job_of_a_cohort_on_a_list_lists_only_its_persons(rel) -> None:
    env = rel
    c, cid = env["client"], rel["cohort_id"]
    want = hand(env, f"{HAND_LISTED} AND person_id IN (SELECT person_id FROM image_occurrence)")
    assert want == {1, 3, 5, 7, 9, 11, 13}
    r = c.post(f"/v1/cohorts/{cid}/exports", json={"format": "csv"}, headers=H(env, "export"))
    assert r.status_code == 202, r.text
    job = _job_done(env, r.json()["job_id"], "export")
    assert job["status"] == "done", job
    rows = list(csv.DictReader(io.StringIO(c.get(job["download"], headers=H(env, "export")).text)))
    policy = env["app"].state.ctx.service.release_policy(cid).for_cohort(rel["spec"])
    assert {row["patient"] for row in rows} == {pseudonym(policy, str(pid)) for pid in want}
    assert (
        job["rows_total"]
        == len(rows)
        == hand(env, f"SELECT COUNT(*) FROM image_occurrence WHERE person_id IN ({HAND_LISTED})").pop()
    )


def test_release_package_of_a_cohort_on_a_list_holds_only_its_persons(rel) -> None:
    env = rel
    c, cid = env["client"], rel["cohort_id"]
    want = hand(env, HAND_LISTED)
    assert want == set(range(1, 31, 2))
    body = {
        "cohort_id": cid,
        "purpose": "Echo follow-up of the listed patients (protocol 2026-21)",
        "organisation": "Example University Hospital",
        "domains": ["conditions"],
        "images": True,
        "modalities": ["ct"],
        "window": {"start": -30, "end": 60},
    }
    r = c.post("/v1/requests", json=body, headers=H(env, "researcher"))
    assert r.status_code == 201, r.text
    rid = r.json()["request_id"]
    # the reviewers' disclosure check re-runs the cohort with the owner's list too
    r = c.get(f"/v1/requests/{rid}/disclosure", headers=H(env, "steward2"))
    assert r.status_code == 200, r.text
    disclosure = r.json()
    assert disclosure["persons"] == len(want) == 15 and disclosure["released"] == 12
    for who in ("steward", "steward2"):
        r = c.post(
            f"/v1/requests/{rid}/reviews", json={"decision": "approve", "comment": "ok"}, headers=H(env, who)
        )
        assert r.status_code == 200, r.text
    deadline = time.monotonic() + 120
    while (req := c.get(f"/v1/requests/{rid}", headers=H(env, "export")).json())["package"][
        "status"
    ] == "building":
        assert time.monotonic() < deadline, req
        time.sleep(0.2)
    assert req["package"]["status"] == "ready", req
    zf = zipfile.ZipFile(io.BytesIO(c.get(req["package"]["download"], headers=H(env, "export")).content))
    patients = pq.read_table(io.BytesIO(zf.read("records/persons.parquet"))).column("patient").to_pylist()
    policy = env["app"].state.ctx.service.release_policy(rid).for_cohort(rel["spec"])
    listed = {pseudonym(policy, str(pid)) for pid in want}
    counts = req["package"]["counts"]
    assert (counts["persons"], counts["withheld"], counts["rows"]) == (12, 3, {"conditions": 12})
    assert len(patients) == len(set(patients)) == 12 and set(patients) <= listed
    conditions = pq.read_table(io.BytesIO(zf.read("records/conditions.parquet"))).column("patient")
    assert set(conditions.to_pylist()) == set(patients)
    # images only of released listed persons with a CT (persons 1–13 have one)
    manifest = list(csv.DictReader(io.StringIO(zf.read("images/manifest.csv").decode())))
    imaged = {pseudonym(policy, str(pid)) for pid in want & set(range(1, 14))}
    assert manifest and {m["patient"] for m in manifest} == imaged & set(patients)
