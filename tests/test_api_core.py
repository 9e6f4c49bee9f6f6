"""REST API through httpx (FastAPI's TestClient) on a tiny, fully known mart (``tests.api_fixtures``):
auth and roles, ask/cohorts/codesets/sql, error shapes, small-cell suppression, release workflow,
manifests, jobs, audit, the `cohort keys` command and the OpenAPI document.

Why: the API is the only way researchers and AI companies reach the mart; these tests pin who may see
what (exact counts, rows, person ids) and that nothing identifying ever leaves.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
import time
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from pydicom import dcmread
from typer.testing import CliRunner

from cohort_engine.api.app import create_app
from cohort_engine.api.disclosure import person_set_digest
from cohort_engine.api.state import AuditLog, StateStore, hash_key
from cohort_engine.seed import SEED_EN, SEED_KO
from tests.api_fixtures import INDEX_PERSONS, MRNS, SEED_COUNT, SERIES, build_tiny_mart, dicom_dir

SEED_SPEC = {
    "index": {"domain": "condition", "date_range": {"start": "2023-10-01", "end": "2023-10-10"}},
    "criteria": [
        {
            "label": "surgery",
            "domain": "procedure",
            "concepts": {"terms": ["myocardial infarction", "coronary artery disease"]},
            "window": {"start": 7, "end": 14},
        }
    ],
}
SERIES_COLUMNS = [
    "patient",
    "study_uid",
    "series_uid",
    "index_date",
    "study_date",
    "series_date",
    "days_from_index",
    "modality",
    "body_part",
    "study_description",
    "series_description",
    "n_instances",
    "total_bytes",
    "criteria",
]
INSTANCE_COLUMNS = [
    "patient",
    "study_uid",
    "series_uid",
    "sop_uid",
    "index_date",
    "study_date",
    "series_date",
    "days_from_index",
    "modality",
    "body_part",
    "study_description",
    "series_description",
    "file_size",
    "burned_in_annotation",
    "criteria",
]
SERIES_TOTAL = sum(len(v) for v in SERIES.values())  # 13 CT + 6 XA + 2 MR
# Appendectomy 0–30 days after: persons 17 and 18 only (a small cell).
SMALL_SPEC = {
    "index": {"domain": "condition", "date_range": {"start": "2023-10-01", "end": "2023-10-10"}},
    "criteria": [
        {
            "label": "appendix",
            "domain": "procedure",
            "concepts": {"concept_ids": [2004]},
            "window": {"start": 0, "end": 30},
        }
    ],
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("api")
    mart = build_tiny_mart(root / "mart.duckdb")
    app = create_app(mart)
    store: StateStore = app.state.ctx.state
    keys = {}
    for role in ("researcher", "steward", "export_client", "admin"):
        keys[role] = store.create_key(role, role)[1]
    keys["researcher2"] = store.create_key("researcher", "other")[1]
    keys["steward2"] = store.create_key("steward", "other")[1]
    with TestClient(app) as client:
        yield {"client": client, "keys": keys, "app": app, "mart": mart, "store": store}


def H(env, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['keys'][role]}"}


SEED_IDS = range(1, SEED_COUNT + 1)  # the seed cohort: persons 1–13 (tests.api_fixtures)
INDEX_IDS = range(1, INDEX_PERSONS + 1)  # everyone with a diagnosis in the index range


def noisy(env, ids, n: int | None = None, measure: str = "persons") -> dict:
    """The cell a researcher must see for exactly these persons: the one disclosure function, keyed by
    this server's secret and the person set (``n`` for a count of something else about them)."""
    prot = env["app"].state.ctx.service.protector
    token = prot.seal(person_set_digest(ids))
    if measure == "persons":
        return prot.cell(len(set(ids)), token).model_dump()
    persons = prot.cell(len(set(ids)), token)
    return prot.image_counts(persons, {measure: n or 0}, token)[measure].model_dump()


def assert_error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    assert "Traceback" not in r.text and 'File "' not in r.text
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


def no_identifiers(text: str) -> None:
    for mrn in MRNS:
        assert mrn not in text
    assert "1.2.826.0.1.3680043.99" not in text and "/pacs/" not in text and "pacs.example" not in text
    assert "person_ids" not in text or '"person_ids":null' in text.replace(" ", "")


@pytest.fixture(scope="module")
def dicom_truth(env) -> dict:
    """What the tiny mart's DICOM files hold: per-series file counts and bytes, and every identifying
    value in their headers (names, IDs, birth dates, addresses, UIDs, the folder) — none may come out."""
    folder = dicom_dir(env["mart"])
    series: dict[str, list[int]] = {}
    words: set[str] = set()  # matched as whole words (names are short: Lee, Lim …)
    strings: set[str] = {str(folder), folder.name}
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        ds = dcmread(f, stop_before_pixels=True)
        n_bytes = series.setdefault(ds.SeriesInstanceUID, [0, 0])
        n_bytes[0] += 1
        n_bytes[1] += f.stat().st_size
        strings |= {
            ds.SOPInstanceUID,
            ds.StudyInstanceUID,
            ds.SeriesInstanceUID,
            ds.PatientID,
            ds.AccessionNumber,
            ds.PatientBirthDate,
            date(
                int(ds.PatientBirthDate[:4]), int(ds.PatientBirthDate[4:6]), int(ds.PatientBirthDate[6:])
            ).isoformat(),
            ds.PatientAddress,
            ds.PatientTelephoneNumbers,
            ds.InstitutionName,
            ds.OtherPatientIDs,
        }
        for kw in ("PatientName", "ReferringPhysicianName", "OperatorsName", "PerformingPhysicianName"):
            for group in str(ds.get(kw) or "").split("="):
                words |= {w for w in group.split("^") if len(w) > 1}
    return {
        "series": {uid: tuple(v) for uid, v in series.items()},
        "files": sum(v[0] for v in series.values()),
        "strings": {x for x in strings if x},
        "words": words,
    }


def no_dicom_identifiers(text: str, truth: dict) -> None:
    no_identifiers(text)
    leaked = [x for x in truth["strings"] if x in text]
    leaked += [
        w for w in truth["words"] if re.search(rf"(?<![\w]){re.escape(w)}(?![\w])", text, re.IGNORECASE)
    ]
    assert not leaked, leaked[:5]


def fetch_all(env, url: str) -> list[dict]:
    """Every row of a JSON manifest, following `next`."""
    rows: list[dict] = []
    nxt: str | None = url
    while nxt:
        page = env["client"].get(nxt, headers=H(env, "export_client")).json()
        rows, nxt = rows + page["rows"], page["next"]
    return rows


# -- health, auth, errors ----------------------------------------------------------------------------


def test_health_needs_no_key(env) -> None:
    r = env["client"].get("/v1/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["mart"] is True


@pytest.mark.parametrize(
    "headers,status",
    [
        ({}, 401),
        ({"Authorization": "Bearer nope"}, 401),
        ({"Authorization": "Bearer ck_" + "x" * 43}, 401),
        ({"Authorization": "Basic abc"}, 401),
    ],
)
def test_auth_rejects_missing_or_unknown_keys(env, headers, status) -> None:
    err = assert_error(
        env["client"].post("/v1/ask", json={"question": SEED_EN}, headers=headers), status, "unauthorized"
    )
    assert "Bearer" in err["message"] or "unknown" in err["message"]


@pytest.mark.parametrize(
    "role,method,path,body,status",
    [
        ("export_client", "POST", "/v1/ask", {"question": SEED_EN}, 403),
        ("export_client", "POST", "/v1/sql", {"sql": "SELECT COUNT(*) FROM person"}, 403),
        ("export_client", "GET", "/v1/codesets", None, 403),
        ("researcher", "GET", "/v1/audit", None, 403),
        ("export_client", "GET", "/v1/audit", None, 403),
    ],
)
def test_roles_are_enforced(env, role, method, path, body, status) -> None:
    r = env["client"].request(method, path, json=body, headers=H(env, role))
    assert_error(r, status, "forbidden")


def test_revoked_key_stops_working(env) -> None:
    store: StateStore = env["store"]
    rec, plain = store.create_key("researcher", "temp")
    c = env["client"]
    assert c.get("/v1/codesets", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    assert store.revoke_key(rec.key_id)
    assert_error(c.get("/v1/codesets", headers={"Authorization": f"Bearer {plain}"}), 401, "unauthorized")


def test_validation_errors_are_readable(env) -> None:
    c = env["client"]
    err = assert_error(c.post("/v1/ask", json={}, headers=H(env, "researcher")), 422, "validation_error")
    assert "question" in err["message"] and err["fields"][0]["location"] == "body: question"
    err = assert_error(
        c.post("/v1/cohorts", json={"spec": {"index": {"domain": "nonsense"}}}, headers=H(env, "researcher")),
        422,
        "validation_error",
    )
    assert "domain" in err["message"]
    err = assert_error(
        c.post(
            "/v1/ask",
            content=b"{not json",
            headers={**H(env, "researcher"), "Content-Type": "application/json"},
        ),
        422,
    )
    # Out-of-range numbers are refused before they reach SQL.
    spec = json.loads(json.dumps(SEED_SPEC))
    spec["criteria"][0]["window"] = {"start": 0, "end": 10**12}
    assert (
        "36600"
        in assert_error(c.post("/v1/cohorts", json={"spec": spec}, headers=H(env, "researcher")), 422)[
            "message"
        ]
    )


def test_unknown_paths_and_methods_answer_json(env) -> None:
    c = env["client"]
    assert_error(c.get("/v1/nothing-here"), 404, "not_found")
    assert_error(c.delete("/v1/health"), 405)
    assert_error(c.get("/v1/cohorts/coh_doesnotexist", headers=H(env, "researcher")), 404, "not_found")


def test_unexpected_errors_hide_their_text(env, monkeypatch) -> None:
    svc = env["app"].state.ctx.service

    def boom(*a, **k):
        raise RuntimeError(f"secret detail {MRNS[0]}")

    monkeypatch.setattr(svc, "ask", boom)
    c = TestClient(env["app"], raise_server_exceptions=False)  # no `with`: the lifespan would close the app
    r = c.post("/v1/ask", json={"question": SEED_EN}, headers=H(env, "researcher"))
    err = assert_error(r, 500, "internal_error")
    assert MRNS[0] not in r.text and "secret" not in r.text and "reference" in err["message"]


# -- ask and cohorts ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_ask_seed_english(env) -> None:
    r = env["client"].post("/v1/ask", json={"question": SEED_EN}, headers=H(env, "researcher"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status"] == "ok" and d["language"] == "en" and d["counts"] == "noisy" and d["k"] == 11
    # Researchers: each count is the disclosure function of its persons; the funnel never rises.
    seed, index = noisy(env, SEED_IDS), noisy(env, INDEX_IDS)
    assert index["value"] is not None  # 40 persons ± at most 7
    step1 = seed if seed["value"] is None or seed["value"] <= index["value"] else index
    assert [(a["step"], a["persons"], a["display"]) for a in d["attrition"]] == [
        ("index", index["value"], index["display"]),
        ("k1", step1["value"], step1["display"]),
    ]
    assert d["count"] == step1["value"] and d["count_display"] == step1["display"]
    assert d["message"] == f"{step1['display']} patients match."
    assert d["readback"].startswith("Index event: any diagnosis, dated 2023-10-01 to 2023-10-10")
    assert d["sql"].startswith("WITH") and d["cohort_id"].startswith("coh_")
    assert {m["concept_code"] for r_ in d["resolutions"]["surgery"] for m in r_["matches"]} >= {
        "36.1",
        "00.66",
    }
    assert d["sample"] == [] and "person_ids" not in d
    no_identifiers(r.text)


@pytest.mark.slow
def test_repeated_and_rephrased_asks_show_the_same_numbers(env) -> None:
    """Noise is keyed by the persons, not the request: nothing to average away by asking again, and
    the same persons reached through English, Korean or a hand-written spec show the same numbers."""
    c = env["client"]
    answers = [
        c.post("/v1/ask", json={"question": SEED_EN}, headers=H(env, "researcher")).json() for _ in "ab"
    ]
    answers.append(c.post("/v1/ask", json={"question": SEED_KO}, headers=H(env, "researcher")).json())
    answers.append(c.post("/v1/cohorts", json={"spec": SEED_SPEC}, headers=H(env, "researcher2")).json())
    seen = {
        (d["count_display"], d["attrition"][0]["display"], json.dumps(d["imaging"], sort_keys=True))
        for d in answers
    }
    assert len(seen) == 1 and len({d["cohort_id"] for d in answers}) == 4
    assert answers[0]["count_display"] == noisy(env, SEED_IDS)["display"]


def test_ask_seed_korean(env) -> None:
    r = env["client"].post("/v1/ask", json={"question": SEED_KO}, headers=H(env, "researcher"))
    d = r.json()
    assert r.status_code == 200 and d["status"] == "ok" and d["language"] == "ko"
    assert d["message"].startswith("조건에 맞는 환자는") and d["readback"].startswith("기준 사건")
    assert d["attrition"] and d["count_display"] == d["attrition"][-1]["display"]


def test_ask_refused_and_clarify_come_back_as_status(env) -> None:
    c = env["client"]
    d = c.post("/v1/ask", json={"question": "delete all patients"}, headers=H(env, "researcher")).json()
    assert d["status"] == "refused" and d["cohort_id"] is None
    d = c.post(
        "/v1/ask", json={"question": "show me some people please"}, headers=H(env, "researcher")
    ).json()
    assert d["status"] == "clarify" and d["clarifications"] and d["clarifications"][0]["question"]


def test_steward_sees_exact_counts_and_a_pseudonymous_sample(env) -> None:
    d = env["client"].post("/v1/cohorts", json={"spec": SMALL_SPEC}, headers=H(env, "steward")).json()
    assert d["count"] == 2 and d["count_display"] == "2" and not d["suppressed"] and d["counts"] == "exact"
    assert [a["persons"] for a in d["attrition"]] == [INDEX_PERSONS, 2]
    assert len(d["sample"]) == 2 and all(s["pseudonym"].startswith("P-") for s in d["sample"])


def test_researcher_small_counts_are_suppressed(env) -> None:
    c = env["client"]
    r = c.post("/v1/cohorts", json={"spec": SMALL_SPEC}, headers=H(env, "researcher"))
    assert r.status_code == 201 and r.headers["location"].startswith("/v1/cohorts/coh_")
    d = r.json()
    # 2 persons: noise is at most k − 2 = 9 below k, so 2 can never show a number.
    assert d["count"] is None and d["count_display"] == "<11" and d["suppressed"] and d["k"] == 11
    assert d["attrition"][0]["persons"] == noisy(env, INDEX_IDS)["value"]
    assert d["attrition"][1] == {
        "step": "k1",
        "description": "appendix",
        "persons": None,
        "display": "<11",
        "suppressed": True,
    }
    assert d["message"] == "<11 patients match." and "2" not in d["message"]
    assert d["sample"] == []
    # The stored run reads back the same way, and another researcher cannot read it at all.
    again = c.get(f"/v1/cohorts/{d['cohort_id']}", headers=H(env, "researcher")).json()
    assert again["count_display"] == "<11" and again["attrition"] == d["attrition"]
    assert_error(c.get(f"/v1/cohorts/{d['cohort_id']}", headers=H(env, "researcher2")), 404)
    assert c.get(f"/v1/cohorts/{d['cohort_id']}", headers=H(env, "steward")).json()["count"] == 2


def test_attrition_steps_are_noisy_per_person_set_and_clamped(env) -> None:
    # Index 40 persons; "not appendectomy" (exactly 0) leaves 38 (persons 17 and 18 dropped): the two
    # steps get independent draws, so their difference is not the 2 dropped; the lower step is clamped.
    spec = json.loads(json.dumps(SMALL_SPEC))
    spec["criteria"][0]["occurrence"] = {"type": "exactly", "count": 0}
    d = env["client"].post("/v1/cohorts", json={"spec": spec}, headers=H(env, "researcher")).json()
    top, rest = noisy(env, INDEX_IDS), noisy(env, [i for i in INDEX_IDS if i not in (17, 18)])
    assert [a["persons"] for a in d["attrition"]] == [top["value"], min(top["value"], rest["value"])]
    assert d["count"] == min(top["value"], rest["value"]) and d["count_display"] == str(d["count"])


@pytest.mark.slow
def test_stats_are_aggregates_with_suppression(env) -> None:
    c = env["client"]
    cid = c.post("/v1/cohorts", json={"spec": SEED_SPEC}, headers=H(env, "researcher")).json()["cohort_id"]
    s = c.get(f"/v1/cohorts/{cid}/stats", headers=H(env, "researcher")).json()
    seed = noisy(env, SEED_IDS)
    assert s["total"] == seed and s["counts"] == "noisy" and s["k"] == 11
    # Every listed cell is noisy and at least k; cells below k are left out, not shown as "<11".
    assert all(p["persons"]["value"] >= 11 and not p["persons"]["suppressed"] for p in s["pyramid"])
    # CT and the one index month (2023-10) hold exactly the cohort's persons: the same number as its count.
    shown = (
        [] if seed["value"] is None else [("CT", seed, noisy(env, SEED_IDS, SEED_COUNT, "series")["value"])]
    )
    xa = noisy(env, range(1, 7))
    if xa["value"] is not None:
        shown.append(("XA", xa, noisy(env, range(1, 7), 6, "series")["value"]))
    assert [(m["label"], m["persons"], m["series"]) for m in s["modalities"]] == shown  # MR (2): never
    months = [{"label": "2023-10", "persons": seed, "series": None}] if seed["value"] is not None else []
    assert s["index_months"] == months
    steward = c.get(f"/v1/cohorts/{cid}/stats", headers=H(env, "steward")).json()
    assert {m["label"]: m["persons"]["value"] for m in steward["modalities"]}["MR"] == 2
    assert sum(m["persons"]["value"] for m in steward["index_months"]) == SEED_COUNT
    no_identifiers(json.dumps(s))


def test_overrides_pin_a_term_to_concepts(env) -> None:
    c = env["client"]
    body = {
        "spec": SEED_SPEC,
        "overrides": {"myocardial infarction": [2001], "coronary artery disease": [2001]},
    }
    d = c.post("/v1/cohorts", json=body, headers=H(env, "steward")).json()
    assert d["status"] == "ok" and d["count"] == 7  # CABG only: odd persons 1..13
    assert_error(
        c.post(
            "/v1/cohorts",
            json={"spec": SEED_SPEC, "overrides": {"mi": [99999999]}},
            headers=H(env, "steward"),
        ),
        422,
        "unknown_concept",
    )


# -- code sets ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_codeset_crud_and_resolution_in_a_spec(env) -> None:
    c = env["client"]
    r = c.post(
        "/v1/codesets",
        json={"name": "revasc", "description": "CABG", "domain": "procedure", "concept_ids": [2001]},
        headers=H(env, "researcher"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["concepts"] == ["Coronary artery bypass graft (ICD9Proc 36.1)"]
    assert_error(
        c.post("/v1/codesets", json={"name": "revasc", "concept_ids": [2001]}, headers=H(env, "researcher")),
        409,
        "conflict",
    )
    assert_error(
        c.post("/v1/codesets", json={"name": "bad", "concept_ids": [424242]}, headers=H(env, "researcher")),
        422,
        "unknown_concept",
    )
    assert "revasc" in [x["name"] for x in c.get("/v1/codesets", headers=H(env, "researcher")).json()]
    spec = json.loads(json.dumps(SEED_SPEC))
    spec["criteria"][0]["concepts"] = {"codeset": "revasc"}
    d = c.post("/v1/cohorts", json={"spec": spec}, headers=H(env, "steward")).json()
    assert d["status"] == "ok" and d["count"] == 7
    assert d["resolutions"]["surgery"][0]["matches"][0]["concept_id"] == 2001
    # Swap the code set's content: the same spec now means CABG or PCI.
    assert_error(
        c.put("/v1/codesets/revasc", json={"concept_ids": [2001, 2002]}, headers=H(env, "researcher2")), 403
    )
    r = c.put(
        "/v1/codesets/revasc",
        json={"description": "CABG or PCI", "concept_ids": [2001, 2002]},
        headers=H(env, "researcher"),
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    assert c.post("/v1/cohorts", json={"spec": spec}, headers=H(env, "steward")).json()["count"] == SEED_COUNT
    assert c.delete("/v1/codesets/revasc", headers=H(env, "researcher")).status_code == 204
    assert_error(c.get("/v1/codesets/revasc", headers=H(env, "researcher")), 404)
    d = c.post("/v1/cohorts", json={"spec": spec}, headers=H(env, "researcher")).json()
    assert d["status"] == "clarify" and "revasc" in d["clarifications"][0]["question"]


# -- guarded SQL -------------------------------------------------------------------------------------


GROUPED_SQL = "SELECT procedure_concept_id, COUNT(*) AS n FROM procedure_occurrence GROUP BY 1 ORDER BY 1"


@pytest.mark.parametrize(
    "sql",
    [
        GROUPED_SQL,
        "SELECT COUNT(*) FILTER (WHERE procedure_concept_id = 2004) FROM procedure_occurrence",
        "SELECT MAX(CASE WHEN person_id = 1 THEN year_of_birth END) FROM person",
        "SELECT CAST(COUNT(*) + 126 AS TINYINT) FROM person",
        "SELECT person_id FROM person",
        "not even sql",
    ],
)
def test_sql_is_forbidden_to_researchers_whatever_it_says(env, sql: str) -> None:
    """Researchers lose ad-hoc SQL outright: 403 before the guard or the mart sees the text."""
    err = assert_error(
        env["client"].post("/v1/sql", json={"sql": sql}, headers=H(env, "researcher")), 403, "forbidden"
    )
    assert "stewards and admins" in err["message"] and "/v1/cohorts/{id}/stats" in err["message"]
    assert "/v1/ask" in err["message"] and "rule" not in err


def test_sql_for_stewards_is_unchanged(env) -> None:
    c = env["client"]
    d = c.post("/v1/sql", json={"sql": GROUPED_SQL}, headers=H(env, "steward")).json()
    rows = {row[0]: row[1] for row in d["rows"]}
    assert rows[2001] == 10 and rows[2004] == 2 and not d["aggregates_only"] and d["suppressed_cells"] == 0
    err = assert_error(
        c.post("/v1/sql", json={"sql": "SELECT person_source_value FROM person"}, headers=H(env, "steward")),
        400,
        "sql_rejected",
    )
    assert err["rule"] == "identifying_column" and MRNS[0] not in json.dumps(err)
    err = assert_error(c.post("/v1/sql", json={"sql": "DELETE FROM person"}, headers=H(env, "admin")), 400)
    d = c.post(
        "/v1/sql",
        json={"sql": "SELECT person_id FROM person ORDER BY 1", "max_rows": 3},
        headers=H(env, "steward"),
    ).json()
    assert d["rows"] == [[1], [2], [3]] and d["truncated"] and not d["aggregates_only"]


# -- release workflow, manifests, jobs ----------------------------------------------------------------


@pytest.fixture(scope="module")
def approved(env):
    c = env["client"]
    d = c.post("/v1/ask", json={"question": SEED_EN}, headers=H(env, "researcher")).json()
    cid = d["cohort_id"]
    assert_error(c.get(f"/v1/cohorts/{cid}/manifest", headers=H(env, "researcher")), 403, "forbidden")
    assert_error(c.get(f"/v1/cohorts/{cid}/manifest", headers=H(env, "export_client")), 404, "not_found")
    r = c.post(f"/v1/cohorts/{cid}/release-request", headers=H(env, "researcher"))
    assert r.json()["release"]["status"] == "requested"
    queue = c.get("/v1/cohorts?release=requested", headers=H(env, "steward")).json()
    assert cid in [q["cohort_id"] for q in queue]
    assert_error(c.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "researcher")), 403)
    r = c.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "steward"))
    assert r.status_code == 200 and r.json()["release"]["status"] == "approved"
    return cid


@pytest.mark.slow
def test_steward_cannot_approve_own_run(env) -> None:
    c = env["client"]
    cid = c.post("/v1/cohorts", json={"spec": SEED_SPEC}, headers=H(env, "steward")).json()["cohort_id"]
    assert c.post(f"/v1/cohorts/{cid}/release-request", headers=H(env, "steward")).status_code == 200
    assert_error(c.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "steward")), 403)
    assert c.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "steward2")).status_code == 200


@pytest.mark.slow
def test_manifest_json_pages(env, approved, dicom_truth) -> None:
    c = env["client"]
    first = c.get(f"/v1/cohorts/{approved}/manifest?limit=10", headers=H(env, "export_client"))
    assert first.status_code == 200, first.text
    page = first.json()
    total = SEED_COUNT + 6 + 2
    assert page["total"] == total and len(page["rows"]) == 10 and first.headers["x-total-count"] == str(total)
    assert page["columns"] == SERIES_COLUMNS and page["level"] == "series"
    assert all(list(r) == SERIES_COLUMNS for r in page["rows"])
    assert page["next"] and 'rel="next"' in first.headers["link"]
    rows, nxt, pages = list(page["rows"]), page["next"], 1
    while nxt:
        more = c.get(nxt, headers=H(env, "export_client")).json()
        rows += more["rows"]
        nxt, pages = more["next"], pages + 1
    assert pages == 3 and len(rows) == total
    assert len({(r["series_uid"]) for r in rows}) == total
    assert len({r["patient"] for r in rows}) == SEED_COUNT
    assert all(r["study_uid"].startswith("2.25.") and r["patient"].startswith("P-") for r in rows)
    # Release dates (docs/PRIVACY.md): shifted, then shown as periods of the release's stated precision
    # (30 days → quarters); the cohort's index window (10 days) is narrower than that, so the shifted
    # index date, which would pin each patient's shift, is withheld.
    assert all(re.fullmatch(r"\d{4}-Q[1-4]", r["study_date"]) for r in rows)
    assert all(r["series_date"] == r["study_date"] and r["index_date"] is None for r in rows)
    # Day offsets carry one hidden offset per patient (spread over the precision), the same on all of
    # the patient's rows: intervals between a patient's own events survive.
    true_days = {"CT": 1, "XA": 8, "MR": 30}
    offsets: dict[str, set[int]] = {}
    for r in rows:
        offsets.setdefault(r["patient"], set()).add(r["days_from_index"] - true_days[r["modality"]])
    assert all(len(v) == 1 and -15 <= min(v) <= 14 for v in offsets.values())
    assert len({min(v) for v in offsets.values()}) > 1  # not one offset for everybody
    # What each series is: CT chest 1 day, XA heart 8 days, MR head 30 days after the diagnosis.
    assert Counter((r["modality"], r["body_part"]) for r in rows) == {
        ("CT", "CHEST"): SEED_COUNT,
        ("XA", "HEART"): 6,
        ("MR", "HEAD"): 2,
    }
    # Counts and sizes carry keyed jitter per release (about ±15 %, at least ±2): close to the indexed
    # files' own, never equal to them as a whole.
    got = [(r["n_instances"], r["total_bytes"]) for r in rows]
    truth = list(dicom_truth["series"].values())
    files = dicom_truth["files"]
    assert len(got) == len(truth) and sorted(got) != sorted(truth)
    assert abs(sum(n for n, _ in got) - files) <= 0.15 * files + 2 * len(rows)
    # The qualifying criterion: the surgery 7 + pid % 8 days after the diagnosis (plus the patient's
    # hidden offset), the same on each patient's rows.
    crit = {r["patient"]: json.dumps(r["criteria"]) for r in rows}
    assert all(json.dumps(r["criteria"]) == crit[r["patient"]] for r in rows)
    shown = [json.loads(v)[0]["days_from_index"] - min(offsets[pt]) for pt, v in crit.items()]
    assert sorted(shown) == sorted(7 + pid % 8 for pid in range(1, 14))
    assert all(
        json.loads(v) == [{"label": "surgery", "days_from_index": json.loads(v)[0]["days_from_index"]}]
        for v in crit.values()
    )
    # Descriptions: the names and MRNs the files' free text repeats are scrubbed (seed-fixed demo files).
    assert Counter((r["modality"], r["study_description"]) for r in rows) == {
        ("CT", "CT chest w/o contrast"): 12,
        ("CT", "CT chest w/o contrast - [NAME]"): 1,
        ("MR", "MRI head w/ and w/o Gd (MRN [MRN])"): 1,
        ("MR", "MRI head w/ and w/o Gd - [NAME]"): 1,
        ("XA", "Coronary angiography"): 2,
        ("XA", "Coronary angiography (MRN [MRN])"): 2,
        ("XA", "Coronary angiography - [NAME]"): 2,
    }
    assert Counter((r["modality"], r["series_description"]) for r in rows) == {
        ("CT", "Chest 0.625mm"): 1,
        ("CT", "Chest 0.625mm [NAME]"): 1,
        ("CT", "Chest 1.0mm"): 2,
        ("CT", "Chest 1.25mm"): 5,
        ("CT", "Chest 2.5mm"): 2,
        ("CT", "Chest 5.0mm"): 2,
        ("MR", "DWI b1000"): 1,
        ("MR", "T1 SE AX"): 1,
        ("XA", "LCA RAO 30"): 6,
    }
    no_identifiers(json.dumps(rows))
    no_dicom_identifiers(json.dumps(rows, ensure_ascii=False), dicom_truth)
    with env["app"].state.ctx.pool.connection() as con:  # the check has teeth: the index's own text fails it
        raw = con.execute(
            "SELECT string_agg(study_description || ' ' || series_description, ' | ') "
            "FROM dicom_study JOIN dicom_series USING (study_instance_uid)"
        ).fetchone()[0]
    with pytest.raises(AssertionError):
        no_dicom_identifiers(raw, dicom_truth)
    # Same request, same pseudonyms; a different cohort (release) gets different ones.
    again = c.get(f"/v1/cohorts/{approved}/manifest?limit=10", headers=H(env, "export_client")).json()
    assert again["rows"] == page["rows"]


@pytest.mark.slow
def test_manifest_csv_and_parquet(env, approved, dicom_truth) -> None:
    c = env["client"]
    r = c.get(f"/v1/cohorts/{approved}/manifest?format=csv&limit=1000", headers=H(env, "export_client"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == SEED_COUNT + 8 and rows[0]["patient"].startswith("P-")
    no_identifiers(r.text)
    no_dicom_identifiers(r.text, dicom_truth)
    # Every format holds the same rows as the JSON page; CSV holds `criteria` as JSON text (not a
    # Python repr).
    page = c.get(f"/v1/cohorts/{approved}/manifest?limit=1000", headers=H(env, "export_client")).json()[
        "rows"
    ]
    assert list(rows[0]) == SERIES_COLUMNS
    assert [json.loads(x["criteria"]) for x in rows] == [x["criteria"] for x in page]
    assert [
        (x["patient"], int(x["n_instances"]), int(x["total_bytes"]), x["study_description"]) for x in rows
    ] == [(x["patient"], x["n_instances"], x["total_bytes"], x["study_description"]) for x in page]
    r = c.get(f"/v1/cohorts/{approved}/manifest?format=jsonl&limit=1000", headers=H(env, "export_client"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line) for line in r.text.splitlines()] == page
    r = c.get(f"/v1/cohorts/{approved}/manifest?format=parquet", headers=H(env, "export_client"))
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == SEED_COUNT + 8 and table.column_names[0] == "patient"
    assert table.column_names == SERIES_COLUMNS and table.to_pylist() == page
    assert (
        table.schema.field("n_instances").type == pa.int32()
        and table.schema.field("total_bytes").type == pa.int64()
    )
    assert table.schema.field("criteria").type == pa.list_(
        pa.struct([("label", pa.string()), ("days_from_index", pa.int32())])
    )
    no_dicom_identifiers(json.dumps(table.to_pylist(), ensure_ascii=False), dicom_truth)


@pytest.mark.slow
def test_manifest_instance_level(env, approved, dicom_truth) -> None:
    c = env["client"]
    first = c.get(
        f"/v1/cohorts/{approved}/manifest?level=instance&limit=100", headers=H(env, "export_client")
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["level"] == "instance" and page["columns"] == INSTANCE_COLUMNS
    assert page["total"] == dicom_truth["files"] and "level=instance" in page["next"]
    rows = fetch_all(env, f"/v1/cohorts/{approved}/manifest?level=instance&limit=100")
    assert len(rows) == dicom_truth["files"] and all(list(r) == INSTANCE_COLUMNS for r in rows)
    assert len({r["sop_uid"] for r in rows}) == len(rows) and all(
        r["sop_uid"].startswith("2.25.") for r in rows
    )
    # Instances add up to their series' row: same keyed UIDs, file counts and bytes.
    series = {r["series_uid"]: r for r in fetch_all(env, f"/v1/cohorts/{approved}/manifest?limit=100")}
    per_series: dict[str, list[int]] = {}
    for r in rows:
        s_ = series[r["series_uid"]]
        assert {k: r[k] for k in INSTANCE_COLUMNS if k in SERIES_COLUMNS} == {
            k: s_[k] for k in INSTANCE_COLUMNS if k in SERIES_COLUMNS
        }
        n_b = per_series.setdefault(r["series_uid"], [0, 0])
        n_b[0] += 1
        n_b[1] += r["file_size"]
    # counts and bytes carry their own keyed jitter per release (about ±15 %, at least ±2)
    assert set(per_series) == set(series)
    for uid, (n, size) in per_series.items():
        assert abs(series[uid]["n_instances"] - n) <= max(2, 0.15 * n) + 1
        assert abs(series[uid]["total_bytes"] - size) <= 0.35 * size
    # BurnedInAnnotation as the demo files carry it: NO on XA, absent on CT and MR.
    assert {(r["modality"], r["burned_in_annotation"]) for r in rows} == {
        ("CT", None),
        ("MR", None),
        ("XA", "NO"),
    }
    no_identifiers(json.dumps(rows))
    no_dicom_identifiers(json.dumps(rows, ensure_ascii=False), dicom_truth)
    r = c.get(
        f"/v1/cohorts/{approved}/manifest?level=instance&format=csv&limit=10000",
        headers=H(env, "export_client"),
    )
    assert r.text.splitlines()[0] == ",".join(INSTANCE_COLUMNS) and len(r.text.splitlines()) == len(rows) + 1
    no_dicom_identifiers(r.text, dicom_truth)
    assert_error(c.get(f"/v1/cohorts/{approved}/manifest?level=study", headers=H(env, "export_client")), 422)


def _without_dicom_index(source: Path, mart: Path) -> Path:
    """A copy of ``source`` without its DICOM index: image_occurrence only, as an imaging ETL leaves it."""
    shutil.copy(source, mart)
    con = duckdb.connect(str(mart))
    for t in ("dicom_instance", "dicom_series", "dicom_study"):
        con.execute(f"DROP TABLE {t}")
    con.close()
    return mart


def test_manifest_needs_a_dicom_index(env, tmp_path: Path) -> None:
    app = create_app(_without_dicom_index(env["mart"], tmp_path / "mart.duckdb"))
    key = app.state.ctx.state.create_key("steward", "s")[1]
    with TestClient(app) as c:
        h = {"Authorization": f"Bearer {key}"}
        cid = c.post("/v1/cohorts", json={"spec": SEED_SPEC}, headers=h).json()["cohort_id"]
        err = assert_error(c.get(f"/v1/cohorts/{cid}/manifest", headers=h), 409, "no_imaging_index")
        assert "cohort index" in err["message"]
        assert_error(
            c.post(f"/v1/cohorts/{cid}/exports", json={"format": "csv"}, headers=h), 409, "no_imaging_index"
        )


@pytest.mark.slow
def test_export_job_with_progress(env, approved) -> None:
    c = env["client"]
    r = c.post(f"/v1/cohorts/{approved}/exports", json={"format": "csv"}, headers=H(env, "export_client"))
    assert r.status_code == 202, r.text
    job = r.json()
    for _ in range(100):
        job = c.get(f"/v1/jobs/{job['job_id']}", headers=H(env, "export_client")).json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "done" and job["progress"] == 1.0 and job["rows_total"] == SEED_COUNT + 8
    body = c.get(job["download"], headers=H(env, "export_client"))
    assert body.status_code == 200 and len(list(csv.DictReader(io.StringIO(body.text)))) == SEED_COUNT + 8
    assert_error(c.get(f"/v1/jobs/{job['job_id']}", headers=H(env, "researcher")), 404)
    # The job's file is the release writer's, byte for byte what the endpoint streams for the whole manifest.
    assert job["level"] == "series" and job["format"] == "csv"
    assert (
        body.content
        == c.get(
            f"/v1/cohorts/{approved}/manifest?format=csv&limit=10000", headers=H(env, "export_client")
        ).content
    )


@pytest.mark.slow
def test_export_job_file_is_private(env, approved) -> None:
    """The job's file lists a cohort's images: 0600 in a 0700 folder, no partial file left."""
    c = env["client"]
    r = c.post(f"/v1/cohorts/{approved}/exports", json={"format": "jsonl"}, headers=H(env, "export_client"))
    job_id = r.json()["job_id"]
    for _ in range(100):
        if env["store"].get_job(job_id).status in ("done", "failed"):
            break
        time.sleep(0.05)
    rec = env["store"].get_job(job_id)
    assert rec.status == "done" and rec.result_path
    result = Path(rec.result_path)
    assert result.stat().st_mode & 0o777 == 0o600
    assert result.parent.stat().st_mode & 0o077 == 0
    assert not list(result.parent.glob(f"{job_id}*.part"))


@pytest.mark.slow
def test_instance_export_job_in_parquet(env, approved, dicom_truth) -> None:
    c = env["client"]
    r = c.post(
        f"/v1/cohorts/{approved}/exports?level=instance",
        json={"format": "parquet"},
        headers=H(env, "export_client"),
    )
    assert r.status_code == 202, r.text
    job = r.json()
    for _ in range(200):
        job = c.get(f"/v1/jobs/{job['job_id']}", headers=H(env, "export_client")).json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "done", job
    assert job["level"] == "instance" and job["rows_total"] == job["rows_done"] == dicom_truth["files"]
    body = c.get(job["download"], headers=H(env, "export_client"))
    assert "-instance.parquet" in body.headers["content-disposition"]
    table = pq.read_table(io.BytesIO(body.content))
    assert table.column_names == INSTANCE_COLUMNS and table.num_rows == dicom_truth["files"]
    assert table.schema.field("file_size").type == pa.int64()
    no_dicom_identifiers(json.dumps(table.to_pylist(), ensure_ascii=False), dicom_truth)


def test_old_state_files_get_job_levels(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "old.sqlite")
    con.execute(
        "CREATE TABLE jobs (job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, cohort_id TEXT, "
        "key_id TEXT NOT NULL, format TEXT, status TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, "
        "rows_done INTEGER NOT NULL DEFAULT 0, "
        "rows_total INTEGER, message TEXT NOT NULL DEFAULT '', result_path TEXT, created_at TEXT NOT NULL, "
        "started_at TEXT, finished_at TEXT)"
    )
    con.execute(
        "INSERT INTO jobs (job_id, kind, key_id, format, status, created_at) "
        "VALUES ('job_1', 'manifest_export', 'k', 'csv', 'done', '2024-01-01T00:00:00Z')"
    )
    con.commit()
    con.close()
    for _ in range(2):  # the migration runs once, then finds nothing to do
        store = StateStore(tmp_path / "old.sqlite")
        job = store.get_job("job_1")
        assert job is not None and job.level == "series"
        assert (
            store.add_job(
                kind="manifest_export", cohort_id=None, key_id="k", fmt="json", level="instance"
            ).level
            == "instance"
        )
        store.close()


@pytest.mark.slow
def test_export_client_cannot_reach_unapproved_cohorts(env) -> None:
    c = env["client"]
    cid = c.post("/v1/cohorts", json={"spec": SEED_SPEC}, headers=H(env, "researcher")).json()["cohort_id"]
    # 404 as for an unknown id: a distinct 403 would tell an export client which ids exist.
    assert_error(c.get(f"/v1/cohorts/{cid}", headers=H(env, "export_client")), 404, "not_found")
    assert_error(
        c.post(f"/v1/cohorts/{cid}/exports", json={"format": "csv"}, headers=H(env, "export_client")), 404
    )


# -- audit ---------------------------------------------------------------------------------------------


def test_every_request_is_audited(env) -> None:
    store: StateStore = env["store"]
    c = env["client"]
    before = store.audit.entries(limit=100000)[-1].seq
    c.get("/v1/health")
    c.post("/v1/ask", json={"question": SEED_EN}, headers=H(env, "researcher"))
    c.get("/v1/codesets", headers={"Authorization": "Bearer wrong"})
    entries = store.audit.entries(after=before)
    assert [(e.method, e.endpoint, e.status) for e in entries] == [
        ("GET", "/v1/health", 200),
        ("POST", "/v1/ask", 200),
        ("GET", "/v1/codesets", 401),
    ]
    ask = entries[1]
    assert ask.key_id and ask.role == "researcher" and ask.spec["index"]["domain"] == "condition"
    assert ask.counts == {"count": SEED_COUNT, "attrition": [INDEX_PERSONS, SEED_COUNT]}
    assert ask.result_hash is not None and ask.result_hash.startswith("hmac-sha256:")
    assert ask.target is not None and ask.target.startswith("coh_")
    assert ask.details["question"].startswith("sha256:") and SEED_EN not in json.dumps(ask.details)
    assert entries[2].key_id is None
    page = c.get("/v1/audit", headers=H(env, "steward")).json()
    assert page["chain_ok"] and page["entries"]


def test_audit_log_is_append_only(env, tmp_path: Path) -> None:
    assert not any(hasattr(AuditLog, n) for n in ("update", "delete", "remove", "truncate", "clear"))
    doc = env["client"].get("/openapi.json").json()
    assert {p: set(ops) for p, ops in doc["paths"].items() if p.startswith("/v1/audit")} == {
        "/v1/audit": {"get"}
    }
    assert env["client"].delete("/v1/audit", headers=H(env, "admin")).status_code == 405
    store = StateStore(tmp_path / "s.sqlite")
    store.audit.append(key_id="k", role="admin", method="GET", endpoint="/x", status=200, counts={"n": 1})
    store.audit.append(key_id="k", role="admin", method="GET", endpoint="/y", status=200)
    con = sqlite3.connect(tmp_path / "s.sqlite")
    for sql in ("UPDATE audit_log SET status = 500", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)
    assert store.audit.verify() == (True, None)
    # Editing the file behind SQLite's triggers breaks the hash chain.
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("UPDATE audit_log SET counts = '{\"n\": 2}' WHERE seq = 1")
    con.commit()
    assert store.audit.verify() == (False, 1)
    store.close()
    # And the api/ code itself never issues UPDATE or DELETE on the audit table.
    src = "\n".join(p.read_text() for p in Path("api").rglob("*.py"))
    assert "UPDATE audit_log" not in src and "DELETE FROM audit_log" not in src


# -- keys command ---------------------------------------------------------------------------------------


def test_keys_create_prints_the_key_last_and_stores_only_its_hash(env, tmp_path: Path) -> None:
    from cohort_engine.cli import app as cli

    state = tmp_path / "state.sqlite"
    res = CliRunner().invoke(
        cli,
        [
            "keys",
            "create",
            "--mart",
            str(env["mart"]),
            "--state",
            str(state),
            "--role",
            "export_client",
            "--name",
            "vendor",
        ],
    )
    assert res.exit_code == 0, res.output
    key = res.output.strip().splitlines()[-1]
    assert key.startswith("ck_") and len(key) > 40
    store = StateStore(state)
    rec = store.lookup_key(key)
    assert rec is not None and rec.role == "export_client" and rec.name == "vendor"
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("state.sqlite"))
    assert key.encode() not in raw and hash_key(key).encode() in raw
    res = CliRunner().invoke(
        cli, ["keys", "create", "--mart", str(env["mart"]), "--state", str(state), "--role", "boss"]
    )
    assert res.exit_code == 2


# -- OpenAPI ----------------------------------------------------------------------------------------------


def test_openapi_is_complete(env) -> None:
    doc = env["client"].get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    ops = [(p, m, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert {p for p, _, _ in ops} >= {
        "/v1/ask",
        "/v1/cohorts",
        "/v1/cohorts/{cohort_id}",
        "/v1/cohorts/{cohort_id}/manifest",
        "/v1/codesets",
        "/v1/codesets/{name}",
        "/v1/sql",
        "/v1/health",
        "/v1/jobs/{job_id}",
        "/v1/cohorts/{cohort_id}/approve",
        "/v1/cohorts/{cohort_id}/stats",
    }
    for path, method, op in ops:
        assert path.startswith("/v1/") and op.get("summary"), (path, method)
        if path != "/v1/health":
            assert "401" in op["responses"], (path, method)
    schemas = doc["components"]["schemas"]
    for name in ("AskRequest", "CohortRunRequest", "CodesetIn", "SqlRequest", "CohortResult", "ErrorBody"):
        assert schemas[name].get("examples"), name


def test_ask_names_the_served_mart_only(env) -> None:
    c = env["client"]
    assert c.get("/v1/health").json()["mart_name"] == "mart.duckdb"
    ok = c.post("/v1/ask", json={"question": SEED_EN, "mart": "mart.duckdb"}, headers=H(env, "researcher"))
    assert ok.status_code == 200 and ok.json()["count_display"] == noisy(env, SEED_IDS)["display"]
    assert_error(
        c.post("/v1/ask", json={"question": SEED_EN, "mart": "elsewhere"}, headers=H(env, "researcher")),
        422,
        "unknown_mart",
    )


# -- imaging summary, charts from the index, parser choice ---------------------------------------------------

IMAGING_SPEC = {**SEED_SPEC, "imaging": {"modalities": ["xa", "MR"], "window": {"start": 5, "end": 10}}}


@pytest.fixture(scope="module")
def instances_by_modality(env) -> dict[str, int]:
    """Distinct SOP instances per modality, read from the tiny mart's DICOM files (not from the index)."""
    sops: dict[str, set[str]] = {}
    for f in sorted(p for p in dicom_dir(env["mart"]).rglob("*") if p.is_file()):
        ds = dcmread(f, stop_before_pixels=True)
        sops.setdefault(str(ds.Modality), set()).add(str(ds.SOPInstanceUID))
    return {m: len(v) for m, v in sops.items()}


IMAGE_MEASURES = ("studies", "series", "instances")


def _imaging(d: dict) -> dict[str, tuple]:
    return {
        r["modality"]: tuple(r[c]["display"] for c in ("persons", "studies", "series", "instances"))
        for r in d["imaging"]
    }


@pytest.mark.slow
def test_ask_answers_with_their_images(env, instances_by_modality) -> None:
    c = env["client"]
    # The seed cohort is persons 1–13; its question asks for no images, so all their indexed series count:
    # CT for all 13, XA for 1–6, MR for 1–2, each series its own study.
    steward = c.post("/v1/ask", json={"question": SEED_EN}, headers=H(env, "steward")).json()
    n = instances_by_modality
    assert [r["modality"] for r in steward["imaging"]] == ["CT", "XA", "MR"]  # most series first
    assert _imaging(steward) == {
        "CT": ("13", "13", "13", str(n["CT"])),
        "XA": ("6", "6", "6", str(n["XA"])),
        "MR": ("2", "2", "2", str(n["MR"])),
    }
    assert not any(r["suppressed"] for r in steward["imaging"])
    # Researchers: every count through the disclosure function of the row's persons (image counts with
    # their own measure, never below the persons shown); rows below k left out (MR, 2 persons: always).
    d = c.post("/v1/ask", json={"question": SEED_EN}, headers=H(env, "researcher")).json()
    want = {}
    for modality, ids, exact_counts in (
        ("CT", SEED_IDS, (13, 13, n["CT"])),
        ("XA", range(1, 7), (6, 6, n["XA"])),
    ):
        persons = noisy(env, ids)
        if persons["value"] is not None:
            want[modality] = (
                persons["display"],
                *(
                    noisy(env, ids, x, m)["display"]
                    for x, m in zip(exact_counts, IMAGE_MEASURES, strict=True)
                ),
            )
    assert _imaging(d) == want and not any(r["suppressed"] for r in d["imaging"])
    # CT holds exactly the cohort's persons: the same noisy number as the count.
    assert d["count_display"] == noisy(env, SEED_IDS)["display"]
    # Stored with the run: reading it back gives the same view per role.
    assert _imaging(c.get(f"/v1/cohorts/{d['cohort_id']}", headers=H(env, "researcher")).json()) == _imaging(
        d
    )
    assert _imaging(c.get(f"/v1/cohorts/{d['cohort_id']}", headers=H(env, "steward")).json()) == _imaging(
        steward
    )
    no_identifiers(json.dumps(d))
    # No imaging for answers that did not run.
    assert (
        c.post("/v1/ask", json={"question": "delete all patients"}, headers=H(env, "researcher")).json()[
            "imaging"
        ]
        is None
    )


@pytest.mark.slow
def test_imaging_request_selects_the_summary_and_the_charts(env, instances_by_modality) -> None:
    c = env["client"]
    # XA or MR, 5–10 days after the index: XA (day 8) of persons 1–6; MR (day 30) is outside the window.
    d = c.post("/v1/cohorts", json={"spec": IMAGING_SPEC}, headers=H(env, "steward")).json()
    assert d["count"] == SEED_COUNT
    assert _imaging(d) == {"XA": ("6", "6", "6", str(instances_by_modality["XA"]))}
    s = c.get(f"/v1/cohorts/{d['cohort_id']}/stats", headers=H(env, "steward")).json()
    assert [(m["label"], m["persons"]["value"], m["series"]) for m in s["modalities"]] == [("XA", 6, 6)]
    assert [(b["label"], b["persons"]["value"], b["series"]) for b in s["body_parts"]] == [("HEART", 6, 6)]


@pytest.mark.slow
@pytest.mark.parametrize("role", ["steward", "researcher"])
def test_stats_modalities_are_the_imaging_summary(env, role: str) -> None:
    """The charts and the answer's imaging come from one selection (dicom_index.select), cell for cell."""
    c = env["client"]
    for spec in (SEED_SPEC, IMAGING_SPEC, {**SEED_SPEC, "imaging": {"body_parts": ["head", "chest"]}}):
        d = c.post("/v1/cohorts", json={"spec": spec}, headers=H(env, role)).json()
        s = c.get(f"/v1/cohorts/{d['cohort_id']}/stats", headers=H(env, role)).json()
        assert [(m["label"], m["persons"], m["series"]) for m in s["modalities"]] == [
            (r["modality"], r["persons"], r["series"]["value"]) for r in d["imaging"]
        ]
        body_series = sum(b["series"] or 0 for b in s["body_parts"])
        if role == "steward":
            assert body_series == sum(r["series"]["value"] for r in d["imaging"])
    # Body parts of the seed cohort: CHEST (CT, 13), HEART (XA, 6), HEAD (MR, 2).
    d = c.post("/v1/cohorts", json={"spec": SEED_SPEC}, headers=H(env, "steward")).json()
    s = c.get(f"/v1/cohorts/{d['cohort_id']}/stats", headers=H(env, "steward")).json()
    assert {b["label"]: (b["persons"]["value"], b["series"]) for b in s["body_parts"]} == {
        "CHEST": (13, 13),
        "HEART": (6, 6),
        "HEAD": (2, 2),
    }


@pytest.mark.slow
def test_stats_without_an_index_use_image_occurrence(env, tmp_path: Path) -> None:
    mart = tmp_path / "mart.duckdb"
    shutil.copy(env["mart"], mart)
    con = duckdb.connect(str(mart))
    for t in ("dicom_instance", "dicom_series", "dicom_study"):
        con.execute(f"DROP TABLE {t}")
    con.close()
    app = create_app(mart)
    key = app.state.ctx.state.create_key("steward", "s")[1]
    with TestClient(app) as c:
        h = {"Authorization": f"Bearer {key}"}
        d = c.post("/v1/cohorts", json={"spec": SEED_SPEC}, headers=h).json()
        assert d["status"] == "ok" and d["imaging"] is None
        s = c.get(f"/v1/cohorts/{d['cohort_id']}/stats", headers=h).json()
        assert {m["label"]: (m["persons"]["value"], m["series"]) for m in s["modalities"]} == {
            "CT": (13, 13),
            "XA": (6, 6),
            "MR": (2, 2),
        }
        d = c.post("/v1/cohorts", json={"spec": IMAGING_SPEC}, headers=h).json()
        s = c.get(f"/v1/cohorts/{d['cohort_id']}/stats", headers=h).json()
        assert [(m["label"], m["persons"]["value"]) for m in s["modalities"]] == [("XA", 6)]


@pytest.mark.slow
def test_ask_parser_choice(env, monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from cohort_engine.nlq import llm

    c = env["client"]
    rule = c.post(
        "/v1/ask", json={"question": SEED_EN, "parser": "rule"}, headers=H(env, "researcher")
    ).json()
    assert rule["status"] == "ok" and rule["count_display"] == noisy(env, SEED_IDS)["display"]
    assert_error(
        c.post("/v1/ask", json={"question": SEED_EN, "parser": "gpt"}, headers=H(env, "researcher")),
        422,
        "validation_error",
    )
    # No model configured: a JSON 409 that says what to set, never a 500.
    monkeypatch.delenv(llm.LLM_ENV, raising=False)
    for parser in ("llm", "hybrid"):
        err = assert_error(
            c.post("/v1/ask", json={"question": SEED_EN, "parser": parser}, headers=H(env, "researcher")),
            409,
            "parser_unavailable",
        )
        assert (
            llm.LLM_ENV in err["message"]
            and '"parser": "rule"' in err["message"]
            and parser in err["message"]
        )
    # Set but unloadable: still 409; the provider's error text stays in the server log.
    llm._init_model.cache_clear()
    monkeypatch.setenv(llm.LLM_ENV, "no-such-provider:some-model")
    err = assert_error(
        c.post("/v1/ask", json={"question": SEED_EN, "parser": "llm"}, headers=H(env, "researcher")),
        409,
        "parser_unavailable",
    )
    assert "could not be loaded" in err["message"] and "no-such-provider" not in err["message"]
    # A configured model: its spec takes the rule parser's path (resolution, compilation, guard).
    llm._init_model.cache_clear()
    fake = FakeListChatModel(
        responses=[json.dumps({"status": "ok", "spec": {"language": "en", **SEED_SPEC}})] * 2
    )
    monkeypatch.setenv(llm.LLM_ENV, "fake:model")
    monkeypatch.setattr(llm, "_init_model", lambda ident: fake)
    d = c.post("/v1/ask", json={"question": SEED_EN, "parser": "llm"}, headers=H(env, "researcher")).json()
    assert (
        d["status"] == "ok"
        and d["count_display"] == rule["count_display"]
        and d["imaging"] == rule["imaging"]
    )
    # hybrid: the rule parser reads the seed question itself; the model is not asked.
    n_calls = fake.i
    d = c.post("/v1/ask", json={"question": SEED_EN, "parser": "hybrid"}, headers=H(env, "researcher")).json()
    assert d["status"] == "ok" and d["count_display"] == rule["count_display"] and fake.i == n_calls
    last = [e for e in env["store"].audit.entries(limit=100000) if e.endpoint == "/v1/ask"][-1]
    assert last.details["parser"] == "hybrid" and last.status == 200


@pytest.fixture(scope="module")
def no_index(env, tmp_path_factory: pytest.TempPathFactory):
    """A steward's client on a copy of the tiny mart without its DICOM index (image_occurrence only)."""
    app = create_app(_without_dicom_index(env["mart"], tmp_path_factory.mktemp("no-index") / "mart.duckdb"))
    key = app.state.ctx.state.create_key("steward", "s")[1]
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


# Imaging days after the diagnosis: CT 1 (persons 1–13), XA 8 (1–6), MR 30 (1–2); the surgery is on
# day 7 + id % 8, so XA lies 0 (person 1) … 5 (person 6) days before it and MR 21–22 days after.
CHART_WINDOWS = {
    "around the index": ({"start": -5, "end": 1}, {"CT": (13, 13)}),
    "open start": ({"end": 8}, {"CT": (13, 13), "XA": (6, 6)}),
    "before the surgery": ({"start": -2, "end": 0, "anchor": "surgery"}, {"XA": (3, 3)}),
    "after the surgery": ({"start": 1, "anchor": "surgery"}, {"MR": (2, 2)}),
}


@pytest.mark.slow
@pytest.mark.parametrize(("window", "bars"), CHART_WINDOWS.values(), ids=CHART_WINDOWS.keys())
def test_chart_windows_mean_the_same_with_and_without_an_index(env, no_index, window, bars) -> None:
    """Both chart paths put the imaging window into SQL with the compiler's helper (sql_guard.windows)."""
    spec = {**SEED_SPEC, "imaging": {"window": window}}
    for c, headers in ((env["client"], H(env, "steward")), (no_index, {})):
        d = c.post("/v1/cohorts", json={"spec": spec}, headers=headers).json()
        assert d["status"] == "ok" and d["count"] == SEED_COUNT, d
        s = c.get(f"/v1/cohorts/{d['cohort_id']}/stats", headers=headers).json()
        assert {m["label"]: (m["persons"]["value"], m["series"]) for m in s["modalities"]} == bars


def test_a_same_visit_imaging_window_cannot_be_charted(no_index) -> None:
    """Images carry no visit: the window helper refuses rather than drawing a wider window."""
    spec = {**SEED_SPEC, "imaging": {"window": {"start": 0, "same_visit": True}}}
    d = no_index.post("/v1/cohorts", json={"spec": spec}).json()
    err = assert_error(no_index.get(f"/v1/cohorts/{d['cohort_id']}/stats"), 409, "cannot_compile")
    assert "same visit" in err["message"]
