#!/bin/sh
# Fills fuzz/corpus/<target>/ with the fixture files as starting inputs.
# Run from the fuzz folder: sh seed.sh
set -eu
fx=../fixtures
mkdir -p corpus/npy_embeddings corpus/csv_embeddings corpus/pairs
for f in "$fx"/*.npy; do
    cp "$f" corpus/npy_embeddings/
done
# csv_embeddings: one selector byte (0 sniff, 1 comma, 2 tab), then the file.
for f in "$fx"/seed.csv "$fx"/emb_header.csv; do
    { printf '\001'; cat "$f"; } > "corpus/csv_embeddings/$(basename "$f")"
done
{ printf '\002'; cat "$fx/emb.tsv"; } > corpus/csv_embeddings/emb.tsv
{ printf '\000'; cat "$fx/emb.tsv"; } > corpus/csv_embeddings/emb_sniffed.tsv
# pairs: row count, flags (bit 0 symmetric, bits 1-2 name: csv, tsv, none, npy), file.
{ printf '\040\000'; cat "$fx/pairs.csv"; } > corpus/pairs/pairs.csv
{ printf '\040\001'; cat "$fx/pairs.csv"; } > corpus/pairs/pairs_symmetric.csv
{ printf '\040\006'; cat "$fx/pairs.npy"; } > corpus/pairs/pairs.npy
{ printf '\040\007'; cat "$fx/pairs.npy"; } > corpus/pairs/pairs_symmetric.npy
# compute: byte 0 picks the similarity (bit 0: dot) and tau (bits 1-2), then an .npy file.
mkdir -p corpus/compute
for f in "$fx"/seed.npy "$fx"/twoview_f16.npy "$fx"/twoview_f64_fortran.npy "$fx"/large_dot.npy; do
    { printf '\002'; cat "$f"; } > "corpus/compute/$(basename "$f")"
    { printf '\005'; cat "$f"; } > "corpus/compute/dot_$(basename "$f")"
done
