"""The LLM front end: one sentence → ``ParseResult`` through a LangChain chat model.

The model only *reads*: it turns the question into the same ``CohortSpec`` the rule parser produces
(``cohort_engine/spec.py``) and never writes SQL. Its spec goes through the same downstream as the rule
parser's (term resolution, compilation, the SQL guard), so nothing it says runs unchecked.

Order of things, for :func:`parse` and :func:`parse_hybrid` alike:

1. the chat model is resolved (the ``model`` argument, else :class:`LLMSettings` from the environment:
   ``COHORT_LLM_MODEL``, and for an OpenAI-compatible server — vLLM, Ollama, llama.cpp, a hosted API —
   ``COHORT_LLM_BASE_URL``, ``COHORT_LLM_API_KEY`` or ``COHORT_LLM_API_KEY_FILE``, ``COHORT_LLM_TIMEOUT_S``
   and ``COHORT_LLM_MAX_RETRIES``). A base URL or an ``openai:`` model id is served by
   ``langchain_openai.ChatOpenAI`` (Chat Completions, with the timeout and retries); any other id goes
   through ``langchain.chat_models.init_chat_model``. Without a model, :class:`LLMNotConfigured` says
   what to set;
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
   pydantic, plus a grounding check: nothing in the spec the user did not write (concept ids, visit
   types, code sets, terms, literal names, numbers of days, counts, values, years); an invalid
   answer gets one repair round with the validation errors, then becomes a ``clarify`` with a plain
   message. A failing provider also becomes a ``clarify``: the user never
   sees an exception or a stack trace. The model's own words (a refusal's or a clarification's message)
   are shown only when they look like a sentence: SQL, links, code, prompt echoes or long text are
   replaced by our message, so an injected answer cannot put SQL or instructions in front of the user.

Privacy: the prompt holds the question and the schema/examples only; logs carry the question's
length, never its words; LangSmith tracing is switched off around the model calls.

LangChain is an optional dependency (``pip install 'cohort-engine[llm]'`` plus the provider's
package); it is imported inside the functions that need it, so the rest of the engine never does.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cohort_engine.nlq.lexicon import compact, lookup
from cohort_engine.nlq.numbers import ENGLISH_NUMBERS, KOREAN_NUMBERS, KOREAN_SPAN_WORDS, days
from cohort_engine.nlq.parser import MAX_CHARS
from cohort_engine.nlq.parser import parse as rule_parse
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.result import Clarification, ParseResult
from cohort_engine.nlq.text import detect_language, normalise
from cohort_engine.spec import CohortSpec, EventFilter, Window, spec_json_schema

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

log = logging.getLogger(__name__)

#: A LangChain chat model identifier for ``init_chat_model``, e.g. 'openai:gpt-4o-mini'.
LLM_ENV = "COHORT_LLM_MODEL"
#: An OpenAI-compatible server's base URL (e.g. http://127.0.0.1:8000/v1 for vLLM); served by ChatOpenAI.
BASE_URL_ENV = "COHORT_LLM_BASE_URL"
#: The API key for that server (or for an ``openai:`` model); a file is better: see API_KEY_FILE_ENV.
API_KEY_ENV = "COHORT_LLM_API_KEY"
#: A file holding the API key: the user's own regular file, mode 0600 (checked like the release secret).
API_KEY_FILE_ENV = "COHORT_LLM_API_KEY_FILE"
#: Seconds one HTTP request to the model may take (default :data:`DEFAULT_TIMEOUT_S`).
TIMEOUT_ENV = "COHORT_LLM_TIMEOUT_S"
#: Retries of a failed request (timeouts, 408/409/429/5xx; Retry-After is honoured), default 2.
RETRIES_ENV = "COHORT_LLM_MAX_RETRIES"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 2
MAX_TIMEOUT_S = 600.0
MAX_RETRIES = 10
#: Sent as the key to a base-URL server when none is configured: local servers (vLLM, Ollama, llama.cpp)
#: want none, and the OpenAI client would otherwise fall back to OPENAI_API_KEY — the user's OpenAI key
#: must never go to another server.
NO_KEY = "no-key"
#: How many few-shot examples the prompt shows (default :data:`DEFAULT_K`).
EXAMPLES_ENV = "COHORT_LLM_EXAMPLES"
DEFAULT_K = 6
#: The model's answer, echoed back in the repair round, is cut to this many characters.
MAX_ECHO_CHARS = 6000

NOT_CONFIGURED = (
    f"No LLM is configured: set {LLM_ENV} to a LangChain chat model identifier (as accepted by "
    "langchain.chat_models.init_chat_model, e.g. 'openai:gpt-4o-mini' or "
    "'anthropic:claude-3-5-sonnet-latest'), install the LLM extra (pip install 'cohort-engine[llm]'; "
    "it brings langchain-openai; other providers need their own package), and put the provider's API "
    "key in its usual environment variable (e.g. OPENAI_API_KEY). For an OpenAI-compatible server "
    f"(vLLM, Ollama, llama.cpp, a hosted API) also set {BASE_URL_ENV} (e.g. http://127.0.0.1:8000/v1) "
    f"and, if it wants one, {API_KEY_FILE_ENV} (a 0600 file) or {API_KEY_ENV}. "
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
@dataclass(frozen=True)
class LLMSettings:
    """Which chat model to build and how to reach it (``COHORT_LLM_*``, read by :func:`settings_from_env`).

    Frozen and hashable: a model is built once per settings value and reused for every question.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)  # never in a repr, a log line or a message
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES

    @property
    def openai_compatible(self) -> bool:
        """Served by ChatOpenAI: a base URL is set, or the id is ``openai:…``."""
        return self.base_url is not None or self.model.startswith("openai:")


def _number_env(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise LLMNotConfigured(f"{name}={raw!r} is not a number from {low:g} to {high:g}")
    return value


def settings_from_env(
    environ: Mapping[str, str] | None = None, *, read_key_file: Callable[[Path], str] | None = None
) -> LLMSettings:
    """The LLM settings in ``environ`` (default ``os.environ``); errors say which variable is wrong.

    ``read_key_file`` reads ``COHORT_LLM_API_KEY_FILE``: this stage has no file checks of its own, so the
    caller hands in the project's secret-file check (``cohort_engine.parsers`` does; it must refuse a
    file that is not the user's own 0600 regular file, with a ``ValueError`` naming the problem).

    Raises:
        LLMNotConfigured: no model id, a malformed URL, timeout or retry count, both a key and a key
            file, or a key file that cannot be read or checked.
    """
    env = os.environ if environ is None else environ
    ident = env.get(LLM_ENV, "").strip()
    if not ident:
        raise LLMNotConfigured(NOT_CONFIGURED)
    base_url = env.get(BASE_URL_ENV, "").strip() or None
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LLMNotConfigured(
                f"{BASE_URL_ENV} must be an http(s) URL of an OpenAI-compatible server, "
                "e.g. http://127.0.0.1:8000/v1"
            )
    key = env.get(API_KEY_ENV, "").strip() or None
    key_file = env.get(API_KEY_FILE_ENV, "").strip()
    if key_file:
        if key is not None:
            raise LLMNotConfigured(f"set {API_KEY_ENV} or {API_KEY_FILE_ENV}, not both")
        if read_key_file is None:
            raise LLMNotConfigured(
                f"{API_KEY_FILE_ENV} is read through cohort_engine.parsers (the CLI, the REST API, the "
                "evals); a direct call needs model= or settings="
            )
        try:
            key = read_key_file(Path(key_file)).strip() or None
        except (OSError, ValueError) as e:  # the check's message names the problem, never the content
            raise LLMNotConfigured(f"{API_KEY_FILE_ENV}: {e}") from None
        if key is None:
            raise LLMNotConfigured(f"{API_KEY_FILE_ENV}: the key file is empty")
    return LLMSettings(
        model=ident,
        base_url=base_url,
        api_key=key,
        timeout_s=_number_env(env, TIMEOUT_ENV, DEFAULT_TIMEOUT_S, 0.05, MAX_TIMEOUT_S),
        max_retries=int(_number_env(env, RETRIES_ENV, DEFAULT_MAX_RETRIES, 0, MAX_RETRIES)),
    )


def resolve_model(
    model: BaseChatModel | None = None, *, settings: LLMSettings | None = None
) -> BaseChatModel:
    """``model`` itself, else the chat model of ``settings`` (default: :func:`settings_from_env`).

    Raises:
        LLMNotConfigured: neither is available, langchain is missing, or the model cannot be built.
    """
    if model is not None:
        return model
    return build_model(settings or settings_from_env())


def build_model(settings: LLMSettings) -> BaseChatModel:
    """ChatOpenAI for a base URL or an ``openai:`` id, else ``init_chat_model`` (imported only here)."""
    if settings.openai_compatible:
        return _openai_model(settings)
    if settings.api_key is not None:
        return _init_model(settings.model, settings.api_key)
    return _init_model(settings.model)


@lru_cache(maxsize=4)
def _openai_model(settings: LLMSettings) -> BaseChatModel:
    """A ChatOpenAI client on the Chat Completions API (what every OpenAI-compatible server speaks).

    The OpenAI client does the timeouts and retries (408/409/429/5xx and timeouts, honouring
    Retry-After); the Responses API is switched off, as other servers do not implement it.
    """
    where = f"{BASE_URL_ENV}={settings.base_url!r}" if settings.base_url else f"{LLM_ENV}={settings.model!r}"
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise LLMNotConfigured(
            f"{where} needs langchain-openai: pip install 'cohort-engine[llm]'. "
            "Without it, use --parser rule."
        ) from None
    name = settings.model.removeprefix("openai:").strip()
    if not name:
        raise LLMNotConfigured(
            f"{LLM_ENV} names no model (e.g. openai:gpt-4o-mini, or the server's model id)"
        )
    kwargs: dict[str, Any] = {
        "model": name,
        "temperature": 0,
        "timeout": settings.timeout_s,
        "max_retries": settings.max_retries,
        "use_responses_api": False,
    }
    if settings.base_url is not None:
        kwargs["base_url"] = settings.base_url
        kwargs["api_key"] = settings.api_key or NO_KEY
    elif settings.api_key is not None:
        kwargs["api_key"] = settings.api_key
    try:
        return ChatOpenAI(**kwargs)
    except Exception as e:  # e.g. no key for api.openai.com
        first = str(e).splitlines()[0][:300] if str(e) else ""
        raise LLMNotConfigured(
            f"{where}: the OpenAI-compatible client could not be built ({type(e).__name__}: {first}). "
            f"Set {API_KEY_FILE_ENV} or {API_KEY_ENV} (or OPENAI_API_KEY for api.openai.com), "
            "or use --parser rule."
        ) from None


@lru_cache(maxsize=4)
def _init_model(ident: str, api_key: str | None = None) -> BaseChatModel:
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise LLMNotConfigured(
            f"{LLM_ENV}={ident!r} is set, but langchain is not installed: pip install 'cohort-engine[llm]' "
            "and the provider's package (e.g. langchain-openai). Without it, use --parser rule."
        ) from None
    try:
        if api_key is not None:
            return init_chat_model(ident, temperature=0, api_key=api_key)
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
ER-to-inpatient / 응급실 경유 입원 = [262]; outpatient = [9202]; any visit = visit domain with no visit types.
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
_FENCE = regex(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)


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


_NUMBER = regex(r"\d+(?:\.\d+)?")
_WORD = regex(r"\w+")
#: A criterion label: a short name (at most three words), which the read-back shows in brackets.
_LABEL = regex(r"[^\W_][\w-]*(?: [\w-]+){0,2}")
#: DICOM code strings (modality, body part examined): capitals, digits, '_' and spaces, 16 at most.
_DICOM_CODE = regex(r"[A-Z0-9_ ]{1,16}")
#: "in their sixties": decades written as words (the digits and Korean "60대" are numbers already).
_DECADES = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70}
_DECADES |= {"eighties": 80, "nineties": 90}
#: Units of time a window may be written in, in days (README: a week 7, a month 30, a year 365).
_DAY_UNITS = (1, 7, 30, 365)


def question_numbers(question: str) -> set[float]:
    """Every number the question writes: digits, English number words, Korean counting and span words.

    Generous on purpose (a Korean counting word inside another word counts too): the set only bounds
    what the model may put in a spec, and a missing number would send a good answer to repair.
    """
    q = question.casefold().replace(",", "")
    nums = {float(m) for m in _NUMBER.findall(q)}
    nums |= {float(n) for w, n in ENGLISH_NUMBERS.items() if re.search(rf"\b{re.escape(w)}\b", q)}
    nums |= {float(n) for w, n in KOREAN_NUMBERS.items() if w in q}
    nums |= {float(n) for w, n in _DECADES.items() if w in q}
    cq = compact(q)
    for w, (n, unit) in KOREAN_SPAN_WORDS.items():
        if compact(w) in cq:
            nums |= {float(n), float(days(n, unit))}
    return nums


def _near(values: set[int]) -> set[int]:
    return {v + d for v in values for d in (-1, 0, 1)}


def _window_days(nums: set[float]) -> set[int]:
    """Window bounds the question can mean: N, N weeks, months or years, hours in days, each ±1
    ("more than N" is N+1, "prior" is -1), and a week, a month, a year unnumbered."""
    out = {0}
    for n in {1.0, *nums}:
        out |= _near({round(n * u) for u in _DAY_UNITS} | {math.ceil(n / 24)})
    return out


def _misspelt(word: str, question: str) -> bool:
    """A long word the question misspells ("hypertention"): the model may write it correctly."""
    from rapidfuzz import fuzz

    return len(word) >= 6 and any(fuzz.ratio(word, w) >= 85 for w in _WORD.findall(question))


def _grounded_text(text: str, question: str) -> bool:
    """Whether ``text`` is the user's words: each of its words is in the question (a plural 's' and
    spacing aside), or it is a lexicon name of a concept the question names in either language."""
    q = question.casefold()
    words = _WORD.findall(text.casefold())
    if all(w in q or (w.endswith("s") and w[:-1] in q) or _misspelt(w, q) for w in words):
        return True
    if compact(text) and compact(text) in compact(q):
        return True
    cq = compact(q)
    return any(compact(alias) in cq for entry in lookup(text) for alias in (*entry.en, *entry.ko))


def _year_ok(year: int, nums: set[float], today: date) -> bool:
    """A date's year is written (a year, or a two-digit year), a decade or range past one, or reached
    by a relative phrase ("last 5 years", "작년") from today."""
    written = {int(n) for n in nums if 1800 <= n <= 2200 and n == int(n)}
    written |= {2000 + int(n) for n in nums if n < 100 and n == int(n)}
    if any(y - 1 <= year <= y + 10 for y in written):
        return True
    back = max([int(n) for n in nums if n < 100] + [1])
    return today.year - back - 1 <= year <= today.year + 1


def _window_problems(where: str, w: Window, allowed: set[int]) -> list[str]:
    odd = [b for b in (w.start, w.end) if b is not None and abs(b) not in allowed]
    if odd:
        return [f"{where}.window: {odd} days are not in the question; use the days the user wrote"]
    return []


def _ungrounded(
    spec: CohortSpec, question: str, visit_concept_ids: Sequence[int], today: date | None = None
) -> list[str]:
    """What the spec says that the user did not write: the model must not invent it.

    Concept ids, visit types and code set names must be typed by the user; terms, literal names and
    units must be the user's words (or a lexicon name of a concept the user named); numbers of days,
    counts, values and years must come from the question's numbers; labels are short names and DICOM
    codes are codes. So an injected answer cannot slip in identifying columns, SQL, another disease, or
    a window of a hundred years. Ages are not checked: reading a vague word ("elderly" as 65 or older)
    is what the model is asked for in hybrid mode, only narrows the cohort, and the read-back shows it.
    """
    numbers = set(re.findall(r"\d+", question))
    nums = question_numbers(question)
    days_ok = _window_days(nums)
    ints = {round(n) for n in nums}
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
        for kind, texts in (("terms", f.concepts.terms), ("name_contains", f.concepts.name_contains)):
            foreign = [t for t in texts if not _grounded_text(t, question)]
            if foreign:
                problems.append(
                    f"{where}.concepts.{kind}: {foreign} are not the user's words; write each clinical "
                    "mention as the question writes it"
                )
        if f.value is not None:
            vals = [v for v in (f.value.value, f.value.value_high) if v is not None and v not in nums]
            if vals:
                problems.append(f"{where}.value: {vals} are not numbers of the question")
            if f.value.unit and not _grounded_text(f.value.unit, question):
                problems.append(f"{where}.value.unit: {f.value.unit!r} is not the unit the user wrote")
        if f.imaging is not None:
            codes = [
                c for c in (*f.imaging.modalities, *f.imaging.body_parts) if not _DICOM_CODE.fullmatch(c)
            ]
            if codes:
                problems.append(f"{where}.imaging: {codes} are not DICOM codes")
    for c in spec.criteria:
        where = f"criteria[{c.label}]"
        if not (len(c.label) <= 40 and _LABEL.fullmatch(c.label)):
            problems.append(f"{where}.label: a label is a short name of at most three words")
        problems += _window_problems(where, c.window, days_ok)
        if c.occurrence.count > 1 and c.occurrence.count not in _near(ints):
            problems.append(f"{where}.occurrence: the count {c.occurrence.count} is not in the question")
    if spec.imaging is not None:
        codes = [
            c for c in (*spec.imaging.modalities, *spec.imaging.body_parts) if not _DICOM_CODE.fullmatch(c)
        ]
        if codes:
            problems.append(f"imaging: {codes} are not DICOM codes")
        if spec.imaging.window is not None:
            problems += _window_problems("imaging", spec.imaging.window, days_ok)
    rng = spec.index.date_range
    if rng is not None:
        ref = today or date.today()
        years = [d.year for d in (rng.start, rng.end) if d is not None and not _year_ok(d.year, nums, ref)]
        if years:
            problems.append(f"index.date_range: the years {years} are not in the question")
    return problems


def validate_answer(
    data: Any, question: str, visit_concept_ids: Sequence[int], today: date | None = None
) -> tuple[LLMAnswer | None, str]:
    """(answer, "") or (None, what is wrong, in words the model can act on).

    ``visit_concept_ids`` are the mart's visit types, which a spec may use without the user typing them;
    ``today`` is the date the question was asked on (relative years are counted from it).
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
    if answer.spec is not None and (problems := _ungrounded(answer.spec, question, visit_concept_ids, today)):
        return None, "; ".join(problems)
    if answer.spec is not None and answer.spec.title is not None:
        answer.spec = answer.spec.model_copy(update={"title": None})  # the model's words, not the user's
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


def _provider_failure(error: Exception) -> bool:
    """Whether ``error`` says the provider gave no answer (network, timeout, rate limit, 5xx, auth).

    Only a rejected request (HTTP 400/422: e.g. a server without ``response_format`` support) is worth
    asking again as plain text; the OpenAI client has already retried everything else.
    """
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        return status not in (400, 422)
    names = [c.__name__ for c in type(error).__mro__]
    return isinstance(error, TimeoutError | ConnectionError) or any(
        "Timeout" in n or "Connection" in n for n in names
    )


def _call(model: BaseChatModel, structured: Any | None, messages: list[BaseMessage]) -> tuple[Any, str]:
    """(parsed JSON or None, the reply as text for a repair round). Provider errors propagate."""
    if structured is not None:
        try:
            out = structured.invoke(messages)
        except Exception as e:
            if _provider_failure(e):  # asking again in plain text would only wait (and retry) twice
                raise
            log.info("llm: structured output failed (%s); falling back to JSON in text", type(e).__name__)
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
    model: BaseChatModel,
    messages: list[BaseMessage],
    question: str,
    visit_concept_ids: Sequence[int],
    today: date | None = None,
) -> tuple[LLMAnswer | None, bool]:
    """(a valid answer or None, whether a repair round was used)."""
    from langchain_core.messages import AIMessage, HumanMessage

    structured = _structured(model)
    with _no_tracing():
        data, raw = _call(model, structured, messages)
        answer, error = validate_answer(data, question, visit_concept_ids, today)
        if answer is not None:
            return answer, False
        repair = [
            *messages,
            AIMessage(content=raw[:MAX_ECHO_CHARS] or "(empty)"),
            HumanMessage(content=REPAIR.format(error=error)),
        ]
        data, _ = _call(model, structured, repair)
        answer, _ = validate_answer(data, question, visit_concept_ids, today)
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


#: The model's own words reach the user only as a short sentence: no SQL, code, links or markup, and no
#: echo of the prompt (an injected question may ask the model to print its instructions).
MAX_SHOWN_CHARS = 400
_UNSAFE_TEXT = regex(
    r"```|https?://|www\.|<\s*/?\s*[a-z]+[^>]*>|\$defs|CohortSpec|JSON Schema|OHDSI Circe|few-shot"
    r"|system prompt|(?:previous|prior|above) instructions|ignore (?:all|the|previous|prior|your)\b"
    r"|시스템 프롬프트|이전 지시|지시를 무시",
    re.IGNORECASE,
)
_SQL_TEXT = regex(
    r"\b(?:select|insert|update|delete|drop|alter|create|truncate|grant|revoke|attach|copy|pragma|union"
    r"|exec(?:ute)?)\b[^.?!。]{0,200}?\b(?:from|into|table|database|schema|set|where|values|all)\b"
    r"|;\s*--|--\s*$|;\s*$",
    re.IGNORECASE,
)


def safe_text(text: str) -> bool:
    """Whether the model's ``text`` may be shown to the user: a short sentence, not SQL, code, a link or
    a piece of the prompt."""
    return len(text) <= MAX_SHOWN_CHARS and not _UNSAFE_TEXT.search(text) and not _SQL_TEXT.search(text)


def _shown(text: str, ours: str) -> str:
    text = text.strip()
    return text if text and safe_text(text) else ours


def _safe_clarification(c: Clarification) -> bool:
    return all(safe_text(t) for t in (c.question, c.span or "", *c.choices))


def _failure(error: Exception) -> str:
    """The error's class and, where it says so, what went wrong in words that do not depend on the client
    library's class names (langchain-openai wraps the OpenAI client's errors in its own classes): the
    HTTP status, or a timeout. Never the error's message, which may hold the URL or the prompt."""
    status = getattr(error, "status_code", None)
    names = [c.__name__ for c in type(error).__mro__]
    if isinstance(status, int):
        return f"{type(error).__name__}, HTTP {status}"
    if isinstance(error, TimeoutError) or any("Timeout" in n for n in names):
        return f"{type(error).__name__}, timed out"
    return type(error).__name__


def _unreachable(lang: str, error: Exception) -> str:
    return _msg(
        lang,
        f"The language model could not be reached ({_failure(error)}); try again, or use the "
        "rule parser (--parser rule).",
        f"언어 모델에 연결하지 못했습니다({_failure(error)}). "
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
        answer, repaired = _ask_model(
            model, messages, question, context.visit_concept_ids, today or date.today()
        )
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
            message=_shown(answer.message, _msg(lang, *REFUSED)),
            parser="llm",
        ), False
    if answer.status == "clarify":
        return ParseResult(
            status="clarify",
            language=lang,
            message=_shown(answer.message, _msg(lang, *CLARIFY)),
            clarifications=[c for c in answer.clarifications if _safe_clarification(c)],
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
