#!/usr/bin/env bash
# safnet-campaign's plots cannot be steered by names or by entries planted in --out:
#  1. a model file and an --out directory whose names hold newlines followed by gnuplot shell
#     escapes ("!touch PWNED"): the plots are drawn, the titles arrive as text, nothing runs;
#  2. symlinks planted in --out under the names of the gnuplot log and the PNG's temp file:
#     the files they point to stay untouched, the PNG is written in --out.
#   tests/tools/hostile_names.sh SAFNET_CAMPAIGN_BINARY MODEL WORK_DIR
set -euo pipefail
campaign=$1 model=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
fail() { echo "hostile_names: $*" >&2; exit 1; }

evil_model="$work/"$'m1\n!touch PWNED\n.safetensors'
cp "$model" "$evil_model"
evil_out="$work/"$'out\n!touch PWNED\n'
"$campaign" --model "$evil_model" --ber 1e-4 --rounds 2 --test-limit 50 --per-bit --bits 0x40000001 --quiet --out "$evil_out" \
    > "$work/log" 2>&1 || { cat "$work/log" >&2; fail "the campaign failed"; }
if grep -q "gnuplot failed" "$work/log"; then cat "$work/log" >&2; fail "gnuplot failed on a hostile name"; fi
[[ -z "$(find "$work" -name PWNED)" ]] || fail "a name in gnuplot's program text ran a shell command"
for png in accuracy_vs_ber per_bit; do
    [[ "$(head -c 4 "$evil_out/$png.png" | tail -c 3)" == PNG ]] || fail "$png.png is missing or not a PNG"
done
# The title is data: one line, its newlines turned into spaces.
grep -q '^"m1 !touch PWNED  (tanh) fp32" ' "$evil_out/accuracy_vs_ber.dat" || fail "the title did not reach the data file as one quoted field"

out="$work/planted"
mkdir -p "$out"
printf 'victim one\n' > "$work/victim1"
printf 'victim two\n' > "$work/victim2"
ln -s "$work/victim1" "$out/accuracy_vs_ber.gnuplot.log"
ln -s "$work/victim2" "$out/accuracy_vs_ber.png.tmp"
"$campaign" --model "$model" --ber 1e-4 --rounds 2 --test-limit 50 --quiet --out "$out" > "$work/log2" 2>&1 ||
    { cat "$work/log2" >&2; fail "the campaign failed with planted symlinks"; }
[[ "$(cat "$work/victim1")" == "victim one" ]] || fail "the gnuplot log was written through a planted symlink"
[[ "$(cat "$work/victim2")" == "victim two" ]] || fail "the PNG was written through a planted symlink"
[[ -f "$out/accuracy_vs_ber.png" && ! -L "$out/accuracy_vs_ber.png" ]] || fail "no PNG in --out"
echo "hostile_names: ok"
