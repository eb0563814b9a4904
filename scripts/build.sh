#!/usr/bin/env bash
# Builds the dashboard into dashboard/dist (scripts/build-dashboard.mjs) and the worker into build/
# (index.js + index_bg.wasm). `--dev` skips the worker's optimisation (faster builds).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
node scripts/build-dashboard.mjs
profile="--release"
[ "${1:-}" = "--dev" ] && profile="--dev"
exec worker-build "$profile"
