#!/usr/bin/env bash
# One command: install what the tests need, then run them all (none may skip).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
