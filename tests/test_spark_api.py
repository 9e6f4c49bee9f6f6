"""The REST API, `cohort serve`, `cohort export` / `extract` and uploaded lists over a Spark mart answer
exactly as over the DuckDB file its Parquet folder was written from.

The same scenarios as ``tests/test_postgres_api.py`` (whose helpers this module reuses): the tiny API
mart (``tests.api_fixtures``: real DuckDB, real DICOM index) is written as Parquet
(``schema_catalog.parquet_export``) and served as ``spark-local:DIR`` by one app, as the DuckDB file by
another, both from copies of one state file and with the same sequence of ids, so answers, manifests,
Table 1 and extracted files must be equal byte for byte. Uploaded lists are checked against hand-written
SQL on both engines.

One Spark driver serves the whole module (the process's, shared with ``tests/test_spark.py``); the
in-process CLI runs on it too, and only `cohort serve` starts a driver of its own (a subprocess).
Java 17+ is required: where it is missing these tests fail with the reason, they never skip.
"""

from __future__ import annotations

import io
import itertools
import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from cohort_engine.api import state as state_module
from cohort_engine.api.app import create_app
from cohort_engine.api.state import StateStore
from cohort_engine.pipeline import run_spec
from cohort_engine.schema_catalog.parquet_export import export_parquet
from cohort_engine.seed import SEED_EN, SEED_KO
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.uploads import UPLOAD_TABLE, UploadRows, attach_uploads, session_uploads
from tests.api_fixtures import MRNS, SEED_COUNT, build_tiny_mart
from tests.served import served
from tests.test_api_core import SEED_SPEC
from tests.test_postgres_api import (
    CREATED,
    HAND_OCT,
    LIST_CSV,
    OCT,
    RELEASE_SECRET,
    ROLES,
    K,
    _approved,
    _hand,
    _Ids,
    _job,
    _strip,
    _tree,
    assert_empty_and_null_only_columns_register,
    assert_imported_codes_resolve_alike,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@dataclass
class SparkTwin:
    """Two apps on one mart: ``duck`` serves the DuckDB file, ``spark`` its Parquet folder."""

    duck: TestClient
    spark: TestClient
    keys: dict[str, str]
    apps: dict[str, Any]
    ids: _Ids
    root: Path
    mart: str
    base: int = 0

    def both(self, scenario: Callable[[TestClient, str], Any]) -> tuple[Any, Any]:
        """``scenario(client, engine)`` on DuckDB, then on Spark, each from the same id."""
        self.base += 1000
        out = []
        for engine, client in (("duck", self.duck), ("spark", self.spark)):
            self.ids.counter = itertools.count(self.base)
            out.append(scenario(client, engine))
        return out[0], out[1]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkTwin]:
    from cohort_engine.sql_guard.spark_mart import java_problem

    problem = java_problem()
    if problem:
        pytest.fail(problem)  # skipping is not passing: CI must have Java (scripts/setup-system.sh)
    root = tmp_path_factory.mktemp("spark-api")
    mart = build_tiny_mart(root / "mart.duckdb")
    export_parquet(mart, root / "tiny")
    url = f"spark-local:{root / 'tiny'}"
    ids = _Ids()
    patch = pytest.MonkeyPatch()
    patch.setattr(state_module, "secrets", ids)
    (root / "duck").mkdir()
    (root / "spark").mkdir()
    store = StateStore(root / "duck" / "state.sqlite")
    keys = {who: store.create_key(role, who)[1] for who, role in ROLES.items()}
    store.server_secret()  # made now, so that both copies hold it
    store.close()
    shutil.copy2(root / "duck" / "state.sqlite", root / "spark" / "state.sqlite")
    apps = {
        "duck": create_app(mart, root / "duck" / "state.sqlite", k=K, export_dir=root / "duck" / "exports"),
        "spark": create_app(
            Path(url), root / "spark" / "state.sqlite", k=K, export_dir=root / "spark" / "exports"
        ),
    }
    try:
        with TestClient(apps["duck"]) as duck, TestClient(apps["spark"]) as spark:
            yield SparkTwin(duck=duck, spark=spark, keys=keys, apps=apps, ids=ids, root=root, mart=url)
    finally:
        patch.undo()


def test_health_names_the_folder_not_the_master(twin: SparkTwin) -> None:
    body = twin.spark.get("/v1/health").json()
    assert (body["status"], body["mart"], body["mart_name"]) == ("ok", True, "tiny")
    ask = {"question": SEED_EN, "mart": "tiny"}
    r = twin.spark.post("/v1/ask", json=ask, headers=twin.h("steward"))
    assert r.status_code == 200, r.text
    assert r.json()["count"] == SEED_COUNT
    wrong = twin.spark.post("/v1/ask", json={**ask, "mart": "mart.duckdb"}, headers=twin.h("steward"))
    assert wrong.status_code == 422
    assert wrong.json()["error"]["message"] == "This server serves the mart “tiny” only."


@pytest.mark.parametrize(
    "who,question",
    [
        ("steward", SEED_EN),
        ("researcher", SEED_KO),
        ("researcher", "patients diagnosed with hypertension in 2023"),
    ],
)
def test_ask_gives_the_same_answer(twin: SparkTwin, who: str, question: str) -> None:
    def ask(client: TestClient, _: str) -> dict:
        r = client.post("/v1/ask", json={"question": question}, headers=twin.h(who))
        assert r.status_code == 200, r.text
        return _strip(r.json())

    duck, spark = twin.both(ask)
    assert duck["status"] == "ok"
    if who == "steward":
        assert duck["count"] == SEED_COUNT
    assert spark == duck


def test_manifest_and_export_job_are_the_same_files(twin: SparkTwin) -> None:
    """The manifest joins the cohort's events to its imaging rows, two compiled cohorts with the same
    CTE names side by side (sql_guard.spark_mart renames them apart for Spark)."""

    def manifest(client: TestClient, _: str) -> tuple[dict, bytes, bytes]:
        cid = _approved(twin, client, SEED_SPEC)  # type: ignore[arg-type]
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

    duck, spark = twin.both(manifest)
    assert len(duck[0]["rows"]) == SEED_COUNT + 8  # 13 CT, 6 XA, 2 MR series
    assert spark[0] == duck[0]
    assert spark[1] == duck[1] and spark[1].count(b"\n") > SEED_COUNT + 8
    assert spark[2] == duck[2]


def test_table1_and_charts_are_the_same(twin: SparkTwin) -> None:
    """The researcher's view: its noise is keyed by each cell's person-set digest, computed in Spark's
    SQL, so equal views mean equal person sets behind every cell (the steward's exact view is compared
    on PostgreSQL; on Spark it costs another minute)."""

    def table1(client: TestClient, _: str) -> list[dict]:
        out = []
        for who in ("researcher",):
            cids = []
            for spec in (SEED_SPEC, {"index": OCT}):
                r = client.post("/v1/cohorts", json={"spec": spec}, headers=twin.h(who))
                assert r.status_code == 201, r.text
                cids.append(r.json()["cohort_id"])
            r = client.get(f"/v1/cohorts/{cids[0]}/table1", params={"compare": cids[1]}, headers=twin.h(who))
            assert r.status_code == 200, r.text
            out.append(_strip(r.json()))
            stats = client.get(f"/v1/cohorts/{cids[1]}/stats", headers=twin.h(who))  # the charts
            assert stats.status_code == 200, stats.text
            out.append(_strip(stats.json()))
        return out

    duck, spark = twin.both(table1)
    assert duck[0]["counts"] == "noisy" and len(duck[0]["totals"]) == 2 and len(duck[0]["rows"]) > 5
    assert spark == duck


def test_extract_job_writes_the_same_dataset(twin: SparkTwin) -> None:
    def extract(client: TestClient, _: str) -> dict[str, bytes]:
        cid = _approved(twin, client, SEED_SPEC)  # type: ignore[arg-type]
        h = twin.h("export")
        body = {"domains": ["conditions", "procedures"], "window": "-365:365", "format": "parquet"}
        r = client.post(f"/v1/cohorts/{cid}/extracts", json=body, headers=h)
        assert r.status_code == 202, r.text
        job = _job(client, r.json()["job_id"], h)
        assert job["status"] == "done", job
        z = zipfile.ZipFile(io.BytesIO(client.get(job["download"], headers=h).content))
        return {name: z.read(name) for name in z.namelist()}

    duck, spark = twin.both(extract)
    assert sorted(n.rsplit("/", 1)[-1] for n in duck) == [
        "README.txt",
        "conditions.parquet",
        "datapackage.json",
        "disclosure.json",
        "images.parquet",
        "persons.parquet",
        "procedures.parquet",
    ]
    assert sorted(spark) == sorted(duck)
    for name in duck:
        if name.endswith(".json"):  # stamped with the time it was built
            assert _strip(json.loads(spark[name]), CREATED) == _strip(json.loads(duck[name]), CREATED)
            continue
        assert spark[name] == duck[name], name
    persons = pq.read_table(io.BytesIO(duck[next(n for n in duck if n.endswith("persons.parquet"))]))
    assert 0 < persons.num_rows <= SEED_COUNT


# -- uploaded lists: include and exclude, against hand-written SQL on both engines -----------------


@pytest.fixture(scope="module")
def uploaded(twin: SparkTwin) -> tuple[dict, dict]:
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
    duck, spark = uploaded
    assert spark == duck
    assert (duck["rows"], duck["matched"]["display"]) == (32, "30")
    for ident in [*MRNS, "X0000001"]:
        assert ident not in repr(spark)


@pytest.mark.parametrize(
    "lists,hand",
    [
        (
            [{"name": "echo", "value": {"op": "=", "value": 1}}],
            "AND person_id IN (SELECT person_id FROM person WHERE person_id <= 30 AND person_id % 2 = 1)",
        ),
        (
            [{"name": "echo"}, {"name": "echo", "mode": "exclude", "value": {"op": ">=", "value": 1}}],
            "AND person_id IN (SELECT person_id FROM person WHERE person_id <= 30 AND person_id % 2 = 0)",
        ),
    ],
    ids=["include-value", "include-and-exclude"],
)
def test_spec_with_a_list_is_exact_on_both(twin: SparkTwin, uploaded, lists: list[dict], hand: str) -> None:
    spec = {"index": OCT, "lists": lists}
    sql = f"{HAND_OCT} {hand}"
    want = _hand(twin, "duck", sql)  # type: ignore[arg-type]
    assert want == _hand(twin, "spark", sql) and len(want) == 15  # type: ignore[arg-type]

    def run(client: TestClient, _: str) -> dict:
        r = client.post("/v1/cohorts", json={"spec": spec}, headers=twin.h("steward"))
        assert r.status_code == 201, r.text
        return _strip(r.json())

    duck, spark = twin.both(run)
    assert duck["status"] == "ok" and duck["count"] == len(want)
    assert spark == duck
    # person by person, through the pipeline on the Spark pool (the API never returns ids)
    store = twin.apps["spark"].state.ctx.state
    key = next(k for k in store.list_keys() if k.name == "steward")
    rows = store.upload_persons(store.get_upload(key.key_id, "echo").list_id)
    lst = UploadRows("echo", [r[0] for r in rows], [r[1] for r in rows])
    with twin.apps["spark"].state.ctx.pool.connection() as con, session_uploads([lst]):
        res = run_spec(CohortSpec.model_validate(spec), con, include_person_ids=True)
    assert res.status == "ok" and set(res.person_ids or []) == want


def test_list_rows_never_enter_the_spark_sql(twin: SparkTwin) -> None:
    """The list is a DataFrame made from the Arrow rows under a view name private to the cursor; the
    SQL text Spark parses names that view, never a person id."""
    ids = [4242424201, 4242424202, 4242424203]
    with twin.apps["spark"].state.ctx.pool.connection() as con:
        cur = con.cursor()
        try:
            with session_uploads([UploadRows("echo", ids, [1.0, 0.0, 1.0])]):
                attach_uploads(cur)
            sql = f"SELECT count(*), min(person_id) FROM {UPLOAD_TABLE} WHERE value = 1"
            text = cur.render(sql)
            assert text is not None and f"_{UPLOAD_TABLE} WHERE" in text and "42424242" not in text
            assert cur.execute(sql).fetchall() == [(2, ids[0])]
        finally:
            cur.close()
        other = con.cursor()
        try:  # another cursor (another request) has no such table
            with pytest.raises(Exception, match=f"Spark mart: no table {UPLOAD_TABLE}"):
                other.execute(f"SELECT count(*) FROM {UPLOAD_TABLE}")
        finally:
            other.close()


def test_imported_codes_resolve_alike(twin: SparkTwin) -> None:
    assert_imported_codes_resolve_alike(twin.apps, "spark")


def test_empty_and_null_only_columns_register(twin: SparkTwin) -> None:
    assert_empty_and_null_only_columns_register(twin.apps, "spark")


# -- `cohort export` / `extract` on spark-local:DIR, `cohort serve` -----------------------------------


def _cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from cohort_engine.cli import app

    # in process: the module's Spark driver serves it (a subprocess would start a JVM of its own)
    return CliRunner().invoke(
        app, list(args), env={"COHORT_RELEASE_SECRET": RELEASE_SECRET, "COLUMNS": "400"}
    )


@pytest.mark.parametrize("command", ["export", "extract"])
def test_cli_release_commands_write_the_same_files(twin: SparkTwin, command: str) -> None:
    spec = twin.root / "seed.json"
    spec.write_text(json.dumps(SEED_SPEC), "utf-8")
    trees: list[dict[str, bytes]] = []
    for mart in (str(twin.root / "mart.duckdb"), twin.mart):
        out = twin.root / f"{command}-{len(trees)}"
        args = [command, "--mart", mart, "--project-key", "study-001", "--out", str(out), "--spec", str(spec)]
        if command == "extract":
            args += ["--k", "2", "--domains", "conditions,procedures", "--window=-365:365", "--format", "csv"]
        done = _cli(*args)
        assert done.exit_code == 0, done.output[-2000:]
        trees.append(_tree(out))
    duck, spark = trees
    assert sorted(spark) == sorted(duck) and len(duck) >= 4
    for name in duck:
        if name.endswith(".json"):  # stamped with the time they were written
            assert _strip(json.loads(spark[name]), CREATED) == _strip(json.loads(duck[name]), CREATED), name
        else:
            assert spark[name] == duck[name], name
    if command == "export":
        assert sum(name.endswith(".dcm") for name in duck) > 0  # de-identified DICOM copies, same bytes


def test_cohort_serve_on_a_spark_mart_answers(twin: SparkTwin, tmp_path: Path) -> None:
    """A real `cohort serve --mart spark-local:DIR` (its own process and Spark driver)."""
    with served(Path(twin.mart), tmp_path, {"steward": "steward"}, start_timeout_s=240) as srv:
        h = {"Authorization": f"Bearer {srv.keys['steward']}"}
        r = httpx.post(f"{srv.base}/v1/ask", json={"question": SEED_EN}, headers=h, timeout=240)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["count"]) == ("ok", SEED_COUNT)
        assert httpx.get(f"{srv.base}/v1/health", timeout=10).json()["mart_name"] == "tiny"
    log = srv.log.read_text("utf-8", errors="replace").replace("\n", "")  # rich wraps the line
    assert f"serving {twin.mart} on http://127.0.0.1:" in log
