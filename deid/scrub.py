"""Free-text scrubbing (descriptions, comments, notes, reports) with Presidio, fully offline.

presidio-analyzer normally loads a spaCy NER model (and tries to download one).  Here it runs on its
``NoOpNlpEngine`` - no model, no download, no network - with regex recognizers only:

* Korean resident registration numbers (``YYMMDD-NNNNNNN``), Korean phone numbers (mobile, area
  codes, ``+82``), e-mail addresses, MRNs (configurable regexes from the policy), dates in Korean and
  English forms, Korean road addresses, and names introduced by a title or honorific;
* a per-call deny list built from *every known identifying value of that patient* (name parts in
  Latin and Hangul, MRN and other IDs, birth date in many spellings, address, phone): without NER
  this is what finds names, and it is exact for the patient the text belongs to.

Each finding becomes a typed placeholder (``[NAME]``, ``[MRN]``, ``[DATE]``, ``[RRN]``, ``[PHONE]``,
``[EMAIL]``, ``[ADDRESS]``) via presidio-anonymizer's ``replace`` operator.

Startup cost: the analyzer and anonymizer are built once per process (per MRN-pattern set) and the
presidio import itself is deferred until the first call, so ``deid.policy`` users never pay for it.
Results are memoised per (text, identifiers) because series/instance descriptions repeat.
Nothing here logs text or identifiers; presidio's own loggers are capped at WARNING.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cohort_engine.deid.policy import ReleasePolicy

__all__ = [
    "ENTITIES",
    "expand_identifiers",
    "get_analyzer",
    "scrub_text",
]

#: Entity type -> placeholder written into the text.
ENTITIES: dict[str, str] = {
    "NAME": "[NAME]",
    "MRN": "[MRN]",
    "DATE": "[DATE]",
    "RRN": "[RRN]",
    "PHONE": "[PHONE]",
    "EMAIL": "[EMAIL]",
    "ADDRESS": "[ADDRESS]",
}

_LANG = "en"  # recognizers are regex-only and language-agnostic; one language tag serves en + ko

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_D = r"(?<!\d)"
_ND = r"(?!\d)"

# (entity, name, regex, score).  Scores order conflicts: a deny-list hit (1.0) beats everything.
_PATTERNS: tuple[tuple[str, str, str, float], ...] = (
    (
        "RRN",
        "kr_rrn",
        _D + r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?[-‐–]?\s?[1-8]\d{6}" + _ND,
        0.95,
    ),
    ("EMAIL", "email", r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+", 0.95),
    ("PHONE", "kr_mobile", _D + r"01[016789][-.\s]?\d{3,4}[-.\s]?\d{4}" + _ND, 0.9),
    ("PHONE", "kr_landline", _D + r"0(?:2|[3-6][1-5]|70)[-.\s)]\s?\d{3,4}[-.\s]?\d{4}" + _ND, 0.9),
    (
        "PHONE",
        "kr_intl",
        r"\+82[-.\s]?(?:\(0\))?\s?(?:1[016789]|2|[3-6][1-5]|70)[-.\s)]?\s?\d{3,4}[-.\s]?\d{4}" + _ND,
        0.9,
    ),
    ("DATE", "date_ko", _D + r"\d{4}\s*년\s*\d{1,2}\s*월(?:\s*\d{1,2}\s*일)?", 0.8),
    (
        "DATE",
        "date_ymd",
        _D + r"(?:19|20)\d{2}\s?[-./]\s?(?:0?[1-9]|1[0-2])\s?[-./]\s?(?:0?[1-9]|[12]\d|3[01])\.?" + _ND,
        0.8,
    ),
    (
        "DATE",
        "date_dmy",
        _D + r"(?:0?[1-9]|[12]\d|3[01])[-./](?:0?[1-9]|1[0-2])[-./](?:19|20)\d{2}" + _ND,
        0.75,
    ),
    ("DATE", "date_compact", _D + r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])" + _ND, 0.6),
    ("DATE", "date_mdy_en", r"\b" + _MONTHS + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{2}" + _ND, 0.8),
    (
        "DATE",
        "date_dmy_en",
        _D + r"\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTHS + r"\.?,?\s+(?:19|20)\d{2}" + _ND,
        0.8,
    ),
    ("DATE", "date_my_en", r"\b" + _MONTHS + r"\.?\s+(?:19|20)\d{2}" + _ND, 0.7),
    (
        "ADDRESS",
        "kr_road_address",
        r"[가-힣]{1,10}(?:특별시|광역시|특별자치시|특별자치도|시|도)\s+[가-힣0-9]{1,10}(?:시|군|구)"
        r"(?:\s+[가-힣0-9]{1,10}(?:구|읍|면|동))?\s+[가-힣0-9.]{1,20}(?:로|길)\s*\d{1,5}(?:-\d{1,5})?"
        r"(?:\s*,?\s*\d{1,5}\s*동)?(?:\s*\d{1,5}\s*호)?",
        0.85,
    ),
    # Case matters for a capitalised name after a title: scoped (?-i:) overrides presidio's IGNORECASE.
    (
        "NAME",
        "en_title_name",
        r"(?<=\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s{1,3})(?-i:[A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)\b",
        0.7,
    ),
    (
        "NAME",
        "ko_honorific_name",
        r"(?<![가-힣])(?!선생|환자|보호|고객|손님|부모|아버|어머|할머|할아|교수|원장|과장|간호|기사|여러분)"
        r"[가-힣]{2,4}(?=\s?(?:님|씨)(?:께서|에게|한테|[께의가이은는을를도와과]|(?![가-힣])))",
        0.6,
    ),
)

# Fast gate: every pattern above (and the default MRN patterns) needs a digit, '@', a title word or an
# honorific.  Text without any of them (and without a deny-list term) cannot produce a finding, so
# presidio is skipped for it.  With custom MRN patterns the gate is not used.
_GATE = re.compile(r"[0-9@님씨]|\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\b", re.IGNORECASE)

for _name in ("presidio-analyzer", "presidio-anonymizer"):
    logging.getLogger(_name).setLevel(logging.WARNING)

_BUILD_LOCK = threading.Lock()


class _Engines:
    """The analyzer and anonymizer, built once and shared (both are thread-safe for reads)."""

    def __init__(self, mrn_patterns: tuple[str, ...]) -> None:
        from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig

        grouped: dict[str, list[Any]] = {}
        for entity, name, rx, score in _PATTERNS:
            grouped.setdefault(entity, []).append(Pattern(name=name, regex=rx, score=score))
        for i, rx in enumerate(mrn_patterns):
            grouped.setdefault("MRN", []).append(Pattern(name=f"mrn_{i}", regex=rx, score=0.85))
        recognizers = [
            PatternRecognizer(
                supported_entity=entity,
                name=f"cohort_{entity.lower()}",
                patterns=patterns,
                supported_language=_LANG,
            )
            for entity, patterns in grouped.items()
        ]
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[_LANG])
        nlp = NoOpNlpEngine(models=[{"lang_code": _LANG, "model_name": "no_op"}])
        self.analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=[_LANG])
        self.anonymizer = AnonymizerEngine()
        self.operators = {
            entity: OperatorConfig("replace", {"new_value": placeholder})
            for entity, placeholder in ENTITIES.items()
        }


@functools.cache
def _default_mrn_patterns() -> tuple[str, ...]:
    from cohort_engine.deid.policy import DEFAULT_MRN_PATTERNS

    return DEFAULT_MRN_PATTERNS


@functools.cache
def _engines(mrn_patterns: tuple[str, ...]) -> _Engines:
    with _BUILD_LOCK:
        return _Engines(mrn_patterns)


def get_analyzer(policy: ReleasePolicy | None = None) -> Any:
    """The cached presidio ``AnalyzerEngine`` (for inspection/tests); built on first use."""
    from cohort_engine.deid.policy import DEFAULT_MRN_PATTERNS

    return _engines(policy.mrn_patterns if policy is not None else DEFAULT_MRN_PATTERNS).analyzer


# --------------------------------------------------------------------------------------------------
# Deny list: expand the patient's known identifiers into the spellings they take in free text.
# --------------------------------------------------------------------------------------------------

_HANGUL = re.compile(r"[가-힣]")
_EMAIL_FULL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+$")
_RRN_FULL = re.compile(r"^(\d{6})\s?-?\s?(\d{7})$")
_DATE_FULL = re.compile(r"^((?:19|20)\d{2})\s?[-./년]?\s?(\d{1,2})\s?[-./월]?\s?(\d{1,2})\s?일?\.?$")
_PHONE_FULL = re.compile(r"^\+?[\d\s().\-]{7,20}$")
_ADDR_SUFFIX = re.compile(r"[가-힣](?:시|도|구|군|읍|면|동|로|길)$")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _date_variants(y: int, m: int, d: int) -> list[str]:
    mn = _MONTH_NAMES[m - 1]
    return [
        f"{y:04d}-{m:02d}-{d:02d}",
        f"{y:04d}.{m:02d}.{d:02d}",
        f"{y:04d}/{m:02d}/{d:02d}",
        f"{y:04d}{m:02d}{d:02d}",
        f"{y:04d}-{m}-{d}",
        f"{y:04d}.{m}.{d}",
        f"{y:04d}. {m}. {d}.",
        f"{y:04d}년 {m}월 {d}일",
        f"{y:04d}년 {m:02d}월 {d:02d}일",
        f"{y:04d}년{m}월{d}일",
        f"{d} {mn} {y}",
        f"{d} {mn[:3]} {y}",
        f"{mn} {d}, {y}",
        f"{mn[:3]} {d}, {y}",
        f"{mn} {d} {y}",
        f"{mn[:3]} {d} {y}",
        f"{d:02d}/{m:02d}/{y:04d}",
        f"{m:02d}/{d:02d}/{y:04d}",
        f"{y % 100:02d}{m:02d}{d:02d}",
    ]


def _phone_variants(v: str) -> list[str]:
    digits = re.sub(r"\D", "", v)
    out = [v, digits]
    if digits.startswith("82"):
        digits = "0" + digits[2:]
        out.append(digits)
    if digits.startswith("0"):
        national = digits[1:]
        out += [f"+82{national}", f"+82 {national}", f"+82-{national}"]
        if digits.startswith("02") and len(digits) in (9, 10):
            mid = digits[2:-4]
            out += [f"02-{mid}-{digits[-4:]}", f"02 {mid} {digits[-4:]}", f"02){mid}-{digits[-4:]}"]
            out += [f"+82 2-{mid}-{digits[-4:]}", f"+82-2-{mid}-{digits[-4:]}"]
        elif len(digits) in (10, 11):
            area, mid = digits[:3], digits[3:-4]
            out += [
                f"{area}-{mid}-{digits[-4:]}",
                f"{area} {mid} {digits[-4:]}",
                f"{area}.{mid}.{digits[-4:]}",
            ]
            out += [f"+82 {area[1:]}-{mid}-{digits[-4:]}", f"+82-{area[1:]}-{mid}-{digits[-4:]}"]
    return out


def _name_variants(v: str) -> list[str]:
    parts = [p for p in re.split(r"[\s^,=]+", v) if p]
    out = [v]
    if len(parts) > 1:
        out += [" ".join(parts), " ".join(reversed(parts)), "^".join(parts), ", ".join(parts)]
        out += ["".join(parts), "".join(reversed(parts))]  # 홍길동 is written without a space
    for p in parts:
        if _HANGUL.search(p):
            if len(p) >= 2:
                out.append(p)
            if len(p) == 3:  # 1-syllable surname + 2-syllable given name: the given name alone too
                out.append(p[1:])
        elif len(p) >= 2:
            out.append(p)
    return out


def _classify(v: str) -> tuple[str, list[str]]:
    """Guess the entity type of a known identifier and list the spellings to look for."""
    if _EMAIL_FULL.match(v):
        return "EMAIL", [v]
    m = _RRN_FULL.match(v)
    if m:
        a, b = m.groups()
        return "RRN", [v, f"{a}-{b}", f"{a}{b}", f"{a} - {b}", f"{a} {b}"]
    m = _DATE_FULL.match(v)
    if m:
        try:
            import datetime as _dt

            y, mo, d = (int(g) for g in m.groups())
            _dt.date(y, mo, d)
            return "DATE", [v, *_date_variants(y, mo, d)]
        except ValueError:
            pass
    digits = sum(ch.isdigit() for ch in v)
    letters = sum(ch.isalpha() for ch in v)
    if _PHONE_FULL.match(v) and digits >= 7 and (v.lstrip().startswith(("0", "+"))):
        return "PHONE", _phone_variants(v)
    tokens = v.split()
    if len(tokens) >= 2 and (digits and letters or any(_ADDR_SUFFIX.search(t) for t in tokens[:-1])):
        out = [v]
        if len(tokens) >= 3 and any(ch.isdigit() for ch in tokens[-1]):
            out.append(" ".join(tokens[-2:]))  # "테헤란로 123": street + number without the city
        if len(tokens) >= 3 and any(ch.isdigit() for ch in tokens[0]):
            out.append(" ".join(tokens[:2]).rstrip(","))  # "123 Sejong-daero": number + street
        return "ADDRESS", out
    if digits and len(tokens) == 1:
        return "MRN", [v] if len(v) >= 4 else []
    return "NAME", _name_variants(v)


def expand_identifiers(known_identifiers: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Entity type -> the spellings of the patient's identifiers to deny, longest first."""
    out: dict[str, set[str]] = {}
    for raw in known_identifiers:
        v = (raw or "").strip().strip("\x00")
        if len(v) < 2:
            continue
        entity, variants = _classify(v)
        bucket = out.setdefault(entity, set())
        for x in variants:
            x = x.strip()
            if len(x) >= 2 and (len(x) >= 3 or _HANGUL.search(x) or entity == "NAME"):
                bucket.add(x)
    return {k: tuple(sorted(v, key=lambda s: (-len(s), s))) for k, v in out.items() if v}


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _deny_terms(terms: Iterable[str]) -> tuple[tuple[str, bool, bool], ...]:
    """(lower-cased term, needs left boundary, needs right boundary).

    A boundary is required only where the term ends in an ASCII letter/digit: "LEE" must not match
    inside "SLEEP", but Korean particles attach directly ("홍길동님", "길동씨").
    """
    return tuple((t.lower(), _is_word_char(t[0]), _is_word_char(t[-1])) for t in terms if t)


def _find_terms(text: str, terms: tuple[tuple[str, bool, bool], ...]) -> list[tuple[int, int]]:
    """Spans of every occurrence of every term (case-insensitive, boundary-aware).

    Plain ``str.find`` instead of one big regex: building a regex per patient costs milliseconds,
    this costs microseconds, and the deny list changes with every patient.
    """
    low = text.lower()
    if len(low) != len(text):  # a few case mappings change length ("İ"): keep offsets aligned
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    spans: list[tuple[int, int]] = []
    n = len(low)
    for term, lb, rb in terms:
        start = low.find(term)
        while start != -1:
            end = start + len(term)
            if (not lb or start == 0 or not _is_word_char(low[start - 1])) and (
                not rb or end == n or not _is_word_char(low[end])
            ):
                spans.append((start, end))
            start = low.find(term, start + 1)
    return spans


@functools.cache
def _deny_recognizer_class() -> type:
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    class DenyListRecognizer(EntityRecognizer):
        """Finds one patient's identifiers (one instance per entity type and patient)."""

        def __init__(self, entity: str, terms: tuple[str, ...]) -> None:
            super().__init__(
                supported_entities=[entity], name=f"deny_{entity.lower()}", supported_language=_LANG
            )
            self._entity = entity
            self._terms = _deny_terms(terms)

        def load(self) -> None:
            """Nothing to load."""

        def analyze(
            self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
        ) -> list[Any]:
            return [RecognizerResult(self._entity, s, e, 1.0) for s, e in _find_terms(text, self._terms)]

    return DenyListRecognizer


@functools.lru_cache(maxsize=1024)
def _deny_recognizers(known: tuple[str, ...]) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """Ad-hoc recognizers for one patient, and the needles of the fast gate (cached per patient)."""
    cls = _deny_recognizer_class()
    expanded = expand_identifiers(known)
    recs = tuple(cls(entity, terms) for entity, terms in expanded.items())
    needles = {t.split()[0].lower() for terms in expanded.values() for t in terms}
    return recs, tuple(sorted(needles))


def _scrub_uncached(text: str, mrn_patterns: tuple[str, ...], known: tuple[str, ...]) -> str:
    recs, needles = _deny_recognizers(known) if known else ((), ())
    low = text.lower()
    gate_valid = mrn_patterns == _default_mrn_patterns()  # custom MRN regexes may need no digit
    if gate_valid and not _GATE.search(text) and not any(n in low for n in needles):
        return text
    eng = _engines(mrn_patterns)
    results = eng.analyzer.analyze(text=text, language=_LANG, ad_hoc_recognizers=list(recs) or None)
    if not results:
        return text
    # Presidio types the analyzer's and the anonymizer's RecognizerResult as two classes; the anonymizer
    # documents taking the analyzer's results (same fields), so only the stubs disagree.
    return eng.anonymizer.anonymize(
        text=text,
        analyzer_results=results,  # type: ignore[arg-type]
        operators=eng.operators,
    ).text


@functools.lru_cache(maxsize=8192)
def _scrub_cached(text: str, mrn_patterns: tuple[str, ...], known: tuple[str, ...]) -> str:
    return _scrub_uncached(text, mrn_patterns, known)


def scrub_text(text: str, known_identifiers: Sequence[str], policy: ReleasePolicy) -> str:
    """Replace every identifier found in ``text`` by its typed placeholder.

    ``known_identifiers`` are the patient's own values (names in any script, IDs, birth date,
    address, phone, e-mail); each is expanded into the spellings it takes in text.  Returns ``text``
    unchanged when nothing is found.  Works offline: no model is loaded and nothing is downloaded.
    """
    if not text:
        return text
    known = tuple(sorted({k.strip() for k in known_identifiers if k and k.strip()}))
    if len(text) > 4096:  # long reports: do not fill the memo cache with them
        return _scrub_uncached(text, policy.mrn_patterns, known)
    return _scrub_cached(text, policy.mrn_patterns, known)
