"""A tiny synthetic mart with imaging rows, for the DICOM tests and the benchmark.

Under ``tests/`` so that test material does not ship in the wheel.  Why not the demo mart generator:
the DICOM index must be testable on its own, with a mart whose every imaging row is known (modalities,
missing body parts, shared studies, persons with and without ``demo_identity`` rows), in well under a
second.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb

from cohort_engine.schema_catalog.ddl import omop_ddl

__all__ = ["DEMO_IDENTITY_DDL", "make_tiny_mart"]

#: The demo identity table as the demo mart generator is adding it (one row per demo person).
DEMO_IDENTITY_DDL = """CREATE TABLE IF NOT EXISTS demo_identity (
  person_id BIGINT NOT NULL,
  family_name VARCHAR,
  given_name VARCHAR,
  name_hangul VARCHAR,
  address VARCHAR,
  phone VARCHAR
)"""

_MODALITIES = ["CT", "MR", "XA", "US", "CR", "DX"]
_SITES = {
    "CT": ["CHEST", "ABDOMEN", "HEAD"],
    "MR": ["HEAD", "SPINE", "KNEE"],
    "XA": ["HEART"],
    "US": ["ABDOMEN", "THYROID"],
    "CR": ["CHEST"],
    "DX": ["CHEST", "HAND"],
}
_FAMILY = [("Kim", "김"), ("Lee", "이"), ("Park", "박"), ("Choi", "최"), ("Jung", "정")]
_GIVEN = [("Minsu", "민수"), ("Jiyoung", "지영"), ("Seojun", "서준"), ("Hana", "하나"), ("Taeyang", "태양")]


def make_tiny_mart(
    path: Path, persons: int = 40, studies: int = 30, seed: int = 0, identity: bool = True
) -> None:
    """Create an OMOP mart at ``path`` with ``persons`` persons and ``studies`` imaging studies of 1–3
    series each (every modality, some body parts and procedure links missing).  Deterministic."""
    rng = random.Random(seed)
    con = duckdb.connect(str(path))
    try:
        con.execute(omop_ddl())
        person_rows = []
        for pid in range(1, persons + 1):
            person_rows.append(
                (
                    pid,
                    rng.choice([8507, 8532]),
                    rng.randint(1935, 2015),
                    rng.randint(1, 12),
                    rng.randint(1, 28),
                    f"{30000000 + pid * 7}",
                )
            )
        con.executemany(
            "INSERT INTO person (person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth, "
            "person_source_value) VALUES (?, ?, ?, ?, ?, ?)",
            person_rows,
        )
        if identity:
            con.execute(DEMO_IDENTITY_DDL)
            id_rows = []
            for pid in range(1, persons + 1):
                (fam, fam_h), (giv, giv_h) = rng.choice(_FAMILY), rng.choice(_GIVEN)
                if pid % 7 == 0:
                    continue  # a person without an identity row: the writer must cope
                id_rows.append(
                    (
                        pid,
                        fam,
                        giv,
                        fam_h + giv_h,
                        f"{pid} Gangnam-daero, Gangnam-gu, Seoul",
                        f"010-{rng.randint(1000, 9999)}-{pid:04d}",
                    )
                )
            con.executemany("INSERT INTO demo_identity VALUES (?, ?, ?, ?, ?, ?)", id_rows)
        rows = []
        key = 0
        for k in range(studies):
            pid = rng.randint(1, persons)
            day = dt.date(2018, 1, 1) + dt.timedelta(days=rng.randint(0, 2000))
            study_uid = f"1.2.826.0.1.3680043.8.498.{seed}.{k + 1}"
            proc = None if k % 5 == 4 else 1000 + k
            for j in range(rng.randint(1, 3)):
                key += 1
                modality = _MODALITIES[(k + j) % len(_MODALITIES)]
                site = None if key % 6 == 0 else rng.choice(_SITES[modality])
                rows.append((key, pid, proc, day, study_uid, f"{study_uid}.{j + 1}", modality, site))
        con.executemany(
            "INSERT INTO image_occurrence (image_occurrence_id, person_id, procedure_occurrence_id, "
            "image_occurrence_date, image_study_uid, image_series_uid, modality_source_value, "
            "anatomic_site_source_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    finally:
        con.close()
