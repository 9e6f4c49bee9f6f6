"""The parser's spaCy-free tokenizer and lexicon matcher give spaCy's output exactly, and their rules
come from a cache file so that parsing imports no spaCy.

``nlq.rule_tokenizer`` ports spaCy's tokenizer and ``PhraseMatcher``; these tests hold it to spaCy
itself, token for token (text and offset), on every sentence of the parser corpus and the gold question
files (the blind split excepted: it is not read) and on generated text full of the cases spaCy's rules
treat specially (contractions, abbreviations, URLs, units, emoticons, odd whitespace, Hangul).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cohort_engine.nlq import nlp, spacy_rules, tokenizer_cache
from cohort_engine.nlq.lexicon import aliases
from cohort_engine.nlq.rule_tokenizer import RuleTokenizer
from cohort_engine.nlq.stop_words import STOP_WORDS

ROOT = Path(__file__).resolve().parents[1]


def _sentences() -> list[str]:
    out = []
    for f in sorted((ROOT / "evals" / "parser_corpus").glob("*.jsonl")):
        out += [json.loads(line)["sentence"] for line in f.read_text("utf-8").splitlines() if line.strip()]
    for f in sorted((ROOT / "evals" / "gold").rglob("*.jsonl")):
        for line in f.read_text("utf-8").splitlines():
            if line.strip():
                q = json.loads(line).get("question")
                if isinstance(q, str):
                    out.append(q)
    return out


PIECES = [
    "can't",
    "don't",
    "I'm",
    "it's",
    "'s",
    "n't",
    "’s",
    "’",
    "''",
    "``",
    '"',
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "e.g.",
    "i.e.",
    "a.m.",
    "p.m.",
    "Dr.",
    "Mr.",
    "U.S.",
    "etc.",
    "vs.",
    "b.i.d.",
    "500mg",
    "7.5%",
    ">=",
    "<=",
    "=",
    "-",
    "--",
    "—",
    "–",
    "/",
    "\\",
    ":",
    ";",
    ",",
    ".",
    "...",
    "!",
    "?",
    "#",
    "@",
    "$",
    "€",
    "£",
    "%",
    "&",
    "*",
    "+",
    "http://x.org/a?b=1",
    "www.test.com",
    "a@b.co",
    "10:30",
    "2020-01-02",
    "01/02/2020",
    "3x",
    "x3",
    "T2DM",
    "HbA1c",
    "NT-proBNP",
    "COVID-19",
    "¿",
    "¡",
    "°C",
    "°",
    "'",
    "’’",
    ":)",
    ":-)",
    "<3",
    "^_^",
    "o_O",
    "C++",
    "1st",
    "2nd",
    "40-65",
    "40–65",
    "5'",
    '6"',
    "’90s",
    "'90s",
    "y'all",
    "gonna",
    "cannot",
    "Ms.",
    "Jan.",
    "St.",
    "ü",
    "é",
    "ß",
    "İ",
    "ﬁ",
    "환자",
    "고혈압",
    "당뇨병이나",
    "65세",
    "MRI를",
    "-5",
    "+3",
    "1,000",
    "1.000",
    "3/4",
    "½",
    "²",
    "™",
    "©",
    "🙂",
    "👍🏽",
]
SPACES = (" ", " ", " ", "  ", "\n", "\t", " \n ", "\u00a0", "")


def _generated(words: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = "" if rng.random() < 0.8 else rng.choice(SPACES)
        for _ in range(rng.randint(1, 12)):
            p = rng.choice(PIECES) if rng.random() < 0.6 else rng.choice(words)
            if rng.random() < 0.3:
                p = p.upper() if rng.random() < 0.5 else p.title()
            if rng.random() < 0.25:
                p = rng.choice(PIECES) + p
            if rng.random() < 0.25:
                p += rng.choice(PIECES)
            s += p + rng.choice(SPACES)
        out.append(s)
    return out


@pytest.fixture(scope="module")
def texts() -> list[str]:
    sentences = _sentences()
    assert len(sentences) > 1000
    return sentences + _generated(" ".join(sentences).split(), 2000, seed=14)


def _spacy_terms_en(text: str) -> list[tuple[int, int, str]]:
    """``find_terms_en`` as it was written on spaCy (the reference)."""
    from spacy.util import filter_spans

    any_case, exact, keys = _spacy_matchers()
    doc = spacy_rules.english().make_doc(text)
    spans = []
    labels: dict[tuple[int, int], str] = {}
    for m, s, e in [*any_case(doc), *exact(doc)]:
        sp = doc[s:e]
        spans.append(sp)
        labels.setdefault((sp.start_char, sp.end_char), keys[m])
    return [(sp.start_char, sp.end_char, labels[(sp.start_char, sp.end_char)]) for sp in filter_spans(spans)]


_MATCHERS: list[object] = []


def _spacy_matchers() -> Any:
    if not _MATCHERS:
        _MATCHERS.append(spacy_rules.matchers(aliases()))
    return _MATCHERS[0]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_tokens_are_spacys(texts: list[str], lang: str) -> None:
    ref = spacy_rules.korean() if lang == "ko" else spacy_rules.english()
    diff = [t for t in texts if nlp.tokens(t, lang) != [(x.text, x.idx) for x in ref.tokenizer(t)]]
    assert diff == []


def test_rules_computed_at_load_are_those_kept_in_the_file() -> None:
    """The cache file keeps what loading the exceptions computes; computing it afresh gives the
    same tokenizer."""
    rules = spacy_rules.rules_of(spacy_rules.english())
    fresh, kept = RuleTokenizer(rules), RuleTokenizer(RuleTokenizer(rules).prepared())
    assert fresh._special_patterns == kept._special_patterns and fresh._cache == kept._cache
    assert kept.rules.initial_cache == {"’’": ["’", "’"]}  # what spaCy's own load leaves cached


def test_english_mentions_are_spacys(texts: list[str]) -> None:
    diff = [t for t in texts if nlp.find_terms_en(t) != _spacy_terms_en(t)]
    assert diff == []
    assert nlp.find_terms_en("coronary revascularization for CAD") == _spacy_terms_en(
        "coronary revascularization for CAD"
    )  # a phrase of two entries: the first spaCy reports wins, in both


def test_stop_words_are_spacys() -> None:
    from spacy.lang.en.stop_words import STOP_WORDS as SPACY_STOP_WORDS

    assert STOP_WORDS == SPACY_STOP_WORDS and "whereafter" in STOP_WORDS


PROBE = """
import json, sys
from cohort_engine.nlq import nlp, tokenizer_cache
out = {"file": tokenizer_cache.cache_file().is_file()}
out["tokens"] = nlp.tokens(sys.argv[1], "en")
out["terms"] = nlp.find_terms_en(sys.argv[1])
out["spacy"] = "spacy" in sys.modules
print(json.dumps(out))
"""


def test_the_cache_file_spares_spacy(tmp_path: Path) -> None:
    """The first process builds the file from spaCy; the next reads it and never imports spaCy; a
    damaged file is rebuilt, not trusted."""
    env = {**os.environ, "COHORT_ENGINE_CACHE": str(tmp_path)}
    text = "Patients w/ T2DM and HbA1c>=7.5%, on metformin 500mg b.i.d. since 01/02/2020"

    def run() -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, text], capture_output=True, text=True, env=env, check=True
        )
        return dict(json.loads(done.stdout))

    first, second = run(), run()
    assert (first["file"], first["spacy"]) == (False, True)
    assert (second["file"], second["spacy"]) == (True, False)
    assert first["tokens"] == second["tokens"] and first["terms"] == second["terms"] != []
    files = list((tmp_path / "tokenizer").glob("*.json"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "tokenizer").stat().st_mode & 0o777 == 0o700
    files[0].write_text('{"en": "damaged"}')
    third = run()
    assert third["spacy"] is True and third["terms"] == first["terms"]
    assert tokenizer_cache.load(files[0]) is not None  # rewritten whole


def test_the_file_changes_with_the_lexicon(monkeypatch: pytest.MonkeyPatch) -> None:
    from cohort_engine.nlq.lexicon import Alias

    before = tokenizer_cache.stamp()
    monkeypatch.setattr(tokenizer_cache, "aliases", lambda: [*aliases(), Alias("zzz new term", "x", "any")])
    assert tokenizer_cache.stamp() != before
