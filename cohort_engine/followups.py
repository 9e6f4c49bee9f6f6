"""Asking back as a way forward: what a question back offers, and how a picked offer continues the question.

Most real questions come back as ``clarify`` (an unread word, a vague word, an ambiguous term). A bare
"I did not understand 'users'" is a dead end, so every door (REST API, chat page, CLI) answers it with
a :class:`Followup`: the question with the words in doubt marked, what the rest of it reads as (a
partial read-back, when one can be made), and one-click choices that continue *the same question*:

* ``drop`` — read it without the unread word(s);
* ``replace`` — "it means …": a close term of the bilingual lexicon or of the mart's concept names for
  an unread word, or one of the parser's own readings of a vague word, window or anchor;
* ``concept`` — one of the candidate concepts of an ambiguous term (an override, no text edit).

A choice is carried back as :class:`Answer` items beside the *original* question and applied here, in
order, deterministically (:func:`apply_answers`): text edits on the question the user typed plus concept
overrides. The server never writes a question of its own; it only applies edits the asker picked, and
says which applied. Every text choice is tried on the rule parser first (``preview``), so a button
whose outcome would be no better is not offered as a way forward.

Pure: no mart, no network. The caller hands in the reader (a parser function), the vocabulary terms
(:func:`term_index`) and the candidate concepts of ambiguous terms.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from rapidfuzz import fuzz, process

from cohort_engine.nlq.readback import readback
from cohort_engine.nlq.result import Clarification, ParseResult
from cohort_engine.nlq.text import has_batchim
from cohort_engine.spec import INT32_MAX, CohortSpec

Action = Literal["drop", "replace", "concept"]
Lang = Literal["en", "ko"]
Reader = Callable[[str], ParseResult]

#: At most this many "it means …" choices per unread word.
MAX_MEANS = 3
#: rapidfuzz ``ratio`` (0–100) a vocabulary term needs to count as close to an unread word.
MEANS_CUTOFF = 75.0
#: How many rounds of dropping newly reported unread words the partial read-back tries.
PARTIAL_ROUNDS = 3

_QUOTES = "“”\"'‘’「」『』"


class Answer(BaseModel):
    """One picked choice, sent back with the original question (``POST /v1/ask`` ``answers``).

    ``{"span", "action": "drop"}``, ``{"span", "action": "replace", "with"}`` or ``{"term",
    "concept_id"}`` (``action`` ``concept``, implied by ``concept_id``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    action: Action | None = Field(
        default=None, description="drop, replace or concept (implied when concept_id is given)."
    )
    span: str | None = Field(
        default=None, min_length=1, max_length=200, description="The words of the question to edit."
    )
    with_: str | None = Field(
        default=None, alias="with", min_length=1, max_length=200, description="Replacement words."
    )
    within: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The word(s) the span is part of, when the span alone occurs more than once "
        "(the '자' of '흡연자', not of '환자').",
    )
    term: str | None = Field(
        default=None, min_length=1, max_length=200, description="The mention a concept is picked for."
    )
    concept_id: int | None = Field(default=None, ge=0, le=INT32_MAX)

    @model_validator(mode="after")
    def _shape(self) -> Answer:
        """One shape per action, so an answer is never half-applied."""
        if self.action is None:
            self.action = "concept" if self.concept_id is not None else None
        if self.action == "drop" and self.span is None:
            raise ValueError("a drop answer needs the span to drop")
        if self.action == "replace" and (self.span is None or self.with_ is None):
            raise ValueError("a replace answer needs a span and what to put instead (with)")
        if self.action == "concept" and (self.term is None or self.concept_id is None):
            raise ValueError("a concept answer needs the term and a concept_id")
        if self.action is None:
            raise ValueError("an answer needs an action: drop, replace or a term with a concept_id")
        return self

    @model_serializer(mode="wrap")
    def _no_empty_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """An answer goes out as a client sends it back: no null fields."""
        return {k: v for k, v in handler(self).items() if v is not None}

    def wire(self) -> dict[str, object]:
        """The answer as a client sends it (``with`` spelled as on the wire, no empty fields)."""
        return self.model_dump(by_alias=True, exclude_none=True)

    def cli(self) -> str:
        """The answer as ``cohort ask --answer`` takes it (see :meth:`from_cli`)."""
        if self.action == "concept":
            return f"concept:{self.term}={self.concept_id}"
        if self.action == "replace":
            return f"replace:{self.span}={self.with_}"
        return f"drop:{self.span}" + (f"@{self.within}" if self.within else "")

    @classmethod
    def from_cli(cls, text: str) -> Answer:
        """``drop:SPAN`` (``drop:SPAN@WORD`` for the span inside WORD), ``replace:SPAN=WITH`` or
        ``concept:TERM=ID`` (``cohort ask --answer``)."""
        action, sep, rest = text.partition(":")
        if not sep or not rest:
            raise ValueError(f"{text!r}: use drop:SPAN, replace:SPAN=WITH or concept:TERM=ID")
        if action == "drop":
            span, at, within = rest.partition("@")
            return cls(action="drop", span=span, within=within if at and within else None)
        left, eq, right = rest.rpartition("=")
        if not eq or not left or not right:
            raise ValueError(f"{text!r}: use replace:SPAN=WITH or concept:TERM=ID")
        if action == "replace":
            return replacement(left, right)
        if action == "concept":
            if not right.strip().isdigit():
                raise ValueError(f"{text!r}: the concept id must be a number")
            return cls(action="concept", term=left, concept_id=int(right))
        raise ValueError(f"{text!r}: the action is drop, replace or concept")


def replacement(span: str, new: str, within: str | None = None) -> Answer:
    """A ``replace`` answer (``with`` is a Python keyword, so it is built from its wire form)."""
    return Answer.model_validate({"action": "replace", "span": span, "with": new, "within": within})


class AppliedEdit(BaseModel):
    """One answer and whether it applied (a span that is no longer in the question does not)."""

    answer: Answer
    applied: bool
    reason: str | None = None


class Edited(BaseModel):
    """The question as read after the answers, the concept overrides they add, and what applied."""

    question: str
    overrides: dict[str, list[int]] = Field(default_factory=dict)
    applied: list[AppliedEdit] = Field(default_factory=list)


class Segment(BaseModel):
    """A piece of the asked question; ``mark`` says the parser did not read it (``unread``) or asks
    what it means (``unclear``)."""

    text: str
    mark: Literal["unread", "unclear"] | None = None


class ConceptOption(BaseModel):
    """A candidate concept of an ambiguous term, as the resolver offers it."""

    term: str
    concept_id: int
    label: str


class FollowupChoice(BaseModel):
    """One click that continues the question: send the original question with ``answers``."""

    kind: Literal["drop", "means", "reading", "concept"]
    label: str
    span: str | None = Field(default=None, description="The words of the question the choice is about.")
    answers: list[Answer] = Field(description="Every answer to send (earlier ones first), in order.")
    preview: Literal["ok", "clarify", "refused"] | None = Field(
        default=None, description="What the rule parser makes of the question with this choice."
    )


class Followup(BaseModel):
    """What a ``clarify`` answer offers: the marked question, the partial read-back and the choices."""

    language: Lang = "en"
    marked: list[Segment] = Field(default_factory=list)
    unread: list[str] = Field(default_factory=list, description="The words the parser did not read.")
    partial_spec: CohortSpec | None = Field(
        default=None, description="The spec of the understood part (the question without the words in doubt)."
    )
    partial_readback: str | None = None
    choices: list[FollowupChoice] = Field(default_factory=list)


# -- text edits ------------------------------------------------------------------------------------


def clean_span(span: str | None) -> str:
    """A clarification's span as it stands in the question: without the quotes a parser may add."""
    return (span or "").strip().strip(_QUOTES).strip()


def _matches(text: str, span: str) -> list[tuple[int, int]]:
    """Every place of ``span`` in ``text``, case-insensitive: whole-word matches when there are any,
    else any match (a Korean suffix such as '자' in '복용자')."""
    span = clean_span(span)
    if not span:
        return []
    esc = re.escape(span)
    for pattern in (rf"(?<!\w){esc}(?!\w)", esc):
        found = [(m.start(), m.end()) for m in re.finditer(pattern, text, re.IGNORECASE)]
        if found:
            return found
    return []


def locate(text: str, span: str, within: str | None = None) -> tuple[int, int] | None:
    """Where ``span`` stands in ``text`` (the first place; inside the first place of ``within`` when
    given); None when it is not there."""
    if within is not None:
        outer = _matches(text, within)
        if not outer:
            return None
        s, e = outer[0]
        inner = _matches(text[s:e], span)
        return (s + inner[0][0], s + inner[0][1]) if inner else None
    found = _matches(text, span)
    return found[0] if found else None


def _tidy(text: str) -> str:
    """Whitespace and punctuation left sound after a cut: no double spaces, no space before a comma."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    return text.strip().strip(",;:").strip()


def _edit(text: str, span: str, new: str, within: str | None = None) -> str | None:
    where = locate(text, span, within)
    if where is None:
        return None
    s, e = where
    return _tidy(f"{text[:s]} {new} {text[e:]}" if new else f"{text[:s]} {text[e:]}")


def apply_answers(question: str, answers: Sequence[Answer]) -> Edited:
    """``question`` after ``answers``, in order: drops and replacements edit the text, concept answers
    become overrides (the last pick for a term wins). An edit whose span is not (or no longer) in the
    question does not apply and says so; nothing else is ever written into the question."""
    text = question
    overrides: dict[str, list[int]] = {}
    applied: list[AppliedEdit] = []
    for a in answers:
        if a.action == "concept":
            assert a.term is not None and a.concept_id is not None  # checked by Answer
            overrides[a.term] = [a.concept_id]
            applied.append(AppliedEdit(answer=a, applied=True))
            continue
        assert a.span is not None
        edited = _edit(text, a.span, (a.with_ or "") if a.action == "replace" else "", a.within)
        if edited is None:
            applied.append(AppliedEdit(answer=a, applied=False, reason="the words are not in the question"))
        elif not edited:
            applied.append(
                AppliedEdit(answer=a, applied=False, reason="nothing of the question would be left")
            )
        else:
            text = edited
            applied.append(AppliedEdit(answer=a, applied=True))
    return Edited(question=text, overrides=overrides, applied=applied)


# -- vocabulary --------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"[\s\-_.,'’()]+", "", text).lower()


@dataclass(frozen=True)
class TermIndex:
    """Vocabulary terms (lexicon aliases in both languages, the mart's concept names) for "it means …",
    normalised once: a server builds it once per mart."""

    terms: tuple[str, ...]
    normalised: tuple[str, ...]

    def close(self, word: str, limit: int = 8) -> list[str]:
        """Terms close to ``word`` (best first), never ``word`` itself."""
        key = _norm(word)
        if not key:
            return []
        found = process.extract(
            key, self.normalised, scorer=fuzz.ratio, score_cutoff=MEANS_CUTOFF, limit=limit * 3
        )
        out: list[str] = []
        seen: set[str] = set()
        for _, _score, i in found:
            term, n = self.terms[i], self.normalised[i]
            if n == key or n in seen:
                continue
            seen.add(n)
            out.append(term)
            if len(out) == limit:
                break
        return out


def term_index(terms: Iterable[str]) -> TermIndex:
    """A :class:`TermIndex` of ``terms`` (blank and duplicate terms left out, first spelling kept)."""
    kept: dict[str, str] = {}
    for t in terms:
        t = t.strip()
        if t and len(t) <= 120:
            kept.setdefault(_norm(t), t)
    kept.pop("", None)
    return TermIndex(tuple(kept.values()), tuple(kept))


def lexicon_terms() -> list[str]:
    """Every English and Korean mention of the bilingual lexicon (``cohort_engine/data/lexicon.json``)."""
    from cohort_engine.schema_catalog.resolve import lexicon

    return [alias for entry in lexicon().values() for alias in (*entry.en, *entry.ko)]


# -- the offer ---------------------------------------------------------------------------------------

_LABELS: dict[str, dict[str, str]] = {
    "drop": {"en": "Read it without {words}", "ko": "{words} 빼고 읽기"},
    "means": {"en": "I meant “{term}”", "ko": "“{term}”{ira}라는 뜻"},
    "in": {"en": "“{span}” (in “{word}”)", "ko": "“{word}”의 “{span}”"},
    "without": {"en": " (without {words})", "ko": " ({words} 빼고)"},
}

#: Parser readings that are examples or kinds to pick, not words that can stand in the span's place.
_NOT_REWORDINGS = (
    "duration_unsupported",
    "admitted_via_er",
    "one_measurement_unsupported",
    "drug_or_procedure",
    "which_surgery",
    "request_pairs",
)


@lru_cache(maxsize=1)
def _not_rewording() -> re.Pattern[str]:
    from cohort_engine.nlq.messages import READINGS

    templates = [t for code in _NOT_REWORDINGS for ts in READINGS.get(code, {}).values() for t in ts]
    parts = [re.sub(r"\\\{\w+\\\}", ".+", re.escape(t)) for t in templates]
    return re.compile("|".join(f"(?:{p})" for p in parts) or r"(?!)", re.IGNORECASE)


def is_rewording(reading: str) -> bool:
    """Whether a parser's choice can replace the words it asks about ('within 30 days after' for '30
    days after', 'aged 65 or older' for 'elderly') rather than being an example or a kind to pick."""
    return "…" not in reading and "..." not in reading and not _not_rewording().fullmatch(reading.strip())


def _say(key: str, lang: str, **values: str) -> str:
    return _LABELS[key]["ko" if lang == "ko" else "en"].format(**values)


def _named(places: Iterable[_Place], lang: str) -> str:
    """The words in doubt as a label names them (with the word they are part of when not unique)."""
    return ", ".join(
        _say("in", lang, span=p.span, word=p.within) if p.within else f"“{p.span}”" for p in places
    )


@dataclass(frozen=True)
class _Place:
    """Words in doubt, and the word they are part of when they alone are not unique in the question."""

    span: str
    within: str | None = None

    def drop(self) -> Answer:
        return Answer(action="drop", span=self.span, within=self.within)

    def word(self, text: str) -> str:
        """The whitespace-delimited word(s) around the span ('복용자' around '자')."""
        where = locate(text, self.span, self.within)
        if where is None:
            return self.span
        s, e = where
        while s > 0 and not text[s - 1].isspace():
            s -= 1
        while e < len(text) and not text[e].isspace():
            e += 1
        return text[s:e].strip(",.;:!?" + _QUOTES)


def _marked(text: str, marks: Sequence[tuple[_Place, Literal["unread", "unclear"]]]) -> list[Segment]:
    spans: list[tuple[int, int, Literal["unread", "unclear"]]] = []
    for place, kind in marks:
        where = locate(text, place.span, place.within)
        if where and not any(s < where[1] and where[0] < e for s, e, _ in spans):
            spans.append((*where, kind))
    out: list[Segment] = []
    pos = 0
    for s, e, kind in sorted(spans):
        if s > pos:
            out.append(Segment(text=text[pos:s]))
        out.append(Segment(text=text[s:e], mark=kind))
        pos = e
    if pos < len(text):
        out.append(Segment(text=text[pos:]))
    return out


@dataclass
class _Trial:
    """Tries edits of the asked question on the reader, once each."""

    question: str
    read: Reader
    before: int
    seen: dict[str, ParseResult]

    def result(self, new: Sequence[Answer]) -> ParseResult | None:
        edited = apply_answers(self.question, new)
        if not all(a.applied for a in edited.applied):
            return None
        if edited.question not in self.seen:
            self.seen[edited.question] = self.read(edited.question)
        return self.seen[edited.question]

    def rank(self, r: ParseResult | None) -> int:
        """2: the question reads; 1: it asks back about fewer things; 0: no better."""
        if r is None:
            return 0
        if r.status == "ok":
            return 2
        return 1 if r.status == "clarify" and len(r.clarifications) < self.before else 0


def _place(trial: _Trial, span: str) -> _Place | None:
    """Where the parser's ``span`` is meant: its one place, else the word containing it whose drop
    reads best (the parser says which words, not where)."""
    found = _matches(trial.question, span)
    if not found:
        return None
    if len(found) == 1:
        return _Place(span)
    words: list[str] = []
    for s, e in found:
        a, b = s, e  # widen to the whitespace-delimited word around this place
        while a > 0 and not trial.question[a - 1].isspace():
            a -= 1
        while b < len(trial.question) and not trial.question[b].isspace():
            b += 1
        word = trial.question[a:b].strip(",.;:!?" + _QUOTES)
        if len(_matches(trial.question, word)) == 1 and word not in words:
            words.append(word)
    if not words:
        return _Place(span)
    best = max(words, key=lambda w: trial.rank(trial.result([_Place(span, w).drop()])))
    return _Place(span, best if clean_span(best).lower() != clean_span(span).lower() else None)


def followup(
    question: str,
    clarifications: Sequence[Clarification],
    *,
    language: str,
    read: Reader,
    terms: TermIndex | None = None,
    concepts: Sequence[ConceptOption] = (),
    earlier: Sequence[Answer] = (),
) -> Followup:
    """What to offer for a ``clarify`` answer to ``question`` (the question as asked, after ``earlier``).

    ``clarifications`` are the answer's (the parser's, or the resolver's for terms not found in the
    mart); ``read`` is the rule parser, used to preview each text choice and to read the question
    without the words in doubt (the partial read-back); ``concepts`` are the candidate concepts of
    ambiguous terms. Every choice's ``answers`` are ``earlier`` plus its own, to send with the
    original question."""
    lang: Lang = "ko" if language == "ko" else "en"
    trial = _Trial(question, read, max(1, len(clarifications)), {})
    concept_terms = {c.term for c in concepts}
    unread: list[_Place] = []
    unclear: list[tuple[_Place, list[str]]] = []
    for c in clarifications:
        span = clean_span(c.span)
        if not span or span in concept_terms:
            continue
        place = _place(trial, span)
        if place is None or place in unread or place in (p for p, _ in unclear):
            continue
        readings = [r for r in c.choices if is_rewording(r)]
        if readings:
            unclear.append((place, readings))
        else:
            unread.append(place)

    # The understood part: drop every word in doubt; words the parser then reports unread go too.
    doubt = [*unread, *(p for p, _ in unclear)]
    extra: list[_Place] = []
    partial: ParseResult | None = None
    for _ in range(PARTIAL_ROUNDS if doubt else 0):
        cut = [p.drop() for p in (*doubt, *extra)]
        partial = trial.result(cut)
        if partial is None or partial.status != "clarify":
            break
        rest = _Trial(apply_answers(question, cut).question, read, trial.before, trial.seen)
        more = [
            p
            for c in partial.clarifications
            if not [r for r in c.choices if is_rewording(r)]
            for p in [_place(rest, clean_span(c.span))]
            if p is not None and p not in doubt and p not in extra
        ]
        if not more:
            break
        extra += more
    partial_spec = partial.spec if partial is not None and partial.status == "ok" else None
    all_unread = [*unread, *extra]

    choices: list[FollowupChoice] = []

    def offer(kind: str, label: str, span: str | None, own: list[Answer], *, must_progress: bool) -> bool:
        """Offer ``own`` — with the other unread words dropped too when that is what makes it read."""
        r = trial.result(own)
        others = [p for p in all_unread if p.span != span]
        if others and trial.rank(r) < 2:
            r2 = trial.result([*own, *(p.drop() for p in others)])
            if trial.rank(r2) == 2:
                own, r = [*own, *(p.drop() for p in others)], r2
                label += _say("without", lang, words=_named(others, lang))
        if r is None or (must_progress and trial.rank(r) == 0):
            return False
        choices.append(
            FollowupChoice(
                kind=kind,  # type: ignore[arg-type]
                label=label,
                span=span,
                answers=[*earlier, *own],
                preview=r.status,
            )
        )
        return True

    # Read it without the unread words (all of them at once: one click to what was understood).
    if all_unread:
        words = _named(all_unread, lang)
        offer(
            "drop", _say("drop", lang, words=words), None, [p.drop() for p in all_unread], must_progress=False
        )
    # The parser's own readings of vague words, windows and anchors.
    for place, readings in unclear:
        for reading in readings:
            own = [replacement(place.span, reading, place.within)]
            offer("reading", reading, place.span, own, must_progress=False)
    if unclear and not all_unread:
        words = _named((p for p, _ in unclear), lang)
        offer(
            "drop", _say("drop", lang, words=words), None, [p.drop() for p, _ in unclear], must_progress=False
        )
    # It means …: close vocabulary terms for each unread word (or the word it is part of).
    if terms is not None:
        for place in all_unread:
            offered = 0
            for target in dict.fromkeys([place.word(question), place.span]):
                for term in terms.close(target):
                    if offered >= MAX_MEANS:
                        break
                    own = [replacement(target, term)]
                    ira = "이" if has_batchim(term[-1]) else ""
                    label = _say("means", lang, term=term, ira=ira)
                    offered += offer("means", label, place.span, own, must_progress=True)
    # Pick a concept for an ambiguous term.
    for option in concepts:
        own = [Answer(action="concept", term=option.term, concept_id=option.concept_id)]
        choices.append(
            FollowupChoice(kind="concept", label=option.label, span=option.term, answers=[*earlier, *own])
        )

    return Followup(
        language=lang,
        marked=_marked(
            question, [*((p, "unread") for p in all_unread), *((p, "unclear") for p, _ in unclear)]
        ),
        unread=[p.span for p in all_unread],
        partial_spec=partial_spec,
        partial_readback=readback(partial_spec, lang) if partial_spec is not None else None,
        choices=choices,
    )
