"""The parser's view of the bilingual clinical lexicon (``cohort_engine/data/lexicon.json``).

The parser needs the lexicon for one job: to find *mentions* — which words of a sentence name a
clinical concept, and what kind of event that concept is (a drug, a diagnosis …). Mapping mentions
to codes is the resolver's job (``schema_catalog.resolve``). Both read the same JSON file, so a term
added there is both recognised and resolved; nlq reads it as data and imports no code from the
later stage.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from cohort_engine.plurals import plural_of, singulars
from cohort_engine.spec import Domain

# Abbreviations of three letters or fewer match in any case only when people really type them so;
# the others ('RA', 'AF', 'Na', 'Cr' …) must be written with capitals, or plain words would match.
LOWERCASE_OK = {
    "mi",
    "ami",
    "cad",
    "dm",
    "htn",
    "chf",
    "copd",
    "cva",
    "pci",
    "ecg",
    "ekg",
    "egd",
    "uti",
    "bph",
    "ckd",
    "gib",
    "t2dm",
    "ppi",
    "ldl",
    "hdl",
    "crp",
    "inr",
    "bnp",
    "psa",
    "cea",
    "wbc",
    "bun",
    "tsh",
    "bmi",
    "sbp",
    "dbp",
    "ihd",
    "chd",
    "evt",
    "tpa",
    "ntg",
    "asa",
    "gerd",
    "pud",
    "mdd",
    "lbp",
    "crc",
    "hct",
    "fbs",
    "a1c",
    "dm2",
    "cabg",
    "afib",
    "nsclc",
    "sclc",
    "ugib",
    "ptca",
    "dapt",
    "tni",
    "mtx",
    "ctni",
    "5fu",
}


@dataclass(frozen=True)
class Entry:
    key: str
    domain: Domain
    en: tuple[str, ...]
    ko: tuple[str, ...]
    treated_by: tuple[str, ...]
    #: A coded answer of another entry's observation ('current smoker' of 'smoking_status'): read as that
    #: observation with this answer, never as a concept of its own.
    answer_of: str | None = None
    #: The entry's codes as written ('C16', 'I21', '36.1'), of any vocabulary: a code quoted in the
    #: question names the same thing as the entry's words ('gastric cancer … first-ever C16 dx').
    codes: tuple[str, ...] = ()

    def names_code(self, code: str) -> bool:
        """Is the written ``code`` one of this entry's codes, or a code inside one ('C16.9' in 'C16')?"""
        return any(code_within(code, k) for k in self.codes)


def code_within(code: str, broad: str) -> bool:
    """Is ``code`` the code ``broad`` or one inside it, as classification codes nest by their written form:
    'C16.9' and 'C169' in 'C16', '43.59' in '43.5', '36.12' in '36.1'. Codes of other shapes (SNOMED's
    and RxNorm's numbers, ranges such as 'I20-I25') are inside only themselves."""
    c, b = code.strip().upper(), broad.strip().upper()
    if c == b:
        return True
    if re.search(r"\s|-", b) or b.isdigit():
        return False
    return c.startswith(b + ".") or (c.startswith(b) and (len(b) == 3 or "." in b) and c[len(b) :].isalnum())


def codes_named(text: str) -> set[str]:
    """Every code of the entries ``text`` names."""
    return {c for e in lookup(text) for c in e.codes}


def narrower(codes: set[str], broad: set[str], *, each: bool = False) -> bool:
    """Do ``codes`` name less than ``broad``: each one inside a code of ``broad``, and the two not the
    same set (``each``: every one strictly inside, none equal to a code of ``broad``)? A class and one of
    its drugs, a colectomy and a sigmoidectomy."""
    if not codes or not broad or codes == broad:
        return False
    return all(any(code_within(c, b) and (not each or c != b) for b in broad) for c in codes)


@dataclass(frozen=True)
class Alias:
    """One written form of an entry: ``case`` is 'any' or 'upper' (see LOWERCASE_OK)."""

    text: str
    key: str
    case: str


def compact(text: str) -> str:
    """Lower case without spaces and hyphens: '관상 동맥 질환' == '관상동맥질환',
    'NT-proBNP' == 'ntprobnp'."""
    return re.sub(r"[\s\-_.'’]+", "", text).lower()


@lru_cache(maxsize=1)
def entries() -> dict[str, Entry]:
    raw = json.loads(resources.files("cohort_engine").joinpath("data/lexicon.json").read_text("utf-8"))
    return {
        e["key"]: Entry(
            e["key"],
            Domain(e["domain"]),
            tuple(e.get("en", ())),
            tuple(e.get("ko", ())),
            tuple(e.get("treated_by", ())),
            e.get("answer_of"),
            tuple(code for codes in e.get("codes", {}).values() for code in codes),
        )
        for e in raw["entries"]
    }


@lru_cache(maxsize=1)
def aliases() -> list[Alias]:
    out: list[Alias] = []
    for e in entries().values():
        for a in dict.fromkeys([*e.en, *e.ko]):
            short = len(compact(a)) <= 3 and re.fullmatch(r"[A-Za-z0-9]+", a) is not None
            case = "upper" if short and a.lower() not in LOWERCASE_OK else "any"
            out.append(Alias(a, e.key, case))
    written = {compact(alias.text) for alias in out}
    for alias in list(out):
        plural = plural_of(alias.text)
        if plural is not None and compact(plural) not in written:
            written.add(compact(plural))
            out.append(Alias(plural, alias.key, alias.case))
    return out


@lru_cache(maxsize=1)
def _by_compact() -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for a in aliases():
        index.setdefault(compact(a.text), []).append(a.key)
    return {k: tuple(dict.fromkeys(v)) for k, v in index.items()}


def lookup(text: str) -> list[Entry]:
    """Entries whose aliases are written like ``text`` (ignoring case, spaces and hyphens; an English
    plural too: 'biopsies', 'echoes', 'infusions')."""
    index = _by_compact()
    key = compact(text)
    keys = index.get(key) or next((index[s] for s in singulars(key) if s in index), ())
    return [entries()[k] for k in keys]


def answer_of(text: str) -> str | None:
    """The entry whose observation ``text`` is a coded answer of ('current smoker' → 'smoking_status')."""
    return next((e.answer_of for e in lookup(text) if e.answer_of), None)


@lru_cache(maxsize=1)
def scanner() -> dict[str, list[tuple[str, Alias]]]:
    """Compact aliases grouped by their first character, longest first: the Korean term scanner."""
    table: dict[str, list[tuple[str, Alias]]] = {}
    for a in aliases():
        c = compact(a.text)
        if c:
            table.setdefault(c[0], []).append((c, a))
    for v in table.values():
        v.sort(key=lambda ca: -len(ca[0]))
    return table
