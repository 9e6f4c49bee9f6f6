"""The seed scenario every stage is checked against, in English and Korean."""

SEED_EN = (
    "patients diagnosed between 2023-10-01 and 2023-10-10 who had a surgery for myocardial infarction "
    "or coronary artery disease 7 to 14 days after the diagnosis"
)
SEED_KO = (
    "2023년 10월 1일부터 열흘 동안 진단을 받은 환자 중에 진단일 기준 7일부터 14일 이내 수술명에 "
    "심근경색이나 관상 동맥 질환이 있는 명단을 모아줘"
)
