"""Generated blocks in Markdown files: the text between '<!-- BEGIN name -->' and
'<!-- END name -->' is replaced by a table a script made from a results file. With check=True
nothing is written and a difference is an error (the test command runs the checks)."""
import argparse
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
            sys.stderr.write(f"{path}: block {block} differs from {source}; run scripts/docs/update_tables.sh\n")
            return 1
        print(f"{path}: block {block} matches {source}")
        return 0
    with open(path + ".tmp", "w") as f:
        f.write(new)
    os.replace(path + ".tmp", path)
    return 0


def add_block_arguments(ap):
    """--into FILE --block NAME [--check]: where a generated table goes."""
    ap.add_argument("--into", help="the Markdown file holding the block")
    ap.add_argument("--block", help="the block's name (<!-- BEGIN name --> ... <!-- END name -->)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if the block differs")


def emit(text, args, source):
    """Prints text, or puts it into args.into's block (checking only, with --check)."""
    if not args.into:
        sys.stdout.write(text)
        return 0
    if not args.block:
        raise SystemExit("--into needs --block")
    return replace_block(args.into, args.block, text, source, args.check)


def write_report(path, text, source, check=False, hint="scripts/docs/update_tables.sh"):
    """Writes a generated report to path atomically, or with check=True only compares it: a
    difference is an error naming the command (hint) that regenerates it."""
    if check:
        with open(path) as f:
            if f.read() != text:
                sys.stderr.write(f"{path} differs from what {source} gives; run {hint}\n")
                return 1
        print(f"{path} matches {source}")
        return 0
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    return 0


def report_main(description, report, block, readme_text, hint):
    """The command line of a report script: RESULTS OUT [--check] [--readme FILE]. report(results)
    gives the report's text, readme_text(results, out) the README block's; hint names the
    command that regenerates them (in a --check failure)."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("out")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--readme", help=f"also put the headline into this file's block {block}")
    a = ap.parse_args()
    text = report(a.results)
    if a.readme and replace_block(a.readme, block, readme_text(a.results, a.out), a.results, a.check):
        return 1
    return write_report(a.out, text, a.results, a.check, hint)
