#!/usr/bin/env python3
"""One training epoch of ResNet20 in PyTorch (best configuration: 2 threads, oneDNN,
channels_last) on Fashion-MNIST or CIFAR-10, the same recipe as safnet-train (SGD 0.1,
momentum 0.9, Nesterov, wd 5e-4, cosine, batch 128; CIFAR: random crop with 4-pixel
padding + horizontal flip), data preloaded as tensors. Prints the epoch time and the test
accuracy, for comparison with safnet-train's epoch line. Run through
benchmarks/compare_epoch_pytorch.sh (malloc settings, and safnet-train side by side).
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))  # safnet_torch
from safnet_torch import SAFS, ResNetCifar, read_idx  # noqa: E402


def load(dataset, data_dir):
    if dataset == "fashion-mnist":
        xs = [read_idx(os.path.join(data_dir, p + "-images-idx3-ubyte.gz"))[:, None] for p in ("train", "t10k")]
        ys = [read_idx(os.path.join(data_dir, p + "-labels-idx1-ubyte.gz")) for p in ("train", "t10k")]
    else:
        def batch(name):
            r = np.fromfile(os.path.join(data_dir, name), dtype=np.uint8).reshape(-1, 3073)
            return r[:, 1:].reshape(-1, 3, 32, 32), r[:, 0]
        parts = [batch("data_batch_%d.bin" % i) for i in range(1, 6)]
        test = batch("test_batch.bin")
        xs = [np.concatenate([p[0] for p in parts]), test[0]]
        ys = [np.concatenate([p[1] for p in parts]), test[1]]
    x = [torch.from_numpy(a.astype(np.float32) / 255.0) for a in xs]
    mean = x[0].mean(dim=(0, 2, 3), keepdim=True)
    std = x[0].std(dim=(0, 2, 3), keepdim=True)
    return [(a - mean) / std for a in x], [torch.from_numpy(b.astype(np.int64)) for b in ys], -mean / std


def augment(x, pad_value, g):
    n, c, h, w = x.shape
    padded = pad_value.expand(n, c, h + 8, w + 8).clone()
    padded[:, :, 4:4 + h, 4:4 + w] = x
    dy = torch.randint(0, 9, (n,), generator=g)
    dx = torch.randint(0, 9, (n,), generator=g)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None].expand(n, c, h, w + 8)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :].expand(n, c, h, w)
    out = out.gather(3, cols)
    flip = torch.rand(n, generator=g) < 0.5
    out[flip] = out[flip].flip(3)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", choices=["fashion-mnist", "cifar10"], required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--saf", default="tanh")
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(1)
    (xtr, xte), (ytr, yte), pad_value = load(a.dataset, a.data_dir)
    m = ResNetCifar(20, xtr.shape[1], 10, SAFS[a.saf]).to(memory_format=torch.channels_last)
    steps = (len(ytr) + 127) // 128
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    g = torch.Generator().manual_seed(1)
    m.train()
    t0 = time.perf_counter()
    perm = torch.randperm(len(ytr), generator=g)
    for b in range(steps):
        i = perm[b * 128:(b + 1) * 128]
        x = xtr[i]
        if a.dataset == "cifar10":
            x = augment(x, pad_value, g)
        x = x.contiguous(memory_format=torch.channels_last)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(m(x), ytr[i]).backward()
        opt.step()
        sched.step()
    train_s = time.perf_counter() - t0
    m.eval()
    correct = 0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(yte), 1000):
            correct += int((m(xte[b:b + 1000].contiguous(memory_format=torch.channels_last)).argmax(1) == yte[b:b + 1000]).sum())
    eval_s = time.perf_counter() - t0
    print("PyTorch %s ResNet20 (SAF %s): epoch %.1f s (%.0f img/s), test pass %.1f s, test accuracy %.2f %%" % (
        a.dataset, a.saf, train_s, len(ytr) / train_s, eval_s, 100.0 * correct / len(yte)))


if __name__ == "__main__":
    main()
