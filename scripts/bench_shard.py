#!/usr/bin/env python3
"""Sharded runs against the single run, side by side.

Each round runs, one after the other: the single run, then parts 1..N of
the same job (one at a time, each with the same --threads), then merge;
rounds interleave so that the machine's drift hits both alike. Reports the
medians of: the single run's wall and CPU time, the parts' summed wall and
CPU time, the merge's, their ratio to the single run, and the largest peak
resident memory of a part (from wait4's rusage).

    python3 scripts/bench_shard.py --bin target/release/infonce \\
        --parts 4,16 --rounds 3 --threads 2 -- EMB.npy --tau 0.1
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def timed(cmd):
    """Runs cmd; returns (wall s, user+sys s, peak RSS KiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed: {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="target/release/infonce")
    ap.add_argument("--parts", default="4,16", help="comma-separated N")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-single", action="store_true",
                    help="parts only (for the memory of a part at large R)")
    ap.add_argument("args", nargs="+", help="compute's arguments (after --)")
    a = ap.parse_args()
    ns = [int(n) for n in a.parts.split(",")]
    base = [a.bin, "compute", *a.args, "--threads", str(a.threads), "-q"]
    single, parts = [], {n: [] for n in ns}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            if not a.skip_single:
                single.append(timed(base + ["--summary", "-f", "json", "-o", os.devnull]))
            for n in ns:
                walls, cpus, rss = 0.0, 0.0, 0
                files = []
                for k in range(1, n + 1):
                    out = os.path.join(tmp, f"part-{k}-of-{n}.infonce")
                    w, c, m = timed(base + ["--shard", f"{k}/{n}", "-o", out])
                    walls, cpus, rss = walls + w, cpus + c, max(rss, m)
                    files.append(out)
                mw, mc, mm = timed([a.bin, "merge", *files, "--threads", str(a.threads),
                                    "--summary", "-f", "json", "-q", "-o", os.devnull])
                size = sum(os.path.getsize(f) for f in files)
                parts[n].append((walls, cpus, rss, mw, mc, mm, size))
                for f in files:
                    os.remove(f)
            print(f"round {r + 1} done", file=sys.stderr)
    med = statistics.median
    if single:
        sw, sc = med(s[0] for s in single), med(s[1] for s in single)
        print(f"single run: wall {sw:.2f} s, cpu {sc:.2f} s, "
              f"peak {med(s[2] for s in single) / 1024:.0f} MiB")
    # Ratios are taken round by round (each part set against the single run
    # of its own round), then their median.
    def ratio(rows, of):
        if not single:
            return "-"
        return f"{med(of(x) / s[1] for x, s in zip(rows, single)):.3f}"
    print("| N | parts' wall (s) | parts' cpu (s) | merge cpu (s) | parts / single, cpu | "
          "(parts + merge) / single, cpu | (parts + merge) / single, wall | "
          "largest part peak (MiB) | merge peak (MiB) | part files (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in ns:
        rows = parts[n]
        pw, pc = med(x[0] for x in rows), med(x[1] for x in rows)
        mc = med(x[4] for x in rows)
        wall = (f"{med((x[0] + x[3]) / s[0] for x, s in zip(rows, single)):.3f}"
                if single else "-")
        print(f"| {n} | {pw:.2f} | {pc:.2f} | {mc:.2f} | {ratio(rows, lambda x: x[1])} | "
              f"{ratio(rows, lambda x: x[1] + x[4])} | {wall} | "
              f"{max(x[2] for x in rows) / 1024:.0f} | {max(x[5] for x in rows) / 1024:.0f} | "
              f"{rows[0][6] / 2**20:.1f} |")


if __name__ == "__main__":
    main()
