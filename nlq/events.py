"""The intermediate form between the grammars and the spec: events with their modifiers.

Both grammars (``grammar_en``, ``grammar_ko``) turn recognised items into :class:`Event` objects;
``assemble`` turns events into a ``CohortSpec``. Keeping this middle layer language-free is what
makes the English and Korean seed sentences produce the very same spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from cohort_engine.nlq.items import (
    CompareData,
    CompareOp,
    CountData,
    Item,
    ItemKind,
    OccurrenceType,
    TermData,
)
from cohort_engine.nlq.lexicon import lookup
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.vocab import SPECIFICITY


@dataclass
class Term:
    """A clinical mention as written (particles stripped), with the lexicon domains it may have."""

    text: str
    domains: set[str]
    known: bool
    said: str = ""  # the words a code restates ('위장관 출혈' for 'K92'): a later 'the bleed' names it too

    @classmethod
    def of(cls, item: Item) -> Term:
        if item.kind is ItemKind.term:
            data = item.data_as(TermData)
            said = data.key if data.key != item.text else ""
            return cls(item.text.strip(), set(data.domains) - {"?"}, True, said)
        return cls(item.text.strip(" .,'\""), set(), False)


#: Short nouns people use to refer back to an event named in other words ('GI hemorrhage … before the
#: bleed', 'EGD … after the scope'): the reference word → words one of which the earlier mention, its
#: code's words or its lexicon entry's names must contain.
REFERENCE_NOUNS: dict[str, tuple[str, ...]] = {
    "bleed": ("bleed", "bleeding", "hemorrhage", "haemorrhage", "hematemesis", "melena", "출혈"),
    "bleeding": ("bleed", "bleeding", "hemorrhage", "haemorrhage", "hematemesis", "melena", "출혈"),
    "hemorrhage": ("bleed", "bleeding", "hemorrhage", "haemorrhage", "hematemesis", "melena", "출혈"),
    "haemorrhage": ("bleed", "bleeding", "hemorrhage", "haemorrhage", "hematemesis", "melena", "출혈"),
    "scope": ("endoscopy", "egd", "gastroscopy", "colonoscopy", "bronchoscopy", "sigmoidoscopy", "내시경"),
    "cath": ("catheterization", "catheterisation", "angiography", "angiogram"),
    "angio": ("angiography", "angiogram", "catheterization"),
    "op": ("surgery", "operation", "ectomy", "plasty", "replacement", "bypass", "cabg", "repair", "수술"),
    # 'chemo infusions (99.25) … within 14 days after an infusion'
    "infusion": ("infusion", "chemo", "chemotherapy", "주입", "항암"),
    "infusions": ("infusion", "chemo", "chemotherapy", "주입", "항암"),
    "mets": ("metastasis", "metastases", "metastatic", "전이"),
    "infarct": ("infarction", "stemi", "nstemi", "경색"),
    # 'within 30 days following the infarction' of an 'NSTEMI (I21.4)' or an 'MI'
    "infarction": ("infarction", "stemi", "nstemi", "myocardial", "경색"),
}


def _refers_back(word: str, b: Term) -> bool:
    """Does the short noun ``word`` refer to the event ``b`` names (see :data:`REFERENCE_NOUNS`)?"""
    wanted = REFERENCE_NOUNS.get(word)
    if wanted is None:
        return False
    names = [
        b.text.lower(),
        b.said.lower(),
        # a code's words name it too: 'ST-elevation MI (I21.0-I21.3) … the infarction'
        *(n.lower() for e in (*lookup(b.text), *(lookup(b.said) if b.said else ())) for n in (*e.en, e.key)),
    ]
    return any(w in n for w in wanted for n in names)


def same_mention(a: Term, b: Term) -> bool:
    """Do two mentions name the same thing? 'the MI' / 'myocardial infarction' (one lexicon entry),
    'the bleed' / 'GI bleeding' (a word of an earlier mention)."""
    x, y = a.text.lower(), b.text.lower()
    if x == y:
        return True
    if b.said and re.search(rf"(?<!\w){re.escape(x)}", b.said.lower()):
        return True
    if re.search(rf"(?<!\w){re.escape(x)}$", y):
        return True  # 'after the stent' of 'drug-eluting stent': the head noun names the same event
    if len(x) >= 2 and re.fullmatch(r"[가-힣]+", x) and (y.endswith(x) or b.said.lower().endswith(x)):
        return True  # '폐생검 … 생검 전 30일': a Korean compound's head noun names the same event
    keys_a = {e.key for e in lookup(a.text)}
    if keys_a and keys_a & {e.key for e in lookup(b.text)}:
        return True
    # 'gastric cancer … first-ever C16 dx': a quoted code of the entry the other mention names
    if any(e.names_code(x) for e in lookup(b.text)) or any(e.names_code(y) for e in lookup(a.text)):
        return True
    if not keys_a and _refers_back(x, b):
        return True
    # 'TKR … before the replacement': one word of the name the earlier mention's entry has
    if not keys_a and len(x) >= 4 and " " not in x:
        word = rf"(?<!\w){re.escape(x)}(?!\w)"
        if any(re.search(word, n.lower()) for e in lookup(b.text) for n in e.en):
            return True
    return not keys_a and re.search(rf"(?<!\w){re.escape(x)}", y) is not None


def broader_mention(a: Term, b: Term) -> bool:
    """Is ``a`` a broader word for what ``b`` names? 'the cancer diagnosis' after 'gastric cancer' or
    'lung ca' (the word is in the mention or in a name of its lexicon entry)."""
    word = regex(rf"(?<!\w){re.escape(a.text.lower())}(?!\w)")
    names = [b.text.lower(), *(n.lower() for e in lookup(b.text) for n in e.en)]
    return any(word.search(n) for n in names)


@dataclass
class Problem:
    """Something the parser will not guess: the clarification question, the words, the readings."""

    question: str
    span: str | None = None
    choices: list[str] = field(default_factory=list)


@dataclass
class EventWindow:
    """Inclusive day offsets from the anchor. Mutable: '(not counting the procedure day)' narrows the
    window already attached. ``weak``: from 'then', replaced by an explicit window on the same event."""

    start: int | None
    end: int | None
    same_visit: bool = False
    weak: bool = False


@dataclass(frozen=True)
class Count:
    """How many matching events a patient needs ('at least 2 diagnoses')."""

    type: OccurrenceType
    n: int

    @classmethod
    def of(cls, data: CountData) -> Count:
        return cls(data.type, data.n)


@dataclass(frozen=True)
class ValueCmp:
    """A lab value comparison; ``high`` is the upper bound of 'between'."""

    op: CompareOp
    value: float
    high: float | None = None
    unit: str | None = None
    exclude_low: bool = False
    exclude_high: bool = False

    @classmethod
    def of(cls, data: CompareData) -> ValueCmp:
        return cls(data.op, data.value, data.high, data.unit)


@dataclass
class Event:
    pos: int
    kind: str | None = None
    kinds_seen: list[str] = field(default_factory=list)
    hint: str | None = None
    terms: list[Term] = field(default_factory=list)
    name_mode: bool = False
    name_kind: str | None = None
    quotes: list[str] = field(default_factory=list)
    modalities: list[str] = field(default_factory=list)
    body_parts: list[str] = field(default_factory=list)
    value: ValueCmp | None = None
    answers: list[Term] = field(default_factory=list)  # coded answers: 'current smoker' of smoking status
    date: Item | None = None
    window: EventWindow | None = None
    anchor: Anchor | None = None  # 'index', another event, or None (= index)
    count: Count | None = None
    index_count: bool = False  # the count of the index event, checked as a criterion over all records
    negated: bool = False
    first: bool = False
    prior: bool = False
    prior_said: bool = False  # 'prior' written for this event itself, not carried over from its list
    group: int | None = None
    introduced: bool = False  # created from an anchor phrase ("after CABG")
    head: bool = False  # Korean: the clause's head noun ('… 심부전 환자'): the cohort's subject
    named_index: bool = False  # said to be the index: 'statin 처방일을 인덱스일로 정의하고'
    conj: str | None = None
    and_of: Event | None = None  # the event this one was joined to by 'and' ('a PCI and an echo …')
    comma_terms: list[Term] = field(default_factory=list)  # 'A, B and C': split when 'and' ends the list
    text: list[str] = field(default_factory=list)
    request: bool = False  # named inside an imaging output request ("…; give me their CT scans …")
    shots: list[tuple[tuple[str, ...], tuple[str, ...]]] = field(
        default_factory=list
    )  # (modalities, body parts) as named

    def has_content(self) -> bool:
        return bool(self.kind or self.names_something())

    def names_something(self) -> bool:
        """Whether the event names what happened (a concept, a quoted name, a study), beyond its kind."""
        return bool(self.terms or self.modalities or self.quotes or self.name_mode)

    def describe(self) -> str:
        words = " / ".join(t.text for t in self.terms) or " ".join(self.text).strip()
        return words or (self.kind or "event")

    def set_kind(self, kind: str) -> None:
        """Record an event word; a specific word wins over a generic one ('surgery' over 'procedure')."""
        self.kinds_seen.append(kind)
        if self.kind is None or SPECIFICITY.get(kind, 0) > SPECIFICITY.get(self.kind, 0):
            self.kind = kind


@dataclass
class Built:
    """What a grammar hands to assembly."""

    events: list[Event]
    demographics: list[Item]
    problems: list[Problem]
    notes: list[str]
    pending_date: Item | None = None


# What a window is measured from: another event of the sentence, or the cohort's index event.
Anchor = Event | Literal["index"]
