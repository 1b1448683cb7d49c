#!/usr/bin/env bash
# cli_test.sh — the CLI contract of issue #2: help for every command, exit 2 with one
# clear line for usage errors, exit 1 with a clear message for missing or corrupt
# files, never a crash (no exit status >= 128), and working encode/decode/verify.
# Usage: cli_test.sh BITBENCH_BINARY
set -u
BB=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export BITBENCH_CACHE=$TMP/cache
fails=0

# shellcheck source=tests/expect.sh
source "$(dirname "$0")/expect.sh"

# --- help everywhere ---------------------------------------------------------------
expect 0 "Usage: bitbench <command>" -- "$BB"
expect 0 "Commands:" -- "$BB" --help
for c in env suite "data prepare" "data verify" "data stats" "tokenizer train" "tokenizer check" \
         "tokenizer encode" "tokenizer decode" "tokenizer bench" train generate "eval ppl" "eval bleu" \
         "eval mt" "bench train-vs-torch" "bench gemm" "bench cuda-gemm" "bench precisions" "bench infer" "bench kernels" "bench compare" export \
         "bench throughput" "bench memory" "bench quality" "bench schema" plot report \
         memcalc "lora merge"; do
    # shellcheck disable=SC2086
    expect 0 "Usage: bitbench $c" -- "$BB" $c --help
done
expect 0 "prepare" -- "$BB" data --help
expect 0 "encode" -- "$BB" tokenizer --help

# --- usage errors: one line plus a hint, exit 2 ------------------------------------
expect 2 "unknown command 'frobnicate'.*|Try 'bitbench --help'" -- "$BB" frobnicate
expect 2 "unknown option '--frob'" -- "$BB" env --frob
expect 2 "unknown option '-x'" -- "$BB" env -x
expect 2 "unknown command 'nope'" -- "$BB" data nope
expect 2 "Usage: bitbench data" -- "$BB" data
expect 2 "expects an integer, got 'abc'" -- "$BB" tokenizer train --vocab abc
expect 2 "must be between 261 and 65536" -- "$BB" tokenizer train --vocab 5
expect 2 "needs a value" -- "$BB" tokenizer train --out
expect 2 "exactly one of --text or --in" -- "$BB" tokenizer encode
expect 2 "unexpected argument 'extra'" -- "$BB" env extra
expect 2 "mutually exclusive" -- "$BB" data prepare --src a --deb b
expect 2 "unknown model preset 'huge'" -- "$BB" train --model huge
# --device (issue #9): a bad name is a usage error; cuda without a device is one
# "no CUDA device" line and exit 2, checked only where env finds none.
expect 2 "--device must be cpu or cuda, not 'gpu'" -- "$BB" train --model tiny --device gpu
if "$BB" env 2>/dev/null | grep -q "cuda devices *no CUDA device"; then
    for c in "train --model tiny --steps 1" "bench precisions --model tiny" "bench infer --model tiny" "eval ppl --ckpt none.st" \
             "bench cuda-gemm --model tiny"; do
        # shellcheck disable=SC2086
        case $c in
        *cuda-gemm*) expect 2 "no CUDA device .*needs a GPU" -- "$BB" $c ;;
        *) expect 2 "no CUDA device .*; run with --device cpu" -- "$BB" $c --device cuda ;;
        esac
    done
fi
expect 2 "unknown --schedule 'zigzag'" -- "$BB" train --schedule zigzag
# activation checkpointing modes (model.h bb_ckpt_mode): none, selective, block
expect 2 "--checkpointing must be none, selective or block, got 'blocks'" -- "$BB" train --model tiny --checkpointing blocks
expect 2 "Try 'bitbench train --help'" -- "$BB" train --model tiny --checkpointing blocks
expect 2 "--checkpointing must be none, selective or block, got 'some'" -- "$BB" memcalc --checkpointing some
expect 2 "--checkpointing: unknown mode 'selectiv' \(none, selective, block" -- "$BB" bench precisions --model tiny --checkpointing none,selectiv
expect 2 "--checkpointing: unknown mode 'attn'" -- "$BB" bench memory --preset tiny --checkpointing none,attn
expect 2 "--checkpointing: unknown mode 'full'" -- "$BB" bench throughput --preset tiny --checkpointing full
expect 0 "checkpointing selective" -- "$BB" memcalc --model tiny --checkpointing selective
expect 0 "selective: keep no attention probabilities" -- "$BB" train --help
expect 2 "--lambda-warmup is a warm-up for the integer precisions \(int8, int4, b158\), not bf16" -- "$BB" train --model tiny --precision bf16 --lambda-warmup 10
expect 2 "n_embd 64 is not divisible by n_head 5" -- "$BB" train --model tiny --set n_head=5
expect 2 "unknown config key 'n_layers'" -- "$BB" train --model tiny --set n_layers=3
expect 2 "exceeds the model's max_seq 64" -- "$BB" train --model tiny --seq 65
# knowledge distillation: both flags or neither, and --kd values in range
expect 0 "--kd alpha=A,T=X +distillation loss alpha\*CE" -- "$BB" train --help
expect 2 "--kd needs --teacher CKPT" -- "$BB" train --kd alpha=0.5,T=2
expect 2 "--teacher needs --kd alpha=A,T=X" -- "$BB" train --teacher t.ckpt
expect 2 "alpha must be a number in \[0, 1\], got '1.5'" -- "$BB" train --teacher t.ckpt --kd alpha=1.5,T=2
expect 2 "T must be a number > 0, got '0'" -- "$BB" train --teacher t.ckpt --kd alpha=0.5,T=0
expect 2 "unknown key 'tau'" -- "$BB" train --teacher t.ckpt --kd tau=2
expect 2 "'alpha' is not key=value" -- "$BB" train --teacher t.ckpt --kd alpha
# (a forward-only teacher keeps no attention probabilities: 4.0 MiB, not the 4.1 it took with them)
expect 0 "teacher \(KD, forward\) +0.004 GB +4.0 MiB" -- "$BB" memcalc --model tiny --method kd --batch 2 --seq 64
expect 0 "teacher: small \(gpt2 L=6.*int8\), forward only" -- "$BB" memcalc --model tiny --method kd --teacher-model small --teacher-precision int8 --batch 1 --seq 64
expect 2 "--method must be full, kd or lora, got 'qlora'" -- "$BB" memcalc --method qlora
expect 0 "LoRA training" -- "$BB" memcalc --method lora
expect 2 "need --method kd" -- "$BB" memcalc --teacher-model small
expect 2 "the teacher's vocab_size 50257 differs from the student's 4096" -- "$BB" memcalc --method kd --teacher-model gpt2-124m
expect 2 "--precision must be all or one of" -- "$BB" bench gemm --precision fp8
# nf4 is a base-only format (QLoRA's frozen base): no full training, no full-training benchmark
expect 2 "nf4 is a base-only format: use it with --lora" -- "$BB" train --model tiny --precision nf4
expect 2 "nf4 is a base-only format" -- "$BB" bench precisions --precisions fp32,nf4
expect 2 "--seq 256 exceeds the model.s max_seq 64" -- "$BB" bench precisions --model tiny
expect 2 "--rounds must be" -- "$BB" bench precisions --rounds 0
# the quantized head / embedding (config.h quant_head, quant_embed) need a quantized precision
expect 2 "quant_head=on needs a trainable quantized precision" -- "$BB" memcalc --model tiny --set quant_head=on
expect 2 "quant_embed=on needs a trainable quantized precision .* not nf4" -- "$BB" memcalc --model tiny --precision nf4 --set quant_embed=on
expect 2 "--method lora: a frozen base keeps its head and embedding FP32" -- "$BB" memcalc --model tiny --precision int8 --method lora --set quant_head=on
expect 2 "the teacher: quant_head=on needs" -- "$BB" memcalc --model tiny --precision int8 --method kd --teacher-set quant_head=on
expect 2 "--resume takes the model from the checkpoint: drop --set" -- "$BB" train --resume x.ckpt --set quant_head=on
# the 16-bit residual stream (config.h half_residual) needs a 16-bit precision
expect 2 "half_residual=on needs fp16 or bf16 .* not b158" -- "$BB" memcalc --model tiny --precision b158 --set half_residual=on
expect 2 "half_residual must be on or off, got 'yes'" -- "$BB" memcalc --model tiny --precision bf16 --set half_residual=yes
expect 2 "--nf4-double-quant applies to --precision nf4, not int4" -- "$BB" memcalc --precision int4 --nf4-double-quant on
expect 2 "--nf4-double-quant must be on or off, not 'maybe'" -- "$BB" memcalc --precision nf4 --nf4-double-quant maybe
expect 2 "--nf4-double-quant applies to --precision nf4" -- "$BB" export --ckpt x --out y --precision int8 --nf4-double-quant off
expect 0 "every parameter at that rate .* 3\.476 GB" -- "$BB" memcalc --model llama-7b --precision nf4
expect 0 "at 4\.5000 bits/weight" -- "$BB" memcalc --model llama-7b --precision nf4 --nf4-double-quant off
expect 0 "llama-7b +nf4 +base-only" -- "$BB" memcalc --fit
expect 2 "--shapes must be small, llama7b-gemv or all" -- "$BB" bench gemm --shapes huge
expect 2 "--stat must be min or median" -- "$BB" bench gemm --stat mean
expect 2 "--ckpt is required" -- "$BB" generate
expect 2 "--ckpt and --out are required" -- "$BB" export --ckpt x
expect 2 "--split must be valid or test" -- "$BB" eval ppl --ckpt x --split train
expect 2 "--mode must be stride or chunks" -- "$BB" eval ppl --ckpt x --mode zig
expect 2 "must be between 1 and 1000" -- "$BB" bench kernels --repetitions 0
expect 2 "--min-time must be in" -- "$BB" bench kernels --min-time 0
expect 2 "not a valid regular expression" -- "$BB" bench kernels --filter '('
expect 2 "matches no kernel" -- "$BB" bench kernels --filter no_such_kernel
expect 2 "mutually exclusive" -- "$BB" bench kernels --out x.json --baseline
expect 0 "ref_sgemm/fp32/square/n:2048/real_time" -- "$BB" bench kernels --list
expect 2 "missing argument" -- "$BB" bench compare a.json
expect 2 "is ambiguous: write 5% or 0.05" -- "$BB" bench compare a.json b.json --threshold 5
expect 2 "percentage like 5%" -- "$BB" bench compare a.json b.json --threshold five
expect 2 "go together" -- "$BB" bench compare a.json b.json --filter-base x
expect 2 "cannot read /nonexistent/a.json" -- "$BB" bench compare /nonexistent/a.json /nonexistent/b.json
expect 2 "unknown precision 'fp8'" -- "$BB" bench throughput --precisions fp8
expect 2 "unknown method 'qlora'" -- "$BB" bench memory --methods qlora
expect 2 "unknown device 'tpu'" -- "$BB" bench memory --device tpu
expect 2 "exceeds the max_seq 64 of preset tiny" -- "$BB" bench throughput --preset tiny --seq 65
expect 2 "shape for the calculator" -- "$BB" bench quality --preset llama-7b
expect 2 "unknown task 'qa'" -- "$BB" bench quality --tasks qa
expect 2 "mutually exclusive" -- "$BB" suite --tiny --full
expect 0 "bitbench bench quality --out /tmp/x --preset tiny" -- "$BB" suite --tiny --dry-run --out /tmp/x
expect 2 "needs a FILE.csv" -- "$BB" bench schema --header
expect 2 "no CSV named 'x.csv'" -- "$BB" bench schema x.csv
expect 1 "is not a results folder" -- "$BB" plot /nonexistent
expect 1 "is not a results folder" -- "$BB" report /nonexistent --claims "$0"
expect 2 "unknown chart 'pie'" -- "$BB" plot /tmp --only pie

# --- env --------------------------------------------------------------------------
expect 0 "cuda devices" -- "$BB" env
"$BB" env --json >"$TMP/env.json"
if python3 - "$TMP/env.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
for k in ("cpu_model", "isa", "logical_cpus", "memory_gib", "openblas", "openblas_core",
          "compiler", "build_flags", "git_commit", "cuda"):
    assert k in e, k
assert set(e["isa"]) >= {"avx2", "avx512f", "avx512_vnni", "avx512_bf16"}
assert e["cuda"]["status"], "cuda status empty"
PY
then echo "ok   env --json is valid JSON with every field"; else echo "FAIL: env --json"; fails=$((fails + 1)); fi

# --- tokenizer files: missing, corrupt, truncated, garbage --------------------------
expect 0 "trained 3836 merges" -- "$BB" tokenizer train --quiet --out "$TMP/tok.tok"
expect 1 "cannot read tokenizer file '/nonexistent/x.tok'" -- "$BB" tokenizer encode --tok /nonexistent/x.tok --text hi
sed '10s/^\([0-9]*\)/\19/' "$TMP/tok.tok" >"$TMP/corrupt.tok"
expect 1 "checksum mismatch.*corrupt" -- "$BB" tokenizer encode --tok "$TMP/corrupt.tok" --text hi
head -c 5000 "$TMP/tok.tok" >"$TMP/trunc.tok"
expect 1 "truncated" -- "$BB" tokenizer encode --tok "$TMP/trunc.tok" --text hi
head -c 3000 /dev/urandom >"$TMP/garbage.tok"
expect 1 "not a bitbench tokenizer file" -- "$BB" tokenizer encode --tok "$TMP/garbage.tok" --text hi
: >"$TMP/empty.tok"
expect 1 "file is empty" -- "$BB" tokenizer decode --tok "$TMP/empty.tok" --ids 5
expect 1 "cannot read tokenizer file.*Is a directory" -- "$BB" tokenizer encode --tok "$TMP" --text hi

# --- encode / decode ----------------------------------------------------------------
greek='Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν.'
ids=$("$BB" tokenizer encode --tok "$TMP/tok.tok" --text "$greek")
back=$("$BB" tokenizer decode --tok "$TMP/tok.tok" --ids "$ids")
if [ "$back" = "$greek" ]; then echo "ok   CLI round trip of a Greek verse ($ids)"; else
    echo "FAIL: CLI round trip: '$back'"; fails=$((fails + 1)); fi
expect 1 "'99999' is not a token id" -- "$BB" tokenizer decode --tok "$TMP/tok.tok" --ids "5 99999"
expect 1 "'x1' is not a token id" -- "$BB" tokenizer decode --tok "$TMP/tok.tok" --ids "x1"
expect 1 "cannot read /nonexistent.txt" -- "$BB" tokenizer encode --tok "$TMP/tok.tok" --in /nonexistent.txt
head -n 50 "$(dirname "$0")/../datasets/mt/dev.el" >"$TMP/dev50.el"
expect 0 "wrote" -- "$BB" tokenizer encode --tok "$TMP/tok.tok" --in "$TMP/dev50.el" --out "$TMP/dev50.bin"
"$BB" tokenizer decode --tok "$TMP/tok.tok" --in "$TMP/dev50.bin" >"$TMP/dev50.back"
if cmp -s "$TMP/dev50.el" "$TMP/dev50.back"; then echo "ok   token file decodes to its text"; else
    echo "FAIL: token file round trip"; fails=$((fails + 1)); fi
head -c 1000 /dev/urandom >"$TMP/garbage.bin"
expect 1 "not a bitbench token file" -- "$BB" tokenizer decode --tok "$TMP/tok.tok" --in "$TMP/garbage.bin"
head -c 200 "$TMP/dev50.bin" >"$TMP/trunc.bin"
expect 1 "truncated" -- "$BB" tokenizer decode --tok "$TMP/tok.tok" --in "$TMP/trunc.bin"

# --- bench gemm: one precision, the training shapes, one sample: table and CSV ---------
expect 0 "fcproj +2048 +1536 +384 +int8" -- "$BB" bench gemm --precision int8 --shapes small --samples 1 --out "$TMP/gemm"
if [ "$(grep -c '^gemm,' "$TMP/gemm/gemm.csv" 2>/dev/null)" = 8 ]; then echo "ok   bench gemm csv rows"
else echo "FAIL: bench gemm csv: expected 8 gemm rows in $TMP/gemm/gemm.csv"; fails=$((fails + 1)); fi

# --- bench precisions --rounds: paired ratios reduced by medians --------------------
# fp32 is every round's reference (ratio exactly 1), each median ratio lies in its range,
# and the manifest records the whole command line
"$BB" bench precisions --model tiny --seq 16 --batch 2 --steps 2 --rounds 3 --precisions int8,b158 \
    --out "$TMP/prec" >"$TMP/prec.log" 2>&1 || { echo "FAIL: bench precisions exited $?"; fails=$((fails + 1)); }
if awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            { n++; r = $col["ratio_to_fp32"]; lo = $col["ratio_min"]; hi = $col["ratio_max"]
              ok += $col["rounds"] == 3 && lo <= r && r <= hi && ($1 != "fp32" || (r == 1 && lo == 1 && hi == 1)) }
            END { exit !(n == 3 && ok == 3) }' "$TMP/prec/precisions.csv" &&
    tr -d ' \n' <"$TMP/prec/manifest.json" | grep -q '"command":\["bitbench","bench","precisions","--model"'; then
    echo "ok   bench precisions --rounds 3: medians within their ranges, fp32 the reference"
else
    echo "FAIL: bench precisions rounds"; cat "$TMP/prec/precisions.csv" "$TMP/prec/manifest.json"; fails=$((fails + 1))
fi

# --- data verify fails loudly on a damaged copy -------------------------------------
cp -r "$(dirname "$0")/../datasets" "$TMP/data"
expect 0 "all 15 files match" -- "$BB" data verify --data "$TMP/data"
sed -i '1s/beginning/Beginning/' "$TMP/data/lm/train.txt"
expect 1 "FAIL +lm/train.txt +sha256" -- "$BB" data verify --data "$TMP/data"
rm "$TMP/data/mt/dev.en"
expect 1 "FAIL +mt/dev.en +cannot read" -- "$BB" data verify --data "$TMP/data"
expect 1 "cannot read" -- "$BB" data verify --data /nonexistent
expect 1 "cannot read" -- "$BB" data stats --data /nonexistent

echo
if [ "$fails" -eq 0 ]; then echo "cli_test: all checks passed"; exit 0; fi
echo "cli_test: $fails check(s) failed"; exit 1
