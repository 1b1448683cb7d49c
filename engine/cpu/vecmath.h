/* vecmath.h — exp and tanh written as plain float arithmetic so that GCC vectorizes
 * them inside `#pragma omp simd` loops (libm's expf/tanhf are scalar calls: profiling
 * the small preset showed tanhf + expm1f at 20% of a training step in GELU alone).
 *
 * bb_expf: Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, then the Cephes
 * expf minimax polynomial (cephes/single/expf.c; max relative error ~2 ulp on the
 * reduced range), scaled by 2^n through the exponent bits. Inputs are clamped to
 * [-87.3, 88.7], so the result is finite and never denormal-slow.
 * bb_tanhf: 1 - 2 / (exp(2x) + 1): absolute error ~1e-7, which is what GELU and its
 * derivative need (they add tanh to 1). Scalar references keep libm (ops_ref.c). */
#pragma once
#include <stdint.h>

#pragma omp declare simd notinbranch
static inline float bb_expf(float x) {
    x = x < -87.3f ? -87.3f : x > 88.7f ? 88.7f : x;
    /* round to nearest with the 1.5 * 2^23 trick: plain adds, so it vectorizes (roundf does not) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;   /* ln2 split in a high part exact in float ... */
    r = r - n * -2.12194440e-4f;      /* ... and the low remainder */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { float f; int32_t i; } scale = {.i = ((int32_t)n + 127) << 23};
    return p * scale.f;
}

#pragma omp declare simd notinbranch
static inline float bb_tanhf(float x) { return 1.0f - 2.0f / (bb_expf(2.0f * x) + 1.0f); }
