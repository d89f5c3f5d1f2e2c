#!/usr/bin/env bash
# npm run demo: installs what npm needs, checks for nats-server (the demo starts its own) and PostgreSQL, then runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsx scripts/check-deps.ts --for-demo
exec npx tsx scripts/demo.ts "$@"
