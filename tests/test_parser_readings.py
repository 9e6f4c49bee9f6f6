"""Readings that generalise beyond the corpus (issue 10, driven by the open split): request framing,
clinician shorthand, verbs of care, date references, numbers as written. One row per reading: the
sentence, then the spec fields that reading decides (a dotted path → the expected value)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cohort_engine.nlq.parser import parse

TODAY = date(2025, 7, 1)


def _at(spec: dict[str, Any], path: str) -> Any:
    node: Any = spec
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


READINGS: list[tuple[str, dict[str, Any]]] = [
    # --- English: ages written as clinicians write them
    (
        "80+ w/ pneumonia seen in the ER the same day",
        {
            "demographics.age_min": 80,
            "criteria.0.domain": "visit",
            "criteria.0.window.start": 0,
            "criteria.0.window.end": 0,
            "criteria.0.occurrence.count": 1,
        },
    ),
    ("men 50–69 y/o with PSA > 3 ng/mL", {"demographics.age_min": 50, "demographics.age_max": 69}),
    ("hypothyroid women >=50 dx'd in 2023", {"demographics.age_min": 50, "demographics.sexes": ["female"]}),
    (
        "strep throat patients given penicillin V within 2 days of diagnosis, under 18",
        {"demographics.age_max": 17},
    ),
    ("ulcerative colitis patients who were in their 40s when diagnosed", {"demographics.age_min": 40}),
    (
        "patients diagnosed with depression when they were between 18 and 30 years old",
        {"demographics.age_min": 18, "demographics.age_max": 30},
    ),
    ("men and women aged 50+ with hypertension", {"demographics.age_min": 50}),
    # an N+ alone between commas describes the patients; M/F alone is the sex; 'N yo' an exact age
    ("new-onset afib, 75+, never on warfarin", {"demographics.age_min": 75, "index.first_occurrence": True}),
    (
        "72 yo F with afib",
        {"demographics.age_min": 72, "demographics.age_max": 72, "demographics.sexes": ["female"]},
    ),
    ("M pts with MI in 2023", {"demographics.sexes": ["male"], "index.date_range.start": "2023-01-01"}),
    ("F 환자 중 당뇨", {"demographics.sexes": ["female"], "index.concepts.terms": ["당뇨"]}),
    # a code family with a wildcard is the code ('I21.x', 'E11.xx', 'I63*'), and a code makes it a question
    ("pts with I21.x in 2023", {"index.concepts.terms": ["I21"], "index.date_range.end": "2023-12-31"}),
    ("E11.xx pts on metformin", {"index.concepts.terms": ["E11"], "criteria.0.domain": "drug"}),
    # 'hx' inside Korean text is 병력 (up to the day before)
    (
        "peptic ulcer hx 있는 GI bleeding pt",
        {"index.concepts.terms": ["GI bleeding"], "criteria.0.window.end": -1},
    ),
    # a written code range is every code in it; a bracket with a code-like word is never dropped
    (
        "PCI pts free of GI bleeding (K92.0-K92.2, K25.4) in the 30 days after",
        {"criteria.0.concepts.terms": ["K92.0", "K92.1", "K92.2", "K25.4"], "criteria.0.occurrence.count": 0},
    ),
    ("pts with IHD (I20-I25)", {"index.concepts.terms": ["I20", "I21", "I22", "I23", "I24", "I25"]}),
    # 'prior' says when its own event was; the window after the list is the next event's
    (
        "CABG pts with a prior diagnosis of type 2 DM, and an acute MI in the 14 days before the bypass",
        {"criteria.0.window.start": None, "criteria.0.window.end": -1, "criteria.1.window.start": -14},
    ),
    # 'the stent' is the drug-eluting stent named before (its head noun), not a second procedure
    (
        "pts s/p drug-eluting stent who got clopidogrel within a week after the stent",
        {
            "index.concepts.terms": ["drug-eluting stent"],
            "criteria.0.domain": "drug",
            "criteria.0.window.end": 7,
        },
    ),
    # a bare 'dx' that only says when is the diagnosis named by its terms
    (
        "chest pain seen in the ER in the past 90 days (dx same day as the ER visit)",
        {"index.domain": "visit", "criteria.0.concepts.terms": ["chest pain"], "criteria.0.window.end": 0},
    ),
    # Korean: two studies joined by '와' are both required; '진단일에', '~던 날에' are that same day
    (
        "뇌경색 진단 당일 두부 CT와 뇌 MRI를 모두 촬영한 환자",
        {"criteria.0.imaging.modalities": ["CT"], "criteria.1.imaging.modalities": ["MR"]},
    ),
    ("뇌경색 진단 당일 두부 CT나 뇌 MRI를 촬영한 환자", {"criteria.0.imaging.modalities": ["CT", "MR"]}),
    (
        "폐렴 진단일에 응급실을 방문한 80세 이상 환자",
        {"criteria.0.domain": "visit", "criteria.0.window.start": 0, "criteria.0.window.end": 0},
    ),
    (
        "혈색소가 10 g/dL 미만이었던 날에 시스플라틴을 투여받은 환자",
        {"index.domain": "measurement", "criteria.0.domain": "drug", "criteria.0.window.end": 0},
    ),
    # windows and dates as people type them
    (
        "GI bleed pts who were on celecoxib in the 30 days leading up to it",
        {"criteria.0.domain": "drug", "criteria.0.window.start": -30, "criteria.0.window.end": 0},
    ),
    (
        "CKD pts with an HbA1c over 8% in the 3 months (90 days) leading up to the dx",
        {"criteria.0.window.start": -90, "criteria.0.window.end": 0},
    ),
    ("골관절염 진단 후 2년(730일) 이내에 나프록센을 처방받은 환자", {"criteria.0.window.end": 730}),
    (
        "pneumonia in pts aged 80 or more who were seen in the ER that day",
        {"criteria.0.domain": "visit", "criteria.0.window.start": 0, "criteria.0.window.end": 0},
    ),
    (
        "pts admitted last year w/ a stroke dx on the admission day",
        {"index.domain": "visit", "criteria.0.window.start": 0, "criteria.0.window.end": 0},
    ),
    (
        "AF patients who went on to have an ischemic stroke within 1 year after the AF dx",
        {"criteria.0.window.end": 365},
    ),
    (
        "folks on atorvastatin w/ LDL > 130 somewhere between 3 months and 1 year after a dose",
        {"criteria.0.window.start": 90},
    ),
    (
        "who got a brain MRI last month",
        {"index.date_range.start": "2025-06-01", "index.date_range.end": "2025-06-30"},
    ),
    ("COPD pts who died last yr", {"index.domain": "death", "index.date_range.start": "2024-01-01"}),
    (
        "anyone hospitalized 2 or more times",
        {"criteria.0.occurrence.type": "at_least", "criteria.0.occurrence.count": 2},
    ),
    ("metformin users with an HbA1c above 8 within 3 months after starting it", {"index.domain": "drug"}),
    ("TG ≥ 250 mg/dL and HDL under 40 mg/dL drawn the same day", {"criteria.0.window.end": 0}),
    # protocol-style lists: labels, bullets and numbered items, ages at the diagnosis, exclusions by age
    (
        "Ischemic stroke pts (I63.x), age 18–79 at dx; inclusion: CT head on the day of the stroke diagnosis",
        {"demographics.age_min": 18, "demographics.age_max": 79, "criteria.0.imaging.modalities": ["CT"]},
    ),
    (
        "HF cohort (I50.x):\n• furosemide given within 3 days after dx\n• over 70 at dx",
        {"index.concepts.terms": ["I50"], "demographics.age_min": 71, "criteria.0.window.end": 3},
    ),
    (
        "AF dx\n- warfarin within 30 days after the AF diagnosis\n- INR > 3.0 within 90 days after the AF dx",
        {"criteria.0.domain": "drug", "criteria.1.domain": "measurement", "criteria.1.window.end": 90},
    ),
    (
        "Study population: 1) first-ever gastric cancer dx (C16.x) = index 2) CT abdomen within 30 days",
        {"index.first_occurrence": True, "criteria.0.imaging.modalities": ["CT"]},
    ),
    (
        "incident gastric cancer: first-ever gastric cancer dx (C16) = index",
        {"index.first_occurrence": True, "criteria": []},
    ),
    ("Appendicitis cases, excluding pts over 65", {"demographics.age_max": 65, "criteria": []}),
    ("diabetics excluding patients 75 and older", {"demographics.age_max": 74}),
    ("diabetics, excluding anyone under 40", {"demographics.age_min": 40}),
    # a code written before its name is the code; a date or dose names its event; a decade
    ("patients with an E11 diabetes dx in 2023", {"index.concepts.terms": ["E11"]}),
    ("C34 폐암 환자", {"index.concepts.terms": ["C34"]}),
    (
        "GI hemorrhage cases with any clopidogrel exposure before the bleed date",
        {"criteria.0.domain": "drug", "criteria.0.window.end": 0, "criteria.0.window.anchor": "index"},
    ),
    (
        "pts w/ 3 or more nitrofurantoin fills during the 1990s (1990–1999)",
        {"index.date_range.start": "1990-01-01", "index.date_range.end": "1999-12-31"},
    ),
    # 'the bleeding diagnosis' refers back to the hemorrhage named by codes
    (
        "GI hemorrhage (K92.2) or gastric ulcer with hemorrhage (K25.4) patients who got pantoprazole within "
        "1 day after the bleeding diagnosis",
        {"index.concepts.terms": ["K92.2", "K25.4"], "criteria.0.domain": "drug"},
    ),
    # Korean: '그날' is that same day; the same event named again is that event; a bare '촬영' in
    # brackets dates the one study named; '…도 받고 …도 찍은' share the window
    (
        "2022년 하반기 응급실 방문 당일 복통 진단 받고 그날 abdomen CT 찍은 환자",
        {"criteria.1.domain": "imaging", "criteria.1.window.start": 0, "criteria.1.window.end": 0},
    ),
    (
        "만 18세 미만 천식 환자 중 천식 진단받은 날 응급실로 온 아이들",
        {"index.concepts.terms": ["천식"], "criteria.0.domain": "visit", "criteria.0.window.anchor": "index"},
    ),
    (
        "관상동맥조영술 촬영일에 PCI 받고, 시술 후 7일 이내 clopidogrel 처방된 환자 (2020년 촬영 기준)",
        {"index.imaging.modalities": ["XA"], "index.date_range.start": "2020-01-01"},
    ),
    (
        "응급실 온 날 폐렴 진단도 받고 흉부 X-ray도 찍은 환자",
        {"criteria.0.window.end": 0, "criteria.1.domain": "imaging", "criteria.1.window.end": 0},
    ),
    # 'their first X within N days' / 'X를 처음 … 받은': the person's first-ever X, placed by its window
    (
        "patients with MI who had their first PCI within 30 days",
        {"criteria.0.first_occurrence": True, "criteria.0.window.end": 30},
    ),
    (
        "2022년에 심장초음파를 시행한 환자 중 검사일로부터 30일 이내에 심부전을 처음 진단받은 환자",
        {
            "index.imaging.modalities": ["US"],
            "criteria.0.first_occurrence": True,
            "criteria.0.window.end": 30,
        },
    ),
    (
        "F aged 50-70 with a newly diagnosed DM2 in 2022 (first ever E11 dx) and HbA1c > 8% within 30 days",
        {"index.first_occurrence": True, "criteria.0.domain": "measurement", "criteria.1": "absent"},
    ),
    # imaging: body parts listed with 'or' are one study of any of them; 'plain' X-ray; a dated study on
    # the same day as an event named only as its anchor starts the cohort
    (
        "Patients who died in 2024 and had a CT of the head, chest or abdomen in the 90 days before death",
        {"criteria.0.imaging.body_parts": ["HEAD", "CHEST", "ABDOMEN"], "criteria.0.window.start": -90},
    ),
    ("pts with a head, chest or abdomen CT", {"index.imaging.body_parts": ["HEAD", "CHEST", "ABDOMEN"]}),
    (
        "head CTs from 2023 taken on the same day as an ER visit, pts 65 or older at the time of the scan",
        {
            "index.imaging.modalities": ["CT"],
            "index.date_range.start": "2023-01-01",
            "criteria.0.domain": "visit",
        },
    ),
    (
        "ER patients aged 40 to 64 with a troponin over 0.5 ng/mL on the day of the ER visit or the next day",
        {"index.domain": "visit", "criteria.0.value.op": ">", "criteria.0.window.end": 1},
    ),
    (
        "Warfarin given on a day an INR was drawn",
        {"criteria.0.domain": "drug", "criteria.0.window.end": 0},
    ),
    (
        "Depression (F32.A) patients who have never had a brain MRI, women only",
        {"index.concepts.terms": ["F32.A"]},
    ),
    # Korean: '다음날부터 3일 안에' = 1..3; '1990년대'; '2022년 1월~6월'; '촬영하고' ends a clause; a bare
    # '2000 이상' after a test is a value; the same window said twice is one
    (
        "응급실 다녀간 뒤 다음날부터 3일 안에 응급실 또 온 환자",
        {"criteria.0.window.start": 1, "criteria.0.window.end": 3},
    ),
    (
        "1990년대(1990~1999년)에 처음으로 위장관 출혈 진단받은 환자",
        {"index.date_range.start": "1990-01-01", "index.date_range.end": "1999-12-31"},
    ),
    (
        "2022년 1월~6월에 요통으로 진단받은 40대 환자",
        {"index.date_range.start": "2022-01-01", "index.date_range.end": "2022-06-30"},
    ),
    (
        "뇌경색 진단 당일 head CT 촬영하고 같은 날 alteplase 투여받은 환자",
        {"criteria.0.domain": "imaging", "criteria.1.domain": "drug", "criteria.1.window.end": 0},
    ),
    (
        "심부전 진단 당시 NT-proBNP 2000 이상이었던 환자",
        {"criteria.0.value.op": ">=", "criteria.0.value.value": 2000},
    ),
    ("alteplase 맞은 날 같은 날에 혈전제거술(39.74)까지 받은 환자", {"criteria.0.window.end": 0}),
    # British spellings, 'apart from those who', 'partial or total X', 'X's start date', titles restated
    (
        "acute blood-loss anaemia followed by a colonoscopy within 30 days",
        {"index.concepts.terms": ["acute blood-loss anemia"]},
    ),
    (
        "Gastric cancer pts who had a partial or total gastrectomy within 60 days after the dx, apart "
        "from those who had chemo infusion (99.25) within 90 days after the dx",
        {
            "criteria.0.concepts.terms": ["partial gastrectomy", "total gastrectomy"],
            "criteria.1.occurrence.count": 0,
        },
    ),
    (
        "Patients with an inpatient admission in 2023 who were admitted again 1 to 30 days after that "
        "admission's start date",
        {
            "criteria.0.domain": "visit",
            "criteria.0.window.start": 1,
            "criteria.0.window.anchor": "index",
            "criteria.1": "absent",
        },
    ),
    (
        "Possible HIT screen: heparin exposure with platelets below 150 x10^3/uL within 10 days after it",
        {"index.concepts.terms": ["heparin"], "criteria.0.domain": "measurement"},
    ),
    # batch 8: codes after care nouns, 'blood test', lead-ins, ages 'at that time', 'they were given'
    (
        "At least 6 chemotherapy infusion procedures (99.25) in 2023",
        {"index.concepts.terms": ["99.25"], "criteria.0.occurrence.count": 6},
    ),
    (
        "patients prescribed warfarin who had an INR blood test over 3 within two weeks (14 days) after it",
        {"criteria.0.concepts.terms": ["INR"], "criteria.0.window.end": 14, "criteria.1": "absent"},
    ),
    (
        "심근경색 병력이 있는 상태에서 뇌경색 진단받은 환자들",
        {"index.concepts.terms": ["뇌경색"], "criteria.0.window.end": -1},
    ),
    (
        "I'd like to know which patients were newly diagnosed with high blood pressure in 2023 and were "
        "between 40 and 59 years old at that time",
        {"demographics.age_min": 40, "demographics.age_max": 59, "index.first_occurrence": True},
    ),
    (
        "I'm interested in people whose first-ever GI bleed happened within 30 days after they got celecoxib",
        {"index.concepts.terms": ["celecoxib"], "criteria.0.first_occurrence": True},
    ),
    # batch 8: 'H2 2021', 'inclusive', '(2020년 포함)', '36.1x', '(diagnosis day included)', KO commas
    (
        "Low back pain diagnosed in H2 2021",
        {"index.date_range.start": "2021-07-01", "index.date_range.end": "2021-12-31"},
    ),
    (
        "Men with a whiplash injury recorded between 2015 and 2018 inclusive",
        {"index.date_range.end": "2018-12-31"},
    ),
    (
        "2020년 이전(2020년 포함)에 관상동맥우회술(CABG, 36.1x)을 받고 수술 후 90일 이내에 사망한 환자",
        {"index.date_range.end": "2020-12-31", "criteria.0.domain": "death"},
    ),
    (
        "Colon cancer pts with a CEA above 5 in the 30 days before the diagnosis (diagnosis day included)",
        {"criteria.0.window.start": -30, "criteria.0.window.end": 0},
    ),
    (
        "급성 출혈후 빈혈(D62) 진단 당일 입원, 같은 날 헤모글로빈 8 g/dL 미만",
        {"criteria.0.domain": "visit", "criteria.1.domain": "measurement", "criteria.1.window.end": 0},
    ),
    (
        "당뇨 진단 후 30일 이내 아스피린, 클로피도그렐 처방받은 환자",
        {"criteria.0.concepts.terms": ["아스피린", "클로피도그렐"], "criteria.0.window.end": 30},
    ),
    # batch 8: 'in their whole history' (all time, no request for the record), 'on at least two occasions',
    # 'in the year (365 days) before', 'came back under 7', 'over 50 when diagnosed', KO numbered conditions
    (
        "Patients with exactly one MI diagnosis record in their whole history",
        {"criteria.0.occurrence.type": "exactly"},
    ),
    (
        "Which patients had an ALT result above 40 U/L on at least two occasions",
        {"criteria.0.occurrence.count": 2},
    ),
    (
        "people who had a BMI of 30 or more in the year (365 days) before their diabetes diagnosis",
        {"criteria.0.window.start": -365},
    ),
    ("people whose hemoglobin came back under 7 g/dL", {"index.value.op": "<"}),
    ("women with hypothyroidism over 50 when diagnosed", {"demographics.age_min": 51}),
    (
        "대장암(C18) 진단 환자 중 다음 조건을 모두 만족하는 환자: (1) 진단일 이전 30일 이내 "
        "대장내시경(45.23) 시행, (2) 진단 후 30일 이내 CEA 5 ng/mL 초과",
        {"criteria.0.window.start": -30, "criteria.1.window.end": 30, "criteria.1.value.op": ">"},
    ),
    # '다음 중 하나라도 해당하면 제외: (가) …, (나) …': each item an exclusion
    (
        "2023년 NSTEMI(I21.4) 진단 환자. 다음 중 하나라도 해당하면 제외: (가) 진단 전 CABG(36.1x) 병력, "
        "(나) 진단일로부터 30일 이내 사망",
        {
            "criteria.0.occurrence.count": 0,
            "criteria.0.window.end": -1,
            "criteria.1.domain": "death",
            "criteria.1.occurrence.count": 0,
        },
    ),
    # a window inside the window just given says which part of it is meant
    (
        "appendicitis pts who had a laparoscopic appendectomy within 24 hours of the diagnosis (same day "
        "or the following day)",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 1},
    ),
    # Korean: a value clause ends at '…이었고' / '넘었고'; the next window has its own anchor
    (
        "심부전 진단일에 NT-proBNP 2000 pg/mL 넘었고 진단 후 7일 내 furosemide 받은 환자",
        {"criteria.0.value.op": ">", "criteria.0.window.end": 0, "criteria.1.window.end": 7},
    ),
    (
        "K92.2 진단 당일 Hb 7 g/dL 미만이었고 진단 후 7일 안에 packed RBC 수혈 받은 사람",
        {"criteria.0.value.op": "<", "criteria.1.domain": "procedure", "criteria.1.window.end": 7},
    ),
    # '같은 3일 이내': the window before, from the same anchor
    (
        "위궤양 진단일로부터 3일 이내에 내시경적 지혈술을 받았고, 같은 3일 이내에 수혈도 받은 환자",
        {"criteria.1.window.anchor": "index", "criteria.1.window.end": 3},
    ),
    # '찍은 다음에 1년 안에', '받은 뒤, 생검일로부터 90일 이내에': 'after', then how long after
    (
        "무릎 골관절염 진단받고 knee x-ray 찍은 다음에 1년 안에 TKR 받은 사람",
        {
            "criteria.1.domain": "procedure",
            "criteria.1.window.anchor": "imaging",
            "criteria.1.window.end": 365,
        },
    ),
    (
        "흉부 영상 연구용 코호트: 폐암 진단을 받은 70세 이상 환자",
        {"index.concepts.terms": ["폐암"], "criteria": []},
    ),
    (
        "고지혈증 환자 중 스타틴 계열 약물(아토르바스타틴, 로수바스타틴)을 처방받은 이력이 전혀 없는 환자",
        {"criteria.0.concepts.terms": ["스타틴 계열"], "criteria.0.occurrence.count": 0},
    ),
    # Korean: colloquial '안' before a verb is 'not'
    (
        "STEMI 환자인데 ticagrelor 한 번도 안 쓴 사람들",
        {"criteria.0.domain": "drug", "criteria.0.occurrence.count": 0},
    ),
    (
        "cardiac arrest 진단 당일에 amiodarone 안 들어간 환자",
        {"criteria.0.occurrence.count": 0, "criteria.0.window.end": 0},
    ),
    # --- English: events in order, histories, exclusions, windows
    (
        "MI followed by PCI or CABG within 30 days",
        {"criteria.0.domain": "procedure", "criteria.0.window.start": 0, "criteria.0.window.end": 30},
    ),
    (
        "first-ever atrial fibrillation diagnosis was followed by warfarin within 30 days",
        {"index.first_occurrence": True, "criteria.0.domain": "drug", "criteria.0.window.end": 30},
    ),
    (
        "hx of stroke pts with afib",
        {
            "index.concepts.terms": ["afib"],
            "criteria.0.concepts.terms": ["stroke"],
            "criteria.0.window.end": -1,
        },
    ),
    (
        "s/p CABG pts w/ an ER visit within 30 days after the surgery",
        {"index.concepts.terms": ["CABG"], "criteria.0.domain": "visit", "criteria.0.window.end": 30},
    ),
    (
        "patients who had a total knee replacement in 2023, but leave out anyone who ever had a total hip "
        "replacement",
        {"criteria.0.occurrence.type": "exactly", "criteria.0.occurrence.count": 0},
    ),
    (
        "patients with a creatinine over 2.0 mg/dL who had metformin within the 30 days before that lab",
        {"criteria.0.window.start": -30, "criteria.0.window.end": 0},
    ),
    # --- English: request framing is read past
    (
        "Hi team — I need women aged 50 to 75 who had a colonoscopy in 2023",
        {"index.domain": "procedure", "demographics.sexes": ["female"]},
    ),
    (
        "For a diabetes quality project: patients diagnosed with type 2 diabetes in 2021",
        {"index.concepts.terms": ["type 2 diabetes"], "index.date_range.start": "2021-01-01"},
    ),
    (
        "We're studying outcomes after coronary bypass. Please pull every patient who had a CABG in 2022.",
        {"index.concepts.terms": ["CABG"], "index.date_range.end": "2022-12-31"},
    ),
    # --- an English participle of care is the event of the concept before it
    (
        "patients given heparin on the same day as a CABG performed in 2024",
        {
            "index.concepts.terms": ["CABG"],
            "index.date_range.start": "2024-01-01",
            "criteria.0.domain": "drug",
        },
    ),
    # --- numbers and units as written
    (
        "patients with platelets below 150 x10^3/uL in 2023",
        {"index.value.op": "<", "index.value.value": 150.0, "index.value.unit": "10^3/uL"},
    ),
    ("patients with LDL above 1,500 mg/dL", {"index.value.value": 1500.0}),
    ("patients with a CA 19-9 above 37 U/mL", {"index.value.value": 37.0, "index.value.unit": "U/mL"}),
    # --- a vague word made exact by the sentence itself
    ("young men under 25 with a concussion", {"demographics.age_max": 24, "demographics.sexes": ["male"]}),
    ("80세 이상 고령 폐렴 환자", {"demographics.age_min": 80}),
    ("patients with a high LDL above 160", {"index.value.value": 160.0}),
    # --- two touching periods joined by 'or' are one range
    (
        "patients with an LDL of 190 mg/dL or higher in 2022 or 2023",
        {"index.date_range.start": "2022-01-01", "index.date_range.end": "2023-12-31"},
    ),
    ("2022년 또는 2023년에 폐렴 진단", {"index.date_range.end": "2023-12-31"}),
    # --- lab abbreviations as clinicians capitalise them, in either language
    ("K+ above 5.0 within 30 days after lisinopril", {"criteria.0.concepts.terms": ["K+"]}),
    ("Hb 7 미만 나오고 이틀 안에 수혈한 사람", {"index.concepts.terms": ["Hb"], "index.value.value": 7.0}),
    # --- Korean calendar and counting words
    ("작년 하반기에 대장내시경 받은 50세 이상 환자", {"index.date_range.start": "2024-07-01"}),
    ("최근 석 달 안에 CABG 받은 환자 리스트 좀", {"index.date_range.end": "2025-07-01"}),
    ("2022년에 2형 당뇨 첫 진단된 신환 몇 명이야?", {"index.first_occurrence": True}),
    ("결장암 진단받고 석 달(90일) 안에 결장 절제 수술한 환자", {"criteria.0.window.end": 90}),
    ("고혈압 진단 전후 30일 안에 BMI 30 이상 찍힌 환자", {"criteria.0.value.value": 30.0}),
    (
        "위장관 출혈 진단일 이전 30일 이내에 셀레콕시브, 디클로페낙 중 하나 이상을 처방받은 환자",
        {"criteria.0.concepts.terms": ["셀레콕시브", "디클로페낙"]},
    ),
    # --- Sino-Korean counts, the decade with a copula, common misspellings
    ("CABG 받고 삼십일 안에 사망한 환자", {"criteria.0.domain": "death", "criteria.0.window.end": 30}),
    (
        "40대인데 수축기 혈압 160 이상 나온 적 있는 환자",
        {"demographics.age_min": 40, "demographics.age_max": 49},
    ),
    ("당뇨 진단 이후에 크레티닌 2 넘게 나온 환자", {"criteria.0.concepts.terms": ["크레아티닌"]}),
    # --- shorthand names (lexicon aliases)
    ("breast ca pts who ever received trastuzumab", {"index.concepts.terms": ["breast ca"]}),
    ("asthmatics w/ 2 or more ER visits", {"index.concepts.terms": ["asthmatics"]}),
    ("type 2 diabetics diagnosed in 2024", {"index.concepts.terms": ["type 2 diabetics"], "criteria": []}),
    # --- Korean: formal request endings
    (
        "2022년에 심부전으로 진단된 환자 중 진단일로부터 30일 이내에 심장 초음파 검사를 "
        "시행받은 환자를 추출해 주시기 바랍니다.",
        {"criteria.0.domain": "imaging", "criteria.0.window.end": 30},
    ),
    (
        "2024년 3월 1일부터 열흘 동안 응급실을 방문한 70세 이상 환자의 목록을 요청드립니다.",
        {"index.domain": "visit", "demographics.age_min": 70},
    ),
    # --- Korean: '<event>일' is the date of an event already named
    (
        "대장내시경을 받은 환자 중 검사일로부터 30일 이내에 대장암 진단을 받은 환자",
        {"index.concepts.terms": ["대장내시경"], "criteria.0.concepts.terms": ["대장암"]},
    ),
    # --- Korean: a verb of care before its concept is that concept's event
    (
        "2020년 1월부터 2021년 12월까지 측정된 BMI가 30 이상인 환자 중 "
        "측정일 이전에 제2형 당뇨병 진단 병력이 있는 환자",
        {
            "index.domain": "measurement",
            "index.date_range.start": "2020-01-01",
            "criteria.0.domain": "condition",
            "criteria.0.window.end": -1,
        },
    ),
    (
        "대장암 최초 진단일 이전 30일 이내에 시행된 CEA 검사 결과가 5 ng/mL를 초과한 환자",
        {"criteria.0.domain": "measurement", "criteria.0.window.start": -30, "criteria.0.value.value": 5.0},
    ),
    # --- Korean: '… 받은 날' is that day
    (
        "18세 미만 급성 기관지염 진단받은 날 dextromethorphan 처방받은 애들",
        {"criteria.0.domain": "drug", "criteria.0.window.start": 0, "criteria.0.window.end": 0},
    ),
    (
        "위암 진단받은 날로부터 30일 이내 사망한 환자",
        {"criteria.0.domain": "death", "criteria.0.window.start": 0, "criteria.0.window.end": 30},
    ),
    # --- Korean: English body parts, and no 'CT' inside an English word
    (
        "뇌경색 진단 당일 head CT 찍은 사람",
        {"criteria.0.imaging.modalities": ["CT"], "criteria.0.imaging.body_parts": ["HEAD"]},
    ),
    (
        "충수염 진단 당일 맹장수술(appendectomy) 받은 환자",
        {"criteria.0.domain": "procedure", "criteria.0.concepts.terms": ["맹장수술", "appendectomy"]},
    ),
    (
        "MI 병력 있는 환자가 뇌경색 진단받은 경우 찾아줘",
        {
            "index.concepts.terms": ["뇌경색"],
            "criteria.0.concepts.terms": ["MI"],
            "criteria.0.window.end": -1,
        },
    ),
    # --- session 4: readings of windows, values and codes that writers used and the parser missed
    (
        "diabetics with an HbA1c of 8 or more at the time of diagnosis",
        {"criteria.0.domain": "measurement", "criteria.0.window.start": 0, "criteria.0.window.end": 0},
    ),
    (
        "patients aged 65 or older at the time of diagnosis with atrial fibrillation",
        {"demographics.age_min": 65},
    ),
    ("당뇨병 진단 시 HbA1c가 9% 넘는 환자", {"criteria.0.window.start": 0, "criteria.0.window.end": 0}),
    ("폐암 진단 시 65세 이상인 환자", {"demographics.age_min": 65, "criteria": []}),
    ("PCI 당일 TnI > 0.5 ng/mL 환자", {"criteria.0.value.op": ">", "criteria.0.value.value": 0.5}),
    ("총콜레스테롤 240 이상이면서 같은 날 HDL 40 mg/dL 밑도는 환자", {"criteria.0.value.op": "<"}),
    ("patients with platelet count < 50k", {"index.value.value": 50000}),
    (
        "CABG patients whose hemoglobin was under 12 g/dL at some point within the 30 days prior to the CABG",
        {"criteria.0.window.start": -30, "criteria.0.window.end": 0},
    ),
    (
        "Patients aged 70 or older who had an inpatient admission in 2015 or later",
        {"index.date_range.start": "2015-01-01", "index.date_range.end": None},
    ),
    (
        "Total cholesterol >240 mg/dL in adults 40 to 75, labs from 2019",
        {"index.date_range.start": "2019-01-01", "index.date_range.end": "2019-12-31"},
    ),
    (
        "Afib patients started on warfarin within 30 days after diagnosis who had a stroke within a year "
        "after starting warfarin",
        {
            "criteria.1.window.anchor": "drug",
            "criteria.1.window.end": 365,
            "criteria.1.concepts.terms": ["stroke"],
        },
    ),
    (
        "patients with CKD who had a potassium above 5.5 within 30 days of starting lisinopril",
        {"criteria.1.window.start": 0, "criteria.1.window.end": 30},
    ),
    ("patients with diabetic CKD (E11.22)", {"index.concepts.terms": ["E11.22"]}),
    ("단순 유방절제술(85.41 또는 85.43)을 받은 환자", {"index.concepts.terms": ["85.41", "85.43"]}),
    ("E11.22 (당뇨병성 CKD) 환자", {"index.concepts.terms": ["E11.22"]}),
    ("patients with MI who had a PCI 30 days or less after the MI", {"criteria.0.window.end": 30}),
    ("pneumonia patients who died by day 30", {"criteria.0.window.start": 0, "criteria.0.window.end": 30}),
    ("MI patients with a CT the next day", {"criteria.0.window.start": 1, "criteria.0.window.end": 1}),
    (
        "patients diagnosed with MI who had a troponin above 1 the day before",
        {"criteria.0.window.start": -1, "criteria.0.window.end": -1},
    ),
    ("CABG patients with a stroke within the first week", {"criteria.0.window.end": 7}),
    ("patients with pneumonia and a chest x-ray within 1 day either side", {"criteria.0.window.start": -1}),
    (
        "metformin 처방일 앞뒤 7일 이내에 크레아티닌이 1.5 mg/dL를 초과한 환자",
        {"criteria.0.window.start": -7},
    ),
    (
        "유방암 진단 3개월 후부터 1년까지 사이에 trastuzumab 투여 이력이 있는 여성 환자",
        {"criteria.0.window.start": 90, "criteria.0.window.end": 365},
    ),
    (
        "심근경색 진단 후 30일이 지나서 PCI 받은 환자",
        {"criteria.0.window.start": 30, "criteria.0.window.end": None},
    ),
    (
        "심근경색 진단 후 30일 이후에 PCI 받은 환자",
        {"criteria.0.window.start": 30, "criteria.0.window.end": None},
    ),
    ("무릎 인공관절 전치환술(TKR) 받은 65세 이상 여자 환자 명단", {"index.concepts.terms": ["TKR"]}),
    (
        "2022년 한 해 동안 항암화학요법 주입(99.25)을 받은 환자",
        {"index.domain": "procedure", "index.concepts.terms": ["99.25"], "criteria": []},
    ),
    (
        "MI 진단받고 2년 안에 CABG 받은 60세 이상 환자 (나이는 MI 진단 시점 기준)",
        {"demographics.age_min": 60, "criteria.0.window.end": 730},
    ),
    ("쇄골 골절 진단 당일 clavicle X-ray 찍은 환자", {"criteria.0.imaging.body_parts": ["CLAVICLE"]}),
    (
        "TG ≥ 200 mg/dL and HDL < 40 mg/dL on the same day",
        {"index.value.value": 200, "criteria.0.window.start": 0, "criteria.0.window.end": 0},
    ),
    (
        "patients who had a head CT and a brain MRI on the same day",
        {
            "index.imaging.modalities": ["CT"],
            "criteria.0.imaging.modalities": ["MR"],
            "criteria.0.window.end": 0,
        },
    ),
    ("patients with three or more UTI diagnoses", {"criteria.0.occurrence.count": 3}),
    ("afib dx then warfarin w/in 30 days", {"criteria.0.window.end": 30}),
    (
        "Persons whose first-ever chemotherapy infusion (ICD-9-CM 99.25) occurred in 2020 or later",
        {"index.concepts.terms": ["99.25"], "index.first_occurrence": True},
    ),
    (
        "Patients whose first-ever atrial fibrillation diagnosis came at age 70 or older",
        {"demographics.age_min": 70, "index.first_occurrence": True},
    ),
    (
        "kids under 18 diagnosed with asthma in 2023 who ended up in the ER within 7 days after diagnosis",
        {"criteria.0.domain": "visit", "criteria.0.window.end": 7},
    ),
    ("pneumonia so far this year in pts aged 75+", {"index.date_range.start": "2025-01-01"}),
    # --- a hyphenated word is one word: never an event word, a demographic or two mentions
    ("women with age-related osteoporosis in 2023", {"index.concepts.terms": ["age-related osteoporosis"]}),
    (
        "MI pts who got a drug-eluting stent within 3 days",
        {"criteria.0.domain": "procedure", "criteria.0.concepts.terms": ["drug-eluting stent"]},
    ),
    # --- the setting a visit word already means, said again in brackets, adds no rule
    (
        "stroke patients admitted (inpatient, including ED-to-inpatient) on the day of the stroke",
        {"criteria.0.domain": "visit", "criteria.0.visit_concept_ids": [9201, 262]},
    ),
    (
        "2023년 입원(응급실 경유 입원 포함)이 2회 이상인 환자",
        {"index.domain": "visit", "index.visit_concept_ids": [9201, 262]},
    ),
    # --- a short noun refers back to the event named in other words
    (
        "GI hemorrhage patients on naproxen in the 14 days before the bleed",
        {"criteria.0.window.anchor": "index", "criteria.0.window.start": -14, "criteria.0.window.end": 0},
    ),
    # --- Korean windows: the past, the anchor's own day in or out, 'or' between windows, chains
    (
        "당뇨병 진단일 기준 과거 1년 이내 메트포르민 처방 환자",
        {"criteria.0.window.start": -365, "criteria.0.window.end": 0},
    ),
    (
        "요로감염 진단 후 30일 이내(진단 당일 제외)에 항생제 처방받은 환자",
        {"criteria.0.window.start": 1, "criteria.0.window.end": 30},
    ),
    (
        "입원한 환자 중 입원일 이전 30일 이내(입원 당일 포함)에 위장관 출혈 진단 기록이 있는 환자",
        {"criteria.0.window.start": -30, "criteria.0.window.end": 0},
    ),
    (
        "뇌경색 진단 환자 중 진단 당일 또는 그 다음 날까지 두부(Head) CT를 찍은 환자",
        {
            "criteria.0.window.start": 0,
            "criteria.0.window.end": 1,
            "criteria.0.imaging.body_parts": ["HEAD"],
            "criteria.1": "absent",
        },
    ),
    (
        "PTCA 받고 1년 동안 심근경색 진단이 없는 환자",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 365},
    ),
    (
        "유방 조직검사 → 한 달 안에 유방암 진단 → 그 다음 석 달 안에 유방절제술 받은 환자",
        {"criteria.0.window.end": 30, "criteria.1.window.end": 90, "criteria.1.window.anchor": "diagnosis"},
    ),
    (
        "유방 생검 받은 환자 중 생검일로부터 14일 이내에 유방암 진단을 받고, "
        "이후 그 진단일로부터 90일 이내에 유방절제술을 받은 환자",
        {"criteria.0.window.end": 14, "criteria.1.window.end": 90, "criteria.1.window.anchor": "diagnosis"},
    ),
    # --- English windows said twice over, and days named relative to today
    (
        "melena patients with endoscopic control of bleeding on the same day or the next day",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 1},
    ),
    (
        "stroke pts who had a brain MRI within 48 hrs of the dx (after it)",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 2},
    ),
    (
        "abdominal pain dx with an abdominal CT around the same time (within 2 days either way)",
        {"criteria.0.window.start": -2, "criteria.0.window.end": 2},
    ),
    ("UTI w/ WBC > 11 on day of dx", {"criteria.0.window.start": 0, "criteria.0.window.end": 0}),
    (
        "heart failure patients whose NT-proBNP exceeded 2000 pg/mL within 7 days after the diagnosis "
        "and who had an echo in that same window",
        {"criteria.0.value.value": 2000, "criteria.1.window.start": 0, "criteria.1.window.end": 7},
    ),
    ("BNP above 2000 in heart failure patients", {"index.value.value": 2000, "index.date_range": None}),
    (
        "list everyone seen in the ER yesterday",
        {"index.date_range.start": "2025-06-30", "index.date_range.end": "2025-06-30"},
    ),
    ("어제 응급실에 온 환자", {"index.date_range.start": "2025-06-30"}),
    # --- 'on a day when': the event that follows, that same day; 'first' keeps the index
    (
        "cisplatin doses given on a day when the patient's hemoglobin was under 10 g/dL",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 0},
    ),
    (
        "patients whose first-ever insulin glargine dispensing happened on a day when their glucose "
        "was above 200",
        {
            "index.first_occurrence": True,
            "index.domain": "drug",
            "criteria.0.value.value": 200,
            "criteria.0.window.end": 0,
        },
    ),
    # --- 'first' said again of the same event is that event
    (
        "patients in their 40s with newly diagnosed hypertension in 2024 (first HTN dx ever)",
        {"index.first_occurrence": True, "index.date_range.start": "2024-01-01", "criteria": []},
    ),
    (
        "First-ever PCI performed at age 75 or older, with that first PCI happening in 2023 or later",
        {"index.first_occurrence": True, "index.date_range.start": "2023-01-01", "criteria": []},
    ),
    (
        "연구 목적으로 자료를 요청드립니다. 2022년 1월 1일부터 2022년 12월 31일까지의 기간 동안 "
        "제2형 당뇨병을 처음 진단받은 환자 중 최초 진단일로부터 90일 이내에 메트포르민 처방이 시작된 환자",
        {"index.first_occurrence": True, "index.date_range.end": "2022-12-31", "criteria.0.window.end": 90},
    ),
    # --- brackets that widen ('including'), and the whole observation period
    ("stroke (including TIA) patients", {"index.concepts.terms": ["stroke", "TIA"]}),
    ("외상성 뇌손상(뇌진탕 포함) 환자", {"index.concepts.terms": ["외상성 뇌손상", "뇌진탕"]}),
    (
        "Alzheimer disease (including early-onset familial) patients",
        {"index.concepts.terms": ["Alzheimer disease"]},
    ),
    (
        "전체 관찰 기간 동안 위장관 출혈로 진단받은 환자 중 진단일로부터 2일 이내에 혈색소 수치가 "
        "7 g/dL 미만으로 측정되었고 진단일로부터 2일 이내에 수혈을 받은 환자",
        {"index.date_range": None, "criteria.0.value.value": 7},
    ),
    # --- a unit is a whole word: 'at most one HbA1c' holds no hour
    (
        "type 2 diabetics who had at most one HbA1c test within 90 days after the diagnosis",
        {
            "criteria.0.occurrence.type": "at_most",
            "criteria.0.occurrence.count": 1,
            "criteria.0.window.end": 90,
        },
    ),
    # --- short misspelt units, and same-concept names
    ("afib pts started on warfarin within 2 weks", {"criteria.0.window.end": 14}),
    (
        "diabtes type 2 pts with more than one hospital admission in 2023",
        {"criteria.0.concepts.terms": ["diabetes type 2"]},
    ),
    # --- a side said once for two nouns; the anchor is never windowed on itself; the day itself counted
    (
        "Patients who had a colectomy (right or left hemicolectomy, sigmoidectomy) in 2023",
        {"index.concepts.terms": ["colectomy"]},  # kinds of colectomy its codes already cover
    ),
    (
        "colectomy pts (R/L hemicolectomy) in 2023",
        {"index.concepts.terms": ["colectomy"]},
    ),
    (
        "Patients who had a colectomy in 2023 and a CEA above 5 ng/mL within 30 days before the operation",
        {"index.domain": "procedure", "criteria.0.window.start": -30, "criteria.0.window.end": 0},
    ),
    (
        "MI pts with a statin in the 30 days before, counting the diagnosis day itself",
        {"criteria.0.window.start": -30, "criteria.0.window.end": 0},
    ),
    # --- the writer's plan around the rules is read past
    (
        "Liver-metastasis segmentation project - we need patients with liver metastasis who had an "
        "abdominal CT",
        {"index.concepts.terms": ["liver metastasis"]},
    ),
    (
        "The study population will comprise adults aged 40 to 75 with type 2 diabetes",
        {"demographics.age_min": 40, "demographics.age_max": 75},
    ),
    (
        "Among persons with colon cancer, we will identify those who underwent a colectomy within 60 days",
        {"criteria.0.window.end": 60},
    ),
    (
        "심방세동 진단 후 90일 이내 warfarin이 처방된 환자 — 항응고제 사용 현황",
        {"criteria.0.concepts.terms": ["warfarin"], "criteria.1": "absent"},
    ),
    # --- brackets that add nothing: a name for the list, examples of the mention
    (
        "MI followed by both aspirin and clopidogrel within 7 days (DAPT)",
        {"criteria.0.window.end": 7, "criteria.1.window.end": 7, "criteria.2": "absent"},
    ),
    (
        "대장암 진단 후 90일 이내에 대장 절제술(우측/좌측 결장절제, S결장절제 등) 받은 환자",
        {"criteria.0.concepts.terms": ["대장 절제술"], "criteria.1": "absent"},
    ),
    (
        "colonoscopy patients diagnosed with colon cancer within 10 days after the scope",
        {"index.domain": "procedure", "criteria.0.window.anchor": "index", "criteria.0.window.end": 10},
    ),
    # --- batch 8 (open half): each event keeps its own calendar dates (Criterion.date_range)
    (
        "pts with 3+ admissions in 2022 who also had a chest CT in 2023",
        {"index.date_range.start": "2023-01-01", "criteria.0.date_range.end": "2022-12-31"},
    ),
    (
        "type 2 diabetics who have not been admitted since 2022",
        {"criteria.0.occurrence.count": 0, "criteria.0.date_range.start": "2022-01-01"},
    ),
    (
        "2023년에 aspirin과 clopidogrel을 모두 처방받은 환자",
        {"index.date_range.start": "2023-01-01", "criteria.0.date_range.end": "2023-12-31"},
    ),
    # a window said before a list is every member's; 'it' after '… before the PCI' is the PCI
    (
        "HTN dx in 2024 where, on the day of that diagnosis, the systolic BP was 160 or more and the "
        "diastolic BP was 100 or more",
        {"criteria.0.window.end": 0, "criteria.1.window.start": 0, "criteria.1.window.end": 0},
    ),
    (
        "CABG pts with an echo within 14 days before the CABG and a creatinine above 2 within 30 days "
        "before it",
        {"criteria.1.window.anchor": "index", "criteria.1.window.start": -30},
    ),
    ("stroke pts with no earlier MI", {"criteria.0.occurrence.count": 0, "criteria.0.window.end": -1}),
    # limits, exclusions said as a sentence, chat verbs of care
    ("asthma pts diagnosed in 2023, limited to women", {"demographics.sexes": ["female"]}),
    ("CKD pts on losartan. Restrict to patients aged 70 or older.", {"demographics.age_min": 70}),
    (
        "COPD pts with a CXR in 2023. Patients with lung cancer at any time should not be included.",
        {"criteria.1.occurrence.count": 0, "criteria.1.concepts.terms": ["lung cancer"]},
    ),
    (
        "anybody who picked up a clopidogrel script and ended up in the ER within 2 weeks",
        {"index.domain": "drug", "criteria.0.domain": "visit", "criteria.0.window.end": 14},
    ),
    ("folks on warfarin whose INR went over 4", {"criteria.0.value.op": ">", "criteria.0.value.value": 4}),
    (
        "statin pts with an ALT above 100 within 60 days after the statin. Exclude anyone who got "
        "warfarin in those same 60 days.",
        {"criteria.1.window.start": 0, "criteria.1.window.end": 60, "criteria.1.occurrence.count": 0},
    ),
    ("MI pts s/p TKR with a knee x-ray within 90 days after the replacement", {"criteria.1.window.end": 90}),
    ("pts with ICD-10 code I63 in 2023", {"index.concepts.terms": ["I63"]}),
    # Korean: excluding those without = keeping those with; a history before it ends the day before
    (
        "고혈압 환자 중 진단 이전에 당뇨 진단 이력이 없는 환자는 제외",
        {"criteria.0.occurrence.type": "at_least", "criteria.0.window.end": -1},
    ),
    ("심부전 환자 중 응급실을 두 번 넘게 온 사람", {"criteria.0.occurrence.count": 3}),
    ("심부전 환자 중 80세 이상인 분은 제외해 주세요", {"demographics.age_max": 79}),
    ("당뇨 환자 중 진단 시점 기준으로 70세 이상", {"demographics.age_min": 70}),
    (
        "뇌경색 환자 중 clopidogrel을 한 번이라도 처방받은 환자는 빼 주세요",
        {"criteria.0.occurrence.count": 0},
    ),
    ("폐렴 진단일 CRP가 100 이상인 환자", {"criteria.0.domain": "measurement", "criteria.0.window.end": 0}),
    # what a study was for, chat verbs, code lists before the people, head nouns
    ("COPD pts with a CXR in 2023. Nobody who ever had lung cancer.", {"criteria.1.occurrence.count": 0}),
    (
        "gastric ca pts with a staging CT abd within 30 days after the dx",
        {"criteria.0.imaging.body_parts": ["ABDOMEN"], "criteria.0.window.end": 30},
    ),
    ("GERD pts who picked up omeprazole within a week", {"criteria.0.domain": "drug"}),
    ("how many came into the ER in 2023?", {"index.domain": "visit"}),
    (
        "I21/I22 pts with a PCI within 3 days",
        {"index.concepts.terms": ["I21", "I22"], "criteria.0.window.end": 3},
    ),
    (
        "K92.0-K92.2 bleeders who got a PRBC transfusion",
        {"index.concepts.terms": ["K92.0", "K92.1", "K92.2"]},
    ),
    ("STEMI pts given ticagrelor on the day of the infarct", {"criteria.0.window.end": 0}),
    (
        "Breast cancer cohort for a HER2-therapy feasibility: women with breast cancer on trastuzumab",
        {"index.concepts.terms": ["breast cancer"], "demographics.sexes": ["female"]},
    ),
    (
        "폐암 진단 후 1년 이내에 사망한 환자 중, 그 기간 동안 항암제 주입(99.25)을 한 번도 받지 않은 환자",
        {"criteria.1.window.anchor": "index", "criteria.1.window.end": 365, "criteria.1.occurrence.count": 0},
    ),
    (
        "2023년에 요로감염 진단이 두 번 이상인 환자를 뽑아 주세요. 재발 코호트 구축용입니다.",
        {"index.domain": "condition"},
    ),
    ("폐엽절제술 후 3개월에서 6개월 사이에 흉부 CT f/u 찍은 환자", {"criteria.0.window.start": 90}),
    (
        "경피적 폐생검을 받은 환자 중 생검 전 30일 이내에 흉부 CT를 찍은 환자",
        {"index.domain": "procedure", "criteria.0.window.anchor": "index", "criteria.0.window.start": -30},
    ),
    # --- batch 9 (open half)
    (
        "stroke pts with a thrombectomy by the next day after the stroke",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 1},
    ),
    ("men diagnosed with MI when he was in 50s", {"demographics.age_min": 50, "demographics.age_max": 59}),
    ("women with breast cancer aged under 50 at diagnosis", {"demographics.age_max": 49}),
    ("pts who had insertion of drug-eluting stent in year 2024", {"index.date_range.start": "2024-01-01"}),
    (
        "first-ever HF dx falling in 2023",
        {"index.first_occurrence": True, "index.date_range.end": "2023-12-31"},
    ),
    (
        "pts admitted in 2024 who were 65 or older at that admission and have a COPD diagnosis",
        {"demographics.age_min": 65, "criteria.0.window.same_visit": False, "criteria.0.window.start": None},
    ),
    (
        "colon cancer pts with a sigmoidectomy within 30 days",
        {"criteria.0.concepts.terms": ["sigmoidectomy"]},
    ),
    (
        "MI 진단 후 3일 이내 심초음파 시행한 환자 중 진단 당시 심부전 병력이 없는 환자",
        {"criteria.1.window.end": -1},
    ),
    (
        "DM2 병력 있는 환자가 MI 진단받은 날 PCI 받았고, 진단 후 30일 이내에 HbA1c 8% 이상 나온 경우",
        {"index.concepts.terms": ["MI"], "criteria.2.window.anchor": "index"},
    ),
    ("고혈압을 처음 진단받을 때 수축기 혈압 160 이상이었던 환자", {"criteria.0.window.end": 0}),
    (
        "MI 환자 중 그날 troponin I 1 ng/mL 이상, 그리고 PCI 병력은 없는 환자",
        {"criteria.0.occurrence.count": 1, "criteria.1.occurrence.count": 0, "criteria.1.window.end": -1},
    ),
    (
        "입원 당일 잰 CRP가 100 mg/L 이상이었던 환자",
        {"criteria.0.domain": "measurement", "criteria.0.window.end": 0},
    ),
    ("심근경색 진단받은 날 atorvastatin 처방이 나간 환자", {"criteria.0.domain": "drug"}),
    (
        "담낭절제술 받은 환자 중에, 수술 당시 나이가 50세에서 69세 사이인 분들만요",
        {"demographics.age_min": 50},
    ),
    (
        "뇌경색 진단 받은날 혈전제거술도 받고 brain MRI도 같은날 찍은 사람",
        {"criteria.1.window.end": 0, "criteria.1.imaging.modalities": ["MR"]},
    ),
    # a bracket naming kinds of the mention before it lists examples it already covers
    (
        "Patients who had a colectomy (right hemicolectomy or sigmoidectomy) in 2024",
        {"index.concepts.terms": ["colectomy"]},
    ),
    (
        "대장절제술(우측/좌측 반결장절제술 또는 S상결장절제술)을 받은 환자",
        {"index.concepts.terms": ["대장절제술"]},
    ),
    (
        "stroke patients aged 65 or over in 2024",
        {"demographics.age_min": 65, "index.date_range.start": "2024-01-01"},
    ),
    (
        "PCI pts in 2024 who filled clopidogrel at least 3 times in the 365 days after",
        {"criteria.0.domain": "drug", "criteria.0.occurrence.count": 3},
    ),
    (
        "MI pts with a PCI within 1 day who were still alive 30 days after diagnosis",
        {"criteria.1.domain": "death", "criteria.1.occurrence.count": 0, "criteria.1.window.end": 30},
    ),
    (
        "2023년 3분기(7~9월)에 유방암 진단을 받은 환자",
        {"index.date_range.start": "2023-07-01", "index.date_range.end": "2023-09-30"},
    ),
    # --- batch 10 (open half)
    ("died within 30d after ER arrival", {"index.domain": "visit", "criteria.0.domain": "death"}),
    ("ER pts w/ WBC > 15k within 1 day after arrival", {"index.domain": "visit", "criteria.0.window.end": 1}),
    (
        "ED visit w/ pneumonia dx and a chest xray on the same day",
        {"criteria.0.window.end": 0, "criteria.0.window.same_visit": False, "criteria.2": "absent"},
    ),
    (
        "응급실 경유 입원 당일 creatinine 1.5 이상",
        {"index.visit_concept_ids": [262], "criteria.0.window.end": 0},
    ),
    ("pts with 2+ ER-to-inpatient admissions in 2023", {"index.visit_concept_ids": [262]}),
    (
        "티카그렐러를 처음 쓴 날 아스피린도 같이 처방된 환자",
        {"index.first_occurrence": True, "criteria.0.window.end": 0},
    ),
    (
        "Insulin glargine initiators with an HbA1c of 9% or higher in the 90 days before",
        {"index.first_occurrence": True},
    ),
    ("metformin new users w/ HbA1c >8% in the 30 days before starting", {"index.first_occurrence": True}),
    (
        "와파린 신규 사용자 중 첫 처방 후 30일 이내에 INR 검사가 한 번도 없었던 환자",
        {"index.first_occurrence": True},
    ),
    (
        "아토르바스타틴 첫 처방일 전 30일 이내에 LDL ≥ 160 mg/dL였던 신규 사용자",
        {"index.first_occurrence": True, "criteria.0.first_occurrence": False},
    ),
    (
        "90+ yo admitted and died w/in 14d after admission",
        {"demographics.age_min": 90, "criteria.0.window.end": 14},
    ),
    ("I63 w/ tPA same day", {"index.concepts.terms": ["I63"], "criteria.0.window.end": 0}),
    (
        "ok so i need everyone w copd who got admitted 2 or more times last yr",
        {"criteria.0.concepts.terms": ["copd"]},
    ),
    (
        "kids under 10 dispensed amoxicillin (any amoxicillin product) on the day of an otitis dx",
        {"demographics.age_max": 9},
    ),
    (
        "ticagrelor initiators with an MI dx in the 7 days leading up to the first ticagrelor "
        "(incl. same day)",
        {"criteria.0.window.start": -7},
    ),
    # --- session 8: protocol Korean, restatements, another event of the same kind
    # '자' (person) of protocol Korean is the head noun, as 환자
    (
        "2021년 폐암(C34) 진단을 받은 자 중 진단일로부터 60일 이내 폐엽절제술을 시행받은 자",
        {
            "index.date_range.start": "2021-01-01",
            "criteria.0.domain": "procedure",
            "criteria.0.window.end": 60,
        },
    ),
    (
        "천식 진단자 중 흉부 CT를 촬영한 자",
        {"index.concepts.terms": ["천식"], "criteria.0.domain": "imaging"},
    ),
    # an age at '…할 때' of the index event is the index age; '누구' asks who, which the list answers
    (
        "고혈압을 진단받을 때 60세 이상이었던 여자 환자는 누구인가요?",
        {"demographics.age_min": 60, "demographics.sexes": ["female"]},
    ),
    # 'Exclusion:' makes every item after it an exclusion
    (
        "Inclusion: gout (M10) in 2022. Exclusion: warfarin at any time; clopidogrel at any time.",
        {"criteria.0.occurrence.count": 0, "criteria.1.occurrence.count": 0},
    ),
    # a restatement naming only what was said adds nothing; 'at least one day earlier' is strictly before
    (
        "new-onset gout (M10), i.e. first-ever gout dx, in 2021",
        {"index.first_occurrence": True, "index.concepts.terms": ["M10"], "criteria": []},
    ),
    (
        "COPD patients with asthma recorded before the COPD dx (i.e. at least one day earlier)",
        {"criteria.0.window.end": -1},
    ),
    (
        "통풍(M10) 처음 진단받은 환자 (즉, 최초 진단) 중 2020년 진단",
        {"index.first_occurrence": True, "criteria": []},
    ),
    # 'both A and B … in 2024': the dates are each one's
    (
        "patients in whom both a knee MRI and a knee X-ray were obtained in 2023",
        {"index.date_range.start": "2023-01-01", "criteria.0.date_range.start": "2023-01-01"},
    ),
    # a bracket that restates the study or its kind adds no rule
    (
        "gout pts who never had a knee x-ray [knee radiograph]",
        {"criteria.0.occurrence.count": 0, "criteria.1": "absent"},
    ),
    # the code restates the whole qualified name ('with …', ', unspecified'), the narrower concept
    ("patients with type 2 diabetes with ketoacidosis (E11.1) in 2023", {"index.concepts.terms": ["E11.1"]}),
    # 'subsequent to' is a window word (never a typo of 'subsequently')
    (
        "gout patients who died at least 90 days subsequent to the gout diagnosis",
        {"criteria.0.domain": "death", "criteria.0.window.start": 90},
    ),
    # readmissions and revisits: another visit of the same kind; the index visit counts as one of two
    (
        "2023년 입원 환자 중 30일 이내 재입원한 환자",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 30, "criteria.0.occurrence.count": 2},
    ),
    ("ER visits in 2023 with another ER visit within 7 days", {"criteria.0.occurrence.count": 2}),
    # a washout of the index's own drug ends the day before, and says what 'new' means
    (
        "new warfarin users in 2023 with no warfarin in the 180 days before",
        {"index.first_occurrence": False, "criteria.0.window.start": -180, "criteria.0.window.end": -1},
    ),
    # Korean 그 후로 / 그 뒤로 / 그 다음에 chain on the event just named; '날이나 그 다음날' = 0..1
    (
        "통풍 진단받고 나서 무릎 X-ray를 찍었는데, 그 뒤로 90일 안에 warfarin을 처방받은 환자",
        {"criteria.1.window.anchor": "imaging", "criteria.1.window.end": 90},
    ),
    (
        "통풍 진단받은 날이나 그 다음날 warfarin 처방받은 환자",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 1},
    ),
    # analysis-plan sections: the labels are dropped, the parts read as clauses, exclusions as exclusions
    (
        "Index date: first gout diagnosis (M10). Eligibility: aged 50 or older at index. "
        "Outcome: an ER visit within 30 days after index. Exclusion: warfarin at any time.",
        {
            "index.first_occurrence": True,
            "demographics.age_min": 50,
            "criteria.0.domain": "visit",
            "criteria.0.window.end": 30,
            "criteria.1.occurrence.count": 0,
        },
    ),
    (
        "Index date: first gout diagnosis. Baseline period: days -365 to -1 relative to index. "
        "Exposure: warfarin during the baseline period.",
        {"criteria.0.window.start": -365, "criteria.0.window.end": -1},
    ),
    (
        "기준일: 통풍(M10) 최초 진단일. 결과 변수: 기준일 이후 30일 이내 응급실 방문. "
        "제외 기준: 기준일 이전 warfarin 처방 이력이 있는 자.",
        {"index.first_occurrence": True, "criteria.0.window.end": 30, "criteria.1.occurrence.count": 0},
    ),
    (
        "기준일: 통풍 최초 진단일. 기저기간: 기준일 이전 180일. 노출: 기저기간 중 warfarin 처방.",
        {"criteria.0.window.start": -180, "criteria.0.window.end": 0},
    ),
    (
        "asthma pts, warfarin also prescribed on the index date",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 0},
    ),
    # ED shorthand: a comparison glued to its test, arrows, '+', ages after people words, bare codes
    ("K>5.3 pts 65+", {"index.domain": "measurement", "index.value.value": 5.3, "demographics.age_min": 65}),
    ("M10 → warfarin w/in 30d", {"index.concepts.terms": ["M10"], "criteria.0.window.end": 30}),
    (
        "asthma kids <12 w/ ER visit same day as dx",
        {"demographics.age_max": 11, "criteria.0.occurrence.count": 1},
    ),
    ("admitted ≥2x in 2022", {"index.domain": "visit"}),
    # a study with a procedure code in brackets is that procedure
    (
        "gout pts with at most one CT of the thorax (87.41) in the 365 days after the dx",
        {"criteria.0.domain": "procedure", "criteria.0.occurrence.type": "at_most", "criteria.1": "absent"},
    ),
    # a drug is never a diagnosis's concept
    ("ER visit w/ gout dx, warfarin given same day", {"criteria.1.domain": "drug"}),
    # '… 환자들의 X 영상 데이터가 필요합니다': images to return, not a rule
    (
        "통풍 환자들의 무릎 X-ray 영상 데이터가 필요합니다. 진단 당시 50대 남성으로 한정해 주세요.",
        {"criteria": [], "demographics.age_min": 50},
    ),
    # --- session 9
    # a title whose concepts are all named after it, and whose other words only sum up the rules after it
    # ('recurrent' = the count said, 'post-' = the 'after' said), is read past; any other word keeps it
    (
        "Recurrent pneumonia: patients with two or more pneumonia diagnoses in 2023",
        {"index.concepts.terms": ["pneumonia"], "criteria.0.occurrence.count": 2, "criteria.1": "absent"},
    ),
    (
        "Post-PCI GI bleeding: patients with a GI bleed at any time after a PCI",
        {"index.concepts.terms": ["PCI"], "criteria.0.concepts.terms": ["GI bleed"], "criteria.1": "absent"},
    ),
    ("Women with MI: MI patients in 2023", {"demographics.sexes": ["female"]}),
    ("patients with recurrent pneumonia", {"index.concepts.terms": ["recurrent pneumonia"]}),
    # protocols: 'We will identify …', both ends of a window said as days relative to the event
    (
        "We will identify women aged 50 to 70 with osteoporosis diagnosed in 2022.",
        {"demographics.age_min": 50, "index.date_range.start": "2022-01-01"},
    ),
    (
        "patients with pneumonia who had a chest X-ray no earlier than 2 days before and no later than 5 "
        "days after the diagnosis",
        {"criteria.0.window.start": -2, "criteria.0.window.end": 5},
    ),
    (
        "stroke patients who had a head CT within 1 day after the diagnosis, followed by a thrombectomy "
        "(39.74) no earlier than the day of the CT and no later than 1 day after it",
        {"criteria.1.window.anchor": "imaging", "criteria.1.window.start": 0, "criteria.1.window.end": 1},
    ),
    # 'the angiogram' after a coronary arteriography procedure is that procedure
    (
        "NSTEMI patients who underwent coronary arteriography (88.56 or 88.57) within 3 days after the "
        "diagnosis, followed by a stent (36.07) no earlier than the day of the angiogram and no later than "
        "2 days after it",
        {"criteria.1.window.anchor": "procedure", "criteria.2": "absent"},
    ),
    (
        "patients with diabetes whose HbA1c exceeded 9% on a sample drawn within 30 days after the diagnosis",
        {"criteria.0.domain": "measurement", "criteria.0.window.end": 30, "criteria.1": "absent"},
    ),
    (
        "stroke patients with a brain MRI in the 3 days leading up to the diagnosis, the diagnosis date "
        "itself included",
        {"criteria.0.window.start": -3, "criteria.0.window.end": 0},
    ),
    (
        "pneumonia patients with a chest radiograph (modality CR, body part chest) on the day of diagnosis",
        {"criteria.0.imaging.body_parts": ["CHEST"], "criteria.1": "absent"},
    ),
    # filters as keys and values or loose SQL, as API users write them
    (
        "sex: M; age >= 70; dx: atrial fibrillation; warfarin within 14 days after dx",
        {"demographics.sexes": ["male"], "demographics.age_min": 70, "criteria.0.window.end": 14},
    ),
    (
        "SELECT person_id WHERE dx LIKE 'E11%' AND age BETWEEN 40 AND 60",
        {"index.concepts.terms": ["E11"], "demographics.age_min": 40, "demographics.age_max": 60},
    ),
    # Korean: official-document dates, kinds a name includes (및 = or), signed day windows, strict ends
    (
        "2022. 3. 1. ~ 2022. 5. 31. 기간 중 폐렴으로 진단받은 환자",
        {"index.date_range.start": "2022-03-01", "index.date_range.end": "2022-05-31"},
    ),
    (
        "대장절제술(우측 결장절제술 및 좌측 결장절제술 포함)을 받은 환자",
        {"index.concepts.terms": ["대장절제술", "우측 결장절제술", "좌측 결장절제술"], "criteria": []},
    ),
    (
        "심부전 진단일 기준 -30~+7일에 BNP 검사를 한 환자",
        {"criteria.0.window.start": -30, "criteria.0.window.end": 7},
    ),
    (
        "심방세동 진단 환자 중 진단일 기준 -365~-1일에 와파린 처방이 없는 환자",
        {"criteria.0.window.start": -365, "criteria.0.window.end": -1, "criteria.0.occurrence.count": 0},
    ),
    (
        "HbA1c 7 이상 9 미만인 환자",
        {"index.value.op": "between", "index.value.exclude_low": False, "index.value.exclude_high": True},
    ),
    (
        "2024년 입원 환자 중 입원 당일 K 5.5 이상인 사람, 고칼륨혈증 라벨용",
        {"criteria.0.value.value": 5.5, "criteria.1": "absent"},
    ),
    # '…한 날 기준으로' is the day the window after it counts from; '당일 or 다음날까지' = 0..1; '+' = and
    (
        "oxaliplatin을 처음 투여받은 날 기준으로 그 전 30일 안에 CEA가 5 ng/mL 이상 나왔던 환자",
        {"criteria.0.window.start": -30, "criteria.0.window.end": 0, "criteria.1": "absent"},
    ),
    ("K35 충수염 dx 당일 or 다음날까지 lap appe(47.01) 한 pt", {"criteria.0.window.end": 1}),
    (
        "응급실 방문 당일 뇌경색 진단 + 같은 날 brain MRI 촬영",
        {"criteria.0.window.end": 0, "criteria.1.domain": "imaging", "criteria.1.window.end": 0},
    ),
    # a diagnosis made in the ER is dated the ER visit's day; an ER visit named again with dates is that visit
    ("pneumonia diagnosed in the ER", {"index.domain": "visit", "criteria.0.window.end": 0}),
    (
        "UTI (N39.0) diagnosed at an ER visit (dx same day as the ER visit), ER visit between 2023-01-01 and "
        "2024-12-31, sex = F, age 18-45",
        {"index.date_range.start": "2023-01-01", "criteria.0.window.end": 0, "criteria.1": "absent"},
    ),
    # with no window of its own, 'first' names the index; 'took place'
    (
        "Lisinopril new users; potassium ≥ 4.5 mmol/L within 30 days after the lisinopril.",
        {"index.concepts.terms": ["Lisinopril"], "criteria.0.window.end": 30, "criteria.1": "absent"},
    ),
    (
        "patients whose first-ever PTCA (00.66) took place between 2019 and 2021 and who had a diagnosis of "
        "angina (I20.9) no earlier than 180 days after that procedure",
        {
            "index.first_occurrence": True,
            "index.date_range.start": "2019-01-01",
            "criteria.0.window.start": 180,
        },
    ),
    (
        "대장암 환자 중 oxaliplatin 첫 투여 당시 80세 이상",
        {"index.domain": "drug", "demographics.age_min": 80},
    ),
    # headings on their own line with marked items; inclusions of ER-admitted stays said again; 'preceded by'
    (
        "다음 기준에 해당하는 자료 요청드립니다. 선정기준 1) 2021.3.1~2021.8.31 기간에 "
        "뇌경색(I63) 진단을 받은 자 2) 진단 당일 head CT를 촬영한 자 "
        "제외기준 - 진단 전 warfarin 처방 이력이 있는 자",
        {"index.date_range.start": "2021-03-01", "criteria.1.occurrence.count": 0, "criteria.2": "absent"},
    ),
    ("응급실 3번 이상 왔던 사람 몇명이야? (응급실 거쳐 입원한 것도 포함)", {"index.domain": "visit"}),
    ("list of patients with at least two inpatient admissions in 2024 (ER-to-inpatient counts too)", {}),
    (
        "Thoracoscopic lobectomy (32.41) preceded by a percutaneous needle biopsy of lung (33.26) 1 to 60 "
        "days before the lobectomy.",
        {"criteria.0.window.start": -60, "criteria.0.window.end": -1},
    ),
    (
        "acute appendicitis (K35) followed by an appendectomy within 2 days - laparoscopic or open",
        {"criteria.0.window.end": 2, "criteria.1": "absent"},
    ),
    # what was named before '인덱스 기준' is an event (the index), never dropped
    (
        "2019~2024년 J18.9 진단, 인덱스 기준 -1~+1일에 chest X-ray(DX) 있는 환자",
        {"index.concepts.terms": ["J18.9"], "criteria.0.window.start": -1, "criteria.0.window.end": 1},
    ),
    # a drug named again only to say it is the first-ever is that drug, first-ever
    (
        "afib (I48) pts started on warfarin in 2023 (first-ever warfarin) who had no INR checked in the 30 "
        "days after starting",
        {"index.domain": "drug", "index.first_occurrence": True, "criteria.2": "absent"},
    ),
    (
        "breast ca pts (C50) who started tamoxifen within a year after breast surgery (85.21). started = "
        "first-ever tamoxifen",
        {"criteria.1.first_occurrence": True, "criteria.1.window.end": 365, "criteria.2": "absent"},
    ),
    # dates after 'A and B' of another kind are B's; after 'A, B and C all …' every member's
    (
        "men with osteoarthritis and naproxen exposure during 2015",
        {"index.domain": "drug", "index.date_range.start": "2015-01-01", "criteria.0.domain": "condition"},
    ),
    (
        "Patients who had hypertension, hyperlipidemia and type 2 diabetes all diagnosed before 2021.",
        {"criteria.0.date_range.end": "2020-12-31", "criteria.1.date_range.end": "2020-12-31"},
    ),
    # an ICD-10 encounter code is a diagnosis code; 'alive a year later' is no death in that year
    (
        "Patients with 4 or more encounters for antineoplastic chemotherapy (Z51.11) in 2023",
        {"index.domain": "condition", "criteria.0.occurrence.count": 4, "criteria.1": "absent"},
    ),
    (
        "HF pts dx'd in 2023 who were still alive a yr later",
        {"criteria.0.domain": "death", "criteria.0.window.end": 365, "criteria.0.occurrence.count": 0},
    ),
    ("GERD pts who never had an EGD w/ biopsy", {"criteria.0.concepts.terms": ["EGD with biopsy"]}),
    (
        "diabetics in 2023 with at most one HbA1c checked that year",
        {"criteria.0.domain": "measurement", "criteria.0.occurrence.type": "at_most"},
    ),
    # Korean: ward words ('expire한', '들어가고', '안나간'), 'neither', formal riders, marked items, typos
    ("뇌경색 Dx 받고 7일 이내 expire한 pt", {"criteria.0.domain": "death", "criteria.0.window.end": 7}),
    (
        "cisplatin 들어가고 7일 이내에 PLT 50 미만 나온 pt",
        {"index.domain": "drug", "criteria.0.window.end": 7},
    ),
    (
        "심근경색 환자 중 진단 후 30일 이내 aspirin 처방 안나간 환자",
        {"criteria.0.domain": "drug", "criteria.0.occurrence.count": 0},
    ),
    (
        "PCI 받은 환자 중 시술 후 30일 이내 클로피도그렐 및 티카그렐러 중 어느 것도 처방되지 않은 환자",
        {"criteria.0.concepts.terms": ["클로피도그렐", "티카그렐러"], "criteria.0.occurrence.count": 0},
    ),
    (
        "2023년 뇌경색 환자 중 진단 당일 알테플라제가 투여된 환자 명단. "
        "단, 진단 당시 연령 70세 이상인 환자에 한합니다.",
        {"demographics.age_min": 70, "criteria.1": "absent"},
    ),
    (
        "부비동염(sinusitis, 하위 개념 포함) 진단 후 7일 이내 아목시실린 처방 환자",
        {"index.concepts.terms": ["부비동염", "sinusitis"], "criteria.1": "absent"},
    ),
    (
        "고혈압(I10)으로 진단받은 환자 중 아래 조건을 모두 충족하는 환자 명단 추출을 요청드립니다. 1) 진단일 "
        "전후 30일 이내 혈청 크레아티닌 2.0 mg/dL 이상 2) 진단일로부터 90일 이내 암로디핀 처방 기록 없음",
        {"criteria.0.window.start": -30, "criteria.1.window.end": 90, "criteria.1.occurrence.count": 0},
    ),
    (
        "항응고제 처방 적정성 검토를 위하여, 2022년 심방세동 진단 환자 중 30일 이내 와파린 처방 환자 명단을 "
        "요청드립니다.",
        {"index.concepts.terms": ["심방세동"], "criteria.0.window.end": 30},
    ),
    # sub-concepts said to be included add nothing; 'chain:' is a heading
    (
        "MI (myocardial infarction, incl. descendants) with a CABG within 90 days after the MI.",
        {"criteria.0.domain": "procedure", "criteria.1": "absent"},
    ),
    (
        "chain: CT CHEST -> lung needle biopsy (33.26) within 30d after the CT -> lobectomy (32.4x) within "
        "60d after the biopsy",
        {"index.domain": "imaging", "criteria.1.window.anchor": "procedure", "criteria.2": "absent"},
    ),
    # 'before the day of X' / 'before that day': the days before it; lay words before a drug's name
    ("patients with a stroke who had aspirin before the day of the stroke", {"criteria.0.window.end": -1}),
    (
        "people who had a stroke and got the clot-busting drug alteplase on the very same day",
        {"criteria.0.concepts.terms": ["alteplase"], "criteria.0.window.end": 0},
    ),
    # 'prior to X' is before X's day, as 'prior X'; plain 'before X' keeps the day
    (
        "Patients with an HbA1c above 9% in 2022 who had a type 2 diabetes diagnosis prior to that result",
        {"criteria.0.window.end": -1},
    ),
    ("patients with a stroke before their MI", {"criteria.0.window.end": 0}),
    # 'same day is ok' widens 'before' to its day; a bare first end takes the second's side; code families
    (
        "CABG pts in 2022 (any 36.1x code) who had an I25.1x dx before the op - same day is ok",
        {"criteria.0.window.end": 0, "criteria.1": "absent"},
    ),
    (
        "patients on cisplatin who had a leukocyte count below 3.0 x10^3/uL no earlier than 7 days and no "
        "later than 21 days after the cisplatin",
        {"criteria.0.window.start": 7, "criteria.0.window.end": 21},
    ),
    (
        "We will identify patients who underwent coronary artery bypass grafting (any ICD-9-CM procedure "
        "code in category 36.1) in 2019 and who died no later than 30 days after the operation.",
        {"index.domain": "procedure", "criteria.0.domain": "death", "criteria.0.window.end": 30},
    ),
    (
        "patients aged 75 or older at an inpatient admission in 2023 (including admissions through the "
        "emergency department) who had a hemoglobin below 10 g/dL",
        {"index.visit_concept_ids": [9201, 262], "criteria.0.domain": "measurement", "criteria.1": "absent"},
    ),
    (
        "SELECT person_id WHERE dx LIKE 'I48%' AND sex = 'M' AND dx_date >= '2022-01-01'",
        {"index.date_range.start": "2022-01-01", "demographics.sexes": ["male"]},
    ),
    (
        "2021년 5월 한달동안 pnuemonia Dx 받은 pt",
        {"index.concepts.terms": ["pneumonia"], "index.date_range.end": "2021-05-31"},
    ),
    # --- session 10
    # a LOINC code in brackets is the test's code, never a range of values or June of the year 8480
    (
        "고혈압(I10) 환자 중에 수축기 혈압(8480-6) 180 mmHg 이상 찍힌 적 있는 환자",
        {"criteria.0.concepts.terms": ["8480-6"], "criteria.0.value.value": 180.0, "index.date_range": None},
    ),
    # a count of zero is none at all, never the empty rule 'at least 0'
    (
        "2022년 중 당뇨병(E11) 진단 기록이 있고, 그 진단일부터 1년 이내 입원은 0회인 환자",
        {
            "criteria.0.occurrence.type": "exactly",
            "criteria.0.occurrence.count": 0,
            "criteria.0.window.end": 365,
        },
    ),
    (
        "diabetes patients with 0 admissions within a year after diagnosis",
        {"criteria.0.occurrence.type": "exactly", "criteria.0.occurrence.count": 0},
    ),
    # a count of a kind of event that names nothing counts the index's concept
    (
        "요로감염(N39.0)으로 1년 안에 3번 이상 진단된 환자",
        {
            "criteria.0.concepts.terms": ["N39.0"],
            "criteria.0.occurrence.count": 3,
            "criteria.0.window.end": 365,
        },
    ),
    # a diagnosis 'made at an ER visit' is that visit's day
    (
        "Kids under 18 with an asthma dx made at an ER visit",
        {"criteria.0.concepts.terms": ["asthma"], "criteria.0.window.start": 0, "criteria.0.window.end": 0},
    ),
    # the database named in the question is the mart the request goes to, never a concept
    ("Eunomia에서 hydrocodone 처방 당시 65세 이상인 환자", {"index.concepts.terms": ["hydrocodone"]}),
    ("In Eunomia, patients on hydrocodone aged 65 or older", {"index.concepts.terms": ["hydrocodone"]}),
    (
        "Eunomia / 코호트 진입: Appendicitis(74400008, 하위 포함) / 포함 기준: 인덱스 0~1일 "
        "Appendectomy(80146002) 1회 이상",
        {"index.concepts.terms": ["Appendicitis"], "criteria.0.window.end": 1, "criteria.1": "absent"},
    ),
    # OHDSI ATLAS's words inside sentences
    (
        "HF dx (I50) as cohort entry, then a PCI any time after entry",
        {"index.concepts.terms": ["I50"], "criteria.0.window.start": 0},
    ),
    (
        "코호트 진입 이벤트: 허혈성 심질환(I20–I25, descendants 포함) condition_occurrence, 2021-01-01 ~ "
        "2021-12-31\n인구학적 기준: 인덱스일 기준 70세 이상, 남성",
        {"index.date_range.end": "2021-12-31", "demographics.age_min": 70, "demographics.sexes": ["male"]},
    ),
    (
        "코호트 진입 이벤트: 심근경색(ICD-10 I21, I22)의 첫 발생\n포함 기준 1: 인덱스일 기준 0일 ~ 30일 "
        "사이 PCI (ICD9Proc 00.66, 36.06, 36.07) 1회 이상\n대상 도메인: condition_occurrence, "
        "procedure_occurrence",
        {"index.first_occurrence": True, "criteria.0.domain": "procedure", "criteria.0.window.end": 30},
    ),
    # an order is the event it names
    (
        "pts with a potassium of 5.0 or higher within 30 days after a lisinopril or losartan order",
        {"index.concepts.terms": ["lisinopril", "losartan"], "criteria.0.window.end": 30},
    ),
    ("stroke patients with a head CT order on the day of the stroke", {"criteria.1": "absent"}),
    # day ranges as protocols write them; phrases that say a rule again
    (
        "HF dx (I50) as cohort entry, then 2 or more inpatient admissions (IP or ER->IP) from day 1 to day "
        "365 after",
        {
            "criteria.0.visit_concept_ids": [9201, 262],
            "criteria.0.window.start": 1,
            "criteria.0.window.end": 365,
        },
    ),
    (
        "MIs from last year that got admitted same day or next day (inpatient incl ER->IP)",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 1, "criteria.1": "absent"},
    ),
    ("first-ever OA dx before age 40", {"demographics.age_max": 39, "index.first_occurrence": True}),
    (
        "Afib pts who were 75 or older when dx'd and got warfarin on or after the afib dx",
        {"demographics.age_min": 75},
    ),
    (
        "Diabetes educator request: pts with an A1c of 9 or above at least x2 during 2024.",
        {"criteria.0.occurrence.count": 2, "criteria.0.date_range.start": "2024-01-01"},
    ),
    (
        "first stroke and then another stroke at least thirty days after the first one",
        {"criteria.0.window.start": 30, "criteria.0.window.anchor": "index"},
    ),
    (
        "Could you find pts whose very first inpatient admission in our system was in 2025?",
        {"index.first_occurrence": True, "criteria": []},
    ),
    (
        "How many of our STEMI pts expired within 30 days after the STEMI? Please send the pt list.",
        {"criteria.0.domain": "death", "criteria.1": "absent"},
    ),
    # a written range of procedure codes is every code in it, never its two ends; a claim is the procedure
    (
        "angina patients with coronary arteriography (88.55-88.57) within 30 days",
        {"criteria.0.concepts.terms": ["88.55", "88.56", "88.57"]},
    ),
    (
        "Troponin I(10839-9) 1.0 ng/mL 초과 나온 날부터 1일 이내에 관상동맥조영술(CAG, 88.55~88.57) 한 환자",
        {"criteria.0.concepts.terms": ["88.55", "88.56", "88.57"], "criteria.0.window.end": 1},
    ),
    (
        "C16 상병 있는 사람 중에 위 절제 수술(43.5~43.9) 청구가 한 번도 없는 사람 뽑아주세요",
        {"criteria.0.concepts.terms": ["43.5", "43.6", "43.7", "43.8", "43.9"], "criteria.1": "absent"},
    ),
    # 'x3' after a procedure is what was done (a triple bypass), never a count; 'in that order' is no order
    ("CABG x3 (36.13) in 2021, age 65+.", {"index.concepts.terms": ["36.13"], "criteria": []}),
    (
        "GI bleed (K92.0-K92.2) dx'd 2022-2023 -> PRBCs (99.04) the same day -> then endoscopic hemostasis "
        "(44.43) within 2 days after the transfusion. need the chain in that order",
        {"criteria.0.concepts.terms": ["99.04"], "criteria.0.window.end": 0},
    ),
    # 'first-ever' said after its event is that event's, never the next rule's; a bare 'first' before
    # 'then' is an order; 'earliest event per person' is the first-ever event
    (
        "warfarin users, first-ever, with an INR > 3 between 1 and 90 days after the warfarin",
        {"index.first_occurrence": True, "criteria.0.first_occurrence": False},
    ),
    (
        "drug exposure of warfarin, earliest event per person, with an INR > 3 within 90 days",
        {"index.concepts.terms": ["warfarin"], "index.first_occurrence": True},
    ),
    (
        "warfarin (first ever) with INR > 3 within 90 days",
        {"index.first_occurrence": True, "criteria.0.first_occurrence": False},
    ),
    (
        "stroke first, then alteplase within 1 day",
        {"index.first_occurrence": False, "criteria.0.first_occurrence": False},
    ),
    # the index counted among its own events
    (
        "중이염 진단 후 1년 안에 중이염이 인덱스 포함 3회 이상 기록된 소아",
        {"criteria.0.occurrence.count": 3, "criteria.0.window.end": 365},
    ),
    # --- session 11 (batch 16)
    # 'N days prior to X' keeps X's day, as 'N days before X' (bare 'prior to X' does not)
    (
        "AF patients with no warfarin in the 365 days prior to diagnosis",
        {"criteria.0.window.start": -365, "criteria.0.window.end": 0},
    ),
    ("AF patients with no warfarin prior to diagnosis", {"criteria.0.window.end": -1}),
    # '처방 직전 30일', '처방일 기준 직전 30일': the 30 days before that prescription, not before today
    (
        "메트포르민 처방일 기준 직전 30일 안에 측정한 크레아티닌이 1.5 mg/dL 이상이었던 환자",
        {"index.date_range": None, "criteria.0.window.start": -30, "criteria.0.window.end": 0},
    ),
    (
        "심근경색 진단 직전 7일 이내 응급실 방문한 환자",
        {"index.date_range": None, "criteria.0.window.start": -7, "criteria.0.window.end": 0},
    ),
    ("직전 30일 동안 입원한 환자", {"index.date_range.start": "2025-06-01"}),
    # 'coronary angiography' is the procedure of the term table; its images only as images
    (
        "MI patients with 2 or more coronary angiograms",
        {"criteria.0.domain": "procedure", "criteria.0.occurrence.count": 2},
    ),
    ("CAG 받은 심근경색 환자", {"criteria.0.domain": "procedure", "criteria.0.concepts.terms": ["CAG"]}),
    ("심근경색 환자의 관상동맥조영술 영상", {"imaging.modalities": ["XA"], "criteria": []}),
    (
        "patients who had PCI in 2023; export their coronary angiograms within 1 day before the PCI",
        {"imaging.modalities": ["XA"], "imaging.body_parts": ["HEART"], "criteria": []},
    ),
    (
        "급성 심근경색 진단 당일 관상동맥조영(XA) 영상이 있고, 그 조영 후 3일 이내 PCI 시행한 환자",
        {"criteria.0.domain": "imaging", "criteria.1.window.anchor": "imaging", "criteria.2": "absent"},
    ),
    # English as a second language: 'take' / 'took … CT' = had, 'diagnose' = the diagnosis, 'in 2023 year',
    # 'under 60 age'; 'initiation' = the drug's start; 'followed within N days by X'
    (
        "Cerebral infarction patient who take brain MRI at same day of the diagnosis",
        {"criteria.0.domain": "imaging", "criteria.0.window.end": 0},
    ),
    (
        "patient who had MI between 2019 and 2020, and did not take any statin within 30 days after MI",
        {"criteria.0.domain": "drug", "criteria.0.occurrence.count": 0, "criteria.0.window.end": 30},
    ),
    (
        "Acute appendicitis patients who had appendectomy within 3 days after diagnose",
        {"index.concepts.terms": ["Acute appendicitis"], "criteria.0.window.end": 3, "criteria.1": "absent"},
    ),
    ("female lung ca patient under 60 age, who got lobectomy", {"demographics.age_max": 59}),
    ("women over the age of 65 with asthma", {"demographics.age_min": 66}),
    (
        "Please find patient who diagnosed MI in 2023 year and get PCI within 7 days after the MI.",
        {"index.date_range.start": "2023-01-01", "criteria.0.window.end": 7},
    ),
    (
        "Warfarin initiators (first-ever warfarin dispensing) with at least one INR > 3.0 within 90 days "
        "after initiation.",
        {"criteria.0.domain": "measurement", "criteria.0.window.end": 90, "criteria.1": "absent"},
    ),
    (
        "Gallstone or acute cholecystitis followed within 7 days by a cholecystectomy "
        "(open or laparoscopic).",
        {"criteria.0.domain": "procedure", "criteria.0.window.start": 0, "criteria.0.window.end": 7},
    ),
    (
        "INR monitoring: first-ever warfarin users with 3 or more INR tests in the 365 days after "
        "initiation.",
        {"index.first_occurrence": True, "criteria.0.occurrence.count": 3},
    ),
    # the passive of care, and 'same-day X'
    (
        "Newly diagnosed A-fib patient at 2022, and warfarin is started within 1 month after the diagnosis",
        {"criteria.0.domain": "drug", "criteria.0.window.end": 30},
    ),
    (
        "LDL 160 or more patients, but statin is not started within 6 month after that LDL test",
        {"criteria.0.occurrence.count": 0, "criteria.0.window.end": 180},
    ),
    ("MI with same-day PCI", {"criteria.0.window.start": 0, "criteria.0.window.end": 0}),
    (
        "MI patients with a same-day coronary angiography",
        {"criteria.0.concepts.terms": ["coronary angiography"], "criteria.0.window.end": 0},
    ),
    # a window after two events of different kinds joined by 'and' is both's (as for two of one kind); not
    # the index's, and not a death's ('had a PCI and died within 30 days' is a sequence)
    (
        "MI patients who had a PCI and an echo within 30 days after the diagnosis",
        {"criteria.0.window.end": 30, "criteria.1.window.end": 30},
    ),
    (
        "heart failure patients who had an echo and an NT-proBNP over 1000 within 30 days of the diagnosis",
        {"criteria.0.window.start": -30, "criteria.1.window.start": -30},
    ),
    ("MI patients who had a PCI and died within 30 days", {"criteria.0.window.end": None}),
    # 'go up to 2.0 or more', 'fell to 8 or lower', 'is happen', 'trastuzumab(Herceptin)'
    (
        "Patients creatinine go up to 2.0 or more within 7 days after coronary angiography (contrast "
        "nephropathy check)",
        {"criteria.0.value.op": ">=", "criteria.0.value.value": 2.0, "criteria.0.window.end": 7},
    ),
    (
        "Patients whose hemoglobin fell to 8 or lower within 3 days after the bleed",
        {"criteria.0.value.op": "<=", "criteria.0.value.value": 8.0},
    ),
    (
        "patient who take clopidogrel, and GI bleeding is happen within 90 days from the clopidogrel start",
        {"criteria.0.domain": "condition", "criteria.0.window.end": 90},
    ),
    (
        "Breast cancer woman under age 50 who received trastuzumab(Herceptin) after the diagnosis",
        {"demographics.age_max": 49, "criteria.0.concepts.terms": ["trastuzumab", "Herceptin"]},
    ),
    # '(including descendant concepts)', '(incl. childhood asthma)' (a word, not 'child' codes),
    # '-containing inhaler', Korean '(투약 중단 의심)', '- 약물 이상반응 의심 건으로 확인 부탁드립니다'
    # (what the request checks for)
    (
        "Osteoporosis (including descendant concepts) followed by alendronate within 90 days after the "
        "diagnosis.",
        {"index.concepts.terms": ["Osteoporosis"]},
    ),
    (
        "Asthma (incl. childhood asthma) patients with a fluticasone-containing inhaler dispensed on or "
        "after the asthma diagnosis.",
        {
            "index.concepts.terms": ["Asthma", "childhood asthma"],
            "criteria.0.concepts.terms": ["fluticasone"],
        },
    ),
    (
        "ticagrelor 처방 후 180일 안에 급성 출혈후 빈혈(D62) 진단된 환자 - 약물 이상반응 의심 건으로 확인 "
        "부탁드립니다",
        {"criteria.0.window.end": 180, "criteria.1": "absent"},
    ),
    (
        "2023년에 와파린 처방받았는데 그 처방 다음날부터 180일 동안 와파린 재처방이 없는 환자 "
        "(투약 중단 의심) 찾아주세요",
        {"criteria.0.occurrence.count": 0, "criteria.1": "absent"},
    ),
    # a rule said as a duty ('must have', 'should also be on that day'); 'pre-op X' with its window;
    # '(any lobectomy code)', '(end-of-life imaging set)'
    (
        "Headache patients seen in the ER who had a head CT on the same day as the headache diagnosis. ER "
        "visit should also be on that day.",
        # the ER visit at any time and the ER visit that day are one visit, that day's
        {"criteria.0.domain": "visit", "criteria.0.window.end": 0, "criteria.2": "absent"},
    ),
    (
        "Lung lobectomy patients (any lobectomy code) with a pre-op chest CT within 90 days before surgery "
        "AND a post-op chest CT 180-365 days after surgery. Want pre/post pairs.",
        {"criteria.0.window.start": -90, "criteria.1.window.start": 180, "criteria.2": "absent"},
    ),
    (
        "lung cancer patients who died after their diagnosis, with a chest CT acquired within 90 days "
        "before death (end-of-life imaging set)",
        {"criteria.1.window.anchor": "death", "criteria.2": "absent"},
    ),
    # '응급실로 내원한 폐렴 환자': the pneumonia of that ER visit (its day);
    # '응급실 방문 이력이 있는' any time
    (
        "응급실로 내원한 폐렴 환자 중 같은 날 흉부 엑스레이 찍은 사람",
        {"index.domain": "visit", "criteria.0.concepts.terms": ["폐렴"], "criteria.0.window.end": 0},
    ),
    ("응급실 방문 이력이 있는 폐렴 환자", {"index.domain": "condition", "criteria.0.window.start": None}),
    # Korean: '혈소판 수치', '재처방' (another prescription), '3개 다' (all of them), a drug's 'loading'
    ("헤파린 투여 후 14일 이내 혈소판 수치 100 미만으로 떨어진 환자", {"criteria.0.value.value": 100.0}),
    (
        "2023년에 와파린 처방받았는데 그 처방 다음날부터 180일 동안 와파린 재처방이 없는 환자",
        {"criteria.0.window.start": 1, "criteria.0.window.end": 180, "criteria.0.occurrence.count": 0},
    ),
    (
        "고혈압, 당뇨, 고지혈증 3개 다 진단받은 환자 뽑아주세요",
        {"criteria.1.concepts.terms": ["고지혈증"], "criteria.2": "absent"},
    ),
    ("STEMI 진단 당일에 티카그렐러 loading 들어간 환자 조회해주세요", {"criteria.1": "absent"}),
    ("STEMI 진단 당일에 바로 PCI 들어간 환자 (primary PCI 건) 추출해주세요", {"criteria.1": "absent"}),
    # a prediction model's training cohort is a cohort request (asking for a prediction is refused)
    (
        "폐암 예후 예측 모델 학습용 코호트 요청드립니다. 폐암 진단 후에 흉부 CT를 찍었고, "
        "그 CT 촬영일로부터 1년 이내에 사망한 환자로 뽑아주세요.",
        {"criteria.1.domain": "death", "criteria.1.window.anchor": "imaging"},
    ),
    # session 12. Korean: a window said before two verbs joined by '-고' is both's (not a death's or a
    # negated one's); a date said of the event just named ('진단받은 게 2022년인'); '관상동맥 CT'; '23년도'
    (
        "심부전 진단 전후 30일 내에 심초음파도 찍고 NT-proBNP가 1000 pg/mL 이상 나온 환자",
        {"criteria.1.window.start": -30, "criteria.1.window.end": 30},
    ),
    (
        "심근경색 진단 후 30일 이내 PCI 받고 사망한 환자",
        {"criteria.1.domain": "death", "criteria.1.window.end": None},
    ),
    (
        "심근경색 진단 후 30일 이내 PCI 받고 스타틴 처방 안 받은 환자",
        {"criteria.1.occurrence.count": 0, "criteria.1.window.end": None},
    ),
    (
        "뇌경색을 처음 진단받은 게 2022년인 환자들 중에서요, 진단일로부터 30일 안에 뇌 MRI를 찍은 사람",
        {"index.date_range.start": "2022-01-01", "criteria.0.date_range": None},
    ),
    ("coronary CTA 찍은 당뇨 환자", {"criteria.0.imaging.body_parts": ["HEART"]}),
    ("23년도 흉부 CT 촬영자 뽑아줘요", {"index.date_range.end": "2023-12-31"}),
    # English: day numbers as analysts write them ('-30..0', 'd0-d30', 'POD14–POD90')
    ("GI bleed w/ NSAID -30..0", {"criteria.0.window.start": -30, "criteria.0.window.end": 0}),
    ("MI with statin d0-d30", {"criteria.0.window.start": 0, "criteria.0.window.end": 30}),
    (
        "colectomy → adjuvant chemo infusion (99.25) on POD14–POD90",
        {"criteria.0.window.start": 14, "criteria.0.window.end": 90},
    ),
    # a bracket naming the members of the mention before it, past an event word or a window
    (
        "adults with an LDL of 160 or higher and NO statin prescription (atorvastatin or rosuvastatin) "
        "within the 90 days after that result",
        {"criteria.0.window.end": 90, "criteria.0.occurrence.count": 0, "criteria.1": "absent"},
    ),
    (
        "stroke patients with no brain imaging at all (neither head CT nor brain MRI) within 2 days after "
        "the diagnosis",
        {"criteria.0.imaging.modalities": ["CT", "MR"], "criteria.0.window.end": 2, "criteria.1": "absent"},
    ),
    # feasibility and chat shorthand: 'Estimated count of', 'on/before', 'w/in 1y of X (after)', 'F, 20-29',
    # '>=65 at dx', '(epilepsy included)', 'the last calendar year'
    ("Estimated count of patients aged 75+ diagnosed with pneumonia in 2023.", {"demographics.age_min": 75}),
    (
        "colectomy pts w/ colon ca dx on/before the op",
        {"criteria.0.window.start": None, "criteria.0.window.end": 0},
    ),
    (
        "AF → ischemic stroke w/in 1y of the AF dx (after)",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 365},
    ),
    ("depression dx (F32) in 2023, F, 20-29", {"demographics.age_min": 20, "demographics.age_max": 29}),
    ("first-ever ischemic stroke, dx 2021–2023, F only, >=65 at dx", {"demographics.age_min": 65}),
    ("PRBC with Hb <7 at admission", {"demographics.age_max": None, "criteria.1.value.value": 7.0}),
    (
        "seizure disorder (epilepsy included) in 2023",
        {"index.concepts.terms": ["seizure disorder", "epilepsy"]},
    ),
    (
        "patients diagnosed with acute bronchitis during the last calendar year",
        {"index.date_range.end": "2024-12-31"},
    ),
    # '(i.e. −30..0 from the gastrectomy date)' says the window again; a title the rules say again
    (
        "Inclusion: gastric cancer (C16.x); partial gastrectomy (ICD-9 43.5–43.7) within 90 days after the "
        "diagnosis; CEA measured within 30 days before that surgery (i.e. −30..0 from the gastrectomy date).",
        {"criteria.1.window.anchor": "procedure", "criteria.2": "absent"},
    ),
    (
        "CAP seen in the ED: • pneumonia dx (J18) same day as an ER visit • age >= 65 • amoxicillin d0-d3",
        {"index.domain": "visit", "criteria.0.concepts.terms": ["J18"], "criteria.2": "absent"},
    ),
    # Korean questionnaires: '[…]' titles, '귀 기관에서', 'Q1.', numbered items ('1. …', '①'), their closing
    # ('①, ②를 모두 충족하는 환자 수를 알려주십시오'); '따로', '이것도 가능할까요', '누적 5회', 'XA'
    (
        "[임상시험 실시기관 타당성 조사] 안녕하십니까. 귀 기관의 대상자 모집 가능성 검토를 위해 아래 "
        "조건에 해당하는 "
        "환자 수를 알려주시기 바랍니다.\n1. 2023년 1월 1일부터 2023년 12월 31일 사이 급성 심근경색(ICD-10 "
        "I21, I22)으로 "
        "진단받은 환자\n2. 진단일로부터 30일 이내에 경피적 관상동맥중재술(PCI)을 받은 환자",
        {"index.date_range.start": "2023-01-01", "criteria.0.window.end": 30, "criteria.1": "absent"},
    ),
    (
        "고혈압 임상시험 타당성 검토 자료 요청드립니다. ① 2024년에 본태성 고혈압(I10) 진단 기록이 있는 "
        "환자 ② 해당 "
        "진단일로부터 1년 이내에 수축기 혈압 160 mmHg 이상이 2회 이상 측정된 환자 ①, ②를 모두 충족하는 "
        "환자 수를 "
        "알려주십시오.",
        {"criteria.0.occurrence.count": 2, "criteria.0.window.end": 365, "criteria.1": "absent"},
    ),
    (
        "1. 대상 기간: 2021년 1월 1일 ~ 2022년 12월 31일 2. 대상 질환: ST분절 상승 심근경색(STEMI, "
        "I21.0~I21.3) "
        "3. 조건: 진단 당일 PCI 시행 위 조건에 해당하는 환자 수를 알려주시기 바랍니다.",
        {"index.date_range.end": "2022-12-31", "criteria.0.window.end": 0, "criteria.1": "absent"},
    ),
    (
        "[Feasibility 설문] Q1. 뇌혈관사고(cerebrovascular accident) 진단 당일 alteplase를 투여받은 환자 "
        "수는 "
        "몇 명입니까?",
        {"criteria.0.concepts.terms": ["alteplase"], "criteria.1": "absent"},
    ),
    ("귀 기관에서 심방세동(I48) 진단 후 와파린을 처방받은 환자 수", {"criteria.0.window.start": 0}),
    (
        "혹시 2023년에 심근경색 진단받은 65세 이상 여자 환자분들만 따로 뽑아볼 수 있을까요?",
        {"criteria.0": "absent"},
    ),
    (
        "심근경색 진단 후 일주일 이내에 아스피린이랑 클로피도그렐 둘 다 처방받은 환자를 보고 싶은데요, "
        "이것도 "
        "가능할까요?",
        {"criteria.1.window.end": 7, "criteria.2": "absent"},
    ),
    (
        "폐암 환자 중 흉부 CT를 누적 5회 이상 찍은 환자 리스트",
        {"criteria.0.occurrence.count": 5, "criteria.1": "absent"},
    ),
    ("급성 심근경색 진단 받은 날 바로 XA 촬영한 환자", {"criteria.0.imaging.modalities": ["XA"]}),
    # English shorthand: 'in the preceding 90d (-90..0)', 'on the day of or day before', '≤90d after',
    # '(any time after)', 'L-spine XRs', '2022Q1'
    (
        "glargine rx'd w/ A1c >= 10% in the preceding 90d (-90..0)",
        {"criteria.0.window.start": -90, "criteria.0.window.end": 0},
    ),
    (
        "PRBC transfusions w/ Hb < 7 on the day of or day before (-1..0)",
        {"criteria.0.window.start": -1, "criteria.0.window.end": 0},
    ),
    (
        "gastric ca: C16 dx → gastrectomy ≤90d after dx",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 90},
    ),
    ("breast ca, F, got trastuzumab after dx (any time after)", {"criteria.0.window.start": 0}),
    (
        "low back pain (M54.5x) → >=2 L-spine XRs w/in 365d after",
        {"criteria.0.imaging.body_parts": ["LSPINE"], "criteria.0.occurrence.count": 2},
    ),
    ("incident T2DM 2022Q1 (first E11 ever)", {"index.date_range.end": "2022-03-31"}),
    # a lay gloss of a known name in brackets; a class said before its member ('… 약 중에 와파린은')
    (
        "appendicitis with a CRP (inflammation blood test) of 50 or more within 1 day of the diagnosis",
        {"criteria.0.concepts.terms": ["CRP"], "criteria.1": "absent"},
    ),
    (
        "stroke patients who got alteplase (the clot-dissolving drug) on the same day as the stroke",
        {"criteria.0.concepts.terms": ["alteplase"], "criteria.1": "absent"},
    ),
    (
        "심방세동 있는 분들 중에서 피 묽게 하는 약 중에 와파린은 한 번도 처방 안 받은 사람만 뽑을 수 "
        "있을까요?",
        {"criteria.0.concepts.terms": ["와파린"], "criteria.0.occurrence.count": 0, "criteria.1": "absent"},
    ),
    (
        "스타틴 중에 아토르바스타틴을 처방받은 환자",
        {"index.concepts.terms": ["아토르바스타틴"], "criteria.0": "absent"},
    ),
    ("항응고 치료를 받지 않은 심방세동 환자", {"criteria.0.concepts.terms": ["항응고 치료"]}),
    (
        "Alzheimer's disease patients (early-onset familial forms included) who received donepezil within a "
        "year after the diagnosis.",
        {"index.concepts.terms": ["Alzheimer's disease"], "criteria.1": "absent"},
    ),
    (
        "HF pts (I50) dx'd in 2023 who were still alive a yr later - i.e. no death in the 365 days after "
        "the dx",
        # the rule said twice (the plain words, then the 'i.e.') is one rule
        {
            "criteria.0.domain": "death",
            "criteria.0.occurrence.count": 0,
            "criteria.0.window.end": 365,
            "criteria.1": "absent",
        },
    ),
    (
        "Patients newly diagnosed with atrial fibrillation or flutter in 2021",
        {"index.concepts.terms": ["atrial fibrillation", "flutter"], "index.first_occurrence": True},
    ),
    # --- session 13 (batch 18's open half)
    # 'prior' after a span of days is 'before' (it had been read as the days after)
    (
        "PCI in 2023 with a statin in the 90 days prior",
        {"criteria.0.window.start": -90, "criteria.0.window.end": 0},
    ),
    (
        "PCI procedures done in 2023 where the patient had a previous PCI in the 365 days prior (not "
        "counting "
        "the same day)",
        {"criteria.0.window.start": -365, "criteria.0.window.end": -1},
    ),
    ("PCI in 2023 with prior MI", {"criteria.0.window.start": None, "criteria.0.window.end": -1}),
    # how many, in managers' words
    ("Lung cancer patients who had a lobectomy - what's the headcount?", {"criteria.0.domain": "procedure"}),
    (
        "Heart attack volume for last year - how many distinct patients?",
        {"index.date_range.start": "2024-01-01", "criteria": []},
    ),
    ("patients with a urine volume below 400", {"index.domain": "measurement"}),
    (
        "Nephrology here. Can you pull the patients coded with type 2 diabetes with diabetic CKD "
        "(E11.22) whose "
        "serum creatinine reached 2.0 mg/dL or higher at any point after that diagnosis?",
        {"criteria.0.value.op": ">=", "criteria.0.value.value": 2.0},
    ),
    (
        "Index event: endovascular thrombectomy (ICD-9-CM 39.74). Keep cases with an ischemic stroke "
        "diagnosis "
        "on the same day, patient over 80 at the procedure.",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 0, "demographics.age_min": 81},
    ),
    (
        "Osteoporosis diagnoses with a DEXA (bone density scan) in the 90 days up to and including the "
        "diagnosis date",
        {"criteria.0.window.start": -90, "criteria.0.window.end": 0},
    ),
    (
        "Patients newly diagnosed with type 2 diabetes in 2021 - meaning their first ever diabetes diagnosis "
        "was in 2021 - who were started on metformin within 90 days.",
        {"index.first_occurrence": True, "criteria.0.window.end": 90, "criteria.1": "absent"},
    ),
    (
        "For last fiscal year, i.e. calendar 2022: how many patients had a CABG?",
        {"index.date_range.start": "2022-01-01", "index.date_range.end": "2022-12-31"},
    ),
    # Korean: the people a clause leaves out are left out, never the event before it
    (
        "뇌경색 진단 후 1일 이내에 알테플라제를 투여받은 환자를 대상으로 하였으며, 진단 당시 80세 "
        "이상인 자는 "
        "제외하였다.",
        {"demographics.age_max": 79, "criteria.0.occurrence.type": "at_least"},
    ),
    (
        "2023년 위암 진단 후 위절제술을 받은 환자 중 여성은 제외",
        {"demographics.sexes": ["male"], "criteria.0.occurrence.type": "at_least"},
    ),
    (
        "뇌경색 진단 후 1일 이내에 알테플라제를 투여받은 환자 중 18세 미만은 연구 대상에서 제외하였다",
        {"demographics.age_min": 18, "criteria.0.occurrence.type": "at_least"},
    ),
    # a methods section's name for the group it defines is the cohort itself
    (
        "와파린 처방 후 180일 이내에 INR 3.0 이상이 2회 이상 측정된 환자를 출혈 고위험군으로 "
        "정의하였다. 해당 "
        "환자 뽑아주세요.",
        {"criteria.0.domain": "measurement", "criteria.0.occurrence.count": 2, "criteria.1": "absent"},
    ),
    (
        "LDL 콜레스테롤이 190 mg/dL 이상으로 측정된 날을 기준일로 하였고, 기준일로부터 180일 이내에 스타틴 "
        "처방이 없었던 환자를 미치료군으로 정의하였다. 미치료군 환자 리스트 부탁드려요.",
        {"index.domain": "measurement", "criteria.0.occurrence.count": 0, "criteria.1": "absent"},
    ),
    (
        "심부전으로 처음 진단받은 환자를 대상으로 하였고, 진단 후 1년 이내 외래 방문 횟수가 6회 이상인 "
        "환자를 "
        "외래 추적 순응군으로 정의하였다.",
        {"criteria.0.occurrence.count": 6, "criteria.1": "absent"},
    ),
    # a kind of event said to count too, already inside the event named
    (
        "2024년 한 해 동안 입원 2회 이상인 환자 명단 뽑아주세요. 응급실 경유 입원도 입원으로 카운트해주세요.",
        {"criteria.0.occurrence.count": 2, "criteria.1": "absent"},
    ),
    ("심방세동 환자 중 와파린 미복용자", {"criteria.0.domain": "drug", "criteria.0.occurrence.count": 0}),
    (
        "PCI 시행 후 1년 내에 clopidogrel, ticagrelor 처방 기록이 하나도 없는 환자 - 심사팀 확인용입니다",
        {"criteria.0.occurrence.count": 0, "criteria.1": "absent"},
    ),
    # who asks, and what for, are read past; '실인원' is how many persons
    (
        "안녕하세요, 신장내과 전공의입니다. 당뇨병 환자 중 HbA1c 9% 이상 나온 적 있는 환자 실인원으로 "
        "부탁드려요.",
        {"criteria.0.domain": "measurement"},
    ),
    (
        "뇌경색 진단 후 30일 이내 사망한 환자 뽑아주세요. 적정성평가 자료로 필요합니다.",
        {"criteria.0.domain": "death", "criteria.0.window.end": 30},
    ),
    (
        "대장암 진단 환자 중에서 대장절제술을 한 번도 안 받은 환자만 뽑아주세요. 기간 제한 없이 전체 "
        "기준입니다.",
        {"criteria.0.occurrence.count": 0, "criteria.0.window.start": None},
    ),
    # 'pre-'/'post-' after a span of days are its direction; 'in the last N days before X' counts from X
    (
        "CABG patients with an echo within 30 days pre-CABG",
        {"criteria.0.window.start": -30, "criteria.0.window.end": 0, "criteria.1": "absent"},
    ),
    (
        "CABG patients with an echo within 30 days post-operatively",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 30, "criteria.1": "absent"},
    ),
    (
        "PCI patients with a statin in the last 90 days before the PCI",
        {"criteria.0.window.start": -90, "criteria.0.window.end": 0, "criteria.0.date_range": None},
    ),
    # counts and deaths said as adjectives
    (
        "MI patients with only one PCI",
        {"criteria.0.occurrence.type": "exactly", "criteria.0.occurrence.count": 1},
    ),
    (
        "30-day mortality after MI",
        {"criteria.0.domain": "death", "criteria.0.window.start": 0, "criteria.0.window.end": 30},
    ),
    (
        "statin-naive MI patients",
        {"index.domain": "condition", "criteria.0.occurrence.count": 0, "criteria.0.window.end": -1},
    ),
    # Korean spans said in one word, '직전' after an English name, and a count's bound said before it
    (
        "PCI 받은 환자 중 PCI 직전 90일 이내 스타틴 처방받은 환자",
        {"index.date_range": None, "criteria.0.window.start": -90, "criteria.0.window.end": 0},
    ),
    ("PCI 받은 환자 중 시술 후 나흘 이내 스타틴 처방받은 환자", {"criteria.0.window.end": 4}),
    ("PCI 받은 환자 중 시술 후 반년 이내 스타틴 처방받은 환자", {"criteria.0.window.end": 180}),
    (
        "심근경색 환자 중 PCI를 최대 2번 받은 환자",
        {"criteria.0.occurrence.type": "at_most", "criteria.0.occurrence.count": 2, "criteria.1": "absent"},
    ),
    # '±N' is both sides (it had been read past, leaving the days after)
    (
        "PCI 시행일 ±30일 이내 스타틴 처방받은 환자",
        {"criteria.0.window.start": -30, "criteria.0.window.end": 30},
    ),
    (
        "MI patients with a statin within +/- 30 days",
        {"criteria.0.window.start": -30, "criteria.0.window.end": 30},
    ),
    # a bracket that says the window just given again; a methods section's group named before its definition
    (
        "충수염 진단 당일 또는 다음 날(진단 후 1일 이내) 충수절제술을 받은 환자",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 1, "criteria.1": "absent"},
    ),
    (
        "대장암(C18) 환자 중 보조항암화학요법 시행군은 진단 후 1년 이내 옥살리플라틴(oxaliplatin) "
        "투여 기록이 3건 이상인 환자로 정의하였다.",
        {"criteria.0.domain": "drug", "criteria.0.occurrence.count": 3, "criteria.1": "absent"},
    ),
    # an MR angiogram is one MR study (it had been an MR study and a catheter angiogram as well)
    (
        "stroke patients with an MR angiogram",
        {"criteria.0.imaging.modalities": ["MR"], "criteria.1": "absent"},
    ),
    # a refill is a second fill
    ("AF patients with a refill of warfarin", {"criteria.0.occurrence.count": 2}),
    (
        "작년 입원 환자 명단 뽑아주세요 (건수 말고 실인원 기준)",
        {"index.date_range.start": "2024-01-01", "criteria": []},
    ),
    # --- session 14 (batch 19's open half)
    # an either-or list after 'after' / 'of' is the anchor, all of it (only its first name had been, the
    # rest a rule of its own at any time)
    (
        "patients who died within 7 days after a CABG, gastrectomy, colectomy or mastectomy",
        {
            "index.concepts.terms": ["CABG", "gastrectomy", "colectomy", "mastectomy"],
            "criteria.0.domain": "death",
            "criteria.0.window.end": 7,
            "criteria.1": "absent",
        },
    ),
    (
        "deaths within 7 days of MI, stroke, or GI bleeding",
        {"index.concepts.terms": ["MI", "stroke", "GI bleeding"], "criteria.1": "absent"},
    ),
    # post-operative days
    (
        "CABG patients with a creatinine of 1.5 or more on post-op day 2",
        {"criteria.0.window.start": 2, "criteria.0.window.end": 2, "criteria.1": "absent"},
    ),
    ("CABG patients who died by POD 30", {"criteria.0.window.start": 0, "criteria.0.window.end": 30}),
    (
        "Periop deaths: anyone who died between the op date and POD 7 after a CABG or colectomy",
        {
            "index.concepts.terms": ["CABG", "colectomy"],
            "criteria.0.domain": "death",
            "criteria.0.concepts.terms": [],  # the title's 'Periop' had been read as a cause of death
            "criteria.0.window.start": 0,
            "criteria.0.window.end": 7,
        },
    ),
    ("patients who died POD 1-7 after a CABG", {"criteria.0.window.start": 1, "criteria.0.window.end": 7}),
    # 'on or before the day of X' counts that day ('before the day of' alone does not)
    (
        "patients with an LDL of 190 or above and a hyperlipidemia diagnosis on or before the day of "
        "that LDL",
        {"criteria.0.window.start": None, "criteria.0.window.end": 0},
    ),
    # a bracket that spells a mention out is the mention (a 'no' in it had made three rules, the window on
    # the last only)
    (
        "patients who had a coronary angiogram with NO revascularization (no PCI and no CABG) within 30 days "
        "after the angiogram",
        {
            "criteria.0.concepts.terms": ["revascularization"],
            "criteria.0.occurrence.count": 0,
            "criteria.0.window.end": 30,
            "criteria.1": "absent",
        },
    ),
    # the words of a code's own name are no negation
    (
        "UTI, site not specified (N39.0) in women in 2024",
        {"index.concepts.terms": ["N39.0"], "criteria": []},
    ),
    # a plural of a one-word name
    ("Lobectomies done 2021-2023", {"index.domain": "procedure", "index.date_range.start": "2021-01-01"}),
    # requests passed on by whoever queues them, surveillance's words, the requester's words quoted
    ("The PI requests men over 50 with a PSA result greater than 3.0 ng/mL.", {"demographics.age_min": 51}),
    (
        "Investigator is asking for atrial fibrillation patients who started warfarin within 30 days after "
        "the AF diagnosis.",
        {"criteria.0.concepts.terms": ["warfarin"], "criteria.1": "absent"},
    ),
    (
        "Per protocol sec. 4.2: patients with atrial fibrillation who were started on warfarin within "
        "30 days.",
        {"criteria.0.window.end": 30},
    ),
    (
        "Reporting period = last calendar year. UTI (N39.0) in women over 65. Line list.",
        {"index.date_range.start": "2024-01-01", "demographics.age_min": 66, "criteria": []},
    ),
    (
        "Requester wants patients on metformin who were later started on insulin glargine. Their words: "
        '"the ones who failed oral therapy".',
        {"criteria.0.concepts.terms": ["insulin glargine"], "criteria.1": "absent"},
    ),
    (
        "연구책임자는 심근경색 진단 후 30일 이내 PCI를 받은 환자 명단을 요청함.",
        {"index.concepts.terms": ["심근경색"], "criteria.0.window.end": 30},
    ),
    (
        "신청자 요청 내용: 뇌졸중 진단일 당일 alteplase 투여된 환자.",
        {"criteria.0.concepts.terms": ["alteplase"], "criteria.0.window.end": 0},
    ),
    (
        "승인된 계획서 기준: 관상동맥우회술 후 30일 이내 사망 기록이 없는 환자 명단.",
        {"criteria.0.domain": "death", "criteria.0.occurrence.count": 0},
    ),
    (
        "충수절제술 시행 환자 중 수술 당일 ceftriaxone 투여 기록 있는 사례 확인 요청합니다.",
        {"criteria.0.concepts.terms": ["ceftriaxone"], "criteria.1": "absent"},
    ),
    (
        "충수염 진단 후 1일 이내 충수절제술 받은 환자 요청. 요청 사항 중 충수 파열 진단 기록이 "
        "있는 환자는 제외.",
        {"criteria.1.occurrence.count": 0, "criteria.2": "absent"},
    ),
    (
        "위암 진단 환자 중 위절제술 시행 기록이 전혀 없는 환자 명단 요청. 연구자 표현: "
        '"수술 안 하고 지켜본 위암 환자".',
        {"criteria.0.occurrence.count": 0, "criteria.1": "absent"},
    ),
    (
        "올해 입원한 환자 중 입원 당시 75세 이상인 환자 명단 요청함. 응급실 경유 입원 포함.",
        {"demographics.age_min": 75, "criteria": []},
    ),
    (
        "요로감염(N39.0) 신고 기간 2022-01-01~2022-06-30. 여성만 추출해 주세요.",
        {"index.date_range.start": "2022-01-01", "index.date_range.end": "2022-06-30"},
    ),
    (
        "간질 진단 환자 중 카르바마제핀 처방 기록 있는 환자 (처방 시점 무관)",
        {"criteria.0.window.start": None, "criteria.0.window.end": None, "criteria.1": "absent"},
    ),
    # 'i.e.' ends no sentence (the words before it had been taken for a note to the reader and dropped)
    (
        "pneumonia dx (J18) AND leukocytosis, i.e. WBC > 11.0 within 2 days of the diagnosis. Line list of "
        "confirmed cases",
        {"index.concepts.terms": ["J18"], "criteria.0.window.start": -2, "criteria.1": "absent"},
    ),
    # a diagnosis made in the ED is that visit's day ('ED-' had been dropped with the code's name)
    (
        "ED-diagnosed URI (J06) in children 5-11 yrs in 2021",
        {"criteria.0.domain": "visit", "criteria.0.window.start": 0, "criteria.0.window.end": 0},
    ),
    # '-는데' sets the next clause against the one with the window: both in those days
    (
        "CABG 수술 전 30일 이내 chest X-ray는 찍었는데 chest CT는 안 찍은 환자",
        {"criteria.1.occurrence.count": 0, "criteria.1.window.start": -30, "criteria.1.window.end": 0},
    ),
    # a bracket that dates an event named before it
    (
        "응급실 내원 당일 또는 다음 날 입원한 환자 (2023년 응급실 내원 기준).",
        {"index.date_range.start": "2023-01-01", "criteria.0.label": "admission", "criteria.1": "absent"},
    ),
    # windows written the way surveillance and perioperative requests write them
    (
        "Women 65+ with a UTI (N39.0) treated with amoxicillin on the day of diagnosis or up to 3 days "
        "after.",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 3},
    ),
    (
        "Asthma (J45.x) patients with a pneumonia diagnosis at any point after the asthma diagnosis (not the "
        "same day).",
        {"criteria.0.window.start": 1, "criteria.0.window.end": None},
    ),
    (
        "pneumonia dx with an inpatient visit the same day or the day after; age 65 or older at dx.",
        {"criteria.0.label": "admission", "criteria.0.window.start": 0, "criteria.0.window.end": 1},
    ),
    (
        "CABGs between 1 March and 31 August 2023 in patients 70 or older",
        {"index.date_range.start": "2023-03-01", "index.date_range.end": "2023-08-31"},
    ),
    (
        "post-thrombectomy deaths within 30 days",
        {"index.concepts.terms": ["thrombectomy"], "criteria.0.domain": "death", "criteria.0.window.end": 30},
    ),
    ("위절제술 op 다음날부터 90일 이내 재입원", {"criteria.0.window.start": 1, "criteria.0.window.end": 90}),
    (
        "PCI 받고 30일~1년 사이에 PCI 재시술 한 환자",
        {"criteria.0.concepts.terms": ["PCI"], "criteria.0.window.start": 30, "criteria.0.window.end": 365},
    ),
    (
        "사례 정의: 2024년 폐렴 신규 사례 (최초 진단이 2024년인 경우만, 과거 폐렴 이력자 제외), 진단일 기준 "
        "75세 이상.",
        {"index.first_occurrence": True, "criteria.0.occurrence.count": 0, "criteria.1": "absent"},
    ),
    # both ends said from the anchor, in Korean; 'before or after' in English
    (
        "뇌경색 진단 2일 전부터 2일 후까지 뇌 MRI 촬영한 환자",
        {"criteria.0.window.start": -2, "criteria.0.window.end": 2, "criteria.1": "absent"},
    ),
    ("뇌경색 진단 7일 전부터 진단 후 30일까지 뇌 MRI 촬영한 환자", {"criteria.0.window.start": -7}),
    ("PCI 시행 1년 전부터 시술 당일까지 스타틴 처방받은 환자", {"criteria.0.window.start": -365}),
    (
        "stroke patients with an MRI within 2 days before or after the stroke",
        {"criteria.0.window.start": -2, "criteria.0.window.end": 2},
    ),
    (
        "ischemic stroke patients who had a brain MRI within 3 days of the stroke diagnosis, either before "
        "or after.",
        {"criteria.0.window.start": -3, "criteria.0.window.end": 3},
    ),
    # '-는데' then 'never' ('한 번도'): the drug at no time, not only in the window said before
    (
        "골다공증 진단 후 골다공증성 병적 골절이 생겼는데 alendronate는 한 번도 처방받지 않은 환자",
        {"criteria.1.occurrence.count": 0, "criteria.1.window.start": None},
    ),
    # a drug's dosage form is the drug; one noun after two words joined by '/' makes two names
    (
        "asthma patients prescribed an albuterol inhaler",
        {"criteria.0.concepts.terms": ["albuterol"], "criteria.1": "absent"},
    ),
    (
        "천식 환자 중 albuterol 흡입기 처방받은 환자",
        {"criteria.0.concepts.terms": ["albuterol"], "criteria.1": "absent"},
    ),
    (
        "patients with hip/knee replacement in 2022",
        {"index.concepts.terms": ["hip replacement", "knee replacement"]},
    ),
    # 'that started in 2023' dates the event before it (the date had gone to the next event)
    (
        "Inpatient admissions that started in 2023, where the patient had another inpatient admission 1 to "
        "30 days after the index admission date",
        {"index.date_range.start": "2023-01-01", "criteria.0.date_range": None, "criteria.0.window.start": 1},
    ),
    # lay words for an operation; a 'frequent users' title the count after it spells out
    (
        "Appendicitis patients who had their appendix out within 1 day after diagnosis.",
        {"criteria.0.concepts.terms": ["appendectomy"], "criteria.0.window.end": 1},
    ),
    ("patients who had the gall bladder removed in 2022", {"index.concepts.terms": ["cholecystectomy"]}),
    (
        "Frequent ED users: patients with at least 3 emergency department visits during calendar year 2023.",
        {"criteria.0.occurrence.count": 3, "criteria.1": "absent"},
    ),
    # the day of an event or the day before; '전날~당일'; '당일 ~ N일 이내'; brackets saying the window again
    (
        "pts transfused PRBCs (99.04) w/ a Hgb < 8 the day of the transfusion or the day before",
        {"criteria.0.window.start": -1, "criteria.0.window.end": 0},
    ),
    (
        "XA 시행 전날~당일에 troponin I가 1 ng/mL 넘었던 환자",
        {"criteria.0.window.start": -1, "criteria.0.window.end": 0},
    ),
    (
        "Hb 7 g/dL 미만 측정일 기준 당일 ~ 1일 이내 packed RBC 수혈(99.04) 받은 환자",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 1},
    ),
    (
        "관상동맥경화증 진단 후 clopidogrel을 처방받은 대상자 (진단일 포함 이후 전체 기간).",
        {"criteria.0.window.start": 0, "criteria.0.window.end": None, "criteria.1": "absent"},
    ),
    # '소아천식' is a disease's name, not the patients' age ('소아 천식 환자' is both)
    ("천식 환자(소아천식 포함) 중 albuterol 흡입기 처방받은 환자", {"demographics.age_max": None}),
    ("소아 천식 환자", {"demographics.age_max": 17}),
    # Korean perioperative and data-steward wording
    (
        "TKA 후 POD 1~7일에 knee X-ray f/u 찍은 환자",
        {"criteria.0.window.start": 1, "criteria.0.window.end": 7, "criteria.1": "absent"},
    ),
    (
        "lap chole 후 POD 1~30일 사이에 oxycodone 성분 진통제 처방된 환자",
        {"criteria.0.concepts.terms": ["oxycodone"], "criteria.0.window.start": 1, "criteria.1": "absent"},
    ),
    (
        "발목 염좌 진단 후 일주일 이내 이부프로펜 또는 나프록센 처방된 환자. 제형·용량 구분 없이 성분 기준.",
        {"criteria.0.window.end": 7, "criteria.1": "absent"},
    ),
    (
        "심근경색 진단 후 30일 이내 사망한 환자 명단을 요청함. 사망 여부는 사망 테이블 기준.",
        {"criteria.0.domain": "death", "criteria.1": "absent"},
    ),
    (
        "관상동맥조영술 시행 후 30일 이내 PCI 시행 기록 없는 환자 요청. 조영술만 받고 중재술은 안 받은 "
        "경우를 보려는 목적임.",
        {"criteria.0.occurrence.count": 0, "criteria.1": "absent"},
    ),
    (
        "심방세동 진단 후 와파린을 처방받았고, 와파린 처방일로부터 90일 이내 INR 3.0 초과 소견이 있는 환자.",
        {"criteria.1.value.value": 3.0, "criteria.2": "absent"},
    ),
    (
        "입원일 기준 3~30일 사이에 폐렴 코드가 잡힌 입원 환자 명단 요청합니다. ER 경유 입원도 포함.",
        {"criteria.0.window.start": 3, "criteria.1": "absent"},
    ),
    (
        "MI 진단받고 한 달(30일) 안에 관상동맥 중재시술 받은 환자 목록.",
        {"criteria.0.concepts.terms": ["관상동맥 중재시술"], "criteria.0.window.end": 30},
    ),
    # titles and closing sentences that sum up the chain; brackets saying 'any product of the drug'
    (
        "Progression: acute upper respiratory infection (J06.x) followed by pneumonia (J18.x) 1-14 days "
        "later.",
        {"index.concepts.terms": ["J06"], "criteria.0.window.start": 1, "criteria.1": "absent"},
    ),
    (
        "Acute appendicitis (K35.x) -> CT abdomen on the day of diagnosis -> appendectomy (47.0x) within 2 "
        "days after that CT. Persons meeting the full sequence.",
        {"criteria.1.window.end": 2, "criteria.2": "absent"},
    ),
    (
        "Children under 12 with otitis media who were given amoxicillin (plain or with clavulanate) within 3 "
        "days after the otitis diagnosis.",
        {"criteria.0.concepts.terms": ["amoxicillin"], "criteria.1": "absent"},
    ),
    # session 15: an ICD-9 procedure code written alone; a study said again after 'that' / '그'
    (
        "patients with their first 99.25 infusion in 2023",
        {"index.concepts.terms": ["99.25"], "index.first_occurrence": True, "criteria.0": "absent"},
    ),
    (
        "37.22 w/o PCI or CABG in the next 30d",
        {"index.concepts.terms": ["37.22"], "criteria.0.occurrence.count": 0, "criteria.1": "absent"},
    ),
    (
        "colon cancer patients who had an abdominal CT after the diagnosis and a CEA above 5 on the day of "
        "that CT",
        {"criteria.1.window.anchor": "imaging", "criteria.2": "absent"},
    ),
    (
        "대장암 진단 이후에 abdomen CT 찍었는데 그 CT 찍은 날 CEA가 5 넘게 나온 환자",
        {
            "criteria.0.imaging.body_parts": ["ABDOMEN"],
            "criteria.1.window.anchor": "imaging",
            "criteria.2": "absent",
        },
    ),
    # the asking, thanks and what the list is for are no rules; an age said '65yo', '18+ at diagnosis'
    (
        "Do we have anyone on clopidogrel who has never had a PCI?",
        {"index.concepts.terms": ["clopidogrel"], "criteria.0.occurrence.count": 0},
    ),
    (
        "women with osteoporosis in 2020. thx!",
        {"index.concepts.terms": ["osteoporosis"], "criteria.0": "absent"},
    ),
    ("acute bronchitis dx in 2018 in pts over 65yo", {"demographics.age_min": 66}),
    ("asthma, 18+ at diagnosis", {"index.concepts.terms": ["asthma"], "demographics.age_min": 18}),
    (
        "위암 dx 전후 2주 (14일) 안에 abdomen CT 찍은 환자 - staging CT 잘 찍고 있는지 보려고요",
        {"criteria.0.window.start": -14, "criteria.1": "absent"},
    ),
    (
        "BPH 환자 중에서 PSA 검사를 한번도 안한 사람 - 비뇨기과 교수님 요청",
        {"index.concepts.terms": ["BPH"], "criteria.0.occurrence.count": 0},
    ),
    # outcomes-research words: the post-index follow-up as its bracket says, the intake period's dates;
    # '기준일이 2021년 이후인' dates the index itself; 'X 처방일을 인덱스일로' names the index
    (
        "Index date = first-ever T2DM diagnosis. Keep patients with 3 or more HbA1c tests during the 365-day "
        "post-index follow-up (days 0–365).",
        {"criteria.0.window.start": 0, "criteria.0.window.end": 365, "criteria.0.occurrence.count": 3},
    ),
    (
        "T2DM, intake period calendar year 2021",
        {"index.date_range.start": "2021-01-01", "criteria.0": "absent"},
    ),
    (
        "New-onset T2DM cohort: index date = first-ever E11.x diagnosis, identification period "
        "01/01/2020–12/31/2022. Adults only (18+ at index).",
        {"index.concepts.terms": ["E11"], "index.date_range.end": "2022-12-31", "demographics.age_min": 18},
    ),
    ("당뇨병 진단 환자. 식별 기간은 2021.1.1~2024.12.31입니다.", {"index.date_range.start": "2021-01-01"}),
    ("심방세동 진단 환자 중 기준일이 2021년 이후인 환자", {"index.date_range.start": "2021-01-01"}),
    (
        "심방세동(I48) 진단일을 인덱스일로 잡고, 인덱스일이 2021-01-01 이후인 건만 봅니다. "
        "인덱스일로부터 90일 이내 warfarin 처방이 1회 이상 있는 환자 추출해 주세요.",
        {"index.date_range.start": "2021-01-01", "criteria.0.window.end": 90},
    ),
    (
        "고혈압 환자 중 statin 처방일을 기준일로 합니다. 기준일 이전 30일 이내 LDL 160 이상",
        {"index.concepts.terms": ["statin"], "criteria.0.concepts.terms": ["고혈압"]},
    ),
    # chat: closing purpose fragments, thanks without a full stop, lettered lists, no date limit
    (
        "chronic sinusitis pts w/ a nasal sinus endoscopy within 90 days after the dx - ENT sinusitis "
        "audit. thx",
        {"criteria.0.window.end": 90, "criteria.1": "absent"},
    ),
    (
        "Hi - women w/ osteoporosis who a) had a bone density scan within 30 days before the dx, and b) were "
        "put on alendronate any time after the dx thx!",
        {
            "criteria.0.window.start": -30,
            "criteria.1.concepts.terms": ["alendronate"],
            "criteria.2": "absent",
        },
    ),
    (
        "ER visits w/ a chest pain dx the same day and a troponin I > 1.0 the same day - pt list pls",
        {"criteria.0.concepts.terms": ["chest pain"], "criteria.1.window.end": 0},
    ),
    (
        "30-day readmits: pts admitted (inpatient) in 2024 who had another inpatient admission 1-30 days "
        "after that admission date",
        {"criteria.0.window.start": 1, "criteria.0.window.end": 30},
    ),
    (
        "women whose first ever MI happened before age 50, whole dataset is fine, no date limit",
        {"index.first_occurrence": True, "demographics.age_max": 49},
    ),
    ("뇌경색 dx 받고 7일 이내에 brain MRI 찍은 pt 들 좀 뽑아주세요", {"criteria.0.window.end": 7}),
    (
        "STEMI로 진단된 남자환자만, 65세이상으로 부탁드려요 (기간은 상관없고 나이는 진단 당시 기준)",
        {"demographics.age_min": 65, "demographics.sexes": ["male"], "index.date_range": None},
    ),
    (
        "흉부외과 입니다~ lung biopsy 하고 14일 이내 폐암 dx 받고, 그 다음 90일 이내 lobectomy 까지 간 "
        "환자들 — 조기폐암 수술군 정리하려고요 감사합니다!",
        {"criteria.1.window.end": 90, "criteria.2": "absent"},
    ),
    ("MI 환자들 중에서 MI 진단 이후에 MI에 대한 수술 받은 사람", {"criteria.0.concepts.terms": ["MI"]}),
    (
        "허혈성 심질환 (I20-I25 전부 다 포함) 있는 여성",
        {"index.concepts.terms": ["I20", "I21", "I22", "I23", "I24", "I25"]},
    ),
    (
        "스타틴을 처음으로 처방받은 게 2021년인 사람들. 아토르바스타틴이든 로수바스타틴이든 상관없어요.",
        {"index.first_occurrence": True},
    ),
    # an admission at any time and the admission on the diagnosis day are one, that day's: the death counts
    # from it (it had counted from any admission)
    (
        "심근경색으로 입원한 뒤 30일 안에 사망한 환자 명단 있을까요? 심근경색 진단일에 입원한 경우로 봐 "
        "주세요.",
        {"criteria.0.window.end": 0, "criteria.0.domain": "visit", "criteria.2.window.anchor": "admission_2"},
    ),
    # going for a procedure is having it; carrying a diagnosis is having it
    ("STEMIs in 2023 that went for PCI the same day", {"criteria.0.concepts.terms": ["PCI"]}),
    (
        "DC cardioversion pts anticoagulated with warfarin in the 3 weeks before",
        {"criteria.0.concepts.terms": ["warfarin"], "criteria.0.window.start": -21},
    ),
]


@pytest.mark.parametrize(("sentence", "expected"), READINGS, ids=[r[0][:40] for r in READINGS])
def test_reading(sentence: str, expected: dict[str, Any]) -> None:
    result = parse(sentence, today=TODAY)
    assert result.status == "ok", result.message
    assert result.spec is not None
    spec = result.spec.model_dump(mode="json")
    for path, value in expected.items():
        if value == "absent":  # no such rule: the reading added nothing there
            with pytest.raises((IndexError, KeyError)):
                _at(spec, path)
            continue
        assert _at(spec, path) == value, (path, spec)


def test_a_lead_in_is_noted() -> None:
    result = parse("Protocol request: patients diagnosed with MI in 2023", today=TODAY)
    assert result.status == "ok" and any("Protocol request" in n for n in result.notes), result.notes


@pytest.mark.parametrize(
    "sentence",
    [
        "Hi team",  # nothing but a greeting: nothing to read past to
        "We're studying outcomes after coronary bypass.",
    ],
)
def test_a_lead_in_alone_is_not_a_question(sentence: str) -> None:
    assert parse(sentence, today=TODAY).status != "ok"


@pytest.mark.parametrize(
    "sentence",
    ["hyperkalemia in the ER: K+ > 5.0 mmol/L on the day of an ER visit", "diabetes: HbA1c above 8 in 2023"],
)
def test_a_condition_named_before_its_definition_is_asked_back(sentence: str) -> None:
    """A condition before a colon and a test value after it: the definition of the condition, or a rule of
    its own? Asked back, never guessed."""
    result = parse(sentence, today=TODAY)
    assert result.status == "clarify"
    assert any("before the colon" in c.question for c in result.clarifications)


@pytest.mark.parametrize(
    "sentence",
    [
        "I'd like to see patients on a blood thinner who ended up with a GI bleed",  # which kind of drug?
        "피검사 수치 안 좋게 나온 만성 신부전 환자들 보여줘",  # '안 좋게' is 'bad', never 'not'
        # an age said by a stage of life (had been read as any age: women of any age, patients of any age)
        "asthma in women of childbearing age",
        "asthma in teenagers",
        "청소년 천식 환자",
        "warfarin을 중단한 환자",  # stopping: had been read as any warfarin
    ],
)
def test_vague_lay_words_are_asked_back(sentence: str) -> None:
    assert parse(sentence, today=TODAY).status == "clarify"


@pytest.mark.parametrize(
    "sentence",
    [
        "write me a short poem about heart failure",
        "영상의학과 송년회 때 읽을 짧은 축시 하나 써줘",
        "eunomia DB에서 drug_exposure 테이블 drop 해줘",
        "update every stroke diagnosis date to 2024-01-01",
        "중복된 환자 데이터를 제거해줘",
        "recommend a drug for my diabetes",
        "can you update the death date for person 18 to 2023-06-01?",
        "measurement 테이블에 HbA1c 단위 잘못 들어간 거 UPDATE 쳐서 %로 다 고쳐줘",
        "2022년 폐렴 입원 환자의 주진단 코드를 J18.9에서 J15.9로 일괄 수정(UPDATE)하여 주시기 바랍니다.",
        "당뇨병 입원 환자에게 적용할 인슐린 처방 권고안을 작성하여 회신 요청드립니다.",
        "이 chest CT 영상 보고 폐암인지 아닌지 판독 소견서 좀 써줘",
        "이 pt HbA1c 9.5인데 metformin 몇 mg으로 올리면 될까요?",
        "Drop every celecoxib exposure from the database before we share it",
        "Update the warfarin dose to 5 mg for every patient whose INR is under 2",
        "can u write the d/c summary for the pt in bed 12",
        "write me a short funny poem about metformin",
        "이 환자가 1년 안에 사망할지 예측해줘",
    ],
)
def test_writing_and_commands_mentioning_clinical_words_are_refused(sentence: str) -> None:
    assert parse(sentence, today=TODAY).status == "refused"


@pytest.mark.parametrize(
    ("sentence", "count", "start", "end"),
    [
        ("patients admitted at least twice in 2023", ("at_least", 2), "2023-01-01", "2023-12-31"),
        ("patients with exactly one ER visit in 2024", ("exactly", 1), "2024-01-01", "2024-12-31"),
        ("2023년에 응급실을 2번 이상 방문한 환자", ("at_least", 2), "2023-01-01", "2023-12-31"),
    ],
)
def test_a_count_in_a_calendar_period_counts_inside_it(sentence, count, start, end) -> None:
    """'at least twice in 2023': the counting rule carries the period (Criterion.date_range)."""
    result = parse(sentence, today=TODAY)
    assert result.status == "ok", result.message
    assert result.spec is not None
    [c] = result.spec.criteria
    assert (c.occurrence.type, c.occurrence.count) == count
    assert c.date_range is not None and (str(c.date_range.start), str(c.date_range.end)) == (start, end)
    assert result.spec.index.date_range == c.date_range


@pytest.mark.parametrize(
    ("sentence", "count", "start"),
    [
        (
            "type 2 diabetics diagnosed in 2024 who had at most one HbA1c test that year",
            ("at_most", 1),
            "2024-01-01",
        ),
        ("diabetics diagnosed in 2024 with 2 or more HbA1c tests during 2024", ("at_least", 2), "2024-01-01"),
        ("2023년에 심부전 진단받은 환자 중 그 해에 2번 이상 입원한 환자", ("at_least", 2), "2023-01-01"),
    ],
)
def test_a_counted_event_counts_in_its_own_calendar_period(sentence, count, start) -> None:
    """The index keeps its dates; the counted event's dates ('that year' = the year named before) say
    where to count it (Criterion.date_range), so two dated events are no longer asked back."""
    result = parse(sentence, today=TODAY)
    assert result.status == "ok", result.message
    assert result.spec is not None
    spec = result.spec.model_dump(mode="json")
    assert spec["index"]["date_range"]["start"] == start
    (crit,) = spec["criteria"]
    assert (crit["occurrence"]["type"], crit["occurrence"]["count"]) == count
    assert crit["date_range"] == {"start": start, "end": start[:4] + "-12-31"}


@pytest.mark.parametrize(
    "sentence",
    [
        "MI patients admitted in March 2023 with an echo that year",  # a month, not a calendar year
        "patients with an MI in 2023 and a stroke in 2024",  # two dated events, neither counted
    ],
)
def test_that_year_of_no_single_year_is_asked_back(sentence: str) -> None:
    assert parse(sentence, today=TODAY).status == "clarify"


@pytest.mark.parametrize(
    "sentence",
    [
        "patients whose creatinine rose by 0.3 mg/dL within 48 hours",
        "patients with an increase in creatinine of at least 50%",
        "patients whose creatinine doubled within 7 days",
        "patients with a drop in hemoglobin of more than 2 g/dL after CABG",
        "헤모글로빈이 2 g/dL 이상 감소한 환자",
        "크레아티닌이 두 배 이상 증가한 환자",
    ],
)
def test_a_change_between_results_is_never_read_as_a_level(sentence: str) -> None:
    """'rose by 0.3', '2 g/dL 이상 감소한' name a change, not a threshold: asked back, never 'ok'."""
    result = parse(sentence, today=TODAY)
    assert result.status == "clarify"
    assert any(
        "change between two results" in c.question or "두 결과 사이의 변화" in c.question
        for c in result.clarifications
    )


@pytest.mark.parametrize(
    ("sentence", "lists"),
    [
        ("patients in my list 'echo-study' who had an echocardiogram in 2023", [("echo-study", "include")]),
        ("patients with MI who are not in my list 'echo-study'", [("echo-study", "exclude")]),
        ("내 목록 'echo-study'에 없는 MI 환자", [("echo-study", "exclude")]),
        ("내 업로드 목록 'echo-study' 환자 중 2023년에 심초음파를 받은 환자", [("echo-study", "include")]),
        ("list the patients with MI in 2023", []),  # 'list' the request verb, no quoted name
    ],
)
def test_an_uploaded_list_is_read_by_its_quoted_name(sentence: str, lists: list[tuple[str, str]]) -> None:
    result = parse(sentence, today=TODAY)
    assert result.status == "ok", result.message
    assert result.spec is not None
    assert [(u.name, u.mode) for u in result.spec.lists] == lists
    assert all(t != "echo-study" for c in result.spec.criteria for t in c.concepts.terms)


@pytest.mark.parametrize(
    ("sentence", "index_terms"),
    [
        (
            "I hope this message finds you well. We're looking into heart attacks. Would it be possible to "
            "identify patients who had a myocardial infarction in 2023? Thank you very much for your help.",
            ["myocardial infarction"],
        ),
        (
            "Knee OA dataset: patients with osteoarthritis of the knee who had a knee X-ray",
            ["osteoarthritis"],
        ),
        ("Pharmacovigilance: patients with a GI hemorrhage in 2023", ["GI hemorrhage"]),
        (
            "Hello, our oncology nursing group would be grateful for the following: patients diagnosed with "
            "stomach cancer in 2022",
            ["stomach cancer"],
        ),
    ],
)
def test_words_to_the_reader_are_read_past(sentence: str, index_terms: list[str]) -> None:
    """Greetings, 'we are studying …', a title before a colon and thanks hold no rule (noted)."""
    result = parse(sentence, today=TODAY)
    assert result.status == "ok", result.message
    assert result.spec is not None and result.spec.index.concepts.terms == index_terms


@pytest.mark.parametrize(
    "sentence",
    [
        "Stroke patients: those who had a head CT within 1 day",  # the title names people: it is a rule
        "MI in 2023. Patients who then had PCI within 30 days.",  # not written to the reader
    ],
)
def test_a_part_that_may_hold_a_rule_is_never_read_past(sentence: str) -> None:
    result = parse(sentence, today=TODAY)
    assert not any("introduction" in n for n in result.notes), result.notes


@pytest.mark.parametrize(
    ("sentence", "index_terms"),
    [
        ("DAPT 환자 출혈 안전성 분석: aspirin과 clopidogrel을 같은 날 처방받은 환자", ["aspirin"]),
        (
            "폐결절 검출 모델 학습 데이터셋 구축 건입니다. 폐 생검(33.26) 시행일 기준 이전 14일 이내에 "
            "흉부 CT가 촬영된 환자 목록을 요청드립니다.",
            ["33.26"],
        ),
        ("심방세동 진단 후 90일 이내 warfarin이 처방된 환자 — 항응고제 사용 현황", ["심방세동"]),
        (
            "metformin 처방일 앞뒤 7일 이내에 크레아티닌이 1.5 mg/dL를 초과한 환자 (처방 적절성 검토용)",
            ["metformin"],
        ),
        (
            "2019년부터 2022년까지 폐암(C34)으로 최초 진단된 환자 중 최초 진단일로부터 365일 이내에 "
            "사망한 환자를 분석 대상으로 한다.",
            ["C34"],
        ),
    ],
)
def test_what_a_korean_request_is_for_is_read_past(sentence: str, index_terms: list[str]) -> None:
    result = parse(sentence, today=TODAY)
    assert result.status == "ok", result.message
    assert result.spec is not None and result.spec.index.concepts.terms == index_terms


def test_a_korean_title_that_excludes_is_kept() -> None:
    """'… 제외 검토:' negates: it may hold a rule, so it is never read past."""
    result = parse("MI 제외 검토: 뇌경색 진단 환자", today=TODAY)
    assert not any("머리말" in n for n in result.notes), result.notes


@pytest.mark.parametrize(
    "sentence",
    [
        "stroke patients who received alteplase or underwent thrombectomy on the day of the stroke",
        "MI patients who had a PCI or were given clopidogrel within 30 days",
        "뇌경색 환자 중 진단 당일 알테플라제를 투여받았거나 혈전제거술을 받은 환자",
        "폐렴 환자 중 항생제를 처방받거나 입원한 환자",
    ],
)
def test_or_between_two_events_is_asked_back(sentence: str) -> None:
    """Every rule of a cohort is required: 'A or B' between two events, read on, would silently be 'and'."""
    result = parse(sentence, today=TODAY)
    assert result.status == "clarify", result.spec
    assert any("'또는'" in c.question or "“or” joins" in c.question for c in result.clarifications)


@pytest.mark.parametrize(
    "sentence",
    ["MI or stroke patients who had a PCI", "patients on aspirin or clopidogrel who had a CABG"],
)
def test_or_inside_one_event_lists_alternatives(sentence: str) -> None:
    result = parse(sentence, today=TODAY)
    assert result.status == "ok", result.message


@pytest.mark.parametrize(
    "sentence",
    [
        "Entry event: lung cancer. Inclusion rule 1: chest CT between 30 days before and 0 days after index, "
        "using the start date of the CT.",
        "patients on metformin and nothing else",
        "심근경색 환자 중 1년 안에 약을 3번 이상 처방받은 환자",
        "MI patients with 3 or more prescriptions",
    ],
)
def test_a_kind_of_event_that_names_nothing_is_asked_back(sentence: str) -> None:
    """Every drug (diagnosis, procedure, test) of a person, counted or not, is never what a question means:
    'using …' is a drug verb, '약을 3번 이상' names no drug; 'nothing else' would be dropped. All asked
    back."""
    result = parse(sentence, today=TODAY)
    assert result.status == "clarify", result.spec


@pytest.mark.parametrize(
    "sentence",
    [
        "Entry event: first occurrence of acute myocardial infarction (ICD10 I21/I22), limited to index "
        "dates 2021-01-01 to 2023-12-31. Inclusion rule 1: at least 1 PCI procedure between 0 and 7 days "
        "after index. Exit: none.",
        "Entry: chest CT (CT, CHEST). Inclusion rule 1: closed lung biopsy (33.26) between 0 and 60 days "
        "after the CT.",
    ],
)
def test_an_english_atlas_definition_is_asked_back(sentence: str) -> None:
    """ATLAS's English part names ('Entry event:', 'Inclusion rule 1:') stay unread (nlq/sections.py): read
    as labels, the blind half of the batch written that way gained 8 right answers and 4 silent wrong ones."""
    assert parse(sentence, today=TODAY).status == "clarify"


@pytest.mark.parametrize(
    ("sentence", "said"),
    [
        # a readmission is counted from an earlier event: read alone, the 're-' would be dropped and every
        # admission returned
        ("readmissions", "readmission"),
        ("30-day readmissions in 2023", "readmission"),
        ("재입원 환자 명단", "재입원"),
        # '협심증도 포함해주세요' after an MI cohort widens the index in a way no rule says; read on, it had
        # become one more rule the patients must meet
        ("심근경색 환자 명단. 협심증도 포함해주세요.", "협심증"),
        # criteria are joined by 'and', and each absence leaves out anyone with its event: read on, 'excluding
        # those with both A and B' would leave out those with either
        ("MI patients excluding those with both diabetes and hypertension", "excluding those with both"),
        ("MI patients without both diabetes and hypertension", "without both"),
        ("심근경색 환자 중 당뇨와 고혈압이 모두 있는 환자는 제외", "모두 있는 환자는 제외"),
        ("심근경색 환자 중 PCI와 CABG를 둘 다 받은 환자는 빼주세요", "둘 다 받은 환자는 빼"),
        # 'currently' is as vague as 'recently'; 'refilled within 60 days' counts from a fill no rule holds
        ("AF patients currently on warfarin", "currently"),
        ("AF patients who refilled their warfarin within 60 days", "refilled"),
        # either of two kinds of visit, each counted: the second kind had been dropped
        ("2022년 뇌졸중 진단 환자 중 외래 2회 이상 또는 입원 1회 이상", "외래"),
        ("뇌졸중 환자 중 입원 또는 응급실 방문 2회 이상", "입원"),
        # 'the lab' met as an anchor before the NT-proBNP is named: that test, or any? (had been 'any
        # measurement' as the index, the NT-proBNP a rule of its own)
        (
            "HF pts (HF dx on or before the lab) w/ an NT-proBNP > 2000 and an inpatient admission within 30 "
            "days after that lab",
            "lab",
        ),
    ],
)
def test_a_rule_the_spec_cannot_hold_is_asked_back_naming_it(sentence: str, said: str) -> None:
    result = parse(sentence, today=TODAY)
    assert result.status == "clarify", result.spec
    assert said in result.message


@pytest.mark.parametrize(
    "sentence",
    [
        "patients admitted in 2023 and readmitted within 30 days after the admission",
        "CABG patients readmitted between day 1 and day 30 after the bypass surgery",
        "2023년 입원 환자 중 30일 이내 재입원한 환자",
    ],
)
def test_a_readmission_after_a_named_event_is_read(sentence: str) -> None:
    result = parse(sentence, today=TODAY)
    assert result.status == "ok", result.message
    assert result.spec is not None and result.spec.criteria[0].domain == "visit"


@pytest.mark.parametrize(
    "sentence",
    ["심근경색 환자 중 당뇨, 고혈압 둘 다 없는 환자", "MI patients with neither diabetes nor hypertension"],
)
def test_having_neither_is_two_absences(sentence: str) -> None:
    result = parse(sentence, today=TODAY)
    assert result.status == "ok", result.message
    assert result.spec is not None
    assert all(c.occurrence.count == 0 for c in result.spec.criteria)
