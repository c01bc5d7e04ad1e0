#!/usr/bin/env python3
"""What a sharded run costs against a single run, on one machine.

    python3 scripts/scale-out/bench_parts.py [options] COMPUTE_ARGS...

For each repetition, interleaved: the single run `infonce compute
COMPUTE_ARGS... --threads T --summary`, then for each N of --parts the N
parts one after another (`--shard K/N`, each with --threads T) and their
merge (`merge --summary`). Each process's wall time, user + system CPU
time and peak RSS are taken from the kernel (wait4). Prints, per N, the
medians over the repetitions of: the parts' wall and CPU times summed, the
slowest part, the merge; the largest peak RSS of a part (of the single
run on its line); the parts' bytes; and checks
that each merge printed the single run's summary. Markdown with
--markdown. Uses only the standard library.
"""

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time


def one(cmd):
    """Runs cmd; returns (wall s, user + system CPU s, peak RSS KiB, stdout)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if p.returncode != 0:
            sys.exit(f"bench_parts.py: {shlex.join(cmd)} failed ({p.returncode}): "
                     f"{err.read().decode(errors='replace').strip()}")
        return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, out.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--infonce", default=os.environ.get("INFONCE", "target/release/infonce"))
    ap.add_argument("--parts", default="4,16", help="numbers of parts, comma-separated")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("compute_args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if not a.compute_args:
        ap.error("give the arguments of infonce compute")
    ns = [int(x) for x in a.parts.split(",")]
    common = ["--threads", str(a.threads)]
    rows = {"single": []} | {n: [] for n in ns}
    with tempfile.TemporaryDirectory(prefix="infonce-parts-") as tmp:
        for rep in range(a.reps):
            w, c, m, single_out = one(
                [a.infonce, "compute", *a.compute_args, *common, "--summary"])
            rows["single"].append((w, c, m))
            for n in ns:
                walls, cpus, rss, paths = [], [], [], []
                for k in range(1, n + 1):
                    path = os.path.join(tmp, f"part-{k}-of-{n}.infonce")
                    w, c, m, _ = one([a.infonce, "compute", *a.compute_args, *common,
                                      "--shard", f"{k}/{n}", "-o", path])
                    rss.append(m)
                    walls.append(w)
                    cpus.append(c)
                    paths.append(path)
                mw, mc, _, merged = one([a.infonce, "merge", *paths, *common, "--summary"])
                if merged != single_out:
                    sys.exit(f"bench_parts.py: the merge of {n} parts differs from the single run")
                size = sum(os.path.getsize(p) for p in paths)
                for p in paths:
                    os.remove(p)
                rows[n].append((sum(walls), sum(cpus), max(walls), mw, max(rss), size))
            print(f"repetition {rep + 1} of {a.reps} done", file=sys.stderr, flush=True)

    med = lambda xs: statistics.median(xs)  # noqa: E731
    sw = med([r[0] for r in rows["single"]])
    sc = med([r[1] for r in rows["single"]])
    head = ["run", "wall s", "vs single", "CPU s", "vs single", "slowest part s",
            "merge wall s", "peak RSS MiB", "parts' bytes"]
    table = [["single", f"{sw:.2f}", "", f"{sc:.2f}", "", "", "",
              f"{max(r[2] for r in rows['single']) / 1024:.0f}", ""]]
    for n in ns:
        r = rows[n]
        w, c = med([x[0] for x in r]), med([x[1] for x in r])
        table.append([f"{n} parts", f"{w:.2f}", f"{100 * (w / sw - 1):+.1f}%", f"{c:.2f}",
                      f"{100 * (c / sc - 1):+.1f}%", f"{med([x[2] for x in r]):.2f}",
                      f"{med([x[3] for x in r]):.2f}", f"{max(x[4] for x in r) / 1024:.0f}",
                      f"{r[0][5]}"])
    if a.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for t in table:
            print("| " + " | ".join(t) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
        for t in [head, *table]:
            print("  ".join(str(x).rjust(w) for x, w in zip(t, widths)))
    print(f"medians of {a.reps}; parts run one after another, each with --threads {a.threads}; "
          "wall and CPU of the parts are summed, the merge not included", file=sys.stderr)


if __name__ == "__main__":
    main()
