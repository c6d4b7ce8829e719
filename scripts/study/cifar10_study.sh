#!/usr/bin/env bash
# The paper's CIFAR-10 experiment (arXiv 2411.19027) at its own scale, resumably, in steps:
#   train     ResNet20 on CIFAR-10 with SAF none, tanh, arctan, softsign and modtanh, one
#             recipe for all: 100 epochs, batch 128, SGD + Nesterov momentum 0.9, peak lr 0.1
#             with a cosine schedule, weight decay 5e-4 on the raw weights, random crop + flip,
#             seed 1, one compute thread per model (so a model is bit-identical to an
#             uninterrupted one-thread run whatever the interruptions).
#   finetune  the trained unprotected model adapted into tanh and softsign: 5 epochs of AdamW,
#             peak lr 1e-3, weight decay 5e-4, cosine (safnet-train --from).
#   campaign  safnet-campaign on every finished model, ROUNDS (100) rounds per cell, --jobs runs
#             at a time (each with nproc/jobs threads; results do not depend on either):
#               main_<saf>   fp32/fp16/q2.5 x BER 1e-7, 1e-6, 1e-5, 1e-4, no protection;
#               curve_<saf>  accuracy vs BER 1e-10..1e-4 at fp32 from exact-count strata
#                            (k = 0..CURVE_KMAX (20), CURVE_ROUNDS (20) rounds each);
#               baselines    the unprotected model with clip and clipact, the main cells;
#               compare      'safnet-campaign compare' over main_none, the four SAF models trained
#                            from scratch and baselines (once they have finished): each SAF model
#                            against each other and clip against each, every format and rate
#                            (campaign/compare/paired.csv, the report's verdicts);
#               analysis_<saf> per layer and per bit at BER 1e-5 (fp32), ANALYSIS_ROUNDS (20)
#                            rounds each, for the unprotected model and the SAF model trained
#                            from scratch that is best at fp32 / 1e-5 (once all main_* exist).
#             Each resumes after a kill (finished configurations are kept), also from
#             PROGRESS/campaign (step save). For trying the step out: TEST_LIMIT (0: all 10000
#             images) bounds the test set, PARTIAL=1 runs the analysis without all models.
#   report    copies the training logs (the longest of OUT, models/ and PROGRESS) and the finished
#             campaigns' summaries, timings and plots (OUT's or PROGRESS's) into
#             docs/results/cifar10-resnet20/ (with machine.txt, settings.txt and pending.csv,
#             the unfinished campaigns' progress), draws the accuracy-vs-BER figure of all models
#             (scripts/docs/cifar10_figure.py, gnuplot) and generates docs/results/cifar10-resnet20.md
#             from them (scripts/docs/cifar10_report.py). It runs at any point of the study: what
#             has not finished yet is listed in the report's status section.
#   save      copies each unfinished model's resume state and log into PROGRESS (study/progress,
#             committed), each finished model into models/ (with models/README.md and
#             SHA256SUMS, scripts/docs/models_index.py), and every campaign's directory into
#             PROGRESS/campaign: on machines whose sessions end with a fresh clone, that is what
#             carries a run over to the next session (a finished model comes back from models/).
# Every model continues from its resume state and a finished model is skipped, so a killed run
# picks up where it stopped. Models go to OUT/models/resnet20_cifar10_<saf>.safetensors (with
# the per-epoch CSV log and the resume state next to them); a model without a state in OUT
# starts from PROGRESS's, if that exists (the same bits as an uninterrupted run).
#
#   bash scripts/study/cifar10_study.sh [--steps train,finetune,campaign,report,save] [--saf none,tanh,...] [--jobs J]
#                                 [--threads T] [--stop-after-epochs N]
# --jobs J trains J models (or runs J campaigns) at a time (default: the number of cores);
# --threads T gives each campaign T threads (default: cores / J; training always uses one);
# --stop-after-epochs N trains at most N more epochs per model in this invocation.
# Environment: CIFAR10_DIR (../shared/data/cifar-10-batches-bin), OUT (build/study),
# PROGRESS (study/progress), RESULTS (docs/results/cifar10-resnet20), and the campaign's
# ROUNDS, CURVE_ROUNDS, CURVE_KMAX, ANALYSIS_ROUNDS, TEST_LIMIT, PARTIAL.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${CIFAR10_DIR:-../shared/data/cifar-10-batches-bin}
out=${OUT:-build/study}
progress=${PROGRESS:-study/progress}
steps=train,finetune
safs=none,tanh,arctan,softsign,modtanh
jobs=$(nproc)
threads=
stop_after=()
while (($#)); do
    case "$1" in
        --steps) steps=$2; shift 2 ;;
        --saf) safs=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --stop-after-epochs) stop_after=(--stop-after "$2"); shift 2 ;;
        *) echo "cifar10_study.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
    esac
done
for step in ${steps//,/ }; do
    case "$step" in train|finetune|campaign|report|save) ;; *) echo "cifar10_study.sh: unknown step '$step' (train, finetune, campaign, report, save)" >&2; exit 2 ;; esac
done
[[ -f "$data/data_batch_1.bin" ]] || { echo "cifar10_study.sh: no CIFAR-10 binary set in $data (set CIFAR10_DIR)" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "cifar10_study.sh: --jobs needs a positive number, got '$jobs'" >&2; exit 2; }
[[ -z "$threads" || "$threads" =~ ^[1-9][0-9]*$ ]] || { echo "cifar10_study.sh: --threads needs a positive number, got '$threads'" >&2; exit 2; }

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet-train safnet-campaign >/dev/null
mkdir -p "$out/models"
train=build/release/tools/safnet-train
common=(--dataset cifar10 --data-dir "$data" --model resnet20 --batch 128 --seed 1 --threads 1 --quiet)

all_models=(none tanh arctan softsign modtanh none_to_tanh none_to_softsign)
model_epochs() { if [[ "$1" == *_to_* ]]; then echo 5; else echo 100; fi; }  # model_epochs SAF_OR_NAME
[[ -n "$threads" ]] || threads=$(( $(nproc) / jobs ))
((threads >= 1)) || threads=1
rounds=${ROUNDS:-100} curve_rounds=${CURVE_ROUNDS:-20} curve_kmax=${CURVE_KMAX:-20} analysis_rounds=${ANALYSIS_ROUNDS:-20}

finished() {  # finished MODEL EPOCHS: the CSV log holds the last epoch
    [[ -f "$1" ]] && (($(last_epoch "$1.csv") == $2))
}

copy_atomic() {  # copy_atomic SRC DST: DST (a file or a directory) becomes a whole copy of SRC, never half of one
    rm -rf "$2.tmp" && cp -r "$1" "$2.tmp"
    if [[ -d "$2" ]]; then rm -rf "$2"; fi  # a file is renamed over atomically; a directory cannot be
    mv -T "$2.tmp" "$2"
}

restore_finished() {  # restore_finished NAME EPOCHS: a model finished in an earlier session, from models/
    local model="$out/models/$1.safetensors" shipped="models/$1.safetensors"
    if ! finished "$model" "$2" && finished "$shipped" "$2"; then
        copy_atomic "$shipped" "$model"
        cp "$shipped.csv" "$model.csv"
        echo "== $1: finished in an earlier session, copied from $shipped"
    fi
}

locked() {  # locked FILE: holds FILE's lock until the calling (background) job ends; fails if another invocation holds it
    local fd
    exec {fd}>"$1" && flock -n "$fd"
}

last_epoch() { [[ -f "$1" ]] && tail -n 1 "$1" | cut -d, -f1 | grep -E '^[0-9]+$' || echo 0; }

run_model() {  # run_model NAME EPOCHS FLAGS...: trains or resumes OUT/models/NAME.safetensors
    local name=$1 epochs=$2; shift 2
    local model="$out/models/$name.safetensors" resume=() saved="$progress/$name.safetensors"
    locked "$out/models/$name.lock" || { echo "== $name: another invocation is training it, skipped"; return 0; }
    restore_finished "$name" "$epochs"
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
        epochs=$(model_epochs "$name")
        if finished "$model" "$epochs"; then
            copy_atomic "$model" "models/$name.safetensors"
            cp "$model.csv" "models/$name.safetensors.csv"
            rm -f "$progress/$name.safetensors.state" "$progress/$name.safetensors.csv"
            echo "== $name: finished, in models/"
        elif [[ -f "$model.state" ]]; then
            copy_atomic "$model.state" "$progress/$name.safetensors.state"
            cp "$model.csv" "$progress/$name.safetensors.csv"
            echo "== $name: epoch $(last_epoch "$model.csv") saved to $progress"
        fi
    done
    local dir
    for dir in "$out"/campaign/*/; do
        [[ -f "$dir/campaign-state.json" ]] || continue
        name=$(basename "$dir")
        mkdir -p "$progress/campaign"
        copy_atomic "$dir" "$progress/campaign/$name"
        echo "== campaign $name: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["done"]))' "$dir/campaign-state.json" 2>/dev/null || echo '?') configurations saved to $progress/campaign"
    done
    if [[ -f "$out/campaign/compare/paired.csv" ]]; then
        mkdir -p "$progress/campaign/compare" && cp "$out/campaign/compare/paired.csv" "$progress/campaign/compare/paired.csv"
    fi
    [[ -f "$out/campaign/settings.txt" ]] && cp "$out/campaign/settings.txt" "$progress/campaign/settings.txt"
    if compgen -G "models/*.safetensors" >/dev/null; then python3 scripts/docs/models_index.py models; fi
}

campaign_run() {  # campaign_run NAME FLAGS...: one resumable safnet-campaign run into OUT/campaign/NAME
    local name=$1 dir="$out/campaign/$1" resume=(); shift
    mkdir -p "$out/campaign"
    locked "$dir.lock" || { echo "== campaign $name: another invocation is running it, skipped"; return 0; }
    if [[ ! -f "$dir/campaign-state.json" && -f "$progress/campaign/$name/campaign-state.json" ]]; then
        echo "== campaign $name: continuing from $progress/campaign/$name"
        copy_atomic "$progress/campaign/$name" "$dir"
    fi
    [[ -f "$dir/campaign-state.json" ]] && resume=(--resume)
    echo "== campaign $name (log $dir.log)"
    build/release/tools/safnet-campaign --dataset cifar10 --data-dir "$data" --seed 1 --threads "$threads" --quiet \
        --test-limit "${TEST_LIMIT:-0}" "$@" --out "$dir" "${resume[@]}" > "$dir.log" 2>&1 || { echo "== campaign $name: failed, see $dir.log" >&2; return 1; }
}

campaign_step() {
    local none="$out/models/resnet20_cifar10_none.safetensors" saf m ready=()
    for saf in "${all_models[@]}"; do
        m="$out/models/resnet20_cifar10_$saf.safetensors"
        restore_finished "resnet20_cifar10_$saf" "$(model_epochs "$saf")"
        if finished "$m" "$(model_epochs "$saf")"; then ready+=("$saf"); else echo "== campaign: skipping $saf (not trained yet)"; fi
    done
    finished "$none" 100 || { echo "== campaign: needs at least the finished unprotected model $none (step train)" >&2; exit 1; }
    mkdir -p "$out/campaign"
    printf 'test_limit=%s\nrounds=%s\ncurve_rounds=%s\ncurve_kmax=%s\nanalysis_rounds=%s\n' "${TEST_LIMIT:-0}" "$rounds" "$curve_rounds" "$curve_kmax" \
        "$analysis_rounds" > "$out/campaign/settings.txt"
    # The headline cells (main_*) first, so a study cut short by a session's end has them.
    {
        for saf in "${ready[@]}"; do
            echo "campaign_run main_$saf --model $out/models/resnet20_cifar10_$saf.safetensors --dtype fp32,fp16,q2.5 --ber 1e-7,1e-6,1e-5,1e-4 --rounds $rounds"
        done
        echo "campaign_run baselines --model $none --dtype fp32,fp16,q2.5 --ber 1e-7,1e-6,1e-5,1e-4 --protect clip,clipact --rounds $rounds"
        for saf in "${ready[@]}"; do
            echo "campaign_run curve_$saf --model $out/models/resnet20_cifar10_$saf.safetensors --dtype fp32 --ber 0 --rounds 1 --ber-curve 1e-10:1e-4:25 --curve-rounds $curve_rounds --curve-kmax $curve_kmax"
        done
    } | parallel
    ((${#ready[@]} == ${#all_models[@]})) || [[ -n "${PARTIAL:-}" ]] || { echo "== campaign: the analysis waits for every model's main campaign" >&2; return 0; }
    campaign_compare
    # The SAF model with the best mean top-1 at fp32 / BER 1e-5 among those trained from scratch.
    local best
    best=$(python3 - "$out"/campaign/main_*/summary.csv <<'PY'
import csv, sys
rows = [r for f in sys.argv[1:] for r in csv.DictReader(open(f))
        if r["analysis"] == "ber" and r["dtype"] == "fp32" and r["saf"] != "none" and "_to_" not in r["path"]
        and r["protect"] == "none" and abs(float(r["rate"]) - 1e-5) < 1e-12]
print(max(rows, key=lambda r: float(r["mean"]))["path"] if rows else "")
PY
)
    {
        echo "campaign_run analysis_none --model $none --dtype fp32 --ber 1e-5 --per-layer --per-bit --rounds $analysis_rounds"
        [[ -n "$best" ]] && echo "campaign_run analysis_$(basename "$best" .safetensors | sed 's/^resnet20_cifar10_//') --model $best --dtype fp32 --ber 1e-5 --per-layer --per-bit --rounds $analysis_rounds"
    } | parallel
}

campaign_compare() {  # the differences behind the report's verdicts, from the finished main_* and baselines runs
    local dirs=() pairs=() saf other dir scratch=(tanh arctan softsign modtanh)
    for dir in "$out/campaign/main_none" "${scratch[@]/#/$out/campaign/main_}" "$out/campaign/baselines"; do
        [[ -f "$dir/summary.csv" ]] || { echo "== compare: waits for $(basename "$dir")"; return 0; }
        dirs+=("$dir")
    done
    for saf in "${scratch[@]}"; do
        pairs+=(--compare "resnet20_cifar10_none+clip:resnet20_cifar10_$saf")
        for other in "${scratch[@]}"; do
            [[ "$saf" < "$other" ]] && pairs+=(--compare "resnet20_cifar10_$saf:resnet20_cifar10_$other")
        done
    done
    echo "== compare (log $out/campaign/compare.log)"
    build/release/tools/safnet-campaign compare --out "$out/campaign/compare" --threads "$(nproc)" --quiet "${pairs[@]}" "${dirs[@]}" \
        > "$out/campaign/compare.log" 2>&1 || { echo "== compare: failed, see $out/campaign/compare.log" >&2; return 1; }
}

newest_log() {  # newest_log NAME: the training log of NAME with the most epochs among OUT, models/ and PROGRESS
    local dir log best=
    for dir in "$out/models" models "$progress"; do
        log="$dir/resnet20_cifar10_$1.safetensors.csv"
        if [[ -f "$log" ]] && { [[ -z "$best" ]] || (($(last_epoch "$log") > $(last_epoch "$best"))); }; then best=$log; fi
    done
    echo "$best"
}

report_step() {  # the report of what has finished so far; the rest is listed as pending
    local results=${RESULTS:-docs/results/cifar10-resnet20} name log dir src f
    rm -rf "$results.tmp" && mkdir -p "$results.tmp/training" "$results.tmp/campaign"
    for name in "${all_models[@]}"; do
        log=$(newest_log "$name")
        if [[ -n "$log" ]]; then cp "$log" "$results.tmp/training/"; fi
    done
    for name in $( (ls "$out/campaign" "$progress/campaign" 2>/dev/null || true) | grep -E '^(main|curve|baselines|analysis)' | sed 's/[.]lock$//; s/[.]log$//' | sort -u); do
        src=
        for dir in "$out/campaign/$name" "$progress/campaign/$name"; do
            if [[ -z "$src" && -f "$dir/summary.csv" ]]; then src=$dir; fi
        done
        if [[ -n "$src" ]]; then
            mkdir -p "$results.tmp/campaign/$name"
            for f in "$src"/summary.csv "$src"/timing.json "$src"/curve.csv "$src"/*.png; do
                if [[ -f "$f" ]]; then cp "$f" "$results.tmp/campaign/$name/"; fi
            done
        else  # unfinished: how many configurations its resume state holds (the most of OUT's and PROGRESS's)
            python3 - "$name" "$out/campaign/$name/campaign-state.json" "$progress/campaign/$name/campaign-state.json" >> "$results.tmp/campaign/pending.csv" <<'PY'
import json, os, sys
states = [json.load(open(p)) for p in sys.argv[2:] if os.path.isfile(p)]
best = max(states, key=lambda s: len(s["done"]), default=None)
if best:  # a campaign without a state has not finished its first configuration: not started, for the report
    print(f"{sys.argv[1]},{len(best['done'])},{best['run']['configurations']}")
PY
        fi
    done
    for f in "$out/campaign/compare/paired.csv" "$progress/campaign/compare/paired.csv"; do
        if [[ -f "$f" ]]; then mkdir -p "$results.tmp/campaign/compare" && cp "$f" "$results.tmp/campaign/compare/"; break; fi
    done
    if [[ -f "$results.tmp/campaign/pending.csv" ]]; then sed -i '1i campaign,done,configurations' "$results.tmp/campaign/pending.csv"; fi
    for f in "$out/campaign/settings.txt" "$progress/campaign/settings.txt"; do
        if [[ -f "$f" ]]; then cp "$f" "$results.tmp/settings.txt"; break; fi
    done
    echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(date -u +%Y-%m-%d)" > "$results.tmp/machine.txt"
    rm -rf "$results" && mv "$results.tmp" "$results"
    python3 scripts/docs/cifar10_figure.py "$results" || echo "cifar10_study.sh: no figure drawn (the report goes without it)" >&2
    python3 scripts/docs/cifar10_report.py "$results" "$results.md"
    echo "== report: $results.md"
}

recipe=(--optimizer sgd --lr 0.1 --momentum 0.9 --nesterov --wd 5e-4 --schedule cosine)
main() {
    local step base saf
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
}
# One line, parsed whole before it runs: bash reads a script as it goes, so an edit or a
# `git pull` during a run of several hours must not reach a line it has not read yet.
main; exit
