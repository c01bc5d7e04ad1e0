#!/usr/bin/env python3
"""Times `infonce compute` against numpy and PyTorch baselines, side by side.

Run from anywhere (paths are taken relative to the repository root); build
first with `cargo build --release`:

    python3 scripts/bench.py --sizes 8192,16384 --d 256 --markdown
    python3 scripts/bench.py --scaling --markdown
    python3 scripts/bench.py --sizes 4096 --d 64 --reps 3 --tools infonce,np-ntxent
    python3 scripts/bench.py --ref-bin OLD/target/release/infonce --tools infonce --d 64,256

(the last one times a second build, say of the previous commit, against the
current one in the same run: the fair way to compare two builds here)

What is timed (each run is a fresh process; its peak RSS is GNU time's
"Maximum resident set size", or os.wait4()'s where /usr/bin/time is missing):

  infonce       `infonce compute FILE --tau T --summary --format json --quiet`:
                wall time of the whole process (start-up, reading the .npy,
                the loss, writing the JSON).
  np-product    numpy float32 "plain product" z @ zt of the row-normalized
                array, with zt = z.T.copy() made beforehand. Only the product
                is timed; "warm" is a second product into the same, already
                touched, output (no page faults on fresh R x R memory). (The literal `z @ z.T` is detected by numpy and sent
                to a symmetric rank-k routine (?syrk), which is slower on
                OpenBLAS; it is available as the extra tool `np-zzt`.)
  np-ntxent     numpy float32 blocked NT-Xent: the same loss as infonce, rows
                in blocks of --np-block, one log-sum-exp per row, no R x R
                matrix. Timed from the loaded array (normalizing included).
  torch         PyTorch CPU, the usual NT-Xent: normalize, z @ z.T / tau,
                diagonal masked with -inf, cross_entropy with labels
                i <-> i+N, under inference_mode, --torch-threads threads.
                Timed from the loaded array. Skipped if torch is missing.
  infonce-ref   the same as infonce with the binary of --ref-bin.

The Python baselines exclude interpreter start-up, imports and np.load; the
infonce figure includes all of that for itself, so the comparison does not
favour infonce. The loss of np-ntxent and torch is checked against infonce's
(relative difference at most --check-tol).

If OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE are set, both are unset for the
numpy runs only (they force an older, slower OpenBLAS kernel); the BLAS that
numpy then uses is printed (threadpoolctl if installed, else numpy's config).

`--scaling` times infonce alone over R (at d = 256) and d (at R = 16384) and
prints time / (R^2 d), which is flat when the cost goes as R^2 d, and the peak
RSS beside the input size, which shows how memory grows with R and d.

Runs of all tools are interleaved (run 1 of each tool, then run 2, ...), so a
change of load hits them alike. On a shared machine, each run first waits (up
to --idle-wait seconds) for the cores to be idle, and a run during which
other processes used more than 10% of the cores is left out of the medians
when at least 3 quiet runs remain (the figure is marked * otherwise).

Data files come from scripts/make_embeddings.py (written on first use into
--data, default bench-data/).
"""
import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

QUIET = 0.10  # a run is quiet when other processes used at most this share of the cores
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
TOOLS = ("infonce", "np-product", "np-ntxent", "torch")
EXTRA_TOOLS = ("np-zzt", "infonce-ref")
LABELS = {
    "infonce": "infonce",
    "np-product": "numpy product",
    "np-ntxent": "numpy NT-Xent",
    "torch": "torch NT-Xent",
    "np-zzt": "numpy z @ z.T",
    "infonce-ref": "infonce (ref)",
}
# R x R float32 matrices each tool holds at its peak (for --max-matrix-gib).
WARM = ("np-product", "np-zzt")  # tools that also time a second, warm product
MATRICES = {"np-product": 1, "np-zzt": 1, "torch": 3}


# ------------------------------------------------------------------ workers
# Each baseline runs as `bench.py --worker TOOL FILE --tau T` in its own
# process and prints one JSON object.


def worker(args):
    import resource

    import numpy as np

    out = {}
    if args.worker == "blas-info":
        print(json.dumps(blas_info()))
        return
    if args.worker == "torch":
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(args.torch_threads)
        out["torch"] = torch.__version__
        out["torch_threads"] = torch.get_num_threads()
    out["rss_after_imports_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tau = args.tau
    t0 = time.perf_counter()
    z = np.load(args.file)
    if z.dtype != np.float32:
        z = z.astype(np.float32)
    t1 = time.perf_counter()
    c1 = time.process_time()
    out["load_seconds"] = t1 - t0
    r = z.shape[0]
    n = r // 2

    if args.worker in ("np-product", "np-zzt"):
        z = z / np.linalg.norm(z, axis=1, keepdims=True)
        if args.worker == "np-product":
            zt = z.T.copy()
            t2, c1 = time.perf_counter(), time.process_time()
            s = z @ zt
        else:
            t2, c1 = time.perf_counter(), time.process_time()
            s = z @ z.T
        t3 = time.perf_counter()
        out["prep_seconds"] = t2 - t1
        out["seconds"] = t3 - t2
        out["cpu_seconds"] = time.process_time() - c1
        out["checksum"] = float(s[0, : min(r, 8)].sum())
        # Again into the same, now mapped, output: the product without the
        # first touch of R x R fresh pages (not part of the timed figure).
        t4 = time.perf_counter()
        np.matmul(z, zt if args.worker == "np-product" else z.T, out=s)
        out["warm_seconds"] = time.perf_counter() - t4
    elif args.worker == "np-ntxent":
        z = z / np.linalg.norm(z, axis=1, keepdims=True)
        zt = z.T.copy()
        inv_tau = np.float32(1.0 / tau)
        pos = (np.arange(r) + n) % r
        total = 0.0
        b = args.np_block
        for i0 in range(0, r, b):
            i1 = min(r, i0 + b)
            rows = np.arange(i1 - i0)
            s = z[i0:i1] @ zt
            s *= inv_tau
            s[rows, np.arange(i0, i1)] = -np.inf
            lp = s[rows, pos[i0:i1]].astype(np.float64)
            m = s.max(axis=1, keepdims=True)
            s -= m
            np.exp(s, out=s)
            lse = m[:, 0].astype(np.float64) + np.log(s.sum(axis=1).astype(np.float64))
            total += float((lse - lp).sum())
        out["loss"] = total / r
        out["seconds"] = time.perf_counter() - t1
    elif args.worker == "torch":
        t1, c1 = time.perf_counter(), time.process_time()
        zt_ = torch.from_numpy(z)
        with torch.inference_mode():
            zn = F.normalize(zt_, dim=1)
            sim = zn @ zn.T / tau
            sim.masked_fill_(torch.eye(r, dtype=torch.bool), float("-inf"))
            labels = torch.cat([torch.arange(n, r), torch.arange(0, n)])
            loss = F.cross_entropy(sim, labels)
            out["loss"] = float(loss)
        out["seconds"] = time.perf_counter() - t1
    else:
        sys.exit(f"unknown worker {args.worker}")
    out.setdefault("cpu_seconds", time.process_time() - c1)
    out["rss_self_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out))


def blas_info():
    import numpy as np

    info = {"numpy": np.__version__}
    try:
        import threadpoolctl

        pools = threadpoolctl.threadpool_info()
        info["pools"] = [
            {k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                   "threading_layer", "prefix")}
            for p in pools
        ]
        info["source"] = "threadpoolctl"
    except ImportError:
        try:
            cfg = np.show_config(mode="dicts")
            blas = cfg.get("Build Dependencies", {}).get("blas", {})
            info["pools"] = [{"internal_api": blas.get("name"), "version": blas.get("version")}]
            simd = cfg.get("SIMD Extensions", {})
            info["simd_found"] = simd.get("found")
            info["source"] = "numpy.show_config (no threadpoolctl: kernel not known)"
        except Exception as e:  # old numpy
            info["source"] = f"unknown ({e})"
    return info


# ------------------------------------------------------------------ driver


def rel(path):
    """A path as written in a command run from the repository root."""
    p = os.path.abspath(path)
    return os.path.relpath(p, ROOT) if p.startswith(ROOT + os.sep) else p


class Run:
    def __init__(self, wall, rss_kib, cpu, rc, stdout, stderr):
        self.wall, self.rss_kib, self.cpu = wall, rss_kib, cpu
        self.rc, self.stdout, self.stderr = rc, stdout, stderr


GNU_TIME = "/usr/bin/time"


def run_measured(cmd, env=None):
    """Runs cmd; wall time, and peak RSS and CPU time of that process alone.

    The peak RSS comes from GNU time (`%M`) when it is installed: a child
    forked by this Python process and measured with os.wait4() alone would
    count this process's own memory too (Linux records the larger of the
    pre-exec and post-exec peaks). Without it, wait4's figure is used.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss:
        timed = [GNU_TIME, "-f", "%M", "-o", rss.name] + cmd if os.path.exists(GNU_TIME) else cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(timed, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        peak = ru.ru_maxrss
        if timed is not cmd:
            text = rss.read().split()
            peak = int(text[-1]) if text and text[-1].isdigit() else peak
        return Run(wall, peak, ru.ru_utime + ru.ru_stime, p.returncode,
                   out.read().decode(), err.read().decode())


def numpy_env():
    env = dict(os.environ)
    removed = {k: env.pop(k) for k in BLAS_VARS if k in env}
    return env, removed


def torch_available():
    import importlib.util

    return importlib.util.find_spec("torch") is not None


class Bench:
    def __init__(self, a):
        self.a = a
        self.np_env, self.removed = numpy_env()
        self.loads = []  # 1-minute load average before each size
        self.starts = 0
        self.busy_starts = 0  # runs started while other work kept the cores busy

    def infonce_cmd(self, path, binary=None):
        cmd = [binary or self.a.bin, "compute", path, "--tau", repr(self.a.tau), "--summary",
               "--format", "json", "--quiet"]
        if self.a.threads:
            cmd += ["--threads", str(self.a.threads)]
        return cmd

    def worker_cmd(self, tool, path):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", tool, path,
               "--tau", repr(self.a.tau)]
        if tool == "torch":
            cmd += ["--torch-threads", str(self.a.torch_threads)]
        if tool == "np-ntxent":
            cmd += ["--np-block", str(self.a.np_block)]
        return cmd

    def cmd(self, tool, path):
        if tool == "infonce-ref":
            return self.infonce_cmd(path, self.a.ref_bin)
        return self.infonce_cmd(path) if tool == "infonce" else self.worker_cmd(tool, path)

    def shown(self, tool, path):
        """The command of one run, as typed from the repository root."""
        cmd = self.cmd(tool, path)
        if tool.startswith("infonce"):
            cmd = [rel(cmd[0]), cmd[1], rel(cmd[2])] + cmd[3:]
        else:
            cmd = ["python3", "scripts/bench.py"] + cmd[2:4] + [rel(cmd[4])] + cmd[5:]
        text = shlex.join(cmd)
        if tool.startswith("np-") and self.removed:
            text = "env " + " ".join(f"-u {k}" for k in BLAS_VARS) + " " + text
        return text

    def once(self, tool, path):
        env = self.np_env if tool.startswith("np-") else None
        t0, i0 = cpu_times()
        r = run_measured(self.cmd(tool, path), env)
        t1, i1 = cpu_times()
        if r.rc != 0:
            sys.exit(f"error: {tool} failed (exit {r.rc}):\n{r.stderr.strip()}")
        # Share of the machine that other processes used during the run: busy
        # jiffies of all cores less this run's own CPU time.
        # (/proc/stat counts in ticks of 10 ms: a few ticks are rounding.)
        other_ticks = (t1 - t0) - (i1 - i0) - r.cpu * os.sysconf("SC_CLK_TCK")
        res = {"wall": r.wall, "rss_kib": r.rss_kib, "cpu": r.cpu,
               "others": max(0.0, other_ticks / max(1, t1 - t0)),
               "quiet": other_ticks <= max(QUIET * (t1 - t0), 3)}
        data = json.loads(r.stdout)
        if tool.startswith("infonce"):
            res["seconds"] = r.wall
            res["loss"] = data["loss"]
        else:
            res.update(data)
        return res

    def measure(self, tools, path, reps):
        """reps runs of each tool, interleaved so that drifting load hits all alike."""
        runs = {t: [] for t in tools}
        self.loads.append(os.getloadavg()[0])
        for _ in range(reps):
            for t in tools:
                idle = wait_idle(self.a.idle_wait)
                res = self.once(t, path)
                res["started_idle"] = idle
                self.busy_starts += not idle
                self.starts += 1
                runs[t].append(res)
                progress("." if idle else "!")
        return runs


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]  # total, idle + iowait


def busy_fraction(window=0.5):
    """Share of all cores' time spent busy over the next `window` seconds."""
    try:
        t0, i0 = cpu_times()
        time.sleep(window)
        t1, i1 = cpu_times()
    except OSError:
        return 0.0
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def wait_idle(limit, threshold=0.15):
    """Waits up to `limit` seconds for other work to stop; False if it did not."""
    if limit <= 0:
        return True
    end = time.monotonic() + limit
    while True:
        if busy_fraction() <= threshold:
            return True
        if time.monotonic() >= end:
            return False
        progress("w")
        time.sleep(2)


def progress(s):
    print(s, end="", file=sys.stderr, flush=True)


def usable(runs):
    """The quiet runs when there are enough of them (at least 3, or all), else all."""
    quiet = [r for r in runs if r["quiet"]]
    return quiet if len(quiet) >= min(3, len(runs)) else runs


def median(runs, key):
    return statistics.median(r[key] for r in usable(runs))


def flag(runs):
    """A mark for figures that had to include runs disturbed by other work."""
    return "" if all(r["quiet"] for r in usable(runs)) else "*"


def mib(kib):
    return kib / 1024.0


def default_reps(rows, d):
    return 5 if rows * rows * d <= 16384 * 16384 * 256 else 3


def parse_list(text):
    return [int(x) for x in str(text).split(",") if x.strip()]


def cpu_info():
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    simd = [f for f in ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16")
            if f in flags]
    no512 = "no AVX-512" if not any(f.startswith("avx512") for f in flags) else ""
    return model, " ".join(simd) + (f" ({no512})" if no512 else ""), os.cpu_count(), mem


def version_of(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return "unavailable"


def source_of(binary):
    """The commit of the working tree, when the binary is this tree's build."""
    if not os.path.abspath(binary).startswith(ROOT + os.sep):
        return "a tree outside this repository (name it with --source)"
    return ("this working tree, now at " + version_of(["git", "describe", "--always", "--dirty"])
            + " (if the build is up to date)")


def environment(b, with_torch, with_numpy):
    a = b.a
    model, simd, cores, mem = cpu_info()
    lines = [
        f"- CPU: {model}, {cores} cores; SIMD flags: {simd}; memory {mem}",
        f"- {platform.system()} {platform.release()}; {version_of(['rustc', '--version'])}",
        f"- infonce binary: `{rel(a.bin)}` ({version_of([a.bin, '--version'])}), "
        f"built from {a.source or source_of(a.bin)}",
        f"- infonce threads: {a.threads or 'default (all cores)'}",
    ]
    if a.ref_bin:
        lines.insert(3, f"- infonce (ref) binary: `{rel(a.ref_bin)}` "
                     f"({version_of([a.ref_bin, '--version'])})")
    if with_numpy:
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", "blas-info",
                            "-", "--tau", "1"], capture_output=True, text=True, env=b.np_env)
        info = json.loads(r.stdout) if r.returncode == 0 else {}
        pools = "; ".join(
            ", ".join(f"{k}={v}" for k, v in p.items() if v is not None)
            for p in info.get("pools", []))
        lines.append(f"- Python {platform.python_version()}, numpy {info.get('numpy')}; "
                     f"BLAS ({info.get('source')}): {pools or 'unknown'}")
        if b.removed:
            shown = ", ".join(f"{k}={v}" for k, v in b.removed.items())
            lines.append(f"- {shown} was set in the environment; numpy runs had "
                         f"{' and '.join(BLAS_VARS)} unset (infonce and torch runs kept it)")
        else:
            lines.append(f"- {' and '.join(BLAS_VARS)}: not set")
        lines.append(f"- numpy NT-Xent block: {a.np_block} rows")
    if with_torch:
        v = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                           capture_output=True, text=True).stdout.strip()
        lines.append(f"- torch {v} (CPU), {a.torch_threads} threads")
    return lines


def compare(b, sizes, tools, reps_arg):
    a = b.a
    rows_out, commands, checks, raw = [], [], [], []
    bad = False
    for r, d in sizes:
        path = ensure_file(a, r, d)
        runnable = []
        for t in tools:
            need = MATRICES.get(t, 0) * r * r * 4 / 2**30
            if need > a.max_matrix_gib:
                print(f"note: {t} skipped at R={r}: it needs {need:.1f} GiB for R x R matrices "
                      f"(> --max-matrix-gib {a.max_matrix_gib})", file=sys.stderr)
            else:
                runnable.append(t)
        reps = reps_arg or default_reps(r, d)
        progress(f"R={r} d={d}, {reps} runs of {', '.join(runnable)} ")
        runs = b.measure(runnable, path, reps)
        progress("\n")
        res = {}
        for t, rs in runs.items():
            res[t] = {"seconds": median(rs, "seconds"), "rss_mib": mib(median(rs, "rss_kib")),
                      "cpu": median(rs, "cpu"), "runs": len(rs), "quiet": sum(x["quiet"] for x in rs),
                      "flag": flag(rs), "all_seconds": [x["seconds"] for x in rs],
                      "all_cpu": [x["cpu"] for x in rs],
                      "others": [round(x["others"], 3) for x in rs],
                      "started_idle": [x["started_idle"] for x in rs]}
            for k in ("cpu_seconds", "warm_seconds"):
                if k in rs[0]:
                    res[t][k] = median(rs, k)
            if "loss" in rs[0]:
                res[t]["loss"] = rs[0]["loss"]
            if "rss_after_imports_kib" in rs[0]:
                res[t]["rss_after_imports_mib"] = mib(median(rs, "rss_after_imports_kib"))
            commands.append((r, d, t, b.shown(t, path)))
        raw.append({"rows": r, "d": d, "results": res})
        if "infonce" in res:
            ref = res["infonce"]["loss"]
            for t in ("np-ntxent", "torch", "infonce-ref"):
                if t in res:
                    diff = abs(res[t]["loss"] - ref) / abs(ref)
                    ok = diff <= a.check_tol
                    bad |= not ok
                    checks.append(f"R={r} d={d}: infonce loss {ref:.9f}, {LABELS[t]} "
                                  f"{res[t]['loss']:.9f}, relative difference {diff:.1e} "
                                  f"({'ok' if ok else 'FAILS'} at {a.check_tol:g})")
        rows_out.append((r, d, res))

    warm = [t for t in tools if t in WARM]
    head = ["R", "d"]
    for t in tools:
        head += [f"{LABELS[t]} s", f"{LABELS[t]} MiB"]
        if t in warm:
            head.append(f"{LABELS[t]} warm s")
    ratios = [t for t in tools if t != "infonce"] if "infonce" in tools else []
    head += [f"{LABELS[t]} / infonce" for t in ratios]
    head += [f"{LABELS[t]} warm / infonce" for t in warm if "infonce" in tools]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r, d, res in rows_out:
        cells = [str(r), str(d)]
        for t in tools:
            if t in res:
                cells += [f"{res[t]['seconds']:.3f}{res[t]['flag']}", f"{res[t]['rss_mib']:.0f}"]
                if t in warm:
                    cells.append(f"{res[t]['warm_seconds']:.3f}")
            else:
                cells += ["skipped", "-"] + (["-"] if t in warm else [])
        for t in ratios:
            if t in res and "infonce" in res:
                cells.append(f"{res[t]['seconds'] / res['infonce']['seconds']:.2f}")
            else:
                cells.append("-")
        for t in warm if "infonce" in tools else []:
            if t in res and "infonce" in res:
                cells.append(f"{res[t]['warm_seconds'] / res['infonce']['seconds']:.2f}")
            else:
                cells.append("-")
        lines.append("| " + " | ".join(cells) + " |")
    used = ", ".join(f"{LABELS[t]} {res[t]['quiet']}/{res[t]['runs']}"
                     for r, d, res in rows_out[:1] for t in tools if t in res)
    cpu = "; ".join(f"R={r} d={d}: " + ", ".join(
        f"{LABELS[t]} {res[t].get('cpu_seconds', res[t]['cpu']):.2f}" for t in tools if t in res)
        for r, d, res in rows_out)
    notes = [
        "",
        "Seconds are medians of wall time; MiB is the median peak RSS of the process. "
        "infonce: whole process; Python baselines: from the loaded array "
        "(numpy product: the product alone), without interpreter start-up or imports. "
        f"Medians are over the quiet runs (other processes used at most {QUIET:.0%} of the "
        "cores meanwhile) when there are at least 3, else over all runs and marked *. "
        f"Quiet runs (first size): {used}.",
        "",
        "CPU seconds (user + system, median; infonce: whole process; Python: the timed "
        f"part): {cpu}.",
    ]
    imports = []
    for r, d, res in rows_out[:1]:
        for t in tools:
            if t in res and "rss_after_imports_mib" in res[t]:
                imports.append(f"{LABELS[t]} {res[t]['rss_after_imports_mib']:.0f} MiB")
    if imports:
        notes.append("Peak RSS of the Python processes right after their imports (part of "
                     "the MiB above): " + ", ".join(imports) + ".")
    if warm:
        notes += ["", "\"warm\": the same product repeated in the same process into its "
                  "already touched output, i.e. without the page faults of fresh R x R memory "
                  "(the first product pays them; on a virtual machine their cost varies a "
                  "lot from run to run)."]
    if checks:
        notes += ["", "Loss check:", ""] + [f"- {c}" for c in checks]
    notes += ["", "One run of each figure (from the repository root):", ""]
    notes += [f"- R={r} d={d} {LABELS[t]}: `{c}`" for r, d, t, c in commands]
    return lines + notes, raw, bad


def scaling(b, reps_arg):
    a = b.a
    sizes = [(r, a.scaling_d) for r in a.scaling_rows]
    sizes += [(a.scaling_r, d) for d in a.scaling_dims if (a.scaling_r, d) not in sizes]
    head = ["R", "d", "runs", "median s", "min s", "CPU s / wall s", "peak RSS MiB",
            "input MiB", "RSS - input MiB", "ns per R^2 d"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    raw, commands = [], []
    for r, d in sizes:
        path = ensure_file(a, r, d)
        reps = reps_arg or default_reps(r, d)
        progress(f"R={r} d={d}, {reps} runs of infonce ")
        rs = b.measure(["infonce"], path, reps)["infonce"]
        progress("\n")
        med = median(rs, "seconds")
        cpu = median(rs, "cpu")
        rss = mib(median(rs, "rss_kib"))
        inp = os.path.getsize(path) / 2**20  # the file: header and data
        per = med / (r * r * d) * 1e9
        runs = f"{sum(x['quiet'] for x in rs)}/{len(rs)}"
        lines.append(f"| {r} | {d} | {runs} | {med:.3f}{flag(rs)} "
                     f"| {min(x['seconds'] for x in rs):.3f} "
                     f"| {cpu / med:.2f} | {rss:.0f} | {inp:.0f} | {rss - inp:.0f} | {per:.4f} |")
        raw.append({"rows": r, "d": d, "seconds": [x["seconds"] for x in rs],
                    "cpu": [x["cpu"] for x in rs], "rss_kib": [x["rss_kib"] for x in rs],
                    "others": [round(x["others"], 3) for x in rs],
                    "started_idle": [x["started_idle"] for x in rs]})
        commands.append((r, d, b.shown("infonce", path)))
        if rss > 1024:
            print(f"note: R={r} d={d} peaked at {rss:.0f} MiB (over 1 GiB)", file=sys.stderr)
    notes = ["", "runs = quiet runs / runs made (medians are over the quiet runs, "
             f"those during which other processes used at most {QUIET:.0%} of the cores, when "
             "there are at least 3; else over all, marked *).",
             "ns per R^2 d = median seconds / (R * R * d) * 1e9 (flat when the cost "
             "goes as R^2 d); CPU s / wall s is user + system time over wall time "
             "(2 = both cores busy throughout).", "",
             "One run of each row (from the repository root):", ""]
    notes += [f"- R={r} d={d}: `{c}`" for r, d, c in commands]
    return lines + notes, raw


def ensure_file(a, r, d):
    import make_embeddings

    path = make_embeddings.ensure(r, d, a.seed, a.data, dtype=a.dtype)
    with open(path, "rb") as f:  # into the page cache before timing
        while f.read(1 << 24):
            pass
    return path


def main():
    p = argparse.ArgumentParser(
        description="Times infonce against numpy and PyTorch baselines.",
        epilog="See the top of this file for what each tool measures.")
    p.add_argument("--sizes", default="8192,16384", help="comma-separated R (rows) values")
    p.add_argument("--d", default="256", help="comma-separated dimensions")
    p.add_argument("--reps", type=int, default=0,
                   help="runs per tool and size (default: 5, or 3 above R^2 d = 16384^2 * 256)")
    p.add_argument("--tools", default=",".join(TOOLS),
                   help=f"comma-separated, of {', '.join(TOOLS + EXTRA_TOOLS)}")
    p.add_argument("--tau", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                   help="element type of the embedding files (the Python "
                        "baselines convert float16 to float32 after loading)")
    p.add_argument("--data", default=os.path.join(ROOT, "bench-data"),
                   help="folder of the embedding files (default: bench-data/)")
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "infonce"),
                   help="infonce binary (default: target/release/infonce)")
    p.add_argument("--source", help="what the binary was built from, for --markdown "
                   "(default: this working tree's commit)")
    p.add_argument("--ref-bin", help="a second infonce binary (say, a build of the previous "
                   "commit), timed as the tool infonce-ref in the same run, interleaved")
    p.add_argument("--threads", type=int, default=0, help="infonce --threads (default: not given)")
    p.add_argument("--torch-threads", type=int, default=2)
    p.add_argument("--np-block", type=int, default=512, help="rows per block of np-ntxent")
    p.add_argument("--max-matrix-gib", type=float, default=8.0,
                   help="skip baselines whose R x R matrices need more than this")
    p.add_argument("--check-tol", type=float, default=1e-5,
                   help="largest relative loss difference to infonce accepted")
    p.add_argument("--scaling", action="store_true", help="infonce alone over R and d")
    p.add_argument("--scaling-rows", type=parse_list, default=[4096, 8192, 16384, 32768, 65536])
    p.add_argument("--scaling-d", type=int, default=256, help="d of the R sweep")
    p.add_argument("--scaling-dims", type=parse_list, default=[64, 128, 256, 512, 1024])
    p.add_argument("--scaling-r", type=int, default=16384, help="R of the d sweep")
    p.add_argument("--idle-wait", type=float, default=60,
                   help="before each run, wait up to this many seconds for the cores to be "
                   "idle (other work under 15%%); 0: do not wait (default: 60)")
    p.add_argument("--markdown", action="store_true",
                   help="also print the machine, the software and the command, for docs")
    p.add_argument("--json", metavar="FILE", help="also write every run's figures here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("file", nargs="?", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a)

    a.bin = os.path.abspath(a.bin)
    a.data = os.path.abspath(a.data)
    a.ref_bin = a.ref_bin and os.path.abspath(a.ref_bin)
    b = Bench(a)
    if not os.path.exists(a.bin):
        sys.exit(f"error: {a.bin} not found; build it with `cargo build --release`")
    command = shlex.join(["python3", "scripts/bench.py"] + sys.argv[1:])
    if a.scaling:
        body, raw = scaling(b, a.reps)
        bad = False
        tools = ["infonce"]
    else:
        tools = [t for t in a.tools.split(",") if t]
        for t in tools:
            if t not in TOOLS + EXTRA_TOOLS:
                sys.exit(f"error: unknown tool {t!r}")
        if a.ref_bin and "infonce-ref" not in tools:
            tools.insert(1, "infonce-ref")
        if "infonce-ref" in tools and not (a.ref_bin and os.path.exists(a.ref_bin)):
            sys.exit("error: infonce-ref needs --ref-bin naming an existing binary")
        if "torch" in tools and not torch_available():
            print("note: torch is not importable; its column is left out", file=sys.stderr)
            tools.remove("torch")
        sizes = [(r, d) for r in parse_list(a.sizes) for d in parse_list(a.d)]
        body, raw, bad = compare(b, sizes, tools, a.reps)

    out = []
    if a.markdown:
        out += [f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with",
                "", f"    {command}", ""]
        out += environment(b, "torch" in tools, any(t.startswith("np-") for t in tools))
        out.append("")
    out += body
    out += ["", "1-minute load average before each size: "
            + ", ".join(f"{x:.2f}" for x in b.loads)
            + f" (the machine has {os.cpu_count()} cores)."]
    if a.idle_wait > 0:
        out.append(f"Runs started with other work keeping the cores over 15% busy (after waiting "
                   f"up to {a.idle_wait:g} s for it to stop): {b.busy_starts} of {b.starts}.")
    print("\n".join(out))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"command": command, "results": raw}, f, indent=1)
    if bad:
        sys.exit("error: a baseline's loss differs from infonce's by more than --check-tol")


if __name__ == "__main__":
    main()
