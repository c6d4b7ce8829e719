#!/usr/bin/env bash
# safnet-campaign never mixes results that are not the same computation, and never lets two
# runs write one --out:
#  1. --resume refuses a changed normalization, changed test data and changed model metadata
#     (all three changed the numbers while the old identity stayed the same); a model file
#     whose metadata was edited without its content digest is refused;
#  2. a second run on a finished --out is refused without --resume or --overwrite;
#  3. a run on an --out whose lock another process holds is refused at once.
#   tests/tools/out_dir_guard.sh SAFNET_CAMPAIGN_BINARY MODEL WORK_DIR
set -euo pipefail
campaign=$1 model=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
fail() { echo "out_dir_guard: $*" >&2; exit 1; }
flags=(--ber 1e-4 --rounds 2 --test-limit 50 --threads 1 --quiet)
expect_refusal() {  # expect_refusal PATTERN ARGS...
    local pattern=$1
    shift
    if "$campaign" "${flags[@]}" "$@" > "$work/log" 2>&1; then fail "accepted: $*"; fi
    grep -q -- "$pattern" "$work/log" || { cat "$work/log" >&2; fail "no '$pattern' for: $*"; }
}
cp "$model" "$work/m.safetensors"
"$campaign" "${flags[@]}" --model "$work/m.safetensors" --out "$work/run" > /dev/null

# 1. The identity covers normalization, data and metadata.
expect_refusal "'models' was" --model "$work/m.safetensors" --out "$work/run" --resume --norm-mean 0.3 --norm-std 0.3
data=$work/data
mkdir -p "$data"
cp /usr/share/datasets/fashion-mnist/* "$data/"
python3 - "$data/t10k-images-idx3-ubyte.gz" <<'PY'
import gzip, sys
raw = bytearray(gzip.open(sys.argv[1]).read())
raw[16 + 3 * 784 + 400] ^= 0x40  # one pixel of test image 3 (of the first 50 evaluated)
open(sys.argv[1], "wb").write(gzip.compress(bytes(raw)))
PY
expect_refusal "'models' was" --model "$work/m.safetensors" --out "$work/run" --resume --data-dir "$data"
python3 "$(dirname "$0")/set_metadata.py" "$work/m.safetensors" "$work/m.safetensors" note=relabelled
expect_refusal "'models' was" --model "$work/m.safetensors" --out "$work/run" --resume
# The same relabel by hand (the file's content digest left as it was): the file itself is refused.
python3 "$(dirname "$0")/set_metadata.py" --stale-digest "$model" "$work/hand.safetensors" note=by-hand
expect_refusal "hand.safetensors.*content_sha256.*changed after the file was written" --model "$work/hand.safetensors" --out "$work/hand"
cp "$model" "$work/m.safetensors"
"$campaign" "${flags[@]}" --model "$work/m.safetensors" --out "$work/run" --resume > "$work/log" || fail "the unchanged run does not resume"
grep -q "already done" "$work/log" || fail "the unchanged run did not find its results"

# 2. A finished --out is not silently overwritten.
expect_refusal "holds a campaign already" --model "$work/m.safetensors" --out "$work/run"
"$campaign" "${flags[@]}" --model "$work/m.safetensors" --out "$work/run" --overwrite > /dev/null || fail "--overwrite was refused"

# 3. One writer per --out.
mkdir -p "$work/locked"
flock "$work/locked/.safnet.lock" sleep 30 &
holder=$!
for _ in $(seq 50); do flock -n "$work/locked/.safnet.lock" true 2> /dev/null || break; sleep 0.1; done
expect_refusal "another safnet-campaign is writing to this directory" --model "$work/m.safetensors" --out "$work/locked"
kill "$holder" 2> /dev/null || true
wait "$holder" 2> /dev/null || true
echo "out_dir_guard: ok"
