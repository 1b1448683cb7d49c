#!/usr/bin/env bash
# kernels_test.sh — `bitbench bench kernels` and `bench compare` end to end (issue #4):
#  1. smoke: two kernels (plus the always-run references) with 2 repetitions; the JSON
#     parses and carries the context, counters, labels and aggregates (gbench_check), the
#     CSV has one row per kernel with a throughput and a ratio;
#  2. planted regression: the same kernel with BITBENCH_BENCH_SLOWDOWN_US (a sleep inside
#     the timed loop) is flagged (exit 1), raw and --ratio; an identical run is not (exit 0).
#  3. packed kernels (bench/kernels_packed.c): --list shows, for every packed precision, a
#     GEMM at each small linear and a GEMV at each Llama-7B shape, and pulls in the fp32
#     peers of a filter's matches; one packed GEMM and one packed GEMV run (2 repetitions,
#     tiny min time) with their fp32 peers, and the JSON (both counters, gbench_check) and
#     the CSV (other throughput, peer, speed-up) carry them.
#
# Robustness on a busy shared machine (2 cores, other jobs, +-30% and worse): everything
# runs with --threads 1, because an OpenMP region on 2 threads waits for whichever thread
# the scheduler delays and then slows by whole time slices; the kernel is a short,
# cache-resident one (layernorm_forward at the small shape, ~0.2 ms) and the planted sleep
# is 50 ms per iteration, i.e. a slowdown of 100x or more. The identical-run check uses a
# 400% threshold: it fails only if one run's median is 5x the other's with p < 0.05, far
# beyond load noise, while the planted 100x is far above the threshold.
# Usage: kernels_test.sh BITBENCH GBENCH_CHECK
set -u
BB=$1
CHECK=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

KERNEL='layernorm_forward/fp32/small/N:2048/C:384/real_time'
REFS='ref_sgemm/fp32/square/n:2048/real_time ref_triad/fp32/stream/n:16777216/real_time ref_copy/fp32/stream/n:16777216/real_time'

# --- 1. smoke -------------------------------------------------------------------------
GELU='gelu_forward/fp32/small/N:2048/F:1536/real_time'
if "$BB" bench kernels --filter '^(layernorm_forward|gelu_forward)/fp32/small/' --repetitions 2 --min-time 0.005 \
        --threads 1 --out "$TMP/smoke.json" >"$TMP/smoke.log" 2>&1; then
    # shellcheck disable=SC2086
    "$CHECK" "$TMP/smoke.json" 2 1 "$KERNEL" "$GELU" $REFS || fail "smoke JSON"
    rows=$(tail -n +2 "$TMP/smoke.csv" | wc -l)
    [ "$rows" -eq 5 ] || fail "smoke CSV has $rows rows, want 5"
    head -1 "$TMP/smoke.csv" | grep -q '^name,op,precision,kind,shape,args,repetitions,median_s,mean_s,stddev_s,cv,' ||
        fail "smoke CSV header: $(head -1 "$TMP/smoke.csv")"
    awk -F, 'NR > 1 && !($13 > 0 && $16 > 0) { bad++ } END { exit bad > 0 }' "$TMP/smoke.csv" ||
        fail "a CSV row lacks a positive throughput or ratio"
    grep -q "^$KERNEL,layernorm_forward,fp32,memory,small,N=2048 C=384,2," "$TMP/smoke.csv" || fail "layernorm CSV row"
    echo "ok   smoke"
else
    fail "smoke run exited $?"; sed 's/^/    | /' "$TMP/smoke.log" | tail -20
fi

# --- 2. planted regression ------------------------------------------------------------
run() {  # run NAME [env...]: 9 repetitions of the kernel (+ references)
    local name=$1; shift
    env "$@" "$BB" bench kernels --filter "^$KERNEL\$" --repetitions 9 --min-time 0.01 --threads 1 \
        --out "$TMP/$name.json" >"$TMP/$name.log" 2>&1 || { fail "run $name exited $?"; tail -5 "$TMP/$name.log"; }
}
compare() {  # compare WANT_STATUS BASE NEW [options]
    local want=$1 base=$2 new=$3; shift 3
    "$BB" bench compare "$TMP/$base.json" "$TMP/$new.json" "$@" >"$TMP/cmp.log" 2>&1
    local got=$?
    if [ "$got" -ne "$want" ]; then
        fail "compare $base $new $* -> exit $got, want $want"; sed 's/^/    | /' "$TMP/cmp.log" | tail -25
        return 1
    fi
    echo "ok   compare $base $new $* -> exit $got"
}
run base
run slow BITBENCH_BENCH_SLOWDOWN_US=50000
run same
grep -q 'slowed on purpose' "$TMP/slow.log" || fail "the planted slowdown is not announced"
if compare 1 base slow --threshold 400%; then
    grep -Eq "^$KERNEL +.*REGRESSION\$" "$TMP/cmp.log" || fail "the regression row does not name $KERNEL"
    grep -q '^REGRESSION: ' "$TMP/cmp.log" || fail "no REGRESSION summary line"
    grep -q 'warning: the runs differ in bitbench_planted_slowdown_us' "$TMP/cmp.log" || fail "no planted-run warning"
    # the references were not slowed, so exactly one regression
    grep -q '1 regression ' "$TMP/cmp.log" || fail "want exactly 1 regression: $(grep '^REGRESSION' "$TMP/cmp.log")"
fi
compare 1 base slow --threshold 400% --ratio
compare 0 base same --threshold 400%
compare 0 base same --threshold 400% --ratio
compare 0 base base   # a run against itself: p = 1 everywhere
# the gate needs 9 repetitions: 2 are never gated, whatever the change
compare 0 base smoke --threshold 0%
grep -q 'not gated' "$TMP/cmp.log" || fail "2 repetitions should be reported as not gated"

# --- input errors: exit 2, never 1 (1 means "regressed") --------------------------------
compare 2 base missing
echo '{"benchmarks": [' >"$TMP/bad.json"
compare 2 base bad
echo '{"benchmarks": [{"name": "other", "real_time": 1, "cpu_time": 1, "time_unit": "ns"}]}' >"$TMP/other.json"
compare 2 base other
compare 2 base slow --threshold 5
compare 2 base slow --alpha 2

# --- 3. packed kernels ------------------------------------------------------------------
"$BB" bench kernels --list >"$TMP/list.txt" 2>&1 || fail "--list exited $?"
for p in fp16 bf16 int8 int4 b158; do
    g=$(grep -Ec "^gemm_forward/$p/small\.(qkv|attproj|fc|fcproj)/N:2048/" "$TMP/list.txt")
    v=$(grep -Ec "^gemv_forward/$p/llama-7b\.(attn|up|down)/N:1/" "$TMP/list.txt")
    [ "$g" -eq 4 ] && [ "$v" -eq 3 ] || fail "$p: $g GEMM rows at small (want 4), $v GEMV rows at llama-7b (want 3)"
done
grep -q '^gemm_forward/int4/small\.qkv/N:2048/C:384/OC:1152/G:32/real_time$' "$TMP/list.txt" || fail "int4 GEMM name"
"$BB" bench kernels --list --filter '^gemv_forward/int8/' >"$TMP/list8.txt" 2>&1 || fail "--list --filter exited $?"
[ "$(grep -c 'fp32 peer' "$TMP/list8.txt")" -eq 3 ] && grep -q '^gemv_forward/fp32/llama-7b\.up/.*(fp32 peer' \
    "$TMP/list8.txt" || fail "--list does not show the 3 fp32 peers of the int8 GEMVs"

PG='gemm_forward/int4/small.fc/N:2048/C:384/OC:1536/G:32/real_time'
PV='gemv_forward/b158/llama-7b.attn/N:1/C:4096/OC:4096/real_time'
FG='gemm_forward/fp32/small.fc/N:2048/C:384/OC:1536/real_time'
FV='gemv_forward/fp32/llama-7b.attn/N:1/C:4096/OC:4096/real_time'
if "$BB" bench kernels --filter '^(gemm_forward/int4/small\.fc|gemv_forward/b158/llama-7b\.attn)/' --repetitions 2 \
        --min-time 0.005 --threads 1 --out "$TMP/packed.json" >"$TMP/packed.log" 2>&1; then
    # shellcheck disable=SC2086
    "$CHECK" "$TMP/packed.json" 2 1 "$PG" "$PV" "$FG" "$FV" $REFS || fail "packed JSON"
    rows=$(tail -n +2 "$TMP/packed.csv" | wc -l)
    [ "$rows" -eq 7 ] || fail "packed CSV has $rows rows, want 7 (2 kernels, 2 fp32 peers, 3 references)"
    head -1 "$TMP/packed.csv" | grep -q ',ratio_to_reference,other_throughput,other_throughput_unit,fp32_peer,speedup_vs_fp32,' ||
        fail "packed CSV header: $(head -1 "$TMP/packed.csv")"
    awk -F, -v pg="$PG" -v pv="$PV" -v fg="$FG" -v fv="$FV" '
        $1 == pg { ok += ($4 == "compute" && $14 == "GFLOP/s" && $17 > 0 && $18 == "GB/s" && $19 == fg && $20 > 0) }
        $1 == pv { ok += ($4 == "memory" && $14 == "GB/s" && $17 > 0 && $18 == "GFLOP/s" && $19 == fv && $20 > 0) }
        $1 == fg || $1 == fv { ok += ($17 > 0 && $19 == "" && $20 == "") }
        END { exit ok != 4 }' "$TMP/packed.csv" || fail "packed CSV rows: $(grep -E '^(gemm|gemv)_' "$TMP/packed.csv")"
    # the summary table: name, median, unit, cv, GB/s, ratio, GFLOP/s ("other"), speed-up over fp32
    awk -v n="$PV" '$1 == n && $6 == "GB/s" && $9 == "GFLOP/s" && $10 > 0 { ok = 1 } END { exit !ok }' \
        "$TMP/packed.log" || fail "the console table lacks the GEMV's GB/s, GFLOP/s and speed-up"
    echo "ok   packed kernels"
else
    fail "packed run exited $?"; sed 's/^/    | /' "$TMP/packed.log" | tail -20
fi

if [ "$fails" -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all kernel benchmark checks passed"
