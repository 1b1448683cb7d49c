#!/usr/bin/env bash
# kd_parity_test.sh — the knowledge-distillation loss and its gradient w.r.t. the student
# logits against PyTorch autograd in float64 (tests/ref/kd_ref.py): kd_dump writes our values
# (op level for 8 alpha/T settings, and one student/teacher pair through the model), the
# checker recomputes them. Uses Debian's /usr/bin/python3 (python3-torch); without torch it
# skips (77), in CI (CI set) that is a failure.
# Usage: kd_parity_test.sh KD_DUMP_BINARY
set -u
DUMP=$1
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$DUMP" "$TMP/kd.safetensors" || { echo "kd_parity_test: kd_dump failed"; exit 1; }
OMP_NUM_THREADS=1 "$PY" "$HERE/ref/kd_ref.py" "$TMP/kd.safetensors"
