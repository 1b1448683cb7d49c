/* mannwhitney.h — the two-sided Mann–Whitney U test exactly as scipy 1.10's
 * scipy.stats.mannwhitneyu(x, y, alternative="two-sided") computes it, because Google
 * Benchmark's tools/compare.py gates on that p-value (shared/vectors/gbench-compare.md V4).
 *
 * method "auto" (scipy 1.7 .. 1.10): the exact null distribution when there are no ties
 * and at least one sample has <= 8 values; otherwise the normal approximation with the
 * tie correction and a continuity correction of 0.5. U1 is the statistic of x
 * (R1 - n1(n1+1)/2 with average ranks); the p-value uses U = max(U1, n1*n2 - U1),
 * p = 2 * P(U' >= U) (exact) or 2 * (1 - Phi(z)), clipped to [0, 1]. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef enum { BB_MWU_AUTO, BB_MWU_EXACT, BB_MWU_ASYMPTOTIC } bb_mwu_method;

typedef struct {
    double u1;        /* U statistic of x */
    double p;         /* two-sided p-value; NAN if a sample is empty or holds a NaN */
    bool exact;       /* which method produced p */
    bool ties;
} bb_mwu_result;

bb_mwu_result bb_mannwhitneyu(const double *x, size_t n1, const double *y, size_t n2, bb_mwu_method method);

/* P(U >= k) under H0 for sample sizes n1, n2 without ties (k an integer in [0, n1*n2]). */
double bb_mwu_exact_sf(long k, size_t n1, size_t n2);
