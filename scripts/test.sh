#!/usr/bin/env bash
# The whole test suite: installs what npm needs, checks the services, type-checks, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# onnxruntime-node bundles its CPU library; its install script would fetch CUDA files from outside the registry.
export ONNXRUNTIME_NODE_INSTALL=skip
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsx scripts/check-deps.ts --for-tests
bash deploy/scripts/install-tools.sh   # helm, kubectl, promtool; idempotent
echo "== type-check"; npx tsc -p tsconfig.json --noEmit
echo "== lint"; npx eslint --max-warnings 0 .
echo "== tests"; npx vitest run "$@"
