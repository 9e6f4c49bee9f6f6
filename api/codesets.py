"""Saved, reusable concept sets (a spec names one with ``concepts.codeset``), and the vocabulary
look-up that checks concept ids against the mart — for code sets and for overrides alike.

A code set stores ids, not terms, so every id must be one the served mart knows: an id that is not
in its vocabulary is a ``422 unknown_concept`` when the set is saved, not an empty cohort later.
Researchers change only the sets they made; stewards and admins any.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import duckdb
import pyarrow as pa

from cohort_engine.api.auth import Principal
from cohort_engine.api.errors import ApiError
from cohort_engine.api.mart_errors import mart_errors
from cohort_engine.api.pool import MartPool
from cohort_engine.api.schemas import (
    CodesetImportOut,
    CodesetIn,
    CodesetOut,
    CodesetUpdate,
    CodesetVersionOut,
    UnknownCode,
)
from cohort_engine.api.state import CodesetRecord, StateStore, codeset_name
from cohort_engine.api.upload_files import UploadFileError, cell_text, column, header, read_rows

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


# -- import of code lists (POST /v1/codesets/import) and versions -----------------------------------

#: How a vocabulary may be written in a file → the OMOP ``vocabulary_id``.
VOCABULARIES = {
    "ICD10CM": "ICD10CM",
    "ICD10": "ICD10CM",
    "KCD7": "KCD7",
    "KCD": "KCD7",
    "SNOMED": "SNOMED",
    "SNOMEDCT": "SNOMED",
    "LOINC": "LOINC",
    "RXNORM": "RxNorm",
    "ATC": "ATC",
    "EDI": "EDI",
}
#: Vocabularies whose codes carry a dot that files often leave out ("I219" for "I21.9").
_DOTTED = frozenset({"ICD10CM", "KCD7"})
#: Unknown rows listed in a report (the total is always given).
MAX_UNKNOWN_LISTED = 1000
MAX_CODE_ROWS = 20_000


def vocabulary_id(text: str) -> str | None:
    """The OMOP vocabulary of a file's vocabulary cell ("ICD-10-CM", "snomed ct", "KCD-7" …), or None."""
    return VOCABULARIES.get(re.sub(r"[\s\-_.]", "", text).upper())


@dataclass(frozen=True)
class CodeRow:
    row: int
    vocabulary: str
    code: str


def read_code_rows(
    rows: Iterator[tuple[int, list[Any]]], code_column: str, vocabulary_column: str
) -> list[CodeRow]:
    """The (vocabulary, code) rows of an import file; raises :class:`UploadFileError` with the row."""
    names = header(rows)
    code_at = column(names, code_column, "code")
    vocab_at = column(names, vocabulary_column, "vocabulary")
    out: list[CodeRow] = []
    for n, cells in rows:
        texts = [cell_text(c) for c in cells]
        if not any(texts):
            continue
        if len(out) >= MAX_CODE_ROWS:
            raise UploadFileError(
                "too_many_rows", f"More than {MAX_CODE_ROWS:,} codes (row {n}); split the file."
            )
        code = texts[code_at] if code_at < len(texts) else ""
        vocab = texts[vocab_at] if vocab_at < len(texts) else ""
        if not code or not vocab:
            raise UploadFileError("empty_code", f"Row {n} has no code or no vocabulary.")
        if len(code) > 64 or len(vocab) > 64:
            raise UploadFileError("bad_code", f"Row {n}: a code or vocabulary is longer than 64 characters.")
        out.append(CodeRow(n, vocab, code))
    if not out:
        raise UploadFileError("no_rows", "The file has a header but no codes.")
    return out


def resolve_codes(
    con: duckdb.DuckDBPyConnection, rows: Sequence[CodeRow]
) -> tuple[dict[int, int], dict[int, str], dict[int, str]]:
    """``({row: concept_id}, {row: reason not resolved}, {concept_id: vocabulary_id})`` through the
    mart's ``concept`` table (a dotless ICD-10-CM / KCD-7 code matches its dotted form)."""
    present = {str(r[0]) for r in con.execute("SELECT DISTINCT vocabulary_id FROM concept").fetchall()}
    reasons: dict[int, str] = {}
    wanted: list[tuple[int, str, str]] = []
    for r in rows:
        vid = vocabulary_id(r.vocabulary)
        if vid is None:
            reasons[r.row] = "unknown_vocabulary"
        elif vid not in present:
            reasons[r.row] = "not_in_mart"
        else:
            key = r.code.replace(".", "").upper() if vid in _DOTTED else r.code
            wanted.append((r.row, vid, key))
    found: dict[int, int] = {}
    vocab_of: dict[int, str] = {}
    if wanted:
        cur = con.cursor()
        try:
            cur.register(
                "import_codes",
                pa.table(
                    {
                        "r": pa.array([w[0] for w in wanted], pa.int64()),
                        "v": [w[1] for w in wanted],
                        "c": [w[2] for w in wanted],
                    }
                ),
            )
            hits = cur.execute(
                "SELECT i.r, MIN(c.concept_id), MIN(c.vocabulary_id) FROM import_codes AS i "
                "JOIN concept AS c ON c.vocabulary_id = i.v AND (c.concept_code = i.c "
                "OR (i.v IN ('ICD10CM', 'KCD7') AND UPPER(REPLACE(c.concept_code, '.', '')) = i.c)) "
                "GROUP BY i.r"
            ).fetchall()
        finally:
            cur.close()
        for r, cid, vid in hits:
            found[int(r)] = int(cid)
            vocab_of[int(cid)] = str(vid)
    for row, _, _ in wanted:
        if row not in found:
            reasons[row] = "not_a_concept"
    return found, reasons, vocab_of


def import_codeset(
    state: StateStore,
    con: duckdb.DuckDBPyConnection,
    *,
    name: str,
    stream: IO[bytes],
    filename: str,
    created_by: str,
    may_change: Callable[[CodesetRecord], object] = lambda rec: None,
    description: str = "",
    domain: str | None = None,
    code_column: str = "code",
    vocabulary_column: str = "vocabulary",
    encoding: str = "utf-8",
) -> CodesetImportOut:
    """Read a code list, resolve it on ``con``'s mart and save it as ``name`` (a new version when the
    set exists and ``may_change`` lets it pass). Nothing is saved when no code resolves."""
    name = checked_name(name)
    existing = state.get_codeset(name)
    if existing is not None:
        may_change(existing)
    try:
        rows = read_code_rows(read_rows(stream, filename, encoding=encoding), code_column, vocabulary_column)
    except UploadFileError as e:
        raise ApiError(e.status, e.code, e.message) from None
    found, reasons, vocab_of = resolve_codes(con, rows)
    ids = sorted(set(found.values()))
    if not ids:
        raise ApiError(
            422,
            "no_known_codes",
            f"None of the {len(rows)} codes is a concept of this mart's vocabulary (e.g. row "
            f"{rows[0].row}: {reasons.get(rows[0].row, 'not_a_concept')}); check the vocabulary names "
            f"({', '.join(sorted(set(VOCABULARIES.values())))}) and the codes.",
        )
    if existing is None:
        rec = state.create_codeset(name, description, domain, ids, True, created_by)
    else:
        rec = state.update_codeset(
            name, description or existing.description, domain or existing.domain, ids, True
        )
    if rec is None:
        raise ApiError(409, "conflict", f"The code set “{name}” changed meanwhile; import again.")
    by_vocab: dict[str, int] = {}
    for cid in ids:
        by_vocab[vocab_of[cid]] = by_vocab.get(vocab_of[cid], 0) + 1
    unknown = [
        UnknownCode(row=r.row, vocabulary=r.vocabulary, code=r.code, reason=reasons[r.row])
        for r in rows
        if r.row in reasons
    ]
    return CodesetImportOut(
        codeset=CodesetService.out(rec, known_concepts(con, ids)),
        rows=len(rows),
        resolved=len(found),
        unknown=unknown[:MAX_UNKNOWN_LISTED],
        unknown_total=len(unknown),
        by_vocabulary=dict(sorted(by_vocab.items())),
    )


class CodesetImports:
    """Import of a code list into a code set (a new set, or a new version of one the key may change)."""

    def __init__(self, codesets: CodesetService) -> None:
        self.codesets = codesets

    @mart_errors
    def import_file(self, p: Principal, **kwargs: Any) -> CodesetImportOut:
        with self.codesets.pool.connection() as con:
            return import_codeset(
                self.codesets.state,
                con,
                created_by=p.key_id,
                may_change=lambda rec: self.codesets._editable(rec.name, p),
                **kwargs,
            )

    def versions(self, name: str) -> list[CodesetVersionOut]:
        """Every kept version of a code set (the current one included), oldest first."""
        name = codeset_name(name)
        kept = {v.version: v for v in self.codesets.state.codeset_versions(name)}
        cur = self.codesets.state.get_codeset(name)
        out = [
            CodesetVersionOut(
                name=v.name,
                version=v.version,
                description=v.description,
                domain=v.domain,
                concept_ids=v.concept_ids,
                created_by=v.created_by,
                created_at=v.created_at,
            )
            for v in kept.values()
        ]
        if cur is not None and cur.version not in kept:  # a set saved before versions were kept
            out.append(
                CodesetVersionOut(
                    name=cur.name,
                    version=cur.version,
                    description=cur.description,
                    domain=cur.domain,
                    concept_ids=cur.concept_ids,
                    created_by=cur.created_by,
                    created_at=cur.updated_at,
                )
            )
        if not out:
            raise ApiError(404, "not_found", "No code set with this name.")
        return sorted(out, key=lambda v: v.version)

    def version(self, name: str, version: int) -> CodesetVersionOut:
        for v in self.versions(name):
            if v.version == version:
                return v
        raise ApiError(404, "not_found", "This code set has no such version.")
