"""Korean event grammar: recognised items → events, clause by clause.

Korean puts modifiers before their head and the verb last: "[2023년에] [심근경색으로] [진단]받은 환자",
"[수술] 후 30일 이내 [사망]한 환자". The grammar therefore cuts the sentence into clauses at verb
endings (받은, 있는, 한 …), the head noun (환자 중) and postfix negations (적이 없는, 제외), and reads
each clause as a whole. A window inside a clause splits it: what stands before "후/전/기준" is the
anchor, what follows is the event measured from it. Negation and particles follow their noun.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cohort_engine.nlq.demographics import left_out
from cohort_engine.nlq.events import (
    Anchor,
    Built,
    Count,
    Event,
    EventWindow,
    Problem,
    Term,
    ValueCmp,
    same_mention,
)
from cohort_engine.nlq.items import (
    AnchorDayData,
    AskData,
    CompareData,
    ConjData,
    CountData,
    EndData,
    EventWordData,
    Item,
    ItemKind,
    ModalityData,
    NameData,
    TermData,
    WindowData,
)
from cohort_engine.nlq.lexicon import codes_named, narrower
from cohort_engine.nlq.messages import readings, say
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.nlq.vocab import KIND_DOMAIN, KO_DATE_REFERENCE, VISIT_KIND_IDS, VISIT_KINDS
from cohort_engine.nlq.windows import SAME_WINDOW_KO, join_or_window

CONTENT = {
    ItemKind.term,
    ItemKind.event,
    ItemKind.modality,
    ItemKind.unknown,
    ItemKind.quote,
    ItemKind.index_ref,
    ItemKind.name,
}
MENTIONS = {ItemKind.term, ItemKind.event, ItemKind.modality, ItemKind.name, ItemKind.quote}
# What may stand between a relative clause and its head noun ('진단받은 *대장암* 환자').
HEAD_WORDS = {ItemKind.term, ItemKind.unknown, ItemKind.conj, ItemKind.age, ItemKind.sex}
NO_END = EndData()


def _names_the_index(items: list[Item]) -> bool:
    """'statin 처방일을 *인덱스일로* 정의하고', '진단일을 기준일로 합니다': the index's name said last, after
    the events of the phrase, names them the index outright."""
    return (
        len(items) > 1 and items[-1].kind is ItemKind.index_ref and any(it.kind in MENTIONS for it in items)
    )


def _arrow(it: Item) -> bool:
    return it.kind is ItemKind.filler and it.text.strip() in ("→", "->", "=>", "⇒", "➝", "➔")


#: A value clause joined to the next one: 'Hb 7 g/dL 미만*이었고* 진단 후 7일 안에 …', 'NT-proBNP 2000
#: pg/mL *넘었고* …'. The clause ends there, as after a verb ending in '-고'.
_VALUE_CLAUSE_END = regex(r"(?:이었|였|이)?(?:고|으며|며|는데)|인데|(?:이었|였)던")


_ACT_NOUN = regex(r"(?:촬영|처방|시행|투여|투약|방문|수술|시술|검사|진단|입원|측정|복용|접종)\s*$")


def _verb_hago(items: list[Item]) -> list[Item]:
    """'head CT 촬영하고 같은 날 alteplase …': '하고' written onto an act noun is the verb '하다' ending
    its clause ('… and then'), not 'and' between two nouns."""
    out: list[Item] = []
    for it in items:
        prev = out[-1] if out else None
        if (
            it.kind is ItemKind.conj
            and it.text == "하고"
            and prev is not None
            and prev.end == it.start
            and prev.kind in (ItemKind.event, ItemKind.modality)
            and _ACT_NOUN.search(prev.text)
        ):
            it = Item(ItemKind.end, it.text, it.start, it.end, EndData(verb=True, lemma="하다"))
        out.append(it)
    return out


def _closes_value_clause(it: Item) -> bool:
    if it.kind is ItemKind.filler:
        return _VALUE_CLAUSE_END.fullmatch(it.text.strip()) is not None
    return it.kind is ItemKind.compare and re.search(r"(?:었고|었으며|었는데)$", it.text.strip()) is not None


#: A date said as what an event was ('진단받은 게 2022년*인*', '… 2021년*이었던*'), not a new event's.
_COPULA_KO = regex(r"인|이었던|였던|이던|이었고|였고|인데")


def _connective(closer: Item | None) -> bool:
    """A clause ended in '-고' / '-(으)며' ('찍고', '받았고', '넘었으며'): joined to the next by 'and'."""
    if closer is None or ending(closer).head:
        return False
    return re.search(r"(?:고|며)$", closer.text.strip()) is not None


def _contrast(closer: Item | None) -> bool:
    """A clause ended in '-는데' ('X-ray는 찍었는데 CT는 안 찍은'): the next one is set against it."""
    return closer is not None and not ending(closer).head and closer.text.strip().endswith("는데")


#: 'never' words: a negated clause with one of them is about all time, whatever was said before it
_EVER_KO = regex(r"전혀|한\s*번도|하나도|평생|이력|병력")


def _shares_window(items: list[Item], contrast: bool = False, between: list[Item] | None = None) -> bool:
    """The clause after '-고' shares the window unless it says when by itself (a date, 'first', 'prior'),
    is negated, or is a death ('30일 안에 재입원하고 사망한' is a sequence, as in English). After '-는데'
    a negated clause shares it too: 'CABG 전 30일 이내 X-ray는 찍었는데 CT는 안 찍은' sets the CT against
    the X-ray of those same days (unless it says 'never': '전혀', '한 번도'; ``between`` holds the words
    read past since the window's clause)."""
    if contrast and _EVER_KO.search(" ".join(x.text for x in [*(between or []), *items])):
        return False
    for it in items:
        if it.kind is ItemKind.neg and contrast:
            continue
        if it.kind in (ItemKind.neg, ItemKind.date, ItemKind.first, ItemKind.prior, ItemKind.window):
            return False
        if it.kind is ItemKind.event and it.data_as(EventWordData).kind == "death":
            return False
        if it.kind is ItemKind.term and "death" in it.data_as(TermData).domains:
            return False
    return any(it.kind in MENTIONS for it in items)


def ending(closer: Item | None) -> EndData:
    """What closed a clause: a clause ending carries flags; a negation or an event verb none."""
    if closer is not None and isinstance(closer.data, EndData):
        return closer.data
    return NO_END


def problem(
    code: str, span: str | None = None, choices: list[str] | None = None, **values: object
) -> Problem:
    return Problem(say(code, "ko", **values), span, choices or [])


class KoreanGrammar:
    def __init__(self, items: list[Item]) -> None:
        items = _verb_hago(items)
        self.items = [
            it for it in items if it.kind is not ItemKind.filler or _arrow(it) or _closes_value_clause(it)
        ]
        self.fillers = [it for it in items if it.kind is ItemKind.filler]  # words read past ('한 번도')
        # '폐렴 진단*도* 받고 흉부 X-ray*도* 찍은': mentions marked 'too' (…도), read as one series
        self.too = {
            id(a)
            for a, b in zip(items, items[1:], strict=False)
            if a.kind in MENTIONS and b.kind is ItemKind.filler and b.text.strip() == "도"
        }
        self.too |= {
            id(a)
            for a, b, c in zip(items, items[1:], items[2:], strict=False)
            if a.kind in MENTIONS
            and b.kind is ItemKind.event
            and c.kind is ItemKind.filler
            and c.text.strip() == "도"
        }
        # '우울증 진단 *이력*': an event said as a history (a window 'before' it then ends the day before)
        self.history = {
            id(a)
            for a, b in zip(items, items[1:], strict=False)
            if a.kind in (ItemKind.event, *MENTIONS)
            and b.kind is ItemKind.filler
            and re.fullmatch(r"이력(?:이|은|도|을)?", b.text.strip())
        }
        self.last_window: tuple[EventWindow, Anchor] | None = None  # of a clause with a '…도' mention
        # the window of the clause just read when it ended in a connective '-고' ('… 30일 내에 심초음파도
        # 찍고 NT-proBNP가 … 나온'); only the clause right after it may share it
        self.chained_window: tuple[EventWindow, Anchor] | None = None
        self.chain_contrast = False  # the clause that said the window ended in '-는데'
        self.chain_from = 0  # where that clause ended
        self.closer: Item | None = None
        self.events: list[Event] = []
        self.problems: list[Problem] = []
        self.demographics: list[Item] = []
        self.notes: list[str] = []
        self.pending_date: Item | None = None
        self.index_date: Item | None = None  # '인덱스일이 2021-01-01 이후인 건만': the index event's dates
        self.last_group: list[Event] = []
        self.last_anchor: Anchor | None = None  # the anchor of the last window read (for "같은 3일 이내")
        self._groups = 0

    def clauses(self) -> list[tuple[list[Item], Item | None]]:
        """Clauses with the item that closed each (None at the end); empty clauses are kept as markers."""
        out: list[tuple[list[Item], Item | None]] = []
        cur: list[Item] = []
        for n, it in enumerate(self.items):
            if it.kind is ItemKind.conj and it.text.strip() == "," and self._comma_ends_clause(cur, n):
                out.append((cur, None))
                cur = []
                continue
            if it.kind is ItemKind.end:
                out.append((cur, it))
                cur = []
                continue
            if _arrow(it):  # 'A → 한 달 안에 B → …': each step is a clause, as 'then' is in English
                if cur:
                    out.append((cur, it))
                cur = []
                continue
            if it.kind is ItemKind.filler:  # '… 미만이었고': the value's clause ends
                out.append((cur, None)) if cur else None
                cur = []
                continue
            cur.append(it)
            if _closes_value_clause(it) or (
                it.kind is ItemKind.neg or (it.kind is ItemKind.event and it.data_as(EventWordData).ends)
            ):
                out.append((cur, it))
                cur = []
        out.append((cur, None))
        return out

    def _comma_ends_clause(self, cur: list[Item], n: int) -> bool:
        """'D62 진단 당일 입원, 같은 날 헤모글로빈 8 미만': a comma between two phrases that each carry their
        own window ends the first, as a verb would; a comma inside a list ('30일 이내 아스피린, 클로피도그렐')
        does not (what follows it has no window of its own)."""
        if not any(x.kind is ItemKind.window for x in cur) or not any(x.kind in CONTENT for x in cur):
            return False
        for x in self.items[n + 1 :]:
            if x.kind is ItemKind.window:
                return True
            if x.kind is ItemKind.end or (x.kind is ItemKind.conj and x.text.strip() == ","):
                return False
        return False

    def run(self) -> Built:
        prev: tuple[list[Item], Item | None] | None = None
        requesting = False  # after '환자의' before imaging words: the images to return, not rules
        for items, closer in self.clauses():
            head = ending(closer).head
            if items and prev is not None and prev[0] and self.merge_head(items, prev, closer):
                prev = (items, closer)
                continue
            before = len(self.events)
            if items and not head and self.only_unknown(items):
                continue
            if items:
                chained, self.closer = self.chained_window, closer
                self.clause(items)
                if self.chained_window is chained:
                    self.chained_window = None
            if head:
                for e in self.events[before:]:
                    e.head = True
            if requesting or ending(closer).request_verb:  # '… CT 영상을 모아줘'
                for e in self.events[before:]:
                    e.request, e.head = True, False
            if ending(closer).request:
                requesting = True
            prev = (items, closer)
        if self.pending_date is not None and self.events:
            first = next((e for e in self.events if not e.negated and not e.request), None)
            if first is not None and first.date is None and not first.window:
                first.date, self.pending_date = self.pending_date, None
        if self.index_date is not None:  # the index is chosen later (nlq.assemble), which takes this date
            if self.pending_date is not None and self.pending_date.data != self.index_date.data:
                self.problems.append(problem("two_dates", self.index_date.text))
            self.pending_date = self.index_date
        return Built(self.events, self.demographics, self.problems, self.notes, self.pending_date)

    def date_of_index(self, date: Item) -> None:
        """'기준일이 2021년 이후인 환자', '인덱스일이 2021-01-01 이후인 건만': dates said of the index date
        itself, whichever event turns out to be the index (never dropped, never another event's)."""
        if self.index_date is not None and self.index_date.data != date.data:
            self.problems.append(problem("two_dates", date.text))
        self.index_date = date

    def only_unknown(self, items: list[Item]) -> bool:
        """Words nobody recognised, with no event word and no '환자' after them, are not a mention: ask."""
        if any(it.kind in MENTIONS for it in items):
            return False
        unknown = [it for it in items if it.kind is ItemKind.unknown]
        if not unknown:
            return False
        for it in unknown:
            self.problems.append(problem("not_understood", it.text, text=it.text))
        rest = [it for it in items if it.kind is not ItemKind.unknown]
        if rest:
            self.clause(rest)
        return True

    def merge_head(
        self, items: list[Item], prev: tuple[list[Item], Item | None], closer_now: Item | None
    ) -> bool:
        """'2023년에 진단받은 대장암 환자': the relative clause describes the head noun's own event."""
        closer = prev[1]
        if closer is None or ending(closer).head or ending(closer).request or closer.kind is not ItemKind.end:
            return False
        if any(it.kind not in HEAD_WORDS for it in items):
            return False
        group = self.last_group
        if len(group) != 1:
            return False
        ev = group[0]
        kind = ev.kind
        if ev.terms or not kind or ev.negated:
            return False
        terms = [Term.of(it) for it in items if it.kind in (ItemKind.term, ItemKind.unknown)]
        if not terms or not all(
            KIND_DOMAIN[kind].value in t.domains or (not t.domains and kind == "diagnosis") for t in terms
        ):
            return False
        for it in items:
            if it.kind in (ItemKind.age, ItemKind.sex):
                self.demographics.append(it)
        ev.terms += terms
        ev.text += [t.text for t in terms]
        ev.head = ev.head or ending(closer_now).head
        return True

    # ------------------------------------------------------------ clauses
    def clause(self, items: list[Item]) -> None:
        rest = []
        for it in items:
            if it.kind in (ItemKind.age, ItemKind.sex):
                self.demographics.append(it)
            elif it.kind is ItemKind.unknown and re.fullmatch(r"[가-힣]", it.text):
                # one unread syllable ('재', '시') is a word we failed to read, never a clinical name
                self.problems.append(problem("not_understood", it.text, text=it.text))
            elif it.kind in (ItemKind.bad_date, ItemKind.bad_window, ItemKind.vague):
                d = it.data_as(AskData)
                code = "visit_end_unsupported" if d.what == "unsupported" else "vague_word"
                q = d.reason or say(code, "ko", text=it.text)
                self.problems.append(Problem(q, it.text, list(d.choices)))
            else:
                rest.append(it)
        if not rest:
            return
        if self.age_at_named_event(items, rest):
            return
        if not any(it.kind in CONTENT for it in rest):
            rest = self.people_left_out(items, rest)
            self.modifiers_only(rest)
            return
        joined = _one_window(rest)
        if isinstance(joined, Item):
            self.problems.append(problem("exclusive_which", joined.text, text=joined.text))
            return
        rest = joined
        windows = [i for i, it in enumerate(rest) if it.kind is ItemKind.window]
        if len(windows) > 1:
            self.problems.append(problem("two_windows_one_event", " / ".join(rest[i].text for i in windows)))
            return
        if windows:
            w = rest[windows[0]]
            left, right = rest[: windows[0]], rest[windows[0] + 1 :]
            if self.together(left, right, w):
                return
            if (
                not any(it.kind in CONTENT for it in right)
                and any(it.kind in MENTIONS for it in left)
                and re.search(r"같은|동일|그\s*날", w.text)
                and self.last_anchor is not None
            ):
                # 'brain MRI도 같은날 찍은': 'the same day' after the study, the day of the window before
                wd = w.data_as(WindowData)
                window = EventWindow(wd.start, wd.end, wd.same_visit)
                self.last_group = self.phrase(left, window=window, anchor=self.last_anchor)
                return
            anchor = self.anchor_of(left)
            if SAME_WINDOW_KO.fullmatch(w.text) and self.last_anchor is not None:
                # '같은 3일 이내에': the window given before, from the same anchor as before
                anchor = self.last_anchor
            self.last_anchor = anchor
            if not any(it.kind in CONTENT for it in right):
                self.problems.append(problem("window_without_event", w.text, text=w.text))
                return
            wd = w.data_as(WindowData)
            start, end = wd.start, wd.end
            if wd.start is None and wd.end == 0 and any(id(it) in self.history for it in right):
                end = -1  # '그 진단 이전에 우울증 진단 이력': a history before it, as 'history of' (..-1)
            if (
                (start, end) == (0, 0)
                and re.search(r"당시|시점|때", w.text)
                and any(it.kind is ItemKind.prior for it in right)
            ):
                start, end = None, -1  # '진단 당시 심부전 병력이 없는': the history as of that day (..-1)
            window = EventWindow(start, end, wd.same_visit)
            self.last_group = self.phrase(right, window=window, anchor=anchor)
            too = any(id(it) in self.too for it in right)
            self.last_window = (window, anchor) if too else None
            shared = _connective(self.closer) or _contrast(self.closer)
            self.chained_window = (window, anchor) if shared else None
            self.chain_contrast = _contrast(self.closer)
            self.chain_from = self.closer.end if self.closer is not None else w.end
        elif self.last_window is not None and any(id(it) in self.too for it in rest):
            # '응급실 온 날 폐렴 진단도 받고 흉부 X-ray도 찍은': the second '…도' is on that day too
            window, anchor = self.last_window
            self.last_group = self.phrase(rest, window=replace(window), anchor=anchor)
        elif self.chained_window is not None and _shares_window(
            rest,
            self.chain_contrast,
            self.read_past(self.chain_from, rest[-1].end),
        ):
            # '진단 전후 30일 내에 심초음파도 찍고 NT-proBNP가 1000 이상 나온': a window said before two
            # verbs joined by '-고' is both's, as 'had an echo and an NT-proBNP ≥ 1000 within 30 days' is
            window, anchor = self.chained_window
            self.last_window = None
            self.last_group = self.phrase(rest, window=replace(window), anchor=anchor)
        else:
            self.last_window = None
            self.last_group = self.phrase(rest)

    def read_past(self, start: int, end: int) -> list[Item]:
        """The words read past from ``start`` to the end of the clause that goes on after ``end`` (up to the
        next clause ending): 'alendronate는 한 번도 처방받지 않은' holds '한 번도' after the drug's clause."""
        stop = next((x.start for x in self.items if x.kind is ItemKind.end and x.start >= end), end)
        return [x for x in self.fillers if start <= x.start < stop]

    def together(self, left: list[Item], right: list[Item], w: Item) -> bool:
        """'aspirin과 clopidogrel을 같은 날 처방받은': two mentions joined before a window whose own side
        names no concept: the window relates them to each other (the first one is the anchor), not to
        an event named earlier. False (nothing done) when the clause is not of that shape."""
        mentions = (ItemKind.term, ItemKind.unknown, ItemKind.modality)
        if any(it.kind in mentions for it in right) or not any(it.kind is ItemKind.conj for it in left):
            return False
        probe = self.phrase(left + right, register=False)
        if len(probe) < 2 or any(e.terms == [] and not e.modalities for e in probe):
            return False
        group = self.phrase(left + right)
        wd = w.data_as(WindowData)
        for e in group[1:]:
            e.window, e.anchor = EventWindow(wd.start, wd.end, wd.same_visit), group[0]
        self.last_group = group
        return True

    def people_left_out(self, items: list[Item], rest: list[Item]) -> list[Item]:
        """'… 환자 중 여성은 제외', '진단 당시 80세 이상인 자는 제외하였다': a clause that names only people
        and leaves them out leaves out those people (the men are kept), never the event named before it.
        When the rest of them are no one group, the question is asked back."""
        people = [it for it in items if it.kind in (ItemKind.age, ItemKind.sex)]
        negs = [it for it in rest if it.kind is ItemKind.neg]
        if not people or not negs:
            return rest
        for it in people:
            self.demographics.remove(it)
            kept = left_out(it)
            if kept is None:
                self.problems.append(problem("exclude_what", it.text))
            else:
                self.demographics.append(kept)
        return [it for it in rest if it.kind is not ItemKind.neg]

    def modifiers_only(self, items: list[Item]) -> None:
        """A clause with no event of its own: '… 환자는 제외', '2023년에', '처음'."""
        for it in items:
            if it.kind is ItemKind.neg:
                if not self.last_group:
                    self.problems.append(problem("exclude_what", it.text))
                # '진단 이력이 없는 환자는 제외합니다': leaving out those without it keeps those with it
                already = bool(self.last_group) and all(e.negated for e in self.last_group)
                for e in self.last_group:
                    e.negated = not already
            elif it.kind is ItemKind.date:
                if self.pending_date is not None and self.pending_date.data == it.data:
                    continue  # '1990년대(1990~1999년)': the same dates said again
                said_of = self.last_group[0] if len(self.last_group) == 1 else None
                if (
                    said_of is not None
                    and self.closer is not None
                    and _COPULA_KO.fullmatch(self.closer.text.strip())
                    and said_of.date is None
                    and not said_of.negated
                ):
                    # '뇌경색을 처음 진단받은 게 2022년인 환자': the date is said of the event just named
                    said_of.date = it
                    continue
                if self.pending_date is not None:
                    self.problems.append(problem("two_dates", it.text))
                self.pending_date = it
            elif it.kind is ItemKind.prior:
                for e in self.last_group:
                    e.prior = True
            elif it.kind is ItemKind.first and self.last_group:  # '… 받은 신규 환자'
                users = self.drug_users_after(it)
                for e in users or self.last_group:
                    e.first = True
            elif it.kind in (
                ItemKind.occurrence,
                ItemKind.compare,
                ItemKind.first,
                ItemKind.window,
                ItemKind.number,
            ):
                self.problems.append(problem("modifier_unplaced", it.text, text=it.text))

    def drug_users_after(self, first: Item) -> list[Event]:
        """'… LDL ≥ 160이었던 신규 사용자': 'new users' are new to the drug named, not to the test said
        last."""
        after = [it for it in self.items if it.start >= first.end]
        if not after or after[0].kind is not ItemKind.end or not after[0].text.strip().startswith("사용자"):
            return []
        drugs = [e for e in self.events if e.kind == "drug" or any("drug" in t.domains for t in e.terms)]
        return drugs[:1]

    def age_at_named_event(self, items: list[Item], rest: list[Item]) -> bool:
        """'…, 수술 당시 나이가 50세에서 69세 사이인 분들만': an event word only saying when the age is taken,
        the event already named that starts the cohort (no window of its own): no rule of its own."""
        words = [
            it
            for it in rest
            if it.kind is not ItemKind.conj
            and not (
                it.kind is ItemKind.window and re.fullmatch(r"\s*(?:당시|시점|때|시)(?:에)?\s*", it.text)
            )
        ]
        if not any(it.kind is ItemKind.age for it in items) or len(words) != 1:
            return False
        word = words[0]
        if word.kind is not ItemKind.event:
            return False
        probe = Event(pos=word.start)
        probe.set_kind(word.data_as(EventWordData).kind)
        existing = self.find_existing(probe)
        return existing is not None and existing.window is None and not existing.prior

    def anchor_of(self, left: list[Item]) -> Anchor:
        content = [it for it in left if it.kind in CONTENT]
        refs = [i for i, it in enumerate(left) if it.kind is ItemKind.index_ref]
        if refs:
            # '2019~2024년 J18.9 진단, 인덱스 기준 -1~+1일에 …': what was named before the index's name is an
            # event of its own (here the index itself), never dropped
            if any(it.kind in CONTENT for it in left[: refs[0]]):
                self.phrase(left[: refs[0]])
            return "index"
        if not content:
            prev = [e for e in self.events if not e.negated]
            return prev[-1] if prev else "index"
        probe = self.phrase(left, register=False)
        if len(probe) != 1:
            self.problems.append(problem("anchor_not_one", " ".join(it.text for it in left)))
            return "index"
        p = probe[0]
        existing = self.find_existing(p)
        if existing is not None:
            if p.date is not None and existing.date is None:
                existing.date = p.date
            if p.first:
                existing.first = True
            return existing
        p.introduced = True
        self.events.append(p)
        return p

    def find_existing(self, probe: Event) -> Event | None:
        want = probe.terms
        # a bare '진단' ('진단 후 30일'): the diagnosis the cohort is about before a history named beside it
        # ('DM2 병력 있는 환자가 MI 진단받은 날 …, 진단 후 30일 이내')
        order = self.events if want else sorted(self.events, key=lambda e: e.prior)
        for e in order:
            if e.negated:
                continue
            same_kind = probe.kind is None or e.kind is None or KIND_DOMAIN[probe.kind] == KIND_DOMAIN[e.kind]
            if want and same_kind and all(any(same_mention(t, u) for u in e.terms) for t in want):
                return e
            if not want and probe.kind and e.kind and same_kind:
                return e
            if (
                not want
                and probe.kind
                and e.kind is None
                and any(KIND_DOMAIN[probe.kind].value in t.domains for t in e.terms)
            ):
                return e  # '위절제술을 받았고, (그) 수술 후 …': the surgery just named, kind from its concept
        if not want and probe.kind and _date_reference(probe):
            # '대장내시경을 받은 환자 중 검사일로부터 30일 이내': '<kind>일' is the date of an event already
            # named, never a new one; the kind word is loose ('검사' is an exam: a lab, an endoscopy, a CT)
            named = [e for e in self.events if not e.negated and (e.terms or e.modalities)]
            if named:
                return named[-1]
        return None

    # ------------------------------------------------------------ one phrase → events
    def phrase(
        self,
        items: list[Item],
        window: EventWindow | None = None,
        anchor: Anchor | None = None,
        register: bool = True,
    ) -> list[Event]:
        ph = Phrase(self)
        for it in items:
            step = PHRASE_STEPS.get(it.kind)
            if step is not None:
                step(ph, it)
        evs = ph.evs
        if ph.every:  # '고혈압, 당뇨병, 고지혈증이 모두 있는': every listed item is required
            for e in list(evs):
                for listed in e.comma_terms:
                    e.terms.remove(listed)
                    evs.append(Event(pos=e.pos + 1, kind=e.kind, terms=[listed], text=[listed.text]))
        for e in evs:
            if e.quotes and ph.name is None:
                e.terms += [Term(q, set(), False) for q in e.quotes]
                e.quotes = []
        evs = [e for e in evs if e.has_content()]
        if not evs:
            if ph.date is not None and register and any(it.kind is ItemKind.index_ref for it in items):
                self.date_of_index(ph.date)
            return []
        if len(evs) > 1 and register:
            self._groups += 1
        for e in evs:
            e.negated = ph.neg
            e.first = e.first or ph.first
            e.prior = ph.prior
            if ph.name is not None:
                e.name_mode = True
                e.name_kind = ph.name.data_as(NameData).kind or e.kind
            if ph.count is not None:
                e.count = ph.count
            if window is not None:
                e.window, e.anchor = replace(window), anchor
            if len(evs) > 1 and register:
                e.group = self._groups
        # '작년에 head CT랑 뇌 MRI 둘다 찍은': a date said before 'both' is each one's (Criterion.date_range)
        dated = evs if ph.every else evs[:1]
        if ph.date is not None:
            for e in dated:
                e.date = ph.date
        elif self.pending_date is not None and register and not evs[0].negated:
            for e in dated:
                e.date = self.pending_date
            self.pending_date = None
        if (
            register
            and len(evs) == 1
            and window is None
            and (same := self.bare_reference(evs[0])) is not None
        ):
            return [same]  # '허혈성 심장질환 환자 중 2023년에 진단된 환자': that diagnosis, in 2023
        if register and _names_the_index(items):
            for e in evs:
                e.named_index = True
        if register:
            self.events.extend(evs)
        return evs

    def bare_reference(self, ev: Event) -> Event | None:
        """A clause with only an event word ('진단된', '진단받은') names the diagnosis already described;
        its date, 'first' and count move onto that event."""
        if (
            ev.terms
            or ev.modalities
            or not ev.kind
            or ev.negated
            or ev.name_mode
            or ev.kind in ("surgery", "procedure")
        ):
            return None
        same = [
            e
            for e in self.events
            if e.terms
            and not e.negated
            and e.window is None
            and e.kind in (None, ev.kind)
            and any(KIND_DOMAIN[ev.kind].value in t.domains or not t.domains for t in e.terms)
        ]
        if len(same) != 1 or (ev.date is not None and same[0].date is not None):
            return None
        target = same[0]
        target.set_kind(ev.kind)
        target.date = target.date or ev.date
        target.first = target.first or ev.first
        target.count = target.count or ev.count
        return target


@dataclass
class Phrase:
    """One phrase being read (``STEPS``: one handler per item kind): its events, the current one, and the
    modifiers that apply to all of them (Korean puts them anywhere in the phrase)."""

    grammar: KoreanGrammar
    evs: list[Event] = field(default_factory=list)
    cur: Event | None = None
    neg: bool = False
    first: bool = False
    prior: bool = False
    every: bool = False  # '모두': every listed item is required
    name: Item | None = None
    date: Item | None = None
    count: Count | None = None

    def new(self, pos: int) -> Event:
        ev = Event(pos=pos)
        self.evs.append(ev)
        return ev

    def quote(self, it: Item) -> None:
        if self.cur is None:
            self.cur = self.new(it.start)
        self.cur.quotes.append(it.text)

    def mention(self, it: Item) -> None:
        term = Term.of(it)
        cur = self.cur
        if (
            cur is None
            or cur.modalities
            or cur.terms
            and cur.conj not in ("or", ",")
            or cur.terms
            and cur.conj == ","
            and len(self.evs) > 1
        ):
            cur = self.cur = self.new(it.start)
        if cur.terms and cur.conj == ",":
            cur.comma_terms.append(term)
        cur.terms.append(term)
        cur.text.append(it.text)
        cur.conj = None

    def all(self, it: Item) -> None:
        self.every = True

    def event(self, it: Item) -> None:
        kind = it.data_as(EventWordData).kind
        cur = self.cur
        if (
            cur is not None
            and cur.kind == "imaging"
            and (kind in ("procedure", "imaging") or (kind == "lab" and it.text.strip().startswith("검사")))
        ):
            return  # '초음파를 시행한', 'CT 영상 검사를': the imaging word already says what was done
        if cur is None:
            cur = self.cur = self.new(it.start)
        targets = [e for e in self.evs if e.kind is None] or [cur]
        clash = (
            cur.kind is not None
            and KIND_DOMAIN[cur.kind] != KIND_DOMAIN[kind]
            and not (cur.kind in VISIT_KINDS and kind in VISIT_KINDS)
        )
        if clash:
            cur = self.cur = self.new(it.start)
            targets = [cur]
        elif cur.kind in VISIT_KINDS and kind in VISIT_KINDS and kind != cur.kind and cur.conj == "or":
            # '외래 2회 이상 또는 입원 1회 이상', '입원 또는 응급실 방문 2회 이상': either of two kinds of
            # visit, which no set of rules says (read on, the second kind had been dropped)
            self.grammar.problems.append(problem("or_between_events", it.text, event=" ".join(cur.text)))
        for e in targets:
            e.set_kind(kind)
            e.text.append(it.text)

    def modality(self, it: Item) -> None:
        cur = self.cur
        # '두부 CT와 뇌 MRI를 (모두) 촬영한': two studies, both required, as 'a head CT and a brain MRI';
        # 'CT나 MRI', 'CT 또는 MRI' stay one study of either modality
        both = cur is not None and bool(cur.modalities) and cur.conj == "and"
        shot = it.data_as(ModalityData)
        parts = list(shot.body_parts)  # '흉부 CT 및 MRI': an MRI of any part, as in English
        if cur is None or both or cur.terms or (cur.kind not in (None, "imaging")):
            cur = self.cur = self.new(it.start)
        cur.set_kind("imaging")
        cur.modalities += [m for m in shot.modalities if m not in cur.modalities]
        cur.body_parts += [b for b in parts if b not in cur.body_parts]
        cur.shots.append((tuple(shot.modalities), tuple(parts)))
        cur.text.append(it.text)

    def conj(self, it: Item) -> None:
        if self.cur is not None:
            self.cur.conj = it.data_as(ConjData).op

    def compare(self, it: Item) -> None:
        value = ValueCmp.of(it.data_as(CompareData))
        target = self.cur
        if (
            target is not None
            and target.value is not None
            and value.op in ("<", "<=")
            and target.value.op in (">", ">=")
        ):
            # '126 이상 200 미만': each end keeps its own strictness
            target.value = ValueCmp(
                "between",
                target.value.value,
                value.value,
                target.value.unit or value.unit,
                exclude_low=target.value.op == ">",
                exclude_high=value.op == "<",
            )
        elif (
            target is not None
            and target.value is None
            and (
                target.kind in (None, "lab", "pathology", "observation")
                or any(d in t.domains for t in target.terms for d in ("measurement", "observation"))
            )
        ):
            target.value = value
            if target.kind is None:
                target.set_kind("lab")
        else:
            self.grammar.problems.append(problem("compare_unplaced", it.text, text=it.text))

    def number(self, it: Item) -> None:
        choices = list(readings("number_threshold", "ko", text=it.text))
        self.grammar.problems.append(problem("number_threshold", it.text, choices, text=it.text))

    def count_(self, it: Item) -> None:
        self.count = Count.of(it.data_as(CountData))

    def first_(self, it: Item) -> None:
        self.first = True

    def prior_(self, it: Item) -> None:
        self.prior = True

    def neg_(self, it: Item) -> None:
        self.neg = True

    def name_(self, it: Item) -> None:
        self.name = it
        kind = it.data_as(NameData).kind
        if kind:
            if self.cur is None:
                self.cur = self.new(it.start)
            self.cur.set_kind(kind)

    def date_(self, it: Item) -> None:
        if self.date is not None and self.date.data == it.data:
            return  # the same dates said again
        if self.date is not None:
            self.grammar.problems.append(problem("two_dates", it.text))
        self.date = it

    def window(self, it: Item) -> None:
        self.grammar.problems.append(problem("two_windows", it.text))


PhraseStep = Callable[[Phrase, Item], None]
# What each item kind does inside a phrase; a kind without a row is skipped.
PHRASE_STEPS: dict[ItemKind, PhraseStep] = {
    ItemKind.quote: Phrase.quote,
    ItemKind.term: Phrase.mention,
    ItemKind.unknown: Phrase.mention,
    ItemKind.all: Phrase.all,
    ItemKind.event: Phrase.event,
    ItemKind.modality: Phrase.modality,
    ItemKind.conj: Phrase.conj,
    ItemKind.compare: Phrase.compare,
    ItemKind.number: Phrase.number,
    ItemKind.occurrence: Phrase.count_,
    ItemKind.first: Phrase.first_,
    ItemKind.prior: Phrase.prior_,
    ItemKind.neg: Phrase.neg_,
    ItemKind.name: Phrase.name_,
    ItemKind.date: Phrase.date_,
    ItemKind.window: Phrase.window,
}


def _one_window(items: list[Item]) -> list[Item] | Item:
    """'진단 당일 또는 그 다음 날까지': two windows joined by 'or' that touch are one window (their union);
    '과거 365일 이내': a window with no side of its own after '과거' is before the anchor;
    '30일 이내(진단 당일 제외)': the anchor's day leaves the window. The exclusion's own item when it has
    no window that starts or ends on that day (the caller asks)."""
    out: list[Item] = []
    for it in items:
        if it.kind is ItemKind.window and out and out[-1].kind is ItemKind.prior:
            w = it.data_as(WindowData)
            if (
                w.start is not None
                and w.end is not None
                and w.start >= 0
                and not w.same_visit
                and not re.search(r"후|뒤|이후|전|이전|앞", w.text)
            ):
                # '진단일 기준 과거 365일 이내': the past is before the anchor
                w = replace(w, start=-w.end, end=-w.start)
                it = Item(ItemKind.window, it.text, it.start, it.end, w)
        if it.kind is ItemKind.window:
            k = next((i for i in range(len(out) - 1, -1, -1) if out[i].kind is ItemKind.window), None)
            prev = out[k].data_as(WindowData) if k is not None else None
            if (
                k is not None
                and prev is not None
                and prev.start == 0
                and prev.end is None
                and re.fullmatch(r"(?:그\s*)?(?:이후|후|뒤|다음)에?", prev.text.strip())
            ):
                # '이후 그 진단일로부터 90일 이내에', '생검을 받은 뒤, 생검일로부터 90일 이내에', 'x-ray 찍은
                # 다음에 1년 안에': 'afterwards', then the window that says how long after
                del out[k]
        if join_or_window(out, it):
            continue
        if it.kind is ItemKind.window and out and out[-1].kind is ItemKind.window:
            a, b = out[-1].data_as(WindowData), it.data_as(WindowData)
            if (a.start, a.end, a.same_visit) == (b.start, b.end, b.same_visit):
                continue  # 'alteplase 맞은 날 같은 날에': the same window said twice
        if it.kind is ItemKind.exclusive:
            k = next((i for i in range(len(out) - 1, -1, -1) if out[i].kind is ItemKind.window), None)
            if k is None:
                return it
            w = out[k].data_as(WindowData)
            if it.data_as(AnchorDayData).keep:
                # '(사망일 포함)', '(입원 당일 포함)': the anchor's own day is in (already, or now)
                if w.end == -1 and w.start != 0:
                    w = replace(w, end=0)
                elif w.start == 1 and w.end != 0:
                    w = replace(w, start=0)
                out[k] = Item(ItemKind.window, out[k].text, out[k].start, out[k].end, w)
                continue
            if w.end == 0 and w.start != 0:
                w = replace(w, end=-1)
            elif w.start == 0 and w.end != 0:
                w = replace(w, start=1)
            else:
                return it
            out[k] = Item(ItemKind.window, out[k].text, out[k].start, out[k].end, w)
            continue
        out.append(it)
    return out


def build_ko(items: list[Item]) -> Built:
    items, notes, problems = _also_counted(_member_of_class(items))
    built = KoreanGrammar(items).run()
    built.notes.extend(notes)
    built.problems.extend(problems)
    return built


#: '… 포함해주세요', '… 입원으로 카운트해 주세요', '… 인정함': the verbs that say a kind of event counts too
_COUNTS_TOO_KO = {"포함하다", "카운트하다", "인정하다", "간주하다", "넣다", "치다", "세다", "산정하다"}


def _also_counted(items: list[Item]) -> tuple[list[Item], list[str], list[Problem]]:
    """'입원 2회 이상 … 응급실 경유 입원도 입원으로 카운트해주세요', '… 응급실 경유 입원도 포함': a sentence
    that says a kind of event counts too, with nothing else in it. When that kind is already inside an
    event named before (an ER-to-ward admission is an admission), the sentence only confirms the reading
    and goes, with a note; otherwise it widens an earlier event in a way no rule here says, and is asked
    back — never read as one more rule the patients must meet."""
    out: list[Item] = []
    notes: list[str] = []
    problems: list[Problem] = []
    start = 0  # where the current sentence began in ``out``
    for it in items:
        out.append(it)
        if it.kind is ItemKind.end and it.text.strip() in (".", "\n", "!"):
            start = len(out)
            continue
        if it.kind is not ItemKind.end or it.data_as(EndData).lemma not in _COUNTS_TOO_KO:
            continue
        said = [x for x in out[start:-1] if x.kind is not ItemKind.filler or x.text.strip() == "도"]
        kinds = (ItemKind.event, ItemKind.term)
        if len(said) < 2 or said[1].text.strip() != "도" or said[0].kind not in kinds:
            continue
        named = said[0]
        target = [x for x in said[2:] if x.kind in kinds]
        earlier = [x for x in out[:start] if x.kind in kinds]
        if len(said) - 2 != len(target) or not earlier:
            continue
        if any(_inside(named, x) for x in (target or earlier)) and all(
            any(_inside(t, x) or _same(t, x) for x in earlier) for t in target
        ):
            del out[start:]
            notes.append(say("counted_already", "ko", text=named.text.strip()))
        else:
            problems.append(problem("widens_what", named.text.strip(), text=named.text.strip()))
    return out, notes, problems


def _same(a: Item, b: Item) -> bool:
    return a.kind is b.kind and a.data == b.data


def _inside(a: Item, b: Item) -> bool:
    """Is every event ``a`` names also an event ``b`` names (an ER-to-ward admission in the admissions,
    atorvastatin in the statins)?"""
    if a.kind is ItemKind.event and b.kind is ItemKind.event:
        ka, kb = a.data_as(EventWordData).kind, b.data_as(EventWordData).kind
        ids_a, ids_b = set(VISIT_KIND_IDS.get(ka or "", [])), set(VISIT_KIND_IDS.get(kb or "", []))
        return bool(ids_a) and ids_a < ids_b
    if a.kind is ItemKind.term and b.kind is ItemKind.term:
        return narrower(codes_named(a.text), codes_named(b.text))
    return False


def _member_of_class(items: list[Item]) -> list[Item]:
    """'피 묽게 하는 약 중에 와파린은 한 번도 처방 안 받은', '스타틴 중 아토르바스타틴': a class named to say
    where its member comes from; the member is the mention (read as two, 'never warfarin' became 'on an
    anticoagulant but never warfarin')."""
    out: list[Item] = []
    for it in items:
        if (
            len(out) >= 2
            and it.kind is ItemKind.term
            and out[-1].kind is ItemKind.end
            and out[-1].text.strip() in ("중", "중에", "중에서")
            and out[-2].kind is ItemKind.term
            and _is_member(out[-2], it)
        ):
            del out[-2:]
        out.append(it)
    return out


def _is_member(group: Item, member: Item) -> bool:
    """Every code of the member's entries is one of the group's (a class and one of its drugs)."""
    if group.data_as(TermData).key == member.data_as(TermData).key:
        return False
    return narrower(codes_named(member.text), codes_named(group.text))


def _date_reference(probe: Event) -> bool:
    """'검사일', '촬영일자', '시술일': an event word naming the *date* of an event (a reference to one)."""
    return bool(probe.text) and KO_DATE_REFERENCE.search(probe.text[-1]) is not None
