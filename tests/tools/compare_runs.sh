#!/usr/bin/env bash
# 'safnet-campaign compare' across separate runs gives the same differences, byte for byte, as
# one run holding both configurations (the rounds pair across runs as they do within one);
# runs of other seeds are compared as independent campaigns (union bound); runs measured
# differently, a configuration held twice, an unfinished run or no run at all are refused.
#   tests/tools/compare_runs.sh SAFNET_CAMPAIGN_BINARY MODEL WORK_DIR
set -euo pipefail
campaign=$1 model=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
fail() { echo "compare_runs: $*" >&2; exit 1; }
flags=(--model "$model" --dtype fp32,fp16 --ber 1e-3,1e-5 --rounds 20 --test-limit 100 --threads 1 --quiet)
"$campaign" "${flags[@]}" --seed 3 --protect none --out "$work/none" > /dev/null
"$campaign" "${flags[@]}" --seed 3 --protect clip --out "$work/clip" > /dev/null
"$campaign" "${flags[@]}" --seed 3 --protect none,clip --out "$work/both" > /dev/null
"$campaign" compare --out "$work/cmp" --quiet "$work/none" "$work/clip/" > "$work/log" || { cat "$work/log" >&2; fail "compare failed"; }
[[ -f "$work/both/paired.csv" ]] || fail "the one-run campaign wrote no paired.csv"
diff <(sort "$work/both/paired.csv") <(sort "$work/cmp/paired.csv") > "$work/diff" || { cat "$work/diff" >&2; fail "the differences across runs are not those of one run"; }
grep -q ",yes," "$work/cmp/paired.csv" || fail "no paired row: the test needs the rounds to pair"

# Another seed: independent draws, never paired.
"$campaign" "${flags[@]}" --seed 4 --protect clip --out "$work/clip4" > /dev/null
"$campaign" compare --out "$work/cmp4" --quiet "$work/none" "$work/clip4" > "$work/log4" || { cat "$work/log4" >&2; fail "compare across seeds failed"; }
rows=$(tail -n +2 "$work/cmp4/paired.csv" | wc -l)
((rows == 4)) || fail "expected 4 comparisons across seeds, got $rows"
(($(grep -c ',no,0,.*,independent-union,they ran with other seeds$' "$work/cmp4/paired.csv") == 4)) ||
    { cat "$work/cmp4/paired.csv" >&2; fail "runs of other seeds were not compared as independent"; }

refused() {  # refused PATTERN ARGS...: compare must fail with a message matching PATTERN
    local pattern=$1; shift
    if "$campaign" compare --quiet "$@" > "$work/bad.log" 2>&1; then fail "accepted: $*"; fi
    grep -q -- "$pattern" "$work/bad.log" || { cat "$work/bad.log" >&2; fail "no message '$pattern' for: $*"; }
}
"$campaign" "${flags[@]/#100/50}" --seed 3 --protect clip --out "$work/clip50" > /dev/null
refused "ran with test_images 50" --out "$work/c1" "$work/none" "$work/clip50"
refused "both hold" --out "$work/c2" "$work/none" "$work/both"
mkdir -p "$work/empty"
refused "empty/campaign-state.json" --out "$work/c3" "$work/none" "$work/empty"
refused "no campaign directories given" --out "$work/c4"
refused "--out DIR is required" "$work/none"
refused "is not A:B" --out "$work/c5" --compare nonsense "$work/none" "$work/clip"
"$campaign" compare --help | grep -q "RUN_DIR" || fail "compare --help"
echo "compare_runs: ok"
