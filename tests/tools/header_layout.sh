#!/usr/bin/env bash
# The public/internal boundary: every public header (include/safnet/ outside detail/) is in the
# umbrella safnet.hpp (mpi.hpp excepted: it needs MPI), and no tool, example or benchmark
# includes a safnet/detail/ header (the tests may: they check the kernels themselves).
set -euo pipefail
cd "$(dirname "$0")/../.."
status=0
umbrella=include/safnet/safnet.hpp
while IFS= read -r header; do
    name=${header#include/}
    [[ "$name" == safnet/safnet.hpp || "$name" == safnet/fault/run/mpi.hpp ]] && continue
    grep -q "#include <$name>" "$umbrella" || { echo "header_layout: $name is public but not in $umbrella" >&2; status=1; }
done < <(find include/safnet -name '*.hpp' -not -path '*/detail/*' | sort)
while IFS= read -r hit; do
    echo "header_layout: $hit includes an internal header (use the public one)" >&2
    status=1
done < <(grep -rn "#include <safnet/detail/" tools examples benchmarks --include='*.cpp' --include='*.hpp' || true)
exit $status
