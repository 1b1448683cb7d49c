/* packed.cu — forward of the packed precisions on the GPU, reading the CPU's packed blocks
 * (blocks.h) as they are: no dequantized copy of a weight matrix is ever written.
 *
 *   act_quant   one block per (token, activation group): amax by block reduction (fmaxf is
 *               exact, so any order gives the CPU's value), codes by bb_hd_actq_code; the
 *               int8 row is padded with zeros to a multiple of 128 inputs (covers every
 *               format's last block).
 *   int8        one thread per output row o and 4 tokens: a 4-byte word of the row's block
 *               is 4 int8 weights, multiplied with 4 activations by __dp4a; exact int32
 *               sums, then (float)d * (sa * s_o), the CPU's operations, so the same bits.
 *               The word steps are blockmath.h's bb_hd_*_step, tested on the CPU.
 *   int4        the word's low nibbles are inputs gG + 4j..4j+3, the high ones gG + G/2 +
 *               4j..; the codes q + 8 go through __dp4a and 8 * sum(qa) of the group is
 *               subtracted (the CPU's offset trick); per group f = fmaf(d, s_g, f).
 *   b158        four 2-bit steps per word: (w >> 2s) & 0x03030303 are the codes q + 1 of
 *               inputs 16k + 4s..4s+3; sum(qa) is subtracted.
 *   fp16, bf16  activations rounded (bb_hd_round_*), weights read as halves from the
 *               panel blocks, FP32 sums in the CPU reference's input order.
 * Consecutive threads are consecutive rows of a panel, so a warp reads two whole 64-byte
 * blocks per step (coalesced); the activation word is a broadcast. These are correctness-
 * first kernels: no shared-memory tiling or tensor cores yet (bb_cuda_gemm16 below is the
 * cuBLAS tensor-core path for 16-bit weights). */
extern "C" {
#include "../cuda_backend.h"
}
#include "../../precisions/blockmath.h"
#include "check.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#define ROWS_PER_BLOCK 64
#define TOKENS 4 /* tokens per thread: each weight word is reused 4 times from a register */

static int padded_c(int C) { return (C + 127) / 128 * 128; }

/* Quantizes x (N, C) to qa (N, Cp) int8 and sa (N, ngq): group g of a row is inputs
 * [g * len, min(C, (g + 1) * len)). One block per (row, group). */
__global__ static void act_quant_kernel(int8_t *qa, float *sa, const float *x, int C, int Cp, int len, int ngq) {
    int n = blockIdx.x / ngq, g = blockIdx.x % ngq, c0 = g * len, c1 = min(C, c0 + len);
    const float *xn = x + (size_t)n * C;
    float amax = 0.0f;
    for (int c = c0 + threadIdx.x; c < c1; c += blockDim.x) amax = fmaxf(amax, fabsf(xn[c]));
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    __shared__ float part[32];
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = amax;
    __syncthreads();
    amax = 0.0f;
    for (int w = 0; w < (int)blockDim.x / 32; w++) amax = fmaxf(amax, part[w]);
    float inv = bb_hd_actq_inv(amax);
    for (int c = c0 + threadIdx.x; c < c1; c += blockDim.x) qa[(size_t)n * Cp + c] = (int8_t)bb_hd_actq_code(xn[c], inv);
    if (g == ngq - 1)
        for (int c = C + threadIdx.x; c < Cp; c += blockDim.x) qa[(size_t)n * Cp + c] = 0;
    if (threadIdx.x == 0) sa[(size_t)n * ngq + g] = bb_hd_actq_scale(amax);
}

__device__ static inline void store(float *out, int accumulate, float y) { *out = accumulate ? __fadd_rn(*out, y) : y; }

/* The kernels below are bb_hd_i8_out / bb_hd_i4_out / bb_hd_t2_out (blockmath.h, checked
 * bit for bit against forward_ref by tests/test_blockmath.c) with TOKENS tokens per thread,
 * so each weight word is loaded once and used TOKENS times. */
__global__ static void int8_forward_kernel(float *out, const int8_t *qa, const float *sa, const void *pk, int N, int C,
                                           int Cp, int OC, int accumulate) {
    int o = blockIdx.x * blockDim.x + threadIdx.x, K4 = (C + 3) / 4, r = o % BB_PANEL;
    if (o >= OC) return;
    const bb_block_i8x4 *blk = (const bb_block_i8x4 *)pk + (size_t)(o / BB_PANEL) * K4;
    for (int n0 = blockIdx.y * TOKENS; n0 < N; n0 += gridDim.y * TOKENS) { /* grid.y is capped at 65535 */
        int d[TOKENS] = {0};
        for (int k = 0; k < K4; k++)
#pragma unroll
            for (int j = 0; j < TOKENS; j++)
                if (n0 + j < N) d[j] = bb_hd_i8_step(blk + k, r, qa + (size_t)(n0 + j) * Cp + 4 * k, d[j]);
        float s = ((const float *)((const char *)pk + bb_hd_i8_scale_offset(OC, C)))[o];
        for (int j = 0; j < TOKENS && n0 + j < N; j++)
            store(out + (size_t)(n0 + j) * OC + o, accumulate, (float)d[j] * (sa[n0 + j] * s));
    }
}

__global__ static void int4_forward_kernel(float *out, const int8_t *qa, const float *sa, const void *pk, int N, int C,
                                           int Cp, int OC, int G, int block_acts, int accumulate) {
    int o = blockIdx.x * blockDim.x + threadIdx.x, ng = (C + G - 1) / G, nb = G / 8;
    int r = o % BB_PANEL;
    if (o >= OC) return;
    for (int n0 = blockIdx.y * TOKENS; n0 < N; n0 += gridDim.y * TOKENS) {
        float f[TOKENS] = {0.0f};
        for (int g = 0; g < ng; g++) {
            int d[TOKENS] = {0}, gs[TOKENS] = {0};
            const bb_block_i4x8 *gb = (const bb_block_i4x8 *)pk + ((size_t)(o / BB_PANEL) * ng + g) * nb;
            for (int jj = 0; jj < nb; jj++)
#pragma unroll
                for (int j = 0; j < TOKENS; j++) {
                    if (n0 + j >= N) break;
                    const int8_t *a = qa + (size_t)(n0 + j) * Cp + (size_t)g * G + 4 * jj;
                    bb_hd_i4_step(gb + jj, r, a, a + G / 2, &d[j], &gs[j]);
                }
            float s = bb_hd_i4_scale(pk, OC, C, G, o, g);
            for (int j = 0; j < TOKENS && n0 + j < N; j++)
                f[j] = bb_hd_i4_group_fma(d[j], gs[j], block_acts ? sa[(size_t)(n0 + j) * ng + g] : 0.0f, s, block_acts, f[j]);
        }
        for (int j = 0; j < TOKENS && n0 + j < N; j++)
            store(out + (size_t)(n0 + j) * OC + o, accumulate, block_acts ? f[j] : f[j] * sa[n0 + j]);
    }
}

__global__ static void b158_forward_kernel(float *out, const int8_t *qa, const float *sa, const void *pk, int N, int C,
                                           int Cp, int OC, int accumulate) {
    int o = blockIdx.x * blockDim.x + threadIdx.x, KB = (C + 15) / 16, r = o % BB_PANEL;
    if (o >= OC) return;
    const bb_block_t2x16 *blk = (const bb_block_t2x16 *)pk + (size_t)(o / BB_PANEL) * KB;
    for (int n0 = blockIdx.y * TOKENS; n0 < N; n0 += gridDim.y * TOKENS) {
        int d[TOKENS] = {0}, as[TOKENS] = {0};
        for (int kb = 0; kb < KB; kb++)
#pragma unroll
            for (int st = 0; st < 4; st++)
#pragma unroll
                for (int j = 0; j < TOKENS; j++)
                    if (n0 + j < N) bb_hd_t2_step(blk + kb, r, st, qa + (size_t)(n0 + j) * Cp + 16 * kb + 4 * st, &d[j], &as[j]);
        float gamma = bb_hd_t2_gamma(pk, OC, C);
        for (int j = 0; j < TOKENS && n0 + j < N; j++)
            store(out + (size_t)(n0 + j) * OC + o, accumulate, (float)(d[j] - as[j]) * (sa[n0 + j] * gamma));
    }
}

/* fp16 / bf16 from the panel blocks; the sum order of each reference (fp16: input order;
 * bf16: odd input of each pair first, the vdpbf16ps order of bf16.c forward_ref). Products
 * of two 16-bit floats are exact in fp32, so __fmaf_rn equals the reference's mul + add. */
__global__ static void half_forward_kernel(float *out, const float *x, const void *pk, int N, int C, int OC, int bf16,
                                           int accumulate) {
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= OC) return;
    for (int n = blockIdx.y; n < N; n += gridDim.y) {
        const float *xn = x + (size_t)n * C;
        float acc = 0.0f;
        if (bf16) {
            for (int k = 0; k < (C + 1) / 2; k++)
                for (int c = 2 * k + 1; c >= 2 * k; c--)
                    if (c < C) acc = __fmaf_rn(bb_hd_round_bf16(xn[c]), bb_hd_bf16_weight(pk, C, o, c), acc);
                    else acc = __fadd_rn(acc, 0.0f);
        } else {
            for (int c = 0; c < C; c++) acc = __fmaf_rn(bb_hd_round_fp16(xn[c]), bb_hd_f16_weight(pk, C, o, c), acc);
        }
        store(out + (size_t)n * OC + o, accumulate, acc);
    }
}

extern "C" int bb_cuda_has_packed(bb_precision p) {
    return p == BB_PREC_FP16 || p == BB_PREC_BF16 || p == BB_PREC_INT8 || p == BB_PREC_INT4 || p == BB_PREC_B158;
}

extern "C" void bb_cuda_packed_forward(bb_precision p, float *out, const float *x, const void *packed, int N, int C,
                                       int OC, const bb_prec_opts *o, int accumulate) {
    cudaStream_t st = bb_cuda_stream();
    unsigned gy = bb_blocks(N, TOKENS);
    dim3 grid(bb_blocks(OC, ROWS_PER_BLOCK), gy < 65535 ? gy : 65535);
    if (p == BB_PREC_FP16 || p == BB_PREC_BF16) {
        half_forward_kernel<<<dim3(bb_blocks(OC, ROWS_PER_BLOCK), N < 65535 ? N : 65535), ROWS_PER_BLOCK, 0, st>>>(
            out, x, packed, N, C, OC, p == BB_PREC_BF16, accumulate);
        KERNEL_CHECK();
        return;
    }
    if (!bb_cuda_has_packed(p)) {
        fprintf(stderr, "bitbench: bb_cuda_packed_forward: precision %d has no packed kernel\n", (int)p);
        exit(1);
    }
    int Cp = padded_c(C), block_acts = p == BB_PREC_INT4 && o->act == BB_ACTQ_INT8_BLOCK;
    int len = block_acts ? o->group : C, ngq = block_acts ? (C + o->group - 1) / o->group : 1;
    int8_t *qa = (int8_t *)bb_cuda_scratch(0, (size_t)N * Cp);
    float *sa = (float *)bb_cuda_scratch(1, (size_t)N * ngq * sizeof(float));
    act_quant_kernel<<<N * ngq, 128, 0, st>>>(qa, sa, x, C, Cp, len, ngq);
    KERNEL_CHECK();
    if (p == BB_PREC_INT8)
        int8_forward_kernel<<<grid, ROWS_PER_BLOCK, 0, st>>>(out, qa, sa, packed, N, C, Cp, OC, accumulate);
    else if (p == BB_PREC_INT4)
        int4_forward_kernel<<<grid, ROWS_PER_BLOCK, 0, st>>>(out, qa, sa, packed, N, C, Cp, OC, o->group, block_acts,
                                                             accumulate);
    else
        b158_forward_kernel<<<grid, ROWS_PER_BLOCK, 0, st>>>(out, qa, sa, packed, N, C, Cp, OC, accumulate);
    KERNEL_CHECK();
}

/* ---- tensor-core GEMM for 16-bit weights (cublasGemmEx, FP32 accumulation) ------------- */
__global__ static void round16_kernel(uint16_t *dst, const float *x, size_t n, int bf16) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = bf16 ? bb_hd_fp32_to_bf16(x[i]) : bb_hd_fp32_to_fp16(x[i]);
}

extern "C" void bb_cuda_gemm16(bb_precision p, float *out, const float *x, const uint16_t *w, int N, int C, int OC,
                               int accumulate) {
    int bf16 = p == BB_PREC_BF16;
    uint16_t *xh = (uint16_t *)bb_cuda_scratch(2, (size_t)N * C * sizeof(uint16_t));
    round16_kernel<<<bb_blocks((size_t)N * C, 256), 256, 0, bb_cuda_stream()>>>(xh, x, (size_t)N * C, bf16);
    KERNEL_CHECK();
    cudaDataType_t t = bf16 ? CUDA_R_16BF : CUDA_R_16F;
    const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    /* column-major out^T (OC, N) = W^T' (OC, C) x^T (C, N), as matmul_forward_cuda */
    CUBLAS_CHECK(cublasGemmEx(bb_cuda_cublas(), CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, &one, w, t, C, xh, t, C, &beta, out,
                              CUDA_R_32F, OC, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}
