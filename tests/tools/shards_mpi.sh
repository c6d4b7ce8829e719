#!/usr/bin/env bash
# Campaigns split over shards and over MPI ranks give the files of a single run, byte for byte.
#   bash tests/tools/shards_mpi.sh CAMPAIGN_TOOL WORK_DIR MODEL.safetensors WITH_MPI(0|1)
# For three campaigns (plain; stratified with sign-split strata and a BER curve; adaptive
# stopping): shards N = 1, 2, 5 merged, and (with MPI) mpirun -np 1, 2, 3 against the unsharded
# run. Then: a merge of shards with a differing option, with another model, with a shard missing
# or unfinished is refused, naming the problem; an MPI job stopped midway and resumed with another
# rank count ends with the same files. SHARDS_MPI_ONLY="plain" runs one of the three campaigns.
set -euo pipefail
tool=$1 work=$2 model=$3 with_mpi=$4
rm -rf "$work" && mkdir -p "$work"
other="$work/other.safetensors" && cp "$model" "$other"  # another model file: its path differs
results=(rounds.csv summary.csv summary.json strata.csv curve.csv accuracy_vs_ber.dat)
common=(--model "$model" --dataset fashion-mnist --test-limit 40 --threads 1 --quiet)
declare -A flags=(
    [plain]="--seed 4 --dtype fp32,fp16 --ber 1e-6,1e-4 --protect none,clip --rounds 6 --estimator plain"
    [stratified]="--seed 4 --dtype fp32 --ber 1e-6 --rounds 240 --estimator stratified --ber-curve 1e-9:1e-6:4 --curve-rounds 3 --curve-kmax 3"
    [adaptive]="--seed 4 --dtype fp32,q2.5 --ber 1e-5 --rounds 400 --ci-halfwidth 3 --min-rounds 20"
)
mpirun_flags=(--oversubscribe)
[[ $(id -u) -eq 0 ]] && mpirun_flags+=(--allow-run-as-root)

same() {  # same DIR_A DIR_B: every result file present in A is byte-identical in B
    local f n=0
    for f in "${results[@]}"; do
        [[ -e "$1/$f" ]] || continue
        cmp "$1/$f" "$2/$f" || { echo "FAIL: $2/$f differs from $1/$f"; exit 1; }
        n=$((n + 1))
    done
    ((n >= 3)) || { echo "FAIL: $1 holds only $n result files"; exit 1; }
}

expect_error() {  # expect_error REGEX COMMAND...: the command fails and says REGEX
    local log="$work/error.log"
    if "${@:2}" > "$log" 2>&1; then echo "FAIL: '${*:2}' succeeded"; exit 1; fi
    grep -Eq -- "$1" "$log" || { echo "FAIL: '${*:2}' did not say '$1':"; cat "$log"; exit 1; }
}

for name in ${SHARDS_MPI_ONLY:-plain stratified adaptive}; do
    read -r -a extra <<< "${flags[$name]}"
    ref="$work/$name/single"
    "$tool" "${common[@]}" "${extra[@]}" --out "$ref" > /dev/null
    for n in 1 2 5; do
        dirs=()
        for ((i = 0; i < n; ++i)); do
            dirs+=("$work/$name/shards$n/$i")
            "$tool" "${common[@]}" "${extra[@]}" --shard "$i/$n" --out "${dirs[-1]}" > /dev/null
        done
        "$tool" merge --out "$work/$name/merged$n" --threads 1 --quiet "${dirs[@]}" > /dev/null
        same "$ref" "$work/$name/merged$n"
        echo "ok: $name, $n shards merged"
        [[ $name != stratified ]] || grep -q ',1,1,' "$ref/strata.csv" || { echo "FAIL: no sign-split stratum in $ref/strata.csv"; exit 1; }
    done
    if [[ $with_mpi == 1 ]]; then
        for np in 1 2 3; do
            mpirun "${mpirun_flags[@]}" -np "$np" "$tool" "${common[@]}" "${extra[@]}" --out "$work/$name/mpi$np" > /dev/null
            same "$ref" "$work/$name/mpi$np"
            echo "ok: $name, mpirun -np $np"
        done
    fi
done

read -r -a extra <<< "${flags[plain]}"
shard() { "$tool" "${common[@]}" "${extra[@]}" --shard "$1" --out "$2" "${@:3}" > /dev/null; }
shard 0/2 "$work/bad/a0"
"$tool" "${common[@]}" "${extra[@]/#4/5}" --shard 1/2 --out "$work/bad/a1" > /dev/null  # --seed 5
expect_error "'seed' is 5 there and 4 in the first" "$tool" merge --out "$work/bad/m" "$work/bad/a0" "$work/bad/a1"
"$tool" "${common[@]/$model/$other}" "${extra[@]}" --shard 1/2 --out "$work/bad/b1" > /dev/null
expect_error "'models' is" "$tool" merge --out "$work/bad/m" "$work/bad/a0" "$work/bad/b1"
expect_error "is shard 0/2, but 1 shard directories were given" "$tool" merge --out "$work/bad/m" "$work/bad/a0"
expect_error "shard 0/2 is given twice" "$tool" merge --out "$work/bad/m" "$work/bad/a0" "$work/bad/a0"
# Tampered shard results: a changed clean pass, a round's fault count, a round missing, a round
# held twice (its faults are its seed's, so only the plan can tell). Merge re-derives
# the clean pass, checks every round's faults against its seed and the rounds against the plan,
# naming the file.
shard 0/2 "$work/bad/t0"
shard 1/2 "$work/bad/t1"
for how in clean flips missing unplanned; do
    rm -rf "$work/bad/t0_$how" && cp -r "$work/bad/t0" "$work/bad/t0_$how"
    python3 - "$work/bad/t0_$how/campaign-state.json" "$how" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
key = sorted(s["done"])[0]
r = s["done"][key]
if sys.argv[2] == "clean":
    r["clean"][1] += 1 if r["clean"][1] < r["clean"][0] else -1
    r["clean"][2] = max(r["clean"][2], r["clean"][1])
elif sys.argv[2] == "flips":
    r["rounds"][0][1] += 1
elif sys.argv[2] == "missing":
    r["rounds"].pop()
else:
    r["rounds"].append(list(r["rounds"][-1]))  # a real round, so its faults check out: only the plan can tell
json.dump(s, open(sys.argv[1], "w"))
PY
done
expect_error "t0_clean/campaign-state.json: configuration .*: the saved clean pass scored" "$tool" merge --out "$work/bad/mc" "$work/bad/t0_clean" "$work/bad/t1"
expect_error "t0_flips/campaign-state.json: configuration .*: saved round [0-9]+ of stratum 0 records [0-9]+ flips" "$tool" merge --out "$work/bad/mf" "$work/bad/t0_flips" "$work/bad/t1"
expect_error "t0_missing/campaign-state.json: configuration .*: the saved result lacks rounds" "$tool" merge --out "$work/bad/mm" "$work/bad/t0_missing" "$work/bad/t1"
expect_error "t0_unplanned/campaign-state.json: configuration .*: round [0-9]+ of stratum 0 is held twice or is not in the plan" "$tool" merge --out "$work/bad/mu" "$work/bad/t0_unplanned" "$work/bad/t1"
python3 - "$work/bad/a0/campaign-state.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["run"]["finished"] = False
json.dump(s, open(sys.argv[1], "w"))
PY
shard 1/2 "$work/bad/c1"
expect_error "shard 0/2 is not finished" "$tool" merge --out "$work/bad/m" "$work/bad/a0" "$work/bad/c1"
expect_error "--resume needs the shard of the interrupted run; it was 0/2, now 1/2" shard 1/2 "$work/bad/a0" --resume
expect_error "--shard: '3/2' needs 0 <= I < N" shard 3/2 "$work/bad/d"
expect_error "nonexistent/campaign-state.json: cannot open" "$tool" merge --out "$work/bad/m" "$work/bad/nonexistent"
echo "ok: bad merges refused"

if [[ $with_mpi == 1 ]]; then
    # Stopped midway (SIGTERM to mpirun, which ends its ranks), resumed with another rank count.
    read -r -a extra <<< "${flags[plain]}"
    dir="$work/plain/mpi_resumed"
    mpirun "${mpirun_flags[@]}" -np 2 "$tool" "${common[@]}" "${extra[@]}" --out "$dir" > /dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do [[ -e "$dir/campaign-state.json" ]] && break; sleep 0.1; done
    kill -TERM "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
    echo "stopped with $(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['done']))" "$dir/campaign-state.json") of 8 configurations saved"
    mpirun "${mpirun_flags[@]}" -np 3 "$tool" "${common[@]}" "${extra[@]}" --out "$dir" --resume > /dev/null
    same "$work/plain/single" "$dir"
    "$tool" "${common[@]}" "${extra[@]}" --out "$dir" --resume > /dev/null  # and once more without MPI
    same "$work/plain/single" "$dir"
    echo "ok: MPI job stopped and resumed with another rank count"
fi
echo "all shard and MPI checks passed"
