#!/usr/bin/env bash
# nf4_ref_test.sh — precisions/nf4.c against the independent NF4 reference in PyTorch
# (tests/ref/nf4_ref.py): tests/nf4_dump.c writes the cases, the script checks code books,
# codes (bnb's argmin, ties excepted), double quantization, unpacked values, forward and
# backward_input, and the documented packed layout. Uses Debian's /usr/bin/python3
# (python3-torch); exit 77 (skip) without torch unless CI is set.
# Usage: nf4_ref_test.sh NF4_DUMP_BINARY
set -u
DUMP=$1
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$DUMP" "$TMP/nf4.safetensors" || { echo "nf4_ref_test: nf4_dump failed"; exit 1; }
OMP_NUM_THREADS=1 "$PY" "$HERE/ref/nf4_ref.py" "$TMP/nf4.safetensors"
