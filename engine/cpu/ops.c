/* ops.c — the CPU backend: OpenBLAS sgemm for every matmul, OpenMP for the rest.
 *
 * Threading model: Debian's OpenMP build of OpenBLAS shares libgomp's pool with our
 * loops. Big GEMMs are called outside parallel regions and use every thread; inside
 * our parallel regions (attention) OpenBLAS sees omp_in_parallel() and runs on the
 * calling thread, so the cores are never oversubscribed.
 *
 * Determinism: no atomics and no thread-count-dependent reductions. Reductions over
 * rows (bias, norm weight, embedding gradients) are split by output channel, so each
 * sum runs in row order on one thread whatever the thread count.
 * Scalar references: ops_ref.c. */
#include "../../common/check.h"
#include "../alloc.h"
#include "../backend.h"
#include "attention.h"
#include "isa.h"
#include "../../common/parallel.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>


/* ---- matmul ---------------------------------------------------------------------- */

static void matmul_forward_cpu(float *out, const float *inp, const float *weight, const float *bias, int N, int C,
                               int OC, int accumulate) {
    float beta = accumulate ? 1.0f : 0.0f;
    if (bias) {
#pragma omp parallel for schedule(static) if ((size_t)N * OC >= BB_PAR_MIN_WORK)
        for (int n = 0; n < N; n++) {
            float *o = out + (size_t)n * OC;
            if (accumulate)
                for (int j = 0; j < OC; j++) o[j] += bias[j];
            else
                memcpy(o, bias, (size_t)OC * sizeof *o);
        }
        beta = 1.0f;
    }
    if ((long)N * C * OC < BB_PAR_MIN_MACS) {
        /* tiny products on this thread: OpenBLAS forks its OpenMP team even for a 32x128
         * sgemv, and under CPU contention each fork costs milliseconds. The dot product
         * is the vectorized one: a plain loop with one running sum cannot be vectorized
         * under ISO float rules and made decoding 25 % slower (small: 843 -> 631 tok/s). */
        const bb_eltwise_kernels *k = bb_eltwise();
        for (int n = 0; n < N; n++)
            for (int j = 0; j < OC; j++) {
                float acc = k->dot(weight + (size_t)j * C, inp + (size_t)n * C, (size_t)C);
                float *o = out + (size_t)n * OC + j;
                *o = beta != 0.0f ? *o + acc : acc; /* beta is 0 or 1; 0 must not read out */
            }
    } else if (N == 1)  /* one token (decoding): a matrix-vector product, no GEMM packing */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, C, 1.0f, weight, C, inp, 1, beta, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C, beta, out, OC);
}

/* Column sums of (N, W) added into acc (W): threads split the columns. */
static void colsum_accumulate(float *acc, const float *x, int N, int W) {
#pragma omp parallel if ((size_t)N * W >= BB_PAR_MIN_WORK)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int lo = (int)((long)W * id / nt), hi = (int)((long)W * (id + 1) / nt);
        for (int n = 0; n < N; n++) {
            const float *row = x + (size_t)n * W;
            for (int j = lo; j < hi; j++) acc[j] += row[j];
        }
    }
}

static void matmul_backward_cpu(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                const float *weight, int N, int C, int OC) {
    if (dinp) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C);
    if (dweight) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
    if (dbias) colsum_accumulate(dbias, dout, N, OC);
}

/* ---- norms ----------------------------------------------------------------------- */

static void layernorm_forward_cpu(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                                  const float *bias, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= BB_PAR_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float m = 0.0f, v = 0.0f;
#pragma omp simd reduction(+ : m)
        for (int c = 0; c < C; c++) m += x[c];
        m /= (float)C;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        float s = 1.0f / sqrtf(v / (float)C + eps);
#pragma omp simd
        for (int c = 0; c < C; c++) y[c] = (x[c] - m) * s * weight[c] + bias[c];
        mean[n] = m;
        rstd[n] = s;
    }
}

static void layernorm_backward_cpu(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                   const float *weight, const float *mean, const float *rstd, int N, int C) {
#pragma omp parallel if ((size_t)N * C >= BB_PAR_MIN_WORK)
    {
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C, mu = mean[n], r = rstd[n];
            float a = 0.0f, b = 0.0f;
#pragma omp simd reduction(+ : a, b)
            for (int c = 0; c < C; c++) {
                float dnorm = weight[c] * dy[c];
                a += dnorm;
                b += dnorm * (x[c] - mu) * r;
            }
            a /= (float)C;
            b /= (float)C;
#pragma omp simd
            for (int c = 0; c < C; c++) dx[c] += (weight[c] * dy[c] - a - (x[c] - mu) * r * b) * r;
        }
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int lo = (int)((long)C * id / nt), hi = (int)((long)C * (id + 1) / nt);
        for (int n = 0; dweight && n < N; n++) { /* a frozen norm (NULL) has no gradients */
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float mu = mean[n], r = rstd[n];
#pragma omp simd
            for (int c = lo; c < hi; c++) {
                dweight[c] += (x[c] - mu) * r * dy[c];
                dbias[c] += dy[c];
            }
        }
    }
}

/* RMSNorm: the row kernels of the active ISA (eltwise.c). */
static void rmsnorm_forward_cpu(float *out, float *rstd, const float *inp, const float *weight, int N, int C,
                                float eps) {
    const bb_eltwise_kernels *k = bb_eltwise();
#pragma omp parallel for schedule(static) if ((size_t)N * C >= BB_PAR_MIN_WORK)
    for (int n = 0; n < N; n++)
        rstd[n] = k->rmsnorm_row(out + (size_t)n * C, inp + (size_t)n * C, weight, (size_t)C, eps);
}

static void rmsnorm_backward_cpu(float *dinp, float *dweight, const float *dout, const float *inp,
                                 const float *weight, const float *rstd, int N, int C) {
    const bb_eltwise_kernels *k = bb_eltwise();
#pragma omp parallel if ((size_t)N * C >= BB_PAR_MIN_WORK)
    {
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++)
            k->rmsnorm_row_backward(dinp + (size_t)n * C, dout + (size_t)n * C, inp + (size_t)n * C, weight, rstd[n],
                                    (size_t)C);
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int lo = (int)((long)C * id / nt), hi = (int)((long)C * (id + 1) / nt);
        for (int n = 0; dweight && n < N; n++)
            k->rmsnorm_dweight(dweight + lo, inp + (size_t)n * C + lo, dout + (size_t)n * C + lo, rstd[n],
                               (size_t)(hi - lo));
    }
}

/* ---- activations ----------------------------------------------------------------- */

/* Elementwise work is split into fixed chunks of the ISA kernels (isa.h). */
#define ELT_CHUNK 8192

static void gelu_forward_cpu(float *out, const float *inp, int N, int F) {
    const bb_eltwise_kernels *k = bb_eltwise();
    size_t n = (size_t)N * F, chunks = (n + ELT_CHUNK - 1) / ELT_CHUNK;
#pragma omp parallel for schedule(static) if ((size_t)(chunks) * ELT_CHUNK >= 2 * BB_PAR_MIN_WORK)
    for (size_t c = 0; c < chunks; c++) {
        size_t lo = c * ELT_CHUNK, len = n - lo < ELT_CHUNK ? n - lo : ELT_CHUNK;
        k->gelu_forward(out + lo, inp + lo, len);
    }
}

static void gelu_backward_cpu(float *dinp, const float *inp, const float *dout, int N, int F) {
    const bb_eltwise_kernels *k = bb_eltwise();
    size_t n = (size_t)N * F, chunks = (n + ELT_CHUNK - 1) / ELT_CHUNK;
#pragma omp parallel for schedule(static) if ((size_t)(chunks) * ELT_CHUNK >= 2 * BB_PAR_MIN_WORK)
    for (size_t c = 0; c < chunks; c++) {
        size_t lo = c * ELT_CHUNK, len = n - lo < ELT_CHUNK ? n - lo : ELT_CHUNK;
        k->gelu_backward(dinp + lo, inp + lo, dout + lo, len);
    }
}

static void swiglu_forward_cpu(float *out, const float *inp, int N, int F) {
    const bb_eltwise_kernels *k = bb_eltwise();
#pragma omp parallel for schedule(static) if ((size_t)N * F >= BB_PAR_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *g = inp + (size_t)n * 2 * F;
        k->swiglu_forward(out + (size_t)n * F, g, g + F, (size_t)F);
    }
}

static void swiglu_backward_cpu(float *dinp, const float *inp, const float *dout, int N, int F) {
    const bb_eltwise_kernels *k = bb_eltwise();
#pragma omp parallel for schedule(static) if ((size_t)N * F >= BB_PAR_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *g = inp + (size_t)n * 2 * F;
        float *dg = dinp + (size_t)n * 2 * F;
        k->swiglu_backward(dg, dg + F, g, g + F, dout + (size_t)n * F, (size_t)F);
    }
}

static void rope_apply_cpu(float *qkv, const float *cos, const float *sin, int B, int T, int NH, int NKV, int hd,
                           float sign) {
    int QKV = (NH + 2 * NKV) * hd, half = hd / 2;
#pragma omp parallel for schedule(static) if ((size_t)B * T * QKV >= BB_PAR_MIN_WORK)
    for (int bt = 0; bt < B * T; bt++) {
        int t = bt % T;
        const float *cs = cos + (size_t)t * half, *sn = sin + (size_t)t * half;
        for (int h = 0; h < NH + NKV; h++) {
            float *x = qkv + (size_t)bt * QKV + (size_t)h * hd;
#pragma omp simd
            for (int i = 0; i < half; i++) {
                float c = cs[i], s = sign * sn[i], x1 = x[i], x2 = x[i + half];
                x[i] = x1 * c - x2 * s;
                x[i + half] = x2 * c + x1 * s;
            }
        }
    }
}

static void rope_forward_cpu(float *qkv, const float *cos, const float *sin, int B, int T, int NH, int NKV, int hd) {
    rope_apply_cpu(qkv, cos, sin, B, T, NH, NKV, hd, 1.0f);
}

static void rope_backward_cpu(float *dqkv, const float *cos, const float *sin, int B, int T, int NH, int NKV,
                              int hd) {
    rope_apply_cpu(dqkv, cos, sin, B, T, NH, NKV, hd, -1.0f);
}

static void residual_bias_forward_cpu(float *out, const float *x, const float *bias, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= BB_PAR_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *xi = x + (size_t)n * C;
        float *o = out + (size_t)n * C;
        if (bias) {
#pragma omp simd
            for (int c = 0; c < C; c++) o[c] = xi[c] + bias[c];
        } else {
            memcpy(o, xi, (size_t)C * sizeof *o);
        }
    }
}

/* ---- loss ------------------------------------------------------------------------ */

/* p = softmax(z) for one row; returns -log p[target] from the log-sum-exp (0 if target < 0). */
/* p may be z itself (logits_in_place, backend.h): z[target] is read before p is written. */
static float crossentropy_row(const bb_eltwise_kernels *k, float *p, const float *z, int target, int V) {
    float maxv = -INFINITY, zt = target < 0 ? 0.0f : z[target];
    for (int v = 0; v < V; v++) maxv = z[v] > maxv ? z[v] : maxv;
    float sum = k->exp_shift_sum(p, z, maxv, (size_t)V), inv = 1.0f / sum;
#pragma omp simd
    for (int v = 0; v < V; v++) p[v] *= inv;
    return target < 0 ? 0.0f : logf(sum) + maxv - zt;
}

static void crossentropy_forward_cpu(float *losses, float *probs, const float *logits, const int *targets, int N,
                                     int V) {
    const bb_eltwise_kernels *k = bb_eltwise();
#pragma omp parallel for schedule(static) if ((size_t)N * V >= BB_PAR_MIN_WORK)
    for (int n = 0; n < N; n++)
        losses[n] = crossentropy_row(k, probs + (size_t)n * V, logits + (size_t)n * V, targets[n], V);
}

static void crossentropy_backward_cpu(float *dlogits, const float *probs, const int *targets, float scale, int N,
                                      int V) {
#pragma omp parallel for schedule(static) if ((size_t)N * V >= BB_PAR_MIN_WORK)
    for (int n = 0; n < N; n++) {
        float *d = dlogits + (size_t)n * V;
        const float *p = probs + (size_t)n * V;
        if (targets[n] < 0) {
            memset(d, 0, (size_t)V * sizeof *d);
            continue;
        }
#pragma omp simd
        for (int v = 0; v < V; v++) d[v] = p[v] * scale;
        d[targets[n]] -= scale;
    }
}

/* e = exp(z / T - max(z / T)) for one row (z / T as z * inv); returns the sum of e and
 * the maximum in *maxv. */
static float exp_row_temp(const bb_eltwise_kernels *k, float *e, const float *z, float inv, int V, float *maxv) {
    float m = -INFINITY;
    for (int v = 0; v < V; v++) m = z[v] > m ? z[v] : m;
#pragma omp simd
    for (int v = 0; v < V; v++) e[v] = z[v] * inv;
    *maxv = m * inv;
    return k->exp_shift_sum(e, e, *maxv, (size_t)V);
}

/* Knowledge distillation (backend.h). With e_t = exp(z_t/T - m_t), S_t = sum e_t (and m_s,
 * S_s for the student), sum P_T = 1 turns the KL into
 *   KL = sum_v P_T (z_t - z_s) / T - lse(z_t/T) + lse(z_s/T)
 *      = (sum_v e_t (z_t - z_s)) / (T S_t) + (m_s - m_t) + log(S_s / S_t),
 * summed and combined in double: the terms are O(1) while a KL is often 1e-3. The probs
 * row is the scratch for the exponentials until the cross-entropy writes it. */
static void kd_forward_cpu(float *losses, float *probs, const float *logits, const float *tlogits, const int *targets,
                           float alpha, float temp, int N, int V) {
    const bb_eltwise_kernels *k = bb_eltwise();
    float inv = 1.0f / temp;
#pragma omp parallel for schedule(static) if ((size_t)N * V >= BB_PAR_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *zs = logits + (size_t)n * V, *zt = tlogits + (size_t)n * V;
        float *p = probs + (size_t)n * V;
        double kl = 0.0;
        if (targets[n] >= 0) {
            float ms, mt;
            float ss = exp_row_temp(k, p, zs, inv, V, &ms), st = exp_row_temp(k, p, zt, inv, V, &mt);
            double dot = 0.0;
            for (int v = 0; v < V; v++) dot += (double)p[v] * ((double)zt[v] - zs[v]);
            kl = dot * inv / st + ((double)ms - mt) + log((double)ss / st);
        }
        float ce = crossentropy_row(k, p, zs, targets[n], V);
        losses[n] = targets[n] < 0 ? 0.0f : (float)(alpha * (double)ce + (1.0 - alpha) * (double)temp * temp * kl);
    }
}

static void kd_backward_cpu(float *dlogits, const float *probs, const float *logits, const float *tlogits,
                            const int *targets, float alpha, float temp, float scale, int N, int V) {
    const bb_eltwise_kernels *k = bb_eltwise();
    float inv = 1.0f / temp;
#pragma omp parallel if ((size_t)N * V >= BB_PAR_MIN_WORK)
    {
        float *qs = bb_alloc(BB_MEM_WORKSPACE, 2 * (size_t)V * sizeof(float)), *pt = qs + V;
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            float *d = dlogits + (size_t)n * V;
            const float *p = probs + (size_t)n * V;
            if (targets[n] < 0) {
                memset(d, 0, (size_t)V * sizeof *d);
                continue;
            }
            float ms, mt;
            float ss = exp_row_temp(k, qs, logits + (size_t)n * V, inv, V, &ms);
            float st = exp_row_temp(k, pt, tlogits + (size_t)n * V, inv, V, &mt);
            /* scale [alpha (p - y) + (1 - alpha) T (Q_T - P_T)], Q_T = qs / ss, P_T = pt / st */
            float a = alpha * scale, b = (1.0f - alpha) * temp * scale, bs = b / ss, bt = b / st;
#pragma omp simd
            for (int v = 0; v < V; v++) d[v] = a * p[v] + bs * qs[v] - bt * pt[v];
            d[targets[n]] -= a;
        }
        bb_free(qs);
    }
}

/* ---- embeddings ------------------------------------------------------------------ */

static void encoder_forward_cpu(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T,
                                int C) {
#pragma omp parallel for schedule(static) if ((size_t)B * T * C >= BB_PAR_MIN_WORK)
    for (int bt = 0; bt < B * T; bt++) {
        const float *e = wte + (size_t)tokens[bt] * C, *p = wpe ? wpe + (size_t)(bt % T) * C : NULL;
        float *o = out + (size_t)bt * C;
        if (p) {
#pragma omp simd
            for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
        } else {
            memcpy(o, e, (size_t)C * sizeof *o);
        }
    }
}

static void encoder_backward_cpu(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T,
                                 int C) {
#pragma omp parallel if ((size_t)B * T * C >= BB_PAR_MIN_WORK)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int lo = (int)((long)C * id / nt), hi = (int)((long)C * (id + 1) / nt);
        for (int bt = 0; bt < B * T; bt++) {
            const float *d = dout + (size_t)bt * C;
            float *e = dwte + (size_t)tokens[bt] * C, *p = dwpe ? dwpe + (size_t)(bt % T) * C : NULL;
#pragma omp simd
            for (int c = lo; c < hi; c++) e[c] += d[c];
            if (p) {
#pragma omp simd
                for (int c = lo; c < hi; c++) p[c] += d[c];
            }
        }
    }
}

/* ---- optimizer helpers ----------------------------------------------------------- */

static void adamw_update_cpu(float *params, const float *grads, float *m, float *v, size_t n, float lr, float beta1,
                             float beta2, float eps, float wd, int t) {
    const bb_eltwise_kernels *k = bb_eltwise();
    float bc1 = 1.0f - powf(beta1, (float)t), bc2 = 1.0f - powf(beta2, (float)t);
    size_t chunks = (n + ELT_CHUNK - 1) / ELT_CHUNK;
#pragma omp parallel for schedule(static) if ((size_t)(chunks) * ELT_CHUNK >= 2 * BB_PAR_MIN_WORK)
    for (size_t c = 0; c < chunks; c++) {
        size_t lo = c * ELT_CHUNK, len = n - lo < ELT_CHUNK ? n - lo : ELT_CHUNK;
        k->adamw(params + lo, grads + lo, m + lo, v + lo, len, lr, beta1, beta2, eps, 1.0f - lr * wd, bc1, bc2);
    }
}

#define SUMSQ_BLOCK 16384

static double sum_squares_cpu(const float *x, size_t n) {
    size_t nb = (n + SUMSQ_BLOCK - 1) / SUMSQ_BLOCK;
    if (nb == 0) return 0.0;
    double *partial = bb_alloc(BB_MEM_WORKSPACE, nb * sizeof *partial);
#pragma omp parallel for schedule(static) if ((size_t)(nb) * SUMSQ_BLOCK >= 2 * BB_PAR_MIN_WORK)
    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * SUMSQ_BLOCK, hi = lo + SUMSQ_BLOCK < n ? lo + SUMSQ_BLOCK : n;
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) s += (double)x[i] * x[i];
        partial[b] = s;
    }
    double total = 0.0;
    for (size_t b = 0; b < nb; b++) total += partial[b];
    bb_free(partial);
    return total;
}

static void scale_cpu(float *x, float s, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= BB_PAR_MIN_WORK)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}


const bb_backend bb_backend_cpu = {
    .name = "cpu",
    .matmul_forward = matmul_forward_cpu,
    .matmul_backward = matmul_backward_cpu,
    .layernorm_forward = layernorm_forward_cpu,
    .layernorm_backward = layernorm_backward_cpu,
    .rmsnorm_forward = rmsnorm_forward_cpu,
    .rmsnorm_backward = rmsnorm_backward_cpu,
    .gelu_forward = gelu_forward_cpu,
    .gelu_backward = gelu_backward_cpu,
    .swiglu_forward = swiglu_forward_cpu,
    .swiglu_backward = swiglu_backward_cpu,
    .rope_forward = rope_forward_cpu,
    .rope_backward = rope_backward_cpu,
    .attention_forward = bb_attention_forward_cpu,
    .attention_backward = bb_attention_backward_cpu,
    .residual_bias_forward = residual_bias_forward_cpu,
    .crossentropy_forward = crossentropy_forward_cpu,
    .crossentropy_backward = crossentropy_backward_cpu,
    .kd_forward = kd_forward_cpu,
    .kd_backward = kd_backward_cpu,
    .encoder_forward = encoder_forward_cpu,
    .encoder_backward = encoder_backward_cpu,
    .adamw_update = adamw_update_cpu,
    .sum_squares = sum_squares_cpu,
    .scale = scale_cpu,
};
