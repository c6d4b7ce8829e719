#!/usr/bin/env bash
# The test command: installs what is missing, then
#  1. a warnings-as-errors release build (-march=native) with every test: the unit tests built
#     natively and portably, and the find_package(safnet) consumer test;
#  2. the same tests under AddressSanitizer + UndefinedBehaviorSanitizer;
#  3. every libFuzzer harness (clang, ASan + UBSan) for SAFNET_FUZZ_SECONDS (30) from its
#     committed seed corpus; the committed crash inputs are replayed by the unit tests above.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(nproc)

bash scripts/dev/install-deps.sh

cmake --preset release
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"

cmake --preset asan
cmake --build --preset asan -j "$jobs"
ctest --preset asan -j "$jobs"

cmake --preset fuzz -DSAFNET_FUZZ_SECONDS="${SAFNET_FUZZ_SECONDS:-30}"
cmake --build --preset fuzz -j "$jobs"
ctest --preset fuzz -j "$jobs"

echo "safnet: all tests passed (release + ASan/UBSan + fuzzing)"
