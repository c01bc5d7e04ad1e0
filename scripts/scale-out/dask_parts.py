#!/usr/bin/env python3
"""Run the N parts of a sharded infonce run as tasks on a Dask cluster, then merge.

    python3 scripts/scale-out/dask_parts.py [options] N PARTDIR COMPUTE_ARGS...

Each task runs `infonce compute COMPUTE_ARGS... --threads T --shard K/N -o
PARTDIR/part-K-of-N.infonce` in a subprocess on a worker; once all N parts
are written, `infonce merge` runs here and writes the result to standard
output (or where --merge-args sends it). Timings go to standard error.

Without --scheduler, a LocalCluster of --workers worker processes is started
for a try-out on this machine. With --scheduler tcp://HOST:8786 the parts go
to an existing cluster: its workers must run `infonce` (--infonce) and see
the inputs and PARTDIR at the same paths as this machine (a shared file
system), since merge reads the inputs again from the paths the parts were
given. Start such workers with one thread each (`dask worker --nthreads 1`)
and give each part the worker's cores with --threads.

Exit status: 0 when every part and the merge succeeded, 1 when a part
failed (each failed part is named with its error), else merge's own exit
status (3 for --fail-above). Needs `pip install "dask[distributed]"`.
docs/scale-out.md describes the whole scheme.
"""

import argparse
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time


def run_part(infonce, compute_args, k, n, part, threads, workdir):
    """One task: part k of n, run in a subprocess on the worker."""
    cmd = [infonce, "compute", *compute_args]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    cmd += ["--shard", f"{k}/{n}", "-o", part]
    start = time.time()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    return {
        "k": k,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "start": start,
        "seconds": time.time() - start,
        "returncode": proc.returncode,
        "stderr": proc.stderr.strip(),
        "bytes": os.path.getsize(os.path.join(workdir, part)) if proc.returncode == 0 else 0,
    }


def positive(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{s} is not a whole number of at least 1")
    return v


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: dask_parts.py --workers 3 --merge-args '-o result.json' "
        "12 parts emb.npy --tau 0.1",
    )
    ap.add_argument("--scheduler", metavar="ADDRESS",
                    help="an existing Dask scheduler, such as tcp://10.0.0.5:8786 "
                    "(default: start a LocalCluster on this machine)")
    ap.add_argument("--workers", type=positive, default=os.cpu_count() or 1, metavar="W",
                    help="worker processes of the LocalCluster (default: the number of cores)")
    ap.add_argument("--threads", type=positive, metavar="T",
                    help="--threads of each part (default: the cores of this machine shared "
                    "out among the LocalCluster's workers; with --scheduler, infonce's "
                    "default, all cores of the worker's machine)")
    ap.add_argument("--infonce", default=os.environ.get("INFONCE", "infonce"), metavar="BIN",
                    help="the infonce binary, on the PATH or a path (default: $INFONCE, else infonce)")
    ap.add_argument("--workdir", default=os.getcwd(), metavar="DIR",
                    help="where the parts and the merge run, relative paths being taken "
                    "from there (default: the current folder; with --scheduler, a path "
                    "the workers see too)")
    ap.add_argument("--merge-args", default="", metavar="'ARGS'",
                    help="output flags of infonce merge, as one shell-quoted string "
                    "(such as '-f json -o result.json'; default: the table on standard output)")
    ap.add_argument("--retries", type=int, default=0, metavar="R",
                    help="times Dask runs a failed part again (default 0)")
    ap.add_argument("n", type=positive, metavar="N", help="number of parts")
    ap.add_argument("partdir", metavar="PARTDIR", help="folder the parts are written to")
    ap.add_argument("compute_args", nargs=argparse.REMAINDER, metavar="COMPUTE_ARGS",
                    help="the arguments of infonce compute: inputs and the flags that "
                    "change the numbers (no -o, no output flags)")
    a = ap.parse_args()
    if not a.compute_args:
        ap.error("give the arguments of infonce compute after N and PARTDIR")

    infonce = a.infonce
    if os.sep in infonce:
        infonce = os.path.abspath(infonce)
    elif shutil.which(infonce) is None and a.scheduler is None:
        sys.exit(f"dask_parts.py: cannot run '{infonce}': give --infonce BIN or set INFONCE")
    workdir = os.path.abspath(a.workdir)
    threads = a.threads
    if threads is None and a.scheduler is None:
        threads = max(1, (os.cpu_count() or 1) // min(a.workers, a.n))
    os.makedirs(os.path.join(workdir, a.partdir), exist_ok=True)
    parts = [os.path.join(a.partdir, f"part-{k}-of-{a.n}.infonce") for k in range(1, a.n + 1)]

    from dask.distributed import Client, LocalCluster, as_completed

    t0 = time.time()
    if a.scheduler:
        cluster = None
        client = Client(a.scheduler)
        where = a.scheduler
    else:
        cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        where = f"LocalCluster of {a.workers} worker processes"
    workers = len(client.scheduler_info()["workers"])
    t_up = time.time()
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    log(f"{a.n} parts on {where} ({workers} workers, --threads "
        f"{threads if threads is not None else 'default'}), up in {t_up - t0:.2f} s")

    futures = [
        client.submit(run_part, infonce, a.compute_args, k, a.n, parts[k - 1], threads, workdir,
                      key=f"infonce-part-{k}-of-{a.n}-{t0:.0f}", pure=False, retries=a.retries)
        for k in range(1, a.n + 1)
    ]
    results, failed = [], []
    for fut, res in as_completed(futures, with_results=True, raise_errors=False):
        if isinstance(res, BaseException) or not isinstance(res, dict):
            failed.append((0, f"a task failed on the cluster: {res!r}"))
            continue
        results.append(res)
        if res["returncode"] != 0:
            failed.append((res["k"], f"part {res['k']} of {a.n} (exit {res['returncode']}): "
                           f"{res['stderr']}"))
    t_parts = time.time()
    client.close()
    if cluster is not None:
        cluster.close()

    log(f"{'part':>5} {'worker':>20} {'start s':>8} {'wall s':>8} {'bytes':>12}")
    for r in sorted(results, key=lambda r: r["k"]):
        log(f"{r['k']:>5} {r['host'] + ':' + str(r['pid']):>20} {r['start'] - t_up:>8.2f} "
            f"{r['seconds']:>8.2f} {r['bytes']:>12}")
    # Warnings of the parts that ran (the same in every part, shown once).
    warned = []
    for r in sorted(results, key=lambda r: r["k"]):
        if r["returncode"] == 0:
            warned += [w for w in r["stderr"].splitlines() if w and w not in warned]
    for w in warned:
        log(w)
    busy = sum(r["seconds"] for r in results)
    log(f"parts: {t_parts - t_up:.2f} s wall, {busy:.2f} s summed over the parts")
    if failed:
        for _, f in sorted(failed):
            log(f"dask_parts.py: {f}")
        log(f"dask_parts.py: {len(failed)} of {a.n} parts failed; nothing merged")
        return 1

    merge = [infonce, "merge", *parts, *shlex.split(a.merge_args)]
    shown = [a.infonce, *merge[1:]]
    shown = shown if a.n <= 3 else [*shown[:3], "...", *shown[a.n + 1:]]
    log("merge: " + " ".join(shlex.quote(x) if x != "..." else x for x in shown))
    t_m = time.time()
    rc = subprocess.run(merge, cwd=workdir).returncode
    t_end = time.time()
    log(f"merge: {t_end - t_m:.2f} s (exit {rc}); total {t_end - t0:.2f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
