#!/usr/bin/env bash
# Runs the gateway locally on http://127.0.0.1:8787 in workerd (wrangler dev), with D1, KV and Durable
# Objects persisted under .data/, migrations applied, and local secrets generated once in .dev.vars.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh

PORT="${PORT:-8787}"
DATA_DIR="${DATA_DIR:-.data}"

if [ ! -f .dev.vars ]; then
  rand() { node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64url"))'; }
  cat > .dev.vars <<VARS
# Local secrets for wrangler dev (never committed). On a deployed gateway use \`wrangler secret put\`.
ADMIN_SECRET=$(rand)
MASTER_KEY=$(rand)
# Local model servers and tests run on loopback.
ALLOW_PRIVATE_UPSTREAMS=true
VARS
  echo "[dev] generated .dev.vars (ADMIN_SECRET, MASTER_KEY)"
fi
ADMIN_SECRET=$(sed -n 's/^ADMIN_SECRET=//p' .dev.vars)

echo "[dev] applying D1 migrations to $DATA_DIR"
CI=true npx wrangler d1 migrations apply DB --local --persist-to "$DATA_DIR" >/dev/null

cat <<INFO

  omniroute-edge is starting on http://127.0.0.1:$PORT

  Dashboard   http://127.0.0.1:$PORT/        (first password: the admin secret $ADMIN_SECRET, also in .dev.vars;
                                                  set your own under Settings; docs/auth.md)
  API base    http://127.0.0.1:$PORT/v1
  Health      http://127.0.0.1:$PORT/health

  First steps:
    # 1. connect a provider
    curl -s http://127.0.0.1:$PORT/api/providers -H "Authorization: Bearer $ADMIN_SECRET" \\
      -d '{"provider":"openai","api_key":"sk-..."}'
    # 2. create a gateway API key (shown once)
    curl -s http://127.0.0.1:$PORT/api/keys -H "Authorization: Bearer $ADMIN_SECRET" -d '{"name":"laptop"}'
    # 3. point any OpenAI client at http://127.0.0.1:$PORT/v1 with that key, model "openai/gpt-4o-mini"

INFO
exec npx wrangler dev --ip 127.0.0.1 --port "$PORT" --persist-to "$DATA_DIR" --show-interactive-dev-session=false
