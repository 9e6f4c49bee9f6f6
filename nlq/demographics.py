"""Sex and age wording → ``sex`` and ``age`` items (age is always the age at the index date).

Bounds are inclusive: "aged 65 or older" / "65세 이상" → min 65; "over 65" / "65세 초과" → min 66
(strictly more); "under 18" / "18세 미만" → max 17; "40대" → 40..49; "adults"/"성인" → min 18;
"children"/"소아"/"아이들" → max 17. Words such as "elderly" or "고령" are vague and asked back
(``nlq.vocab``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import partial

from cohort_engine.nlq.items import AgeData, Item, ItemKind, SexData
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.text import Piece, apply
from cohort_engine.nlq.vocab import DECADES

N = r"(?P<n>\d{1,3})"
M = r"(?P<m>\d{1,3})"
YRS = r"(?:\s*(?:years?|yrs?)(?:\s+(?:old|of\s+age))?|\s*-?\s*years?-old|\s*yo|\s*y/o)?"
AT = (
    r"(?:\s+at\s+(?:the\s+|that\s+)?(?:time\s+of\s+)?(?:(?:the\s+)?index(?:\s+date|\s+event)?|(?:first\s+)?diagnosis|"
    r"dx|surgery|admission|baseline|entry|the\s+procedure|(?:the\s+)?injury|(?:the\s+)?(?:scan|study))"
    # 'in their 40s when diagnosed': the age at the index event, as every age here is
    r"|\s+when\s+(?:they\s+were\s+|first\s+)?(?:diagnosed|admitted|operated(?:\s+on)?|treated|seen)"
    # 'newly diagnosed with hypertension in 2023 and were between 40 and 59 years old at that time'
    r"|\s+at\s+that\s+(?:time|point|date))?"
)
#: Right after a comma at the end of the question (', under 18'): an afterthought about the patients.
TAIL = r"(?<=,\s)"
END = r"(?=\s*(?:$|[.;]))"
PEOPLE = (
    r"(?:(?<=patients )|(?<=people )|(?<=persons )|(?<=men )|(?<=women )|(?<=adults )|(?<=those )|"
    r"(?<=males )|(?<=females )|(?<=subjects )|(?<=individuals )|(?<=pts )|(?<=patient )|(?<=children )|"
    r"(?<=kids )|(?<=boys )|(?<=girls )|(?<=child )|(?<=infants ))"
)

#: The age is at an event, said outright: 'over 70 at dx', 'under 18 at diagnosis'.
AT_REQ = (
    r"(?:(?=\s+at\s+(?:the\s+|that\s+)?(?:time\s+of\s+)?"
    r"(?:index|dx|diagnosis|first\s+diagnosis|surgery|admission|baseline))"
    r"|(?=\s+when\s+(?:they\s+were\s+|first\s+)?(?:diagnosed|admitted|operated|treated|seen)))"
)
#: Patients left out by age: 'excluding pts over 65', 'excluding anyone aged 80 and over'.
EXCL = (
    r"\b(?:excluding|except(?:\s+for)?|excl\.?|but\s+not|minus)\s+"
    r"(?:(?:pts|patients|those|anyone|people|persons|subjects)\s+)?(?:who\s+(?:are|were)\s+)?(?:aged?\s+)?"
)

# (pattern, how): how picks min/max from n and m.
EN_AGE: list[tuple[str, str]] = [
    # exclusions by age keep the other side: 'excluding pts over 65' = 65 or younger
    (rf"{EXCL}(?:over|above|older\s+than)\s+{N}{YRS}", "max"),
    (rf"{EXCL}{N}{YRS}\s*(?:\+|(?:and|or)\s+(?:over|older|above|up))", "max_strict"),
    (rf"{EXCL}(?:under|below|younger\s+than)\s+{N}{YRS}", "min"),
    (rf"{EXCL}{N}{YRS}\s*(?:and|or)\s+(?:under|younger|below)", "min_strict"),
    # 'pts over 65yo', 'under 18 y/o'
    (rf"\b(?:over|above|older\s+than)\s+{N}\s*(?:yo|y/o|y\.o\.)(?![A-Za-z]){AT}", "min_strict"),
    (rf"\b(?:under|below|younger\s+than)\s+{N}\s*(?:yo|y/o|y\.o\.)(?![A-Za-z]){AT}", "max_strict"),
    # 'aged under 50 at diagnosis', 'aged over 70'
    (rf"\baged?\s+(?:over|above|older\s+than)\s+{N}{YRS}{AT}", "min_strict"),
    (rf"\baged?\s+(?:under|below|younger\s+than)\s+{N}{YRS}{AT}", "max_strict"),
    (rf"\b(?:over|above|older\s+than)\s+{N}{YRS}{AT_REQ}{AT}", "min_strict"),
    (rf"\b(?:under|below|younger\s+than)\s+{N}{YRS}{AT_REQ}{AT}", "max_strict"),
    (rf"\b(?:aged?|ages)\s+(?:between\s+|from\s+)?{N}\s*(?:-|to|and|through)\s*{M}{YRS}{AT}", "nm"),
    (rf"\bbetween\s+(?:the\s+)?ages?\s+(?:of\s+)?{N}\s+(?:and|to)\s+{M}{YRS}{AT}", "nm"),
    (
        rf"{PEOPLE}(?:between\s+)?{N}\s*(?:and|to|-|–)\s*{M}{YRS}{AT}(?!\s*(?:%|mg|g/|mmol|days?|weeks?|months?))",
        "nm",
    ),
    (rf"\b{N}\s*(?:-|–|—|to)\s*{M}\s*[- ]?(?:years?[- ]olds?|yo|y/o|years?\s+(?:old|of\s+age)){AT}", "nm"),
    (
        rf"\bwhen\s+(?:they\s+were\s+|aged\s+)?(?:between\s+)?{N}\s+(?:and|to|-|–)\s+{M}"
        rf"(?:\s+years?(?:\s+(?:old|of\s+age))?)?",
        "nm",
    ),
    (rf"\b(?:were|was|are|is|being)\s+(?:between\s+)?{N}\s+(?:and|to|-|–)\s+{M}\s+years?\s+old{AT}", "nm"),
    (rf"\b(?:aged?\s+)?{N}{YRS}\s*(?:or|and)\s+older(?:\s+years?)?{AT}", "min"),
    (rf"\baged?\s+{N}{YRS}\s*(?:\+|(?:or|and)\s+(?:over|above|up|more))(?:\s+years?(?:\s+old)?)?{AT}", "min"),
    (rf"\b{N}\s*(?:years?|yrs?)(?:\s+old)?\s*(?:\+|(?:or|and)\s+(?:over|above|up|more)){AT}", "min"),
    (rf"\b{N}\s*\+\s*(?:yo|y/o|y\.o\.|yrs?|years?(?:\s+old)?)(?![A-Za-z]){AT}", "min"),
    (rf"{PEOPLE}{N}\s*(?:\+|(?:or|and)\s+(?:over|above|up)){AT}", "min"),
    (rf"\b(?:aged?|age)\s*(?:at\s+least|≥|>=|=>|no\s+(?:less|younger)\s+than)\s*{N}{YRS}{AT}", "min"),
    (rf"\bat\s+least\s+{N}\s+years?(?:\s+(?:old|of\s+age))?{AT}", "min"),
    (rf"\bno\s+older\s+than\s+{N}(?:\s+years?(?:\s+(?:old|of\s+age))?)?{AT}", "max"),
    (rf"(?:≥|>=|=>)\s*{N}\s*(?:y/o|yo|years?(?:\s+old)?)", "min"),
    (rf">\s*{N}\s*(?:y/o|yo|years?(?:\s+old)?)", "min_strict"),
    (rf"(?:≤|<=|=<)\s*{N}\s*(?:y/o|yo|years?(?:\s+old)?)", "max"),
    (rf"<\s*{N}\s*(?:y/o|yo|years?(?:\s+old)?)", "max_strict"),
    (rf"\bage\s*>\s*{N}{YRS}{AT}", "min_strict"),
    (rf"\bage\s*<\s*{N}{YRS}{AT}", "max_strict"),
    (rf"\b(?:aged?|age)\s*(?:at\s+most|≤|<=|up\s+to|no\s+(?:more|older)\s+than)\s*{N}{YRS}{AT}", "max"),
    (
        rf"\b(?:aged?\s+)(?:over|above|older\s+than|more\s+than|greater\s+than)\s+(?:the\s+age\s+of\s+)?{N}{YRS}{AT}",
        "min_strict",
    ),
    (rf"\b(?:older\s+than|over\s+the\s+age\s+of)\s+{N}{YRS}{AT}", "min_strict"),
    (
        rf"{PEOPLE}(?:over|above)\s+{N}(?!\s*(?:%|mg|g/|mmol|kg|days?|weeks?|months?))(?:\s+years(?:\s+(?:old|of\s+age))?)?{AT}",
        "min_strict",
    ),
    (rf"\b(?:over|above)\s+{N}\s+years(?:\s+(?:old|of\s+age))?{AT}", "min_strict"),
    (
        rf"\b(?:aged?\s+)(?:under|below|younger\s+than|less\s+than)\s+(?:the\s+age\s+of\s+)?{N}{YRS}{AT}",
        "max_strict",
    ),
    (rf"\b(?:younger\s+than|under\s+the\s+age\s+of)\s+{N}{YRS}{AT}", "max_strict"),
    (
        rf"{PEOPLE}(?:under|below)\s+{N}(?!\s*(?:%|mg|g/|mmol|kg|days?|weeks?|months?))(?:\s+years(?:\s+(?:old|of\s+age))?)?{AT}",
        "max_strict",
    ),
    (rf"\b(?:under|below)\s+{N}\s+years(?:\s+(?:old|of\s+age))?{AT}", "max_strict"),
    (rf"\b(?:aged?\s+)?{N}{YRS}\s+(?:or|and)\s+younger{AT}", "max"),
    (rf"\baged?\s+{N}{YRS}\s+(?:or|and)\s+(?:under|below|less){AT}", "max"),
    (rf"\b{N}\s*(?:years?|yrs?)(?:\s+old)?\s+(?:or|and)\s+(?:under|below|less){AT}", "max"),
    (rf"\bin\s+(?:their\s+|his\s+|her\s+|the\s+)?(?P<d>[1-9]0)'?s\b{AT}", "decade"),
    (rf"\bin\s+their\s+(?P<w>{'|'.join(DECADES)})\b{AT}", "decade"),
    (rf"\b{N}[- ]years?[- ]olds?\b{AT}", "exact"),
    (rf"\b{N}\s*(?:yo|y/o)(?![A-Za-z]){AT}", "exact"),
    (rf"\baged?\s+{N}\b{YRS}{AT}", "exact"),
    (r"\b(?:adults?|adult\s+patients|grown-?ups)\b", "adult"),
    (r"\b(?:children|child|pediatric|paediatric|kids|minors|infants|adolescents)\b", "child"),
    # last, after every 'aged …' reading:
    # '80+ with pneumonia', 'pts 80+': a bare N+ that describes patients, not a count of events
    (
        rf"(?:^|(?<=\s)|(?<=\()){N}\s*\+(?=\s+(?:with|pts?|patients|people|men|women|males?|females?|at)\b|\s*$)"
        rf"{AT}",
        "min",
    ),
    (rf"{PEOPLE}(?:≥|>=|=>)\s*{N}(?!\s*(?:%|mg|g/|mmol|kg|days?|weeks?|months?)){YRS}{AT}", "min"),
    (rf"{TAIL}(?:aged\s+)?(?:under|below|younger\s+than)\s+{N}{YRS}{END}", "max_strict"),
    (rf"{TAIL}(?:aged\s+)?(?:over|above|older\s+than)\s+{N}{YRS}{END}", "min_strict"),
    (rf"{TAIL}(?:aged\s+)?{N}\s*(?:\+|or\s+older){END}", "min"),
    # 'new-onset afib, 75+, never on warfarin': an N+ standing alone between commas describes the
    # patients (a lab value follows its test's name, never a comma)
    (rf"(?<=,\s){N}\s*\+(?=\s*[,;])", "min"),
]
KO_AGE: list[tuple[str, str]] = [
    # 'closed hip fx 65+ , 당일 pelvis x-ray', '80+ 폐렴': an N+ standing for the patients' age
    (rf"(?:^|(?<=\s)){N}\s*\+(?=\s*(?:[,;]|$|환자|pt|남|여|세))", "min"),
    (r"(?P<d>[1-9]0)\s*(?:~|-|에서)\s*(?P<d2>[1-9]0)\s*대", "decades"),
    # '40대', '40대 이상', '40대인데', '40대의': a particle or the copula may follow
    (
        r"(?P<d>[1-9]0)\s*대\s*(?P<q>이상|이하)?"
        r"(?=인데|이고|이며|이면서|인|의|이|가|는|은|를|을|와|과|도|만|였던|였고|였으며|였는데|[^가-힣]|$)",
        "decade_ko",
    ),
    (
        rf"(?:만\s*)?{N}\s*(?:세|살)?\s*(?:~|-|에서|부터)\s*(?:만\s*)?{M}\s*(?:세|살)\s*(?:까지|사이|이하)?",
        "nm",
    ),
    # '18세 미만 소아는 제외', '80세 이상인 분은 빼고': left out by age, so the other side is kept
    (
        rf"(?:만\s*)?{N}\s*(?:세|살)\s*(?P<q>이상|초과|이하|미만|넘는|넘은)\s*(?:인\s*)?"
        r"(?:(?:고령\s*)?(?:소아|아동|어린이|환자|환아|사람|분|고령자|노인|대상자|자|경우|예)(?:들)?\s*)?"
        r"(?:은|는|을|를|에서)?\s*"
        r"(?:제외|빼(?=고|\s*주|\s*줘))",
        "ko_q_excluded",
    ),
    (rf"(?:만\s*)?{N}\s*(?:세|살)\s*(?P<q>이상|초과|이하|미만|넘는|넘은|넘게)", "ko_q"),
    (rf"(?:만\s*)?{N}\s*(?:세|살)", "exact"),
    (r"(?<![여남])성인", "adult"),  # not the copula of 여성인/남성인
    # ('소아천식', '소아암': a compound noun, the disease's name, not the patients' age)
    (
        r"소아\s*청소년|(?:소아|어린이|아동)(?![가-힣])|(?:소아|어린이|아동)(?=환자|환아|청소년|들|은|는|이|가|을|를|의|도|만|"
        r"와|과|에|및|나|로|연령)|미성년(?:자)?",
        "child",
    ),
    # '아이들', '애들', '남자아이' (kids): whole words only, so a name that contains '아이' stays a name
    (r"(?:(?<=남자)|(?<=여자)|(?<![가-힣]))(?:아이|애)들?(?![가-힣])", "child"),
]
EN_SEX = [
    (
        r"\b(?:men\s+and\s+women|women\s+and\s+men|males?\s+and\s+females?|females?\s+and\s+males?|both\s+sexes|either\s+sex)\b",
        ["female", "male"],
    ),
    (r"\b(?:men|males?|man|boys?|gentlemen)\b", ["male"]),
    (r"\b(?:women|females?|woman|girls?|ladies|lady)\b", ["female"]),
]
#: Chart shorthand, case-sensitive: 'M pts', '72 yo F with afib', 'F 환자'. A capital M or F standing
#: alone (no letter, digit or '/' touching it: not 'M1', '101 F', 'M/F') is the sex in a cohort question.
SEX_SHORTHAND_RES = [
    (regex(rf"(?<![A-Za-z0-9.°/'-]){letter}(?![A-Za-z0-9/'-])"), sexes)
    for letter, sexes in (("M", ("male",)), ("F", ("female",)))
]
KO_SEX = [
    (r"남녀|남성\s*(?:과|와|및)\s*여성|여성\s*(?:과|와|및)\s*남성", ["female", "male"]),
    # '남아', '여아': a boy, a girl (the age, when it matters, is written too)
    (r"남성|남자|남환|남아(?![가-힣])", ["male"]),
    (r"여성|여자|여환|여아(?![가-힣])", ["female"]),
]
EN_AGE_RES = [(regex(p, re.IGNORECASE), h) for p, h in EN_AGE]
KO_AGE_RES = [(regex(p), h) for p, h in KO_AGE]


def _age(m: re.Match[str], how: str) -> Item:
    g = m.groupdict()
    n = int(g["n"]) if g.get("n") else None
    lo: int | None
    hi: int | None
    if how == "nm":
        lo, hi = n, int(g["m"])
    elif how == "min":
        lo, hi = n, None
    elif how == "min_strict":
        lo, hi = (n or 0) + 1, None
    elif how == "max":
        lo, hi = None, n
    elif how == "max_strict":
        lo, hi = None, (n or 1) - 1
    elif how == "exact":
        lo = hi = n
    elif how == "decade":
        d = int(g["d"]) if g.get("d") else DECADES[g["w"].lower()]
        lo, hi = d, d + 9
    elif how == "decades":
        lo, hi = int(g["d"]), int(g["d2"]) + 9
    elif how == "decade_ko":
        d = int(g["d"])
        lo, hi = {"이상": (d, None), "이하": (None, d + 9)}.get(g.get("q") or "", (d, d + 9))
    elif how in ("ko_q", "ko_q_excluded"):
        lo, hi = {
            "이상": (n, None),
            "초과": ((n or 0) + 1, None),
            "넘는": ((n or 0) + 1, None),
            "넘은": ((n or 0) + 1, None),
            "넘게": ((n or 0) + 1, None),
            "이하": (None, n),
            "미만": (None, (n or 1) - 1),
        }[g["q"]]
        if how == "ko_q_excluded":  # '80세 이상인 분은 빼고': the named ages are left out
            named = Item(ItemKind.age, m.group(0), m.start(), m.end(), AgeData(lo, hi))
            return left_out(named) or named
    elif how == "adult":
        lo, hi = 18, None
    else:  # child
        lo, hi = None, 17
    return Item(ItemKind.age, m.group(0), m.start(), m.end(), AgeData(lo, hi))


def left_out(it: Item) -> Item | None:
    """The people kept when those an age or sex item names are left out ('여성은 제외' keeps the men,
    '80세 이상인 자는 제외하였다' those 79 or younger); None when the rest is not one group (a closed age
    range, both sexes)."""
    if it.kind is ItemKind.sex:
        rest = tuple(s for s in ("female", "male") if s not in it.data_as(SexData).sexes)
        return replace(it, data=SexData(rest)) if len(rest) == 1 else None
    age = it.data_as(AgeData)
    if age.min is not None and age.max is None and age.min > 0:
        return replace(it, data=AgeData(None, age.min - 1))
    if age.max is not None and age.min is None:
        return replace(it, data=AgeData(age.max + 1, None))
    return None


def _sex(m: re.Match[str], sexes: tuple[str, ...]) -> Item:
    return Item(ItemKind.sex, m.group(0), m.start(), m.end(), SexData(sexes))


def recognise_demographics(pieces: list[Piece], lang: str) -> list[Piece]:
    for rx, how in KO_AGE_RES if lang == "ko" else EN_AGE_RES:
        pieces = apply(pieces, rx, partial(_age, how=how))
    flags = 0 if lang == "ko" else re.IGNORECASE
    for pattern, sexes in KO_SEX if lang == "ko" else EN_SEX:
        pieces = apply(
            pieces,
            regex(pattern, flags),
            partial(_sex, sexes=tuple(sexes)),
        )
    for rx, shorthand in SEX_SHORTHAND_RES:
        pieces = apply(pieces, rx, partial(_sex, sexes=shorthand))
    return pieces
