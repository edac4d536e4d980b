# espnet-dynprune developer entry points
#   make venv     create/refresh .venv (idempotent: reinstalls only when the
#                 packaging files below change; the stamp is .venv/.installed)
#   make sysdeps  apt-get install what is missing of espeak-ng, ffmpeg, a C++ compiler,
#                 Python's headers (these two build pyworld's sdist) and slurm-wlm + munge
#                 (the one-node cluster of the Slurm tests); root only
#   make test     run the test suite
#   make demo     the recipe egs2/europarl_st/s2t1/run.sh end to end on the mini
#                 corpus and the shipped stand-in (DEMO_ARGS=... go to run.sh)
#   make bench    OWSM v3.1 decoding speed, stock ESPnet vs dynprune (BENCH_ARGS=...)
#   make static-bench  statically pruned OWSM v3.1 encoders vs dense (STATIC_BENCH_ARGS=...)
#   make paper-grid     every experiment of the paper's tables (recipe conf/paper_grid.yaml), resumable,
#                       then the clean decode timing (GRID_ARGS=... go to recipe.grid, e.g. --only 'dynprune_*')
#   make paper-results  egs2/europarl_st/s2t1/RESULTS.md from the committed raw results (seconds)

PY ?= python3.11
VENV ?= .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip
STAMP := $(VENV)/.installed
PYTEST_FLAGS ?= -q -p no:cacheprovider -rfEs
DEMO_ARGS ?=
BENCH_ARGS ?=
STATIC_BENCH_ARGS ?=
GRID_ARGS ?=
RECIPE := egs2/europarl_st/s2t1
# Byte-compiled explicitly: with PYTHONDONTWRITEBYTECODE=1 an editable install
# would otherwise recompile the start-up hook on every interpreter start.
HOOK_SOURCES := espnet_dynprune/__init__.py espnet_dynprune/_import_hook.py

.PHONY: venv sysdeps test demo bench static-bench paper-grid paper-results clean

venv: $(STAMP)
	@$(VPY) -m compileall -q $(HOOK_SOURCES)

$(VPY):
	$(PY) -m venv $(VENV)

# pip<25.3: newer pip refuses espnet's dependency ci_sdr.  torch/torchaudio go
# in first, next to setuptools<74 (the editable-install .pth hook in setup.py
# is tested with it, see pyproject.toml).  --no-build-isolation builds every
# sdist with what is installed here instead of a fresh isolated backend, so
# everything those builds import must be here first: BUILD_REQUIRES (pyworld's
# setup.py imports numpy and cythonizes).  Check a change of this list with an
# empty pip cache (PIP_NO_CACHE_DIR=1, as .ci/run does): a cached wheel hides a
# missing build step.
BUILD_REQUIRES := "setuptools<74" wheel numpy cython
$(STAMP): setup.py pyproject.toml espnet_dynprune.pth | $(VPY)
	$(PIP) install --upgrade "pip<25.3" $(BUILD_REQUIRES)
	$(PIP) install $(BUILD_REQUIRES) torch==2.11.0 torchaudio==2.11.0
	$(PIP) install --no-build-isolation -e ".[test]"
	touch $@

# What the tests and the recipe run (espeak-ng, ffmpeg, Slurm) and what building pyworld from its sdist
# needs (a C++ compiler, Python's headers): each checked, the missing ones installed via apt.
PY_HEADERS := $(shell $(PY) -c "import sysconfig, os; print(int(os.path.exists(sysconfig.get_paths()['include'] + '/Python.h')))" 2>/dev/null)
sysdeps:
	@missing=""; \
	for tool in espeak-ng ffmpeg; do \
	  command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; \
	done; \
	command -v c++ >/dev/null 2>&1 || missing="$$missing build-essential"; \
	command -v slurmd >/dev/null 2>&1 || missing="$$missing slurm-wlm"; \
	command -v munged >/dev/null 2>&1 || missing="$$missing munge"; \
	[ "$(PY_HEADERS)" = 1 ] || missing="$$missing $(notdir $(PY))-dev"; \
	if [ -z "$$missing" ]; then \
	  echo "sysdeps: espeak-ng, ffmpeg, a C++ compiler, Python headers, Slurm and munge are installed"; \
	elif [ "$$(id -u)" -ne 0 ]; then \
	  echo "sysdeps: missing:$$missing; not root, skipping (install with: sudo apt-get install -y$$missing)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "sysdeps: missing:$$missing; no apt-get, skipping"; \
	else \
	  echo "sysdeps: installing$$missing"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

test: sysdeps venv
	$(VPY) -m pytest $(PYTEST_FLAGS) tests

demo: sysdeps venv
	. $(abspath $(VENV))/bin/activate && cd egs2/europarl_st/s2t1 && ./run.sh $(DEMO_ARGS)

bench: venv
	$(VPY) -m espnet_dynprune.bin.bench $(BENCH_ARGS)

static-bench: venv
	$(VPY) -m espnet_dynprune.bin.static_bench $(STATIC_BENCH_ARGS)

paper-grid: sysdeps venv
	. $(abspath $(VENV))/bin/activate && cd $(RECIPE) && python -m espnet_dynprune.recipe.grid $(GRID_ARGS) \
	  && python -m espnet_dynprune.recipe.timing

paper-results: venv
	. $(abspath $(VENV))/bin/activate && cd $(RECIPE) && python -m espnet_dynprune.analysis.paper_results \
	  --raw_dir results/raw --header results/header.md --output RESULTS.md

clean:
	rm -rf build dist *.egg-info
