#!/usr/bin/env bash
# Builds roomreel's wheel into DIR: the one build used by docker/Dockerfile and by
# tests/test_distribution.py, which installs it in a fresh venv and runs the README's commands.
#   PYTHON=python3 bash scripts/build_wheel.sh DIR [extra pip wheel options]
set -euo pipefail
PYTHON=${PYTHON:-python3}
OUT=${1:?usage: build_wheel.sh DIR [pip options]}
shift
cd "$(dirname "$0")/.."
"$PYTHON" -m pip wheel --no-deps --quiet --wheel-dir "$OUT" "$@" .
