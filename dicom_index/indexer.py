"""Index folders of DICOM files into the mart: ``dicom_study``, ``dicom_series``, ``dicom_instance`` and
``dicom_quarantine`` as DuckDB tables.

Why DuckDB tables rather than views over a Parquet sidecar: batches must be committed atomically so
that a killed run resumes without duplicates, and re-runs must replace changed files and drop deleted
ones in place.  DuckDB gives both with one ``BEGIN … COMMIT`` per batch; a sidecar needs a file per
batch plus tombstones and compaction, and views that embed absolute sidecar paths.  Measured on 200k
synthetic instance rows (2 shared cores): committing 2,000-row batches runs at ~127k rows/s (the
reader makes ~3k/s, so writing costs ~2 %) against ~436k rows/s for Parquet files; loading the
(path, size, mtime) state for a re-run 0.12 s vs 0.17 s; replacing 1 % of rows 0.02 s (Parquet:
rewrite or tombstones); typical filters/aggregations 1.4–3.6 ms vs 13–19 ms over the Parquet glob;
14.2 MB vs 12.5 MB on disk.

How a run goes:
1. walk every folder recursively (any file name; symlinked folders are not followed, against loops);
2. compare (path, size, mtime) with what the mart holds: unchanged files are skipped, files gone from
   the walked folders are removed;
3. read the rest in parallel (processes, files in chunks; one process reads in-process), each file
   once for both its header and its whole-file content hash (``dicom_index.scan``);
4. commit results in batches (every ``batch_files`` files or ``batch_seconds``), each batch replacing
   the earlier rows of its paths in the same transaction — a crash loses at most one batch, and a
   re-run skips what was committed;
5. rebuild ``dicom_series`` and ``dicom_study`` from ``dicom_instance`` in one transaction.

One SOPInstanceUID is one instance, wherever its files lie: a file whose UID the index already holds
under another path (a copy, a moved or re-mounted folder; in one batch, the first by path wins) is
quarantined as a duplicate instead of counted twice, so instance counts and byte totals never double.
Duplicates are read again on every run, so that once the other copy is gone (its folder re-indexed
without it) the remaining one is indexed.

Bad files never stop a run: they land in ``dicom_quarantine`` with a value-free reason.
"""

from __future__ import annotations

import functools
import gc
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
from pydantic import BaseModel

from cohort_engine.dicom_index.scan import (
    INSTANCE_COLUMNS,
    QUARANTINE_COLUMNS,
    scan_chunk,
    scan_file,
    watch_parent,
)
from cohort_engine.dicom_index.tables import DICOM_INSTANCE, DICOM_QUARANTINE, DICOM_TABLES
from cohort_engine.schema_catalog.ddl import table_ddl

if TYPE_CHECKING:  # pyarrow (~0.1 s) is imported when the first batch is written, not at start-up
    import pyarrow as pa

_RowTable = Literal["dicom_instance", "dicom_quarantine"]
_SOP_UID = INSTANCE_COLUMNS.index("sop_instance_uid")
#: Quarantine reason of a file whose SOPInstanceUID is indexed under another path.
DUPLICATE_REASON = "duplicate SOPInstanceUID (indexed at another path)"

__all__ = [
    "EmptyFolderError",
    "IndexProgress",
    "IndexReport",
    "ensure_tables",
    "index_folders",
    "rebuild_summaries",
    "walk_files",
]

#: Files per worker task: large enough to amortise pickling/IPC, small enough to balance processes.
CHUNK_FILES = 64
#: Below this many files to read, worker start-up costs more than it saves.
MIN_FILES_FOR_POOL = 256


class IndexProgress(BaseModel):
    """Progress of a run, for a progress bar (the CLI shows it with rich)."""

    files_total: int
    files_done: int
    indexed: int
    quarantined: int
    skipped_unchanged: int
    files_per_s: float
    elapsed_s: float


class IndexReport(BaseModel):
    """Outcome of one run.  Counts and value-free reasons only: safe to log and show."""

    files_seen: int
    skipped_unchanged: int
    indexed: int
    quarantined: int
    removed: int
    quarantine_reasons: dict[str, int]
    studies: int
    series: int
    instances: int
    files_per_s: float
    elapsed_s: float
    workers: int


class EmptyFolderError(ValueError):
    """A folder to index exists but holds no file, while the mart holds rows indexed under it.

    Why refuse: an unmounted mount point is an empty folder, and indexing it would delete every row of
    the share (and, after linking, the image_occurrence links).  ``allow_empty=True`` (CLI
    ``--allow-empty``) says the files really are gone.  The message names the folder by its position
    on the command line and gives a count, never a path.
    """


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the four index tables if missing (DDL generated from ``dicom_index.tables``), and relax
    NOT NULL constraints that an older description had (file size/time/hash became nullable when
    DICOMweb instances, which have none, joined the same tables)."""
    for t in DICOM_TABLES:
        con.execute(table_ddl(t))
        nullable = {c.name for c in t.columns if not c.required}
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND is_nullable = 'NO' "
            "AND table_schema = current_schema()",
            [t.name],
        ).fetchall():
            if name in nullable:
                con.execute(f"ALTER TABLE {t.name} ALTER COLUMN {name} DROP NOT NULL")


def walk_files(dirs: Sequence[Path]) -> Iterator[tuple[str, int, int]]:
    """Yield (absolute path, size, mtime_ns) of every regular file under ``dirs``, recursively.

    A root may also be a single file.  A missing root raises ``FileNotFoundError`` rather than being
    read as empty: an unmounted share must not look like a folder whose files were all deleted.
    """
    stack: list[str] = []
    for given in dirs:
        root = Path(given).resolve()
        if root.is_file():
            st = root.stat()
            yield str(root), st.st_size, st.st_mtime_ns
        elif root.is_dir():
            stack.append(str(root))
        else:
            raise FileNotFoundError("an indexed folder does not exist")
    seen_dirs: set[str] = set()
    while stack:
        d = stack.pop()
        if d in seen_dirs:
            continue
        seen_dirs.add(d)
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                try:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif e.is_file():
                        st = e.stat()
                        yield e.path, st.st_size, st.st_mtime_ns
                except OSError:
                    continue


@functools.cache
def _arrow_schema(table: _RowTable) -> pa.Schema:
    """Arrow schema of ``dicom_instance`` or ``dicom_quarantine`` rows (built on first use, with pyarrow)."""
    import pyarrow as pa

    types = {
        "VARCHAR": pa.string(),
        "BIGINT": pa.int64(),
        "INTEGER": pa.int32(),
        "DOUBLE": pa.float64(),
        "DATE": pa.date32(),
    }
    columns = {"dicom_instance": DICOM_INSTANCE, "dicom_quarantine": DICOM_QUARANTINE}[table].columns
    return pa.schema([(c.name, types[c.type]) for c in columns])


def _arrow(rows: list[tuple[Any, ...]], table: _RowTable) -> pa.Table:
    """Rows of ``table`` as an Arrow table, for registering with DuckDB (one bulk insert, no row loop)."""
    import pyarrow as pa

    schema = _arrow_schema(table)
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pa.table([pa.array(col, type=f.type) for col, f in zip(cols, schema, strict=True)], schema=schema)


def _paths_table(paths: list[str]) -> pa.Table:
    import pyarrow as pa

    return pa.table({"path": pa.array(paths, pa.string())})


class _Writer:
    """Commits batches: each replaces earlier rows of its paths, atomically."""

    def __init__(self, con: duckdb.DuckDBPyConnection, known: dict[str, tuple[int, int]]) -> None:
        self.con = con
        self.known = known
        self.instances: list[tuple[Any, ...]] = []
        self.quarantine: list[tuple[Any, ...]] = []
        #: Instances quarantined so far as duplicates of an indexed SOPInstanceUID.
        self.duplicates = 0

    def add(self, ok: bool, row: tuple[Any, ...]) -> None:
        (self.instances if ok else self.quarantine).append(row)

    def __len__(self) -> int:
        return len(self.instances) + len(self.quarantine)

    def _split_duplicates(self) -> list[tuple[Any, ...]]:
        """Move instances whose SOPInstanceUID is held already (in the index or earlier in this batch)
        to quarantine rows; returns those rows. Runs inside the batch's transaction."""
        uids = [r[_SOP_UID] for r in self.instances if r[_SOP_UID] is not None]
        if not uids:
            return []
        import pyarrow as pa

        self.con.register("_uids", pa.table({"uid": pa.array(sorted(set(uids)), pa.string())}))
        held = {
            r[0]
            for r in self.con.execute(
                "SELECT DISTINCT sop_instance_uid FROM dicom_instance WHERE sop_instance_uid IN "
                "(SELECT uid FROM _uids)"
            ).fetchall()
        }
        self.con.unregister("_uids")
        keep: list[tuple[Any, ...]] = []
        dups: list[tuple[Any, ...]] = []
        for row in sorted(self.instances, key=lambda r: r[0]):
            uid = row[_SOP_UID]
            if uid is not None and uid in held:
                dups.append((row[0], DUPLICATE_REASON, row[1], row[2], row[3]))
            else:
                keep.append(row)
                if uid is not None:
                    held.add(uid)
        self.instances = keep
        self.quarantine.extend(dups)
        self.duplicates += len(dups)
        return dups

    def commit(self) -> None:
        if not len(self):
            return
        con = self.con
        replaced = [r[0] for r in (*self.instances, *self.quarantine) if r[0] in self.known]
        con.execute("BEGIN TRANSACTION")
        try:
            if replaced:
                con.register("_replaced", _paths_table(replaced))
                con.execute("DELETE FROM dicom_instance WHERE path IN (SELECT path FROM _replaced)")
                con.execute("DELETE FROM dicom_quarantine WHERE path IN (SELECT path FROM _replaced)")
                con.unregister("_replaced")
            self._split_duplicates()
            if self.instances:
                con.register("_inst", _arrow(self.instances, "dicom_instance"))
                con.execute(
                    f"INSERT INTO dicom_instance ({', '.join(INSTANCE_COLUMNS)}) "
                    f"SELECT {', '.join(INSTANCE_COLUMNS)} FROM _inst"
                )
                con.unregister("_inst")
            if self.quarantine:
                con.register("_quar", _arrow(self.quarantine, "dicom_quarantine"))
                con.execute(
                    f"INSERT INTO dicom_quarantine ({', '.join(QUARANTINE_COLUMNS)}) "
                    f"SELECT {', '.join(QUARANTINE_COLUMNS)} FROM _quar"
                )
                con.unregister("_quar")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self.instances.clear()
        self.quarantine.clear()


_REBUILD_SERIES = """
INSERT INTO dicom_series
SELECT series_instance_uid,
       arg_min(study_instance_uid, path),
       arg_min(patient_id, path) FILTER (WHERE patient_id IS NOT NULL),
       arg_min(modality, path) FILTER (WHERE modality IS NOT NULL),
       arg_min(body_part_examined, path) FILTER (WHERE body_part_examined IS NOT NULL),
       arg_min(series_date, path) FILTER (WHERE series_date IS NOT NULL),
       arg_min(series_number, path) FILTER (WHERE series_number IS NOT NULL),
       arg_min(series_description, path) FILTER (WHERE series_description IS NOT NULL),
       arg_min(sop_class_uid, path) FILTER (WHERE sop_class_uid IS NOT NULL),
       arg_min(manufacturer, path) FILTER (WHERE manufacturer IS NOT NULL),
       arg_min(manufacturer_model_name, path) FILTER (WHERE manufacturer_model_name IS NOT NULL),
       arg_min(slice_thickness, path) FILTER (WHERE slice_thickness IS NOT NULL),
       arg_min(image_rows, path) FILTER (WHERE image_rows IS NOT NULL),
       arg_min(image_columns, path) FILTER (WHERE image_columns IS NOT NULL),
       CASE WHEN bool_or(upper(trim(burned_in_annotation)) = 'YES') THEN 'YES'
            WHEN bool_or(burned_in_annotation IS NOT NULL) THEN 'NO' END,
       count(DISTINCT sop_instance_uid),
       count(*),
       CASE WHEN count(file_size) = count(*) THEN sum(file_size) END
FROM dicom_instance GROUP BY series_instance_uid
"""

_REBUILD_STUDY = """
INSERT INTO dicom_study
SELECT i.study_instance_uid,
       arg_min(patient_id, path) FILTER (WHERE patient_id IS NOT NULL),
       arg_min(study_date, path) FILTER (WHERE study_date IS NOT NULL),
       arg_min(study_time, path) FILTER (WHERE study_time IS NOT NULL),
       arg_min(accession_number, path) FILTER (WHERE accession_number IS NOT NULL),
       arg_min(study_description, path) FILTER (WHERE study_description IS NOT NULL),
       nullif(array_to_string(list_sort(list_distinct(list(modality))), '\\'), ''),
       count(DISTINCT series_instance_uid),
       count(DISTINCT sop_instance_uid),
       count(*)
FROM dicom_instance i GROUP BY i.study_instance_uid
"""


def _rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Series and study rows are derived data: rebuilt whole, in one transaction, after every run.

    Measured at ~0.1 s per 100k instances, it is cheaper than tracking which studies a crashed run
    left stale, and it can never drift from ``dicom_instance``.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM dicom_series")
        con.execute(_REBUILD_SERIES)
        con.execute("DELETE FROM dicom_study")
        con.execute(_REBUILD_STUDY)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def rebuild_summaries(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild ``dicom_series`` and ``dicom_study`` from ``dicom_instance`` (see ``_rebuild``); used by
    the DICOMweb crawler, which writes the same instance table."""
    _rebuild(con)


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _scan_results(todo: list[str], workers: int) -> Iterator[tuple[bool, tuple[Any, ...]]]:
    """Results of reading ``todo``, in completion order; in-process for one worker or few files."""
    if workers <= 1 or len(todo) < MIN_FILES_FOR_POOL:
        for p in todo:
            yield scan_file(p)
        return
    chunks = [todo[i : i + CHUNK_FILES] for i in range(0, len(todo), CHUNK_FILES)]
    ctx = _mp_context()
    if ctx.get_start_method() == "fork":
        gc.freeze()  # keep the collector off the inherited heap: no copy-on-write of the file lists
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=watch_parent, initargs=(os.getpid(),)
    ) as pool:
        pending: set[Future[list[tuple[bool, tuple[Any, ...]]]]] = set()
        it = iter(chunks)
        try:
            for chunk in it:
                pending.add(pool.submit(scan_chunk, chunk))
                if len(pending) >= workers * 4:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    nxt = next(it, None)
                    if nxt is not None:
                        pending.add(pool.submit(scan_chunk, nxt))
                    yield from fut.result()
        finally:  # on an error or interrupt, do not wait for queued chunks
            pool.shutdown(wait=True, cancel_futures=True)
            gc.unfreeze()


def _mp_context() -> BaseContext:
    """``fork`` where the OS has it, else ``spawn``.

    Measured on 3,096 demo files with 2 workers: fork 18k files/s, spawn 4.1k/s, forkserver 4.6k/s —
    a spawned worker re-imports the caller's ``__main__`` (the CLI imports DuckDB, pyarrow, pydicom …),
    which costs more than reading thousands of headers.  Forking while the parent holds a DuckDB
    connection is safe here because the children only run ``dicom_index.scan`` (file reads, hashing,
    pure-Python decoding) and leave through ``os._exit``: they never touch DuckDB, logging or the
    caller's threads, whose locks are the fork hazard.
    """
    return get_context("fork" if "fork" in get_all_start_methods() else "spawn")


def _refuse_empty_roots(roots: list[str], seen: set[str], known: dict[str, tuple[int, int]]) -> None:
    for i, root in enumerate(roots, start=1):
        if not Path(root).is_dir():
            continue
        prefix = root.rstrip(os.sep) + os.sep
        if any(p.startswith(prefix) for p in seen):
            continue
        before = sum(1 for p in known if p.startswith(prefix))
        if before:
            raise EmptyFolderError(
                f"indexed folder {i} of {len(roots)} is empty, but {before} files under it were indexed "
                "before: is it mounted? Indexing it would remove their rows (allow_empty / --allow-empty "
                "if the files are really gone)"
            )


def index_folders(
    mart_path: Path,
    dirs: list[Path],
    workers: int | None = None,
    progress: Callable[[IndexProgress], None] | None = None,
    *,
    batch_files: int = 2000,
    batch_seconds: float = 2.0,
    allow_empty: bool = False,
) -> IndexReport:
    """Index every file under ``dirs`` into the mart at ``mart_path``; see the module docstring.

    ``workers``: processes reading files (default: the CPUs this process may use).  ``progress`` is
    called at most every 0.2 s and once at the end.  ``batch_files``/``batch_seconds`` bound how much
    work a crash can lose.  An existing folder without any file whose earlier rows are in the mart
    raises :class:`EmptyFolderError` before anything is removed, unless ``allow_empty``.
    """
    if not dirs:
        raise ValueError("no folders to index")
    t0 = time.perf_counter()
    nworkers = workers or _default_workers()
    roots = [str(Path(d).resolve()) for d in dirs]
    con = duckdb.connect(str(mart_path))
    try:
        ensure_tables(con)
        # What the mart already holds under these roots: (size, mtime) per path.
        under = " OR ".join("path = ? OR starts_with(path, ?)" for _ in roots)
        params = [x for r in roots for x in (r, r.rstrip(os.sep) + os.sep)]
        known: dict[str, tuple[int, int]] = {}
        for table in ("dicom_instance", "dicom_quarantine"):
            sql = f"SELECT path, file_size, file_mtime_ns FROM {table} WHERE {under}"
            for path, size, mtime in con.execute(sql, params).fetchall():
                known[path] = (size, mtime)
        # Duplicates are read again: the copy they duplicate may be gone by now.
        recheck = {
            r[0]
            for r in con.execute(
                f"SELECT path FROM dicom_quarantine WHERE reason = ? AND ({under})",
                [DUPLICATE_REASON, *params],
            ).fetchall()
        }

        todo: list[str] = []
        seen: set[str] = set()
        skipped = 0
        for path, size, mtime in walk_files([Path(r) for r in roots]):
            if path in seen:
                continue
            seen.add(path)
            if known.get(path) == (size, mtime) and path not in recheck:
                skipped += 1
            else:
                todo.append(path)
        todo.sort()  # deterministic order, and neighbouring files are read together

        if not allow_empty:
            _refuse_empty_roots(roots, seen, known)
        gone = [p for p in known if p not in seen]
        if gone:
            con.execute("BEGIN TRANSACTION")
            con.register("_gone", _paths_table(gone))
            con.execute("DELETE FROM dicom_instance WHERE path IN (SELECT path FROM _gone)")
            con.execute("DELETE FROM dicom_quarantine WHERE path IN (SELECT path FROM _gone)")
            con.unregister("_gone")
            con.execute("COMMIT")

        writer = _Writer(con, known)
        reasons: Counter[str] = Counter()
        indexed = quarantined = 0
        t_scan = time.perf_counter()
        last_commit = last_progress = t_scan

        def report_progress(now: float) -> None:
            if progress is None:
                return
            elapsed = now - t_scan
            done = indexed + quarantined
            progress(
                IndexProgress(
                    files_total=len(todo) + skipped,
                    files_done=done + skipped,
                    indexed=indexed,
                    quarantined=quarantined,
                    skipped_unchanged=skipped,
                    files_per_s=done / elapsed if elapsed > 0 else 0.0,
                    elapsed_s=now - t0,
                )
            )

        for ok, row in _scan_results(todo, nworkers):
            writer.add(ok, row)
            if ok:
                indexed += 1
            else:
                quarantined += 1
                reasons[row[1]] += 1
            now = time.perf_counter()
            if len(writer) >= batch_files or now - last_commit >= batch_seconds:
                writer.commit()
                last_commit = now
            if now - last_progress >= 0.2:
                report_progress(now)
                last_progress = now
        writer.commit()
        scan_s = time.perf_counter() - t_scan
        if writer.duplicates:  # found at commit time, inside the transaction that decided
            indexed -= writer.duplicates
            quarantined += writer.duplicates
            reasons[DUPLICATE_REASON] += writer.duplicates

        _rebuild(con)
        studies, series, instances = con.execute(
            "SELECT (SELECT count(*) FROM dicom_study), (SELECT count(*) FROM dicom_series), "
            "(SELECT count(*) FROM dicom_instance)"
        ).fetchone() or (0, 0, 0)
        report_progress(time.perf_counter())
    finally:
        con.close()
    done = indexed + quarantined
    return IndexReport(
        files_seen=len(seen),
        skipped_unchanged=skipped,
        indexed=indexed,
        quarantined=quarantined,
        removed=len(gone),
        quarantine_reasons=dict(sorted(reasons.items())),
        studies=studies,
        series=series,
        instances=instances,
        files_per_s=done / scan_s if scan_s > 0 else 0.0,
        elapsed_s=time.perf_counter() - t0,
        workers=nworkers,
    )
