"""Every row of every word list in ``nlq.vocab`` can fire: for each row a sentence generated from the row
(one per alternative of a pattern) is recognised, and the item says the row was used.

A row that another recogniser always claims first is dead weight and misleads whoever extends the
vocabulary. The few alternatives that are claimed first today are listed in ``SHADOWED`` with what
claims them; the test asserts they are still claimed, so fixing the order (or pruning them) shows here.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from cohort_engine.nlq import vocab as V
from cohort_engine.nlq.grammar_en import plausible_mention
from cohort_engine.nlq.items import (
    AgeData,
    AskData,
    CompareData,
    ConjData,
    CountData,
    DateData,
    EndData,
    EventWordData,
    Item,
    ItemKind,
    ModalityData,
    NameData,
    PrepData,
    TermData,
    UnknownData,
    VerbData,
)
from cohort_engine.nlq.parser import parse
from cohort_engine.nlq.recognise import recognise, repair_typos
from cohort_engine.nlq.text import strip_josa

TODAY = date(2024, 6, 30)


# The stdlib's own regex parser (private, stable from 3.11 on) reads the patterns to generate a sample
# string per alternative.
sre_parse = importlib.import_module("re._parser")
C = importlib.import_module("re._constants")


def _gen(items: list[tuple[object, Any]]) -> str:
    out = ""
    for op, av in items:
        if op is C.LITERAL:
            out += chr(av)
        elif op in (C.NOT_LITERAL, C.ANY):
            out += "x"
        elif op is C.IN:
            out += _one_of(av)
        elif op is C.SUBPATTERN:
            out += _gen(list(av[-1]))
        elif op is C.BRANCH:
            out += _gen(list(av[1][0]))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            out += _gen(list(av[2])) * av[0]
        elif op is C.ASSERT and av[0] == 1:  # a lookahead at the end: 'X(?=Y)' → 'XY'
            out += _gen(list(av[1]))
    return out


def _one_of(av: list[tuple[object, Any]]) -> str:
    op, a = av[0]
    if op is C.LITERAL:
        return chr(a)
    if op is C.RANGE:
        return chr(a[0])
    return " " if a is C.CATEGORY_SPACE else "1" if a is C.CATEGORY_DIGIT else "a"


def samples(pattern: str) -> list[str]:
    """The shortest string of each top-level alternative of ``pattern``."""
    items = list(sre_parse.parse(pattern))
    if len(items) == 1 and items[0][0] is C.BRANCH:
        return [_gen(list(alt)) for alt in items[0][1][1]]
    return [_gen(items)]


def items(sentence: str) -> list[Item]:
    lang = "ko" if re.search(r"[가-힣]", sentence) else "en"
    return recognise(sentence, lang, TODAY).items


# Alternatives another recogniser claims first, with what it reads them as (kind, text).
SHADOWED: dict[str, tuple[ItemKind, str]] = {
    "patients histology result": (ItemKind.term, "histology"),  # the lexicon knows 'histology'
    "patients histology": (ItemKind.term, "histology"),
    "older adult patients with asthma": (ItemKind.age, "adult"),  # 'adults' is an age rule
    "soon after patients with asthma": (ItemKind.window, "after"),  # windows come before vague words
    "shortly after patients with asthma": (ItemKind.window, "after"),
    "right after patients with asthma": (ItemKind.window, "after"),
    "직후 천식 환자": (ItemKind.window, "직후"),
    "조절되지않는 천식 환자": (ItemKind.neg, "조절되지않는"),  # '…지 않는' is a negation first
    "patients receive asthma": (ItemKind.verb, "received"),  # typo repair: one edit from 'received'
}

Check = Callable[[Item], bool]


def _event(kind: str, pos: str | None = None) -> Check:
    def check(it: Item) -> bool:
        if it.kind is not ItemKind.event:
            return False
        d = it.data_as(EventWordData)
        return d.kind == kind and (pos is None or d.pos == pos)

    return check


def _shot(modalities: tuple[str, ...] | None, body_parts: tuple[str, ...] | None) -> Check:
    def check(it: Item) -> bool:
        if it.kind is not ItemKind.modality:
            return False
        d = it.data_as(ModalityData)
        return modalities in (None, d.modalities) and body_parts in (None, d.body_parts)

    return check


def _procedure(lang: str, text: str) -> bool:
    return any(re.fullmatch(p, text, re.IGNORECASE) for p, _ in V.PROCEDURE_STUDIES[lang])


def _term(key: str) -> Check:
    return lambda it: it.kind is ItemKind.term and it.data_as(TermData).key == key


def _asked(what: str, choices: list[str]) -> Check:
    return lambda it: it.kind is ItemKind.vague and it.data == AskData(what=what, choices=tuple(choices))


def _claimed(kind: ItemKind, text: str) -> Check:
    return lambda it: it.kind is kind and it.text.strip() == text.strip()


def _request(it: Item) -> bool:
    return it.kind is ItemKind.request


def _ko_request(it: Item) -> bool:
    return it.kind is ItemKind.end and it.data_as(EndData).request


def _ko_request_verb(it: Item) -> bool:
    return it.kind is ItemKind.end and it.data_as(EndData).request_verb


def _cases() -> list[tuple[str, str, Check]]:
    """(row, sentence, what its item must say) for every alternative of every pattern row."""
    out: list[tuple[str, str, Check]] = []
    for pattern, kind, pos in V.EN_EVENT_WORDS:
        out += [(f"EN_EVENT_WORDS {kind}", f"patients {s}", _event(kind, pos)) for s in samples(pattern)]
    for pattern, kind in V.KO_EVENT_WORDS:
        out += [(f"KO_EVENT_WORDS {kind}", f"{s} 환자", _event(kind)) for s in samples(pattern)]
    modality_rows = (
        ("en", V.EN_MODALITIES, "patients with {}", "patients with {} images"),
        ("ko", V.KO_MODALITIES, "{} 환자", "{} 영상 환자"),
    )
    for lang, mods, tmpl, images in modality_rows:
        for pattern, codes, _ in mods:
            # a study word that names a procedure is that procedure; with an image word, the images
            out += [
                (
                    f"MODALITIES {codes}",
                    (images if _procedure(lang, s) else tmpl).format(s),
                    _shot(tuple(codes), None),
                )
                for s in samples(pattern)
            ]
        for pattern, key in V.PROCEDURE_STUDIES[lang]:
            out += [(f"PROCEDURE_STUDIES {key}", tmpl.format(s), _term(key)) for s in samples(pattern)]
    for parts, tmpl in ((V.EN_BODY_PARTS, "patients with {} CT"), (V.KO_BODY_PARTS, "{} CT 환자")):
        for pattern, names in parts:
            out += [
                (f"BODY_PARTS {names}", tmpl.format(s), _shot(None, tuple(names))) for s in samples(pattern)
            ]
    for vague, tmpl in ((V.EN_VAGUE, "{} patients with asthma"), (V.KO_VAGUE, "{} 천식 환자")):
        for pattern, what, choices in vague:
            out += [(f"VAGUE {what}", tmpl.format(s), _asked(what, choices)) for s in samples(pattern)]
    simple = [
        ("EN_NEGATION", V.EN_NEGATION, "patients {} asthma", ItemKind.neg),
        ("KO_NEGATION", V.KO_NEGATION, "천식{} 환자", ItemKind.neg),
        ("EN_BOUNDARY", V.EN_BOUNDARY, "patients {} had asthma", ItemKind.boundary),
        ("EN_GENERIC_VERBS", V.EN_GENERIC_VERBS, "patients {} asthma", ItemKind.verb),
    ]
    for row, pattern, tmpl, kind in simple:
        out += [(row, tmpl.format(s), _claimed(kind, s)) for s in samples(pattern)]
    requests = [
        (
            "EN_REQUEST_VERBS_ME",
            V.EN_REQUEST_VERBS_ME,
            "patients with asthma; {} me their CT scans",
            _request,
        ),
        ("EN_REQUEST_VERBS", V.EN_REQUEST_VERBS, "patients with asthma; {} their CT scans", _request),
        ("EN_REQUEST_WANT", V.EN_REQUEST_WANT, "patients with asthma; {} their CT scans", _request),
        (
            "EN_REQUEST_POSSESSIVES",
            V.EN_REQUEST_POSSESSIVES,
            "patients with asthma and {} CT scans",
            _request,
        ),
        ("EN_REQUEST_IMAGES", V.EN_REQUEST_IMAGES, "patients with asthma and their {}", _request),
        ("KO_REQUEST_HEADS", V.KO_REQUEST_HEADS, "천식 {}의 흉부 CT 영상", _ko_request),
        ("KO_REQUEST_PRONOUNS", V.KO_REQUEST_PRONOUNS, "천식 진단받은 환자, {}의 흉부 CT 영상", _ko_request),
        ("KO_REQUEST_VERBS", V.KO_REQUEST_VERBS, "천식 환자 CT 영상을 {}줘", _ko_request_verb),
        ("KO_REQUEST_IMAGES", V.KO_REQUEST_IMAGES, "천식 환자의 {}", _ko_request),
    ]
    for row, pattern, tmpl, check in requests:
        out += [(row, tmpl.format(s), check) for s in samples(pattern)]
    return out


CASES = _cases()


@pytest.mark.parametrize(("row", "sentence", "check"), CASES, ids=[f"{r}: {s}" for r, s, _ in CASES])
def test_every_pattern_alternative_fires(row: str, sentence: str, check: Check) -> None:
    found = items(sentence)
    if sentence in SHADOWED:
        kind, text = SHADOWED[sentence]
        assert not any(check(it) for it in found)
        assert any(it.kind is kind and it.text == text for it in found)
    else:
        assert any(check(it) for it in found), [(it.kind.value, it.text) for it in found]


def test_every_pattern_row_has_a_live_alternative() -> None:
    live = {row for row, sentence, _ in CASES if sentence not in SHADOWED}
    assert live == {row for row, _, _ in CASES}
    assert set(SHADOWED) <= {sentence for _, sentence, _ in CASES}


# ------------------------------------------------------------ words no recogniser claimed (leftovers)
def _leftover(sentence: str, word: str) -> Item:
    [it] = [it for it in items(sentence) if it.text.lower() == word.lower()]
    return it


# English leftovers are classified in this order: conjunctions, boundaries, finding verbs, verbs,
# prepositions, pronouns, fillers. A word in two classes is read as the earlier one; words the patterns
# above claim (windows, verbs such as 'had', numbers) never reach the classifier.
EN_CLAIMED_BEFORE: dict[str, ItemKind] = {
    **dict.fromkeys(["had", "has", "have", "having", "with"], ItemKind.verb),  # EN_GENERIC_VERBS
    **dict.fromkeys(["afterwards", "later", "subsequently", "then"], ItemKind.window),
    "one": ItemKind.number,
    "underwent": ItemKind.event,  # EN_EVENT_WORDS: a procedure verb
}


@pytest.mark.parametrize(
    ("table", "word", "kind"),
    [("EN_CONJ", w, ItemKind.conj) for w in sorted(V.EN_CONJ) if w not in (",", "/")]
    + [("EN_BOUNDARY_WORDS", w, ItemKind.boundary) for w in sorted(V.EN_BOUNDARY_WORDS - {";"})]
    + [("EN_FINDING_VERBS", w, ItemKind.verb) for w in sorted(V.EN_FINDING_VERBS)]
    + [("EN_VERBS", w, ItemKind.verb) for w in sorted(V.EN_VERBS - {"receive", "receives"})]
    + [("EN_PREP", w, ItemKind.prep) for w in sorted(V.EN_PREP)]
    + [("EN_PRONOUNS", w, ItemKind.pronoun) for w in sorted(V.EN_PRONOUNS)]
    + [("EN_FILLERS", w, ItemKind.filler) for w in sorted(V.EN_FILLERS - {"cohort's"})],
)
def test_english_leftover_words(table: str, word: str, kind: ItemKind) -> None:
    earlier = [
        (V.EN_CONJ, ItemKind.conj),
        (V.EN_BOUNDARY_WORDS, ItemKind.boundary),
        (V.EN_FINDING_VERBS | V.EN_VERBS, ItemKind.verb),
        (V.EN_PREP, ItemKind.prep),
        (V.EN_PRONOUNS, ItemKind.pronoun),
    ]
    expected = EN_CLAIMED_BEFORE.get(word) or next((k for ws, k in earlier if word in ws), kind)
    it = _leftover(f"asthma {word} copd", word)
    assert it.kind is expected
    if it.kind is ItemKind.conj:
        assert it.data_as(ConjData).op == V.EN_CONJ[word]
    if it.kind is ItemKind.prep:
        assert it.data_as(PrepData).word == word
    if table == "EN_FINDING_VERBS":
        assert it.data_as(VerbData).finding


def test_english_words_typo_repair_reads_as_another() -> None:
    """'receive(s)' are one edit from 'received' and are read as it before classification."""
    texts = [(it.kind, it.text) for it in items("patients receive asthma")]
    assert (ItemKind.verb, "received") in texts


# Korean leftovers: conjunctions, clause endings, '모두', fillers; then particles and verb forms.
KO_CLAIMED_BEFORE: dict[str, ItemKind] = {
    "먼저": ItemKind.window,
    "이후": ItemKind.window,
    "받은후": ItemKind.end,  # '받은' + the window '후'
    "전부의": ItemKind.all,  # '전부' + the particle '의'
}


@pytest.mark.parametrize(
    ("table", "word", "kind"),
    [("KO_CONJ", w, ItemKind.conj) for w in sorted(V.KO_CONJ) if w != ","]
    + [("KO_ENDERS", w, ItemKind.end) for w in sorted(V.KO_ENDERS)]
    + [("KO_ALL", w, ItemKind.all) for w in sorted(V.KO_ALL)]
    + [("KO_SENTENCE_AND", w, ItemKind.end) for w in sorted(V.KO_SENTENCE_AND)]
    + [("KO_FILLERS", w, ItemKind.filler) for w in sorted(V.KO_FILLERS)],
)
def test_korean_leftover_words(table: str, word: str, kind: ItemKind) -> None:
    found = items(f"천식 {word}")
    event_words = [it for it in found if it.kind is ItemKind.event]
    if event_words:  # '진단받은', '시행된': the event word claims its noun, the ending is left
        assert table == "KO_ENDERS" and found[-1].kind is ItemKind.end
        return
    expected = KO_CLAIMED_BEFORE.get(word) or next(
        (
            k
            for ws, k in ((V.KO_CONJ, ItemKind.conj), (V.KO_ENDERS, ItemKind.end), (V.KO_ALL, ItemKind.all))
            if word in ws
        ),
        kind,
    )
    assert found[1].kind is expected, [(it.kind.value, it.text) for it in found]
    if found[1].kind is ItemKind.end:
        assert found[1].data_as(EndData).head == (word in V.KO_HEAD)


@pytest.mark.parametrize("josa", sorted(V.KO_PARTICLE_CONJ))
def test_korean_particle_conjunctions(josa: str) -> None:
    needs = dict(V.JOSA)[josa]
    stem = "사르코이드증" if needs == "C" else "사르코이드"
    found = items(f"{stem}{josa} 간질")
    if josa == "하고":  # '…하고' is first a verb form ('진단하고'): it ends the clause
        assert found[0].kind is ItemKind.end
        return
    assert [(it.kind, it.text) for it in found[:2]] == [(ItemKind.unknown, stem), (ItemKind.conj, josa)]
    assert found[1].data_as(ConjData).op == V.KO_PARTICLE_CONJ[josa]


@pytest.mark.parametrize("josa,needs", V.JOSA)
def test_every_particle_is_stripped(josa: str, needs: str) -> None:
    stem = "사르코이드증" if needs in ("C", "") else "사르코이드"
    assert strip_josa(stem + josa) == (stem, josa)


@pytest.mark.parametrize("word", sorted(V.JOSA_PROTECTED))
def test_protected_words_keep_their_ending(word: str) -> None:
    assert strip_josa(word) == (word, "")


@pytest.mark.parametrize("word", sorted(V.PEOPLE_WORDS))
def test_an_unknown_phrase_before_people_is_a_mention(word: str) -> None:
    it = _leftover(f"blue hair {word}", "blue hair")
    assert it.data_as(UnknownData).head


@pytest.mark.parametrize("word", sorted(V.PARTICIPLES))
def test_a_participle_after_a_mention_belongs_to_it(word: str) -> None:
    it = _leftover(f"metformin {word} in 2023", word)
    assert it.data_as(VerbData).participle


@pytest.mark.parametrize("word", sorted(V.LAST_WORDS))
def test_last_words_before_a_mention_are_asked_back(word: str) -> None:
    sentence = (
        f"{word} 당화혈색소 7% 이상 환자" if re.search(r"[가-힣]", word) else f"the {word} HbA1c above 7%"
    )
    it = _leftover(sentence, word)
    assert it.kind is ItemKind.vague and it.data_as(AskData).what == "unsupported"


@pytest.mark.parametrize("word", sorted(V.EN_HINT_DRUG_OR_PROCEDURE_VERBS))
def test_an_unknown_mention_after_these_verbs_is_asked_drug_or_procedure(word: str) -> None:
    r = parse(f"patients who {word} zorblaxin", today=TODAY)
    assert [c.question for c in r.clarifications] == ["Is “zorblaxin” a drug or a procedure?"]


@pytest.mark.parametrize("word", sorted(V.EN_VAGUE_NOUNS))
def test_vague_nouns_are_no_mention(word: str) -> None:
    assert not plausible_mention(f"blue {word}")


@pytest.mark.parametrize("word", sorted(V.EN_NAME_WORDS))
def test_name_words_may_sit_inside_a_mention(word: str) -> None:
    assert plausible_mention(f"fracture {word} rib")


@pytest.mark.parametrize("word,kind", sorted(V.NAME_KIND_WORDS.items()))
def test_name_kind_words(word: str, kind: str) -> None:
    sentence = (
        f"{word}명에 '우회' 포함된 환자" if re.search(r"[가-힣]", word) else f"{word} name contains 'bypass'"
    )
    [name] = [it for it in items(sentence) if it.kind is ItemKind.name]
    assert name.data_as(NameData).kind == kind


@pytest.mark.parametrize("word", sorted(V.EN_GRAMMAR_WORDS))
def test_english_typos_are_repaired_to_every_grammar_word(word: str) -> None:
    typo = word[0] + word  # one edit away: 'ddiagnosed'
    assert repair_typos(f"patients {typo} asthma") == (f"patients {word} asthma", [(typo, word)])


@pytest.mark.parametrize(
    ("sentence", "repaired"),
    [
        # a real English word is never turned into another word
        ("Inclusion rule 1: asthma", "Inclusion rule 1: asthma"),
        ("patients with undiagnosed hypertension", "patients with undiagnosed hypertension"),
        ("untreated asthma", "untreated asthma"),
        ("trial patients", "trial patients"),
        ("picked up", "picked up"),
        # only moved onto the form the readings know, or a misspelling repaired
        ("death in 2023", "deaths in 2023"),
        ("pnuemonia in 2023", "pneumonia in 2023"),
        ("brest cancer", "breast cancer"),
    ],
)
def test_english_typo_repair_leaves_real_words(sentence: str, repaired: str) -> None:
    assert repair_typos(sentence)[0] == repaired


@pytest.mark.parametrize("typo,fix", sorted(V.KO_TYPOS.items()))
def test_korean_typos_are_read_as_their_fix(typo: str, fix: str) -> None:
    r = recognise(f"{typo} 환자", "ko", TODAY)
    assert r.notes == [f"“{typo}”을(를) “{fix}”(으)로 읽었습니다"]


@pytest.mark.parametrize(
    ("table", "word"), [("EN", w) for w in V.EN_COUNT_QUALIFIERS] + [("KO", w) for w in V.KO_COUNT_QUALIFIERS]
)
def test_count_qualifiers(table: str, word: str) -> None:
    if table == "EN":
        type_, shift = V.EN_COUNT_QUALIFIERS[word]
        sentence = f"patients with asthma {word} 3 times"
    else:
        type_, shift = V.KO_COUNT_QUALIFIERS[word]
        sentence = f"천식 3회 {word} 진단된 환자"
    [count] = [it for it in items(sentence) if it.kind is ItemKind.occurrence]
    assert count.data_as(CountData) == CountData(type_, 3 + shift, post=True)


def _compare(sentence: str) -> list[CompareData]:
    return [it.data_as(CompareData) for it in items(sentence) if it.kind is ItemKind.compare]


@pytest.mark.parametrize("word,op", sorted(V.OPS_EN.items()))
def test_comparison_words(word: str, op: str) -> None:
    assert [c.op for c in _compare(f"patients with HbA1c {word} 7%")] == [op]


@pytest.mark.parametrize("word,op", sorted(V.POST_EN.items()))
def test_comparison_words_after_the_number(word: str, op: str) -> None:
    assert [c.op for c in _compare(f"patients with HbA1c 7% or {word}")] == [op]


@pytest.mark.parametrize("word,op", sorted(V.KO_OPS.items()))
def test_korean_comparison_words(word: str, op: str) -> None:
    assert [c.op for c in _compare(f"당화혈색소 7% {word} 환자")] == [op]


@pytest.mark.parametrize("written,unit", sorted(V.UNIT_SPELLINGS.items()))
def test_unit_spellings(written: str, unit: str) -> None:
    korean = re.search(r"[가-힣]", written)
    sentence = f"당화혈색소 7{written} 이상 환자" if korean else f"patients with HbA1c above 7 {written}"
    assert [c.unit for c in _compare(sentence)] == [unit]


@pytest.mark.parametrize("name,month", sorted(V.MONTHS.items()))
def test_month_names(name: str, month: int) -> None:
    found = items(f"patients diagnosed with asthma in {name} 2023")
    assert [it.data_as(DateData).start for it in found if it.kind is ItemKind.date] == [date(2023, month, 1)]


@pytest.mark.parametrize("word,decade", sorted(V.DECADES.items()))
def test_decade_words(word: str, decade: int) -> None:
    ages = [
        it.data_as(AgeData)
        for it in items(f"patients in their {word} with asthma")
        if it.kind is ItemKind.age
    ]
    assert ages == [AgeData(decade, decade + 9)]


def test_every_event_kind_has_a_domain_a_specificity_and_an_event_word() -> None:
    words = {k for _, k, _ in V.EN_EVENT_WORDS} | {k for _, k in V.KO_EVENT_WORDS}
    assert set(V.KIND_DOMAIN) == set(V.SPECIFICITY) == words | {"observation"}
    assert set(V.VISIT_KIND_IDS) == V.VISIT_KINDS
