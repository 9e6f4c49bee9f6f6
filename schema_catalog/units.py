"""A lab threshold as written, checked against the unit and the values the mart actually records.

Why: a value filter compares a number with ``value_as_number`` in whatever unit the mart stores.
"Hb < 70 g/L" on a mart that records g/dL, "platelets under 50,000" on one that records 10³/µL, or
"creatinine > 177" (µmol/L in the writer's head) on a mg/dL mart each run, return a cohort and look
right, and are wrong: the worst outcome this engine has. So before a spec runs, every measurement
threshold is reconciled with the mart:

1. **A unit written, the same dimension as the mart's** (g/L vs g/dL, /µL vs 10³/µL): the number is
   rescaled exactly, and a note says so.
2. **A unit written, molar vs mass** (mmol/L glucose on a mg/dL mart): converted only for the analytes
   whose factor is fixed by chemistry (:data:`MOLAR_MASS`, keyed by LOINC code), and HbA1c
   mmol/mol ↔ % by the IFCC–NGSP master equation; any other pair is asked back.
3. **No unit written**: the number is kept when it lies within a factor :data:`PLAUSIBLE_FACTOR` of the
   range the mart records for that test (its 0.1st to 99.9th percentile); a count written in units
   ("50,000" platelets) on a mart that records thousands is read in thousands, with a note; any
   other number outside the range is asked back, naming the mart's unit.

The profile of a test (its unit and value range) is read from the mart once per connection; tests with
no numeric values, or recorded in several units, are not checked. Percentiles of a test over the whole
mart describe the laboratory, not a patient, and are shown rounded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cohort_engine.schema_catalog.resolve import SpecResolution
from cohort_engine.spec import CohortSpec, Domain, EventFilter, ValueFilter

#: Written units (any case, spaces removed) → the UCUM-like code the mart's unit concepts carry.
UNIT_CODES: dict[str, str] = {
    "%": "%",
    "g/dl": "g/dL",
    "g/l": "g/L",
    "mg/dl": "mg/dL",
    "mg/l": "mg/L",
    "ug/ml": "ug/mL",
    "µg/ml": "ug/mL",
    "ng/ml": "ng/mL",
    "ug/l": "ug/L",
    "µg/l": "ug/L",
    "ng/l": "ng/L",
    "pg/ml": "pg/mL",
    "ug/dl": "ug/dL",
    "µg/dl": "ug/dL",
    "mmol/l": "mmol/L",
    "umol/l": "umol/L",
    "µmol/l": "umol/L",
    "nmol/l": "nmol/L",
    "mmol/mol": "mmol/mol",
    "/ul": "/uL",
    "/µl": "/uL",
    "/mm3": "/uL",
    "10^3/ul": "10*3/uL",
    "10*3/ul": "10*3/uL",
    "k/ul": "10*3/uL",
    "103/ul": "10*3/uL",  # '10³/μL' once NFKC has made the superscript a digit
    "10^9/l": "10*9/L",
    "10*9/l": "10*9/L",
}

#: Units of one dimension → factor to that dimension's base unit. Rescaling inside a dimension is exact.
SCALES: dict[str, dict[str, float]] = {
    "mass/volume": {
        "g/dL": 10.0,
        "g/L": 1.0,
        "mg/dL": 1e-2,
        "mg/L": 1e-3,
        "ug/mL": 1e-3,
        "ug/dL": 1e-5,
        "ng/mL": 1e-6,
        "ug/L": 1e-6,
        "pg/mL": 1e-9,
        "ng/L": 1e-9,
    },
    "substance/volume": {"mmol/L": 1.0, "umol/L": 1e-3, "nmol/L": 1e-6},
    "count/volume": {"/uL": 1.0, "10*3/uL": 1e3, "10*9/L": 1e3},
}

#: LOINC code of a mass-concentration test → its analyte's molar mass (g/mol): mmol/L × M = mg/L.
MOLAR_MASS: dict[str, float] = {
    "2345-7": 180.16,  # glucose
    "2339-0": 180.16,  # glucose in blood
    "2160-0": 113.12,  # creatinine
    "2093-3": 386.65,  # cholesterol
    "2089-1": 386.65,  # LDL cholesterol
    "13457-7": 386.65,  # LDL cholesterol (calculated)
    "2085-9": 386.65,  # HDL cholesterol
    "2571-8": 885.7,  # triglycerides (as triolein)
    "3094-0": 28.014,  # urea nitrogen: mmol/L urea × 28.014 (two N) = mg/L BUN
}

#: HbA1c: IFCC mmol/mol → NGSP % (the master equation), for marts that record % (LOINC 4548-4, 17856-6).
HBA1C_LOINC = ("4548-4", "17856-6")

#: A bare number is taken as written when it lies within this factor of the mart's recorded range.
PLAUSIBLE_FACTOR = 3.0


@dataclass(frozen=True)
class LabProfile:
    """What the mart records for one test: its unit code and its 0.1st–99.9th percentile values."""

    unit: str | None
    low: float
    high: float
    loinc: str | None = None


@dataclass(frozen=True)
class Reconciled:
    """A threshold the mart can compare: the filter to run and, when it changed, a note saying how."""

    value: ValueFilter
    note: str | None = None


@dataclass(frozen=True)
class UnitQuestion:
    """A threshold that cannot be compared with the mart's values without asking."""

    message: str


def unit_code(written: str | None) -> str | None:
    """The code of a unit as the user wrote it ('mg/dl', 'x10^9/L', 'K/µL'), or None when unknown."""
    if not written:
        return None
    key = re.sub(r"\s+|^x", "", written.strip().lower().replace("×", "")).replace("μ", "u").replace("µ", "u")
    return UNIT_CODES.get(key)


def _dimension(code: str | None) -> str | None:
    return next((d for d, units in SCALES.items() if code in units), None)


def _converter(written: str, mart: str, loinc: str | None) -> Callable[[float], float] | None:
    """value in ``written`` → value in ``mart``, or None when no exact conversion exists."""
    dw, dm = _dimension(written), _dimension(mart)
    if dw is not None and dw == dm:
        factor = SCALES[dw][written] / SCALES[dm][mart]
        return lambda v: v * factor
    if loinc in HBA1C_LOINC and written == "mmol/mol" and mart == "%":
        return lambda v: 0.09148 * v + 2.152
    if loinc in HBA1C_LOINC and written == "%" and mart == "mmol/mol":
        return lambda v: (v - 2.152) / 0.09148
    molar = MOLAR_MASS.get(loinc or "")
    if molar is None or {dw, dm} != {"mass/volume", "substance/volume"}:
        return None
    if dw == "substance/volume":  # written molar → mart mass: to mmol/L, × M → mg/L, to the mart's unit
        to_mg_l = SCALES["substance/volume"][written] * molar
        return lambda v: v * to_mg_l * 1e-3 / SCALES["mass/volume"][mart]
    to_mmol = SCALES["mass/volume"][written] * 1e3 / molar
    return lambda v: v * to_mmol / SCALES["substance/volume"][mart]


def _round(v: float) -> float:
    """A converted threshold to four significant digits (7.0 g/dL, 2.002 mg/dL, 199.8 mg/dL)."""
    if v == 0:
        return 0.0
    digits = 3 - int(math.floor(math.log10(abs(v))))
    return round(v, max(digits, 0))


def _fmt(v: float) -> str:
    return f"{v:g}"


def _plausible(v: float, p: LabProfile) -> bool:
    low = p.low / PLAUSIBLE_FACTOR if p.low > 0 else p.low * PLAUSIBLE_FACTOR
    return low <= v <= max(p.high * PLAUSIBLE_FACTOR, p.high + 1)


def _with_values(f: ValueFilter, convert: Callable[[float], float], unit: str | None) -> ValueFilter:
    high = None if f.value_high is None else _round(convert(float(f.value_high)))
    return f.model_copy(update={"value": _round(convert(float(f.value))), "value_high": high, "unit": unit})


def _range_text(p: LabProfile) -> str:
    return f"{_fmt(_round(p.low))}–{_fmt(_round(p.high))}"


def reconcile(f: ValueFilter, test: str, p: LabProfile, lang: str = "en") -> Reconciled | UnitQuestion:
    """``f`` (on the test named ``test``) made comparable with the mart's values, or a question back."""
    written = unit_code(f.unit)
    ko = lang == "ko"
    unit = p.unit or ("단위 없음" if ko else "no unit")
    if written is not None and p.unit is not None and written != p.unit:
        convert = _converter(written, p.unit, p.loinc)
        if convert is None:
            return UnitQuestion(
                f"이 데이터마트는 “{test}”을(를) {unit} 단위로 기록합니다. {f.unit} 값을 {unit}(으)로 "
                f"바꿀 수 없으니 {unit} 기준의 값으로 다시 적어 주세요."
                if ko
                else f"This mart records “{test}” in {unit}; a value in {f.unit} cannot be converted "
                f"to it. Please give the threshold in {unit}."
            )
        new = _with_values(f, convert, p.unit)
        return Reconciled(
            new,
            f"“{test}”: {_fmt(float(f.value))} {f.unit}를 이 데이터마트의 단위로 바꿔 "
            f"{_fmt(float(new.value))} {unit}(으)로 비교합니다"
            if ko
            else f"“{test}”: {_fmt(float(f.value))} {f.unit} compared as {_fmt(float(new.value))} {unit}, "
            "the unit this mart records",
        )
    values = [float(f.value)] + ([] if f.value_high is None else [float(f.value_high)])
    if written is not None or all(_plausible(v, p) for v in values):
        return Reconciled(f)
    if p.unit is not None and _dimension(p.unit) == "count/volume" and p.unit != "/uL":
        thousands = SCALES["count/volume"][p.unit]
        if all(v >= thousands and _plausible(v / thousands, p) for v in values):
            new = _with_values(f, lambda v: v / thousands, p.unit)
            return Reconciled(
                new,
                f"“{test}”: {_fmt(float(f.value))}을(를) {_fmt(float(new.value))} {unit}(으)로 읽었습니다"
                if ko
                else f"“{test}”: {_fmt(float(f.value))} read as {_fmt(float(new.value))} {unit}, "
                "the unit this mart records",
            )
    shown = " – ".join(_fmt(v) for v in values)
    return UnitQuestion(
        f"이 데이터마트의 “{test}” 값은 {unit} 단위로 대부분 {_range_text(p)} 사이입니다. {shown}은(는) "
        "그 범위를 크게 벗어납니다. 어떤 단위의 값인가요?"
        if ko
        else f"This mart records “{test}” in {unit}, mostly between {_range_text(p)}; {shown} is far "
        "outside that. Which unit did you mean? Please give the threshold with its unit."
    )


#: Per unit: values, the 0.1 % and 99.9 % quantiles, and rows (with or without a value). ``TRY_CAST``
#: because some marts (Eunomia) type ``value_as_number`` as text, all of it empty.
PROFILE_SQL = """
SELECT u.concept_code, count(m.v) AS n, quantile_cont(m.v, 0.001), quantile_cont(m.v, 0.999),
       count(*) AS recorded
FROM (SELECT TRY_CAST(value_as_number AS DOUBLE) AS v, unit_concept_id FROM measurement
      WHERE measurement_concept_id IN ({ids})) AS m
LEFT JOIN concept AS u ON u.concept_id = m.unit_concept_id
GROUP BY u.concept_code ORDER BY n DESC
"""

#: The share of a test's values that must carry one unit for that unit to stand for the test.
DOMINANT_UNIT = 0.95


def profile_from_rows(rows: Sequence[tuple], loinc: str | None) -> LabProfile | None:
    """A test's profile from :data:`PROFILE_SQL` rows, or None (no values, or several units in use)."""
    total = sum(int(r[1]) for r in rows)
    if not total or rows[0][2] is None:
        return None
    unit, n, low, high = rows[0][:4]
    if int(n) < DOMINANT_UNIT * total:
        return None
    return LabProfile(unit=str(unit) if unit else None, low=float(low), high=float(high), loinc=loinc)


def no_values_question(rows: Sequence[tuple], test: str, lang: str) -> str | None:
    """Asked back when the mart records the test but never its value: a threshold on it would match
    nobody, and an empty cohort would read as an answer."""
    recorded = sum(int(r[4]) for r in rows)
    if not recorded or any(int(r[1]) for r in rows):
        return None
    if lang == "ko":
        return (
            f"이 데이터마트에는 “{test}” 검사 기록({recorded:,}건)은 있지만 수치 결과가 하나도 없어서 "
            "기준값으로 "
            "환자를 고를 수 없습니다. 기준값 없이 검사를 받은 환자로 찾을까요?"
        )
    return (
        f"This mart records “{test}” ({recorded:,} measurements) but never its numeric result, so no "
        "patient can be chosen by a threshold on it. Ask for patients who had the test, without the value?"
    )


def domain_takes_units(domain: Domain) -> bool:
    """Only measurements carry units the mart records per test (observations' values are too mixed)."""
    return domain is Domain.measurement


@dataclass(frozen=True)
class UnitCheck:
    """A spec whose thresholds the mart can compare, with notes on what changed, or questions back."""

    spec: CohortSpec
    notes: list[str]
    questions: list[str]


def reconcile_spec(
    spec: CohortSpec, resolution: SpecResolution, fetch: Callable[[str, list], list[tuple]]
) -> UnitCheck:
    """Every measurement threshold of ``spec`` checked against the mart (``fetch`` runs a cached query).

    Returns the spec with converted thresholds; ``questions`` is non-empty when a threshold must be
    asked back (the spec is then not to be run)."""
    notes: list[str] = []
    questions: list[str] = []
    updates: dict[str, ValueFilter] = {}
    filters: list[tuple[str, EventFilter]] = [("index", spec.index), *((c.label, c) for c in spec.criteria)]
    for key, f in filters:
        if f.value is None or not domain_takes_units(f.domain):
            continue
        resolved = [m for r in resolution.by_key.get(key, []) for m in r.matches]
        ids = sorted({m.concept_id for m in resolved})
        if not ids:
            continue
        loinc = next((m.concept_code for m in resolved if m.vocabulary_id == "LOINC"), None)
        rows = fetch(PROFILE_SQL.format(ids=", ".join("?" * len(ids))), ids)
        terms = [r.term for r in resolution.by_key.get(key, []) if r.term]
        test = terms[0] if terms else resolved[0].concept_name
        empty = no_values_question(rows, test, spec.language)
        if empty is not None:
            questions.append(empty)
            continue
        profile = profile_from_rows(rows, loinc)
        if profile is None:
            continue
        got = reconcile(f.value, test, profile, spec.language)
        if isinstance(got, UnitQuestion):
            questions.append(got.message)
        elif got.note is not None:
            updates[key] = got.value
            notes.append(got.note)
    if not updates:
        return UnitCheck(spec, notes, questions)
    index = spec.index.model_copy(update={"value": updates["index"]}) if "index" in updates else spec.index
    criteria = [
        c.model_copy(update={"value": updates[c.label]}) if c.label in updates else c for c in spec.criteria
    ]
    return UnitCheck(spec.model_copy(update={"index": index, "criteria": criteria}), notes, questions)
