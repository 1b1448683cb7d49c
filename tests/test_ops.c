/* test_ops.c — every CPU backend op against the scalar reference (ops_ref.c), on shapes
 * that exercise the edge cases: sequence lengths that are not a multiple of the
 * attention block, grouped KV heads, ignored targets, repeated tokens. */
#include "../engine/alloc.h"
#include "../engine/backend.h"
#include "../engine/cpu/isa.h"
#include "../engine/cpu/vecmath.h"
#include "../precisions/precision.h"
#include "compare.h"
#include "tolerances.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static float frand(void) {  /* uniform in [-1, 1) */
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return (float)((rng_state * 0x2545F4914F6CDD1Dull) >> 40) / (float)(1 << 23) - 1.0f;
}

static float *rnd(size_t n, float scale) {
    float *p = bb_alloc(BB_MEM_OTHER, n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = scale * frand();
    return p;
}

static float *copy(const float *x, size_t n) {
    float *p = bb_alloc(BB_MEM_OTHER, n * sizeof *p);
    memcpy(p, x, n * sizeof *p);
    return p;
}

static const bb_backend *cpu = &bb_backend_cpu, *ref = &bb_backend_ref;
#define TOL (bb_tol("fp32")->op_vs_ref)

static void test_matmul_n(int N);
static void test_matmul(void) {
    test_matmul_n(37);
    test_matmul_n(1);  /* the matrix-vector path of decoding */
}

static void test_matmul_n(int N) {
    int C = 70, OC = 45;
    float *x = rnd((size_t)N * C, 1), *w = rnd((size_t)OC * C, 1), *b = rnd(OC, 1);
    for (int variant = 0; variant < 3; variant++) {  /* bias, no bias, accumulate */
        float *o1 = rnd((size_t)N * OC, 1), *o2 = copy(o1, (size_t)N * OC);
        const float *bias = variant == 1 ? NULL : b;
        cpu->matmul_forward(o1, x, w, bias, N, C, OC, variant == 2);
        ref->matmul_forward(o2, x, w, bias, N, C, OC, variant == 2);
        EXPECT_CLOSE_F(variant == 0 ? "matmul.out(bias)" : variant == 1 ? "matmul.out" : "matmul.out(acc)", o1, o2,
                       (size_t)N * OC, TOL);
        bb_free(o1); bb_free(o2);
    }
    float *dout = rnd((size_t)N * OC, 1);
    float *dx1 = rnd((size_t)N * C, 1), *dx2 = copy(dx1, (size_t)N * C);
    float *dw1 = rnd((size_t)OC * C, 1), *dw2 = copy(dw1, (size_t)OC * C);
    float *db1 = rnd(OC, 1), *db2 = copy(db1, OC);
    cpu->matmul_backward(dx1, dw1, db1, dout, x, w, N, C, OC);
    ref->matmul_backward(dx2, dw2, db2, dout, x, w, N, C, OC);
    EXPECT_CLOSE_F("matmul.dinp", dx1, dx2, (size_t)N * C, TOL);
    EXPECT_CLOSE_F("matmul.dweight", dw1, dw2, (size_t)OC * C, TOL);
    EXPECT_CLOSE_F("matmul.dbias", db1, db2, OC, TOL);
    bb_free(x); bb_free(w); bb_free(b); bb_free(dout);
    bb_free(dx1); bb_free(dx2); bb_free(dw1); bb_free(dw2); bb_free(db1); bb_free(db2);
}

static void test_norms(void) {
    int N = 29, C = 67;
    float *x = rnd((size_t)N * C, 2), *w = rnd(C, 1), *b = rnd(C, 1), *dy = rnd((size_t)N * C, 1);
    float *o1 = rnd((size_t)N * C, 1), *o2 = rnd((size_t)N * C, 1);
    float m1[64], m2[64], r1[64], r2[64];
    cpu->layernorm_forward(o1, m1, r1, x, w, b, N, C, 1e-5f);
    ref->layernorm_forward(o2, m2, r2, x, w, b, N, C, 1e-5f);
    EXPECT_CLOSE_F("layernorm.out", o1, o2, (size_t)N * C, TOL);
    EXPECT_CLOSE_F("layernorm.rstd", r1, r2, N, TOL);
    float *dx1 = rnd((size_t)N * C, 1), *dx2 = copy(dx1, (size_t)N * C);
    float *dw1 = rnd(C, 1), *dw2 = copy(dw1, C), *db1 = rnd(C, 1), *db2 = copy(db1, C);
    cpu->layernorm_backward(dx1, dw1, db1, dy, x, w, m2, r2, N, C);
    ref->layernorm_backward(dx2, dw2, db2, dy, x, w, m2, r2, N, C);
    EXPECT_CLOSE_F("layernorm.dinp", dx1, dx2, (size_t)N * C, TOL);
    EXPECT_CLOSE_F("layernorm.dweight", dw1, dw2, C, TOL);
    EXPECT_CLOSE_F("layernorm.dbias", db1, db2, C, TOL);
    cpu->rmsnorm_forward(o1, r1, x, w, N, C, 1e-5f);
    ref->rmsnorm_forward(o2, r2, x, w, N, C, 1e-5f);
    EXPECT_CLOSE_F("rmsnorm.out", o1, o2, (size_t)N * C, TOL);
    memcpy(dx2, dx1, (size_t)N * C * sizeof(float));
    memcpy(dw2, dw1, (size_t)C * sizeof(float));
    cpu->rmsnorm_backward(dx1, dw1, dy, x, w, r2, N, C);
    ref->rmsnorm_backward(dx2, dw2, dy, x, w, r2, N, C);
    EXPECT_CLOSE_F("rmsnorm.dinp", dx1, dx2, (size_t)N * C, TOL);
    EXPECT_CLOSE_F("rmsnorm.dweight", dw1, dw2, C, TOL);
    bb_free(x); bb_free(w); bb_free(b); bb_free(dy); bb_free(o1); bb_free(o2);
    bb_free(dx1); bb_free(dx2); bb_free(dw1); bb_free(dw2); bb_free(db1); bb_free(db2);
}

static void test_activations(void) {
    int N = 13, F = 51;
    float *x = rnd((size_t)N * 2 * F, 4), *dy = rnd((size_t)N * F, 1);
    float *o1 = rnd((size_t)N * F, 1), *o2 = rnd((size_t)N * F, 1);
    cpu->gelu_forward(o1, x, N, F);
    ref->gelu_forward(o2, x, N, F);
    EXPECT_CLOSE_F("gelu.out", o1, o2, (size_t)N * F, TOL);
    float *d1 = rnd((size_t)N * 2 * F, 1), *d2 = copy(d1, (size_t)N * 2 * F);
    cpu->gelu_backward(d1, x, dy, N, F);
    ref->gelu_backward(d2, x, dy, N, F);
    EXPECT_CLOSE_F("gelu.dinp", d1, d2, (size_t)N * F, TOL);
    cpu->swiglu_forward(o1, x, N, F);
    ref->swiglu_forward(o2, x, N, F);
    EXPECT_CLOSE_F("swiglu.out", o1, o2, (size_t)N * F, TOL);
    memcpy(d2, d1, (size_t)N * 2 * F * sizeof(float));
    cpu->swiglu_backward(d1, x, dy, N, F);
    ref->swiglu_backward(d2, x, dy, N, F);
    EXPECT_CLOSE_F("swiglu.dinp", d1, d2, (size_t)N * 2 * F, TOL);
    bb_free(x); bb_free(dy); bb_free(o1); bb_free(o2); bb_free(d1); bb_free(d2);
}

static void test_rope_attention(void) {
    const struct { int B, T, NH, NKV, hd; } shapes[] = {{2, 70, 4, 4, 8}, {1, 131, 6, 2, 16}, {3, 5, 2, 1, 4}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int B = shapes[s].B, T = shapes[s].T, NH = shapes[s].NH, NKV = shapes[s].NKV, hd = shapes[s].hd;
        int QKV = (NH + 2 * NKV) * hd, C = NH * hd, half = hd / 2;
        size_t nq = (size_t)B * T * QKV, ny = (size_t)B * T * C, na = (size_t)B * NH * T * T;
        char name[64];
        float *cs = rnd((size_t)T * half, 1), *sn = rnd((size_t)T * half, 1);
        float *q1 = rnd(nq, 1), *q2 = copy(q1, nq);
        cpu->rope_forward(q1, cs, sn, B, T, NH, NKV, hd);
        ref->rope_forward(q2, cs, sn, B, T, NH, NKV, hd);
        snprintf(name, sizeof name, "rope.out[shape %zu]", s);
        EXPECT_CLOSE_F(name, q1, q2, nq, TOL);
        cpu->rope_backward(q1, cs, sn, B, T, NH, NKV, hd);
        ref->rope_backward(q2, cs, sn, B, T, NH, NKV, hd);
        snprintf(name, sizeof name, "rope.dinp[shape %zu]", s);
        EXPECT_CLOSE_F(name, q1, q2, nq, TOL);
        float *y1 = rnd(ny, 1), *y2 = rnd(ny, 1), *a1 = rnd(na, 1), *a2 = rnd(na, 1);
        cpu->attention_forward(y1, a1, q1, B, T, NH, NKV, hd, BB_ATT_F32);
        ref->attention_forward(y2, a2, q1, B, T, NH, NKV, hd, BB_ATT_F32);
        snprintf(name, sizeof name, "attention.out[shape %zu]", s);
        EXPECT_CLOSE_F(name, y1, y2, ny, TOL);
        snprintf(name, sizeof name, "attention.att[shape %zu]", s);
        EXPECT_CLOSE_F(name, a1, a2, na, TOL);
        float *dy = rnd(ny, 1), *dq1 = rnd(nq, 1), *dq2 = copy(dq1, nq);
        cpu->attention_backward(dq1, dy, q1, a2, B, T, NH, NKV, hd, BB_ATT_F32);
        ref->attention_backward(dq2, dy, q1, a2, B, T, NH, NKV, hd, BB_ATT_F32);
        snprintf(name, sizeof name, "attention.dqkv[shape %zu]", s);
        EXPECT_CLOSE_F(name, dq1, dq2, nq, TOL);
        /* att == NULL (selective recomputation, backend.h): forward keeps no probabilities
         * and gives the same out; backward recomputes them with forward's code, so its
         * gradient is bit for bit the one from the kept probabilities (tolerance 0); the
         * same for the reference */
        const bb_backend *both[] = {cpu, ref};
        const float *kept_y[] = {y1, y2}, *kept_att[] = {a1, a2};
        for (int k = 0; k < 2; k++) {
            float *y3 = rnd(ny, 2), *g1 = rnd(nq, 3), *g2 = copy(g1, nq);
            both[k]->attention_forward(y3, NULL, q1, B, T, NH, NKV, hd, BB_ATT_F32);
            snprintf(name, sizeof name, "%s attention.out att=NULL vs kept[shape %zu]", both[k]->name, s);
            EXPECT_CLOSE_F(name, y3, kept_y[k], ny, 0.0);
            both[k]->attention_backward(g1, dy, q1, kept_att[k], B, T, NH, NKV, hd, BB_ATT_F32);
            both[k]->attention_backward(g2, dy, q1, NULL, B, T, NH, NKV, hd, BB_ATT_F32);
            snprintf(name, sizeof name, "%s attention.dqkv recomputed vs kept[shape %zu]", both[k]->name, s);
            EXPECT_CLOSE_F(name, g2, g1, nq, 0.0);
            bb_free(y3); bb_free(g1); bb_free(g2);
        }
        bb_free(cs); bb_free(sn); bb_free(q1); bb_free(q2); bb_free(y1); bb_free(y2);
        bb_free(a1); bb_free(a2); bb_free(dy); bb_free(dq1); bb_free(dq2);
    }
}

/* Mixed-precision attention (backend.h bb_att_fmt F16/BF16): every kept probability is
 * the round-to-nearest-even of the fp32 one the same backend computes (bit for bit); the
 * CPU and the reference agree within a rounding step; and the probabilities recomputed in
 * backward (att == NULL) are the kept ones, so out and dqkv match bit for bit. */
static void test_attention_16bit(void) {
    const struct { int B, T, NH, NKV, hd; } shapes[] = {{2, 70, 4, 4, 8}, {1, 131, 6, 2, 16}};
    const bb_att_fmt fmts[] = {BB_ATT_F16, BB_ATT_BF16};
    const double step[] = {1.0 / 2048, 1.0 / 256};  /* one rounding step, relative to P's max (<= 1) */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int fi = 0; fi < 2; fi++) {
            int B = shapes[s].B, T = shapes[s].T, NH = shapes[s].NH, NKV = shapes[s].NKV, hd = shapes[s].hd;
            bb_att_fmt fmt = fmts[fi];
            size_t nq = (size_t)B * T * (NH + 2 * NKV) * hd, ny = (size_t)B * T * NH * hd, na = (size_t)B * NH * T * T;
            const char *fn = fmt == BB_ATT_F16 ? "f16" : "bf16";
            char name[96];
            float *q = rnd(nq, 11), *dy = rnd(ny, 12), *p32 = rnd(na, 1), *w[2], *y[2], *g[2];
            uint16_t *h[2] = {bb_alloc(BB_MEM_OTHER, na * 2), bb_alloc(BB_MEM_OTHER, na * 2)};
            const bb_backend *both[] = {cpu, ref};
            for (int k = 0; k < 2; k++) {
                float *y32 = rnd(ny, 2);
                both[k]->attention_forward(y32, p32, q, B, T, NH, NKV, hd, BB_ATT_F32);
                y[k] = rnd(ny, 3);
                both[k]->attention_forward(y[k], h[k], q, B, T, NH, NKV, hd, fmt);
                size_t bad = 0, first = 0;
                for (size_t i = 0; i < na; i++) {
                    uint16_t want = fmt == BB_ATT_F16 ? bb_fp32_to_fp16(p32[i]) : bb_fp32_to_bf16(p32[i]);
                    if (h[k][i] != want && !bad++) first = i;
                }
                CHECK(bad == 0, "%s attention.att %s[shape %zu]: %zu of %zu kept values are not the rounded fp32 "
                      "probabilities, first [%zu] 0x%04x vs %.9g", both[k]->name, fn, s, bad, na, first, h[k][first],
                      p32[first]);
                w[k] = bb_alloc(BB_MEM_OTHER, na * sizeof(float));
                for (size_t i = 0; i < na; i++)
                    w[k][i] = fmt == BB_ATT_F16 ? bb_fp16_to_fp32(h[k][i]) : bb_bf16_to_fp32(h[k][i]);
                /* recomputation: the same out without keeping, the same gradient from NULL */
                float *y3 = rnd(ny, 4);
                both[k]->attention_forward(y3, NULL, q, B, T, NH, NKV, hd, fmt);
                snprintf(name, sizeof name, "%s attention.out %s att=NULL vs kept[shape %zu]", both[k]->name, fn, s);
                EXPECT_CLOSE_F(name, y3, y[k], ny, 0.0);
                g[k] = rnd(nq, 5);
                float *g2 = copy(g[k], nq);
                both[k]->attention_backward(g[k], dy, q, h[k], B, T, NH, NKV, hd, fmt);
                both[k]->attention_backward(g2, dy, q, NULL, B, T, NH, NKV, hd, fmt);
                snprintf(name, sizeof name, "%s attention.dqkv %s recomputed vs kept[shape %zu]", both[k]->name, fn, s);
                EXPECT_CLOSE_F(name, g2, g[k], nq, 0.0);
                bb_free(y32); bb_free(y3); bb_free(g2);
            }
            snprintf(name, sizeof name, "attention.att %s cpu vs ref[shape %zu]", fn, s);
            EXPECT_CLOSE_F(name, w[0], w[1], na, step[fi]);
            snprintf(name, sizeof name, "attention.out %s cpu vs ref[shape %zu]", fn, s);
            EXPECT_CLOSE_F(name, y[0], y[1], ny, step[fi]);
            /* the same kept probabilities into both backwards: only the summation order differs */
            float *g1 = rnd(nq, 6), *g2 = copy(g1, nq);
            cpu->attention_backward(g1, dy, q, h[1], B, T, NH, NKV, hd, fmt);
            ref->attention_backward(g2, dy, q, h[1], B, T, NH, NKV, hd, fmt);
            snprintf(name, sizeof name, "attention.dqkv %s cpu vs ref, the same P[shape %zu]", fn, s);
            EXPECT_CLOSE_F(name, g1, g2, nq, TOL);
            bb_free(q); bb_free(dy); bb_free(p32); bb_free(g1); bb_free(g2);
            for (int k = 0; k < 2; k++) { bb_free(h[k]); bb_free(w[k]); bb_free(y[k]); bb_free(g[k]); }
        }
}

static void test_loss_embedding_optim(void) {
    int N = 23, V = 101, B = 3, T = 9, C = 17;
    float *z = rnd((size_t)N * V, 6), *p1 = rnd((size_t)N * V, 1), *p2 = rnd((size_t)N * V, 1), l1[32], l2[32];
    int targets[32];
    for (int i = 0; i < N; i++) targets[i] = i % 5 == 3 ? -1 : (i * 37) % V;
    cpu->crossentropy_forward(l1, p1, z, targets, N, V);
    ref->crossentropy_forward(l2, p2, z, targets, N, V);
    EXPECT_CLOSE_F("crossentropy.losses", l1, l2, N, TOL);
    EXPECT_CLOSE_F("crossentropy.probs", p1, p2, (size_t)N * V, TOL);
    for (int i = 0; i < N; i++) CHECK(targets[i] >= 0 || l1[i] == 0.0f, "ignored target %d has loss %g", i, l1[i]);
    {   /* probs over the logits (bb_model logits_in_place): the same bits as apart, both backends */
        const bb_backend *be[2] = {cpu, ref};
        const float *want_p[2] = {p1, p2}, *want_l[2] = {l1, l2};
        for (int b = 0; b < 2; b++) {
            float *zz = copy(z, (size_t)N * V), ll[32];
            be[b]->crossentropy_forward(ll, zz, zz, targets, N, V);
            EXPECT_CLOSE_F(b ? "crossentropy.losses(in place, ref)" : "crossentropy.losses(in place)", ll, want_l[b],
                           N, 0.0);
            EXPECT_CLOSE_F(b ? "crossentropy.probs(in place, ref)" : "crossentropy.probs(in place)", zz, want_p[b],
                           (size_t)N * V, 0.0);
            bb_free(zz);
        }
    }
    cpu->crossentropy_backward(p1, p1, targets, 0.25f, N, V);  /* in place, as the model does */
    ref->crossentropy_backward(p2, p2, targets, 0.25f, N, V);
    EXPECT_CLOSE_F("crossentropy.dlogits", p1, p2, (size_t)N * V, TOL);

    /* knowledge distillation (backend.h kd_forward): random teacher logits, and a row whose
     * teacher is one-hot to float precision (its other probabilities underflow at T = 0.5) */
    float *zt = rnd((size_t)N * V, 6);
    for (int v = 0; v < V; v++) zt[2 * V + v] = v == 5 ? 80.0f : -80.0f;
    const float kd_settings[][2] = {{0.5f, 2.0f}, {0.9f, 0.5f}, {0.0f, 4.0f}};
    for (int k = 0; k < 3; k++) {
        float alpha = kd_settings[k][0], temp = kd_settings[k][1];
        char name[64];
        cpu->kd_forward(l1, p1, z, zt, targets, alpha, temp, N, V);
        ref->kd_forward(l2, p2, z, zt, targets, alpha, temp, N, V);
        snprintf(name, sizeof name, "kd.losses[alpha=%g T=%g]", alpha, temp);
        EXPECT_CLOSE_F(name, l1, l2, N, TOL);
        snprintf(name, sizeof name, "kd.probs[alpha=%g T=%g]", alpha, temp);
        EXPECT_CLOSE_F(name, p1, p2, (size_t)N * V, TOL);
        for (int i = 0; i < N; i++) CHECK(targets[i] >= 0 || l1[i] == 0.0f, "kd: ignored target %d has loss %g", i, l1[i]);
        cpu->kd_backward(p1, p1, z, zt, targets, alpha, temp, 0.25f, N, V);  /* in place, as the model does */
        ref->kd_backward(p2, p2, z, zt, targets, alpha, temp, 0.25f, N, V);
        snprintf(name, sizeof name, "kd.dlogits[alpha=%g T=%g]", alpha, temp);
        EXPECT_CLOSE_F(name, p1, p2, (size_t)N * V, TOL);
    }
    bb_free(zt);

    int tokens[27];
    for (int i = 0; i < B * T; i++) tokens[i] = (i * 5) % 7;  /* repeats */
    float *wte = rnd((size_t)7 * C, 1), *wpe = rnd((size_t)T * C, 1);
    float *o1 = rnd((size_t)B * T * C, 1), *o2 = rnd((size_t)B * T * C, 1);
    cpu->encoder_forward(o1, tokens, wte, wpe, B, T, C);
    ref->encoder_forward(o2, tokens, wte, wpe, B, T, C);
    EXPECT_CLOSE_F("encoder.out", o1, o2, (size_t)B * T * C, TOL);
    float *de1 = rnd((size_t)7 * C, 1), *de2 = copy(de1, (size_t)7 * C);
    float *dp1 = rnd((size_t)T * C, 1), *dp2 = copy(dp1, (size_t)T * C);
    cpu->encoder_backward(de1, dp1, o1, tokens, B, T, C);
    ref->encoder_backward(de2, dp2, o1, tokens, B, T, C);
    EXPECT_CLOSE_F("encoder.dwte", de1, de2, (size_t)7 * C, TOL);
    EXPECT_CLOSE_F("encoder.dwpe", dp1, dp2, (size_t)T * C, TOL);

    size_t n = 100003;
    float *w1 = rnd(n, 1), *w2 = copy(w1, n), *g = rnd(n, 1);
    float *m1 = rnd(n, 0.1f), *m2 = copy(m1, n), *v1 = rnd(n, 0.1f);
    for (size_t i = 0; i < n; i++) v1[i] = fabsf(v1[i]);
    float *v2 = copy(v1, n);
    for (int t = 1; t <= 3; t++) {
        cpu->adamw_update(w1, g, m1, v1, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, t);
        ref->adamw_update(w2, g, m2, v2, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, t);
    }
    EXPECT_CLOSE_F("adamw.params", w1, w2, n, TOL);
    EXPECT_CLOSE_F("adamw.m", m1, m2, n, TOL);
    EXPECT_CLOSE_F("adamw.v", v1, v2, n, TOL);
    double s1 = cpu->sum_squares(g, n), s2 = ref->sum_squares(g, n);
    CHECK(fabs(s1 - s2) <= 1e-12 * s2, "sum_squares %.17g vs %.17g", s1, s2);
    bb_free(z); bb_free(p1); bb_free(p2); bb_free(wte); bb_free(wpe); bb_free(o1); bb_free(o2);
    bb_free(de1); bb_free(de2); bb_free(dp1); bb_free(dp2);
    bb_free(w1); bb_free(w2); bb_free(g); bb_free(m1); bb_free(m2); bb_free(v1); bb_free(v2);
}

/* The vectorizable exp/tanh of the fast ops against libm over their whole useful range. */
static void test_vecmath(void) {
    double worst_exp = 0, worst_tanh = 0;
    float at_exp = 0, at_tanh = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.00731f) {
        double e = fabs((double)bb_expf(x) - exp((double)x)) / exp((double)x);
        if (e > worst_exp) { worst_exp = e; at_exp = x; }
    }
    for (float x = -20.0f; x <= 20.0f; x += 0.000917f) {
        double e = fabs((double)bb_tanhf(x) - tanh((double)x));  /* absolute: GELU adds it to 1 */
        if (e > worst_tanh) { worst_tanh = e; at_tanh = x; }
    }
    CHECK(worst_exp <= 5e-7, "bb_expf relative error %.3g at x=%g", worst_exp, at_exp);
    CHECK(worst_tanh <= 3e-7, "bb_tanhf absolute error %.3g at x=%g", worst_tanh, at_tanh);
    printf("     bb_expf max rel error %.3g, bb_tanhf max abs error %.3g\n", worst_exp, worst_tanh);
}

/* Vectorized activation fake quantization == bb_fake_acts bit for bit (ragged sizes,
 * ties, huge and tiny values, NaN for bf16 rounding). */
static void test_fake_acts(void) {
    const int C = 131;
    float *x = rnd((size_t)3 * C, 50), *ref_x = bb_alloc(BB_MEM_OTHER, (size_t)3 * C * sizeof(float));
    x[3] = 0.0f; x[7] = 1e-30f; x[9] = 65520.0f; x[10] = -70000.0f; x[11] = 5.9604645e-08f;  /* half edge cases */
    const bb_eltwise_kernels *k = bb_eltwise();
    struct { const char *name; bb_act_quant mode; int block; } modes[] = {
        {"int8/token", BB_ACTQ_INT8_TOKEN, C}, {"int8/block32", BB_ACTQ_INT8_BLOCK, 32},
        {"fp16", BB_ACTQ_FP16, 0}, {"bf16", BB_ACTQ_BF16, 0}};
    for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
        float *got = copy(x, (size_t)3 * C);
        memcpy(ref_x, x, (size_t)3 * C * sizeof(float));
        bb_fake_acts(ref_x, 3, C, modes[mi].mode, modes[mi].block);
        for (int r = 0; r < 3; r++) {
            float *row = got + (size_t)r * C;
            if (modes[mi].mode == BB_ACTQ_FP16) k->fake_fp16(row, (size_t)C);
            else if (modes[mi].mode == BB_ACTQ_BF16) k->fake_bf16(row, (size_t)C);
            else k->fake_int8(row, C, modes[mi].block);
        }
        int diff = memcmp(got, ref_x, (size_t)3 * C * sizeof(float)) != 0;
        char name[64];
        snprintf(name, sizeof name, "fake_acts.%s[%s]", modes[mi].name, k->name);
        if (diff) EXPECT_CLOSE_F(name, got, ref_x, (size_t)3 * C, 0.0);
        CHECK(!diff, "%s is not bit-exact with bb_fake_acts", name);
        bb_free(got);
    }
    bb_free(x);
    bb_free(ref_x);
}

/* Fast weight fake quantizers == the reference ones bit for bit (ragged groups). */
static void test_fake_weights(void) {
    int OC = 7, C = 203;
    float *w = rnd((size_t)OC * C, 0.3f), *a = rnd((size_t)OC * C, 1), *b = rnd((size_t)OC * C, 1);
    w[5] = 0.0f;
    for (int p = BB_PREC_FP16; p < BB_PREC_COUNT; p++) {
        bb_prec_opts o = bb_prec_default_opts((bb_precision)p);
        bb_precisions[p].fake_weights(a, w, OC, C, &o);
        bb_fake_weights_fast((bb_precision)p, b, w, OC, C, &o);
        char name[64];
        snprintf(name, sizeof name, "fake_weights.%s[%s]", bb_precisions[p].name, bb_eltwise()->name);
        int diff = memcmp(a, b, (size_t)OC * C * sizeof(float)) != 0;
        if (diff) EXPECT_CLOSE_F(name, b, a, (size_t)OC * C, 0.0);
        CHECK(!diff, "%s is not bit-exact with the reference", name);
    }
    bb_free(w); bb_free(a); bb_free(b);
}

/* The elementwise ops again on every SIMD path this CPU supports (isa.h). */
static void test_every_isa(void) {
    bb_isa best = bb_isa_best_supported();
    for (int isa = 0; isa <= (int)best; isa++) {
        bb_isa_force((bb_isa)isa);
        int before = bb_test_failures;
        test_matmul();  /* the tiny products use the ISA's dot kernel */
        test_activations();
        test_norms();
        test_rope_attention();
        test_loss_embedding_optim();
        test_fake_acts();
        test_fake_weights();
        printf("     isa %s: %s\n", bb_isa_name((bb_isa)isa), bb_test_failures == before ? "ok" : "FAILED");
    }
    for (int isa = (int)best + 1; isa < BB_ISA_COUNT; isa++)
        printf("     isa %s: not supported by this CPU, not tested\n", bb_isa_name((bb_isa)isa));
    bb_isa_force(best);
}

static const bb_test_case cases[] = {
    {"every_isa", test_every_isa},
    {"vecmath", test_vecmath},
    {"matmul", test_matmul},
    {"norms", test_norms},
    {"activations", test_activations},
    {"rope_attention", test_rope_attention},
    {"attention_16bit", test_attention_16bit},
    {"loss_embedding_optim", test_loss_embedding_optim},
};
BB_TEST_MAIN(cases)
