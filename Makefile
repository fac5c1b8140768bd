# Two commands for a newcomer:
#   make demo   -- create .venv, install everything, run the main job on the embedded synthetic cohort
#   make test   -- create .venv, install everything, run the test suite
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.sensecf-installed
DEMO_OUT ?= runs/demo

.PHONY: setup demo test lint clean

setup: $(STAMP)

# torch goes first: the pinned CPU build is installed before anything can pull a CUDA build.
# nicex is installed without its stale numpy<2 / pandas<2 pins.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	$(BIN)/python -m pip install --quiet --no-deps nicex==0.2.3
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sensecf demo --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) runs .pytest_cache
