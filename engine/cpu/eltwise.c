/* eltwise.c — elementwise kernels of the fast CPU ops, compiled once per ISA (meson:
 * baseline, -mavx2 -mfma, -mavx512f/dq/bw/vl) from this one source; BB_ISA_SUFFIX names
 * the copy and its table (isa.h). The loops are plain C under `omp simd`, vectorized by
 * the compiler for each target; exp/tanh come from vecmath.h. Scalar references with
 * libm are in ops_ref.c. */
#include "isa.h"
#include "vecmath.h"
#include "../../precisions/precision.h"
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, BB_ISA_SUFFIX)

#define GELU_K 0.7978845608028654f /* sqrt(2/pi): GELU tanh approximation (Hendrycks & Gimpel 2016) */

static void FN(gelu_forward)(float *out, const float *inp, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + bb_tanhf(GELU_K * (x + 0.044715f * x * x * x)));
    }
}

static void FN(gelu_backward)(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i], t = bb_tanhf(GELU_K * (x + 0.044715f * x * x * x));
        float grad = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += grad * dout[i];
    }
}

static void FN(swiglu_forward)(float *out, const float *gate, const float *up, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + bb_expf(-gate[i])) * up[i];
}

static void FN(swiglu_backward)(float *dgate, float *dup, const float *gate, const float *up, const float *dout,
                                size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], s = 1.0f / (1.0f + bb_expf(-g));
        dgate[i] += dout[i] * up[i] * s * (1.0f + g * (1.0f - s));
        dup[i] += dout[i] * g * s;
    }
}

static float FN(exp_shift_sum)(float *p, const float *z, float shift, size_t n) {
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t i = 0; i < n; i++) {
        p[i] = bb_expf(z[i] - shift);
        sum += p[i];
    }
    return sum;
}

/* AdamW (torch.optim.AdamW): p = p * (1 - lr wd) - lr * (m / bc1) / (sqrt(v / bc2) + eps). */
static void FN(adamw)(float *params, const float *grads, float *m, float *v, size_t n, float lr, float beta1,
                      float beta2, float eps, float decay, float bc1, float bc2) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * g, vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = params[i] * decay - lr * (mi / bc1) / (__builtin_sqrtf(vi / bc2) + eps);
    }
}

/* fmaxf(acc, a) for an accumulator that is never NaN, without a libm call: a NaN a is
 * ignored as fmaxf ignores it, and the compare vectorizes to vmaxps (fmaxf itself does
 * not vectorize unless NaNs are assumed away, so it was a call per element). */
static inline float max_ignoring_nan(float acc, float a) { return a > acc ? a : acc; }

/* roundf (half away from zero) without a libm call: truncate through int32 (cvttps2dq,
 * vectorizes on every ISA), then step away from zero when the dropped fraction is >= 0.5.
 * Exact for |v| < 2^31, which the callers guarantee: their v = w / scale is bounded by
 * the quantizer's range (|v| <= 128) or, for b158, by the element count. */
static inline float round_half_away(float v) {
    float t = __builtin_copysignf((float)(int32_t)v, v);  /* keeps roundf's -0.0 for -0.5 < v < 0 */
    float frac = __builtin_fabsf(v - t);
    return frac >= 0.5f ? t + __builtin_copysignf(1.0f, v) : t;
}

static void FN(fake_int8)(float *x, int C, int block) {
    for (int c0 = 0; c0 < C; c0 += block) {
        int n = C - c0 < block ? C - c0 : block;
        float *v = x + c0, amax = 0.0f;
#pragma omp simd reduction(max : amax)
        for (int i = 0; i < n; i++) amax = max_ignoring_nan(amax, __builtin_fabsf(v[i]));
        float m = __builtin_fmaxf(amax, 1e-5f), s = m / 127.0f, inv = 127.0f / m;
#pragma omp simd
        for (int i = 0; i < n; i++) {
            float q = round_half_away(v[i] * inv);
            q = q > 127.0f ? 127.0f : q < -128.0f ? -128.0f : q;
            v[i] = q * s;
        }
    }
}

static void FN(fake_fp16)(float *x, size_t n) {
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
#elif defined(__AVX2__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
#endif
    for (; i < n; i++) x[i] = bb_fp16_to_fp32(bb_fp32_to_fp16(x[i]));
}

static void FN(fake_bf16)(float *x, size_t n) {
    typedef uint32_t __attribute__((may_alias)) u32_alias;  /* the same storage seen as bits */
    u32_alias *u = (u32_alias *)x;
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        uint32_t b = u[i];
        bool nan = (b & 0x7fffffffu) > 0x7f800000u;
        uint32_t r = (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
        u[i] = nan ? ((b & 0xffff0000u) | 0x400000u) : r;
    }
}

static void FN(to_half)(uint16_t *dst, const float *src, size_t n, int bf16) {
    size_t i = 0;
    if (bf16) {
        typedef uint32_t __attribute__((may_alias)) u32_alias;
        const u32_alias *u = (const u32_alias *)src;
#pragma omp simd
        for (size_t j = 0; j < n; j++) dst[j] = (uint16_t)(u[j] >> 16);
        return;
    }
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#elif defined(__AVX2__)
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
    for (; i < n; i++) dst[i] = bb_fp32_to_fp16(src[i]);
}

static void FN(from_half)(float *dst, const uint16_t *src, size_t n, int bf16) {
    size_t i = 0;
    if (bf16) {
        typedef uint32_t __attribute__((may_alias)) u32_alias;
        u32_alias *u = (u32_alias *)dst;
#pragma omp simd
        for (size_t j = 0; j < n; j++) u[j] = (uint32_t)src[j] << 16;
        return;
    }
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
#elif defined(__AVX2__)
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
#endif
    for (; i < n; i++) dst[i] = bb_fp16_to_fp32(src[i]);
}

static float FN(absmax)(const float *x, size_t n) {
    float m = 0.0f;
#pragma omp simd reduction(max : m)
    for (size_t i = 0; i < n; i++) m = max_ignoring_nan(m, __builtin_fabsf(x[i]));
    return m;
}

/* Summed in double in fixed 8-lane order (precision.h), so every ISA copy returns the
 * same bits as the reference quantizer. */
static double FN(abssum)(const float *x, size_t n) { return bb_abssum_lanes8(x, n); }

/* 32 independent lanes: the compiler keeps them in vector registers (two zmm, four ymm),
 * so the loop is bound by loads, not by the latency of one running sum; the lanes are
 * then added pairwise in a fixed order. */
static float FN(dot)(const float *a, const float *b, size_t n) {
    float lane[32] = {0};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 32; j++) lane[j] += a[i + (size_t)j] * b[i + (size_t)j];
    for (int j = 0; i < n; i++, j++) lane[j] += a[i] * b[i];
    for (int w = 16; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) lane[j] += lane[j + w];
    return lane[0];
}

/* sum a[i] b[i] c[i] in dot's fixed 32-lane order */
static float FN(dot3)(const float *a, const float *b, const float *c, size_t n) {
    float lane[32] = {0};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 32; j++) lane[j] += a[i + (size_t)j] * b[i + (size_t)j] * c[i + (size_t)j];
    for (int j = 0; i < n; i++, j++) lane[j] += a[i] * b[i] * c[i];
    for (int w = 16; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) lane[j] += lane[j + w];
    return lane[0];
}

/* The SubLN RMSNorms of b158 and every llama norm: in the baseline-compiled ops.c these
 * ran 4 lanes wide and took 4 % of a b158 training step (perf, small B=8 T=256). The
 * reductions use dot's fixed lane order, so every ISA copy returns the same bits. */
static float FN(rmsnorm_row)(float *y, const float *x, const float *w, size_t n, float eps) {
    float r = 1.0f / __builtin_sqrtf(FN(dot)(x, x, n) / (float)n + eps);
#pragma omp simd
    for (size_t i = 0; i < n; i++) y[i] = x[i] * r * w[i];
    return r;
}

static void FN(rmsnorm_row_backward)(float *dx, const float *dy, const float *x, const float *w, float r, size_t n) {
    float k = r * r * r * FN(dot3)(x, w, dy, n) / (float)n;
#pragma omp simd
    for (size_t i = 0; i < n; i++) dx[i] += r * w[i] * dy[i] - x[i] * k;
}

static void FN(rmsnorm_dweight)(float *dw, const float *x, const float *dy, float r, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) dw[i] += x[i] * r * dy[i];
}

static void FN(fake_block)(float *wq, const float *w, size_t n, float inv, float s, float lo, float hi) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float q = round_half_away(w[i] * inv);
        q = q > hi ? hi : q < lo ? lo : q;
        wq[i] = q * s;
    }
}

const bb_eltwise_kernels FN(bb_eltwise) = {
    .name = BB_ISA_NAME,
    .gelu_forward = FN(gelu_forward),
    .gelu_backward = FN(gelu_backward),
    .swiglu_forward = FN(swiglu_forward),
    .swiglu_backward = FN(swiglu_backward),
    .exp_shift_sum = FN(exp_shift_sum),
    .adamw = FN(adamw),
    .fake_int8 = FN(fake_int8),
    .fake_fp16 = FN(fake_fp16),
    .fake_bf16 = FN(fake_bf16),
    .to_half = FN(to_half),
    .from_half = FN(from_half),
    .absmax = FN(absmax),
    .abssum = FN(abssum),
    .fake_block = FN(fake_block),
    .dot = FN(dot),
    .rmsnorm_row = FN(rmsnorm_row),
    .rmsnorm_row_backward = FN(rmsnorm_row_backward),
    .rmsnorm_dweight = FN(rmsnorm_dweight),
};
