/* tolerances.h — test tolerances, in one table keyed by precision (DESIGN.md: never
 * magic numbers in tests). Errors are max|got - want| / (max|want| + tiny), per tensor.
 * Precisions beyond FP32 add rows here as they land. */
#pragma once

typedef struct {
    const char *precision;
    double op_vs_ref;         /* fast op vs scalar reference, same precision */
    double fd_f64;            /* analytic vs central finite difference, double reference ops */
    double fd_model_f32;      /* whole float model vs finite differences (float round-off bound) */
    double model_vs_ref;      /* whole model, fast backend vs reference backend */
} bb_tolerance;

static const bb_tolerance bb_tolerances[] = {
    {"fp32", 2e-5, 1e-6, 2e-2, 1e-4},
};

static inline const bb_tolerance *bb_tol(const char *precision) {
    for (unsigned i = 0; i < sizeof bb_tolerances / sizeof bb_tolerances[0]; i++)
        if (__builtin_strcmp(bb_tolerances[i].precision, precision) == 0) return &bb_tolerances[i];
    return &bb_tolerances[0];
}
