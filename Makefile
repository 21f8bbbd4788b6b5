# Two commands for a newcomer: `make lab` opens the series, `make test` runs every check.
# Both create .venv on first use and install dlnlib (editable) with the lab, present, test and grade
# extras into it, torch pinned by constraints.txt (a make/CI detail: pip users get any torch >= 2.2).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
# Regression-checked runs (dlnlib.execute.CHECKED_ENV): fixed hashing, no progress bars in stored outputs, one
# intra-op thread (every tensor here is tiny: threads only add hand-off cost, and one thread keeps sums
# bit-identical), the AVX2 kernels of torch, MKL and OpenBLAS, so that round-off digits match across machines,
# and the CPU on a GPU machine too (the stored outputs are the CPU's; the CUDA test moves its own tensors).
CHECKED_ENV := PYTHONHASHSEED=0 DLNLIB_PROGRESS=0 OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 \
               OPENBLAS_CORETYPE=Haswell DLNLIB_DEVICE=cpu
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
# One pytest worker per core; a file's tests stay on one worker (a notebook's cells share one kernel).
PARALLEL := -n auto --dist loadfile

.PHONY: setup lab test unit lint notebooks student nbgrader figures present bench clean
NB ?= 00

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -r requirements.txt
	@touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[bench]"
	@touch $(BENCH_STAMP)

setup: $(STAMP)

lab: setup
	OMP_NUM_THREADS=1 $(BIN)/jupyter lab notebooks/00_start_here.ipynb $$([ "$$(id -u)" = 0 ] && echo --allow-root)

lint: setup
	$(BIN)/ruff check dlnlib tests benchmarks

test: setup lint
	$(CHECKED_ENV) $(BIN)/python -m pytest -q --durations=25 $(PARALLEL) tests notebooks $(NBVAL)

unit: setup
	$(CHECKED_ENV) $(BIN)/python -m pytest -q tests

notebooks: setup
	$(CHECKED_ENV) $(BIN)/python -m dlnlib.execute notebooks/*.ipynb

figures: setup
	$(CHECKED_ENV) $(BIN)/python -m dlnlib.execute --no-save --figures figures notebooks/*.ipynb

present: setup
	@nb=$$(ls notebooks/$(NB)_*.ipynb | head -n 1); \
	port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	echo "Presenting $$nb (code hidden) at http://127.0.0.1:$$port/  (Ctrl-C stops it)"; \
	OMP_NUM_THREADS=1 $(BIN)/voila "$$nb" --no-browser --port=$$port --Voila.ip=127.0.0.1

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/seed000_upstairs.py --trials 1000
	$(BIN)/python benchmarks/engine_peers.py
	$(BIN)/python benchmarks/sliders.py
	$(CHECKED_ENV) $(BIN)/python -m pytest -q -s -m latency tests/test_browser.py
	$(BIN)/python benchmarks/notebooks.py
	$(BIN)/python benchmarks/fuzz_api.py --quiet

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info student artifacts nbgrader-course

student: setup
	$(BIN)/python -m dlnlib.student notebooks/*.ipynb --out student

nbgrader: setup
	$(BIN)/python -m dlnlib.grading notebooks/*.ipynb --course nbgrader-course
