# lstm-tune: every target bootstraps the virtual environment on first use.
# Python 3.11-3.13: the newest that runs here, unless PYTHON= names one.
SUPPORTED_PYTHONS := python3.13 python3.12 python3.11
ifeq ($(origin PYTHON),undefined)
PYTHON := $(firstword $(foreach p,$(SUPPORTED_PYTHONS),$(shell $(p) -c '' >/dev/null 2>&1 && echo $(p))) python3)
endif
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

PROBLEM ?= addition
ARCH ?= all
TRIALS ?=
SEEDS ?=
WORKERS ?=
BATCH ?=
PRUNER ?=
TIMEOUT ?=
STORAGE ?=
TRACKING ?=
SPACE ?=
DATA ?=
TAG ?=
ENGINE ?=
KT_ALGO ?=
SAMPLER ?=
REPORT ?= 1
FUSE ?= 1
TOP_K ?=
REPEATS ?=
MARGIN ?=
ENSEMBLE ?=
INPUT ?=
INPUT_FILE ?=
HOST ?=
PORT ?=

opt = $(if $(2),$(1) $(2))
CLI = $(PY) -m pipeline.cli $(if $(filter 1 yes true,$(VERBOSE)),-v)
NOFUSE = $(if $(filter 0 no false,$(FUSE)),--no-fuse)

.PHONY: venv test test-fast tune report predict serve dashboard retune schedule rollback history sync reproduce bench server ui clean docs docs-serve

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null || \
		{ echo "need Python 3.11, 3.12 or 3.13 (PYTHON=$(PYTHON) is not one); e.g. make PYTHON=python3.12"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	PYTHONWARNINGS=ignore $(PY) -m pip install -q --upgrade pip setuptools wheel
	PYTHONWARNINGS=ignore $(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

# Everything: unit, integration (real training and stores), end to end (stages, subprocesses, servers).
test: $(STAMP)
	$(PY) -m pytest -q tests

# The fast lane: unit tests only (no training), well under 2 minutes.
test-fast: $(STAMP)
	$(PY) -m pytest -q tests/unit

tune: $(STAMP)
	@$(CLI) tune --problem $(PROBLEM) --arch $(ARCH) $(call opt,--trials,$(TRIALS)) $(call opt,--timeout,$(TIMEOUT)) \
		$(call opt,--seeds,$(SEEDS)) $(call opt,--workers,$(WORKERS)) $(call opt,--batch,$(BATCH)) $(call opt,--pruner,$(PRUNER)) $(call opt,--storage,$(STORAGE)) $(call opt,--tracking,$(TRACKING)) \
		$(call opt,--space,$(SPACE)) $(call opt,--tag,$(TAG)) $(foreach d,$(DATA),--data $(d)) \
		$(call opt,--engine,$(ENGINE)) $(call opt,--kt-algorithm,$(KT_ALGO)) $(call opt,--sampler,$(SAMPLER)) \
		$(if $(filter 0 no false,$(REPORT)),--no-report) $(NOFUSE) $(call opt,--top-k,$(TOP_K)) $(call opt,--report-seeds,$(REPEATS)) \
		$(call opt,--margin,$(MARGIN)) $(call opt,--ensemble,$(ENSEMBLE))

report: $(STAMP)
	@$(CLI) report --problem $(PROBLEM) $(call opt,--top-k,$(TOP_K)) $(call opt,--repeats,$(REPEATS)) \
		$(call opt,--margin,$(MARGIN)) $(call opt,--ensemble,$(ENSEMBLE)) \
		$(call opt,--storage,$(STORAGE)) $(call opt,--tracking,$(TRACKING)) $(NOFUSE)

predict: $(STAMP)
	@$(CLI) predict --problem $(PROBLEM) $(if $(INPUT),--input '$(INPUT)') \
		$(call opt,--input-file,$(INPUT_FILE)) $(call opt,--tracking,$(TRACKING))

# Serves the version ALIAS points at when it starts (restart after a promotion or rollback).
serve: $(STAMP)
	@$(CLI) serve --problem $(PROBLEM) $(call opt,--alias,$(ALIAS)) $(call opt,--host,$(HOST)) $(call opt,--port,$(PORT)) \
		$(call opt,--tracking,$(TRACKING))

# optuna-dashboard on the study storage (STORAGE= or runs/optuna.db).
dashboard: $(STAMP)
	@$(CLI) dashboard $(call opt,--host,$(HOST)) $(call opt,--port,$(PORT)) $(call opt,--storage,$(STORAGE))

retune: $(STAMP)
	@$(CLI) retune --problem $(PROBLEM) $(foreach d,$(DATA),--data $(d)) \
		$(call opt,--repeats,$(REPEATS)) $(call opt,--storage,$(STORAGE)) $(call opt,--tracking,$(TRACKING)) $(NOFUSE)

schedule: $(STAMP)
	@$(CLI) schedule --problem $(PROBLEM) $(if $(EVERY),--every '$(EVERY)') $(if $(DATA),--data '$(DATA)')

rollback history: $(STAMP)
	@$(CLI) $@ --problem $(PROBLEM) $(call opt,--tracking,$(TRACKING))

sync: $(STAMP)
	@$(CLI) sync $(call opt,--tracking,$(TRACKING))

reproduce: $(STAMP)
	@$(CLI) reproduce --problem $(PROBLEM) $(call opt,--seeds,$(SEEDS)) $(foreach d,$(DATA),--data $(d)) $(NOFUSE)

# Benchmarks (not part of `make test`): writes bench/results.md and bench/results.csv. ONLY=section,... QUICK=1
bench: $(STAMP)
	$(PY) -m bench $(call opt,--only,$(ONLY)) $(if $(QUICK),--quick)

PG_URL ?= postgresql://postgres@127.0.0.1:5432/mlflow

server: $(STAMP)
	-psql "$(dir $(PG_URL))postgres" -tc "SELECT 1 FROM pg_database WHERE datname = '$(notdir $(PG_URL))'" | grep -q 1 \
		|| psql "$(dir $(PG_URL))postgres" -c "CREATE DATABASE $(notdir $(PG_URL))"
	$(VENV)/bin/mlflow server --backend-store-uri $(PG_URL) --default-artifact-root $(CURDIR)/runs/mlartifacts \
		$(call opt,--host,$(HOST)) $(call opt,--port,$(PORT)) --workers 1

# Prints the URL of PROBLEM's runs page (and of the latest report's candidates), then starts the UI.
ui: $(STAMP)
	@$(PY) -m tracking.ui sqlite:///$(CURDIR)/runs/mlflow.db $(PROBLEM) http://$(or $(HOST),127.0.0.1):$(or $(PORT),5000)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/runs/mlflow.db \
		--default-artifact-root file://$(CURDIR)/runs/mlartifacts $(call opt,--host,$(HOST)) $(call opt,--port,$(PORT)) --workers 1

# The manual (docs/, MkDocs Material): built into site/ with broken links failing the build; served on HOST:PORT.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --strict -a $(or $(HOST),127.0.0.1):$(or $(PORT),8000)

clean:
	rm -rf runs reports/out
