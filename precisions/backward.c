/* backward.c — the input gradient through a frozen packed weight matrix, the
 * backward_input of every packed precision (precision.h):
 *   dx (N, C) (+)= dy (N, OC) @ unpack(packed) (OC, C).
 * With a frozen base (LoRA/QLoRA, specs precisions.md §3.2: "gradients flow only into
 * LoRA") the engine keeps no FP32 copy of the weights, so this is the only way the
 * gradient crosses a base linear. The activation quantizer in front of the matmul is
 * passed straight through (identity STE, as in QAT).
 *
 * bb_backward_input_panels: each precision brings a routine that dequantizes rows
 * [r0, r1) of its format (unpack's values bit for bit); this loop dequantizes
 * BB_BWD_PANEL_ROWS rows at a time into a small scratch and accumulates
 * dy[:, panel] @ Wpanel with sgemm, so at most BB_BWD_PANEL_ROWS x C floats of the
 * matrix exist dequantized at any time (bitsandbytes dequantizes the whole matrix for
 * its backward; a panel keeps the memory of the packed form).
 * bb_backward_input_elementwise: the scalar reference, one dot product per output from
 * the codes (weight_at), summed over the output rows in order. */
#include "../common/check.h"
#include "../common/parallel.h"
#include "../engine/alloc.h"
#include "formats.h"
#include <cblas.h>

void bb_backward_input_panels(bb_unpack_rows_fn unpack_rows, float *dx, const float *dy, const void *packed, int N,
                              int C, int OC, const bb_prec_opts *o, int accumulate) {
    if (N <= 0 || C <= 0) return;
    if (OC <= 0) {
        if (!accumulate)
            for (size_t i = 0; i < (size_t)N * C; i++) dx[i] = 0.0f;
        return;
    }
    int rows = OC < BB_BWD_PANEL_ROWS ? OC : BB_BWD_PANEL_ROWS;
    float *panel = bb_alloc(BB_MEM_WORKSPACE, (size_t)rows * C * sizeof(float));
    for (int r0 = 0; r0 < OC; r0 += BB_BWD_PANEL_ROWS) {
        int r1 = r0 + BB_BWD_PANEL_ROWS < OC ? r0 + BB_BWD_PANEL_ROWS : OC;
#pragma omp parallel for schedule(static) if ((size_t)(r1 - r0) * C >= BB_PAR_MIN_WORK)
        for (int r = r0; r < r1; r++) unpack_rows(panel + (size_t)(r - r0) * C, packed, r, r + 1, OC, C, o);
        float beta = r0 == 0 && !accumulate ? 0.0f : 1.0f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, r1 - r0, 1.0f, dy + r0, OC, panel, C, beta, dx,
                    C);
    }
    bb_free(panel);
}

void bb_backward_input_elementwise(bb_weight_at_fn weight_at, float *dx, const float *dy, const void *packed, int N,
                                   int C, int OC, const bb_prec_opts *o, int accumulate) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            float acc = 0.0f;
            for (int r = 0; r < OC; r++) acc += dy[(size_t)n * OC + r] * weight_at(packed, r, c, OC, C, o);
            float *dst = dx + (size_t)n * C + c;
            *dst = accumulate ? *dst + acc : acc;
        }
}
