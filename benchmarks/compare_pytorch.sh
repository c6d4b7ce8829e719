#!/usr/bin/env bash
# ResNet20 in safnet and in PyTorch (Debian python3-torch) on this machine, side by side,
# interleaved per setup:  bash benchmarks/compare_pytorch.sh [--rounds N]   (default 2)
# glibc is told not to return memory to the kernel (PyTorch's best configuration here).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/pytorch/ensure_torch.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet_bench
/usr/bin/python3 benchmarks/pytorch/resnet_bench.py --safnet build/release/benchmarks/safnet_bench "$@"
