/* kernels_fp32.c — the engine's FP32 CPU kernels at the training shapes of the `small`
 * and `gpt2-124m` presets (engine/config.c), as rows of the kernel benchmark table
 * (kernels.h).
 *
 * Shapes: N = B*T tokens with small at B=8, T=256 (the `bitbench train` default batch at
 * the preset's max_seq) and gpt2-124m at B=1, T=1024 (its max_seq; batch 1 keeps the
 * full suite short). tests/test_kernels.c checks these constants against the presets.
 *
 * GEMMs: the three sgemm calls of one linear layer exactly as engine/cpu/ops.c issues
 * them for inp (N,C) and weight (OC,C): forward out = inp W^T; backward_input
 * dinp += dout W; backward_weight dW += dout^T inp; for every linear of a GPT-2 block
 * (qkv, attention projection, fc, fc projection) and the tied LM head. 2*M*N*K FLOPs.
 * matvec_forward: the same linears for one token (decoding) through the engine's
 * matmul_forward with cold weights, in GB/s of weights read (added after a 25 % decode
 * slowdown the table could not see).
 * Attention counts the useful causal FLOPs, 2*B*NH*hd*T*(T+1) forward (QK^T and PV over
 * the lower triangle) and twice that backward. Everything else is memory-bound and goes
 * through the backend table (bb_backend_cpu), except softmax_forward, which is the
 * row softmax that attention and cross-entropy run inline (max, then the ISA's
 * exp_shift_sum, then a scale), here over attention-probability rows (B*NH*T, T). */
#include "../engine/alloc.h"
#include "../engine/backend.h"
#include "../engine/cpu/isa.h"
#include "kernels.h"
#include <cblas.h>
#include <math.h>

/* small: gpt2, L=6, C=384, NH=6, V=4096, max_seq 256 */
#define S_B 8
#define S_T 256
#define S_N (S_B * S_T)
#define S_C 384
#define S_NH 6
#define S_V 4096
#define S_FS 1024        /* SwiGLU width for C=384 by the Llama-2 rule (bb_config_default_ffn) */
#define S_PARAMS 12318720 /* V*C + T*C + L*(12C^2 + 13C) + 2C */
/* gpt2-124m: gpt2, L=12, C=768, NH=12, V=50257, max_seq 1024 */
#define G_B 1
#define G_T 1024
#define G_N (G_B * G_T)
#define G_C 768
#define G_NH 12
#define G_V 50257
#define G_FS 2048
#define G_PARAMS 124439808
#define HD 64

enum { MAX_BUFS = 8 };
typedef struct {
    float *f[MAX_BUFS];
    int *ids;
    int copies, next;  /* matvec: copies of the weights in f[0], read in turn (cold) */
} kstate;

static float *buf(kstate *s, int i, int64_t n, uint64_t seed, float lo, float hi) {
    s->f[i] = bb_alloc(BB_MEM_WORKSPACE, (size_t)n * sizeof(float));
    if (lo < hi) bb_kernel_fill(s->f[i], n, seed, lo, hi);
    return s->f[i];
}

static kstate *new_state(void) { return bb_alloc(BB_MEM_WORKSPACE, sizeof(kstate)); }

static void teardown(void *p) {
    kstate *s = p;
    for (int i = 0; i < MAX_BUFS; i++) bb_free(s->f[i]);
    bb_free(s->ids);
    bb_free(s);
}

/* ---- sgemm: args M, N, K of the product ------------------------------------------- */

static void *setup_gemm(const int64_t *a) {
    kstate *s = new_state();
    buf(s, 0, a[0] * a[2], 1, -1.0f, 1.0f);   /* A: M*K elements (stored (M,K) or (K,M)) */
    buf(s, 1, a[2] * a[1], 2, -1.0f, 1.0f);   /* B: K*N elements (stored (N,K) or (K,N)) */
    buf(s, 2, a[0] * a[1], 0, 0.0f, 0.0f);    /* C (M,N) */
    return s;
}

/* out (N,OC) = inp (N,C) @ W (OC,C)^T: M=N, N=OC, K=C */
static void run_gemm_forward(void *p, const int64_t *a) {
    kstate *s = p;
    int M = (int)a[0], N = (int)a[1], K = (int)a[2];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, s->f[0], K, s->f[1], K, 0.0f, s->f[2], N);
}

/* dinp (N,C) += dout (N,OC) @ W (OC,C): M=N, N=C, K=OC */
static void run_gemm_backward_input(void *p, const int64_t *a) {
    kstate *s = p;
    int M = (int)a[0], N = (int)a[1], K = (int)a[2];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, s->f[0], K, s->f[1], N, 1.0f, s->f[2], N);
}

/* dW (OC,C) += dout^T (OC,N) @ inp (N,C): M=OC, N=C, K=N */
static void run_gemm_backward_weight(void *p, const int64_t *a) {
    kstate *s = p;
    int M = (int)a[0], N = (int)a[1], K = (int)a[2];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.0f, s->f[0], M, s->f[1], N, 1.0f, s->f[2], N);
}

static double flops_gemm(const int64_t *a) { return 2.0 * (double)a[0] * (double)a[1] * (double)a[2]; }

/* ---- one-token matmul through the engine's op: args C, OC ------------------------------ */

/* Decoding's matrix-vector products (engine/cpu/ops.c matmul_forward with N = 1): small
 * ones run on the calling thread, larger ones through OpenBLAS sgemv on both cores
 * (common/parallel.h). Memory-bound: the weights are read once per token, and a decoder
 * reads every layer's before it comes back to this one, so the weights are cold: enough
 * copies to cover MATVEC_COLD_BYTES (past the last-level cache), each call the next one,
 * as the packed GEMV rows do (kernels_packed.c). */
#define MATVEC_COLD_BYTES ((int64_t)256 << 20)

static void *setup_matvec(const int64_t *a) {
    kstate *s = new_state();
    int64_t w = a[1] * a[0];
    s->copies = (int)((MATVEC_COLD_BYTES + 4 * w - 1) / (4 * w));
    if (s->copies < 2) s->copies = 2;
    buf(s, 0, w * s->copies, 1, -1.0f, 1.0f); /* copies of W (OC, C) */
    buf(s, 1, a[0], 2, -1.0f, 1.0f);          /* x (C) */
    buf(s, 2, a[1], 0, 0.0f, 0.0f);           /* out (OC) */
    return s;
}

static void run_matvec_forward(void *p, const int64_t *a) {
    kstate *s = p;
    const float *w = s->f[0] + (size_t)s->next * (size_t)(a[1] * a[0]);
    s->next = (s->next + 1) % s->copies;
    bb_backend_cpu.matmul_forward(s->f[2], s->f[1], w, NULL, 1, (int)a[0], (int)a[1], 0);
}

static double bytes_matvec(const int64_t *a) { return 4.0 * ((double)a[0] * a[1] + a[0] + a[1]); }

/* ---- norms: args N, C ----------------------------------------------------------------- */

static void *setup_layernorm(const int64_t *a) {
    kstate *s = new_state();
    int64_t N = a[0], C = a[1];
    buf(s, 0, N * C, 0, 0, 0);                 /* out / dinp */
    buf(s, 1, N, 0, 0, 0);                     /* mean */
    buf(s, 2, N, 0, 0, 0);                     /* rstd */
    buf(s, 3, N * C, 3, -2.0f, 2.0f);          /* inp */
    buf(s, 4, C, 4, 0.5f, 1.5f);               /* weight */
    buf(s, 5, C, 5, -0.1f, 0.1f);              /* bias */
    buf(s, 6, N * C, 6, -1.0f, 1.0f);          /* dout */
    buf(s, 7, 2 * C, 0, 0, 0);                 /* dweight | dbias */
    bb_backend_cpu.layernorm_forward(s->f[0], s->f[1], s->f[2], s->f[3], s->f[4], s->f[5], (int)N, (int)C, 1e-5f);
    return s;
}

static void run_layernorm_forward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.layernorm_forward(s->f[0], s->f[1], s->f[2], s->f[3], s->f[4], s->f[5], (int)a[0], (int)a[1], 1e-5f);
}

static void run_layernorm_backward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.layernorm_backward(s->f[0], s->f[7], s->f[7] + a[1], s->f[6], s->f[3], s->f[4], s->f[1], s->f[2],
                                      (int)a[0], (int)a[1]);
}

/* out, inp (N,C) + mean, rstd (N) + weight, bias (C) */
static double bytes_layernorm_forward(const int64_t *a) { return 4.0 * (2.0 * a[0] * a[1] + 2.0 * a[0] + 2.0 * a[1]); }
/* dout, inp, dinp read+write (N,C) + mean, rstd + weight + dweight, dbias read+write */
static double bytes_layernorm_backward(const int64_t *a) { return 4.0 * (4.0 * a[0] * a[1] + 2.0 * a[0] + 5.0 * a[1]); }

static void run_rmsnorm_forward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.rmsnorm_forward(s->f[0], s->f[2], s->f[3], s->f[4], (int)a[0], (int)a[1], 1e-5f);
}

static void *setup_rmsnorm(const int64_t *a) {
    kstate *s = setup_layernorm(a);
    run_rmsnorm_forward(s, a);
    return s;
}

static void run_rmsnorm_backward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.rmsnorm_backward(s->f[0], s->f[7], s->f[6], s->f[3], s->f[4], s->f[2], (int)a[0], (int)a[1]);
}

static double bytes_rmsnorm_forward(const int64_t *a) { return 4.0 * (2.0 * a[0] * a[1] + a[0] + a[1]); }
static double bytes_rmsnorm_backward(const int64_t *a) { return 4.0 * (4.0 * a[0] * a[1] + a[0] + 3.0 * a[1]); }

/* ---- activations: args N, F ----------------------------------------------------------- */

static void *setup_act(const int64_t *a) {
    kstate *s = new_state();
    int64_t n = a[0] * a[1];
    buf(s, 0, 2 * n, 0, 0, 0);          /* out / dinp (GELU: N*F, SwiGLU dinp: N*2F) */
    buf(s, 1, 2 * n, 1, -3.0f, 3.0f);   /* inp (SwiGLU: [gate | up]) */
    buf(s, 2, n, 2, -1.0f, 1.0f);       /* dout */
    return s;
}

static void run_gelu_forward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.gelu_forward(s->f[0], s->f[1], (int)a[0], (int)a[1]);
}

static void run_gelu_backward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.gelu_backward(s->f[0], s->f[1], s->f[2], (int)a[0], (int)a[1]);
}

static void run_swiglu_forward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.swiglu_forward(s->f[0], s->f[1], (int)a[0], (int)a[1]);
}

static void run_swiglu_backward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.swiglu_backward(s->f[0], s->f[1], s->f[2], (int)a[0], (int)a[1]);
}

static double bytes_gelu_forward(const int64_t *a) { return 4.0 * 2.0 * a[0] * a[1]; }
static double bytes_gelu_backward(const int64_t *a) { return 4.0 * 4.0 * a[0] * a[1]; }   /* inp, dout, dinp r+w */
static double bytes_swiglu_forward(const int64_t *a) { return 4.0 * 3.0 * a[0] * a[1]; }  /* inp 2F, out F */
static double bytes_swiglu_backward(const int64_t *a) { return 4.0 * 7.0 * a[0] * a[1]; } /* inp 2F, dout F, dinp 2F r+w */

/* ---- softmax: args R (rows), T (columns) ---------------------------------------------- */

static void *setup_softmax(const int64_t *a) {
    kstate *s = new_state();
    buf(s, 0, a[0] * a[1], 0, 0, 0);
    buf(s, 1, a[0] * a[1], 1, -4.0f, 4.0f);
    return s;
}

static void run_softmax_forward(void *p, const int64_t *a) {
    kstate *s = p;
    const bb_eltwise_kernels *k = bb_eltwise();
    int64_t R = a[0], T = a[1];
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) {
        const float *z = s->f[1] + r * T;
        float *y = s->f[0] + r * T, maxv = -INFINITY;
        for (int64_t t = 0; t < T; t++) maxv = z[t] > maxv ? z[t] : maxv;
        float inv = 1.0f / k->exp_shift_sum(y, z, maxv, (size_t)T);
#pragma omp simd
        for (int64_t t = 0; t < T; t++) y[t] *= inv;
    }
}

static double bytes_softmax(const int64_t *a) { return 4.0 * 2.0 * a[0] * a[1]; }

/* ---- attention: args B, T, NH, hd (NKV = NH, as in gpt2) ----------------------------- */

static void *setup_attention(const int64_t *a) {
    kstate *s = new_state();
    int64_t B = a[0], T = a[1], NH = a[2], hd = a[3], C = NH * hd;
    buf(s, 0, B * T * C, 0, 0, 0);                /* out */
    buf(s, 1, B * NH * T * T, 0, 0, 0);           /* att */
    buf(s, 2, B * T * 3 * C, 2, -1.0f, 1.0f);     /* qkv */
    buf(s, 3, B * T * 3 * C, 0, 0, 0);            /* dqkv */
    buf(s, 4, B * T * C, 4, -1.0f, 1.0f);         /* dout */
    bb_backend_cpu.attention_forward(s->f[0], s->f[1], s->f[2], (int)B, (int)T, (int)NH, (int)NH, (int)hd, BB_ATT_F32);
    return s;
}

static void run_attention_forward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.attention_forward(s->f[0], s->f[1], s->f[2], (int)a[0], (int)a[1], (int)a[2], (int)a[2], (int)a[3], BB_ATT_F32);
}

static void run_attention_backward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.attention_backward(s->f[3], s->f[4], s->f[2], s->f[1], (int)a[0], (int)a[1], (int)a[2], (int)a[2],
                                      (int)a[3], BB_ATT_F32);
}

static double flops_attention_forward(const int64_t *a) {
    return 2.0 * (double)a[0] * (double)a[2] * (double)a[3] * (double)a[1] * (double)(a[1] + 1);
}
static double flops_attention_backward(const int64_t *a) { return 2.0 * flops_attention_forward(a); }

/* ---- AdamW: args n (the preset's parameter count) ------------------------------------- */

static void *setup_adamw(const int64_t *a) {
    kstate *s = new_state();
    buf(s, 0, a[0], 1, -0.1f, 0.1f);      /* params */
    buf(s, 1, a[0], 2, -0.01f, 0.01f);    /* grads */
    buf(s, 2, a[0], 0, 0, 0);             /* m */
    buf(s, 3, a[0], 0, 0, 0);             /* v */
    return s;
}

static void run_adamw_update(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.adamw_update(s->f[0], s->f[1], s->f[2], s->f[3], (size_t)a[0], 3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1);
}

static double bytes_adamw(const int64_t *a) { return 4.0 * 7.0 * (double)a[0]; }  /* read p g m v, write p m v */

/* ---- cross-entropy: args N, V ---------------------------------------------------------- */

static void *setup_crossentropy(const int64_t *a) {
    kstate *s = new_state();
    int64_t N = a[0], V = a[1];
    buf(s, 0, N, 0, 0, 0);                 /* losses */
    buf(s, 1, N * V, 0, 0, 0);             /* probs */
    buf(s, 2, N * V, 2, -4.0f, 4.0f);      /* logits */
    buf(s, 3, N * V, 0, 0, 0);             /* dlogits: its own buffer (the engine reuses probs, which
                                              repeated in place would decay into denormals) */
    s->ids = bb_alloc(BB_MEM_WORKSPACE, (size_t)N * sizeof(int));
    for (int64_t i = 0; i < N; i++) s->ids[i] = (int)((i * 2654435761u) % (uint64_t)V);
    bb_backend_cpu.crossentropy_forward(s->f[0], s->f[1], s->f[2], s->ids, (int)N, (int)V);
    return s;
}

static void run_crossentropy_forward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.crossentropy_forward(s->f[0], s->f[1], s->f[2], s->ids, (int)a[0], (int)a[1]);
}

static void run_crossentropy_backward(void *p, const int64_t *a) {
    kstate *s = p;
    bb_backend_cpu.crossentropy_backward(s->f[3], s->f[1], s->ids, 1.0f / (float)a[0], (int)a[0], (int)a[1]);
}

/* logits read, probs written (N,V); targets and losses (N) */
static double bytes_crossentropy_forward(const int64_t *a) { return 4.0 * (2.0 * a[0] * a[1] + 2.0 * a[0]); }
/* probs read, dlogits written (N,V); targets (N) */
static double bytes_crossentropy_backward(const int64_t *a) { return 4.0 * (2.0 * a[0] * a[1] + a[0]); }

/* ---- the table ------------------------------------------------------------------------ */

#define C_ BB_KERNEL_COMPUTE
#define M_ BB_KERNEL_MEMORY
#define GEMM(op, shape, M, N, K) \
    {"sgemm_" #op, "fp32", C_, shape, 3, {"M", "N", "K"}, {M, N, K}, setup_gemm, run_gemm_##op, teardown, flops_gemm, false, false, NULL}
/* The three products of a linear layer inp (NT, CI) -> (NT, OC). */
#define LINEAR(shape, NT, CI, OC) \
    GEMM(forward, shape, NT, OC, CI), GEMM(backward_input, shape, NT, CI, OC), GEMM(backward_weight, shape, OC, CI, NT)
/* ROW(op, kind, shape, work, setup, <n_args, names, values>) */
#define ROW(op, kind, shape, work, setup, ...) \
    {#op, "fp32", kind, shape, __VA_ARGS__, setup, run_##op, teardown, work, false, false, NULL}
#define NC(N, C) 2, {"N", "C"}, {N, C}
#define NF(N, F) 2, {"N", "F"}, {N, F}
#define RT(R, T) 2, {"R", "T"}, {R, T}
#define ATT(B, T, NH) 4, {"B", "T", "NH", "hd"}, {B, T, NH, HD}
#define PN(n) 1, {"n"}, {n}
#define NV(N, V) 2, {"N", "V"}, {N, V}
#define CO(C, OC) 2, {"C", "OC"}, {C, OC}
#define MATVEC(name, layer, C, OC) ROW(matvec_forward, M_, name layer, bytes_matvec, setup_matvec, CO(C, OC))

#define PRESET_ROWS(P, name)                                                                                        \
    LINEAR(name ".qkv", P##_N, P##_C, 3 * P##_C), LINEAR(name ".attproj", P##_N, P##_C, P##_C),                     \
        LINEAR(name ".fc", P##_N, P##_C, 4 * P##_C), LINEAR(name ".fcproj", P##_N, 4 * P##_C, P##_C),              \
        LINEAR(name ".lmhead", P##_N, P##_C, P##_V),                                                                \
        MATVEC(name, ".qkv", P##_C, 3 * P##_C), MATVEC(name, ".attproj", P##_C, P##_C),                            \
        MATVEC(name, ".fc", P##_C, 4 * P##_C), MATVEC(name, ".fcproj", 4 * P##_C, P##_C),                          \
        MATVEC(name, ".lmhead", P##_C, P##_V),                                                                      \
        ROW(layernorm_forward, M_, name, bytes_layernorm_forward, setup_layernorm, NC(P##_N, P##_C)),               \
        ROW(layernorm_backward, M_, name, bytes_layernorm_backward, setup_layernorm, NC(P##_N, P##_C)),             \
        ROW(rmsnorm_forward, M_, name, bytes_rmsnorm_forward, setup_rmsnorm, NC(P##_N, P##_C)),                     \
        ROW(rmsnorm_backward, M_, name, bytes_rmsnorm_backward, setup_rmsnorm, NC(P##_N, P##_C)),                   \
        ROW(gelu_forward, M_, name, bytes_gelu_forward, setup_act, NF(P##_N, 4 * P##_C)),                           \
        ROW(gelu_backward, M_, name, bytes_gelu_backward, setup_act, NF(P##_N, 4 * P##_C)),                         \
        ROW(swiglu_forward, M_, name, bytes_swiglu_forward, setup_act, NF(P##_N, P##_FS)),                          \
        ROW(swiglu_backward, M_, name, bytes_swiglu_backward, setup_act, NF(P##_N, P##_FS)),                        \
        ROW(softmax_forward, M_, name, bytes_softmax, setup_softmax, RT(P##_B * P##_NH * P##_T, P##_T)),           \
        ROW(attention_forward, C_, name, flops_attention_forward, setup_attention, ATT(P##_B, P##_T, P##_NH)),      \
        ROW(attention_backward, C_, name, flops_attention_backward, setup_attention, ATT(P##_B, P##_T, P##_NH)),    \
        ROW(adamw_update, M_, name, bytes_adamw, setup_adamw, PN(P##_PARAMS)),                                      \
        ROW(crossentropy_forward, M_, name, bytes_crossentropy_forward, setup_crossentropy, NV(P##_N, P##_V)),      \
        ROW(crossentropy_backward, M_, name, bytes_crossentropy_backward, setup_crossentropy, NV(P##_N, P##_V))

static const bb_kernel rows[] = {
    PRESET_ROWS(S, "small"),
    PRESET_ROWS(G, "gpt2-124m"),
};

const bb_kernel_table bb_kernels_fp32 = BB_KERNEL_TABLE("fp32", rows);
