"""English event grammar: recognised items → events, left to right.

English puts the event word first and its mention after it ("diagnosed with MI", "a surgery for
CAD"), clauses are introduced by "who/that/with", and a window names its anchor *after* itself
("7 to 14 days after the diagnosis"). The grammar keeps one *current* event; each item either
extends it or starts the next one (``STEPS``: one handler per item kind). Modifiers seen before their
event (a count, "first", a negation, a window) wait in ``Pending`` until that event starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cohort_engine.nlq.events import (
    Anchor,
    Built,
    Count,
    Event,
    EventWindow,
    Problem,
    Term,
    ValueCmp,
    broader_mention,
    same_mention,
)
from cohort_engine.nlq.items import (
    AnchorDayData,
    AskData,
    CompareData,
    ConjData,
    CountData,
    EventWordData,
    FirstData,
    Item,
    ItemKind,
    ModalityData,
    NameData,
    NumberData,
    PrepData,
    UnknownData,
    VerbData,
    WindowAnchor,
    WindowData,
)
from cohort_engine.nlq.messages import readings, say
from cohort_engine.nlq.stop_words import STOP_WORDS
from cohort_engine.nlq.vocab import (
    EN_HINT_DRUG_OR_PROCEDURE_VERBS,
    EN_NAME_WORDS,
    EN_VAGUE_NOUNS,
    KIND_DOMAIN,
    VISIT_KINDS,
)

EVENT_STARTERS = {
    ItemKind.event,
    ItemKind.term,
    ItemKind.modality,
    ItemKind.unknown,
    ItemKind.verb,
    ItemKind.first,
    ItemKind.name,
    ItemKind.quote,
    ItemKind.prior,
}


@dataclass
class Pending:
    neg: bool = False
    count: Count | None = None
    first: bool = False
    prior: bool = False
    window: tuple[EventWindow, Anchor] | None = None
    date: Item | None = None
    same_visit_with: Event | None = None


@dataclass
class AnchorPhrase:
    """The words after 'after/before/of' that name what a window is measured from."""

    window: WindowData
    target: Event | None
    pos: int
    items: list[Item] = field(default_factory=list)


def occurrence_of(op: str, n: int) -> Count | None:
    """'at least 2' → at_least 2; 'more than 2' → at_least 3; 'fewer than 2' → at_most 1."""
    return {
        ">=": Count("at_least", n),
        ">": Count("at_least", n + 1),
        "<=": Count("at_most", n),
        "<": Count("at_most", max(n - 1, 0)),
        "=": Count("exactly", n),
    }.get(op)


def plausible_mention(text: str) -> bool:
    """An unknown phrase may be a clinical name the mart knows ('sarcoidosis'), but not 'the thing we
    talked about': pronouns, other function words and vague nouns make it a question to ask back."""
    words = [w for w in text.lower().replace("-", " ").split() if w]
    return bool(words) and not any(
        (w in STOP_WORDS and w not in EN_NAME_WORDS) or w in EN_VAGUE_NOUNS for w in words
    )


def compatible(kind: str | None, term: Term) -> bool:
    """Can an event word of this kind take this mention? ('surgery' takes a disease: done *for* it.)"""
    if kind is None or not term.domains:
        return True
    domain = KIND_DOMAIN[kind].value
    if domain in term.domains:
        return True
    return kind in ("surgery", "procedure", "drug") and "condition" in term.domains


class EnglishGrammar:
    def __init__(self, items: list[Item]) -> None:
        self.items = [it for it in items if it.kind is not ItemKind.filler]
        # where 'both' / 'each of' was said: a date after the list that follows is each member's
        self.both_at = [
            it.start for it in items if it.kind is ItemKind.filler and it.text.lower() in ("both", "each")
        ]
        # 'hypertension, hyperlipidemia and diabetes all diagnosed before 2021': after the list, the same
        self.all_at = [it.start for it in items if it.text.lower() in ("all", "both", "each")]
        self.events: list[Event] = []
        self.cur: Event | None = None
        self.pend = Pending()
        self.problems: list[Problem] = []
        self.demographics: list[Item] = []
        self.notes: list[str] = []
        self.anchor: AnchorPhrase | None = None
        # the event an anchor phrase named last, and where ('… before the PCI and an LDL … before it')
        self.named_anchor: tuple[Event, int] | None = None
        self.led: Event | None = None  # the event a window said before it went to ('on that day, A and B')
        self.last_prep: str | None = None
        self.last_verb: str | None = None
        self._groups = 0
        self.requesting = False  # inside an imaging output request ('…; give me their CT scans …')

    def ask(
        self, code: str, span: str | None = None, choices: list[str] | None = None, **values: object
    ) -> None:
        self.problems.append(Problem(say(code, "en", **values), span, choices or []))

    # ------------------------------------------------------------ helpers
    def _next(self, i: int) -> Item | None:
        """The next item, looking past prepositions ('at least 6 cycles *of* chemotherapy')."""
        for it in self.items[i + 1 :]:
            if it.kind is not ItemKind.prep:
                return it
        return None

    def close(self) -> None:
        self.cur = None

    def new_event(self, pos: int, kind: str | None = None) -> Event:
        prev = self.cur
        if prev is not None and prev.conj == "or" and prev.has_content():
            # 'received alteplase or underwent thrombectomy': 'or' between two events, which no set of
            # rules says (every rule is required); read on, it would silently become 'and'
            self.ask("or_between_events", prev.describe(), event=prev.describe())
            prev.conj = None
        self.close()
        ev = Event(pos=pos, request=self.requesting)
        if prev is not None and prev.conj == "and" and prev.has_content():
            ev.and_of = prev
        if kind:
            ev.set_kind(kind)
        p = self.pend
        ev.negated, ev.count, ev.first, ev.prior = p.neg, p.count, p.first, p.prior
        ev.prior_said = p.prior
        if p.window:
            ev.window, ev.anchor = p.window
            self.led = ev
        if p.same_visit_with is not None:
            ev.window, ev.anchor = EventWindow(None, None, same_visit=True), p.same_visit_with
        if p.date:
            ev.date = p.date
        self.pend = Pending()
        self.events.append(ev)
        self.cur = ev
        return ev

    def sibling(self, cur: Event, term: Term | None, pos: int) -> Event:
        """'diabetes and hypertension': a second event like the first, both required."""
        if cur.group is None:
            self._groups += 1
            cur.group = self._groups
        ev = Event(
            pos=pos,
            group=cur.group,
            negated=cur.negated,
            prior=cur.prior,
            name_mode=cur.name_mode,
            name_kind=cur.name_kind,
            request=self.requesting,
        )
        # 'amoxicillin and clavulanate': an unknown mention joined to known ones is probably the same kind
        doms = {d for t in cur.terms if t.known for d in t.domains}
        ev.hint = cur.hint or (next(iter(doms)) if len(doms) == 1 else None)
        if cur.kind and (term is None or compatible(cur.kind, term)):
            ev.set_kind(cur.kind)
        p = self.pend  # 'MI and a prior stroke': what stood between 'and' and the mention is this event's
        ev.prior, ev.first, ev.count = ev.prior or p.prior, p.first, p.count
        ev.prior_said = p.prior
        p.prior, p.first, p.count = False, False, None
        if term is not None:
            ev.terms.append(term)
        if self.led is not None and self.led is self.group_first(cur) and cur.window is not None:
            # 'on the day of that diagnosis, the systolic … and the diastolic …': a window said before a
            # list is every member's
            ev.window, ev.anchor = cur.window, cur.anchor
        self.events.append(ev)
        self.cur = ev
        return ev

    def group_first(self, ev: Event) -> Event:
        if ev.group is None:
            return ev
        return next(e for e in self.events if e.group == ev.group)

    def previous_event(self, before: Event | None) -> Anchor:
        evs = [e for e in self.events if e is not before and not e.negated]
        if before is not None and before in self.events:
            evs = [e for e in self.events[: self.events.index(before)] if not e.negated]
        return evs[-1] if evs else "index"

    def attach_window(self, target: Event | None, data: WindowData, anchor: Anchor) -> None:
        w = EventWindow(data.start, data.end, data.same_visit, data.weak)
        if target is None:
            if self.pend.window is not None and not self.pend.window[0].weak:
                self.ask("two_windows_one_event", data.text)
            self.pend.window = (w, anchor)
            return
        if target.window is not None and target.window.weak:
            target.window = None
        if target.window is not None:
            self.ask("two_windows_one_event", data.text)
            return
        members = [e for e in self.events if target.group is not None and e.group == target.group] or [
            *self.joined_before(target, anchor),
            target,
        ]
        for e in members:
            if e is anchor:
                continue  # 'a colectomy and a CEA within 30 days before the operation': not the anchor itself
            if e is not target and (e.prior_said and not target.prior_said or e.first and not target.first):
                # 'a prior diagnosis of DM, and an acute MI in the 14 days before the bypass': 'prior'
                # already says when the DM was; the window is the MI's ('first ever E11 dx' alike)
                continue
            if e.window is None or e.window.weak:  # 'then both A and B within 7 days': both get the window
                e.window, e.anchor = replace(w), anchor

    def joined_before(self, target: Event, anchor: Anchor) -> list[Event]:
        """'who had a PCI and an echo within 30 days after the diagnosis': a window after two events of
        different kinds joined by 'and' is both's, as it is for two of one kind ('aspirin and clopidogrel
        within 30 days'); read as the last one's alone, the PCI came back at any time. Not the cohort's
        first event (the index, 'MI and a PCI within 7 days'), an event with a time, count or 'first' of its
        own, a negated one, or a death ('had a PCI and died within 30 days' is a sequence)."""
        before = target.and_of
        if (
            before is None
            or not before.names_something()
            or before is anchor
            or not self.events
            or before is self.events[0]
            or before.window is not None
            or before.date is not None
            or before.count is not None
            or before.negated
            or target.negated
            or before.first
            or before.prior_said
            or before.request
            or "death" in (before.kind, target.kind)
        ):
            return []
        return [before]

    def measurementish(self, ev: Event) -> bool:
        if ev.kind in ("lab", "pathology", "observation"):
            return True
        if ev.kind is None and ev.terms:
            return any("measurement" in t.domains or "observation" in t.domains for t in ev.terms) or all(
                not t.known for t in ev.terms
            )
        return False

    # ------------------------------------------------------------ anchor phrases
    def finish_anchor(self) -> None:
        ap, self.anchor = self.anchor, None
        if ap is None:
            return
        anchor = self.anchor_event(ap)
        self.attach_window(ap.target, ap.window, anchor)

    def anchor_event(self, ap: AnchorPhrase) -> Anchor:
        items = ap.items
        if not items:
            return "index"
        if any(it.kind is ItemKind.index_ref for it in items):
            return "index"
        if all(it.kind in (ItemKind.pronoun, ItemKind.boundary) for it in items):
            before = self.previous_event(ap.target)
            named = self.named_anchor
            if (
                named is not None
                and named[0] is not ap.target
                and not named[0].negated
                and (before == "index" or (isinstance(before, Event) and named[1] > before.pos))
            ):
                # 'an echo within 30 days before the PCI and an LDL within 90 days before it': 'it' is the
                # PCI, the last event named, not the echo
                return named[0]
            return before
        probe = Event(pos=items[0].start, request=self.requesting)
        for it in items:
            if it.kind is ItemKind.event:
                probe.set_kind(it.data_as(EventWordData).kind)
            elif it.kind in (ItemKind.term, ItemKind.unknown, ItemKind.quote):
                probe.terms.append(Term.of(it))
            elif it.kind is ItemKind.modality:
                shot = it.data_as(ModalityData)
                probe.modalities += shot.modalities
                probe.body_parts += shot.body_parts
                probe.set_kind("imaging")
            elif it.kind is ItemKind.first:
                probe.first = True
            elif it.kind is ItemKind.date:
                probe.date = it
            elif it.kind is ItemKind.compare:
                probe.value = ValueCmp.of(it.data_as(CompareData))
                probe.set_kind(probe.kind or "lab")
            probe.text.append(it.text)
        # an anchor with a value of its own is a new event, never a reference to a measurement named before
        existing = None if probe.value is not None else self.find_existing(probe, exclude=ap.target)
        if existing is not None:
            if probe.date is not None:
                if existing.date is None:
                    existing.date = probe.date
                else:
                    self.ask("two_dates_anchor", probe.date.text)
            if probe.first:
                existing.first = True
            self.named_anchor = (existing, items[0].start)
            return existing
        if not probe.has_content():
            return "index"
        probe.introduced = True
        self.events.append(probe)
        return probe

    def find_existing(self, probe: Event, exclude: Event | None) -> Event | None:
        """'the diagnosis', 'the surgery', 'the MI': an event already described in the sentence."""
        for e in self.events:
            if e is exclude or e.negated:
                continue
            same_kind = probe.kind is None or e.kind is None or KIND_DOMAIN[probe.kind] == KIND_DOMAIN[e.kind]
            if probe.kind and e.kind is None and e.terms:
                same_kind = any(
                    compatible(probe.kind, t) and KIND_DOMAIN[probe.kind].value in t.domains for t in e.terms
                )
            want = probe.terms
            if want and same_kind and all(any(same_mention(t, u) for u in e.terms) for t in want):
                return e
            if not want and probe.kind and same_kind and (e.kind or e.terms):
                return e
            if not want and probe.modalities and e.modalities and set(probe.modalities) & set(e.modalities):
                return e
        if probe.terms and probe.kind:
            # 'gastric cancer … after the cancer diagnosis': a broader word for one event named before
            broader = [
                e
                for e in self.events
                if e is not exclude
                and not e.negated
                and (e.kind is None or KIND_DOMAIN[e.kind] == KIND_DOMAIN[probe.kind])
                and all(any(broader_mention(t, u) for u in e.terms) for t in probe.terms)
            ]
            if len(broader) == 1:
                return broader[0]
        return None

    def feed_anchor(self, it: Item) -> bool:
        """True when the item belongs to the open anchor phrase."""
        ap = self.anchor
        assert ap is not None
        k = it.kind
        has = [x for x in ap.items if x.kind in ANCHOR_CONTENT]
        if k in ANCHOR_WORDS:
            if (
                k in (ItemKind.term, ItemKind.unknown)
                and ap.items
                and ap.items[-1].kind in (ItemKind.term, ItemKind.unknown)
                and ap.items[-1].kind is not ItemKind.conj
            ):
                return False
            ap.items.append(it)
            return True
        if k is ItemKind.event:
            if any(x.kind is ItemKind.event for x in ap.items):
                return False
            if it.data_as(EventWordData).pos == "verb" and any(
                x.kind in (ItemKind.term, ItemKind.unknown) for x in ap.items
            ):
                return False
            ap.items.append(it)
            return True
        if (
            k is ItemKind.verb
            and has
            and it.text.lower() in ("was", "were", "is", "are")
            and self.items.index(it) + 1 < len(self.items)
            and self.items[self.items.index(it) + 1].kind is ItemKind.compare
        ):
            return True  # '… as a day when the glucose was above 200': the copula before the anchor's value
        if k is ItemKind.compare and has and ap.items[-1].kind in (ItemKind.term, ItemKind.unknown):
            ap.items.append(it)  # 'on the same day as a hemoglobin under 10 g/dL': the anchor's own value
            return True
        if k is ItemKind.date and has:
            ap.items.append(it)
            return True
        if k is ItemKind.prep and it.data_as(PrepData).word in ("of", "for", "with") and has:
            return True
        if k is ItemKind.boundary and it.text.lower() == "that" and not has:
            ap.items.append(Item(ItemKind.pronoun, it.text, it.start, it.end))
            return True
        if k is ItemKind.conj and has and self.or_list_goes_on(self.items.index(it)):
            ap.items.append(it)
            return True
        return False

    def or_list_goes_on(self, i: int) -> bool:
        """Does the conjunction at ``i`` go on with names of an either-or list: 'or B', ', B or C', ', B, C,
        or D'? An anchor after 'after' or 'of' may be such a list ('died within 7 days after a CABG,
        gastrectomy or colectomy'); a comma before anything else ends the anchor."""
        names = (ItemKind.term, ItemKind.unknown)
        seq = self.items[i:]
        if seq[0].data_as(ConjData).op == "or":
            return len(seq) > 1 and seq[1].kind in names
        j = 0
        while j + 1 < len(seq) and seq[j].kind is ItemKind.conj:
            op = seq[j].data_as(ConjData).op
            if op == "," and seq[j + 1].kind is ItemKind.conj:
                j += 1  # ', or D'
                continue
            if seq[j + 1].kind not in names:
                return False
            if op == "or":
                return True
            if op != ",":
                return False
            j += 2
        return False

    # ------------------------------------------------------------ main loop
    def run(self) -> Built:
        for i, it in enumerate(self.items):
            if self.anchor is not None:
                if self.feed_anchor(it):
                    continue
                self.finish_anchor()
            self.step(i, it)
        if self.anchor is not None:
            self.finish_anchor()
        p = self.pend
        if p.neg or p.count or p.first or p.window:
            self.ask("modifier_without_event")
        return Built(self.events, self.demographics, self.problems, self.notes, p.date)

    def step(self, i: int, it: Item) -> None:
        """One item: its kind's handler in ``STEPS`` (kinds without one, such as pronouns, only end a
        preposition's reach). A preposition is remembered for the next item only."""
        handler = STEPS.get(it.kind)
        if handler is not None:
            handler(self, it, self._next(i))
        if it.kind is not ItemKind.prep:
            self.last_prep = None

    # ------------------------------------------------------------ one handler per item kind
    def demographic(self, it: Item, nxt: Item | None) -> None:
        self.demographics.append(it)

    def unclear(self, it: Item, nxt: Item | None) -> None:
        """Vague words, unreadable dates and windows: asked back with the recogniser's readings."""
        d = it.data_as(AskData)
        q = d.reason or say(
            "visit_end_unsupported" if d.what == "unsupported" else "vague_word", "en", text=it.text
        )
        self.problems.append(Problem(q, it.text, list(d.choices)))

    def boundary(self, it: Item, nxt: Item | None) -> None:
        self.close()

    def request(self, it: Item, nxt: Item | None) -> None:
        """The images to return start (or end) here."""
        self.close()
        self.requesting = it.kind is ItemKind.request

    def prep(self, it: Item, nxt: Item | None) -> None:
        self.last_prep = it.data_as(PrepData).word

    def conj(self, it: Item, nxt: Item | None) -> None:
        if self.cur is not None:
            self.cur.conj = it.data_as(ConjData).op

    def neg(self, it: Item, nxt: Item | None) -> None:
        cur = self.cur
        if cur is not None and not cur.has_content() and not cur.negated:
            cur.negated = True
        else:
            if cur is not None:
                self.close()
            self.pend.neg = True

    def prior(self, it: Item, nxt: Item | None) -> None:
        cur = self.cur
        if cur is not None and not cur.terms and not cur.kind and not cur.modalities:
            cur.prior = cur.prior_said = True
        else:
            self.pend.prior = True

    def first(self, it: Item, nxt: Item | None) -> None:
        if it.text.lower() == "first" and (nxt is None or nxt.kind in (ItemKind.conj, ItemKind.window)):
            return  # 'stroke first, then alteplase': the order the rules say, no first-ever event
        cur = self.cur
        # 'warfarin, first-ever. Inclusion rule 1: INR …', 'warfarin (first ever) with an INR …': said after
        # its event with no event after it, it is that event's (never the next rule's)
        trailing = (
            cur is not None
            and cur.has_content()
            and re.search(r"ever|occurrence|time|earliest", it.text, re.IGNORECASE) is not None
            and (
                nxt is None
                or nxt.kind not in (ItemKind.term, ItemKind.unknown, ItemKind.event, ItemKind.modality)
            )
        )
        if cur is not None and (it.data_as(FirstData).post or not cur.has_content() or trailing):
            cur.first = True
        else:
            self.pend.first = True

    def count(self, it: Item, nxt: Item | None) -> None:
        cur = self.cur
        d = it.data_as(CountData)
        occ = Count.of(d)
        if cur is not None and (d.post or not cur.has_content()):
            cur.count = occ
        else:
            self.pend.count = occ

    def verb(self, it: Item, nxt: Item | None) -> None:
        cur = self.cur
        d = it.data_as(VerbData)
        self.last_verb = it.text.lower().split()[-1]
        slot = it.text.lower() in ("with", "for") and cur is not None and bool(cur.kind) and not cur.terms
        # 'died in 2024 with a prior history of cancer', 'deaths among people with any cancer': the people's
        # other events; a cause of death is said as 'died of/from X'
        slot = slot and cur is not None and cur.kind != "death"
        if slot and nxt is not None and nxt.kind is ItemKind.event and cur is not None:
            # 'ER visits in 2023 with another ER visit within 7 days': a second visit, not the first's reason
            slot = nxt.data_as(EventWordData).kind != cur.kind
        # 'a pathology result showing …', 'a CT revealing …': the finding belongs to the same event
        slot = slot or (d.finding and cur is not None and cur.kind in ("pathology", "imaging", "lab"))
        slot = slot or (d.participle and cur is not None and bool(cur.terms) and cur.conj is None)
        # 'admissions that started in 2023': when the event named just before took place, not a new event
        slot = slot or (
            cur is not None
            and cur.has_content()
            and nxt is not None
            and nxt.kind is ItemKind.date
            and self.last_verb in ("started", "began", "occurred", "happened")
        )
        if not (slot or (cur is not None and not cur.has_content() and not cur.window)):
            self.new_event(it.start)

    def exclusive(self, it: Item, nxt: Item | None) -> None:
        """'(not counting the procedure day)': the anchor's own day leaves the window; '(counting the
        diagnosis day itself)' puts it in (a window already holding it is left as it is)."""
        target = next((e for e in reversed(self.events) if e.window is not None), None)
        w = target.window if target is not None else (self.pend.window[0] if self.pend.window else None)
        if it.data_as(AnchorDayData).keep:
            if w is not None and w.end == -1 and w.start != 0:
                w.end = 0
            elif w is not None and w.start == 1 and w.end != 0:
                w.start = 0
            return
        if w is None or (w.end != 0 and w.start != 0):
            self.ask("exclusive_which", it.text, text=it.text)
            return
        if w.end == 0:
            w.end = -1
        else:
            w.start = 1

    def compare(self, it: Item, nxt: Item | None) -> None:
        cur = self.cur
        d = it.data_as(CompareData)
        if cur is not None and self.measurementish(cur) and cur.value is None:
            cur.value = ValueCmp.of(d)
            if cur.kind is None:
                cur.set_kind("lab")
            return
        whole = float(d.value).is_integer() and not d.unit and d.op != "between"
        if whole and nxt is not None and nxt.kind in EVENT_STARTERS:
            occ = occurrence_of(d.op, int(d.value))
            if cur is not None and not cur.has_content():
                cur.count = occ
            else:
                self.pend.count = occ
            return
        self.ask("compare_unplaced", it.text, text=it.text)

    def number(self, it: Item, nxt: Item | None) -> None:
        d = it.data_as(NumberData)
        n = d.value
        if (
            float(n).is_integer()
            and not d.unit
            and nxt is not None
            and nxt.kind in EVENT_STARTERS - {ItemKind.verb}
        ):
            # '0 admissions' is none at all, never the empty rule 'at least 0'
            occ = Count("exactly", 0) if n == 0 else Count("at_least", int(n))
            if n:
                self.notes.append(say("read_as_at_least", "en", text=it.text, n=int(n)))
            if self.cur is not None and not self.cur.has_content():
                self.cur.count = occ
            else:
                self.pend.count = occ
            return
        if self.cur is not None and self.measurementish(self.cur):
            self.ask(
                "number_threshold",
                it.text,
                list(readings("number_threshold", "en", text=it.text)),
                text=it.text,
            )
            return
        self.ask("number_unknown", it.text, text=it.text)

    def date(self, it: Item, nxt: Item | None) -> None:
        cur = self.cur
        if cur is not None and cur.has_content():
            target = self.group_first(cur)
            every = target is not cur and (
                self.said_both(target) or any(cur.pos < p < it.start for p in self.all_at)
            )
            if every and target.date is None:
                # 'both a cardiac MR and an echo were obtained in 2024', '… and diabetes all diagnosed before
                # 2021': the dates are every member's
                for e in self.events:
                    if e.group == target.group and e.date is None:
                        e.date = it
                return
            if cur.kind is not None and cur.kind != target.kind:
                # 'osteoarthritis and naproxen exposure during 2015': an event of another kind, said with its
                # own noun, keeps the dates said after it
                target = cur
            if target.date is None:
                target.date = it
                if target is not cur:
                    self.notes.append(say("dates_on_first_of_group", "en", text=it.text))
                return
            if target.date.data == it.data:
                return  # 'during the 1990s (1990–1999)': the same dates said again
            self.ask("two_dates_one_event", it.text)
            return
        if self.pend.date is not None:
            self.ask("two_dates", it.text)
        self.pend.date = it

    def said_both(self, first: Event) -> bool:
        """Was 'both' (or 'each') said just before the list that ``first`` starts, no event between?"""
        before = [e.pos for e in self.events if e.pos < first.pos]
        second = min(
            (e.pos for e in self.events if e.group == first.group and e is not first), default=first.pos
        )
        return any(b < second and all(p < b for p in before) for b in self.both_at)

    def window(self, it: Item, nxt: Item | None) -> None:
        cur = self.cur
        d = it.data_as(WindowData)
        target = (
            cur if cur is not None and cur.has_content() and (cur.window is None or cur.window.weak) else None
        )
        if d.anchor is WindowAnchor.follows:
            self.anchor = AnchorPhrase(d, target, it.start)
        elif d.anchor is WindowAnchor.previous:
            anchor = cur if cur is not None and cur.has_content() else self.previous_event(None)
            self.attach_window(None, d, anchor)
            self.close()  # 'then' starts the next event
        else:
            self.attach_window(target, d, "index")

    def name(self, it: Item, nxt: Item | None) -> None:
        kind = it.data_as(NameData).kind
        if kind is None:
            target = self.events[-1] if self.events else None
            if target is None:
                self.ask("name_whose", it.text)
                return
            target.name_mode, target.name_kind = True, target.kind
            self.cur = target
            return
        ev = self.new_event(it.start, kind)
        ev.name_mode, ev.name_kind = True, kind
        ev.text.append(it.text)

    def modality(self, it: Item, nxt: Item | None) -> None:
        cur = self.cur
        shot = it.data_as(ModalityData)
        mods, parts = shot.modalities, shot.body_parts
        joinable = (
            cur is not None
            and cur.conj != "and"
            and cur.kind in (None, "imaging", "procedure")
            and not cur.terms
            and (not cur.modalities or cur.conj == "or")
        )
        if joinable and cur is not None:
            ev = cur
        elif (
            cur is not None and cur.conj == "and" and cur.modalities
        ):  # 'an MRI and a CT': both, same modifiers
            ev = self.sibling(cur, None, it.start)
        else:
            ev = self.new_event(it.start)
        ev.kind = "imaging"  # 'underwent a coronary angiography': the imaging word says what it is
        ev.kinds_seen.append("imaging")
        ev.modalities += [m for m in mods if m not in ev.modalities]
        ev.body_parts += [b for b in parts if b not in ev.body_parts]
        ev.shots.append((tuple(mods), tuple(parts)))
        ev.text.append(it.text)
        ev.conj = None

    def event(self, it: Item, nxt: Item | None) -> None:
        d = it.data_as(EventWordData)
        kind, pos = d.kind, d.pos
        cur = self.cur
        if (
            self.last_prep in ("through", "via")
            and kind == "er_visit"
            and cur is not None
            and cur.kind == "admission"
        ):
            self.ask("admitted_via_er", it.text, list(readings("admitted_via_er", "en")), prep=self.last_prep)
            return
        if self.last_prep == "during" and kind in VISIT_KINDS and self.events:
            self.pend.same_visit_with = cur if cur is not None else self.events[-1]
            self.new_event(it.start, kind).text.append(it.text)
            return
        if (
            cur is not None
            and kind == "drug"
            and cur.kind is None
            and cur.terms
            and it.text.lower().startswith(("was ", "were ", "is ", "are ", "been "))
            and all(t.domains == {"procedure"} for t in cur.terms)
            and (nxt is None or nxt.kind not in (ItemKind.term, ItemKind.unknown, ItemKind.quote))
        ):
            cur.text.append(it.text)  # 'a transfusion of packed cells (99.04) was given': that procedure
            return
        if cur is not None and self.attachable(cur, kind, pos):
            cur.set_kind(kind)
            cur.text.append(it.text)
            cur.conj = None
            if self.pend.first:  # 'newly diagnosed … (first diagnosis ever)'
                cur.first, self.pend.first = True, False
            return
        self.new_event(it.start, kind).text.append(it.text)

    def attachable(self, cur: Event, kind: str, pos: str) -> bool:
        if cur.conj == "and":
            return False
        if (
            kind == "procedure"
            and pos == "verb"
            and cur.kind in ("imaging", "lab", "surgery", "procedure", "pathology")
        ):
            return True  # 'a CT performed in 2023
        if cur.kind is None:
            if cur.modalities:
                return kind == "imaging"
            if not cur.terms:
                return True
            if pos == "noun":
                return True
            return all(
                compatible(kind, t) and (not t.domains or KIND_DOMAIN[kind].value in t.domains)
                for t in cur.terms
            )
        same = KIND_DOMAIN[cur.kind] == KIND_DOMAIN[kind]
        if cur.kind in VISIT_KINDS and kind in VISIT_KINDS:
            return "visit" in (cur.kind, kind) or cur.kind == kind
        if same:
            return pos == "noun" or not cur.terms or cur.kind == kind
        return False

    def mention(self, it: Item, nxt: Item | None) -> None:
        term = Term.of(it)
        cur = self.cur
        if it.kind is ItemKind.unknown and not plausible_mention(it.text):
            self.ask("not_understood", it.text, text=it.text)
            return
        if it.kind is ItemKind.quote and cur is not None and cur.name_mode:
            cur.quotes.append(it.text)
            return
        if cur is not None and cur.kind != "imaging" and not cur.modalities:
            if cur.terms and cur.conj == "and":
                for listed in cur.comma_terms:
                    cur.terms.remove(listed)
                    self.sibling(cur, listed, it.start)
                    cur = self.cur or cur
                self.sibling(self.cur or cur, term, it.start)
                return
            other_kind = (
                cur.conj == ","
                and cur.terms
                and term.domains
                and all(t.domains and not (t.domains & term.domains) for t in cur.terms)
            )
            # 'ER patients with a troponin over 0.5': a visit takes diagnoses as its terms, never a test,
            # a drug or a procedure (those are events of their own)
            not_a_diagnosis = (
                cur.kind in VISIT_KINDS
                and term.known
                and bool(term.domains)
                and "condition" not in term.domains
            )
            # 'appendicitis dx, ceftriaxone given same day': a drug is never a diagnosis's concept
            wrong_kind = (
                cur.kind is not None
                and cur.kind not in VISIT_KINDS
                and term.known
                and bool(term.domains)
                and not compatible(cur.kind, term)
            )
            if (
                (not cur.terms or cur.conj in ("or", ","))
                and not other_kind
                and not not_a_diagnosis
                and not wrong_kind
            ):
                if cur.terms and cur.conj == ",":
                    cur.comma_terms.append(term)
                cur.terms.append(term)
                cur.conj = None
                if not term.known and not cur.kind and cur.hint is None:
                    cur.hint = self.hint_for_unknown()
                return
        before_noun = (
            nxt is not None and nxt.kind is ItemKind.event and nxt.data_as(EventWordData).pos == "noun"
        )  # 'sarcoidosis diagnosis'
        if (
            it.kind is ItemKind.unknown
            and not it.data_as(UnknownData).head
            and not before_noun
            and (cur is None or cur.has_content())
            and self.last_prep not in ("with", "for", "of", "on")
        ):
            self.ask("not_understood", it.text, text=it.text)
            return
        ev = self.new_event(it.start)
        ev.terms.append(term)
        if not term.known:
            ev.hint = self.hint_for_unknown()

    def hint_for_unknown(self) -> str | None:
        """What an unknown mention probably is, from the word before it: 'on X' is a drug, 'had X' a
        condition, 'received X' a drug or a procedure (asked back)."""
        if self.last_prep == "on":
            return "drug"
        if (self.last_verb or "") in EN_HINT_DRUG_OR_PROCEDURE_VERBS:
            return "drug_or_procedure"
        return None


Step = Callable[[EnglishGrammar, Item, Item | None], None]
# What each item kind does to the current event; a kind without a row changes nothing.
STEPS: dict[ItemKind, Step] = {
    ItemKind.age: EnglishGrammar.demographic,
    ItemKind.sex: EnglishGrammar.demographic,
    ItemKind.bad_date: EnglishGrammar.unclear,
    ItemKind.bad_window: EnglishGrammar.unclear,
    ItemKind.vague: EnglishGrammar.unclear,
    ItemKind.boundary: EnglishGrammar.boundary,
    ItemKind.request: EnglishGrammar.request,
    ItemKind.request_end: EnglishGrammar.request,
    ItemKind.prep: EnglishGrammar.prep,
    ItemKind.conj: EnglishGrammar.conj,
    ItemKind.neg: EnglishGrammar.neg,
    ItemKind.prior: EnglishGrammar.prior,
    ItemKind.first: EnglishGrammar.first,
    ItemKind.occurrence: EnglishGrammar.count,
    ItemKind.compare: EnglishGrammar.compare,
    ItemKind.number: EnglishGrammar.number,
    ItemKind.date: EnglishGrammar.date,
    ItemKind.window: EnglishGrammar.window,
    ItemKind.name: EnglishGrammar.name,
    ItemKind.modality: EnglishGrammar.modality,
    ItemKind.event: EnglishGrammar.event,
    ItemKind.verb: EnglishGrammar.verb,
    ItemKind.term: EnglishGrammar.mention,
    ItemKind.quote: EnglishGrammar.mention,
    ItemKind.unknown: EnglishGrammar.mention,
    ItemKind.exclusive: EnglishGrammar.exclusive,
}
# Items an open anchor phrase ('after *the first MI*') takes, and those that make it name something.
ANCHOR_WORDS = {
    ItemKind.term,
    ItemKind.unknown,
    ItemKind.quote,
    ItemKind.first,
    ItemKind.index_ref,
    ItemKind.pronoun,
    ItemKind.modality,
}
ANCHOR_CONTENT = {
    ItemKind.term,
    ItemKind.event,
    ItemKind.unknown,
    ItemKind.modality,
    ItemKind.index_ref,
    ItemKind.pronoun,
}


def build_en(items: list[Item]) -> Built:
    return EnglishGrammar(items).run()
