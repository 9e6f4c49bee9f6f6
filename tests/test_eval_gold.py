"""The gold set is valid material: sizes, uniqueness, split rule, and every gold SQL runs non-empty.

A gold query that selects nobody cannot tell a right engine from a wrong one, and a duplicated or
misplaced question silently skews the figures, so these checks guard the measurement itself.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from cohort_engine.evals.gold import GoldError, GoldRecord, few_shot_pool, load_gold, split_for
from cohort_engine.evals.metrics import normalise_spec
from cohort_engine.evals.runner import gold_person_ids
from cohort_engine.seed import SEED_EN, SEED_KO
from cohort_engine.spec import Domain

RECORDS = load_gold()
ANSWERABLE = [r for r in RECORDS if r.answerable]
REFUSABLE = [r for r in RECORDS if not r.answerable]


def _norm(q: str) -> str:
    return re.sub(r"\s+", " ", q).strip().lower()


def test_sizes_meet_the_issue() -> None:
    langs = Counter(r.language for r in ANSWERABLE)
    marts = Counter(r.mart for r in ANSWERABLE)
    assert len(ANSWERABLE) >= 300
    assert langs["ko"] >= 120 and langs["en"] >= 120
    assert marts["eunomia"] >= 60
    assert len(REFUSABLE) >= 50
    assert {r.expected_status for r in REFUSABLE} == {"refused", "clarify"}


def test_questions_and_ids_are_unique() -> None:
    dupes = [q for q, n in Counter(_norm(r.question) for r in RECORDS).items() if n > 1]
    assert not dupes, f"duplicated questions: {dupes[:5]}"
    assert len({r.id for r in RECORDS}) == len(RECORDS)


def test_split_is_stable_and_balanced() -> None:
    assert all(r.split == split_for(r.intent, r.source) for r in RECORDS)
    corpus = [r for r in ANSWERABLE if r.source == "corpus"]
    refusable = [r for r in REFUSABLE if r.source == "corpus"]
    for group in (corpus, refusable, [r for r in corpus if r.language == "ko"]):
        dev = sum(r.split == "dev" for r in group) / len(group)
        assert 0.35 <= dev <= 0.65, f"dev share {dev:.2f} is far from 50/50"
    independent = [r for r in ANSWERABLE if r.source == "independent"]
    if len(independent) >= 40:
        share = sum(r.split == "open" for r in independent) / len(independent)
        assert 0.3 <= share <= 0.7, f"open share {share:.2f} is far from 50/50"


def test_a_record_that_breaks_the_split_rule_is_rejected() -> None:
    rec = ANSWERABLE[0].model_dump()
    rec["split"] = "test" if rec["split"] == "dev" else "dev"
    with pytest.raises(ValueError, match="split rule"):
        GoldRecord.model_validate(rec)


def test_load_gold_names_the_bad_line(tmp_path) -> None:
    bad = {
        "id": "x",
        "intent": "x",
        "question": "q",
        "language": "en",
        "split": split_for("x"),
        "mart": "demo",
        "expected_status": "refused",
        "gold_sql": "SELECT 1",
    }
    (tmp_path / "a.jsonl").write_text(json.dumps(bad) + "\n", "utf-8")
    with pytest.raises(GoldError, match=r"a\.jsonl:1: .*no gold_sql"):
        load_gold(tmp_path)


def test_paraphrases_share_mart_status_and_sql() -> None:
    by_intent: dict[str, list[GoldRecord]] = defaultdict(list)
    for r in RECORDS:
        by_intent[r.intent].append(r)
    for intent, recs in by_intent.items():
        assert len({(r.mart, r.expected_status, r.gold_sql, r.split) for r in recs}) == 1, intent


def test_seed_scenario_is_in_both_languages() -> None:
    questions = {r.question for r in ANSWERABLE}
    assert SEED_EN in questions and SEED_KO in questions


def test_gold_sql_is_hand_written_not_compiled() -> None:
    # The compiler's CTE names; gold SQL that contains them was copied from compiler output.
    markers = ("index_rows", "cs_index", "k1_pairs", "qualifying")
    assert not [r.id for r in ANSWERABLE if any(m in (r.gold_sql or "") for m in markers)]


def test_gold_specs_use_spec_vocabulary() -> None:
    domains = {d.value for d in Domain}
    occurrence = re.compile(r"^(absent|(at_least|at_most|exactly):\d+)$")
    with_spec = [r for r in ANSWERABLE if r.gold_spec]
    assert len(with_spec) >= 100
    for r in with_spec:
        spec = normalise_spec(r.gold_spec or {})
        assert set(r.gold_spec or {}) <= {"index", "demographics", "criteria"}, r.id
        assert spec["index"]["domain"] in domains, r.id
        for c in spec.get("criteria", []):
            assert c["domain"] in domains and occurrence.match(c["occurrence"]), r.id


def test_test_questions_stay_out_of_the_parser_corpus() -> None:
    """The parser's development corpus may borrow dev questions, never test ones (see evals/README.md)."""
    corpus_dir = Path(__file__).parents[1] / "evals" / "parser_corpus"
    sentences = set()
    for path in sorted(corpus_dir.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                sentences.add(_norm(str(json.loads(line).get("sentence", ""))))
    leaked = [r.id for r in RECORDS if r.split in ("test", "blind") and _norm(r.question) in sentences]
    assert not leaked, f"test/blind questions copied into evals/parser_corpus: {leaked}"


def test_few_shot_pool_is_dev_only() -> None:
    pool = few_shot_pool(RECORDS)
    assert pool and all(r.split == "dev" for r in pool)


@pytest.mark.slow
@pytest.mark.parametrize("mart", ["demo", "eunomia", "demo7"])
def test_every_gold_sql_runs_and_selects_somebody(mart: str, request: pytest.FixtureRequest) -> None:
    con = request.getfixturevalue(mart)
    problems = []
    for sql, ids in _by_sql(mart).items():
        try:
            if not gold_person_ids(con, sql):
                problems.append(f"{ids[0]}: selects nobody")
        except GoldError as e:
            problems.append(f"{ids[0]}: {e}")
    assert not problems, "\n".join(problems)


def _by_sql(mart: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for r in ANSWERABLE:
        if r.mart == mart and r.gold_sql:
            out[r.gold_sql].append(r.id)
    return out
