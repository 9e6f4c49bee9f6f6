"""Curated, hand-checked concept data of the demo mart: everything except the ICD-10-CM tree.

Why a data module: the vocabulary builder, the simulator and the tests all need the same codes,
names and Korean synonyms, and keeping them as plain literals makes review by a clinician easy.

Concept-id policy (``concept_id`` is a 32-bit INTEGER in the DDL):

* the handful of OMOP *standard* concepts the engine relies on keep their real OMOP ids
  (gender 8507/8532, visits 9201/9202/9203/262, type 32817 EHR, languages 4180186/4175771, 0);
* everything else is a *local* concept (OMOP reserves ids >= 2,000,000,000 for those) in fixed,
  documented ranges, so that ids never depend on dictionary order and stay stable when rows are
  appended to these lists (append only!):

  ============  =====================================================
  ICD10CM       2,000,000,000 + position of the code in sorted order
  ICD9Proc      2,000,300,000 + position in ``PROCEDURES`` (append only)
  RxNorm        2,001,000,000 + RxCUI
  LOINC         2,003,000,000 + LOINC number without the check digit dash
  UCUM          2,004,000,000 + position in ``UNITS``
  DEMO          2,005,000,000 + position in ``DEMO_CONCEPTS``
  Vocabulary    2,006,000,000 + position in ``VOCABULARIES``
  ============  =====================================================

Only codes whose official titles we are sure of are listed (ICD-9-CM volume 3 procedure titles,
RxNorm ingredient RxCUIs, LOINC long common names).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ICD10CM_BASE = 2_000_000_000
ICD9PROC_BASE = 2_000_300_000
RXNORM_BASE = 2_001_000_000
LOINC_BASE = 2_003_000_000
UCUM_BASE = 2_004_000_000
DEMO_BASE = 2_005_000_000
VOCAB_BASE = 2_006_000_000

LANG_KO = 4175771
LANG_EN = 4180186
EHR_TYPE = 32817


@dataclass(frozen=True)
class Named:
    """A curated concept: code, official English name, Korean names and English synonyms."""

    code: str
    name: str
    ko: tuple[str, ...]
    en: tuple[str, ...] = ()


def _n(code: str, name: str, ko: str | tuple[str, ...], en: tuple[str, ...] = ()) -> Named:
    return Named(code, name, (ko,) if isinstance(ko, str) else ko, en)


# ---------------------------------------------------------------- OMOP standard concepts (real ids)
@dataclass(frozen=True)
class StandardConcept:
    concept_id: int
    name: str
    domain_id: str
    vocabulary_id: str
    concept_class_id: str
    code: str
    ko: tuple[str, ...]
    en: tuple[str, ...] = ()


STANDARD: list[StandardConcept] = [
    StandardConcept(
        0, "No matching concept", "Metadata", "None", "Undefined", "No matching concept", ("해당 개념 없음",)
    ),
    StandardConcept(8507, "MALE", "Gender", "Gender", "Gender", "M", ("남성", "남자"), ("male", "man")),
    StandardConcept(8532, "FEMALE", "Gender", "Gender", "Gender", "F", ("여성", "여자"), ("female", "woman")),
    StandardConcept(
        9201,
        "Inpatient Visit",
        "Visit",
        "Visit",
        "Visit",
        "IP",
        ("입원", "입원 진료"),
        ("inpatient", "admission", "hospitalization"),
    ),
    StandardConcept(
        9202,
        "Outpatient Visit",
        "Visit",
        "Visit",
        "Visit",
        "OP",
        ("외래", "외래 진료"),
        ("outpatient", "clinic visit"),
    ),
    StandardConcept(
        9203,
        "Emergency Room Visit",
        "Visit",
        "Visit",
        "Visit",
        "ER",
        ("응급실 방문", "응급"),
        ("emergency", "ER visit", "ED visit"),
    ),
    StandardConcept(
        262,
        "Emergency Room and Inpatient Visit",
        "Visit",
        "Visit",
        "Visit",
        "ERIP",
        ("응급실 경유 입원", "응급 입원"),
        ("emergency admission",),
    ),
    StandardConcept(
        EHR_TYPE,
        "EHR",
        "Type Concept",
        "Type Concept",
        "Type Concept",
        "OMOP4976890",
        ("전자의무기록",),
        ("electronic health record",),
    ),
    StandardConcept(
        LANG_EN, "English language", "Observation", "SNOMED", "Qualifier Value", "297496007", ("영어",)
    ),
    StandardConcept(
        LANG_KO, "Korean language", "Observation", "SNOMED", "Qualifier Value", "297505000", ("한국어",)
    ),
]


# ---------------------------------------------------------------- ICD-9-CM procedures (vol. 3)
#: Append only: the position is the concept id offset.  Parents are derived from the code
#: ('36.13' -> '36.1' -> '36'), so every parent must be listed too.
PROCEDURES: list[Named] = [
    _n("00", "Procedures and interventions, not elsewhere classified", "달리 분류되지 않은 시술 및 중재"),
    _n("00.6", "Procedures on blood vessels", "혈관 시술"),
    _n(
        "00.66",
        "Percutaneous transluminal coronary angioplasty [PTCA]",
        ("경피적 관상동맥 중재술", "관상동맥 성형술", "관상동맥 중재술", "경피적 관상동맥 성형술"),
        ("PTCA", "PCI", "percutaneous coronary intervention", "coronary angioplasty"),
    ),
    _n("32", "Excision of lung and bronchus", "폐 및 기관지 절제"),
    _n("32.4", "Lobectomy of lung", ("폐엽절제술", "폐엽 절제술"), ("lobectomy",)),
    _n("32.41", "Thoracoscopic lobectomy of lung", "흉강경 폐엽절제술", ("VATS lobectomy",)),
    _n("32.49", "Other lobectomy of lung", "기타 폐엽절제술"),
    _n("33", "Other operations on lung and bronchus", "폐 및 기관지의 기타 수술"),
    _n("33.2", "Diagnostic procedures on lung and bronchus", "폐 및 기관지의 진단적 시술"),
    _n(
        "33.26",
        "Closed [percutaneous] [needle] biopsy of lung",
        ("경피적 폐 생검", "폐 침생검"),
        ("lung biopsy",),
    ),
    _n("36", "Operations on vessels of heart", "심장 혈관 수술"),
    _n(
        "36.0",
        "Removal of coronary artery obstruction and insertion of stent(s)",
        "관상동맥 폐쇄 제거 및 스텐트 삽입",
    ),
    _n(
        "36.06",
        "Insertion of non-drug-eluting coronary artery stent(s)",
        ("비약물용출 관상동맥 스텐트 삽입", "관상동맥 스텐트 삽입"),
        ("bare-metal stent", "BMS"),
    ),
    _n(
        "36.07",
        "Insertion of drug-eluting coronary artery stent(s)",
        ("약물용출 관상동맥 스텐트 삽입", "관상동맥 스텐트 삽입", "약물방출 스텐트"),
        ("drug-eluting stent", "DES", "coronary stent"),
    ),
    _n(
        "36.1",
        "Bypass anastomosis for heart revascularization",
        ("관상동맥 우회술", "관상동맥우회로술", "관상동맥 우회로 이식술", "심장 우회술"),
        ("CABG", "coronary artery bypass graft", "coronary artery bypass grafting", "bypass surgery"),
    ),
    _n(
        "36.10",
        "Aortocoronary bypass for heart revascularization, not otherwise specified",
        "상세불명의 대동맥-관상동맥 우회술",
    ),
    _n("36.11", "(Aorto)coronary bypass of one coronary artery", "관상동맥 1개 우회술"),
    _n("36.12", "(Aorto)coronary bypass of two coronary arteries", "관상동맥 2개 우회술"),
    _n("36.13", "(Aorto)coronary bypass of three coronary arteries", "관상동맥 3개 우회술"),
    _n("36.14", "(Aorto)coronary bypass of four or more coronary arteries", "관상동맥 4개 이상 우회술"),
    _n("36.15", "Single internal mammary-coronary artery bypass", "단일 내유동맥-관상동맥 우회술"),
    _n("36.16", "Double internal mammary-coronary artery bypass", "양측 내유동맥-관상동맥 우회술"),
    _n("36.17", "Abdominal-coronary artery bypass", "복부동맥-관상동맥 우회술"),
    _n("36.19", "Other bypass anastomosis for heart revascularization", "기타 심장 혈류재건 우회술"),
    _n("37", "Other operations on heart and pericardium", "심장 및 심낭의 기타 수술"),
    _n("37.2", "Diagnostic procedures on heart and pericardium", "심장 및 심낭의 진단적 시술"),
    _n(
        "37.22",
        "Left heart cardiac catheterization",
        ("좌심 도자술", "심도자술"),
        ("cardiac catheterization",),
    ),
    _n("39", "Other operations on vessels", "혈관의 기타 수술"),
    _n("39.7", "Endovascular procedures on vessels", "혈관내 시술"),
    _n(
        "39.74",
        "Endovascular removal of obstruction from head and neck vessel(s)",
        ("두경부 혈관의 혈관내 폐쇄 제거술", "혈전제거술", "동맥내 혈전제거술", "기계적 혈전제거술"),
        ("thrombectomy", "mechanical thrombectomy", "endovascular thrombectomy", "EVT"),
    ),
    _n("43", "Incision and excision of stomach", "위의 절개 및 절제"),
    _n(
        "43.5",
        "Partial gastrectomy with anastomosis to esophagus",
        ("식도 문합을 동반한 위부분절제술", "근위부 위절제술", "위절제술"),
        ("proximal gastrectomy",),
    ),
    _n(
        "43.6",
        "Partial gastrectomy with anastomosis to duodenum",
        ("십이지장 문합을 동반한 위부분절제술", "위절제술"),
        ("Billroth I", "distal gastrectomy"),
    ),
    _n(
        "43.7",
        "Partial gastrectomy with anastomosis to jejunum",
        ("공장 문합을 동반한 위부분절제술", "위아전절제술", "위절제술"),
        ("Billroth II", "subtotal gastrectomy"),
    ),
    _n("43.9", "Total gastrectomy", ("위전절제술", "위절제술"), ("total gastrectomy",)),
    _n("43.99", "Other total gastrectomy", "기타 위전절제술"),
    _n("44", "Other operations on stomach", "위의 기타 수술"),
    _n(
        "44.4",
        "Control of hemorrhage and suture of ulcer of stomach or duodenum",
        "위 또는 십이지장 궤양의 지혈 및 봉합",
    ),
    _n(
        "44.43",
        "Endoscopic control of gastric or duodenal bleeding",
        ("내시경적 지혈술", "내시경 지혈술"),
        ("endoscopic hemostasis",),
    ),
    _n("45", "Incision, excision, and anastomosis of intestine", "장의 절개, 절제 및 문합"),
    _n("45.1", "Diagnostic procedures on small intestine", "소장의 진단적 시술"),
    _n(
        "45.13",
        "Other endoscopy of small intestine",
        ("위내시경", "상부위장관 내시경", "기타 소장 내시경"),
        ("EGD", "upper endoscopy", "gastroscopy", "endoscopy"),
    ),
    _n(
        "45.16",
        "Esophagogastroduodenoscopy [EGD] with closed biopsy",
        ("조직검사를 동반한 위내시경", "위내시경 생검"),
        ("EGD with biopsy",),
    ),
    _n("45.2", "Diagnostic procedures on large intestine", "대장의 진단적 시술"),
    _n("45.23", "Colonoscopy", ("대장내시경", "대장 내시경"), ("colonoscopy",)),
    _n(
        "45.7",
        "Open and other partial excision of large intestine",
        ("대장 부분절제술", "결장절제술"),
        ("partial colectomy", "colectomy"),
    ),
    _n("45.73", "Open and other right hemicolectomy", "우측 결장절제술", ("right hemicolectomy",)),
    _n("45.75", "Open and other left hemicolectomy", "좌측 결장절제술", ("left hemicolectomy",)),
    _n("45.76", "Open and other sigmoidectomy", "구불결장절제술", ("sigmoidectomy", "sigmoid colectomy")),
    _n("47", "Operations on appendix", "충수 수술"),
    _n("47.0", "Appendectomy", ("충수절제술", "맹장수술"), ("appendectomy",)),
    _n("47.01", "Laparoscopic appendectomy", "복강경 충수절제술", ("lap appendectomy",)),
    _n("47.09", "Other appendectomy", "기타 충수절제술"),
    _n("51", "Operations on gallbladder and biliary tract", "담낭 및 담도 수술"),
    _n("51.2", "Cholecystectomy", ("담낭절제술", "쓸개 절제술"), ("cholecystectomy",)),
    _n("51.23", "Laparoscopic cholecystectomy", "복강경 담낭절제술", ("lap chole",)),
    _n("81", "Repair and plastic operations on joint structures", "관절 구조의 재건 및 성형 수술"),
    _n(
        "81.5",
        "Joint replacement of lower extremity",
        ("하지 관절 치환술", "인공관절 치환술"),
        ("joint replacement", "arthroplasty"),
    ),
    _n(
        "81.51",
        "Total hip replacement",
        ("고관절 전치환술", "인공 고관절 치환술"),
        ("THA", "total hip arthroplasty"),
    ),
    _n(
        "81.54",
        "Total knee replacement",
        ("슬관절 전치환술", "인공 무릎관절 치환술"),
        ("TKA", "TKR", "total knee arthroplasty"),
    ),
    _n("85", "Operations on the breast", "유방 수술"),
    _n("85.1", "Diagnostic procedures on breast", "유방의 진단적 시술"),
    _n(
        "85.11",
        "Closed [percutaneous] [needle] biopsy of breast",
        ("유방 침생검", "유방 조직검사"),
        ("breast biopsy", "core needle biopsy"),
    ),
    _n("85.2", "Excision or destruction of breast tissue", "유방 조직의 절제 또는 파괴"),
    _n(
        "85.21",
        "Local excision of lesion of breast",
        ("유방 병변 국소절제술", "유방보존술", "유방 부분절제술"),
        ("lumpectomy", "breast-conserving surgery"),
    ),
    _n("85.4", "Mastectomy", ("유방절제술", "유방 절제술"), ("mastectomy",)),
    _n("85.41", "Unilateral simple mastectomy", "일측 단순 유방절제술"),
    _n("85.43", "Unilateral extended simple mastectomy", "일측 확대 단순 유방절제술"),
    _n("87", "Diagnostic radiology", "진단 방사선"),
    _n("87.0", "Soft tissue x-ray of face, head, and neck", "안면, 두부 및 경부 연부조직 X선"),
    _n(
        "87.03",
        "Computerized axial tomography of head",
        ("두부 CT", "뇌 CT", "머리 CT"),
        ("head CT", "brain CT", "CT head"),
    ),
    _n("87.4", "Other x-ray of thorax", "흉부의 기타 X선"),
    _n("87.41", "Computerized axial tomography of thorax", ("흉부 CT", "가슴 CT"), ("chest CT", "CT chest")),
    _n(
        "87.44",
        "Routine chest x-ray, so described",
        ("흉부 X선", "흉부 엑스레이", "흉부 단순촬영"),
        ("chest x-ray", "CXR"),
    ),
    _n("88", "Other diagnostic radiology and related techniques", "기타 진단 방사선 및 관련 기법"),
    _n("88.0", "Soft tissue x-ray of abdomen", "복부 연부조직 X선"),
    _n(
        "88.01",
        "Computerized axial tomography of abdomen",
        ("복부 CT", "배 CT"),
        ("abdominal CT", "CT abdomen"),
    ),
    _n("88.3", "Other x-ray", "기타 X선"),
    _n("88.33", "Other skeletal x-ray", ("골격 X선", "뼈 X선"), ("skeletal x-ray", "bone x-ray")),
    _n(
        "88.5",
        "Angiocardiography using contrast material",
        ("조영제를 이용한 심혈관조영술", "심혈관조영술"),
        ("angiocardiography",),
    ),
    _n(
        "88.56",
        "Coronary arteriography using two catheters",
        ("관상동맥조영술", "두 개의 카테터를 이용한 관상동맥조영술"),
        ("coronary angiography", "CAG", "coronary arteriography"),
    ),
    _n(
        "88.57",
        "Other and unspecified coronary arteriography",
        ("관상동맥조영술", "기타 및 상세불명의 관상동맥조영술"),
        ("coronary angiography", "CAG", "coronary arteriography"),
    ),
    _n("88.7", "Diagnostic ultrasound", ("진단적 초음파", "초음파 검사"), ("ultrasound", "sonography")),
    _n(
        "88.72",
        "Diagnostic ultrasound of heart",
        ("심장 초음파", "심초음파"),
        ("echocardiography", "echo", "TTE", "cardiac ultrasound"),
    ),
    _n(
        "88.73",
        "Diagnostic ultrasound of other sites of thorax",
        ("흉부 기타 부위 초음파", "유방 초음파"),
        ("breast ultrasound",),
    ),
    _n(
        "88.76",
        "Diagnostic ultrasound of abdomen and retroperitoneum",
        ("복부 초음파", "복부 및 후복막 초음파"),
        ("abdominal ultrasound",),
    ),
    _n("88.9", "Other diagnostic imaging", "기타 진단 영상"),
    _n(
        "88.91",
        "Magnetic resonance imaging of brain and brain stem",
        ("뇌 MRI", "뇌 자기공명영상"),
        ("brain MRI", "MRI brain", "head MRI"),
    ),
    _n(
        "88.92",
        "Magnetic resonance imaging of chest and myocardium",
        ("흉부 및 심근 MRI", "심장 MRI", "심장 자기공명영상"),
        ("cardiac MRI", "CMR", "chest MRI"),
    ),
    _n("89", "Interview, evaluation, consultation, and examination", "면담, 평가, 상담 및 검사"),
    _n(
        "89.5",
        "Other nonoperative cardiac and vascular diagnostic procedures",
        "기타 비수술적 심장 및 혈관 진단 시술",
    ),
    _n("89.52", "Electrocardiogram", ("심전도", "심전도 검사"), ("ECG", "EKG")),
    _n("99", "Other nonoperative procedures", "기타 비수술적 시술"),
    _n(
        "99.0",
        "Transfusion of blood and blood components",
        ("수혈", "혈액 및 혈액성분 수혈"),
        ("transfusion",),
    ),
    _n("99.04", "Transfusion of packed cells", ("적혈구 수혈", "농축적혈구 수혈"), ("RBC transfusion",)),
    _n(
        "99.1",
        "Injection or infusion of therapeutic or prophylactic substance",
        "치료 또는 예방 물질의 주사 또는 주입",
    ),
    _n(
        "99.10",
        "Injection or infusion of thrombolytic agent",
        ("혈전용해제 주입", "혈전용해술", "혈전용해 치료"),
        ("thrombolysis", "IV tPA", "thrombolytic therapy"),
    ),
    _n(
        "99.2",
        "Injection or infusion of other therapeutic or prophylactic substance",
        "기타 치료 또는 예방 물질의 주사 또는 주입",
    ),
    _n(
        "99.25",
        "Injection or infusion of cancer chemotherapeutic substance",
        ("항암화학요법", "항암치료", "항암제 주입"),
        ("chemotherapy", "chemo"),
    ),
]


# ---------------------------------------------------------------- RxNorm ingredients
@dataclass(frozen=True)
class Drug:
    rxcui: int
    name: str
    ko: tuple[str, ...]
    en: tuple[str, ...] = ()
    route: str = "PO"


def _d(rxcui: int, name: str, ko: str | tuple[str, ...], en: tuple[str, ...] = (), route: str = "PO") -> Drug:
    return Drug(rxcui, name, (ko,) if isinstance(ko, str) else ko, en, route)


DRUGS: list[Drug] = [
    _d(6809, "metformin", "메트포르민"),
    _d(274783, "insulin glargine", ("인슐린 글라진", "란투스"), ("Lantus", "basal insulin"), "SC"),
    _d(1191, "aspirin", "아스피린", ("ASA",)),
    _d(32968, "clopidogrel", "클로피도그렐", ("Plavix",)),
    _d(1116632, "ticagrelor", "티카그렐러", ("Brilinta",)),
    _d(83367, "atorvastatin", "아토르바스타틴", ("Lipitor",)),
    _d(301542, "rosuvastatin", "로수바스타틴", ("Crestor",)),
    _d(5224, "heparin", "헤파린", (), "IV"),
    _d(11289, "warfarin", "와파린", ("Coumadin",)),
    _d(8410, "alteplase", ("알테플라제", "조직 플라스미노겐 활성제"), ("tPA", "rt-PA"), "IV"),
    _d(17767, "amlodipine", "암로디핀"),
    _d(6918, "metoprolol", "메토프롤롤"),
    _d(29046, "lisinopril", "리시노프릴"),
    _d(52175, "losartan", "로사르탄"),
    _d(4917, "nitroglycerin", ("니트로글리세린", "니트로"), ("NTG",), "SL"),
    _d(4603, "furosemide", ("푸로세미드", "라식스"), ("Lasix",)),
    _d(2555, "cisplatin", "시스플라틴", (), "IV"),
    _d(40048, "carboplatin", "카보플라틴", (), "IV"),
    _d(56946, "paclitaxel", "파클리탁셀", ("Taxol",), "IV"),
    _d(72962, "docetaxel", "도세탁셀", ("Taxotere",), "IV"),
    _d(4492, "fluorouracil", ("플루오로우라실", "5-FU"), ("5-FU",), "IV"),
    _d(32592, "oxaliplatin", "옥살리플라틴", (), "IV"),
    _d(194000, "capecitabine", "카페시타빈", ("Xeloda",)),
    _d(3002, "cyclophosphamide", "시클로포스파미드", (), "IV"),
    _d(224905, "trastuzumab", ("트라스투주맙", "허셉틴"), ("Herceptin",), "IV"),
    _d(10324, "tamoxifen", "타목시펜"),
    _d(72965, "letrozole", "레트로졸"),
    _d(7646, "omeprazole", "오메프라졸", ("PPI",)),
    _d(40790, "pantoprazole", "판토프라졸", ("PPI",), "IV"),
    _d(161, "acetaminophen", ("아세트아미노펜", "타이레놀"), ("paracetamol", "Tylenol")),
    _d(723, "amoxicillin", "아목시실린"),
    _d(2193, "ceftriaxone", "세프트리악손", (), "IV"),
    _d(2180, "cefazolin", "세파졸린", (), "IV"),
    _d(7052, "morphine", "모르핀", (), "IV"),
]
DRUG_BY_NAME: dict[str, Drug] = {d.name: d for d in DRUGS}


# ---------------------------------------------------------------- units (UCUM) and labs (LOINC)
#: Append only: position = concept id offset.
UNITS: list[Named] = [
    _n("%", "percent", "퍼센트"),
    _n("g/dL", "gram per deciliter", "그램/데시리터"),
    _n("mg/dL", "milligram per deciliter", "밀리그램/데시리터"),
    _n("ng/mL", "nanogram per milliliter", "나노그램/밀리리터"),
    _n("10*3/uL", "thousand per microliter", "천/마이크로리터"),
    _n("mmol/L", "millimole per liter", "밀리몰/리터"),
    _n("U/L", "unit per liter", "단위/리터"),
    _n("mg/L", "milligram per liter", "밀리그램/리터"),
    _n("pg/mL", "picogram per milliliter", "피코그램/밀리리터"),
    _n("{INR}", "international normalized ratio", "국제표준화비율"),
    _n("mm[Hg]", "millimeter mercury column", "수은주밀리미터"),
    _n("kg/m2", "kilogram per square meter", "킬로그램/제곱미터"),
    _n("cm", "centimeter", "센티미터"),
    _n("[U]/mL", "unit per milliliter", "단위/밀리리터"),
]


@dataclass(frozen=True)
class Lab:
    key: str
    loinc: str
    name: str
    ko: tuple[str, ...]
    en: tuple[str, ...]
    unit: str
    low: float
    high: float
    domain: str = "Measurement"


LABS: list[Lab] = [
    Lab(
        "hba1c",
        "4548-4",
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        ("당화혈색소", "당화혈색소 A1c"),
        ("HbA1c", "A1c", "glycated hemoglobin", "hemoglobin A1c"),
        "%",
        4.0,
        5.6,
    ),
    Lab(
        "hgb",
        "718-7",
        "Hemoglobin [Mass/volume] in Blood",
        ("혈색소", "헤모글로빈"),
        ("hemoglobin", "Hb", "Hgb"),
        "g/dL",
        12.0,
        16.5,
    ),
    Lab(
        "glucose",
        "2345-7",
        "Glucose [Mass/volume] in Serum or Plasma",
        ("혈당", "포도당"),
        ("glucose", "blood sugar"),
        "mg/dL",
        70.0,
        99.0,
    ),
    Lab(
        "creat",
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        ("크레아티닌",),
        ("creatinine", "Cr"),
        "mg/dL",
        0.6,
        1.2,
    ),
    Lab(
        "tni",
        "10839-9",
        "Troponin I.cardiac [Mass/volume] in Serum or Plasma",
        ("트로포닌 I", "심근 트로포닌"),
        ("troponin", "troponin I", "TnI", "cTnI"),
        "ng/mL",
        0.0,
        0.04,
    ),
    Lab(
        "ldl",
        "2089-1",
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma",
        ("LDL 콜레스테롤", "저밀도지단백 콜레스테롤"),
        ("LDL", "LDL-C", "LDL cholesterol"),
        "mg/dL",
        0.0,
        129.0,
    ),
    Lab(
        "tchol",
        "2093-3",
        "Cholesterol [Mass/volume] in Serum or Plasma",
        ("총콜레스테롤", "콜레스테롤"),
        ("total cholesterol", "cholesterol"),
        "mg/dL",
        0.0,
        199.0,
    ),
    Lab(
        "hdl",
        "2085-9",
        "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
        ("HDL 콜레스테롤", "고밀도지단백 콜레스테롤"),
        ("HDL", "HDL-C"),
        "mg/dL",
        40.0,
        100.0,
    ),
    Lab(
        "tg",
        "2571-8",
        "Triglyceride [Mass/volume] in Serum or Plasma",
        ("중성지방", "트리글리세리드"),
        ("triglyceride", "TG"),
        "mg/dL",
        0.0,
        149.0,
    ),
    Lab(
        "cea",
        "2039-6",
        "Carcinoembryonic Ag [Mass/volume] in Serum or Plasma",
        ("암태아성항원", "CEA"),
        ("CEA",),
        "ng/mL",
        0.0,
        5.0,
    ),
    Lab(
        "psa",
        "2857-1",
        "Prostate specific Ag [Mass/volume] in Serum or Plasma",
        ("전립선특이항원", "PSA"),
        ("PSA",),
        "ng/mL",
        0.0,
        4.0,
    ),
    Lab(
        "wbc",
        "6690-2",
        "Leukocytes [#/volume] in Blood by Automated count",
        ("백혈구 수", "백혈구"),
        ("WBC", "white blood cell count", "leukocytes"),
        "10*3/uL",
        4.0,
        10.0,
    ),
    Lab(
        "plt",
        "777-3",
        "Platelets [#/volume] in Blood by Automated count",
        ("혈소판 수", "혈소판"),
        ("platelets", "PLT", "platelet count"),
        "10*3/uL",
        150.0,
        400.0,
    ),
    Lab(
        "na",
        "2951-2",
        "Sodium [Moles/volume] in Serum or Plasma",
        ("나트륨", "소듐"),
        ("sodium", "Na"),
        "mmol/L",
        135.0,
        145.0,
    ),
    Lab(
        "k",
        "2823-3",
        "Potassium [Moles/volume] in Serum or Plasma",
        ("칼륨", "포타슘"),
        ("potassium", "K"),
        "mmol/L",
        3.5,
        5.1,
    ),
    Lab(
        "alt",
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        ("알라닌아미노전이효소", "ALT"),
        ("ALT", "SGPT"),
        "U/L",
        0.0,
        40.0,
    ),
    Lab(
        "ast",
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        ("아스파르테이트아미노전이효소", "AST"),
        ("AST", "SGOT"),
        "U/L",
        0.0,
        40.0,
    ),
    Lab(
        "bun",
        "3094-0",
        "Urea nitrogen [Mass/volume] in Serum or Plasma",
        ("혈중요소질소",),
        ("BUN", "urea nitrogen"),
        "mg/dL",
        8.0,
        23.0,
    ),
    Lab(
        "crp",
        "1988-5",
        "C reactive protein [Mass/volume] in Serum or Plasma",
        ("C반응성단백", "CRP"),
        ("CRP",),
        "mg/L",
        0.0,
        5.0,
    ),
    Lab(
        "ntprobnp",
        "33762-6",
        "Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma",
        ("NT-proBNP", "N-말단 B형 나트륨이뇨펩타이드 전구체"),
        ("NT-proBNP",),
        "pg/mL",
        0.0,
        125.0,
    ),
    Lab(
        "inr",
        "6301-6",
        "INR in Platelet poor plasma by Coagulation assay",
        ("프로트롬빈 시간 INR", "INR"),
        ("INR", "PT INR"),
        "{INR}",
        0.8,
        1.2,
    ),
    Lab(
        "sbp",
        "8480-6",
        "Systolic blood pressure",
        ("수축기 혈압",),
        ("SBP", "systolic BP"),
        "mm[Hg]",
        90.0,
        119.0,
    ),
    Lab(
        "dbp",
        "8462-4",
        "Diastolic blood pressure",
        ("이완기 혈압",),
        ("DBP", "diastolic BP"),
        "mm[Hg]",
        60.0,
        79.0,
    ),
    Lab("bmi", "39156-5", "Body mass index (BMI) [Ratio]", ("체질량지수",), ("BMI",), "kg/m2", 18.5, 22.9),
    Lab(
        "ca199",
        "24108-3",
        "Cancer Ag 19-9 [Units/volume] in Serum or Plasma",
        ("암항원 19-9", "CA 19-9"),
        ("CA 19-9",),
        "[U]/mL",
        0.0,
        37.0,
    ),
]
LAB_BY_KEY: dict[str, Lab] = {lab.key: lab for lab in LABS}


@dataclass(frozen=True)
class LoincOther:
    """LOINC codes used outside ``measurement``: smoking status (observation) and note kinds."""

    code: str
    name: str
    domain: str
    concept_class: str
    ko: tuple[str, ...]
    en: tuple[str, ...] = ()


LOINC_OTHER: list[LoincOther] = [
    LoincOther(
        "72166-2",
        "Tobacco smoking status",
        "Observation",
        "Clinical Observation",
        ("흡연 상태", "흡연력"),
        ("smoking status",),
    ),
    LoincOther(
        "11526-1",
        "Pathology study",
        "Note",
        "LOINC Document",
        ("병리 보고서", "병리 결과지"),
        ("pathology report",),
    ),
    LoincOther(
        "18748-4",
        "Diagnostic imaging study",
        "Note",
        "LOINC Document",
        ("영상 판독 보고서", "판독지"),
        ("radiology report", "imaging report"),
    ),
    LoincOther(
        "18842-5",
        "Discharge summary",
        "Note",
        "LOINC Document",
        ("퇴원 요약", "퇴원 기록지"),
        ("discharge note",),
    ),
]


# ---------------------------------------------------------------- local DEMO concepts
@dataclass(frozen=True)
class DemoConcept:
    code: str
    name: str
    domain: str
    concept_class: str
    ko: tuple[str, ...]
    en: tuple[str, ...] = field(default_factory=tuple)


#: Append only: position = concept id offset.
DEMO_CONCEPTS: list[DemoConcept] = [
    DemoConcept("SMK-CUR", "Current smoker", "Meas Value", "Answer", ("현재 흡연자", "흡연자"), ("smoker",)),
    DemoConcept("SMK-EX", "Former smoker", "Meas Value", "Answer", ("과거 흡연자", "금연자"), ("ex-smoker",)),
    DemoConcept("SMK-NEV", "Never smoker", "Meas Value", "Answer", ("비흡연자",), ("non-smoker",)),
    DemoConcept(
        "PATH-HIST",
        "Histopathology finding",
        "Observation",
        "Clinical Observation",
        ("병리 조직 소견", "병리 소견"),
        ("histology", "pathology finding"),
    ),
    DemoConcept("PATH-ADENO", "Adenocarcinoma", "Meas Value", "Answer", ("선암", "샘암종"), ()),
    DemoConcept(
        "PATH-SQ",
        "Squamous cell carcinoma",
        "Meas Value",
        "Answer",
        ("편평세포암", "편평상피세포암"),
        ("SCC",),
    ),
    DemoConcept(
        "PATH-IDC",
        "Invasive ductal carcinoma",
        "Meas Value",
        "Answer",
        ("침윤성 관암", "침윤성 유관암"),
        ("IDC",),
    ),
    DemoConcept("PATH-SRC", "Signet ring cell carcinoma", "Meas Value", "Answer", ("반지세포암",), ()),
    DemoConcept("PATH-SCLC", "Small cell carcinoma", "Meas Value", "Answer", ("소세포암",), ("SCLC",)),
    DemoConcept(
        "PATH-SIZE",
        "Tumor size, greatest dimension",
        "Observation",
        "Clinical Observation",
        ("종양 크기", "종양 최대 직경"),
        ("tumor size",),
    ),
]


# ---------------------------------------------------------------- vocabularies
@dataclass(frozen=True)
class Vocabulary:
    vocabulary_id: str
    name: str
    reference: str
    version: str


#: Append only: position = concept id offset of the vocabulary's own concept.
VOCABULARIES: list[Vocabulary] = [
    Vocabulary(
        "ICD10CM",
        "International Classification of Diseases, Tenth Revision, Clinical Modification",
        "CDC NCHS, via the simple_icd_10_cm package",
        "",
    ),  # version filled in from the package
    Vocabulary(
        "ICD9Proc",
        "International Classification of Diseases, Ninth Revision, Clinical Modification, "
        "Volume 3 (procedures)",
        "CMS; curated subset (public domain)",
        "ICD-9-CM v32 (curated subset)",
    ),
    Vocabulary(
        "RxNorm",
        "RxNorm",
        "National Library of Medicine; curated ingredient subset",
        "RxNorm ingredients (curated subset)",
    ),
    Vocabulary(
        "LOINC",
        "Logical Observation Identifiers Names and Codes",
        "Regenstrief Institute; curated subset",
        "LOINC (curated subset)",
    ),
    Vocabulary(
        "UCUM",
        "Unified Code for Units of Measure",
        "Regenstrief Institute; curated subset",
        "UCUM (curated subset)",
    ),
    Vocabulary("Gender", "OMOP Gender", "OMOP generated", "v5.4"),
    Vocabulary("Visit", "OMOP Visit", "OMOP generated", "v5.4"),
    Vocabulary("Type Concept", "OMOP Type Concept", "OMOP generated", "v5.4"),
    Vocabulary(
        "SNOMED",
        "Systematic Nomenclature of Medicine - Clinical Terms",
        "SNOMED International; only the language concepts",
        "language concepts only",
    ),
    Vocabulary("None", "OMOP Standardized Vocabularies", "OMOP generated", "v5.4"),
    Vocabulary("DEMO", "cohort-engine demo mart local concepts", "cohort-engine", "1"),
    Vocabulary("Vocabulary", "OMOP Vocabulary", "OMOP generated", "v5.4"),
]


# ---------------------------------------------------------------- ICD-10-CM: Korean and English names
#: Korean names (first = preferred) of every ICD-10-CM chapter, of the blocks, categories and
#: codes the demo population uses, and of every ancestor of a used code (tests check this).
ICD_KO: dict[str, tuple[str, ...]] = {
    # chapters
    "1": ("특정 감염성 및 기생충성 질환",),
    "2": ("신생물", "종양"),
    "3": ("혈액 및 조혈기관의 질환과 면역메커니즘을 침범하는 특정 장애",),
    "4": ("내분비, 영양 및 대사 질환",),
    "5": ("정신, 행동 및 신경발달 장애",),
    "6": ("신경계통의 질환",),
    "7": ("눈 및 눈 부속기의 질환",),
    "8": ("귀 및 유돌의 질환",),
    "9": ("순환계통의 질환", "심혈관 질환"),
    "10": ("호흡계통의 질환",),
    "11": ("소화계통의 질환",),
    "12": ("피부 및 피하조직의 질환",),
    "13": ("근골격계통 및 결합조직의 질환",),
    "14": ("비뇨생식계통의 질환",),
    "15": ("임신, 출산 및 산후기",),
    "16": ("출생전후기에 기원한 특정 병태",),
    "17": ("선천 기형, 변형 및 염색체 이상",),
    "18": ("달리 분류되지 않은 증상, 징후와 임상 및 검사의 이상소견",),
    "19": ("손상, 중독 및 외인에 의한 특정 기타 결과",),
    "20": ("질병이환 및 사망의 외인",),
    "21": ("건강상태 및 보건서비스 접촉에 영향을 주는 요인",),
    "22": ("특수목적 코드",),
    # blocks
    "C15-C26": ("소화기관의 악성 신생물", "소화기암"),
    "C30-C39": ("호흡기 및 흉곽내 기관의 악성 신생물",),
    "C76-C80": ("불명확한, 이차성 및 상세불명 부위의 악성 신생물",),
    "D60-D64": ("무형성 및 기타 빈혈과 기타 골수부전 증후군",),
    "E00-E07": ("갑상선의 장애",),
    "E08-E13": ("당뇨병",),
    "E70-E88": ("대사 장애",),
    "F10-F19": ("정신활성물질 사용에 의한 정신 및 행동 장애",),
    "F30-F39": ("기분[정동] 장애",),
    "I10-I1A": ("고혈압성 질환",),
    "I20-I25": ("허혈성 심장질환", "허혈성 심질환"),
    "I30-I5A": ("기타 형태의 심장병",),
    "I60-I69": ("뇌혈관 질환",),
    "J00-J06": ("급성 상기도 감염",),
    "J09-J18": ("인플루엔자 및 폐렴",),
    "J40-J4A": ("만성 하기도 질환",),
    "K20-K31": ("식도, 위 및 십이지장의 질환",),
    "K35-K38": ("충수의 질환",),
    "K80-K87": ("담낭, 담도 및 췌장의 장애",),
    "K90-K95": ("소화계통의 기타 질환",),
    "M15-M19": ("관절증",),
    "M50-M54": ("기타 등병증",),
    "M80-M85": ("골밀도 및 구조의 장애",),
    "N30-N39": ("비뇨계통의 기타 질환",),
    "N40-N53": ("남성 생식기관의 질환",),
    "R00-R09": ("순환계통 및 호흡계통에 관한 증상 및 징후",),
    "R10-R19": ("소화계통 및 복부에 관한 증상 및 징후",),
    "R50-R69": ("전신 증상 및 징후",),
    "Z00-Z13": ("검사 및 조사를 위하여 보건서비스와 접촉한 사람",),
    "Z40-Z53": ("특정 처치 및 보건관리를 위하여 보건서비스와 접촉한 사람",),
    "Z77-Z99": ("가족 및 개인 병력과 건강상태에 영향을 주는 특정 병태와 관련된 잠재적 건강위험을 가진 사람",),
    # cardiovascular
    "I10": ("본태성(일차성) 고혈압", "고혈압", "본태성 고혈압"),
    "I20": ("협심증",),
    "I20.0": ("불안정 협심증",),
    "I20.9": ("상세불명의 협심증", "협심증"),
    "I21": ("급성 심근경색증", "급성 심근경색", "심근경색", "심장마비"),
    "I21.0": ("전벽의 ST분절 상승 심근경색증", "전벽 STEMI"),
    "I21.01": ("좌주간 관상동맥을 침범한 ST분절 상승 심근경색증",),
    "I21.02": ("좌전하행 관상동맥을 침범한 ST분절 상승 심근경색증",),
    "I21.09": ("전벽의 기타 관상동맥을 침범한 ST분절 상승 심근경색증",),
    "I21.1": ("하벽의 ST분절 상승 심근경색증", "하벽 STEMI"),
    "I21.11": ("우관상동맥을 침범한 ST분절 상승 심근경색증",),
    "I21.19": ("하벽의 기타 관상동맥을 침범한 ST분절 상승 심근경색증",),
    "I21.2": ("기타 부위의 ST분절 상승 심근경색증",),
    "I21.21": ("좌회선 관상동맥을 침범한 ST분절 상승 심근경색증",),
    "I21.29": ("기타 부위를 침범한 ST분절 상승 심근경색증",),
    "I21.3": ("상세불명 부위의 ST분절 상승 심근경색증", "ST분절 상승 심근경색증"),
    "I21.4": ("비ST분절 상승 심근경색증", "비ST분절 상승 심근경색"),
    "I25": ("만성 허혈성 심장병",),
    "I25.1": ("자연 관상동맥의 죽상경화성 심장병", "관상동맥 질환", "관상동맥 죽상경화증"),
    "I25.10": (
        "협심증을 동반하지 않은 자연 관상동맥의 죽상경화성 심장병",
        "관상동맥 죽상경화성 심장병",
        "관상동맥 질환",
    ),
    "I25.11": ("협심증을 동반한 자연 관상동맥의 죽상경화성 심장병",),
    "I25.119": ("상세불명의 협심증을 동반한 자연 관상동맥의 죽상경화성 심장병",),
    "I25.2": ("오래된 심근경색증", "진구성 심근경색증", "과거 심근경색"),
    "I48": ("심방세동 및 심방조동",),
    "I48.9": ("상세불명의 심방세동 및 심방조동",),
    "I48.91": ("상세불명의 심방세동", "심방세동"),
    "I50": ("심부전",),
    "I50.9": ("상세불명의 심부전", "심부전"),
    "I63": ("뇌경색증", "뇌경색", "뇌졸중", "허혈성 뇌졸중"),
    "I63.4": ("뇌동맥의 색전증에 의한 뇌경색증",),
    "I63.41": ("중대뇌동맥의 색전증에 의한 뇌경색증",),
    "I63.411": ("우측 중대뇌동맥의 색전증에 의한 뇌경색증",),
    "I63.412": ("좌측 중대뇌동맥의 색전증에 의한 뇌경색증",),
    "I63.5": ("뇌동맥의 상세불명의 폐쇄 또는 협착에 의한 뇌경색증",),
    "I63.51": ("중대뇌동맥의 상세불명의 폐쇄 또는 협착에 의한 뇌경색증",),
    "I63.511": ("우측 중대뇌동맥의 상세불명의 폐쇄 또는 협착에 의한 뇌경색증",),
    "I63.512": ("좌측 중대뇌동맥의 상세불명의 폐쇄 또는 협착에 의한 뇌경색증",),
    "I63.9": ("상세불명의 뇌경색증", "뇌경색", "뇌졸중"),
    # endocrine
    "E03": ("기타 갑상선기능저하증",),
    "E03.9": ("상세불명의 갑상선기능저하증", "갑상선기능저하증"),
    "E11": ("2형 당뇨병", "제2형 당뇨병", "당뇨병"),
    "E11.2": ("신장 합병증을 동반한 2형 당뇨병",),
    "E11.22": ("당뇨병성 만성 신장병을 동반한 2형 당뇨병", "당뇨병성 신증"),
    "E11.6": ("기타 명시된 합병증을 동반한 2형 당뇨병",),
    "E11.65": ("고혈당을 동반한 2형 당뇨병",),
    "E11.9": ("합병증을 동반하지 않은 2형 당뇨병", "2형 당뇨병", "당뇨병"),
    "E78": ("지단백질 대사 장애 및 기타 지질혈증",),
    "E78.0": ("순수 고콜레스테롤혈증",),
    "E78.00": ("상세불명의 순수 고콜레스테롤혈증", "고콜레스테롤혈증"),
    "E78.5": ("상세불명의 고지질혈증", "고지혈증", "이상지질혈증"),
    # neoplasms
    "C16": ("위의 악성 신생물", "위암"),
    "C16.0": ("분문의 악성 신생물", "분문부 위암"),
    "C16.2": ("위체부의 악성 신생물", "위체부 위암"),
    "C16.3": ("유문동의 악성 신생물", "전정부 위암"),
    "C16.9": ("상세불명 위의 악성 신생물", "위암"),
    "C18": ("결장의 악성 신생물", "대장암", "결장암"),
    "C18.0": ("맹장의 악성 신생물",),
    "C18.2": ("상행결장의 악성 신생물", "상행결장암"),
    "C18.7": ("구불결장의 악성 신생물", "구불결장암", "S상결장암"),
    "C18.9": ("상세불명 결장의 악성 신생물", "대장암", "결장암"),
    "C34": ("기관지 및 폐의 악성 신생물", "폐암"),
    "C34.1": ("상엽, 기관지 또는 폐의 악성 신생물",),
    "C34.11": ("우측 상엽, 기관지 또는 폐의 악성 신생물", "우상엽 폐암"),
    "C34.12": ("좌측 상엽, 기관지 또는 폐의 악성 신생물", "좌상엽 폐암"),
    "C34.3": ("하엽, 기관지 또는 폐의 악성 신생물",),
    "C34.31": ("우측 하엽, 기관지 또는 폐의 악성 신생물", "우하엽 폐암"),
    "C34.32": ("좌측 하엽, 기관지 또는 폐의 악성 신생물", "좌하엽 폐암"),
    "C34.9": ("기관지 또는 폐의 상세불명 부위의 악성 신생물",),
    "C34.90": ("상세불명 측 기관지 또는 폐의 상세불명 부위의 악성 신생물", "폐암"),
    "C50": ("유방의 악성 신생물", "유방암"),
    "C50.4": ("유방 상외측 사분역의 악성 신생물",),
    "C50.41": ("여성 유방 상외측 사분역의 악성 신생물",),
    "C50.411": ("우측 여성 유방 상외측 사분역의 악성 신생물", "우측 유방암"),
    "C50.412": ("좌측 여성 유방 상외측 사분역의 악성 신생물", "좌측 유방암"),
    "C50.9": ("유방의 상세불명 부위의 악성 신생물",),
    "C50.91": ("여성 유방의 상세불명 부위의 악성 신생물",),
    "C50.911": ("우측 여성 유방의 상세불명 부위의 악성 신생물", "우측 유방암"),
    "C50.912": ("좌측 여성 유방의 상세불명 부위의 악성 신생물", "좌측 유방암"),
    "C78": ("호흡기 및 소화기관의 이차성 악성 신생물",),
    "C78.7": ("간 및 간내 담관의 이차성 악성 신생물", "간 전이"),
    # digestive, blood
    "D62": ("급성 출혈후 빈혈", "급성 출혈성 빈혈"),
    "K21": ("위-식도 역류병", "역류성 식도염"),
    "K21.9": ("식도염을 동반하지 않은 위-식도 역류병", "위식도 역류병"),
    "K25": ("위궤양",),
    "K25.4": ("출혈을 동반한 만성 또는 상세불명의 위궤양", "출혈성 위궤양"),
    "K29": ("위염 및 십이지장염",),
    "K29.7": ("상세불명의 위염",),
    "K29.70": ("출혈을 동반하지 않은 상세불명의 위염", "위염"),
    "K35": ("급성 충수염", "맹장염"),
    "K35.8": ("기타 및 상세불명의 급성 충수염",),
    "K35.80": ("상세불명의 급성 충수염", "급성 충수염", "맹장염"),
    "K80": ("담석증",),
    "K80.2": ("담낭염을 동반하지 않은 담낭의 결석",),
    "K80.20": ("폐쇄 및 담낭염을 동반하지 않은 담낭의 결석", "담낭 결석", "담석"),
    "K92": ("소화계통의 기타 질환",),
    "K92.0": ("토혈",),
    "K92.1": ("흑색변", "흑변"),
    "K92.2": ("상세불명의 위장관 출혈", "위장관 출혈", "소화관 출혈"),
    # respiratory
    "J06": ("다발성 및 상세불명 부위의 급성 상기도 감염",),
    "J06.9": ("상세불명의 급성 상기도 감염", "감기", "상기도 감염"),
    "J18": ("상세불명 병원체의 폐렴",),
    "J18.9": ("상세불명의 폐렴", "폐렴"),
    "J44": ("기타 만성 폐쇄성 폐질환",),
    "J44.9": ("상세불명의 만성 폐쇄성 폐질환", "만성 폐쇄성 폐질환", "COPD"),
    "J45": ("천식",),
    "J45.9": ("기타 및 상세불명의 천식",),
    "J45.90": ("상세불명의 천식",),
    "J45.909": ("합병증이 없는 상세불명의 천식", "천식"),
    # musculoskeletal, genitourinary, mental, symptoms, factors
    "M16": ("고관절증", "엉덩관절증"),
    "M16.1": ("일측성 원발성 고관절증",),
    "M16.11": ("우측 고관절의 일측성 원발성 관절증", "고관절 골관절염"),
    "M17": ("무릎관절증", "슬관절증"),
    "M17.1": ("일측성 원발성 무릎관절증",),
    "M17.11": ("우측 무릎의 일측성 원발성 관절증", "무릎 골관절염", "퇴행성 슬관절염"),
    "M54": ("등통증",),
    "M54.5": ("요통", "허리 통증"),
    "M54.50": ("상세불명의 요통", "요통"),
    "M81": ("현재 병적 골절이 없는 골다공증",),
    "M81.0": ("현재 병적 골절이 없는 노년성 골다공증", "골다공증"),
    "N39": ("비뇨계통의 기타 장애",),
    "N39.0": ("부위가 명시되지 않은 요로감염", "요로감염"),
    "N40": ("전립선 비대증", "양성 전립선 비대증"),
    "N40.0": ("하부요로증상을 동반하지 않은 양성 전립선 비대증", "전립선 비대증"),
    "F17": ("니코틴 의존",),
    "F17.2": ("니코틴 의존",),
    "F17.21": ("궐련 니코틴 의존",),
    "F17.210": ("합병증이 없는 궐련 니코틴 의존", "흡연", "니코틴 의존"),
    "F32": ("우울 에피소드", "우울증"),
    "F32.A": ("상세불명의 우울증", "우울증"),
    "R07": ("인후 및 흉부의 통증",),
    "R07.9": ("상세불명의 흉통", "흉통", "가슴 통증"),
    "R10": ("복부 및 골반 통증",),
    "R10.9": ("상세불명의 복통", "복통"),
    "R51": ("두통",),
    "R51.9": ("상세불명의 두통", "두통"),
    "Z00": ("증상, 의심 또는 보고된 진단이 없는 일반 검사",),
    "Z00.0": ("일반 성인 의학적 검사",),
    "Z00.00": ("이상 소견이 없는 일반 성인 의학적 검사", "건강검진"),
    "Z51": ("기타 후속관리 및 의료를 위한 진료",),
    "Z51.1": ("항암 화학요법 및 면역요법을 위한 진료",),
    "Z51.11": ("항암 화학요법을 위한 진료", "항암치료 입원"),
    "Z95": ("심장 및 혈관 삽입물 및 이식편의 존재",),
    "Z95.1": ("대동맥관상동맥 우회로 이식편의 존재", "관상동맥 우회술 후 상태"),
    "Z95.5": ("관상동맥 혈관성형술 삽입물 및 이식편의 존재", "관상동맥 스텐트 삽입 상태"),
}

#: English synonyms (abbreviations, lay names) of ICD-10-CM codes the demo uses.
ICD_EN: dict[str, tuple[str, ...]] = {
    "I10": ("hypertension", "HTN", "high blood pressure"),
    "I20": ("angina",),
    "I21": ("MI", "AMI", "acute MI", "heart attack", "myocardial infarction"),
    "I21.0": ("anterior STEMI",),
    "I21.1": ("inferior STEMI",),
    "I21.3": ("STEMI",),
    "I21.4": ("NSTEMI",),
    "I25.1": ("CAD", "coronary artery disease"),
    "I25.10": ("CAD", "coronary artery disease", "stable CAD"),
    "I25.2": ("old MI", "prior MI"),
    "I48.91": ("AF", "AFib", "atrial fibrillation"),
    "I50": ("heart failure", "CHF", "HF"),
    "I63": ("stroke", "ischemic stroke", "CVA", "cerebral infarction"),
    "E11": ("T2DM", "type 2 diabetes", "diabetes", "DM"),
    "E78.5": ("hyperlipidemia", "dyslipidemia"),
    "C16": ("stomach cancer", "gastric cancer"),
    "C18": ("colon cancer", "colorectal cancer", "CRC"),
    "C34": ("lung cancer", "NSCLC"),
    "C50": ("breast cancer",),
    "C78.7": ("liver metastasis", "liver metastases"),
    "K92.2": ("GI bleeding", "GI bleed", "gastrointestinal bleeding", "GIB"),
    "K92.1": ("melena",),
    "K21": ("GERD", "reflux"),
    "J44.9": ("COPD",),
    "J06.9": ("URI", "common cold"),
    "J18.9": ("pneumonia",),
    "K35.80": ("appendicitis",),
    "K80.20": ("gallstones", "cholelithiasis"),
    "M17.11": ("knee osteoarthritis",),
    "N39.0": ("UTI",),
    "N40.0": ("BPH",),
}
