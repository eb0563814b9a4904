#!/usr/bin/env bash
# On-demand load run (not part of the tests). Installs wrk if it is missing, builds the release worker.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$ROOT"
bash scripts/setup.sh
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk
fi
bash scripts/build.sh >/dev/null
node bench/run.mjs "$@"
