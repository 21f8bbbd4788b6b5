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
NB ?= 00

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
	@# Executing the notebooks rewrote figures/; committed figures must come out byte-identical.
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  git diff --stat --exit-code -- figures/ || { echo "figures/ changed: run 'make figures' and commit"; exit 1; }; \
	  test -z "$$(git ls-files --others --exclude-standard -- figures/)" || \
	    { echo "new figures not committed:"; git ls-files --others --exclude-standard -- figures/; exit 1; }; \
	fi

unit: setup
	$(CHECKED_ENV) $(BIN)/python -m pytest -q tests

notebooks: setup
	$(CHECKED_ENV) $(BIN)/python -m dlnlib.execute notebooks/*.ipynb

figures: setup
	$(CHECKED_ENV) $(BIN)/python -m dlnlib.execute --no-save notebooks/*.ipynb

present: setup
	@nb=$$(ls notebooks/$(NB)_*.ipynb | head -n 1); \
	port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	echo "Presenting $$nb (code hidden) at http://127.0.0.1:$$port/  (Ctrl-C stops it)"; \
	$(BIN)/voila "$$nb" --no-browser --port=$$port --Voila.ip=127.0.0.1

bench: setup
	$(BIN)/python benchmarks/seed000_upstairs.py --trials 1000
	$(BIN)/python benchmarks/sliders.py
	$(BIN)/python benchmarks/notebooks.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info

student: setup
	$(BIN)/python -m dlnlib.student notebooks/*.ipynb --out student
