/* int8.c — INT8 W8A8 (precision.h): weights per output row absmax, activations per token
 * absmax (LLM.int8 vector-wise quantization without outliers, specs §3.1; BitNet act_quant,
 * §1.3). Compiled once per ISA (formats.h); the BB_ISA_LEVEL 0 copy holds the format.
 *
 * Packed format (sizes from i8_layout_of; 64-byte aligned):
 *   codes   P = ceil(OC/16) panels x K4 = ceil(C/4) bb_block_i8x4 (blocks.h): int8 q of row
 *           16p + r, inputs 4k..4k+3; zero past OC and C.
 *   scale   float[16P]: s_o = amax_o / 127 (0 past OC).
 *   rowsum  int32[16P]: sum_c q[o][c], for the activation offset of the VNNI kernel.
 * q = clamp(roundf(w * inv), -127, 127) with inv = s > 0 ? 1/s : 0, and unpack = q * s:
 * the operations of fakequant.c fake_weights_int8, so unpack(pack(W)) is bit-identical.
 *
 * Kernels compute y[n][o] = (float)(sum_c qa[n][c] * q[o][c]) * (sa[n] * s_o); the integer sum
 * is exact in int32 (the VNNI offset form up to C * 255 * 127: C <= 65536 is checked), so
 * every ISA produces the same bits.
 *   avx512: VNNI vpdpbusd multiplies u8 by s8, so activations are stored as qa + 128 and
 *     sum (qa + 128) q = sum qa q + 128 rowsum[o] is corrected once per tile (the offset
 *     trick of oneDNN's u8s8 GEMM). Register tile 8 tokens x 3 panels (24 zmm accumulators):
 *     a step broadcasts 4 activation bytes per token and loads one block per panel.
 *   avx2: vpmaddubsw(|qa|, sign(q, qa)) (ggml's sign trick: |qa| <= 128, |q| <= 127 keep
 *     the int16 pair sums in range) then vpmaddwd to int32. Tile 4 tokens x 1 panel.
 *   scalar: plain C over the same blocks, 4 tokens x 1 panel. */
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
    int P, K4;
    size_t scale, rowsum, total;
} i8_layout;

static inline i8_layout i8_layout_of(int OC, int C) {
    i8_layout l = {bb_panels(OC), (C + 3) / 4, 0, 0, 0};
    l.scale = (size_t)l.P * l.K4 * sizeof(bb_block_i8x4);
    l.rowsum = l.scale + (size_t)l.P * BB_PANEL * sizeof(float);
    l.total = l.rowsum + (size_t)l.P * BB_PANEL * sizeof(int32_t);
    return l;
}

/* ---- format and references (one copy) ----------------------------------------------- */
#if BB_ISA_LEVEL == 0
#include "../common/check.h"
#include "../engine/alloc.h"

static inline int8_t *i8_code(void *pk, const i8_layout *l, int o, int c) {
    bb_block_i8x4 *b = (bb_block_i8x4 *)pk + (size_t)(o / BB_PANEL) * l->K4 + c / 4;
    return &b->q[o % BB_PANEL][c % 4];
}

size_t bb_int8_packed_size(int OC, int C, const bb_prec_opts *o) {
    (void)o;
    return i8_layout_of(OC, C).total;
}

static void pack_row(void *pk, const i8_layout *l, const float *w, int o, int C) {
    const float *row = w + (size_t)o * C;
    float amax = 0.0f;
    for (int c = 0; c < C; c++) amax = fmaxf(amax, fabsf(row[c]));
    float s = amax / 127.0f, inv = s > 0 ? 1.0f / s : 0.0f;
    int32_t sum = 0;
    for (int c = 0; c < C; c++) {
        int q = (int)fminf(127.0f, fmaxf(-127.0f, roundf(row[c] * inv)));
        *i8_code(pk, l, o, c) = (int8_t)q;
        sum += q;
    }
    ((float *)((char *)pk + l->scale))[o] = s;
    ((int32_t *)((char *)pk + l->rowsum))[o] = sum;
}

void bb_int8_pack_ref(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    i8_layout l = i8_layout_of(OC, C);
    memset(packed, 0, l.total);
    for (int r = 0; r < OC; r++) pack_row(packed, &l, w, r, C);
}

void bb_int8_pack(void *packed, const float *w, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    i8_layout l = i8_layout_of(OC, C);
    memset(packed, 0, l.total);
#pragma omp parallel for schedule(static) if ((size_t)OC * C >= BB_PAR_MIN_WORK)
    for (int r = 0; r < OC; r++) pack_row(packed, &l, w, r, C);
}

static float weight_at(const void *packed, int r, int c, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    i8_layout l = i8_layout_of(OC, C);
    return (float)*i8_code((void *)packed, &l, r, c) * ((const float *)((const char *)packed + l.scale))[r];
}

static void unpack_rows(float *w, const void *packed, int r0, int r1, int OC, int C, const bb_prec_opts *o) {
    (void)o;
    i8_layout l = i8_layout_of(OC, C);
    const float *scale = (const float *)((const char *)packed + l.scale);
    for (int r = r0; r < r1; r++)
        for (int c = 0; c < C; c++) w[(size_t)(r - r0) * C + c] = (float)*i8_code((void *)packed, &l, r, c) * scale[r];
}

void bb_int8_unpack(float *w, const void *packed, int OC, int C, const bb_prec_opts *o) {
    unpack_rows(w, packed, 0, OC, OC, C, o);
}

void bb_int8_backward_input(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                            const bb_prec_opts *o, int accumulate) {
    bb_backward_input_panels(unpack_rows, dx, dy, packed, N, C, OC, o, accumulate);
}

void bb_int8_backward_input_ref(float *dx, const float *dy, const void *packed, int N, int C, int OC,
                                const bb_prec_opts *o, int accumulate) {
    bb_backward_input_elementwise(weight_at, dx, dy, packed, N, C, OC, o, accumulate);
}

void bb_int8_forward_ref(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                         int accumulate) {
    (void)o;
    i8_layout l = i8_layout_of(OC, C);
    const float *scale = (const float *)((const char *)packed + l.scale);
    int8_t *qa = bb_alloc(BB_MEM_WORKSPACE, (size_t)C);
    for (int n = 0; n < N; n++) {
        float sa = bb_quant_row_int8(qa, x + (size_t)n * C, C);
        for (int r = 0; r < OC; r++) {
            int32_t dot = 0;
            for (int c = 0; c < C; c++) dot += qa[c] * *i8_code((void *)packed, &l, r, c);
            float y = (float)dot * (sa * scale[r]);
            float *dst = out + (size_t)n * OC + r;
            *dst = accumulate ? *dst + y : y;
        }
    }
    bb_free(qa);
}

extern const bb_gemm_kernels bb_int8_kernels_scalar, bb_int8_kernels_avx2, bb_int8_kernels_avx512;
static const bb_gemm_kernels *const int8_kernels[BB_ISA_COUNT] = {&bb_int8_kernels_scalar, &bb_int8_kernels_avx2,
                                                                  &bb_int8_kernels_avx512};

const bb_gemm_kernels *bb_int8_kernels(void) { return bb_gemm_pick(int8_kernels, BB_CPU_AVX512_VNNI, 0); }

void bb_int8_forward(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                     int accumulate) {
    BB_CHECK(bb_prec_opts_error(BB_PREC_INT8, o) == NULL);
    BB_CHECK(C <= 65536); /* int32 sums of (qa + 128) * q: C * 255 * 127 < 2^31 */
    bb_gemm_run(bb_int8_kernels(), out, x, packed, N, C, OC, o, accumulate);
}
#endif

/* ---- kernels of this ISA ------------------------------------------------------------- */

#if BB_ISA_LEVEL == 2
#define MR 8 /* 12 x 2 measured the same */
#define NV 3
#define ACT_BIAS 1
#else
#define MR 4
#define NV 1
#define ACT_BIAS 0
#endif

static bb_gemm_geom i8_geometry(int C, const bb_prec_opts *o) {
    (void)C, (void)o;
    return (bb_gemm_geom){.elem = 1, .cpad = 4, .nscale = 1, .nsum = 0};
}

static void i8_act_quant(const bb_gemm_call *g, int n0, int n1) {
    for (int n = n0; n < n1;) {
        uint8_t *dst = g->act + bb_act4_offset(n, 0, MR, g->lda);
        int rows = 1;
#if BB_ISA_LEVEL == 2
        if (n % 4 == 0 && n + 4 <= n1) { /* MR = 8: four tokens never straddle a panel */
            bb_actq_rows4(dst, 4 * MR, g->x + (size_t)n * g->C, (size_t)g->C, g->C, ACT_BIAS, &g->ascale[n], NULL);
            rows = 4;
        } else
#endif
            g->ascale[n] = bb_actq_row(dst, 4 * MR, g->x + (size_t)n * g->C, g->C, ACT_BIAS, NULL, NULL, 0);
        for (int r = 0; r < rows; r++)
            for (int c = g->C; c < g->Cp; c++) dst[(size_t)(c / 4) * 4 * MR + 4 * r + c % 4] = ACT_BIAS ? 128 : 0;
        n += rows;
    }
}

#if BB_ISA_LEVEL == 2
BB_INLINE void i8_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    const i8_layout l = i8_layout_of(g->OC, g->C);
    const uint8_t *A = g->act + (size_t)n0 * g->lda;
    const uint8_t *W = g->w + (size_t)p0 * l.K4 * 64;
    const size_t ps = (size_t)l.K4 * 64;
    const __m512i zero = _mm512_setzero_si512();
#define DECL(i) __m512i c##i##0 = zero, c##i##1 = zero, c##i##2 = zero;
    BB_REP8(DECL)
#undef DECL
    for (int k = 0; k < l.K4; k++, W += 64, A += 4 * MR) {
        __m512i w0 = _mm512_load_si512(W), w1 = zero, w2 = zero;
        if (nv > 1) w1 = _mm512_load_si512(W + ps);
        if (nv > 2) w2 = _mm512_load_si512(W + 2 * ps);
#define STEP(i)                                                           \
    if (i < mr) {                                                         \
        __m512i a = _mm512_set1_epi32(bb_load_i32(A + 4 * i));           \
        BB_DPBUSD(c##i##0, a, w0);                                        \
        if (nv > 1) BB_DPBUSD(c##i##1, a, w1);                            \
        if (nv > 2) BB_DPBUSD(c##i##2, a, w2);                            \
    }
        BB_REP8(STEP)
#undef STEP
    }
    const float *scale = (const float *)(g->w + l.scale);
    const int32_t *rowsum = (const int32_t *)(g->w + l.rowsum);
    __m512 sw[NV];
    __m512i corr[NV];
    for (int v = 0; v < nv; v++) {
        sw[v] = _mm512_loadu_ps(scale + 16 * (p0 + v));
        corr[v] = _mm512_slli_epi32(_mm512_loadu_si512(rowsum + 16 * (p0 + v)), 7);
    }
#define OUT(i, v) \
    bb_tile_store16(g, n0 + i, p0 + v, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c##i##v, corr[v])), \
                                                     _mm512_mul_ps(_mm512_set1_ps(g->ascale[n0 + i]), sw[v])));
#define EPI(i)                  \
    if (i < mr) {               \
        OUT(i, 0)               \
        if (nv > 1) OUT(i, 1)   \
        if (nv > 2) OUT(i, 2)   \
    }
    BB_REP8(EPI)
#undef EPI
#undef OUT
}
BB_TILES(i8_tile, BB_MR8, BB_NV3)

#elif BB_ISA_LEVEL == 1
BB_INLINE void i8_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    (void)nv; /* one panel = two ymm halves */
    const i8_layout l = i8_layout_of(g->OC, g->C);
    const uint8_t *A = g->act + (size_t)n0 * g->lda;
    const uint8_t *W = g->w + (size_t)p0 * l.K4 * 64;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[MR][2];
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    for (int k = 0; k < l.K4; k++) {
        __m256i w0 = _mm256_load_si256((const __m256i *)(W + (size_t)k * 64));
        __m256i w1 = _mm256_load_si256((const __m256i *)(W + (size_t)k * 64 + 32));
#pragma GCC unroll 4
        for (int i = 0; i < mr; i++) {
            __m256i a = _mm256_set1_epi32(bb_load_i32(A + (size_t)k * 4 * MR + 4 * i)), aa = _mm256_abs_epi8(a);
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(w0, a)), ones));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(w1, a)), ones));
        }
    }
    const float *scale = (const float *)(g->w + l.scale) + 16 * p0;
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) {
        __m256 s = _mm256_set1_ps(g->ascale[n0 + i]);
        float y[16];
        _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][0]), _mm256_mul_ps(s, _mm256_loadu_ps(scale))));
        _mm256_storeu_ps(y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][1]), _mm256_mul_ps(s, _mm256_loadu_ps(scale + 8))));
        bb_tile_store16_c(g, n0 + i, p0, y);
    }
}
BB_TILES(i8_tile, BB_MR4, BB_NV1)

#else
BB_INLINE void i8_tile(const bb_gemm_call *g, int n0, int p0, const int mr, const int nv) {
    (void)nv;
    const i8_layout l = i8_layout_of(g->OC, g->C);
    const int8_t *A = (const int8_t *)g->act + (size_t)n0 * g->lda;
    const int8_t *W = (const int8_t *)g->w + (size_t)p0 * l.K4 * 64;
    int32_t acc[MR][16] = {{0}};
    for (int k = 0; k < l.K4; k++) {
        const int8_t *wb = W + (size_t)k * 64, *ab = A + (size_t)k * 4 * MR;
        for (int i = 0; i < mr; i++)
            for (int r = 0; r < 16; r++)
                for (int b = 0; b < 4; b++) acc[i][r] += ab[4 * i + b] * wb[4 * r + b];
    }
    const float *scale = (const float *)(g->w + l.scale) + 16 * p0;
    for (int i = 0; i < mr; i++) {
        float y[16], sa = g->ascale[n0 + i];
        for (int r = 0; r < 16; r++) y[r] = (float)acc[i][r] * (sa * scale[r]);
        bb_tile_store16_c(g, n0 + i, p0, y);
    }
}
BB_TILES(i8_tile, BB_MR4, BB_NV1)
#endif

const bb_gemm_kernels FN(bb_int8_kernels) = {
    .name = BB_ISA_NAME, .mr = MR, .nv = NV, .geometry = i8_geometry, .act_quant = i8_act_quant, .tile = i8_tile_any,
};
