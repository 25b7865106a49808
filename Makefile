# aqa-companion: the two commands a new user needs are `make` (set up + main job) and `make test`.
# Everything runs from the virtual environment in .venv, created on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Kernel configuration inside the venv: ipykernel otherwise logs "Kernel is running over TCP without
# encryption" at the start of every notebook (papermill, nbval); only its own log level is raised.
KERNEL_CONFIG := $(VENV)/etc/ipython/ipython_kernel_config.py
SCALE  ?= quick
# Extra papermill parameters for `make figures`, e.g. PARAMS="-p seed 1".
PARAMS ?=
# Notebook stems to run with `make figures` (default: all), e.g. ONLY="data_tour ablation_losses".
ONLY ?=
# Extra options of the sweep that trains the notebooks' runs first, e.g. SWEEP="--workers 4" or
# SWEEP="--backend ray --address auto" (README, "Sweeps").
SWEEP ?=

.PHONY: all setup figures report course test unit notebooks lint sync-notebooks clean-cache

all: figures

setup: $(STAMP) $(KERNEL_CONFIG)

# torch is pinned to 2.13.0: here pip takes the locally served CPU wheel; on a CUDA machine, install the CUDA
# build of torch 2.13.0 into .venv first (README, "GPU") and this step keeps it.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

$(KERNEL_CONFIG): | $(STAMP)
	@mkdir -p $(dir $@)
	@printf '%s\n' '# Written by `make` (aqa-companion): hide ipykernel'"'"'s own start-up warnings, e.g. "Kernel is' \
	  '# running over TCP without encryption" (local kernels only); errors and cell output are unaffected.' \
	  'c.IPKernelApp.log_level = "ERROR"' > $@

# Main job, in two steps: train every run the notebooks need on local worker processes (aqa_lib.sweep), then
# execute every notebook with papermill on the embedded synthetic default, from the cache; figures go to
# figures/. A sweep failure does not stop the render (`-`): the runner then reports the failing notebooks.
figures: $(STAMP) $(KERNEL_CONFIG)
	-MPLBACKEND=Agg $(BIN)/python -m aqa_lib.sweep --scale $(SCALE) $(if $(ONLY),$(ONLY)) $(PARAMS) $(SWEEP)
	MPLBACKEND=Agg $(BIN)/python -m aqa_lib.runner --scale $(SCALE) $(if $(ONLY),--only $(ONLY)) $(PARAMS)

# Write-up bundle: the same sweep as `figures` (missing runs trained on the workers), then execute the notebooks
# (runs from the cache) with tables and PDF figures switched on and render report/ (Markdown + LaTeX tables,
# PNG + PDF figures, references.bib, index.html).
report: $(STAMP) $(KERNEL_CONFIG)
	-MPLBACKEND=Agg $(BIN)/python -m aqa_lib.sweep --scale $(SCALE) $(if $(ONLY),$(ONLY)) $(PARAMS) $(SWEEP)
	MPLBACKEND=Agg $(BIN)/python -m aqa_lib.writeup --scale $(SCALE) $(if $(ONLY),--only $(ONLY)) $(PARAMS)

# AQA 101 (notebooks/course/): the student copies (solution cells removed) and the teacher's copy, in out/course/.
course: $(STAMP)
	$(BIN)/python -m aqa_lib.course export --out out/course/student
	$(BIN)/python -m aqa_lib.course export --out out/course/teacher --solutions

# Whole test suite: unit tests, then every notebook under nbval at smoke scale. Each runs on TEST_WORKERS
# processes (pytest-xdist) of one thread each: on this project's 2-core machine one single-threaded process
# per core beats one process with two threads for these small models. Notebooks are distributed whole
# (--dist loadfile: a notebook's cells share one kernel); concurrent runs share the cache safely (atomic writes).
# Unit tests are distributed by work stealing (--dist worksteal): an idle worker takes tests queued for the
# other, so the long sweep / Ray tests do not leave one worker idle at the end (measured 2026-12-03: 295 s ->
# 259 s for the unit tests, against about 230 s for half their summed durations).
TEST_WORKERS ?= 2
test: $(STAMP) $(KERNEL_CONFIG)
	$(BIN)/ruff check aqa_lib tests notebooks benchmarks
	OMP_NUM_THREADS=1 AQA_WORKERS=1 AQA_SCALE=smoke MPLBACKEND=Agg $(BIN)/python -m pytest -p no:nbval -q -n $(TEST_WORKERS) --dist worksteal tests
	OMP_NUM_THREADS=1 AQA_WORKERS=1 AQA_SCALE=smoke MPLBACKEND=Agg $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile \
	  --nbval-lax --nbval-current-env notebooks

unit: $(STAMP)
	$(BIN)/python -m pytest -p no:nbval -q tests

lint: $(STAMP)
	$(BIN)/ruff check aqa_lib tests notebooks benchmarks

# Re-pair every notebooks/*.py (py:percent, the reviewed source) into its .ipynb without outputs.
sync-notebooks: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py notebooks/course/*.py

clean-cache:
	rm -rf .cache
