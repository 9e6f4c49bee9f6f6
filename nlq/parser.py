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
from cohort_engine.nlq.recognise import recognise
from cohort_engine.nlq.result import Clarification, ParseResult
from cohort_engine.nlq.text import detect_language, normalise

MAX_CHARS = 1000
CONTENT_KINDS = {"term", "event", "modality", "name", "age", "sex"}


def parse(text: str, today: date | None = None) -> ParseResult:
    """Parse one sentence. ``today`` anchors relative spans ("last 3 months", "최근 6개월")."""
    today = today or date.today()
    sentence = normalise(text)
    lang = detect_language(sentence)
    en = lang == "en"
    if not sentence:
        return ParseResult(
            status="clarify",
            language=lang,
            message="The question is empty." if en else "질문이 비어 있습니다.",
        )
    if len(sentence) > MAX_CHARS:
        return ParseResult(
            status="clarify",
            language=lang,
            message=f"The question is longer than {MAX_CHARS} characters; ask one cohort at a time."
            if en
            else f"질문이 {MAX_CHARS}자를 넘습니다. 코호트 하나씩 물어 주세요.",
        )
    refused = refusal(sentence, lang)
    if refused:
        return ParseResult(status="refused", language=lang, message=refused)
    rec = recognise(sentence, lang, today)
    if lang == "ko" and named_person_ko(sentence, [it.text for it in rec.items if it.kind == "unknown"]):
        return ParseResult(status="refused", language=lang, message=refusal("이름", lang) or "")
    if not any(it.kind in CONTENT_KINDS for it in rec.items) and not COHORT_WORDS.search(sentence):
        return ParseResult(status="refused", language=lang, message=off_topic(lang))
    if (out_of_scope := advice(sentence, lang)) is not None:
        return ParseResult(status="refused", language=lang, message=out_of_scope)
    built = build_en(rec.items) if en else build_ko(rec.items)
    spec, problems, notes = assemble(built, lang, sentence)
    notes = rec.notes + notes
    if problems or spec is None:
        head = (
            "I could not turn the whole question into cohort rules: "
            if en
            else "질문 전체를 코호트 조건으로 바꾸지 못했습니다: "
        )
        message = head + " ".join(p.question for p in problems[:3])
        if not problems:
            message = head + ("nothing to select." if en else "선택할 조건이 없습니다.")
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
