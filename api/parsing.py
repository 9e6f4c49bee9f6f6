"""Reading a question with the parser the request names, as the API answers for it.

The parsers are the pipeline's (:func:`cohort_engine.parsers.parser_for`); what is the API's own is
the answer when one cannot run: ``llm``/``hybrid`` on a server with no usable chat model is ``409
parser_unavailable``. The request is valid, the server is not set up for it (like
``no_imaging_index``), and resending it unchanged will not help until an operator configures a
model. The message says what to set; the provider's own error text goes to the server log only (it
can name packages, hosts or key variables). Also here: the reader and the vocabulary terms with which
an answer that asks back offers its way forward (:mod:`cohort_engine.followups`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb

from cohort_engine.api.errors import ApiError
from cohort_engine.followups import TermIndex, lexicon_terms, term_index
from cohort_engine.nlq.result import ParseResult
from cohort_engine.parsers import ParserName, ParserUnavailable, parser_for
from cohort_engine.schema_catalog.domains import DOMAIN_TABLES
from cohort_engine.schema_catalog.resolve import Vocabulary

log = logging.getLogger("cohort.api")


def parse_question(question: str, parser: ParserName = "rule") -> ParseResult:
    """``question`` read by ``parser``; ``409 parser_unavailable`` when that parser cannot run here."""
    try:
        read = parser_for(parser)
    except ParserUnavailable as e:
        log.warning("the %s parser is unavailable: %s", parser, e)
        raise parser_unavailable(parser) from None
    return read(question)


def parser_unavailable(parser: str) -> ApiError:
    """The 409 for a parser that needs a chat model this server does not have."""
    from cohort_engine.nlq.llm import LLM_ENV  # only on this error path: the LLM front end is optional

    if os.environ.get(LLM_ENV, "").strip():
        why = (
            f"{LLM_ENV} is set on this server, but its chat model could not be loaded (the server log "
            "says why): the operator installs the LLM extra and the provider's package "
            "(pip install 'cohort-engine[llm]' langchain-openai) and sets the provider's API key"
        )
    else:
        why = (
            f"no chat model is configured on this server: the operator sets {LLM_ENV} to a LangChain "
            "chat model identifier (e.g. 'openai:gpt-4o-mini'), installs the LLM extra and the "
            "provider's package (pip install 'cohort-engine[llm]' langchain-openai), puts the "
            "provider's API key in its environment variable (e.g. OPENAI_API_KEY) and restarts the server"
        )
    return ApiError(
        409,
        "parser_unavailable",
        f"The “{parser}” parser needs a chat model, and {why}. Until then, ask with "
        '"parser": "rule" (the default, offline parser).',
    )


def rule_reader() -> Callable[[str], ParseResult]:
    """The offline rule parser, which tries out the choices a question back offers (``followups``):
    it costs milliseconds and no model call, so every choice can show what it leads to."""
    return parser_for("rule")


_TERMS: dict[str, TermIndex] = {}
_TERMS_LOCK = threading.Lock()


def followup_terms(mart: Path, con: duckdb.DuckDBPyConnection) -> TermIndex:
    """The terms "it means …" draws on: the lexicon's English and Korean mentions and the mart's
    concept names and synonyms, built once per served mart (a read-only file)."""
    key = str(mart)
    with _TERMS_LOCK:
        if key not in _TERMS:
            vocab = Vocabulary.of(con)
            names = [name for domain in DOMAIN_TABLES for name, _ in vocab.names(domain)]
            _TERMS[key] = term_index([*lexicon_terms(), *names])
        return _TERMS[key]
