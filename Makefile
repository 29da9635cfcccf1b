# The two commands a newcomer needs:  `make up`  and  `make test`.
# Both create .venv and install everything the project needs into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: up test lint unit install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the whole stack on embedded PostgreSQL and Redis (Ctrl-C stops it).
up: $(STAMP)
	$(BIN)/vellet up

## Lint, type-check, check the architecture, then run every test.
test: lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy -p vellet
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest tests/unit

clean:
	rm -rf $(VENV) .vellet .mypy_cache .ruff_cache .pytest_cache
