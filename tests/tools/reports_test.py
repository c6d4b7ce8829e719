#!/usr/bin/env python3
"""The report generators (scripts/docs/cifar10_report.py, scripts/docs/main_job_report.py) on studies
built here from real campaign rows (docs/results/fashion-mnist/summary.csv, renamed):

- a study cut short lists exactly what is unfinished (models with their epochs, campaigns
  under way with their counts, campaigns not started) and reports the finished cells only;
- a finished study says so and has every section;
- --check fails as soon as one figure in the data differs from the committed report.

    tests/tools/reports_test.py   (from anywhere; exits 0 when every check holds)
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPTS = os.path.join(ROOT, "scripts", "docs")
sys.path.insert(0, SCRIPTS)  # the report scripts' functions are checked directly too
SOURCE_ROWS = os.path.join(ROOT, "docs", "results", "fashion-mnist", "summary.csv")
MODELS = ["none", "tanh", "arctan", "softsign", "modtanh", "none_to_tanh", "none_to_softsign"]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def write_log(d, model, epochs, accuracy):
    os.makedirs(os.path.join(d, "training"), exist_ok=True)
    with open(os.path.join(d, "training", f"resnet20_cifar10_{model}.safetensors.csv"), "w") as f:
        f.write("epoch,lr,train_loss,train_accuracy,test_accuracy,seconds,images_per_second,loader_wait_seconds\n")
        for e in range(1, epochs + 1):
            f.write(f"{e},0.1,0.5,90,{accuracy - (epochs - e) * 0.01:.2f},60.5,800,0.1\n")


def write_campaign(d, name, model, saf, extra=None):
    """campaign/NAME with the fashion rows of SAF `saf` (none / tanh / softsign) relabelled as `model`."""
    with open(SOURCE_ROWS, newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        rows = [r for r in reader if r["saf"] == saf]
    out = os.path.join(d, "campaign", name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            r = dict(r, model=f"resnet20_cifar10_{model}", path=f"models/resnet20_cifar10_{model}.safetensors", **(extra or {}))
            w.writerow(r)
    with open(os.path.join(out, "timing.json"), "w") as f:
        json.dump({"threads": 1, "seconds": 1234.5}, f)


def write_curve(d, model):
    out = os.path.join(d, "campaign", f"curve_{model}")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "curve.csv"), "w") as f:
        f.write("model,saf,dtype,k_max,rate,mean,band_low,band_high\n")
        for rate in (1e-9, 1e-8, 1e-7, 1e-6, 1e-5):
            f.write(f"resnet20_cifar10_{model},{'none' if model == 'none' else 'tanh'},fp32,20,{rate:g},90.5,90.0,91.0\n")
    with open(os.path.join(out, "timing.json"), "w") as f:  # resumed: its last run took 60 s of the 7200
        json.dump({"threads": 1, "seconds": 60, "configuration_seconds": 7200, "untimed_configurations": 2,
                   "configurations": [{"seconds": 7200, "threads": 2}, {"seconds": None, "threads": 1}, {"seconds": None, "threads": 2}]}, f)


def write_compare(d):
    """campaign/compare/paired.csv as the compare step writes it: the scratch SAF models two by two
    and clip against each, a - b = the difference of the finished cells' means, interval +-0.5
    (paired) or +-3 (not paired, clip)."""
    rows = [r for c in os.listdir(os.path.join(d, "campaign")) if c.startswith(("main_", "baselines"))
            for r in csv.DictReader(open(os.path.join(d, "campaign", c, "summary.csv"))) if r["analysis"] == "ber"]
    label = lambda r: r["model"] + ("" if r["protect"] == "none" else "+" + r["protect"])
    scratch = [r for r in rows if r["saf"] in ("tanh", "arctan", "softsign", "modtanh") and "_to_" not in r["model"]]
    clip = [r for r in rows if r["protect"] == "clip"]
    out = os.path.join(d, "campaign", "compare")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "paired.csv"), "w") as f:
        f.write("dtype,rate,a,b,paired,pairs,diff_top1,diff_ci_low,diff_ci_high,diff_fail,diff_fail_ci_low,diff_fail_ci_high,method,note\n")
        for a in scratch + clip:
            for b in scratch:
                if a["dtype"] != b["dtype"] or a["rate"] != b["rate"] or label(a) >= label(b) and a in scratch:
                    continue
                diff, half = float(a["mean"]) - float(b["mean"]), (0.5 if a in scratch else 3.0)
                f.write(f"{a['dtype']},{a['rate']},{label(a)},{label(b)},{'yes' if a in scratch else 'no'},100,{diff},{diff - half},{diff + half},"
                        f"0,-0.1,0.1,{'stratified-guarded-t' if a in scratch else 'independent-union'},\n")


def base_study(d):
    os.makedirs(os.path.join(d, "campaign"), exist_ok=True)
    with open(os.path.join(d, "machine.txt"), "w") as f:
        f.write("test machine, 2 cores, 2026-01-01\n")
    with open(os.path.join(d, "settings.txt"), "w") as f:
        f.write("test_limit=0\nrounds=100\ncurve_rounds=20\ncurve_kmax=20\nanalysis_rounds=20\n")


def report(d, *extra):
    out = d + ".md"
    r = subprocess.run([sys.executable, os.path.join(SCRIPTS, "cifar10_report.py"), d, out, *extra], capture_output=True, text=True)
    return r.returncode, (open(out).read() if os.path.isfile(out) else ""), r.stderr


def partial_study(work):
    d = os.path.join(work, "partial", "cifar10-resnet20")
    base_study(d)
    write_log(d, "none", 100, 92.28)
    write_log(d, "tanh", 100, 92.25)
    write_log(d, "softsign", 35, 81.19)
    write_campaign(d, "main_none", "none", "none")
    write_campaign(d, "main_tanh", "tanh", "tanh", {"saf": "tanh"})
    with open(os.path.join(d, "campaign", "pending.csv"), "w") as f:
        f.write("campaign,done,configurations\nbaselines,16,24\nmain_arctan,5,12\n")
    rc, text, err = report(d)
    check(rc == 0, f"a partial study gives a report ({err.strip()})")
    status = text.split("## Status", 1)[1].split("## Recipe", 1)[0]
    check("still running" in status, "the partial report says the study is still running")
    training = next(line for line in status.splitlines() if line.startswith("- training: "))[len("- training: "):]
    check(training.split(", ") == ["arctan (0 of 100 epochs)", "softsign (35 of 100 epochs)", "modtanh (0 of 100 epochs)",
                                   "none_to_tanh (0 of 5 epochs)", "none_to_softsign (0 of 5 epochs)"],
          "training status: exactly the unfinished models with their epochs, in the study's order")
    check("baselines (16 of 24 configurations)" in status and "main_arctan (5 of 12 configurations)" in status,
          "campaigns under way listed with their counts")
    waiting = status.split("campaigns not started:", 1)[1]
    check("main_softsign" in waiting and "curve_none" in waiting and "main_none," not in waiting and "main_tanh," not in waiting
          and "main_arctan," not in waiting,
          "campaigns not started: exactly those neither finished nor under way")
    check("35 of 100 (training)" in text, "the training table marks the unfinished model")
    targets = next(line for line in text.splitlines() if line.startswith("Targets:"))
    check("tanh -0.03 (met)" in targets and "softsign" not in targets, "the accuracy targets judge finished models only")
    check("| resnet20_cifar10_none (none) | fp32 |" in text, "the headline has the finished campaign's fp32 cell")
    check("resnet20_cifar10_softsign (softsign) | fp32" not in text.split("## Headline", 1)[1].split("## Compared", 1)[0],
          "the headline has no cell of an unfinished campaign")
    check("| softsign is the best SAF on CIFAR | measured so far: tanh; waiting for arctan, softsign, modtanh | not judged yet |" in text
          and "| softsign is the best SAF on CIFAR | fp32" not in text, "the best SAF is not judged among some of them")
    rc, _, err = report(d, "--check")
    check(rc == 0, "--check accepts the report it just wrote")
    import cifar10_figure
    dat, _ = cifar10_figure.figure(d)
    check(dat.count("\n\n\n") == 3 and "# tanh cells" in dat and "# arctan" not in dat,
          "the figure of a partial study has the finished models' blocks only")
    with open(os.path.join(d, "campaign", "main_tanh", "summary.csv"), "w") as f:
        f.write("model,saf\nresnet20_cifar10_tanh,tanh\n")
    r = subprocess.run([sys.executable, os.path.join(SCRIPTS, "cifar10_figure.py"), d, "--check"], capture_output=True, text=True)
    check(r.returncode != 0 and "main_tanh/summary.csv: no column analysis" in r.stderr and "Traceback" not in r.stderr,
          "a summary.csv without its columns is refused by name, not with a traceback")
    write_campaign(d, "main_tanh", "tanh", "tanh", {"saf": "tanh"})
    write_log(d, "softsign", 36, 81.50)
    rc, _, err = report(d, "--check")
    check(rc != 0 and "differs" in err, "--check fails after one more epoch in a training log")


def source_row(saf, dtype="fp32", rate="1e-05"):
    """The fixture's row of SAF `saf` at one format and rate."""
    with open(SOURCE_ROWS, newline="") as f:
        return next(r for r in csv.DictReader(f) if r["analysis"] == "ber" and r["saf"] == saf and r["dtype"] == dtype
                    and r["protect"] == "none" and r["rate"] == rate)


def cell(r):
    return f"{float(r['mean']):.2f} [{float(r['ci_low']):.2f}, {float(r['ci_high']):.2f}]"


def complete_study(work):
    d = os.path.join(work, "complete", "cifar10-resnet20")
    base_study(d)
    for m in MODELS:
        write_log(d, m, 5 if "_to_" in m else 100, 92.0)
        saf = "none" if m == "none" else ("softsign" if "softsign" in m else "tanh")
        write_campaign(d, f"main_{m}", m, saf, {"saf": m.split("_to_")[-1]})
        write_curve(d, m)
    write_campaign(d, "baselines", "none", "none", {"protect": "clip"})
    write_campaign(d, "analysis_none", "none", "none")
    write_campaign(d, "analysis_softsign", "softsign", "softsign")
    write_compare(d)
    rc, text, err = report(d)
    check(rc == 0, f"a finished study gives a report ({err.strip()})")
    check("The study is complete" in text, "the finished study says it is complete")
    check("Not finished yet" not in text, "no section of the finished study is missing")
    check("| the paper says |" in text and "| campaign baselines (1 thread in its last run) | 20.6 min |" in text
          and "| campaign curve_none (1-2 threads) | 2.00 h + 2 configurations untimed |" in text,
          "comparison with the paper and campaign wall times present, with the thread counts the configurations record")
    check("q2.5: 4.36 points | for fp32, fp16; not for q2.5 |" in text,
          "the unprotected model's collapse is judged per format (fp32 and fp16 lose more than 50 points, q2.5 does not)")
    check("| softsign is the best SAF on CIFAR | fp32: best mean" in text and "not judged yet" not in text,
          "with every SAF model measured, the best SAF is judged per format")
    # The expected cells come from the fixture's own rows (the main job's summary.csv at fp32, BER 1e-5):
    # clip is the unprotected row relabelled, the best SAF the better of the tanh and softsign rows,
    # and write_compare gives clip minus it +-3 (not paired).
    unprotected, best = source_row("none"), max(source_row("tanh"), source_row("softsign"), key=lambda r: float(r["mean"]))
    diff = float(unprotected["mean"]) - float(best["mean"])
    rows = [line for line in text.split("## Baselines", 1)[1].splitlines() if line.startswith("| 1e-05 | fp32 |")]
    check(len(rows) == 1 and f"| {cell(unprotected)} | {cell(unprotected)} |" in rows[0]
          and f": {cell(best)} | {diff:.2f} [{diff - 3:.2f}, {diff + 3:.2f}] (not paired): clip lower |" in rows[0],
          "the baselines are set against the best SAF model of their format, with clip minus it from the compare step")
    import cifar10_report
    readme = cifar10_report.readme_headline(d, "report.md")
    check("`--protect clip`" in readme and f"reaches fp32 {cell(unprotected)}," in readme and "all 7 models" in readme,
          "the README block gives clip's cells at BER 1e-5 and says every model has finished")
    study_figure(d)


def study_figure(d):
    """scripts/docs/cifar10_figure.py: a curve block and a cells block per model, checked like the report."""
    import cifar10_figure
    dat, gp = cifar10_figure.figure(d)
    blocks = dat.split("\n\n\n")
    check(len(blocks) == 2 * len(MODELS) and blocks[0].splitlines()[1:] == [f"{x:g} 90.5 90.0 91.0" for x in (1e-9, 1e-8, 1e-7, 1e-6, 1e-5)],
          "the figure has each model's curve and cells, the curve as the strata give it")
    with open(os.path.join(d, "campaign", "main_none", "summary.csv"), newline="") as f:
        fp32 = [r for r in csv.DictReader(f) if r["analysis"] == "ber" and r["dtype"] == "fp32" and r["protect"] == "none"]
    check(blocks[1].splitlines()[1:] == [f"{r['rate']} {r['mean']} {r['ci_low']} {r['ci_high']}" for r in fp32] and len(fp32) > 0,
          "the cells block holds the fp32 unprotected cells of the main campaign with their intervals")
    check(gp.count(f"'{os.path.basename(d)}/accuracy_vs_ber.dat' index") == 2 * 2 * len(MODELS)
          and gp.count("with lines") == gp.count("with yerrorbars") == 2 * len(MODELS),
          "both panels plot every block, curves as lines and cells as points with error bars")
    for name, text in (("accuracy_vs_ber.dat", dat), ("accuracy_vs_ber.gp", gp)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    cmd = [sys.executable, os.path.join(SCRIPTS, "cifar10_figure.py"), d, "--check"]
    check(subprocess.run(cmd, capture_output=True).returncode == 0, "the figure's --check passes on the files it was made from")
    with open(os.path.join(d, "campaign", "curve_tanh", "curve.csv"), "a") as f:
        f.write("resnet20_cifar10_tanh,tanh,fp32,20,1e-4,80.0,79.0,81.0\n")
    check(subprocess.run(cmd, capture_output=True).returncode != 0, "the figure's --check fails once a curve point changes")


def main_job(work):
    d = os.path.join(work, "fashion-mnist")
    os.makedirs(os.path.join(d, "training"))
    shutil.copy(SOURCE_ROWS, d)
    for saf in ("none", "tanh", "softsign"):
        with open(os.path.join(d, "training", f"resnet20_fashion_{saf}.safetensors.csv"), "w") as f:
            f.write("epoch,lr,train_loss,train_accuracy,test_accuracy,seconds,images_per_second,loader_wait_seconds\n"
                    "1,0.0,0.5,85,88.00,42.0,700,0.1\n")
    with open(os.path.join(d, "timing.json"), "w") as f:
        json.dump({"threads": 2, "seconds": 90.0}, f)
    with open(os.path.join(d, "machine.txt"), "w") as f:
        f.write("test machine, 2 cores, 2026-01-01\n")
    with open(os.path.join(d, "wall_seconds.txt"), "w") as f:
        f.write("230\n")
    readme = os.path.join(work, "README.md")
    with open(readme, "w") as f:
        f.write("text\n<!-- BEGIN main-job -->\nold\n<!-- END main-job -->\nmore\n")
    cmd = [sys.executable, os.path.join(SCRIPTS, "main_job_report.py"), d, d + ".md", "--readme", readme]
    r = subprocess.run(cmd, capture_output=True, text=True)
    check(r.returncode == 0, f"the main job's report is written ({r.stderr.strip()})")
    text, block = open(d + ".md").read(), open(readme).read()
    check("took 230 s after the build (1.5 min of it the campaign) on test machine" in text, "the report states the job's wall time and machine")
    check("| resnet20_fashion_tanh | 1 | 88.00 % | 42.0 s |" in text or "| resnet20_fashion_tanh | 1 | 88.00 % | 0.7 min |" in text,
          "the training table comes from the logs")
    check("old" not in block and "| resnet20_fashion_none (none) | fp32 | none | 88.00 |" in block and "took 230 s" in block,
          "the README block has the table and the wall time")
    r = subprocess.run(cmd + ["--check"], capture_output=True, text=True)
    check(r.returncode == 0, "--check accepts what it wrote")
    with open(os.path.join(d, "timing.json"), "w") as f:  # a later run only reopened the finished campaign
        json.dump({"threads": 1, "seconds": 3.0, "configuration_seconds": 90.0}, f)
    r = subprocess.run(cmd, capture_output=True, text=True)
    text = open(d + ".md").read()
    check("(1.5 min of it the campaign)" in text and "| campaign (sum over its configurations) | 1.5 min |" in text,
          "the campaign time is the configurations' computing time, not a reopening run's wall time")
    with open(os.path.join(d, "wall_seconds.txt"), "w") as f:
        f.write("231\n")
    r = subprocess.run(cmd + ["--check"], capture_output=True, text=True)
    check(r.returncode != 0, "--check fails once the wall time in the data changes")


def best_saf_verdicts():
    """'Softsign is best' is decided by the intervals of the differences between the models (the
    compare step's paired.csv), not by the means, nor by whether two means' intervals overlap."""
    import cifar10_report
    def cell(saf, mean):
        return {"saf": saf, "model": f"resnet20_cifar10_{saf}", "dtype": "fp32", "mean": str(mean)}
    def diff(a, b, mean, low, high, method="stratified-guarded-t"):
        return {"dtype": "fp32", "rate": "1e-05", "a": f"resnet20_cifar10_{a}", "b": f"resnet20_cifar10_{b}", "diff_top1": str(mean),
                "diff_ci_low": str(low), "diff_ci_high": str(high), "method": method}
    def verdict(paired, *cells):
        best = max(cells, key=lambda r: float(r["mean"]))
        return cifar10_report.best_saf_verdict(list(cells), best, paired)
    two = (cell("softsign", 92.5), cell("tanh", 91.5))
    check(verdict([diff("softsign", "tanh", 1.0, 0.4, 1.6)], *two).startswith("yes (softsign - tanh +1.00 [+0.40, +1.60])"),
          "softsign's difference to every other SAF above 0: yes, with the difference")
    check(verdict([diff("tanh", "softsign", -1.0, -1.6, -0.4)], *two).startswith("yes"), "a row held the other way round is turned")
    three = (cell("tanh", 92.5), cell("softsign", 91.5), cell("arctan", 92.0))
    check(verdict([diff("tanh", "softsign", 1.0, 0.2, 1.8), diff("tanh", "arctan", 0.5, -0.1, 1.1)], *three).startswith("no: softsign is below tanh"),
          "softsign resolved below the best: no, even when another SAF is not resolved against the best")
    # Overlapping intervals of the means (91.44-91.86 and 91.13-91.96) but a paired difference
    # clear of 0: the pairing removes the faults' shared variance, and the verdict follows it.
    check(verdict([diff("tanh", "softsign", 0.10, 0.03, 0.17)], cell("tanh", 91.65), cell("softsign", 91.55)).startswith("no ("),
          "a paired difference clear of 0 decides although the means' intervals overlap")
    check(verdict([diff("tanh", "softsign", 0.10, -0.2, 0.4, "independent-union")], cell("tanh", 91.65), cell("softsign", 91.55))
          == "not resolved: tanh - softsign +0.10 [-0.20, +0.40] (not paired)", "a difference including 0 decides nothing, and says it was not paired")
    check(verdict(None, *two) == cifar10_report.WAITING_COMPARE, "no compare step yet: not judged")
    check("lacks the differences to tanh" in verdict([diff("softsign", "arctan", 1, 0.5, 1.5)], *two), "a missing difference is named")


def clip_verdicts():
    import cifar10_report
    row = {"dtype": "fp32", "rate": "0.0001", "a": "resnet20_cifar10_none+clip", "b": "resnet20_cifar10_tanh", "diff_top1": "6.7",
           "diff_ci_low": "4.1", "diff_ci_high": "9.0", "method": "independent-union"}
    best = {"model": "resnet20_cifar10_tanh"}
    check(cifar10_report.clip_verdict([row], "fp32", 1e-4, best) == "+6.70 [+4.10, +9.00] (not paired): clip higher", "clip resolved above the SAF model")
    check(cifar10_report.clip_verdict([dict(row, diff_ci_low="-1")], "fp32", 1e-4, best).endswith("not resolved"), "an interval across 0: not resolved")
    check(cifar10_report.clip_verdict([row], "fp16", 1e-4, best) == "no difference in the compare step", "another format has no row")


def clean_accuracy_verdicts():
    import cifar10_report
    verdict = cifar10_report.reached_verdict
    check(verdict({"tanh": 92.3, "softsign": 92.5}, 92.28) == "yes", "every SAF model at or above the unprotected one: yes")
    check(verdict({"tanh": 92.1, "softsign": 92.2}, 92.28) == "no", "every SAF model below: no")
    check(verdict({"tanh": 92.25, "arctan": 92.61, "modtanh": 92.23}, 92.28) == "for arctan; not for tanh, modtanh",
          "a mixed outcome names the models on each side")


def curve_reach_sentence():
    import cifar10_report
    def row(rate, mean, tail):
        return {"model": "m", "eligible_bits": "1000000", "k_max": "20", "rate": str(rate), "mean": mean, "tail_probability": str(tail)}
    rows = [row(1e-6, "92.1", 1e-9), row(1e-4, "nan", 1.0), row(1e-5, "nan", 0.0029)]
    said = cifar10_report.curve_reach(rows)
    check("at BER 1e-05:" in said and "10 faults are expected" in said and "P(K > 20) is 0.0029" in said and "from BER 0.0001" in said,
          "the curve's reach is stated at the lowest band-only rate, with its expected fault count")
    check(cifar10_report.curve_reach(rows[:1]) == "", "nothing is said when every rate has a mean")


def headline_estimators():
    import cifar10_report
    with open(SOURCE_ROWS, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["analysis"] == "ber" and r["rate"] == "1e-05"][:2]
    rows[0], rows[1] = dict(rows[0], estimator="stratified"), dict(rows[1], estimator="plain")
    mixed, plain = cifar10_report.headline(rows), cifar10_report.headline(rows[1:])
    check(mixed.splitlines()[2].endswith("| stratified |") and mixed.splitlines()[3].endswith("| plain |"),
          "each headline row names its estimator")
    check(cifar10_report.ESTIMATORS in mixed and cifar10_report.ESTIMATORS not in plain,
          "the two interval kinds are explained when the headline mixes them, and only then")


def main():
    best_saf_verdicts()
    headline_estimators()
    curve_reach_sentence()
    clean_accuracy_verdicts()
    clip_verdicts()
    with tempfile.TemporaryDirectory() as work:
        partial_study(work)
        complete_study(work)
        main_job(work)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("report checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
