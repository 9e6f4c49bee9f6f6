"""Sentence → ordered list of typed items, by running the recognisers in a fixed order.

Order matters and is deliberate: dates before windows (so "after 2020" is a date, "after the
diagnosis" a window); windows and ages before bare numbers; imaging phrases before clinical terms
("chest CT" is imaging, not the procedure concept); clinical terms before event words ("bypass
surgery" is CABG, not "bypass" + "surgery"); event words before fillers. Whatever no recogniser
claims is tokenised by spaCy and classified as connector, filler or *unknown* — unknown words are
what the parser must ask about.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA
from spacy.lang.en.stop_words import STOP_WORDS

from cohort_engine.nlq.dates import MONTHS, recognise_dates
from cohort_engine.nlq.demographics import recognise_demographics
from cohort_engine.nlq.lexicon import aliases, lookup
from cohort_engine.nlq.nlp import find_terms_en, find_terms_ko, tokens
from cohort_engine.nlq.numbers import ENGLISH_NUMBERS
from cohort_engine.nlq.quantities import recognise_quantities_en, recognise_quantities_ko
from cohort_engine.nlq.text import HANGUL as HANGUL_RE
from cohort_engine.nlq.text import JOSA, Item, Piece, Raw, apply, strip_josa
from cohort_engine.nlq.vocab import (
    EN_BODY_PARTS,
    EN_BOUNDARY,
    EN_EVENT_WORDS,
    EN_FILLERS,
    EN_GENERIC_VERBS,
    EN_MODALITIES,
    EN_NEGATION,
    EN_REQUEST_IMAGES,
    EN_REQUEST_POSSESSIVES,
    EN_REQUEST_VERBS,
    EN_REQUEST_VERBS_ME,
    EN_REQUEST_WANT,
    EN_VAGUE,
    KO_BODY_PARTS,
    KO_EVENT_WORDS,
    KO_FILLERS,
    KO_MODALITIES,
    KO_NEGATION,
    KO_REQUEST_HEADS,
    KO_REQUEST_IMAGES,
    KO_REQUEST_PRONOUNS,
    KO_REQUEST_VERBS,
    KO_VAGUE,
)
from cohort_engine.nlq.windows import recognise_windows_en, recognise_windows_ko


@dataclass
class Recognised:
    items: list[Item]
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- typo repair (English)
GRAMMAR_WORDS = [
    "patients",
    "patient",
    "people",
    "diagnosed",
    "diagnosis",
    "diagnoses",
    "surgery",
    "surgeries",
    "operation",
    "operations",
    "procedure",
    "procedures",
    "prescribed",
    "prescription",
    "prescriptions",
    "medication",
    "medications",
    "medicine",
    "between",
    "within",
    "after",
    "before",
    "following",
    "excluding",
    "exclude",
    "without",
    "history",
    "admitted",
    "admission",
    "admissions",
    "hospitalized",
    "hospitalised",
    "hospitalization",
    "emergency",
    "department",
    "visit",
    "visits",
    "imaging",
    "ultrasound",
    "angiography",
    "echocardiography",
    "radiograph",
    "mammography",
    "tomography",
    "deceased",
    "months",
    "weeks",
    "years",
    "days",
    "women",
    "female",
    "females",
    "males",
    "older",
    "younger",
    "least",
    "exactly",
    "first",
    "prior",
    "previous",
    "during",
    "since",
    "through",
    "underwent",
    "received",
    "treated",
    "measured",
    "tested",
    "results",
    "values",
    "levels",
    "cohort",
    "those",
    "whose",
    "which",
    "never",
    "having",
    "followed",
    "subsequently",
    "later",
    "same",
    "diagnostic",
    "laboratory",
    "where",
    "aged",
    "under",
    "above",
    "below",
    "greater",
    "higher",
    "lower",
    "contains",
    "containing",
    "includes",
    "including",
    "named",
    "except",
    "other",
    "within",
    "preceding",
    "readmitted",
    "readmission",
    "readmissions",
    "rehospitalized",
    "hospitalisation",
    "hospitalizations",
    "deaths",
    "mortality",
    "dying",
    "expired",
    "prescriptions",
    "medicines",
    "intervention",
    "interventions",
    "operated",
    "scans",
    "images",
    "measurement",
    "measurements",
    "readings",
    "encounters",
    "outpatient",
    "inpatient",
    "presented",
    "presenting",
    "suffering",
    "suffered",
    "undergone",
    "undergoing",
    "administered",
    "dispensed",
    "initiated",
    "started",
    "taking",
    "using",
    "diagnostic",
    "pathology",
    "histology",
    "biopsy",
    "angiogram",
    "angiograms",
    "echocardiogram",
    "ultrasound",
    "mammogram",
    "radiograph",
    "computed",
    "magnetic",
    "resonance",
    "sonography",
    "managed",
    "receiving",
    "exceeded",
    "exceeding",
    "discharge",
    "discharged",
    "emergency",
    "department",
    "hospitalised",
    "export",
    "download",
    "dicom",
    "dicoms",
    "deliver",
    "provide",
    "attach",
    "forward",
]


@lru_cache(maxsize=1)
def _known_words() -> frozenset[str]:
    words = set(GRAMMAR_WORDS) | set(EN_FILLERS) | set(STOP_WORDS) | set(MONTHS) | set(ENGLISH_NUMBERS)
    for a in aliases():
        words.update(w.lower() for w in re.findall(r"[A-Za-z]+", a.text))
    return frozenset(words)


@lru_cache(maxsize=1)
def _targets() -> list[str]:
    lexicon_words = {w.lower() for a in aliases() for w in re.findall(r"[A-Za-z]{6,}", a.text)}
    return sorted(set(GRAMMAR_WORDS) | lexicon_words)


def repair_typos(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Correct misspelt words one edit (two for long words) away from a single known word."""
    known = _known_words()
    fixes: list[tuple[str, str]] = []
    out = text
    for tok, idx in reversed(tokens(text, "en")):
        w = tok.lower()
        if len(w) < 5 or not w.isalpha() or w in known or tok.isupper():
            continue
        limit = 2 if len(w) >= 9 else 1
        best = process.extract(w, _targets(), scorer=OSA.distance, score_cutoff=limit, limit=2)
        if not best or (len(best) > 1 and best[1][1] == best[0][1]):
            continue
        fix = best[0][0]
        fixes.append((tok, fix))
        out = out[:idx] + fix + out[idx + len(tok) :]
    return out, list(reversed(fixes))


KO_TYPOS = {
    "진딘": "진단",
    "진당": "진단",
    "수숧": "수술",
    "처뱡": "처방",
    "환지": "환자",
    "당뇨변": "당뇨병",
    "싱근경색": "심근경색",
    "심근경섹": "심근경색",
    "고혈앞": "고혈압",
    "사망헌": "사망한",
    "입웜": "입원",
}


def repair_typos_ko(text: str) -> tuple[str, list[tuple[str, str]]]:
    fixes = [(w, f) for w, f in KO_TYPOS.items() if w in text]
    for w, f in fixes:
        text = text.replace(w, f)
    return text, fixes


# ---------------------------------------------------------------- small recognisers
QUOTE = re.compile(r'"([^"]+)"|(?<![A-Za-z])\'([^\']+)\'(?![A-Za-z])')
NAME_EN = re.compile(
    r"\b(?:whose|with\s+(?:an?\s+)?|where\s+(?:the\s+)?|having\s+(?:an?\s+)?|and\s+(?:the\s+)?)?"
    r"(?P<kind>surgery|surgical|procedure|operation|drug|medication|prescription|diagnosis)\s+"
    r"(?:names?|titles?|descriptions?)\s+(?:contains?|containing|includes?|including|has|having|with|mentions?|"
    r"mentioning|matching|matches|like|is)\b(?:\s+the\s+words?)?|"
    r"\b(?:an?\s+)?(?P<kind2>surgery|procedure|operation|drug|medication)\s+(?:named|called|titled)(?:\s+(?:for|after))?\b",
    re.IGNORECASE,
)
NAME_EN_WHOSE = re.compile(
    r"\bwhose\s+(?:names?|titles?)\s+(?:contains?|containing|includes?|including|has|mentions?|matches|is\s+like)\b",
    re.IGNORECASE,
)
INDEX_REF = {
    "en": re.compile(
        r"\b(?:the\s+)?(?:index(?:\s+(?:date|event|day|diagnosis))?|baseline|cohort\s+entry|entry\s+date)\b",
        re.IGNORECASE,
    ),
    "ko": re.compile(r"기준일|기준\s*사건|인덱스\s*(?:날짜|일)?"),
}
NAME_KO_PRE = re.compile(r"(?P<kind>수술|시술|약품?|처방|진단)\s*(?:명|이름)\s*(?:에(?:는)?|이|중에|으로)?")
NAME_KO_POST = re.compile(
    r"(?:이|가|을|를)?\s*(?:포함된|포함되는|포함하는|들어간|들어가는|들어있는|적힌|붙은)\s*(?=수술|시술|약|처방)"
)
KIND_WORD = {
    "surgery": "surgery",
    "surgical": "surgery",
    "procedure": "procedure",
    "operation": "surgery",
    "drug": "drug",
    "medication": "drug",
    "prescription": "drug",
    "diagnosis": "diagnosis",
    "수술": "surgery",
    "시술": "procedure",
    "약": "drug",
    "약품": "drug",
    "처방": "drug",
    "진단": "diagnosis",
}


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
            rf"(?:(?<![가-힣])(?:{'|'.join(part_alts)})\s*(?:의\s*)?)?(?:{'|'.join(mod_alts)})"
            rf"(?:\s*\(\s*(?:{'|'.join(part2_alts)})\s*\))?(?:\s*(?:검사|촬영|영상|스캔|이미지|사진))?"
        )
        return re.compile(rx, re.IGNORECASE)
    rx = (
        rf"\b(?:(?:{'|'.join(part_alts)})\s+)?(?:{'|'.join(mod_alts)})\b"
        rf"(?:\s+(?:imaging\s+)?(?:scans?|studies|study|exams?|examinations?|images?|tests?)|\s+imaging)?"
        rf"(?:\s+(?:of\s+(?:the\s+)?)?(?:{'|'.join(part2_alts)})\b)?"
    )
    return re.compile(rx, re.IGNORECASE)


@lru_cache(maxsize=2)
def _body_imaging(lang: str) -> re.Pattern[str]:
    """'imaging of the chest', 'brain scan', '흉부 영상': a body part with a generic imaging word."""
    parts = KO_BODY_PARTS if lang == "ko" else EN_BODY_PARTS
    alts = [f"(?P<b{i}>{p})" for i, (p, _) in enumerate(parts)]
    alts2 = [f"(?P<c{i}>{p})" for i, (p, _) in enumerate(parts)]
    if lang == "ko":
        return re.compile(rf"(?<![가-힣])(?:{'|'.join(alts)})\s*(?:영상\s*(?:검사|촬영)?|촬영)")
    return re.compile(
        rf"\b(?:(?:imaging|scans?|images?|radiology|radiographs?)\s+of\s+(?:the\s+)?(?:{'|'.join(alts2)})"
        rf"|(?:{'|'.join(alts)})\s+(?:imaging|scans?|images?|radiology))\b",
        re.IGNORECASE,
    )


def _imaging_item(m: re.Match[str], lang: str) -> Item:
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
        "modality",
        m.group(0),
        m.start(),
        m.end(),
        {"modalities": list(dict.fromkeys(modalities)), "body_parts": list(dict.fromkeys(body))},
    )


# ---------------------------------------------------------------- imaging output requests
# "…; give me their CT scans within 30 days after the surgery", "… and their chest CTs", "환자의 흉부 CT
# 영상", "… CT 영상을 모아줘": the images to return for the cohort, not a rule of who qualifies. The
# marker item tells the grammars that the imaging events after it (Korean: in its clause) are output.
_DET_EN = r"(?:(?:all|any|each)\s+(?:of\s+)?)?(?:(?:their|the|these|those)\s+)?"
REQUEST_EN = re.compile(
    rf"(?:(?:[,;:.]|\b(?:and|plus|also|then)\b)\s*)?(?:\b(?:and\s+)?also\s+)?(?:\bplease\s+)?"
    rf"(?P<verb>\b(?:{EN_REQUEST_VERBS_ME})\s+(?:me|us)\b|\b(?:{EN_REQUEST_VERBS})\b|\b(?:{EN_REQUEST_WANT}))\s*{_DET_EN}"
    rf"|(?:^|[,;:.]|\b(?:and|plus|also|then|along\s+with|together\s+with|as\s+well\s+as)\b)\s*"
    rf"(?:(?:all|any)\s+(?:of\s+)?)?\b(?:{EN_REQUEST_POSSESSIVES})\s+",
    re.IGNORECASE,
)
REQUEST_IMAGES_EN = re.compile(rf"(?:{EN_REQUEST_IMAGES})\b", re.IGNORECASE)
PEOPLE_NEXT_EN = re.compile(
    r"(?:patients?|people|persons?|subjects|cases|individuals|pts|women|men)\b", re.IGNORECASE
)
REQUEST_KO_POSSESSIVE = re.compile(
    rf"(?P<head>{KO_REQUEST_HEADS})(?:들)?\s*의(?![가-힣])|(?<![가-힣])(?:{KO_REQUEST_PRONOUNS})\s*의(?![가-힣])"
)
REQUEST_KO_VERB = re.compile(
    rf"(?:을|를|도|만|은|는)?\s*(?:(?:전부|모두|다|같이|함께)\s*)?(?:{KO_REQUEST_VERBS})\s*"
    r"(?:줘요|줘|주세요|줄래요|줄래|주십시오|주실래요|달라|라)?(?![가-힣])"
)
REQUEST_IMAGES_KO = re.compile(KO_REQUEST_IMAGES, re.IGNORECASE)
GENERIC_TAIL_KO = re.compile(rf"(?:{KO_REQUEST_IMAGES}|파일|검사|촬영|자료|들)\s*$", re.IGNORECASE)
HEAD_KO = re.compile(rf"{KO_REQUEST_HEADS}")


@lru_cache(maxsize=1)
def _modality_end_ko() -> re.Pattern[str]:
    return re.compile(rf"(?:{_rx_words([p for p, _, _ in KO_MODALITIES])})\s*$", re.IGNORECASE)


PRIOR_AHEAD_EN = re.compile(r"(?:prior|previous|earlier|past)\s+", re.IGNORECASE)


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
    return Item("request", m.group(0), m.start(), m.end(), {})


def _images_in_ko(rest: str) -> bool:
    return bool(
        _imaging("ko").search(rest) or _body_imaging("ko").search(rest) or REQUEST_IMAGES_KO.search(rest)
    )


def _request_ko_possessive(m: re.Match[str]) -> Item | None:
    """'… 환자의 흉부 CT 영상': the head noun's images, when imaging words follow and no other head does."""
    rest = m.string[m.end() :]
    if not _images_in_ko(rest) or HEAD_KO.search(rest):
        return None
    return Item("end", m.group(0), m.start(), m.end(), {"head": bool(m.group("head")), "request": True})


def _request_ko_verb(m: re.Match[str]) -> Item | None:
    """'… CT 영상을 모아줘': a request verb whose object is imaging words closes a request clause."""
    before = m.string[: m.start()].rstrip()
    generic = False
    while (g := GENERIC_TAIL_KO.search(before)) is not None:
        generic = generic or bool(REQUEST_IMAGES_KO.fullmatch(g.group(0).strip()))
        before = before[: g.start()].rstrip()
    if not (generic or _modality_end_ko().search(before)):
        return None
    return Item("end", m.group(0), m.start(), m.end(), {"request_verb": True})


def _request_end_en(items: list[Item]) -> list[Item]:
    """'send me the chest CTs *of patients* with MI': the request ends where the cohort is named."""
    start = next((i for i, it in enumerate(items) if it.kind == "request"), None)
    if start is None:
        return items
    for j in range(start + 1, len(items)):
        it = items[j]
        if it.kind in ("request", "boundary"):
            break
        if it.kind != "prep" or it.get("word") not in ("of", "for", "from", "in", "among"):
            continue
        k = j + 1
        while (
            k < len(items)
            and items[k].kind == "filler"
            and items[k].text.lower() in ("the", "all", "those", "these", "our")
        ):
            k += 1
        nxt = items[k] if k < len(items) else None
        if nxt is not None and (
            nxt.kind in ("sex", "age") or nxt.text.lower() in PEOPLE_WORDS | {"everyone", "cohort"}
        ):
            items = [*items[:j], Item("request_end", it.text, it.start, it.end, {}), *items[j + 1 :]]
            break
    return items


def _terms(pieces: list[Piece], lang: str) -> list[Piece]:
    out: list[Piece] = []
    for p in pieces:
        if isinstance(p, Item):
            out.append(p)
            continue
        found = find_terms_ko(p.text) if lang == "ko" else find_terms_en(p.text)
        pos = 0
        for a, b, key in found:
            if a > pos:
                out.append(Raw(p.text[pos:a], p.start + pos))
            text = p.text[a:b]
            out.append(
                Item(
                    "term",
                    text,
                    p.start + a,
                    p.start + b,
                    {"key": key, "domains": sorted({e.domain.value for e in lookup(text)} or {"?"})},
                )
            )
            pos = b
        if pos < len(p.text):
            out.append(Raw(p.text[pos:], p.start + pos))
    return [p for p in out if not (isinstance(p, Raw) and not p.text.strip())]


def _event_words(pieces: list[Piece], lang: str) -> list[Piece]:
    if lang == "ko":
        alts = [f"(?P<k{i}>{p})" for i, (p, _) in enumerate(KO_EVENT_WORDS)]
        drug_word = r"(?P<drugword>(?<![가-힣])약(?=\s|$|을|를|이|은|도|에|의|으로|만|물|제))"
        rx = re.compile(f"{drug_word}|" + "|".join(alts))

        def make_ko(m: re.Match[str]) -> Item:
            if m.group("drugword"):
                return Item("event", m.group(0), m.start(), m.end(), {"kind": "drug", "pos": "noun"})
            i = next(int(k[1:]) for k, v in m.groupdict().items() if v is not None and k.startswith("k"))
            kind = KO_EVENT_WORDS[i][1]
            ends = bool(re.fullmatch(r"걸린|걸렸|앓(?:는|고|았)|숨진|숨졌|죽은", m.group(0)))
            anchor_noun = bool(re.search(r"일자?$", m.group(0)))
            return Item(
                "event",
                m.group(0),
                m.start(),
                m.end(),
                {"kind": kind, "pos": "verb" if ends else "noun", "ends": ends, "anchor_noun": anchor_noun},
            )

        return apply(pieces, rx, make_ko)
    alts = [f"(?P<k{i}>\\b(?:{p})\\b)" for i, (p, _, _) in enumerate(EN_EVENT_WORDS)]
    rx = re.compile("|".join(alts), re.IGNORECASE)

    def make_en(m: re.Match[str]) -> Item:
        i = next(int(k[1:]) for k, v in m.groupdict().items() if v is not None)
        _, kind, pos = EN_EVENT_WORDS[i]
        text = m.group(0).strip()
        # 'ER'/'ED' only in capitals: 'ed' and 'er' are word pieces, not departments.
        if kind == "er_visit" and re.fullmatch(r"e\.?[rd]\.?", text, re.IGNORECASE) and not text[0].isupper():
            return None  # type: ignore[return-value]
        return Item("event", text, m.start(), m.end(), {"kind": kind, "pos": pos})

    return apply(pieces, rx, make_en)


def _vague(pieces: list[Piece], lang: str) -> list[Piece]:
    table = KO_VAGUE if lang == "ko" else EN_VAGUE
    for pattern, what, choices in table:
        rx = re.compile(
            pattern if lang == "ko" else rf"\b(?:{pattern})\b", 0 if lang == "ko" else re.IGNORECASE
        )
        pieces = apply(
            pieces,
            rx,
            lambda m, what=what, choices=choices: Item(
                "vague", m.group(0), m.start(), m.end(), {"what": what, "choices": choices}
            ),
        )
    return pieces


# ---------------------------------------------------------------- leftovers
EN_CONJ = {
    ",": ",",
    "and": "and",
    "&": "and",
    "plus": "and",
    "or": "or",
    "and/or": "or",
    "/": "or",
    "nor": "or",
}
EN_PREP = {
    "with",
    "for",
    "of",
    "on",
    "from",
    "to",
    "in",
    "at",
    "by",
    "about",
    "regarding",
    "due",
    "because",
    "during",
    "through",
    "via",
    "into",
}
EN_PRONOUNS = {"it", "this", "them", "these", "those"}
EN_FINDING_VERBS = {
    "shows",
    "show",
    "showed",
    "showing",
    "revealed",
    "reveals",
    "revealing",
    "confirmed",
    "confirming",
    "demonstrated",
    "demonstrating",
    "indicated",
    "indicating",
}
EN_VERBS = {
    "had",
    "has",
    "have",
    "having",
    "received",
    "receiving",
    "receive",
    "receives",
    "got",
    "get",
    "gets",
    "getting",
    "treated",
    "underwent",
    "experienced",
    "developed",
    "suffered",
    "showed",
    "showing",
    "started",
    "starting",
    "initiated",
    "began",
    "begun",
    "commenced",
    "needed",
    "required",
}
EN_BOUNDARY_WORDS = {"who", "whose", "whom", "which", "that", "where", ";", "but", "while", "whereas"}
JOSA_WORDS = {j for j, _ in JOSA}
KO_CONJ = {
    "및": "and",
    "그리고": "and",
    "와": "and",
    "과": "and",
    "하고": "and",
    "랑": "and",
    "이랑": "and",
    "또는": "or",
    "혹은": "or",
    "이나": "or",
    "나": "or",
    "이거나": "or",
    "거나": "or",
    "아니면": "or",
    ",": ",",
}
KO_ENDERS = {
    "받은",
    "받고",
    "받았던",
    "받으며",
    "받아",
    "받아서",
    "받았고",
    "있는",
    "있고",
    "있었던",
    "있으며",
    "있으면서",
    "있던",
    "한",
    "하고",
    "했던",
    "하는",
    "하며",
    "하면서",
    "해서",
    "했고",
    "된",
    "되고",
    "되었던",
    "되는",
    "됐던",
    "인",
    "이고",
    "이며",
    "이면서",
    "이었던",
    "였던",
    "중인",
    "찍은",
    "맞은",
    "나온",
    "보인",
    "확인된",
    "측정된",
    "환자",
    "환자들",
    "사람",
    "사람들",
    "대상자",
    "대상자들",
    "분들",
    "중",
    "중에",
    "중에서",
    "가운데",
    "진단받은",
    "처방받은",
    "시행받은",
    "투여받은",
    "수술받은",
    "치료받은",
    "치료한",
    "시행한",
    "시행된",
    "처방된",
    "진단된",
    "받은후",
    "있었고",
    "받았으며",
    "했으며",
}
KO_HEAD = {"환자", "환자들", "사람", "사람들", "대상자", "대상자들", "분", "분들"}
KO_ALL = {"모두", "둘다", "전부", "다"}
KO_ENDERS |= KO_HEAD | {
    "들어간",
    "포함된",
    "들어있는",
    "포함되는",
    "적힌",
    "먹는",
    "먹고",
    "먹은",
    "온",
    "왔던",
    "있던",
    "찍고",
    "맞고",
    "다녀간",
    "방문했던",
    "받았었던",
    "발생한",
    "발생된",
    "생긴",
    "나타난",
    "발생했던",
    "입은",
    "당한",
}
KO_VERB_FORM = re.compile(
    r"(?:한|된|하는|되는|했던|됐던|하고|되고|해서|돼서|하며|되며|했고|됐고|시킨|받은|받고|있는|없는)$"
)
KO_PARTICLE_CONJ = {
    "이나": "or",
    "나": "or",
    "이거나": "or",
    "거나": "or",
    "과": "and",
    "와": "and",
    "하고": "and",
    "랑": "and",
    "이랑": "and",
}


def _leftovers(pieces: list[Piece], lang: str) -> list[Item]:
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
                out.extend(_classify_ko(tok, a, b))
    return _merge_unknown(out)


def _punctuation_only(tok: str) -> bool:
    """No word characters and no pictographs: '💥' or '🫀' is something the user meant and we could not
    read (asked back), not punctuation to skip."""
    return not re.search(r"\w", tok) and not any(unicodedata.category(ch) == "So" for ch in tok)


def _classify_en(tok: str, low: str, a: int, b: int) -> Item:
    if low in EN_CONJ:
        return Item("conj", tok, a, b, {"op": EN_CONJ[low]})
    if low in EN_BOUNDARY_WORDS:
        return Item("boundary", tok, a, b, {})
    if low in EN_FINDING_VERBS:
        return Item("verb", tok, a, b, {"finding": True})
    if low in EN_VERBS:
        return Item("verb", tok, a, b, {})
    if low in EN_PREP:
        return Item("prep", tok, a, b, {"word": low})
    if low in ("it", "this"):
        return Item("pronoun", tok, a, b, {})
    if tok.startswith("'"):
        return Item("filler", tok, a, b, {})
    if low in EN_FILLERS or _punctuation_only(tok):
        return Item("filler", tok, a, b, {})
    return Item("unknown", tok, a, b, {})


def _classify_ko(tok: str, a: int, b: int) -> list[Item]:
    if tok in KO_CONJ:
        return [Item("conj", tok, a, b, {"op": KO_CONJ[tok]})]
    if tok in KO_ENDERS:
        return [Item("end", tok, a, b, {"head": tok in KO_HEAD})]
    if tok in KO_ALL:
        return [Item("all", tok, a, b, {})]
    if _punctuation_only(tok) or tok in JOSA_WORDS:
        return [Item("filler", tok, a, b, {})]
    stem, josa = strip_josa(tok)
    if stem in KO_ENDERS:
        return [Item("end", tok, a, b, {"head": stem in KO_HEAD})]
    if stem in KO_ALL:
        return [Item("all", tok, a, b, {})]
    if stem in KO_FILLERS or tok in KO_FILLERS:
        return [Item("filler", tok, a, b, {})]
    pieces = _segment_ko(tok)
    if pieces is not None:
        out_items: list[Item] = []
        pos = a
        for piece in pieces:
            out_items.extend(_classify_ko(piece, pos, pos + len(piece)))
            pos += len(piece)
        return out_items
    if len(tok) >= 2 and (KO_VERB_FORM.search(tok) or (len(stem) == 1 and josa in ("은", "는", "을", "던"))):
        return [
            Item("end", tok, a, b, {"verb": True})
        ]  # an unlisted verb ('시작한', '넣은'): ends the clause
    out = [Item("unknown", stem, a, a + len(stem), {})]
    if josa in KO_PARTICLE_CONJ:
        out.append(Item("conj", josa, a + len(stem), b, {"op": KO_PARTICLE_CONJ[josa]}))
    return out


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


CONTENT_INSIDE = {
    "term",
    "event",
    "modality",
    "date",
    "window",
    "compare",
    "age",
    "sex",
    "quote",
    "name",
    "exclusive",
}
PEOPLE_WORDS = {"patients", "patient", "cases", "subjects", "people", "pts", "persons", "individuals"}


def _parentheses(items: list[Item], notes: list[str], lang: str) -> list[Item]:
    """'(종류 무관)', '(greatest dimension)': asides are dropped and noted; '(PCI or bypass)' after a
    mention lists alternatives to it; other brackets are read as if they were not there."""
    out: list[Item] = []
    i = 0
    while i < len(items):
        it = items[i]
        if it.text.strip() == "(":
            j = next((k for k in range(i + 1, len(items)) if items[k].text.strip() == ")"), None)
            if j is not None:
                inner = items[i + 1 : j]
                kinds = {x.kind for x in inner}
                if not kinds & CONTENT_INSIDE:
                    words = " ".join(x.text for x in inner).strip()
                    if words:
                        notes.append(
                            f"ignored the aside “({words})”"
                            if lang == "en"
                            else f"괄호 안 설명 “({words})”은(는) 조건에 넣지 않았습니다"
                        )
                    i = j + 1
                    continue
                prev = next((x for x in reversed(out) if x.kind != "filler"), None)
                if (
                    prev is not None
                    and prev.kind in ("term", "unknown")
                    and kinds <= {"term", "unknown", "conj", "filler"}
                ):
                    out.append(Item("conj", "(", it.start, it.end, {"op": "or", "paren": True}))
                    out.extend(inner)
                    i = j + 1
                    continue
                out.extend(inner)
                i = j + 1
                continue
        out.append(it)
        i += 1
    return out


PARTICIPLES = {
    "started",
    "initiated",
    "begun",
    "commenced",
    "received",
    "given",
    "taken",
    "used",
    "performed",
    "done",
    "prescribed",
    "administered",
    "needed",
    "required",
}
LAST_WORDS = {"last", "latest", "final", "most recent", "recent", "마지막", "최종"}


def _merge_modifiers(items: list[Item], lang: str) -> list[Item]:
    """'viral sinusitis', 'packed red cell transfusion': an unknown word right before a mention is part
    of it. An unknown phrase right before 'patients' is a mention too ('acute bronchitis patients')."""
    out: list[Item] = []
    for k, it in enumerate(items):
        prev = out[-1] if out else None
        if (
            it.kind == "term"
            and prev is not None
            and prev.kind == "unknown"
            and prev.text.lower() in LAST_WORDS
        ):
            out[-1] = Item(
                "vague",
                prev.text,
                prev.start,
                prev.end,
                {
                    "what": "unsupported",
                    "reason": f"“{prev.text} {it.text}” (one particular measurement of a person) is not supported; rules "
                    "count any event that matches."
                    if lang == "en"
                    else f"“{prev.text} {it.text}”(환자별 특정 한 번의 측정)은 지원하지 않습니다. 조건에 맞는 모든 측정을 셉니다.",
                    "choices": [
                        f"any {it.text} in a period, e.g. '{it.text} above … in 2023'"
                        if lang == "en"
                        else f"기간 안의 {it.text} (예: '2023년 {it.text} 7% 이상')"
                    ],
                },
            )
            out.append(it)
            continue
        if (
            it.kind == "term"
            and prev is not None
            and prev.kind == "unknown"
            and 0 <= it.start - prev.end <= 1
            and not prev.get("head")
            and not (HANGUL_RE.search(prev.text) and len(prev.text) < 2)
        ):
            out[-1] = Item(
                "term",
                prev.text + " " * (it.start - prev.end) + it.text,
                prev.start,
                it.end,
                {**it.data, "modified": True},
            )
            continue
        if it.kind == "verb" and prev is not None and prev.kind == "term" and it.text.lower() in PARTICIPLES:
            it = Item(
                "verb", it.text, it.start, it.end, {**it.data, "participle": True}
            )  # 'metformin started …'
        if it.kind == "unknown":
            nxt = items[k + 1] if k + 1 < len(items) else None
            if nxt is not None and nxt.kind == "filler" and nxt.text.lower() in PEOPLE_WORDS:
                it = Item("unknown", it.text, it.start, it.end, {**it.data, "head": True})
        out.append(it)
    return out


def _merge_unknown(items: list[Item]) -> list[Item]:
    """Adjacent unknown words are one phrase ('blue hair', '사르코이드증'), and so is 'laceration of the
    hand': an unknown word, 'of (the)', an unknown word."""
    out: list[Item] = []
    for it in items:
        if it.kind == "unknown" and out and out[-1].kind == "unknown":
            prev = out[-1]
            out[-1] = Item("unknown", prev.text + " " + it.text, prev.start, it.end, {})
            continue
        if it.kind == "unknown" and out and out[-1].text.lower() in ("of", "the"):
            k = len(out) - 1
            while k > 0 and out[k].kind in ("prep", "filler") and out[k].text.lower() in ("of", "the"):
                k -= 1
            if out[k].kind == "unknown" and any(x.text.lower() == "of" for x in out[k + 1 :]):
                first = out[k]
                words = " ".join([first.text, *(x.text for x in out[k + 1 :]), it.text])
                out[k:] = [Item("unknown", words, first.start, it.end, {})]
                continue
        out.append(it)
    return out


# ---------------------------------------------------------------- the pipeline
def recognise(text: str, lang: str, today: date) -> Recognised:
    notes: list[str] = []
    if lang == "en":
        text = re.sub(r"\bw/o\b", "without", text, flags=re.IGNORECASE)
        text = re.sub(r"\bw/(?=\s)", "with", text, flags=re.IGNORECASE)
        # '90d', '24h', '6mo' → '90 d', '24 h', '6 mo'; 'PCIs' → 'PCI' (a plural abbreviation is the same mention)
        text = re.sub(
            r"(?<![\w.])(\d+)(d|days?|wks?|weeks?|mos?|months?|yrs?|years?|h|hrs?|hours?)\b", r"\1 \2", text
        )
        text = re.sub(r"\b([A-Z]{2,5})s\b", r"\1", text)
        text, fixes = repair_typos(text)
        notes += [f"read “{w}” as “{f}”" for w, f in fixes]
    else:
        text, fixes = repair_typos_ko(text)
        notes += [f"“{w}”을(를) “{f}”(으)로 읽었습니다" for w, f in fixes]
    pieces: list[Piece] = [Raw(text, 0)]
    pieces = apply(pieces, QUOTE, lambda m: Item("quote", m.group(1) or m.group(2), m.start(), m.end(), {}))
    if lang == "en":
        pieces = apply(
            pieces,
            NAME_EN_WHOSE,
            lambda m: Item("name", m.group(0), m.start(), m.end(), {"kind": None, "post": False}),
        )
        pieces = apply(
            pieces,
            NAME_EN,
            lambda m: Item(
                "name",
                m.group(0),
                m.start(),
                m.end(),
                {"kind": KIND_WORD[(m.group("kind") or m.group("kind2")).lower()], "post": False},
            ),
        )
    else:
        pieces = apply(
            pieces,
            NAME_KO_PRE,
            lambda m: Item(
                "name", m.group(0), m.start(), m.end(), {"kind": KIND_WORD[m.group("kind")], "post": False}
            ),
        )
        pieces = apply(
            pieces,
            NAME_KO_POST,
            lambda m: Item("name", m.group(0), m.start(), m.end(), {"kind": None, "post": True}),
        )
    if lang == "en":
        pieces = apply(pieces, REQUEST_EN, _request_en)
    else:
        pieces = apply(pieces, REQUEST_KO_POSSESSIVE, _request_ko_possessive)
        pieces = apply(pieces, REQUEST_KO_VERB, _request_ko_verb)
    pieces = recognise_dates(pieces, lang, today)
    pieces = recognise_windows_ko(pieces) if lang == "ko" else recognise_windows_en(pieces)
    pieces = apply(pieces, INDEX_REF[lang], lambda m: Item("index_ref", m.group(0), m.start(), m.end(), {}))
    pieces = recognise_demographics(pieces, lang)
    pieces = apply(pieces, _imaging(lang), lambda m: _imaging_item(m, lang))
    pieces = apply(pieces, _body_imaging(lang), lambda m: _imaging_item(m, lang))
    pieces = _terms(pieces, lang)
    pieces = _event_words(pieces, lang)
    if lang == "en":
        pieces = recognise_quantities_en(pieces)
        pieces = apply(
            pieces,
            re.compile(rf"\b(?:{EN_NEGATION})\b", re.IGNORECASE),
            lambda m: Item("neg", m.group(0), m.start(), m.end(), {}),
        )
        pieces = apply(
            pieces,
            re.compile(rf"\b(?:{EN_BOUNDARY})\b|;", re.IGNORECASE),
            lambda m: Item("boundary", m.group(0), m.start(), m.end(), {}),
        )
        pieces = apply(
            pieces,
            re.compile(rf"\b(?:{EN_GENERIC_VERBS})\b", re.IGNORECASE),
            lambda m: Item("verb", m.group(0), m.start(), m.end(), {}),
        )
    else:
        pieces = recognise_quantities_ko(pieces)
        pieces = apply(
            pieces, re.compile(KO_NEGATION), lambda m: Item("neg", m.group(0), m.start(), m.end(), {})
        )
    pieces = _vague(pieces, lang)
    items = _merge_modifiers(_parentheses(_leftovers(pieces, lang), notes, lang), lang)
    if lang == "en":
        items = _request_end_en(items)
    return Recognised(items, notes)
