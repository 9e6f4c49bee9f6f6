# The two commands a new user needs: `make demo` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
COHORT := $(VENV)/bin/cohort
SEED_EN := patients diagnosed between 2023-10-01 and 2023-10-10 who had a surgery for myocardial infarction or coronary artery disease 7 to 14 days after the diagnosis
SEED_KO := 2023년 10월 1일부터 열흘 동안 진단을 받은 환자 중에 진단일 기준 7일부터 14일 이내 수술명에 심근경색이나 관상 동맥 질환이 있는 명단을 모아줘

.PHONY: setup demo test test-fast lint bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(COHORT) demo-data --persons 20000 --seed 42 --out demo
	$(COHORT) ask --mart demo/mart.duckdb "$(SEED_EN)"
	$(COHORT) ask --mart demo/mart.duckdb "$(SEED_KO)"

# Format, lint and types: all three must be clean (CI runs this through `make test`).
lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Everything: the real PostgreSQL, Orthanc and Chromium tests and the eval gate included.
test: setup lint
	bash scripts/setup-system.sh
	$(VENV)/bin/pytest

# The inner loop (under 30 s): no servers, no browser, nothing marked slow. Not a substitute for `make test`.
test-fast: setup
	$(VENV)/bin/pytest -m "not (postgres or orthanc or browser or slow)"

bench: setup
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done
