"""Korean event grammar: recognised items → events, clause by clause.

Korean puts modifiers before their head and the verb last: "[2023년에] [심근경색으로] [진단]받은 환자",
"[수술] 후 30일 이내 [사망]한 환자". The grammar therefore cuts the sentence into clauses at verb
endings (받은, 있는, 한 …), the head noun (환자 중) and postfix negations (적이 없는, 제외), and reads
each clause as a whole. A window inside a clause splits it: what stands before "후/전/기준" is the
anchor, what follows is the event measured from it. Negation and particles follow their noun.
"""

from __future__ import annotations

from typing import Any

from cohort_engine.nlq.events import Built, Event, Problem, Term, same_mention
from cohort_engine.nlq.grammar_en import VISIT_KINDS
from cohort_engine.nlq.text import Item
from cohort_engine.nlq.vocab import KIND_DOMAIN

CONTENT = {"term", "event", "modality", "unknown", "quote", "index_ref", "name"}


class KoreanGrammar:
    def __init__(self, items: list[Item]) -> None:
        self.items = [it for it in items if it.kind != "filler"]
        self.events: list[Event] = []
        self.problems: list[Problem] = []
        self.demographics: list[Item] = []
        self.notes: list[str] = []
        self.pending_date: Item | None = None
        self.last_group: list[Event] = []
        self._groups = 0

    def clauses(self) -> list[tuple[list[Item], Item | None]]:
        """Clauses with the item that closed each (None at the end); empty clauses are kept as markers."""
        out: list[tuple[list[Item], Item | None]] = []
        cur: list[Item] = []
        for it in self.items:
            if it.kind == "end":
                out.append((cur, it))
                cur = []
                continue
            cur.append(it)
            if it.kind == "neg" or (it.kind == "event" and it.get("ends")):
                out.append((cur, it))
                cur = []
        out.append((cur, None))
        return out

    def run(self) -> Built:
        prev: tuple[list[Item], Item | None] | None = None
        requesting = False  # after '환자의' before imaging words: the images to return, not rules
        for items, closer in self.clauses():
            head = closer is not None and bool(closer.get("head"))
            if items and prev is not None and prev[0] and self.merge_head(items, prev, closer):
                prev = (items, closer)
                continue
            before = len(self.events)
            if items and not head and self.only_unknown(items):
                continue
            if items:
                self.clause(items)
            if head:
                for e in self.events[before:]:
                    e.head = True
            if requesting or (closer is not None and closer.get("request_verb")):  # '… CT 영상을 모아줘'
                for e in self.events[before:]:
                    e.request, e.head = True, False
            if closer is not None and closer.get("request"):
                requesting = True
            prev = (items, closer)
        if self.pending_date is not None and self.events:
            first = next((e for e in self.events if not e.negated and not e.request), None)
            if first is not None and first.date is None and not first.window:
                first.date, self.pending_date = self.pending_date, None
        return Built(self.events, self.demographics, self.problems, self.notes, self.pending_date)

    def only_unknown(self, items: list[Item]) -> bool:
        """Words nobody recognised, with no event word and no '환자' after them, are not a mention: ask."""
        if any(it.kind in ("term", "event", "modality", "name", "quote") for it in items):
            return False
        unknown = [it for it in items if it.kind == "unknown"]
        if not unknown:
            return False
        for it in unknown:
            self.problems.append(Problem(f"“{it.text}”을(를) 이해하지 못했습니다.", it.text))
        rest = [it for it in items if it.kind != "unknown"]
        if rest:
            self.clause(rest)
        return True

    def merge_head(
        self, items: list[Item], prev: tuple[list[Item], Item | None], closer_now: Item | None
    ) -> bool:
        """'2023년에 진단받은 대장암 환자': the relative clause describes the head noun's own event."""
        closer = prev[1]
        if closer is None or closer.get("head") or closer.get("request") or closer.kind != "end":
            return False
        if any(it.kind not in ("term", "unknown", "conj", "age", "sex") for it in items):
            return False
        group = self.last_group
        if len(group) != 1 or group[0].terms or not group[0].kind or group[0].negated:
            return False
        ev = group[0]
        terms = [Term.of(it) for it in items if it.kind in ("term", "unknown")]
        if not terms or not all(
            KIND_DOMAIN[ev.kind].value in t.domains or (not t.domains and ev.kind == "diagnosis")
            for t in terms
        ):
            return False
        for it in items:
            if it.kind in ("age", "sex"):
                self.demographics.append(it)
        ev.terms += terms
        ev.text += [t.text for t in terms]
        ev.head = ev.head or bool(closer_now and closer_now.get("head"))
        return True

    # ------------------------------------------------------------ clauses
    def clause(self, items: list[Item]) -> None:
        rest = []
        for it in items:
            if it.kind in ("age", "sex"):
                self.demographics.append(it)
            elif it.kind in ("bad_date", "bad_window", "vague"):
                q = it.get("reason") or (
                    f"기간은 사건 시작일 기준으로만 셉니다. “{it.text}”(방문 종료일) 기준은 아직 지원하지 않습니다."
                    if it.get("what") == "unsupported"
                    else f"“{it.text}”은(는) 모호합니다. 정확히 어떤 뜻인가요?"
                )
                self.problems.append(Problem(q, it.text, list(it.get("choices", []))))
            else:
                rest.append(it)
        if not rest:
            return
        if not any(it.kind in CONTENT for it in rest):
            self.modifiers_only(rest)
            return
        windows = [i for i, it in enumerate(rest) if it.kind == "window"]
        if len(windows) > 1:
            self.problems.append(
                Problem(
                    "한 사건에 기간 조건이 두 개 있습니다. 어느 것을 적용할까요?",
                    " / ".join(rest[i].text for i in windows),
                )
            )
            return
        if windows:
            w = rest[windows[0]]
            left, right = rest[: windows[0]], rest[windows[0] + 1 :]
            anchor = self.anchor_of(left)
            if not any(it.kind in CONTENT for it in right):
                self.problems.append(Problem(f"“{w.text}”에 무엇이 일어났는지 알 수 없습니다.", w.text))
                return
            window = {"start": w.get("start"), "end": w.get("end"), "same_visit": w.get("same_visit")}
            self.last_group = self.phrase(right, window=window, anchor=anchor)
        else:
            self.last_group = self.phrase(rest)

    def modifiers_only(self, items: list[Item]) -> None:
        """A clause with no event of its own: '… 환자는 제외', '2023년에', '처음'."""
        for it in items:
            if it.kind == "neg":
                if not self.last_group:
                    self.problems.append(Problem("무엇을 제외할지 알 수 없습니다.", it.text))
                for e in self.last_group:
                    e.negated = True
            elif it.kind == "date":
                if self.pending_date is not None:
                    self.problems.append(
                        Problem("날짜 범위가 두 개 있습니다. 어느 것을 적용할까요?", it.text)
                    )
                self.pending_date = it
            elif it.kind == "prior":
                for e in self.last_group:
                    e.prior = True
            elif it.kind == "first" and self.last_group:  # '… 받은 신규 환자'
                for e in self.last_group:
                    e.first = True
            elif it.kind in ("count", "compare", "first", "window", "number"):
                self.problems.append(
                    Problem(f"“{it.text}”이(가) 어느 사건에 대한 것인지 알 수 없습니다.", it.text)
                )

    def anchor_of(self, left: list[Item]) -> Event | str:
        content = [it for it in left if it.kind in CONTENT]
        if any(it.kind == "index_ref" for it in left):
            return "index"
        if not content:
            prev = [e for e in self.events if not e.negated]
            return prev[-1] if prev else "index"
        probe = self.phrase(left, register=False)
        if len(probe) != 1:
            self.problems.append(
                Problem(
                    "기준이 되는 사건이 하나가 아닙니다. 어느 사건을 기준으로 할까요?",
                    " ".join(it.text for it in left),
                )
            )
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
        for e in self.events:
            if e.negated:
                continue
            same_kind = probe.kind is None or e.kind is None or KIND_DOMAIN[probe.kind] == KIND_DOMAIN[e.kind]
            if want and same_kind and all(any(same_mention(t, u) for u in e.terms) for t in want):
                return e
            if not want and probe.kind and e.kind and same_kind:
                return e
        return None

    # ------------------------------------------------------------ one phrase → events
    def phrase(
        self,
        items: list[Item],
        window: dict[str, Any] | None = None,
        anchor: Event | str | None = None,
        register: bool = True,
    ) -> list[Event]:
        evs: list[Event] = []
        cur: Event | None = None
        mods: dict[str, Any] = {"neg": False, "first": False, "prior": False, "name": None}
        date: Item | None = None
        count: dict[str, Any] | None = None

        def new(pos: int) -> Event:
            ev = Event(pos=pos)
            evs.append(ev)
            return ev

        for it in items:
            k = it.kind
            if k == "quote":
                if cur is None:
                    cur = new(it.start)
                cur.quotes.append(it.text)
            elif k in ("term", "unknown"):
                term = Term.of(it)
                if (
                    cur is None
                    or cur.modalities
                    or cur.terms
                    and cur.conj not in ("or", ",")
                    or cur.terms
                    and cur.conj == ","
                    and len(evs) > 1
                ):
                    cur = new(it.start)
                if cur.terms and cur.conj == ",":
                    cur.comma_terms.append(term)
                cur.terms.append(term)
                cur.text.append(it.text)
                cur.conj = None
            elif k == "all":
                mods["all"] = True
            elif k == "event":
                kind = it.get("kind")
                if cur is not None and cur.kind == "imaging" and kind in ("procedure", "imaging"):
                    continue  # '초음파를 시행한': the imaging word already says what was done
                if cur is None:
                    cur = new(it.start)
                targets = [e for e in evs if e.kind is None] or [cur]
                clash = (
                    cur.kind is not None
                    and KIND_DOMAIN[cur.kind] != KIND_DOMAIN[kind]
                    and not (cur.kind in VISIT_KINDS and kind in VISIT_KINDS)
                )
                if clash:
                    cur = new(it.start)
                    targets = [cur]
                for e in targets:
                    e.set_kind(kind)
                    e.text.append(it.text)
            elif k == "modality":
                if cur is None or cur.terms or (cur.kind not in (None, "imaging")):
                    cur = new(it.start)
                cur.set_kind("imaging")
                cur.modalities += [m for m in it.get("modalities", []) if m not in cur.modalities]
                cur.body_parts += [b for b in it.get("body_parts", []) if b not in cur.body_parts]
                cur.shots.append((tuple(it.get("modalities", [])), tuple(it.get("body_parts", []))))
                cur.text.append(it.text)
            elif k == "conj":
                if cur is not None:
                    cur.conj = it.get("op")
            elif k == "compare":
                d = it.data
                value = {"op": d["op"], "value": d["value"], "high": d.get("high"), "unit": d.get("unit")}
                target = cur
                if (
                    target is not None
                    and target.value is not None
                    and value["op"] in ("<", "<=")
                    and target.value["op"] in (">", ">=")
                ):
                    target.value = {
                        "op": "between",
                        "value": target.value["value"],
                        "high": value["value"],
                        "unit": target.value.get("unit") or value.get("unit"),
                    }
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
                    self.problems.append(
                        Problem(f"“{it.text}”이(가) 어떤 검사 수치에 대한 조건인지 알 수 없습니다.", it.text)
                    )
            elif k == "number":
                self.problems.append(
                    Problem(
                        f"숫자 “{it.text}”의 뜻을 알 수 없습니다. 이상/이하/미만/초과를 붙여 주세요.",
                        it.text,
                        [f"{it.text} 이상", f"{it.text} 미만"],
                    )
                )
            elif k == "count":
                count = {"type": it.get("type"), "n": it.get("n")}
            elif k == "first":
                mods["first"] = True
            elif k == "prior":
                mods["prior"] = True
            elif k == "neg":
                mods["neg"] = True
            elif k == "name":
                mods["name"] = it
                if it.get("kind"):
                    if cur is None:
                        cur = new(it.start)
                    cur.set_kind(it.get("kind"))
            elif k == "date":
                if date is not None:
                    self.problems.append(
                        Problem("날짜 범위가 두 개 있습니다. 어느 것을 적용할까요?", it.text)
                    )
                date = it
            elif k == "window":
                self.problems.append(Problem("기간 조건이 두 개 있습니다.", it.text))
        if mods.get("all"):  # '고혈압, 당뇨병, 고지혈증이 모두 있는': every listed item is required
            for e in list(evs):
                for listed in e.comma_terms:
                    e.terms.remove(listed)
                    evs.append(Event(pos=e.pos + 1, kind=e.kind, terms=[listed], text=[listed.text]))
        for e in evs:
            if e.quotes and not mods["name"]:
                e.terms += [Term(q, set(), False) for q in e.quotes]
                e.quotes = []
        evs = [e for e in evs if e.has_content()]
        if not evs:
            return []
        if len(evs) > 1 and register:
            self._groups += 1
        for e in evs:
            e.negated = mods["neg"]
            e.first = e.first or mods["first"]
            e.prior = mods["prior"]
            if mods["name"] is not None:
                e.name_mode = True
                e.name_kind = mods["name"].get("kind") or e.kind
            if count is not None:
                e.count = dict(count)
            if window is not None:
                e.window, e.anchor = dict(window), anchor
            if len(evs) > 1 and register:
                e.group = self._groups
        if date is not None:
            evs[0].date = date
        elif self.pending_date is not None and register and not evs[0].negated:
            evs[0].date, self.pending_date = self.pending_date, None
        if (
            register
            and len(evs) == 1
            and window is None
            and (same := self.bare_reference(evs[0])) is not None
        ):
            return [same]  # '허혈성 심장질환 환자 중 2023년에 진단된 환자': that diagnosis, in 2023
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


def build_ko(items: list[Item]) -> Built:
    return KoreanGrammar(items).run()
