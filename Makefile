# Two commands work on a fresh clone with only Python 3.11+ and make: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench golden clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "orgforge needs Python 3.11+ (set PYTHON=/path/to/python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/orgforge generate --preset prd --seed 42 --world demo/orgforge.db --out demo/export --format csv --runs-dir demo/runs
	@echo
	@echo "World:   demo/orgforge.db   (try: $(BIN)/orgforge stats --world demo/orgforge.db)"
	@echo "Export:  demo/export/       (one CSV per object, ready for Bulk API 2.0 / Data Loader)"
	@echo "Run log: demo/runs/"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench

# Rewrite the checked-in tiny export (tests/golden/tiny/*.csv) from what the code makes now.
golden: $(STAMP)
	$(BIN)/python -m pytest tests/golden -q --update-goldens
	@git status --short tests/golden || true

clean:
	rm -rf $(VENV) demo .pytest_cache
