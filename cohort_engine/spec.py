"""The cohort specification: the one contract between parsers (rule, LLM) and the SQL compiler.

Semantics follow OHDSI Circe (ATLAS cohort definitions) where they apply:

* an *index event* (Circe: primary criteria) is every occurrence of the index concept set in the
  index domain, optionally restricted to the person's first-ever occurrence and to a date range;
* demographic filters are evaluated at the index date (age = year(index date) - year_of_birth);
* each further *criterion* (Circe: inclusion rule with one correlated criterion) counts events of its
  domain/concept set inside a window relative to the index date, or relative to the events matched
  by another, named criterion; the occurrence rule (at least / at most / exactly N) decides it;
  "exactly 0" expresses absence, which is how exclusions are written;
* a person qualifies when *any* of their index events satisfies the demographics and every criterion.

Windows are inclusive at both ends and measured in whole days: ``start=7, end=14`` means the event
date lies between anchor + 7 days and anchor + 14 days. Negative offsets are before the anchor.

The spec enforces its own limits (field bounds, no ``inf``/``NaN``, bounded lists and strings), so every
door — CLI, REST API, LLM answers, gold specs — rejects the same input with the same message
(:func:`explain`) instead of failing deep in the SQL guard or overflowing an SQL type. The bounds are
far beyond any meant question: windows of 100 years, ages to 150, calendar dates 1800–2200.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SPEC_VERSION = "1.0"

#: The languages of questions, read-backs and messages.
Lang = Literal["en", "ko"]

#: OMOP concept ids are 32-bit integers; larger ones would overflow the SQL literal's type.
INT32_MAX = 2**31 - 1
#: Windows reach at most 100 years either side of their anchor.
MAX_WINDOW_DAYS = 36_600
MAX_IDS = 5_000
MAX_TERMS = 50
MAX_CRITERIA = 30
#: Measurement values beyond ±10¹² are not measurements (and would lose precision as SQL literals).
MAX_ABS_VALUE = 1e12
MIN_YEAR, MAX_YEAR = 1800, 2200

ConceptId = Annotated[int, Field(ge=0, le=INT32_MAX)]
WindowDay = Annotated[int, Field(ge=-MAX_WINDOW_DAYS, le=MAX_WINDOW_DAYS)]
Term = Annotated[str, Field(max_length=200)]
Code = Annotated[str, Field(max_length=64)]
Value = Annotated[float, Field(ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)]


class Domain(StrEnum):
    condition = "condition"
    procedure = "procedure"
    drug = "drug"
    measurement = "measurement"
    observation = "observation"
    visit = "visit"
    imaging = "imaging"
    death = "death"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class ConceptSet(_Model):
    """Which concepts an event must carry.

    The members are the union of: concepts resolved from ``terms`` (free-text mentions, resolved by
    ``schema_catalog`` against the mart's vocabulary), explicit ``concept_ids``, the saved code set
    named by ``codeset``, and every concept whose name or synonym (any language) contains one of
    ``name_contains``. Descendants (concept_ancestor) are included unless switched off; concepts in
    ``exclude_concept_ids`` (and their descendants, when descendants are included) are removed.
    An empty concept set (all fields empty) means "any event of the domain".
    """

    terms: list[Term] = Field(
        default_factory=list, max_length=MAX_TERMS, description="Clinical mentions, OR-ed, to resolve."
    )
    concept_ids: list[ConceptId] = Field(
        default_factory=list, max_length=MAX_IDS, description="Explicit OMOP concept ids, OR-ed."
    )
    codeset: Code | None = Field(default=None, description="Name of a saved, reusable code set.")
    name_contains: list[Term] = Field(
        default_factory=list,
        max_length=MAX_TERMS,
        description="Case-insensitive substrings of a concept name or synonym (e.g. a surgery name).",
    )
    include_descendants: bool = True
    exclude_concept_ids: list[ConceptId] = Field(default_factory=list, max_length=MAX_IDS)

    def is_empty(self) -> bool:
        return not (self.terms or self.concept_ids or self.codeset or self.name_contains)


class DateRange(_Model):
    """Inclusive calendar range on the event date; either end may be open."""

    start: date | None = None
    end: date | None = None

    @field_validator("start", "end")
    @classmethod
    def _plausible(cls, v: date | None) -> date | None:
        if v is not None and not MIN_YEAR <= v.year <= MAX_YEAR:
            raise ValueError(f"dates must fall between the years {MIN_YEAR} and {MAX_YEAR}")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"date range starts ({self.start}) after it ends ({self.end})")
        return self


class ValueFilter(_Model):
    """Numeric comparison on measurement/observation ``value_as_number`` (unit as recorded)."""

    op: Literal[">", ">=", "<", "<=", "=", "between"]
    value: Value
    value_high: Value | None = Field(default=None, description="Upper bound when op is 'between'.")
    exclude_low: bool = Field(
        default=False, description="'between' leaves its lower bound out ('126 초과 200 이하')."
    )
    exclude_high: bool = Field(
        default=False, description="'between' leaves its upper bound out ('126 이상 200 미만')."
    )
    unit: Code | None = Field(default=None, description="Informational: the unit the user wrote.")

    @model_validator(mode="after")
    def _between_has_high(self) -> ValueFilter:
        if self.op == "between" and self.value_high is None:
            raise ValueError("op 'between' needs value_high")
        return self


class ImagingFilter(_Model):
    """Restricts imaging events (``image_occurrence``) by modality code and body part."""

    modalities: list[Code] = Field(
        default_factory=list, max_length=MAX_TERMS, description="DICOM modality codes: CT, MR, XA …"
    )
    body_parts: list[Code] = Field(
        default_factory=list, max_length=MAX_TERMS, description="Body part words, e.g. CHEST, HEART."
    )

    @field_validator("modalities", "body_parts")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return [s.strip().upper() for s in v if s.strip()]


class EventFilter(_Model):
    """What makes an event count: domain, concepts and optional value/imaging/visit filters."""

    domain: Domain
    concepts: ConceptSet = Field(default_factory=ConceptSet)
    value: ValueFilter | None = None
    value_concepts: ConceptSet | None = Field(
        default=None,
        description="Coded answers of an observation or measurement (value_as_concept_id): "
        "'current smoker' for smoking status.",
    )
    imaging: ImagingFilter | None = None
    visit_concept_ids: list[ConceptId] = Field(
        default_factory=list,
        max_length=MAX_IDS,
        description="For visits: visit_concept_id (9201 inpatient, 9203 ER …).",
    )

    @model_validator(mode="after")
    def _filters_fit_domain(self) -> EventFilter:
        if self.value is not None and self.domain not in (Domain.measurement, Domain.observation):
            raise ValueError(f"a value filter applies to measurements or observations, not {self.domain}")
        if self.value_concepts is not None and self.domain not in (Domain.measurement, Domain.observation):
            raise ValueError(f"coded answers apply to measurements or observations, not {self.domain}")
        if self.imaging is not None and self.domain is not Domain.imaging:
            raise ValueError(f"an imaging filter applies to the imaging domain, not {self.domain}")
        if self.visit_concept_ids and self.domain is not Domain.visit:
            raise ValueError(f"visit types apply to the visit domain, not {self.domain}")
        return self


class IndexEvent(EventFilter):
    date_range: DateRange | None = None
    first_occurrence: bool = Field(
        default=False,
        description="Use only the person's first-ever event of this concept set (before the date range).",
    )


class Window(_Model):
    """Days relative to the anchor's event date, inclusive at both ends; negative = before."""

    start: WindowDay | None = Field(default=None, description="None = unbounded before.")
    end: WindowDay | None = Field(default=None, description="None = unbounded after.")
    anchor: str = Field(
        default="index", max_length=100, description="'index' or the label of another criterion."
    )
    same_visit: bool = Field(default=False, description="Event must share the anchor's visit.")

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"window starts at day {self.start} after it ends at day {self.end}")
        return self


class Occurrence(_Model):
    type: Literal["at_least", "at_most", "exactly"] = "at_least"
    count: int = Field(default=1, ge=0, le=100_000)

    @property
    def is_absence(self) -> bool:
        return (self.type == "exactly" and self.count == 0) or (self.type == "at_most" and self.count == 0)


class Criterion(EventFilter):
    label: str = Field(
        max_length=100, description="Unique name; other criteria may anchor their window on it."
    )
    window: Window = Field(default_factory=Window)
    occurrence: Occurrence = Field(default_factory=Occurrence)
    date_range: DateRange | None = Field(
        default=None,
        description="Only events dated inside this calendar range count, whatever the window: 'at least "
        "two ER visits in 2023' counts the visits of 2023.",
    )
    first_occurrence: bool = Field(
        default=False,
        description="Only the person's first-ever event of this kind counts, chosen before the window and "
        "the date range: 'heart failure first diagnosed within 30 days after the echo'.",
    )

    @model_validator(mode="after")
    def _first_is_one_event(self) -> Criterion:
        if self.first_occurrence and self.occurrence.type == "at_least" and self.occurrence.count > 1:
            raise ValueError("a person has one first-ever event: 'at least N' of it cannot hold for N > 1")
        return self

    @field_validator("label")
    @classmethod
    def _label_ok(cls, v: str) -> str:
        v = v.strip()
        if not v or v == "index":
            raise ValueError("a criterion label must be non-empty and not 'index'")
        return v


class Demographics(_Model):
    sexes: list[Literal["male", "female"]] = Field(default_factory=list, description="Empty = any sex.")
    age_min: int | None = Field(default=None, ge=0, le=150, description="Age at index, inclusive.")
    age_max: int | None = Field(default=None, ge=0, le=150, description="Age at index, inclusive.")

    @model_validator(mode="after")
    def _ordered(self) -> Demographics:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(f"minimum age {self.age_min} is above maximum age {self.age_max}")
        return self

    def is_empty(self) -> bool:
        return not self.sexes and self.age_min is None and self.age_max is None


#: At most this many uploaded lists in one spec.
MAX_LISTS = 10
#: An uploaded list's name: what its owner called it at upload (``POST /v1/uploads``).
ListName = Annotated[str, Field(min_length=1, max_length=64)]


class ListDateWindow(_Model):
    """Days from a person's date in an uploaded list to their index event, inclusive at both ends:
    ``start=0, end=30`` = the index event within 30 days after the list's date."""

    start: WindowDay | None = Field(default=None, description="None = unbounded before.")
    end: WindowDay | None = Field(default=None, description="None = unbounded after.")

    @model_validator(mode="after")
    def _ordered(self) -> ListDateWindow:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"window starts at day {self.start} after it ends at day {self.end}")
        return self


class UploadList(_Model):
    """Persons of one of the asker's own uploaded lists (``POST /v1/uploads``), evaluated per person.

    ``include`` keeps the index events of the list's persons, ``exclude`` drops them; ``value`` keeps
    (or drops) only the persons whose number column (a label, a score) passes it. The list belongs to
    the asker: the same name in another key's spec is another list.
    """

    name: ListName
    mode: Literal["include", "exclude"] = "include"
    value: ValueFilter | None = Field(default=None, description="On the list's own number column.")
    date_window: ListDateWindow | None = Field(
        default=None,
        description="The index event must fall inside this window of the person's date in the list's own "
        "date column (persons without a date do not match it).",
    )


class ImagingRequest(_Model):
    """Which imaging studies to return for the cohort (default: all indexed studies of its persons)."""

    modalities: list[Code] = Field(default_factory=list, max_length=MAX_TERMS)
    body_parts: list[Code] = Field(default_factory=list, max_length=MAX_TERMS)
    window: Window | None = Field(default=None, description="Relative to the index or a named criterion.")


class CohortSpec(_Model):
    version: str = SPEC_VERSION
    title: str | None = Field(default=None, max_length=200)
    language: Lang = "en"
    index: IndexEvent
    demographics: Demographics = Field(default_factory=Demographics)
    criteria: list[Criterion] = Field(default_factory=list, max_length=MAX_CRITERIA)
    imaging: ImagingRequest | None = None
    lists: list[UploadList] = Field(
        default_factory=list,
        max_length=MAX_LISTS,
        description="The asker's own uploaded patient lists, as include/exclude rules (after demographics).",
        exclude_if=lambda v: not v,  # specs without lists dump as they did before lists existed
    )

    @model_validator(mode="after")
    def _labels_and_anchors(self) -> CohortSpec:
        seen: set[str] = set()
        for c in self.criteria:
            if c.label in seen:
                raise ValueError(f"criterion label {c.label!r} is used twice; labels must be unique")
            if c.window.anchor != "index" and c.window.anchor not in seen:
                raise ValueError(
                    f"criterion {c.label!r} is anchored on {c.window.anchor!r}, "
                    "which is not an earlier criterion"
                )
            if c.window.anchor != "index":
                anchor = next(a for a in self.criteria if a.label == c.window.anchor)
                if anchor.occurrence.is_absence:
                    raise ValueError(
                        f"criterion {c.label!r} is anchored on {anchor.label!r}, "
                        "an absence criterion with no events"
                    )
            seen.add(c.label)
        w = self.imaging.window if self.imaging else None
        if w is not None and w.anchor != "index" and w.anchor not in seen:
            raise ValueError(
                f"the imaging window is anchored on {w.anchor!r}, which is not a criterion label"
            )
        return self

    def criterion(self, label: str) -> Criterion:
        for c in self.criteria:
            if c.label == label:
                return c
        raise KeyError(label)


def spec_json_schema() -> dict:
    return CohortSpec.model_json_schema()


def dump_json_schema() -> str:
    return json.dumps(spec_json_schema(), indent=2, ensure_ascii=False)


def explain(error: ValidationError) -> str:
    """One line per problem, naming the field by its path and never echoing the input value.

    The same words at every door (CLI, REST API, LLM repair, gold specs), and no input echoed back: a
    spec may carry free text the user typed.
    """
    problems = []
    for e in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in e["loc"]) or "spec"
        problems.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    return "The spec is invalid — " + "; ".join(dict.fromkeys(problems)) + "."
