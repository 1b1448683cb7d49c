/* fakequant_fast.c — the weight fake quantizers of fakequant.c rebuilt from the
 * vectorized primitives of the ISA kernels (engine/cpu/isa.h), for the per-step
 * requantization of QAT training. Same scale rules, same rounding (roundf), same clamps;
 * tests/test_ops.c (fake_weights) checks bit-exactness against fakequant.c on every ISA.
 * One caveat: b158's mean|W| is summed in double in 8 interleaved lanes here and
 * sequentially in the reference. The two double sums can differ in their last bits, and
 * in rare cases that moves the float scale by one ulp; the tests' matrices agree. */
#include "../engine/cpu/isa.h"
#include "precision.h"
#include <math.h>

static void fast_int8(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    const bb_eltwise_kernels *k = bb_eltwise();
    for (int r = 0; r < OC; r++) {
        const float *row = w + (size_t)r * C;
        float s = k->absmax(row, (size_t)C) / 127.0f, inv = s > 0 ? 1.0f / s : 0.0f;
        k->fake_block(wq + (size_t)r * C, row, (size_t)C, inv, s, -127.0f, 127.0f);
    }
}

static void fast_int4(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    const bb_eltwise_kernels *k = bb_eltwise();
    int G = o->group;
    for (int r = 0; r < OC; r++)
        for (int g0 = 0; g0 < C; g0 += G) {
            size_t n = (size_t)(C - g0 < G ? C - g0 : G), off = (size_t)r * C + (size_t)g0;
            float s = fmaxf(k->absmax(w + off, n) / 7.5f, 1e-9f);
            k->fake_block(wq + off, w + off, n, 1.0f / s, s, -8.0f, 7.0f);
        }
}

static void fast_b158(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    const bb_eltwise_kernels *k = bb_eltwise();
    size_t n = (size_t)OC * C;
    float g = fmaxf((float)(k->abssum(w, n) / (double)n), 1e-5f);
    k->fake_block(wq, w, n, 1.0f / g, g, -1.0f, 1.0f);
}

static void fast_half(float *wq, const float *w, int OC, int C, bool bf16) {
    const bb_eltwise_kernels *k = bb_eltwise();
    size_t n = (size_t)OC * C;
    for (size_t i = 0; i < n; i++) wq[i] = w[i];
    if (bf16) k->fake_bf16(wq, n);
    else k->fake_fp16(wq, n);
}

static void fast_fp16(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    fast_half(wq, w, OC, C, false);
}

static void fast_bf16(float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    fast_half(wq, w, OC, C, true);
}

typedef void (*fake_weights_fn)(float *, const float *, int, int, const bb_prec_opts *);
static const fake_weights_fn fast[BB_PREC_COUNT] = {
    [BB_PREC_FP16] = fast_fp16, [BB_PREC_BF16] = fast_bf16, [BB_PREC_INT8] = fast_int8,
    [BB_PREC_INT4] = fast_int4, [BB_PREC_B158] = fast_b158,
};

void bb_fake_weights_fast(bb_precision p, float *wq, const float *w, int OC, int C, const bb_prec_opts *o) {
    if (fast[p]) fast[p](wq, w, OC, C, o);
    else bb_precisions[p].fake_weights(wq, w, OC, C, o);
}
