"""Demo mart generator: a fictional Korean regional hospital network as an OMOP CDM 5.4 DuckDB file.

Why it exists: every other stage (parser evaluation, SQL compiler, DICOM linking, de-identification,
the API) needs a realistic, reproducible mart to run against without touching patient data.

Public API::

    from cohort_engine.schema_catalog.demo import generate_mart
    path = generate_mart(out_dir, persons=20_000, seed=42)   # -> out_dir / "mart.duckdb"

or ``python -m schema_catalog.demo --out DIR --persons N --seed S``.

What is in it (data from 2019-01-01 to 2025-06-30):

* vocabulary: the full ICD-10-CM tree from ``simple_icd_10_cm`` (chapters and blocks as
  classification concepts, closure in ``concept_ancestor``), a curated ICD-9-CM procedure subset
  with its hierarchy, RxNorm ingredients, LOINC labs/documents, UCUM units, the real OMOP ids of
  gender/visit/type/language concepts, and Korean (4175771) and English (4180186) synonyms for every
  concept the population uses (ids and ranges: :mod:`schema_catalog.demo.concepts`);
  ICD-10-CM chapter concepts keep the package's chapter number as ``concept_code`` ('9') and carry
  their code range ('I00-I99') as an English synonym;
* population: persons with hospital MRNs (``person_source_value`` 'H' + 8 digits), visits,
  conditions, procedures, drugs, labs with units, observations (smoking status, histology, tumour
  size), notes (discharge, radiology, pathology; Korean or English; ~40 % name the patient),
  deaths with causes, and one ``image_occurrence`` row per DICOM series of every imaging procedure
  (UIDs under the demo root ``1.2.826.0.1.3680043.10.543.<seed>.``);
* clinical pathways with plausible timing: acute MI (ER, troponin, angiography, primary PCI or
  CABG 5-14 days later, staged PCI), stable CAD (clinic, elective angiography 1-2 weeks later,
  PCI or CABG), stroke (CT/MRI, thrombolysis or thrombectomy), colon/stomach/lung/breast cancer
  (work-up, pathology, surgery, chemotherapy cycles, surveillance), GI bleeding, diabetes,
  hypertension and other chronic care, elective surgery, background visits.

``demo_identity`` (outside OMOP; **identifying**, not in ``schema_catalog.tables``):

==============  =======  ==========================================================
person_id       BIGINT   the person (key into ``person``)
family_name     VARCHAR  romanized family name, e.g. 'Kim'
given_name      VARCHAR  romanized given name, e.g. 'Min-jun'
name_hangul     VARCHAR  full name in Hangul, family name first, e.g. '김민준'
address         VARCHAR  fake street address in the Daegu / Gyeongbuk region
phone           VARCHAR  fake mobile number '010-NNNN-NNNN'
==============  =======  ==========================================================

It exists so that DICOM headers and de-identification tests can use the same fake names as the
notes; no query may ever read it.
"""

from __future__ import annotations

from cohort_engine.schema_catalog.demo.mart import generate_mart

__all__ = ["generate_mart"]
