# Two commands for users:
#   make run    start the monitor
#   make test   run the whole test suite
# Both set everything up on a fresh Debian/Ubuntu machine: missing system packages,
# the virtual environment in .venv, vinylmon installed into it. A second run skips
# what is already there.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint clean

run: $(STAMP)
	@scripts/install_system_deps.sh run
	$(BIN)/vinylmon

test: $(STAMP)
	@scripts/install_system_deps.sh test
	$(BIN)/ruff check vinylmon tests scripts
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

$(STAMP): pyproject.toml
	@scripts/install_system_deps.sh run
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"vinylmon needs Python >= 3.11; this python3 is " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

lint: $(STAMP)
	$(BIN)/ruff check vinylmon tests scripts

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
