#!/usr/bin/env bash
# kd_test.sh — knowledge distillation end to end (`bitbench train --teacher --kd`) at tiny:
#   1. a teacher trained for a few steps teaches a b158 student: the KD training loss and
#      the student's validation loss fall; the memory breakdown has the teacher's own line,
#      non-zero, and the student's categories do not hold it;
#   2. a teacher of another family (llama) teaches a gpt2 student;
#   3. stop + resume under distillation gives a byte-identical checkpoint;
#   4. teachers that cannot teach (another vocabulary, a shorter max_seq, a missing file)
#      give one clear sentence and exit 1.
# (Usage errors of --teacher/--kd and memcalc --method kd: cli_test.sh.)
# Usage: kd_test.sh BITBENCH_BINARY
set -u
BB=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export BITBENCH_CACHE=${BITBENCH_CACHE:-$TMP/cache}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }
BATCH=8 SEQ=64
TRAIN=(--model tiny --batch $BATCH --seq $SEQ --warmup 5 --threads 2)

# the teacher: plain FP32 training
"$BB" train "${TRAIN[@]}" --steps 60 --lr 3e-3 --eval-windows 16 --log-every 60 --save "$TMP/teacher.ckpt" \
    >"$TMP/teacher.out" 2>&1 || { cat "$TMP/teacher.out"; fail "teacher training failed"; }

# 1. a b158 student learns from it
"$BB" train "${TRAIN[@]}" --precision b158 --steps 40 --lr 3e-3 --eval-windows 32 --log-every 40 \
    --teacher "$TMP/teacher.ckpt" --kd alpha=0.5,T=2 --csv "$TMP/kd.csv" >"$TMP/kd.out" 2>&1 ||
    { cat "$TMP/kd.out"; fail "KD training run failed"; }
# the KD loss: mean of the first 5 steps vs the last 5
first=$(awk -F, 'NR>=3 && NR<=7 {s += $2; n++} END {if (n) printf "%.4f", s / n}' "$TMP/kd.csv")
last=$(awk -F, 'NR>1 && $2 != "" {v[NR] = $2; m = NR}
                END {for (i = m - 4; i <= m; i++) s += v[i]; printf "%.4f", s / 5}' "$TMP/kd.csv")
if awk -v a="$first" -v b="$last" 'BEGIN {exit !(a != "" && b != "" && b < 0.8 * a)}'; then
    ok "KD training loss $first -> $last (means of the first and last 5 steps)"
else fail "KD training loss did not fall by 20%: $first -> $last"; fi
v0=$(awk -F, 'NR==2 {print $6}' "$TMP/kd.csv")
v1=$(awk -F, 'END {print $6}' "$TMP/kd.csv")
if awk -v a="$v0" -v b="$v1" 'BEGIN {exit !(a != "" && b != "" && b < a - 1.0)}'; then
    ok "student validation loss (CE) $v0 -> $v1"
else fail "student validation loss did not fall by 1 nat: $v0 -> $v1"; fi
grep -q "^teacher $TMP/teacher.ckpt (gpt2 L=2.*fp32), 0.37M parameters, forward only; kd alpha 0.5 (hard CE) T 2" \
    "$TMP/kd.out" && ok "the teacher is announced" || { grep teacher "$TMP/kd.out"; fail "no teacher line in the log"; }
teacher_mib=$(awk '/^  teacher \(KD, forward\)/ {print $(NF - 1)}' "$TMP/kd.out")
if awk -v t="$teacher_mib" 'BEGIN {exit !(t != "" && t > 1.0)}'; then
    ok "memory breakdown: teacher $teacher_mib MiB on its own line"
else grep -A12 "memory by category" "$TMP/kd.out"; fail "no non-zero teacher line in the memory breakdown"; fi
# the student's own categories are those of the same run without a teacher
"$BB" train "${TRAIN[@]}" --precision b158 --steps 2 --lr 3e-3 --eval-windows 2 >"$TMP/plain.out" 2>&1 ||
    fail "plain b158 run failed"
for cat in parameters gradients optimizer "packed weights"; do
    a=$(grep "^  $cat  " "$TMP/kd.out" | awk '{print $(NF - 1)}')
    b=$(grep "^  $cat  " "$TMP/plain.out" | awk '{print $(NF - 1)}')
    [ -n "$a" ] && [ "$a" = "$b" ] && ok "student $cat $a MiB with or without a teacher" ||
        fail "student $cat: $a MiB with the teacher, $b without"
done
# activations: plain training writes the probabilities over the logits (model.h
# logits_in_place); the distillation backward reads both, so KD keeps B*T*V floats more
V=$(grep -m1 -o " V=[0-9]*" "$TMP/kd.out" | tr -dc 0-9)
a=$(grep "^  activations  " "$TMP/kd.out" | awk '{print $(NF - 1)}')
b=$(grep "^  activations  " "$TMP/plain.out" | awk '{print $(NF - 1)}')
if awk -v a="$a" -v b="$b" -v v="$V" -v n="$((BATCH * SEQ))" 'BEGIN {d = a - b - n * v * 4 / 1048576; exit !(a != "" && v != "" && d < 0.01 && d > -0.01)}'; then
    ok "student activations $a MiB with a teacher, $b without: B*T*V*4 bytes apart (V=$V)"
else fail "student activations: $a MiB with the teacher, $b without, V=$V (want B*T*V*4 bytes apart)"; fi
grep -q "teacher (KD, forward) *0.00 *0.00" "$TMP/plain.out" && ok "no teacher, 0 bytes on its line" ||
    fail "the teacher line is not 0 without a teacher"

# 2. a llama teacher, a gpt2 student
"$BB" train "${TRAIN[@]}" --family llama --steps 3 --save "$TMP/llama.ckpt" >"$TMP/llama.out" 2>&1 ||
    { cat "$TMP/llama.out"; fail "llama teacher training failed"; }
"$BB" train "${TRAIN[@]}" --steps 3 --eval-windows 2 --teacher "$TMP/llama.ckpt" --kd T=4 >"$TMP/cross.out" 2>&1 &&
    grep -q "teacher .*(llama L=2" "$TMP/cross.out" && ok "a llama teacher teaches a gpt2 student" ||
    { cat "$TMP/cross.out"; fail "llama teacher, gpt2 student"; }

# 3. stop + resume == uninterrupted, with a teacher
KD=(--teacher "$TMP/teacher.ckpt" --kd alpha=0.3,T=3)
"$BB" train "${TRAIN[@]}" "${KD[@]}" --steps 8 --save "$TMP/a.ckpt" >/dev/null 2>&1 || fail "run a"
"$BB" train "${TRAIN[@]}" "${KD[@]}" --steps 8 --stop-at 5 --save "$TMP/b.ckpt" >/dev/null 2>&1 || fail "run b (stop)"
"$BB" train "${TRAIN[@]}" "${KD[@]}" --steps 8 --resume "$TMP/b.ckpt" --save "$TMP/b.ckpt" >/dev/null 2>&1 ||
    fail "run b (resume)"
cmp -s "$TMP/a.ckpt" "$TMP/b.ckpt" && ok "KD: resumed checkpoint is byte-identical" || fail "KD: resumed checkpoint differs"

# 4. teachers that cannot teach: exit 1, one sentence
expect1() {
    local pattern=$1 out status
    shift
    out=$("$BB" train "${TRAIN[@]}" --steps 1 "$@" 2>&1)
    status=$?
    if [ $status -eq 1 ] && grep -Eq "$pattern" <<<"$out"; then ok "refused: $pattern"; else
        fail "expected exit 1 and '$pattern', got exit $status: $(tail -2 <<<"$out")"; fi
}
"$BB" train "${TRAIN[@]}" --steps 1 --set vocab_size=4160 --save "$TMP/v4160.ckpt" >/dev/null 2>&1 || fail "v4160 teacher"
expect1 "the teacher's vocab_size is 4160, the student's 4096" --teacher "$TMP/v4160.ckpt" --kd alpha=0.5
"$BB" train --model tiny --set max_seq=32 --batch 8 --steps 1 --threads 2 --save "$TMP/t32.ckpt" >/dev/null 2>&1 ||
    fail "max_seq 32 teacher"
expect1 "the teacher's max_seq 32 is shorter than the sequence length 64" --teacher "$TMP/t32.ckpt" --kd T=2
expect1 "teacher: .*missing.ckpt" --teacher "$TMP/missing.ckpt" --kd T=2

echo
if [ $fails -eq 0 ]; then echo "kd_test: all checks passed"; exit 0; fi
echo "kd_test: $fails check(s) failed"; exit 1
