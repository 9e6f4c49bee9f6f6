"""Writes the demo mart: DDL from the catalog, vocabulary, then the population chunk by chunk.

Why chunks: memory stays bounded (one chunk of 50,000 persons is simulated, turned into Arrow
tables and bulk-inserted into DuckDB before the next starts) and the chunk index seeds the random
generator, so output does not depend on anything but (persons, seed).  The file is written under
a temporary name and moved into place at the end, so a crash never leaves a half-written mart
where a reader expects a complete one.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from cohort_engine.schema_catalog.ddl import omop_ddl
from cohort_engine.schema_catalog.demo import concepts as C
from cohort_engine.schema_catalog.demo.finalize import ConceptCodes, finalize
from cohort_engine.schema_catalog.demo.identity import IDENTITY_DDL, IDENTITY_INSERT, identity_stage
from cohort_engine.schema_catalog.demo.simulate import CHUNK_PERSONS, Sim
from cohort_engine.schema_catalog.demo.vocabulary import Vocab, build_vocabulary
from cohort_engine.schema_catalog.tables import TABLES_BY_NAME

Progress = Callable[[str, float], None]

_NOTE_COLUMNS = ", ".join(c.name for c in TABLES_BY_NAME["note"].columns)

# Note text is assembled in SQL (fast, vectorised) from the staged facts of each note.  The header
# naming the patient is present in ~40 % of notes: identifying material for the scrubbing tests.
_NOTE_SQL = f"""
INSERT INTO note ({_NOTE_COLUMNS})
WITH s AS (
  SELECT s.*, p.person_source_value AS mrn, strftime(p.birth_datetime, '%Y-%m-%d') AS dob,
         i.family_name, i.given_name, i.name_hangul, i.phone,
         c.concept_name AS c_name, c.concept_code AS c_code, coalesce(kc.name, c.concept_name) AS c_ko,
         a.concept_name AS a_name, a.concept_code AS a_code, coalesce(ka.name, a.concept_name) AS a_ko,
         strftime(s.note_date, '%Y-%m-%d') AS d, strftime(s.visit_start, '%Y-%m-%d') AS vs,
         strftime(s.visit_end, '%Y-%m-%d') AS ve
  FROM _note_stage s
  JOIN person p USING (person_id)
  JOIN demo_identity i USING (person_id)
  JOIN concept c ON c.concept_id = s.concept_id
  LEFT JOIN concept a ON a.concept_id = s.aux_concept_id
  LEFT JOIN _ko kc ON kc.concept_id = s.concept_id
  LEFT JOIN _ko ka ON ka.concept_id = s.aux_concept_id
), h AS (
  SELECT s.*,
    CASE WHEN mention = 0 THEN NULL
         WHEN korean THEN '환자: ' || name_hangul || ' (등록번호 ' || mrn || ')'
              || CASE WHEN mention = 2 THEN ', 생년월일 ' || dob || ', 연락처 ' || phone ELSE '' END
         ELSE 'Patient: ' || upper(family_name) || ' ' || given_name || ' (MRN ' || mrn || ')'
              || CASE WHEN mention = 2 THEN ', DOB ' || dob || ', Tel ' || phone ELSE '' END
    END AS hdr
  FROM s
)
SELECT note_id, person_id, note_date, note_datetime, {C.EHR_TYPE},
  CASE kind WHEN 0 THEN $dc WHEN 1 THEN $rad ELSE $path END,
  CASE WHEN korean
         THEN (CASE kind WHEN 0 THEN '퇴원 요약' WHEN 1 THEN '영상 판독 보고서' ELSE '병리 보고서' END)
       ELSE (CASE kind WHEN 0 THEN 'Discharge summary' WHEN 1 THEN 'Radiology report'
                  ELSE 'Pathology report' END)
  END,
  CASE
    WHEN kind = 0 AND korean THEN concat_ws(chr(10), '퇴원 요약', hdr,
      '입원일: ' || vs || '  퇴원일: ' || ve,
      '주진단: ' || c_ko || ' (' || c_code || ')',
      '시행 시술: ' || coalesce(a_ko || ' (' || a_code || ')', '없음'),
      '경과: ' || ['입원 기간 중 특이 소견 없이 회복함.', '시술 후 2일째 보행 시작, 경과 양호함.',
                  '일시적 저혈압이 있었으나 수액 치료 후 호전됨.'][variant + 1],
      '퇴원 시 상태: 안정. 2주 후 외래 추적 예정.')
    WHEN kind = 0 THEN concat_ws(chr(10), 'DISCHARGE SUMMARY', hdr,
      'Admission: ' || vs || '   Discharge: ' || ve,
      'Principal diagnosis: ' || c_name || ' (' || c_code || ')',
      'Procedures: ' || coalesce(a_name || ' (' || a_code || ')', 'none'),
      'Hospital course: ' || ['uneventful recovery.', 'mobilised on day 2, recovered well.',
                             'transient hypotension, resolved with fluids.'][variant + 1],
      'Condition at discharge: stable. Follow-up in the outpatient clinic in 2 weeks.')
    WHEN kind = 1 AND korean THEN concat_ws(chr(10), '영상 판독 보고서', hdr,
      '검사: ' || c_ko || ' (' || site || '), ' || d,
      '검사 사유: ' || coalesce(a_ko, '정기 검사'),
      '소견: ' || ['급성 이상 소견 없음.', '임상 소견에 합당한 소견.',
                  '비특이적 소결절, 추적 검사 권고.'][variant + 1],
      '결론: 상기 소견 참조.')
    WHEN kind = 1 THEN concat_ws(chr(10), 'RADIOLOGY REPORT', hdr,
      'Exam: ' || c_name || ' (' || site || '), ' || d,
      'Indication: ' || coalesce(a_name, 'routine examination'),
      'Findings: ' || ['no acute abnormality.', 'findings consistent with the clinical indication.',
                      'small nonspecific nodule; follow-up imaging recommended.'][variant + 1],
      'Impression: see findings.')
    WHEN korean THEN concat_ws(chr(10), '병리 보고서', hdr,
      '임상 진단: ' || c_ko || ' (' || c_code || ')',
      '병리 진단: ' || coalesce(a_ko, '확인 불가') || ', ' || ['고분화', '중분화', '저분화'][variant + 1],
      '비고: 영상 소견과 대조 요망.')
    ELSE concat_ws(chr(10), 'SURGICAL PATHOLOGY REPORT', hdr,
      'Clinical diagnosis: ' || c_name || ' (' || c_code || ')',
      'Diagnosis: ' || coalesce(a_name, 'indeterminate') || ', '
        || ['well differentiated', 'moderately differentiated', 'poorly differentiated'][variant + 1],
      'Comment: correlate with imaging.')
  END,
  0, CASE WHEN korean THEN {C.LANG_KO} ELSE {C.LANG_EN} END, NULL, visit_occurrence_id, NULL,
  CASE kind WHEN 0 THEN 'DS' WHEN 1 THEN 'RAD' ELSE 'PATH' END, NULL, NULL
FROM h
ORDER BY note_id
"""


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    con.register("_stage", data)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM _stage")
    finally:
        con.unregister("_stage")


def _write_vocabulary(con: duckdb.DuckDBPyConnection, vocab: Vocab) -> None:
    for name in ("concept", "concept_ancestor", "concept_synonym", "vocabulary"):
        _insert(con, name, getattr(vocab, name))
    ko = pa.table(
        {
            "concept_id": pa.array(list(vocab.korean_name), pa.int32()),
            "name": pa.array(list(vocab.korean_name.values()), pa.string()),
        }
    )
    con.register("_ko_stage", ko)
    con.execute("CREATE TEMP TABLE _ko AS SELECT * FROM _ko_stage")
    con.unregister("_ko_stage")


def generate_mart(out_dir: Path, persons: int, seed: int, progress: Progress | None = None) -> Path:
    """Write ``out_dir/mart.duckdb`` (replacing it) with a demo population; return its path.

    Same (persons, seed) -> identical table contents.  ``progress(stage, fraction)`` is called with
    stages 'vocabulary', 'population' (fraction of chunks done) and 'done'."""
    if persons < 1:
        raise ValueError("persons must be at least 1")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    report = progress or (lambda stage, fraction: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "mart.duckdb"
    tmp = out_dir / f".mart.duckdb.{os.getpid()}.tmp"
    for stale in (tmp, Path(f"{tmp}.wal")):
        stale.unlink(missing_ok=True)

    report("vocabulary", 0.0)
    vocab = build_vocabulary()
    codes = ConceptCodes(vocab)
    # The machine is shared: keep DuckDB's buffer pool modest (bulk inserts spill to the file).
    con = duckdb.connect(str(tmp), config={"memory_limit": "4GB"})
    try:
        con.execute(omop_ddl())
        con.execute(IDENTITY_DDL)
        _write_vocabulary(con, vocab)
        report("vocabulary", 1.0)
        class_ids = {
            "dc": vocab.loinc["18842-5"],
            "rad": vocab.loinc["18748-4"],
            "path": vocab.loinc["11526-1"],
        }

        offsets: dict[str, int] = defaultdict(int)
        chunks = math.ceil(persons / CHUNK_PERSONS)
        report("population", 0.0)
        for ci in range(chunks):
            pid0 = ci * CHUNK_PERSONS
            n = min(CHUNK_PERSONS, persons - pid0)
            rng = np.random.default_rng([seed, ci])
            sim = Sim(vocab, rng, n)
            sim.run()
            result = finalize(sim, vocab, codes, offsets, pid0, seed)
            for name, table in result.tables.items():
                _insert(con, name, table)
            ident = identity_stage(rng, pid0 + 1 + np.arange(n, dtype=np.int64), sim.male, sim.age)
            con.register("_identity_stage", ident)
            con.execute(IDENTITY_INSERT)
            con.unregister("_identity_stage")
            con.register("_note_stage", result.note_stage)
            con.execute(_NOTE_SQL, class_ids)
            con.unregister("_note_stage")
            del sim, result
            report("population", (ci + 1) / chunks)
        con.execute("DROP TABLE _ko")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    Path(f"{path}.wal").unlink(missing_ok=True)
    os.replace(tmp, path)
    report("done", 1.0)
    return path
