#!/usr/bin/env python3
"""docs/results/cifar10-resnet20.md from the CIFAR-10 study's output files.

    cifar10_report.py RESULTS_DIR OUT.md [--check]

RESULTS_DIR (docs/results/cifar10-resnet20/, filled by `scripts/study/cifar10_study.sh --steps
report`) holds training/<model>.safetensors.csv (the per-epoch logs); campaign/main_<saf>,
campaign/curve_<saf>, campaign/baselines and campaign/analysis_<saf> (each the summary.csv,
curve.csv, timing.json and plots of one safnet-campaign --out); machine.txt; and settings.txt
(the campaign step's test limit and round counts); campaign/pending.csv lists the unfinished
campaigns (campaign, configurations done, configurations). Any of them may be missing while the
study runs: the report then says what is pending and gives what has finished. Every
figure in the report comes from those files; with --check nothing is written and the script
fails if OUT.md differs from what the files give (the test command runs this).
"""
import csv
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from campaign_table import fmt_fail, fmt_interval, read_summaries, table_of  # noqa: E402
from doc_blocks import report_main  # noqa: E402

MODELS = ["none", "tanh", "arctan", "softsign", "modtanh", "none_to_tanh", "none_to_softsign"]
CAMPAIGNS = [f"main_{m}" for m in MODELS] + ["baselines"] + [f"curve_{m}" for m in MODELS] + ["compare"]


def epochs_of(model):
    """The epochs the study trains `model` for: fine-tuned models 5, the others 100."""
    return 5 if "_to_" in model else 100
RECIPE = ("ResNet20 (option A), 100 epochs, batch 128, SGD with Nesterov momentum 0.9, peak learning rate 0.1 with a "
          "cosine schedule, weight decay 5e-4 on the raw weights, random crop (pad 4) + horizontal flip, seed 1, one "
          "thread per model; fine-tuning: 5 epochs of AdamW from the unprotected model, peak lr 1e-3, weight decay 5e-4, "
          "cosine.")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def training_logs(d):
    """{model: its per-epoch rows} for every training log in d/training."""
    base = os.path.join(d, "training")
    logs = [f for f in os.listdir(base) if f.endswith(".csv")] if os.path.isdir(base) else []
    order = {m: i for i, m in enumerate(MODELS)}
    rows = {short(f.replace(".safetensors.csv", "")): read_csv(os.path.join(base, f)) for f in logs}
    return dict(sorted(rows.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def final_accuracies(d):
    """{model: clean test top-1 after its last epoch} for the models that finished training."""
    return {m: float(rows[-1]["test_accuracy"]) for m, rows in training_logs(d).items() if rows and int(rows[-1]["epoch"]) == epochs_of(m)}


def training_table(d):
    logs = training_logs(d)
    if not logs:
        return "No model has started training yet.\n"
    out = ["| model | epochs | test top-1 after the last epoch | best epoch's test top-1 | training wall time |", "|---|---|---|---|---|"]
    for model, rows in logs.items():
        last, best = rows[-1], max(rows, key=lambda r: float(r["test_accuracy"]))
        hours = sum(float(r["seconds"]) for r in rows) / 3600
        done = int(last["epoch"]) == epochs_of(model)
        epochs = last["epoch"] if done else f"{last['epoch']} of {epochs_of(model)} (training)"
        out.append(f"| resnet20_cifar10_{model} | {epochs} | {float(last['test_accuracy']):.2f} % | "
                   f"{float(best['test_accuracy']):.2f} % (epoch {best['epoch']}) | {hours:.2f} h |")
    out.append("")
    finals = final_accuracies(d)
    if "none" in finals:
        base = finals["none"]
        others = [f"{m} {a - base:+.2f} ({'met' if a >= base - 1 else 'not met'})" for m, a in finals.items() if m != "none"]
        out.append(f"Targets: the unprotected model at least 91.0 % ({base:.2f} %: {'met' if base >= 91.0 else 'not met'}); every SAF model "
                   "within 1 point of it or better: " + (", ".join(others) if others else "no SAF model has finished yet") + ".")
    return "\n".join(out) + "\n"


def pending_campaigns(d):
    """{campaign: (configurations done, configurations)} of the unfinished ones, from campaign/pending.csv."""
    path = os.path.join(d, "campaign", "pending.csv")
    return {r["campaign"]: (int(r["done"]), r["configurations"]) for r in read_csv(path)} if os.path.isfile(path) else {}


def status(d):
    """What the study still has to do, from the files: unfinished training and campaigns."""
    logs = training_logs(d)
    training = []
    for m in MODELS:
        rows = logs.get(m, [])
        last = int(rows[-1]["epoch"]) if rows else 0
        if last < epochs_of(m):
            training.append(f"{m} ({last} of {epochs_of(m)} epochs)")
    finished = {os.path.basename(c) for c in campaigns(d, "")}
    pending = pending_campaigns(d)
    running = [f"{c} ({n} of {total} configurations)" for c, (n, total) in pending.items()]
    waiting = [c for c in CAMPAIGNS if c not in finished and c not in pending]
    if not any(c.startswith("analysis_") for c in finished | set(pending)):
        waiting.append("analysis_none and analysis of the best SAF model (once every main_* has finished)")
    if not training and not running and not waiting:
        return "The study is complete: every model is trained and every campaign has finished.\n"
    lines = ["**The study is still running.** This report gives what has finished; it is regenerated as the rest comes in.", ""]
    if training:
        lines.append("- training: " + ", ".join(training))
    if running:
        lines.append("- campaigns under way (finished configurations are kept): " + ", ".join(running))
    if waiting:
        lines.append("- campaigns not started: " + ", ".join(waiting))
    return "\n".join(lines) + "\n"


def campaigns(d, prefix):
    """The campaign directories campaign/PREFIX* in d, sorted by the study's model order."""
    base = os.path.join(d, "campaign")
    names = [n for n in os.listdir(base) if n.startswith(prefix) and os.path.isdir(os.path.join(base, n))] if os.path.isdir(base) else []
    order = {m: i for i, m in enumerate(MODELS)}
    return [os.path.join(base, n) for n in sorted(names, key=lambda n: (order.get(n[len(prefix):], len(order)), n))]


def summaries(d, prefix):
    """The rows of every finished campaign/PREFIX* in d ([] while none has finished)."""
    return read_summaries([os.path.join(c, "summary.csv") for c in campaigns(d, prefix)])


def at_rate(rows, rate):
    return [r for r in rows if r["analysis"] == "ber" and abs(float(r["rate"]) - rate) <= 1e-9 * rate]


def drop(row):
    """Points of top-1 a configuration loses against clean, on average."""
    return float(row["clean_top1"]) - float(row["mean"])


def headline(rows, rate=1e-5):
    mine = at_rate(rows, rate)
    if not mine:
        raise SystemExit(f"no configuration at BER {rate:g}")
    out = [f"| model (SAF) | dtype | clean | BER {rate:g}: mean top-1 [95 % interval] | P(fail) [95 % interval] | rounds | estimator |",
           "|---|---|---|---|---|---|---|"]
    for r in mine:
        out.append(f"| {r['model']} ({r['saf']}) | {r['dtype']} | {float(r['clean_top1']):.2f} | {fmt_interval(r)} | {fmt_fail(r)} | {r['rounds']} "
                   f"| {r['estimator']} |")
    methods = {r["estimator"] for r in mine}
    unguarded = any(r.get("ci_method") == "stratified-t" for r in mine)
    note = (ESTIMATORS.replace(GUARDED_T, "the estimate ± t·SE, asymptotic") + " " + UNGUARDED) if unguarded else ESTIMATORS
    return "\n".join(out) + "\n" + ("\n" + note + "\n" if {"plain", "stratified"} <= methods else "")


GUARDED_T = ("the estimate − t·SE_low, + t·SE_high, each stratum's variance guarded against a mode its rounds have not shown on the "
             "side such a mode would move the mean to")
ESTIMATORS = ("The estimator column says how each mean's interval was made (docs/reference/statistics.md): *stratified* rounds "
              "are split by the number of faults in the most damaging bit positions (the exponent MSB at fp32 and fp16) with exact binomial weights, and the interval is "
              + GUARDED_T + "; *plain* rounds (where the critical faults are too many to stratify, as at "
              "q2.5 and at BER 1e-4) get a betting interval, which assumes nothing about the distribution and is therefore "
              "wider, most of all below the mean: it cannot exclude a rare catastrophic mode the rounds have not seen.")


UNGUARDED = ("These stratified intervals come from campaigns run before safnet guarded each stratum's variance against "
             "modes its rounds have not shown (their `ci_method` is `stratified-t`): on a ResNet20-shaped synthetic store that "
             "interval covered the truth in 95-96 % of seeds at BER 1e-5 and 100 rounds, as here, but in only 45-66 % at BER 1e-7 "
             "(docs/reference/statistics.md). Campaigns run now report `stratified-guarded-t`; the study's re-run with it is pending.")


def loss_summary(rows, rate=1e-5):
    """What the paper claims, measured: the unprotected model's and the SAF models' drop at `rate`."""
    lines = []
    for dtype in ("fp32", "fp16", "q2.5"):
        mine = [r for r in at_rate(rows, rate) if r["dtype"] == dtype]
        none = [r for r in mine if r["saf"] == "none"]
        safs = [r for r in mine if r["saf"] != "none"]
        if not none or not safs:
            continue
        worst = max(safs, key=drop)
        best = min(safs, key=drop)
        saf_part = (f"the SAF model {best['model']} drops {drop(best):.2f} points" if len(safs) == 1 else
                    f"the SAF models drop {drop(best):.2f} ({best['model']}) to {drop(worst):.2f} ({worst['model']}) points")
        lines.append(f"- {dtype}: unprotected {float(none[0]['mean']):.2f} % (a drop of {drop(none[0]):.2f} points); {saf_part}.")
    return "\n".join(lines) + "\n"


BASELINES = ("`clip` clamps every weight read back to its tensor's clean [min, max] (NaN read as 0), which needs the "
             "two bounds per tensor kept in fault-free memory; `clipact` bounds every ReLU by its largest output on 2000 clean "
             "training images (Ranger, Clip-Act). Neither retrains the model. Below, each at BER 1e-5 and 1e-4 next to the best "
             "SAF model of the same format (mean top-1 [95 % interval]); the last column gives clip minus that model with the "
             "95 % interval of the difference (the compare step: paired on the same faults where both designs allow, else as "
             "independent campaigns, marked not paired) and what it decides.")


SCRATCH_SAFS = ("tanh", "arctan", "softsign", "modtanh")  # the SAF models the study trains from scratch


def short(model):
    return model.replace("resnet20_cifar10_", "")


def read_paired(d):
    """The differences of the compare step (campaign/compare/paired.csv), or None before it ran."""
    path = os.path.join(d, "campaign", "compare", "paired.csv")
    return read_csv(path) if os.path.isfile(path) else None


def difference(paired, dtype, rate, a, b):
    """a minus b at (dtype, rate) from the compare step's rows, oriented a - b whichever way the row
    holds it: (mean, low, high, method) or None. a and b are comparison labels (model or model+protect)."""
    for r in paired or []:
        if r["dtype"] != dtype or abs(float(r["rate"]) - rate) > 1e-9 * rate or r["diff_ci_low"] == "":
            continue
        mean, low, high = float(r["diff_top1"]), float(r["diff_ci_low"]), float(r["diff_ci_high"])
        if (r["a"], r["b"]) == (a, b):
            return mean, low, high, r["method"]
        if (r["a"], r["b"]) == (b, a):
            return -mean, -high, -low, r["method"]
    return None


def fmt_difference(diff):
    mean, low, high, method = diff
    return f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]" + ("" if method != "independent-union" else " (not paired)")


WAITING_COMPARE = "not judged yet: needs the differences of the compare step (campaign/compare/paired.csv)"


def best_saf_verdict(cells, best, paired, rate=1e-5):
    """Whether softsign is the best SAF in `cells` (one format), judged by the 95 % intervals of the
    differences between the models at `rate` (the compare step: paired on the same faults where the
    designs allow, else as independent campaigns): a higher mean whose difference to a rival
    includes 0 decides nothing."""
    if paired is None:
        return WAITING_COMPARE
    dtype = best["dtype"]
    diffs = {short(r["model"]): difference(paired, dtype, rate, best["model"], r["model"]) for r in cells if r is not best}
    missing = [m for m, dd in diffs.items() if dd is None]
    if missing:
        return WAITING_COMPARE.replace("needs the differences", "lacks the differences to " + ", ".join(missing) + " in")
    said = "; ".join(f"{short(best['model'])} - {m} {fmt_difference(dd)}" for m, dd in diffs.items())
    if all(dd[1] > 0 for dd in diffs.values()):
        return ("yes" if best["saf"] == "softsign" else "no") + f" ({said})"
    softsign = next((r for r in cells if r["saf"] == "softsign"), None)
    if best["saf"] != "softsign" and softsign is not None and diffs[short(softsign["model"])][1] > 0:
        return f"no: softsign is below {short(best['model'])} ({short(best['model'])} - softsign {fmt_difference(diffs[short(softsign['model'])])})"
    return f"not resolved: {said}"


def paper_comparison(rows, finals, paired, rate=1e-5):
    """The paper's claims (arXiv 2411.19027, CIFAR-10 ResNet20) next to what these files show."""
    cells = at_rate(rows, rate)
    out = ["| the paper says | measured here | holds here |", "|---|---|---|"]
    none = {r["dtype"]: r for r in cells if r["saf"] == "none"}
    if none:
        out.append(f"| without protection, BER {rate:g} costs more than 50 points of top-1 in FP32, FP16 and Q2.5 | "
                   + "; ".join(f"{d}: {drop(r):.2f} points" for d, r in none.items())
                   + f" | {split_verdict({d: drop(r) for d, r in none.items()}, lambda loss: loss > 50)} |")
    scratch = [r for r in cells if r["saf"] != "none" and "_to_" not in r["model"]]
    if scratch:
        worst = max(scratch, key=drop)
        upper = max(float(r["clean_top1"]) - float(r["ci_low"]) for r in scratch if r["ci_low"] != "")
        out.append(f"| with a SAF the loss at BER {rate:g} stays below 3 points | largest mean loss {drop(worst):.2f} points "
                   f"({short(worst['model'])}, {worst['dtype']}); largest loss the intervals allow {upper:.2f} points | "
                   f"{'yes' if drop(worst) < 3 else 'no'} for the means{'' if upper < 3 else f'; the intervals do not exclude {upper:.2f}'} |")
        measured = sorted({r["saf"] for r in scratch})
        missing = [saf for saf in SCRATCH_SAFS if saf not in measured]
        if missing:  # "best" among some of them would be no answer
            out.append(f"| softsign is the best SAF on CIFAR | measured so far: {', '.join(measured)}; waiting for {', '.join(missing)} | not judged yet |")
        for dtype in ("fp32", "fp16", "q2.5") if not missing else ():
            mine = [r for r in scratch if r["dtype"] == dtype]
            if mine:
                best = max(mine, key=lambda r: float(r["mean"]))
                out.append(f"| softsign is the best SAF on CIFAR | {dtype}: best mean at BER {rate:g} is {short(best['model'])} "
                           f"({float(best['mean']):.2f} %) | {best_saf_verdict(mine, best, paired, rate)} |")
    if "none" in finals:
        others = {m: a for m, a in finals.items() if m != "none" and "_to_" not in m}
        if others:
            out.append("| SAF models reach the unprotected model's clean accuracy or slightly more | "
                       + "; ".join(f"{m} {a - finals['none']:+.2f}" for m, a in others.items())
                       + f" points (unprotected {finals['none']:.2f} %) | {reached_verdict(others, finals['none'])} |")
    tuned = [r for r in cells if "_to_" in r["model"]]
    for r in tuned:
        saf = r["saf"]
        twin = next((x for x in scratch if x["saf"] == saf and x["dtype"] == r["dtype"]), None)
        if twin and r["dtype"] == "fp32":
            out.append(f"| a pretrained model adapts to a SAF in a few epochs | {short(r['model'])} (5 epochs): clean {float(r['clean_top1']):.2f} %, "
                       f"{float(r['mean']):.2f} % at BER {rate:g}; from scratch (100 epochs): {float(twin['clean_top1']):.2f} %, {float(twin['mean']):.2f} % | "
                       f"{'yes' if drop(r) < 3 else 'no'} |")
    return "\n".join(out) + "\n"


def split_verdict(values, holds):
    """'yes', 'no' or 'for X, Y; not for Z': the names in `values` whose value the claim `holds` for, and the others."""
    held = [name for name, v in values.items() if holds(v)]
    failed = [name for name in values if name not in held]
    if not failed:
        return "yes"
    if not held:
        return "no"
    return f"for {', '.join(held)}; not for {', '.join(failed)}"


def reached_verdict(finals, unprotected):
    """Which SAF models' clean accuracy reaches the unprotected one's (split_verdict)."""
    return split_verdict(finals, lambda accuracy: accuracy >= unprotected)


def clip_verdict(paired, dtype, rate, best):
    """clip minus the best SAF model at (dtype, rate), with its interval and what it decides."""
    if paired is None:
        return WAITING_COMPARE
    diff = difference(paired, dtype, rate, "resnet20_cifar10_none+clip", best["model"])
    if diff is None:
        return "no difference in the compare step"
    return fmt_difference(diff) + ": " + ("clip higher" if diff[1] > 0 else "clip lower" if diff[2] < 0 else "not resolved")


def baseline_comparison(main_rows, baselines, paired, rates=(1e-5, 1e-4)):
    """The unprotected model with each baseline next to the best SAF model (by mean) of the same
    format and BER, and the difference clip minus that SAF model with its interval."""
    out = ["| BER | dtype | unprotected | clip | clipact | best SAF model | clip minus it [95 % interval] |", "|---|---|---|---|---|---|---|"]
    for rate in rates:
        cells, base = at_rate(main_rows, rate), at_rate(baselines, rate)
        for dtype in ("fp32", "fp16", "q2.5"):
            none = next((r for r in cells if r["saf"] == "none" and r["dtype"] == dtype), None)
            safs = [r for r in cells if r["saf"] != "none" and r["dtype"] == dtype]
            by = {r["protect"]: r for r in base if r["dtype"] == dtype}
            if not safs or "clip" not in by:
                continue
            best = max(safs, key=lambda r: float(r["mean"]))
            out.append(f"| {rate:g} | {dtype} | {fmt_interval(none) if none else ''} | {fmt_interval(by['clip'])} | "
                       f"{fmt_interval(by['clipact']) if 'clipact' in by else ''} | {short(best['model'])}: {fmt_interval(best)} | "
                       f"{clip_verdict(paired, dtype, rate, best)} |")
    return "\n".join(out) + "\n"


CURVE_RATES = (1e-9, 1e-8, 1e-7, 1e-6, 1e-5)


def curve_table(d):
    rows = []
    for c in campaigns(d, "curve_"):
        rows += read_summaries([os.path.join(c, "curve.csv")])
    if not rows:
        raise SystemExit(f"{d}/campaign: no curve_* campaign with a curve.csv")
    out = ["| model (SAF) | dtype | K_max |" + "".join(f" BER {x:g} |" for x in CURVE_RATES), "|---|---|---|" + "---|" * len(CURVE_RATES)]
    groups = {}
    for r in rows:
        groups.setdefault((r["model"], r["saf"], r["dtype"], r["k_max"]), {})[float(r["rate"])] = r
    for (model, saf, dtype, k_max), by_rate in groups.items():
        cells = []
        for x in CURVE_RATES:
            r = next((v for k, v in by_rate.items() if abs(k - x) <= 1e-6 * x), None)
            if r is None:
                cells.append("")
            elif r["mean"] in ("", "nan"):
                cells.append(f"[{float(r['band_low']):.1f}, {float(r['band_high']):.1f}], P(K > K_max) {float(r['tail_probability']):.3g}")
            else:
                cells.append(f"{float(r['mean']):.2f} [{float(r['band_low']):.2f}, {float(r['band_high']):.2f}]")
        out.append(f"| {model} ({saf}) | {dtype} | {k_max} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n" + curve_reach(rows)


def curve_reach(rows):
    """Why the curve gives only a band from some rate on: the expected fault count there."""
    band_only = sorted((r for r in rows if r["mean"] in ("", "nan")), key=lambda r: float(r["rate"]))
    if not band_only:
        return ""
    first = band_only[0]
    expected = float(first["eligible_bits"]) * float(first["rate"])
    saturated = next((r for r in band_only if r["model"] == first["model"] and float(r["tail_probability"]) >= 0.999), None)
    return (f"\nThe strata stop being enough at BER {float(first['rate']):.3g}: {first['model']} stores {first['eligible_bits']} bits, so "
            f"{expected:.0f} faults are expected there and P(K > {first['k_max']}) is {float(first['tail_probability']):.3g}"
            + (f" (at least 0.999 from BER {float(saturated['rate']):.3g})" if saturated else "")
            + "; from there on only the band is given, and the main campaigns' sampled cells (\"Every cell\") give BER 1e-6 to 1e-4.\n")


def analysis_tables(rows, top=10):
    out = []
    for kind, key, title in (("layer", "layer", "Per layer (faults in one tensor at a time)"), ("bit", "bit", "Per bit (faults in one bit position at a time)")):
        for model in sorted({r["model"] for r in rows if r["analysis"] == kind}):
            mine = sorted((r for r in rows if r["analysis"] == kind and r["model"] == model), key=lambda r: float(r["mean"]))[:top]
            out += [f"{title}, {model}, the {len(mine)} most damaging:", "",
                    f"| {key} | mean top-1 [95 % interval] | P(fail) [95 % interval] | rounds |", "|---|---|---|---|"]
            out += [f"| {r[key]} | {fmt_interval(r)} | {fmt_fail(r)} | {r['rounds']} |" for r in mine]
            out.append("")
    return "\n".join(out)


def duration(seconds):
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def plural(n, word):
    return f"{n} {word}{'s' if n != 1 else ''}"


def campaign_duration(t):
    """The campaign's cost over all the resumed runs that computed it (timing.json's per-configuration
    record); a file from before that record holds only its last run's wall time."""
    if "configuration_seconds" not in t:
        return duration(t["seconds"])
    untimed = t.get("untimed_configurations", 0)
    return duration(t["configuration_seconds"]) + (f" + {plural(untimed, 'configuration')} untimed" if untimed else "")


def campaign_threads(t):
    """The thread counts the campaign's configurations ran with; a file whose configurations do not
    record theirs (written before they did) gives only its last run's count, and says so."""
    per = [c.get("threads") for c in t.get("configurations", [])]
    if not per or None in per:
        return f"{plural(t['threads'], 'thread')} in its last run"
    low, high = min(per), max(per)
    return plural(low, "thread") if low == high else f"{low}-{high} threads"


def wall_times(d):
    out = ["| step | wall time |", "|---|---|"]
    for model, rows in training_logs(d).items():
        out.append(f"| train resnet20_cifar10_{model} ({len(rows)} epochs) | {duration(sum(float(r['seconds']) for r in rows))} |")
    for c in campaigns(d, ""):
        if not os.path.isfile(os.path.join(c, "timing.json")):  # the compare step computes no rounds
            continue
        with open(os.path.join(c, "timing.json")) as f:
            t = json.load(f)
        out.append(f"| campaign {os.path.basename(c)} ({campaign_threads(t)}) | {campaign_duration(t)} |")
    return "\n".join(out) + "\n"


def settings(d):
    path = os.path.join(d, "settings.txt")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return dict(line.strip().split("=", 1) for line in f if "=" in line)


def images(st):
    return "all 10000 test images" if st.get("test_limit", "0") == "0" else "the first %s test images" % st["test_limit"]


NOT_YET = "Not finished yet (see the status above).\n"


def figure_link(d, prefix="", before=""):
    """The study's one figure (scripts/docs/cifar10_figure.py), embedded after `before`, once it is drawn."""
    name = os.path.basename(os.path.normpath(d))
    if not os.path.isfile(os.path.join(d, "accuracy_vs_ber.png")):
        return ""
    return (f"{before}![top-1 against BER at fp32 for every model]({prefix}{name}/accuracy_vs_ber.png)\n\n"
            "Lines: the exact-count strata curve of each model where its mean is known; points: the sampled cells of the "
            f"main campaigns with their 95 % intervals, the models side by side around each rate ({prefix}{name}/accuracy_vs_ber.dat).\n")


def link(d, campaign, png):
    rel = f"{os.path.basename(os.path.normpath(d))}/campaign/{campaign}/{png}"
    return f"[{campaign}/{png}]({rel})" if os.path.isfile(os.path.join(d, "campaign", campaign, png)) else ""


def report(d):
    with open(os.path.join(d, "machine.txt")) as f:
        machine = f.read().strip()
    st = settings(d)
    main_rows = summaries(d, "main_")
    curves = ", ".join(x for x in (link(d, os.path.basename(c), "accuracy_vs_ber_curve.png") for c in campaigns(d, "curve_")) if x)
    plots = ", ".join(x for c in campaigns(d, "analysis_") for x in (link(d, os.path.basename(c), "per_layer.png"), link(d, os.path.basename(c), "per_bit.png")) if x)
    baselines = summaries(d, "baselines")
    analyses = summaries(d, "analysis_")
    curve = curve_table(d) if campaigns(d, "curve_") else NOT_YET
    parts = ["# ResNet20 on CIFAR-10: five SAFs, three storage formats", "",
             "Generated by `scripts/docs/cifar10_report.py` from the files in [cifar10-resnet20/](cifar10-resnet20/), the outputs of "
             "`bash scripts/study/cifar10_study.sh` (steps train, finetune, campaign, report). Machine: " + machine + ".", "",
             "## Status", "", status(d),
             "## Recipe", "", RECIPE, "", "## Training", "", training_table(d),
             "## Headline: BER 1e-5", ""]
    if main_rows:
        parts += ["Campaigns: %s rounds per cell on %s, each round a fresh Philox draw of bit flips in every stored weight "
                  "(biases and batch-norm parameters stay clean); a round fails when its top-1 drops more than 10 points below clean. "
                  "Intervals are the estimators' 95 %% intervals (docs/reference/statistics.md)." % (st.get("rounds", "?"), images(st)), "",
                  headline(main_rows), loss_summary(main_rows),
                  "## Compared with the paper", "", paper_comparison(main_rows, final_accuracies(d), read_paired(d)),
                  "## Every cell", "", table_of(main_rows, "campaign/main_*"), ""]
    else:
        parts += [NOT_YET]
    parts += ["## Accuracy against BER, 1e-10 to 1e-4 (fp32)", "", figure_link(d),
              "From exact-count strata (k = 0..K_max faults, %s rounds each) weighted by the binomial law of the fault count: "
              "mean [pointwise band]; where P(K > K_max) is not negligible only the band is given. Plots: %s." % (st.get("curve_rounds", "?"), curves or "none yet"), "",
              curve,
              "## Baselines for the unprotected model: clip and clipact", "",
              BASELINES + "\n\n" + baseline_comparison(main_rows, baselines, read_paired(d)) + "\n" + table_of(baselines, "campaign/baselines") + "\n"
              if baselines else NOT_YET,
              "## Where the damage comes from (fp32, BER 1e-5)", "",
              "%s rounds per layer and per bit: enough to rank them, not for headline intervals. Plots: %s." % (st.get("analysis_rounds", "?"), plots or "none yet"), "",
              analysis_tables(analyses) if analyses else NOT_YET,
              "## Wall times", "", wall_times(d)]
    return "\n".join(parts)


def baseline_sentence(baselines, rate=1e-5):
    """The two baselines that need no retraining, at `rate`, for the README (empty until they exist)."""
    by = {(r["protect"], r["dtype"]): r for r in at_rate(baselines, rate)}
    def cells(protect):
        return ", ".join(f"{dtype} {fmt_interval(by[protect, dtype])}" for dtype in ("fp32", "fp16", "q2.5") if (protect, dtype) in by)
    if not any(p == "clip" for p, _ in by):
        return ""
    return (f"Without retraining, the unprotected model with `--protect clip` (each weight read back clamped to its tensor's clean "
            f"range, two bounds per tensor kept in fault-free memory) reaches {cells('clip')} at BER {rate:g}; "
            f"with `--protect clipact` (bounded activations) {cells('clipact')}.\n\n")


def finished_models(finished):
    if len(finished) == len(MODELS):
        return f"all {len(MODELS)} models"
    return f"{len(finished)} of {len(MODELS)} models have finished campaigns so far ({', '.join(finished)})"


def readme_headline(d, report_path):
    st = settings(d)
    rows = summaries(d, "main_")
    if not rows:
        return f"The study is running; what has finished so far: [{report_path}]({report_path}).\n"
    finished = sorted({short(r["model"]) for r in rows}, key=MODELS.index)
    return (headline(rows) + "\n" + loss_summary(rows) + "\n" + baseline_sentence(summaries(d, "baselines")) +
            "Against the paper's claims:\n\n" + paper_comparison(rows, final_accuracies(d), read_paired(d)) + "\n" +
            f"{st.get('rounds', '?')} rounds per cell on {images(st)}; " + finished_models(finished) + ". Every cell, the curve to 1e-10, baselines, per-layer and per-bit analyses, the recipe, the study's "
            f"status and wall times: [{report_path}]({report_path}).\n"
            + figure_link(d, os.path.dirname(report_path) + "/", before="\n"))


if __name__ == "__main__":
    sys.exit(report_main(__doc__, report, "cifar10-headline", readme_headline, "scripts/docs/cifar10_report.py"))
