"""Description of the DICOM index tables, in the same form as the OMOP catalog (``schema_catalog.tables``).

One description feeds the DDL (``schema_catalog.ddl.table_ddl``), the SQL guard's allow-list and its
identifying-column rule, so the index can be queried beside the OMOP tables under the same privacy
classes: UIDs, PatientID, AccessionNumber, file paths, content hashes and free-text descriptions are
``identifying`` (never in any output); dates, times and file timestamps are ``quasi``; modality, body
part, equipment, geometry and counts are ``safe``.

``dicom_instance`` holds one row per indexed file with every indexed attribute as read from that file;
``dicom_series`` and ``dicom_study`` are rebuilt from it at the end of every indexing run (one row per
UID; where files of one series/study disagree, the value of the first file by path wins).
``dicom_quarantine`` holds every file that could not be indexed, with a value-free reason.

Instances crawled from a DICOMweb server (``dicom_index.dicomweb``) live in the same tables: their
``path`` is the WADO-RS instance URL, and ``file_size``, ``file_mtime_ns`` and ``content_hash`` are NULL
because QIDO-RS / WADO-RS metadata carry no file size, time or bytes (``dicom_series.total_bytes`` is
then NULL as well); failed DICOMweb requests are quarantined under the URL that failed.
"""

from __future__ import annotations

from cohort_engine.schema_catalog.tables import Table, col

__all__ = [
    "DICOM_INSTANCE",
    "DICOM_QUARANTINE",
    "DICOM_SERIES",
    "DICOM_STUDY",
    "DICOM_TABLES",
    "DICOM_TABLES_BY_NAME",
]


DICOM_INSTANCE = Table(
    name="dicom_instance",
    extension=True,
    description="DICOM index: one row per indexed file (an instance), with every indexed header attribute.",
    columns=[
        col(
            "path",
            "VARCHAR",
            "identifying",
            "Absolute file path (paths often contain names or MRNs), or the WADO-RS "
            "instance URL for instances crawled from a DICOMweb server.",
            True,
        ),
        col(
            "file_size",
            "BIGINT",
            "safe",
            "File size in bytes (NULL for DICOMweb: the metadata does not carry it).",
        ),
        col(
            "file_mtime_ns",
            "BIGINT",
            "quasi",
            "File modification time (ns since epoch); with size, decides re-reading (NULL for DICOMweb).",
        ),
        col(
            "content_hash",
            "VARCHAR",
            "identifying",
            "xxh3-128 of the whole file, hex (links back to the original file; NULL for DICOMweb).",
        ),
        col("sop_instance_uid", "VARCHAR", "identifying", "DICOM SOPInstanceUID.", True),
        col("series_instance_uid", "VARCHAR", "identifying", "DICOM SeriesInstanceUID.", True),
        col("study_instance_uid", "VARCHAR", "identifying", "DICOM StudyInstanceUID.", True),
        col(
            "patient_id",
            "VARCHAR",
            "identifying",
            "DICOM PatientID (usually the hospital MRN = person.person_source_value).",
        ),
        col(
            "sop_class_uid",
            "VARCHAR",
            "safe",
            "DICOM SOPClassUID: kind of object (CT image, MR image, SR …).",
        ),
        col("study_date", "DATE", "quasi", "DICOM StudyDate."),
        col("study_time", "VARCHAR", "quasi", "DICOM StudyTime as recorded (HHMMSS.frac)."),
        col("series_date", "DATE", "quasi", "DICOM SeriesDate."),
        col("modality", "VARCHAR", "safe", "DICOM Modality: CT, MR, XA, US, CR, DX …"),
        col("body_part_examined", "VARCHAR", "safe", "DICOM BodyPartExamined: CHEST, HEAD, ABDOMEN …"),
        col(
            "study_description",
            "VARCHAR",
            "identifying",
            "DICOM StudyDescription (free text; may name the patient).",
        ),
        col(
            "series_description",
            "VARCHAR",
            "identifying",
            "DICOM SeriesDescription (free text; may name the patient).",
        ),
        col(
            "accession_number",
            "VARCHAR",
            "identifying",
            "DICOM AccessionNumber (the order number in RIS/EHR).",
        ),
        col("manufacturer", "VARCHAR", "safe", "DICOM Manufacturer of the equipment."),
        col("manufacturer_model_name", "VARCHAR", "safe", "DICOM ManufacturerModelName."),
        col("image_rows", "INTEGER", "safe", "DICOM Rows (pixels)."),
        col("image_columns", "INTEGER", "safe", "DICOM Columns (pixels)."),
        col("slice_thickness", "DOUBLE", "safe", "DICOM SliceThickness in mm."),
        col(
            "number_of_frames",
            "INTEGER",
            "safe",
            "DICOM NumberOfFrames (multi-frame objects; NULL = single frame).",
        ),
        col(
            "transfer_syntax_uid",
            "VARCHAR",
            "safe",
            "Transfer syntax (file meta, else the encoding the file was read with).",
        ),
        col("series_number", "INTEGER", "safe", "DICOM SeriesNumber."),
        col("instance_number", "INTEGER", "safe", "DICOM InstanceNumber."),
        col(
            "burned_in_annotation",
            "VARCHAR",
            "safe",
            "DICOM BurnedInAnnotation: YES when text is burned into the pixels.",
        ),
    ],
)

DICOM_SERIES = Table(
    name="dicom_series",
    extension=True,
    description="DICOM index: one row per series (SeriesInstanceUID), rebuilt from dicom_instance.",
    columns=[
        col("series_instance_uid", "VARCHAR", "identifying", "DICOM SeriesInstanceUID.", True),
        col(
            "study_instance_uid",
            "VARCHAR",
            "identifying",
            "DICOM StudyInstanceUID of the series' study.",
            True,
        ),
        col("patient_id", "VARCHAR", "identifying", "DICOM PatientID."),
        col("modality", "VARCHAR", "safe", "DICOM Modality: CT, MR, XA, US, CR, DX …"),
        col("body_part_examined", "VARCHAR", "safe", "DICOM BodyPartExamined."),
        col("series_date", "DATE", "quasi", "DICOM SeriesDate."),
        col("series_number", "INTEGER", "safe", "DICOM SeriesNumber."),
        col("series_description", "VARCHAR", "identifying", "DICOM SeriesDescription (free text)."),
        col("sop_class_uid", "VARCHAR", "safe", "DICOM SOPClassUID of the series' instances."),
        col("manufacturer", "VARCHAR", "safe", "DICOM Manufacturer."),
        col("manufacturer_model_name", "VARCHAR", "safe", "DICOM ManufacturerModelName."),
        col("slice_thickness", "DOUBLE", "safe", "DICOM SliceThickness in mm."),
        col("image_rows", "INTEGER", "safe", "DICOM Rows."),
        col("image_columns", "INTEGER", "safe", "DICOM Columns."),
        col(
            "burned_in_annotation",
            "VARCHAR",
            "safe",
            "YES when any instance has burned-in text, else NO or NULL.",
        ),
        col("n_instances", "INTEGER", "safe", "Distinct SOP instances in the series.", True),
        col(
            "n_files",
            "INTEGER",
            "safe",
            "Files in the series (an instance may be stored in several files).",
            True,
        ),
        col(
            "total_bytes",
            "BIGINT",
            "safe",
            "Total size of the series' files (NULL when a size is unknown: DICOMweb).",
        ),
    ],
)

DICOM_STUDY = Table(
    name="dicom_study",
    extension=True,
    description="DICOM index: one row per study (StudyInstanceUID) with its patient, rebuilt from "
    "dicom_instance.",
    columns=[
        col("study_instance_uid", "VARCHAR", "identifying", "DICOM StudyInstanceUID.", True),
        col("patient_id", "VARCHAR", "identifying", "DICOM PatientID (links to person.person_source_value)."),
        col("study_date", "DATE", "quasi", "DICOM StudyDate."),
        col("study_time", "VARCHAR", "quasi", "DICOM StudyTime as recorded."),
        col("accession_number", "VARCHAR", "identifying", "DICOM AccessionNumber."),
        col("study_description", "VARCHAR", "identifying", "DICOM StudyDescription (free text)."),
        col(
            "modalities_in_study",
            "VARCHAR",
            "safe",
            "Distinct modalities of the study's series, sorted, backslash-separated (CT\\MR).",
        ),
        col("n_series", "INTEGER", "safe", "Series in the study.", True),
        col("n_instances", "INTEGER", "safe", "Distinct SOP instances in the study.", True),
        col("n_files", "INTEGER", "safe", "Files in the study.", True),
    ],
)

DICOM_QUARANTINE = Table(
    name="dicom_quarantine",
    extension=True,
    description="DICOM index: files found under the indexed folders that could not be indexed, and why.",
    columns=[
        col("path", "VARCHAR", "identifying", "Absolute file path, or the DICOMweb URL that failed.", True),
        col(
            "reason",
            "VARCHAR",
            "safe",
            "Why the file is not indexed (names the problem, never a value).",
            True,
        ),
        col("file_size", "BIGINT", "safe", "File size in bytes (NULL for DICOMweb)."),
        col(
            "file_mtime_ns", "BIGINT", "quasi", "File modification time (ns since epoch; NULL for DICOMweb)."
        ),
        col(
            "content_hash", "VARCHAR", "identifying", "xxh3-128 of the whole file, hex (NULL if unreadable)."
        ),
    ],
)

DICOM_TABLES: list[Table] = [DICOM_STUDY, DICOM_SERIES, DICOM_INSTANCE, DICOM_QUARANTINE]
DICOM_TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in DICOM_TABLES}
