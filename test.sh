#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs into .venv first: lint, type checks, then
# pytest (which starts its own Synapse and uses PostgreSQL at 127.0.0.1:5432 when one answers).
# Arguments go to pytest: ./test.sh -k listener
# The tests run in TEST_PROCESSES processes (pytest-xdist; default 3): most of their time is spent
# waiting (on Synapse, on timeouts), not computing. TEST_PROCESSES=0 or 1 runs them in this one, as
# do arguments that choose for themselves (-n, -p no:xdist) or need it (--pdb, --trace).
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
case "${TEST_PROCESSES:-3}" in
0 | 1) processes=(-p no:xdist) ;;
*) processes=(-n "${TEST_PROCESSES:-3}" --dist worksteal) ;;
esac
for arg in "$@"; do
    case "$arg" in
    -n | -n[0-9a-z]* | --numprocesses* | no:xdist | -pno:xdist | --pdb | --trace) processes=() ;;
    esac
done
exec "$VENV/bin/python" -m pytest "${processes[@]}" "$@"
