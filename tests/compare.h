/* compare.h — tensor comparison for tests: on failure prints the tensor name, the first
 * values of both sides, the worst index and the max error (DESIGN.md conventions). */
#pragma once
#include "test.h"
#include <math.h>
#include <stddef.h>

static inline double bb_rel_error_f(const float *got, const float *want, size_t n, size_t *worst) {
    double maxd = 0, maxw = 0;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > maxd || isnan(d)) { maxd = isnan(d) ? INFINITY : d; *worst = i; }
        if (fabs(want[i]) > maxw) maxw = fabs(want[i]);
    }
    return maxd / (maxw + 1e-30);
}

static inline double bb_rel_error_d(const double *got, const double *want, size_t n, size_t *worst) {
    double maxd = 0, maxw = 0;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        if (d > maxd || isnan(d)) { maxd = isnan(d) ? INFINITY : d; *worst = i; }
        if (fabs(want[i]) > maxw) maxw = fabs(want[i]);
    }
    return maxd / (maxw + 1e-30);
}

#define BB_EXPECT_CLOSE_IMPL(kind, T, name, got, want, n, tol)                                              \
    do {                                                                                                   \
        size_t worst_;                                                                                     \
        double err_ = bb_rel_error_##kind((got), (want), (n), &worst_);                                    \
        if (!(err_ <= (tol))) {                                                                            \
            fprintf(stderr, "%s:%d: tensor %s: max rel error %.3g > %.3g at [%zu] (got %.9g, want %.9g)\n", \
                    __FILE__, __LINE__, (name), err_, (double)(tol), worst_, (double)(got)[worst_],        \
                    (double)(want)[worst_]);                                                               \
            fprintf(stderr, "    got :");                                                                  \
            for (size_t i_ = 0; i_ < 5 && i_ < (size_t)(n); i_++) fprintf(stderr, " %.7g", (double)(got)[i_]);     \
            fprintf(stderr, "\n    want:");                                                                \
            for (size_t i_ = 0; i_ < 5 && i_ < (size_t)(n); i_++) fprintf(stderr, " %.7g", (double)(want)[i_]);    \
            fprintf(stderr, "\n");                                                                         \
            bb_test_failures++;                                                                            \
        }                                                                                                  \
    } while (0)

#define EXPECT_CLOSE_F(name, got, want, n, tol) BB_EXPECT_CLOSE_IMPL(f, float, name, got, want, n, tol)
#define EXPECT_CLOSE_D(name, got, want, n, tol) BB_EXPECT_CLOSE_IMPL(d, double, name, got, want, n, tol)
