#!/usr/bin/env bash
# Install everything the tests need (Python packages into .venv, Debian's chromium
# for the browser test, nginx for the sticky-proxy test) and run the whole suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

has_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }
if ! command -v chromium >/dev/null 2>&1 || ! has_nginx; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  apt() { $SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get "$@"; }
  # RUNLEVEL=1: the packages install their services without starting them (no nginx on :80)
  apt update -qq
  command -v chromium >/dev/null 2>&1 || apt install -y -qq chromium chromium-driver >/dev/null
  has_nginx || apt install -y -qq nginx >/dev/null \
    || echo "no nginx package here: the sticky-proxy test will be skipped"
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt

# The real datasets, when they sit beside the repo; tests that need them skip otherwise.
if [ -z "${MNIST_STUDIO_DATA:-}" ] && [ -d ../shared/data ]; then
  export MNIST_STUDIO_DATA="$(cd ../shared/data && pwd)"
fi
.venv/bin/python -m pytest "$@"
