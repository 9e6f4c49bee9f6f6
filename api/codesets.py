"""Saved, reusable concept sets (a spec names one with ``concepts.codeset``), and the vocabulary
look-up that checks concept ids against the mart — for code sets and for overrides alike.

A code set stores ids, not terms, so every id must be one the served mart knows: an id that is not
in its vocabulary is a ``422 unknown_concept`` when the set is saved, not an empty cohort later.
Researchers change only the sets they made; stewards and admins any.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

import duckdb

from cohort_engine.api.auth import Principal
from cohort_engine.api.errors import ApiError
from cohort_engine.api.mart_errors import mart_errors
from cohort_engine.api.pool import MartPool
from cohort_engine.api.schemas import CodesetIn, CodesetOut, CodesetUpdate
from cohort_engine.api.state import CodesetRecord, StateStore, codeset_name

NAME_MAX = 64


def _name_char(ch: str, inner: bool) -> bool:
    """Letters, digits, underscore and combining marks (Hangul jamo, Devanagari vowel signs…); inside
    a name also spaces, dots and hyphens."""
    return ch.isalnum() or ch == "_" or unicodedata.category(ch).startswith("M") or (inner and ch in " .-")


def checked_name(name: str) -> str:
    """The stored form of ``name``, checked *before* anything is stored (``422 invalid_name``)."""
    norm = codeset_name(name)
    ok = 1 <= len(norm) <= NAME_MAX and _name_char(norm[0], False) and not norm[0].isspace()
    if not ok or not all(_name_char(ch, True) for ch in norm):
        raise ApiError(
            422,
            "invalid_name",
            f"A code set name is 1–{NAME_MAX} letters, digits, underscores, spaces, dots or hyphens, "
            "starting with a letter, digit or underscore.",
        )
    return norm


def known_concepts(con: duckdb.DuckDBPyConnection, ids: list[int]) -> dict[int, str]:
    """``{id: "name (vocabulary code)"}`` of those ``ids`` that the mart's vocabulary has."""
    if not ids:
        return {}
    rows = con.execute(
        "SELECT concept_id, concept_name, vocabulary_id, concept_code FROM concept "
        "WHERE concept_id IN (SELECT unnest(?::BIGINT[]))",
        [sorted(set(ids))],
    ).fetchall()
    return {int(r[0]): f"{r[1]} ({r[2]} {r[3]})" for r in rows}


def check_known(ids: list[int], known: Mapping[int, str]) -> None:
    """``422 unknown_concept`` naming (up to 20 of) the ids the vocabulary does not have."""
    unknown = sorted(set(ids) - set(known))
    if unknown:
        raise ApiError(
            422,
            "unknown_concept",
            f"Concept id(s) {', '.join(map(str, unknown[:20]))} are not in this mart's vocabulary.",
        )


class CodesetService:
    def __init__(self, state: StateStore, pool: MartPool) -> None:
        self.state = state
        self.pool = pool

    @mart_errors
    def labels(self, ids: list[int]) -> dict[int, str]:
        with self.pool.connection() as con:
            return known_concepts(con, ids)

    @staticmethod
    def out(rec: CodesetRecord, labels: Mapping[int, str] | None = None) -> CodesetOut:
        labels = labels or {}
        return CodesetOut(
            name=rec.name,
            description=rec.description,
            domain=rec.domain,
            concept_ids=rec.concept_ids,
            concepts=[labels[i] for i in rec.concept_ids if i in labels],
            created_by=rec.created_by,
            created_at=rec.created_at,
            updated_at=rec.updated_at,
            version=rec.version,
        )

    def list_all(self) -> list[CodesetOut]:
        recs = self.state.list_codesets()
        labels = self.labels([i for r in recs for i in r.concept_ids]) if recs else {}
        return [self.out(r, labels) for r in recs]

    def get(self, name: str) -> CodesetOut:
        rec = self.state.get_codeset(name)
        if rec is None:
            raise ApiError(404, "not_found", "No code set with this name.")
        return self.out(rec, self.labels(rec.concept_ids))

    def _checked_labels(self, ids: list[int]) -> dict[int, str]:
        """Labels of ``ids``, all of which must be in the vocabulary (their range is the schema's)."""
        labels = self.labels(ids)
        check_known(ids, labels)
        return labels

    def create(self, body: CodesetIn, p: Principal) -> CodesetOut:
        name = checked_name(body.name)
        labels = self._checked_labels(body.concept_ids)
        rec = self.state.create_codeset(
            name,
            body.description,
            body.domain.value if body.domain else None,
            body.concept_ids,
            True,
            p.key_id,
        )
        if rec is None:
            raise ApiError(409, "conflict", f"A code set named “{name}” exists; update it with PUT.")
        return self.out(rec, labels)

    def _editable(self, name: str, p: Principal) -> CodesetRecord:
        rec = self.state.get_codeset(name)
        if rec is None:
            raise ApiError(404, "not_found", "No code set with this name.")
        if p.role == "researcher" and rec.created_by != p.key_id:
            raise ApiError(
                403, "forbidden", "Researchers change only the code sets they created; ask a steward."
            )
        return rec

    def update(self, name: str, body: CodesetUpdate, p: Principal) -> CodesetOut:
        self._editable(name, p)
        labels = self._checked_labels(body.concept_ids)
        rec = self.state.update_codeset(
            name, body.description, body.domain.value if body.domain else None, body.concept_ids, True
        )
        if rec is None:
            raise ApiError(404, "not_found", "No code set with this name.")
        return self.out(rec, labels)

    def delete(self, name: str, p: Principal) -> None:
        self._editable(name, p)
        self.state.delete_codeset(name)
