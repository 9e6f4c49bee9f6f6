"""The per-mart file cache of the resolver's concept-name index (``schema_catalog.name_keys_cache``):
it holds exactly the table the resolver builds, is used only for the mart (and resolver) it was
written from, never fails an ask, and `cohort ask` answers the same with it as without it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cohort_engine.schema_catalog import name_keys_cache
from cohort_engine.schema_catalog.resolve import Vocabulary
from cohort_engine.seed import SEED_EN
from cohort_engine.sql_guard.runner import open_mart
from tests.api_fixtures import build_tiny_mart


@pytest.fixture
def mart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COHORT_ENGINE_CACHE", str(tmp_path / "cache"))
    return build_tiny_mart(tmp_path / "mart.duckdb")


def _built(mart: Path) -> list[tuple]:
    """The index as the resolver builds it on a fresh connection."""
    con = open_mart(mart)
    try:
        table = Vocabulary.of(con).name_keys()
        assert table == Vocabulary.NAME_KEYS
        return sorted(con.execute(f"SELECT k, concept_id, src FROM {table}").fetchall())
    finally:
        con.close()


def _saved(mart: Path) -> Path:
    con = open_mart(mart)
    try:
        Vocabulary.of(con).name_keys()
        assert name_keys_cache.save(con, mart)
    finally:
        con.close()
    path = name_keys_cache.cache_file(mart)
    assert path is not None and path.is_file()
    return path


def _loaded(mart: Path) -> list[tuple] | None:
    con = open_mart(mart)
    try:
        if not name_keys_cache.load(con, mart):
            return None
        index = Vocabulary.of(con).name_index  # the resolver's lookups go to the file's index
        assert isinstance(index, name_keys_cache.CachedNameIndex)
        return index.rows()
    finally:
        con.close()


def test_the_cache_holds_exactly_what_the_resolver_builds(mart: Path) -> None:
    built = _built(mart)
    # every standard concept's name, lower case, without spaces, hyphens, dots, commas or brackets
    assert built == [
        ("acutemyocardialinfarction", 1001, "n"),
        ("atheroscleroticheartdiseaseofnativecoronaryartery", 1002, "n"),
        ("coronaryarterybypassgraft", 2001, "n"),
        ("essentialprimaryhypertension", 1003, "n"),
        ("female", 8532, "n"),
        ("insertionofdrugelutingcoronaryarterystent", 2003, "n"),
        ("male", 8507, "n"),
        ("otherappendectomy", 2004, "n"),
        ("percutaneoustransluminalcoronaryangioplasty", 2002, "n"),
    ]
    assert _loaded(mart) is None  # nothing cached yet
    path = _saved(mart)
    assert _loaded(mart) == built
    with duckdb.connect() as con:
        columns = [
            c[0] for c in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        ]
    assert columns == ["k", "concept_id", "src"]  # vocabulary only: no column about a person
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_lookups_through_the_cached_index_match_the_temp_tables(mart: Path) -> None:
    """The resolver answers a name lookup the same from the file's index as from its own table."""
    _saved(mart)
    names = ["Acute myocardial infarction", "coronary artery bypass graft", "CABG", "other appendectomy"]
    answers = []
    for cached in (False, True):
        con = open_mart(mart)
        try:
            if cached:
                assert name_keys_cache.load(con, mart)
            vocab = Vocabulary.of(con)
            assert (vocab.name_index is not None) is cached
            answers.append(
                [
                    (m.concept_id, m.method)
                    for domains in (("Condition",), ("Procedure",), ("Condition", "Procedure"))
                    for m in vocab.by_names(names, domains, "exact")
                ]
            )
        finally:
            con.close()
    assert (
        answers[0]
        == answers[1]
        == [
            (1001, "exact"),
            (2001, "exact"),
            (2004, "exact"),
            (1001, "exact"),
            (2001, "exact"),
            (2004, "exact"),
        ]
    )


def test_a_changed_mart_is_not_served_the_old_index(mart: Path) -> None:
    old = _saved(mart)
    st = mart.stat()
    os.utime(mart, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert name_keys_cache.cache_file(mart) != old
    assert _loaded(mart) is None
    new = _saved(mart)
    assert new.is_file() and not old.exists()  # the stale file of the same mart is removed


def test_the_cache_keeps_a_bounded_number_of_files(mart: Path, tmp_path: Path) -> None:
    folder = name_keys_cache.cache_dir()
    folder.mkdir(parents=True)
    others = [folder / f"{i:016x}-{'0' * 32}.parquet" for i in range(name_keys_cache.KEEP + 4)]
    for age, f in enumerate(others):
        f.write_bytes(b"x")
        os.utime(f, ns=(10**18 - age * 10**9, 10**18 - age * 10**9))  # others[0] is the newest
    path = _saved(mart)
    kept = sorted(folder.glob("*.parquet"))
    assert len(kept) == name_keys_cache.KEEP
    assert kept == sorted([path, *others[: name_keys_cache.KEEP - 1]])


def test_an_unreadable_cache_costs_the_rebuild_not_the_answer(mart: Path) -> None:
    path = _saved(mart)
    path.write_bytes(b"not parquet")
    assert _loaded(mart) is None
    assert name_keys_cache.cache_file("postgresql://user@localhost:5432/omop") is None
    assert name_keys_cache.cache_file(mart.parent / "missing.duckdb") is None


def test_cohort_ask_answers_the_same_with_the_cache(mart: Path, tmp_path: Path) -> None:
    env = {**os.environ, "COHORT_ENGINE_CACHE": str(tmp_path / "cache")}
    argv = [
        sys.executable,
        "-c",
        "import sys; from cohort_engine.cli import app; sys.argv[0] = 'cohort'; app()",
        "ask",
        "--json",
        "--person-ids",
        "--mart",
        str(mart),
        SEED_EN,
    ]
    path = name_keys_cache.cache_file(mart)
    assert path is not None and not path.exists()
    answers, written = [], []
    for _ in range(2):  # the first builds the index and writes the file, the second reads it
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        answers.append(json.loads(done.stdout))
        written.append(path.stat().st_mtime_ns)
    assert written[0] == written[1]  # read, not rebuilt and rewritten
    assert answers[0]["status"] == "ok" and answers[0]["person_ids"]
    assert answers[0] == answers[1]  # the same persons, count, SQL and read-back
