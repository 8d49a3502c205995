# Two commands for everyone (see README.md):
#   make lab    set up (once) and start JupyterLab on notebooks/  (ARGS="--no-browser --port 8899")
#   make test   set up (once) and run every test and quality gate
# Set-up is stamped on pyproject.toml: a second run with nothing changed installs nothing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=
PYTEST_ARGS ?=

# nbgrader shells out to alembic, and notebooks start kernels from the venv: its bin goes first.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export MPLBACKEND := Agg

.PHONY: setup lab test lint release check-release sandbox-tool postgres-tool browser-tool screenshots clean

setup: $(STAMP) sandbox-tool postgres-tool browser-tool

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m dl_course.labsetup
	@touch $@

# The autograder runs each submission's kernel inside bubblewrap (Debian package
# `bubblewrap`). Installed here when missing and we may use apt (root); otherwise
# `dl-course autograde` says how to install it.
sandbox-tool:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap (autograder sandbox)"; \
	    (apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1)) || \
	    echo "warning: could not install bubblewrap; autograde will refuse to run without it"; \
	  else echo "note: bubblewrap (bwrap) not found; instructors: sudo apt-get install bubblewrap"; fi; }

# The tests start a throwaway PostgreSQL server (Debian package `postgresql`: initdb,
# pg_ctl, postgres) to check the shared gradebook of graders on many machines.
# Installed like bubblewrap: when missing and we may use apt (root).
postgres-tool:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing postgresql (server for the gradebook tests)"; \
	    (apt-get install -y -qq postgresql >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq postgresql >/dev/null 2>&1)) || \
	    echo "warning: could not install postgresql; the PostgreSQL gradebook tests will fail"; \
	  else echo "note: PostgreSQL server not found; for the tests: sudo apt-get install postgresql"; fi; }

# The browser test (tests/test_browser.py) drives Debian's Chromium with Playwright (pinned in
# pyproject.toml; Playwright's own browser download is never used). Installed like bubblewrap.
browser-tool:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (browser test)"; \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) || \
	    echo "warning: could not install chromium; the browser test will fail under CI"; \
	  else echo "note: chromium not found; for the browser test: sudo apt-get install chromium"; fi; }

# Regenerate the committed screenshots (assets/screenshots/) with the browser test.
screenshots: setup
	DL_COURSE_SCREENSHOTS=assets/screenshots TQDM_DISABLE=1 $(BIN)/python -m pytest -n 0 -p no:cacheprovider tests/test_browser.py

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_FLAG) $(ARGS)

test: setup
	TQDM_DISABLE=1 $(BIN)/python -m pytest -n 2 --dist loadscope $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check dl_helpers dl_course tests bench solutions notebooks

release: setup
	$(BIN)/dl-course release

check-release: setup
	$(BIN)/dl-course check-release

clean:
	rm -rf $(VENV) course .pytest_cache
