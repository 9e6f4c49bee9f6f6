"""What an OMOP database actually holds: which of the catalogued tables exist with usable columns.

Real marts differ (Eunomia ships a malformed ``death`` table; many marts lack ``image_occurrence``),
so the engine checks before it compiles and says which domain cannot be queried and why.
"""

from __future__ import annotations

import duckdb
from pydantic import BaseModel

from cohort_engine.schema_catalog.domains import DOMAIN_TABLES
from cohort_engine.spec import CohortSpec, Domain


class MartProfile(BaseModel):
    tables: dict[str, list[str]]  # table → lower-case column names present

    def domain_problem(self, domain: Domain) -> str | None:
        dt = DOMAIN_TABLES[domain]
        needed = [c for c in ("person_id", dt.event_id, dt.date_column, dt.concept_column) if c]
        if dt.table not in self.tables:
            return f"this mart has no {dt.table} table, so {domain.value} criteria cannot be evaluated"
        missing = [c for c in needed if c not in self.tables[dt.table]]
        if missing:
            return (
                f"this mart's {dt.table} table lacks the OMOP column(s) {', '.join(missing)}, "
                f"so {domain.value} criteria cannot be evaluated"
            )
        return None


class MartCapabilityError(ValueError):
    """The spec needs a table this mart lacks or has in a non-OMOP shape.

    ``absent``: the mart holds no such table at all (Eunomia has no ``image_occurrence``): a question
    the user can ask otherwise, answered as ``clarify``; a table in a non-OMOP shape is the steward's
    to fix, answered as ``error``."""

    def __init__(self, message: str, absent: bool = False) -> None:
        super().__init__(message)
        self.absent = absent


def profile_mart(con: duckdb.DuckDBPyConnection) -> MartProfile:
    rows = con.execute(
        "SELECT lower(table_name), lower(column_name) FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return MartProfile(tables=tables)


def check_spec_fits(spec: CohortSpec, profile: MartProfile) -> None:
    domains = [spec.index.domain, *(c.domain for c in spec.criteria)]
    for d in dict.fromkeys(domains):
        problem = profile.domain_problem(d)
        if problem:
            raise MartCapabilityError(problem, absent=DOMAIN_TABLES[d].table not in profile.tables)
