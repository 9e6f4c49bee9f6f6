"""What the recognisers hand to the grammars: one :class:`Item` per claimed span, of one
:class:`ItemKind`, carrying that kind's typed payload.

One place to declare a kind: add it to ``ItemKind``, give it a payload class (or ``NoData``) and a row
in ``PAYLOAD``; ``Item`` refuses a payload of the wrong class, so a grammar reading ``it.data_as(X)``
after checking ``it.kind`` cannot be handed something else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal, TypeVar


class ItemKind(StrEnum):
    """Every kind of recognised span, in the order the recognisers claim them (``nlq.recognise``)."""

    quote = "quote"  # 'quoted words'
    name = "name"  # 'surgery name contains …', '수술명에 …'
    request = "request"  # '…; give me their CT scans': imaging to return, not a rule
    request_end = "request_end"  # '… *of* patients with MI': the request ends where the cohort is named
    date = "date"  # a calendar range
    bad_date = "bad_date"  # date words that could not be read
    window = "window"  # days relative to another event
    bad_window = "bad_window"  # window words that are ambiguous or unreadable
    aside = "aside"  # '(before or after)': said for the reader, no rule
    exclusive = (
        "exclusive"  # '(not counting the procedure day)': the anchor's own day leaves (or joins) the window
    )
    prior = "prior"  # 'history of', 'prior', '병력'
    index_ref = "index_ref"  # 'the index date', '기준일'
    age = "age"
    sex = "sex"
    modality = "modality"  # 'chest CT', '흉부 CT'
    term = "term"  # a clinical mention found in the lexicon
    event = "event"  # an event word: 'diagnosed', 'surgery', '진단'
    first = "first"  # 'first', 'newly', '처음'
    occurrence = "occurrence"  # a count: 'at least 2 times', '3회 이상'
    compare = "compare"  # 'above 7%', '7% 이상'
    number = "number"  # a bare number
    neg = "neg"  # 'without', 'never', '없는'
    boundary = "boundary"  # 'who', 'that', ';': a clause starts
    verb = "verb"  # 'received', 'had', 'showing'
    vague = "vague"  # 'elderly', 'recently': asked back with readings
    conj = "conj"  # 'and', 'or', ',', '및'
    prep = "prep"  # 'with', 'of', 'on'
    pronoun = "pronoun"  # 'it', 'this'
    filler = "filler"  # words that carry no rule: 'patients', 'the', '환자'
    all = "all"  # '모두', '전부': every listed item is required
    end = "end"  # Korean: a clause ending ('받은', '있는', '환자')
    unknown = "unknown"  # words nobody recognised: asked about unless they can be a mention


@dataclass(frozen=True, slots=True)
class Payload:
    """Base of every item payload."""


@dataclass(frozen=True, slots=True)
class NoData(Payload):
    """Kinds whose span says everything (a negation, a boundary, a filler …)."""


NO_DATA = NoData()


@dataclass(frozen=True, slots=True)
class AnchorDayData(Payload):
    """'(not counting the procedure day)' (``keep`` False) or '(counting the diagnosis day itself)',
    '(사망일 포함)' (``keep`` True): whether the anchor's own day is in the window just given."""

    keep: bool


@dataclass(frozen=True, slots=True)
class NameData(Payload):
    """'surgery name contains': which kind of concept (None: the event named before) and whether the
    name words come before the marker (Korean '… 들어간 수술')."""

    kind: str | None
    post: bool = False


@dataclass(frozen=True, slots=True)
class EndData(Payload):
    """A Korean clause ending. ``head``: the cohort's head noun ('환자'); ``request``: '환자의' before
    imaging words; ``request_verb``: '… 영상을 모아줘'; ``verb``: an unlisted verb form, ``lemma`` its
    dictionary form when the morphological analyser read it ('다녀와서' → '다녀오다')."""

    head: bool = False
    request: bool = False
    request_verb: bool = False
    verb: bool = False
    lemma: str = ""


@dataclass(frozen=True, slots=True)
class DateData(Payload):
    start: date | None
    end: date | None


class WindowAnchor(StrEnum):
    """Where a window's anchor is named: English after the window ('… after *the diagnosis*'), Korean
    before it ('*진단* 후 30일 이내'), 'then' the event before, or nowhere (the index event)."""

    follows = "follows"
    precedes = "precedes"
    previous = "previous"
    none = "none"


@dataclass(frozen=True, slots=True)
class WindowData(Payload):
    """Inclusive day offsets from the anchor; ``weak``: 'then', replaced by an explicit window."""

    start: int | None
    end: int | None
    anchor: WindowAnchor
    text: str
    same_visit: bool = False
    weak: bool = False


@dataclass(frozen=True, slots=True)
class AskData(Payload):
    """Words the parser asks back about (vague words, unreadable dates or windows, unsupported rules):
    ``what`` names the missing reading, ``reason`` is the question when the recogniser wrote one."""

    what: str | None = None
    reason: str | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgeData(Payload):
    """Inclusive age bounds at the index date."""

    min: int | None
    max: int | None


@dataclass(frozen=True, slots=True)
class SexData(Payload):
    sexes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModalityData(Payload):
    """DICOM modality codes and body parts named by one imaging phrase."""

    modalities: tuple[str, ...]
    body_parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TermData(Payload):
    """A lexicon mention: its entry key and the spec domains it may have ('?' when unknown)."""

    key: str
    domains: tuple[str, ...]


Pos = Literal["verb", "noun"]


@dataclass(frozen=True, slots=True)
class EventWordData(Payload):
    """An event word: its kind ('surgery', 'drug' …), whether it introduces a clause (verb) or names an
    event (noun), and (Korean) whether it ends the clause ('걸린', '숨진')."""

    kind: str
    pos: Pos
    ends: bool = False


@dataclass(frozen=True, slots=True)
class FirstData(Payload):
    """'first' before its event, or after it (``post``: 'for the first time')."""

    post: bool = False


OccurrenceType = Literal["at_least", "at_most", "exactly"]


@dataclass(frozen=True, slots=True)
class CountData(Payload):
    type: OccurrenceType
    n: int
    post: bool = False


CompareOp = Literal[">", ">=", "<", "<=", "=", "between"]


@dataclass(frozen=True, slots=True)
class CompareData(Payload):
    """A value comparison; ``high`` is the upper bound of 'between'."""

    op: CompareOp
    value: float
    high: float | None = None
    unit: str | None = None
    post: bool = False


@dataclass(frozen=True, slots=True)
class NumberData(Payload):
    value: float
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class VerbData(Payload):
    """``finding``: 'showing', 'revealed' (a finding of the same event); ``participle``: 'metformin
    *started* …' (the verb belongs to the mention before it)."""

    finding: bool = False
    participle: bool = False


@dataclass(frozen=True, slots=True)
class ConjData(Payload):
    """'and', 'or' or ','; ``paren``: '(PCI or bypass)' after a mention lists alternatives to it."""

    op: str
    paren: bool = False


@dataclass(frozen=True, slots=True)
class PrepData(Payload):
    word: str


@dataclass(frozen=True, slots=True)
class UnknownData(Payload):
    """``head``: an unknown phrase right before 'patients' is a mention ('acute bronchitis patients')."""

    head: bool = False


PAYLOAD: dict[ItemKind, type[Payload]] = {
    ItemKind.quote: NoData,
    ItemKind.name: NameData,
    ItemKind.request: NoData,
    ItemKind.request_end: NoData,
    ItemKind.date: DateData,
    ItemKind.bad_date: AskData,
    ItemKind.window: WindowData,
    ItemKind.bad_window: AskData,
    ItemKind.aside: NoData,
    ItemKind.exclusive: AnchorDayData,
    ItemKind.prior: NoData,
    ItemKind.index_ref: NoData,
    ItemKind.age: AgeData,
    ItemKind.sex: SexData,
    ItemKind.modality: ModalityData,
    ItemKind.term: TermData,
    ItemKind.event: EventWordData,
    ItemKind.first: FirstData,
    ItemKind.occurrence: CountData,
    ItemKind.compare: CompareData,
    ItemKind.number: NumberData,
    ItemKind.neg: NoData,
    ItemKind.boundary: NoData,
    ItemKind.verb: VerbData,
    ItemKind.vague: AskData,
    ItemKind.conj: ConjData,
    ItemKind.prep: PrepData,
    ItemKind.pronoun: NoData,
    ItemKind.filler: NoData,
    ItemKind.all: NoData,
    ItemKind.end: EndData,
    ItemKind.unknown: UnknownData,
}

P = TypeVar("P", bound=Payload)


@dataclass
class Item:
    """A recognised span: ``kind`` says what it is, ``data`` carries that kind's payload."""

    kind: ItemKind
    text: str
    start: int
    end: int
    data: Payload = field(default=NO_DATA)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ItemKind):
            raise TypeError(f"item kind {self.kind!r} is not an ItemKind")
        if type(self.data) is not PAYLOAD[self.kind]:
            raise TypeError(f"{self.kind} item carries {type(self.data).__name__}")

    def data_as(self, cls: type[P]) -> P:
        """The payload as the class its kind declares; a wrong class is a programming error."""
        if not isinstance(self.data, cls):
            raise TypeError(f"{self.kind} item carries {type(self.data).__name__}, not {cls.__name__}")
        return self.data
