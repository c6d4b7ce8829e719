#!/usr/bin/env bash
# The paper's CIFAR-10 experiment (arXiv 2411.19027) at its own scale, resumably, in steps:
#   train     ResNet20 on CIFAR-10 with SAF none, tanh, arctan, softsign and modtanh, one
#             recipe for all: 100 epochs, batch 128, SGD + Nesterov momentum 0.9, peak lr 0.1
#             with a cosine schedule, weight decay 5e-4 on the raw weights, random crop + flip,
#             seed 1, one compute thread per model (so a model is bit-identical to an
#             uninterrupted one-thread run whatever the interruptions).
#   finetune  the trained unprotected model adapted into tanh and softsign: 5 epochs of AdamW,
#             peak lr 1e-3, weight decay 5e-4, cosine (safnet-train --from).
# Every model continues from its resume state and a finished model is skipped, so a killed run
# picks up where it stopped. Models go to OUT/models/resnet20_cifar10_<saf>.safetensors (with
# the per-epoch CSV log and the resume state next to them).
#
#   bash scripts/cifar10_study.sh [--steps train,finetune] [--saf none,tanh,...] [--jobs J]
#                                 [--stop-after-epochs N]
# --jobs J trains J models at a time (one thread each; default: the number of cores);
# --stop-after-epochs N trains at most N more epochs per model in this invocation.
# Environment: CIFAR10_DIR (../shared/data/cifar-10-batches-bin), OUT (build/study).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${CIFAR10_DIR:-../shared/data/cifar-10-batches-bin}
out=${OUT:-build/study}
steps=train,finetune
safs=none,tanh,arctan,softsign,modtanh
jobs=$(nproc)
stop_after=()
while (($#)); do
    case "$1" in
        --steps) steps=$2; shift 2 ;;
        --saf) safs=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --stop-after-epochs) stop_after=(--stop-after "$2"); shift 2 ;;
        *) echo "cifar10_study.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
    esac
done
for step in ${steps//,/ }; do
    case "$step" in train|finetune) ;; *) echo "cifar10_study.sh: unknown step '$step' (train, finetune)" >&2; exit 2 ;; esac
done
[[ -f "$data/data_batch_1.bin" ]] || { echo "cifar10_study.sh: no CIFAR-10 binary set in $data (set CIFAR10_DIR)" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "cifar10_study.sh: --jobs needs a positive number, got '$jobs'" >&2; exit 2; }

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet-train >/dev/null
mkdir -p "$out/models"
train=build/release/examples/safnet-train
common=(--dataset cifar10 --data-dir "$data" --model resnet20 --batch 128 --seed 1 --threads 1 --quiet)

finished() {  # finished MODEL EPOCHS: the CSV log holds the last epoch
    [[ -f "$1" && -f "$1.csv" ]] && [[ "$(tail -n 1 "$1.csv" | cut -d, -f1)" == "$2" ]]
}

run_model() {  # run_model NAME EPOCHS FLAGS...: trains or resumes OUT/models/NAME.safetensors
    local name=$1 epochs=$2; shift 2
    local model="$out/models/$name.safetensors" resume=()
    if finished "$model" "$epochs"; then echo "== $name: finished ($epochs epochs)"; return; fi
    [[ -f "$model.state" ]] && resume=(--resume)
    echo "== $name: training (log $model.csv)"
    "$train" "${common[@]}" --epochs "$epochs" "$@" --out "$model" "${resume[@]}" "${stop_after[@]}" > "$out/models/$name.log" 2>&1 ||
        { echo "== $name: failed, see $out/models/$name.log" >&2; return 1; }
}

parallel() {  # runs the queued commands (one per line of stdin), $jobs at a time; fails if any failed
    local status=0 line
    while IFS= read -r line; do
        while (($(jobs -rp | wc -l) >= jobs)); do wait -n || status=1; done
        eval "$line" &
    done
    while (($(jobs -rp | wc -l) > 0)); do wait -n || status=1; done
    return $status
}

recipe=(--optimizer sgd --lr 0.1 --momentum 0.9 --nesterov --wd 5e-4 --schedule cosine)
for step in ${steps//,/ }; do
    case "$step" in
        train)
            for saf in ${safs//,/ }; do echo "run_model resnet20_cifar10_$saf 100 --saf $saf ${recipe[*]}"; done | parallel ;;
        finetune)
            base="$out/models/resnet20_cifar10_none.safetensors"
            finished "$base" 100 || { echo "== finetune: needs the finished unprotected model $base (step train)" >&2; exit 1; }
            for saf in tanh softsign; do
                echo "run_model resnet20_cifar10_none_to_$saf 5 --saf $saf --from $base --optimizer adamw --lr 1e-3 --wd 5e-4 --schedule cosine"
            done | parallel ;;
    esac
done
