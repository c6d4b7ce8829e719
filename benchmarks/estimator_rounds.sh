#!/usr/bin/env bash
# Rounds a 95 % half-width of H points costs with plain Monte Carlo and with the stratified
# estimator, per configuration, from one fixed-budget run of each:
#   plain       n = (z sd / H)^2                  sd: the plain run's per-round sd
#   stratified  n = (z sum_s w_s sd_s / H)^2      Neyman allocation with the measured stratum sds
# (the statistical cost alone: the adaptive floor of --rare-failure adds up to ~300 rounds to
# either). Also checks that the stratified mean lies in the plain run's interval.
#
#   bash benchmarks/estimator_rounds.sh MODEL.safetensors... [-- extra safnet-campaign flags]
# Environment: SUMMARIZE_ONLY (set: no runs, the table from OUT), ROUNDS (40 per run), PLAIN_ROUNDS (ROUNDS; more makes the plain interval, which
# the stratified mean is checked against, tighter), TEST_LIMIT (2000), BERS (1e-7,1e-6,1e-5), DTYPES (fp32,fp16,q2.5),
# HALFWIDTH (0.5), DATASET (fashion-mnist), OUT (build/estimator_rounds).
set -euo pipefail
cd "$(dirname "$0")/.."
models=()
while (($#)) && [[ "$1" != "--" ]]; do models+=(--model "$1"); shift; done
[[ "${1:-}" == "--" ]] && shift
((${#models[@]})) || { echo "usage: $0 MODEL.safetensors... [-- flags]" >&2; exit 2; }
out=${OUT:-build/estimator_rounds}
common=(--dataset "${DATASET:-fashion-mnist}" --dtype "${DTYPES:-fp32,fp16,q2.5}" --ber "${BERS:-1e-7,1e-6,1e-5}"
        --rounds "${ROUNDS:-40}" --test-limit "${TEST_LIMIT:-2000}" --seed 1 --threads 2 --quiet "$@")
for est in plain stratified; do
    [[ -n "${SUMMARIZE_ONLY:-}" ]] && break  # only the table, from an earlier run's files in OUT
    SECONDS=0
    mkdir -p "$out"
    rounds=${ROUNDS:-40}
    [[ $est == plain ]] && rounds=${PLAIN_ROUNDS:-$rounds}
    build/release/examples/safnet-campaign "${models[@]}" "${common[@]}" --rounds "$rounds" --estimator "$est" --out "$out/$est" > "$out/$est.log"
    echo "$est: ${SECONDS} s wall (per configuration: $out/$est/timing.json)" >&2
done
python3 - "$out" "${HALFWIDTH:-0.5}" <<'PY'
import csv, sys, collections
out, h = sys.argv[1], float(sys.argv[2])
z = 1.959963984540054
key = lambda r: (r["model"], r["dtype"], r["rate"])
plain = {key(r): r for r in csv.DictReader(open(f"{out}/plain/summary.csv")) if r["analysis"] == "ber"}
strat = {key(r): r for r in csv.DictReader(open(f"{out}/stratified/summary.csv")) if r["analysis"] == "ber"}
neyman = collections.defaultdict(float)
for r in csv.DictReader(open(f"{out}/stratified/strata.csv")):
    neyman[key(r)] += float(r["weight"]) * float(r["sd"])
import json
def seconds_per_round(est):  # from timing.json: configuration key "ber|model|dtype|protect|rate|..."
    t = json.load(open(f"{out}/{est}/timing.json"))
    models = list(dict.fromkeys(r["model"] for r in csv.DictReader(open(f"{out}/{est}/summary.csv"))))
    spr = {}
    for c in t["configurations"]:
        part = c["configuration"].split("|")
        if part[0] == "ber" and c["rounds"]:
            spr[(models[int(part[1])], part[2], float(part[4]))] = c["seconds"] / c["rounds"]
    return spr
spr = {est: seconds_per_round(est) for est in ("plain", "stratified")}
tkey = lambda k: (k[0], k[1], float(k[2]))
print("| model | dtype | BER | plain mean [interval] | plain sd | stratified mean | plain rounds for ±%g | stratified rounds | ratio | stratified mean in plain interval | s/round plain, stratified | time to ±%g plain, stratified |" % (h, h))
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for k, p in plain.items():
    s = strat[k]
    n_plain = (z * float(p["sd"]) / h) ** 2
    n_strat = (z * neyman[k] / h) ** 2
    inside = float(p["ci_low"]) <= float(s["mean"]) <= float(p["ci_high"])
    ratio = n_plain / n_strat if n_strat > 0 else float("inf")
    print(f"| {k[0]} | {k[1]} | {k[2]} | {float(p['mean']):.2f} [{float(p['ci_low']):.2f}, {float(p['ci_high']):.2f}] | {float(p['sd']):.2f} | "
          f"{float(s['mean']):.2f} | {n_plain:.0f} | {n_strat:.1f} | {ratio:.0f}x | {'yes' if inside else 'NO'} | "
          f"{spr['plain'][tkey(k)]:.2f}, {spr['stratified'][tkey(k)]:.2f} | "
          f"{n_plain * spr['plain'][tkey(k)] / 60:.1f} min, {n_strat * spr['stratified'][tkey(k)] / 60:.1f} min |")
PY
