"""The settings of one app instance: which mart and state file, k, time limits, pool size, and the
resource caps (mart memory and threads, heavy requests in flight per key)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cohort_engine.api.suppression import DEFAULT_K


@dataclass
class Settings:
    mart: Path
    state_db: Path
    k: int = DEFAULT_K
    query_timeout_s: float = 30.0
    max_concurrent_queries: int = 8
    #: heavy requests (ask, sql, stats, manifest) one key may have in flight; more get 429. Four: one
    #: chat page runs a cohort and its charts at once, and a user may keep a second tab or a script open.
    max_inflight_per_key: int = 4
    #: DuckDB memory limit and worker threads of the mart (None: the runner's defaults)
    mart_memory_limit: str | None = None
    mart_threads: int | None = None
    manifest_page_max: int = 10_000
    export_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
