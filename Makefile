# The two commands a newcomer needs:  `make up`  and  `make test`.
# Both create .venv and install everything the project needs into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: up test lint unit install clean browser

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
test: lint browser
	$(BIN)/pytest

## What the browser tests need besides Python: Debian's Chromium and axe-core (npm).
CHROMIUM := /usr/bin/chromium
AXE      := tests/browser/node_modules/axe-core/axe.min.js
browser: $(CHROMIUM) $(AXE)

$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm ci --prefix tests/browser --no-audit --no-fund
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy -p vellet
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest tests/unit

clean:
	rm -rf $(VENV) .vellet .mypy_cache .ruff_cache .pytest_cache tests/browser/node_modules
