"""The parser's spaCy pipelines and lexicon matchers, and the same rules taken out as data.

Why a separate module: spaCy is the reference for how the parser tokenizes and finds lexicon
mentions, but importing it costs half a second of every ``cohort ask``. The parser itself runs
``nlq.rule_tokenizer`` over :class:`TokenizerData`; this module builds that data from spaCy (only
when ``nlq.tokenizer_cache`` has no file for this spaCy and this lexicon) and keeps the spaCy objects
that tests compare against. Importing it imports spaCy.

Blank pipelines only (no model download): English uses spaCy's English tokenizer; Korean uses spaCy's
rule-based tokenizer (``spacy.Tokenizer.v1``) because the default Korean tokenizer needs mecab, which
is not installed. English mentions are found with a ``PhraseMatcher`` over the lexicon.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cohort_engine.nlq.lexicon import Alias
from cohort_engine.nlq.rule_tokenizer import RuleTokenizer, TokenizerData, TokenizerRules
from cohort_engine.nlq.spacy_plugins import import_spacy
from cohort_engine.nlq.text import HANGUL

spacy = import_spacy()  # without its command line (and other packages' factories, where asked)

from spacy.attrs import ORTH  # noqa: E402
from spacy.language import Language  # noqa: E402
from spacy.matcher import PhraseMatcher  # noqa: E402
from spacy.tokens import Doc  # noqa: E402

KOREAN_CONFIG = {"nlp": {"tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}}}


@lru_cache(maxsize=1)
def english() -> Language:
    return spacy.blank("en")


@lru_cache(maxsize=1)
def korean() -> Language:
    return spacy.blank("ko", config=KOREAN_CONFIG)


def _any_case_forms(text: str) -> list[str]:
    """The written forms of an any-case alias: spaCy may split a word differently by case ('t2dm' →
    t2 + dm, 'T2DM' stays whole), so one pattern per split."""
    forms = [text, text.upper(), text.capitalize(), text.title()]
    if len(text) >= 4 and text[-1].isalpha() and not text.endswith("s"):
        forms.append(text + ("es" if text.endswith(("x", "ch", "sh")) else "s"))  # 'strokes', 'PCIs'
    return forms


def _exact_forms(text: str) -> set[str]:
    return {text, text.upper(), text[:1].upper() + text[1:]}


def matchers(aliases: list[Alias]) -> tuple[PhraseMatcher, PhraseMatcher, dict[int, str]]:
    """The English lexicon matchers: ``any_case`` on LOWER, ``exact`` on ORTH, and match id → key."""
    nlp = english()
    any_case = PhraseMatcher(nlp.vocab, attr="LOWER")
    exact = PhraseMatcher(nlp.vocab, attr="ORTH")
    keys: dict[int, str] = {}
    for a in aliases:
        if HANGUL.search(a.text):
            continue
        label = f"{a.key}"
        keys[nlp.vocab.strings.add(label)] = a.key
        if a.case == "any":
            docs: dict[tuple[str, ...], Doc] = {}
            for form in _any_case_forms(a.text):
                doc = nlp.make_doc(form)
                docs.setdefault(tuple(t.lower_ for t in doc), doc)
            any_case.add(label, list(docs.values()))
        else:
            exact.add(label, [nlp.make_doc(f) for f in _exact_forms(a.text)])
    return any_case, exact, keys


def rules_of(nlp: Language) -> TokenizerRules:
    """A pipeline's tokenizer rules as data (its compiled patterns' source, its exceptions' ORTHs)."""
    t: Any = nlp.tokenizer  # spaCy's Tokenizer (typed as a plain callable on Language)

    def source(fn: Any) -> str | None:
        if fn is None:
            return None
        pattern = fn.__self__
        if pattern.flags & ~32:  # re.UNICODE only, as spaCy's compile_*_regex produce
            raise ValueError(f"unexpected regex flags {pattern.flags} in the spaCy tokenizer")
        return str(pattern.pattern)

    return TokenizerRules(
        prefix=source(t.prefix_search),
        suffix=source(t.suffix_search),
        infix=source(t.infix_finditer),
        token_match=source(t.token_match),
        url_match=source(t.url_match),
        faster_heuristics=bool(t.faster_heuristics),
        specials={chunk: [piece[ORTH] for piece in pieces] for chunk, pieces in t.rules.items()},
    )


def _in_spacy_order(
    matcher: PhraseMatcher, keys: dict[int, str], patterns: dict[tuple[str, ...], set[str]]
) -> list[tuple[list[str], list[str]]]:
    """Each pattern's keys in the order spaCy's matcher reports them for that phrase (its hash
    table's order: the first one is the mention's key when two entries share a phrase)."""
    out = []
    for words, expected in patterns.items():
        doc = Doc(english().vocab, words=list(words), spaces=[False] * len(words))
        order = [keys[m] for m, s, e in matcher(doc) if (s, e) == (0, len(words))]
        if set(order) != expected or len(order) != len(expected):
            raise ValueError(f"the spaCy matcher reports {order} for {words}, expected {sorted(expected)}")
        out.append((list(words), order))
    return out


def tokenizer_data(aliases: list[Alias]) -> TokenizerData:
    """Everything :mod:`nlq.nlp` needs, taken from spaCy."""
    nlp = english()
    any_case, exact, keys = matchers(aliases)
    lower: dict[tuple[str, ...], set[str]] = {}
    orth: dict[tuple[str, ...], set[str]] = {}
    for a in aliases:
        if HANGUL.search(a.text):
            continue
        if a.case == "any":
            for form in _any_case_forms(a.text):
                lower.setdefault(tuple(t.lower_ for t in nlp.make_doc(form)), set()).add(a.key)
        else:
            for form in _exact_forms(a.text):
                orth.setdefault(tuple(t.text for t in nlp.make_doc(form)), set()).add(a.key)
    return TokenizerData(
        en=RuleTokenizer(rules_of(nlp)).prepared(),
        ko=RuleTokenizer(rules_of(korean())).prepared(),
        any_case=_in_spacy_order(any_case, keys, lower),
        exact=_in_spacy_order(exact, keys, orth),
    )
