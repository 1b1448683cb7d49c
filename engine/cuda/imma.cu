/* imma.cu — INT8 GEMM on the integer tensor cores (IMMA) through cublasLt, for the shapes
 * cublasLt accepts (int8 "TN": both operands K-major, C and OC multiples of 4; otherwise
 * it reports CUBLAS_STATUS_NOT_SUPPORTED and the caller keeps the __dp4a kernels of
 * packed.cu). Operands are plain row-major int8 matrices, not the CPU's panel blocks: the
 * exact int32 dot products equal those of the packed int8 kernels for the same codes. */
extern "C" {
#include "../cuda_backend.h"
}
#include "check.cuh"
#include <cublasLt.h>

static cublasLtHandle_t g_lt;

extern "C" int bb_cuda_gemm_i8(int32_t *out, const int8_t *qa, const int8_t *qw, int N, int C, int OC) {
    if (C % 4 || OC % 4) return -1;
    if (!g_lt) CUBLAS_CHECK(cublasLtCreate(&g_lt));
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, c;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32I, CUDA_R_32I));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    /* column-major view, as matmul_forward_cuda: out^T (OC, N) = W^T' (OC, C) qa^T (C, N) */
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&a, CUDA_R_8I, C, OC, C));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&b, CUDA_R_8I, C, N, C));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&c, CUDA_R_32I, OC, N, OC));
    const int32_t alpha = 1, beta = 0;
    size_t ws_bytes = 32u << 20;
    void *ws = bb_cuda_scratch(3, ws_bytes);
    cublasStatus_t st = cublasLtMatmul(g_lt, op, &alpha, qw, a, qa, b, &beta, out, c, out, c, NULL, ws, ws_bytes,
                                       bb_cuda_stream());
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(a));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(b));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(c));
    CUBLAS_CHECK(cublasLtMatmulDescDestroy(op));
    if (st == CUBLAS_STATUS_NOT_SUPPORTED) return -1; /* no IMMA algorithm for this shape */
    CUBLAS_CHECK(st);
    return 0;
}
