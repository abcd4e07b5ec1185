# The project's commands. A newcomer needs two: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Extra arguments: `make run ARGS="--http-port 9090"`, `make test PYTEST_ARGS="-k batch"`.
ARGS ?=
PYTEST_ARGS ?=
# `make check`: every fast check (freshness of what is generated, lint, types); fragments in
# mk/ add theirs. `make ci`: what .ci/run and .github/workflows/ci.yml run, one job per target.
CHECK_TARGETS := lint typecheck check-gen
CI_TARGETS := check test
# Pure in-process tests: no subprocess server, no Envoy, no apt or npm.
UNIT_TESTS := tests/unit tests/docs/test_docs_check.py tests/docs/test_complexity.py

.PHONY: install run test test-unit test-suites lint typecheck format gen check-gen train check ci \
	print-ci-targets print-check-targets help system-deps
.DEFAULT_GOAL := run

# Everything from requirements/dev.lock (hashed: the same environment on any day), then this
# repository's two distributions, editable, without resolving anything: the client (the
# service depends on it for the generated code, diabetes) and the service.
$(STAMP): pyproject.toml client/pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements/dev.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e ./client -e .
	touch $(STAMP)

## Create .venv and install the project with its dev tools.
install: $(STAMP)

## Start the whole service in the foreground: gRPC server + Envoy, bundled model.
run: $(STAMP)
	$(VENV)/bin/diabetes-service $(ARGS)

## Run every test suite: the unit tests first, then the rest (installs what they need).
test: test-unit test-suites

## The unit tests alone: only the venv (no apt, no npm), well under a minute.
test-unit: $(STAMP)
	$(PY) -m pytest $(UNIT_TESTS) $(PYTEST_ARGS)

## Every suite but the unit tests (installs the Debian and npm packages they need first).
test-suites: system-deps $(STAMP) test-deps
	$(PY) -m pytest $(addprefix --ignore=,$(UNIT_TESTS)) $(PYTEST_ARGS)

## ruff check and ruff format --check.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## Fix what ruff can and format the code.
format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## mypy --strict over the repository.
typecheck: $(STAMP)
	$(VENV)/bin/mypy .

## Regenerate the Python gRPC code and Envoy's descriptor set from protos/.
gen: $(STAMP)
	$(PY) tools/gen_protos.py

## Fail if the generated gRPC code is stale.
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

## Every fast check: generated code, deploy configs, docs and page fresh; lint; types.
check: $(CHECK_TARGETS)

## Everything CI runs (.ci/run; ci.yml runs the same targets as a matrix).
ci: $(CI_TARGETS)

## The targets `make ci` runs, one per line (tests/delivery compares them with ci.yml).
print-ci-targets:
	@printf '%s\n' $(CI_TARGETS)

## The targets `make check` runs, one per line.
print-check-targets:
	@printf '%s\n' $(CHECK_TARGETS)

## This list: every public target and its `##` comment.
help:
	@awk '/^## /{doc = doc (doc ? " " : "") substr($$0, 4); next} \
		/^[a-zA-Z0-9_.-]+:/ && doc {split($$0, t, ":"); printf "  %-20s %s\n", t[1], doc} \
		{doc = ""}' $(MAKEFILE_LIST)
