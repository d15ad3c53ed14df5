# engram — the README's two commands are `make demo` and `make test`.
# Everything they need is installed here, idempotently: a second run has nothing to do.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= dev,bot
PYTEST_ARGS ?=

.PHONY: help setup install test lint format demo doctor clean

help:
	@echo "make demo    set up what is missing, then run the agent on the bundled example"
	@echo "make test    set up what is missing, then run the whole test suite"
	@echo "make setup   venv + dependencies + Docker engine + sandbox image + embedded model"
	@echo "make lint    ruff check + format check"
	@echo "make doctor  check this machine"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "engram needs Python >= 3.11 (found: $$($(PYTHON) --version 2>&1)). Set PYTHON=..."; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency list changes. pip's log goes to a file: on failure
# its tail is shown. The editable install uses `compat` mode (a path entry for the repo
# root) so that a package directory added later is importable without reinstalling.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "installing Python dependencies into $(VENV) (log: $(VENV)/pip.log)"
	@$(BIN)/python -m pip install --config-settings editable_mode=compat -e '.[$(EXTRAS)]' > $(VENV)/pip.log 2>&1 || \
		{ tail -n 40 $(VENV)/pip.log; echo "pip install failed; full log: $(VENV)/pip.log"; exit 1; }
	@touch $@

install: $(STAMP)

setup: $(STAMP)
	@$(BIN)/engram setup

doctor: $(STAMP)
	@$(BIN)/engram doctor

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: $(STAMP)
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

test: setup
	@$(BIN)/ruff check .
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: setup
	@$(BIN)/python scripts/demo.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
