"""Requests the engine refuses before parsing: changing data, identifying people, or no cohort at all.

Refusal is decided on wording alone and before anything else, so no later stage can be talked into
running SQL for such a request. A request that *names* things ("whose surgery name contains …",
"수술명에 …") is not identifying: names of procedures and drugs are vocabulary, not people.
"""

from __future__ import annotations

import re

from cohort_engine.nlq.messages import say
from cohort_engine.nlq.regex_cache import regex

DESTRUCTIVE = regex(
    r"\b(?:delete|truncate|wipe|erase|overwrite|purge|destroy|modify|revoke|rename|merge|dedupe|deduplicate|reassign)\b|"
    r"\bchange\b(?!\s+in\b)|\bset\s+(?:all\s+|the\s+|every\s+)?[\w\s]{1,40}?\s+to\b|"
    r"\b(?:drop|alter|create)\s+(?:the\s+)?(?:\w+\s+)?(?:table|database|schema|view|column|index|all)\b|\binsert\b|"
    r"\badd\s+(?:a\s+)?(?:new\s+)?(?:patients?|records?|rows?)\b|"
    r"\bupdate\s+(?:the\s+)?(?:tables?|records?|patients?|data|person|rows?|\w+\s+set)\b|"
    r"\bupdate\s+(?:every|all|each|any)\b|"
    # 'Drop every celecoxib exposure from the database', 'Update the warfarin dose to 5 mg for every patient'
    r"\bdrop\s+(?:every|all|the|those|these|any)\b[^.;]{0,60}?\bfrom\s+the\s+(?:database|mart|tables?|data)\b|"
    r"\bupdate\s+the\s+[\w\s-]{1,30}?\s+to\s+\d|"
    # 'update the death date for person 18', 'correct the units': changing recorded values
    r"\b(?:update|correct|fix)\s+(?:the\s+|their\s+|a\s+)?(?:[\w-]+\s+){0,3}?(?:dates?|codes?|records?|values?|units?|"
    r"fields?|columns?|entries)\b|"
    r"\bremove\s+(?:all|every|the|their|those|these|patients?|records?|rows?|data|tables?)\b|"
    # 'export all data' is a bulk dump; 'export all their chest CTs' (a cohort's images) is not.
    r"\b(?:dump|export|download|copy)\s+(?:the\s+)?(?:whole|entire|all|full)\b(?!\s+(?:of\s+)?(?:their|these|those)\b"
    r"[^.;]{0,40}?\b(?:cts?|mris?|mr|scans?|images?|imaging|x-?rays?|radiographs?|angiogra\w*|echo\w*|ultrasounds?|"
    r"mammo\w*|pet|dicoms?|studies)\b)|"
    r"\bset\s+\w+\s*=|"
    r"삭제|지워|지우|수정해|변경해|바꿔|업데이트|덮어써|덮어쓰|초기화|드롭|(?<!영상을\s)(?<!영상\s)(?<!영상)전부\s*내보내|통째로|추가해|"
    r"추가\s*해|넣어|등록해|고쳐\s*(?:주|줘|줄)|일괄\s*수정|수정\s*\(\s*update\s*\)|\bupdate\b\s*(?:로|해|쳐|하)|"
    # '중복된 환자 데이터를 제거해줘' (never '혈전을 제거한 환자': a procedure)
    r"(?:데이터|기록|자료|레코드|테이블|행)\s*(?:를|을)?\s*(?:모두\s*|전부\s*|다\s*)?제거\s*(?:해|하)|"
    # English commands inside Korean: '… 테이블 drop 해줘'
    r"\b(?:drop|truncate|delete)\b\s*(?:해|하|시켜)",
    re.IGNORECASE,
)
#: Requests for writing that is no cohort at all ('write me a short poem about heart failure', '축시 하나
#: 써줘'), refused whatever clinical words they mention.
OFF_TOPIC = regex(
    r"\b(?:write|compose|make)\s+(?:me\s+|us\s+)?(?:a\s+)?(?:(?:short|little|funny|nice)\s+){0,3}"
    r"(?:poem|haiku|limerick|song|joke|story|rap|sonnet)\b|"
    # 'can u write the d/c summary for the pt in bed 12': a clinical document, not a cohort
    r"\bwrite\s+(?:me\s+|us\s+)?(?:a\s+|the\s+|an\s+)?(?:d/c|discharge|progress|consult|referral|clinic|admission|"
    r"transfer|op(?:erative)?)\s+(?:summary|summaries|notes?|letters?|reports?)\b|"
    r"(?:축시|시|노래|농담|동화|이야기|가사|삼행시)\s*(?:를|을)?\s*(?:하나|한\s*편|좀)?\s*(?:써|지어|만들어)|"
    # documents to write: '판독 소견서 좀 써줘', '처방 권고안을 작성하여 회신'
    r"(?:소견서|판독문|권고안|지침|보고서|요약지|퇴원\s*요약(?:지)?|경과\s*기록)\s*(?:을|를|좀)?\s*(?:좀\s*)?(?:써|작성)",
    re.IGNORECASE,
)
#: Job titles said with 님 ('교수님', '간호사님'): the one asking or asked about by role, not a name.
_JOB_TITLES_KO = (
    r"(?:교수|선생|원장|과장|부장|팀장|실장|박사|주임|소장|국장|간호사|기사|주치의|담당자|전공의|레지던트|"
    r"보호자|어르신|고객|회원|환자|연구원|선배|후배)"
)
IDENTIFYING = regex(
    r"\b(?:resident\s+(?:registration\s+)?numbers?|ssns?|social\s+security(?:\s+numbers?)?|phone\s+numbers?|"
    r"telephone|mobile\s+numbers?|(?:home\s+)?addresses|address|mrns?|medical\s+record\s+numbers?|"
    r"hospital\s+numbers?|patient\s+ids?|chart\s+numbers?|birth\s*dates?|dates?\s+of\s+birth|dob|e-?mails?|"
    r"contact\s+(?:details|information|info)|identit(?:y|ies)|who\s+exactly|face\s+photos?)\b|"
    r"주민(?:등록)?\s*번호|전화\s*번호|휴대(?:폰|전화)\s*번호?|연락처|주소|등록\s*번호|환자\s*번호|차트\s*번호|"
    r"병록\s*번호|생년월일|이메일|신원|(?<![가-힣])사는(?=\s)|거주(?:하는|지|지가)?|"
    r"\b(?:live[sd]?|living|resid(?:e|es|ing|ence))\s+(?:in|at|near)\b|\bhome\s+towns?\b|"
    r"\bpatient\s*(?:id|#|no\.?|number)?\s*#?\d{3,}\b|(?<![\d.])\d{3,}\s*번\s*환자|환자\s*(?:번호\s*)?\d{3,}(?!\d*\s*(?:년|[-./]\d))|"
    # ('in their whole history' is over all time, not a request for the record)
    r"(?<!in\stheir\s)(?<!in\sthe\s)(?<!over\stheir\s)(?<!over\sthe\s)(?<!across\stheir\s)"
    r"\b(?:full|whole|entire|complete)\s+(?:medical\s+|health\s+|patient\s+)?(?:records?|charts?|histor(?:y|ies))\b|"
    r"(?:기록|차트|의무\s*기록|진료\s*기록)\s*(?:을|를|좀)?\s*(?:보여|출력|열어|보내|넘겨)|\bwho\s+is\s+the\s+(?:doctor|physician)|"
    # free text (notes, reports) can name people: never shown
    r"\b(?:show|give|display|print|read|list|see|view|open|export|send|copy)\b.{0,40}?"
    r"\b(?:notes?|note\s+text|free[- ]text|"
    r"discharge\s+summar(?:y|ies)|reports?|letters?)\b|(?:기록지|원문|요약지|판독문|소견서|메모|노트)\s*(?:을|를)?\s*"
    r"(?:보여|출력|내보내|알려|읽어|보내)|"
    # '홍길동 님', '김민준씨': a person named before a title ('비뇨기과 교수님 요청' names a job, no one)
    rf"(?<![가-힣])(?!{_JOB_TITLES_KO}\s*(?:씨|님))[가-힣]{{2,3}}\s*(?:씨|님)(?:의|이|가|은|는)?(?![가-힣])|"
    r"\bpatient\s+(?:named|called)\b|\bwho\s+is\s+patient\b",
    re.IGNORECASE,
)
# People named in romanized Korean ('Kim Min-jun') or with a title; case matters here.
PERSON_NAMES = regex(
    r"\b(?:Kim|Lee|Park|Choi|Jung|Jeong|Kang|Cho|Yoon|Jang|Lim|Han|Seo|Shin|Kwon|Hwang|Ahn|Yoo|Hong|Jeon|Ko|Yang|Son|"
    r"Bae|Baek|Heo|Nam|Noh|Kwak|Sung|Cha|Joo|Woo|Ryu|Jin|Chae|Chun|Hyun|Byun|Yeom|Seok|Seol|Pyo|Myung|Wang|Yook|Maeng)"
    r"\s+[A-Z][a-z]+(?:-[a-z]+)?\b|\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+[A-Z][a-z]+"
)
# ('예후 예측 모델 학습용 코호트': a prediction model's training cohort is a cohort request;
# '예측해 줘' is not)
ADVICE = regex(
    r"\b(?:best|recommend(?:ed|s|ation)?|should\s+(?:i|we|he|she|they)|how\s+(?:do|should|to)\s+(?:i\s+|we\s+)?treat|what\s+causes|"
    r"is\s+it\s+safe|side\s+effects?\s+of|dose\s+of|dosage|prognosis\s+of|cure\s+for|diagnose\s+me|my\s+(?:doctor|symptoms?|"
    r"medication|blood|pressure))\b|추천(?:해|해줘|해\s*줘|좀)|치료법(?:이|은)?\s*(?:뭐|무엇)|어떻게\s*치료|먹어도\s*돼|"
    r"부작용(?:이|은)?\s*(?:뭐|무엇)|가장\s*좋은|(?<![가-힣])내\s*(?:혈압|약|증상|병|몸|건강|진단)|나의\s+|"
    r"(?:치료|관리|예방)\s*(?:는|를|은)?\s*어떻게|몇\s*(?:mg|밀리그램|단위|ml)\s*(?:으로|로)?|"
    r"(?:올리면|줄이면|늘리면|바꾸면)\s*(?:될까|되나|돼)|\bwhat\s+dose\b|\bis\s+\w+\s+safe\b|\bsafe\s+(?:in|for|during|to)\b|"
    r"\b(?:predict|forecast|will\s+(?:die|develop|get|need))\b|예측(?!\s*(?:모델|모형|알고리즘|연구|과제|AI|인공지능|용|을\s*위한))|전망|\bwhy\s+(?:do|does|did)\b|왜\s",
    re.IGNORECASE,
)
NAMES = regex(r"\b(?:full\s+|first\s+|last\s+|sur)?names?\b|이름|성명|실명", re.IGNORECASE)
# A 'name' preceded by one of these words is a concept name, not a person's name.
CONCEPT_NAME_BEFORE = regex(
    r"(?:surgery|surgical|procedure|operation|drug|medication|medicine|prescription|diagnosis|disease|test|"
    r"lab|concept|code|study|series|brand|generic|product|device|condition|수술|시술|약품?|처방|진단|검사|질환|"
    r"약물|코드|개념)\s*(?:'s\s*|\s+whose\s*)?$",
    re.IGNORECASE,
)
COHORT_WORDS = regex(
    r"patient|people|person|cohort|case|subject|diagnos|surger|procedure|operation|prescri|drug|medication|"
    r"admi|hospitali|died|death|imaging|scan|lab|test|visit|환자|진단|수술|시술|처방|투약|복용|검사|영상|촬영|"
    r"입원|응급|사망|명단|코호트|대상자|뽑아|추출|조건|몇\s*명|everyone|everybody|"
    # chart shorthand for people, and a code as written ('pts with I21 in 2023')
    r"\bpts?\b|\bppl\b|folks|individuals|\b[A-Z]\d{2}(?:\.\d{1,4})?\b|\b\d{2}\.\d{1,2}\b|"
    # acts of care and chart shorthand: 'lung needle biopsies done in the past 3 months'
    r"biops|transfus|therap|treat|infus|inject|vaccin|screen|x-?ray|\bct\b|\bmri?\b|ultrasound|"
    r"\becho|endoscop|colonoscop|\b[dhtr]x\b|s/p|조직검사|생검|수혈|치료|주사",
    re.IGNORECASE,
)


def _identifying_names(text: str) -> bool:
    return any(not CONCEPT_NAME_BEFORE.search(text[: m.start()]) for m in NAMES.finditer(text))


def refusal(text: str, lang: str) -> str | None:
    """The refusal message for this request, or None when the engine may answer it."""
    if DESTRUCTIVE.search(text):
        return say("refuse_destructive", lang)
    if IDENTIFYING.search(text) or PERSON_NAMES.search(text) or _identifying_names(text):
        return say("refuse_identifying", lang)
    return None


def advice(text: str, lang: str) -> str | None:
    """Medical advice ('best treatment for …', '추천해줘'): out of scope even when clinical words appear."""
    if not ADVICE.search(text):
        return None
    return say("refuse_advice", lang)


def off_topic(lang: str) -> str:
    return say("refuse_off_topic", lang)


# 3-syllable Hangul words that start with a common family name and stand before 환자/씨/님 are names.
_FAMILY = "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남"
NAME_BEFORE_TITLE_KO = regex(
    rf"(?<![가-힣])[{_FAMILY}][가-힣]{{2}}\s*(?:환자|씨|님)(?:의|이|가|는|을|를)?(?![가-힣])"
)


def named_person_ko(text: str, unknown_words: list[str]) -> bool:
    """'홍길동 환자 기록': a name the lexicon does not know, before a title. Clinical words are known
    mentions (the caller passes only words no recogniser understood), so they never match."""
    return any(
        NAME_BEFORE_TITLE_KO.search(w + " 환자") and NAME_BEFORE_TITLE_KO.search(text)
        for w in unknown_words
        if len(w) == 3
    )
