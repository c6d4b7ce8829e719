#!/usr/bin/env bash
# Regenerates the result tables in README.md from the outputs of the commands they name:
#   main-job   <- build/demo/campaign/summary.csv of `bash scripts/demo.sh`, copied first to
#                 docs/results/fashion-mnist/summary.csv (committed, so the test command can check the table)
# With --check, changes nothing and fails if a table differs from its committed data.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--check" ]]; then
    python3 scripts/campaign_table.py docs/results/fashion-mnist/summary.csv --into README.md --block main-job --check
    exit
fi
if [[ -f build/demo/campaign/summary.csv ]]; then
    mkdir -p docs/results/fashion-mnist
    cp build/demo/campaign/summary.csv docs/results/fashion-mnist/summary.csv
fi
python3 scripts/campaign_table.py docs/results/fashion-mnist/summary.csv --into README.md --block main-job
echo "README.md: main-job table regenerated from docs/results/fashion-mnist/summary.csv"
