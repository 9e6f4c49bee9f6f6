"""The built-in offline parser (English and Korean): one sentence → ``ParseResult``.

Stages, each in its own module:

1. ``text``: normalise, detect the language;
2. ``guard``: refuse destructive, identifying or off-topic requests before anything else;
3. ``recognise``: typed items — dates (``dates``), windows (``windows``), age and sex
   (``demographics``), counts and comparisons (``quantities``), imaging, clinical mentions (lexicon
   via spaCy), event words, negation, connectors — and the words nobody understood;
4. ``grammar_en`` / ``grammar_ko``: items → events with their modifiers;
5. ``assemble``: events → ``CohortSpec`` (index, criteria, windows, labels) and notes.

Nothing is guessed silently: words it cannot place, vague words ("elderly", "recently"), ambiguous
windows ("30 days after") and rules the spec cannot express come back as ``clarify`` with the words
and candidate readings; every reading it did choose is written in ``notes``.
"""

from __future__ import annotations

import logging
from datetime import date

from cohort_engine.nlq.assemble import assemble
from cohort_engine.nlq.grammar_en import build_en
from cohort_engine.nlq.grammar_ko import build_ko
from cohort_engine.nlq.guard import COHORT_WORDS, OFF_TOPIC, advice, named_person_ko, off_topic, refusal
from cohort_engine.nlq.items import AskData, ItemKind
from cohort_engine.nlq.lists import find_lists
from cohort_engine.nlq.messages import say
from cohort_engine.nlq.numbers import drop_restated_durations
from cohort_engine.nlq.recognise import recognise
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.result import Clarification, ParseResult
from cohort_engine.nlq.spoken import read_spoken
from cohort_engine.nlq.text import detect_language, normalise
from cohort_engine.spec import CohortSpec, Domain, IndexEvent

MAX_CHARS = 1000
CONTENT_KINDS = {ItemKind.term, ItemKind.event, ItemKind.modality, ItemKind.name, ItemKind.age, ItemKind.sex}


#: '<사건> 당시 70세 이상': an age taken at a named event ('lobectomy 당시', '수술 때').
KO_AGE_AT = regex(
    r"(?P<ev>[A-Za-z가-힣0-9.\-]+)(?:\([^)]*\))?\s*(?:을|를|이|가)?\s*(?:처음\s*|최초로?\s*)?"
    r"(?:[가-힣]*?(?:은|을|던|한|할)\s*)?(?:당시|때|시점)(?:에|의)?\s*"
    r"(?:나이\s*(?:가|는)?\s*)?(?:만\s*)?\d{1,3}\s*(?:세|살)"
)
#: Words before '당시' that name no particular event (the index's own diagnosis, or the verb of care of
#: whatever was just named): the age is the index event's, as always.
_INDEX_WORDS = (
    "진단",
    "최초",
    "처음",
    "첫",
    "기준",
    "시행",
    "수술",
    "시술",
    "입원",
    "처방",
    "투여",
    "검사",
    "촬영",
    "방문",
    "내원",
    "진료",
    "발병",
    "발생",
)


def _age_at_other_event(sentence: str, spec: CohortSpec) -> str | None:
    """The event named as the moment of an age when it is another rule's event, not the index event (ages
    are always taken at the index date, README), or None. Asked back rather than computed at the wrong
    date: 'lobectomy 당시 70세 이상이었던 lung ca pt'."""
    m = KO_AGE_AT.search(sentence)
    if m is None or spec.demographics.age_min is None and spec.demographics.age_max is None:
        return None
    ev = m.group("ev")
    if ev.startswith(_INDEX_WORDS) or any(t and (t in ev or ev in t) for t in spec.index.concepts.terms):
        return None
    named = [t for c in spec.criteria for t in c.concepts.terms]
    return ev if any(t and (t in ev or ev in t) for t in named) else None


log = logging.getLogger(__name__)


def parse(text: str, today: date | None = None) -> ParseResult:
    """Parse one sentence. ``today`` anchors relative spans ("last 3 months", "최근 6개월").

    A reading bug (an exception inside the rules) comes back as ``clarify`` asking to rephrase, with only
    the exception's type logged: the question may hold identifying text, and an HTTP 500 or a traceback
    tells the user nothing they can act on."""
    try:
        return _parse(text, today)
    except Exception as e:  # see the docstring
        log.error("the parser failed on a question (%s)", type(e).__name__)
        lang = detect_language(normalise(text))
        return ParseResult(status="clarify", language=lang, message=say("parser_failed", lang))


def _parse(text: str, today: date | None) -> ParseResult:
    today = today or date.today()
    sentence = normalise(text)
    lang = detect_language(sentence)
    sentence, corrected = read_spoken(sentence, lang)
    sentence = drop_restated_durations(sentence)
    en = lang == "en"
    if not sentence:
        return ParseResult(status="clarify", language=lang, message=say("empty_question", lang))
    if len(sentence) > MAX_CHARS:
        return ParseResult(
            status="clarify", language=lang, message=say("question_too_long", lang, max_chars=MAX_CHARS)
        )
    refused = refusal(sentence, lang)
    if refused:
        return ParseResult(status="refused", language=lang, message=refused)
    if OFF_TOPIC.search(sentence):
        return ParseResult(status="refused", language=lang, message=off_topic(lang))
    listed = find_lists(sentence, lang)
    rec = recognise(listed.sentence, lang, today)
    rec.notes[:0] = [*(say("correction_kept", lang, text=c) for c in corrected), *listed.notes]
    if listed.lists and not any(it.kind in CONTENT_KINDS for it in rec.items):
        only = CohortSpec(
            title=sentence[:120], language=lang, index=IndexEvent(domain=Domain.visit), lists=listed.lists
        )
        return ParseResult(status="ok", language=lang, spec=only, notes=[*rec.notes, say("list_only", lang)])
    if lang == "ko" and named_person_ko(
        sentence, [it.text for it in rec.items if it.kind is ItemKind.unknown]
    ):
        return ParseResult(status="refused", language=lang, message=refusal("이름", lang) or "")
    # ('recent bleeders on blood thinners': vague words are about patients too, and are asked back)
    vague = [it for it in rec.items if it.kind is ItemKind.vague and it.data_as(AskData).what]
    if (
        not any(it.kind in CONTENT_KINDS for it in rec.items)
        and not vague
        and not COHORT_WORDS.search(sentence)
    ):
        return ParseResult(status="refused", language=lang, message=off_topic(lang))
    if (out_of_scope := advice(sentence, lang)) is not None:
        return ParseResult(status="refused", language=lang, message=out_of_scope)
    built = build_en(rec.items) if en else build_ko(rec.items)
    spec, problems, notes = assemble(built, lang, sentence)
    notes = rec.notes + notes
    if problems or spec is None:
        head = say("not_whole_question", lang)
        message = head + " ".join(p.question for p in problems[:3])
        if not problems:
            message = head + say("nothing_to_select", lang)
        return ParseResult(
            status="clarify",
            language=lang,
            message=message,
            notes=notes,
            clarifications=[
                Clarification(question=p.question, span=p.span, choices=p.choices) for p in problems
            ],
        )
    other = _age_at_other_event(sentence, spec) if lang == "ko" else None
    if other is not None:
        q = say("age_at_other_event", lang, event=other)
        return ParseResult(
            status="clarify",
            language=lang,
            message=say("not_whole_question", lang) + q,
            notes=notes,
            clarifications=[Clarification(question=q, span=other)],
        )
    if listed.lists:
        spec = spec.model_copy(update={"lists": listed.lists})
    return ParseResult(status="ok", language=lang, spec=spec, notes=notes)
