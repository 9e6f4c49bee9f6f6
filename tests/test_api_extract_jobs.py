"""Record extraction as an API export job (``POST /v1/cohorts/{id}/extracts``, ``api/extract_jobs.py``) on
the tiny mart (``tests.api_fixtures``: real DuckDB, real DICOM index), end to end through the release
workflow: researcher runs the seed cohort and requests a release, another steward approves, the export
client starts the job, polls its progress and downloads one zip.

Why: the API's extraction must be ``cohort extract``'s (one implementation), only for approved cohorts,
and its records must join the cohort's own imaging manifest (the one export clients page through) on the
pseudonym; refusals say what to do, never a traceback.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from pathlib import Path

import frictionless
import pytest
from fastapi.testclient import TestClient

from cohort_engine.api.app import create_app
from cohort_engine.api.state import StateStore
from cohort_engine.deid.policy import pseudonym
from cohort_engine.spec import CohortSpec
from tests.api_fixtures import SEED_COUNT, build_tiny_mart
from tests.test_api_core import SEED_SPEC, H, assert_error

#: Small enough that most of the 13-person seed cohort passes the disclosure check of the tiny mart.
K = 2
STEPS = {"reading persons", "conditions", "procedures", "images", ""}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("extract-jobs")
    mart = build_tiny_mart(root / "mart.duckdb")
    app = create_app(mart, k=K, export_dir=root / "exports")
    store: StateStore = app.state.ctx.state
    keys = {role: store.create_key(role, role)[1] for role in ("researcher", "steward", "export_client")}
    keys["steward2"] = store.create_key("steward", "other")[1]
    with TestClient(app) as client:
        yield {"client": client, "keys": keys, "app": app, "root": root}


def _run(env) -> str:
    r = env["client"].post("/v1/cohorts", json={"spec": SEED_SPEC}, headers=H(env, "researcher"))
    assert r.status_code == 201, r.text
    return r.json()["cohort_id"]


def _approved(env) -> str:
    c, cid = env["client"], _run(env)
    assert c.post(f"/v1/cohorts/{cid}/release-request", headers=H(env, "researcher")).status_code == 200
    assert c.post(f"/v1/cohorts/{cid}/approve", headers=H(env, "steward")).status_code == 200
    return cid


def _wait(env, job_id: str) -> tuple[dict, list[dict]]:
    seen = []
    for _ in range(600):
        r = env["client"].get(f"/v1/jobs/{job_id}", headers=H(env, "export_client"))
        assert r.status_code == 200, r.text
        seen.append(r.json())
        if seen[-1]["status"] in ("done", "failed"):
            return seen[-1], seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {seen[-1]}")


def _csv(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def extracted(env):
    """An approved seed cohort extracted as CSV through a job: (cohort id, job status, folder)."""
    cid = _approved(env)
    r = env["client"].post(
        f"/v1/cohorts/{cid}/extracts",
        json={"domains": ["procedures", "conditions"], "window": "-365:365", "format": "csv"},
        headers=H(env, "export_client"),
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["kind"], job["cohort_id"], job["format"]) == ("record_extract", cid, "csv")
    assert r.headers["Location"] == f"/v1/jobs/{job['job_id']}"
    final, seen = _wait(env, job["job_id"])
    z = env["client"].get(f"/v1/jobs/{job['job_id']}/result", headers=H(env, "export_client"))
    assert z.status_code == 200, z.text
    assert z.headers["content-type"] == "application/zip"
    out = env["root"] / "unzipped"
    zipfile.ZipFile(io.BytesIO(z.content)).extractall(out)
    folder = out / ("cohort-" + cid.replace("_", "-"))
    return cid, final, seen, folder


def test_approved_cohort_becomes_a_dataset_with_progress(env, extracted) -> None:
    cid, final, seen, folder = extracted
    assert final["status"] == "done" and final["progress"] == 1.0
    assert final["download"] == f"/v1/jobs/{final['job_id']}/result"
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.txt",
        "conditions.csv",
        "datapackage.json",
        "disclosure.json",
        "images.csv",
        "persons.csv",
        "procedures.csv",
    ]
    persons = _csv(folder, "persons.csv")
    rows = len(_csv(folder, "conditions.csv")) + len(_csv(folder, "procedures.csv"))
    rows += len(_csv(folder, "images.csv"))
    assert final["message"] == f"{len(persons)} patients, {rows} rows"
    assert final["rows_done"] == final["rows_total"] == rows
    # progress only grows, and names a step, never a value
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress)
    assert {s["message"] for s in seen if s["status"] != "done"} <= STEPS
    report = frictionless.validate(str(folder / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]


def test_records_are_the_cohorts_and_join_its_manifest(env, extracted) -> None:
    cid, _, _, folder = extracted
    service = env["app"].state.ctx.service
    policy = service.release_policy(cid).for_cohort(CohortSpec.model_validate(SEED_SPEC))
    pid_of = {pseudonym(policy, str(pid)): pid for pid in range(1, SEED_COUNT + 1)}
    persons = {r["patient"] for r in _csv(folder, "persons.csv")}
    assert persons and persons <= set(pid_of)  # only seed persons, under the cohort's own pseudonyms
    # tiny mart: each seed person has one procedure, CABG (2001) for odd ids, PCI (2002) for even
    procedures = _csv(folder, "procedures.csv")
    assert sorted((r["patient"], int(r["concept_id"])) for r in procedures) == sorted(
        (p, 2001 if pid_of[p] % 2 else 2002) for p in persons
    )
    assert {r["patient"] for r in _csv(folder, "conditions.csv")} == persons
    # the dataset's image rows are the API manifest's rows of the released persons, row for row
    images = _csv(folder, "images.csv")
    page = (
        env["client"]
        .get(f"/v1/cohorts/{cid}/manifest", params={"limit": 1000}, headers=H(env, "export_client"))
        .json()
    )
    manifest = {
        (r["patient"], r["series_uid"], r["modality"], r["days_from_index"])
        for r in page["rows"]
        if r["patient"] in persons
    }
    assert (
        images
        and {(r["patient"], r["series_uid"], r["modality"], int(r["days_from_index"])) for r in images}
        == manifest
    )
    # records and images share each patient's hidden day offset: the surgery that qualified the patient
    # sits on the same day in procedures.csv and in the images' criteria
    surgery_day = {r["patient"]: int(r["days_from_index"]) for r in procedures}
    for r in page["rows"]:
        if r["patient"] in persons:
            assert r["criteria"] == [{"label": "surgery", "days_from_index": surgery_day[r["patient"]]}]


def test_unapproved_cohorts_are_refused_clearly(env) -> None:
    c, cid = env["client"], _run(env)
    err = assert_error(
        c.post(f"/v1/cohorts/{cid}/extracts", json={}, headers=H(env, "steward")), 409, "not_approved"
    )
    assert "release-request" in err["message"] and "approve" in err["message"]
    err = assert_error(
        c.post(f"/v1/cohorts/{cid}/extracts", json={}, headers=H(env, "researcher")), 403, "forbidden"
    )
    # an export client cannot tell an unapproved cohort from one that does not exist
    assert_error(
        c.post(f"/v1/cohorts/{cid}/extracts", json={}, headers=H(env, "export_client")), 404, "not_found"
    )
    assert_error(
        c.post("/v1/cohorts/coh_0000000000000000/extracts", json={}, headers=H(env, "export_client")),
        404,
        "not_found",
    )
    assert not [j for j in env["app"].state.ctx.state.list_jobs() if j.cohort_id == cid]


def test_bad_options_are_422_with_the_fix(env) -> None:
    c, cid = env["client"], _approved(env)
    cases = [
        ({"window": "5:1"}, "the window's start (5) is after its end (1)."),
        ({"window": "last year"}, "the window must be START:END"),
        ({"domains": ["labs"]}, "unknown domain 'labs'; choose from conditions, procedures"),
    ]
    for body, message in cases:
        err = assert_error(
            c.post(f"/v1/cohorts/{cid}/extracts", json=body, headers=H(env, "export_client")),
            422,
            "validation_error",
        )
        assert err["message"].startswith(message), err
    assert_error(
        c.post(f"/v1/cohorts/{cid}/extracts", json={"format": "xlsx"}, headers=H(env, "export_client")), 422
    )
