#!/usr/bin/env bash
# tools/import_pytorch.py on checkpoints in pytorch_resnet_cifar10's naming (a
# DataParallel 'module.' prefix, 'linear.*', saved as its trainer saves them: {'epoch',
# 'state_dict', 'best_prec1'}) and in torchvision's, built from the committed PyTorch fixture:
# the converted tensors equal the fixture's, the normalization lands in the metadata, a file
# without one is refused, and safnet-campaign evaluates the converted file as it evaluates the
# fixture given --norm-mean/--norm-std. Exits 77 (skipped) where torch is not installed.
#   tests/tools/import_pytorch.sh SAFNET_CAMPAIGN_BINARY
set -euo pipefail
cd "$(dirname "$0")/../.."
campaign=$1
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "import_pytorch: SKIPPED, torch is not installed (apt-get install python3-torch)" >&2
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fixture=tests/fixtures/torch/resnet20_fashion_import.safetensors
/usr/bin/python3 - "$fixture" "$work" <<'PY'
import sys, torch
sys.path.insert(0, "tools")
from safnet_torch import load_safetensors
sd, _ = load_safetensors(sys.argv[1])
akamaster = {"module." + (k.replace("fc.", "linear.", 1) if k.startswith("fc.") else k): v for k, v in sd.items()}
torch.save({"epoch": 200, "state_dict": akamaster, "best_prec1": 91.0}, sys.argv[2] + "/resnet20.th")
torch.save(sd, sys.argv[2] + "/torchvision.pt")
PY
convert=(/usr/bin/python3 tools/import_pytorch.py)
"${convert[@]}" "$work/resnet20.th" "$work/akamaster.safetensors" --norm-mean 0.2860 --norm-std 0.3530 --dataset fashion-mnist
"${convert[@]}" "$work/torchvision.pt" "$work/torchvision.safetensors" --norm-mean 0.2860 --norm-std 0.3530
/usr/bin/python3 - "$fixture" "$work" <<'PY'
import sys, torch
sys.path.insert(0, "tools")
from safnet_torch import load_safetensors
ref, _ = load_safetensors(sys.argv[1])
for name, naming in (("akamaster", "pytorch_resnet_cifar10"), ("torchvision", "torchvision")):
    got, meta = load_safetensors(sys.argv[2] + "/%s.safetensors" % name)
    assert sorted(got) == sorted(ref), (name, sorted(set(got) ^ set(ref))[:5])
    for k in ref:
        assert torch.equal(got[k].to(ref[k].dtype), ref[k]), (name, k)
    assert meta["imported_naming"] == naming and meta["norm_mean"] == "0.286" and meta["norm_std"] == "0.353", meta
print("import_pytorch: both namings convert to the fixture's tensors")
PY
# No normalization: refused, naming what to pass.
if "${convert[@]}" "$work/resnet20.th" "$work/x.safetensors" 2> "$work/err"; then echo "import_pytorch: a file without normalization was converted" >&2; exit 1; fi
grep -q "no normalization given" "$work/err"
if "${convert[@]}" "$fixture" "$work/x.safetensors" --norm-mean 0.2 --norm-std 0.3 2> "$work/err"; then echo "import_pytorch: a non-torch file was accepted" >&2; exit 1; fi
grep -q "cannot be read as tensors and plain containers" "$work/err"
# A checkpoint whose pickle runs code when unpickled (__reduce__ -> os.system) is refused
# without running it: the importer unpickles through RestrictedPickle.
/usr/bin/python3 - "$work" <<'PY'
import os, sys, torch
class Exploit:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[1] + "/PWNED",))
torch.save({"state_dict": Exploit()}, sys.argv[1] + "/evil.th")
torch.save({"state_dict": Exploit()}, sys.argv[1] + "/evil_legacy.th", _use_new_zipfile_serialization=False)
PY
for evil in evil evil_legacy; do  # the zip format and the legacy one (PyTorch < 1.6, e.g. pytorch_resnet_cifar10's releases)
    if "${convert[@]}" "$work/$evil.th" "$work/x.safetensors" --norm-mean 0.2 --norm-std 0.3 2> "$work/err"; then
        echo "import_pytorch: a code-carrying pickle was converted ($evil)" >&2; exit 1
    fi
    [[ ! -e "$work/PWNED" ]] || { echo "import_pytorch: unpickling a checkpoint ran its code ($evil)" >&2; exit 1; }
    grep -q "refused posix.system: only tensors and plain containers are loaded, never code" "$work/err"
done
# Crafted and mutated checkpoints: refused with the importer's message, never a traceback.
/usr/bin/python3 tests/tools/import_pytorch_fuzz.py "$fixture" "$work/fuzz"
# safnet: the fixture itself (no metadata) is refused without --norm-mean/--norm-std, and the
# converted file gives the same clean accuracy as the fixture with them.
run() { "$campaign" --dataset fashion-mnist --dtype fp32 --ber 1e-9 --rounds 1 --test-limit 200 --threads 2 --quiet --cache-mb 0 "$@"; }
if run --model "$fixture" --out "$work/c0" 2> "$work/err"; then echo "import_pytorch: safnet-campaign guessed a normalization" >&2; exit 1; fi
grep -q "no normalization in the file's metadata" "$work/err"
run --model "$fixture" --norm-mean 0.2860 --norm-std 0.3530 --out "$work/c1" > /dev/null
run --model "$work/akamaster.safetensors" --out "$work/c2" > /dev/null
a=$(tail -n +2 "$work/c1/summary.csv" | cut -d, -f13,16)  # clean_top1, mean
b=$(tail -n +2 "$work/c2/summary.csv" | cut -d, -f13,16)
[[ -n "$a" && "$a" == "$b" ]] || { echo "import_pytorch: converted file evaluates differently: '$a' vs '$b'" >&2; exit 1; }
echo "import_pytorch: ok"
