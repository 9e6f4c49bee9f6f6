"""The gold question set: loading, validation, the dev/test split rule and the few-shot pool.

Why a separate module: the runner, the tests and (later) the LLM prompt builder all read the same
records, and the rules that keep the measurement honest live in one place:

* every answerable record carries hand-written SQL (``gold_sql``) that returns one column,
  ``person_id``; refusal/clarification records carry none;
* the split is a pure function of the record's ``intent`` (:func:`split_for`), so paraphrases of one
  intent never straddle dev and test, and nobody can move a hard question by editing a field;
* LLM few-shot examples may only come from dev (:func:`few_shot_pool`);
* questions written independently of the parser and its corpus (``source: "independent"``) split by a
  rule of their own into ``open`` (read freely; fixes are driven from it) and ``blind`` (read only as
  scores and failure classes by whoever changes the parser). Blind records ship gzip-compressed
  (``*.jsonl.gz``) so that no grep over the repository shows them by accident, and every report
  redacts their sentences (:func:`is_blind`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

GOLD_DIR = Path(__file__).parent / "gold"
#: Changing the salt reshuffles dev/test: never do it once figures have been published against a split.
SPLIT_SALT = "cohort-eval-v1"
#: The independent questions' own split salt (open/blind); the same rule: never change it once used.
INDEPENDENT_SALT = "cohort-eval-independent-v1"

Split = Literal["dev", "test", "open", "blind"]
SPLITS: tuple[Split, ...] = ("dev", "test", "open", "blind")
Source = Literal["corpus", "independent"]
#: demo = `cohort demo-data --seed 42` (the parser's authors know it); demo7 = seed 7, nobody tuned on it.
Mart = Literal["demo", "eunomia", "demo7"]
ExpectedStatus = Literal["ok", "refused", "clarify"]


class GoldError(ValueError):
    """A gold file or record is malformed (the message names the file and line)."""


class GoldRecord(BaseModel):
    """One question with what the engine must answer (a person set) or do (refuse, ask back)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    intent: str = Field(min_length=1, description="Paraphrases of one request share an intent (and a split).")
    question: str = Field(min_length=1)
    language: Literal["en", "ko"]
    split: Split
    source: Source = Field(
        default="corpus",
        description="corpus: written with the parser (dev/test); independent: by writers who never saw it.",
    )
    mart: Mart
    constructs: list[str] = Field(default_factory=list)
    expected_status: ExpectedStatus
    gold_sql: str | None = Field(
        default=None, description="Hand-written SQL returning one column, person_id."
    )
    gold_spec: dict[str, Any] | None = Field(
        default=None, description="Partial cohort spec (structure, no concepts) for spec-field accuracy."
    )
    today: date | None = Field(default=None, description="Reference date for relative dates ('last year').")

    @model_validator(mode="after")
    def _sql_matches_status(self) -> GoldRecord:
        if self.expected_status == "ok" and not (self.gold_sql or "").strip():
            raise ValueError("an answerable record (expected_status 'ok') needs gold_sql")
        if self.expected_status != "ok" and self.gold_sql is not None:
            raise ValueError(f"a record that must be {self.expected_status} has no gold_sql")
        expected = split_for(self.intent, self.source)
        if self.split != expected:
            raise ValueError(
                f"split {self.split!r} does not follow the split rule for intent {self.intent!r} "
                f"(expected {expected!r}; see evals/README.md)"
            )
        return self

    @property
    def answerable(self) -> bool:
        return self.expected_status == "ok"

    def tags(self) -> list[str]:
        """Constructs plus the language, which the report breaks down like any construct."""
        return [*self.constructs, "english" if self.language == "en" else "korean"]


def split_for(intent: str, source: Source = "corpus") -> Split:
    """From a hash of the intent: stable, roughly 50/50, paraphrases kept together.

    Corpus questions split into dev/test, independent ones into open/blind (a salt of their own).
    """
    salt, halves = (
        (SPLIT_SALT, ("dev", "test")) if source == "corpus" else (INDEPENDENT_SALT, ("open", "blind"))
    )
    first = hashlib.sha256(f"{salt}:{intent}".encode()).digest()[0] % 2 == 0
    return halves[0] if first else halves[1]  # type: ignore[return-value]


def is_blind(split: str) -> bool:
    """Whether outcomes of this split may be shown only as scores and failure classes."""
    return split == "blind"


def _read_lines(path: Path) -> list[str]:
    raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return raw.decode("utf-8").splitlines()


def load_gold(
    directory: Path = GOLD_DIR,
    *,
    split: Split | None = None,
    marts: Iterable[str] | None = None,
) -> list[GoldRecord]:
    """Every record of every ``*.jsonl`` / ``*.jsonl.gz`` file in ``directory`` (sorted by file name),
    optionally filtered.

    Raises:
        GoldError: a line is not JSON or not a valid record, or two records share an id.
    """
    files = sorted([*Path(directory).glob("*.jsonl"), *Path(directory).glob("*.jsonl.gz")])
    if not files:
        raise GoldError(f"no gold files (*.jsonl) in {directory}")
    records: list[GoldRecord] = []
    seen: dict[str, str] = {}
    for path in files:
        for lineno, line in enumerate(_read_lines(path), start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                rec = GoldRecord.model_validate(json.loads(line))
            except json.JSONDecodeError as e:
                raise GoldError(f"{where}: not JSON ({e.msg})") from None
            except ValidationError as e:
                raise GoldError(f"{where}: {e.errors()[0]['msg']} at {e.errors()[0]['loc']}") from None
            if rec.id in seen:
                raise GoldError(f"{where}: id {rec.id!r} already used at {seen[rec.id]}")
            seen[rec.id] = where
            records.append(rec)
    wanted = set(marts) if marts is not None else None
    return [
        r for r in records if (split is None or r.split == split) and (wanted is None or r.mart in wanted)
    ]


def few_shot_pool(records: Sequence[GoldRecord]) -> list[GoldRecord]:
    """The only records an LLM prompt may show as examples: *dev* records (answers and refusals).

    Test questions must stay unseen, or the test split stops measuring generalisation.
    """
    return [r for r in records if r.split == "dev"]
