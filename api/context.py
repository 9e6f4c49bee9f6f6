"""The objects one app instance holds (settings, state file, mart pool, services, job runner)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from cohort_engine.api.codesets import CodesetService
from cohort_engine.api.jobs import JobRunner
from cohort_engine.api.pool import MartPool
from cohort_engine.api.service import CohortService
from cohort_engine.api.settings import Settings
from cohort_engine.api.state import StateStore


@dataclass
class AppContext:
    settings: Settings
    state: StateStore
    pool: MartPool
    service: CohortService
    codesets: CodesetService
    jobs: JobRunner

    def close(self) -> None:
        self.jobs.shutdown()
        self.pool.close()
        self.state.close()


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]
