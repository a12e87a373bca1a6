#!/usr/bin/env bash
# Installs what a fresh Debian machine with Node 20 lacks, then the project's packages.
#   --browser   also install Debian's Chromium (the e2e tests drive it)
# Everything comes from the npm registry and Debian's apt; nothing downloads a browser or a binary.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v pnpm >/dev/null 2>&1; then
  echo "bootstrap: installing pnpm from the npm registry"
  sudo_if_needed npm install -g pnpm
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  echo "bootstrap: installing Debian's chromium"
  sudo_if_needed apt-get update
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi

# onnxruntime-node's post-install would fetch CUDA binaries; its CPU binaries ship in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
pnpm install --frozen-lockfile
