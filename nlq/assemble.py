"""Events → ``CohortSpec``: pick the index event, order and label criteria, attach windows,
occurrences, filters and demographics, and say in notes every reading that was chosen.

Index event: the first event that is neither negated nor placed in a window relative to another
event — preferring the one with a calendar date range (only the index carries dates) and the one
other events are measured from. A count on the index ("at least 2 diagnoses of X") becomes the
index plus a count criterion over all time, because the index itself is one event.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cohort_engine.nlq.events import Built, Event, Problem, same_mention
from cohort_engine.nlq.vocab import DOMAIN_KIND, KIND_DOMAIN, VISIT_KIND_IDS
from cohort_engine.spec import (
    CohortSpec,
    ConceptSet,
    Criterion,
    DateRange,
    Demographics,
    Domain,
    ImagingFilter,
    ImagingRequest,
    IndexEvent,
    Occurrence,
    ValueFilter,
    Window,
)

KIND_EN = {
    "surgery": "surgery",
    "procedure": "procedure",
    "drug": "drug",
    "diagnosis": "diagnosis",
    "lab": "lab test",
    "imaging": "imaging study",
    "death": "death",
    "admission": "admission",
    "er_visit": "ER visit",
    "visit": "visit",
    "outpatient": "outpatient visit",
    "pathology": "pathology result",
    "observation": "observation",
}
KIND_KO = {
    "surgery": "수술",
    "procedure": "시술",
    "drug": "약물",
    "diagnosis": "진단",
    "lab": "검사",
    "imaging": "영상 검사",
    "death": "사망",
    "admission": "입원",
    "er_visit": "응급실 방문",
    "visit": "방문",
    "outpatient": "외래 방문",
    "pathology": "병리 결과",
    "observation": "관찰",
}


class Assembly:
    def __init__(self, built: Built, lang: str, title: str) -> None:
        self.b = built
        self.lang = lang
        self.title = title
        self.problems: list[Problem] = list(built.problems)
        self.notes: list[str] = list(built.notes)
        self.domain: dict[int, Domain] = {}
        self.labels: dict[int, str] = {}

    def t(self, en: str, ko: str) -> str:
        return en if self.lang == "en" else ko

    # ------------------------------------------------------------ per-event readings
    def resolve_domain(self, ev: Event) -> Domain | None:
        if ev.kind:
            return KIND_DOMAIN[ev.kind]
        if ev.modalities:
            return Domain.imaging
        known = [t for t in ev.terms if t.known]
        doms = {d for t in known for d in t.domains}
        if len(doms) == 1:
            return Domain(doms.pop())
        if len(doms) > 1:
            names = ", ".join(f"“{t.text}”" for t in ev.terms)
            per_term = [t.domains for t in known]
            if len(per_term) > 1 and not set.intersection(*per_term):
                self.problems.append(
                    Problem(
                        self.t(
                            f"{names} are different kinds of events (e.g. a diagnosis and a procedure); 'or' between them "
                            "cannot be one rule. Ask for one of them, or both with 'and'.",
                            f"{names}은(는) 서로 다른 종류의 사건입니다(예: 진단과 시술). 하나씩 또는 '그리고'로 나누어 물어 주세요.",
                        ),
                        names,
                    )
                )
                return None
            common = set.intersection(*per_term)
            if len(common) == 1:
                return Domain(common.pop())
            self.problems.append(
                Problem(
                    self.t(
                        f"Is {names} a diagnosis, a procedure, a drug or a lab test?",
                        f"{names}은(는) 진단, 시술, 약물, 검사 중 무엇인가요?",
                    ),
                    names,
                    sorted(common),
                )
            )
            return None
        if ev.terms and ev.hint in ("drug", "condition", "procedure", "measurement"):
            return Domain(ev.hint)
        if ev.terms and ev.hint == "drug_or_procedure":
            names = ", ".join(f"“{t.text}”" for t in ev.terms)
            self.problems.append(
                Problem(
                    self.t(f"Is {names} a drug or a procedure?", f"{names}은(는) 약물인가요, 시술인가요?"),
                    names,
                    ["drug", "procedure"] if self.lang == "en" else ["약물", "시술"],
                )
            )
            return None
        if ev.terms:
            names = ", ".join(f"“{t.text}”" for t in ev.terms)
            self.notes.append(
                self.t(
                    f"{names} is not in the lexicon; read as a diagnosis (the mart's vocabulary decides "
                    "whether it exists)",
                    f"{names}은(는) 용어집에 없어 진단으로 읽었습니다(데이터마트 용어로 확인합니다)",
                )
            )
            return Domain.condition
        return None

    def kind_of(self, ev: Event) -> str:
        if ev.kind:
            return ev.kind
        d = self.domain.get(id(ev))
        return DOMAIN_KIND[d] if d else "event"

    def concepts(self, ev: Event, domain: Domain) -> ConceptSet:
        terms = [t.text for t in ev.terms]
        if ev.name_mode:
            return self.name_concepts(ev, terms)
        if ev.kind == "pathology" and not terms:
            terms = ["pathology finding" if self.lang == "en" else "병리 소견"]
        return ConceptSet(terms=list(dict.fromkeys(terms)))

    def name_concepts(self, ev: Event, terms: list[str]) -> ConceptSet:
        kind = ev.name_kind or ev.kind or "procedure"
        what_en, what_ko = KIND_EN.get(kind, kind), KIND_KO.get(kind, kind)
        shown = " / ".join(f"“{x}”" for x in (ev.quotes or terms))
        conditions = bool(ev.terms) and all(t.known and "condition" in t.domains for t in ev.terms)
        if ev.quotes or not conditions:
            self.notes.append(
                self.t(
                    f"‘{what_en} name contains {shown}’ was read literally: {what_en} concepts whose name or synonym "
                    f"contains {shown} (alternative: {what_en}s done for a condition of that name, at concept level).",
                    f"‘{what_ko}명에 {shown}’ 조건은 이름 그대로 읽었습니다: 이름이나 동의어에 {shown}이(가) 들어간 {what_ko} 개념"
                    f" (다른 해석: 그 질환에 대해 시행된 {what_ko}, 개념 수준(concept level)).",
                )
            )
            return ConceptSet(name_contains=list(dict.fromkeys(ev.quotes or terms)))
        self.notes.append(
            self.t(
                f"‘{what_en} name contains {shown}’ was read at concept level: {what_en}s done for {shown} (the lexicon's "
                f"treatments for it), because a {what_en} named for a disease is a {what_en} for that disease "
                f"(alternative: a literal name match, {what_en} names containing {shown}).",
                f"‘{what_ko}명에 {shown}’ 조건은 개념 수준(concept level)으로 읽었습니다: {shown}에 대해 시행된 {what_ko}"
                f"(용어집의 치료 연결). 질환 이름이 붙은 {what_ko}은 그 질환에 대한 {what_ko}이기 때문입니다"
                f" (다른 해석: {what_ko} 이름에 {shown}이(가) 글자 그대로 들어간 경우).",
            )
        )
        return ConceptSet(terms=list(dict.fromkeys(terms)))

    def event_filter(self, ev: Event) -> dict[str, Any] | None:
        domain = self.domain[id(ev)]
        fields: dict[str, Any] = {"domain": domain, "concepts": self.concepts(ev, domain)}
        if ev.value is not None:
            if domain not in (Domain.measurement, Domain.observation):
                self.problems.append(
                    Problem(
                        self.t(
                            f"A value comparison needs a lab test; “{ev.describe()}” is a {domain.value}.",
                            f"수치 조건은 검사에만 붙일 수 있습니다. “{ev.describe()}”은(는) {domain.value}입니다.",
                        ),
                        ev.describe(),
                    )
                )
                return None
            v = ev.value
            fields["value"] = ValueFilter(
                op=v["op"], value=v["value"], value_high=v.get("high"), unit=v.get("unit")
            )
        if domain is Domain.imaging and (ev.modalities or ev.body_parts):
            fields["imaging"] = ImagingFilter(modalities=ev.modalities, body_parts=ev.body_parts)
        if domain is Domain.imaging and ev.terms:
            self.problems.append(
                Problem(
                    self.t(
                        "Imaging studies carry no diagnosis codes; describe them by modality and body part (e.g. 'chest CT').",
                        "영상 검사에는 진단 코드가 없습니다. 모달리티와 부위로 말해 주세요(예: '흉부 CT').",
                    ),
                    ", ".join(t.text for t in ev.terms),
                )
            )
            return None
        if domain is Domain.visit:
            fields["visit_concept_ids"] = list(VISIT_KIND_IDS.get(ev.kind or "visit", []))
            if ev.terms:
                return None  # split off by split_visit_terms before we get here
        kind = self.kind_of(ev)
        if kind == "surgery" and fields["concepts"].is_empty():
            self.problems.append(
                Problem(
                    self.t(
                        "I could not find the index event: “a surgery” names no particular surgery, and a mart records every "
                        "procedure (tests included) the same way. Which surgery?"
                        if not ev.window and not ev.negated
                        else "Which surgery? A mart records every procedure (tests included) the same way, so 'any surgery' "
                        "cannot be told apart; name the surgery or say 'any procedure'.",
                        "어떤 수술인가요? 데이터마트는 검사를 포함한 모든 시술을 같은 방식으로 기록하므로 '아무 수술'은 구분할 수 "
                        "없습니다. 수술 이름을 말하거나 '모든 시술'이라고 해 주세요.",
                    ),
                    " ".join(ev.text) or None,
                    ["any procedure"] if self.lang == "en" else ["모든 시술"],
                )
            )
            return None
        return fields

    # ------------------------------------------------------------ whole spec
    def split_visit_terms(self, events: list[Event]) -> list[Event]:
        """'admitted for pneumonia' = an admission + a pneumonia diagnosis during that admission."""
        out: list[Event] = []
        for ev in events:
            out.append(ev)
            if ev.kind in VISIT_KIND_IDS and ev.terms:
                dx = Event(
                    pos=ev.pos + 1,
                    kind="diagnosis",
                    terms=ev.terms,
                    negated=ev.negated,
                    window={"start": None, "end": None, "same_visit": True},
                    anchor=ev,
                    text=[],
                )
                ev.terms = []
                self.notes.append(
                    self.t(
                        f"read “{' '.join(t.text for t in dx.terms)}” as a diagnosis recorded during the same visit",
                        f"“{' '.join(t.text for t in dx.terms)}”을(를) 같은 방문 중 기록된 진단으로 읽었습니다",
                    )
                )
                if ev.negated:
                    dx.negated, ev.negated = True, False
                out.append(dx)
        return out

    def merge_bare_anchors(self, events: list[Event]) -> list[Event]:
        """'진단일 기준 1년 이내 사망한 폐암 환자': 'the diagnosis' named before its disease is that diagnosis."""
        out = list(events)
        loose = [
            e
            for e in events
            if e.introduced
            and not e.modalities
            and ((e.kind and not e.terms) or (e.terms and all(not t.known for t in e.terms)))
        ]
        for bare in loose:
            same = [
                e
                for e in out
                if e is not bare
                and not e.negated
                and e.window is None
                and not e.introduced
                and e.terms
                and (self.domain.get(id(e)) == self.domain.get(id(bare)) or not bare.kind)
                and all(any(same_mention(t, u) for u in e.terms) for t in bare.terms)
            ]
            if not same:
                continue
            target = same[0]
            for e in out:
                if e.anchor is bare:
                    e.anchor = target
            target.date = target.date or bare.date
            target.first = target.first or bare.first
            target.introduced = True
            out.remove(bare)
        return out

    def choose_index(self, events: list[Event]) -> Event | None:
        cands = [e for e in events if not e.negated and e.window is None]
        if not cands:
            return None
        dated = [e for e in cands if e.date is not None]
        if len(dated) > 1:
            self.problems.append(
                Problem(
                    self.t(
                        "Calendar dates can only be put on the event that starts the cohort, and two events have dates. "
                        "Give the second one relative to the first (e.g. 'within 30 days after').",
                        "날짜 범위는 기준 사건 하나에만 붙일 수 있는데 두 사건에 날짜가 있습니다. 두 번째 사건은 첫 사건 기준 기간으로 말해 주세요.",
                    ),
                    " / ".join(e.date.text for e in dated if e.date),
                )
            )
            return None
        if dated:
            return dated[0]
        # "died within 30 days after CABG": the event named only as an anchor starts the cohort.
        anchored = {id(e.anchor) for e in events if isinstance(e.anchor, Event)}
        introduced = [e for e in cands if e.introduced and id(e) in anchored]
        heads = [e for e in cands if e.head]
        return (introduced or heads or cands)[0]

    def build(self) -> CohortSpec | None:
        events = [e for e in self.b.events if e.has_content()]
        for e in self.b.events:
            if not e.has_content() and (e.negated or e.window or e.count):
                self.problems.append(
                    Problem(
                        self.t(
                            "Part of the question does not say which event it is about.",
                            "어떤 사건에 대한 조건인지 알 수 없는 부분이 있습니다.",
                        )
                    )
                )
        events = self.split_visit_terms(events)
        for e in events:
            d = self.resolve_domain(e)
            if d is not None:
                self.domain[id(e)] = d
        if self.problems:
            return None
        events = self.merge_bare_anchors(events)
        outputs, events = self.take_request(events)
        index_ev = self.choose_index(events)
        if index_ev is None:
            if not self.problems:
                self.problems.append(
                    Problem(
                        self.t(
                            "I could not find the index event: which event starts the cohort (for example 'patients diagnosed "
                            "with …', 'patients who had …')?",
                            "기준 사건을 찾지 못했습니다. 코호트를 시작하는 사건(예: '…으로 진단받은 환자')을 알려 주세요.",
                        ),
                        None,
                        [self.t("patients diagnosed with …", "…으로 진단받은 환자")],
                    )
                )
            return None
        date_item = index_ev.date or self.b.pending_date
        if index_ev.date is None and self.b.pending_date is not None:
            index_ev.date = self.b.pending_date
        index_fields = self.event_filter(index_ev)
        criteria = self.criteria(events, index_ev)
        imaging = self.imaging_request(outputs, index_ev)
        demographics = self.demographics()
        if self.problems or index_fields is None or criteria is None or demographics is None:
            return None
        date_range = DateRange(start=date_item.get("start"), end=date_item.get("end")) if date_item else None
        if index_ev.prior:
            index_ev.prior = False
        try:
            index = IndexEvent(**index_fields, date_range=date_range, first_occurrence=index_ev.first)
            return CohortSpec(
                language=self.lang,
                title=self.title[:120],
                index=index,
                demographics=demographics,
                criteria=criteria,
                imaging=imaging,
            )
        except ValidationError as e:
            msg = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
            self.problems.append(
                Problem(
                    self.t(f"These rules do not fit together: {msg}.", f"조건들이 서로 맞지 않습니다: {msg}.")
                )
            )
            return None

    def criteria(self, events: list[Event], index_ev: Event) -> list[Criterion] | None:
        rest = [e for e in events if e is not index_ev]
        if index_ev.count == {"type": "at_least", "n": 1}:
            index_ev.count = None  # 'at least one X' is what an index event is anyway
        if index_ev.count is not None:
            count_ev = Event(
                pos=index_ev.pos,
                kind=index_ev.kind,
                terms=index_ev.terms,
                modalities=index_ev.modalities,
                body_parts=index_ev.body_parts,
                value=index_ev.value,
                count=index_ev.count,
                name_mode=index_ev.name_mode,
                name_kind=index_ev.name_kind,
                quotes=index_ev.quotes,
                window={"start": None, "end": None, "same_visit": False},
                anchor="index",
            )
            self.domain[id(count_ev)] = self.domain[id(index_ev)]
            count_ev.text = ["count"]
            index_ev.count = None
            rest.insert(0, count_ev)
            n = count_ev.count
            self.notes.append(
                self.t(
                    f"the count ({n['type'].replace('_', ' ')} {n['n']}) is checked over all of the patient's records, "
                    "the index event included"
                    + (" — the date range applies to the index event only" if index_ev.date else ""),
                    f"횟수 조건({n['n']}회)은 기준 사건을 포함한 환자의 전체 기록에서 셉니다"
                    + (" — 날짜 범위는 기준 사건에만 적용됩니다" if index_ev.date else ""),
                )
            )
        for e in rest:
            if e.first:
                self.problems.append(
                    Problem(
                        self.t(
                            f"'first' can only describe the event that starts the cohort, not “{e.describe()}”.",
                            f"'처음'은 기준 사건에만 붙일 수 있습니다(“{e.describe()}”).",
                        ),
                        e.describe(),
                    )
                )
            if e.date is not None:
                self.problems.append(
                    Problem(
                        self.t(
                            f"Calendar dates can only be put on the event that starts the cohort; give “{e.describe()}” relative "
                            "to it (e.g. 'within 30 days after').",
                            f"날짜 범위는 기준 사건에만 붙일 수 있습니다. “{e.describe()}”은(는) 기준 사건으로부터의 기간으로 말해 주세요.",
                        ),
                        e.date.text,
                    )
                )
            if e.negated and e.count is not None:
                self.problems.append(
                    Problem(
                        self.t(
                            f"A negated count is unclear for “{e.describe()}”.",
                            f"“{e.describe()}”의 부정된 횟수 조건이 모호합니다.",
                        ),
                        e.describe(),
                    )
                )
        ordered = self.order(rest)
        labels: dict[int, str] = {}
        used: set[str] = set()
        out: list[Criterion] = []
        for e in ordered:
            base = self.kind_of(e) if e.text != ["count"] else f"{self.kind_of(e)}_count"
            base = ("no_" if e.negated else "") + base
            label = base
            n = 2
            while label in used:
                label = f"{base}_{n}"
                n += 1
            used.add(label)
            labels[id(e)] = label
        self.labels = labels
        for e in ordered:
            fields = self.event_filter(e)
            if fields is None:
                continue
            anchor = "index"
            if isinstance(e.anchor, Event) and e.anchor is not index_ev:
                if id(e.anchor) not in labels:
                    self.problems.append(
                        Problem(
                            self.t(
                                "A time window refers to an event I could not place.",
                                "기간 조건의 기준 사건을 찾지 못했습니다.",
                            )
                        )
                    )
                    continue
                anchor = labels[id(e.anchor)]
            w = e.window
            anchor_ev = e.anchor if isinstance(e.anchor, Event) else index_ev
            if (
                w is not None
                and w.get("same_visit")
                and Domain.death in (self.domain.get(id(e)), self.domain.get(id(anchor_ev)))
            ):
                self.problems.append(
                    Problem(
                        self.t(
                            "Death records carry no visit, so 'during the same visit' cannot be checked for a death; give days "
                            "instead (e.g. 'within 30 days after the admission').",
                            "사망 기록에는 방문 정보가 없어 '같은 입원 중'을 확인할 수 없습니다. 일수로 말해 주세요(예: '입원 후 30일 이내').",
                        ),
                        e.describe(),
                    )
                )
                continue
            if w is None:
                window = Window(start=None, end=-1) if e.prior else Window()
                if not e.prior and not e.negated and e.text != ["count"] and e.group is None:
                    self.notes.append(
                        self.t(
                            f"no time relation was given for “{e.describe()}”: it may be at any time before or after the index event",
                            f"“{e.describe()}”에는 시간 조건이 없어 기준 사건 전후 언제든 인정합니다",
                        )
                    )
            else:
                start, end = w["start"], w["end"]
                window = Window(start=start, end=end, anchor=anchor, same_visit=bool(w.get("same_visit")))
            if e.negated:
                occurrence = Occurrence(type="exactly", count=0)
            elif e.count is not None:
                occurrence = Occurrence(type=e.count["type"], count=max(int(e.count["n"]), 0))
            else:
                occurrence = Occurrence()
            try:
                out.append(Criterion(**fields, label=labels[id(e)], window=window, occurrence=occurrence))
            except ValidationError as err:
                msg = "; ".join(x["msg"].removeprefix("Value error, ") for x in err.errors())
                self.problems.append(
                    Problem(
                        self.t(
                            f"The rule for “{e.describe()}” does not fit: {msg}.",
                            f"“{e.describe()}” 조건이 맞지 않습니다: {msg}.",
                        ),
                        e.describe(),
                    )
                )
        return out

    # ------------------------------------------------------------ the images to return
    def take_request(self, events: list[Event]) -> tuple[list[Event], list[Event]]:
        """Split off the events of an imaging output request ('…; give me their CT scans …'): they say
        which images to return, not who qualifies. An event named only as the request's anchor ('their
        CTs after the PCI' with no PCI rule) would silently add a rule: asked back instead."""
        outputs = [e for e in events if e.request and not e.introduced]
        rest = [e for e in events if not e.request or e.introduced]
        rules = [e for e in rest if not e.request]
        for e in rest:
            if e.request:
                what = e.describe()
                target = self.request_anchor(e, rules)
                if target is not None:  # '환자들의 수술 후 30일 이내': the surgery rule named before
                    for o in outputs:
                        if o.anchor is e:
                            o.anchor = target
                    continue
                self.problems.append(
                    Problem(
                        self.t(
                            f"The images are to be dated from “{what}”, which is not one of the cohort's rules; name it as a "
                            "rule first (e.g. 'patients with MI who had CABG within 14 days; their CT scans within 30 days after "
                            "the surgery') or date the images from the index event.",
                            f"영상 기간의 기준 “{what}”이(가) 코호트 조건에 없습니다. 먼저 조건으로 말해 주세요(예: '심근경색 환자 중 "
                            "관상동맥우회술을 받은 환자의 수술 후 30일 이내 CT 영상') 또는 기준 사건을 기준으로 말해 주세요.",
                        ),
                        what,
                    )
                )
        return outputs, [e for e in rest if not e.request]

    def request_anchor(self, bare: Event, rules: list[Event]) -> Event | None:
        """The one cohort event an anchor named inside the request refers to ('the surgery' → the CABG
        rule), by domain, mentions and modalities; None when there is none or more than one."""
        domain = self.domain.get(id(bare))
        same = [
            e
            for e in rules
            if not e.negated
            and (domain is None or self.domain.get(id(e)) == domain)
            and all(any(same_mention(t, u) for u in e.terms) for t in bare.terms)
            and (not bare.modalities or set(bare.modalities) & set(e.modalities))
        ]
        if len(same) > 1:
            same = [e for e in same if bare.kind is not None and e.kind == bare.kind] or same
        return same[0] if len(same) == 1 else None

    def request_window(self, ev: Event, index_ev: Event) -> tuple[bool, Window | None]:
        """(ok, window) of one requested imaging event: days from the index or from a named criterion."""
        w = ev.window
        if w is None:
            return True, (Window(start=None, end=-1) if ev.prior else None)
        if w.get("same_visit"):
            self.problems.append(
                Problem(
                    self.t(
                        "The images to return are chosen by days from an event; 'during the same visit' is not supported for "
                        "them. Give days instead (e.g. 'their CT scans within 7 days after the admission').",
                        "반환할 영상은 사건으로부터의 일수로만 고릅니다. '같은 방문 중'은 지원하지 않으니 일수로 말해 주세요"
                        "(예: '입원 후 7일 이내 CT 영상').",
                    ),
                    " ".join(ev.text) or None,
                )
            )
            return False, None
        anchor = "index"
        if isinstance(ev.anchor, Event) and ev.anchor is not index_ev:
            label = self.labels.get(id(ev.anchor))
            if ev.anchor.request and ev.anchor.introduced:
                return False, None  # named only in the request: take_request asked about it
            if label is None or ev.anchor.negated:
                self.problems.append(
                    Problem(
                        self.t(
                            f"The images are to be dated from “{ev.anchor.describe()}”, which is no rule with events of this "
                            "cohort; date them from the index event or from a rule the patients meet.",
                            f"영상 기간의 기준 “{ev.anchor.describe()}”은(는) 사건이 있는 코호트 조건이 아닙니다. 기준 사건이나 "
                            "환자가 만족하는 조건을 기준으로 말해 주세요.",
                        ),
                        ev.anchor.describe(),
                    )
                )
                return False, None
            anchor = label
        return True, Window(start=w["start"], end=w["end"], anchor=anchor)

    def imaging_request(self, outputs: list[Event], index_ev: Event) -> ImagingRequest | None:
        """The requested imaging events → one ``ImagingRequest`` (modalities × body parts, one window)."""
        if not outputs:
            return None
        shown = " / ".join(f"“{t.strip()}”" for e in outputs for t in (e.text or [e.describe()]) if t.strip())
        windows: list[Window | None] = []
        ok = True
        for e in outputs:
            what = " ".join(e.text).strip() or e.describe()
            if self.domain.get(id(e)) is not Domain.imaging or e.terms or e.name_mode or e.value is not None:
                self.problems.append(
                    Problem(
                        self.t(
                            f"Only imaging studies can be returned for a cohort, by modality and body part (e.g. 'their chest "
                            f"CTs'); “{e.describe()}” is not one. To select patients by it, make it a rule ('who had …').",
                            f"코호트에 대해 돌려줄 수 있는 것은 모달리티와 부위로 고른 영상뿐입니다(예: '환자의 흉부 CT 영상'). "
                            f"“{e.describe()}”은(는) 영상이 아닙니다. 환자를 고르는 조건이라면 '…을 받은 환자'로 말해 주세요.",
                        ),
                        e.describe(),
                    )
                )
                ok = False
                continue
            if e.negated or e.count is not None or e.first:
                self.problems.append(
                    Problem(
                        self.t(
                            f"A negation, count or 'first' cannot be put on the images to return (“{what}”); they are every "
                            "matching study of the cohort's patients.",
                            f"반환할 영상(“{what}”)에는 부정, 횟수, '처음' 조건을 붙일 수 없습니다. 조건에 맞는 모든 영상을 돌려줍니다.",
                        ),
                        what,
                    )
                )
                ok = False
                continue
            if e.date is not None:
                self.problems.append(
                    Problem(
                        self.t(
                            "The images to return are chosen by days from the index event or a rule's event, not by calendar "
                            "dates; say e.g. 'their CT scans within 30 days after the diagnosis'.",
                            "반환할 영상은 달력 날짜가 아니라 기준 사건이나 조건 사건으로부터의 일수로 고릅니다(예: '진단 후 30일 이내 "
                            "CT 영상').",
                        ),
                        e.date.text,
                    )
                )
                ok = False
                continue
            good, window = self.request_window(e, index_ev)
            ok = ok and good
            windows.append(window)
        if not ok:
            return None
        if any(w != windows[0] for w in windows):
            self.problems.append(
                Problem(
                    self.t(
                        f"The images {shown} have different time windows; one request has one window. Ask for them with one "
                        "window.",
                        f"영상 {shown}의 기간이 서로 다릅니다. 요청 하나에는 기간이 하나뿐입니다. 같은 기간으로 말해 주세요.",
                    ),
                    shown,
                )
            )
            return None
        # Each imaging phrase as named ('chest CT', 'cardiac MRI'); the request is their modalities × body
        # parts, which must not return more than the phrases asked for.
        shots = [shot for e in outputs for shot in (e.shots or [(tuple(e.modalities), tuple(e.body_parts))])]
        modalities = (
            [] if any(not m for m, _ in shots) else list(dict.fromkeys(x for m, _ in shots for x in m))
        )
        parts = [] if any(not b for _, b in shots) else list(dict.fromkeys(x for _, b in shots for x in b))

        def covers(shot: tuple[tuple[str, ...], tuple[str, ...]], m: str | None, b: str | None) -> bool:
            return (not shot[0] or m in shot[0]) and (not shot[1] or b in shot[1])

        pairs = [(m, b) for m in (modalities or [None]) for b in (parts or [None])]
        if not all(any(covers(shot, m, b) for shot in shots) for m, b in pairs):
            mods_s, parts_s = "/".join(modalities), "/".join(parts)
            self.problems.append(
                Problem(
                    self.t(
                        f"One image request lists modalities and body parts, not pairs of them: {shown} together would also "
                        f"return every other {mods_s} × {parts_s} combination. Ask for one of them, or for all of them.",
                        f"영상 요청 하나에는 모달리티와 부위를 각각 나열할 뿐 짝지을 수 없습니다: {shown}을(를) 함께 요청하면 "
                        f"{mods_s} × {parts_s}의 다른 조합도 모두 포함됩니다. 하나씩 요청하거나 모든 조합을 요청해 주세요.",
                    ),
                    shown,
                    [f"{mods_s} of {parts_s}" if self.lang == "en" else f"{parts_s} 부위의 {mods_s}"],
                )
            )
            return None
        self.notes.append(
            self.t(
                f"read {shown} as the images to return for the cohort, not as a rule: it does not change who is in the "
                "cohort (to require such a study, say 'who had …')",
                f"{shown}은(는) 코호트에 대해 돌려줄 영상으로 읽었습니다. 코호트에 포함되는 환자는 바뀌지 않습니다"
                "(그런 검사를 받은 환자로 한정하려면 '…을 촬영한 환자'라고 말해 주세요)",
            )
        )
        return ImagingRequest(modalities=modalities, body_parts=parts, window=windows[0])

    def order(self, events: list[Event]) -> list[Event]:
        """Text order, except that an event others are measured from comes before them."""
        pending = sorted(events, key=lambda e: e.pos)
        out: list[Event] = []
        placed: set[int] = set()
        while pending:
            for e in pending:
                a = e.anchor
                if not isinstance(a, Event) or id(a) in placed or a not in events:
                    out.append(e)
                    placed.add(id(e))
                    pending.remove(e)
                    break
            else:  # a cycle: keep text order and let validation report it
                out += pending
                break
        return out

    def demographics(self) -> Demographics | None:
        sexes: set[str] = set()
        lo: int | None = None
        hi: int | None = None
        for it in self.b.demographics:
            if it.kind == "sex":
                sexes.update(it.get("sexes", []))
            else:
                if it.get("min") is not None:
                    lo = it.get("min") if lo is None else max(lo, it.get("min"))
                if it.get("max") is not None:
                    hi = it.get("max") if hi is None else min(hi, it.get("max"))
        if lo is not None and hi is not None and lo > hi:
            self.problems.append(
                Problem(
                    self.t(
                        f"The age limits contradict each other ({lo} to {hi}).",
                        f"나이 조건이 서로 맞지 않습니다({lo}~{hi}세).",
                    )
                )
            )
            return None
        return Demographics(sexes=sorted(sexes), age_min=lo, age_max=hi)  # type: ignore[arg-type]


def assemble(built: Built, lang: str, title: str) -> tuple[CohortSpec | None, list[Problem], list[str]]:
    a = Assembly(built, lang, title)
    spec = a.build()
    return spec, a.problems, list(dict.fromkeys(a.notes))
