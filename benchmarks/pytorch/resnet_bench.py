#!/usr/bin/env python3
"""ResNet20 at batch 128 in PyTorch (best configuration: 2 threads, oneDNN, channels_last),
side by side with safnet's benchmark, printing the ratios.

The two are interleaved: for each round and each setup, safnet's benchmark for that setup runs,
then PyTorch's. This 2-core machine has slow phases that last minutes (PyTorch's training speed
varied by 30 % between two consecutive runs of the whole script), so measuring all of one side
first and then all of the other would put a phase into the ratio. Each side keeps its best
round; the per-round ratios are printed too, so the spread is visible.

Run through benchmarks/compare_pytorch.sh, which sets glibc's malloc so that PyTorch does not
return memory to the kernel (without it page faults halve PyTorch's inference speed here).
"""
import argparse
import json
import subprocess
import time

import torch
import torch.nn.functional as F

from safnet_torch import SAFS, ResNetCifar

SETUPS = [("none", 3, 32), ("tanh", 3, 32), ("none", 1, 28), ("tanh", 1, 28)]


def best_of(fn, warmup=2, reps=8):
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def torch_train(saf, c, hw, batch=128):
    m = ResNetCifar(20, c, 10, SAFS[saf]).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, c, hw, hw).to(memory_format=torch.channels_last)
    y = torch.arange(batch) % 10

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(m(x), y).backward()
        opt.step()
    return batch / best_of(step)


def torch_infer(saf, c, hw):
    m = ResNetCifar(20, c, 10, SAFS[saf]).to(memory_format=torch.channels_last).eval()
    best = 0.0
    for batch in (128, 256, 1000):
        x = torch.randn(batch, c, hw, hw).to(memory_format=torch.channels_last)
        with torch.inference_mode():
            best = max(best, batch / best_of(lambda: m(x), reps=5))
    return best


def safnet_results(binary, setup):
    """safnet's training and inference benchmarks for one setup (index into SETUPS)."""
    out = subprocess.run([binary, "--benchmark_filter=ResNet20(Train|Infer)/%d/" % setup, "--benchmark_format=json"],
                         check=True, capture_output=True, text=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        name = b["name"]  # BM_ResNet20Train/<setup>/min_time... or BM_ResNet20Infer/<setup>/<batch>/...
        parts = name.split("/")
        setup = int(parts[1])
        kind = "train" if "Train" in parts[0] else "infer"
        key = (kind, setup)
        res[key] = max(res.get(key, 0.0), b["img/s"])
        if kind == "train":
            res[("conv_gflops", setup)] = b["conv GFLOP/s"]
            res["peak"] = b["peak GFLOP/s"]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--safnet", required=True, help="path of the safnet_bench binary")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (each side keeps its best)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1, got %d" % args.rounds)
    torch.set_num_threads(2)
    assert torch.backends.mkldnn.is_available()
    best = {}  # (side, kind, setup) -> best images/s over the rounds
    conv = {}  # setup -> (conv GFLOP/s, peak) of safnet's best training round
    for r in range(args.rounds):
        for i, (saf, c, hw) in enumerate(SETUPS):
            ours = safnet_results(args.safnet, i)
            theirs = {("train", i): torch_train(saf, c, hw), ("infer", i): torch_infer(saf, c, hw)}
            if ours[("train", i)] > best.get(("safnet", "train", i), 0.0):
                conv[i] = (ours[("conv_gflops", i)], ours["peak"])
            for kind in ("train", "infer"):
                for side, res in (("safnet", ours), ("torch", theirs)):
                    best[(side, kind, i)] = max(best.get((side, kind, i), 0.0), res[(kind, i)])
            print("round %d  saf=%s %dx%dx%d: train %.0f vs %.0f (%.2fx), infer %.0f vs %.0f (%.2fx)" % (
                r + 1, saf, c, hw, hw, ours[("train", i)], theirs[("train", i)], ours[("train", i)] / theirs[("train", i)],
                ours[("infer", i)], theirs[("infer", i)], ours[("infer", i)] / theirs[("infer", i)]), flush=True)
    print()
    print("ResNet20, images/s, best of %d interleaved rounds (safnet: batch 128 train, best of 128/1000 inference; "
          "PyTorch %s: batch 128 train, best of 128/256/1000 inference; 2 threads)" % (args.rounds, torch.__version__))
    print("%-22s %10s %10s %7s   %10s %10s %7s   %s" % ("setup", "safnet", "torch", "ratio", "safnet", "torch", "ratio", "safnet conv GFLOP/s (train), % of measured FMA peak"))
    print("%-22s %10s %10s %7s   %10s %10s %7s" % ("", "train", "train", "", "infer", "infer", ""))
    for i, (saf, c, hw) in enumerate(SETUPS):
        st, tt = best[("safnet", "train", i)], best[("torch", "train", i)]
        si, ti = best[("safnet", "infer", i)], best[("torch", "infer", i)]
        gflops, peak = conv[i]
        print("%-22s %10.0f %10.0f %6.2fx   %10.0f %10.0f %6.2fx   %.0f (%.0f%% of %.0f)" % (
            "saf=%s %dx%dx%d" % (saf, c, hw, hw), st, tt, st / tt, si, ti, si / ti, gflops, 100 * gflops / peak, peak))


if __name__ == "__main__":
    main()
