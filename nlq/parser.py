"""The built-in offline rule parser (English and Korean).

This first version covers the seed scenario family: an index diagnosis (optionally of named
conditions) in a date range, followed by procedures/drugs/diagnoses in a day window after it.
Sentences it cannot read completely come back as ``clarify`` with the words it did not understand;
destructive, identifying or out-of-scope requests come back ``refused``. It never guesses silently.
"""

from __future__ import annotations

import re
from datetime import date

from nlq.dates import find_dates, number, span_days
from nlq.result import Clarification, ParseResult
from nlq.spec import CohortSpec, ConceptSet, Criterion, DateRange, Domain, IndexEvent, Window

HANGUL = re.compile(r"[\uac00-\ud7a3]")

REFUSE_DESTRUCTIVE = re.compile(
    r"\b(delete|drop|truncate|update|insert|remove all|wipe|erase)\b|삭제|지워|지우|수정해|변경해",
    re.IGNORECASE,
)
REFUSE_IDENTIFYING = re.compile(
    r"\b(names?|resident (registration )?numbers?|ssn|social security|phone numbers?|addresses?|mrn|"
    r"medical record numbers?|birth ?dates?|e-?mails?)\b|이름|성명|주민(등록)?번호|전화번호|주소|등록번호|생년월일|연락처",
    re.IGNORECASE,
)
COHORT_WORDS = re.compile(
    r"patient|people|person|cohort|diagnos|surgery|procedure|operation|prescri|drug|환자|진단|수술|처방|명단",
    re.IGNORECASE,
)
# "수술명에 … 있는" asks for a name match; we keep the concept-level reading and say so.
NAME_MATCH_KO = re.compile(r"수술\s*명에")
NAME_MATCH_EN = re.compile(r"(surgery|procedure|operation) name (contains|includes|has)", re.IGNORECASE)

DOMAIN_WORDS: list[tuple[re.Pattern[str], Domain, str]] = [
    (re.compile(r"surger(y|ies)|operations?|procedures?|수술|시술", re.IGNORECASE), Domain.procedure, "procedure"),
    (re.compile(r"prescri\w*|medications?|drugs?|처방|투약", re.IGNORECASE), Domain.drug, "drug"),
    (re.compile(r"diagnos\w*|진단", re.IGNORECASE), Domain.condition, "diagnosis"),
]

SPLIT_TERMS = re.compile(r"\s*(?:,|\bor\b|\band\b|/|이나|또는|혹은|(?<=[가-힣])나\s|(?<=[가-힣])와\s|(?<=[가-힣])과\s)\s*",
                         re.IGNORECASE)


def detect_language(text: str) -> str:
    return "ko" if HANGUL.search(text) else "en"


def _refusal(text: str, lang: str) -> ParseResult | None:
    if REFUSE_DESTRUCTIVE.search(text):
        return ParseResult(
            status="refused", language=lang,
            message="This engine only reads the clinical mart; it never changes or deletes data."
            if lang == "en" else "이 엔진은 데이터를 조회만 하며 변경하거나 삭제하지 않습니다.",
        )
    if REFUSE_IDENTIFYING.search(text):
        return ParseResult(
            status="refused", language=lang,
            message="Identifying details (names, record or resident numbers, contact details, birth dates) are "
            "never returned; ask for a cohort or counts instead."
            if lang == "en" else "이름, 등록번호, 주민번호, 연락처, 생년월일 같은 식별 정보는 제공하지 않습니다. 코호트나 인원수를 요청해 주세요.",
        )
    if not COHORT_WORDS.search(text):
        return ParseResult(
            status="refused", language=lang,
            message="This is not a question about a patient cohort; describe patients by diagnoses, procedures, "
            "drugs, tests, imaging or dates." if lang == "en"
            else "환자 코호트에 대한 질문이 아닙니다. 진단, 수술, 처방, 검사, 영상, 날짜로 환자를 설명해 주세요.",
        )
    return None


def _terms(text: str) -> list[str]:
    parts = [p.strip(" .,'\"") for p in SPLIT_TERMS.split(text)]
    return [p for p in parts if p]


def _index_range(text: str) -> tuple[DateRange | None, list[tuple[int, int]]]:
    dates = find_dates(text)
    spans = [s for _, s in dates]
    if len(dates) >= 2:
        return DateRange(start=dates[0][0], end=dates[1][0]), spans[:2]
    if len(dates) == 1:
        d, (a, b) = dates[0]
        tail = text[b:]
        m = re.match(r"\s*(?:부터)?\s*(\S+?)\s*(?:일\s*)?동안", tail) or re.match(
            r"\s*(?:,)?\s*(?:for\s+)?(?:the\s+next\s+)?(\w+)\s+days", tail, re.IGNORECASE
        )
        if m and (n := number(m.group(1).removesuffix("일"))):
            s, e = span_days(d, n)
            return DateRange(start=s, end=e), spans
        m = re.search(r"for\s+(\w+)\s+days\s+(?:from|starting)\s*$", text[:a], re.IGNORECASE)
        if m and (n := number(m.group(1))):
            s, e = span_days(d, n)
            return DateRange(start=s, end=e), spans
        return DateRange(start=d, end=d), spans
    m = re.search(r"\bin\s+(\d{4})\b|(\d{4})\s*년(?!\s*\d)", text)
    if m:
        y = int(m.group(1) or m.group(2))
        return DateRange(start=date(y, 1, 1), end=date(y, 12, 31)), [m.span()]
    return None, []


WINDOW_EN = re.compile(r"(\w+)\s+(?:to|-|–|and)\s+(\w+)\s+days?\s+after", re.IGNORECASE)
WITHIN_EN = re.compile(r"within\s+(\w+)\s+days?\s+after", re.IGNORECASE)
WINDOW_KO = re.compile(r"(\d+)\s*일\s*(?:부터|에서)\s*(\d+)\s*일\s*(?:이내|까지|사이)")
WITHIN_KO = re.compile(r"(\d+)\s*일\s*이내")


def _window(text: str) -> Window | None:
    for rx in (WINDOW_EN, WINDOW_KO):
        m = rx.search(text)
        if m and (a := number(m.group(1))) is not None and (b := number(m.group(2))) is not None:
            return Window(start=a, end=b)
    for rx in (WITHIN_EN, WITHIN_KO):
        m = rx.search(text)
        if m and (n := number(m.group(1))) is not None:
            return Window(start=0, end=n)
    return None


CRIT_EN = re.compile(
    r"(?:had|underwent|received|got|with)\s+(?:an?\s+)?(?P<dom>surger(?:y|ies)|operations?|procedures?)\s+"
    r"(?:for|of)\s+(?P<terms>.+?)\s+(?:\w+\s+(?:to|-|–)\s+\w+|within\s+\w+)\s+days?",
    re.IGNORECASE,
)
CRIT_KO = re.compile(r"수술\s*명에\s*(?P<terms>.+?)\s*(?:이|가)\s*있는|(?P<terms2>\S.+?)\s*수술을?\s*받은")
INDEX_TERMS_EN = re.compile(r"diagnosed\s+with\s+(?P<terms>.+?)(?=\s+(?:between|from|in|since|who|during|on)\b|$)",
                            re.IGNORECASE)
INDEX_TERMS_KO = re.compile(r"(?P<terms>\S+(?:\s+\S+)?)\s*(?:으로|로)\s*진단")


def parse(text: str, today: date | None = None) -> ParseResult:
    """Parse one sentence. ``today`` anchors relative spans (later parser versions)."""
    del today
    sentence = " ".join(text.split())
    lang = detect_language(sentence)
    if not sentence:
        return ParseResult(status="clarify", language=lang, message="The question is empty.")
    refused = _refusal(sentence, lang)
    if refused:
        return refused

    notes: list[str] = []
    if not re.search(r"diagnos|진단", sentence, re.IGNORECASE):
        return ParseResult(
            status="clarify", language=lang,
            message="I could not find the index event (for example 'patients diagnosed with …').",
            clarifications=[Clarification(question="Which event starts the cohort?", choices=["a diagnosis"])],
        )
    date_range, _ = _index_range(sentence)
    index_terms: list[str] = []
    m = INDEX_TERMS_EN.search(sentence) if lang == "en" else INDEX_TERMS_KO.search(sentence)
    if m:
        index_terms = _terms(m.group("terms"))
    index = IndexEvent(domain=Domain.condition, concepts=ConceptSet(terms=index_terms), date_range=date_range)

    criteria: list[Criterion] = []
    cm = CRIT_EN.search(sentence) if lang == "en" else CRIT_KO.search(sentence)
    if cm:
        raw_terms = cm.group("terms") if cm.group("terms") else cm.groupdict().get("terms2")
        terms = _terms(raw_terms or "")
        window = _window(sentence)
        if window is None:
            return ParseResult(
                status="clarify", language=lang,
                message="I found a procedure but not when it happened relative to the diagnosis.",
                clarifications=[Clarification(question="How many days after the diagnosis?")],
            )
        criteria.append(
            Criterion(label="surgery", domain=Domain.procedure, concepts=ConceptSet(terms=terms), window=window)
        )
        if NAME_MATCH_KO.search(sentence) or NAME_MATCH_EN.search(sentence):
            notes.append(
                "'surgery name contains …' was read at concept level: surgeries done for those conditions "
                "(alternative: a literal name match)."
            )
    elif re.search(r"surger|operation|procedure|수술|시술", sentence, re.IGNORECASE):
        return ParseResult(
            status="clarify", language=lang,
            message="I saw a surgery/procedure but could not tell which one or when.",
            clarifications=[Clarification(question="Which procedure, and how many days after the diagnosis?")],
        )
    spec = CohortSpec(language=lang, index=index, criteria=criteria, title=sentence[:120])
    return ParseResult(status="ok", language=lang, spec=spec, notes=notes)
