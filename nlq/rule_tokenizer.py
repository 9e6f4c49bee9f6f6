"""spaCy's rule-based tokenizer and ``PhraseMatcher``, in plain Python over plain data.

Why: the parser uses spaCy only to split a sentence into tokens (blank English and Korean pipelines)
and to find lexicon phrases among them, yet importing spaCy and building those pipelines costs about
half a second of every ``cohort ask`` (thinc, confection, numpy, the pipeline registry). The rules
themselves are data: prefix, suffix and infix regular expressions (Python ``re`` patterns, compiled
here exactly as spaCy compiles them), the URL pattern and the tokenizer exceptions. This module runs
spaCy's algorithm over that data; ``nlq.tokenizer_cache`` takes the data from spaCy once and keeps it
in a cache file.

Fidelity: every step is a line-for-line port of ``spacy/tokenizer.pyx`` (3.8): whitespace splitting,
the exceptions ("specials"), affix splitting with its early stops, infixes, the span cache (including
the entries spaCy leaves in it while it loads its exceptions, which can differ from a fresh
tokenization), and the final pass that re-applies exceptions containing affixes or spaces. The
lexicon matcher ports ``PhraseMatcher.find_matches`` (every start, every length, ids in spaCy's own
order) and ``spacy.util.filter_spans``. tests/test_rule_tokenizer.py checks the output against spaCy
token for token on every parser-corpus and gold question and on generated text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from cohort_engine.nlq.regex_cache import regex

#: spaCy stops caching spans after this many (``Tokenizer.max_cache_size``); kept for fidelity.
MAX_CACHE = 10000


class TokenizerRules(BaseModel):
    """One spaCy tokenizer's rules as data (what ``Tokenizer.__init__`` receives).

    ``specials`` maps each exception's text to the texts of its tokens (spaCy's ``rules``, ORTH only:
    the parser reads no NORM). Patterns are Python ``re`` source; None where spaCy has no function.
    """

    model_config = ConfigDict(frozen=True)

    prefix: str | None
    suffix: str | None
    infix: str | None
    token_match: str | None
    url_match: str | None
    faster_heuristics: bool
    specials: dict[str, list[str]]
    #: What loading the exceptions leaves behind (:meth:`RuleTokenizer.prepared`): the word
    #: sequences of the final exception pass, and the span cache as ``add_special_case`` leaves it.
    #: None: computed when the tokenizer is built (~20–50 ms).
    special_patterns: list[list[str]] | None = None
    initial_cache: dict[str, list[str]] | None = None


class TokenizerData(BaseModel):
    """What the parser needs of spaCy, as data (built by ``nlq.spacy_rules``, kept by
    ``nlq.tokenizer_cache``): both tokenizers' rules and the English lexicon matchers' patterns, each
    as its words and the entry keys in the order spaCy's matcher reports them for that phrase."""

    model_config = ConfigDict(frozen=True)

    en: TokenizerRules
    ko: TokenizerRules
    any_case: list[tuple[list[str], list[str]]]
    exact: list[tuple[list[str], list[str]]]


@dataclass(slots=True)
class _Tok:
    """A token as spaCy's ``TokenC`` holds it for this purpose: text, offset, trailing space."""

    text: str
    idx: int
    space: bool


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    return None if pattern is None else regex(pattern)


@dataclass
class RuleTokenizer:
    """``spacy.tokenizer.Tokenizer`` over :class:`TokenizerRules` (no vocabulary: tokens are text)."""

    rules: TokenizerRules
    _prefix: re.Pattern[str] | None = field(init=False)
    _suffix: re.Pattern[str] | None = field(init=False)
    _infix: re.Pattern[str] | None = field(init=False)
    _token_match: re.Pattern[str] | None = field(init=False)
    _url_match: re.Pattern[str] | None = field(init=False)
    _specials: dict[str, tuple[str, ...]] = field(init=False)
    _cache: dict[str, tuple[str, ...]] = field(init=False)
    _special_patterns: dict[tuple[str, ...], None] = field(init=False)
    _special_max: int = field(init=False)

    def __post_init__(self) -> None:
        r = self.rules
        self._prefix, self._suffix, self._infix = _compile(r.prefix), _compile(r.suffix), _compile(r.infix)
        self._token_match, self._url_match = _compile(r.token_match), _compile(r.url_match)
        self._specials = {chunk: tuple(pieces) for chunk, pieces in r.specials.items()}
        if r.special_patterns is not None and r.initial_cache is not None:
            self._special_patterns = dict.fromkeys(tuple(p) for p in r.special_patterns)
            self._cache = {span: tuple(toks) for span, toks in r.initial_cache.items()}
        else:
            self._load_special_cases()
        self._special_max = max(map(len, self._special_patterns), default=0)

    def _load_special_cases(self) -> None:
        r = self.rules
        self._specials = {}
        self._cache = {}
        self._special_patterns = {}
        # Tokenizer._load_special_cases: sorted, and each add_special_case flushes the span cache
        # before it tokenizes its own text without specials (which refills the cache)
        for chunk, pieces in sorted(r.specials.items()):
            self._specials[chunk] = tuple(pieces)
            self._cache.clear()
            if (
                not r.faster_heuristics
                or self._find_prefix(chunk)
                or self._find_infix(chunk)
                or self._find_suffix(chunk)
                or " " in chunk
            ):
                pattern = tuple(t.text for t in self._tokenize_affixes(chunk, False))
                self._special_patterns[pattern] = None

    def prepared(self) -> TokenizerRules:
        """These rules with what loading them computed, for a cache file (:class:`TokenizerRules`)."""
        fresh = RuleTokenizer(self.rules.model_copy(update={"special_patterns": None, "initial_cache": None}))
        return self.rules.model_copy(
            update={
                "special_patterns": [list(p) for p in fresh._special_patterns],
                "initial_cache": {span: list(toks) for span, toks in fresh._cache.items()},
            }
        )

    # -- Tokenizer.find_prefix / find_suffix / find_infix -------------------------------------------
    def _find_prefix(self, s: str) -> int:
        if self._prefix is None:
            return 0
        m = self._prefix.search(s)
        return m.end() - m.start() if m is not None else 0

    def _find_suffix(self, s: str) -> int:
        if self._suffix is None:
            return 0
        m = self._suffix.search(s)
        return m.end() - m.start() if m is not None else 0

    def _find_infix(self, s: str) -> list[re.Match[str]]:
        return [] if self._infix is None else list(self._infix.finditer(s))

    # -- Tokenizer.__call__ -------------------------------------------------------------------------
    def __call__(self, string: str) -> list[tuple[str, int]]:
        """The tokens of ``string`` with their character offsets, as ``[(t.text, t.idx) for t in
        spacy_tokenizer(string)]``."""
        doc = self._tokenize_affixes(string, True)
        doc = self._apply_special_cases(doc)
        return [(t.text, t.idx) for t in doc]

    @staticmethod
    def _push(doc: list[_Tok], text: str) -> None:
        """``Doc.push_back(lexeme, False)``: the offset follows the previous token and its space."""
        if doc:
            last = doc[-1]
            idx = last.idx + len(last.text) + last.space
        else:
            idx = 0
        doc.append(_Tok(text, idx, False))

    def _tokenize_affixes(self, string: str, with_special_cases: bool) -> list[_Tok]:
        doc: list[_Tok] = []
        if not string:
            return doc
        has_special = [False]
        i = 0
        start = 0
        in_ws = string[0].isspace()
        for uc in string:
            if uc.isspace() != in_ws:
                if start < i:
                    span = string[start:i]
                    if not self._try_specials_and_cache(span, doc, has_special, with_special_cases):
                        self._tokenize(doc, span, has_special, with_special_cases)
                if uc == " ":
                    doc[-1].space = True
                    start = i + 1
                else:
                    start = i
                in_ws = not in_ws
            i += 1
        if start < i:
            span = string[start:]
            if not self._try_specials_and_cache(span, doc, has_special, with_special_cases):
                self._tokenize(doc, span, has_special, with_special_cases)
            doc[-1].space = string[-1] == " " and not in_ws
        return doc

    def _try_specials_and_cache(
        self, span: str, doc: list[_Tok], has_special: list[bool], with_special_cases: bool
    ) -> bool:
        if with_special_cases:
            special = self._specials.get(span)
            if special is not None:
                for text in special:
                    self._push(doc, text)
                has_special[0] = True
                return True
        cached = self._cache.get(span)
        if cached is None:
            return False
        for text in cached:
            self._push(doc, text)
        return True

    def _tokenize(
        self, doc: list[_Tok], span: str, has_special: list[bool], with_special_cases: bool
    ) -> None:
        orig_size = len(doc)
        prefixes: list[str] = []
        suffixes: list[str] = []
        rest = self._split_affixes(span, prefixes, suffixes, with_special_cases)
        self._attach_tokens(doc, rest, prefixes, suffixes, has_special, with_special_cases)
        n = len(doc) - orig_size
        if len(self._cache) < MAX_CACHE and n > 0 and not has_special[0]:
            self._cache[span] = tuple(t.text for t in doc[orig_size:])

    def _split_affixes(
        self, string: str, prefixes: list[str], suffixes: list[str], with_special_cases: bool
    ) -> str:
        last_size = 0
        specials = self._specials
        while string and len(string) != last_size:
            if self._token_match is not None and self._token_match.match(string):
                break
            if with_special_cases and string in specials:
                break
            last_size = len(string)
            pre_len = self._find_prefix(string)
            prefix = minus_pre = ""
            if pre_len != 0:
                prefix = string[:pre_len]
                minus_pre = string[pre_len:]
                if minus_pre and with_special_cases and minus_pre in specials:
                    string = minus_pre
                    prefixes.append(prefix)
                    break
            suf_len = self._find_suffix(string[pre_len:])
            suffix = minus_suf = ""
            if suf_len != 0:
                suffix = string[-suf_len:]
                minus_suf = string[:-suf_len]
                if minus_suf and with_special_cases and minus_suf in specials:
                    string = minus_suf
                    suffixes.append(suffix)
                    break
            if pre_len and suf_len and (pre_len + suf_len) <= len(string):
                string = string[pre_len:-suf_len]
                prefixes.append(prefix)
                suffixes.append(suffix)
            elif pre_len:
                string = minus_pre
                prefixes.append(prefix)
            elif suf_len:
                string = minus_suf
                suffixes.append(suffix)
        return string

    def _attach_tokens(
        self,
        doc: list[_Tok],
        string: str,
        prefixes: list[str],
        suffixes: list[str],
        has_special: list[bool],
        with_special_cases: bool,
    ) -> None:
        for p in prefixes:
            self._push(doc, p)
        if string:
            if self._try_specials_and_cache(string, doc, has_special, with_special_cases):
                pass
            elif (self._token_match is not None and self._token_match.match(string)) or (
                self._url_match is not None and self._url_match.match(string)
            ):
                self._push(doc, string)
            else:
                matches = self._find_infix(string)
                if not matches:
                    self._push(doc, string)
                else:
                    start = 0
                    start_before_infixes = start
                    for match in matches:
                        infix_start, infix_end = match.start(), match.end()
                        if infix_start == start_before_infixes:
                            continue
                        if infix_start != start:
                            self._push(doc, string[start:infix_start])
                        if infix_start != infix_end:
                            self._push(doc, string[infix_start:infix_end])
                        start = infix_end
                    if string[start:]:
                        self._push(doc, string[start:])
        for s in reversed(suffixes):
            self._push(doc, s)

    # -- Tokenizer._apply_special_cases -------------------------------------------------------------
    def _apply_special_cases(self, doc: list[_Tok]) -> list[_Tok]:
        texts = [t.text for t in doc]
        matches = phrase_matches(texts, self._special_patterns, self._special_max)
        if not matches:
            return doc
        # _filter_special_spans: longest first, then leftmost; a span is dropped when its first or
        # last token was covered by any span looked at before (kept or not)
        ordered = sorted(matches, key=lambda m: (m[1] - m[0], -m[0]), reverse=True)
        seen: set[int] = set()
        kept: list[tuple[int, int]] = []
        for start, end in ordered:
            if start not in seen and end - 1 not in seen:
                kept.append((start, end))
            seen.update(range(start, end))
        by_start = {}
        for start, end in kept:
            text = (
                "".join(t.text + (" " if t.space else "") for t in doc[start : end - 1]) + doc[end - 1].text
            )
            by_start[start] = (text, end)
        out: list[_Tok] = []
        i = 0
        while i < len(doc):
            if i not in by_start:
                out.append(doc[i])
                i += 1
                continue
            text, end = by_start[i]
            special = self._specials.get(text)
            if special is None:
                out.extend(doc[i:end])
            else:
                idx = doc[i].idx
                for piece in special:
                    out.append(_Tok(piece, idx, False))
                    idx += len(piece)
                out[-1].space = doc[end - 1].space
            i = end
        return out


def phrase_matches(
    words: Sequence[str],
    patterns: dict[tuple[str, ...], None] | dict[tuple[str, ...], list[str]],
    longest: int,
) -> list[tuple[int, int]]:
    """Every ``(start, end)`` whose words form a pattern, by start then end (``find_matches``'s order)."""
    out: list[tuple[int, int]] = []
    n = len(words)
    for start in range(n):
        for end in range(start + 1, min(n, start + longest) + 1):
            if tuple(words[start:end]) in patterns:
                out.append((start, end))
    return out


@dataclass(frozen=True)
class PhraseTable:
    """A ``PhraseMatcher`` on one attribute (``lower``: LOWER, else ORTH) as a table from the
    patterns' words to the match ids in the order spaCy reports them for that phrase."""

    lower: bool
    patterns: dict[tuple[str, ...], list[str]]
    longest: int

    @classmethod
    def of(cls, lower: bool, patterns: dict[tuple[str, ...], list[str]]) -> PhraseTable:
        return cls(lower, patterns, max(map(len, patterns), default=0))

    def __call__(self, words: Sequence[str]) -> list[tuple[str, int, int]]:
        """``(id, start, end)`` in spaCy's order: by start, then end, then the ids' own order."""
        keyed = [w.lower() for w in words] if self.lower else list(words)
        return [
            (key, start, end)
            for start, end in phrase_matches(keyed, self.patterns, self.longest)
            for key in self.patterns[tuple(keyed[start:end])]
        ]


def filter_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spacy.util.filter_spans`` over ``(start, end)`` token spans: longest, then leftmost, wins."""
    ordered = sorted(spans, key=lambda s: (s[1] - s[0], -s[0]), reverse=True)
    result: list[tuple[int, int]] = []
    seen: set[int] = set()
    for start, end in ordered:
        if start not in seen and end - 1 not in seen:
            result.append((start, end))
            seen.update(range(start, end))
    return sorted(result, key=lambda s: s[0])
