# The project's commands. A newcomer needs two: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Extra arguments: `make run ARGS="--http-port 9090"`, `make test PYTEST_ARGS="-k batch"`.
ARGS ?=
PYTEST_ARGS ?=
# Checks `make ci` runs besides the tests; fragments in mk/ add theirs.
CI_TARGETS := lint typecheck check-gen

.PHONY: install run test lint typecheck format gen check-gen train ci system-deps
.DEFAULT_GOAL := run

# The client too, editable: the service depends on it for the generated code (diabetes).
$(STAMP): pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./client -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the whole service in the foreground: gRPC server + Envoy, bundled model.
run: $(STAMP)
	$(VENV)/bin/diabetes-service $(ARGS)

## Run every test suite (installs what the suites need first).
test: system-deps $(STAMP) test-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

## Regenerate the Python gRPC code and Envoy's descriptor set from protos/.
gen: $(STAMP)
	$(PY) tools/gen_protos.py

check-gen: $(STAMP)
	$(PY) tools/gen_protos.py --check

## Retrain the bundled model: `make train ARGS="--features all --search"`.
train: $(STAMP)
	$(VENV)/bin/diabetes-train $(ARGS)

## Debian packages the test suites need (only what is missing; needs root or sudo).
system-deps:
	bash tools/system-deps.sh $(SYSTEM_PACKAGES)

SYSTEM_PACKAGES :=
.PHONY: test-deps
test-deps:
include $(sort $(wildcard mk/*.mk))

## Everything CI runs: the tests, then lint, types, generated-code freshness and the
## checks that mk/*.mk fragments add.
ci: test $(CI_TARGETS)
