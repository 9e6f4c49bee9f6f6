"""The settings of one app instance: which mart and state file, k, time limits, pool size, and the
resource caps (mart memory and threads, heavy requests in flight per key)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cohort_engine.api.suppression import DEFAULT_K

#: Cursors in use at once: one query per core. DuckDB already spreads one query over its threads, so
#: more concurrent queries than cores only slice the same CPUs finer and make every answer later.
DEFAULT_POOL_SIZE = min(8, max(2, os.cpu_count() or 2))
#: DuckDB threads of the mart in ``cohort serve`` (and ``app_from_env``): the cores left to each cursor
#: of the pool (one on a machine with no more cores than pool slots), at most 4. Why not every core per
#: query: under load the pool already keeps every core busy with its own query, and DuckDB's parallel
#: hash tables and merges only add work then (on the 1M mart, 2 cores, 20 clients: ~20 % more CPU per
#: ask with 2 threads than with 1, and slower answers). DuckDB's ``threads`` belongs to the database
#: instance, not to a cursor, so this is the one knob. ``create_app`` keeps the runner's default unless
#: told, because DuckDB refuses a second connection to the same file in one process with other settings.
DEFAULT_MART_THREADS = max(1, min(4, (os.cpu_count() or 1) // DEFAULT_POOL_SIZE))
#: Requests that may wait for a cursor; with 20 clients on 2 cores all of them wait, none is refused.
DEFAULT_MAX_QUEUED = 32
#: How long one waits before ``503 busy``: past this, an answer is too late to be worth the wait.
DEFAULT_QUEUE_WAIT_S = 10.0


@dataclass
class Settings:
    mart: Path
    state_db: Path
    k: int = DEFAULT_K
    query_timeout_s: float = 30.0
    #: requests holding a mart cursor at once (``api.pool``): more than the cores only makes each slower
    max_concurrent_queries: int = DEFAULT_POOL_SIZE
    #: requests waiting for a cursor, first come first served; one more is told ``503 busy`` at once
    max_queued_queries: int = DEFAULT_MAX_QUEUED
    #: seconds a request waits in that queue before it is told ``503 busy`` (bounds the p99)
    queue_wait_s: float = DEFAULT_QUEUE_WAIT_S
    #: the ``Retry-After`` of a ``503 busy``, seconds
    busy_retry_after_s: int = 2
    #: heavy requests (ask, sql, stats, manifest) one key may have in flight; more get 429. Four: one
    #: chat page runs a cohort and its charts at once, and a user may keep a second tab or a script open.
    max_inflight_per_key: int = 4
    #: DuckDB memory limit and worker threads of the mart (None: the runner's defaults)
    mart_memory_limit: str | None = None
    mart_threads: int | None = None
    manifest_page_max: int = 10_000
    export_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Release requests (api/release_requests.py): distinct stewards who must approve (none of them the
    #: requester); how long a built package stays downloadable; how many complete downloads it allows
    #: (None: any number until it expires); how often expired packages are swept away. The environment
    #: sets them for `cohort serve` (COHORT_RELEASE_QUORUM, COHORT_PACKAGE_TTL_S, COHORT_PACKAGE_DOWNLOADS).
    release_quorum: int = field(default_factory=lambda: int(os.environ.get("COHORT_RELEASE_QUORUM", "2")))
    release_package_ttl_s: float = field(
        default_factory=lambda: float(os.environ.get("COHORT_PACKAGE_TTL_S", str(7 * 24 * 3600)))
    )
    release_max_downloads: int | None = field(
        default_factory=lambda: (
            int(os.environ["COHORT_PACKAGE_DOWNLOADS"])
            if os.environ.get("COHORT_PACKAGE_DOWNLOADS")
            else None
        )
    )
    release_sweep_interval_s: float = 600.0

    @property
    def mart_name(self) -> str:
        """The mart as clients see it: the file's name, or a PostgreSQL URL's database (never its host,
        socket folder or password)."""
        from cohort_engine.schema_catalog.mart_url import parse_mart

        return parse_mart(self.mart).name
