"""Which parser reads a question: the one place that turns a parser's name into a parse function.

The CLI, the REST API and the evals all offer ``rule``, ``llm`` and ``hybrid``; each used to decide
for itself how to build them, and the three copies drifted (different messages, the model built per
question in one and once in another). Here the LLM parsers also get what the ``nlq`` stage may not
fetch itself: the mart description (from ``schema_catalog``) and the few-shot pool, a data file
generated from the dev split by ``cohort_engine.evals.few_shot`` (evals sit above the pipeline, so the
gold set is never read at question time).

LangChain is imported only when an LLM parser is asked for: the rule parser must work without it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, get_args

from cohort_engine.nlq.result import ParseResult

if TYPE_CHECKING:
    from cohort_engine.nlq.llm import FewShotExample, LLMSettings, PromptContext

ParserName = Literal["rule", "llm", "hybrid"]
PARSER_NAMES: tuple[str, ...] = get_args(ParserName)
#: The few-shot pool: package data of ``cohort_engine.nlq``, written by ``cohort_engine.evals.few_shot``.
FEW_SHOT_PACKAGE = "cohort_engine.nlq"
FEW_SHOT_FILE = "data/few_shot.jsonl"


class ParserUnavailable(RuntimeError):
    """The named parser cannot run here: unknown name, or no chat model (the message says what to set)."""


class Parser(Protocol):
    def __call__(self, text: str, today: date | None = None) -> ParseResult: ...


def parser_for(name: str) -> Parser:
    """The parse function for ``name`` (``rule``, ``llm`` or ``hybrid``).

    ``rule`` is the offline parser. ``llm`` and ``hybrid`` are :func:`cohort_engine.nlq.llm.parse` and
    :func:`~cohort_engine.nlq.llm.parse_hybrid` on the chat model of :func:`llm_settings`
    (``COHORT_LLM_MODEL``, ``COHORT_LLM_BASE_URL`` …), built once here, with :func:`prompt_context`.
    Nothing is faked: without a usable model this raises.

    Raises:
        ParserUnavailable: an unknown name, or an LLM parser with no loadable chat model.
    """
    if name == "rule":
        from cohort_engine.nlq.parser import parse

        return parse
    if name not in PARSER_NAMES:
        raise ParserUnavailable(f"unknown parser {name!r}: use rule, llm or hybrid")
    from cohort_engine.nlq import llm

    try:
        model = llm.resolve_model(settings=llm_settings())
    except llm.LLMNotConfigured as e:
        raise ParserUnavailable(str(e)) from None
    context = prompt_context()
    read: Callable[..., ParseResult] = llm.parse if name == "llm" else llm.parse_hybrid

    def parse_with_model(text: str, today: date | None = None) -> ParseResult:
        return read(text, today, context=context, model=model)

    return parse_with_model


def llm_settings() -> LLMSettings:
    """The LLM settings of this process's environment, the API key file read through the project's one
    secret-file check (``deid.release_inputs.read_private_file``: this user's regular file, mode 0600).

    Raises:
        cohort_engine.nlq.llm.LLMNotConfigured: what is missing or wrong, by variable name.
    """
    from cohort_engine.nlq.llm import settings_from_env

    return settings_from_env(read_key_file=_read_api_key_file)


def _read_api_key_file(path: Path) -> str:
    from cohort_engine.deid.release_inputs import read_private_file

    data = read_private_file(
        path,
        what="the API key file",
        owner="the user running cohort",
        hint="write the key to a file only you can read: chmod 600 FILE",
        max_bytes=16 * 1024,
        kind="API key",
    )
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError("the API key file is not UTF-8 text") from None


@lru_cache(maxsize=1)
def prompt_context() -> PromptContext:
    """The LLM prompt's view of the engine: the mart description, its visit types, the few-shot pool."""
    from cohort_engine.nlq.llm import PromptContext
    from cohort_engine.schema_catalog.domains import VISIT_CONCEPTS

    return PromptContext(
        mart_description=mart_description(),
        visit_concept_ids=tuple(VISIT_CONCEPTS.values()),
        examples=few_shot_examples(),
    )


def few_shot_examples() -> tuple[FewShotExample, ...]:
    """The shipped few-shot pool (dev-split questions with verified specs), in file order."""
    from cohort_engine.nlq.llm import FewShotExample

    text = resources.files(FEW_SHOT_PACKAGE).joinpath(FEW_SHOT_FILE).read_text("utf-8")
    return tuple(FewShotExample.model_validate_json(line) for line in text.splitlines() if line.strip())


def _event_line(domain: str, tables: dict[str, dict]) -> str:
    from cohort_engine.schema_catalog.domains import DOMAIN_TABLES

    dt = next(d for d in DOMAIN_TABLES.values() if d.domain.value == domain)
    t = tables[dt.table]
    cols = {c["name"]: c for c in t["columns"] if c["privacy"] != "identifying"}
    parts = [f"- {domain}: {dt.table} — {t['description']} Event date: {dt.date_column}."]
    if dt.value_column and dt.value_column in cols:
        unit = cols.get("unit_source_value")
        parts.append(
            f"Value: {dt.value_column} ({cols[dt.value_column]['description'].rstrip('.').lower()})"
            + (f", unit_source_value ({unit['description'].rstrip('.')})" if unit else "")
            + "."
        )
    if domain == "imaging":
        for name in ("modality_source_value", "anatomic_site_source_value"):
            if name in cols:
                parts.append(f"{name}: {cols[name]['description']}")
    return " ".join(parts)


def mart_description() -> str:
    """What a spec needs to know about the mart: one line per domain, demographics, visit types.

    Only non-identifying columns are described: the text goes to a third-party model.
    """
    from cohort_engine.schema_catalog.domains import VISIT_CONCEPTS
    from cohort_engine.schema_catalog.tables import catalog_json

    tables = {t["name"]: t for t in catalog_json()}
    person = {c["name"]: c for c in tables["person"]["columns"]}
    lines = ["The mart (OMOP CDM 5.4), one table per spec domain:"]
    lines += [
        _event_line(d, tables)
        for d in ("condition", "procedure", "drug", "measurement", "observation", "visit", "imaging", "death")
    ]
    lines.append(
        f"- demographics: person — {person['gender_concept_id']['description']} "
        f"{person['year_of_birth']['description']}"
    )
    lines.append(
        "Visit types (visit_concept_ids): " + ", ".join(f"{v} {k}" for k, v in VISIT_CONCEPTS.items()) + "."
    )
    return "\n".join(lines)
