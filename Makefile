# Two commands for a fresh machine (see README):
#   make repro   set up .venv, then run the whole pipeline with `dvc repro`
#   make test    set up .venv, then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
# DVC stages call `python -m stages ...`: make sure that is the venv's python.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup repro test test-all bench show

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml pipeline/perf/native/mkl_amd.c
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@# AMD CPUs: MKL's fast kernels, opt-in with GAN_COMPARE_MKL_SHIM=1 (pipeline/perf/blas.py: AVX-512 only). Without a C compiler MKL keeps its generic ones
	if grep -q AuthenticAMD /proc/cpuinfo 2>/dev/null; then \
	  cc -shared -fPIC -O2 -o $(VENV)/lib/libmkl_amd.so pipeline/perf/native/mkl_amd.c \
	  || echo "no C compiler: MKL runs its generic kernels on this AMD CPU (slower, same results' quality)"; fi
	touch $@

# then how long each stage that ran took (stages/times.py, from the outputs' timestamps)
repro: setup
	start=$$(date +%s); dvc repro && $(PY) -m stages times --since $$start

# DATA_ROOT=/path/to/mnist (raw IDX files) also runs the MNIST tests; without it they skip
test: setup
	DATA_ROOT=$(DATA_ROOT) $(PY) -m pytest

test-all: setup
	DATA_ROOT=$(DATA_ROOT) $(PY) -m pytest -m "slow or not slow"

bench: setup
	$(if $(DATA_ROOT),,$(error make bench needs DATA_ROOT=/path/to/mnist, the raw MNIST IDX files))
	$(PY) -m stages bench --data-root $(DATA_ROOT)

# `dvc exp show` with every param and every .mean/.std/.n is 642 columns wide (default run); this is the compact view
# (W1, domain FID and converged share per model, the floors, clip, seeds). Any data set in `datasets` shows.
show: setup
	dvc exp show --drop '.*' --keep '^(Experiment|rev|Created)$$|^[a-z0-9_]+\.[a-z_]+\.(w1|fid_domain|converged)(\.mean)?$$|^clip$$|^seeds$$' $(ARGS)
