# Two entry points for a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types unit bench soak clean chromium screenshots

CHROMIUM := /usr/bin/chromium

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The dashboard's browser tests drive Debian's chromium (Playwright's own download does not
# work in CI): install it from apt when missing.
chromium:
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM)

demo: $(STAMP)
	$(BIN)/python -m alertbot.demo

lint: $(STAMP)
	$(BIN)/ruff check alertbot tests bench plugins
	$(BIN)/ruff format --check alertbot tests bench plugins

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) chromium
	$(BIN)/pytest -q -p no:cacheprovider

test: lint types unit

# The browser tests leave their screenshots in build/screenshots; docs/dashboard.md shows these.
screenshots:
	cp build/screenshots/login.png build/screenshots/dashboard.png docs/img/

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
