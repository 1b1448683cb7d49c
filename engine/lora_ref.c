/* lora_ref.c — see lora_ref.h: plain loops, one output at a time. */
#include "lora_ref.h"
#include "alloc.h"

static double dropped(const double *x, const uint8_t *mask, double keep_scale, size_t i) {
    return mask ? (mask[i] ? x[i] * keep_scale : 0.0) : x[i];
}

void bb_lora_linear_forward_ref_f64(double *out, double *h, const double *x, const double *A, const double *B,
                                    const uint8_t *mask, double keep_scale, double scaling, int N, int C, int OC,
                                    int r) {
    for (int n = 0; n < N; n++) {
        for (int j = 0; j < r; j++) {
            double acc = 0.0;
            for (int c = 0; c < C; c++) acc += dropped(x, mask, keep_scale, (size_t)n * C + c) * A[(size_t)j * C + c];
            h[(size_t)n * r + j] = acc;
        }
        for (int o = 0; o < OC; o++) {
            double acc = 0.0;
            for (int j = 0; j < r; j++) acc += h[(size_t)n * r + j] * B[(size_t)o * r + j];
            out[(size_t)n * OC + o] += scaling * acc;
        }
    }
}

void bb_lora_linear_backward_ref_f64(double *dx, double *dA, double *dB, const double *dy, const double *x,
                                     const double *h, const double *A, const double *B, const uint8_t *mask,
                                     double keep_scale, double scaling, int N, int C, int OC, int r) {
    double *dh = bb_alloc(BB_MEM_WORKSPACE, (size_t)N * r * sizeof(double));
    for (int o = 0; o < OC; o++)
        for (int j = 0; j < r; j++) {
            double acc = 0.0;
            for (int n = 0; n < N; n++) acc += dy[(size_t)n * OC + o] * h[(size_t)n * r + j];
            dB[(size_t)o * r + j] += scaling * acc;
        }
    for (int n = 0; n < N; n++)
        for (int j = 0; j < r; j++) {
            double acc = 0.0;
            for (int o = 0; o < OC; o++) acc += dy[(size_t)n * OC + o] * B[(size_t)o * r + j];
            dh[(size_t)n * r + j] = scaling * acc;
        }
    for (int j = 0; j < r; j++)
        for (int c = 0; c < C; c++) {
            double acc = 0.0;
            for (int n = 0; n < N; n++) acc += dh[(size_t)n * r + j] * dropped(x, mask, keep_scale, (size_t)n * C + c);
            dA[(size_t)j * C + c] += acc;
        }
    for (int n = 0; dx && n < N; n++)
        for (int c = 0; c < C; c++) {
            double acc = 0.0;
            for (int j = 0; j < r; j++) acc += dh[(size_t)n * r + j] * A[(size_t)j * C + c];
            size_t i = (size_t)n * C + c;
            dx[i] += mask ? (mask[i] ? acc * keep_scale : 0.0) : acc;
        }
    bb_free(dh);
}
