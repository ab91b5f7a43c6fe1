# lstm-tune: every target bootstraps the virtual environment on first use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

PROBLEM ?= addition
ARCH ?= all
TRIALS ?= 20
SEEDS ?=
TIMEOUT ?= 600
STORAGE ?=
TRACKING ?=
SPACE ?=
DATA ?=
TAG ?=
HOST ?= 127.0.0.1
PORT ?= 5000

opt = $(if $(2),$(1) $(2))

.PHONY: venv test tune reproduce ui clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

tune: $(STAMP)
	$(PY) -m pipeline.cli tune --problem $(PROBLEM) --arch $(ARCH) --trials $(TRIALS) --timeout $(TIMEOUT) \
		$(call opt,--seeds,$(SEEDS)) $(call opt,--storage,$(STORAGE)) $(call opt,--tracking,$(TRACKING)) \
		$(call opt,--space,$(SPACE)) $(call opt,--tag,$(TAG)) $(foreach d,$(DATA),--data $(d))

reproduce: $(STAMP)
	$(PY) -m pipeline.cli reproduce --problem $(PROBLEM) $(call opt,--seeds,$(SEEDS)) $(foreach d,$(DATA),--data $(d))

ui: $(STAMP)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/runs/mlflow.db \
		--default-artifact-root file://$(CURDIR)/runs/mlartifacts --host $(HOST) --port $(PORT) --workers 1

clean:
	rm -rf runs reports/out
