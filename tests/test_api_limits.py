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
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from cohort_engine.api.app import create_app
from cohort_engine.api.limits import MAX_MENTION_CHARS, MAX_OVERRIDE_IDS, MAX_OVERRIDES
from cohort_engine.spec import INT32_MAX, MAX_WINDOW_DAYS, CohortSpec
from tests.api_fixtures import build_tiny_mart

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
