/* tolerances.h — test tolerances, in one table keyed by precision (DESIGN.md: never
 * magic numbers in tests). Errors are max|got - want| / (max|want| + tiny), per tensor.
 * Precisions beyond FP32 add rows here as they land. */
#pragma once

typedef struct {
    const char *precision;
    double op_vs_ref;         /* fast op vs scalar reference, same precision */
    double fd_f64;            /* analytic vs central finite difference, double reference ops */
    double fd_model_f32;      /* whole float model vs finite differences (float round-off bound) */
    double model_vs_ref;      /* whole model, fast backend vs reference backend */
    /* Packed formats and kernels (precisions/, tests/test_precisions.c): */
    double packed_vs_ref;     /* dispatched forward (every ISA) vs forward_ref; 0 = same bits */
    double packed_vs_fake;    /* forward_ref vs sgemm(fake_acts(x), fake_weights(W)): summation order */
    double quant_rms;         /* max relative RMS error of fake_weights on N(0, 1) weights */
    double model_paths;       /* whole quantized model: packed kernels vs sgemm on fake-quant values */
} bb_tolerance;

/* Why the packed rows are what they are: integer kernels sum exactly in int32 and apply
 * the scales with the same float operations on every path; fp16/bf16 paths sum each output
 * in one fixed order whose products are exact in fp32 (precisions/fp16.c, bf16.c). So all
 * match forward_ref bit for bit (0), except vdpbf16ps on denormals, which tests avoid, and
 * the AMX bf16 kernel (precisions/bf16_amx.c), held to packed_vs_fake.
 * quant_rms bounds, with the values measured on 64 x 384 N(0, 1) weights: fp16 2.1e-4
 * (bound 3e-4; half an ulp of 10 stored bits, uniform), bf16 1.65e-3 (2.5e-3), int8
 * per-row absmax 0.0071 (0.012), int4 groups of 32 at amax/7.5 0.095 (0.12), b158 absmean
 * ternary 0.512 (0.56; 1.58 bits cannot do better, BitNet trains through it with QAT).
 * model_paths: the two paths differ only in float summation order inside a layer, but a
 * quantized model re-quantizes every layer's input, and an ulp-level difference that
 * lands on a rounding boundary moves one int8 code by one step (1/127 of the row's range)
 * in the next layer. Measured on the tiny models of test_model: <= 1e-6 without such a
 * flip, 7.6e-3 with one (llama/b158); the tier allows a few flips.
 * nf4 (precisions/nf4.c): every path computes fmaf(x, NF4[code] * absmax', acc) in input
 * order, so packed_vs_ref is 0; quant_rms measured 0.092 (block 64, with or without double
 * quantization; bound 0.11); its activations are not quantized, so the model paths differ
 * by summation order only (measured <= 2.8e-7) and take fp32's 1e-4; packed_vs_fake also
 * bounds backward_input (sgemm on dequantized tiles) against its reference. */
static const bb_tolerance bb_tolerances[] = {
    {"fp32", 2e-5, 1e-6, 2e-2, 1e-4, 1e-5, 1e-5, 0, 1e-4},
    {"fp16", 0, 0, 0, 0, 0, 1e-5, 3e-4, 1e-3},
    {"bf16", 0, 0, 0, 0, 0, 1e-5, 2.5e-3, 1e-3},
    {"int8", 0, 0, 0, 0, 0, 1e-5, 0.012, 2e-2},
    {"int4", 0, 0, 0, 0, 0, 1e-5, 0.12, 2e-2},
    {"b158", 0, 0, 0, 0, 0, 1e-5, 0.56, 2e-2},
    {"nf4", 0, 0, 0, 0, 0, 1e-5, 0.11, 1e-4},
};

static inline const bb_tolerance *bb_tol(const char *precision) {
    for (unsigned i = 0; i < sizeof bb_tolerances / sizeof bb_tolerances[0]; i++)
        if (__builtin_strcmp(bb_tolerances[i].precision, precision) == 0) return &bb_tolerances[i];
    return &bb_tolerances[0];
}

/* CUDA vs the CPU reference (tests/test_cuda_ops.c, test_cuda_train.c), as normalized mean
 * squared error NMSE = sum (got - want)^2 / sum want^2 (ggml test-backend-ops' measure).
 *   op         fp32 ops (norms, attention, losses, optimizer, FP32 cuBLAS): only float
 *              summation order and atomicAdd order differ, ~1e-7 relative per element,
 *              so NMSE ~1e-14; 1e-9 leaves room for long sums and catches any wrong formula.
 *   packed     the packed forward kernels of the precision vs its forward_ref: integer sums
 *              are exact and the float steps are the CPU's (engine/cuda/packed.cu), so 0 is
 *              expected; 1e-12 only allows for a different libm expf/roundf nowhere used.
 *   tensorcore cuBLAS TF32 (fp32 row: 10-bit mantissa inputs, ~5e-4 relative per product)
 *              and GemmEx fp16/bf16 vs forward_ref (same rounded inputs, other sum order).
 *   train_grad one training step of `tiny` on CUDA vs CPU: loss, grad norm and each gradient
 *              (per tensor). The same test with the reference backend in place of CUDA
 *              (summation order only) measured, worst over both families: fp32 4.5e-12,
 *              fp16 1.1e-8, bf16 4.6e-8 (a 16-bit rounding that lands the other way),
 *              int8/int4/b158 5e-12; bounds give 100x or more, and the integer rows
 *              allow activation codes that flip at rounding boundaries (model_paths).
 *   train_update  that step's AdamW update over all weights: Adam's first step is about
 *              lr sign(g), so elements with round-off gradients flip (test_cuda_train.c);
 *              measured the same way: fp32 5.2e-9, fp16 8.5e-6, bf16 1.8e-5, int8 1.5e-6,
 *              int4 1.3e-8, b158 1.5e-7. */
typedef struct {
    const char *precision;
    double op, packed, tensorcore, train_grad, train_update;
} bb_cuda_tolerance;

static const bb_cuda_tolerance bb_cuda_tolerances[] = {
    {"fp32", 1e-9, 1e-12, 1e-5, 1e-9, 1e-6},
    {"fp16", 1e-9, 1e-12, 1e-9, 1e-6, 1e-3},
    {"bf16", 1e-9, 1e-12, 1e-9, 1e-6, 1e-3},
    {"int8", 1e-9, 1e-12, 0, 1e-4, 1e-3},
    {"int4", 1e-9, 1e-12, 0, 1e-4, 1e-3},
    {"b158", 1e-9, 1e-12, 0, 1e-4, 1e-3},
};

static inline const bb_cuda_tolerance *bb_cuda_tol(const char *precision) {
    for (unsigned i = 0; i < sizeof bb_cuda_tolerances / sizeof bb_cuda_tolerances[0]; i++)
        if (__builtin_strcmp(bb_cuda_tolerances[i].precision, precision) == 0) return &bb_cuda_tolerances[i];
    return &bb_cuda_tolerances[0];
}
