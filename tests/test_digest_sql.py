"""The SQL person-set digest (``api.disclosure.PERSON_SET_DIGEST_SQL``) is the Python one, on both engines.

Why: a count's noise is keyed by the digest of the persons behind it (docs/PRIVACY.md), so a faster
SQL shape is only allowed if it gives, byte for byte, the digest the old shape and
:func:`person_set_digest` give — otherwise every stored run's shown numbers would change (and the
funnel's steps would stop matching the charts' cells for the same persons). Checked on hand-picked
sets (empty, one person, duplicates, NULLs, ids whose text order is not their number order), on every
per-concept person set of the demo mart, on a real ask's funnel, and on a real PostgreSQL server
through the engine's own DuckDB → PostgreSQL rendering.
"""

from __future__ import annotations

from collections import defaultdict

import duckdb
import psycopg
import pytest

from cohort_engine.api import disclosure
from cohort_engine.api.charts import with_person_digests
from cohort_engine.api.disclosure import EMPTY_DIGEST, digest_sql, person_set_digest
from cohort_engine.nlq.parser import parse
from cohort_engine.pipeline import CohortRead, run_spec_compiled
from cohort_engine.sql_guard.pg_mart import PgMart
from cohort_engine.sql_guard.runner import open_mart
from tests.conftest import SEED_EN
from tests.pg_server import postgres_server

#: The shape used before issue 14: what every stored run's digests were computed with.
OLD_DIGEST_SQL = "COALESCE(md5(array_to_string(list_sort(list_distinct(list({expr}))), ',')), md5(''))"
PG_PORT = 55451

#: (name, the ids written as rows — ``None`` is a NULL row — the set they mean).
SETS: list[tuple[str, list[int | None], list[int]]] = [
    ("empty", [], []),
    ("only-nulls", [None, None], []),
    ("one-person", [7], [7]),
    ("one-person-repeated", [7, 7, 7], [7]),
    ("number-not-text-order", [10, 9, 100, 2], [2, 9, 10, 100]),
    ("separator-keeps-12-apart-from-1-2", [12], [12]),
    ("pair-1-2", [2, 1], [1, 2]),
    ("duplicates-and-nulls", [5, None, 3, 5, 3, None, 1], [1, 3, 5]),
    ("large-ids", [2**62, 1, 2**40], [1, 2**40, 2**62]),
    ("many", [i * 37 % 1001 for i in range(3000)], sorted({i * 37 % 1001 for i in range(3000)})),
]


def _rows(sets: list[tuple[str, list[int | None], list[int]]]) -> list[tuple[str, int | None, bool]]:
    """One row per written id, plus one excluded row per set (its id must not count)."""
    out: list[tuple[str, int | None, bool]] = []
    for name, ids, _ in sets:
        out += [(name, i, True) for i in ids]
        out.append((name, 999_999_999, False))
    return out


#: The expression the funnel counts with: a CASE that leaves NULL for rows outside the step.
KEPT = "CASE WHEN keep THEN person_id END"


def _by_set(rows: list[tuple]) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for r in rows}


def test_python_reference_of_the_hand_picked_sets() -> None:
    assert person_set_digest([]) == EMPTY_DIGEST == "d41d8cd98f00b204e9800998ecf8427e"
    assert person_set_digest([10, 9, 100, 2]) == person_set_digest([2, 9, 10, 100])
    assert person_set_digest([12]) != person_set_digest([1, 2])


@pytest.mark.parametrize("name,ids,members", SETS, ids=[s[0] for s in SETS])
def test_sql_digest_of_one_set_equals_python_and_the_old_sql(
    name: str, ids: list[int | None], members: list[int]
) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (set_id VARCHAR, person_id BIGINT, keep BOOLEAN)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", _rows([(name, ids, members)]))
    new = con.execute(f"SELECT {digest_sql(KEPT)} FROM t").fetchone()
    old = con.execute(f"SELECT {OLD_DIGEST_SQL.format(expr=KEPT)} FROM t").fetchone()
    assert new == old == (person_set_digest(members),)


def test_grouped_digests_equal_python_for_every_set_at_once() -> None:
    """GROUP BY gives each group its own set (the imaging summary's rows per modality are read so)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (set_id VARCHAR, person_id BIGINT, keep BOOLEAN)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", _rows(SETS))
    got = _by_set(con.execute(f"SELECT set_id, {digest_sql(KEPT)} FROM t GROUP BY set_id").fetchall())
    assert got == {name: person_set_digest(members) for name, _, members in SETS}


def test_no_rows_at_all_is_the_empty_digest() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (person_id BIGINT)")
    assert con.execute(f"SELECT {digest_sql('person_id')} FROM t").fetchone() == (EMPTY_DIGEST,)


def _demo_person_sets(demo: duckdb.DuckDBPyConnection) -> dict[int, set[int]]:
    """Every condition concept's set of persons in the demo mart (Python side of the comparison)."""
    sets: dict[int, set[int]] = defaultdict(set)
    for concept_id, person_id in demo.execute(
        "SELECT condition_concept_id, person_id FROM condition_occurrence"
    ).fetchall():
        sets[int(concept_id)].add(int(person_id))
    return sets


def test_every_condition_concepts_persons_in_the_demo_mart(demo) -> None:
    sets = _demo_person_sets(demo)
    assert len(sets) >= 20
    want = {str(c): person_set_digest(s) for c, s in sets.items()}
    for template in (digest_sql("person_id"), OLD_DIGEST_SQL.format(expr="person_id")):
        rows = demo.execute(
            f"SELECT CAST(condition_concept_id AS VARCHAR), {template} FROM condition_occurrence "
            "GROUP BY condition_concept_id"
        ).fetchall()
        assert _by_set(rows) == want


def test_a_real_asks_funnel_digests_are_its_persons(demo) -> None:
    """The digests ``Service.person_tokens`` seals, read from the seed question's own evaluation: the
    last step's is the digest of the cohort's persons, and every step's equals the old shape's."""
    parsed = parse(SEED_EN)
    assert parsed.spec is not None

    def old_shape(read: CohortRead) -> tuple:
        saved = disclosure.PERSON_SET_DIGEST_SQL
        disclosure.PERSON_SET_DIGEST_SQL = OLD_DIGEST_SQL
        try:
            sql = with_person_digests(read.attrition_sql)
        finally:
            disclosure.PERSON_SET_DIGEST_SQL = saved
        assert "LIST_SORT" in sql
        return tuple(read.fetch(sql)[0])

    def both(read: CohortRead) -> tuple[tuple, tuple]:
        return tuple(read.fetch(with_person_digests(read.attrition_sql))[0]), old_shape(read)

    out = run_spec_compiled(parsed.spec, demo, parsed=parsed, include_person_ids=True, on_session=both)
    res = out.answer
    assert res.status == "ok" and [a.persons for a in res.attrition] == [1476, 16]
    new, old = out.extra
    assert new == old
    assert len(new) == 2 and len(set(new)) == 2
    assert new[-1] == person_set_digest(res.person_ids or [])


@pytest.mark.postgres
def test_postgres_renders_and_runs_the_same_digests(demo) -> None:
    """PostgreSQL has no ``ARRAY_DISTINCT`` (what the old shape rendered to); the new one renders as
    ``ARRAY_AGG(DISTINCT … ORDER BY …)`` and, run through the engine's PostgreSQL mart, gives the same
    digests as Python for the hand-picked sets and the demo's per-concept sets."""
    demo_sets = _demo_person_sets(demo)
    demo_rows = [(f"c{c}", p, True) for c, s in demo_sets.items() for p in s]
    want = {name: person_set_digest(members) for name, _, members in SETS}
    want |= {f"c{c}": person_set_digest(s) for c, s in demo_sets.items()}
    with postgres_server(port=PG_PORT) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE person (person_id BIGINT)")
            conn.execute("CREATE TABLE concept (concept_id BIGINT)")
            conn.execute("CREATE TABLE t (set_id TEXT, person_id BIGINT, keep BOOLEAN)")
            with conn.cursor().copy("COPY t FROM STDIN") as copy:
                for row in _rows(SETS) + demo_rows:
                    copy.write_row(row)
        parts = dict(item.split("=", 1) for item in dsn.split())
        mart = open_mart(
            f"postgresql://postgres@localhost/postgres?host={parts['host']}&port={parts['port']}"
        )
        try:
            assert isinstance(mart, PgMart)
            got = _by_set(
                mart.execute(f"SELECT set_id, {digest_sql(KEPT)} FROM t GROUP BY set_id").fetchall()
            )
            empty = mart.execute(f"SELECT {digest_sql('person_id')} FROM t WHERE false").fetchone()
        finally:
            mart.close()
    assert got == want
    assert empty == (EMPTY_DIGEST,)
