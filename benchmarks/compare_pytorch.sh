#!/usr/bin/env bash
# ResNet20 in safnet and in PyTorch (Debian python3-torch) on this machine, side by side.
# glibc is told not to return memory to the kernel (PyTorch's best configuration here).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch
fi
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet_bench
MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 \
    /usr/bin/python3 benchmarks/pytorch/resnet_bench.py --safnet build/release/benchmarks/safnet_bench
