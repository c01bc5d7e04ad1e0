#!/usr/bin/env python3
"""A seeded hostile campaign against the `infonce` binary, from outside.

Each run writes generated (and often deliberately broken) input files into a
fresh temporary folder, runs the binary there with a time and memory limit,
and checks the properties every run must have:

- it ends with exit code 0, 1 or 2: never a panic (101) or a signal;
- on failure, exactly one line on standard error (clap's own usage messages,
  exit 2 with a `Usage:` line, excepted), nothing on standard output, and no
  `-o` file created or changed;
- on success, every loss finite and >= 0, the mean equal to the mean of the
  records, every listed term's p in [0, 1] and the terms of a record summing
  to 1 with the positive's p equal to `p_positive`; where the input is known,
  every loss equal to a float64 numpy reference; the same JSON with
  `--threads 1` and `--threads 2` (and any tile size), and the same values in
  JSON and CSV;
- no run longer than a few seconds or larger than a few hundred MB.

Categories: npy (structured header and data mutations), text (CSV, TSV and
whitespace tables, harmless variants that must give the reference's answer and
hostile ones), container (.npz, .safetensors, Parquet, and the formats the
tool refuses), flags (every flag at its edges on valid data), layout (pairs,
keys, two view files, standard input), output (-o onto folders, links, FIFOs,
inputs), explain.

    python3 scripts/hostile.py --bin target/release/infonce --runs 2000 --seed 1

It prints one line per finding (category, what failed, the command and the
folder kept with its files) and a summary line. Needs numpy, pyarrow,
safetensors and h5py.
"""
import argparse
import io
import json
import math
import os
import random
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

import numpy as np

TIME_LIMIT = 20.0  # seconds before a run is killed
SLOW = 5.0  # a tiny input taking longer than this is a finding
MEM_LIMIT = 4_000_000_000  # address space, bytes
BIG_RSS_KIB = 400 * 1024  # a tiny input using more than this is a finding


# ---------------------------------------------------------------- running


def run_binary(binary, args, cwd, stdin_bytes=None, stdin_file=None):
    """Run with limits; return (rc, stdout, stderr, seconds, maxrss_kib, signal)."""

    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))
        os.setsid()

    stdin = subprocess.DEVNULL
    fh = None
    if stdin_file is not None:
        fh = open(stdin_file, "rb")
        stdin = fh
    elif stdin_bytes is not None:
        stdin = subprocess.PIPE
    t0 = time.monotonic()
    p = subprocess.Popen(
        [binary, *args],
        cwd=cwd,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=limits,
    )
    out, err = [], []

    def pump(src, dst):
        dst.append(src.read())

    threads = [
        threading.Thread(target=pump, args=(p.stdout, out)),
        threading.Thread(target=pump, args=(p.stderr, err)),
    ]
    for t in threads:
        t.start()
    if stdin_bytes is not None:

        def feed():
            try:
                p.stdin.write(stdin_bytes)
            except (BrokenPipeError, OSError):
                pass
            try:
                p.stdin.close()
            except OSError:
                pass

        threading.Thread(target=feed, daemon=True).start()
    status, rusage = None, None
    while True:
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            status, rusage = st, ru
            break
        if time.monotonic() - t0 > TIME_LIMIT:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            pid, st, ru = os.wait4(p.pid, 0)
            status, rusage = st, ru
            break
        time.sleep(0.002)
    secs = time.monotonic() - t0
    p.returncode = 0  # reaped above
    for t in threads:
        t.join()
    if fh:
        fh.close()
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    return rc, out[0], err[0], secs, rusage.ru_maxrss, sig


# ---------------------------------------------------------------- reference


def reference(emb, layout="two-view", sim="cosine", tau=0.1, pairs=None, keys=None, symmetric=False):
    """Per-record (anchor, positive, loss) in float64, as docs/math.md defines them."""
    z = np.asarray(emb, dtype=np.float64)

    def norm(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True) if sim == "cosine" else x

    def lse(v):
        m = v.max()
        return m + math.log(np.exp(v - m).sum())

    recs = []
    if layout in ("two-view", "pairs"):
        zn = norm(z)
        s = zn @ zn.T
        r = len(z)
        if layout == "two-view":
            prs = [(i, (i + r // 2) % r) for i in range(r)]
        else:
            prs = [tuple(p) for p in pairs]
            if symmetric:
                prs = prs + [(b, a) for a, b in prs]
        for a, p in prs:
            logits = np.delete(s[a], a) / tau
            recs.append((a, p, lse(logits) - s[a, p] / tau))
    else:
        q, k = norm(z), norm(np.asarray(keys, dtype=np.float64))
        s = q @ k.T
        for i in range(len(q)):
            recs.append((i, i, lse(s[i] / tau) - s[i, i] / tau))
        if symmetric:
            for i in range(len(k)):
                recs.append((i, i, lse(s[:, i] / tau) - s[i, i] / tau))
    return recs


# ---------------------------------------------------------------- writers


def npy_bytes(a, version=(1, 0), header=None, dtype=None):
    a = np.asarray(a)
    if header is None:
        descr = dtype or a.dtype.str
        header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, repr(tuple(a.shape)))
    hb = header.encode("latin1") if isinstance(header, str) else header
    pre = 10 if version[0] == 1 else 12
    pad = (64 - (pre + len(hb) + 1) % 64) % 64
    hb = hb + b" " * pad + b"\n"
    if version[0] == 1:
        head = b"\x93NUMPY" + bytes(version) + struct.pack("<H", len(hb))
    else:
        head = b"\x93NUMPY" + bytes(version) + struct.pack("<I", len(hb))
    return head + hb + a.tobytes()


def fmt_num(x, style):
    if style == "g":
        return repr(float(x))
    if style == "e18":
        return "%.18e" % x
    if style == "f":
        return "%.10f" % x
    if style == "E":
        return ("%.17E" % x)
    return repr(float(x))


def text_table(z, sep=",", style="g", header=None, index=False, bom=False, crlf=False,
               comment=False, quote=False, pad=False):
    lines = []
    if comment:
        lines.append("# made by numpy.savetxt")
    if header == "pandas":
        cols = [str(i) for i in range(z.shape[1])]
        lines.append(sep.join(([""] if index else []) + cols))
    elif header == "names":
        cols = ["emb_%d" % i for i in range(z.shape[1])]
        lines.append(sep.join(([""] if index else []) + cols))
    for i, row in enumerate(z):
        cells = [fmt_num(x, style) for x in row]
        if quote:
            cells = ['"%s"' % c for c in cells]
        if pad:
            cells = [" %s " % c for c in cells]
        if index:
            cells = [str(i)] + cells
        lines.append(sep.join(cells))
        if comment and i == 1:
            lines.append("")
            lines.append("  # a comment inside")
    nl = "\r\n" if crlf else "\n"
    s = nl.join(lines) + nl
    b = s.encode()
    if bom:
        b = b"\xef\xbb\xbf" + b
    return b


# ---------------------------------------------------------------- checks


class Finding(Exception):
    pass


def parse_json(out):
    try:
        return json.loads(out)
    except Exception as e:
        raise Finding("stdout is not JSON: %s" % e)


def check_basic(rc, out, err, secs, rss, sig, out_file_before=None, out_file=None, usage_ok=True):
    if sig is not None:
        raise Finding("killed by signal %d%s" % (sig, " (time limit)" if secs >= TIME_LIMIT else ""))
    if rc not in (0, 1, 2):
        raise Finding("exit code %s" % rc)
    if secs > SLOW:
        raise Finding("slow: %.1f s" % secs)
    if rss > BIG_RSS_KIB:
        raise Finding("memory: %d MiB" % (rss // 1024))
    e = err.decode("utf-8", "replace")
    if rc != 0:
        lines = e.splitlines()
        clap = rc == 2 and ("Usage:" in e or "For more information" in e)
        if not clap and len(lines) != 1:
            # warnings may come before a failure line
            nonwarn = [l for l in lines if not l.startswith("warning: ")]
            if len(nonwarn) != 1:
                raise Finding("failure with %d stderr lines: %r" % (len(lines), e[:300]))
        if not clap and not [l for l in lines if l.startswith("error: ")]:
            raise Finding("failure without 'error:' line: %r" % e[:200])
        if out:
            raise Finding("failure wrote %d bytes to stdout" % len(out))
        if out_file is not None:
            now = snapshot(out_file)
            if now != out_file_before:
                raise Finding("failure changed the -o file: %r -> %r" % (out_file_before, now))
    else:
        for l in e.splitlines():
            if not l.startswith("warning: "):
                raise Finding("success with a stderr line that is not a warning: %r" % l[:200])
        if "panicked" in e:
            raise Finding("panic text on stderr")


def snapshot(path):
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            return ("file", st.st_ino, f.read())
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    return ("other", stat.S_IFMT(st.st_mode), st.st_ino)


def finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_report(doc, expect=None, tol_logit=1e-9, terms=False, anchors_sel=None):
    """Properties of a JSON report; expect: reference records [(a, p, loss)]."""
    if not finite(doc.get("loss")) or doc["loss"] < 0:
        raise Finding("mean loss %r" % doc.get("loss"))
    tau = doc["tau"]
    recs = doc.get("anchors")
    if recs is None:
        return
    losses = []
    for r in recs:
        for k in ("loss", "sim", "logit", "log_denominator", "p_positive"):
            if not finite(r.get(k)):
                raise Finding("record %s: %s = %r" % (r.get("anchor"), k, r.get(k)))
        if r["loss"] < 0:
            raise Finding("record %s: negative loss %r" % (r["anchor"], r["loss"]))
        if not 0 <= r["p_positive"] <= 1:
            raise Finding("record %s: p_positive %r" % (r["anchor"], r["p_positive"]))
        if r["log_denominator"] < r["logit"] - 1e-12 * abs(r["logit"]):
            raise Finding("record %s: log_denominator below the positive's logit" % r["anchor"])
        if not 1 <= r["rank"] <= doc["n_candidates"]:
            raise Finding("record %s: rank %r" % (r["anchor"], r["rank"]))
        losses.append(r["loss"])
        if terms:
            ts = r.get("terms")
            if ts is None or len(ts) != doc["n_candidates"]:
                raise Finding("record %s: %s terms, n_candidates %s" % (r["anchor"], None if ts is None else len(ts), doc["n_candidates"]))
            ps = [t["p"] for t in ts]
            if any((not finite(p)) or p < 0 or p > 1 for p in ps):
                raise Finding("record %s: a term's p outside [0, 1]: %r" % (r["anchor"], [p for p in ps if not finite(p) or p < 0 or p > 1][:3]))
            if abs(sum(ps) - 1) > 1e-6:
                raise Finding("record %s: terms sum to %r" % (r["anchor"], sum(ps)))
            pos = [t for t in ts if t["index"] == r["positive"]]
            if len(pos) != 1:
                raise Finding("record %s: positive listed %d times among terms" % (r["anchor"], len(pos)))
            # p_positive comes from the pass, the terms' p from their own
            # log-sum-exp: they agree within the rounding of the logits,
            # (d + 2) ulps of the largest (math.md), which passes 1 at a
            # tau such as 1e-100.
            big = max(abs(r["logit"]), abs(r["log_denominator"]))
            slack = 1e-6 + 8 * (doc["dimension"] + 2) * 2.2e-16 * big
            if doc.get("precision") == "f32":
                # a loss within 0.02 (float32 products: math.md) is a p within 2%
                slack += 0.03 * r["p_positive"]
            if abs(pos[0]["p"] - r["p_positive"]) > slack:
                raise Finding("record %s: positive term p %r vs p_positive %r" % (r["anchor"], pos[0]["p"], r["p_positive"]))
    if anchors_sel is None and recs and doc["n_anchors"] == len(recs):
        if doc.get("layout") == "keys" and doc.get("symmetric"):
            m = np.mean(losses)
        else:
            m = math.fsum(losses) / len(losses)
        if abs(m - doc["loss"]) > 1e-9 * max(1, abs(m)):
            raise Finding("mean %r but records' mean %r" % (doc["loss"], m))
    if expect is not None:
        if anchors_sel is None and len(expect) != len(recs):
            raise Finding("%d records, reference %d" % (len(recs), len(expect)))
        byk = {}
        for a, p, l in expect:
            byk.setdefault((a, p), []).append(l)
        for r in recs:
            key = (r["anchor"], r["positive"])
            if key not in byk:
                raise Finding("record (%s, %s) not in the reference" % key)
            ref = byk[key]
            scale = max(1.0, abs(r["logit"]), abs(r["log_denominator"]))
            if tol_logit > 1e-6:
                # float32 products: an absolute bound on each logit (math.md)
                tol = 2 * tol_logit + 1e-9 * scale
            else:
                tol = tol_logit * 2 * scale + 1e-9 * scale
            if min(abs(l - r["loss"]) for l in ref) > tol:
                raise Finding("record %s->%s: loss %r, reference %r (tol %g)" % (r["anchor"], r["positive"], r["loss"], ref[0], tol))


def csv_losses(out):
    lines = out.decode().splitlines()
    head = lines[0].split(",")
    i = head.index("loss")
    return [float(l.split(",")[i]) for l in lines[1:]]


# ---------------------------------------------------------------- generators


def rand_matrix(rng, r=None, d=None, kind=None):
    r = r or rng.choice([2, 4, 6, 8, 10])
    d = d or rng.choice([1, 2, 3, 4, 8])
    kind = kind or rng.choice(["normal", "normal", "unit", "ints", "tiny", "big", "dup"])
    g = np.random.default_rng(rng.randrange(1 << 30))
    z = g.standard_normal((r, d))
    if kind == "unit":
        z /= np.linalg.norm(z, axis=1, keepdims=True)
    elif kind == "ints":
        z = g.integers(-3, 4, (r, d)).astype(float)
        z[np.all(z == 0, axis=1), 0] = 1
    elif kind == "tiny":
        z *= 1e-30
    elif kind == "big":
        z *= 1e30
    elif kind == "dup":
        z[1:] = z[0]
        if r > 2:
            z[1] = np.nextafter(z[0], 1)
    return z


TAUS = ["0.1", "1", "0.07", "0.01", "1e-5", "1e-20", "1e-100", "1e-300", "1e-301", "1e-320",
        "5e-324", "0", "-0", "-0.07", "nan", "NaN", "inf", "-inf", "1e300", "1e308", "1.8e308",
        "10", "100", "abc", "", "0x10", "1e", "+0.1", ".1", "1_0", " 0.1", "0.1 "]
TAUS_OK = ["0.1", "1", "0.07", "0.01", "1e-5", "1e-9", "1e-20", "1e-100", "1e-200", "1e-300", "3e-300",
           "1e300", "5", "10", "100", "1e-3", "0.5"]


class Ctx:
    def __init__(self, binary, seed, keep):
        self.binary = binary
        self.keep = keep
        self.findings = []
        self.counts = {}
        self.outcomes = {}
        self.errors = 0
        self.last = ""

    def record(self, cat, rc):
        self.counts[cat] = self.counts.get(cat, 0) + 1
        self.outcomes.setdefault(cat, {}).setdefault(rc, 0)
        self.outcomes[cat][rc] += 1


def R(ctx, cat, d, args, stdin_bytes=None, stdin_file=None, out_file=None, **kw):
    """Run, check the basic properties, return (rc, out, err)."""
    before = snapshot(os.path.join(d, out_file)) if out_file else None
    ctx.last = " ".join(args) + (" < (stdin)" if stdin_bytes is not None else "")
    rc, out, err, secs, rss, sig = run_binary(ctx.binary, args, d, stdin_bytes, stdin_file)
    ctx.record(cat, rc if sig is None else "sig%d" % sig)
    check_basic(rc, out, err, secs, rss, sig, before, os.path.join(d, out_file) if out_file else None)
    return rc, out, err


def json_run(ctx, cat, d, args, expect=None, tol=1e-9, stdin_bytes=None, invariance=True):
    ctx.tol = tol
    """Run in JSON (and CSV, and other threads) and check the report."""
    terms = "--terms" in args
    rc, out, err = R(ctx, cat, d, args + ["--format", "json"], stdin_bytes=stdin_bytes)
    if rc != 0:
        return rc, None
    doc = parse_json(out)
    sel = None
    if "--anchor" in args:
        sel = args[args.index("--anchor") + 1]
    check_report(doc, expect, tol, terms, sel)
    if invariance and stdin_bytes is None:
        base = list(args)
        if "--threads" in base:
            j = base.index("--threads")
            del base[j : j + 2]
        rc2, out2, _ = R(ctx, cat, d, base + ["--format", "json", "--threads", "1"])
        rc3, out3, _ = R(ctx, cat, d, base + ["--format", "json", "--threads", "2"])
        if not (rc2 == rc3 == 0 and out2 == out == out3):
            a, b = (out, out2) if out != out2 else (out, out3)
            k = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), 0)
            raise Finding("output differs across --threads (rc %s %s): %r vs %r" % (rc2, rc3, a[max(0, k - 40) : k + 40], b[max(0, k - 40) : k + 40]))
        # another tile size sums in another order: the same values but for rounding
        rc5, out5, _ = R(ctx, cat, d, base + ["--format", "json", "--block", str(random.choice([1, 2, 3, 7, 64]))])
        if rc5 != 0:
            raise Finding("exit %s with --block" % rc5)
        doc5 = parse_json(out5)
        for x, y in zip(doc.get("anchors") or [], doc5.get("anchors") or []):
            if abs(x["loss"] - y["loss"]) > 2 * max(ctx.tol, 1e-9) * max(1.0, abs(x["logit"]), abs(x["log_denominator"])):
                raise Finding("record %s: loss %r, with --block %r" % (x["anchor"], x["loss"], y["loss"]))
        if not terms and "--summary" not in args:
            rc4, out4, _ = R(ctx, cat, d, base + ["--format", "csv"])
            if rc4 != 0:
                raise Finding("JSON ok but CSV exit %s" % rc4)
            cl = csv_losses(out4)
            jl = [r["loss"] for r in doc["anchors"]]
            if cl != jl:
                raise Finding("CSV losses differ from JSON")
            rc6, out6, _ = R(ctx, cat, d, base + ["--format", "ndjson"])
            lines = [json.loads(l) for l in out6.decode().splitlines()]
            recs = [l for l in lines if l.get("type") == "record"]
            tot = [l for l in lines if l.get("type") == "totals"]
            if rc6 != 0 or len(tot) != 1 or lines[-1] is not tot[0]:
                raise Finding("NDJSON: exit %s, %d totals lines" % (rc6, len(tot)))
            if [r["loss"] for r in recs] != jl or tot[0]["loss"] != doc["loss"]:
                raise Finding("NDJSON values differ from JSON")
    return rc, doc


# ---------------------------------------------------------------- categories


def cat_npy(ctx, rng, d):
    z = rand_matrix(rng, kind=rng.choice(["normal", "unit", "ints"]))
    dt = rng.choice(["<f8", "<f4", "<f2", ">f8", ">f4", ">f2"])
    a = z.astype(np.dtype(dt))
    m = rng.randrange(22)
    shape = repr(tuple(a.shape))
    hdr = None
    data = a.tobytes()
    version = rng.choice([(1, 0), (2, 0), (3, 0)])
    expect = True
    if m == 0:
        hdr = "{'descr': '%s', 'fortran_order': True, 'shape': %s, }" % (dt, shape)
        data = np.asfortranarray(a).tobytes(order="F")
    elif m == 1:
        hdr = "{'shape': %s, 'fortran_order': False, 'descr': '%s'}" % (shape, dt)
    elif m == 2:
        hdr = '{"descr": "%s", "fortran_order": False, "shape": %s}' % (dt, shape)
    elif m == 3:
        hdr = "{'descr':'%s','fortran_order':False,'shape':(%d,%d,),}" % (dt, a.shape[0], a.shape[1])
    elif m == 4:
        expect = False
        hdr = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (dt, rng.choice(["0", "1", "false", "None", "'False'", "Fals"]), shape)
    elif m == 5:
        expect = False
        hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (
            rng.choice(["<f16", "<V8", "<U1", "|b1", "<i8", "<u2", "<c8", "|O", "<f4 ", "f8", "=f8", "|f8", "<d", "float64", "<M8[s]", "[('a', '<f4')]"]), shape)
    elif m == 6:
        expect = False
        s = rng.choice(["()", "(%d,)" % a.size, "(%d, %d, 1)" % a.shape, "(1, %d, %d)" % a.shape,
                        "(%d, %d)" % (a.shape[0] + 1, a.shape[1]), "(%d, %d)" % (a.shape[0] - 1, a.shape[1]),
                        "(-%d, %d)" % a.shape, "(%d, 0)" % a.shape[0], "(0, %d)" % a.shape[1],
                        "(18446744073709551616, 1)", "(4294967296, 4294967296)", "(%d, %d" % a.shape,
                        "[%d, %d]" % a.shape, "(%dL, %dL)" % a.shape, "(%d., %d)" % a.shape, "(0x%x, %d)" % a.shape])
        hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dt, s)
    elif m == 7:
        expect = False
        hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, 'extra': 1}" % (dt, shape)
    elif m == 8:
        expect = False
        hdr = "{'descr': '%s', 'shape': %s}" % (dt, shape)
    elif m == 9:
        expect = False
        data = data[: rng.randrange(len(data))]
    elif m == 10:
        expect = False
        data = data + bytes(rng.randrange(1, 9))
    elif m == 11:
        # special values
        expect = False
        flat = a.reshape(-1).copy()
        flat[rng.randrange(flat.size)] = rng.choice([np.nan, np.inf, -np.inf, 0.0, 1e-45, 6e-8, 65504.0, -0.0])
        data = flat.tobytes()
    elif m == 12:
        expect = False
        raw = bytearray(npy_bytes(a, version))
        for _ in range(rng.randrange(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        (Path := os.path.join(d, "e.npy"))
        open(Path, "wb").write(bytes(raw))
        json_run(ctx, "npy", d, ["compute", "e.npy"] + rng.choice([[], ["--sim", "dot"], ["--terms"]]), invariance=False)
        return
    elif m == 13:
        expect = False
        raw = bytearray(npy_bytes(a, version))
        hl = 8 if version[0] == 1 else 8
        fld = struct.unpack_from("<H", raw, 8)[0] if version[0] == 1 else struct.unpack_from("<I", raw, 8)[0]
        delta = rng.choice([-2, -1, 1, 2, 64, -64, 1000])
        nf = max(0, fld + delta)
        if version[0] == 1:
            struct.pack_into("<H", raw, 8, min(nf, 65535))
        else:
            struct.pack_into("<I", raw, 8, nf)
        open(os.path.join(d, "e.npy"), "wb").write(bytes(raw))
        json_run(ctx, "npy", d, ["compute", "e.npy"], invariance=False)
        return
    elif m == 14:
        expect = False
        version = rng.choice([(0, 0), (4, 0), (1, 1), (2, 5), (255, 255)])
    elif m == 15:
        expect = False
        hdr = ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dt, shape)).encode() + rng.choice(
            [b"\x00", b"\xe9", b"\xff", "\u00e9".encode(), b"\n\n", b"#", b"\t"])
    elif m == 16:
        expect = False
        hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dt, shape) + " " * rng.choice([65400, 70000])
        if version[0] == 1:
            version = (2, 0)
    elif m == 17:
        # many rows of one element: degenerate shapes
        z = rand_matrix(rng, r=rng.choice([2, 4, 200]), d=1)
        a = z.astype(np.dtype(dt))
        data = a.tobytes()
        shape = repr(tuple(a.shape))
    elif m == 18:
        expect = False
        hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dt.replace("f", "i"), shape)
        data = (z * 3).astype(np.dtype(dt.replace("f", "i"))).tobytes()
    elif m == 19:
        expect = False
        hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, } " % (dt, shape) + "{}"
    # m >= 20: unchanged
    raw = npy_bytes(a, version, hdr) if hdr is not None else npy_bytes(a, version)
    if hdr is None:
        raw = raw[: len(raw) - len(a.tobytes())] + data
    else:
        raw = raw[: len(raw) - len(a.tobytes())] + data
    path = os.path.join(d, "e.npy")
    open(path, "wb").write(raw)
    flags = rng.choice([[], ["--sim", "dot"], ["--terms"], ["--precision", "f64"], ["--tau", "1e-6"]])
    tau = float(flags[1]) if flags[:1] == ["--tau"] else 0.1
    sim = "dot" if "dot" in flags else "cosine"
    ref = None
    if expect and a.shape[0] % 2 == 0:
        zz = a.astype(np.float64)
        if sim == "dot" or np.all(np.linalg.norm(zz, axis=1) > 0):
            ref = reference(zz, sim=sim, tau=tau)
    tol = 1e-9 if (dt.endswith("8") or "--precision" in flags) else 0.02
    viastdin = rng.random() < 0.2
    if viastdin:
        json_run(ctx, "npy", d, ["compute", "-"] + flags, ref, tol, stdin_bytes=raw)
    else:
        json_run(ctx, "npy", d, ["compute", "e.npy"] + flags, ref, tol)


def cat_text(ctx, rng, d):
    z = rand_matrix(rng, kind=rng.choice(["normal", "unit", "ints"]))
    z = np.round(z, rng.choice([3, 6, 17]))
    z[np.all(z == 0, axis=1), 0] = 0.5
    harmless = rng.random() < 0.5
    name = rng.choice(["e.csv", "e.tsv", "e.txt", "e", "e.CSV", "e.npy.csv"])
    sep = {"e.tsv": "\t"}.get(name, rng.choice([",", "\t", " "]))
    opts = dict(sep=sep, style=rng.choice(["g", "e18", "f", "E"]))
    extra = []
    if harmless:
        for k in ("bom", "crlf", "comment", "quote", "pad"):
            opts[k] = rng.random() < 0.3
        if sep == " ":
            opts["quote"] = False
            opts["pad"] = False
        if opts["style"] == "f":
            opts["style"] = "g"
        h = rng.choice([None, None, "pandas", "names", "pandas_index"])
        if h == "pandas_index":
            opts["header"], opts["index"] = "pandas", True
        else:
            opts["header"] = h
        if h == "pandas" and z.shape[1] < 3:
            opts["header"] = "names"
        raw = text_table(z, **opts)
        if opts["header"] == "names" and rng.random() < 0.5 and not opts.get("index"):
            extra = ["--columns", rng.choice(["emb_0:emb_%d" % (z.shape[1] - 1), "1:", ":%d" % z.shape[1]])]
        ref = reference(z, tau=0.1) if len(z) % 2 == 0 else None
        open(os.path.join(d, name), "wb").write(raw)
        json_run(ctx, "text", d, ["compute", name] + extra, ref, 1e-9)
        return
    # hostile
    raw = bytearray(text_table(z, **opts))
    m = rng.randrange(24)
    lines = raw.split(b"\n")
    cell = rng.choice([b"nan", b"NaN", b"inf", b"-inf", b"Infinity", b"1e309", b"-1e309", b"1e-400", b"0x10",
                       b"1_0", b"1,5", "\u22121".encode(), "\uff11".encode(), b"1e", b"+", b"-", b".", b"e5",
                       b"", b" ", b'"1"', b'"1', b'1"', b'""', b"1.0.0", b"--1", b"+-1", b"1e+", b"infinity",
                       b"9" * 400, b"0." + b"0" * 400 + b"1", b"1e99999999999", b"\x00", b"\xff", b"\xe2\x80",
                       b"TRUE", b"None", b"1d5", b"1f", b"1.5f", b"5e-324", b"2.5e-308", b"1.7976931348623157e308",
                       b"1.7976931348623159e308"])
    li = rng.randrange(max(1, len(lines) - 1))
    if m < 8:
        cells = lines[li].split(sep.encode()) if sep != " " else lines[li].split(b" ")
        cells[rng.randrange(len(cells))] = cell
        lines[li] = (sep.encode() if sep != " " else b" ").join(cells)
    elif m == 8:
        lines[li] = lines[li].replace(sep.encode(), rng.choice([b";", b"|", b",\t", b"\t", b",", b" , ", b",,"]), 1)
    elif m == 9:
        lines.insert(li, rng.choice([b"a,b,c", b"0,1,2", b",0,1", b"#", b"   ", b"\r", b"\x0c", b"\x1a", b"\"", b"id,x", b"\xef\xbb\xbf1,2"]))
    elif m == 10:
        lines = [lines[0]] * rng.choice([1, 3])
    elif m == 11:
        raw2 = bytes(raw).replace(b"\n", rng.choice([b"\r", b"\n\r", b"\r\r\n", b"\x85", "\u2028".encode()]))
        lines = raw2.split(b"\n")
    elif m == 12:
        lines[li] = lines[li] + rng.choice([b",", b" ", b"\t", b",#c", b" # c", b'"', b"\\"])
    elif m == 13:
        lines = [b"\xff\xfe" + bytes(raw).decode().encode("utf-16-le")]
    elif m == 14:
        lines[li] = lines[li] * rng.choice([2, 50, 1000])
    elif m == 15:
        lines = [bytes(raw[: rng.randrange(len(raw))])]
    elif m == 16:
        lines.insert(li, b",".join([b"0.5"] * 200000))
    elif m == 17:
        lines[li] = b'"' + lines[li] + b'"'
    elif m == 18:
        for _ in range(rng.randrange(1, 5)):
            j = rng.randrange(len(raw))
            raw[j] = rng.randrange(256)
        lines = raw.split(b"\n")
    elif m == 19:
        lines = [b"", b"", b"#only comments", b""]
    elif m == 20:
        lines = [l.replace(b"e", b"E").replace(b".", b",") for l in lines]
    elif m == 21:
        lines[li] = lines[li].replace(b".", b"\xc2\xb7", 1)
    else:
        lines[li] = b" \t " + lines[li] + b" \t "
    body = b"\n".join(lines)
    open(os.path.join(d, name), "wb").write(body)
    if rng.random() < 0.15:
        json_run(ctx, "text", d, ["compute", "-"], None, stdin_bytes=body)
    else:
        json_run(ctx, "text", d, ["compute", name] + rng.choice([[], ["--terms"], ["--columns", "2:"], ["--sim", "dot"]]))


def cat_container(ctx, rng, d):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from safetensors.numpy import save as st_save

    z = rand_matrix(rng, kind=rng.choice(["normal", "unit"]))
    m = rng.randrange(20)
    ref = reference(z) if len(z) % 2 == 0 else None
    args = None
    tol = 1e-9
    if m < 4:
        # npz
        dt = rng.choice([np.float64, np.float32, np.float16])
        arrs = {"emb": z.astype(dt)}
        tol = 1e-9 if dt == np.float64 else 0.05
        if rng.random() < 0.5:
            arrs["pairs"] = np.array([[0, 1]])
            nm = rng.choice(["emb", "emb.npy", "pairs", "nope", "", "emb:x", "EMB"])
            target = "e.npz:" + nm
        else:
            target = "e.npz"
        buf = io.BytesIO()
        (np.savez_compressed if rng.random() < 0.5 else np.savez)(buf, **arrs)
        raw = bytearray(buf.getvalue())
        if m == 3:
            for _ in range(rng.randrange(1, 4)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            ref = None
        open(os.path.join(d, "e.npz"), "wb").write(bytes(raw))
        if target.endswith(":pairs") or target.endswith(":nope") or target.endswith(":") or ":emb:" in target or target.endswith("EMB"):
            ref = None
        args = ["compute", target]
    elif m == 4:
        # npz with odd members: nested name, object array (pickle), non-npy member
        with zipfile.ZipFile(os.path.join(d, "e.npz"), "w") as zf:
            kind = rng.randrange(4)
            if kind == 0:
                zf.writestr("sub/emb.npy", npy_bytes(z))
                args = ["compute", rng.choice(["e.npz", "e.npz:sub/emb", "e.npz:emb"])]
            elif kind == 1:
                b = io.BytesIO()
                np.save(b, np.array([1, "a", None], dtype=object), allow_pickle=True)
                zf.writestr("emb.npy", b.getvalue())
                args = ["compute", "e.npz"]
            elif kind == 2:
                zf.writestr("emb.npy", npy_bytes(z))
                zf.writestr("emb.npy", npy_bytes(z * 2))
                args = ["compute", "e.npz:emb"]
            else:
                zf.writestr("a:b.npy", npy_bytes(z))
                args = ["compute", rng.choice(["e.npz:a:b", "e.npz"])]
        ref = None
    elif m < 9:
        # safetensors
        dt = rng.choice([np.float64, np.float32, np.float16])
        tol = 1e-9 if dt == np.float64 else 0.05
        tensors = {"emb": z.astype(dt)}
        if rng.random() < 0.4:
            tensors["scale"] = np.array([1.0], dtype=np.float32)
        raw = bytearray(st_save(tensors, metadata=rng.choice([None, {"format": "pt"}])))
        target = "e.safetensors" + ("" if len(tensors) == 1 and rng.random() < 0.5 else ":" + rng.choice(["emb", "emb", "scale", "x", ""]))
        if m == 8:
            hl = struct.unpack_from("<Q", raw, 0)[0]
            kind = rng.randrange(5)
            if kind == 0:
                struct.pack_into("<Q", raw, 0, rng.choice([0, 1, hl - 1, hl + 1, 1 << 40, (1 << 64) - 1]))
            elif kind == 1:
                hdr = json.loads(raw[8:8 + hl])
                k = rng.choice([k for k in hdr if k != "__metadata__"])
                off = hdr[k]["data_offsets"]
                hdr[k]["data_offsets"] = rng.choice([[off[0], off[1] + 8], [off[1], off[0]], [0, 1 << 62], [off[0] + 1, off[1] + 1]])
                if rng.random() < 0.5:
                    hdr[k]["shape"] = rng.choice([[0, 3], [-1, 2], [1 << 40, 1 << 40], [], [2, 2, 2]])
                if rng.random() < 0.3:
                    hdr[k]["dtype"] = rng.choice(["F8_E4M3", "BOOL", "I64", "U8", "F64", "C64", "x"])
                hb = json.dumps(hdr).encode()
                hb += b" " * ((8 - len(hb) % 8) % 8)
                raw = bytearray(struct.pack("<Q", len(hb)) + hb + raw[8 + hl:])
            else:
                for _ in range(rng.randrange(1, 4)):
                    raw[rng.randrange(len(raw))] = rng.randrange(256)
            ref = None
        if not target.endswith(":emb") and target != "e.safetensors":
            ref = None
        if target == "e.safetensors" and len(tensors) > 1:
            ref = None
        open(os.path.join(d, "e.safetensors"), "wb").write(bytes(raw))
        args = ["compute", target]
    elif m < 14:
        # parquet
        vt = rng.choice([pa.float32(), pa.float64(), pa.float16()])
        tol = 1e-9 if vt == pa.float64() else 0.05
        kind = rng.choice(["list", "large", "fixed"])
        vals = z.astype(vt.to_pandas_dtype())
        flat = pa.array(vals.reshape(-1), type=vt)
        if kind == "fixed":
            col = pa.FixedSizeListArray.from_arrays(flat, z.shape[1])
        else:
            offs = pa.array(np.arange(0, z.size + 1, z.shape[1]), type=pa.int32() if kind == "list" else pa.int64())
            col = (pa.ListArray if kind == "list" else pa.LargeListArray).from_arrays(offs, flat)
        cols = {"emb": col}
        if rng.random() < 0.5:
            cols["id"] = pa.array(np.arange(len(z)))
            cols["a"] = pa.array(np.arange(len(z)) % len(z))
            cols["b"] = pa.array((np.arange(len(z)) + 1) % len(z))
        if rng.random() < 0.3:
            cols["nested"] = pa.array([[[1.0]]] * len(z))
        t = pa.table(cols)
        path = os.path.join(d, "e.parquet")
        pq.write_table(t, path, compression=rng.choice(["snappy", "zstd", "gzip", "none", "lz4"]),
                       row_group_size=rng.choice([1, 2, 1000]), use_dictionary=rng.random() < 0.5)
        if m == 13:
            raw = bytearray(open(path, "rb").read())
            for _ in range(rng.randrange(1, 4)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            open(path, "wb").write(bytes(raw))
            ref = None
        target = "e.parquet" + rng.choice(["", ":emb", ":emb", ":id", ":nested", ":a,b", ":emb,"])
        if target not in ("e.parquet:emb",) and not (target == "e.parquet" and len(cols) == 1 or target == "e.parquet" and "nested" not in cols):
            ref = None
        args = ["compute", target]
        if "a" in cols and rng.random() < 0.4:
            args = ["compute", "e.parquet:emb", "--pairs", rng.choice(["e.parquet:a,b", "e.parquet:b,a", "e.parquet:a,a", "e.parquet:id,emb", "e.parquet:a"])]
            ref = None
    else:
        # refused formats, also on stdin
        kind = rng.randrange(9)
        import pickle, gzip, lzma
        if kind == 0:
            raw = pickle.dumps(z, protocol=rng.choice([2, 4, 5]))
        elif kind == 1:
            b = io.BytesIO()
            with zipfile.ZipFile(b, "w") as zf:
                zf.writestr("archive/data.pkl", pickle.dumps({"a": 1}))
                zf.writestr("archive/data/0", z.astype(np.float32).tobytes())
            raw = b.getvalue()
        elif kind == 2:
            import h5py
            p = os.path.join(d, "t.h5")
            with h5py.File(p, "w") as f:
                f["emb"] = z
            raw = open(p, "rb").read()
        elif kind == 3:
            raw = gzip.compress(text_table(z))
        elif kind == 4:
            raw = lzma.compress(npy_bytes(z))
        elif kind == 5:
            raw = b""
        elif kind == 6:
            raw = rng.choice([b"PK\x03\x04", b"PAR1", b"PAR1PAR1", b"\x89HDF\r\n\x1a\n", b"\x80\x02", b"\x93NUMPY", b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"BZh9"]) + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        elif kind == 7:
            os.mkdir(os.path.join(d, "e.npy"))
            open(os.path.join(d, "e.npy", "x.npy"), "wb").write(npy_bytes(z))
            raw = None
        else:
            raw = struct.pack("<Q", 1 << 20) + b"{" * 100
        name = rng.choice(["e.npy", "e.csv", "e.pt", "e.h5", "e", "e.safetensors", "e.parquet", "e.npz"])
        if raw is not None:
            if os.path.isdir(os.path.join(d, name)):
                name = "f.bin"
            open(os.path.join(d, name), "wb").write(raw)
            if rng.random() < 0.3:
                json_run(ctx, "container", d, ["compute", "-"], None, stdin_bytes=raw)
                return
            flag = rng.choice([None, "--pairs", "--keys"])
            if flag:
                open(os.path.join(d, "g.npy"), "wb").write(npy_bytes(z))
                args = ["compute", "g.npy", flag, name]
            else:
                args = ["compute", name + rng.choice(["", "", ":emb"])]
        else:
            args = ["compute", "e.npy"]
        ref = None
    if args[1] == "-" or "--pairs" in args:
        ref = None
    if len(args) == 2 and ":" not in args[1] and os.path.isfile(os.path.join(d, args[1])) and rng.random() < 0.3:
        # the same file on standard input: sniffed from its bytes
        body = open(os.path.join(d, args[1]), "rb").read()
        json_run(ctx, "container", d, ["compute", "-"], ref, tol, stdin_bytes=body)
        return
    json_run(ctx, "container", d, args, ref, tol)


def cat_flags(ctx, rng, d):
    z = rand_matrix(rng)
    dt = rng.choice(["<f8", "<f4", "<f2"])
    a = z.astype(np.dtype(dt))
    open(os.path.join(d, "e.npy"), "wb").write(npy_bytes(a))
    args = ["compute", "e.npy"]
    tau = 0.1
    r = rng.random()
    if r < 0.5:
        t = rng.choice(TAUS_OK) if rng.random() < 0.7 else rng.choice(TAUS)
        args += [rng.choice(["--tau", "--temperature", "--tau=", "--logit-scale"]), t]
        if args[-2] == "--tau=":
            args[-2:] = ["--tau=" + t]
        try:
            v = float(t)
            tau = (1 / v if v else None) if "--logit-scale" in args else v
        except ValueError:
            tau = None
    sim = rng.choice(["cosine", "dot", None, "cosine", "dot", "euclid", "COSINE"])
    if sim:
        args += ["--sim", sim]
    prec = rng.choice([None, "auto", "f64", None, "auto", "f64", "f32", "F64"])
    if prec:
        args += ["--precision", prec]
    if rng.random() < 0.3:
        args += ["--threads", rng.choice(["1", "2", "3", "1024", "1", "2", "3", "1024", "0", "1025", "4294967296", "-1", "x"])]
    if rng.random() < 0.3:
        args += ["--anchor", rng.choice(["0", "1,0", "0,0", str(len(z) - 1), "0", "1,0", "0,0", str(len(z) - 1), str(len(z)), "-1", "1,", ",", "18446744073709551616", "0 1", "x"])]
    for f in ("--terms", "--summary", "--all", "--symmetric", "-q"):
        if rng.random() < (0.05 if f == "--symmetric" else 0.2):
            args.append(f)
    if rng.random() < 0.04:
        args += ["--columns", rng.choice(["1:", "2"])]
    ref = None
    tol = 1e-9
    if tau and 1e-250 < tau < 1e300 and math.isfinite(tau) and sim in ("cosine", "dot", None) and len(z) % 2 == 0:
        zz = a.astype(np.float64)
        s = sim or "cosine"
        ok = True
        if s == "cosine":
            n = np.linalg.norm(zz, axis=1)
            ok = np.all(n > 0)
        if ok:
            with np.errstate(all="ignore"):
                ref = reference(zz, sim=s, tau=tau)
            if not all(math.isfinite(x[2]) for x in ref):
                ref = None
            tol = 1e-12 if dt == "<f8" or prec == "f64" else 0.012
    json_run(ctx, "flags", d, args, ref, tol)
    # the table, markdown, ndjson, tsv writers on the same run: basic properties only
    R(ctx, "flags", d, args + ["--format", rng.choice(["table", "markdown", "ndjson", "tsv", "csv"])])


def cat_layout(ctx, rng, d):
    z = rand_matrix(rng, r=rng.choice([3, 4, 6, 8]))
    open(os.path.join(d, "e.npy"), "wb").write(npy_bytes(z))
    m = rng.randrange(6)
    ref = None
    sym = rng.random() < 0.4
    if m < 2:
        r = len(z)
        np_pairs = np.array([[i, (i + 1) % r] for i in range(r)])
        kind = rng.randrange(8)
        if kind == 0:
            pairs_path = "p.npy"
            open(os.path.join(d, pairs_path), "wb").write(npy_bytes(np_pairs.astype(rng.choice([np.int64, np.int32, np.uint8, np.float64, np.int16]))))
            ref = reference(z, "pairs", pairs=np_pairs, symmetric=sym)
        elif kind == 1:
            pairs_path = "p.csv"
            open(os.path.join(d, pairs_path), "w").write("anchor,positive\n" + "".join("%d,%d\n" % tuple(p) for p in np_pairs))
            ref = reference(z, "pairs", pairs=np_pairs, symmetric=sym)
        elif kind == 2:
            pairs_path = "p.txt"
            np.savetxt(os.path.join(d, pairs_path), np_pairs)
            ref = reference(z, "pairs", pairs=np_pairs, symmetric=sym)
        else:
            pairs_path = "p.csv"
            bad = rng.choice(["0,0\n", "0,%d\n" % r, "-1,0\n", "0,1.5\n", "0,1e0\n", "0,1,2\n", "0\n", "", "0;1\n",
                              "18446744073709551616,0\n", "0,+1\n", "0x1,0\n", " 0 , 1 \n", "0,1\n" * 3, "1e400,0\n",
                              "0,-0\n", "0,1.0000000000000001\n", "0,9007199254740993\n"])
            open(os.path.join(d, pairs_path), "w").write(bad)
        args = ["compute", "e.npy", "--pairs", pairs_path]
    elif m < 4:
        k = rand_matrix(rng, r=len(z), d=z.shape[1])
        kr = rng.random()
        if kr < 0.2:
            k = rand_matrix(rng, r=len(z) + 1, d=z.shape[1])
        elif kr < 0.3:
            k = rand_matrix(rng, r=len(z), d=z.shape[1] + 1)
        else:
            ref = reference(z, "keys", keys=k, symmetric=sym)
        open(os.path.join(d, "k.npy"), "wb").write(npy_bytes(k))
        args = ["compute", "e.npy", "--keys", "k.npy"]
    elif m == 4:
        v = rand_matrix(rng, r=len(z) + rng.choice([0, 0, 0, 1]), d=z.shape[1])
        open(os.path.join(d, "v.npy"), "wb").write(npy_bytes(v.astype(rng.choice([np.float64, np.float32]))))
        args = ["compute", "e.npy", "v.npy"]
        if len(v) == len(z):
            vv = np.load(os.path.join(d, "v.npy")).astype(np.float64)
            ref = reference(np.vstack([z, vv]))
        sym = False
        if rng.random() < 0.2:
            args.append(rng.choice(["w.npy", "e.npy", "-"]))
            ref = None
    else:
        # standard input for one of the files
        open(os.path.join(d, "k.npy"), "wb").write(npy_bytes(z))
        open(os.path.join(d, "p.csv"), "w").write("0,1\n")
        args = rng.choice([["compute", "-", "--keys", "k.npy"], ["compute", "e.npy", "--keys", "-"],
                           ["compute", "e.npy", "--pairs", "-"], ["compute", "-", "--pairs", "-"],
                           ["compute", "-", "-"], ["compute", "e.npy", "-"], ["compute", "-", "--keys", "-"]])
        body = npy_bytes(z) if "--pairs" not in args or args[1] == "-" else b"0,1\n"
        if sym and "--pairs" not in args and "--keys" not in args:
            sym = False
        json_run(ctx, "layout", d, args + (["--symmetric"] if sym else []), None, stdin_bytes=body)
        return
    if sym and "v.npy" not in args:
        args.append("--symmetric")
    json_run(ctx, "layout", d, args, ref, 1e-9)
    if rng.random() < 0.3 and ref is not None:
        # --anchor keeps those records, totals unchanged
        anc = rng.randrange(len(z))
        rc, out, _ = R(ctx, "layout", d, args + ["--anchor", str(anc), "--format", "json", "--terms"])
        if rc == 0:
            doc = parse_json(out)
            check_report(doc, ref, 1e-9, True, str(anc))
            if any(r["anchor"] != anc for r in doc["anchors"]):
                raise Finding("--anchor %d listed other anchors" % anc)


def cat_output(ctx, rng, d):
    z = rand_matrix(rng, r=4)
    open(os.path.join(d, "e.npy"), "wb").write(npy_bytes(z))
    open(os.path.join(d, "old.json"), "w").write("old contents\n")
    os.chmod(os.path.join(d, "old.json"), rng.choice([0o600, 0o640, 0o444, 0o755]))
    os.mkdir(os.path.join(d, "sub"))
    kind = rng.randrange(15)
    fifo_reader = None
    fail = rng.random() < 0.4  # make the run fail after the -o checks
    emb = "e.npy" if not fail else "bad.npy"
    if fail:
        open(os.path.join(d, "bad.npy"), "wb").write(npy_bytes(np.array([[np.nan, 1.0], [1.0, 2.0]])))
    if kind == 0:
        target = "sub"
    elif kind == 1:
        target = "sub/"
    elif kind == 2:
        os.symlink("old.json", os.path.join(d, "link.json"))
        target = "link.json"
    elif kind == 3:
        os.symlink("nowhere/x.json", os.path.join(d, "dangling.json"))
        target = "dangling.json"
    elif kind == 4:
        os.symlink("loop2", os.path.join(d, "loop1"))
        os.symlink("loop1", os.path.join(d, "loop2"))
        target = "loop1"
    elif kind == 5:
        os.mkfifo(os.path.join(d, "fifo"))
        got = []

        def reader():
            try:
                with open(os.path.join(d, "fifo"), "rb") as f:
                    got.append(f.read())
            except OSError:
                pass

        fifo_reader = threading.Thread(target=reader, daemon=True)
        fifo_reader.start()
        target = "fifo"
    elif kind == 6:
        target = rng.choice(["e.npy", "./e.npy", "sub/../e.npy"])
        emb = "e.npy"
        fail = False
    elif kind == 7:
        os.link(os.path.join(d, "e.npy"), os.path.join(d, "hard.npy"))
        target = "hard.npy"
        emb = "e.npy"
        fail = False
    elif kind == 8:
        os.symlink("e.npy", os.path.join(d, "soft.json"))
        target = "soft.json"
        emb = "e.npy"
        fail = False
    elif kind == 9:
        target = "-"
    elif kind == 10:
        target = rng.choice(["old.json", "new.csv", "new.ndjson", "new.md", "new.tsv", "new.JSONL", "new"])
    elif kind == 11:
        os.chmod(os.path.join(d, "sub"), 0o500)
        target = "sub/x.json"
    elif kind == 12:
        target = rng.choice(["", ".", "..", "sub/.", "nofolder/x.json", "e.npy/x", "old.json/"])
    elif kind == 13:
        # -o onto standard input: the input's file, or our own pipe
        target = rng.choice(["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"])
        if rng.random() < 0.5:
            r, o, e = R(ctx, "output", d, ["compute", "-", "-o", target], stdin_file=os.path.join(d, "e.npy"))
            if r == 0 or open(os.path.join(d, "e.npy"), "rb").read() != npy_bytes(z):
                raise Finding("-o %s onto the input on standard input: exit %s" % (target, r))
        else:
            r, o, e = R(ctx, "output", d, ["compute", "-", "--terms", "-o", target], stdin_bytes=npy_bytes(z))
        return
    else:
        # -o onto the pairs or keys file
        open(os.path.join(d, "p.csv"), "w").write("0,1\n")
        target = "p.csv"
        r, o, e = R(ctx, "output", d, ["compute", "e.npy", "--pairs", "p.csv", "-o", target], out_file=target)
        if r == 0:
            raise Finding("-o onto the pairs file succeeded")
        return
    before = snapshot(os.path.join(d, target)) if target not in ("-", "") else None
    before_old = snapshot(os.path.join(d, "old.json"))
    args = ["compute", emb, "-o", target] + rng.choice([[], ["--format", "csv"], ["--terms"]])
    rc, out, err = R(ctx, "output", d, args, out_file=target if target not in ("-", "") else None)
    if fifo_reader:
        fifo_reader.join(timeout=5)
    if kind in (6, 7, 8) and rc == 0:
        raise Finding("-o onto the input succeeded")
    if kind in (6, 7, 8):
        if open(os.path.join(d, "e.npy"), "rb").read() != npy_bytes(z):
            raise Finding("the input was changed")
    if kind == 2 and rc == 0 and not os.path.islink(os.path.join(d, "link.json")):
        raise Finding("-o replaced the symbolic link")
    if kind == 2 and rc != 0 and snapshot(os.path.join(d, "old.json")) != before_old:
        raise Finding("failure changed the link's target")
    if kind == 5 and not stat.S_ISFIFO(os.lstat(os.path.join(d, "fifo")).st_mode):
        raise Finding("-o replaced the FIFO")
    if kind == 10 and rc == 0 and target == "old.json":
        mode = stat.S_IMODE(os.stat(os.path.join(d, "old.json")).st_mode)
        want = stat.S_IMODE(before[1] and os.stat(os.path.join(d, "old.json")).st_mode)
        _ = want
    if rc == 0 and target not in ("-",) and kind not in (5,):
        if rng.random() < 0.5 and out:
            raise Finding("-o run also wrote to stdout")
    leftovers = [f for f in os.listdir(d) if f.startswith(".infonce")]
    if os.path.isdir(os.path.join(d, "sub")):
        try:
            leftovers += [f for f in os.listdir(os.path.join(d, "sub")) if f.startswith(".infonce")]
        except PermissionError:
            pass
    if leftovers:
        raise Finding("temporary files left: %s" % leftovers)
    os.chmod(os.path.join(d, "sub"), 0o755)


def cat_explain(ctx, rng, d):
    z = rand_matrix(rng, r=rng.choice([2, 4, 6]))
    open(os.path.join(d, "e.npy"), "wb").write(npy_bytes(z))
    args = ["explain"]
    if rng.random() < 0.85:
        args.append("e.npy")
        lay = rng.randrange(4)
        if lay == 1:
            open(os.path.join(d, "p.csv"), "w").write("0,1\n1,0\n0,%d\n" % (len(z) - 1))
            args += ["--pairs", "p.csv"]
        elif lay == 2:
            open(os.path.join(d, "k.npy"), "wb").write(npy_bytes(rand_matrix(rng, r=len(z), d=z.shape[1])))
            args += ["--keys", "k.npy"]
        elif lay == 3:
            open(os.path.join(d, "v.npy"), "wb").write(npy_bytes(rand_matrix(rng, r=len(z), d=z.shape[1])))
            args += ["v.npy"]
        if lay in (1, 2) and rng.random() < 0.5:
            args.append("--symmetric")
    edges = (("--anchor", ["0", "1", "3", "5"], ["99", "-1", "18446744073709551615"]),
             ("--record", ["0", "1", "2"], ["7", "99"]),
             ("--positive", ["0", "1", "2"], ["99"]),
             ("--direction", ["query-to-key", "key-to-query"], ["both"]),
             ("--max-terms", ["0", "1", "2", "1000", "18446744073709551615"], ["-1"]),
             ("--lang", ["en", "zh"], ["en+zh", "fr"]),
             ("--format", ["text", "markdown", "json", "json", "json"], ["csv"]),
             ("--tau", ["0.1", "1e-300", "1e-20", "100", "1e300", "1e-200"], ["5e-324", "0"]),
             ("--sim", ["dot", "cosine"], ["l2"]),
             ("--threads", ["1", "2", "1024"], ["1025"]))
    for flag, good, bad in edges:
        if rng.random() < 0.25:
            args += [flag, rng.choice(good) if rng.random() < 0.85 else rng.choice(bad)]
    if rng.random() < 0.1:
        args.append("--glossary")
    rc, out, err = R(ctx, "explain", d, args)
    if rc == 0:
        if not out:
            raise Finding("explain printed nothing")
        txt = out.decode("utf-8")
        for bad in ("NaN", "inf ", "Infinity"):
            if bad in txt and "--tau" in args:
                raise Finding("explain output holds %r" % bad)
        if "--format" in args and args[args.index("--format") + 1] == "json":
            ex = parse_json(out)
            rec = ex.get("record") or {}
            for t in ex.get("terms") or []:
                if not finite(t.get("p")) or not 0 <= t["p"] <= 1:
                    raise Finding("explain: a term's p is %r" % t.get("p"))
            if not finite(rec.get("loss")) or rec["loss"] < 0 or not finite(ex.get("mean_loss")):
                raise Finding("explain: loss %r, mean %r" % (rec.get("loss"), ex.get("mean_loss")))
            if "e.npy" in args:
                # the figures are those compute reports for the same record
                data = ["compute", "e.npy", "--format", "json"] + (["v.npy"] if "v.npy" in args else [])
                for i, x in enumerate(args):
                    if x in ("--pairs", "--keys", "--tau", "--sim"):
                        data += [x, args[i + 1]]
                    elif x == "--symmetric":
                        data.append(x)
                rc2, out2, _ = R(ctx, "explain", d, data)
                if rc2 != 0:
                    raise Finding("explain succeeded, compute exit %s" % rc2)
                doc = parse_json(out2)
                same = [r for r in doc["anchors"] if r["anchor"] == rec["anchor"] and r["positive"] == rec["positive"]
                        and r.get("direction") == rec.get("direction")]
                if not same:
                    raise Finding("explain's record (%s, %s) is not among compute's" % (rec["anchor"], rec["positive"]))
                if all(r["loss"] != rec["loss"] for r in same):
                    raise Finding("explain's loss %r, compute's %r" % (rec["loss"], same[0]["loss"]))
                if ex["mean_loss"] != doc["loss"]:
                    raise Finding("explain's mean loss %r, compute's %r" % (ex["mean_loss"], doc["loss"]))


def cat_big(ctx, rng, d):
    """Inputs past one row block (256 rows), so tiles, threads and tile
    sizes matter: every layout, float16 to float64, ties and near-ties."""
    r = rng.choice([258, 300, 513, 700])
    dim = rng.choice([1, 3, 16, 40])
    z = rand_matrix(rng, r=r, d=dim, kind=rng.choice(["normal", "unit", "ints", "dup", "tiny", "big"]))
    dt = rng.choice(["<f8", "<f4", "<f2"])
    a = z.astype(np.dtype(dt))
    zz = a.astype(np.float64)
    open(os.path.join(d, "e.npy"), "wb").write(npy_bytes(a))
    tau = float(rng.choice(["0.1", "0.01", "1", "1e-5", "1e-100", "20"]))
    sim = rng.choice(["cosine", "dot"])
    args = ["compute", "e.npy", "--tau", repr(tau), "--sim", sim, "-q"]
    if rng.random() < 0.3:
        args += ["--precision", "f64"]
    lay = rng.randrange(4)
    sym = rng.random() < 0.5
    with np.errstate(all="ignore"):
        if sim == "cosine" and not np.all(np.linalg.norm(zz, axis=1) > 0):
            ref = None
        elif lay == 0:
            ref = reference(zz, sim=sim, tau=tau)
        elif lay == 1:
            g = np.random.default_rng(rng.randrange(1 << 30))
            prs = g.integers(0, r, (rng.choice([1, 50, 600]), 2))
            prs = prs[prs[:, 0] != prs[:, 1]]
            if len(prs) == 0:
                prs = np.array([[0, 1]])
            open(os.path.join(d, "p.npy"), "wb").write(npy_bytes(prs.astype(np.int64)))
            args += ["--pairs", "p.npy"] + (["--symmetric"] if sym else [])
            ref = reference(zz, "pairs", sim=sim, tau=tau, pairs=prs, symmetric=sym)
        elif lay == 2:
            k = rand_matrix(rng, r=r, d=dim).astype(np.dtype(rng.choice(["<f8", "<f4"])))
            open(os.path.join(d, "k.npy"), "wb").write(npy_bytes(k))
            args += ["--keys", "k.npy"] + (["--symmetric"] if sym else [])
            ref = reference(zz, "keys", sim=sim, tau=tau, keys=k.astype(np.float64), symmetric=sym)
        else:
            v = rand_matrix(rng, r=r, d=dim).astype(np.dtype(rng.choice(["<f8", "<f4", "<f2"])))
            open(os.path.join(d, "v.npy"), "wb").write(npy_bytes(v))
            args += ["v.npy"]
            ref = reference(np.vstack([zz, v.astype(np.float64)]), sim=sim, tau=tau)
    if ref is not None and not all(math.isfinite(x[2]) for x in ref):
        ref = None
    f64 = "--precision" in args or dt == "<f8"
    tol = 1e-9 if f64 else 0.012
    if rng.random() < 0.3:
        args += ["--anchor", "%d,%d" % (rng.randrange(r), rng.randrange(r)), "--terms"]
    json_run(ctx, "big", d, args, ref, tol)


_BASES = []


def cat_damaged(ctx, rng, d):
    """Container files from the real writers with 1 to 4 bytes flipped."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from safetensors.numpy import save as st_save

    if not _BASES:
        g = np.random.default_rng(0)
        for comp in ["snappy", "zstd", "gzip", "none"]:
            for kind in ["list", "fixed"]:
                for rows in (2, 6):
                    z = g.standard_normal((6, 4)).astype(np.float32)
                    flat = pa.array(z.reshape(-1))
                    if kind == "fixed":
                        col = pa.FixedSizeListArray.from_arrays(flat, 4)
                    else:
                        col = pa.ListArray.from_arrays(pa.array(np.arange(0, 25, 4), pa.int32()), flat)
                    b = io.BytesIO()
                    t = pa.table({"emb": col, "a": pa.array(np.arange(6)), "b": pa.array((np.arange(6) + 1) % 6)})
                    pq.write_table(t, b, compression=comp, row_group_size=rows)
                    _BASES.append(("e.parquet", b.getvalue()))
        b = io.BytesIO()
        np.savez_compressed(b, emb=g.standard_normal((6, 4)))
        _BASES.append(("e.npz", b.getvalue()))
        b = io.BytesIO()
        np.savez(b, emb=g.standard_normal((6, 4)), x=np.zeros(3))
        _BASES.append(("e.npz", b.getvalue()))
        _BASES.append(("e.safetensors", st_save({"emb": g.standard_normal((6, 4)).astype(np.float32)})))
    name, raw = rng.choice(_BASES)
    raw = bytearray(raw)
    for _ in range(rng.randrange(1, 5)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    open(os.path.join(d, name), "wb").write(bytes(raw))
    open(os.path.join(d, "g.npy"), "wb").write(npy_bytes(np.random.default_rng(1).standard_normal((6, 4))))
    if name.endswith("parquet"):
        args = rng.choice([[name + ":emb"], [name], ["g.npy", "--pairs", name + ":a,b"], ["-"]])
    else:
        args = rng.choice([[name], [name + ":emb"], ["-"]])
    if args == ["-"]:
        json_run(ctx, "damaged", d, ["compute", "-", "--terms"], stdin_bytes=bytes(raw))
    else:
        json_run(ctx, "damaged", d, ["compute", *args, "--terms"], invariance=False)


CATEGORIES = {
    "npy": cat_npy,
    "text": cat_text,
    "container": cat_container,
    "flags": cat_flags,
    "layout": cat_layout,
    "output": cat_output,
    "explain": cat_explain,
    "big": cat_big,
    "damaged": cat_damaged,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="target/release/infonce")
    ap.add_argument("--runs", type=int, default=700, help="cases (each case runs the binary 1 to 5 times)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", help="comma-separated categories")
    ap.add_argument("--case", type=int, help="run this case alone (with --only naming its category)")
    ap.add_argument("--keep", default=None, help="folder to keep the files of each finding in")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    cats = a.only.split(",") if a.only else list(CATEGORIES)
    ctx = Ctx(binary, a.seed, a.keep)
    t0 = time.time()
    cases = range(a.runs) if a.case is None else [a.case]
    for i in cases:
        cat = cats[i % len(cats)] if a.case is None else a.only
        rng = random.Random("%d-%d" % (a.seed, i))
        random.seed("%d-%d-x" % (a.seed, i))
        d = tempfile.mkdtemp(prefix="infonce-hostile-")
        try:
            CATEGORIES[cat](ctx, rng, d)
        except Finding as f:
            ctx.findings.append((cat, i, str(f)))
            where = ""
            if a.keep:
                where = os.path.join(a.keep, "%s-%d" % (cat, i))
                shutil.copytree(d, where, symlinks=True, ignore_dangling_symlinks=True,
                                ignore=lambda p, n: [x for x in n if stat.S_ISFIFO(os.lstat(os.path.join(p, x)).st_mode)])
            print("FINDING %s case %d (--seed %d): %s [last run: infonce %s] %s" % (cat, i, a.seed, f, ctx.last, where), flush=True)
        except Exception as e:  # a fault of this script, not of the binary
            ctx.errors += 1
            print("SCRIPT ERROR %s case %d: %r" % (cat, i, e), flush=True)
        finally:
            for root, dirs, _ in os.walk(d):
                for x in dirs:
                    try:
                        os.chmod(os.path.join(root, x), 0o755)
                    except OSError:
                        pass
            shutil.rmtree(d, ignore_errors=True)
    runs = sum(ctx.counts.values())
    per = ", ".join("%s %d (%s)" % (c, ctx.counts.get(c, 0), " ".join("rc%s:%d" % kv for kv in sorted(ctx.outcomes.get(c, {}).items(), key=str))) for c in cats)
    print("hostile: %d cases, %d runs of the binary in %.0f s: %s; %d findings, %d script errors" % (len(cases), runs, time.time() - t0, per, len(ctx.findings), ctx.errors))
    sys.exit(1 if ctx.findings else 0)


if __name__ == "__main__":
    main()
