#!/usr/bin/env bash
# kernels_test.sh — `bitbench bench kernels` and `bench compare` end to end (issue #4):
#  1. smoke: two kernels (plus the always-run references) with 2 repetitions; the JSON
#     parses and carries the context, counters, labels and aggregates (gbench_check), the
#     CSV has one row per kernel with a throughput and a ratio;
#  2. planted regression: the same kernel with BITBENCH_BENCH_SLOWDOWN_US (a sleep inside
#     the timed loop) is flagged (exit 1), raw and --ratio; an identical run is not (exit 0).
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

if [ "$fails" -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all kernel benchmark checks passed"
