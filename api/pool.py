"""The pool of read-only mart cursors the API's requests run on, behind a bounded, first-come queue.

A DuckDB connection must not be used by two threads at once, so each request takes its own cursor
(``root.cursor()``: a separate connection to the same read-only database, with the same hardened,
locked settings) from :class:`MartPool`, which also bounds how many queries run at once.

Why a bounded queue: on a small machine the mart is the bottleneck (an ask spends most of its time
in DuckDB, which already uses every core through its own threads). More queries at once than there
are cores only make each slower; an unbounded wait makes every answer slower under a burst, until
clients time out. So at most ``size`` requests hold a cursor, at most ``max_waiting`` wait for one, in
order of arrival, each for at most ``wait_s``; any other request is told at once ``503 busy`` with a
``Retry-After``, and its client comes back when the burst has passed.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from cohort_engine.api.errors import ApiError
from cohort_engine.sql_guard.errors import QueryError
from cohort_engine.sql_guard.runner import open_mart

#: What a request that finds the queue full (or waits past its time) is told.
BUSY_MESSAGE = "The mart is busy with other queries; try again in a moment (see Retry-After)."


class MartBusy(ApiError):
    """``503 busy`` with ``Retry-After``: no cursor for this request now."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(503, "busy", BUSY_MESSAGE, headers={"Retry-After": str(retry_after_s)})


class _Admission:
    """``size`` slots, handed to waiters first come, first served (no barging: a released slot goes to
    the longest waiter, not to whichever thread asks next), with at most ``max_waiting`` waiting."""

    def __init__(self, size: int, max_waiting: int) -> None:
        self.size = max(1, size)
        self.max_waiting = max(0, max_waiting)
        self._lock = threading.Lock()
        self._free = self.size
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, wait_s: float, *, bounded: bool) -> bool:
        """Take a slot; False when the queue is full (``bounded``) or none came in ``wait_s``."""
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            if bounded and len(self._waiters) >= self.max_waiting:
                return False
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(wait_s):
            return True
        with self._lock:
            if turn.is_set():  # handed a slot between the time-out and this lock
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()  # the slot passes straight to the longest waiter
            else:
                self._free += 1

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiters)

    @property
    def running(self) -> int:
        with self._lock:
            return self.size - self._free


class MartPool:
    """Read-only cursors on one hardened mart connection, at most ``size`` in use at once.

    Cursors are kept and handed out again (one thread at a time each), so what is remembered per
    connection — the vocabulary's answers (``schema_catalog.resolve.Vocabulary.of``) — survives
    from one request to the next.
    """

    def __init__(
        self,
        path: Path,
        size: int,
        *,
        max_waiting: int = 32,
        wait_s: float = 10.0,
        retry_after_s: int = 2,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.root = open_mart(self.path, memory_limit=memory_limit, threads=threads)
        self.wait_s = wait_s
        self.retry_after_s = retry_after_s
        self._admission = _Admission(size, max_waiting)
        self._lock = threading.Lock()
        self._idle: list[duckdb.DuckDBPyConnection] = []

    @property
    def size(self) -> int:
        return self._admission.size

    @property
    def waiting(self) -> int:
        """Requests waiting for a cursor now."""
        return self._admission.waiting

    @property
    def running(self) -> int:
        """Cursors in use now."""
        return self._admission.running

    @contextmanager
    def connection(self, wait_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for this thread, or :class:`MartBusy` (``503 busy`` with ``Retry-After``).

        Without ``wait_s`` (a request a person waits on) the request joins the bounded queue: refused
        at once when ``max_waiting`` are already waiting, or after the pool's ``wait_s``. A caller that
        names its own ``wait_s`` (a background job, the health check) waits that long whatever the
        queue's length: it has no client to send away, or must not be sent away for being late.
        """
        bounded = wait_s is None
        if not self._admission.acquire(self.wait_s if wait_s is None else wait_s, bounded=bounded):
            raise MartBusy(self.retry_after_s)
        try:
            with self._lock:  # cursor() on the shared root connection, one thread at a time
                cur = self._idle.pop() if self._idle else self.root.cursor()
            try:
                yield cur
            except QueryError as e:
                # Out of memory while other queries held theirs is the crowd's doing, not the query's:
                # the same request alone would fit, so the client is told to come back, not that its
                # query failed. Alone, it is the query's own answer (``400 query_failed``).
                if e.kind == "OutOfMemoryException" and self._admission.running > 1:
                    raise MartBusy(self.retry_after_s) from None
                raise
            finally:
                with self._lock:
                    self._idle.append(cur)
        finally:
            self._admission.release()

    def close(self) -> None:
        with self._lock:
            for cur in self._idle:
                cur.close()
            self._idle.clear()
        self.root.close()
