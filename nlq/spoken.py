"""Questions as a speech recogniser writes them: fillers, self-corrections and numbers spelled out.

Why: researchers dictate questions ("um women sixty five or older with a fib who got warfarin", "당화혈색소
칠 점 오 이상 나온 적 있는 사람"). The grammars read digits; this stage, run once on the whole sentence
before anything else reads it, turns what dictation writes into what a typist would have written, and
says what it changed so the read-back shows it:

* fillers ('um', 'uh', '음', '어') carry nothing and are dropped;
* a self-correction ('under twelve no wait under ten', '삼십일 아 아니다 육십일') keeps the corrected words
  only; when the correction is a single word, it replaces the last word of the same kind before it
  ('before the diagnosis no wait after' → 'after the diagnosis');
* English numbers in words: compounds ('sixty five', 'a hundred', 'two point oh'), years ('twenty twenty
  four', 'nineteen ninety nine'), days said as hundreds ('three sixty five days'), a month's ordinal day
  ('march first') and a single number word after a comparison ('over fifty'); single words elsewhere
  ('three or more', 'one stroke') are left to the grammar, which reads them already;
* Korean Sino-Korean numbers before a comparison or with a decimal point ('백팔십 이상', '칠 점 오'), decades
  ('사십대'), native ages ('열여덟 살') and weeks/months/years said with one digit ('이주 안에').
"""

from __future__ import annotations

import re
from functools import lru_cache

from cohort_engine.nlq.lexicon import entries
from cohort_engine.nlq.numbers import DAYS_PER, KOREAN_DAY_WORDS, sino_korean, sino_to_digits, unit_of
from cohort_engine.nlq.regex_cache import regex

_I = re.IGNORECASE

# ------------------------------------------------------------------------------------------ English

_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}  # fmt: skip
_ZERO = {"zero": 0, "oh": 0, "o": 0}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_WORD = "|".join(sorted([*_UNITS, *_TEENS, *_TENS, "hundred", "thousand", "zero"], key=len, reverse=True))
#: A run of number words ('sixty five', 'twenty twenty-four', 'one hundred and fifty', 'two point oh five').
_RUN_EN = regex(
    rf"\b(?:a\s+(?=hundred\b))?(?:{_WORD})(?:(?:\s+|-|(?<=hundred)\s+and\s+|(?<=thousand)\s+and\s+)(?:{_WORD}|oh)\b)*"
    rf"(?:\s+point(?:\s+(?:{'|'.join(_UNITS)}|zero|oh))+)?\b",
    _I,
)
#: Words after which a single number word is a value ('over fifty', 'under twelve', 'aged sixty').
_VALUE_BEFORE_EN = regex(r"(?:\b(?:over|under|above|below|past|aged?|exceeding)\s+|(?:>|<|>=|<=|=)\s*)$", _I)
_ORDINAL_DAY_EN = regex(
    rf"\b(?P<month>{_MONTHS})\.?\s+(?:the\s+)?(?:(?P<tens>twenty|thirty)[\s-])?(?P<ord>{'|'.join(_ORDINALS)})\b"
    r"(?=,?\s+(?:nineteen|twenty|two\s+thousand|\d{4})\b)",
    _I,
)


def _small(words: list[str]) -> int | None:
    """1–99 from 'sixty five', 'twelve', 'forty'; None when the words are no such number."""
    if len(words) == 1:
        w = words[0]
        return _UNITS.get(w) or _TEENS.get(w) or _TENS.get(w)
    if len(words) == 2 and words[0] in _TENS and words[1] in _UNITS:
        return _TENS[words[0]] + _UNITS[words[1]]
    return None


def _cardinal(words: list[str]) -> int | None:
    """'one hundred fifty' → 150, 'a hundred' → 100, 'two thousand ten' → 2010; None otherwise."""
    words = [w for w in words if w != "and"]
    total = 0
    if "thousand" in words:
        k = words.index("thousand")
        head = _small(words[:k]) if k else 1
        if head is None:
            return None
        total, words = head * 1000, words[k + 1 :]
    if "hundred" in words:
        k = words.index("hundred")
        head = _small(words[:k]) if k and words[:k] != ["a"] else 1
        if head is None:
            return None
        total, words = total + head * 100, words[k + 1 :]
    if words:
        rest = _small(words)
        if rest is None:
            return None
        total += rest
    return total


def _year(words: list[str]) -> int | None:
    """'twenty twenty four' → 2024, 'nineteen ninety nine' → 1999, 'twenty oh three' → 2003."""
    if len(words) < 2 or words[0] not in ("nineteen", "twenty"):
        return None
    rest = words[1:]
    if rest[0] in _ZERO and len(rest) == 2 and rest[1] in _UNITS:
        tail: int | None = _UNITS[rest[1]]
    else:
        tail = _small(rest)
        tail = tail if tail is not None and tail >= 10 else None
    return None if tail is None else (1900 if words[0] == "nineteen" else 2000) + tail


def _number_words(run: str) -> str | None:
    """The digits a run of number words says, or None when it says none this stage should write."""
    words = [w for w in re.split(r"[\s-]+", run.lower()) if w]
    decimals = ""
    if "point" in words:
        k = words.index("point")
        digits = [str(_UNITS.get(w, 0)) for w in words[k + 1 :]]
        words, decimals = words[:k], "." + "".join(digits)
    if not words:
        return None
    year = _year(words) if not decimals else None
    if year is not None:
        return str(year)
    # 'three sixty five days', 'one ninety': hundreds said as a digit and the rest
    if len(words) >= 2 and words[0] in _UNITS and (rest := _small(words[1:])) is not None and rest >= 20:
        return f"{_UNITS[words[0]] * 100 + rest}{decimals}"
    value = _cardinal(words)
    return None if value is None else f"{value}{decimals}"


def spoken_numbers_en(text: str) -> str:
    """English number words as digits, where the grammar would not read them (see the module docstring)."""

    def ordinal_day(m: re.Match[str]) -> str:
        day = _ORDINALS[m["ord"].lower()] + (_TENS[m["tens"].lower()] if m["tens"] else 0)
        return f"{m['month']} {day}" if day <= 31 else m.group(0)

    text = _ORDINAL_DAY_EN.sub(ordinal_day, text)

    def digits(m: re.Match[str]) -> str:
        run = m.group(0)
        words = [w for w in re.split(r"[\s-]+", run.lower()) if w and w != "and"]
        single = len(words) == 1 and words[0] not in ("seventy", "eighty", "hundred", "thousand")
        if single and not _VALUE_BEFORE_EN.search(text[: m.start()]):
            return run  # 'three or more', 'one stroke': the grammar reads these words
        said = _number_words(run)
        if said is None and len(words) > 2 and words[0] == words[1]:  # 'two two point oh': a restart
            said = _number_words(run.split(None, 1)[1])
        return run if said is None else said

    text = _CA_19_9.sub("CA 19-9", text)
    return _RUN_EN.sub(digits, text)


#: 'CA nineteen nine': the tumour marker's name, not a year.
_CA_19_9 = regex(r"\bCA\s+nineteen[\s-]+nine\b", _I)


#: Sounds that carry nothing: 'um', 'uh', 'erm'; 'so like' / 'like' before a number or 'exactly'.
_FILLERS_EN = regex(
    # (never 'mm': 'mm Hg'; never a leading 'right': 'right knee OA')
    r"(?:^|(?<=\s)|(?<=,))(?:u+m+|u+h+|e+rm+|hmm+)\b[,.]?\s*"
    r"|^\s*(?:okay|ok|so|alright)\b[,]?\s+(?:like\s+|um\s+|uh\s+)?"
    r"|\b(?:so\s+)?like\s+(?=\d|exactly\b|(?:" + _WORD + r")\b)",
    _I,
)
#: A self-correction: what follows replaces what came before.
_CORRECTION_EN = regex(
    # ('…within 30 days? I mean patients with …': after a sentence's end 'I mean' explains, never corrects)
    r"\s*,?\s*\b(?:no\s+wait|wait\s+no|no\s+sorry|sorry|(?<![.?!;:]\s)(?<![.?!;:])i\s+mean|make\s+that|"
    r"scratch\s+that)\b\s*,?\s*",
    _I,
)
#: Words of one kind, one of which a one-word correction swaps for another.
_SWAPS_EN: tuple[frozenset[str], ...] = (
    frozenset({"before", "after", "prior"}),
    frozenset({"over", "under", "above", "below"}),
    frozenset({"days", "weeks", "months", "years", "day", "week", "month", "year"}),
    frozenset({"men", "women", "male", "female", "males", "females"}),
)


def _correct(text: str, markers: re.Pattern[str], swaps: tuple[frozenset[str], ...]) -> tuple[str, list[str]]:
    """Apply each self-correction (see the module docstring); the notes quote what was kept."""
    notes: list[str] = []
    for _ in range(4):  # a sentence rarely corrects itself more than once or twice
        m = markers.search(text)
        if m is None:
            break
        before, after = text[: m.start()], text[m.end() :]
        said = after.split()
        if not said or not before.strip():
            text = before + " " + after
            continue
        first = said[0].lower()
        words = list(re.finditer(r"\S+", before))
        same = [w for w in words[-10:] if w.group(0).lower() == first]
        amount = _AMOUNT_KO.match(said[0])
        earlier = [w for w in words[-10:] if amount and re.match(rf"\d+(?:\.\d+)?{amount['u']}", w.group(0))]
        if amount is not None and earlier:
            # '30일 안에 아 아니다 60일로 해줘': the amount of that unit is swapped, the request dropped
            w = earlier[-1]
            if _REQUEST_END_KO.fullmatch(after[amount.end() :]):  # only the amount was corrected
                digits = re.match(r"\d+(?:\.\d+)?", w.group(0))
                skip = digits.end() if digits else 0
                text = before[: w.start()] + amount["n"] + before[w.start() + skip :]
            else:  # the correction says the rest again
                text = before[: w.start()] + after
        elif same:  # 'under twelve no wait under ten': from the repeated word on, the correction stands
            text = before[: same[-1].start()] + after
        elif (kind := next((k for k in swaps if first.strip(",.") in k), None)) is not None and (
            like := [w for w in words[-10:] if w.group(0).lower().strip(",.") in kind]
        ):  # 'before the diagnosis no wait after': the word of that kind is swapped
            w = like[-1]
            text = before[: w.start()] + said[0] + before[w.end() :] + after[len(said[0]) :]
        else:  # 'cabbage I mean CABG': the word before the marker
            text = before[: words[-1].start()] + after
        notes.append(after[:40].strip())
    return re.sub(r"\s{2,}", " ", text).strip(), notes


# ------------------------------------------------------------------------------------------- Korean

_SINO = "일이삼사오육칠팔구"
#: A Sino-Korean number before a comparison ('백팔십 이상', '삼 이상', '사십 넘는'), or with a decimal point
#: ('칠 점 오', '일 점 영'); a lone 일/이 only with a decimal point (they are particles and words too).
_SINO_NUMBER = rf"(?:[{_SINO}]?[십백천])+[{_SINO}]?|[{_SINO}영공]"
_SINO_DECIMAL_KO = regex(
    rf"(?<![가-힣])(?P<n>{_SINO_NUMBER})\s*점\s*(?P<d>[{_SINO}영공](?:\s*[{_SINO}영공])*)(?![가-힣])"
)
_SINO_BEFORE_OP_KO = regex(
    rf"(?<![가-힣])(?P<n>(?:[{_SINO}]?[십백천])+[{_SINO}]?|[삼사오육칠팔구])"
    r"(?=\s*(?:이상|이하|미만|초과|넘|보다|을\s*넘|를\s*넘|으로|로\s*(?:떨어|올라)|\s*(?:mg|g/|%|ng|mmol|U/|pg)))"
)
_SINO_DECADE_KO = regex(rf"(?<![가-힣])(?P<n>[{_SINO}]?십)\s*대(?=\s|$|[가-힣])")
_SINO_ONE_DIGIT_SPAN_KO = regex(
    r"(?<![가-힣])(?P<n>[이삼사오육칠팔구])\s*(?P<u>주|개월|년|일)"
    r"(?=\s*(?:안|이내|내|동안|간|후|뒤|전|까지|사이|넘|이상|이후|이전|째))"
)
#: '2023년 삼월에': a month said in Sino-Korean after a year.
_MONTHS_KO = {
    "일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "유": 6, "육": 6, "칠": 7, "팔": 8, "구": 9,
    "시": 10, "십": 10,
    "십일": 11, "십이": 12,
}  # fmt: skip
_SINO_MONTH_KO = regex(
    r"(?<=\d년)(?P<sp>\s*)(?P<m>십이|십일|십|시|유|[일이삼사오육칠팔구])월(?=\s|$|[에부까~\-중말초의과와])"
)
#: '하루에서 칠일 사이': a day word as the first end of a range.
_DAY_WORD_FROM_KO = regex(
    r"(?<![가-힣])(?P<w>하루|이틀|사흘|나흘|닷새|엿새|이레|열흘)(?=\s*(?:에서|부터|~|-))"
)
_NATIVE_TENS = {
    "열": 10,
    "스물": 20,
    "스무": 20,
    "서른": 30,
    "마흔": 40,
    "쉰": 50,
    "예순": 60,
    "일흔": 70,
    "여든": 80,
    "아흔": 90,
}
_NATIVE_UNITS = {
    "하나": 1, "한": 1, "둘": 2, "두": 2, "셋": 3, "세": 3, "넷": 4, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7,
    "여덟": 8, "아홉": 9,
}  # fmt: skip
_NATIVE_AGE_KO = regex(
    rf"(?<![가-힣])(?P<t>{'|'.join(_NATIVE_TENS)})?\s*"
    rf"(?P<u>{'|'.join(sorted(_NATIVE_UNITS, key=len, reverse=True))})?"
    r"\s*살(?=\s|$|[가-힣])"
)
_FILLERS_KO = regex(r"(?:^|(?<=\s))(?:음+|어+|으+음|저기|그러니까|뭐지|뭐냐|아무튼)(?:\s*[,.…]+)?(?=\s)")
_CORRECTION_KO = regex(
    r"\s*,?\s*(?:(?<=\s)아\s+)?(?:아\s*아니다|아\s*아니|아니\s*아니|아니다|아니\s*그냥|아니(?=\s+[0-9일이삼사오육칠팔구백십])"
    r"|(?<=\s)아(?=\s))\s*,?\s*"
)
#: An amount with its unit said as a correction ('60일로 해줘'), and what may follow it.
_AMOUNT_KO = regex(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<u>일|주|개월|년|세|살|회|번)")
_REQUEST_END_KO = regex(
    r"\s*(?:으로|로)?\s*(?:해\s*줘|해\s*주세요|해요|해|할게요?|바꿔\s*줘|바꿔\s*주세요)?\s*[.!]?\s*"
)
_SWAPS_KO: tuple[frozenset[str], ...] = (
    frozenset({"전", "후", "이전", "이후"}),
    frozenset({"이상", "이하", "미만", "초과"}),
)


#: Latin letters as Korean says them: '피씨아이' is PCI, '아이엔알' INR, '씨티' CT.
_LETTER_NAMES_KO = {
    "에이치": "H", "더블유": "W", "에이": "A", "비": "B", "씨": "C", "시": "C", "디": "D", "이": "E",
    "에프": "F", "지": "G", "아이": "I", "제이": "J", "케이": "K", "엘": "L", "엠": "M", "엔": "N", "오": "O",
    "피": "P", "큐": "Q", "알": "R", "에스": "S", "티": "T", "유": "U", "브이": "V", "엑스": "X", "와이": "Y",
    "제트": "Z",
}  # fmt: skip
_LETTER_NAME_KO = "|".join(sorted(_LETTER_NAMES_KO, key=len, reverse=True))
_LETTERS_KO = regex(rf"(?<![가-힣A-Za-z])(?P<run>(?:{_LETTER_NAME_KO}){{2,6}})")
#: Abbreviations read back from letter names besides the lexicon's (imaging and common tests).
_SPELLED_EXTRA = frozenset(
    {"CT", "MRI", "MR", "PET", "EKG", "ECG", "EGD", "ERCP", "CRP", "LDL", "ALT", "TSH"}
)


@lru_cache(maxsize=1)
def _abbreviations() -> frozenset[str]:
    """The abbreviations a letter-name run may stand for: the lexicon's short English names."""
    short = {a.upper() for e in entries().values() for a in e.en if re.fullmatch(r"[a-z][a-z0-9]{1,5}", a)}
    return frozenset(short | _SPELLED_EXTRA)


def _letters_ko(text: str) -> str:
    """'피씨아이나', '아이엔알이', '엠알아이를': a run of letter names that spells a known abbreviation (the
    longest such prefix of the run) is written in Latin letters; any other word is left as it is."""

    def latin(m: re.Match[str]) -> str:
        run = m["run"]
        names = re.findall(_LETTER_NAME_KO, run)
        for n in range(len(names), 1, -1):
            word = "".join(_LETTER_NAMES_KO[x] for x in names[:n])
            if word in _abbreviations():
                return word + run[len("".join(names[:n])) :]
        return run

    return _LETTERS_KO.sub(latin, text)


def _sino_digits(word: str) -> str:
    word = re.sub(r"\s+", "", word)
    if word in ("영", "공"):
        return "0"
    if len(word) == 1 and word in _SINO:
        return str(_SINO.index(word) + 1)
    return str(sino_korean(word))


def spoken_numbers_ko(text: str) -> str:
    """Korean numbers as dictation writes them, in digits (see the module docstring)."""

    def decimal(m: re.Match[str]) -> str:
        fraction = "".join(_sino_digits(d) for d in re.sub(r"\s+", "", m["d"]))
        return f"{_sino_digits(m['n'])}.{fraction}"

    text = _SINO_DECIMAL_KO.sub(decimal, text)
    text = _SINO_DECADE_KO.sub(lambda m: f"{_sino_digits(m['n'])}대", text)
    text = _SINO_MONTH_KO.sub(lambda m: f"{m['sp']}{_MONTHS_KO[m['m']]}월", sino_to_digits(text))
    text = _DAY_WORD_FROM_KO.sub(lambda m: f"{KOREAN_DAY_WORDS[m['w']]}일", text)
    text = _SINO_BEFORE_OP_KO.sub(lambda m: _sino_digits(m["n"]), text)
    text = _SINO_ONE_DIGIT_SPAN_KO.sub(lambda m: f"{_sino_digits(m['n'])}{m['u']}", text)

    def age(m: re.Match[str]) -> str:
        if not (m["t"] or m["u"]):
            return m.group(0)
        return f"{_NATIVE_TENS.get(m['t'] or '', 0) + _NATIVE_UNITS.get(m['u'] or '', 0)}살"

    return sino_to_digits(_NATIVE_AGE_KO.sub(age, text))


# --------------------------------------------------------------------------------------------- both


#: Letters said one by one: 'P C I', 'C E A'.
_SPELLED_EN = regex(r"\b[A-Z](?:\s[A-Z]){1,4}\b")
#: A duration said again in days ('within a year after it so 365 days', 'two years … 730 days').
_RESTATED_EN = regex(
    r"(?P<n>\d+|a|an|one|two|three|four|five|six)\s+(?P<u>years?|months?|weeks?)\b(?P<mid>(?:[\s,]+[A-Za-z']+){0,5}?)"
    r"(?P<again>[\s,]+(?:(?:so|like|i\.?e\.?|that\s+is|that's|or)\s+)?(?P<d>\d+)\s+days)\b",
    _I,
)


def _drop_restated_en(text: str) -> str:
    def drop(m: re.Match[str]) -> str:
        n = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}.get(
            m["n"].lower()
        )
        amount = int(m["n"]) if m["n"].isdigit() else n
        unit = unit_of(m["u"])
        if amount is None or unit is None or amount * DAYS_PER[unit] != int(m["d"]):
            return m.group(0)
        return m.group(0)[: m.start("again") - m.start()]

    return _RESTATED_EN.sub(drop, text)


def read_spoken(text: str, lang: str) -> tuple[str, list[str]]:
    """``text`` as typed (fillers dropped, self-corrections applied, numbers in digits) and the
    corrections kept, for the read-back's notes."""
    if lang == "en":
        text = _FILLERS_EN.sub(" ", text)
        text, kept = _correct(text, _CORRECTION_EN, _SWAPS_EN)
        text = spoken_numbers_en(text)
        text = _SPELLED_EN.sub(lambda m: m.group(0).replace(" ", ""), text)
        text = _drop_restated_en(text)
    else:
        text = _FILLERS_KO.sub(" ", text)
        text = _letters_ko(text)
        text = spoken_numbers_ko(text)
        text, kept = _correct(text, _CORRECTION_KO, _SWAPS_KO)
    return re.sub(r"\s{2,}", " ", text).strip(), kept
