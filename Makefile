# Quick start: `make run` (worker on the embedded SQS endpoint), `make test` (tox); `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two installs: what running needs (the package and its embedded SQS endpoint), then what testing adds.
RUN_STAMP := $(VENV)/.run-stamp
TEST_STAMP := $(VENV)/.test-stamp

.DEFAULT_GOAL := help
.PHONY: help run test image-test bench lint typing lock asyncapi clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): setup.py pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[embedded]"
	touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[embedded,test]" "tox>=4"
	touch $@

## help: list these targets (what `make` alone does)
help:
	@awk '/^## [a-z-]+:/ { sub(/^## /, ""); i = index($$0, ":"); \
		printf "  make %-11s %s\n", substr($$0, 1, i - 1), substr($$0, i + 2) }' $(MAKEFILE_LIST)

## run: start the worker on the embedded SQS endpoint (127.0.0.1:9324), installing only what running needs
run: $(RUN_STAMP)
	$(BIN)/python -m briefy.choreographer.worker

## test: the whole suite through tox (lint, typing, the docs build, unit and end-to-end tests)
test: $(TEST_STAMP)
	$(BIN)/tox run

## bench: the throughput benchmark, and redaction on hostile megabyte inputs
bench: $(TEST_STAMP)
	$(BIN)/python -m benchmarks
	$(BIN)/python benchmarks/redaction.py --check

## image-test: build the image and run it (docker, or podman), printing its figures
image-test: $(TEST_STAMP)
	$(BIN)/tox run -e py -- -m container -v

## lock: resolve docker/requirements.txt anew (the newest releases setup.py admits, hashed)
lock: $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet "uv>=0.5"
	$(BIN)/uv pip compile --quiet --upgrade --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" setup.py docker/requirements.in -o docker/requirements.txt

## asyncapi: regenerate asyncapi.yaml, the reference choreography's contract (the tests check it)
asyncapi: $(RUN_STAMP)
	env -i PATH="$$PATH" CHOREOGRAPHER_EXTENSIONS=none $(BIN)/choreographer asyncapi --output asyncapi.yaml

## lint: ruff's checks and format check, and the import contracts (tox -e lint)
lint: $(TEST_STAMP)
	$(BIN)/tox run -e lint

## typing: mypy, strict, on the package (tox -e typing)
typing: $(TEST_STAMP)
	$(BIN)/tox run -e typing

## clean: remove the virtualenv, tox's environments and build output
clean:
	rm -rf $(VENV) .tox build dist src/*.egg-info
