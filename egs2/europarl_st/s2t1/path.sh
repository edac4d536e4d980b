# Environment for the recipe (sourced by run.sh), as in ESPnet's egs2/*/path.sh.
MAIN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
export MAIN_ROOT
# Use the project's venv (make venv) when there is one; otherwise the active Python environment,
# which must have espnet_dynprune installed (pip install -e $MAIN_ROOT).
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f "${MAIN_ROOT}/.venv/bin/activate" ]; then
    # shellcheck disable=SC1091
    . "${MAIN_ROOT}/.venv/bin/activate"
fi
export LC_ALL=C
export PYTHONIOENCODING=UTF-8
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
