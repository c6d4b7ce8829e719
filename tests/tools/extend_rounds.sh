#!/usr/bin/env bash
# A finished campaign extended with --resume --rounds M (more rounds than it ran) reuses the
# rounds it saved and ends with files byte-identical to a run that asked for M rounds from the
# start, for plain and stratified configurations alike; a changed option other than --rounds
# is still refused.
#   tests/tools/extend_rounds.sh SAFNET_CAMPAIGN_BINARY MODEL WORK_DIR
set -euo pipefail
campaign=$1 model=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
fail() { echo "extend_rounds: $*" >&2; exit 1; }
flags=(--model "$model" --dtype fp32,fp16 --ber 1e-3,1e-5 --test-limit 100 --threads 1 --quiet --seed 3)
"$campaign" "${flags[@]}" --rounds 24 --out "$work/ref" > /dev/null
"$campaign" "${flags[@]}" --rounds 10 --out "$work/ext" > /dev/null
"$campaign" "${flags[@]}" --rounds 24 --out "$work/ext" --resume > "$work/log" || { cat "$work/log" >&2; fail "the extension was refused"; }
grep -q "extended from 10 to 24 rounds per configuration" "$work/log" || { cat "$work/log" >&2; fail "no extension message"; }
grep -q "stratified" "$work/ref/summary.csv" || fail "no stratified configuration: the test needs one"
for f in rounds.csv summary.csv summary.json strata.csv; do
    [[ -e "$work/ref/$f" ]] || continue
    cmp -s "$work/ref/$f" "$work/ext/$f" || { diff "$work/ref/$f" "$work/ext/$f" | head >&2; fail "$f differs from the 24-round run"; }
done
if "$campaign" "${flags[@]/#3/4}" --rounds 30 --out "$work/ext" --resume > "$work/log2" 2>&1; then fail "a changed seed was accepted"; fi
grep -q "'seed' was 3, now 4" "$work/log2" || { cat "$work/log2" >&2; fail "no message naming the seed"; }
echo "extend_rounds: ok"
