/* test_blockmath.c — the __host__ __device__ helpers of precisions/blockmath.h (the math
 * the CUDA kernels run per element), compiled here as C and compared bit for bit with the
 * CPU references they must reproduce:
 *   - fp16/bf16 -> fp32 for all 65536 codes; fp32 -> fp16/bf16 on every exponent with
 *     mantissas at and around the rounding ties, specials, and 2^22 random bit patterns;
 *   - the int8 activation row quantizer vs bb_quant_row_int8 (codes and scale), with rows
 *     that hit roundf's .5 ties;
 *   - decoding every weight of packed int8, int4 (G = 32, 64, 128), b158, fp16 and bf16 matrices on
 *     ragged shapes vs each format's unpack;
 *   - the word steps of the GPU packed kernels (bb_hd_*_step, chained by bb_hd_*_out) vs
 *     each format's forward_ref, bit for bit. */
#include "../engine/alloc.h"
#include "../precisions/blockmath.h"
#include "../precisions/precision.h"
#include "test.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint32_t rand32(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}
static float frand(void) { return (float)(rand32() >> 8) / (float)(1 << 23) * 2.0f - 1.0f; } /* [-1, 1) */
static uint32_t bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static void test_half_to_float(void) {
    int bad16 = 0, bad_bf = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        uint32_t got = bits(bb_hd_fp16_to_fp32((uint16_t)h)), want = bits(bb_fp16_to_fp32((uint16_t)h));
        if (got != want && bad16++ < 5) CHECK(0, "fp16 0x%04x: got 0x%08x, want 0x%08x", h, got, want);
        got = bits(bb_hd_bf16_to_fp32((uint16_t)h));
        want = bits(bb_bf16_to_fp32((uint16_t)h));
        if (got != want && bad_bf++ < 5) CHECK(0, "bf16 0x%04x: got 0x%08x, want 0x%08x", h, got, want);
    }
    CHECK(bad16 == 0 && bad_bf == 0, "fp16 -> fp32: %d of 65536 differ; bf16 -> fp32: %d", bad16, bad_bf);
}

static int check_float_to_half(uint32_t x, int *bad16, int *bad_bf) {
    float f = from_bits(x);
    uint16_t got = bb_hd_fp32_to_fp16(f), want = bb_fp32_to_fp16(f);
    if (got != want && (*bad16)++ < 5) CHECK(0, "fp32 0x%08x (%g) -> fp16: got 0x%04x, want 0x%04x", x, f, got, want);
    got = bb_hd_fp32_to_bf16(f);
    want = bb_fp32_to_bf16(f);
    if (got != want && (*bad_bf)++ < 5) CHECK(0, "fp32 0x%08x (%g) -> bf16: got 0x%04x, want 0x%04x", x, f, got, want);
    return 1;
}

static void test_float_to_half(void) {
    int bad16 = 0, bad_bf = 0;
    long n = 0;
    /* Every exponent and sign, mantissas whose dropped bits are just below, at and above
     * the fp16 (13 bits) and bf16 (16 bits) halfway points, with both parities kept. */
    const uint32_t mants[] = {0, 1, 0x7fffff, 0x1000, 0x0fff, 0x1001, 0x3000, 0x2000, 0x8000, 0x7fff, 0x8001,
                              0x18000, 0x10000, 0x400000, 0x7fe000, 0x7ff000, 0x7fefff, 0x7f8000};
    for (uint32_t sign = 0; sign < 2; sign++)
        for (uint32_t e = 0; e < 256; e++)
            for (size_t m = 0; m < sizeof mants / sizeof mants[0]; m++)
                n += check_float_to_half(sign << 31 | e << 23 | mants[m], &bad16, &bad_bf);
    for (int i = 0; i < 1 << 22; i++) n += check_float_to_half(rand32(), &bad16, &bad_bf);
    CHECK(bad16 == 0 && bad_bf == 0, "of %ld floats, fp16: %d differ, bf16: %d differ", n, bad16, bad_bf);
    /* the fake-quant round trips */
    for (int i = 0; i < 1000; i++) {
        float x = frand() * 1e3f;
        CHECK(bits(bb_hd_round_fp16(x)) == bits(bb_fp16_to_fp32(bb_fp32_to_fp16(x))), "round_fp16(%g)", x);
        CHECK(bits(bb_hd_round_bf16(x)) == bits(bb_bf16_to_fp32(bb_fp32_to_bf16(x))), "round_bf16(%g)", x);
    }
}

static void test_quant_row_int8(void) {
    const int lens[] = {1, 3, 16, 33, 127, 768};
    int8_t *q_got = bb_alloc(BB_MEM_OTHER, 1024), *q_want = bb_alloc(BB_MEM_OTHER, 1024);
    float *x = bb_alloc(BB_MEM_OTHER, 1024 * sizeof(float));
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (int kind = 0; kind < 4; kind++) {
            int n = lens[li];
            for (int c = 0; c < n; c++) {
                switch (kind) {
                case 0: x[c] = frand() * 3.0f; break;
                case 1: x[c] = (float)((int)(rand32() % 255) - 127) + 0.5f * (float)(rand32() & 1); break; /* ties */
                case 2: x[c] = 0.0f; break;                        /* amax below the 1e-5 floor */
                default: x[c] = frand() * 1e-7f; break;
                }
            }
            if (kind == 1) x[0] = 127.0f; /* amax 127: scale 1, so every .5 is a roundf tie */
            float s_got = bb_hd_quant_row_int8(q_got, x, n), s_want = bb_quant_row_int8(q_want, x, n);
            CHECK(bits(s_got) == bits(s_want), "row n=%d kind %d: scale %.9g, want %.9g", n, kind, s_got, s_want);
            int first = -1;
            for (int c = 0; c < n && first < 0; c++)
                if (q_got[c] != q_want[c]) first = c;
            CHECK(first < 0, "row n=%d kind %d: code [%d] = %d, want %d (x = %.9g)", n, kind, first,
                  first < 0 ? 0 : q_got[first], first < 0 ? 0 : q_want[first], first < 0 ? 0.0 : x[first]);
            /* the per-element form the GPU kernels use, with a reduced amax */
            float amax = 0.0f;
            for (int c = n - 1; c >= 0; c--) amax = fmaxf(amax, fabsf(x[c]));
            CHECK(bits(bb_hd_actq_scale(amax)) == bits(s_want), "actq_scale n=%d kind %d", n, kind);
            for (int c = 0; c < n; c++)
                if (bb_hd_actq_code(x[c], bb_hd_actq_inv(amax)) != q_want[c]) {
                    CHECK(0, "actq_code n=%d kind %d [%d]", n, kind, c);
                    break;
                }
        }
    bb_free(q_got);
    bb_free(q_want);
    bb_free(x);
}

/* Packs a random W (with an all-zero row) with pack_ref, then decodes every weight with
 * the helper and compares with unpack bit for bit. */
static void check_decode(bb_precision p, int OC, int C, int G) {
    const bb_precision_traits *t = bb_precision_get(p);
    bb_prec_opts o = bb_prec_default_opts(p);
    if (G) o.group = G;
    float *w = bb_alloc(BB_MEM_OTHER, (size_t)OC * C * sizeof(float));
    float *want = bb_alloc(BB_MEM_OTHER, (size_t)OC * C * sizeof(float));
    for (size_t i = 0; i < (size_t)OC * C; i++) w[i] = frand() * (1.0f + (float)(i % 7));
    for (int c = 0; c < C; c++) w[(size_t)(OC / 2) * C + c] = 0.0f;
    void *pk = bb_alloc(BB_MEM_OTHER, t->packed_size(OC, C, &o));
    t->pack_ref(pk, w, OC, C, &o);
    t->unpack(want, pk, OC, C, &o);
    int bad = 0;
    for (int r = 0; r < OC; r++)
        for (int c = 0; c < C; c++) {
            float got = p == BB_PREC_INT8   ? bb_hd_i8_weight(pk, OC, C, r, c)
                        : p == BB_PREC_INT4 ? bb_hd_i4_weight(pk, OC, C, o.group, r, c)
                        : p == BB_PREC_FP16 ? bb_hd_f16_weight(pk, C, r, c)
                        : p == BB_PREC_BF16 ? bb_hd_bf16_weight(pk, C, r, c)
                                            : bb_hd_t2_weight(pk, OC, C, r, c);
            float ref = want[(size_t)r * C + c];
            if (bits(got) != bits(ref) && bad++ < 3)
                CHECK(0, "%s %dx%d G=%d: weight [%d][%d] = %.9g, unpack %.9g", t->name, OC, C, o.group, r, c, got, ref);
        }
    CHECK(bad == 0, "%s %dx%d G=%d: %d weights differ from unpack", t->name, OC, C, o.group, bad);
    bb_free(w);
    bb_free(want);
    bb_free(pk);
}

static void test_decode(void) {
    const int shapes[][2] = {{1, 1}, {17, 33}, {40, 100}, {64, 256}, {33, 130}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int OC = shapes[s][0], C = shapes[s][1];
        check_decode(BB_PREC_INT8, OC, C, 0);
        check_decode(BB_PREC_B158, OC, C, 0);
        check_decode(BB_PREC_FP16, OC, C, 0);
        check_decode(BB_PREC_BF16, OC, C, 0);
        for (int G = 32; G <= 128; G *= 2) check_decode(BB_PREC_INT4, OC, C, G);
    }
    /* the two-nibble form of the int4 kernels' inner step */
    for (int b = 0; b < 256; b++) {
        int lo, hi;
        bb_hd_i4_byte_codes((uint8_t)b, &lo, &hi);
        CHECK(lo == (b & 15) - 8 && hi == (b >> 4) - 8, "byte 0x%02x: lo %d hi %d", b, lo, hi);
    }
}

/* The word steps of the GPU kernels, chained per output as the kernels do, vs forward_ref
 * bit for bit (int8, int4 with each group size and activation mode, b158), on ragged
 * shapes and activations with roundf ties. */
static void check_kernel_rows(bb_precision p, int G, bb_act_quant act, int N, int C, int OC) {
    const bb_precision_traits *t = bb_precision_get(p);
    bb_prec_opts o = bb_prec_default_opts(p);
    if (G) { o.group = G; o.act = act; }
    float *w = bb_alloc(BB_MEM_OTHER, (size_t)OC * C * sizeof(float)), *x = bb_alloc(BB_MEM_OTHER, (size_t)N * C * sizeof(float));
    float *want = bb_alloc(BB_MEM_OTHER, (size_t)N * OC * sizeof(float));
    for (size_t i = 0; i < (size_t)OC * C; i++) w[i] = frand();
    for (size_t i = 0; i < (size_t)N * C; i++) x[i] = frand() * 4.0f;
    for (int c = 0; c < C; c++) x[c] = (float)((int)(c % 255) - 127) + 0.5f * (float)(c & 1); /* ties in token 0 */
    x[0] = 127.0f;
    void *pk = bb_alloc(BB_MEM_OTHER, t->packed_size(OC, C, &o));
    t->pack_ref(pk, w, OC, C, &o);
    t->forward_ref(want, x, pk, N, C, OC, &o, 0);
    int Cp = (C + 127) / 128 * 128, bad = 0, block = p == BB_PREC_INT4 && o.act == BB_ACTQ_INT8_BLOCK;
    int8_t *qa = bb_alloc(BB_MEM_OTHER, (size_t)Cp); /* zero past C, as the kernels pad */
    float sa[64];
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C;
        if (block)
            for (int g0 = 0; g0 < C; g0 += o.group)
                sa[g0 / o.group] = bb_hd_quant_row_int8(qa + g0, xn + g0, C - g0 < o.group ? C - g0 : o.group);
        else
            sa[0] = bb_hd_quant_row_int8(qa, xn, C);
        for (int r = 0; r < OC; r++) {
            float got = p == BB_PREC_INT8   ? bb_hd_i8_out(pk, OC, C, r, qa, sa[0])
                        : p == BB_PREC_INT4 ? bb_hd_i4_out(pk, OC, C, o.group, r, qa, sa, block)
                                            : bb_hd_t2_out(pk, OC, C, r, qa, sa[0]);
            float ref = want[(size_t)n * OC + r];
            if (bits(got) != bits(ref) && bad++ < 3)
                CHECK(0, "%s G=%d act=%d %dx%dx%d: out[%d][%d] = %.9g, forward_ref %.9g", t->name, o.group, (int)o.act, N, C,
                      OC, n, r, got, ref);
        }
    }
    CHECK(bad == 0, "%s G=%d act=%d %dx%dx%d: %d outputs differ from forward_ref", t->name, o.group, (int)o.act, N, C, OC, bad);
    bb_free(w); bb_free(x); bb_free(want); bb_free(pk); bb_free(qa);
}

static void test_kernel_rows(void) {
    const int shapes[][3] = {{1, 1, 1}, {3, 33, 17}, {5, 200, 45}, {2, 384, 130}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][0], C = shapes[s][1], OC = shapes[s][2];
        check_kernel_rows(BB_PREC_INT8, 0, BB_ACTQ_INT8_TOKEN, N, C, OC);
        check_kernel_rows(BB_PREC_B158, 0, BB_ACTQ_INT8_TOKEN, N, C, OC);
        for (int G = 32; G <= 128; G *= 2) {
            check_kernel_rows(BB_PREC_INT4, G, BB_ACTQ_INT8_TOKEN, N, C, OC);
            check_kernel_rows(BB_PREC_INT4, G, BB_ACTQ_INT8_BLOCK, N, C, OC);
        }
    }
    /* dp4a: signed bytes, including -128 */
    CHECK(bb_hd_dp4a((int)0x80ff7f01u, (int)0x80ff7f01u, 5) == 5 + 16384 + 1 + 16129 + 1, "dp4a = %d",
          bb_hd_dp4a((int)0x80ff7f01u, (int)0x80ff7f01u, 5));
}

static const bb_test_case cases[] = {
    {"kernel_rows", test_kernel_rows},
    {"half_to_float", test_half_to_float},
    {"float_to_half", test_float_to_half},
    {"quant_row_int8", test_quant_row_int8},
    {"decode", test_decode},
};
BB_TEST_MAIN(cases)
