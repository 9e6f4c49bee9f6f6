"""Events → ``CohortSpec``: pick the index event, order and label criteria, attach windows,
occurrences, filters and demographics, and say in notes every reading that was chosen.

Index event: the first event that is neither negated nor placed in a window relative to another
event — preferring the one with a calendar date range (only the index carries dates) and the one
other events are measured from. A count on the index ("at least 2 diagnoses of X") becomes the
index plus a count criterion over all time, because the index itself is one event.
"""

from __future__ import annotations

import re
from typing import Required, TypedDict

from pydantic import ValidationError

from cohort_engine.imaging_words import BODY_PART_WORDS, MODALITY_WORDS
from cohort_engine.nlq import messages
from cohort_engine.nlq.events import Built, Count, Event, EventWindow, Problem, Term, same_mention
from cohort_engine.nlq.items import AgeData, DateData, ItemKind, SexData
from cohort_engine.nlq.lexicon import answer_of, entries, lookup
from cohort_engine.nlq.messages import KIND_NAMES
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.vocab import (
    DOMAIN_KIND,
    KIND_DOMAIN,
    STUDY_OF_PROCEDURE,
    VISIT_KIND_IDS,
    VISIT_KINDS,
)
from cohort_engine.spec import (
    CohortSpec,
    ConceptSet,
    Criterion,
    DateRange,
    Demographics,
    Domain,
    EventFilter,
    ImagingFilter,
    ImagingRequest,
    IndexEvent,
    Lang,
    Occurrence,
    ValueFilter,
    Window,
)

#: Words that make a histology name ('adenocarcinoma') a pathology result rather than a diagnosis.
PATHOLOGY_CONTEXT = regex(
    r"patholog|histolog|histopatholog|biops|path\s+report|병리|조직\s*검사|조직학|생검", re.IGNORECASE
)

#: Words that make a second mention of an event another event of that kind, never the first one again.
ANOTHER_EVENT = regex(
    r"\b(?:again|another|other|second|repeat(?:ed)?|new|further|subsequent|re-?admi\w*|re-?visit\w*|return\w*"
    r"|recurr\w*|bounced?)\b|다시|또|(?<![가-힣])재(?=[가-힣])|두\s*번째|다른|추가",
    re.IGNORECASE,
)


def _merge_into(events: list[Event], gone: Event, kept: Event) -> None:
    """``gone`` names the same event as ``kept``: what was anchored on it is anchored on ``kept``, and it
    leaves ``events`` (the merges of restated, bare and 'first' mentions all end so)."""
    for e in events:
        if e.anchor is gone:
            e.anchor = kept
    events.remove(gone)


def _procedure_names_study(e: Event, study: Event) -> bool:
    """Whether procedure event ``e`` is named as ``study`` (its modality and body part, when given): the
    words of its mention and of its terms' lexicon names say them ('coronary arteriography' is XA, HEART)."""
    said = " ".join([*e.text, *(t.text for t in e.terms)])
    named = [x for x in entries().values() if any(x.names_code(t.text) for t in e.terms)]
    said += " " + " ".join(n for t in e.terms for x in [*lookup(t.text), *named] for n in x.en)
    return all(
        m in MODALITY_WORDS and re.search(MODALITY_WORDS[m], said, re.IGNORECASE) for m in study.modalities
    ) and all(
        b in BODY_PART_WORDS and re.search(BODY_PART_WORDS[b], said, re.IGNORECASE) for b in study.body_parts
    )


#: Domains whose events are named by a concept: a bare kind word there ('the lab') stands for one of them.
_NAMED_DOMAINS = {Domain.measurement, Domain.drug, Domain.condition, Domain.procedure}


class EventFields(TypedDict, total=False):
    """The event filter fields shared by ``IndexEvent`` and ``Criterion``."""

    domain: Required[Domain]
    concepts: Required[ConceptSet]
    value: ValueFilter
    value_concepts: ConceptSet
    imaging: ImagingFilter
    visit_concept_ids: list[int]


class Assembly:
    def __init__(self, built: Built, lang: Lang, title: str) -> None:
        self.b = built
        self.lang = lang
        self.title = title
        self.problems: list[Problem] = list(built.problems)
        self.notes: list[str] = list(built.notes)
        self.domain: dict[int, Domain] = {}
        self.labels: dict[int, str] = {}

    def t(self, en: str, ko: str) -> str:
        return en if self.lang == "en" else ko

    def say(self, code: str, **values: object) -> str:
        return messages.say(code, self.lang, **values)

    def readings(self, code: str, **values: object) -> list[str]:
        return list(messages.readings(code, self.lang, **values))

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
                        self.say("kinds_differ", names=names),
                        names,
                    )
                )
                return None
            common = set.intersection(*per_term)
            if len(common) == 1:
                return Domain(common.pop())
            self.problems.append(
                Problem(
                    self.say("which_domain", names=names),
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
                    self.say("drug_or_procedure", names=names),
                    names,
                    self.readings("drug_or_procedure"),
                )
            )
            return None
        if ev.terms:
            names = ", ".join(f"“{t.text}”" for t in ev.terms)
            self.notes.append(self.say("not_in_lexicon", names=names))
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
            terms = [self.say("pathology_finding")]
        return ConceptSet(terms=list(dict.fromkeys(terms)))

    def name_concepts(self, ev: Event, terms: list[str]) -> ConceptSet:
        kind = ev.name_kind or ev.kind or "procedure"
        what = KIND_NAMES[self.lang].get(kind, kind)
        shown = " / ".join(f"“{x}”" for x in (ev.quotes or terms))
        conditions = bool(ev.terms) and all(t.known and "condition" in t.domains for t in ev.terms)
        if ev.quotes or not conditions:
            self.notes.append(self.say("name_literal", shown=shown, what=what))
            return ConceptSet(name_contains=list(dict.fromkeys(ev.quotes or terms)))
        self.notes.append(self.say("name_concept_level", shown=shown, what=what))
        return ConceptSet(terms=list(dict.fromkeys(terms)))

    def event_filter(self, ev: Event) -> EventFields | None:
        domain = self.domain[id(ev)]
        fields: EventFields = {"domain": domain, "concepts": self.concepts(ev, domain)}
        if ev.value is not None:
            if domain not in (Domain.measurement, Domain.observation):
                self.problems.append(
                    Problem(
                        self.say("value_needs_lab", domain=domain.value, event=ev.describe()),
                        ev.describe(),
                    )
                )
                return None
            v = ev.value
            fields["value"] = ValueFilter(
                op=v.op,
                value=v.value,
                value_high=v.high,
                unit=v.unit,
                exclude_low=v.exclude_low,
                exclude_high=v.exclude_high,
            )
        if ev.answers:
            fields["value_concepts"] = ConceptSet(terms=list(dict.fromkeys(t.text for t in ev.answers)))
        if domain is Domain.imaging and (ev.modalities or ev.body_parts):
            fields["imaging"] = ImagingFilter(modalities=ev.modalities, body_parts=ev.body_parts)
        if domain is Domain.imaging and ev.terms:
            self.problems.append(
                Problem(
                    self.say("imaging_no_codes"),
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
                    self.say("which_surgery_index" if not ev.window and not ev.negated else "which_surgery"),
                    " ".join(ev.text) or None,
                    self.readings("which_surgery"),
                )
            )
            return None
        return fields

    # ------------------------------------------------------------ whole spec
    def split_visit_terms(self, events: list[Event]) -> list[Event]:
        """'admitted for pneumonia' = an admission + a pneumonia diagnosis during that admission."""
        out: list[Event] = []
        split = False
        for ev in events:
            if (
                split
                and ev.kind == "diagnosis"
                and not (ev.terms or ev.quotes or ev.negated or ev.window or ev.count or ev.date)
            ):
                split = False
                continue  # 'ED visit w/ pneumonia dx': the 'dx' said after the visit's diagnosis is that one
            split = False
            out.append(ev)
            if ev.kind in VISIT_KIND_IDS and ev.terms:
                split = True
                dx = Event(
                    pos=ev.pos + 1,
                    kind="diagnosis",
                    terms=ev.terms,
                    negated=ev.negated,
                    # 'ED visit w/ pneumonia dx': an ER visit is a day, and its diagnosis is dated that day
                    # (an ER visit's own link may miss it); a stay's diagnosis is any during the stay
                    window=(
                        EventWindow(0, 0)
                        if ev.kind == "er_visit"
                        else EventWindow(None, None, same_visit=True)
                    ),
                    anchor=ev,
                    text=[],
                )
                ev.terms = []
                self.notes.append(self.say("same_visit_diagnosis", terms=" ".join(t.text for t in dx.terms)))
                if ev.negated:
                    dx.negated, ev.negated = True, False
                out.append(dx)
        return out

    def merge_bare_anchors(self, events: list[Event]) -> list[Event]:
        """'진단일 기준 1년 이내 사망한 폐암 환자': 'the diagnosis' named before its disease is that
        diagnosis."""
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
            target.date = target.date or bare.date
            target.first = target.first or bare.first
            target.introduced = True
            _merge_into(out, bare, target)
        return out

    def merge_bare_restatements(self, events: list[Event]) -> list[Event]:
        """'chest pain seen in the ER … (dx same day as the ER visit)', '관상동맥조영술 … (2020년 촬영
        기준)': a bare 'dx' / '촬영' that only says when is the one event of that kind named by its terms
        or modality, not a new rule for an event of any kind. Only when exactly one such event has no
        time (or date) of its own, and the window is not anchored on that event itself."""
        out = list(events)
        for bare in events:
            if not (
                bare.kind
                and (bare.window is not None or bare.date is not None)
                and not (bare.terms or bare.modalities or bare.quotes or bare.introduced)
                and bare.value is None
                and bare.count is None
                and not (bare.negated or bare.first or bare.prior)
            ):
                continue
            same = [
                e
                for e in out
                if e is not bare
                and (e.terms or e.modalities)
                # no time of its own, or only the visit it was named with ('admitted w/ a stroke')
                and (
                    bare.window is None
                    or e.window is None
                    or (e.window.same_visit and e.window.start is None and e.window.end is None)
                )
                and (bare.date is None or e.date is None)
                and not e.negated
                and (not e.introduced or bare.window is None)  # an anchor takes dates said of it
                and self.domain.get(id(e)) == self.domain.get(id(bare))
            ]
            if len(same) != 1 or bare.anchor is same[0]:
                continue
            target = same[0]
            if bare.window is not None:
                target.window, target.anchor = bare.window, bare.anchor
            target.date = target.date or bare.date
            _merge_into(out, bare, target)
        return out

    def merge_restated(self, events: list[Event]) -> list[Event]:
        """'만 18세 미만 천식 환자 중 천식 진단받은 날 응급실로 온': the same event named again, with
        nothing of its own (no window, value, count, date, negation or history), is that event: what is
        anchored on the second mention is anchored on the first."""
        out = list(events)
        again = ANOTHER_EVENT.search(self.title) is not None
        for later in events:
            if later not in out or later.window is not None:
                continue
            if later.introduced:
                # '… coronary arteriography (88.56 or 88.57) …, then a stent no later than 2 days after the
                # angiogram': a study referred to after a procedure whose name says that study is it
                named = next(
                    (
                        e
                        for e in out
                        if e.pos < later.pos
                        and not e.negated
                        and self.domain.get(id(e)) == Domain.procedure
                        and _procedure_names_study(e, later)
                    ),
                    None,
                )
                if named is not None and later.modalities and not later.terms and later.date is None:
                    _merge_into(out, later, named)
                continue
            if later.value is not None or later.count is not None:
                continue
            if later.negated or later.prior or later.answers:
                continue
            # '응급실에 왔던 사람들 중에요, 응급실 온 날 …': a visit of the same kind named again, with no
            # words of its own, is that visit (unless the sentence speaks of another one)
            # ('… before the date of death': a person dies once, so a death named again is that death)
            visit_again = (
                not later.terms
                and not later.modalities
                and ((later.kind in VISIT_KINDS and not again) or later.kind == "death")
            )
            if not (later.terms or later.modalities or visit_again):
                continue
            # '뇌 MRI 찍은 환자 중에 … 2024년에 찍은 MRI만요': the same event named again only to give its
            # dates restricts that event; said of another event ('another MRI in 2024') it is a new rule
            # ('UTI diagnosed at an ER visit …, ER visit between 2023-01-01 and 2024-12-31': that visit's)
            if later.date is not None and (
                again or not (later.terms or later.modalities or later.kind == "death" or visit_again)
            ):
                continue
            if (later.modalities or later.body_parts) and later.terms:
                continue
            earlier = next(
                (
                    e
                    for e in out
                    if e is not later
                    and e.pos < later.pos
                    and not e.negated
                    and self.domain.get(id(e)) == self.domain.get(id(later))
                    and (later.date is None or (e.date is None and e.window is None and not e.first))
                    and self._names_same(e, later, visit_again)
                ),
                None,
            )
            if earlier is None:
                continue
            earlier.date = earlier.date or later.date
            # '… started on warfarin in 2023 (first-ever warfarin)': the same drug, said to be the first
            earlier.first = earlier.first or later.first
            _merge_into(out, later, earlier)
        return out

    @staticmethod
    def _names_same(e: Event, later: Event, visit_again: bool) -> bool:
        """Does ``later`` name exactly what ``e`` names: the same terms both ways, the same modality
        (its body part, if any, among ``e``'s), or — for a bare visit word — the same kind of visit?"""
        if visit_again:
            return not e.terms and not e.modalities and e.kind == later.kind
        if later.modalities:
            return (
                not e.terms
                and set(later.modalities) == set(e.modalities)
                and set(later.body_parts) <= set(e.body_parts)
            )
        return (
            bool(e.terms)
            and len(e.terms) == len(later.terms)
            and all(any(same_mention(t, u) for u in e.terms) for t in later.terms)
            and all(any(same_mention(u, t) for t in later.terms) for u in e.terms)
        )

    def read_answers(self, events: list[Event]) -> list[Event]:
        """'current smokers', 'whose smoking status was recorded as current smoker', '현재 흡연자': a coded
        answer is the observation it answers (smoking status) with that answer, never a concept of its
        own; the observation named just before it takes it."""
        out = list(events)
        for ev in events:
            answered = [answer_of(t.text) for t in ev.terms]
            if not ev.terms or not all(answered):
                if any(answered):
                    self.problems.append(
                        Problem(self.say("answer_mixed", event=ev.describe()), ev.describe())
                    )
                continue
            of = {a for a in answered if a}
            if len(of) != 1:
                self.problems.append(Problem(self.say("answer_mixed", event=ev.describe()), ev.describe()))
                continue
            key = of.pop()
            if key == "pathology_finding" and not PATHOLOGY_CONTEXT.search(self.title):
                # 'adenocarcinoma' read as a histology answer only where the question speaks of pathology
                continue
            k = out.index(ev)
            # the observation named just before ('smoking status was recorded as …') or just after ('… on
            # histopathology') takes the answer
            prev = next(
                (
                    e
                    for e in (out[k - 1] if k > 0 else None, out[k + 1] if k + 1 < len(out) else None)
                    if e is not None
                    and e.terms
                    and not e.answers
                    and not e.negated
                    and all(key in {x.key for x in lookup(t.text)} for t in e.terms)
                ),
                None,
            )
            if prev is not None and ev.window is None and ev.count is None and not ev.negated:
                prev.answers = list(ev.terms)
                for e in out:
                    if e.anchor is ev:
                        e.anchor = prev
                out.remove(ev)
                continue
            entry = entries()[key]
            named = (entry.ko if self.lang == "ko" and entry.ko else entry.en)[0]
            ev.answers, ev.terms = list(ev.terms), [Term(named, {"observation"}, True)]
            ev.text = [named]
            self.domain[id(ev)] = Domain.observation
            # '… after the smoking status was recorded': that observation, named again as an anchor
            for ref in [
                e
                for e in out
                if e is not ev
                and e.introduced
                and e.terms
                and not e.answers
                and e.window is None
                and all(key in {x.key for x in lookup(t.text)} for t in e.terms)
            ]:
                for e in out:
                    if e.anchor is ref:
                        e.anchor = ev
                ev.date = ev.date or ref.date
                out.remove(ref)
        return out

    def merge_first_restated(self, events: list[Event]) -> list[Event]:
        """'newly diagnosed hypertension in 2024 (first HTN dx ever)', 'First-ever PCI …, with that first
        PCI happening in 2023 or later', '처음 진단받은 … 최초 진단일로부터': 'first' said again of the
        same event is that event (its date joins it); only 'first' can make two mentions one event."""
        out = list(events)
        for later in [e for e in events if e.first]:
            if later not in out or later.negated or later.window is not None or later.count is not None:
                continue
            earlier = next(
                (
                    e
                    for e in out
                    if e is not later
                    and e.pos < later.pos
                    and e.first
                    and not e.negated
                    and e.window is None
                    and (self.domain.get(id(e)) == self.domain.get(id(later)) or not later.terms)
                    and (
                        all(any(same_mention(t, u) for u in e.terms) for t in later.terms)
                        if later.terms
                        else later.kind is not None
                        and (
                            e.kind == later.kind
                            or e.kind is None
                            # '생애 첫 응급실 방문 … (첫 방문 당시 나이)': 'visit' names any kind of visit
                            or (later.kind == "visit" and e.kind in VISIT_KINDS)
                        )
                    )
                ),
                None,
            )
            if earlier is None or (
                earlier.date is not None and later.date is not None and earlier.date.data != later.date.data
            ):
                continue  # ('New X users in H1 2023 (first-ever X between January and June 2023)': one date)
            earlier.date = earlier.date or later.date
            _merge_into(out, later, earlier)
        return out

    def unnamed_anchor_for_named(self, index_ev: Event, events: list[Event]) -> bool:
        """'HF dx on or before the lab … an NT-proBNP > 2000 …': the index is only a kind word met as an
        anchor ('the lab') while an event of that kind is named elsewhere. It may be that one or any
        other: asked, never read as 'any measurement'."""
        kind = self.domain.get(id(index_ev))
        if not index_ev.introduced or index_ev.names_something() or kind not in _NAMED_DOMAINS:
            return False
        if not any(e is not index_ev and e.terms and self.domain.get(id(e)) == kind for e in events):
            return False
        word = " ".join(index_ev.text) or index_ev.kind
        self.problems.append(Problem(self.say("name_what", event=word), word, []))
        return True

    def choose_index(self, events: list[Event]) -> Event | None:
        cands = [e for e in events if not e.negated and e.window is None]
        if not cands:
            return self.together_same_day(events)
        named = [e for e in cands if e.named_index]  # '… 처방일을 인덱스일로 정의하고': said outright
        if len(named) == 1:
            return named[0]
        # 'history of stroke pts with afib': a history is before something else, never the index
        cands = [e for e in cands if not e.prior] or cands
        dated = [e for e in cands if e.date is not None]
        # 'Lisinopril new users; potassium ≥ 4.5 within 30 days after initiation', 'whose first-ever lung
        # cancer diagnosis was preceded by a CT': with no window of its own, 'first' names the index
        # (README), unless another event's dates do ('2023년 심부전 진단 환자 중 첫 입원 후 …': which first?)
        firsts = [e for e in cands if e.first]
        if len(firsts) == 1 and (firsts[0].date is not None or not dated):
            return firsts[0]
        # 'diagnosed in 2024 who had at most one HbA1c test that year': a counted event's dates say where
        # to count (Criterion.date_range), so it leaves the choice of the index to the other dated event
        if len(dated) > 1 and len(uncounted := [e for e in dated if e.count is None]) == 1:
            cands = [e for e in cands if e.date is None or e.count is None]
            dated = uncounted
        # 'ER visits in 2023 who also had a head CT in 2023', 'diabetes diagnosed in 2020 and an MI in
        # 2021': each event keeps its own dates (Criterion.date_range), so the first one starts the cohort
        if dated:
            return dated[0]
        # "died within 30 days after CABG": the event named only as an anchor starts the cohort.
        anchored = {id(e.anchor) for e in events if isinstance(e.anchor, Event)}
        introduced = [e for e in cands if e.introduced and id(e) in anchored]
        if introduced:
            swapped = self.first_on_the_same_day(events, introduced[0])
            if swapped is not None:
                return swapped
        heads = [e for e in cands if e.head]
        return (introduced or heads or cands)[0]

    def first_on_the_same_day(self, events: list[Event], anchor: Event) -> Event | None:
        """'whose first-ever insulin dispensing happened on the same day as a glucose above 200': 'first'
        names the index, and a same-day window reads the same from either side, so the first event starts
        the cohort and its anchor becomes a same-day rule on it. None when the sentence is not that."""
        firsts = [
            e
            for e in events
            # 'head CTs from 2023 taken on the same day as an ER visit': dates name the index as 'first' does
            if (e.first or (e.date is not None and anchor.date is None))
            and e.anchor is anchor
            and not e.negated
            and e.window is not None
            and e.window.start == 0
            and e.window.end == 0
            and not e.window.same_visit
        ]
        if len(firsts) != 1 or anchor.first or anchor.negated:
            return None
        first = firsts[0]
        anchor.window, anchor.anchor = EventWindow(0, 0), "index"
        first.window, first.anchor = None, None
        return first

    def together_same_day(self, events: list[Event]) -> Event | None:
        """'a head CT and a brain MRI on the same day', 'TG ≥ 200 and HDL < 40 on the same day': every event
        carries the one same-day window and none is its anchor, so the window relates them to each other;
        the first starts the cohort and the others fall on its day. None when the events are not that."""
        live = [e for e in events if not e.negated]
        same = [
            e
            for e in live
            if e.window is not None
            and (e.window.start, e.window.end) == (0, 0)
            and not e.window.same_visit
            and e.anchor in (None, "index")
        ]
        if len(same) < 2 or len(same) != len(live):
            return None
        first = same[0]
        first.window = None
        return first

    def build(self) -> CohortSpec | None:
        events = [e for e in self.b.events if e.has_content()]
        for e in self.b.events:
            if not e.has_content() and (e.negated or e.window or e.count):
                self.problems.append(Problem(self.say("event_unnamed")))
        events = self.split_visit_terms(events)
        for e in events:
            d = self.resolve_domain(e)
            if d is not None:
                self.domain[id(e)] = d
        if self.problems:
            return None
        events = self.read_answers(events)
        events = self.merge_bare_anchors(events)
        events = self.merge_bare_restatements(events)
        events = self.merge_restated(events)
        events = self.merge_first_restated(events)
        outputs, events = self.take_request(events)
        index_ev = self.choose_index(events)
        if index_ev is None:
            if not self.problems:
                self.problems.append(
                    Problem(
                        self.say("no_index_event"),
                        None,
                        [self.say("no_index_event_example")],
                    )
                )
            return None
        if self.unnamed_anchor_for_named(index_ev, events):
            return None
        self.readmission_follows_something(index_ev)
        pending = self.b.pending_date
        if index_ev.date is not None and pending is not None and pending.data != index_ev.date.data:
            # '… 2022년 진단 … 기준일이 2021년 이후인': two ranges for one index; never one dropped
            self.problems.append(Problem(self.say("two_dates"), pending.text, []))
        date_item = index_ev.date or pending
        if index_ev.date is None and self.b.pending_date is not None:
            index_ev.date = self.b.pending_date
        index_fields = self.event_filter(index_ev)
        criteria = self.criteria(events, index_ev)
        if criteria is not None:
            criteria = said_once(criteria)
        imaging = self.imaging_request(outputs, index_ev)
        demographics = self.demographics()
        if self.problems or index_fields is None or criteria is None or demographics is None:
            return None
        dates = date_item.data_as(DateData) if date_item else None
        date_range = DateRange(start=dates.start, end=dates.end) if dates else None
        if index_ev.prior:
            index_ev.prior = False
        try:
            index = IndexEvent(**index_fields, date_range=date_range, first_occurrence=index_ev.first)
            if index.first_occurrence and washout_of(index, criteria) is not None:
                # 'aspirin을 새로 시작한 환자 (이전 1년간 아스피린 처방 이력 없는)': the washout says what
                # 'new' means here (no use in the lookback), not 'first ever'
                index = index.model_copy(update={"first_occurrence": False})
                self.notes.append(self.say("new_by_washout"))
            return CohortSpec(
                language=self.lang,
                title=self.title[:120],
                index=index,
                demographics=demographics,
                criteria=self.noted_another(another_of_the_same(index, criteria), criteria),
                imaging=imaging,
            )
        except ValidationError as e:
            msg = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
            self.problems.append(Problem(self.say("rules_do_not_fit", msg=msg)))
            return None

    def readmission_follows_something(self, index_ev: Event) -> None:
        """'readmissions', '30-day readmissions in 2023': a readmission is an admission counted from an
        earlier event, so it is read only as a rule after one ('admitted in 2023 and readmitted within 30
        days', 'CABG patients readmitted between day 1 and day 30'); as the cohort's own entry it would be
        every admission (the 're-' read past), and is asked back."""
        said = next((t for t in index_ev.text if _READMISSION.search(t)), None)
        if said is not None:
            self.problems.append(Problem(self.say("readmission_of_what", text=said), said))

    def noted_another(self, read: list[Criterion], written: list[Criterion]) -> list[Criterion]:
        """The criteria as :func:`another_of_the_same` reads them, with a note for each rule it changed."""
        for before, after in zip(written, read, strict=True):
            if after.occurrence != before.occurrence:
                self.notes.append(self.say("another_counts_anchor", label=after.label))
        return read

    #: The index kinds a nameless event word may say again ('검사일' after a colonoscopy).
    _REFERS_TO = {
        "diagnosis": {"diagnosis"},
        "drug": {"drug"},
        "procedure": {"procedure", "surgery"},
        "lab": {"lab", "procedure", "surgery", "imaging"},
    }

    def restates_index(self, e: Event, index_ev: Event) -> bool:
        """Whether ``e``, a kind of event that names nothing, is satisfied by every index event itself: the
        index's own kind, at least once, no calendar dates, and a window (if any) from the index that holds
        its day — 'the same day they were dx'd', 'after the bleed was diagnosed', '투약 당시'."""
        w = e.window
        return (
            index_ev.names_something()
            and self.kind_of(index_ev) in self._REFERS_TO.get(e.kind or "", set())
            and e.count is None
            and e.date is None
            and (e.anchor is None or e.anchor == "index")
            and (w is None or ((w.start is None or w.start <= 0) and (w.end is None or w.end >= 0)))
        )

    def criteria(self, events: list[Event], index_ev: Event) -> list[Criterion] | None:
        rest = [e for e in events if e is not index_ev]
        if index_ev.count == Count("at_least", 1):
            index_ev.count = None  # 'at least one X' is what an index event is anyway
        if index_ev.count is not None:
            # 'at least twice during 2024': the count is meant within the period, so the counting rule
            # carries the index's calendar range (Criterion.date_range) as well as the index does
            occ = index_ev.count
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
                window=EventWindow(None, None, same_visit=False),
                anchor="index",
                date=index_ev.date,
                index_count=True,
                text=["count"],  # what a clarification about it calls it when it names no mention
            )
            self.domain[id(count_ev)] = self.domain[id(index_ev)]
            index_ev.count = None
            rest.insert(0, count_ev)
            count = self.t(f"{occ.type.replace('_', ' ')} {occ.n}", f"{occ.n}회")
            if count_ev.date is not None:
                self.notes.append(self.say("index_count_in_period", count=count, period=count_ev.date.text))
            else:
                self.notes.append(self.say("index_count", count=count))
        vacuous: list[Event] = []
        for e in rest:
            if (
                e.negated
                and e.kind in ("diagnosis", "drug", "procedure", "lab")
                and not (e.names_something() or e.value is not None)
            ):
                # '진단 당시 … 제외', 'no diagnosis': a kind of event alone would exclude everyone with any
                # diagnosis (drug, procedure, test) at all, never what a question means
                self.problems.append(Problem(self.say("exclude_what"), e.describe()))
            nameless = (
                not e.negated
                and e.kind in ("diagnosis", "drug", "procedure", "lab")
                and not (e.names_something() or e.value is not None)
            )
            if (
                nameless
                and e.count is None
                and not any(w.lower() in ("any", "all") for w in e.text)
                and not any(x.anchor is e for x in events)
            ):
                if self.restates_index(e, index_ev):
                    # 'the same day they were dx'd', 'after the bleed was diagnosed', '투약 당시': the index
                    # event said again, which every index event satisfies; no rule
                    vacuous.append(e)
                else:
                    # 'using the start date of the CT' ('using' is a drug verb): a kind of event that names
                    # nothing would be every drug (diagnosis …) of the person; only 'any drug' means that
                    self.problems.append(Problem(self.say("name_what", event=e.describe()), e.describe()))
            if nameless and e.count is not None:
                # '요로감염(N39.0)으로 1년 안에 3번 이상 진단된': a count of a kind of event that names
                # nothing counts the index's own concept when the index is that kind; any other reading would
                # count every diagnosis (drug, procedure, test) of the person
                if self.kind_of(index_ev) == e.kind and (index_ev.terms or index_ev.quotes):
                    e.terms, e.quotes = list(index_ev.terms), list(index_ev.quotes)
                    self.domain[id(e)] = self.domain[id(index_ev)]
                else:
                    self.problems.append(Problem(self.say("count_what", event=e.describe()), e.describe()))
            if e.negated and e.count is not None and e.count.type == "at_least" and e.count.n <= 1:
                e.count = None  # '한 번이라도 처방받은 환자는 제외', 'never even once': none at all
            # 'heart failure first diagnosed within 30 days after the echo': the first-ever event, placed
            # by its window (Criterion.first_occurrence); with no window it would start the cohort
            if e.first and (e.window is None or e.count is not None or e.negated):
                self.problems.append(
                    Problem(
                        self.say("first_not_index", event=e.describe()),
                        e.describe(),
                    )
                )
            if e.negated and e.count is not None:
                self.problems.append(
                    Problem(
                        self.say("negated_count", event=e.describe()),
                        e.describe(),
                    )
                )
        rest = [e for e in rest if all(e is not v for v in vacuous)]
        ordered = self.order(rest)
        labels: dict[int, str] = {}
        used: set[str] = set()
        out: list[Criterion] = []
        for e in ordered:
            base = f"{self.kind_of(e)}_count" if e.index_count else self.kind_of(e)
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
                    self.problems.append(Problem(self.say("window_anchor_unplaced")))
                    continue
                anchor = labels[id(e.anchor)]
            w = e.window
            anchor_ev = e.anchor if isinstance(e.anchor, Event) else index_ev
            if (
                w is not None
                and w.same_visit
                and Domain.death in (self.domain.get(id(e)), self.domain.get(id(anchor_ev)))
            ):
                self.problems.append(
                    Problem(
                        self.say("death_no_visit"),
                        e.describe(),
                    )
                )
                continue
            if w is None:
                window = Window(start=None, end=-1) if e.prior else Window()
                if not e.prior and not e.negated and not e.index_count and e.group is None:
                    self.notes.append(self.say("no_time_relation", event=e.describe()))
            elif e.prior and w.start is None and w.end == 0 and not w.same_visit:
                # 'history of MI before clopidogrel', '처방 전에 심근경색 병력': a history is never the
                # anchor's own day, as a bare 'history of' is not (..-1)
                window = Window(start=None, end=-1, anchor=anchor)
            else:
                window = Window(start=w.start, end=w.end, anchor=anchor, same_visit=w.same_visit)
            if e.negated:
                occurrence = Occurrence(type="exactly", count=0)
            elif e.count is not None:
                occurrence = Occurrence(type=e.count.type, count=max(int(e.count.n), 0))
            else:
                occurrence = Occurrence()
            try:
                # 'no admission from 2022 on', 'a head CT in 2023': an event's own calendar dates
                period = e.date.data_as(DateData) if e.date is not None else None
                out.append(
                    Criterion(
                        **fields,
                        label=labels[id(e)],
                        window=window,
                        occurrence=occurrence,
                        date_range=DateRange(start=period.start, end=period.end) if period else None,
                        first_occurrence=e.first,
                    )
                )
            except ValidationError as err:
                msg = "; ".join(x["msg"].removeprefix("Value error, ") for x in err.errors())
                self.problems.append(
                    Problem(
                        self.say("rule_does_not_fit", event=e.describe(), msg=msg),
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
                        self.say("request_anchor_not_rule", what=what),
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
        if w.same_visit:
            self.problems.append(
                Problem(
                    self.say("request_same_visit"),
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
                        self.say("request_anchor_no_rule", event=ev.anchor.describe()),
                        ev.anchor.describe(),
                    )
                )
                return False, None
            anchor = label
        return True, Window(start=w.start, end=w.end, anchor=anchor)

    def as_study(self, e: Event) -> None:
        """'export their coronary angiograms': a procedure named as images to return is its study."""
        studies = [STUDY_OF_PROCEDURE.get(t.said) for t in e.terms]
        if not studies or e.modalities or any(s is None or s != studies[0] for s in studies):
            return
        e.modalities, e.body_parts = list(studies[0][0]), list(studies[0][1])  # type: ignore[index]
        e.terms = []
        e.kind = "imaging"
        self.domain[id(e)] = Domain.imaging

    def imaging_request(self, outputs: list[Event], index_ev: Event) -> ImagingRequest | None:
        """The requested imaging events → one ``ImagingRequest`` (modalities × body parts, one window)."""
        if not outputs:
            return None
        shown = " / ".join(f"“{t.strip()}”" for e in outputs for t in (e.text or [e.describe()]) if t.strip())
        windows: list[Window | None] = []
        ok = True
        for e in outputs:
            what = " ".join(e.text).strip() or e.describe()
            self.as_study(e)
            if self.domain.get(id(e)) is not Domain.imaging or e.terms or e.name_mode or e.value is not None:
                self.problems.append(
                    Problem(
                        self.say("request_not_imaging", event=e.describe()),
                        e.describe(),
                    )
                )
                ok = False
                continue
            if e.negated or e.count is not None or e.first:
                self.problems.append(
                    Problem(
                        self.say("request_modifiers", what=what),
                        what,
                    )
                )
                ok = False
                continue
            if e.date is not None:
                self.problems.append(
                    Problem(
                        self.say("request_dates"),
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
                    self.say("request_windows_differ", shown=shown),
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

        any_mod: list[str | None] = [None]
        pairs = [(m, b) for m in (modalities or any_mod) for b in (parts or any_mod)]
        if not all(any(covers(shot, m, b) for shot in shots) for m, b in pairs):
            mods_s, parts_s = "/".join(modalities), "/".join(parts)
            self.problems.append(
                Problem(
                    self.say("request_pairs", mods=mods_s, parts=parts_s, shown=shown),
                    shown,
                    self.readings("request_pairs", mods=mods_s, parts=parts_s),
                )
            )
            return None
        self.notes.append(self.say("request_note", shown=shown))
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
            if it.kind is ItemKind.sex:
                sexes.update(it.data_as(SexData).sexes)
            else:
                age = it.data_as(AgeData)
                if age.min is not None:
                    lo = age.min if lo is None else max(lo, age.min)
                if age.max is not None:
                    hi = age.max if hi is None else min(hi, age.max)
        if lo is not None and hi is not None and lo > hi:
            self.problems.append(Problem(self.say("ages_contradict", hi=hi, lo=lo)))
            return None
        return Demographics(sexes=sorted(sexes), age_min=lo, age_max=hi)  # type: ignore[arg-type]


_FILTER_FIELDS = set(EventFilter.model_fields)


def _what(event: EventFilter) -> dict[str, object]:
    """What an event filter selects, its mentions read as lexicon entries: 'Lantus (insulin glargine)' and
    'glargine' name one drug."""
    out = event.model_dump(include=_FILTER_FIELDS)
    out["concepts"]["terms"] = sorted(
        {e.key for t in event.concepts.terms for e in lookup(t)}
        | {t.lower() for t in event.concepts.terms if not lookup(t)}
    )
    return out


def washout_of(index: IndexEvent, criteria: list[Criterion]) -> Criterion | None:
    """The washout of the index event, if the rules hold one: no event of exactly the index's kind in a
    bounded lookback before it ('no amoxicillin in the 365 days before')."""
    mine = _what(index)
    return next(
        (
            c
            for c in criteria
            if c.occurrence.is_absence
            and c.window.anchor == "index"
            and c.window.start is not None
            and c.window.end is not None
            and c.window.end <= 0
            and _what(c) == mine
        ),
        None,
    )


_READMISSION = regex(r"re-?admi|re-?hospitali|재입원", re.IGNORECASE)


def said_once(criteria: list[Criterion]) -> list[Criterion]:
    """A rule said twice ('still alive a year later - i.e. no death in the 365 days after the dx') is one
    rule: a criterion equal to an earlier one in everything but its label goes, and rules anchored on it
    anchor on the earlier one (whose first matched event is the same)."""
    kept: dict[str, str] = {}  # the rule's content → its label
    renamed: dict[str, str] = {}
    out: list[Criterion] = []
    for c in _narrowed_in_place(criteria):
        if c.window.anchor in renamed:
            c = c.model_copy(
                update={"window": c.window.model_copy(update={"anchor": renamed[c.window.anchor]})}
            )
        key = c.model_dump_json(exclude={"label"})
        if key in kept:
            renamed[c.label] = kept[key]
            continue
        kept[key] = c.label
        out.append(c)
    return out


def _narrowed_in_place(criteria: list[Criterion]) -> list[Criterion]:
    """'심근경색으로 입원한 뒤 30일 안에 사망한 … 심근경색 진단일에 입원한 경우로 봐 주세요': an event named
    at any time and again with days from the index (the same rule otherwise) is one event, the second
    saying which: the rule at any time (which the narrower one implies) goes, the narrower one takes its
    place, and rules anchored on it anchor on the narrower one."""

    def content(c: Criterion) -> str:
        return c.model_dump_json(exclude={"label", "window"})

    out = list(criteria)
    for wide in criteria:
        w = wide.window
        any_time = (w.start, w.end, w.anchor, w.same_visit) == (None, None, "index", False)
        if not any_time or wide.occurrence != Occurrence():
            continue
        narrow = [
            c
            for c in out
            if c is not wide
            and content(c) == content(wide)
            and c.window.anchor == "index"
            and not c.window.same_visit
            and (c.window.start, c.window.end) != (None, None)
        ]
        if len(narrow) != 1 or wide not in out:
            continue
        keep = narrow[0]
        out.remove(keep)
        out[out.index(wide)] = keep
        out = [
            c.model_copy(update={"window": c.window.model_copy(update={"anchor": keep.label})})
            if c.window.anchor == wide.label
            else c
            for c in out
        ]
    return out


def another_of_the_same(index: IndexEvent, criteria: list[Criterion]) -> list[Criterion]:
    """'30일 내 재입원', 'back in the ER within 30 days', 'no amoxicillin in the 365 days before (the
    amoxicillin)': an event of exactly the kind of its anchor, in a window around it, is *another* one —
    the anchor is never its own readmission or its own washout. The anchor is one of the events such a
    rule counts, so 'another within 0..N' is 'at least 2 within 0..N' (a second visit the same day counts,
    the anchor itself does not); an absence up to the anchor's day ends the day before (..-1), as a
    washout does."""
    filters = {"index": _what(index)} | {c.label: _what(c) for c in criteria}
    out: list[Criterion] = []
    for c in criteria:
        w = c.window
        same = filters.get(w.anchor) == filters[c.label] and not w.same_visit
        if same and c.occurrence.is_absence and w.end == 0 and w.start != 0:
            c = c.model_copy(update={"window": w.model_copy(update={"end": -1})})
        elif same and c.occurrence == Occurrence() and w.start == 0 and w.end != 0 and c.date_range is None:
            c = c.model_copy(update={"occurrence": Occurrence(type="at_least", count=2)})
        out.append(c)
    return out


def assemble(built: Built, lang: Lang, title: str) -> tuple[CohortSpec | None, list[Problem], list[str]]:
    a = Assembly(built, lang, title)
    spec = a.build()
    return spec, a.problems, list(dict.fromkeys(a.notes))
