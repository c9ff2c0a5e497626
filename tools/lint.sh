#!/usr/bin/env bash
# Lint the tree as CI does: flake8, isort and yapf with the settings of setup.cfg.
# `bash tools/lint.sh --fix` rewrites the files instead of reporting them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
PATHS=(relnas_mm tools tests configs setup.py)

if [[ "${1:-}" == "--fix" ]]; then
    "$PY" -m isort -q "${PATHS[@]}"
    "$PY" -m yapf -i -r -p "${PATHS[@]}"
fi
"$PY" -m flake8
"$PY" -m isort --check-only --diff "${PATHS[@]}"
# yapf -d exits 1 and prints the diff when a file would change
"$PY" -m yapf -d -r -p "${PATHS[@]}"
