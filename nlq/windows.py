"""Time windows between two events, in English and Korean → inclusive day offsets.

Conventions (README; tests pin them): windows are whole days, inclusive at both ends, a week is 7
days, a month 30 and a year 365.

=======================================  ==================  =====================================
wording                                  offsets             note
=======================================  ==================  =====================================
"7 to 14 days after X", "X 기준 7일부터   7 .. 14
14일 이내", "X 후 7~14일"
"within 30 days after X", "X 후 30일 이내"  0 .. 30            "within 30 days" alone means after
"within 30 days before X", "X 전 1년 이내" −30 .. 0
"within 30 days of X", "X 전후 30일"       −30 .. 30
"at least 3 months before X"             .. −90              open start
"more than 30 days after X"              31 ..               strict: one day more
"less than 30 days after X"              0 .. 29
"the same day", "같은 날", "당일"          0 .. 0
"during the same visit", "같은 입원 중"     same visit          no day limit
"after X", "X 후"                         0 ..                same day counts
"X 다음날까지", "X 그 후 다음날까지"          0 .. 1              the anchor's day and the next
"before X", "X 전"                        .. 0                same day counts
"prior"/"history of"/"병력"                .. −1               an earlier event, never the anchor itself
"30 days after X" (no within/exactly)     —                   ambiguous: asked back
=======================================  ==================  =====================================

English windows point forward to their anchor ("… after *the diagnosis*"): the item says
``anchor="follows"``. Korean windows follow their anchor ("*진단* 후 30일 이내"): ``anchor="precedes"``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import partial

from cohort_engine.nlq.items import (
    AnchorDayData,
    AskData,
    ConjData,
    Item,
    ItemKind,
    UnknownData,
    WindowAnchor,
    WindowData,
)
from cohort_engine.nlq.messages import readings, say
from cohort_engine.nlq.numbers import (
    EN_NUMBER_RE,
    EN_UNIT_RE,
    KO_UNIT_RE,
    KOREAN_SPAN_WORDS,
    days,
    korean_duration,
    number,
    unit_of,
)
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.text import Piece, apply

N = rf"(?P<n>{EN_NUMBER_RE})"
N2 = rf"(?P<n2>{EN_NUMBER_RE})"
# a unit is a whole word: 'at most one HbA1c' holds no hour
U = rf"(?P<u>{EN_UNIT_RE})(?![A-Za-z0-9])"
U1 = rf"(?P<u1>{EN_UNIT_RE})(?![A-Za-z0-9])"
AFTER_EN = r"after|following|post|from|since|later\s+than|subsequent\s+to|later|afterwards?|thereafter"
BEFORE_EN = (
    r"before|prior\s+to|preceding|ahead\s+of|earlier\s+than|in\s+advance\s+of|leading\s+up\s+to|"
    r"in\s+the\s+run-?up\s+to"
)
AROUND_EN = (
    r"on\s+either\s+side\s+of|either\s+side\s+of|on\s+either\s+side|either\s+side|either\s+way|of|around|"
    r"surrounding"
)
#: After a span of days only ('in the 365 days prior', 'within 30 days beforehand'), 'prior' alone is
#: 'before': anywhere else it is a history ('prior MI', nlq.windows.PRIOR_EN).
BEFORE_SPAN_EN = r"prior(?!\s+(?:to|history|hx|medical|diagnos[ie]s|dx)\b)|previously|beforehand"
DIR_EN = rf"(?P<dir>{AFTER_EN}|{BEFORE_EN}|{AROUND_EN}|{BEFORE_SPAN_EN})"


def _dir(word: str | None) -> str:
    if not word:
        return "after"
    w = " ".join(word.lower().split())
    if re.fullmatch(f"{BEFORE_EN}|{BEFORE_SPAN_EN}", w):
        return "before"
    if re.fullmatch(AROUND_EN, w):
        return "around"
    return "after"


def _window(
    start: int | None, end: int | None, text: str, anchor: str, same_visit: bool = False, weak: bool = False
) -> WindowData:
    return WindowData(start, end, WindowAnchor(anchor), text, same_visit=same_visit, weak=weak)


def _amount(n: str | None, u: str | None) -> int:
    amount = number(n or "1")
    if amount is None:
        raise ValueError(n)
    return days(amount, unit_of(u or "day") or "day")


#: One end of a window said as a day relative to the event: 'the day of', 'the day after', '7 days before'.
BOUND_EN = (
    rf"(?:(?:the\s+)?(?:same\s+)?(?:day|date)\s+of|the\s+(?:day|night)\s+(?:before|after|prior\s+to|following)|"
    rf"(?:{EN_NUMBER_RE})\s+(?:{EN_UNIT_RE})\s+(?:before|after|prior\s+to|following))"
)


def _bound_days(text: str) -> int:
    """The day a BOUND_EN names, relative to the event (negative before it)."""
    t = " ".join(text.lower().split())
    if re.search(r"\b(?:day|date)\s+of$", t):
        return 0
    m = re.fullmatch(r"the\s+(?:day|night)\s+(before|after|prior to|following)", t)
    if m:
        return -1 if _dir(m[1]) == "before" else 1
    m = re.fullmatch(rf"({EN_NUMBER_RE})\s+({EN_UNIT_RE})\s+(before|after|prior to|following)", t)
    if m is None:
        raise ValueError(text)
    n = _amount(m[1], m[2])
    return -n if _dir(m[3]) == "before" else n


EN_RULES: list[tuple[str, str]] = [
    # analysts' notation for a window in days around the index: '-30..0', 'd0-d30', 'day -7 to day 7',
    # 'days 0-30' (signed day numbers; a unit after the second number makes it a 'range' below instead)
    (
        r"(?<![\w.\-/−+])(?:(?:d|days?)\s*)?(?P<sa>[-−+]?\d{1,3})(?!\d)\s*(?:d\b|days?\b)?\s*(?:\.{2,3}|…)\s*"
        r"(?:(?:d|days?)\s*)?(?P<sb>[-−+]?\d{1,3})(?![\d.])(?:\s*(?:d|days?)\b)?|"
        r"\b(?:d|day)\s*(?P<da>[-−+]?\d{1,3})\s*(?:-|–|to|through|~)\s*(?:d|day)\s*(?P<db>[-−+]?\d{1,3})\b|"
        r"\bdays?\s+(?P<ea>[-−+]?\d{1,3})\s*(?:-|–|~)\s*(?P<eb>[-−+]?\d{1,3})\b"
        r"(?!\s*(?:days?|d|weeks?|wks?|months?|mos?|years?|yrs?)\b)",
        "signed",
    ),
    # 'before the day of the stroke', 'before that day': the days before that day (..−1)
    (
        r"\b(?:before|prior\s+to)\s+(?:the\s+(?:day|date)\s+of\b(?P<as>)|that\s+(?:same\s+)?(?:day|date)\b)",
        "day_before_open",
    ),
    # protocols: 'no earlier than 7 days before and no later than 7 days after the diagnosis date', 'between
    # 30 days before and the day of the scan': both ends said, each as a day relative to the event (an event
    # named after the first end is moved after the second by nlq.recognise)
    (
        rf"\b(?:no[t]?\s+earlier\s+than|between)\s+(?P<b1>{BOUND_EN}|{EN_NUMBER_RE}\s+{EN_UNIT_RE}),?\s+and\s+"
        rf"(?:no[t]?\s+later\s+than\s+)?(?P<b2>{BOUND_EN})",
        "bounds",
    ),
    (r"\b(?:on\s+)?the\s+(?:same\s+)?day\s+of\b(?P<as>)|\bon\s+day\s+of\b(?P<as3>)", "same_day_of"),
    # 'cisplatin given on a day when the hemoglobin was under 10': the event that follows, that same day
    (
        r"\bon\s+(?:a|the|any)\s+(?:day|date)\s+(?:(?:when|that|on\s+which|where)\b|(?=(?:an?|the)\s))(?P<as>)",
        "same_day_of",
    ),
    (
        r"\b(?:on\s+)?the\s+(?:same|very\s+same)\s+(?:day|date)(?P<as>\s+as)?|\bsame[- ]day\b(?P<as2>\s+as)?|"
        # 'pneumonia in pts who were seen in the ER that day'
        r"\b(?:on\s+)?that\s+(?:same\s+|very\s+)?day\b",
        "same_day",
    ),
    (
        r"\b(?:during|in|within|at|on)\s+(?:the\s+)?(?:same|index|that|this)\s+(?:hospital\s+)?(?:visit|admission|"
        r"hospitali[sz]ation|stay|encounter|episode)(?P<as>\s+as)?",
        "same_visit",
    ),
    # 'the day before (the surgery)', 'the next day': exactly one day from the anchor
    (
        r"\bthe\s+(?:day|night)\s+(?P<dir>before|after|prior\s+to|following)\b"
        r"(?P<as>(?=\s+(?!who\b|and\b|or\b|with\b|in\b|but\b|on\b|at\b)[a-z]))?",
        "one_day",
    ),
    # 'by the next day (after the dx)': the anchor's day or the next (0..1), not the next day alone
    (r"\bby\s+(?:the\s+)?(?:next|following)\s+day(?P<after>\s+after\b)?", "by_next_day"),
    (r"\b(?:on\s+)?the\s+(?:next|following)\s+day\b", "next_day"),
    (rf"\bby\s+day\s+{N}\b", "by_day"),
    (rf"\b{N}\s+{U}\s+or\s+(?:less|fewer|sooner|earlier)\s+{DIR_EN}\b", "within"),
    (rf"\b(?:within|in|during)\s+the\s+(?:first|next)\s+(?:{N}\s+)?{U}(?:\s+{DIR_EN}\b)?", "within"),
    (
        rf"\b(?:between\s+)?(?:day\s+)?{N}\s*(?:{U1}\s+)?(?:to|-|and|through|or)\s*(?:day\s+)?{N2}\s+{U}\s+{DIR_EN}\b",
        "range",
    ),
    (rf"\bbetween\s+day\s+{N}\s+and\s+day\s+{N2}\s+{DIR_EN}\b", "range_days"),
    # 'in the 30 days after', 'the week before': bare 'the <unit> after' is the same window
    (rf"\b(?:within\s+|in\s+|during\s+|over\s+)?the\s+(?:{N}\s+)?{U}\s+{DIR_EN}\b", "within"),
    (
        rf"\b(?:within|in\s+the\s+(?:first\s+|next\s+)?|in\s+(?=\d)|during\s+the\s+(?:first\s+)?|up\s+to|no\s+more\s+than|not\s+more\s+than|"
        rf"at\s+most|no\s+later\s+than)\s*{N}\s+{U}(?:\s+{DIR_EN}\b)?",
        "within",
    ),
    (rf"\b(?:less\s+than|under|fewer\s+than|sooner\s+than)\s+{N}\s+{U}\s+{DIR_EN}\b", "less"),
    (
        rf"\b(?P<q>at\s+least|no\s+(?:less|sooner|earlier)\s+than|more\s+than|over|longer\s+than|beyond|later\s+than)\s+{N}\s+{U}\s+{DIR_EN}\b",
        "atleast",
    ),
    (rf"\b{N}\s*(?:\+|or\s+more)\s+{U}\s+{DIR_EN}\b", "atleast"),
    (
        rf"\b(?P<exact>exactly\s+)?{N}\s+{U}\s+(?P<dir>after|following|later|before|prior\s+to|earlier|post)\b",
        "exact",
    ),
    (rf"\b(?P<dir>after|following|subsequent\s+to|later\s+than|{BEFORE_EN})\b", "open"),
    # 'AF patients who went on to have a stroke': later, as 'then'
    (r"\b(?:and\s+)?(?:then|later|subsequently|afterwards?|thereafter|went\s+on\s+to)\b", "then"),
]
EN_RES = [(regex(p, re.IGNORECASE), k) for p, k in EN_RULES]
PRIOR_EN = regex(
    r"\b(?:a\s+)?(?:(?:past|prior|previous|earlier|pre-?existing|known)\s+(?:medical\s+)?history\s+of|"
    r"(?:a\s+)?history\s+of|hx\s+of|prior|previous|pre-?existing|past|earlier(?=\s+[a-z])(?!\s+than\b))\b",
    re.IGNORECASE,
)


def _en(m: re.Match[str], kind: str) -> Item:
    g = m.groupdict()
    text = m.group(0)
    try:
        if kind == "signed":
            return _signed_range(m, "none")
        if kind == "same_day_of":
            return Item(ItemKind.window, text, m.start(), m.end(), _window(0, 0, text, "follows"))
        if kind == "same_day":
            return Item(
                ItemKind.window,
                text,
                m.start(),
                m.end(),
                _window(0, 0, text, "follows" if (g.get("as") or g.get("as2")) else "none"),
            )
        if kind == "same_visit":
            return Item(
                ItemKind.window,
                text,
                m.start(),
                m.end(),
                _window(None, None, text, "follows" if g.get("as") else "none", same_visit=True),
            )
        if kind == "one_day":
            d = -1 if _dir(g.get("dir")) == "before" else 1
            anchor = "follows" if m.group("as") is not None else "none"
            return Item(ItemKind.window, text, m.start(), m.end(), _window(d, d, text, anchor))
        if kind == "next_day":
            return Item(ItemKind.window, text, m.start(), m.end(), _window(1, 1, text, "none"))
        if kind == "by_next_day":
            side = "follows" if g.get("after") else "none"
            return Item(ItemKind.window, text, m.start(), m.end(), _window(0, 1, text, side))
        if kind == "by_day":
            return Item(
                ItemKind.window, text, m.start(), m.end(), _window(0, _amount(g["n"], "day"), text, "none")
            )
        if kind == "then":
            # weak: an explicit window on the same event replaces it
            return Item(
                ItemKind.window, text, m.start(), m.end(), _window(0, None, text, "previous", weak=True)
            )
        if kind == "day_before_open":
            anchor = "follows" if g.get("as") is not None else "none"
            return Item(ItemKind.window, text, m.start(), m.end(), _window(None, -1, text, anchor))
        if kind == "bounds":
            # 'no earlier than 7 days and no later than 21 days after': the first end takes the second's side
            b = _bound_days(g["b2"])
            side = (
                ""
                if re.search(r"\b(?:of|before|after|prior\s+to|following)$", g["b1"])
                else g["b2"].split()[-1]
            )
            a = _bound_days(f"{g['b1']} {side}".strip())
            return Item(
                ItemKind.window, text, m.start(), m.end(), _window(min(a, b), max(a, b), text, "follows")
            )
        direction = _dir(g.get("dir"))
        anchor = "follows" if g.get("dir") else "none"
        if g.get("dir") and re.fullmatch(r"later|afterwards?|thereafter", g["dir"].lower()):
            anchor = "none"  # '7 to 14 days later': later than the event already named
        if kind == "open":
            s, e = (None, 0) if direction == "before" else (0, None)
            if re.fullmatch(r"prior\s+to", g["dir"].lower()):
                e = -1  # 'a diagnosis prior to that result': before its day, as 'prior X' (README)
            return Item(ItemKind.window, text, m.start(), m.end(), _window(s, e, text, "follows"))
        if kind in ("range", "range_days"):
            a = _amount(g["n"], g.get("u1") or g.get("u"))
            b = _amount(g["n2"], g.get("u"))
            if direction == "around":
                raise ValueError("range around")
            s, e = (-b, -a) if direction == "before" else (a, b)
            return Item(
                ItemKind.window, text, m.start(), m.end(), _window(min(s, e), max(s, e), text, anchor)
            )
        n = _amount(g["n"], g["u"])
        # 'in the 365 days prior to the diagnosis' keeps the diagnosis day, as 'in the 365 days before': two
        # writers of three wrote it so (measured, session 11); bare 'prior to X' is ..−1 (see 'open')
        if kind == "within":
            s, e = {"before": (-n, 0), "around": (-n, n)}.get(direction, (0, n))
            return Item(ItemKind.window, text, m.start(), m.end(), _window(s, e, text, anchor))
        if kind == "less":
            n -= 1
            s, e = {"before": (-n, 0), "around": (-n, n)}.get(direction, (0, n))
            return Item(ItemKind.window, text, m.start(), m.end(), _window(s, e, text, anchor))
        if kind == "atleast":
            q = " ".join((g.get("q") or "at least").lower().split())
            if q in ("more than", "over", "longer than", "beyond", "later than"):
                n += 1
            if direction == "around":
                raise ValueError("at least around")
            s, e = (None, -n) if direction == "before" else (n, None)
            return Item(ItemKind.window, text, m.start(), m.end(), _window(s, e, text, anchor))
        # "30 days after X": within, exactly or at least? Ask.
        before = direction == "before" or g["dir"].lower().startswith(("before", "prior", "earlier"))
        if g.get("exact"):
            s = -n if before else n
            return Item(ItemKind.window, text, m.start(), m.end(), _window(s, s, text, "follows"))
        side = "before" if before else "after"
        return Item(
            ItemKind.bad_window,
            text,
            m.start(),
            m.end(),
            AskData(
                reason=say("window_ambiguous", "en", text=text, n=n, side=side),
                choices=readings("window_ambiguous", "en", n=n, side=side),
            ),
        )
    except ValueError:
        return Item(
            ItemKind.bad_window,
            text,
            m.start(),
            m.end(),
            AskData(reason=say("window_unreadable", "en", text=text)),
        )


EXCLUSIVE_EN = regex(
    r"\(?\s*\b(?:not\s+counting|excluding|but\s+not|except)\s+the\s+(?:\w+\s+)?day"
    r"(?:\s+itself|\s+of\s+(?:the\s+|that\s+)?(?:index\s+)?[\w-]+)?\b\s*\)?",
    re.IGNORECASE,
)
#: '(counting the diagnosis day itself)', 'including the day of the surgery': the anchor's own day, said to
#: be in the window it already is in (an aside).
INCLUSIVE_EN = regex(
    r",?\s*\(?\s*\b(?:counting|including|inclusive\s+of)\s+the\s+(?:\w+\s+)?day(?:\s+itself|\s+of\s+(?:the\s+)?\w+)?\b"
    r"\s*\)?|"
    # '(diagnosis day included)', '(the day itself included)', ', the diagnosis date itself included'
    r"\(\s*(?:the\s+)?(?:\w+\s+)?day(?:\s+itself)?\s+(?:included|includes|counted|inclusive)\s*\)|"
    r",\s*(?:with\s+)?the\s+(?:\w+\s+)?(?:day|date)(?:\s+itself)?\s+(?:included|counted|inclusive)\b|"
    # '… before the op - same day is ok'
    r"\s*[-–—,;(]\s*(?:the\s+)?same[- ]day\s+(?:is\s+)?(?:ok|okay|fine|counts|included|allowed)\b\s*\)?",
    re.IGNORECASE,
)
ASIDE_EN = regex(
    r"\(\s*(?:before\s+or\s+after|after\s+or\s+before|either\s+side|either\s+way)\s*\)", re.IGNORECASE
)


DURATION_EN = regex(
    rf"\bfor\s+(?:at\s+least\s+|more\s+than\s+|over\s+|longer\s+than\s+|less\s+than\s+|up\s+to\s+)?{N}\s+{U}\b"
    r"(?!\s+(?:from|starting|beginning|since|after|before|following|prior))",
    re.IGNORECASE,
)


def _duration(m: re.Match[str]) -> Item:
    text = m.group(0)
    return Item(
        ItemKind.vague,
        text,
        m.start(),
        m.end(),
        AskData(
            what="unsupported",
            reason=say("duration_unsupported", "en", text=text),
            choices=readings("duration_unsupported", "en"),
        ),
    )


#: "at some point", "at any point in time": says no more than the event happened (a window, if any,
#: is written beside it: "at some point within the 30 days prior").
AT_SOME_POINT_EN = regex(r"\bat\s+(?:some|any|one)\s+(?:point|stage)(?:\s+in\s+time)?\b", re.IGNORECASE)


#: 'in that same 7-day window (after diagnosis)', 'during the same period': the window just given, again.
SAME_WINDOW_EN = regex(
    r"\b(?:in|within|during)\s+(?:that|the)\s+same\s+(?:\d+[- ]?(?:day|week|month)s?\s+)?"
    r"(?:window|period|time\s*frame|interval)(?:\s+after\s+(?:the\s+)?(?:diagnosis|dx))?\b",
    re.IGNORECASE,
)


#: '진단일로부터 3일 이내에 A를 받았고, 같은 3일 이내에 B도': the window just given, again, from the same
#: anchor (the index: '같은' names no other event, and a Korean window with no anchor of its own would
#: otherwise hang on the event just before it).
SAME_WINDOW_KO = regex(
    r"(?:같은|동일한?)\s*(?:\d+\s*(?:일|주|개월|달|년)\s*(?:이내|안|동안|내)|기간\s*(?:내|안|동안|중)?)(?:에)?"
    # '그 기간 동안 항암제 주입을 한 번도 받지 않은': the window just given
    r"|그\s*기간\s*(?:동안|내|안|중)(?:에)?"
)


def _same_window(pieces: list[Piece], same: re.Pattern[str] = SAME_WINDOW_EN) -> list[Piece]:
    """Each 'that same window' (claimed before the other windows, so that its own 'after diagnosis' stays
    with it) becomes a copy of the window before it; unread (asked back) when no window came before."""
    out: list[Piece] = []
    last: WindowData | None = None
    for p in pieces:
        if isinstance(p, Item) and p.kind is ItemKind.window:
            d = p.data_as(WindowData)
            if same.fullmatch(d.text):
                if last is None:
                    out.append(Item(ItemKind.unknown, p.text, p.start, p.end, UnknownData()))
                    continue
                copy = replace(last, text=p.text)
                if same is SAME_WINDOW_KO:
                    copy = replace(copy, anchor=WindowAnchor.none)
                p = Item(ItemKind.window, p.text, p.start, p.end, copy)
            last = p.data_as(WindowData)
        out.append(p)
    return out


def union_of(a: Item, conj: Item, b: Item) -> Item | None:
    """'on the same day or the next day', '진단 당일 또는 그 다음 날까지': two windows joined by 'or' that
    touch or overlap are their union; None when they do not (a gap is not one window)."""
    wa, wb = a.data_as(WindowData), b.data_as(WindowData)
    if None in (wa.start, wa.end, wb.start, wb.end) or wa.same_visit or wb.same_visit:
        return None
    lo_a, hi_a, lo_b, hi_b = wa.start or 0, wa.end or 0, wb.start or 0, wb.end or 0
    if max(lo_a, lo_b) > min(hi_a, hi_b) + 1:
        return None
    text = f"{wa.text} {conj.text} {wb.text}"
    return Item(
        ItemKind.window,
        text,
        a.start,
        b.end,
        replace(wa, start=min(lo_a, lo_b), end=max(hi_a, hi_b), text=text),
    )


def join_or_window(out: list[Item], it: Item) -> bool:
    """When ``it`` is a window after '<window> or', replace the two in ``out`` with their union (see
    :func:`union_of`) and say so; the caller then drops ``it``."""
    if not (
        it.kind is ItemKind.window
        and len(out) >= 2
        and out[-1].kind is ItemKind.conj
        and out[-2].kind is ItemKind.window
        and out[-1].data_as(ConjData).op == "or"
    ):
        return False
    joined = union_of(out[-2], out[-1], it)
    if joined is None:
        return False
    out[-2:] = [joined]
    return True


def window_asides_en(items: list[Item]) -> list[Item]:
    """Windows said twice over: 'the same day or the next day' (one window, their union), and 'within 48
    hours of the dx (after it)' (the side, in brackets, of the window just given)."""
    out: list[Item] = []
    for it in items:
        if join_or_window(out, it):
            continue
        if it.kind is ItemKind.pronoun and out and out[-1].kind is ItemKind.window:
            side = out[-1].data_as(WindowData)
            k = next((i for i in range(len(out) - 2, -1, -1) if out[i].kind is ItemKind.window), None)
            if (
                k is not None
                and side.text.lower() in ("after", "before")
                and side.start in (0, None)
                and side.end in (0, None)
            ):
                w = out[k].data_as(WindowData)
                if w.start is not None and w.end is not None and w.start < 0 < w.end:
                    w = replace(w, start=0) if side.text.lower() == "after" else replace(w, end=0)
                    out[k] = Item(ItemKind.window, out[k].text, out[k].start, out[k].end, w)
                    del out[-1]
                    continue
        out.append(it)
    narrowed: list[Item] = []  # a second pass: the unions above are whole windows by now
    for it in out:
        if it.kind is ItemKind.window and _narrows_window_before(narrowed, it):
            continue
        narrowed.append(it)
    return narrowed


def _narrows_window_before(out: list[Item], it: Item) -> bool:
    """'within 24 hours of the diagnosis (same day or the following day)': a window right after another
    one's anchor, inside that window, says which part of it is meant; the first window takes its bounds
    (True: ``it`` is read into ``out``)."""
    k = next((i for i in range(len(out) - 1, -1, -1) if out[i].kind is ItemKind.window), None)
    if k is None or len(out) - k > 4:
        return False
    between = out[k + 1 :]
    if k == len(out) - 1 or not all(
        x.kind in (ItemKind.filler, ItemKind.event) or (x.kind is ItemKind.conj and x.text == ",")
        for x in between
    ):
        return False
    w, n = out[k].data_as(WindowData), it.data_as(WindowData)
    if (
        None in (w.start, w.end, n.start, n.end)
        or w.same_visit
        or n.same_visit
        or n.anchor is not WindowAnchor.none
    ):
        return False
    if not (w.start <= n.start and n.end <= w.end) or (w.start, w.end) == (n.start, n.end):  # type: ignore[operator]
        return False
    out[k] = Item(
        ItemKind.window, out[k].text, out[k].start, out[k].end, replace(w, start=n.start, end=n.end)
    )
    return True


def _anchor_day(pieces: list[Piece], rx: re.Pattern[str], *, keep: bool) -> list[Piece]:
    """'(not counting the day itself)' / '(counting the diagnosis day itself)', '(진단일 포함)': whether the
    anchor's own day is in the window just given (``keep``)."""
    return apply(
        pieces,
        rx,
        lambda m: Item(ItemKind.exclusive, m.group(0), m.start(), m.end(), AnchorDayData(keep=keep)),
    )


def recognise_windows_en(pieces: list[Piece]) -> list[Piece]:
    pieces = apply(pieces, AT_SOME_POINT_EN, lambda m: Item(ItemKind.filler, m.group(0), m.start(), m.end()))
    pieces = apply(pieces, DURATION_EN, _duration)
    pieces = apply(pieces, ASIDE_EN, lambda m: Item(ItemKind.aside, m.group(0), m.start(), m.end()))
    pieces = _anchor_day(pieces, EXCLUSIVE_EN, keep=False)
    pieces = _anchor_day(pieces, INCLUSIVE_EN, keep=True)
    pieces = apply(
        pieces,
        SAME_WINDOW_EN,
        lambda m: Item(
            ItemKind.window, m.group(0), m.start(), m.end(), _window(None, None, m.group(0), "precedes")
        ),
    )
    for rx, kind in EN_RES:
        pieces = apply(pieces, rx, partial(_en, kind=kind))
    pieces = _same_window(pieces)
    return apply(pieces, PRIOR_EN, lambda m: Item(ItemKind.prior, m.group(0), m.start(), m.end()))


#: "HbA1c ≥ 8 at diagnosis", "lactate on admission": the value taken on the day the named event
#: happened. Read after the demographics, which own "aged 65 or older at the time of diagnosis".
AT_EVENT_EN = regex(
    r"\b(?:at\s+the\s+time\s+of|at|on|upon)(?=\s+(?:the\s+|their\s+)?(?:diagnosis|dx|admission|surgery|operation)\b)",
    re.IGNORECASE,
)


def recognise_at_event_en(pieces: list[Piece]) -> list[Piece]:
    return apply(
        pieces,
        AT_EVENT_EN,
        lambda m: Item(ItemKind.window, m.group(0), m.start(), m.end(), _window(0, 0, m.group(0), "follows")),
    )


# ---------------------------------------------------------------- Korean
KN = r"(?P<n>\d+|한|두|세|석|네|넉|다섯|여섯|일곱|여덟|아홉|열)"
KN2 = r"(?P<n2>\d+|한|두|세|석|네|넉|다섯|여섯|일곱|여덟|아홉|열)"
KU = rf"(?P<u>{KO_UNIT_RE})"
KU1 = rf"(?P<u1>{KO_UNIT_RE})"
# A direction word stands alone or right after an event noun ('수술후'); never inside a word ('심부전').
GLUE_KO = (
    r"(?:(?<![가-힣])|(?<=수술|진단|시술|입원|처방|투약|투여|사망|촬영|검사|방문|내원|복용|"
    r"발병|확진|받은|시행))"
)
_PRE_WORDS_KO = r"기준(?:으로)?|후|이후|뒤|다음|부터|로부터|으로부터|에서부터|전후|앞뒤|직전|전|이전|앞"
# '그 후로 1년 안에', '그 뒤로도', '그 다음에 90일 안에': the direction word with its particle
_PRE_PARTICLE_KO = r"(?:(?<=후|뒤)로도?|(?<=다음)에)?"
PRE_KO = rf"(?:{GLUE_KO}(?P<pre>{_PRE_WORDS_KO}){_PRE_PARTICLE_KO}\s*)?"
PRE_KO_REQ = rf"{GLUE_KO}(?P<pre>{_PRE_WORDS_KO}){_PRE_PARTICLE_KO}\s*"
#: Hangul syllables ending in ㄴ (a verb's past adnominal '-ㄴ': 한, 쓴, 받은, 된) and in ㄹ (its future
#: '-ㄹ': 받을, 할), '전' (before) and '간' aside.
_FINAL_N = "".join(chr(0xAC00 + i * 28 + 4) for i in range(399) if chr(0xAC00 + i * 28 + 4) not in "전간")
_FINAL_L = "".join(chr(0xAC00 + i * 28 + 8) for i in range(399))
#: 'day -365 to -1' / '-30~+30일': both ends of a window as signed day numbers relative to the event (a
#: sign on at least one end; '~' or 'to' between them).
SIGNED_RANGE = (
    r"(?<![\w.])(?:(?P<sa>[-−+]\d{1,4})\s*(?:일|d|days?)?\s*(?:~|〜|to|through)\s*(?P<sb>[-−+]?\d{1,4})|"
    r"(?P<ua>\d{1,4})\s*(?:일|d|days?)?\s*(?:~|〜|to|through)\s*(?P<ub>[-−+]\d{1,4}))\s*(?:일|d\b|days?\b)"
)


def _signed_range(m: re.Match[str], anchor: str) -> Item:
    """The window between two signed day numbers, in whichever order they were said: the first named
    group of each pair that matched is an end (English 'sa'/'da'/'ea', Korean 'sa'/'ua')."""
    g = m.groupdict()
    ends = [
        int(next(g[k] for k in keys if g.get(k)).replace("−", "-"))
        for keys in (("sa", "ua", "da", "ea"), ("sb", "ub", "db", "eb"))
    ]
    return Item(
        ItemKind.window, m.group(0), m.start(), m.end(), _window(min(ends), max(ends), m.group(0), anchor)
    )


#: A span said as one word ('나흘', '보름', '반년'): its days are in ``KOREAN_SPAN_WORDS``.
KO_SPAN_WORD = "|".join(sorted(KOREAN_SPAN_WORDS, key=len, reverse=True))
KO_RULES: list[tuple[str, str]] = [
    (SIGNED_RANGE + r"(?:\s*(?:사이|동안|이내|구간|범위))?(?:에는|에|의|내)?", "signed"),
    # '진단 2일 전부터 2일 후까지', '30일 전부터 수술 당일까지': both ends, each said from the anchor (the two
    # had been read as one unknown name)
    (
        rf"{KN}\s*{KU1}\s*(?:전|이전|앞)\s*(?:부터|에서)\s*"
        r"(?:(?:진단|수술|시술|입원|처방|검사|촬영|투여|기준)\s*)?(?:(?:후|이후|뒤)\s*)?"
        rf"(?:{KN2}\s*{KU}\s*(?:후|뒤|이후)|(?:당일|일|날|그\s*날))\s*까지(?:\s*(?:사이|이내))?(?:에)?",
        "bounds",
    ),
    # '생검 받은 날이나 그 다음날', '진단 당일 또는 익일': the anchor's day or the next, 0..1
    (
        r"(?:(?<=[은는던] )|(?<=[은는던]))?(?:당일|날|그\s*날)\s*(?:이나|또는|혹은|나|과|와|or|/)\s*"
        r"(?:그\s*)?(?:다음\s*날|익일|이튿날)(?:까지)?(?:에)?",
        "by_next_day",
    ),
    # 'XA 시행 전날~당일에': the day before and the day itself (-1..0)
    (r"(?:전날|하루\s*전)\s*(?:~|-|부터)\s*(?:당일|그\s*날)(?:까지)?(?:\s*사이)?(?:에)?", "day_before_or_of"),
    (rf"(?P<pre>전날|하루\s*전)(?:까지)?(?:\s*{KN}\s*{KU}\s*(?:동안|간|이내|사이))?(?:에)?", "day_before"),
    # '다음날까지' ("by the next day") = the anchor's day and the next: 0..1; '그 후 다음날까지' is the same
    (
        r"(?:(?<![가-힣])그\s*)?(?:(?<![가-힣])(?:후|뒤|이후)\s*)?(?:다음\s*날|익일|이튿날)\s*까지(?:\s*사이)?(?:에)?",
        "by_next_day",
    ),
    # '다음날부터 3일 안에', '다음날부터 일주일 사이에': from the next day to day N (1..N)
    (
        r"(?:다음\s*날|익일|이튿날)\s*부터\s*(?P<dur>(?:\d+|[가-힣]{1,2})\s*(?:일|주일|주|개월|달|년)|일주일|열흘|보름|"
        r"이틀|사흘|나흘|닷새)\s*(?:안에|안|이내에?|내에?|사이에?|동안|까지)",
        "next_day_on",
    ),
    (r"(?:다음\s*날|익일|이튿날)(?:에)?", "day_after"),
    (r"(?:같은|동일한?)\s*(?:날짜|날|일자)(?:에)?|당일(?:에)?", "same_day"),
    # '같은 날 응급실 방문했고 그날 head CT까지': that same day
    (r"(?<![가-힣])그\s*(?:날|당일)(?:에|에는|에도)?(?![가-힣])", "same_day"),
    # '폐렴 진단일에 응급실을 방문': on the day of the event just named, as '진단 당일'
    (
        r"(?:(?<=진단)|(?<=수술)|(?<=시술)|(?<=입원)|(?<=검사)|(?<=촬영)|(?<=처방)|(?<=투여)|(?<=방문)|"
        r"(?<=확진)|(?<=내원))\s*일(?:(?:에|날에)(?![가-힣])|(?=\s+[A-Za-z]))",
        "same_day",
    ),
    # '혈색소가 10 미만이었던 날에 시스플라틴을': the day on which the clause before held
    # ('티카그렐러를 처음 쓴 날 아스피린도': any verb's past form, '-ㄴ', before '날')
    # ('처음 처방받은 날 기준으로 그 전 30일 안에': a day the window after it counts from, no window itself)
    (
        rf"(?:(?<=던)|(?<=던 )|(?<=[{_FINAL_N}] ))날(?:에|에는)?(?![가-힣])(?!\s*(?:기준|로부터|부터))",
        "same_day",
    ),
    # '고혈압을 처음 진단받을 때 수축기 혈압 160 이상': at that time, the day of the event just named
    (rf"(?:(?<=[{_FINAL_L}])|(?<=[{_FINAL_L}] )|(?<=던 ))때(?:에|에는|의)?(?![가-힣])", "same_day"),
    # '진단 당시 HbA1c', '입원 시 젖산': the value taken on the day of the event just named (not the age:
    # '진단 시 65세 이상' belongs to the demographics)
    (
        r"(?:(?<=진단)|(?<=입원)|(?<=수술)|(?<=시술))\s*(?:당시|시점|때|시)(?:에|의)?(?![가-힣])"
        r"(?!\s*(?:나이|연령|만\s*\d|\d+\s*(?:세|살|대)))",
        "same_day",
    ),
    (r"(?:같은|동일한?)\s*(?:입원|방문|내원|진료)\s*(?:기간|중)?\s*(?:중|동안|때)?(?:에)?", "same_visit"),
    (r"(?:그\s*|해당\s*)?(?:입원|내원)\s*(?:기간\s*(?:중|동안)|중)(?:에)?(?![가-힣])", "same_visit"),
    (
        rf"{PRE_KO}{KN}\s*{KU1}?\s*(?:(?P<mid>후|뒤|이후)\s*)?(?:부터|에서|~|-)\s*{KN2}\s*{KU}\s*(?:째\s*)?(?P<post>전|이전|후|뒤|이후)?\s*"
        r"(?:이내|까지|사이|이하|안에|내)?(?:\s*(?:사이|이내|안))?(?:에)?",
        "range",
    ),
    (rf"{PRE_KO_REQ}{KN}\s*{KU}\s*(?:동안|간)(?:에)?", "within"),
    # 'PTCA 받고 1년 동안 …', '수술하고 나서 30일 동안': a duration after '…고 (나서)' runs from that event
    (rf"(?<=[가-힣]고)\s+(?:나서\s+)?{KN}\s*{KU}\s*(?:동안|간)(?:에)?", "within"),
    (
        rf"{PRE_KO}(?:{KN}\s*{KU}|(?P<word>{KO_SPAN_WORD}))\s*(?P<post>전|이전)?\s*(?P<w>이내|안에|내에|내|까지|미만)(?:에)?",
        "within",
    ),
    (
        rf"{PRE_KO}{KN}\s*{KU}\s*(?:(?:이|가)\s*)?(?P<q>이상|넘게|넘어서|넘어|초과|지나서|지난|경과한|경과\s*후)\s*"
        r"(?P<post>전|이전|후|뒤|이후)?(?:에)?",
        "atleast",
    ),
    # '진단 후 30일 이후에': from day 30 after the anchor on ('이후' after a count of days is 'since')
    (rf"{GLUE_KO}(?P<pre>후|뒤|이후|부터)\s*{KN}\s*{KU}\s*(?P<q>이후)(?:에|부터)?(?![가-힣])", "atleast"),
    (
        rf"{PRE_KO}(?:{KN}\s*{KU}|(?P<word>{KO_SPAN_WORD}))\s*(?P<post>후|뒤|이후|전|이전|째)(?:에)?(?![가-힣])",
        "exact",
    ),
    (r"(?<![가-힣])(?P<pre>이후|이전|직전|직후)(?:에|로|에는)?(?![가-힣])", "open"),
    # 'knee x-ray 찍은 다음에 1년 안에': after the clause before, as '뒤'
    (r"(?<=[은는던] )(?P<pre>다음)(?:에|에는)?(?![가-힣])", "open"),
    (rf"{GLUE_KO}(?P<pre>후|뒤|전|앞서|먼저)(?:에|로도|로|에는|에도)?(?![가-힣])", "open"),
]
KO_RES = [(regex(p), k) for p, k in KO_RULES]
PRIOR_KO = regex(
    r"(?:과거\s*)?(?:병력|과거력|기왕력)|과거(?:에)?(?!\s*흡연)"
    # clinician shorthand inside Korean text: 'peptic ulcer hx 있는' = 병력이 있는
    r"|(?<![A-Za-z])[Hh]x(?![A-Za-z])"
)  # '과거 흡연자' = a former smoker


def _ko_amount(g: dict, key: str = "n", unit_key: str = "u") -> int:
    if g.get("word"):
        return days(*KOREAN_SPAN_WORDS[re.sub(r"\s+", "", g["word"])])
    amount = number(g[key])
    if amount is None:
        raise ValueError(g[key])
    return days(amount, unit_of(g.get(unit_key) or "일") or "day")


def _ko(m: re.Match[str], kind: str) -> Item:
    g = m.groupdict()
    text = m.group(0)
    pre = (g.get("pre") or "") + (g.get("post") or "")
    around = "전후" in pre or "앞뒤" in pre
    before = any(w in pre for w in ("전", "앞", "먼저")) and not around
    if kind == "range" and g.get("post") in ("후", "뒤", "이후"):
        before = False
    try:
        if kind == "signed":
            return _signed_range(m, "precedes")
        if kind == "next_day_on":
            dur = korean_duration(re.sub(r"\s+", "", g["dur"]))
            if dur is None:
                raise ValueError(g["dur"])
            return Item(ItemKind.window, text, m.start(), m.end(), _window(1, days(*dur), text, "precedes"))
        if kind == "same_day_of":
            return Item(ItemKind.window, text, m.start(), m.end(), _window(0, 0, text, "follows"))
        if kind == "same_day":
            return Item(ItemKind.window, text, m.start(), m.end(), _window(0, 0, text, "precedes"))
        if kind == "by_next_day":
            return Item(ItemKind.window, text, m.start(), m.end(), _window(0, 1, text, "precedes"))
        if kind == "day_before_or_of":
            return Item(ItemKind.window, text, m.start(), m.end(), _window(-1, 0, text, "precedes"))
        if kind == "day_after":
            return Item(ItemKind.window, text, m.start(), m.end(), _window(1, 1, text, "precedes"))
        if kind == "day_before":
            if g.get("n"):
                return Item(
                    ItemKind.window, text, m.start(), m.end(), _window(-_ko_amount(g), -1, text, "precedes")
                )
            return Item(
                ItemKind.window,
                text,
                m.start(),
                m.end(),
                _window(None if "까지" in text else -1, -1, text, "precedes"),
            )
        if kind == "same_visit":
            return Item(
                ItemKind.window,
                text,
                m.start(),
                m.end(),
                _window(None, None, text, "precedes", same_visit=True),
            )
        if kind == "open":
            s, e = (None, 0) if before else (0, None)
            return Item(ItemKind.window, text, m.start(), m.end(), _window(s, e, text, "precedes"))
        if kind == "bounds":
            end = _ko_amount(g, "n2", "u") if g.get("n2") else 0
            return Item(
                ItemKind.window,
                text,
                m.start(),
                m.end(),
                _window(-_ko_amount(g, "n", "u1"), end, text, "precedes"),
            )
        if kind == "range":
            a = _ko_amount(g, "n", "u1" if g.get("u1") else "u")
            b = _ko_amount(g, "n2", "u")
            s, e = (-b, -a) if before else (a, b)
            return Item(
                ItemKind.window, text, m.start(), m.end(), _window(min(s, e), max(s, e), text, "precedes")
            )
        n = _ko_amount(g)
        if kind == "within":
            if g.get("w") == "미만":
                n -= 1
            s, e = (-n, n) if around else ((-n, 0) if before else (0, n))
            return Item(ItemKind.window, text, m.start(), m.end(), _window(s, e, text, "precedes"))
        if kind == "atleast":
            if g.get("q") in ("초과", "넘게", "넘어서", "넘어"):
                n += 1
            s, e = (None, -n) if before else (n, None)
            return Item(ItemKind.window, text, m.start(), m.end(), _window(s, e, text, "precedes"))
        if g.get("post") == "째":
            return Item(ItemKind.window, text, m.start(), m.end(), _window(n, n, text, "precedes"))
        side_ko = "전" if before else "후"
        return Item(
            ItemKind.bad_window,
            text,
            m.start(),
            m.end(),
            AskData(
                reason=say("window_ambiguous", "ko", text=text, n=n, side=side_ko),
                choices=readings("window_ambiguous", "ko", n=n, side=side_ko),
            ),
        )
    except (ValueError, KeyError):
        return Item(
            ItemKind.bad_window,
            text,
            m.start(),
            m.end(),
            AskData(reason=say("window_unreadable", "ko", text=text)),
        )


DURATION_KO = regex(
    rf"{KN}\s*{KU}\s*(?:이상|넘게|넘도록|동안|간)\s*(?:을|를)?\s*(?:꾸준히\s*|계속\s*|장기\s*)?"
    r"(?=(?:복용|투약|투여|사용|처방|먹))"
)
DIRECTION_BEFORE_KO = regex(r"(?:후|이후|뒤|전|이전|기준(?:으로)?|부터|로부터|전날까지|까지)\s*$")


def _duration_ko(m: re.Match[str]) -> Item | None:
    """'90일 이상 복용한': how long a drug was taken. After '후/전/기준' the same words are a window."""
    if DIRECTION_BEFORE_KO.search(m.string[: m.start()]):
        return None
    return Item(
        ItemKind.vague,
        m.group(0),
        m.start(),
        m.end(),
        AskData(
            what="unsupported",
            reason=say("duration_unsupported", "ko", text=m.group(0).strip()),
            choices=readings("duration_unsupported", "ko"),
        ),
    )


#: '(입원 당일 포함)': the anchor's own day, said to be in the window it already is in (an aside);
#: '(진단 당일 제외)': said to be out of it (the window loses that day, as '(excluding the day itself)').
INCLUSIVE_KO = regex(
    r"\(\s*(?:(?:[가-힣]+\s*)?당일|[가-힣]{1,4}일)\s*(?:도\s*)?포함(?:하여|해서|함|합니다)?\s*\)"
)
EXCLUSIVE_KO = regex(r"\(\s*(?:[가-힣]+\s*)?당일\s*(?:은|는)?\s*제외(?:하고|함|합니다)?\s*\)")


def recognise_windows_ko(pieces: list[Piece]) -> list[Piece]:
    pieces = _anchor_day(pieces, INCLUSIVE_KO, keep=True)
    pieces = _anchor_day(pieces, EXCLUSIVE_KO, keep=False)
    pieces = apply(pieces, DURATION_KO, _duration_ko)
    pieces = apply(
        pieces,
        SAME_WINDOW_KO,
        lambda m: Item(
            ItemKind.window, m.group(0), m.start(), m.end(), _window(None, None, m.group(0), "none")
        ),
    )
    for rx, kind in KO_RES:
        pieces = apply(pieces, rx, partial(_ko, kind=kind))
    pieces = _same_window(pieces, SAME_WINDOW_KO)
    return apply(pieces, PRIOR_KO, lambda m: Item(ItemKind.prior, m.group(0), m.start(), m.end()))
