# govcenter — the two commands a newcomer needs are `make run` and `make test`.
#
#   make run     create .venv if missing, install, migrate, seed, demo once, serve :8000 + task worker
#   make test    the whole suite on the embedded defaults (SQLite, local cache, SqliteHuey)
#   make lint    ruff + import-linter
#   make bench   every bench/bench_*.py; table on screen, var/bench/results.json
#   make ci      what CI runs: .ci/run (make test, then the suite on PostgreSQL + Redis)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# The stamp is newer than pyproject.toml once the package is installed: a second `make run`
# skips pip entirely.
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install run test lint bench ci clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# DEBUG defaults to on for the embedded demo; export GOVCENTER_DEBUG=false (plus a secret and
# hosts) to serve for real.
run: install
	GOVCENTER_DEBUG=$${GOVCENTER_DEBUG:-true} $(BIN)/govcenter serve --setup --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/run.py

ci:
	bash .ci/run

clean:
	rm -rf var/bench var/static
