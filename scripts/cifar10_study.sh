#!/usr/bin/env bash
# The paper's CIFAR-10 experiment (arXiv 2411.19027) at its own scale, resumably, in steps:
#   train     ResNet20 on CIFAR-10 with SAF none, tanh, arctan, softsign and modtanh, one
#             recipe for all: 100 epochs, batch 128, SGD + Nesterov momentum 0.9, peak lr 0.1
#             with a cosine schedule, weight decay 5e-4 on the raw weights, random crop + flip,
#             seed 1, one compute thread per model (so a model is bit-identical to an
#             uninterrupted one-thread run whatever the interruptions).
#   finetune  the trained unprotected model adapted into tanh and softsign: 5 epochs of AdamW,
#             peak lr 1e-3, weight decay 5e-4, cosine (safnet-train --from).
#   campaign  safnet-campaign on every finished model (ROUNDS_CAP 2000 rounds at most per cell,
#             at least MIN_ROUNDS 100, stopping at a 95 % half-width of 0.5 points):
#               main      all models x fp32/fp16/q2.5 x BER 1e-7, 1e-6, 1e-5, 1e-4, no protection,
#                         with the accuracy-vs-BER curve 1e-10..1e-4 (exact-count strata);
#               baselines the unprotected model with clip and clipact;
#               analysis  per layer and per bit at BER 1e-5 (fp32) for the unprotected model and
#                         the SAF model best at fp32 / 1e-5 in `main`.
#             Each resumes after a kill (finished configurations are kept). TEST_LIMIT (0: all
#             10000 images) bounds the test set, for trying the step out.
#   report    copies the training logs and the campaigns' summaries, timings and plots into
#             docs/results/cifar10-resnet20/ (with machine.txt) and generates
#             docs/results/cifar10-resnet20.md from them (scripts/cifar10_report.py).
#   save      copies each unfinished model's resume state and log into PROGRESS (study/progress,
#             committed) and each finished model into models/: on machines whose sessions end
#             with a fresh clone, that is what carries a run over to the next session.
# Every model continues from its resume state and a finished model is skipped, so a killed run
# picks up where it stopped. Models go to OUT/models/resnet20_cifar10_<saf>.safetensors (with
# the per-epoch CSV log and the resume state next to them); a model without a state in OUT
# starts from PROGRESS's, if that exists (the same bits as an uninterrupted run).
#
#   bash scripts/cifar10_study.sh [--steps train,finetune,save] [--saf none,tanh,...] [--jobs J]
#                                 [--stop-after-epochs N]
# --jobs J trains J models at a time (one thread each; default: the number of cores);
# --stop-after-epochs N trains at most N more epochs per model in this invocation.
# Environment: CIFAR10_DIR (../shared/data/cifar-10-batches-bin), OUT (build/study),
# PROGRESS (study/progress).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${CIFAR10_DIR:-../shared/data/cifar-10-batches-bin}
out=${OUT:-build/study}
progress=${PROGRESS:-study/progress}
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
    case "$step" in train|finetune|campaign|report|save) ;; *) echo "cifar10_study.sh: unknown step '$step' (train, finetune, campaign, report, save)" >&2; exit 2 ;; esac
done
[[ -f "$data/data_batch_1.bin" ]] || { echo "cifar10_study.sh: no CIFAR-10 binary set in $data (set CIFAR10_DIR)" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "cifar10_study.sh: --jobs needs a positive number, got '$jobs'" >&2; exit 2; }

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet-train safnet-campaign >/dev/null
mkdir -p "$out/models"
train=build/release/examples/safnet-train
common=(--dataset cifar10 --data-dir "$data" --model resnet20 --batch 128 --seed 1 --threads 1 --quiet)

finished() {  # finished MODEL EPOCHS: the CSV log holds the last epoch
    [[ -f "$1" && -f "$1.csv" ]] && [[ "$(tail -n 1 "$1.csv" | cut -d, -f1)" == "$2" ]]
}

last_epoch() { [[ -f "$1" ]] && tail -n 1 "$1" | cut -d, -f1 | grep -E '^[0-9]+$' || echo 0; }

run_model() {  # run_model NAME EPOCHS FLAGS...: trains or resumes OUT/models/NAME.safetensors
    local name=$1 epochs=$2; shift 2
    local model="$out/models/$name.safetensors" resume=() saved="$progress/$name.safetensors"
    if finished "$model" "$epochs"; then echo "== $name: finished ($epochs epochs)"; return; fi
    if [[ -f "$saved.state" ]] && (($(last_epoch "$saved.csv") > $(last_epoch "$model.csv"))); then
        echo "== $name: continuing from $saved.state (epoch $(last_epoch "$saved.csv"))"
        cp "$saved.state" "$model.state"
        cp "$saved.csv" "$model.csv"
    fi
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

save_progress() {  # copies unfinished states to $progress and finished models to models/
    mkdir -p "$progress" models
    local model name epochs
    for model in "$out"/models/*.safetensors; do
        [[ -f "$model" ]] || continue
        name=$(basename "$model" .safetensors)
        epochs=100; [[ "$name" == *_to_* ]] && epochs=5
        if finished "$model" "$epochs"; then
            cp "$model" "models/$name.safetensors.tmp" && mv "models/$name.safetensors.tmp" "models/$name.safetensors"
            cp "$model.csv" "models/$name.safetensors.csv"
            rm -f "$progress/$name.safetensors.state" "$progress/$name.safetensors.csv"
            echo "== $name: finished, in models/"
        elif [[ -f "$model.state" ]]; then
            cp "$model.state" "$progress/$name.safetensors.state.tmp" && mv "$progress/$name.safetensors.state.tmp" "$progress/$name.safetensors.state"
            cp "$model.csv" "$progress/$name.safetensors.csv"
            echo "== $name: epoch $(last_epoch "$model.csv") saved to $progress"
        fi
    done
}

campaign_run() {  # campaign_run NAME FLAGS...: one resumable safnet-campaign run into OUT/campaign/NAME
    local dir="$out/campaign/$1" resume=(); shift
    [[ -f "$dir/campaign-state.json" ]] && resume=(--resume)
    echo "== campaign $(basename "$dir") (log $dir.log)"
    mkdir -p "$out/campaign"
    build/release/examples/safnet-campaign --dataset cifar10 --data-dir "$data" --seed 1 --threads "$(nproc)" --quiet \
        --rounds "${ROUNDS_CAP:-2000}" --min-rounds "${MIN_ROUNDS:-100}" --ci-halfwidth 0.5 --test-limit "${TEST_LIMIT:-0}" \
        "$@" --out "$dir" "${resume[@]}" > "$dir.log" 2>&1 || { echo "== campaign $(basename "$dir"): failed, see $dir.log" >&2; return 1; }
}

campaign_step() {
    local models=() saf
    for saf in none tanh arctan softsign modtanh none_to_tanh none_to_softsign; do
        local m="$out/models/resnet20_cifar10_$saf.safetensors" epochs=100
        [[ "$saf" == *_to_* ]] && epochs=5
        if finished "$m" "$epochs"; then models+=(--model "$m"); else echo "== campaign: skipping $saf (not trained yet)"; fi
    done
    local none="$out/models/resnet20_cifar10_none.safetensors"
    finished "$none" 100 || { echo "== campaign: needs at least the finished unprotected model $none (step train)" >&2; exit 1; }
    mkdir -p "$out/campaign"
    printf 'test_limit=%s\nrounds_cap=%s\nmin_rounds=%s\n' "${TEST_LIMIT:-0}" "${ROUNDS_CAP:-2000}" "${MIN_ROUNDS:-100}" > "$out/campaign/settings.txt"
    campaign_run main "${models[@]}" --dtype fp32,fp16,q2.5 --ber 1e-7,1e-6,1e-5,1e-4 --ber-curve 1e-10:1e-4:25
    campaign_run baselines --model "$none" --dtype fp32,fp16,q2.5 --ber 1e-7,1e-6,1e-5,1e-4 --protect clip,clipact
    # The SAF model with the best mean top-1 at fp32 / BER 1e-5 in `main`.
    local best
    best=$(python3 - "$out/campaign/main/summary.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["analysis"] == "ber" and r["dtype"] == "fp32" and r["saf"] != "none"
        and r["protect"] == "none" and abs(float(r["rate"]) - 1e-5) < 1e-12]
print(max(rows, key=lambda r: float(r["mean"]))["path"] if rows else "")
PY
)
    local analysed=(--model "$none"); [[ -n "$best" ]] && analysed+=(--model "$best")
    campaign_run analysis "${analysed[@]}" --dtype fp32 --ber 1e-5 --per-layer --per-bit
}

report_step() {
    local results=${RESULTS:-docs/results/cifar10-resnet20} name f
    [[ -f "$out/campaign/analysis/summary.csv" ]] || { echo "== report: needs the finished campaign step ($out/campaign/analysis)" >&2; exit 1; }
    mkdir -p "$results/training"
    cp "$out"/models/*.safetensors.csv "$results/training/"
    for name in main baselines analysis; do
        mkdir -p "$results/$name"
        for f in summary.csv timing.json curve.csv "$out/campaign/$name"/*.png; do
            f=$(basename "$f")
            [[ -f "$out/campaign/$name/$f" ]] && cp "$out/campaign/$name/$f" "$results/$name/"
        done
    done
    echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(date -u +%Y-%m-%d)" > "$results/machine.txt"
    cp "$out/campaign/settings.txt" "$results/settings.txt"
    python3 scripts/cifar10_report.py "$results" "$results.md"
    echo "== report: $results.md"
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
        campaign) campaign_step ;;
        report) report_step ;;
        save) save_progress ;;
    esac
done
