"""Compiled cohorts equal hand-written SQL on the real Eunomia GiBleed mart (SNOMED / RxNorm).

Each case: a spec and the SQL a data engineer would write by hand for it, returning
(person_id, index_date) with the earliest qualifying index date. The hand SQL is deliberately written
in a different style (EXISTS / correlated counts) from the compiler's CTE pipeline.
"""

from __future__ import annotations

import pytest

from cohort_engine.spec import (
    CohortSpec,
    ConceptSet,
    Criterion,
    DateRange,
    Demographics,
    IndexEvent,
    Occurrence,
    Window,
)
from cohort_engine.sql_guard.compiler import compile_cohort

GI_BLEED = 192671
OSTEOARTHRITIS = 80180
VIRAL_SINUSITIS = 40481087
ACUTE_BRONCHITIS = 260139
VIRAL_PHARYNGITIS = 4112343
CELECOXIB = 1118084
DICLOFENAC = 1124300
ASPIRIN = 1112807

COND = (
    "SELECT person_id, condition_start_date AS d, condition_occurrence_id AS id FROM "
    "condition_occurrence WHERE condition_concept_id IN ({ids})"
)


def drug(*ids: int) -> str:
    """Drug exposures of the given concepts or any of their descendants."""
    listed = ", ".join(map(str, ids))
    return (
        "SELECT person_id, drug_exposure_start_date AS d FROM drug_exposure WHERE drug_concept_id IN "
        f"(SELECT descendant_concept_id FROM concept_ancestor WHERE ancestor_concept_id IN ({listed})) "
        f"OR drug_concept_id IN ({listed})"
    )


def cond(cid: int) -> str:
    return COND.format(ids=cid)


CASES: list[tuple[str, CohortSpec, str]] = [
    (
        "a count inside a calendar period: at least 2 viral sinusitis diagnoses dated 2000-2009",
        CohortSpec(
            index=IndexEvent(
                domain="condition",
                concepts=ConceptSet(concept_ids=[VIRAL_SINUSITIS]),
                date_range=DateRange(start="2000-01-01", end="2009-12-31"),
            ),
            criteria=[
                Criterion(
                    label="count",
                    domain="condition",
                    concepts=ConceptSet(concept_ids=[VIRAL_SINUSITIS]),
                    occurrence=Occurrence(type="at_least", count=2),
                    date_range=DateRange(start="2000-01-01", end="2009-12-31"),
                )
            ],
        ),
        f"SELECT person_id, MIN(d) FROM ({cond(VIRAL_SINUSITIS)}) "
        "WHERE d BETWEEN DATE '2000-01-01' AND DATE '2009-12-31' GROUP BY person_id HAVING COUNT(*) >= 2",
    ),
    (
        "index only: any GI bleed",
        CohortSpec(index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[GI_BLEED]))),
        f"SELECT person_id, MIN(d) FROM ({cond(GI_BLEED)}) GROUP BY person_id",
    ),
    (
        "first-ever osteoarthritis, then a date range",
        CohortSpec(
            index=IndexEvent(
                domain="condition",
                concepts=ConceptSet(concept_ids=[OSTEOARTHRITIS]),
                first_occurrence=True,
                date_range=DateRange(start="1990-01-01", end="2000-12-31"),
            )
        ),
        f"SELECT person_id, d FROM (SELECT person_id, MIN(d) AS d FROM ({cond(OSTEOARTHRITIS)}) GROUP "
        "BY person_id) "
        "WHERE d BETWEEN DATE '1990-01-01' AND DATE '2000-12-31'",
    ),
    (
        "NSAID within 30 days before (−30..0)",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[GI_BLEED])),
            criteria=[
                Criterion(
                    label="nsaid",
                    domain="drug",
                    concepts=ConceptSet(concept_ids=[CELECOXIB, DICLOFENAC]),
                    window=Window(start=-30, end=0),
                )
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(GI_BLEED)}) i WHERE EXISTS (SELECT 1 FROM ("
        + drug(CELECOXIB, DICLOFENAC)
        + ") x WHERE x.person_id = i.person_id AND x.d BETWEEN i.d - 30 AND i.d) GROUP BY i.person_id",
    ),
    (
        "N to M days after (7..14)",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[VIRAL_SINUSITIS])),
            criteria=[
                Criterion(
                    label="bronchitis",
                    domain="condition",
                    concepts=ConceptSet(concept_ids=[ACUTE_BRONCHITIS]),
                    window=Window(start=7, end=14),
                )
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(VIRAL_SINUSITIS)}) i WHERE EXISTS (SELECT 1 FROM "
        f"({cond(ACUTE_BRONCHITIS)}) x "
        "WHERE x.person_id = i.person_id AND x.d >= i.d + 7 AND x.d <= i.d + 14) GROUP BY i.person_id",
    ),
    (
        "within N days of (−60..+60)",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[GI_BLEED])),
            criteria=[
                Criterion(
                    label="pharyngitis",
                    domain="condition",
                    concepts=ConceptSet(concept_ids=[VIRAL_PHARYNGITIS]),
                    window=Window(start=-60, end=60),
                )
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(GI_BLEED)}) i WHERE EXISTS (SELECT 1 FROM "
        f"({cond(VIRAL_PHARYNGITIS)}) x "
        "WHERE x.person_id = i.person_id AND x.d BETWEEN i.d - 60 AND i.d + 60) GROUP BY i.person_id",
    ),
    (
        "exclusion: no aspirin (incl. descendants) in the year before",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[GI_BLEED])),
            criteria=[
                Criterion(
                    label="no aspirin",
                    domain="drug",
                    concepts=ConceptSet(concept_ids=[ASPIRIN]),
                    window=Window(start=-365, end=-1),
                    occurrence=Occurrence(type="exactly", count=0),
                )
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(GI_BLEED)}) i WHERE NOT EXISTS (SELECT 1 FROM ("
        + drug(ASPIRIN)
        + ") x WHERE x.person_id = i.person_id AND x.d BETWEEN i.d - 365 AND i.d - 1) GROUP BY i.person_id",
    ),
    (
        "at least 2 within a year after",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[VIRAL_SINUSITIS])),
            criteria=[
                Criterion(
                    label="pharyngitis x2",
                    domain="condition",
                    concepts=ConceptSet(concept_ids=[VIRAL_PHARYNGITIS]),
                    window=Window(start=0, end=365),
                    occurrence=Occurrence(type="at_least", count=2),
                )
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(VIRAL_SINUSITIS)}) i WHERE (SELECT COUNT(*) FROM "
        f"({cond(VIRAL_PHARYNGITIS)}) x "
        "WHERE x.person_id = i.person_id AND x.d BETWEEN i.d AND i.d + 365) >= 2 GROUP BY i.person_id",
    ),
    (
        "at most 1 within a year after",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[VIRAL_SINUSITIS])),
            criteria=[
                Criterion(
                    label="pharyngitis <=1",
                    domain="condition",
                    concepts=ConceptSet(concept_ids=[VIRAL_PHARYNGITIS]),
                    window=Window(start=0, end=365),
                    occurrence=Occurrence(type="at_most", count=1),
                )
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(VIRAL_SINUSITIS)}) i WHERE (SELECT COUNT(*) FROM "
        f"({cond(VIRAL_PHARYNGITIS)}) x "
        "WHERE x.person_id = i.person_id AND x.d BETWEEN i.d AND i.d + 365) <= 1 GROUP BY i.person_id",
    ),
    (
        "exactly 2 any time after",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[VIRAL_SINUSITIS])),
            criteria=[
                Criterion(
                    label="bronchitis =2",
                    domain="condition",
                    concepts=ConceptSet(concept_ids=[ACUTE_BRONCHITIS]),
                    window=Window(start=1, end=None),
                    occurrence=Occurrence(type="exactly", count=2),
                )
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(VIRAL_SINUSITIS)}) i WHERE (SELECT COUNT(*) FROM "
        f"({cond(ACUTE_BRONCHITIS)}) x "
        "WHERE x.person_id = i.person_id AND x.d >= i.d + 1) = 2 GROUP BY i.person_id",
    ),
    (
        "any time before (unbounded start)",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[GI_BLEED])),
            criteria=[
                Criterion(
                    label="oa before",
                    domain="condition",
                    concepts=ConceptSet(concept_ids=[OSTEOARTHRITIS]),
                    window=Window(start=None, end=-1),
                )
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(GI_BLEED)}) i WHERE EXISTS (SELECT 1 FROM "
        f"({cond(OSTEOARTHRITIS)}) x "
        "WHERE x.person_id = i.person_id AND x.d <= i.d - 1) GROUP BY i.person_id",
    ),
    (
        "demographics: men aged 40–45 at the index date",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[GI_BLEED])),
            demographics=Demographics(sexes=["male"], age_min=40, age_max=45),
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(GI_BLEED)}) i JOIN person p ON p.person_id = i.person_id "
        "WHERE p.gender_concept_id = 8507 AND year(i.d) - p.year_of_birth BETWEEN 40 AND 45 GROUP BY "
        "i.person_id",
    ),
    (
        "same day (0..0) any procedure",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[ACUTE_BRONCHITIS])),
            criteria=[
                Criterion(label="procedure same day", domain="procedure", window=Window(start=0, end=0))
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(ACUTE_BRONCHITIS)}) i WHERE EXISTS (SELECT 1 FROM "
        "procedure_occurrence x "
        "WHERE x.person_id = i.person_id AND x.procedure_date = i.d) GROUP BY i.person_id",
    ),
    (
        "anchored on another criterion: GI bleed within 90 days after a celecoxib start after OA",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[OSTEOARTHRITIS])),
            criteria=[
                Criterion(
                    label="celecoxib",
                    domain="drug",
                    concepts=ConceptSet(concept_ids=[CELECOXIB]),
                    window=Window(start=0, end=None),
                ),
                Criterion(
                    label="bleed",
                    domain="condition",
                    concepts=ConceptSet(concept_ids=[GI_BLEED]),
                    window=Window(start=0, end=90, anchor="celecoxib"),
                ),
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(OSTEOARTHRITIS)}) i WHERE EXISTS (SELECT 1 FROM ("
        + drug(CELECOXIB)
        + ") c WHERE c.person_id = i.person_id AND c.d >= i.d AND EXISTS (SELECT 1 FROM "
        f"({cond(GI_BLEED)}) b "
        "WHERE b.person_id = c.person_id AND b.d BETWEEN c.d AND c.d + 90)) GROUP BY i.person_id",
    ),
    (
        "drug index with descendants, in 1970",
        CohortSpec(
            index=IndexEvent(
                domain="drug",
                concepts=ConceptSet(concept_ids=[ASPIRIN]),
                date_range=DateRange(start="1970-01-01", end="1970-12-31"),
            ),
        ),
        "SELECT person_id, MIN(d) FROM ("
        + drug(ASPIRIN)
        + ") WHERE d BETWEEN DATE '1970-01-01' AND DATE '1970-12-31' GROUP BY person_id",
    ),
    (
        "name match: procedure name contains 'coronary' within 30 days after MI",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[4329847])),
            criteria=[
                Criterion(
                    label="coronary procedure",
                    domain="procedure",
                    concepts=ConceptSet(name_contains=["coronary"], include_descendants=False),
                    window=Window(start=0, end=30),
                )
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(4329847)}) i WHERE EXISTS (SELECT 1 FROM "
        "procedure_occurrence x "
        "JOIN concept c ON c.concept_id = x.procedure_concept_id WHERE c.domain_id = 'Procedure' "
        "AND lower(c.concept_name) LIKE '%coronary%' AND x.person_id = i.person_id "
        "AND x.procedure_date BETWEEN i.d AND i.d + 30) GROUP BY i.person_id",
    ),
    (
        # '%' and '_' are text: unescaped, '%' would match every procedure and '_' any character.
        "name match: LIKE wildcards in the name are literal",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[4329847])),
            criteria=[
                Criterion(
                    label="coronary procedure",
                    domain="procedure",
                    concepts=ConceptSet(
                        name_contains=["coronary", "%", "c_ronary", "!"], include_descendants=False
                    ),
                    window=Window(start=0, end=30),
                )
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(4329847)}) i WHERE EXISTS (SELECT 1 FROM "
        "procedure_occurrence x "
        "JOIN concept c ON c.concept_id = x.procedure_concept_id WHERE c.domain_id = 'Procedure' "
        "AND lower(c.concept_name) LIKE '%coronary%' AND x.person_id = i.person_id "
        "AND x.procedure_date BETWEEN i.d AND i.d + 30) GROUP BY i.person_id",
    ),
    (
        "visit index: inpatient stays in 2000–2005",
        CohortSpec(
            index=IndexEvent(
                domain="visit",
                visit_concept_ids=[9201],
                date_range=DateRange(start="2000-01-01", end="2005-12-31"),
            ),
        ),
        "SELECT person_id, MIN(visit_start_date) FROM visit_occurrence WHERE visit_concept_id = 9201 "
        "AND visit_start_date BETWEEN DATE '2000-01-01' AND DATE '2005-12-31' GROUP BY person_id",
    ),
    (
        "two criteria together: NSAID before and no bronchitis after",
        CohortSpec(
            index=IndexEvent(domain="condition", concepts=ConceptSet(concept_ids=[GI_BLEED])),
            criteria=[
                Criterion(
                    label="celecoxib before",
                    domain="drug",
                    concepts=ConceptSet(concept_ids=[CELECOXIB]),
                    window=Window(start=-365, end=0),
                ),
                Criterion(
                    label="no bronchitis",
                    domain="condition",
                    concepts=ConceptSet(concept_ids=[ACUTE_BRONCHITIS]),
                    window=Window(start=0, end=365),
                    occurrence=Occurrence(type="exactly", count=0),
                ),
            ],
        ),
        f"SELECT i.person_id, MIN(i.d) FROM ({cond(GI_BLEED)}) i WHERE EXISTS (SELECT 1 FROM ("
        + drug(CELECOXIB)
        + ") x WHERE x.person_id = i.person_id AND x.d BETWEEN i.d - 365 AND i.d) AND NOT EXISTS "
        "(SELECT 1 FROM "
        f"({cond(ACUTE_BRONCHITIS)}) y WHERE y.person_id = i.person_id AND y.d BETWEEN i.d AND i.d + "
        "365) GROUP BY i.person_id",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,spec,hand_sql", CASES, ids=[c[0] for c in CASES])
def test_compiled_cohort_equals_hand_written_sql(eunomia, name: str, spec: CohortSpec, hand_sql: str) -> None:
    compiled = compile_cohort(spec)
    got = {(r[0], r[1]) for r in eunomia.execute(compiled.cohort_sql).fetchall()}
    want = {(r[0], r[1]) for r in eunomia.execute(hand_sql).fetchall()}
    assert got == want
    assert want, f"case {name!r} selects nobody: it would not catch a wrong compiler"


@pytest.mark.slow
@pytest.mark.parametrize("name,spec,hand_sql", CASES, ids=[c[0] for c in CASES])
def test_attrition_ends_at_cohort_size(eunomia, name: str, spec: CohortSpec, hand_sql: str) -> None:
    compiled = compile_cohort(spec)
    counts = eunomia.execute(compiled.attrition_sql).fetchall()[0]
    assert len(counts) == len(compiled.steps)
    assert list(counts) == sorted(counts, reverse=True)
    assert counts[-1] == len(eunomia.execute(hand_sql).fetchall())


def test_like_wildcards_in_names_are_escaped(eunomia) -> None:
    """'%' alone would match every procedure unescaped; escaped it matches none (no name holds '%')."""
    spec = CohortSpec(
        index=IndexEvent(domain="procedure", concepts=ConceptSet(name_contains=["%"])),
    )
    assert eunomia.execute(compile_cohort(spec).cohort_sql).fetchall() == []
    underscore = CohortSpec(
        index=IndexEvent(domain="procedure", concepts=ConceptSet(name_contains=["c_ronary"])),
    )
    assert eunomia.execute(compile_cohort(underscore).cohort_sql).fetchall() == []
    plain = CohortSpec(index=IndexEvent(domain="procedure", concepts=ConceptSet(name_contains=["coronary"])))
    assert len(eunomia.execute(compile_cohort(plain).cohort_sql).fetchall()) > 0
