# Two commands: `make run` sets up and serves the API and UI on the bundled corpus;
# `make test` sets up and runs the whole test suite (CI runs it through .ci/run).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PIP     := $(BIN)/pip install -c constraints.txt

.PHONY: run test test-fast setup browser eval bench clean-index

setup: $(STAMP)

# torch is pinned through constraints.txt in every install: any other resolution pulls GBs of CUDA wheels.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) -q --upgrade pip
	$(PIP) -q -e '.[test]'
	touch $(STAMP)

run: setup
	$(BIN)/qa serve

# Debian's chromium for the UI test (never a browser a tool downloads itself).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

test: setup browser
	$(BIN)/python -m pytest -q -ra

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"

eval: setup
	$(BIN)/qa eval

clean-index:
	rm -rf index/default
