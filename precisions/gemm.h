/* gemm.h — the loop nest shared by the packed-precision forward kernels (BLIS-style: the
 * framework owns blocking and threads, each precision brings a register-tile micro-kernel
 * per ISA). One call:
 *   1. quantizes/converts the activations once into a scratch (rows of lda bytes, per-token
 *      scales and integer sums), in parallel over tokens;
 *   2. runs micro-tiles of up to mr tokens x nv 16-row weight panels (blocks.h), each over
 *      the whole input dim C, grouped into tiles of (token block x panel range) that threads
 *      take dynamically.
 * Every output element is produced by exactly one micro-tile in a fixed order, so results
 * do not depend on the thread count or schedule (DESIGN.md: deterministic; no atomics).
 * A token block's activations stay in L1 while it sweeps the weights (L2-resident at the
 * training shapes); with few tokens (GEMV) the panels are split across threads instead. */
#pragma once
#include "../engine/cpu/isa.h"
#include "precision.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int elem;   /* bytes per quantized activation in the scratch rows */
    int cpad;   /* rows hold C rounded up to a multiple of cpad (zero padded) */
    int nscale; /* floats per token (scales) */
    int nsum;   /* int32 per token (sums of quantized values) */
} bb_gemm_geom;

typedef struct {
    float *out;
    const float *x;
    const uint8_t *w;  /* packed weights */
    int N, C, OC, P;   /* P = ceil(OC / 16) panels */
    int accumulate;
    const bb_prec_opts *o;
    int Cp;            /* C rounded up to geom.cpad */
    uint8_t *act;      /* round_up(N, mr) rows of lda bytes, 64-byte aligned; the kernel */
    size_t lda;        /* decides the order inside (tiles.h: panels of mr tokens) */
    float *ascale;     /* (N, nscale) */
    int32_t *asum;     /* (N, nsum) */
    int nscale, nsum;
} bb_gemm_call;

typedef struct {
    const char *name;
    int mr, nv;  /* largest micro-tile: tokens x panels */
    bb_gemm_geom (*geometry)(int C, const bb_prec_opts *o);
    void (*act_quant)(const bb_gemm_call *g, int n0, int n1);        /* tokens [n0, n1) */
    void (*tile)(const bb_gemm_call *g, int n0, int mr, int p0, int nv); /* 1 <= mr, nv <= max */
} bb_gemm_kernels;

void bb_gemm_run(const bb_gemm_kernels *k, float *out, const float *x, const void *packed, int N, int C, int OC,
                 const bb_prec_opts *o, int accumulate);

/* The kernels of the active ISA (isa.h) among by_isa[], stepping down to AVX2 when the CPU
 * lacks the AVX-512 extensions need512 (BB_CPU_* bits) and to scalar when it lacks need2. */
const bb_gemm_kernels *bb_gemm_pick(const bb_gemm_kernels *const by_isa[BB_ISA_COUNT], unsigned need512,
                                    unsigned need2);

/* Frees this thread's cached activation scratch (it grows to the largest call). */
void bb_gemm_scratch_release(void);

static inline size_t bb_round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }
static inline int bb_panels(int OC) { return (OC + 15) / 16; }
