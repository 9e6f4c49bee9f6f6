"""The keyed result hash of a run, read in the same statement as the funnel's digests (issue 14).

Why this exists: a run's ``result_hash`` used to be computed in Python from the cohort's person ids,
fetched row by row; it now comes from the person-set text that DuckDB collects beside the digests
(``api.charts.with_person_set_text``), so the ids never come back. A release compares the stored hash
with ``current_hash`` (the persons re-read row by row), so the two must agree to the byte: checked
here on a cohort with persons, on an empty one and on one with several funnel steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from cohort_engine.api.app import create_app
from cohort_engine.api.charts import with_person_digests, with_person_set_text
from cohort_engine.api.disclosure import EMPTY_DIGEST, digest_of_text, person_set_digest, person_set_text
from cohort_engine.api.state import StateStore
from cohort_engine.spec import CohortSpec
from tests.api_fixtures import SEED_COUNT, build_tiny_mart

SEED = {
    "index": {"domain": "condition", "date_range": {"start": "2023-10-01", "end": "2023-10-10"}},
    "criteria": [
        {
            "label": "surgery",
            "domain": "procedure",
            "concepts": {"concept_ids": [2001, 2002, 2003]},
            "window": {"start": 7, "end": 14},
        }
    ],
}
#: nobody has an appendectomy before a hypertension diagnosis: an empty cohort
EMPTY = {
    "index": {"domain": "condition", "concepts": {"concept_ids": [1003]}},
    "criteria": [
        {
            "label": "appendix",
            "domain": "procedure",
            "concepts": {"concept_ids": [2004]},
            "window": {"start": -30, "end": 0},
        }
    ],
}
#: women (even ids) with a diagnosis in October 2023 and a CABG/PCI/stent 7–14 days after: three steps
WOMEN = {**SEED, "demographics": {"sexes": ["female"]}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("hash")
    app = create_app(build_tiny_mart(root / "mart.duckdb"))
    store: StateStore = app.state.ctx.state
    key = store.create_key("steward", "s")[1]
    with TestClient(app) as client:
        yield {"client": client, "app": app, "store": store, "h": {"Authorization": f"Bearer {key}"}}


def _run(served: dict[str, Any], spec: dict[str, Any]) -> tuple[str, list[int], int]:
    """The stored result hash of a run of ``spec``, its persons (read by hand) and its shown count."""
    d = served["client"].post("/v1/cohorts", json={"spec": spec}, headers=served["h"]).json()
    assert d["status"] == "ok", d
    rec = served["store"].get_cohort(d["cohort_id"])
    assert rec is not None and rec.result_hash is not None
    ctx = served["app"].state.ctx
    with ctx.pool.connection() as con:
        compiled = ctx.service.compile(rec, con)
        ids = [int(r[0]) for r in con.execute(f"SELECT person_id FROM ({compiled.cohort_sql})").fetchall()]
        assert ctx.service.current_hash(con, compiled) == rec.result_hash
    return rec.result_hash, ids, rec.person_count


@pytest.mark.parametrize(
    "spec,persons",
    [(SEED, list(range(1, SEED_COUNT + 1))), (EMPTY, []), (WOMEN, list(range(2, SEED_COUNT + 1, 2)))],
    ids=["seed", "empty", "three-steps"],
)
def test_the_stored_hash_is_the_hash_of_the_persons(
    served: dict[str, Any], spec: dict, persons: list
) -> None:
    got, ids, count = _run(served, spec)
    assert sorted(ids) == persons and count == len(persons)
    assert got == served["app"].state.ctx.service.result_hash(persons)
    CohortSpec.model_validate(spec)  # the specs above are real specs


def test_person_set_text_is_what_the_digest_hashes() -> None:
    ids = [12, 3, 3, 100, 7]
    assert person_set_text(ids) == "3,7,12,100"
    assert digest_of_text(person_set_text(ids)) == person_set_digest(ids)
    assert digest_of_text("") == digest_of_text(None) == person_set_digest([]) == EMPTY_DIGEST


def test_the_text_column_follows_the_digests() -> None:
    """One more column, last, for the last digested count; every digest as ``with_person_digests``."""
    sql = (
        "SELECT COUNT(DISTINCT e.person_id) AS step_0, "
        "COUNT(DISTINCT CASE WHEN e.reached >= 1 THEN e.person_id END) AS step_1 FROM cohort_eval AS e"
    )
    digests = with_person_digests(sql)
    texted = with_person_set_text(sql)
    assert texted.startswith(digests.split(" FROM ")[0] + ", ")
    assert texted.endswith(
        "COALESCE(ARRAY_TO_STRING(ARRAY_AGG(DISTINCT CASE WHEN e.reached >= 1 THEN e.person_id END "
        "ORDER BY CASE WHEN e.reached >= 1 THEN e.person_id END), ','), '') AS person_set_text "
        "FROM cohort_eval AS e"
    )
    with pytest.raises(ValueError, match="COUNT"):
        with_person_set_text("SELECT COUNT(*) AS n FROM cohort_eval AS e")


def test_digests_and_text_agree_in_duckdb() -> None:
    """DuckDB's text of a set equals Python's, and its digest is the MD5 of that text (empty too)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE cohort_eval AS "
        "SELECT * FROM (VALUES (5, 1), (40, 0), (3, 1), (1000, 1)) AS t(person_id, reached)"
    )
    sql = (
        "SELECT COUNT(DISTINCT person_id) AS step_0, "
        "COUNT(DISTINCT CASE WHEN reached >= 1 THEN person_id END) AS step_1, "
        "COUNT(DISTINCT CASE WHEN reached >= 2 THEN person_id END) AS step_2 FROM cohort_eval"
    )
    row = con.execute(with_person_set_text(sql)).fetchall()[0]
    assert row[:3] == (person_set_digest([5, 40, 3, 1000]), person_set_digest([5, 3, 1000]), EMPTY_DIGEST)
    assert row[3] == ""
    sql2 = sql.rsplit(",", 1)[0] + " FROM cohort_eval"
    row2 = con.execute(with_person_set_text(sql2)).fetchall()[0]
    assert row2[2] == "3,5,1000" and digest_of_text(row2[2]) == row2[1]
