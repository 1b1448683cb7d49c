/* check.cuh — CUDA_CHECK / CUBLAS_CHECK wrap every runtime and cuBLAS call: on failure they
 * print the call, the error string, file and line, and exit(1) (a device fault is not a
 * user error we can recover from). KERNEL_CHECK follows every launch. */
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CUDA_CHECK(call)                                                                              \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess) {                                                                      \
            fprintf(stderr, "bitbench: CUDA error %s (%s) in %s at %s:%d\n", cudaGetErrorName(e_),   \
                    cudaGetErrorString(e_), #call, __FILE__, __LINE__);                               \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

#define CUBLAS_CHECK(call)                                                                            \
    do {                                                                                              \
        cublasStatus_t s_ = (call);                                                                   \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                            \
            fprintf(stderr, "bitbench: cuBLAS error %s (%d) in %s at %s:%d\n", cublasGetStatusName(s_), \
                    (int)s_, #call, __FILE__, __LINE__);                                              \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

#define KERNEL_CHECK() CUDA_CHECK(cudaGetLastError())

/* The one stream and cuBLAS handle of the backend (device.cu). */
cudaStream_t bb_cuda_stream(void);
cublasHandle_t bb_cuda_cublas(void);
/* A device scratch buffer of at least bytes, one per slot, grown on demand (never shrunk);
 * slots let one op hold several at once. */
void *bb_cuda_scratch(int slot, size_t bytes);

static inline unsigned bb_blocks(size_t n, unsigned threads) { return (unsigned)((n + threads - 1) / threads); }
