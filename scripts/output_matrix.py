#!/usr/bin/env python3
"""Every output format of `infonce compute` over every fixture, saved to files.

For checking that a change to the writers leaves their bytes alone: run it
with the binary before the change and after, then compare the directories.
Run from the repository root:

    python3 scripts/output_matrix.py target/debug/infonce /tmp/before
    # ... change and rebuild ...
    python3 scripts/output_matrix.py target/debug/infonce /tmp/after
    diff -r /tmp/before /tmp/after && echo identical

The cases are those of fixtures/expected/*.json and fixtures/inputs/expected.json
(input and arguments), each
in every format, plain and with --terms, --summary, --all, --anchor, --anchor
with --terms, and --symmetric where the layout takes it; plus the format
picked from the extension of -o. Each case's file holds the exit code,
standard error and standard output (or the -o file).
"""
import glob
import json
import os
import subprocess
import sys

FORMATS = ["table", "json", "csv", "tsv", "ndjson", "markdown"]
EXTENSIONS = ["json", "csv", "tsv", "ndjson", "jsonl", "md", "markdown", "txt"]
VARIANTS = {
    "plain": [],
    "terms": ["--terms"],
    "summary": ["--summary"],
    "all": ["--all"],
    "terms_all": ["--terms", "--all"],
}


def run(binary, args, out_file=None, cwd=None):
    p = subprocess.run([binary, "compute", *args], capture_output=True, cwd=cwd)
    body = p.stdout
    if out_file is not None and os.path.exists(out_file):
        with open(out_file, "rb") as f:
            body = f.read()
        os.remove(out_file)
    return b"exit %d\n--- stderr\n%s--- output\n%s" % (p.returncode, p.stderr, body)


def cases():
    """(name, arguments, folder to run in, two anchors) of every fixture case."""
    for path in sorted(glob.glob("fixtures/expected/*.json")):
        with open(path) as f:
            expected = json.load(f)
        case = os.path.splitext(os.path.basename(path))[0]
        base = [expected["input"], *expected["args"]]
        # The first pairs of pairs.csv and pairs.npy anchor rows 21 and 2.
        anchors = [21, 2] if "--pairs" in base else [0, 3]
        yield case, base, None, anchors
    inputs = "fixtures/inputs/expected.json"
    if os.path.exists(inputs):
        with open(inputs) as f:
            expected = json.load(f)
        for name, want in expected.items():
            args = want["args"]
            base = args if args[:1] == ["emb.npy"] else [name, *args]
            anchors = list(dict.fromkeys(want["anchors"]))[:2]
            yield "inputs_" + name, base, "fixtures/inputs", anchors


def main():
    binary, dest = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    os.makedirs(dest, exist_ok=True)
    n = 0
    for case, base, cwd, anchors in cases():
        variants = dict(VARIANTS)
        layout_file = "--pairs" in base or "--keys" in base
        variants["anchor"] = ["--anchor", ",".join(map(str, anchors))]
        variants["anchor_terms"] = ["--anchor", str(anchors[-1]), "--terms"]
        if layout_file and "--symmetric" not in base:
            variants["symmetric"] = ["--symmetric"]
            variants["symmetric_terms"] = ["--symmetric", "--terms"]
            variants["symmetric_summary"] = ["--symmetric", "--summary"]
        for name, extra in variants.items():
            for fmt in FORMATS:
                out = run(binary, [*base, *extra, "--format", fmt], cwd=cwd)
                with open(os.path.join(dest, f"{case}.{name}.{fmt}"), "wb") as f:
                    f.write(out)
                n += 1
        for ext in EXTENSIONS:
            target = os.path.join(dest, f"_out.{ext}")
            out = run(binary, [*base, "-o", target], target, cwd)
            with open(os.path.join(dest, f"{case}.o.{ext}"), "wb") as f:
                f.write(out)
            n += 1
    print(f"{n} outputs in {dest}")


if __name__ == "__main__":
    main()
