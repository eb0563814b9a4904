#!/usr/bin/env bash
# Builds the worker into build/ (index.js + index_bg.wasm). `--dev` skips optimisation (faster builds).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
profile="--release"
[ "${1:-}" = "--dev" ] && profile="--dev"
exec worker-build "$profile"
