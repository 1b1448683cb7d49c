/* lora_ref.h — the scalar reference of one LoRA-adapted linear's adapter branch, in double
 * (lora.h bb_lora_linear_forward/backward; tests: finite differences in float64 and the
 * sgemm path against it). mask (N, C) or NULL; keep_scale = 1/(1-p). */
#pragma once
#include <stdint.h>

/* h = xd A^T, out += scaling h B^T, xd = mask ? x * mask * keep_scale : x */
void bb_lora_linear_forward_ref_f64(double *out, double *h, const double *x, const double *A, const double *B,
                                    const uint8_t *mask, double keep_scale, double scaling, int N, int C, int OC,
                                    int r);
/* dB += scaling dy^T h, dh = scaling dy B, dA += dh^T xd, dx += mask ? (dh A) * mask * keep_scale : dh A */
void bb_lora_linear_backward_ref_f64(double *dx, double *dA, double *dB, const double *dy, const double *x,
                                     const double *h, const double *A, const double *B, const uint8_t *mask,
                                     double keep_scale, double scaling, int N, int C, int OC, int r);
