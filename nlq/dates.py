"""Calendar dates and date ranges in English and Korean wording → inclusive ranges.

Every form ends up as an inclusive ``DateRange``:

* a day, a month ("October 2023", "2023년 10월") or a year ("in 2021", "2021년") covers all its days;
* "between A and B", "from A to B", "A부터 B까지", "A ~ B": first day of A to last day of B;
* "for ten days from A", "A부터 열흘 동안", "A부터 두 달 동안": N calendar units starting on A, so the
  span holds exactly N units (2023-10-01 + ten days = 2023-10-01..2023-10-10);
* "since A", "A 이후", "A부터": from the first day of A, open-ended; "after A": from the day after A;
* "before A": up to the day before A; "until A", "A까지", "A 이전": up to the last day of A (Korean
  이전/이후 include the reference, as in Korean legal usage);
* "last 3 months", "최근 6개월", "past year": from the same day N calendar units back to today (both
  inclusive), so "last 30 days" with today 2024-06-30 is 2024-05-31..2024-06-30; "last year"/"작년" is
  the previous calendar year ("the year before last"/"재작년" the one before it) and "this year"/"올해"
  runs from 1 January to today.

Dates that do not exist (2023-02-30) and day/month orders that cannot be told apart (03/04/2023)
become ``bad_date`` items, so the parser asks instead of guessing.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from cohort_engine.nlq.items import AskData, DateData, Item, ItemKind
from cohort_engine.nlq.messages import say
from cohort_engine.nlq.numbers import (
    EN_NUMBER_RE,
    KO_NUMBER_RE,
    KO_UNIT_RE,
    KOREAN_SPAN_WORDS,
    korean_duration,
    number,
    unit_of,
)
from cohort_engine.nlq.quantities import UNITS
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.text import Piece, apply
from cohort_engine.nlq.vocab import MONTHS

__all__ = [
    "MONTHS",
    "DATE_RES",
    "find_dates",
    "parse_date_match",
    "span_days",
    "number",
    "add_months",
    "span",
    "recognise_dates",
]

MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))

# Each pattern captures y, m (or mn), d by name; order matters (longest, most specific first).
DATE_PATTERNS = [
    r"(?P<y>\d{4})\s*년\s*(?P<m>\d{1,2})\s*월\s*(?P<d>\d{1,2})\s*일",
    r"(?P<y>\d{4})[-./](?P<m>\d{1,2})[-./](?P<d>\d{1,2})(?!\d)\.?",
    rf"\b(?P<mn>{MONTH_RE})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})",
    rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mn>{MONTH_RE})\.?,?\s+(?P<y>\d{{4}})",
]
DATE_RES = [regex(p, re.IGNORECASE) for p in DATE_PATTERNS]


def parse_date_match(m: re.Match[str]) -> date:
    g = m.groupdict()
    month = int(g["m"]) if g.get("m") else MONTHS[g["mn"].lower().rstrip(".")]
    return date(int(g["y"]), month, int(g["d"]))


def find_dates(text: str) -> list[tuple[date, tuple[int, int]]]:
    """All explicit calendar dates (day precision) in the text, with their character spans."""
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
                continue  # e.g. 2023-02-30 is no date; the parser reports the text as not understood
            taken.append((a, b))
    return sorted(out, key=lambda x: x[1])


def add_months(d: date, months: int) -> date:
    """Calendar month arithmetic, clamping the day (2024-03-31 − 1 month = 2024-02-29)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def shift(d: date, amount: int, unit: str) -> date:
    if unit == "day":
        return d + timedelta(days=amount)
    if unit == "week":
        return d + timedelta(days=7 * amount)
    if unit == "month":
        return add_months(d, amount)
    return add_months(d, 12 * amount)


def span(start: date, amount: int, unit: str) -> tuple[date, date]:
    """N calendar units starting on ``start``, inclusive: (2023-10-01, 2, month) → 10-01..11-30."""
    return start, shift(start, amount, unit) - timedelta(days=1)


def span_days(start: date, days: int) -> tuple[date, date]:
    """'for ten days from 2023-10-01' = 2023-10-01..2023-10-10 (inclusive)."""
    return span(start, days, "day")


def last_units(today: date, amount: int, unit: str) -> tuple[date, date]:
    """From the same day N units back to today, inclusive: 'last 3 months' on 2024-06-30 =
    2024-03-30..2024-06-30, as `date >= current_date - INTERVAL '3 months'` reads, and as every
    independent question writer wrote it."""
    return shift(today, -amount, unit), today


# ---------------------------------------------------------------- date atoms (day, month, year)
class BadDate(ValueError):
    """A written date that is not a calendar date, or whose day/month order is ambiguous: the message
    code of ``nlq.messages`` and its values."""

    def __init__(self, code: str, **values: object) -> None:
        super().__init__(code)
        self.code = code
        self.values = values


_ATOM_EN = (
    r"(?:(?:18|19|20|21)\d{2}[-./]\d{1,2}[-./]\d{1,2}(?!\d)"
    rf"|(?:{MONTH_RE})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTH_RE})\.?,?\s+\d{{4}}"
    r"|\d{1,2}/\d{1,2}/\d{4}"
    rf"|(?:{MONTH_RE})\.?,?\s+(?:of\s+)?\d{{4}}"
    r"|(?:18|19|20|21)\d{2}[-/](?:0?[1-9]|1[0-2])(?![\d./-])"
    r"|(?:19|20)\d{2}(?![\d.,]\d|\s*%|\s*(?:mg|g/|kg|ml|mmol)))"
)
_YEAR = r"(?:18|19|20|21)\d{2}"
#: Years outside 1800–2199 are no dates ('수축기 혈압(8480-6)' is a LOINC code, not June 8480).
_ATOM_KO = (
    rf"(?:{_YEAR}\s*년\s*\d{{1,2}}\s*월\s*\d{{1,2}}\s*일"
    rf"|{_YEAR}[-./]\d{{1,2}}[-./]\d{{1,2}}(?!\d)\.?"
    rf"|{_YEAR}\s*년\s*\d{{1,2}}\s*월"
    rf"|{_YEAR}[-./](?:0?[1-9]|1[0-2])(?![\d./-])"
    rf"|{_YEAR}\s*년(?!\s*\d+\s*월)"
    r"|(?:19|20)\d{2}(?![\d.,]\d|\s*(?:%|년|세|회|번|일|개월|달|주))"
    # '23년도 흉부 CT': a two-digit year with '년도' (2000–2039)
    r"|(?<![\d.\-/])[0-3]\d\s*년도)"
)


def atom(text: str) -> tuple[date, date]:
    """First and last day a written date covers. Raises :class:`BadDate`."""
    t = text.strip().rstrip(".").strip()
    try:
        m = re.fullmatch(
            r"(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일|(\d{4})[-./](\d{1,2})[-./](\d{1,2})", t
        )
        if m:
            y, mo, d = (int(x) for x in (m.groups()[:3] if m.group(1) else m.groups()[3:]))
            day = date(y, mo, d)
            return day, day
        for rx in DATE_RES[2:]:
            m = rx.fullmatch(t)
            if m:
                day = parse_date_match(m)
                return day, day
        m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", t)
        if m:
            a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if a <= 12 and b <= 12 and a != b:
                raise BadDate("date_order_ambiguous", text=t)
            mo, d = (a, b) if a <= 12 else (b, a)
            day = date(y, mo, d)
            return day, day
        m = re.fullmatch(rf"({MONTH_RE})\.?,?\s+(?:of\s+)?(\d{{4}})", t, re.IGNORECASE)
        if m:
            return _month(int(m.group(2)), MONTHS[m.group(1).lower()])
        m = re.fullmatch(r"(\d{4})\s*년\s*(\d{1,2})\s*월|(\d{4})[-./](\d{1,2})", t)
        if m:
            y, mo = (int(x) for x in (m.groups()[:2] if m.group(1) else m.groups()[2:]))
            return _month(y, mo)
        m = re.fullmatch(r"(\d{2})\s*년도", t)
        if m:
            y = 2000 + int(m.group(1))
            return date(y, 1, 1), date(y, 12, 31)
        m = re.fullmatch(r"(\d{4})\s*년?", t)
        if m:
            y = int(m.group(1))
            return date(y, 1, 1), date(y, 12, 31)
    except ValueError as e:
        if isinstance(e, BadDate):
            raise
        raise BadDate("date_not_calendar", text=t) from e
    raise BadDate("date_unreadable", text=t)


def _month(y: int, mo: int) -> tuple[date, date]:
    if not 1 <= mo <= 12:
        raise BadDate("month_missing", month=mo)
    return date(y, mo, 1), date(y, mo, calendar.monthrange(y, mo)[1])


# ---------------------------------------------------------------- range grammars
A_EN = rf"(?P<a>{_ATOM_EN})"
B_EN = rf"(?P<b>{_ATOM_EN})"
A_KO = rf"(?P<a>{_ATOM_KO})"
B_KO = rf"(?P<b>{_ATOM_KO})"
N_EN = rf"(?P<n>{EN_NUMBER_RE})"
U_EN = r"(?P<u>days?|d|weeks?|wks?|months?|mos?|years?|yrs?)(?![A-Za-z0-9])"  # a whole word
KO_DURATION = (
    rf"(?P<dur>(?:{'|'.join(sorted(KOREAN_SPAN_WORDS, key=len, reverse=True))})"
    rf"|(?:{KO_NUMBER_RE})\s*{KO_UNIT_RE})"
)

#: '처방 직전 30일', '진단일 기준 직전 7일', 'PCI 직전 90일': the days before the event just named (a window,
#: read by ``nlq.windows``), not the last days before today ('직전 30일 동안' alone).
_NOT_AFTER_EVENT_KO = "(?<![A-Za-z)])(?<![A-Za-z)] )" + "".join(
    f"(?<!{w})(?<!{w} )"
    for w in (
        "진단",
        "처방",
        "수술",
        "시술",
        "입원",
        "투여",
        "투약",
        "검사",
        "촬영",
        "방문",
        "내원",
        "기준",
        "시작",
        "복용",
        "일",
        "날",
    )
)

# (pattern, kind); kinds are interpreted in _range().
EN_RULES: list[tuple[str, str]] = [
    (rf"\b(?:between|from)\s+{A_EN}\s+(?:and|to|through|thru|until|till|-)\s+{B_EN}", "ab"),
    (
        rf"\bfor\s+(?:the\s+)?{N_EN}\s+{U_EN}\s+(?:from|starting(?:\s+on|\s+from|\s+in)?|beginning(?:\s+on|\s+in)?|since)\s+{A_EN}",
        "span",
    ),
    (
        rf"\b(?:from|starting(?:\s+on|\s+from)?|beginning(?:\s+on)?)\s+{A_EN}\s*,?\s+for\s+(?:the\s+(?:next|following)\s+)?{N_EN}\s+{U_EN}",
        "span",
    ),
    (
        rf"\b(?:(?:between|from)\s+)?(?P<mn>{MONTH_RE})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:-|to|through|until|and)\s*"
        rf"(?:(?P<mn2>{MONTH_RE})\.?\s+)?(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})",
        "md_range",
    ),
    (
        rf"\b(?:(?:between|from)\s+)?(?P<mn>{MONTH_RE})\.?\s*(?:-|to|through|until|and)\s*(?P<mn2>{MONTH_RE})\.?,?\s+(?P<y>\d{{4}})",
        "mm_range",
    ),
    (
        rf"\b(?:(?:between|from)\s+)?(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:-|to|through|until|and)\s*(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?"
        rf"\s+(?P<mn>{MONTH_RE})\.?,?\s+(?P<y>\d{{4}})",
        "md_range",
    ),
    (rf"{A_EN}\s*(?:-|~|to|through|thru|until|till)\s*{B_EN}", "ab"),
    # 'in 2022 and 2023', 'in 2023 or 2024': an event dated in either is one range when the periods touch
    (rf"\b(?:(?:in|during)\s+)?{A_EN}\s+(?:and|&|or)\s+(?:(?:in|during)\s+)?{B_EN}", "a_and_b"),
    (
        rf"\b(?:since|starting(?:\s+on|\s+from|\s+in)?|beginning(?:\s+on|\s+in)?|on\s+or\s+after|as\s+of)\s+{A_EN}(?:\s+(?:onwards?|on))?",
        "since",
    ),
    # '2015 or later', 'in or after 2015': an open range from the period's first day
    (rf"\b(?:(?:in|during)\s+)?{A_EN}\s+or\s+(?:later|after|afterwards?|since|beyond)\b", "since"),
    (rf"\bin\s+or\s+after\s+{A_EN}", "since"),
    (rf"\b(?:(?:in|during)\s+)?{A_EN}\s+or\s+(?:earlier|before|prior)\b", "until"),
    (rf"\bin\s+or\s+before\s+{A_EN}", "until"),
    (rf"\bfrom\s+{A_EN}(?P<on>\s+(?:onwards?|on))?", "from"),
    (rf"\bafter\s+{A_EN}", "after"),
    (rf"\b(?:before|prior\s+to|earlier\s+than)\s+{A_EN}", "before"),
    (rf"\b(?:until|through|thru|up\s+to|till|by|on\s+or\s+before|no\s+later\s+than)\s+{A_EN}", "until"),
    (
        rf"\b(?:(?:in|during|within|over|for|throughout)\s+)?the\s+(?:last|past|previous|recent)\s+(?:{N_EN}\s+)?{U_EN}",
        "last",
    ),
    (
        rf"\b(?:(?:in|during|within|over|for|throughout)\s+)?(?:the\s+)?(?:last|past|previous)\s+{N_EN}\s+{U_EN}",
        "last",
    ),
    (r"\b(?:(?:in|during)\s+)?the\s+(?P<cal>year|month)\s+before\s+last\b", "calendar_before_last"),
    (r"\b(?:(?:on|from)\s+)?(?P<day>yesterday|today)\b", "day_rel"),
    (
        r"\b(?:(?:in|during)\s+)?(?:the\s+)?(?P<which>last|this|previous)\s+(?:calendar\s+)?(?P<cal>year|yr|month|mo)\b",
        "calendar",
    ),
    (
        r"\b(?:(?:in|during)\s+)?(?:the\s+)?(?P<q>first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter\s+of\s+(?P<y>\d{4})",
        "quarter",
    ),
    (r"\b(?:(?:in|during)\s+)?Q(?P<q>[1-4])\s*(?:of\s+)?(?P<y>\d{4})", "quarter"),
    (r"\b(?:(?:in|during)\s+)?(?P<y>\d{4})\s*-?\s*Q(?P<q>[1-4])\b", "quarter"),
    # 'during the 1990s': the ten calendar years of the decade
    (r"\b(?:(?:in|during|throughout)\s+)?the\s+(?P<dec>(?:1[89]|20)\d0)'?s\b", "decade"),
    (r"\b(?:(?:in|during)\s+)?(?:the\s+)?(?P<h>first|second)\s+half\s+of\s+(?P<y>\d{4})", "half"),
    (r"\b(?:(?:in|during)\s+)?H(?P<h>[12])\s*(?:of\s+)?(?P<y>\d{4})\b", "half"),
    (rf"\b(?:(?:in|during|throughout|on|within)\s+)?(?:the\s+year\s+)?{A_EN}", "in"),
]
KO_RULES: list[tuple[str, str]] = [
    (rf"{A_KO}\s*(?:부터|에서)\s*{B_KO}\s*(?:까지|사이(?:에)?)", "ab"),
    (
        rf"{A_KO}\s*(?:부터|에서|~|-)\s*(?P<bm>\d{{1,2}}\s*월\s*)?(?P<bd>\d{{1,2}})\s*일\s*(?:까지|사이(?:에)?)",
        "ab_short",
    ),
    (rf"{A_KO}\s*(?:부터|에서|~|-)\s*(?P<bmo>\d{{1,2}})\s*월\s*(?:까지|사이(?:에)?)", "ab_month"),
    (rf"{A_KO}\s*(?:~|-)\s*{B_KO}(?:\s*(?:까지|사이(?:에)?))?", "ab"),
    (rf"{A_KO}\s*(?:과|와|및|,|또는|이나|나)\s*{B_KO}", "a_and_b"),
    (rf"{A_KO}\s*(?:부터|에서부터|로부터)\s*{KO_DURATION}\s*(?:동안|간)", "span_ko"),
    (
        rf"{A_KO}\s*(?:부터|에서부터|로부터)\s*(?P<dur>열흘|보름|이틀|사흘|나흘|닷새|엿새|이레|여드레|아흐레|일주일|하루)",
        "span_ko",
    ),
    (rf"{A_KO}\s*(?:이후(?:로)?|이래|부터)", "since"),
    (rf"{A_KO}\s*(?:이전(?:까지)?|까지)", "until"),
    (rf"{A_KO}\s*(?:전에|전까지|전)(?![가-힣])", "before"),
    (
        rf"(?:최근|지난|{_NOT_AFTER_EVENT_KO}직전)\s*{KO_DURATION}\s*(?:간|동안|이내|사이|안에|안|내)?",
        "last_ko",
    ),
    # '작년 하반기', '올해 상반기': a half of a year named by a calendar word
    (r"(?P<which>재작년|작년|지난해|전년도|올해|금년)\s*(?P<h>상반기|하반기)", "half_ko_rel"),
    # '올해 1분기', '작년 3분기': a quarter of a year named by a calendar word
    (r"(?P<which>재작년|작년|지난해|전년도|올해|금년)\s*(?P<q>[1-4])\s*분기", "quarter_ko_rel"),
    (r"(?P<which>재작년|지지난\s*해|지지난\s*달)", "calendar_before_last"),
    (r"(?P<which>작년|지난해|전년도|올해|금년|이번\s*해|지난달|이번\s*달)", "calendar_ko"),
    (r"(?P<day>어제|오늘|금일)(?:에|부터)?", "day_rel"),
    (r"(?P<y>\d{4})\s*년?\s*(?P<h>상반기|하반기)", "half_ko"),
    # '1990년대': the decade; '2022년 1월~6월': months of one year
    (r"(?P<dec>(?:1[89]|20)\d0)\s*년대(?:에)?", "decade"),
    (
        r"(?P<y>\d{4})\s*년\s*(?P<m1>\d{1,2})\s*월\s*(?:~|-|부터)\s*(?P<m2>\d{1,2})\s*월\s*(?:까지)?",
        "months_ko",
    ),
    (r"(?P<y>\d{4})\s*년?\s*(?P<q>[1-4])\s*분기", "quarter"),
    (rf"{A_KO}", "in"),
]
EN_RES = [(regex(p, re.IGNORECASE), k) for p, k in EN_RULES]
KO_RES = [(regex(p, re.IGNORECASE), k) for p, k in KO_RULES]
_ORD = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}


def _range(m: re.Match[str], kind: str, today: date) -> tuple[date | None, date | None]:
    g = m.groupdict()
    if kind == "ab":
        return atom(g["a"])[0], atom(g["b"])[1]
    if kind == "day_rel":  # 'yesterday', '어제': one day counted back from the reference date
        day = today - timedelta(days=1) if g["day"].lower() in ("yesterday", "어제") else today
        return day, day
    if kind == "md_range":  # 'October 1 to October 10, 2023': the year is written once, at the end
        y = int(g["y"])
        m1 = MONTHS[g["mn"].lower()]
        m2 = MONTHS[g["mn2"].lower()] if g.get("mn2") else m1
        try:
            return date(y, m1, int(g["d1"])), date(y, m2, int(g["d2"]))
        except ValueError as e:
            raise BadDate("range_not_calendar", text=m.group(0)) from e
    if kind == "mm_range":  # 'between January and June 2022'
        y = int(g["y"])
        return _month(y, MONTHS[g["mn"].lower()])[0], _month(y, MONTHS[g["mn2"].lower()])[1]
    if kind == "ab_month":  # '2022년 1월부터 6월까지': the end month borrows the start's year
        a = atom(g["a"])[0]
        return a, _month(a.year, int(g["bmo"]))[1]
    if kind == "a_and_b":  # 'in 2022 and 2023': one range when the periods touch, else ask
        span_a, span_b = atom(g["a"]), atom(g["b"])
        if span_b[0] - span_a[1] != timedelta(days=1):
            raise BadDate("two_periods", text=m.group(0))
        return span_a[0], span_b[1]
    if kind == "ab_short":  # '2023년 10월 1일부터 10월 10일까지': the end date borrows the start's year
        a = atom(g["a"])[0]
        month = int(re.sub(r"\D", "", g["bm"])) if g.get("bm") else a.month
        try:
            return a, date(a.year, month, int(g["bd"]))
        except ValueError as e:
            raise BadDate("range_end_missing", text=m.group(0)) from e
    if kind == "span":
        n = number(g["n"])
        if n is None or n <= 0:
            raise BadDate("no_whole_units", text=m.group(0), unit=g["u"])
        return span(atom(g["a"])[0], n, unit_of(g["u"]) or "day")
    if kind == "span_ko":
        dur = korean_duration(g["dur"])
        if dur is None:
            raise BadDate("duration_unreadable", text=g["dur"])
        return span(atom(g["a"])[0], *dur)
    if kind == "from":
        # 'from 2023-10-01' (a day) starts a span; 'labs from 2019', 'pts from 2023' (a whole period)
        # name the events of that period, as independent writers meant it every time; 'from 2019 on'
        # and 'since 2019' start a span
        start, end = atom(g["a"])
        if g.get("on") or start == end:
            return start, None
        return start, end
    if kind == "since":
        return atom(g["a"])[0], None
    if kind == "after":
        return atom(g["a"])[1] + timedelta(days=1), None
    if kind == "before":
        return None, atom(g["a"])[0] - timedelta(days=1)
    if kind == "until":
        return None, atom(g["a"])[1]
    if kind == "last":
        n = number(g["n"]) if g.get("n") else 1
        return last_units(today, n or 1, unit_of(g["u"]) or "day")
    if kind == "last_ko":
        dur = korean_duration(g["dur"])
        if dur is None:
            raise BadDate("duration_unreadable", text=g["dur"])
        return last_units(today, *dur)
    if kind == "calendar_before_last":  # 'the year before last', '재작년', '지지난달'
        cal = g.get("cal") or ("month" if "달" in g["which"] else "year")
        if cal == "year":
            return date(today.year - 2, 1, 1), date(today.year - 2, 12, 31)
        prev_last = today.replace(day=1) - timedelta(days=1)
        last = prev_last.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if kind in ("calendar", "calendar_ko"):
        which = re.sub(r"\s+", "", g["which"].lower())
        cal = unit_of(g["cal"]) if g.get("cal") else ("month" if "달" in which else "year")
        this = which in ("this", "올해", "금년", "이번해", "이번달")
        if cal == "year":
            y = today.year if this else today.year - 1
            return date(y, 1, 1), (today if this else date(y, 12, 31))
        first = today.replace(day=1)
        if this:
            return first, today
        prev_last = first - timedelta(days=1)
        return prev_last.replace(day=1), prev_last
    if kind == "months_ko":
        y = int(g["y"])
        return _month(y, int(g["m1"]))[0], _month(y, int(g["m2"]))[1]
    if kind == "decade":
        y = int(g["dec"])
        return date(y, 1, 1), date(y + 9, 12, 31)
    if kind in ("quarter", "quarter_ko_rel"):
        q = int(g["q"]) if g["q"].isdigit() else _ORD[g["q"].lower()]
        y = (
            int(g["y"])
            if kind == "quarter"
            else today.year - {"재작년": 2, "작년": 1, "지난해": 1, "전년도": 1}.get(g["which"], 0)
        )
        return _month(y, 3 * q - 2)[0], _month(y, 3 * q)[1]
    if kind in ("half", "half_ko", "half_ko_rel"):
        y = (
            int(g["y"])
            if kind != "half_ko_rel"
            else today.year - {"재작년": 2, "작년": 1, "지난해": 1, "전년도": 1}.get(g["which"], 0)
        )
        first_half = g["h"].lower() in ("first", "상반기", "1")
        return (date(y, 1, 1), date(y, 6, 30)) if first_half else (date(y, 7, 1), date(y, 12, 31))
    start, end = atom(g["a"])
    return start, end


#: A unit right after a number: the number is a measured value ('2000 pg/mL'), never a year.
_MEASURED = regex(rf"\s*(?:{UNITS})(?![a-z])", re.IGNORECASE)
#: A comparison right before a number: the number is a threshold ('BNP above 2000'), never a year.
_COMPARED = regex(
    r"(?:\b(?:above|below|over|under|exceed(?:s|ed|ing)?|greater\s+than|less\s+than|higher\s+than|"
    r"lower\s+than|more\s+than|fewer\s+than)|[<>≥≤]=?)\s*$",
    re.IGNORECASE,
)


_DATE_PREP = regex(r"(?:in|during|since|from|by|before|after|until|through|between)\b", re.IGNORECASE)
_COMPARED_AFTER_KO = regex(r"\s*(?:이상|이하|초과|미만|넘|(?:을|를)\s*넘|보다)")


def recognise_dates(pieces: list[Piece], lang: str, today: date) -> list[Piece]:
    """Claim every date expression: ``date`` items carry ``start``/``end``; ``bad_date`` a reason."""
    for rx, kind in KO_RES if lang == "ko" else EN_RES:

        def make(m: re.Match[str], kind: str = kind) -> Item | None:
            if re.search(r"\d$", m.group(0)) and (
                _MEASURED.match(m.string, m.end())
                # ('aged 65 or over in 2024': 'in' says the number after it is a year)
                or (_COMPARED.search(m.string, 0, m.start()) and not _DATE_PREP.match(m.group(0)))
                or (m.group(0).strip().isdigit() and _COMPARED_AFTER_KO.match(m.string, m.end()))
            ):
                # 'NT-proBNP exceeded 2000 pg/mL', 'BNP above 2000', 'NT-proBNP 2000 이상': a value, not a
                # year (a Korean year is written '2000년 이후')
                return None
            try:
                start, end = _range(m, kind, today)
            except BadDate as e:
                # English in both languages for now (the snapshot of answers is pinned): say(…, lang)
                # is the one-word change that answers Korean users in Korean.
                reason = say(e.code, "en", **e.values)
                return Item(ItemKind.bad_date, m.group(0), m.start(), m.end(), AskData(reason=reason))
            if start and end and start > end:
                return Item(
                    ItemKind.bad_date,
                    m.group(0),
                    m.start(),
                    m.end(),
                    AskData(reason=say("range_reversed", "en", text=m.group(0), end=end, start=start)),
                )
            return Item(ItemKind.date, m.group(0), m.start(), m.end(), DateData(start, end))

        pieces = apply(pieces, rx, make)
    return _that_year(pieces, lang)


#: 'that year', 'the same year', '그 해', '같은 해', '당해': the calendar year named just before.
THAT_YEAR = {
    "en": regex(r"\b(?:in\s+|during\s+)?(?:that(?:\s+same)?|the\s+same)\s+(?:calendar\s+)?year\b", re.I),
    "ko": regex(
        r"(?:그|같은|동일한?)\s*해(?:에|에도|중에?|\s*동안)?(?![가-힣])|당해\s*(?:연도)?(?:에|중에?)?"
    ),
}


def _that_year(pieces: list[Piece], lang: str) -> list[Piece]:
    """'diagnosed in 2024 who had at most one HbA1c test that year': the year is the one named last
    before it, and only when that date is exactly one calendar year; otherwise the words stay unread
    (and are asked back), since 'that year' of a window or a month has no single reading."""
    out: list[Piece] = []
    last: DateData | None = None
    for p in pieces:
        if isinstance(p, Item):
            if p.kind is ItemKind.date:
                d = p.data_as(DateData)
                whole_year = (
                    d.start is not None
                    and d.end is not None
                    and d.start == date(d.start.year, 1, 1)
                    and d.end == date(d.start.year, 12, 31)
                )
                last = d if whole_year else None
            out.append(p)
            continue
        year = last

        def make(m: re.Match[str], year: DateData | None = year) -> Item | None:
            if year is None:
                return None
            return Item(ItemKind.date, m.group(0), m.start(), m.end(), DateData(year.start, year.end))

        out += apply([p], THAT_YEAR["ko" if lang == "ko" else "en"], make)
    return out
