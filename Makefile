# Two commands for a newcomer:
#   make demo   -- create .venv, install everything, run the main job on the embedded synthetic cohort
#   make test   -- create .venv, install everything, run the test suite
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.sensecf-installed
DEMO_OUT ?= runs/demo

.PHONY: setup chromium demo test lint clean

setup: $(STAMP) chromium

# torch goes first: the pinned CPU build is installed before anything can pull a CUDA build.
# nicex is installed without its stale numpy<2 / pandas<2 pins. llama-cpp-python compiles on
# install; its multimodal library (LLAVA_BUILD) is never loaded here, so it is not built.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	CMAKE_ARGS="-DLLAVA_BUILD=OFF $$CMAKE_ARGS" $(BIN)/python -m pip install --quiet -e ".[all,dev]"
	$(BIN)/python -m pip install --quiet --no-deps nicex==0.2.3
	touch $(STAMP)

# Debian's chromium renders the report in a headless test. Installed where missing and apt-get can
# (root, or sudo without a password); never fails the setup: the test then fails and says why.
CHROMIUM_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
chromium:
	@command -v chromium >/dev/null 2>&1 \
	|| { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && sh -c '$(CHROMIUM_INSTALL)'; } \
	|| { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && sudo -n sh -c '$(CHROMIUM_INSTALL)'; } \
	|| echo "note: Debian's chromium is not installed and apt-get could not install it; the headless report test will fail"

demo: $(STAMP)
	$(BIN)/sensecf demo --out $(DEMO_OUT)

# One test worker per core; a file's tests stay together, so its fixtures are built once.
test: $(STAMP) chromium
	$(BIN)/python -m pytest -n auto --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) runs .pytest_cache
