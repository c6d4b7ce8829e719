#!/usr/bin/env python3
"""Writes the fuzz harnesses' seed corpora (corpus/<harness>/), dictionaries (dict/<harness>.dict)
and the inputs of defects found by fuzzing and review (crashes/<harness>/), all small and
deterministic. Run from anywhere: python3 tests/fuzz/make_corpus.py"""
import gzip, json, os, struct

root = os.path.dirname(os.path.abspath(__file__))


def put(kind, harness, name, data):
    d = os.path.join(root, kind, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None, raw_header=None):
    """tensors: list of (name, dtype, shape, bytes)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":"))
    h += " " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h.encode() + data


def resnet20(channels=1, classes=10, dtype="F16", metadata=True):
    size = {"F16": 2, "F32": 4}[dtype]
    one = {"F16": struct.pack("<e", 1.0), "F32": struct.pack("<f", 1.0)}[dtype]
    t = []

    def zeros(name, shape):
        n = 1
        for s in shape:
            n *= s
        t.append((name, dtype, shape, bytes(n * size)))

    def bn(prefix, c):
        t.append((prefix + ".weight", dtype, [c], one * c))
        zeros(prefix + ".bias", [c])
        zeros(prefix + ".running_mean", [c])
        t.append((prefix + ".running_var", dtype, [c], one * c))
        t.append((prefix + ".num_batches_tracked", "I64", [], bytes(8)))

    zeros("conv1.weight", [16, channels, 3, 3])
    bn("bn1", 16)
    width = 16
    for layer, w in ((1, 16), (2, 32), (3, 64)):
        for b in range(3):
            p = f"layer{layer}.{b}"
            zeros(p + ".conv1.weight", [w, width if b == 0 else w, 3, 3])
            bn(p + ".bn1", w)
            zeros(p + ".conv2.weight", [w, w, 3, 3])
            bn(p + ".bn2", w)
        width = w
    zeros("fc.weight", [classes, 64])
    zeros("fc.bias", [classes])
    t.sort(key=lambda x: x[0])
    meta = {"arch": "resnet20", "saf": "tanh", "shortcut": "A", "in_channels": str(channels), "num_classes": str(classes),
            "norm_mean": "0.5", "norm_std": "0.25"} if metadata else None
    return safetensors(t, meta)


def idx(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def state(rounds, identity=None):
    return json.dumps({"identity": identity or {"seed": 1, "rounds": 10},
                       "done": {"m|fp32|bitflip|1e-06|none|ber": {"clean": [100, 90, 99, 0, 0], "rounds": rounds,
                                                                  "stored_bits": 32, "tensors": 1, "values": 1}}})


f32 = lambda *v: struct.pack(f"<{len(v)}f", *v)

# --- safetensors
put("corpus", "safetensors", "two_tensors", safetensors([("a", "F32", [2], f32(1, 2)), ("b", "I64", [1], struct.pack("<q", 7))],
                                                      {"k": "v"}))
put("corpus", "safetensors", "f16_bf16", safetensors([("h", "F16", [2, 1], struct.pack("<2e", 0.5, -2)), ("z", "BF16", [0], b"")]))
put("corpus", "safetensors", "empty", safetensors([], raw_header="{}"))
put("crashes", "safetensors", "f64_count_wraps", safetensors([], raw_header='{"w":{"dtype":"F64","shape":[2305843009213693953],"data_offsets":[0,8]}}') + bytes(8))
put("crashes", "safetensors", "zero_hides_huge_dim", safetensors([], raw_header='{"w":{"dtype":"F32","shape":[0,18446744073709551615,3,3],"data_offsets":[0,0]}}'))
put("crashes", "safetensors", "duplicate_name", safetensors([], raw_header='{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}') + bytes(8))
put("crashes", "safetensors", "nested_arrays", safetensors([], raw_header='{"w":' + "[" * 5000 + "]" * 5000 + "}"))
put("crashes", "safetensors", "i64_huge_count", safetensors([], raw_header='{"n":{"dtype":"I64","shape":[4611686018427387904],"data_offsets":[0,0]}}'))

# --- checkpoint: a ResNet20 in F16 with safnet metadata, and one without metadata (inferred)
put("corpus", "checkpoint", "resnet20_f16", resnet20())
put("corpus", "checkpoint", "resnet20_no_metadata", resnet20(metadata=False, classes=3))
stem_and_fc = [("conv1.weight", "F32", [16, 1, 3, 3], bytes(16 * 9 * 4)), ("fc.weight", "F32", [10, 64], bytes(640 * 4))]
for key, value in (("num_classes", "-1"), ("in_channels", "-1"), ("in_channels", "100000000"), ("num_classes", " 10")):
    put("crashes", "checkpoint", f"metadata_{key}_{value.strip().replace('-', 'minus')}",
        safetensors(stem_and_fc, {"arch": "resnet20", key: value}))
put("crashes", "checkpoint", "stem_zero_then_huge",
    safetensors([], raw_header='{"conv1.weight":{"dtype":"F32","shape":[0,18446744073709551615,3,3],"data_offsets":[0,0]},'
                               '"fc.weight":{"dtype":"F32","shape":[1,64],"data_offsets":[0,256]}}') + bytes(256))

# --- IDX
put("corpus", "idx", "labels_raw", idx([4], bytes([0, 1, 2, 9])))
put("corpus", "idx", "images_gz", gzip.compress(idx([2, 3, 3], bytes(range(18))), mtime=0))
put("corpus", "idx", "two_members_gz", gzip.compress(idx([3], b""), mtime=0) + gzip.compress(b"\x01\x02\x03", mtime=0))
put("crashes", "idx", "claims_2GiB", idx([2048, 1024, 1024], b""))
put("crashes", "idx", "claims_2GiB_gz", gzip.compress(idx([2048, 1024, 1024], b""), mtime=0))
put("crashes", "idx", "gz_trailing_garbage", gzip.compress(idx([2], b"\x01\x02"), mtime=0) + b"junk")

# --- CIFAR
put("corpus", "cifar", "cifar10_two_records", bytes([3]) + bytes(3072) + bytes([9]) + bytes(range(256)) * 12)
put("corpus", "cifar", "cifar100_one_record", bytes([19, 99]) + bytes(3072))

# --- campaign state
put("corpus", "campaign_state", "two_rounds", state([[1, 3, [100, 80, 95, 0, 0], 0, 0], [2, 0, [100, 90, 99, 0, 0], 0, 0]]))
put("corpus", "campaign_state", "empty", json.dumps({"identity": {"seed": 1, "rounds": 10}, "done": {}}))
put("crashes", "campaign_state", "count_1e300", state([[1, 3, [100, 1e300, 95, 0, 0], 0, 0]]))
put("crashes", "campaign_state", "negative_count", state([[1, -3, [100, 80, 95, 0, 0], 0, 0]]))
put("crashes", "campaign_state", "top1_above_images", state([[1, 3, [100, 180, 195, 0, 0], 0, 0]]))
put("crashes", "campaign_state", "top5_below_top1", state([[1, 3, [100, 80, 70, 0, 0], 0, 0]]))
put("crashes", "campaign_state", "round_beyond_32_bits", state([[4294967296, 3, [100, 80, 95, 0, 0], 0, 0]]))
put("crashes", "campaign_state", "done_is_array", json.dumps({"identity": {"seed": 1, "rounds": 10}, "done": [1, 2]}))
put("crashes", "campaign_state", "result_not_object", json.dumps({"identity": {"seed": 1, "rounds": 10}, "done": {"k": 5}}))

# --- parsers: the first byte picks the parser (harnesses.hpp)
for i, text in enumerate(["tanh", "scaledtanh(2,0.5)", "hardtanh(2.5)"]):
    put("corpus", "parsers", f"saf_{i}", b"\x00" + text.encode())
for i, text in enumerate(["q2.5", "fp16", "bf16"]):
    put("corpus", "parsers", f"codec_{i}", b"\x01" + text.encode())
put("corpus", "parsers", "unsigned", b"\x02" + b"00120")
put("corpus", "parsers", "finite", b"\x03" + b"-1.5e-7")
put("corpus", "parsers", "floats", b"\x04" + b"0.4914,0.4822,0.4465")
put("corpus", "parsers", "curve", b"\x05" + b"1e-10:1e-4:37")
put("corpus", "parsers", "history", b"\x06" + b"epoch,lr,a,b,c,d,e,f\n1,0.1,2.5,30,40,1.5,100,0\n2,0.05,nan,31,41,1.5,100,0\n")
put("corpus", "parsers", "fault", b"\x07" + b"stuck0")
put("crashes", "parsers", "hardtanh_negative", b"\x00" + b"hardtanh(-2)")
put("crashes", "parsers", "history_epoch_minus_one", b"\x06" + b"h\n-1,0.1,2.5,30,40,1.5,100,0\n")
put("crashes", "parsers", "norm_nan", b"\x04" + b"nan")
put("crashes", "parsers", "unsigned_plus", b"\x02" + b"+10")
put("crashes", "parsers", "codec_bits_overflow_int", b"\x01" + b"q657599104.1657599100")  # found by fuzz_parsers: 1 + I + F overflowed int

# --- merge: shard states joined by NUL bytes
def shard_state(index, count, keys, finished=True):
    done = {k: {"clean": [100, 90, 99, 0, 0], "rounds": [[0, 3, [100, 80, 95, 0, 0], 0, 0]], "stored_bits": 32, "tensors": 1, "values": 1}
            for k in keys}
    return json.dumps({"identity": {"seed": 1, "rounds": 1}, "done": done,
                       "run": {"shard": "%d/%d" % (index, count), "flags": ["--seed", "1"], "configurations": len(keys), "finished": finished}})


put("corpus", "merge", "two_shards", shard_state(0, 2, ["a|0", "c|0"]) + "\0" + shard_state(1, 2, ["b|0"]))
put("corpus", "merge", "one_shard", shard_state(0, 1, ["a|0"]))
put("corpus", "merge", "overlap", shard_state(0, 2, ["a|0"]) + "\0" + shard_state(1, 2, ["a|0"]))
put("corpus", "merge", "unfinished", shard_state(0, 2, ["a|0"], False) + "\0" + shard_state(1, 2, ["b|0"]))

# --- gnuplot: names as plot data
put("corpus", "gnuplot", "newline_bang", "m1\n!touch PWNED\n.safetensors")
put("corpus", "gnuplot", "quotes", "it's \"x\" `id` $(id)")
put("corpus", "gnuplot", "plain", "resnet20_cifar10_tanh (tanh) fp32")

# --- flags: arguments joined by NUL bytes
put("corpus", "flags", "valid", "--count\x007\x00--rates\x001e-5,2e-4\x00--offset\x00-3")
put("corpus", "flags", "wrap", "--count\x00-1")
put("corpus", "flags", "nan", "--rates\x001e-5,nan")
put("corpus", "flags", "underflow", "--rates=1e-400")
put("corpus", "flags", "huge", "--count\x0018446744073709551616")
put("crashes", "flags", "octal_count", "--count\x00000000000000000000000010027001102700116126")  # CLI11 read it as octal

# --- dictionaries
dicts = {
    "safetensors": ["dtype", "shape", "data_offsets", "__metadata__", "F32", "F16", "BF16", "F64", "I64", "I32", "U8", "BOOL",
                    "{", "}", "[", "]", ":", ",", "\\\"", "0", "18446744073709551615", "4294967296"],
    "checkpoint": ["dtype", "shape", "data_offsets", "__metadata__", "F32", "F16", "I64", "arch", "resnet20", "resnet32", "resnet18",
                   "saf", "tanh", "softsign", "shortcut", "in_channels", "num_classes", "norm_mean", "norm_std", "conv1.weight",
                   "fc.weight", "fc.bias", "layer1.0.conv1.weight", ".downsample.", "num_batches_tracked", "running_var"],
    "idx": ["\\x00\\x00\\x08\\x01", "\\x00\\x00\\x08\\x03", "\\x1f\\x8b\\x08\\x00", "\\x00\\x00\\x00\\x00", "\\xff\\xff\\xff\\xff"],
    "cifar": ["\\x00", "\\x09", "\\x0a", "\\x63", "\\x64", "\\xff"],
    "campaign_state": ["identity", "done", "rounds", "clean", "seed", "stored_bits", "tensors", "values", "{", "}", "[", "]",
                       "1e300", "-1", "4294967296", "18446744073709551615"],
    "merge": ["identity", "done", "run", "shard", "flags", "configurations", "finished", "true", "false", "0/2", "1/2", "clean",
              "rounds", "\\x00", "{", "}", "[", "]"],
    "gnuplot": ["\\x0a", "\\x0d", "\\x22", "'", "!", "`", "$(", "\\x7f"],
    "flags": ["--count", "--rates", "--offset", "=", ",", "-", "+", " ", "nan", "inf", "1e-400", "0x10", "18446744073709551616", "\\x00"],
    "parsers": ["tanh", "arctan", "softsign", "modtanh", "hardtanh(", "scaledtanh(", "none", "q", ".", "fp16", "bf16", "fp32",
                "e-", "e+", "nan", "inf", ":", ",", "(", ")", "epoch", "\\x0a", "stuck0", "stuck1", "flip"],
}
os.makedirs(os.path.join(root, "dict"), exist_ok=True)
for name, words in dicts.items():
    with open(os.path.join(root, "dict", name + ".dict"), "w") as f:
        for w in words:
            f.write('"' + w + '"\n')
