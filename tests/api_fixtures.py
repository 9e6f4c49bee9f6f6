"""A tiny, fully known OMOP mart for the API tests (kept out of the wheel: it is test data).

Everything here is fictional. Layout (``build_tiny_mart``):

* concepts: I21 acute MI and I25.1 coronary atherosclerosis (ICD10CM), I10 hypertension; CABG (36.1),
  PCI (00.66), stent (36.06) and appendectomy (47.09) (ICD9Proc); self rows in concept_ancestor;
* 60 persons (odd ids male, even female), MRN-like ``person_source_value`` values that must never
  come out of the API (:data:`MRNS`);
* persons 1–40 have a diagnosis dated 2023-10-01…10 (ids 1–20 I21, 21–30 I25.1, 31–40 I10), 41–60 in
  2023-11;
* persons 1–13 have a CABG/PCI 7–14 days after their diagnosis (the seed scenario: 13 patients),
  14–16 one 20 days after (outside the window), 17–18 an appendectomy 3 days after;
* persons 1–13 have imaging series (CT CHEST 1 day after the diagnosis for all, XA HEART 8 days after
  for 1–6, MR HEAD 30 days after for 1–2), each its own study; ``image_occurrence`` first holds
  them with PACS-style paths and URIs (:data:`UID_ROOT`, ``/pacs/<MRN>/…``) that must never come out;
* a real DICOM index of those series: :func:`dicom_index.demo.write_demo_dicom` writes Part-10 files
  for every ``image_occurrence`` row (PatientID = the MRN, names and free text planted by the demo
  writer) into ``<mart stem>.dicom/`` beside the mart, :func:`dicom_index.indexer.index_folders`
  indexes them and :func:`dicom_index.link.link_mart` links them back (refreshing the same rows), as
  ``cohort index`` does.  The API's manifests come from this index (``deid.manifest``).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb

from cohort_engine.dicom_index.demo import write_demo_dicom
from cohort_engine.dicom_index.indexer import index_folders
from cohort_engine.dicom_index.link import link_mart
from cohort_engine.schema_catalog.ddl import omop_ddl

SEED_COUNT = 13
INDEX_PERSONS = 40
MRNS = [f"H{90000000 + i:08d}" for i in range(1, 61)]
#: Root of the original study/series UIDs (the demo writer derives SOP instance UIDs from them).
UID_ROOT = "1.2.826.0.1.3680043.99"
#: Seed of the demo DICOM writer (names, descriptions, files per series).
DICOM_SEED = 7
#: (modality, body part, days after the diagnosis) of each person's imaging series, by person id.
SERIES = {
    pid: [("CT", "CHEST", 1)]
    + ([("XA", "HEART", 8)] if pid <= 6 else [])
    + ([("MR", "HEAD", 30)] if pid <= 2 else [])
    for pid in range(1, SEED_COUNT + 1)
}
CONCEPTS = [
    (1001, "Acute myocardial infarction", "Condition", "ICD10CM", "I21"),
    (1002, "Atherosclerotic heart disease of native coronary artery", "Condition", "ICD10CM", "I25.1"),
    (1003, "Essential (primary) hypertension", "Condition", "ICD10CM", "I10"),
    (2001, "Coronary artery bypass graft", "Procedure", "ICD9Proc", "36.1"),
    (2002, "Percutaneous transluminal coronary angioplasty", "Procedure", "ICD9Proc", "00.66"),
    (2003, "Insertion of drug-eluting coronary artery stent", "Procedure", "ICD9Proc", "36.06"),
    (2004, "Other appendectomy", "Procedure", "ICD9Proc", "47.09"),
    (8507, "MALE", "Gender", "Gender", "M"),
    (8532, "FEMALE", "Gender", "Gender", "F"),
]


def dicom_dir(mart: Path) -> Path:
    """Where :func:`build_tiny_mart` writes the mart's DICOM files."""
    mart = Path(mart)
    return mart.with_name(mart.stem + ".dicom")


def build_tiny_mart(path: Path) -> Path:
    """Write the tiny mart at ``path`` (replacing it) and its DICOM files, indexed and linked."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    shutil.rmtree(dicom_dir(path), ignore_errors=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(omop_ddl())
        for cid, name, domain, vocab, code in CONCEPTS:
            con.execute(
                "INSERT INTO concept VALUES "
                "(?, ?, ?, ?, 'Code', 'S', ?, DATE '2000-01-01', DATE '2099-12-31', NULL)",
                [cid, name, domain, vocab, code],
            )
            con.execute("INSERT INTO concept_ancestor VALUES (?, ?, 0, 0)", [cid, cid])
        for vocab in ("ICD10CM", "ICD9Proc", "Gender"):
            con.execute("INSERT INTO vocabulary VALUES (?, ?, NULL, 'test', 0)", [vocab, vocab])
        proc_id = img_id = 0
        for pid in range(1, 61):
            con.execute(
                "INSERT INTO person (person_id, gender_concept_id, year_of_birth, race_concept_id, "
                "ethnicity_concept_id, person_source_value) VALUES (?, ?, ?, 0, 0, ?)",
                [pid, 8507 if pid % 2 else 8532, 1940 + (pid * 7) % 50, MRNS[pid - 1]],
            )
            con.execute(
                "INSERT INTO observation_period VALUES (?, ?, DATE '2015-01-01', DATE '2024-12-31', 0)",
                [pid, pid],
            )
            if pid <= INDEX_PERSONS:
                dx = date(2023, 10, 1 + (pid % 10))
                concept = 1001 if pid <= 20 else 1002 if pid <= 30 else 1003
            else:
                dx = date(2023, 11, 1 + (pid % 20))
                concept = 1001
            con.execute(
                "INSERT INTO condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, "
                "condition_start_date, condition_type_concept_id) VALUES (?, ?, ?, ?, 0)",
                [pid, pid, concept, dx],
            )
            procs: list[tuple[int, int]] = []
            if pid <= SEED_COUNT:
                procs.append((2001 if pid % 2 else 2002, 7 + pid % 8))
            elif pid <= 16:
                procs.append((2001, 20))
            elif pid <= 18:
                procs.append((2004, 3))
            for concept_id, days in procs:
                proc_id += 1
                con.execute(
                    "INSERT INTO procedure_occurrence (procedure_occurrence_id, person_id, "
                    "procedure_concept_id, procedure_date, procedure_type_concept_id) VALUES (?, ?, ?, ?, 0)",
                    [proc_id, pid, concept_id, dx + timedelta(days=days)],
                )
            for modality, body, days in SERIES.get(pid, []):
                img_id += 1
                con.execute(
                    "INSERT INTO image_occurrence (image_occurrence_id, person_id, image_occurrence_date, "
                    "image_study_uid, image_series_uid, modality_source_value, anatomic_site_source_value, "
                    "local_path, wadors_uri) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        img_id,
                        pid,
                        dx + timedelta(days=days),
                        f"{UID_ROOT}.{pid}.{img_id}",
                        f"{UID_ROOT}.{pid}.{img_id}.1",
                        modality,
                        body,
                        f"/pacs/{MRNS[pid - 1]}/{img_id}.dcm",
                        f"https://pacs.example/studies/{UID_ROOT}.{pid}.{img_id}",
                    ],
                )
    finally:
        con.close()
    write_demo_dicom(path, dicom_dir(path), seed=DICOM_SEED)
    index_folders(path, [dicom_dir(path)], workers=1)
    link_mart(path)
    return path
