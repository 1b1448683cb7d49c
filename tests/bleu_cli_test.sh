#!/usr/bin/env bash
# bleu_cli_test.sh — `bitbench eval bleu` end to end on small files: sacreBLEU's README
# corpus in text and JSON form (expected strings from ../shared/vectors/sacrebleu.md and
# sacrebleu 2.6.0's CLI), several references, chrF/chrF++, sentence level, CRLF and
# missing-final-newline input, and the error contract (exit 2 for usage errors, exit 1 with
# one sentence for bad files, never a crash).
# Usage: bleu_cli_test.sh BITBENCH_BINARY
set -u
BB=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0

# shellcheck source=tests/expect.sh
source "$(dirname "$0")/expect.sh"

# same NAME GOT WANT: exact comparison of two texts.
same() {
    if [ "$2" = "$3" ]; then echo "ok   $1"; else
        echo "FAIL: $1"; echo "    got:  $2"; echo "    want: $3"; fails=$((fails + 1)); fi
}

printf '%s\n' "The dog bit the man." "It wasn't surprising." "The man had just bitten him." >"$TMP/hyp"
printf '%s\n' "The dog bit the man." "It was not unexpected." "The man bit him first." >"$TMP/ref1"
printf '%s\n' "The dog had bit the man." "No one was surprised." "The man had bitten the dog." >"$TMP/ref2"

# --- text output (sacrebleu -f text) ---------------------------------------------------
same "README corpus, 2 refs, width 2" "$("$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --ref "$TMP/ref2" --width 2)" \
    "BLEU|nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"
same "README corpus, default width 1, short signature" \
    "$("$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --ref "$TMP/ref2" --short)" \
    "BLEU|#:2|c:mixed|e:no|tok:13a|s:exp|v:2.6.0 = 48.5 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"
same "stream 2 only" "$("$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref2" --width 2)" \
    "BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 28.33 70.6/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)"
same "add-k signature and score" \
    "$("$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --ref "$TMP/ref2" --smooth add-k --width 2)" \
    "BLEU|nrefs:2|case:mixed|eff:no|tok:13a|smooth:add-k[1.00]|version:2.6.0 = 52.70 82.4/53.3/50.0/44.4 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"
same "BLEU and chrF, aligned at '='" \
    "$("$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --ref "$TMP/ref2" --metrics bleu,chrf --width 2)" \
    "  BLEU|nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
chrF2|nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0 = 59.73"
same "--metrics given twice = bleu,chrf" \
    "$("$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --ref "$TMP/ref2" --metrics chrf --metrics bleu --width 2)" \
    "$("$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --ref "$TMP/ref2" --metrics bleu,chrf --width 2)"
same "chrF++ lowercase" \
    "$("$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --ref "$TMP/ref2" --metrics chrf --chrf-word-order 2 --chrf-lowercase --width 2)" \
    "chrF2++|nrefs:2|case:lc|eff:yes|nc:6|nw:2|space:no|version:2.6.0 = 59.37"
same "sentence level (effective order)" "$("$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --ref "$TMP/ref2" --sentence --width 2)" \
    "BLEU|nrefs:2|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0 = 100.00 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)
BLEU|nrefs:2|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0 = 14.79 50.0/16.7/12.5/12.5 (BP = 0.779 ratio = 0.800 hyp_len = 4 ref_len = 5)
BLEU|nrefs:2|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0 = 29.07 85.7/33.3/20.0/12.5 (BP = 1.000 ratio = 1.000 hyp_len = 7 ref_len = 7)"

# --- input forms: CRLF line ends, no final newline, trailing Unicode spaces ------------
sed 's/$/\r/' "$TMP/hyp" >"$TMP/hyp.crlf"
printf '%s\n%s\n%s' "The dog bit the man.  " "It wasn't surprising.$(printf '\xc2\xa0')" "The man had just bitten him." >"$TMP/hyp.nonl"
want=$("$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --width 6)
same "CRLF hypothesis file" "$("$BB" eval bleu --hyp "$TMP/hyp.crlf" --ref "$TMP/ref1" --width 6)" "$want"
same "no final newline, trailing spaces" "$("$BB" eval bleu --hyp "$TMP/hyp.nonl" --ref "$TMP/ref1" --width 6)" "$want"

# --- JSON output (sacrebleu's default format) --------------------------------------------
"$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --ref "$TMP/ref2" --json >"$TMP/one.json"
"$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --ref "$TMP/ref2" --json --metrics bleu,chrf --width 2 >"$TMP/two.json"
"$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --json --sentence --metrics chrf >"$TMP/sent.json"
if python3 - "$TMP/one.json" "$TMP/two.json" "$TMP/sent.json" <<'PY'
import json, sys
one = json.load(open(sys.argv[1]))
assert one == {"name": "BLEU", "score": 48.5,
               "signature": "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
               "verbose_score": "82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)",
               "nrefs": "2", "case": "mixed", "eff": "no", "tok": "13a", "smooth": "exp", "version": "2.6.0"}, one
two = json.load(open(sys.argv[2]))
assert [m["name"] for m in two] == ["BLEU", "chrF2"] and [m["score"] for m in two] == [48.53, 59.73], two
assert two[1]["nc"] == "6" and two[1]["eff"] == "yes" and "verbose_score" not in two[1], two
sent = json.load(open(sys.argv[3]))
assert len(sent) == 3 and sent[0]["score"] == 100.0 and all(s["name"] == "chrF2" for s in sent), sent
PY
then echo "ok   JSON output: one metric, two metrics, sentence level"; else echo "FAIL: JSON output"; fails=$((fails + 1)); fi

# --- usage errors: exit 2 -------------------------------------------------------------------
expect 0 "Usage: bitbench eval bleu" -- "$BB" eval bleu --help
expect 2 "--hyp is required" -- "$BB" eval bleu --ref "$TMP/ref1"
expect 2 "at least one --ref is required" -- "$BB" eval bleu --hyp "$TMP/hyp"
expect 2 "unknown option '--frob'" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --frob
expect 2 "unknown metric 'ter'" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --metrics bleu,ter
expect 2 "unknown --tokenize 'zh' \(choose 13a\|none\|intl\|char\)" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --tokenize zh
expect 2 "unknown --smooth 'add-one'" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --smooth add-one
expect 2 "--smooth-value applies to floor and add-k, not exp" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --smooth-value 0.2
expect 2 "--smooth-value must be a finite number >= 0" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --smooth floor --smooth-value -1
expect 2 "expects a number, got 'x'" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --smooth floor --smooth-value x
expect 2 "--sentence takes one metric, got 2" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --sentence --metrics bleu,chrf
expect 2 "must be between 0 and 15" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --width 16
expect 2 "must be between 0 and 8" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --chrf-word-order 9
expect 2 "unexpected argument 'extra'" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" extra

# --- bad files: exit 1, one sentence ------------------------------------------------------
expect 1 "cannot read hypothesis file '/nonexistent/h': No such file" -- "$BB" eval bleu --hyp /nonexistent/h --ref "$TMP/ref1"
expect 1 "cannot read reference file '/nonexistent/r'" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref1" --ref /nonexistent/r
expect 1 "cannot read reference file .*Is a directory" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP"
head -n 2 "$TMP/ref1" >"$TMP/ref.short"
expect 1 "has 3 lines but reference file '.*ref.short' has 2" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/ref.short"
: >"$TMP/empty"
expect 1 "hypothesis file '.*empty' is empty" -- "$BB" eval bleu --hyp "$TMP/empty" --ref "$TMP/ref1"
printf 'ok\nbad \xff byte\nok\n' >"$TMP/latin1"
expect 1 "hypothesis file '.*latin1' line 2 is not valid UTF-8 \(byte 5 of the line\)" -- "$BB" eval bleu --hyp "$TMP/latin1" --ref "$TMP/ref1"
printf 'a\nb\0c\nd\n' >"$TMP/nul"
expect 1 "reference file '.*nul' line 2 contains a NUL byte" -- "$BB" eval bleu --hyp "$TMP/hyp" --ref "$TMP/nul"

echo
if [ "$fails" -eq 0 ]; then echo "bleu_cli_test: all checks passed"; exit 0; fi
echo "bleu_cli_test: $fails check(s) failed"; exit 1
