"""Release workflow, cohort-id probing, code-set names, free text in the audit log and the offline
API docs, through the REST API on the tiny mart (``tests.api_fixtures``).

Why: each of these was a way around the privacy model (issue 11): an approval nobody asked for, ids
told apart by 403 vs 404, a stored code set answered with a 500, typed text kept verbatim in the log,
and docs that never loaded under the app's own CSP.
"""

from __future__ import annotations

import json
import unicodedata
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from cohort_engine.api.app import create_app
from cohort_engine.api.codesets import checked_name
from cohort_engine.api.errors import ApiError
from cohort_engine.api.state import StateStore
from tests.api_fixtures import build_tiny_mart
from tests.test_api_core import SEED_SPEC, H, assert_error


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    mart = build_tiny_mart(tmp_path_factory.mktemp("workflow") / "mart.duckdb")
    app = create_app(mart)
    store: StateStore = app.state.ctx.state
    keys = {role: store.create_key(role, role)[1] for role in ("researcher", "steward", "export_client")}
    keys["researcher2"] = store.create_key("researcher", "other")[1]
    keys["steward2"] = store.create_key("steward", "other")[1]
    with TestClient(app) as client:
        yield {"client": client, "keys": keys, "store": store}


def _run(env, role: str, spec: dict = SEED_SPEC) -> str:
    r = env["client"].post("/v1/cohorts", json={"spec": spec}, headers=H(env, role))
    assert r.status_code == 201, r.text
    return r.json()["cohort_id"]


# -- release workflow ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_approval_needs_a_request_by_someone_else(env) -> None:
    c = env["client"]
    cid = _run(env, "researcher")
    err = assert_error(c.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "steward")), 409, "not_requested")
    assert "release-request" in err["message"]
    assert env["store"].get_cohort(cid).release_status == "none"

    # A steward who asks for the release cannot also approve it: a release needs two people.
    assert c.post(f"/v1/cohorts/{cid}/release-request", headers=H(env, "steward")).status_code == 200
    assert_error(c.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "steward")), 403, "forbidden")
    assert env["store"].get_cohort(cid).release_status == "requested"

    r = c.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "steward2"))
    assert r.status_code == 200 and r.json()["release"]["status"] == "approved"
    assert_error(c.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "steward2")), 409, "already_approved")
    rec = env["store"].get_cohort(cid)
    assert (rec.release_status, rec.requested_by != rec.approved_by) == ("approved", True)


# -- one 404 for unknown and hidden ids ---------------------------------------------------------------


@pytest.mark.slow
def test_unknown_and_unapproved_cohorts_answer_alike(env) -> None:
    c = env["client"]
    hidden = _run(env, "researcher")
    unknown = "coh_" + "0" * 16
    for role, paths in (
        ("export_client", ["", "/manifest"]),
        ("researcher2", ["", "/stats"]),
    ):
        for suffix in paths:
            a = c.get(f"/v1/cohorts/{hidden}{suffix}", headers=H(env, role))
            b = c.get(f"/v1/cohorts/{unknown}{suffix}", headers=H(env, role))
            assert (a.status_code, a.json()) == (b.status_code, b.json()) == (404, b.json()), (role, suffix)
            assert b.json()["error"]["code"] == "not_found"
    for cid in (hidden, unknown):
        r = c.post(f"/v1/cohorts/{cid}/exports", json={"format": "csv"}, headers=H(env, "export_client"))
        assert_error(r, 404, "not_found")


# -- code-set names -------------------------------------------------------------------------------------


def _codeset(env, name: str):
    return env["client"].post(
        "/v1/codesets", json={"name": name, "concept_ids": [2001]}, headers=H(env, "researcher")
    )


def test_codeset_names_in_hangul_and_decomposed_accents_are_stored_and_located(env) -> None:
    c, store = env["client"], env["store"]
    for typed, stored in (
        ("관상동맥 우회술", "관상동맥 우회술"),
        ("Cafe\u0301 bypass", "Café bypass"),  # decomposed é: stored composed (NFC)
        ("trailing space ", "trailing space"),
    ):
        earlier = store.audit.entries(limit=100000)
        before = earlier[-1].seq if earlier else 0  # the test may run first
        r = _codeset(env, typed)
        assert r.status_code == 201, r.text
        assert r.json()["name"] == stored and unicodedata.is_normalized("NFC", r.json()["name"])
        assert r.headers["location"] == "/v1/codesets/" + quote(stored, safe="")
        assert c.get(r.headers["location"], headers=H(env, "researcher")).json()["name"] == stored
        assert store.get_codeset(stored) is not None
        entry = [e for e in store.audit.entries(after=before) if e.endpoint == "/v1/codesets"]
        assert [(e.method, e.status, e.target) for e in entry] == [("POST", 201, stored)]
    # The other spelling of a stored name is the same name.
    assert_error(_codeset(env, "Café bypass"), 409, "conflict")


def test_codeset_name_checked_before_it_is_stored(env) -> None:
    store = env["store"]
    n = len(store.list_codesets())
    for bad in ("   ", " -x", "x" * 63 + " yz"):  # only space; a hyphen first once stripped; too long
        r = _codeset(env, bad)
        assert r.status_code == 422, (bad, r.text)
    assert len(store.list_codesets()) == n


def test_checked_name_normalises_then_checks() -> None:
    assert checked_name(" Cafe\u0301 ") == "Café"
    assert checked_name("हिन्दी सूची") == "हिन्दी सूची"  # combining vowel signs are part of a word
    assert checked_name("관상동맥-v2.1") == "관상동맥-v2.1"
    for bad in ("", "   ", "-a", "a\x00b", "a\x1b[31m", "a/b", "x" * 65):
        with pytest.raises(ApiError) as e:
            checked_name(bad)
        assert (e.value.status, e.value.code) == (422, "invalid_name")


# -- free text in the audit log -----------------------------------------------------------------------


@pytest.mark.slow
def test_name_matches_are_hashed_in_the_audit_log(env) -> None:
    store = env["store"]
    text = "Dr Kim's private note"
    mention, title = "Quartermaine syndrome", "patients of Dr Kim with a syndrome"
    spec = {
        "title": title,
        "index": {
            "domain": "condition",
            "date_range": {"start": "2023-10-01", "end": "2023-10-10"},
            "concepts": {"terms": [mention]},
        },
        "criteria": [
            {
                "label": "named",
                "domain": "procedure",
                "concepts": {"name_contains": [text]},
                "window": {"start": 0, "end": 30},
            }
        ],
    }
    earlier = store.audit.entries(limit=100000)
    before = earlier[-1].seq if earlier else 0  # the test may run first
    cid = _run(env, "researcher", spec)
    entries = store.audit.entries(after=before)
    logged_specs = json.dumps([e.spec for e in entries], ensure_ascii=False)
    assert text not in logged_specs and mention not in logged_specs and title not in logged_specs
    logged = entries[-1].spec["criteria"][0]["concepts"]["name_contains"]
    assert logged == [store.text_hash(text)] and logged[0].startswith("hmac-sha256:")
    assert entries[-1].spec["index"]["concepts"]["terms"] == [store.text_hash(mention)]
    assert str(entries[-1].spec["title"]).startswith("hmac-sha256:")
    # The run's own record keeps none of the words either (tests/test_api_sealing.py: what it keeps).
    kept = json.dumps(store.get_cohort(cid).__dict__, ensure_ascii=False, default=str)
    assert text not in kept and mention not in kept and title not in kept


# -- API docs without a network -----------------------------------------------------------------------


def test_docs_page_loads_only_local_files(env) -> None:
    c = env["client"]
    r = c.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    html = r.text
    assert "http://" not in html and "https://" not in html and "cdn" not in html.lower()
    srcs = ["/docs-assets/swagger-ui-bundle.js", "/static/docs.js", "/docs-assets/swagger-ui.css"]
    for src in srcs:
        assert f'"{src}"' in html
        asset = c.get(src)
        assert asset.status_code == 200 and len(asset.content) > 100, src
    assert "<script>" not in html  # inline scripts are blocked by the CSP
    assert "SwaggerUIBundle" in c.get("/docs-assets/swagger-ui-bundle.js").text
    assert '"/openapi.json"' in c.get("/static/docs.js").text
