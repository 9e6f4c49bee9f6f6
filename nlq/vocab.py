"""Every closed word class of the cohort language, English and Korean: event words, imaging words,
negation, requests, vague words, connectors and fillers, particles, typo repairs, comparison and count
words, month names. Data, not logic: the recognisers (``nlq.recognise``, ``nlq.quantities``,
``nlq.dates`` …) and the grammars compile and read them. ``tests/test_vocab_rows.py`` generates a
sentence from every row and checks the row fires, so a row that can never be used shows up there.

*Kinds* name what an event is in the user's words; each maps to one spec domain (``KIND_DOMAIN``)
and gives criteria their default labels ("surgery", "drug", "er_visit" …).
"""

from __future__ import annotations

from cohort_engine.nlq.items import CompareOp, OccurrenceType, Pos
from cohort_engine.nlq.regex_cache import regex
from cohort_engine.spec import Domain

KIND_DOMAIN: dict[str, Domain] = {
    "diagnosis": Domain.condition,
    "surgery": Domain.procedure,
    "procedure": Domain.procedure,
    "drug": Domain.drug,
    "lab": Domain.measurement,
    "imaging": Domain.imaging,
    "death": Domain.death,
    "admission": Domain.visit,
    "er_visit": Domain.visit,
    "er_admission": Domain.visit,
    "visit": Domain.visit,
    "outpatient": Domain.visit,
    "pathology": Domain.observation,
    "observation": Domain.observation,
}
DOMAIN_KIND: dict[Domain, str] = {
    Domain.condition: "diagnosis",
    Domain.procedure: "procedure",
    Domain.drug: "drug",
    Domain.measurement: "lab",
    Domain.imaging: "imaging",
    Domain.death: "death",
    Domain.visit: "visit",
    Domain.observation: "observation",
}
# 262 'Emergency Room and Inpatient Visit' is a child of both Inpatient (9201) and ER (9203) in the OMOP
# visit hierarchy, so it counts as an admission and as an ER visit.
VISIT_KIND_IDS: dict[str, list[int]] = {
    "admission": [9201, 262],
    "er_visit": [9203, 262],
    # 'ER-to-inpatient admissions', '응급실 경유 입원': only visits that went from the ER to a ward
    "er_admission": [262],
    "outpatient": [9202],
    "visit": [],
}

VISIT_KINDS = {"admission", "er_visit", "er_admission", "visit", "outpatient"}

# Higher = more specific, when two event words describe one event ("underwent … surgery").
SPECIFICITY: dict[str, int] = {
    "visit": 0,
    "procedure": 1,
    "surgery": 2,
    "admission": 2,
    "er_visit": 2,
    "er_admission": 3,
    "outpatient": 2,
    "lab": 1,
    "imaging": 1,
    "pathology": 2,
    "diagnosis": 1,
    "drug": 1,
    "death": 1,
    "observation": 1,
}


# ---------------------------------------------------------------- English event words
# (regex, kind, part of speech). "verb" words introduce a clause's event; "noun" words name it.
EN_EVENT_WORDS: list[tuple[str, str, Pos]] = [
    (
        r"pathology\s+(?:results?|reports?|findings?)|pathologic(?:al)?\s+(?:results?|findings?|diagnosis)|"
        r"histolog(?:y|ic)\s+(?:results?|findings?)|histology|biopsy\s+(?:results?|findings?)|pathology",
        "pathology",
        "noun",
    ),
    (
        r"(?:ER|ED|emergency(?:\s+(?:room|department))?)[- ]to[- ](?:inpatient|ward|admission)"
        r"(?:\s+(?:admissions?|visits?|stays?|transfers?))?",
        "er_admission",
        "noun",
    ),
    (
        r"(?:emergency\s+(?:room|department|dept)|e\.?r\.?|e\.?d\.?|a&e)\s+"
        r"(?:visits?|presentations?|attendances?|admissions?|encounters?)|"
        r"emergency\s+(?:room|department|dept)|emergency\s+visits?|\bER\b|\bED\b|\bA&E\b",
        "er_visit",
        "noun",
    ),
    (
        r"(?:visited|went\s+to|came\s+to|presented\s+to|attended|(?:were\s+|was\s+)?admitted\s+to|(?:were\s+|was\s+)?seen\s+in)"
        r"\s+(?:the\s+|an\s+)?(?:emergency\s+(?:room|department)|ER|ED|A&E)",
        "er_visit",
        "verb",
    ),
    (r"re-?admitted|re-?hospitali[sz]ed|admitted|hospitali[sz]ed", "admission", "verb"),
    (
        r"re-?admissions?|admissions?|re-?hospitali[sz]ations?|hospitali[sz]ations?|inpatient\s+(?:stays?|visits?|admissions?|episodes?)|"
        r"hospital\s+(?:stays?|admissions?)|inpatient",
        "admission",
        "noun",
    ),
    (r"outpatient\s+(?:visits?|clinic\s+visits?)|clinic\s+visits?|outpatient", "outpatient", "noun"),
    (r"died|die[sd]?|dying|passed\s+away|expired", "death", "verb"),
    (r"deaths?|deceased|dead|mortality|decedents?", "death", "noun"),
    (
        r"(?:were|was|got|been|being)?\s*diagnosed(?:\s+(?:as\s+having|as|with|of))?|diagnosd|dx'?d",
        "diagnosis",
        "verb",
    ),
    (r"diagnos[ie]s|diagnostic\s+codes?|dx|conditions?", "diagnosis", "noun"),
    (r"suffer(?:ing|ed|s)?\s+from|presented\s+with|presenting\s+with", "diagnosis", "verb"),
    (r"operated(?:\s+on)?", "surgery", "verb"),
    (r"surger(?:y|ies)|operations?|surgical\s+procedures?|ops?\b", "surgery", "noun"),
    (r"underwent|undergone|undergoing|undergo(?:es)?|performed", "procedure", "verb"),
    (r"procedures?|interventions?", "procedure", "noun"),
    (
        r"(?:were|was|been|being)?\s*(?:prescribed|dispensed|administered|given)|(?:started|initiated|put)\s+on|"
        r"tak(?:ing|es)|took|using",
        "drug",
        "verb",
    ),
    (
        r"prescriptions?|medications?|meds|drugs?|medicines?|drug\s+exposures?|exposures?|rx|doses|dose|"
        r"administrations?|fills?|refills?|dispensings?",
        "drug",
        "noun",
    ),
    (r"(?:were|was|been|being)?\s*exposed\s+to", "drug", "verb"),
    (r"(?:were|was)?\s*(?:measured|tested)(?:\s+for)?", "lab", "verb"),
    # 'at most one HbA1c checked that year'
    (r"(?:were|was)?\s*checked(?!\s+in\b)", "lab", "verb"),
    (
        r"lab(?:oratory)?\s+(?:tests?|results?|values?|measurements?)|labs?|tests?|levels?|values?|results?|"
        r"measurements?|readings?",
        "lab",
        "noun",
    ),
    (
        r"imaging\s+(?:studies|study|exams?|examinations?|tests?)|imaging|scans?|images?|radiology\s+(?:studies|exams?)|"
        r"dicoms?(?:\s+(?:files?|images?|studies|series))?",
        "imaging",
        "noun",
    ),
    (r"visits?|encounters?", "visit", "noun"),
]
# Verbs that start an event without saying which kind ("received X", "treated with X").
EN_GENERIC_VERBS = (
    r"(?:were|was|been|being)?\s*(?:treated|managed)\s+(?:with|by|for)|received|receiving|receive[sd]?|got|"
    r"end(?:ed|s)?\s+up\s+(?:in|at|with|on)|"
    r"(?:has|have|had|having)\s+(?:had|been\s+on)|had|has|have|having|with"
)

# ---------------------------------------------------------------- Korean event words
KO_EVENT_WORDS: list[tuple[str, str]] = [
    (r"병리\s*(?:검사\s*)?(?:결과|소견|보고서?|진단)?|조직\s*검사\s*결과|조직학적\s*소견", "pathology"),
    (
        r"응급실\s*(?:을|를)?\s*(?:경유(?:한|해서|하여|해)?|거쳐(?:서)?|통해(?:서)?)\s*(?:재?입원)",
        "er_admission",
    ),
    (
        r"응급실\s*(?:방문|내원|진료|경유)?|응급\s*(?:진료|내원|방문)|(?<![A-Za-z])(?:ER|ED)(?![A-Za-z])",
        "er_visit",
    ),
    (
        r"재입원|입원(?:\s*(?:기록|진료|치료|일자|일))?|(?<![A-Za-z])(?:admission|admitted)(?![A-Za-z])",
        "admission",
    ),
    (r"외래\s*(?:방문|진료|내원)?", "outpatient"),
    (
        # 'expire한 pt': the English 'expired' of ward charts, with a Korean verb ending
        r"사망(?:일|자)?|숨진|숨졌|죽은|돌아가신|돌아가셨(?:고|던|으며)?|별세(?:한|하신)?|expired?(?=\s*(?:한|된|하신|했))",
        "death",
    ),
    (
        r"진단\s*(?:일자|일|명|코드)?|확진|상병|발생(?:일)?|발병(?:일)?|걸린|걸렸|앓(?:는|고|았)|"
        r"(?<![A-Za-z])[dD][xX](?![A-Za-z])",
        "diagnosis",
    ),
    (r"재?수술\s*(?:일자|일)?|(?<![A-Za-z])(?:surgery|operation)(?![A-Za-z])", "surgery"),
    (
        r"시술\s*(?:일자|일)?|처치|(?:시행|주입)(?:일자|일)?|(?:생검|조직\s*검사|내시경)\s*(?:일자|일)",
        "procedure",
    ),
    (r"재?처방\s*(?:일자|일)?|재?(?:투약|투여|복용)(?:일자|일)?|약물|약제|주사(?:제)?", "drug"),
    (r"(?:혈액\s*|피\s*)?검사\s*(?:결과|수치|일자|일)?|수치|측정(?:일자|일)?", "lab"),
    (r"영상\s*(?:검사|촬영|이미지)?(?:\s*일자|일)?|촬영(?:일자|일)?|이미지", "imaging"),
    (r"(?:방문|내원|진료)(?:일자|일)?", "visit"),
]

#: An event word naming the *date* of an event ('검사일', '촬영일자', '시술일'): a reference to an event
#: already named (``nlq.grammar_ko``), never a verb of care (``nlq.recognise``).
KO_DATE_REFERENCE = regex(r"(?:일|일자)\s*$")

# ---------------------------------------------------------------- imaging
# modality word → (DICOM modality codes, implied body parts)
EN_MODALITIES: list[tuple[str, list[str], list[str]]] = [
    (r"ct\s+angiograph(?:y|ies)|ct\s+angiograms?|cta|coronary\s+cta|ccta", ["CT"], []),
    # 'an MR angiogram', 'MRA': one MR study (it had been an MR study and a catheter angiogram)
    (r"(?:mr|mri|magnetic\s+resonance)\s+angiograph(?:y|ies)|(?:mr|mri)\s+angiograms?|mra", ["MR"], []),
    (r"pet[- /]?ct|pet\s+scans?|pet", ["PT"], []),
    (r"ct|cat\s+scans?|computed\s+tomography|computerized\s+tomography", ["CT"], []),
    (r"mri|mr|magnetic\s+resonance(?:\s+imaging)?|cmr", ["MR"], []),
    (
        r"coronary\s+angiograph(?:y|ies)|coronary\s+angiograms?|coronary\s+angio|coronary\s+arteriography|cag|"
        r"cardiac\s+cath(?:eterization)?",
        ["XA"],
        ["HEART"],
    ),
    # ('XA': the DICOM code, written in capitals)
    (r"angiograph(?:y|ies)|angiograms?|angio|arteriography|fluoroscopy|(?<!\()(?-i:XA)", ["XA"], []),
    (r"echocardiograph(?:y|ies)|echocardiograms?|echo(?:e?s)?|tte|tee", ["US"], ["HEART"]),
    # 'breast US', 'abd US': the capital abbreviation only ('give us' is no ultrasound)
    (r"ultrasound|ultrasonography|sonography|sonogram|(?-i:US)", ["US"], []),
    (r"mammograph(?:y|ies)|mammograms?", ["MG"], ["BREAST"]),
    (r"cxr", ["CR", "DX"], ["CHEST"]),
    # 'knee films': plain films
    (r"x-?\s?rays?|radiographs?|radiography|plain\s+films?|films?|(?-i:XRs?)", ["CR", "DX"], []),
]
#: Study words that name a procedure of the term table (``evals/README.md``): "had coronary angiography"
#: is the procedure (ICD-9-CM 88.55–88.57), as a data engineer writes it and as a claim records it. The
#: image index holds one row per series (three per angiography on the demo marts), so reading it as
#: images would also count series, not procedures. Said with an image word ("coronary angiography
#: images", "관상동맥조영술 영상"), or as images to return ("export their coronary angiograms"), the
#: study stays the images. Pattern per language (the whole phrase) → lexicon key.
PROCEDURE_STUDIES: dict[str, list[tuple[str, str]]] = {
    "en": [
        (
            r"coronary\s+(?:angiograph(?:y|ies)|angiograms?|angio|arteriography)|cag"
            r"|cardiac\s+cath(?:eteri[sz]ation)?",
            "coronary_angiography_procedure",
        )
    ],
    "ko": [
        (
            r"관상\s*동맥\s*조영(?:술)?|심혈관\s*조영(?:술)?|CAG|coronary\s*angio(?:graphy|gram)?",
            "coronary_angiography_procedure",
        )
    ],
}
#: The images of those procedures (DICOM modalities, body parts), for a request to return them.
STUDY_OF_PROCEDURE: dict[str, tuple[list[str], list[str]]] = {
    "coronary_angiography_procedure": (["XA"], ["HEART"]),
}
KO_MODALITIES: list[tuple[str, list[str], list[str]]] = [
    (r"CT\s*혈관\s*조영(?:술)?|CTA", ["CT"], []),
    (r"PET[- ]?CT|PET|양전자\s*방출\s*단층\s*촬영", ["PT"], []),
    (r"CT|씨티|컴퓨터\s*단층\s*촬영|전산화\s*단층\s*촬영", ["CT"], []),
    (r"MRI|MR|엠알아이|자기\s*공명\s*영상|자기\s*공명", ["MR"], []),
    (
        r"관상\s*동맥\s*조영(?:술)?|심혈관\s*조영(?:술)?|CAG|coronary\s*angio(?:graphy|gram)?",
        ["XA"],
        ["HEART"],
    ),
    (r"(?<![A-Za-z])CXR(?![A-Za-z])", ["CR", "DX"], ["CHEST"]),
    (
        # ('조영 CT', '조영 MRI' are contrast studies, no angiogram: '조영' is left to be asked about there)
        r"혈관\s*조영(?:술)?|조영술|(?<![가-힣])조영(?=\s|$)(?!\s*(?:증강\s*)?(?:CT|MR|MRI|ct|mri)\b)|angiography|"
        r"(?<![A-Za-z(])XA(?![A-Za-z])",
        ["XA"],
        [],
    ),
    (r"심장\s*초음파|심초음파|echo", ["US"], ["HEART"]),
    (r"초음파|(?<![A-Za-z])US(?![A-Za-z])", ["US"], []),
    (r"유방\s*촬영(?:술)?|맘모그(?:래피|램)", ["MG"], ["BREAST"]),
    (
        r"X\s*-?\s*ray|엑스\s*레이|엑스선|X\s*선|엑스레이|단순\s*(?:방사선\s*)?촬영|방사선\s*촬영",
        ["CR", "DX"],
        [],
    ),
]
#: DICOM BodyPartExamined: a spine study is coded by segment (LSPINE …) or as a whole (SPINE).
SPINE_PARTS = ["SPINE", "CSPINE", "TSPINE", "LSPINE", "SSPINE"]
EN_BODY_PARTS: list[tuple[str, list[str]]] = [
    (r"lumbar(?:\s+spine)?|l-?spine|lumbosacral(?:\s+spine)?", ["LSPINE"]),
    (r"cervical\s+spine|c-?spine", ["CSPINE"]),
    (r"thoracic\s+spine|t-?spine", ["TSPINE"]),
    (r"chest|thorax|thoracic|lungs?|pulmonary", ["CHEST"]),
    (r"heart|cardiac|coronary", ["HEART"]),
    (r"head|brain|cranial|cerebral", ["HEAD"]),
    (r"abdomen|abdominal|belly|abd", ["ABDOMEN"]),
    (r"pelvis|pelvic", ["PELVIS"]),
    (r"abdomen\s+and\s+pelvis|abdominopelvic|abdomen/pelvis", ["ABDOMEN", "PELVIS"]),
    (r"breasts?", ["BREAST"]),
    (r"knees?", ["KNEE"]),
    (r"hips?", ["HIP"]),
    (r"spine|spinal", SPINE_PARTS),
    (r"neck", ["NECK"]),
    (r"liver|hepatic", ["LIVER"]),
    (r"kidneys?|renal", ["KIDNEY"]),
    (r"clavicles?|collarbones?", ["CLAVICLE"]),
    (r"humerus|upper\s+arm", ["HUMERUS"]),
    (r"wrists?", ["WRIST"]),
    (r"ankles?", ["ANKLE"]),
    (r"shoulders?", ["SHOULDER"]),
    (r"elbows?", ["ELBOW"]),
    (r"femurs?|thigh", ["FEMUR"]),
]
KO_BODY_PARTS: list[tuple[str, list[str]]] = [
    # English names too: Korean questions mix them in ('head CT 찍은', 'L-spine X-ray')
    (r"흉부|가슴|폐|흉곽|(?<![A-Za-z])(?:chest|thorax|lungs?)(?![A-Za-z])", ["CHEST"]),
    (r"심장|관상\s*동맥|(?<![A-Za-z])(?:heart|cardiac|coronary)(?![A-Za-z])", ["HEART"]),
    (r"머리|두부|뇌|두경부|(?<![A-Za-z])(?:head|brain)(?![A-Za-z])", ["HEAD"]),
    (r"복부|배|(?<![A-Za-z])(?:abdomen|abdominal|abd)(?![A-Za-z])", ["ABDOMEN"]),
    (r"골반|(?<![A-Za-z])(?:pelvis|pelvic)(?![A-Za-z])", ["PELVIS"]),
    (r"유방|(?<![A-Za-z])breasts?(?![A-Za-z])", ["BREAST"]),
    (r"무릎|슬관절|(?<![A-Za-z])knees?(?![A-Za-z])", ["KNEE"]),
    (r"고관절|(?<![A-Za-z])hips?(?![A-Za-z])", ["HIP"]),
    (r"요추|허리\s*뼈|(?<![A-Za-z])(?:L-?spine|lumbar(?:\s+spine)?)(?![A-Za-z])", ["LSPINE"]),
    (r"경추|(?<![A-Za-z])(?:C-?spine|cervical\s+spine)(?![A-Za-z])", ["CSPINE"]),
    (r"흉추|(?<![A-Za-z])(?:T-?spine|thoracic\s+spine)(?![A-Za-z])", ["TSPINE"]),
    (r"척추|(?<![A-Za-z])spine(?![A-Za-z])", SPINE_PARTS),
    (r"경부|목|(?<![A-Za-z])neck(?![A-Za-z])", ["NECK"]),
    (r"간", ["LIVER"]),
    (r"신장|콩팥", ["KIDNEY"]),
    (r"쇄골|(?<![A-Za-z])clavicles?(?![A-Za-z])", ["CLAVICLE"]),
    (r"상완골|위팔뼈|(?<![A-Za-z])humerus(?![A-Za-z])", ["HUMERUS"]),
    (r"손목|(?<![A-Za-z])wrists?(?![A-Za-z])", ["WRIST"]),
    (r"발목|(?<![A-Za-z])ankles?(?![A-Za-z])", ["ANKLE"]),
    (r"어깨|(?<![A-Za-z])shoulders?(?![A-Za-z])", ["SHOULDER"]),
    (r"팔꿈치|(?<![A-Za-z])elbows?(?![A-Za-z])", ["ELBOW"]),
    (r"대퇴골|(?<![A-Za-z])femurs?(?![A-Za-z])", ["FEMUR"]),
]

# ---------------------------------------------------------------- imaging output requests
# What to *return* for the cohort ("…; give me their CT scans", "… and their chest CTs", "환자의 흉부 CT
# 영상", "… CT 영상을 모아줘"), as opposed to an imaging rule of who qualifies ("who had a CT …"). A
# request is a request verb or a possessive followed by imaging words; ``nlq.recognise`` marks it.
# Verbs that ask for something when followed by 'me'/'us' ('give me', 'get us').
EN_REQUEST_VERBS_ME = r"give|send|get|show|bring|find|pull|fetch|provide|share|email|forward|hand"
# Verbs that ask for something on their own ('export their …', 'send the chest CTs of …').
EN_REQUEST_VERBS = (
    r"export|download|send|fetch|retrieve|collect|gather|deliver|extract|provide|share|pull|attach|"
    r"return|include|output"
)
EN_REQUEST_WANT = (
    r"i\s+(?:want|need|would\s+like|'d\s+like)(?:\s+to\s+(?:see|get|have|download|export|receive))?|"
    r"(?:can|could)\s+(?:i|we)\s+(?:get|have|see|download|export)|"
    r"(?:can|could|would)\s+you\s+(?:send|give|get|export|pull|fetch)(?:\s+(?:me|us))?"
)
EN_REQUEST_POSSESSIVES = r"their|these\s+patients'|those\s+patients'|the\s+patients'|patients'|the\s+cohort's"
# Generic image words that may follow a request ('their images', 'the scans', 'their DICOM files').
EN_REQUEST_IMAGES = (
    r"imaging\s+(?:studies|study|exams?|examinations?)|imaging|images?|scans?|"
    r"radiology(?:\s+(?:studies|images|exams?))?|dicoms?(?:\s+(?:files?|images?|studies|series))?"
)
# '환자의 …', '그들의 …' before imaging words; verbs that ask for the imaging words before them.
KO_REQUEST_HEADS = r"환자|대상자|사람"
KO_REQUEST_PRONOUNS = r"그들|이들|그분들|코호트"
KO_REQUEST_VERBS = (
    r"모아|가져와|가져다|보내|뽑아|추출해|추출|내보내|내려받아|다운로드해|다운로드|다운받아|전달해|공유해|"
    r"제공해|첨부해|수집해|챙겨|보여|"
    # '… 환자들 echo 데이터 필요합니다': the images needed, as '모아줘'
    r"필요합니다|필요해요|필요하고|필요함|필요해|필요"
)
KO_REQUEST_IMAGES = r"영상|이미지|사진|스캔|DICOM|다이콤"

# ---------------------------------------------------------------- negation, connectors, fillers
EN_NEGATION = (
    r"excluding|exclude[sd]?|except(?:\s+for|\s+those)?|but\s+not|other\s+than|without(?:\s+any)?|with\s+no|"
    r"nobody|no(?:\s+(?:record|evidence|sign)s?\s+of)?|not|never|none|neither|free\s+of|absence\s+of|"
    r"(?:did|do|does|have|has|had|was|were|is|are)\s*(?:n'?t|not)|didn't|don't|doesn't|haven't|hasn't|hadn't|"
    r"wasn't|weren't|isn't|aren't|lacking|minus|leav(?:e|ing)\s+out|omit(?:ting)?|"
    r"(?:apart|aside)\s+from(?:\s+those)?"
)
KO_NEGATION = (
    r"(?:을|를|이|가|은|는)?\s*(?:받은|한|된|있는|진단받은|처방받은|복용한|시행한|앓은|걸린)?\s*적(?:이|은)?\s*(?:한\s*번도\s*)?없(?:는|고|었던|던|음)|"
    r"(?:을|를|이|가|은|는)?\s*[가-힣]{0,3}지\s*않(?:은|는|았던|았고|고|음)|"
    r"(?:이|가|은|는)?\s*없(?:는|고|이|었던|던|음)|(?:을|를|은|는)?\s*제외(?:하고|한|하여|해서|하면|해줘|하고서)?|"
    r"(?:을|를|은|는)?\s*(?:(?:분석|명단|목록|대상|코호트|자료|리스트|결과)\s*에서\s*)?"
    r"빼(?:고|\s*(?:주시기|주세요|주시고|주십시오|줘|주))|안\s*(?:받은|한|된)|(?:이|가)?\s*아닌|"
    # colloquial '안' before a verb: 'ticagrelor 안 쓴', 'amiodarone 안 들어간'; never '30일 안' (within)
    r"(?:(?<![일주월달년])\s|^)안\s+(?!좋|나쁘|높|낮|괜찮|되|돼)[가-힣]{1,4}(?![가-힣])|"
    # written as one word: '처방 안나간', '약 안들어간'
    r"(?:(?<![일주월달년])\s|^)안(?:나간|나온|들어간|쓴|먹은|받은|맞은|찍은|한|된)(?![가-힣])"
)
EN_BOUNDARY = (
    r"who|whose|whom|which|that|where|;|among\s+(?:them|those|whom)|of\s+(?:those|whom|them)|in\s+whom"
)
EN_FILLERS = {
    "every",
    # 'another admission within 30 days': another event of the kind named (the window says when;
    # assemble.another_of_the_same keeps it from being the anchor itself)
    "another",
    "everyone",
    "everybody",
    "anyone",
    "anybody",
    # 'can u pull …', "people who've had …": chat spellings of 'you' and 'have'
    "u",
    "ve",
    "patients",
    "patient",
    "people",
    "persons",
    "person",
    "individuals",
    "subjects",
    "cases",
    "cohort",
    "cohorts",
    "list",
    "find",
    "show",
    "give",
    "get",
    "count",
    "number",
    "headcount",  # 'what's the headcount?': how many patients, which a cohort's count answers
    "how",
    "many",
    "me",
    "all",
    "any",
    "the",
    "a",
    "an",
    "of",
    "for",
    "in",
    "on",
    "at",
    "to",
    "by",
    "from",
    "had",
    "have",
    "has",
    "having",
    "was",
    "were",
    "is",
    "are",
    "be",
    "been",
    "being",
    "did",
    "do",
    "does",
    "also",
    "both",
    "either",
    "each",
    "their",
    "his",
    "her",
    "its",
    "them",
    "those",
    "these",
    "ever",
    "still",
    "please",
    "can",
    "could",
    "you",
    "i",
    "want",
    "need",
    "pull",
    "retrieve",
    "identify",
    "select",
    "return",
    "extract",
    "ones",
    "there",
    "what",
    "total",
    "records",
    "data",
    "whose",
    "within",
    "as",
    "well",
    "one",
    "someone",
    "somebody",
    "some",
    "us",
    "let",
    "see",
    "tell",
    "query",
    "gather",
    "collect",
    "fetch",
    "pts",
    "pt",
    "ppl",
    "folks",
    "this",
    "that",
    "our",
    "hospital",
    "database",
    "mart",
    "later",
    "who",
    "least",
    "such",
    "actually",
    "already",
    "subsequently",
    "then",
    "would",
    "like",
    "kindly",
    "just",
    "only",
    "same",
    "time",
    "type",
    "kind",
    "sort",
    "documented",
    "recorded",
    # 'in whom a chest CT was obtained', 'a stent (36.07) was inserted': the passive verb of the event named
    "obtained",
    "placed",
    "carry",  # 'who carry a type 2 diabetes diagnosis': have it
    "carries",
    "repeat",  # 'a repeat PCI 30 to 365 days later': another PCI, as the window says
    "check",  # 'no INR check within 30 days': the test, which its name says
    "checks",
    "further",  # 'no further admission in the 1 to 30 days after': another, as the window says
    "came",  # 'whose first metformin came within 180 days after': happened
    "acquired",
    "inserted",
    "implanted",
    "coded",
    "confirmed",
    "known",
    "positive",
    "start",
    "starts",
    "onset",
    "done",
    "overall",
    "afterwards",
    "dated",
    "occurring",
    "occurred",
    "happened",
    "happening",
    "made",
    "entered",
    "cohort's",
    "whatsoever",
    "among",
    "amongst",
    "cycles",
    "cycle",
    "sessions",
    "session",
    "courses",
    "course",
    "rounds",
    "episodes",
    "episode",
    "separate",
    "different",
    "distinct",
    # 'anyone', as typed in a hurry; 'somewhere between 3 months and 1 year after'
    "any1",
    # 'admitted again 1 to 30 days after that admission': another event of the kind named
    "again",
    # 'Require a gastrectomy within 90 days after the index date': a rule, which the rest says
    # 'within 30 days after they were given celecoxib': the patients, whose event follows
    "they",
    "record",  # 'one MI diagnosis record' = one diagnosis (as 'records')
    "shots",  # 'insulin glargine shots': the drug's exposures
    "shot",
    "require",
    "requires",
    "required",
    "requiring",
    # '… after that admission's start date': an event's date is the event (windows count in dates)
    "date",
    "dates",
    "somewhere",
    "anywhere",
    # 'metformin users', 'alteplase recipients': the people the drug's exposures belong to
    "users",
    "user",
    "recipients",
    "recipient",
    # 'HDL drawn the same day', 'the BP taken on the day of the dx': a sample or a reading being taken
    "drawn",
    "taken",
    # 'got packed cells transfused': the act of the transfusion named before it
    "transfused",
}
KO_FILLERS = {
    # '… 환자는 누구인가요?', '누구예요': asking who, which the list of patients answers
    "누구",
    "병기",  # '병기 CT': a staging CT is the CT
    "병용",  # '기준일 당일 metformin 병용 처방': taken together, which the same-day window says
    "생애",  # '생애 첫 CABG', '생애 처음': first ever, which 첫/처음 already says
    "음",  # '음 그러니까 뇌경색 …': a speaker's pause
    "그러니까",
    "통틀어",  # '입원 횟수가 통틀어 2번 이상': in all, which a count is
    "것만요",  # '진단은 2023년 것만요': only those, which the date says
    "것만",
    "남은",  # '… 환자는 제외하고, 남은 환자들의 …': the patients left, whom the rules already give
    "나머지",
    # 'ibuprofen 성분 약제', 'aspirin 계열 약': the drug named, whatever its product
    "성분",
    "계열",
    "결국",  # 'eventually': what follows happened, which the window says
    "누구인가요",
    "누구인지",
    "누구예요",
    "누구야",
    "누군지",
    "근데",  # 'but / by the way', chat Korean; '그런데' alike
    "그런데",
    "이렇게",  # '… → … → …, 이렇게 순서대로 간 환자': the chain said before
    "순서대로",
    "횟수",
    "환자",
    "환자들",
    "사람",
    "사람들",
    "분",
    "분들",
    "명단",
    "목록",
    "리스트",
    "수",
    "몇",
    "명",
    "인원",
    "인원수",
    "숫자",
    "대상",
    "대상자",
    "코호트",
    "중",
    "받은",
    "받고",
    "있는",
    "있고",
    "한",
    "하고",
    "된",
    "되고",
    "인",
    "이고",
    "이며",
    "모아줘",
    "모아",
    "뽑아줘",
    "뽑아",
    "찾아줘",
    "찾아",
    "알려줘",
    "알려",
    "보여줘",
    "보여",
    "추출해줘",
    "추출",
    "구해줘",
    "조회해줘",
    "조회",
    "해줘",
    "주세요",
    "줘",
    "좀",
    "모두",
    "다",
    "둘",
    "해당",
    "해당하는",
    "경우",
    "총",
    "얼마나",
    "되나요",
    "인가요",
    "있나요",
    "몇명",
    "야",
    "요",
    "하는",
    "했던",
    "가진",
    "적",
    "있었던",
    "받았던",
    "이력",
    "뽑아주세요",
    "찾아주세요",
    "알려주세요",
    "보여주세요",
    "모아주세요",
    "주십시오",
    "추출해",
    "부탁드립니다",
    "부탁합니다",
    "부탁드려요",
    # formal request endings ('추출해 주시기 바랍니다', '명단을 요청드립니다')
    "바랍니다",
    "바라며",
    "바람",
    "주시기",
    "주십시요",
    "요청드립니다",
    "요청합니다",
    "요청드려요",
    "요청드림",
    "추출하여",
    "추출해서",
    "알려죠",
    "바로",  # '온 날 바로 수술': right away, the day's window says when
    "찍힌",  # 'BMI 30 이상 찍힌': a value recorded, as '나온' is
    "찍혔던",
    "나왔던",
    "정리해줘",
    "나열해줘",
    "추려줘",
    "골라줘",
    "명수",
    "명이야",
    "되니",
    "되는지",
    "인지",
    "각각",
    "전체",
    "데이터",
    "기록",
    "우리",
    "병원",
    "에서",
    "의",
    "을",
    "를",
    "이",
    "가",
    "은",
    "는",
    "에",
    "으로",
    "로",
    "와",
    "과",
    "도",
    "만",
    "이나",
    "나",
    "부터",
    "까지",
    "동안",
    "동시에",
    "함께",
    "같이",
    "및",
    "또",
    "그",
    "이후",
    "당시",
    "시",  # '진단 시 나이' = '진단 당시 나이'
    "시작",  # '복용 시작 후': a drug's start is its exposure, as 'started on' is in English
    "때",
    "기준",
    "시점",
    "날",
    "확인된",
    "확인",
    "나온",
    "보인",
    "코드",
    "있었고",
    "있으면서",
    "받으면서",
    "하면서",
    "받아서",
    "해서",
    "먼저",
    "이상인",
    "실제로",
    "맞은",
    "찍은",
    "뽑아봐",
    "찾아봐",
    "알려줄래",
    "보여줄래",
    "줄래",
    "해주세요",
    "해",
    "혹시",
    "나이",
    "연령",
    "지나서",
    "지난",
    "지나",
    "경과한",
    "경과",
    "로부터",
    "으로부터",
    "중에",
    "통해",
    "때문에",
    "몇명인지",
    "몇명이나",
    "인원을",
    "명수를",
    "해당되는",
    "조건",
    "조건에",
    "맞는",
    "결과",
    "결과상",
    "상",
    "소견상",
    "다시",
    "현재",
    "지금",
    "이미",
    "계속",
    "실제",
    "정도",
    "대략",
    "약간",
    "모든",
    "전부의",
    "각",
    "꾸준히",
    "찾고",
    # '환자의 자료를 요청드립니다', 'IRB 자료 요청서': the data asked for, not a rule
    "자료",
    "요청서",
    # '진단 건 중에서': the diagnoses counted as cases; '추적 cardiac CT': a follow-up study is a study
    "건",
    "추적",
    "아예",  # '처방 기록이 아예 없는' = none at all, as '전혀'
    # '상부위장관 출혈 관련 진단', '메트포르민 개시', 'E11 진단 병력 보유', '→ 이어서', '쇄골 단순 X-ray'
    "관련",
    "개시",
    "보유",
    "이어서",
    "단순",
    "상태",  # '심근경색 병력이 있는 상태에서' = with a history of MI (the history says it)
    "상태에서",
    "신청서",
    "IRB",
    "찾아서",
    "뽑고",
    "뽑아서",
    "골라서",
    "고르고",
    "추려서",
}
# Words too vague to turn into a rule without asking; the parser offers these readings.
EN_VAGUE: list[tuple[str, str, list[str]]] = [
    (
        r"elderly|older\s+adults?|seniors?|geriatric|old\s+people|aged\s+patients",
        "age",
        ["aged 65 or older", "aged 75 or older", "aged 80 or older"],
    ),
    (r"young(?:er)?\s+(?:adults?|patients|people)|young", "age", ["aged 18–39", "aged 18–29", "under 18"]),
    (r"middle-?aged", "age", ["aged 40–64", "aged 45–64"]),
    # ('women of childbearing age' had been read as women of any age)
    (
        r"(?:of\s+)?child-?bearing\s+(?:age|potential)|reproductive\s+age|teen(?:ager)?s|adolescents?|"
        r"post-?menopausal|pre-?menopausal",
        "age",
        ["aged 15–49", "aged 18–44", "aged 13–17", "aged 50 or older"],
    ),
    (
        r"recently|recent|lately|currently",
        "time",
        ["in the last 3 months", "in the last 6 months", "in the last year"],
    ),
    (
        r"frequent(?:ly)?|many\s+times|often|repeated(?:ly)?",
        "count",
        ["at least 2", "at least 3", "at least 5"],
    ),
    (
        r"high|elevated|raised|abnormal|uncontrolled|poorly\s+controlled|low|decreased|reduced",
        "value",
        ["give the threshold, e.g. 'above 7%'"],
    ),
    (
        r"soon\s+after|shortly\s+after|right\s+after|around\s+the\s+time\s+of|near",
        "window",
        ["within 7 days after", "within 30 days after", "the same day"],
    ),
    (r"long-?term|chronic\s+use\s+of", "duration", ["give a duration, e.g. 'for at least 90 days'"]),
    # anticoagulants or antiplatelets? (a writer's 'blood thinner' was either)
    (
        r"blood[- ]thinners?|blood[- ]thinning\s+(?:drugs?|medications?|meds)",
        "drug",
        ["anticoagulants", "antiplatelets"],
    ),
    (
        r"discharged?|discharges",
        "unsupported",
        ["measure from the admission instead, e.g. 'readmitted within 30 days after the admission'"],
    ),
]
KO_VAGUE: list[tuple[str, str, list[str]]] = [
    (r"노인|고령자?|어르신|노년층?", "age", ["65세 이상", "75세 이상", "80세 이상"]),
    (r"젊은|청년", "age", ["18~39세", "18~29세"]),
    (r"중년", "age", ["40~64세", "45~64세"]),
    # ('청소년 천식 환자' had been read as any age; '소아청소년' is an age of its own)
    (r"(?<!소아)(?<!소아\s)청소년|가임기|폐경\s*(?:후|전)", "age", ["13~18세", "10~19세", "15~49세"]),
    (r"최근(?:에)?|요즘", "time", ["최근 3개월", "최근 6개월", "최근 1년"]),
    (r"자주|잦은|반복(?:적으로|된)?", "count", ["2회 이상", "3회 이상", "5회 이상"]),
    (
        r"높은|높게|낮은|낮게|비정상(?:적인)?|이상한|조절\s*안\s*되는|조절되지\s*않는|상승한|증가한",
        "value",
        ["기준값을 알려 주세요 (예: '7% 이상')"],
    ),
    (r"직후|얼마\s*안\s*돼서|곧바로|즈음", "window", ["7일 이내", "30일 이내", "같은 날"]),
    (r"장기(?:간)?", "duration", ["기간을 알려 주세요 (예: '90일 이상')"]),
    (r"퇴원(?:일|일자)?", "unsupported", ["입원일을 기준으로 말해 주세요 (예: '입원 후 30일 이내 재입원')"]),
    # 'warfarin을 중단한 환자' had been read as any warfarin: stopping is an absence after a use
    (
        r"중단(?:한|했던|된|하고|했고|해서|함)|끊은|끊었던|끊고",
        "stop",
        ["처방이 없는 기간으로 말해 주세요 (예: '2023년 처방 후 2024년에는 처방 없음')"],
    ),
]


# ---------------------------------------------------------------- English grammar (nlq.grammar_en)
# Words that may sit inside a clinical name ('fracture of rib', 'concussion with no loss of consciousness').
EN_NAME_WORDS = {
    "of",
    "with",
    "without",
    "in",
    "and",
    "to",
    "on",
    "due",
    "by",
    "or",
    "other",
    "not",
    "no",
    "type",
    "the",
    "a",
    "an",
    "at",
    "from",
    "for",
}
EN_VAGUE_NOUNS = {
    # 'NSAID, i.e. diclofenac or celecoxib' left unread: what it restates is asked, never a mention
    "i.e",
    "i.e.",
    "ie",
    "e.g",
    "e.g.",
    "thing",
    "things",
    "stuff",
    "something",
    "anything",
    "everything",
    "disease",
    "illness",
    "problem",
    "problems",
    "issue",
    "issues",
    "one",
    "ones",
    "same",
    "usual",
    "that",
    "this",
    "those",
    "these",
}
# The verb before an unknown mention that makes it a drug or a procedure, asked back ('received X').
_EN_RECEIVE = {"received", "receiving", "receive", "receives", "got", "get", "gets", "getting"}
_EN_START = {"started", "starting", "initiated", "began", "begun", "commenced", "needed", "required"}
EN_HINT_DRUG_OR_PROCEDURE_VERBS = _EN_RECEIVE | _EN_START


# ---------------------------------------------------------------- counts (nlq.quantities)
# Qualifier → (occurrence type, shift of N): 'more than 2 times' is at least 3, 'fewer than 2' at most 1.
EN_COUNT_QUALIFIERS: dict[str, tuple[OccurrenceType, int]] = {
    "at least": ("at_least", 0),
    "more than": ("at_least", 1),
    "no more than": ("at_most", 0),
    "at most": ("at_most", 0),
    "exactly": ("exactly", 0),
    "only": ("exactly", 0),
    "fewer than": ("at_most", -1),
    "less than": ("at_most", -1),
}
KO_COUNT_QUALIFIERS: dict[str, tuple[OccurrenceType, int]] = {
    "이상": ("at_least", 0),
    "초과": ("at_least", 1),
    "넘게": ("at_least", 1),
    "넘는": ("at_least", 1),
    "넘어": ("at_least", 1),
    "이하": ("at_most", 0),
    "이내": ("at_most", 0),
    "미만": ("at_most", -1),
    "만": ("exactly", 0),
}


# ---------------------------------------------------------------- Korean particles (nlq.text)
# (particle, needs: "C" after a consonant, "V" after a vowel (or ㄹ for 로), "" either).
JOSA: list[tuple[str, str]] = sorted(
    [
        ("으로부터", "C"),
        ("로부터", "V"),
        ("에서부터", ""),
        ("에서는", ""),
        ("에게서", ""),
        ("이라는", "C"),
        ("으로는", "C"),
        ("로는", "V"),
        ("에서", ""),
        ("에게", ""),
        ("으로", "C"),
        ("로", "V"),
        ("이나", "C"),
        ("나", "V"),
        ("이랑", "C"),
        ("랑", "V"),
        ("하고", ""),
        ("부터", ""),
        ("까지", ""),
        ("처럼", ""),
        ("보다", ""),
        ("이며", "C"),
        ("이고", "C"),
        ("이면", "C"),
        ("에는", ""),
        ("과는", "C"),
        ("와는", "V"),
        ("은", "C"),
        ("는", "V"),
        ("이", "C"),
        ("가", "V"),
        ("을", "C"),
        ("를", "V"),
        ("의", ""),
        ("에", ""),
        ("과", "C"),
        ("와", "V"),
        ("도", ""),
        ("만", ""),
        ("이라", "C"),
        ("라", "V"),
        ("이든", "C"),
        ("든", "V"),
        ("이거나", "C"),
        ("거나", "V"),
        ("인", "C"),
    ],
    key=lambda jp: -len(jp[0]),
)
# Words whose last syllable looks like a particle but is part of the word.
JOSA_PROTECTED = {
    "결과",
    "효과",
    "평가",
    "증가",
    "추가",
    "사이",
    "나이",
    "이상",
    "이하",
    "이내",
    "이후",
    "이전",
    "환자",
    "대상자",
    "부위",
    "의사",
    "단위",
    "범위",
    "이도",
    "정도",
    "진단명",
    "수술명",
    "시술명",
    "약품명",
    "명단",
    "위",
    "간",
    "폐",
    "혈당",
    "혈압",
    "고혈압",
    "당뇨",
    "당뇨병",
    "천식",
    "담석",
    "요로",
    "동맥",
    "심장",
    "신장",
    "소장",
    "대장",
    "모든",
    "어떤",
    "다른",
}

# ---------------------------------------------------------------- typo repair (nlq.recognise)
# Words the English typo repair corrects towards (besides fillers, stop words, months, numbers and the
# lexicon's words): 'diagnosd' → 'diagnosed'.
#: Plain words the English typo repair leaves alone although a lexicon word is one edit away.
# Real words no rule needs, never read as typos of a known word ("14 days apart", never "aspart";
# "subsequent to", never "subsequently to")
EN_PLAIN_WORDS = {
    "apart",
    # 'a lisinopril or losartan order': no typo of 'older'
    "order",
    "orders",
    "performed",
    "perform",
    "performing",
    "subsequent",
    "period",
    "periods",
    "included",
    "include",
    # 'Recurrent UTIs', never 'current UTIs'
    "recurrent",
    "recurring",
    "recurrence",
}
EN_GRAMMAR_WORDS = {
    "patients",
    "patient",
    "people",
    "diagnosed",
    "diagnosis",
    "diagnoses",
    "surgery",
    "surgeries",
    "operation",
    "operations",
    "procedure",
    "procedures",
    "prescribed",
    "prescription",
    "prescriptions",
    "medication",
    "medications",
    "medicine",
    "between",
    "within",
    "after",
    "before",
    "following",
    "excluding",
    "exclude",
    "without",
    "history",
    "admitted",
    "admission",
    "admissions",
    "hospitalized",
    "hospitalised",
    "hospitalization",
    "emergency",
    "department",
    "visit",
    "visits",
    "imaging",
    "ultrasound",
    "angiography",
    "echocardiography",
    "radiograph",
    "mammography",
    "tomography",
    "deceased",
    "months",
    "weeks",
    "years",
    "days",
    "women",
    "female",
    "females",
    "males",
    "older",
    "younger",
    "least",
    "exactly",
    "first",
    "prior",
    "previous",
    "during",
    "since",
    "through",
    "underwent",
    "received",
    "treated",
    "measured",
    "tested",
    "results",
    "values",
    "levels",
    "cohort",
    "those",
    "whose",
    "which",
    "never",
    "having",
    "followed",
    "subsequently",
    "later",
    "same",
    "diagnostic",
    "laboratory",
    "where",
    "aged",
    "under",
    "above",
    "below",
    "greater",
    "higher",
    "lower",
    "contains",
    "containing",
    "includes",
    "including",
    "named",
    "except",
    "other",
    "preceding",
    "readmitted",
    "readmission",
    "readmissions",
    "rehospitalized",
    "hospitalisation",
    "hospitalizations",
    "deaths",
    "mortality",
    "dying",
    "expired",
    "medicines",
    "intervention",
    "interventions",
    "operated",
    "scans",
    "images",
    "measurement",
    "measurements",
    "readings",
    "encounters",
    "outpatient",
    "inpatient",
    "presented",
    "presenting",
    "suffering",
    "suffered",
    "undergone",
    "undergoing",
    "administered",
    "dispensed",
    "initiated",
    "started",
    "taking",
    "using",
    "pathology",
    "histology",
    "biopsy",
    "angiogram",
    "angiograms",
    "echocardiogram",
    "mammogram",
    "computed",
    "magnetic",
    "resonance",
    "sonography",
    "managed",
    "receiving",
    "exceeded",
    "exceeding",
    "discharge",
    "discharged",
    "export",
    "download",
    "dicom",
    "dicoms",
    "deliver",
    "provide",
    "attach",
    "forward",
}
# Frequent Korean misspellings and their reading.
KO_TYPOS = {
    "골다공중": "골다공증",
    "안잰": "안 잰",
    "내웜": "내원",
    "안쓴": "안 쓴",
    "안먹은": "안 먹은",
    "진딘": "진단",
    "크레티닌": "크레아티닌",
    "뇌경섹": "뇌경색",
    "진당": "진단",
    "수숧": "수술",
    "처뱡": "처방",
    "환지": "환자",
    "당뇨변": "당뇨병",
    "싱근경색": "심근경색",
    "심근경섹": "심근경색",
    "고혈앞": "고혈압",
    "사망헌": "사망한",
    "입웜": "입원",
}

# ---------------------------------------------------------------- 'surgery name contains …' (nlq.recognise)
# The kind word of a name phrase → the event kind whose concept names are searched.
NAME_KIND_WORDS = {
    "surgery": "surgery",
    "surgical": "surgery",
    "procedure": "procedure",
    "operation": "surgery",
    "drug": "drug",
    "medication": "drug",
    "prescription": "drug",
    "diagnosis": "diagnosis",
    "수술": "surgery",
    "시술": "procedure",
    "약": "drug",
    "약품": "drug",
    "처방": "drug",
    "진단": "diagnosis",
}

# ---------------------------------------------------------------- leftover words (nlq.recognise)
# Words that no recogniser claimed, classified one by one.
EN_CONJ = {
    ",": ",",
    "and": "and",
    "&": "and",
    "plus": "and",
    "or": "or",
    "and/or": "or",
    "/": "or",
    "nor": "or",
}
EN_PREP = {
    "with",
    "for",
    "of",
    "on",
    "from",
    "to",
    "in",
    "at",
    "by",
    "about",
    "regarding",
    "due",
    "because",
    "during",
    "through",
    "via",
    "into",
}
EN_PRONOUNS = {"it", "this"}
# Verbs that report a finding of the event before them ('a CT *showing* …').
EN_FINDING_VERBS = {
    "shows",
    "show",
    "showed",
    "showing",
    "revealed",
    "reveals",
    "revealing",
    "confirmed",
    "confirming",
    "demonstrated",
    "demonstrating",
    "indicated",
    "indicating",
}
EN_VERBS = (
    _EN_RECEIVE
    | _EN_START
    | {
        "had",
        "has",
        "have",
        "having",
        "treated",
        "underwent",
        "experienced",
        "developed",
        "suffered",
        "showed",
        "showing",
    }
)
# Words that start a new clause ('who', 'that', 'but').
EN_BOUNDARY_WORDS = {"who", "whose", "whom", "which", "that", "where", ";", "but", "while", "whereas"}
#: '진단일에 *잰* 헤모글로빈', '당일 *쟀던* CRP': the verb 'measure' before its test, read as '측정한' (the
#: lab's own event word; the analyser may take '잰' for a noun).
KO_MEASURED = frozenset({"잰", "쟀던", "재었던", "쟀을"})
#: 'And' between clauses, never between two names ('…, 그리고 …', '또한 …').
KO_SENTENCE_AND = frozenset({"그리고", "또한", "아울러"})
KO_CONJ = {
    "및": "and",
    "와": "and",
    "과": "and",
    "하고": "and",
    "랑": "and",
    "이랑": "and",
    "또는": "or",
    "혹은": "or",
    "이나": "or",
    "나": "or",
    "이거나": "or",
    "거나": "or",
    "아니면": "or",
    ",": ",",
}
# Head nouns: a clause ending in one of them names the cohort's subject ('… 환자').
KO_HEAD = {
    "환자",
    "케이스",  # '… 사망한 케이스 몇 명이에요?': the cases, the patients
    "케이스들",
    "사례",  # '… 투여 기록 있는 사례 확인': surveillance's word for the cases, the patients
    "사례들",
    "환아",  # a child patient ('18세 미만 중이염 환아에서')
    "환아들",
    "환자들",
    "환자분",
    "환자분들",
    "pt들",  # 'pt들 있나요?': the chart abbreviation with the Korean plural
    "사용자",  # '와파린 신규 사용자 중': users of the drug named, the people asked for
    "사용자들",
    "사람",
    "사람들",
    "대상자",
    "대상자들",
    "분",
    "분들",
    "pt",
    "pts",
}
KO_ALL = {"모두", "둘다", "전부", "다"}
# Clause endings: verb forms and head nouns that close a Korean clause.
KO_ENDERS = (
    {
        # honorific forms of the clause verbs ('입원하신', '받으셨고', '사망하셨던')
        "하신",
        "하셨고",
        "하셨던",
        "하시고",
        "하셨으며",
        "되신",
        "되셨고",
        "되셨던",
        "받으신",
        "받으셨고",
        "받으셨던",
        "받은",
        "받고",
        "받았던",
        "받으며",
        "받아",
        "받아서",
        "받았고",
        "있는",
        "있고",
        "있었던",
        "있으며",
        "있으면서",
        "있던",
        "한",
        "하고",
        "했던",
        "하는",
        "하며",
        "하면서",
        "해서",
        "했고",
        "된",
        "되고",
        "되었던",
        "되는",
        "됐던",
        "인",
        "이고",
        "이며",
        "이면서",
        "이었던",
        "였던",
        "중인",
        "찍은",
        "맞은",
        "나온",
        "보인",
        "확인된",
        "측정된",
        "환자",
        "환자들",
        "사람",
        "사람들",
        "대상자",
        "대상자들",
        "케이스",
        "케이스들",
        "사례",
        "사례들",
        "분들",
        "중",
        "중에",
        "중에서",
        "가운데",
        "진단받은",
        "처방받은",
        "시행받은",
        "투여받은",
        "수술받은",
        "치료받은",
        "치료한",
        "시행한",
        "시행된",
        "처방된",
        "진단된",
        "받은후",
        "있었고",
        "받았으며",
        "했으며",
    }
    | KO_HEAD
    | {
        "들어간",
        "포함된",
        "들어있는",
        "포함되는",
        "적힌",
        "먹는",
        "먹고",
        "먹은",
        "온",
        "왔던",
        "있던",
        "찍고",
        "맞고",
        "다녀간",
        "방문했던",
        "받았었던",
        "발생한",
        "발생된",
        "생긴",
        "나타난",
        "발생했던",
        "입은",
        "당한",
    }
)
# Verb lemmas (Kiwi's dictionary forms, ``nlq.morph``) whose every inflection closes a Korean
# clause and adds no rule of its own: the event comes from the concept named before them
# ('스타틴을 *먹은*', '백신을 *맞고*', '*다녀와서*'). Verbs derived from a noun (복용하다, 악화되다,
# 처방받다) and auxiliaries ('하고 *나서*') close clauses too; any other verb ('좋아진') stays
# unknown and is asked about.
#: Verbs of the request itself ('환자를 찾고자 합니다', '자료를 요청드립니다', '뽑아 주세요'): they ask
#: for the list and say nothing about the patients.
KO_REQUEST_LEMMAS = frozenset(
    {
        "찾다",
        "요청하다",
        "요청드리다",
        "드리다",
        "뽑다",
        "추출하다",
        "구하다",
        "모으다",
        "원하다",
        "받아보다",
        "보다",
        "추리다",  # '… 분들을 추려 주세요'
        "알다",  # '… 있는지 알고 싶어요'
        "만들다",  # '… 코호트 만들어줘'
        "남기다",  # '… 환자만 남겨주세요': keep only those
    }
)
KO_CLAUSE_LEMMAS = frozenset(
    {
        "이어지다",  # '… oxaliplatin 투여까지 이어진 환자'
        "받다",
        "있다",
        "하다",
        "되다",
        "맞다",
        "먹다",
        "찍다",
        "나오다",
        "보이다",
        "오다",
        "가다",
        "다녀오다",
        "다녀가다",
        "들르다",
        "들다",  # '올해 들어': the period itself
        "생기다",
        "나타나다",
        "입다",
        "당하다",
        "걸리다",
        "넣다",
        "쓰다",
        "넘다",
        "넘기다",
        "지나다",
        "이다",
        "재다",  # '혈압 160 넘게 잰': a measurement's verb
        "실리다",  # "응급실로 실려온" (실리다 + 오다): brought in, a visit's verb
        "나가다",  # '처방이 나간': a prescription issued
        "들어가다",  # 'oxaliplatin 들어가고': a drug given
        "붙다",  # '내원 후 3일 안에 MI 진단까지 붙은': a diagnosis recorded
    }
)
# '65세를 넘긴', '65세가 넘은': an age followed by one of these verbs is strictly more than it
# (README: "over 65").
KO_OVER_LEMMAS = frozenset({"넘다", "넘기다"})
# '…, 단 X는 제외', '다만 …': "but", a clause boundary that adds no rule ('단 한 번도' is "not
# even once").
KO_BUT = {"단", "다만"}
# The auxiliary of '…하고 *나서*' ("after doing"): the clause after it happens on or after the one before.
KO_AFTER_AUX = "나다"
# Particles that join two mentions ('심근경색이나 뇌졸중').
KO_PARTICLE_CONJ = {
    "이나": "or",
    "나": "or",
    "이거나": "or",
    "거나": "or",
    "과": "and",
    "와": "and",
    "하고": "and",
    "랑": "and",
    "이랑": "and",
}

# ---------------------------------------------------------------- merging neighbours (nlq.recognise)
# Words for people: an unknown phrase right before one is a mention ('acute bronchitis patients').
PEOPLE_WORDS = {"patients", "patient", "cases", "subjects", "people", "pts", "persons", "individuals"}
# Participles after a mention belong to it ('metformin *started* in 2023').
PARTICIPLES = {
    "started",
    "initiated",
    "begun",
    "commenced",
    "received",
    "needed",
    "required",
}
# 'the last/latest HbA1c': one particular measurement per person, which rules cannot express (asked back).
LAST_WORDS = {"last", "latest", "final", "마지막", "최종"}


# ---------------------------------------------------------------- comparisons (nlq.quantities)
# Comparison words → operator: 'above 7%', '7% or more', '7% 이상'.
OPS_EN: dict[str, CompareOp] = {
    "above": ">",
    "over": ">",
    "greater than": ">",
    "more than": ">",
    "higher than": ">",
    "exceeding": ">",
    "exceeds": ">",
    "exceed": ">",
    "exceeded": ">",
    "in excess of": ">",
    "beyond": ">",
    ">": ">",
    "rose above": ">",
    "went above": ">",
    "went over": ">",
    "got above": ">",
    "got over": ">",
    "went up above": ">",
    "went up over": ">",
    "was above": ">",
    "fell below": "<",
    "dropped below": "<",
    "drop below": "<",
    "drops below": "<",
    "dropping below": "<",
    "fall below": "<",
    "falls below": "<",
    "falling below": "<",
    "fell under": "<",
    "dropped under": "<",
    "rise above": ">",
    "rises above": ">",
    "rising above": ">",
    "go above": ">",
    "goes above": ">",
    "went below": "<",
    "was below": "<",
    "greater than or equal to": ">=",
    "at least": ">=",
    "no less than": ">=",
    "not less than": ">=",
    ">=": ">=",
    "≥": ">=",
    "=>": ">=",
    "of at least": ">=",
    "minimum of": ">=",
    "a minimum of": ">=",
    "no fewer than": ">=",
    "below": "<",
    "under": "<",
    "less than": "<",
    "lower than": "<",
    "fewer than": "<",
    "<": "<",
    "less than or equal to": "<=",
    "at most": "<=",
    "no more than": "<=",
    "not more than": "<=",
    "up to": "<=",
    "<=": "<=",
    "≤": "<=",
    "=<": "<=",
    "a maximum of": "<=",
    "maximum of": "<=",
    "equal to": "=",
    "=": "=",
    "exactly": "=",
    "of exactly": "=",
}
# After the number: '7% or more', '7% and below'.
POST_EN: dict[str, CompareOp] = {
    "more": ">=",
    "higher": ">=",
    "above": ">=",
    "greater": ">=",
    "over": ">=",
    "less": "<=",
    "lower": "<=",
    "below": "<=",
    "under": "<=",
    "fewer": "<=",
}
KO_OPS: dict[str, CompareOp] = {
    "이상": ">=",
    "초과": ">",
    "이하": "<=",
    "미만": "<",
    "넘는": ">",
    "넘게": ">",
    "넘어": ">",
    "넘은": ">",
    "넘었고": ">",
    "넘었던": ">",
    "넘었으며": ">",
    "넘긴": ">",
    "밑도는": "<",
    "밑돈": "<",
    "웃도는": ">",
    "웃돈": ">",
}

# A unit as written (lower case, no spaces) → as the spec writes it; others are kept as written.
UNIT_SPELLINGS = {
    "percent": "%",
    "퍼센트": "%",
    "프로": "%",
    "mmhg": "mmHg",
    "mg/dl": "mg/dL",
    "g/dl": "g/dL",
    "mmol/l": "mmol/L",
    "ng/ml": "ng/mL",
    "pg/ml": "pg/mL",
    "u/l": "U/L",
    "iu/l": "IU/L",
    "u/ml": "U/mL",
    "iu/ml": "IU/mL",
    "miu/ml": "mIU/mL",
    "miu/l": "mIU/L",
    "x10^3/ul": "10^3/uL",
    "10^3/ul": "10^3/uL",
    "x10^3/µl": "10^3/uL",
    "10^3/µl": "10^3/uL",
    "x10^9/l": "10^9/L",
    "10^9/l": "10^9/L",
}

# ---------------------------------------------------------------- calendar words (nlq.dates, demographics)
# Month names and abbreviations → month number.
MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
# 'in their forties' → 40..49.
DECADES = {
    "twenties": 20,
    "thirties": 30,
    "forties": 40,
    "fifties": 50,
    "sixties": 60,
    "seventies": 70,
    "eighties": 80,
    "nineties": 90,
}

# ---------------------------------------------------------------- request framing (nlq.recognise)
# A lead-in before the request itself ('Hi team —', 'Protocol request.', 'For a diabetes quality
# project:', "We're studying outcomes after coronary bypass."): read past, and said so in the notes.
# Each pattern must be followed by more text; a lead-in never holds a rule.
EN_LEAD_INS = [
    r"(?:hi|hello|hey|dear)\b[^.:!?\n—–-]{0,40}(?:[,.:!]|\s[—–-])\s*",
    # who is asking: 'Nephrology here.', 'ortho fellow here -'
    r"[a-z]+(?:\s+[a-z]+)?\s+here\s*[.:!,—–-]\s*",
    # measure-speak: 'I only need the numerator:', 'just the denominator -'
    r"(?:(?:i|we)\s+(?:only\s+|just\s+)?need\s+|just\s+|only\s+)the\s+(?:numerator|denominator)"
    r"(?:\s+(?:cases|events|patients))?\s*[.:,—–-]\s*",
    # chat openers: 'ok so i need …', 'um, …'
    r"(?:ok(?:ay)?|um+|so)\b[,.]?\s+(?:so\b[,]?\s+)?",
    r"(?:(?:a\s+)?(?:protocol|data|cohort|research|extraction)\s+request|quick\s+(?:question|one))\s*[.:!—–-]\s*",
    r"for\s+(?:a|an|our|the|my)\s+[^.:,;]{1,60}?(?:project|study|studies|audit|review|analysis|registry|"
    r"paper|grant|trial|initiative|check|program|programme|feasibility(?:\s+(?:count|check|query))?|pilot|"
    r"count|screen|dataset|request|bundle|committee|dashboard|meeting|report|detector|model|metrics?)"
    r"(?:\s*[:,]\s*|\s+(?=(?:i|we)\s+(?:only\s+|just\s+)?need\s+the\s+(?:numerator|denominator)\b))",
    r"(?:we(?:'re|\s+are)|i(?:'m|\s+am))\s+(?:studying|doing|looking\s+(?:at|into)|running|planning|"
    r"working\s+on|preparing|writing|putting\s+together|conducting)\b[^.!?]{0,120}?"
    r"(?:[.!]\s+|,\s*(?:specifically|namely|in\s+particular|that\s+is)\s*,?\s+)",
    # 'We need patients with …', 'I want all patients who …', 'The study population will comprise …'
    r"(?:we|i)\s+(?:need|want|require|(?:'re|are|am)\s+looking\s+for)\s+(?:to\s+(?:see|get|find)\s+)?",
    r"(?:the\s+)?(?:study\s+)?(?:population|cohort|sample)\s+(?:will\s+)?(?:comprise|consist\s+of|include|is|are)\s+",
    # protocols: 'We will identify adults …', 'We will include women …', 'Eligible patients are those with …'
    r"(?:we|the\s+(?:study|investigators?|team))\s+(?:will|shall|plan\s+to|intend\s+to|propose\s+to|aim\s+to)\s+"
    r"(?:identify|include|enrol+|select|recruit|study|examine|analy[sz]e|extract|define|assemble|construct|"
    r"build|retrieve)\s+",
    r"(?:eligible|included)\s+(?:patients|participants|subjects|persons|individuals|cases)\s+(?:will\s+be|are)\s+"
    r"(?:those|patients|participants|subjects|persons|individuals)?\s*",
    # the request itself: 'Would it be possible to identify …', 'may I please request …', 'Please pull …'
    r"(?:would|could|can)\s+(?:it\s+be\s+possible\s+(?:for\s+you\s+)?to|you(?:\s+please)?)\s+"
    r"(?:identify|find|pull|list|provide|get|extract|share|send|give\s+(?:me|us))\s+",
    r"(?:may|can|could)\s+(?:i|we)\s+(?:please\s+)?(?:request|ask\s+for|get|have|see)\s+",
    r"(?:i|we)(?:'d|\s+would)\s+(?:really\s+|very\s+much\s+)?(?:appreciate\s+(?:it\s+)?if\s+you\s+could|like\s+to)\s+"
    r"(?:know|see|identify|find|pull|list|provide|get|have|request|receive)\s+(?:which\s+|the\s+|all\s+)?",
    r"(?:please\s+)(?:pull|identify|find|list|extract|provide|get|give\s+(?:me|us)|send)\s+(?:me\s+|us\s+)?",
    # a request passed on by whoever queues it: 'The PI requests …', 'Investigator is asking for …',
    # 'Requester wants …', 'Per the approved protocol: …', 'Per protocol sec. 4.2: …'
    r"(?:the\s+)?(?:PI|principal\s+investigator|(?:co-?)?investigators?|requester|requestor|researcher|sponsor|"
    r"study\s+team|research\s+team)\s+(?:requests|is\s+requesting|has\s+requested|requested|is\s+asking\s+for|"
    r"asks\s+for|wants|would\s+like|needs|is\s+looking\s+for)\s+",
    r"(?:as\s+)?per\s+(?:the\s+)?(?:approved\s+|IRB-?approved\s+|study\s+)?protocol"
    r"(?:\s*\(?\s*(?:sec(?:tion)?\.?|§)\s*\d+(?:\.\d+)*\s*\)?)?\s*[:,]\s*",
    # surveillance: 'Line list request - …', 'Line list: …', 'Line list of …'
    r"line[\s-]*list(?:\s+request)?\s*(?:[:—–-]\s*|of\s+)",
    # 'I'm looking at people who …', 'I'm interested in patients whose …', 'Looking for folks with …'
    r"(?:(?:i'?m|i\s+am|we'?re|we\s+are)\s+)?(?:looking\s+(?:at|for|into)|interested\s+in|trying\s+to\s+find)\s+",
]
