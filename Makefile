# The two commands: `make q1` (the main job) and `make test` (the test suite).
# Both create .venv from requirements.txt on first use; nothing else needs to be installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

DATA_DIR ?= data
OUT_DIR ?= out/q1
EARLY_STOPPING ?= 50
# Q1 on a log of your own: make q1 LOG=/var/log/nginx/access.log WINDOW_START=... WINDOW_END=...
# (a file or a glob; a relative path is taken from the shell's directory, also with make -C).
# Empty: the NASA log.
LOG ?=
LOG_FORMAT ?= auto
WINDOW_START ?=
WINDOW_END ?=
TOP_N ?= 10
# Q1 over time: make q1 LOG='/var/log/nginx/access.log*' STATE_DIR=/var/lib/q1 reads only what
# is new since the last run with that directory (docs/q1.md, "Q1 over time").
STATE_DIR ?=

.PHONY: venv q1 data test test-unit test-sanitizers services browser lint bench-q1 bench-q1-dask \
	clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml setup.py lib/logs/parsing/_clf.c \
		lib/logs/parsing/_clf_grammar.h
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	# bytecode for the project's own modules, as pip writes it for installed packages (an
	# editable install does not, and PYTHONDONTWRITEBYTECODE keeps Python from writing it):
	# without it every run compiles lib from source, 0.1 CPU s of Q1's start
	$(BIN)/python -m compileall -q lib service bench >/dev/null
	touch $@

# The input: the real August 1995 log if present or downloadable, else a labelled synthetic one.
data: venv
	$(BIN)/python -m lib.logs.datasets ensure --data-dir $(DATA_DIR) > $(VENV)/q1_input

q1: $(if $(strip $(LOG)),venv,data)
	$(if $(strip $(LOG)),printf '%s\n' '$(abspath $(if $(filter /%,$(LOG)),,$(PWD)/)$(LOG))' \
		> $(VENV)/q1_input)
	mkdir -p $(OUT_DIR)
	$(BIN)/papermill notebooks/q1.ipynb $(OUT_DIR)/q1.ipynb \
		-p log_path "$$(cat $(VENV)/q1_input)" -p early_stopping $(EARLY_STOPPING) \
		-p log_format '$(value LOG_FORMAT)' -p window_start '$(WINDOW_START)' \
		-p window_end '$(WINDOW_END)' -p top_n $(TOP_N) \
		-p state_dir '$(if $(strip $(STATE_DIR)),$(abspath $(if $(filter /%,$(STATE_DIR)),,$(PWD)/)$(STATE_DIR)))' \
		-p output_dir $(OUT_DIR) --no-progress-bar </dev/null
	$(BIN)/python -m lib.logs.report --html $(OUT_DIR)/q1.ipynb
	$(BIN)/python -m lib.logs.report $(OUT_DIR)/results.json

services:
	bash scripts/services-up.sh

test: venv services browser
	$(BIN)/python -m pytest

# The fast loop: every test that needs no service (markers in pyproject.toml), ~2 minutes.
# Without `browser`'s font, the one chart test that draws Chinese names is skipped, saying why.
test-unit: venv
	$(BIN)/python -m pytest -m "not integration"

# The C fast path's tests against a build with AddressSanitizer and UBSan (in a temporary copy)
test-sanitizers: venv
	PYTHON=$(BIN)/python bash scripts/sanitize-clf.sh

# Debian's Chromium for the kiosk's browser test (skipped, saying why, if it cannot be installed),
# and a font that draws the candidates' Chinese names in the kiosk's charts and page.
BROWSER_PACKAGES = chromium fonts-wqy-zenhei

browser:
	@(command -v chromium >/dev/null 2>&1 && fc-list | grep -qi wenquanyi) || apt-get install -y \
		--no-install-recommends $(BROWSER_PACKAGES) >/dev/null 2>&1 || (apt-get update >/dev/null \
		2>&1 && apt-get install -y --no-install-recommends $(BROWSER_PACKAGES) >/dev/null 2>&1) \
		|| echo "$(BROWSER_PACKAGES) could not be installed: the browser and chart font tests \
		will be skipped"

lint: venv
	$(BIN)/ruff check lib service tests bench
	$(BIN)/ruff format --check lib service tests bench

bench-q1: venv
	$(BIN)/python bench/q1_compare.py

bench-q1-dask: venv
	$(BIN)/python bench/q1_dask.py

clean:
	rm -rf $(VENV) out
