# engram — the README's two commands are `make demo` and `make test`.
# Everything they need is installed here, idempotently: a second run has nothing to do.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= dev,bot
PYTEST_ARGS ?=
# llama.cpp (the fast CPU backend) builds from source: ~5 min on 2 cores the first time,
# seconds afterwards from pip's wheel cache. LLAMACPP=0 leaves it out of `make setup`.
LLAMACPP ?= 1
LLAMACPP_STAMP := $(VENV)/.llamacpp-installed

.PHONY: help setup setup-llamacpp install test lint format demo doctor clean

help:
	@echo "make demo    set up what is missing, then run the agent on the bundled example"
	@echo "make test    set up what is missing, then run the whole test suite"
	@echo "make setup   venv + dependencies + llama.cpp + Docker engine + sandbox image + model"
	@echo "make setup-llamacpp  build/install llama-cpp-python (the [llamacpp] extra) only"
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

# The [llamacpp] extra, plus llama.cpp's LoRA converter from the same version's sdist
# (agent/backends/llamacpp_tools.py). CMake defaults: CPU only, GGML_NATIVE (the build
# machine's instruction set), OpenMP threads, no BLAS (decode is memory-bound; BLAS only
# speeds up long prefills). Set CMAKE_ARGS to change them; pip caches the built wheel
# under its cache key, so a second install (or a fresh venv) takes seconds.
$(LLAMACPP_STAMP): pyproject.toml $(STAMP)
	@echo "installing llama-cpp-python into $(VENV) (first build ~5 min; log: $(VENV)/pip-llamacpp.log)"
	@$(BIN)/python -m pip install --config-settings editable_mode=compat -e '.[llamacpp]' > $(VENV)/pip-llamacpp.log 2>&1 || \
		{ tail -n 40 $(VENV)/pip-llamacpp.log; echo "building llama-cpp-python failed (needs cmake and a C++ compiler); full log: $(VENV)/pip-llamacpp.log. LLAMACPP=0 skips it."; exit 1; }
	@$(BIN)/python -c 'from agent.backends.llamacpp_tools import ensure_tools; ensure_tools()' >> $(VENV)/pip-llamacpp.log 2>&1 || \
		{ tail -n 20 $(VENV)/pip-llamacpp.log; echo "fetching llama.cpp's converter failed; full log: $(VENV)/pip-llamacpp.log"; exit 1; }
	@touch $@

setup-llamacpp: $(LLAMACPP_STAMP)

SETUP_DEPS := $(STAMP)
ifeq ($(LLAMACPP),1)
SETUP_DEPS += $(LLAMACPP_STAMP)
endif

setup: $(SETUP_DEPS)
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
