# Two commands on a fresh machine (Python >= 3.11, pip, Node/npm):
#   make demo   set up, migrate, seed the demo world, serve on http://127.0.0.1:8000
#   make test   set up, run the whole test suite (SQLite; see .ci/run for PostgreSQL)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: demo test install lint format ci bench clean

demo: install
	$(BIN)/ccare demo $(DEMO_ARGS)

test: install chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	scripts/bootstrap-venv $(PYTHON) $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

chromium:
	@test -x /usr/bin/chromium || scripts/apt-install chromium

lint: install
	$(BIN)/ruff check
	$(BIN)/ruff format --check

format: install
	$(BIN)/ruff format

ci:
	bash .ci/run

bench: install
	$(BIN)/python bench/order_pay_http.py --db sqlite --seconds 10

clean:
	rm -rf $(VENV) node_modules var
