#!/usr/bin/env bash
# The README's quick start, as a user runs it: the commands of its first ```sh block (between
# <!-- BEGIN quick-start --> and <!-- END quick-start -->) run in order from the source
# directory, and every line of the ```text block that follows must appear in their output.
# Needs CIFAR-10 (CIFAR10_DIR, default ../shared/data/cifar-10-batches-bin): skipped (77) without it.
#   tests/tools/readme_quick_start.sh SOURCE_DIR
set -euo pipefail
cd "$1"
export CIFAR10_DIR=${CIFAR10_DIR:-$(cd .. && pwd)/shared/data/cifar-10-batches-bin}
if [[ ! -f "$CIFAR10_DIR/test_batch.bin" ]]; then
    echo "readme_quick_start: SKIPPED, no CIFAR-10 binary version in $CIFAR10_DIR" >&2
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work" first-campaign' EXIT
python3 - README.md "$work" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"<!-- BEGIN quick-start -->(.*?)<!-- END quick-start -->", text, re.S)
if not m:
    sys.exit("README.md: no quick-start block")
blocks = re.findall(r"```(\w+)\n(.*?)```", m.group(1), re.S)
kinds = [k for k, _ in blocks]
if kinds != ["sh", "text"]:
    sys.exit("README.md: the quick-start block needs one ```sh block and then one ```text block, found %s" % kinds)
open(sys.argv[2] + "/commands.sh", "w").write("set -euo pipefail\n" + blocks[0][1])
open(sys.argv[2] + "/expected.txt", "w").write(blocks[1][1])
PY
rm -rf first-campaign
bash "$work/commands.sh" > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; echo "readme_quick_start: a command failed" >&2; exit 1; }
missing=0
while IFS= read -r line; do
    [[ -z "$line" ]] && continue
    if ! grep -qxF -- "$line" "$work/out.txt"; then
        echo "readme_quick_start: README line not in the output: $line" >&2
        missing=1
    fi
done < "$work/expected.txt"
if ((missing)); then cat "$work/out.txt"; exit 1; fi
[[ -s first-campaign/summary.csv && -s first-campaign/accuracy_vs_ber.png ]] || { echo "readme_quick_start: first-campaign/ lacks its files" >&2; exit 1; }
echo "readme_quick_start: ok"
