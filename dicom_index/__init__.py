"""dicom_index: DICOM headers from folders → ``dicom_study/series/instance`` (+ ``dicom_quarantine``) in
the mart, and demo DICOM for the demo mart.

* ``dicom_index.header``  — fast header reader (raw element walk, pydicom-equal values), ``HeaderError``;
* ``dicom_index.scan``    — per-file work of the indexer (header + whole-file xxh3 hash → row);
* ``dicom_index.indexer`` — ``index_folders()``: parallel, incremental, resumable indexing;
* ``dicom_index.tables``  — the four tables as ``schema_catalog.tables.Table`` with privacy classes;
* ``dicom_index.dicomweb``— ``crawl_dicomweb()``: QIDO-RS/WADO-RS crawl of a PACS into the same tables
  (resumable, rate-limited, bad responses quarantined);
* ``dicom_index.link``    — ``link_mart()``: PatientID → person, series → ``image_occurrence``, studies →
  procedures (accession number, else same-day imaging procedure);
* ``dicom_index.select``  — ``cohort_imaging_sql()``: the cohort's studies/series/instances (the spec's
  imaging request), guard-validated, for the de-identified export;
* ``dicom_index.console`` — progress bars and summary tables for ``cohort index`` / ``link`` / ``demo-data``;
* ``dicom_index.demo``    — ``write_demo_dicom()``: Part-10 files for the mart's imaging series.

(The tiny synthetic mart of the DICOM tests and benchmark is ``tests/dicom_fixtures.py``: test
material stays out of the wheel.)

Nothing is imported here on purpose: worker processes import this package, and must start without
DuckDB, pyarrow or pydantic.
"""
