#!/usr/bin/env bash
# Regenerates the result tables in README.md and docs/ from the outputs of the commands they name:
#   main-job,        <- build/demo/ of `bash scripts/study/main_job.sh` (the campaign's summary.csv,
#   fashion-mnist.md    timing.json and plot, the training logs, machine.txt, wall_seconds.txt),
#                       copied first to docs/results/fashion-mnist/ (scripts/docs/main_job_report.py)
#   compare-pytorch  <- build/bench/compare_pytorch.json of `bash benchmarks/compare_pytorch.sh`,
#   performance         copied first to docs/results/performance/compare_pytorch.json
#   cifar10 report,  <- docs/results/cifar10-resnet20/ (scripts/study/cifar10_study.sh --steps report)
#   cifar10-headline,   with its figure's data and plot script (scripts/docs/cifar10_figure.py)
#   accuracy_vs_ber
#   models/README.md, models/SHA256SUMS <- models/*.safetensors (scripts/docs/models_index.py)
# (the copies are committed, so the test command can check the tables against them).
# With --check, changes nothing and fails if a table differs from its committed data.
set -euo pipefail
cd "$(dirname "$0")/../.."
main_job=docs/results/fashion-mnist
perf=docs/results/performance/compare_pytorch.json
tables() {  # tables [--check]
    python3 scripts/docs/main_job_report.py "$main_job" "$main_job.md" --readme README.md "$@"
    python3 scripts/docs/performance_table.py "$perf" --into docs/reference/performance.md --block compare-pytorch "$@"
    python3 scripts/docs/performance_table.py "$perf" --headline --into README.md --block performance "$@"
    python3 scripts/docs/performance_table.py docs/results/performance/ab_issue14_swapped.json --into docs/history/performance-history.md --block ab-issue14 "$@"
}
study=docs/results/cifar10-resnet20
if [[ "${1:-}" == "--check" ]]; then
    tables --check
    if [[ -d "$study" ]]; then
        python3 scripts/docs/cifar10_figure.py "$study" --check
        python3 scripts/docs/cifar10_report.py "$study" "$study.md" --readme README.md --check
    fi
    if compgen -G "models/*.safetensors" >/dev/null; then python3 scripts/docs/models_index.py models --check; fi
    exit
fi
if [[ -f build/demo/campaign/summary.csv && -f build/demo/wall_seconds.txt ]]; then
    mkdir -p "$main_job/training"
    cp build/demo/campaign/summary.csv build/demo/campaign/timing.json build/demo/campaign/accuracy_vs_ber.png \
        build/demo/machine.txt build/demo/wall_seconds.txt "$main_job/"
    cp build/demo/resnet20_fashion_*.safetensors.csv "$main_job/training/"
fi
if [[ -f build/bench/compare_pytorch.json ]]; then
    mkdir -p "$(dirname "$perf")"
    cp build/bench/compare_pytorch.json "$perf"
fi
tables
if [[ -d "$study" ]]; then
    python3 scripts/docs/cifar10_figure.py "$study"
    python3 scripts/docs/cifar10_report.py "$study" "$study.md" --readme README.md
fi
if compgen -G "models/*.safetensors" >/dev/null; then python3 scripts/docs/models_index.py models; fi
echo "README.md, docs/: tables and reports regenerated from $main_job, $perf and $study"
