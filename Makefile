# Quick start targets. Each creates .venv on first use and (re)installs the
# package in editable mode, which rebuilds the C++ extension when csrc/ changed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_FLAGS ?= --quiet --disable-pip-version-check

.PHONY: install run test test-slow wheel-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[test]'

# The main job (AutoML on digits: prior, search, retrain, test); pass more
# overrides with ARGS="key=value ...", such as ARGS=experiment=digits_cnn.
run: install
	$(BIN)/atlas $(ARGS)

# The default test suite: everything not marked slow.
test: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# Build a wheel and check what it ships (extension, configs, kernels inside atlas_jax).
wheel-check: install
	$(BIN)/python scripts/check_wheel.py

clean:
	rm -rf build dist .pytest_cache
