"""What one principal sees of a stored run or of the charts: exact counts for privileged roles,
keyed noise plus a threshold (:mod:`cohort_engine.api.disclosure`, ``docs/PRIVACY.md``) for researchers.

A run is stored once, with exact counts (``AskResult.public_dict()``, less person ids and sample) and
the sealed fingerprint of the persons behind each count (``disclosure``: per funnel step, per imaging
row); every read turns it into the reader's view here, so the same run shows the same numbers
wherever it is read (ask, run, get, list, stats), and so does another run with the same persons.
Researchers' chart cells and imaging rows below the threshold are left out, not shown as ``"<k"``: a
``"<k"`` cell would tell a one-person cell from an empty one, which is never listed.
"""

from __future__ import annotations

import math
from typing import Any

from cohort_engine.api.auth import Principal
from cohort_engine.api.characterise import (
    CONCEPT_DOMAINS,
    PersonCount,
    Table1Rows,
    smd_mean,
    smd_proportion,
)
from cohort_engine.api.charts import ChartRows, ImagingBar
from cohort_engine.api.disclosure import Protector, person_set_digest
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
    Table1Cell,
    Table1Out,
    Table1Row,
)
from cohort_engine.api.sealing import open_owner_box
from cohort_engine.api.state import CohortRecord
from cohort_engine.api.suppression import Cell, exact

IMAGE_MEASURES = ("studies", "series", "instances")


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


def _tokens(r: dict[str, Any], n: int) -> list[str | None]:
    """The sealed person-set fingerprints of a stored run's funnel steps; None for each step of a run
    stored before they were (its steps are keyed by ``_legacy`` instead)."""
    got = list(((r.get("disclosure") or {}).get("attrition")) or [])
    return got if len(got) == n else [None] * n


def _legacy(protector: Protector, rec: CohortRecord | None, tag: str) -> str:
    """A stable stand-in key for a step of a run stored without fingerprints (still consistent)."""
    anchor = (rec.result_hash or rec.cohort_id) if rec else "unstored"
    return protector.seal(f"legacy/{anchor}/{tag}")


def imaging_view(
    r: dict[str, Any], p: Principal, protector: Protector, rec: CohortRecord | None = None
) -> list[ImagingRowOut] | None:
    """The stored per-modality image counts as this principal sees them.

    Researchers: persons through the one disclosure function, keyed by the row's persons; image counts
    noisy with them; rows below the threshold left out (see the module docstring)."""
    rows = r.get("imaging")
    if rows is None:
        return None
    tokens = (r.get("disclosure") or {}).get("imaging") or {}
    out = []
    for row in rows:
        counts = {m: int(row[m]) for m in IMAGE_MEASURES}
        if p.privileged:
            pc, oc = exact(int(row["persons"])), {m: exact(n) for m, n in counts.items()}
        else:
            modality = row.get("modality")
            token = tokens.get(modality or "") or _legacy(protector, rec, f"imaging/{modality}")
            pc = protector.cell(int(row["persons"]), token)
            if pc.value is None:
                continue
            oc = protector.image_counts(pc, counts, token)
        out.append(
            ImagingRowOut(
                modality=row.get("modality"),
                persons=pc,
                studies=oc["studies"],
                series=oc["series"],
                instances=oc["instances"],
                suppressed=pc.suppressed,
            )
        )
    return out


def sees_definition(p: Principal) -> bool:
    """Whether ``p`` may see a cohort's definition (spec, read-back, SQL, title, resolved terms).

    Export clients may not: they receive the de-identified release, and the definition's dates (a
    one-day index window, say) would pin each patient's date shift in the manifests more finely than the
    release's stated precision (docs/PRIVACY.md). The reviewers see it; the export client needs only the
    cohort's id, counts and release state.
    """
    return p.role != "export_client"


def result_view(
    r: dict[str, Any],
    p: Principal,
    protector: Protector,
    *,
    rec: CohortRecord | None = None,
    sample: list | None = None,
) -> CohortResult:
    """An answer (stored or not: ``r`` is ``AskResult.public_dict()``) as ``p`` may see it."""
    k = protector.k
    attrition = r.get("attrition") or []
    raw = [int(a["persons"]) for a in attrition]
    if p.privileged:
        cells = [exact(n) for n in raw]
    else:
        tokens = [t or _legacy(protector, rec, f"step/{i}") for i, t in enumerate(_tokens(r, len(raw)))]
        cells = protector.funnel(raw, tokens)
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
    imaging = imaging_view(r, p, protector, rec)
    if not sees_definition(p):
        r = {k: v for k, v in r.items() if k not in ("spec", "readback", "notes", "resolutions", "sql")}
        r["clarifications"] = []
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
        suppressed=any(c.suppressed for c in cells),
        counts="exact" if p.privileged else "noisy",
        k=k,
        sample=(sample or []) if p.privileged else [],
        imaging=imaging,
        release=release_out(rec) if rec else None,
        created_at=rec.created_at if rec else None,
    )


def owner_result(rec: CohortRecord, p: Principal) -> dict[str, Any] | None:
    """The run in its owner's words, when ``p`` is the key that made it (else the stored, concept-level
    form is all there is: ``api/sealing.py``)."""
    if rec.key_id != p.key_id:
        return None
    box = open_owner_box(rec.owner_box, p.box_key, rec.cohort_id)
    return box.get("result") if box else None


def record_view(
    rec: CohortRecord, p: Principal, protector: Protector, sample: list | None = None
) -> CohortResult:
    return result_view(owner_result(rec, p) or rec.result, p, protector, rec=rec, sample=sample)


def summary_view(rec: CohortRecord, p: Principal, protector: Protector) -> CohortSummary:
    r = owner_result(rec, p) or rec.result
    return CohortSummary(
        cohort_id=rec.cohort_id,
        created_at=rec.created_at,
        status=rec.status,
        title=(r.get("spec") or {}).get("title") if sees_definition(p) else None,
        count_display=result_view(r, p, protector, rec=rec).count_display,
        release=release_out(rec),
    )


def _age_band(b: int) -> str:
    return "90+" if b >= 9 else f"{b * 10}–{b * 10 + 9}"


def stats_view(
    cohort_id: str, charts: ChartRows, p: Principal, protector: Protector, total: Cell
) -> StatsOut:
    """The charts as ``p`` sees them; ``total`` is the cohort count as the run's view shows it.

    Researchers: every cell through the one disclosure function, keyed by the cell's persons; cells
    below the threshold left out. The modality bars use the same keys and measures as the answer's
    ``imaging`` rows, so the two agree cell for cell."""

    def persons(n: int, digest: str) -> Cell:
        return exact(n) if p.privileged else protector.cell(n, protector.seal(digest))

    def bars(rows: list[ImagingBar]) -> list[LabelCell]:
        out = []
        for label, n, series, digest in rows:
            c = persons(n, digest)
            if c.value is None:
                continue
            shown = (
                series
                if p.privileged
                else protector.image_counts(c, {"series": series}, protector.seal(digest))["series"].value
            )
            out.append(LabelCell(label=label, persons=c, series=shown))
        return out

    pyramid = [
        PyramidCell(sex=sex, age_band=_age_band(band), persons=c)
        for sex, band, n, d in charts.pyramid
        if (c := persons(n, d)).value is not None
    ]
    months = [
        LabelCell(label=m, persons=c) for m, n, d in charts.months if (c := persons(n, d)).value is not None
    ]
    return StatsOut(
        cohort_id=cohort_id,
        k=protector.k,
        counts="exact" if p.privileged else "noisy",
        total=total,
        pyramid=pyramid,
        index_months=months,
        modalities=bars(charts.modalities),
        body_parts=bars(charts.body_parts),
        notes=charts.notes,
    )


def share_percent(part: Cell, total: Cell) -> float | None:
    """A row's share of the cohort, in percent, from the counts as shown, or None.

    Researchers' counts are each noisy on their own persons, so a row with (nearly) all of the cohort's
    persons can show more than the total ("18 (120.0%)"): a share above 100 % would be read as an error
    of the data, so it is capped there. A hidden cell ("<k") gives no share, on either side of the
    division: a share of a suppressed count (or of a suppressed total) would bound the hidden number.
    """
    if part.suppressed or total.suppressed or part.value is None or not total.value:
        return None
    return min(100.0, round(100.0 * part.value / total.value, 1))


def _significant(x: float | None, digits: int = 2) -> float | None:
    if x is None or x == 0:
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:g}"


def _band_stats(bands: list[tuple[int, Cell]]) -> tuple[float | None, float | None]:
    """Mean and SD of age from (band, shown persons) with band midpoints (5, 15, … 95 for 90+)."""
    pts = [(b * 10 + 5, c.value) for b, c in bands if c.value]
    n = sum(w for _, w in pts)
    if n < 2:
        return None, None
    mean = sum(x * w for x, w in pts) / n
    var = sum(w * (x - mean) ** 2 for x, w in pts) / (n - 1)
    return mean, math.sqrt(var)


def table1_view(
    tables: list[Table1Rows],
    cohort_ids: list[str],
    totals: list[Cell],
    *,
    privileged: bool,
    protector: Protector | None,
    k: int,
) -> Table1Out:
    """One or two Tables 1 as the reader sees them: for researchers every count through the one
    disclosure function (keyed by its persons), percentages and SMDs from the shown numbers, age from the
    noisy bands, lab statistics only on rows of at least k persons and rounded (``api/characterise.py``)."""

    def cell(pc: PersonCount | None) -> Cell:
        if pc is None:  # a concept one cohort of two does not have
            pc = PersonCount(0, person_set_digest(()))
        if privileged or protector is None:
            return exact(pc.n)
        return protector.cell(pc.n, protector.seal(pc.digest))

    rows: list[Table1Row] = []

    def add(section: Any, label: str, found: list[Any], **extra: Any) -> None:
        """A row of person counts: ``found`` holds each cohort's PersonCount (or None)."""
        cells = [cell(pc) for pc in found]
        shown = [
            Table1Cell(persons=c, percent=share_percent(c, t)) for c, t in zip(cells, totals, strict=True)
        ]
        smd = None
        if len(shown) == 2:
            p = [(s.percent / 100 if s.percent is not None else None) for s in shown]
            smd = smd_proportion(p[0], p[1])
        rows.append(Table1Row(section=section, label=label, cells=shown, smd=_round(smd), **extra))

    # age: mean (SD), then bands
    band_cells = [[(b, cell(pc)) for b, pc in t.age_bands] for t in tables]
    stats = [
        (t.age_mean, t.age_sd) if privileged else _band_stats(bc)
        for t, bc in zip(tables, band_cells, strict=True)
    ]
    rows.append(
        Table1Row(
            section="age",
            label="age at index, mean (SD)" + ("" if privileged else " from the age bands"),
            cells=[Table1Cell(value=f"{_fmt(_round(m, 1))} ({_fmt(_round(s, 1))})") for m, s in stats],
            smd=_round(smd_mean(*stats[0], *stats[1])) if len(stats) == 2 else None,
        )
    )
    for band in sorted({b for t in tables for b, _ in t.age_bands}):
        add(
            "age_band",
            "90+" if band >= 9 else f"{band * 10}–{band * 10 + 9}",
            [dict(t.age_bands).get(band) for t in tables],
        )
    for sex in sorted({s for t in tables for s, _ in t.sexes}):
        add("sex", sex, [dict(t.sexes).get(sex) for t in tables])
    for section in CONCEPT_DOMAINS:
        by_id = [{r.concept_id: r for r in t.concepts.get(section.value, [])} for t in tables]
        order = list(dict.fromkeys(cid for m in by_id for cid in m))
        for cid in order:
            first = next(m[cid] for m in by_id if cid in m)
            add(
                section.value,
                first.name,
                [m[cid].persons if cid in m else None for m in by_id],
                concept_id=cid,
                code=f"{first.vocabulary_id} {first.code}",
            )
    lab_by_id = [{r.concept_id: r for r in t.labs} for t in tables]
    for cid in dict.fromkeys(c for m in lab_by_id for c in m):
        lab = next(m[cid] for m in lab_by_id if cid in m)
        add(
            "lab",
            lab.name,
            [m[cid].persons if cid in m else None for m in lab_by_id],
            concept_id=cid,
            code=lab.code,
            unit=lab.unit,
        )
        for cell_out, m in zip(rows[-1].cells, lab_by_id, strict=True):
            r = m.get(cid)
            if r is None or cell_out.persons is None or cell_out.persons.value is None:
                continue
            med, q1, q3 = (
                (r.median, r.q1, r.q3)
                if privileged
                else (_significant(r.median), _significant(r.q1), _significant(r.q3))
            )
            cell_out.value = f"{_fmt(med)} ({_fmt(q1)}–{_fmt(q3)})"
        # an SMD of "has a value" would be read as one of the values, which medians cannot give
        rows[-1].smd = None
    for days in sorted({d for t in tables for d in t.deaths}):
        add("death", f"died within {days} days after index", [t.deaths.get(days) for t in tables])
    for label in dict.fromkeys(m for t in tables for m, _ in t.imaging):
        add("imaging", label, [dict(t.imaging).get(label) for t in tables])
    return Table1Out(
        cohort_ids=cohort_ids,
        k=k,
        counts="exact" if privileged else "noisy",
        window=list(tables[0].window),
        totals=totals,
        rows=rows,
        notes=list(dict.fromkeys(n for t in tables for n in t.notes)),
    )


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)
