"""The SQL guard: a table-driven corpus of hostile statements (exact rule and ``where``), a table of
allowed queries (exact rewritten SQL where it matters), and the API's contracts."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pytest
import sqlglot

from cohort_engine.schema_catalog.tables import Column, Table
from cohort_engine.sql_guard import guard
from cohort_engine.sql_guard.errors import GuardError, Rule
from cohort_engine.sql_guard.guard import HARD_MAX_ROWS, ValidatedSQL, revalidate, validate

#: A literal that stands for an identifying value; it must never come back in an error or a log line.
SECRET = "Kim-MRN-0042"

AGG: dict[str, Any] = {"aggregates_only": True}
FILTERS: dict[str, Any] = {"allow_identifying_in_filters": True}
RANGE: dict[str, Any] = {"allowed_table_functions": {"range"}}

# (sql, validate kwargs, expected rule, expected where)
HOSTILE: list[tuple[str, dict[str, Any], Rule, str]] = [
    # --- stacked statements, comments hiding a second statement
    ("SELECT 1; SELECT 2", {}, Rule.MULTIPLE_STATEMENTS, "SELECT"),
    ("SELECT 1; DROP TABLE person", {}, Rule.MULTIPLE_STATEMENTS, "DROP"),
    ("SELECT 1 -- harmless\n; DROP TABLE person", {}, Rule.MULTIPLE_STATEMENTS, "DROP"),
    ("SELECT 1 /* ok */; DELETE FROM person", {}, Rule.MULTIPLE_STATEMENTS, "DELETE"),
    ("SELECT 1 --\n; ATTACH 'x.db' AS x", {}, Rule.MULTIPLE_STATEMENTS, "ATTACH"),
    ("SELECT $$;$$ AS x; DROP TABLE person", {}, Rule.MULTIPLE_STATEMENTS, "DROP"),
    ("(SELECT 1); (SELECT 2)", {}, Rule.MULTIPLE_STATEMENTS, "("),
    (f"SELECT person_id FROM person; '{SECRET}'", {}, Rule.MULTIPLE_STATEMENTS, "?"),
    ("/* SELECT */ DROP TABLE person", {}, Rule.NOT_READ_ONLY, "DROP"),
    # --- writes (also hidden inside a query)
    ("DELETE FROM person", {}, Rule.NOT_READ_ONLY, "DELETE"),
    ("UPDATE person SET year_of_birth = 1900", {}, Rule.NOT_READ_ONLY, "UPDATE"),
    ("INSERT INTO person (person_id) VALUES (1)", {}, Rule.NOT_READ_ONLY, "INSERT"),
    ("CREATE TABLE x AS SELECT person_id FROM person", {}, Rule.NOT_READ_ONLY, "CREATE"),
    ("DROP TABLE person", {}, Rule.NOT_READ_ONLY, "DROP"),
    ("ALTER TABLE person ADD COLUMN x INT", {}, Rule.NOT_READ_ONLY, "ALTER"),
    ("TRUNCATE person", {}, Rule.NOT_READ_ONLY, "TRUNCATE"),
    (
        "MERGE INTO person USING death ON person.person_id = death.person_id WHEN MATCHED THEN DELETE",
        {},
        Rule.NOT_READ_ONLY,
        "MERGE",
    ),
    ("WITH d AS (DELETE FROM person RETURNING *) SELECT * FROM d", {}, Rule.NOT_READ_ONLY, "DELETE"),
    ("WITH x AS (SELECT 1) INSERT INTO person SELECT * FROM x", {}, Rule.NOT_READ_ONLY, "INSERT"),
    ("SELECT person_id INTO t FROM person", {}, Rule.NOT_READ_ONLY, "SELECT INTO"),
    # --- file / network / extension / session statements
    ("COPY (SELECT 1) TO 'x.csv'", {}, Rule.FORBIDDEN_STATEMENT, "COPY"),
    ("COPY person TO '/tmp/out.parquet'", {}, Rule.FORBIDDEN_STATEMENT, "COPY"),
    ("ATTACH 'other.duckdb' AS o", {}, Rule.FORBIDDEN_STATEMENT, "ATTACH"),
    ("DETACH o", {}, Rule.FORBIDDEN_STATEMENT, "DETACH"),
    ("INSTALL httpfs", {}, Rule.FORBIDDEN_STATEMENT, "INSTALL"),
    ("FORCE INSTALL httpfs", {}, Rule.FORBIDDEN_STATEMENT, "FORCE"),
    ("LOAD httpfs", {}, Rule.FORBIDDEN_STATEMENT, "LOAD"),
    ("PRAGMA table_info('person')", {}, Rule.FORBIDDEN_STATEMENT, "PRAGMA"),
    ("SET enable_external_access = true", {}, Rule.FORBIDDEN_STATEMENT, "SET"),
    ("RESET threads", {}, Rule.FORBIDDEN_STATEMENT, "RESET"),
    ("EXPORT DATABASE '/tmp/dump'", {}, Rule.FORBIDDEN_STATEMENT, "EXPORT"),
    ("IMPORT DATABASE '/tmp/dump'", {}, Rule.FORBIDDEN_STATEMENT, "IMPORT"),
    ("CALL pragma_version()", {}, Rule.FORBIDDEN_STATEMENT, "CALL"),
    ("BEGIN TRANSACTION", {}, Rule.FORBIDDEN_STATEMENT, "BEGIN"),
    ("COMMIT", {}, Rule.FORBIDDEN_STATEMENT, "COMMIT"),
    ("ROLLBACK", {}, Rule.FORBIDDEN_STATEMENT, "ROLLBACK"),
    ("CHECKPOINT", {}, Rule.FORBIDDEN_STATEMENT, "CHECKPOINT"),
    ("VACUUM", {}, Rule.FORBIDDEN_STATEMENT, "VACUUM"),
    ("USE main", {}, Rule.FORBIDDEN_STATEMENT, "USE"),
    ("DESCRIBE person", {}, Rule.FORBIDDEN_STATEMENT, "DESCRIBE"),
    ("SUMMARIZE person", {}, Rule.FORBIDDEN_STATEMENT, "SUMMARIZE"),
    ("SHOW TABLES", {}, Rule.FORBIDDEN_STATEMENT, "SHOW"),
    ("EXPLAIN SELECT 1", {}, Rule.FORBIDDEN_STATEMENT, "EXPLAIN"),
    ("VALUES (1), (2)", {}, Rule.FORBIDDEN_STATEMENT, "VALUES"),
    ("SELECT * FROM (SUMMARIZE person)", {}, Rule.FORBIDDEN_STATEMENT, "SUMMARIZE"),
    ("SELECT 1 UNION ALL (DESCRIBE person)", {}, Rule.FORBIDDEN_STATEMENT, "DESCRIBE"),
    # --- file / network / settings / catalog functions, table functions, paths as tables
    ("SELECT * FROM read_csv('/etc/passwd')", {}, Rule.FORBIDDEN_FUNCTION, "read_csv"),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", {}, Rule.FORBIDDEN_FUNCTION, "read_csv_auto"),
    ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", {}, Rule.FORBIDDEN_FUNCTION, "read_parquet"),
    ("SELECT * FROM parquet_scan('x.parquet')", {}, Rule.FORBIDDEN_FUNCTION, "parquet_scan"),
    ("SELECT * FROM read_json_auto('x.json')", {}, Rule.FORBIDDEN_FUNCTION, "read_json_auto"),
    ("SELECT content FROM read_text('/etc/shadow')", {}, Rule.FORBIDDEN_FUNCTION, "read_text"),
    ("SELECT read_blob('/etc/shadow') AS b", {}, Rule.FORBIDDEN_FUNCTION, "read_blob"),
    ("SELECT * FROM glob('/home/*')", {}, Rule.FORBIDDEN_FUNCTION, "glob"),
    ("SELECT * FROM sqlite_scan('x.db', 't')", {}, Rule.FORBIDDEN_FUNCTION, "sqlite_scan"),
    ("SELECT * FROM postgres_scan('host=x', 'public', 't')", {}, Rule.FORBIDDEN_FUNCTION, "postgres_scan"),
    ("SELECT getenv('HOME') AS h", {}, Rule.FORBIDDEN_FUNCTION, "getenv"),
    ("SELECT main.getenv('AWS_SECRET_ACCESS_KEY') AS h", {}, Rule.FORBIDDEN_FUNCTION, "getenv"),
    ("SELECT current_setting('enable_external_access') AS s", {}, Rule.FORBIDDEN_FUNCTION, "current_setting"),
    ("SELECT * FROM duckdb_settings()", {}, Rule.FORBIDDEN_FUNCTION, "duckdb_settings"),
    ("SELECT * FROM duckdb_secrets()", {}, Rule.FORBIDDEN_FUNCTION, "duckdb_secrets"),
    ("SELECT * FROM pragma_table_info('person')", {}, Rule.FORBIDDEN_FUNCTION, "pragma_table_info"),
    ("SELECT * FROM query('SELECT * FROM person')", {}, Rule.FORBIDDEN_FUNCTION, "query"),
    ("SELECT * FROM query_table('person')", {}, Rule.FORBIDDEN_FUNCTION, "query_table"),
    ("SELECT nextval('seq') AS n", {}, Rule.FORBIDDEN_FUNCTION, "nextval"),
    ("SELECT to_json(1) AS j", {}, Rule.FORBIDDEN_FUNCTION, "to_json"),
    ("SELECT COLUMNS('.*source.*') FROM person", {}, Rule.FORBIDDEN_FUNCTION, "columns"),
    ("SELECT * FROM range(10)", {}, Rule.FORBIDDEN_FUNCTION, "range"),
    ("SELECT * FROM generate_series(1, 10)", RANGE, Rule.FORBIDDEN_FUNCTION, "generate_series"),
    ("SELECT u FROM unnest([1, 2]) AS t(u)", {}, Rule.FORBIDDEN_FUNCTION, "unnest"),
    ("SELECT * FROM '/etc/passwd'", {}, Rule.FORBIDDEN_FUNCTION, "<path>"),
    ("SELECT * FROM 'https://example.org/x.csv'", {}, Rule.FORBIDDEN_FUNCTION, "<path>"),
    ('SELECT * FROM "mart_dump.parquet"', {}, Rule.FORBIDDEN_FUNCTION, "<path>"),
    # --- tables
    ("SELECT person_id FROM persons", {}, Rule.UNKNOWN_TABLE, "persons"),
    ("SELECT * FROM location", {}, Rule.UNKNOWN_TABLE, "location"),
    ("SELECT * FROM information_schema.tables", {}, Rule.UNKNOWN_TABLE, "information_schema.tables"),
    ("SELECT person_id FROM memory.main.person", {}, Rule.UNKNOWN_TABLE, "memory.main.person"),
    ("SELECT * FROM dicom_study", {}, Rule.UNKNOWN_TABLE, "dicom_study"),
    (
        "SELECT p.person_id FROM person p JOIN provider pr ON p.provider_id = pr.provider_id",
        {},
        Rule.UNKNOWN_TABLE,
        "provider",
    ),
    # --- columns
    ("SELECT foo FROM person", {}, Rule.UNKNOWN_COLUMN, "foo"),
    ("SELECT p.foo FROM person p", {}, Rule.UNKNOWN_COLUMN, "p.foo"),
    ("SELECT x.person_id FROM person p", {}, Rule.UNKNOWN_COLUMN, "x.person_id"),
    ("SELECT person_id FROM person, death", {}, Rule.UNKNOWN_COLUMN, "person_id"),
    (
        "WITH c AS (SELECT person_id FROM person) SELECT c.year_of_birth FROM c",
        {},
        Rule.UNKNOWN_COLUMN,
        "c.year_of_birth",
    ),
    ("SELECT pеrson_id FROM person", {}, Rule.UNKNOWN_COLUMN, "pеrson_id"),  # Cyrillic 'е'
    # --- identifying columns
    ("SELECT person_source_value FROM person", {}, Rule.IDENTIFYING_COLUMN, "person.person_source_value"),
    ('SELECT "PERSON_SOURCE_VALUE" FROM "PERSON"', {}, Rule.IDENTIFYING_COLUMN, "person.person_source_value"),
    (
        "SELECT P.Person_Source_Value FROM Person AS P",
        {},
        Rule.IDENTIFYING_COLUMN,
        "person.person_source_value",
    ),
    ("SELECT * FROM person", {}, Rule.IDENTIFYING_COLUMN, "person.day_of_birth"),
    ("FROM person", {}, Rule.IDENTIFYING_COLUMN, "person.day_of_birth"),
    ("TABLE person", {}, Rule.IDENTIFYING_COLUMN, "person.day_of_birth"),
    (
        "SELECT p.* FROM person p JOIN death d ON p.person_id = d.person_id",
        {},
        Rule.IDENTIFYING_COLUMN,
        "person.day_of_birth",
    ),
    ("SELECT * EXCLUDE (day_of_birth) FROM person", {}, Rule.IDENTIFYING_COLUMN, "person.birth_datetime"),
    (
        "SELECT m FROM (SELECT person_source_value AS m FROM person) s",
        {},
        Rule.IDENTIFYING_COLUMN,
        "person.person_source_value",
    ),
    ("WITH x AS (SELECT * FROM note) SELECT note_id FROM x", {}, Rule.IDENTIFYING_COLUMN, "note.note_title"),
    (
        f"SELECT person_id FROM person WHERE person_source_value = '{SECRET}'",
        {},
        Rule.IDENTIFYING_COLUMN,
        "person.person_source_value",
    ),
    (
        "SELECT note_id FROM note WHERE note_text ILIKE '%cancer%'",
        {},
        Rule.IDENTIFYING_COLUMN,
        "note.note_text",
    ),
    (
        "SELECT a.person_id FROM person a NATURAL JOIN person b",
        {},
        Rule.IDENTIFYING_COLUMN,
        "person.day_of_birth",
    ),
    (
        "SELECT image_occurrence_id, image_study_uid FROM image_occurrence",
        {},
        Rule.IDENTIFYING_COLUMN,
        "image_occurrence.image_study_uid",
    ),
    ("SELECT wadors_uri FROM image_occurrence", {}, Rule.IDENTIFYING_COLUMN, "image_occurrence.wadors_uri"),
    (
        "SELECT COUNT(*) FROM person WHERE birth_datetime > DATE '1950-01-01'",
        AGG,
        Rule.IDENTIFYING_COLUMN,
        "person.birth_datetime",
    ),
    # ... with filters allowed, still never in the output (through CTEs, unions, subqueries, laterals)
    (
        "WITH x AS (SELECT person_id, person_source_value AS m FROM person) SELECT m FROM x",
        FILTERS,
        Rule.IDENTIFYING_COLUMN,
        "person.person_source_value",
    ),
    (
        "SELECT person_id FROM death UNION ALL SELECT person_source_value FROM person",
        FILTERS,
        Rule.IDENTIFYING_COLUMN,
        "person.person_source_value",
    ),
    ("SELECT (SELECT MAX(note_text) FROM note) AS t", FILTERS, Rule.IDENTIFYING_COLUMN, "note.note_text"),
    (
        "SELECT upper(person_source_value) AS u FROM person",
        FILTERS,
        Rule.IDENTIFYING_COLUMN,
        "person.person_source_value",
    ),
    (
        "SELECT x FROM person p, LATERAL (SELECT p.person_source_value AS x) s",
        FILTERS,
        Rule.IDENTIFYING_COLUMN,
        "person.person_source_value",
    ),
    (
        "SELECT person_id FROM person ORDER BY person_source_value",
        FILTERS,
        Rule.IDENTIFYING_COLUMN,
        "person.person_source_value",
    ),
    (
        "SELECT COUNT(*) AS n FROM person GROUP BY person_source_value",
        FILTERS,
        Rule.IDENTIFYING_COLUMN,
        "person.person_source_value",
    ),
    # --- whole rows, positional columns, unexpandable stars
    ("SELECT p FROM person p", {}, Rule.UNSUPPORTED_SYNTAX, "p"),
    ("SELECT p['person_source_value'] AS v FROM person p", {}, Rule.UNSUPPORTED_SYNTAX, "p"),
    ("SELECT d.person_id FROM death d WHERE d IS NOT NULL", {}, Rule.UNSUPPORTED_SYNTAX, "d"),
    ("SELECT #12 FROM person", {}, Rule.UNSUPPORTED_SYNTAX, "#n"),
    ("SELECT struct_pack(p.*) AS s FROM person p", {}, Rule.UNSUPPORTED_SYNTAX, "*"),
    ("SELECT * LIKE '%source%' FROM person", {}, Rule.UNSUPPORTED_SYNTAX, "*"),
    ("SELECT a FROM person AS p(a, b)", {}, Rule.UNSUPPORTED_SYNTAX, "p(a, b)"),
    (
        "SELECT * FROM person PIVOT (COUNT(*) FOR gender_concept_id IN (8507, 8532))",
        {},
        Rule.UNSUPPORTED_SYNTAX,
        "PIVOT",
    ),
    (
        "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT n FROM r",
        {},
        Rule.UNSUPPORTED_SYNTAX,
        "WITH RECURSIVE",
    ),
    ("SELECT person_id FROM person LIMIT (SELECT 5)", {}, Rule.UNSUPPORTED_SYNTAX, "LIMIT"),
    ("SELECT person_id FROM person LIMIT 10%", {}, Rule.UNSUPPORTED_SYNTAX, "LIMIT"),
    ("SELECT person_id FROM person LIMIT ?", {}, Rule.UNSUPPORTED_SYNTAX, "LIMIT"),
    # --- aggregates_only
    ("SELECT person_id FROM person", AGG, Rule.NOT_AGGREGATE, "person.person_id"),
    ("SELECT 1 FROM person", AGG, Rule.NOT_AGGREGATE, "SELECT"),
    ("SELECT DISTINCT gender_concept_id FROM person", AGG, Rule.NOT_AGGREGATE, "person.gender_concept_id"),
    (
        "SELECT person_id, COUNT(*) AS n FROM visit_occurrence GROUP BY person_id",
        AGG,
        Rule.NOT_AGGREGATE,
        "visit_occurrence.person_id",
    ),
    (
        "SELECT year_of_birth, COUNT(*) AS n FROM person GROUP BY 1",
        AGG,
        Rule.NOT_AGGREGATE,
        "person.year_of_birth",
    ),
    ("SELECT list(person_id) AS ids FROM person", AGG, Rule.NOT_AGGREGATE, "ARRAY_AGG(person.person_id)"),
    (
        "SELECT arg_max(person_id, year_of_birth) AS p FROM person",
        AGG,
        Rule.NOT_AGGREGATE,
        "ARG_MAX(person.person_id, person.year_of_birth)",
    ),
    ("SELECT COUNT(*) OVER () AS n FROM person", AGG, Rule.NOT_AGGREGATE, "COUNT(*) OVER ()"),
    (
        "SELECT COUNT(*) AS n FROM person UNION ALL SELECT person_id FROM person",
        AGG,
        Rule.NOT_AGGREGATE,
        "person.person_id",
    ),
    (
        "WITH c AS (SELECT person_id, COUNT(*) AS n FROM death GROUP BY person_id) SELECT * FROM c",
        AGG,
        Rule.NOT_AGGREGATE,
        "c.person_id",
    ),
    (
        f"SELECT year_of_birth + 0 AS y, COUNT(*) FROM person WHERE gender_source_value <> '{SECRET}' "
        "GROUP BY 1",
        AGG,
        Rule.NOT_AGGREGATE,
        "person.year_of_birth + ?",
    ),
    # --- unicode and text tricks, parse errors
    ("SELECT 1 \u202e", {}, Rule.INVALID_CHARACTERS, "U+202E"),
    ("SELECT\u200b1", {}, Rule.INVALID_CHARACTERS, "U+200B"),
    ("\ufeffSELECT 1", {}, Rule.INVALID_CHARACTERS, "U+FEFF"),
    ("SELECT 1\x00; DROP TABLE person", {}, Rule.INVALID_CHARACTERS, "U+0000"),
    ("SELECT 1\u2028", {}, Rule.INVALID_CHARACTERS, "U+2028"),
    ("SELECT 1\uff1bDROP TABLE person", {}, Rule.PARSE_ERROR, "line 1, column 19"),  # fullwidth ';'
    (f"SELECT '{SECRET}", {}, Rule.PARSE_ERROR, ""),
    (f"SELECT '{SECRET}' FROM WHERE", {}, Rule.PARSE_ERROR, "line 1, column 32"),
    ("", {}, Rule.PARSE_ERROR, ""),
    (" ; -- nothing", {}, Rule.PARSE_ERROR, ""),
    # --- expansion caps (sql_guard.expansion): sizes from the query text, values never echoed
    ("SELECT repeat('x', 500000000) AS s", {}, Rule.EXPANSION_LIMIT, "repeat"),
    ("SELECT unnest(range(1e8)) AS i", {}, Rule.EXPANSION_LIMIT, "range"),
    ("SELECT COUNT(*) AS n FROM range(100000000)", RANGE, Rule.EXPANSION_LIMIT, "range"),
    ("SELECT lpad('x', 1000000000) AS s", {}, Rule.EXPANSION_LIMIT, "lpad"),
]


@pytest.mark.parametrize(("sql", "kwargs", "rule", "where"), HOSTILE, ids=[h[0][:60] for h in HOSTILE])
def test_hostile_statement_is_refused(sql: str, kwargs: dict[str, Any], rule: Rule, where: str) -> None:
    with pytest.raises(GuardError) as info:
        validate(sql, **kwargs)
    err = info.value
    assert (err.rule, err.where) == (rule, where), err.message
    assert err.message
    for text in (err.message, err.where, str(err)):
        assert SECRET not in text


def test_corpus_is_large_and_covers_every_rule() -> None:
    assert len(HOSTILE) >= 50
    assert {rule for _, _, rule, _ in HOSTILE} == set(Rule)


def test_guard_error_is_a_value_error_with_stable_fields() -> None:
    with pytest.raises(ValueError) as info:
        validate("SELECT * FROM persons")
    err = info.value
    assert isinstance(err, GuardError)
    assert err.rule == "unknown_table" and err.where == "persons"
    assert "not in the catalog" in err.message
    assert str(err).startswith("[unknown_table]")


def test_identifying_column_message_explains_star_expansion() -> None:
    with pytest.raises(GuardError) as info:
        validate("SELECT * FROM person")
    assert "* expansion" in info.value.message


def test_no_literal_reaches_sqlglot_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for sql, kwargs, _, _ in HOSTILE:
        with contextlib.suppress(GuardError):
            validate(sql, **kwargs)
    assert not any(SECRET in r.getMessage() for r in caplog.records)
    # the fallback warning of sqlglot quotes the SQL: it is dropped while the guard works ...
    caplog.clear()
    with guard._quiet_sqlglot():
        sqlglot.parse(f"LOAD '{SECRET}'", read="duckdb")
    assert not caplog.records
    # ... and only then
    sqlglot.parse(f"LOAD '{SECRET}'", read="duckdb")
    assert any(SECRET in r.getMessage() for r in caplog.records)


# (sql, validate kwargs, exact rewritten SQL or None, expected limit)
ALLOWED: list[tuple[str, dict[str, Any], str | None, int]] = [
    (
        "SELECT person_id FROM person",
        {},
        "SELECT person.person_id AS person_id FROM person AS person LIMIT 100000",
        100_000,
    ),
    (
        "SELECT person_id FROM person LIMIT 500000",
        {},
        "SELECT person.person_id AS person_id FROM person AS person LIMIT 100000",
        100_000,
    ),
    (
        "SELECT person_id FROM person LIMIT 20",
        {},
        "SELECT person.person_id AS person_id FROM person AS person LIMIT 20",
        20,
    ),
    (
        "SELECT person_id FROM person LIMIT 50 OFFSET 10",
        {"max_rows": 25},
        "SELECT person.person_id AS person_id FROM person AS person LIMIT 25 OFFSET 10",
        25,
    ),
    (
        "SELECT person_id FROM person FETCH FIRST 5 ROWS ONLY",
        {},
        "SELECT person.person_id AS person_id FROM person AS person LIMIT 5",
        5,
    ),
    (
        "SELECT person_id FROM person UNION SELECT person_id FROM death ORDER BY person_id",
        {"max_rows": 10},
        "SELECT person.person_id AS person_id FROM person AS person UNION "
        "SELECT death.person_id AS person_id FROM death AS death ORDER BY person_id LIMIT 10",
        10,
    ),
    (
        'select "PERSON_ID" from PERSON where Year_Of_Birth > 1950 -- ; DROP TABLE person',
        {},
        'SELECT person."person_id" AS "person_id" FROM person AS person '
        "WHERE person.year_of_birth > 1950 LIMIT 100000",
        100_000,
    ),
    (
        "SELECT person_id FROM person /* ; DROP TABLE person */ WHERE gender_concept_id = 8532",
        {},
        "SELECT person.person_id AS person_id FROM person AS person "
        "WHERE person.gender_concept_id = 8532 LIMIT 100000",
        100_000,
    ),
    (
        "SELECT gender_concept_id, COUNT(*) AS n FROM person GROUP BY gender_concept_id",
        AGG,
        "SELECT person.gender_concept_id AS gender_concept_id, COUNT(*) AS n FROM person AS person "
        "GROUP BY person.gender_concept_id LIMIT 100000",
        100_000,
    ),
    (
        "SELECT COUNT(DISTINCT person_id) AS n FROM condition_occurrence WHERE condition_concept_id = 1",
        AGG,
        "SELECT COUNT(DISTINCT condition_occurrence.person_id) AS n FROM condition_occurrence AS "
        "condition_occurrence WHERE condition_occurrence.condition_concept_id = 1 LIMIT 100000",
        100_000,
    ),
    (
        "SELECT TOP 5 person_id FROM person",
        {"dialect": "tsql"},
        "SELECT person.person_id AS person_id FROM person AS person LIMIT 5",
        5,
    ),
    # joins, CTEs, windows, subqueries, DuckDB syntax
    (
        "SELECT p.person_id, c.concept_name FROM person p JOIN condition_occurrence co "
        "ON co.person_id = p.person_id JOIN concept c ON c.concept_id = co.condition_concept_id "
        "WHERE co.condition_start_date BETWEEN DATE '2020-01-01' AND DATE '2020-12-31'",
        {},
        None,
        100_000,
    ),
    (
        "WITH idx AS (SELECT person_id, MIN(condition_start_date) AS index_date FROM condition_occurrence "
        "WHERE condition_concept_id IN (SELECT descendant_concept_id FROM concept_ancestor "
        "WHERE ancestor_concept_id = 4329847) GROUP BY person_id) "
        "SELECT idx.person_id, idx.index_date - d.death_date AS days FROM idx LEFT JOIN death d USING "
        "(person_id)",
        {},
        None,
        100_000,
    ),
    (
        "SELECT person_id, measurement_date, value_as_number, ROW_NUMBER() OVER "
        "(PARTITION BY person_id ORDER BY measurement_date DESC) AS rn FROM measurement "
        "QUALIFY rn = 1",
        {},
        None,
        100_000,
    ),
    (
        "SELECT person_id FROM person p WHERE EXISTS (SELECT 1 FROM drug_exposure de "
        "WHERE de.person_id = p.person_id AND de.drug_concept_id = 1127433)",
        {},
        None,
        100_000,
    ),
    (
        "SELECT (SELECT MAX(d.death_date) FROM death d WHERE d.person_id = p.person_id) AS died "
        "FROM person p",
        {},
        None,
        100_000,
    ),
    ("FROM person SELECT person_id, year_of_birth ORDER BY ALL", {}, None, 100_000),
    ("SELECT * EXCLUDE (day_of_birth, birth_datetime, person_source_value) FROM person", {}, None, 100_000),
    ("SELECT d.* FROM death d", {}, None, 100_000),
    ("WITH person AS (SELECT 1 AS x) SELECT * FROM person", {}, None, 100_000),
    ("SELECT a FROM (VALUES (1), (2)) AS v(a)", {}, None, 100_000),
    ("SELECT concept_name FROM concept WHERE concept_name LIKE '%심근경색%'", {}, None, 100_000),
    ("SELECT list_transform([1, 2], x -> x + 1) AS l", {}, None, 100_000),
    ("SELECT range AS i FROM range(3)", RANGE, None, 100_000),
    # aggregates_only, richer
    (
        "SELECT c.concept_name, COUNT(DISTINCT co.person_id) AS n FROM condition_occurrence co "
        "JOIN concept c ON c.concept_id = co.condition_concept_id GROUP BY c.concept_name "
        "HAVING COUNT(*) > 10 ORDER BY n DESC LIMIT 10",
        AGG,
        None,
        10,
    ),
    (
        "WITH v AS (SELECT person_id, COUNT(*) AS visits FROM visit_occurrence GROUP BY person_id) "
        "SELECT visits, COUNT(*) AS persons FROM v GROUP BY visits",
        AGG,
        None,
        100_000,
    ),
    (
        "SELECT AVG(value_as_number) AS mean, MIN(value_as_number) AS lo, MAX(value_as_number) AS hi, "
        "COUNT(*) FILTER (WHERE value_as_number > 7) AS high FROM measurement "
        "WHERE measurement_concept_id = 3004410",
        AGG,
        None,
        100_000,
    ),
    (
        "SELECT gender_concept_id, COUNT(*) AS n, (SELECT COUNT(*) FROM death) AS deaths FROM person "
        "GROUP BY ALL",
        AGG,
        None,
        100_000,
    ),
    # identifying columns in filters only, when the caller allows it
    (
        f"SELECT COUNT(*) AS n FROM person WHERE person_source_value = '{SECRET}'",
        {**FILTERS, **AGG},
        None,
        100_000,
    ),
    (
        "WITH x AS (SELECT person_id, person_source_value AS m FROM person) "
        "SELECT person_id FROM x WHERE m LIKE 'A%'",
        FILTERS,
        None,
        100_000,
    ),
    # expansions within the caps (sql_guard.expansion)
    ("SELECT repeat('ab', 1000) AS s", {}, None, 100_000),
    ("SELECT repeat('#', LEAST(year_of_birth, 100)) AS bar FROM person", {}, None, 100_000),
    ("SELECT repeat(gender_source_value, 1000) AS s FROM person", {}, None, 100_000),
    ("SELECT lpad(CAST(year_of_birth AS VARCHAR), 10, '0') AS y FROM person", {}, None, 100_000),
    ("SELECT format('{:>20}', year_of_birth) AS y FROM person", {}, None, 100_000),
    ("SELECT unnest(range(1000000)) AS i", {}, None, 100_000),
    (
        "SELECT COUNT(*) AS n FROM generate_series(1, 1000 * 1000)",
        {"allowed_table_functions": {"generate_series"}},
        None,
        100_000,
    ),
    (
        "SELECT unnest(generate_series(DATE '2000-01-01', DATE '2020-12-31', INTERVAL 1 DAY)) AS d",
        {},
        None,
        100_000,
    ),
    ("SELECT range(0, 10, 2) AS l", {}, None, 100_000),
]


@pytest.mark.parametrize(("sql", "kwargs", "expected", "limit"), ALLOWED, ids=[a[0][:60] for a in ALLOWED])
def test_allowed_query(sql: str, kwargs: dict[str, Any], expected: str | None, limit: int) -> None:
    v = validate(sql, **kwargs)
    if expected is not None:
        assert v.sql == expected
    assert v.limit == limit
    # the output is a fixed point: validating it again changes nothing
    assert validate(v.sql, **kwargs).sql == v.sql
    assert revalidate(v).sql == v.sql
    assert "--" not in v.sql and "/*" not in v.sql


def test_validated_sql_reports_tables_columns_and_limit() -> None:
    v = validate(
        "SELECT p.person_id, d.death_date FROM person p JOIN death d ON d.person_id = p.person_id LIMIT 7"
    )
    assert v.tables == ("death", "person")
    assert v.columns == ("death.death_date", "death.person_id", "person.person_id")
    assert v.output_columns == ("person_id", "death_date")
    assert (v.limit, v.limit_rewritten) == (7, False)
    assert validate("SELECT person_id FROM person").limit_rewritten is True


def test_star_is_expanded_to_catalogued_columns_only() -> None:
    """A real mart may have extra (uncatalogued) columns; what runs names catalogued ones only."""
    v = validate("SELECT * FROM death")
    assert "*" not in v.sql
    assert v.output_columns == (
        "person_id",
        "death_date",
        "death_datetime",
        "death_type_concept_id",
        "cause_concept_id",
        "cause_source_value",
        "cause_source_concept_id",
    )


def test_extra_tables_are_allowed_with_their_privacy_classes() -> None:
    dicom_study = Table(
        name="dicom_study",
        description="test",
        columns=[
            Column(name="study_id", type="BIGINT", privacy="quasi", description="key"),
            Column(name="modality", type="VARCHAR", privacy="safe", description="CT, MR …"),
            Column(name="study_instance_uid", type="VARCHAR", privacy="identifying", description="UID"),
        ],
    )
    extra = {"dicom_study": dicom_study}
    v = validate(
        "SELECT modality, COUNT(*) AS n FROM dicom_study GROUP BY modality",
        extra_tables=extra,
        aggregates_only=True,
    )
    assert v.tables == ("dicom_study",)
    with pytest.raises(GuardError) as info:
        validate("SELECT study_instance_uid FROM dicom_study", extra_tables=extra)
    assert (info.value.rule, info.value.where) == (Rule.IDENTIFYING_COLUMN, "dicom_study.study_instance_uid")
    with pytest.raises(GuardError) as info:
        validate("SELECT * FROM dicom_study", extra_tables=extra)
    assert info.value.where == "dicom_study.study_instance_uid"
    with pytest.raises(GuardError) as info:
        validate("SELECT modality FROM dicom_study")
    assert info.value.rule == Rule.UNKNOWN_TABLE
    with pytest.raises(ValueError):
        validate("SELECT 1", extra_tables={"person": dicom_study})


def test_revalidate_refuses_a_hand_built_validated_sql() -> None:
    forged = ValidatedSQL(
        sql="SELECT person_source_value FROM person",
        tables=("person",),
        columns=(),
        limit=10,
        limit_rewritten=False,
        output_columns=("person_source_value",),
    )
    with pytest.raises(GuardError) as info:
        revalidate(forged)
    assert info.value.rule == Rule.IDENTIFYING_COLUMN
    lifted = ValidatedSQL(
        sql="SELECT person.person_id AS person_id FROM person AS person LIMIT 100000",
        tables=("person",),
        columns=(),
        limit=5,
        limit_rewritten=False,
        output_columns=(),
    )
    assert revalidate(lifted).limit == 5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_rows": 0},
        {"max_rows": HARD_MAX_ROWS + 1},
        {"dialect": "no-such-dialect"},
        {"allowed_table_functions": {"read_csv"}},
    ],
)
def test_bad_arguments_are_value_errors_not_guard_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as info:
        validate("SELECT 1", **kwargs)
    assert not isinstance(info.value, GuardError)


# --- identifying_output: identifying columns one caller may read out (its output is de-identified) -------

_DICOM = Table(
    name="dicom_series",
    description="test",
    columns=[
        Column(name="series_instance_uid", type="VARCHAR", privacy="identifying", description="UID"),
        Column(name="patient_id", type="VARCHAR", privacy="identifying", description="MRN"),
        Column(name="modality", type="VARCHAR", privacy="safe", description="CT, MR …"),
    ],
)
RELEASE: dict[str, Any] = {
    "extra_tables": {"dicom_series": _DICOM},
    "identifying_output": ["dicom_series.series_instance_uid"],
}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT series_instance_uid, modality FROM dicom_series",
        "SELECT s.series_instance_uid FROM dicom_series AS s WHERE s.series_instance_uid LIKE '1.2.%' "
        "ORDER BY s.series_instance_uid",
        "WITH x AS (SELECT series_instance_uid AS u FROM dicom_series) SELECT u FROM x GROUP BY u",
        "SELECT * FROM (SELECT series_instance_uid, modality FROM dicom_series) AS t",
        "SELECT series_instance_uid, ROW_NUMBER() OVER (PARTITION BY series_instance_uid) AS n FROM "
        "dicom_series",
    ],
)
def test_identifying_output_lets_the_named_columns_out(sql: str) -> None:
    v = validate(sql, **RELEASE)
    assert v.identifying_output == ("dicom_series.series_instance_uid",)
    assert revalidate(v).sql == v.sql  # the option travels with the statement


@pytest.mark.parametrize(
    "sql,kwargs,where",
    [
        # another identifying column of the same table stays refused, in output and in filters
        ("SELECT patient_id FROM dicom_series", {}, "dicom_series.patient_id"),
        (
            "SELECT series_instance_uid FROM dicom_series WHERE patient_id = 'Kim-MRN-0042'",
            {},
            "dicom_series.patient_id",
        ),
        ("SELECT * FROM dicom_series", {}, "dicom_series.patient_id"),
        # with identifying filters allowed: the unlisted column may filter, but not leak into the output
        (
            "SELECT series_instance_uid || patient_id AS x FROM dicom_series",
            FILTERS,
            "dicom_series.patient_id",
        ),
        (
            "SELECT series_instance_uid FROM dicom_series ORDER BY patient_id",
            FILTERS,
            "dicom_series.patient_id",
        ),
        # catalog columns are untouched by a release of DICOM columns
        (
            "SELECT series_instance_uid, person_source_value FROM dicom_series, person",
            {},
            "person.person_source_value",
        ),
    ],
)
def test_identifying_output_releases_nothing_else(sql: str, kwargs: dict[str, Any], where: str) -> None:
    with pytest.raises(GuardError) as info:
        validate(sql, **RELEASE, **kwargs)
    assert (info.value.rule, info.value.where) == (Rule.IDENTIFYING_COLUMN, where)
    assert SECRET not in str(info.value)


def test_identifying_output_defaults_to_nothing_and_allows_filters_with_it() -> None:
    with pytest.raises(GuardError) as info:
        validate("SELECT series_instance_uid FROM dicom_series", extra_tables={"dicom_series": _DICOM})
    assert info.value.rule == Rule.IDENTIFYING_COLUMN
    v = validate("SELECT series_instance_uid FROM dicom_series WHERE patient_id = 'x'", **RELEASE, **FILTERS)
    assert v.output_columns == ("series_instance_uid",)
    # a hand-built statement claiming a release it was not validated with is checked under its own options
    forged = v.model_copy(update={"identifying_output": ()})
    with pytest.raises(GuardError):
        revalidate(forged)
    # names are case-insensitive and come back as spelt in the catalog
    v = validate(
        "SELECT series_instance_uid FROM dicom_series",
        extra_tables={"dicom_series": _DICOM},
        identifying_output="DICOM_SERIES.Series_Instance_UID",
    )
    assert v.identifying_output == ("dicom_series.series_instance_uid",)


@pytest.mark.parametrize(
    "names",
    [["series_instance_uid"], ["dicom_series.no_such_column"], ["no_table.x"], ["a.b.c"]],
)
def test_identifying_output_names_must_be_catalogued_columns(names: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        validate("SELECT 1", extra_tables={"dicom_series": _DICOM}, identifying_output=names)
    assert not isinstance(info.value, GuardError)


# (sql, rule's where, words of the message) for queries the expansion caps refuse
EXPANSIONS: list[tuple[str, str, str]] = [
    ("SELECT repeat('x', 1001) AS s", "repeat", "repeat() count above the limit of 1,000"),
    ("SELECT repeat('abcdefghijk', 1000) AS s", "repeat", "more than 10,000 characters"),
    ("SELECT repeat(repeat('x', 100), 200) AS s", "repeat", "more than 10,000 characters"),
    ("SELECT repeat(repeat(gender_source_value, 9), 9) AS s FROM person", "repeat", "built by repeat"),
    ("SELECT repeat('x', year_of_birth) AS s FROM person", "repeat", "needs a constant count"),
    ("SELECT repeat('x', 10 * 10 * 10 * 10) AS s", "repeat", "count above the limit"),
    ("SELECT repeat('x', 2 ** 40) AS s", "repeat", "count above the limit"),
    ("SELECT repeat('x', CAST(5e8 AS BIGINT)) AS s", "repeat", "count above the limit"),
    ("SELECT repeat('x', LEAST(year_of_birth, 5000)) AS s FROM person", "repeat", "above the limit"),
    ("SELECT repeat([1, 2], 100000) AS l", "repeat", "count above the limit"),
    ("SELECT space(100000) AS s", "space", "space() count above the limit of 10,000"),
    ("SELECT rpad('x', 10001, 'y') AS s", "rpad", "rpad() width above the limit of 10,000"),
    ("SELECT lpad('x', year_of_birth) AS s FROM person", "lpad", "needs a constant width"),
    ("SELECT format('{:>100000}', 1) AS s", "format", "width or precision above the limit"),
    ("SELECT format('{:.{}f}', 1.5, 100000000) AS s", "format", "not passed in"),
    ("SELECT format(gender_source_value, 1) AS s FROM person", "format", "literal format string"),
    ("SELECT range(10000000) AS l", "range", "more than 1,000,000 values"),
    ("SELECT range(-1e18, 1e18) AS l", "range", "more than 1,000,000 values"),
    ("SELECT range(0, 10, 0) AS l", "range", "more than 1,000,000 values"),
    ("SELECT range(year_of_birth) AS l FROM person", "range", "needs constant arguments"),
    ("SELECT generate_series(1, 1000001) AS l", "generate_series", "more than 1,000,000 values"),
    (
        "SELECT generate_series(DATE '1900-01-01', DATE '2020-01-01', INTERVAL 1 MINUTE) AS l",
        "generate_series",
        "more than 1,000,000 values",
    ),
    (
        "SELECT generate_series(DATE '1900-01-01', DATE '2020-01-01', INTERVAL '1 hour') AS l",
        "generate_series",
        "more than 1,000,000 values",
    ),
    ("SELECT unnest(range(1e8)) AS i", "range", "more than 1,000,000 values"),
    (
        "SELECT " + ", ".join(f"lpad('x', 9000) AS c{i}" for i in range(12)),
        "padding",
        "at most 100,000 characters together",
    ),
]


@pytest.mark.parametrize(("sql", "where", "words"), EXPANSIONS, ids=[e[0][:60] for e in EXPANSIONS])
def test_expansion_above_its_cap_is_refused(sql: str, where: str, words: str) -> None:
    with pytest.raises(GuardError) as info:
        validate(sql, allowed_table_functions={"range", "generate_series"})
    err = info.value
    assert (err.rule, err.where) == (Rule.EXPANSION_LIMIT, where), err.message
    assert words in err.message
    assert "ask for smaller values" in err.message
    for literal in ("500000000", "100000000", "1e18", "5e8"):
        assert literal not in err.message
