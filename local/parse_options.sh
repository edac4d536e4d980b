#!/usr/bin/env bash
# Shared by the recipes (each links this dir as utils/, as ESPnet recipes link egs2/TEMPLATE).
# Sourced by a script after its defaults: "--name value" or "--name=value" sets the shell variable
# `name` (dashes become underscores). Only variables the script declared are accepted, so a typo in an
# option fails loudly instead of being ignored. `--help` prints the declared options.
while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h)
            echo "Usage: $0 [--option value] ...  (see the defaults at the top of $0)"
            exit 0 ;;
        --*=*) _name="${1%%=*}"; _value="${1#*=}"; shift ;;
        --*)
            if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 1; fi
            _name="$1"; _value="$2"; shift 2 ;;
        *) echo "$0: unexpected argument '$1' (options are --name value)" >&2; exit 1 ;;
    esac
    _name="${_name#--}"; _name="${_name//-/_}"
    if ! declare -p "${_name}" >/dev/null 2>&1; then
        echo "$0: unknown option --${_name}" >&2; exit 1
    fi
    printf -v "${_name}" '%s' "${_value}"
done
unset _name _value
