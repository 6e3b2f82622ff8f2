# The two commands of the README: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOGDIR ?= logs

.PHONY: setup demo test test-fast lint browser docs clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

## Trains the paper's three faulty scenarios and their fixes into ./logs, prints
## `scram report`, and serves TensorBoard (SCRAM tab) on 127.0.0.1.
demo: setup
	$(BIN)/python -m demo --logdir $(LOGDIR)

## Installs what the tests need (Debian's chromium for the browser tests) and runs them all.
test: setup browser lint
	SCRAM_FUZZ=fixed $(BIN)/python -m pytest -q tests

## The fast tier: the tests that need no training, TensorBoard process, browser or npm (under a minute).
test-fast: setup
	$(BIN)/python -m pytest -q -m "not (training or tensorboard or browser or npm)" tests

lint: setup
	$(BIN)/ruff check tensorboard_plugin_scram tests demo bench

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

docs: setup
	$(BIN)/scram docs docs/checks --readme README.md

clean:
	rm -rf $(VENV) $(LOGDIR) .pytest_cache test-artifacts

## Benchmarks: fault zoo vs baselines, overhead, plugin scale, healthy sweep -> bench/results.md and results.json.
.PHONY: bench
bench: setup
	$(BIN)/python -m bench
