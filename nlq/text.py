"""Text plumbing shared by every recogniser: normalisation, language detection, Korean particles,
and the *piece list* that the recognisers carve up.

Why a piece list: each recogniser (dates, windows, terms …) claims spans of the sentence and turns
them into typed :class:`Item` objects; later recognisers only see the text nobody has claimed yet.
That keeps the recognisers independent, makes their order explicit, and leaves at the end exactly
the words no recogniser understood — which is what a clarification must report.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cohort_engine.nlq.items import Item
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.vocab import JOSA, JOSA_PROTECTED
from cohort_engine.spec import Lang

HANGUL = regex(r"[\uac00-\ud7a3]")
HANGUL_BASE = 0xAC00


@dataclass
class Raw:
    """Text no recogniser has claimed yet, with its offset in the normalised sentence."""

    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


Piece = Item | Raw
Maker = Callable[[re.Match[str]], "Item | list[Item] | None"]


def detect_language(text: str) -> Lang:
    """Korean as soon as the sentence holds Hangul: Korean questions often quote English codes."""
    return "ko" if HANGUL.search(text) else "en"


_QUOTES = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "„": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "`": "'",
        "–": "-",
        "—": "-",
        "−": "-",
        "～": "~",
        "〜": "~",
    }
)


def normalise(text: str) -> str:
    """NFKC (full-width digits and letters → ASCII), one kind of quote and dash, single spaces, and no
    control characters (ESC, NUL, BEL … would otherwise travel into the spec's title, the read-back and
    every answer, and reach a terminal or a log as commands).

    Offsets of every later stage refer to this string, so it must not change what the words are.
    """
    # ('①' would become a bare '1' under NFKC: it is a list item's mark, '1)')
    t = re.sub("[①-⑳]", lambda m: f" {ord(m.group(0)) - 0x245F}) ", text)
    t = unicodedata.normalize("NFKC", t).translate(_QUOTES)
    # a line that starts with a label ('Inclusion rule 1: …', '포함 기준 1: …') starts a sentence
    t = LINE_LABEL.sub(". ", t)
    t = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in t)
    t = re.sub(r"\s+", " ", t).strip()
    t = CODE_WILDCARD.sub(lambda m: m["head"] + (f".{m['tail']}" if m["tail"] else ""), t)
    return t.rstrip(" ?!.。")


#: A line break before a label of up to 40 characters and its colon (not a time of day or a ratio).
LINE_LABEL = regex(r"(?<![.;:!?\s])[ \t]*[\r\n]+\s*(?=[^\r\n:.;]{1,40}:(?!\d))")

#: A code family written with a wildcard: 'I25.1x', 'I21.x', 'E11.xx', 'I63*', '36.1x' (ICD-9 procedures).
#: The code without its wildcard names the same family (descendants are always included), so the notation
#: is dropped.
CODE_WILDCARD = regex(
    r"\b(?P<head>[A-Z]\d{2}(?=[.xX*])|\d{2}(?=\.))(?:\.(?P<tail>\d{0,3}))?(?:[xX]{1,3}|\*)(?![A-Za-z0-9])"
)


def apply(pieces: list[Piece], rx: re.Pattern[str], make: Maker) -> list[Piece]:
    """Run ``rx`` over every unclaimed piece; ``make`` turns a match into item(s) or declines (None)."""
    out: list[Piece] = []
    for p in pieces:
        if isinstance(p, Item):
            out.append(p)
            continue
        pos = 0
        for m in rx.finditer(p.text):
            made = make(m)
            if made is None:
                continue
            a, b = m.span()
            if a > pos:
                out.append(Raw(p.text[pos:a], p.start + pos))
            for it in made if isinstance(made, list) else [made]:
                it.start += p.start
                it.end += p.start
                out.append(it)
            pos = b
        if pos < len(p.text):
            out.append(Raw(p.text[pos:], p.start + pos))
    return [p for p in out if not (isinstance(p, Raw) and not p.text.strip())]


def items_of(pieces: Iterable[Piece]) -> list[Item]:
    return [p for p in pieces if isinstance(p, Item)]


# ---------------------------------------------------------------- Korean particles (josa)
def has_batchim(syllable: str) -> bool:
    """True when a Hangul syllable ends in a consonant (decides 이/가, 을/를, 은/는, 과/와 …)."""
    code = ord(syllable) - HANGUL_BASE
    return 0 <= code < 11172 and code % 28 != 0


def _batchim_is_rieul(syllable: str) -> bool:
    code = ord(syllable) - HANGUL_BASE
    return 0 <= code < 11172 and code % 28 == 8


def strip_josa(word: str) -> tuple[str, str]:
    """'심근경색이나' → ('심근경색', '이나'); words that merely end like a particle are left alone.

    The surface table is the fallback: the recogniser reads particles from Kiwi's morphemes
    (``nlq.morph``) and comes here only where those do not line up with the word."""
    if word in JOSA_PROTECTED or not HANGUL.search(word):
        return word, ""
    for josa, needs in JOSA:
        if len(word) > len(josa) and word.endswith(josa):
            stem = word[: -len(josa)]
            last = stem[-1]
            if not HANGUL.match(last):
                return stem, josa  # after Latin letters or digits ('PCI를', 'CT를') any form goes
            if needs == "C" and not has_batchim(last):
                continue
            if needs == "V" and has_batchim(last) and not (josa.startswith("로") and _batchim_is_rieul(last)):
                continue
            return stem, josa
    return word, ""
