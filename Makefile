# qama-compile: `make demo` and `make test` work on a fresh machine with only Python 3.11.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# The CPU build of PyTorch (optional extra). Set TORCH_SPEC= to skip it.
TORCH_SPEC ?= torch==2.13.0
PYTEST_FLAGS ?= -q

.PHONY: all demo test test-fast lint typecheck bench bench-quick experiments experiments-quick clean

all: test

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@if [ -n "$(TORCH_SPEC)" ]; then $(PIP) install --quiet "$(TORCH_SPEC)" || echo "warning: '$(TORCH_SPEC)' did not install; the torch tests will be skipped" >&2; fi
	$(PIP) install --quiet -e '.[dev,dask]'
	@if $(BIN)/python -c "import torch" 2>/dev/null; then $(PIP) install --quiet -e '.[torch,dev,dask]'; fi
	@touch $@

demo: $(VENV)/.installed
	$(BIN)/qama demo --out demo-output

test: $(VENV)/.installed
	$(BIN)/python -m pytest tests qama_compile backends $(PYTEST_FLAGS)

test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest tests qama_compile backends -m "not slow" $(PYTEST_FLAGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy qama_compile backends

# Peers (cim-optimizer, simulated-bifurcation, OpenJij) live in their own venv, never in ours.
bench:
	bash benchmarks/setup.sh
	.venv-bench/bin/python benchmarks/bench_lower.py
	.venv-bench/bin/python benchmarks/bench_solvers.py

bench-quick:
	bash benchmarks/setup.sh
	.venv-bench/bin/python benchmarks/bench_lower.py --quick
	.venv-bench/bin/python benchmarks/bench_solvers.py --quick

# The evidence for the paper's claims (docs/experiments.md): about 30 minutes on 2 idle cores.
experiments: $(VENV)/.installed
	$(BIN)/python -m experiments.run_all

# Pipeline check of the same (2 seeds, 2 epochs, small data; numbers meaningless): under 2 minutes.
experiments-quick: $(VENV)/.installed
	$(BIN)/python -m experiments.run_all --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis demo-output build *.egg-info
