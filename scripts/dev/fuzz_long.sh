#!/usr/bin/env bash
# A longer fuzzing run than the test command's 30 s per harness: each harness of tests/fuzz
# runs SECONDS (default 240; the checkpoint harness, the slowest, 300) from its committed
# corpus and dictionary, one after another, in the fuzz build (cmake --preset fuzz). Logs and
# the grown corpora go to OUT (default build/fuzz-long); the table of executions, coverage and
# crashes goes to docs/results/fuzzing.csv. Crash inputs land in OUT/crash_<harness>_*: copy
# one into tests/fuzz/crashes/<harness>/ once it is fixed, so the unit tests replay it.
#
#   bash scripts/dev/fuzz_long.sh [SECONDS]          run, then summarize
#   bash scripts/dev/fuzz_long.sh --summarize OUT    summarize the logs of an earlier run in OUT
set -euo pipefail
cd "$(dirname "$0")/../.."
harnesses=(idx parsers cifar safetensors campaign_state checkpoint merge gnuplot flags)
if [[ "${1:-}" == "--summarize" ]]; then
    out=$2
else
    seconds=${1:-240}
    out=${OUT:-build/fuzz-long}
    cmake --preset fuzz > /dev/null
    cmake --build --preset fuzz -j "$(nproc)"
    mkdir -p "$out"
    for h in "${harnesses[@]}"; do
        t=$seconds
        [[ $h == checkpoint ]] && t=$((seconds * 5 / 4))
        mkdir -p "$out/corpus_$h"
        build/fuzz/tests/fuzz/fuzz_$h -max_total_time="$t" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 \
            -artifact_prefix="$out/crash_${h}_" -dict="tests/fuzz/dict/$h.dict" "$out/corpus_$h" "tests/fuzz/corpus/$h" \
            > "$out/$h.log" 2>&1 || echo "$h: the fuzzer stopped with a finding, see $out/$h.log" >&2
    done
fi
python3 - "$out" "${harnesses[@]}" <<'PY'
import glob, os, re, sys
out, names = sys.argv[1], sys.argv[2:]
rows = ["harness,seconds,executions,executions_per_second,edge_coverage,features,corpus_inputs,peak_rss_mb,crash_inputs"]
total = 0
for h in names:
    log = open(os.path.join(out, h + ".log"), errors="replace").read()
    stat = lambda k: int(re.search(r"stat::%s:\s+(\d+)" % k, log).group(1))
    last = [l for l in log.splitlines() if re.match(r"#\d+\s", l) and "cov:" in l][-1]
    cov = re.search(r"cov: (\d+)", last).group(1)
    ft = re.search(r"ft: (\d+)", last).group(1)
    corp = re.search(r"corp: (\d+)", last).group(1)
    execs, rate = stat("number_of_executed_units"), stat("average_exec_per_sec")
    secs = round(execs / max(rate, 1))
    crashes = len(glob.glob(os.path.join(out, "crash_%s_*" % h)))
    rows.append(f"{h},{secs},{execs},{rate},{cov},{ft},{corp},{stat('peak_rss_mb')},{crashes}")
    total += execs
os.makedirs("docs/results", exist_ok=True)
open("docs/results/fuzzing.csv", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
print(f"total executions: {total}")
PY
