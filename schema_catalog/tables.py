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


def col(name: str, type_: str, privacy: Privacy, description: str, required: bool = False) -> Column:
    """A column in one line: the catalogues (this one and the DICOM index's) are long lists of these."""
    return Column(name=name, type=type_, privacy=privacy, description=description, required=required)


def _type_col(prefix: str) -> Column:
    """The provenance column every clinical event table has (``<prefix>_type_concept_id``)."""
    return col(f"{prefix}_type_concept_id", "INTEGER", "safe", "Provenance of the record (EHR, claim …).")


#: Columns that tie a clinical event to who recorded it and during which visit.
_LINK_COLS: list[Column] = [
    col("provider_id", "BIGINT", "quasi", "Treating provider (internal key)."),
    col("visit_occurrence_id", "BIGINT", "quasi", "Visit during which the event was recorded."),
    col("visit_detail_id", "BIGINT", "quasi", "Visit detail (ward, unit) of the event."),
]


TABLES: list[Table] = [
    Table(
        name="person",
        description="One row per patient: sex, birth, and the hospital's own identifier.",
        columns=[
            col("person_id", "BIGINT", "quasi", "Internal surrogate key of the patient.", True),
            col("gender_concept_id", "INTEGER", "safe", "Sex: 8507 male, 8532 female.", True),
            col(
                "year_of_birth", "INTEGER", "quasi", "Year of birth; age = year(index) - year_of_birth.", True
            ),
            col("month_of_birth", "INTEGER", "quasi", "Month of birth."),
            col(
                "day_of_birth",
                "INTEGER",
                "identifying",
                "Day of birth (with month and year: a full birth date).",
            ),
            col("birth_datetime", "TIMESTAMP", "identifying", "Full birth date and time."),
            col("race_concept_id", "INTEGER", "safe", "Race concept."),
            col("ethnicity_concept_id", "INTEGER", "safe", "Ethnicity concept."),
            col("location_id", "BIGINT", "quasi", "Home address (key into location)."),
            col("provider_id", "BIGINT", "quasi", "Primary care provider."),
            col("care_site_id", "BIGINT", "quasi", "Primary care site."),
            col("person_source_value", "VARCHAR", "identifying", "Hospital medical record number (MRN)."),
            col("gender_source_value", "VARCHAR", "safe", "Sex as recorded at the source."),
            col("gender_source_concept_id", "INTEGER", "safe", "Source sex concept."),
            col("race_source_value", "VARCHAR", "safe", "Race as recorded."),
            col("race_source_concept_id", "INTEGER", "safe", "Source race concept."),
            col("ethnicity_source_value", "VARCHAR", "safe", "Ethnicity as recorded."),
            col("ethnicity_source_concept_id", "INTEGER", "safe", "Source ethnicity concept."),
        ],
    ),
    Table(
        name="observation_period",
        description="Spans of time during which the patient's care is recorded in this mart.",
        columns=[
            col("observation_period_id", "BIGINT", "quasi", "Key.", True),
            col("person_id", "BIGINT", "quasi", "Patient.", True),
            col("observation_period_start_date", "DATE", "quasi", "First day of recorded care.", True),
            col("observation_period_end_date", "DATE", "quasi", "Last day of recorded care.", True),
            col("period_type_concept_id", "INTEGER", "safe", "Provenance.", True),
        ],
    ),
    Table(
        name="visit_occurrence",
        description="Encounters: inpatient stays (9201), outpatient visits (9202), ER visits (9203).",
        columns=[
            col("visit_occurrence_id", "BIGINT", "quasi", "Key.", True),
            col("person_id", "BIGINT", "quasi", "Patient.", True),
            col(
                "visit_concept_id",
                "INTEGER",
                "safe",
                "Visit type: 9201 inpatient, 9202 outpatient, 9203 ER, 262 ER+inpatient.",
                True,
            ),
            col("visit_start_date", "DATE", "quasi", "Admission / visit date.", True),
            col("visit_start_datetime", "TIMESTAMP", "quasi", "Admission time."),
            col("visit_end_date", "DATE", "quasi", "Discharge date.", True),
            col("visit_end_datetime", "TIMESTAMP", "quasi", "Discharge time."),
            col("visit_type_concept_id", "INTEGER", "safe", "Provenance.", True),
            col("provider_id", "BIGINT", "quasi", "Attending provider."),
            col("care_site_id", "BIGINT", "quasi", "Hospital / department."),
            col("visit_source_value", "VARCHAR", "safe", "Visit type as recorded."),
            col("visit_source_concept_id", "INTEGER", "safe", "Source visit concept."),
            col("admitted_from_concept_id", "INTEGER", "safe", "Where the patient came from."),
            col("admitted_from_source_value", "VARCHAR", "safe", "As recorded."),
            col("discharged_to_concept_id", "INTEGER", "safe", "Where the patient went."),
            col("discharged_to_source_value", "VARCHAR", "safe", "As recorded."),
            col("preceding_visit_occurrence_id", "BIGINT", "quasi", "Previous visit of the patient."),
        ],
    ),
    Table(
        name="condition_occurrence",
        description="Diagnoses (ICD-10-CM in the demo mart, SNOMED in standard OMOP marts).",
        columns=[
            col("condition_occurrence_id", "BIGINT", "quasi", "Key.", True),
            col("person_id", "BIGINT", "quasi", "Patient.", True),
            col("condition_concept_id", "INTEGER", "safe", "Diagnosis concept.", True),
            col("condition_start_date", "DATE", "quasi", "Date of diagnosis.", True),
            col("condition_start_datetime", "TIMESTAMP", "quasi", "Time of diagnosis."),
            col("condition_end_date", "DATE", "quasi", "Resolution date."),
            col("condition_end_datetime", "TIMESTAMP", "quasi", "Resolution time."),
            col("condition_type_concept_id", "INTEGER", "safe", "Provenance.", True),
            col(
                "condition_status_concept_id", "INTEGER", "safe", "Admission / primary / discharge diagnosis."
            ),
            col("stop_reason", "VARCHAR", "identifying", "Free text."),
            *_LINK_COLS,
            col("condition_source_value", "VARCHAR", "safe", "Diagnosis code as recorded."),
            col("condition_source_concept_id", "INTEGER", "safe", "Source diagnosis concept."),
            col("condition_status_source_value", "VARCHAR", "safe", "Status as recorded."),
        ],
    ),
    Table(
        name="procedure_occurrence",
        description="Procedures and surgeries (ICD-9-CM procedure codes in the demo mart).",
        columns=[
            col("procedure_occurrence_id", "BIGINT", "quasi", "Key.", True),
            col("person_id", "BIGINT", "quasi", "Patient.", True),
            col("procedure_concept_id", "INTEGER", "safe", "Procedure concept.", True),
            col("procedure_date", "DATE", "quasi", "Date of the procedure.", True),
            col("procedure_datetime", "TIMESTAMP", "quasi", "Time of the procedure."),
            col("procedure_end_date", "DATE", "quasi", "End date."),
            col("procedure_end_datetime", "TIMESTAMP", "quasi", "End time."),
            _type_col("procedure"),
            col("modifier_concept_id", "INTEGER", "safe", "Modifier."),
            col("quantity", "INTEGER", "safe", "How many."),
            *_LINK_COLS,
            col("procedure_source_value", "VARCHAR", "safe", "Procedure code as recorded."),
            col("procedure_source_concept_id", "INTEGER", "safe", "Source procedure concept."),
            col("modifier_source_value", "VARCHAR", "safe", "Modifier as recorded."),
        ],
    ),
    Table(
        name="drug_exposure",
        description="Prescriptions and administrations (RxNorm ingredients in the demo mart).",
        columns=[
            col("drug_exposure_id", "BIGINT", "quasi", "Key.", True),
            col("person_id", "BIGINT", "quasi", "Patient.", True),
            col("drug_concept_id", "INTEGER", "safe", "Drug concept.", True),
            col("drug_exposure_start_date", "DATE", "quasi", "Start of exposure.", True),
            col("drug_exposure_start_datetime", "TIMESTAMP", "quasi", "Start time."),
            col("drug_exposure_end_date", "DATE", "quasi", "End of exposure.", True),
            col("drug_exposure_end_datetime", "TIMESTAMP", "quasi", "End time."),
            col("verbatim_end_date", "DATE", "quasi", "End date as recorded."),
            _type_col("drug"),
            col("stop_reason", "VARCHAR", "identifying", "Free text."),
            col("refills", "INTEGER", "safe", "Refills."),
            col("quantity", "DOUBLE", "safe", "Quantity dispensed."),
            col("days_supply", "INTEGER", "safe", "Days of supply."),
            col("sig", "VARCHAR", "identifying", "Free-text directions."),
            col("route_concept_id", "INTEGER", "safe", "Route."),
            col("lot_number", "VARCHAR", "quasi", "Lot number."),
            *_LINK_COLS,
            col("drug_source_value", "VARCHAR", "safe", "Drug code as recorded."),
            col("drug_source_concept_id", "INTEGER", "safe", "Source drug concept."),
            col("route_source_value", "VARCHAR", "safe", "Route as recorded."),
            col("dose_unit_source_value", "VARCHAR", "safe", "Dose unit as recorded."),
        ],
    ),
    Table(
        name="measurement",
        description="Lab results and vital signs with numeric values and units (LOINC in the demo mart).",
        columns=[
            col("measurement_id", "BIGINT", "quasi", "Key.", True),
            col("person_id", "BIGINT", "quasi", "Patient.", True),
            col("measurement_concept_id", "INTEGER", "safe", "Test concept.", True),
            col("measurement_date", "DATE", "quasi", "Date of the result.", True),
            col("measurement_datetime", "TIMESTAMP", "quasi", "Time of the result."),
            col("measurement_time", "VARCHAR", "quasi", "Time as recorded."),
            _type_col("measurement"),
            col("operator_concept_id", "INTEGER", "safe", "Comparison operator (<, >)."),
            col("value_as_number", "DOUBLE", "safe", "Numeric result."),
            col("value_as_concept_id", "INTEGER", "safe", "Categorical result."),
            col("unit_concept_id", "INTEGER", "safe", "Unit."),
            col("range_low", "DOUBLE", "safe", "Reference range low."),
            col("range_high", "DOUBLE", "safe", "Reference range high."),
            *_LINK_COLS,
            col("measurement_source_value", "VARCHAR", "safe", "Test code as recorded."),
            col("measurement_source_concept_id", "INTEGER", "safe", "Source test concept."),
            col("unit_source_value", "VARCHAR", "safe", "Unit as recorded, e.g. %, mg/dL."),
            col("unit_source_concept_id", "INTEGER", "safe", "Source unit concept."),
            col("value_source_value", "VARCHAR", "safe", "Result as recorded."),
            col("measurement_event_id", "BIGINT", "quasi", "Linked event."),
            col("meas_event_field_concept_id", "INTEGER", "safe", "Table of the linked event."),
        ],
    ),
    Table(
        name="observation",
        description="Other clinical facts: history, social facts, pathology findings.",
        columns=[
            col("observation_id", "BIGINT", "quasi", "Key.", True),
            col("person_id", "BIGINT", "quasi", "Patient.", True),
            col("observation_concept_id", "INTEGER", "safe", "Observation concept.", True),
            col("observation_date", "DATE", "quasi", "Date.", True),
            col("observation_datetime", "TIMESTAMP", "quasi", "Time."),
            _type_col("observation"),
            col("value_as_number", "DOUBLE", "safe", "Numeric value."),
            col("value_as_string", "VARCHAR", "identifying", "Free-text value."),
            col("value_as_concept_id", "INTEGER", "safe", "Categorical value."),
            col("qualifier_concept_id", "INTEGER", "safe", "Qualifier."),
            col("unit_concept_id", "INTEGER", "safe", "Unit."),
            *_LINK_COLS,
            col("observation_source_value", "VARCHAR", "safe", "Code as recorded."),
            col("observation_source_concept_id", "INTEGER", "safe", "Source concept."),
            col("unit_source_value", "VARCHAR", "safe", "Unit as recorded."),
            col("qualifier_source_value", "VARCHAR", "safe", "Qualifier as recorded."),
            col("value_source_value", "VARCHAR", "safe", "Value as recorded."),
            col("observation_event_id", "BIGINT", "quasi", "Linked event."),
            col("obs_event_field_concept_id", "INTEGER", "safe", "Table of the linked event."),
        ],
    ),
    Table(
        name="note",
        description="Clinical notes: pathology and radiology reports, discharge summaries.",
        columns=[
            col("note_id", "BIGINT", "quasi", "Key.", True),
            col("person_id", "BIGINT", "quasi", "Patient.", True),
            col("note_date", "DATE", "quasi", "Date written.", True),
            col("note_datetime", "TIMESTAMP", "quasi", "Time written."),
            col("note_type_concept_id", "INTEGER", "safe", "Provenance.", True),
            col("note_class_concept_id", "INTEGER", "safe", "Kind of note (pathology, radiology …).", True),
            col("note_title", "VARCHAR", "identifying", "Free-text title."),
            col("note_text", "VARCHAR", "identifying", "Free text of the note; may name the patient.", True),
            col("encoding_concept_id", "INTEGER", "safe", "Text encoding.", True),
            col("language_concept_id", "INTEGER", "safe", "Language of the note.", True),
            col("provider_id", "BIGINT", "quasi", "Author."),
            col("visit_occurrence_id", "BIGINT", "quasi", "Visit."),
            col("visit_detail_id", "BIGINT", "quasi", "Visit detail."),
            col("note_source_value", "VARCHAR", "safe", "Note type as recorded."),
            col("note_event_id", "BIGINT", "quasi", "Linked event."),
            col("note_event_field_concept_id", "INTEGER", "safe", "Table of the linked event."),
        ],
    ),
    Table(
        name="death",
        description="Date and cause of death.",
        columns=[
            col("person_id", "BIGINT", "quasi", "Patient.", True),
            col("death_date", "DATE", "quasi", "Date of death.", True),
            col("death_datetime", "TIMESTAMP", "quasi", "Time of death."),
            col("death_type_concept_id", "INTEGER", "safe", "Provenance."),
            col("cause_concept_id", "INTEGER", "safe", "Cause of death."),
            col("cause_source_value", "VARCHAR", "safe", "Cause as recorded."),
            col("cause_source_concept_id", "INTEGER", "safe", "Source cause concept."),
        ],
    ),
    Table(
        name="concept",
        description="Vocabulary: every code of every vocabulary (ICD-10-CM, SNOMED, RxNorm, LOINC …).",
        columns=[
            col("concept_id", "INTEGER", "safe", "Key.", True),
            col("concept_name", "VARCHAR", "safe", "English name.", True),
            col("domain_id", "VARCHAR", "safe", "Condition, Procedure, Drug, Measurement …", True),
            col("vocabulary_id", "VARCHAR", "safe", "ICD10CM, ICD9Proc, RxNorm, LOINC …", True),
            col("concept_class_id", "VARCHAR", "safe", "Class within the vocabulary.", True),
            col(
                "standard_concept", "VARCHAR", "safe", "'S' standard, 'C' classification, NULL non-standard."
            ),
            col("concept_code", "VARCHAR", "safe", "The code itself, e.g. I21.0.", True),
            col("valid_start_date", "DATE", "safe", "Validity start.", True),
            col("valid_end_date", "DATE", "safe", "Validity end.", True),
            col("invalid_reason", "VARCHAR", "safe", "Why invalid, if so."),
        ],
    ),
    Table(
        name="concept_ancestor",
        description="Transitive closure of the concept hierarchy (every ancestor of every concept).",
        columns=[
            col("ancestor_concept_id", "INTEGER", "safe", "Ancestor.", True),
            col(
                "descendant_concept_id",
                "INTEGER",
                "safe",
                "Descendant (a concept is its own descendant).",
                True,
            ),
            col("min_levels_of_separation", "INTEGER", "safe", "Shortest path.", True),
            col("max_levels_of_separation", "INTEGER", "safe", "Longest path.", True),
        ],
    ),
    Table(
        name="concept_synonym",
        description="Other names of concepts, in any language (Korean: language_concept_id 4175771).",
        columns=[
            col("concept_id", "INTEGER", "safe", "Concept.", True),
            col("concept_synonym_name", "VARCHAR", "safe", "The synonym.", True),
            col("language_concept_id", "INTEGER", "safe", "4180186 English, 4175771 Korean.", True),
        ],
    ),
    Table(
        name="vocabulary",
        description="The vocabularies present in the mart and their versions.",
        columns=[
            col("vocabulary_id", "VARCHAR", "safe", "Key.", True),
            col("vocabulary_name", "VARCHAR", "safe", "Full name.", True),
            col("vocabulary_reference", "VARCHAR", "safe", "Where it comes from."),
            col("vocabulary_version", "VARCHAR", "safe", "Version."),
            col("vocabulary_concept_id", "INTEGER", "safe", "Concept for the vocabulary.", True),
        ],
    ),
    Table(
        name="image_occurrence",
        extension=True,
        description="OHDSI imaging extension: one row per imaging series, linked to person, procedure "
        "and visit.",
        columns=[
            col("image_occurrence_id", "BIGINT", "quasi", "Key.", True),
            col("person_id", "BIGINT", "quasi", "Patient.", True),
            col("procedure_occurrence_id", "BIGINT", "quasi", "The imaging procedure that produced it."),
            col("visit_occurrence_id", "BIGINT", "quasi", "Visit."),
            col("anatomic_site_concept_id", "INTEGER", "safe", "Body part concept."),
            col("wadors_uri", "VARCHAR", "identifying", "DICOMweb address of the series (contains UIDs)."),
            col("local_path", "VARCHAR", "identifying", "File location of the series."),
            col("image_occurrence_date", "DATE", "quasi", "Study date.", True),
            col("image_study_uid", "VARCHAR", "identifying", "DICOM StudyInstanceUID.", True),
            col("image_series_uid", "VARCHAR", "identifying", "DICOM SeriesInstanceUID.", True),
            col("modality_concept_id", "INTEGER", "safe", "Modality concept."),
            col("modality_source_value", "VARCHAR", "safe", "DICOM Modality code: CT, MR, XA, US, CR, DX …"),
            col(
                "anatomic_site_source_value",
                "VARCHAR",
                "safe",
                "DICOM BodyPartExamined: CHEST, HEART, HEAD …",
            ),
        ],
    ),
]

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def catalog_json() -> list[dict]:
    """The description as plain JSON data (for the LLM prompt, the docs and the API)."""
    return [t.model_dump() for t in TABLES]
