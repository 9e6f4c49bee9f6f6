"""The API's door for out-of-bounds input: the spec's own bounds and the request's own limits.

Why: a spec that cannot be meant (a window of 10¹² days, an ``Infinity`` value, a 32-bit-overflowing
concept id) used to be stopped by checks of the API's own, and by nothing at the other doors. The
spec now bounds itself (``cohort_engine.spec``); these tests pin that the API still answers such input
with a clear 422 in the one documented error shape, with the spec's own words (the same as the CLI's
and the LLM's), without echoing the input — and that the limits that are about requests (how many
overrides, how long a mention) stay the API's.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from cohort_engine.api.app import app_from_env, create_app
from cohort_engine.api.limits import MAX_MENTION_CHARS, MAX_OVERRIDE_IDS, MAX_OVERRIDES
from cohort_engine.api.pool import BUSY_MESSAGE, MartBusy, MartPool, _Admission
from cohort_engine.seed import SEED_EN
from cohort_engine.spec import INT32_MAX, MAX_WINDOW_DAYS, CohortSpec
from cohort_engine.sql_guard.errors import QueryError
from tests.api_fixtures import SEED_COUNT, build_tiny_mart

SPEC: dict[str, Any] = {
    "index": {"domain": "condition", "date_range": {"start": "2023-10-01", "end": "2023-10-10"}},
    "criteria": [
        {
            "label": "surgery",
            "domain": "procedure",
            "concepts": {"concept_ids": [2001, 2002]},
            "window": {"start": 7, "end": 14},
        }
    ],
}
SECRET = "Zq7-never-echoed"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    app = create_app(build_tiny_mart(tmp_path_factory.mktemp("limits") / "mart.duckdb"))
    key = app.state.ctx.state.create_key("steward", "limits")[1]
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def _error(r: Any, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"], body
    assert SECRET not in r.text and "Traceback" not in r.text
    return body["error"]


def _with(path: str, value: Any) -> dict[str, Any]:
    """SPEC with the field at dotted ``path`` (list indexes as numbers) set to ``value``."""
    spec = copy.deepcopy(SPEC)
    *parents, last = path.split(".")
    node: Any = spec
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    node[int(last) if isinstance(node, list) else last] = value
    return spec


BAD_SPECS = {
    "window beyond 100 years": _with("criteria.0.window", {"start": 0, "end": 10**12}),
    "window far before": _with("criteria.0.window", {"start": -(MAX_WINDOW_DAYS + 1), "end": 0}),
    "concept id past int32": _with("criteria.0.concepts.concept_ids", [INT32_MAX + 1]),
    "negative concept id": _with("index.concepts", {"concept_ids": [-1]}),
    "age above 150": _with("demographics", {"age_max": 200}),
    "index date in 2500": _with("index.date_range", {"start": "2500-01-01"}),
    "31 criteria": {
        **SPEC,
        "criteria": [{"label": f"c{i}", "domain": "procedure"} for i in range(31)],
    },
    "title too long": {**SPEC, "title": SECRET * 20},
    "unknown language": {**SPEC, "language": "fr"},
    "measurement value 1e13": {
        **SPEC,
        "criteria": [
            {"label": "lab", "domain": "measurement", "value": {"op": ">", "value": 1e13}},
        ],
    },
    "imaging window on no criterion": {**SPEC, "imaging": {"window": {"start": 0, "anchor": "nothing"}}},
}


@pytest.mark.parametrize("spec", BAD_SPECS.values(), ids=BAD_SPECS.keys())
def test_out_of_bounds_specs_get_the_specs_own_422(client: TestClient, spec: dict) -> None:
    with pytest.raises(ValidationError) as raised:
        CohortSpec.model_validate(spec)
    expected = {
        (
            "body: " + ".".join(["spec", *map(str, e["loc"])]),
            e["msg"].removeprefix("Value error, "),
        )
        for e in raised.value.errors()
    }
    err = _error(client.post("/v1/cohorts", json={"spec": spec}), 422, "validation_error")
    assert {(f["location"], f["problem"]) for f in err["fields"]} == expected
    assert err["message"].startswith("The request is invalid — body: spec")


@pytest.mark.parametrize("token", ["Infinity", "-Infinity", "NaN"])
def test_non_finite_numbers_are_refused(client: TestClient, token: str) -> None:
    """JSON parsers accept ``Infinity`` and ``NaN``; the spec does not (``allow_inf_nan=False``)."""
    spec = json.dumps({**SPEC, "criteria": [{"label": "lab", "domain": "measurement", "value": {}}]})
    body = '{"spec": ' + spec.replace('"value": {}', '"value": {"op": ">", "value": ' + token + "}") + "}"
    r = client.post("/v1/cohorts", content=body, headers={"Content-Type": "application/json"})
    err = _error(r, 422, "validation_error")
    assert err["fields"] == [
        {"location": "body: spec.criteria.0.value.value", "problem": "Input should be a finite number"}
    ]


def test_the_bounds_themselves_are_accepted(client: TestClient) -> None:
    spec = _with("criteria.0.window", {"start": -MAX_WINDOW_DAYS, "end": MAX_WINDOW_DAYS})
    spec["criteria"][0]["concepts"]["concept_ids"] = [2001, INT32_MAX]
    d = client.post("/v1/cohorts", json={"spec": spec}).json()
    assert (
        d["status"] == "ok" and d["count"] == 10
    )  # any CABG after the diagnosis: odd persons 1–13, and 14–16


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({f"m{i}": [2001] for i in range(MAX_OVERRIDES + 1)}, f"At most {MAX_OVERRIDES} overrides."),
        ({"  ": [2001]}, f"Override mentions must be 1–{MAX_MENTION_CHARS} characters."),
        (
            {"x" * (MAX_MENTION_CHARS + 1): [2001]},
            f"Override mentions must be 1–{MAX_MENTION_CHARS} characters.",
        ),
        ({"mi": []}, f"Overrides need 1–{MAX_OVERRIDE_IDS} concept ids per mention."),
        (
            {"mi": [2001] * (MAX_OVERRIDE_IDS + 1)},
            f"Overrides need 1–{MAX_OVERRIDE_IDS} concept ids per mention.",
        ),
    ],
    ids=["too many", "blank mention", "long mention", "no ids", "too many ids"],
)
def test_request_limits_on_overrides(client: TestClient, overrides: dict, message: str) -> None:
    err = _error(
        client.post("/v1/cohorts", json={"spec": SPEC, "overrides": overrides}), 422, "validation_error"
    )
    assert err["message"] == message


def test_override_and_codeset_ids_have_the_specs_range(client: TestClient) -> None:
    err = _error(
        client.post("/v1/cohorts", json={"spec": SPEC, "overrides": {"mi": [INT32_MAX + 1]}}),
        422,
        "validation_error",
    )
    assert [f["location"] for f in err["fields"]] == ["body: overrides.mi.0"]
    err = _error(
        client.post("/v1/codesets", json={"name": "big", "concept_ids": [2001, -5]}), 422, "validation_error"
    )
    assert [f["location"] for f in err["fields"]] == ["body: concept_ids.1"]
    # In range but not in the vocabulary: the mart's answer, not the schema's.
    err = _error(
        client.post("/v1/codesets", json={"name": "big", "concept_ids": [INT32_MAX]}), 422, "unknown_concept"
    )
    assert str(INT32_MAX) in err["message"]


@pytest.mark.slow
def test_importing_the_app_loads_no_parser_stack() -> None:
    """The server module is cheap to import (``cohort --help`` and ``cohort serve --help`` may touch it):
    spaCy loads with the first question, langchain only for an LLM parser."""
    code = (
        "import sys, cohort_engine.api.app\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'spacy', 'langchain', 'langchain_core'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    )
    assert out.stdout.strip() == "[]"


# -- the mart pool's bounded queue: 503 busy with Retry-After, never a slow pile-up or a 500 ----------


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, MartPool]]:
    """One cursor, one place in the queue, a short wait: the test holds the cursor to make it busy."""
    app = create_app(
        build_tiny_mart(tmp_path_factory.mktemp("busy") / "mart.duckdb"),
        max_concurrent_queries=1,
        max_queued_queries=1,
        queue_wait_s=0.3,
    )
    key = app.state.ctx.state.create_key("steward", "busy")[1]
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        c.post("/v1/ask", json={"question": SEED_EN})  # the parser loads before any clock starts
        yield c, app.state.ctx.pool


def _busy(r: Any) -> None:
    err = _error(r, 503, "busy")
    assert err == {"code": "busy", "message": BUSY_MESSAGE}
    assert r.headers["retry-after"] == "2" and r.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "body"),
    [("/v1/cohorts", {"spec": SPEC}), ("/v1/ask", {"question": SEED_EN})],
    ids=["run", "ask"],
)
def test_a_full_queue_is_told_503_at_once_and_a_late_one_after_its_wait(
    busy: tuple[TestClient, MartPool], path: str, body: dict
) -> None:
    c, pool = busy
    with pool.connection(), ThreadPoolExecutor(1) as ex:  # a request holds the only cursor
        queued = ex.submit(c.post, path, json=body)
        _wait_until(lambda: pool.waiting == 1)
        t0 = time.monotonic()
        _busy(c.post(path, json=body))  # the queue (one place) is full: told at once
        assert time.monotonic() - t0 < 0.25
        _busy(queued.result(timeout=10))  # the queued one waited its 0.3 s, then was told
    assert pool.running == 0 and pool.waiting == 0
    r = c.post(path, json=body)  # free again: served
    assert r.status_code in (200, 201) and r.json()["count"] == SEED_COUNT, r.text


def test_a_queued_request_gets_the_cursor_when_it_is_freed(busy: tuple[TestClient, MartPool]) -> None:
    c, pool = busy
    with ThreadPoolExecutor(1) as ex:
        with pool.connection():
            queued = ex.submit(c.post, "/v1/ask", json={"question": SEED_EN})
            _wait_until(lambda: pool.waiting == 1)
        r = queued.result(timeout=60)
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["count"] == SEED_COUNT, r.text


def test_health_waits_for_the_mart_instead_of_being_turned_away(busy: tuple[TestClient, MartPool]) -> None:
    """The queue's bound is for requests a person waits on; a caller naming its own wait (health, jobs)
    waits that long whatever the queue holds."""
    c, pool = busy
    with ThreadPoolExecutor(1) as ex:
        with pool.connection():
            queued = ex.submit(c.post, "/v1/cohorts", json={"spec": SPEC})
            _wait_until(lambda: pool.waiting == 1)
            health = ex.submit(c.get, "/v1/health")
            time.sleep(0.05)
        assert queued.result(timeout=10).status_code in (201, 503)
        assert health.result(timeout=10).json()["mart"] is True


def test_slots_go_first_come_first_served() -> None:
    """A freed slot passes to the longest waiter, not to whichever thread asks next."""
    gate = _Admission(1, max_waiting=3)
    assert gate.acquire(0, bounded=True)
    order: list[int] = []

    def wait(i: int) -> None:
        assert gate.acquire(5, bounded=True)
        order.append(i)
        gate.release()

    threads = []
    for i in range(3):
        threads.append(threading.Thread(target=wait, args=(i,)))
        threads[-1].start()
        _wait_until(lambda n=i + 1: gate.waiting == n)
    assert not gate.acquire(0, bounded=True)  # three waiting: the queue is full
    assert not gate.acquire(0.05, bounded=False)  # a background caller waits, but not this long
    gate.release()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2] and gate.running == 0 and gate.waiting == 0


def test_out_of_memory_in_a_crowd_is_busy_alone_it_is_the_querys_error(
    busy: tuple[TestClient, MartPool],
) -> None:
    pool = MartPool(busy[1].path, 2, max_waiting=0)
    try:
        oom = QueryError("OutOfMemoryException", "out of memory")
        with pytest.raises(QueryError), pool.connection():
            raise oom  # alone: the query's own error (400 query_failed)
        with pool.connection(), pytest.raises(MartBusy) as told, pool.connection():
            raise oom  # beside another query: busy
        assert (told.value.status, told.value.code, told.value.headers) == (503, "busy", {"Retry-After": "2"})
    finally:
        pool.close()


def _wait_until(done: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def test_cohort_serve_workers_take_the_pool_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cohort serve --workers N`` hands its options to each worker through the environment."""
    mart = build_tiny_mart(tmp_path / "mart.duckdb")
    for name, value in {
        "COHORT_MART": str(mart),
        "COHORT_STATE": str(tmp_path / "state.sqlite"),
        "COHORT_POOL_SIZE": "3",
        "COHORT_MAX_QUEUED": "5",
        "COHORT_QUEUE_WAIT": "1.5",
        "COHORT_THREADS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    app = app_from_env()
    try:
        s, pool = app.state.ctx.settings, app.state.ctx.pool
        assert (s.max_concurrent_queries, s.max_queued_queries, s.queue_wait_s, s.mart_threads) == (
            3,
            5,
            1.5,
            1,
        )
        assert (pool.size, pool.wait_s) == (3, 1.5)
        assert pool.root.execute("SELECT current_setting('threads')").fetchone() == (1,)
    finally:
        app.state.ctx.close()


def test_the_thread_pool_has_room_for_every_admitted_request(tmp_path: Path) -> None:
    """Requests waiting for the mart hold a server thread each: the pool of threads outgrows the mart's
    queue, so light requests are never stuck behind them (and the mart's bound is what answers 503)."""
    app = create_app(
        build_tiny_mart(tmp_path / "mart.duckdb"), max_concurrent_queries=4, max_queued_queries=60
    )
    with TestClient(app) as c:
        assert c.portal is not None
        tokens = c.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    assert tokens == 4 + 60 + 16
