/* model_internal.h — what model.c shares with the other files of the engine that walk
 * the block (kvcache.c): the family table, per-layer views into the stacked tensors,
 * and the norm / activation-quantization helpers. Not for use outside engine/. */
#pragma once
#include "model.h"

typedef struct {
    bool biases;       /* linear biases and LayerNorm shift */
    bool layernorm;    /* LayerNorm (else RMSNorm) */
    bool learned_pos;  /* wpe (else RoPE) */
    bool swiglu;       /* SwiGLU MLP (else GELU) */
    bool tied_head;    /* logits use wte (else lm_head) */
} bb_family_traits_t;

extern const bb_family_traits_t bb_family_traits[BB_FAMILY_COUNT];

/* Per-layer views into the stacked parameter tensors and activations. */
typedef struct {
    const float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb,
        *subln_attw, *subln_ffnw;
} layer_params;

typedef struct {
    float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb,
        *subln_attw, *subln_ffnw;
} layer_grads;

static inline float *bb_at(float *base, size_t stride, int l) { return base ? base + stride * (size_t)l : NULL; }

#define LAYER_VIEW(P, specs, l)                                                                  \
    {bb_at((P).ln1w, specs[BB_P_LN1W].numel / L, l), bb_at((P).ln1b, specs[BB_P_LN1B].numel / L, l),     \
     bb_at((P).qkvw, specs[BB_P_QKVW].numel / L, l), bb_at((P).qkvb, specs[BB_P_QKVB].numel / L, l),     \
     bb_at((P).attprojw, specs[BB_P_ATTPROJW].numel / L, l),                                       \
     bb_at((P).attprojb, specs[BB_P_ATTPROJB].numel / L, l), bb_at((P).ln2w, specs[BB_P_LN2W].numel / L, l), \
     bb_at((P).ln2b, specs[BB_P_LN2B].numel / L, l), bb_at((P).fcw, specs[BB_P_FCW].numel / L, l),       \
     bb_at((P).fcb, specs[BB_P_FCB].numel / L, l), bb_at((P).fcprojw, specs[BB_P_FCPROJW].numel / L, l), \
     bb_at((P).fcprojb, specs[BB_P_FCPROJB].numel / L, l), bb_at((P).subln_attw, specs[BB_P_SUBLN_ATTW].numel / L, l), \
     bb_at((P).subln_ffnw, specs[BB_P_SUBLN_FFNW].numel / L, l)}

/* The weights a linear computes with: the fake-quant copy when the model is quantized. */
#define QW(wqv, pv, name) ((wqv).name ? (wqv).name : (pv).name)

void bb_model_norm_forward(const bb_model *m, float *out, float *mean, float *rstd, const float *x, const float *w,
                           const float *b, int N);
void bb_model_quantize_input(const bb_model *m, float *x, int N, int C);
/* Mixed precision (act_quant fp16/bf16): rounds a linear's output (N*C floats) to the
 * 16-bit format in place, as a half-precision GEMM returns it (torch.autocast: F.linear
 * returns fp16; Micikevicius et al. 2018, "Mixed Precision Training", §3). The block
 * rounds the qkv output (after RoPE) and the MLP's first linear (before the activation);
 * backward passes gradients through unchanged, the same identity STE as the inputs. A
 * no-op for the other precisions. */
void bb_model_round_output(const bb_model *m, float *x, size_t n);
/* cfg.half_residual: rounds residual-stream values (the embedding sum, a residual
 * addition's result) to the model's 16-bit format in place; else a no-op. */
void bb_model_round_residual(const bb_model *m, float *x, size_t n);
/* The LM head: logits (N,V) = x (N,C) W^T with W the FP32 head (lm_head, or wte when
 * tied) or, with cfg.quant_head, its fake-quant copy head_q; then x is quantized in place
 * like a quantized linear's input (backward reads it) and fp16/bf16 round the logits. */
const float *bb_model_head(const bb_model *m);
/* The token embedding table the lookups read: embed_q (cfg.quant_embed) or wte. */
const float *bb_model_embed(const bb_model *m);
void bb_model_head_forward(bb_model *m, float *logits, float *x, int N);
void bb_model_linear_forward(bb_model *m, int k, int l, float *out, float *x, const float *bias, int N, int C, int OC,
                             int accumulate);
