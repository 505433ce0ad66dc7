#!/usr/bin/env bash
# Install everything the tests need (Python packages into .venv, Debian's chromium
# for the browser test, nginx for the sticky-proxy test) and run the whole suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! { command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # RUNLEVEL=1: the packages install their services without starting them (no nginx on :80)
  $SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq chromium chromium-driver nginx-light >/dev/null
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt

# The real datasets, when they sit beside the repo; tests that need them skip otherwise.
if [ -z "${MNIST_STUDIO_DATA:-}" ] && [ -d ../shared/data ]; then
  export MNIST_STUDIO_DATA="$(cd ../shared/data && pwd)"
fi
.venv/bin/python -m pytest "$@"
