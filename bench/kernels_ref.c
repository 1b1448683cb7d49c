/* kernels_ref.c — the in-run references of the kernel benchmarks (kernels.h): OpenBLAS
 * sgemm at 2048^3 (the compute ratio base, the same "sgemm peak" as bench
 * train-vs-torch), the STREAM triad a = b + s*c (the memory ratio base) and a copy via
 * memcpy, both over 2^24 floats (64 MiB) per array (McCalpin, STREAM: "Sustainable
 * Memory Bandwidth in High Performance Computers", 1995; bytes counted as STREAM does:
 * 12 per float for triad, 8 for copy, no write-allocate traffic). 64 MiB arrays sit near
 * the training kernels' working sets; where the last-level cache is larger than three of
 * them, the triad measures cache rather than DRAM bandwidth, and so do those kernels.
 * Threads split the arrays statically, like the engine's OpenMP loops. */
#include "../engine/alloc.h"
#include "kernels.h"
#include <cblas.h>
#include <omp.h>
#include <string.h>

typedef struct {
    float *a, *b, *c;
} ref_state;

static void *setup_sgemm(const int64_t *args) {
    ref_state *s = bb_alloc(BB_MEM_WORKSPACE, sizeof *s);
    int64_t n = args[0];
    s->a = bb_alloc(BB_MEM_WORKSPACE, (size_t)(n * n) * sizeof(float));
    s->b = bb_alloc(BB_MEM_WORKSPACE, (size_t)(n * n) * sizeof(float));
    s->c = bb_alloc(BB_MEM_WORKSPACE, (size_t)(n * n) * sizeof(float));
    bb_kernel_fill(s->a, n * n, 1, -1.0f, 1.0f);
    bb_kernel_fill(s->b, n * n, 2, -1.0f, 1.0f);
    return s;
}

static void run_sgemm(void *p, const int64_t *args) {
    ref_state *s = p;
    int n = (int)args[0];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, s->a, n, s->b, n, 0.0f, s->c, n);
}

static double flops_sgemm(const int64_t *args) { return 2.0 * (double)args[0] * (double)args[0] * (double)args[0]; }

static void *setup_stream(const int64_t *args) {
    ref_state *s = bb_alloc(BB_MEM_WORKSPACE, sizeof *s);
    size_t bytes = (size_t)args[0] * sizeof(float);
    s->a = bb_alloc(BB_MEM_WORKSPACE, bytes);
    s->b = bb_alloc(BB_MEM_WORKSPACE, bytes);
    s->c = bb_alloc(BB_MEM_WORKSPACE, bytes);
    bb_kernel_fill(s->b, args[0], 3, 0.0f, 1.0f);
    bb_kernel_fill(s->c, args[0], 4, 0.0f, 1.0f);
    return s;
}

static void run_triad(void *p, const int64_t *args) {
    ref_state *s = p;
    float *restrict a = s->a;
    const float *restrict b = s->b, *restrict c = s->c;
    const float q = 3.0f;
    int64_t n = args[0];
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) a[i] = b[i] + q * c[i];
}

static void run_copy(void *p, const int64_t *args) {
    ref_state *s = p;
    int64_t n = args[0];
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int64_t lo = n * id / nt, hi = n * (id + 1) / nt;
        memcpy(s->a + lo, s->b + lo, (size_t)(hi - lo) * sizeof(float));
    }
}

static double bytes_triad(const int64_t *args) { return 12.0 * (double)args[0]; }
static double bytes_copy(const int64_t *args) { return 8.0 * (double)args[0]; }

static void teardown(void *p) {
    ref_state *s = p;
    bb_free(s->a);
    bb_free(s->b);
    bb_free(s->c);
    bb_free(s);
}

#define STREAM_N (1 << 24)

static const bb_kernel rows[] = {
    {"ref_sgemm", "fp32", BB_KERNEL_COMPUTE, "square", 1, {"n"}, {2048}, setup_sgemm, run_sgemm, teardown,
     flops_sgemm, true, true, NULL},
    {"ref_triad", "fp32", BB_KERNEL_MEMORY, "stream", 1, {"n"}, {STREAM_N}, setup_stream, run_triad, teardown,
     bytes_triad, true, true, NULL},
    {"ref_copy", "fp32", BB_KERNEL_MEMORY, "stream", 1, {"n"}, {STREAM_N}, setup_stream, run_copy, teardown,
     bytes_copy, true, false, NULL},
};

const bb_kernel_table bb_kernels_ref = BB_KERNEL_TABLE("fp32", rows);
