#!/usr/bin/env bash
# parity_test.sh — the engine against PyTorch (tests/ref/torch_parity.py) for both
# families: logits, loss, every gradient and 10 AdamW steps, max relative error 1e-4.
# Uses Debian's /usr/bin/python3 (python3-torch). In CI (CI set) a missing torch fails.
# Usage: parity_test.sh PARITY_DUMP_BINARY
set -u
DUMP=$1
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
status=0
for family in gpt2 llama; do
    echo "== $family"
    "$DUMP" "$family" "$TMP/$family.model.safetensors" "$TMP/$family.io.safetensors" || exit 1
    "$PY" "$HERE/ref/torch_parity.py" "$TMP/$family.model.safetensors" "$TMP/$family.io.safetensors"
    rc=$?
    if [ $rc -eq 77 ]; then exit 77; fi
    [ $rc -eq 0 ] || status=1
done
exit $status
