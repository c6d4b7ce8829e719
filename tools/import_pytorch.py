#!/usr/bin/env python3
"""Converts a PyTorch ResNet checkpoint into a safetensors file safnet's tools load.

    /usr/bin/python3 tools/import_pytorch.py IN.th OUT.safetensors \
        [--naming auto|pytorch_resnet_cifar10|torchvision|safnet] \
        [--norm pytorch_resnet_cifar10 | --norm-mean 0.49,0.48,0.45 --norm-std 0.25,0.24,0.26] \
        [--saf none|tanh|...] [--dataset cifar10]

IN is a checkpoint that holds a state_dict: the dict itself, or a training checkpoint with it
under 'state_dict', 'model' or 'net' (as pytorch_resnet_cifar10's trainer saves {'epoch',
'state_dict', 'best_prec1'}). It is read through a restricted unpickler (RestrictedPickle)
that builds tensors, dicts, lists and numbers only, so a crafted checkpoint cannot run code
here (a plain torch.load executes whatever the pickle says). A checkpoint that pickles other
objects (a whole nn.Module, an optimizer's custom classes) is refused; save its state_dict().

Namings:
  pytorch_resnet_cifar10   (github.com/akamaster/pytorch_resnet_cifar10): 'module.' prefixes
                           from DataParallel, 'linear.*' for the classifier, option-A shortcuts
                           (no parameters) or 'shortcut.0/1.*' for option B;
  torchvision              ResNet18's 'conv1', 'layerN.M.downsample.0/1', 'fc' (safnet's own).
'auto' tells them apart by the keys. Normalization is written into the file's metadata: a
model is only meaningful with the normalization it was trained with, and safnet refuses a
file without one (rather than guessing the dataset's statistics). --norm
pytorch_resnet_cifar10 is that code's (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225).
The output is written atomically; every problem is an error naming the file and the key.
"""
import argparse
import math
import os
import pickle
import re
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safnet_torch import save_safetensors  # noqa: E402

NORMS = {"pytorch_resnet_cifar10": ("0.485,0.456,0.406", "0.229,0.224,0.225")}
SAF_NAMES = ("none", "tanh", "arctan", "softsign", "modtanh")


def fail(msg):
    raise SystemExit("import_pytorch.py: " + msg)


def state_dict_of(obj, path):
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "net"):
            if key in obj and isinstance(obj[key], dict):
                return state_dict_of(obj[key], path)
        tensors = {k: v for k, v in obj.items() if torch.is_tensor(v)}
        if tensors:
            return tensors
    fail("%s: no state_dict in it (expected a dict of tensors, or one under 'state_dict', 'model' or 'net')" % path)


def detect(keys):
    if any(k.startswith("linear.") or ".shortcut." in k for k in keys):
        return "pytorch_resnet_cifar10"
    if "fc.weight" in keys:
        return "torchvision"
    fail("cannot tell the naming from the keys (%s, ...); pass --naming" % ", ".join(sorted(keys)[:4]))


def rename(name, naming):
    if naming == "pytorch_resnet_cifar10":
        name = re.sub(r"^linear\.", "fc.", name)
        name = re.sub(r"\.shortcut\.([01])\.", r".downsample.\1.", name)
    return name


def convert(sd, naming, path):
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    if naming == "auto":
        naming = detect(sd.keys())
    out = {}
    for k, v in sd.items():
        new = rename(k, naming)
        if new in out:
            fail("%s: keys %s map onto the same safnet name %s" % (path, k, new))
        if not v.is_floating_point() and not k.endswith("num_batches_tracked"):
            fail("%s: %s has dtype %s (expected floating point)" % (path, k, v.dtype))
        out[new] = v.float() if v.is_floating_point() else v.to(torch.int64)
        if out[new].is_floating_point():
            bad = ~torch.isfinite(out[new])
            if bad.any():
                i = int(bad.flatten().nonzero()[0])
                fail("%s: %s holds a non-finite value (%s) at index %d; a model with NaN or Inf parameters cannot be evaluated"
                     % (path, k, float(out[new].flatten()[i]), i))
            if new.endswith("running_var") and (out[new] < 0).any():
                i = int((out[new] < 0).flatten().nonzero()[0])
                fail("%s: %s holds a negative running variance (%g) at index %d" % (path, k, float(out[new].flatten()[i]), i))
    for required in ("conv1.weight", "bn1.weight", "fc.weight", "fc.bias"):
        if required not in out:
            fail("%s: no %s after renaming (%s naming); is this a ResNet?" % (path, required, naming))
    return out, naming


def floats(text, flag, channels):
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        fail("%s: expected comma-separated numbers, got %r" % (flag, text))
    if len(values) != channels:
        fail("%s: %d values for a model with %d input channels" % (flag, len(values), channels))
    if not all(math.isfinite(v) for v in values):
        fail("%s: %r holds a value that is not a finite number" % (flag, text))
    if flag == "--norm-std" and not all(v > 0 for v in values):
        fail("--norm-std: every value must be positive, got %r" % text)
    return ",".join(repr(v) for v in values)


class RestrictedPickle:
    """A pickle module whose unpickler builds tensors and plain containers only.

    The only way a pickle reaches code is find_class (a GLOBAL / STACK_GLOBAL opcode naming a
    callable); here it may name nothing but PyTorch's tensor rebuilders and OrderedDict
    (torch.load resolves storage types itself). Anything else — os.system, a whole nn.Module,
    an optimizer's classes — raises UnpicklingError before anything runs.
    """
    __name__ = "RestrictedPickle"
    UnpicklingError = pickle.UnpicklingError
    ALLOWED = {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_parameter"),
               ("collections", "OrderedDict"), ("torch", "Size")}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in RestrictedPickle.ALLOWED:
                return super().find_class(module, name)
            raise pickle.UnpicklingError("refused %s.%s: only tensors and plain containers are loaded, never code" % (module, name))

    @staticmethod
    def load(f, **kwargs):
        return RestrictedPickle.Unpickler(f, **kwargs).load()


def load_untrusted(path):
    """torch.load with every unpickling done by RestrictedPickle.

    torch.load(pickle_module=...) alone is not enough: PyTorch 1.13 (Debian 12) replaces the
    given module with the standard pickle whenever weights_only is off, and its own
    weights_only unpickler refuses the Python floats that training checkpoints such as
    pytorch_resnet_cifar10's carry. So the module torch.serialization unpickles with is
    swapped for the duration of the call (and passed as well, for versions that honour it).
    A TorchScript archive, which torch.load would hand to torch.jit.load, is refused first.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                if any(n.endswith("constants.pkl") or "/code/" in n for n in z.namelist()):
                    fail("%s: a TorchScript archive, not a checkpoint of tensors; save the model's state_dict()" % path)
    except (OSError, zipfile.BadZipFile) as e:
        fail("%s: cannot be read (%s)" % (path, e))
    import torch.serialization as serialization
    saved = serialization.pickle
    serialization.pickle = RestrictedPickle
    try:
        return torch.load(path, map_location="cpu", pickle_module=RestrictedPickle)
    except Exception as e:  # torch and pickle raise many kinds
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        fail("%s: cannot be read as tensors and plain containers (%s); a checkpoint is never run as code: save the model's state_dict()"
             % (path, msg))
    finally:
        serialization.pickle = saved


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--naming", default="auto", choices=["auto", "pytorch_resnet_cifar10", "torchvision", "safnet"])
    ap.add_argument("--norm", choices=sorted(NORMS), help="a named normalization preset")
    ap.add_argument("--norm-mean")
    ap.add_argument("--norm-std")
    ap.add_argument("--saf", default="none", choices=SAF_NAMES, help="the SAF the weights were trained with (raw weights)")
    ap.add_argument("--dataset", help="recorded in the metadata")
    a = ap.parse_args()
    if a.norm and (a.norm_mean or a.norm_std):
        fail("--norm and --norm-mean/--norm-std exclude each other")
    if bool(a.norm_mean) != bool(a.norm_std):
        fail("--norm-mean and --norm-std go together")
    if not a.norm and not a.norm_mean:
        fail("no normalization given: pass --norm pytorch_resnet_cifar10 or --norm-mean/--norm-std "
             "(the values the model was trained with; safnet does not guess them)")
    obj = load_untrusted(a.input)
    sd = state_dict_of(obj, a.input)
    tensors, naming = convert(sd, "torchvision" if a.naming == "safnet" else a.naming, a.input)
    channels = tensors["conv1.weight"].shape[1]
    mean, std = NORMS[a.norm] if a.norm else (a.norm_mean, a.norm_std)
    meta = {"norm_mean": floats(mean, "--norm-mean", channels), "norm_std": floats(std, "--norm-std", channels),
            "imported_from": os.path.basename(a.input), "imported_naming": naming}
    if a.saf != "none":
        meta["saf"] = a.saf
    if a.dataset:
        meta["dataset"] = a.dataset
    save_safetensors(tensors, a.output, meta)
    print("%s: %d tensors (%s naming) -> %s" % (a.input, len(tensors), naming, a.output))


if __name__ == "__main__":
    main()
