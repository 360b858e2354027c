# One command per chore. `make demo` and `make test` work on a fresh clone: they set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell sha1sum requirements-checkov.txt | cut -c1-12)

.PHONY: setup lint test test-fast demo bench bench-quick soak clean checkov

setup: $(STAMP) node_modules/.installed

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*; touch $@

# checkov lives in its own virtualenv: its many dependencies stay out of the app's.
checkov: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@rm -f $(CHECKOV_VENV)/.installed-*; touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Azurite is started here for the whole test run (the storage tests never mock the SDKs) and stopped
# whatever pytest's result; the tests start their own Graph sandboxes in-process.
# CHECKOV makes tests/infra/test_checkov.py fail (not skip) if checkov is missing.
test: setup lint checkov
	@$(PY) -m tests.azurite start .azurite
	@TEST_STORAGE_CONNECTION="$$(cat .azurite/connection)" CHECKOV="$(CURDIR)/$(CHECKOV)" $(VENV)/bin/pytest; status=$$?; \
		$(PY) -m tests.azurite stop .azurite; exit $$status

test-fast: $(STAMP)
	$(VENV)/bin/pytest -x -q

demo: setup
	./scripts/demo.sh

# Benchmarks against Azurite and the Graph sandbox (never timed unit tests): results as JSON under
# bench/results/ (bench-quick: smaller sizes, bench/results/quick/). BENCH_ARGS="--snapshot HEAD" measures
# the last commit instead of the working tree; see README "Benchmarks".
bench: setup
	$(PY) -m bench.run all $(BENCH_ARGS)

bench-quick: setup
	$(PY) -m bench.run all --quick $(BENCH_ARGS)

# Chaos soak (soak/README.md): one 5,000-user job under Graph faults, storage faults and outages, 24
# SIGKILLed workers and duplicate chunks, then the invariant checker; soak/results/soak-5000.json and .md.
# A 300-user soak runs inside `make test` (tests/soak/test_soak.py).
soak: setup
	$(PY) -m soak.run --users 5000 --kills 24 --seed 1 --out soak/results/soak-5000.json $(SOAK_ARGS)

clean:
	rm -rf .sandbox demo-out .pytest_cache .mypy_cache .ruff_cache
