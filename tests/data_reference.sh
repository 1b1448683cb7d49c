#!/usr/bin/env bash
# data_reference.sh — the shipped corpora match the independently prepared reference
# (shared/reference-data/SHA256SUMS) byte for byte, and `bitbench data verify` agrees.
# Skips (77) when shared/ is not beside the checkout.
set -u
BB=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=${BITBENCH_SHARED:-$ROOT/../shared}/reference-data/SHA256SUMS
if [ ! -f "$REF" ]; then echo "SKIP: no reference checksums at $REF"; exit 77; fi
if ! diff <(sort -k2 "$REF") <(sort -k2 "$ROOT/datasets/SHA256SUMS"); then
    echo "FAIL: datasets/SHA256SUMS differs from $REF"; exit 1
fi
echo "datasets/SHA256SUMS equals the reference ($(wc -l <"$REF") files)"
(cd "$ROOT/datasets" && sha256sum --quiet -c "$REF") || { echo "FAIL: sha256sum -c"; exit 1; }
"$BB" data verify || exit 1
