#!/usr/bin/env bash
# Install what grok-tui needs on a fresh Debian-like machine: Chromium (apt), a venv,
# and the package with its test dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Chromium (the browser the demo, tests and benchmarks drive) and tmux (the benchmarks
# measure the terminal app in a tmux pane), from Debian's packages.
missing=()
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
   && ! command -v google-chrome >/dev/null 2>&1; then
  missing+=(chromium)
fi
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "bootstrap: installing ${missing[*]} (apt-get)..." >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "bootstrap: ${missing[*]} missing and no apt-get; install them yourself." >&2
    exit 1
  fi
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
