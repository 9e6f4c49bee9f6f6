"""A researcher's own patient lists: upload, map to persons, store, and use as a rule of a spec.

The file is read by :mod:`cohort_engine.api.upload_files`; this module maps its identifiers to the
mart's persons and keeps the list in the state file under (owner key, name), in one transaction, so a
list is stored whole or not at all.

Identifiers are either hospital MRNs (the mart's ``person.person_source_value``, compared after
trimming spaces) or pseudonyms of an earlier release of the owner's (``P-…`` of ``deid.policy.pseudonym``,
keyed by that release's cohort): a pseudonym is mapped back by recomputing it for the mart's persons,
never from a stored reverse table, and only for a release the owner's key asked for and got approved.

What the owner sees is how many rows matched a person and how many did not, each hidden below k
(``api.suppression``) — and both hidden when either is, since the two add up to the rows the owner
sent. Which rows matched never leaves the server: not in a response, the audit log or an error.

A spec names a list (``CohortSpec.lists``); :class:`ListAwareCohortService` loads the owner's lists
around every run and re-run of such a spec (``sql_guard.uploads.session_uploads``), so the runner puts
their rows on the run's cursors. A re-run (charts, Table 1, review, the export job, a release package)
uses the lists of the run's owner (the background jobs through :func:`upload_scope`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import date
from typing import IO, Any, Literal

import duckdb
import pyarrow as pa

from cohort_engine.api.auth import Principal
from cohort_engine.api.errors import ApiError
from cohort_engine.api.mart_errors import mart_errors
from cohort_engine.api.pool import MartPool
from cohort_engine.api.schemas import UploadOut
from cohort_engine.api.service import CohortService
from cohort_engine.api.state import CohortRecord, StateStore, UploadRecord
from cohort_engine.api.suppression import Cell, exact, hidden_with_row, small
from cohort_engine.api.upload_files import Columns, ParsedList, UploadFileError, read_list
from cohort_engine.deid.policy import ReleasePolicy, pseudonym
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.uploads import UploadRows, session_uploads

IdKind = Literal["mrn", "pseudonym"]
NAME_MAX = 64
_NAME_RE = re.compile(r"^[\w][\w .\-]*$")


def checked_list_name(name: str) -> str:
    """The stored form of a list name (NFC, trimmed), checked before anything is read or stored."""
    norm = unicodedata.normalize("NFC", name).strip()
    if not (1 <= len(norm) <= NAME_MAX and _NAME_RE.match(norm)):
        raise ApiError(
            422,
            "invalid_name",
            f"A list name is 1–{NAME_MAX} letters, digits, underscores, spaces, dots or hyphens, starting "
            "with a letter, digit or underscore (e.g. echo-study).",
        )
    return norm


def shown_counts(matched: int, unmatched: int, k: int) -> tuple[Cell, Cell]:
    """Matched and unmatched rows as shown: a count of 1…k−1 is ``<k``, and then the other is hidden
    too (the owner knows their total, so one exact count would give the other away)."""
    low_m, low_u = 0 < matched < k, 0 < unmatched < k
    if not (low_m or low_u):
        return exact(matched), exact(unmatched)
    return (small(k) if low_m else hidden_with_row()), (small(k) if low_u else hidden_with_row())


def _mrn_persons(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> dict[int, int]:
    """``{row index: person_id}`` of the identifiers that are a person's MRN (engine-built SQL over an
    Arrow table registered on the request's own cursor; the identifiers are not written into SQL)."""
    cur = con.cursor()
    try:
        cur.register("upload_ids", pa.table({"i": pa.array(range(len(ids)), pa.int64()), "mrn": ids}))
        rows = cur.execute(
            "SELECT u.i, p.person_id FROM upload_ids AS u JOIN person AS p "
            "ON TRIM(CAST(p.person_source_value AS VARCHAR)) = u.mrn"
        ).fetchall()
    finally:
        cur.close()
    return {int(i): int(pid) for i, pid in rows}


def _pseudonym_persons(
    con: duckdb.DuckDBPyConnection, ids: Sequence[str], policy: ReleasePolicy
) -> dict[int, int]:
    """``{row index: person_id}`` by recomputing the release's pseudonym of every person of the mart
    and keeping the ones uploaded (no reverse table is kept)."""
    wanted = {ident: i for i, ident in enumerate(ids)}
    out: dict[int, int] = {}
    cur = con.cursor()
    try:
        cur.execute("SELECT person_id FROM person")
        while batch := cur.fetchmany(50_000):
            for (pid,) in batch:
                i = wanted.get(pseudonym(policy, str(pid)))
                if i is not None:
                    out[i] = int(pid)
    finally:
        cur.close()
    return out


def mapped_persons(parsed: ParsedList, found: dict[int, int]) -> list[tuple[int, float | None, str | None]]:
    """The stored rows (person, value, ISO date) of the matched identifiers; two rows naming one person
    are refused (the list would hold two values for them)."""
    first: dict[int, int] = {}
    out: list[tuple[int, float | None, str | None]] = []
    for i, pid in sorted(found.items()):
        if pid in first:
            raise UploadFileError(
                "duplicate_person",
                f"Rows {parsed.row_numbers[first[pid]]} and {parsed.row_numbers[i]} name the same patient "
                "(two identifiers of one person); keep one row.",
            )
        first[pid] = i
        value = parsed.values[i] if parsed.values else None
        day = parsed.dates[i] if parsed.dates else None
        out.append((pid, value, day.isoformat() if day else None))
    return out


def _taken(name: str) -> str:
    return f"You have a list named “{name}”; delete it or pick another name."


def store_list(
    state: StateStore,
    con: duckdb.DuckDBPyConnection,
    *,
    key_id: str,
    name: str,
    stream: IO[bytes],
    filename: str,
    columns: Columns,
    policy: ReleasePolicy | None = None,
    sheet: str | None = None,
    encoding: str = "utf-8",
) -> UploadRecord:
    """Read, map (MRNs, or the pseudonyms of ``policy``'s release) and store one list, whole or not at
    all; every problem is an :class:`ApiError` with its code. Shared by the API and ``cohort upload``."""
    name = checked_list_name(name)
    try:
        parsed = read_list(stream, filename, columns, sheet=sheet, encoding=encoding)
        found = _pseudonym_persons(con, parsed.ids, policy) if policy else _mrn_persons(con, parsed.ids)
        persons = mapped_persons(parsed, found)
    except UploadFileError as e:
        raise ApiError(e.status, e.code, e.message) from None
    rec = state.add_upload(
        key_id=key_id,
        name=name,
        id_kind="pseudonym" if policy else "mrn",
        has_value=columns.value_column is not None,
        has_date=columns.date_column is not None,
        rows_total=len(parsed.ids),
        persons=persons,
    )
    if rec is None:  # the name was taken meanwhile
        raise ApiError(409, "name_taken", _taken(name))
    return rec


class UploadService:
    def __init__(self, state: StateStore, pool: MartPool, service: CohortService) -> None:
        self.state = state
        self.pool = pool
        self.service = service

    def out(self, rec: UploadRecord) -> UploadOut:
        matched, unmatched = shown_counts(rec.matched, rec.rows_total - rec.matched, self.service.k)
        return UploadOut(
            name=rec.name,
            id_kind="pseudonym" if rec.id_kind == "pseudonym" else "mrn",
            rows=rec.rows_total,
            matched=matched,
            unmatched=unmatched,
            has_value=rec.has_value,
            has_date=rec.has_date,
            created_at=rec.created_at,
        )

    def _release_policy(self, release: str | None, p: Principal) -> ReleasePolicy:
        """The policy of the owner's own approved release whose pseudonyms the file holds."""
        rec = self.state.get_cohort(release) if release and len(release) <= 64 else None
        if rec is None or rec.key_id != p.key_id or rec.release_status != "approved":
            raise ApiError(
                404,
                "unknown_release",
                "Pseudonyms are mapped back only for an approved release of one of your own cohorts; give "
                "its cohort id as release (GET /v1/cohorts lists them).",
            )
        return self.service.release_policy(rec.cohort_id)

    @mart_errors
    def upload(
        self,
        p: Principal,
        *,
        name: str,
        id_kind: IdKind = "mrn",
        release: str | None = None,
        **kwargs: Any,
    ) -> UploadOut:
        name = checked_list_name(name)
        if self.state.get_upload(p.key_id, name) is not None:
            raise ApiError(409, "name_taken", _taken(name))
        policy = self._release_policy(release, p) if id_kind == "pseudonym" else None
        with self.pool.connection() as con:
            rec = store_list(self.state, con, key_id=p.key_id, name=name, policy=policy, **kwargs)
        return self.out(rec)

    def list_all(self, p: Principal) -> list[UploadOut]:
        return [self.out(r) for r in self.state.list_uploads(p.key_id)]

    def get(self, p: Principal, name: str) -> UploadOut:
        rec = self.state.get_upload(p.key_id, checked_list_name(name))
        if rec is None:
            raise ApiError(404, "not_found", "You have no list of this name.")
        return self.out(rec)

    def delete(self, p: Principal, name: str) -> None:
        if not self.state.delete_upload(p.key_id, checked_list_name(name)):
            raise ApiError(404, "not_found", "You have no list of this name.")


def list_rows(state: StateStore, key_id: str, names: Sequence[str]) -> list[UploadRows]:
    """The persons and own columns of ``key_id``'s lists ``names``; ``422 unknown_list`` for a name the
    key has no list of."""
    out = []
    for name in dict.fromkeys(names):
        rec = state.get_upload(key_id, name)
        if rec is None:
            raise ApiError(
                422,
                "unknown_list",
                f"The spec names the list “{name}”, which this cohort's owner has not uploaded "
                "(POST /v1/uploads; GET /v1/uploads lists yours).",
            )
        rows = state.upload_persons(rec.list_id)
        out.append(
            UploadRows(
                name=name,
                person_ids=[r[0] for r in rows],
                values=[r[1] for r in rows] if rec.has_value else (),
                dates=[date.fromisoformat(r[2]) if r[2] else None for r in rows] if rec.has_date else (),
            )
        )
    return out


def list_names(spec: CohortSpec | dict | None) -> list[str]:
    """The list names a spec (a model, or a stored run's JSON) refers to."""
    if isinstance(spec, dict):
        return [str(u.get("name")) for u in spec.get("lists") or [] if isinstance(u, dict)]
    return [u.name for u in spec.lists] if spec is not None else []


@contextmanager
def upload_scope(state: StateStore, key_id: str, names: Sequence[str]) -> Iterator[None]:
    """Run the block with ``key_id``'s lists ``names`` on every cursor of the run (nothing when none)."""
    if not names:
        yield
        return
    with session_uploads(list_rows(state, key_id, names)):
        yield


class ListAwareCohortService(CohortService):
    """:class:`CohortService` whose runs and re-runs see their owner's uploaded lists."""

    def run(self, spec: CohortSpec, overrides: Any, p: Principal, *args: Any, **kwargs: Any) -> Any:
        names = [f.concepts.codeset for f in [spec.index, *spec.criteria] if f.concepts.codeset]
        used = {n: rec.version for n in dict.fromkeys(names) if (rec := self.state.get_codeset(n))}
        with upload_scope(self.state, p.key_id, list_names(spec)):
            result, audit = super().run(spec, overrides, p, *args, **kwargs)
        if used and result.cohort_id:  # the versions of the saved code sets this run read
            self.state.record_cohort_codesets(result.cohort_id, used)
        return result, audit

    def _scope(self, *recs: CohortRecord) -> Any:
        """The lists of the runs' owner (runs of two owners that name lists cannot be read together)."""
        named = [r for r in recs if list_names(r.spec)]
        if not named:
            return nullcontext()
        if len({r.key_id for r in recs}) > 1:
            raise ApiError(
                409, "lists_of_two_owners", "A cohort built on one owner's uploaded lists is read alone."
            )
        return upload_scope(self.state, named[0].key_id, [n for r in named for n in list_names(r.spec)])

    # Re-runs of a stored run (review, charts, Table 1, manifest pages): its owner's lists. Arguments pass
    # through as they are, so these wrappers follow the base class's signatures.

    def request_release(self, rec: CohortRecord, *args: Any, **kwargs: Any) -> Any:
        with self._scope(rec):
            return super().request_release(rec, *args, **kwargs)

    def approve(self, rec: CohortRecord, *args: Any, **kwargs: Any) -> Any:
        with self._scope(rec):
            return super().approve(rec, *args, **kwargs)

    def release_overlaps(self, rec: CohortRecord, *args: Any, **kwargs: Any) -> Any:
        with self._scope(rec):
            return super().release_overlaps(rec, *args, **kwargs)

    def stats(self, rec: CohortRecord, *args: Any, **kwargs: Any) -> Any:
        with self._scope(rec):
            return super().stats(rec, *args, **kwargs)

    def table1(self, recs: list[CohortRecord], *args: Any, **kwargs: Any) -> Any:
        with self._scope(*recs):
            return super().table1(recs, *args, **kwargs)

    def manifest_page(self, rec: CohortRecord, *args: Any, **kwargs: Any) -> Any:
        with self._scope(rec):
            return super().manifest_page(rec, *args, **kwargs)
