#!/usr/bin/env bash
# parity_test.sh — the engine against PyTorch (tests/ref/torch_parity.py) for both
# families: logits, loss, every gradient and 10 AdamW steps, max relative error 1e-4; then
# quantization-aware training (QAT) in every precision (fp16, bf16, int8, int4 with per-token
# and per-block activations, b158 with SubLN): the same plus the engine's fake-quant weights
# (bit-exact), its quantized activations and its own 10-step trajectory (tests/ref/README.md);
# and the config flags: the quantized LM head / token embedding (quant_head, quant_embed): gpt2
# b158 with both (tied: one table), llama int8 with both, gpt2 fp16 with the head (logits
# rounded); the 16-bit residual stream (half_residual): gpt2 fp16, llama bf16, and gpt2 fp16
# with the head and embedding quantized too.
# Two checker jobs run side by side, torch single-threaded, each checking its pairs one after
# the other: fp32 with the float32 yardstick, then the 6 flag cases without it; and the 12
# QAT cases without it (to save time).
# Uses Debian's /usr/bin/python3 (python3-torch). In CI (CI set) a missing torch fails.
# Usage: parity_test.sh PARITY_DUMP_BINARY
set -u
DUMP=$1
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
# CASE = family[:precision[:OPTION...]], the options parity_dump's after PRECISION:
# token|block, qh|qe|qhe (quant_head, quant_embed, both), hr (half_residual); without a
# precision: fp32, the original contract
FP32="gpt2 llama"
QAT="gpt2:fp16 llama:fp16 gpt2:bf16 llama:bf16 gpt2:int8 llama:int8 gpt2:int4 llama:int4
     gpt2:int4:block llama:int4:block gpt2:b158 llama:b158"
FLAGS="gpt2:b158:qhe llama:int8:qhe gpt2:fp16:qh gpt2:fp16:hr llama:bf16:hr gpt2:fp16:qhe:hr"

pairs() {  # pairs CASE...: runs parity_dump for each case, prints MODEL IO paths
    local case family prec opts tag
    for case in "$@"; do
        IFS=: read -r family prec opts <<<"$case"  # opts: the rest, colon-separated
        opts=${opts//:/ }
        tag=${case//:/.}
        # shellcheck disable=SC2086  # prec/opts are absent for fp32; opts splits into words
        if ! "$DUMP" "$family" "$TMP/$tag.model.safetensors" "$TMP/$tag.io.safetensors" $prec $opts \
            2>"$TMP/$tag.dump.log"; then
            echo "parity_test: parity_dump $family $prec $opts failed:" >&2
            cat "$TMP/$tag.dump.log" >&2
            return 1
        fi
        echo "$TMP/$tag.model.safetensors $TMP/$tag.io.safetensors"
    done
}

# shellcheck disable=SC2086  # word splitting of the case lists and path pairs is intended
{
    p32=$(pairs $FP32) || exit 1
    pq=$(pairs $QAT) || exit 1
    pf=$(pairs $FLAGS) || exit 1
}
# shellcheck disable=SC2086
(
    OMP_NUM_THREADS=1 "$PY" "$HERE/ref/torch_parity.py" $p32 >"$TMP/fp32.log" 2>&1
    echo $? >"$TMP/fp32.rc"
    OMP_NUM_THREADS=1 "$PY" "$HERE/ref/torch_parity.py" --no-f32 $pf >"$TMP/flags.log" 2>&1
    echo $? >"$TMP/flags.rc"
) &
pid32=$!
# shellcheck disable=SC2086
OMP_NUM_THREADS=1 "$PY" "$HERE/ref/torch_parity.py" --no-f32 $pq >"$TMP/qat.log" 2>&1
rcq=$?
wait $pid32
rc32=$(cat "$TMP/fp32.rc" 2>/dev/null || echo 1)
rcf=$(cat "$TMP/flags.rc" 2>/dev/null || echo 1)
cat "$TMP/fp32.log"
echo
cat "$TMP/qat.log"
echo
cat "$TMP/flags.log"
if [ "$rc32" -eq 77 ] || [ $rcq -eq 77 ] || [ "$rcf" -eq 77 ]; then exit 77; fi
if [ "$rc32" -ne 0 ] || [ $rcq -ne 0 ] || [ "$rcf" -ne 0 ]; then echo "parity_test: FAIL"; exit 1; fi
echo "parity_test: PASS: fp32 (gpt2, llama), QAT ($(echo "$QAT" | wc -w) cases) and config" \
     "flags ($(echo "$FLAGS" | wc -w) cases: $FLAGS)"
exit 0
