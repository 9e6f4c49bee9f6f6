"""English event grammar: recognised items → events, left to right.

English puts the event word first and its mention after it ("diagnosed with MI", "a surgery for
CAD"), clauses are introduced by "who/that/with", and a window names its anchor *after* itself
("7 to 14 days after the diagnosis"). The grammar keeps one *current* event; each item either
extends it or starts the next one. Modifiers seen before their event (a count, "first", a
negation, a window) wait in ``Pending`` until that event starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

from cohort_engine.nlq.events import Built, Event, Problem, Term, same_mention
from cohort_engine.nlq.text import Item
from cohort_engine.nlq.vocab import KIND_DOMAIN

VISIT_KINDS = {"admission", "er_visit", "visit", "outpatient"}
EVENT_STARTERS = {"event", "term", "modality", "unknown", "verb", "first", "name", "quote", "prior"}


@dataclass
class Pending:
    neg: bool = False
    count: dict[str, Any] | None = None
    first: bool = False
    prior: bool = False
    window: tuple[dict[str, Any], Event | str] | None = None
    date: Item | None = None
    same_visit_with: Event | None = None


@dataclass
class AnchorPhrase:
    """The words after 'after/before/of' that name what a window is measured from."""

    window: dict[str, Any]
    target: Event | None
    pos: int
    items: list[Item] = field(default_factory=list)


def occurrence_of(op: str, n: int) -> dict[str, Any] | None:
    """'at least 2' → at_least 2; 'more than 2' → at_least 3; 'fewer than 2' → at_most 1."""
    return {
        ">=": {"type": "at_least", "n": n},
        ">": {"type": "at_least", "n": n + 1},
        "<=": {"type": "at_most", "n": n},
        "<": {"type": "at_most", "n": max(n - 1, 0)},
        "=": {"type": "exactly", "n": n},
    }.get(op)


# Words that may sit inside a clinical name ('fracture of rib', 'concussion with no loss of consciousness').
NAME_WORDS = {
    "of",
    "with",
    "without",
    "in",
    "and",
    "to",
    "on",
    "due",
    "by",
    "or",
    "other",
    "not",
    "no",
    "type",
    "the",
    "a",
    "an",
    "at",
    "from",
    "for",
}
VAGUE_NOUNS = {
    "thing",
    "things",
    "stuff",
    "something",
    "anything",
    "everything",
    "disease",
    "illness",
    "problem",
    "problems",
    "issue",
    "issues",
    "one",
    "ones",
    "same",
    "usual",
    "that",
    "this",
    "those",
    "these",
}


def plausible_mention(text: str) -> bool:
    """An unknown phrase may be a clinical name the mart knows ('sarcoidosis'), but not 'the thing we
    talked about': pronouns, other function words and vague nouns make it a question to ask back."""
    words = [w for w in text.lower().replace("-", " ").split() if w]
    return bool(words) and not any(
        (w in STOP_WORDS and w not in NAME_WORDS) or w in VAGUE_NOUNS for w in words
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
        self.items = [it for it in items if it.kind != "filler"]
        self.events: list[Event] = []
        self.cur: Event | None = None
        self.pend = Pending()
        self.problems: list[Problem] = []
        self.demographics: list[Item] = []
        self.notes: list[str] = []
        self.anchor: AnchorPhrase | None = None
        self.last_prep: str | None = None
        self.last_verb: str | None = None
        self._groups = 0
        self.requesting = False  # inside an imaging output request ('…; give me their CT scans …')

    # ------------------------------------------------------------ helpers
    def _next(self, i: int) -> Item | None:
        """The next item, looking past prepositions ('at least 6 cycles *of* chemotherapy')."""
        for it in self.items[i + 1 :]:
            if it.kind != "prep":
                return it
        return None

    def close(self) -> None:
        self.cur = None

    def new_event(self, pos: int, kind: str | None = None) -> Event:
        self.close()
        ev = Event(pos=pos, request=self.requesting)
        if kind:
            ev.set_kind(kind)
        p = self.pend
        ev.negated, ev.count, ev.first, ev.prior = p.neg, p.count, p.first, p.prior
        if p.window:
            ev.window, ev.anchor = p.window
        if p.same_visit_with is not None:
            ev.window, ev.anchor = {"start": None, "end": None, "same_visit": True}, p.same_visit_with
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
        p.prior, p.first, p.count = False, False, None
        if term is not None:
            ev.terms.append(term)
        self.events.append(ev)
        self.cur = ev
        return ev

    def group_first(self, ev: Event) -> Event:
        if ev.group is None:
            return ev
        return next(e for e in self.events if e.group == ev.group)

    def previous_event(self, before: Event | None) -> Event | str:
        evs = [e for e in self.events if e is not before and not e.negated]
        if before is not None and before in self.events:
            evs = [e for e in self.events[: self.events.index(before)] if not e.negated]
        return evs[-1] if evs else "index"

    def attach_window(self, target: Event | None, data: dict[str, Any], anchor: Event | str) -> None:
        w = {
            "start": data["start"],
            "end": data["end"],
            "same_visit": data["same_visit"],
            "weak": data.get("weak", False),
        }
        if target is None:
            if self.pend.window is not None and not self.pend.window[0].get("weak"):
                self.problems.append(
                    Problem("Two time windows were given for one event; which one applies?", data.get("text"))
                )
            self.pend.window = (w, anchor)
            return
        if target.window is not None and target.window.get("weak"):
            target.window = None
        if target.window is not None:
            self.problems.append(
                Problem("Two time windows were given for one event; which one applies?", data.get("text"))
            )
            return
        members = [e for e in self.events if target.group is not None and e.group == target.group] or [target]
        for e in members:
            if e.window is None:
                e.window, e.anchor = dict(w), anchor

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

    def anchor_event(self, ap: AnchorPhrase) -> Event | str:
        items = ap.items
        if not items:
            return "index"
        if any(it.kind == "index_ref" for it in items):
            return "index"
        if all(it.kind in ("pronoun", "boundary") for it in items):
            return self.previous_event(ap.target)
        probe = Event(pos=items[0].start, request=self.requesting)
        for it in items:
            if it.kind == "event":
                probe.set_kind(it.get("kind"))
            elif it.kind in ("term", "unknown", "quote"):
                probe.terms.append(Term.of(it))
            elif it.kind == "modality":
                probe.modalities += it.get("modalities", [])
                probe.body_parts += it.get("body_parts", [])
                probe.set_kind("imaging")
            elif it.kind == "first":
                probe.first = True
            elif it.kind == "date":
                probe.date = it
            probe.text.append(it.text)
        existing = self.find_existing(probe, exclude=ap.target)
        if existing is not None:
            if probe.date is not None:
                if existing.date is None:
                    existing.date = probe.date
                else:
                    self.problems.append(
                        Problem("Two date ranges were given for one event.", probe.date.text)
                    )
            if probe.first:
                existing.first = True
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
        return None

    def feed_anchor(self, it: Item) -> bool:
        """True when the item belongs to the open anchor phrase."""
        ap = self.anchor
        assert ap is not None
        k = it.kind
        has = [
            x for x in ap.items if x.kind in ("term", "event", "unknown", "modality", "index_ref", "pronoun")
        ]
        if k in ("term", "unknown", "quote", "first", "index_ref", "pronoun", "modality"):
            if (
                k in ("term", "unknown")
                and ap.items
                and ap.items[-1].kind in ("term", "unknown")
                and ap.items[-1].kind != "conj"
            ):
                return False
            ap.items.append(it)
            return True
        if k == "event":
            if any(x.kind == "event" for x in ap.items):
                return False
            if it.get("pos") == "verb" and any(x.kind in ("term", "unknown") for x in ap.items):
                return False
            ap.items.append(it)
            return True
        if k == "date" and has:
            ap.items.append(it)
            return True
        if k == "prep" and it.get("word") in ("of", "for", "with") and has:
            return True
        if k == "boundary" and it.text.lower() == "that" and not has:
            ap.items.append(Item("pronoun", it.text, it.start, it.end, {}))
            return True
        if k == "conj" and it.get("op") == "or" and has:
            nxt = self.items[self.items.index(it) + 1] if self.items.index(it) + 1 < len(self.items) else None
            if nxt is not None and nxt.kind in ("term", "unknown"):
                ap.items.append(it)
                return True
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
            self.problems.append(
                Problem(
                    "Part of the question does not say which event it is about "
                    "(a negation, count, 'first' or time window without an event)."
                )
            )
        return Built(self.events, self.demographics, self.problems, self.notes, p.date)

    def step(self, i: int, it: Item) -> None:
        k = it.kind
        cur = self.cur
        nxt = self._next(i)
        if k in ("age", "sex"):
            self.demographics.append(it)
        elif k in ("bad_date", "bad_window", "vague"):
            q = it.get("reason") or (
                f"Windows are measured from event start dates; “{it.text}” (the end of a visit) is not supported."
                if it.get("what") == "unsupported"
                else f"“{it.text}” is vague; what exactly do you mean?"
            )
            self.problems.append(Problem(q, it.text, list(it.get("choices", []))))
        elif k == "boundary":
            self.close()
        elif k in ("request", "request_end"):  # the images to return start (or end) here
            self.close()
            self.requesting = k == "request"
        elif k == "prep":
            self.last_prep = it.get("word")
            return
        elif k == "conj":
            if cur is not None:
                cur.conj = it.get("op")
        elif k == "neg":
            if cur is not None and not cur.has_content() and not cur.negated:
                cur.negated = True
            else:
                if cur is not None:
                    self.close()
                self.pend.neg = True
        elif k == "prior":
            if cur is not None and not cur.terms and not cur.kind and not cur.modalities:
                cur.prior = True
            else:
                self.pend.prior = True
        elif k == "first":
            if cur is not None and (it.get("post") or not cur.has_content()):
                cur.first = True
            else:
                self.pend.first = True
        elif k == "count":
            occ = {"type": it.get("type"), "n": it.get("n")}
            if cur is not None and (it.get("post") or not cur.has_content()):
                cur.count = occ
            else:
                self.pend.count = occ
        elif k == "compare":
            self.compare(it, nxt)
        elif k == "number":
            self.number(it, nxt)
        elif k == "date":
            self.date(it)
        elif k == "window":
            self.window(it)
        elif k == "name":
            self.name(it)
        elif k == "modality":
            self.modality(it)
        elif k == "event":
            self.event(it)
        elif k == "verb":
            self.last_verb = it.text.lower().split()[-1]
            slot = it.text.lower() in ("with", "for") and cur is not None and cur.kind and not cur.terms
            # 'a pathology result showing …', 'a CT revealing …': the finding belongs to the same event
            slot = slot or (
                bool(it.get("finding")) and cur is not None and cur.kind in ("pathology", "imaging", "lab")
            )
            slot = slot or (bool(it.get("participle")) and cur is not None and cur.terms and cur.conj is None)
            if not (slot or (cur is not None and not cur.has_content() and not cur.window)):
                self.new_event(it.start)
        elif k in ("term", "quote", "unknown"):
            self.mention(it, nxt)
        elif k in ("pronoun", "index_ref", "aside"):
            pass
        elif k == "exclusive":
            self.exclusive(it)
        self.last_prep = None

    def exclusive(self, it: Item) -> None:
        """'(not counting the procedure day)': the anchor's own day leaves the window."""
        target = next((e for e in reversed(self.events) if e.window is not None), None)
        w = target.window if target is not None else (self.pend.window[0] if self.pend.window else None)
        if w is None or (w.get("end") != 0 and w.get("start") != 0):
            self.problems.append(Problem(f"Which window does “{it.text}” change?", it.text))
            return
        if w.get("end") == 0:
            w["end"] = -1
        else:
            w["start"] = 1

    def compare(self, it: Item, nxt: Item | None) -> None:
        cur = self.cur
        d = it.data
        value = {"op": d["op"], "value": d["value"], "high": d.get("high"), "unit": d.get("unit")}
        if cur is not None and self.measurementish(cur) and cur.value is None:
            cur.value = value
            if cur.kind is None:
                cur.set_kind("lab")
            return
        whole = float(d["value"]).is_integer() and not d.get("unit") and d["op"] != "between"
        if whole and nxt is not None and nxt.kind in EVENT_STARTERS:
            occ = occurrence_of(d["op"], int(d["value"]))
            if cur is not None and not cur.has_content():
                cur.count = occ
            else:
                self.pend.count = occ
            return
        self.problems.append(
            Problem(
                f"I could not tell what “{it.text}” applies to (a lab value needs a test, "
                "e.g. 'HbA1c above 7%').",
                it.text,
            )
        )

    def number(self, it: Item, nxt: Item | None) -> None:
        n = it.get("value")
        if (
            float(n).is_integer()
            and not it.get("unit")
            and nxt is not None
            and nxt.kind in EVENT_STARTERS - {"verb"}
        ):
            occ = {"type": "at_least", "n": int(n)}
            self.notes.append(f"read “{it.text}” as at least {int(n)}")
            if self.cur is not None and not self.cur.has_content():
                self.cur.count = occ
            else:
                self.pend.count = occ
            return
        if self.cur is not None and self.measurementish(self.cur):
            self.problems.append(
                Problem(
                    f"Is “{it.text}” a threshold? Say above, below or between.",
                    it.text,
                    [f"above {it.text}", f"at least {it.text}", f"below {it.text}"],
                )
            )
            return
        self.problems.append(Problem(f"I did not understand the number “{it.text}”.", it.text))

    def date(self, it: Item) -> None:
        cur = self.cur
        if cur is not None and cur.has_content():
            target = self.group_first(cur)
            if target.date is None:
                target.date = it
                if target is not cur:
                    self.notes.append(
                        f"the dates “{it.text}” apply to the first of the events joined by 'and'"
                    )
                return
            self.problems.append(
                Problem("Two date ranges were given for one event; which one applies?", it.text)
            )
            return
        if self.pend.date is not None:
            self.problems.append(Problem("Two date ranges were given; which one applies?", it.text))
        self.pend.date = it

    def window(self, it: Item) -> None:
        cur = self.cur
        target = (
            cur
            if cur is not None and cur.has_content() and (cur.window is None or cur.window.get("weak"))
            else None
        )
        mode = it.get("anchor")
        if mode == "follows":
            self.anchor = AnchorPhrase(it.data, target, it.start)
        elif mode == "previous":
            anchor = cur if cur is not None and cur.has_content() else self.previous_event(None)
            self.attach_window(None, it.data, anchor)
            self.close()  # 'then' starts the next event
        else:
            self.attach_window(target, it.data, "index")

    def name(self, it: Item) -> None:
        kind = it.get("kind")
        if kind is None:
            target = self.events[-1] if self.events else None
            if target is None:
                self.problems.append(Problem("Whose name should contain the words?", it.text))
                return
            target.name_mode, target.name_kind = True, target.kind
            self.cur = target
            return
        ev = self.new_event(it.start, kind)
        ev.name_mode, ev.name_kind = True, kind
        ev.text.append(it.text)

    def modality(self, it: Item) -> None:
        cur = self.cur
        mods, parts = it.get("modalities", []), it.get("body_parts", [])
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

    def event(self, it: Item) -> None:
        kind, pos = it.get("kind"), it.get("pos")
        cur = self.cur
        if (
            self.last_prep in ("through", "via")
            and kind == "er_visit"
            and cur is not None
            and cur.kind == "admission"
        ):
            self.problems.append(
                Problem(
                    f"“admitted {self.last_prep} the ER”: an ER visit on the day of or the day before the admission, or "
                    "a combined ER-and-inpatient visit (OMOP visit concept 262)?",
                    it.text,
                    [
                        "an ER visit within 1 day before the admission",
                        "an 'Emergency Room and Inpatient Visit' (262)",
                    ],
                )
            )
            return
        if self.last_prep == "during" and kind in VISIT_KINDS and self.events:
            self.pend.same_visit_with = cur if cur is not None else self.events[-1]
            self.new_event(it.start, kind).text.append(it.text)
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
        if it.kind == "unknown" and not plausible_mention(it.text):
            self.problems.append(Problem(f"I did not understand “{it.text}”.", it.text))
            return
        if it.kind == "quote" and cur is not None and cur.name_mode:
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
            if (not cur.terms or cur.conj in ("or", ",")) and not other_kind:
                if cur.terms and cur.conj == ",":
                    cur.comma_terms.append(term)
                cur.terms.append(term)
                cur.conj = None
                if not term.known and not cur.kind and cur.hint is None:
                    cur.hint = self.hint_for_unknown()
                return
        before_noun = (
            nxt is not None and nxt.kind == "event" and nxt.get("pos") == "noun"
        )  # 'sarcoidosis diagnosis'
        if (
            it.kind == "unknown"
            and not it.get("head")
            and not before_noun
            and (cur is None or cur.has_content())
            and self.last_prep not in ("with", "for", "of", "on")
        ):
            self.problems.append(Problem(f"I did not understand “{it.text}”.", it.text))
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
        verb = self.last_verb or ""
        if verb in (
            "received",
            "receiving",
            "receive",
            "receives",
            "got",
            "get",
            "gets",
            "getting",
            "given",
            "started",
            "starting",
            "initiated",
            "began",
            "begun",
            "commenced",
            "needed",
            "required",
        ):
            return "drug_or_procedure"
        return None


def build_en(items: list[Item]) -> Built:
    return EnglishGrammar(items).run()
