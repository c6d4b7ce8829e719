#!/usr/bin/env python3
"""The same fault campaign in PyTorch and in safnet, side by side: a model trained by
safnet-train (exported as it is, safetensors), its conv and linear weights stored as fp32,
bit flips at a BER, R rounds over Fashion-MNIST's test images; prints seconds per round for
both and the ratio. PyTorch runs in its best configuration (2 threads, oneDNN, channels_last,
inference_mode, batch 1000; run through benchmarks/compare_campaign_pytorch.sh for the malloc
settings). A PyTorch round: copy the flipped words into the weights, evaluate, restore.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))  # safnet_torch
from safnet_torch import SAFS, ResNetCifar, load_safetensors, read_idx  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--safnet-campaign", required=True)
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--ber", type=float, default=1e-5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(2)

    tensors, meta = load_safetensors(a.model)
    saf = meta.get("saf", "none")
    m = ResNetCifar(20, int(meta.get("in_channels", 1)), int(meta.get("num_classes", 10)), SAFS[saf], meta.get("shortcut", "A"))
    m.load_state_dict({k: v for k, v in tensors.items()}, strict=True)
    m = m.to(memory_format=torch.channels_last).eval()
    mean = float(meta["norm_mean"].split(",")[0])
    std = float(meta["norm_std"].split(",")[0])
    x = torch.from_numpy(read_idx(os.path.join(a.data_dir, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255.0).unsqueeze(1)
    x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(read_idx(os.path.join(a.data_dir, "t10k-labels-idx1-ubyte.gz")).astype(np.int64))

    weights = [p for n, p in m.named_parameters() if n.endswith("weight") and p.dim() > 1]
    clean = [p.detach().clone() for p in weights]
    sizes = [p.numel() for p in weights]
    total_bits = 32 * sum(sizes)
    rng = np.random.default_rng(a.seed)

    def evaluate():
        correct = 0
        with torch.inference_mode():
            for b in range(0, len(y), 1000):
                logits = m(x[b:b + 1000])
                ok = (logits.argmax(1) == y[b:b + 1000]) & ~torch.isnan(logits).any(1)
                correct += int(ok.sum())
        return 100.0 * correct / len(y)

    def round_():
        flips = rng.binomial(total_bits, a.ber)
        pos = rng.integers(0, total_bits, size=flips)
        word, bit = pos // 32, (pos % 32).astype(np.uint32)
        starts = np.cumsum([0] + sizes)
        with torch.no_grad():
            for k, p in enumerate(weights):
                sel = (word >= starts[k]) & (word < starts[k + 1])
                if sel.any():
                    words = p.detach().contiguous().view(-1).view(torch.int32).clone()  # NCHW order, as safnet stores it
                    for w, b in zip(word[sel] - starts[k], bit[sel]):
                        words[int(w)] ^= int(np.uint32(1) << b) - (1 << 32 if b == 31 else 0)
                    p.copy_(words.view(torch.float32).view(p.shape))
            acc = evaluate()
            for p, c in zip(weights, clean):
                p.copy_(c)
        return acc

    evaluate()  # warm-up
    t0 = time.perf_counter()
    evaluate()
    torch_pass = time.perf_counter() - t0
    t0 = time.perf_counter()
    accs = [round_() for _ in range(a.rounds)]
    torch_round = (time.perf_counter() - t0) / a.rounds

    with tempfile.TemporaryDirectory() as out:
        subprocess.run([a.safnet_campaign, "--model", a.model, "--dataset", "fashion-mnist", "--data-dir", a.data_dir, "--dtype", "fp32",
                        "--ber", str(a.ber), "--rounds", str(a.rounds), "--seed", str(a.seed), "--threads", "2", "--quiet", "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "summary.json")) as f:
            res = json.load(f)["results"][0]
    print("ResNet20 (SAF %s), Fashion-MNIST 10000 test images, fp32 weights, BER %g, %d rounds" % (saf, a.ber, a.rounds))
    print("  PyTorch: inference pass %.3f s, campaign round %.3f s (mean accuracy %.2f %%)" % (torch_pass, torch_round, sum(accs) / len(accs)))
    print("  safnet:  campaign round %.3f s (mean accuracy %.2f %%)" % (res["seconds_per_round"], res["mean"]))
    print("  safnet rounds/s over PyTorch rounds/s: %.2fx" % (torch_round / res["seconds_per_round"]))


if __name__ == "__main__":
    sys.exit(main())
