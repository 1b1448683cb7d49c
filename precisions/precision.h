/* precision.h — the precision traits table (DESIGN.md table 1): one entry per precision,
 * indexed by bb_precision. Adding a precision = one new file in precisions/ plus one
 * entry here; engine/ does not change.
 *
 * Numerics (specs/precisions.md). Every quantized linear y = x W^T computes, exactly up
 * to float summation order, fake_act(x) @ fake_weights(W)^T, where:
 *   fp32  identity.
 *   fp16  W and x rounded to IEEE half (round to nearest even), FP32 accumulation.
 *   bf16  W and x rounded to bfloat16 (round to nearest even), FP32 accumulation.
 *   int8  W: per output channel absmax, s_o = max|W_o| / 127, q = clamp(round(W/s_o), -127, 127).
 *         x: per token absmax (BitNet Tips act_quant), s_n = max(max|x_n|, 1e-5) / 127,
 *            q = clamp(round(x/s_n), -128, 127).            (W8A8, specs §1.3, LLM.int8 vector-wise)
 *   int4  W: groups of G (32 default; 64/128) along the input dim, symmetric,
 *            s = max(amax_g / 7.5, 1e-9), q = clamp(round(W/s), -8, 7)   (torchao 8da4w, specs §3.3)
 *         x: int8 per token as int8 (or per block of G with --int4-act block).
 *   b158  W: per tensor absmean, g = max(mean|W|, 1e-5), q = clamp(round(W/g), -1, 1)
 *         x: int8 per token as int8. An RMSNorm (SubLN) precedes every quantized linear
 *            input (BitNet b1.58, specs §1.3-1.4).
 * round() is round-half-away-from-zero (C roundf), as torch.round is not: torch rounds
 * half to even. The difference only matters on exact .5 ties, which absmax scaling makes
 * rare; the reference tests state it.
 *
 * Training (QAT) uses the straight-through estimator: the forward uses the fake-quant
 * values, the backward passes gradients to the FP32 master weights and to the input
 * unchanged (identity STE, the `w + (q(w) - w).detach()` of the BitNet code). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    BB_PREC_FP32, BB_PREC_FP16, BB_PREC_BF16, BB_PREC_INT8, BB_PREC_INT4, BB_PREC_B158, BB_PREC_COUNT
} bb_precision;

typedef enum { BB_ACTQ_NONE, BB_ACTQ_FP16, BB_ACTQ_BF16, BB_ACTQ_INT8_TOKEN, BB_ACTQ_INT8_BLOCK } bb_act_quant;

typedef struct {
    int group;                /* int4 group size along the input dim: 32, 64 or 128 */
    bb_act_quant act;         /* how activations are quantized before the matmul */
} bb_prec_opts;

typedef struct {
    bb_precision id;
    const char *name;
    const char *weights;      /* human description of the weight format */
    const char *activations;  /* and of the activation format */
    bb_act_quant default_act;
    bool subln;               /* RMSNorm in front of every quantized linear input */
    bool loss_scaling;        /* dynamic loss scaling (GradScaler) */
    double nominal_bits;      /* bits per weight of the compute format, scales included (approx.) */
    /* Fake quantization, scalar references (precisions/fakequant.c). wq may equal w. */
    void (*fake_weights)(float *wq, const float *w, int OC, int C, const bb_prec_opts *o);
} bb_precision_traits;

extern const bb_precision_traits bb_precisions[BB_PREC_COUNT];

const bb_precision_traits *bb_precision_get(bb_precision p);
/* Returns -1 for an unknown name. */
int bb_precision_parse(const char *name);
bb_prec_opts bb_prec_default_opts(bb_precision p);

/* The vectorized twin of fake_weights (fakequant_fast.c), bit-exact with it; used for
 * the per-step requantization. */
void bb_fake_weights_fast(bb_precision p, float *wq, const float *w, int OC, int C, const bb_prec_opts *o);

/* Activation fake quantization of rows x (N, C) in place (all precisions). */
void bb_fake_acts(float *x, int N, int C, bb_act_quant mode, int block);

/* Scalar helpers shared with the kernels and tests. */
uint16_t bb_fp32_to_fp16(float f);
float bb_fp16_to_fp32(uint16_t h);
uint16_t bb_fp32_to_bf16(float f);
float bb_bf16_to_fp32(uint16_t h);
/* Per-token int8 quantization: q (C) and the scale s (x ~= q * s); returns s. */
float bb_quant_row_int8(int8_t *q, const float *x, int C);
