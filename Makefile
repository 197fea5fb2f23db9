# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/facepush demo

lint: $(STAMP)
	$(BIN)/ruff check facepush tests bench
	$(BIN)/ruff format --check facepush tests bench

typecheck: $(STAMP)
	$(BIN)/mypy facepush

pytest: $(STAMP)
	scripts/test-services
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	scripts/test-services
	scripts/bench-tools
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
