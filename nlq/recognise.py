"""Sentence → ordered list of typed items, by running the recognisers in a fixed order.

Order matters and is deliberate: dates before windows (so "after 2020" is a date, "after the
diagnosis" a window); windows and ages before bare numbers; imaging phrases before clinical terms
("chest CT" is imaging, not the procedure concept); clinical terms before event words ("bypass
surgery" is CABG, not "bypass" + "surgery"); event words before fillers. Whatever no recogniser
claims is tokenised by spaCy and classified as connector, filler or *unknown* — unknown words are
what the parser must ask about.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache, partial
from typing import TypeAlias

from rapidfuzz import process
from rapidfuzz.distance import OSA
from spellchecker import SpellChecker
from spellchecker.spellchecker import WordFrequency

from cohort_engine.nlq.dates import MONTH_RE, recognise_dates
from cohort_engine.nlq.demographics import recognise_demographics
from cohort_engine.nlq.events import Term, same_mention
from cohort_engine.nlq.items import (
    AgeData,
    AskData,
    ConjData,
    EndData,
    EventWordData,
    Item,
    ItemKind,
    ModalityData,
    NameData,
    PrepData,
    TermData,
    UnknownData,
    VerbData,
    WindowAnchor,
    WindowData,
)
from cohort_engine.nlq.lexicon import aliases, codes_named, lookup, narrower
from cohort_engine.nlq.messages import readings, say
from cohort_engine.nlq.morph import Morph, WordReading, analyse, read_word
from cohort_engine.nlq.nlp import find_terms_en, find_terms_ko, tokens
from cohort_engine.nlq.numbers import EN_NUMBER_RE, EN_UNIT_RE, ENGLISH_NUMBERS, UNIT_WORDS, sino_to_digits
from cohort_engine.nlq.quantities import recognise_quantities_en, recognise_quantities_ko
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.sections import read_sections_en, read_sections_ko
from cohort_engine.nlq.stop_words import STOP_WORDS
from cohort_engine.nlq.text import HANGUL as HANGUL_RE
from cohort_engine.nlq.text import Piece, Raw, apply, strip_josa
from cohort_engine.nlq.vocab import (
    EN_BODY_PARTS,
    EN_BOUNDARY,
    EN_BOUNDARY_WORDS,
    EN_CONJ,
    EN_EVENT_WORDS,
    EN_FILLERS,
    EN_FINDING_VERBS,
    EN_GENERIC_VERBS,
    EN_GRAMMAR_WORDS,
    EN_LEAD_INS,
    EN_MODALITIES,
    EN_NEGATION,
    EN_PLAIN_WORDS,
    EN_PREP,
    EN_PRONOUNS,
    EN_REQUEST_IMAGES,
    EN_REQUEST_POSSESSIVES,
    EN_REQUEST_VERBS,
    EN_REQUEST_VERBS_ME,
    EN_REQUEST_WANT,
    EN_VAGUE,
    EN_VERBS,
    JOSA,
    KIND_DOMAIN,
    KO_AFTER_AUX,
    KO_ALL,
    KO_BODY_PARTS,
    KO_BUT,
    KO_CLAUSE_LEMMAS,
    KO_CONJ,
    KO_DATE_REFERENCE,
    KO_ENDERS,
    KO_EVENT_WORDS,
    KO_FILLERS,
    KO_HEAD,
    KO_MEASURED,
    KO_MODALITIES,
    KO_NEGATION,
    KO_OVER_LEMMAS,
    KO_PARTICLE_CONJ,
    KO_REQUEST_HEADS,
    KO_REQUEST_IMAGES,
    KO_REQUEST_LEMMAS,
    KO_REQUEST_PRONOUNS,
    KO_REQUEST_VERBS,
    KO_SENTENCE_AND,
    KO_TYPOS,
    KO_VAGUE,
    LAST_WORDS,
    MONTHS,
    NAME_KIND_WORDS,
    PARTICIPLES,
    PEOPLE_WORDS,
    PROCEDURE_STUDIES,
)
from cohort_engine.nlq.windows import (
    BOUND_EN,
    recognise_at_event_en,
    recognise_windows_en,
    recognise_windows_ko,
    window_asides_en,
)


@dataclass
class Recognised:
    items: list[Item]
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- typo repair (English)


@lru_cache(maxsize=1)
def _known_words() -> frozenset[str]:
    words = set(EN_GRAMMAR_WORDS) | set(EN_FILLERS) | set(STOP_WORDS) | set(MONTHS) | set(ENGLISH_NUMBERS)
    words |= EN_PLAIN_WORDS
    words |= {w for w in UNIT_WORDS if w.isascii()}  # 'last month' is no typo of 'months'
    for a in aliases():
        words.update(w.lower() for w in re.findall(r"[A-Za-z]+", a.text))
    return frozenset(words)


@lru_cache(maxsize=1)
def _targets() -> list[str]:
    lexicon_words = {w.lower() for a in aliases() for w in re.findall(r"[A-Za-z]{6,}", a.text)}
    return sorted(set(EN_GRAMMAR_WORDS) | lexicon_words)


_SIDES = (
    r"right|left|upper|lower|anterior|posterior|proximal|distal|"
    # 'partial or total gastrectomy', 'lap or open appendectomy': one noun, two kinds of it
    r"partial|total|subtotal|complete|open|lap|laparoscopic|robotic|unilateral|bilateral|acute|chronic"
)
#: Event nouns that name a day in 'on the admission day', 'on the surgery date'.
_DAY_OF_EVENTS = (
    r"admission|surgery|operation|procedure|diagnosis|dx|discharge|biopsy|ER|ED|visit|infusion|"
    r"transfusion|scan|CT|MRI|echo|PCI|CABG|stroke|MI"
)

#: English words that hold no rule, blanked (same length: offsets stay).
_BLANKED_EN = [
    # 'exactly one MI diagnosis record in their whole history': over all time, which no date says anyway
    regex(
        r"\b(?:in|over|across|during|throughout)\s+(?:their|his|her|the\s+patient'?s?|the)\s+(?:whole|entire)\s+"
        r"(?:history|record|records|lifetime|life|follow-up)\b",
        re.IGNORECASE,
    ),
    # 'a COPD diagnosis anywhere in their record', 'ever in their chart': any time, which no date says
    regex(
        r"\b(?:(?:anywhere|at\s+any\s+(?:time|point)|ever)\s+)?in\s+(?:their|his|her|the\s+patient'?s?)\s+"
        r"(?:(?:whole|entire|medical)\s+)?(?:records?|charts?|history|file)\b",
        re.IGNORECASE,
    ),
    # 'over the whole observation period': any time the mart holds, which is what no date says anyway
    regex(
        r"\b(?:during|over|across|in|throughout)\s+the\s+(?:whole|entire|full)\s+(?:observation|study|follow-up|"
        r"data|record(?:ed)?)\s+(?:period|window|history|time)\b",
        re.IGNORECASE,
    ),
    # 'around the same time (within 2 days either way)': the vague words, made exact by what follows
    regex(
        r"\b(?:around|about|at\s+about|at\s+roughly|roughly)\s+the\s+same\s+time(?=\s*\(?\s*(?:within|[±]|\+/-))",
        re.IGNORECASE,
    ),
    # 'Limit to men.', 'limited to women', 'restrict the cohort to patients aged 65 or older': the
    # people named next are a rule of their own
    regex(
        r"\b(?:(?:please|and)\s+)?(?:limit|restrict)(?:ed|ing)?\s+(?:(?:this|it|them|the\s+(?:cohort|list|search|"
        r"query|results?|count))\s+)?to(?=\s+(?:the\s+)?(?:men|women|males?|females?|patients|pts|people|persons|"
        r"those|subjects|adults|children|kids|anyone|individuals|ages?d?|over|under|\d))",
        re.IGNORECASE,
    ),
    # 'Among persons with X, we will identify those who …': the writer's plan around the rules
    regex(
        r",?\s*\bwe\s+(?:will|would|want\s+to|need\s+to|wish\s+to|plan\s+to)\s+(?:identify|select|find|"
        r"include|keep|take)\s+(?:those|the\s+ones|patients|persons|people)(?=\s+(?:who|whose|with)\b)",
        re.IGNORECASE,
    ),
]

#: Misspelt units of time, too short for edit-distance repair to be safe.
SHORT_TYPOS_EN = {
    "teh": "the",
    "weks": "weeks",
    "wekks": "weeks",
    "wek": "week",
    "mnths": "months",
    "mnth": "month",
    "monts": "months",
    "dyas": "days",
    "dasy": "days",
    "yeras": "years",
    "yaers": "years",
}


@lru_cache(maxsize=1)
def _english_words() -> WordFrequency:
    """pyspellchecker's English word frequencies, loaded once, on the first word the repair would change."""
    return SpellChecker(distance=1).word_frequency


def _real_word(word: str) -> bool:
    """A word of English, not a misspelling: the repair must not turn one real word into another
    ('inclusion rule' into 'infusion rule', 'untreated' into 'treated'). Words the list holds at its
    floor frequency (50) are rare terms and place names it lists without counting ('Brest'), so a
    'brest cancer' is still repaired."""
    return _english_words()[word] > 50


def _inflection_of(word: str, fix: str) -> bool:
    """'deaths' for 'death', 'named' for 'names', 'women' for 'woman': the same word in another form, which
    the repair may still write (it only moves a word onto the form the readings know)."""
    shared = len(os.path.commonprefix([word, fix]))
    return shared >= min(len(word), len(fix)) - 3


def repair_typos(text: str, latin_only: bool = False) -> tuple[str, list[tuple[str, str]]]:
    """Correct misspelt words one edit (two for long words) away from a single known word (in Korean text,
    ``latin_only``: the English words written in it, 'pnuemonia Dx 받은')."""
    known = _known_words()
    fixes: list[tuple[str, str]] = []
    out = text
    for tok, idx in reversed(tokens(text, "en")):
        w = tok.lower()
        if w in SHORT_TYPOS_EN and w not in known:  # 'within 2 weks': too short for the edit distance
            fixes.append((tok, SHORT_TYPOS_EN[w]))
            out = out[:idx] + SHORT_TYPOS_EN[w] + out[idx + len(tok) :]
            continue
        if len(w) < 5 or not w.isalpha() or w in known or tok.isupper() or (latin_only and not w.isascii()):
            continue
        limit = 2 if len(w) >= 9 else 1
        best = process.extract(w, _targets(), scorer=OSA.distance, score_cutoff=limit, limit=2)
        if not best or (len(best) > 1 and best[1][1] == best[0][1]):
            continue
        fix = best[0][0]
        # 'trial' is no 'atrial', 'undiagnosed' no 'diagnosed'
        if _real_word(w) and not _inflection_of(w, fix):
            continue
        fixes.append((tok, fix))
        out = out[:idx] + fix + out[idx + len(tok) :]
    return out, list(reversed(fixes))


def repair_typos_ko(text: str) -> tuple[str, list[tuple[str, str]]]:
    fixes = [(w, f) for w, f in KO_TYPOS.items() if w in text]
    for w, f in fixes:
        text = text.replace(w, f)
    return text, fixes


# ---------------------------------------------------------------- small recognisers
#: '(나이는 MI 진단 시점 기준)', '연령은 최초 진단 시점 기준입니다': ages are taken at the index event, always
#: (README); the remark restates that and holds no rule of its own.
KO_AGE_AT_INDEX = regex(
    r"(?:나이|연령)\s*(?:은|는|의)?\s*(?:[A-Za-z]+\s*)?(?:최초\s*|첫\s*)?(?:진단|입원|수술|시술|기준\s*사건)\s*"
    r"(?:시점|당시|일)\s*(?:을\s*)?기준(?:으로|입니다|임|이다)?"
)
QUOTE = regex(r'"([^"]+)"|(?<![A-Za-z])\'([^\']+)\'(?![A-Za-z])')
NAME_EN = regex(
    r"\b(?:whose|with\s+(?:an?\s+)?|where\s+(?:the\s+)?|having\s+(?:an?\s+)?|and\s+(?:the\s+)?)?"
    r"(?P<kind>surgery|surgical|procedure|operation|drug|medication|prescription|diagnosis)\s+"
    r"(?:names?|titles?|descriptions?)\s+(?:contains?|containing|includes?|including|has|having|with|mentions?|"
    r"mentioning|matching|matches|like|is)\b(?:\s+the\s+words?)?|"
    r"\b(?:an?\s+)?(?P<kind2>surgery|procedure|operation|drug|medication)\s+(?:named|called|titled)(?:\s+(?:for|after))?\b",
    re.IGNORECASE,
)
NAME_EN_WHOSE = regex(
    r"\bwhose\s+(?:names?|titles?)\s+(?:contains?|containing|includes?|including|has|mentions?|matches|is\s+like)\b",
    re.IGNORECASE,
)
INDEX_REF = {
    "en": regex(
        r"\b(?:the\s+)?(?:index(?:\s+(?:date|event|day|diagnosis))?|baseline|cohort\s+entry|entry\s+date)\b",
        re.IGNORECASE,
    ),
    "ko": regex(r"기준일|기준\s*사건|인덱스\s*(?:날짜|일)?"),
}
NAME_KO_PRE = regex(r"(?P<kind>수술|시술|약품?|처방|진단)\s*(?:명|이름)\s*(?:에(?:는)?|이|중에|으로)?")
NAME_KO_POST = regex(
    r"(?:이|가|을|를)?\s*(?:포함된|포함되는|포함하는|들어간|들어가는|들어있는|적힌|붙은)\s*(?=수술|시술|약|처방)"
)


def _rx_words(words: list[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


@lru_cache(maxsize=2)
def _imaging(lang: str) -> re.Pattern[str]:
    """'chest CT', 'CT of the chest', 'coronary angiography', '흉부 CT': a modality with its body part."""
    mods = KO_MODALITIES if lang == "ko" else EN_MODALITIES
    parts = KO_BODY_PARTS if lang == "ko" else EN_BODY_PARTS
    mod_alts = [f"(?P<m{i}>{p})" for i, (p, _, _) in enumerate(mods)]
    part_alts = [f"(?P<b{i}>{p})" for i, (p, _) in enumerate(parts)]
    part2_alts = [f"(?P<c{i}>{p})" for i, (p, _) in enumerate(parts)]
    if lang == "ko":
        rx = (
            rf"(?<![A-Za-z])(?:(?<![가-힣])(?:{'|'.join(part_alts)})\s*(?:의\s*)?)?(?:{'|'.join(mod_alts)})"
            r"(?![A-Za-z])"  # 'CT' of 'appendectomy' is no CT
            rf"(?:\s*\(\s*(?:{'|'.join(part2_alts)})\s*\))?(?:\s*(?:검사|촬영|영상|스캔|이미지|사진)(?!일))?"
        )
        return regex(rx, re.IGNORECASE)
    rx = (
        rf"\b(?:(?:{'|'.join(part_alts)})\s+)?(?:{'|'.join(mod_alts)})\b"
        rf"(?:\s+(?:imaging\s+)?(?:scans?|studies|study|exams?|examinations?|images?|tests?)|\s+imaging)?"
        rf"(?:\s+(?:of\s+(?:the\s+)?)?(?:{'|'.join(part2_alts)})\b)?"
    )
    return regex(rx, re.IGNORECASE)


@lru_cache(maxsize=2)
def _body_imaging(lang: str) -> re.Pattern[str]:
    """'imaging of the chest', 'brain scan', '흉부 영상': a body part with a generic imaging word."""
    parts = KO_BODY_PARTS if lang == "ko" else EN_BODY_PARTS
    alts = [f"(?P<b{i}>{p})" for i, (p, _) in enumerate(parts)]
    alts2 = [f"(?P<c{i}>{p})" for i, (p, _) in enumerate(parts)]
    if lang == "ko":
        return regex(rf"(?<![가-힣])(?:{'|'.join(alts)})\s*(?:영상\s*(?:검사|촬영)?|촬영)")
    return regex(
        rf"\b(?:(?:imaging|scans?|images?|radiology|radiographs?)\s+of\s+(?:the\s+)?(?:{'|'.join(alts2)})"
        rf"|(?:{'|'.join(alts)})\s+(?:imaging|scans?|images?|radiology))\b",
        re.IGNORECASE,
    )


#: An image word after a study, past a bracket that restates it: '관상동맥조영(XA) 영상', 'coronary
#: angiography (XA) images' are the images, not the procedure (``PROCEDURE_STUDIES``).
_IMAGES_AFTER = regex(
    r"\s*(?:\([^()]{0,40}\)\s*)?(?:영상|이미지|사진|촬영|images?|imaging|scans?|studies|study|series)",
    re.IGNORECASE,
)


def _imaging_item(m: re.Match[str], lang: str) -> Item:
    for pattern, key in PROCEDURE_STUDIES[lang]:
        if re.fullmatch(pattern, m.group(0).strip(), re.IGNORECASE) and not _IMAGES_AFTER.match(
            m.string, m.end()
        ):
            return Item(ItemKind.term, m.group(0), m.start(), m.end(), TermData(key, ("procedure",)))
    mods = KO_MODALITIES if lang == "ko" else EN_MODALITIES
    parts = KO_BODY_PARTS if lang == "ko" else EN_BODY_PARTS
    modalities: list[str] = []
    body: list[str] = []
    for name, val in m.groupdict().items():
        if val is None:
            continue
        i = int(name[1:])
        if name[0] == "m":
            modalities += mods[i][1]
            body += mods[i][2]
        else:
            body += parts[i][1]
    return Item(
        ItemKind.modality,
        m.group(0),
        m.start(),
        m.end(),
        ModalityData(tuple(dict.fromkeys(modalities)), tuple(dict.fromkeys(body))),
    )


# ---------------------------------------------------------------- imaging output requests
# "…; give me their CT scans within 30 days after the surgery", "… and their chest CTs", "환자의 흉부 CT
# 영상", "… CT 영상을 모아줘": the images to return for the cohort, not a rule of who qualifies. The
# marker item tells the grammars that the imaging events after it (Korean: in its clause) are output.
_DET_EN = r"(?:(?:all|any|each)\s+(?:of\s+)?)?(?:(?:their|the|these|those)\s+)?"
REQUEST_EN = regex(
    rf"(?:(?:[,;:.]|\b(?:and|plus|also|then)\b)\s*)?(?:\b(?:and\s+)?also\s+)?(?:\bplease\s+)?"
    rf"(?P<verb>\b(?:{EN_REQUEST_VERBS_ME})\s+(?:me|us)\b|\b(?:{EN_REQUEST_VERBS})\b|\b(?:{EN_REQUEST_WANT}))\s*{_DET_EN}"
    rf"|(?:^|[,;:.]|\b(?:and|plus|also|then|along\s+with|together\s+with|as\s+well\s+as)\b)\s*"
    rf"(?:(?:all|any)\s+(?:of\s+)?)?\b(?:{EN_REQUEST_POSSESSIVES})\s+",
    re.IGNORECASE,
)
REQUEST_IMAGES_EN = regex(rf"(?:{EN_REQUEST_IMAGES})\b", re.IGNORECASE)
PEOPLE_NEXT_EN = regex(
    r"(?:patients?|people|persons?|subjects|cases|individuals|pts|women|men)\b", re.IGNORECASE
)
REQUEST_KO_POSSESSIVE = regex(
    rf"(?P<head>{KO_REQUEST_HEADS})(?:들)?\s*의(?![가-힣])|(?<![가-힣])(?:{KO_REQUEST_PRONOUNS})\s*의(?![가-힣])"
)
REQUEST_KO_VERB = regex(
    rf"(?:을|를|도|만|은|는)?\s*(?:(?:전부|모두|다|같이|함께)\s*)?(?:{KO_REQUEST_VERBS})\s*"
    r"(?:줘요|줘|주세요|줄래요|줄래|주십시오|주실래요|달라|라)?(?![가-힣])"
)
REQUEST_IMAGES_KO = regex(KO_REQUEST_IMAGES, re.IGNORECASE)
GENERIC_TAIL_KO = regex(
    rf"(?:{KO_REQUEST_IMAGES}|파일|검사|촬영|자료|데이터(?:셋)?|들)(?:가|이|는|은)?\s*$", re.IGNORECASE
)
HEAD_KO = regex(rf"{KO_REQUEST_HEADS}")


@lru_cache(maxsize=1)
def _modality_end_ko() -> re.Pattern[str]:
    return regex(rf"(?:{_rx_words([p for p, _, _ in KO_MODALITIES])})\s*$", re.IGNORECASE)


PRIOR_AHEAD_EN = regex(r"(?:prior|previous|earlier|past)\s+", re.IGNORECASE)


def _images_ahead_en(rest: str) -> bool:
    """Imaging words right after the request words, and not 'chest CT patients' (a rule on people)."""
    rest = rest.lstrip()
    rest = rest[m.end() :] if (m := PRIOR_AHEAD_EN.match(rest)) else rest
    for rx in (_imaging("en"), _body_imaging("en"), REQUEST_IMAGES_EN):
        m = rx.match(rest)
        if m:
            return not PEOPLE_NEXT_EN.match(rest[m.end() :].lstrip())
    return False


def _request_en(m: re.Match[str]) -> Item | None:
    """A request before imaging words; 'give me their …' is a request whatever follows (only images can be
    returned, which assembly says when something else is asked for)."""
    explicit = m.group("verb") is not None and re.search(r"\b(?:their|patients')", m.group(0), re.IGNORECASE)
    if not (explicit or _images_ahead_en(m.string[m.end() :])):
        return None
    return Item(ItemKind.request, m.group(0), m.start(), m.end())


def _images_in_ko(rest: str) -> bool:
    return bool(
        _imaging("ko").search(rest) or _body_imaging("ko").search(rest) or REQUEST_IMAGES_KO.search(rest)
    )


def _request_ko_possessive(m: re.Match[str]) -> Item | None:
    """'… 환자의 흉부 CT 영상': the head noun's images, when imaging words follow and no other head does."""
    # within its own sentence: '… 영상 데이터가 필요합니다. 진단 당시 40대 여성 환자로 한정해 주세요.'
    rest = re.split(r"[.!?。](?:\s|$)", m.string[m.end() :], maxsplit=1)[0]
    if not _images_in_ko(rest) or HEAD_KO.search(rest):
        return None
    return Item(
        ItemKind.end, m.group(0), m.start(), m.end(), EndData(head=bool(m.group("head")), request=True)
    )


def _request_ko_verb(m: re.Match[str]) -> Item | None:
    """'… CT 영상을 모아줘': a request verb whose object is imaging words closes a request clause."""
    before = m.string[: m.start()].rstrip()
    generic = False
    while (g := GENERIC_TAIL_KO.search(before)) is not None:
        generic = generic or bool(REQUEST_IMAGES_KO.fullmatch(g.group(0).strip()))
        before = before[: g.start()].rstrip()
    if not (generic or _modality_end_ko().search(before)):
        return None
    return Item(ItemKind.end, m.group(0), m.start(), m.end(), EndData(request_verb=True))


def _request_end_en(items: list[Item]) -> list[Item]:
    """'send me the chest CTs *of patients* with MI': the request ends where the cohort is named."""
    start = next((i for i, it in enumerate(items) if it.kind is ItemKind.request), None)
    if start is None:
        return items
    for j in range(start + 1, len(items)):
        it = items[j]
        if it.kind in (ItemKind.request, ItemKind.boundary):
            break
        if it.kind is not ItemKind.prep or it.data_as(PrepData).word not in (
            "of",
            "for",
            "from",
            "in",
            "among",
        ):
            continue
        k = j + 1
        while (
            k < len(items)
            and items[k].kind is ItemKind.filler
            and items[k].text.lower() in ("the", "all", "those", "these", "our")
        ):
            k += 1
        nxt = items[k] if k < len(items) else None
        if nxt is not None and (
            nxt.kind in (ItemKind.sex, ItemKind.age)
            or nxt.text.lower() in PEOPLE_WORDS | {"everyone", "cohort"}
        ):
            items = [*items[:j], Item(ItemKind.request_end, it.text, it.start, it.end), *items[j + 1 :]]
            break
    return items


_PLURAL_WORD_EN = regex(r"(?<![\w-])[A-Za-z][a-z]{3,}s(?![\w-])")


def _with_plurals_en(text: str, found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The mentions found, and the plural of a one-word lexicon name that the phrase table leaves out
    ('Lobectomies done 2021–2023', 'gastrectomies'): read as its singular, as the resolver reads it."""
    extra = [
        (m.start(), m.end(), hits[0].key)
        for m in _PLURAL_WORD_EN.finditer(text)
        if not any(a < m.end() and m.start() < b for a, b, _ in found) and (hits := lookup(m.group(0)))
    ]
    return sorted([*found, *extra]) if extra else found


def _terms(pieces: list[Piece], lang: str) -> list[Piece]:
    out: list[Piece] = []
    for p in pieces:
        if isinstance(p, Item):
            out.append(p)
            continue
        found = find_terms_ko(p.text) if lang == "ko" else _with_plurals_en(p.text, find_terms_en(p.text))
        pos = 0
        for a, b, key in found:
            if a > pos:
                out.append(Raw(p.text[pos:a], p.start + pos))
            text = p.text[a:b]
            out.append(
                Item(
                    ItemKind.term,
                    text,
                    p.start + a,
                    p.start + b,
                    TermData(key, tuple(sorted({e.domain.value for e in lookup(text)} or {"?"}))),
                )
            )
            pos = b
        if pos < len(p.text):
            out.append(Raw(p.text[pos:], p.start + pos))
    return [p for p in out if not (isinstance(p, Raw) and not p.text.strip())]


def _event_words(pieces: list[Piece], lang: str) -> list[Piece]:
    if lang == "ko":
        alts = [f"(?P<k{i}>{p})" for i, (p, _) in enumerate(KO_EVENT_WORDS)]
        drug_word = r"(?P<drugword>(?<![가-힣])약(?:물|제)?(?=\s|$|을|를|이|은|도|에|의|으로|만|\(|,|\)))"
        rx = regex(f"{drug_word}|" + "|".join(alts))

        def make_ko(m: re.Match[str]) -> Item:
            if m.group("drugword"):
                return Item(ItemKind.event, m.group(0), m.start(), m.end(), EventWordData("drug", "noun"))
            i = next(int(k[1:]) for k, v in m.groupdict().items() if v is not None and k.startswith("k"))
            kind = KO_EVENT_WORDS[i][1]
            ends = bool(
                re.fullmatch(
                    r"걸린|걸렸|앓(?:는|고|았)|숨진|숨졌|죽은|돌아가신|돌아가셨\w*|별세\w*", m.group(0)
                )
            )
            return Item(
                ItemKind.event,
                m.group(0),
                m.start(),
                m.end(),
                EventWordData(kind, "verb" if ends else "noun", ends),
            )

        return apply(pieces, rx, make_ko)
    # '(?<!\w-)' / '(?!-\w)': 'drug' in 'drug-eluting' is part of a word, not a drug event
    alts = [f"(?P<k{i}>(?<!\\w-)\\b(?:{p})\\b(?!-\\w))" for i, (p, _, _) in enumerate(EN_EVENT_WORDS)]
    rx = regex("|".join(alts), re.IGNORECASE)

    def make_en(m: re.Match[str]) -> Item | None:
        i = next(int(k[1:]) for k, v in m.groupdict().items() if v is not None)
        _, kind, pos = EN_EVENT_WORDS[i]
        text = m.group(0).strip()
        # 'ER'/'ED' only in capitals: 'ed' and 'er' are word pieces, not departments.
        if kind == "er_visit" and re.fullmatch(r"e\.?[rd]\.?", text, re.IGNORECASE) and not text[0].isupper():
            return None
        return Item(ItemKind.event, text, m.start(), m.end(), EventWordData(kind, pos))

    return apply(pieces, rx, make_en)


def _vague_item(m: re.Match[str], what: str, choices: tuple[str, ...]) -> Item:
    return Item(ItemKind.vague, m.group(0), m.start(), m.end(), AskData(what=what, choices=choices))


#: 'excluding those with both diabetes and hypertension', '당뇨와 고혈압이 모두 있는 환자는 제외': leaving out
#: only those with all of them (criteria are joined by 'and': each absence leaves out anyone with its event,
#: so the rules would leave out those with any of them).
_EXCLUDED_TOGETHER = {
    "ko": regex(
        r"(?:모두|둘\s*다|전부|다)\s*(?:있는|있었던|진단받은|진단된|받은|해당하는|해당되는|가진|앓은)\s*"
        r"(?:(?:환자|사람|경우|자|분)(?:들)?)?\s*(?:는|은)?\s*(?:제외|빼)"
    ),
    "en": regex(
        r"\b(?:excluding|exclude|except(?:\s+for)?|other\s+than|without)\s+"
        r"(?:(?:those|patients|pts|anyone|people)\s+)?(?:(?:with|who\s+(?:have|had|has))\s+)?both\b",
        re.IGNORECASE,
    ),
}


def _excluded_together(pieces: list[Piece], lang: str) -> list[Piece]:
    def ask(m: re.Match[str]) -> Item:
        said = m.group(0).strip()
        reason = say("excluded_together", lang, text=said)
        choices = readings("excluded_together", lang)
        return Item(
            ItemKind.vague,
            m.group(0),
            m.start(),
            m.end(),
            AskData(what="exclusion", reason=reason, choices=choices),
        )

    return apply(pieces, _EXCLUDED_TOGETHER["ko" if lang == "ko" else "en"], ask)


def _vague(pieces: list[Piece], lang: str) -> list[Piece]:
    table = KO_VAGUE if lang == "ko" else EN_VAGUE
    for pattern, what, choices in table:
        rx = regex(pattern if lang == "ko" else rf"\b(?:{pattern})\b", 0 if lang == "ko" else re.IGNORECASE)
        pieces = apply(
            pieces,
            rx,
            partial(_vague_item, what=what, choices=tuple(choices)),
        )
    return pieces


# ---------------------------------------------------------------- leftovers
JOSA_WORDS = {j for j, _ in JOSA}
KO_VERB_FORM = regex(
    r"(?:한|된|하는|되는|했던|됐던|하고|되고|해서|돼서|하며|되며|했고|됐고|시킨|받은|받고|있는|없는)$"
)


def _leftovers(pieces: list[Piece], lang: str, morphs: Sequence[Morph] = ()) -> list[Item]:
    """Words no recogniser claimed, one by one; Korean words are read through their morphemes."""
    out: list[Item] = []
    for p in pieces:
        if isinstance(p, Item):
            out.append(p)
            continue
        for tok, idx in tokens(p.text, lang):
            if not tok.strip():
                continue
            a = p.start + idx
            b = a + len(tok)
            low = tok.lower()
            if lang == "en":
                out.append(_classify_en(tok, low, a, b))
            else:
                out.extend(_classify_ko(tok, a, b, morphs))
    return _merge_unknown(out)


def _punctuation_only(tok: str) -> bool:
    """No word characters and no pictographs: '💥' or '🫀' is something the user meant and we could not
    read (asked back), not punctuation to skip."""
    return not re.search(r"\w", tok) and not any(unicodedata.category(ch) == "So" for ch in tok)


def _classify_en(tok: str, low: str, a: int, b: int) -> Item:
    if low in EN_CONJ:
        return Item(ItemKind.conj, tok, a, b, ConjData(EN_CONJ[low]))
    if low in EN_BOUNDARY_WORDS:
        return Item(ItemKind.boundary, tok, a, b)
    if low in EN_FINDING_VERBS:
        return Item(ItemKind.verb, tok, a, b, VerbData(finding=True))
    if low in EN_VERBS:
        return Item(ItemKind.verb, tok, a, b, VerbData())
    if low in EN_PREP:
        return Item(ItemKind.prep, tok, a, b, PrepData(low))
    if low in EN_PRONOUNS:
        return Item(ItemKind.pronoun, tok, a, b)
    if tok.startswith("'"):
        return Item(ItemKind.filler, tok, a, b)
    if low in EN_FILLERS or _punctuation_only(tok):
        return Item(ItemKind.filler, tok, a, b)
    return Item(ItemKind.unknown, tok, a, b, UnknownData())


def _classify_ko(tok: str, a: int, b: int, morphs: Sequence[Morph] = ()) -> list[Item]:
    if tok in KO_MEASURED:
        return [Item(ItemKind.event, tok, a, b, EventWordData("lab", "verb"))]
    if tok in KO_SENTENCE_AND:
        # '…1 ng/mL 이상, 그리고 PCI 병력은 없는': 'and' between clauses ends the one before (a value, a
        # negation or a window of one clause never spreads to the next)
        return [Item(ItemKind.end, tok, a, b, EndData())]
    if tok in KO_CONJ:
        return [Item(ItemKind.conj, tok, a, b, ConjData(KO_CONJ[tok]))]
    if tok in KO_ENDERS:
        return [Item(ItemKind.end, tok, a, b, EndData(head=tok in KO_HEAD))]
    if tok in KO_ALL:
        return [Item(ItemKind.all, tok, a, b)]
    if tok.strip() in (".", "。"):
        # a sentence end ends its clause: '… 복부 초음파 촬영. 기준일 이후 90일 이내 …' (a window never
        # reaches back into the sentence before)
        return [Item(ItemKind.end, tok, a, b, EndData())]
    if _punctuation_only(tok) or tok in JOSA_WORDS:
        return [Item(ItemKind.filler, tok, a, b)]
    if tok in KO_BUT and _but(morphs, a, b):
        return [Item(ItemKind.end, tok, a, b, EndData())]  # '…, 단 X는 제외': a boundary, no rule
    reading = read_word(morphs, a, b) if morphs else None
    stem, josa = _split_particles(tok, a, b, reading)
    if stem == "자" and _person_noun(morphs, a):
        # '… 시행받은 자', '진단자 중': the formal 'person' of protocol Korean, the cohort's head noun
        return [Item(ItemKind.end, tok, a, b, EndData(head=True))]
    if stem in KO_ENDERS:
        return [Item(ItemKind.end, tok, a, b, EndData(head=stem in KO_HEAD))]
    if stem in KO_ALL:
        return [Item(ItemKind.all, tok, a, b)]
    if stem in KO_FILLERS or tok in KO_FILLERS or (reading is not None and reading.function):
        return [Item(ItemKind.filler, tok, a, b)]  # '진단받은 *게* 2022년인': 것 + 이, no content
    pieces = _segment_ko(tok)
    if pieces is not None:
        out_items: list[Item] = []
        pos = a
        for piece in pieces:
            out_items.extend(_classify_ko(piece, pos, pos + len(piece), morphs))
            pos += len(piece)
        return out_items
    lemma = reading.lemma if reading is not None else ""
    if lemma in ("되", "받", "하", "시키", "당하"):
        lemma += "다"  # '측정|되었고': the verb suffix left after the event word, read as its verb
    if lemma and tok.endswith(("거나", "든지", "든가")):
        # '투여받았거나 … 받은': 'or' between two clauses, which the rules cannot say; ending the clause
        # here would read it as 'and'
        return [Item(ItemKind.vague, tok, a, b, AskData(reason=say("or_between_events", "ko", event=tok)))]
    if lemma == KO_AFTER_AUX and reading is not None and reading.aux and _after_connective(morphs, a):
        # '복용하고 *나서*': what follows happens on or after what came before (weak: an explicit window
        # right after it replaces it, see _after_aux)
        return [Item(ItemKind.window, tok, a, b, WindowData(0, None, WindowAnchor.precedes, tok, weak=True))]
    if len(tok) >= 2 and (KO_VERB_FORM.search(tok) or (len(stem) == 1 and josa in ("은", "는", "을", "던"))):
        return [
            Item(ItemKind.end, tok, a, b, EndData(verb=True, lemma=lemma))
        ]  # an unlisted verb ('시작한', '넣은'): ends the clause
    if lemma in KO_REQUEST_LEMMAS:
        return [Item(ItemKind.filler, tok, a, b)]
    if lemma and reading is not None and (lemma in KO_CLAUSE_LEMMAS or reading.aux or _derived_verb(lemma)):
        # any inflection of a clause verb ('받았는데', '다녀와서', '넘긴', '들어'): ends the clause
        return [Item(ItemKind.end, tok, a, b, EndData(verb=True, lemma=lemma))]
    if lemma:
        # any other verb ('LDL이 좋아진') says something no rule here expresses, and is never a clinical
        # name: asked about, instead of being read as a mention
        return [Item(ItemKind.vague, tok, a, b, AskData(reason=say("not_understood", "ko", text=tok)))]
    out = [Item(ItemKind.unknown, stem, a, a + len(stem), UnknownData())]
    if josa in KO_PARTICLE_CONJ:
        out.append(Item(ItemKind.conj, josa, a + len(stem), b, ConjData(KO_PARTICLE_CONJ[josa])))
    return out


def _split_particles(tok: str, a: int, b: int, reading: WordReading | None) -> tuple[str, str]:
    """The word and its trailing particles as Kiwi reads them ('메트포르민은' → 메트포르민 + 은); the
    surface table (``strip_josa``) only where the word's morphemes do not line up with it."""
    if reading is not None and reading.particles and a < reading.stem_end < b:
        return tok[: reading.stem_end - a], tok[reading.stem_end - a :]
    if reading is not None and not reading.particles and reading.lemma:
        return tok, ""  # a verb form: its last syllable is an ending, not a particle ('받은', '나온')
    return strip_josa(tok)


def _derived_verb(lemma: str) -> bool:
    """A verb made from a noun ('복용하다', '악화되다', '처방받다'): read as the noun's event, as '…한/된'
    always were."""
    return len(lemma) > 3 and lemma.endswith(("하다", "되다", "받다", "시키다"))


def _but(morphs: Sequence[Morph], a: int, b: int) -> bool:
    """'단'/'다만' is "but" after a comma, at the start, or after the head noun; '단 한 번도' ("not even
    once") is no boundary."""
    if not morphs:
        return False
    before = [m for m in morphs if m.end <= a]
    after = [m for m in morphs if m.start >= b]
    if after and after[0].form in ("한", "하나", "1"):
        return False
    return not before or before[-1].form in (",", ";") or before[-1].form in KO_HEAD or before[-1].tag == "SF"


def _person_noun(morphs: Sequence[Morph], a: int) -> bool:
    """Is '자' at ``a`` the noun 'person' (after an adnominal ending, or a noun's suffix: '진단자'), not an
    ending ('보자', '먹자')?"""
    return any(
        (m.start == a and m.form == "자" and m.tag in ("NNB", "XSN"))
        # '진단자' read by Kiwi as one noun: its last syllable is the person of the event word before
        or (m.start < a and m.end == a + 1 and m.form.endswith("자") and m.tag in ("NNG", "NNP"))
        for m in morphs
    )


def _after_connective(morphs: Sequence[Morph], a: int) -> bool:
    """Does the word before end in the connective '-고' ('복용하*고* 나서')?"""
    before = [m for m in morphs if m.end <= a]
    return bool(before) and before[-1].tag == "EC" and before[-1].form == "고"


def _segment_ko(tok: str) -> list[str] | None:
    """Unspaced function words ('환자중에' → 환자 + 중에, '받은사람' → 받은 + 사람), or None."""
    known = _ko_known()
    best: list[list[str] | None] = [None] * (len(tok) + 1)
    best[0] = []
    for i in range(len(tok)):
        if best[i] is None:
            continue
        for j in range(len(tok), i, -1):
            if tok[i:j] in known and (best[j] is None or len(best[j]) > len(best[i]) + 1):  # type: ignore[arg-type]
                best[j] = [*best[i], tok[i:j]]  # type: ignore[misc]
    found = best[len(tok)]
    return found if found and len(found) > 1 else None


@lru_cache(maxsize=1)
def _ko_known() -> frozenset[str]:
    return frozenset(KO_ENDERS | KO_FILLERS | set(KO_CONJ) | JOSA_WORDS | KO_ALL)


def _next_content(items: list[Item], k: int) -> Item | None:
    return next((x for x in items[k + 1 :] if x.kind is not ItemKind.filler), None)


def _age_over(items: list[Item]) -> list[Item]:
    """'65세를 넘긴', '65세가 넘은': an age followed by a verb of exceeding (lemma 넘다/넘기다) is strictly
    more than that age, as '65세 초과' is; the verb then closes nothing."""
    out = list(items)
    for k, it in enumerate(out):
        if it.kind is not ItemKind.age:
            continue
        age = it.data_as(AgeData)
        nxt = _next_content(out, k)
        if (
            age.min is None
            or age.min != age.max
            or nxt is None
            or nxt.kind is not ItemKind.end
            or nxt.data_as(EndData).lemma not in KO_OVER_LEMMAS
        ):
            continue
        out[k] = Item(ItemKind.age, it.text, it.start, it.end, AgeData(age.min + 1, None))
        j = out.index(nxt)
        out[j] = Item(ItemKind.filler, nxt.text, nxt.start, nxt.end)
    return out


#: Adnominal endings after a verb of care ('측정*된*', '시행*한*', '처방*받은*').
KO_ADNOMINAL_ENDS = frozenset({"된", "한", "받은", "하는", "되는", "받는", "했던", "되었던", "받았던"})
#: The spec domains a verb of care may describe: its own, and for the generic '시행' (performed) every
#: domain that is done to a patient.
_CARE_DOMAINS = {"procedure": ("procedure", "measurement", "imaging")}


def _cared_for(verb: Item, concept: Item) -> bool:
    """Can the verb of care ``verb`` describe ``concept`` (a mention or an imaging modality)?"""
    kind = verb.data_as(EventWordData).kind
    if kind not in KIND_DOMAIN:
        return False
    domains = _CARE_DOMAINS.get(kind, (KIND_DOMAIN[kind].value,))
    if concept.kind is ItemKind.term:
        return any(d in domains for d in concept.data_as(TermData).domains)
    return concept.kind is ItemKind.modality and "imaging" in domains


def _care_verb_modifier(items: list[Item]) -> list[Item]:
    """'2022년에 *측정된* BMI가 30 이상', '*시행된* LDL 검사', '*처방된* 아스피린': a verb of care before the
    concept it modifies is that concept's event (its date included), not an event of its own; the
    ending then closes nothing."""
    out = list(items)
    for k, it in enumerate(out[:-2]):
        if it.kind is not ItemKind.event or KO_DATE_REFERENCE.search(it.text):
            continue
        end = out[k + 1]
        nxt = _next_content(out, k + 1)
        if end.kind is not ItemKind.end or end.text.strip() not in KO_ADNOMINAL_ENDS or nxt is None:
            continue
        if _cared_for(it, nxt):
            out[k + 1] = Item(ItemKind.filler, end.text, end.start, end.end)
            if it.text.strip() == "시행":  # 'performed' names no kind: the concept's own domain decides
                out[k] = Item(ItemKind.filler, it.text, it.start, it.end)
    return out


#: English participles of care that only say the concept before them happened ('a PCI *performed* in 2025').
_EN_CARE_PARTICIPLE = regex(
    r"(?:(?:was|were|been|being)\s+)?(?:performed|done|carried\s+out|given|administered|prescribed|"
    r"dispensed|measured|tested|recorded|obtained|taken|drawn)",
    re.IGNORECASE,
)


def _en_care_participle(items: list[Item]) -> list[Item]:
    """'a CABG *performed* in 2024', 'heparin *given* …', 'an HbA1c *measured* in 2024': the participle is
    the event of the concept just named (its date included), not an event of its own."""
    out = list(items)
    for k, it in enumerate(out):
        if it.kind is not ItemKind.event or not _EN_CARE_PARTICIPLE.fullmatch(it.text.strip()) or k == 0:
            continue
        prev = next((x for x in reversed(out[:k]) if x.kind is not ItemKind.filler), None)
        if prev is not None and _cared_for(it, prev):
            out[k] = Item(ItemKind.filler, it.text, it.start, it.end)
    return out


#: "after *starting* warfarin", "within a year of *beginning* dialysis": the verb only names the anchor's
#: event (its first day), which the mention after it is.
_EN_ANCHOR_VERB = regex(
    r"starting|beginning|initiating|commencing|receiving|getting|taking|having|undergoing|the\s+start\s+of",
    re.IGNORECASE,
)


def _en_anchor_verb(items: list[Item]) -> list[Item]:
    """A verb between a window that points forward ('after') and the mention it points to is read with
    the window, so the mention stays the window's anchor: 'a stroke after starting the warfarin'."""
    out = list(items)
    for k, it in enumerate(out):
        if (
            0 < k < len(out) - 1
            and it.kind is ItemKind.boundary
            and it.text.strip().lower() in ("that", "this", "those", "these")
            and out[k - 1].kind is ItemKind.window
            and out[k + 1].kind in (ItemKind.event, ItemKind.term, ItemKind.modality)
        ):
            # '… within 30 days after *that* lab': a pointing word before the anchor, no clause
            out[k] = Item(ItemKind.filler, it.text, it.start, it.end)
            continue
        if k == 0 or it.kind is not ItemKind.verb or not _EN_ANCHOR_VERB.fullmatch(it.text.strip()):
            continue
        prev = out[k - 1]
        if prev.kind is not ItemKind.window or prev.data_as(WindowData).anchor is not WindowAnchor.follows:
            continue
        out[k] = Item(ItemKind.filler, it.text, it.start, it.end)
        w = prev.data_as(WindowData)
        starts = re.match(r"start|begin|initiat|commenc", it.text.strip(), re.IGNORECASE)
        if starts and w.start is not None and w.end is not None and w.start == -w.end and w.end > 0:
            # 'within 30 days of starting lisinopril': nothing comes before a start
            out[k - 1] = Item(prev.kind, prev.text, prev.start, prev.end, replace(w, start=0))
    return out


#: 'chemotherapy *infusion*', 'DES *placement*': a noun that only says the mention before it happened.
_EN_CARE_NOUN = regex(
    r"infusions?|injections?|placements?|insertions?|administrations?|implantations?", re.IGNORECASE
)
#: 'whose first breast cancer diagnosis *falls* between 2020 and 2023', '… *occurred* in 2020 or later'.
_EN_DATE_VERB = regex(
    r"falls?|fell|occurr?(?:ed|ing|s)?|happen(?:ed|ing|s)?|came|comes|took\s+place", re.IGNORECASE
)


def _en_event_nouns(items: list[Item]) -> list[Item]:
    """Words that add nothing to the mention or date beside them: a care noun right after a mention, a
    verb of happening right before a date or an age. Read as fillers, so they are never asked about."""
    out = list(items)
    for k, it in enumerate(out):
        if it.kind is not ItemKind.unknown:
            continue
        text = it.text.strip()
        prev = out[k - 1] if k else None
        nxt = next((x for x in out[k + 1 :] if x.kind not in (ItemKind.filler, ItemKind.prep)), None)
        after_mention = _EN_CARE_NOUN.fullmatch(text) and prev is not None and prev.kind is ItemKind.term
        before_date = (
            _EN_DATE_VERB.fullmatch(text) and nxt is not None and nxt.kind in (ItemKind.date, ItemKind.age)
        )
        if after_mention or before_date:
            out[k] = Item(ItemKind.filler, it.text, it.start, it.end)
    return out


def _day_of_clause(items: list[Item]) -> list[Item]:
    """'기관지염 진단받은 *날* 덱스트로메토르판 처방받은', '응급실 온 *날* 복부 CT': the day of the event just
    named, as '진단 *당일*' is (days 0..0 from it). Not before an explicit window ('진단받은 날로부터 30일
    이내': there '날' is only the anchor's date)."""
    out = list(items)
    for k, it in enumerate(out):
        if it.kind is not ItemKind.filler or it.text.strip() != "날" or k == 0:
            continue
        prev = out[k - 1]
        nxt = _next_content(out, k)
        if (
            prev.kind is not ItemKind.end
            or not re.search(r"(?:은|는|ㄴ|온|간|한|된|던)$", prev.text.strip())
            or nxt is None
            or nxt.kind in (ItemKind.window, ItemKind.index_ref, ItemKind.end)
            or not any(x.kind in (ItemKind.event, ItemKind.term, ItemKind.modality) for x in out[:k])
        ):
            continue
        out[k - 1] = Item(ItemKind.filler, prev.text, prev.start, prev.end)
        out[k] = Item(
            ItemKind.window, it.text, it.start, it.end, WindowData(0, 0, WindowAnchor.precedes, it.text)
        )
    return out


#: A vague word says nothing more once the sentence gives the exact reading of the same kind.
_EXACT_FOR_VAGUE = {"age": ItemKind.age, "value": ItemKind.compare, "time": ItemKind.date}


def _vague_made_exact(items: list[Item]) -> list[Item]:
    """'young men under 25', '80세 이상 고령 환자', 'an elevated LDL above 160': the explicit age, value or
    dates say what the vague word meant; it is not asked about."""
    kinds = {it.kind for it in items if re.search(r"\d", it.text)}  # 'adult' is no exact age
    out = []
    for it in items:
        what = it.data_as(AskData).what if it.kind is ItemKind.vague else None
        exact = _EXACT_FOR_VAGUE.get(what or "")
        out.append(Item(ItemKind.filler, it.text, it.start, it.end) if exact in kinds else it)
    return out


def _after_aux(items: list[Item]) -> list[Item]:
    """'하고 나서 30일 이내에': an explicit window right after '나서' says how long after; '나서' adds
    nothing then."""
    out = list(items)
    for k, it in enumerate(out):
        if it.kind is ItemKind.window and it.data_as(WindowData).weak:
            nxt = _next_content(out, k)
            if nxt is not None and nxt.kind is ItemKind.window:
                out[k] = Item(ItemKind.filler, it.text, it.start, it.end)
    return out


# Items inside brackets that make them part of the question, not an aside to drop.
CONTENT_INSIDE = {
    ItemKind.term,
    ItemKind.event,
    ItemKind.modality,
    ItemKind.date,
    ItemKind.window,
    ItemKind.compare,
    ItemKind.age,
    ItemKind.sex,
    ItemKind.quote,
    ItemKind.name,
    ItemKind.exclusive,
}

#: Items that say something a rule would need ('(i.e. at least one day earlier)'): a bracket holding one is
#: read (and asked about when it cannot be), never dropped as an aside.
UNREAD_INSIDE = {ItemKind.bad_window, ItemKind.bad_date, ItemKind.occurrence, ItemKind.first, ItemKind.vague}

#: DICOM modality and body-part codes, as writers restate a study in brackets ('brain MRI (MR, HEAD)').
DICOM_CODES = frozenset(
    {"CT", "MR", "CR", "DX", "US", "XA", "MG", "PT", "NM", "RF", "OT"}
    | {code for _, _, parts in EN_MODALITIES for code in parts}
    | {code for _, parts in EN_BODY_PARTS for code in parts}
)
#: The names DICOM gives its codes, written before them: '(modality MR, body part head)'.
_DICOM_LABEL = regex(r"^(?:modality|body\s*part(?:\s+examined)?|body|part|site)\b\s*:?\s*", re.IGNORECASE)
#: A vocabulary's name written before a code.
VOCABULARY_NAME = regex(
    r"\b(?:ICD-?10-?CM|ICD-?9-?CM|ICD-?10|ICD-?9|KCD-?[78]?|SNOMED(?:\s*CT)?|LOINC|RxNorm|ATC)\s*(?:code\s*)?:?\s*"
    r"(?=[A-Z]?\d)"
)
#: A code as people write it: ICD-10 (E11.22, I63, K25.4), ICD-9 procedures (36.06, 81.54), LOINC (4548-4).
WRITTEN_CODE = regex(r"[A-Z]\d{2}(?:\.[0-9A-Z]{1,4})?|\d{2}\.\d{1,2}|\d{1,5}-\d")
_MENTION = (ItemKind.term, ItemKind.unknown)


#: A range of codes as people write one: 'K92.0-K92.2', 'I20-I25', '36.10–36.16'.
CODE_RANGE = regex(r"([A-Z]?\d{2}\.?)(\d{0,2})\s*[-~]\s*([A-Z]?\d{2}\.?)(\d{0,2})")
#: More codes than this in one written range are not spelled out (the range is asked back instead).
MAX_RANGE_CODES = 20


def _range_codes(x: Item) -> list[Item]:
    """The codes a written range spans ('K92.0-K92.2' → K92.0, K92.1, K92.2; 'I20-I25' → I20 … I25),
    each an item over the range's text; empty when it is no range of one stem and one digit width."""
    m = CODE_RANGE.fullmatch(x.text.strip())
    if m is None:
        return []
    a_stem, a_tail, b_stem, b_tail = m.groups()
    if a_tail or b_tail:  # 'K92.0-K92.2': one stem, the tails counted
        if a_stem != b_stem or len(a_tail) != len(b_tail):
            return []
        width, lo, hi, stem = len(a_tail), int(a_tail), int(b_tail), a_stem
        codes = [f"{stem}{n:0{width}d}" for n in range(lo, hi + 1)]
    else:  # 'I20-I25': one letter, the numbers counted
        if a_stem[:-2] != b_stem[:-2] or "." in a_stem + b_stem:
            return []
        letter, lo, hi = a_stem[:-2], int(a_stem[-2:]), int(b_stem[-2:])
        codes = [f"{letter}{n:02d}" for n in range(lo, hi + 1)]
    if not 1 < len(codes) <= MAX_RANGE_CODES or not all(WRITTEN_CODE.fullmatch(c) for c in codes):
        return []
    return [Item(ItemKind.unknown, c, x.start, x.end, UnknownData()) for c in codes]


_RANGE_IN_TEXT = regex(r"(?<![\w.])[A-Z]?\d{2}\.?\d{0,2}\s*[-~]\s*[A-Z]?\d{2}\.?\d{0,2}(?![\w.])")


def _spell_out_code_ranges(text: str) -> str:
    """'K92.0-K92.2 bleeders', 'codes I20-I25': every code of a written range, as 'K92.0 or K92.1 or K92.2'
    (inside brackets a range is read in place, :func:`_codes_in`)."""

    def spell(m: re.Match[str]) -> str:
        codes = [c.text for c in _range_codes(Item(ItemKind.unknown, m.group(0), 0, 0, UnknownData()))]
        if not codes:
            return m.group(0)
        if text[: m.start()].count("(") > text[: m.start()].count(")"):
            # '(88.55-88.57)', '(43.5-43.9)': numbers alone would be read as two codes, the range's ends;
            # a list of every code is what the bracket's code reading takes ('K92.0-K92.2' stays one word)
            return ", ".join(codes) if re.fullmatch(r"[\d.\s\-~]+", m.group(0)) else m.group(0)
        return " or ".join(codes)

    return _RANGE_IN_TEXT.sub(spell, text)


_AGE_AT = regex(
    r"at\s+(?:the\s+|that\s+|this\s+)?(?:time\s+of\s+)?(?:the\s+)?"
    r"(?:admission|diagnosis|dx|visit|index(?:\s+date)?|baseline|entry)",
    re.IGNORECASE,
)


def _age_at_its_event(items: list[Item]) -> list[Item]:
    """'who were 65 or older at that admission': the event an age is taken at, right after it, says no
    window for the next rule (every age is taken at the index date)."""
    out: list[Item] = []
    for it in items:
        prev = next((x for x in reversed(out) if x.kind is not ItemKind.filler), None)
        if (
            it.kind is ItemKind.window
            and prev is not None
            and prev.kind is ItemKind.age
            and _AGE_AT.fullmatch(it.text.strip())
        ):
            continue
        out.append(it)
    return out


def _title_defined_after(items: list[Item], text: str) -> list[Item]:
    """'hyperkalemia in the ER: K+ > 5.0 mmol/L on the day of an ER visit': a condition named before a
    colon and a test value after it may be the condition's definition (no diagnosis asked for) or a second
    rule; asked back, never guessed. A title whose every word the rules after the colon say again is only
    a title (``_title_said_again``)."""
    colon = text.find(":")
    if colon < 0 or colon > 80:
        return items
    title = _title_said_again(items, colon)
    if title:
        return [Item(ItemKind.filler, it.text, it.start, it.end) if it in title else it for it in items]
    head = [it for it in items if it.end <= colon and it.kind is not ItemKind.filler]
    named = [it for it in head if it.kind in (ItemKind.term, ItemKind.unknown)]
    if (
        len(named) != 1
        or re.search(r"\d", text[:colon])
        or any(it.kind not in (ItemKind.term, ItemKind.unknown, ItemKind.prep, ItemKind.event) for it in head)
        or (
            named[0].kind is ItemKind.term
            and not any(e.domain.value == "condition" for e in lookup(named[0].text))
        )
        or not any(it.kind is ItemKind.compare and it.start > colon for it in items)
        or re.search(rf"(?<!\w){re.escape(named[0].text)}(?!\w)", text[colon:], re.IGNORECASE)
    ):
        return items
    term = named[0]
    reason = say("title_or_rule", "en", text=term.text)
    return [
        Item(ItemKind.vague, it.text, it.start, it.end, AskData(reason=reason)) if it is term else it
        for it in items
    ]


def _title_said_again(items: list[Item], colon: int) -> list[Item]:
    """The items of a title before the colon when everything in it is said again after it ('CAP seen in
    the ED: • pneumonia dx (J18) same day as an ER visit …': the same condition, an event of the same
    kind); none otherwise. Read as well, the title's condition became an index of its own and the rules
    after the colon a second diagnosis."""
    head = [it for it in items if it.end <= colon and it.kind not in (ItemKind.filler, ItemKind.prep)]
    body = [it for it in items if it.start > colon]
    terms = [it for it in head if it.kind is ItemKind.term]
    if len(terms) != 1 or any(it.kind not in (ItemKind.term, ItemKind.event) for it in head):
        return []
    for it in head:
        if it.kind is ItemKind.term:
            again = any(x.kind is ItemKind.term and same_mention(Term.of(x), Term.of(it)) for x in body)
        else:
            kind = it.data_as(EventWordData).kind
            again = any(x.kind is ItemKind.event and x.data_as(EventWordData).kind == kind for x in body)
        if not again:
            return []
    return head


def _codes_in(items: list[Item]) -> list[Item] | None:
    """The written codes of a bracket ('(E11.22)', '(85.41 또는 85.43)', '(K92.0-K92.2, K25.4)'); None
    when it holds more."""
    codes: list[Item] = []
    rest: list[Item] = []
    for x in items:
        if x.kind in (ItemKind.unknown, ItemKind.number) and WRITTEN_CODE.fullmatch(x.text.strip()):
            codes.append(x)
        elif x.kind is ItemKind.compare and re.fullmatch(r"\d{3,5}-\d", x.text.strip()):
            # '수축기 혈압(8480-6)': a LOINC code, which Korean reads as a range of values '8480~6'
            codes.append(Item(ItemKind.unknown, x.text, x.start, x.end, UnknownData()))
        elif x.kind is ItemKind.compare and (
            spanned := _range_codes(Item(ItemKind.unknown, x.text, x.start, x.end, UnknownData()))
        ):
            # '관상동맥조영술(CAG, 88.55~88.57)': a range of codes, which Korean reads as a range of values
            codes += spanned
        elif x.kind in (ItemKind.unknown, ItemKind.number) and (spanned := _range_codes(x)):
            codes += spanned
        elif x.kind not in (ItemKind.filler, ItemKind.conj):
            rest.append(x)
    # '(THR, 81.51)', '(경피적 폐생검, 33.26)': a name beside the code restates it too; anything with a
    # digit in it is no name ('K92.0-K92.2' beyond the spelled-out limit), so the bracket is not dropped
    # ('CAG' beside '88.55~88.57': an imaging word, named again)
    named = (*_MENTION, ItemKind.modality)
    return codes if codes and all(x.kind in named and not re.search(r"\d", x.text) for x in rest) else None


def _code_domains(code: str) -> tuple[str, ...]:
    """What a code's shape says it names: ICD-10 a diagnosis, ICD-9 procedures a procedure, LOINC a test."""
    if re.fullmatch(r"\d{2}\.\d{1,2}", code):
        return ("procedure",)
    if re.fullmatch(r"\d{1,5}-\d", code):
        return ("measurement",)
    return ("condition",)


#: An ICD-10 code as written alone ('I63 → brain MRI', 'D62 → pRBC'): its shape says what it is.
_ICD10_CODE = regex(r"[A-TV-Z]\d{2}(?:\.[0-9A-Z]{1,4})?")


#: An ICD-9-CM procedure code as written alone ('99.25 infusion', 'ICD-9 33.26', '37.22 w/o PCI').
_ICD9_PROCEDURE_CODE = regex(r"\d{2}\.\d{1,2}")


def _bare_codes(items: list[Item]) -> list[Item]:
    """An ICD-10-shaped word no recogniser claimed is that code's diagnosis, as the same code beside a name
    is; the mart's vocabulary resolves it (or says it does not know it). A number no reading claimed that
    has the shape of an ICD-9 procedure code ('their first 99.25 infusion') is that procedure, unless a
    test stands before it ('Hb 10.5' is a value, asked back as one)."""
    out: list[Item] = []
    for it in items:
        code = it.text.strip()
        if (it.kind is ItemKind.unknown and _ICD10_CODE.fullmatch(code)) or (
            it.kind is ItemKind.number and _ICD9_PROCEDURE_CODE.fullmatch(code) and not _after_test(out)
        ):
            it = Item(ItemKind.term, it.text, it.start, it.end, TermData(it.text, _code_domains(code)))
        out.append(it)
    return out


def _after_test(before: list[Item]) -> bool:
    """The last content word before is a name that may be a test ('Hb', 'HbA1c'), whose number is a value."""
    prev = next(
        (x for x in reversed(before) if x.kind not in (ItemKind.filler, ItemKind.prep, ItemKind.verb)), None
    )
    if prev is None or prev.kind is not ItemKind.term:
        return False
    domains = prev.data_as(TermData).domains
    return "measurement" in domains or "?" in domains


#: An abbreviation as clinicians write one: 'TKR', 'CVA', 'NSTEMI', 'T2DM' (not a word like 'histology').
ABBREVIATION = regex(r"(?=(?:[^A-Z]*[A-Z]){2})[A-Za-z0-9/-]{2,8}")


#: Words that may restate a visit's setting in brackets after a visit word, and nothing else.
_VISIT_RESTATING = regex(
    r"(?:includ(?:ing|ed|es)|incl\.?|inpatients?|in-?patient|ed|er|emergency|department|"
    r"(?:ed|er)-to-inpatient|admissions?|visits?|stays?|to|too|also|counts?|포함|경유|거쳐|거친|통해|것도|경우도|및|과|와|"
    # 'HF admissions (IP or ER->IP)', 'an ER visit (ER or ER-then-inpatient)'
    r"ip|(?:ed|er)\s*->\s*(?:ip|inpatient)|(?:ed|er)-then-inpatient|or|and)",
    re.IGNORECASE,
)


def _visit_restatement(prev: Item | None, inner: list[Item]) -> bool:
    """True when the brackets after an admission or ER word name only the settings that word is read as
    (an admission is inpatient or ER-to-inpatient; an ER visit is ER or ER-to-inpatient): restated, not a
    new rule. 'only', 'excluding' or any other word leaves the brackets to the grammar."""
    if prev is None or prev.kind is not ItemKind.event:
        return False
    if prev.data_as(EventWordData).kind not in ("admission", "er_visit", "er_admission"):
        return False
    words = [x for x in inner if x.kind not in (ItemKind.filler, ItemKind.conj)]
    return bool(words) and all(
        (
            x.kind is ItemKind.event
            and x.data_as(EventWordData).kind in ("admission", "er_visit", "er_admission")
        )
        or all(_VISIT_RESTATING.fullmatch(w) for w in re.split(r"[\s]+", x.text.strip()) if w)
        for x in words
    )


_EXAMPLES_START = regex(r"(?:e\.?\s?g\.?|eg|such\s+as|예|예를\s*들어|예:)[,:]?", re.IGNORECASE)
_EXAMPLES_END = regex(r"(?:등|등등|etc\.?)", re.IGNORECASE)


def _examples_of_previous(out: list[Item], inner: list[Item]) -> bool:
    """Brackets that open with 'e.g.' or close with '등'/'etc.', right after a known mention."""
    prev = next((x for x in reversed(out) if x.kind is not ItemKind.filler), None)
    if prev is None or prev.kind is not ItemKind.term:
        return False
    words = [x for x in inner if x.text.strip()]
    if not words:
        return False
    said = " ".join(x.text.strip() for x in words)
    return bool(
        _EXAMPLES_START.match(said)
        or _EXAMPLES_END.fullmatch(words[-1].text.strip())
        or said.endswith(" 등")
        or _narrower_than(prev, words)
        or _spelled_out(prev, words)
    )


def _bracket_names(words: list[Item], *also: ItemKind) -> list[Item] | None:
    """The names a bracket lists ('PCI or CABG'), or None when it holds anything but names joined by
    'and'/'or' (and the kinds ``also`` allows): only a bare list of names can restate a mention."""
    if any(x.kind not in (ItemKind.term, ItemKind.unknown, ItemKind.conj, *also) for x in words):
        return None
    return [x for x in words if x.kind in (ItemKind.term, ItemKind.unknown)]


def _spelled_out(prev: Item, words: list[Item]) -> bool:
    """'NO revascularization (no PCI and no CABG)', 'revascularization (PCI or CABG)': the bracket names the
    kinds that together are the mention before it, no more and no less (its codes joined are the
    mention's codes), so it says the mention again; a 'no' inside repeats the one before the mention."""
    names = _bracket_names(words, ItemKind.neg)
    if names is None or len(names) < 2:
        return False
    parts = [codes_named(x.text) for x in names]
    return all(parts) and set().union(*parts) == codes_named(prev.text)


def _narrower_than(prev: Item, words: list[Item]) -> bool:
    """'a colectomy (right or left hemicolectomy, sigmoidectomy)': every name in the bracket is a kind of
    the mention before it (each of its codes falls under one of the mention's codes), so the bracket lists
    examples the mention already covers."""
    broad = codes_named(prev.text)
    sides = r"[\s/]*(?:우측|좌측|오른쪽|왼쪽|양측|right|left|bilateral|R|L)[\s/]*"
    words = [x for x in words if not re.fullmatch(sides, x.text, re.IGNORECASE)]  # '우측/좌측 반결장절제술'
    names = _bracket_names(words)
    if not broad or not names:
        return False
    for x in names:
        # '우측/좌측 반결장절제술': the sides before a name are no other kind
        if not narrower(codes_named(x.text) or codes_named(x.text.split()[-1]), broad, each=True):
            return False
    return True


_INCLUDING = regex(r"포함(?:하여|해서|함|됨)?|including|incl\.?|inclusive\s+of", re.IGNORECASE)


def _including(inner: list[Item]) -> list[Item]:
    """'외상성 뇌손상(뇌진탕 포함)', 'stroke (including TIA)': the bracket names more of the same, an
    alternative to the mention before it; the word 'including' itself goes (the rest is read as a list)."""
    words = [x for x in inner if x.text.strip() and not _punctuation_only(x.text)]
    if not words:
        return inner
    first = words[0]
    glued = re.match(r"(?:including|incl\.?|inclusive\s+of)\s+", first.text, re.IGNORECASE)
    if glued and first.kind is ItemKind.unknown:  # 'including TIA' read as one unknown phrase
        rest = Item(
            ItemKind.unknown, first.text[glued.end() :], first.start + glued.end(), first.end, UnknownData()
        )
        return [rest if x is first else x for x in inner]
    edge = words[-1] if _INCLUDING.fullmatch(words[-1].text.strip()) else None
    if edge is None and _INCLUDING.fullmatch(words[0].text.strip()):
        edge = words[0]
    if (
        edge is None
        or len(words) < 2
        or not any(x.kind in (ItemKind.term, ItemKind.unknown) for x in words if x is not edge)
    ):
        return inner
    return [x for x in inner if x is not edge]


_MODIFIER_WORDS = {
    "and",
    "or",
    "early",
    "late",
    "mild",
    "moderate",
    "severe",
    "adult",
    "juvenile",
    "form",
    "forms",
    "type",
    "types",
    "kind",
    "kinds",
}


def _only_modifiers(items: list[Item]) -> bool:
    """Lower-case adjectives with no noun of their own ('early-onset familial', 'acute and chronic')."""
    words = [w for x in items if x.kind is not ItemKind.filler for w in re.findall(r"[^\s,]+", x.text)]
    return (
        bool(words)
        and all(x.kind in (ItemKind.unknown, ItemKind.conj) or x.kind is ItemKind.filler for x in items)
        and all(
            w.islower() and (w in _MODIFIER_WORDS or re.search(r"(?:al|ic|ive|ous|ary|onset|ed|ing)$", w))
            for w in words
        )
    )


def _list_label(out: list[Item], inner: list[Item]) -> bool:
    """An abbreviation alone in brackets right after two or more mentions joined by 'and'/'or' names
    the list (it adds nothing, and read as a concept it would widen or add a rule)."""
    content = [x for x in inner if x.kind is not ItemKind.filler]
    if len(content) != 1 or content[0].kind not in (ItemKind.term, ItemKind.unknown):
        return False
    if not ABBREVIATION.fullmatch(content[0].text.strip()) or content[0].text.strip().isdigit():
        return False
    tail = [x for x in out if x.kind not in (ItemKind.filler, ItemKind.window)][-3:]
    return (
        len(tail) == 3
        and tail[0].kind in _MENTION
        and tail[1].kind is ItemKind.conj
        and tail[1].data_as(ConjData).op in ("and", "or")
        and tail[2].kind in _MENTION
    )


#: Small words inside a lay description ('part *of their* stomach taken out').
_LAY_GLUE = {"of", "in", "to", "out", "through", "from", "on"}


def _lay_description(out: list[Item], content: list[Item]) -> int | None:
    """'had part of their stomach taken out (partial gastrectomy)': words none of which the lexicon knows,
    then one known name in brackets, are that name said in lay words. Where the lay words start in
    ``out``, or None when this is not that (a known word among them, more than one name in brackets)."""
    # one name, or a list of names ('a P2Y12 inhibitor (clopidogrel or ticagrelor)')
    names = [x for x in content if x.kind is not ItemKind.conj]
    if not names or any(x.kind is not ItemKind.term for x in names):
        return None
    if any(x.kind is ItemKind.conj and x.data_as(ConjData).op != "or" for x in content):
        return None
    k = len(out)
    while k > 0 and (
        out[k - 1].kind in (ItemKind.unknown, ItemKind.filler)
        or (out[k - 1].kind is ItemKind.prep and out[k - 1].text.strip().lower() in _LAY_GLUE)
    ):
        k -= 1
    while k < len(out) and out[k].kind is not ItemKind.unknown:
        k += 1  # the run starts at its first unknown word
    words = [x for x in out[k:] if x.kind is ItemKind.unknown]
    if not words or len(" ".join(x.text for x in words).split()) > 8:
        return None
    return k


def _name_restatement(out: list[Item], inner: list[Item], notes: list[str], lang: str) -> list[Item] | None:
    """'인공슬관절 전치환술(TKR)': an unknown name with a known abbreviation in brackets names one thing,
    the known one ('TKR (인공슬관절 전치환술)' needs nothing: an unknown bracket is an aside). None when
    this is not that."""
    content = [x for x in inner if x.kind is not ItemKind.filler]
    run_start = len(out)
    while run_start > 0 and out[run_start - 1].kind in _MENTION:
        run_start -= 1
    run = out[run_start:]
    # '고관절 폐쇄성 골절(closed fracture of hip)', '소아 주의력결핍장애(Child attention deficit disorder)':
    # the English name of an unknown Korean one (the mart's names are English)
    lay = _lay_description(out, content)
    if lay is not None:
        said = " ".join(x.text for x in content)
        notes.append(say("name_restates", lang, words=" ".join(x.text for x in out[lay:]), term=said))
        del out[lay:]
        return content
    english = (
        lang == "ko"
        and bool(content)
        and all(x.kind in (ItemKind.term, ItemKind.unknown) and x.text.isascii() for x in content)
        and any(re.search("[A-Za-z]{3}", x.text) for x in content)
        and (
            all(re.search("[가-힣]", x.text) for x in run)
            # '소아 ADHD(child attention deficit disorder)': a spelt-out English name
            or (
                any(re.search("[가-힣]", x.text) for x in run) and any(" " in x.text.strip() for x in content)
            )
        )
    )
    if english and run and all(x.kind is ItemKind.unknown for x in run):
        notes.append(say("name_restates", lang, words=" ".join(x.text for x in run), term=content[0].text))
        del out[run_start:]
        return [x for x in inner if x.kind is not ItemKind.filler]
    if (
        run
        and len(content) == 1
        and content[0].kind is ItemKind.term
        and (
            ABBREVIATION.fullmatch(content[0].text.strip())
            # 'Activase (alteplase)', '리피토(아토르바스타틴)': a brand with its ingredient, the drug
            or (
                isinstance(content[0].data, TermData)
                and set(content[0].data.domains) == {"drug"}
                and len(run) <= 2
            )
        )
        and all(x.kind is ItemKind.unknown for x in run)
    ):
        notes.append(say("name_restates", lang, words=" ".join(x.text for x in run), term=content[0].text))
        del out[run_start:]
        return content
    return None


def _body_part_of(word: str, lang: str) -> tuple[str, ...]:
    table = KO_BODY_PARTS if lang == "ko" else EN_BODY_PARTS
    w = re.sub(r"^(?:the|a)\s+", "", word.strip(), flags=re.IGNORECASE)
    return next((tuple(codes) for rx, codes in table if re.fullmatch(rx, w, re.IGNORECASE)), ())


#: A word that points back to something named before: '그 CT', '해당 CT', 'that CT', 'the same CT'.
_DEMONSTRATIVE = regex(r"그|해당|동일한?|that|this|those|the\s+same|said", re.IGNORECASE)


def _imaging_said_again(items: list[Item]) -> list[Item]:
    """'abdomen CT 찍었는데 그 CT 찍은 날 CEA …', 'an abdominal CT … on the day of that CT': a modality after
    a pointing word, with no body part of its own, is the study of that modality named before (its body
    part too), never a second study."""
    out = list(items)
    for k, it in enumerate(out):
        if it.kind is not ItemKind.modality or k == 0:
            continue
        prev = out[k - 1]
        shot = it.data_as(ModalityData)
        if shot.body_parts or not (
            _DEMONSTRATIVE.fullmatch(prev.text.strip()) and prev.kind in (ItemKind.filler, ItemKind.pronoun)
        ):
            continue
        earlier = [
            x
            for x in out[:k]
            if x.kind is ItemKind.modality and set(shot.modalities) <= set(x.data_as(ModalityData).modalities)
        ]
        if earlier:
            out[k] = Item(ItemKind.modality, earlier[-1].text, it.start, it.end, earlier[-1].data)
    return out


def _body_part_lists(items: list[Item], lang: str) -> list[Item]:
    """'a CT of the head, chest or abdomen', 'a head, chest or abdomen CT': body parts listed with 'or'
    around one imaging phrase are that study of any of them (one rule, as 'CT or MRI' is one study of
    either). Only an 'or' list: 'head and chest CT' stays two parts to ask about."""
    out = list(items)
    k = 0
    while k < len(out):
        it = out[k]
        if it.kind is not ItemKind.modality:
            k += 1
            continue
        shot = it.data_as(ModalityData)
        # after: modality (',' part)* 'or' part
        j, parts, ops = k + 1, list(shot.body_parts), []
        while j + 1 < len(out) and out[j].kind is ItemKind.conj and out[j + 1].kind is ItemKind.unknown:
            found = _body_part_of(out[j + 1].text, lang)
            if not found:
                break
            ops.append(out[j].data_as(ConjData).op)
            parts += [p for p in found if p not in parts]
            j += 2
        # before: part (',' part)* 'or' modality
        i = k
        while i - 2 >= 0 and out[i - 1].kind is ItemKind.conj and out[i - 2].kind is ItemKind.unknown:
            found = _body_part_of(out[i - 2].text, lang)
            if not found:
                break
            ops.append(out[i - 1].data_as(ConjData).op)
            parts = [p for p in found if p not in parts] + parts
            i -= 2
        start = i
        if "or" in ops and all(op in ("or", ",") for op in ops):
            merged = Item(
                ItemKind.modality,
                " ".join(x.text for x in out[start:j]),
                out[start].start,
                out[j - 1].end,
                ModalityData(shot.modalities, tuple(parts)),
            )
            out[start:j] = [merged]
            k = start + 1
            continue
        k += 1
    return out


_CODE_LED = regex(rf"(?P<code>{WRITTEN_CODE.pattern})\s+(?P<words>[A-Za-z가-힣][\w\s'-]*)")


def _code_led(items: list[Item], notes: list[str], lang: str) -> list[Item]:
    """'an I63 stroke dx', 'C34 폐암': a code written before the words that name it says exactly what
    they name, as a code in brackets after them does; the mention is the code."""
    out: list[Item] = []
    for x in items:
        m = _CODE_LED.fullmatch(x.text.strip()) if x.kind in _MENTION else None
        if m is None:
            out.append(x)
            continue
        code = m.group("code")
        domains = x.data.domains if isinstance(x.data, TermData) and "?" not in x.data.domains else ()
        out.append(
            Item(
                ItemKind.term,
                code,
                x.start,
                x.start + len(code),
                TermData(x.text, domains or _code_domains(code)),
            )
        )
        notes.append(say("code_restates", lang, words=m.group("words"), codes=code))
    return out


def _qualified_name_start(out: list[Item], start: int, codes: list[Item]) -> int:
    """'type 2 diabetes with hyperglycaemia (E11.65)', 'GI haemorrhage, unspecified (K92.2)': the code
    restates the whole qualified name when the known name before 'with' / ',' / 'due to' holds every code
    (E11.65 inside E11); the start of that name, else ``start`` unchanged."""
    k = start - 1
    if k < 1 or start >= len(out) or out[k].text.strip().lower() not in ("with", ",", "due to", "without"):
        return start
    name = out[k - 1]
    if name.kind is not ItemKind.term or not all(
        any(e.names_code(c.text) for e in lookup(name.text)) for c in codes
    ):
        return start
    return k - 1


def _code_restatement(out: list[Item], inner: list[Item], notes: list[str], lang: str) -> list[Item] | None:
    """'diabetic CKD (E11.22)': the code says exactly what the words before it name, so the code is the
    mention and the words are dropped (kept, they would become rules of their own or widen the code).
    'E11.22 (당뇨병성 CKD)': the words restate the code before them. None when neither applies."""
    codes = _codes_in(inner)
    prev_study = next((k for k in range(len(out) - 1, -1, -1) if out[k].kind is not ItemKind.filler), None)
    if (
        codes is not None
        and prev_study is not None
        and out[prev_study].kind is ItemKind.modality
        and all(_code_domains(c.text) == ("procedure",) for c in codes)
    ):
        # 'a CT of the thorax (ICD-9 87.41)': the study is the procedure the code names (and counted as such)
        words = out[prev_study].text
        del out[prev_study:]
        notes.append(say("code_restates", lang, words=words, codes=", ".join(c.text for c in codes)))
        return [
            x
            for k, c in enumerate(codes)
            for x in (
                ([Item(ItemKind.conj, "or", c.start, c.start, ConjData("or"))] if k else [])
                + [Item(ItemKind.term, c.text, c.start, c.end, TermData(words, ("procedure",)))]
            )
        ]
    if codes is not None:
        start = len(out)
        k = len(out) - 1
        # 'chemotherapy infusion (99.25)', 'chemotherapy infusion procedures (99.25)', '항암화학요법
        # 주입(99.25)': care nouns and one event word between the mention and the code are read with it
        j = k
        while j > 0 and out[j].kind in (ItemKind.filler, ItemKind.event):
            j -= 1
        between = out[j + 1 : k + 1]
        if j < k and out[j].kind in _MENTION and sum(x.kind is ItemKind.event for x in between) <= 1:
            start, k = j + 1, j
        while k >= 0:  # back over the mention's words: 'secondary malignancy of the liver'
            if out[k].kind in _MENTION:
                start, k = k, k - 1
            elif (
                out[k].text.strip().lower() in ("of", "the")
                and start < len(out)
                and all(out[m].text.strip().lower() in ("of", "the") for m in range(k, start))
            ):
                k -= 1
            else:
                break
        start = _qualified_name_start(out, start, codes)
        run = out[start:]
        del out[start:]
        run = [x for x in run if x.kind in _MENTION]
        domains = tuple(d for x in run if isinstance(x.data, TermData) for d in x.data.domains)
        made: list[Item] = []
        for k, c in enumerate(codes):
            if k:
                made.append(Item(ItemKind.conj, "or", c.start, c.start, ConjData("or")))
            kinds = domains or _code_domains(c.text)
            said = " ".join(x.text for x in run) or c.text
            made.append(Item(ItemKind.term, c.text, c.start, c.end, TermData(said, kinds)))
        if run:
            words = " ".join(x.text for x in run)
            codes_text = ", ".join(c.text for c in codes)
            notes.append(say("code_restates", lang, words=words, codes=codes_text))
        return made
    prev = out[-1] if out else None
    if (
        prev is not None
        and prev.kind in _MENTION
        and WRITTEN_CODE.fullmatch(prev.text.strip())
        and inner
        and all(x.kind in (*_MENTION, ItemKind.filler, ItemKind.conj) for x in inner)
    ):
        words = " ".join(x.text for x in inner if x.kind is not ItemKind.filler)
        notes.append(say("code_restates", lang, words=words, codes=prev.text))
        return []
    return None


def _members_bracket_to_mention(items: list[Item]) -> list[Item]:
    """'no statin prescription (atorvastatin or rosuvastatin) within 90 days', 'NSAID exposure -30..0
    (celecoxib / ibuprofen)', 'no brain imaging at all (neither head CT nor brain MRI)': a bracket that
    names only drugs, conditions … of the mention's own kind, or studies of its body part, is about that
    mention even with an event word, a window or 'at all' between them; it is moved beside the mention
    and read as a bracket right after it is. Read where it stood, it became a second rule, with the
    window on one of the two and 'any time' on the other (a silent wrong answer)."""
    out = list(items)
    i = 0
    while i < len(out):
        if out[i].text.strip() != "(":
            i += 1
            continue
        j = next((k for k in range(i + 1, len(out)) if out[k].text.strip() == ")"), None)
        if j is None:
            break
        inner = out[i + 1 : j]
        named = [x for x in inner if x.kind not in (ItemKind.conj, ItemKind.filler, ItemKind.neg)]
        k = i - 1
        between = []
        while k >= 0 and (
            out[k].kind in (ItemKind.event, ItemKind.window, ItemKind.filler)
            or (out[k].kind is ItemKind.prep and out[k].text.strip().lower() == "at")
        ):
            between.append(out[k])
            k -= 1
        if (
            k >= 0
            and named
            and any(x.kind is not ItemKind.filler for x in between)
            and _members_of(out[k], named)
            and not any(x.kind is ItemKind.neg for x in inner if x.text.strip().lower() != "neither")
        ):
            out = [*out[: k + 1], *out[i : j + 1], *out[k + 1 : i], *out[j + 1 :]]
        i = j + 1
    return out


#: The event words a gloss of a known mention of that domain may end in.
_GLOSS_KINDS = {"measurement": {"lab"}, "drug": {"drug"}, "procedure": {"procedure", "surgery"}}


def _lay_gloss(out: list[Item], inner: list[Item]) -> bool:
    """A bracket right after a known mention that holds only words nobody read and ends in the word for
    that mention's kind of event ('(inflammation blood test)', '(the clot-dissolving drug)')."""
    prev = out[-1] if out else None
    words = [x for x in inner if x.kind is not ItemKind.filler]
    if (
        prev is None
        or prev.kind is not ItemKind.term
        or not isinstance(prev.data, TermData)
        or len(words) < 2
    ):
        return False
    kinds = {k for d in prev.data.domains for k in _GLOSS_KINDS.get(d, set())}
    last = words[-1]
    return (
        last.kind is ItemKind.event
        and last.data_as(EventWordData).kind in kinds
        and all(x.kind in (ItemKind.unknown, ItemKind.vague, ItemKind.event) for x in words)
        and any(x.kind in (ItemKind.unknown, ItemKind.vague) for x in words)
    )


def _members_of(mention: Item, named: list[Item]) -> bool:
    """Every named item is a concept of the mention's own domain (not the same entry), or a study of its
    body part; the mention is a known one."""
    if mention.kind is ItemKind.term and isinstance(mention.data, TermData) and mention.data.key:
        doms = set(mention.data.domains)
        return all(
            x.kind is ItemKind.term
            and isinstance(x.data, TermData)
            and x.data.key
            and x.data.key != mention.data.key
            and doms & set(x.data.domains)
            for x in named
        )
    if mention.kind is ItemKind.modality and isinstance(mention.data, ModalityData):
        parts, mods = set(mention.data.body_parts), set(mention.data.modalities)
        return all(
            x.kind is ItemKind.modality
            and isinstance(x.data, ModalityData)
            and (not parts or set(x.data.body_parts) <= parts)
            and (not mods or set(x.data.modalities) <= mods)
            and x.data != mention.data
            for x in named
        )
    return False


def _window_said_again(out: list[Item], inner: list[Item]) -> bool:
    """A bracket holding only a window (and the name of its anchor's kind, 'the dx', '진단') right after a
    window of the same days: one window, said twice."""
    prev = next((x for x in reversed(out) if x.kind is not ItemKind.filler), None)
    said = [x for x in inner if x.kind is not ItemKind.filler and x.text.strip()]
    windows = [x for x in said if x.kind is ItemKind.window]
    if prev is None or prev.kind is not ItemKind.window or len(windows) != 1:
        return False
    if any(
        x.kind not in (ItemKind.window, ItemKind.event) or x.kind is ItemKind.event and x is not said[0]
        for x in said
    ):
        return False
    a, b = prev.data_as(WindowData), windows[0].data_as(WindowData)
    return (a.start, a.end, a.same_visit) == (b.start, b.end, b.same_visit)


def _parentheses(items: list[Item], notes: list[str], lang: str) -> list[Item]:
    """'(종류 무관)', '(greatest dimension)': asides are dropped and noted; '(PCI or bypass)' after a
    mention lists alternatives to it; a code in brackets restates the mention before it ('diabetic
    CKD (E11.22)'); other brackets are read as if they were not there."""
    if lang == "en":  # (Korean reads '스타틴 계열 약물(아토르바스타틴, …)' as one mention already)
        items = _members_bracket_to_mention(items)
    out: list[Item] = []
    i = 0
    while i < len(items):
        it = items[i]
        if it.text.strip() in ("(", "["):
            # '[coronary arteriography]': square brackets restate or qualify as round ones do
            close = ")" if it.text.strip() == "(" else "]"
            j = next((k for k in range(i + 1, len(items)) if items[k].text.strip() == close), None)
            if j is not None:
                inner = items[i + 1 : j]
                restated = _code_restatement(out, inner, notes, lang)
                if restated is None:
                    restated = _name_restatement(out, inner, notes, lang)
                if restated is None and _examples_of_previous(out, inner):
                    # '대장 절제술(우측/좌측 결장절제, S결장절제 등)', 'statins (e.g. atorvastatin)': examples
                    # of the mention just named, which already covers them
                    notes.append(say("aside_ignored", lang, words=" ".join(x.text for x in inner).strip()))
                    i = j + 1
                    continue
                if restated is None and _list_label(out, inner):
                    # 'aspirin and clopidogrel (DAPT)', 'MI or stroke (MACE)': a name for the list just given
                    notes.append(say("aside_ignored", lang, words=" ".join(x.text for x in inner).strip()))
                    i = j + 1
                    continue
                if restated is not None:
                    out.extend(restated)
                    i = j + 1
                    continue
                widened = _including(inner)
                if widened is not inner and _only_modifiers(widened):
                    # 'Alzheimer's disease (including early-onset familial)': kinds of the mention, which
                    # its sub-concepts already hold
                    notes.append(say("aside_ignored", lang, words=" ".join(x.text for x in inner).strip()))
                    i = j + 1
                    continue
                if widened is not inner:
                    # 'stroke (including TIA)': what follows 'including' is an alternative, known or not
                    out.append(Item(ItemKind.conj, "(", it.start, it.end, ConjData("or", paren=True)))
                    out.extend(widened)
                    i = j + 1
                    continue
                if _window_said_again(out, inner):
                    # '진단 당일 또는 다음 날(진단 후 1일 이내)', 'within 1 day (day 0 or day 1 after the
                    # dx)': the window just given, said again in other words
                    notes.append(say("aside_ignored", lang, words=" ".join(x.text for x in inner).strip()))
                    i = j + 1
                    continue
                kinds = {x.kind for x in inner}
                prev_content = next((x for x in reversed(out) if x.kind is not ItemKind.filler), None)
                prev_visit = next(  # 'ED visits in 2023 (ED-to-inpatient visits included)': past the dates
                    (
                        x
                        for x in reversed(out)
                        # ('got admitted within 1 day after (inpatient incl ER->IP)': past the window too)
                        if x.kind not in (ItemKind.filler, ItemKind.date, ItemKind.window)
                        and x.text.lower() != "to"
                    ),
                    None,
                )
                if _visit_restatement(prev_visit, inner):
                    # 'admitted (inpatient, including ED-to-inpatient)', '입원(응급실 경유 입원 포함)': the
                    # setting the visit word already reads as (9201 and 262), said again
                    notes.append(say("aside_ignored", lang, words=" ".join(x.text for x in inner).strip()))
                    i = j + 1
                    continue
                dicom = [x for x in inner if x.kind not in (ItemKind.filler, ItemKind.conj)]
                if (
                    prev_content is not None
                    and prev_content.kind in (ItemKind.term, ItemKind.modality)
                    and len(dicom) == 1
                    and dicom[0].kind is ItemKind.event
                    and re.fullmatch(r"[A-Za-z]+", dicom[0].text.strip())
                ):
                    # 'a pelvis X-ray (procedure)', 'E11 (diagnosis)': the kind of the mention just named
                    notes.append(say("aside_ignored", lang, words=dicom[0].text.strip()))
                    out.append(Item(ItemKind.filler, dicom[0].text, dicom[0].start, dicom[0].end))
                    i = j + 1
                    continue
                if (
                    prev_content is not None
                    and prev_content.kind is ItemKind.modality
                    and dicom
                    and all(
                        # '(modality MR, body part HEART)', '(modality MR, body part head)': the codes with
                        # their names
                        _DICOM_LABEL.sub("", x.text.strip()).upper() in DICOM_CODES | {""}
                        # 'a coronary angiogram [coronary arteriography]': the same study named again
                        or (x.kind is ItemKind.modality and x.data == prev_content.data)
                        for x in dicom
                    )
                ):
                    # 'brain MRI(MR, HEAD)': the DICOM codes of the study just named
                    notes.append(say("aside_ignored", lang, words=" ".join(x.text for x in inner).strip()))
                    i = j + 1
                    continue
                named = [x for x in inner if x.kind not in (ItemKind.conj, ItemKind.filler, ItemKind.neg)]
                if (
                    prev_content is not None
                    and prev_content is out[-1]
                    and prev_content.kind is ItemKind.modality
                    and named
                    and _members_of(prev_content, named)
                ):
                    # 'brain imaging (head CT or brain MRI)', '… (neither head CT nor brain MRI)': the studies
                    # meant, which the general one is read as
                    said = " / ".join(x.text for x in named)
                    notes.append(say("name_restates", lang, words=prev_content.text, term=said))
                    out.pop()
                    out.extend(x for x in inner if x.kind is not ItemKind.neg)
                    i = j + 1
                    continue
                if _lay_gloss(out, inner):
                    # 'CRP (inflammation blood test)', 'alteplase (the clot-dissolving drug)': the known name
                    # explained in lay words, ending in the word for its kind of event
                    notes.append(say("aside_ignored", lang, words=" ".join(x.text for x in inner).strip()))
                    i = j + 1
                    continue
                qualifier = [x for x in inner if x.kind is not ItemKind.filler]
                if (
                    lang == "en"
                    and out
                    and out[-1].kind is ItemKind.term
                    and len(qualifier) == 1
                    and qualifier[0].kind is ItemKind.unknown
                    and re.fullmatch(r"[a-z]{4,}", qualifier[0].text.strip())
                ):
                    # 'nicotine dependence (cigarettes)': one lower-case word after a mention narrows it
                    # ('Nicotine dependence, cigarettes'); the mart's vocabulary decides, or it is asked
                    last = out[-1]
                    said = f"{last.text}, {qualifier[0].text.strip()}"
                    out[-1] = Item(ItemKind.term, said, last.start, inner[-1].end, last.data)
                    i = j + 1
                    continue
                if not kinds & (CONTENT_INSIDE | UNREAD_INSIDE):
                    words = " ".join(x.text for x in inner).strip()
                    if words:
                        notes.append(say("aside_ignored", lang, words=words))
                    i = j + 1
                    continue
                prev = next((x for x in reversed(out) if x.kind is not ItemKind.filler), None)
                if (
                    prev is not None
                    and prev.kind in (ItemKind.term, ItemKind.unknown)
                    and kinds <= {ItemKind.term, ItemKind.unknown, ItemKind.conj, ItemKind.filler}
                ):
                    out.append(Item(ItemKind.conj, "(", it.start, it.end, ConjData("or", paren=True)))
                    out.extend(inner)
                    i = j + 1
                    continue
                out.extend(inner)
                i = j + 1
                continue
        out.append(it)
        i += 1
    return out


def _merge_modifiers(items: list[Item], lang: str) -> list[Item]:
    """'viral sinusitis', 'packed red cell transfusion': an unknown word right before a mention is part
    of it. An unknown phrase right before 'patients' is a mention too ('acute bronchitis patients')."""
    out: list[Item] = []
    for k, it in enumerate(items):
        prev = out[-1] if out else None
        if (
            it.kind is ItemKind.term
            and prev is not None
            and prev.kind is ItemKind.unknown
            and prev.text.lower() in LAST_WORDS
        ):
            out[-1] = Item(
                ItemKind.vague,
                prev.text,
                prev.start,
                prev.end,
                AskData(
                    what="unsupported",
                    reason=say("one_measurement_unsupported", lang, last=prev.text, term=it.text),
                    choices=readings("one_measurement_unsupported", lang, term=it.text),
                ),
            )
            out.append(it)
            continue
        if (
            it.kind is ItemKind.term
            and prev is not None
            and prev.kind is ItemKind.unknown
            and 0 <= it.start - prev.end <= 1
            and not prev.data_as(UnknownData).head
            and not (HANGUL_RE.search(prev.text) and len(prev.text) < 2)
        ):
            out[-1] = Item(
                ItemKind.term, prev.text + " " * (it.start - prev.end) + it.text, prev.start, it.end, it.data
            )
            continue
        if (
            it.kind is ItemKind.verb
            and prev is not None
            and prev.kind is ItemKind.term
            and it.text.lower() in PARTICIPLES
        ):
            participle = replace(it.data_as(VerbData), participle=True)
            it = Item(ItemKind.verb, it.text, it.start, it.end, participle)  # 'metformin started …'
        if it.kind is ItemKind.unknown:
            nxt = items[k + 1] if k + 1 < len(items) else None
            if nxt is not None and nxt.kind is ItemKind.filler and nxt.text.lower() in PEOPLE_WORDS:
                it = Item(ItemKind.unknown, it.text, it.start, it.end, UnknownData(head=True))
        out.append(it)
    return out


def _merge_unknown(items: list[Item]) -> list[Item]:
    """Adjacent unknown words are one phrase ('blue hair', '사르코이드증'), and so is 'laceration of the
    hand': an unknown word, 'of (the)', an unknown word."""
    out: list[Item] = []
    for it in items:
        if (
            it.kind is ItemKind.unknown
            and len(out) >= 2
            and out[-1].text == "-"
            and out[-2].kind is ItemKind.unknown
            and out[-2].end == out[-1].start
            and out[-1].end == it.start
        ):  # 'age-related', 'drug-eluting': a hyphenated word is one word, never two mentions
            first = out[-2]
            out[-2:] = [
                Item(ItemKind.unknown, first.text + "-" + it.text, first.start, it.end, UnknownData())
            ]
            continue
        if it.kind is ItemKind.unknown and out and out[-1].kind is ItemKind.unknown:
            prev = out[-1]
            out[-1] = Item(ItemKind.unknown, prev.text + " " + it.text, prev.start, it.end, UnknownData())
            continue
        if it.kind is ItemKind.unknown and out and out[-1].text.lower() in ("of", "the"):
            k = len(out) - 1
            while (
                k > 0
                and out[k].kind in (ItemKind.prep, ItemKind.filler)
                and out[k].text.lower() in ("of", "the")
            ):
                k -= 1
            if out[k].kind is ItemKind.unknown and any(x.text.lower() == "of" for x in out[k + 1 :]):
                first = out[k]
                words = " ".join([first.text, *(x.text for x in out[k + 1 :]), it.text])
                out[k:] = [Item(ItemKind.unknown, words, first.start, it.end, UnknownData())]
                continue
        out.append(it)
    return out


# ---------------------------------------------------------------- the pipeline
_LEAD_IN = regex(r"^\s*(?:" + "|".join(f"(?:{p})" for p in EN_LEAD_INS) + ")+", re.IGNORECASE)


#: Words that name the people a question selects: the part of a question that holds its rules has one.
_PEOPLE_EN = regex(
    r"\b(?:patients?|pts|persons?|people|subjects?|adults?|children|kids|women|men|anyone|those|individuals|"
    r"cases|everyone|everybody|anybody|someone|somebody|folks)\b",
    re.IGNORECASE,
)
#: A sentence written to the reader, not about patients: greetings, thanks, 'we are studying …'.
_TO_THE_READER_EN = regex(
    r"\b(?:we|we're|i(?!\.\s?e\b)|i'm|our|us|you|please|hello|hi|dear|thanks?|thank\s+you|good\s+(?:morning|afternoon))\b",
    re.IGNORECASE,
)
#: Words of a title before a colon ('Knee OA dataset:', 'Pharmacovigilance:'): what the request is for.
_FRAMING_EN = regex(
    r"\b(?:dataset|data|study|project|check|review|cohort|population|request|training|model|analysis|audit|"
    r"pharmacovigilance|surveillance|query|question|outcome|eligible|registry|initiative|program|signal|"
    r"safety|task|set|segmentation|detection|screen|screening|substudy|sub-study|feasibility|timing|workup|"
    r"work-up|count|pilot|database|extraction|protocol|metric|measure|indicator|kpi|benchmark|report|"
    # an imaging dataset's labels: 'CXR negatives:', 'positive class:', 'Cath angio frames:'
    r"negatives?|positives?|class|controls?|frames|runs|detector|classifier|committee|bundle|dashboard|meeting|"
    r"imaging|bounce-?backs?|revisits?|chain|sequence|labels?|payload|pipeline)\b",
    re.IGNORECASE,
)


#: British spellings of clinical stems → American ones, which the lexicon and the OMOP names use
#: ('haemorrhage', 'anaemia', 'oesophageal', 'paediatric', 'ischaemic', 'tumour', 'diarrhoea').
_BRITISH = [
    (r"haem", "hem"),
    (r"anaem", "anem"),
    (r"leukaem", "leukem"),
    (r"ischaem", "ischem"),
    (r"oesophag", "esophag"),
    (r"paediat", "pediat"),
    (r"oedema", "edema"),
    (r"diarrhoea", "diarrhea"),
    (r"oestrogen", "estrogen"),
    (r"gynaecolog", "gynecolog"),
    (r"orthopaed", "orthoped"),
    (r"tumour", "tumor"),
    (r"foetal", "fetal"),
    (r"coeliac", "celiac"),
]
_BRITISH_RE = regex(r"\b(\w*?)(" + "|".join(b for b, _ in _BRITISH) + r")(\w*)", re.IGNORECASE)


def _american_spelling(text: str) -> str:
    def fix(m: re.Match[str]) -> str:
        stem = m.group(2)
        american = next(a for b, a in _BRITISH if b == stem.lower())
        if stem[0].isupper():
            american = american[0].upper() + american[1:]
        return m.group(1) + american + m.group(3)

    return _BRITISH_RE.sub(fix, text)


def _title_restated(title: str, rest: str) -> bool:
    """Every lexicon word of a title is said again after it ('Undiagnosed diabetes screen: … no type 2
    diabetes dx'), so dropping the title loses no concept; 'Hyperkalemia signal on an ARB: losartan …'
    keeps its title (hyperkalemia is said nowhere else)."""
    lexicon_words = _lexicon_words()
    said_after = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9-]*", rest)}
    return all(
        w.lower() in said_after
        for w in re.findall(r"[A-Za-z][A-Za-z0-9-]*", title)
        if w.lower() in lexicon_words and not _FRAMING_EN.fullmatch(w)
    )


_AT_LEAST_TWICE_EN = (
    r"\b(?:two|three|four|five|[2-9]|\d{2,})\s+or\s+more\b|\bat\s+least\s+(?:two|three|four|five|\d+)\b|"
    r"[≥>]=?\s*\d|\b\d+\s*\+"
)
#: Words of a title that sum up what the rules after it spell out ('Recurrent UTIs - anyone with two or
#: more UTI diagnoses', 'Post-PCI GI bleeding: … a GI bleed … after a PCI'), each with what those rules
#: must say for the word to add nothing.
_SUMMARY_TITLE_WORDS_EN: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (regex(word, re.IGNORECASE), regex(said, re.IGNORECASE))
    for word, said in (
        (r"recurrent|recurring|repeat(?:ed)?|multiple|frequent", _AT_LEAST_TWICE_EN),
        (r"post|after|following|subsequent", r"\b(?:after|following|subsequent|later)\b"),
        (r"op|operative", r"\b(?:surgery|operation|op|procedure)\b|\(\d{2}\.\d"),
        (r"pre|before|prior", r"\b(?:before|prior)\b"),
        # 'Periop deaths: anyone who died … POD 7 after a CABG'
        (
            r"peri-?op(?:erative)?|post-?op(?:erative)?",
            r"\b(?:surgery|operation|op|procedure|POD|post-?op\w*)\b",
        ),
        (r"deaths?|mortality|died|fatalities", r"\b(?:died|death|dead|deceased|mortality)\b"),
        # 'Progression: acute URI (J06.x) followed by pneumonia (J18.x) 1-14 days later'
        (r"progression|progressed|sequence|pathway", r"\b(?:followed\s+by|later|then|->|→)"),
        (r"naive|naïve", r"\b(?:no|never|without)\b"),
        # 'INR monitoring: first-ever warfarin users with 3 or more INR tests …'
        (r"monitoring|monitored|surveillance", r"\b(?:tests?|measurements?|checks?|levels?|results?)\b"),
        (
            r"older|elderly|younger|young|adults?|pediatric|paediatric|kids?|children",
            r"\b(?:age[ds]?|\d+\s*yo)\b",
        ),
    )
)
_PLURAL_ABBREVIATION = regex(r"\b([A-Z]{2,})s\b")  # 'UTIs', 'MIs': the lexicon names one
_TITLE_GLUE_EN = {"in", "on", "with", "the", "and", "of", "a", "an", "pts", "patients", "people", "cases"}


def _title_summarises(title: str, rest: str) -> bool:
    """A title with no framing word whose every concept is named again after it, and whose other words
    only sum up rules said after it, so that dropping it loses nothing. Anything else in it keeps it."""
    if not title.strip() or len(title.split()) > 6:
        return False
    # the summing-up words first ('Recurrent UTIs' is no concept of its own once 'two or more' is said)
    plain = re.sub(
        r"([A-Za-z]+)-?",
        lambda m: (
            " " * len(m.group(0))
            if any(word.fullmatch(m.group(1)) and said.search(rest) for word, said in _SUMMARY_TITLE_WORDS_EN)
            else m.group(0)
        ),
        _PLURAL_ABBREVIATION.sub(r"\1 ", title),
    )
    rest_keys = {key for _, _, key in find_terms_en(_PLURAL_ABBREVIATION.sub(r"\1 ", rest))}
    covered = [(a, b) for a, b, key in find_terms_en(plain) if key in rest_keys]
    words = [w for w in re.findall(r"[A-Za-z]+", plain) if w.lower() not in _TITLE_GLUE_EN]
    if not covered and not words:
        return plain != title  # only words that sum up what follows ('Periop deaths: … died … POD 7')
    return bool(covered) and all(
        any(a <= m.start() and m.end() <= b for a, b in covered) or m.group(0).lower() in _TITLE_GLUE_EN
        for m in re.finditer(r"[A-Za-z]+", plain)
    )


@lru_cache(maxsize=1)
def _lexicon_words() -> frozenset[str]:
    return frozenset(w.lower() for a in aliases() for w in re.findall(r"[A-Za-z][A-Za-z0-9-]*", a.text))


_TITLE_WORDS = {"eligible", "inclusion", "criteria", "target", "study", "the", "our", "of", "for"}
_NEGATIVE_EN = regex(r"\b(?:no|not|never|without|exclud\w*|except|other\s+than)\b", re.IGNORECASE)
#: (not after 'i.e.', 'e.g.', 'vs.': 'leukocytosis, i.e. WBC > 11' is one sentence)
_SENTENCE_END = regex(r"(?<=[.!?])(?<![iI]\.[eE]\.)(?<![eE]\.[gG]\.)(?<![vV][sS]\.)\s+(?=[A-Z])")


def _framing(text: str) -> int:
    """Where the part of a question that holds its rules starts: after sentences written to the reader
    ('I hope this finds you well. We're studying … .') and after a title before a colon ('Knee OA
    dataset:', 'Hello, our group would be grateful for the following:'), when the rest names people and
    the part skipped names none and negates nothing. 0 when nothing is framing."""
    start = 0
    for m in _SENTENCE_END.finditer(text):
        head, rest = text[start : m.start()], text[m.end() :]
        # 'Liver-metastasis imaging project. We need patients …': a title said as a sentence of its own
        titled = (
            _FRAMING_EN.search(head)
            and len(head.split()) <= 6
            and not _NEGATIVE_EN.search(head)
            and not re.search(r"\d", head)
            and (_title_restated(head, rest) or _TO_THE_READER_EN.match(rest))
        )
        if (
            _PEOPLE_EN.search(head)
            or not (_TO_THE_READER_EN.search(head) or titled)
            or not _PEOPLE_EN.search(rest)
        ):
            break
        start = m.end()
    colon = re.match(r"([^:—–]{2,200}?)(?:\s*(?::|—|–)|\s+-)\s+", text[start:])
    if colon:
        title, rest = colon.group(1), text[start + colon.end() :]
        framing = _FRAMING_EN.search(title) or _TO_THE_READER_EN.search(title)
        only_framing = all(
            _FRAMING_EN.fullmatch(w) or _PEOPLE_EN.fullmatch(w) or w.lower() in _TITLE_WORDS
            for w in re.findall(r"[A-Za-z]+", title)
        )  # 'Eligible subjects:', 'Study population:': a heading, even with a people word
        if (_title_summarises(title, rest) and not re.search(r"\d", title)) or (
            framing
            and (only_framing or not _PEOPLE_EN.search(title))
            and not _NEGATIVE_EN.search(title)
            and not re.search(r"(?<![A-Za-z])\d", title)  # a year or a number may be a rule; 'HER2' is a word
            and (only_framing or _PEOPLE_EN.search(rest) or _title_restated(title, rest))
        ):
            start += colon.end()
    return start


_THANKS_EN = r"thanks?|thank\s+you|thx|thnx|tks|tia|cheers"
#: A closing sentence to the reader: 'Thank you very much for your assistance.', 'Happy to clarify.'
_SIGN_OFF_EN = regex(
    rf"\b(?:{_THANKS_EN}|appreciat\w*|grateful|happy\s+to|let\s+(?:me|us)\s+know|feel\s+free|regards|"
    r"in\s+advance)\b",
    re.IGNORECASE,
)
#: Thanks said last, in lower case or after a comma or a dash, which ``_SENTENCE_END`` does not split off.
_THANKS_AT_END_EN = regex(
    rf"(?:(?<=[.!?,;])|(?<=\s[-—–])|(?<=\s))\s*(?:many\s+)?(?:{_THANKS_EN})"
    r"(?:\s+(?:a\s+lot|so\s+much|very\s+much|in\s+advance|again|all|team))?\s*[.!]*\s*$",
    re.IGNORECASE,
)


def _sign_off(text: str) -> int:
    """Where closing sentences to the reader begin (len(text) when there are none): each names no people,
    negates nothing and says thanks or offers help."""
    short = _THANKS_AT_END_EN.search(text)  # '… within 3 days after the dx. thx!', '…, thanks'
    end = short.start() if short else len(text)
    starts = [m.end() for m in _SENTENCE_END.finditer(text[:end])]
    for s in reversed(starts):
        tail = text[s:end]
        if _PEOPLE_EN.search(tail) or _NEGATIVE_EN.search(tail) or not _SIGN_OFF_EN.search(tail):
            break
        end = s
    return end


#: What a Korean request is for, not who: '… 분석', '… 검토', '… 데이터 요청', '학습용', '… 현황'.
_FRAMING_KO = (
    r"(?:분석|검토|요청|필요|데이터(?:셋)?|학습(?:용)?|라벨(?:링)?|연구|모델(?:용)?|확인|신호|현황(?:\s*파악)?(?:용)?|구축|"
    r"과제|프로젝트|건|평가|모니터링|조사|감시|세트|(?:positive|negative|train(?:ing)?|test|validation)\s*set)"
)
_NEGATIVE_KO = regex(r"제외|없는|않은|없었|않았|아닌")
_HEAD_KO = regex(
    r"환자|대상자|사람|분들|사례|(?<![A-Za-z])pts?(?![A-Za-z])|(?<=[은는된한던])\s*자(?=를|로|는|가|\s|$)"
)
#: A clause that says what the list is for ('… 따로 관리하려구요', '… 보려고 합니다', '… QI 회의 자료에요'):
#: no number, no '만' (a purpose that limits the patients is a rule) and no bracket inside.
_PURPOSE_KO = (
    r"(?![^()]*만(?:\s|요|$))[^-—–.!?()\d]{1,80}?(?:(?:려고|려구|려는\s*거)\s*(?:요|합니다|해요|하는데요?|하는\s*거(?:에|예)요|"
    r"하고\s*있어요|했어요)?|QI\s*(?:회의\s*)?(?:자료)?\s*(?:입니다|이에요|에요|예요))"
)
_THANKS_KO = r"(?:감사합니다|감사해요|고맙습니다|부탁(?:드립니다|드려요|합니다|해요))"
_KO_FRAMES = [
    # a title before a colon: 'DAPT 환자 출혈 안전성 분석:', '유방 초음파 학습 데이터:'
    # '흉부 영상 연구용 코호트:', '… 분석을 위한 자료:'
    regex(
        rf"^\s*[^:]{{1,80}}?{_FRAMING_KO}(?:용|을\s*위한|를\s*위한)?"
        r"(?:\s*(?:코호트|자료|데이터(?:셋)?|명단|대상자?))?(?:\s*(?:요청|필요))?\s*:\s*"
    ),
    # an opening sentence about the request: '폐결절 검출 모델 학습 데이터셋 구축 건입니다.'
    regex(rf"^\s*[^.:]{{1,120}}?{_FRAMING_KO}\s*(?:입니다|이에요|예요)\.\s*"),
    # an opening request sentence: '연구 목적으로 자료를 요청드립니다.', '데이터 추출을 부탁드립니다.'
    regex(r"^\s*[^.:]{1,80}?(?:요청|부탁|문의)\s*(?:드립니다|드려요|합니다|해요|드림)\.\s*"),
    # a questionnaire's title in brackets, and the sentence that points to the items below it:
    # '[임상시험 실시기관 타당성 조사]', '… 아래 조건에 해당하는 환자 수를 알려주시기 바랍니다.'
    regex(r"^\s*\[[^\[\]]{1,60}\]\s*"),
    regex(
        r"^\s*(?:안녕하(?:십니까|세요)[.!]?\s*)?[^.:]{0,120}?아래\s*(?:의\s*)?(?:조건|기준|항목)[^.]{0,60}?"
        r"(?:바랍니다|주십시오|주세요|드립니다)\.\s*"
    ),
    # a closing purpose: '— 수술 예방적 항생제 사용 현황 파악용', '(처방 적절성 검토용)',
    # '… 연구에 쓰려고 합니다.'
    # (normalise() writes every dash as '-': a dash between spaces is the separator)
    regex(rf"\s+[-—–]\s+[^—–]{{1,80}}?{_FRAMING_KO}\s*(?:용\s*(?:입니다|이에요|예요))?\s*\.?\s*$"),
    # a request passed on by whoever queues it: '연구책임자는 … 환자 명단을 요청함.', '신청자 요청 내용: …',
    # '승인된 계획서 기준: …', '… 환자 확인 요청.', '… 환자 line list 요청합니다.', '요청 사항 중 …'
    regex(
        r"^\s*(?:연구\s*책임자|책임\s*연구자|연구자|신청자|요청자|의뢰자|연구팀|PI)\s*(?:는|은|가|께서는?)\s+"
    ),
    regex(
        r"^\s*(?:(?:신청자|연구자|요청자)\s*)?(?:요청\s*(?:내용|사항)|(?:승인된\s*)?(?:연구\s*)?계획서\s*(?:기준|상))"
        r"\s*[:：]\s*"
    ),
    regex(
        r"(?<=환자|사례|명단|목록)\s*(?:(?:명단|목록|리스트|line\s*list)\s*)?(?:을|를)?\s*(?:(?:추출|확인|제공)\s*)?"
        r"요청(?:함|합니다|드립니다|드림|바랍니다)?\s*(?=[.。]|$)"
    ),
    regex(r"(?:^|(?<=[.。]))\s*요청\s*사항\s*(?:중|에서|가운데)\s*"),
    regex(r"^\s*(?:승인된\s*)?(?:연구\s*)?계획서\s*(?:기준으로|에\s*따라|대로|상)\s*,?\s*"),
    # surveillance: '항생제 적정사용 모니터링 건 / 사례 정의: …', '사례 정의: …'
    regex(rf"^\s*[^/:：\n]{{1,60}}?{_FRAMING_KO}\s*(?:건)?\s*(?:/|\n)\s*"),
    regex(
        r"(?:^|(?<=\n)|(?<=/))\s*(?:[^:：/\n]{0,40}?\s)?(?:사례|환자|코호트|대상자?)\s*정의\s*[:：]?\s*(?:\n|/|$)?"
    ),
    # who is asking: '안녕하세요, 소화기내과 펠로우입니다.', '신장내과 전공의예요.'
    # '흉부외과 입니다~', '정형외과에요~', '안녕하세요 종양내과입니다.': the department asking
    regex(
        r"^\s*(?:안녕하(?:십니까|세요)[~.!,]*\s*)?[가-힣]{0,8}(?:내과|외과|의학과|소아과|산부인과|비뇨기과|이비인후과|"
        r"피부과|안과|신경과|병리과|약제부|간호부|간호팀|QI팀|[가-힣]{1,6}팀)\s*(?:입니다|이에요|에요|예요)[~.!]*\s*"
    ),
    regex(
        r"^\s*(?:안녕하(?:십니까|세요)[.!,]?\s*)?[^.!?]{0,30}?(?:펠로우|전공의|레지던트|교수|연구원|간호사|담당자|"
        r"인턴|직원|약사|팀장|과장|연구간호사)\s*(?:입니다|이에요|예요)[.!]?\s*"
    ),
    # what the list is needed for: '적정성평가 자료로 필요합니다.'
    regex(
        r"(?<=[.!?])\s*[^.!?]{1,40}?(?:자료로|용도로|용으로)\s*(?:필요합니다|필요해요|필요함|쓸\s*예정입니다|"
        r"사용할\s*예정입니다)\.?\s*$"
    ),
    regex(r"\s*\([^()]{1,40}?(?:용|목적|후보)\)\s*\.?\s*$"),
    # after the rules: ', hyperK 라벨용', '. end-of-life chemo 분석용'
    regex(rf"(?<=[,.])\s*[^,.!?()]{{1,60}}?{_FRAMING_KO}\s*용\s*\.?\s*$"),
    # a sentence saying what the list is for: '재발성 요로감염 코호트 구축용입니다.', '검사 누락 현황
    # 파악용이니 …'
    regex(
        rf"(?<=[.!?])\s*[^.!?]{{1,60}}?{_FRAMING_KO}\s*용\s*(?:입니다|이에요|예요|이니(?:까)?|이라서)\s*(?:[.!?]\s*$)?"
    ),
    regex(r"(?<=[.!?])\s*[^.!?]{1,80}?(?:에|로)\s*(?:쓰려고|사용하려고|활용하려고)\s*(?:합니다|해요)\.?\s*$"),
    # an opening purpose: '3분기 QI 회의 자료로 쓰려고 합니다.', '응급실 재방문 지표 보려고요.',
    # '사망률 지표용으로,', '낙상 고위험군 관리 차원에서요,', '저혈당 간호 QI 자료용입니다.'
    regex(
        r"^\s*[^.!?]{1,80}?(?:(?:에|로|으로)\s*(?:쓰려고|사용하려고|활용하려고)|보려고|확인하려고|파악하려고)\s*"
        r"(?:요|합니다|해요)\s*[.,]\s*"
    ),
    regex(
        r"^\s*[^.,!?]{1,60}?(?:용으로|차원에서요?|용입니다|용이에요|자료로|목적으로|(?:을|를)\s*위(?:하여|해서?))\s*[,.]\s*"
    ),
    # protocol wording: '본 연구의 대상자는 …', '… 를 (분석|포함) 대상으로 한다', '… 자로 정의한다'
    regex(r"^\s*(?:본|이번)\s*연구의\s*(?:대상자|대상|모집단)(?:는|은)\s*"),
    regex(
        r"(?:(?<=[은는된한던])\s자)?(?:을|를)?\s*(?:분석\s*|연구\s*|포함\s*)?(?:대상|기준)\s*(?:으로|자로)\s*"
        r"(?:한다|함|합니다)\.?\s*$"
    ),
    regex(r"(?<=[은는된한던])\s자로\s*정의(?:한다|함|합니다)\.?\s*$"),
    # '… 3건 이상인 환자로 정의하였다.': the definition's closing, after its head noun
    regex(r"(?:(?<=환자)|(?<=대상자))로\s*(?:정의|분류)\s*(?:하였다|했다|한다|함|합니다)\.?\s*$"),
    # a closing sentence that explains or asks again what the rules say: 'DAPT 중 출혈 본다고 생각하시면
    # 됩니다.', '재발 의심군 보려고 합니다.', '순서는 폐암 진단 → CT → 수술 기준으로 봐 주세요.',
    # '월별이 아니라 전체 명단으로요.'
    regex(
        r"(?<=[.!?])\s*[^.!?]{1,80}?(?:다고|라고|으로|로)\s*(?:생각|이해|보)하?시면\s*(?:됩니다|돼요|되겠습니다)\.?\s*$"
    ),
    regex(
        r"(?<=[.!?])\s*[^.!?]{1,60}?(?:보려고|확인하려고|파악하려고|찾으려고)\s*(?:합니다|해요|하는\s*거예요)\.?\s*$"
    ),
    regex(
        r"(?<=[.!?])\s*순서는\s*[^.!?]{1,80}?(?:기준으로|순서로|대로)\s*(?:봐|보아|잡아|해)\s*주세요\.?\s*$"
    ),
    # what the list is for, said last with any verb of purpose: '- 조절불량군으로 따로 f/u 보려구요',
    # '(재입원 많은 pt 들 따로 관리하려구요) 부탁드려요', '. 항응고 안 쓴 이유 차트리뷰 하려고 하는데요',
    # '— 조기폐암 수술군 정리하려고요 감사합니다!', 'QI 회의 자료에요' (no number and no '만': a purpose
    # that limits the patients, '2023년 것만 보려고요', stays a rule)
    regex(rf"(?:\s+[-—–]\s+|,\s*|(?<=[.!?])\s*){_PURPOSE_KO}\s*(?:{_THANKS_KO})?\s*[.!~ㅎ]*\s*$"),
    regex(rf"\s*\({_PURPOSE_KO}\s*\)\s*(?:{_THANKS_KO})?\s*[.!~]*\s*$"),
    regex(
        r"(?<=[.!?])\s*(?:월별|연도별|분기별|기간별|건별)(?:이|로)?\s*아니라\s*(?:전체\s*)?(?:명단|목록|환자)\s*(?:으로|로)?요?\.?\s*$"
    ),
]


def _skip_framing_ko(text: str) -> tuple[str, list[str]]:
    """A Korean request with what it is for blanked (same length: offsets stay), and the parts blanked.
    A part is blanked only when it negates nothing and the rest still names the people asked for."""
    skipped: list[str] = []
    for rx in _KO_FRAMES:
        m = rx.search(text)
        if m is None or not m.group(0).strip() or _NEGATIVE_KO.search(m.group(0)):
            continue
        rest = text[: m.start()] + text[m.end() :]
        if not _HEAD_KO.search(rest):
            continue
        skipped.append(m.group(0).strip())
        text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    return text, skipped


_EXCLUDE_ANY_KO = regex(
    r"다음\s*(?:중|가운데)\s*(?:하나|한\s*가지|어느\s*하나)\s*(?:라도|이라도)?\s*"
    r"(?:해당하면|해당되면|해당하는\s*(?:환자는|경우는?|자는))\s*제외(?:합니다|함|한다|하며)?\s*[:：.]?\s*"
)
_LIST_MARK_KO = regex(r"\(\s*(?:[가-하]|\d{1,2})\s*\)|(?:(?<=\s)|^)(?:[가-하]|\d{1,2})\)")


def _exclusion_list_ko(text: str) -> str:
    """'다음 중 하나라도 해당하면 제외: (가) A 병력, (나) B 병력, (다) 30일 이내 사망': each listed item is an
    exclusion of its own, written as the parser reads one ('A 병력 제외, B 병력 제외, …'). Only a list
    whose items are marked '(가)'/'(1)'/'1)'; anything else is left as written (and asked back)."""
    m = _EXCLUDE_ANY_KO.search(text)
    if m is None:
        return text
    rest = text[m.end() :]
    parts = _LIST_MARK_KO.split(rest)
    items = [p.strip(" ,.;·") for p in parts[1:] if p.strip(" ,.;·")]
    if len(parts) < 3 or parts[0].strip() or not items:
        return text
    return text[: m.start()] + ", ".join(f"{item} 제외" for item in items)


#: 'X, i.e. Y', 'X (i.e. Y)', 'X, that is, Y': Y said to restate X.
#: The words that open a restatement.
_IE_WORDS = (
    r"\b(?:i\.\s?e\.?|ie\.|that\s+is\s*,|namely|meaning(?=\s+(?:their|the|his|her|that)\b)|I\s+mean\b)"
)
_RESTATED_EN = regex(
    rf"\s*(?P<open>[,(]|\s[-–—](?=\s))?\s*{_IE_WORDS}\s*,?\s*(?P<body>[^;:()]*?)\s*"
    r"(?:\)|(?=[;:]|,\s|\.\s|\s[-–—]\s|\.?\s*$))",
    re.IGNORECASE,
)
#: Words a restatement may hold besides the ones it restates: they add no rule.
_RESTATEMENT_WORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "their",
        "his",
        "her",
        "patient's",
        "patients'",
        "patient",
        "on",
        "record",
        "in",
        "chart",
        "ever",
        "any",
        "one",
        "of",
        "diagnosis",
        "diagnoses",
        "dx",
        "diagnosed",
        "episode",
        "occurrence",
        "event",
        "code",
        "codes",
        "documented",
        "recorded",
        "with",
    }
)
_FIRST_WORDS = frozenset({"first", "first-ever", "newly", "new", "initial", "incident"})


_IE_MARK = regex(_IE_WORDS, re.IGNORECASE)
_DAY_NUMBERS = regex(r"[-−+]?\d+(?:\.{2,3}[-−+]?\d+)?")
_WINDOW_SAID = regex(
    r"\b(?:within|in\s+the|during\s+the)\s+(?:\d+|a|one|two|three)\s+(?:days?|weeks?|months?|years?)\b"
)


def _restatement_en(text: str) -> str:
    """'newly diagnosed atrial fibrillation (I48.x), i.e. first-ever afib dx, in 2022': a restatement that
    names only what was said before it (the same words, another name or code of the same lexicon entry,
    'first' where 'first'/'newly' was said) adds no rule and is blanked. Anything else in it ('i.e. at least
    one day earlier') stays, to be read or asked about: it may change the meaning."""

    def same(m: re.Match[str]) -> str:
        # a body that adds a rule is read without its marker ('i.e. no death 0–90 days after it'); one that
        # only names concepts ('an NSAID, i.e. diclofenac or celecoxib') stays as written and is asked about:
        # read on, the names would widen or narrow the mention before it
        names = [w for w in re.split(r"\s*(?:,|\bor\b|\band\b|/)\s*", m.group("body")) if w.strip()]
        only_names = bool(names) and all(lookup(w.strip()) for w in names)
        kept = (
            m.group(0) if only_names else _IE_MARK.sub(lambda k: " " * len(k.group(0)), m.group(0), count=1)
        )
        before = text[: m.start()].lower()
        said = set(re.findall(r"[\w'-]+", before))
        for word in re.findall(r"[\w'.-]+", m.group("body").lower()):
            word = word.strip(".")
            if word in _FIRST_WORDS:
                if not (
                    _FIRST_WORDS & said or re.search(r"first|initiat|new[\s-]+(?:users?|onset)|newly", before)
                ):
                    return kept
            elif word in _RESTATEMENT_WORDS or word in said:
                continue
            elif (
                word in ("from", "date", "day", "days", "d") or _DAY_NUMBERS.fullmatch(word)
            ) and _WINDOW_SAID.search(before):
                continue  # '(i.e. −30..0 from the gastrectomy date)': the window just said, in day numbers
            elif not any(
                any(n.lower() in before for n in e.en) or any(c.lower() in before for c in e.codes)
                for e in lookup(word)
            ):
                return kept
        # a bracket opened before the restatement closes with it; one opened earlier stays open
        keep = ")" if m.group(0).endswith(")") and m.group("open") != "(" else ""
        return " " * (len(m.group(0)) - len(keep)) + keep

    return _RESTATED_EN.sub(same, text)


_AGE_AT_EN = regex(
    r"(?P<age>\b\d{1,3}\s*(?:\+|or\s+(?:older|over|above|younger|under)|and\s+(?:older|over|up|above)))"
    r"(?P<at>\s+at\s+(?:the\s+time\s+of\s+)?(?:the|their|his|her)\s+(?P<x>[A-Za-z][\w-]*))\b",
    re.IGNORECASE,
)


def _age_at_first_named(text: str) -> str:
    """'Closed fracture of hip, 65 or older at the fracture, …': an age taken at the event the sentence
    opens with (the index, as every age is) says nothing more; an age at any other event is left to be
    read, and asked back."""

    def blank(m: re.Match[str]) -> str:
        head = re.split(r",|;|\b(?:with|who|and|whose|in\s+whom)\b", text[: m.start()], maxsplit=1)[0]
        x = m.group("x").lower()
        if len(x) >= 4 and re.search(rf"\b{re.escape(x)}", head.lower()):
            return m.group("age") + " " * len(m.group("at"))
        return m.group(0)

    return _AGE_AT_EN.sub(blank, text)


#: '(즉, 최초 진단)', '(즉, 최초 처방일 기준)': a restatement in brackets after 즉 ('that is').
_RESTATED_KO = regex(r"\(\s*즉\s*,?\s*(?P<body>[^()]*?)\s*\)")
#: Words such a restatement may hold besides what it restates.
_RESTATEMENT_WORDS_KO = (
    "기준",
    "판단",
    "정의",
    "의미",
    "말함",
    "뜻함",
    "해당",
    "경우",
    "날",
    "일",
    "건",
    "자",
    "환자",
)
_FIRST_KO = ("최초", "처음", "첫")


def _restatement_ko(text: str) -> str:
    """'대장암을 처음 진단받은 자 (즉, 최초 진단)': as :func:`_restatement_en`, a restatement naming only
    what the sentence said before it (its words, 'first' where 처음/최초/신규 was said, and framing words)
    is blanked (same length); anything else stays and is read or asked about."""

    def same(m: re.Match[str]) -> str:
        before = text[: m.start()]
        body = m.group("body")
        if re.search(r"\d", body):
            return m.group(0)
        for word in re.findall(r"[가-힣A-Za-z]+", body):
            if word.startswith(_FIRST_KO):
                if not re.search(r"처음|최초|첫|신규", before):
                    return m.group(0)
                word = word.lstrip("최초처음첫") or "일"
            stem = re.sub(r"(?:으로|로|을|를|이|가|은|는|의|에|함|임|하여|해서)$", "", word)
            if not (stem in before or stem.startswith(_RESTATEMENT_WORDS_KO) or stem.endswith("일")):
                return m.group(0)
        return " " * len(m.group(0))

    return _RESTATED_KO.sub(same, text)


#: '… 환자를 출혈 고위험군으로 정의하였다', '… 비사용자를 대조군으로 하였다', '… 환자를 분석 대상으로
#: 하였다': the study's own name for the group the sentence has just described.
_GROUP_NAMED_KO = regex(
    r"(?<=[을를])\s+(?P<label>(?:[가-힣A-Za-z0-9]+\s+){0,3}?[가-힣A-Za-z0-9]*(?:군|그룹|코호트|집단|대상자?))"
    r"\s*(?:으로|로)\s*(?:정의|분류|선정|명명|간주|지정|설정)?\s*"
    r"(?=(?:하였다|했다|하였으며|하였고|하며|하고|한다|함|하였음|했음|했고|하였는데|되었다)(?![가-힣]))"
)


#: '보조항암화학요법 시행군은 … 환자로 정의하였다': the group's name said first, its definition after it.
_GROUP_NAMED_FIRST_KO = regex(
    r"(?:(?<=^)|(?<=[.,]\s)|(?<=중\s))(?P<label>(?:[가-힣A-Za-z0-9]+\s+){0,3}[가-힣A-Za-z0-9]{0,15}(?:군|그룹|집단))"
    r"(?:은|는)\s"
    r"(?=[^.]*?(?:환자|자|대상자)로\s*(?:정의|분류)\s*(?:하였다|했다|한다|함|합니다))"
)


def _group_named_ko(text: str) -> str:
    """A methods section names the group it defines ('… 환자를 목표 도달군으로 정의하였다. 목표 도달군 환자
    리스트 부탁드려요'): the name is the cohort itself, so the definition reads as '… 환자를 대상으로
    하였다' and the name said again later goes. A name that leaves people out ('제외 대상으로') is kept."""
    text = _GROUP_NAMED_FIRST_KO.sub(lambda m: " " * len(m.group(0)), text)
    at = 0
    while (m := _GROUP_NAMED_KO.search(text, at)) is not None:
        label = m.group("label")
        at = m.end()
        if "제외" in label:
            continue
        rest = text[m.end() :]
        for said in dict.fromkeys((label, label.split()[-1])):
            if len(said) >= 2 and said not in ("대상", "대상자"):
                rest = re.sub(
                    rf"{re.escape(said)}(?:\s*(?:환자|대상자))?(?:의|을|를|은|는)?",
                    lambda k: " " * len(k.group(0)),
                    rest,
                )
        text = text[: m.start()] + " 대상으로 ".ljust(m.end() - m.start()) + rest
    return text


def _day_offsets_en(m: re.Match[str]) -> str:
    """'days -365 to -1 relative to index' → the window the grammar reads ('between 365 and 1 days before
    the index date'); offsets on both sides of the index → 'within N days of' only when symmetric."""
    a, b = (int(re.sub(r"[−–\s]", lambda x: "-" if x.group(0) in "−–" else "", g)) for g in (m["a"], m["b"]))
    a, b = min(a, b), max(a, b)
    if b <= 0:
        if b == 0:
            return f"within {-a} days before the index date"
        return f"between {-b} and {-a} days before the index date"
    if a >= 0:
        return (
            f"within {b} days after the index date"
            if a == 0
            else f"between {a} and {b} days after the index date"
        )
    if -a == b:
        return f"within {b} days of the index date"
    return m.group(0)


def _body_part_restated_ko(text: str) -> str:
    """'두부(Head) CT', '흉부(chest) X-ray': the English name of the body part just named, in brackets,
    says it again (blanked, same length, so that the part and the modality meet)."""

    def part_of(word: str, table: list[tuple[str, list[str]]]) -> tuple[str, ...]:
        return next((tuple(codes) for rx, codes in table if re.fullmatch(rx, word, re.IGNORECASE)), ())

    def blank(m: re.Match[str]) -> str:
        said = part_of(m.group(1), KO_BODY_PARTS)
        return (
            " " * len(m.group(2))
            if said and said == part_of(m.group(3).strip(), EN_BODY_PARTS)
            else m.group(2)
        )

    return re.sub(r"([가-힣]+)(\(\s*([A-Za-z][A-Za-z \-]*)\))", lambda m: m.group(1) + blank(m), text)


#: What a closing fragment says the list is for: 'stroke prevention audit', 'for the onc dept annual report',
#: 'trying to see how many actually got adjuvant tx', 'DAPT bleeders basically', 'guideline gap'.
_PURPOSE_EN = regex(
    r"\b(?:audit|project|report|review|study|QI|M&M|dashboard|registry|basically|stuff|gap|"
    r"trying\s+to|wants?\s+to|want(?:ed)?\s+to\s+(?:see|check|look|know)|thinking\s+(?:about|of)|worried\s+about|"
    r"curious|for\s+(?:our|the|my|a)\b)",
    re.IGNORECASE,
)
#: Words that would make a closing fragment a rule: people, ages, sexes, settings, negation.
_RULE_WORDS_EN = regex(
    r"\b(?:no|not|never|without|exclud\w*|except|only|elderly|older|young|women|men|males?|females?|kids|children|"
    r"pediatric|paediatric|adults?|inpatients?|outpatients?|ER|ED|first|new|newly|last|recent\w*)\b",
    re.IGNORECASE,
)


#: Where a closing fragment may start: after a sentence's end or a dash between spaces.
_FRAGMENT_START_EN = regex(r"(?:[.!?]\s+|\s[-—–]\s+)(?=\S)")


def _purpose_tail(text: str) -> int:
    """Where a closing fragment that only says what the list is for begins ('… the dx - ENT referral audit.',
    '… within 30 days. guideline gap.'), len(text) when there is none. The fragment holds no number, no
    word of a rule (``_RULE_WORDS_EN``) and no clinical name the rules before it do not already say."""
    body = text.rstrip()
    cut = max((m.end() for m in _FRAGMENT_START_EN.finditer(body)), default=0)
    tail, head = body[cut:], body[:cut]
    if not cut or not _PURPOSE_EN.search(tail) or re.search(r"\d", tail) or _RULE_WORDS_EN.search(tail):
        return len(text)
    said = head.lower()
    if any(tail[a:b].lower() not in said for a, b, _ in find_terms_en(tail)):
        return len(text)
    return cut


def _skip_lead_in(text: str) -> tuple[str, str]:
    """The sentence with its lead-in blanked (same length: offsets stay), and the lead-in as written."""
    tail = _sign_off(text)
    if tail < len(text):
        text = text[:tail] + " " * (len(text) - tail)
    tail = _purpose_tail(text)
    if tail < len(text):
        text = text[:tail] + " " * (len(text) - tail)
    start = _framing(text)
    m = _LEAD_IN.match(text[start:])
    end = start + (m.end() if m is not None else 0)
    if end == 0 or not text[end:].strip():
        return text, ""
    return " " * end + text[end:], text[:end].strip()


_FREQUENT_USERS_EN = regex(
    r"^\s*(?:frequent|high|heavy|repeat|super)[\s-]+(?:ED|ER|A&E|emergency(?:\s+(?:department|room))?|hospital|"
    r"inpatient|admission)\s+(?:users|utili[sz]ers|visitors|attenders|flyers)\s*(?:[:—–]|\s-)\s*",
    re.IGNORECASE,
)


def _frequent_users_title(text: str) -> str:
    """'Frequent ED users: patients with at least 3 ED visits in 2023': a title that names what the count
    after it spells out ('frequent' had been asked about as a vague word); kept when no count follows."""
    m = _FREQUENT_USERS_EN.match(text)
    if m is None or not re.search(_AT_LEAST_TWICE_EN, text[m.end() :], re.IGNORECASE):
        return text
    return " " * m.end() + text[m.end() :]


#: The operation that takes an organ out, in lay words ('had their appendix out'); keys without spaces, so
#: 'gall bladder' written over a line break finds its entry too.
_ORGAN_REMOVED = {
    "appendix": "an appendectomy",
    "gallbladder": "a cholecystectomy",
    "stomach": "a gastrectomy",
    "colon": "a colectomy",
    "breast": "a mastectomy",
}


def _drug_form(m: re.Match[str]) -> str:
    """'an albuterol inhaler', 'albuterol 흡입기', 'ibuprofen tablets': a drug's dosage form after the drug's
    name is that drug (any product of it, as the drug's name alone reads); after any other word it stays."""
    if any(e.domain.value == "drug" for e in lookup(m["d"])):
        return m["d"] + " " * (len(m.group(0)) - len(m["d"]))
    return m.group(0)


def _one_noun_two_kinds(m: re.Match[str]) -> str:
    """'hip/knee replacement': one noun after two words that each make a lexicon name with it, as 'hip
    replacement or knee replacement'; anything else stays as written."""
    a, b, words = m["a"], m["b"], m["n"].split()
    for k in (2, 1)[2 - len(words) :]:
        noun, rest = " ".join(words[:k]), m["n"].split(None, k)[k:] if k < len(words) else []
        if not lookup(f"{a}/{b} {noun}") and lookup(f"{a} {noun}") and lookup(f"{b} {noun}"):
            return " ".join([f"{a} {noun} or {b} {noun}", *rest])
    return m.group(0)


#: A blanked span keeps its length: offsets keep pointing into the sentence as written.
BLANK = object()
#: One step of a rewrite: (pattern, replacement: a string, a function of the match, or BLANK), or a
#: function of the whole text.

_WINDOW_SAID_EN = regex(
    r"\b(?:with)?in\s+(?:the\s+)?(?P<n>\d+)\s+(?P<unit>days?|weeks?|months?)\s+(?:before|after|prior\s+to|following)"
    r"\s+(?:the|that|their|this|an?)\s+[A-Za-z][\w-]*",
    re.IGNORECASE,
)
_SAME_WINDOW_EN = regex(
    r"\b(?:in|during|within|over)\s+(?:those|these|the)\s+same\s+(?P<n>\d+)\s+(?P<unit>days?|weeks?|months?)"
    r"(?:\s+window)?\b",
    re.IGNORECASE,
)


_BARE_DAY_OF = regex(rf"(?P<before>\S+)\s+day\s+of\s+(?=(?:the\s+)?(?:{_DAY_OF_EVENTS})\b)", re.IGNORECASE)
#: Words before 'day of X' that make it part of another phrase ('within 1 day of', 'on the day of').
_DAY_OF_TAKEN = frozenset(
    {"the", "on", "a", "one", "1", "same", "each", "every", "first", "next", "that", "any", "by"}
)


def _bare_day_of(text: str) -> str:
    """'cefazolin day of surgery', 'CXR day of admission': on that day (chart shorthand drops 'on the')."""

    def repl(m: re.Match[str]) -> str:
        if m["before"].lower() in _DAY_OF_TAKEN or m["before"][-1:].isdigit():
            return m.group(0)
        return f"{m['before']} on the day of "

    return _BARE_DAY_OF.sub(repl, text)


def _same_window_again(text: str) -> str:
    """'losartan within the 90 days before the result … anyone who received furosemide in those same 90
    days': the window said before, said again in full (its anchor included)."""

    def again(m: re.Match[str]) -> str:
        said = [
            w
            for w in _WINDOW_SAID_EN.finditer(text, 0, m.start())
            if w.group("n") == m.group("n") and w.group("unit").rstrip("s") == m.group("unit").rstrip("s")
        ]
        return said[-1].group(0) if said else m.group(0)

    return _SAME_WINDOW_EN.sub(again, text)


RewriteStep: TypeAlias = tuple[re.Pattern[str], object] | Callable[[str], str]


def _blank(m: re.Match[str]) -> str:
    return " " * len(m.group(0))


def _rewrite(text: str, steps: Sequence[RewriteStep]) -> str:
    for step in steps:
        if callable(step):
            text = step(text)
            continue
        rx, repl = step
        text = rx.sub(_blank if repl is BLANK else repl, text)  # type: ignore[call-overload]
    return text


_I = re.IGNORECASE
#: '2021. 1. 1. ~ 2021. 12. 31.': the date of Korean official documents, spaced after each dot
_DOCUMENT_DATE_KO = regex(r"(?<![\d.])(\d{4})\.\s+(\d{1,2})\.\s+(\d{1,2})\.(?!\d)")
#: '위절제술(부분 위절제술 및 위전절제술 포함)': the kinds a name includes, listed with 및/와: alternatives
_INCLUDED_KINDS_KO = regex(r"\(([^()]*?)(?:\s*(?:등|모두))?\s*포함\s*\)")
#: 'A 및 B 중 어느 것도 처방되지 않은': neither, that is no A or B
_NEITHER_KO = regex(r"(\S+)\s*(?:및|과|와|,)\s*(\S+)\s*중\s*어느\s*(?:것|하나|약|쪽)?\s*도")
#: A numbered or lettered item of a Korean list, between spaces: '1)', '2)', '가.', '나)'.
_ITEM_MARK_KO = regex(r"(?:(?<=\s)|^)(?:\d{1,2}\)|[가-하][.)])(?=\s)")
_SIDES_KO = regex(
    r"(우측|좌측|오른쪽|왼쪽)\s*(?:또는|이나|나|/|,|및|과|와)\s*(우측|좌측|오른쪽|왼쪽)\s+([가-힣A-Za-z]+)"
)
#: English wording read as the words the grammar knows, in order (each step sees the last one's text).
#: Korean words blanked before recognition (same length: offsets stay, as Kiwi's readings point there),
#: in order: each says nothing a rule needs, or says again what the rest already says.
#: OMOP tables named beside an event ('(drug_exposure)', 'measurement domain'): the event's kind says it.
_OMOP_TABLES = (
    r"(?<![A-Za-z_])(?:(?:condition|procedure|visit|image)_occurrence|(?:drug|device)_exposure|observation_period|"
    r"(?:condition|drug)_era|(?:measurement|condition|drug|procedure|observation)\s+domain)(?![A-Za-z_])"
)

_ER_SETTING_KO = regex(
    r"(?<![가-힣])응급실\s*(?:로|으로|에|을\s*통해)\s*(?:내원|방문)(?:한|했던|하신)\s+"
    r"(?P<what>[가-힣A-Za-z][가-힣A-Za-z\-]*(?:\s+[가-힣A-Za-z][가-힣A-Za-z\-]*){0,2}?)\s*(?P<who>환자|분|사람)"
)


def _er_setting_ko(m: re.Match[str]) -> str:
    what = m["what"]
    last = what[-1]
    # '으로' after a final consonant other than ㄹ ('폐렴으로'), '로' otherwise ('뇌경색으로' has ㄱ: 으로)
    batchim = "가" <= last <= "힣" and (ord(last) - 0xAC00) % 28 not in (0, 8)
    said = f"{what}{'으로' if batchim else '로'} 응급실내원한 {m['who']}"  # no longer than what it replaces
    return said.ljust(len(m.group(0)))


_BLANKED_KO = [
    # '(투약 중단 의심)', '- 약물 이상반응 의심 건으로 확인 부탁드립니다': what the request is checking for
    regex(r"\(\s*[^()]{1,30}?\s*의심\s*(?:건|사례|환자)?\s*\)"),
    regex(r"\s[-–—]\s+[^-–—()]{1,40}?의심(?:\s*(?:건|사례))?[^-–—()]{0,30}$"),
    # '티카그렐러 loading 들어간': the loading dose is a dose of the drug named before it
    regex(r"(?<=[가-힣A-Za-z])\s+(?:loading(?:\s+dose)?|로딩)(?=\s|$)", re.IGNORECASE),
    # 'Eunomia에서', 'Eunomia DB 기준으로', 'OMOP CDM 데이터에서', 'Eunomia / …': the mart the request goes
    # to (see _MART_EN)
    regex(
        r"(?<![A-Za-z])(?:Eunomia|OMOP\s*CDM|OMOP|CDM)\s*(?:DB|db|데이터\s*(?:베이스|셋)?|마트|DB\s*상)?\s*"
        r"(?:(?:에서는|에서|상에서|기준으로|기준|의|내)(?=\s|$)|\s*[/:|—-](?=\s)|(?=\s*\.))",
        re.IGNORECASE,
    ),
    # '… 중 하나 이상을 처방받은', '… 중 하나라도': any one of the listed is what an 'or' list already means
    regex(
        r"(?<!다음)(?<!다음 )\s*중\s*(?:하나|한\s*가지|한\s*개|1개)\s*(?:이상|라도|이라도)?"
        r"(?=\s|을|를|이|가|$)"
    ),
    # '유방암 진단 받고, 그 다음 진단일부터 120일 안에': 'then', which the anchor named next says
    regex(r"(?<![가-힣])그\s*다음(?:에)?(?=\s+[가-힣]*일\s*(?:부터|로부터|기준))"),
    # '시술 날짜는 2020년 이전으로만': the event's date, which its dates say
    regex(r"(?<=시술|수술|진단|입원|처방|검사|촬영|투여)\s*날짜"),
    # '석 달(90일)': a duration restated in brackets
    regex(r"(?<=[달주일년월])\s*\(\s*\d+\s*(?:일|주|개월|달|년)\s*\)"),
    # '흉부 CT f/u 찍은': a follow-up study is the study
    regex(r"(?<![A-Za-z])f/u(?![A-Za-z])", re.IGNORECASE),
    # '피 묽게 하는 약 중에 와파린은': the lay class said before the drug named (alone it is asked back)
    regex(r"(?<![가-힣])피\s*(?:를)?\s*묽게\s*하는\s*약\s*(?:중에서|중에|중)(?=\s+[가-힣A-Za-z])"),
    # '[Feasibility 설문] Q1. …': a questionnaire's item number
    regex(r"(?:(?<=\s)|^)Q\d{1,2}[.)](?=\s)"),
    # '…, 이것도 가능할까요?': 'is this possible too', a polite request
    regex(r"(?<![가-힣])(?:이것|이거|이런\s*것|이런\s*거)(?:도|은|는)?(?=\s*가능)"),
    # '흉부 CT를 누적 5회 이상': 'in total', which a count of events already is
    regex(r"(?<![가-힣])누적(?=\s*\d)"),
    # '기간 제한 없이 전체 기준입니다', '외래/입원 구분 없이요': no period, no visit type, as no rule says
    regex(
        r"(?<![가-힣])(?:기간\s*(?:제한|구분)|외래\s*/?\s*입원\s*구분|입원\s*/?\s*외래\s*구분)\s*(?:없이|없음|무관)"
        r"(?:\s*전체\s*기준)?(?:입니다|이에요|예요|요)?(?=[\s.,)]|$)"
    ),
    # '처방 기록이 하나도 없는': not one, which the negation already says
    regex(r"(?<![가-힣])하나도(?=\s*(?:없|안\s))"),
    # '귀 기관에서 … 환자 수': 'at your institution' (a feasibility questionnaire), the mart itself
    regex(r"(?<![가-힣])귀\s*기관(?:에서는|에서|의|에는|에)?(?=\s|$)"),
    # '… 환자만 따로 뽑아볼 수 있을까요': 'separately', which a cohort of its own already is
    regex(r"(?<![가-힣])따로(?=\s|$)"),
    # '건수 말고 실인원 기준', '(건수가 아닌 실인원으로)': persons, not events, which a cohort counts anyway
    regex(
        r"(?<![가-힣])(?:건수\s*(?:말고|가\s*아닌|아니고|아닌)\s*)?실인원\s*(?:기준(?:으로)?|으로)?(?=[\s).,]|$)"
    ),
    # '18세 미만은 연구 대상에서 제외하였다': left out of the study population, which is this cohort
    regex(r"(?<![가-힣])(?:연구|분석)\s*(?:대상(?:자)?|모집단|코호트)\s*(?:군)?\s*에서(?=\s*제외)"),
    # '진단 시 50~69세', '진단 시점 기준으로 70세 이상': the age at that event, as '진단 당시'
    regex(
        r"(?<=진단|수술|시술|처방|입원|검사|촬영|내원)(\s*)(?:시점|시|당시(?=\s*(?:나이|연령)))(?:\s*(?:기준(?:으로)?|에))?"
        r"(?=\s*(?:(?:나이|연령|age|Age)\s*(?:가|이|는|은)?\s*)?\d+\s*(?:~|-|세|살|대))"
    ),
    # '당뇨병을 진단받을 때 65세 이상', 'naproxen 처음 먹었을 때 60세 이상': the age at that event (asked back
    # when it is not the index event, parser._age_at_other_event)
    regex(
        r"(?<=[을할던은])\s*때(?:에|의)?(?=\s*(?:(?:나이|연령)\s*(?:가|이|는|은)?\s*)?(?:만\s*)?\d+\s*(?:~|-|세|살|대))"
    ),
    # '진단 시 age 50~69세': the English word before a Korean age
    regex(r"(?<![A-Za-z])(?:age|Age|AGE)(?=\s*\d+\s*(?:~|-|세|살))"),
    # '2023년 3분기(7~9월)': the quarter's months said again
    regex(r"(?<=분기|반기)\s*\(\s*\d{1,2}\s*(?:월)?\s*[~\-–]\s*\d{1,2}\s*월\s*\)"),
    # '남녀 모두 포함입니다': both sexes, which no sex filter already means
    regex(r"남녀\s*(?:모두|구분\s*없이|상관\s*없이)\s*(?:포함(?:입니다|합니다|해\s*주세요)?)?"),
    # '전체 관찰 기간 동안': any time the mart holds, which is what no date says anyway
    regex(r"(?:전체|모든)\s*(?:관찰|추적|자료|데이터)?\s*기간\s*(?:동안|중|에)?(?:에)?"),
    # '2022년 1월 1일부터 12월 31일까지의 기간 동안': the period is the dates just given
    regex(r"(?<=까지)\s*의?\s*기간\s*(?:동안|중에?|내에?|에)?"),
    # '2000.1.1~2019.12.31 기간 중', '2021년 상반기 기간에': the period is the dates just given
    regex(
        r"(?:(?<=\d)|(?<=\d\.)|(?<=일)|(?<=월)|(?<=년)|(?<=분기)|(?<=반기))\s*(?:의\s*)?기간\s*(?:동안|중에?|내에?|에)?(?=\s)"
    ),
    # '(sinusitis, 하위 개념 포함)', '… 등 하위 진단도 포함합니다.', '1회 이하(0회 포함)': sub-concepts
    # are always taken and 'at most' always counts zero: said again, no rule
    regex(
        r",?\s*(?:[가-힣A-Za-z ]{0,20}\s*등\s*)?"
        r"(?:하위(?:\s*(?:개념|진단|코드|질환|분류|상병|제품))?|descendants?)\s*"
        r"(?:도|을|를|은|는)?\s*(?:다\s*|전부\s*)?"
        r"(?:모두\s*)?포함(?:합니다|함|하여|해서|해\s*주세요|됩니다)?\.?(?=\s*(?:\)|$|[가-힣A-Za-z]))"
    ),
    regex(r"\(\s*0\s*회\s*(?:도\s*)?포함\s*\)"),
    # '위 절제 수술(43.5~43.9) 청구가 한 번도 없는': a claim for it is the procedure itself
    regex(r"(?<=[\s)])청구\s*(?:이력|건|내역|기록)?\s*(?:이|가|을|를|은|는)?(?=\s)"),
    # '이 순서 만족하는 환자', '세 단계 다 만족하는', '이 흐름 맞는 환자': the rules said before, all required
    regex(
        r"(?:이|위|그|세|네|두|모든|전체)\s*(?:순서|단계|흐름|조건)(?:를|을|에|가|이)?\s*(?:다|모두|전부)?\s*"
        r"(?:만족하는|충족하는|맞는|해당하는|만족한|충족한)(?=\s*(?:환자|사람|대상|코호트|명단))"
    ),
    # '… 0회로 걸어주세요', '… 조건으로 걸어 주세요': a request to set the rule just said
    regex(r"(?<=[회번건])\s*(?:으로|로)\s*걸어\s*주세요"),
    regex(r"\s*걸어\s*주세요(?=\s*\.?\s*$)"),
    # '중이염이 인덱스 포함 3회 이상': the index event counts among its own events (README: windows hold it)
    regex(r"인덱스(?:\s*(?:일|사건|이벤트))?\s*(?:도\s*)?포함(?=\s*\d+\s*(?:회|번|건))"),
    # 'statin drug_exposure 0회', '허혈성 심질환 condition_occurrence': the OMOP table its kind of event is in
    regex(_OMOP_TABLES, re.IGNORECASE),
    # '단, 진단 당시 연령 80세 이상인 환자에 한합니다': 'limited to', which the rule before says
    regex(
        r"(?<=[인한된])\s*(?:환자|대상자|자|경우|분)\s*(?:에|으로|로)\s*한(?:합니다|함|한다|정합니다|정함|정)\.?"
    ),
    # '(응급실 거쳐 입원한 것도 포함)': stays an ER-visit or admission word already counts (visit 262)
    regex(
        r"\(\s*응급실\s*(?:을\s*)?(?:거쳐|경유(?:해|하여)?|통해)\s*(?:온\s*)?입원(?:한)?\s*(?:것|경우|환자)?\s*(?:도|까지)?\s*"
        r"포함(?:합니다|함|해서|해\s*주세요)?\s*\)"
    ),
    # '2020년 3월 한달동안': the month just named, said again as its length
    regex(r"(?<=월)\s*(?:한\s*달|1\s*개월)\s*(?:동안|간|내내)?(?=\s)"),
    # '2020년 이전(2020년 포함)': the year named is in, as every Korean 이전/이후 already reads it
    regex(r"(?<=이전|이후|까지|부터)\s*\(\s*\d{4}\s*년?\s*(?:도\s*)?포함\s*\)"),
]

#: Filters written as keys and values or loose SQL, as API users write them ('sex: F; age >= 65',
#: "WHERE dx LIKE 'I48%' AND age BETWEEN 70 AND 85"), in the words the grammar reads.
_KEY_VALUES_EN: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (
        regex(r"^\s*SELECT\s+(?:person_ids?|pts|patients|persons|\*)\s+(?:FROM\s+\w+\s+)?WHERE\s+", re.I),
        "patients with ",
    ),
    (regex(r"\bWHERE\b"), "with"),
    (regex(r"(?<=\S)\s+AND\s+(?=\S)"), " and "),
    (regex(r"\bsex\s*(?:[:=]|is)\s*'?(?:F|female|W|women)'?(?![\w'])", re.I), "female"),
    (regex(r"\bsex\s*(?:[:=]|is)\s*'?(?:M|male|men)'?(?![\w'])", re.I), "male"),
    (
        regex(
            r"\bage\s*(?:[:=]|BETWEEN)?\s*(\d{1,3})\s*(?:-|–|to|and)\s*(\d{1,3})\b(?!\s*(?:days?|d\b))", re.I
        ),
        r"aged \1 to \2",
    ),
    (regex(r"\bage\s*(?:>=|≥|=>)\s*(\d{1,3})\b", re.I), r"aged \1 or older"),
    (regex(r"\bage\s*(?:<=|≤|=<)\s*(\d{1,3})\b", re.I), r"aged \1 or younger"),
    (regex(r"\bage\s*>\s*(\d{1,3})\b", re.I), r"older than \1"),
    (regex(r"\bage\s*<\s*(\d{1,3})\b", re.I), r"younger than \1"),
    (
        regex(r"\b(?:dx|diagnosis|condition)\s*(?:[:=]|LIKE\b)\s*'?([A-Z]\d{2}(?:\.\d+)?)%?'?", re.I),
        r"diagnosed with \1",
    ),
    (regex(r"\b(?:dx|diagnosis|condition)\s*(?:[:=]|LIKE\b)\s*", re.I), "diagnosed with "),
    # "dx_date >= '2022-01-01'": the diagnosis's dates
    (
        regex(
            r"\b(?:dx_date|dx\s+date|diagnosis_date|index_date)\s*(>=|>|<=|<|=)\s*'?(\d{4}-\d{2}-\d{2})'?",
            re.I,
        ),
        lambda m: {">=": "from", ">": "after", "<=": "until", "<": "before", "=": "on"}[m[1]] + f" {m[2]}",
    ),
    # 'modality: MR; body part: head', 'modality XA, body part HEART': the study, as 'head MR'
    (
        regex(
            r"\bmodality\s*[:=]?\s*([A-Za-z]{2})\s*[,;]?\s*(?:and\s+)?body\s*part\s*[:=]?\s*([A-Za-z]+)", re.I
        ),
        lambda m: f"{m[2].lower()} {m[1].upper()}",
    ),
]


def _key_values_en(text: str) -> str:
    if not re.search(r"[:=<>≥≤]|\bWHERE\b|\bLIKE\b|\bBETWEEN\b", text):
        return text
    for rx, repl in _KEY_VALUES_EN:
        text = rx.sub(repl, text)
    return text


#: The database a question names ('In Eunomia, …', 'in the OMOP database', 'Eunomia DB에서'): the mart is
#: the one the request is sent to, so the name is read past; never a concept ('Eunomia' as a drug name).
_MART_EN = regex(
    r"^\s*(?:Eunomia|OMOP\s+CDM|OMOP)\s*(?:database|db|mart|data(?:set)?)?\s*(?::|—|,|\s-)\s*"
    r"|\b(?:in|on|from|using|within)\s+(?:the\s+)?(?:Eunomia|OMOP\s+CDM|OMOP)"
    r"(?:\s+(?:database|db|mart|data(?:set)?))?\b,?"
    r"|\b(?:in|on|from|using)\s+the\s+(?:demo7?\s+)?(?:database|db|mart)\b,?",
    _I,
)

#: OHDSI ATLAS words inside sentences (its section labels are read by nlq.sections): the entry event is the
#: index event; what a rule 'found in rule 1' refers to is the event that rule named.
_ATLAS_EN: list[RewriteStep] = [
    # 'limited to index dates 2021-01-01 to 2023-12-31', 'restricted to index dates in 2023'
    (
        regex(r"\b(?:limited|restricted)\s+to\s+(?:index|entry)\s+dates?\s+(?=\d)", _I),
        "from ",
    ),
    (regex(r",?\s*\b(?:limited|restricted)\s+to\s+(?:index|entry)\s+dates?\b", _I), BLANK),
    # 'the biopsy found in rule 1', 'the arteriography matched in rule 1'
    (
        regex(
            r"\s*\b(?:found|matched|identified|named|qualifying)\s+(?:in|by)\s+(?:inclusion\s+)?rule\s+\d+\b",
            _I,
        ),
        BLANK,
    ),
    # 'HF dx (I50) as cohort entry, then …', 'Echocardiograms as qualifying events, keeping only those where'
    (
        regex(
            r"\s*\b(?:as|is)\s+(?:the\s+)?(?:(?:cohort\s+)?entry(?:\s+events?)?|(?:primary\s+)?qualifying\s+events?)\b"
            r"(?:,?\s+keeping\s+only\s+those\s+(?=where|who|with|that)(?:where\s+)?)?",
            _I,
        ),
        BLANK,
    ),
    # 'any time after entry', 'between 0 and 30 days after entry': the index event
    (
        regex(r"\b(?P<p>after|before|from|of|since|at|to|relative\s+to)\s+(?:cohort\s+)?entry\b", _I),
        r"\g<p> index",
    ),
    # '… . entry = the PSA result, nothing else', 'Entry is the bleed itself.': the index said again
    # (only a restatement: 'the bleed itself', 'the PSA result'; 'entry is the first PCI in 2020' is a rule)
    (
        regex(
            r"(?<=[.;,])\s*(?:the\s+)?(?:cohort\s+)?entry(?:\s+event)?\s*(?:=|is)\s*(?:the\s+)?[^.;,]{1,30}?"
            r"(?:\s+itself|\s+result)(?:,\s*nothing\s+else)?\s*(?=[.;]|$)",
            _I,
        ),
        BLANK,
    ),
    (regex(r"[,.;]?\s*\bthat'?s\s+it\s*[.!]?\s*$", _I), BLANK),
    # 'condition occurrence of type 2 diabetes', 'drug exposure of warfarin': OMOP's name of the event's kind
    (
        regex(
            r"\b(?:condition\s+occurrences?|drug\s+exposures?|procedure\s+occurrences?|visit\s+occurrences?)\s+of\s+"
            r"(?:an?\s+)?(?=[A-Za-z0-9])",
            _I,
        ),
        "",
    ),
    # 'at least 2 occurrences of X', 'no occurrences of MI', 'occurrence of a condition of heart failure'
    (
        regex(r"\b(?P<n>\d+)\s+occurrences?\s+of\s+(?:an?\s+)?(?:(?:condition|drug|procedure)\s+of\s+)?", _I),
        r"\g<n> ",
    ),
    (regex(r"\bno\s+occurrences?\s+of\s+(?:an?\s+)?(?:(?:condition|drug|procedure)\s+of\s+)?", _I), "no "),
    (regex(r"\ban?\s+occurrence\s+of\s+(?:an?\s+)?(?:(?:condition|drug|procedure)\s+of\s+)?", _I), "a "),
    # 'warfarin, earliest event per person': the first-ever event
    (
        regex(
            r",?\s*(?:limit(?:ed)?\s+(?:initial\s+|qualifying\s+|entry\s+)?events?\s+to\s+)?(?:the\s+)?earliest\s+"
            r"(?:event|occurrence)(?:\s+per\s+(?:person|patient))?(?:\s+only)?\b",
            _I,
        ),
        ", first-ever",
    ),
    # 'after a lisinopril or losartan order', 'a head CT order': the order is the event it names
    (
        regex(
            r"(?<=[A-Za-z0-9)])(?<!\bthat)(?<!\bthis)(?<!\bthe)(?<!\bsame)(?<!\bany)(?<!\bin)(?<!\bwrong)"
            r"(?<!\bchronological)(?<!\breverse)(?<!\bright)\s+orders?\b(?!\s+(?:of|to|by|for)\b)",
            _I,
        ),
        BLANK,
    ),
    # 'any I25.2 old MI code any time prior': a code's word after what it names
    (
        regex(
            r"(?<=[A-Z0-9)])\s+(?:[Cc]odes?)\b(?=\s*(?:[,.;)]|$|\s+(?:any|at|on|before|after|prior|within|"
            r"during|between|from|and|or)\b))"
        ),
        BLANK,
    ),
]

#: Day ranges as protocols write them, and phrases that say again what a rule already says.
_PHRASES_EN: list[RewriteStep] = [
    # 'IP or ER->IP': inpatient, ER-to-inpatient (an arrow elsewhere is 'then')
    (regex(r"\b(?P<er>ER|ED)\s*->\s*(?:IP|inpatient)\b", _I), r"\g<er>-to-inpatient"),
    (regex(r"(?<![A-Za-z-])IP(?![A-Za-z-])"), "inpatient"),
    # outcomes research: 'during the 365-day post-index follow-up (days 0–365)': the days the bracket
    # says (without them, whether day 0 counts is asked back); 'intake period calendar year 2021',
    # 'identification period 01/01/2020–12/31/2022': the dates the index event falls in
    (
        regex(
            r"\b(?:during|in|within|over)\s+the\s+(?P<n>\d+)[- ]?day\s+post[- ]index\s+"
            r"(?:follow[- ]?up|window|period)(?:\s+(?:period|window))?"
            r"\s*\(\s*(?:window\s+)?days?\s+(?P<a>\d+)\s*(?:-|–|to)\s*(?P=n)\s*\)",
            _I,
        ),
        r"between \g<a> and \g<n> days after index",
    ),
    (
        regex(
            r"(?:,\s*|\b)(?:intake|identification|selection|index|enrol?ment|accrual)\s+(?:period|window)\s*"
            r"(?:(?:is|=|:|of)\s*)?(?=(?:calendar\s+(?:year\s+)?)?\d|from\s+\d|between\s+\d)",
            _I,
        ),
        " in ",
    ),
    (regex(r"\bin\s+calendar\s+(?:year\s+)?(?=\d{4}\b)", _I), "in "),
    # '30-day readmits: pts admitted in 2024 who had another inpatient admission 1-30 days after …': a title
    # the rules after it spell out (another admission, and its days)
    (
        regex(
            r"^\s*(?:\d+|thirty)[- ]?day\s+(?:(?:all[- ]cause|unplanned)\s+)?(?:re-?admissions?|re-?admits?)"
            r"\s*(?::|—|–|\s-)\s*(?=.*\banother\b[^.;]*\b(?:admission|admitted|stay|hospitali[sz]ation)\b[^.;]*\d)",
            _I,
        ),
        BLANK,
    ),
    # 'whole dataset is fine, no date limit.', 'any dates': no dates, which no date says anyway
    (
        regex(
            r"[,;]?\s*\b(?:(?:the\s+)?whole\s+(?:dataset|database|data|record)(?:\s+is\s+fine)?|"
            r"no\s+date\s+(?:limits?|restrictions?|range|cut-?offs?)(?:\s+needed)?|any\s+dates?\s+(?:is|are)\s+fine|"
            r"all\s+years(?:\s+are\s+fine)?)\b\s*(?=[,.;)]|$)",
            _I,
        ),
        BLANK,
    ),
    # 'ER visits w/ a chest pain dx the same day': a diagnosis with an ER visit is that day's already
    (
        regex(
            r"(\b(?:ER|ED|A&E|emergency(?:\s+(?:department|room))?)\s+visits?\s+(?:w/|with)\s+(?:an?\s+)?"
            r"[^,.;()]{1,40}?\s+(?:diagnosis|dx))\s+(?:on\s+)?the\s+same\s+day\b(?!\s+as\b)",
            _I,
        ),
        r"\1",
    ),
    # 'who a) had a bone density scan …, and b) were put on alendronate …': a lettered list is a numbered one
    # (only when both 'a)' and 'b)' are there: a lone 'b)' is no list)
    (
        regex(r"(?:(?<=\s)|^)([a-h])\)(?=\s)"),
        lambda m: (
            f"{ord(m[1]) - 96})"
            if re.search(r"(?:^|\s)a\)\s", m.string) and re.search(r"\sb\)\s", m.string)
            else m[0]
        ),
    ),
    # 'Do we have anyone on clopidogrel who …?', 'Do you have any male patients under 50 …': the asking
    (
        regex(
            r"(?:^|(?<=[.?!]\s))\s*(?:do|did|does)\s+(?:we|you|the\s+(?:hospital|database|mart|data))\s+have\s+"
            r"(?=(?:any|anyone|anybody|someone|somebody|patients|pts|people|a\s+list)\b)",
            _I,
        ),
        BLANK,
    ),
    # 'Entry event is the first MI …', 'asthma (J45) entry, need …'
    (regex(r"^\s*(?:the\s+)?(?:cohort\s+)?entry(?:\s+event)?\s+(?:is|=)\s+", _I), ""),
    (regex(r"(?<=[\w)])\s+entry(?=\s*,)", _I), BLANK),
    # 'in our system', 'in our hospital': the mart
    (
        regex(
            r"\s+\b(?:in|at|from)\s+our\s+(?:system|hospital|health\s+system|database|records|data|ehr|emr)\b",
            _I,
        ),
        BLANK,
    ),
    # 'in days 0-365 after', 'from day 1 to day 365 after', 'between day 0 and day 30 after index'
    (
        regex(
            r"\b(?:in|on|from|during|between)\s+days?\s+(?P<a>\d+)\s*(?:-|–|to|through|and)\s*(?:day\s+)?(?P<b>\d+)"
            r"\s+(?P<dir>after|before|post|prior\s+to|following)\b",
            _I,
        ),
        r"between \g<a> and \g<b> days \g<dir>",
    ),
    # 'admitted same day or next day': by the next day
    (
        regex(
            r"\b(?:on\s+)?(?:the\s+)?same\s+day\s+or\s+(?:the\s+)?next\s+day\b|"
            # (in a bracket after a window, 'the following day' says that window again, and is read so)
            r"(?<!\()\b(?:on\s+)?(?:the\s+)?same\s+day\s+or\s+the\s+(?:following\s+day|day\s+after)\b",
            _I,
        ),
        "within 1 day after",
    ),
    # 'within 2 days before or after the stroke': either side of it, as 'within 2 days of'; 'within 3 days of
    # the diagnosis, either before or after' says that again
    (
        regex(
            r"\b(?P<w>within|in)\s+(?P<n>\d+)\s+(?P<u>days?|weeks?|months?)\s+(?:before\s+or\s+after|after\s+or\s+"
            r"before)\s+(?=(?:the|an?|their|that|this)\b)",
            _I,
        ),
        r"\g<w> \g<n> \g<u> of ",
    ),
    (
        regex(
            r"(?P<pre>\b(?:of|around)\s+)(?P<x>(?:the|an?|their|that)\s+[\w-]+(?:\s+[\w-]+)?)\s*,?\s*\(?\s*"
            r"(?:either\s+)?(?:before\s+or\s+after|after\s+or\s+before)\s*\)?(?=\s*[,.;]|\s*$)",
            _I,
        ),
        r"\g<pre>\g<x>",
    ),
    # 'index admissions that started in 2023, where …': the date is the admissions' ('that' had closed them,
    # and the date had gone to the next event)
    (
        regex(
            r"\b(?:that|which)\s+(?=(?:started|began|occurred|took\s+place|happened)\s+(?:in|during|between|from|"
            r"on|before|after|since)\b)",
            _I,
        ),
        BLANK,
    ),
    _frequent_users_title,
    # 'a Hgb < 8 the day of the transfusion or the day before': that day or the one before it
    (
        regex(
            r"\b(?:on\s+)?the\s+day\s+of\s+(?P<x>(?:the|that|their)\s+[\w-]+)\s+or\s+the\s+day\s+before\b|"
            r"\b(?:on\s+)?the\s+day\s+before\s+or\s+(?:on\s+)?the\s+day\s+of\s+(?P<y>(?:the|that|their)\s+[\w-]+)",
            _I,
        ),
        lambda m: f"within 1 day before {m['x'] or m['y']}",
    ),
    # 'amoxicillin (plain or with clavulanate)', '(alone or with clavulanate)', '(any amoxicillin product,
    # clavulanate combos included)': every product of the drug, which its name already reads
    (
        regex(
            r"\(\s*(?:(?:plain|alone|on\s+its\s+own|by\s+itself|single)\s+or\s+(?:with|plus|in\s+combination\s+with|"
            r"combined\s+with)\s+[\w/-]+(?:\s+[\w/-]+)?|any\s+[\w-]+\s+products?(?:\s*,\s*[\w/-]+\s+(?:combos?|"
            r"combinations?)\s+included)?)\s*\)",
            _I,
        ),
        BLANK,
    ),
    # 'had a stroke and did not survive': died
    (regex(r"\b(?:did\s+not|didn'?t|failed\s+to)\s+survive\b", _I), "died"),
    # lay words for an operation: 'had their appendix out', 'gallbladder removed', 'breast removed'
    (
        regex(
            r"\b(?:(?:their|the|his|her|an?)\s+)?(?P<organ>appendix|gall\s?bladder|stomach|colon|breast)\s+"
            r"(?:out|removed|taken\s+out)\b",
            _I,
        ),
        lambda m: _ORGAN_REMOVED[re.sub(r"\s", "", m["organ"].lower())],
    ),
    # 'on the day of diagnosis or up to 3 days after': from that day to the third after
    (
        regex(
            r"\bon\s+the\s+(?:same\s+)?day\s+of\s+(?P<x>(?:the\s+|their\s+)?[\w-]+)\s+or\s+(?:up\s+to|within)\s+"
            r"(?P<n>\d+)\s+days?\s+(?:after(?:wards)?|later)\b",
            _I,
        ),
        r"within \g<n> days after \g<x>",
    ),
    # 'at any point after the asthma diagnosis (not the same day)', 'in the following 365 days (same-day
    # excluded)': the days after, from the next one
    (
        regex(
            r"\b(?:(?:at\s+any\s+(?:point|time)\s+)?after\s+(?P<x>(?:the|that|their)\s+[\w-]+(?:\s+[\w-]+)?)|"
            r"(?:in|within|during)\s+the\s+(?:following|next|subsequent)\s+(?P<n>\d+)\s+days)\s*[,(]?\s*"
            r"(?:not\s+(?:on\s+|counting\s+)?the\s+same\s+day|same[- ]day\s+(?:excluded|not\s+counted)|"
            r"excluding\s+the\s+same\s+day)\s*\)?",
            _I,
        ),
        lambda m: f"at least 1 day after {m['x']}" if m["x"] else f"between 1 and {m['n']} days after",
    ),
    # 'CABGs between 1 March and 31 August 2023': the year said once, for both days
    (
        regex(
            rf"\b(?P<w1>between|from)\s+(?P<d1>\d{{1,2}})\s+(?P<m1>{MONTH_RE})\s+(?P<w2>and|to|through|until)\s+"
            rf"(?P<d2>\d{{1,2}})\s+(?P<m2>{MONTH_RE}),?\s+(?P<y>\d{{4}})\b",
            _I,
        ),
        r"\g<w1> \g<d1> \g<m1> \g<y> \g<w2> \g<d2> \g<m2> \g<y>",
    ),
    # 'post-thrombectomy deaths within 30 days': those within 30 days after the thrombectomy
    (
        regex(
            # ('post-MI readmissions within 30 days' stays asked about: which stay is the first?)
            r"\bpost[- ](?P<x>[A-Za-z][\w-]*)\s+(?P<what>deaths?|mortality|bleeds?|bleeding|infections?|"
            r"strokes?)\s+(?P<w>within\s+\d+\s+(?:days?|weeks?|months?))",
            _I,
        ),
        r"\g<what> \g<w> after \g<x>",
    ),
    # 'before age 40' = under 40; 'when dx'd' = at diagnosis
    (regex(r"\bbefore\s+(?:the\s+)?age\s+(?:of\s+)?(?=\d)", _I), "aged under "),
    (
        regex(r"\bwhen\s+(?:they\s+were\s+)?(?:dx'?d|diagnosed)\b(?!\s+(?:with|as|of|for)\b)", _I),
        "at diagnosis",
    ),
    # 'at least x2': twice
    # ('CABG x3' is a triple bypass: only a count said as one)
    (
        regex(
            r"\bat\s+least\s+x\s?(?P<n>[2-9])\b|\bx\s?(?P<m>[2-9])\b(?=\s+(?:during|in|within|over|or\s+more)\b)",
            _I,
        ),
        lambda m: f"at least {m['n'] or m['m']} times",
    ),
    # 'the very first', 'sometime after'
    (regex(r"\bvery\s+(?=first\b)", _I), ""),
    (regex(r"\bsometime\b", _I), "any time"),
    # 'the first MI a person ever has': the first-ever
    (regex(r"\s+(?:a|the)\s+(?:person|patient)\s+ever\s+(?:has|had)\b", _I), BLANK),
    # 'at least thirty days after the first one': after the index event
    (regex(r"\b(?P<p>after|before)\s+the\s+first\s+one\b", _I), r"\g<p> index"),
    # 'penicillin V (any product)', 'amoxicillin-containing exposures': products of the ingredient, as always
    (regex(r"\s*\(\s*(?:any|all)\s+(?:products?|formulations?|doses?|routes?|strengths?)\s*\)", _I), BLANK),
    # ('morphine-containing products', 'a fluticasone-containing inhaler': the drug, in any form)
    (
        regex(
            r"(?<=[A-Za-z])-containing(?:\s+(?:products?|inhalers?|tablets?|formulations?|medications?|"
            r"medicines?))?\b",
            _I,
        ),
        "",
    ),
    # 'incl. all the concussion codes underneath it (127295002 hierarchy)': sub-concepts, always taken
    (
        regex(
            r",?\s*\(?\b(?:incl\.?|including)\s+(?:all\s+)?(?:the\s+)?(?:[\w-]+\s+){0,3}codes?\s+"
            r"(?:underneath|below|under)\s+(?:it|them)\)?",
            _I,
        ),
        BLANK,
    ),
    (regex(r"\s*\(\s*(?:SNOMED\s+)?\d{6,18}\s+hierarchy\s*\)", _I), BLANK),
    # 'an I63 stroke got coded within 2 days': diagnosed
    (regex(r"\b(?:got|was|were|been)\s+coded\b", _I), "was diagnosed"),
    (regex(r"\badmit\s+date\b", _I), "admission date"),
    # 'only one stroke diagnosis on record like exactly one': the count said again
    (regex(r",?\s*\b(?:like|so|i\.?e\.?)\s+exactly\s+(?:one|\d+)\b", _I), BLANK),
    # 'kids under eighteen so pediatric': the age group said again; 'patients so they had' = who had
    (regex(r",?\s*\bso\s+(?:pediatric|paediatric|peds|kids|children|adults?|elderly|seniors)\b", _I), BLANK),
    (regex(r"\bso\s+(?=they\s+(?:had|got|were|have)\b)", _I), "who "),
    (regex(r"\bwho\s+they\s+(?=had|got|were|have)", _I), "who "),
    # requests and reasons around the rules: 'Please send the pt list.', '- we are looking at our …',
    # 'Staffing wants to review holiday volume.', 'Our COPD nurse wants a list of'
    (
        regex(
            r"[.?!]?\s*\b(?:please\s+)?send\s+(?:me\s+|us\s+)?(?:the\s+)?(?:pt\s+|patient\s+)?list\b\.?", _I
        ),
        BLANK,
    ),
    (regex(r"\s+[-–—]\s+we(?:'re|\s+are)\s+(?:looking|reviewing|studying|checking)\b[^.;]*$", _I), BLANK),
    (
        regex(r"(?<=[.?!])\s+[A-Z][\w\s]{0,30}\s+wants?\s+to\s+(?:review|see|know|check|look)\b[^.;]*\.?$"),
        BLANK,
    ),
    (
        regex(r"^\s*(?:our|the)\s+[\w\s]{0,30}?\s+wants?\s+(?:a\s+)?(?:list|count|cohort)\s+of\s+", _I),
        "",
    ),
    # English as a second language (batch 16): 'who take brain MRI', 'did not take any statin', 'took
    # cardiac CT' = had; 'after diagnose', 'COPD diagnose' = the diagnosis; 'in 2023 year' = in 2023;
    # 'under 60 age' = under age 60; 'age is 65 or more' = aged 65 or older
    (regex(r"\btake\b(?!\s+(?:into|a\s+look|place|care|note|part)\b)", _I), "have"),
    (regex(r"\btakes\b(?!\s+(?:into|a\s+look|place|care|note|part)\b)", _I), "has"),
    # ('took' is a drug's verb of its own, EN_EVENT_WORDS: 'took cardiac CT' is a scan)
    (
        regex(
            r"\btook\b(?=\s+(?:an?\s+|the\s+|any\s+)?(?:[a-z]+\s+)?(?:CT|MRI|MR|x-?rays?|echo|ultrasound|scans?|"
            r"radiographs?|images?)\b)",
            _I,
        ),
        "had",
    ),
    (regex(r"\bdiagnose\b(?=\s*(?:[.,;:)!?]|$|\s+(?:date|day|and|but|only|within|or)\b))", _I), "diagnosis"),
    (regex(r"\b((?:19|20)\d\d)\s+year\b(?!\s*(?:old|olds)\b)", _I), r"\1"),
    (regex(r"\b(under|below|over|above)\s+(\d{1,3})\s+(?:years?\s+)?age\b", _I), r"\1 \2 years old"),
    # 'under age 60', 'over the age of 65'
    (regex(r"\b(under|below|over|above)\s+(?:the\s+)?age\s+(?:of\s+)?(\d{1,3})\b", _I), r"\1 \2 years old"),
    # 'X followed within 7 days by a cholecystectomy (…)': followed by it within 7 days
    (
        regex(r"\bfollowed\s+(within\s+\d+\s+[a-z]+)\s+by\s+([^,.;()]+?)(?=\s*(?:[,.;(]|$|\s+and\b))", _I),
        r"followed by \2 \1",
    ),
    (regex(r"\bage\s+is\s+(\d{1,3})\s+or\s+(?:more|older|above)\b", _I), r"aged \1 or older"),
    # 'within 90 days after initiation': the start of the drug (pharmacoepidemiology's word)
    (regex(r"\binitiation\b", _I), "start"),
    # the passive of care: 'and warfarin is started within 1 month after …', 'heart echo is done'; 'but
    # statin is not started within 6 month' = no statin started (one word after a clause's start)
    (
        regex(
            r"(?:(?<=,\s)|(?<=\bbut\s)|(?<=\band\s)|^)([A-Za-z][\w-]*)\s+(?:is|are|was|were)\s+not\s+"
            r"(started|given|prescribed|done|performed|dispensed|administered|initiated|ordered)\b",
            _I,
        ),
        r"no \1 \2",
    ),
    # (only after 'and', 'but' or a comma: 'in whom a transfusion … was given' is read as it is)
    (
        regex(
            r"((?:,|\band|\bbut)\s+(?:[A-Za-z][\w-]*\s+){1,4}?)(?:is|are|was|were)\s+(started|done|given|"
            r"prescribed|performed|dispensed|administered|initiated|ordered)\b(?!\s+(?:on|with|to)\b)",
            _I,
        ),
        r"\1\2",
    ),
    # 'MI with same-day PCI', 'a same day CT': that event on the same day
    (
        regex(
            r"(?:\b(?:an?|with)\s+same[- ]day|\bsame-day)\s+"
            r"(?!(?:as|of|with|the|that|this|after|before|or|and|is|was|in|at|on)\b)"
            r"([A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*){0,2}?)"
            r"(?=\s*(?:$|[,.;)]|\s+(?:and|or|with|within|in|at|on|for|but|who|that|after|before)\b))",
            _I,
        ),
        r"\1 the same day",
    ),
    # 'Patient must have a … diagnosis', 'ER visit should also be on that day': the rule, said as a duty
    (regex(r"\b(?:must|should)\s+(?:also\s+)?have\b", _I), "had"),
    (regex(r"\b(?:must|should)\s+(?:also\s+)?be\b(?=\s+(?:on|in|at|within|during)\b)", _I), BLANK),
    # 'within 30 days pre-op', '90d pre-PCI', '30 days post-operatively': after a span of days, 'pre-'
    # and 'post-' are its direction ('pre-PCI' had been read as 'after', and a second PCI)
    (
        regex(
            r"\b(\d+\s*(?:days|day|d|weeks|week|wks|wk|months|month|mos|mo|years|year|yrs|yr))\s+(?P<dir>pre|post)-?\s*"
            r"(?:op(?:erative(?:ly)?)?|procedur(?:e|al(?:ly)?)|surg(?:ery|ical(?:ly)?))?\b(?!-)",
            _I,
        ),
        lambda m: f"{m[1]} {'before' if m['dir'].lower() == 'pre' else 'after'} ",
    ),
    # 'in the last 90 days before the PCI': the days before it, not the last 90 days before today
    (
        regex(
            r"\b(?:in|during|within|over)\s+the\s+(?:last|past|final)\s+(?=\d+\s*(?:days?|d|weeks?|months?|years?)\s+"
            r"(?:before|prior\s+to|preceding|leading\s+up\s+to)\b)",
            _I,
        ),
        "in the ",
    ),
    # 'a pre-op chest CT within 90 days before surgery': the window says it ('pre-op' alone does not)
    (
        regex(
            r"\b(?:pre|post)-?op(?:erative)?\s+(?=[\w\s-]{0,40}?\b(?:within|before|after|prior)\b)",
            _I,
        ),
        BLANK,
    ),
    # '(any lobectomy code)' after the name: the name again; '(end-of-life imaging set)': what it is for
    (regex(r"\(\s*any\s+[A-Za-z][A-Za-z\s-]{0,40}?\s+codes?\s*\)", _I), BLANK),
    (
        regex(
            r"\(\s*[A-Za-z][A-Za-z\s-]{0,50}?\b(?:set|dataset|data\s+set|cohort|project|pairs)\s*\)\s*\.?\s*$",
            _I,
        ),
        BLANK,
    ),
    (regex(r"(?<=[.!?])\s*want\s+[\w\s/-]{0,30}?\bpairs\s*\.?\s*$", _I), BLANK),
    # 'GI bleeding is happen within 90 days': occurred
    (
        regex(
            r"\b(?:(?:is|are|was|were)\s+)?(?:happen|happens|happened|occur|occurs)\b(?=\s+(?:within|in|on|at|after|before))",
            _I,
        ),
        "occurred",
    ),
    # 'creatinine go up to 2.0 or more', 'rose to 2.0 or higher', 'fell to 8 or lower': the threshold said
    (
        regex(
            r"\b(?:is\s+|was\s+)?(?:went|goes|go|rose|rises|rise|climbed|increased|got)\s+(?:up\s+)?to\s+"
            r"(\d+(?:\.\d+)?)\s+or\s+(?:more|higher|above|greater|over)\b",
            _I,
        ),
        r">= \1",
    ),
    # 'within ±30 days of the MI', 'a statin within +/- 30 days': both sides ('±' had been read past)
    (
        regex(
            rf"(?:\bwithin\s+)?(?:±|\+\s*/\s*-|\+-)\s*(\d+)\s*({EN_UNIT_RE})\b(?P<of>\s*(?=of|around|from))?",
            _I,
        ),
        lambda m: f"within {m[1]} {m[2]} " if m["of"] is not None else f"within {m[1]} {m[2]} either side",
    ),
    # 'a refill of warfarin', 'refilled their statin': a second fill, so at least two
    (
        regex(
            # (not before a window: 'refilled within 60 days' counts from the first fill, which no rule holds)
            r"\b(?:(?:an?\s+|at\s+least\s+one\s+)?refills?\s+(?:of|for)\s+|refilled\s+)"
            r"(?:their\s+|the\s+|his\s+|her\s+)?(?![^.;]{0,40}\b(?:within|in\s+the|after|before|by)\b)",
            _I,
        ),
        "at least 2 prescriptions of ",
    ),
    # 'only one PCI', 'just once': exactly that many, not at least
    (regex(r"\b(?:only|just)\s+(?=(?:one|1|once)\b(?!\s*(?:day|week|month|year)))", _I), "exactly "),
    # '30-day mortality after MI', '1-year mortality': death within that span (the number is no count)
    (
        regex(
            r"\b(\d+|one|two|three|five)[- ](day|week|month|year)s?[- ](?:all-cause\s+)?"
            r"(?:mortality|deaths?)\b",
            _I,
        ),
        r"death within \1 \2s",
    ),
    # 'statin-naive MI patients', 'MI patients who were statin-naive': never on it before (a washout of
    # all time before the index)
    # (not in a title before a colon, whose rules after it say what 'naive' means: 'Statin-naive MI: …')
    (
        regex(r"\b(?:who\s+were\s+|were\s+)?([A-Za-z][\w]*)[- ]na[iï]ve\b(?![^.:;\n]*:)", _I),
        r"with no prior \1",
    ),
    # 'Keep cases with an ischemic stroke diagnosis on the same day': the rule that follows, said as a filter
    (
        regex(
            r"\bkeep\s+(?:only\s+)?(?=(?:the\s+)?(?:cases|patients|pts|those|people|encounters|events|admissions|ones)\b)",
            _I,
        ),
        BLANK,
    ),
    # 'STEMI index events', 'index admissions (inpatient or ER-to-inpatient)': the events that start the
    # cohort, which the first event named is anyway (a label 'Index event:' is read elsewhere)
    (
        regex(
            r"(?<=\w)(?<!\bthe)(?<!\bthat)(?<!\bthis)(?<!\btheir)(?<!\bsame)(?<!\bits)\s+index\s+"
            r"(?=(?:events?|admissions?|encounters?|procedures?|hospitali[sz]ations?|stays?|visits?)"
            r"\b(?!\s*[:=]))|^\s*index\s+(?=(?:admissions?|encounters?|hospitali[sz]ations?|stays?|visits?)\b(?!\s*[:=]))",
            _I,
        ),
        " ",
    ),
    # 'in the 90 days up to and including the diagnosis date': before it, the day itself included
    (regex(r"\bup\s+to\s+and\s+including\b", _I), "before"),
    # 'For last fiscal year, i.e. calendar 2022': the calendar dates said for the vague year
    (
        regex(
            r"\b(?:for\s+|in\s+|during\s+)?(?:(?:the\s+)?(?:last|this|previous|prior|past)\s+|the\s+)?(?:fiscal|financial)\s+"
            r"year\s*,?\s*\(?\s*(?:i\.\s?e\.?|that\s+is|meaning|namely|=)\s*,?\s*(?:calendar\s+(?:year\s+)?)?(?=\d{4}\b)",
            _I,
        ),
        "in ",
    ),
    # 'creatinine reached 2.0 mg/dL or higher', 'hit 3': at least that value (an age reached is no lab value)
    (
        regex(
            r"\b(?:is\s+|was\s+|has\s+|had\s+)?(?:reached|reaches|reach|hit|hits)\s+(\d+(?:\.\d+)?)"
            r"(?!\s*(?:years?|yrs?|y/?o|days?|times?|x)\b)(\s*[a-zμ%]+(?:/[a-z0-9.^]+)?)?"
            r"(?:\s+or\s+(?:more|higher|above|greater|over))?(?![\w.])",
            _I,
        ),
        r">= \1\2",
    ),
    (
        regex(
            r"\b(?:is\s+|was\s+)?(?:went|goes|go|fell|falls|fall|dropped|drops|drop|decreased|got)\s+(?:down\s+)?to\s+"
            r"(\d+(?:\.\d+)?)\s+or\s+(?:less|lower|below|under)\b",
            _I,
        ),
        r"<= \1",
    ),
    # 'trastuzumab(Herceptin)': a bracket written against its word
    (regex(r"(?<=[a-z])\((?=[A-Za-z])"), " ("),
    # 'pls pull …': please
    (regex(r"\b(?:pls|plz)\b", _I), "please"),
    # feasibility questionnaires: 'Estimated count of …', 'please estimate the number of …': the cohort
    (regex(r"\b(?:an?\s+)?estimated\s+(?:count|number|total)\s+of\b", _I), "the"),
    (regex(r"\b(?:please\s+)?estimate\s+the\s+(?:count|number|total)\s+of\b", _I), "the"),
    # managers' 'heart attack volume for last year', 'Pediatric volume: …': the number of patients, which
    # the cohort's count is (a measured volume — stroke, tidal, urine — is a test's name and stays)
    (
        regex(
            r"(?<!stroke)(?<!tidal)(?<!urine)(?<!urinary)(?<!expiratory)(?<!corpuscular)(?<!residual)"
            r"(?<!systolic)(?<!diastolic)(?<!cell)(?<!lung)(?<!minute)(?<!blood)(?<!plasma)(?<!bladder)"
            r"(?<!prostate)(?<!tumour)(?<!tumor)(?<=[A-Za-z])\s+volumes?\b(?!\s+(?:of|in)\s+(?!patients|pts)\w)",
            _I,
        ),
        "",
    ),
    # 'Their words: "the ones who failed oral therapy".', 'Quote: "positive trop, straight to the cath
    # lab".': the requester's own words quoted after the rules
    (
        regex(
            r"(?<=[.;])\s*(?:(?:their|his|her|the\s+(?:requester|requestor|PI|investigator)'?s?)\s+)?(?:own\s+)?"
            r"(?:words|quote|verbatim|note\s+from\s+(?:the\s+)?(?:requester|requestor|PI|investigator))\s*:\s*"
            r"[\"“][^\"”]{1,200}[\"”]\s*\.?",
            _I,
        ),
        BLANK,
    ),
    # 'ED-diagnosed URI (J06) in children': the diagnosis made in the ED, that visit's day ('ED' had been
    # dropped as part of the code's name, or read as a visit at any time)
    (
        regex(
            r"\b(?P<er>ER|ED|A&E)[\s-](?:diagnosed|dx'?d|coded)\s+(?P<x>[A-Za-z][^,;.()]*?(?:\s*\([^()]*\))?)"
            r"(?=\s+(?:in|among|for|with|who|during|aged|from|between|on|at|and|or)\b|\s*[,;.]|\s*$)"
        ),
        r"\g<x> diagnosed in the \g<er>",
    ),
    (
        regex(
            r"\b(?P<d>[A-Za-z][\w-]*)\s+(?:inhalers?|tablets?|tabs|capsules?|caps|(?:nasal\s+)?sprays?|patch(?:es)?|"
            r"syrups?|suspensions?|eye\s+drops|drops|creams?|ointments?|injections?|shots?|products?)\b",
            _I,
        ),
        _drug_form,
    ),
    (
        regex(r"\b(?P<a>[A-Za-z]+)/(?P<b>[A-Za-z]+)\s+(?P<n>[A-Za-z]+(?:\s+[A-Za-z]+)?)", _I),
        _one_noun_two_kinds,
    ),
    # 'who went to coronary angiography', 'went for PCI the same day', 'anyone going for CABG', 'went through
    # pulmonary rehab': had the procedure ('went to the ER', a place, stays a visit)
    (
        regex(
            r"\b(?:went|go(?:es|ing)?|gone)\s+(?:on\s+)?(?:to|for|through)\s+"
            r"(?!(?:the\s+|an?\s+)?(?:ER|ED|A&E|emergency|hospital|clinic|ward|ICU|home|theatre|theater|OR)\b)",
            _I,
        ),
        "had ",
    ),
    # 'already carried a lung cancer diagnosis', 'anticoagulated with warfarin': had it, given it
    (
        regex(
            r"\b(?:already\s+)?carried\s+(?=(?:an?\s+|the\s+)?[\w-]+(?:\s+[\w-]+){0,3}\s+(?:diagnosis|dx)\b)",
            _I,
        ),
        "had ",
    ),
    (regex(r"\banticoagulated\s+(?:with|on)\s+", _I), "given "),
    # 'A -> B -> C. Persons meeting the full sequence.': every step, which every rule is
    (
        regex(
            r"(?<=[.;])\s*(?:persons|patients|people|those|pts)\s+(?:meeting|satisfying|fulfilling|completing|with)\s+"
            r"(?:the\s+)?(?:full|whole|entire|complete)\s+(?:sequence|pathway|chain|definition|criteria)\s*\.?\s*$",
            _I,
        ),
        BLANK,
    ),
    # surveillance: 'Case definition: …', 'confirmed case = …' head the rules; a closing 'Line list.' or
    # 'Line list of confirmed cases.' asks for the list, which every answer is
    (regex(r"(?:^|(?<=[.;]))\s*(?:the\s+)?case\s+definition\s*(?:[:=—–-]|\bis\b)\s*", _I), BLANK),
    (
        regex(
            r"\b(?:(?:a|the)\s+)?(?:confirmed\s+|probable\s+|suspected\s+)?case\s*(?:=|:|is\s+defined\s+as)\s*",
            _I,
        ),
        BLANK,
    ),
    (
        regex(
            r"(?<=[.;])\s*(?:a\s+)?line[\s-]*list(?:\s+(?:of|for)\s+(?:all\s+)?(?:confirmed\s+|probable\s+)?"
            r"(?:cases|patients|persons|people))?(?:\s+(?:please|needed|requested|only))?\s*\.?\s*$",
            _I,
        ),
        BLANK,
    ),
    # surveillance's 'Reporting period = last calendar year', 'reporting period Q1 2024': the cases' dates
    (
        regex(r"\b(?:the\s+)?(?:reporting|surveillance|study)\s+period\s*(?:=|:|is|was|of)?\s*(?=\w)", _I),
        "during ",
    ),
    # 'UTI, site not specified (N39.0)', 'pneumonia, unspecified organism (J18.9)': words of the code's own
    # name before the code, never a rule ('not specified' had been read as a negation)
    (
        regex(
            r",?\s*\b(?:(?:site|organism|type|cause)\s+)?(?:not\s+otherwise\s+specified|not\s+elsewhere\s+"
            r"classified|not\s+specified|unspecified(?:\s+(?:site|organism|type|cause))?)(?=\s*\(\s*[A-Z]?\d)",
            _I,
        ),
        BLANK,
    ),
    # 'POD14–POD90', 'post-op day 7', 'postoperative days 1 to 7': post-operative days, day numbers from
    # the operation; 'by POD 30' and 'between the op date and POD 7' start on the day of the operation
    (regex(r"\b(?:post-?\s?op(?:erative)?\s+days?|POD)\s?(?=[-+]?\d)", _I), "POD"),
    (
        regex(
            r"\b(?:by|through|until|up\s+to)\s+POD(?P<n>\d+)\b|\bbetween\s+(?:the\s+)?(?:(?:op(?:eration)?|surgery|"
            r"procedure|surgical)\s+(?:date|day)|day\s+of\s+(?:the\s+)?(?:op(?:eration)?|surgery|procedure))\s+"
            r"and\s+POD(?P<m>\d+)\b(?P<named>(?=\s+(?:after|following|post)\b))?",
            _I,
        ),
        lambda m: f"within {m['m']} days" if m["named"] is not None else f"d0-d{m['n'] or m['m']}",
    ),
    # ('POD 1-7 after the CABG': the days after the operation named)
    (
        regex(
            r"\bPOD(?P<a>\d+)\s*(?:-|–|~|to|through|and)\s*(?:POD)?(?P<b>\d+)\b"
            r"(?P<named>(?=\s+(?:after|following|post)\b))?",
            _I,
        ),
        lambda m: f"between {m['a']} and {m['b']} days" if m["named"] is not None else f"d{m['a']}-d{m['b']}",
    ),
    # 'on POD 2': that one day ('d2' alone would be read as a drug's name after 'on')
    (regex(r"\bPOD(?P<n>\d+)\b(?!\s*(?:-|–|~|\.\.|to\b|through\b))"), r"d\g<n>-d\g<n>"),
    (regex(r"\bPOD(?=[-+]?\d)"), "d"),
    # 'in the preceding 90d (-90..0)', 'on the day of or day before (-1..0)': the window said again in day
    # numbers
    (
        regex(
            r"(?P<w>\b(?:\d+\s*(?:d|days?|wks?|weeks?|mos?|months?|y|yrs?|years?)|before|after|prior|preceding|"
            r"following|post))\s*\(\s*[-−+]?\d{1,4}\s*\.{2,3}\s*[-−+]?\d{1,4}\s*\)",
            _I,
        ),
        r"\g<w>",
    ),
    # 'in the preceding 90d', 'in the following 30 days': the N days before / after
    (
        regex(
            r"\b(?P<p>in|within|during|over)\s+the\s+(?P<w>preceding|following|subsequent)\s+(?P<n>\d+)\s*"
            r"(?P<u>d|days?|wks?|weeks?|mos?|months?|y|yrs?|years?)\b",
            _I,
        ),
        lambda m: f"{m['p']} the {m['n']} {m['u']} {'before' if m['w'].lower() == 'preceding' else 'after'}",
    ),
    # 'on the day of or day before': that day or the one before (-1..0)
    (
        regex(r"\bon\s+the\s+day\s+of\s+or\s+(?:on\s+)?(?:the\s+)?day\s+(?P<d>before|after)\b", _I),
        lambda m: f"within 1 day {m['d'].lower()}",
    ),
    # '≤90d after dx', '>= 30 days after': within / at least
    (
        regex(
            r"(?P<op>≤|<=|≥|>=)\s*(?P<n>\d+)\s*(?P<u>d|days?|wks?|weeks?|mos?|months?|y|yrs?|years?)\s+"
            r"(?=(?:after|before|post)\b)",
            _I,
        ),
        lambda m: f"{'within' if m['op'] in ('≤', '<=') else 'at least'} {m['n']} {m['u']} ",
    ),
    # 'after dx (any time after)': said again
    (
        regex(
            r"(?P<x>\b(?:after|before)(?:\s+[A-Za-z]+){0,3}?)\s*\(\s*any\s*time\s+(?:after|before|later)\s*\)",
            _I,
        ),
        r"\g<x>",
    ),
    # 'dx on/before the op', 'on/after dx': on or before / after
    (regex(r"\bon\s*/\s*(?=(?:before|after)\b)", _I), "on or "),
    # 'w/in 1y', '2y after': years
    (regex(r"(?<![\w.])(\d+)\s?y(?=\s|$|[,.;)])"), r"\1 years"),
    # 'w/in 1y of the AF dx (after)': 'of' made one-sided by the bracket
    (
        regex(
            r"\b(?P<w>within|w/in)\s+(?P<d>\d+\s*[a-z]+)\s+of\s+(?P<x>[^()]{1,40}?)\s*\(\s*(?P<dir>after|before)\s*\)",
            _I,
        ),
        lambda m: f"within {m['d']} {m['dir'].lower()} {m['x']}",
    ),
    # '>=65 at dx', 'F, 20-29', 'M 50-69 at the draw': a bare age, said by what follows or by the sex
    (
        regex(
            r"(?:(?<=,\s)|(?<=,)|(?<=\()|(?<=;\s)|^)(?P<op>>=|≥|<=|≤|>|<)\s*(?P<n>\d{1,3})"
            r"(?=\s+at\s+(?:dx|diagnosis|admit|admission|index|the\s+draw)\b)",
            _I,
        ),
        lambda m: f"age {m['op']} {m['n']}",
    ),
    (
        regex(
            r"(?<![\w.\-])(?P<s>[MF])(?P<sep>,?\s+)(?P<a>\d{1,2})\s*[-–]\s*(?P<b>\d{1,2})(?![\d.%/])"
            r"(?!\s*(?i:mg|g\b|g/|mmol|meq|u/|iu|kg|cm|mm|ng|pg|d\b|days?|wks?|weeks?|mos?|months?|y\b|yrs?|years?))"
            r"(?P<draw>\s+at\s+the\s+draw\b)?"
        ),
        lambda m: f"{m['s']}{m['sep']}aged {m['a']}-{m['b']}",
    ),
    # '1st-ever', '1st rx': first
    (
        regex(
            r"\b1st(?=[\s-]+(?:ever|time|dx|rx|diagnosis|prescription|episode|admission|visit|event|use)\b)",
            _I,
        ),
        "first",
    ),
    # '(epilepsy included)', ', concussions included,': including it
    (
        regex(r"\s*(?P<o>[(,])\s*(?P<x>[A-Za-z][\w'\- ]{2,40}?)\s+(?:included|incl\.?)\s*(?P<c>[),])", _I),
        lambda m: (
            m.group(0)
            if re.search(r"\b(?:days?|dates?)\b", m["x"], _I)  # '(diagnosis day included)': a window's end
            else f" (including {m['x']})" + ("," if m["c"] == "," else "")
        ),
    ),
]

_REWRITES_EN: list[RewriteStep] = [
    (_MART_EN, BLANK),
    *_PHRASES_EN,
    (regex(_OMOP_TABLES, _I), BLANK),
    *_ATLAS_EN,
    # 'still alive a yr later', 'alive at 1 yr', 'survived 30 days after the surgery': no death in that time
    (
        regex(
            rf"\b(?:(?:were|was|are|is)\s+)?(?:still\s+)?(?:alive|living)\s+(?:at|after)\s+(?P<n>{EN_NUMBER_RE})\s*"
            rf"(?P<u>{EN_UNIT_RE})\b(?:\s+(?P<dir>after|following|from|post)\b)?",
            _I,
        ),
        lambda m: f"with no death within {m['n']} {m['u']} after",
    ),
    (
        regex(
            rf"\b(?:(?:were|was|are|is)\s+)?(?:still\s+)?(?:alive|living)\s+(?:an?|one|(?P<n>{EN_NUMBER_RE}))\s*"
            rf"(?P<u>{EN_UNIT_RE})\s+later\b",
            _I,
        ),
        lambda m: f"with no death within {m['n'] or 1} {m['u']} after",
    ),
    (
        regex(rf"\bsurvived\s+(?:at\s+least\s+)?(?P<n>{EN_NUMBER_RE})\s*(?P<u>{EN_UNIT_RE})\b", _I),
        lambda m: f"with no death within {m['n']} {m['u']}",
    ),
    _restatement_en,
    _key_values_en,
    # 'no earlier than the day of the angiogram and no later than 2 days after it': the event named once,
    # after both ends of the window ('between the day of and 2 days after the angiogram'); named again
    # after the second end, that one says it
    (
        regex(
            rf"\b(?:no[t]?\s+earlier\s+than|between)\s+(?P<b1>{BOUND_EN})\s+(?P<ev>(?:(?:the|that|this|their)\s+)?"
            rf"(?!and\b)[A-Za-z][\w-]*(?:\s+date)?),?\s+and\s+(?:no[t]?\s+later\s+than\s+)?(?P<b2>{BOUND_EN})"
            r"(?:\s+(?P<it>it|that(?:\s+date)?|this)\b)?",
            _I,
        ),
        lambda m: f"between {m['b1']} and {m['b2']} {m['ev'] if m['it'] else ''}".rstrip(),
    ),
    # 'encounters for antineoplastic chemotherapy (Z51.11)', 'chemo encounters (Z51.11)': an encounter code of
    # ICD-10 is a diagnosis code; the words before it name the code
    (
        regex(
            r"\b(?:encounters?|visits?)\s+for\s+[A-Za-z][\w\s-]{0,60}?\s*\(\s*(?P<code>Z\d{2}(?:\.\w{1,4})?)\s*\)|"
            r"\b[A-Za-z][\w-]*\s+(?:encounters?|visits?)\s*\(\s*(?P<code2>Z\d{2}(?:\.\w{1,4})?)\s*\)",
            _I,
        ),
        lambda m: f"diagnoses of {m['code'] or m['code2']}",
    ),
    # '(myocardial infarction, incl. descendants)', 'I63 and all of its subcodes': sub-concepts are always
    # taken (README)
    (
        regex(
            r",?\s*(?:incl\.?|including|with|and|plus)\s+(?:all\s+(?:of\s+)?)?(?:its\s+|their\s+)?(?:descendant\s+(?:concepts|codes)|"
            r"descendants?|sub-?concepts?|sub-?codes?|child(?:ren)?(?:\s+(?:codes|concepts))?)\b"
            r"(?:\s+such\s+as\s+[^()]*?(?=\)))?",
            _I,
        ),
        BLANK,
    ),
    # '… -> then hemostasis within 2 days after the transfusion. need the chain in that order': said again
    (
        regex(
            r"(?<=[.;])\s*(?:need|want|keep)\s+(?:the\s+)?(?:chain|sequence|steps|events)\s+in\s+(?:that|this)\s+order\.?\s*$",
            _I,
        ),
        BLANK,
    ),
    # '(any ICD-9-CM procedure code in category 36.1)', '(any 36.1x code)': the code family itself
    (
        regex(
            r"\bany\s+(?:ICD-?9-?CM\s+|ICD-?10-?CM\s+|ICD-?10\s+|ICD-?9\s+)?(?:procedure\s+|diagnosis\s+)?codes?\s+"
            r"(?:in|under|within|from)\s+(?:the\s+)?(?:category|block|family|range)?\s*(?=[A-Z]?\d)",
            _I,
        ),
        "",
    ),
    (regex(r"\(\s*any\s+([A-Z]?\d[\w.]*?)\s+codes?\s*\)", _I), r"(\1)"),
    # '(inpatient stays, including those admitted through the emergency department)': ER-then-inpatient
    # stays are inpatient stays already (README); said as an inclusion, never a requirement
    (
        regex(
            r",?\s*\(?\s*(?:including|incl\.?)\s+(?:those|admissions|stays|patients)?\s*(?:admitted\s+)?"
            r"(?:through|via|from)\s+the\s+(?:emergency\s+(?:department|room)|ER|ED)\s*\)?",
            _I,
        ),
        BLANK,
    ),
    # 'Q1 2024 (jan-mar)': the quarter's months said again
    (
        regex(r"(?<=Q[1-4]\s\d{4})\s*\(\s*[A-Za-z]{3,9}\.?\s*(?:-|–|to|through)\s*[A-Za-z]{3,9}\.?\s*\)", _I),
        BLANK,
    ),
    # 'how many pts were adm w/ a GI bleed': admitted
    (regex(r"\b(?:were|was|got|been)\s+adm\b(?=\s+(?:w/|with|for|to)\b)", _I), "were admitted"),
    # 'pneumonia diagnosed in the ER', 'UTI diagnosed at an ER visit': a diagnosis made at that visit is dated
    # its day (README: 'ED visit w/ pneumonia dx' = 0..0), unless the sentence says when
    (
        regex(
            r"\b(?P<verb>diagnosed|dx'?d|presenting|presented|"
            r"(?:dx|diagnosis)\s+(?:was\s+)?(?:made|given|recorded|coded|entered))\s+(?:in|at|to|during)\s+(?:the|an|a)\s+"
            r"(?P<er>ER|ED|emergency\s+(?:room|department))(?:\s+visit)?\b"
            r"(?![^.;]{0,40}\b(?:same\s+day|that\s+day|day\s+of|within|after|before|days?|weeks?)\b)",
            _I,
        ),
        lambda m: f"{m['verb']} on the day of an {m['er']} visit",
    ),
    # 'whose first-ever PTCA took place between 2019 and 2021': happened (never 'took' a drug)
    (regex(r"\b(?:took|takes|take|taking)\s+place\b", _I), BLANK),
    # 'got the clot-busting drug alteplase': a lay description before the drug named
    (
        regex(
            r"\b(?:clot-?busting|clot-?dissolving|blood-?thinning|cholesterol-?lowering|sugar-?lowering|"
            r"blood\s+pressure|anti-?clotting)\s+(?:drug|medication|medicine|agent|pill|shot)\s+(?=[A-Za-z])",
            _I,
        ),
        "",
    ),
    # 'whose CA 19-9 exceeded 37 U/mL on a sample drawn no earlier than …': the result's date is the sample's
    (
        regex(
            r"\b(?:on|in|from)\s+(?:a|the)\s+(?:blood\s+)?(?:sample|specimen)\s+(?:drawn|collected|taken|obtained)\b",
            _I,
        ),
        BLANK,
    ),
    # 'A (was) followed by B' is 'A, then B': B on or after A
    (
        regex(r"\b(?:(?:was|were|is|are)\s+)?followed\s+by\b", _I),
        lambda m: "then".ljust(len(m.group(0))),
    ),
    # 'whose first lung cancer dx was preceded by a chest CT in the 30 days before': the window says when
    (
        regex(r"\b(?:(?:was|were|is|are)\s+)?preceded\s+by\b(?=.*\b(?:before|prior\s+to|preceding)\b)", _I),
        "with",
    ),
    # '(ER-to-inpatient counts too)', '(응급실 거쳐 입원한 것도 포함)': stays the visit word already counts
    (
        regex(
            r"\(\s*(?:ER|ED)[- ]?to[- ]?inpatient(?:\s+(?:admissions?|stays?))?\s+"
            r"(?:counts?(?:\s+too)?|included|also\s+counts?|too)\s*\)",
            _I,
        ),
        BLANK,
    ),
    # 'an appendectomy within 2 days - laparoscopic or open': either kind, which the name already covers
    (regex(r"\s*[-,(]\s*(?:either\s+)?(?:laparoscopic|lap)\s+or\s+open\b\s*\)?", _I), BLANK),
    # 'who came back to the ER 1-30 days later': another ER visit
    (
        regex(r"\bcame\s+back\s+to\s+the\s+(ER|ED|emergency\s+(?:room|department))\b", _I),
        r"had another \1 visit",
    ),
    # ED shorthand: 'K>5.3', 'Na<132' (a comparison written against its test), 'I63 → MRI' (then),
    # 'HF + BNP' (and), 'kids <12', 'F <18' (an age), '≥2x' / '2x' (times), 'admins' (administrations)
    (regex(r"(?<=[A-Za-z0-9%)])(>=|<=|≥|≤|>|<)(?=\s*\d)"), r" \1"),
    (regex(r"\s*(?:→|->)\s*(?!\d)"), " then "),
    (regex(r"(?<=\w)\s+\+\s+(?=\w)"), " and "),
    (
        regex(
            r"\b(kids|children|child|pts|patients|people|women|men|males?|females?|F|M)\s*(<|>)\s*(\d{1,2})\b(?!\s*(?:%|mg|g/|mmol|days?|d\b))"
        ),
        lambda m: f"{m[1]} {'under' if m[2] == '<' else 'over'} {m[3]}",
    ),
    (regex(r"(?:≥|>=)\s*(\d+)\s*x\b", _I), r"at least \1 times"),
    (regex(r"\b(\d+)\s*x\b(?!\s*10)", _I), r"\1 times"),
    (regex(r"\badmins\b", _I), "administrations"),
    # 'co-prescribed warfarin and digoxin on the same day': prescribed, the same-day window says 'co-'
    (regex(r"\bco-?prescri(?:bed|ption\s+of)\b", _I), "prescribed"),
    # 'in the prior 365 days', 'in the preceding 6 months': the days before (the event just named)
    (
        regex(
            r"\b(?:in|during|within|over)\s+the\s+(?:prior|previous|preceding)\s+(\d+)\s+(days?|weeks?|months?|years?)\b",
            _I,
        ),
        r"in the \1 \2 before",
    ),
    # clinician shorthand: 's/p CABG' (status post) = had a CABG; 'hx of' = history of
    (regex(r"(?<![\w/])s/p(?![\w/])", _I), "had"),
    (regex(r"\bh/?x\s+of\b", _I), "history of"),
    (regex(r"\bw/o\b", _I), "without"),
    # 'I63 w/ tPA', 'everyone w copd': 'with' typed short
    (regex(r"\bw/(?!in\b)(?=\s)", _I), "with"),
    (regex(r"\bw/(?!in\b)(?=[a-z])", _I), "with "),
    (regex(r"(?<=\s)w(?=\s+[a-z0-9])"), "with"),
    # 'right or left hemicolectomy', 'upper/lower GI bleeding': the noun said once serves both sides
    (regex(r"\b(?:R|Rt)\s*/\s*(?:L|Lt)\b(?=\s+[A-Za-z])"), "right or left"),
    (
        regex(rf"\b({_SIDES})\s*(?:or|and|/)\s*({_SIDES})\s+([A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*)?)", _I),
        lambda m: f"{m.group(1)} {m.group(3)} or {m.group(2)} {m.group(3)}",
    ),
    # 'hemoglobin came back under 7 g/dL': the result's value
    (
        regex(
            r"\b(?:came|comes|come)\s+back\s+(?=(?:under|over|above|below|at|less|more|greater|lower|higher|[<>≤≥]))",
            _I,
        ),
        BLANK,
    ),
    # 'pathology came back as X': the finding verb of a result
    (
        regex(r"\b(?:came|comes|come)\s+back\s+(?:as|showing|with|positive\s+for)\b", _I),
        lambda m: "showing".ljust(len(m.group(0))),
    ),
    *((rx, BLANK) for rx in _BLANKED_EN),
    (regex(r"\bw/in\b", _I), "within"),
    # 'picked up a warfarin script', 'filled a prescription for omeprazole': a drug exposure of the drug
    (
        regex(
            r"\b(?:picked\s+up|filled|got|had|was\s+given|received)\s+(?:a\s+|an\s+|their\s+|his\s+|her\s+)?"
            r"(?:(?P<drug>[A-Za-z][\w-]*)\s+)?(?:script|prescription|rx|refill|fill)s?\b(?:\s+(?:for|of)\b)?",
            _I,
        ),
        lambda m: ("got " + (m.group("drug") or "")).ljust(len(m.group(0))),
    ),
    # 'ended up in the ER', 'ended up getting a CABG', 'ended up on dialysis': what happened next
    (regex(r"\bended\s+up\s+(?=in\b)", _I), lambda m: "was".ljust(len(m.group(0)))),
    (
        regex(r"\bended\s+up\s+(?:getting|having|needing|with|on|receiving)\b", _I),
        lambda m: "had".ljust(len(m.group(0))),
    ),
    # 'in the period January through December 2022', 'during the period 2021-2022': the dates named
    (
        regex(
            r"\b(?:in|during|within|over)\s+the\s+(?:time\s+)?period\s+(?=(?:from\s+|of\s+|between\s+)?(?:\d|[A-Z]))",
            _I,
        ),
        BLANK,
    ),
    # 'in calendar 2022', 'calendar year 2021', 'in year 2024': the year
    (regex(r"\b(?:calendar\s+(?:year\s+)?|(?<=in\s)(?:the\s+)?year\s+)(?=(?:19|20)\d\d\b)", _I), BLANK),
    # 'diagnosed with MI when he was in 50s', 'when she was 70 or older': the age at that event
    (
        regex(
            r"\bwhen\s+(?:he|she|they)\s+(?:was|were|is|are)\s+(?=(?:in\s+)?(?:his\s+|her\s+|their\s+)?\d)",
            _I,
        ),
        BLANK,
    ),
    # 'insertion of drug-eluting stent', 'placement of a stent': the stent is the procedure
    (
        regex(
            r"\b(?:insertion|placement|implantation)\s+of\s+(?:an?\s+|the\s+)?(?=(?:[\w-]+\s+){0,3}stents?\b)",
            _I,
        ),
        BLANK,
    ),
    # 'first-ever C18 dx falling in 2024': when it was
    (regex(r"\b(?:falling|fell|falls)\s+(?=(?:in|within|between|during)\s)", _I), BLANK),
    _same_window_again,
    # 'Patients with a stomach cancer diagnosis at any time should not be included.': an exclusion
    (
        regex(
            r"(?:(?<=[.;:?!]\s)|^)(?P<who>(?:patients|pts|those|anyone|people|persons|subjects)\b[^.;?!]*?)\s+"
            r"(?:should|must|are\s+to|need\s+to|will)\s+(?:not\s+be\s+(?:included|counted|kept)|be\s+(?:excluded|left\s+out"
            r"|removed|dropped))\b",
            _I,
        ),
        lambda m: "exclude " + m.group("who"),
    ),
    # 'cefazolin day of surgery', 'CXR day of admission': on that day (chart shorthand drops 'on the')
    _bare_day_of,
    # 'inpatient admissions in 2023 during which a GI hemorrhage was diagnosed': during that stay
    (regex(r"\bduring\s+which\b", _I), "during the same visit"),
    # 'who came back for another admission within 30 days': had one
    (
        regex(
            r"\b(?:came|come|comes|coming)\s+back\s+(?:for|with)\s+(?=(?:an?\s+|another\s+)?(?:(?:inpatient\s+)?"
            r"admission|readmission|ER\b|ED\b|visit|hospitali[sz]ation|stay))",
            _I,
        ),
        "had ",
    ),
    # 'before the date of death', 'after the date of diagnosis': the event itself
    (regex(r"(?:(?<=before\s)|(?<=after\s)|(?<=prior\sto\s))the\s+date\s+of\s+(?:the\s+)?", _I), "the "),
    # 'first-ever PTCA, restricted to first procedures performed in 2022': which of them, said again
    (regex(r",?\s*\b(?:restricted|limited)\s+to\s+(?=(?:the\s+)?(?:first|those|ones)\b)", _I), " "),
    # 'Adults (18+) with a BMI of 30 or higher': the people's age, never a count of the next event
    (
        regex(
            r"\b(adults?|patients?|pts|people|persons|men|women|males?|females?)\s*\(\s*(\d{1,3})\s*\+\s*\)",
            _I,
        ),
        r"\1 aged \2+",
    ),
    # 'on or before the date of death', 'on or after the dx': 'before' and 'after' count the day itself here
    # ('on or before the day of that LDL': up to that day itself, not the days before it)
    (
        regex(
            r"\bon\s+or\s+(?P<dir>before|prior\s+to|after|following)\b(?:\s+(?:the|that)\s+(?:day|date)\s+of\b)?",
            _I,
        ),
        r"\g<dir>",
    ),
    # 'metformin also prescribed on the index date': on the day of the index event
    (regex(r"\b(?:on|at)\s+(?:the\s+)?(?=index\s+(?:date|day)\b)", _I), "on the day of the "),
    # 'in days -365 to -1 relative to index', 'days -30 to 0 relative to the index date': day offsets
    (
        regex(
            r"\b(?:(?:in|on|during|over|between)\s+)?days?\s*(?P<a>[-−–]?\s*\d+)\s*(?:to|through|and|[–-])\s*"
            r"(?P<b>[-−–]?\s*\d+)\s+(?:relative\s+to|from|around|of)\s+(?:the\s+)?index(?:\s+date|\s+event)?\b",
            _I,
        ),
        _day_offsets_en,
    ),
    # 'died within 7 days after admit', 'after coming to the ED': the visit
    (regex(r"\bafter\s+admit\b", _I), "after admission"),
    (
        regex(
            r"\b(?:coming|came|going|went|presenting|presented)\s+(?:in\s+)?to\s+(?:the\s+)?(?=(?:ED|ER|emergency)\b)",
            _I,
        ),
        BLANK,
    ),
    # 'a glucose over 200 on a day they got glargine': on the same day as that event
    (
        regex(
            r"\bon\s+(?:a|the|any)\s+day\s+(?:that\s+|when\s+)?(?:they|he|she|the\s+patient)\s+(?:also\s+)?"
            r"(?=(?:got|received|were\s+given|was\s+given|had|took|were\s+on|was\s+on)\b)",
            _I,
        ),
        lambda m: "on the same day as".ljust(len(m.group(0))),
    ),
    # 'a staging CT abd', 'follow-up MRI', 'f/u chest CT': what the study was for, which no rule says
    (
        regex(
            r"\b(?:staging|restaging|follow[- ]?up|f/u|baseline|surveillance)\s+"
            r"(?=(?:[A-Za-z]+\s+)?"
            r"(?:CTs?|CTAs?|MRIs?|MR|PET|x-?rays?|xrays?|ultrasounds?|US|echos?|CXRs?|scans?|imaging|angiograms?|"
            r"angios?)\b)",
            _I,
        ),
        BLANK,
    ),
    (regex(r"(?<=[A-Za-z])\s+f/u\b", _I), BLANK),
    # 'died within 30d after ER arrival', 'WBC > 15k within 24h after arrival': the ER visit itself
    (regex(r"\b(?:ER|ED|emergency\s+(?:room|department))\s+(?:arrival|presentation)\b", _I), "ER visit"),
    (
        regex(r"(?<=after\s)(?:their\s+|the\s+)?(?:arrival|presentation)\b", _I),
        "the visit",
    ),
    _age_at_first_named,
    # 'aged 65 or older at initiation': the age at the index, as every age is
    (
        regex(
            r"(?:(?<=older)|(?<=younger)|(?<=above)|(?<=below)|(?<=\+))\s+at\s+(?:initiation|(?:the\s+)?start(?:ing)?|first\s+(?:fill|dispensing|use))\b",
            _I,
        ),
        BLANK,
    ),
    # '(incl. same day)', '(same day counts)': the anchor's own day is in every window here
    (
        regex(
            r"\(\s*(?:incl(?:uding|\.)?\s+(?:the\s+)?same\s+day|same\s+day\s+(?:counts|included|incl\.?))\s*\)",
            _I,
        ),
        BLANK,
    ),
    # '(any amoxicillin product)', 'an amoxicillin-containing product': the drug, in any form
    (regex(r"\(\s*any\s+[A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*)?\s+products?\s*\)", _I), BLANK),
    (regex(r"-containing\s+products?\b", _I), BLANK),
    # 'filled clopidogrel at least 3 times': drug exposures ('got')
    (regex(r"\bfilled\s+(?=(?!(?:in|out|with|by)\b)[a-z])", _I), lambda m: "got".ljust(len(m.group(0)))),
    # 'were still alive 30 days after diagnosis': no death in those days
    (
        regex(
            r"\b(?:(?:were|was|are|is)\s+)?(?:still\s+)?alive\s+(?=\d+\s+(?:days?|weeks?|months?)\s+after\b)",
            _I,
        ),
        lambda m: "did not die within ",
    ),
    # 'picked up omeprazole': a drug exposure ('got')
    (regex(r"\bpicked\s+up\s+(?!on\b|by\b)(?=[A-Za-z])", _I), lambda m: "got".ljust(len(m.group(0)))),
    # 'came into the ER', 'showed up at the ED': an ER visit, as 'came to'
    (
        regex(
            r"\b(?:came|come|comes|coming|showed\s+up|turned\s+up)\s+(?:in\s*to|at)\b(?=\s+(?:the\s+)?(?:ER|ED|emergency))",
            _I,
        ),
        lambda m: "came to".ljust(len(m.group(0))),
    ),
    # 'xray has to be within 3 days after the dx', 'MI has to be before the MRI date': when it was
    (
        regex(
            r"\b(?:has|have|needs?|had)\s+to\s+(?:be|have\s+been)\s+(?=within\b|on\b|before\b|after\b|prior\b)",
            _I,
        ),
        BLANK,
    ),
    # '(ICD-9 procedure 99.25)', 'ICD-10 code I21': the code, whose vocabulary the code itself says
    (
        regex(
            r"\bICD-?\s?(?:9|10)(?:-?(?:CM|PCS))?\s+(?:procedure\s+|diagnosis\s+|dx\s+)?(?:codes?\s+)?(?=[A-Z]?\d)",
            _I,
        ),
        BLANK,
    ),
    # 'Frequent ED users, defined as persons with …': a name for the rule that follows
    (regex(r"^[^,:;.]{1,60},?\s+defined\s+as\s+", _I), BLANK),
    # 'GI hemorrhage NOS': not otherwise specified, which the name without it already means
    (regex(r"(?<=[A-Za-z])\s+NOS\b"), BLANK),
    # 'K92.0-K92.2 bleeders', 'I21/I22 pts': the patients with those codes
    (
        regex(
            r"^(?P<codes>[A-Z]?\d{2}(?:\.\d{1,2})?(?:\s*(?:,|/|or|and|-|~)\s*[A-Z]?\d{2}(?:\.\d{1,2})?)*)\s+"
            r"(?:(?:bleeders|patients|pts|cases|people)\b|(?=with\b|w/))"
        ),
        lambda m: "patients with " + re.sub(r"\s*(?:,|/|and)\s*", " or ", m.group("codes")) + " ",
    ),
    (regex(r"(?<=\d)\s+bleeders\b", _I), " patients"),
    _spell_out_code_ranges,
    # 'only pts who actually have one' after an image request: the cohort is who has those images
    (
        regex(
            r"[.;,]?\s*\bonly\s+(?:pts|patients|those|people|cases)\s+(?:who|that)\s+(?:actually\s+)?(?:have|had)\s+(?:one|any|them|some)\b",
            _I,
        ),
        BLANK,
    ),
    # '…; give me their echos within 7 days after the dx too': the request's own 'too'
    (regex(r"\b(?:too|as\s+well)(?=\s*[.!?]*\s*$)", _I), BLANK),
    _american_spelling,
    # 'between 2015 and 2018 inclusive': every calendar range here includes both ends
    (regex(r"(?<=\d{4})\s*,?\s*\(?inclusive\)?", _I), BLANK),
    # 'an INR blood test', 'had blood work': the test is the event ('blood' would be a test name)
    (regex(r"\bblood\s+(?=(?:tests?|work|draws?|results?)\b)", _I), BLANK),
    (regex(r"\)(?=[:;,.])"), ") "),  # 'HF cohort (I50.x):': the bracket closes on its own
    # a bullet ('- warfarin …', '• over 70 at dx') starts a new clause, as ';' does (not '18 - 79')
    (regex(r"(?:(?<=\s)|^)[-•*·](?=\s)(?<!\d\s-)(?!\s+\d)"), ";"),
    # '1) first-ever gastric cancer … 2) EGD …': numbered items, as bullets
    (regex(r"(?:(?<=[\s:])|^)\d{1,2}\)(?=\s)"), lambda m: ";".ljust(len(m.group(0)))),
    # 'inclusion:', 'inclusion criteria:', 'criteria below:' label what follows; the rules are read
    (
        regex(
            r"\b(?:inclusion|eligibility)(?:\s+criteria)?\s*:|\bcriteria(?:\s+(?:below|as\s+follows))?\s*:"
            r"|\binclude\s+(?:them\s+|patients\s+|pts\s+)?(?:only\s+)?if\s+(?:they\s+)?"
            # 'include only subjects with …': who is in the cohort, which the rules say
            r"|\binclude\s+(?:only\s+)?(?=(?:subjects|patients|pts|persons|people|those)\s+(?:with|who)\b)",
            _I,
        ),
        BLANK,
    ),
    # 'before the COPD dx (i.e. at least one day earlier)': strictly before, the anchor's own day left out
    (
        regex(
            r"(?<=\bbefore\b)(?P<x>[^;:()]{1,60}?)\s*\(\s*(?:i\.\s?e\.?,?\s*|that\s+is,?\s*)?(?:at\s+least\s+(?:one|1)\s+"
            r"(?:full\s+)?day\s+(?:earlier|before|prior)|strictly\s+(?:earlier|before))\s*\)",
            _I,
        ),
        lambda m: f"{m.group('x')} (not counting the day itself)",
    ),
    # 'before the bleed date', 'the day of the alteplase dose': the event named by its date or dose
    (
        regex(
            r"\b(?P<pre>(?:before|after|of|from|since|until|following|preceding)\s+(?:the|that)\s+)"
            r"(?P<ev>(?!(?:same|next|following|previous|index|first|last|calendar|whole|entire|that)\b)[A-Za-z-]+)"
            r"\s+(?:date|dose)\b",
            _I,
        ),
        lambda m: m.group("pre") + m.group("ev"),
    ),
    # '(same day or the following day)' after a window: which part of it, read as a window of its own
    (
        regex(
            r"\(\s*((?:on\s+)?(?:the\s+)?same\s+day\s+or\s+(?:on\s+)?(?:the\s+)?(?:following|next)\s+day)\s*\)",
            _I,
        ),
        lambda m: ", " + m.group(1),
    ),
    # 'either on the date of that first diagnosis or at any time subsequent to it' = on or after it
    (
        regex(
            r"\b(?:either\s+)?on\s+the\s+(?:date|day)\s+of\s+(?P<x>[^;,()]{1,40}?)\s+or\s+(?:at\s+any\s+time\s+)?"
            r"(?:after|subsequent\s+to|following|since)\s+(?:it|that|then|this)\b",
            _I,
        ),
        lambda m: f"on or after {m.group('x')}",
    ),
    # 'on the day of the diagnosis or the day after' = within 1 day after it (0..1)
    (
        regex(
            r"\bon\s+the\s+day\s+of\s+(?P<x>(?:the\s+|an?\s+)?[\w-]+(?:\s+[\w-]+)?)\s+or\s+the\s+"
            r"(?:day\s+after|next\s+day|following\s+day)\b",
            _I,
        ),
        lambda m: f"within 1 day after {m.group('x')}",
    ),
    # 'a plain chest X-ray': a radiograph, which 'X-ray' says already
    (
        regex(
            r"\bplain(?=\s+(?:chest|abdominal|abdomen|skull|knee|hip|spine|pelvis|pelvic|x-?ray|radiograph))",
            _I,
        ),
        BLANK,
    ),
    # 'a stroke dx on the admission day' = on the day of the admission
    (
        regex(rf"\bon\s+(?:the\s+)?(?P<ev>{_DAY_OF_EVENTS})\s+(?:day|date)\b", _I),
        lambda m: f"on the day of the {m.group('ev')}",
    ),
    # 'so far this year': up to today is all a mart holds anyway
    (regex(r"\bso\s+far\b(?=\s+(?:this|in|during)\b)", _I), BLANK),
    (regex(r"\bw/(?=\s)", _I), "with"),
    # '90d', '24h', '6mo' → '90 d', '24 h', '6 mo'; 'PCIs' → 'PCI' (a plural abbreviation is the same
    # mention)
    (regex(r"(?<![\w.])(\d+)(d|days?|wks?|weeks?|mos?|months?|yrs?|years?|h|hrs?|hours?)\b"), r"\1 \2"),
    (regex(r"\b([A-Z]{2,5})s\b"), r"\1"),
]


_DATE_OF_NAMED_KO = regex(
    r"\(\s*(?P<date>\d{4}\s*년(?:\s*\d{1,2}\s*월)?|\d{4}[-.]\d{1,2}[-.]\d{1,2}\s*[~-]\s*\d{4}[-.]\d{1,2}[-.]\d{1,2})"
    r"\s*(?P<ev>[가-힣A-Za-z][가-힣A-Za-z ]{0,20}?)\s*(?:일\s*)?기준\s*\)"
)


def _date_of_named_ko(text: str) -> str:
    """'응급실 내원 당일 또는 다음 날 입원한 환자 (2023년 응급실 내원 기준)': the bracket dates an event named
    before it, so the date goes before that event's first mention (it had been read as one more ER
    visit, the index, besides the one named)."""
    m = _DATE_OF_NAMED_KO.search(text)
    if m is None:
        return text
    # ('관상동맥조영술 촬영일에 …(2020년 촬영 기준)': a day named by the event is read by its own rule)
    named = regex(r"\s*".join(re.escape(c) for c in m["ev"].replace(" ", "")) + r"(?!\s*일)")
    first = named.search(text, 0, m.start())
    if first is None:
        return text
    blanked = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    return blanked[: first.start()] + m["date"] + " " + blanked[first.start() :]


#: Korean steps run before any reading, in order: each turns a way of writing into the one the
#: grammar reads (the counterpart of `_REWRITES_EN`)
_REWRITES_KO: list[RewriteStep] = [
    # outcomes research: '식별 기간은 2021.1.1~2024.12.31입니다', '인덱스 기간: 2022년': the dates the index
    # event falls in
    (
        regex(r"(?:식별|선정|인덱스|등록)\s*기간\s*(?:은|는|:|=)?\s*(?=\d)"),
        "",
    ),
    (regex(r"(?<=\d)\s*(?:입니다|이에요|예요)\s*(?=[.。])"), ""),
    # 'pt 들', '환자 들': the plural said apart; '2번이상': the count's bound written onto it
    (regex(r"(?<=\s)들(?=\s|$|[을이은는도]\s)"), BLANK),
    (regex(r"(어르신|환자분)들"), r"\1"),
    # '(I20-I25 전부 다 포함)': the range itself, every code in it (as '(I20-I25)')
    (
        regex(
            r"\(\s*([A-Z]\d{2}\s*[-~–]\s*[A-Z]?\d{2})\s*(?:(?:전부|모두|전체)\s*)?(?:다\s*)?포함(?:해서|하여|함)?\s*\)"
        ),
        r"(\1)",
    ),
    (regex(r"(\d+)\s*(번|회|건|차례)(이상|이하|미만|초과)"), r"\1\2 \3"),
    (regex(r"(?<![A-Za-z])cohort(?![A-Za-z])", re.IGNORECASE), "코호트"),
    # 'MI에 대한 수술': a surgery for MI, as 'MI 수술' (its reading is the lexicon's treating procedures)
    (regex(r"([A-Za-z0-9가-힣]+)\s*(?:에\s*대한|에\s*대해|에\s*관한)\s*(수술|시술)"), r"\1 \2"),
    # '(기간은 상관없고 …)', '(기간 제한은 없어요)', '기간 상관없이': no dates, which no date says anyway
    # '아토르바스타틴이든 로수바스타틴이든 상관없어요': either
    (
        regex(
            r"([A-Za-z0-9가-힣]+?)(?:이든|든)\s+([A-Za-z0-9가-힣]+?)(?:이든|든)\s*(?:상관\s*없(?:어요|습니다|음|이|고)|다\s*(?:돼요|됩니다))"
        ),
        r"\1 또는 \2",
    ),
    (
        regex(
            r"(?:전체\s*)?(?:기간|종류|제형|용량)\s*(?:은|는|이)?\s*(?:상관\s*(?:없고|없어요|없습니다|없이|없음|없음\.)|"
            r"제한\s*(?:은|이)?\s*(?:없어요|없습니다|없음|없고|없이))\s*,?"
        ),
        BLANK,
    ),
    # '진단일을 인덱스일로 잡고', '… 기준일로 설정하고': the index event named, as '인덱스일로 정의하고'
    (
        regex(
            r"(인덱스일|기준일)(\s*(?:로|으로)\s*)(?:잡고|잡아서?|잡습니다|잡음|설정하고|설정합니다|설정함|두고)"
        ),
        r"\1\2정의하고",
    ),
    # '우측 또는 좌측 반결장절제술': the noun said once serves both sides ('right or left hemicolectomy')
    (_SIDES_KO, lambda m: f"{m[1]} {m[3]} 또는 {m[2]} {m[3]}"),
    (_DOCUMENT_DATE_KO, r"\1.\2.\3."),
    (_NEITHER_KO, r"\1 또는 \2"),
    (regex(r"\s\+\s"), ", "),  # '뇌경색 진단 + 같은 날 brain MRI': and
    # '응급실 내원객': those who came, the patients
    (regex(r"(?<=내원|방문)객(?=[\s을를이가은는의]|$)"), " 환자"),
    # '시행일 ±30일 이내', '+/- 7일': both sides of the day, as '전후 30일' ('±' had been read past)
    (regex(r"(?:±|\+\s*/\s*-|\+-)\s*(\d+)\s*(일|주일|주|개월|달|년)"), lambda m: f"전후 {m[1]}{m[2]}"),
    # '최대 2번', '최소 3회', '적어도 2건': the count's bound said before it, as '2번 이하' / '3회 이상'
    (
        regex(r"(?<![가-힣])(최대|최소|적어도)\s*(\d+)\s*(번|회|건|차례)(?![가-힣])"),
        lambda m: f"{m[2]}{m[3]} {'이하' if m[1] == '최대' else '이상'}",
    ),
    # '연구자 표현: "수술 안 하고 지켜본 위암 환자".': the researcher's own words quoted after the rules
    (
        regex(
            r"(?:(?<=[.。])|^)\s*(?:연구\s*책임자|연구자|신청자|요청자|의뢰자)?\s*(?:원문|표현|메모|코멘트|의견|요청\s*원문)"
            r"\s*[:：]\s*[\"“'‘][^\"”'’]{1,200}[\"”'’]\s*\.?"
        ),
        BLANK,
    ),
    # '… 입원 환자 명단. 응급실 경유 입원 포함.', '(응급실을 거쳐 입원한 경우도 포함)': an ER-to-ward
    # admission is an admission and an ER visit already (OMOP 262 is in both), so the sentence only confirms
    (
        regex(
            r"(?:(?<=[.。(])|^)\s*(?:응급실|ER|ED)\s*(?:을|를)?\s*(?:경유(?:한)?|거쳐(?:서)?|통한|통해)\s*(?:온\s*)?입원"
            r"(?:한\s*(?:경우|환자|건)|\s*(?:환자|건))?\s*(?:도|까지)?\s*(?:모두\s*)?(?:포함|카운트|인정)"
            r"(?:함|합니다|됨|됩니다|해\s*주세요|해주세요|하여\s*주십시오)?\s*(?=[.。)]|$)"
        ),
        BLANK,
    ),
    # '(처방 시점 무관)', '(기록 시점 무관)': any time, which a rule without a window is
    (
        regex(
            r"\(\s*(?:처방|기록|진단|검사|시행|측정)?\s*(?:시점|시기|날짜)\s*(?:무관|상관\s*없음|상관없이)\s*\)"
        ),
        BLANK,
    ),
    # '신고 기간 2022-01-01~2022-06-30', '발생 기간 2023년 12월 20일부터 열흘간': the dates of the cases
    (regex(r"(?:신고|발생|보고|감시|조사)\s*기간\s*(?:은|는|:)?\s*(?=\d)"), BLANK),
    _date_of_named_ko,
    # '위절제술 op 다음날부터', 'op 후 30일': the operation, in the Korean sentence's own word
    (regex(r"(?<![A-Za-z-])[Oo]p(?![A-Za-z-])"), "수술"),
    # '진단 7일 전부터 진단 후 30일까지': the anchor said again between the two ends ('7일 전부터 30일
    # 후까지')
    (
        regex(
            r"(?P<a>\d+\s*(?:일|주일|주|개월|달|년)\s*(?:전|이전)\s*부터)\s*(?:진단|수술|시술|입원|처방|검사|촬영|투여)(?:일)?\s*"
            r"(?:후|이후|뒤)\s*(?P<b>\d+\s*(?:일|주일|주|개월|달|년))\s*까지"
        ),
        r"\g<a> \g<b> 후까지",
    ),
    # 'albuterol 흡입기', 'fluticasone 흡입제', '이부프로펜 정': the drug, in any form
    (
        regex(
            r"(?P<d>[A-Za-z][\w-]*|[가-힣]{2,})\s*(?:흡입기|흡입제|정제|캡슐|주사제|주사|패치|시럽|연고|스프레이|점안액|좌약|"
            r"크림|제품)(?=[\s을를이가은는의,.)]|처방|투여|$)"
        ),
        _drug_form,
    ),
    # '(진단일 포함 이후 전체 기간)', '(진단일 전날까지)': the window just said, again, in a bracket
    (
        regex(
            r"\(\s*(?:(?:진단|수술|시술|입원|처방|기준)\s*일?\s*)?(?:포함\s*)?(?:이후|이전)\s*전체\s*기간\s*\)|"
            r"(?<=이력|병력)\s*\(\s*(?:진단|수술|시술|입원|기준)\s*일?\s*전날\s*까지\s*\)"
        ),
        BLANK,
    ),
    # '측정일 기준 당일 ~ 1일 이내': from that day to the next (0..N)
    (regex(r"당일\s*(?:~|-|부터)\s*(\d+)\s*일\s*(?:이내|까지|후까지|안에)"), r"\1일 이내"),
    # 'CABG POD 1~7일에', 'TKA 후 POD 1~7일에': post-operative days 1 to 7 after the operation
    (
        regex(
            r"(?:(?<=후)|(?<=후\s))?\s*POD\s*(\d+)\s*(?:~|-|–|에서)\s*(?:POD\s*)?(\d+)\s*일?\s*(?:사이|이내)?(?:에)?"
        ),
        r" 후 \1~\2일 사이에",
    ),
    # '제형·용량 구분 없이 성분 기준': any product of the drug, which the drug's name reads
    (
        regex(
            r"(?:제형|용량|함량|규격)\s*(?:[·/,및]\s*(?:제형|용량|함량|규격)\s*)?구분\s*없이\s*(?:성분\s*기준)?\.?"
        ),
        BLANK,
    ),
    # '사망 여부는 사망 테이블 기준.': where the deaths are read from, which is the only place
    (
        regex(
            r"(?:사망\s*)?(?:여부|정보|기록|일자)(?:는|은)\s*[^.。]{0,20}?테이블\s*기준(?:으로)?(?:\s*(?:함|합니다))?\s*\.?"
        ),
        BLANK,
    ),
    # '… 경우를 보려는 목적임.': what the list is for
    (
        regex(
            r"(?<=[.。])\s*[^.。]{1,80}?(?:보려는|확인하려는|파악하려는|찾으려는)\s*(?:목적|취지)(?:임|입니다|이에요)?\s*\.?\s*$"
        ),
        BLANK,
    ),
    # 'INR 3.0 초과 소견이 있는': a result above the threshold ('소견', a finding, adds nothing)
    (regex(r"(?<=초과|미만|이상|이하)\s*소견"), ""),
    # '폐렴 코드가 잡힌': coded, diagnosed
    (regex(r"(?:코드|진단|상병)\s*(?:가|이)?\s*잡힌"), "진단된"),
    # 'oxycodone 성분 진통제', 'amoxicillin 성분 약제': the drug of that ingredient
    (
        regex(
            r"(?P<d>[A-Za-z][\w-]*|[가-힣]{2,})\s*성분(?:의)?\s*(?:진통제|항생제|약제|약물|제제|제품|약)(?=[\s을를이가은는의,.)]|$)"
        ),
        _drug_form,
    ),
    # '과거 폐렴 이력자 제외': those with that history
    (regex(r"(?<=[가-힣A-Za-z)])\s*(이력|병력)자(?=[\s은는을를이가,.)]|$)"), r" \1이 있는 환자"),
    # 'PCI 재시술', 'PCI 재시술 한 환자': the named procedure done again
    # ('중재시술' is one word: only a '재시술' of its own, after a space or a Latin name)
    (regex(r"(?:(?<=[A-Za-z0-9)])|(?<=[A-Za-z0-9)]\s))재시술(?:을|를)?"), " 다시 시행"),
    # 'celecoxib 비사용자', '스타틴 미복용자': those never given the drug named
    (
        regex(
            r"(?<=[A-Za-z가-힣)])\s*(?:비|미)(?:사용|복용|투여|처방)\s*(?:자|군|환자)(?=[\s(을를이가은는와과,.]|$)"
        ),
        " 처방 이력이 없는 환자",
    ),
]


def recognise(text: str, lang: str, today: date) -> Recognised:
    notes: list[str] = []
    if lang == "en":
        text = read_sections_en(text)
        text, lead_in = _skip_lead_in(text)
        if lead_in:
            notes.append(say("lead_in_skipped", lang, text=lead_in))
        text = _rewrite(text, _REWRITES_EN)
        text, fixes = repair_typos(text)
        notes += [say("typo_read_as", lang, word=w, fix=f) for w, f in fixes]
    else:
        text = read_sections_ko(text)
        text = _rewrite(text, _REWRITES_KO)
        text = _INCLUDED_KINDS_KO.sub(
            lambda m: m[0].replace(
                m[1], re.sub(r"\s+(?:및|와|과)\s+|(?<=[가-힣])(?:와|과)\s+", " 또는 ", m[1])
            ),
            text,
        )
        text = _rewrite(text, [(rx, BLANK) for rx in _BLANKED_KO])
        text = _restatement_ko(text)
        text = _group_named_ko(text)
        text = _exclusion_list_ko(text)
        # '응급실로 내원한 폐렴 환자': the pneumonia that brought them to the ER, as '폐렴으로 응급실 내원한
        # 환자' (that visit's day); '응급실 방문 이력이 있는 폐렴 환자' stays any time
        text = _ER_SETTING_KO.sub(_er_setting_ko, text)
        # '고혈압, 당뇨, 고지혈증 3개 다 진단받은': all of those listed ('모두')
        text = re.sub(
            r"(?<=[가-힣A-Za-z)])\s+(?:[2-9]|두|세|네|다섯)\s*(?:개|가지)\s*(?:다|모두|전부)(?=\s)",
            lambda m: " 모두".ljust(len(m.group(0))),
            text,
        )
        # '다음 조건을 모두 만족하는 환자: (1) …, (2) …', '아래 조건을 모두 충족하는 환자 명단 추출을
        # 요청드립니다.\n1) …\n2) …', '가. …': a heading and item marks around the rules
        text = re.sub(
            r"(?:다음|아래|하기)\s*(?:의\s*)?조건(?:을|들을)?\s*(?:모두|전부)\s*(?:만족|충족)하는\s*(?:환자|대상자?)?"
            r"(?:\s*명단\s*(?:추출|제공)?\s*(?:을|를)?\s*(?:요청\s*드립니다|요청드립니다|요청합니다|부탁드립니다)\s*\.?)?\s*[:：]?",
            lambda m: " " * len(m.group(0)),
            text,
        )
        text = re.sub(r"(?<![\w)])\(\s*\d{1,2}\s*\)(?=\s)", lambda m: " " * len(m.group(0)), text)
        # each marked item is a clause of its own: '… 요청드립니다. 1) … 2) …', '가. … 나. …'
        if len(_ITEM_MARK_KO.findall(text)) >= 2:
            text = _ITEM_MARK_KO.sub(lambda m: ".".ljust(len(m.group(0))), text)
        # '입원 기간 중(입원일부터 퇴원일까지)': the stay, restated as its two ends
        text = re.sub(
            r"(?<=중)\s*\(\s*입원일?\s*(?:부터|~|-)\s*퇴원일?\s*(?:까지)?\s*\)",
            lambda m: " " * len(m.group(0)),
            text,
        )
        text = _body_part_restated_ko(text)
        text, framing = _skip_framing_ko(text)
        notes += [say("lead_in_skipped", lang, text=f) for f in framing]
        text = sino_to_digits(text)
        text, fixes = repair_typos_ko(text)
        text, latin_fixes = repair_typos(text, latin_only=True)
        fixes += latin_fixes
        notes += [say("typo_read_as", lang, word=w, fix=f) for w, f in fixes]
    # 'ICD-9-CM 99.25', 'KCD-7 E11': the vocabulary's name before a code says nothing the code does not
    text = VOCABULARY_NAME.sub(lambda m: " " * len(m.group(0)), text)
    pieces: list[Piece] = [Raw(text, 0)]
    pieces = apply(
        pieces, QUOTE, lambda m: Item(ItemKind.quote, m.group(1) or m.group(2), m.start(), m.end())
    )
    if lang == "en":
        pieces = apply(
            pieces,
            NAME_EN_WHOSE,
            lambda m: Item(ItemKind.name, m.group(0), m.start(), m.end(), NameData(None)),
        )
        pieces = apply(
            pieces,
            NAME_EN,
            lambda m: Item(
                ItemKind.name,
                m.group(0),
                m.start(),
                m.end(),
                NameData(NAME_KIND_WORDS[(m.group("kind") or m.group("kind2")).lower()]),
            ),
        )
    else:
        pieces = apply(
            pieces,
            NAME_KO_PRE,
            lambda m: Item(
                ItemKind.name, m.group(0), m.start(), m.end(), NameData(NAME_KIND_WORDS[m.group("kind")])
            ),
        )
        pieces = apply(
            pieces,
            NAME_KO_POST,
            lambda m: Item(ItemKind.name, m.group(0), m.start(), m.end(), NameData(None, post=True)),
        )
    if lang == "en":
        pieces = apply(pieces, REQUEST_EN, _request_en)
    else:
        pieces = apply(pieces, REQUEST_KO_POSSESSIVE, _request_ko_possessive)
        pieces = apply(pieces, REQUEST_KO_VERB, _request_ko_verb)
    pieces = recognise_dates(pieces, lang, today)
    if lang == "ko":
        pieces = apply(
            pieces, KO_AGE_AT_INDEX, lambda m: Item(ItemKind.filler, m.group(0), m.start(), m.end())
        )
    pieces = recognise_windows_ko(pieces) if lang == "ko" else recognise_windows_en(pieces)
    pieces = apply(
        pieces, INDEX_REF[lang], lambda m: Item(ItemKind.index_ref, m.group(0), m.start(), m.end())
    )
    pieces = recognise_demographics(pieces, lang)
    if lang == "en":
        pieces = recognise_at_event_en(pieces)
    pieces = apply(pieces, _imaging(lang), lambda m: _imaging_item(m, lang))
    pieces = apply(pieces, _body_imaging(lang), lambda m: _imaging_item(m, lang))
    pieces = _terms(pieces, lang)
    pieces = _excluded_together(pieces, lang)
    pieces = _event_words(pieces, lang)
    if lang == "en":
        pieces = recognise_quantities_en(pieces)
        pieces = apply(
            pieces,
            regex(rf"\b(?:{EN_NEGATION})\b", re.IGNORECASE),
            lambda m: Item(ItemKind.neg, m.group(0), m.start(), m.end()),
        )
        pieces = apply(
            pieces,
            regex(rf"\b(?:{EN_BOUNDARY})\b|;", re.IGNORECASE),
            lambda m: Item(ItemKind.boundary, m.group(0), m.start(), m.end()),
        )
        pieces = apply(
            pieces,
            regex(rf"\b(?:{EN_GENERIC_VERBS})\b", re.IGNORECASE),
            lambda m: Item(ItemKind.verb, m.group(0), m.start(), m.end(), VerbData()),
        )
    else:
        pieces = recognise_quantities_ko(pieces)
        pieces = apply(
            pieces, regex(KO_NEGATION), lambda m: Item(ItemKind.neg, m.group(0), m.start(), m.end())
        )
    pieces = _vague(pieces, lang)
    if lang == "ko":
        items = _day_of_clause(
            _care_verb_modifier(_after_aux(_age_over(_leftovers(pieces, lang, analyse(text)))))
        )
    else:
        items = _en_event_nouns(_en_anchor_verb(_en_care_participle(_leftovers(pieces, lang))))
    items = _merge_modifiers(_parentheses(_vague_made_exact(items), notes, lang), lang)
    items = _code_led(items, notes, lang)  # after the merge: 'E11' + 'diabetes' is one mention by then
    items = _bare_codes(items)
    items = _imaging_said_again(_body_part_lists(items, lang))
    if lang == "en":  # again: 'their first 99.25 *infusion*', a code read only now
        items = _en_event_nouns(items)
        items = _title_defined_after(_age_at_its_event(window_asides_en(_request_end_en(items))), text)
    return Recognised(items, notes)
