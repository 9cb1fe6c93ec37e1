#!/usr/bin/env bash
# Runs the bridge, installing what it needs into .venv first (again whenever pyproject.toml or
# constraints.txt changes). Arguments go to the bridge: ./run.sh -c config.yaml
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/ensure-venv.sh
source "$root/scripts/ensure-venv.sh"
ensure_venv "$root" runtime .
export BRIDGE_COMMAND="${BRIDGE_COMMAND:-$0}"
exec "$VENV/bin/python" -m bridge "$@"
