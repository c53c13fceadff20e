# depthstudy: the two commands are `make study` and `make test`.
# Each target creates .venv and installs what it needs on first use: torch==2.13.0 first, from
# $(TORCH_INDEX) (the CPU build where `nvidia-smi` sees no GPU, the CUDA build where it does; set
# TORCH_INDEX= to use only pip's own configuration), then the package with its notebook and test extras.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.depthstudy-installed
PROFILE ?= cpu
TORCH_SPEC ?= torch==2.13.0
# torch's wheel index: the +cpu / +cuXXX build on it outranks PyPI's build of the same version
# (one retry only: where the index is unreachable but pip finds torch elsewhere, e.g. a local
# wheel folder, each failed lookup then costs a fraction of a second instead of five retries)
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
TORCH_CUDA ?= cu128
TORCH_INDEX ?= https://download.pytorch.org/whl/$(if $(HAS_GPU),$(TORCH_CUDA),cpu)
# JupyterLab refuses to run as root (e.g. in a Docker container) unless told to
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
PYTEST_ARGS ?=
# notebooks run at once by `make study`: 2 on CPU profiles (each kernel gets half the cores), 1 on a GPU
JOBS ?= $(if $(filter cpu preview smoke,$(PROFILE)),2,1)

# the environment every test tier runs under (smoke profile, outputs in .cache/, never in results/)
TEST_ENV := DEPTHSTUDY_PROFILE=smoke TQDM_DISABLE=1 MPLBACKEND=Agg DEPTHSTUDY_RESULTS=$(CURDIR)/.cache/test-results \
	DEPTHSTUDY_CACHE=$(CURDIR)/.cache/test-cache
# notebooks of `make test-fast`: quick ones that need no other notebook's trained models
FAST_NOTEBOOKS ?= notebooks/01_datasets.ipynb
# notebooks of `make extended` (marked metadata.depthstudy.extended; `make study` leaves them out)
EXTENDED_NOTEBOOKS ?= 15_budget_sensitivity

.PHONY: study extended test test-unit test-fast lint lab bench gpu-check synth clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --retries 1 $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[notebooks,test]"
	$(PY) -c "import torch, depthstudy; print('depthstudy', depthstudy.__version__, 'torch', torch.__version__)"
	touch $(STAMP)

## study: run every study notebook in profile $(PROFILE) (default cpu), $(JOBS) at once, into results/$(PROFILE)/
study: $(STAMP)
	$(VENV)/bin/depthstudy run --profile $(PROFILE) --jobs $(JOBS)

## extended: the extended studies (budget sensitivity) in profile $(PROFILE), then the report, into results/$(PROFILE)/
extended: $(STAMP)
	$(VENV)/bin/depthstudy run --profile $(PROFILE) --jobs $(JOBS) --only $(EXTENDED_NOTEBOOKS) 13_report

## test: unit tests, every notebook under nbval (smoke profile), runner and torchrun tests
test: $(STAMP)
	rm -rf .cache/test-results .cache/test-cache/runs
	$(TEST_ENV) $(PY) -m pytest notebooks tests --nbval-lax --nbval-current-env $(PYTEST_ARGS)

## test-unit: the tests in tests/ not marked slow (no notebooks, no torchrun, no smoke study)
test-unit: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)

## test-fast: test-unit plus $(FAST_NOTEBOOKS) under nbval, for iteration (under 3 min on 2 cores)
test-fast: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest tests $(FAST_NOTEBOOKS) -m "not slow" --nbval-lax --nbval-current-env $(PYTEST_ARGS)

## lint: ruff over the tree (configuration in pyproject.toml)
lint: $(STAMP)
	$(VENV)/bin/ruff check .

## lab: JupyterLab on notebooks/ with the project's environment as the python3 kernel
lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(LAB_ARGS) notebooks/

## bench: speed figures for this machine -> results/bench/<device>.json
bench: $(STAMP)
	$(VENV)/bin/depthstudy bench

## gpu-check: on a CUDA machine, bench at paper sizes + 200-step eager-vs-fast CLIFFNet training (< 8 min)
##            -> results/bench/<device>.json; refuses (exit 2) without CUDA
gpu-check: $(STAMP)
	$(PY) -m depthstudy.gpu_check

## synth: pre-generate SynthRooms for $(PROFILE)
synth: $(STAMP)
	$(VENV)/bin/depthstudy data synth --profile $(PROFILE)

clean-venv:
	rm -rf $(VENV)
