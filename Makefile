# Warmline: `make demo` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BIN ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed

# Tests and benchmarks run against real PostgreSQL and Redis on this machine (see .ci/services).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/warmline
TEST_REDIS_URL ?= redis://127.0.0.1:6379/9

.PHONY: help install demo serve worker beat migrate test lint format bench loadtest services browser screenshots clean

help:
	@echo "make demo   - install, migrate, seed demo data and serve the console on http://127.0.0.1:$(PORT)"
	@echo "make test   - the whole suite against PostgreSQL, Redis, Celery and headless Chromium"
	@echo "make serve  - daphne on 127.0.0.1:\$${PORT:-8000} (no seeding);  make worker - a Celery worker"
	@echo "make lint   - ruff and mypy;  make bench - the benchmark suite"
	@echo "make loadtest - the simulator for LOADTEST_MINUTES (10) at LOADTEST_RATE (1/s) with agents connected"
	@echo "make screenshots - the queue, preparation and chat pages at 1280x800 into docs/screenshots/"

$(VENV)/bin/python:
	@command -v $(PYTHON_BIN) >/dev/null || { echo "Python 3.11 is required ($(PYTHON_BIN) not found)"; exit 1; }
	$(PYTHON_BIN) -m venv $(VENV)

# Reinstall only when the dependency list changed.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

demo: install
	@DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	@DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo
	@DEBUG=$${DEBUG:-1} $(PY) manage.py seed_history
	@DEBUG=$${DEBUG:-1} PORT=$(PORT) .ci/demo

serve: install
	DEBUG=$${DEBUG:-1} $(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) console.asgi:application

worker: install
	DEBUG=$${DEBUG:-1} $(VENV)/bin/celery -A console worker --loglevel=INFO

beat: install
	DEBUG=$${DEBUG:-1} $(VENV)/bin/celery -A console beat --loglevel=INFO

services:
	@.ci/services

browser:
	@.ci/browser

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy console handoffs

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install services browser lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)

# Its own throwaway SQLite world and daphne (no services needed), driven by headless Chromium.
screenshots: install browser
	$(PY) -m tests.browser.screenshots

bench: install services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m bench $(BENCH_ARGS)

# Not in CI: LOADTEST_MINUTES (default 10) at LOADTEST_RATE new conversations/s (default 1).
loadtest: install services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m bench.loadtest $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles warmline.sqlite3*
