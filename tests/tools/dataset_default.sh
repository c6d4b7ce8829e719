#!/usr/bin/env bash
# Without --dataset, both tools take the dataset (and safnet-train --from the architecture)
# from the model file: a campaign names it, a fine-tune runs on it; models that record
# different datasets, or none, are refused with a message naming the files.
#   tests/tools/dataset_default.sh BIN_DIR MODEL WORK_DIR   (MODEL: a fashion-mnist ResNet20)
set -euo pipefail
bin=$1 model=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
fail() { echo "dataset_default: $*" >&2; exit 1; }
here=$(dirname "$0")
"$bin/safnet-campaign" --model "$model" --rounds 2 --test-limit 50 --dry-run > "$work/log"
grep -q "50 test images of fashion-mnist (as the model files record)" "$work/log" || { cat "$work/log" >&2; fail "the campaign did not take the model's dataset"; }
python3 "$here/set_metadata.py" "$model" "$work/mnist.safetensors" dataset=mnist
if "$bin/safnet-campaign" --model "$model" --model "$work/mnist.safetensors" --dry-run > "$work/log2" 2>&1; then fail "two datasets accepted"; fi
grep -q "the models record different datasets (.*: fashion-mnist, .*mnist.safetensors: mnist); pass --dataset" "$work/log2" || { cat "$work/log2" >&2; fail "no message naming both"; }
python3 "$here/set_metadata.py" "$model" "$work/none.safetensors" dataset=
if "$bin/safnet-campaign" --model "$work/none.safetensors" --dry-run > "$work/log3" 2>&1; then fail "a model without a dataset accepted"; fi
grep -q "none.safetensors records no dataset in its metadata; pass --dataset" "$work/log3" || { cat "$work/log3" >&2; fail "no message for a file without a dataset"; }
"$bin/safnet-campaign" --model "$work/none.safetensors" --dataset fashion-mnist --rounds 2 --test-limit 50 --dry-run > /dev/null || fail "--dataset did not override"
# A fine-tune: dataset and architecture from --from.
"$bin/safnet-train" --from "$model" --saf softsign --epochs 1 --train-limit 128 --test-limit 50 --quiet --out "$work/ft.safetensors" > "$work/log4" 2>&1 ||
    { cat "$work/log4" >&2; fail "the fine-tune without --dataset failed"; }
grep -q "resnet20 (.*SAF softsign) on fashion-mnist" "$work/log4" || { cat "$work/log4" >&2; fail "the fine-tune did not take the file's dataset"; }
if "$bin/safnet-train" --from "$work/none.safetensors" --epochs 1 --quiet --out "$work/ft2.safetensors" > "$work/log5" 2>&1; then fail "a --from file without a dataset accepted"; fi
grep -q "records no dataset" "$work/log5" || { cat "$work/log5" >&2; fail "no message for a --from file without a dataset"; }
echo "dataset_default: ok"
