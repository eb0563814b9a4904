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

echo "== deploy check: wrangler deploy --dry-run, bundle size against the plan limits"
bash scripts/deploy_check.sh

echo "== integration: workerd + D1 + KV + official SDKs"
rm -rf test-artifacts/secret-scan
node --test --test-timeout=120000 --test-reporter=spec tests/integration/

echo "== browser: the dashboard in Chromium (screenshots in test-artifacts/screenshots)"
node --test --test-timeout=120000 --test-reporter=spec tests/browser/

echo "== secret scan: storage and logs of every gateway the suite ran"
node tests/support/secret_scan_report.mjs
