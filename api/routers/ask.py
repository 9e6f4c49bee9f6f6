"""POST /v1/ask — a question in English or Korean → status, spec, read-back, clarifications, SQL,
attrition and count (stored as a cohort run when it parses).

A question back (``clarify``) is a way forward: the answer carries a ``followup`` (the question with the
words in doubt marked, the read-back of the understood part, one-click choices), and a picked choice
comes back as ``answers`` beside the original question, applied here by :mod:`cohort_engine.followups`
before the question is read. The followup goes to the asker only: it is built for this response and
never stored, and the audit log records the answers' actions and digests, never their words."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import APIRouter, Request, Response

from cohort_engine.api.audit import note, text_digest
from cohort_engine.api.auth import HeavyResearcherKey
from cohort_engine.api.context import AppContext, Ctx
from cohort_engine.api.errors import ApiError, responses
from cohort_engine.api.parsing import followup_terms, rule_reader
from cohort_engine.api.schemas import AskRequest, CohortResult
from cohort_engine.api.views import sees_definition
from cohort_engine.followups import Answer, ConceptOption, Followup, apply_answers, followup
from cohort_engine.nlq.result import Clarification
from cohort_engine.nlq.text import normalise
from cohort_engine.pipeline import TimingRecord, Timings, timing_scope

router = APIRouter(prefix="/v1", tags=["ask"])


@router.post(
    "/ask",
    response_model=CohortResult,
    summary="Ask a cohort question",
    description=(
        "Parses the question, resolves its clinical terms in the mart's vocabulary, compiles and runs the "
        "cohort, and answers with the read-back, resolved codes, SQL, attrition and count. `status` is `ok`, "
        "`clarify` (see `followup`: the understood part and one-click choices; resend the same question "
        "with a choice's `answers`), `refused` or `error`. "
        "Researchers see noisy counts of persons (keyed, consistent noise: the same persons always give the "
        "same number) and '<k' below the threshold `k`, never rows or person ids (docs/PRIVACY.md). "
        "`imaging` counts the cohort's indexed images per modality (null without a DICOM index). "
        "`parser` picks the reader "
        "(`rule`, default; `llm`; `hybrid`); `llm`/`hybrid` on a server without a chat model answer 409 "
        "`parser_unavailable`, saying what the operator sets."
    ),
    responses=responses(401, 403, 409, 422, 503, 504),
)
def ask(
    body: AskRequest, request: Request, response: Response, ctx: Ctx, p: HeavyResearcherKey
) -> CohortResult:
    started = time.perf_counter()
    served = ctx.settings.mart_name
    if body.mart is not None and body.mart not in (served, Path(served).stem):
        raise ApiError(422, "unknown_mart", f"This server serves the mart “{served}” only.")
    edited = apply_answers(body.question, body.answers)
    overrides = {**body.overrides, **edited.overrides}
    with timing_scope() as runs:
        result, audit = ctx.service.ask(edited.question, overrides, p, parser=body.parser)
    details: dict[str, object] = {
        "question": text_digest(body.question),
        "status": result.status,
        "parser": body.parser,
        "overrides": sorted(overrides),
    }
    if body.answers:
        details["answers"] = [
            {
                "action": e.answer.action,
                "applied": e.applied,
                "span": text_digest(e.answer.span or e.answer.term or ""),
            }
            for e in edited.applied
        ]
        details["asked"] = text_digest(edited.question)
    note(
        request,
        spec=result.spec.model_dump(mode="json") if result.spec else None,
        details=details,
        **{k: v for k, v in audit.items() if k != "status"},
    )
    timings = request_timings(started, runs[-1] if runs else None)
    response.headers["Server-Timing"] = timings.server_timing()
    update: dict[str, object] = {"timings": timings}
    # echoed as the parser read it: control characters (ESC, NUL, BEL …) never travel back
    asked = normalise(edited.question)
    if body.answers:
        update.update(asked=asked, applied=edited.applied)
    if result.status == "clarify" and sees_definition(p):
        update["followup"] = _followup(ctx, asked, result, body.answers)
    return result.model_copy(update=update)


def request_timings(started: float, run: TimingRecord | None) -> Timings:
    """The request's stage times (``cohort_engine.pipeline.Timings``): the pipeline's own, ``parse`` =
    everything before the run began (the parse and the request's checks), ``total`` = the request up
    to the response (storing the run included)."""
    total = round((time.perf_counter() - started) * 1000, 3)
    if run is None:  # nothing ran: a refusal or a question back before resolution
        return Timings(parse=total, total=total)
    parse = round((run.started - started) * 1000, 3)
    return run.timings.model_copy(update={"parse": parse, "total": total})


def _followup(ctx: AppContext, question: str, result: CohortResult, earlier: list[Answer]) -> Followup:
    """The way forward from this ``clarify`` answer: the parser's (or the resolver's) questions back,
    the candidate concepts of ambiguous terms, tried on the rule parser; close vocabulary terms from
    the lexicon and the served mart's concept names."""
    clarifications = [
        Clarification(
            question=c.question, span=c.span, choices=[ch.label for ch in c.choices if ch.concept_id is None]
        )
        for c in result.clarifications
    ]
    concepts = [
        ConceptOption(term=ch.term, concept_id=ch.concept_id, label=ch.label)
        for c in result.clarifications
        for ch in c.choices
        if ch.concept_id is not None and ch.term
    ]
    with ctx.pool.connection() as con:
        terms = followup_terms(ctx.settings.mart, con)
    return followup(
        question,
        clarifications,
        language=result.language,
        read=rule_reader(),
        terms=terms,
        concepts=concepts,
        earlier=earlier,
    )
