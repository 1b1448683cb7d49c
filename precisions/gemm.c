/* gemm.c — see gemm.h. */
#include "../common/parallel.h"
#include "gemm.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include <omp.h>

static _Thread_local void *scratch;
static _Thread_local size_t scratch_cap;

static void *scratch_get(size_t bytes) {
    if (bytes > scratch_cap) {
        bb_free(scratch);
        scratch_cap = bytes + bytes / 4;
        scratch = bb_alloc(BB_MEM_WORKSPACE, scratch_cap);
    }
    return scratch;
}

void bb_gemm_scratch_release(void) {
    bb_free(scratch);
    scratch = NULL;
    scratch_cap = 0;
}

const bb_gemm_kernels *bb_gemm_pick(const bb_gemm_kernels *const by_isa[BB_ISA_COUNT], unsigned need512,
                                    unsigned need2) {
    bb_isa isa = bb_isa_active();
    unsigned f = bb_cpu_features();
    if (isa == BB_ISA_AVX512 && (f & need512) != need512) isa = BB_ISA_AVX2;
    if (isa == BB_ISA_AVX2 && (f & need2) != need2) isa = BB_ISA_SCALAR;
    return by_isa[isa];
}

#define ACT_ROWS 16 /* tokens per activation-quantization work item */

void bb_gemm_run(const bb_gemm_kernels *k, float *out, const float *x, const void *packed, int N, int C, int OC,
                 const bb_prec_opts *o, int accumulate) {
    if (N <= 0 || OC <= 0) return;
    BB_CHECK(C > 0);
    bb_gemm_geom geo = k->geometry(C, o);
    bb_gemm_call g = {.out = out, .x = x, .w = packed, .N = N, .C = C, .OC = OC, .P = bb_panels(OC),
                      .accumulate = accumulate, .o = o, .nscale = geo.nscale, .nsum = geo.nsum};
    g.Cp = (int)bb_round_up((size_t)C, (size_t)geo.cpad);
    g.lda = bb_round_up((size_t)g.Cp * geo.elem, 64);
    size_t act_bytes = g.lda * bb_round_up((size_t)N, (size_t)k->mr);
    size_t scale_bytes = bb_round_up((size_t)N * geo.nscale * sizeof(float), 64);
    uint8_t *s = scratch_get(act_bytes + scale_bytes + (size_t)N * geo.nsum * sizeof(int32_t) + 64);
    g.act = s;
    g.ascale = (float *)(s + act_bytes);
    g.asum = (int32_t *)(s + act_bytes + scale_bytes);

    /* Tiles: token blocks of 8 micro-tiles; when they are too few to feed the threads,
     * panel ranges are halved (kept multiples of nv) until there are 8 tiles a thread. */
    int threads = omp_in_parallel() || (long)N * C * OC < BB_PAR_MIN_MACS ? 1 : omp_get_max_threads();
    int tb = k->mr * 8, tiles_n = (N + tb - 1) / tb, pb = g.P;
    while ((long)tiles_n * ((g.P + pb - 1) / pb) < 8L * threads && pb > k->nv)
        pb = (int)bb_round_up((size_t)(pb + 1) / 2, (size_t)k->nv);
    int tiles_p = (g.P + pb - 1) / pb, tiles = tiles_n * tiles_p, act_items = (N + ACT_ROWS - 1) / ACT_ROWS;
#pragma omp parallel if (threads > 1)
    {
#pragma omp for schedule(static)
        for (int i = 0; i < act_items; i++) {
            int n0 = i * ACT_ROWS; /* items start at multiples of 4: rows4 groups stay inside */
            k->act_quant(&g, n0, n0 + ACT_ROWS < N ? n0 + ACT_ROWS : N);
        }
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < tiles; t++) {
            int n_lo = t / tiles_p * tb, n_hi = n_lo + tb < N ? n_lo + tb : N;
            int p_lo = t % tiles_p * pb, p_hi = p_lo + pb < g.P ? p_lo + pb : g.P;
            for (int n = n_lo; n < n_hi; n += k->mr)
                for (int p = p_lo; p < p_hi; p += k->nv)
                    k->tile(&g, n, n_hi - n < k->mr ? n_hi - n : k->mr, p, p_hi - p < k->nv ? p_hi - p : k->nv);
        }
    }
}
