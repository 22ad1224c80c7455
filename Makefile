# Lookalike: `make demo` runs the whole service, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install demo test lint typecheck pytest browser services-stop clean image-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-installs only when pyproject.toml changes. torch is pinned to the CPU build
# on disk (see README for the CUDA build).
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	DEBUG=1 $(BIN)/mypy .

# The browser tests (tests/pages) drive Debian's Chromium; Playwright never downloads one.
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

pytest: install browser
	$(BIN)/pytest

# mypy (~3 min cold, one core) runs beside pytest, whose real-service tests spend much of their
# time waiting on workers, servers and the browser: the two together take about as long as pytest.
test: lint
	$(MAKE) --no-print-directory -j2 typecheck pytest

# Builds docker/Dockerfile with podman (a debootstrapped base, no registry needed) and runs its containers:
# web, workers, beat, the one-line errors, a worker killed mid-batch (docker/README.md). Not part of `make test`.
image-test: install
	$(BIN)/python docker/image_test.py

# Stops the embedded PostgreSQL and Valkey under var/ (or LOOKALIKE_VAR_DIR); fails loudly if one will not stop.
services-stop:
	$(BIN)/python -m config.local_services stop

clean: services-stop
	rm -rf var $(VENV)
