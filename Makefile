# One command per chore. `make demo` and `make test` work on a fresh clone: they set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: setup lint test test-fast demo clean

setup: $(STAMP) node_modules/.installed

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*; touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Azurite is started here for the whole test run (the storage tests never mock the SDKs) and stopped
# whatever pytest's result; the tests start their own Graph sandboxes in-process.
test: setup lint
	@$(PY) -m tests.azurite start .azurite
	@TEST_STORAGE_CONNECTION="$$(cat .azurite/connection)" $(VENV)/bin/pytest; status=$$?; \
		$(PY) -m tests.azurite stop .azurite; exit $$status

test-fast: $(STAMP)
	$(VENV)/bin/pytest -x -q

demo: setup
	./scripts/demo.sh

clean:
	rm -rf .sandbox demo-out .pytest_cache .mypy_cache .ruff_cache
