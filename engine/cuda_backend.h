/* cuda_backend.h — the CUDA backend as seen from C (engine/cuda/: device.cu, ops.cu, packed.cu, staged.c; engine/cuda_none.c
 * when built without CUDA, where bb_cuda_init always fails).
 *
 * Two op tables fill backend.h:
 *   bb_backend_cuda         every pointer is DEVICE memory (bb_cuda_alloc); kernels are
 *                           queued on one stream, cuBLAS does the matmuls.
 *   bb_backend_cuda_staged  every pointer is HOST memory, as the engine (model.c) holds it
 *                           today: each op uploads its inputs to cached device buffers,
 *                           runs the device op and downloads its outputs. Correct, so a
 *                           model trains and evaluates with CUDA ops, but PCIe-bound: it is
 *                           the correctness path, not the throughput path.
 * Call bb_cuda_init first; every other function assumes it succeeded. Errors of CUDA or
 * cuBLAS calls print the call, file and line and exit (engine/cuda/check.cuh). */
#pragma once
#include "../precisions/precision.h"
#include "alloc.h"
#include "backend.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* 0 when a CUDA device is usable; else -1 and "no CUDA device (reason)" in err. */
int bb_cuda_init(char *err, size_t err_len);

/* Device memory through a tracker parallel to alloc.h (same categories): zeroed. */
void *bb_cuda_alloc(bb_mem_category cat, size_t bytes);
void bb_cuda_free(void *dev);
void bb_cuda_upload(void *dev, const void *host, size_t bytes);
void bb_cuda_download(void *host, const void *dev, size_t bytes);
void bb_cuda_sync(void);
bb_mem_stats bb_cuda_mem_stats(void);
/* Device bytes by category (current and peak) plus cudaMemGetInfo's free/total. */
void bb_cuda_mem_print(FILE *f);

/* cuBLAS math mode of the fp32 matmuls: 0 = exact FP32 (default), 1 = TF32 tensor cores.
 * BITBENCH_TF32=1 in the environment sets 1 at bb_cuda_init. */
void bb_cuda_set_tf32(int on);

/* Packed forward on the device (same contract as bb_precision_traits.forward):
 * out (N, OC) (+)= act_quant(x) @ unpack(packed)^T, packed in the CPU layout (blocks.h),
 * copied as is to the device. int8/int4/b158 kernels decode the blocks in registers
 * (blockmath.h); fp16/bf16 read the panel-interleaved 16-bit weights directly. */
/* Whether bb_cuda_packed_forward has a kernel for p (fp16, bf16, int8, int4, b158; not
 * nf4 yet, whose staged forward runs the CPU kernel). */
int bb_cuda_has_packed(bb_precision p);
void bb_cuda_packed_forward(bb_precision p, float *out, const float *x, const void *packed, int N, int C, int OC,
                            const bb_prec_opts *o, int accumulate);
/* Tensor-core GEMM with FP32 accumulation (cublasGemmEx): out (N, OC) (+)= round16(x) @ W^T,
 * W (OC, C) row-major halves (p = BB_PREC_FP16) or bfloat16 (BB_PREC_BF16). */
void bb_cuda_gemm16(bb_precision p, float *out, const float *x, const uint16_t *w, int N, int C, int OC,
                    int accumulate);

/* INT8 IMMA GEMM through cublasLt (engine/cuda/imma.cu): out (N, OC) int32 = qa (N, C) .
 * qw (OC, C)^T, row-major int8 operands. Returns 0, or -1 where cublasLt has no algorithm
 * for the shape (C or OC not a multiple of 4, or NOT_SUPPORTED): use the __dp4a kernels. */
int bb_cuda_gemm_i8(int32_t *out, const int8_t *qa, const int8_t *qw, int N, int C, int OC);

/* CUDA-event timing of the work queued between start and stop, in milliseconds. */
void bb_cuda_timer_start(void);
double bb_cuda_timer_stop_ms(void);

extern const bb_backend bb_backend_cuda;
extern const bb_backend bb_backend_cuda_staged;
