#!/usr/bin/env bash
# train_test.sh — `bitbench train` end to end on the shipped KJV data at the tiny preset:
#   1. a short run lowers the validation loss (initial vs final, same windows);
#   2. stopping and resuming gives a byte-identical checkpoint and the same losses as an
#      uninterrupted run; selective and block checkpointing give none's checkpoint byte for byte;
#   3. generate and eval ppl work on the checkpoint; its nf4 exports (QLoRA's frozen-base
#      format, with and without double quantization) evaluate close to it;
#   4. truncated, corrupt, foreign and missing checkpoints give one clear error, exit 1.
# Usage: train_test.sh BITBENCH_BINARY
set -u
BB=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export BITBENCH_CACHE=${BITBENCH_CACHE:-$TMP/cache}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }
# loss_fell CSV LABEL STEPS: the validation loss (column 6) of the run's last row is at least
# 1 nat below its first row's
loss_fell() {
    local first last
    first=$(awk -F, 'NR==2 {print $6}' "$1")
    last=$(awk -F, 'END {print $6}' "$1")
    if awk -v a="$first" -v b="$last" 'BEGIN {exit !(a != "" && b != "" && b < a - 1.0)}'; then
        ok "$2: validation loss $first -> $last after $3 steps"
    else
        fail "$2: validation loss did not fall by 1 nat: $first -> $last"
    fi
}
TRAIN=(--model tiny --batch 8 --seq 64 --warmup 5 --threads 2)

# 1. the validation loss falls
"$BB" train "${TRAIN[@]}" --steps 80 --lr 3e-3 --eval-windows 64 --csv "$TMP/v.csv" --log-every 20 \
    --save "$TMP/v.ckpt" >"$TMP/v.out" 2>&1 || { cat "$TMP/v.out"; fail "training run failed"; }
loss_fell "$TMP/v.csv" fp32 80
grep -q "process peak RSS" "$TMP/v.out" && grep -q "optimizer" "$TMP/v.out" && ok "memory breakdown printed" ||
    fail "no memory breakdown in the train output"

# 1b. every precision lowers the validation loss at tiny (QAT, precisions/precision.h)
for prec in fp16 bf16 int8 int4 b158; do
    "$BB" train "${TRAIN[@]}" --precision "$prec" --steps 50 --lr 3e-3 --eval-windows 32 --csv "$TMP/$prec.csv" \
        --log-every 50 >"$TMP/$prec.out" 2>&1 || { cat "$TMP/$prec.out"; fail "$prec training run failed"; continue; }
    loss_fell "$TMP/$prec.csv" "$prec" 50
done
grep -q "packed weights" "$TMP/b158.out" && ok "b158 memory breakdown lists packed weights" || fail "no packed weights row"

# 1c. the quantized LM head and token embedding (--set quant_head=on,quant_embed=on; config.h):
# trains (tied gpt2 b158 with both, untied llama int8 with the head), exports them packed, and
# the packed file's perplexity equals the checkpoint's (1e-3 relative); FP32 has nothing to
# quantize them to
for run in "b158 gpt2 quant_head=on,quant_embed=on" "int8 llama quant_head=on"; do
    set -- $run
    "$BB" train "${TRAIN[@]}" --precision "$1" --family "$2" --set "$3" --steps 50 --lr 3e-3 --eval-windows 32 \
        --csv "$TMP/qh-$1.csv" --log-every 50 --save "$TMP/qh-$1.ckpt" >"$TMP/qh-$1.out" 2>&1 ||
        { cat "$TMP/qh-$1.out"; fail "$1 quant_head training run failed"; continue; }
    grep -q "quant-head" "$TMP/qh-$1.out" || fail "$1 quant_head: the model line does not say quant-head"
    loss_fell "$TMP/qh-$1.csv" "$1 $2 $3" 50
    "$BB" export --ckpt "$TMP/qh-$1.ckpt" --out "$TMP/qh-$1.packed" >"$TMP/qhx-$1.out" 2>&1 &&
        grep -q "LM head (quant_head)" "$TMP/qhx-$1.out" || { cat "$TMP/qhx-$1.out"; fail "$1 quant_head export"; }
    [ "$1" = int8 ] || grep -q "token embedding (quant_embed); FP32: positions (wpe), norms$" "$TMP/qhx-$1.out" ||
        { cat "$TMP/qhx-$1.out"; fail "$1 quant_embed export"; }
    a=$("$BB" eval ppl --ckpt "$TMP/qh-$1.ckpt" --split test --windows 20 2>&1 | sed -n 's/^perplexity \([0-9.]*\).*/\1/p')
    b=$("$BB" eval ppl --ckpt "$TMP/qh-$1.packed" --split test --windows 20 2>&1 | sed -n 's/^perplexity \([0-9.]*\).*/\1/p')
    awk -v a="$a" -v b="$b" 'BEGIN {d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= 1e-3 * a)}' &&
        ok "$1 $3: packed perplexity $b = QAT perplexity $a" || fail "$1 quant_head: packed '$b' vs QAT '$a'"
    "$BB" generate --ckpt "$TMP/qh-$1.packed" --prompt "And God said" --tokens 8 --seed 3 >/dev/null 2>&1 ||
        fail "$1 quant_head: generate from the packed file"
done
# 1d. the residual stream in 16 bits (--set half_residual=on; config.h): fp16 llama trains, the
# flag survives the checkpoint and the export (packed perplexity = checkpoint perplexity), and
# a precision without a 16-bit format refuses it
"$BB" train "${TRAIN[@]}" --precision fp16 --family llama --set half_residual=on --steps 50 --lr 3e-3 --eval-windows 32 \
    --csv "$TMP/hr.csv" --log-every 50 --save "$TMP/hr.ckpt" >"$TMP/hr.out" 2>&1 || { cat "$TMP/hr.out"; fail "half_residual run"; }
grep -q "half-residual" "$TMP/hr.out" || fail "half_residual: the model line does not say half-residual"
loss_fell "$TMP/hr.csv" "fp16 llama half_residual=on" 50
"$BB" export --ckpt "$TMP/hr.ckpt" --out "$TMP/hr.packed" >/dev/null 2>&1 || fail "half_residual export"
head -c 65536 "$TMP/hr.packed" | grep -aq 'half_residual\\": true' || fail "half_residual: not in the export's config"
a=$("$BB" eval ppl --ckpt "$TMP/hr.ckpt" --split test --windows 20 2>&1 | sed -n 's/^perplexity \([0-9.]*\).*/\1/p')
b=$("$BB" eval ppl --ckpt "$TMP/hr.packed" --split test --windows 20 2>&1 | sed -n 's/^perplexity \([0-9.]*\).*/\1/p')
awk -v a="$a" -v b="$b" 'BEGIN {d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= 1e-3 * a)}' &&
    ok "half_residual: packed perplexity $b = checkpoint perplexity $a" || fail "half_residual: packed '$b' vs '$a'"
out=$("$BB" train --model tiny --precision int8 --set half_residual=on --steps 1 2>&1)
[ $? -eq 2 ] && grep -q "half_residual=on needs fp16 or bf16" <<<"$out" &&
    ok "half_residual at int8 refused" || fail "half_residual at int8: $out"
"$BB" train --model tiny --lora r=4 --steps 1 --threads 2 --save "$TMP/a.lora" >/dev/null 2>&1 || fail "a LoRA run"
out=$("$BB" lora merge --base "$TMP/qh-int8.ckpt" --adapters "$TMP/a.lora" --out "$TMP/m.ckpt" 2>&1)
[ $? -eq 1 ] && grep -q "has a quantized LM head (quant_head); LoRA bases keep them FP32" <<<"$out" &&
    ok "lora merge into a quant_head base refused" || fail "lora merge into a quant_head base: $out"
out=$("$BB" train --model tiny --set quant_head=on --steps 1 2>&1)
[ $? -eq 2 ] && grep -q "quant_head=on needs a trainable quantized precision" <<<"$out" &&
    ok "quant_head at fp32 refused" || fail "quant_head at fp32: $out"
out=$("$BB" train --model tiny --precision int8 --set quant_embed=maybe --steps 1 2>&1)
[ $? -eq 2 ] && grep -q "quant_embed must be on or off, got 'maybe'" <<<"$out" &&
    ok "quant_embed=maybe refused" || fail "quant_embed=maybe: $out"

# 2. stop + resume == uninterrupted, byte for byte
"$BB" train "${TRAIN[@]}" --steps 8 --save "$TMP/a.ckpt" --csv "$TMP/a.csv" >/dev/null 2>&1 || fail "run a"
"$BB" train "${TRAIN[@]}" --steps 8 --stop-at 5 --save "$TMP/b.ckpt" >/dev/null 2>&1 || fail "run b (stop)"
"$BB" train "${TRAIN[@]}" --steps 8 --resume "$TMP/b.ckpt" --save "$TMP/b.ckpt" --csv "$TMP/b.csv" >/dev/null 2>&1 ||
    fail "run b (resume)"
if cmp -s "$TMP/a.ckpt" "$TMP/b.ckpt"; then ok "resumed checkpoint is byte-identical"; else fail "resumed checkpoint differs"; fi
if diff <(awk -F, 'NR>1 && $1>5 {print $1, $2, $4}' "$TMP/a.csv") <(awk -F, 'NR>1 {print $1, $2, $4}' "$TMP/b.csv") >/dev/null
then ok "steps 6-8 have identical losses and grad norms after resume"; else fail "losses differ after resume"; fi

# 2b. activation checkpointing (model.h bb_ckpt_mode) recomputes what it does not keep, bit for bit:
# the same 8 steps under selective and block recomputation end in run a's checkpoint, byte for byte
for mode in selective block; do
    "$BB" train "${TRAIN[@]}" --steps 8 --checkpointing "$mode" --save "$TMP/$mode.ckpt" >/dev/null 2>&1 ||
        fail "run with --checkpointing $mode"
    if cmp -s "$TMP/a.ckpt" "$TMP/$mode.ckpt"; then ok "--checkpointing $mode: checkpoint byte-identical to none's"
    else fail "--checkpointing $mode: checkpoint differs from none's"; fi
done

# 3. generate and eval
out=$("$BB" generate --ckpt "$TMP/v.ckpt" --prompt "And God said" --tokens 12 --seed 3 2>&1)
[ $? -eq 0 ] && [ ${#out} -gt 12 ] && ok "generate: $(echo "$out" | head -1 | cut -c1-60)" || fail "generate: $out"
g2=$("$BB" generate --ckpt "$TMP/v.ckpt" --prompt "And God said" --tokens 12 --seed 3 2>&1)
[ "$out" = "$g2" ] && ok "generate is deterministic for a seed" || fail "generate differs for the same seed"
"$BB" eval ppl --ckpt "$TMP/v.ckpt" --split test --windows 20 >"$TMP/e.out" 2>&1 && grep -q "perplexity" "$TMP/e.out" &&
    grep -q "bits per byte" "$TMP/e.out" && ok "eval ppl: $(grep perplexity "$TMP/e.out")" || { cat "$TMP/e.out"; fail "eval ppl"; }

# 3a. nf4 export (post-training quantization to QLoRA's base format) and eval from the packed
#     file: double quantization makes it smaller, and the perplexity stays within 5% of FP32's
fp32_ppl=$(sed -n 's/^perplexity \([0-9.]*\).*/\1/p' "$TMP/e.out")
for dq in on off; do
    "$BB" export --ckpt "$TMP/v.ckpt" --precision nf4 --nf4-double-quant $dq --out "$TMP/v.nf4-$dq.packed" \
        >"$TMP/x-$dq.out" 2>&1 || { cat "$TMP/x-$dq.out"; fail "export nf4 (double quant $dq)"; continue; }
    ppl=$("$BB" eval ppl --ckpt "$TMP/v.nf4-$dq.packed" --split test --windows 20 2>&1 | sed -n 's/^perplexity \([0-9.]*\).*/\1/p')
    if awk -v a="$fp32_ppl" -v b="$ppl" 'BEGIN {exit !(a != "" && b != "" && b < 1.05 * a && b > a / 1.05)}'; then
        ok "nf4 export (double quant $dq): perplexity $ppl vs fp32 $fp32_ppl"
    else fail "nf4 export (double quant $dq): perplexity '$ppl' vs fp32 '$fp32_ppl'"; fi
done
on=$(stat -c %s "$TMP/v.nf4-on.packed" 2>/dev/null || echo 0)
off=$(stat -c %s "$TMP/v.nf4-off.packed" 2>/dev/null || echo 0)
[ "$on" -gt 0 ] && [ "$on" -lt "$off" ] && ok "nf4 double quantization: $on < $off bytes" ||
    fail "nf4 export sizes: double quant $on bytes, without $off"

# 3b. the MT path end to end at tiny: train a few steps on the pairs, translate, score
"$BB" train --model tiny --set max_seq=256 --task mt --steps 20 --batch 8 --lr 3e-3 --warmup 5 --threads 2 \
    --save "$TMP/mt.ckpt" >"$TMP/mt.out" 2>&1 && grep -q "task mt: 6620 train pairs" "$TMP/mt.out" &&
    ok "train --task mt" || { cat "$TMP/mt.out"; fail "train --task mt"; }
"$BB" eval mt --ckpt "$TMP/mt.ckpt" --split dev --limit 8 --max-new 24 --beam 2 --out "$TMP/evalmt" >"$TMP/evalmt.out" 2>&1
if grep -q "^BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = " "$TMP/evalmt.out" &&
    grep -q "^chrF2|" "$TMP/evalmt.out" && [ "$(wc -l <"$TMP/evalmt/dev.hyp.en")" -eq 8 ] &&
    [ "$(wc -l <"$TMP/evalmt/dev.ref.en")" -eq 8 ] && [ -s "$TMP/evalmt/mt_eval.csv" ]; then
    ok "eval mt: $(grep '^BLEU' "$TMP/evalmt.out" | sed 's/^[^=]*= //' | cut -c1-60)"
else cat "$TMP/evalmt.out"; fail "eval mt"; fi
# the BLEU of eval mt equals eval bleu on the files it wrote
b1=$(grep '^BLEU' "$TMP/evalmt.out" | sed 's/^[^=]*= \([0-9.]*\).*/\1/')
b2=$("$BB" eval bleu --hyp "$TMP/evalmt/dev.hyp.en" --ref "$TMP/evalmt/dev.ref.en" --width 2 2>&1 | grep '^BLEU' |
    sed 's/^[^=]*= \([0-9.]*\).*/\1/')
[ -n "$b1" ] && [ "$b1" = "$b2" ] && ok "eval mt BLEU $b1 == eval bleu $b2" || fail "eval mt BLEU '$b1' vs eval bleu '$b2'"

# 4. bad checkpoints: one sentence, exit 1, never a crash
expect_error() {
    local pattern=$1 file=$2 out status
    out=$("$BB" eval ppl --ckpt "$file" 2>&1)
    status=$?
    if [ $status -eq 1 ] && grep -Eq "$pattern" <<<"$out"; then ok "bad checkpoint ($pattern)"; else
        fail "checkpoint $file: exit $status, output: $out"; fi
}
head -c 5000 "$TMP/v.ckpt" >"$TMP/trunc.ckpt"
expect_error "truncated" "$TMP/trunc.ckpt"
cp "$TMP/v.ckpt" "$TMP/flip.ckpt"
printf 'X' | dd of="$TMP/flip.ckpt" bs=1 seek=20 conv=notrunc 2>/dev/null
expect_error "checkpoint '.*flip.ckpt'" "$TMP/flip.ckpt"
head -c 3000 /dev/urandom >"$TMP/garbage.ckpt"
expect_error "garbage.ckpt" "$TMP/garbage.ckpt"
expect_error "cannot read|No such file" "$TMP/missing.ckpt"
"$BB" tokenizer encode --in "$(dirname "$0")/../datasets/mt/dev.en" --out "$TMP/tokens.bin" >/dev/null 2>&1
expect_error "not a bitbench|safetensors" "$TMP/tokens.bin"

echo
if [ $fails -eq 0 ]; then echo "train_test: all checks passed"; exit 0; fi
echo "train_test: $fails check(s) failed"; exit 1
