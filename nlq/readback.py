"""Plain-language read-back of a spec, in English or Korean, precise enough to verify every window,
count and concept set. ``concept_labels`` (mention → "name (VOCAB code)" strings) lets the caller add
the codes each mention resolved to, without this stage depending on the vocabulary stage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cohort_engine.nlq.text import has_batchim
from cohort_engine.spec import (
    CohortSpec,
    ConceptSet,
    Criterion,
    Demographics,
    Domain,
    EventFilter,
    ImagingRequest,
    Occurrence,
    ValueFilter,
    Window,
)


def value_text(v: ValueFilter, lang: str) -> str:
    """'126–200', or '≥126 and <200' ('≥126, <200') when an end of the range is left out."""
    if v.op != "between":
        return f"{v.op} {v.value:g}"
    if not (v.exclude_low or v.exclude_high):
        return f"{v.value:g}–{v.value_high:g}"
    low, high = (
        f"{'>' if v.exclude_low else '≥'}{v.value:g}",
        f"{'<' if v.exclude_high else '≤'}{v.value_high:g}",
    )
    return f"{low} and {high}" if lang == "en" else f"{low}, {high}"


def _gwa(word: str) -> str:
    """Korean 'with' particle after a word: 과 after a consonant, 와 after a vowel ('기준 사건과')."""
    return "과" if word and has_batchim(word[-1]) else "와"


DOMAIN_EN = {  # singular, plural
    Domain.condition: ("diagnosis", "diagnoses"),
    Domain.procedure: ("procedure", "procedures"),
    Domain.drug: ("drug exposure", "drug exposures"),
    Domain.measurement: ("measurement", "measurements"),
    Domain.observation: ("observation", "observations"),
    Domain.visit: ("visit", "visits"),
    Domain.imaging: ("imaging study", "imaging studies"),
    Domain.death: ("death", "deaths"),
}
VISIT_EN = {9201: "inpatient", 9203: "ER", 9202: "outpatient", 262: "ER-and-inpatient", 581476: "home"}
VISIT_KO = {9201: "입원", 9203: "응급실", 9202: "외래", 262: "응급실 경유 입원", 581476: "가정 방문"}
DOMAIN_KO = {
    Domain.condition: "진단",
    Domain.procedure: "시술/수술",
    Domain.drug: "약물 처방",
    Domain.measurement: "검사",
    Domain.observation: "관찰 기록",
    Domain.visit: "방문",
    Domain.imaging: "영상 검사",
    Domain.death: "사망",
}


def _concepts(cs: ConceptSet, lang: str, labels: Mapping[str, Sequence[str]]) -> str:
    parts: list[str] = []
    for t in cs.terms:
        codes = labels.get(t)
        parts.append(f"“{t}” [{'; '.join(codes)}]" if codes else f"“{t}”")
    if cs.concept_ids:
        parts.append(("concept ids " if lang == "en" else "개념 ID ") + ", ".join(map(str, cs.concept_ids)))
    if cs.codeset:
        parts.append(("code set " if lang == "en" else "코드셋 ") + f"“{cs.codeset}”")
    if cs.name_contains:
        names = " / ".join(f"“{n}”" for n in cs.name_contains)
        parts.append(
            f"name or synonym contains {names}" if lang == "en" else f"이름이나 동의어에 {names} 포함"
        )
    if not parts:
        return ""
    joined = (" or " if lang == "en" else " 또는 ").join(parts)
    if cs.include_descendants and (cs.terms or cs.concept_ids or cs.codeset):
        joined += " (incl. sub-concepts)" if lang == "en" else " (하위 개념 포함)"
    if cs.exclude_concept_ids:
        ex = ", ".join(map(str, cs.exclude_concept_ids))
        joined += f", except concepts {ex}" if lang == "en" else f", 개념 {ex} 제외"
    return joined


def _extras(f: EventFilter, lang: str, labels: Mapping[str, Sequence[str]] | None = None) -> str:
    """Value, imaging and visit-type filters, e.g. ' (value > 7 %, modality CT, body part CHEST)'."""
    extra = []
    if f.value_concepts is not None:
        said = _concepts(
            f.value_concepts.model_copy(update={"include_descendants": False}), lang, labels or {}
        )
        extra.append(f"recorded as {said}" if lang == "en" else f"기록값 {said}")
    if f.value:
        v = f.value
        rng = value_text(v, lang)
        unit = f" {v.unit}" if v.unit else ""
        extra.append(f"value {rng}{unit}" if lang == "en" else f"값 {rng}{unit}")
    if f.imaging and f.imaging.modalities:
        extra.append(("modality " if lang == "en" else "모달리티 ") + "/".join(f.imaging.modalities))
    if f.imaging and f.imaging.body_parts:
        extra.append(("body part " if lang == "en" else "부위 ") + "/".join(f.imaging.body_parts))
    if f.visit_concept_ids:
        names = VISIT_EN if lang == "en" else VISIT_KO
        kinds = [f"{names.get(c, '?')} {c}" for c in f.visit_concept_ids]
        extra.append(
            ("visit type " if lang == "en" else "방문 유형 ")
            + (" or " if lang == "en" else " 또는 ").join(kinds)
        )
    return f" ({', '.join(extra)})" if extra else ""


def _event(f: EventFilter, lang: str, labels: Mapping[str, Sequence[str]], plural: bool = False) -> str:
    """English: 'procedure of “MI” […]'; Korean: '“심근경색” […] 시술/수술'."""
    what = _concepts(f.concepts, lang, labels)
    extras = _extras(f, lang, labels)
    if lang == "en":
        noun = DOMAIN_EN[f.domain][1 if plural else 0]
        if f.domain is Domain.death:
            return (f"{noun} with cause {what}" if what else f"{noun} (any cause)") + extras
        cs = f.concepts
        if cs.name_contains and not (cs.terms or cs.concept_ids or cs.codeset):
            return f"{noun} whose {what}{extras}"
        if what:
            return f"{noun} of {what}{extras}"
        return f"{noun}{extras}" if extras else f"{noun} (any kind)"
    if f.domain is Domain.death and what:
        return f"사인이 {what}인 사망{extras}"
    return (f"{what} " if what else ("" if extras else "모든 ")) + DOMAIN_KO[f.domain] + extras


def _anchor(w: Window, lang: str) -> str:
    if w.anchor == "index":
        return "the index event" if lang == "en" else "기준 사건"
    return f"the [{w.anchor}] event" if lang == "en" else f"[{w.anchor}] 사건"


def _window(w: Window, lang: str) -> str:
    a = _anchor(w, lang)
    if lang == "en":

        def side(days: int) -> str:
            unit = "day" if abs(days) == 1 else "days"
            return f"{abs(days)} {unit} {'before' if days < 0 else 'after'}" if days else "the day of"

        if w.start is None and w.end is None and w.same_visit:
            return f"during the same visit as {a}"
        start, end = w.start, w.end
        if start is None:
            s = f"at any time relative to {a}" if end is None else f"at any time up to {side(end)} {a}"
        elif end is None:
            s = f"at any time from {side(start)} {a} on"
        elif start == end == 0:
            s = f"on the same day as {a}"
        elif start == end:
            s = f"exactly {side(start)} {a}"
        else:
            s = f"between {side(start)} and {side(end)} {a} (inclusive)"
        return s + (", during the same visit" if w.same_visit else "")

    def side_ko(days: int) -> str:
        return f"{abs(days)}일 {'전' if days < 0 else '후'}" if days else "당일"

    if w.start is None and w.end is None and w.same_visit:
        return f"{a}{_gwa(a)} 같은 방문 중"
    start, end = w.start, w.end
    if start is None:
        s = f"{a}{_gwa(a)} 관계없이 언제든" if end is None else f"{a} {side_ko(end)}까지 언제든"
    elif end is None:
        s = f"{a} {side_ko(start)}부터 언제든"
    elif start == end == 0:
        s = f"{a}{_gwa(a)} 같은 날"
    elif start == end:
        s = f"{a} {side_ko(start)}"
    else:
        s = f"{a} {side_ko(start)}부터 {side_ko(end)}까지(양 끝 포함)"
    return s + (", 같은 방문 중" if w.same_visit else "")


def _occurrence(o: Occurrence, lang: str) -> str:
    if o.is_absence:
        return "no" if lang == "en" else "없음"
    if lang == "en":
        word = {"at_least": "at least", "at_most": "at most", "exactly": "exactly"}[o.type]
        return f"{word} {o.count}"
    word = {"at_least": "이상", "at_most": "이하", "exactly": ""}[o.type]
    return f"{o.count}회{(' ' + word) if word else ''}"


def _criterion(c: Criterion, lang: str, labels: Mapping[str, Sequence[str]]) -> str:
    dr = c.date_range
    if lang == "en":
        plural = c.occurrence.is_absence or c.occurrence.count != 1
        ev = _event(c, lang, labels, plural=plural)
        if c.first_occurrence:  # 'the first-ever diagnosis of “heart failure” … 30 days after'
            ev = f"the first-ever {_event(c, lang, labels)}"
            occurrence = "no" if c.occurrence.is_absence else ""
            head = f"[{c.label}] {occurrence + ' ' if occurrence else ''}{ev}"
            tail = f" dated {dr.start or '…'} to {dr.end or '…'}" if dr is not None else ""
            return f"{head}{tail} {_window(c.window, lang)}"
        if dr is not None:
            ev += f" dated {dr.start or '…'} to {dr.end or '…'}"
        return f"[{c.label}] {_occurrence(c.occurrence, lang)} {ev} {_window(c.window, lang)}"
    period = f"{dr.start or '…'} ~ {dr.end or '…'} 기간의 " if dr is not None else ""
    first = "처음 " if c.first_occurrence else ""
    return (
        f"[{c.label}] {_window(c.window, lang)} {period}{first}{_event(c, lang, labels)} "
        f"{_occurrence(c.occurrence, lang)}"
    )


def _ages(d: Demographics, lang: str) -> str:
    lo, hi = d.age_min, d.age_max
    if lang == "en":
        if hi is None:
            return f"aged {lo} or older at the index date"
        if lo is None:
            return f"aged {hi} or younger at the index date"
        return f"aged {lo}–{hi} at the index date"
    if hi is None:
        return f"기준일 나이 {lo}세 이상"
    if lo is None:
        return f"기준일 나이 {hi}세 이하"
    return f"기준일 나이 {lo}~{hi}세"


def _imaging_request(r: ImagingRequest, lang: str) -> str:
    """'Images to return: CT studies dated 0 to 30 days after “surgery” (inclusive).' — what the export
    hands over; it is no rule, so it comes after the sentence that says who qualifies."""
    en = lang == "en"
    mods = "/".join(r.modalities)
    if en:
        what = f"{mods} studies" if mods else ("imaging studies" if r.body_parts else "all imaging studies")
        if r.body_parts:
            what += f" (body part {'/'.join(r.body_parts)})"
    else:
        what = f"{mods} 검사" if mods else ("영상 검사" if r.body_parts else "모든 영상 검사")
        if r.body_parts:
            what += f" (부위 {'/'.join(r.body_parts)})"
    w = r.window
    if w is not None and w.same_visit:
        a = "the index event" if w.anchor == "index" else f"“{w.anchor}”"
        k = "기준 사건" if w.anchor == "index" else a
        return (
            f"Images to return: {what} of the same visit as {a}."
            if en
            else f"반환할 영상: {k}{_gwa(k)} 같은 방문의 {what}."
        )
    if w is None or (w.start is None and w.end is None):
        return f"Images to return: {what}, at any date." if en else f"반환할 영상: 날짜 제한 없는 {what}."
    if en:
        a = "the index event" if w.anchor == "index" else f"“{w.anchor}”"
        s, e = w.start, w.end

        def days(n: int) -> str:
            return f"{n} day" if n == 1 else f"{n} days"

        if s is None:
            when = (
                f"up to {days(abs(e))} {'before' if e < 0 else 'after'} {a}" if e else f"up to the day of {a}"
            )
        elif e is None:
            when = (
                f"from {days(abs(s))} {'before' if s < 0 else 'after'} {a} on"
                if s
                else f"from the day of {a} on"
            )
        elif s == e:
            when = (
                f"on the day of {a}"
                if s == 0
                else f"exactly {days(abs(s))} {'before' if s < 0 else 'after'} {a}"
            )
        elif s >= 0:
            when = f"{s} to {e} days after {a} (inclusive)"
        elif e <= 0:
            when = f"{-s} to {-e} days before {a} (inclusive)"
        else:
            when = f"{days(-s)} before to {days(e)} after {a} (inclusive)"
        return f"Images to return: {what} dated {when}."
    a = "기준 사건" if w.anchor == "index" else f"“{w.anchor}”"
    s, e = w.start, w.end
    if s is None:
        when = f"{a} {'전' if e < 0 else '후'} {abs(e)}일까지" if e else f"{a} 당일까지"
    elif e is None:
        when = f"{a} {'전' if s < 0 else '후'} {abs(s)}일부터" if s else f"{a} 당일부터"
    elif s == e:
        when = f"{a} 당일" if s == 0 else f"{a} {'전' if s < 0 else '후'} 정확히 {abs(s)}일"
    elif s >= 0:
        when = f"{a} 후 {s}일부터 {e}일까지(양 끝 포함)"
    elif e <= 0:
        when = f"{a} 전 {-s}일부터 {-e}일까지(양 끝 포함)"
    else:
        when = f"{a} 전 {-s}일부터 후 {e}일까지(양 끝 포함)"
    return f"반환할 영상: {when}의 {what}."


def _upload_lists(spec: CohortSpec, lang: str) -> list[str]:
    """One line per uploaded-list rule, e.g. 'Only patients in your list “echo-study” whose value is 1.'"""
    out = []
    for u in spec.lists:
        v, w = u.value, u.date_window
        rng = days = ""
        if v is not None:
            rng = value_text(v, lang)
            rng = rng.removeprefix("= ")
        if w is not None:
            days = f"{'…' if w.start is None else w.start}..{'…' if w.end is None else w.end}"
        if lang == "en":
            line = f"{'Only' if u.mode == 'include' else 'No'} patients in your list “{u.name}”"
            line += f" whose value is {rng}" if rng else ""
            line += f", with the index event {days} days from their date in the list" if days else ""
        else:
            line = f"내 업로드 목록 “{u.name}”" + (f"에서 값이 {rng}인" if rng else "의")
            line += " 환자만 포함합니다" if u.mode == "include" else " 환자는 제외합니다"
            line += f"(기준 사건이 목록의 날짜로부터 {days}일)" if days else ""
        out.append(line + ".")
    return out


def readback(
    spec: CohortSpec, lang: str | None = None, concept_labels: Mapping[str, Sequence[str]] | None = None
) -> str:
    lang = lang or spec.language
    labels = concept_labels or {}
    idx = spec.index
    lines: list[str] = []
    dr = idx.date_range
    if lang == "en":
        first = "the first-ever " if idx.first_occurrence else "any "
        event = _event(idx, lang, labels)
        if idx.concepts.is_empty() and not idx.first_occurrence:
            event = event.replace(" (any kind)", "", 1)
        line = f"Index event: {first}{event}"
        if dr and (dr.start or dr.end):
            line += f", dated {dr.start or '…'} to {dr.end or '…'} (inclusive)"
        lines.append(line + ".")
        d = spec.demographics
        if not d.is_empty():
            parts = []
            if d.sexes:
                parts.append(" or ".join(d.sexes))
            if d.age_min is not None or d.age_max is not None:
                parts.append(_ages(d, lang))
            lines.append("Demographics: " + ", ".join(parts) + ".")
        lines += _upload_lists(spec, lang)
        for c in spec.criteria:
            lines.append(_criterion(c, lang, labels) + ".")
        lines.append("A patient qualifies when any one of their index events meets every rule above.")
        if spec.imaging is not None:
            lines.append(_imaging_request(spec.imaging, lang))
    else:
        first = "처음 " if idx.first_occurrence else ""
        line = f"기준 사건: {first}{_event(idx, lang, labels)}"
        if dr and (dr.start or dr.end):
            line += f", 기간 {dr.start or '…'} ~ {dr.end or '…'} (양 끝 포함)"
        lines.append(line + ".")
        d = spec.demographics
        if not d.is_empty():
            parts = []
            if d.sexes:
                parts.append("/".join({"male": "남성", "female": "여성"}[s] for s in d.sexes))
            if d.age_min is not None or d.age_max is not None:
                parts.append(_ages(d, lang))
            lines.append("인구학적 조건: " + ", ".join(parts) + ".")
        lines += _upload_lists(spec, lang)
        for c in spec.criteria:
            lines.append(_criterion(c, lang, labels) + ".")
        lines.append("환자의 기준 사건 중 하나라도 위 조건을 모두 만족하면 포함됩니다.")
        if spec.imaging is not None:
            lines.append(_imaging_request(spec.imaging, lang))
    return "\n".join(lines)
