/* actq.h — per-token int8 activation quantization for the integer kernels, bit-identical
 * to bb_quant_row_int8 (fakequant.c: s = max(amax, 1e-5) / 127, q = clamp(roundf(x * 127 /
 * max(amax, 1e-5)), -128, 127); BitNet Tips act_quant, specs §1.3). Included by the files
 * compiled once per ISA, so the SIMD body follows that copy's target flags.
 *
 * roundf (half away from zero) has no SIMD rounding mode; it is computed as
 * trunc(t + copysign(0.49999997f, t)) on the rounded product t = x * inv. For |t| < 2^23
 * this equals roundf(t): a fraction below 0.5 stays below the next integer by more than
 * half an ulp, and a fraction of 0.5 or more reaches it (1 - 2^-25 ties to 1.0). */
#pragma once
#include "precision.h"
#include <math.h>
#include <stdint.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define BB_ROUND_HALF_DOWN 0x1.fffffep-2f /* nextafterf(0.5f, 0) */

static inline float bb_actq_amax(const float *x, int n) {
    float amax = 0.0f;
    int c = 0;
#if defined(__AVX512F__)
    __m512 m = _mm512_setzero_ps(), m1 = m, m2 = m, m3 = m; /* 4 chains: vmaxps latency */
    for (; c + 64 <= n; c += 64) {
        m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + c)));
        m1 = _mm512_max_ps(m1, _mm512_abs_ps(_mm512_loadu_ps(x + c + 16)));
        m2 = _mm512_max_ps(m2, _mm512_abs_ps(_mm512_loadu_ps(x + c + 32)));
        m3 = _mm512_max_ps(m3, _mm512_abs_ps(_mm512_loadu_ps(x + c + 48)));
    }
    for (; c + 16 <= n; c += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + c)));
    amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m, m1), _mm512_max_ps(m2, m3)));
#elif defined(__AVX2__)
    __m256 m = _mm256_setzero_ps(), abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (; c + 8 <= n; c += 8) m = _mm256_max_ps(m, _mm256_and_ps(abs, _mm256_loadu_ps(x + c)));
    float lanes[8];
    _mm256_storeu_ps(lanes, m);
    for (int i = 0; i < 8; i++) amax = fmaxf(amax, lanes[i]);
#endif
    for (; c < n; c++) amax = fmaxf(amax, fabsf(x[c]));
    return amax;
}

static inline void bb_actq_put4(uint8_t *dst, size_t stride4, int c, uint32_t v) {
    __builtin_memcpy(dst + (size_t)(c / 4) * stride4, &v, 4);
}

/* Quantizes x[0, n) into dst: int8 q, or uint8 q + 128 when bias128 (the u8 operand of
 * vpdpbusd); element c goes to dst[(c / 4) * stride4 + c % 4] (tiles.h layout; stride4 = 4
 * is a plain row). Returns the scale s (x ~= q * s). Writes sum of q to *sum and, when
 * gsum != NULL, the sum of each group of gsize (a multiple of 16) to gsum[]. */
static inline float bb_actq_row(uint8_t *dst, size_t stride4, const float *x, int n, int bias128, int32_t *sum,
                                int32_t *gsum, int gsize) {
    float d = fmaxf(bb_actq_amax(x, n), 1e-5f), s = d / 127.0f, inv = 127.0f / d;
    int32_t total = 0;
    int c = 0;
    if (gsum)
        for (int i = 0; i < (n + gsize - 1) / gsize; i++) gsum[i] = 0;
#if defined(__AVX512F__)
    /* t = x * inv lies in [-127 (1 + 2^-22), 127 (1 + 2^-22)], so trunc(t +- 0.49999997) is
     * already in [-127, 127]: the clamps of the reference never act, and vpmovsdb's
     * saturation stands in for them. */
    const __m512 vinv = _mm512_set1_ps(inv), half = _mm512_set1_ps(BB_ROUND_HALF_DOWN);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m128i flip = _mm_set1_epi8((char)(bias128 ? 0x80 : 0));
    __m512i vsum = _mm512_setzero_si512();
    uint8_t *out = dst;
    for (; c + 16 <= n; c += 16, out += 4 * stride4) {
        __m512 t = _mm512_mul_ps(_mm512_loadu_ps(x + c), vinv);
        /* (t & sign) | half: copysign(0.49999997, t) in one vpternlogd */
        __m512 h = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(t), sign,
                                                                 _mm512_castps_si512(half), 0xea));
        __m512i q = _mm512_cvttps_epi32(_mm512_add_ps(t, h));
        vsum = _mm512_add_epi32(vsum, q);
        if (gsum && (c + 16) % gsize == 0) {
            int32_t gs = _mm512_reduce_add_epi32(vsum);
            gsum[c / gsize] = gs;
            total += gs;
            vsum = _mm512_setzero_si512();
        }
        __m128i b = _mm_xor_si128(_mm512_cvtsepi32_epi8(q), flip);
        if (stride4 == 4) {
            _mm_storeu_si128((__m128i *)out, b);
        } else {
            _mm_storeu_si32(out, b);
            _mm_storeu_si32(out + stride4, _mm_srli_si128(b, 4));
            _mm_storeu_si32(out + 2 * stride4, _mm_srli_si128(b, 8));
            _mm_storeu_si32(out + 3 * stride4, _mm_srli_si128(b, 12));
        }
    }
    {
        int32_t rest = _mm512_reduce_add_epi32(vsum);
        total += rest;
        if (gsum && c % gsize) gsum[c / gsize] = rest;
    }
#elif defined(__AVX2__)
    const __m256 vinv = _mm256_set1_ps(inv), half = _mm256_set1_ps(BB_ROUND_HALF_DOWN);
    const __m256 lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const __m128i flip = _mm_set1_epi8((char)(bias128 ? 0x80 : 0));
    for (; c + 8 <= n; c += 8) {
        __m256 t = _mm256_mul_ps(_mm256_loadu_ps(x + c), vinv);
        __m256 r = _mm256_round_ps(_mm256_add_ps(t, _mm256_or_ps(half, _mm256_and_ps(t, sign))),
                                   _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256i q = _mm256_cvttps_epi32(_mm256_min_ps(hi, _mm256_max_ps(lo, r)));
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        __m128i b = _mm_packs_epi16(w, w);
        __m128i h16 = _mm_madd_epi16(w, _mm_set1_epi16(1));
        int32_t cs = _mm_cvtsi128_si32(_mm_add_epi32(h16, _mm_add_epi32(_mm_srli_si128(h16, 4),
                                       _mm_add_epi32(_mm_srli_si128(h16, 8), _mm_srli_si128(h16, 12)))));
        total += cs;
        if (gsum) gsum[c / gsize] += cs;
        b = _mm_xor_si128(b, flip);
        bb_actq_put4(dst, stride4, c, (uint32_t)_mm_cvtsi128_si32(b));
        bb_actq_put4(dst, stride4, c + 4, (uint32_t)_mm_extract_epi32(b, 1));
    }
#endif
    for (; c < n; c++) {
        int q = (int)fminf(127.0f, fmaxf(-128.0f, roundf(x[c] * inv)));
        total += q;
        if (gsum) gsum[c / gsize] += q;
        dst[(size_t)(c / 4) * stride4 + c % 4] = (uint8_t)(bias128 ? q + 128 : q);
    }
    if (sum) *sum = total;
    return s;
}


#if defined(__AVX512F__)
/* Four tokens at once (rows x + r * ldx, r < 4) into a tiles.h panel whose 4-byte slots of
 * the four are adjacent (token r at dst + 4r): the quantized groups are transposed 4 x 4 in
 * registers and stored 16 bytes at a time instead of 4 bytes at a time. Same values and
 * sums as four bb_actq_row calls (no group sums). */
static inline void bb_actq_rows4(uint8_t *dst, size_t stride4, const float *x, size_t ldx, int n, int bias128,
                                 float *scale, int32_t *sums) {
    const __m512 half = _mm512_set1_ps(BB_ROUND_HALF_DOWN);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m128i flip = _mm_set1_epi8((char)(bias128 ? 0x80 : 0));
    __m512 vinv[4];
    __m512i vsum[4];
    float inv[4];
    for (int r = 0; r < 4; r++) {
        float d = fmaxf(bb_actq_amax(x + r * ldx, n), 1e-5f);
        scale[r] = d / 127.0f;
        inv[r] = 127.0f / d;
        vinv[r] = _mm512_set1_ps(inv[r]);
        vsum[r] = _mm512_setzero_si512();
    }
    int c = 0;
    uint8_t *out = dst;
    for (; c + 16 <= n; c += 16, out += 4 * stride4) {
        __m128i b[4];
        for (int r = 0; r < 4; r++) {
            __m512 t = _mm512_mul_ps(_mm512_loadu_ps(x + r * ldx + c), vinv[r]);
            __m512 h = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(t), sign,
                                                                     _mm512_castps_si512(half), 0xea));
            __m512i q = _mm512_cvttps_epi32(_mm512_add_ps(t, h));
            vsum[r] = _mm512_add_epi32(vsum[r], q);
            b[r] = _mm_xor_si128(_mm512_cvtsepi32_epi8(q), flip);
        }
        __m128i t0 = _mm_unpacklo_epi32(b[0], b[1]), t1 = _mm_unpacklo_epi32(b[2], b[3]);
        __m128i t2 = _mm_unpackhi_epi32(b[0], b[1]), t3 = _mm_unpackhi_epi32(b[2], b[3]);
        _mm_storeu_si128((__m128i *)out, _mm_unpacklo_epi64(t0, t1));
        _mm_storeu_si128((__m128i *)(out + stride4), _mm_unpackhi_epi64(t0, t1));
        _mm_storeu_si128((__m128i *)(out + 2 * stride4), _mm_unpacklo_epi64(t2, t3));
        _mm_storeu_si128((__m128i *)(out + 3 * stride4), _mm_unpackhi_epi64(t2, t3));
    }
    for (int r = 0; r < 4; r++) {
        int32_t total = _mm512_reduce_add_epi32(vsum[r]);
        for (int k = c; k < n; k++) {
            int q = (int)fminf(127.0f, fmaxf(-128.0f, roundf(x[r * ldx + k] * inv[r])));
            total += q;
            dst[(size_t)(k / 4) * stride4 + 4 * r + k % 4] = (uint8_t)(bias128 ? q + 128 : q);
        }
        if (sums) sums[r] = total;
    }
}
#endif
