# The two commands in the README are `make demo` and `make test`; everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo demo-stop test test-fast lint lock install install-dev migrate seed serve clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs take the exact versions in requirements/*.txt (written by `make lock` from
# pyproject.toml's ranges), so the demo, the tests and CI compute with the same libraries.
$(STAMP): pyproject.toml requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): pyproject.toml requirements/dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	# irrCAC is an independent AC1/Fleiss implementation the tests compare against; it pins
	# scipy==1.12 for no reason of its own, so it is installed without its dependencies.
	$(BIN)/pip install --quiet --no-deps 'irrCAC==0.4.4'
	touch $@ $(STAMP)

install: $(STAMP)
install-dev: $(DEV_STAMP)

## 1. The demo: PostgreSQL (embedded, data in var/pg, unless DATABASE_URL is set), eager
## Celery, demo data, served on 127.0.0.1:8000. The database keeps running after Ctrl-C, so
## the next `make demo` starts at once; `make demo-stop` stops it.
demo: install
	@if [ -z "$$DATABASE_URL" ]; then $(BIN)/python -m common.devdb start; fi
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py seed_demo
	@echo "Serving on http://127.0.0.1:8000/ (Ctrl-C to stop; then make demo-stop stops the database)"
	$(BIN)/python manage.py runserver 127.0.0.1:8000

demo-stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m common.devdb stop; fi

## 2. The whole suite on PostgreSQL and Redis: DATABASE_URL / CELERY_BROKER_URL, else the
## servers at 127.0.0.1:5432 / :6379, else embedded ones started for the run
## (config/settings/test.py; JUDGEBENCH_DEFAULT_PG / JUDGEBENCH_DEFAULT_REDIS move the defaults).
test: install-dev
	$(BIN)/python -m pytest --durations=25

## The quick loop: no browser, no Celery worker, no slow (Monte Carlo, demo, concurrency) tests.
test-fast: install-dev
	$(BIN)/python -m pytest -q -m "not browser and not celery_worker and not slow"

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## Re-pin every dependency after changing a range in pyproject.toml (needs the dev install for uv).
lock: install-dev
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --quiet -o requirements/base.txt
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet -o requirements/dev.txt

bench: install-dev
	$(BIN)/python bench/import_outputs.py

clean: demo-stop
	rm -rf $(VENV) var
