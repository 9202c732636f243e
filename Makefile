# Two entry points for a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types unit bench soak clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m alertbot.demo

lint: $(STAMP)
	$(BIN)/ruff check alertbot tests bench plugins
	$(BIN)/ruff format --check alertbot tests bench plugins

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

test: lint types unit

# Issue 11's benchmarks in one go (about 10 minutes); docs/performance.md has each command alone.
bench: $(STAMP)
	$(BIN)/python bench/wire_throughput.py --frames 20000 --rounds 5
	$(BIN)/python bench/rules_throughput.py --frames 40000 --runs 5
	$(BIN)/python bench/latency.py --rate 100 --seconds 10
	$(BIN)/python bench/state_tail.py --batches 3000
	$(BIN)/python bench/scale.py --sizes 1,1000,10000

# The fault suite (docs/soak.md): not part of `make test`. SOAK_ARGS=--long for the real durations.
soak: $(STAMP)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
