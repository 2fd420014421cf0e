# Every command the README names. Each target does its own set-up on a fresh machine:
# a bootstrap uv, one virtualenv per Airflow version, and a migrated throwaway Airflow home.

PYTHON ?= python3.11
AIRFLOW3_VERSION ?= 3.3.2
AIRFLOW2_VERSION ?= 2.10.5

TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV3 := .venv
VENV2 := .venv-af2
HOME3 := $(CURDIR)/.airflow/af3
HOME2 := $(CURDIR)/.airflow/af2

AIRFLOW_ENV = AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING

.PHONY: help venv test test-af3 test-af2 lint format demo bench clean

help:
	@echo "make demo   run the treasury report DAG end to end against the bundled OKX simulator"
	@echo "make test   lint, then the whole suite on Airflow $(AIRFLOW3_VERSION) and $(AIRFLOW2_VERSION)"
	@echo "make bench  the benchmark table (bench/RESULTS.md records a run)"
	@echo "make lint   ruff check, ruff format --check, mypy"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv

$(VENV3)/.installed: pyproject.toml | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV3)
	VIRTUAL_ENV=$(CURDIR)/$(VENV3) $(UV) pip install --quiet -e ".[test,lint,bench]" \
		"apache-airflow==$(AIRFLOW3_VERSION)" "apache-airflow-providers-http"
	touch $@

# Airflow 2.10.5 predates universal-pathlib 0.3 (its ObjectStoragePath rejects every protocol
# with it): pin what its own constraints file pins.
$(VENV2)/.installed: pyproject.toml | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV2)
	VIRTUAL_ENV=$(CURDIR)/$(VENV2) $(UV) pip install --quiet -e ".[test]" "apache-airflow==$(AIRFLOW2_VERSION)" \
		"universal-pathlib==0.2.6"
	touch $@

$(HOME3)/.migrated: $(VENV3)/.installed
	mkdir -p $(HOME3)
	AIRFLOW_HOME=$(HOME3) $(AIRFLOW_ENV) $(VENV3)/bin/airflow db migrate > $(HOME3)/migrate.log 2>&1 \
		|| (cat $(HOME3)/migrate.log; exit 1)
	touch $@

$(HOME2)/.migrated: $(VENV2)/.installed
	mkdir -p $(HOME2)
	AIRFLOW_HOME=$(HOME2) $(AIRFLOW_ENV) $(VENV2)/bin/airflow db migrate > $(HOME2)/migrate.log 2>&1 \
		|| (cat $(HOME2)/migrate.log; exit 1)
	touch $@

venv: $(HOME3)/.migrated $(HOME2)/.migrated

lint: $(VENV3)/.installed
	$(VENV3)/bin/ruff check .
	$(VENV3)/bin/ruff format --check .
	$(VENV3)/bin/mypy

format: $(VENV3)/.installed
	$(VENV3)/bin/ruff format .
	$(VENV3)/bin/ruff check --fix .

test-af3: $(HOME3)/.migrated
	AIRFLOW_HOME=$(HOME3) $(AIRFLOW_ENV) $(VENV3)/bin/python -m pytest $(PYTEST_ARGS)

test-af2: $(HOME2)/.migrated
	AIRFLOW_HOME=$(HOME2) $(AIRFLOW_ENV) $(VENV2)/bin/python -m pytest $(PYTEST_ARGS)

test: lint test-af3 test-af2

demo: $(VENV3)/.installed
	$(VENV3)/bin/python demo/run_demo.py

bench: $(HOME3)/.migrated
	AIRFLOW_HOME=$(HOME3) $(AIRFLOW_ENV) $(VENV3)/bin/python -m bench

clean:
	rm -rf $(TOOLS) $(VENV3) $(VENV2) .airflow .pytest_cache .mypy_cache .ruff_cache
