"""What the rule parser says to the user — clarifying questions, the readings it offers, notes on the
readings it chose — in English and Korean, in one catalogue.

Every message has both languages with the same placeholders (``tests/test_parser_messages.py``), so
a question asked in Korean is answered in Korean, and a new message cannot be added in one language
only. ``say`` formats one message; ``readings`` formats the candidate readings offered with it.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "ko"]

MESSAGES: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------ the whole question (nlq.parser)
    "empty_question": {"en": "The question is empty.", "ko": "질문이 비어 있습니다."},
    "question_too_long": {
        "en": "The question is longer than {max_chars} characters; ask one cohort at a time.",
        "ko": "질문이 {max_chars}자를 넘습니다. 코호트 하나씩 물어 주세요.",
    },
    "parser_failed": {
        "en": "I could not read this question: the parser hit a problem of its own (reported to the "
        "operator). Please say it another way, e.g. one rule per sentence.",
        "ko": "이 질문을 읽지 못했습니다: 해석기 내부에 문제가 생겼습니다(운영자에게 기록됨). "
        "조건을 한 문장에 하나씩 "
        "나누는 등 다르게 써 주세요.",
    },
    "correction_kept": {
        "en": "The question corrects itself; the correction was read: “{text}”.",
        "ko": "질문 안에서 고쳐 말한 부분은 고친 대로 읽었습니다: “{text}”.",
    },
    "not_whole_question": {
        "en": "I could not turn the whole question into cohort rules: ",
        "ko": "질문 전체를 코호트 조건으로 바꾸지 못했습니다: ",
    },
    "nothing_to_select": {"en": "nothing to select.", "ko": "선택할 조건이 없습니다."},
    # ------------------------------------------------------------ refusals (nlq.guard)
    "refuse_destructive": {
        "en": "This engine only reads the clinical mart; it never changes or deletes data.",
        "ko": "이 엔진은 데이터를 조회만 하며 변경하거나 삭제하지 않습니다.",
    },
    "refuse_identifying": {
        "en": "Identifying details (names, record or resident numbers, contact details, birth dates) are "
        "never returned; ask for a cohort or counts instead.",
        "ko": "이름, 등록번호, 주민번호, 연락처, 생년월일 같은 식별 정보는 제공하지 않습니다. 코호트나 "
        "인원수를 요청해 주세요.",
    },
    "refuse_advice": {
        "en": "This engine selects patient cohorts from the mart; it gives no medical advice, "
        "recommendations or predictions. Ask which patients match criteria instead.",
        "ko": "이 엔진은 데이터마트에서 환자 코호트를 선택할 뿐, 의학적 조언, 추천, 예측은 하지 않습니다. "
        "조건에 맞는 환자를 물어 주세요.",
    },
    "refuse_off_topic": {
        "en": "This is not a question about a patient cohort; describe patients by diagnoses, procedures, "
        "drugs, tests, imaging or dates.",
        "ko": "환자 코호트에 대한 질문이 아닙니다. 진단, 수술, 처방, 검사, 영상, 날짜로 환자를 설명해 "
        "주세요.",
    },
    # ------------------------------------------------------------ time windows (nlq.windows)
    "window_ambiguous": {
        "en": "“{text}” can mean within, exactly or at least {n} days {side}",
        "ko": "“{text}”은(는) {n}일 {side} 이내인지, 정확히 {n}일 {side}인지, {n}일 이상 {side}인지 "
        "분명하지 않습니다",
    },
    "window_unreadable": {
        "en": "I could not read the time window “{text}”",
        "ko": "기간 “{text}”을(를) 읽지 못했습니다",
    },
    "duration_unsupported": {
        "en": "“{text}”: how long something lasted (e.g. days on a drug) is not supported; rules count "
        "events in a window.",
        "ko": "“{text}” 복용처럼 지속 기간은 아직 지원하지 않습니다. 기간 안의 처방 여부나 횟수로 물어 "
        "주세요.",
    },
    # ------------------------------------------------------------ dates (nlq.dates)
    "date_order_ambiguous": {
        "en": "“{text}” could be month/day or day/month",
        "ko": "“{text}”은(는) 월/일인지 일/월인지 알 수 없습니다",
    },
    "date_not_calendar": {
        "en": "“{text}” is not a calendar date",
        "ko": "“{text}”은(는) 달력에 없는 날짜입니다",
    },
    "date_unreadable": {
        "en": "“{text}” is not a date I can read",
        "ko": "“{text}”은(는) 읽을 수 없는 날짜입니다",
    },
    "month_missing": {"en": "month {month} does not exist", "ko": "{month}월은 없습니다"},
    "range_not_calendar": {
        "en": "“{text}” is not a calendar range",
        "ko": "“{text}”은(는) 달력에 없는 기간입니다",
    },
    "two_periods": {
        "en": "“{text}” names two separate periods; ask for one range (or one at a time)",
        "ko": "“{text}”은(는) 서로 떨어진 두 기간입니다. 하나의 기간으로(또는 하나씩) 물어 주세요",
    },
    "range_end_missing": {
        "en": "“{text}” ends on a day that does not exist",
        "ko": "“{text}”의 끝 날짜가 달력에 없습니다",
    },
    "no_whole_units": {
        "en": "“{text}” has no whole number of {unit}",
        "ko": "“{text}”은(는) {unit} 단위의 자연수가 아닙니다",
    },
    "duration_unreadable": {
        "en": "“{text}” is not a duration I can read",
        "ko": "“{text}”은(는) 읽을 수 없는 기간입니다",
    },
    "range_reversed": {
        "en": "“{text}” ends ({end}) before it starts ({start})",
        "ko": "“{text}”은(는) 끝({end})이 시작({start})보다 앞섭니다",
    },
    # ------------------------------------------------------------ recognisers (nlq.recognise)
    "one_measurement_unsupported": {
        "en": "“{last} {term}” (one particular measurement of a person) is not supported; rules count any "
        "event that matches.",
        "ko": "“{last} {term}”(환자별 특정 한 번의 측정)은 지원하지 않습니다. 조건에 맞는 모든 측정을 "
        "셉니다.",
    },
    "change_unsupported": {
        "en": "“{text}” is a change between two results; rules compare each result with a level "
        "(e.g. 'hemoglobin below 8 g/dL'). Please give the level instead.",
        "ko": "“{text}”은(는) 두 결과 사이의 변화입니다. 조건은 각 결과를 기준값과 비교합니다"
        "(예: '헤모글로빈 8 g/dL 미만'). 기준값으로 말해 주세요.",
    },
    "age_at_other_event": {
        "en": "Ages are taken at the event that starts the cohort; to take them at “{event}”, ask with "
        "“{event}” as that event.",
        "ko": "나이는 기준 사건 날짜로 계산합니다. “{event}” 당시 나이로 하려면 “{event}”을(를) "
        "기준 사건으로 물어 주세요.",
    },
    "list_rule": {
        "en": "your uploaded list “{name}”: {mode}",
        "ko": "내 업로드 목록 “{name}”: {mode}",
    },
    "list_include": {"en": "only its patients", "ko": "그 환자만 포함"},
    "list_exclude": {"en": "its patients left out", "ko": "그 환자는 제외"},
    "list_only": {
        "en": "no event was named besides your list: any visit of its patients starts the cohort",
        "ko": "목록 외에 사건이 없어 목록 환자의 모든 방문을 기준 사건으로 했습니다",
    },
    "name_restates": {
        "en": "read “{words}” as “{term}”, written beside it",
        "ko": "“{words}”을(를) 함께 적힌 “{term}”(으)로 읽었습니다",
    },
    "code_restates": {
        "en": "read “{words}” as the code(s) {codes} written with it",
        "ko": "“{words}”을(를) 함께 적힌 코드 {codes}(으)로 읽었습니다",
    },
    "another_counts_anchor": {
        "en": "[{label}] is another event of the anchor's own kind: the anchor counts as one, so 2 or more",
        "ko": "[{label}]은(는) 기준과 같은 종류의 또 다른 사건입니다: 기준 사건도 1회로 세므로 2회 이상",
    },
    "new_by_washout": {
        "en": "read 'new' as the washout given (no such event in the lookback), not as the first ever",
        "ko": "'신규/새로'는 주어진 휴약 기간(그 기간에 같은 기록 없음)으로 읽었습니다 (평생 처음이 아니라)",
    },
    "aside_ignored": {
        "en": "ignored the aside “({words})”",
        "ko": "괄호 안 설명 “({words})”은(는) 조건에 넣지 않았습니다",
    },
    "typo_read_as": {"en": "read “{word}” as “{fix}”", "ko": "“{word}”을(를) “{fix}”(으)로 읽었습니다"},
    "lead_in_skipped": {
        "en": "read past the introduction “{text}” (it holds no rule)",
        "ko": "머리말 “{text}”은(는) 조건이 아니므로 건너뛰었습니다",
    },
    # ------------------------------------------------------------ grammars (nlq.grammar_en, nlq.grammar_ko)
    "excluded_together": {
        "en": "“{text}”: leaving out only the patients who have all of them cannot be written as cohort "
        "rules (each rule leaves out anyone with its event). Leave out those with any of them instead, or "
        "ask for each on its own.",
        "ko": "“{text}”: 모두 있는 환자만 빼는 조건은 코호트 규칙으로 쓸 수 없습니다 "
        "(규칙마다 그 사건이 있는 환자를 모두 뺍니다). 하나라도 있는 환자를 빼거나, 하나씩 따로 물어봐 "
        "주세요.",
    },
    "counted_already": {
        "en": "“{text}” counts too, as you said: the events named before already include it.",
        "ko": "말씀하신 대로 “{text}”도 셉니다: 앞에서 말한 사건에 이미 들어 있습니다.",
    },
    "widens_what": {
        "en": "“{text}” should count too, but it is not a kind of any event named before: say the whole "
        "rule with it, e.g. 'an admission or an ER visit'.",
        "ko": "“{text}”도 포함하라고 하셨는데, 앞에서 말한 어느 사건에도 속하지 않습니다. 조건 전체를 "
        "함께 말해 주세요 (예: '입원 또는 응급실 방문').",
    },
    "readmission_of_what": {
        "en": "“{text}” is an admission after an earlier one: say which admission it follows and how soon, "
        "e.g. 'admitted in 2023 and readmitted within 30 days after the admission'.",
        "ko": "“{text}”은(는) 앞선 입원 뒤의 입원입니다. 어느 입원 후 며칠 안인지 함께 말해 주세요 "
        "(예: '2023년 입원 환자 중 입원 후 30일 이내 재입원').",
    },
    "visit_end_unsupported": {
        "en": "Windows are measured from event start dates; “{text}” (the end of a visit) is not supported.",
        "ko": "기간은 사건 시작일 기준으로만 셉니다. “{text}”(방문 종료일) 기준은 아직 지원하지 않습니다.",
    },
    "title_or_rule": {
        "en": "Is “{text}” (before the colon) a diagnosis the patients must have as well, or the name of the "
        "rule after the colon? Say 'with a {text} diagnosis' or leave it out.",
        "ko": "콜론 앞의 “{text}”은(는) 환자에게 필요한 진단인가요, 콜론 뒤 조건의 이름인가요?",
    },
    "vague_word": {
        "en": "“{text}” is vague; what exactly do you mean?",
        "ko": "“{text}”은(는) 모호합니다. 정확히 어떤 뜻인가요?",
    },
    "not_understood": {"en": "I did not understand “{text}”.", "ko": "“{text}”을(를) 이해하지 못했습니다."},
    "answer_mixed": {
        "en": "“{event}” mixes a recorded answer (such as 'current smoker') with other things; name the "
        "answer on its own, e.g. 'patients whose smoking status is current smoker'.",
        "ko": "“{event}”에 기록값(예: '현재 흡연자')과 다른 것이 섞여 있습니다. 기록값만 따로 말해 "
        "주세요(예: '흡연 상태가 현재 흡연자인 환자').",
    },
    "or_between_events": {
        "en": "“or” joins “{event}” to a different event; every rule of a cohort is required, so "
        "either-or between two events cannot be one cohort. Ask for each event separately, or say which "
        "one is required.",
        "ko": "“{event}”와(과) 다른 사건이 '또는'으로 이어져 있습니다. 코호트의 조건은 모두 충족해야 "
        "하므로 두 사건 중 하나를 고르는 조건은 만들 수 없습니다. 사건마다 따로 물어보거나 어느 쪽이 "
        "필요한지 말씀해 주세요.",
    },
    "two_windows_one_event": {
        "en": "Two time windows were given for one event; which one applies?",
        "ko": "한 사건에 기간 조건이 두 개 있습니다. 어느 것을 적용할까요?",
    },
    "two_windows": {"en": "Two time windows were given.", "ko": "기간 조건이 두 개 있습니다."},
    "two_dates_anchor": {
        "en": "Two date ranges were given for one event.",
        "ko": "한 사건에 날짜 범위가 두 개 있습니다.",
    },
    "two_dates_one_event": {
        "en": "Two date ranges were given for one event; which one applies?",
        "ko": "한 사건에 날짜 범위가 두 개 있습니다. 어느 것을 적용할까요?",
    },
    "two_dates": {
        "en": "Two date ranges were given; which one applies?",
        "ko": "날짜 범위가 두 개 있습니다. 어느 것을 적용할까요?",
    },
    "modifier_without_event": {
        "en": "Part of the question does not say which event it is about (a negation, count, 'first' or "
        "time window without an event).",
        "ko": "어떤 사건에 대한 조건인지 알 수 없는 부분이 있습니다(사건 없이 쓰인 부정, 횟수, '처음' 또는 "
        "기간).",
    },
    "modifier_unplaced": {
        "en": "I could not tell which event “{text}” is about.",
        "ko": "“{text}”이(가) 어느 사건에 대한 것인지 알 수 없습니다.",
    },
    "exclude_what": {"en": "What should be excluded?", "ko": "무엇을 제외할지 알 수 없습니다."},
    "name_what": {
        "en": "Which “{event}” do you mean? Name it (e.g. 'metformin', 'a PCI'), or say 'any {event}'.",
        "ko": "어떤 “{event}”인지 알 수 없습니다. 이름을 써 주세요(예: '메트포르민', 'PCI').",
    },
    "count_what": {
        "en": "Which “{event}” should be counted? Name it (e.g. 'UTI diagnosed 3 or more times').",
        "ko": "어떤 “{event}”을(를) 셀지 알 수 없습니다. "
        "이름을 써 주세요(예: '요로감염으로 3번 이상 진단된').",
    },
    "window_without_event": {
        "en": "I could not tell what happened in “{text}”.",
        "ko": "“{text}”에 무엇이 일어났는지 알 수 없습니다.",
    },
    "anchor_not_one": {
        "en": "The window is measured from more than one event; which one is the anchor?",
        "ko": "기준이 되는 사건이 하나가 아닙니다. 어느 사건을 기준으로 할까요?",
    },
    "exclusive_which": {
        "en": "Which window does “{text}” change?",
        "ko": "“{text}”은(는) 어느 기간 조건을 바꾸나요?",
    },
    "compare_unplaced": {
        "en": "I could not tell what “{text}” applies to (a lab value needs a test, e.g. 'HbA1c above 7%').",
        "ko": "“{text}”이(가) 어떤 검사 수치에 대한 조건인지 알 수 없습니다.",
    },
    "read_as_at_least": {
        "en": "read “{text}” as at least {n}",
        "ko": "“{text}”을(를) {n}회 이상으로 읽었습니다",
    },
    "number_threshold": {
        "en": "Is “{text}” a threshold? Say above, below or between.",
        "ko": "숫자 “{text}”의 뜻을 알 수 없습니다. 이상/이하/미만/초과를 붙여 주세요.",
    },
    "number_unknown": {
        "en": "I did not understand the number “{text}”.",
        "ko": "숫자 “{text}”을(를) 이해하지 못했습니다.",
    },
    "dates_on_first_of_group": {
        "en": "the dates “{text}” apply to the first of the events joined by 'and'",
        "ko": "날짜 “{text}”은(는) '그리고'로 이어진 사건 중 첫 사건에 적용됩니다",
    },
    "name_whose": {
        "en": "Whose name should contain the words?",
        "ko": "어떤 사건의 이름에 그 말이 들어가야 하나요?",
    },
    "admitted_via_er": {
        "en": "“admitted {prep} the ER”: an ER visit on the day of or the day before the admission, or a "
        "combined ER-and-inpatient visit (OMOP visit concept 262)?",
        "ko": "“응급실 {prep} 입원”: 입원 당일이나 전날의 응급실 방문인가요, 응급실 경유 입원(OMOP 방문 "
        "개념 262)인가요?",
    },
    # ------------------------------------------------------------ events → spec (nlq.assemble)
    "kinds_differ": {
        "en": "{names} are different kinds of events (e.g. a diagnosis and a procedure); 'or' between them "
        "cannot be one rule. Ask for one of them, or both with 'and'.",
        "ko": "{names}은(는) 서로 다른 종류의 사건입니다(예: 진단과 시술). 하나씩 또는 '그리고'로 나누어 "
        "물어 주세요.",
    },
    "which_domain": {
        "en": "Is {names} a diagnosis, a procedure, a drug or a lab test?",
        "ko": "{names}은(는) 진단, 시술, 약물, 검사 중 무엇인가요?",
    },
    "drug_or_procedure": {
        "en": "Is {names} a drug or a procedure?",
        "ko": "{names}은(는) 약물인가요, 시술인가요?",
    },
    "not_in_lexicon": {
        "en": "{names} is not in the lexicon; read as a diagnosis (the mart's vocabulary decides whether it "
        "exists)",
        "ko": "{names}은(는) 용어집에 없어 진단으로 읽었습니다(데이터마트 용어로 확인합니다)",
    },
    "name_literal": {
        "en": "‘{what} name contains {shown}’ was read literally: {what} concepts whose name or synonym "
        "contains {shown} (alternative: {what}s done for a condition of that name, at concept level).",
        "ko": "‘{what}명에 {shown}’ 조건은 이름 그대로 읽었습니다: 이름이나 동의어에 {shown}이(가) 들어간 "
        "{what} 개념 (다른 해석: 그 질환에 대해 시행된 {what}, 개념 수준(concept level)).",
    },
    "name_concept_level": {
        "en": "‘{what} name contains {shown}’ was read at concept level: {what}s done for {shown} (the "
        "lexicon's treatments for it), because a {what} named for a disease is a {what} for that disease "
        "(alternative: a literal name match, {what} names containing {shown}).",
        "ko": "‘{what}명에 {shown}’ 조건은 개념 수준(concept level)으로 읽었습니다: {shown}에 대해 시행된 "
        "{what}(용어집의 치료 연결). 질환 이름이 붙은 {what}은 그 질환에 대한 {what}이기 때문입니다 (다른 "
        "해석: {what} 이름에 {shown}이(가) 글자 그대로 들어간 경우).",
    },
    "value_needs_lab": {
        "en": "A value comparison needs a lab test; “{event}” is a {domain}.",
        "ko": "수치 조건은 검사에만 붙일 수 있습니다. “{event}”은(는) {domain}입니다.",
    },
    "imaging_no_codes": {
        "en": "Imaging studies carry no diagnosis codes; describe them by modality and body part (e.g. "
        "'chest CT').",
        "ko": "영상 검사에는 진단 코드가 없습니다. 모달리티와 부위로 말해 주세요(예: '흉부 CT').",
    },
    "same_visit_diagnosis": {
        "en": "read “{terms}” as a diagnosis recorded during the same visit",
        "ko": "“{terms}”을(를) 같은 방문 중 기록된 진단으로 읽었습니다",
    },
    "event_unnamed": {
        "en": "Part of the question does not say which event it is about.",
        "ko": "어떤 사건에 대한 조건인지 알 수 없는 부분이 있습니다.",
    },
    "no_index_event": {
        "en": "I could not find the index event: which event starts the cohort (for example 'patients "
        "diagnosed with …', 'patients who had …')?",
        "ko": "기준 사건을 찾지 못했습니다. 코호트를 시작하는 사건(예: '…으로 진단받은 환자')을 알려 주세요.",
    },
    "no_index_event_example": {"en": "patients diagnosed with …", "ko": "…으로 진단받은 환자"},
    "rules_do_not_fit": {
        "en": "These rules do not fit together: {msg}.",
        "ko": "조건들이 서로 맞지 않습니다: {msg}.",
    },
    "first_not_index": {
        "en": "'first' can only describe the event that starts the cohort, not “{event}”.",
        "ko": "'처음'은 기준 사건에만 붙일 수 있습니다(“{event}”).",
    },
    "negated_count": {
        "en": "A negated count is unclear for “{event}”.",
        "ko": "“{event}”의 부정된 횟수 조건이 모호합니다.",
    },
    "window_anchor_unplaced": {
        "en": "A time window refers to an event I could not place.",
        "ko": "기간 조건의 기준 사건을 찾지 못했습니다.",
    },
    "death_no_visit": {
        "en": "Death records carry no visit, so 'during the same visit' cannot be checked for a death; give "
        "days instead (e.g. 'within 30 days after the admission').",
        "ko": "사망 기록에는 방문 정보가 없어 '같은 입원 중'을 확인할 수 없습니다. 일수로 말해 주세요(예: "
        "'입원 후 30일 이내').",
    },
    "no_time_relation": {
        "en": "no time relation was given for “{event}”: it may be at any time before or after the index "
        "event",
        "ko": "“{event}”에는 시간 조건이 없어 기준 사건 전후 언제든 인정합니다",
    },
    "rule_does_not_fit": {
        "en": "The rule for “{event}” does not fit: {msg}.",
        "ko": "“{event}” 조건이 맞지 않습니다: {msg}.",
    },
    "ages_contradict": {
        "en": "The age limits contradict each other ({lo} to {hi}).",
        "ko": "나이 조건이 서로 맞지 않습니다({lo}~{hi}세).",
    },
    "which_surgery_index": {
        "en": "I could not find the index event: “a surgery” names no particular surgery, and a mart "
        "records every procedure (tests included) the same way. Which surgery?",
        "ko": "어떤 수술인가요? 데이터마트는 검사를 포함한 모든 시술을 같은 방식으로 기록하므로 '아무 "
        "수술'은 구분할 수 없습니다. 수술 이름을 말하거나 '모든 시술'이라고 해 주세요.",
    },
    "which_surgery": {
        "en": "Which surgery? A mart records every procedure (tests included) the same way, so 'any "
        "surgery' cannot be told apart; name the surgery or say 'any procedure'.",
        "ko": "어떤 수술인가요? 데이터마트는 검사를 포함한 모든 시술을 같은 방식으로 기록하므로 '아무 "
        "수술'은 구분할 수 없습니다. 수술 이름을 말하거나 '모든 시술'이라고 해 주세요.",
    },
    "index_count": {
        "en": "the count ({count}) is checked over all of the patient's records, the index event included",
        "ko": "횟수 조건({count})은 기준 사건을 포함한 환자의 전체 기록에서 셉니다",
    },
    "index_count_in_period": {
        "en": "the count ({count}) is of the patient's events dated {period}, the index event included",
        "ko": "횟수 조건({count})은 {period}에 있었던 환자의 사건(기준 사건 포함)을 셉니다",
    },
    "pathology_finding": {"en": "pathology finding", "ko": "병리 소견"},
    # ------------------------------------------------------------ the images to return (nlq.assemble)
    "request_anchor_not_rule": {
        "en": "The images are to be dated from “{what}”, which is not one of the cohort's rules; name it as "
        "a rule first (e.g. 'patients with MI who had CABG within 14 days; their CT scans within 30 days "
        "after the surgery') or date the images from the index event.",
        "ko": "영상 기간의 기준 “{what}”이(가) 코호트 조건에 없습니다. 먼저 조건으로 말해 주세요(예: "
        "'심근경색 환자 중 관상동맥우회술을 받은 환자의 수술 후 30일 이내 CT 영상') 또는 기준 사건을 "
        "기준으로 말해 주세요.",
    },
    "request_same_visit": {
        "en": "The images to return are chosen by days from an event; 'during the same visit' is not "
        "supported for them. Give days instead (e.g. 'their CT scans within 7 days after the admission').",
        "ko": "반환할 영상은 사건으로부터의 일수로만 고릅니다. '같은 방문 중'은 지원하지 않으니 일수로 말해 "
        "주세요(예: '입원 후 7일 이내 CT 영상').",
    },
    "request_anchor_no_rule": {
        "en": "The images are to be dated from “{event}”, which is no rule with events of this cohort; date "
        "them from the index event or from a rule the patients meet.",
        "ko": "영상 기간의 기준 “{event}”은(는) 사건이 있는 코호트 조건이 아닙니다. 기준 사건이나 환자가 "
        "만족하는 조건을 기준으로 말해 주세요.",
    },
    "request_not_imaging": {
        "en": "Only imaging studies can be returned for a cohort, by modality and body part (e.g. 'their "
        "chest CTs'); “{event}” is not one. To select patients by it, make it a rule ('who had …').",
        "ko": "코호트에 대해 돌려줄 수 있는 것은 모달리티와 부위로 고른 영상뿐입니다(예: '환자의 흉부 CT "
        "영상'). “{event}”은(는) 영상이 아닙니다. 환자를 고르는 조건이라면 '…을 받은 환자'로 말해 주세요.",
    },
    "request_modifiers": {
        "en": "A negation, count or 'first' cannot be put on the images to return (“{what}”); they are "
        "every matching study of the cohort's patients.",
        "ko": "반환할 영상(“{what}”)에는 부정, 횟수, '처음' 조건을 붙일 수 없습니다. 조건에 맞는 모든 "
        "영상을 돌려줍니다.",
    },
    "request_dates": {
        "en": "The images to return are chosen by days from the index event or a rule's event, not by "
        "calendar dates; say e.g. 'their CT scans within 30 days after the diagnosis'.",
        "ko": "반환할 영상은 달력 날짜가 아니라 기준 사건이나 조건 사건으로부터의 일수로 고릅니다(예: '진단 "
        "후 30일 이내 CT 영상').",
    },
    "request_windows_differ": {
        "en": "The images {shown} have different time windows; one request has one window. Ask for them "
        "with one window.",
        "ko": "영상 {shown}의 기간이 서로 다릅니다. 요청 하나에는 기간이 하나뿐입니다. 같은 기간으로 말해 "
        "주세요.",
    },
    "request_pairs": {
        "en": "One image request lists modalities and body parts, not pairs of them: {shown} together would "
        "also return every other {mods} × {parts} combination. Ask for one of them, or for all of them.",
        "ko": "영상 요청 하나에는 모달리티와 부위를 각각 나열할 뿐 짝지을 수 없습니다: {shown}을(를) 함께 "
        "요청하면 {mods} × {parts}의 다른 조합도 모두 포함됩니다. 하나씩 요청하거나 모든 조합을 요청해 "
        "주세요.",
    },
    "request_note": {
        "en": "read {shown} as the images to return for the cohort, not as a rule: it does not change who "
        "is in the cohort (to require such a study, say 'who had …')",
        "ko": "{shown}은(는) 코호트에 대해 돌려줄 영상으로 읽었습니다. 코호트에 포함되는 환자는 바뀌지 "
        "않습니다(그런 검사를 받은 환자로 한정하려면 '…을 촬영한 환자'라고 말해 주세요)",
    },
}

READINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "excluded_together": {
        "en": ("exclude those with any of them",),
        "ko": ("하나라도 있는 환자 제외",),
    },
    "window_ambiguous": {
        "en": ("within {n} days {side}", "exactly {n} days {side}", "at least {n} days {side}"),
        "ko": ("{n}일 {side} 이내", "정확히 {n}일 {side}", "{n}일 이상 {side}"),
    },
    "duration_unsupported": {
        "en": (
            "an exposure within a window, e.g. 'warfarin within 90 days after the diagnosis'",
            "several exposures, e.g. 'at least 3 warfarin prescriptions'",
        ),
        "ko": ("진단 후 90일 이내 와파린 처방", "와파린 처방 3회 이상"),
    },
    "number_threshold": {
        "en": ("above {text}", "at least {text}", "below {text}"),
        "ko": ("{text} 이상", "{text} 미만"),
    },
    "admitted_via_er": {
        "en": (
            "an ER visit within 1 day before the admission",
            "an 'Emergency Room and Inpatient Visit' (262)",
        ),
        "ko": ("입원 전 1일 이내 응급실 방문", "응급실 경유 입원(262)"),
    },
    "one_measurement_unsupported": {
        "en": ("any {term} in a period, e.g. '{term} above … in 2023'",),
        "ko": ("기간 안의 {term} (예: '2023년 {term} 7% 이상')",),
    },
    "drug_or_procedure": {
        "en": ("drug", "procedure"),
        "ko": ("약물", "시술"),
    },
    "which_surgery": {
        "en": ("any procedure",),
        "ko": ("모든 시술",),
    },
    "request_pairs": {
        "en": ("{mods} of {parts}",),
        "ko": ("{parts} 부위의 {mods}",),
    },
}

# What each event kind is called in a message ('‘surgery name contains …’', '수술명에 …').
KIND_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "surgery": "surgery",
        "procedure": "procedure",
        "drug": "drug",
        "diagnosis": "diagnosis",
        "lab": "lab test",
        "imaging": "imaging study",
        "death": "death",
        "admission": "admission",
        "er_visit": "ER visit",
        "er_admission": "ER-to-inpatient admission",
        "visit": "visit",
        "outpatient": "outpatient visit",
        "pathology": "pathology result",
        "observation": "observation",
    },
    "ko": {
        "surgery": "수술",
        "procedure": "시술",
        "drug": "약물",
        "diagnosis": "진단",
        "lab": "검사",
        "imaging": "영상 검사",
        "death": "사망",
        "admission": "입원",
        "er_visit": "응급실 방문",
        "er_admission": "응급실 경유 입원",
        "visit": "방문",
        "outpatient": "외래 방문",
        "pathology": "병리 결과",
        "observation": "관찰",
    },
}


def _lang(lang: str) -> str:
    return "ko" if lang == "ko" else "en"


def say(code: str, lang: str, **values: object) -> str:
    """One message in the user's language, placeholders filled."""
    return MESSAGES[code][_lang(lang)].format(**values)


def readings(code: str, lang: str, **values: object) -> tuple[str, ...]:
    """The candidate readings offered with a message, in the user's language."""
    return tuple(r.format(**values) for r in READINGS[code][_lang(lang)])
