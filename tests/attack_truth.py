"""Ground truth for the attack suite, read directly from the mart file (read-only DuckDB).

The cohort's persons and counts come from the pipeline's compiler run on our own read-only connection
(no API, no disclosure layer); the imaging rows from the DICOM index's own selection; everything else
from plain SQL on the OMOP tables. An attack succeeded when what the API showed equals these values
more exactly than the disclosure model allows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from cohort_engine.dicom_index.select import run_cohort_imaging
from cohort_engine.pipeline import AskResult, compile_spec, run_spec
from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.runner import open_mart


@dataclass
class ImagingTruth:
    person_id: int
    series_date: dt.date
    days_from_index: int
    modality: str | None
    n_instances: int
    total_bytes: int


class Truth:
    def __init__(self, mart: Path) -> None:
        self.con: duckdb.DuckDBPyConnection = open_mart(mart)

    def close(self) -> None:
        self.con.close()

    def run(self, spec: Mapping[str, Any]) -> AskResult:
        return run_spec(CohortSpec.model_validate(spec), self.con, sample_size=0, include_person_ids=True)

    def count(self, spec: Mapping[str, Any]) -> int:
        n = self.run(spec).count
        assert n is not None, "ground truth: the spec did not run"
        return n

    def imaging(self, spec: Mapping[str, Any]) -> list[ImagingTruth]:
        s = CohortSpec.model_validate(spec)
        compiled = compile_spec(s, self.con)
        res = run_cohort_imaging(self.con, compiled, s.imaging, "series")
        cols = [c.lower() for c in res.columns]
        out = []
        for row in res.rows:
            r = dict(zip(cols, row, strict=True))
            out.append(
                ImagingTruth(
                    person_id=int(r["person_id"]),
                    series_date=r["series_date"],
                    days_from_index=int(r["days_from_index"]),
                    modality=r["modality"],
                    n_instances=int(r["n_instances"] or 0),
                    total_bytes=int(r["total_bytes"] or 0),
                )
            )
        return out

    def scalar(self, sql: str) -> Any:
        rows = self.con.execute(sql).fetchall()
        assert rows, sql
        return rows[0][0]


def index_dates(truth: Truth, spec: Mapping[str, Any]) -> dict[int, dt.date]:
    """Each cohort person's index date (the compiled cohort's own rows)."""
    compiled = compile_spec(CohortSpec.model_validate(spec), truth.con)
    return {int(p): d for p, d, *_ in truth.con.execute(compiled.cohort_sql).fetchall()}
