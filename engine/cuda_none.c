/* cuda_none.c — the CUDA entry points for builds without CUDA (-Dcuda=disabled or no nvcc):
 * bb_cuda_info_get reports it and bb_cuda_init fails with "no CUDA device", so callers take
 * the same path as on a machine without a GPU. The other functions are never reached
 * (every caller checks bb_cuda_init first); they abort loudly if one is. */
#include "cuda_backend.h"
#include "cuda_info.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bb_cuda_info_get(bb_cuda_info *info) {
    memset(info, 0, sizeof *info);
    snprintf(info->status, sizeof info->status, "no CUDA device (built without CUDA)");
}

int bb_cuda_init(char *err, size_t err_len) {
    snprintf(err, err_len, "no CUDA device (built without CUDA)");
    return -1;
}

static void unreachable(const char *fn) {
    fprintf(stderr, "bitbench: %s called in a build without CUDA\n", fn);
    abort();
}
void *bb_cuda_alloc(bb_mem_category cat, size_t bytes) { (void)cat; (void)bytes; unreachable(__func__); return NULL; }
void bb_cuda_free(void *dev) { if (dev) unreachable(__func__); }
void bb_cuda_upload(void *dev, const void *host, size_t bytes) { (void)dev; (void)host; (void)bytes; unreachable(__func__); }
void bb_cuda_download(void *host, const void *dev, size_t bytes) { (void)dev; (void)host; (void)bytes; unreachable(__func__); }
void bb_cuda_sync(void) {}
bb_mem_stats bb_cuda_mem_stats(void) { bb_mem_stats s; memset(&s, 0, sizeof s); return s; }
void bb_cuda_mem_print(FILE *f) { fprintf(f, "GPU memory: no CUDA device (built without CUDA)\n"); }
void bb_cuda_set_tf32(int on) { (void)on; }
int bb_cuda_has_packed(bb_precision p) { (void)p; return 0; }
void bb_cuda_packed_forward(bb_precision p, float *out, const float *x, const void *packed, int N, int C, int OC,
                            const bb_prec_opts *o, int accumulate) {
    (void)p; (void)out; (void)x; (void)packed; (void)N; (void)C; (void)OC; (void)o; (void)accumulate;
    unreachable(__func__);
}
void bb_cuda_gemm16(bb_precision p, float *out, const float *x, const uint16_t *w, int N, int C, int OC, int accumulate) {
    (void)p; (void)out; (void)x; (void)w; (void)N; (void)C; (void)OC; (void)accumulate;
    unreachable(__func__);
}
int bb_cuda_gemm_i8(int32_t *out, const int8_t *qa, const int8_t *qw, int N, int C, int OC) {
    (void)out; (void)qa; (void)qw; (void)N; (void)C; (void)OC;
    unreachable(__func__);
    return -1;
}
void bb_cuda_timer_start(void) {}
double bb_cuda_timer_stop_ms(void) { return 0.0; }
/* Empty tables: never used, since bb_cuda_init fails. */
const bb_backend bb_backend_cuda = {.name = "cuda (not built)"};
const bb_backend bb_backend_cuda_staged = {.name = "cuda-staged (not built)"};
