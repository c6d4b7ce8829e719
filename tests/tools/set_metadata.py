#!/usr/bin/env python3
"""Writes a copy of a safetensors file with metadata keys set (the tests' way to relabel a model).

    python3 tests/tools/set_metadata.py [--stale-digest] IN OUT KEY=VALUE...
IN and OUT may be the same file. The tensors are copied byte for byte. The content digest
(metadata "content_sha256") is recomputed, as a tool that rewrites the file would; with
--stale-digest it is kept, as a hand edit of the header would leave it.
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from safetensors_digest import CONTENT_DIGEST_KEY, content_digest, header_entries  # noqa: E402

args = sys.argv[1:]
stale = args[:1] == ["--stale-digest"]
if stale:
    args = args[1:]
src, dst, pairs = args[0], args[1], args[2:]
b = open(src, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
meta = h.setdefault("__metadata__", {})
for kv in pairs:
    k, v = kv.split("=", 1)
    meta[k] = v
if not stale:
    meta[CONTENT_DIGEST_KEY] = content_digest(header_entries(h, b[8 + n:]), meta)
nh = json.dumps(h, separators=(",", ":"), ensure_ascii=False).encode()  # as safnet writes headers
nh += b" " * (-len(nh) % 8)
open(dst, "wb").write(struct.pack("<Q", len(nh)) + nh + b[8 + n:])
