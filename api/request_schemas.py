"""The contracts of the release request endpoints (``/v1/requests``): what a client sends and reads."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cohort_engine.api.request_flow import MAX_COMMENT, RequestState
from cohort_engine.deid.records import DOMAIN_NAMES, DomainName

#: A DICOM modality code (CT, MR, XA, DX, US, …).
_MODALITY = re.compile(r"^[A-Z]{2,3}$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowIn(_In):
    """Days relative to each person's index date, inclusive; null = open at that end."""

    start: int | None = Field(default=-365, ge=-36_500, le=36_500)
    end: int | None = Field(default=365, ge=-36_500, le=36_500)

    @model_validator(mode="after")
    def _ordered(self) -> WindowIn:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError("the window's start must not be after its end")
        return self


class RequestFields(_In):
    purpose: str = Field(
        min_length=10, max_length=4000, description="What the data is for (read by the review committee)."
    )
    organisation: str = Field(min_length=2, max_length=200, description="The requester's organisation.")
    domains: list[DomainName] = Field(
        default_factory=list, max_length=len(DOMAIN_NAMES), description="Records domains to release."
    )
    images: bool = Field(default=False, description="Release the cohort's images (de-identified copies).")
    modalities: list[str] = Field(
        default_factory=list, max_length=20, description="Only these modalities (empty: the cohort's own)."
    )
    window: WindowIn = Field(default_factory=WindowIn)

    @field_validator("purpose", "organisation")
    @classmethod
    def _stripped(cls, v: str) -> str:
        v = v.strip()
        if len(v) < 2:
            raise ValueError("must not be blank")
        return v

    @field_validator("modalities")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        out = [m.strip().upper() for m in v]
        if any(not _MODALITY.match(m) for m in out):
            raise ValueError("modalities are DICOM codes of 2-3 letters, e.g. CT, MR, XA")
        return sorted(set(out))

    @field_validator("domains")
    @classmethod
    def _unique(cls, v: list[DomainName]) -> list[DomainName]:
        return [d for d in DOMAIN_NAMES if d in v]

    @model_validator(mode="after")
    def _something(self) -> RequestFields:
        if not self.domains and not self.images:
            raise ValueError("ask for at least one records domain or for images")
        if self.modalities and not self.images:
            raise ValueError("modalities narrow the images: set images to true, or leave modalities out")
        return self


class RequestIn(RequestFields):
    cohort_id: str = Field(min_length=1, max_length=64, description="A stored cohort run of this key.")


class ReviewIn(_In):
    decision: Literal["approve", "reject", "request_changes"]
    comment: str = Field(max_length=MAX_COMMENT, description="Why (required; the requester reads it).")


class ResubmitIn(_In):
    comment: str = Field(max_length=MAX_COMMENT, description="What changed (required).")
    changes: RequestFields | None = Field(default=None, description="The request as changed (optional).")


class ReviewOut(BaseModel):
    round: int
    reviewer: str = Field(description="The reviewing key's id.")
    decision: str
    comment: str
    at: str


class PackageOut(BaseModel):
    status: Literal["none", "building", "ready", "failed", "expired", "consumed"]
    progress: float = Field(ge=0, le=1)
    message: str = ""
    job_id: str | None = None
    bytes: int | None = None
    sha256: str | None = Field(default=None, description="SHA-256 of the whole zip.")
    expires_at: str | None = None
    downloads: int = 0
    downloads_left: int | None = Field(default=None, description="None: any number until it expires.")
    download: str | None = Field(default=None, description="Where the export client fetches it.")
    counts: dict | None = Field(default=None, description="Persons, rows per domain, image series and files.")


class RequestOut(BaseModel):
    request_id: str
    cohort_id: str
    requester: str = Field(description="The requesting key's id.")
    status: RequestState
    round: int
    purpose: str | None = Field(default=None, description="Shown to the requester and the committee only.")
    organisation: str | None = Field(default=None, description="Shown to the requester and the committee.")
    domains: list[str]
    images: bool
    modalities: list[str]
    window: WindowIn
    created_at: str
    updated_at: str
    decided_at: str | None
    quorum: int
    approvals: int = Field(description="Distinct stewards who approved in the current round.")
    reviews: list[ReviewOut] = Field(default_factory=list)
    package: PackageOut
    actions: list[str] = Field(description="What this key may do with the request now.")
