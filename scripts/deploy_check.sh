#!/usr/bin/env bash
# The deploy path as far as it runs without a Cloudflare account: `wrangler deploy --dry-run` builds
# and bundles the worker exactly as `wrangler deploy` would (its [build] command, the wasm, the
# bindings and Durable Object migrations of wrangler.toml) and reports the upload size, which is
# checked here against the plans' limits on the compressed worker: 3 MiB (Free) and 10 MiB (Paid).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

FREE_KIB=$((3 * 1024))
PAID_KIB=$((10 * 1024))
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

log=$(npx wrangler deploy --dry-run --outdir "$out" 2>&1) || { echo "$log" >&2; echo "[deploy-check] wrangler deploy --dry-run failed" >&2; exit 1; }
line=$(grep -E "Total Upload: .* KiB / gzip: .* KiB" <<<"$log" || true)
if [ -z "$line" ]; then
  echo "$log" >&2
  echo "[deploy-check] wrangler did not report the upload size" >&2
  exit 1
fi
total=$(sed -E 's/.*Total Upload: ([0-9.]+) KiB.*/\1/' <<<"$line")
gzip=$(sed -E 's/.*gzip: ([0-9.]+) KiB.*/\1/' <<<"$line")
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", 100 * a / b }'; }
echo "[deploy-check] bundle: ${total} KiB, ${gzip} KiB compressed: $(pct "$gzip" $FREE_KIB)% of the Free plan's ${FREE_KIB} KiB, $(pct "$gzip" $PAID_KIB)% of the Paid plan's ${PAID_KIB} KiB"
if awk -v g="$gzip" -v l="$FREE_KIB" 'BEGIN { exit !(g > l) }'; then
  echo "[deploy-check] the compressed worker is over the Free plan's limit: it deploys on Paid only" >&2
  exit 1
fi
