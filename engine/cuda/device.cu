/* device.cu — CUDA runtime state of the backend: device check, the one stream and cuBLAS
 * handle, the device-memory tracker (the categories of alloc.h, so memory tables show GPU
 * bytes the same way), scratch buffers, copies and CUDA-event timing. */
extern "C" {
#include "../cuda_backend.h"
}
#include "check.cuh"
#include <pthread.h>
#include <string.h>

static cudaStream_t g_stream;
static cublasHandle_t g_cublas;
static int g_ready;

cudaStream_t bb_cuda_stream(void) { return g_stream; }
cublasHandle_t bb_cuda_cublas(void) { return g_cublas; }

extern "C" int bb_cuda_init(char *err, size_t err_len) {
    if (g_ready) return 0;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count); /* not CUDA_CHECK: no device is a user-facing case */
    if (e != cudaSuccess || count == 0) {
        snprintf(err, err_len, "no CUDA device (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "device count is 0");
        (void)cudaGetLastError(); /* clear the sticky-free error state */
        return -1;
    }
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&g_cublas));
    CUBLAS_CHECK(cublasSetStream(g_cublas, g_stream));
    /* BITBENCH_TF32=1: FP32 matmuls on TF32 tensor cores (the usual 'fp32' GPU baseline);
     * default exact FP32, which the tests compare at fp32 tolerances. */
    const char *tf32 = getenv("BITBENCH_TF32");
    CUBLAS_CHECK(cublasSetMathMode(g_cublas, tf32 && strcmp(tf32, "1") == 0 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                             : CUBLAS_DEFAULT_MATH));
    g_ready = 1;
    return 0;
}

extern "C" void bb_cuda_set_tf32(int on) {
    CUBLAS_CHECK(cublasSetMathMode(g_cublas, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

/* ---- tracked device memory ----------------------------------------------------------- */
typedef struct {
    void *ptr;
    size_t bytes;
    bb_mem_category cat;
} dev_record;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static dev_record *g_recs;
static size_t g_nrecs, g_caprecs;
static bb_mem_stats g_stats;

extern "C" void *bb_cuda_alloc(bb_mem_category cat, size_t bytes) {
    void *p = NULL;
    CUDA_CHECK(cudaMalloc(&p, bytes ? bytes : 1));
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes ? bytes : 1, g_stream));
    pthread_mutex_lock(&g_lock);
    if (g_nrecs == g_caprecs) {
        g_caprecs = g_caprecs ? 2 * g_caprecs : 256;
        g_recs = (dev_record *)realloc(g_recs, g_caprecs * sizeof *g_recs);
        if (!g_recs) { fprintf(stderr, "bitbench: out of host memory\n"); exit(1); }
    }
    g_recs[g_nrecs++] = dev_record{p, bytes, cat};
    g_stats.current[cat] += bytes;
    g_stats.current_total += bytes;
    if (g_stats.current[cat] > g_stats.peak[cat]) g_stats.peak[cat] = g_stats.current[cat];
    if (g_stats.current_total > g_stats.peak_total) g_stats.peak_total = g_stats.current_total;
    g_stats.n_allocs++;
    pthread_mutex_unlock(&g_lock);
    return p;
}

extern "C" void bb_cuda_free(void *p) {
    if (!p) return;
    pthread_mutex_lock(&g_lock);
    for (size_t i = g_nrecs; i-- > 0;)
        if (g_recs[i].ptr == p) {
            g_stats.current[g_recs[i].cat] -= g_recs[i].bytes;
            g_stats.current_total -= g_recs[i].bytes;
            g_recs[i] = g_recs[--g_nrecs];
            break;
        }
    pthread_mutex_unlock(&g_lock);
    CUDA_CHECK(cudaStreamSynchronize(g_stream));
    CUDA_CHECK(cudaFree(p));
}

extern "C" bb_mem_stats bb_cuda_mem_stats(void) {
    pthread_mutex_lock(&g_lock);
    bb_mem_stats s = g_stats;
    pthread_mutex_unlock(&g_lock);
    return s;
}

extern "C" void bb_cuda_mem_print(FILE *f) {
    bb_mem_stats s = bb_cuda_mem_stats();
    fprintf(f, "GPU memory (tracked, MiB)  current      peak\n");
    for (int c = 0; c < BB_MEM_COUNT; c++)
        if (s.peak[c])
            fprintf(f, "  %-22s %9.1f %9.1f\n", bb_mem_category_name((bb_mem_category)c), s.current[c] / 1048576.0,
                    s.peak[c] / 1048576.0);
    fprintf(f, "  %-22s %9.1f %9.1f\n", "total", s.current_total / 1048576.0, s.peak_total / 1048576.0);
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    fprintf(f, "  cudaMemGetInfo: %.1f MiB used of %.1f MiB (all processes and the CUDA context)\n",
            (total_b - free_b) / 1048576.0, total_b / 1048576.0);
}

/* ---- scratch buffers ------------------------------------------------------------------ */
#define BB_SCRATCH_SLOTS 16
static void *g_scratch[BB_SCRATCH_SLOTS];
static size_t g_scratch_size[BB_SCRATCH_SLOTS];

void *bb_cuda_scratch(int slot, size_t bytes) {
    if (slot < 0 || slot >= BB_SCRATCH_SLOTS) { fprintf(stderr, "bitbench: bad scratch slot %d\n", slot); exit(1); }
    if (g_scratch_size[slot] < bytes) {
        bb_cuda_free(g_scratch[slot]);
        g_scratch[slot] = bb_cuda_alloc(BB_MEM_WORKSPACE, bytes);
        g_scratch_size[slot] = bytes;
    }
    return g_scratch[slot];
}

/* ---- copies and timing ------------------------------------------------------------------ */
extern "C" void bb_cuda_upload(void *dev, const void *host, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, g_stream));
    CUDA_CHECK(cudaStreamSynchronize(g_stream)); /* the host buffer may change right after */
}
extern "C" void bb_cuda_download(void *host, const void *dev, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, g_stream));
    CUDA_CHECK(cudaStreamSynchronize(g_stream));
}
extern "C" void bb_cuda_sync(void) { CUDA_CHECK(cudaStreamSynchronize(g_stream)); }

static cudaEvent_t g_ev0, g_ev1;
extern "C" void bb_cuda_timer_start(void) {
    if (!g_ev0) {
        CUDA_CHECK(cudaEventCreate(&g_ev0));
        CUDA_CHECK(cudaEventCreate(&g_ev1));
    }
    CUDA_CHECK(cudaEventRecord(g_ev0, g_stream));
}
extern "C" double bb_cuda_timer_stop_ms(void) {
    float ms = 0.0f;
    CUDA_CHECK(cudaEventRecord(g_ev1, g_stream));
    CUDA_CHECK(cudaEventSynchronize(g_ev1));
    CUDA_CHECK(cudaEventElapsedTime(&ms, g_ev0, g_ev1));
    return ms;
}
