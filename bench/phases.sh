#!/usr/bin/env bash
# Where the gateway's CPU goes, by elimination: a build with the `bench-phases` feature answers a
# request right after a chosen phase (src/platform/bench_stop.rs), and bench/ab.mjs compares the stops
# with each other, with the floor (forward only) and with a worker that only answers (`empty`).
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
node bench/ab.mjs --empty --builds "$P#entry,$P#auth,$P#body,$P#forward,$P#hops,$P#nometer,$P" "$@"
