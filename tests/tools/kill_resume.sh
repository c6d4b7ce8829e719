#!/usr/bin/env bash
# Kill-and-resume test of the command-line tools. A reference run goes uninterrupted; then the
# same run is killed with SIGKILL at random moments (during startup, between batches, inside a
# checkpoint write, mid-configuration), resumed with --resume after each kill, and finally run
# to completion. Checked: after every kill, each file under its final name is complete (a valid
# safetensors file, a JSON document, whole CSV lines), and the final result files are
# byte-identical to the reference (timing.json and the training log's wall-clock columns are
# the only files allowed to differ).
#
#   bash tests/tools/kill_resume.sh train|campaign TOOLS_DIR WORK_DIR [KILLS] [SEED]
set -euo pipefail
what=$1 tools=$2 work=$3 kills=${4:-8} seed=${5:-1}
RANDOM=$seed
rm -rf "$work" && mkdir -p "$work"
scale=2 && [[ $what == campaign ]] && scale=3  # startup (loading Fashion-MNIST) takes about 1-2 s

train_flags=(--dataset fashion-mnist --model resnet20 --saf tanh --epochs 4 --train-limit 384 --test-limit 300 --batch 64
             --lr 0.05 --seed 3 --threads 2 --quiet)
train() { cmd=("$tools/safnet-train" "${train_flags[@]}" --out "$1/m.safetensors" "${@:2}"); }
campaign_flags=(--dataset fashion-mnist --dtype fp32,fp16 --ber 1e-7,1e-4 --rounds 12 --test-limit 300 --seed 2 --threads 2 --quiet)
campaign() { cmd=("$tools/safnet-campaign" --model "$work/ref/m.safetensors" "${campaign_flags[@]}" --out "$1" "${@:2}"); }
# The functions above only fill `cmd`: the tool itself must be the background process, so that
# SIGKILL hits it and not a subshell that would leave it running on.

check_complete() {  # every file under a final name parses completely
    python3 - "$1" <<'PY'
import json, os, struct, sys
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        if ".tmp-" in f:
            continue  # a temp file a kill left behind: never under a final name
        b = open(p, "rb").read()
        if f.endswith(".safetensors") or f.endswith(".state"):
            n = struct.unpack("<Q", b[:8])[0]
            h = json.loads(b[8:8 + n])
            end = max([v["data_offsets"][1] for k, v in h.items() if k != "__metadata__"] + [0])
            assert 8 + n + end == len(b), f"{p}: truncated safetensors file"
        elif f.endswith(".json"):
            json.loads(b)
        elif f.endswith(".csv"):
            assert b == b"" or b.endswith(b"\n"), f"{p}: a partial CSV line"
PY
}

progress() {  # what the killed run had saved
    if [[ -e "$1/m.safetensors.csv" ]]; then echo "$(($(wc -l < "$1/m.safetensors.csv") - 1)) epochs saved";
    elif [[ -e "$1/campaign-state.json" ]]; then python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['done']), 'configurations saved')" "$1/campaign-state.json";
    else echo "nothing saved"; fi
}

run_killed() {  # run_killed FUNCTION DIR STATEFILE: kill $kills times, resuming each time, then finish
    local fn=$1 dir=$2 state=$3
    for ((i = 0; i < kills; ++i)); do
        local resume=() delay
        [[ -e "$state" ]] && resume=(--resume)
        delay=$(printf '0.%03d' $((RANDOM % 1000)))
        delay=$(awk -v d="$delay" -v i="$i" -v s="$scale" 'BEGIN { printf "%.3f", d * s * (1 + i % 3) }')  # 0 to 3 s x scale
        "$fn" "$dir" "${resume[@]}"
        "${cmd[@]}" > /dev/null 2>&1 &
        local pid=$!
        sleep "$delay"
        kill -KILL "$pid" 2> /dev/null || true
        wait "$pid" 2> /dev/null || true
        echo "kill $((i + 1)) after ${delay} s: $(progress "$dir")"
        check_complete "$dir"
    done
    local resume=()
    [[ -e "$state" ]] && resume=(--resume)
    "$fn" "$dir" "${resume[@]}"
    "${cmd[@]}" > /dev/null
    check_complete "$dir"
}

same() {
    if ! cmp "$1" "$2"; then echo "FAIL: $2 differs from the uninterrupted run's $1" >&2; exit 1; fi
}

mkdir -p "$work/ref"
train "$work/ref" && "${cmd[@]}"
if [[ $what == train ]]; then
    mkdir -p "$work/killed"
    run_killed train "$work/killed" "$work/killed/m.safetensors.state"
    same "$work/ref/m.safetensors" "$work/killed/m.safetensors"
    # The state's tensors (weights, BN statistics, optimizer momentum) are identical too.
    python3 - "$work/ref/m.safetensors.state" "$work/killed/m.safetensors.state" <<'PY'
import json, struct, sys
def body(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    meta = {k: v for k, v in h.pop("__metadata__").items() if k not in ("history", "content_sha256")}
    return h, meta, b[8 + n:]
a, b = body(sys.argv[1]), body(sys.argv[2])
assert a == b, "resume state differs beyond the wall-clock history"
PY
    # The training log differs only in its wall-clock columns (seconds, images/s, loader wait).
    same <(cut -d, -f1-5 "$work/ref/m.safetensors.csv") <(cut -d, -f1-5 "$work/killed/m.safetensors.csv")
else
    campaign "$work/ref_campaign" && "${cmd[@]}" > /dev/null
    run_killed campaign "$work/killed_campaign" "$work/killed_campaign/campaign-state.json"
    for f in rounds.csv summary.csv summary.json strata.csv accuracy_vs_ber.dat campaign-state.json; do
        [[ -e "$work/ref_campaign/$f" ]] && same "$work/ref_campaign/$f" "$work/killed_campaign/$f"
    done
fi
echo "kill-and-resume ($what): $kills kills, final files identical to the uninterrupted run"
