#!/usr/bin/env bash
# lora_test.sh — `bitbench train --lora` and `bitbench lora merge` end to end at tiny:
#   1. bases: a short full run at fp32 and at b158 (QAT), each saved as a checkpoint;
#   2. LoRA on each frozen base lowers the validation loss (the same windows before and
#      after, so the comparison is exact), prints the LoRA memory rows, base grads 0;
#   3. merge of the fp32 adapters, then eval ppl of the merged checkpoint on the same
#      windows gives the unmerged run's final validation loss;
#   4. an int8 frozen base quantized from the fp32 checkpoint trains and merges;
#   5. memcalc --method lora prints the LoRA breakdown, --fit the LoRA column;
#   6. wrong uses: one clear line, exit 2 (usage) or 1 (bad input), never a crash.
# Usage: lora_test.sh BITBENCH_BINARY
set -u
BB=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export BITBENCH_CACHE=${BITBENCH_CACHE:-$TMP/cache}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }
source "$(dirname "$0")/expect.sh"
RUN=(--model tiny --batch 8 --seq 64 --threads 2 --eval-windows 32 --log-every 100)
LORA=r=8,alpha=16,dropout=0.05,targets=all-linear

# 1. the bases
for p in fp32 b158; do
    "$BB" train "${RUN[@]}" --precision $p --steps 40 --lr 3e-3 --warmup 5 --save "$TMP/$p.ckpt" >"$TMP/$p.base.out" 2>&1 ||
        { cat "$TMP/$p.base.out"; fail "$p base training failed"; }
done

# 2. LoRA lowers the validation loss on both frozen bases
for p in fp32 b158; do
    "$BB" train "${RUN[@]}" --lora $LORA --base "$TMP/$p.ckpt" --steps 30 --lr 5e-3 --warmup 3 --csv "$TMP/$p.csv" \
        --save "$TMP/$p.lora" >"$TMP/$p.out" 2>&1 || { cat "$TMP/$p.out"; fail "LoRA on the $p base failed"; continue; }
    first=$(awk -F, 'NR==2 {print $6}' "$TMP/$p.csv")
    last=$(awk -F, 'END {print $6}' "$TMP/$p.csv")
    if awk -v a="$first" -v b="$last" 'BEGIN {exit !(a != "" && b != "" && b < a - 0.01)}'; then
        ok "LoRA on the frozen $p base: validation loss $first -> $last after 30 steps"
    else
        fail "LoRA on the $p base did not lower the validation loss by 0.01: $first -> $last"
    fi
    grep -q "frozen at $p" "$TMP/$p.out" && grep -q "^  adapters " "$TMP/$p.out" &&
        grep -q "^  adapter optimizer " "$TMP/$p.out" && grep -q "^  frozen params " "$TMP/$p.out" &&
        grep -Eq "^  gradients +0.00 +0.00" "$TMP/$p.out" && grep -Eq "^  optimizer +0.00 +0.00" "$TMP/$p.out" &&
        ok "$p: memory rows show packed base, frozen params, adapters; no base gradients or moments" ||
        { grep -A16 "memory by" "$TMP/$p.out"; fail "$p: LoRA memory rows"; }
done

# 3. merge, then eval the merged checkpoint on the training run's validation windows
expect 0 "merged" -- "$BB" lora merge --base "$TMP/fp32.ckpt" --adapters "$TMP/fp32.lora" --out "$TMP/merged.ckpt"
want=$(awk -F, 'END {print $6}' "$TMP/fp32.csv")
got=$("$BB" eval ppl --ckpt "$TMP/merged.ckpt" --split valid --batch 8 --ctx 64 --windows 32 --threads 2 2>&1 |
    awk '/^mean loss/ {print $3}')
if awk -v a="$want" -v b="$got" 'BEGIN {exit !(a != "" && b != "" && (a - b < 1e-4 && b - a < 1e-4))}'; then
    ok "merged fp32 checkpoint: eval loss $got == unmerged validation loss $want"
else
    fail "merged eval loss '$got' differs from the unmerged validation loss '$want'"
fi

# 4. a frozen int8 base quantized from the fp32 checkpoint
"$BB" train "${RUN[@]}" --lora r=4,targets=attn,rslora --base "$TMP/fp32.ckpt" --precision int8 --steps 4 --lr 1e-2 \
    --warmup 1 --checkpointing block --save "$TMP/int8.lora" >"$TMP/int8.out" 2>&1 && grep -q "frozen at int8" "$TMP/int8.out" &&
    ok "LoRA on an int8 base quantized from the fp32 checkpoint (block checkpointing)" ||
    { cat "$TMP/int8.out"; fail "LoRA on an int8 base"; }
expect 0 "merged" -- "$BB" lora merge --base "$TMP/fp32.ckpt" --adapters "$TMP/int8.lora" --out "$TMP/m8.ckpt"
expect 0 "split lm/valid \(int8" -- "$BB" eval ppl --ckpt "$TMP/m8.ckpt" --split valid --windows 4 --threads 2

# 5. the memory calculator's LoRA method (its numbers are checked against the allocator in test_memcalc)
expect 0 "adapter optimizer \(m, v\)" -- "$BB" memcalc --model small --precision int8 --method lora --lora r=8,targets=all-linear
expect 0 "lora GiB" -- "$BB" memcalc --fit
expect 2 "--lora needs --method lora" -- "$BB" memcalc --lora r=4
expect 2 "--method must be full, kd or lora" -- "$BB" memcalc --method bogus

# 6. wrong uses
expect 2 "--base needs --lora" -- "$BB" train --model tiny --base "$TMP/fp32.ckpt" --steps 1
expect 2 "--resume" -- "$BB" train --model tiny --lora r=4 --resume "$TMP/fp32.ckpt" --steps 1
expect 2 "lora r must be" -- "$BB" train --model tiny --lora r=0 --steps 1
expect 2 "targets 'head' unknown" -- "$BB" train --model tiny --lora targets=head --steps 1
expect 2 "--teacher with --lora" -- "$BB" train --model tiny --lora r=4 --teacher "$TMP/fp32.ckpt" --kd alpha=0.5,T=2 \
    --steps 1
expect 1 "SubLN" -- "$BB" train "${RUN[@]}" --lora r=4 --base "$TMP/fp32.ckpt" --precision b158 --steps 1
expect 1 "SHA-256" -- "$BB" lora merge --base "$TMP/b158.ckpt" --adapters "$TMP/fp32.lora" --out "$TMP/x.ckpt"
expect 1 "not a bitbench LoRA adapter file" -- "$BB" lora merge --base "$TMP/fp32.ckpt" --adapters "$TMP/fp32.ckpt" \
    --out "$TMP/x.ckpt"
expect 2 "are required" -- "$BB" lora merge --base "$TMP/fp32.ckpt"

echo
if [ $fails -eq 0 ]; then echo "lora_test: all checks passed"; exit 0; fi
echo "lora_test: $fails check(s) failed"; exit 1
