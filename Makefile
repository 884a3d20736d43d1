# Two commands: `make run` sets up and serves the API and UI on the bundled corpus;
# `make test` sets up and runs the whole test suite (CI runs it through .ci/run).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PIP     := $(BIN)/pip install -c constraints.txt

.PHONY: run test test-fast setup browser screenshot eval bench clean-index

setup: $(STAMP)

# torch is pinned through constraints.txt in every install: any other resolution pulls GBs of CUDA wheels.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) -q --upgrade pip
	$(PIP) -q -e '.[test]'
	touch $(STAMP)

# Another port or address: `make run PORT=8155` (or QA_PORT=8155), `make run HOST=0.0.0.0`.
run: setup
	$(BIN)/qa serve $(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST))

# Debian's chromium for the UI test (never a browser a tool downloads itself), a CJK font for its screenshots and
# a colour emoji font for the UI's 👍/👎.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && fc-list 2>/dev/null | grep -qi wenquanyi \
	  && fc-list 2>/dev/null | grep -qi "noto color emoji" || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
	   fonts-wqy-microhei fonts-noto-color-emoji >/dev/null)

# The tests that need a real index share one, built (or brought up to date) here once per run.
TEST_INDEX := $(CURDIR)/.cache/test-index

# Test files run in parallel, one worker per core up to 4 (a file's tests stay together in one worker, so its module
# fixtures are built once): `make test TEST_WORKERS=1` runs them one after another.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

# Afterwards the work tree must be as before the run (tests/tree_check.py: changes a developer made before are fine).
TREE_STATE := $(CURDIR)/.cache/tree-before-test.json

test: setup browser
	$(BIN)/python tests/tree_check.py save $(TREE_STATE)
	QA_TEST_INDEX_DIR=$(TEST_INDEX) $(BIN)/qa index update --index $(TEST_INDEX)
	QA_TEST_INDEX_DIR=$(TEST_INDEX) $(BIN)/python -m pytest -q -ra --durations=15 -n $(TEST_WORKERS) --dist loadfile
	$(BIN)/python tests/tree_check.py compare $(TREE_STATE)

# The README's screenshots (docs/ui.png, docs/ui-admin.png), taken by the browser tests: the tests themselves
# only write tests/artifacts/ (ignored), so `make test` leaves the work tree clean.
screenshot: setup browser
	QA_TEST_INDEX_DIR=$(TEST_INDEX) $(BIN)/qa index update --index $(TEST_INDEX)
	QA_TEST_INDEX_DIR=$(TEST_INDEX) $(BIN)/python -m pytest -q tests/test_ui_browser.py -k "readme_screenshot or admin_tab"
	cp tests/artifacts/ui.png docs/ui.png
	cp tests/artifacts/ui-admin.png docs/ui-admin.png

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"

eval: setup
	$(BIN)/qa eval

clean-index:
	rm -rf index/default
