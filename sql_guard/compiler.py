"""Cohort spec → temporal SQL.

One CTE per concept set, one per criterion; everything is evaluated per *index event* so that
"a person qualifies when any index occurrence satisfies every criterion" holds literally. The SQL is
written in DuckDB's dialect, parsed once into a sqlglot expression tree and rendered for any target
dialect from that tree (``dialect=`` is data, not a code path).

Shape of the generated query::

    cs_index, cs_<k> …        concept ids of each concept set (descendants via concept_ancestor,
                              names/synonyms matched in the mart's own vocabulary)
    index_events              every event of the index domain/concept set (first-ever if asked)
    index_rows                index events inside the date range, with a demographics flag
    k<n>_events               events of criterion n inside its window around its anchor's events
    k<n>_ok                   index rows for which criterion n's occurrence rule holds
    flags                     index rows with one boolean per rule (demographics, criterion 1 …)

The cohort query keeps persons with a row where every flag is true; the attrition query counts the
persons left after each rule, in order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from cohort_engine.schema_catalog.domains import DOMAIN_TABLES, GENDER_CONCEPTS
from cohort_engine.spec import CohortSpec, ConceptSet, Domain, EventFilter, Occurrence
from cohort_engine.sql_guard.errors import CompileError
from cohort_engine.sql_guard.windows import window_conditions

__all__ = ["AttritionStep", "CompileError", "CompiledCohort", "compile_cohort", "lit"]

INDEX_KEY = "index"


@dataclass(frozen=True)
class AttritionStep:
    name: str
    description: str


@dataclass
class CompiledCohort:
    """SQL for the cohort (one row per person) and for its attrition, in one dialect."""

    cohort_sql: str
    attrition_sql: str
    steps: list[AttritionStep]
    dialect: str
    event_columns: dict[str, str] = field(default_factory=dict)  # criterion label → output column


def lit(value: str) -> str:
    """A SQL string literal, quoted by sqlglot (never by hand)."""
    return exp.Literal.string(value).sql(dialect="duckdb")


def _ints(values: Sequence[int]) -> str:
    return ", ".join(str(int(v)) for v in sorted(set(values)))


def _slug(label: str) -> str:
    s = re.sub(r"[^0-9a-zA-Z]+", "_", label).strip("_").lower()
    return s or "criterion"


def _normalise_name(text: str) -> str:
    """Names compare lower-cased with whitespace removed, so '관상 동맥' matches '관상동맥'."""
    return re.sub(r"\s+", "", text).lower()


#: Escape character of every LIKE pattern built here: a plain character that needs no quoting in a
#: string literal, so the same ``ESCAPE '!'`` clause reads alike in DuckDB and PostgreSQL.
LIKE_ESCAPE = "!"


def like_contains(text: str) -> str:
    """``LIKE <pattern> ESCAPE '!'`` matching ``text`` anywhere, with ``%``, ``_`` and ``!`` literal.

    Why: a name match is text, not a pattern; unescaped, "50%" or "a_b" would match far more
    concepts than the person asked for.
    """
    esc = LIKE_ESCAPE
    body = text.replace(esc, esc + esc).replace("%", esc + "%").replace("_", esc + "_")
    return f"LIKE {lit('%' + body + '%')} ESCAPE {lit(esc)}"


def codeset_sql(cs: ConceptSet, domain: Domain, resolved_ids: Sequence[int]) -> str | None:
    """SQL selecting the concept ids of a concept set, or None when it means 'any concept'."""
    ids = sorted(set(cs.concept_ids) | set(resolved_ids))
    if cs.is_empty():
        return None
    if (cs.terms or cs.codeset) and not ids and not cs.name_contains:
        raise CompileError(
            f"the {domain.value} concepts {', '.join(cs.terms) or cs.codeset!r} were not resolved to any "
            "concept in this mart; resolve them first or give concept ids"
        )
    parts: list[str] = []
    if ids:
        parts.append(f"SELECT concept_id FROM concept WHERE concept_id IN ({_ints(ids)})")
        if cs.include_descendants:
            parts.append(
                "SELECT descendant_concept_id AS concept_id FROM concept_ancestor "
                f"WHERE ancestor_concept_id IN ({_ints(ids)})"
            )
    if cs.name_contains:
        omop_domains = DOMAIN_TABLES[domain].omop_domain_ids
        domain_filter = (
            f"domain_id IN ({', '.join(lit(d) for d in omop_domains)}) AND " if omop_domains else ""
        )
        name_likes = " OR ".join(
            f"REPLACE(LOWER(concept_name), ' ', '') {like_contains(_normalise_name(n))}"
            for n in cs.name_contains
        )
        syn_likes = " OR ".join(
            f"REPLACE(LOWER(concept_synonym_name), ' ', '') {like_contains(_normalise_name(n))}"
            for n in cs.name_contains
        )
        named = (
            f"SELECT concept_id FROM concept WHERE {domain_filter}({name_likes}) UNION "
            f"SELECT concept_id FROM concept WHERE {domain_filter}concept_id IN "
            f"(SELECT concept_id FROM concept_synonym WHERE {syn_likes})"
        )
        parts.append(named)
        if cs.include_descendants:
            parts.append(
                "SELECT descendant_concept_id AS concept_id FROM concept_ancestor "
                f"WHERE ancestor_concept_id IN ({named})"
            )
    sql = " UNION ".join(parts)
    if cs.exclude_concept_ids:
        ex = _ints(cs.exclude_concept_ids)
        excluded = f"SELECT concept_id FROM concept WHERE concept_id IN ({ex})"
        if cs.include_descendants:
            excluded += (
                " UNION SELECT descendant_concept_id AS concept_id FROM concept_ancestor "
                f"WHERE ancestor_concept_id IN ({ex})"
            )
        sql = f"SELECT concept_id FROM ({sql}) EXCEPT {excluded}"
    return sql


def _value_condition(f: EventFilter, alias: str) -> list[str]:
    conds: list[str] = []
    dt = DOMAIN_TABLES[f.domain]
    if f.value is not None:
        col = f"{alias}.{dt.value_column}"
        v = f.value
        if v.op == "between":
            conds.append(f"{col} BETWEEN {v.value!r} AND {v.value_high!r}")
        else:
            conds.append(f"{col} {v.op} {v.value!r}")
    if f.imaging is not None:
        if f.imaging.modalities:
            conds.append(
                f"UPPER({alias}.modality_source_value) IN ({', '.join(lit(m) for m in f.imaging.modalities)})"
            )
        if f.imaging.body_parts:
            conds.append(
                f"UPPER({alias}.anatomic_site_source_value) IN "
                f"({', '.join(lit(b) for b in f.imaging.body_parts)})"
            )
    if f.visit_concept_ids:
        conds.append(f"{alias}.visit_concept_id IN ({_ints(f.visit_concept_ids)})")
    return conds


def events_sql(f: EventFilter, codeset_cte: str | None) -> str:
    """All events of a domain matching the filter: person_id, event_id, event_date, visit_id."""
    dt = DOMAIN_TABLES[f.domain]
    event_id = f"e.{dt.event_id}" if dt.event_id else "e.person_id"
    visit = f"e.{dt.visit_column}" if dt.visit_column else "CAST(NULL AS BIGINT)"
    conds = _value_condition(f, "e")
    if codeset_cte is not None:
        if dt.concept_column is None:
            raise CompileError(
                f"{f.domain.value} events carry no concept; filter them by modality or body part"
            )
        conds.insert(0, f"e.{dt.concept_column} IN (SELECT concept_id FROM {codeset_cte})")
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    return (
        f"SELECT e.person_id AS person_id, {event_id} AS event_id, CAST(e.{dt.date_column} AS DATE) AS "
        "event_date, "
        f"{visit} AS visit_id FROM {dt.table} AS e{where}"
    )


def _occurrence_condition(o: Occurrence, count_expr: str) -> str:
    op = {"at_least": ">=", "at_most": "<=", "exactly": "="}[o.type]
    return f"{count_expr} {op} {o.count}"


def _demographics_condition(spec: CohortSpec) -> str:
    d = spec.demographics
    conds = []
    if d.sexes:
        conds.append(f"p.gender_concept_id IN ({_ints([GENDER_CONCEPTS[s] for s in d.sexes])})")
    age = "(EXTRACT(YEAR FROM i.event_date) - p.year_of_birth)"
    if d.age_min is not None:
        conds.append(f"{age} >= {d.age_min}")
    if d.age_max is not None:
        conds.append(f"{age} <= {d.age_max}")
    return " AND ".join(conds) if conds else "TRUE"


def compile_cohort(
    spec: CohortSpec,
    resolved: Mapping[str, Sequence[int]] | None = None,
    dialect: str = "duckdb",
) -> CompiledCohort:
    """Compile a spec. ``resolved`` maps 'index' / criterion labels to concept ids found for terms."""
    resolved = resolved or {}
    ctes: list[tuple[str, str]] = []

    def codeset(key: str, f: EventFilter, name: str) -> str | None:
        sql = codeset_sql(f.concepts, f.domain, resolved.get(key, ()))
        if sql is None:
            return None
        ctes.append((name, sql))
        return name

    # Index events.
    idx = spec.index
    idx_events = events_sql(idx, codeset(INDEX_KEY, idx, "cs_index"))
    if idx.first_occurrence:
        idx_events = (
            f"SELECT person_id, event_id, event_date, visit_id FROM ({idx_events}) AS f "
            "QUALIFY ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY event_date, event_id) = 1"
        )
    ctes.append(("index_events", idx_events))
    date_conds = []
    if idx.date_range and idx.date_range.start:
        date_conds.append(f"i.event_date >= CAST({lit(idx.date_range.start.isoformat())} AS DATE)")
    if idx.date_range and idx.date_range.end:
        date_conds.append(f"i.event_date <= CAST({lit(idx.date_range.end.isoformat())} AS DATE)")
    where = f" WHERE {' AND '.join(date_conds)}" if date_conds else ""
    ctes.append(
        (
            "index_rows",
            "SELECT ROW_NUMBER() OVER (ORDER BY i.person_id, i.event_date, i.event_id) AS index_row, "
            "i.person_id, i.event_id, i.event_date, i.visit_id, "
            f"({_demographics_condition(spec)}) AS demo_ok "
            f"FROM index_events AS i JOIN person AS p ON p.person_id = i.person_id{where}",
        )
    )

    steps = [AttritionStep("index", "index events")]
    if not spec.demographics.is_empty():
        steps.append(AttritionStep("demographics", "demographics"))

    # Criteria: matched events per anchor event, then the occurrence rule per index row.
    flag_cols: list[str] = []
    event_columns: dict[str, str] = {}
    anchor_ctes: dict[str, str] = {INDEX_KEY: "index_rows"}
    for n, c in enumerate(spec.criteria, start=1):
        k = f"k{n}"
        cs_name = codeset(c.label, c, f"cs_{k}")
        ctes.append((f"{k}_all", events_sql(c, cs_name)))
        anchor = anchor_ctes[c.window.anchor]
        win = window_conditions(
            c.window,
            event_date="e.event_date",
            anchor_date="a.event_date",
            event_visit="e.visit_id",
            anchor_visit="a.visit_id",
        )
        join_on = " AND ".join(["e.person_id = a.person_id", *win])
        # Every anchor event keeps a row (LEFT JOIN) so that absence ("exactly 0") can be seen.
        anchor_select = (
            "a.index_row, a.event_id AS anchor_event_id"
            if anchor == "index_rows"
            else "a.index_row, a.matched_event_id AS anchor_event_id"
        )
        anchor_src = (
            "index_rows"
            if anchor == "index_rows"
            else "(SELECT index_row, person_id, event_id AS matched_event_id, event_date, visit_id "
            f"FROM {anchor}_events)"
        )
        ctes.append(
            (
                f"{k}_pairs",
                f"SELECT {anchor_select}, e.event_id, e.event_date, e.visit_id, e.person_id "
                f"FROM {anchor_src} AS a LEFT JOIN {k}_all AS e ON {join_on}",
            )
        )
        ctes.append(
            (
                f"{k}_ok",
                "SELECT DISTINCT index_row FROM (SELECT index_row, anchor_event_id, COUNT(event_id) AS n "
                f"FROM {k}_pairs GROUP BY index_row, anchor_event_id) AS counted "
                f"WHERE {_occurrence_condition(c.occurrence, 'n')}",
            )
        )
        if not c.occurrence.is_absence:
            # Events that exist: other criteria may anchor on them; the output shows the first one.
            ctes.append(
                (
                    f"{k}_events",
                    f"SELECT DISTINCT p.index_row, p.person_id, p.event_id, p.event_date, p.visit_id "
                    f"FROM {k}_pairs AS p WHERE p.event_id IS NOT NULL "
                    f"AND p.index_row IN (SELECT index_row FROM {k}_ok)",
                )
            )
            anchor_ctes[c.label] = k
            event_columns[c.label] = f"{_slug(c.label)}_date"
        flag_cols.append(f"r.index_row IN (SELECT index_row FROM {k}_ok) AS {k}_ok")
        steps.append(AttritionStep(k, c.label))

    flags_select = ", ".join(
        ["r.index_row", "r.person_id", "r.event_date AS index_date", "r.demo_ok", *flag_cols]
    )
    ctes.append(("flags", f"SELECT {flags_select} FROM index_rows AS r"))
    all_ok = " AND ".join(["demo_ok", *[f"k{n}_ok" for n in range(1, len(spec.criteria) + 1)]])
    ctes.append(("qualifying", f"SELECT index_row, person_id, index_date FROM flags WHERE {all_ok}"))

    # Cohort: earliest qualifying index row per person, with the first matched event of each criterion.
    ctes.append(
        (
            "cohort",
            "SELECT person_id, index_row, index_date FROM qualifying "
            "QUALIFY ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY index_date, index_row) = 1",
        )
    )
    event_selects = []
    for n, c in enumerate(spec.criteria, start=1):
        if c.label in event_columns:
            event_selects.append(
                f"(SELECT MIN(x.event_date) FROM k{n}_events AS x WHERE x.index_row = c.index_row) "
                f"AS {event_columns[c.label]}"
            )
    cohort_select = ", ".join(["c.person_id", "c.index_date", *event_selects])
    with_sql = "WITH " + ",\n".join(f"{name} AS ({sql})" for name, sql in ctes)
    cohort_sql = f"{with_sql}\nSELECT {cohort_select} FROM cohort AS c ORDER BY c.person_id"

    cumulative: list[str] = []
    counts = ["COUNT(DISTINCT person_id) AS step_0"]
    flag_names = (["demo_ok"] if not spec.demographics.is_empty() else []) + [
        f"k{n}_ok" for n in range(1, len(spec.criteria) + 1)
    ]
    for i, flag in enumerate(flag_names, start=1):
        cumulative.append(flag)
        counts.append(f"COUNT(DISTINCT CASE WHEN {' AND '.join(cumulative)} THEN person_id END) AS step_{i}")
    attrition_sql = f"{with_sql}\nSELECT {', '.join(counts)} FROM flags"

    return CompiledCohort(
        cohort_sql=render(cohort_sql, dialect),
        attrition_sql=render(attrition_sql, dialect),
        steps=steps,
        dialect=dialect,
        event_columns=event_columns,
    )


def render(duckdb_sql: str, dialect: str, pretty: bool = True) -> str:
    """Parse once (DuckDB dialect) and render the tree for the target dialect."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    return tree.sql(dialect=dialect, pretty=pretty)
