# depthstudy: the two commands are `make study` and `make test`.
# Each target creates .venv and installs what it needs on first use (torch==2.13.0 first, so pip
# never pulls a CUDA build of torch; then the package with its notebook and test extras).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.depthstudy-installed
PROFILE ?= cpu
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
# notebooks run at once by `make study`: 2 on CPU profiles (each kernel gets half the cores), 1 on a GPU
JOBS ?= $(if $(filter cpu smoke,$(PROFILE)),2,1)

.PHONY: study test test-unit test-notebooks lab bench gpu-check synth clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[notebooks,test]"
	$(PY) -c "import torch, depthstudy; print('depthstudy', depthstudy.__version__, 'torch', torch.__version__)"
	touch $(STAMP)

## study: run every study notebook in profile $(PROFILE) (default cpu), $(JOBS) at once, into results/$(PROFILE)/
study: $(STAMP)
	$(VENV)/bin/depthstudy run --profile $(PROFILE) --jobs $(JOBS)

## test: unit tests, every notebook under nbval (smoke profile), runner and torchrun tests
test: $(STAMP)
	rm -rf .cache/test-results .cache/test-cache/runs
	DEPTHSTUDY_PROFILE=smoke TQDM_DISABLE=1 MPLBACKEND=Agg DEPTHSTUDY_RESULTS=$(CURDIR)/.cache/test-results \
		DEPTHSTUDY_CACHE=$(CURDIR)/.cache/test-cache \
		$(PY) -m pytest notebooks tests --nbval-lax --nbval-current-env $(PYTEST_ARGS)

## lab: JupyterLab on notebooks/ with the project's environment as the python3 kernel
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

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
