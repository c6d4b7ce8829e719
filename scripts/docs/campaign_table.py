#!/usr/bin/env python3
"""Markdown tables from a safnet-campaign summary.csv (schema safnet-campaign/3).

    campaign_table.py SUMMARY.csv                      print the table
    campaign_table.py SUMMARY.csv --into FILE --block NAME
                                                       replace the text between
                                                       <!-- BEGIN NAME --> and <!-- END NAME --> in FILE
    campaign_table.py SUMMARY.csv --into FILE --block NAME --check
                                                       exit 1 if FILE's block differs (the test command runs this)

One row per (model, dtype, protection) of the "ber" analysis; per BER the mean top-1 with its
interval (the estimator's, see docs/reference/statistics.md) and the failure probability P(fail) with its
interval. Nothing is typed by hand: every figure comes from the CSV.
"""
import argparse
import os
import csv
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from doc_blocks import add_block_arguments, emit  # noqa: E402


def fmt_interval(row):
    if row["ci_method"] == "none" or row["ci_low"] == "":
        return f"{float(row['mean']):.2f} (no interval)"
    return f"{float(row['mean']):.2f} [{float(row['ci_low']):.2f}, {float(row['ci_high']):.2f}]"


def fmt_fail(row):
    return f"{float(row['fail_prob']):.3f} [{float(row['fail_ci_low']):.3f}, {float(row['fail_ci_high']):.3f}]"


def read_summaries(paths):
    """The rows of one or more summary.csv files, in order."""
    rows = []
    for path in paths:
        if not os.path.isfile(path):
            raise SystemExit(f"{path}: missing (a safnet-campaign --out directory's summary.csv, or its copy)")
        with open(path, newline="") as f:
            rows += list(csv.DictReader(f))
    return rows


def table(path):
    return table_of(read_summaries([path]), path)


def table_of(all_rows, source):
    rows = [r for r in all_rows if r["analysis"] == "ber"]
    if not rows:
        raise SystemExit(f"{source}: no 'ber' configurations")
    rates = sorted({float(r["rate"]) for r in rows})
    groups = {}
    for r in rows:
        groups.setdefault((r["model"], r["saf"], r["dtype"], r["protect"]), {})[float(r["rate"])] = r
    head = "| model (SAF) | dtype | protect | clean |" + "".join(f" BER {x:g}: mean [interval] | P(fail) |" for x in rates)
    rule = "|---|---|---|---|" + "---|---|" * len(rates)
    lines = [head, rule]
    for (model, saf, dtype, protect), by_rate in groups.items():
        clean = float(next(iter(by_rate.values()))["clean_top1"])
        cells = []
        for x in rates:
            r = by_rate.get(x)
            cells += [fmt_interval(r), fmt_fail(r)] if r else ["", ""]
        lines.append(f"| {model} ({saf}) | {dtype} | {protect} | {clean:.2f} | " + " | ".join(cells) + " |")
    first = rows[0]
    lines.append("")
    lines.append(f"Rounds per configuration: {', '.join(sorted({r['rounds'] for r in rows}, key=int))}; "
                 f"estimators: {', '.join(sorted({r['estimator'] for r in rows}))}; intervals at confidence {float(first['confidence']):g}; "
                 f"a round fails when its top-1 drops more than {float(first['fail_drop']):g} points below clean.")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summary")
    add_block_arguments(ap)
    a = ap.parse_args()
    text = table(a.summary)
    return emit(text, a, a.summary)

if __name__ == "__main__":
    sys.exit(main())
