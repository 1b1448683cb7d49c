/* int4.c — INT4 W4A8 (precision.h): symmetric int4 weights in groups of G = 32/64/128 along
 * the input dim with fp32 group scales (torchao 8da4w, specs §3.3), int8 activations per
 * token or per block of G. Compiled once per ISA (formats.h); the BB_ISA_LEVEL 0 copy holds
 * the format.
 *
 * Packed format (sizes from i4_layout_of; 64-byte aligned), ng = ceil(C/G) groups:
 *   codes   P = ceil(OC/16) panels x ng groups x G/8 bb_block_i4x8 (blocks.h): Q4_0-like
 *           nibbles, code = q + 8 in [0, 15]; in group g, byte j of a row holds input gG + j
 *           (low nibble) and gG + G/2 + j (high nibble); a block holds bytes 4j'..4j'+3 of
 *           its 16 rows. Past C (the ragged last group) and past OC: code 8 (zero).
 *   scales  float[P][ng][16]: s = max(amax_group / 7.5, 1e-9) (amax over the valid inputs).
 * q = clamp(roundf(w * (1/s)), -8, 7), unpack = q * s: fakequant.c fake_weights_int4.
 *
 * Kernels: per group an exact int32 dot d_g = sum qa q, then in float
 *   token acts: y = (sum_g fma order: f = fmaf((float)d_g, s_g, f)) * sa[n]
 *   block acts: f = fmaf((float)d_g * sa[n][g], s_g, f), y = f
 * with the same operations on every path (forward_ref too), so all give the same bits.
 * vpdpbusd / vpmaddubsw take the unsigned code: sum (q + 8) qa = d_g + 8 sum_g qa, so the
 * accumulators start each group at -8 sum_g qa (precomputed with the activations).
 *   avx512 (VNNI): tile 6 tokens x 2 panels, int32 and fp32 accumulators in registers; a
 *     block load gives the low-nibble (and 0x0f) and high-nibble (>> 4, and) code vectors,
 *     each multiplied by an embedded 4-byte activation broadcast.
 *   avx2: vpmaddubsw + vpmaddwd, 4 tokens x 1 panel.   scalar: plain C. */
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
    int P, G, ng, nb; /* nb = blocks per group = G / 8 */
    size_t scales, total;
} i4_layout;

static inline i4_layout i4_layout_of(int OC, int C, int G) {
    i4_layout l = {bb_panels(OC), G, (C + G - 1) / G, G / 8, 0, 0};
    l.scales = (size_t)l.P * l.ng * l.nb * sizeof(bb_block_i4x8);
    l.total = l.scales + (size_t)l.P * l.ng * BB_PANEL * sizeof(float);
    return l;
}

/* ---- format and references (one copy) ---------------------------------------------- */
#if BB_ISA_LEVEL == 0
#include "../common/check.h"
#include "../engine/alloc.h"

/* Byte and shift (0 or 4) of the code of (row o, input c). */
static inline uint8_t *i4_byte(void *pk, const i4_layout *l, int o, int c, int *shift) {
    int g = c / l->G, j = c % l->G, half = l->G / 2;
    *shift = j >= half ? 4 : 0;
    j %= half;
    bb_block_i4x8 *b = (bb_block_i4x8 *)pk + ((size_t)(o / BB_PANEL) * l->ng + g) * l->nb + j / 4;
    return &b->qs[o % BB_PANEL][j % 4];
}
static inline int i4_code(const void *pk, const i4_layout *l, int o, int c) {
    int sh;
    uint8_t b = *i4_byte((void *)pk, l, o, c, &sh);
    return (b >> sh) & 15;
}
static inline float *i4_scale(void *pk, const i4_layout *l, int o, int g) {
    return (float *)((char *)pk + l->scales) + ((size_t)(o / BB_PANEL) * l->ng + g) * BB_PANEL + o % BB_PANEL;
}

size_t bb_int4_packed_size(int OC, int C, const bb_prec_opts *o) { return i4_layout_of(OC, C, o->group).total; }

static void pack_row(void *pk, const i4_layout *l, const float *w, int o, int C) {
    for (int g = 0; g < l->ng; g++) {
        int g0 = g * l->G, n = C - g0 < l->G ? C - g0 : l->G;
        const float *x = w + (size_t)o * C + g0;
        float amax = 0.0f;
        for (int c = 0; c < n; c++) amax = fmaxf(amax, fabsf(x[c]));
        float s = fmaxf(amax / 7.5f, 1e-9f), inv = 1.0f / s;
        for (int c = 0; c < n; c++) {
            int sh, q = (int)fminf(7.0f, fmaxf(-8.0f, roundf(x[c] * inv)));
            uint8_t *b = i4_byte(pk, l, o, g0 + c, &sh);
            *b = (uint8_t)((*b & ~(15u << sh)) | (unsigned)(q + 8) << sh);
        }
        *i4_scale(pk, l, o, g) = s;
    }
}

static void pack_begin(void *packed, const i4_layout *l) {
    memset(packed, 0x88, l->scales); /* code 8 (zero) in every nibble */
    memset((char *)packed + l->scales, 0, l->total - l->scales);
}

void bb_int4_pack_ref(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    i4_layout l = i4_layout_of(OC, C, o->group);
    pack_begin(packed, &l);
    for (int r = 0; r < OC; r++) pack_row(packed, &l, w, r, C);
}

void bb_int4_pack(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    i4_layout l = i4_layout_of(OC, C, o->group);
    pack_begin(packed, &l);
#pragma omp parallel for schedule(static) if ((size_t)OC * C >= BB_PAR_MIN_WORK)
    for (int r = 0; r < OC; r++) pack_row(packed, &l, w, r, C);
}

static float weight_at(const void *packed, int r, int c, int OC, int C, const bb_prec_opts *o) {
    i4_layout l = i4_layout_of(OC, C, o->group);
    return (float)(i4_code(packed, &l, r, c) - 8) * *i4_scale((void *)packed, &l, r, c / l.G);
}

static void unpack_rows(float *w, const void *packed, int r0, int r1, int OC, int C, const bb_prec_opts *o) {
    i4_layout l = i4_layout_of(OC, C, o->group);
    for (int r = r0; r < r1; r++)
        for (int c = 0; c < C; c++)
            w[(size_t)(r - r0) * C + c] =
                (float)(i4_code(packed, &l, r, c) - 8) * *i4_scale((void *)packed, &l, r, c / l.G);
}

void bb_int4_unpack(float *w, const void *packed, int OC, int C, const bb_prec_opts *o) {
    unpack_rows(w, packed, 0, OC, OC, C, o);
}

void bb_int4_backward_input(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                            const bb_prec_opts *o, int accumulate) {
    bb_backward_input_panels(unpack_rows, dx, dy, packed, N, C, OC, o, accumulate);
}

void bb_int4_backward_input_ref(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                                const bb_prec_opts *o, int accumulate) {
    bb_backward_input_elementwise(weight_at, dx, dy, packed, N, C, OC, o, accumulate);
}

void bb_int4_forward_ref(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                         int accumulate) {
    i4_layout l = i4_layout_of(OC, C, o->group);
    int block = o->act == BB_ACTQ_INT8_BLOCK;
    int8_t *qa = bb_alloc(BB_MEM_WORKSPACE, (size_t)C);
    float *sa = bb_alloc(BB_MEM_WORKSPACE, (size_t)l.ng * sizeof(float));
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C;
        if (block)
            for (int g = 0; g < l.ng; g++) {
                int g0 = g * l.G, len = C - g0 < l.G ? C - g0 : l.G;
                sa[g] = bb_quant_row_int8(qa + g0, xn + g0, len);
            }
        else
            sa[0] = bb_quant_row_int8(qa, xn, C);
        for (int r = 0; r < OC; r++) {
            float f = 0.0f;
            for (int g = 0; g < l.ng; g++) {
                int32_t dot = 0;
                for (int c = g * l.G; c < C && c < (g + 1) * l.G; c++) dot += qa[c] * (i4_code(packed, &l, r, c) - 8);
                float s = *i4_scale((void *)packed, &l, r, g);
                f = block ? fmaf((float)dot * sa[g], s, f) : fmaf((float)dot, s, f);
            }
            float y = block ? f : f * sa[0];
            float *dst = out + (size_t)n * OC + r;
            *dst = accumulate ? *dst + y : y;
        }
    }
    bb_free(qa);
    bb_free(sa);
}

extern const bb_gemm_kernels bb_int4_kernels_scalar, bb_int4_kernels_avx2, bb_int4_kernels_avx512;
static const bb_gemm_kernels *const int4_kernels[BB_ISA_COUNT] = {&bb_int4_kernels_scalar, &bb_int4_kernels_avx2,
                                                                  &bb_int4_kernels_avx512};

const bb_gemm_kernels *bb_int4_kernels(void) { return bb_gemm_pick(int4_kernels, BB_CPU_AVX512_VNNI, 0); }

void bb_int4_forward(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                     int accumulate) {
    BB_CHECK(bb_prec_opts_error(BB_PREC_INT4, o) == NULL);
    bb_gemm_run(bb_int4_kernels(), out, x, packed, N, C, OC, o, accumulate);
}
#endif

/* ---- kernels of this ISA ------------------------------------------------------------- */

#if BB_ISA_LEVEL == 2
#define MR 6 /* 12 x 1 (fp32 sums spilled) measured the same */
#define NV 2
#else
#define MR 4
#define NV 1
#endif

static bb_gemm_geom i4_geometry(int C, const bb_prec_opts *o) {
    int ng = (C + o->group - 1) / o->group;
    return (bb_gemm_geom){.elem = 1, .cpad = o->group, .nscale = o->act == BB_ACTQ_INT8_BLOCK ? ng : 1, .nsum = ng};
}

/* asum[n][g] = -8 * (sum of the quantized activations of group g): the code offset. */
static void i4_act_quant(const bb_gemm_call *g, int n0, int n1) {
    const int G = g->o->group, ng = g->nsum;
    for (int n = n0; n < n1; n++) {
        uint8_t *dst = g->act + bb_act4_offset(n, 0, MR, g->lda);
        const float *xn = g->x + (size_t)n * g->C;
        int32_t *sums = g->asum + (size_t)n * ng;
        if (g->o->act == BB_ACTQ_INT8_BLOCK) {
            for (int gi = 0; gi < ng; gi++) {
                int g0 = gi * G, len = g->C - g0 < G ? g->C - g0 : G;
                g->ascale[(size_t)n * ng + gi] =
                    bb_actq_row(dst + (size_t)(g0 / 4) * 4 * MR, 4 * MR, xn + g0, len, 0, &sums[gi], NULL, 0);
            }
        } else {
            g->ascale[n] = bb_actq_row(dst, 4 * MR, xn, g->C, 0, NULL, sums, G);
        }
        for (int gi = 0; gi < ng; gi++) sums[gi] *= -8;
        for (int c = g->C; c < g->Cp; c++) dst[(size_t)(c / 4) * 4 * MR + c % 4] = 0;
    }
}

#if BB_ISA_LEVEL == 2
BB_INLINE void i4_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    const i4_layout l = i4_layout_of(g->OC, g->C, g->o->group);
    const int block = g->o->act == BB_ACTQ_INT8_BLOCK, ng = l.ng, nb = l.nb;
    const uint8_t *A = g->act + (size_t)n0 * g->lda;
    const uint8_t *W = g->w + (size_t)p0 * ng * nb * 64;
    const size_t ps = (size_t)ng * nb * 64;
    const float *S = (const float *)(g->w + l.scales) + (size_t)p0 * ng * 16;
    const int32_t *asum = g->asum + (size_t)n0 * ng;
    const float *ascale = g->ascale + (size_t)n0 * g->nscale;
    const __m512i zero = _mm512_setzero_si512(), low = _mm512_set1_epi8(0x0f);
#define DECL(i) __m512i c##i##0 = zero, c##i##1 = zero; __m512 f##i##0 = _mm512_setzero_ps(), f##i##1 = f##i##0;
    BB_REP8(DECL)
#undef DECL
    for (int gi = 0; gi < ng; gi++) {
#define INIT(i)                                                    \
    if (i < mr) c##i##0 = c##i##1 = _mm512_set1_epi32(asum[i * ng + gi]);
        BB_REP8(INIT)
#undef INIT
        const uint8_t *Ag = A + (size_t)gi * (l.G / 4) * 4 * MR;
        for (int j = 0; j < nb; j++, W += 64) {
            __m512i r0 = _mm512_load_si512(W), r1 = zero;
            __m512i lo0 = _mm512_and_si512(r0, low), hi0 = _mm512_and_si512(_mm512_srli_epi16(r0, 4), low);
            __m512i lo1 = zero, hi1 = zero;
            if (nv > 1) {
                r1 = _mm512_load_si512(W + ps);
                lo1 = _mm512_and_si512(r1, low);
                hi1 = _mm512_and_si512(_mm512_srli_epi16(r1, 4), low);
            }
            const uint8_t *Alo = Ag + (size_t)j * 4 * MR, *Ahi = Alo + (size_t)nb * 4 * MR;
#define STEP(i)                                                  \
    if (i < mr) {                                                \
        BB_DPBUSD_BCST(c##i##0, lo0, Alo + 4 * i);               \
        if (nv > 1) BB_DPBUSD_BCST(c##i##1, lo1, Alo + 4 * i);   \
        BB_DPBUSD_BCST(c##i##0, hi0, Ahi + 4 * i);               \
        if (nv > 1) BB_DPBUSD_BCST(c##i##1, hi1, Ahi + 4 * i);   \
    }
            BB_REP8(STEP)
#undef STEP
        }
        __m512 s0 = _mm512_loadu_ps(S + (size_t)gi * 16), s1 = _mm512_setzero_ps();
        if (nv > 1) s1 = _mm512_loadu_ps(S + (size_t)(ng + gi) * 16);
        if (block) {
#define ACC(i)                                                                                     \
    if (i < mr) {                                                                                  \
        __m512 sa = _mm512_set1_ps(ascale[i * ng + gi]);                                           \
        f##i##0 = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(c##i##0), sa), s0, f##i##0);   \
        if (nv > 1) f##i##1 = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(c##i##1), sa), s1, f##i##1); \
    }
            BB_REP8(ACC)
#undef ACC
        } else {
#define ACC(i)                                                                         \
    if (i < mr) {                                                                      \
        f##i##0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c##i##0), s0, f##i##0);           \
        if (nv > 1) f##i##1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c##i##1), s1, f##i##1); \
    }
            BB_REP8(ACC)
#undef ACC
        }
    }
#define EPI(i)                                                                                   \
    if (i < mr) {                                                                                \
        __m512 sa = _mm512_set1_ps(block ? 1.0f : ascale[i]);                                    \
        bb_tile_store16(g, n0 + i, p0, block ? f##i##0 : _mm512_mul_ps(f##i##0, sa));            \
        if (nv > 1) bb_tile_store16(g, n0 + i, p0 + 1, block ? f##i##1 : _mm512_mul_ps(f##i##1, sa)); \
    }
    BB_REP8(EPI)
#undef EPI
}
BB_TILES(i4_tile, BB_MR6, BB_NV2)

#else
/* avx2 and scalar: int32 group sums in registers/locals, fp32 sums in a small array. */
BB_INLINE void i4_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    (void)nv;
    const i4_layout l = i4_layout_of(g->OC, g->C, g->o->group);
    const int block = g->o->act == BB_ACTQ_INT8_BLOCK, ng = l.ng, nb = l.nb;
    const uint8_t *A = g->act + (size_t)n0 * g->lda;
    const uint8_t *W = g->w + (size_t)p0 * ng * nb * 64;
    const float *S = (const float *)(g->w + l.scales) + (size_t)p0 * ng * 16;
    const int32_t *asum = g->asum + (size_t)n0 * ng;
    const float *ascale = g->ascale + (size_t)n0 * g->nscale;
    float f[MR][16];
    memset(f, 0, sizeof f);
    for (int gi = 0; gi < ng; gi++) {
        int32_t d[MR][16];
        const uint8_t *Ag = A + (size_t)gi * (l.G / 4) * 4 * MR;
#if BB_ISA_LEVEL == 1
        const __m256i low = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
        __m256i acc[MR][2];
#pragma GCC unroll 4
        for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_set1_epi32(asum[i * ng + gi]);
        for (int j = 0; j < nb; j++, W += 64) {
            __m256i r0 = _mm256_load_si256((const __m256i *)W), r1 = _mm256_load_si256((const __m256i *)(W + 32));
            __m256i lo0 = _mm256_and_si256(r0, low), hi0 = _mm256_and_si256(_mm256_srli_epi16(r0, 4), low);
            __m256i lo1 = _mm256_and_si256(r1, low), hi1 = _mm256_and_si256(_mm256_srli_epi16(r1, 4), low);
            const uint8_t *Alo = Ag + (size_t)j * 4 * MR, *Ahi = Alo + (size_t)nb * 4 * MR;
#pragma GCC unroll 4
            for (int i = 0; i < mr; i++) {
                __m256i al = _mm256_set1_epi32(bb_load_i32(Alo + 4 * i)), ah = _mm256_set1_epi32(bb_load_i32(Ahi + 4 * i));
                __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(lo0, al), _mm256_maddubs_epi16(hi0, ah));
                __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(lo1, al), _mm256_maddubs_epi16(hi1, ah));
                acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(s0, ones));
                acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(s1, ones));
            }
        }
        for (int i = 0; i < mr; i++) {
            _mm256_storeu_si256((__m256i *)d[i], acc[i][0]);
            _mm256_storeu_si256((__m256i *)(d[i] + 8), acc[i][1]);
        }
#else
        for (int i = 0; i < mr; i++)
            for (int r = 0; r < 16; r++) d[i][r] = asum[i * ng + gi];
        for (int j = 0; j < nb; j++, W += 64) {
            const int8_t *Alo = (const int8_t *)Ag + (size_t)j * 4 * MR, *Ahi = Alo + (size_t)nb * 4 * MR;
            for (int i = 0; i < mr; i++)
                for (int r = 0; r < 16; r++)
                    for (int b = 0; b < 4; b++)
                        d[i][r] += (W[4 * r + b] & 15) * Alo[4 * i + b] + (W[4 * r + b] >> 4) * Ahi[4 * i + b];
        }
#endif
        const float *s = S + (size_t)gi * 16;
        for (int i = 0; i < mr; i++)
            for (int r = 0; r < 16; r++)
                f[i][r] = block ? fmaf((float)d[i][r] * ascale[i * ng + gi], s[r], f[i][r]) : fmaf((float)d[i][r], s[r], f[i][r]);
    }
    for (int i = 0; i < mr; i++) {
        if (!block)
            for (int r = 0; r < 16; r++) f[i][r] *= ascale[i];
        bb_tile_store16_c(g, n0 + i, p0, f[i]);
    }
}
BB_TILES(i4_tile, BB_MR4, BB_NV1)
#endif

const bb_gemm_kernels FN(bb_int4_kernels) = {
    .name = BB_ISA_NAME, .mr = MR, .nv = NV, .geometry = i4_geometry, .act_quant = i4_act_quant, .tile = i4_tile_any,
};
