#!/usr/bin/env bash
# Builds the dashboard into dashboard/dist (scripts/build-dashboard.mjs) and the worker into build/
# (index.js + index_bg.wasm). `--dev` skips the worker's optimisation (faster builds); other
# arguments go to worker-build (e.g. `--features bench-phases`, see bench/phases.sh).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
node scripts/build-dashboard.mjs
profile="--release"
[ "${1:-}" = "--dev" ] && profile="--dev" && shift
exec worker-build "$profile" "$@"
