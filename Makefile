# Two commands for a fresh machine (see README):
#   make repro   set up .venv, then run the whole pipeline with `dvc repro`
#   make test    set up .venv, then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
# DVC stages call `python -m stages ...`: make sure that is the venv's python.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup repro test test-all bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

repro: setup
	dvc repro

test: setup
	$(PY) -m pytest

test-all: setup
	$(PY) -m pytest -m "slow or not slow"

bench: setup
	$(PY) -m stages bench --data-root $(or $(DATA_ROOT),../shared/data/mnist)
