"""Where each spec domain lives in OMOP: table, key, concept column, date column, visit column.

Data, not code: the compiler, the term resolver and the demo generator all read this one table.
"""

from __future__ import annotations

from pydantic import BaseModel

from cohort_engine.spec import Domain


class DomainTable(BaseModel):
    domain: Domain
    table: str
    event_id: str | None
    concept_column: str | None
    date_column: str
    visit_column: str | None
    omop_domain_ids: tuple[str, ...]  # concept.domain_id values whose concepts belong here
    value_column: str | None = None
    value_concept_column: str | None = None  # a coded answer ('Current smoker'), where the table has one


DOMAIN_TABLES: dict[Domain, DomainTable] = {
    d.domain: d
    for d in [
        DomainTable(
            domain=Domain.condition,
            table="condition_occurrence",
            event_id="condition_occurrence_id",
            concept_column="condition_concept_id",
            date_column="condition_start_date",
            visit_column="visit_occurrence_id",
            omop_domain_ids=("Condition",),
        ),
        DomainTable(
            domain=Domain.procedure,
            table="procedure_occurrence",
            event_id="procedure_occurrence_id",
            concept_column="procedure_concept_id",
            date_column="procedure_date",
            visit_column="visit_occurrence_id",
            omop_domain_ids=("Procedure",),
        ),
        DomainTable(
            domain=Domain.drug,
            table="drug_exposure",
            event_id="drug_exposure_id",
            concept_column="drug_concept_id",
            date_column="drug_exposure_start_date",
            visit_column="visit_occurrence_id",
            omop_domain_ids=("Drug",),
        ),
        DomainTable(
            domain=Domain.measurement,
            table="measurement",
            event_id="measurement_id",
            concept_column="measurement_concept_id",
            date_column="measurement_date",
            visit_column="visit_occurrence_id",
            omop_domain_ids=("Measurement",),
            value_column="value_as_number",
            value_concept_column="value_as_concept_id",
        ),
        DomainTable(
            domain=Domain.observation,
            table="observation",
            event_id="observation_id",
            concept_column="observation_concept_id",
            date_column="observation_date",
            visit_column="visit_occurrence_id",
            omop_domain_ids=("Observation",),
            value_column="value_as_number",
            value_concept_column="value_as_concept_id",
        ),
        DomainTable(
            domain=Domain.visit,
            table="visit_occurrence",
            event_id="visit_occurrence_id",
            concept_column="visit_concept_id",
            date_column="visit_start_date",
            visit_column="visit_occurrence_id",
            omop_domain_ids=("Visit",),
        ),
        DomainTable(
            domain=Domain.imaging,
            table="image_occurrence",
            event_id="image_occurrence_id",
            concept_column=None,
            date_column="image_occurrence_date",
            visit_column="visit_occurrence_id",
            omop_domain_ids=(),
        ),
        DomainTable(
            domain=Domain.death,
            table="death",
            event_id=None,
            concept_column="cause_concept_id",
            date_column="death_date",
            visit_column=None,
            omop_domain_ids=("Condition", "Observation"),
        ),
    ]
}

# Well-known OMOP concept ids the engine relies on (they are the same in every OMOP database).
GENDER_CONCEPTS = {"male": 8507, "female": 8532}
VISIT_CONCEPTS = {"inpatient": 9201, "outpatient": 9202, "emergency": 9203, "emergency_inpatient": 262}
LANGUAGE_KOREAN = 4175771


#: The concept domains a coded answer ('Current smoker', value_as_concept_id) is found in.
ANSWER_DOMAIN_IDS = ("Meas Value", "Observation")


def answers_key(key: str) -> str:
    """Where a resolution keeps the concepts of a filter's coded answers (key: 'index' or a criterion
    label), beside that filter's own concepts under ``key``."""
    return f"{key}:answers"
