#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs safnet-demo (extra flags pass
# through, e.g. `bash scripts/demo.sh --ber 1e-4 --rounds 500`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target safnet-demo
./build/release/examples/safnet-demo "$@"
