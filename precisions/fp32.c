/* fp32.c — FP32 in the packed-precision interface (precision.h): the "packed" form is W
 * itself (OC, C) row-major, the forward is OpenBLAS sgemm, the reference a plain loop.
 * Exists so drivers and tests treat every precision alike. */
#include "formats.h"
#include <cblas.h>
#include <string.h>

size_t bb_fp32_packed_size(int OC, int C, const bb_prec_opts *o) {
    (void)o;
    return (size_t)OC * C * sizeof(float);
}

void bb_fp32_pack_ref(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    memcpy(packed, w, (size_t)OC * C * sizeof(float));
}

void bb_fp32_pack(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    bb_fp32_pack_ref(packed, w, OC, C, o);
}

void bb_fp32_unpack(float *w, const void *packed, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    memcpy(w, packed, (size_t)OC * C * sizeof(float));
}

void bb_fp32_forward(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                     int accumulate) {
    (void)o;
    if (N == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, C, 1.0f, packed, C, x, 1, accumulate ? 1.0f : 0.0f, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, x, C, packed, C, accumulate ? 1.0f : 0.0f,
                    out, OC);
}

void bb_fp32_forward_ref(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                         int accumulate) {
    (void)o;
    const float *w = packed;
    for (int n = 0; n < N; n++)
        for (int r = 0; r < OC; r++) {
            float acc = 0.0f;
            for (int c = 0; c < C; c++) acc += x[(size_t)n * C + c] * w[(size_t)r * C + c];
            float *dst = out + (size_t)n * OC + r;
            *dst = accumulate ? *dst + acc : acc;
        }
}

/* The packed form is W itself, so the input gradient is one sgemm on it: nothing to
 * dequantize (precision.h backward_input). */
void bb_fp32_backward_input(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                            const bb_prec_opts *o, int accumulate) {
    (void)o;
    if (N <= 0 || C <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dy, OC, packed, C,
                accumulate ? 1.0f : 0.0f, dx, C);
}

static float weight_at(const void *packed, int r, int c, int OC, int C, const bb_prec_opts *o) {
    (void)OC, (void)o;
    return ((const float *)packed)[(size_t)r * C + c];
}

void bb_fp32_backward_input_ref(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                                const bb_prec_opts *o, int accumulate) {
    bb_backward_input_elementwise(weight_at, dx, dy, packed, N, C, OC, o, accumulate);
}
