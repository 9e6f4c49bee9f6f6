"""The parser registry (cohort_engine.parsers): names → parse functions, and the LLM prompt context."""

from __future__ import annotations

from datetime import date
from typing import Any, get_args

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from cohort_engine.nlq import llm
from cohort_engine.nlq.parser import parse as rule_parse
from cohort_engine.parsers import (
    PARSER_NAMES,
    ParserName,
    ParserUnavailable,
    parser_for,
    prompt_context,
)


@pytest.fixture(autouse=True)
def no_env_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(llm.LLM_ENV, raising=False)
    llm._init_model.cache_clear()


def test_names() -> None:
    assert PARSER_NAMES == get_args(ParserName) == ("rule", "llm", "hybrid")


def test_rule_is_the_offline_parser_itself() -> None:
    assert parser_for("rule") is rule_parse


@pytest.mark.parametrize("name", ["gpt", "", "RULE", "Rule "])
def test_an_unknown_name_says_which_exist(name: str) -> None:
    with pytest.raises(ParserUnavailable, match=r"unknown parser .*: use rule, llm or hybrid"):
        parser_for(name)


@pytest.mark.parametrize("name", ["llm", "hybrid"])
def test_an_llm_parser_without_a_model_says_what_to_set(name: str) -> None:
    with pytest.raises(ParserUnavailable) as e:
        parser_for(name)
    assert str(e.value) == llm.NOT_CONFIGURED


@pytest.mark.parametrize("name, reads", [("llm", "llm"), ("hybrid", "rule")])
def test_an_llm_parser_builds_the_model_once_and_passes_the_context(
    name: str, reads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    answer = '{"status": "ok", "spec": {"index": {"domain": "condition", "concepts": {"terms": ["stroke"]}}}}'
    fake = FakeListChatModel(responses=[answer] * 2)

    def init(ident: str) -> FakeListChatModel:
        built.append(ident)
        return fake

    monkeypatch.setenv(llm.LLM_ENV, "fake:model")
    monkeypatch.setattr(llm, "_init_model", init)
    seen: list[llm.PromptContext] = []
    real = llm.build_messages

    def spy(*args: Any, **kw: Any) -> Any:
        seen.append(kw["context"])
        return real(*args, **kw)

    monkeypatch.setattr(llm, "build_messages", spy)
    parse = parser_for(name)
    for _ in range(2):  # hybrid: the rule parser settles this one and the model is never asked
        res = parse("patients diagnosed with stroke", today=date(2024, 6, 30))
        assert res.status == "ok" and res.parser == reads
    assert built == ["fake:model"]
    assert seen == ([prompt_context()] * 2 if name == "llm" else [])


def test_the_prompt_context_describes_the_mart_without_identifying_columns() -> None:
    ctx = prompt_context()
    assert ctx is prompt_context()  # built once per process
    assert ctx.visit_concept_ids == (9201, 9202, 9203, 262)
    text = ctx.mart_description
    assert text.startswith(
        "The mart (OMOP CDM 5.4), one table per spec domain:\n- condition: condition_occurrence"
    )
    assert text.endswith(
        "Visit types (visit_concept_ids): 9201 inpatient, 9202 outpatient, 9203 emergency, "
        "262 emergency_inpatient."
    )
    for column in ("person_source_value", "birth_datetime", "day_of_birth", "local_path", "note_text"):
        assert column not in text
    assert len(ctx.examples) >= 150 and len({e.id for e in ctx.examples}) == len(ctx.examples)
