#!/usr/bin/env bash
# One epoch of ResNet20 (tanh SAF) training in safnet-train and in PyTorch, side by side, on
# Fashion-MNIST and CIFAR-10 (the latter from ${SAFNET_CIFAR10_DIR:-../shared/data/cifar-10-batches-bin}).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/pytorch/ensure_torch.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet-train
cifar=${SAFNET_CIFAR10_DIR:-../shared/data/cifar-10-batches-bin}
for ds in fashion-mnist cifar10; do
    dir=/usr/share/datasets/fashion-mnist
    [[ $ds == cifar10 ]] && dir=$cifar
    echo "== $ds"
    ./build/release/tools/safnet-train --dataset "$ds" --data-dir "$dir" --saf tanh --epochs 1 --nesterov --quiet | grep -E "^epoch"
    /usr/bin/python3 benchmarks/pytorch/epoch_bench.py --dataset "$ds" --data-dir "$dir" --saf tanh
done
