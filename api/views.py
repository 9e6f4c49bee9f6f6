"""What one principal sees of a stored run or of the charts: exact counts for privileged roles,
small-cell suppression (:mod:`cohort_engine.api.suppression`) for researchers.

A run is stored once, with exact counts (``AskResult.public_dict()``, less person ids and sample);
every read turns it into the reader's view here, so a researcher and a steward reading the same run
see the same cells, suppressed or not, wherever they read it (ask, run, get, list, stats).
"""

from __future__ import annotations

from typing import Any

from cohort_engine.api.auth import Principal
from cohort_engine.api.charts import ChartRows, ImagingBar
from cohort_engine.api.schemas import (
    AttritionOut,
    ChoiceOut,
    ClarificationOut,
    CohortResult,
    CohortSummary,
    ImagingRowOut,
    LabelCell,
    PyramidCell,
    ReleaseOut,
    StatsOut,
)
from cohort_engine.api.state import CohortRecord
from cohort_engine.api.suppression import (
    Cell,
    exact,
    suppress_attrition,
    suppress_partition,
    suppress_rows,
)


def release_out(rec: CohortRecord) -> ReleaseOut:
    return ReleaseOut(
        status=rec.release_status,
        requested_at=rec.requested_at,
        approved_at=rec.approved_at,
    )


def _clarifications(r: dict[str, Any]) -> list[ClarificationOut]:
    """The parser's questions back, with the resolver's candidate concepts attached to their choices."""
    ambiguous: dict[str, Any] = {}
    for rs in (r.get("resolutions") or {}).values():
        for tr in rs:
            if tr.get("status") == "ambiguous":
                ambiguous[tr["term"]] = tr
    out = []
    for c in r.get("clarifications") or []:
        tr = ambiguous.get(c.get("span") or "")
        if tr is not None:
            choices = [
                ChoiceOut(label=label, concept_id=cand["concept_id"], term=tr["term"])
                for label, cand in zip(c.get("choices", []), tr.get("candidates", []), strict=False)
            ]
        else:
            choices = [ChoiceOut(label=label) for label in c.get("choices", [])]
        out.append(ClarificationOut(question=c["question"], span=c.get("span"), choices=choices))
    return out


def imaging_view(rows: list[dict] | None, p: Principal, k: int) -> list[ImagingRowOut] | None:
    """The stored per-modality image counts as this principal sees them (``suppress_rows``)."""
    if rows is None:
        return None
    raw = [(int(r["persons"]), [int(r["studies"]), int(r["series"]), int(r["instances"])]) for r in rows]
    cells = (
        [(exact(n), [exact(x) for x in others]) for n, others in raw]
        if p.privileged
        else suppress_rows(raw, k, partition=1)
    )
    return [
        ImagingRowOut(
            modality=r.get("modality"),
            persons=pc,
            studies=oc[0],
            series=oc[1],
            instances=oc[2],
            suppressed=pc.suppressed or any(c.suppressed for c in oc),
        )
        for r, (pc, oc) in zip(rows, cells, strict=True)
    ]


def result_view(
    r: dict[str, Any],
    p: Principal,
    k: int,
    *,
    rec: CohortRecord | None = None,
    sample: list | None = None,
) -> CohortResult:
    """An answer (stored or not: ``r`` is ``AskResult.public_dict()``) as ``p`` may see it."""
    attrition = r.get("attrition") or []
    raw = [int(a["persons"]) for a in attrition]
    cells = [exact(n) for n in raw] if p.privileged else suppress_attrition(raw, k)
    count_cell: Cell | None = cells[-1] if cells else None
    status = r.get("status", "error")
    lang = r.get("language", "en")
    message = r.get("message", "")
    if status == "ok" and count_cell is not None:
        message = (
            f"{count_cell.display} patients match."
            if lang == "en"
            else f"조건에 맞는 환자는 {count_cell.display}명입니다."
        )
    imaging = imaging_view(r.get("imaging"), p, k)
    return CohortResult(
        cohort_id=rec.cohort_id if rec else None,
        status=status,
        message=message,
        language=lang,
        spec=r.get("spec"),
        readback=r.get("readback"),
        notes=r.get("notes") or [],
        clarifications=_clarifications(r),
        resolutions=r.get("resolutions") or {},
        sql=r.get("sql"),
        attrition=[
            AttritionOut(
                step=a["step"],
                description=a["description"],
                persons=cell.value,
                display=cell.display,
                suppressed=cell.suppressed,
            )
            for a, cell in zip(attrition, cells, strict=True)
        ],
        count=count_cell.value if count_cell else None,
        count_display=count_cell.display if count_cell else None,
        suppressed=any(c.suppressed for c in cells) or any(row.suppressed for row in imaging or []),
        k=k,
        sample=(sample or []) if p.privileged else [],
        imaging=imaging,
        release=release_out(rec) if rec else None,
        created_at=rec.created_at if rec else None,
    )


def record_view(rec: CohortRecord, p: Principal, k: int, sample: list | None = None) -> CohortResult:
    return result_view(rec.result, p, k, rec=rec, sample=sample)


def summary_view(rec: CohortRecord, p: Principal, k: int) -> CohortSummary:
    return CohortSummary(
        cohort_id=rec.cohort_id,
        created_at=rec.created_at,
        status=rec.status,
        title=(rec.spec or {}).get("title"),
        count_display=record_view(rec, p, k).count_display,
        release=release_out(rec),
    )


def _age_band(b: int) -> str:
    return "90+" if b >= 9 else f"{b * 10}–{b * 10 + 9}"


def stats_view(cohort_id: str, charts: ChartRows, p: Principal, k: int, total: Cell) -> StatsOut:
    """The charts as ``p`` sees them; ``total`` is the cohort count as the run's view shows it.

    Pyramid and months are partitions (complementary suppression); imaging bars are rows keyed by
    persons, suppressed like the answer's ``imaging`` so that the modality chart agrees with it."""
    pyramid, months = charts.pyramid, charts.months

    def bars(rows: list[ImagingBar]) -> list[tuple[Cell, list[Cell]]]:
        if p.privileged:
            return [(exact(n), [exact(series)]) for _label, n, series in rows]
        return suppress_rows([(n, [series]) for _label, n, series in rows], k)

    if p.privileged:
        pyr_cells = [exact(n) for _s, _b, n in pyramid]
        month_cells = [exact(n) for _m, n in months]
    else:
        pyr_cells = suppress_partition([n for _s, _b, n in pyramid], k)
        month_cells = suppress_partition([n for _m, n in months], k)
    return StatsOut(
        cohort_id=cohort_id,
        k=k,
        total=total,
        pyramid=[
            PyramidCell(sex=sex, age_band=_age_band(band), persons=c)
            for (sex, band, _n), c in zip(pyramid, pyr_cells, strict=True)
        ],
        index_months=[LabelCell(label=m, persons=c) for (m, _n), c in zip(months, month_cells, strict=True)],
        modalities=[
            LabelCell(label=r[0], persons=c, series=sc[0].value)
            for r, (c, sc) in zip(charts.modalities, bars(charts.modalities), strict=True)
        ],
        body_parts=[
            LabelCell(label=r[0], persons=c, series=sc[0].value)
            for r, (c, sc) in zip(charts.body_parts, bars(charts.body_parts), strict=True)
        ],
        notes=charts.notes,
    )
