"""Korean morphology: the sentence as Kiwi (kiwipiepy) morphemes, built once per process.

Why a morphological analyser: Korean glues particles and endings onto words, and one verb has dozens
of surface forms (받은, 받고, 받았는데, 받아서 …). Lists of surface strings never end; Kiwi gives each word
its morphemes with a part-of-speech tag and, for predicates, the dictionary form (넘긴 → 넘기다 + ᆫ,
다녀와서 → 다녀오다 + 어서). The Korean rules match those lemmas and tags instead of spellings.

Why lazily: loading Kiwi's model takes seconds, so nothing here imports ``kiwipiepy`` until the first
Korean sentence is analysed (``cohort --help`` and English questions never load it); the instance and
the analyses of recent sentences are then cached for the process.

Clinical names Kiwi does not know are mis-split into particles or verbs (니트로 → 니트 + 로, 펜타닐 → 펜타
+ 이 + 니): the lexicon's Korean aliases are added as user nouns when the instance is built, so the
lexicon stays the one list of clinical words.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from cohort_engine.nlq.lexicon import aliases
from cohort_engine.nlq.regex_cache import regex

if TYPE_CHECKING:  # pragma: no cover - typing only; the import itself costs seconds of model loading
    from kiwipiepy import Kiwi

_HANGUL_WORD = regex(r"[\uac00-\ud7a3]{2,}")
_HANGUL = regex(r"[\uac00-\ud7a3]")
#: Tags of predicate stems (verbs, adjectives, auxiliaries, the copula and verb/adjective suffixes).
PREDICATE_TAGS = frozenset({"VV", "VA", "VX", "VCP", "VCN", "XSV", "XSA"})


@dataclass(frozen=True, slots=True)
class Morph:
    """One morpheme: surface form, tag (Sejong-style, without Kiwi's -R/-I regularity suffix), the
    dictionary form for predicates (받 → 받다), and its character span in the analysed sentence."""

    form: str
    tag: str
    lemma: str
    start: int
    end: int

    @property
    def particle(self) -> bool:
        return self.tag.startswith("J")

    @property
    def ending(self) -> bool:
        return self.tag.startswith("E")

    @property
    def predicate(self) -> bool:
        return self.tag in PREDICATE_TAGS


_BUILD_LOCK = threading.Lock()
_prefetching = False


def kiwi() -> Kiwi:
    """The process's analyser (:func:`_build`, once: a server warming it up in the background and a
    first Korean question arriving meanwhile wait for the one build)."""
    with _BUILD_LOCK:
        return _build()


@lru_cache(maxsize=1)
def _build() -> Kiwi:
    """The process's analyser, with the lexicon's Korean clinical names as user nouns.

    Every multi-syllable Hangul alias is added, not only those Kiwi mis-splits: finding those needs an
    analysis, and any word added after one makes Kiwi rebuild its dictionary (over a second). A name
    Kiwi already reads as nouns loses nothing by being one noun.
    """
    from kiwipiepy import Kiwi

    # The typo and multi-word dictionaries are off: the parser corrects typos itself and finds
    # multi-word names through the lexicon, and without them Kiwi loads in half the time (~1 s).
    k = Kiwi(load_typo_dict=False, load_multi_dict=False)
    for word in sorted({a.text.replace(" ", "") for a in aliases()}):
        if _HANGUL_WORD.fullmatch(word):
            k.add_user_word(word, "NNP", 0.0)
    return k


def loaded() -> bool:
    """Has this process built the analyser (tests: English questions must not)?"""
    return _build.cache_info().currsize > 0


def warm_up() -> None:
    """Load the analyser and run it once (its first analysis loads the rest of the model): a server
    calls this in the background at start, so its first Korean question does not wait seconds."""
    analyse("환자")


def prefetch_for(text: str) -> bool:
    """Start building the analyser in a background thread when ``text`` has Hangul; True if started.

    Why: a one-shot ``cohort ask`` of a Korean question spends ~1 s of CPU loading Kiwi's model, and
    Kiwi's loader runs in C++ without Python's lock: started before the process imports the parser,
    DuckDB and sqlglot, it loads on the second core meanwhile, and the parse's :func:`kiwi` waits only
    for what is left (the build lock). A failure here is left for that call to raise."""
    global _prefetching
    with _BUILD_LOCK:  # held while building too: a build under way is not started twice
        if not _HANGUL.search(text) or _prefetching or loaded():
            return False
        _prefetching = True

    def build() -> None:
        with contextlib.suppress(Exception):
            warm_up()

    threading.Thread(target=build, name="kiwi-prefetch", daemon=True).start()
    return True


@lru_cache(maxsize=512)
def analyse(text: str) -> tuple[Morph, ...]:
    """The morphemes of ``text`` with offsets into ``text`` itself (the parser passes the normalised
    sentence, so offsets line up with every recogniser's)."""
    out = []
    for t in kiwi().tokenize(text):
        tag = t.tag.split("-")[0]
        lemma = t.lemma if tag in PREDICATE_TAGS and t.lemma else t.form
        out.append(Morph(t.form, tag, lemma, t.start, t.start + t.len))
    return tuple(out)


def within(morphs: Sequence[Morph], start: int, end: int) -> list[Morph]:
    """The morphemes that start inside ``[start, end)`` (one word's analysis)."""
    return [m for m in morphs if start <= m.start < end]


@dataclass(frozen=True, slots=True)
class WordReading:
    """What one written word is, morphologically.

    ``lemma``: the word's main predicate in dictionary form ('다녀오다', '복용하다'), '' for a noun word;
    ``stem_end``: where the word's content ends and its trailing particles begin (offset in the
    sentence); ``particles``: those particles ('이나', '을'); ``function``: the word has no content of its
    own (bound nouns, particles, endings only: '게' = 것 + 이); ``aux``: the predicate is an auxiliary
    ('나서' in '복용하고 나서'); ``adnominal``: it ends in a modifier ending (받*은*, 넘*긴*);
    ``nominal``: it ends in a nominaliser ('먹*기*').
    """

    lemma: str
    stem_end: int
    particles: tuple[str, ...]
    function: bool
    aux: bool
    adnominal: bool
    nominal: bool


def _copula_tail(ms: Sequence[Morph], i: int) -> bool:
    """'임산부*인*': the copula and its endings after a noun belong with the particles, so the noun stays
    the word's content (never read as the verb 이다)."""
    if ms[i].ending:
        j = i
        while j > 0 and ms[j].ending:
            j -= 1
        return ms[j].tag == "VCP" and j > 0 and not ms[j - 1].predicate
    return ms[i].tag == "VCP" and i > 0 and not ms[i - 1].predicate


#: Light verbs that make a verb of the noun before them in one word (진단 + 받다 → 진단받다).
_LIGHT_VERBS = frozenset({"하다", "되다", "받다", "시키다", "당하다"})

#: Bound nouns that carry no content ('진단받은 *게* 2022년인': 게 = 것 + 이).
_FUNCTION_NOUNS = frozenset({"것", "거", "게", "데", "바", "따위"})


def read_word(morphs: Sequence[Morph], start: int, end: int) -> WordReading:
    """Read the written word ``text[start:end]`` from the sentence's morphemes."""
    ms = within(morphs, start, end)
    k = len(ms)
    while k > 0 and (ms[k - 1].particle or _copula_tail(ms, k - 1)):
        k -= 1
    stem_end = ms[k].start if k < len(ms) else end
    particles = tuple(m.form for m in ms[k:])
    lemma = ""
    aux = False
    for i, m in enumerate(ms[:k]):
        if not m.predicate:
            continue
        # a noun + 하/되/받/시키 is one derived verb; Kiwi tags the light verb XSV or VV by context
        light = m.tag in ("XSV", "XSA") or (m.tag == "VV" and m.lemma in _LIGHT_VERBS)
        derived = light and i == 1 and ms[0].tag.startswith("N")
        if i > 0 and not derived:
            break  # a noun glued to a verb ('스타틴먹은'): the noun is content, not a verb form
        # 복용 + 하 → 복용하다, 처방 + 받 → 처방받다; a plain verb has Kiwi's lemma (넘기 → 넘기다)
        lemma = ms[0].form + m.lemma.removesuffix("다") + "다" if derived else m.lemma
        aux = m.tag == "VX"
        break
    function = bool(ms) and all(
        m.particle or m.ending or (m.tag == "NNB" and m.form in _FUNCTION_NOUNS) or m.tag == "VCP" for m in ms
    )
    last = ms[-1] if ms else None
    return WordReading(
        lemma=lemma,
        stem_end=stem_end,
        particles=particles,
        function=function,
        aux=aux,
        adnominal=last is not None and last.tag == "ETM",
        nominal=last is not None and last.tag == "ETN",
    )
