# Every target creates or refreshes .venv itself: a fresh clone needs only Python and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-core clean

$(STAMP): pyproject.toml hatch_build.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the install compiles the IEX decoder kernels too (hatch_build.py, ~15 s)
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

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Every benchmark program (figures printed, JSON in benchmarks/results/); docs/benchmarks.md
# gives each one's command with its options. bench-core is the quick subset.
bench-core: $(STAMP)
	$(BIN)/python benchmarks/overhead.py --out benchmarks/results/overhead.json
	$(BIN)/python benchmarks/process.py --out benchmarks/results/process.json

bench: bench-core kernels $(BENCH_STAMP)
	$(BIN)/python benchmarks/fanout.py --out benchmarks/results/fanout.json
	$(BIN)/python benchmarks/dask_scheduler.py --out benchmarks/results/dask_scheduler.json
	$(BIN)/python benchmarks/simulator.py --out benchmarks/results/simulator.json
	$(BIN)/python benchmarks/iex_decode.py --out benchmarks/results/iex_decode.json
	$(BIN)/python benchmarks/iex_containers.py --out benchmarks/results/iex_containers.json
	$(BIN)/python benchmarks/iex_cold_start.py --out benchmarks/results/iex_cold_start.json
	$(BIN)/python benchmarks/iex_day.py --out benchmarks/results/iex_day.json
	$(BIN)/python benchmarks/iex_live.py --out benchmarks/results/iex_live.json
	$(BIN)/python benchmarks/stats.py --out benchmarks/results/stats.json
	$(BIN)/python benchmarks/options.py --out benchmarks/results/options.json
	$(BIN)/python benchmarks/anomaly_eval.py --out benchmarks/results/anomaly_eval.json
	$(BIN)/python benchmarks/config_generate.py --out benchmarks/results/config_generate.json

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

# IEX decoder kernels compiled ahead of time into the user cache (loads without numba);
# the install above does it already, this rebuilds them (e.g. after editing a kernel)
.PHONY: kernels
kernels: $(STAMP)
	$(BIN)/python -m fluvius.feeds._kernels
