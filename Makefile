# Everything a fresh machine needs is installed by these targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test check lint bench clean

$(STAMP): pyproject.toml setup.py scripts/install.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/install.sh
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/roomreel demo

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q -p no:cacheprovider

# The fast tier for the edit-test loop (under two minutes): everything but the slow end-to-end
# tests (tests/conftest.py lists them). CI runs `make test`, the whole suite.
check: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q -p no:cacheprovider -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/compose.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
