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

from datetime import date

from cohort_engine.nlq.assemble import assemble
from cohort_engine.nlq.grammar_en import build_en
from cohort_engine.nlq.grammar_ko import build_ko
from cohort_engine.nlq.guard import COHORT_WORDS, advice, named_person_ko, off_topic, refusal
from cohort_engine.nlq.items import ItemKind
from cohort_engine.nlq.messages import say
from cohort_engine.nlq.recognise import recognise
from cohort_engine.nlq.result import Clarification, ParseResult
from cohort_engine.nlq.text import detect_language, normalise

MAX_CHARS = 1000
CONTENT_KINDS = {ItemKind.term, ItemKind.event, ItemKind.modality, ItemKind.name, ItemKind.age, ItemKind.sex}


def parse(text: str, today: date | None = None) -> ParseResult:
    """Parse one sentence. ``today`` anchors relative spans ("last 3 months", "최근 6개월")."""
    today = today or date.today()
    sentence = normalise(text)
    lang = detect_language(sentence)
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
    rec = recognise(sentence, lang, today)
    if lang == "ko" and named_person_ko(
        sentence, [it.text for it in rec.items if it.kind is ItemKind.unknown]
    ):
        return ParseResult(status="refused", language=lang, message=refusal("이름", lang) or "")
    if not any(it.kind in CONTENT_KINDS for it in rec.items) and not COHORT_WORDS.search(sentence):
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
    return ParseResult(status="ok", language=lang, spec=spec, notes=notes)
