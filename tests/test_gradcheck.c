/* test_gradcheck.c — every op's backward against central finite differences, in double
 * precision: the scalar reference ops compiled in double (ops_ref_f64.h). Each check
 * uses the scalar loss l = sum(w * out) with random w, so d l / d out = w is fed to the
 * backward op, and compares the analytic gradient of every input with
 * (l(x + h) - l(x - h)) / 2h, h = 1e-5. Combined with test_ops (fast op == reference),
 * this checks the fast ops' gradients too. */
#include "../engine/alloc.h"
#include "../engine/cpu/ops_ref_f64.h"
#include "../engine/lora_ref.h"
#include "compare.h"
#include "tolerances.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double drand(void) {
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
}
/* Test buffers live until the end of each test case (free_all), so cases stay short. */
static void *live[256];
static int n_live;
static double *dzeros(size_t n) {
    double *p = bb_alloc(BB_MEM_OTHER, (n ? n : 1) * sizeof(double));
    if (n_live < 256) live[n_live++] = p;
    return p;
}
static void free_all(void) {
    while (n_live) bb_free(live[--n_live]);
}
static double *drnd(size_t n, double scale) {
    double *p = dzeros(n);
    for (size_t i = 0; i < n; i++) p[i] = scale * drand();
    return p;
}

/* The op under test, as a closure: forward writes out from the inputs in ctx. */
typedef struct fd_case fd_case;
struct fd_case {
    void (*forward)(fd_case *c, double *out);
    size_t n_out;
    double *w;  /* (n_out) loss weights */
    int N, C, OC, F, B, T, NH, NKV, hd, V;
    double *x, *weight, *bias, *cs, *sn, *att;
    int *tokens;
    double alpha, temp;  /* knowledge distillation */
};

static double loss_of(fd_case *c) {
    double *out = bb_alloc(BB_MEM_OTHER, c->n_out * sizeof *out), l = 0;
    c->forward(c, out);
    for (size_t i = 0; i < c->n_out; i++) l += c->w[i] * out[i];
    bb_free(out);
    return l;
}

/* Compares analytic[i] with the finite difference of loss_of w.r.t. param[i]. */
static void fd_compare(const char *name, fd_case *c, double *param, size_t n, const double *analytic) {
    const double h = 1e-5;
    double *numeric = bb_alloc(BB_MEM_OTHER, n * sizeof *numeric);
    for (size_t i = 0; i < n; i++) {
        double keep = param[i];
        param[i] = keep + h;
        double lp = loss_of(c);
        param[i] = keep - h;
        double lm = loss_of(c);
        param[i] = keep;
        numeric[i] = (lp - lm) / (2 * h);
    }
    EXPECT_CLOSE_D(name, analytic, numeric, n, bb_tol("fp32")->fd_f64);
    bb_free(numeric);
}

static void mm_fwd(fd_case *c, double *out) { matmul_forward_ref_f64(out, c->x, c->weight, c->bias, c->N, c->C, c->OC, 0); }
static void test_matmul(void) {
    fd_case c = {.forward = mm_fwd, .N = 5, .C = 7, .OC = 6};
    c.x = drnd(35, 1); c.weight = drnd(42, 1); c.bias = drnd(6, 1);
    c.n_out = 30; c.w = drnd(30, 1);
    double *dx = dzeros(35), *dw = dzeros(42), *db = dzeros(6);
    matmul_backward_ref_f64(dx, dw, db, c.w, c.x, c.weight, c.N, c.C, c.OC);
    fd_compare("matmul.dinp", &c, c.x, 35, dx);
    fd_compare("matmul.dweight", &c, c.weight, 42, dw);
    fd_compare("matmul.dbias", &c, c.bias, 6, db);
    free_all();
}

static void ln_fwd(fd_case *c, double *out) {
    double mean[16], rstd[16];
    layernorm_forward_ref_f64(out, mean, rstd, c->x, c->weight, c->bias, c->N, c->C, 1e-5);
}
static void rms_fwd(fd_case *c, double *out) {
    double rstd[16];
    rmsnorm_forward_ref_f64(out, rstd, c->x, c->weight, c->N, c->C, 1e-5);
}
static void test_norms(void) {
    fd_case c = {.forward = ln_fwd, .N = 4, .C = 9};
    c.x = drnd(36, 2); c.weight = drnd(9, 1); c.bias = drnd(9, 1);
    c.n_out = 36; c.w = drnd(36, 1);
    double mean[4], rstd[4], *out = dzeros(36);
    layernorm_forward_ref_f64(out, mean, rstd, c.x, c.weight, c.bias, 4, 9, 1e-5);
    double *dx = dzeros(36), *dw = dzeros(9), *db = dzeros(9);
    layernorm_backward_ref_f64(dx, dw, db, c.w, c.x, c.weight, mean, rstd, 4, 9);
    fd_compare("layernorm.dinp", &c, c.x, 36, dx);
    fd_compare("layernorm.dweight", &c, c.weight, 9, dw);
    fd_compare("layernorm.dbias", &c, c.bias, 9, db);
    c.forward = rms_fwd;
    rmsnorm_forward_ref_f64(out, rstd, c.x, c.weight, 4, 9, 1e-5);
    memset(dx, 0, 36 * sizeof *dx);
    memset(dw, 0, 9 * sizeof *dw);
    rmsnorm_backward_ref_f64(dx, dw, c.w, c.x, c.weight, rstd, 4, 9);
    fd_compare("rmsnorm.dinp", &c, c.x, 36, dx);
    fd_compare("rmsnorm.dweight", &c, c.weight, 9, dw);
    free_all();
}

static void gelu_fwd(fd_case *c, double *out) { gelu_forward_ref_f64(out, c->x, c->N, c->F); }
static void swiglu_fwd(fd_case *c, double *out) { swiglu_forward_ref_f64(out, c->x, c->N, c->F); }
static void test_activations(void) {
    fd_case c = {.forward = gelu_fwd, .N = 3, .F = 8};
    c.x = drnd(48, 3); c.n_out = 24; c.w = drnd(24, 1);
    double *dx = dzeros(48);
    gelu_backward_ref_f64(dx, c.x, c.w, 3, 8);
    fd_compare("gelu.dinp", &c, c.x, 24, dx);
    c.forward = swiglu_fwd;
    memset(dx, 0, 48 * sizeof *dx);
    swiglu_backward_ref_f64(dx, c.x, c.w, 3, 8);
    fd_compare("swiglu.dinp", &c, c.x, 48, dx);
    free_all();
}

static void rope_fwd(fd_case *c, double *out) {
    size_t n = (size_t)c->B * c->T * (c->NH + 2 * c->NKV) * c->hd;
    memcpy(out, c->x, n * sizeof *out);
    rope_forward_ref_f64(out, c->cs, c->sn, c->B, c->T, c->NH, c->NKV, c->hd);
}
static void att_fwd(fd_case *c, double *out) {
    attention_forward_ref_f64(out, c->att, c->x, c->B, c->T, c->NH, c->NKV, c->hd, BB_ATT_F32);
}
static void test_rope_attention(void) {
    const struct { int NH, NKV; } heads[] = {{2, 2}, {4, 2}, {3, 1}};
    for (int k = 0; k < 3; k++) {
        fd_case c = {.B = 2, .T = 5, .NH = heads[k].NH, .NKV = heads[k].NKV, .hd = 4};
        int QKV = (c.NH + 2 * c.NKV) * c.hd, half = c.hd / 2;
        size_t nq = (size_t)c.B * c.T * QKV, ny = (size_t)c.B * c.T * c.NH * c.hd;
        c.x = drnd(nq, 1);
        c.cs = dzeros((size_t)c.T * half); c.sn = dzeros((size_t)c.T * half);
        for (int t = 0; t < c.T; t++)
            for (int i = 0; i < half; i++) {
                double a = t * pow(10000.0, -2.0 * i / c.hd);
                c.cs[t * half + i] = cos(a);
                c.sn[t * half + i] = sin(a);
            }
        char name[64];
        c.forward = rope_fwd; c.n_out = nq; c.w = drnd(nq, 1);
        double *dx = dzeros(nq);
        memcpy(dx, c.w, nq * sizeof *dx);
        rope_backward_ref_f64(dx, c.cs, c.sn, c.B, c.T, c.NH, c.NKV, c.hd);
        snprintf(name, sizeof name, "rope.dinp[NH=%d NKV=%d]", c.NH, c.NKV);
        fd_compare(name, &c, c.x, nq, dx);
        c.forward = att_fwd; c.n_out = ny; c.w = drnd(ny, 1);
        c.att = dzeros((size_t)c.B * c.NH * c.T * c.T);
        double *y = dzeros(ny);
        att_fwd(&c, y);
        memset(dx, 0, nq * sizeof *dx);
        attention_backward_ref_f64(dx, c.w, c.x, c.att, c.B, c.T, c.NH, c.NKV, c.hd, BB_ATT_F32);
        snprintf(name, sizeof name, "attention.dqkv[NH=%d NKV=%d]", c.NH, c.NKV);
        fd_compare(name, &c, c.x, nq, dx);
    }
    free_all();
}

static void ce_fwd(fd_case *c, double *out) {
    double *probs = bb_alloc(BB_MEM_OTHER, (size_t)c->N * c->V * sizeof *probs);
    crossentropy_forward_ref_f64(out, probs, c->x, c->tokens, c->N, c->V);
    bb_free(probs);
}
static void enc_fwd(fd_case *c, double *out) { encoder_forward_ref_f64(out, c->tokens, c->weight, c->bias, c->B, c->T, c->C); }
static void test_loss_embedding(void) {
    int targets[6] = {3, -1, 0, 6, 6, -1};
    fd_case c = {.forward = ce_fwd, .N = 6, .V = 7, .tokens = targets};
    c.x = drnd(42, 3); c.n_out = 6;
    c.w = dzeros(6);
    for (int i = 0; i < 6; i++) c.w[i] = 0.25;  /* mean over the 4 kept targets */
    double *probs = dzeros(42), *losses = dzeros(6), *dz = dzeros(42);
    crossentropy_forward_ref_f64(losses, probs, c.x, targets, 6, 7);
    crossentropy_backward_ref_f64(dz, probs, targets, 0.25, 6, 7);
    fd_compare("crossentropy.dlogits", &c, c.x, 42, dz);
    int tokens[6] = {1, 4, 1, 0, 4, 4};
    fd_case e = {.forward = enc_fwd, .B = 2, .T = 3, .C = 5, .tokens = tokens};
    e.weight = drnd(25, 1); e.bias = drnd(15, 1); e.n_out = 30; e.w = drnd(30, 1);
    double *dwte = dzeros(25), *dwpe = dzeros(15);
    encoder_backward_ref_f64(dwte, dwpe, e.w, tokens, 2, 3, 5);
    fd_compare("encoder.dwte", &e, e.weight, 25, dwte);
    fd_compare("encoder.dwpe", &e, e.bias, 15, dwpe);
    free_all();
}

/* The LoRA adapter branch of one linear (engine/lora_ref.h): out = scaling B A dropout(x),
 * with and without a dropout mask (the mask is fixed: dropout is differentiated as the
 * masked, rescaled identity it is once drawn). r = 3, ragged C and OC. */
static const uint8_t *lora_mask;
static void lora_fwd(fd_case *c, double *out) {
    double h[64];
    memset(out, 0, c->n_out * sizeof *out);
    bb_lora_linear_forward_ref_f64(out, h, c->x, c->weight, c->bias, lora_mask, 1.0 / 0.75, 2.5, c->N, c->C, c->OC, 3);
}
static void test_lora(void) {
    uint8_t mask[5 * 7];
    for (int i = 0; i < 35; i++) mask[i] = (i * 5 + 1) % 4 != 0;
    for (int masked = 0; masked < 2; masked++) {
        lora_mask = masked ? mask : NULL;
        fd_case c = {.forward = lora_fwd, .N = 5, .C = 7, .OC = 6};
        c.x = drnd(35, 1); c.weight = drnd(21, 1); c.bias = drnd(18, 1);  /* weight = A (3, 7), bias = B (6, 3) */
        c.n_out = 30; c.w = drnd(30, 1);
        double *out = dzeros(30), *h = dzeros(15), *dx = dzeros(35), *dA = dzeros(21), *dB = dzeros(18);
        bb_lora_linear_forward_ref_f64(out, h, c.x, c.weight, c.bias, lora_mask, 1.0 / 0.75, 2.5, 5, 7, 6, 3);
        bb_lora_linear_backward_ref_f64(dx, dA, dB, c.w, c.x, h, c.weight, c.bias, lora_mask, 1.0 / 0.75, 2.5, 5, 7,
                                        6, 3);
        fd_compare(masked ? "lora.dinp[dropout]" : "lora.dinp", &c, c.x, 35, dx);
        fd_compare(masked ? "lora.dA[dropout]" : "lora.dA", &c, c.weight, 21, dA);
        fd_compare(masked ? "lora.dB[dropout]" : "lora.dB", &c, c.bias, 18, dB);
        free_all();
    }
}

/* The distillation loss (backend.h kd_forward) w.r.t. the student logits, teacher logits
 * in c->weight, for alpha and T at and around the spec's values (T < 1 too), masked rows. */
static void kd_fwd(fd_case *c, double *out) {
    double *probs = bb_alloc(BB_MEM_OTHER, (size_t)c->N * c->V * sizeof *probs);
    kd_forward_ref_f64(out, probs, c->x, c->weight, c->tokens, c->alpha, c->temp, c->N, c->V);
    bb_free(probs);
}
static void test_kd(void) {
    const double settings[][2] = {{0.5, 2}, {0.9, 2}, {0.5, 4}, {0.5, 1}, {0.0, 3}, {1.0, 2}, {0.3, 0.5}};
    int targets[6] = {3, -1, 0, 6, 6, -1};
    for (size_t k = 0; k < sizeof settings / sizeof settings[0]; k++) {
        fd_case c = {.forward = kd_fwd, .N = 6, .V = 7, .tokens = targets, .alpha = settings[k][0],
                     .temp = settings[k][1]};
        c.x = drnd(42, 3); c.weight = drnd(42, 3); c.n_out = 6;
        c.w = dzeros(6);
        for (int i = 0; i < 6; i++) c.w[i] = 0.25;  /* mean over the 4 kept targets */
        double *probs = dzeros(42), *losses = dzeros(6), *dz = dzeros(42);
        kd_forward_ref_f64(losses, probs, c.x, c.weight, targets, c.alpha, c.temp, 6, 7);
        kd_backward_ref_f64(dz, probs, c.x, c.weight, targets, c.alpha, c.temp, 0.25, 6, 7);
        char name[64];
        snprintf(name, sizeof name, "kd.dlogits[alpha=%g T=%g]", c.alpha, c.temp);
        fd_compare(name, &c, c.x, 42, dz);
        for (int i = 0; i < 42; i++)
            CHECK(targets[i / 7] >= 0 || dz[i] == 0.0, "%s: masked row %d has gradient %g", name, i / 7, dz[i]);
    }
    free_all();
}

static const bb_test_case cases[] = {
    {"lora", test_lora},
    {"matmul", test_matmul},
    {"norms", test_norms},
    {"activations", test_activations},
    {"rope_attention", test_rope_attention},
    {"loss_embedding", test_loss_embedding},
    {"kd", test_kd},
};
BB_TEST_MAIN(cases)
