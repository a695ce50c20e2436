# Two commands do all set-up on a fresh Debian/Ubuntu machine with Python 3.11:
#   make demo   create .venv, install, build the demo store, serve http://127.0.0.1:8501
#   make test   install test dependencies (Debian's prometheus and chromium too), run the suite
# Packages install with --no-compile: bytecode is written on first import, which cuts install time.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PORT   ?= 8501
VENV   := .venv
BIN    := $(VENV)/bin
APT_PACKAGES := prometheus chromium poppler-utils faketime
# CLOCK=+400d runs the suite with the clock moved (Debian's faketime); CI does, so a test that
# passes only this month fails there first.
CLOCK ?=
# The suite runs on PYTEST_WORKERS parallel processes (pytest-xdist): most of its time is spent
# waiting on subprocesses, servers and browsers, so 3 workers beat 2 on a 2-core machine.
# `--dist loadfile` keeps a file's tests (and its module fixtures) on one worker; tests/conftest.py
# starts the longest files first. PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 3

.PHONY: demo test venv venv-test system-deps python-check clean

# Python >= 3.11 with venv support (Debian ships venv separately as python3-venv).
python-check:
	@test -n "$(PYTHON)" || { echo "no python3 found: apt-get install -y python3 python3-venv" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "onepane needs Python >= 3.11; found $$($(PYTHON) --version)" >&2; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing python3-venv"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; \
	  else echo "missing venv support -- run: sudo apt-get install -y python3-venv" >&2; exit 1; fi; }

$(BIN)/python: | python-check
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-compile -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --no-compile -e '.[test]'
	touch $@

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

demo: venv
	$(BIN)/onepane demo --port $(PORT)

# Debian packages the real-service tests need: a Prometheus server (+ promtool) and chromium.
system-deps:
	@missing=""; \
	command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing="$$missing prometheus"; \
	test -x /usr/lib/chromium/chromium || missing="$$missing chromium"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v faketime >/dev/null 2>&1 || missing="$$missing faketime"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing -- run: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

# The suite writes bytecode even where the environment says PYTHONDONTWRITEBYTECODE: packages are
# installed without it (--no-compile), so otherwise every CLI, Streamlit and worker process it
# starts compiles each module it imports from source again (onepane init: 1.5 CPU s instead of 0.7).
test: system-deps venv-test
	mkdir -p artifacts
	env -u PYTHONDONTWRITEBYTECODE $(if $(CLOCK),faketime -f '$(CLOCK)' )$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder \
	  --junitxml=artifacts/junit.xml $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) artifacts demo-data *.egg-info
