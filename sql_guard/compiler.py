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
    k<n>_pairs, k<n>_ok       a count, or an anchor on another criterion: events of criterion n in
                              its window around each anchor event, and the index rows whose
                              occurrence rule holds
    k<n>_events               matched events that later criteria anchor on
    flags                     index rows with one boolean per rule (demographics, criterion 1 …)
    staged                    index rows with ``reached``: how many rules hold, in order
    cohort                    the earliest qualifying index row per person

Why the shapes differ per criterion: "at least 1" and absence ("exactly 0") anchored on the index only
ask whether an event exists, so they are an ``EXISTS`` / ``NOT EXISTS`` per index row (a semi- or
anti-join, the window inside the subquery; with no window a plain join on the person) rather than
pairs that are counted; counts and anchors on another criterion's events need the windowed join.
The first matched event of each criterion is looked up for the cohort's rows only, by a grouped join.

The cohort query keeps each person's earliest row where every rule holds; the attrition query counts
the persons whose best row gets past each rule. The per-person evaluation (``eval_sql``) gives both at
once, for a caller that evaluates the chain once per ask and reads counts, persons and images back.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlglot
from sqlglot import exp

from cohort_engine.schema_catalog.domains import DOMAIN_TABLES, GENDER_CONCEPTS
from cohort_engine.schema_catalog.tables import Table, col
from cohort_engine.spec import CohortSpec, ConceptSet, DateRange, Domain, EventFilter, Occurrence
from cohort_engine.sql_guard.errors import CompileError
from cohort_engine.sql_guard.windows import window_conditions

__all__ = [
    "EVAL_TABLE",
    "AttritionStep",
    "CompileError",
    "CompiledCohort",
    "compile_cohort",
    "eval_table",
    "lit",
]

INDEX_KEY = "index"
#: The key of a query's WITH clause in sqlglot's tree ("with_" since sqlglot 28, "with" before).
WITH_ARG = "with_" if "with_" in exp.Select.arg_types else "with"
#: Name of the temporary table a pipeline materialises ``CompiledCohort.eval_sql`` into (per session).
EVAL_TABLE = "cohort_eval"


@dataclass(frozen=True)
class AttritionStep:
    name: str
    description: str


@dataclass
class CompiledCohort:
    """The SQL of one cohort, in one dialect.

    ``cohort_sql`` (one row per person) and ``attrition_sql`` (persons left after each rule) are
    standalone statements, rendered on first use from one parse of the shared CTE chain. The ``eval_*``
    statements (DuckDB) are for a caller that evaluates the chain once: ``eval_sql`` returns one row
    per person with an index event (``person_id``, ``reached`` = rules satisfied in order by their
    best index event, and for the cohort's persons their ``index_date`` and first matched events);
    materialised as :data:`EVAL_TABLE`, ``eval_attrition_sql`` and ``eval_cohort_sql`` read the
    attrition and the cohort's rows back from it.
    """

    steps: list[AttritionStep]
    dialect: str
    event_columns: dict[str, str] = field(default_factory=dict)  # criterion label → output column
    eval_sql: str = ""
    eval_attrition_sql: str = ""
    eval_cohort_sql: str = ""
    _with_sql: str = field(default="", repr=False)
    _finals: dict[str, str] = field(default_factory=dict, repr=False)
    #: rendered statements by name, and the parsed chain under "" (filled on first use)
    _rendered: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def cohort_sql(self) -> str:
        """Persons with their earliest qualifying index date and first matched events, by person."""
        return self._render("cohort")

    @property
    def attrition_sql(self) -> str:
        """One row: ``step_0`` … the persons left after each rule of :attr:`steps`."""
        return self._render("attrition")

    def _render(self, name: str) -> str:
        """Render one final statement over the chain, parsed once for all of them (sqlglot's parse
        of the long chain is the expensive part, so it is not repeated per statement)."""
        with _RENDER_LOCK:
            done = self._rendered.get(name)
            if isinstance(done, str):
                return done
            chain = self._rendered.get("")
            if chain is None:
                chain = sqlglot.parse_one(f"{self._with_sql}\nSELECT 1", read="duckdb").args[WITH_ARG]
                self._rendered[""] = chain
            final = sqlglot.parse_one(self._finals[name], read="duckdb")
            final.set(WITH_ARG, cast(exp.With, chain).copy())
            text = final.sql(dialect=self.dialect, pretty=True)
            self._rendered[name] = text
            return text


#: Rendering is rare (once per compiled cohort, which the pipeline caches): one lock for all of it.
_RENDER_LOCK = threading.Lock()


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


def events_sql(f: EventFilter, codeset_cte: str | None, date_range: DateRange | None = None) -> str:
    """All events of a domain matching the filter (and dated inside ``date_range``, a criterion's
    calendar range): person_id, event_id, event_date, visit_id."""
    dt = DOMAIN_TABLES[f.domain]
    event_id = f"e.{dt.event_id}" if dt.event_id else "e.person_id"
    visit = f"e.{dt.visit_column}" if dt.visit_column else "CAST(NULL AS BIGINT)"
    conds = _value_condition(f, "e")
    if date_range is not None and date_range.start:
        conds.append(f"CAST(e.{dt.date_column} AS DATE) >= CAST({lit(date_range.start.isoformat())} AS DATE)")
    if date_range is not None and date_range.end:
        conds.append(f"CAST(e.{dt.date_column} AS DATE) <= CAST({lit(date_range.end.isoformat())} AS DATE)")
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
    """Compile a spec. ``resolved`` maps 'index' / criterion labels to concept ids found for terms.

    The CTE chain is written once and shared by every statement of the cohort (see the module
    docstring): the standalone cohort and attrition queries, and the per-person evaluation that the
    pipeline materialises once per ask.
    """
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
    # A row number only where pairs are keyed by it: numbering sorts every index event.
    needs_row = any(not (c.window.anchor == INDEX_KEY and _is_semi(c.occurrence)) for c in spec.criteria)
    row_col = (
        "ROW_NUMBER() OVER (ORDER BY i.person_id, i.event_date, i.event_id) AS index_row, "
        if needs_row
        else ""
    )
    ctes.append(
        (
            "index_rows",
            f"SELECT {row_col}"
            "i.person_id, i.event_id, i.event_date, i.visit_id, "
            f"({_demographics_condition(spec)}) AS demo_ok "
            f"FROM index_events AS i JOIN person AS p ON p.person_id = i.person_id{where}",
        )
    )

    steps = [AttritionStep("index", "index events")]
    if not spec.demographics.is_empty():
        steps.append(AttritionStep("demographics", "demographics"))

    # Criteria: one flag per index row each, and the events later criteria anchor on.
    anchored_upon = {c.window.anchor for c in spec.criteria}
    flag_cols: list[str] = []
    event_columns: dict[str, str] = {}
    # label → how the cohort's first matched event of that criterion is found: the name of a CTE
    # of (index_row, event_date) rows, or the join condition of a direct lookup from the cohort's rows
    first_event: dict[str, tuple[str, str]] = {}
    anchor_ctes: dict[str, str] = {INDEX_KEY: "index_rows"}
    for n, c in enumerate(spec.criteria, start=1):
        k = f"k{n}"
        cs_name = codeset(c.label, c, f"cs_{k}")
        ctes.append((f"{k}_all", events_sql(c, cs_name, c.date_range)))
        anchor = anchor_ctes[c.window.anchor]
        win = window_conditions(
            c.window,
            event_date="e.event_date",
            anchor_date="a.event_date",
            event_visit="e.visit_id",
            anchor_visit="a.visit_id",
        )
        join_on = " AND ".join(["e.person_id = a.person_id", *win])
        if anchor == "index_rows" and _is_semi(c.occurrence):
            # Presence or absence of one event around the index: a semi-join (EXISTS) or an anti-join
            # (NOT EXISTS) per index row, with the window inside the subquery; no pairs, no counting.
            # (A COUNT(event_id) skips NULL ids, so the subquery does too.)
            exists = (
                f"EXISTS (SELECT 1 FROM {k}_all AS e WHERE "
                + " AND ".join(["e.person_id = a.person_id", "NOT e.event_id IS NULL", *win])
                + ")"
            )
            negate = "NOT " if c.occurrence.is_absence else ""
            if c.occurrence.is_absence or c.label not in anchored_upon:
                flag_cols.append(f"{negate}{exists} AS {k}_ok")
            else:  # its matched events are joined anyway, for the criteria anchored on them
                flag_cols.append(f"a.index_row IN (SELECT index_row FROM {k}_events) AS {k}_ok")
            if not c.occurrence.is_absence:
                matched = f"FROM index_rows AS a JOIN {k}_all AS e ON {join_on} WHERE NOT e.event_id IS NULL"
                if c.label in anchored_upon:
                    ctes.append(
                        (
                            f"{k}_events",
                            "SELECT DISTINCT a.index_row, e.person_id, e.event_id, e.event_date, e.visit_id "
                            + matched,
                        )
                    )
                    anchor_ctes[c.label] = k
                    first_event[c.label] = (f"{k}_events", "")
                else:
                    # looked up from the cohort's own rows (alias a: person_id, event_date, visit_id)
                    first_event[c.label] = (
                        "",
                        f"JOIN {k}_all AS e ON {join_on} WHERE NOT e.event_id IS NULL",
                    )
                event_columns[c.label] = f"{_slug(c.label)}_date"
        elif anchor != "index_rows" and c.occurrence.type == "at_least" and c.occurrence.count == 1:
            # At least one event around some matched event of an earlier criterion: the matched pairs
            # themselves (an inner join); an index row qualifies when it has one.
            ctes.append(
                (
                    f"{k}_events",
                    "SELECT DISTINCT a.index_row, e.person_id, e.event_id, e.event_date, e.visit_id "
                    f"FROM {anchor}_events AS a JOIN {k}_all AS e ON {join_on} WHERE NOT e.event_id IS NULL",
                )
            )
            anchor_ctes[c.label] = k
            event_columns[c.label] = f"{_slug(c.label)}_date"
            first_event[c.label] = (f"{k}_events", "")
            flag_cols.append(f"a.index_row IN (SELECT index_row FROM {k}_events) AS {k}_ok")
        else:
            # A count, or an anchor on another criterion's events: matched events per anchor event.
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
                    "SELECT DISTINCT index_row FROM (SELECT index_row, anchor_event_id, "
                    f"COUNT(event_id) AS n FROM {k}_pairs GROUP BY index_row, anchor_event_id) AS counted "
                    f"WHERE {_occurrence_condition(c.occurrence, 'n')}",
                )
            )
            if not c.occurrence.is_absence:
                # Events that exist: other criteria may anchor on them; the output shows the first one.
                ctes.append(
                    (
                        f"{k}_events",
                        f"SELECT DISTINCT p.index_row, p.person_id, p.event_id, p.event_date, p.visit_id "
                        f"FROM {k}_pairs AS p WHERE NOT p.event_id IS NULL "
                        f"AND p.index_row IN (SELECT index_row FROM {k}_ok)",
                    )
                )
                anchor_ctes[c.label] = k
                event_columns[c.label] = f"{_slug(c.label)}_date"
                first_event[c.label] = (f"{k}_events", "")
            flag_cols.append(f"a.index_row IN (SELECT index_row FROM {k}_ok) AS {k}_ok")
        steps.append(AttritionStep(k, c.label))

    row = ["index_row"] if needs_row else []
    flags_select = ", ".join(
        [
            *(f"a.{c}" for c in row),
            "a.person_id",
            "a.event_id",
            "a.visit_id",
            "a.event_date AS index_date",
            "a.demo_ok",
            *flag_cols,
        ]
    )
    ctes.append(("flags", f"SELECT {flags_select} FROM index_rows AS a"))
    flag_names = (["demo_ok"] if not spec.demographics.is_empty() else []) + [
        f"k{n}_ok" for n in range(1, len(spec.criteria) + 1)
    ]
    full = len(flag_names)
    # How far down the funnel each index row gets: the number of leading rules it satisfies (a NULL
    # flag, e.g. an unknown sex, fails its rule as it fails a WHERE).
    reached = (
        "CASE "
        + " ".join(f"WHEN NOT COALESCE({f}, FALSE) THEN {i}" for i, f in enumerate(flag_names))
        + f" ELSE {full} END"
        if flag_names
        else "0"
    )
    staged_cols = ", ".join([*row, "person_id", "event_id", "visit_id", "index_date"])
    ctes.append(("staged", f"SELECT {staged_cols}, {reached} AS reached FROM flags"))
    # Per person: the best rule reached and the earliest qualifying index date (a GROUP BY, not a
    # window over every index row).
    per_person = (
        "SELECT person_id, MAX(reached) AS reached, "
        f"MIN(CASE WHEN reached = {full} THEN index_date END) AS index_date FROM staged GROUP BY person_id"
    )
    # The first matched event of each criterion, for the cohort's rows only: grouped joins, never a
    # correlated subquery per output row.
    event_joins: list[str] = []
    event_selects: list[str] = []
    for n, c in enumerate(spec.criteria, start=1):
        if c.label not in event_columns:
            continue
        cte, tail = first_event[c.label]
        if cte:
            source = (
                f"SELECT q.person_id, MIN(x.event_date) AS event_date FROM cohort AS q JOIN {cte} AS x "
                "ON x.index_row = q.index_row GROUP BY q.person_id"
            )
        else:
            source = (
                "SELECT a.person_id, MIN(e.event_date) AS event_date FROM cohort AS a "
                f"{tail} GROUP BY a.person_id"
            )
        event_joins.append(f" LEFT JOIN ({source}) AS f{n} ON f{n}.person_id = c.person_id")
        event_selects.append(f"f{n}.event_date AS {event_columns[c.label]}")
    joins = "".join(event_joins)
    if event_joins:
        # The qualifying index row of each person: on their earliest date, the lowest event id (the
        # order index rows are numbered in). Only the rows of that date are ranked.
        tie = ", ".join(["s.event_id", *(f"s.{c}" for c in row)])
        ctes.append(("best", per_person))
        cohort_cte = (
            "SELECT s.person_id, s.index_date, s.event_date, s.visit_id"
            + "".join(f", s.{c}" for c in row)
            + " FROM (SELECT *, index_date AS event_date FROM staged) AS s JOIN best AS b "
            "ON b.person_id = s.person_id AND b.index_date = s.index_date "
            f"WHERE s.reached = {full} "
            f"QUALIFY ROW_NUMBER() OVER (PARTITION BY s.person_id ORDER BY {tie}) = 1"
        )
        persons_src = "best"
    else:
        cohort_cte = (
            "SELECT person_id, MIN(index_date) AS index_date FROM staged "
            f"WHERE reached = {full} GROUP BY person_id"
        )
        persons_src = f"({per_person})"
    ctes.append(("cohort", cohort_cte))
    with_sql = "WITH " + ",\n".join(f"{name} AS ({sql})" for name, sql in ctes)
    cohort_final = (
        f"SELECT {', '.join(['c.person_id', 'c.index_date', *event_selects])} FROM cohort AS c{joins} "
        "ORDER BY c.person_id"
    )
    counts = ["COUNT(DISTINCT person_id) AS step_0"] + [
        f"COUNT(DISTINCT CASE WHEN reached >= {i} THEN person_id END) AS step_{i}" for i in range(1, full + 1)
    ]
    attrition_final = f"SELECT {', '.join(counts)} FROM staged"
    eval_sql = (
        f"{with_sql}\n"
        f"SELECT {', '.join(['r.person_id', 'r.reached', 'r.index_date', *event_selects])} "
        f"FROM {persons_src} AS r"
        + (f" LEFT JOIN cohort AS c ON c.person_id = r.person_id{joins}" if joins else "")
    )
    out_cols = ", ".join(["person_id", "index_date", *event_columns.values()])
    return CompiledCohort(
        steps=steps,
        dialect=dialect,
        event_columns=event_columns,
        eval_sql=eval_sql,
        eval_attrition_sql=f"SELECT {', '.join(counts)} FROM {EVAL_TABLE}",
        eval_cohort_sql=f"SELECT {out_cols} FROM {EVAL_TABLE} WHERE reached = {full}",
        _with_sql=with_sql,
        _finals={"cohort": cohort_final, "attrition": attrition_final},
    )


def _is_semi(o: Occurrence) -> bool:
    """Whether the rule only asks if one event exists (at least 1) or none does (absence)."""
    return o.is_absence or (o.type == "at_least" and o.count == 1)


def eval_table(compiled: CompiledCohort) -> Table:
    """The per-person evaluation a pipeline materialises (:data:`EVAL_TABLE`), as a guard table.

    Why a catalog entry: the statements that read the materialised rows back (attrition, the person
    list, the imaging summary) go through the guard like every other statement, with the same privacy
    classes as the mart's own columns (persons and dates are quasi-identifiers)."""
    return Table(
        name=EVAL_TABLE,
        description="One ask's evaluated cohort: each person with an index event, how far down the "
        "funnel they got, and (when they qualify) their index date and first matched events.",
        columns=[
            col("person_id", "BIGINT", "quasi", "Patient."),
            col("reached", "INTEGER", "safe", "Rules satisfied in order by the person's best index event."),
            col("index_date", "DATE", "quasi", "Earliest qualifying index date (NULL: not in the cohort)."),
            *(
                col(name, "DATE", "quasi", f"First matched event of {label!r}.")
                for label, name in compiled.event_columns.items()
            ),
        ],
    )


def render(duckdb_sql: str, dialect: str, pretty: bool = True) -> str:
    """Parse once (DuckDB dialect) and render the tree for the target dialect."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    return tree.sql(dialect=dialect, pretty=pretty)
