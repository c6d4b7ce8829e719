#!/usr/bin/env python3
"""Writes a copy of a safetensors file with metadata keys set (the tests' way to relabel a model).

    python3 tests/tools/set_metadata.py IN OUT KEY=VALUE...
IN and OUT may be the same file. The tensors are copied byte for byte.
"""
import json
import struct
import sys

src, dst, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
b = open(src, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
for kv in pairs:
    k, v = kv.split("=", 1)
    h.setdefault("__metadata__", {})[k] = v
nh = json.dumps(h).encode()
nh += b" " * (-len(nh) % 8)
open(dst, "wb").write(struct.pack("<Q", len(nh)) + nh + b[8 + n:])
