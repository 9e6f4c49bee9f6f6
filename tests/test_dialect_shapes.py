"""DuckDB SQL rendered for PostgreSQL (sql_guard.dialect_shapes): exact texts, no server needed.

The same shapes run on a real server in tests/test_postgres.py (equal person sets with DuckDB)."""

from __future__ import annotations

import datetime

import pytest

from cohort_engine.sql_guard.dialect_shapes import (
    bind_parameters,
    concept_set_ctes,
    inline_concept_sets,
    inline_temp_tables,
    number_placeholders,
    parse_duckdb,
    temp_table_statement,
    to_postgres,
)


def _pg(sql: str, params: list | None = None) -> str:
    numbered, n = number_placeholders(sql)
    tree = parse_duckdb(numbered)
    if n or params:
        bind_parameters(tree, params or [])
    return to_postgres(tree, identity="postgresql://reader@db/omop")


def test_parameters_are_bound_as_quoted_literals_in_written_order() -> None:
    sql = (
        "SELECT '?' AS q FROM concept WHERE concept_name LIKE '%x' AND vocabulary_id = ? "
        "AND concept_id IN (SELECT unnest(?)) AND valid_start_date > ?"
    )
    assert _pg(sql, ["it's", [1, 2], datetime.date(2020, 1, 2)]) == (
        "SELECT '?' AS q FROM concept WHERE concept_name LIKE '%x' AND vocabulary_id = 'it''s' "
        "AND concept_id IN (SELECT UNNEST(ARRAY[1, 2])) AND valid_start_date > CAST('2020-01-02' AS DATE)"
    )


def test_a_missing_parameter_is_a_caller_error() -> None:
    numbered, _ = number_placeholders("SELECT ? + ?")
    with pytest.raises(ValueError, match=r"placeholder \$2 has no value \(1 given\)"):
        bind_parameters(parse_duckdb(numbered), [1])


def test_duckdb_only_functions() -> None:
    assert _pg("SELECT concept_id, ARG_MAX(n, LENGTH(n)) FROM s GROUP BY 1") == (
        "SELECT concept_id, (ARRAY_AGG(n ORDER BY LENGTH(n) DESC) FILTER(WHERE LENGTH(n) IS NOT NULL))[1] "
        "FROM s GROUP BY 1"
    )
    assert _pg(
        "SELECT d.path, current_setting('access_mode') FROM duckdb_databases() AS d "
        "WHERE d.database_name = current_database()"
    ) == (
        "SELECT d.path, CASE WHEN CURRENT_SETTING('transaction_read_only') = 'on' THEN 'read_only' "
        "ELSE 'read_write' END FROM (SELECT 'postgresql://reader@db/omop' AS path, CURRENT_DATABASE() "
        "AS database_name) AS d WHERE d.database_name = CURRENT_DATABASE()"
    )


def test_cte_read_in_exists_is_inlined_unless_it_aggregates() -> None:
    sql = (
        "WITH k1_all AS (SELECT person_id, procedure_date AS d FROM procedure_occurrence), "
        "keys AS (SELECT person_id, MIN(d) AS d FROM k1_all GROUP BY person_id), "
        "idx AS (SELECT person_id, condition_start_date AS d FROM condition_occurrence) "
        "SELECT i.person_id FROM idx AS i "
        "WHERE EXISTS (SELECT 1 FROM k1_all AS e WHERE e.person_id = i.person_id) "
        "AND EXISTS (SELECT 1 FROM keys AS k WHERE k.person_id = i.person_id)"
    )
    out = _pg(sql)
    assert out.startswith("WITH k1_all AS NOT MATERIALIZED (SELECT")
    assert "keys AS (SELECT" in out and "idx AS (SELECT" in out


def test_upper_case_filters_get_an_estimable_twin() -> None:
    assert _pg(
        "SELECT 1 FROM image_occurrence AS e WHERE UPPER(e.modality_source_value) IN ('XA', 'CT')"
    ) == (
        "SELECT 1 FROM image_occurrence AS e WHERE (e.modality_source_value IN ('XA', 'CT') "
        "OR UPPER(e.modality_source_value) IN ('XA', 'CT'))"
    )
    # a lower-case literal can never equal UPPER(x): left as written
    assert _pg("SELECT 1 FROM t WHERE UPPER(t.m) IN ('xa')") == "SELECT 1 FROM t WHERE UPPER(t.m) IN ('xa')"


def test_concept_sets_become_literal_lists() -> None:
    sql = (
        "WITH cs_k1 AS (SELECT concept_id FROM concept WHERE concept_id IN (2) UNION "
        "SELECT descendant_concept_id AS concept_id FROM concept_ancestor WHERE ancestor_concept_id IN (2)), "
        "cs_k2 AS (SELECT concept_id FROM concept WHERE concept_id IN (9)) "
        "SELECT e.person_id FROM procedure_occurrence AS e "
        "WHERE e.procedure_concept_id IN (SELECT concept_id FROM cs_k1) "
        "AND NOT e.procedure_concept_id IN (SELECT concept_id FROM cs_k2)"
    )
    tree = parse_duckdb(sql)
    assert sorted(concept_set_ctes(tree)) == ["cs_k1", "cs_k2"]
    out = to_postgres(inline_concept_sets(tree, {"cs_k1": [5, 2, 3], "cs_k2": []}))
    assert out.endswith(
        "SELECT e.person_id FROM procedure_occurrence AS e "
        "WHERE e.procedure_concept_id IN (2, 3, 5) AND NOT FALSE"
    )


def test_temporary_tables_are_read_as_materialised_ctes() -> None:
    create = temp_table_statement(
        parse_duckdb("CREATE OR REPLACE TEMP TABLE cohort_eval AS WITH a AS (SELECT 1 AS x) SELECT x FROM a")
    )
    assert create is not None and create.name == "cohort_eval" and create.query is not None
    drop = temp_table_statement(parse_duckdb("DROP TABLE IF EXISTS temp.cohort_eval"))
    assert drop is not None and drop.name == "cohort_eval" and drop.query is None
    assert temp_table_statement(parse_duckdb("CREATE TABLE person2 AS SELECT 1")) is None
    query = parse_duckdb("WITH z AS (SELECT 2 AS y) SELECT COUNT(*) FROM temp.cohort_eval AS e, z")
    assert to_postgres(inline_temp_tables(query, {"cohort_eval": create.query})) == (
        "WITH cohort_eval AS MATERIALIZED (WITH a AS (SELECT 1 AS x) SELECT x FROM a), "
        "z AS (SELECT 2 AS y) SELECT COUNT(*) FROM cohort_eval AS e, z"
    )
