"""Dates and date ranges in English and Korean wording → calendar dates (inclusive ranges)."""

from __future__ import annotations

import re
from datetime import date, timedelta

MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
            ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
            ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))

# Each pattern captures y, m, d by name; order matters (longest, most specific first).
DATE_PATTERNS = [
    r"(?P<y>\d{4})\s*년\s*(?P<m>\d{1,2})\s*월\s*(?P<d>\d{1,2})\s*일",
    r"(?P<y>\d{4})[-./](?P<m>\d{1,2})[-./](?P<d>\d{1,2})\.?",
    rf"(?P<mn>{_MONTH_RE})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})",
    rf"(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mn>{_MONTH_RE})\.?,?\s+(?P<y>\d{{4}})",
]
DATE_RES = [re.compile(p, re.IGNORECASE) for p in DATE_PATTERNS]

KOREAN_NUMBERS = {
    "하루": 1, "이틀": 2, "사흘": 3, "나흘": 4, "닷새": 5, "엿새": 6, "이레": 7, "여드레": 8, "아흐레": 9, "열흘": 10,
    "보름": 15, "한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10,
}
ENGLISH_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30, "a": 1, "an": 1,
}


def parse_date_match(m: re.Match[str]) -> date:
    g = m.groupdict()
    month = int(g["m"]) if g.get("m") else MONTHS[g["mn"].lower().rstrip(".")]
    return date(int(g["y"]), month, int(g["d"]))


def find_dates(text: str) -> list[tuple[date, tuple[int, int]]]:
    """All explicit calendar dates in the text, with their character spans."""
    out: list[tuple[date, tuple[int, int]]] = []
    taken: list[tuple[int, int]] = []
    for rx in DATE_RES:
        for m in rx.finditer(text):
            a, b = m.span()
            if any(a < tb and ta < b for ta, tb in taken):
                continue
            try:
                out.append((parse_date_match(m), m.span()))
            except ValueError:
                continue  # e.g. 2023-02-30 is no date; the caller reports the text as not understood
            taken.append((a, b))
    return sorted(out, key=lambda x: x[1])


def span_days(start: date, days: int) -> tuple[date, date]:
    """'for ten days from 2023-10-01' = 2023-10-01..2023-10-10 (inclusive)."""
    return start, start + timedelta(days=days - 1)


def number(word: str) -> int | None:
    w = word.strip().lower()
    if w.isdigit():
        return int(w)
    return ENGLISH_NUMBERS.get(w) or KOREAN_NUMBERS.get(w)
