"""Code-set import (``POST /v1/codesets/import``): codes of every vocabulary resolved through the mart's
``concept`` table with an exact report of the rows that did not resolve, versions (each change a new
one, old ones readable, a run records the versions it used) and sharing between keys."""

from __future__ import annotations

import duckdb
import pytest
from fastapi.testclient import TestClient

from cohort_engine.api.app import create_app
from cohort_engine.api.codesets import vocabulary_id
from cohort_engine.api.state import StateStore
from tests.api_fixtures import build_tiny_mart

#: Concepts added to the tiny mart, one per vocabulary an import reads (ATC left out: "not_in_mart").
EXTRA = [
    (3001, "Acute myocardial infarction (KCD)", "Condition", "KCD7", "I21.9"),
    (3002, "Myocardial infarction", "Condition", "SNOMED", "22298006"),
    (3003, "Troponin T", "Measurement", "LOINC", "6598-7"),
    (3004, "aspirin 100 MG Oral Tablet", "Drug", "RxNorm", "243670"),
    (3005, "Coronary artery bypass (EDI)", "Procedure", "EDI", "O1641"),
]

CODES = (
    "code,vocabulary\n"
    "I21,ICD10CM\n"  # row 2
    "I251,ICD-10-CM\n"  # row 3: dotless → I25.1
    "I21.9,KCD-7\n"  # row 4
    "22298006,SNOMED CT\n"  # row 5
    "6598-7,LOINC\n"  # row 6
    "243670,RxNorm\n"  # row 7
    "O1641,EDI\n"  # row 8
    "B01AC06,ATC\n"  # row 9: no ATC in this mart
    "Z99.9,ICD10CM\n"  # row 10: not a concept
    "12345,MYVOCAB\n"  # row 11: unknown vocabulary
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("codeset-import")
    mart = build_tiny_mart(root / "mart.duckdb")
    con = duckdb.connect(str(mart))
    try:
        for cid, name, domain, vocab, code in EXTRA:
            con.execute(
                "INSERT INTO concept VALUES "
                "(?, ?, ?, ?, 'Code', 'S', ?, DATE '2000-01-01', DATE '2099-12-31', NULL)",
                [cid, name, domain, vocab, code],
            )
    finally:
        con.close()
    app = create_app(mart)
    store: StateStore = app.state.ctx.state
    keys = {who: store.create_key(role, who)[1] for who, role in [("r1", "researcher"), ("r2", "researcher")]}
    with TestClient(app) as client:
        yield {"client": client, "keys": keys, "store": store}


def H(env, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['keys'][who]}"}


def imp(env, who: str, name: str, content: str, filename: str = "codes.csv", **form: str):
    return env["client"].post(
        "/v1/codesets/import",
        headers=H(env, who),
        data={"name": name, **form},
        files={"file": (filename, content.encode(), "text/csv")},
    )


def test_vocabulary_names() -> None:
    assert [
        vocabulary_id(v) for v in ("ICD-10-CM", "kcd-7", "SNOMED CT", "rxnorm", "Atc", "EDI", "ICD9")
    ] == [
        "ICD10CM",
        "KCD7",
        "SNOMED",
        "RxNorm",
        "ATC",
        "EDI",
        None,
    ]


def test_import_resolves_every_vocabulary_and_reports_the_rest(env) -> None:
    r = imp(env, "r1", "acs", CODES, description="ACS markers")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["codeset"]["concept_ids"] == [1001, 1002, 3001, 3002, 3003, 3004, 3005]
    assert body["codeset"]["version"] == 1 and body["codeset"]["description"] == "ACS markers"
    assert body["rows"] == 10 and body["resolved"] == 7 and body["unknown_total"] == 3
    assert body["unknown"] == [
        {"row": 9, "vocabulary": "ATC", "code": "B01AC06", "reason": "not_in_mart"},
        {"row": 10, "vocabulary": "ICD10CM", "code": "Z99.9", "reason": "not_a_concept"},
        {"row": 11, "vocabulary": "MYVOCAB", "code": "12345", "reason": "unknown_vocabulary"},
    ]
    assert body["by_vocabulary"] == {"EDI": 1, "ICD10CM": 2, "KCD7": 1, "LOINC": 1, "RxNorm": 1, "SNOMED": 1}
    assert r.headers["location"] == "/v1/codesets/acs"


def test_each_change_is_a_new_version_and_old_ones_stay_readable(env) -> None:
    c = env["client"]
    assert imp(env, "r1", "mi", "code,vocabulary\nI21,ICD10CM\n").json()["codeset"]["version"] == 1
    r = imp(env, "r1", "mi", "code,vocabulary\nI21,ICD10CM\nI25.1,ICD10CM\n")
    assert r.json()["codeset"]["version"] == 2 and r.json()["codeset"]["concept_ids"] == [1001, 1002]
    r = c.put("/v1/codesets/mi", headers=H(env, "r1"), json={"concept_ids": [1003]})
    assert r.status_code == 200 and r.json()["version"] == 3
    versions = c.get("/v1/codesets/mi/versions", headers=H(env, "r1")).json()
    assert [(v["version"], v["concept_ids"]) for v in versions] == [
        (1, [1001]),
        (2, [1001, 1002]),
        (3, [1003]),
    ]
    v1 = c.get("/v1/codesets/mi/versions/1", headers=H(env, "r2")).json()  # shared: any key reads it
    assert v1["concept_ids"] == [1001] and v1["name"] == "mi"
    assert c.get("/v1/codesets/mi/versions/9", headers=H(env, "r1")).status_code == 404
    # deleted and made again: the numbering goes on, the old versions stay
    assert c.delete("/v1/codesets/mi", headers=H(env, "r1")).status_code == 204
    assert imp(env, "r1", "mi", "code,vocabulary\nI10,ICD10CM\n").json()["codeset"]["version"] == 4
    assert len(c.get("/v1/codesets/mi/versions", headers=H(env, "r1")).json()) == 4


def test_shared_sets_are_changed_only_by_their_owner(env) -> None:
    assert imp(env, "r1", "owned", "code,vocabulary\nI21,ICD10CM\n").status_code == 201
    names = [s["name"] for s in env["client"].get("/v1/codesets", headers=H(env, "r2")).json()]
    assert "owned" in names
    r = imp(env, "r2", "owned", "code,vocabulary\nI10,ICD10CM\n")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert env["store"].get_codeset("owned").concept_ids == [1001]


def test_a_run_records_the_versions_it_used(env) -> None:
    c = env["client"]
    assert imp(env, "r1", "dx", "code,vocabulary\nI21,ICD10CM\n").status_code == 201
    assert imp(env, "r1", "dx", "code,vocabulary\nI21,ICD10CM\nI25.1,ICD10CM\n").status_code == 201
    spec = {"index": {"domain": "condition", "concepts": {"codeset": "dx"}}}
    r = c.post("/v1/cohorts", headers=H(env, "r1"), json={"spec": spec})
    assert r.status_code == 201, r.text
    cid = r.json()["cohort_id"]
    assert c.get(f"/v1/cohorts/{cid}/codesets", headers=H(env, "r1")).json() == {"dx": 2}
    assert imp(env, "r1", "dx", "code,vocabulary\nI10,ICD10CM\n").json()["codeset"]["version"] == 3
    assert c.get(f"/v1/cohorts/{cid}/codesets", headers=H(env, "r1")).json() == {"dx": 2}
    assert c.get(f"/v1/cohorts/{cid}/codesets", headers=H(env, "r2")).status_code == 404


@pytest.mark.parametrize(
    ("content", "form", "status", "code", "fragment"),
    [
        ("code,vocabulary\nZ99,ICD10CM\n", {}, 422, "no_known_codes", "None of the 1 codes"),
        ("code\nI21\n", {}, 422, "missing_column", "no vocabulary column named “vocabulary”"),
        ("code,vocabulary\nI21,\n", {}, 422, "empty_code", "Row 2 has no code or no vocabulary"),
        ("code,vocabulary\n", {}, 422, "no_rows", "no codes"),
        ("", {}, 422, "empty_file", "The file is empty"),
        ("icd,vocab\nI21,ICD10CM\n", {"code_column": "icd", "vocabulary_column": "vocab"}, 201, None, ""),
    ],
)
def test_bad_imports_are_refused_and_store_nothing(env, content, form, status, code, fragment) -> None:
    before = len(env["store"].list_codesets())
    r = imp(env, "r1", f"bad-{status}-{len(content)}", content, **form)
    assert r.status_code == status, r.text
    if code:
        assert r.json()["error"]["code"] == code and fragment in r.json()["error"]["message"]
        assert len(env["store"].list_codesets()) == before
