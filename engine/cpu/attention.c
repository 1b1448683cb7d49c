/* attention.c — causal multi-head / grouped-query attention on the CPU with sgemm per
 * head. Scores are computed in row blocks of ATT_BLOCK queries against only the keys
 * they can see, so the masked upper triangle costs no FLOPs. The probabilities are kept
 * in att (B,NH,T,T) for backward (llm.c keeps them too). Parallel over (batch, head)
 * in forward and over (batch, kv head) in backward, so the query heads that share a kv
 * head accumulate dk/dv on one thread in a fixed order (deterministic, no atomics).
 * Inside the parallel region OpenBLAS runs single-threaded (omp_in_parallel).
 * Reference: attention_forward_ref / attention_backward_ref in ops_ref.c. */
#include "../../common/parallel.h"
#include "../alloc.h"
#include "isa.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#define ATT_BLOCK 64

static int min_int(int a, int b) { return a < b ? a : b; }

void bb_attention_forward_cpu(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV, int hd) {
    int QKV = (NH + 2 * NKV) * hd, C = NH * hd, group = NH / NKV;
    float scale = 1.0f / sqrtf((float)hd);
    const bb_eltwise_kernels *k = bb_eltwise();
#pragma omp parallel for schedule(dynamic, 1) if ((long)B * NH * T * T * hd >= BB_PAR_MIN_MACS)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH, kvh = h / group;
        const float *base = qkv + (size_t)b * T * QKV;
        const float *Q = base + (size_t)h * hd, *K = base + C + (size_t)kvh * hd;
        const float *V = base + C + (size_t)(NKV + kvh) * hd;
        float *P = att + (size_t)bh * T * T, *Y = out + (size_t)b * T * C + (size_t)h * hd;
        for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
            int rows = min_int(ATT_BLOCK, T - i0), cols = i0 + rows;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, hd, scale, Q + (size_t)i0 * QKV, QKV,
                        K, QKV, 0.0f, P + (size_t)i0 * T, T);
            for (int t = i0; t < i0 + rows; t++) {
                float *p = P + (size_t)t * T, maxv = -INFINITY, sum = 0.0f;
                for (int s = 0; s <= t; s++) maxv = p[s] > maxv ? p[s] : maxv;
                sum = k->exp_shift_sum(p, p, maxv, (size_t)t + 1);
                float inv = 1.0f / sum;
                for (int s = 0; s <= t; s++) p[s] *= inv;
                memset(p + t + 1, 0, (size_t)(T - t - 1) * sizeof *p);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, cols, 1.0f, P + (size_t)i0 * T, T, V, QKV,
                        0.0f, Y + (size_t)i0 * C, C);
        }
    }
}

void bb_attention_backward_cpu(float *dqkv, const float *dout, const float *qkv, const float *att, int B, int T,
                               int NH, int NKV, int hd) {
    int QKV = (NH + 2 * NKV) * hd, C = NH * hd, group = NH / NKV;
    float scale = 1.0f / sqrtf((float)hd);
    int n_threads = omp_get_max_threads();
    float *scratch = bb_alloc(BB_MEM_WORKSPACE, (size_t)n_threads * T * T * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1) if ((long)B * NH * T * T * hd >= BB_PAR_MIN_MACS)
    for (int bk = 0; bk < B * NKV; bk++) {
        int b = bk / NKV, kvh = bk % NKV;
        float *dP = scratch + (size_t)omp_get_thread_num() * T * T;
        const float *base = qkv + (size_t)b * T * QKV;
        float *dbase = dqkv + (size_t)b * T * QKV;
        const float *K = base + C + (size_t)kvh * hd, *V = base + C + (size_t)(NKV + kvh) * hd;
        float *dK = dbase + C + (size_t)kvh * hd, *dV = dbase + C + (size_t)(NKV + kvh) * hd;
        for (int h = kvh * group; h < (kvh + 1) * group; h++) {
            const float *Q = base + (size_t)h * hd, *P = att + ((size_t)b * NH + h) * T * T;
            const float *dY = dout + (size_t)b * T * C + (size_t)h * hd;
            float *dQ = dbase + (size_t)h * hd;
            for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                int rows = min_int(ATT_BLOCK, T - i0), cols = i0 + rows;
                /* dP = dY V^T on the visible block */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, hd, 1.0f, dY + (size_t)i0 * C, C, V,
                            QKV, 0.0f, dP + (size_t)i0 * T, T);
                /* dS = P (dP - rowdot) * scale, in place in dP */
                for (int t = i0; t < i0 + rows; t++) {
                    const float *p = P + (size_t)t * T;
                    float *d = dP + (size_t)t * T, rowdot = 0.0f;
                    for (int s = 0; s <= t; s++) rowdot += p[s] * d[s];
                    for (int s = 0; s <= t; s++) d[s] = p[s] * (d[s] - rowdot) * scale;
                    for (int s = t + 1; s < cols; s++) d[s] = 0.0f;
                }
                /* dQ += dS K */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, cols, 1.0f, dP + (size_t)i0 * T, T, K,
                            QKV, 1.0f, dQ + (size_t)i0 * QKV, QKV);
            }
            /* dK += dS^T Q and dV += P^T dY over the whole lower triangle (zeros above) */
            for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                int rows = min_int(ATT_BLOCK, T - i0), cols = i0 + rows;
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, hd, rows, 1.0f, dP + (size_t)i0 * T, T,
                            Q + (size_t)i0 * QKV, QKV, 1.0f, dK, QKV);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, hd, rows, 1.0f, P + (size_t)i0 * T, T,
                            dY + (size_t)i0 * C, C, 1.0f, dV, QKV);
            }
        }
    }
    bb_free(scratch);
}
