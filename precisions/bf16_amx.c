/* bf16_amx.c — the BF16 forward on Intel AMX (tdpbf16ps), for machines whose CPU has it
 * (isa.h BB_CPU_AMX_BF16). Same packed format and numerics contract as bf16.c.
 *
 * Why: on the Sapphire Rapids-class machine of results/baselines the AVX-512 paths top out
 * at sgemm's rate (two 16-wide FMAs a cycle; vdpbf16ps retires one 32-MAC op per two
 * cycles), while one tdpbf16ps does 16 x 16 x 32 multiply-adds.
 *
 * Tiles (Intel SDM vol. 1 ch. 18, "Intel AMX"): C (16 tokens x 16 outputs, fp32) +=
 * A (16 tokens x 32 bf16 inputs) . B (16 input pairs x 16 outputs x 2). B's row k holds,
 * for 16 output rows, the pair of inputs 2k, 2k+1: exactly one bb_block_bf16x2 of the
 * packed format (blocks.h), so a B tile is 16 consecutive blocks of a panel (row stride
 * 64 bytes) and the weights are read in place. A tiles are rows of the activation scratch,
 * bf16 (round to nearest even, as bb_fp32_to_bf16) zero-padded to a multiple of 32 inputs.
 * Micro-tile: 32 tokens x 2 panels = 4 C tiles, 2 A tiles, 2 B tiles (all 8 registers).
 *
 * Numerics: the SDM's pseudo-code for tdpbf16ps is a sequential sum over the input pairs,
 * odd input's product first (forward_ref's order), but the hardware of results/baselines
 * differs from it in the last bit of some outputs (max 1.2e-7 relative measured; it does
 * not round each add the same way). So this is the one bf16 path that is not bit-identical
 * to forward_ref: tests hold it to the summation-order tolerance (tests/tolerances.h
 * packed_vs_fake). Each output is still one tile's, so results do not depend on threads. */
#include "../common/check.h"
#include "blocks.h"
#include "formats.h"
#include "gemm.h"
#include "tiles.h"
#include <immintrin.h>
#include <string.h>

#define AMX_MR 32 /* tokens per micro-tile: two A tiles */
#define AMX_NV 2  /* 16-row weight panels per micro-tile: two B tiles */

/* ldtilecfg's 64-byte operand (palette 1). */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;
_Static_assert(sizeof(amx_config) == 64, "ldtilecfg reads 64 bytes");

static bb_gemm_geom amx_geometry(int C, const bb_prec_opts *o) {
    (void)C, (void)o;
    return (bb_gemm_geom){.elem = 2, .cpad = 32, .nscale = 0, .nsum = 0};
}

/* Rows of bf16 (NaN quieted, as bb_fp32_to_bf16), zero from C to Cp. */
static void amx_act_quant(const bb_gemm_call *g, int n0, int n1) {
    for (int n = n0; n < n1; n++) {
        uint16_t *row = (uint16_t *)(g->act + (size_t)n * g->lda);
        const float *x = g->x + (size_t)n * g->C;
        int c = 0;
        for (; c + 16 <= g->C; c += 16) {
            __m512 v = _mm512_loadu_ps(x + c);
            __m512i u = _mm512_castps_si512(v);
            __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                                             _mm512_and_si512(_mm512_srli_epi32(u, 16),
                                                                              _mm512_set1_epi32(1))));
            r = _mm512_mask_or_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), u, _mm512_set1_epi32(0x400000));
            _mm256_storeu_si256((__m256i *)(row + c), _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
        }
        for (; c < g->C; c++) row[c] = bb_fp32_to_bf16(x[c]);
        for (; c < g->Cp; c++) row[c] = 0;
    }
}

/* Adds (or writes) rows [0, rows) of a 16 x 16 fp32 tile at token n, panel p. */
static void amx_store(const bb_gemm_call *g, const float tile[16][16], int n, int rows, int p) {
    for (int i = 0; i < rows; i++) bb_tile_store16(g, n + i, p, _mm512_loadu_ps(tile[i]));
}

__attribute__((target("amx-tile,amx-bf16"))) static void amx_tile(const bb_gemm_call *g, int n0, int mr, int p0,
                                                                   int nv) {
    amx_config cfg = {.palette = 1};
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
    const int K2 = (g->C + 1) / 2;  /* blocks per panel in the packed weights */
    const int steps = g->Cp / 32;   /* 32 inputs = 16 blocks per tile step */
    const uint8_t *A = g->act + (size_t)n0 * g->lda;
    const uint8_t *B0 = g->w + (size_t)p0 * K2 * 64, *B1 = B0 + (size_t)K2 * 64;
    _Alignas(64) uint8_t tail[2][16 * 64]; /* the last step's blocks, zero-padded to 16 */
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int s = 0; s < steps; s++) {
        const uint8_t *b0 = B0 + (size_t)s * 16 * 64, *b1 = B1 + (size_t)s * 16 * 64;
        int blocks = K2 - 16 * s;
        if (blocks < 16) { /* past the panel's end lie other data or the buffer's end */
            memset(tail, 0, sizeof tail);
            memcpy(tail[0], b0, (size_t)blocks * 64);
            if (nv > 1) memcpy(tail[1], b1, (size_t)blocks * 64);
            b0 = tail[0], b1 = tail[1];
        }
        _tile_loadd(4, A + (size_t)s * 64, (long)g->lda);
        _tile_loadd(6, b0, 64);
        _tile_dpbf16ps(0, 4, 6);
        if (nv > 1) {
            _tile_loadd(7, b1, 64);
            _tile_dpbf16ps(1, 4, 7);
        }
        if (mr > 16) {
            _tile_loadd(5, A + (size_t)16 * g->lda + (size_t)s * 64, (long)g->lda);
            _tile_dpbf16ps(2, 5, 6);
            if (nv > 1) _tile_dpbf16ps(3, 5, 7);
        }
    }
    _Alignas(64) float c[16][16];
    int r0 = mr < 16 ? mr : 16, r1 = mr - r0;
    _tile_stored(0, c, 64);
    amx_store(g, (const float(*)[16])c, n0, r0, p0);
    if (nv > 1) {
        _tile_stored(1, c, 64);
        amx_store(g, (const float(*)[16])c, n0, r0, p0 + 1);
    }
    if (r1 > 0) {
        _tile_stored(2, c, 64);
        amx_store(g, (const float(*)[16])c, n0 + 16, r1, p0);
        if (nv > 1) {
            _tile_stored(3, c, 64);
            amx_store(g, (const float(*)[16])c, n0 + 16, r1, p0 + 1);
        }
    }
    _tile_release(); /* a thread holding tile state makes every context switch save 8 KiB */
}

const bb_gemm_kernels bb_bf16_kernels_amx_table = {
    .name = "amx-bf16", .mr = AMX_MR, .nv = AMX_NV, .geometry = amx_geometry, .act_quant = amx_act_quant,
    .tile = amx_tile,
};
