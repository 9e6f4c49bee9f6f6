"""Tokens and clinical mentions of a sentence, built once per process.

Tokens are spaCy's (blank English pipeline; for Korean spaCy's rule-based ``spacy.Tokenizer.v1``,
because the default Korean tokenizer needs mecab), computed by ``nlq.rule_tokenizer`` from spaCy's
rules kept in a cache file (``nlq.tokenizer_cache``), so a process that parses need not import spaCy
(~1 s of CPU with its pipelines and matcher). English mentions are the lexicon phrases spaCy's
``PhraseMatcher`` would find (``nlq.spacy_rules`` builds it; the tests compare both); Korean
mentions with a scanner over the sentence with spaces removed, because Korean writers space
compounds freely ('관상 동맥 질환' = '관상동맥질환') and glue particles to nouns ('심근경색이나').
"""

from __future__ import annotations

from functools import lru_cache

from cohort_engine.nlq import tokenizer_cache
from cohort_engine.nlq.lexicon import Alias, scanner
from cohort_engine.nlq.rule_tokenizer import PhraseTable, RuleTokenizer, TokenizerData, filter_spans
from cohort_engine.nlq.text import HANGUL

_SKIP = set(" \t-_.'’")
# Text that may sit between the start of a Korean word and a mention inside it ('당뇨병과고혈압').
KO_GLUE = {
    "이나",
    "나",
    "과",
    "와",
    "및",
    "또는",
    "혹은",
    "랑",
    "이랑",
    "하고",
    "또",
    "이거나",
    "거나",
    "그리고",
}


@lru_cache(maxsize=1)
def _data() -> TokenizerData:
    return tokenizer_cache.data()


@lru_cache(maxsize=2)
def tokenizer(lang: str) -> RuleTokenizer:
    """The process's tokenizer for ``lang`` ('ko' or English), from the cached spaCy rules."""
    return RuleTokenizer(_data().ko if lang == "ko" else _data().en)


def tokens(text: str, lang: str) -> list[tuple[str, int]]:
    """Tokens with their character offsets."""
    return tokenizer("ko" if lang == "ko" else "en")(text)


@lru_cache(maxsize=1)
def _english_matcher() -> tuple[PhraseTable, PhraseTable]:
    """The lexicon's English phrases: ``any_case`` compares lower-cased words, ``exact`` the words as
    written (``nlq.spacy_rules.matchers`` builds the spaCy matchers these reproduce)."""
    data = _data()
    return (
        PhraseTable.of(True, {tuple(w): keys for w, keys in data.any_case}),
        PhraseTable.of(False, {tuple(w): keys for w, keys in data.exact}),
    )


def find_terms_en(text: str) -> list[tuple[int, int, str]]:
    """Longest non-overlapping lexicon mentions: (start char, end char, entry key)."""
    any_case, exact = _english_matcher()
    toks = tokenizer("en")(text)
    words = [t for t, _ in toks]
    spans: list[tuple[int, int]] = []
    labels: dict[tuple[int, int], str] = {}
    for key, s, e in [*any_case(words), *exact(words)]:
        spans.append((s, e))
        labels.setdefault((toks[s][1], toks[e - 1][1] + len(toks[e - 1][0])), key)
    out = []
    for s, e in filter_spans(spans):
        a, b = toks[s][1], toks[e - 1][1] + len(toks[e - 1][0])
        out.append((a, b, labels[(a, b)]))
    return out


def _latin(c: str) -> bool:
    return c.isascii() and c.isalnum()


def find_terms_ko(text: str) -> list[tuple[int, int, str]]:
    """Longest-first mentions in Korean text (Korean and English aliases), spacing-insensitive."""
    chars: list[str] = []
    pos: list[int] = []
    for i, ch in enumerate(text):
        if ch not in _SKIP:
            chars.append(ch.lower())
            pos.append(i)
    s = "".join(chars)
    table = scanner()
    out: list[tuple[int, int, str]] = []
    i = 0
    last_end = -1
    while i < len(s):
        hit: tuple[str, Alias] | None = None
        for c, alias in table.get(s[i], ()):
            if not s.startswith(c, i):
                continue
            a, b = pos[i], pos[i + len(c) - 1] + 1
            if _latin(c[0]) and a > 0 and _latin(text[a - 1]):
                continue
            if _latin(c[-1]) and b < len(text) and _latin(text[b]):
                continue
            written = text[a:b].replace(" ", "")
            if alias.case == "upper" and written not in (
                alias.text,
                alias.text.upper(),
                alias.text[:1].upper() + alias.text[1:],  # 'Hb', 'Na': as the English matcher allows
            ):
                continue
            if HANGUL.match(text[a]) and a > 0 and HANGUL.match(text[a - 1]) and a != last_end:
                word_start = max(text.rfind(" ", 0, a) + 1, 0)
                if text[word_start:a] not in KO_GLUE:
                    continue
            hit = (c, alias)
            break
        if hit is None:
            i += 1
            continue
        c, alias = hit
        a, b = pos[i], pos[i + len(c) - 1] + 1
        out.append((a, b, alias.key))
        last_end = b
        i += len(c)
    return out
