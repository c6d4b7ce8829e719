#!/usr/bin/env python3
"""One figure of the CIFAR-10 study: top-1 against BER (fp32) for every model.

    cifar10_figure.py RESULTS_DIR [--check]

From RESULTS_DIR (docs/results/cifar10-resnet20/) it reads campaign/curve_<model>/curve.csv
(the exact-count strata curve, drawn where it has a mean) and campaign/main_<model>/summary.csv
(the sampled cells at fp32, drawn as points with their 95 % intervals, the models side by
side around each rate), and writes
accuracy_vs_ber.dat, accuracy_vs_ber.gp and, with gnuplot, accuracy_vs_ber.png next to them.
With --check nothing is written and the script fails if the committed .dat or .gp differ from
what the files give (the test command runs this; the PNG is drawn from those two).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from campaign_table import read_summaries  # noqa: E402
from cifar10_report import MODELS  # noqa: E402

DAT, GP, PNG = "accuracy_vs_ber.dat", "accuracy_vs_ber.gp", "accuracy_vs_ber.png"


def finished_rows(path, columns):
    """The rows of a finished campaign's CSV ([] while it has not finished), with `columns` required."""
    if not os.path.isfile(path):
        return []
    rows = read_summaries([path])
    missing = [c for c in columns if rows and c not in rows[0]]
    if missing:
        raise SystemExit(f"{path}: no column {', '.join(missing)} (not a safnet-campaign output?)")
    return rows


def model_blocks(d, model):
    """(curve lines, point lines) of one model: 'rate mean low high', empty where absent."""
    camp = os.path.join(d, "campaign")
    curve = finished_rows(os.path.join(camp, f"curve_{model}", "curve.csv"), ("dtype", "rate", "mean", "band_low", "band_high"))
    cells = finished_rows(os.path.join(camp, f"main_{model}", "summary.csv"),
                          ("analysis", "dtype", "protect", "rate", "mean", "ci_low", "ci_high"))
    lines = [f"{r['rate']} {r['mean']} {r['band_low']} {r['band_high']}" for r in curve
             if r["dtype"] == "fp32" and r["mean"] not in ("", "nan")]
    points = [f"{r['rate']} {r['mean']} {r['ci_low']} {r['ci_high']}" for r in cells
              if r["analysis"] == "ber" and r["dtype"] == "fp32" and r["protect"] == "none" and r["ci_low"] != ""]
    return lines, points


def figure(d):
    """(dat text, gp text); the .gp names the files relative to d's parent (run from there)."""
    blocks, plots, index = [], [], 0
    name = os.path.basename(os.path.normpath(d))
    for colour, model in enumerate(MODELS, start=1):
        lines, points = model_blocks(d, model)
        if not lines and not points:
            continue
        dash = "dt 2" if "_to_" in model else "dt 1"
        title = f"title '{model}'"
        for kind, rows in (("curve", lines), ("cells", points)):
            blocks.append(f"# {model} {kind}: rate mean low high\n" + "\n".join(rows or ["nan nan nan nan"]))
            if rows and kind == "curve":
                plots.append(f"'{name}/{DAT}' index {index} using 1:2 with lines lw 2 lc {colour} {dash} {title}")
                title = "notitle"
            elif rows:
                shift = 10 ** (0.03 * (colour - (len(MODELS) + 1) / 2))  # side by side at the same rate
                plots.append(f"'{name}/{DAT}' index {index} using ($1*{shift:.4f}):2:3:4 with yerrorbars pt 7 ps 0.8 lc {colour} {title}")
            index += 1
    if not plots:
        return None
    plot = "plot " + ", \\\n     ".join(plots)
    gp = "\n".join([
        "set terminal pngcairo size 1400,600 noenhanced",
        f"set output '{name}/{PNG}.tmp'",
        "# lines: exact-count strata curve (where its mean is known); points: sampled cells, 95 % intervals",
        "set multiplot layout 1,2",
        "set logscale x", "set format x '%.0e'", "set grid",
        "set xlabel 'bit error rate (fp32 storage)'",
        "set ylabel 'top-1 accuracy (%) on the CIFAR-10 test set'",
        "set title 'all rates'", "set xrange [5e-11:2e-4]", "set yrange [0:100]", "set key bottom left",
        plot,
        "set title 'the SAF models from BER 1e-7 (zoom)'", "set xrange [5e-8:2e-4]", "set yrange [60:94]", "unset key",
        plot,
        "unset multiplot", ""])
    return "\n\n\n".join(blocks) + "\n", gp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    made = figure(a.results)
    if made is None:
        print(f"{a.results}: no curve or main campaign yet, no figure")
        return 0
    files = dict(zip((DAT, GP), made))
    if a.check:
        stale = [n for n, text in files.items() if not os.path.isfile(os.path.join(a.results, n))
                 or open(os.path.join(a.results, n)).read() != text]
        for n in stale:
            print(f"{a.results}/{n} differs from the study's files: run python3 scripts/docs/cifar10_figure.py {a.results}", file=sys.stderr)
        if not stale:
            print(f"{a.results}/{DAT} and {GP} match the study's files")
        return 1 if stale else 0
    for n, text in files.items():
        tmp = os.path.join(a.results, n + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(a.results, n))
    parent = os.path.dirname(os.path.normpath(os.path.abspath(a.results)))
    if os.system(f"cd '{parent}' && gnuplot '{os.path.basename(os.path.normpath(a.results))}/{GP}'") != 0:
        print("gnuplot failed or is missing: the .dat and .gp are written, the PNG is not", file=sys.stderr)
        return 1
    os.replace(os.path.join(a.results, PNG + ".tmp"), os.path.join(a.results, PNG))
    print(f"{a.results}/{PNG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
