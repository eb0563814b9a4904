#!/usr/bin/env bash
# Runs every test: the pure core natively (cargo test), then the built worker in workerd with real
# local D1/KV against mock upstreams, driven by the official OpenAI SDK (node:test); then the
# dashboard in Debian's Chromium (playwright-core) against the same worker.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh

echo "== core: cargo test"
cargo test --locked --quiet

echo "== build (release, as deployed)"
bash scripts/build.sh >/dev/null

echo "== integration: workerd + D1 + KV + official SDKs"
node --test --test-timeout=120000 --test-reporter=spec tests/integration/

echo "== browser: the dashboard in Chromium (screenshots in test-artifacts/screenshots)"
node --test --test-timeout=120000 --test-reporter=spec tests/browser/
