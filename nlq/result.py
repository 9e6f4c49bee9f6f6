"""What a parser returns: a spec, or a precise reason it could not produce one."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from cohort_engine.spec import CohortSpec

Status = Literal["ok", "clarify", "refused"]


class Clarification(BaseModel):
    """One thing the parser could not settle, with the readings the user can pick from."""

    question: str
    span: str | None = None
    choices: list[str] = Field(default_factory=list)


class ParseResult(BaseModel):
    status: Status
    language: Literal["en", "ko"] = "en"
    spec: CohortSpec | None = None
    message: str = ""
    clarifications: list[Clarification] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="Interpretation choices made, in words.")
    parser: str = "rule"
