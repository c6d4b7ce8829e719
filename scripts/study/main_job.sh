#!/usr/bin/env bash
# The main job: installs what is missing, builds, then
#  1. trains ResNet20 on Fashion-MNIST three times — SAF none, tanh, softsign — with the same
#     short schedule (one epoch over the first 30000 training images, SGD + Nesterov, cosine,
#     seed 1) and prints the test accuracies;
#  2. runs a fault campaign on the three models: weights stored as fp32 / fp16 / q2.5, bit
#     flips at BER 1e-6 / 1e-5 / 1e-4, 20 rounds per configuration on the first 2000 test images
#     (chosen so the whole job stays within about 10 minutes on 2 cores), stratified by the
#     number of critical-bit faults where that applies, and prints mean accuracies with their
#     intervals and failure probabilities; the plot is build/demo/campaign/accuracy_vs_ber.png.
# Outputs go to ${SAFNET_DEMO_OUT:-build/demo}, with machine.txt and wall_seconds.txt (the time after
# the build) for the report (scripts/docs/update_tables.sh). A model whose resume state exists continues
# from it (a finished model is not retrained; delete the directory to start over).
# Environment knobs: SAFNET_DEMO_TRAIN_LIMIT (30000), SAFNET_DEMO_ROUNDS (20), SAFNET_DEMO_TEST_LIMIT (2000).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${SAFNET_DEMO_OUT:-build/demo}
train_limit=${SAFNET_DEMO_TRAIN_LIMIT:-30000}
rounds=${SAFNET_DEMO_ROUNDS:-20}
test_limit=${SAFNET_DEMO_TEST_LIMIT:-2000}

bash scripts/dev/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet-train safnet-campaign
mkdir -p "$out"
start=$(date +%s)

train() {  # train SAF: ResNet20 on Fashion-MNIST into $out/resnet20_fashion_<saf>.safetensors
    local saf=$1 model="$out/resnet20_fashion_$1.safetensors" resume=()
    [[ -f "$model.state" ]] && resume=(--resume)
    echo "== training ResNet20 on Fashion-MNIST, SAF $saf"
    ./build/release/tools/safnet-train --dataset fashion-mnist --model resnet20 --saf "$saf" --epochs 1 \
        --train-limit "$train_limit" --batch 128 --lr 0.1 --momentum 0.9 --wd 5e-4 --nesterov --seed 1 --threads 2 \
        --out "$model" "${resume[@]}"
}
for saf in none tanh softsign; do train "$saf"; done

echo
echo "== ResNet20, Fashion-MNIST, 1 epoch on $train_limit images: clean test accuracy (10000 images)"
for saf in none tanh softsign; do
    printf '  %-9s %s %%\n' "$saf" "$(tail -n 1 "$out/resnet20_fashion_$saf.safetensors.csv" | cut -d, -f5 | xargs printf '%.2f')"
done

echo
echo "== fault campaign: weights stored as fp32 / fp16 / q2.5, bit flips at BER 1e-6 / 1e-5 / 1e-4"
./build/release/tools/safnet-campaign --dataset fashion-mnist \
    --model "$out/resnet20_fashion_none.safetensors" --model "$out/resnet20_fashion_tanh.safetensors" \
    --model "$out/resnet20_fashion_softsign.safetensors" --dtype fp32,fp16,q2.5 --ber 1e-6,1e-5,1e-4 \
    --rounds "$rounds" --test-limit "$test_limit" --seed 1 --threads 2 --overwrite --out "$out/campaign"
echo "plot: $out/campaign/accuracy_vs_ber.png"
echo "$(( $(date +%s) - start ))" > "$out/wall_seconds.txt"
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(date -u +%Y-%m-%d)" > "$out/machine.txt"
echo "main job took $(cat "$out/wall_seconds.txt") s after the build"
echo "report: bash scripts/docs/update_tables.sh copies the outputs to docs/results/fashion-mnist/ and writes docs/results/fashion-mnist.md"
