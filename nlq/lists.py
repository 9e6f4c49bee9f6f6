"""The asker's own uploaded patient lists named in a question ("in my list 'echo-study'", "내 업로드 목록
'echo-study' 환자 중") → ``UploadList`` rules of the spec.

Why a pass of its own, before the recogniser: a list is named by a quoted name the owner chose, which
may look like anything (a drug, a date, a number); read first, its words are taken out of the sentence
(blanked, so offsets stay) and never become clinical mentions. Only a *quoted* name after "my/our list"
(or "내/우리 … 목록/명단/리스트") counts: an unquoted "list" is the request verb ("list the patients").

A list's number column ("whose label is 1", "점수가 5 이상인") filters it; include or exclude is read
from the words around it ("not in", "excluding", "에 없는", "제외").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from cohort_engine.nlq.messages import say
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.vocab import KO_OPS, OPS_EN
from cohort_engine.spec import UploadList, ValueFilter

NAME = r"[\"'](?P<name>[^\"']{1,64})[\"']"
_VALUE_OP_EN = "|".join(re.escape(k).replace(r"\ ", r"\s+") for k in sorted(OPS_EN, key=len, reverse=True))
VALUE_EN = (
    r"(?:\s*,?\s*(?:whose\s+|with\s+(?:an?\s+)?|where\s+(?:the\s+)?)(?:list\s+)?(?:label|score|value)\s+"
    rf"(?:is\s+|of\s+|=\s*|equal\s+to\s+)?(?:(?P<op>{_VALUE_OP_EN})\s*)?(?P<v>-?\d+(?:\.\d+)?))?"
)
LIST_EN = regex(
    r"(?P<neg>\b(?:not|never)\s+|\b(?:excluding|except(?:\s+for)?|but\s+not|other\s+than)\s+"
    r"(?:(?:those|patients|anyone|people|persons)\s+)?(?:(?:who\s+are|that\s+are)\s+)?)?"
    r"\b(?:who\s+(?:are|were)\s+|that\s+(?:are|were)\s+)?(?:in|on|from)\s+(?:my|our)\s+(?:own\s+)?"
    r"(?:uploaded\s+)?(?:patient\s+)?(?:list|upload|cohort\s+list)\s+(?:called\s+|named\s+)?"
    rf"{NAME}{VALUE_EN}",
    re.IGNORECASE,
)
VALUE_KO = (
    r"(?:\s*(?:중|에서)?\s*(?:라벨|레이블|점수|값)\s*(?:이|가)?\s*(?P<v>-?\d+(?:\.\d+)?)\s*"
    r"(?P<q>이상|이하|초과|미만|넘는)?\s*(?:인|이며|이고)?)?"
)
LIST_KO = regex(
    r"(?:내|우리|제|나의)\s*(?:가\s*)?(?:업로드(?:한)?|올린|등록한)?\s*(?:환자\s*)?(?:목록|명단|리스트)\s*"
    rf"{NAME}\s*(?:의|에\s*(?:있는|속한|포함된|든)|에서|(?P<neg>에\s*(?:없는|포함되지\s*않은|들지\s*않은)))?"
    rf"{VALUE_KO}\s*(?:환자(?:들)?\s*)?(?P<neg2>(?:은|는|를|을)?\s*제외(?:하고|한)?)?\s*(?:중(?:에서?)?|가운데)?",
)


@dataclass
class ListsFound:
    """The sentence with its list references blanked, the rules they make, and the notes on them."""

    sentence: str
    lists: list[UploadList] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _value(g: dict[str, str | None], lang: str) -> ValueFilter | None:
    if g.get("v") is None:
        return None
    v = float(g["v"] or 0)
    if lang == "en":
        op = OPS_EN.get(" ".join((g.get("op") or "=").lower().split()), "=")
    else:
        op = KO_OPS.get(g.get("q") or "", "=")
    return ValueFilter(op=op, value=v)


def find_lists(sentence: str, lang: str) -> ListsFound:
    """Every quoted list the asker names as theirs, as include/exclude rules."""
    rx = LIST_EN if lang == "en" else LIST_KO
    found = ListsFound(sentence)
    for m in rx.finditer(sentence):
        g = m.groupdict()
        mode: Literal["include", "exclude"] = "exclude" if g.get("neg") or g.get("neg2") else "include"
        name = (g["name"] or "").strip()
        if not name or any(u.name == name for u in found.lists):
            continue
        found.lists.append(UploadList(name=name, mode=mode, value=_value(g, lang)))
        what = say("list_exclude" if mode == "exclude" else "list_include", lang)
        found.notes.append(say("list_rule", lang, name=name, mode=what))
        a, b = m.span()
        found.sentence = found.sentence[:a] + " " * (b - a) + found.sentence[b:]
    return found
