"""The resolver's normalised concept-name index, kept in a file per mart for one-shot processes.

Why: ``Vocabulary.name_keys`` builds a TEMP table of every standard concept's normalised name and
synonym, a regular expression over every row of ``concept`` (0.2–0.35 s on the demo mart's 99,000
concepts, ~20 s on a full Athena vocabulary). A server builds it once per pooled connection, but
``cohort ask`` is a new process for every question and paid it every time. :func:`load` gives the
resolver the index from a Parquet file (~30 ms, :class:`CachedNameIndex`) before it asks for one;
:func:`save` writes the file after the resolver built the table, so the file always holds what the
resolver's code computed, never a second copy of its normalisation.

When a file is used: its name carries a stamp of the mart file's real path, size, modification time
and inode (and its write-ahead log's, if one exists), the DuckDB version, and a hash of the resolver
module's source (where the normalisation lives). Any change to the mart or to that code and the
stamp differs, so the old file is never read; the next :func:`save` writes the new one and removes the
mart's stale ones. A PostgreSQL mart has no file to stamp and is never cached.

What it holds: normalised concept names and synonyms with their concept ids (vocabulary, the same
for every patient), nothing about a person. Where: ``$COHORT_ENGINE_CACHE/name-keys`` (default
``~/.cache/cohort-engine``, as the demo vocabulary's cache), one file per mart and at most
:data:`KEEP` in all, written atomically (two processes racing write identical files), mode 0600 in a
0700 folder. Best effort both ways: a missing, stale, unreadable or unwritable cache costs the
rebuild, never an answer.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cohort_engine.cache_files import cache_root
from cohort_engine.schema_catalog import resolve
from cohort_engine.schema_catalog.resolve import Vocabulary

if TYPE_CHECKING:
    from os import PathLike

#: The columns of ``Vocabulary.NAME_KEYS``, in order.
COLUMNS = ("k", "concept_id", "src")


def cache_dir() -> Path:
    """Where the files live (``$COHORT_ENGINE_CACHE/name-keys``, default ``~/.cache/cohort-engine``)."""
    return cache_root() / "name-keys"


def _file_id(path: Path) -> list[str]:
    st = path.stat()
    return [str(st.st_size), str(st.st_mtime_ns), str(st.st_ino), str(st.st_dev)]


def cache_file(mart: str | PathLike[str]) -> Path | None:
    """The cache file that holds ``mart``'s index as it is now; None for anything but a DuckDB file
    (a PostgreSQL URL, a missing path). Its name is ``<hash of the mart's path>-<hash of the stamp>``,
    so a changed mart or resolver simply looks for another file."""
    path = Path(mart)
    if str(mart).startswith(("postgres://", "postgresql://")) or not path.is_file():
        return None
    real = path.resolve()
    parts = [str(real), *_file_id(real)]
    wal = real.with_name(real.name + ".wal")
    if wal.exists():
        parts += ["wal", *_file_id(wal)]
    parts += [duckdb.__version__, hashlib.sha256(Path(resolve.__file__).read_bytes()).hexdigest()]
    stamp = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return cache_dir() / f"{_mart_prefix(real)}-{stamp}.parquet"


def _mart_prefix(real: Path) -> str:
    return hashlib.sha256(str(real).encode()).hexdigest()[:16]


#: At most this many files are kept (the most recently written): marts come and go (a test run makes
#: dozens), and each file is a few MB at most per 100,000 concepts.
KEEP = 16


def _prune(written: Path) -> None:
    """Remove the stale files of ``written``'s mart, then all but the :data:`KEEP` newest."""
    prefix = written.name.split("-")[0] + "-"
    files = [f for f in written.parent.glob("*.parquet") if f != written]
    for f in files:
        if f.name.startswith(prefix):
            f.unlink(missing_ok=True)
    rest = sorted((f for f in files if f.exists()), key=lambda f: f.stat().st_mtime_ns, reverse=True)
    for f in rest[KEEP - 1 :]:
        f.unlink(missing_ok=True)


def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    # fetchall also finishes whatever result the connection still holds (register needs none pending)
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = ? AND table_type = 'LOCAL TEMPORARY'",
        [Vocabulary.NAME_KEYS],
    ).fetchall()
    return bool(rows and rows[0][0])


class CachedNameIndex:
    """The index of one cache file, in a private in-memory DuckDB that answers the resolver's lookups.

    Why not copy it into the mart's connection: that connection is hardened (no file access), so the
    rows would cross over through Arrow or NumPy, and importing either is most of the cost (~0.1 s of
    a one-shot ``cohort ask``). Here DuckDB reads the file itself (~30 ms) and each lookup is a hash
    join of a few keys; the resolver joins the concept ids it gets to ``concept`` on the mart."""

    def __init__(self, path: Path) -> None:
        self._db = duckdb.connect(config={"threads": 1})  # one thread: half the CPU of the default
        try:
            self._db.execute(
                f"CREATE TABLE name_keys AS SELECT {', '.join(COLUMNS)} FROM read_parquet(?)", [str(path)]
            )
        except BaseException:
            self._db.close()
            raise

    def lookup(self, keys: list[str]) -> list[tuple[int, str]]:
        return self._db.execute(
            "SELECT concept_id, src FROM name_keys WHERE k IN (SELECT unnest(?))", [keys]
        ).fetchall()

    def rows(self) -> list[tuple[str, int, str]]:
        """Every row, sorted (tests compare them with what the resolver builds)."""
        return self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM name_keys ORDER BY ALL").fetchall()


def load(con: duckdb.DuckDBPyConnection, mart: str | PathLike[str]) -> bool:
    """Give ``con``'s resolver the index of ``mart`` as it is now from its cache file; True when the
    resolver has an index afterwards (from the file, or a TEMP table it already built)."""
    vocab = Vocabulary.of(con)
    if vocab.name_index is not None or _has_table(con):
        return True
    path = cache_file(mart)
    if path is None or not path.is_file():
        return False
    try:
        vocab.name_index = CachedNameIndex(path)
    except (OSError, duckdb.Error):
        return False
    return True


def save(con: duckdb.DuckDBPyConnection, mart: str | PathLike[str]) -> bool:
    """Write the cache file of ``mart`` from ``con``'s ``Vocabulary.NAME_KEYS``, when the resolver built
    one on it, and remove the mart's stale files; True when a file was written."""
    path = cache_file(mart)
    if path is None:
        return False
    try:
        if not _has_table(con):
            return False
        table = con.sql(f"SELECT {', '.join(COLUMNS)} FROM {Vocabulary.NAME_KEYS}").to_arrow_table()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".parquet")  # created 0600
        os.close(fd)
        try:
            with duckdb.connect() as writer:
                writer.register("name_keys", table)
                quoted = tmp.replace("'", "''")
                writer.execute(f"COPY name_keys TO '{quoted}' (FORMAT parquet)")
            os.chmod(tmp, 0o600)  # whatever mode DuckDB wrote it with
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        with contextlib.suppress(OSError):  # another process pruning at the same moment
            _prune(path)
    except (OSError, duckdb.Error):
        return False
    return True
