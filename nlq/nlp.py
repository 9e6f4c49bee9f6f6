"""spaCy pipelines and the clinical-mention matchers, built once per process.

Blank pipelines only (no model download): English uses spaCy's English tokenizer; Korean uses
spaCy's rule-based tokenizer (``spacy.Tokenizer.v1``) because the default Korean tokenizer needs
mecab, which is not installed. English mentions are found with a ``PhraseMatcher`` over the lexicon;
Korean mentions with a scanner over the sentence with spaces removed, because Korean writers space
compounds freely ('관상 동맥 질환' = '관상동맥질환') and glue particles to nouns ('심근경색이나').
"""

from __future__ import annotations

from functools import lru_cache

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.util import filter_spans

from cohort_engine.nlq.lexicon import Alias, aliases, scanner
from cohort_engine.nlq.text import HANGUL

KOREAN_CONFIG = {"nlp": {"tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}}}
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
def english() -> Language:
    return spacy.blank("en")


@lru_cache(maxsize=1)
def korean() -> Language:
    return spacy.blank("ko", config=KOREAN_CONFIG)


def tokens(text: str, lang: str) -> list[tuple[str, int]]:
    """Tokens with their character offsets."""
    nlp = korean() if lang == "ko" else english()
    return [(t.text, t.idx) for t in nlp.tokenizer(text)]


@lru_cache(maxsize=1)
def _english_matcher() -> tuple[PhraseMatcher, PhraseMatcher, dict[int, str]]:
    nlp = english()
    any_case = PhraseMatcher(nlp.vocab, attr="LOWER")
    exact = PhraseMatcher(nlp.vocab, attr="ORTH")
    keys: dict[int, str] = {}
    for a in aliases():
        if HANGUL.search(a.text):
            continue
        label = f"{a.key}"
        keys[nlp.vocab.strings.add(label)] = a.key
        if a.case == "any":
            # spaCy may split a word differently by case ('t2dm' → t2 + dm, 'T2DM' stays whole): one
            # pattern per split
            docs: dict[tuple[str, ...], Doc] = {}
            forms = [a.text, a.text.upper(), a.text.capitalize(), a.text.title()]
            if len(a.text) >= 4 and a.text[-1].isalpha() and not a.text.endswith("s"):
                forms.append(
                    a.text + ("es" if a.text.endswith(("x", "ch", "sh")) else "s")
                )  # 'strokes', 'PCIs'
            for form in forms:
                doc = nlp.make_doc(form)
                docs.setdefault(tuple(t.lower_ for t in doc), doc)
            any_case.add(label, list(docs.values()))
        else:
            exact.add(
                label, [nlp.make_doc(f) for f in {a.text, a.text.upper(), a.text[:1].upper() + a.text[1:]}]
            )
    return any_case, exact, keys


def find_terms_en(text: str) -> list[tuple[int, int, str]]:
    """Longest non-overlapping lexicon mentions: (start char, end char, entry key)."""
    any_case, exact, keys = _english_matcher()
    doc = english().make_doc(text)
    spans = []
    labels: dict[tuple[int, int], str] = {}
    for m, s, e in [*any_case(doc), *exact(doc)]:
        sp = doc[s:e]
        spans.append(sp)
        labels.setdefault((sp.start_char, sp.end_char), keys[m])
    return [(sp.start_char, sp.end_char, labels[(sp.start_char, sp.end_char)]) for sp in filter_spans(spans)]


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
