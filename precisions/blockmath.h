/* blockmath.h — the per-element math of the packed precisions as small inline functions
 * that compile both as C (CPU) and as CUDA (__host__ __device__), so the CUDA kernels
 * (engine/cuda/) and the CPU code share one definition that CPU tests can check
 * (tests/test_blockmath.c compares every helper bit for bit with the CPU references:
 * fakequant.c bb_fp32_to_fp16 / bb_fp32_to_bf16 / bb_quant_row_int8 and each format's
 * unpack). Nothing here allocates or loops over a whole matrix.
 *
 * Rounding and clamping follow precision.h (specs/precisions.md §1.3, §3.1, §3.3):
 * roundf is round half away from zero; fp16/bf16 round to nearest even. The layouts are
 * those of blocks.h and the comments at the top of precisions/{int8,int4,b158}.c. */
#pragma once
#include "blocks.h"
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define BB_HD static inline __host__ __device__
#else
#define BB_HD static inline
#endif

/* ---- bit casts ------------------------------------------------------------------------ */
BB_HD uint32_t bb_hd_f2u(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
#endif
}
BB_HD float bb_hd_u2f(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, 4);
    return f;
#endif
}

/* ---- 16-bit floats ---------------------------------------------------------------------- */
/* IEEE half, round to nearest even, overflow to inf, gradual underflow, NaN kept quiet
 * with its top payload bits (as F16C vcvtps2ph). In software on the GPU too, so NaN
 * payloads and every rounding are the CPU's bits. */
BB_HD uint16_t bb_hd_fp32_to_fp16(float f) {
    uint32_t x = bb_hd_f2u(f);
    uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7fffff;
    int exp = (int)((x >> 23) & 0xff);
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
    int e = exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) { /* subnormal half (or zero) */
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000;
        int shift = 14 - e;
        uint32_t half = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        half += rem > mid || (rem == mid && (half & 1));
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | (uint32_t)e << 10 | (mant >> 13), rem = mant & 0x1fff;
    half += rem > 0x1000 || (rem == 0x1000 && (half & 1)); /* a carry into the exponent is right */
    return (uint16_t)half;
}

BB_HD float bb_hd_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 31) return bb_hd_u2f(sign | 0x7f800000 | mant << 13);
    if (exp != 0) return bb_hd_u2f(sign | (exp + 127 - 15) << 23 | mant << 13);
    /* zero or subnormal: mant * 2^-24 is exact in float */
    float v = (float)mant * 0x1p-24f;
    return bb_hd_u2f(sign | bb_hd_f2u(v));
}

/* bfloat16: round to nearest even by the carry trick; NaN stays a quiet NaN. */
BB_HD uint16_t bb_hd_fp32_to_bf16(float f) {
    uint32_t x = bb_hd_f2u(f);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}
BB_HD float bb_hd_bf16_to_fp32(uint16_t h) { return bb_hd_u2f((uint32_t)h << 16); }

/* The fake-quant round trips of fp16/bf16 weights and activations (precision.h). */
BB_HD float bb_hd_round_fp16(float x) { return bb_hd_fp16_to_fp32(bb_hd_fp32_to_fp16(x)); }
BB_HD float bb_hd_round_bf16(float x) { return bb_hd_bf16_to_fp32(bb_hd_fp32_to_bf16(x)); }

/* ---- int8 activations (per token absmax, BitNet act_quant, specs §1.3) ----------------- */
/* From the row's max |x|: d = max(amax, 1e-5), s = d / 127 (x ~= q s), inv = 127 / d. */
BB_HD float bb_hd_actq_scale(float amax) { return fmaxf(amax, 1e-5f) / 127.0f; }
BB_HD float bb_hd_actq_inv(float amax) { return 127.0f / fmaxf(amax, 1e-5f); }
BB_HD int bb_hd_actq_code(float x, float inv) { return (int)fminf(127.0f, fmaxf(-128.0f, roundf(x * inv))); }

/* A whole row, sequentially (one GPU thread, or the CPU): the math of bb_quant_row_int8.
 * GPU kernels compute amax with a reduction and call bb_hd_actq_code per element; fmaxf
 * is exact, so the reduction order does not change the result. */
BB_HD float bb_hd_quant_row_int8(int8_t *q, const float *x, int n) {
    float amax = 0.0f;
    for (int c = 0; c < n; c++) amax = fmaxf(amax, fabsf(x[c]));
    float inv = bb_hd_actq_inv(amax);
    for (int c = 0; c < n; c++) q[c] = (int8_t)bb_hd_actq_code(x[c], inv);
    return bb_hd_actq_scale(amax);
}

/* ---- packed weight layouts (byte offsets inside one packed matrix) ----------------------- */
BB_HD int bb_hd_panels(int OC) { return (OC + BB_PANEL - 1) / BB_PANEL; }

/* int8 (int8.c): codes P x K4 blocks, then float scale[16P], then int32 rowsum[16P]. */
BB_HD size_t bb_hd_i8_scale_offset(int OC, int C) {
    return (size_t)bb_hd_panels(OC) * ((C + 3) / 4) * sizeof(bb_block_i8x4);
}
/* int4 (int4.c): codes P x ng x G/8 blocks, then float scales[P][ng][16]. */
BB_HD size_t bb_hd_i4_scale_offset(int OC, int C, int G) {
    return (size_t)bb_hd_panels(OC) * ((C + G - 1) / G) * (G / 8) * sizeof(bb_block_i4x8);
}
/* b158 (b158.c): codes P x KB blocks, then the float gamma. */
BB_HD size_t bb_hd_t2_gamma_offset(int OC, int C) {
    return (size_t)bb_hd_panels(OC) * ((C + 15) / 16) * sizeof(bb_block_t2x16);
}

/* ---- decoding one weight code ----------------------------------------------------------- */
/* int8: q of (row o, input c); blocks = the start of the packed matrix, K4 = ceil(C/4). */
BB_HD int bb_hd_i8_code(const bb_block_i8x4 *blocks, int K4, int o, int c) {
    return blocks[(size_t)(o / BB_PANEL) * K4 + c / 4].q[o % BB_PANEL][c % 4];
}
/* int4: q in [-8, 7] of (o, c), ng = ceil(C/G) groups: group g, byte j < G/2 of a row holds
 * input gG + j in its low nibble and gG + G/2 + j in its high nibble, code = q + 8. */
BB_HD int bb_hd_i4_code(const bb_block_i4x8 *blocks, int ng, int G, int o, int c) {
    int g = c / G, j = c % G, half = G / 2, shift = j >= half ? 4 : 0;
    j %= half;
    uint8_t b = blocks[((size_t)(o / BB_PANEL) * ng + g) * (G / 8) + j / 4].qs[o % BB_PANEL][j % 4];
    return ((b >> shift) & 15) - 8;
}
/* Both nibbles of one int4 byte at once (a kernel's inner step): lo = input gG + j, hi =
 * input gG + G/2 + j. */
BB_HD void bb_hd_i4_byte_codes(uint8_t b, int *lo, int *hi) {
    *lo = (b & 15) - 8;
    *hi = (b >> 4) - 8;
}
/* b158: q in {-1, 0, 1} of (o, c), KB = ceil(C/16): block c/16, byte c%4, bits 2((c%16)/4). */
BB_HD int bb_hd_t2_code(const bb_block_t2x16 *blocks, int KB, int o, int c) {
    uint8_t b = blocks[(size_t)(o / BB_PANEL) * KB + c / 16].qs[o % BB_PANEL][c % 4];
    return ((b >> (2 * ((c % 16) / 4))) & 3) - 1;
}

/* ---- dequantized weights, the values of each format's unpack (q * scale) --------------- */
BB_HD float bb_hd_i8_weight(const void *pk, int OC, int C, int o, int c) {
    const float *scale = (const float *)((const char *)pk + bb_hd_i8_scale_offset(OC, C));
    return (float)bb_hd_i8_code((const bb_block_i8x4 *)pk, (C + 3) / 4, o, c) * scale[o];
}
BB_HD float bb_hd_i4_scale(const void *pk, int OC, int C, int G, int o, int g) {
    const float *s = (const float *)((const char *)pk + bb_hd_i4_scale_offset(OC, C, G));
    return s[((size_t)(o / BB_PANEL) * ((C + G - 1) / G) + g) * BB_PANEL + o % BB_PANEL];
}
BB_HD float bb_hd_i4_weight(const void *pk, int OC, int C, int G, int o, int c) {
    int ng = (C + G - 1) / G;
    return (float)bb_hd_i4_code((const bb_block_i4x8 *)pk, ng, G, o, c) * bb_hd_i4_scale(pk, OC, C, G, o, c / G);
}
BB_HD float bb_hd_t2_gamma(const void *pk, int OC, int C) {
    return *(const float *)((const char *)pk + bb_hd_t2_gamma_offset(OC, C));
}
BB_HD float bb_hd_t2_weight(const void *pk, int OC, int C, int o, int c) {
    return (float)bb_hd_t2_code((const bb_block_t2x16 *)pk, (C + 15) / 16, o, c) * bb_hd_t2_gamma(pk, OC, C);
}

/* fp16 (fp16.c): P x C bb_block_fp16x1, block (o/16) C + c holds row o%16's half of input c. */
BB_HD float bb_hd_f16_weight(const void *pk, int C, int o, int c) {
    return bb_hd_fp16_to_fp32(((const bb_block_fp16x1 *)pk)[(size_t)(o / BB_PANEL) * C + c].h[o % BB_PANEL]);
}
/* bf16 (bf16.c): P x ceil(C/2) bb_block_bf16x2, block (o/16) K2 + c/2 holds inputs 2k, 2k+1. */
BB_HD float bb_hd_bf16_weight(const void *pk, int C, int o, int c) {
    const bb_block_bf16x2 *b = (const bb_block_bf16x2 *)pk + (size_t)(o / BB_PANEL) * ((C + 1) / 2) + c / 2;
    return bb_hd_bf16_to_fp32(b->h[o % BB_PANEL][c % 2]);
}

/* ---- the word steps of the GPU packed kernels (engine/cuda/packed.cu) ------------------
 * A kernel thread owns output row o and reads its 4-byte slice of each block (one 32-bit
 * word), multiplying 4 weights by 4 int8 activations at once (__dp4a on the GPU, the same
 * sum in C here). The row functions below chain the steps exactly as the kernels do, for
 * one token, so tests/test_blockmath.c checks the kernels' arithmetic against forward_ref
 * on the CPU. qa is the token's int8 row padded with zeros to whole blocks. */
BB_HD int bb_hd_dp4a(int a, int b, int c) { /* c + sum of the 4 signed byte products */
#if defined(__CUDA_ARCH__)
    return __dp4a(a, b, c);
#else
    for (int i = 0; i < 4; i++) c += (int)(int8_t)(uint8_t)((uint32_t)a >> (8 * i)) * (int)(int8_t)(uint8_t)((uint32_t)b >> (8 * i));
    return c;
#endif
}
BB_HD int bb_hd_word(const void *p) { /* p is 4-byte aligned in every caller */
    return *(const int *)p;
}
/* int8: d += q . qa over inputs 4k..4k+3. */
BB_HD int bb_hd_i8_step(const bb_block_i8x4 *b, int r, const int8_t *qa4, int d) {
    return bb_hd_dp4a(bb_hd_word(b->q[r]), bb_hd_word(qa4), d);
}
/* int4: block jj of group g; lo nibbles are inputs gG + 4jj.., hi nibbles gG + G/2 + 4jj..;
 * d accumulates code . qa (codes 0..15 are non-negative as signed bytes), gs sum(qa), so the
 * group's dot is d - 8 gs. */
BB_HD void bb_hd_i4_step(const bb_block_i4x8 *b, int r, const int8_t *qa_lo, const int8_t *qa_hi, int *d, int *gs) {
    int w = bb_hd_word(b->qs[r]), alo = bb_hd_word(qa_lo), ahi = bb_hd_word(qa_hi);
    *d = bb_hd_dp4a((w >> 4) & 0x0f0f0f0f, ahi, bb_hd_dp4a(w & 0x0f0f0f0f, alo, *d));
    *gs = bb_hd_dp4a(0x01010101, ahi, bb_hd_dp4a(0x01010101, alo, *gs));
}
/* b158: step st (0..3) of block kb holds inputs 16kb + 4st..+3 as codes q + 1 in bits 2st;
 * d accumulates code . qa and as sum(qa), the dot is d - as. */
BB_HD void bb_hd_t2_step(const bb_block_t2x16 *b, int r, int st, const int8_t *qa4, int *d, int *as) {
    int codes = (bb_hd_word(b->qs[r]) >> (2 * st)) & 0x03030303, a = bb_hd_word(qa4);
    *d = bb_hd_dp4a(codes, a, *d);
    *as = bb_hd_dp4a(0x01010101, a, *as);
}

/* Output (n, o) of each format, from the padded int8 activations qa and their scale(s) sa
 * (int4 block mode: sa[g] per group), with the operations of the CPU kernels (int8.c,
 * int4.c, b158.c headers), hence the same bits as forward_ref. */
BB_HD float bb_hd_i8_out(const void *pk, int OC, int C, int o, const int8_t *qa, float sa) {
    int K4 = (C + 3) / 4, d = 0;
    const bb_block_i8x4 *blk = (const bb_block_i8x4 *)pk + (size_t)(o / BB_PANEL) * K4;
    for (int k = 0; k < K4; k++) d = bb_hd_i8_step(blk + k, o % BB_PANEL, qa + 4 * k, d);
    float s = ((const float *)((const char *)pk + bb_hd_i8_scale_offset(OC, C)))[o];
    return (float)d * (sa * s);
}
BB_HD float bb_hd_i4_group_fma(int d, int gs, float sa_g, float s, int block_acts, float f) {
    float dot = (float)(d - 8 * gs);
    return block_acts ? fmaf(dot * sa_g, s, f) : fmaf(dot, s, f);
}
BB_HD float bb_hd_i4_out(const void *pk, int OC, int C, int G, int o, const int8_t *qa, const float *sa,
                         int block_acts) {
    int ng = (C + G - 1) / G, nb = G / 8;
    float f = 0.0f;
    for (int g = 0; g < ng; g++) {
        int d = 0, gs = 0;
        const bb_block_i4x8 *gb = (const bb_block_i4x8 *)pk + ((size_t)(o / BB_PANEL) * ng + g) * nb;
        for (int jj = 0; jj < nb; jj++)
            bb_hd_i4_step(gb + jj, o % BB_PANEL, qa + g * G + 4 * jj, qa + g * G + G / 2 + 4 * jj, &d, &gs);
        f = bb_hd_i4_group_fma(d, gs, block_acts ? sa[g] : 0.0f, bb_hd_i4_scale(pk, OC, C, G, o, g), block_acts, f);
    }
    return block_acts ? f : f * sa[0];
}
BB_HD float bb_hd_t2_out(const void *pk, int OC, int C, int o, const int8_t *qa, float sa) {
    int KB = (C + 15) / 16, d = 0, as = 0;
    const bb_block_t2x16 *blk = (const bb_block_t2x16 *)pk + (size_t)(o / BB_PANEL) * KB;
    for (int kb = 0; kb < KB; kb++)
        for (int st = 0; st < 4; st++) bb_hd_t2_step(blk + kb, o % BB_PANEL, st, qa + 16 * kb + 4 * st, &d, &as);
    return (float)(d - as) * (sa * bb_hd_t2_gamma(pk, OC, C));
}
