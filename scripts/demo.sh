#!/usr/bin/env bash
# npm run demo: installs what npm needs, checks for nats-server (the demo starts its own) and PostgreSQL, then runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
# onnxruntime-node bundles its CPU library; its install script would fetch CUDA files from outside the registry.
export ONNXRUNTIME_NODE_INSTALL=skip
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsx scripts/check-deps.ts --for-demo
exec npx tsx scripts/demo.ts "$@"
