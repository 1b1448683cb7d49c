/* tiles.h — instantiates a register-tile body fn(g, n0, p0, MR, NV) (an always_inline
 * function whose tile shape is a compile-time constant, so its accumulator arrays live in
 * registers) for every MR = 1..MRMAX and NV = 1..NVMAX, plus a dispatcher with the
 * bb_gemm_kernels.tile signature (gemm.h). Usage:
 *   BB_TILES(my_tile, BB_MR8, BB_NV3)  ->  static void my_tile_any(g, n0, mr, p0, nv) */
#pragma once
#include "gemm.h"
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define BB_INLINE static inline __attribute__((always_inline))

#define BB_NV1(X, fn, MR) X(fn, MR, 1)
#define BB_NV2(X, fn, MR) BB_NV1(X, fn, MR) X(fn, MR, 2)
#define BB_NV3(X, fn, MR) BB_NV2(X, fn, MR) X(fn, MR, 3)
#define BB_NV4(X, fn, MR) BB_NV3(X, fn, MR) X(fn, MR, 4)
#define BB_MR1(X, NV, fn) NV(X, fn, 1)
#define BB_MR2(X, NV, fn) BB_MR1(X, NV, fn) NV(X, fn, 2)
#define BB_MR3(X, NV, fn) BB_MR2(X, NV, fn) NV(X, fn, 3)
#define BB_MR4(X, NV, fn) BB_MR3(X, NV, fn) NV(X, fn, 4)
#define BB_MR5(X, NV, fn) BB_MR4(X, NV, fn) NV(X, fn, 5)
#define BB_MR6(X, NV, fn) BB_MR5(X, NV, fn) NV(X, fn, 6)
#define BB_MR7(X, NV, fn) BB_MR6(X, NV, fn) NV(X, fn, 7)
#define BB_MR8(X, NV, fn) BB_MR7(X, NV, fn) NV(X, fn, 8)
#define BB_MR9(X, NV, fn) BB_MR8(X, NV, fn) NV(X, fn, 9)
#define BB_MR10(X, NV, fn) BB_MR9(X, NV, fn) NV(X, fn, 10)
#define BB_MR11(X, NV, fn) BB_MR10(X, NV, fn) NV(X, fn, 11)
#define BB_MR12(X, NV, fn) BB_MR11(X, NV, fn) NV(X, fn, 12)

#define BB_TILE_FN(fn, MR, NV) \
    static void fn##_##MR##_##NV(const bb_gemm_call *g, int n0, int p0) { fn(g, n0, p0, MR, NV); }
#define BB_TILE_PTR(fn, MR, NV) fn##_##MR##_##NV,
#define BB_NV_OF_BB_NV1 1
#define BB_NV_OF_BB_NV2 2
#define BB_NV_OF_BB_NV3 3
#define BB_NV_OF_BB_NV4 4
#define BB_CAT_(a, b) a##b
#define BB_CAT(a, b) BB_CAT_(a, b)

#define BB_TILES(fn, MRS, NVS)                                                                   \
    MRS(BB_TILE_FN, NVS, fn)                                                                     \
    static void (*const fn##_table[])(const bb_gemm_call *, int, int) = {MRS(BB_TILE_PTR, NVS, fn)}; \
    static void fn##_any(const bb_gemm_call *g, int n0, int mr, int p0, int nv) {                \
        fn##_table[(mr - 1) * BB_CAT(BB_NV_OF_, NVS) + nv - 1](g, n0, p0);                       \
    }

/* Activation scratch layout of the integer kernels: token panels of mr rows (mr * lda
 * bytes); inside a panel, 4-byte groups of consecutive inputs of the mr tokens are
 * interleaved, so one micro-tile step reads mr x 4 contiguous bytes. Byte of (token n,
 * input c); the panel of token n0 (a multiple of mr) starts at n0 * lda: */
static inline size_t bb_act4_offset(int n, int c, int mr, size_t lda) {
    return (size_t)(n / mr) * mr * lda + (size_t)(c / 4) * mr * 4 + (size_t)(n % mr) * 4 + (size_t)(c % 4);
}

#if defined(__AVX512F__)
#include <immintrin.h>
/* Stores (or adds, when g->accumulate) 16 outputs of token n, panel p; lanes past OC are
 * masked off. */
BB_INLINE void bb_tile_store16(const bb_gemm_call *g, int n, int p, __m512 y) {
    int valid = g->OC - 16 * p;
    __mmask16 m = valid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << valid) - 1);
    float *o = g->out + (size_t)n * g->OC + 16 * p;
    if (g->accumulate) y = _mm512_add_ps(_mm512_maskz_loadu_ps(m, o), y);
    _mm512_mask_storeu_ps(o, m, y);
}
#endif

/* Portable form: y[16] for token n, panel p. */
static inline void bb_tile_store16_c(const bb_gemm_call *g, int n, int p, const float *y) {
    int valid = g->OC - 16 * p < 16 ? g->OC - 16 * p : 16;
    float *o = g->out + (size_t)n * g->OC + 16 * p;
    for (int r = 0; r < valid; r++) o[r] = g->accumulate ? o[r] + y[r] : y[r];
}

static inline int32_t bb_load_i32(const void *p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

/* Register tiles are written with one named variable per accumulator (X(i) expanded for
 * each token row i): GCC keeps arrays of vectors in memory inside such loops, scalars not.
 * Rows at or past the instantiated mr are dead code. */
#define BB_REP4(X) X(0) X(1) X(2) X(3)
#define BB_REP8(X) BB_REP4(X) X(4) X(5) X(6) X(7)
#define BB_REP12(X) BB_REP8(X) X(8) X(9) X(10) X(11)

#if defined(__AVX512VNNI__)
/* acc += u8 . s8 in 4-byte groups, in place. GCC 12 copies the accumulator around
 * _mm512_dpbusd_epi32 and spills it in unrolled tiles; the tied asm operand does not. */
#define BB_DPBUSD(acc, u8, s8) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8))
/* Same with the s8 operand a 4-byte group at ptr broadcast to all lanes (embedded). */
#define BB_DPBUSD_BCST(acc, u8, ptr) \
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(u8), "m"(*(const int32_t *)(ptr)))
#endif
