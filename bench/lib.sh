# shellcheck shell=bash
#
# bench/lib.sh - the preamble every bench/*.sh shares, sourced right after
# `set -euo pipefail`: scripts/lib.sh (fr_say, fr_die, fr_now, FR_REPO) with FR_ME=bench, the
# repository as the working directory, and the knobs most benchmarks take, with their
# defaults: DURATION (s per run, 10), RUNS (runs per side, 3), WARMUP (s, 3).

FR_ME=bench
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$FR_REPO" || exit 1

DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-3}
