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
 *   nf4   W: QLoRA NormalFloat4 (specs §3.2): blocks of 64 inputs of a row, a = max|W_block|,
 *            code = the nearest of the 16 NF4 values to W/a (bucketized against their 15
 *            midpoints), value = NF4[code] * a', where a' = a, or with double quantization
 *            (the default) a' = dynamic8[q] * a2 + mean(a), the absmax constants themselves
 *            8-bit quantized in blocks of 256 (precisions/nf4.c).
 *         x: FP32, not quantized (QLoRA's compute dtype). A base-only format: frozen bases
 *            under LoRA; full training at nf4 is refused (base_only).
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
    BB_PREC_FP32, BB_PREC_FP16, BB_PREC_BF16, BB_PREC_INT8, BB_PREC_INT4, BB_PREC_B158, BB_PREC_NF4, BB_PREC_COUNT
} bb_precision;

typedef enum { BB_ACTQ_NONE, BB_ACTQ_FP16, BB_ACTQ_BF16, BB_ACTQ_INT8_TOKEN, BB_ACTQ_INT8_BLOCK } bb_act_quant;

typedef struct {
    int group;                /* int4 group size along the input dim: 32, 64 or 128 */
    bb_act_quant act;         /* how activations are quantized before the matmul */
    /* nf4: keep the block absmax constants in fp32 (4.5 bits/weight) instead of QLoRA's
     * double quantization (4.127). Negative so that zero-initialized options, e.g.
     * {.group = ..., .act = ...}, get QLoRA's default (bnb_4bit_use_double_quant). */
    bool nf4_no_double_quant;
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

    /* Packed compute format of a weight matrix W (OC, C), row-major, y = x W^T; the
     * layout of each format is documented in precisions/<name>.c and blocks.h.
     * Contract: unpack(pack(W)) == fake_weights(W) bit for bit (the one exception: a -0.0
     * of fake_weights, e.g. roundf(-0.2) * s, unpacks as +0.0, since integer codes have one
     * zero), and pack writes the same bytes as pack_ref (it is only parallel). Buffers are
     * 64-byte aligned (bb_alloc). */
    size_t (*packed_size)(int OC, int C, const bb_prec_opts *o);
    void (*pack_ref)(void *packed, const float *w, int OC, int C, const bb_prec_opts *o);
    void (*pack)(void *packed, const float *w, int OC, int C, const bb_prec_opts *o);
    void (*unpack)(float *w, const void *packed, int OC, int C, const bb_prec_opts *o);
    /* out (N, OC) = (or += when accumulate) act_quant(x) (N, C) @ unpack(packed)^T with
     * activations quantized per o->act (int8 per token, or per block of o->group for
     * int4; fp16/bf16 rounding). forward picks the SIMD path of engine/cpu/isa.h
     * (BITBENCH_ISA=scalar selects the scalar one); forward_ref is the scalar reference.
     * Both equal fake_acts(x) @ fake_weights(W)^T up to float summation order (in fact
     * every path of a precision gives the same bits: tests/tolerances.h). out must not
     * overlap x or packed. */
    void (*forward)(float *out, const float *x, const void *packed, int N, int C, int OC, const bb_prec_opts *o,
                    int accumulate);
    void (*forward_ref)(float *out, const float *x, const void *packed, int N, int C, int OC,
                        const bb_prec_opts *o, int accumulate);
    /* Storage/export format (b158 only, else NULL): 1.6-bit TQ1_0-like trits (b158.c).
     * storage_unpack(storage_pack(W)) == fake_weights(W) bit for bit. */
    size_t (*storage_size)(int OC, int C);
    void (*storage_pack)(void *dst, const float *w, int OC, int C);
    void (*storage_unpack)(float *w, const void *src, int OC, int C);
    /* The compute format straight from the storage bytes (codes and scale kept exactly). */
    void (*storage_to_packed)(void *packed, const void *src, int OC, int C);
    /* dx (N, C) (+)= dy (N, OC) @ unpack(packed) (OC, C), reading packed a panel of rows at a time (never the whole matrix dequantized): the input gradient through a frozen base (STE through the activation quantizer). */
    void (*backward_input)(float *dx, const float *dy, const void *packed, int N, int C, int OC, const bb_prec_opts *o, int accumulate);
    void (*backward_input_ref)(float *dx, const float *dy, const void *packed, int N, int C, int OC, const bb_prec_opts *o, int accumulate);
    /* A format only for frozen bases (nf4): full training at it is refused; it is used
     * under LoRA, for export and for inference. */
    bool base_only;
} bb_precision_traits;

extern const bb_precision_traits bb_precisions[BB_PREC_COUNT];

const bb_precision_traits *bb_precision_get(bb_precision p);
/* Returns -1 for an unknown name. */
int bb_precision_parse(const char *name);
bb_prec_opts bb_prec_default_opts(bb_precision p);
/* Checks o against what precision p's kernels support (int4 group 32/64/128 and
 * act token/block; one activation mode per other precision). Returns NULL when valid,
 * else a sentence saying what is wrong. */
const char *bb_prec_opts_error(bb_precision p, const bb_prec_opts *o);

/* The vectorized twin of fake_weights (fakequant_fast.c), bit-exact with it; used for
 * the per-step requantization. */
void bb_fake_weights_fast(bb_precision p, float *wq, const float *w, int OC, int C, const bb_prec_opts *o);

/* sum |x[i]| in double, in 8 lanes added in a fixed order: b158's absmean scale. One order
 * for the reference quantizer (fakequant.c), the packers (b158.c) and the vectorized
 * copies (eltwise.c abssum), so all of them give the same bits; 8 independent lanes
 * vectorize, where one running double sum waited 4 cycles an element and took 1.3 % of a
 * b158 small training step (perf, requantize after every step). */
static inline double bb_abssum_lanes8(const float *x, size_t n) {
    double lane[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) lane[j] += (double)__builtin_fabsf(x[i + (size_t)j]);
    for (int j = 0; i < n; i++, j++) lane[j] += (double)__builtin_fabsf(x[i]);
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/* Activation fake quantization of rows x (N, C) in place (all precisions). */
void bb_fake_acts(float *x, int N, int C, bb_act_quant mode, int block);

/* Scalar helpers shared with the kernels and tests. */
uint16_t bb_fp32_to_fp16(float f);
float bb_fp16_to_fp32(uint16_t h);
uint16_t bb_fp32_to_bf16(float f);
float bb_bf16_to_fp32(uint16_t h);
/* Per-token int8 quantization: q (C) and the scale s (x ~= q * s); returns s. */
float bb_quant_row_int8(int8_t *q, const float *x, int C);
