#!/usr/bin/env python3
"""Markdown tables from benchmarks/compare_pytorch.sh's JSON (schema safnet-compare-pytorch/1).

    performance_table.py RESULTS.json [--headline] [--into FILE --block NAME [--check]]

The full table: per setup, the best images/s of each side over the interleaved rounds, their
ratio, the range of the per-round ratios, and safnet's convolution GFLOP/s as a share of the
FMA peak measured in the same process. --headline: one line per setup (the README's). Every
figure comes from the JSON; nothing is typed by hand.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from doc_blocks import add_block_arguments, emit  # noqa: E402


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if doc.get("schema") != "safnet-compare-pytorch/1":
        raise SystemExit(f"{path}: not a compare_pytorch.sh result (schema {doc.get('schema')!r})")
    return doc


def setup_name(e):
    return "SAF %s, %dx%dx%d" % (e["saf"], e["channels"], e["size"], e["size"])


def per_round(doc, i, kind):
    ratios = [r["safnet"][kind] / r["torch"][kind] for r in doc["rounds"] if r["setup"] == i]
    return "%.2f-%.2f" % (min(ratios), max(ratios)) if len(ratios) > 1 else "%.2f" % ratios[0]


def caption(doc):
    return ("`bash benchmarks/compare_pytorch.sh --rounds %d` on %s (%s, %d cores), PyTorch %s; images/s, best of %d "
            "interleaved rounds per side (safnet: batch 128 training, best of batch 128/1000 inference; PyTorch: 2 threads, "
            "oneDNN, channels_last, batch 128 training, best of 128/256/1000 inference).\n"
            % (doc["rounds_per_setup"], doc["date"], doc["cpu"], doc["cores"], doc["torch"], doc["rounds_per_setup"]))


def full(doc):
    out = [caption(doc),
           "| setup | safnet train | PyTorch train | ratio | per-round ratios | safnet infer | PyTorch infer | ratio | per-round ratios "
           "| safnet conv GFLOP/s (train), % of measured peak |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for i, e in enumerate(doc["best"]):
        s, t = e["safnet"], e["torch"]
        out.append("| %s | %.0f | %.0f | **%.2fx** | %s | %.0f | %.0f | **%.2fx** | %s | %.0f (%.0f %% of %.0f) |" % (
            setup_name(e), s["train"], t["train"], s["train"] / t["train"], per_round(doc, i, "train"),
            s["infer"], t["infer"], s["infer"] / t["infer"], per_round(doc, i, "infer"),
            s["conv_gflops"], 100 * s["conv_gflops"] / s["peak_gflops"], s["peak_gflops"]))
    if "safnet_b" in doc["binaries"]:
        labels = doc.get("labels", doc["binaries"])
        out += ["", "A/B in the same run: b = %s against a = %s, best of each:" % (labels["safnet_b"], labels["safnet"]),
                "", "| setup | a train | b train | b/a | a infer | b infer | b/a |", "|---|---|---|---|---|---|---|"]
        for e in doc["best"]:
            a, b = e["safnet"], e["safnet_b"]
            out.append("| %s | %.0f | %.0f | %.3f | %.0f | %.0f | %.3f |" % (
                setup_name(e), a["train"], b["train"], b["train"] / a["train"], a["infer"], b["infer"], b["infer"] / a["infer"]))
    return "\n".join(out) + "\n"


def headline(doc):
    out = ["| ResNet20, 2 threads | training img/s: safnet / PyTorch | inference img/s: safnet / PyTorch |", "|---|---|---|"]
    for e in doc["best"]:
        s, t = e["safnet"], e["torch"]
        out.append("| %s | %.0f / %.0f = **%.2fx** | %.0f / %.0f = **%.2fx** |" % (
            setup_name(e), s["train"], t["train"], s["train"] / t["train"], s["infer"], t["infer"], s["infer"] / t["infer"]))
    return "\n".join(out) + "\n\n" + "Measured %s on %s by `bash benchmarks/compare_pytorch.sh --rounds %d`.\n" % (
        doc["date"], doc["cpu"], doc["rounds_per_setup"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--headline", action="store_true")
    add_block_arguments(ap)
    a = ap.parse_args()
    doc = load(a.results)
    text = headline(doc) if a.headline else full(doc)
    return emit(text, a, a.results)


if __name__ == "__main__":
    sys.exit(main())
