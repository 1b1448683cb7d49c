/* eltwise.c — elementwise kernels of the fast CPU ops, compiled once per ISA (meson:
 * baseline, -mavx2 -mfma, -mavx512f/dq/bw/vl) from this one source; BB_ISA_SUFFIX names
 * the copy and its table (isa.h). The loops are plain C under `omp simd`, vectorized by
 * the compiler for each target; exp/tanh come from vecmath.h. Scalar references with
 * libm are in ops_ref.c. */
#include "isa.h"
#include "vecmath.h"

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

const bb_eltwise_kernels FN(bb_eltwise) = {
    .name = BB_ISA_NAME,
    .gelu_forward = FN(gelu_forward),
    .gelu_backward = FN(gelu_backward),
    .swiglu_forward = FN(swiglu_forward),
    .swiglu_backward = FN(swiglu_backward),
    .exp_shift_sum = FN(exp_shift_sum),
    .adamw = FN(adamw),
};
