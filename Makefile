# Every target creates or refreshes .venv itself: a fresh clone needs only Python and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py --out benchmarks/results/overhead.json

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

# IEX decoder kernels compiled ahead of time into the user cache (loads without numba)
.PHONY: kernels
kernels: $(STAMP)
	$(BIN)/python -m fluvius.feeds._aot
