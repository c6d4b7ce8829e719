#!/usr/bin/env bash
# Every model shipped in models/ reaches, on the full CIFAR-10 test set, exactly the clean top-1
# its metadata states (safnet-train measured it after the last epoch): the files load in the
# tools as they are, with their own SAF and normalization, and were not changed since.
# Exits 77 (skipped) with a warning where the CIFAR-10 binary set or the models are absent.
#   tests/tools/shipped_models.sh SAFNET_CAMPAIGN_BINARY [CIFAR10_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
campaign=$1
data=${2:-${CIFAR10_DIR:-../shared/data/cifar-10-batches-bin}}
models=("${MODELS_DIR:-models}"/*.safetensors)
if [[ ! -f "${models[0]}" ]]; then
    echo "shipped_models: SKIPPED, no models in ${MODELS_DIR:-models}/" >&2
    exit 77
fi
if [[ ! -f "$data/test_batch.bin" ]]; then
    echo "shipped_models: SKIPPED, no CIFAR-10 binary set in $data (pass its directory or set CIFAR10_DIR)" >&2
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=()
for m in "${models[@]}"; do flags+=(--model "$m"); done
"$campaign" "${flags[@]}" --dataset cifar10 --data-dir "$data" --ber 0 --rounds 1 --quiet --out "$work/clean" > "$work/log" 2>&1 ||
    { cat "$work/log" >&2; exit 1; }
python3 - "$work/clean/summary.csv" "${models[@]}" <<'PY'
import csv, sys
sys.path.insert(0, "scripts/docs")
from models_index import metadata
measured = {r["path"]: float(r["clean_top1"]) for r in csv.DictReader(open(sys.argv[1]))}
bad = 0
for path in sys.argv[2:]:
    stated = float(metadata(path)["test_accuracy"])
    got = measured[path]
    ok = abs(got - stated) < 0.005  # both are counts of 10000 images in percent, printed to 2 decimals
    bad += not ok
    print(f"{path}: clean top-1 {got:.2f} %, metadata {stated:.2f} % {'ok' if ok else 'MISMATCH'}")
sys.exit(1 if bad else 0)
PY
grep -q "warning: .* records" "$work/log" && { echo "shipped_models: the shipped models were flagged against their own records" >&2; exit 1; }
# A shipped model that was changed after SHA256SUMS listed it is refused, naming both digests.
mkdir -p "$work/listed"
cp models/SHA256SUMS models/resnet20_cifar10_tanh.safetensors "$work/listed/"
printf '\x01' | dd of="$work/listed/resnet20_cifar10_tanh.safetensors" bs=1 seek=5000 conv=notrunc status=none
if "$campaign" --model "$work/listed/resnet20_cifar10_tanh.safetensors" --dataset cifar10 --data-dir "$data" --ber 0 --rounds 1 --quiet \
    --out "$work/changed" > "$work/log2" 2>&1; then
    echo "shipped_models: a model changed after its SHA256SUMS entry was accepted" >&2; exit 1
fi
grep -q "resnet20_cifar10_tanh.safetensors: SHA-256 [0-9a-f]* differs from [0-9a-f]* listed in" "$work/log2" || { cat "$work/log2" >&2; exit 1; }
# Relabelled as unprotected (its metadata says saf=none): it scores otherwise than it records, and the tool says so.
python3 tests/tools/set_metadata.py models/resnet20_cifar10_tanh.safetensors "$work/relabelled.safetensors" saf=none
"$campaign" --model "$work/relabelled.safetensors" --dataset cifar10 --data-dir "$data" --ber 0 --rounds 1 --quiet --out "$work/relabelled" \
    > "$work/log3" 2>&1 || { cat "$work/log3" >&2; exit 1; }
grep -q "warning: .*relabelled.safetensors scores .* its file records 92.25 %" "$work/log3" || { cat "$work/log3" >&2; echo "shipped_models: no warning for a relabelled model" >&2; exit 1; }
echo "shipped_models: ok"
