/* test_precisions.c — the packed formats and kernels of every precision (precision.h
 * contract), on ragged shapes (C not a multiple of any block, OC not of 16, N not of the
 * register tile) and on every SIMD path this CPU has:
 *   - pack == pack_ref byte for byte; unpack(pack(W)) == fake_weights(W) bit for bit;
 *   - forward_ref vs sgemm(fake_acts(x), fake_weights(W)) (tolerances.h packed_vs_fake);
 *   - dispatched forward on each ISA vs forward_ref (packed_vs_ref: 0 = identical bits),
 *     both = and +=, with inputs that hit roundf's .5 ties in the activation quantizer;
 *   - b158 1.6-bit storage round trip; quantization error of fake_weights (quant_rms);
 *   - nf4: codes of every ISA's packer on planted midpoint ties, backward_input against its
 *     reference and sgemm on unpack(W), the double-quantization error bound, bits per weight
 *     from packed_size, the code books (precisions/nf4.c). */
#include "../common/check.h"
#include "../engine/alloc.h"
#include "../engine/cpu/isa.h"
#include "../precisions/blocks.h"
#include "../precisions/formats.h"
#include "../precisions/gemm.h"
#include "compare.h"
#include "tolerances.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return (float)((rng_state * 0x2545F4914F6CDD1Dull) >> 40) / (float)(1 << 23) - 1.0f;
}
static float gauss(void) { /* Box-Muller */
    float u = 0.5f * (frand() + 1.0f) + 1e-7f, v = frand();
    return sqrtf(-2.0f * logf(u)) * cosf(3.14159265f * v);
}
static float *fbuf(size_t n) { return bb_alloc(BB_MEM_OTHER, n * sizeof(float)); }

/* Weights: Gaussian with a few large outliers, an all-zero row (scale 0 paths) and rows
 * whose scaled values land on roundf's .5 ties (rintf or a round-to-even SIMD mode would
 * differ there): row 1 for int4 (7.5 in every group makes s = 1), row 3 for int8 (amax 127
 * makes s = 1). With b158_ties the whole tensor is +-0.5 / +-1.5 in equal numbers, so the
 * absmean scale is exactly 1 and every weight is a tie. */
static float *make_weights(int OC, int C, int b158_ties) {
    float *w = fbuf((size_t)OC * C);
    if (b158_ties) {
        for (size_t i = 0; i < (size_t)OC * C; i++) w[i] = (i % 2 ? 1.5f : 0.5f) * (i % 3 ? 1.0f : -1.0f);
        if ((size_t)OC * C % 2) w[(size_t)OC * C - 1] = 1.0f;
        return w;
    }
    for (size_t i = 0; i < (size_t)OC * C; i++) w[i] = 0.05f * gauss();
    for (int r = 0; r < OC; r += 7) w[(size_t)r * C + (r * 13) % C] *= 9.0f;
    if (OC > 1)
        for (int c = 0; c < C; c++) w[(size_t)C + c] = c % 32 == 0 ? 7.5f : (float)((c * 5) % 15 - 7) + 0.5f;
    if (OC > 2) memset(w + (size_t)2 * C, 0, (size_t)C * sizeof(float));
    if (OC > 3)
        for (int c = 0; c < C; c++) w[(size_t)3 * C + c] = c % 16 == 0 ? 127.0f : (float)((c * 37) % 253 - 126) + 0.5f;
    return w;
}

/* Activations: Gaussian rows, plus tie rows: row 0 for int8 (amax 127 makes the scale 1,
 * x * inv == x, values k +- 0.5), row 1 for fp16 and bf16 (values halfway between two
 * representable neighbours), a constant row and a zero row. */
static float *make_acts(int N, int C) {
    float *x = fbuf((size_t)N * C);
    for (size_t i = 0; i < (size_t)N * C; i++) x[i] = 2.0f * gauss();
    if (N > 1) {
        for (int c = 0; c < C; c++) x[c] = (float)((c * 37) % 253 - 126) + (c % 3 == 0 ? 0.5f : c % 3 == 1 ? -0.5f : 0.25f);
        x[0] = 127.0f;
        static const float half_ties[4] = {1.0f + 0x1p-11f, -(1.0f + 0x3p-11f), 1.0f + 0x1p-8f, -(1.0f + 0x3p-8f)};
        for (int c = 0; c < C; c++) x[(size_t)C + c] = half_ties[c % 4] * (float)(1 + c % 5);
    }
    if (N > 2)
        for (int c = 0; c < C; c++) x[(size_t)2 * C + c] = 0.5f;
    if (N > 3) memset(x + (size_t)3 * C, 0, (size_t)C * sizeof(float));
    return x;
}

static int first_mismatch(const void *a, const void *b, size_t n) {
    const uint8_t *p = a, *q = b;
    for (size_t i = 0; i < n; i++)
        if (p[i] != q[i]) return (int)i;
    return -1;
}

#define EXPECT_SAME_BYTES(name, got, want, nbytes)                                                               \
    do {                                                                                                        \
        int at_ = first_mismatch((got), (want), (nbytes));                                                       \
        CHECK(at_ < 0, "%s: differs at byte %d of %zu (got 0x%02x, want 0x%02x)", (name), at_, (size_t)(nbytes), \
              at_ < 0 ? 0 : ((const uint8_t *)(got))[at_], at_ < 0 ? 0 : ((const uint8_t *)(want))[at_]);       \
    } while (0)

/* Bitwise float equality, reported like EXPECT_CLOSE_F. The one allowed difference is the
 * sign of zero: fake_weights gives roundf(-0.3) * s = -0.0, which integer codes cannot
 * hold (their zero unpacks to +0.0); the two are equal values in every later sum. */
static void expect_same_floats(const char *name, const float *got, const float *want, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &want[i], 4) == 0 || (got[i] == 0.0f && want[i] == 0.0f)) continue;
        double maxd = 0;
        for (size_t j = 0; j < n; j++) maxd = fmax(maxd, fabs((double)got[j] - want[j]));
        fprintf(stderr, "tensor %s: not bit-identical, first at [%zu] (got %.9g, want %.9g), max |diff| %.3g\n    got :",
                name, i, (double)got[i], (double)want[i], maxd);
        for (size_t j = 0; j < 5 && j < n; j++) fprintf(stderr, " %.7g", (double)got[j]);
        fprintf(stderr, "\n    want:");
        for (size_t j = 0; j < 5 && j < n; j++) fprintf(stderr, " %.7g", (double)want[j]);
        fprintf(stderr, "\n");
        bb_test_failures++;
        return;
    }
}

static void expect_close(const char *name, const float *got, const float *want, size_t n, double tol) {
    if (tol == 0) expect_same_floats(name, got, want, n);
    else EXPECT_CLOSE_F(name, got, want, n, tol);
}

/* The option variants each precision is tested with. */
static int opts_variants(bb_precision p, bb_prec_opts *v) {
    bb_prec_opts d = bb_prec_default_opts(p);
    if (p == BB_PREC_NF4) { /* double quantization on (the default) and off */
        v[0] = d;
        v[1] = d;
        v[1].nf4_no_double_quant = true;
        return 2;
    }
    if (p != BB_PREC_INT4) { v[0] = d; return 1; }
    int n = 0;
    for (int g = 32; g <= 128; g *= 2) {
        v[n++] = (bb_prec_opts){.group = g, .act = BB_ACTQ_INT8_TOKEN};
        v[n++] = (bb_prec_opts){.group = g, .act = BB_ACTQ_INT8_BLOCK};
    }
    return n;
}

static const int shapes[][3] = { /* N, C, OC */
    {1, 70, 33}, {7, 130, 33}, {65, 389, 33}, {13, 256, 64}, {2, 5, 3}, {30, 129, 100},
};

static void check_shape(bb_precision p, const bb_prec_opts *o, int N, int C, int OC, int b158_ties) {
    const bb_precision_traits *t = bb_precision_get(p);
    const bb_tolerance *tol = bb_tol(t->name);
    char name[160];
    snprintf(name, sizeof name, "%s g%d act%d%s N%d C%d OC%d%s", t->name, o->group, (int)o->act,
             p == BB_PREC_NF4 ? (o->nf4_no_double_quant ? " fp32-absmax" : " dq") : "", N, C, OC, b158_ties ? " ties" : "");
    BB_CHECK(bb_prec_opts_error(p, o) == NULL);
    float *w = make_weights(OC, C, b158_ties), *x = make_acts(N, C);
    size_t bytes = t->packed_size(OC, C, o);
    void *pk = bb_alloc(BB_MEM_OTHER, bytes), *pk2 = bb_alloc(BB_MEM_OTHER, bytes);
    memset(pk2, 0xa5, bytes);
    t->pack_ref(pk, w, OC, C, o);
    t->pack(pk2, w, OC, C, o);
    EXPECT_SAME_BYTES(name, pk2, pk, bytes);

    float *wq = fbuf((size_t)OC * C), *un = fbuf((size_t)OC * C);
    t->fake_weights(wq, w, OC, C, o);
    t->unpack(un, pk, OC, C, o);
    expect_same_floats(name, un, wq, (size_t)OC * C);

    /* want = fake_acts(x) @ fake_weights(W)^T */
    float *xq = fbuf((size_t)N * C), *want = fbuf((size_t)N * OC), *ref = fbuf((size_t)N * OC);
    float *got = fbuf((size_t)N * OC), *base = fbuf((size_t)N * OC), *want_acc = fbuf((size_t)N * OC);
    memcpy(xq, x, (size_t)N * C * sizeof(float));
    bb_fake_acts(xq, N, C, o->act, o->group);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, xq, C, wq, C, 0.0f, want, OC);
    t->forward_ref(ref, x, pk, N, C, OC, o, 0);
    EXPECT_CLOSE_F(name, ref, want, (size_t)N * OC, tol->packed_vs_fake);
    for (size_t i = 0; i < (size_t)N * OC; i++) base[i] = frand();
    memcpy(want_acc, base, (size_t)N * OC * sizeof(float));
    t->forward_ref(want_acc, x, pk, N, C, OC, o, 1);

    bb_isa best = bb_isa_best_supported();
    for (int isa = 0; isa <= (int)best; isa++) {
        bb_isa_force((bb_isa)isa);
        char iname[200];
        snprintf(iname, sizeof iname, "%s [%s] forward", name, bb_isa_name((bb_isa)isa));
        memset(got, 0xff, (size_t)N * OC * sizeof(float)); /* NaNs: every output must be written */
        /* bf16 forward runs AMX from 16 tokens where the CPU has it: not bit-exact (bf16_amx.c) */
        double kt = p == BB_PREC_BF16 && N >= 16 && bb_bf16_kernels_amx() ? tol->packed_vs_fake : tol->packed_vs_ref;
        t->forward(got, x, pk, N, C, OC, o, 0);
        expect_close(iname, got, ref, (size_t)N * OC, kt);
        snprintf(iname, sizeof iname, "%s [%s] forward +=", name, bb_isa_name((bb_isa)isa));
        memcpy(got, base, (size_t)N * OC * sizeof(float));
        t->forward(got, x, pk, N, C, OC, o, 1);
        expect_close(iname, got, want_acc, (size_t)N * OC, kt);
    }
    bb_isa_force(best);
    { /* deterministic: one thread gives the bits of all threads (each output is one tile's) */
        int threads = omp_get_max_threads();
        char iname[200];
        snprintf(iname, sizeof iname, "%s [1 thread vs %d]", name, threads);
        float *one = fbuf((size_t)N * OC);
        t->forward(got, x, pk, N, C, OC, o, 0);
        omp_set_num_threads(1);
        t->forward(one, x, pk, N, C, OC, o, 0);
        omp_set_num_threads(threads);
        expect_same_floats(iname, one, got, (size_t)N * OC);
        bb_free(one);
    }
    if (p == BB_PREC_BF16 && (bb_cpu_features() & BB_CPU_AVX512_BF16)) { /* the non-default vdpbf16ps kernel */
        char iname[200];
        snprintf(iname, sizeof iname, "%s [vdpbf16ps] forward", name);
        memcpy(got, base, (size_t)N * OC * sizeof(float));
        bb_gemm_run(bb_bf16_kernels_vdpbf16ps(), got, x, pk, N, C, OC, o, 1);
        expect_close(iname, got, want_acc, (size_t)N * OC, tol->packed_vs_ref);
    }
    if (p == BB_PREC_BF16) { /* both kernels behind forward on an AMX machine: AMX and AVX-512 FMA */
        const bb_gemm_kernels *ks[2] = {bb_bf16_kernels_amx(), bb_bf16_kernels_fma()};
        for (int i = 0; i < 2; i++) {
            if (!ks[i]) continue;
            char iname[200];
            snprintf(iname, sizeof iname, "%s [%s] forward", name, ks[i]->name);
            memset(got, 0xff, (size_t)N * OC * sizeof(float));
            double kt = i == 0 ? tol->packed_vs_fake : tol->packed_vs_ref;
            bb_gemm_run(ks[i], got, x, pk, N, C, OC, o, 0);
            expect_close(iname, got, ref, (size_t)N * OC, kt);
            snprintf(iname, sizeof iname, "%s [%s] forward +=", name, ks[i]->name);
            memcpy(got, base, (size_t)N * OC * sizeof(float));
            bb_gemm_run(ks[i], got, x, pk, N, C, OC, o, 1);
            expect_close(iname, got, want_acc, (size_t)N * OC, kt);
        }
    }
    bb_free(w); bb_free(x); bb_free(pk); bb_free(pk2); bb_free(wq); bb_free(un);
    bb_free(xq); bb_free(want); bb_free(ref); bb_free(got); bb_free(base); bb_free(want_acc);
}

static void test_packed(bb_precision p) {
    bb_prec_opts v[8];
    int nv = opts_variants(p, v);
    for (int i = 0; i < nv; i++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            check_shape(p, &v[i], shapes[s][0], shapes[s][1], shapes[s][2], 0);
    if (p == BB_PREC_B158) check_shape(p, &v[0], 7, 130, 33, 1);
}

static void test_fp32(void) { test_packed(BB_PREC_FP32); }
static void test_fp16(void) { test_packed(BB_PREC_FP16); }
static void test_bf16(void) { test_packed(BB_PREC_BF16); }
static void test_int8(void) { test_packed(BB_PREC_INT8); }
static void test_int4(void) { test_packed(BB_PREC_INT4); }
static void test_b158(void) { test_packed(BB_PREC_B158); }
static void test_nf4(void) {
    test_packed(BB_PREC_NF4);
    bb_prec_opts v[2];
    opts_variants(BB_PREC_NF4, v);
    for (int i = 0; i < 2; i++) check_shape(BB_PREC_NF4, &v[i], 9, 1100, 300, 0); /* several K panels */
}

/* ---- nf4 (precisions/nf4.c) ------------------------------------------------------------ */

/* Planted ties: rows whose absmax is 1 (so w * inv == w) hold every NF4 midpoint exactly and
 * its two float neighbours; a midpoint takes the lower code (bnb's `>` / first argmin), its
 * upper neighbour the upper code. Every ISA's packer against pack_ref, byte for byte, and
 * the codes against that rule, also on random rows. */
static void test_nf4_codes(void) {
    const float *mid = bb_nf4_midpoints();
    int OC = 21, C = 200;
    float *w = make_weights(OC, C, 0);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < C; c++) {
            int i = c % 15, side = (c / 15) % 3; /* midpoint, just below, just above */
            float m = mid[i];
            w[(size_t)r * C + c] = side == 0 ? m : side == 1 ? nextafterf(m, -2.0f) : nextafterf(m, 2.0f);
            if (c % BB_NF4_BLOCK == 63 || c == C - 1) w[(size_t)r * C + c] = r == 1 ? -1.0f : 1.0f; /* absmax 1 */
        }
    for (int dq = 0; dq < 2; dq++) {
        bb_prec_opts o = bb_prec_default_opts(BB_PREC_NF4);
        o.nf4_no_double_quant = dq == 0;
        size_t bytes = bb_nf4_packed_size(OC, C, &o);
        void *ref = bb_alloc(BB_MEM_OTHER, bytes), *got = bb_alloc(BB_MEM_OTHER, bytes);
        bb_nf4_pack_ref(ref, w, OC, C, &o);
        size_t wrong = 0;
        for (int r = 0; r < OC; r++)
            for (int b = 0; b * BB_NF4_BLOCK < C; b++) {
                int c0 = b * BB_NF4_BLOCK, n = C - c0 < BB_NF4_BLOCK ? C - c0 : BB_NF4_BLOCK;
                float amax = 0;
                for (int c = 0; c < n; c++) amax = fmaxf(amax, fabsf(w[(size_t)r * C + c0 + c]));
                for (int c = 0; c < n; c++) {
                    float s = w[(size_t)r * C + c0 + c] * (amax > 0 ? 1.0f / amax : 0.0f);
                    int want = 0;
                    while (want < 15 && s > mid[want]) want++;
                    wrong += bb_nf4_code_at(ref, OC, C, &o, r, c0 + c) != want;
                }
            }
        CHECK(wrong == 0, "nf4 pack_ref: %zu codes are not the nearest value with ties to the lower code", wrong);
        bb_isa best = bb_isa_best_supported();
        for (int isa = 0; isa <= (int)best; isa++) {
            bb_isa_force((bb_isa)isa);
            char name[96];
            snprintf(name, sizeof name, "nf4 ties %s pack [%s]", dq ? "dq" : "fp32-absmax", bb_isa_name((bb_isa)isa));
            memset(got, 0x5a, bytes);
            bb_nf4_pack(got, w, OC, C, &o);
            EXPECT_SAME_BYTES(name, got, ref, bytes);
        }
        bb_isa_force(best);
        bb_free(ref);
        bb_free(got);
    }
    bb_free(w);
}

/* backward_input: dx (+)= dy @ unpack(W) against the reference and against sgemm on the
 * unpacked matrix, = and +=, on every ISA, ragged shapes including several row and column
 * tiles (OC > 256, C > 1024), and one thread vs all. */
static void test_nf4_backward(void) {
    static const int bshapes[][3] = {{1, 70, 33}, {7, 130, 17}, {13, 256, 64}, {2, 5, 3}, {5, 1100, 300}, {3, 2100, 40}};
    const bb_tolerance *tol = bb_tol("nf4");
    for (int dq = 0; dq < 2; dq++)
        for (size_t si = 0; si < sizeof bshapes / sizeof bshapes[0]; si++) {
            int N = bshapes[si][0], C = bshapes[si][1], OC = bshapes[si][2];
            bb_prec_opts o = bb_prec_default_opts(BB_PREC_NF4);
            o.nf4_no_double_quant = dq == 0;
            char name[128];
            snprintf(name, sizeof name, "nf4 %s backward_input N%d C%d OC%d", dq ? "dq" : "fp32-absmax", N, C, OC);
            float *w = make_weights(OC, C, 0), *dy = make_acts(N, OC), *un = fbuf((size_t)OC * C);
            void *pk = bb_alloc(BB_MEM_OTHER, bb_nf4_packed_size(OC, C, &o));
            bb_nf4_pack(pk, w, OC, C, &o);
            bb_nf4_unpack(un, pk, OC, C, &o);
            float *ref = fbuf((size_t)N * C), *want = fbuf((size_t)N * C), *got = fbuf((size_t)N * C);
            float *base = fbuf((size_t)N * C), *ref_acc = fbuf((size_t)N * C);
            bb_nf4_backward_input_ref(ref, dy, pk, N, C, OC, &o, 0);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dy, OC, un, C, 0.0f, want, C);
            EXPECT_CLOSE_F(name, ref, want, (size_t)N * C, tol->packed_vs_fake);
            for (size_t i = 0; i < (size_t)N * C; i++) base[i] = frand();
            memcpy(ref_acc, base, (size_t)N * C * sizeof(float));
            bb_nf4_backward_input_ref(ref_acc, dy, pk, N, C, OC, &o, 1);
            bb_isa best = bb_isa_best_supported();
            for (int isa = 0; isa <= (int)best; isa++) {
                bb_isa_force((bb_isa)isa);
                char iname[200];
                snprintf(iname, sizeof iname, "%s [%s]", name, bb_isa_name((bb_isa)isa));
                memset(got, 0xff, (size_t)N * C * sizeof(float));
                bb_nf4_backward_input(got, dy, pk, N, C, OC, &o, 0);
                EXPECT_CLOSE_F(iname, got, ref, (size_t)N * C, tol->packed_vs_fake);
                EXPECT_CLOSE_F(iname, got, want, (size_t)N * C, tol->packed_vs_fake);
                snprintf(iname, sizeof iname, "%s += [%s]", name, bb_isa_name((bb_isa)isa));
                memcpy(got, base, (size_t)N * C * sizeof(float));
                bb_nf4_backward_input(got, dy, pk, N, C, OC, &o, 1);
                EXPECT_CLOSE_F(iname, got, ref_acc, (size_t)N * C, tol->packed_vs_fake);
            }
            bb_isa_force(best);
            {
                int threads = omp_get_max_threads();
                float *one = fbuf((size_t)N * C);
                bb_nf4_backward_input(got, dy, pk, N, C, OC, &o, 0);
                omp_set_num_threads(1);
                bb_nf4_backward_input(one, dy, pk, N, C, OC, &o, 0);
                omp_set_num_threads(threads);
                snprintf(name + strlen(name), sizeof name - strlen(name), " [1 thread vs %d]", threads);
                expect_same_floats(name, one, got, (size_t)N * C);
                bb_free(one);
            }
            bb_free(w); bb_free(dy); bb_free(un); bb_free(pk); bb_free(ref); bb_free(want); bb_free(got);
            bb_free(base); bb_free(ref_acc);
        }
}

/* Double quantization: without it the constants are the block absmax values exactly; with
 * it each is within half the widest gap of the dynamic map (or its distance to -1, where
 * values clamp) times the block-of-256 scale a2 = max|a - mean(a)|, a2 and the mean
 * computed here from the absmax values. Weights of widely varying row scales. */
static void test_nf4_double_quant(void) {
    const float *d = bb_nf4_dq_code();
    double half_gap = (d[0] - -1.0) ;
    for (int i = 0; i < 255; i++) half_gap = fmax(half_gap, 0.5 * ((double)d[i + 1] - d[i]));
    int OC = 37, C = 1000, nb = (C + 63) / 64;
    float *w = fbuf((size_t)OC * C);
    for (int r = 0; r < OC; r++)
        for (int c = 0; c < C; c++) w[(size_t)r * C + c] = gauss() * 0.02f * (1.0f + (float)(r % 7) * 3.0f);
    size_t n = (size_t)OC * nb;
    double *a = bb_alloc(BB_MEM_OTHER, n * sizeof(double)), sum = 0;
    for (int r = 0; r < OC; r++)
        for (int b = 0; b < nb; b++) {
            float m = 0;
            for (int c = b * 64; c < C && c < b * 64 + 64; c++) m = fmaxf(m, fabsf(w[(size_t)r * C + c]));
            a[(size_t)r * nb + b] = m;
            sum += m;
        }
    bb_prec_opts dq = bb_prec_default_opts(BB_PREC_NF4), plain = dq;
    plain.nf4_no_double_quant = true;
    void *pd = bb_alloc(BB_MEM_OTHER, bb_nf4_packed_size(OC, C, &dq));
    void *pp = bb_alloc(BB_MEM_OTHER, bb_nf4_packed_size(OC, C, &plain));
    bb_nf4_pack(pd, w, OC, C, &dq);
    bb_nf4_pack(pp, w, OC, C, &plain);
    double offset = (float)(sum / (double)n), worst = 0;
    size_t exact_wrong = 0, over = 0;
    for (size_t k0 = 0; k0 < n; k0 += 256) {
        double a2 = 0;
        for (size_t i = k0; i < n && i < k0 + 256; i++) a2 = fmax(a2, fabs(a[i] - offset));
        for (size_t i = k0; i < n && i < k0 + 256; i++) {
            int r = (int)(i / (size_t)nb), b = (int)(i % (size_t)nb);
            exact_wrong += bb_nf4_block_scale(pp, OC, C, &plain, r, b) != (float)a[i];
            double err = fabs((double)bb_nf4_block_scale(pd, OC, C, &dq, r, b) - a[i]);
            double bound = half_gap * a2 * (1 + 1e-5) + 4 * 0x1p-24 * fmax(a[i], offset);
            worst = fmax(worst, err / (a2 > 0 ? a2 : 1));
            over += err > bound;
        }
    }
    printf("    nf4 double quant: max |a' - a| / a2 = %.4g (bound: half the widest dynamic-map gap %.4g)\n", worst,
           half_gap);
    CHECK(exact_wrong == 0, "nf4 without double quantization: %zu constants are not the block absmax", exact_wrong);
    CHECK(over == 0, "nf4 double quantization: %zu of %zu constants beyond the error bound (worst %.4g of a2)", over, n,
          worst);
    /* and the weights: double quantization costs little on top of NF4 itself */
    float *wq = fbuf((size_t)OC * C), *wp = fbuf((size_t)OC * C);
    bb_nf4_unpack(wq, pd, OC, C, &dq);
    bb_nf4_unpack(wp, pp, OC, C, &plain);
    double ed = 0, ep = 0, ss = 0;
    for (size_t i = 0; i < (size_t)OC * C; i++) {
        ed += ((double)wq[i] - w[i]) * ((double)wq[i] - w[i]);
        ep += ((double)wp[i] - w[i]) * ((double)wp[i] - w[i]);
        ss += (double)w[i] * w[i];
    }
    printf("    nf4 relative RMS error: %.4g with double quantization, %.4g without\n", sqrt(ed / ss), sqrt(ep / ss));
    CHECK(sqrt(ed / ss) <= bb_tol("nf4")->quant_rms, "nf4 dq: relative RMS %.4g", sqrt(ed / ss));
    CHECK(sqrt(ep / ss) <= bb_tol("nf4")->quant_rms, "nf4 fp32 absmax: relative RMS %.4g", sqrt(ep / ss));
    bb_free(w); bb_free(a); bb_free(pd); bb_free(pp); bb_free(wq); bb_free(wp);
}

/* Bits per weight from packed_size on a shape without padding (OC % 16 == 0, C % 64 == 0,
 * OC*C/64 % 256 == 0): 4 + 32/64 = 4.5 with fp32 constants; with double quantization
 * 4 + 8/64 + 32/(64*256) (+ the one fp32 offset), which specs §3.2/§5.2 round to 4.127. */
static void test_nf4_bits(void) {
    int OC = 256, C = 4096;
    bb_prec_opts o = bb_prec_default_opts(BB_PREC_NF4);
    double n = (double)OC * C, dq = 8.0 * (double)bb_nf4_packed_size(OC, C, &o) / n;
    o.nf4_no_double_quant = true;
    double plain = 8.0 * (double)bb_nf4_packed_size(OC, C, &o) / n;
    double dq_formula = 4 + 8.0 / 64 + 32.0 / (64 * 256) + 32.0 / n;
    printf("    nf4 bits per weight: %.6f with double quantization, %.6f without\n", dq, plain);
    CHECK(plain == 4.5, "nf4 without double quantization: %.6f bits per weight, not 4.5", plain);
    CHECK(fabs(dq - dq_formula) < 1e-12, "nf4 with double quantization: %.9f bits per weight, formula %.9f", dq, dq_formula);
    CHECK(fabs(dq - 4.127) < 5e-4, "nf4 with double quantization: %.6f bits per weight, specs say 4.127", dq);
    CHECK(fabs(bb_precisions[BB_PREC_NF4].nominal_bits - 4.127) < 1e-9, "nf4 nominal_bits %g", bb_precisions[BB_PREC_NF4].nominal_bits);
}

/* The code books: NF4 is the spec's table (7 negative values, 0, 8 positive, -1 and 1 at the
 * ends); the dynamic map is 256 ascending values (127 negative, 0, 128 positive up to 1); the
 * nearest-value search equals a brute-force first-argmin on every midpoint and its
 * neighbours (exact ties included). */
static void test_nf4_tables(void) {
    const float *v = bb_nf4_values, *d = bb_nf4_dq_code();
    CHECK(v[0] == -1.0f && v[7] == 0.0f && v[15] == 1.0f, "nf4 ends/zero: %g %g %g", v[0], v[7], v[15]);
    for (int i = 0; i < 15; i++) CHECK(v[i] < v[i + 1], "nf4 table not ascending at %d", i);
    int neg = 0, pos = 0;
    for (int i = 0; i < 256; i++) {
        neg += d[i] < 0;
        pos += d[i] > 0;
        if (i < 255) CHECK(d[i] < d[i + 1], "dynamic map not ascending at %d: %g %g", i, d[i], d[i + 1]);
    }
    CHECK(neg == 127 && pos == 128 && d[127] == 0.0f && d[255] == 1.0f, "dynamic map: %d negative, %d positive", neg, pos);
    size_t wrong = 0;
    for (int i = 0; i < 255; i++) {
        float m = 0.5f * (d[i] + d[i + 1]);
        float probes[] = {m, nextafterf(m, -2), nextafterf(m, 2), d[i], d[i + 1], -1.0f, 1.0f, 0.0f};
        for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
            float s = probes[k];
            int best = 0;
            for (int j = 1; j < 256; j++)
                if (fabsf(s - d[j]) < fabsf(s - d[best])) best = j;
            wrong += bb_nf4_dq_nearest(s) != best;
        }
    }
    CHECK(wrong == 0, "dynamic map: %zu nearest-value searches differ from the first argmin", wrong);
}

/* Relative RMS error of fake_weights on N(0, 1) weights, per precision (and int4 group). */
static void test_quant_error(void) {
    int OC = 64, C = 384;
    float *w = fbuf((size_t)OC * C), *wq = fbuf((size_t)OC * C);
    for (size_t i = 0; i < (size_t)OC * C; i++) w[i] = gauss();
    for (int p = 0; p < BB_PREC_COUNT; p++) {
        const bb_precision_traits *t = bb_precision_get((bb_precision)p);
        bb_prec_opts o = bb_prec_default_opts((bb_precision)p);
        t->fake_weights(wq, w, OC, C, &o);
        double se = 0, ss = 0;
        for (size_t i = 0; i < (size_t)OC * C; i++) {
            se += ((double)wq[i] - w[i]) * ((double)wq[i] - w[i]);
            ss += (double)w[i] * w[i];
        }
        double rel = sqrt(se / ss), bound = bb_tol(t->name)->quant_rms;
        printf("    %s: relative RMS quantization error %.3g (bound %.3g)\n", t->name, rel, bound);
        CHECK(rel <= bound, "%s: relative RMS error %.4g > %.4g", t->name, rel, bound);
        if (p == BB_PREC_FP32) CHECK(rel == 0, "fp32 must be exact");
    }
    bb_free(w);
    bb_free(wq);
}

/* b158 1.6-bit storage: exact round trip, and storage -> compute format == pack. */
static void test_b158_storage(void) {
    const int dims[][2] = {{33, 70}, {1, 1}, {3, 256}, {5, 257}, {64, 389}};
    for (size_t s = 0; s < sizeof dims / sizeof dims[0]; s++) {
        int OC = dims[s][0], C = dims[s][1];
        char name[64];
        snprintf(name, sizeof name, "b158 storage OC%d C%d", OC, C);
        bb_prec_opts o = bb_prec_default_opts(BB_PREC_B158);
        float *w = make_weights(OC, C, 0), *wq = fbuf((size_t)OC * C), *un = fbuf((size_t)OC * C);
        size_t sb = bb_b158_storage_size(OC, C), pb = bb_b158_packed_size(OC, C, &o);
        CHECK(sb <= 4 + ((size_t)OC * C + 255) / 256 * 52, "%s: %zu bytes", name, sb);
        void *st = bb_alloc(BB_MEM_OTHER, sb), *pk = bb_alloc(BB_MEM_OTHER, pb), *pk2 = bb_alloc(BB_MEM_OTHER, pb);
        bb_b158_storage_pack(st, w, OC, C);
        bb_precision_get(BB_PREC_B158)->fake_weights(wq, w, OC, C, &o);
        bb_b158_storage_unpack(un, st, OC, C);
        expect_same_floats(name, un, wq, (size_t)OC * C);
        bb_b158_pack(pk, w, OC, C, &o);
        memset(pk2, 0x5a, pb);
        bb_b158_storage_to_packed(pk2, st, OC, C);
        EXPECT_SAME_BYTES(name, pk2, pk, pb);
        bb_free(w); bb_free(wq); bb_free(un); bb_free(st); bb_free(pk); bb_free(pk2);
    }
}

/* Options the kernels do not support are refused with a sentence. */
static void test_opts(void) {
    bb_prec_opts o = {.group = 48, .act = BB_ACTQ_INT8_TOKEN};
    CHECK(bb_prec_opts_error(BB_PREC_INT4, &o) != NULL, "group 48 accepted");
    o.group = 64;
    CHECK(bb_prec_opts_error(BB_PREC_INT4, &o) == NULL, "group 64 refused");
    o.act = BB_ACTQ_BF16;
    CHECK(bb_prec_opts_error(BB_PREC_INT8, &o) != NULL, "int8 with bf16 activations accepted");
    for (int p = 0; p < BB_PREC_COUNT; p++) {
        bb_prec_opts d = bb_prec_default_opts((bb_precision)p);
        CHECK(bb_prec_opts_error((bb_precision)p, &d) == NULL, "%s defaults refused", bb_precisions[p].name);
    }
}

static void test_release(void) { bb_gemm_scratch_release(); }

static const bb_test_case cases[] = {
    {"opts", test_opts},         {"fp32", test_fp32},       {"fp16", test_fp16},
    {"bf16", test_bf16},         {"int8", test_int8},       {"int4", test_int4},
    {"b158", test_b158},         {"b158_storage", test_b158_storage}, {"quant_error", test_quant_error},
    {"nf4", test_nf4},           {"nf4_codes", test_nf4_codes}, {"nf4_backward", test_nf4_backward},
    {"nf4_double_quant", test_nf4_double_quant}, {"nf4_bits", test_nf4_bits}, {"nf4_tables", test_nf4_tables},
    {"release", test_release},
};
BB_TEST_MAIN(cases)
