"""Request → committee review → release package, through the REST API on the tiny mart
(``tests.api_fixtures``: real DuckDB mart, real DICOM files indexed and linked).

Why: the review rules are the committee's promise (a quorum of distinct stewards, never the requester,
a comment on every step, everything audited), and the package is data leaving the hospital: what is in
it must be exactly the request, verifiable member by member, joinable on the pseudonym, and gone when
it expires.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import time
import zipfile
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from cohort_engine.api.app import create_app
from cohort_engine.api.request_flow import (
    ACTIONS,
    REQUEST_STATES,
    Facts,
    RequestState,
    TransitionError,
    decide,
)
from cohort_engine.api.routers.requests import parse_range
from cohort_engine.api.state import StateStore
from tests.api_fixtures import MRNS, UID_ROOT, build_tiny_mart
from tests.test_api_core import SEED_SPEC, assert_error

# -- the state machine, table-driven -------------------------------------------------------------------

REQ, S1, S2 = "key_requester", "key_s1", "key_s2"

#: (state, action) → the next state, or (status, code) of the refusal; actor S1 (S1 for resubmit is
#: checked separately: here resubmit is done by the requester), no approvals yet, quorum 2.
EXPECTED: dict[tuple[str, str], str | tuple[int, str]] = {
    ("submitted", "approve"): "submitted",  # 1 of 2
    ("submitted", "reject"): "rejected",
    ("submitted", "request_changes"): "changes_requested",
    ("submitted", "resubmit"): (409, "awaiting_review"),
    ("changes_requested", "approve"): (409, "awaiting_changes"),
    ("changes_requested", "reject"): (409, "awaiting_changes"),
    ("changes_requested", "request_changes"): (409, "awaiting_changes"),
    ("changes_requested", "resubmit"): "submitted",
    **{(s, a): (409, "request_closed") for s in ("approved", "rejected") for a in ACTIONS},
}


def test_the_table_covers_every_pair() -> None:
    assert set(EXPECTED) == set(itertools.product(REQUEST_STATES, ACTIONS))


@pytest.mark.parametrize(("state", "action"), sorted(EXPECTED))
def test_every_transition(state: str, action: str) -> None:
    facts = Facts(state=state, requester=REQ, approvals=frozenset(), quorum=2)  # type: ignore[arg-type]
    actor = REQ if action == "resubmit" else S1
    want = EXPECTED[(state, action)]
    if isinstance(want, str):
        assert decide(facts, action, actor, "because").state == want  # type: ignore[arg-type]
    else:
        with pytest.raises(TransitionError) as e:
            decide(facts, action, actor, "because")  # type: ignore[arg-type]
        assert (e.value.status, e.value.code) == want


@pytest.mark.parametrize(
    ("action", "actor", "comment", "approvals", "want"),
    [
        ("approve", REQ, "fine", (), (403, "self_review")),
        ("reject", REQ, "no", (), (403, "self_review")),
        ("request_changes", REQ, "change", (), (403, "self_review")),
        ("approve", S1, "   ", (), (422, "comment_required")),
        ("reject", S1, "", (), (422, "comment_required")),
        ("approve", S1, "x" * 4001, (), (422, "comment_too_long")),
        ("approve", S1, "again", (S1,), (409, "already_reviewed")),
        ("resubmit", S1, "changed", (), (403, "not_requester")),
    ],
)
def test_refusals(action, actor, comment, approvals, want) -> None:
    state: RequestState = "changes_requested" if action == "resubmit" else "submitted"
    facts = Facts(state=state, requester=REQ, approvals=frozenset(approvals), quorum=2)
    with pytest.raises(TransitionError) as e:
        decide(facts, action, actor, comment)
    assert (e.value.status, e.value.code) == want


def test_quorum_counts_distinct_stewards() -> None:
    one = decide(Facts("submitted", REQ, frozenset(), 2), "approve", S1, "ok")
    assert (one.state, one.approvals) == ("submitted", 1)
    two = decide(Facts("submitted", REQ, frozenset({S1}), 2), "approve", S2, "ok")
    assert (two.state, two.approvals) == ("approved", 2)
    assert decide(Facts("submitted", REQ, frozenset(), 1), "approve", S1, "ok").state == "approved"
    three = decide(Facts("submitted", REQ, frozenset({S1, S2}), 3), "approve", "key_s3", "ok")
    assert three.state == "approved"
    again = decide(Facts("changes_requested", REQ, frozenset({S1}), 2), "resubmit", REQ, "done")
    assert (again.state, again.approvals, again.new_round) == ("submitted", 0, True)


@pytest.mark.parametrize(
    ("header", "want"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=5-1", None),  # malformed: ignored, the whole file
        ("items=0-1", None),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
    ],
)
def test_parse_range(header, want) -> None:
    assert parse_range(header, 1000) == want


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-1001", "bytes=-0"])
def test_parse_range_unsatisfiable(header) -> None:
    from cohort_engine.api.errors import ApiError

    with pytest.raises(ApiError) as e:
        parse_range(header, 1000)
    assert (e.value.status, e.value.code, e.value.headers) == (
        416,
        "range_not_satisfiable",
        {"Content-Range": "bytes */1000"},
    )


# -- through the API -------------------------------------------------------------------------------

ROLES = {
    "researcher": "researcher",
    "researcher2": "researcher",
    "steward1": "steward",
    "steward2": "steward",
    "steward3": "steward",
    "export": "export_client",
}
PURPOSE = "Outcomes after CABG versus PCI in early MI (protocol 2026-17)"
ORG = "Example University Hospital"
BODY = {
    "purpose": PURPOSE,
    "organisation": ORG,
    "domains": ["procedures", "conditions"],
    "images": True,
    "modalities": ["ct"],
    "window": {"start": -30, "end": 60},
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    mart = build_tiny_mart(tmp_path_factory.mktemp("requests") / "mart.duckdb")
    app = create_app(mart, k=2)
    store: StateStore = app.state.ctx.state
    made = {name: store.create_key(role, name) for name, role in ROLES.items()}
    keys = {name: plain for name, (_rec, plain) in made.items()}
    ids = {name: rec.key_id for name, (rec, _plain) in made.items()}
    with TestClient(app) as client:
        yield {"client": client, "keys": keys, "ids": ids, "app": app, "store": store, "mart": mart}


def H(env, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['keys'][name]}"}


def _cohort(env, who: str = "researcher") -> str:
    r = env["client"].post("/v1/cohorts", json={"spec": SEED_SPEC}, headers=H(env, who))
    assert r.status_code == 201, r.text
    return r.json()["cohort_id"]


def _submit(env, cid: str, who: str = "researcher", **changes) -> dict:
    r = env["client"].post("/v1/requests", json={**BODY, "cohort_id": cid, **changes}, headers=H(env, who))
    assert r.status_code == 201, r.text
    return r.json()


def _review(env, rid: str, who: str, decision: str, comment: str = "reviewed"):
    return env["client"].post(
        f"/v1/requests/{rid}/reviews", json={"decision": decision, "comment": comment}, headers=H(env, who)
    )


def _ready(env, rid: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        body = env["client"].get(f"/v1/requests/{rid}", headers=H(env, "export")).json()
        if body["package"]["status"] != "building":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def _audit(env, rid: str) -> list:
    return [e for e in env["store"].audit.entries(limit=100_000) if e.target == rid]


def test_submit_checks_the_request(env) -> None:
    c = env["client"]
    cid = _cohort(env)
    post = lambda body, who="researcher": c.post("/v1/requests", json=body, headers=H(env, who))  # noqa: E731
    base = {**BODY, "cohort_id": cid}
    assert_error(post({k: v for k, v in base.items() if k != "purpose"}), 422, "validation_error")
    err = assert_error(post({**base, "domains": [], "images": False}), 422, "validation_error")
    assert "at least one records domain or for images" in err["message"]
    err = assert_error(post({**base, "modalities": ["C T"]}), 422, "validation_error")
    assert "DICOM codes" in err["message"]
    assert_error(post({**base, "images": False}), 422, "validation_error")  # modalities without images
    assert_error(post({**base, "domains": ["notes"]}), 422, "validation_error")
    assert_error(post({**base, "window": {"start": 10, "end": -10}}), 422, "validation_error")
    assert_error(post({**base, "purpose": "  short  "}), 422, "validation_error")
    # someone else's cohort: 404 for a researcher, 403 not_owner for a steward (who sees every cohort)
    assert_error(post(base, "researcher2"), 404, "not_found")
    assert_error(post(base, "steward1"), 403, "not_owner")
    assert_error(post(base, "export"), 403, "forbidden")
    assert_error(post({**base, "cohort_id": "coh_0000000000000000"}), 404, "not_found")
    first = _submit(env, cid)
    assert first["status"] == "submitted" and first["round"] == 1 and first["quorum"] == 2
    assert first["domains"] == ["conditions", "procedures"] and first["modalities"] == ["CT"]
    assert first["window"] == {"start": -30, "end": 60} and first["package"]["status"] == "none"
    assert first["actions"] == []
    err = assert_error(post(base), 409, "request_open")
    assert first["request_id"] in err["message"]


def test_review_rules_through_the_api(env) -> None:
    c = env["client"]
    req = _submit(env, _cohort(env))
    rid = req["request_id"]
    assert_error(_review(env, rid, "researcher", "approve"), 403, "forbidden")
    assert_error(_review(env, rid, "export", "approve"), 403, "forbidden")
    assert_error(_review(env, rid, "steward1", "approve", "  "), 422, "comment_required")
    assert_error(_review(env, "req_unknown", "steward1", "approve"), 404, "not_found")
    r = _review(env, rid, "steward1", "approve", "purpose is clear")
    assert r.status_code == 200 and (r.json()["status"], r.json()["approvals"]) == ("submitted", 1)
    assert r.json()["actions"] == ["reject", "request_changes"]  # approved once already
    assert_error(_review(env, rid, "steward1", "approve"), 409, "already_reviewed")
    r = _review(env, rid, "steward2", "request_changes", "narrow the window to 0..30 days")
    assert r.json()["status"] == "changes_requested"
    assert_error(_review(env, rid, "steward3", "approve"), 409, "awaiting_changes")
    resubmit = lambda who, body: c.post(f"/v1/requests/{rid}/resubmit", json=body, headers=H(env, who))  # noqa: E731
    assert_error(resubmit("researcher", {"comment": ""}), 422, "comment_required")
    assert_error(resubmit("researcher2", {"comment": "mine"}), 404, "not_found")
    assert_error(resubmit("steward1", {"comment": "for them"}), 403, "not_requester")
    changed = {**{k: v for k, v in BODY.items()}, "window": {"start": 0, "end": 30}}
    r = resubmit("researcher", {"comment": "window narrowed", "changes": changed})
    body = r.json()
    assert (r.status_code, body["status"], body["round"], body["approvals"]) == (200, "submitted", 2, 0)
    assert body["window"] == {"start": 0, "end": 30}
    assert_error(resubmit("researcher", {"comment": "again"}), 409, "awaiting_review")
    assert [(v["round"], v["decision"]) for v in body["reviews"]] == [
        (1, "approve"),
        (1, "request_changes"),
        (1, "resubmit"),
    ]
    # approvals of round 1 do not count: two approvals of round 2 are needed
    assert _review(env, rid, "steward1", "approve", "fine now").json()["status"] == "submitted"
    done = _review(env, rid, "steward3", "approve", "agreed").json()
    assert done["status"] == "approved" and done["decided_at"] and done["package"]["status"] == "building"
    assert_error(_review(env, rid, "steward2", "reject", "too late"), 409, "request_closed")
    assert_error(resubmit("researcher", {"comment": "x"}), 409, "request_closed")

    # every step is in the audit log, with hashes for the free text and never the text itself
    steps = [
        (e.endpoint, e.status, (e.details or {}).get("request_action"), (e.details or {}).get("to"))
        for e in _audit(env, rid)
        if e.method == "POST"
    ]
    assert steps == [
        ("/v1/requests", 201, "submit", None),
        ("/v1/requests/{request_id}/reviews", 403, None, None),
        ("/v1/requests/{request_id}/reviews", 403, None, None),
        ("/v1/requests/{request_id}/reviews", 422, None, None),
        ("/v1/requests/{request_id}/reviews", 200, "approve", "submitted"),
        ("/v1/requests/{request_id}/reviews", 409, None, None),
        ("/v1/requests/{request_id}/reviews", 200, "request_changes", "changes_requested"),
        ("/v1/requests/{request_id}/reviews", 409, None, None),
        ("/v1/requests/{request_id}/resubmit", 422, None, None),
        ("/v1/requests/{request_id}/resubmit", 404, None, None),
        ("/v1/requests/{request_id}/resubmit", 403, None, None),
        ("/v1/requests/{request_id}/resubmit", 200, "resubmit", "submitted"),
        ("/v1/requests/{request_id}/resubmit", 409, None, None),
        ("/v1/requests/{request_id}/reviews", 200, "approve", "submitted"),
        ("/v1/requests/{request_id}/reviews", 200, "approve", "approved"),
        ("/v1/requests/{request_id}/reviews", 409, None, None),
        ("/v1/requests/{request_id}/resubmit", 409, None, None),
    ]
    rows = _audit(env, rid)
    last = next(e for e in rows if (e.details or {}).get("to") == "approved")
    store = env["store"]
    assert last.key_id == env["ids"]["steward3"] and last.details["approvals"] == 2
    assert last.details["comment"] == store.text_hash("agreed") and last.details["package_job"]
    text = repr([(e.details, e.spec) for e in store.audit.entries(limit=100_000)])
    for typed in (PURPOSE, ORG, "narrow the window to 0..30 days", "window narrowed"):
        assert typed not in text
    assert store.audit.verify() == (True, None)
    _ready(env, rid)


def test_reject_with_reasons_and_who_sees_what(env) -> None:
    c = env["client"]
    rid = _submit(env, _cohort(env))["request_id"]
    assert_error(_review(env, rid, "steward2", "reject", ""), 422, "comment_required")
    r = _review(env, rid, "steward2", "reject", "purpose does not need identifiable images")
    assert r.json()["status"] == "rejected" and r.json()["reviews"][-1]["comment"].startswith("purpose")
    own = c.get(f"/v1/requests/{rid}", headers=H(env, "researcher")).json()
    assert (
        own["status"] == "rejected"
        and own["purpose"] == PURPOSE
        and own["reviews"][0]["decision"] == "reject"
    )
    assert_error(c.get(f"/v1/requests/{rid}", headers=H(env, "researcher2")), 404, "not_found")
    assert_error(c.get(f"/v1/requests/{rid}", headers=H(env, "export")), 404, "not_found")
    assert rid not in {x["request_id"] for x in c.get("/v1/requests", headers=H(env, "export")).json()}
    assert rid not in {x["request_id"] for x in c.get("/v1/requests", headers=H(env, "researcher2")).json()}
    queue = c.get("/v1/requests?status=rejected", headers=H(env, "steward1")).json()
    assert rid in {x["request_id"] for x in queue} and all(x["status"] == "rejected" for x in queue)
    assert_error(c.get(f"/v1/requests/{rid}/package", headers=H(env, "export")), 404, "not_found")


def test_a_steward_cannot_review_their_own_request(env) -> None:
    rid = _submit(env, _cohort(env, "steward1"), "steward1")["request_id"]
    err = assert_error(_review(env, rid, "steward1", "approve", "looks fine to me"), 403, "self_review")
    assert "other stewards" in err["message"]
    assert _review(env, rid, "steward2", "reject", "withdrawn for the test").json()["status"] == "rejected"


def test_disclosure_report_for_reviewers(env) -> None:
    rid = _submit(env, _cohort(env, "researcher2"), "researcher2")["request_id"]
    r = env["client"].get(f"/v1/requests/{rid}/disclosure", headers=H(env, "steward1"))
    rep = r.json()
    assert r.status_code == 200 and rep["persons"] == 13 and rep["k"] == 2
    assert rep["kept"] + rep["age_band_widened"] + rep["index_year_removed"] + rep["withheld"] == 13
    assert rep["released"] == 13 - rep["withheld"]
    assert_error(
        env["client"].get(f"/v1/requests/{rid}/disclosure", headers=H(env, "researcher2")), 403, "forbidden"
    )
    _review(env, rid, "steward1", "reject", "cleanup")


@pytest.fixture(scope="module")
def approved(env):
    """A request approved by two stewards, its package built."""
    rid = _submit(env, _cohort(env))["request_id"]
    _review(env, rid, "steward1", "approve", "ok")
    assert _review(env, rid, "steward2", "approve", "ok").json()["status"] == "approved"
    body = _ready(env, rid)
    assert body["package"]["status"] == "ready", body
    return body


def test_package_contents(env, approved) -> None:
    c = env["client"]
    rid = approved["request_id"]
    pkg = approved["package"]
    assert approved["purpose"] is None and approved["reviews"] == [] and approved["actions"] == ["download"]
    assert pkg["download"] == f"/v1/requests/{rid}/package" and pkg["progress"] == 1.0
    r = c.get(pkg["download"], headers=H(env, "export"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["accept-ranges"] == "bytes" and int(r.headers["content-length"]) == pkg["bytes"]
    data = r.content
    assert hashlib.sha256(data).hexdigest() == pkg["sha256"] and r.headers["etag"] == f'"{pkg["sha256"]}"'
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = zf.namelist()
    files = [n for n in names if n.startswith("images/files/")]
    assert sorted(set(names) - set(files)) == [
        "SHA256SUMS",
        "images/README.txt",
        "images/excluded.csv",
        "images/export.json",
        "images/manifest.csv",
        "records/README.txt",
        "records/conditions.parquet",
        "records/datapackage.json",
        "records/disclosure.json",
        "records/images.parquet",
        "records/persons.parquet",
        "records/procedures.parquet",
        "release.json",
    ]
    assert files and all(n.endswith(".dcm") for n in files)
    # every member's checksum verifies, and SHA256SUMS lists exactly the other members
    sums: dict[str, str] = {}
    for line in zf.read("SHA256SUMS").decode().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    assert sorted(sums) == sorted(n for n in names if n != "SHA256SUMS")
    for name, digest in sums.items():
        assert hashlib.sha256(zf.read(name)).hexdigest() == digest, name
    # records join the image manifest on the pseudonym; only released persons have images
    persons = pq.read_table(io.BytesIO(zf.read("records/persons.parquet"))).column("patient").to_pylist()
    manifest = list(csv.DictReader(io.StringIO(zf.read("images/manifest.csv").decode())))
    images = pq.read_table(io.BytesIO(zf.read("records/images.parquet")))
    procedures = pq.read_table(io.BytesIO(zf.read("records/procedures.parquet")))
    counts = pkg["counts"]
    assert len(persons) == counts["persons"] == 13 - counts["withheld"]
    assert {m["patient"] for m in manifest} <= set(persons)
    assert {m["series_uid"] for m in manifest} == set(images.column("series_uid").to_pylist())
    assert {m["modality"] for m in manifest} == {"CT"}  # the request named CT only
    assert set(procedures.column("patient").to_pylist()) <= set(persons)
    assert procedures.num_rows == counts["rows"]["procedures"]
    assert {f.split("/")[2] for f in files} == {m["patient"] for m in manifest}
    assert len(files) == counts["image_files"] == sum(int(m["files_written"]) for m in manifest)
    (built,) = [e for e in _audit(env, rid) if e.endpoint == "(release package build)"]
    assert (built.role, built.details["package"], built.result_hash) == (
        "system",
        "built",
        f"sha256:{pkg['sha256']}",
    )
    assert built.counts == counts
    # nothing identifying in any member
    for name in names:
        blob = zf.read(name)
        for mrn in MRNS:
            assert mrn.encode() not in blob, name
        assert UID_ROOT.encode() not in blob and b"/pacs/" not in blob, name
        assert PURPOSE.encode() not in blob and ORG.encode() not in blob, name


def test_range_downloads(env, approved) -> None:
    c = env["client"]
    url = approved["package"]["download"]
    whole = c.get(url, headers=H(env, "export")).content
    size = len(whole)
    for header, (lo, hi) in [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, size - 1)),
        ("bytes=-64", (size - 64, size - 1)),
        (f"bytes={size - 10}-{size + 50}", (size - 10, size - 1)),
    ]:
        r = c.get(url, headers={**H(env, "export"), "Range": header})
        assert r.status_code == 206, header
        assert r.headers["content-range"] == f"bytes {lo}-{hi}/{size}"
        assert r.content == whole[lo : hi + 1] and int(r.headers["content-length"]) == hi - lo + 1
    # resumed in pieces: the pieces are the package
    pieces = [
        c.get(url, headers={**H(env, "export"), "Range": f"bytes={i}-{i + 99_999}"}).content
        for i in range(0, size, 100_000)
    ]
    assert b"".join(pieces) == whole
    r = c.get(url, headers={**H(env, "export"), "Range": f"bytes={size}-"})
    err = assert_error(r, 416, "range_not_satisfiable")
    assert r.headers["content-range"] == f"bytes */{size}" and str(size) in err["message"]
    assert c.get(url, headers={**H(env, "export"), "Range": "bytes=9-3"}).status_code == 200
    assert_error(c.get(url, headers=H(env, "steward1")), 403, "forbidden")
    assert_error(c.get(url, headers=H(env, "researcher")), 403, "forbidden")
    # every download audited: the range, the bytes, and the package's hash
    rows = [
        e for e in _audit(env, approved["request_id"]) if e.endpoint == "/v1/requests/{request_id}/package"
    ]
    ok = [e for e in rows if e.status in (200, 206)]
    assert all(
        e.key_id == env["ids"]["export"] and e.result_hash == f"sha256:{approved['package']['sha256']}"
        for e in ok
    )
    assert {e.details["download"] for e in ok} >= {f"0-99/{size}", f"{size - 64}-{size - 1}/{size}"}
    assert [e.status for e in rows if e.status >= 400] == [416, 403, 403]
    # a download counts when its last byte went out: the whole file (here and in the contents test), 3
    # ranges reaching the end, the last piece, the malformed range (answered whole)
    assert (
        c.get(f"/v1/requests/{approved['request_id']}", headers=H(env, "export")).json()["package"][
            "downloads"
        ]
        == 7
    )


def test_the_package_job_is_a_job(env, approved) -> None:
    c = env["client"]
    job_id = approved["package"]["job_id"]
    job = c.get(f"/v1/jobs/{job_id}", headers=H(env, "steward2")).json()
    assert (job["kind"], job["status"], job["progress"], job["download"]) == (
        "release_package",
        "done",
        1.0,
        None,
    )
    assert_error(c.get(f"/v1/jobs/{job_id}/result", headers=H(env, "steward2")), 409, "not_a_file_job")


def test_expiry_sweep_with_an_injected_clock(env) -> None:
    c = env["client"]
    rr = env["app"].state.release_requests
    settings = env["app"].state.ctx.settings
    settings.release_quorum = 1
    try:
        rid = _submit(env, _cohort(env), domains=["conditions"], images=False, modalities=[])["request_id"]
        assert _review(env, rid, "steward3", "approve", "one is enough here").json()["status"] == "approved"
    finally:
        settings.release_quorum = 2
    body = _ready(env, rid)
    expires = datetime.fromisoformat(body["package"]["expires_at"].replace("Z", "+00:00"))
    now = datetime.now(UTC)
    assert timedelta(days=7) - timedelta(minutes=5) < expires - now <= timedelta(days=7)
    path = rr.store.get(rid).package_path
    zf = zipfile.ZipFile(path)
    assert (
        not any(n.startswith("images/") for n in zf.namelist())
        and "records/images.parquet" not in zf.namelist()
    )
    rr.clock = lambda: expires - timedelta(milliseconds=1)
    try:
        assert (
            rr.sweep() >= 0  # packages built earlier in this module expired a little earlier
            and rr.store.get(rid).package_status == "ready"
            and c.get(f"/v1/requests/{rid}/package", headers=H(env, "export")).status_code == 200
        )
        rr.clock = lambda: expires
        assert rr.sweep() == 1
    finally:
        rr.clock = lambda: datetime.now(UTC)
    import os

    assert not os.path.exists(path)
    after = c.get(f"/v1/requests/{rid}", headers=H(env, "export")).json()["package"]
    assert (after["status"], after["download"]) == ("expired", None)
    assert_error(c.get(f"/v1/requests/{rid}/package", headers=H(env, "export")), 410, "package_expired")
    (gone,) = [e for e in _audit(env, rid) if e.method == "DELETE"]
    assert (gone.role, gone.details["reason"], gone.key_id) == ("system", "expired", None)


def test_expired_on_start_up_and_on_download(env) -> None:
    c = env["client"]
    rr = env["app"].state.release_requests
    settings = env["app"].state.ctx.settings
    settings.release_quorum = 1
    try:
        ids = []
        for _ in range(2):
            rid = _submit(env, _cohort(env), domains=["conditions"], images=False, modalities=[])[
                "request_id"
            ]
            _review(env, rid, "steward1", "approve", "ok")
            ids.append(rid)
    finally:
        settings.release_quorum = 2
    for rid in ids:
        _ready(env, rid)
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    for rid in ids:
        rr.store.set(rid, expires_at=past)
    # a download after the expiry date (before any sweep) is refused and deletes the package
    assert_error(c.get(f"/v1/requests/{ids[0]}/package", headers=H(env, "export")), 410, "package_expired")
    # a server starting on the state file sweeps before it serves
    other = create_app(env["mart"], env["store"].path)
    try:
        assert rr.store.get(ids[1]).package_status == "expired"
    finally:
        other.state.ctx.close()


def test_download_once(env) -> None:
    c = env["client"]
    settings = env["app"].state.ctx.settings
    settings.release_quorum, settings.release_max_downloads = 1, 1
    try:
        rid = _submit(env, _cohort(env), domains=["conditions"], images=False, modalities=[])["request_id"]
        _review(env, rid, "steward2", "approve", "ok")
        pkg = _ready(env, rid)["package"]
        assert pkg["downloads_left"] == 1
        url = pkg["download"]
        head = c.get(url, headers={**H(env, "export"), "Range": "bytes=0-9"})
        assert head.status_code == 206  # does not reach the end: not a download yet
        rest = c.get(url, headers={**H(env, "export"), "Range": "bytes=10-"})
        assert (
            rest.status_code == 206
            and hashlib.sha256(head.content + rest.content).hexdigest() == pkg["sha256"]
        )
        after = c.get(f"/v1/requests/{rid}", headers=H(env, "export")).json()["package"]
        assert (after["status"], after["downloads"], after["downloads_left"]) == ("consumed", 1, 0)
        assert_error(c.get(url, headers=H(env, "export")), 410, "package_gone")
    finally:
        settings.release_quorum, settings.release_max_downloads = 2, None
    assert [e.details["reason"] for e in _audit(env, rid) if e.method == "DELETE"] == ["consumed"]


def test_a_failed_build_is_started_again(env) -> None:
    c = env["client"]
    rr = env["app"].state.release_requests
    rid = _submit(env, _cohort(env))["request_id"]
    assert_error(c.post(f"/v1/requests/{rid}/package", headers=H(env, "steward1")), 409, "not_approved")
    _review(env, rid, "steward1", "approve", "ok")
    _review(env, rid, "steward2", "approve", "ok")
    first = _ready(env, rid)["package"]
    first_members = _verified_members(c.get(first["download"], headers=H(env, "export")).content)
    assert_error(c.post(f"/v1/requests/{rid}/package", headers=H(env, "steward1")), 409, "package_not_failed")
    # as a restart in the middle of a build leaves it: a job another process failed, no file
    store = env["store"]
    dead = store.add_job(kind="release_package", cohort_id=None, key_id="key_x", fmt=None, owner="1:dead")
    assert store.fail_interrupted_jobs(owner="2:alive", lease_s=-1) == 1
    rr.store.set(rid, package_status="building", job_id=dead.job_id, package_path=None)
    assert c.get(f"/v1/requests/{rid}", headers=H(env, "export")).json()["package"]["status"] == "failed"
    err = assert_error(c.get(f"/v1/requests/{rid}/package", headers=H(env, "export")), 409, "package_failed")
    assert "POST /v1/requests/{id}/package" in err["message"]
    assert_error(c.post(f"/v1/requests/{rid}/package", headers=H(env, "researcher")), 403, "forbidden")
    r = c.post(f"/v1/requests/{rid}/package", headers=H(env, "steward2"))
    assert r.status_code == 202 and r.json()["package"]["job_id"] not in (first["job_id"], dead.job_id)
    again = _ready(env, rid)["package"]
    assert again["status"] == "ready"
    # the same members, every checksum verifying (not the same bytes: release.json says when it was built)
    rebuilt = c.get(again["download"], headers=H(env, "export"))
    assert rebuilt.status_code == 200
    assert _verified_members(rebuilt.content) == first_members


def _verified_members(package: bytes) -> list[str]:
    """The members of a package zip, after checking every member against its SHA256SUMS line."""
    zf = zipfile.ZipFile(io.BytesIO(package))
    sums = dict(reversed(line.split("  ", 1)) for line in zf.read("SHA256SUMS").decode().splitlines())
    for name, digest in sums.items():
        assert hashlib.sha256(zf.read(name)).hexdigest() == digest, name
    return sorted(zf.namelist())


def test_openapi_lists_the_request_endpoints(env) -> None:
    paths = env["client"].get("/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/v1/requests"])
    for p in ("/reviews", "/resubmit", "/disclosure", "/package"):
        assert f"/v1/requests/{{request_id}}{p}" in paths


# -- the CLI (over the same app: `connect` gives the app's own test client) ---------------------------


def test_cli_requests_walk(env, tmp_path, monkeypatch) -> None:
    import json

    from typer.testing import CliRunner

    from cohort_engine.api import request_client
    from cohort_engine.cli import app as cli

    monkeypatch.setattr(
        request_client,
        "connect",
        lambda server, key: TestClient(env["app"], headers={"Authorization": f"Bearer {key}"}),
    )
    runner = CliRunner()

    def run(who: str, *args: str):
        return runner.invoke(cli, ["requests", *args], env={"COHORT_API_KEY": env["keys"][who]})

    cid = _cohort(env)
    r = run(
        "researcher",
        "submit",
        "--cohort",
        cid,
        "--purpose",
        PURPOSE,
        "--organisation",
        ORG,
        "--domains",
        "conditions",
        "--modality",
        "CT",
        "--window=-30:30",
        "--json",
    )
    assert r.exit_code == 0, r.output
    req = json.loads(r.output)
    rid = req["request_id"]
    assert (req["images"], req["modalities"], req["window"]) == (True, ["CT"], {"start": -30, "end": 30})
    r = run("researcher", "review", rid, "approve", "--comment", "mine")
    assert r.exit_code == 2 and "This needs the admin or steward role" in r.output
    assert rid in run("steward1", "list", "--status", "submitted").output
    r = run("steward1", "review", rid, "approve", "--comment", "clear purpose")
    assert r.exit_code == 0 and "approvals 1/2" in r.output
    r = run("steward1", "review", rid, "approve", "--comment", "again")
    assert r.exit_code == 2 and "(409 already_reviewed)" in r.output
    r = run("steward2", "review", rid, "approve", "--comment", "agreed")
    assert r.exit_code == 0 and "approved" in r.output
    pkg = _ready(env, rid)["package"]
    shown = run("steward2", "show", rid).output
    assert f"purpose: {PURPOSE}" in shown and "round 1 approve by" in shown
    # the export client downloads, resuming from a partial file, and every checksum is verified
    out = tmp_path / "release.zip"
    whole = env["client"].get(pkg["download"], headers=H(env, "export")).content
    (tmp_path / "release.zip.part").write_bytes(whole[:1000])
    r = run("export", "download", rid, "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert (res["bytes"], res["sha256"], res["resumed_from"]) == (pkg["bytes"], pkg["sha256"], 1000)
    assert out.read_bytes() == whole and res["members_verified"] == len(zipfile.ZipFile(out).namelist()) - 1
    r = run("researcher", "download", rid, "--out", str(tmp_path / "x.zip"))
    assert r.exit_code == 2 and "(403 forbidden)" in r.output and not (tmp_path / "x.zip").exists()
    r = runner.invoke(cli, ["requests", "list"], env={"COHORT_API_KEY": ""})
    assert r.exit_code == 2 and "no API key" in r.output
