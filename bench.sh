#!/usr/bin/env bash
# Runs the benchmarks (bench/), installing what they need into .venv first (the dev extras, which
# include Synapse and py-spy): a real Synapse, the fake Bot API server and the bridge as its own
# process. Prints a table and writes it into BENCHMARKS.md.
#   ./bench.sh                     everything, written as the "after" section of BENCHMARKS.md
#   ./bench.sh --record before     the same, as the "before" section
#   ./bench.sh --quick             small sizes, about a minute, nothing written
#   ./bench.sh --only t2m,latency  some scenarios (t2m, m2t, latency, burst, sync, startup)
#   ./bench.sh --profile bridge.speedscope.json   also profile the bridge with py-spy
#   ./bench.sh --help              every option
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/ensure-venv.sh
source "$root/scripts/ensure-venv.sh"
# The bridge itself runs as admins run it: from an environment with only its own dependencies
# (the dev extras bring Synapse's, which the bridge's libraries would load too, costing memory).
BRIDGE_VENV="$root/.venv-bench-bridge" ensure_venv "$root" runtime .
export BENCH_BRIDGE_PYTHON="$VENV/bin/python"
ensure_venv "$root" dev ".[dev]"
cd "$root"
exec "$VENV/bin/python" -m bench "$@"
