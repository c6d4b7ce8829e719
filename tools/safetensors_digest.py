"""The content digest safnet writes into and verifies in every safetensors file it writes
(metadata key "content_sha256"; include/safnet/io/safetensors.hpp defines it): the SHA-256 of
every tensor (name, dtype, shape, bytes; in name order), then every other metadata entry (in
key order), each field prefixed by its 8-byte little-endian length. Plain Python, no torch."""
import hashlib
import json
import struct

CONTENT_DIGEST_KEY = "content_sha256"


def content_digest(entries, metadata):
    """entries: {name: (dtype, shape, raw bytes)}; metadata: {str: str}."""
    h = hashlib.sha256()

    def field(b):
        h.update(struct.pack("<Q", len(b)) + b)

    field(b"safnet-content-v1")
    for name in sorted(entries, key=lambda n: n.encode()):
        dtype, shape, raw = entries[name]
        field(name.encode())
        field(dtype.encode())
        field(",".join(str(d) for d in shape).encode())
        field(raw)
    for k in sorted(metadata, key=lambda k: k.encode()):
        if k != CONTENT_DIGEST_KEY:
            field(k.encode())
            field(metadata[k].encode())
    return h.hexdigest()


def header_entries(header, body):
    """{name: (dtype, shape, raw bytes)} of a parsed safetensors header's tensors over its data buffer."""
    return {name: (e["dtype"], e["shape"], body[e["data_offsets"][0]:e["data_offsets"][1]]) for name, e in header.items() if name != "__metadata__"}


def file_digest(data):
    """(recorded, computed) content digests of a safetensors file's bytes."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.get("__metadata__", {})
    return meta.get(CONTENT_DIGEST_KEY), content_digest(header_entries(header, data[8 + n:]), meta)
