/* cmd_compare.c — `bitbench bench compare BASE.json NEW.json`: prints Google Benchmark's
 * compare.py report (compare.h) and gates on it. Exit status: 0 no regression, 1 at least
 * one regression, 2 usage or input error (like diff/cmp: 1 must mean "regressed" to a CI
 * job, never "file missing"). */
#include "../common/args.h"
#include "cli.h"
#include "compare.h"
#include "gbench_json.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "bench compare"

static _Noreturn void input_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void input_error(const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "bitbench %s: ", CMD);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* "5%" -> 0.05; "0.05" -> 0.05; a bare number >= 1 is refused as ambiguous. */
static double parse_threshold(const char *s) {
    char *end;
    double v = strtod(s, &end);
    bool percent = *end == '%' && end[1] == '\0';
    if (end == s || (*end && !percent) || !(v >= 0))
        bb_usage_error(CMD, "--threshold expects a percentage like 5%% or a fraction like 0.05, got '%s'", s);
    if (!percent && v >= 1)
        bb_usage_error(CMD, "--threshold %s is ambiguous: write %s%% or %g", s, s, v / 100);
    return percent ? v / 100 : v;
}

static void load(bb_gb_run *r, const char *path) {
    char err[600];
    if (bb_gb_run_load(r, path, err, sizeof err) != 0) input_error("%s", err);
}

/* The settings two kernel runs must share for their times to compare. */
static void warn_context(const bb_gb_run *a, const bb_gb_run *b) {
    static const char *const keys[] = {"bitbench_cpu_model", "bitbench_threads", "bitbench_isa",
                                       "bitbench_planted_slowdown_us", "library_build_type"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *x = bb_gb_run_context(a, keys[i]), *y = bb_gb_run_context(b, keys[i]);
        if ((x || y) && (!x || !y || strcmp(x, y) != 0))
            printf("warning: the runs differ in %s: %s vs %s\n", keys[i], x ? x : "(absent)", y ? y : "(absent)");
    }
}

int bb_cmd_bench_compare(int argc, char **argv) {
    double alpha = 0.05;
    const char *threshold_s = "5%", *filter_base = NULL, *filter_new = NULL;
    bool ratio = false;
    const bb_arg args[] = {
        {"alpha", BB_ARG_DOUBLE, &alpha, "P", "significance level of the U test", 0, -1},
        {"threshold", BB_ARG_STR, &threshold_s, "X%", "slowdown of the median that fails the gate", 0, -1},
        {"ratio", BB_ARG_FLAG, &ratio, NULL, "compare time / in-run reference time instead of raw times", 0, -1},
        {"filter-base", BB_ARG_STR, &filter_base, "REGEX", "compare.py filters mode: keep BASE names matching", 0, -1},
        {"filter-new", BB_ARG_STR, &filter_new, "REGEX", "... and NEW names matching; matches become '.'", 0, -1},
    };
    const bb_cmd_spec spec = {
        CMD,
        "Compare two Google Benchmark JSON files like Google Benchmark's tools/compare.py (relative\n"
        "change per repetition, Mann-Whitney U test p-values, OVERALL_GEOMEAN), then gate: exit 1\n"
        "when a benchmark is significantly slower (p < alpha, >= 9 repetitions on each side) AND\n"
        "its median real time grew by more than the threshold.",
        "BASE.json NEW.json [--alpha 0.05] [--threshold 5%] [--ratio]", args, (int)(sizeof args / sizeof args[0]), 2,
        2,
        "Exit status: 0 no regression, 1 regression, 2 usage or input error.\n"
        "--ratio divides each kernel's times by the median time of the in-run reference named in\n"
        "its label (OpenBLAS sgemm or the STREAM triad, from 'bitbench bench kernels'), so a\n"
        "machine that is uniformly slower or faster between the runs does not move the result."};
    char *pos[2];
    bb_args_parse(&spec, argc, argv, pos);
    if (!(alpha > 0 && alpha < 1)) bb_usage_error(CMD, "--alpha must be between 0 and 1, got %g", alpha);
    double threshold = parse_threshold(threshold_s);
    if (!filter_base != !filter_new) bb_usage_error(CMD, "--filter-base and --filter-new go together");

    bb_gb_run a, b;
    load(&a, pos[0]);
    load(&b, pos[1]);
    char err[400];
    if (filter_base && (bb_gb_run_filter(&a, filter_base, ".", err, sizeof err) != 0 ||
                        bb_gb_run_filter(&b, filter_new, ".", err, sizeof err) != 0))
        bb_usage_error(CMD, "%s", err);
    warn_context(&a, &b);
    if (ratio) {
        bb_gb_run_to_ratios(&a);
        bb_gb_run_to_ratios(&b);
        if (a.n == 0 || b.n == 0)
            input_error("--ratio: no benchmark in %s names an in-run reference in its label (needs 'bitbench bench "
                        "kernels' output)", a.n == 0 ? pos[0] : pos[1]);
    }
    bb_cmp_report rep;
    bb_cmp_report_build(&rep, &a, &b);
    if (rep.n == 0) input_error("%s and %s have no benchmark name (and time unit) in common", pos[0], pos[1]);
    printf("Comparing %s to %s%s\n", pos[0], pos[1], ratio ? " (times / in-run reference time)" : "");
    bb_cmp_print(&rep, stdout);
    bb_gate_summary s = bb_cmp_gate_print(&rep, alpha, threshold, stdout);
    if (s.too_few)
        printf("\nwarning: %d benchmark%s not gated: the gate needs >= %d repetitions on each side "
               "(bitbench bench kernels --repetitions 9)\n", s.too_few, s.too_few == 1 ? " was" : "s were",
               BB_UTEST_OPTIMAL_REPETITIONS);
    printf("\n%s: %d gated, %d regression%s (alpha %g, threshold %+.2f%%)\n",
           s.regressions ? "REGRESSION" : "OK", s.gated, s.regressions, s.regressions == 1 ? "" : "s", alpha,
           100 * threshold);
    bb_cmp_report_free(&rep);
    bb_gb_run_free(&a);
    bb_gb_run_free(&b);
    return s.regressions ? 1 : 0;
}
