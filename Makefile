# The README's two commands: `make run` and `make test`. Both set up everything they need:
# Debian packages (apt-get), a .venv with pinned Python packages, and the offline models.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := espeak-ng libespeak-ng1 libportaudio2 sox libsox-fmt-base pocketsphinx-testdata alsa-utils chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export NUMBA_CACHE_DIR ?= $(CURDIR)/var/numba-cache

.PHONY: run test setup system-packages bench clean

run: setup
	$(VENV)/bin/voicebot serve

# The PostgreSQL storage tests run when VOICEBOT_TEST_DATABASE_URL is set or a server answers at
# postgresql+psycopg://postgres@127.0.0.1:5432/test (tests/conftest.py); the last line of the run
# says which, or that they were skipped. The slow tests (real models, real calls) run too.
# Test files run in $(TEST_WORKERS) processes (pytest-xdist, a file's tests stay together): most of
# the suite waits on audio paced in real time, so 3 workers on 2 cores halve the wall-clock time.
TEST_WORKERS ?= 3
test: setup
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

setup: system-packages $(STAMP)

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "setuptools==84.2.1" -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

bench: setup
	$(VENV)/bin/voicebot bench calls --concurrency 1 --calls 3
	$(VENV)/bin/voicebot bench calls --concurrency 10

clean:
	rm -rf $(VENV) var .pytest_cache
