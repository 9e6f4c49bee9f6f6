"""Asking back as a way forward (``cohort_engine.followups``): answers applied to the question, the
choices offered for a question back, and the REST API and CLI doors over them.

Why: a ``clarify`` answer is the common case for real text; it must show what was understood and offer
choices that continue the same question, and a picked choice must be applied deterministically (text
edits on what the user typed plus overrides), never by the server writing a question of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from cohort_engine.api.app import create_app
from cohort_engine.followups import (
    Answer,
    ConceptOption,
    apply_answers,
    followup,
    is_rewording,
    locate,
    replacement,
    term_index,
)
from cohort_engine.nlq.parser import parse
from cohort_engine.nlq.result import Clarification, ParseResult
from tests.api_fixtures import build_tiny_mart

D = lambda span, within=None: Answer(action="drop", span=span, within=within)  # noqa: E731
R = replacement
C = lambda term, cid: Answer(term=term, concept_id=cid)  # noqa: E731


# -- applying answers ------------------------------------------------------------------------------

APPLY = [
    # question, answers, edited question, overrides, applied flags
    ("metformin users with an HbA1c above 8", [D("users")], "metformin with an HbA1c above 8", {}, [True]),
    ("MI patients, frail, in 2023", [D("frail")], "MI patients, in 2023", {}, [True]),
    (
        "Elderly patients with MI",
        [R("elderly", "aged 65 or older")],
        "aged 65 or older patients with MI",
        {},
        [True],
    ),
    (
        "patients with hart attack",
        [R("hart attack", "heart attack")],
        "patients with heart attack",
        {},
        [True],
    ),
    ("환자 중 흡연자", [D("자")], "환 중 흡연자", {}, [True]),  # the first place, unless told where
    ("환자 중 흡연자", [D("자", within="흡연자")], "환자 중 흡연", {}, [True]),
    ("so also so", [D("so")], "also so", {}, [True]),  # whole words first: not the "so" of "also"
    ("patients with MI", [C("MI", 1001)], "patients with MI", {"MI": [1001]}, [True]),
    ("patients with MI", [C("MI", 1001), C("MI", 1002)], "patients with MI", {"MI": [1002]}, [True, True]),
    ("patients with MI", [D("stroke")], "patients with MI", {}, [False]),
    ("patients", [D("patients")], "patients", {}, [False]),  # nothing would be left
    ("a b c", [D("b"), R("c", "d"), D("b")], "a d", {}, [True, True, False]),  # in order, on the edited text
]


@pytest.mark.parametrize("question,answers,edited,overrides,flags", APPLY)
def test_answers_apply_in_order(question, answers, edited, overrides, flags) -> None:
    got = apply_answers(question, answers)
    assert got.question == edited and got.overrides == overrides
    assert [a.applied for a in got.applied] == flags
    assert all(a.reason for a in got.applied if not a.applied)


@pytest.mark.parametrize(
    "wire",
    [
        {"action": "drop"},
        {"action": "replace", "span": "x"},
        {"term": "MI"},
        {"span": "x"},
        {"action": "drop", "span": ""},
        {"action": "drop", "span": "x" * 201},
        {"term": "MI", "concept_id": -1},
        {"action": "drop", "span": "x", "extra": 1},
    ],
)
def test_malformed_answers_are_refused(wire: dict) -> None:
    with pytest.raises(ValidationError):
        Answer.model_validate(wire)


@pytest.mark.parametrize(
    "text,wire",
    [
        ("drop:users", {"action": "drop", "span": "users"}),
        ("drop:자@흡연자", {"action": "drop", "span": "자", "within": "흡연자"}),
        (
            "replace:hart attack=heart attack",
            {"action": "replace", "span": "hart attack", "with": "heart attack"},
        ),
        ("concept:MI=4329847", {"action": "concept", "term": "MI", "concept_id": 4329847}),
    ],
)
def test_cli_answers_round_trip(text: str, wire: dict) -> None:
    a = Answer.from_cli(text)
    assert a.wire() == wire and a.cli() == text and Answer.model_validate(a.wire()) == a


@pytest.mark.parametrize("text", ["users", "drop:", "replace:x", "concept:MI=x", "swap:a=b"])
def test_bad_cli_answers_say_the_syntax(text: str) -> None:
    with pytest.raises(ValueError):
        Answer.from_cli(text)


@pytest.mark.parametrize(
    "text,span,within,where",
    [
        ("metformin users", "users", None, (10, 15)),
        ("metformin users", "“users”", None, (10, 15)),  # a parser's quotes
        ("Elderly patients", "elderly", None, (0, 7)),
        ("환자 중 흡연자", "자", "흡연자", (7, 8)),
        ("patients", "stroke", None, None),
    ],
)
def test_locate(text, span, within, where) -> None:
    assert locate(text, span, within) == where


@pytest.mark.parametrize(
    "reading,rewording",
    [
        ("aged 65 or older", True),
        ("within 30 days after", True),
        ("65세 이상", True),
        ("drug", False),  # a kind to pick, not words to put in the span's place
        ("any procedure", False),
        ("patients diagnosed with …", False),
    ],
)
def test_which_readings_can_replace_the_span(reading: str, rewording: bool) -> None:
    assert is_rewording(reading) is rewording


def test_close_terms_leave_out_the_word_itself() -> None:
    idx = term_index(["heart attack", "Heart Attack", "heart failure", "aspirin", "smoking"])
    assert idx.close("hart attack") == ["heart attack"]
    assert idx.close("heart attack") == []  # the word itself is no news
    assert idx.close("users") == []


# -- what a question back offers ---------------------------------------------------------------------


def _fake_reader(table: dict[str, ParseResult]):
    """A reader that knows a few questions; anything else asks back about nothing in particular."""
    return lambda q: table.get(q, ParseResult(status="clarify", clarifications=[Clarification(question="?")]))


def test_offer_with_a_fake_reader_is_deterministic() -> None:
    ok = parse("patients diagnosed with MI in 2023")
    assert ok.status == "ok"
    read = _fake_reader({"patients diagnosed with MI in 2023": ok})
    clar = [Clarification(question="I did not understand “so”.", span="so")]
    f = followup("patients diagnosed with MI in 2023 so", clar, language="en", read=read)
    assert [(s.text, s.mark) for s in f.marked] == [
        ("patients diagnosed with MI in 2023 ", None),
        ("so", "unread"),
    ]
    assert f.partial_spec == ok.spec and f.partial_readback and f.partial_readback.startswith("Index event")
    assert [(c.kind, c.label, c.preview, [a.wire() for a in c.answers]) for c in f.choices] == [
        ("drop", "Read it without “so”", "ok", [{"action": "drop", "span": "so"}])
    ]


def test_earlier_answers_lead_every_choice_and_concepts_are_offered() -> None:
    earlier = [D("frail")]
    concepts = [ConceptOption(term="MI", concept_id=1001, label="Acute myocardial infarction (ICD10CM I21)")]
    clar = [Clarification(question="Which concept did you mean by “MI”?", span="MI", choices=["a", "b"])]
    f = followup("patients with MI", clar, language="en", read=parse, concepts=concepts, earlier=earlier)
    assert [(c.kind, [a.wire() for a in c.answers]) for c in f.choices] == [
        (
            "concept",
            [{"action": "drop", "span": "frail"}, {"action": "concept", "term": "MI", "concept_id": 1001}],
        )
    ]
    assert f.unread == [] and f.partial_spec is None


OFFERS = [
    # question, words marked, partial read-back starts with, (kind, label, preview) expected among choices
    (
        "metformin takers with an HbA1c above 8 within 3 months after starting it",
        [("takers", "unread")],
        "Index event: any drug exposure of “metformin”",
        ("drop", "Read it without “takers”", "ok"),
    ),
    (
        "elderly patients diagnosed with MI in 2023",
        [("elderly", "unclear")],
        "Index event: any diagnosis of “MI”",
        ("reading", "aged 65 or older", "ok"),
    ),
    (
        "patients who got a hart attack in 2023",
        [("hart attack", "unread")],
        None,
        ("means", "I meant “heart attack”", "ok"),
    ),
    (
        "patients diagnosed with MI in 2023 who had a CABG 30 days after the diagnosis",
        [("30 days after", "unclear")],
        "Index event: any diagnosis of “MI”",
        ("reading", "within 30 days after", "ok"),
    ),
    (
        "2023년에 심근경색 진단받은 노인 환자",
        [("노인", "unclear")],
        "기준 사건: “심근경색”",
        ("reading", "65세 이상", "ok"),
    ),
    (
        "2023년에 심근경색 진단받은 환자 블라블라",
        [("블라블라", "unread")],
        "기준 사건: “심근경색”",
        ("drop", "“블라블라” 빼고 읽기", "ok"),
    ),
]


@pytest.mark.parametrize("question,marks,partial,choice", OFFERS)
def test_offers_for_real_questions_back(question, marks, partial, choice) -> None:
    parsed = parse(question)
    assert parsed.status == "clarify"
    terms = term_index(["heart attack", "heart failure", "metformin", "HbA1c", "심근경색"])
    f = followup(question, parsed.clarifications, language=parsed.language, read=parse, terms=terms)
    assert [(s.text, s.mark) for s in f.marked if s.mark] == marks
    assert "".join(s.text for s in f.marked) == question
    if partial is None:
        assert f.partial_readback is None
    else:
        assert f.partial_readback and f.partial_readback.startswith(partial)
    assert choice in [(c.kind, c.label, c.preview) for c in f.choices]
    picked = next(c for c in f.choices if c.label == choice[1])
    assert parse(apply_answers(question, picked.answers).question).status == choice[2]
    assert all(len([c for c in f.choices if c.kind == "means" and c.span == w]) <= 3 for w in f.unread)


# -- the REST API and the CLI ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    mart = build_tiny_mart(tmp_path_factory.mktemp("followups") / "mart.duckdb")
    app = create_app(mart)
    store = app.state.ctx.state
    keys = {role: store.create_key(role, role)[1] for role in ("researcher", "steward", "admin")}
    with TestClient(app) as client:
        yield {"client": client, "keys": keys, "mart": mart}


def _ask(env, body: dict, role: str = "steward"):
    return env["client"].post("/v1/ask", json=body, headers={"Authorization": f"Bearer {env['keys'][role]}"})


FRAIL = "patients diagnosed with MI between 2023-10-01 and 2023-10-10 who are frail"


def test_api_clarify_offers_a_way_forward_and_the_choice_reaches_the_cohort(env) -> None:
    d = _ask(env, {"question": FRAIL}).json()
    assert d["status"] == "clarify" and d["followup"]["unread"] == ["frail"]
    assert d["followup"]["partial_readback"].startswith("Index event: any diagnosis of “MI”")
    choice = next(c for c in d["followup"]["choices"] if c["kind"] == "drop")
    assert choice["answers"] == [{"action": "drop", "span": "frail"}] and choice["preview"] == "ok"
    done = _ask(env, {"question": FRAIL, "answers": choice["answers"]}).json()
    # persons 1–20 have an I21 diagnosis on 2023-10-01…10 (tests.api_fixtures)
    assert done["status"] == "ok" and done["count"] == 20 and done["followup"] is None
    assert done["asked"] == "patients diagnosed with MI between 2023-10-01 and 2023-10-10 who are"
    assert [a["applied"] for a in done["applied"]] == [True]
    # A concept pick is an override: MI pinned to I25.1 (persons 21–30).
    pinned = _ask(
        env, {"question": FRAIL, "answers": [*choice["answers"], {"term": "MI", "concept_id": 1002}]}
    )
    assert pinned.json()["count"] == 10


def test_api_researchers_get_the_followup_and_noisy_counts_as_before(env) -> None:
    d = _ask(env, {"question": FRAIL}, role="researcher").json()
    assert d["status"] == "clarify" and d["followup"]["choices"]
    done = _ask(
        env, {"question": FRAIL, "answers": [{"action": "drop", "span": "frail"}]}, "researcher"
    ).json()
    plain = _ask(env, {"question": done["asked"]}, "researcher").json()
    assert done["counts"] == "noisy" and done["count_display"] == plain["count_display"]


def test_api_followup_is_not_stored_and_answers_are_audited_as_digests(env) -> None:
    d = _ask(env, {"question": "patients diagnosed with MI in 2023 who are frailish"}).json()
    assert d["status"] == "clarify" and d["cohort_id"] is None
    done = _ask(env, {"question": FRAIL, "answers": [{"action": "drop", "span": "frail"}]}).json()
    stored = env["client"].get(
        f"/v1/cohorts/{done['cohort_id']}", headers={"Authorization": f"Bearer {env['keys']['steward']}"}
    )
    assert stored.json()["followup"] is None and stored.json()["asked"] is None
    audit = env["client"].get("/v1/audit", headers={"Authorization": f"Bearer {env['keys']['admin']}"}).text
    assert "frail" not in audit and '"answers"' in audit


@pytest.mark.parametrize(
    "answers",
    [[{"action": "drop"}], [{"span": "x", "action": "explode"}], [{"action": "drop", "span": "x"}] * 21],
)
def test_api_refuses_malformed_answers(env, answers) -> None:
    r = _ask(env, {"question": FRAIL, "answers": answers})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_api_an_answer_that_does_not_fit_is_reported_not_applied(env) -> None:
    d = _ask(env, {"question": FRAIL, "answers": [{"action": "drop", "span": "stroke"}]}).json()
    assert d["status"] == "clarify" and d["asked"] == FRAIL
    assert d["applied"][0]["applied"] is False and d["applied"][0]["reason"]


def test_cli_answer_continues_the_question(env, tmp_path: Path) -> None:
    from cohort_engine.cli import app

    runner = CliRunner()
    first = runner.invoke(app, ["ask", "--mart", str(env["mart"]), "--json", FRAIL])
    assert first.exit_code == 3
    body = json.loads(first.output)
    flags = [x for a in body["followup"]["choices"][0]["answers"] for x in ("--answer", Answer(**a).cli())]
    done = runner.invoke(app, ["ask", "--mart", str(env["mart"]), "--json", *flags, FRAIL])
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out["count"] == 20 and out["applied"][0]["applied"] is True
    pinned = runner.invoke(
        app, ["ask", "--mart", str(env["mart"]), "--json", *flags, "--answer", "concept:MI=1002", FRAIL]
    )
    assert json.loads(pinned.output)["count"] == 10
    text = runner.invoke(app, ["ask", "--mart", str(env["mart"]), FRAIL])
    assert text.exit_code == 3 and "--answer drop:frail" in text.output
    bad = runner.invoke(app, ["ask", "--mart", str(env["mart"]), "--answer", "swap:a=b", FRAIL])
    assert bad.exit_code == 2
