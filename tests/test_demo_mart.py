"""Demo mart generator: determinism, DDL conformance, referential sanity, vocabulary, seed scenario.

Why these tests: every other stage is developed and evaluated against this mart, so a silent change
of its shape or contents would break them in confusing ways.  Marts are small (2,000 persons)
except for the seed scenario, which is defined at 20,000 persons / seed 42.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cohort_engine.schema_catalog.ddl import omop_ddl
from cohort_engine.schema_catalog.demo import generate_mart
from cohort_engine.schema_catalog.tables import TABLES

SMALL = 2_000
EVENT_DATES: dict[str, list[str]] = {
    "visit_occurrence": ["visit_start_date", "visit_end_date"],
    "condition_occurrence": ["condition_start_date"],
    "procedure_occurrence": ["procedure_date"],
    "drug_exposure": ["drug_exposure_start_date", "drug_exposure_end_date"],
    "measurement": ["measurement_date"],
    "observation": ["observation_date"],
    "note": ["note_date"],
    "image_occurrence": ["image_occurrence_date"],
    "death": ["death_date"],
}
VISIT_LINKED: dict[str, str] = {
    "condition_occurrence": "condition_start_date",
    "procedure_occurrence": "procedure_date",
    "drug_exposure": "drug_exposure_start_date",
    "measurement": "measurement_date",
    "observation": "observation_date",
    "note": "note_date",
    "image_occurrence": "image_occurrence_date",
}
#: Every (table, column) holding a concept id that the population uses.
CONCEPT_COLUMNS: list[tuple[str, str]] = [
    (t.name, c.name)
    for t in TABLES
    if not t.name.startswith(("concept", "vocabulary"))
    for c in t.columns
    if c.name.endswith("_concept_id")
]


def _checksums(path: Path) -> dict[str, tuple[int, int]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
            ).fetchall()
        ]
        return {
            n: con.execute(f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {n} t").fetchall()[0]
            for n in names
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def small_mart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_mart(tmp_path_factory.mktemp("small"), SMALL, 7)


@pytest.fixture(scope="module")
def con(small_mart: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(str(small_mart), read_only=True)
    yield c
    c.close()


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchall()[0][0]


@pytest.mark.slow
def test_generate_returns_path_and_reports_progress(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    path = generate_mart(tmp_path, 300, 1, lambda stage, f: seen.append((stage, f)))
    assert path == tmp_path / "mart.duckdb" and path.exists()
    assert seen[0][0] == "vocabulary" and seen[-1] == ("done", 1.0)
    again = generate_mart(tmp_path, 300, 1)  # overwrites in place
    assert again == path and not list(tmp_path.glob(".mart*"))


@pytest.mark.slow
def test_deterministic_per_seed(small_mart: Path, tmp_path: Path) -> None:
    first = _checksums(small_mart)
    same = _checksums(generate_mart(tmp_path / "same", SMALL, 7))
    other = _checksums(generate_mart(tmp_path / "other", SMALL, 8))
    assert first == same
    for table in (
        "person",
        "visit_occurrence",
        "condition_occurrence",
        "measurement",
        "note",
        "image_occurrence",
        "demo_identity",
    ):
        assert first[table] != other[table], table
    for table in ("concept", "concept_ancestor", "concept_synonym", "vocabulary"):
        assert first[table] == other[table], table


def test_tables_match_the_ddl(con: duckdb.DuckDBPyConnection) -> None:
    ref = duckdb.connect()
    ref.execute(omop_ddl())
    q = (
        "SELECT table_name, column_name, data_type, is_nullable, ordinal_position FROM "
        "information_schema.columns "
        "WHERE table_name IN ({}) ORDER BY ALL"
    ).format(", ".join(f"'{t.name}'" for t in TABLES))
    assert con.execute(q).fetchall() == ref.execute(q).fetchall()
    identity = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'demo_identity' "
        "ORDER BY ordinal_position"
    ).fetchall()
    assert [r[0] for r in identity] == [
        "person_id",
        "family_name",
        "given_name",
        "name_hangul",
        "address",
        "phone",
    ]
    for t in TABLES:
        if t.name not in ("concept", "concept_ancestor", "concept_synonym", "vocabulary"):
            assert _count(con, f"SELECT count(*) FROM {t.name}") > 0, t.name


def test_every_event_belongs_to_a_person_inside_the_observation_period(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert _count(con, "SELECT count(*) - count(DISTINCT person_id) FROM observation_period") == 0
    assert _count(con, "SELECT count(*) FROM person p ANTI JOIN observation_period o USING (person_id)") == 0
    for table, cols in EVENT_DATES.items():
        assert _count(con, f"SELECT count(*) FROM {table} e ANTI JOIN person USING (person_id)") == 0, table
        for col in cols:
            outside = _count(
                con,
                f"""SELECT count(*) FROM {table} e JOIN observation_period o USING (person_id)
                WHERE e.{col} NOT BETWEEN o.observation_period_start_date AND o.observation_period_end_date
                   OR e.{col} NOT BETWEEN DATE '2019-01-01' AND DATE '2025-06-30'""",
            )
            assert outside == 0, f"{table}.{col}"
            after_death = _count(
                con,
                f"SELECT count(*) FROM {table} e JOIN death d USING (person_id) WHERE e.{col} > d.death_date",
            )
            assert after_death == 0, f"{table}.{col}"
            before_birth = _count(
                con,
                f"SELECT count(*) FROM {table} e JOIN person p USING (person_id) "
                f"WHERE e.{col} < CAST(p.birth_datetime AS DATE)",
            )
            assert before_birth == 0, f"{table}.{col}"


def test_visit_links_are_valid(con: duckdb.DuckDBPyConnection) -> None:
    for table, col in VISIT_LINKED.items():
        bad = _count(
            con,
            f"""SELECT count(*) FROM {table} e LEFT JOIN visit_occurrence v USING (visit_occurrence_id)
            WHERE v.visit_occurrence_id IS NULL OR v.person_id <> e.person_id
               OR e.{col} NOT BETWEEN v.visit_start_date AND v.visit_end_date""",
        )
        assert bad == 0, table
    assert (
        _count(
            con,
            "SELECT count(*) FROM visit_occurrence WHERE visit_end_date < visit_start_date "
            "OR visit_end_datetime < visit_start_datetime",
        )
        == 0
    )
    assert (
        _count(
            con,
            """SELECT count(*) FROM visit_occurrence v JOIN visit_occurrence p
        ON p.visit_occurrence_id = v.preceding_visit_occurrence_id
        WHERE p.person_id <> v.person_id OR p.visit_start_date > v.visit_start_date""",
        )
        == 0
    )
    assert (
        _count(
            con,
            "SELECT count(*) FROM visit_occurrence WHERE visit_concept_id = 9201 "
            "AND visit_end_date > visit_start_date + 30",
        )
        == 0
    )


def test_images_link_to_imaging_procedures(con: duckdb.DuckDBPyConnection) -> None:
    assert (
        _count(
            con,
            """SELECT count(*) FROM image_occurrence i LEFT JOIN procedure_occurrence p
        USING (procedure_occurrence_id) WHERE p.person_id IS DISTINCT FROM i.person_id
        OR p.procedure_date <> i.image_occurrence_date OR p.visit_occurrence_id <> i.visit_occurrence_id""",
        )
        == 0
    )
    assert (
        _count(
            con,
            "SELECT count(*) FROM image_occurrence WHERE NOT starts_with(image_study_uid, "
            "'1.2.826.0.1.3680043.10.543.') OR length(image_series_uid) > 64",
        )
        == 0
    )
    assert _count(con, "SELECT count(*) - count(DISTINCT image_series_uid) FROM image_occurrence") == 0
    pairs = set(
        con.execute("""SELECT c.concept_code, i.modality_source_value FROM image_occurrence i
        JOIN procedure_occurrence p USING (procedure_occurrence_id)
        JOIN concept c ON c.concept_id = p.procedure_concept_id""").fetchall()
    )
    assert {("88.56", "XA"), ("87.41", "CT"), ("88.72", "US"), ("87.44", "DX")} <= pairs
    assert all(m in {"CT", "MR", "XA", "US", "CR", "DX"} for _, m in pairs)


def test_persons_have_mrns_and_identities(con: duckdb.DuckDBPyConnection) -> None:
    assert (
        _count(
            con, "SELECT count(*) FROM person WHERE NOT regexp_full_match(person_source_value, 'H[0-9]{8}')"
        )
        == 0
    )
    assert _count(con, "SELECT count(*) - count(DISTINCT person_source_value) FROM person") == 0
    assert _count(con, "SELECT count(*) FROM person p ANTI JOIN demo_identity USING (person_id)") == 0
    assert (
        _count(
            con,
            "SELECT count(*) FROM demo_identity WHERE NOT regexp_full_match(phone, '010-[0-9]{4}-[0-9]{4}') "
            "OR length(name_hangul) NOT BETWEEN 2 AND 4",
        )
        == 0
    )
    # Some notes name the patient (identifying test material), in both languages.
    for lang in (4175771, 4180186):
        named = _count(
            con,
            f"""SELECT count(*) FROM note n JOIN person p USING (person_id)
            WHERE n.language_concept_id = {lang} AND contains(n.note_text, p.person_source_value)""",
        )
        assert named > 0, lang


def test_concept_ancestor_closure() -> None:
    from cohort_engine.schema_catalog.demo.vocabulary import build_vocabulary

    v = build_vocabulary()
    con = duckdb.connect()
    con.register("concept", v.concept)
    con.register("concept_ancestor", v.concept_ancestor)

    def levels(ancestor: str, descendant: str) -> tuple[int, int] | None:
        return con.execute(
            """SELECT min_levels_of_separation, max_levels_of_separation FROM concept_ancestor
            JOIN concept a ON a.concept_id = ancestor_concept_id
            JOIN concept d ON d.concept_id = descendant_concept_id
            WHERE a.concept_code = ? AND d.concept_code = ?""",
            [ancestor, descendant],
        ).fetchone()

    assert levels("I21", "I21.01") == (2, 2)
    assert levels("I21.0", "I21.01") == (1, 1)
    assert levels("I20-I25", "I21.01") == (3, 3)
    assert levels("9", "I21.01") == (4, 4)
    assert levels("I21.01", "I21.01") == (0, 0)
    assert levels("I21.01", "I21") is None
    assert levels("I25", "I21.4") is None
    assert levels("36.1", "36.13") == (1, 1) and levels("36", "36.13") == (2, 2)
    assert levels("C50", "C50.911") == (3, 3)  # single-category block 'C50' is one concept
    below_i21 = {
        r[0]
        for r in con.execute("""SELECT d.concept_code FROM concept_ancestor
        JOIN concept a ON a.concept_id = ancestor_concept_id
        JOIN concept d ON d.concept_id = descendant_concept_id
        WHERE a.concept_code = 'I21'""").fetchall()
    }
    assert {"I21", "I21.0", "I21.01", "I21.4", "I21.A1"} <= below_i21 and not any(
        c.startswith("I22") for c in below_i21
    )
    block = {
        r[0]
        for r in con.execute("""SELECT d.concept_code FROM concept_ancestor
        JOIN concept a ON a.concept_id = ancestor_concept_id
        JOIN concept d ON d.concept_id = descendant_concept_id
        WHERE a.concept_code = 'I20-I25' AND min_levels_of_separation = 1""").fetchall()
    }
    assert block == {"I20", "I21", "I22", "I23", "I24", "I25"}
    # Every ICD-10-CM concept reaches exactly one chapter; no dangling ids.
    assert (
        con.execute("""SELECT count(*) FROM concept d WHERE d.vocabulary_id = 'ICD10CM' AND 1 <> (
        SELECT count(*) FROM concept_ancestor ca JOIN concept a ON a.concept_id = ca.ancestor_concept_id
        WHERE ca.descendant_concept_id = d.concept_id
          AND a.concept_class_id = 'ICD10 Chapter')""").fetchall()[0][0]
        == 0
    )
    assert (
        con.execute("""SELECT count(*) FROM concept_ancestor ANTI JOIN concept c
        ON c.concept_id = ancestor_concept_id""").fetchall()[0][0]
        == 0
    )
    assert (
        con.execute(
            "SELECT count(*) FROM concept WHERE concept_id >= 2000000000 AND concept_id < 2000000000 + "
            "200000 "
            "AND vocabulary_id <> 'ICD10CM'"
        ).fetchall()[0][0]
        == 0
    )


def test_real_omop_ids_and_vocabularies(con: duckdb.DuckDBPyConnection) -> None:
    names = dict(
        con.execute(
            "SELECT concept_id, concept_name FROM concept WHERE concept_id IN "
            "(8507, 8532, 9201, 9202, 9203, 262, 32817, 4180186, 4175771)"
        ).fetchall()
    )
    assert names == {
        8507: "MALE",
        8532: "FEMALE",
        9201: "Inpatient Visit",
        9202: "Outpatient Visit",
        9203: "Emergency Room Visit",
        262: "Emergency Room and Inpatient Visit",
        32817: "EHR",
        4180186: "English language",
        4175771: "Korean language",
    }
    assert (
        _count(
            con,
            "SELECT count(*) FROM (SELECT DISTINCT vocabulary_id FROM concept) "
            "ANTI JOIN vocabulary USING (vocabulary_id)",
        )
        == 0
    )
    rx = dict(
        con.execute(
            "SELECT concept_code, concept_name FROM concept WHERE vocabulary_id = 'RxNorm'"
        ).fetchall()
    )
    assert rx["6809"] == "metformin" and rx["1191"] == "aspirin" and rx["32968"] == "clopidogrel"
    assert _count(con, "SELECT count(*) FROM concept WHERE vocabulary_id = 'ICD10CM'") > 90_000


def test_used_concepts_have_korean_names(con: duckdb.DuckDBPyConnection) -> None:
    used = " UNION ".join(
        f"SELECT {col} AS concept_id FROM {table} WHERE {col} IS NOT NULL" for table, col in CONCEPT_COLUMNS
    )
    missing = con.execute(f"""SELECT DISTINCT u.concept_id FROM ({used}) u
        WHERE NOT EXISTS (SELECT 1 FROM concept_synonym s
                          WHERE s.concept_id = u.concept_id
                            AND s.language_concept_id = 4175771)""").fetchall()
    assert missing == []
    unknown = con.execute(
        f"SELECT DISTINCT concept_id FROM ({used}) ANTI JOIN concept USING (concept_id)"
    ).fetchall()
    assert unknown == []
    # Every ancestor (block, chapter, category) of a used diagnosis has a Korean name too.
    missing_anc = con.execute("""SELECT DISTINCT a.concept_code FROM condition_occurrence co
        JOIN concept_ancestor ca ON ca.descendant_concept_id = co.condition_concept_id
        JOIN concept a ON a.concept_id = ca.ancestor_concept_id
        WHERE NOT EXISTS (SELECT 1 FROM concept_synonym s
                          WHERE s.concept_id = a.concept_id
                            AND s.language_concept_id = 4175771)""").fetchall()
    assert missing_anc == []
    chapters = _count(
        con,
        """SELECT count(*) FROM concept c WHERE concept_class_id = 'ICD10 Chapter' AND NOT EXISTS
        (SELECT 1 FROM concept_synonym s
         WHERE s.concept_id = c.concept_id AND s.language_concept_id = 4175771)""",
    )
    assert chapters == 0
    for term, code in (
        ("급성 심근경색증", "I21"),
        ("관상동맥 우회술", "36.1"),
        ("경피적 관상동맥 중재술", "00.66"),
        ("메트포르민", "6809"),
        ("당화혈색소", "4548-4"),
        ("뇌졸중", "I63"),
        ("위장관 출혈", "K92.2"),
        ("CABG", "36.1"),
        ("PCI", "00.66"),
        ("MI", "I21"),
    ):
        assert (
            _count(
                con,
                f"""SELECT count(*) FROM concept_synonym s JOIN concept c USING (concept_id)
            WHERE s.concept_synonym_name = '{term}' AND c.concept_code = '{code}'""",
            )
            == 1
        ), term


def test_clinical_plausibility(con: duckdb.DuckDBPyConnection) -> None:
    def one(sql: str) -> tuple:
        return con.execute(sql).fetchall()[0]

    cohort = """SELECT DISTINCT co.person_id FROM condition_occurrence co
        JOIN concept c ON c.concept_id = co.condition_concept_id WHERE c.concept_code LIKE '{}%'"""
    male_mi, age_mi = one(f"""SELECT avg((gender_concept_id = 8507)::INT), avg(2022 - year_of_birth)
        FROM person WHERE person_id IN ({cohort.format("I21")})""")
    male_all, age_all = one(
        "SELECT avg((gender_concept_id = 8507)::INT), avg(2022 - year_of_birth) FROM person"
    )
    assert male_mi > male_all + 0.1 and age_mi > age_all + 10
    assert (
        one(
            f"SELECT count(*) FROM person WHERE person_id IN ({cohort.format('C50')}) "
            "AND gender_concept_id <> 8532"
        )[0]
        == 0
    )
    lo, hi, n = (
        one("""SELECT quantile_cont(value_as_number, 0.05), quantile_cont(value_as_number, 0.95), count(*)
        FROM measurement m JOIN concept c ON c.concept_id = m.measurement_concept_id
        WHERE c.concept_code = '4548-4'""")
    )
    assert n > 100 and lo >= 5.5 and hi <= 11.5
    # Troponin is raised on the day of the MI admission.
    raised, total = one("""SELECT count(*) FILTER (WHERE m.value_as_number > 0.04), count(*)
        FROM condition_occurrence co JOIN concept c ON c.concept_id = co.condition_concept_id
        JOIN measurement m ON m.person_id = co.person_id AND m.measurement_date = co.condition_start_date
        JOIN concept mc ON mc.concept_id = m.measurement_concept_id
        WHERE c.concept_code LIKE 'I21%' AND mc.concept_code = '10839-9'""")
    assert total > 0 and raised == total
    # CABG after an MI admission happens 5-14 days after the MI.
    gaps = con.execute("""SELECT DISTINCT po.procedure_date - co.condition_start_date
        FROM condition_occurrence co JOIN concept c ON c.concept_id = co.condition_concept_id
        JOIN procedure_occurrence po ON po.visit_occurrence_id = co.visit_occurrence_id
        JOIN concept pc ON pc.concept_id = po.procedure_concept_id
        WHERE c.concept_code LIKE 'I21%' AND pc.concept_code LIKE '36.1%'""").fetchall()
    assert gaps and all(5 <= g[0] <= 14 for g in gaps)


@pytest.mark.slow
def test_seed_scenario_cohort_is_not_empty(tmp_path: Path) -> None:
    """Persons diagnosed 2023-10-01..10 with CABG or PCI 7 to 14 days after that diagnosis."""
    con = duckdb.connect(str(generate_mart(tmp_path, 20_000, 42)), read_only=True)
    n = con.execute("""
        SELECT count(DISTINCT co.person_id)
        FROM condition_occurrence co
        JOIN procedure_occurrence po ON po.person_id = co.person_id
        JOIN concept pc ON pc.concept_id = po.procedure_concept_id
        WHERE co.condition_start_date BETWEEN DATE '2023-10-01' AND DATE '2023-10-10'
          AND pc.vocabulary_id = 'ICD9Proc'
          AND (pc.concept_code LIKE '36.1%' OR pc.concept_code IN ('00.66', '36.06', '36.07'))
          AND po.procedure_date BETWEEN co.condition_start_date + 7 AND co.condition_start_date + 14
    """).fetchall()[0][0]
    con.close()
    assert n >= 5
