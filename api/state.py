"""The API's own state: API keys, saved code sets, cohort runs, jobs and the append-only audit log.

It lives in one SQLite file *next to* the mart (default ``<mart dir>/cohort_state.sqlite``), never
inside it: the mart is opened read-only and may sit on read-only storage.

Why SQLite rather than DuckDB for this file: ``cohort keys create`` must work while ``cohort serve``
is running. DuckDB allows one read-write process per file, so the CLI would be locked out; SQLite
serialises writers across processes (WAL journal, busy timeout). SQLite also has triggers, which
make the audit table append-only inside the database itself, not just by convention in this code.

Why API keys are stored as a plain SHA-256 hash: a key is ``ck_`` + 32 random bytes (256 bits from
:mod:`secrets`). Slow password hashes (bcrypt, scrypt, Argon2) exist to stop guessing of *low-entropy*
human passwords; a 256-bit random key cannot be guessed however fast the hash is, so a leaked state
file does not reveal any usable key, while each request is verified with one fast hash and an indexed
lookup. Only the hash and a short public ``key_id`` (for audit rows and revocation) are kept.

The audit log is append-only three ways: this module has no code path that updates or deletes audit
rows (:class:`AuditLog` only appends and reads); SQLite triggers abort any ``UPDATE``/``DELETE`` on
the table; and every row carries ``row_hash = sha256(prev_hash + row)`` so that an edit of the file
behind SQLite's back breaks the chain (:meth:`AuditLog.verify`).

Free text in a spec (the title, i.e. the question as typed, ``concepts.terms`` and
``concepts.name_contains``: words a person typed) is written to the audit log as keyed hashes
(HMAC-SHA-256 with the state's server secret), so the log can show that two requests matched the same
text without holding the text. The ``cohorts`` table keeps no typed word either: each run's
definition at concept level (what approval, export and charts re-run) and its owner's own view sealed
to the owner's API key (``api/sealing.py``). The file is readable only by its owner (mode 0600,
checked on every open, like the server secret and key hashes it holds).

Jobs belong to the process that runs them: each :class:`JobRecord` names its owner (process id plus a
random per-process token) and carries a heartbeat that the owner refreshes. Another server on the same
state file fails only jobs whose owner stopped beating for longer than the lease, and a job that is
``done`` or ``failed`` never changes again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import stat
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args

Role = Literal["researcher", "steward", "export_client", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
#: Where a cohort run stands in the release workflow (``none`` → ``requested`` → ``approved``).
ReleaseStatus = Literal["none", "requested", "approved"]
JobStatus = Literal["queued", "running", "done", "failed"]
STATE_FILENAME = "cohort_state.sqlite"
KEY_PREFIX = "ck_"
#: Seconds after a job's last heartbeat when another process may declare its owner dead.
JOB_LEASE_S = 60.0
#: Job states that are final: no update changes them.
FINAL_JOB_STATES = ("done", "failed")

log = logging.getLogger("cohort.state")


class StateFileError(RuntimeError):
    """The state file or its folder is unsafe (world-writable folder, another user's file)."""


class ReleaseStateError(ValueError):
    """A release workflow step that the cohort's current release state does not allow."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
  key_id TEXT PRIMARY KEY,
  key_hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('researcher', 'steward', 'export_client', 'admin')),
  name TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS codesets (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL DEFAULT '',
  domain TEXT,
  concept_ids TEXT NOT NULL,
  include_descendants INTEGER NOT NULL DEFAULT 1,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS codeset_versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  domain TEXT,
  concept_ids TEXT NOT NULL,
  include_descendants INTEGER NOT NULL DEFAULT 1,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE TRIGGER IF NOT EXISTS codesets_version_on_insert AFTER INSERT ON codesets
BEGIN
  UPDATE codesets SET version = COALESCE(
    (SELECT MAX(version) FROM codeset_versions WHERE name = NEW.name), 0) + 1 WHERE name = NEW.name;
  INSERT INTO codeset_versions (name, version, description, domain, concept_ids, include_descendants,
    created_by, created_at)
  SELECT name, version, description, domain, concept_ids, include_descendants, created_by, updated_at
  FROM codesets WHERE name = NEW.name;
END;
CREATE TRIGGER IF NOT EXISTS codesets_version_on_update
AFTER UPDATE OF description, domain, concept_ids, include_descendants ON codesets
BEGIN
  INSERT OR REPLACE INTO codeset_versions (name, version, description, domain, concept_ids,
    include_descendants, created_by, created_at)
  VALUES (NEW.name, NEW.version, NEW.description, NEW.domain, NEW.concept_ids, NEW.include_descendants,
    NEW.created_by, NEW.updated_at);
END;
CREATE TABLE IF NOT EXISTS cohort_codesets (
  cohort_id TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (cohort_id, name)
);
CREATE TABLE IF NOT EXISTS upload_lists (
  list_id TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  name TEXT NOT NULL,
  id_kind TEXT NOT NULL,
  has_value INTEGER NOT NULL DEFAULT 0,
  has_date INTEGER NOT NULL DEFAULT 0,
  rows_total INTEGER NOT NULL,
  matched INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (key_id, name)
);
CREATE TABLE IF NOT EXISTS upload_rows (
  list_id TEXT NOT NULL,
  person_id INTEGER NOT NULL,
  value REAL,
  list_date TEXT,
  PRIMARY KEY (list_id, person_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cohorts (
  cohort_id TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  key_id TEXT NOT NULL,
  status TEXT NOT NULL,
  spec TEXT,
  overrides TEXT NOT NULL DEFAULT '{}',
  codesets TEXT NOT NULL DEFAULT '{}',
  result TEXT NOT NULL,
  person_count INTEGER,
  result_hash TEXT,
  release_status TEXT NOT NULL DEFAULT 'none',
  requested_by TEXT,
  requested_at TEXT,
  approved_by TEXT,
  approved_at TEXT,
  approved_hash TEXT,
  owner_box TEXT
);
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  cohort_id TEXT,
  key_id TEXT NOT NULL,
  format TEXT,
  status TEXT NOT NULL,
  progress REAL NOT NULL DEFAULT 0,
  rows_done INTEGER NOT NULL DEFAULT 0,
  rows_total INTEGER,
  message TEXT NOT NULL DEFAULT '',
  result_path TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  level TEXT,
  owner TEXT,
  heartbeat_at REAL
);
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  key_id TEXT,
  role TEXT,
  method TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  target TEXT,
  status INTEGER NOT NULL,
  spec TEXT,
  counts TEXT,
  result_hash TEXT,
  details TEXT,
  prev_hash TEXT NOT NULL,
  row_hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""

_GENESIS = "0" * 64


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_state_path(mart: Path) -> Path:
    """Beside a DuckDB mart; in the working folder for a database URL (it has no folder of its own)."""
    from cohort_engine.schema_catalog.mart_url import mart_dialect

    if mart_dialect(mart) != "duckdb":
        return Path.cwd().resolve() / STATE_FILENAME
    return Path(mart).resolve().parent / STATE_FILENAME


def secure_state_file(path: Path) -> None:
    """Create ``path`` as 0600, or check an existing one: ours, and no access for group or others.

    Why: the file holds the server secret (keys every pseudonym and result hash) and the API key
    hashes. A folder that anyone may write lets anyone swap the file, so that is refused outright; a
    file of ours with a looser mode (made by an older version) is tightened, with a warning.
    """
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if parent.stat().st_mode & stat.S_IWOTH:
        raise StateFileError(
            f"The state folder {parent} is writable by every user; keep the state file in a folder "
            "only you can write (chmod o-w the folder, or pass another --state path)."
        )
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if st.st_uid != os.getuid():
            raise StateFileError(
                f"The state file {p} belongs to another user; the server must own it (chown it or "
                "use another --state path)."
            )
        if stat.S_IMODE(st.st_mode) & 0o077:
            log.warning("state file %s was readable by others; set to mode 0600", p)
            os.chmod(p, 0o600)


def codeset_name(name: str) -> str:
    """The stored form of a code set name: Unicode NFC, no surrounding space.

    Why: "Café" typed with a composed or a decomposed accent, or with a trailing space, is one name to
    a person; storing each spelling apart would make sets that cannot be told apart in a list.
    """
    return unicodedata.normalize("NFC", name).strip()


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    role: Role
    name: str
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True)
class CodesetRecord:
    name: str
    description: str
    domain: str | None
    concept_ids: list[int]
    include_descendants: bool
    created_by: str
    created_at: str
    updated_at: str
    version: int


@dataclass(frozen=True)
class CodesetVersion:
    """One saved state of a code set: every create, update or import makes a new one (triggers)."""

    name: str
    version: int
    description: str
    domain: str | None
    concept_ids: list[int]
    include_descendants: bool
    created_by: str
    created_at: str


@dataclass(frozen=True)
class UploadRecord:
    """A researcher's own patient list: counts only; its persons are in ``upload_rows``."""

    list_id: str
    key_id: str
    name: str
    id_kind: str
    has_value: bool
    has_date: bool
    rows_total: int
    matched: int
    created_at: str


@dataclass(frozen=True)
class CohortRecord:
    cohort_id: str
    created_at: str
    key_id: str
    status: str
    spec: dict | None
    overrides: dict[str, list[int]]
    codesets: dict[str, list[int]]
    result: dict
    person_count: int | None
    result_hash: str | None
    release_status: ReleaseStatus
    requested_by: str | None
    requested_at: str | None
    approved_by: str | None
    approved_at: str | None
    approved_hash: str | None
    #: The run in its owner's words, sealed to the owner's API key (``api/sealing.py``).
    owner_box: str | None = None


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    kind: str
    cohort_id: str | None
    key_id: str
    format: str | None
    status: JobStatus
    progress: float
    rows_done: int
    rows_total: int | None
    message: str
    result_path: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    level: str | None = None
    """Manifest level of an export job (``series`` or ``instance``)."""
    owner: str | None = None
    """``<pid>:<token>`` of the process running the job (``JobRunner.owner``)."""
    heartbeat_at: float | None = None
    """When the owner last said it is alive (seconds since the epoch)."""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    key_id: str | None
    role: str | None
    method: str
    endpoint: str
    target: str | None
    status: int
    spec: Any
    counts: Any
    result_hash: str | None
    details: Any
    prev_hash: str
    row_hash: str


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


class StateStore:
    """Thread-safe access to the state file (one SQLite connection guarded by a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        secure_state_file(self.path)
        self._lock = threading.RLock()
        self._con = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._con.executescript(_SCHEMA)
            self._migrate()
        secure_state_file(self.path)  # the -wal/-shm files SQLite has just made
        self._secret: bytes | None = None
        self.audit = AuditLog(self)

    def _migrate(self) -> None:
        """Bring a state file made by an older version up to this schema (idempotent)."""
        with self.transaction() as con:  # checked under the write lock: another process may be migrating
            job_cols = {r[1] for r in con.execute("PRAGMA table_info(jobs)").fetchall()}
            if "level" not in job_cols:  # export jobs made before manifest levels were all series-level
                con.execute("ALTER TABLE jobs ADD COLUMN level TEXT")
                con.execute("UPDATE jobs SET level = 'series' WHERE kind = 'manifest_export'")
            if "owner" not in job_cols:  # jobs made before owners: no process claims them
                con.execute("ALTER TABLE jobs ADD COLUMN owner TEXT")
                con.execute("ALTER TABLE jobs ADD COLUMN heartbeat_at REAL")
            cohort_cols = {r[1] for r in con.execute("PRAGMA table_info(cohorts)").fetchall()}
            if "owner_box" not in cohort_cols:  # runs stored before owner boxes are shown as they were kept
                con.execute("ALTER TABLE cohorts ADD COLUMN owner_box TEXT")

    def close(self) -> None:
        with self._lock:
            self._con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._con.execute(sql, params).fetchall()

    def ping(self) -> None:
        self._query("SELECT 1")

    # -- settings ---------------------------------------------------------------------------------

    def server_secret(self) -> bytes:
        """32 random bytes made once per state file: keys pseudonyms of releases and result hashes."""
        if self._secret is not None:
            return self._secret
        with self.transaction() as con:
            row = con.execute("SELECT value FROM settings WHERE name = 'server_secret'").fetchone()
            if row:
                secret = bytes(row[0])
            else:
                secret = secrets.token_bytes(32)
                con.execute("INSERT INTO settings (name, value) VALUES ('server_secret', ?)", (secret,))
        self._secret = secret
        return secret

    def text_hash(self, text: str) -> str:
        """Keyed hash of free text: equal texts match, and the text cannot be guessed without the key."""
        digest = hmac.new(self.server_secret(), text.encode("utf-8"), hashlib.sha256).hexdigest()
        return "hmac-sha256:" + digest

    # -- keys -------------------------------------------------------------------------------------

    def create_key(self, role: str, name: str = "") -> tuple[KeyRecord, str]:
        """A new key; returns its record and the plain key, which is not stored and cannot be shown again."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        plain = KEY_PREFIX + secrets.token_urlsafe(32)
        rec = KeyRecord(
            key_id="key_" + secrets.token_hex(6),
            role=cast(Role, role),  # checked against ROLES above
            name=name.strip()[:100],
            created_at=now_iso(),
        )
        with self.transaction() as con:
            con.execute(
                "INSERT INTO api_keys (key_id, key_hash, role, name, created_at) VALUES (?, ?, ?, ?, ?)",
                (rec.key_id, hash_key(plain), rec.role, rec.name, rec.created_at),
            )
        return rec, plain

    def lookup_key(self, plain: str) -> KeyRecord | None:
        if not plain.startswith(KEY_PREFIX) or len(plain) > 200:
            return None
        rows = self._query(
            "SELECT key_id, role, name, created_at, revoked_at FROM api_keys WHERE key_hash = ?",
            (hash_key(plain),),
        )
        if not rows or rows[0][4] is not None:
            return None
        return KeyRecord(*rows[0])

    def list_keys(self) -> list[KeyRecord]:
        return [
            KeyRecord(*r)
            for r in self._query(
                "SELECT key_id, role, name, created_at, revoked_at FROM api_keys ORDER BY created_at"
            )
        ]

    def revoke_key(self, key_id: str) -> bool:
        with self.transaction() as con:
            cur = con.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (now_iso(), key_id),
            )
            return cur.rowcount > 0

    # -- code sets --------------------------------------------------------------------------------

    _CODESET_COLS = (
        "name, description, domain, concept_ids, include_descendants, created_by, created_at, updated_at, "
        "version"
    )

    @staticmethod
    def _codeset(row: tuple) -> CodesetRecord:
        name, desc, domain, ids, desc_incl, by, created, updated, version = row
        return CodesetRecord(
            name, desc, domain, json.loads(ids), bool(desc_incl), by, created, updated, version
        )

    def list_codesets(self) -> list[CodesetRecord]:
        return [
            self._codeset(r) for r in self._query(f"SELECT {self._CODESET_COLS} FROM codesets ORDER BY name")
        ]

    def get_codeset(self, name: str) -> CodesetRecord | None:
        name = codeset_name(name)
        rows = self._query(f"SELECT {self._CODESET_COLS} FROM codesets WHERE name = ?", (name,))
        return self._codeset(rows[0]) if rows else None

    def codeset_map(self, names: Sequence[str]) -> dict[str, list[int]]:
        out = {}
        for n in dict.fromkeys(names):
            rec = self.get_codeset(n)
            if rec is not None:
                out[n] = rec.concept_ids
        return out

    def create_codeset(
        self,
        name: str,
        description: str,
        domain: str | None,
        concept_ids: Sequence[int],
        include_descendants: bool,
        key_id: str,
    ) -> CodesetRecord | None:
        """None when the name (in its stored form, :func:`codeset_name`) is taken."""
        name = codeset_name(name)
        ts = now_iso()
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM codesets WHERE name = ?", (name,)).fetchone():
                return None
            con.execute(
                f"INSERT INTO codesets ({self._CODESET_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (
                    name,
                    description,
                    domain,
                    json.dumps(sorted(set(concept_ids))),
                    int(include_descendants),
                    key_id,
                    ts,
                    ts,
                ),
            )
        return self.get_codeset(name)

    def update_codeset(
        self,
        name: str,
        description: str,
        domain: str | None,
        concept_ids: Sequence[int],
        include_descendants: bool,
    ) -> CodesetRecord | None:
        name = codeset_name(name)
        with self.transaction() as con:
            cur = con.execute(
                "UPDATE codesets SET description = ?, domain = ?, concept_ids = ?, include_descendants = ?, "
                "updated_at = ?, version = version + 1 WHERE name = ?",
                (
                    description,
                    domain,
                    json.dumps(sorted(set(concept_ids))),
                    int(include_descendants),
                    now_iso(),
                    name,
                ),
            )
            if cur.rowcount == 0:
                return None
        return self.get_codeset(name)

    def delete_codeset(self, name: str) -> bool:
        with self.transaction() as con:
            return con.execute("DELETE FROM codesets WHERE name = ?", (codeset_name(name),)).rowcount > 0

    # -- code set versions ------------------------------------------------------------------------

    def codeset_versions(self, name: str) -> list[CodesetVersion]:
        """Every kept version of ``name``, oldest first (versions outlive a deleted set)."""
        rows = self._query(
            "SELECT name, version, description, domain, concept_ids, include_descendants, created_by, "
            "created_at FROM codeset_versions WHERE name = ? ORDER BY version",
            (codeset_name(name),),
        )
        return [
            CodesetVersion(r[0], r[1], r[2], r[3], json.loads(r[4]), bool(r[5]), r[6], r[7]) for r in rows
        ]

    def record_cohort_codesets(self, cohort_id: str, versions: Mapping[str, int]) -> None:
        """Which version of each saved code set a run used (a set may change after the run)."""
        with self.transaction() as con:
            con.executemany(
                "INSERT OR REPLACE INTO cohort_codesets (cohort_id, name, version) VALUES (?, ?, ?)",
                [(cohort_id, n, int(v)) for n, v in versions.items()],
            )

    def cohort_codesets(self, cohort_id: str) -> dict[str, int]:
        rows = self._query(
            "SELECT name, version FROM cohort_codesets WHERE cohort_id = ? ORDER BY name", (cohort_id,)
        )
        return {str(n): int(v) for n, v in rows}

    # -- uploaded lists ---------------------------------------------------------------------------

    _UPLOAD_COLS = "list_id, key_id, name, id_kind, has_value, has_date, rows_total, matched, created_at"

    @staticmethod
    def _upload(row: tuple) -> UploadRecord:
        lid, key_id, name, kind, has_value, has_date, total, matched, created = row
        return UploadRecord(lid, key_id, name, kind, bool(has_value), bool(has_date), total, matched, created)

    def add_upload(
        self,
        *,
        key_id: str,
        name: str,
        id_kind: str,
        has_value: bool,
        has_date: bool,
        rows_total: int,
        persons: Sequence[tuple[int, float | None, str | None]],
    ) -> UploadRecord | None:
        """Store a list and its mapped persons in one transaction; None when ``key_id`` has ``name``."""
        lid = "upl_" + secrets.token_hex(8)
        with self.transaction() as con:
            if con.execute(
                "SELECT 1 FROM upload_lists WHERE key_id = ? AND name = ?", (key_id, name)
            ).fetchone():
                return None
            flags = (int(has_value), int(has_date))
            con.execute(
                f"INSERT INTO upload_lists ({self._UPLOAD_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (lid, key_id, name, id_kind, *flags, rows_total, len(persons), now_iso()),
            )
            con.executemany(
                "INSERT INTO upload_rows (list_id, person_id, value, list_date) VALUES (?, ?, ?, ?)",
                ((lid, pid, value, day) for pid, value, day in persons),
            )
        return self.get_upload(key_id, name)

    def get_upload(self, key_id: str, name: str) -> UploadRecord | None:
        rows = self._query(
            f"SELECT {self._UPLOAD_COLS} FROM upload_lists WHERE key_id = ? AND name = ?", (key_id, name)
        )
        return self._upload(rows[0]) if rows else None

    def list_uploads(self, key_id: str) -> list[UploadRecord]:
        rows = self._query(
            f"SELECT {self._UPLOAD_COLS} FROM upload_lists WHERE key_id = ? ORDER BY name", (key_id,)
        )
        return [self._upload(r) for r in rows]

    def upload_persons(self, list_id: str) -> list[tuple[int, float | None, str | None]]:
        """The mapped persons of a list (server-side only: never part of a response)."""
        return [
            (int(r[0]), r[1], r[2])
            for r in self._query(
                "SELECT person_id, value, list_date FROM upload_rows WHERE list_id = ? ORDER BY person_id",
                (list_id,),
            )
        ]

    def delete_upload(self, key_id: str, name: str) -> bool:
        with self.transaction() as con:
            row = con.execute(
                "SELECT list_id FROM upload_lists WHERE key_id = ? AND name = ?", (key_id, name)
            ).fetchone()
            if row is None:
                return False
            con.execute("DELETE FROM upload_rows WHERE list_id = ?", (row[0],))
            con.execute("DELETE FROM upload_lists WHERE list_id = ?", (row[0],))
            return True

    # -- cohorts ----------------------------------------------------------------------------------

    _COHORT_COLS = (
        "cohort_id, created_at, key_id, status, spec, overrides, codesets, result, person_count, "
        "result_hash, release_status, requested_by, requested_at, approved_by, approved_at, approved_hash, "
        "owner_box"
    )

    @staticmethod
    def _cohort(row: tuple) -> CohortRecord:
        (
            cid,
            created,
            key_id,
            status,
            spec,
            overrides,
            codesets,
            result,
            count,
            rhash,
            rel,
            req_by,
            req_at,
            app_by,
            app_at,
            app_hash,
            box,
        ) = row
        return CohortRecord(
            cid,
            created,
            key_id,
            status,
            _loads(spec),
            json.loads(overrides),
            json.loads(codesets),
            json.loads(result),
            count,
            rhash,
            rel,
            req_by,
            req_at,
            app_by,
            app_at,
            app_hash,
            box,
        )

    def add_cohort(
        self,
        *,
        key_id: str,
        status: str,
        spec: dict | None,
        overrides: Mapping[str, list[int]],
        codesets: Mapping[str, list[int]],
        result: dict,
        person_count: int | None,
        result_hash: str | None,
        owner_box: Callable[[str], str] | None = None,
    ) -> CohortRecord:
        """Store a run. ``owner_box`` seals the owner's view given the new cohort id (bound into it)."""
        cid = "coh_" + secrets.token_hex(8)
        with self.transaction() as con:
            con.execute(
                "INSERT INTO cohorts (cohort_id, created_at, key_id, status, spec, overrides, codesets, "
                "result, person_count, result_hash, owner_box) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cid,
                    now_iso(),
                    key_id,
                    status,
                    _dumps(spec),
                    json.dumps(dict(overrides)),
                    json.dumps(dict(codesets)),
                    json.dumps(result, ensure_ascii=False, default=str),
                    person_count,
                    result_hash,
                    owner_box(cid) if owner_box else None,
                ),
            )
        rec = self.get_cohort(cid)
        assert rec is not None
        return rec

    def get_cohort(self, cohort_id: str) -> CohortRecord | None:
        rows = self._query(f"SELECT {self._COHORT_COLS} FROM cohorts WHERE cohort_id = ?", (cohort_id,))
        return self._cohort(rows[0]) if rows else None

    def list_cohorts(
        self, *, key_id: str | None = None, release_status: str | None = None, limit: int = 100
    ) -> list[CohortRecord]:
        where, params = [], []
        if key_id is not None:
            where.append("key_id = ?")
            params.append(key_id)
        if release_status is not None:
            where.append("release_status = ?")
            params.append(release_status)
        sql = f"SELECT {self._COHORT_COLS} FROM cohorts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC LIMIT ?"
        return [self._cohort(r) for r in self._query(sql, (*params, limit))]

    def request_release(self, cohort_id: str, key_id: str) -> None:
        with self.transaction() as con:
            con.execute(
                "UPDATE cohorts SET release_status = 'requested', requested_by = ?, requested_at = ? "
                "WHERE cohort_id = ? AND release_status = 'none'",
                (key_id, now_iso(), cohort_id),
            )

    def approve_release(self, cohort_id: str, key_id: str, result_hash: str) -> None:
        """Approve a requested release; checked and written in one transaction (two stewards may race).

        Raises :class:`ReleaseStateError` when nobody requested the release, it is approved already,
        or ``key_id`` requested it (a release needs two people: one asks, another approves).
        """
        with self.transaction() as con:
            row = con.execute(
                "SELECT release_status, requested_by FROM cohorts WHERE cohort_id = ?", (cohort_id,)
            ).fetchone()
            if row is None:
                raise ReleaseStateError("No cohort with this id.")
            status, requested_by = row
            if status == "approved":
                raise ReleaseStateError("This cohort's release is approved already.")
            if status != "requested":
                raise ReleaseStateError(
                    "Nobody has requested a release of this cohort: the researcher asks first "
                    "(POST /v1/cohorts/{id}/release-request), then a steward approves."
                )
            if requested_by == key_id:
                raise ReleaseStateError(
                    "You requested this release yourself; another steward must approve it."
                )
            con.execute(
                "UPDATE cohorts SET release_status = 'approved', approved_by = ?, approved_at = ?, "
                "approved_hash = ? WHERE cohort_id = ? AND release_status = 'requested'",
                (key_id, now_iso(), result_hash, cohort_id),
            )

    # -- jobs -------------------------------------------------------------------------------------

    _JOB_COLS = (
        "job_id, kind, cohort_id, key_id, format, status, progress, rows_done, rows_total, message, "
        "result_path, created_at, started_at, finished_at, level, owner, heartbeat_at"
    )

    def add_job(
        self,
        *,
        kind: str,
        cohort_id: str | None,
        key_id: str,
        fmt: str | None,
        level: str | None = None,
        owner: str | None = None,
    ) -> JobRecord:
        jid = "job_" + secrets.token_hex(8)
        with self.transaction() as con:
            con.execute(
                "INSERT INTO jobs (job_id, kind, cohort_id, key_id, format, status, created_at, level, "
                "owner, heartbeat_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                (jid, kind, cohort_id, key_id, fmt, now_iso(), level, owner, time.time()),
            )
        rec = self.get_job(jid)
        assert rec is not None
        return rec

    def get_job(self, job_id: str) -> JobRecord | None:
        rows = self._query(f"SELECT {self._JOB_COLS} FROM jobs WHERE job_id = ?", (job_id,))
        return JobRecord(*rows[0]) if rows else None

    def list_jobs(self, key_id: str | None = None, limit: int = 100) -> list[JobRecord]:
        if key_id is None:
            rows = self._query(
                f"SELECT {self._JOB_COLS} FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)
            )
        else:
            rows = self._query(
                f"SELECT {self._JOB_COLS} FROM jobs WHERE key_id = ? ORDER BY created_at DESC LIMIT ?",
                (key_id, limit),
            )
        return [JobRecord(*r) for r in rows]

    def update_job(self, job_id: str, **fields: Any) -> bool:
        """Update a job that is not final yet; False when it is ``done``/``failed`` (nothing changes)."""
        allowed = {
            "status",
            "progress",
            "rows_done",
            "rows_total",
            "message",
            "result_path",
            "started_at",
            "finished_at",
        }
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"unknown job fields {sorted(bad)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as con:
            cur = con.execute(
                f"UPDATE jobs SET {sets} WHERE job_id = ? AND status NOT IN ('done', 'failed')",
                (*fields.values(), job_id),
            )
            return cur.rowcount > 0

    def heartbeat_jobs(self, owner: str) -> int:
        """The owner says it is alive: refresh the lease of its unfinished jobs."""
        with self.transaction() as con:
            return con.execute(
                "UPDATE jobs SET heartbeat_at = ? WHERE owner = ? AND status IN ('queued', 'running')",
                (time.time(), owner),
            ).rowcount

    def fail_interrupted_jobs(self, owner: str | None = None, lease_s: float = JOB_LEASE_S) -> int:
        """Fail unfinished jobs whose owner is gone: not ``owner`` (this process) and no heartbeat for
        ``lease_s`` seconds (jobs from before owners were recorded have none). Another live server's
        jobs are left alone."""
        with self.transaction() as con:
            return con.execute(
                "UPDATE jobs SET status = 'failed', message = 'interrupted by a server restart', "
                "finished_at = ? WHERE status IN ('queued', 'running') "
                "AND COALESCE(owner, '') != COALESCE(?, '-') AND (heartbeat_at IS NULL OR heartbeat_at < ?)",
                (now_iso(), owner, time.time() - lease_s),
            ).rowcount


class AuditLog:
    """Append-only, hash-chained audit trail. Deliberately has no update or delete method."""

    _COLS = (
        "seq, at, key_id, role, method, endpoint, target, status, spec, counts, result_hash, details, "
        "prev_hash, row_hash"
    )

    def __init__(self, store: StateStore) -> None:
        self._store = store

    #: Spec fields that hold words a person typed: the question (title), mentions, name matches.
    FREE_TEXT_FIELDS = frozenset({"name_contains", "terms", "title"})

    def _hashed_free_text(self, value: Any) -> Any:
        """``value`` (a spec, as JSON) with every free-text field (:data:`FREE_TEXT_FIELDS`) replaced by
        its keyed hash."""
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if k in self.FREE_TEXT_FIELDS and isinstance(v, list):
                    out[k] = [self._store.text_hash(str(t)) for t in v]
                elif k in self.FREE_TEXT_FIELDS and isinstance(v, str):
                    out[k] = self._store.text_hash(v)
                else:
                    out[k] = self._hashed_free_text(v)
            return out
        if isinstance(value, list):
            return [self._hashed_free_text(v) for v in value]
        return value

    @staticmethod
    def _row_hash(prev_hash: str, fields: Sequence[Any]) -> str:
        payload = json.dumps([prev_hash, *fields], ensure_ascii=False, default=str, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def append(
        self,
        *,
        key_id: str | None,
        role: str | None,
        method: str,
        endpoint: str,
        status: int,
        target: str | None = None,
        spec: Any = None,
        counts: Any = None,
        result_hash: str | None = None,
        details: Any = None,
    ) -> int:
        at = now_iso()
        fields = [
            at,
            key_id,
            role,
            method,
            endpoint,
            target,
            int(status),
            _dumps(self._hashed_free_text(spec)),
            _dumps(counts),
            result_hash,
            _dumps(details),
        ]
        with self._store.transaction() as con:
            last = con.execute("SELECT row_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            prev = last[0] if last else _GENESIS
            row_hash = self._row_hash(prev, fields)
            cur = con.execute(
                "INSERT INTO audit_log (at, key_id, role, method, endpoint, target, status, spec, counts, "
                "result_hash, details, prev_hash, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*fields, prev, row_hash),
            )
            return int(cur.lastrowid or 0)

    def entries(self, *, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        rows = self._store._query(
            f"SELECT {self._COLS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        )
        out = []
        for r in rows:
            (
                seq,
                at,
                key_id,
                role,
                method,
                endpoint,
                target,
                status,
                spec,
                counts,
                rhash,
                details,
                prev,
                row_hash,
            ) = r
            out.append(
                AuditEntry(
                    seq,
                    at,
                    key_id,
                    role,
                    method,
                    endpoint,
                    target,
                    status,
                    _loads(spec),
                    _loads(counts),
                    rhash,
                    _loads(details),
                    prev,
                    row_hash,
                )
            )
        return out

    def verify(self) -> tuple[bool, int | None]:
        """Recompute the hash chain; returns (ok, first bad seq)."""
        prev = _GENESIS
        rows = self._store._query(
            "SELECT seq, at, key_id, role, method, endpoint, target, status, spec, counts, result_hash, "
            "details, prev_hash, row_hash FROM audit_log ORDER BY seq"
        )
        for r in rows:
            seq, *fields, prev_hash, row_hash = r
            if prev_hash != prev or self._row_hash(prev, fields) != row_hash:
                return False, seq
            prev = row_hash
        return True, None
