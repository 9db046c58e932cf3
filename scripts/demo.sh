#!/usr/bin/env bash
# One command for a newcomer: install what is needed, then run a whole session
# against the simulated Grok site in a headless Chromium (no Grok account needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -t 1 ]; then
  exec .venv/bin/grok-tui demo "$@"
else
  exec .venv/bin/grok-tui demo --no-ui "$@"
fi
