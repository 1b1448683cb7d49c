#!/usr/bin/env bash
# harness_test.sh — the harness end to end (issue #8), on the shipped data:
#   1. `bitbench suite --tiny` interrupted by a Ctrl-C after 3 throughput rows (the
#      BITBENCH_STOP_AFTER_ROWS hook raises SIGINT in the driver) stops with status 130 and
#      keeps those rows; running the same command again resumes without redoing them
#      (they stay byte-identical, each key appears once) and finishes, all in under 3
#      minutes;
#   2. every CSV has exactly the documented header (`bitbench bench schema`), and
#      results/README.md holds the current documentation;
#   3. manifest.json holds the env, the exact command lines and a config hash;
#   4. every chart exists as a non-empty PNG and SVG;
#   5. REPORT.md gives every row of every claims table a verdict; REPORT.html embeds the
#      charts;
#   6. --device cuda on a machine without a usable CUDA device is refused with a clear
#      message and the rest still runs;
#   7. rerunning bench quality into a new folder copies the cached rows.
# Usage: harness_test.sh BITBENCH_BINARY
set -u
BB=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# its own cache: the quality cache must start empty for the cache check to mean anything
export BITBENCH_CACHE=$TMP/cache
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }
RUN=$TMP/run
SUITE=(suite --tiny --threads 1 --out "$RUN")

# --- 1. interrupt, then resume -----------------------------------------------------------
t0=$(date +%s)
BITBENCH_STOP_AFTER_ROWS=throughput.csv:3 "$BB" "${SUITE[@]}" >"$TMP/s1.out" 2>&1
st=$?
if [ $st -eq 130 ] && grep -q "run the same command again to resume" "$TMP/s1.out"; then
    ok "an interrupted suite stops with status 130 and says how to resume"
else
    tail -20 "$TMP/s1.out"; fail "interrupted suite: exit $st"
fi
rows_before=$(($(wc -l <"$RUN/throughput.csv") - 1))
[ "$rows_before" -eq 3 ] && ok "3 throughput rows kept at the interrupt" || fail "$rows_before throughput rows after the interrupt, expected 3"
cp "$RUN/throughput.csv" "$TMP/tp_before.csv"
[ -z "$(ls "$RUN" | grep '\.tmp\.')" ] && ok "no temp file left behind" || fail "temp files left: $(ls "$RUN" | grep '\.tmp\.')"

"$BB" "${SUITE[@]}" >"$TMP/s2.out" 2>&1
st=$?
t1=$(date +%s)
[ $st -eq 0 ] && ok "the resumed suite finishes (exit 0)" || { tail -30 "$TMP/s2.out"; fail "resumed suite: exit $st"; }
# the sweep's size depends on the methods this build has (lora, kd)
grep -Eq "resumed: 3 of [0-9]+ rows were already in" "$TMP/s2.out" &&
    ok "the resumed throughput stage skipped the 3 finished rows ($(grep -Eo 'resumed: 3 of [0-9]+' "$TMP/s2.out" | head -1))" ||
    fail "no 'resumed: 3 of N rows' line in the resumed run"
if [ "$(head -4 "$RUN/throughput.csv")" = "$(cat "$TMP/tp_before.csv")" ]; then
    ok "the finished rows are byte-identical after the resume (not measured again)"
else
    fail "the first rows of throughput.csv changed on resume"
fi
dups=$(tail -n +2 "$RUN/throughput.csv" | cut -d, -f1-8 | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] && ok "every throughput key appears once" || fail "$dups duplicated throughput keys"
secs=$((t1 - t0))
[ $secs -lt 180 ] && ok "tiny suite end to end (interrupted + resumed) in $secs s (< 180)" || fail "tiny suite took $secs s (>= 180)"
grep -q "suite: 11 of 11 stages ok" "$TMP/s2.out" && ok "all 11 stages ok" || fail "not every stage ok: $(grep 'stages ok' "$TMP/s2.out")"

# --- 2. CSV schemas -------------------------------------------------------------------------
for csv in throughput.csv memory.csv quality.csv loss_curves.csv kernels.csv fit.csv fit_devices.csv; do
    if [ ! -f "$RUN/$csv" ]; then fail "$csv missing"; continue; fi
    want=$("$BB" bench schema "$csv" --header)
    got=$(head -1 "$RUN/$csv")
    rows=$(($(wc -l <"$RUN/$csv") - 1))
    if [ "$want" = "$got" ] && [ "$rows" -gt 0 ]; then ok "$csv: documented header, $rows rows"
    else fail "$csv: header or rows ($rows) wrong"; echo "    want $want"; echo "    got  $got"; fi
    bad=$(awk -F, -v n="$(echo "$want" | awk -F, '{print NF}')" 'NF != n' "$RUN/$csv" | wc -l)
    [ "$bad" -eq 0 ] || fail "$csv: $bad rows with a wrong field count"
done
for p in fp32 fp16 bf16 int8 int4 b158; do
    grep -q "^cpu,tiny,$p,full," "$RUN/throughput.csv" && grep -q "^cpu,tiny,$p,full," "$RUN/memory.csv" &&
        grep -q ",lm,tiny,$p,full," "$RUN/quality.csv" && grep -q ",mt,tiny,$p,full," "$RUN/quality.csv" ||
        fail "precision $p missing from throughput, memory or quality"
done
if diff <(sed -n '/<!-- schema begin -->/,/<!-- schema end -->/p' "$ROOT/results/README.md" | sed '1d;$d') \
        <("$BB" bench schema) >/dev/null; then
    ok "results/README.md documents the current schemas"
else
    fail "results/README.md is out of date: regenerate its schema section with bitbench bench schema"
fi

# --- 3. manifest --------------------------------------------------------------------------
m=$RUN/manifest.json
for key in '"run_id"' '"command_line": "bitbench suite --tiny --threads 1 --out' '"config_hash"' '"binary_sha256"' \
           '"cpu_model"' '"git_commit"' '"command_line": "bitbench bench throughput --out' '"command_line": "bitbench bench quality --out'; do
    grep -qF "$key" "$m" || fail "manifest.json lacks $key"
done
ok "manifest.json: run id, exact command lines of the suite and its stages, config hash, env"

# --- 4. charts -------------------------------------------------------------------------------
for c in throughput inference memory quality loss kernels fit; do
    png=$RUN/plots/$c.png svg=$RUN/plots/$c.svg
    if [ -s "$png" ] && [ "$(head -c 4 "$png" | od -An -tx1 | tr -d ' ')" = "89504e47" ] && [ "$(wc -c <"$png")" -gt 5000 ] &&
        [ -s "$svg" ] && grep -q "<svg" "$svg" && [ "$(wc -c <"$svg")" -gt 5000 ]; then
        ok "chart $c: PNG $(wc -c <"$png") bytes, SVG $(wc -c <"$svg") bytes"
    else
        fail "chart $c: missing, empty or not a PNG/SVG"
    fi
done

# --- 5. report --------------------------------------------------------------------------------
r=$RUN/REPORT.md
if [ -s "$r" ]; then
    # in the claims sections, every table row has a last cell that is one of the three verdicts
    bad=$(awk '/^## /{claims = ($0 ~ /^## Table/ || $0 ~ /^## Other claims/); n = 0; next}
               claims && /^\|/ { n++; if (n <= 2) next; rows++;
                 c = $0; sub(/ \|$/, "", c); sub(/.*[^\\]\| /, "", c);
                 if (c !~ /^(holds|does not hold \(|not measurable here \()/) bad++ }
               END { print (rows + 0) " " (bad + 0) }' "$r")
    rows=${bad% *}
    nbad=${bad#* }
    [ "$rows" -ge 21 ] && [ "$nbad" -eq 0 ] && ok "REPORT.md: $rows claim rows, each with a verdict" ||
        fail "REPORT.md: $rows claim rows, $nbad without a verdict"
    grep -q "Exact commands" "$r" && grep -q "bitbench bench memory --out" "$r" && grep -q "Machine:" "$r" &&
        ok "REPORT.md header: machine, build, exact commands" || fail "REPORT.md header incomplete"
else
    fail "REPORT.md missing"
fi
grep -q "data:image/png;base64," "$RUN/REPORT.html" 2>/dev/null && ok "REPORT.html embeds the charts" || fail "REPORT.html lacks embedded charts"

# --- 6. a device this machine lacks ------------------------------------------------------------
"$BB" suite --tiny --threads 1 --out "$RUN" --device cuda --no-kernels >"$TMP/s3.out" 2>&1
st=$?
if grep -q "refusing --device cuda" "$TMP/s3.out"; then
    [ $st -eq 0 ] && grep -q "suite: 10 of 10 stages ok" "$TMP/s3.out" &&
        ok "--device cuda refused with a reason ($(grep -m1 'refusing --device cuda' "$TMP/s3.out" | cut -c1-90)...); the rest ran" ||
        { tail -5 "$TMP/s3.out"; fail "--device cuda: the rest did not run (exit $st)"; }
else
    echo "skip: this machine and build have a usable CUDA device; nothing to refuse"
fi
expect_usage=$("$BB" suite --tiny --device tpu 2>&1)
[ $? -eq 2 ] && grep -q "unknown device 'tpu'" <<<"$expect_usage" && ok "--device tpu is a usage error" || fail "--device tpu: $expect_usage"

# --- 7. the quality cache -----------------------------------------------------------------------
"$BB" bench quality --out "$TMP/run2" --preset tiny --precisions fp32,b158 --methods full --threads 1 \
    --lm-steps 20 --lm-batch 8 --lm-seq 64 --mt-steps 20 --mt-batch 8 --lr 3e-3 --warmup 3 --eval-windows 8 \
    --curve-windows 4 --mt-sentences 4 --mt-max-new 12 >"$TMP/q1.out" 2>&1 || fail "bench quality (first)"
"$BB" bench quality --out "$TMP/run3" --preset tiny --precisions fp32,b158 --methods full --threads 1 \
    --lm-steps 20 --lm-batch 8 --lm-seq 64 --mt-steps 20 --mt-batch 8 --lr 3e-3 --warmup 3 --eval-windows 8 \
    --curve-windows 4 --mt-sentences 4 --mt-max-new 12 >"$TMP/q2.out" 2>&1 || fail "bench quality (cached)"
if grep -q "cache: 4 of 4 rows copied" "$TMP/q2.out" &&
    diff <(cut -d, -f1-30 "$TMP/run2/quality.csv") <(cut -d, -f1-30 "$TMP/run3/quality.csv") >/dev/null &&
    [ "$(cut -d, -f31 "$TMP/run3/quality.csv" | sort -u | tr '\n' ' ')" = "cache source " ]; then
    ok "bench quality reruns come from the config-hash cache, with the same numbers"
else
    fail "bench quality cache: $(tail -2 "$TMP/q2.out")"
fi

echo "$fails failure(s)"
[ $fails -eq 0 ]
