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
--json PATH writes every round's figures and the best of each side (scripts/docs/performance_table.py
renders it); --safnet-b PATH adds a second safnet binary to every round, right after the first
(an A/B of two builds in the same run, each also against PyTorch).
"""
import argparse
import json
import os
import sys
import platform
import subprocess
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))  # safnet_torch
from safnet_torch import SAFS, ResNetCifar  # noqa: E402

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


def cpu_model():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_json(path, doc):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--safnet", required=True, help="path of the safnet_bench binary")
    ap.add_argument("--safnet-b", help="a second safnet_bench binary, run right after the first in every round (A/B)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (each side keeps its best)")
    ap.add_argument("--json", help="write every round's figures and the best of each side to this file")
    ap.add_argument("--label", default="this build", help="what the first binary is (for the JSON)")
    ap.add_argument("--label-b", default="binary b", help="what the --safnet-b binary is (for the JSON)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1, got %d" % args.rounds)
    for b in [args.safnet] + ([args.safnet_b] if args.safnet_b else []):
        if not os.access(b, os.X_OK):
            ap.error("safnet binary %s is not an executable file" % b)
    torch.set_num_threads(2)
    assert torch.backends.mkldnn.is_available()
    sides = ["safnet"] + (["safnet_b"] if args.safnet_b else [])
    binaries = {"safnet": args.safnet, "safnet_b": args.safnet_b}
    rounds = []
    for r in range(args.rounds):
        for i, (saf, c, hw) in enumerate(SETUPS):
            row = {"round": r + 1, "setup": i}
            for side in sides:
                ours = safnet_results(binaries[side], i)
                row[side] = {"train": ours[("train", i)], "infer": ours[("infer", i)],
                             "conv_gflops": ours[("conv_gflops", i)], "peak_gflops": ours["peak"]}
            row["torch"] = {"train": torch_train(saf, c, hw), "infer": torch_infer(saf, c, hw)}
            rounds.append(row)
            print("round %d  saf=%s %dx%dx%d: " % (r + 1, saf, c, hw, hw) + ", ".join(
                "%s train %.0f (%.2fx torch) infer %.0f (%.2fx)" % (
                    side, row[side]["train"], row[side]["train"] / row["torch"]["train"],
                    row[side]["infer"], row[side]["infer"] / row["torch"]["infer"]) for side in sides) +
                "; torch train %.0f infer %.0f" % (row["torch"]["train"], row["torch"]["infer"]), flush=True)
    best = []
    for i, (saf, c, hw) in enumerate(SETUPS):
        mine = [row for row in rounds if row["setup"] == i]
        entry = {"saf": saf, "channels": c, "size": hw}
        for side in sides + ["torch"]:
            entry[side] = {k: max(row[side][k] for row in mine) for k in ("train", "infer")}
        top = max(mine, key=lambda row: row["safnet"]["train"])["safnet"]
        entry["safnet"]["conv_gflops"], entry["safnet"]["peak_gflops"] = top["conv_gflops"], top["peak_gflops"]
        best.append(entry)
    print()
    print("ResNet20, images/s, best of %d interleaved rounds (safnet: batch 128 train, best of 128/1000 inference; "
          "PyTorch %s: batch 128 train, best of 128/256/1000 inference; 2 threads)" % (args.rounds, torch.__version__))
    print("%-22s %10s %10s %7s   %10s %10s %7s   %s" % ("setup", "safnet", "torch", "ratio", "safnet", "torch", "ratio", "safnet conv GFLOP/s (train), % of measured FMA peak"))
    print("%-22s %10s %10s %7s   %10s %10s %7s" % ("", "train", "train", "", "infer", "infer", ""))
    for e in best:
        st, tt, si, ti = e["safnet"]["train"], e["torch"]["train"], e["safnet"]["infer"], e["torch"]["infer"]
        gflops, peak = e["safnet"]["conv_gflops"], e["safnet"]["peak_gflops"]
        print("%-22s %10.0f %10.0f %6.2fx   %10.0f %10.0f %6.2fx   %.0f (%.0f%% of %.0f)" % (
            "saf=%s %dx%dx%d" % (e["saf"], e["channels"], e["size"], e["size"]), st, tt, st / tt, si, ti, si / ti, gflops, 100 * gflops / peak, peak))
        if args.safnet_b:
            print("%-22s %10.0f %10s %6.2fx   %10.0f %10s %6.2fx   (binary b; b/a train %.3f, infer %.3f)" % (
                "  b", e["safnet_b"]["train"], "", e["safnet_b"]["train"] / tt, e["safnet_b"]["infer"], "", e["safnet_b"]["infer"] / ti,
                e["safnet_b"]["train"] / st, e["safnet_b"]["infer"] / si))
    if args.json:
        write_json(args.json, {"schema": "safnet-compare-pytorch/1", "date": time.strftime("%Y-%m-%d"), "cpu": cpu_model(),
                               "cores": os.cpu_count(), "torch": torch.__version__, "rounds_per_setup": args.rounds,
                               "binaries": {s: binaries[s] for s in sides},
                               "labels": {"safnet": args.label, "safnet_b": args.label_b} if args.safnet_b else {"safnet": args.label}, "rounds": rounds, "best": best})
        print("wrote %s" % args.json)


if __name__ == "__main__":
    main()
