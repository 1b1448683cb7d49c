/* b158.c — BitNet b1.58 W1.58A8 (precision.h): ternary weights with one per-tensor absmean
 * scale, int8 per-token activations (BitNet b1.58 §2 and Tips PDF, specs §1.2-1.3).
 * Compiled once per ISA (formats.h); the BB_ISA_LEVEL 0 copy holds the formats.
 *
 * Compute format (sizes from t2_layout_of; 64-byte aligned):
 *   codes  P = ceil(OC/16) panels x KB = ceil(C/16) bb_block_t2x16 (blocks.h): 2-bit codes
 *          q + 1 in {0, 1, 2} (TQ2_0/I2_S-like), four 4-input steps per byte; code 1 (zero)
 *          past OC and C.
 *   gamma  float at the end: g = max((float)(sum |W| in double / n), 1e-5).
 * q = clamp(roundf(w * (1/g)), -1, 1) and unpack = q * g: fakequant.c fake_weights_b158.
 *
 * Storage/export format (b158_storage_*): float g, then the trits of W flattened row-major
 * in bb_block_tq1 blocks of 256 (TQ1_0's base-3 fixed point, 5 trits a byte, without its
 * per-block fp16 scale): 1.625 bits per weight; the tail block is padded with zeros.
 *
 * Kernels: y[n][o] = (float)(sum_c qa[n][c] * q[o][c]) * (sa[n] * g), the integer sum exact in
 * int32 so every ISA gives the same bits. vpdpbusd / vpmaddubsw multiply the unsigned code
 * q + 1 by the signed activation: sum (q + 1) qa = sum q qa + sum qa, so the accumulators start
 * at -sum qa (bitnet.cpp I2_S's act_sum correction, specs §2.2).
 *   avx512 (VNNI): tile 12 tokens x 2 panels; a block load gives four code vectors by
 *     shift + and, each multiplied by a 4-byte activation broadcast per token.
 *   avx2: vpmaddubsw + vpmaddwd, tile 4 tokens x 1 panel.   scalar: plain C. */
#include "../common/parallel.h"
#include "actq.h"
#include "blocks.h"
#include "formats.h"
#include "gemm.h"
#include "tiles.h"
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, BB_ISA_SUFFIX)

typedef struct {
    int P, KB;
    size_t gamma, total;
} t2_layout;

static inline t2_layout t2_layout_of(int OC, int C) {
    t2_layout l = {bb_panels(OC), (C + 15) / 16, 0, 0};
    l.gamma = (size_t)l.P * l.KB * sizeof(bb_block_t2x16);
    l.total = l.gamma + 64;
    return l;
}

/* ---- formats and references (one copy) ---------------------------------------------- */
#if BB_ISA_LEVEL == 0
#include "../common/check.h"
#include "../engine/alloc.h"

/* Byte and shift of the code of (row o, input c). */
static inline uint8_t *t2_byte(void *pk, const t2_layout *l, int o, int c, int *shift) {
    bb_block_t2x16 *b = (bb_block_t2x16 *)pk + (size_t)(o / BB_PANEL) * l->KB + c / 16;
    *shift = 2 * ((c % 16) / 4);
    return &b->qs[o % BB_PANEL][c % 4];
}
static inline int t2_code(const void *pk, const t2_layout *l, int o, int c) {
    int sh;
    uint8_t b = *t2_byte((void *)pk, l, o, c, &sh);
    return (b >> sh) & 3;
}

/* The per-tensor scale, exactly as fake_weights_b158 computes it (precision.h: the sum's
 * lane order is the contract). */
static float b158_gamma(const float *w, size_t n) { return fmaxf((float)(bb_abssum_lanes8(w, n) / (double)n), 1e-5f); }
static inline int b158_trit(float w, float inv) { return (int)fminf(1.0f, fmaxf(-1.0f, roundf(w * inv))) + 1; }

size_t bb_b158_packed_size(int OC, int C, const bb_prec_opts *o) {
    (void)o;
    return t2_layout_of(OC, C).total;
}

static void pack_row(void *pk, const t2_layout *l, const float *w, int o, int C, float inv) {
    for (int c = 0; c < C; c++) {
        int sh;
        uint8_t *b = t2_byte(pk, l, o, c, &sh);
        *b = (uint8_t)((*b & ~(3u << sh)) | (unsigned)b158_trit(w[(size_t)o * C + c], inv) << sh);
    }
}

static void pack_begin(void *packed, const t2_layout *l, float g) {
    memset(packed, 0x55, l->gamma); /* code 1 in every field */
    memset((char *)packed + l->gamma, 0, l->total - l->gamma);
    memcpy((char *)packed + l->gamma, &g, sizeof g);
}

void bb_b158_pack_ref(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    t2_layout l = t2_layout_of(OC, C);
    float g = b158_gamma(w, (size_t)OC * C);
    pack_begin(packed, &l, g);
    for (int r = 0; r < OC; r++) pack_row(packed, &l, w, r, C, 1.0f / g);
}

/* b158_trit without libm calls, so the loop vectorizes: for every non-NaN x,
 * clamp(roundf(x), -1, 1) is +1 iff x >= 0.5 and -1 iff x <= -0.5 (roundf rounds half away
 * from zero); a NaN gives -1 as fmaxf(-1, NaN) = -1 does. Returns the code q + 1. */
static inline int b158_code_fast(float x) { return 1 + (x >= 0.5f) - !(x > -0.5f); }

/* Row o a 16-input block at a time: byte j of a block row holds inputs j, j+4, j+8, j+12
 * at shifts 0, 2, 4, 6 (blocks.h). Writes every byte of the row, padding with code 1. */
static void pack_row_fast(void *pk, const t2_layout *l, const float *w, int o, int C, float inv) {
    const float *row = w + (size_t)o * C;
    for (int kb = 0; kb < l->KB; kb++) {
        uint8_t code[16];
        int c0 = kb * 16, n = C - c0 < 16 ? C - c0 : 16;
        for (int i = 0; i < 16; i++) code[i] = 1;
        for (int i = 0; i < n; i++) code[i] = (uint8_t)b158_code_fast(row[c0 + i] * inv);
        bb_block_t2x16 *b = (bb_block_t2x16 *)pk + (size_t)(o / BB_PANEL) * l->KB + kb;
        for (int j = 0; j < 4; j++)
            b->qs[o % BB_PANEL][j] = (uint8_t)(code[j] | code[j + 4] << 2 | code[j + 8] << 4 | code[j + 12] << 6);
    }
}

void bb_b158_pack(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    t2_layout l = t2_layout_of(OC, C);
    float g = b158_gamma(w, (size_t)OC * C); /* one matrix per thread in requantize: not split */
    pack_begin(packed, &l, g);
#pragma omp parallel for schedule(static) if ((size_t)OC * C >= BB_PAR_MIN_WORK)
    for (int r = 0; r < OC; r++) pack_row_fast(packed, &l, w, r, C, 1.0f / g);
}

static float t2_gamma(const void *pk, const t2_layout *l) {
    float g;
    memcpy(&g, (const char *)pk + l->gamma, sizeof g);
    return g;
}

static float weight_at(const void *packed, int r, int c, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    t2_layout l = t2_layout_of(OC, C);
    return (float)(t2_code(packed, &l, r, c) - 1) * t2_gamma(packed, &l);
}

static void unpack_rows(float *w, const void *packed, int r0, int r1, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    t2_layout l = t2_layout_of(OC, C);
    float g = t2_gamma(packed, &l);
    for (int r = r0; r < r1; r++) {
        float *row = w + (size_t)(r - r0) * C;
        for (int kb = 0; kb < l.KB; kb++) { /* a block row at a time (layout in pack_row_fast) */
            const uint8_t *q = ((const bb_block_t2x16 *)packed + (size_t)(r / BB_PANEL) * l.KB + kb)->qs[r % BB_PANEL];
            int c0 = kb * 16, n = C - c0 < 16 ? C - c0 : 16;
            for (int i = 0; i < n; i++) row[c0 + i] = (float)((q[i % 4] >> (2 * (i / 4)) & 3) - 1) * g;
        }
    }
}

void bb_b158_unpack(float *w, const void *packed, int OC, int C, const bb_prec_opts *o) {
    unpack_rows(w, packed, 0, OC, OC, C, o);
}

void bb_b158_backward_input(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                            const bb_prec_opts *o, int accumulate) {
    bb_backward_input_panels(unpack_rows, dx, dy, packed, N, C, OC, o, accumulate);
}

void bb_b158_backward_input_ref(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                                const bb_prec_opts *o, int accumulate) {
    bb_backward_input_elementwise(weight_at, dx, dy, packed, N, C, OC, o, accumulate);
}

void bb_b158_forward_ref(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                         int accumulate) {
    (void)o;
    t2_layout l = t2_layout_of(OC, C);
    float g = t2_gamma(packed, &l);
    int8_t *qa = bb_alloc(BB_MEM_WORKSPACE, (size_t)C);
    for (int n = 0; n < N; n++) {
        float sa = bb_quant_row_int8(qa, x + (size_t)n * C, C);
        for (int r = 0; r < OC; r++) {
            int32_t dot = 0;
            for (int c = 0; c < C; c++) dot += qa[c] * (t2_code(packed, &l, r, c) - 1);
            float y = (float)dot * (sa * g);
            float *dst = out + (size_t)n * OC + r;
            *dst = accumulate ? *dst + y : y;
        }
    }
    bb_free(qa);
}

extern const bb_gemm_kernels bb_b158_kernels_scalar, bb_b158_kernels_avx2, bb_b158_kernels_avx512;
static const bb_gemm_kernels *const b158_kernels[BB_ISA_COUNT] = {&bb_b158_kernels_scalar, &bb_b158_kernels_avx2,
                                                                  &bb_b158_kernels_avx512};

const bb_gemm_kernels *bb_b158_kernels(void) { return bb_gemm_pick(b158_kernels, BB_CPU_AVX512_VNNI, 0); }

void bb_b158_forward(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                     int accumulate) {
    BB_CHECK(bb_prec_opts_error(BB_PREC_B158, o) == NULL);
    bb_gemm_run(bb_b158_kernels(), out, x, packed, N, C, OC, o, accumulate);
}

/* ---- 1.6-bit storage: TQ1_0 trit order (blocks.h) ------------------------------------- */

static const uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};

/* Element index inside a 256-block of byte j's trit n (the inverse of quantize_row_tq1_0_ref). */
static inline int tq1_element(int j, int n) {
    if (j < 32) return j + 32 * n;            /* qs[0..31], 5 trits */
    if (j < 48) return 160 + (j - 32) + 16 * n; /* qs[32..47], 5 trits */
    return 240 + (j - 48) + 4 * n;              /* qh[0..3], 4 trits */
}

size_t bb_b158_storage_size(int OC, int C) {
    return sizeof(float) + ((size_t)OC * C + BB_TQ1_BLOCK - 1) / BB_TQ1_BLOCK * sizeof(bb_block_tq1);
}

void bb_b158_storage_pack(void *dst, const float *w, int OC, int C) {
    size_t n = (size_t)OC * C, nb = (n + BB_TQ1_BLOCK - 1) / BB_TQ1_BLOCK;
    float g = b158_gamma(w, n), inv = 1.0f / g;
    memcpy(dst, &g, sizeof g);
    uint8_t *bytes = (uint8_t *)dst + sizeof(float);
    for (size_t b = 0; b < nb; b++)
        for (int j = 0; j < 52; j++) {
            int trits = j < 48 ? 5 : 4, v = 0;
            for (int t = 0; t < trits; t++) {
                size_t e = b * BB_TQ1_BLOCK + (size_t)tq1_element(j, t);
                v = v * 3 + (e < n ? b158_trit(w[e], inv) : 1);
            }
            if (trits == 4) v *= 3; /* first trit most significant, as in qs */
            bytes[b * sizeof(bb_block_tq1) + (size_t)j] = (uint8_t)((v * 256 + 242) / 243);
        }
}

/* Calls put(ctx, element, trit) for the n trits of a storage buffer; returns g. */
static float storage_decode(const void *src, size_t n, void (*put)(void *ctx, size_t e, int trit), void *ctx) {
    float g;
    memcpy(&g, src, sizeof g);
    const uint8_t *bytes = (const uint8_t *)src + sizeof(float);
    size_t nb = (n + BB_TQ1_BLOCK - 1) / BB_TQ1_BLOCK;
    for (size_t b = 0; b < nb; b++)
        for (int j = 0; j < 52; j++) {
            uint8_t q = bytes[b * sizeof(bb_block_tq1) + (size_t)j];
            for (int t = 0; t < (j < 48 ? 5 : 4); t++) {
                size_t e = b * BB_TQ1_BLOCK + (size_t)tq1_element(j, t);
                uint8_t v = (uint8_t)(q * pow3[t]);
                if (e < n) put(ctx, e, ((uint16_t)v * 3) >> 8);
            }
        }
    return g;
}

typedef struct {
    float *w;
    float g;
} put_float_ctx;
static void put_float(void *ctx, size_t e, int trit) {
    put_float_ctx *p = ctx;
    p->w[e] = (float)(trit - 1) * p->g;
}

void bb_b158_storage_unpack(float *w, const void *src, int OC, int C) {
    put_float_ctx ctx = {w, 0};
    memcpy(&ctx.g, src, sizeof ctx.g);
    storage_decode(src, (size_t)OC * C, put_float, &ctx);
}

typedef struct {
    void *pk;
    t2_layout l;
    int C;
} put_code_ctx;
static void put_code(void *ctx, size_t e, int trit) {
    put_code_ctx *p = ctx;
    int sh;
    uint8_t *b = t2_byte(p->pk, &p->l, (int)(e / (size_t)p->C), (int)(e % (size_t)p->C), &sh);
    *b = (uint8_t)((*b & ~(3u << sh)) | (unsigned)trit << sh);
}

void bb_b158_storage_to_packed(void *packed, const void *src, int OC, int C) {
    put_code_ctx ctx = {packed, t2_layout_of(OC, C), C};
    float g;
    memcpy(&g, src, sizeof g);
    pack_begin(packed, &ctx.l, g);
    storage_decode(src, (size_t)OC * C, put_code, &ctx);
}
#endif

/* ---- kernels of this ISA ------------------------------------------------------------- */

#if BB_ISA_LEVEL == 2
#define MR 12
#define NV 2
#else
#define MR 4
#define NV 1
#endif

static bb_gemm_geom t2_geometry(int C, const bb_prec_opts *o) {
    (void)C, (void)o;
    return (bb_gemm_geom){.elem = 1, .cpad = 16, .nscale = 1, .nsum = 1};
}

static void t2_act_quant(const bb_gemm_call *g, int n0, int n1) {
    for (int n = n0; n < n1;) {
        uint8_t *dst = g->act + bb_act4_offset(n, 0, MR, g->lda);
        int rows = 1;
#if BB_ISA_LEVEL == 2
        if (n % 4 == 0 && n + 4 <= n1) { /* MR = 12: four tokens never straddle a panel */
            bb_actq_rows4(dst, 4 * MR, g->x + (size_t)n * g->C, (size_t)g->C, g->C, 0, &g->ascale[n], &g->asum[n]);
            rows = 4;
        } else
#endif
            g->ascale[n] = bb_actq_row(dst, 4 * MR, g->x + (size_t)n * g->C, g->C, 0, &g->asum[n], NULL, 0);
        for (int r = 0; r < rows; r++)
            for (int c = g->C; c < g->Cp; c++) dst[(size_t)(c / 4) * 4 * MR + 4 * r + c % 4] = 0;
        n += rows;
    }
}

#if BB_ISA_LEVEL == 2
/* Software prefetch distance of the GEMV streams: a panel is only C/4 bytes, so the
 * hardware streamer restarts at every page; prefetching ahead took the Llama-7B GEMVs from
 * 0.86 to 0.95-1.09 of the STREAM triad (512..2048 bytes all alike). */
#define GEMV_PREFETCH 2048
/* One token (GEMV): memory-bound, but a single accumulator per panel would wait on the
 * vpdpbusd latency at every step; one accumulator per 2-bit field s gives 4 chains. */
BB_INLINE void t2_tile_gemv(const bb_gemm_call *g, int n0, int p0, const int nv) {
    const t2_layout l = t2_layout_of(g->OC, g->C);
    const uint8_t *A = g->act + (size_t)n0 * g->lda;
    const uint8_t *W = g->w + (size_t)p0 * l.KB * 64;
    const size_t ps = (size_t)l.KB * 64;
    const __m512i three = _mm512_set1_epi8(3);
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int kb = 0; kb < l.KB; kb++, W += 64, A += 16 * MR) {
        _mm_prefetch((const char *)W + GEMV_PREFETCH, _MM_HINT_T0);
        if (nv > 1) _mm_prefetch((const char *)W + ps + GEMV_PREFETCH, _MM_HINT_T0);
        __m512i p = _mm512_load_si512(W);
        BB_DPBUSD_BCST(a0, _mm512_and_si512(p, three), A);
        BB_DPBUSD_BCST(a1, _mm512_and_si512(_mm512_srli_epi16(p, 2), three), A + 4 * MR);
        BB_DPBUSD_BCST(a2, _mm512_and_si512(_mm512_srli_epi16(p, 4), three), A + 8 * MR);
        BB_DPBUSD_BCST(a3, _mm512_and_si512(_mm512_srli_epi16(p, 6), three), A + 12 * MR);
        if (nv > 1) {
            __m512i q = _mm512_load_si512(W + ps);
            BB_DPBUSD_BCST(b0, _mm512_and_si512(q, three), A);
            BB_DPBUSD_BCST(b1, _mm512_and_si512(_mm512_srli_epi16(q, 2), three), A + 4 * MR);
            BB_DPBUSD_BCST(b2, _mm512_and_si512(_mm512_srli_epi16(q, 4), three), A + 8 * MR);
            BB_DPBUSD_BCST(b3, _mm512_and_si512(_mm512_srli_epi16(q, 6), three), A + 12 * MR);
        }
    }
    float gamma;
    memcpy(&gamma, g->w + l.gamma, sizeof gamma);
    __m512 s = _mm512_set1_ps(g->ascale[n0] * gamma);
    __m512i neg = _mm512_set1_epi32(-g->asum[n0]);
    __m512i d = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)), neg);
    bb_tile_store16(g, n0, p0, _mm512_mul_ps(_mm512_cvtepi32_ps(d), s));
    if (nv > 1) {
        d = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(b0, b1), _mm512_add_epi32(b2, b3)), neg);
        bb_tile_store16(g, n0, p0 + 1, _mm512_mul_ps(_mm512_cvtepi32_ps(d), s));
    }
}

BB_INLINE void t2_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    if (mr == 1) {
        t2_tile_gemv(g, n0, p0, nv);
        return;
    }
    const t2_layout l = t2_layout_of(g->OC, g->C);
    const uint8_t *A = g->act + (size_t)n0 * g->lda;
    const uint8_t *W = g->w + (size_t)p0 * l.KB * 64;
    const size_t ps = (size_t)l.KB * 64;
    const __m512i zero = _mm512_setzero_si512(), three = _mm512_set1_epi8(3);
#define DECL(i)                                                                   \
    __m512i c##i##0 = zero, c##i##1 = zero;                                       \
    if (i < mr) c##i##0 = c##i##1 = _mm512_set1_epi32(-g->asum[n0 + i]);
    BB_REP12(DECL)
#undef DECL
    for (int kb = 0; kb < l.KB; kb++, W += 64, A += 16 * MR) {
        __m512i p0v = _mm512_load_si512(W), p1v = zero;
        if (nv > 1) p1v = _mm512_load_si512(W + ps);
#pragma GCC unroll 4
        for (int s = 0; s < 4; s++) {
            __m512i w0 = _mm512_and_si512(_mm512_srli_epi16(p0v, 2 * s), three), w1 = zero;
            if (nv > 1) w1 = _mm512_and_si512(_mm512_srli_epi16(p1v, 2 * s), three);
            const uint8_t *As = A + 4 * MR * s;
#define STEP(i)                                                    \
    if (i < mr) {                                                  \
        __m512i a = _mm512_set1_epi32(bb_load_i32(As + 4 * i));    \
        BB_DPBUSD(c##i##0, w0, a);                                 \
        if (nv > 1) BB_DPBUSD(c##i##1, w1, a);                     \
    }
            BB_REP12(STEP)
#undef STEP
        }
    }
    float gamma;
    memcpy(&gamma, g->w + l.gamma, sizeof gamma);
#define OUT(i, v) \
    bb_tile_store16(g, n0 + i, p0 + v, _mm512_mul_ps(_mm512_cvtepi32_ps(c##i##v), _mm512_set1_ps(g->ascale[n0 + i] * gamma)));
#define EPI(i)                \
    if (i < mr) {             \
        OUT(i, 0)             \
        if (nv > 1) OUT(i, 1) \
    }
    BB_REP12(EPI)
#undef EPI
#undef OUT
}
BB_TILES(t2_tile, BB_MR12, BB_NV2)

#elif BB_ISA_LEVEL == 1
BB_INLINE void t2_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    (void)nv;
    const t2_layout l = t2_layout_of(g->OC, g->C);
    const uint8_t *A = g->act + (size_t)n0 * g->lda;
    const uint8_t *W = g->w + (size_t)p0 * l.KB * 64;
    const __m256i ones = _mm256_set1_epi16(1), three = _mm256_set1_epi8(3);
    __m256i acc[MR][2];
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_set1_epi32(-g->asum[n0 + i]);
    for (int kb = 0; kb < l.KB; kb++, W += 64, A += 16 * MR) {
        __m256i p0v = _mm256_load_si256((const __m256i *)W), p1v = _mm256_load_si256((const __m256i *)(W + 32));
#pragma GCC unroll 4
        for (int s = 0; s < 4; s++) {
            __m256i w0 = _mm256_and_si256(_mm256_srli_epi16(p0v, 2 * s), three);
            __m256i w1 = _mm256_and_si256(_mm256_srli_epi16(p1v, 2 * s), three);
#pragma GCC unroll 4
            for (int i = 0; i < mr; i++) {
                __m256i a = _mm256_set1_epi32(bb_load_i32(A + 4 * MR * s + 4 * i));
                acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(w0, a), ones));
                acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(w1, a), ones));
            }
        }
    }
    float gamma;
    memcpy(&gamma, g->w + l.gamma, sizeof gamma);
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) {
        __m256 s = _mm256_set1_ps(g->ascale[n0 + i] * gamma);
        float y[16];
        _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][0]), s));
        _mm256_storeu_ps(y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][1]), s));
        bb_tile_store16_c(g, n0 + i, p0, y);
    }
}
BB_TILES(t2_tile, BB_MR4, BB_NV1)

#else
BB_INLINE void t2_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    (void)nv;
    const t2_layout l = t2_layout_of(g->OC, g->C);
    const int8_t *A = (const int8_t *)g->act + (size_t)n0 * g->lda;
    const uint8_t *W = g->w + (size_t)p0 * l.KB * 64;
    int32_t acc[MR][16];
    for (int i = 0; i < mr; i++)
        for (int r = 0; r < 16; r++) acc[i][r] = -g->asum[n0 + i];
    for (int kb = 0; kb < l.KB; kb++, W += 64, A += 16 * MR)
        for (int s = 0; s < 4; s++)
            for (int i = 0; i < mr; i++)
                for (int r = 0; r < 16; r++)
                    for (int b = 0; b < 4; b++) acc[i][r] += ((W[4 * r + b] >> (2 * s)) & 3) * A[4 * MR * s + 4 * i + b];
    float gamma;
    memcpy(&gamma, g->w + l.gamma, sizeof gamma);
    for (int i = 0; i < mr; i++) {
        float y[16], s = g->ascale[n0 + i] * gamma;
        for (int r = 0; r < 16; r++) y[r] = (float)acc[i][r] * s;
        bb_tile_store16_c(g, n0 + i, p0, y);
    }
}
BB_TILES(t2_tile, BB_MR4, BB_NV1)
#endif

const bb_gemm_kernels FN(bb_b158_kernels) = {
    .name = BB_ISA_NAME, .mr = MR, .nv = NV, .geometry = t2_geometry, .act_quant = t2_act_quant, .tile = t2_tile_any,
};
