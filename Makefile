# Developer and CI entry points. `make` (or `make help`) lists the targets.
#
# Everything a clean clone needs is installed by `make setup` into three virtualenvs:
#   .venv          Python 3 (3.11): functions, tests, tools, lint
#   .venv-bq       Python 3.13: the local-bigquery emulator (it requires >= 3.13)
#   .venv-checkov  Python 3 (3.11): checkov, kept apart because it ships a conflicting `hcl2`
# Each venv carries a stamp named after a hash of its requirement files, so a repeated
# `make setup` is a no-op until one of those files changes.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BQ_VENV := .venv-bq
CHECKOV_VENV := .venv-checkov
# local-bigquery's duckdb looks for extensions under $HOME/.duckdb; tools/emulators.py starts the
# server with the same HOME.
BQ_HOME := $(CURDIR)/.local/bq-home
PIP_FLAGS := --quiet --disable-pip-version-check
# The functions' package (functions/) and the repo's tools/ and tests/ import each other's modules.
export PYTHONPATH := $(CURDIR)/functions:$(CURDIR)

VENV_REQS := requirements.txt functions/requirements.txt pyproject.toml
BQ_REQS := tools/requirements-bigquery-emulator.txt tools/requirements-bigquery-emulator-nodeps.txt
CHECKOV_REQS := tools/requirements-checkov.txt

reqs_hash = $(shell cat $(1) | sha256sum | cut -c1-16)
VENV_STAMP := $(VENV)/.setup-$(call reqs_hash,$(VENV_REQS))
BQ_STAMP := $(BQ_VENV)/.setup-$(call reqs_hash,$(BQ_REQS))
BQ_EXT_STAMP := $(BQ_HOME)/.setup-$(call reqs_hash,$(BQ_REQS))
CHECKOV_STAMP := $(CHECKOV_VENV)/.setup-$(call reqs_hash,$(CHECKOV_REQS))

# Registers every .duckdb_extension file shipped by the duckdb-extension-* wheels, so duckdb
# never tries to download one (there is no network here).
define INSTALL_DUCKDB_EXTENSIONS
import importlib.metadata as md
import duckdb

con = duckdb.connect()
installed = []
for dist in md.distributions():
    if not dist.metadata["Name"].lower().replace("_", "-").startswith("duckdb-extension-"):
        continue
    for f in dist.files or []:
        if f.name.endswith(".duckdb_extension"):
            path = str(f.locate()).replace("'", "''")
            con.execute(f"INSTALL '{path}'")
            installed.append(f.name)
if not installed:
    raise SystemExit("error: no .duckdb_extension file found in the duckdb-extension-* packages")
print("duckdb extensions installed:", ", ".join(sorted(installed)))
endef
export INSTALL_DUCKDB_EXTENSIONS

.PHONY: help setup up down status run activities docs schema-check test test-unit bench bench-files bench-memory bundle lint clean

help: ## List the targets (default)
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z_-]+:[^#]*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(VENV_STAMP) $(BQ_EXT_STAMP) $(CHECKOV_STAMP) ## Create/refresh .venv, .venv-bq and .venv-checkov (no-op when up to date)

$(VENV_STAMP):
	rm -f $(VENV)/.setup-*
	$(VENV)/bin/python -c '' 2>/dev/null || $(PYTHON) -m venv --clear $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -r requirements.txt
	# The `ingest` command (pyproject.toml), editable so it always runs this checkout's code.
	$(VENV)/bin/pip install $(PIP_FLAGS) --no-deps --no-build-isolation -e .
	touch $@

$(BQ_STAMP):
	rm -f $(BQ_VENV)/.setup-*
	@if ! $(BQ_VENV)/bin/python -c '' 2>/dev/null; then \
	  py=""; \
	  for cand in python3.13 "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.13*/bin/python3.13; do \
	    if "$$cand" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then py="$$cand"; break; fi; \
	  done; \
	  if [ -z "$$py" ]; then \
	    echo "error: the BigQuery emulator needs Python 3.13: no working python3.13 on PATH or under $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*" >&2; \
	    exit 1; \
	  fi; \
	  echo "creating $(BQ_VENV) with $$py"; \
	  "$$py" -m venv --clear $(BQ_VENV); \
	fi
	$(BQ_VENV)/bin/pip install $(PIP_FLAGS) -r tools/requirements-bigquery-emulator.txt
	@echo "Pinning duckdb 1.5.5 over local-bigquery's duckdb>=2.0.0 (2.0.0 cannot load extensions offline)"
	$(BQ_VENV)/bin/pip install $(PIP_FLAGS) --no-deps -r tools/requirements-bigquery-emulator-nodeps.txt
	touch $@

# Separate from the venv stamp so that deleting .local (emulator state) only redoes this fast step.
$(BQ_EXT_STAMP): $(BQ_STAMP)
	rm -f $(BQ_HOME)/.setup-*
	mkdir -p $(BQ_HOME)
	HOME=$(BQ_HOME) $(BQ_VENV)/bin/python -c "$$INSTALL_DUCKDB_EXTENSIONS"
	touch $@

$(CHECKOV_STAMP):
	rm -f $(CHECKOV_VENV)/.setup-*
	$(CHECKOV_VENV)/bin/python -c '' 2>/dev/null || $(PYTHON) -m venv --clear $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install $(PIP_FLAGS) -r $(CHECKOV_REQS)
	touch $@

up: setup ## Start the emulators, serve the three functions, wire topics, bucket and tables
	$(VENV)/bin/python -m tools.local_run up

down: ## Stop the emulators and the function servers
	$(VENV)/bin/python -m tools.emulators down

status: ## Show which emulators are running and the client environment
	$(VENV)/bin/python -m tools.emulators status

run: setup ## Whole pipeline locally: stack up, sample traffic end to end, report (stays up)
	$(VENV)/bin/python -m tools.local_run demo

activities: $(VENV_STAMP) ## Build user_activity on the running stack (the production scheduled query's SQL) and print a few
	$(VENV)/bin/python -m tools.activities

docs: $(VENV_STAMP) ## Regenerate the table and view pages of docs/tables/ from schemas/ (a test fails when stale)
	$(VENV)/bin/python -m tools.table_docs

schema-check: $(VENV_STAMP) ## Fail on a breaking schema change since main not declared in schemas/breaking_changes.json
	$(VENV)/bin/python -m tools.schema_changes

test: setup ## Run the whole test suite (extra pytest flags: PYTEST_ARGS="...")
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-unit: $(VENV_STAMP) ## Run only the unit and contract tests (no emulators)
	$(VENV)/bin/python -m pytest tests/unit tests/contract $(PYTEST_ARGS)

# BENCH_SCALE shrinks (or grows) the envelope bench's windows, e.g. `make bench BENCH_SCALE=0.1` for a
# quick look; its figures, the input of the cost table, and the function servers' logs go to .local/bench.
BENCH_SCALE ?= 1
BENCH_DIR := .local/bench
bench: $(VENV_STAMP) ## Record path, function envelope (CPU/request, events/s/vCPU, RSS) and $ per million events (~2 min)
	$(VENV)/bin/python -m benchmarks.pipeline_bench
	mkdir -p $(BENCH_DIR)
	BENCH_SCALE=$(BENCH_SCALE) $(VENV)/bin/python -m benchmarks.envelope_bench --json $(BENCH_DIR)/envelope.json --log-dir $(BENCH_DIR)
	$(VENV)/bin/python -m benchmarks.cost --from $(BENCH_DIR)/envelope.json
	$(VENV)/bin/python benchmarks/enrich_bench.py

bench-files: $(VENV_STAMP) ## A 1 GiB partner file (plain and gzip) through ingest_file: lines/s and peak RSS (minutes)
	$(VENV)/bin/python -m benchmarks.file_bench

bench-memory: $(VENV_STAMP) ## Peak RSS of one instance under hostile messages and long distinct cache keys
	$(VENV)/bin/python -m benchmarks.memory_bench

bundle: $(VENV_STAMP) ## Build the deployable function bundle
	$(VENV)/bin/python -m tools.bundle

lint: $(VENV_STAMP) ## Lint the Python sources with ruff
	$(VENV)/bin/ruff check functions tools tests benchmarks

clean: ## Stop the emulators, then remove the venvs, .local and build
	if [ -x $(VENV)/bin/python ]; then $(VENV)/bin/python -m tools.emulators down || true; fi
	rm -rf .venv* .local build
