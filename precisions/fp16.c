/* fp16.c — FP16 (precision.h): IEEE half copies of the weights and activations (round to
 * nearest even), FP32 accumulation (mixed precision, Micikevicius et al., specs §4).
 * Compiled once per ISA (formats.h); the BB_ISA_LEVEL 0 copy holds the format.
 *
 * Packed format: P = ceil(OC/16) panels x C bb_block_fp16x1 (blocks.h): the halves of rows
 * 16p..16p+15 at input k (zero past OC). unpack = half -> float: fake_weights_fp16 exactly.
 *
 * Numerics: a product of two halves is exact in fp32 (11 + 11 significant bits), so the
 * FMA paths and the reference's `acc += x * w` round identically; every path sums each
 * output in input order, hence the same bits everywhere.
 *   avx512: F16C vcvtph2ps of a block gives 16 rows of one input; FMA with the activation
 *     broadcast per token; tile 8 tokens x 3 panels. Activations are stored as floats
 *     (rounded to half) in panels of 8 tokens.
 *   avx2: the same with ymm, 4 tokens x 1 panel.   scalar: plain C. */
#include "../common/parallel.h"
#include "blocks.h"
#include "formats.h"
#include "gemm.h"
#include "tiles.h"
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, BB_ISA_SUFFIX)

/* ---- format and references (one copy) ---------------------------------------------- */
#if BB_ISA_LEVEL == 0
#include "../common/check.h"
#include "../engine/alloc.h"

static inline uint16_t *h_at(void *pk, int C, int o, int c) {
    return &((bb_block_fp16x1 *)pk + (size_t)(o / BB_PANEL) * C + c)->h[o % BB_PANEL];
}

size_t bb_fp16_packed_size(int OC, int C, const bb_prec_opts *o) {
    (void)o;
    return (size_t)bb_panels(OC) * C * sizeof(bb_block_fp16x1);
}

static void pack_row(void *pk, const float *w, int o, int C) {
    for (int c = 0; c < C; c++) *h_at(pk, C, o, c) = bb_fp32_to_fp16(w[(size_t)o * C + c]);
}

void bb_fp16_pack_ref(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    memset(packed, 0, bb_fp16_packed_size(OC, C, o));
    for (int r = 0; r < OC; r++) pack_row(packed, w, r, C);
}

void bb_fp16_pack(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    memset(packed, 0, bb_fp16_packed_size(OC, C, o));
#pragma omp parallel for schedule(static) if ((size_t)OC * C >= BB_PAR_MIN_WORK)
    for (int r = 0; r < OC; r++) pack_row(packed, w, r, C);
}

static float weight_at(const void *packed, int r, int c, int OC, int C, const bb_prec_opts *o) {
    (void)OC, (void)o;
    return bb_fp16_to_fp32(*h_at((void *)packed, C, r, c));
}

static void unpack_rows(float *w, const void *packed, int r0, int r1, int OC, int C, const bb_prec_opts *o) {
    for (int r = r0; r < r1; r++)
        for (int c = 0; c < C; c++) w[(size_t)(r - r0) * C + c] = weight_at(packed, r, c, OC, C, o);
}

void bb_fp16_unpack(float *w, const void *packed, int OC, int C, const bb_prec_opts *o) {
    unpack_rows(w, packed, 0, OC, OC, C, o);
}

void bb_fp16_backward_input(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                            const bb_prec_opts *o, int accumulate) {
    bb_backward_input_panels(unpack_rows, dx, dy, packed, N, C, OC, o, accumulate);
}

void bb_fp16_backward_input_ref(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                                const bb_prec_opts *o, int accumulate) {
    bb_backward_input_elementwise(weight_at, dx, dy, packed, N, C, OC, o, accumulate);
}

void bb_fp16_forward_ref(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                         int accumulate) {
    (void)o;
    float *xh = bb_alloc(BB_MEM_WORKSPACE, (size_t)C * sizeof(float));
    for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) xh[c] = bb_fp16_to_fp32(bb_fp32_to_fp16(x[(size_t)n * C + c]));
        for (int r = 0; r < OC; r++) {
            float acc = 0.0f;
            for (int c = 0; c < C; c++) acc += xh[c] * bb_fp16_to_fp32(*h_at((void *)packed, C, r, c));
            float *dst = out + (size_t)n * OC + r;
            *dst = accumulate ? *dst + acc : acc;
        }
    }
    bb_free(xh);
}

extern const bb_gemm_kernels bb_fp16_kernels_scalar, bb_fp16_kernels_avx2, bb_fp16_kernels_avx512;
static const bb_gemm_kernels *const fp16_kernels[BB_ISA_COUNT] = {&bb_fp16_kernels_scalar, &bb_fp16_kernels_avx2,
                                                                  &bb_fp16_kernels_avx512};

const bb_gemm_kernels *bb_fp16_kernels(void) { return bb_gemm_pick(fp16_kernels, BB_CPU_F16C, BB_CPU_F16C); }

void bb_fp16_forward(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                     int accumulate) {
    BB_CHECK(bb_prec_opts_error(BB_PREC_FP16, o) == NULL);
    bb_gemm_run(bb_fp16_kernels(), out, x, packed, N, C, OC, o, accumulate);
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

static bb_gemm_geom h_geometry(int C, const bb_prec_opts *o) {
    (void)C, (void)o;
    return (bb_gemm_geom){.elem = 4, .cpad = 1, .nscale = 0, .nsum = 0};
}

/* Activations rounded to half, kept as floats: token panel [c][MR]. */
static void h_act_quant(const bb_gemm_call *g, int n0, int n1) {
    for (int n = n0; n < n1; n++) {
        float *dst = (float *)(g->act + (size_t)(n / MR) * MR * g->lda) + n % MR;
        const float *x = g->x + (size_t)n * g->C;
        int c = 0;
#if BB_ISA_LEVEL == 2
        for (; c + 16 <= g->C; c += 16) {
            float t[16];
            _mm512_storeu_ps(t, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(x + c), _MM_FROUND_TO_NEAREST_INT |
                                                                                          _MM_FROUND_NO_EXC)));
            for (int j = 0; j < 16; j++) dst[(size_t)(c + j) * MR] = t[j];
        }
#endif
        for (; c < g->C; c++) dst[(size_t)c * MR] = bb_fp16_to_fp32(bb_fp32_to_fp16(x[c]));
    }
}

#if BB_ISA_LEVEL == 2
BB_INLINE void h_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    const float *A = (const float *)(g->act + (size_t)n0 * g->lda);
    const uint8_t *W = g->w + (size_t)p0 * g->C * 32;
    const size_t ps = (size_t)g->C * 32;
    const __m512 zero = _mm512_setzero_ps();
#define DECL(i) __m512 c##i##0 = zero, c##i##1 = zero, c##i##2 = zero;
    BB_REP8(DECL)
#undef DECL
    for (int k = 0; k < g->C; k++, W += 32, A += MR) {
        __m512 w0 = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)W)), w1 = zero, w2 = zero;
        if (nv > 1) w1 = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(W + ps)));
        if (nv > 2) w2 = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(W + 2 * ps)));
#define STEP(i)                                                     \
    if (i < mr) {                                                   \
        __m512 a = _mm512_set1_ps(A[i]);                            \
        c##i##0 = _mm512_fmadd_ps(w0, a, c##i##0);                  \
        if (nv > 1) c##i##1 = _mm512_fmadd_ps(w1, a, c##i##1);      \
        if (nv > 2) c##i##2 = _mm512_fmadd_ps(w2, a, c##i##2);      \
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
BB_TILES(h_tile, BB_MR8, BB_NV3)

#elif BB_ISA_LEVEL == 1
BB_INLINE void h_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    (void)nv;
    const float *A = (const float *)(g->act + (size_t)n0 * g->lda);
    const uint8_t *W = g->w + (size_t)p0 * g->C * 32;
    __m256 acc[MR][2];
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int k = 0; k < g->C; k++, W += 32, A += MR) {
        __m256 w0 = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)W));
        __m256 w1 = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(W + 16)));
#pragma GCC unroll 4
        for (int i = 0; i < mr; i++) {
            __m256 a = _mm256_set1_ps(A[i]);
            acc[i][0] = _mm256_fmadd_ps(w0, a, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(w1, a, acc[i][1]);
        }
    }
    for (int i = 0; i < mr; i++) {
        float y[16];
        _mm256_storeu_ps(y, acc[i][0]);
        _mm256_storeu_ps(y + 8, acc[i][1]);
        bb_tile_store16_c(g, n0 + i, p0, y);
    }
}
BB_TILES(h_tile, BB_MR4, BB_NV1)

#else
BB_INLINE void h_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    (void)nv;
    const float *A = (const float *)(g->act + (size_t)n0 * g->lda);
    const bb_block_fp16x1 *W = (const bb_block_fp16x1 *)g->w + (size_t)p0 * g->C;
    float acc[MR][16] = {{0}};
    for (int k = 0; k < g->C; k++)
        for (int r = 0; r < 16; r++) {
            float w = bb_fp16_to_fp32(W[k].h[r]);
            for (int i = 0; i < mr; i++) acc[i][r] += A[(size_t)k * MR + i] * w;
        }
    for (int i = 0; i < mr; i++) bb_tile_store16_c(g, n0 + i, p0, acc[i]);
}
BB_TILES(h_tile, BB_MR4, BB_NV1)
#endif

const bb_gemm_kernels FN(bb_fp16_kernels) = {
    .name = BB_ISA_NAME, .mr = MR, .nv = NV, .geometry = h_geometry, .act_quant = h_act_quant, .tile = h_tile_any,
};
