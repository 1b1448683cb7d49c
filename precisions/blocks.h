/* blocks.h — the block structs of the packed weight formats (precision.h, one format per
 * file precisions/<name>.c), shared by the C kernels and future CUDA ones, with their
 * sizes asserted (as ggml-common.h does for Q8_0/Q4_0/TQ1_0/TQ2_0, specs §2.1).
 *
 * Compute formats interleave BB_PANEL = 16 output rows: one block holds, for 16 rows, the
 * few consecutive inputs that one 32-bit lane of vpdpbusd (4 bytes) or vdpbf16ps (2
 * halves) consumes, so a 64-byte block is one zmm operand whose lane r belongs to output
 * row r (oneDNN/ggml "repacked" layouts). A matrix W (OC, C) becomes ceil(OC/16) panels,
 * each the blocks of its 16 rows in input order; rows past OC and inputs past C are
 * zero weights. Scales and sums follow the panels (see each precision's file). */
#pragma once
#include <stdint.h>

/* C11 _Static_assert is static_assert in C++ (the CUDA files include this header). */
#if defined(__cplusplus)
#define BB_STATIC_ASSERT static_assert
#else
#define BB_STATIC_ASSERT _Static_assert
#endif

#define BB_PANEL 16 /* output rows per panel: the 16 int32/fp32 lanes of a zmm */

/* int8: row r, inputs 4k..4k+3 (k-th block of the panel). */
typedef struct {
    int8_t q[BB_PANEL][4];
} bb_block_i8x4;

/* int4 (Q4_0-like nibbles): block j of group g, row r, byte b holds code(c) | code(c + G/2) << 4
 * with c = g*G + 4j + b and code = q + 8 in [0, 15]; a group of G inputs is G/8 blocks. */
typedef struct {
    uint8_t qs[BB_PANEL][4];
} bb_block_i4x8;

/* ternary (TQ2_0/I2_S-like 2 bits): block k, row r, byte b, bits 2s..2s+1 hold the code of
 * input c = 16k + 4s + b, code = q + 1 in {0, 1, 2} (3 is never written). */
typedef struct {
    uint8_t qs[BB_PANEL][4];
} bb_block_t2x16;

/* bfloat16 pairs: row r, inputs 2k, 2k+1 (one vdpbf16ps lane). */
typedef struct {
    uint16_t h[BB_PANEL][2];
} bb_block_bf16x2;

/* IEEE half: row r, input k (one vcvtph2ps lane). */
typedef struct {
    uint16_t h[BB_PANEL];
} bb_block_fp16x1;

/* NF4 (QLoRA 4-bit NormalFloat, precisions/nf4.c): 8 consecutive inputs of 16 rows, row r's
 * 32-bit lane holding the codes of inputs c0 + k (k = 0..7) in nibble k (bits 4k..4k+3; byte
 * k/2, the even input in the low nibble), so vpermps with the lane as index decodes input
 * c0 + k of all 16 rows after a shift by 4k. Eight of them are one NF4 block of 64 inputs
 * (bitsandbytes' default 4-bit blocksize, specs §3.2) of a panel. */
typedef struct {
    uint8_t qs[BB_PANEL][4];
} bb_block_nf4x8;
#define BB_NF4_BLOCK 64
typedef struct {
    bb_block_nf4x8 chunk[BB_NF4_BLOCK / 8];
} bb_block_nf4x64;

/* Ternary storage (export) block, TQ1_0's 256 trits without its fp16 d (the scale is per
 * tensor): qs[m] (m < 32) packs elements m + 32n, qs[32 + m] (m < 16) packs 160 + m + 16n
 * (n = 0..4, first trit most significant), qh[j] packs 240 + j + 4n (n = 0..3, then x3);
 * each byte = ceil(v * 256 / 243) of the base-3 value v so trit n decodes by multiply:
 * ((uint8_t)(byte * 3^n) * 3) >> 8 (ggml-quants.c quantize_row_tq1_0_ref, specs §2.1). */
#define BB_TQ1_BLOCK 256
typedef struct {
    uint8_t qs[48];
    uint8_t qh[4];
} bb_block_tq1;

BB_STATIC_ASSERT(sizeof(bb_block_i8x4) == 64, "one zmm");
BB_STATIC_ASSERT(sizeof(bb_block_i4x8) == 64, "one zmm");
BB_STATIC_ASSERT(sizeof(bb_block_t2x16) == 64, "one zmm");
BB_STATIC_ASSERT(sizeof(bb_block_bf16x2) == 64, "one zmm");
BB_STATIC_ASSERT(sizeof(bb_block_fp16x1) == 32, "one ymm, 16 floats once converted");
BB_STATIC_ASSERT(sizeof(bb_block_nf4x8) == 64, "one zmm");
BB_STATIC_ASSERT(sizeof(bb_block_nf4x64) == BB_PANEL * BB_NF4_BLOCK / 2, "16 rows x 64 codes of 4 bits");
BB_STATIC_ASSERT(sizeof(bb_block_tq1) == 52, "TQ1_0 (54 bytes) less its fp16 scale: 1.625 bits per weight");
