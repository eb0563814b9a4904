#!/usr/bin/env bash
# Where the gateway's CPU goes, by elimination: a build with the `bench-phases` feature answers a
# request right after a chosen phase (src/platform/bench_stop.rs), and bench/ab.mjs compares the stops
# with each other, with the floor (forward only), with a worker that only answers (`empty`) and with
# the gateway's minimum I/O done in plain JS (bench/variants/minimum_io.js). Pinned (`--pin`): the
# spread of a paired difference drops from ~100-200 to ~25-50 µs on a 2-core machine.
# Usage: bash bench/phases.sh [ab.mjs options, e.g. --rounds 10 --duration 5]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$ROOT"
out="$(mktemp -d)/phases"
trap 'rm -rf "$(dirname "$out")"' EXIT
bash scripts/build.sh --features bench-phases >/dev/null
cp -r build "$out"
bash scripts/build.sh >/dev/null # the normal build back in place
P="$out"
node bench/ab.mjs --pin --empty --js bench/variants/minimum_io.js \
  --builds "$P#entry,$P#auth,$P#body,$P#forward,$P#fwdpromise,$P#hops,$P#nometer,$P" "$@"
