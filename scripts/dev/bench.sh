#!/usr/bin/env bash
# Builds and runs the benchmark suite (ratios against references measured in the same run).
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/dev/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet_bench
./build/release/benchmarks/safnet_bench --benchmark_counters_tabular=true "$@"
