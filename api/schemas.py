"""Request and response bodies of the REST API (with the examples shown in the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cohort_engine.api.state import JobStatus, ReleaseStatus
from cohort_engine.api.suppression import Cell
from cohort_engine.followups import Answer, AppliedEdit, Followup
from cohort_engine.parsers import ParserName
from cohort_engine.pipeline import SampleRow, Timings
from cohort_engine.schema_catalog.resolve import TermResolution
from cohort_engine.spec import CohortSpec, ConceptId, Domain

SEED_QUESTION = (
    "patients diagnosed between 2023-10-01 and 2023-10-10 who had a surgery for myocardial infarction "
    "or coronary artery disease 7 to 14 days after the diagnosis"
)
SEED_QUESTION_KO = (
    "2023년 10월 1일부터 열흘 동안 진단을 받은 환자 중에 진단일 기준 7일부터 14일 이내 수술명에 "
    "심근경색이나 관상 동맥 질환이 있는 명단을 모아줘"
)
SEED_SPEC: dict[str, Any] = {
    "language": "en",
    "index": {"domain": "condition", "date_range": {"start": "2023-10-01", "end": "2023-10-10"}},
    "criteria": [
        {
            "label": "surgery",
            "domain": "procedure",
            "concepts": {"terms": ["myocardial infarction", "coronary artery disease"]},
            "window": {"start": 7, "end": 14, "anchor": "index"},
            "occurrence": {"type": "at_least", "count": 1},
        }
    ],
}

Overrides = dict[str, list[ConceptId]]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskRequest(_In):
    question: str = Field(
        min_length=1, max_length=2000, description="The cohort question, in English or Korean."
    )
    overrides: Overrides = Field(
        default_factory=dict,
        description="Pin a clinical mention to concept ids (as chosen from a clarification): "
        "{mention: [ids]}.",
    )
    mart: str | None = Field(
        default=None,
        max_length=200,
        description="Name of the mart to ask; a server serves one mart (see /v1/health), so omit it "
        "or give that name.",
    )
    answers: list[Answer] = Field(
        default_factory=list,
        max_length=20,
        description="Choices picked from an earlier answer's `followup` (send its `answers` as given, with "
        "the same original `question`): `{span, action: drop}`, `{span, action: replace, with}` or "
        "`{term, concept_id}`. Applied in order to the question (text edits) and as overrides; the answer's "
        "`applied` says which applied and `asked` the question as read.",
    )
    parser: ParserName = Field(
        default="rule",
        description="How the question is read: `rule` (the offline parser, default), `llm` (the server's "
        "chat model, `COHORT_LLM_MODEL`) or `hybrid` (rule parser; the model only for what it would ask "
        "back about). Every parser's spec takes the same resolution, compilation and SQL guard. "
        "`llm`/`hybrid` on a server without a model answer 409 `parser_unavailable`.",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": SEED_QUESTION},
                {"question": SEED_QUESTION_KO},
                {"question": "patients diagnosed with MI in 2023", "overrides": {"MI": [1001]}},
                {"question": SEED_QUESTION, "parser": "hybrid"},
                {
                    "question": "metformin takers with an HbA1c above 8 within 3 months after starting it",
                    "answers": [{"span": "takers", "action": "drop"}],
                },
            ]
        },
    )


class CohortRunRequest(_In):
    spec: CohortSpec = Field(
        description="A cohort spec (see `cohort schema spec`), e.g. an edited read-back."
    )
    overrides: Overrides = Field(
        default_factory=dict, description="Pin mentions to concept ids: {mention: [ids]}."
    )

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"spec": SEED_SPEC}]})


class AttritionOut(BaseModel):
    step: str = Field(description="'index', 'demographics' or 'k<n>' (criterion n).")
    description: str
    persons: int | None = Field(
        description="Persons left after this rule (noisy for researchers); null below the threshold."
    )
    display: str = Field(description="The count as shown: '1234' or '<11'.")
    suppressed: bool = False


class ChoiceOut(BaseModel):
    label: str
    concept_id: int | None = Field(
        default=None, description="Pick this concept: resend with overrides {term: [id]}."
    )
    term: str | None = Field(default=None, description="The mention the choice resolves.")


class ClarificationOut(BaseModel):
    question: str
    span: str | None = None
    choices: list[ChoiceOut] = Field(default_factory=list)


class ReleaseOut(BaseModel):
    status: ReleaseStatus
    requested_at: str | None = None
    approved_at: str | None = None


class ReleaseOverlap(BaseModel):
    """An earlier approved release that shares persons with this cohort (stewards and admins only).

    Two releases of the same persons to different projects can be linked through the images
    themselves (series per modality, the gaps between them, the pixel data), whatever the per-release
    keys and jitter do (docs/PRIVACY.md); the reviewers decide knowing it.
    """

    cohort_id: str
    release: str = Field(description="The earlier release's project key.")
    approved_at: str | None = None
    persons_shared: int = Field(description="Persons in both cohorts (exact: reviewers only).")


class ImagingRowOut(BaseModel):
    """The cohort's images of one modality (the imaging request's selection from the DICOM index)."""

    modality: str | None = Field(description="DICOM Modality of the series (null when the index has none).")
    persons: Cell = Field(description="Persons with such images; '<k' below k for researchers.")
    studies: Cell = Field(
        description="Studies; hidden ('suppressed') with a suppressed row, for researchers."
    )
    series: Cell
    instances: Cell
    suppressed: bool = Field(default=False, description="True when a count of this row is hidden.")


class CohortResult(BaseModel):
    """An answer: status, spec, read-back, clarifications, resolved codes, SQL, attrition and count."""

    cohort_id: str | None = Field(
        default=None, description="Set when the run is stored (status ok, clarify or error with a spec)."
    )
    status: Literal["ok", "clarify", "refused", "error"]
    message: str = ""
    language: Literal["en", "ko"] = "en"
    spec: CohortSpec | None = None
    readback: str | None = None
    notes: list[str] = Field(default_factory=list)
    clarifications: list[ClarificationOut] = Field(default_factory=list)
    resolutions: dict[str, list[TermResolution]] = Field(default_factory=dict)
    sql: str | None = None
    attrition: list[AttritionOut] = Field(default_factory=list)
    count: int | None = Field(
        default=None, description="Cohort size (noisy for researchers); null below the threshold or not run."
    )
    count_display: str | None = Field(
        default=None, description="Cohort size as shown ('<11' below k for researchers)."
    )
    suppressed: bool = Field(default=False, description="True when a funnel count is below the threshold.")
    counts: Literal["exact", "noisy"] = Field(
        default="exact",
        description="'noisy' for researchers: every count carries keyed, consistent noise (docs/PRIVACY.md).",
    )
    k: int = Field(description="Threshold in force: researchers' counts below it show as '<k'.")
    sample: list[SampleRow] = Field(
        default_factory=list, description="Pseudonymous rows; stewards and admins only."
    )
    imaging: list[ImagingRowOut] | None = Field(
        default=None,
        description="Their images, per modality: persons, studies, series and instances of the indexed "
        "images the spec's imaging request selects (all indexed images of the cohort's persons when it has "
        "none) — the same selection as the manifest. For researchers: noisy counts, rows below k left out. "
        "Null when the "
        "mart has no DICOM index (or the run did not get that far).",
    )
    release: ReleaseOut | None = None
    created_at: str | None = None
    timings: Timings | None = Field(
        default=None,
        description="Milliseconds per stage of this request (POST /v1/ask; also in the Server-Timing "
        "header); null when read back.",
    )
    asked: str | None = Field(
        default=None,
        description="`POST /v1/ask` with `answers` only: the question as read, after the answers' edits.",
    )
    applied: list[AppliedEdit] = Field(
        default_factory=list, description="`POST /v1/ask` only: each answer sent, and whether it applied."
    )
    followup: Followup | None = Field(
        default=None,
        description="`POST /v1/ask` answers with status `clarify` only (never stored): the question with the "
        "words in doubt marked, the read-back of the understood part, and one-click choices that continue "
        "the same question (resend the original question with a choice's `answers`).",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cohort_id": "coh_1f2e3d4c5b6a7980",
                    "status": "ok",
                    "message": "11 patients match.",
                    "language": "en",
                    "spec": SEED_SPEC,
                    "readback": "Index event: any diagnosis, dated 2023-10-01 to 2023-10-10 (inclusive).\n…",
                    "attrition": [
                        {
                            "step": "index",
                            "description": "index events",
                            "persons": 1210,
                            "display": "1210",
                            "suppressed": False,
                        },
                        {
                            "step": "k1",
                            "description": "surgery",
                            "persons": 11,
                            "display": "11",
                            "suppressed": False,
                        },
                    ],
                    "count": 11,
                    "count_display": "11",
                    "suppressed": False,
                    "k": 5,
                    "imaging": [
                        {
                            "modality": "CT",
                            "persons": {"value": 11, "display": "11", "suppressed": False},
                            "studies": {"value": 14, "display": "14", "suppressed": False},
                            "series": {"value": 19, "display": "19", "suppressed": False},
                            "instances": {"value": 2210, "display": "2210", "suppressed": False},
                            "suppressed": False,
                        },
                        {
                            "modality": "XA",
                            "persons": {"value": 6, "display": "6", "suppressed": False},
                            "studies": {"value": 6, "display": "6", "suppressed": False},
                            "series": {"value": 6, "display": "6", "suppressed": False},
                            "instances": {"value": 180, "display": "180", "suppressed": False},
                            "suppressed": False,
                        },
                    ],
                    "release": {"status": "none"},
                }
            ]
        }
    )


class CohortSummary(BaseModel):
    cohort_id: str
    created_at: str
    status: str
    title: str | None = None
    count_display: str | None = None
    release: ReleaseOut


class CodesetIn(_In):
    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[\w][\w .\-]*$",
        description="Unique name; a spec refers to it as concepts.codeset.",
    )
    description: str = Field(default="", max_length=500)
    domain: Domain | None = Field(default=None, description="Domain the concepts belong to (informational).")
    concept_ids: list[ConceptId] = Field(
        min_length=1,
        max_length=5000,
        description="OMOP concept ids (descendants follow the spec's include_descendants).",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "cabg",
                    "description": "Coronary artery bypass graft",
                    "domain": "procedure",
                    "concept_ids": [2001],
                }
            ]
        },
    )


class CodesetUpdate(_In):
    description: str = Field(default="", max_length=500)
    domain: Domain | None = None
    concept_ids: list[ConceptId] = Field(min_length=1, max_length=5000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"description": "CABG and PCI", "domain": "procedure", "concept_ids": [2001, 2002]}]
        },
    )


class CodesetOut(BaseModel):
    name: str
    description: str
    domain: str | None
    concept_ids: list[ConceptId]
    concepts: list[str] = Field(
        default_factory=list, description="'name (VOCAB code)' of each id found in the mart."
    )
    created_by: str
    created_at: str
    updated_at: str
    version: int


class SqlRequest(_In):
    sql: str = Field(
        min_length=1, max_length=20000, description="One read-only SELECT over the catalogued tables."
    )
    max_rows: int = Field(default=1000, ge=1, le=10000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"sql": "SELECT gender_concept_id, COUNT(*) AS persons FROM person GROUP BY 1"}]
        },
    )


class SqlResult(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    aggregates_only: bool = Field(
        description="Always false: only stewards and admins run SQL, and they may select rows."
    )
    suppressed_cells: int = Field(default=0, description="Always 0 (kept for older clients).")
    tables: list[str] = Field(default_factory=list)


class PyramidCell(BaseModel):
    sex: str
    age_band: str
    persons: Cell


class LabelCell(BaseModel):
    label: str
    persons: Cell
    series: int | None = Field(default=None, description="Imaging series (noisy for researchers).")


class StatsOut(BaseModel):
    """The cohort's charts; for researchers every cell is noisy and cells below k are left out."""

    cohort_id: str
    k: int
    counts: Literal["exact", "noisy"] = "exact"
    total: Cell
    pyramid: list[PyramidCell]
    index_months: list[LabelCell]
    modalities: list[LabelCell]
    body_parts: list[LabelCell]
    notes: list[str] = Field(default_factory=list)


class JobOut(BaseModel):
    job_id: str
    kind: str
    cohort_id: str | None
    format: str | None
    level: str | None = Field(
        default=None, description="Manifest level of an export: `series` or `instance`."
    )
    status: JobStatus
    progress: float = Field(ge=0, le=1)
    rows_done: int
    rows_total: int | None
    message: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    download: str | None = Field(default=None, description="Where to fetch the result once done.")


class ExportRequest(_In):
    format: Literal["csv", "parquet", "jsonl", "json"] = Field(
        default="csv",
        description="File format: CSV (`criteria` as JSON text), Parquet (typed columns, `criteria` as "
        "list<struct<label, days_from_index>>), JSON Lines, or one JSON array.",
    )

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"format": "parquet"}]})


class ExtractJobRequest(_In):
    """Record extraction of an approved cohort (``cohort extract``'s options; the server's k applies)."""

    domains: list[str] | None = Field(
        default=None,
        max_length=10,
        description="Any of conditions, procedures, drugs, measurements, observations, visits, death "
        "(default: all).",
    )
    window: str = Field(
        default="-365:365",
        max_length=20,
        description="Days relative to each person's index date, inclusive: START:END (either end may be "
        "open, e.g. 0:) or 'all'.",
    )
    format: Literal["parquet", "csv"] = Field(default="parquet", description="Typed Parquet or CSV files.")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"domains": ["conditions", "drugs"], "window": "-365:365"}]},
    )


class ManifestPage(BaseModel):
    cohort_id: str
    release: str = Field(description="Release name; pseudonyms are keyed per release.")
    level: Literal["series", "instance"] = Field(description="One row per series, or per SOP instance.")
    columns: list[str] = Field(
        description="The level's columns, in order (every row has exactly these keys)."
    )
    offset: int
    limit: int
    total: int = Field(description="Rows of the whole manifest.")
    next: str | None = Field(description="The next page, or null on the last one.")
    rows: list[dict[str, Any]] = Field(
        description="This page's rows (a JSON array, in the manifest's keyed order)."
    )


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    mart: bool = Field(description="The mart answered a trivial query.")
    mart_name: str = Field(description="Name of the mart this server serves (its file name).")
    state: bool = Field(description="The state file answered a trivial query.")


class AuditOut(BaseModel):
    seq: int
    at: str
    key_id: str | None
    role: str | None
    method: str
    endpoint: str
    target: str | None
    status: int
    spec: Any = None
    counts: Any = None
    result_hash: str | None
    details: Any = None


class AuditPage(BaseModel):
    entries: list[AuditOut]
    chain_ok: bool
    next_after: int | None


class Table1Cell(BaseModel):
    """One cohort's value in a Table 1 row."""

    persons: Cell | None = Field(default=None, description="Persons (noisy for researchers, '<k' below k).")
    percent: float | None = Field(default=None, description="Of the cohort's persons, from the shown counts.")
    value: str | None = Field(
        default=None,
        description="Age: mean (SD) — for researchers computed from the noisy age bands; labs: median "
        "(IQR) of each person's latest value, for researchers only on rows of at least k persons and rounded "
        "to two significant digits.",
    )


class Table1Row(BaseModel):
    section: Literal["age", "age_band", "sex", "condition", "procedure", "drug", "lab", "death", "imaging"]
    label: str
    concept_id: int | None = None
    code: str | None = None
    unit: str | None = None
    cells: list[Table1Cell] = Field(description="One per cohort, in the order of `cohort_ids`.")
    smd: float | None = Field(
        default=None,
        description="Standardised mean difference, first cohort minus second (side by side only; |SMD| > 0.1 "
        "is the usual flag of imbalance).",
    )


class Table1Out(BaseModel):
    """Baseline characteristics of one cohort, or two side by side (ATLAS-style characterisation)."""

    cohort_ids: list[str]
    k: int
    counts: Literal["exact", "noisy"] = "exact"
    window: list[int] = Field(
        description="Days relative to the index date described by the concept and lab rows."
    )
    totals: list[Cell]
    rows: list[Table1Row]
    notes: list[str] = Field(default_factory=list)


# -- own-data uploads and code-set imports (api/uploads.py, api/codesets.py) ------------------------


class UploadOut(BaseModel):
    """A stored patient list as its owner sees it: how many rows matched a person, never which."""

    name: str
    id_kind: Literal["mrn", "pseudonym"] = Field(
        description="What the identifier column held: hospital MRNs or pseudonyms of an earlier release."
    )
    rows: int = Field(description="Rows of patients read from the file (the header not counted).")
    matched: Cell = Field(description="Rows whose identifier is a person of this mart ('<k' below k).")
    unmatched: Cell = Field(
        description="Rows whose identifier is not ('<k' below k; both hidden when either is, since "
        "matched + unmatched = rows)."
    )
    has_value: bool = Field(description="Whether the list carries a number column (usable as value filter).")
    has_date: bool = Field(description="Whether the list carries a date column.")
    created_at: str


class UnknownCode(BaseModel):
    row: int = Field(description="Row of the file (the header is row 1).")
    vocabulary: str
    code: str
    reason: str = Field(description="'unknown_vocabulary', 'not_in_mart' or 'not_a_concept'.")


class CodesetImportOut(BaseModel):
    """What an import made: the code set (a new version when it existed) and what did not resolve."""

    codeset: CodesetOut
    rows: int = Field(description="Code rows read (the header not counted).")
    resolved: int = Field(description="Rows whose code is a concept of the mart's vocabulary.")
    unknown: list[UnknownCode] = Field(description="Rows that did not resolve (at most 1,000 listed).")
    unknown_total: int
    by_vocabulary: dict[str, int] = Field(description="Resolved concepts per vocabulary.")


class CodesetVersionOut(BaseModel):
    name: str
    version: int
    description: str
    domain: str | None
    concept_ids: list[ConceptId]
    created_by: str
    created_at: str
