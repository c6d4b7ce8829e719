#!/usr/bin/env bash
# The same fault campaign in safnet and in PyTorch (Debian python3-torch), side by side:
#   bash benchmarks/compare_campaign_pytorch.sh [MODEL.safetensors] [extra flags, e.g. --ber 1e-4 --rounds 10]
# MODEL defaults to the main job's tanh model (build/demo/resnet20_fashion_tanh.safetensors).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/pytorch/ensure_torch.sh
model=${1:-build/demo/resnet20_fashion_tanh.safetensors}
shift || true
[[ -f "$model" ]] || { echo "no model at $model: run bash scripts/study/main_job.sh first or pass one" >&2; exit 2; }
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet-campaign
/usr/bin/python3 benchmarks/pytorch/campaign_bench.py --model "$model" --safnet-campaign build/release/tools/safnet-campaign "$@"
