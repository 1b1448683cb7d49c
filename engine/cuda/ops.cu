/* ops.cu — the backend ops table (backend.h) on the GPU, device pointers throughout:
 * matmuls through cuBLAS (cublasSgemm, FP32 or TF32 per bb_cuda_set_tf32), the rest as
 * plain kernels that follow ops_ref.c formula by formula (llm.c train_gpt2.cu in spirit,
 * without its fusions: one concern per kernel). Row reductions use one block per row;
 * gradients shared across rows (norm weights, biases, embeddings, attention keys and
 * values) accumulate with atomicAdd, so backward sums are not bit-reproducible run to run
 * (tests hold them to NMSE tolerances, tests/tolerances.h). Attention is the naive
 * O(T^2) form with the probabilities kept, as on the CPU (no flash attention), or, with
 * att == NULL, recomputed in backward (selective recomputation, backend.h). */
extern "C" {
#include "../cuda_backend.h"
}
#include "check.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#define THREADS 256

/* Sum of v over the block (blockDim.x a multiple of 32, <= 1024); every thread gets it. */
__device__ static float block_sum(float v) {
    __shared__ float part[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    __syncthreads(); /* part[] may still be read by a previous call */
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < nw ? part[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ static float block_max(float v) {
    __shared__ float part[32];
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < nw ? part[lane] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* ---- matmul (cuBLAS, column-major view of row-major buffers) --------------------------- */
__global__ static void add_bias_kernel(float *out, const float *bias, int N, int OC) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (size_t)N * OC) out[i] += bias[i % OC];
}

/* Row-major out (N, OC) = inp (N, C) W^T is column-major out^T (OC, N) = W^T' (OC, C) inp^T:
 * W row-major (OC, C) read column-major is (C, OC), so op(A) = transpose. */
static void matmul_forward_cuda(float *out, const float *inp, const float *weight, const float *bias, int N, int C,
                                int OC, int accumulate) {
    const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    CUBLAS_CHECK(cublasSgemm(bb_cuda_cublas(), CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, &one, weight, C, inp, C, &beta, out,
                             OC));
    if (bias) {
        add_bias_kernel<<<bb_blocks((size_t)N * OC, THREADS), THREADS, 0, bb_cuda_stream()>>>(out, bias, N, OC);
        KERNEL_CHECK();
    }
}

__global__ static void colsum_acc_kernel(float *dbias, const float *dout, int N, int OC) {
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= OC) return;
    float acc = 0.0f;
    for (int n = 0; n < N; n++) acc += dout[(size_t)n * OC + o];
    dbias[o] += acc;
}

static void matmul_backward_cuda(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                 const float *weight, int N, int C, int OC) {
    const float one = 1.0f;
    cublasHandle_t h = bb_cuda_cublas();
    /* dinp^T (C, N) += W^T (C, OC) dout^T (OC, N) */
    if (dinp) CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, &one, weight, C, dout, OC, &one, dinp, C));
    /* dW^T (C, OC) += inp^T (C, N) dout (N, OC) */
    CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, &one, inp, C, dout, OC, &one, dweight, C));
    if (dbias) {
        colsum_acc_kernel<<<bb_blocks(OC, THREADS), THREADS, 0, bb_cuda_stream()>>>(dbias, dout, N, OC);
        KERNEL_CHECK();
    }
}

/* ---- norms: one block per row ---------------------------------------------------------- */
__global__ static void layernorm_forward_kernel(float *out, float *mean, float *rstd, const float *inp,
                                                const float *w, const float *b, int C, float eps) {
    const float *x = inp + (size_t)blockIdx.x * C;
    float s = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += x[c];
    float m = block_sum(s) / (float)C, v = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) v += (x[c] - m) * (x[c] - m);
    float r = 1.0f / sqrtf(block_sum(v) / (float)C + eps);
    for (int c = threadIdx.x; c < C; c += blockDim.x) out[(size_t)blockIdx.x * C + c] = (x[c] - m) * r * w[c] + b[c];
    if (threadIdx.x == 0) { mean[blockIdx.x] = m; rstd[blockIdx.x] = r; }
}
static void layernorm_forward_cuda(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                                   const float *bias, int N, int C, float eps) {
    layernorm_forward_kernel<<<N, THREADS, 0, bb_cuda_stream()>>>(out, mean, rstd, inp, weight, bias, C, eps);
    KERNEL_CHECK();
}

__global__ static void layernorm_backward_kernel(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                                 const float *w, const float *mean, const float *rstd, int C) {
    size_t row = (size_t)blockIdx.x * C;
    float m = mean[blockIdx.x], r = rstd[blockIdx.x], a = 0.0f, bsum = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float norm = (inp[row + c] - m) * r, dnorm = w[c] * dout[row + c];
        a += dnorm;
        bsum += dnorm * norm;
    }
    float dmean = block_sum(a) / (float)C, dnm = block_sum(bsum) / (float)C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float dy = dout[row + c], norm = (inp[row + c] - m) * r, dnorm = w[c] * dy;
        atomicAdd(&db[c], dy);
        atomicAdd(&dw[c], norm * dy);
        dinp[row + c] += (dnorm - dmean - norm * dnm) * r;
    }
}
static void layernorm_backward_cuda(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                    const float *weight, const float *mean, const float *rstd, int N, int C) {
    layernorm_backward_kernel<<<N, THREADS, 0, bb_cuda_stream()>>>(dinp, dweight, dbias, dout, inp, weight, mean,
                                                                    rstd, C);
    KERNEL_CHECK();
}

__global__ static void rmsnorm_forward_kernel(float *out, float *rstd, const float *inp, const float *w, int C,
                                              float eps) {
    const float *x = inp + (size_t)blockIdx.x * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) ss += x[c] * x[c];
    float r = 1.0f / sqrtf(block_sum(ss) / (float)C + eps);
    for (int c = threadIdx.x; c < C; c += blockDim.x) out[(size_t)blockIdx.x * C + c] = x[c] * r * w[c];
    if (threadIdx.x == 0) rstd[blockIdx.x] = r;
}
static void rmsnorm_forward_cuda(float *out, float *rstd, const float *inp, const float *weight, int N, int C,
                                 float eps) {
    rmsnorm_forward_kernel<<<N, THREADS, 0, bb_cuda_stream()>>>(out, rstd, inp, weight, C, eps);
    KERNEL_CHECK();
}

/* dx = r (w dy) - x r^3 / C * sum(x w dy)   (ops_ref.c) */
__global__ static void rmsnorm_backward_kernel(float *dinp, float *dw, const float *dout, const float *inp,
                                               const float *w, const float *rstd, int C) {
    size_t row = (size_t)blockIdx.x * C;
    float r = rstd[blockIdx.x], dot = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dot += inp[row + c] * w[c] * dout[row + c];
    dot = block_sum(dot);
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float x = inp[row + c], dy = dout[row + c];
        atomicAdd(&dw[c], x * r * dy);
        dinp[row + c] += r * w[c] * dy - x * r * r * r * dot / (float)C;
    }
}
static void rmsnorm_backward_cuda(float *dinp, float *dweight, const float *dout, const float *inp,
                                  const float *weight, const float *rstd, int N, int C) {
    rmsnorm_backward_kernel<<<N, THREADS, 0, bb_cuda_stream()>>>(dinp, dweight, dout, inp, weight, rstd, C);
    KERNEL_CHECK();
}

/* ---- activations ----------------------------------------------------------------------- */
#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
__global__ static void gelu_forward_kernel(float *out, const float *inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = inp[i];
    out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + 0.044715f * x * x * x)));
}
__global__ static void gelu_backward_kernel(float *dinp, const float *inp, const float *dout, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = inp[i], t = tanhf(GELU_K * (x + 0.044715f * x * x * x)), sech2 = 1.0f - t * t;
    float grad = 0.5f * (1.0f + t) + 0.5f * x * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] += grad * dout[i];
}
static void gelu_forward_cuda(float *out, const float *inp, int N, int F) {
    size_t n = (size_t)N * F;
    gelu_forward_kernel<<<bb_blocks(n, THREADS), THREADS, 0, bb_cuda_stream()>>>(out, inp, n);
    KERNEL_CHECK();
}
static void gelu_backward_cuda(float *dinp, const float *inp, const float *dout, int N, int F) {
    size_t n = (size_t)N * F;
    gelu_backward_kernel<<<bb_blocks(n, THREADS), THREADS, 0, bb_cuda_stream()>>>(dinp, inp, dout, n);
    KERNEL_CHECK();
}

__global__ static void swiglu_forward_kernel(float *out, const float *inp, int N, int F) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * F) return;
    size_t n = i / F, f = i % F;
    float g = inp[n * 2 * F + f], u = inp[n * 2 * F + F + f];
    out[i] = g / (1.0f + expf(-g)) * u;
}
__global__ static void swiglu_backward_kernel(float *dinp, const float *inp, const float *dout, int N, int F) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * F) return;
    size_t n = i / F, f = i % F;
    float g = inp[n * 2 * F + f], u = inp[n * 2 * F + F + f], s = 1.0f / (1.0f + expf(-g)), dy = dout[i];
    dinp[n * 2 * F + f] += dy * u * s * (1.0f + g * (1.0f - s));
    dinp[n * 2 * F + F + f] += dy * g * s;
}
static void swiglu_forward_cuda(float *out, const float *inp, int N, int F) {
    swiglu_forward_kernel<<<bb_blocks((size_t)N * F, THREADS), THREADS, 0, bb_cuda_stream()>>>(out, inp, N, F);
    KERNEL_CHECK();
}
static void swiglu_backward_cuda(float *dinp, const float *inp, const float *dout, int N, int F) {
    swiglu_backward_kernel<<<bb_blocks((size_t)N * F, THREADS), THREADS, 0, bb_cuda_stream()>>>(dinp, inp, dout, N, F);
    KERNEL_CHECK();
}

/* ---- RoPE: one thread per rotated pair (q heads then k heads, ops_ref.c) --------------- */
__global__ static void rope_kernel(float *qkv, const float *cosv, const float *sinv, int B, int T, int NH, int NKV,
                                   int hd, float sign) {
    int half = hd / 2, QKV = (NH + 2 * NKV) * hd;
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, n = (size_t)B * T * (NH + NKV) * half;
    if (i >= n) return;
    int k = (int)(i % half);
    size_t rest = i / half;
    int h = (int)(rest % (NH + NKV));
    size_t bt = rest / (NH + NKV);
    int t = (int)(bt % T);
    float *x = qkv + bt * QKV + (size_t)h * hd;
    float c = cosv[t * half + k], s = sign * sinv[t * half + k], x1 = x[k], x2 = x[k + half];
    x[k] = x1 * c - x2 * s;
    x[k + half] = x2 * c + x1 * s;
}
static void rope_forward_cuda(float *qkv, const float *cosv, const float *sinv, int B, int T, int NH, int NKV, int hd) {
    size_t n = (size_t)B * T * (NH + NKV) * (hd / 2);
    rope_kernel<<<bb_blocks(n, THREADS), THREADS, 0, bb_cuda_stream()>>>(qkv, cosv, sinv, B, T, NH, NKV, hd, 1.0f);
    KERNEL_CHECK();
}
static void rope_backward_cuda(float *dqkv, const float *cosv, const float *sinv, int B, int T, int NH, int NKV,
                               int hd) {
    size_t n = (size_t)B * T * (NH + NKV) * (hd / 2);
    rope_kernel<<<bb_blocks(n, THREADS), THREADS, 0, bb_cuda_stream()>>>(dqkv, cosv, sinv, B, T, NH, NKV, hd, -1.0f);
    KERNEL_CHECK();
}

/* ---- attention: one block per (b, h, t) query row -------------------------------------- */
#define ATT_THREADS 128
/* Floats of slack after each row in dynamic shared memory: ptxas merges the unrolled
 * loop's remainder loads of row[s], row[s + 1], row[s + 2] into one 12-byte load that it
 * issues before testing how many of them are needed, so a row read up to s = t reads up
 * to row[t + 2] (compute-sanitizer memcheck on an H100: "Invalid __shared__ read of size
 * 12 bytes" at t = T - 1 without the slack). */
#define ATT_ROW_SLACK 4
/* Row t of head h's causal softmax probabilities into p (T entries, zeros above the
 * diagonal), by every thread of the block; p is complete when it returns. Forward (into
 * att, or shared memory when att is NULL) and backward's recomputation (att == NULL,
 * selective recomputation, backend.h) both run it, so recomputed rows are the kept ones. */
__device__ static void attention_row(float *p, const float *qkv, int b, int h, int t, int T, int NH, int NKV, int hd) {
    int QKV = (NH + 2 * NKV) * hd, C = NH * hd, kvh = h / (NH / NKV);
    float scale = 1.0f / sqrtf((float)hd);
    const float *q = qkv + ((size_t)b * T + t) * QKV + (size_t)h * hd;
    float mx = -INFINITY;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) {
        const float *k = qkv + ((size_t)b * T + s) * QKV + C + (size_t)kvh * hd;
        float dot = 0.0f;
        for (int i = 0; i < hd; i++) dot += q[i] * k[i];
        p[s] = dot * scale;
        mx = fmaxf(mx, p[s]);
    }
    mx = block_max(mx);
    float sum = 0.0f;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) {
        p[s] = expf(p[s] - mx);
        sum += p[s];
    }
    sum = block_sum(sum);
    for (int s = threadIdx.x; s < T; s += blockDim.x) p[s] = s <= t ? p[s] / sum : 0.0f;
    __syncthreads(); /* p[] complete before every thread reads all of it */
}

/* Mixed precision (backend.h bb_att_fmt): a probability rounded to the 16-bit format
 * (round to nearest even, as the CPU's fake_fp16/fake_bf16), its bits, and back. */
__device__ static float att_round(float x, int fmt) {
    if (fmt == BB_ATT_F16) return __half2float(__float2half_rn(x));
    if (fmt == BB_ATT_BF16) return __bfloat162float(__float2bfloat16_rn(x));
    return x;
}
__device__ static unsigned short att_bits(float x, int fmt) {
    return fmt == BB_ATT_F16 ? __half_as_ushort(__float2half_rn(x)) : __bfloat16_as_ushort(__float2bfloat16_rn(x));
}
__device__ static float att_widen(unsigned short u, int fmt) {
    return fmt == BB_ATT_F16 ? __half2float(__ushort_as_half(u)) : __bfloat162float(__ushort_as_bfloat16(u));
}

/* The row lives in dynamic shared memory (T floats) unless att keeps it as floats; a
 * 16-bit fmt rounds it there and att keeps the 16-bit values. */
__global__ static void attention_forward_kernel(float *out, void *att, const float *qkv, int T, int NH, int NKV,
                                                int hd, int fmt) {
    extern __shared__ float prow[];
    int t = blockIdx.x % T, h = (blockIdx.x / T) % NH, b = blockIdx.x / (T * NH);
    int QKV = (NH + 2 * NKV) * hd, C = NH * hd, kvh = h / (NH / NKV);
    size_t off = (((size_t)b * NH + h) * T + t) * T;
    float *p = att && fmt == BB_ATT_F32 ? (float *)att + off : prow;
    attention_row(p, qkv, b, h, t, T, NH, NKV, hd);
    if (fmt != BB_ATT_F32) {
        for (int s = threadIdx.x; s < T; s += blockDim.x) {
            p[s] = att_round(p[s], fmt);
            if (att) ((unsigned short *)att)[off + s] = att_bits(p[s], fmt);
        }
        __syncthreads();
    }
    float *y = out + ((size_t)b * T + t) * C + (size_t)h * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
        float acc = 0.0f;
        for (int s = 0; s <= t; s++) acc += p[s] * qkv[((size_t)b * T + s) * QKV + C + (size_t)(NKV + kvh) * hd + i];
        y[i] = acc;
    }
}

/* Dynamic shared memory of an attention kernel: above 48 KiB it must be opted into. */
static void attention_shmem(const void *kernel, size_t bytes) {
    if (bytes > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

static void attention_forward_cuda(float *out, void *att, const float *qkv, int B, int T, int NH, int NKV, int hd,
                                   bb_att_fmt fmt) {
    size_t shmem = att && fmt == BB_ATT_F32 ? 0 : (size_t)(T + ATT_ROW_SLACK) * sizeof(float);
    attention_shmem((const void *)attention_forward_kernel, shmem);
    attention_forward_kernel<<<B * NH * T, ATT_THREADS, shmem, bb_cuda_stream()>>>(out, att, qkv, T, NH, NKV, hd,
                                                                                    (int)fmt);
    KERNEL_CHECK();
}

/* dP = dy.v, dS = P (dP - sum_s P dP) scale, dq += dS k, dk += dS q, dv += P dy (ops_ref.c).
 * ds[] in dynamic shared memory (T floats + slack); unless att keeps the row as floats, the
 * row of P goes into the T floats (+ slack) after it: widened from att's 16-bit values, or
 * recomputed (att NULL) and rounded as forward rounded it. */
__global__ static void attention_backward_kernel(float *dqkv, const float *dout, const float *qkv, const void *att,
                                                 int T, int NH, int NKV, int hd, int fmt) {
    extern __shared__ float ds[];
    int t = blockIdx.x % T, h = (blockIdx.x / T) % NH, b = blockIdx.x / (T * NH);
    int QKV = (NH + 2 * NKV) * hd, C = NH * hd, kvh = h / (NH / NKV);
    float scale = 1.0f / sqrtf((float)hd);
    size_t off = (((size_t)b * NH + h) * T + t) * T;
    float *prow = ds + T + ATT_ROW_SLACK;
    const float *p = prow;
    if (att && fmt == BB_ATT_F32) {
        p = (const float *)att + off;
    } else if (att) {
        for (int s = threadIdx.x; s < T; s += blockDim.x) prow[s] = att_widen(((const unsigned short *)att)[off + s], fmt);
        __syncthreads();
    } else {
        attention_row(prow, qkv, b, h, t, T, NH, NKV, hd);
        if (fmt != BB_ATT_F32) {
            for (int s = threadIdx.x; s < T; s += blockDim.x) prow[s] = att_round(prow[s], fmt);
            __syncthreads();
        }
    }
    const float *dy = dout + ((size_t)b * T + t) * C + (size_t)h * hd;
    const float *q = qkv + ((size_t)b * T + t) * QKV + (size_t)h * hd;
    float rowdot = 0.0f;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) {
        size_t vo = ((size_t)b * T + s) * QKV + C + (size_t)(NKV + kvh) * hd;
        float dp = 0.0f;
        for (int i = 0; i < hd; i++) {
            dp += dy[i] * qkv[vo + i];
            atomicAdd(&dqkv[vo + i], p[s] * dy[i]);
        }
        ds[s] = dp;
        rowdot += p[s] * dp;
    }
    rowdot = block_sum(rowdot); /* also orders the ds[] writes before the reads below */
    for (int s = threadIdx.x; s <= t; s += blockDim.x) {
        ds[s] = p[s] * (ds[s] - rowdot) * scale;
        size_t ko = ((size_t)b * T + s) * QKV + C + (size_t)kvh * hd;
        for (int i = 0; i < hd; i++) atomicAdd(&dqkv[ko + i], ds[s] * q[i]);
    }
    __syncthreads();
    float *dq = dqkv + ((size_t)b * T + t) * QKV + (size_t)h * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
        float acc = 0.0f;
        for (int s = 0; s <= t; s++) acc += ds[s] * qkv[((size_t)b * T + s) * QKV + C + (size_t)kvh * hd + i];
        dq[i] += acc;
    }
}
static void attention_backward_cuda(float *dqkv, const float *dout, const float *qkv, const void *att, int B, int T,
                                    int NH, int NKV, int hd, bb_att_fmt fmt) {
    size_t shmem = (size_t)(T + ATT_ROW_SLACK) * sizeof(float) * (att && fmt == BB_ATT_F32 ? 1 : 2);
    attention_shmem((const void *)attention_backward_kernel, shmem);
    attention_backward_kernel<<<B * NH * T, ATT_THREADS, shmem, bb_cuda_stream()>>>(dqkv, dout, qkv, att, T, NH, NKV,
                                                                                     hd, (int)fmt);
    KERNEL_CHECK();
}

/* ---- residual, loss, embeddings ---------------------------------------------------------- */
__global__ static void residual_bias_kernel(float *out, const float *x, const float *bias, int N, int C) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (size_t)N * C) out[i] = x[i] + (bias ? bias[i % C] : 0.0f);
}
static void residual_bias_forward_cuda(float *out, const float *x, const float *bias, int N, int C) {
    residual_bias_kernel<<<bb_blocks((size_t)N * C, THREADS), THREADS, 0, bb_cuda_stream()>>>(out, x, bias, N, C);
    KERNEL_CHECK();
}

__global__ static void crossentropy_forward_kernel(float *losses, float *probs, const float *logits,
                                                   const int *targets, int V) {
    const float *z = logits + (size_t)blockIdx.x * V;
    float *p = probs + (size_t)blockIdx.x * V, mx = -INFINITY, sum = 0.0f;
    int tg = targets[blockIdx.x];
    float zt = threadIdx.x == 0 && tg >= 0 ? z[tg] : 0.0f; /* p may be z: read before block_max's barrier */
    for (int v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, z[v]);
    mx = block_max(mx);
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        p[v] = expf(z[v] - mx);
        sum += p[v];
    }
    sum = block_sum(sum);
    for (int v = threadIdx.x; v < V; v += blockDim.x) p[v] /= sum;
    if (threadIdx.x == 0) losses[blockIdx.x] = tg < 0 ? 0.0f : logf(sum) + mx - zt; /* log-sum-exp, ops_ref.c */
}
static void crossentropy_forward_cuda(float *losses, float *probs, const float *logits, const int *targets, int N,
                                      int V) {
    crossentropy_forward_kernel<<<N, THREADS, 0, bb_cuda_stream()>>>(losses, probs, logits, targets, V);
    KERNEL_CHECK();
}
__global__ static void crossentropy_backward_kernel(float *dlogits, const float *probs, const int *targets,
                                                    float scale, int N, int V) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * V) return;
    int tg = targets[i / V], v = (int)(i % V);
    dlogits[i] = tg < 0 ? 0.0f : (probs[i] - (v == tg ? 1.0f : 0.0f)) * scale;
}
static void crossentropy_backward_cuda(float *dlogits, const float *probs, const int *targets, float scale, int N,
                                       int V) {
    crossentropy_backward_kernel<<<bb_blocks((size_t)N * V, THREADS), THREADS, 0, bb_cuda_stream()>>>(
        dlogits, probs, targets, scale, N, V);
    KERNEL_CHECK();
}

__global__ static void encoder_forward_kernel(float *out, const int *tokens, const float *wte, const float *wpe, int T,
                                              int C, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    size_t bt = i / C;
    int c = (int)(i % C), t = (int)(bt % T);
    out[i] = wte[(size_t)tokens[bt] * C + c] + (wpe ? wpe[(size_t)t * C + c] : 0.0f);
}
__global__ static void encoder_backward_kernel(float *dwte, float *dwpe, const float *dout, const int *tokens, int T,
                                               int C, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    size_t bt = i / C;
    int c = (int)(i % C), t = (int)(bt % T);
    atomicAdd(&dwte[(size_t)tokens[bt] * C + c], dout[i]);
    if (dwpe) atomicAdd(&dwpe[(size_t)t * C + c], dout[i]);
}
static void encoder_forward_cuda(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T,
                                 int C) {
    size_t n = (size_t)B * T * C;
    encoder_forward_kernel<<<bb_blocks(n, THREADS), THREADS, 0, bb_cuda_stream()>>>(out, tokens, wte, wpe, T, C, n);
    KERNEL_CHECK();
}
static void encoder_backward_cuda(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T,
                                  int C) {
    size_t n = (size_t)B * T * C;
    encoder_backward_kernel<<<bb_blocks(n, THREADS), THREADS, 0, bb_cuda_stream()>>>(dwte, dwpe, dout, tokens, T, C,
                                                                                      n);
    KERNEL_CHECK();
}

/* ---- optimizer and gradient norm ------------------------------------------------------------ */
__global__ static void adamw_kernel(float *params, const float *grads, float *m, float *v, size_t n, float lr,
                                    float beta1, float beta2, float eps, float wd, float bc1, float bc2) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = grads[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    float p = params[i] * (1.0f - lr * wd);
    params[i] = p - lr * (m[i] / bc1) / (sqrtf(v[i] / bc2) + eps);
}
static void adamw_update_cuda(float *params, const float *grads, float *m, float *v, size_t n, float lr, float beta1,
                              float beta2, float eps, float wd, int t) {
    /* bias corrections on the host, as ops_ref.c computes them (powf in float) */
    float bc1 = 1.0f - powf(beta1, (float)t), bc2 = 1.0f - powf(beta2, (float)t);
    adamw_kernel<<<bb_blocks(n, THREADS), THREADS, 0, bb_cuda_stream()>>>(params, grads, m, v, n, lr, beta1, beta2, eps,
                                                                          wd, bc1, bc2);
    KERNEL_CHECK();
}

/* Sum of squares in double: per-thread partials over a grid-stride loop, then one double
 * atomicAdd per block (sm_60+). Not in the CPU's block order: equal up to double round-off. */
__global__ static void sum_squares_kernel(double *out, const float *x, size_t n) {
    __shared__ double part[THREADS];
    double s = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        s += (double)x[i] * x[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int w = THREADS / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(out, part[0]);
}
static double sum_squares_cuda(const float *x, size_t n) {
    double *d = (double *)bb_cuda_scratch(15, sizeof(double)), h = 0.0;
    CUDA_CHECK(cudaMemsetAsync(d, 0, sizeof(double), bb_cuda_stream()));
    unsigned blocks = bb_blocks(n, THREADS);
    if (blocks > 1024) blocks = 1024;
    if (blocks == 0) blocks = 1;
    sum_squares_kernel<<<blocks, THREADS, 0, bb_cuda_stream()>>>(d, x, n);
    KERNEL_CHECK();
    bb_cuda_download(&h, d, sizeof h);
    return h;
}

__global__ static void scale_kernel(float *x, float s, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= s;
}
static void scale_cuda(float *x, float s, size_t n) {
    if (!n) return;
    scale_kernel<<<bb_blocks(n, THREADS), THREADS, 0, bb_cuda_stream()>>>(x, s, n);
    KERNEL_CHECK();
}

extern "C" const bb_backend bb_backend_cuda = {
    "cuda",
    matmul_forward_cuda,
    matmul_backward_cuda,
    layernorm_forward_cuda,
    layernorm_backward_cuda,
    rmsnorm_forward_cuda,
    rmsnorm_backward_cuda,
    gelu_forward_cuda,
    gelu_backward_cuda,
    swiglu_forward_cuda,
    swiglu_backward_cuda,
    rope_forward_cuda,
    rope_backward_cuda,
    attention_forward_cuda,
    attention_backward_cuda,
    residual_bias_forward_cuda,
    crossentropy_forward_cuda,
    crossentropy_backward_cuda,
    NULL, /* kd_forward, kd_backward: the staged backend (staged.c) runs the CPU ops */
    NULL,
    encoder_forward_cuda,
    encoder_backward_cuda,
    adamw_update_cuda,
    sum_squares_cuda,
    scale_cuda,
    bb_cuda_packed_forward,
};
