#!/usr/bin/env bash
# Installs what a fresh Debian machine with Node 20 lacks, then the project's packages.
#   --browser       also install Debian's Chromium (the e2e tests drive it) and the Vulkan loader
#   --conformance   also install Debian's PyTorch, where apt has it, and export the torchvision
#                   conformance models the converter tests run on (zoo/conformance/, not committed)
#   --reproduction  also install Debian's dataset-fashion-mnist (the 60,000-image train split `pnpm reproduce` uses)
# Everything comes from the npm registry and Debian's apt; nothing downloads a browser or a binary.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v pnpm >/dev/null 2>&1; then
  echo "bootstrap: installing pnpm from the npm registry"
  sudo_if_needed npm install -g pnpm
fi

browser=false
conformance=false
reproduction=false
for arg in "$@"; do
  case "$arg" in
    --browser) browser=true ;;
    --conformance) conformance=true ;;
    --reproduction) reproduction=true ;;
    *) echo "bootstrap: unknown option $arg" >&2; exit 64 ;;
  esac
done

apt_updated=false
apt_install() {
  if [ "$apt_updated" = false ]; then sudo_if_needed apt-get update; apt_updated=true; fi
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

if [ "$browser" = true ] && [ ! -x /usr/bin/chromium ]; then
  echo "bootstrap: installing Debian's chromium"
  apt_install chromium
fi

# The Vulkan loader: Dawn (npm `webgpu`, the trainer's WebGPU backend in Node) loads the machine's
# Vulkan driver through it; with no GPU, the tests point it at Chromium's SwiftShader driver.
if [ "$browser" = true ] && ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
  echo "bootstrap: installing Debian's Vulkan loader (libvulkan1)"
  apt_install libvulkan1
fi

if [ "$reproduction" = true ] && [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "bootstrap: installing Debian's dataset-fashion-mnist"
  apt_install dataset-fashion-mnist
fi

if [ "$conformance" = true ]; then
  if /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null || apt_install python3-torch python3-torchvision; then
    if [ ! -f zoo/conformance/vit_small.onnx ]; then
      echo "bootstrap: exporting the torchvision conformance models"
      /usr/bin/python3 zoo/train_zoo.py --conformance-only
    fi
  else
    echo "bootstrap: PyTorch is not installable here; the converter tests run without the conformance models"
  fi
fi

# onnxruntime-node's post-install would fetch CUDA binaries; its CPU binaries ship in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
pnpm install --frozen-lockfile
