# Quick start: `make run` (worker on the embedded SQS endpoint), `make test` (tox).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test image-test bench lint typing lock asyncapi clean

$(STAMP): setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[embedded,test]" "tox>=4"
	touch $(STAMP)

## run: start the worker on the embedded SQS endpoint (127.0.0.1:9324)
run: $(STAMP)
	$(BIN)/python -m briefy.choreographer.worker

## test: the whole suite through tox (lint, typing, unit and end-to-end tests)
test: $(STAMP)
	$(BIN)/tox run

## bench: the throughput benchmark, and redaction on hostile megabyte inputs
bench: $(STAMP)
	$(BIN)/python -m benchmarks
	$(BIN)/python benchmarks/redaction.py --check

## image-test: build the image and run it (docker, or podman), printing its figures
image-test: $(STAMP)
	$(BIN)/tox run -e py -- -m container -v

## lock: resolve docker/requirements.txt anew (the newest releases setup.py admits, hashed)
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet "uv>=0.5"
	$(BIN)/uv pip compile --quiet --upgrade --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" setup.py docker/requirements.in -o docker/requirements.txt

## asyncapi: regenerate asyncapi.yaml, the reference choreography's contract (the tests check it)
asyncapi: $(STAMP)
	env -i PATH="$$PATH" CHOREOGRAPHER_EXTENSIONS=none $(BIN)/choreographer asyncapi --output asyncapi.yaml

lint: $(STAMP)
	$(BIN)/tox run -e lint

typing: $(STAMP)
	$(BIN)/tox run -e typing

clean:
	rm -rf $(VENV) .tox build dist src/*.egg-info
