"""Counts ("at least 2", "twice", "2회 이상"), first occurrences ("first", "처음"), and numeric
comparisons ("above 7%", "10 미만").

A comparison such as "at least 2" is a count before "diagnoses" and a lab threshold after "HbA1c";
this module only reads the operator, number and unit (``compare`` items) and the event grammar
decides which one it is from what stands next to it.
"""

from __future__ import annotations

import re
from functools import partial

from cohort_engine.nlq.items import (
    AskData,
    CompareData,
    CountData,
    FirstData,
    Item,
    ItemKind,
    NumberData,
    OccurrenceType,
)
from cohort_engine.nlq.messages import say
from cohort_engine.nlq.numbers import ENGLISH_NUMBERS, number
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.text import Piece, apply
from cohort_engine.nlq.vocab import (
    EN_COUNT_QUALIFIERS,
    KO_COUNT_QUALIFIERS,
    KO_OPS,
    OPS_EN,
    POST_EN,
    UNIT_SPELLINGS,
)

UNITS = (
    r"%|percent|mg/dl|g/dl|mmol/l|mmol/mol|[uµμ]mol/l|ng/ml|pg/ml|ng/l|miu/ml|miu/l|iu/ml|u/ml|u/l|iu/l|"
    r"meq/l|mg/l|g/l|mg/g|ml/min/1\.73\s*m2|ml/min|mmhg|mm\s*hg|kg/m2|kg/m²|kg|cm|bpm|"
    r"(?:x\s*)?10\s*\^?\s*3\s*/\s*[uµμ]l|(?:x\s*)?10\s*\^\s*9\s*/\s*l|/mm3|/[uµμ]l|k/ul|퍼센트|프로|mg|g|점"
)
#: A number as written: '1,500' (thousands separators), '7.5' or '50k' (thousands, as in "platelets < 50k").
NUM = r"(?P<v>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:k(?![a-z]))?)"
NUM2 = r"(?P<v2>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:k(?![a-z]))?)"
UNIT = rf"(?:\s*(?P<unit>{UNITS})(?![a-z]))?"
UNIT2 = rf"(?:\s*(?P<unit2>{UNITS})(?![a-z]))?"
_OP_RE = "|".join(re.escape(k).replace(r"\ ", r"\s+") for k in sorted(OPS_EN, key=len, reverse=True))
_WORD_NUM = "|".join(
    w
    for w in sorted(ENGLISH_NUMBERS, key=len, reverse=True)
    if w not in ("a", "an", "a single", "one single", "zero")
)

EN_RULES: list[tuple[str, str]] = [
    # 'hospitalized 2 or more times', '3+ times'
    (
        rf"\b(?P<n>\d+|{_WORD_NUM})\s*(?:or\s+more|\+)\s+(?:separate\s+|different\s+)?times\b(?P<post>)",
        "times",
    ),
    (
        rf"\b(?P<q>at\s+least|more\s+than|no\s+more\s+than|at\s+most|exactly|only|fewer\s+than|less\s+than)?\s*"
        rf"(?:(?P<w>twice|once|thrice)|(?P<n>\d+|{_WORD_NUM})\s+(?:separate\s+|different\s+)?(?:times|occasions))"
        rf"(?:\s+or\s+(?P<post>more))?\b",
        "times",
    ),
    (r"\bmultiple\b|\bmore\s+than\s+one\b|\btwo\s+or\s+more\b|\bseveral\b", "multiple"),
    (rf"\b(?P<n>{_WORD_NUM})\s+or\s+more\b", "word_or_more"),
    (
        rf"\b(?P<q>at\s+least|at\s+most|exactly|no\s+more\s+than|fewer\s+than|more\s+than)\s+(?P<n>{_WORD_NUM}|one)\b",
        "count_words",
    ),
    (rf"\bbetween\s+{NUM}{UNIT}\s+(?:and|to|-)\s+{NUM2}{UNIT2}", "between"),
    (
        rf"\b{NUM}{UNIT}\s*(?:-|to)\s*{NUM2}{UNIT2}(?=\s*$|\s+(?:in|during|on|and|or|within|who|between|,))",
        "between",
    ),
    (rf"(?P<op>{_OP_RE})\s*{NUM}{UNIT}", "op"),
    (
        rf"\b{NUM}{UNIT}\s*(?:(?:or|and)\s+(?P<post>more|higher|above|greater|over|less|lower|below|under|fewer)|(?P<plus>\+))",
        "post",
    ),
    (rf"(?<![\w.]){NUM}{UNIT}(?![\w.])", "bare"),
    (rf"\b(?P<n>{_WORD_NUM})\b", "word"),
]
EN_RES = [(regex(p, re.IGNORECASE), k) for p, k in EN_RULES]
FIRST_EN = regex(
    # 'metformin initiators', 'insulin glargine new users': a post-modifier, as 'for the first time'
    r"\b(?:(?:new\s+(?:users?|starts?|starters?)|initiators?|new-starts?)(?=\W|$)|"
    r"for\s+the\s+first\s+time|first[- ]ever|first[- ]time|first|initial|incident|newly|new[- ]onset|"
    r"de\s+novo|new)\b",
    re.IGNORECASE,
)

KO_COUNT = regex(
    r"(?P<exact>정확히\s*|딱\s*)?(?P<n>\d+|한|두|세|네|다섯|여섯|일곱|여덟|아홉|열)\s*(?:회|번|차례|건)\s*"
    r"(?P<q>이상|초과|이하|미만|넘게|넘는|넘어|만|이내)?"
)
KO_NEVER = regex(r"한\s*(?:번|차례)\s*도|전혀|단\s*한\s*번도")
# Units are ASCII ('mg/dL'): the Korean patterns ignore case like the English ones.
KO_MULTIPLE = regex(r"여러\s*(?:번|차례|회)")
KO_BETWEEN = regex(
    rf"{NUM}{UNIT}\s*(?:~|-|에서)\s*{NUM2}{UNIT2}\s*(?:사이|이내)?(?:의|인|에)?", re.IGNORECASE
)
#: '… 미만으로 떨어진', '… 이상으로 올라간': the movement *to* a level restates the comparison; without
#: '(으)로' ('2 g/dL 이상 감소한') it is a change by an amount, which is not a threshold.
KO_MOVED = (
    r"(?:\s*(?:으로|로)\s*(?:떨어진|떨어졌던|떨어졌|떨어지는|내려간|내려갔던|올라간|올라갔던|"
    r"상승한|감소한))?"
)
KO_OP = regex(
    rf"{NUM}{UNIT}\s*(?:(?:을|를|이|가)\s*)?(?P<q>이상|초과|이하|미만|넘는|넘게|넘어|넘은|넘었고|넘었던|넘었으며|넘긴|밑도는|밑돈|웃도는|웃돈|"
    rf"보다\s*(?:높은|크거나\s*같은|큰|많은|낮은|작은|적은|높|낮)){KO_MOVED}",
    re.IGNORECASE,
)
#: 'TnI > 0.5 ng/mL', 'Cr ≥ 2.0' in a Korean sentence: the operator written as a symbol before the number.
KO_SYMBOL_OP = regex(rf"(?P<op>>=|≥|=>|<=|≤|=<|>|<)\s*{NUM}{UNIT}", re.IGNORECASE)
KO_BARE = regex(rf"(?<![\w.]){NUM}{UNIT}(?![\w.])", re.IGNORECASE)
FIRST_KO = regex(
    r"처음(?:으로)?|최초(?:로)?|첫\s*번째|첫|신규(?:로)?|새로(?:이)?|새롭게|신환(?=\s|$|이|은|들)"
)


def _num(text: str | None) -> float:
    """'1,500' → 1500.0, '50k' → 50000.0: numbers as people write them."""
    t = str(text).replace(",", "").lower()
    return float(t[:-1]) * 1000 if t.endswith("k") else float(t)


def _unit(g: dict[str, str | None]) -> str | None:
    u = g.get("unit") or g.get("unit2")
    if not u:
        return None
    u = re.sub(r"\s+", "", u)
    return UNIT_SPELLINGS.get(u.lower(), u)


def _count_item(m: re.Match[str], type_: OccurrenceType, n: int, post: bool = False) -> Item:
    return Item(ItemKind.occurrence, m.group(0), m.start(), m.end(), CountData(type_, n, post))


def _en(m: re.Match[str], kind: str) -> Item | None:
    g = m.groupdict()
    if kind == "times":
        n = {"twice": 2, "once": 1, "thrice": 3}.get((g.get("w") or "").lower()) or number(g.get("n") or "")
        if n is None:
            return None
        q = " ".join((g.get("q") or "").lower().split())
        if g.get("post") is not None:
            q = "at least"
        type_, shift = EN_COUNT_QUALIFIERS.get(q, ("at_least", 0))
        if n == 0 and not q:  # '0 times': none at all
            type_ = "exactly"
        return _count_item(m, type_, n + shift, post=True)
    if kind == "count_words":
        n = number(g["n"]) or 1
        q = " ".join(g["q"].lower().split())
        type_, shift = EN_COUNT_QUALIFIERS[q]
        return _count_item(m, type_, n + shift)
    if kind == "multiple":
        return _count_item(m, "at_least", 2)
    if kind == "word_or_more":  # 'three or more UTI diagnoses'
        n = number(g["n"])
        return None if n is None else _count_item(m, "at_least", n)
    if kind == "between":
        lo, hi = _num(g["v"]), _num(g["v2"])
        return Item(
            ItemKind.compare,
            m.group(0),
            m.start(),
            m.end(),
            CompareData("between", min(lo, hi), max(lo, hi), _unit(g)),
        )
    if kind == "op":
        op = OPS_EN[" ".join(g["op"].lower().split())]
        return Item(
            ItemKind.compare, m.group(0), m.start(), m.end(), CompareData(op, _num(g["v"]), None, _unit(g))
        )
    if kind == "post":
        op = ">=" if g.get("plus") else POST_EN[g["post"].lower()]
        return Item(
            ItemKind.compare,
            m.group(0),
            m.start(),
            m.end(),
            CompareData(op, _num(g["v"]), None, _unit(g), post=True),
        )
    if kind == "bare":
        return Item(ItemKind.number, m.group(0), m.start(), m.end(), NumberData(_num(g["v"]), _unit(g)))
    n = number(g["n"])
    return (
        None
        if n is None
        else Item(ItemKind.number, m.group(0), m.start(), m.end(), NumberData(float(n), None))
    )


#: A change between two results ('rose by 0.3 mg/dL', 'a drop of more than 2 g/dL', 'doubled',
#: '2 g/dL 이상 감소한'): not a level, so never read as a threshold; asked back.
#: A number and unit without named groups, for patterns that hold several.
_AMOUNT = rf"\d[\d,]*(?:\.\d+)?(?:\s*(?:{UNITS})(?![a-z]))?"
CHANGE_EN = regex(
    rf"\b(?:rose|rise[sn]?|rising|increased?|increasing|dropped|drops?|dropping|fell|falls?|falling|decreased?|"
    rf"decreasing|declined?|declining|went\s+(?:up|down)|changed?)\s+by\s+(?:more\s+than\s+|at\s+least\s+|over\s+)?"
    rf"{_AMOUNT}|\b(?:an?\s+)?(?:increase|decrease|drop|fall|rise|decline|change|reduction)\s+(?:in\s+[\w-]+\s+)?"
    rf"of\s+(?:more\s+than\s+|at\s+least\s+|over\s+|≥\s*|>\s*)?{_AMOUNT}|\b(?:doubled|tripled|halved|doubling)\b"
    r"|\b(?:an?\s+)?(?:increase|decrease|drop|rise|decline|reduction)\s+in\b",
    re.IGNORECASE,
)
CHANGE_KO = regex(
    rf"{_AMOUNT}\s*(?:이상|이하|넘게|초과|미만|만큼|정도)?\s*(?:감소|증가|상승|하락|떨어|올라|줄어|늘어|내려)[가-힣]*"
    r"|(?:두\s*배|2\s*배|절반)\s*(?:이상\s*)?(?:로\s*)?(?:증가|상승|감소|올라|늘어|줄어)[가-힣]*",
    re.IGNORECASE,
)


def _change(m: re.Match[str], lang: str) -> Item:
    text = m.group(0)
    return Item(
        ItemKind.vague,
        text,
        m.start(),
        m.end(),
        AskData(what="unsupported", reason=say("change_unsupported", lang, text=text.strip())),
    )


def recognise_quantities_en(pieces: list[Piece]) -> list[Piece]:
    pieces = apply(pieces, CHANGE_EN, lambda m: _change(m, "en"))
    pieces = apply(
        pieces,
        FIRST_EN,
        lambda m: Item(
            ItemKind.first,
            m.group(0),
            m.start(),
            m.end(),
            FirstData(post=m.group(0).lower().startswith(("for", "new ", "new-", "initiator"))),
        ),
    )
    for rx, kind in EN_RES:
        pieces = apply(pieces, rx, partial(_en, kind=kind))
    return pieces


def _ko_count(m: re.Match[str]) -> Item:
    n = number(m.group("n"))
    n = 1 if n is None else n
    if m.group("exact") or (n == 0 and not m.group("q")):  # '입원은 0회인': none at all
        return _count_item(m, "exactly", n, post=True)
    type_, shift = KO_COUNT_QUALIFIERS.get(m.group("q") or "", ("at_least", 0))
    return _count_item(m, type_, n + shift, post=True)


def _ko_op(m: re.Match[str]) -> Item:
    q = re.sub(r"\s+", "", m.group("q"))
    op = KO_OPS.get(q) or (">=" if "같은" in q else (">" if any(w in q for w in ("높", "큰", "많")) else "<"))
    return Item(
        ItemKind.compare,
        m.group(0),
        m.start(),
        m.end(),
        CompareData(op, _num(m.group("v")), None, _unit(m.groupdict())),
    )


def recognise_quantities_ko(pieces: list[Piece]) -> list[Piece]:
    pieces = apply(pieces, CHANGE_KO, lambda m: _change(m, "ko"))
    pieces = apply(
        pieces, FIRST_KO, lambda m: Item(ItemKind.first, m.group(0), m.start(), m.end(), FirstData())
    )
    pieces = apply(pieces, KO_NEVER, lambda m: Item(ItemKind.filler, m.group(0), m.start(), m.end()))
    pieces = apply(pieces, KO_MULTIPLE, lambda m: _count_item(m, "at_least", 2, post=True))
    pieces = apply(pieces, KO_COUNT, _ko_count)
    pieces = apply(
        pieces,
        KO_BETWEEN,
        lambda m: Item(
            ItemKind.compare,
            m.group(0),
            m.start(),
            m.end(),
            CompareData(
                "between",
                min(_num(m.group("v")), _num(m.group("v2"))),
                max(_num(m.group("v")), _num(m.group("v2"))),
                _unit(m.groupdict()),
            ),
        ),
    )
    pieces = apply(pieces, KO_OP, _ko_op)
    pieces = apply(
        pieces,
        KO_SYMBOL_OP,
        lambda m: Item(
            ItemKind.compare,
            m.group(0),
            m.start(),
            m.end(),
            CompareData(OPS_EN[m.group("op")], _num(m.group("v")), None, _unit(m.groupdict())),
        ),
    )
    return apply(
        pieces,
        KO_BARE,
        lambda m: Item(
            ItemKind.number,
            m.group(0),
            m.start(),
            m.end(),
            NumberData(_num(m.group("v")), _unit(m.groupdict())),
        ),
    )
