"""Imaging criteria on a mart without a DICOM index: the imaging procedures its vocabulary records.

Why: many OMOP marts (Eunomia among them) hold no ``image_occurrence``; an X-ray is recorded there as
a procedure ("Plain chest X-ray", "Radiography of ankle"). "a chest X-ray the same day" then means
those procedures. Rather than refuse, an imaging criterion becomes a procedure criterion on the
standard procedure concepts whose name says both the modality and (when one was given) the body part,
listed explicitly, so the read-back shows exactly which procedures were taken. When the vocabulary has
no such procedure the criterion is left as it was and the answer says the mart cannot evaluate it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from cohort_engine.imaging_words import BODY_PART_WORDS, MODALITY_WORDS
from cohort_engine.spec import CohortSpec, ConceptSet, Criterion, Domain, EventFilter, IndexEvent

CANDIDATES_SQL = (
    "SELECT concept_id, concept_name FROM concept "
    "WHERE domain_id = 'Procedure' AND standard_concept = 'S' AND invalid_reason IS NULL"
)


def _words(codes: list[str], table: dict[str, str]) -> str | None:
    found = [table[c] for c in codes if c in table]
    return "|".join(found) if found else None


def procedure_concepts(f: EventFilter, candidates: list[tuple[int, str]]) -> list[int]:
    """The procedure concepts that name this imaging filter's modality and body part (both when given)."""
    if f.imaging is None:
        return []
    modality = _words(f.imaging.modalities, MODALITY_WORDS)
    part = _words(f.imaging.body_parts, BODY_PART_WORDS)
    if modality is None or (f.imaging.body_parts and part is None):
        return []
    rx_mod = re.compile(modality, re.IGNORECASE)
    rx_part = re.compile(part, re.IGNORECASE) if part else None
    return sorted(
        cid for cid, name in candidates if rx_mod.search(name) and (rx_part is None or rx_part.search(name))
    )


def imaging_as_procedures(
    spec: CohortSpec, fetch: Callable[[str, list], list[tuple]]
) -> tuple[CohortSpec, list[str]]:
    """``spec`` with every imaging criterion (and an imaging index) turned into the procedures the mart's
    vocabulary names for it, and a note for each; criteria with no such procedure are left unchanged."""
    filters: list[EventFilter] = [spec.index, *spec.criteria]
    if not any(f.domain is Domain.imaging for f in filters):
        return spec, []
    candidates = [(int(r[0]), str(r[1])) for r in fetch(CANDIDATES_SQL, [])]
    notes: list[str] = []

    def convert(f: EventFilter) -> dict | None:
        if f.domain is not Domain.imaging:
            return None
        ids = procedure_concepts(f, candidates)
        if not ids:
            return None
        what = "/".join(
            [*(f.imaging.modalities if f.imaging else []), *(f.imaging.body_parts if f.imaging else [])]
        )
        names = "; ".join(dict(candidates)[i] for i in ids[:3]) + (
            f"; +{len(ids) - 3}" if len(ids) > 3 else ""
        )
        notes.append(
            f"this mart has no DICOM index: imaging {what} read as the procedures that name it: {names}"
            if spec.language == "en"
            else f"이 데이터마트에는 DICOM 색인이 없어 영상 {what}을(를) 그 이름의 시술로 읽었습니다: {names}"
        )
        return {"domain": Domain.procedure, "imaging": None, "concepts": ConceptSet(concept_ids=ids)}

    index_update = convert(spec.index)
    index = (
        IndexEvent.model_validate({**spec.index.model_dump(), **index_update}) if index_update else spec.index
    )
    criteria: list[Criterion] = []
    for c in spec.criteria:
        upd = convert(c)
        criteria.append(Criterion.model_validate({**c.model_dump(), **upd}) if upd else c)
    if not notes:
        return spec, []
    return spec.model_copy(update={"index": index, "criteria": criteria}), notes


MODALITIES_SQL = (
    "SELECT DISTINCT UPPER(modality_source_value) FROM image_occurrence "
    "WHERE modality_source_value IS NOT NULL"
)


def absent_modalities(spec: CohortSpec, present: set[str]) -> list[str]:
    """The imaging rules' modalities of which the mart's image index holds no series at all.

    Why: "폐암 환자 중 PET-CT 찍은 사람" on a mart with no PET images would come back `ok` with no one (or,
    negated, with everyone): an answer about the index, not about the patients. Such a rule is asked
    back, naming the modalities the index does hold. A filter is judged as a whole: "X-ray" (CR or DX)
    on a mart that files chest films as DX only is answerable. The images to return are not rules, and
    a request for absent ones simply returns none.
    """
    missing: list[str] = []
    for f in (spec.index, *spec.criteria):
        if f.domain is not Domain.imaging or f.imaging is None or not f.imaging.modalities:
            continue
        wanted = [m.upper() for m in f.imaging.modalities]
        if not any(m in present for m in wanted):
            missing += [m for m in wanted if m not in missing]
    return missing
