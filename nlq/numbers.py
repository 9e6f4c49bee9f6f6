"""Numbers and durations written in words or digits, in English and Korean.

Durations have two readings on purpose (see README conventions):

* relative *windows* between events are whole days: a week is 7 days, a month 30, a year 365;
* calendar *spans* ("for two months from 2023-10-01", "last 6 months") step through the calendar.
"""

from __future__ import annotations

import re

from cohort_engine.nlq.regex_cache import regex

ENGLISH_NUMBERS: dict[str, int] = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "a": 1,
    "an": 1,
    "a single": 1,
    "one single": 1,
}
# Native Korean counting words (Sino-Korean 일/이/삼 … collide with particles and units, so
# they count only inside fixed duration words below); durations like 열흘 carry their own unit (days).
KOREAN_NUMBERS: dict[str, int] = {
    "한": 1,
    "두": 2,
    "세": 3,
    "석": 3,
    "네": 4,
    "넉": 4,
    "다섯": 5,
    "여섯": 6,
    "일곱": 7,
    "여덟": 8,
    "아홉": 9,
    "열": 10,
    "열한": 11,
    "열두": 12,
    "스무": 20,
    "스물": 20,
}
KOREAN_DAY_WORDS: dict[str, int] = {
    "하루": 1,
    "이틀": 2,
    "사흘": 3,
    "나흘": 4,
    "닷새": 5,
    "엿새": 6,
    "이레": 7,
    "여드레": 8,
    "아흐레": 9,
    "열흘": 10,
    "보름": 15,
    "일주일": 7,
    "한주": 7,
    "이주일": 14,
}
KOREAN_SPAN_WORDS: dict[str, tuple[int, str]] = {  # word → (amount, unit)
    **{w: (n, "day") for w, n in KOREAN_DAY_WORDS.items()},
    "반년": (6, "month"),
    "한해": (1, "year"),
    "한달": (1, "month"),
    "일년": (1, "year"),
    "이년": (2, "year"),
    "삼년": (3, "year"),
    "오년": (5, "year"),
}

EN_NUMBER_RE = (
    r"(?:\d+(?:\.\d+)?|"
    + "|".join(sorted((w for w in ENGLISH_NUMBERS if " " not in w), key=len, reverse=True))
    + ")"
)
KO_NUMBER_RE = r"(?:\d+|" + "|".join(sorted(KOREAN_NUMBERS, key=len, reverse=True)) + ")"

UNIT_WORDS: dict[str, str] = {
    "day": "day",
    "days": "day",
    "d": "day",
    "일": "day",
    "일간": "day",
    "week": "week",
    "weeks": "week",
    "wk": "week",
    "wks": "week",
    "주": "week",
    "주일": "week",
    "주간": "week",
    "month": "month",
    "months": "month",
    "mo": "month",
    "mos": "month",
    "개월": "month",
    "달": "month",
    "개월간": "month",
    "year": "year",
    "years": "year",
    "yr": "year",
    "yrs": "year",
    "y": "year",
    "년": "year",
    "해": "year",
    "년간": "year",
    "hour": "hour",
    "hours": "hour",
    "hr": "hour",
    "hrs": "hour",
    "h": "hour",
    "시간": "hour",
}
EN_UNIT_RE = r"(?:days?|d|weeks?|wks?|months?|mos?|years?|yrs?|hours?|hrs?|h)"
KO_UNIT_RE = r"(?:일|주일|주|개월|달|년|시간)"
DAYS_PER = {"day": 1, "week": 7, "month": 30, "year": 365}


def number(word: str) -> int | None:
    """'3' → 3, 'three' → 3, '두' → 2; None when the word is no whole number."""
    w = word.strip().lower()
    if w.isdigit():
        return int(w)
    return ENGLISH_NUMBERS.get(w, KOREAN_NUMBERS.get(w))


def unit_of(word: str) -> str | None:
    return UNIT_WORDS.get(word.strip().lower())


def days(amount: int, unit: str) -> int:
    """Window arithmetic: 1 week = 7 days, 1 month = 30 days, 1 year = 365 days; hours round up to
    whole days (windows are in days: "within 24 hours" = within 1 day, "within 36 hours" = 2 days)."""
    if unit == "hour":
        return -(-amount // 24)
    return amount * DAYS_PER[unit]


def korean_duration(text: str) -> tuple[int, str] | None:
    """'열흘' → (10, 'day'); '두 달' → (2, 'month'); '6개월' → (6, 'month'); '1년' → (1, 'year')."""
    t = re.sub(r"\s+", "", text)
    t = re.sub(r"(간|동안)$", "", t)
    if t in KOREAN_SPAN_WORDS:
        return KOREAN_SPAN_WORDS[t]
    m = re.fullmatch(rf"({KO_NUMBER_RE})({KO_UNIT_RE})", t)
    if m and (n := number(m.group(1))) is not None and (u := unit_of(m.group(2))):
        return n, u
    return None


_SINO_DIGITS = {"일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "칠": 7, "팔": 8, "구": 9}
_SINO_UNITS = {"십": 10, "백": 100, "천": 1000}
#: A Sino-Korean number with at least one of 십/백/천/만 (so a lone 이/일 is never read as a digit),
#: followed by a counting unit: '삼십일' (30 days), '이십사 시간', '삼천' … Backtracking gives '삼십' +
#: the unit '일' for '삼십일 이내'.
SINO_KO = regex(
    r"(?<![가-힣])(?P<n>(?:[일이삼사오육칠팔구]?[십백천만])+[일이삼사오육칠팔구]?)"
    r"\s*(?P<u>일|주|개월|달|년|세|회|번|시간)"
)


def sino_korean(word: str) -> int:
    """'삼십' → 30, '이십오' → 25, '백' → 100, '천오백' → 1500, '삼만' → 30000."""
    total, section, digit = 0, 0, 0
    for ch in word:
        if ch in _SINO_DIGITS:
            digit = _SINO_DIGITS[ch]
        elif ch in _SINO_UNITS:
            section += (digit or 1) * _SINO_UNITS[ch]
            digit = 0
        elif ch == "만":
            total += (section + digit or 1) * 10_000
            section, digit = 0, 0
    return total + section + digit


def sino_to_digits(text: str) -> str:
    """Sino-Korean counts written out ('삼십일 이내', '이십 회') as digits ('30일 이내', '20 회')."""
    return SINO_KO.sub(lambda m: f"{sino_korean(m.group('n'))}{m.group('u')}", text)


#: A duration restated in days in brackets: '3 months (90 days)', '2년(730일)', '6 mo (180 d)'.
RESTATED_DURATION = regex(
    rf"(?P<n>{EN_NUMBER_RE}|{KO_NUMBER_RE})\s*(?P<u>{EN_UNIT_RE}|{KO_UNIT_RE})(?![A-Za-z])\s*"
    r"\(\s*(?P<d>\d+)\s*(?:days?|d|일)\s*\)",
    re.IGNORECASE,
)


#: 'in the year (365 days) before': one unit, restated in days.
RESTATED_ONE_UNIT = regex(r"\b(?P<u>year|month|week)\s*\(\s*(?P<d>\d+)\s*(?:days?|d)\s*\)", re.IGNORECASE)


def drop_restated_durations(sentence: str) -> str:
    """'in the 3 months (90 days) leading up to the dx': the bracket says the same window in days, and
    standing between the amount and its direction it would hide the window. Dropped only when it equals
    the amount by the windows' own arithmetic (a month = 30 days, a year = 365); a bracket that says
    something else stays, and the two readings are asked back."""

    def keep_or_drop(m: re.Match[str]) -> str:
        amount, unit = number(m.group("n")), unit_of(m.group("u"))
        if amount is None or unit is None or days(amount, unit) != int(m.group("d")):
            return m.group(0)
        return m.group(0)[: m.group(0).index("(")].rstrip()

    def keep_or_drop_one(m: re.Match[str]) -> str:
        unit = unit_of(m.group("u"))
        if unit is None or days(1, unit) != int(m.group("d")):
            return m.group(0)
        return m.group("u")

    return RESTATED_ONE_UNIT.sub(keep_or_drop_one, RESTATED_DURATION.sub(keep_or_drop, sentence))
