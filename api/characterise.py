"""A cohort's "Table 1" (baseline characteristics), before any disclosure control.

ATLAS's cohort characterisation is the model: age (mean, SD, ten-year bands), sex, the most frequent
conditions, procedures and drugs in a window before the index date, the distributions of the labs the
cohort has in that window, deaths within 30 and 365 days after the index date, and imaging by modality.
Two cohorts side by side carry the standardised mean difference (SMD) of every row, the usual balance
measure of observational studies (|SMD| > 0.1 is the common flag for imbalance).

Every person count comes with the fingerprint of its person set (``api.disclosure.digest_sql``), which
keys its noise for researchers, as in the charts (``api.charts``). Who sees which numbers is
``api.views.table1_view``'s business.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from cohort_engine.api.charts import materialised_cohort
from cohort_engine.api.disclosure import digest_sql
from cohort_engine.deid.manifest import has_table
from cohort_engine.schema_catalog.domains import DOMAIN_TABLES
from cohort_engine.spec import Domain
from cohort_engine.sql_guard.compiler import CompiledCohort

#: Days relative to the index date in which conditions, procedures, drugs and labs are described.
DEFAULT_WINDOW = (-365, 0)
DEFAULT_TOP = 10
#: Domains of the "most frequent concepts" sections, in the order shown.
CONCEPT_DOMAINS = (Domain.condition, Domain.procedure, Domain.drug)


@dataclass(frozen=True)
class PersonCount:
    """Persons in one cell and the digest of their set (the key of the cell's noise)."""

    n: int
    digest: str


@dataclass(frozen=True)
class ConceptRow:
    concept_id: int
    name: str
    vocabulary_id: str
    code: str
    persons: PersonCount


@dataclass(frozen=True)
class LabRow:
    concept_id: int
    name: str
    code: str
    unit: str | None
    persons: PersonCount
    median: float | None
    q1: float | None
    q3: float | None


@dataclass
class Table1Rows:
    """The exact Table 1 of one cohort."""

    persons: PersonCount
    age_mean: float | None
    age_sd: float | None
    age_bands: list[tuple[int, PersonCount]]  # band 0…9 (9 = 90+)
    sexes: list[tuple[str, PersonCount]]
    concepts: dict[str, list[ConceptRow]]  # domain value → top rows
    labs: list[LabRow]
    deaths: dict[int, PersonCount]  # days after index → persons who died within them
    imaging: list[tuple[str, PersonCount]]
    window: tuple[int, int] = DEFAULT_WINDOW
    notes: list[str] = field(default_factory=list)


def _count(n: Any, digest: Any) -> PersonCount:
    return PersonCount(int(n or 0), str(digest or ""))


def table1_rows(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    *,
    window: tuple[int, int] = DEFAULT_WINDOW,
    top: int = DEFAULT_TOP,
    only: Mapping[str, Collection[int]] | None = None,
    timeout_s: float,
) -> Table1Rows:
    """The exact Table 1 of one compiled cohort (engine SQL, run internally with a time limit). The
    cohort is evaluated once (``api.charts.materialised_cohort``); every section reads it from there.

    ``only`` (domain value, or ``measurement`` for labs → concept ids) replaces the top rows of a
    section by exactly these concepts: two cohorts side by side describe the same rows.
    """
    with materialised_cohort(con, compiled, timeout_s) as (sub, fetch):
        return _table1(con, sub, fetch, window=window, top=top, only=only)


def _table1(
    con: duckdb.DuckDBPyConnection,
    sub: str,
    fetch: Callable[[str], list[tuple]],
    *,
    window: tuple[int, int],
    top: int,
    only: Mapping[str, Collection[int]] | None,
) -> Table1Rows:
    start, end = window

    def pick(section: str, column: str) -> tuple[str, str]:
        """(extra WHERE condition, LIMIT clause) of a section."""
        if only is None:
            return "", f" LIMIT {int(top)}"
        ids = ", ".join(str(int(i)) for i in sorted(only.get(section, ()))) or "NULL"
        return f" AND {column} IN ({ids})", ""

    persons = f"COUNT(DISTINCT c.person_id), {digest_sql('c.person_id')}"
    age = "(EXTRACT(YEAR FROM c.index_date) - p.year_of_birth)"
    (n, d, mean, sd) = fetch(
        f"SELECT {persons}, AVG({age}), STDDEV_SAMP({age}) FROM {sub} "
        "JOIN person AS p ON p.person_id = c.person_id",
    )[0]
    bands = fetch(
        f"SELECT LEAST(GREATEST(CAST(FLOOR({age} / 10.0) AS INTEGER), 0), 9) AS band, {persons} FROM {sub} "
        "JOIN person AS p ON p.person_id = c.person_id GROUP BY 1 ORDER BY 1",
    )
    sexes = fetch(
        "SELECT CASE p.gender_concept_id WHEN 8507 THEN 'male' WHEN 8532 THEN 'female' ELSE 'other' END, "
        f"{persons} FROM {sub} JOIN person AS p ON p.person_id = c.person_id GROUP BY 1 ORDER BY 1",
    )
    out = Table1Rows(
        persons=_count(n, d),
        age_mean=float(mean) if mean is not None else None,
        age_sd=float(sd) if sd is not None else None,
        age_bands=[(int(b), _count(k, g)) for b, k, g in bands],
        sexes=[(str(s), _count(k, g)) for s, k, g in sexes],
        concepts={},
        labs=[],
        deaths={},
        imaging=[],
        window=window,
    )
    in_window = "CAST(e.{date} AS DATE) BETWEEN c.index_date + {start} AND c.index_date + {end}"
    for domain in CONCEPT_DOMAINS:
        t = DOMAIN_TABLES[domain]
        if not has_table(con, t.table):
            continue
        cond, limit = pick(domain.value, f"e.{t.concept_column}")
        rows = fetch(
            f"SELECT e.{t.concept_column} AS cid, k.concept_name, k.vocabulary_id, k.concept_code, "
            f"COUNT(DISTINCT e.person_id), {digest_sql('e.person_id')} FROM {t.table} AS e JOIN {sub} "
            f"ON e.person_id = c.person_id JOIN concept AS k ON k.concept_id = e.{t.concept_column} "
            f"WHERE e.{t.concept_column} <> 0{cond} AND "
            + in_window.format(date=t.date_column, start=start, end=end)
            + f" GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1{limit}",
        )
        out.concepts[domain.value] = [
            ConceptRow(int(cid), str(name), str(vid), str(code), _count(k, g))
            for cid, name, vid, code, k, g in rows
        ]
    m = DOMAIN_TABLES[Domain.measurement]
    if has_table(con, m.table):
        cond, limit = pick("measurement", "e.measurement_concept_id")
        # each person's latest value in the window: one value per person, so a median is of persons
        labs = fetch(
            "WITH v AS (SELECT e.person_id, e.measurement_concept_id AS cid, e.unit_concept_id AS unit, "
            "e.value_as_number AS x, ROW_NUMBER() OVER (PARTITION BY e.person_id, e.measurement_concept_id "
            "ORDER BY e.measurement_date DESC, e.measurement_id DESC) AS r "
            f"FROM measurement AS e JOIN {sub} ON e.person_id = c.person_id "
            f"WHERE e.value_as_number IS NOT NULL AND e.measurement_concept_id <> 0{cond} AND "
            + in_window.format(date=m.date_column, start=start, end=end)
            + ") SELECT v.cid, k.concept_name, k.concept_code, u.concept_code, "
            f"COUNT(DISTINCT v.person_id), {digest_sql('v.person_id')}, "
            "QUANTILE_CONT(v.x, 0.5), QUANTILE_CONT(v.x, 0.25), QUANTILE_CONT(v.x, 0.75) "
            "FROM v JOIN concept AS k ON k.concept_id = v.cid "
            "LEFT JOIN concept AS u ON u.concept_id = v.unit "
            f"WHERE v.r = 1 GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1{limit}",
        )
        out.labs = [
            LabRow(int(cid), str(name), str(code), unit, _count(k, g), _f(med), _f(q1), _f(q3))
            for cid, name, code, unit, k, g, med, q1, q3 in labs
        ]
    if has_table(con, "death"):
        for days in (30, 365):
            (k, g) = fetch(
                f"SELECT {persons} FROM {sub} JOIN death AS dd ON dd.person_id = c.person_id "
                f"WHERE CAST(dd.death_date AS DATE) BETWEEN c.index_date AND c.index_date + {days}",
            )[0]
            out.deaths[days] = _count(k, g)
    if has_table(con, "image_occurrence"):
        img = fetch(
            "SELECT COALESCE(NULLIF(UPPER(io.modality_source_value), ''), 'UNKNOWN'), "
            f"COUNT(DISTINCT io.person_id), {digest_sql('io.person_id')} FROM image_occurrence AS io "
            f"JOIN {sub} ON io.person_id = c.person_id GROUP BY 1 ORDER BY 2 DESC, 1",
        )
        out.imaging = [(str(label), _count(k, g)) for label, k, g in img]
    else:
        out.notes.append("This mart has no image_occurrence table, so there is no imaging row.")
    return out


def table1_tables(
    con: duckdb.DuckDBPyConnection,
    compiled: Sequence[CompiledCohort],
    *,
    window: tuple[int, int] = DEFAULT_WINDOW,
    top: int = DEFAULT_TOP,
    timeout_s: float,
) -> list[Table1Rows]:
    """Table 1 of each cohort; two or more side by side describe the same rows: the union of every
    cohort's top concepts and labs, counted again in each."""
    tables = [table1_rows(con, c, window=window, top=top, timeout_s=timeout_s) for c in compiled]
    if len(tables) < 2:
        return tables
    only: dict[str, set[int]] = {
        d.value: {r.concept_id for t in tables for r in t.concepts.get(d.value, [])} for d in CONCEPT_DOMAINS
    }
    only["measurement"] = {lab.concept_id for t in tables for lab in t.labs}
    return [table1_rows(con, c, window=window, only=only, timeout_s=timeout_s) for c in compiled]


def _f(x: Any) -> float | None:
    return float(x) if x is not None else None


def smd_proportion(p1: float | None, p2: float | None) -> float | None:
    """Standardised mean difference of two proportions (Austin 2009): (p1 − p2) / √((p1q1 + p2q2) / 2)."""
    if p1 is None or p2 is None:
        return None
    pooled = (p1 * (1 - p1) + p2 * (1 - p2)) / 2
    if pooled <= 0:
        return 0.0 if p1 == p2 else None
    return (p1 - p2) / math.sqrt(pooled)


def smd_mean(m1: float | None, s1: float | None, m2: float | None, s2: float | None) -> float | None:
    """Standardised mean difference of two means: (m1 − m2) / √((s1² + s2²) / 2)."""
    if None in (m1, s1, m2, s2):
        return None
    pooled = (s1 * s1 + s2 * s2) / 2  # type: ignore[operator]
    if pooled <= 0:
        return 0.0 if m1 == m2 else None
    return (m1 - m2) / math.sqrt(pooled)  # type: ignore[operator]
