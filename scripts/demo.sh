#!/usr/bin/env bash
# The main job: installs what is missing, builds, trains ResNet20 on Fashion-MNIST without a
# SAF and with tanh (one epoch each, cosine schedule, seed 1), and prints both test accuracies.
# Models, resume state and CSV logs go to ${SAFNET_DEMO_OUT:-build/demo}. A run that finds a
# model's resume state continues from it (a finished model is not retrained; delete the
# directory to start over).
# Extra flags pass through to every safnet-train call (e.g. --train-limit 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${SAFNET_DEMO_OUT:-build/demo}

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet-train
mkdir -p "$out"

train() {  # train SAF: one epoch of ResNet20 on Fashion-MNIST into $out/<saf>.safetensors
    local saf=$1 model="$out/resnet20_fashion_$1.safetensors"
    local resume=()
    [[ -f "$model.state" ]] && resume=(--resume)
    echo "== training ResNet20 on Fashion-MNIST, SAF $saf"
    ./build/release/examples/safnet-train --dataset fashion-mnist --model resnet20 --saf "$saf" --epochs 1 \
        --batch 128 --lr 0.1 --momentum 0.9 --wd 5e-4 --nesterov --seed 1 --threads 2 --out "$model" "${resume[@]}" "${@:2}"
}

start=$(date +%s)
train none "$@"
train tanh "$@"

echo
echo "== ResNet20, Fashion-MNIST, 1 epoch: test accuracy"
for saf in none tanh; do
    printf '  %-5s %s %%\n' "$saf" "$(tail -n 1 "$out/resnet20_fashion_$saf.safetensors.csv" | cut -d, -f5 | xargs printf '%.2f')"
done
echo "main job took $(( $(date +%s) - start )) s after the build"
