# Two commands for a newcomer: `make lab` opens the series, `make test` runs every check.
# Both create .venv on first use and install requirements + dlnlib into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Regression-checked runs: fixed hashing, no progress bars in stored outputs.
CHECKED_ENV := PYTHONHASHSEED=0 DLNLIB_PROGRESS=0
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: setup lab test unit lint notebooks student figures present bench clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

lab: setup
	$(BIN)/jupyter lab notebooks/00_start_here.ipynb

lint: setup
	$(BIN)/ruff check dlnlib tests benchmarks

test: setup lint
	$(CHECKED_ENV) $(BIN)/python -m pytest -q tests notebooks $(NBVAL)

unit: setup
	$(CHECKED_ENV) $(BIN)/python -m pytest -q tests

notebooks: setup
	$(CHECKED_ENV) $(BIN)/python -m dlnlib.execute notebooks/*.ipynb

bench: setup
	$(BIN)/python benchmarks/seed000_upstairs.py --trials 1000

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info

student: setup
	$(BIN)/python -m dlnlib.student notebooks/*.ipynb --out student
