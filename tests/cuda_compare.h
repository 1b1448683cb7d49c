/* cuda_compare.h — NMSE comparison for the CUDA tests (tolerances.h bb_cuda_tolerances):
 * on failure prints the tensor name, the NMSE, the worst element and the first values. */
#pragma once
#include "test.h"
#include <math.h>
#include <stddef.h>

static inline double bb_nmse(const float *got, const float *want, size_t n, size_t *worst) {
    double num = 0, den = 0, maxd = -1;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        if (isnan(d)) return INFINITY;
        num += d * d;
        den += (double)want[i] * want[i];
        if (fabs(d) > maxd) { maxd = fabs(d); *worst = i; }
    }
    return num / (den > 0 ? den : 1e-300);
}

#define EXPECT_NMSE(name, got, want, n, tol)                                                              \
    do {                                                                                                \
        size_t w_;                                                                                      \
        double e_ = bb_nmse((got), (want), (n), &w_);                                                   \
        if (!(e_ <= (tol))) {                                                                           \
            fprintf(stderr, "%s:%d: tensor %s: NMSE %.3g > %.3g, worst [%zu] got %.9g want %.9g\n    got :", \
                    __FILE__, __LINE__, (name), e_, (double)(tol), w_, (double)(got)[w_], (double)(want)[w_]); \
            for (size_t i_ = 0; i_ < 5 && i_ < (size_t)(n); i_++) fprintf(stderr, " %.7g", (double)(got)[i_]); \
            fprintf(stderr, "\n    want:");                                                            \
            for (size_t i_ = 0; i_ < 5 && i_ < (size_t)(n); i_++) fprintf(stderr, " %.7g", (double)(want)[i_]); \
            fputc('\n', stderr);                                                                        \
            bb_test_failures++;                                                                         \
        }                                                                                               \
    } while (0)
