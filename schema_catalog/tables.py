"""Machine-readable description of the OMOP CDM 5.4 tables the engine reads (plus the OHDSI imaging
extension): meaning, SQL type and privacy class of every column.

This one description generates the DDL (``ddl.py``), feeds the SQL guard's allow-list and
identifying-column rules, the LLM prompt and the docs, so that the four can never disagree.

Privacy classes:
* ``identifying``: directly identifies a person or carries free text that may (MRN, note text, UIDs);
  never allowed in any query output.
* ``quasi``: could identify in combination (dates, birth year, internal keys, locations); allowed in
  row-level output only to operators/stewards, never to researchers.
* ``safe``: codes, concept ids, numeric values, vocabulary.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Privacy = Literal["identifying", "quasi", "safe"]


class Column(BaseModel):
    name: str
    type: str
    privacy: Privacy
    description: str
    required: bool = False


class Table(BaseModel):
    name: str
    description: str
    columns: list[Column]
    extension: bool = False

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}.{name}")


def _c(name: str, type_: str, privacy: Privacy, description: str, required: bool = False) -> Column:
    return Column(name=name, type=type_, privacy=privacy, description=description, required=required)


def _type_col(prefix: str) -> Column:
    """The provenance column every clinical event table has (``<prefix>_type_concept_id``)."""
    return _c(f"{prefix}_type_concept_id", "INTEGER", "safe", "Provenance of the record (EHR, claim …).")


#: Columns that tie a clinical event to who recorded it and during which visit.
_LINK_COLS: list[Column] = [
    _c("provider_id", "BIGINT", "quasi", "Treating provider (internal key)."),
    _c("visit_occurrence_id", "BIGINT", "quasi", "Visit during which the event was recorded."),
    _c("visit_detail_id", "BIGINT", "quasi", "Visit detail (ward, unit) of the event."),
]


TABLES: list[Table] = [
    Table(
        name="person",
        description="One row per patient: sex, birth, and the hospital's own identifier.",
        columns=[
            _c("person_id", "BIGINT", "quasi", "Internal surrogate key of the patient.", True),
            _c("gender_concept_id", "INTEGER", "safe", "Sex: 8507 male, 8532 female.", True),
            _c("year_of_birth", "INTEGER", "quasi", "Year of birth; age = year(index) - year_of_birth.", True),
            _c("month_of_birth", "INTEGER", "quasi", "Month of birth."),
            _c("day_of_birth", "INTEGER", "identifying", "Day of birth (with month and year: a full birth date)."),
            _c("birth_datetime", "TIMESTAMP", "identifying", "Full birth date and time."),
            _c("race_concept_id", "INTEGER", "safe", "Race concept."),
            _c("ethnicity_concept_id", "INTEGER", "safe", "Ethnicity concept."),
            _c("location_id", "BIGINT", "quasi", "Home address (key into location)."),
            _c("provider_id", "BIGINT", "quasi", "Primary care provider."),
            _c("care_site_id", "BIGINT", "quasi", "Primary care site."),
            _c("person_source_value", "VARCHAR", "identifying", "Hospital medical record number (MRN)."),
            _c("gender_source_value", "VARCHAR", "safe", "Sex as recorded at the source."),
            _c("gender_source_concept_id", "INTEGER", "safe", "Source sex concept."),
            _c("race_source_value", "VARCHAR", "safe", "Race as recorded."),
            _c("race_source_concept_id", "INTEGER", "safe", "Source race concept."),
            _c("ethnicity_source_value", "VARCHAR", "safe", "Ethnicity as recorded."),
            _c("ethnicity_source_concept_id", "INTEGER", "safe", "Source ethnicity concept."),
        ],
    ),
    Table(
        name="observation_period",
        description="Spans of time during which the patient's care is recorded in this mart.",
        columns=[
            _c("observation_period_id", "BIGINT", "quasi", "Key.", True),
            _c("person_id", "BIGINT", "quasi", "Patient.", True),
            _c("observation_period_start_date", "DATE", "quasi", "First day of recorded care.", True),
            _c("observation_period_end_date", "DATE", "quasi", "Last day of recorded care.", True),
            _c("period_type_concept_id", "INTEGER", "safe", "Provenance.", True),
        ],
    ),
    Table(
        name="visit_occurrence",
        description="Encounters: inpatient stays (9201), outpatient visits (9202), ER visits (9203).",
        columns=[
            _c("visit_occurrence_id", "BIGINT", "quasi", "Key.", True),
            _c("person_id", "BIGINT", "quasi", "Patient.", True),
            _c("visit_concept_id", "INTEGER", "safe", "Visit type: 9201 inpatient, 9202 outpatient, 9203 ER, 262 ER+inpatient.", True),
            _c("visit_start_date", "DATE", "quasi", "Admission / visit date.", True),
            _c("visit_start_datetime", "TIMESTAMP", "quasi", "Admission time."),
            _c("visit_end_date", "DATE", "quasi", "Discharge date.", True),
            _c("visit_end_datetime", "TIMESTAMP", "quasi", "Discharge time."),
            _c("visit_type_concept_id", "INTEGER", "safe", "Provenance.", True),
            _c("provider_id", "BIGINT", "quasi", "Attending provider."),
            _c("care_site_id", "BIGINT", "quasi", "Hospital / department."),
            _c("visit_source_value", "VARCHAR", "safe", "Visit type as recorded."),
            _c("visit_source_concept_id", "INTEGER", "safe", "Source visit concept."),
            _c("admitted_from_concept_id", "INTEGER", "safe", "Where the patient came from."),
            _c("admitted_from_source_value", "VARCHAR", "safe", "As recorded."),
            _c("discharged_to_concept_id", "INTEGER", "safe", "Where the patient went."),
            _c("discharged_to_source_value", "VARCHAR", "safe", "As recorded."),
            _c("preceding_visit_occurrence_id", "BIGINT", "quasi", "Previous visit of the patient."),
        ],
    ),
    Table(
        name="condition_occurrence",
        description="Diagnoses (ICD-10-CM in the demo mart, SNOMED in standard OMOP marts).",
        columns=[
            _c("condition_occurrence_id", "BIGINT", "quasi", "Key.", True),
            _c("person_id", "BIGINT", "quasi", "Patient.", True),
            _c("condition_concept_id", "INTEGER", "safe", "Diagnosis concept.", True),
            _c("condition_start_date", "DATE", "quasi", "Date of diagnosis.", True),
            _c("condition_start_datetime", "TIMESTAMP", "quasi", "Time of diagnosis."),
            _c("condition_end_date", "DATE", "quasi", "Resolution date."),
            _c("condition_end_datetime", "TIMESTAMP", "quasi", "Resolution time."),
            _c("condition_type_concept_id", "INTEGER", "safe", "Provenance.", True),
            _c("condition_status_concept_id", "INTEGER", "safe", "Admission / primary / discharge diagnosis."),
            _c("stop_reason", "VARCHAR", "identifying", "Free text."),
            *_LINK_COLS,
            _c("condition_source_value", "VARCHAR", "safe", "Diagnosis code as recorded."),
            _c("condition_source_concept_id", "INTEGER", "safe", "Source diagnosis concept."),
            _c("condition_status_source_value", "VARCHAR", "safe", "Status as recorded."),
        ],
    ),
    Table(
        name="procedure_occurrence",
        description="Procedures and surgeries (ICD-9-CM procedure codes in the demo mart).",
        columns=[
            _c("procedure_occurrence_id", "BIGINT", "quasi", "Key.", True),
            _c("person_id", "BIGINT", "quasi", "Patient.", True),
            _c("procedure_concept_id", "INTEGER", "safe", "Procedure concept.", True),
            _c("procedure_date", "DATE", "quasi", "Date of the procedure.", True),
            _c("procedure_datetime", "TIMESTAMP", "quasi", "Time of the procedure."),
            _c("procedure_end_date", "DATE", "quasi", "End date."),
            _c("procedure_end_datetime", "TIMESTAMP", "quasi", "End time."),
            _type_col("procedure"),
            _c("modifier_concept_id", "INTEGER", "safe", "Modifier."),
            _c("quantity", "INTEGER", "safe", "How many."),
            *_LINK_COLS,
            _c("procedure_source_value", "VARCHAR", "safe", "Procedure code as recorded."),
            _c("procedure_source_concept_id", "INTEGER", "safe", "Source procedure concept."),
            _c("modifier_source_value", "VARCHAR", "safe", "Modifier as recorded."),
        ],
    ),
    Table(
        name="drug_exposure",
        description="Prescriptions and administrations (RxNorm ingredients in the demo mart).",
        columns=[
            _c("drug_exposure_id", "BIGINT", "quasi", "Key.", True),
            _c("person_id", "BIGINT", "quasi", "Patient.", True),
            _c("drug_concept_id", "INTEGER", "safe", "Drug concept.", True),
            _c("drug_exposure_start_date", "DATE", "quasi", "Start of exposure.", True),
            _c("drug_exposure_start_datetime", "TIMESTAMP", "quasi", "Start time."),
            _c("drug_exposure_end_date", "DATE", "quasi", "End of exposure.", True),
            _c("drug_exposure_end_datetime", "TIMESTAMP", "quasi", "End time."),
            _c("verbatim_end_date", "DATE", "quasi", "End date as recorded."),
            _type_col("drug"),
            _c("stop_reason", "VARCHAR", "identifying", "Free text."),
            _c("refills", "INTEGER", "safe", "Refills."),
            _c("quantity", "DOUBLE", "safe", "Quantity dispensed."),
            _c("days_supply", "INTEGER", "safe", "Days of supply."),
            _c("sig", "VARCHAR", "identifying", "Free-text directions."),
            _c("route_concept_id", "INTEGER", "safe", "Route."),
            _c("lot_number", "VARCHAR", "quasi", "Lot number."),
            *_LINK_COLS,
            _c("drug_source_value", "VARCHAR", "safe", "Drug code as recorded."),
            _c("drug_source_concept_id", "INTEGER", "safe", "Source drug concept."),
            _c("route_source_value", "VARCHAR", "safe", "Route as recorded."),
            _c("dose_unit_source_value", "VARCHAR", "safe", "Dose unit as recorded."),
        ],
    ),
    Table(
        name="measurement",
        description="Lab results and vital signs with numeric values and units (LOINC in the demo mart).",
        columns=[
            _c("measurement_id", "BIGINT", "quasi", "Key.", True),
            _c("person_id", "BIGINT", "quasi", "Patient.", True),
            _c("measurement_concept_id", "INTEGER", "safe", "Test concept.", True),
            _c("measurement_date", "DATE", "quasi", "Date of the result.", True),
            _c("measurement_datetime", "TIMESTAMP", "quasi", "Time of the result."),
            _c("measurement_time", "VARCHAR", "quasi", "Time as recorded."),
            _type_col("measurement"),
            _c("operator_concept_id", "INTEGER", "safe", "Comparison operator (<, >)."),
            _c("value_as_number", "DOUBLE", "safe", "Numeric result."),
            _c("value_as_concept_id", "INTEGER", "safe", "Categorical result."),
            _c("unit_concept_id", "INTEGER", "safe", "Unit."),
            _c("range_low", "DOUBLE", "safe", "Reference range low."),
            _c("range_high", "DOUBLE", "safe", "Reference range high."),
            *_LINK_COLS,
            _c("measurement_source_value", "VARCHAR", "safe", "Test code as recorded."),
            _c("measurement_source_concept_id", "INTEGER", "safe", "Source test concept."),
            _c("unit_source_value", "VARCHAR", "safe", "Unit as recorded, e.g. %, mg/dL."),
            _c("unit_source_concept_id", "INTEGER", "safe", "Source unit concept."),
            _c("value_source_value", "VARCHAR", "safe", "Result as recorded."),
            _c("measurement_event_id", "BIGINT", "quasi", "Linked event."),
            _c("meas_event_field_concept_id", "INTEGER", "safe", "Table of the linked event."),
        ],
    ),
    Table(
        name="observation",
        description="Other clinical facts: history, social facts, pathology findings.",
        columns=[
            _c("observation_id", "BIGINT", "quasi", "Key.", True),
            _c("person_id", "BIGINT", "quasi", "Patient.", True),
            _c("observation_concept_id", "INTEGER", "safe", "Observation concept.", True),
            _c("observation_date", "DATE", "quasi", "Date.", True),
            _c("observation_datetime", "TIMESTAMP", "quasi", "Time."),
            _type_col("observation"),
            _c("value_as_number", "DOUBLE", "safe", "Numeric value."),
            _c("value_as_string", "VARCHAR", "identifying", "Free-text value."),
            _c("value_as_concept_id", "INTEGER", "safe", "Categorical value."),
            _c("qualifier_concept_id", "INTEGER", "safe", "Qualifier."),
            _c("unit_concept_id", "INTEGER", "safe", "Unit."),
            *_LINK_COLS,
            _c("observation_source_value", "VARCHAR", "safe", "Code as recorded."),
            _c("observation_source_concept_id", "INTEGER", "safe", "Source concept."),
            _c("unit_source_value", "VARCHAR", "safe", "Unit as recorded."),
            _c("qualifier_source_value", "VARCHAR", "safe", "Qualifier as recorded."),
            _c("value_source_value", "VARCHAR", "safe", "Value as recorded."),
            _c("observation_event_id", "BIGINT", "quasi", "Linked event."),
            _c("obs_event_field_concept_id", "INTEGER", "safe", "Table of the linked event."),
        ],
    ),
    Table(
        name="note",
        description="Clinical notes: pathology and radiology reports, discharge summaries.",
        columns=[
            _c("note_id", "BIGINT", "quasi", "Key.", True),
            _c("person_id", "BIGINT", "quasi", "Patient.", True),
            _c("note_date", "DATE", "quasi", "Date written.", True),
            _c("note_datetime", "TIMESTAMP", "quasi", "Time written."),
            _c("note_type_concept_id", "INTEGER", "safe", "Provenance.", True),
            _c("note_class_concept_id", "INTEGER", "safe", "Kind of note (pathology, radiology …).", True),
            _c("note_title", "VARCHAR", "identifying", "Free-text title."),
            _c("note_text", "VARCHAR", "identifying", "Free text of the note; may name the patient.", True),
            _c("encoding_concept_id", "INTEGER", "safe", "Text encoding.", True),
            _c("language_concept_id", "INTEGER", "safe", "Language of the note.", True),
            _c("provider_id", "BIGINT", "quasi", "Author."),
            _c("visit_occurrence_id", "BIGINT", "quasi", "Visit."),
            _c("visit_detail_id", "BIGINT", "quasi", "Visit detail."),
            _c("note_source_value", "VARCHAR", "safe", "Note type as recorded."),
            _c("note_event_id", "BIGINT", "quasi", "Linked event."),
            _c("note_event_field_concept_id", "INTEGER", "safe", "Table of the linked event."),
        ],
    ),
    Table(
        name="death",
        description="Date and cause of death.",
        columns=[
            _c("person_id", "BIGINT", "quasi", "Patient.", True),
            _c("death_date", "DATE", "quasi", "Date of death.", True),
            _c("death_datetime", "TIMESTAMP", "quasi", "Time of death."),
            _c("death_type_concept_id", "INTEGER", "safe", "Provenance."),
            _c("cause_concept_id", "INTEGER", "safe", "Cause of death."),
            _c("cause_source_value", "VARCHAR", "safe", "Cause as recorded."),
            _c("cause_source_concept_id", "INTEGER", "safe", "Source cause concept."),
        ],
    ),
    Table(
        name="concept",
        description="Vocabulary: every code of every vocabulary (ICD-10-CM, SNOMED, RxNorm, LOINC …).",
        columns=[
            _c("concept_id", "INTEGER", "safe", "Key.", True),
            _c("concept_name", "VARCHAR", "safe", "English name.", True),
            _c("domain_id", "VARCHAR", "safe", "Condition, Procedure, Drug, Measurement …", True),
            _c("vocabulary_id", "VARCHAR", "safe", "ICD10CM, ICD9Proc, RxNorm, LOINC …", True),
            _c("concept_class_id", "VARCHAR", "safe", "Class within the vocabulary.", True),
            _c("standard_concept", "VARCHAR", "safe", "'S' standard, 'C' classification, NULL non-standard."),
            _c("concept_code", "VARCHAR", "safe", "The code itself, e.g. I21.0.", True),
            _c("valid_start_date", "DATE", "safe", "Validity start.", True),
            _c("valid_end_date", "DATE", "safe", "Validity end.", True),
            _c("invalid_reason", "VARCHAR", "safe", "Why invalid, if so."),
        ],
    ),
    Table(
        name="concept_ancestor",
        description="Transitive closure of the concept hierarchy (every ancestor of every concept).",
        columns=[
            _c("ancestor_concept_id", "INTEGER", "safe", "Ancestor.", True),
            _c("descendant_concept_id", "INTEGER", "safe", "Descendant (a concept is its own descendant).", True),
            _c("min_levels_of_separation", "INTEGER", "safe", "Shortest path.", True),
            _c("max_levels_of_separation", "INTEGER", "safe", "Longest path.", True),
        ],
    ),
    Table(
        name="concept_synonym",
        description="Other names of concepts, in any language (Korean: language_concept_id 4175771).",
        columns=[
            _c("concept_id", "INTEGER", "safe", "Concept.", True),
            _c("concept_synonym_name", "VARCHAR", "safe", "The synonym.", True),
            _c("language_concept_id", "INTEGER", "safe", "4180186 English, 4175771 Korean.", True),
        ],
    ),
    Table(
        name="vocabulary",
        description="The vocabularies present in the mart and their versions.",
        columns=[
            _c("vocabulary_id", "VARCHAR", "safe", "Key.", True),
            _c("vocabulary_name", "VARCHAR", "safe", "Full name.", True),
            _c("vocabulary_reference", "VARCHAR", "safe", "Where it comes from."),
            _c("vocabulary_version", "VARCHAR", "safe", "Version."),
            _c("vocabulary_concept_id", "INTEGER", "safe", "Concept for the vocabulary.", True),
        ],
    ),
    Table(
        name="image_occurrence",
        extension=True,
        description="OHDSI imaging extension: one row per imaging series, linked to person, procedure and visit.",
        columns=[
            _c("image_occurrence_id", "BIGINT", "quasi", "Key.", True),
            _c("person_id", "BIGINT", "quasi", "Patient.", True),
            _c("procedure_occurrence_id", "BIGINT", "quasi", "The imaging procedure that produced it."),
            _c("visit_occurrence_id", "BIGINT", "quasi", "Visit."),
            _c("anatomic_site_concept_id", "INTEGER", "safe", "Body part concept."),
            _c("wadors_uri", "VARCHAR", "identifying", "DICOMweb address of the series (contains UIDs)."),
            _c("local_path", "VARCHAR", "identifying", "File location of the series."),
            _c("image_occurrence_date", "DATE", "quasi", "Study date.", True),
            _c("image_study_uid", "VARCHAR", "identifying", "DICOM StudyInstanceUID.", True),
            _c("image_series_uid", "VARCHAR", "identifying", "DICOM SeriesInstanceUID.", True),
            _c("modality_concept_id", "INTEGER", "safe", "Modality concept."),
            _c("modality_source_value", "VARCHAR", "safe", "DICOM Modality code: CT, MR, XA, US, CR, DX …"),
            _c("anatomic_site_source_value", "VARCHAR", "safe", "DICOM BodyPartExamined: CHEST, HEART, HEAD …"),
        ],
    ),
]

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}

#: Columns that may never appear in any query's output, whoever asks.
IDENTIFYING_COLUMNS: frozenset[tuple[str, str]] = frozenset(
    (t.name, c.name) for t in TABLES for c in t.columns if c.privacy == "identifying"
)


def catalog_json() -> list[dict]:
    """The description as plain JSON data (for the LLM prompt, the docs and the API)."""
    return [t.model_dump() for t in TABLES]
