#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs into .venv first: lint, type checks, then
# pytest (which starts its own Synapse and uses PostgreSQL at 127.0.0.1:5432 when one answers).
# Arguments go to pytest: ./test.sh -k listener
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/ensure-venv.sh
source "$root/scripts/ensure-venv.sh"
ensure_venv "$root" dev ".[dev]"
cd "$root"
if [ "$#" -eq 0 ]; then
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    "$VENV/bin/mypy"
fi
exec "$VENV/bin/python" -m pytest "$@"
