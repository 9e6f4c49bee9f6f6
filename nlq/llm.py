"""The LLM front end: one sentence → ``ParseResult`` through a LangChain chat model.

The model only *reads*: it turns the question into the same ``CohortSpec`` the rule parser produces
(``cohort_engine/spec.py``) and never writes SQL. Its spec goes through the same downstream as the rule
parser's (term resolution, compilation, the SQL guard), so nothing it says runs unchecked.

Order of things, for :func:`parse` and :func:`parse_hybrid` alike:

1. the chat model is resolved (the ``model`` argument, else ``COHORT_LLM_MODEL`` through
   ``langchain.chat_models.init_chat_model``); without one, :class:`LLMNotConfigured` says what to set;
2. the rule parser runs first: a request it refuses (destructive, identifying, off-topic, advice) is
   returned as refused and never reaches the model, and neither does an empty or over-long question;
3. the prompt: system instructions (the README's cohort conventions), the spec's JSON Schema, a compact
   description of the mart, few-shot examples, and the question with today's date — nothing else. The
   mart description, its visit types and the example pool come in as a :class:`PromptContext`: this
   stage knows neither the mart catalogue nor the gold set. ``cohort_engine.parsers`` builds it (the
   examples are ``nlq/data/few_shot.jsonl``, generated from the dev split only by
   ``cohort_engine.evals.few_shot``);
4. the answer ``{status, spec?, message?, clarifications?}`` comes through ``with_structured_output``
   when the model supports it, else as JSON in text (code fences stripped); it is validated with
   pydantic, plus a grounding check (no concept ids, visit types or code set names the user did not
   write); an invalid answer gets one repair round with the validation errors, then becomes a
   ``clarify`` with a plain message. A failing provider also becomes a ``clarify``: the user never
   sees an exception or a stack trace.

Privacy: the prompt holds the question and the schema/examples only; logs carry the question's
length, never its words; LangSmith tracing is switched off around the model calls.

LangChain is an optional dependency (``pip install 'cohort-engine[llm]'`` plus the provider's
package); it is imported inside the functions that need it, so the rest of the engine never does.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cohort_engine.nlq.parser import MAX_CHARS
from cohort_engine.nlq.parser import parse as rule_parse
from cohort_engine.nlq.result import Clarification, ParseResult
from cohort_engine.nlq.text import detect_language, normalise
from cohort_engine.spec import CohortSpec, EventFilter, spec_json_schema

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

log = logging.getLogger(__name__)

#: A LangChain chat model identifier for ``init_chat_model``, e.g. 'openai:gpt-4o-mini'.
LLM_ENV = "COHORT_LLM_MODEL"
#: How many few-shot examples the prompt shows (default :data:`DEFAULT_K`).
EXAMPLES_ENV = "COHORT_LLM_EXAMPLES"
DEFAULT_K = 6
#: The model's answer, echoed back in the repair round, is cut to this many characters.
MAX_ECHO_CHARS = 6000

NOT_CONFIGURED = (
    f"No LLM is configured: set {LLM_ENV} to a LangChain chat model identifier (as accepted by "
    "langchain.chat_models.init_chat_model, e.g. 'openai:gpt-4o-mini' or "
    "'anthropic:claude-3-5-sonnet-latest'), install the LLM extra and the provider's package "
    "(pip install 'cohort-engine[llm]' langchain-openai), and put the provider's API key in its usual "
    "environment variable (e.g. OPENAI_API_KEY). "
    "Without one, use the offline parser: --parser rule."
)


class LLMNotConfigured(RuntimeError):
    """No chat model was given and none can be built from the environment (the message says what to set)."""


class LLMAnswer(BaseModel):
    """What the model must return: a status, and a spec when the status is 'ok'."""

    model_config = ConfigDict(extra="forbid", title="CohortAnswer")

    status: Literal["ok", "clarify", "refused"] = Field(
        description="ok: the spec says everything; clarify: ask back; "
        "refused: not a cohort request this engine serves."
    )
    spec: CohortSpec | None = Field(
        default=None, description="The cohort specification, only when status is 'ok'."
    )
    message: str = Field(
        default="", description="For clarify/refused: one sentence in the question's language."
    )
    clarifications: list[Clarification] = Field(
        default_factory=list,
        description="For clarify: what is unclear, the words in doubt, readings to choose from.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> LLMAnswer:
        if self.status == "ok" and self.spec is None:
            raise ValueError("status 'ok' needs a spec")
        if self.status != "ok":
            self.spec = None
        if self.status == "clarify" and not self.message.strip() and not self.clarifications:
            raise ValueError("status 'clarify' needs a message or clarifications")
        return self


# ---------------------------------------------------------------------------------------- the model
def resolve_model(model: BaseChatModel | None = None) -> BaseChatModel:
    """``model`` itself, else the chat model named by ``COHORT_LLM_MODEL``.

    Raises:
        LLMNotConfigured: neither is available, langchain is missing, or the model cannot be built.
    """
    if model is not None:
        return model
    ident = os.environ.get(LLM_ENV, "").strip()
    if not ident:
        raise LLMNotConfigured(NOT_CONFIGURED)
    return _init_model(ident)


@lru_cache(maxsize=4)
def _init_model(ident: str) -> BaseChatModel:
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise LLMNotConfigured(
            f"{LLM_ENV}={ident!r} is set, but langchain is not installed: pip install 'cohort-engine[llm]' "
            "and the provider's package (e.g. langchain-openai). Without it, use --parser rule."
        ) from None
    try:
        return init_chat_model(ident, temperature=0)
    except Exception as e:  # any provider: missing package, unknown id, missing key
        first = str(e).splitlines()[0][:300] if str(e) else ""
        raise LLMNotConfigured(
            f"{LLM_ENV}={ident!r} could not be loaded by langchain.chat_models.init_chat_model "
            f"({type(e).__name__}: {first}). Install the provider's package, set its API key, "
            "or use --parser rule."
        ) from None


@contextmanager
def _no_tracing() -> Iterator[None]:
    """Keep LangSmith tracing off around model calls, whatever the environment says.

    A trace would ship the prompt, and with it the question, to LangSmith.
    """
    try:
        from langsmith.run_helpers import tracing_context
    except ImportError:  # pragma: no cover - langsmith comes with langchain-core
        yield
        return
    with tracing_context(enabled=False):
        yield


# ---------------------------------------------------------------------------------------- the prompt
INSTRUCTIONS = """\
You read one researcher's question (English or Korean) about patients in an OMOP CDM hospital mart and \
turn it into a cohort specification. You never write SQL: the engine resolves the terms, compiles, checks \
and runs the specification itself.

Reply with ONE JSON object and nothing else:
{"status": "ok" | "clarify" | "refused", "spec": <CohortSpec, only when status is "ok">, \
"message": "<one sentence, in the question's language, for clarify or refused>", "clarifications": \
[{"question": "...", "span": "<the words in doubt>", "choices": ["reading 1", "reading 2"]}]}

Which status:
* "ok" only when every part of the question maps onto the specification without a guess.
* "clarify" when unsure: vague words ("elderly", "recently", "high", "long-term", "고령", "최근"), durations \
("for more than a year"), "most recent" values, a window without a direction or an anchor, a term that is \
not clinical, or a rule the specification cannot express. Ask back with the readings as choices; never guess.
* "refused" for requests to change or delete data; anything identifying people (names, record, resident or \
phone numbers, addresses, birth dates, note or report text); medical advice, recommendations or predictions; \
anything that is not selecting patients. Say why in "message".

Cohort semantics (OHDSI Circe):
* The index event is every occurrence of the index concept set inside its date range; "first" / "newly \
diagnosed" / "처음" = first_occurrence (the person's first-ever event, chosen before the date range).
* Demographics are evaluated at the index date; age = year(index date) - year_of_birth.
* Each criterion counts events of its domain and concept set inside a window relative to the index event \
("anchor": "index") or to the events of an earlier criterion (its label); its occurrence (at_least / \
at_most / exactly N) decides it. Absence is exactly 0: {"type": "exactly", "count": 0}; exclusions \
("without", "never", "no history of") are written that way. A criterion anchored on another must come after \
it and must not be anchored on an absence.
* A person qualifies when any one index event satisfies the demographics and every criterion.
* Dates and windows are inclusive at both ends, in whole days; window start/end are days relative to the \
anchor, negative before it, null unbounded. "within N days after X" = 0..N; "N to M days after" = N..M; \
"within N days before" = -N..0; "within N days of" = -N..N; "on the same day" = 0..0; \
plain "after X" = 0..null; "before X" = null..0; "prior X" / "history of X" / "병력" = null..-1; \
"at least N days after" = N..null; \
"more than N" is strict (N+1); a week is 7 days, a month 30, a year 365. "for ten days from 2023-10-01" = \
2023-10-01..2023-10-10. Korean 이후/이전 include the reference ("2020년 이전" ends 2020-12-31); English \
"before 2020" ends 2019-12-31. Calendar spans use the calendar ("last 3 months" = the 3 months ending today, \
"작년" = the previous calendar year); today's date comes with the question.
* Ages: "65 or older" / "65세 이상" = age_min 65; "over 65" / "65세 초과" = age_min 66; "under 18" / \
"18세 미만" = age_max 17; "40대" = 40..49. Sex: "male" / "female".
* "diagnosed with X" = condition domain, terms [X] (descendants are included by the engine).
* "A and B" = two criteria; "A or B" = one concept set with both terms.
* "a surgery for X" / "수술명에 X이 있는" with X a disease = procedure domain, terms [X] \
(the engine reads the procedures treating X); a quoted or literal surgery name = name_contains ["..."].
* Admission / inpatient / 입원 = visit domain, visit_concept_ids [9201, 262]; ER / 응급실 = [9203, 262]; \
outpatient = [9202]; any visit = visit domain with no visit types.
* Imaging ("chest CT", "brain MRI") = imaging domain with an imaging filter \
{"modalities": DICOM codes (CT, MR, CR, DX, US, XA, NM, PT, MG), \
"body_parts": DICOM body parts (CHEST, HEAD, HEART, KNEE, ABDOMEN …)} and empty \
concepts; echocardiography = US / HEART.
* "their CT scans (within 30 days after the surgery)" / "환자들의 … 영상을 모아줘" asks which of \
the cohort's images to return: the spec's top-level "imaging" request {modalities, body_parts, window?}, \
not a criterion.
* A lab value ("HbA1c above 7") = measurement domain, terms [the test], value {"op": ">", "value": 7}; \
"between" needs value_high; give the unit the user wrote, if any.
* Death = death domain; empty concepts unless a cause is named.

Concepts: never invent concept ids or codes. Put every clinical mention (diagnosis, procedure, drug, test) \
into ConceptSet.terms as the user wrote it, one term per alternative; the engine resolves terms against the \
mart's vocabulary. Use concept_ids only for ids the user typed, codeset only for a saved code set the user \
named. Criterion labels are short unique words ("surgery", "statin", "hba1c"), never "index". Set \
"language" to the question's language ("en" or "ko"); write message and clarifications in that language.
"""


class FewShotExample(BaseModel):
    """One example turn of the prompt: a dev-split question and the spec answered for it.

    The spec is the rule parser's reading, kept only where it agrees with every field of the
    hand-written gold spec; it is computed when the pool file is generated, not at question time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    intent: str = Field(min_length=1, description="Paraphrases share an intent; a prompt shows one of each.")
    question: str = Field(min_length=1)
    today: date | None = Field(default=None, description="The reference date the question was read with.")
    spec: dict[str, Any] = Field(description="The answer's spec, as shown to the model (defaults left out).")


class PromptContext(BaseModel):
    """What a prompt says besides the question, handed in by the caller (this stage reads no mart)."""

    model_config = ConfigDict(frozen=True)

    mart_description: str = Field(description="The mart's tables per spec domain, in a few lines of text.")
    visit_concept_ids: tuple[int, ...] = Field(description="The visit types a spec may name unasked.")
    examples: tuple[FewShotExample, ...] = Field(description="The few-shot pool: dev-split questions only.")


@lru_cache(maxsize=4)
def system_prompt(mart_description: str) -> str:
    schema = json.dumps(spec_json_schema(), ensure_ascii=False, separators=(",", ":"))
    return (
        f"{INSTRUCTIONS}\nThe CohortSpec JSON Schema:\n{schema}\n\n{mart_description}\n\n"
        "Examples follow: each question with the answer you should give."
    )


def _user_turn(question: str, today: date | None) -> str:
    return (f"Today: {today.isoformat()}\n" if today else "") + f"Question: {question}"


def similarity(a: str, b: str) -> float:
    """Deterministic token similarity (rapidfuzz): mean of the token-sort and token-set ratios."""
    from rapidfuzz import fuzz

    a, b = a.casefold(), b.casefold()
    return (fuzz.token_sort_ratio(a, b) + fuzz.token_set_ratio(a, b)) / 2.0


def select_examples(
    question: str, examples: Sequence[FewShotExample], k: int = DEFAULT_K
) -> list[FewShotExample]:
    """The ``k`` examples most similar to ``question``: one per intent, most similar first (ties by id).

    The question itself, when it is in the pool, is never its own example.
    """
    if k <= 0:
        return []
    q = normalise(question)
    ranked = sorted(examples, key=lambda e: (-similarity(q, e.question), e.id))
    out: list[FewShotExample] = []
    intents: set[str] = set()
    for e in ranked:
        if e.intent in intents or normalise(e.question).casefold() == q.casefold():
            continue
        intents.add(e.intent)
        out.append(e)
        if len(out) >= k:
            break
    return out


def _k_default() -> int:
    raw = os.environ.get(EXAMPLES_ENV, "").strip()
    try:
        return max(0, int(raw)) if raw else DEFAULT_K
    except ValueError:
        return DEFAULT_K


def build_messages(
    text: str, today: date | None = None, *, context: PromptContext, k: int | None = None
) -> list[BaseMessage]:
    """System instructions + schema + mart, the few-shot turns, and the question (with today's date)."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    question = normalise(text)
    messages: list[BaseMessage] = [SystemMessage(content=system_prompt(context.mart_description))]
    for ex in select_examples(question, context.examples, _k_default() if k is None else k):
        messages.append(HumanMessage(content=_user_turn(ex.question, ex.today)))
        messages.append(AIMessage(content=json.dumps({"status": "ok", "spec": ex.spec}, ensure_ascii=False)))
    messages.append(HumanMessage(content=_user_turn(question, today or date.today())))
    return messages


# ---------------------------------------------------------------------------------------- the answer
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The JSON value in a model's text reply: code fences stripped, prose around one object tolerated.

    Raises:
        ValueError: no JSON object could be read.
    """
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for cand in candidates:
        cand = cand.strip()
        try:
            return json.loads(cand)
        except json.JSONDecodeError:
            pass
        start = cand.find("{")
        if start >= 0:
            try:
                return json.JSONDecoder().raw_decode(cand[start:])[0]
            except json.JSONDecodeError:
                pass
    raise ValueError("the reply holds no JSON object")


def _content_text(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b if isinstance(b, str) else str(b.get("text", "")) for b in content if isinstance(b, str | dict)
        )
    return str(content or "")


def _ungrounded(spec: CohortSpec, question: str, visit_concept_ids: Sequence[int]) -> list[str]:
    """Ids, visit types and code set names the user did not write: the model must not invent them."""
    numbers = set(re.findall(r"\d+", question))
    problems: list[str] = []
    filters: list[tuple[str, EventFilter]] = [
        ("index", spec.index),
        *((f"criteria[{c.label}]", c) for c in spec.criteria),
    ]
    for where, f in filters:
        invented = [
            i for i in (*f.concepts.concept_ids, *f.concepts.exclude_concept_ids) if str(i) not in numbers
        ]
        if invented:
            problems.append(
                f"{where}.concepts: concept ids {invented} are not in the question; never invent concept "
                "ids, put the clinical mention in terms"
            )
        odd = [v for v in f.visit_concept_ids if v not in visit_concept_ids and str(v) not in numbers]
        if odd:
            problems.append(
                f"{where}.visit_concept_ids: {odd} are not visit types "
                f"({', '.join(map(str, visit_concept_ids))})"
            )
        name = f.concepts.codeset
        if name and name.casefold() not in question.casefold():
            problems.append(f"{where}.concepts.codeset: the question names no code set {name!r}; use terms")
    return problems


def validate_answer(
    data: Any, question: str, visit_concept_ids: Sequence[int]
) -> tuple[LLMAnswer | None, str]:
    """(answer, "") or (None, what is wrong, in words the model can act on).

    ``visit_concept_ids`` are the mart's visit types, which a spec may use without the user typing them.
    """
    if isinstance(data, dict) and "status" not in data and "index" in data:
        data = {"status": "ok", "spec": data}  # a bare spec is an 'ok'
    if not isinstance(data, dict):
        return None, "the reply must be one JSON object {status, spec?, message?, clarifications?}"
    try:
        answer = LLMAnswer.model_validate(data)
    except ValidationError as e:
        errs = e.errors(include_url=False, include_input=False)
        detail = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in errs[:10]
        )
        return None, f"{len(errs)} validation error(s): {detail}"
    if answer.spec is not None and (problems := _ungrounded(answer.spec, question, visit_concept_ids)):
        return None, "; ".join(problems)
    return answer, ""


def _structured(model: BaseChatModel) -> Any | None:
    """The model wrapped with ``with_structured_output`` (raw output kept), or None where unsupported."""
    try:
        return model.with_structured_output(
            {**LLMAnswer.model_json_schema(), "description": "A cohort answer: status, spec when ok."},
            include_raw=True,
        )
    except (NotImplementedError, ValueError, TypeError, AttributeError):
        return None


def _call(model: BaseChatModel, structured: Any | None, messages: list[BaseMessage]) -> tuple[Any, str]:
    """(parsed JSON or None, the reply as text for a repair round). Provider errors propagate."""
    if structured is not None:
        try:
            out = structured.invoke(messages)
        except Exception:  # e.g. the provider rejects the schema: read plain text instead
            log.info("llm: structured output failed; falling back to JSON in text")
        else:
            parsed = out.get("parsed") if isinstance(out, dict) else out
            if isinstance(parsed, BaseModel):
                parsed = parsed.model_dump(mode="json")
            if isinstance(parsed, dict):
                return parsed, json.dumps(parsed, ensure_ascii=False)
            raw = out.get("raw") if isinstance(out, dict) else None
            for call in getattr(raw, "tool_calls", None) or []:
                if isinstance(call.get("args"), dict):
                    return call["args"], json.dumps(call["args"], ensure_ascii=False)
            text = _content_text(raw) if raw is not None else ""
            try:
                return extract_json(text), text
            except ValueError:
                return None, text
    text = _content_text(model.invoke(messages))
    try:
        return extract_json(text), text
    except ValueError:
        return None, text


REPAIR = (
    "Your answer could not be used: {error}. Reply again with one corrected JSON object "
    "{{status, spec?, message?, clarifications?}} and nothing else."
)


def _ask_model(
    model: BaseChatModel, messages: list[BaseMessage], question: str, visit_concept_ids: Sequence[int]
) -> tuple[LLMAnswer | None, bool]:
    """(a valid answer or None, whether a repair round was used)."""
    from langchain_core.messages import AIMessage, HumanMessage

    structured = _structured(model)
    with _no_tracing():
        data, raw = _call(model, structured, messages)
        answer, error = validate_answer(data, question, visit_concept_ids)
        if answer is not None:
            return answer, False
        repair = [
            *messages,
            AIMessage(content=raw[:MAX_ECHO_CHARS] or "(empty)"),
            HumanMessage(content=REPAIR.format(error=error)),
        ]
        data, _ = _call(model, structured, repair)
        answer, _ = validate_answer(data, question, visit_concept_ids)
        return answer, True


def _msg(lang: str, en: str, ko: str) -> str:
    return en if lang == "en" else ko


NOTE_LLM = (
    "Read by the LLM (language model), not the rule parser: check the read-back before using the cohort.",
    "이 질문은 규칙 파서가 아닌 LLM(언어 모델)이 읽었습니다. "
    "코호트를 쓰기 전에 읽어 드린 내용을 확인해 주세요.",
)
NOTE_HYBRID = (
    "The rule parser could not settle this question, so it was read by the LLM (language model): "
    "check the read-back before using the cohort.",
    "규칙 파서가 이 질문을 다 읽지 못해 LLM(언어 모델)이 읽었습니다. "
    "코호트를 쓰기 전에 읽어 드린 내용을 확인해 주세요.",
)
UNREADABLE = (
    "The language model's answer could not be read as a cohort specification; rephrase the question "
    "or use the rule parser (--parser rule).",
    "언어 모델의 답을 코호트 명세로 읽을 수 없습니다. "
    "질문을 바꿔 쓰거나 규칙 파서(--parser rule)를 써 주세요.",
)
REFUSED = (
    "The language model declined this request: it is not a cohort question this engine answers.",
    "언어 모델이 이 요청을 거절했습니다. 이 엔진이 답하는 코호트 질문이 아닙니다.",
)
CLARIFY = (
    "The question is not clear enough to select patients; please say more precisely what you mean.",
    "환자를 고르기에 질문이 충분히 분명하지 않습니다. 뜻하는 바를 더 정확히 말씀해 주세요.",
)


def _unreachable(lang: str, error: Exception) -> str:
    return _msg(
        lang,
        f"The language model could not be reached ({type(error).__name__}); try again, or use the "
        "rule parser (--parser rule).",
        f"언어 모델에 연결하지 못했습니다({type(error).__name__}). "
        "다시 시도하거나 규칙 파서(--parser rule)를 써 주세요.",
    )


def _guarded(text: str, today: date | None) -> ParseResult | None:
    """The rule parser's result when the model must not see the question (empty, too long), else None."""
    sentence = normalise(text)
    if not sentence or len(sentence) > MAX_CHARS:
        return rule_parse(text, today=today)
    return None


def _llm_read(
    text: str,
    today: date | None,
    model: BaseChatModel,
    note: tuple[str, str],
    context: PromptContext,
    k: int | None,
) -> tuple[ParseResult, bool]:
    """Ask the model (the caller has run the refusal guard): (its answer as a ParseResult, whether the
    model failed — unreachable, or no usable answer after the repair round)."""
    question = normalise(text)
    lang = detect_language(question)
    messages = build_messages(question, today, context=context, k=k)
    try:
        answer, repaired = _ask_model(model, messages, question, context.visit_concept_ids)
    except Exception as e:  # provider down, auth, quota …: an answer, not a traceback
        log.warning(
            "llm parse: question of %d chars, model call failed (%s)", len(question), type(e).__name__
        )
        return ParseResult(status="clarify", language=lang, message=_unreachable(lang, e), parser="llm"), True
    log.info(
        "llm parse: question of %d chars, %d examples, status=%s, repaired=%s",
        len(question),
        (len(messages) - 2) // 2,
        answer.status if answer else "unreadable",
        repaired,
    )
    if answer is None:
        return ParseResult(
            status="clarify", language=lang, message=_msg(lang, *UNREADABLE), parser="llm"
        ), True
    if answer.status == "refused":
        return ParseResult(
            status="refused",
            language=lang,
            message=answer.message.strip() or _msg(lang, *REFUSED),
            parser="llm",
        ), False
    if answer.status == "clarify":
        return ParseResult(
            status="clarify",
            language=lang,
            message=answer.message.strip() or _msg(lang, *CLARIFY),
            clarifications=answer.clarifications,
            parser="llm",
        ), False
    assert answer.spec is not None  # LLMAnswer guarantees it for 'ok'
    spec = answer.spec.model_copy(update={"language": lang})
    return ParseResult(status="ok", language=lang, spec=spec, notes=[_msg(lang, *note)], parser="llm"), False


# ---------------------------------------------------------------------------------------- entry points
def parse(
    text: str,
    today: date | None = None,
    *,
    context: PromptContext,
    model: BaseChatModel | None = None,
    k: int | None = None,
) -> ParseResult:
    """Parse one sentence with the chat model (``model``, else ``COHORT_LLM_MODEL``).

    ``context`` carries the mart description and the few-shot pool the prompt shows
    (``cohort_engine.parsers.prompt_context`` builds the engine's own).

    The rule parser's refusal guard runs first; a refused request never reaches the model. ``k`` is
    the number of few-shot examples (default ``COHORT_LLM_EXAMPLES`` or 6).

    Raises:
        LLMNotConfigured: no model given and none configured (the message says what to set).
    """
    chat = resolve_model(model)
    if (early := _guarded(text, today)) is not None:
        return early
    ruled = rule_parse(text, today=today)
    if ruled.status == "refused":
        return ruled
    return _llm_read(text, today, chat, NOTE_LLM, context, k)[0]


def parse_hybrid(
    text: str,
    today: date | None = None,
    *,
    context: PromptContext,
    model: BaseChatModel | None = None,
    k: int | None = None,
) -> ParseResult:
    """Rule parser first; the LLM only reads what the rule parser asks back about.

    ``ok`` from the rule parser is used as is; ``refused`` stays refused; on ``clarify`` the model is
    asked, and its spec is used (with a note saying the LLM read it) when it answers ``ok``, its
    refusal when it refuses; otherwise the rule parser's own clarification stands (with a note when
    the model could not be reached or gave no usable answer).

    Raises:
        LLMNotConfigured: no model given and none configured (the message says what to set).
    """
    chat = resolve_model(model)
    ruled = rule_parse(text, today=today)
    if ruled.status != "clarify" or _guarded(text, today) is not None:
        return ruled
    read, failed = _llm_read(text, today, chat, NOTE_HYBRID, context, k)
    if read.status in ("ok", "refused"):
        return read
    if failed:  # say why the LLM did not help; the rule parser's clarification stands
        return ruled.model_copy(update={"notes": [*ruled.notes, read.message]})
    return ruled
