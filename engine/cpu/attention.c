/* attention.c — causal multi-head / grouped-query attention on the CPU with sgemm per
 * head. Scores are computed in row blocks of BB_ATT_BLOCK queries against only the keys
 * they can see, so the masked upper triangle costs no FLOPs. Parallel over (batch, head)
 * in forward and over (batch, kv head) in backward, so the query heads that share a kv
 * head accumulate dk/dv on one thread in a fixed order (deterministic, no atomics).
 * Inside the parallel region OpenBLAS runs single-threaded (omp_in_parallel).
 *
 * The probabilities (B,NH,T,T) are kept in att for backward when att != NULL (llm.c keeps
 * them too). With att == NULL forward keeps none and backward recomputes them from qkv:
 * selective activation recomputation (Korthikanti et al. 2022, arXiv:2205.05198, §4.2).
 * Both paths compute every row block with probs_block into a per-thread scratch block of
 * one layout (64-byte aligned, row stride T), with the same sgemm, the same block
 * partition and the same threading condition, so the recomputed probabilities are the
 * kept ones bit for bit, whatever the vectorizer does with alignment; forward copies the
 * block into att when it keeps it. Backward walks each head's row blocks once, adding
 * every block's dK and dV right after its dQ: the same order of accumulation as two
 * passes, with one row block of scratch instead of T x T.
 * Mixed precision (fmt BB_ATT_F16/BF16, backend.h): each row block is rounded to the
 * 16-bit format in the scratch (the eltwise fake_fp16/fake_bf16 kernels), P V reads the
 * rounded values and att keeps them as 16-bit; backward widens a kept block into the
 * scratch (exact) or recomputes and rounds it, so both paths see the same bits.
 * Reference: attention_forward_ref / attention_backward_ref in ops_ref.c. */
#include "attention.h"
#include "../../common/parallel.h"
#include "../alloc.h"
#include "isa.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

static int min_int(int a, int b) { return a < b ? a : b; }

size_t bb_attention_cpu_scratch_floats(int T, bool backward, bool recompute, bool half) {
    /* BB_ATT_BLOCK x T floats = 256 T bytes: every thread's block stays 64-byte aligned */
    return (size_t)BB_ATT_BLOCK * (size_t)T * (backward && (recompute || half) ? 2 : 1);
}

/* Rounds a block of n probabilities to the 16-bit format of fmt, in place. */
static void round_block(float *P, size_t n, bb_att_fmt fmt, const bb_eltwise_kernels *k) {
    if (fmt == BB_ATT_F16) k->fake_fp16(P, n);
    else if (fmt == BB_ATT_BF16) k->fake_bf16(P, n);
}

/* Probabilities of query rows i0 .. i0+rows of one head into P (rows x T, row stride T):
 * P = scale Q K^T over the cols = i0 + rows visible keys, then per row exp(s - max) / sum
 * and zeros above the diagonal up to T. Q, K: the head's columns of qkv (row stride QKV). */
static void probs_block(float *P, const float *Q, const float *K, int QKV, int i0, int rows, int T, int hd,
                        float scale, const bb_eltwise_kernels *k) {
    int cols = i0 + rows;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, hd, scale, Q + (size_t)i0 * QKV, QKV, K, QKV,
                0.0f, P, T);
    for (int t = i0; t < i0 + rows; t++) {
        float *p = P + (size_t)(t - i0) * T, maxv = -INFINITY, sum = 0.0f;
        for (int s = 0; s <= t; s++) maxv = p[s] > maxv ? p[s] : maxv;
        sum = k->exp_shift_sum(p, p, maxv, (size_t)t + 1);
        float inv = 1.0f / sum;
        for (int s = 0; s <= t; s++) p[s] *= inv;
        memset(p + t + 1, 0, (size_t)(T - t - 1) * sizeof *p);
    }
}

void bb_attention_forward_cpu(float *out, void *att, const float *qkv, int B, int T, int NH, int NKV, int hd,
                              bb_att_fmt fmt) {
    int QKV = (NH + 2 * NKV) * hd, C = NH * hd, group = NH / NKV;
    float scale = 1.0f / sqrtf((float)hd);
    const bb_eltwise_kernels *k = bb_eltwise();
    size_t per_thread = bb_attention_cpu_scratch_floats(T, false, att == NULL, fmt != BB_ATT_F32);
    float *scratch = bb_alloc(BB_MEM_WORKSPACE, (size_t)omp_get_max_threads() * per_thread * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1) if ((long)B * NH * T * T * hd >= BB_PAR_MIN_MACS)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH, kvh = h / group;
        const float *base = qkv + (size_t)b * T * QKV;
        const float *Q = base + (size_t)h * hd, *K = base + C + (size_t)kvh * hd;
        const float *V = base + C + (size_t)(NKV + kvh) * hd;
        float *P = scratch + (size_t)omp_get_thread_num() * per_thread, *Y = out + (size_t)b * T * C + (size_t)h * hd;
        for (int i0 = 0; i0 < T; i0 += BB_ATT_BLOCK) {
            int rows = min_int(BB_ATT_BLOCK, T - i0), cols = i0 + rows;
            size_t off = ((size_t)bh * T + i0) * T, n = (size_t)rows * T;
            probs_block(P, Q, K, QKV, i0, rows, T, hd, scale, k);
            round_block(P, n, fmt, k);
            if (att && fmt == BB_ATT_F32) memcpy((float *)att + off, P, n * sizeof(float));
            else if (att) k->to_half((uint16_t *)att + off, P, n, fmt == BB_ATT_BF16);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, cols, 1.0f, P, T, V, QKV, 0.0f,
                        Y + (size_t)i0 * C, C);
        }
    }
    bb_free(scratch);
}

void bb_attention_backward_cpu(float *dqkv, const float *dout, const float *qkv, const void *att, int B, int T,
                               int NH, int NKV, int hd, bb_att_fmt fmt) {
    int QKV = (NH + 2 * NKV) * hd, C = NH * hd, group = NH / NKV;
    float scale = 1.0f / sqrtf((float)hd);
    const bb_eltwise_kernels *k = bb_eltwise();
    size_t per_thread = bb_attention_cpu_scratch_floats(T, true, att == NULL, fmt != BB_ATT_F32);
    float *scratch = bb_alloc(BB_MEM_WORKSPACE, (size_t)omp_get_max_threads() * per_thread * sizeof(float));
    /* the same condition as forward's (B NH T T hd): recomputed blocks run as kept ones did */
#pragma omp parallel for schedule(dynamic, 1) if ((long)B * NH * T * T * hd >= BB_PAR_MIN_MACS)
    for (int bk = 0; bk < B * NKV; bk++) {
        int b = bk / NKV, kvh = bk % NKV;
        float *dP = scratch + (size_t)omp_get_thread_num() * per_thread;
        float *Pr = dP + (size_t)BB_ATT_BLOCK * T;  /* recomputed or widened probabilities */
        const float *base = qkv + (size_t)b * T * QKV;
        float *dbase = dqkv + (size_t)b * T * QKV;
        const float *K = base + C + (size_t)kvh * hd, *V = base + C + (size_t)(NKV + kvh) * hd;
        float *dK = dbase + C + (size_t)kvh * hd, *dV = dbase + C + (size_t)(NKV + kvh) * hd;
        for (int h = kvh * group; h < (kvh + 1) * group; h++) {
            const float *Q = base + (size_t)h * hd, *dY = dout + (size_t)b * T * C + (size_t)h * hd;
            float *dQ = dbase + (size_t)h * hd;
            for (int i0 = 0; i0 < T; i0 += BB_ATT_BLOCK) {
                int rows = min_int(BB_ATT_BLOCK, T - i0), cols = i0 + rows;
                size_t off = (((size_t)b * NH + h) * T + i0) * T, n = (size_t)rows * T;
                const float *P = Pr;
                if (att && fmt == BB_ATT_F32) P = (const float *)att + off;
                else if (att) k->from_half(Pr, (const uint16_t *)att + off, n, fmt == BB_ATT_BF16);
                else {
                    probs_block(Pr, Q, K, QKV, i0, rows, T, hd, scale, k);
                    round_block(Pr, n, fmt, k);
                }
                /* dP = dY V^T on the visible block */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, hd, 1.0f, dY + (size_t)i0 * C, C, V,
                            QKV, 0.0f, dP, T);
                /* dS = P (dP - rowdot) * scale, in place in dP */
                for (int t = i0; t < i0 + rows; t++) {
                    const float *p = P + (size_t)(t - i0) * T;
                    float *d = dP + (size_t)(t - i0) * T, rowdot = 0.0f;
                    for (int s = 0; s <= t; s++) rowdot += p[s] * d[s];
                    for (int s = 0; s <= t; s++) d[s] = p[s] * (d[s] - rowdot) * scale;
                    for (int s = t + 1; s < cols; s++) d[s] = 0.0f;
                }
                /* dQ += dS K; dK += dS^T Q and dV += P^T dY over the block (zeros above the diagonal) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, cols, 1.0f, dP, T, K, QKV, 1.0f,
                            dQ + (size_t)i0 * QKV, QKV);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, hd, rows, 1.0f, dP, T, Q + (size_t)i0 * QKV,
                            QKV, 1.0f, dK, QKV);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, hd, rows, 1.0f, P, T, dY + (size_t)i0 * C,
                            C, 1.0f, dV, QKV);
            }
        }
    }
    bb_free(scratch);
}
