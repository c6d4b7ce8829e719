"""PyTorch twins of safnet's models, for parity fixtures and side-by-side benchmarks.

SafConv / SafLinear compute with saf(W) where W is the stored (raw) parameter, as safnet
does; ResNetCifar is the CIFAR ResNet (option A or B shortcuts) with torchvision-style
parameter names, so state dicts map one to one onto safnet's.
"""
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_digest import CONTENT_DIGEST_KEY, content_digest

SAFS = {"none": None, "tanh": torch.tanh, "arctan": torch.atan, "softsign": F.softsign,
        "modtanh": lambda w: 1.7159 * torch.tanh(2.0 * w / 3.0), "hardtanh": F.hardtanh}


class SafConv(nn.Conv2d):
    def __init__(self, *a, saf=None, **kw):
        super().__init__(*a, **kw)
        self.saf = saf

    def forward(self, x):
        w = self.saf(self.weight) if self.saf else self.weight
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


class SafLinear(nn.Linear):
    def __init__(self, *a, saf=None, **kw):
        super().__init__(*a, **kw)
        self.saf = saf

    def forward(self, x):
        return F.linear(x, self.saf(self.weight) if self.saf else self.weight, self.bias)


class Block(nn.Module):
    def __init__(self, cin, cout, stride, option, saf):
        super().__init__()
        self.conv1 = SafConv(cin, cout, 3, stride, 1, bias=False, saf=saf)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = SafConv(cout, cout, 3, 1, 1, bias=False, saf=saf)
        self.bn2 = nn.BatchNorm2d(cout)
        self.cin, self.cout, self.stride = cin, cout, stride
        self.downsample = None
        if (stride != 1 or cin != cout) and option == "B":
            self.downsample = nn.Sequential(SafConv(cin, cout, 1, stride, 0, bias=False, saf=saf), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            sc = self.downsample(x)
        elif self.stride != 1 or self.cin != self.cout:
            lo = (self.cout - self.cin) // 2
            sc = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, lo, self.cout - self.cin - lo))
        else:
            sc = x
        return F.relu(out + sc)


class ResNetCifar(nn.Module):
    def __init__(self, depth=20, cin=3, classes=10, saf=None, option="A"):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = SafConv(cin, 16, 3, 1, 1, bias=False, saf=saf)
        self.bn1 = nn.BatchNorm2d(16)
        c = 16
        for s, w in enumerate([16, 32, 64]):
            blocks = []
            for b in range(n):
                blocks.append(Block(c, w, 2 if (s > 0 and b == 0) else 1, option, saf))
                c = w
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*blocks))
        self.fc = SafLinear(64, classes, saf=saf)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# --- safetensors without the safetensors package (Debian has none) -----------------------
# The format: u64 little-endian header length, JSON header {name: {dtype, shape,
# data_offsets}, "__metadata__": {str: str}}, then the tensors' bytes back to back.
_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
           torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.int8: "I8"}
_TORCH = {v: k for k, v in _DTYPES.items()}


def save_safetensors(tensors, path, metadata=None):
    """Writes {name: tensor} (e.g. model.state_dict()) as a safetensors file safnet reads, with
    the content digest safnet verifies. The temporary file is created exclusively and never
    through a symlink; the rename into place is atomic."""
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    entries = {}
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dim() else t.reshape(1).view(torch.uint8).numpy().tobytes()
        entries[name] = (_DTYPES[t.dtype], list(t.shape), raw)
    meta[CONTENT_DIGEST_KEY] = content_digest(entries, meta)
    header, offset = {"__metadata__": meta}, 0
    for name, (dtype, shape, raw) in entries.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h)
            for _, _, raw in entries.values():
                f.write(raw)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_safetensors(path):
    """Reads a safetensors file (e.g. one safnet-train wrote) into ({name: tensor}, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        buf = bytearray(data[8 + n + b:8 + n + end])
        t = torch.frombuffer(buf, dtype=_TORCH[e["dtype"]]) if buf else torch.empty(0, dtype=_TORCH[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


def read_idx(path):
    """An IDX file (MNIST / Fashion-MNIST, gzip) as a uint8 numpy array of its dimensions."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
