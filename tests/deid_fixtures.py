"""The planted de-identification corpus as module fixtures, shared by the release tests.

Importing ``corpus``, ``mart`` and ``compiled`` into a test module gives it its own copy (module scope):
the export tests write beside the corpus, and no module should see another's files.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cohort_engine.spec import CohortSpec
from cohort_engine.sql_guard.compiler import CompiledCohort, compile_cohort
from cohort_engine.sql_guard.runner import open_mart
from tests.test_deid_leaks import SPEC, Corpus, build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("deid-corpus"))


@pytest.fixture(scope="module")
def mart(corpus: Corpus) -> Iterator[Any]:
    con = open_mart(corpus.mart)
    yield con
    con.close()


@pytest.fixture(scope="module")
def compiled() -> CompiledCohort:
    return compile_cohort(CohortSpec.model_validate(SPEC), {})
