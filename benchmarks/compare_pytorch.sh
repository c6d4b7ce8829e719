#!/usr/bin/env bash
# ResNet20 in safnet and in PyTorch (Debian python3-torch) on this machine, side by side,
# interleaved per setup:
#   bash benchmarks/compare_pytorch.sh [--rounds N] [--safnet-b OTHER_safnet_bench] [--json PATH]
# (default 2 rounds; results also go to build/bench/compare_pytorch.json, which
# scripts/docs/update_tables.sh turns into the tables of docs/reference/performance.md and the README).
# glibc is told not to return memory to the kernel (PyTorch's best configuration here).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/pytorch/ensure_torch.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet_bench
/usr/bin/python3 benchmarks/pytorch/resnet_bench.py --safnet build/release/benchmarks/safnet_bench --json build/bench/compare_pytorch.json "$@"
