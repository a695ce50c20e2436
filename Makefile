# Two commands do all set-up on a fresh Debian/Ubuntu machine with Python 3.11:
#   make demo   create .venv, install, build the demo store, serve http://127.0.0.1:8501
#   make test   install test dependencies (Debian's prometheus and chromium too), run the suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APT_PACKAGES := prometheus chromium

.PHONY: demo test venv system-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/onepane demo

# Debian packages the real-service tests need: a Prometheus server (+ promtool) and chromium.
system-deps:
	@missing=""; \
	command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing="$$missing prometheus"; \
	test -x /usr/lib/chromium/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing -- run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

test: system-deps venv
	$(BIN)/python -m pytest -q --junitxml=artifacts/junit.xml $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) artifacts demo-data *.egg-info
