/* test_cuda_ops.c — every CUDA op against the CPU scalar reference (ops_ref.c, each
 * format's forward_ref), as ggml's test-backend-ops does: the same random inputs on both
 * sides, NMSE tolerances keyed by precision (tolerances.h bb_cuda_tolerances).
 *   - the fp32 ops of backend.h through bb_backend_cuda_staged (host buffers in, device
 *     op, host buffers out), so the staging and the device kernels are both covered;
 *     matmul also with TF32 tensor cores;
 *   - the packed forward of every precision (int4 per group size and activation mode) on
 *     device buffers, = and +=, plus the cublasGemmEx fp16/bf16 path and the cublasLt
 *     INT8 IMMA GEMM (exact int32);
 *   - the device-memory tracker.
 * Without a CUDA device it prints why and exits 77, which meson reports as skipped. */
#include "../engine/alloc.h"
#include "../engine/cuda_backend.h"
#include "../precisions/precision.h"
#include "cuda_compare.h"
#include "tolerances.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

int bb_test_failures = 0;
static const bb_backend *gpu = &bb_backend_cuda_staged, *ref = &bb_backend_ref;
#define TOL (bb_cuda_tol("fp32")->op)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) {
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return (float)((rng_state * 0x2545F4914F6CDD1Dull) >> 40) / (float)(1 << 23) - 1.0f;
}
static float *rnd(size_t n, float scale) {
    float *p = bb_alloc(BB_MEM_OTHER, n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = frand() * scale;
    return p;
}
static float *copy(const float *x, size_t n) {
    float *p = bb_alloc(BB_MEM_OTHER, n * sizeof(float));
    memcpy(p, x, n * sizeof(float));
    return p;
}

static void test_matmul(void) {
    int N = 37, C = 70, OC = 45;
    float *x = rnd((size_t)N * C, 1), *w = rnd((size_t)OC * C, 1), *b = rnd(OC, 1);
    for (int tf32 = 0; tf32 < 2; tf32++) {
        bb_cuda_set_tf32(tf32);
        double tol = tf32 ? bb_cuda_tol("fp32")->tensorcore : TOL;
        for (int variant = 0; variant < 3; variant++) { /* bias, no bias, accumulate */
            float *o1 = rnd((size_t)N * OC, 1), *o2 = copy(o1, (size_t)N * OC);
            const float *bias = variant == 1 ? NULL : b;
            gpu->matmul_forward(o1, x, w, bias, N, C, OC, variant == 2);
            ref->matmul_forward(o2, x, w, bias, N, C, OC, variant == 2);
            char name[64];
            snprintf(name, sizeof name, "matmul.out%s%s", variant == 0 ? "(bias)" : variant == 2 ? "(acc)" : "",
                     tf32 ? "[tf32]" : "");
            EXPECT_NMSE(name, o1, o2, (size_t)N * OC, tol);
            bb_free(o1); bb_free(o2);
        }
        float *dout = rnd((size_t)N * OC, 1);
        float *dx1 = rnd((size_t)N * C, 1), *dx2 = copy(dx1, (size_t)N * C);
        float *dw1 = rnd((size_t)OC * C, 1), *dw2 = copy(dw1, (size_t)OC * C);
        float *db1 = rnd(OC, 1), *db2 = copy(db1, OC);
        gpu->matmul_backward(dx1, dw1, db1, dout, x, w, N, C, OC);
        ref->matmul_backward(dx2, dw2, db2, dout, x, w, N, C, OC);
        EXPECT_NMSE("matmul.dinp", dx1, dx2, (size_t)N * C, tol);
        EXPECT_NMSE("matmul.dweight", dw1, dw2, (size_t)OC * C, tol);
        EXPECT_NMSE("matmul.dbias", db1, db2, OC, tol);
        gpu->matmul_backward(NULL, dw1, NULL, dout, x, w, N, C, OC); /* no dinp, no dbias */
        ref->matmul_backward(NULL, dw2, NULL, dout, x, w, N, C, OC);
        EXPECT_NMSE("matmul.dweight(only)", dw1, dw2, (size_t)OC * C, tol);
        bb_free(dout); bb_free(dx1); bb_free(dx2); bb_free(dw1); bb_free(dw2); bb_free(db1); bb_free(db2);
    }
    bb_cuda_set_tf32(0);
    bb_free(x); bb_free(w); bb_free(b);
}

static void test_norms(void) {
    int N = 13, C = 300; /* C > the block size: every thread loops */
    float *x = rnd((size_t)N * C, 2), *w = rnd(C, 1), *b = rnd(C, 1), *dout = rnd((size_t)N * C, 1);
    float *o1 = rnd((size_t)N * C, 1), *o2 = rnd((size_t)N * C, 1), *m1 = rnd(N, 1), *m2 = rnd(N, 1);
    float *r1 = rnd(N, 1), *r2 = rnd(N, 1);
    gpu->layernorm_forward(o1, m1, r1, x, w, b, N, C, 1e-5f);
    ref->layernorm_forward(o2, m2, r2, x, w, b, N, C, 1e-5f);
    EXPECT_NMSE("layernorm.out", o1, o2, (size_t)N * C, TOL);
    EXPECT_NMSE("layernorm.mean", m1, m2, N, TOL);
    EXPECT_NMSE("layernorm.rstd", r1, r2, N, TOL);
    float *dx1 = rnd((size_t)N * C, 1), *dx2 = copy(dx1, (size_t)N * C), *dw1 = rnd(C, 1), *dw2 = copy(dw1, C);
    float *db1 = rnd(C, 1), *db2 = copy(db1, C);
    gpu->layernorm_backward(dx1, dw1, db1, dout, x, w, m2, r2, N, C);
    ref->layernorm_backward(dx2, dw2, db2, dout, x, w, m2, r2, N, C);
    EXPECT_NMSE("layernorm.dinp", dx1, dx2, (size_t)N * C, TOL);
    EXPECT_NMSE("layernorm.dweight", dw1, dw2, C, TOL);
    EXPECT_NMSE("layernorm.dbias", db1, db2, C, TOL);
    gpu->rmsnorm_forward(o1, r1, x, w, N, C, 1e-6f);
    ref->rmsnorm_forward(o2, r2, x, w, N, C, 1e-6f);
    EXPECT_NMSE("rmsnorm.out", o1, o2, (size_t)N * C, TOL);
    EXPECT_NMSE("rmsnorm.rstd", r1, r2, N, TOL);
    gpu->rmsnorm_backward(dx1, dw1, dout, x, w, r2, N, C);
    ref->rmsnorm_backward(dx2, dw2, dout, x, w, r2, N, C);
    EXPECT_NMSE("rmsnorm.dinp", dx1, dx2, (size_t)N * C, TOL);
    EXPECT_NMSE("rmsnorm.dweight", dw1, dw2, C, TOL);
    bb_free(x); bb_free(w); bb_free(b); bb_free(dout); bb_free(o1); bb_free(o2); bb_free(m1); bb_free(m2);
    bb_free(r1); bb_free(r2); bb_free(dx1); bb_free(dx2); bb_free(dw1); bb_free(dw2); bb_free(db1); bb_free(db2);
}

static void test_activations(void) {
    int N = 9, F = 70;
    float *x = rnd((size_t)N * 2 * F, 4), *dout = rnd((size_t)N * 2 * F, 1);
    float *o1 = rnd((size_t)N * 2 * F, 1), *o2 = rnd((size_t)N * 2 * F, 1);
    float *d1 = rnd((size_t)N * 2 * F, 1), *d2 = copy(d1, (size_t)N * 2 * F);
    gpu->gelu_forward(o1, x, N, F);
    ref->gelu_forward(o2, x, N, F);
    EXPECT_NMSE("gelu.out", o1, o2, (size_t)N * F, TOL);
    gpu->gelu_backward(d1, x, dout, N, F);
    ref->gelu_backward(d2, x, dout, N, F);
    EXPECT_NMSE("gelu.dinp", d1, d2, (size_t)N * F, TOL);
    gpu->swiglu_forward(o1, x, N, F);
    ref->swiglu_forward(o2, x, N, F);
    EXPECT_NMSE("swiglu.out", o1, o2, (size_t)N * F, TOL);
    gpu->swiglu_backward(d1, x, dout, N, F);
    ref->swiglu_backward(d2, x, dout, N, F);
    EXPECT_NMSE("swiglu.dinp", d1, d2, (size_t)N * 2 * F, TOL);
    float *b = rnd(F, 1);
    gpu->residual_bias_forward(o1, x, b, N, F);
    ref->residual_bias_forward(o2, x, b, N, F);
    EXPECT_NMSE("residual_bias.out", o1, o2, (size_t)N * F, TOL);
    gpu->residual_bias_forward(o1, x, NULL, N, F);
    ref->residual_bias_forward(o2, x, NULL, N, F);
    EXPECT_NMSE("residual.out", o1, o2, (size_t)N * F, TOL);
    bb_free(x); bb_free(dout); bb_free(o1); bb_free(o2); bb_free(d1); bb_free(d2); bb_free(b);
}

static void test_attention(void) {
    const int shapes[][4] = {{2, 7, 4, 4}, {2, 9, 4, 2}, {1, 300, 2, 1}}; /* B T NH NKV (MHA, GQA, long T) */
    int hd = 8;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int B = shapes[s][0], T = shapes[s][1], NH = shapes[s][2], NKV = shapes[s][3];
        size_t nq = (size_t)B * T * (NH + 2 * NKV) * hd, no = (size_t)B * T * NH * hd, na = (size_t)B * NH * T * T;
        float *qkv = rnd(nq, 1), *q1 = copy(qkv, nq), *q2 = copy(qkv, nq);
        float *cs = rnd((size_t)T * hd / 2, 1), *sn = rnd((size_t)T * hd / 2, 1);
        gpu->rope_forward(q1, cs, sn, B, T, NH, NKV, hd);
        ref->rope_forward(q2, cs, sn, B, T, NH, NKV, hd);
        EXPECT_NMSE("rope.qkv", q1, q2, nq, TOL);
        gpu->rope_backward(q1, cs, sn, B, T, NH, NKV, hd);
        ref->rope_backward(q2, cs, sn, B, T, NH, NKV, hd);
        EXPECT_NMSE("rope_backward.dqkv", q1, q2, nq, TOL);
        float *o1 = rnd(no, 1), *o2 = rnd(no, 1), *a1 = rnd(na, 1), *a2 = rnd(na, 1);
        gpu->attention_forward(o1, a1, qkv, B, T, NH, NKV, hd, BB_ATT_F32);
        ref->attention_forward(o2, a2, qkv, B, T, NH, NKV, hd, BB_ATT_F32);
        EXPECT_NMSE("attention.out", o1, o2, no, TOL);
        EXPECT_NMSE("attention.att", a1, a2, na, TOL);
        float *dout = rnd(no, 1), *d1 = rnd(nq, 1), *d2 = copy(d1, nq);
        gpu->attention_backward(d1, dout, qkv, a2, B, T, NH, NKV, hd, BB_ATT_F32);
        ref->attention_backward(d2, dout, qkv, a2, B, T, NH, NKV, hd, BB_ATT_F32);
        EXPECT_NMSE("attention.dqkv", d1, d2, nq, TOL);
        /* att == NULL (selective recomputation, backend.h): forward keeps no probabilities
         * and gives the kept path's out bit for bit (no atomics there); backward recomputes
         * them with forward's code (its atomics leave run-to-run rounding: TOL) */
        float *o3 = rnd(no, 1), *d3 = rnd(nq, 1), *d4 = copy(d3, nq);
        gpu->attention_forward(o3, NULL, qkv, B, T, NH, NKV, hd, BB_ATT_F32);
        EXPECT_NMSE("attention.out att=NULL vs kept", o3, o1, no, 0.0);
        gpu->attention_backward(d3, dout, qkv, a1, B, T, NH, NKV, hd, BB_ATT_F32);
        gpu->attention_backward(d4, dout, qkv, NULL, B, T, NH, NKV, hd, BB_ATT_F32);
        EXPECT_NMSE("attention.dqkv recomputed vs kept", d4, d3, nq, TOL);
        bb_free(o3); bb_free(d3); bb_free(d4);
        /* mixed precision (backend.h bb_att_fmt): the probabilities rounded and kept in 16
         * bits; against the reference within its 16-bit rounding (a value that lands the
         * other way: the precision's train_grad bound, tolerances.h), the backward from the
         * reference's kept values at TOL, and recomputed = kept */
        for (int f = BB_ATT_F16; f <= BB_ATT_BF16; f++) {
            bb_att_fmt fmt = (bb_att_fmt)f;
            double tol16 = bb_cuda_tol(fmt == BB_ATT_F16 ? "fp16" : "bf16")->train_grad;
            uint16_t *h1 = bb_alloc(BB_MEM_OTHER, na * sizeof(uint16_t)), *h2 = bb_alloc(BB_MEM_OTHER, na * sizeof(uint16_t));
            float *o5 = rnd(no, 1), *o6 = rnd(no, 1), *w1 = rnd(na, 1), *w2 = rnd(na, 1);
            gpu->attention_forward(o5, h1, qkv, B, T, NH, NKV, hd, fmt);
            ref->attention_forward(o6, h2, qkv, B, T, NH, NKV, hd, fmt);
            for (size_t i = 0; i < na; i++) {
                w1[i] = fmt == BB_ATT_F16 ? bb_fp16_to_fp32(h1[i]) : bb_bf16_to_fp32(h1[i]);
                w2[i] = fmt == BB_ATT_F16 ? bb_fp16_to_fp32(h2[i]) : bb_bf16_to_fp32(h2[i]);
            }
            EXPECT_NMSE(fmt == BB_ATT_F16 ? "attention.att f16" : "attention.att bf16", w1, w2, na, tol16);
            EXPECT_NMSE("attention.out 16-bit P", o5, o6, no, tol16);
            float *d5 = rnd(nq, 1), *d6 = copy(d5, nq), *d7 = rnd(nq, 2), *d8 = copy(d7, nq);
            gpu->attention_backward(d5, dout, qkv, h2, B, T, NH, NKV, hd, fmt);
            ref->attention_backward(d6, dout, qkv, h2, B, T, NH, NKV, hd, fmt);
            EXPECT_NMSE("attention.dqkv 16-bit P", d5, d6, nq, TOL);
            gpu->attention_backward(d7, dout, qkv, h1, B, T, NH, NKV, hd, fmt);
            gpu->attention_backward(d8, dout, qkv, NULL, B, T, NH, NKV, hd, fmt);
            EXPECT_NMSE("attention.dqkv 16-bit recomputed vs kept", d8, d7, nq, TOL);
            bb_free(h1); bb_free(h2); bb_free(o5); bb_free(o6); bb_free(w1); bb_free(w2);
            bb_free(d5); bb_free(d6); bb_free(d7); bb_free(d8);
        }
        bb_free(qkv); bb_free(q1); bb_free(q2); bb_free(cs); bb_free(sn); bb_free(o1); bb_free(o2); bb_free(a1);
        bb_free(a2); bb_free(dout); bb_free(d1); bb_free(d2);
    }
}

static void test_loss_embed_optim(void) {
    int N = 11, V = 1000, B = 2, T = 5, C = 24;
    float *logits = rnd((size_t)N * V, 5), *p1 = rnd((size_t)N * V, 1), *p2 = rnd((size_t)N * V, 1);
    float *l1 = rnd(N, 1), *l2 = rnd(N, 1);
    int targets[11];
    for (int i = 0; i < N; i++) targets[i] = i == 3 ? -1 : (i * 97) % V; /* one ignored row */
    gpu->crossentropy_forward(l1, p1, logits, targets, N, V);
    ref->crossentropy_forward(l2, p2, logits, targets, N, V);
    EXPECT_NMSE("crossentropy.losses", l1, l2, N, TOL);
    EXPECT_NMSE("crossentropy.probs", p1, p2, (size_t)N * V, TOL);
    {   /* probs over the logits (bb_model logits_in_place) */
        float *zz = rnd((size_t)N * V, 1), l3[11];
        memcpy(zz, logits, (size_t)N * V * sizeof(float));
        gpu->crossentropy_forward(l3, zz, zz, targets, N, V);
        EXPECT_NMSE("crossentropy.losses(in place)", l3, l2, N, TOL);
        EXPECT_NMSE("crossentropy.probs(in place)", zz, p2, (size_t)N * V, TOL);
        bb_free(zz);
    }
    gpu->crossentropy_backward(p1, p1, targets, 0.1f, N, V); /* aliased, as the engine calls it */
    ref->crossentropy_backward(p2, p2, targets, 0.1f, N, V);
    EXPECT_NMSE("crossentropy.dlogits", p1, p2, (size_t)N * V, TOL);
    int tokens[10] = {5, 3, 99, 3, 0, 7, 5, 5, 42, 1};
    float *wte = rnd((size_t)100 * C, 1), *wpe = rnd((size_t)T * C, 1);
    float *e1 = rnd((size_t)B * T * C, 1), *e2 = rnd((size_t)B * T * C, 1);
    for (int pos = 0; pos < 2; pos++) {
        const float *wp = pos ? wpe : NULL;
        gpu->encoder_forward(e1, tokens, wte, wp, B, T, C);
        ref->encoder_forward(e2, tokens, wte, wp, B, T, C);
        EXPECT_NMSE(pos ? "encoder.out(wpe)" : "encoder.out", e1, e2, (size_t)B * T * C, TOL);
        float *dwte1 = rnd((size_t)100 * C, 1), *dwte2 = copy(dwte1, (size_t)100 * C);
        float *dwpe1 = rnd((size_t)T * C, 1), *dwpe2 = copy(dwpe1, (size_t)T * C);
        gpu->encoder_backward(dwte1, pos ? dwpe1 : NULL, e2, tokens, B, T, C);
        ref->encoder_backward(dwte2, pos ? dwpe2 : NULL, e2, tokens, B, T, C);
        EXPECT_NMSE("encoder.dwte", dwte1, dwte2, (size_t)100 * C, TOL);
        EXPECT_NMSE("encoder.dwpe", dwpe1, dwpe2, (size_t)T * C, TOL);
        bb_free(dwte1); bb_free(dwte2); bb_free(dwpe1); bb_free(dwpe2);
    }
    size_t n = 100003;
    float *prm1 = rnd(n, 1), *prm2 = copy(prm1, n), *g = rnd(n, 1), *m1 = rnd(n, 0.1f), *m2 = copy(m1, n);
    float *v1 = rnd(n, 0.1f), *v2 = copy(v1, n);
    for (size_t i = 0; i < n; i++) v1[i] = v2[i] = v1[i] * v1[i];
    for (int t = 1; t <= 3; t++) {
        gpu->adamw_update(prm1, g, m1, v1, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, t);
        ref->adamw_update(prm2, g, m2, v2, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, t);
    }
    EXPECT_NMSE("adamw.params", prm1, prm2, n, TOL);
    EXPECT_NMSE("adamw.m", m1, m2, n, TOL);
    EXPECT_NMSE("adamw.v", v1, v2, n, TOL);
    double s1 = gpu->sum_squares(g, n), s2 = ref->sum_squares(g, n);
    CHECK(fabs(s1 - s2) <= 1e-12 * s2, "sum_squares: cuda %.17g, ref %.17g", s1, s2);
    gpu->scale(prm1, 0.37f, n);
    ref->scale(prm2, 0.37f, n);
    EXPECT_NMSE("scale.x", prm1, prm2, n, TOL);
    bb_free(logits); bb_free(p1); bb_free(p2); bb_free(l1); bb_free(l2); bb_free(wte); bb_free(wpe); bb_free(e1);
    bb_free(e2); bb_free(prm1); bb_free(prm2); bb_free(g); bb_free(m1); bb_free(m2); bb_free(v1); bb_free(v2);
}

/* One packed forward on the device vs forward_ref, = and +=. */
static void check_packed(bb_precision p, bb_prec_opts o, int N, int C, int OC) {
    const bb_precision_traits *t = bb_precision_get(p);
    float *w = rnd((size_t)OC * C, 1), *x = rnd((size_t)N * C, 3);
    for (int c = 0; c < C; c++) x[c] = (float)((c % 255) - 127) + 0.5f * (float)(c & 1); /* roundf ties */
    x[0] = 127.0f;
    size_t bytes = t->packed_size(OC, C, &o);
    void *pk = bb_alloc(BB_MEM_OTHER, bytes);
    t->pack(pk, w, OC, C, &o);
    void *dpk = bb_cuda_alloc(BB_MEM_PACKED, bytes);
    float *dx = bb_cuda_alloc(BB_MEM_ACTS, (size_t)N * C * sizeof(float));
    float *dout = bb_cuda_alloc(BB_MEM_ACTS, (size_t)N * OC * sizeof(float));
    bb_cuda_upload(dpk, pk, bytes);
    bb_cuda_upload(dx, x, (size_t)N * C * sizeof(float));
    float *got = rnd((size_t)N * OC, 1), *want = copy(got, (size_t)N * OC);
    char name[96];
    for (int acc = 0; acc < 2; acc++) {
        bb_cuda_upload(dout, got, (size_t)N * OC * sizeof(float));
        bb_cuda_packed_forward(p, dout, dx, dpk, N, C, OC, &o, acc);
        bb_cuda_download(got, dout, (size_t)N * OC * sizeof(float));
        t->forward_ref(want, x, pk, N, C, OC, &o, acc);
        snprintf(name, sizeof name, "%s.packed_forward%s %dx%dx%d G=%d act=%d", t->name, acc ? "(acc)" : "", N, C, OC,
                 o.group, (int)o.act);
        EXPECT_NMSE(name, got, want, (size_t)N * OC, bb_cuda_tol(t->name)->packed);
    }
    if (p == BB_PREC_FP16 || p == BB_PREC_BF16) { /* cublasGemmEx on the same weights, row-major halves */
        float *wf = rnd((size_t)OC * C, 1);
        t->unpack(wf, pk, OC, C, &o);
        uint16_t *wh = bb_alloc(BB_MEM_OTHER, (size_t)OC * C * sizeof(uint16_t));
        for (size_t i = 0; i < (size_t)OC * C; i++) wh[i] = p == BB_PREC_FP16 ? bb_fp32_to_fp16(wf[i]) : bb_fp32_to_bf16(wf[i]);
        uint16_t *dwh = bb_cuda_alloc(BB_MEM_PACKED, (size_t)OC * C * sizeof(uint16_t));
        bb_cuda_upload(dwh, wh, (size_t)OC * C * sizeof(uint16_t));
        bb_cuda_gemm16(p, dout, dx, dwh, N, C, OC, 0);
        bb_cuda_download(got, dout, (size_t)N * OC * sizeof(float));
        t->forward_ref(want, x, pk, N, C, OC, &o, 0);
        snprintf(name, sizeof name, "%s.gemm16 %dx%dx%d", t->name, N, C, OC);
        EXPECT_NMSE(name, got, want, (size_t)N * OC, bb_cuda_tol(t->name)->tensorcore);
        bb_cuda_free(dwh); bb_free(wh); bb_free(wf);
    }
    bb_cuda_free(dpk); bb_cuda_free(dx); bb_cuda_free(dout);
    bb_free(pk); bb_free(w); bb_free(x); bb_free(got); bb_free(want);
}

static void test_packed(void) {
    const int shapes[][3] = {{1, 64, 16}, {7, 200, 45}, {33, 384, 130}}; /* N C OC: ragged C, OC and N */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int p = BB_PREC_FP16; p < BB_PREC_COUNT; p++) {
            if (!bb_cuda_has_packed((bb_precision)p)) { /* no GPU kernel (nf4): say so, once */
                if (s == 0) printf("note: %s has no GPU packed kernel (the staged backend runs the CPU one)\n", bb_precisions[p].name);
                continue;
            }
            bb_prec_opts o = bb_prec_default_opts((bb_precision)p);
            if (p != BB_PREC_INT4) { check_packed((bb_precision)p, o, shapes[s][0], shapes[s][1], shapes[s][2]); continue; }
            for (int G = 32; G <= 128; G *= 2)
                for (int act = 0; act < 2; act++) {
                    o.group = G;
                    o.act = act ? BB_ACTQ_INT8_BLOCK : BB_ACTQ_INT8_TOKEN;
                    check_packed(BB_PREC_INT4, o, shapes[s][0], shapes[s][1], shapes[s][2]);
                }
        }
}

/* cublasLt IMMA: exact int32 dots vs a CPU loop; unsupported shapes must say so (-1). */
static void test_imma(void) {
    const int shapes[][3] = {{32, 384, 128}, {64, 768, 2304}, {5, 70, 45}}; /* the last: C, OC not multiples of 4 */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][0], C = shapes[s][1], OC = shapes[s][2];
        int8_t *qa = bb_alloc(BB_MEM_OTHER, (size_t)N * C), *qw = bb_alloc(BB_MEM_OTHER, (size_t)OC * C);
        for (size_t i = 0; i < (size_t)N * C; i++) qa[i] = (int8_t)(frand() * 127.5f);
        for (size_t i = 0; i < (size_t)OC * C; i++) qw[i] = (int8_t)(frand() * 127.5f);
        qa[0] = -128;
        int8_t *dqa = bb_cuda_alloc(BB_MEM_ACTS, (size_t)N * C), *dqw = bb_cuda_alloc(BB_MEM_PACKED, (size_t)OC * C);
        int32_t *dout = bb_cuda_alloc(BB_MEM_ACTS, (size_t)N * OC * sizeof(int32_t));
        int32_t *got = bb_alloc(BB_MEM_OTHER, (size_t)N * OC * sizeof(int32_t));
        bb_cuda_upload(dqa, qa, (size_t)N * C);
        bb_cuda_upload(dqw, qw, (size_t)OC * C);
        int rc = bb_cuda_gemm_i8(dout, dqa, dqw, N, C, OC);
        if (C % 4 || OC % 4) {
            CHECK(rc == -1, "imma %dx%dx%d: C or OC not a multiple of 4 must be refused, got %d", N, C, OC, rc);
        } else {
            CHECK(rc == 0, "imma %dx%dx%d: cublasLt refused an aligned shape", N, C, OC);
            bb_cuda_download(got, dout, (size_t)N * OC * sizeof(int32_t));
            int bad = 0;
            for (int n = 0; n < N; n++)
                for (int o = 0; o < OC; o++) {
                    int32_t want = 0;
                    for (int c = 0; c < C; c++) want += qa[(size_t)n * C + c] * qw[(size_t)o * C + c];
                    if (rc == 0 && got[(size_t)n * OC + o] != want && bad++ < 3)
                        CHECK(0, "imma %dx%dx%d: out[%d][%d] = %d, want %d", N, C, OC, n, o, got[(size_t)n * OC + o], want);
                }
        }
        bb_cuda_free(dqa); bb_cuda_free(dqw); bb_cuda_free(dout);
        bb_free(qa); bb_free(qw); bb_free(got);
    }
}

static void test_memory(void) {
    bb_mem_stats before = bb_cuda_mem_stats();
    void *p = bb_cuda_alloc(BB_MEM_PARAMS, 1 << 20);
    bb_mem_stats during = bb_cuda_mem_stats();
    CHECK(during.current[BB_MEM_PARAMS] == before.current[BB_MEM_PARAMS] + (1 << 20), "params bytes %zu -> %zu",
          before.current[BB_MEM_PARAMS], during.current[BB_MEM_PARAMS]);
    bb_cuda_free(p);
    CHECK(bb_cuda_mem_stats().current_total == before.current_total, "bytes not returned on free");
    bb_cuda_mem_print(stdout);
}

static const bb_test_case cases[] = {
    {"matmul", test_matmul}, {"norms", test_norms},     {"activations", test_activations},
    {"attention", test_attention}, {"loss_embed_optim", test_loss_embed_optim}, {"packed", test_packed},
    {"imma", test_imma}, {"memory", test_memory},
};

int main(int argc, char **argv) {
    char err[256];
    if (bb_cuda_init(err, sizeof err) != 0) {
        printf("SKIP: %s\n", err);
        return 77; /* meson: skipped */
    }
    int ran = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) continue;
        int before = bb_test_failures;
        cases[i].fn();
        printf("%s %s\n", bb_test_failures == before ? "ok  " : "FAIL", cases[i].name);
        fflush(stdout);
        ran++;
    }
    if (!ran) { fprintf(stderr, "no test named %s\n", argv[1]); return 2; }
    return bb_test_failures ? 1 : 0;
}
