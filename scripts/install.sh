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
# Debian's packages for the tests: Chromium for the browser tests (tests/pipeline/sfu/test_chromium.py)
# and coturn for the TURN test (tests/pipeline/sfu/test_turn.py); each skips without its package.
# Playwright drives Debian's Chromium binary: never `playwright install`, which downloads a browser
# build of its own. ROOMREEL_SKIP_BROWSER=1: neither (a machine that runs no browser tests).
if [ "${ROOMREEL_SKIP_BROWSER:-0}" != 1 ]; then
  missing=""
  [ -x /usr/bin/chromium ] || missing="$missing chromium"
  command -v turnserver >/dev/null || missing="$missing coturn"
  if [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo -n"; fi
    # shellcheck disable=SC2086
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing; } >/dev/null; then
      echo "warning: could not install$missing; the tests that need them will be skipped" >&2
    fi
  fi
fi
