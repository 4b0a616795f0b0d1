# Thread Mirror. `make run` shows the bot working with no accounts; `make test` runs everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit wordpress-deps clean help

help:
	@echo "make run    mirror the bundled sample discussion into this terminal (no accounts needed)"
	@echo "make test   lint, type-check and run the whole test suite (installs what it needs)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/thread-mirror demo

# The real-WordPress tests need Debian's wordpress, php and mariadb packages (installed as root).
wordpress-deps:
	@if [ "$$(id -u)" = 0 ]; then bash scripts/install-wordpress.sh; \
	else echo "note: not root, so the real-WordPress tests will be skipped"; fi

lint: $(STAMP)
	$(BIN)/ruff check bot tests

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) wordpress-deps lint typecheck
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
