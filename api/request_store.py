"""Release requests and their reviews in the state file (two tables this module creates and owns).

Why here and not in ``api/state.py``: the tables belong to one feature, and the state file is shared
by every feature; this module adds its own tables (``CREATE TABLE IF NOT EXISTS``) through the store's
connection and lock, so it follows the store's transactions (``BEGIN IMMEDIATE``: two stewards who
approve at once are serialised, and the quorum is counted inside the same transaction that writes).

Free text the requester typed (purpose, organisation) and the reviewers' comments are kept: the
committee reads them. They never go to the audit log as text (keyed hashes there), nor to the export
client, nor into the release package.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from cohort_engine.api.request_flow import RequestState
from cohort_engine.api.state import StateStore, now_iso

_SCHEMA = """
CREATE TABLE IF NOT EXISTS release_requests (
  request_id TEXT PRIMARY KEY,
  cohort_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  status TEXT NOT NULL,
  round INTEGER NOT NULL DEFAULT 1,
  details TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  decided_at TEXT,
  package_status TEXT NOT NULL DEFAULT 'none',
  job_id TEXT,
  package_path TEXT,
  package_sha256 TEXT,
  package_bytes INTEGER,
  package_summary TEXT,
  expires_at TEXT,
  downloads INTEGER NOT NULL DEFAULT 0,
  deleted_at TEXT
);
CREATE TABLE IF NOT EXISTS release_reviews (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT NOT NULL,
  round INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  action TEXT NOT NULL,
  comment TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS release_reviews_request ON release_reviews (request_id, round);
"""

#: Where a request's package stands: ``none`` (not approved) → ``building`` → ``ready`` → ``expired`` or
#: ``consumed`` (downloaded as often as allowed), or ``failed``.
PACKAGE_STATES = ("none", "building", "ready", "failed", "expired", "consumed")


@dataclass(frozen=True)
class ReviewRecord:
    round: int
    key_id: str
    action: str
    comment: str
    at: str


@dataclass(frozen=True)
class RequestRecord:
    request_id: str
    cohort_id: str
    key_id: str
    status: RequestState
    round: int
    #: what was asked: purpose, organisation, domains, images, modalities, window
    details: dict[str, Any]
    created_at: str
    updated_at: str
    decided_at: str | None
    package_status: str
    job_id: str | None
    package_path: str | None
    package_sha256: str | None
    package_bytes: int | None
    package_summary: dict[str, Any] | None
    expires_at: str | None
    downloads: int
    deleted_at: str | None
    reviews: list[ReviewRecord] = field(default_factory=list)

    def approvals(self) -> frozenset[str]:
        """Distinct stewards who approved in the current round."""
        return frozenset(r.key_id for r in self.reviews if r.round == self.round and r.action == "approve")


_COLS = (
    "request_id, cohort_id, key_id, status, round, details, created_at, updated_at, decided_at, "
    "package_status, job_id, package_path, package_sha256, package_bytes, package_summary, expires_at, "
    "downloads, deleted_at"
)
_COL_NAMES = tuple(c.strip() for c in _COLS.split(","))
_UPDATABLE = frozenset(
    {
        "status",
        "round",
        "details",
        "updated_at",
        "decided_at",
        "package_status",
        "job_id",
        "package_path",
        "package_sha256",
        "package_bytes",
        "package_summary",
        "expires_at",
        "downloads",
        "deleted_at",
    }
)


class RequestStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state
        with state.transaction() as con:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    con.execute(stmt)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.state.transaction() as con:
            yield con

    @staticmethod
    def _record(con: sqlite3.Connection, row: tuple) -> RequestRecord:
        values = list(row)
        values[5] = json.loads(values[5])
        values[14] = json.loads(values[14]) if values[14] else None
        reviews = [
            ReviewRecord(*r)
            for r in con.execute(
                "SELECT round, key_id, action, comment, at FROM release_reviews WHERE request_id = ? "
                "ORDER BY seq",
                (values[0],),
            ).fetchall()
        ]
        return RequestRecord(**dict(zip(_COL_NAMES, values, strict=True)), reviews=reviews)

    def add(self, *, cohort_id: str, key_id: str, details: dict[str, Any]) -> RequestRecord:
        rid = "req_" + secrets.token_hex(8)
        ts = now_iso()
        with self.transaction() as con:
            con.execute(
                "INSERT INTO release_requests (request_id, cohort_id, key_id, status, details, created_at, "
                "updated_at) VALUES (?, ?, ?, 'submitted', ?, ?, ?)",
                (rid, cohort_id, key_id, json.dumps(details, ensure_ascii=False), ts, ts),
            )
        rec = self.get(rid)
        assert rec is not None
        return rec

    def get(self, request_id: str, con: sqlite3.Connection | None = None) -> RequestRecord | None:
        if con is not None:
            row = con.execute(f"SELECT {_COLS} FROM release_requests WHERE request_id = ?", (request_id,))
            found = row.fetchone()
            return self._record(con, found) if found else None
        with self.state._lock:
            return self.get(request_id, self.state._con)

    def select(
        self, *, key_id: str | None = None, status: str | None = None, limit: int = 200
    ) -> list[RequestRecord]:
        where, params = [], []
        if key_id is not None:
            where.append("key_id = ?")
            params.append(key_id)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        sql = f"SELECT {_COLS} FROM release_requests"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, request_id LIMIT ?"
        with self.state._lock:
            con = self.state._con
            return [self._record(con, r) for r in con.execute(sql, (*params, limit)).fetchall()]

    def update(self, con: sqlite3.Connection, request_id: str, **fields: Any) -> None:
        bad = set(fields) - _UPDATABLE
        if bad:
            raise ValueError(f"unknown request fields {sorted(bad)}")
        for name in ("details", "package_summary"):
            if name in fields and fields[name] is not None:
                fields[name] = json.dumps(fields[name], ensure_ascii=False)
        sets = ", ".join(f"{k} = ?" for k in fields)
        con.execute(
            f"UPDATE release_requests SET {sets} WHERE request_id = ?", (*fields.values(), request_id)
        )

    def set(self, request_id: str, **fields: Any) -> None:
        with self.transaction() as con:
            self.update(con, request_id, **fields)

    def add_review(
        self, con: sqlite3.Connection, request_id: str, round_: int, key_id: str, action: str, comment: str
    ) -> None:
        con.execute(
            "INSERT INTO release_reviews (request_id, round, key_id, action, comment, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (request_id, round_, key_id, action, comment, now_iso()),
        )

    def step(
        self, request_id: str, fn: Callable[[sqlite3.Connection, RequestRecord], Any]
    ) -> tuple[RequestRecord, Any]:
        """Run ``fn`` on the request inside one write transaction; returns the request after it and what
        ``fn`` returned. ``fn`` raising rolls everything back."""
        with self.transaction() as con:
            rec = self.get(request_id, con)
            if rec is None:
                raise KeyError(request_id)
            out = fn(con, rec)
            after = self.get(request_id, con)
        return cast(RequestRecord, after), out
