#!/usr/bin/env bash
# The one install script, used by the Makefile and by docker/Dockerfile.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[dev]"
# Debian's Chromium for the browser tests (tests/pipeline/sfu/test_chromium.py), which skip without it.
# Playwright drives this binary: never `playwright install`, which downloads a browser build of its own.
# ROOMREEL_SKIP_BROWSER=1 (docker/Dockerfile): no browser, the image runs no browser tests.
if [ "${ROOMREEL_SKIP_BROWSER:-0}" != 1 ] && [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo -n"; fi
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } >/dev/null; then
    echo "warning: could not install chromium; the browser tests will be skipped" >&2
  fi
fi
