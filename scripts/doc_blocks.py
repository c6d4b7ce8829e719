"""Generated blocks in Markdown files: the text between '<!-- BEGIN name -->' and
'<!-- END name -->' is replaced by a table a script made from a results file. With check=True
nothing is written and a difference is an error (the test command runs the checks)."""
import os
import sys


def replace_block(path, block, text, source, check=False):
    begin, end = f"<!-- BEGIN {block} -->\n", f"<!-- END {block} -->"
    with open(path) as f:
        doc = f.read()
    i, j = doc.find(begin), doc.find(end)
    if i < 0 or j < i:
        raise SystemExit(f"{path}: no block {block} (markers '{begin.strip()}' ... '{end}')")
    new = doc[: i + len(begin)] + text + doc[j:]
    if check:
        if new != doc:
            sys.stderr.write(f"{path}: block {block} differs from {source}; run scripts/update_tables.sh\n")
            return 1
        print(f"{path}: block {block} matches {source}")
        return 0
    with open(path + ".tmp", "w") as f:
        f.write(new)
    os.replace(path + ".tmp", path)
    return 0
