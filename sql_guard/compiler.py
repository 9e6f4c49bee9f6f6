"""Cohort spec → temporal SQL.

One CTE per concept set, one per criterion; everything is evaluated per *index event* so that
"a person qualifies when any index occurrence satisfies every criterion" holds literally. The SQL is
written in DuckDB's dialect, parsed once into a sqlglot expression tree and rendered for any target
dialect from that tree (``dialect=`` is data, not a code path).

Shape of the generated query::

    cs_index, cs_<k> …        concept ids of each concept set (descendants via concept_ancestor,
                              names/synonyms matched in the mart's own vocabulary); identical sets
                              and identical criterion event sets are written (and read) once
    index_events              every event of the index domain/concept set (first-ever if asked: the
                              earliest date by a GROUP BY, not a numbering of every event)
    index_rows                index events inside the date range (the demographics are a rule like
                              the criteria: a semi-join on ``person``)
    k<n>_keys                 a presence or absence around another criterion's events: the index
                              keys (person, date) with such a path, the anchors joined from the index
                              rows and the last step an EXISTS / NOT EXISTS; an anchor that a later
                              step is joined around is read as distinct (person, date) (``dated``)
    k<n>_ok (per key)         a count around the index that nothing anchors on: the index keys
                              (person, date) whose count holds, with their first matched event
    k<n>_pairs, k<n>_ok       any other count, or a rule around a counted criterion's events: events
                              of criterion n in its window around each anchor event, and the index
                              rows whose occurrence rule holds (keyed by a row number)
    k<n>_events               matched events per index row that a counted rule anchors on
    cohort_sql:  qualified    index rows where every rule holds: one WHERE of semi- and anti-joins
                              (a rule implied by another is not tested twice); where the only rule
                              left is a count's or a chain's keys CTE, the cohort reads that CTE
                 cohort       the earliest qualifying date per person (GROUP BY), or the earliest
                              row (ROW_NUMBER) where a first-event lookup needs the row itself
    eval / attrition: level_<i>  the index rows satisfying rules 1 … i (demographics, lists,
                              criteria), each level the one before filtered by one rule in a WHERE
                 staged, best persons with ``reached`` (the deepest level they get to), per person
    k<n>_matched              a criterion's events matched to the cohort's rows (and to its anchor's
                              matched events), where later criteria anchor on it

Why the shapes differ per criterion: "at least 1" and absence ("exactly 0") only ask whether an event
exists, so they are an ``EXISTS`` / ``NOT EXISTS`` per index row (a semi- or anti-join, the window
inside the subquery; with no window a plain join on the person) rather than pairs that are counted;
counts need the windowed join. Windows compare DATEs (``d + 7``, see ``windows.shifted``). The first
matched event of each criterion is looked up for the cohort's rows only, by a grouped join, or read
from the keys CTE that tested it (one join per keys CTE, whatever the number of its criteria).

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

from cohort_engine.schema_catalog.domains import DOMAIN_TABLES, GENDER_CONCEPTS, answers_key
from cohort_engine.schema_catalog.tables import Table, col
from cohort_engine.spec import (
    CohortSpec,
    ConceptSet,
    Criterion,
    DateRange,
    Domain,
    EventFilter,
    Occurrence,
    ValueFilter,
)
from cohort_engine.sql_guard.errors import CompileError
from cohort_engine.sql_guard.uploads import UPLOAD_TABLE
from cohort_engine.sql_guard.windows import shifted, window_conditions

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
    #: statement name → (its WITH chain, its final SELECT); the cohort alone has a leaner chain
    _finals: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    #: rendered statements by name (filled on first use)
    _rendered: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: each WITH chain parsed once (keyed by its text), for all the statements over it
    _chains: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

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
            with_sql, final_sql = self._finals[name]
            chain = self._chains.get(with_sql)
            if chain is None:
                chain = sqlglot.parse_one(f"{with_sql}\nSELECT 1", read="duckdb").args[WITH_ARG]
                self._chains[with_sql] = chain
            final = sqlglot.parse_one(final_sql, read="duckdb")
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


#: A concept set the mart lists with at most this many concepts (descendants included) is written into
#: the events' filter as literals when the caller read it from the mart (``compile_cohort``'s
#: ``expanded``): DuckDB then filters the table scan itself instead of hash-joining every row against a
#: codeset CTE (first stroke, 117 concepts, on 1M persons: 34 → 29 ms). Larger sets ("any cancer")
#: stay a CTE, so that the statement the guard parses stays small; so does every set of a cohort with
#: criteria (see ``inlined_codeset_keys``).
INLINE_CONCEPTS_MAX = 500


def inlined_codeset_keys(spec: CohortSpec) -> tuple[str, ...]:
    """The concept-set keys ``compile_cohort`` writes as literals when given them: the index's, in a
    cohort with no criterion (under a join, a literal filter changes DuckDB's estimates and so its join
    order, for better or worse — measured on 1M persons: "hypertension without diabetes" hashed its 4.2M
    index rows, 130 → 200 ms; "MI without PCI within 30 days" 38 → 52 ms)."""
    return () if spec.criteria else (INDEX_KEY,)


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


def value_sql(col: str, v: ValueFilter) -> str:
    """``col`` compared as ``v`` says: 'between' is inclusive unless an end is said to be left out."""
    if v.op != "between":
        return f"{col} {v.op} {v.value!r}"
    if not (v.exclude_low or v.exclude_high):
        return f"{col} BETWEEN {v.value!r} AND {v.value_high!r}"
    low, high = (">" if v.exclude_low else ">="), ("<" if v.exclude_high else "<=")
    return f"{col} {low} {v.value!r} AND {col} {high} {v.value_high!r}"


def _value_condition(f: EventFilter, alias: str) -> list[str]:
    conds: list[str] = []
    dt = DOMAIN_TABLES[f.domain]
    if f.value is not None:
        col = f"{alias}.{dt.value_column}"
        conds.append(value_sql(col, f.value))
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


def first_events_sql(c: Criterion, codeset_cte: str | None, answer_ids: Sequence[int] = ()) -> str:
    """Each person's first-ever event of a criterion (the lowest event id of the earliest date), then
    its calendar range: 'first' is chosen over all of the person's events, as for the index."""
    every = events_sql(c, codeset_cte, None, answer_ids)
    first = (
        f"SELECT person_id, event_id, event_date, visit_id FROM ({every}) AS f "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY event_date, event_id) = 1"
    )
    dr = c.date_range
    conds = []
    if dr is not None and dr.start:
        conds.append(f"event_date >= CAST({lit(dr.start.isoformat())} AS DATE)")
    if dr is not None and dr.end:
        conds.append(f"event_date <= CAST({lit(dr.end.isoformat())} AS DATE)")
    if not conds:
        return first
    return (
        f"SELECT person_id, event_id, event_date, visit_id FROM ({first}) AS ff WHERE {' AND '.join(conds)}"
    )


def events_sql(
    f: EventFilter,
    codeset_cte: str | None,
    date_range: DateRange | None = None,
    answer_ids: Sequence[int] = (),
) -> str:
    """All events of a domain matching the filter (and dated inside ``date_range``, a criterion's
    calendar range): person_id, event_id, event_date, visit_id. ``answer_ids``: the concepts resolved
    for the filter's coded answers ('Current smoker'), matched on the table's value_as_concept_id."""
    dt = DOMAIN_TABLES[f.domain]
    event_id = f"e.{dt.event_id}" if dt.event_id else "e.person_id"
    visit = f"e.{dt.visit_column}" if dt.visit_column else "CAST(NULL AS BIGINT)"
    conds = _value_condition(f, "e")
    if f.value_concepts is not None:
        answers = codeset_sql(f.value_concepts, f.domain, answer_ids)
        if answers is None or dt.value_concept_column is None:
            raise CompileError(f"the coded answers of the {f.domain.value} events were not resolved")
        conds.append(f"e.{dt.value_concept_column} IN (SELECT concept_id FROM ({answers}) AS a)")
    if date_range is not None and date_range.start:
        conds.append(f"CAST(e.{dt.date_column} AS DATE) >= CAST({lit(date_range.start.isoformat())} AS DATE)")
    if date_range is not None and date_range.end:
        conds.append(f"CAST(e.{dt.date_column} AS DATE) <= CAST({lit(date_range.end.isoformat())} AS DATE)")
    if codeset_cte is not None:
        if dt.concept_column is None:
            raise CompileError(
                f"{f.domain.value} events carry no concept; filter them by modality or body part"
            )
        # a codeset CTE's name, or the concepts themselves as a parenthesised list (INLINE_CONCEPTS_MAX)
        members = codeset_cte if codeset_cte.startswith("(") else f"(SELECT concept_id FROM {codeset_cte})"
        conds.insert(0, f"e.{dt.concept_column} IN {members}")
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
    """Whether index row ``a``'s person has the spec's sex and age at the index date: a semi-join on
    the person table, so that its columns are read for the rule alone (an inner join carrying a flag
    in every index row was ~10 % slower for "women 75 or older at their first stroke" on 1M persons).
    A person missing from the person table fails the rule (as a NULL flag did)."""
    d = spec.demographics
    conds = ["p.person_id = a.person_id"]
    if d.sexes:
        conds.append(f"p.gender_concept_id IN ({_ints([GENDER_CONCEPTS[s] for s in d.sexes])})")
    age = "(EXTRACT(YEAR FROM a.event_date) - p.year_of_birth)"
    if d.age_min is not None:
        conds.append(f"{age} >= {d.age_min}")
    if d.age_max is not None:
        conds.append(f"{age} <= {d.age_max}")
    return f"EXISTS (SELECT 1 FROM person AS p WHERE {' AND '.join(conds)})"


def _list_condition(spec: CohortSpec, n: int) -> str:
    """Whether index row ``a``'s person is in (or, for ``exclude``, not in) the spec's n-th uploaded list
    whose number column passes its value filter. The rows come from :data:`UPLOAD_TABLE`, which the
    runner puts on the run's cursors (``sql_guard.uploads``): no person id is written into the SQL."""
    u = spec.lists[n - 1]
    conds = [f"u.list_name = {lit(u.name)}"]
    if u.value is not None:
        conds.append(value_sql("u.value", u.value))
    w = u.date_window
    if w is None:
        member = f"a.person_id IN (SELECT u.person_id FROM {UPLOAD_TABLE} AS u WHERE {' AND '.join(conds)})"
    else:  # the index event inside the window of the person's own date in the list
        conds += ["u.person_id = a.person_id", "NOT u.list_date IS NULL"]
        conds += [f"a.event_date >= {shifted('u.list_date', w.start)}"] if w.start is not None else []
        conds += [f"a.event_date <= {shifted('u.list_date', w.end)}"] if w.end is not None else []
        member = f"EXISTS (SELECT 1 FROM {UPLOAD_TABLE} AS u WHERE {' AND '.join(conds)})"
    return f"NOT {member}" if u.mode == "exclude" else member


def compile_cohort(
    spec: CohortSpec,
    resolved: Mapping[str, Sequence[int]] | None = None,
    dialect: str = "duckdb",
    expanded: Mapping[str, Sequence[int]] | None = None,
) -> CompiledCohort:
    """Compile a spec. ``resolved`` maps 'index' / criterion labels to concept ids found for terms.
    ``expanded`` (optional) maps the same keys to every concept of the set as the mart lists it (the
    result of its ``codeset_sql`` there): sets of up to INLINE_CONCEPTS_MAX are then written as literals.

    The CTE chain is written once and shared by every statement of the cohort (see the module
    docstring): the standalone cohort and attrition queries, and the per-person evaluation that the
    pipeline materialises once per ask.
    """
    resolved = resolved or {}
    ctes: list[tuple[str, str]] = []
    # CTE body → the name it was written under: two criteria over the very same events (or concept
    # set) read one CTE, which DuckDB materialises once, instead of scanning the table twice.
    written: dict[str, str] = {}

    def add_shared(name: str, sql: str) -> str:
        if sql in written:
            return written[sql]
        written[sql] = name
        ctes.append((name, sql))
        return name

    def codeset(key: str, f: EventFilter, name: str) -> str | None:
        listed = (expanded or {}).get(key) if key in inlined_codeset_keys(spec) else None
        if listed and len(listed) <= INLINE_CONCEPTS_MAX:
            return f"({_ints(listed)})"
        sql = codeset_sql(f.concepts, f.domain, resolved.get(key, ()))
        if sql is None:
            return None
        if key == INDEX_KEY:
            ctes.append((name, sql))
            return name
        return add_shared(name, sql)

    # How each criterion is evaluated (see the module docstring): "path" = a presence or absence around
    # the index or around a presence's events, an EXISTS / NOT EXISTS per index row (see
    # path_condition); otherwise (counts) pairs keyed by the index row's number.
    by_label = {c.label: c for c in spec.criteria}
    path_form: dict[str, bool] = {}
    for c in spec.criteria:
        a = c.window.anchor
        if a != INDEX_KEY and (a not in path_form or by_label[a].occurrence.is_absence):
            raise CompileError(
                f"criterion {c.label!r} is anchored on {a!r}, which is no earlier criterion with matched "
                "events; anchor it on the index or on an earlier criterion that is not an absence"
            )
        path_form[c.label] = _is_semi(c.occurrence) and (a == INDEX_KEY or path_form[a])
    # A count around the index that no criterion anchors on: counted per index key (person, date), not
    # per numbered index row (every row of one key has the same window, so the same count). The index
    # rows are then not numbered, and the cohort reads the key's first event from the same CTE
    # (-25 % for "at least 3 HbA1c within a year" on 1M persons). Not with a same-visit window: a count
    # that may be 0 would keep a key whose visit is NULL, which no index row's visit then equals.
    anchors = {c.window.anchor for c in spec.criteria}
    count_keyed = {
        c.label: not path_form[c.label]
        and c.window.anchor == INDEX_KEY
        and c.label not in anchors
        and not c.window.same_visit
        for c in spec.criteria
    }

    # Index events.
    idx = spec.index
    idx_events = events_sql(
        idx, codeset(INDEX_KEY, idx, "cs_index"), answer_ids=resolved.get(answers_key(INDEX_KEY), ())
    )
    if idx.first_occurrence and not any(
        c.window.anchor == INDEX_KEY and c.window.same_visit for c in spec.criteria
    ):
        # Each person's first date, by a GROUP BY. Which of that date's events it was is read by
        # nothing here (one index row per person: no ties to break; windows compare dates only), so
        # the event's id and visit are left out rather than found by a second pass.
        idx_events = (
            "SELECT person_id, CAST(NULL AS BIGINT) AS event_id, MIN(event_date) AS event_date, "
            f"CAST(NULL AS BIGINT) AS visit_id FROM ({idx_events}) AS f GROUP BY person_id"
        )
    elif idx.first_occurrence:
        # Each person's first event, whose visit a same-visit window compares: the lowest event id of
        # the earliest date. (A GROUP BY joined back to the events reads them twice, and PostgreSQL
        # nests that join in a loop: 80 s on the 20,000-person demo mart.)
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
    needs_row = any(not (path_form[c.label] or count_keyed[c.label]) for c in spec.criteria)
    row_col = (
        "ROW_NUMBER() OVER (ORDER BY i.person_id, i.event_date, i.event_id) AS index_row, "
        if needs_row
        else ""
    )
    # (the person table is read only by the demographics rule: see _demographics_condition)
    ctes.append(
        (
            "index_rows",
            f"SELECT {row_col}i.person_id, i.event_id, i.event_date, i.visit_id "
            f"FROM index_events AS i{where}",
        )
    )

    steps = [AttritionStep("index", "index events")]
    if not spec.demographics.is_empty():
        steps.append(AttritionStep("demographics", "demographics"))
    # Uploaded lists: one person-level rule each, after the demographics (sql_guard.uploads).
    list_conds = [_list_condition(spec, n) for n in range(1, len(spec.lists) + 1)]
    steps += [AttritionStep(f"u{n}", f"list {u.name} ({u.mode})") for n, u in enumerate(spec.lists, start=1)]

    # Criteria: one condition per index row each (alias ``a``), and the events later criteria anchor on.
    k_of = {c.label: f"k{n}" for n, c in enumerate(spec.criteria, start=1)}
    anchored_upon = {c.window.anchor for c in spec.criteria}
    all_cte: dict[str, str] = {}  # label → CTE of its events
    # label → CTE of (index_row, person_id, event_id, event_date, visit_id): its events per index row
    events_cte: dict[str, str] = {INDEX_KEY: "index_rows"}
    conditions: list[tuple[str, str]] = []  # (flag column, condition on index row a)
    event_columns: dict[str, str] = {}

    def win(c: Criterion, event: str, anchor: str) -> list[str]:
        anchor_domain = (
            spec.index.domain if c.window.anchor == INDEX_KEY else by_label[c.window.anchor].domain
        )
        return window_conditions(
            c.window,
            event_date=f"{event}.event_date",
            anchor_date=f"{anchor}.event_date",
            event_visit=f"{event}.visit_id",
            anchor_visit=f"{anchor}.visit_id",
            anchor_is_visit=anchor_domain is Domain.visit,
            event_is_visit=c.domain is Domain.visit,
        )

    def chain(label: str) -> list[Criterion]:
        """The criteria from the index to ``label``, following the anchors."""
        out: list[Criterion] = []
        while label != INDEX_KEY:
            out.append(by_label[label])
            label = by_label[label].window.anchor
        return out[::-1]

    # label → (CTE, key columns, column of the first matched event) of the index keys where a presence
    # criterion holds (see path_condition)
    keys_of: dict[str, tuple[str, list[str], str]] = {}
    # label → the column of its ``k<n>_ok`` with each index row's first matched event (a count around
    # the index row itself; see first_lookup)
    ok_first: dict[str, str] = {}
    # label → (CTE, extra condition on its row ``x``) where the criterion's rule is "the index key is a
    # row of that CTE (and the condition holds)": the cohort may then be read from the CTE itself
    key_rules: dict[str, tuple[str, str]] = {}
    matched: list[tuple[str, str]] = []  # CTEs after the cohort's (see matched_of)

    def keyed(c: Criterion) -> bool:
        """Whether a presence criterion gets a keys CTE (see path_condition)."""
        if not path_form[c.label] or c.occurrence.is_absence:
            return False
        w = c.window
        return c.window.anchor != INDEX_KEY or w.start is not None or w.end is not None or w.same_visit

    # A chain of presences, each the only criterion anchored on the one before it, shares one keys CTE:
    # the first one's events joined around the index rows, each later one's LEFT JOINed around the one
    # before (the anchors' table read once, and one join per level instead of one per criterion).
    group_of: dict[str, str] = {}  # label → the label of its group's first criterion
    for c in spec.criteria:
        a = c.window.anchor
        joins_group = (
            keyed(c) and a in group_of and sum(1 for d in spec.criteria if d.window.anchor == a) == 1
        )
        if keyed(c):
            group_of[c.label] = group_of[a] if joins_group else c.label
    members = {
        root: [c for c in spec.criteria if group_of.get(c.label) == root] for root in set(group_of.values())
    }

    def path_condition(c: Criterion) -> str:
        """EXISTS (or NOT EXISTS) of an event around the index row: a semi- or anti-join.

        With no window (and no visit to compare) it is a test on the person alone. A presence in a
        window, or around another criterion's events, gets a CTE of the index keys (person, date, and
        visit where the first window compares visits) where it holds, each with its first matched event:
        one windowed join (down the chain of anchors) grouped by key. The index row's test is then a
        semi-join on its key, and the cohort's first matched event is read from the same CTE, so the
        window join runs once for both. An absence at the end of a chain keeps the keys only, the last
        step a NOT EXISTS around the last anchor."""
        path = chain(c.label)
        negate = "NOT " if c.occurrence.is_absence else ""
        k = k_of[c.label]
        if keyed(c):
            root = group_of[c.label]
            name = f"{k_of[root]}_keys"
            key = ["person_id", "event_date", *(["visit_id"] if chain(root)[0].window.same_visit else [])]
            keys_of[c.label] = (name, key, f"{k}_first")
            match = " AND ".join(f"x.{x} = a.{x}" for x in key)
            if members[root][-1] is c:  # written once the last member's events are
                ctes.append((name, group_keys(root, key)))
            if root == c.label:
                key_rules[c.label] = (name, "")
                return f"EXISTS (SELECT 1 FROM {name} AS x WHERE {match})"
            key_rules[c.label] = (name, f"x.{k}_n > 0")
            return f"EXISTS (SELECT 1 FROM {name} AS x WHERE {match} AND x.{k}_n > 0)"
        if len(path) == 1:
            window = win(c, "e", "a")
            if not window:
                # a test on the person alone: against the persons with such an event, not every event
                # (the hash table of a semi- or anti-join is built from its right side: 2.1M diabetes
                # events against their persons cut "hypertension without diabetes" by ~15 % on 1M)
                persons = f"(SELECT DISTINCT person_id FROM {all_cte[c.label]} WHERE NOT event_id IS NULL)"
                return f"{negate}EXISTS (SELECT 1 FROM {persons} AS e WHERE e.person_id = a.person_id)"
            conds = ["e.person_id = a.person_id", "NOT e.event_id IS NULL", *window]
            return f"{negate}EXISTS (SELECT 1 FROM {all_cte[c.label]} AS e WHERE {' AND '.join(conds)})"
        # an absence around another criterion's events: the keys with such an anchor event
        key = ["person_id", "event_date", *(["visit_id"] if path[0].window.same_visit else [])]
        joins, conds, prev = path_joins(path[:-1])
        last = " AND ".join([f"e.person_id = {prev}.person_id", "NOT e.event_id IS NULL", *win(c, "e", prev)])
        conds.append(f"NOT EXISTS (SELECT 1 FROM {all_cte[c.label]} AS e WHERE {last})")
        key_cols = ", ".join(f"a.{x}" for x in key)
        ctes.append(
            (
                f"{k}_keys",
                f"SELECT DISTINCT {key_cols} FROM index_rows AS a{joins} WHERE {' AND '.join(conds)}",
            )
        )
        match = " AND ".join(f"x.{x} = a.{x}" for x in key)
        return f"EXISTS (SELECT 1 FROM {k}_keys AS x WHERE {match})"

    def dated(cc: Criterion, then: Criterion) -> str:
        """The distinct (person, date, and visit where a window compares it) of ``cc``'s events, for a
        join that ``then`` is joined around: the next join's pairs multiply with every event of one
        day (three images per angiography: 262k pairs instead of 87k on 1M persons), and only the
        dates (and visits) are compared."""
        visit = ", visit_id" if cc.window.same_visit or then.window.same_visit else ""
        events = all_cte[cc.label]
        # Only images come several to a day by design (series of one study); a DISTINCT over procedures
        # or drugs, mostly one a day, costs more than the pairs it saves (-6 % for the angiography →
        # PCI chain on 1M persons without it)
        distinct = "DISTINCT " if cc.domain is Domain.imaging else ""
        return f"(SELECT {distinct}person_id, event_date{visit} FROM {events} WHERE NOT event_id IS NULL)"

    def path_joins(path: list[Criterion], then: Criterion | None = None) -> tuple[str, list[str], str]:
        """Inner joins of each criterion's events around the one before (the first around index row
        a): the JOIN text, the conditions on event ids, and the last alias. The events of a criterion
        that another is joined around (the next one of the path, or ``then`` after the last) are read
        as distinct dates (see ``dated``)."""
        joins, conds, prev = "", [], "a"
        for depth, cc in enumerate(path, start=1):
            alias = f"e{depth}"
            on = " AND ".join([f"{alias}.person_id = a.person_id", *win(cc, alias, prev)])
            nxt = path[depth] if depth < len(path) else then
            if nxt is None:
                joins += f" JOIN {all_cte[cc.label]} AS {alias} ON {on}"
                conds.append(f"NOT {alias}.event_id IS NULL")
            else:
                joins += f" JOIN {dated(cc, nxt)} AS {alias} ON {on}"
            prev = alias
        return joins, conds, prev

    def group_keys(root: str, key: list[str]) -> str:
        """The keys CTE of a group: per index key, each member's first matched event, and for the later
        members how many paths reach them (they hold where that is not 0)."""
        later = members[root][1:]
        joins, conds, prev = path_joins(chain(root), later[0] if later else None)
        cols = [f"MIN({prev}.event_date) AS {k_of[root]}_first"]
        for depth, cc in enumerate(later, start=len(chain(root)) + 1):
            alias = f"e{depth}"
            nxt = later[depth - len(chain(root))] if depth - len(chain(root)) < len(later) else None
            on = " AND ".join([f"{alias}.person_id = a.person_id", *win(cc, alias, prev)])
            if nxt is None:
                # the last member holds where its count is not 0: its distinct days do (PCI is often coded
                # twice on one day, 00.66 and 36.07: fewer pairs to join and group)
                joins += f" LEFT JOIN {dated(cc, cc)} AS {alias} ON {on}"
            else:
                joins += f" LEFT JOIN {dated(cc, nxt)} AS {alias} ON {on}"
            cols += [
                f"MIN({alias}.event_date) AS {k_of[cc.label]}_first",
                f"COUNT({alias}.person_id) AS {k_of[cc.label]}_n",
            ]
            prev = alias
        key_cols = ", ".join(f"a.{x}" for x in key)
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        return f"SELECT {key_cols}, {', '.join(cols)} FROM index_rows AS a{joins}{where} GROUP BY {key_cols}"

    def matched_of(label: str) -> str:
        """The CTE of a criterion's events matched to the cohort's rows (q): around the row's index
        date, or around its anchor's matched events; one row per person, date (and visit, where a later
        window compares visits), so that a chain's fan-out stays bounded. Written on first need."""
        k = k_of[label]
        name = f"{k}_matched"
        if all(n != name for n, _ in matched):
            c = by_label[label]
            src = "cohort" if c.window.anchor == INDEX_KEY else matched_of(c.window.anchor)
            keep_visit = any(d.window.anchor == label and d.window.same_visit for d in spec.criteria)
            cols = ", ".join(["x.person_id", "x.event_date", *(["x.visit_id"] if keep_visit else [])])
            on = " AND ".join(["x.person_id = q.person_id", *win(c, "x", "q")])
            matched.append(
                (
                    name,
                    f"SELECT DISTINCT {cols} FROM {src} AS q JOIN {all_cte[label]} AS x ON {on} "
                    "WHERE NOT x.event_id IS NULL",
                )
            )
        return name

    def first_lookup(c: Criterion) -> str:
        """The earliest event of ``c`` matched to each cohort row (q): read from its keys CTE where it
        has one, else joined around the row's index date, or around its anchor's matched events.

        Not from the keys where the cohort's row is chosen by ROW_NUMBER (a window compares visits):
        PostgreSQL then estimates one row for both the cohort and the keys and joins them in a nested
        loop (77 s on the 20,000-person demo mart, against 0.2 s joined to the events)."""
        if c.label in keys_of and not by_row:
            name, key, column = keys_of[c.label]
            on = " AND ".join(f"x.{x} = q.{x}" for x in key)
            return f"SELECT q.person_id, x.{column} AS event_date FROM cohort AS q JOIN {name} AS x ON {on}"
        if c.label in ok_first and not by_row:
            # A count around the index row: its rows' first events were found while counting. Every
            # index row of the cohort's (person, date) has the same window, so any of them gives it;
            # the events' table is not joined again (-25 % for "at least 3 HbA1c" on 1M persons).
            ok = f"{k_of[c.label]}_ok"
            return (
                f"SELECT q.person_id, MIN(o.{ok_first[c.label]}) AS event_date FROM cohort AS q "
                "JOIN index_rows AS a ON a.person_id = q.person_id AND a.event_date = q.event_date "
                f"JOIN {ok} AS o ON o.index_row = a.index_row GROUP BY q.person_id"
            )
        src = "cohort" if c.window.anchor == INDEX_KEY else matched_of(c.window.anchor)
        on = " AND ".join(["x.person_id = q.person_id", *win(c, "x", "q")])
        return (
            f"SELECT q.person_id, MIN(x.event_date) AS event_date FROM {src} AS q "
            f"JOIN {all_cte[c.label]} AS x ON {on} WHERE NOT x.event_id IS NULL GROUP BY q.person_id"
        )

    def keyed_count(c: Criterion) -> str:
        """A count around the index, per index key (see ``count_keyed``): the keys whose count holds,
        each with its first matched event; the index row's test is a semi-join on its key. An inner
        join where the rule needs at least one event, a LEFT JOIN (a key with no event counts 0)
        where 0 satisfies it."""
        k = k_of[c.label]
        o = c.occurrence
        zero_ok = o.type == "at_most" or o.count == 0
        # one row per person already where the index is each person's first event
        keys = (
            "index_rows"
            if idx.first_occurrence
            else "(SELECT DISTINCT person_id, event_date FROM index_rows)"
        )
        on = " AND ".join(["e.person_id = a.person_id", *win(c, "e", "a")])
        first = (
            "MIN(CASE WHEN NOT e.event_id IS NULL THEN e.event_date END)" if zero_ok else "MIN(e.event_date)"
        )
        ctes.append(
            (
                f"{k}_ok",
                f"SELECT a.person_id, a.event_date, {first} AS {k}_first FROM {keys} AS a "
                f"{'LEFT ' if zero_ok else ''}JOIN {all_cte[c.label]} AS e ON {on} "
                f"GROUP BY a.person_id, a.event_date HAVING {_occurrence_condition(o, 'COUNT(e.event_id)')}",
            )
        )
        keys_of[c.label] = (f"{k}_ok", ["person_id", "event_date"], f"{k}_first")
        key_rules[c.label] = (f"{k}_ok", "")
        match = "x.person_id = a.person_id AND x.event_date = a.event_date"
        return f"EXISTS (SELECT 1 FROM {k}_ok AS x WHERE {match})"

    def events_of(label: str) -> str:
        """The CTE of a criterion's matched events per index row (written on first need)."""
        if label not in events_cte:
            c = by_label[label]
            src = events_of(c.window.anchor)
            name = f"{k_of[label]}_events"
            on = " AND ".join(["e.person_id = a.person_id", *win(c, "e", "a")])
            ctes.append(
                (
                    name,
                    "SELECT DISTINCT a.index_row, e.person_id, e.event_id, e.event_date, e.visit_id "
                    f"FROM {src} AS a JOIN {all_cte[label]} AS e ON {on} WHERE NOT e.event_id IS NULL",
                )
            )
            events_cte[label] = name
        return events_cte[label]

    for c in spec.criteria:
        k = k_of[c.label]
        cs_name = codeset(c.label, c, f"cs_{k}")
        answer_ids = resolved.get(answers_key(c.label), ())
        all_cte[c.label] = add_shared(
            f"{k}_all",
            first_events_sql(c, cs_name, answer_ids)
            if c.first_occurrence
            else events_sql(c, cs_name, c.date_range, answer_ids),
        )
        steps.append(AttritionStep(k, c.label))
        if not c.occurrence.is_absence:
            event_columns[c.label] = f"{_slug(c.label)}_date"
        if path_form[c.label]:
            # Presence or absence of one event around the index, or around the events of an anchor
            # that is itself a presence: EXISTS / NOT EXISTS, the window inside the subquery (a keys
            # CTE down a chain); no pairs, no counting, no numbering of index rows.
            conditions.append((f"{k}_ok", path_condition(c)))
            continue
        if count_keyed[c.label]:
            conditions.append((f"{k}_ok", keyed_count(c)))
            continue
        anchor = events_of(c.window.anchor)
        k_all = all_cte[c.label]
        join_on = " AND ".join(["e.person_id = a.person_id", *win(c, "e", "a")])
        if anchor != "index_rows" and c.occurrence.type == "at_least" and c.occurrence.count == 1:
            # At least one event around some matched event of an earlier counted criterion: the matched
            # pairs themselves (an inner join); an index row qualifies when it has one.
            ctes.append(
                (
                    f"{k}_events",
                    "SELECT DISTINCT a.index_row, e.person_id, e.event_id, e.event_date, e.visit_id "
                    f"FROM {anchor} AS a JOIN {k_all} AS e ON {join_on} WHERE NOT e.event_id IS NULL",
                )
            )
            events_cte[c.label] = f"{k}_events"
            conditions.append((f"{k}_ok", f"a.index_row IN (SELECT index_row FROM {k}_events)"))
            continue
        # A count, or a rule on events around another counted criterion's events: matched events per
        # anchor event. Every anchor event keeps a row (LEFT JOIN) so that absence ("exactly 0") can be
        # seen.
        anchor_select = (
            "a.index_row, a.event_id AS anchor_event_id"
            if anchor == "index_rows"
            else "a.index_row, a.matched_event_id AS anchor_event_id"
        )
        anchor_src = (
            "index_rows"
            if anchor == "index_rows"
            else "(SELECT index_row, person_id, event_id AS matched_event_id, event_date, visit_id "
            f"FROM {anchor})"
        )
        ctes.append(
            (
                f"{k}_pairs",
                f"SELECT {anchor_select}, e.event_id, e.event_date, e.visit_id, e.person_id "
                f"FROM {anchor_src} AS a LEFT JOIN {k_all} AS e ON {join_on}",
            )
        )
        if anchor == "index_rows":
            # one anchor event per index row (its own): counted per row, each row once, no DISTINCT
            # (with the row's first matched event, for the cohort's first_lookup)
            ok_first[c.label] = f"{k}_first"
            counted_ok = (
                f"SELECT index_row, {k}_first FROM (SELECT index_row, COUNT(event_id) AS n, "
                f"MIN(CASE WHEN NOT event_id IS NULL THEN event_date END) AS {k}_first FROM {k}_pairs "
                f"GROUP BY index_row) AS counted WHERE {_occurrence_condition(c.occurrence, 'n')}"
            )
        else:
            counted_ok = (
                "SELECT DISTINCT index_row FROM (SELECT index_row, anchor_event_id, "
                f"COUNT(event_id) AS n FROM {k}_pairs GROUP BY index_row, anchor_event_id) AS counted "
                f"WHERE {_occurrence_condition(c.occurrence, 'n')}"
            )
        ctes.append((f"{k}_ok", counted_ok))
        if c.label in anchored_upon:
            # Events that exist, per index row, for the criteria anchored on them.
            ctes.append(
                (
                    f"{k}_events",
                    f"SELECT DISTINCT p.index_row, p.person_id, p.event_id, p.event_date, p.visit_id "
                    f"FROM {k}_pairs AS p WHERE NOT p.event_id IS NULL "
                    f"AND p.index_row IN (SELECT index_row FROM {k}_ok)",
                )
            )
            events_cte[c.label] = f"{k}_events"
        conditions.append((f"{k}_ok", f"a.index_row IN (SELECT index_row FROM {k}_ok)"))

    common = list(ctes)
    row = ["index_row"] if needs_row else []
    # The rules in funnel order (a condition on index row ``a`` each): demographics, lists, criteria.
    rule_conds = ([_demographics_condition(spec)] if not spec.demographics.is_empty() else []) + list_conds
    rule_conds += [cond for _, cond in conditions]
    full = len(rule_conds)

    # The cohort's row per person and its first matched events, looked up from that row (for every
    # kind of criterion: the row satisfies all of them, so its matched events are those in the windows
    # down the chain of anchors). Which index row is chosen matters only where a window compares visits:
    # otherwise every qualifying row of the earliest date gives the same windows, so the earliest date
    # is all that is needed (a GROUP BY).
    by_row = any(any(cc.window.same_visit for cc in chain(label)) for label in event_columns)
    event_joins: list[str] = []
    event_selects: list[str] = []
    # a keys CTE holds one row per index key with the first events of all its criteria: joined once
    keys_alias: dict[str, str] = {}
    for n, c in enumerate(spec.criteria, start=1):
        if c.label not in event_columns:
            continue
        if c.label in keys_of and not by_row and keys_of[c.label][1] == ["person_id", "event_date"]:
            name, _, column = keys_of[c.label]
            if name not in keys_alias:
                keys_alias[name] = x = f"x{len(keys_alias) + 1}"
                on = f"{x}.person_id = c.person_id AND {x}.event_date = c.event_date"
                event_joins.append(f" LEFT JOIN {name} AS {x} ON {on}")
            event_selects.append(f"{keys_alias[name]}.{column} AS {event_columns[c.label]}")
            continue
        lookup = first_lookup(c)
        event_joins.append(f" LEFT JOIN ({lookup}) AS f{n} ON f{n}.person_id = c.person_id")
        event_selects.append(f"f{n}.event_date AS {event_columns[c.label]}")
    joins = "".join(event_joins)
    # The qualifying index row of each person: on their earliest date, the lowest event id (then the
    # order index rows are numbered in).
    tie = ", ".join(["event_id", *row])
    chosen_cols = ", ".join(["person_id", "event_date AS index_date", "event_date", "visit_id", *row])

    # The cohort alone (cohort_sql): the index rows where every rule holds, as semi- and anti-joins in
    # one WHERE. A rule that a later criterion anchors on holds whenever that criterion's does (its
    # events are the later one's anchors), and "at least 1" in a window holds whenever "at least 1" of
    # the same events in a narrower window around the same anchor does; neither is tested twice.
    implied = {f"{k_of[c.window.anchor]}_ok" for c in spec.criteria if c.window.anchor != INDEX_KEY}
    implied |= {
        f"{k_of[wide.label]}_ok"
        for wide in spec.criteria
        for narrow in spec.criteria
        if narrow is not wide and _implies(narrow, wide, all_cte, path_form)
    }
    where_conds = (
        ([_demographics_condition(spec)] if not spec.demographics.is_empty() else [])
        + list_conds
        + [cond for name, cond in conditions if name not in implied]
    )
    qualified = (
        f"SELECT {', '.join(f'a.{x}' for x in [*row, 'person_id', 'event_id', 'event_date', 'visit_id'])} "
        "FROM index_rows AS a" + (f" WHERE {' AND '.join(where_conds)}" if where_conds else "")
    )
    # Where the one rule left is "the index key is a row of a keys CTE", the qualifying keys are that
    # CTE's rows (each made from the index rows): the cohort is read from it, without a semi-join of
    # every index row back to it. Only for a count's keys or a chain's (1M persons: "at least 3 HbA1c"
    # -15 %, "angiography then PCI" -10 %): for one window around the index, DuckDB then plans the
    # window join worse than with the index rows read twice (the seed scenario +10 %).
    label_of = {f"{k}_ok": label for label, k in k_of.items()}
    kept = [label_of[name] for name, _ in conditions if name not in implied]

    def costly_keys(label: str) -> bool:
        if count_keyed[label]:
            return True
        root = group_of[label]
        return len(chain(root)) + len(members[root]) > 2

    from_keys = (
        not by_row
        and where_conds == [cond for name, cond in conditions if name not in implied]
        and len(kept) == 1
        and kept[0] in key_rules
        and keys_of[kept[0]][1] == ["person_id", "event_date"]
        and costly_keys(kept[0])
    )
    if from_keys:
        keys_name, keys_filter = key_rules[kept[0]]
        cohort_only = (
            "SELECT x.person_id, MIN(x.event_date) AS index_date, MIN(x.event_date) AS event_date "
            f"FROM {keys_name} AS x{f' WHERE {keys_filter}' if keys_filter else ''} GROUP BY x.person_id"
        )
    elif by_row:
        cohort_only = (
            f"SELECT {chosen_cols} FROM qualified "
            f"QUALIFY ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY event_date, {tie}) = 1"
        )
    else:
        cohort_only = (
            "SELECT person_id, MIN(event_date) AS index_date, MIN(event_date) AS event_date FROM qualified "
            "GROUP BY person_id"
        )
    cohort_with = "WITH " + ",\n".join(
        f"{name} AS ({sql})"
        for name, sql in [
            *common,
            *([] if from_keys else [("qualified", qualified)]),
            ("cohort", cohort_only),
            *matched,
        ]
    )
    cohort_final = (
        f"SELECT {', '.join(['c.person_id', 'c.index_date', *event_selects])} FROM cohort AS c{joins} "
        "ORDER BY c.person_id"
    )

    # The funnel (attrition and the per-person evaluation): level i holds the index rows that satisfy
    # rules 1 … i, each level the one before filtered by one rule in a WHERE (a semi- or anti-join in
    # DuckDB and PostgreSQL alike; as a boolean per row in the SELECT list, PostgreSQL would run each
    # rule's subquery once per index row). A person reaches the deepest level one of their rows is in
    # (a NULL, e.g. an unknown sex, fails its rule as it fails any WHERE).
    level_cols = ", ".join(f"a.{x}" for x in [*row, "person_id", "event_id", "event_date", "visit_id"])
    levels = ["index_rows"]
    for i, cond in enumerate(rule_conds, start=1):
        ctes.append((f"level_{i}", f"SELECT {level_cols} FROM {levels[-1]} AS a WHERE {cond}"))
        levels.append(f"level_{i}")
    # (grouped by the person alone rather than DISTINCT over three columns: one hash key, not three)
    staged_parts = [
        f"SELECT person_id, {i} AS reached, CAST(NULL AS DATE) AS index_date FROM {src} GROUP BY person_id"
        for i, src in enumerate(levels[:-1])
    ]
    staged_parts.append(
        f"SELECT person_id, {full} AS reached, MIN(event_date) AS index_date FROM {levels[-1]} "
        "GROUP BY person_id"
    )
    ctes.append(("staged", " UNION ALL ".join(staged_parts)))
    # Per person: the best rule reached and the earliest qualifying index date.
    per_person = (
        "SELECT person_id, MAX(reached) AS reached, MIN(index_date) AS index_date FROM staged "
        "GROUP BY person_id"
    )
    if joins:
        ctes.append(("best", per_person))
        if by_row:
            ctes.append(
                (
                    "cohort",
                    f"SELECT {chosen_cols} FROM {levels[-1]} "
                    f"QUALIFY ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY event_date, {tie}) = 1",
                )
            )
        else:
            ctes.append(
                (
                    "cohort",
                    "SELECT person_id, index_date, index_date AS event_date FROM best "
                    f"WHERE reached = {full}",
                )
            )
        ctes.extend(matched)
        persons_src = "best"
    else:
        persons_src = f"({per_person})"
    with_sql = "WITH " + ",\n".join(f"{name} AS ({sql})" for name, sql in ctes)
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
        _finals={"cohort": (cohort_with, cohort_final), "attrition": (with_sql, attrition_final)},
    )


def _implies(narrow: Criterion, wide: Criterion, events: Mapping[str, str], path: Mapping[str, bool]) -> bool:
    """Whether ``narrow`` holding makes ``wide`` hold: both "at least 1" of the very same events (one
    CTE) around the same anchor, ``narrow``'s window strictly inside ``wide``'s (equal criteria imply
    each other, and dropping both would drop the rule: neither counts as implied)."""
    if not (path[narrow.label] and path[wide.label]):
        return False
    if narrow.occurrence.is_absence or wide.occurrence.is_absence:
        return False
    if events[narrow.label] != events[wide.label] or narrow.window.anchor != wide.window.anchor:
        return False
    n, w = narrow.window, wide.window
    inside_start = w.start is None or (n.start is not None and n.start >= w.start)
    inside_end = w.end is None or (n.end is not None and n.end <= w.end)
    if (n.start, n.end, n.same_visit) == (w.start, w.end, w.same_visit):
        return False
    return inside_start and inside_end and (n.same_visit or not w.same_visit)


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
