/* bf16.c — BF16 (precision.h): bfloat16 copies of the weights and activations (round to
 * nearest even), FP32 accumulation (specs §4). Compiled once per ISA (formats.h); the
 * BB_ISA_LEVEL 0 copy holds the format.
 *
 * Packed format: P = ceil(OC/16) panels x ceil(C/2) bb_block_bf16x2 (blocks.h): the bf16 of
 * rows 16p..16p+15 at inputs 2k, 2k+1 (one vdpbf16ps lane); zero past OC and C. unpack =
 * bf16 -> float: fake_weights_bf16 exactly.
 *
 * Numerics: every path sums each output in vdpbf16ps order (Intel SDM: per pair, the odd
 * input's product first, then the even one's) and a product of two bf16 is exact in fp32,
 * so `acc += x * w`, FMA and vdpbf16ps round alike: the same bits everywhere (vdpbf16ps
 * flushes denormal inputs and results to zero; the others do not).
 *   avx512: bf16 -> fp32 by shift (even input) and mask (odd input) of a block, FMA with
 *     the activation broadcast per token; tile 8 tokens x 3 panels; activations as floats.
 *   avx512bf16: vdpbf16ps with a 4-byte bf16-pair activation broadcast, same tile. On the
 *     Sapphire Rapids-class machine of results/baselines vdpbf16ps retires about one every
 *     two cycles (32 multiply-adds) against two 16-wide FMAs a cycle, so the FMA kernel is
 *     the faster and the dispatched one; bench gemm measures both (BF16_PREFER_DP flips it).
 *   amx (bf16_amx.c): tdpbf16ps tiles, 32 tokens x 2 panels; dispatched from 16 tokens
 *     where the CPU and kernel grant AMX (about 5x sgemm at the small shapes there).
 *   avx2: FMA with ymm, 4 tokens x 1 panel.   scalar: plain C. */
#include "../common/parallel.h"
#include "blocks.h"
#include "formats.h"
#include "gemm.h"
#include "tiles.h"
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, BB_ISA_SUFFIX)
#define BF16_PREFER_DP 0

/* ---- format and references (one copy) ---------------------------------------------- */
#if BB_ISA_LEVEL == 0
#include "../common/check.h"
#include "../engine/alloc.h"

static inline int k2_of(int C) { return (C + 1) / 2; }
static inline uint16_t *b_at(void *pk, int C, int o, int c) {
    return &((bb_block_bf16x2 *)pk + (size_t)(o / BB_PANEL) * k2_of(C) + c / 2)->h[o % BB_PANEL][c % 2];
}

size_t bb_bf16_packed_size(int OC, int C, const bb_prec_opts *o) {
    (void)o;
    return (size_t)bb_panels(OC) * k2_of(C) * sizeof(bb_block_bf16x2);
}

static void pack_row(void *pk, const float *w, int o, int C) {
    for (int c = 0; c < C; c++) *b_at(pk, C, o, c) = bb_fp32_to_bf16(w[(size_t)o * C + c]);
}

void bb_bf16_pack_ref(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    memset(packed, 0, bb_bf16_packed_size(OC, C, o));
    for (int r = 0; r < OC; r++) pack_row(packed, w, r, C);
}

void bb_bf16_pack(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    memset(packed, 0, bb_bf16_packed_size(OC, C, o));
#pragma omp parallel for schedule(static) if ((size_t)OC * C >= BB_PAR_MIN_WORK)
    for (int r = 0; r < OC; r++) pack_row(packed, w, r, C);
}

void bb_bf16_unpack(float *w, const void *packed, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    for (int r = 0; r < OC; r++)
        for (int c = 0; c < C; c++) w[(size_t)r * C + c] = bb_bf16_to_fp32(*b_at((void *)packed, C, r, c));
}

void bb_bf16_forward_ref(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                         int accumulate) {
    (void)o;
    int K2 = k2_of(C);
    float *xb = bb_alloc(BB_MEM_WORKSPACE, (size_t)2 * K2 * sizeof(float)); /* zero past C */
    for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) xb[c] = bb_bf16_to_fp32(bb_fp32_to_bf16(x[(size_t)n * C + c]));
        for (int r = 0; r < OC; r++) {
            float acc = 0.0f;
            for (int k = 0; k < K2; k++) /* vdpbf16ps order: odd input first */
                for (int c = 2 * k + 1; c >= 2 * k; c--)
                    acc += xb[c] * (c < C ? bb_bf16_to_fp32(*b_at((void *)packed, C, r, c)) : 0.0f);
            float *dst = out + (size_t)n * OC + r;
            *dst = accumulate ? *dst + acc : acc;
        }
    }
    bb_free(xb);
}

extern const bb_gemm_kernels bb_bf16_kernels_scalar, bb_bf16_kernels_avx2, bb_bf16_kernels_avx512,
    bb_bf16_kernels_avx512_dp;
static const bb_gemm_kernels *const bf16_kernels[BB_ISA_COUNT] = {&bb_bf16_kernels_scalar, &bb_bf16_kernels_avx2,
                                                                  &bb_bf16_kernels_avx512};
static const bb_gemm_kernels *const bf16_kernels_dp[BB_ISA_COUNT] = {&bb_bf16_kernels_scalar, &bb_bf16_kernels_avx2,
                                                                     &bb_bf16_kernels_avx512_dp};

#if BB_HAVE_AMX
extern const bb_gemm_kernels bb_bf16_kernels_amx_table;
#endif
const bb_gemm_kernels *bb_bf16_kernels_amx(void) {
#if BB_HAVE_AMX
    if (bb_isa_active() == BB_ISA_AVX512 && (bb_cpu_features() & BB_CPU_AMX_BF16)) return &bb_bf16_kernels_amx_table;
#endif
    return NULL;
}
const bb_gemm_kernels *bb_bf16_kernels_fma(void) { return bb_gemm_pick(bf16_kernels, 0, 0); }

const bb_gemm_kernels *bb_bf16_kernels(void) {
    const bb_gemm_kernels *amx = bb_bf16_kernels_amx();
    return amx ? amx : BF16_PREFER_DP ? bb_bf16_kernels_vdpbf16ps() : bb_bf16_kernels_fma();
}
const bb_gemm_kernels *bb_bf16_kernels_vdpbf16ps(void) { return bb_gemm_pick(bf16_kernels_dp, BB_CPU_AVX512_BF16, 0); }

void bb_bf16_forward(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                     int accumulate) {
    BB_CHECK(bb_prec_opts_error(BB_PREC_BF16, o) == NULL);
    /* AMX computes 16 tokens a tile: below that (decoding) the FMA kernel wastes less */
    bb_gemm_run(N >= 16 ? bb_bf16_kernels() : bb_bf16_kernels_fma(), out, x, packed, N, C, OC, o, accumulate);
}
#endif

/* ---- kernels of this ISA ------------------------------------------------------------- */

#if BB_ISA_LEVEL == 2
#define MR 8
#define NV 3
#else
#define MR 4
#define NV 1
#endif

static bb_gemm_geom b_geometry(int C, const bb_prec_opts *o) {
    (void)C, (void)o;
    return (bb_gemm_geom){.elem = 4, .cpad = 2, .nscale = 0, .nsum = 0};
}

/* Activations rounded to bf16 (bb_fp32_to_bf16, NaN quieted), as floats in token panels
 * [c/2][MR][2]; or (dp) as bf16 pairs [c/2][MR] of 4 bytes. Zero past C. */
static void b_act_quant_any(const bb_gemm_call *g, int n0, int n1, int pairs) {
    for (int n = n0; n < n1; n++) {
        uint8_t *panel = g->act + (size_t)(n / MR) * MR * g->lda;
        const float *x = g->x + (size_t)n * g->C;
        int c = 0;
#if BB_ISA_LEVEL == 2
        for (; c + 16 <= g->C; c += 16) {
            __m512 v = _mm512_loadu_ps(x + c);
            __m512i u = _mm512_castps_si512(v), one = _mm512_set1_epi32(1);
            __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                                             _mm512_and_si512(_mm512_srli_epi32(u, 16), one)));
            r = _mm512_mask_or_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), u, _mm512_set1_epi32(0x400000));
            r = _mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u));
            uint8_t t[64];
            if (pairs) _mm256_storeu_si256((__m256i *)t, _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
            else _mm512_storeu_si512(t, r);
            for (int j = 0; j < 8; j++) {
                size_t at = (size_t)(c / 2 + j) * MR + n % MR;
                if (pairs) memcpy(panel + 4 * at, t + 4 * j, 4);
                else memcpy(panel + 8 * at, t + 8 * j, 8);
            }
        }
#endif
        for (; c < g->Cp; c++) {
            uint16_t h = c < g->C ? bb_fp32_to_bf16(x[c]) : 0;
            size_t at = (size_t)(c / 2) * MR + n % MR;
            if (pairs) ((uint16_t *)panel)[2 * at + c % 2] = h;
            else ((float *)panel)[2 * at + c % 2] = bb_bf16_to_fp32(h);
        }
    }
}
static void b_act_quant(const bb_gemm_call *g, int n0, int n1) { b_act_quant_any(g, n0, n1, 0); }

#if BB_ISA_LEVEL == 2
BB_INLINE void b_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    const int K2 = g->Cp / 2;
    const float *A = (const float *)(g->act + (size_t)n0 * g->lda);
    const uint8_t *W = g->w + (size_t)p0 * K2 * 64;
    const size_t ps = (size_t)K2 * 64;
    const __m512 zero = _mm512_setzero_ps();
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
#define DECL(i) __m512 c##i##0 = zero, c##i##1 = zero, c##i##2 = zero;
    BB_REP8(DECL)
#undef DECL
    for (int k = 0; k < K2; k++, W += 64, A += 2 * MR) {
        __m512i b0 = _mm512_load_si512(W), b1 = _mm512_setzero_si512(), b2 = b1;
        if (nv > 1) b1 = _mm512_load_si512(W + ps);
        if (nv > 2) b2 = _mm512_load_si512(W + 2 * ps);
        __m512 e0 = _mm512_castsi512_ps(_mm512_slli_epi32(b0, 16)), o0 = _mm512_castsi512_ps(_mm512_and_si512(b0, hi));
        __m512 e1 = _mm512_castsi512_ps(_mm512_slli_epi32(b1, 16)), o1 = _mm512_castsi512_ps(_mm512_and_si512(b1, hi));
        __m512 e2 = _mm512_castsi512_ps(_mm512_slli_epi32(b2, 16)), o2 = _mm512_castsi512_ps(_mm512_and_si512(b2, hi));
#define STEP(i)                                                                          \
    if (i < mr) {                                                                        \
        __m512 ao = _mm512_set1_ps(A[2 * i + 1]), ae = _mm512_set1_ps(A[2 * i]);        \
        c##i##0 = _mm512_fmadd_ps(e0, ae, _mm512_fmadd_ps(o0, ao, c##i##0));             \
        if (nv > 1) c##i##1 = _mm512_fmadd_ps(e1, ae, _mm512_fmadd_ps(o1, ao, c##i##1)); \
        if (nv > 2) c##i##2 = _mm512_fmadd_ps(e2, ae, _mm512_fmadd_ps(o2, ao, c##i##2)); \
    }
        BB_REP8(STEP)
#undef STEP
    }
#define EPI(i)                                                    \
    if (i < mr) {                                                 \
        bb_tile_store16(g, n0 + i, p0, c##i##0);                  \
        if (nv > 1) bb_tile_store16(g, n0 + i, p0 + 1, c##i##1);  \
        if (nv > 2) bb_tile_store16(g, n0 + i, p0 + 2, c##i##2);  \
    }
    BB_REP8(EPI)
#undef EPI
}
BB_TILES(b_tile, BB_MR8, BB_NV3)

/* vdpbf16ps kernel; acc += pair(w) . pair(a), in place (see BB_DPBUSD in tiles.h). */
#define DPBF16_BCST(acc, w, ptr) \
    __asm__("vdpbf16ps %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t *)(ptr)))

static void b_act_quant_dp(const bb_gemm_call *g, int n0, int n1) { b_act_quant_any(g, n0, n1, 1); }

BB_INLINE void bdp_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    const int K2 = g->Cp / 2;
    const uint8_t *A = g->act + (size_t)n0 * g->lda;
    const uint8_t *W = g->w + (size_t)p0 * K2 * 64;
    const size_t ps = (size_t)K2 * 64;
    const __m512 zero = _mm512_setzero_ps();
#define DECL(i) __m512 c##i##0 = zero, c##i##1 = zero, c##i##2 = zero;
    BB_REP8(DECL)
#undef DECL
    for (int k = 0; k < K2; k++, W += 64, A += 4 * MR) {
        __m512 b0 = _mm512_castsi512_ps(_mm512_load_si512(W)), b1 = zero, b2 = zero;
        if (nv > 1) b1 = _mm512_castsi512_ps(_mm512_load_si512(W + ps));
        if (nv > 2) b2 = _mm512_castsi512_ps(_mm512_load_si512(W + 2 * ps));
#define STEP(i)                                         \
    if (i < mr) {                                       \
        DPBF16_BCST(c##i##0, b0, A + 4 * i);            \
        if (nv > 1) DPBF16_BCST(c##i##1, b1, A + 4 * i); \
        if (nv > 2) DPBF16_BCST(c##i##2, b2, A + 4 * i); \
    }
        BB_REP8(STEP)
#undef STEP
    }
#define EPI(i)                                                    \
    if (i < mr) {                                                 \
        bb_tile_store16(g, n0 + i, p0, c##i##0);                  \
        if (nv > 1) bb_tile_store16(g, n0 + i, p0 + 1, c##i##1);  \
        if (nv > 2) bb_tile_store16(g, n0 + i, p0 + 2, c##i##2);  \
    }
    BB_REP8(EPI)
#undef EPI
}
BB_TILES(bdp_tile, BB_MR8, BB_NV3)

const bb_gemm_kernels bb_bf16_kernels_avx512_dp = {
    .name = "avx512bf16", .mr = MR, .nv = NV, .geometry = b_geometry, .act_quant = b_act_quant_dp, .tile = bdp_tile_any,
};

#elif BB_ISA_LEVEL == 1
BB_INLINE void b_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    (void)nv;
    const int K2 = g->Cp / 2;
    const float *A = (const float *)(g->act + (size_t)n0 * g->lda);
    const uint8_t *W = g->w + (size_t)p0 * K2 * 64;
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    __m256 acc[MR][2];
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int k = 0; k < K2; k++, W += 64, A += 2 * MR) {
        __m256i b0 = _mm256_load_si256((const __m256i *)W), b1 = _mm256_load_si256((const __m256i *)(W + 32));
        __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(b0, 16)), o0 = _mm256_castsi256_ps(_mm256_and_si256(b0, hi));
        __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(b1, 16)), o1 = _mm256_castsi256_ps(_mm256_and_si256(b1, hi));
#pragma GCC unroll 4
        for (int i = 0; i < mr; i++) {
            __m256 ao = _mm256_set1_ps(A[2 * i + 1]), ae = _mm256_set1_ps(A[2 * i]);
            acc[i][0] = _mm256_fmadd_ps(e0, ae, _mm256_fmadd_ps(o0, ao, acc[i][0]));
            acc[i][1] = _mm256_fmadd_ps(e1, ae, _mm256_fmadd_ps(o1, ao, acc[i][1]));
        }
    }
    for (int i = 0; i < mr; i++) {
        float y[16];
        _mm256_storeu_ps(y, acc[i][0]);
        _mm256_storeu_ps(y + 8, acc[i][1]);
        bb_tile_store16_c(g, n0 + i, p0, y);
    }
}
BB_TILES(b_tile, BB_MR4, BB_NV1)

#else
BB_INLINE void b_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    (void)nv;
    const int K2 = g->Cp / 2;
    const float *A = (const float *)(g->act + (size_t)n0 * g->lda);
    const bb_block_bf16x2 *W = (const bb_block_bf16x2 *)g->w + (size_t)p0 * K2;
    float acc[MR][16] = {{0}};
    for (int k = 0; k < K2; k++)
        for (int r = 0; r < 16; r++) {
            float wo = bb_bf16_to_fp32(W[k].h[r][1]), we = bb_bf16_to_fp32(W[k].h[r][0]);
            for (int i = 0; i < mr; i++) {
                acc[i][r] += A[(size_t)k * 2 * MR + 2 * i + 1] * wo;
                acc[i][r] += A[(size_t)k * 2 * MR + 2 * i] * we;
            }
        }
    for (int i = 0; i < mr; i++) bb_tile_store16_c(g, n0 + i, p0, acc[i]);
}
BB_TILES(b_tile, BB_MR4, BB_NV1)
#endif

const bb_gemm_kernels FN(bb_bf16_kernels) = {
    .name = BB_ISA_NAME, .mr = MR, .nv = NV, .geometry = b_geometry, .act_quant = b_act_quant, .tile = b_tile_any,
};
