/* compare.h — `bitbench bench compare`: Google Benchmark's tools/compare.py
 * (tools/gbench/report.py, "benchmarks" mode) in C, plus the regression gate.
 *
 * Report (what compare.py prints; vectors in shared/vectors/gbench-compare.md):
 * benchmarks are paired by name (order of the old file) and by the old file's first
 * time_unit; repetitions are paired by index up to the shorter side; change =
 * (new - old) / |old|. The U test (two-sided Mann–Whitney, scipy 1.10 "auto"; see
 * mannwhitney.h) runs on all values of a name when each side has >= 2 of them, and
 * warns below 9. OVERALL_GEOMEAN compares the geometric means (in seconds) of every
 * non-aggregate real/cpu time of each file, matched or not.
 *
 * Gate (ours): a benchmark is a regression when both sides have >= 9 repetitions, the
 * U test on real time gives p < alpha, and the median real time grew by more than the
 * threshold. Medians, not means, so that one preempted repetition cannot decide. */
#pragma once
#include "gbench_json.h"
#include <stdbool.h>
#include <stdio.h>

#define BB_UTEST_MIN_REPETITIONS 2
#define BB_UTEST_OPTIMAL_REPETITIONS 9

typedef struct {
    double time_old, time_new, cpu_old, cpu_new;  /* in the row's time unit */
    double time_change, cpu_change;
} bb_cmp_measure;

typedef struct {
    char *name;
    char time_unit[8];
    bool aggregate;          /* run_type of the first old entry */
    bb_cmp_measure *m;
    int n_m;
    bool utest;              /* p-values computed (>= 2 values on each side) */
    double p_time, p_cpu;
    int n_old, n_new;        /* values of this name on each side (all, not just paired) */
    double median_old, median_new, median_change;  /* real time */
} bb_cmp_row;

typedef struct {
    bb_cmp_row *rows;
    int n;
    bool has_geomean;
    bb_cmp_measure geomean;  /* in seconds */
} bb_cmp_report;

double bb_cmp_change(double old_val, double new_val);
void bb_cmp_report_build(bb_cmp_report *rep, const bb_gb_run *old_run, const bb_gb_run *new_run);
void bb_cmp_report_free(bb_cmp_report *rep);
/* Prints compare.py's table (colour off). Times as %14.0f like compare.py, or %14.4f when
 * the unit is "ratio" (--ratio). */
void bb_cmp_print(const bb_cmp_report *rep, FILE *f);

typedef enum {
    BB_GATE_NOT_GATED,     /* aggregate row (mean, median, stddev, cv) */
    BB_GATE_TOO_FEW,       /* fewer than 9 repetitions on a side */
    BB_GATE_SAME,          /* not significant */
    BB_GATE_FASTER,        /* significant, median fell */
    BB_GATE_SLOWER,        /* significant, median grew, within the threshold */
    BB_GATE_REGRESSION,    /* significant and slower by more than the threshold */
} bb_gate_verdict;

bb_gate_verdict bb_cmp_gate_row(const bb_cmp_row *r, double alpha, double threshold);
const char *bb_gate_verdict_name(bb_gate_verdict v);

typedef struct {
    int gated, regressions, too_few;
} bb_gate_summary;

/* Prints one line per non-aggregate row and returns the counts. */
bb_gate_summary bb_cmp_gate_print(const bb_cmp_report *rep, double alpha, double threshold, FILE *f);

/* compare.py's filter_benchmark: keep entries whose name matches regex (POSIX ERE,
 * searched anywhere) and replace every match in the name by replacement. Returns 0, or
 * -1 with a reason for a bad regex. (POSIX picks the leftmost-longest match where
 * Python's re picks leftmost-first; simple filters agree.) */
int bb_gb_run_filter(bb_gb_run *r, const char *regex, const char *replacement, char *err, size_t err_len);

/* --ratio: replaces each non-aggregate entry whose label names a benchmark of the same
 * run (its in-run reference, see bench/kernels.h) by its times divided by the
 * reference's median real/cpu time, with time_unit "ratio"; drops every other entry.
 * Returns the number of entries dropped that were not aggregates. */
int bb_gb_run_to_ratios(bb_gb_run *r);

/* Median of x[0..n) (mean of the two middle values for even n); x is not modified. */
double bb_median(const double *x, int n);
