#!/usr/bin/env python3
"""Seeded two-view embedding files for benchmarks (numpy only).

Writes float32 (or, with --dtype float16, float16) `.npy` files of R rows
x d columns in the default two-view
layout of `infonce compute`: rows i and i + R/2 are the two views of item i.
Each item is a random unit vector u_i; its views are

    v = u_i + 0.3 * n,    n ~ Normal(0, I / d)   (so |n| is about 1)

drawn independently for the two views, which puts the cosine of a positive
pair near 0.92 and that of an unrelated pair near 0.

Usage (from the repository root):

    python3 scripts/make_embeddings.py 8192x256 16384x256
    python3 scripts/make_embeddings.py --rows 4096,8192 --d 64,256
    python3 scripts/make_embeddings.py --out /some/dir --seed 1 1024x64

Files are named `twoview_R{R}_d{d}_seed{seed}.npy` (`..._f16.npy` for
float16: the float32 values rounded) in `--out` (default `bench-data/`,
which git ignores). Existing files are kept unless `--force`.
The content depends only on (R, d, seed): generation goes in fixed chunks of
items, so memory stays small even for large R * d.
"""
import argparse
import os
import sys

import numpy as np

NOISE = 0.3
CHUNK = 4096  # items generated per step; part of the definition of the data


DTYPES = {"float32": (np.float32, ""), "float16": (np.float16, "_f16")}


def file_name(rows, d, seed, dtype="float32"):
    return f"twoview_R{rows}_d{d}_seed{seed}{DTYPES[dtype][1]}.npy"


def parse_sizes(specs, rows, dims):
    """`RxD` items plus the cross product of --rows and --d."""
    sizes = []
    for s in specs:
        try:
            r, d = s.lower().split("x")
            sizes.append((int(r), int(d)))
        except ValueError:
            sys.exit(f"error: size {s!r} is not of the form RxD (e.g. 8192x256)")
    if rows or dims:
        if not (rows and dims):
            sys.exit("error: --rows and --d go together")
        for r in rows:
            for d in dims:
                sizes.append((r, d))
    for r, d in sizes:
        if r < 2 or r % 2 or d < 1:
            sys.exit(f"error: {r}x{d}: R must be even and at least 2, d at least 1")
    return sizes


def int_list(text):
    return [int(x) for x in text.split(",") if x.strip()]


def write(path, rows, d, seed, dtype="float32"):
    """Writes one file (through a temporary name, so a stopped run leaves none)."""
    n = rows // 2
    rng = np.random.default_rng([seed, rows, d])
    tmp = path + ".tmp"
    kind = DTYPES[dtype][0]
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=kind, shape=(rows, d))
    scale = NOISE / np.sqrt(d)
    for i0 in range(0, n, CHUNK):
        i1 = min(i0 + CHUNK, n)
        u = rng.standard_normal((i1 - i0, d))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        # Rounded to float32 first, so that a float16 file holds the
        # float32 file's values rounded.
        v1 = (u + scale * rng.standard_normal((i1 - i0, d))).astype(np.float32)
        v2 = (u + scale * rng.standard_normal((i1 - i0, d))).astype(np.float32)
        out[i0:i1] = v1.astype(kind)
        out[n + i0 : n + i1] = v2.astype(kind)
    out.flush()
    del out
    os.replace(tmp, path)


def ensure(rows, d, seed=0, out="bench-data", force=False, quiet=False, dtype="float32"):
    """Path of the file for (rows, d, seed, dtype), written first if missing."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, file_name(rows, d, seed, dtype))
    if force or not os.path.exists(path):
        if not quiet:
            size = rows * d * np.dtype(DTYPES[dtype][0]).itemsize / 2**20
            print(f"writing {path} ({size:.1f} MiB)", file=sys.stderr)
        write(path, rows, d, seed, dtype)
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sizes", nargs="*", metavar="RxD", help="sizes such as 8192x256")
    p.add_argument("--rows", type=int_list, default=[], help="comma-separated R values")
    p.add_argument("--d", type=int_list, default=[], help="comma-separated d values")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench-data", help="folder (default: bench-data/)")
    p.add_argument("--force", action="store_true", help="rewrite existing files")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    a = p.parse_args()
    sizes = parse_sizes(a.sizes, a.rows, a.d)
    if not sizes:
        p.error("give at least one size (RxD, or --rows with --d)")
    for r, d in sizes:
        print(ensure(r, d, a.seed, a.out, a.force, dtype=a.dtype))


if __name__ == "__main__":
    main()
