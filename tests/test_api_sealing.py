"""What the state keeps of a run (``api/sealing.py``): the definition at concept level, which selects the
same persons, and the owner's own words sealed to the owner's key, which nobody else can read."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cohort_engine.api.app import create_app
from cohort_engine.api.sealing import concept_level_spec, open_owner_box, owner_box_key, seal_for_owner
from cohort_engine.api.state import StateStore
from cohort_engine.pipeline import run_spec
from cohort_engine.spec import CohortSpec
from tests.api_fixtures import build_tiny_mart
from tests.test_api_core import H, assert_error

MI = {"domain": "condition", "concepts": {"terms": ["myocardial infarction"]}}
STROKE_ABSENT = {
    "label": "k5",
    "domain": "condition",
    "concepts": {"terms": ["stroke"]},
    "occurrence": {"type": "exactly", "count": 0},
    "window": {"end": -1},
}

#: (name, spec, overrides, saved code sets): each selects the same persons before and after sealing.
CASES: list[tuple[str, dict[str, Any], dict[str, list[int]] | None, dict[str, list[int]] | None]] = [
    (
        "mentions and a window",
        {
            "title": "MI in 2023 then PCI within 30 days",
            "index": {**MI, "date_range": {"start": "2023-01-01", "end": "2023-12-31"}},
            "criteria": [
                {
                    "label": "k1",
                    "domain": "procedure",
                    "concepts": {"terms": ["PCI"]},
                    "window": {"start": 0, "end": 30},
                }
            ],
        },
        None,
        None,
    ),
    (
        "a name match and an exclusion",
        {
            "index": MI,
            "criteria": [
                {
                    "label": "k2",
                    "domain": "procedure",
                    "concepts": {"name_contains": ["angioplasty"]},
                    "window": {"start": 0, "end": 90},
                },
                STROKE_ABSENT,
            ],
        },
        None,
        None,
    ),
    (
        "a saved code set, no descendants, an excluded concept",
        {
            "index": {"domain": "drug", "concepts": {"codeset": "statins", "include_descendants": False}},
            "demographics": {"age_min": 50},
            "criteria": [
                {
                    "label": "k3",
                    "domain": "condition",
                    "concepts": {"terms": ["myocardial infarction"], "exclude_concept_ids": [2000011743]},
                    "window": {"start": -365, "end": 0},
                }
            ],
        },
        None,
        {"statins": [2001083367, 2001301542]},
    ),
    (
        "an override and a chain anchored on a criterion",
        {
            "index": {**MI, "first_occurrence": True},
            "criteria": [
                {
                    "label": "k1",
                    "domain": "procedure",
                    "concepts": {"terms": ["PCI"]},
                    "window": {"start": 0},
                },
                {
                    "label": "k4",
                    "domain": "drug",
                    "concepts": {"terms": ["statin"]},
                    "window": {"start": 0, "end": 60, "anchor": "k1"},
                },
            ],
        },
        {"statin": [2001083367]},
        None,
    ),
]

WORDS = ("myocardial infarction", "PCI", "angioplasty", "stroke", "statin", "MI in 2023")


@pytest.mark.parametrize(("name", "raw", "overrides", "codesets"), CASES, ids=[c[0] for c in CASES])
def test_concept_level_spec_selects_the_same_persons(demo, name, raw, overrides, codesets) -> None:
    spec = CohortSpec.model_validate(raw)
    before = run_spec(spec, demo, include_person_ids=True, overrides=overrides, codesets=codesets)
    assert before.status == "ok" and before.count, (name, before.message)
    resolutions = before.public_dict()["resolutions"]
    kept = concept_level_spec(spec, resolutions, demo)
    after = run_spec(kept, demo, include_person_ids=True)
    assert after.status == "ok", after.message
    assert sorted(after.person_ids or []) == sorted(before.person_ids or [])
    assert [a.persons for a in after.attrition] == [a.persons for a in before.attrition]
    text = kept.model_dump_json()
    assert kept.title is None and not any(w.lower() in text.lower() for w in WORDS), text
    for f in (kept.index, *kept.criteria):
        assert not (f.concepts.terms or f.concepts.name_contains or f.concepts.codeset)


def test_owner_box_opens_only_with_its_key_and_its_run() -> None:
    key, other = owner_box_key("ck_one"), owner_box_key("ck_two")
    box = seal_for_owner({"result": {"readback": "Quartermaine"}}, key, "coh_1")
    assert "Quartermaine" not in box
    assert open_owner_box(box, key, "coh_1") == {"result": {"readback": "Quartermaine"}}
    assert open_owner_box(box, other, "coh_1") is None  # another key
    assert open_owner_box(box, key, "coh_2") is None  # moved to another run
    flipped = box[:-4] + ("A" if box[-4] != "A" else "B") + box[-3:]
    assert open_owner_box(flipped, key, "coh_1") is None  # tampered with
    assert open_owner_box(None, key, "coh_1") is None


# -- through the API ----------------------------------------------------------------------------------

NAME = "Quartermaine"
OWN_SPEC = {
    "title": f"seed scenario for Dr {NAME}",
    "index": {"domain": "condition", "date_range": {"start": "2023-10-01", "end": "2023-10-10"}},
    "criteria": [
        {
            "label": "surgery",
            "domain": "procedure",
            "concepts": {"terms": ["myocardial infarction", "coronary artery disease"]},
            "window": {"start": 7, "end": 14},
        },
        {
            "label": "appendix",
            "domain": "procedure",
            "concepts": {"name_contains": ["appendectomy"]},
            "occurrence": {"type": "exactly", "count": 0},
        },
    ],
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    mart = build_tiny_mart(tmp_path_factory.mktemp("sealing") / "mart.duckdb")
    app = create_app(mart)
    store: StateStore = app.state.ctx.state
    keys = {role: store.create_key(role, role)[1] for role in ("researcher", "steward", "export_client")}
    keys["researcher2"] = store.create_key("researcher", "other")[1]
    with TestClient(app) as client:
        yield {"client": client, "keys": keys, "store": store}


def _state_bytes(store: StateStore) -> bytes:
    return b"".join(
        f.read_bytes() for f in (store.path, store.path.with_name(store.path.name + "-wal")) if f.exists()
    )


def test_the_owner_reads_their_words_others_the_concepts(env) -> None:
    c = env["client"]
    r = c.post("/v1/cohorts", json={"spec": OWN_SPEC}, headers=H(env, "researcher"))
    assert r.status_code == 201, r.text
    posted = r.json()
    cid = posted["cohort_id"]
    assert posted["spec"]["title"] == OWN_SPEC["title"] and "appendectomy" in posted["readback"]

    own = c.get(f"/v1/cohorts/{cid}", headers=H(env, "researcher")).json()
    assert own["spec"] == posted["spec"] and own["readback"] == posted["readback"]
    assert own["sql"] == posted["sql"] and own["count_display"] == posted["count_display"]
    listed = c.get("/v1/cohorts", headers=H(env, "researcher")).json()
    assert [s["title"] for s in listed if s["cohort_id"] == cid] == [OWN_SPEC["title"]]

    assert_error(c.get(f"/v1/cohorts/{cid}", headers=H(env, "researcher2")), 404, "not_found")
    seen = c.get(f"/v1/cohorts/{cid}", headers=H(env, "steward")).json()
    shown = json.dumps(seen, ensure_ascii=False)
    assert NAME not in shown and "myocardial" not in shown and "appendectomy" not in shown
    assert seen["spec"]["title"] is None and seen["count"] == 13
    kept_ids = {
        cid
        for f in (seen["spec"]["index"], *seen["spec"]["criteria"])
        for cid in f["concepts"]["concept_ids"]
    }
    assert kept_ids == {2001, 2002, 2003, 2004}  # CABG, PCI, stent (the mentions), appendectomy (the name)
    assert "concept ids 2001, 2002, 2003" in seen["readback"]
    steward_list = c.get("/v1/cohorts", headers=H(env, "steward")).json()
    assert [s["title"] for s in steward_list if s["cohort_id"] == cid] == [None]

    state = _state_bytes(env["store"])
    for word in (NAME, "myocardial infarction", "coronary artery disease", "appendectomy"):
        assert word.encode() not in state, word


def test_review_and_release_rerun_the_concept_level_definition(env) -> None:
    c = env["client"]
    cid = c.post("/v1/cohorts", json={"spec": OWN_SPEC}, headers=H(env, "researcher")).json()["cohort_id"]
    assert c.post(f"/v1/cohorts/{cid}/release-request", headers=H(env, "researcher")).status_code == 200
    r = c.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "steward"))
    assert r.status_code == 200, r.text  # the re-run from concept ids gives the reviewed persons
    rows = c.get(f"/v1/cohorts/{cid}/manifest", headers=H(env, "export_client")).json()
    assert len({row["patient"] for row in rows["rows"]}) == 13


def test_a_rule_that_selects_no_concept_is_kept_without_a_definition(env) -> None:
    """An empty list of concept ids would mean 'any concept': such a run is kept readable, not re-runnable."""
    spec = {
        "index": {"domain": "condition", "date_range": {"start": "2023-10-01", "end": "2023-10-10"}},
        "criteria": [
            {
                "label": "named",
                "domain": "procedure",
                "concepts": {"name_contains": [NAME]},
                "occurrence": {"type": "exactly", "count": 0},
            }
        ],
    }
    c = env["client"]
    r = c.post("/v1/cohorts", json={"spec": spec}, headers=H(env, "researcher"))
    assert r.status_code == 201, r.text
    cid = r.json()["cohort_id"]
    assert env["store"].get_cohort(cid).spec is None
    assert any(
        "Not kept for re-running" in n
        for n in c.get(f"/v1/cohorts/{cid}", headers=H(env, "researcher")).json()["notes"]
    )
    assert c.post(f"/v1/cohorts/{cid}/release-request", headers=H(env, "researcher")).status_code == 200
    assert_error(c.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "steward")), 409, "cohort_not_kept")
    assert NAME.encode() not in _state_bytes(env["store"])


def test_a_state_file_from_before_owner_boxes_opens(tmp_path) -> None:
    store = StateStore(tmp_path / "state.sqlite")
    store.close()
    con = sqlite3.connect(tmp_path / "state.sqlite")
    con.execute("ALTER TABLE cohorts DROP COLUMN owner_box")
    con.execute(
        "INSERT INTO cohorts (cohort_id, created_at, key_id, status, spec, result) "
        "VALUES ('coh_old', '2026-01-01T00:00:00Z', 'k1', 'ok', NULL, '{\"status\": \"ok\"}')"
    )
    con.commit()
    con.close()
    rec = StateStore(tmp_path / "state.sqlite").get_cohort("coh_old")
    assert rec is not None and rec.owner_box is None and rec.result == {"status": "ok"}


def test_reviewers_see_earlier_releases_that_share_persons(env) -> None:
    """Releases of the same persons to two projects are linkable through the images themselves; the
    reviewers are told before they approve, re-run from the concept-level definitions."""
    c = env["client"]

    def requested(spec: dict) -> str:
        cid = c.post("/v1/cohorts", json={"spec": spec}, headers=H(env, "researcher")).json()["cohort_id"]
        assert c.post(f"/v1/cohorts/{cid}/release-request", headers=H(env, "researcher")).status_code == 200
        return cid

    first = requested(OWN_SPEC)
    assert c.post(f"/v1/cohorts/{first}/approve", headers=H(env, "steward")).status_code == 200
    # persons 1-20 (I21) of the index range; 1-13 of them are the first release's cohort
    mi = {"index": {"domain": "condition", "concepts": {"concept_ids": [1001]}}}
    second = requested(mi)
    r = c.get(f"/v1/cohorts/{second}/release-overlap", headers=H(env, "steward"))
    assert r.status_code == 200, r.text
    shared = {o["cohort_id"]: o["persons_shared"] for o in r.json()}
    assert shared[first] == 13 and all(n == 13 for n in shared.values())
    assert r.json()[0]["release"] == "cohort-" + r.json()[0]["cohort_id"].replace("_", "-")
    assert_error(c.get(f"/v1/cohorts/{second}/release-overlap", headers=H(env, "researcher")), 403)
    # an unrelated cohort (persons 41-60, diagnosed in November) shares nobody
    november = {"index": {"domain": "condition", "date_range": {"start": "2023-11-01", "end": "2023-11-30"}}}
    assert c.get(f"/v1/cohorts/{requested(november)}/release-overlap", headers=H(env, "steward")).json() == []
    # the approval's audit entry records what the reviewer was shown
    assert c.post(f"/v1/cohorts/{second}/approve", headers=H(env, "steward")).status_code == 200
    entry = [e for e in env["store"].audit.entries(limit=100000) if e.target == second][-1]
    assert {o["cohort_id"] for o in entry.details["overlaps"]} >= {first}
