# watchfloor: `make run` starts the platform on SQLite under ./var; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
# What ruff formats and lints; mypy's files are in pyproject.toml (src, tests, scripts).
LINTED := src tests bench scripts
# Test processes: the suite waits on sockets, databases and Chromium more than on the CPU.
TEST_WORKERS ?= 4

# Packages whose branch coverage must stay at 100 %.
FULL_COVERAGE := src/watchfloor/codecs/*,src/watchfloor/core/*

.PHONY: run test check lint types tests coverage-floor hooks browser-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Runtime install only; `make test` adds the dev extras.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/watchfloor serve

# Debian's Chromium for the browser tests, installed when missing and when we can.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -q chromium >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) \
	    || echo "chromium could not be installed; browser tests will be skipped"; \
	  else echo "chromium is missing; browser tests will be skipped"; fi; }

# The same checks run as pre-commit hooks (.pre-commit-config.yaml); `make hooks` installs them.
lint: $(STAMP)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

tests: $(STAMP) browser-deps
	$(BIN)/pytest --cov --cov-report=term -q -n $(TEST_WORKERS)
	$(MAKE) --no-print-directory coverage-floor

# Reads the .coverage file the tests wrote: codecs and core at 100 % branch coverage.
coverage-floor: $(STAMP)
	$(BIN)/coverage report --include='$(FULL_COVERAGE)' --fail-under=100

hooks: $(STAMP)
	$(BIN)/pre-commit install

test: lint types tests

check: test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
