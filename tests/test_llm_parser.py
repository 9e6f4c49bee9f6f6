"""The LLM front end (nlq/llm.py) with langchain-core's fake chat models standing in for a provider.

What is tested is our code: the prompt (instructions, schema, mart, few-shot examples from the dev
split only), JSON extraction, validation and the repair round, the refusal guard before any model
call, the hybrid fallback, the not-configured messages, and the wiring into pipeline, CLI and eval
runner. No network: every model here is a fake.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from functools import partial
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableLambda
from pydantic import Field
from typer.testing import CliRunner

from cohort_engine.cli import app
from cohort_engine.evals.gold import load_gold
from cohort_engine.nlq import llm
from cohort_engine.nlq.llm import LLM_ENV, LLMNotConfigured, extract_json
from cohort_engine.parsers import ParserUnavailable, parser_for, prompt_context
from cohort_engine.pipeline import ask

TODAY = date(2024, 6, 30)
#: The engine's own prompt context: the mart description and the shipped dev-split few-shot pool.
CTX = prompt_context()
VISITS = CTX.visit_concept_ids
parse = partial(llm.parse, context=CTX)
parse_hybrid = partial(llm.parse_hybrid, context=CTX)


class Fake(FakeListChatModel):
    """FakeListChatModel that records every message list it receives."""

    calls: list[list[BaseMessage]] = Field(default_factory=list)

    def _call(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> str:
        self.calls.append(list(messages))
        return super()._call(messages, stop, run_manager, **kwargs)


class Broken(Fake):
    """A provider that fails (network, quota …)."""

    def _call(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> str:
        self.calls.append(list(messages))
        raise ConnectionError("provider unreachable at https://example.invalid")


class Structured(Fake):
    """A model with with_structured_output: each response is parsed JSON, or raw text when not JSON."""

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kwargs: Any) -> Any:
        assert include_raw and isinstance(schema, dict) and schema["title"] == "CohortAnswer"

        def run(messages: list[BaseMessage]) -> dict:
            text = self.invoke(messages).content
            try:
                return {"raw": AIMessage(content=""), "parsed": json.loads(text), "parsing_error": None}
            except ValueError as e:
                return {"raw": AIMessage(content=text), "parsed": None, "parsing_error": e}

        return RunnableLambda(run)


def spec(**over: Any) -> dict:
    s = {
        "language": "en",
        "index": {"domain": "condition", "concepts": {"terms": ["stroke"]}},
        "demographics": {"age_min": 65},
    }
    s.update(over)
    return s


def ok(s: dict | None = None) -> str:
    return json.dumps({"status": "ok", "spec": s or spec()})


def prompt_text(messages: list[BaseMessage]) -> str:
    return "\n".join(str(m.content) for m in messages)


@pytest.fixture(autouse=True)
def no_env_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LLM_ENV, raising=False)
    monkeypatch.delenv(llm.EXAMPLES_ENV, raising=False)


# ------------------------------------------------------------------------------------------- prompt
def test_prompt_has_instructions_schema_mart_and_the_question_last() -> None:
    q = "elderly patients diagnosed with stroke"
    msgs = llm.build_messages(q, TODAY, context=CTX)
    assert isinstance(msgs[0], SystemMessage) and isinstance(msgs[-1], HumanMessage)
    system = str(msgs[0].content)
    for needle in (
        "inclusive at both ends",
        '{"type": "exactly", "count": 0}',
        "never invent concept ids",
        '"refused"',
        '"clarify"',
        "ConceptSet.terms",
        "CohortSpec",
        '"$defs"',
        "condition_occurrence",
        "value_as_number",
        "9201",
    ):
        assert needle.lower() in system.lower(), needle
    assert json.dumps(llm.spec_json_schema(), ensure_ascii=False, separators=(",", ":")) in system
    assert msgs[-1].content == f"Today: {TODAY.isoformat()}\nQuestion: {q}"
    assert q not in system  # the question is in its own turn only
    # nothing identifying from the catalogue: MRNs, birth dates, UIDs, file paths, note text columns
    for col in (
        "person_source_value",
        "birth_datetime",
        "day_of_birth",
        "image_study_uid",
        "local_path",
        "note_text",
    ):
        assert col not in prompt_text(msgs)
    # few-shot turns alternate question / JSON answer with a valid spec
    pairs = msgs[1:-1]
    assert len(pairs) == 2 * llm.DEFAULT_K
    for h, a in zip(pairs[::2], pairs[1::2], strict=True):
        assert isinstance(h, HumanMessage) and isinstance(a, AIMessage)
        answer, error = llm.validate_answer(json.loads(a.content), str(h.content), VISITS)
        assert answer is not None and answer.status == "ok", error


def test_few_shot_examples_come_only_from_dev_and_no_test_material_reaches_a_prompt() -> None:
    records = load_gold()
    dev = {r.question for r in records if r.split == "dev"}
    test = [r for r in records if r.split == "test"]
    sqls = [r.gold_sql for r in records if r.gold_sql]
    # test questions as inputs: the most similar pool questions would be their own paraphrases
    inputs = [r.question for r in test[::12]] + ["patients diagnosed with MI in 2023", "2023년 뇌경색 환자"]
    for q in inputs:
        msgs = llm.build_messages(q, TODAY, context=CTX)
        examples = [str(m.content).split("Question: ", 1)[1] for m in msgs[1:-1:2]]
        assert examples and all(e in dev for e in examples), q
        text = prompt_text(msgs[:-1])  # everything but the question itself
        assert not [t.question for t in test if t.question in text], q
        assert not [s for s in sqls if s in prompt_text(msgs)], q
        assert "SELECT" not in prompt_text(msgs)


def test_the_prompt_shows_the_context_it_is_given() -> None:
    """Mart, visit types and examples are arguments: this stage reads no catalogue and no gold set."""
    ex = llm.FewShotExample(
        id="x-1",
        intent="x",
        question="patients diagnosed with asthma",
        today=date(2024, 1, 1),
        spec={"index": {"domain": "condition", "concepts": {"terms": ["asthma"]}}, "language": "en"},
    )
    ctx = llm.PromptContext(mart_description="THE MART, IN WORDS", visit_concept_ids=(1234,), examples=(ex,))
    msgs = llm.build_messages("asthma patients", TODAY, context=ctx)
    assert str(msgs[0].content).endswith(
        "\n\nTHE MART, IN WORDS\n\nExamples follow: each question with the answer you should give."
    )
    assert [m.content for m in msgs[1:]] == [
        "Today: 2024-01-01\nQuestion: patients diagnosed with asthma",
        json.dumps({"status": "ok", "spec": ex.spec}),
        f"Today: {TODAY.isoformat()}\nQuestion: asthma patients",
    ]
    own = spec(index={"domain": "visit", "visit_concept_ids": [1234]})
    assert llm.validate_answer({"status": "ok", "spec": own}, "admitted patients", (1234,))[0] is not None
    other = spec(index={"domain": "visit", "visit_concept_ids": [9201]})
    got, message = llm.validate_answer({"status": "ok", "spec": other}, "admitted patients", (1234,))
    assert got is None and "[9201] are not visit types (1234)" in message


def test_example_selection_is_deterministic_one_per_intent_k_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    q = "stroke patients who had a brain MRI within 7 days"
    first = llm.select_examples(q, CTX.examples, 4)
    assert [e.id for e in first] == [e.id for e in llm.select_examples(q, CTX.examples, 4)]
    assert len(first) == 4 and len({e.intent for e in first}) == 4
    sims = [llm.similarity(q, e.question) for e in first]
    assert sims == sorted(sims, reverse=True)
    assert llm.select_examples(q, CTX.examples, 0) == []
    assert len(llm.build_messages(q, TODAY, context=CTX, k=2)) == 2 * 2 + 2
    monkeypatch.setenv(llm.EXAMPLES_ENV, "3")
    assert len(llm.build_messages(q, TODAY, context=CTX)) == 2 * 3 + 2
    # a dev question is never its own example
    own = first[0].question
    assert own not in [e.question for e in llm.select_examples(own, CTX.examples, 6)]


# ------------------------------------------------------------------------------------------- JSON
@pytest.mark.parametrize(
    "text",
    [
        '{"status": "ok"}',
        '```json\n{"status": "ok"}\n```',
        '```\n{"status": "ok"}\n```',
        'Here is the answer:\n```JSON\n{"status": "ok"}\n```\nHope this helps.',
        'Sure! {"status": "ok"} That is all.',
        '  \n{"status": "ok"}\n\n',
    ],
)
def test_extract_json(text: str) -> None:
    assert extract_json(text) == {"status": "ok"}


@pytest.mark.parametrize("text", ["", "no json here", "```json\n{status: ok\n```", "{'status': 'ok'}"])
def test_extract_json_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        extract_json(text)


def test_content_blocks_are_joined() -> None:
    assert (
        llm._content_text(AIMessage(content=[{"type": "text", "text": '{"status":'}, ' "ok"}']))
        == '{"status": "ok"}'
    )


# ------------------------------------------------------------------------------------------- answers
def test_ok_answer_in_code_fences_becomes_a_spec_with_the_note() -> None:
    fake = Fake(responses=["```json\n" + ok() + "\n```"])
    res = parse("elderly patients diagnosed with stroke", TODAY, model=fake)
    assert res.status == "ok" and res.parser == "llm" and res.spec is not None
    assert res.spec.index.concepts.terms == ["stroke"] and res.spec.demographics.age_min == 65
    assert any("LLM" in n for n in res.notes)
    assert len(fake.calls) == 1


def test_language_follows_the_question_not_the_model() -> None:
    fake = Fake(responses=[ok(spec(language="en"))])
    res = parse("고령 뇌경색 환자", TODAY, model=fake)
    assert res.status == "ok" and res.language == "ko" and res.spec is not None and res.spec.language == "ko"
    assert any("LLM" in n and "확인" in n for n in res.notes)


def test_a_bare_spec_is_read_as_ok() -> None:
    res = parse("elderly patients diagnosed with stroke", TODAY, model=Fake(responses=[json.dumps(spec())]))
    assert res.status == "ok"


def test_invalid_answer_gets_one_repair_round_with_the_error() -> None:
    bad = spec(criteria=[{"domain": "procedure", "label": "surgery", "window": {"start": 14, "end": 7}}])
    fake = Fake(responses=[ok(bad), ok()])
    res = parse("elderly patients diagnosed with stroke", TODAY, model=fake)
    assert res.status == "ok" and len(fake.calls) == 2
    repair = fake.calls[1]
    assert repair[:-2] == fake.calls[0]  # same prompt, then our echo and the error
    assert isinstance(repair[-2], AIMessage) and "surgery" in str(repair[-2].content)
    assert "window starts at day 14 after it ends at day 7" in str(repair[-1].content)


def test_garbage_twice_is_a_clarify_never_an_exception() -> None:
    fake = Fake(responses=["I am not sure what you mean.", '{"status": "maybe"}'])
    res = parse("elderly patients diagnosed with stroke", TODAY, model=fake)
    assert res.status == "clarify" and res.spec is None and len(fake.calls) == 2
    assert "could not be read" in res.message and "Traceback" not in res.message
    assert "one JSON object" in str(fake.calls[1][-1].content)


@pytest.mark.parametrize(
    "answer, error",
    [
        ({"status": "ok"}, "status 'ok' needs a spec"),
        ({"status": "clarify"}, "needs a message or clarifications"),
        ({"status": "ok", "spec": spec(), "sql": "SELECT 1"}, "sql"),
        (
            {
                "status": "ok",
                "spec": spec(index={"domain": "condition", "concepts": {"concept_ids": [4329847]}}),
            },
            "never invent concept ids",
        ),
        (
            {
                "status": "ok",
                "spec": spec(index={"domain": "condition", "concepts": {"codeset": "my strokes"}}),
            },
            "code set",
        ),
        (
            {"status": "ok", "spec": spec(index={"domain": "visit", "visit_concept_ids": [12345]})},
            "not visit types",
        ),
        ([1, 2], "one JSON object"),
    ],
)
def test_validation_errors_are_words_the_model_can_act_on(answer: Any, error: str) -> None:
    got, message = llm.validate_answer(answer, "elderly patients diagnosed with stroke", VISITS)
    assert got is None and error in message


def test_ids_the_user_typed_are_allowed() -> None:
    s = spec(index={"domain": "condition", "concepts": {"concept_ids": [4329847]}})
    got, message = llm.validate_answer({"status": "ok", "spec": s}, "patients with concept 4329847", VISITS)
    assert got is not None, message
    visits = spec(index={"domain": "visit", "visit_concept_ids": [9201, 262]})
    assert llm.validate_answer({"status": "ok", "spec": visits}, "admitted patients", VISITS)[0] is not None


def test_model_clarify_and_refusal_pass_through() -> None:
    clar = {
        "status": "clarify",
        "message": "How old is elderly?",
        "clarifications": [{"question": "Which age?", "span": "elderly", "choices": ["65+", "75+"]}],
    }
    res = parse("elderly patients diagnosed with stroke", TODAY, model=Fake(responses=[json.dumps(clar)]))
    assert (res.status, res.message, res.clarifications[0].choices) == (
        "clarify",
        "How old is elderly?",
        ["65+", "75+"],
    )
    res = parse("patients diagnosed with stroke", TODAY, model=Fake(responses=['{"status": "refused"}']))
    assert res.status == "refused" and "declined" in res.message


def test_structured_output_is_used_when_the_model_supports_it() -> None:
    fake = Structured(responses=[ok()])
    assert parse("elderly patients diagnosed with stroke", TODAY, model=fake).status == "ok"
    fake = Structured(responses=["not json", "```json\n" + ok() + "\n```"])  # repair round read from raw text
    res = parse("elderly patients diagnosed with stroke", TODAY, model=fake)
    assert res.status == "ok" and len(fake.calls) == 2


def test_a_failing_provider_is_a_clarify_with_no_details() -> None:
    fake = Broken(responses=["unused"])
    res = parse("elderly patients diagnosed with stroke", TODAY, model=fake)
    assert res.status == "clarify" and "ConnectionError" in res.message
    assert "example.invalid" not in res.message and "Traceback" not in res.message


def test_logs_hold_the_length_never_the_words(caplog: pytest.LogCaptureFixture) -> None:
    q = "elderly patients diagnosed with stroke"
    with caplog.at_level(logging.DEBUG, logger="cohort_engine.nlq.llm"):
        parse(q, TODAY, model=Fake(responses=[ok()]))
        parse(q, TODAY, model=Broken(responses=["x"]))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{len(q)} chars" in logged
    assert "elderly" not in logged and "stroke" not in logged


# ------------------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "question",
    [
        "delete all patients diagnosed with MI in 2023",
        "give me the phone numbers of stroke patients",
        "is Kim Min-jun in the lung cancer cohort?",
        "김민준 환자가 위암 코호트에 포함돼 있어?",
        "what is the best treatment for a heart attack?",
        "what's the weather in Seoul tomorrow?",
    ],
)
@pytest.mark.parametrize("fn", [parse, parse_hybrid])
def test_refused_requests_never_reach_the_model(question: str, fn: Any) -> None:
    fake = Fake(responses=[ok()])
    res = fn(question, TODAY, model=fake)
    assert res.status == "refused" and res.spec is None
    assert fake.calls == []


@pytest.mark.parametrize("question", ["", "   ", "patients " * 200])
def test_empty_or_overlong_questions_never_reach_the_model(question: str) -> None:
    fake = Fake(responses=[ok()])
    assert parse(question, TODAY, model=fake).status == "clarify"
    assert parse_hybrid(question, TODAY, model=fake).status == "clarify"
    assert fake.calls == []


# ------------------------------------------------------------------------------------------- hybrid
def test_hybrid_uses_the_rule_parser_when_it_is_sure() -> None:
    fake = Fake(responses=[ok()])
    res = parse_hybrid("patients diagnosed with stroke", TODAY, model=fake)
    assert res.status == "ok" and res.parser == "rule" and fake.calls == []


def test_hybrid_asks_the_llm_when_the_rule_parser_asks_back() -> None:
    fake = Fake(responses=[ok()])
    res = parse_hybrid("elderly patients diagnosed with stroke", TODAY, model=fake)
    assert res.status == "ok" and res.parser == "llm" and len(fake.calls) == 1
    assert res.notes == [llm.NOTE_HYBRID[0]]
    ko = parse_hybrid("노인 뇌경색 환자", TODAY, model=Fake(responses=[ok(spec(language="ko"))]))
    assert ko.status == "ok" and ko.notes == [llm.NOTE_HYBRID[1]]


def test_hybrid_keeps_the_rule_clarification_when_the_llm_is_unsure_or_fails() -> None:
    from cohort_engine.nlq.parser import parse as rule_parse

    q = "elderly patients diagnosed with stroke"
    rule = rule_parse(q, TODAY)
    assert rule.status == "clarify"
    unsure = parse_hybrid(q, TODAY, model=Fake(responses=['{"status": "clarify", "message": "?"}']))
    assert unsure.model_dump() == rule.model_dump()
    garbage = parse_hybrid(q, TODAY, model=Fake(responses=["nope", "still nope"]))
    assert garbage.status == "clarify" and garbage.clarifications == rule.clarifications
    assert garbage.notes[-1] == llm.UNREADABLE[0]
    down = parse_hybrid(q, TODAY, model=Broken(responses=["x"]))
    assert down.status == "clarify" and "could not be reached" in down.notes[-1]
    refused = parse_hybrid(q, TODAY, model=Fake(responses=['{"status": "refused", "message": "no"}']))
    assert (refused.status, refused.message) == ("refused", "no")


# ------------------------------------------------------------------------------------------- not configured
def test_not_configured_says_what_to_set() -> None:
    for fn in (parse, parse_hybrid):
        with pytest.raises(LLMNotConfigured, match=LLM_ENV) as e:
            fn("patients diagnosed with stroke")
        assert "init_chat_model" in str(e.value) and "--parser rule" in str(e.value)


def test_an_unloadable_model_id_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    llm._init_model.cache_clear()
    monkeypatch.setenv(LLM_ENV, "no-such-provider:some-model")
    with pytest.raises(
        LLMNotConfigured, match="could not be loaded by langchain.chat_models.init_chat_model"
    ):
        llm.resolve_model()
    with pytest.raises(ParserUnavailable, match="no-such-provider"):
        parser_for("hybrid")


def test_pipeline_and_cli_without_a_model_fail_clearly(tmp_path) -> None:
    res = ask("patients diagnosed with stroke", tmp_path / "absent.duckdb", parser="llm")
    assert res.status == "error" and LLM_ENV in res.message
    out = CliRunner().invoke(
        app,
        [
            "ask",
            "--parser",
            "hybrid",
            "--mart",
            str(tmp_path / "absent.duckdb"),
            "patients diagnosed with stroke",
        ],
    )
    assert out.exit_code == 2 and LLM_ENV in out.output
    out = CliRunner().invoke(app, ["ask", "--parser", "gpt", "patients diagnosed with stroke"])
    assert out.exit_code == 2 and "unknown parser" in out.output


# ------------------------------------------------------------------------------------------- wiring
@pytest.mark.slow
def test_llm_spec_takes_the_same_downstream_as_the_rule_parser(
    monkeypatch: pytest.MonkeyPatch, eunomia_path
) -> None:
    q = "patients diagnosed with GI bleeding"
    gi = {"language": "en", "index": {"domain": "condition", "concepts": {"terms": ["GI bleeding"]}}}
    fake = Fake(responses=[ok(gi)] * 3)
    monkeypatch.setenv(LLM_ENV, "fake:model")
    monkeypatch.setattr(llm, "_init_model", lambda ident: fake)
    rule = ask(q, eunomia_path, include_person_ids=True)
    by_llm = ask(q, eunomia_path, include_person_ids=True, parser="llm")
    assert rule.status == by_llm.status == "ok" and rule.count
    assert by_llm.person_ids == rule.person_ids and by_llm.sql and "LLM" in " ".join(by_llm.notes)
    refused = ask("delete all patients diagnosed with GI bleeding", eunomia_path, parser="llm")
    assert refused.status == "refused" and refused.sql is None
    # the registry (used by the eval runner): --parser llm builds the model once and calls nlq.llm.parse
    parse_fn = parser_for("llm")
    assert parse_fn(q, today=None).spec.index.concepts.terms == ["GI bleeding"]
    out = CliRunner().invoke(app, ["ask", "--parser", "llm", "--json", "--mart", str(eunomia_path), q])
    assert out.exit_code == 0 and json.loads(out.stdout)["count"] == rule.count
    assert len(fake.calls) == 3
