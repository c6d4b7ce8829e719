#!/usr/bin/env bash
# Installs the Debian packages safnet's build, tests, tools, examples and benchmarks need.
# Idempotent: does nothing when all are present; otherwise runs `apt-get update` once, then
# installs only what is missing.
set -euo pipefail

packages=(
    cmake g++ make            # toolchain
    clang libclang-rt-14-dev  # libFuzzer harnesses (tests/fuzz)
    libeigen3-dev             # GEMM for the CNN core
    libxsimd-dev xtl-dev      # SIMD (Debian's xsimd CMake target needs xtl)
    catch2                    # tests (Catch2 2.13)
    libbenchmark-dev          # Google Benchmark
    zlib1g-dev                # gzip-compressed datasets
    nlohmann-json3-dev        # safetensors headers, campaign JSON reports
    libcli11-dev              # command-line flags of safnet-train / safnet-campaign
    gnuplot-nox               # campaign plots
    libopenmpi-dev openmpi-bin  # mpirun -np N safnet-campaign (tests/tools/mpi_campaign.sh)
    python3                   # scripts/docs/campaign_table.py: README tables from campaign outputs
    python3-torch             # tests/tools/import_pytorch.sh (PyTorch checkpoint import); the benchmarks' peer
    dataset-fashion-mnist     # real data for the learning tests and the main job
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "safnet: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
