# Every command CONTRIBUTING.md names. Each target does its own set-up on a fresh machine:
# a bootstrap uv, one virtualenv per Airflow version, and a migrated throwaway Airflow home.
#
# The Airflow versions (CI legs) and the pins each needs live in one table,
# .ci/airflow-versions.txt; this file only reads it.

PYTHON ?= python3.11
VERSIONS := .ci/airflow-versions.txt

TOOLS := .tools
UV := $(TOOLS)/bin/uv

# Legs in table order; the first is the newest Airflow 3 and owns .venv (lint, demo, bench,
# the real-deployment test). A leg's virtualenv is .venv-<leg>, its Airflow home .airflow/<leg>.
LEGS := $(shell awk '!/^\#/ && NF {print $$1}' $(VERSIONS))
NEWEST := $(firstword $(LEGS))
airflow_version = $(shell awk '$$1 == "$(1)" {print $$2}' $(VERSIONS))
pins = $(shell awk '$$1 == "$(1)" {for (i = 3; i <= NF; i++) printf "%s ", $$i}' $(VERSIONS))
venv = $(if $(filter $(NEWEST),$(1)),.venv,.venv-$(1))
home = $(CURDIR)/.airflow/$(1)

# Development dependencies are PEP 735 groups of pyproject.toml (never published extras).
# The newest leg also carries the developer tools, the docs and packaging tools, what the
# benchmarks compare against, and Celery (pinned in pyproject.toml's `celery` extra) for the
# CeleryExecutor deployment test.
groups = --group test $(if $(filter $(NEWEST),$(1)),--group lint --group bench --group docs --group dist)
extras = $(if $(filter $(NEWEST),$(1)),[celery])
extra_packages = $(if $(filter $(NEWEST),$(1)),apache-airflow-providers-http)

AIRFLOW_ENV = AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING
# Each leg's suite; the cache provider would write .pytest_cache into the clone.
PYTEST := -m pytest -p no:cacheprovider
DEPLOYMENT_TIMEOUT ?= 1200
CELERY_TIMEOUT ?= 600

.PHONY: help venv test lint format demo bench bench-smoke clean test-af3 test-af2 test-deployment \
	test-celery postgres redis test-legs versions screenshots docs docs-serve dist-check \
	$(addprefix test-,$(LEGS))

help:
	@echo "make demo             run the treasury report DAG end to end against the bundled OKX simulator"
	@echo "make test             lint, the suite on every Airflow in $(VERSIONS), the deployment tests (Local, Celery)"
	@echo "make test-<leg>       the suite on one leg: $(LEGS) (test-af3 = newest, test-af2 = 2.10)"
	@echo "make test-deployment  scheduler, dag-processor, triggerer, api-server and the simulator as processes"
	@echo "make test-celery      the same on CeleryExecutor: PostgreSQL, Redis, two workers, one shared rate budget"
	@echo "make versions         the legs, their Airflow versions and pins"
	@echo "make screenshots      the OKX connection form in headless Chromium (newest 3.x and 2.10)"
	@echo "make bench            the benchmark table (bench/RESULTS.md records a run)"
	@echo "make bench-smoke      every benchmark figure at its smallest size (part of make test)"
	@echo "make lint             ruff check, ruff format --check, mypy, vermin, the import layers and cycles"
	@echo "make docs             the documentation site (MkDocs, warnings as errors) into site/"
	@echo "make dist-check       build the sdist and wheel, twine check, check-wheel-contents, example DAGs from a clean install"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv>=0.8"

versions:
	@$(foreach leg,$(LEGS),echo "$(leg): apache-airflow==$(call airflow_version,$(leg)) $(call pins,$(leg))";)

# One virtualenv and one migrated Airflow home per leg. A virtualenv is rebuilt from scratch
# (so a pin removed from the table does not linger) only when pyproject.toml or the table
# changed; otherwise its stamp is fresh and nothing is reinstalled.
define LEG_RULES
$(call venv,$(1))/.installed: pyproject.toml $(VERSIONS) | $(UV)
	rm -rf $(call venv,$(1))
	$(UV) venv --quiet --python $(PYTHON) $(call venv,$(1))
	VIRTUAL_ENV=$(CURDIR)/$(call venv,$(1)) $(UV) pip install --quiet -e ".$(call extras,$(1))" $(call groups,$(1)) \
		"apache-airflow==$(call airflow_version,$(1))" $(call pins,$(1)) $(call extra_packages,$(1))
	touch $$@

$(call home,$(1))/.migrated: $(call venv,$(1))/.installed
	rm -rf $(call home,$(1))
	mkdir -p $(call home,$(1))
	AIRFLOW_HOME=$(call home,$(1)) $(AIRFLOW_ENV) $(call venv,$(1))/bin/airflow db migrate \
		> $(call home,$(1))/migrate.log 2>&1 || (cat $(call home,$(1))/migrate.log; exit 1)
	touch $$@

test-$(1): $(call home,$(1))/.migrated postgres redis
	@echo "=== Airflow $(call airflow_version,$(1)) ($(1)) $(call pins,$(1))"
	AIRFLOW_HOME=$(call home,$(1)) $(AIRFLOW_ENV) $(call venv,$(1))/bin/python $(PYTEST) \
		--ignore=tests/deployment $(PYTEST_ARGS)
endef
$(foreach leg,$(LEGS),$(eval $(call LEG_RULES,$(leg))))

venv: $(foreach leg,$(LEGS),$(call home,$(leg))/.migrated)

test-af2: test-af210

test-legs: $(addprefix test-,$(LEGS))

# The provider on a real multi-process deployment of the newest Airflow 3 (own Airflow home
# and ports, all on loopback); bounded so a hang fails CI instead of stalling it.
test-deployment: $(call home,$(NEWEST))/.migrated redis
	OKX_DEPLOYMENT_TEST=1 timeout --kill-after=30 $(DEPLOYMENT_TIMEOUT) \
		$(call venv,$(NEWEST))/bin/python $(PYTEST) -rP tests/deployment $(PYTEST_ARGS)

# CeleryExecutor with PostgreSQL, Redis and two workers of 4 slots, against the simulator's
# 5 requests/s for the key (tests/deployment/test_celery_deployment.py); bounded like the above.
test-celery: $(call home,$(NEWEST))/.migrated postgres redis
	OKX_CELERY_TEST=1 timeout --kill-after=30 $(CELERY_TIMEOUT) \
		$(call venv,$(NEWEST))/bin/python $(PYTEST) -rP tests/deployment/test_celery_deployment.py $(PYTEST_ARGS)

# PostgreSQL's server binaries for the SQL loader's tests (they start their own server on
# loopback); installs Debian's package when missing, does nothing otherwise.
postgres:
	bash scripts/ensure-postgres.sh

# Redis's server binary for the shared rate budget's tests (they start their own server on
# loopback and a free port); installs Debian's package when missing, does nothing otherwise.
redis:
	bash scripts/ensure-redis.sh

test: lint docs dist-check bench-smoke test-legs test-deployment test-celery

# The connection form in a real browser: headless Chromium from Debian's packages
# (apt-get install -y chromium chromium-driver) driven by selenium, on the newest Airflow 3 and
# on Airflow 2.10; PNGs and form.json under screenshots/. About 40 s per version; not part of
# `make test` (CI machines may lack Chromium).
screenshots: $(call venv,$(NEWEST))/.installed $(call venv,af210)/.installed
	VIRTUAL_ENV=$(CURDIR)/.venv $(UV) pip install --quiet "selenium>=4.20"
	.venv/bin/python scripts/connection_form_screenshot.py --venv .venv --out screenshots/$(NEWEST)
	.venv/bin/python scripts/connection_form_screenshot.py --venv $(call venv,af210) --out screenshots/af210

lint: $(call venv,$(NEWEST))/.installed
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/vermin --target=3.10- --violations --no-tips --eval-annotations airflow_provider_okx
	.venv/bin/lint-imports --no-cache
	.venv/bin/python scripts/import_cycles.py

format: $(call venv,$(NEWEST))/.installed
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# The documentation site (docs/, mkdocs.yml): --strict makes every warning (a broken link, a
# missing page, an API reference that does not resolve) an error.
docs: $(call venv,$(NEWEST))/.installed
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir site

docs-serve: $(call venv,$(NEWEST))/.installed
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs serve

# The sdist and wheel as a packager and a pip user get them (scripts/dist_check.py): built
# from the sdist, twine check, check-wheel-contents, and the example DAGs imported from the
# wheel installed into a clean virtualenv with the newest Airflow.
dist-check: $(call venv,$(NEWEST))/.installed
	.venv/bin/python scripts/dist_check.py --uv $(UV) --python $(PYTHON) \
		"apache-airflow==$(call airflow_version,$(NEWEST))" $(call pins,$(NEWEST))

demo: $(call venv,$(NEWEST))/.installed
	.venv/bin/python demo/run_demo.py

bench: $(call home,$(NEWEST))/.migrated redis
	AIRFLOW_HOME=$(call home,$(NEWEST)) $(AIRFLOW_ENV) .venv/bin/python -m bench

# Every figure at its smallest size (seconds each): fails when a figure cannot run, never because
# a number moved. Part of `make test`.
bench-smoke: $(call home,$(NEWEST))/.migrated redis
	AIRFLOW_HOME=$(call home,$(NEWEST)) $(AIRFLOW_ENV) .venv/bin/python -m bench --smoke

clean:
	rm -rf $(TOOLS) .venv .venv-* .airflow .pytest_cache .mypy_cache .ruff_cache screenshots site dist
