"""What term resolution says to the user, in English and Korean (the user's language)."""

from __future__ import annotations

from cohort_engine.spec import Domain

DOMAIN_NAMES = {
    "en": {d: d.value for d in Domain},
    "ko": {
        Domain.condition: "진단",
        Domain.procedure: "시술/수술",
        Domain.drug: "약물",
        Domain.measurement: "검사",
        Domain.observation: "관찰",
        Domain.visit: "방문",
        Domain.imaging: "영상 검사",
        Domain.death: "사망",
    },
}

NOTES: dict[str, dict[str, str]] = {
    "no_concepts": {
        "en": "{domain} events carry no concepts; describe them by modality or body part",
        "ko": "{domain}에는 개념 코드가 없습니다. 모달리티나 부위로 설명해 주세요",
    },
    "other_spelling": {
        "en": "“{term}” found through the lexicon's other spellings of it",
        "ko": "“{term}”을(를) 용어집의 다른 표기로 찾았습니다",
    },
    "indication": {
        "en": "read as {domain}s {verb} for {term} ({names})",
        "ko": "“{term}”에 대해 시행된 {domain}로 읽었습니다 ({names})",
    },
    "contains": {
        "en": "“{term}” is not a concept name here; {count} {domain} concepts have it in their names: pick "
        "one, or name the one you mean",
        "ko": "“{term}”은(는) 이 데이터마트의 개념 이름이 아닙니다. 이름에 이 말이 들어간 {domain} 개념이 "
        "{count}개 있습니다. 하나를 고르거나 원하는 개념을 말해 주세요",
    },
    "ambiguous": {
        "en": "“{term}” is close to several {domain} concepts; pick one",
        "ko": "“{term}”과(와) 비슷한 {domain} 개념이 여러 개입니다. 하나를 골라 주세요",
    },
    "unresolved": {
        "en": "no {domain} concept in this mart matches “{term}”",
        "ko": "이 데이터마트에는 “{term}”에 맞는 {domain} 개념이 없습니다",
    },
    "chosen": {"en": "chosen by the user", "ko": "사용자가 선택함"},
    "range_gap": {
        "en": "{missing} of the written range {first}–{last} is not in this mart's vocabulary; the range's "
        "other codes were taken",
        "ko": "적어 주신 범위 {first}~{last} 중 {missing}은(는) 이 데이터마트의 어휘에 없어서 "
        "나머지 코드로 읽었습니다",
    },
}


def note(code: str, lang: str, domain: Domain | None = None, **values: object) -> str:
    lang = lang if lang in ("en", "ko") else "en"
    names = DOMAIN_NAMES[lang]
    verb = "given" if domain is Domain.drug else "done"
    return NOTES[code][lang].format(domain=names[domain] if domain else "", verb=verb, **values)
