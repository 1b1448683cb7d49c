#!/usr/bin/env bash
# selftest.sh — checks torch_parity.py itself, without the C engine: make_fake_io.py
# fabricates engine output (float32 torch, hand-written AdamW) and torch_parity.py must
# pass it, reject each injected fault, fail on a malformed file, and skip (77) or fail
# (CI set) when torch cannot be imported.
# Usage: tests/ref/selftest.sh [PYTHON]   (default /usr/bin/python3)
# Exit: 0 all cases as expected; 1 otherwise; 77 PYTHON has no torch and CI is unset.
set -u
here=$(cd "$(dirname "$0")" && pwd)
py=${1:-/usr/bin/python3}
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
    if [ -n "${CI:-}" ]; then echo "selftest: FAIL: $py cannot import torch/numpy (CI set)"; exit 1; fi
    echo "selftest: SKIP: $py cannot import torch/numpy"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

# expect RC DESCRIPTION -- FAKE_IO_ARGS...   (generate, check, compare exit status)
expect() {
    local want=$1 what=$2; shift 3
    if ! "$py" "$here/make_fake_io.py" "$tmp/m.st" "$tmp/io.st" "$@" >"$tmp/gen.log" 2>&1; then
        echo "  FAIL  $what: make_fake_io failed"; sed 's/^/        /' "$tmp/gen.log"
        fail=$((fail + 1)); return
    fi
    "$py" "$here/torch_parity.py" "$tmp/m.st" "$tmp/io.st" >"$tmp/out.log" 2>&1
    local rc=$?
    if [ "$rc" = "$want" ]; then
        echo "  ok    $what (exit $rc): $(tail -n 1 "$tmp/out.log")"
        pass=$((pass + 1))
    else
        echo "  FAIL  $what: exit $rc, expected $want"; sed 's/^/        /' "$tmp/out.log"
        fail=$((fail + 1))
    fi
}

echo "selftest: correct data must pass"
expect 0 "gpt2 default"                 -- --family gpt2
expect 0 "llama default (GQA 4/2)"      -- --family llama
expect 0 "gpt2 T<max_seq, B=1, L=3"     -- --family gpt2 --seq 11 --batch 1 --layers 3 --seed 7
expect 0 "llama MQA (NKV=1), T<max_seq" -- --family llama --kv-heads 1 --seq 9 --seed 8
expect 0 "llama MHA (NKV=NH), C=48"     -- --family llama --embd 48 --heads 6 --kv-heads 6 --ffn 80 --seed 9
expect 0 "gpt2 no clip, no decay"       -- --family gpt2 --grad-clip 0 --weight-decay 0 --seed 10
expect 0 "llama 1 step"                 -- --family llama --steps 1 --seed 11
expect 0 "llama fp32 + trajectory"      -- --family llama --trajectory --seed 12
expect 0 "gpt2 fp16 (QAT)"              -- --family gpt2 --precision fp16 --seed 13
expect 0 "llama bf16 (QAT)"             -- --family llama --precision bf16 --seed 14
expect 0 "gpt2 int8 (QAT)"              -- --family gpt2 --precision int8 --seed 15
expect 0 "llama int4 act token (QAT)"   -- --family llama --precision int4 --seed 16
expect 0 "gpt2 int4 act block (QAT)"    -- --family gpt2 --precision int4 --act-quant block --seed 17
expect 0 "llama b158 (QAT, SubLN)"      -- --family llama --precision b158 --seed 18
expect 0 "gpt2 b158 quant head+embed (tied)" -- --family gpt2 --precision b158 --quant-head --quant-embed --seed 19
expect 0 "llama fp16 quant head (logits rounded)" -- --family llama --precision fp16 --quant-head --seed 20
expect 0 "llama int8 quant embed"       -- --family llama --precision int8 --quant-embed --seed 21
expect 0 "gpt2 fp16 half residual"      -- --family gpt2 --precision fp16 --half-residual --seed 22
expect 0 "llama bf16 half residual + quant head" -- --family llama --precision bf16 --half-residual --quant-head --seed 23

echo "selftest: injected faults must fail"
expect 1 "gpt2 grad.qkvw x(1+1e-3)"     -- --family gpt2 --fault grad
expect 1 "llama grad.lnfw x(1+1e-3)"    -- --family llama --fault grad --fault-param lnfw
expect 1 "gpt2 grad.fcb one element"    -- --family gpt2 --fault grad-elem --fault-param fcb
expect 1 "llama interleaved RoPE"       -- --family llama --fault rope
expect 1 "gpt2 erf GELU"                -- --family gpt2 --fault gelu
expect 1 "llama AdamW w/o bias corr."   -- --family llama --fault adam-nobc
expect 1 "gpt2 decay on all params"     -- --family gpt2 --fault wd-all
expect 1 "llama no clipping"            -- --family llama --fault no-clip
expect 1 "gpt2 int8 ties to even"       -- --family gpt2 --precision int8 --fault round-even
expect 1 "llama b158 ties to even"      -- --family llama --precision b158 --fault round-even
expect 1 "gpt2 b158 without SubLN"      -- --family gpt2 --precision b158 --fault no-subln
expect 1 "llama b158 STE masks clipped" -- --family llama --precision b158 --fault ste-mask
expect 1 "gpt2 int4 STE masks clipped"  -- --family gpt2 --precision int4 --fault ste-mask
expect 1 "llama int8 no act quant"      -- --family llama --precision int8 --fault no-act
expect 1 "llama b158 decay on SubLN"    -- --family llama --precision b158 --fault wd-subln
expect 1 "gpt2 fp16 outputs not rounded" -- --family gpt2 --precision fp16 --fault no-round
expect 1 "llama bf16 outputs not rounded" -- --family llama --precision bf16 --fault no-round
expect 1 "llama int8 head input not quantized" -- --family llama --precision int8 --quant-head --fault no-head-quant
expect 1 "gpt2 fp16 logits not rounded" -- --family gpt2 --precision fp16 --quant-head --fault no-head-round
expect 1 "gpt2 b158 lookup reads FP32 wte" -- --family gpt2 --precision b158 --quant-head --quant-embed --fault embed-fp32
expect 1 "llama int8 config lacks the flags" -- --family llama --precision int8 --quant-head --quant-embed --fault no-flags
expect 1 "gpt2 fp16 residual not rounded" -- --family gpt2 --precision fp16 --half-residual --fault no-residual-round
expect 1 "llama bf16 residual not rounded" -- --family llama --precision bf16 --half-residual --fault no-residual-round
expect 1 "llama fp16 residual3 alone not rounded" -- --family llama --precision fp16 --half-residual --fault no-residual3-round
expect 1 "gpt2 bf16 config lacks half_residual" -- --family gpt2 --precision bf16 --half-residual --fault no-flags

echo "selftest: malformed input and missing torch"
"$py" "$here/make_fake_io.py" --family llama "$tmp/m.st" "$tmp/io.st" >/dev/null 2>&1
head -c 1000 "$tmp/io.st" >"$tmp/trunc.st"
check_rc() {  # check_rc WANT DESCRIPTION CMD...
    local want=$1 what=$2; shift 2
    "$@" >"$tmp/out.log" 2>&1
    local rc=$?
    if [ "$rc" = "$want" ]; then
        echo "  ok    $what (exit $rc): $(tail -n 1 "$tmp/out.log")"; pass=$((pass + 1))
    else
        echo "  FAIL  $what: exit $rc, expected $want"; sed 's/^/        /' "$tmp/out.log"
        fail=$((fail + 1))
    fi
}
check_rc 1 "truncated IO file" "$py" "$here/torch_parity.py" "$tmp/m.st" "$tmp/trunc.st"
check_rc 1 "model given as IO" "$py" "$here/torch_parity.py" "$tmp/m.st" "$tmp/m.st"
check_rc 2 "usage error" "$py" "$here/torch_parity.py" "$tmp/m.st"
# A torch.py that fails to import stands in for a machine without torch.
mkdir -p "$tmp/notorch"
echo 'raise ImportError("simulated: no torch here")' >"$tmp/notorch/torch.py"
check_rc 77 "no torch, CI unset" env -u CI PYTHONPATH="$tmp/notorch" \
    "$py" "$here/torch_parity.py" "$tmp/m.st" "$tmp/io.st"
check_rc 1 "no torch, CI=true" env CI=true PYTHONPATH="$tmp/notorch" \
    "$py" "$here/torch_parity.py" "$tmp/m.st" "$tmp/io.st"

echo "selftest: $pass passed, $fail failed"
[ "$fail" = 0 ]
