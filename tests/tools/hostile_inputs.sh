#!/usr/bin/env bash
# Files that are not what they claim: safnet-campaign refuses each with a message naming the
# file, promptly and in bounded memory:
#  - --model /dev/zero (never ends), a FIFO (would block), a directory;
#  - a campaign-state.json that is a symlink to /dev/zero, read by --resume.
#   tests/tools/hostile_inputs.sh SAFNET_CAMPAIGN_BINARY MODEL WORK_DIR
set -euo pipefail
campaign=$1 model=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
fail() { echo "hostile_inputs: $*" >&2; exit 1; }
run() { timeout 60 "$campaign" --ber 1e-4 --rounds 2 --test-limit 50 --quiet "$@" > "$work/log" 2>&1; }
expect_refusal() {  # expect_refusal PATTERN ARGS...: the run fails (not by timeout) and says PATTERN
    local pattern=$1 rc=0
    shift
    ( ulimit -v 4000000; run "$@" ) || rc=$?
    ((rc != 0)) || fail "accepted: $*"
    ((rc != 124)) || fail "hung: $*"
    grep -q -- "$pattern" "$work/log" || { cat "$work/log" >&2; fail "no '$pattern' for: $*"; }
}
expect_refusal "/dev/zero: safetensors file is not a regular file (a character device)" --model /dev/zero --out "$work/a"
mkfifo "$work/fifo.safetensors"
expect_refusal "fifo.safetensors: safetensors file is not a regular file (a FIFO)" --model "$work/fifo.safetensors" --out "$work/b"
mkdir "$work/dir.safetensors"
expect_refusal "dir.safetensors: safetensors file is not a regular file (a directory)" --model "$work/dir.safetensors" --out "$work/c"
mkdir -p "$work/d"
ln -s /dev/zero "$work/d/campaign-state.json"
expect_refusal "campaign-state.json: the campaign state is not a regular file (a character device)" --model "$model" --out "$work/d" --resume
echo "hostile_inputs: ok"
