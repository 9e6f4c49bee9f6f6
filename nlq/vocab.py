"""Closed word classes of the cohort language, English and Korean: event words, imaging words,
negation, connectors and fillers. Data, not logic: recognisers in ``nlq.recognise`` compile them.

*Kinds* name what an event is in the user's words; each maps to one spec domain (``KIND_DOMAIN``)
and gives criteria their default labels ("surgery", "drug", "er_visit" …).
"""

from __future__ import annotations

from cohort_engine.spec import Domain

KIND_DOMAIN: dict[str, Domain] = {
    "diagnosis": Domain.condition, "surgery": Domain.procedure, "procedure": Domain.procedure,
    "drug": Domain.drug, "lab": Domain.measurement, "imaging": Domain.imaging, "death": Domain.death,
    "admission": Domain.visit, "er_visit": Domain.visit, "visit": Domain.visit, "outpatient": Domain.visit,
    "pathology": Domain.observation, "observation": Domain.observation,
}
DOMAIN_KIND: dict[Domain, str] = {
    Domain.condition: "diagnosis", Domain.procedure: "procedure", Domain.drug: "drug",
    Domain.measurement: "lab", Domain.imaging: "imaging", Domain.death: "death", Domain.visit: "visit",
    Domain.observation: "observation",
}
# 262 'Emergency Room and Inpatient Visit' is a child of both Inpatient (9201) and ER (9203) in the OMOP
# visit hierarchy, so it counts as an admission and as an ER visit.
VISIT_KIND_IDS: dict[str, list[int]] = {"admission": [9201, 262], "er_visit": [9203, 262], "outpatient": [9202],
                                        "visit": []}

# ---------------------------------------------------------------- English event words
# (regex, kind, part of speech). "verb" words introduce a clause's event; "noun" words name it.
EN_EVENT_WORDS: list[tuple[str, str, str]] = [
    (r"pathology\s+(?:results?|reports?|findings?)|pathologic(?:al)?\s+(?:results?|findings?|diagnosis)|"
     r"histolog(?:y|ic)\s+(?:results?|findings?)|histology|biopsy\s+(?:results?|findings?)|pathology", "pathology", "noun"),
    (r"(?:emergency\s+(?:room|department|dept)|e\.?r\.?|e\.?d\.?|a&e)\s+(?:visits?|presentations?|attendances?|admissions?)|"
     r"emergency\s+(?:room|department|dept)|emergency\s+visits?|\bER\b|\bED\b|\bA&E\b", "er_visit", "noun"),
    (r"(?:visited|went\s+to|came\s+to|presented\s+to|attended|(?:were\s+|was\s+)?admitted\s+to|(?:were\s+|was\s+)?seen\s+in)"
     r"\s+(?:the\s+|an\s+)?(?:emergency\s+(?:room|department)|ER|ED|A&E)", "er_visit", "verb"),
    (r"re-?admitted|re-?hospitali[sz]ed|admitted|hospitali[sz]ed", "admission", "verb"),
    (r"re-?admissions?|admissions?|re-?hospitali[sz]ations?|hospitali[sz]ations?|inpatient\s+(?:stays?|visits?|admissions?|episodes?)|"
     r"hospital\s+(?:stays?|admissions?)|inpatient", "admission", "noun"),
    (r"outpatient\s+(?:visits?|clinic\s+visits?)|clinic\s+visits?|outpatient", "outpatient", "noun"),
    (r"died|die[sd]?|dying|passed\s+away|expired", "death", "verb"),
    (r"deaths?|deceased|dead|mortality", "death", "noun"),
    (r"(?:were|was|got|been|being)?\s*diagnosed(?:\s+(?:as\s+having|as|with|of))?|diagnosd|dx'?d", "diagnosis", "verb"),
    (r"diagnos[ie]s|diagnostic\s+codes?|dx|conditions?", "diagnosis", "noun"),
    (r"suffer(?:ing|ed|s)?\s+from|presented\s+with|presenting\s+with", "diagnosis", "verb"),
    (r"operated(?:\s+on)?", "surgery", "verb"),
    (r"surger(?:y|ies)|operations?|surgical\s+procedures?|ops?\b", "surgery", "noun"),
    (r"underwent|undergone|undergoing|undergo(?:es)?|performed", "procedure", "verb"),
    (r"procedures?|interventions?", "procedure", "noun"),
    (r"(?:were|was|been|being)?\s*(?:prescribed|dispensed|administered|given)|(?:started|initiated|put)\s+on|"
     r"tak(?:ing|es)|took|using", "drug", "verb"),
    (r"prescriptions?|medications?|meds|drugs?|medicines?|drug\s+exposures?|exposures?|rx|doses|dose|"
     r"administrations?|fills?|refills?|dispensings?", "drug", "noun"),
    (r"(?:were|was|been|being)?\s*exposed\s+to", "drug", "verb"),
    (r"(?:were|was)?\s*(?:measured|tested)(?:\s+for)?", "lab", "verb"),
    (r"lab(?:oratory)?\s+(?:tests?|results?|values?|measurements?)|labs?|tests?|levels?|values?|results?|"
     r"measurements?|readings?", "lab", "noun"),
    (r"imaging\s+(?:studies|study|exams?|examinations?|tests?)|imaging|scans?|images?|radiology\s+(?:studies|exams?)|"
     r"dicoms?(?:\s+(?:files?|images?|studies|series))?", "imaging", "noun"),
    (r"visits?|encounters?", "visit", "noun"),
]
# Verbs that start an event without saying which kind ("received X", "treated with X").
EN_GENERIC_VERBS = (
    r"(?:were|was|been|being)?\s*(?:treated|managed)\s+(?:with|by|for)|received|receiving|receive[sd]?|got|"
    r"(?:has|have|had|having)\s+(?:had|been\s+on)|had|has|have|having|with"
)

# ---------------------------------------------------------------- Korean event words
KO_EVENT_WORDS: list[tuple[str, str]] = [
    (r"병리\s*(?:검사\s*)?(?:결과|소견|보고서?|진단)?|조직\s*검사\s*결과|조직학적\s*소견", "pathology"),
    (r"응급실\s*(?:방문|내원|진료|경유)?|응급\s*(?:진료|내원|방문)|(?<![A-Za-z])(?:ER|ED)(?![A-Za-z])", "er_visit"),
    (r"재입원|입원(?:\s*(?:기록|진료|치료))?", "admission"),
    (r"외래\s*(?:방문|진료|내원)?", "outpatient"),
    (r"사망(?:일|자)?|숨진|숨졌|죽은", "death"),
    (r"진단\s*(?:일자|일|명|코드)?|확진|상병|발생(?:일)?|발병(?:일)?|걸린|걸렸|앓(?:는|고|았)", "diagnosis"),
    (r"수술\s*(?:일자|일)?", "surgery"),
    (r"시술\s*(?:일자|일)?|처치|시행", "procedure"),
    (r"처방\s*(?:일자|일)?|투약|투여|복용|약물|약제", "drug"),
    (r"(?:혈액\s*|피\s*)?검사\s*(?:결과|수치)?|수치|측정", "lab"),
    (r"영상\s*(?:검사|촬영|이미지)?|촬영|이미지", "imaging"),
    (r"방문|내원|진료", "visit"),
]

# ---------------------------------------------------------------- imaging
# modality word → (DICOM modality codes, implied body parts)
EN_MODALITIES: list[tuple[str, list[str], list[str]]] = [
    (r"ct\s+angiograph(?:y|ies)|ct\s+angiograms?|cta|coronary\s+cta|ccta", ["CT"], []),
    (r"pet[- /]?ct|pet\s+scans?|pet", ["PT"], []),
    (r"ct|cat\s+scans?|computed\s+tomography|computerized\s+tomography", ["CT"], []),
    (r"mri|mr|magnetic\s+resonance(?:\s+imaging)?|cmr", ["MR"], []),
    (r"coronary\s+angiograph(?:y|ies)|coronary\s+angiograms?|coronary\s+arteriography|cag|cardiac\s+cath(?:eterization)?", ["XA"], ["HEART"]),
    (r"angiograph(?:y|ies)|angiograms?|angio|arteriography|fluoroscopy", ["XA"], []),
    (r"echocardiograph(?:y|ies)|echocardiograms?|echo|tte|tee", ["US"], ["HEART"]),
    (r"ultrasound|ultrasonography|sonography|sonogram", ["US"], []),
    (r"mammograph(?:y|ies)|mammograms?", ["MG"], ["BREAST"]),
    (r"cxr", ["CR", "DX"], ["CHEST"]),
    (r"x-?\s?rays?|radiographs?|radiography|plain\s+films?", ["CR", "DX"], []),
]
KO_MODALITIES: list[tuple[str, list[str], list[str]]] = [
    (r"CT\s*혈관\s*조영(?:술)?|CTA", ["CT"], []),
    (r"PET[- ]?CT|PET|양전자\s*방출\s*단층\s*촬영", ["PT"], []),
    (r"CT|씨티|컴퓨터\s*단층\s*촬영|전산화\s*단층\s*촬영", ["CT"], []),
    (r"MRI|MR|엠알아이|자기\s*공명\s*영상|자기\s*공명", ["MR"], []),
    (r"관상\s*동맥\s*조영(?:술)?|심혈관\s*조영(?:술)?|CAG", ["XA"], ["HEART"]),
    (r"혈관\s*조영(?:술)?|조영술|angiography", ["XA"], []),
    (r"심장\s*초음파|심초음파|echo", ["US"], ["HEART"]),
    (r"초음파", ["US"], []),
    (r"유방\s*촬영(?:술)?|맘모그(?:래피|램)", ["MG"], ["BREAST"]),
    (r"X\s*-?\s*ray|엑스\s*레이|엑스선|X\s*선|엑스레이|단순\s*(?:방사선\s*)?촬영|방사선\s*촬영", ["CR", "DX"], []),
]
EN_BODY_PARTS: list[tuple[str, list[str]]] = [
    (r"chest|thorax|thoracic|lungs?|pulmonary", ["CHEST"]),
    (r"heart|cardiac|coronary", ["HEART"]),
    (r"head|brain|cranial|cerebral", ["HEAD"]),
    (r"abdomen|abdominal|belly", ["ABDOMEN"]),
    (r"pelvis|pelvic", ["PELVIS"]),
    (r"abdomen\s+and\s+pelvis|abdominopelvic|abdomen/pelvis", ["ABDOMEN", "PELVIS"]),
    (r"breasts?", ["BREAST"]),
    (r"knees?", ["KNEE"]),
    (r"hips?", ["HIP"]),
    (r"spine|spinal|lumbar|cervical\s+spine", ["SPINE"]),
    (r"neck", ["NECK"]),
    (r"liver|hepatic", ["LIVER"]),
    (r"kidneys?|renal", ["KIDNEY"]),
]
KO_BODY_PARTS: list[tuple[str, list[str]]] = [
    (r"흉부|가슴|폐|흉곽", ["CHEST"]),
    (r"심장", ["HEART"]),
    (r"머리|두부|뇌|두경부", ["HEAD"]),
    (r"복부|배", ["ABDOMEN"]),
    (r"골반", ["PELVIS"]),
    (r"유방", ["BREAST"]),
    (r"무릎|슬관절", ["KNEE"]),
    (r"고관절", ["HIP"]),
    (r"척추|요추|경추", ["SPINE"]),
    (r"경부|목", ["NECK"]),
    (r"간", ["LIVER"]),
    (r"신장|콩팥", ["KIDNEY"]),
]

# ---------------------------------------------------------------- imaging output requests
# What to *return* for the cohort ("…; give me their CT scans", "… and their chest CTs", "환자의 흉부 CT
# 영상", "… CT 영상을 모아줘"), as opposed to an imaging rule of who qualifies ("who had a CT …"). A
# request is a request verb or a possessive followed by imaging words; ``nlq.recognise`` marks it.
# Verbs that ask for something when followed by 'me'/'us' ('give me', 'get us').
EN_REQUEST_VERBS_ME = r"give|send|get|show|bring|find|pull|fetch|provide|share|email|forward|hand"
# Verbs that ask for something on their own ('export their …', 'send the chest CTs of …').
EN_REQUEST_VERBS = (r"export|download|send|fetch|retrieve|collect|gather|deliver|extract|provide|share|pull|attach|"
                    r"return|include|output")
EN_REQUEST_WANT = (r"i\s+(?:want|need|would\s+like|'d\s+like)(?:\s+to\s+(?:see|get|have|download|export|receive))?|"
                   r"(?:can|could)\s+(?:i|we)\s+(?:get|have|see|download|export)|"
                   r"(?:can|could|would)\s+you\s+(?:send|give|get|export|pull|fetch)(?:\s+(?:me|us))?")
EN_REQUEST_POSSESSIVES = r"their|these\s+patients'|those\s+patients'|the\s+patients'|patients'|the\s+cohort's"
# Generic image words that may follow a request ('their images', 'the scans', 'their DICOM files').
EN_REQUEST_IMAGES = (r"imaging\s+(?:studies|study|exams?|examinations?)|imaging|images?|scans?|"
                     r"radiology(?:\s+(?:studies|images|exams?))?|dicoms?(?:\s+(?:files?|images?|studies|series))?")
# '환자의 …', '그들의 …' before imaging words; verbs that ask for the imaging words before them.
KO_REQUEST_HEADS = r"환자|대상자|사람"
KO_REQUEST_PRONOUNS = r"그들|이들|그분들|코호트"
KO_REQUEST_VERBS = (r"모아|가져와|가져다|보내|뽑아|추출해|추출|내보내|내려받아|다운로드해|다운로드|다운받아|전달해|공유해|"
                    r"제공해|첨부해|수집해|챙겨|보여")
KO_REQUEST_IMAGES = r"영상|이미지|사진|스캔|DICOM|다이콤"

# ---------------------------------------------------------------- negation, connectors, fillers
EN_NEGATION = (
    r"excluding|exclude[sd]?|except(?:\s+for|\s+those)?|but\s+not|other\s+than|without(?:\s+any)?|with\s+no|"
    r"no(?:\s+(?:record|evidence|sign)s?\s+of)?|not|never|none|neither|free\s+of|absence\s+of|"
    r"(?:did|do|does|have|has|had|was|were|is|are)\s*(?:n't|not)|didn't|don't|doesn't|haven't|hasn't|hadn't|"
    r"wasn't|weren't|isn't|aren't|lacking|minus"
)
KO_NEGATION = (
    r"(?:을|를|이|가|은|는)?\s*(?:받은|한|된|있는|진단받은|처방받은|복용한|시행한|앓은|걸린)?\s*적(?:이|은)?\s*(?:한\s*번도\s*)?없(?:는|고|었던|던|음)|"
    r"(?:을|를|이|가|은|는)?\s*[가-힣]{0,3}지\s*않(?:은|는|았던|았고|고|음)|"
    r"(?:이|가|은|는)?\s*없(?:는|고|이|었던|던|음)|(?:을|를|은|는)?\s*제외(?:하고|한|하여|해서|하면|해줘|하고서)?|"
    r"(?:을|를|은|는)?\s*빼고|안\s*(?:받은|한|된)|(?:이|가)?\s*아닌|미(?=시행|처방|복용)"
)
EN_BOUNDARY = r"who|whose|whom|which|that|where|;|among\s+(?:them|those|whom)|of\s+(?:those|whom|them)|in\s+whom"
EN_FILLERS = {
    "patients", "patient", "people", "persons", "person", "individuals", "subjects", "cases", "cohort", "cohorts",
    "list", "find", "show", "give", "get", "count", "number", "how", "many", "me", "all", "any", "the", "a", "an",
    "of", "for", "in", "on", "at", "to", "by", "from", "had", "have", "has", "having", "was", "were", "is", "are",
    "be", "been", "being", "did", "do", "does", "also", "both", "either", "each", "their", "his", "her", "its",
    "them", "those", "these", "ever", "still", "please", "can", "could", "you", "i", "want", "need", "pull",
    "retrieve", "identify", "select", "return", "extract", "everyone", "anyone", "ones", "there", "what", "total",
    "records", "data", "whose", "within", "as", "well", "one", "someone", "somebody", "some", "us", "let",
    "see", "tell", "query", "gather", "collect", "fetch", "pts", "pt", "ppl", "folks", "this", "that",
    "our", "hospital", "database", "mart", "later", "who", "least", "such", "actually", "already",
    "currently", "subsequently", "then", "would", "like", "kindly", "just", "only", "same", "time",
    "type", "kind", "sort", "documented", "recorded", "coded", "confirmed", "known", "positive",
    "start", "starts", "onset", "done", "overall", "afterwards", "dated", "occurring", "occurred",
    "happened", "happening", "made", "entered", "cohort's", "whatsoever", "among", "amongst", "cycles", "cycle",
    "sessions", "session", "courses", "course", "rounds", "episodes", "episode", "separate", "different", "distinct",
}
KO_FILLERS = {
    "환자", "환자들", "사람", "사람들", "분", "분들", "명단", "목록", "리스트", "수", "몇", "명", "인원", "인원수",
    "숫자", "대상", "대상자", "코호트", "중", "받은", "받고", "있는", "있고", "한", "하고", "된", "되고", "인",
    "이고", "이며", "그리고", "모아줘", "모아", "뽑아줘", "뽑아", "찾아줘", "찾아", "알려줘", "알려", "보여줘",
    "보여", "추출해줘", "추출", "구해줘", "조회해줘", "조회", "해줘", "주세요", "줘", "좀", "모두", "다", "둘",
    "해당", "해당하는", "경우", "총", "얼마나", "되나요", "인가요", "있나요", "몇명", "야", "요", "하는", "했던",
    "가진", "적", "있었던", "받았던", "이력", "뽑아주세요", "찾아주세요", "알려주세요", "보여주세요",
    "모아주세요", "정리해줘", "나열해줘", "추려줘", "골라줘", "명수", "명이야", "되니", "되는지", "인지",
    "각각", "전체", "데이터", "기록", "우리", "병원", "에서", "의", "을", "를", "이", "가", "은", "는", "에",
    "으로", "로", "와", "과", "도", "만", "이나", "나", "부터", "까지", "동안", "동시에", "함께", "같이",
    "및", "또", "또한", "그", "이후", "당시", "때", "기준", "시점", "날", "확인된", "확인", "나온", "보인",
    "코드", "있었고", "있으면서", "받으면서", "하면서", "받아서", "해서", "먼저", "이상인", "실제로",
    "맞은", "찍은", "뽑아봐", "찾아봐", "알려줄래", "보여줄래", "줄래", "해주세요", "해", "혹시",
    "나이", "연령", "지나서", "지난", "지나", "경과한", "경과", "로부터", "으로부터", "중에", "통해", "때문에",
    "몇명인지", "몇명이나", "인원을", "명수를", "해당되는", "조건", "조건에", "맞는", "결과", "결과상", "상", "소견상",
    "다시", "현재", "지금", "이미", "계속", "실제", "정도", "대략", "약간", "모든", "전부의", "각", "꾸준히",
    "찾고", "찾아서", "뽑고", "뽑아서", "골라서", "고르고", "추려서",
}
# Words too vague to turn into a rule without asking; the parser offers these readings.
EN_VAGUE: list[tuple[str, str, list[str]]] = [
    (r"elderly|older\s+adults?|seniors?|geriatric|old\s+people|aged\s+patients", "age",
     ["aged 65 or older", "aged 75 or older", "aged 80 or older"]),
    (r"young(?:er)?\s+(?:adults?|patients|people)|young", "age", ["aged 18–39", "aged 18–29", "under 18"]),
    (r"middle-?aged", "age", ["aged 40–64", "aged 45–64"]),
    (r"recently|recent|lately", "time", ["in the last 3 months", "in the last 6 months", "in the last year"]),
    (r"frequent(?:ly)?|many\s+times|often|repeated(?:ly)?", "count", ["at least 2", "at least 3", "at least 5"]),
    (r"high|elevated|raised|abnormal|uncontrolled|poorly\s+controlled|low|decreased|reduced", "value",
     ["give the threshold, e.g. 'above 7%'"]),
    (r"soon\s+after|shortly\s+after|right\s+after|around\s+the\s+time\s+of|near", "window",
     ["within 7 days after", "within 30 days after", "the same day"]),
    (r"long-?term|chronic\s+use\s+of", "duration", ["give a duration, e.g. 'for at least 90 days'"]),
    (r"(?:the\s+)?(?:last|latest|most\s+recent|final|first)\s+(?=(?:hba1c|a1c|value|result|measurement|level|reading|test))", "unsupported",
     ["any value in a period, e.g. 'HbA1c above 7% in 2023'"]),
    (r"discharged?|discharges", "unsupported",
     ["measure from the admission instead, e.g. 'readmitted within 30 days after the admission'"]),
]
KO_VAGUE: list[tuple[str, str, list[str]]] = [
    (r"노인|고령자?|어르신|노년층?", "age", ["65세 이상", "75세 이상", "80세 이상"]),
    (r"젊은|청년", "age", ["18~39세", "18~29세"]),
    (r"중년", "age", ["40~64세", "45~64세"]),
    (r"최근(?:에)?|요즘", "time", ["최근 3개월", "최근 6개월", "최근 1년"]),
    (r"자주|잦은|반복(?:적으로|된)?", "count", ["2회 이상", "3회 이상", "5회 이상"]),
    (r"높은|높게|낮은|낮게|비정상(?:적인)?|이상한|조절\s*안\s*되는|조절되지\s*않는|상승한|증가한", "value",
     ["기준값을 알려 주세요 (예: '7% 이상')"]),
    (r"직후|얼마\s*안\s*돼서|곧바로|즈음", "window", ["7일 이내", "30일 이내", "같은 날"]),
    (r"장기(?:간)?", "duration", ["기간을 알려 주세요 (예: '90일 이상')"]),
    (r"퇴원(?:일|일자)?", "unsupported", ["입원일을 기준으로 말해 주세요 (예: '입원 후 30일 이내 재입원')"]),
]
