#!/usr/bin/env python3
"""tools/import_pytorch.py on hostile checkpoints, in-process: crafted state_dicts
(NaN and Inf weights, a negative running variance, integer weights, no ResNet, no state_dict,
a NaN normalization) are refused with a message naming the problem, and 300 byte-level
mutations of a real checkpoint (seeded) either convert or are refused with an
"import_pytorch.py: ..." message: never a traceback, never a file written on refusal.

    /usr/bin/python3 tests/tools/import_pytorch_fuzz.py FIXTURE.safetensors WORK_DIR
"""
import contextlib
import io
import os
import random
import sys

import torch

sys.path.insert(0, "tools")
import import_pytorch  # noqa: E402
from safnet_torch import load_safetensors  # noqa: E402

fixture, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
sd, _ = load_safetensors(fixture)
out = os.path.join(work, "out.safetensors")


def run(path, *flags):
    """The importer's result: None when it converted, else its refusal message."""
    if os.path.exists(out):
        os.remove(out)
    sys.argv = ["import_pytorch.py", path, out, "--norm-mean", "0.286", "--norm-std", "0.353"] + list(flags)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import_pytorch.main()
    except SystemExit as e:
        msg = str(e.code)
        assert msg.startswith("import_pytorch.py: "), "a refusal without the tool's message: %r" % msg
        assert not os.path.exists(out), "a refused checkpoint left an output file"
        return msg
    return None


def crafted(name, mutate, expect, *flags):
    d = {k: v.clone() for k, v in sd.items()}
    mutate(d)
    path = os.path.join(work, name + ".pt")
    torch.save(d, path)
    msg = run(path, *flags)
    assert msg is not None and expect in msg, "%s: expected a refusal saying %r, got %r" % (name, expect, msg)


def poison(key, value):
    def f(d):
        d[key].view(-1)[3] = value
    return f


crafted("nan_weight", poison("layer1.0.conv1.weight", float("nan")), "layer1.0.conv1.weight holds a non-finite value (nan) at index 3")
crafted("inf_bias", poison("fc.bias", float("inf")), "fc.bias holds a non-finite value (inf) at index 3")
crafted("negative_var", poison("layer2.0.bn1.running_var", -1.0), "layer2.0.bn1.running_var holds a negative running variance")
crafted("nan_var", poison("bn1.running_var", float("nan")), "bn1.running_var holds a non-finite value")
crafted("int_weight", lambda d: d.__setitem__("fc.weight", d["fc.weight"].to(torch.int32)), "fc.weight has dtype torch.int32")
crafted("no_resnet", lambda d: d.pop("conv1.weight"), "no conv1.weight after renaming")
torch.save([1, 2, 3], os.path.join(work, "list.pt"))
assert "no state_dict in it" in run(os.path.join(work, "list.pt"))
d = {k: v.clone() for k, v in sd.items()}
torch.save(d, os.path.join(work, "good.pt"))
assert run(os.path.join(work, "good.pt")) is None, "the unmodified checkpoint was refused"
msg = run(os.path.join(work, "good.pt"), "--norm-mean", "nan")
assert msg is not None and "holds a value that is not a finite number" in msg, msg

# Byte-level mutations of the real checkpoint: convert or refuse cleanly, nothing else.
good = open(os.path.join(work, "good.pt"), "rb").read()
rng = random.Random(35)
refused = converted = 0
for i in range(300):
    b = bytearray(good)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(b))
        b[at] = rng.randrange(256)
    if rng.random() < 0.2:
        b = b[: rng.randrange(len(b))]  # truncated
    path = os.path.join(work, "mutant.pt")
    open(path, "wb").write(bytes(b))
    if run(path) is None:
        converted += 1
    else:
        refused += 1
print("import_pytorch_fuzz: crafted checkpoints refused; 300 mutants: %d converted, %d refused, no traceback" % (converted, refused))
