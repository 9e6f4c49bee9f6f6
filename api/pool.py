"""The pool of read-only mart cursors the API's requests run on.

A DuckDB connection must not be used by two threads at once, so each request takes its own cursor
(``root.cursor()``: a separate connection to the same read-only database, with the same hardened,
locked settings) from :class:`MartPool`, which also bounds how many queries run at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from cohort_engine.api.errors import ApiError
from cohort_engine.sql_guard.runner import open_mart


class MartPool:
    """Read-only cursors on one hardened mart connection, at most ``size`` in use at once.

    Cursors are kept and handed out again (one thread at a time each), so what is remembered per
    connection — the vocabulary's answers (``schema_catalog.resolve.Vocabulary.of``) — survives
    from one request to the next.
    """

    def __init__(
        self, path: Path, size: int, *, memory_limit: str | None = None, threads: int | None = None
    ) -> None:
        self.path = Path(path)
        self.root = open_mart(self.path, memory_limit=memory_limit, threads=threads)
        self._sem = threading.BoundedSemaphore(max(1, size))
        self._lock = threading.Lock()
        self._idle: list[duckdb.DuckDBPyConnection] = []

    @contextmanager
    def connection(self, wait_s: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for this thread; ``503 busy`` (with ``Retry-After``) when none frees up in ``wait_s``."""
        if not self._sem.acquire(timeout=wait_s):
            raise ApiError(
                503,
                "busy",
                "The mart is busy with other queries; try again in a moment.",
                headers={"Retry-After": "5"},
            )
        try:
            with self._lock:  # cursor() on the shared root connection, one thread at a time
                cur = self._idle.pop() if self._idle else self.root.cursor()
            try:
                yield cur
            finally:
                with self._lock:
                    self._idle.append(cur)
        finally:
            self._sem.release()

    def close(self) -> None:
        with self._lock:
            for cur in self._idle:
                cur.close()
            self._idle.clear()
        self.root.close()
