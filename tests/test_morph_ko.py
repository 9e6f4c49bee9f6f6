"""Korean through Kiwi (``nlq/morph.py``): the morphemes and lemmas the grammar reads, and every reading
that rests on them, pinned with exact specs.

Why a table per layer: the morphology layer is a third-party model; if an upgrade reads a word
differently, the first table says which word and how, before any cohort changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from cohort_engine.nlq.morph import analyse, read_word
from cohort_engine.nlq.parser import parse
from cohort_engine.spec import CohortSpec

TODAY = date(2024, 6, 30)


def _word(sentence: str, word: str):  # noqa: ANN202 - WordReading, read once per row
    start = sentence.index(word)
    return read_word(analyse(sentence), start, start + len(word))


# ---------------------------------------------------------------- the token layer
@pytest.mark.parametrize(
    "sentence,word,lemma,aux",
    [
        ("65세를 넘긴 환자", "넘긴", "넘기다", False),
        ("외래를 다녀와서 입원한 환자", "다녀와서", "다녀오다", False),
        ("스타틴을 복용하고 나서 진단받은 환자", "복용하고", "복용하다", False),
        ("스타틴을 복용하고 나서 진단받은 환자", "나서", "나다", True),
        ("당뇨로 진단받았는데 처방은 없는 환자", "진단받았는데", "진단받다", False),
        ("백신을 맞은 환자", "맞은", "맞다", False),
        ("스타틴을 먹은 환자", "먹은", "먹다", False),
        ("메트포르민을 처방받은 환자", "처방받은", "처방받다", False),
        ("위절제술을 시행한 환자", "시행한", "시행하다", False),
        ("올해 들어 진단받은 환자", "들어", "들다", False),
        ("LDL이 좋아진 환자", "좋아진", "좋다", False),  # 좋 + 아 + 지(VX): the main predicate
    ],
)
def test_predicates_have_their_dictionary_form(sentence: str, word: str, lemma: str, aux: bool) -> None:
    reading = _word(sentence, word)
    assert (reading.lemma, reading.aux, reading.particles) == (lemma, aux, ())


@pytest.mark.parametrize(
    "sentence,word,stem,particles",
    [
        ("메트포르민은 처방받은 적 없는 환자", "메트포르민은", "메트포르민", ("은",)),
        ("사르코이드증이 있는 환자", "사르코이드증이", "사르코이드증", ("이",)),
        ("심부전으로 입원한 환자", "심부전으로", "심부전", ("으로",)),
        ("응급실에서 진료받은 환자", "응급실에서", "응급실", ("에서",)),
        ("2023년부터 2024년까지", "2023년부터", "2023년", ("부터",)),
        ("2023년부터 2024년까지", "2024년까지", "2024년", ("까지",)),
        ("위암의 수술", "위암의", "위암", ("의",)),
        ("고혈압과 당뇨병이 있는 환자", "고혈압과", "고혈압", ("과",)),
        ("폐렴이나 독감에 걸린 환자", "폐렴이나", "폐렴", ("이나",)),
        ("PCI를 받은 환자", "PCI를", "PCI", ("를",)),
        ("임산부인 환자", "임산부인", "임산부", ("이", "ᆫ")),  # the copula stays with the noun
    ],
)
def test_particles_come_off_as_kiwi_reads_them(
    sentence: str, word: str, stem: str, particles: tuple[str, ...]
) -> None:
    reading = _word(sentence, word)
    start = sentence.index(word)
    assert (sentence[start : reading.stem_end], reading.particles, reading.lemma) == (stem, particles, "")


@pytest.mark.parametrize(
    "sentence,word,function",
    [
        ("처음 진단받은 게 2022년인 환자", "게", True),  # 것 + 이: no content
        ("처음 진단받은 게 2022년인 환자", "환자", False),
    ],
)
def test_function_words(sentence: str, word: str, function: bool) -> None:
    assert _word(sentence, word).function is function


@pytest.mark.parametrize(
    "sentence,expected",
    [
        ("심근경색 환자, 단 뇌졸중은 제외", "심근경색/NNP 환자/NNG ,/SP 단/MM 뇌졸중/NNP 은/JX 제외/NNG"),
        ("다만 뇌졸중은 제외", "다만/MAG 뇌졸중/NNP 은/JX 제외/NNG"),
        # clinical names Kiwi alone mis-splits (니트 + 로, 펜타 + 이 + 니) come from the lexicon as user nouns
        ("니트로를 처방받은 환자", "니트로/NNP 를/JKO 처방/NNG 받/VV 은/ETM 환자/NNG"),
        ("펜타닐을 투여받은 환자", "펜타닐/NNP 을/JKO 투여/NNG 받/XSV 은/ETM 환자/NNG"),
        ("65세를 넘긴 환자", "65/SN 세/NNB 를/JKO 넘기/VV ᆫ/ETM 환자/NNG"),
    ],
)
def test_tags(sentence: str, expected: str) -> None:
    assert " ".join(f"{m.form}/{m.tag}" for m in analyse(sentence)) == expected


def test_offsets_index_the_sentence_itself() -> None:
    sentence = "2형 당뇨로 진단받았는데 메트포르민은 한 번도 처방받은 적 없는 환자"
    for m in analyse(sentence):
        if m.tag in ("NNG", "NNP", "SN", "JKB", "JX"):
            assert sentence[m.start : m.end] == m.form, m


# ---------------------------------------------------------------- the readings that rest on it
MI = {"terms": ["심근경색"]}
MI_2023 = {"start": "2023-01-01", "end": "2023-12-31"}


@pytest.mark.parametrize(
    "sentence,spec",
    [
        # an age, then a verb of exceeding (넘다/넘기다): strictly more, as '65세 초과'
        (
            "65세를 넘긴 심근경색 환자",
            {"index": {"domain": "condition", "concepts": MI}, "demographics": {"age_min": 66}},
        ),
        # '-고 나서' = after; an explicit window right after it says how long
        (
            "스타틴을 복용하고 나서 30일 이내에 심근경색으로 진단받은 환자",
            {
                "index": {"domain": "drug", "concepts": {"terms": ["스타틴"]}},
                "criteria": [
                    {
                        "domain": "condition",
                        "concepts": MI,
                        "label": "diagnosis",
                        "window": {"start": 0, "end": 30},
                    }
                ],
            },
        ),
        (
            "스타틴을 복용하고 나서 심근경색으로 진단받은 환자",
            {
                "index": {"domain": "drug", "concepts": {"terms": ["스타틴"]}},
                "criteria": [
                    {"domain": "condition", "concepts": MI, "label": "diagnosis", "window": {"start": 0}}
                ],
            },
        ),
        (
            "심근경색으로 진단받고 나서 90일 이내에 스타틴을 먹은 환자",
            {
                "index": {"domain": "condition", "concepts": MI},
                "criteria": [
                    {
                        "domain": "drug",
                        "concepts": {"terms": ["스타틴"]},
                        "label": "drug",
                        "window": {"start": 0, "end": 90},
                    }
                ],
            },
        ),
        # 단 / 다만 = "but": a boundary, no rule of its own
        *[
            (
                f"2023년에 심근경색으로 진단받은 환자, {but} 뇌졸중 병력은 제외",
                {
                    "index": {"domain": "condition", "concepts": MI, "date_range": MI_2023},
                    "criteria": [
                        {
                            "domain": "condition",
                            "concepts": {"terms": ["뇌졸중"]},
                            "label": "no_diagnosis",
                            "window": {"end": -1},
                            "occurrence": {"type": "exactly", "count": 0},
                        }
                    ],
                },
            )
            for but in ("단", "다만")
        ],
        # '단 한 번도' is "not even once", not "but"
        (
            "아스피린을 단 한 번도 처방받은 적 없는 심근경색 환자",
            {
                "index": {"domain": "condition", "concepts": MI},
                "criteria": [
                    {
                        "domain": "drug",
                        "concepts": {"terms": ["아스피린"]},
                        "label": "no_drug",
                        "occurrence": {"type": "exactly", "count": 0},
                    }
                ],
            },
        ),
        # any inflection of a clause verb closes the clause ('받았는데')
        (
            "고혈압으로 진단받았는데 아스피린은 한 번도 처방받은 적 없는 환자",
            {
                "index": {"domain": "condition", "concepts": {"terms": ["고혈압"]}},
                "criteria": [
                    {
                        "domain": "drug",
                        "concepts": {"terms": ["아스피린"]},
                        "label": "no_drug",
                        "occurrence": {"type": "exactly", "count": 0},
                    }
                ],
            },
        ),
        # '게' (것 + 이) carries nothing: the year is the first diagnosis's
        (
            "심근경색을 처음 진단받은 게 2021년인 환자",
            {
                "index": {
                    "domain": "condition",
                    "concepts": MI,
                    "date_range": {"start": "2021-01-01", "end": "2021-12-31"},
                    "first_occurrence": True,
                }
            },
        ),
        # '들어' is a verb, never part of a clinical name
        (
            "올해 들어 뇌졸중으로 진단받은 환자",
            {
                "index": {
                    "domain": "condition",
                    "concepts": {"terms": ["뇌졸중"]},
                    "date_range": {"start": "2024-01-01", "end": "2024-06-30"},
                }
            },
        ),
        # '다음날까지' = the anchor's day and the next (0..1); '그 후 다음날까지' the same
        (
            "2023년에 PCI를 받은 환자 중 다음날까지 응급실을 방문한 환자",
            {
                "index": {"domain": "procedure", "concepts": {"terms": ["PCI"]}, "date_range": MI_2023},
                "criteria": [
                    {
                        "domain": "visit",
                        "visit_concept_ids": [9203, 262],
                        "label": "er_visit",
                        "window": {"start": 0, "end": 1},
                    }
                ],
            },
        ),
        (
            "2023년에 심근경색 진단을 받고 그 후 다음날까지 사망한 환자",
            {
                "index": {"domain": "condition", "concepts": MI, "date_range": MI_2023},
                "criteria": [{"domain": "death", "label": "death", "window": {"start": 0, "end": 1}}],
            },
        ),
        # '그 수술' names the surgery just described, whose kind comes from its concept
        (
            "위암 진단 후 30일 이내에 위절제술을 받았고, 그 수술 후 90일 이내에 옥살리플라틴을 처방받은 환자",
            {
                "index": {"domain": "condition", "concepts": {"terms": ["위암"]}},
                "criteria": [
                    {
                        "domain": "procedure",
                        "concepts": {"terms": ["위절제술"]},
                        "label": "procedure",
                        "window": {"start": 0, "end": 30},
                    },
                    {
                        "domain": "drug",
                        "concepts": {"terms": ["옥살리플라틴"]},
                        "label": "drug",
                        "window": {"start": 0, "end": 90, "anchor": "procedure"},
                    },
                ],
            },
        ),
        # a clinical name Kiwi alone would split (니트 + 로) stays one mention
        (
            "니트로를 처방받은 협심증 환자",
            {
                "index": {"domain": "condition", "concepts": {"terms": ["협심증"]}},
                "criteria": [{"domain": "drug", "concepts": {"terms": ["니트로"]}, "label": "drug"}],
            },
        ),
    ],
)
def test_korean_readings(sentence: str, spec: dict) -> None:
    result = parse(sentence, today=TODAY)
    assert result.status == "ok", (result.message, [c.question for c in result.clarifications])
    assert result.spec is not None
    wanted = CohortSpec.model_validate({**spec, "language": "ko"})
    assert result.spec.model_dump(mode="json", exclude={"title"}) == wanted.model_dump(
        mode="json", exclude={"title"}
    )


@pytest.mark.parametrize(
    "sentence,span",
    [
        ("스타틴 복용 후 LDL이 좋아진 환자", "좋아진"),  # a verb no rule expresses: asked, never a mention
    ],
)
def test_unknown_verbs_are_asked_about(sentence: str, span: str) -> None:
    result = parse(sentence, today=TODAY)
    assert result.status == "clarify"
    assert any(c.span == span for c in result.clarifications), result.clarifications


def test_english_and_help_never_load_kiwi() -> None:
    """Loading Kiwi costs seconds: `cohort --help` and English questions must not pay for it."""
    probe = (
        "import json, sys\n"
        "from datetime import date\n"
        "from cohort_engine.nlq.parser import parse\n"
        "from cohort_engine.nlq import morph\n"
        "parse('patients diagnosed with MI in 2023', date(2024, 6, 30))\n"
        "print(json.dumps(['kiwipiepy' in sys.modules, morph.loaded()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, False]
    helped = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom cohort_engine.cli import app\nprint('kiwipiepy' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert helped.stdout.strip() == "False"
