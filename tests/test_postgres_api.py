"""The REST API over a PostgreSQL mart answers exactly as over the DuckDB file it was loaded from.

The tiny API mart (``tests.api_fixtures``: real DuckDB, real DICOM index) is copied into a throwaway
PostgreSQL cluster (``schema_catalog.pg_load``); one app serves the file, one the ``postgresql://``
URL, both from copies of one state file (the same keys and server secret). Every scenario runs on
both with the same sequence of ids (``coh_…``, ``job_…``: the pseudonyms, date shifts and noise are
keyed by the cohort id and the secret), so answers, manifests, Table 1 and extracted files must be
equal byte for byte, not merely alike. Uploaded lists (include, exclude) are checked against
hand-written SQL on both engines.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from cohort_engine.api import state as state_module
from cohort_engine.api.app import create_app
from cohort_engine.api.codesets import CodeRow, resolve_codes
from cohort_engine.api.state import StateStore
from cohort_engine.pipeline import run_spec
from cohort_engine.schema_catalog.pg_load import load_into_postgres
from cohort_engine.seed import SEED_EN, SEED_KO
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.errors import QueryError
from cohort_engine.sql_guard.pg_rows import MAX_ROWS
from cohort_engine.sql_guard.uploads import UPLOAD_TABLE, UploadRows, attach_uploads, session_uploads
from tests.api_fixtures import MRNS, SEED_COUNT, build_tiny_mart
from tests.pg_server import postgres_server
from tests.served import served
from tests.test_api_core import SEED_SPEC

pytestmark = pytest.mark.postgres

PORT = 55439
#: Small enough that most of the 13-person seed cohort passes the extract's disclosure check.
K = 2
ROLES = {"researcher": "researcher", "steward": "steward", "export": "export_client"}
#: The October diagnoses (persons 1–40) and the same in hand-written SQL.
OCT = {"domain": "condition", "date_range": {"start": "2023-10-01", "end": "2023-10-31"}}
HAND_OCT = (
    "SELECT DISTINCT person_id FROM condition_occurrence "
    "WHERE condition_start_date BETWEEN DATE '2023-10-01' AND DATE '2023-10-31'"
)


class _Ids:
    """``secrets`` as ``api.state`` sees it, with ``token_hex`` from a counter the test resets: the
    two servers then name their cohorts and jobs alike (everything else stays random)."""

    def __init__(self) -> None:
        self.counter: Iterator[int] = itertools.count(1)

    def __getattr__(self, name: str) -> Any:
        return getattr(secrets, name)

    def token_hex(self, nbytes: int = 32) -> str:
        return f"{next(self.counter):0{2 * nbytes}x}"


@dataclass
class Twin:
    duck: TestClient
    pg: TestClient
    keys: dict[str, str]
    apps: dict[str, Any]
    ids: _Ids
    url: str
    root: Path
    base: int = 0

    def both(self, scenario: Callable[[TestClient, str], Any]) -> tuple[Any, Any]:
        """``scenario(client, engine)`` on DuckDB, then on PostgreSQL, each from the same id."""
        self.base += 1000
        out = []
        for engine, client in (("duck", self.duck), ("pg", self.pg)):
            self.ids.counter = itertools.count(self.base)
            out.append(scenario(client, engine))
        return out[0], out[1]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def _url(dsn: str, dbname: str) -> str:
    parts = dict(item.split("=", 1) for item in dsn.split())
    return f"postgresql://postgres@localhost/{dbname}?host={parts['host']}&port={parts['port']}"


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    root = tmp_path_factory.mktemp("pg-api")
    mart = build_tiny_mart(root / "mart.duckdb")
    ids = _Ids()
    patch = pytest.MonkeyPatch()
    patch.setattr(state_module, "secrets", ids)
    with postgres_server(port=PORT) as dsn:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("CREATE DATABASE tiny")
        load_into_postgres(mart, dsn.replace("dbname=postgres", "dbname=tiny"))
        url = _url(dsn, "tiny")
        (root / "duck").mkdir()
        (root / "pg").mkdir()
        store = StateStore(root / "duck" / "state.sqlite")
        keys = {who: store.create_key(role, who)[1] for who, role in ROLES.items()}
        store.server_secret()  # made now, so that both copies hold it
        store.close()
        shutil.copy2(root / "duck" / "state.sqlite", root / "pg" / "state.sqlite")
        apps = {
            "duck": create_app(
                mart, root / "duck" / "state.sqlite", k=K, export_dir=root / "duck" / "exports"
            ),
            "pg": create_app(
                Path(url), root / "pg" / "state.sqlite", k=K, export_dir=root / "pg" / "exports"
            ),
        }
        try:
            with TestClient(apps["duck"]) as duck, TestClient(apps["pg"]) as pg:
                yield Twin(duck=duck, pg=pg, keys=keys, apps=apps, ids=ids, url=url, root=root)
        finally:
            patch.undo()


#: What legitimately differs between two servers' answers: timings, clocks, and the sample's
#: pseudonyms (keyed by a random secret per answer, unlinkable across answers by design).
VOLATILE = frozenset({"elapsed_ms", "timings", "created_at", "pseudonym"})
CREATED = frozenset({"created", "created_utc", "elapsed_s"})


def _strip(body: Any, keys: frozenset[str] = VOLATILE) -> Any:
    """An answer without what legitimately differs between two servers (:data:`VOLATILE`)."""
    if isinstance(body, dict):
        return {k: _strip(v, keys) for k, v in body.items() if k not in keys}
    if isinstance(body, list):
        return [_strip(v, keys) for v in body]
    return body


def _job(client: TestClient, job_id: str, h: dict[str, str]) -> dict:
    deadline = time.monotonic() + 120
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers=h).json()
        if job["status"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def _approved(twin: Twin, client: TestClient, spec: dict) -> str:
    r = client.post("/v1/cohorts", json={"spec": spec}, headers=twin.h("researcher"))
    assert r.status_code == 201, r.text
    cid = r.json()["cohort_id"]
    assert client.post(f"/v1/cohorts/{cid}/release-request", headers=twin.h("researcher")).status_code == 200
    r = client.post(f"/v1/cohorts/{cid}/approve", headers=twin.h("steward"))
    assert r.status_code == 200, r.text
    return cid


def test_health_names_the_database_not_the_url(twin: Twin) -> None:
    body = twin.pg.get("/v1/health").json()
    assert (body["status"], body["mart"], body["mart_name"]) == ("ok", True, "tiny")
    assert twin.duck.get("/v1/health").json()["mart_name"] == "mart.duckdb"
    ask = {"question": SEED_EN, "mart": "tiny"}
    assert twin.pg.post("/v1/ask", json=ask, headers=twin.h("steward")).json()["count"] == SEED_COUNT
    wrong = twin.pg.post("/v1/ask", json={**ask, "mart": "mart.duckdb"}, headers=twin.h("steward"))
    assert wrong.status_code == 422
    assert wrong.json()["error"]["message"] == "This server serves the mart “tiny” only."


@pytest.mark.parametrize("who", ["researcher", "steward"])
@pytest.mark.parametrize("question", [SEED_EN, SEED_KO, "patients diagnosed with hypertension in 2023"])
def test_ask_gives_the_same_answer(twin: Twin, who: str, question: str) -> None:
    def ask(client: TestClient, _: str) -> dict:
        r = client.post("/v1/ask", json={"question": question}, headers=twin.h(who))
        assert r.status_code == 200, r.text
        return _strip(r.json())

    duck, pg = twin.both(ask)
    assert duck["status"] == "ok"
    if who == "steward" and question != SEED_KO:
        assert duck["count"] == (SEED_COUNT if question == SEED_EN else 10)
    assert pg == duck


def test_manifest_and_export_job_are_the_same_files(twin: Twin) -> None:
    def manifest(client: TestClient, _: str) -> tuple[dict, bytes, bytes]:
        cid = _approved(twin, client, SEED_SPEC)
        h = twin.h("export")
        page = client.get(f"/v1/cohorts/{cid}/manifest", params={"limit": 1000}, headers=h)
        assert page.status_code == 200, page.text
        csv = client.get(f"/v1/cohorts/{cid}/manifest?format=csv&level=instance&limit=10000", headers=h)
        assert csv.status_code == 200, csv.text
        r = client.post(f"/v1/cohorts/{cid}/exports", json={"format": "csv"}, headers=h)
        assert r.status_code == 202, r.text
        job = _job(client, r.json()["job_id"], h)
        assert job["status"] == "done", job
        return page.json(), csv.content, client.get(job["download"], headers=h).content

    duck, pg = twin.both(manifest)
    assert len(duck[0]["rows"]) == SEED_COUNT + 8  # 13 CT, 6 XA, 2 MR series
    for a, b in zip(pg[0]["rows"], duck[0]["rows"], strict=True):
        assert a == b
    assert pg[0] == duck[0]
    assert pg[1] == duck[1] and pg[1].count(b"\n") > SEED_COUNT + 8
    assert pg[2] == duck[2]


def test_table1_and_charts_are_the_same(twin: Twin) -> None:
    def table1(client: TestClient, _: str) -> list[dict]:
        out = []
        for who in ("steward", "researcher"):
            cids = []
            for spec in (SEED_SPEC, {"index": OCT}):
                r = client.post("/v1/cohorts", json={"spec": spec}, headers=twin.h(who))
                assert r.status_code == 201, r.text
                cids.append(r.json()["cohort_id"])
            for params in ({}, {"compare": cids[1]}):
                r = client.get(f"/v1/cohorts/{cids[0]}/table1", params=params, headers=twin.h(who))
                assert r.status_code == 200, r.text
                out.append(_strip(r.json()))
            stats = client.get(f"/v1/cohorts/{cids[1]}/stats", headers=twin.h(who))  # the charts
            assert stats.status_code == 200, stats.text
            out.append(_strip(stats.json()))
        return out

    duck, pg = twin.both(table1)
    assert duck[0]["totals"][0]["display"] == str(SEED_COUNT) and len(duck[0]["rows"]) > 5
    assert pg == duck


def test_extract_job_writes_the_same_dataset(twin: Twin) -> None:
    def extract(client: TestClient, engine: str) -> dict[str, bytes]:
        cid = _approved(twin, client, SEED_SPEC)
        h = twin.h("export")
        body = {"domains": ["conditions", "procedures"], "window": "-365:365", "format": "parquet"}
        r = client.post(f"/v1/cohorts/{cid}/extracts", json=body, headers=h)
        assert r.status_code == 202, r.text
        job = _job(client, r.json()["job_id"], h)
        assert job["status"] == "done", job
        z = zipfile.ZipFile(io.BytesIO(client.get(job["download"], headers=h).content))
        return {name: z.read(name) for name in z.namelist()}

    duck, pg = twin.both(extract)
    names = sorted(n.rsplit("/", 1)[-1] for n in duck)
    assert names == [
        "README.txt",
        "conditions.parquet",
        "datapackage.json",
        "disclosure.json",
        "images.parquet",
        "persons.parquet",
        "procedures.parquet",
    ]
    assert sorted(pg) == sorted(duck)
    for name in duck:
        if name.endswith(".json"):  # stamped with the time it was built
            assert _strip(json.loads(pg[name]), CREATED) == _strip(json.loads(duck[name]), CREATED)
            continue
        assert pg[name] == duck[name], name
    persons = pq.read_table(io.BytesIO(duck[next(n for n in duck if n.endswith("persons.parquet"))]))
    assert 0 < persons.num_rows <= SEED_COUNT


# -- uploaded lists: include and exclude, against hand-written SQL on both engines -----------------

#: Persons 1–30 by MRN, label 1 for odd ids; two identifiers that are nobody's.
LIST_CSV = (
    "mrn,label\n"
    + "".join(f"{MRNS[pid - 1]},{pid % 2}\n" for pid in range(1, 31))
    + "X0000001,1\nX0000002,0\n"
).encode()


def _hand(twin: Twin, engine: str, sql: str) -> set[int]:
    with twin.apps[engine].state.ctx.pool.connection() as con:  # the server's own read-only mart
        return {int(r[0]) for r in con.execute(sql).fetchall()}


@pytest.fixture(scope="module")
def uploaded(twin: Twin) -> tuple[dict, dict]:
    def upload(client: TestClient, _: str) -> dict:
        r = client.post(
            "/v1/uploads",
            headers=twin.h("steward"),
            data={"name": "echo", "id_column": "mrn", "value_column": "label"},
            files={"file": ("echo.csv", LIST_CSV, "text/csv")},
        )
        assert r.status_code == 201, r.text
        return _strip(r.json())

    return twin.both(upload)


def test_upload_maps_the_same_identifiers(uploaded: tuple[dict, dict]) -> None:
    duck, pg = uploaded
    assert pg == duck
    assert (duck["rows"], duck["matched"]["display"]) == (32, "30")
    for ident in [*MRNS, "X0000001"]:
        assert ident not in repr(pg)


@pytest.mark.parametrize(
    "lists,hand",
    [
        (
            [{"name": "echo", "value": {"op": "=", "value": 1}}],
            "AND person_id IN (SELECT person_id FROM person WHERE person_id <= 30 AND person_id % 2 = 1)",
        ),
        ([{"name": "echo", "mode": "exclude"}], "AND person_id > 30"),
        (
            [{"name": "echo"}, {"name": "echo", "mode": "exclude", "value": {"op": ">=", "value": 1}}],
            "AND person_id IN (SELECT person_id FROM person WHERE person_id <= 30 AND person_id % 2 = 0)",
        ),
    ],
    ids=["include-value", "exclude", "include-and-exclude"],
)
def test_spec_with_a_list_is_exact_on_both(twin: Twin, uploaded, lists: list[dict], hand: str) -> None:
    spec = {"index": OCT, "lists": lists}
    sql = f"{HAND_OCT} {hand}"
    want = _hand(twin, "duck", sql)
    assert want == _hand(twin, "pg", sql) and len(want) in (10, 15)

    def run(client: TestClient, engine: str) -> dict:
        r = client.post("/v1/cohorts", json={"spec": spec}, headers=twin.h("steward"))
        assert r.status_code == 201, r.text
        return _strip(r.json())

    duck, pg = twin.both(run)
    assert duck["status"] == "ok" and duck["count"] == len(want)
    assert pg == duck
    # person by person, through the pipeline on the PostgreSQL pool (the API never returns ids)
    store = twin.apps["pg"].state.ctx.state
    key = next(k for k in store.list_keys() if k.name == "steward")
    rows = store.upload_persons(store.get_upload(key.key_id, "echo").list_id)
    lst = UploadRows("echo", [r[0] for r in rows], [r[1] for r in rows])
    with twin.apps["pg"].state.ctx.pool.connection() as con, session_uploads([lst]):
        res = run_spec(CohortSpec.model_validate(spec), con, include_person_ids=True)
    assert res.status == "ok" and set(res.person_ids or []) == want


def test_list_rows_travel_as_parameters_never_in_the_sql(twin: Twin) -> None:
    """A read-only session cannot hold the list in a table; its rows go beside the statement as array
    parameters, so no person id is in the text PostgreSQL logs or shows in pg_stat_activity."""
    ids = [4242424201, 4242424202, 4242424203]
    with twin.apps["pg"].state.ctx.pool.connection() as con:
        cur = con.cursor()
        try:
            with session_uploads([UploadRows("echo", ids, [1.0, 0.0, 1.0])]):
                attach_uploads(cur)
            sql = f"SELECT count(*), min(person_id) FROM {UPLOAD_TABLE} WHERE value = 1"
            text = cur.render(sql)
            assert text is not None and "CAST($2 AS BIGINT[])" in text
            assert "42424242" not in text
            assert cur.execute(sql).fetchall() == [(2, ids[0])]
        finally:
            cur.close()


def test_lists_over_the_row_limit_are_refused_clearly(twin: Twin) -> None:
    too_many = UploadRows("big", range(MAX_ROWS + 1))
    with twin.apps["pg"].state.ctx.pool.connection() as con:
        cur = con.cursor()
        try:
            with session_uploads([too_many]), pytest.raises(QueryError) as caught:
                attach_uploads(cur)
        finally:
            cur.close()
    assert str(caught.value) == (
        "InvalidInputException: the run's uploaded lists are too large: 1,000,001 rows are more than a "
        "PostgreSQL mart takes beside one statement (1,000,000); use fewer or smaller lists"
    )


# -- `cohort export` and `cohort extract` on the mart URL: the same files as on the DuckDB file -----


#: A fixed release secret (random bytes, base64): both runs must key pseudonyms and shifts alike.
RELEASE_SECRET = base64.b64encode(hashlib.sha256(b"tests/test_postgres_api.py").digest()).decode()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cohort_engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "400", "COHORT_RELEASE_SECRET": RELEASE_SECRET},
    )


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command", ["export", "extract"])
def test_cli_release_commands_write_the_same_files(twin: Twin, command: str) -> None:
    spec = twin.root / "seed.json"
    spec.write_text(json.dumps(SEED_SPEC), "utf-8")
    trees: list[dict[str, bytes]] = []
    for mart in (str(twin.root / "mart.duckdb"), twin.url):
        out = twin.root / f"{command}-{len(trees)}"
        args = [command, "--mart", mart, "--project-key", "study-001", "--out", str(out), "--spec", str(spec)]
        if command == "extract":
            args += ["--k", "2", "--domains", "conditions,procedures", "--window=-365:365", "--format", "csv"]
        done = _cli(*args)
        assert done.returncode == 0, done.stderr[-2000:]
        trees.append(_tree(out))
    duck, pg = trees
    assert sorted(pg) == sorted(duck) and len(duck) >= 4
    for name in duck:
        if name.endswith(".json"):  # stamped with the time they were written
            assert _strip(json.loads(pg[name]), CREATED) == _strip(json.loads(duck[name]), CREATED), name
        else:
            assert pg[name] == duck[name], name
    if command == "export":
        assert sum(name.endswith(".dcm") for name in duck) > 0  # de-identified DICOM copies, same bytes


def test_cohort_serve_on_a_url_answers_and_never_shows_the_password(twin: Twin, tmp_path: Path) -> None:
    url = twin.url.replace("postgres@", "postgres:pw-never-shown@")  # trust auth: the password is unused
    with served(Path(url), tmp_path, {"steward": "steward"}) as srv:
        h = {"Authorization": f"Bearer {srv.keys['steward']}"}
        r = httpx.post(f"{srv.base}/v1/ask", json={"question": SEED_EN}, headers=h, timeout=120)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["count"]) == ("ok", SEED_COUNT)
        assert httpx.get(f"{srv.base}/v1/health", timeout=10).json()["mart_name"] == "tiny"
    log = srv.log.read_text("utf-8", errors="replace").replace("\n", "")  # rich wraps the line
    assert "serving postgresql://postgres@localhost/tiny?host=" in log
    assert "pw-never-shown" not in log + r.text


def assert_imported_codes_resolve_alike(apps: dict[str, Any], engine: str) -> None:
    """A code-set import joins its rows to ``concept`` as a registered table (api.codesets): the same
    concepts and the same reasons on DuckDB and on ``engine``."""
    rows = [
        CodeRow(2, "ICD10CM", "I21"),
        CodeRow(3, "ICD-10-CM", "I251"),  # dotless, matched to I25.1
        CodeRow(4, "icd10", "I10"),
        CodeRow(5, "ICD10CM", "Z99"),  # no such concept
        CodeRow(6, "LOINC", "1234-5"),  # a vocabulary the mart lacks
        CodeRow(7, "ICD9Proc", "36.1"),  # a vocabulary imports do not take
    ]
    found = []
    for name in ("duck", engine):
        with apps[name].state.ctx.pool.connection() as con:
            found.append(resolve_codes(con, rows))
    assert found[1] == found[0]
    assert found[0][0] == {2: 1001, 3: 1002, 4: 1003}
    assert found[0][1] == {5: "not_a_concept", 6: "not_in_mart", 7: "unknown_vocabulary"}


def assert_empty_and_null_only_columns_register(apps: dict[str, Any], engine: str) -> None:
    """An extract whose persons were all withheld registers an empty table; a list without a number or
    date column registers columns of NULLs."""
    with apps[engine].state.ctx.pool.connection() as con:
        cur = con.cursor()
        try:
            cur.register(
                "px", pa.table({"person_id": pa.array([], pa.int64()), "d": pa.array([], pa.date32())})
            )
            assert cur.execute("SELECT count(*) FROM px").fetchall() == [(0,)]
            cur.register("px", pa.table({"person_id": [7, 8], "v": pa.array([None, None], pa.float64())}))
            assert cur.execute("SELECT count(*), count(v), sum(person_id) FROM px").fetchall() == [(2, 0, 15)]
        finally:
            cur.close()


def test_imported_codes_resolve_alike(twin: Twin) -> None:
    assert_imported_codes_resolve_alike(twin.apps, "pg")


def test_empty_and_null_only_columns_register(twin: Twin) -> None:
    assert_empty_and_null_only_columns_register(twin.apps, "pg")
