#!/usr/bin/env bash
# Installs everything the build, the local run and the tests need. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
# Must equal the wasm-bindgen version pinned in Cargo.toml (and so in Cargo.lock).
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)

log() { printf '[setup] %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

have_version() { # have_version BIN VERSION: BIN on PATH prints VERSION in --version
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"
}

if ! have_version worker-build "$WORKER_BUILD_VERSION"; then
  log "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

if ! have_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked
fi

# npm ci wipes node_modules; skip it when the installed tree already matches the lockfile.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || ! cmp -s <(sed -n '/"packages"/,$p' package-lock.json | grep -v '"node_modules/\?"' ) <(sed -n '/"packages"/,$p' "$stamp" | grep -v '"node_modules/\?"') 2>/dev/null; then
  if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
    log "installing npm packages (npm ci)"
    npm ci --no-audit --no-fund
  fi
fi
log "ok"
