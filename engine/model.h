/* model.h — the transformer: parameter and activation tables (DESIGN.md table 3) and
 * forward / backward / optimizer step. Like llm.c, each category is one contiguous
 * block from the tracked allocator carved by a size table; every pointer is commented
 * with its shape. Both families share one block code path (model.c).
 *
 * Parameter names are also the safetensors tensor names. Absent tensors (a family
 * without biases, say) have size 0 and are not saved. Shapes (L layers stacked):
 *   wte (V,C)  wpe (T,C) [gpt2]  ln1w (L,C)  ln1b (L,C) [gpt2]  qkvw (L,QKV,C)
 *   qkvb (L,QKV) [gpt2]  attprojw (L,C,C)  attprojb (L,C) [gpt2]  ln2w (L,C)
 *   ln2b (L,C) [gpt2]  fcw (L,FF1,C)  fcb (L,FF1) [gpt2]  fcprojw (L,C,F)
 *   fcprojb (L,C) [gpt2]  lnfw (C)  lnfb (C) [gpt2]  lm_head (V,C) [llama; gpt2 ties wte]
 *   subln_attw (L,C), subln_ffnw (L,F) [precisions with SubLN: the RMSNorm gains in front
 *   of the attention and MLP output projections, BitNet b1.58 attn_sub_norm/ffn_sub_norm]
 * with QKV = (NH + 2 NKV) hd and FF1 = F (gpt2) or 2F (llama: [gate | up]).
 *
 * Precision (precisions/precision.h): the four linears of each block (qkvw, attprojw, fcw,
 * fcprojw) are quantized. Their fake-quant weights live in `wq` (BB_MEM_PACKED), refreshed
 * from the FP32 masters after every optimizer step; their inputs are fake-quantized in
 * place before the matmul, so forward, weight gradient and input gradient all see what
 * the quantized kernel computes, and the STE passes gradients to the masters. */
#pragma once
#include "alloc.h"
#include "backend.h"
#include "config.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    BB_P_WTE, BB_P_WPE, BB_P_LN1W, BB_P_LN1B, BB_P_QKVW, BB_P_QKVB, BB_P_ATTPROJW, BB_P_ATTPROJB,
    BB_P_LN2W, BB_P_LN2B, BB_P_FCW, BB_P_FCB, BB_P_FCPROJW, BB_P_FCPROJB, BB_P_LNFW, BB_P_LNFB,
    BB_P_LMHEAD, BB_P_SUBLN_ATTW, BB_P_SUBLN_FFNW, BB_N_PARAMS
};

/* Activation checkpointing: what forward keeps for backward (Korthikanti et al. 2022,
 * "Reducing Activation Recomputation in Large Transformer Models", arXiv:2205.05198).
 *   NONE       every activation of every layer.
 *   SELECTIVE  every activation except the attention probabilities att (B,NH,T,T) per
 *              layer, which backward recomputes from qkv (§4.2; backend.h attention with
 *              att == NULL): the largest activation at long contexts, and cheap to redo.
 *   BLOCK      only the block outputs (and one working slot); backward recomputes each
 *              block's forward before differentiating it.
 * All three give the same loss and bit-identical gradients on the CPU (tests/test_model.c). */
typedef enum { BB_CKPT_NONE, BB_CKPT_SELECTIVE, BB_CKPT_BLOCK, BB_CKPT_COUNT } bb_ckpt_mode;
extern const char *const bb_ckpt_names[BB_CKPT_COUNT];  /* "none", "selective", "block" */
/* The mode named s, or -1. */
int bb_ckpt_parse(const char *s);

typedef struct {
    const char *name;
    int ndim;
    size_t shape[3];
    size_t numel;        /* 0 = absent in this family */
    bool weight_decay;   /* matrices and embeddings decay; biases and norm gains do not */
} bb_tensor_spec;

/* One float pointer per parameter tensor, into one contiguous block. */
typedef union {
    float *t[BB_N_PARAMS];
    struct {
        float *wte, *wpe, *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw,
            *fcprojb, *lnfw, *lnfb, *lm_head, *subln_attw, *subln_ffnw;
    };
} bb_param_ptrs;

typedef struct {
    float *encoded;    /* (B,T,C) */
    float *ln1;        /* (L,B,T,C) */
    float *ln1_mean;   /* (L,B,T) gpt2 */
    float *ln1_rstd;   /* (L,B,T) */
    float *qkv;        /* (L,B,T,QKV) after RoPE for llama */
    float *atty;       /* (L,B,T,C) */
    float *att;        /* (L,B,NH,T,T); NULL when nothing keeps it (ensure_acts: selective
                          recomputation, or a model that never runs backward), and for
                          fp16/bf16, which keep att_h instead */
    float *residual2;  /* (L,B,T,C) */
    float *ln2;        /* (L,B,T,C) */
    float *ln2_mean;   /* (L,B,T) */
    float *ln2_rstd;   /* (L,B,T) */
    float *fch;        /* (L,B,T,FF1) */
    float *fch_act;    /* (L,B,T,F) */
    float *residual3;  /* (L,B,T,C) */
    float *atty_n;     /* (L,B,T,C) SubLN(atty), the attention projection's input [subln] */
    float *atty_rstd;  /* (L,B,T) [subln] */
    float *fch_n;      /* (L,B,T,F) SubLN(fch_act), the MLP projection's input [subln] */
    float *fch_rstd;   /* (L,B,T) [subln] */
    float *lnf;        /* (B,T,C) */
    float *lnf_mean;   /* (B,T) */
    float *lnf_rstd;   /* (B,T) */
    float *logits;     /* (B,T,V) */
    float *probs;      /* (B,T,V); becomes dlogits in backward */
    float *losses;     /* (B,T) */
    /* fp16/bf16 (bb_model_half_acts): the activations of the matmuls kept for backward
     * live here as 16-bit copies — the four quantized-linear inputs and the outputs of the
     * qkv and MLP-in linears (bb_model_round_output: mixed precision keeps a linear's
     * output in 16 bits, as torch.autocast does). ln1, qkv, atty, ln2, fch, fch_act above
     * are then two fp32 working buffers that they take turns in (ln1 = atty = ln2 =
     * fch_act, qkv = fch: model.c layer_forward), each moved to 16 bits when the forward
     * is done with it and back just before the backward reads it. The values are exact
     * in 16 bits (the forward rounded them), so training is bit-identical to FP32 storage
     * at half the bytes for these tensors. A training model borrows the working buffers
     * from the backward's gradient scratch (acts_borrowed), so they cost no activation
     * bytes: the saved tensors are all there is, as with torch.autocast. */
    uint16_t *ln1_h;     /* (L,B,T,C) */
    uint16_t *qkv_h;     /* (L,B,T,QKV) */
    uint16_t *atty_h;    /* (L,B,T,C) */
    uint16_t *ln2_h;     /* (L,B,T,C) */
    uint16_t *fch_h;     /* (L,B,T,FF1) */
    uint16_t *fch_act_h; /* (L,B,T,F) */
    /* fp16/bf16: the attention probabilities, rounded to 16 bits before P V (backend.h
     * bb_att_fmt, bb_model_att_fmt) and kept in 16 bits whenever they are kept at all
     * (fp32_acts too: they are exact there) */
    uint16_t *att_h;     /* (L,B,NH,T,T) */
    /* cfg.half_residual with borrowed working buffers: the block's two residual-stream
     * outputs in 16 bits (exact: the forward rounded them); residual2 and residual3 above
     * are then one fp32 working buffer each, borrowed from the gradient scratch too */
    uint16_t *residual2_h; /* (L,B,T,C) */
    uint16_t *residual3_h; /* (L,B,T,C) */
} bb_acts;

/* Gradient scratch for one layer at a time (backward walks the layers downwards). */
typedef struct {
    float *dresidual;  /* (B,T,C) gradient flowing down the residual stream */
    float *dnorm;      /* (B,T,C) gradient of a norm's output */
    float *dqkv;       /* (B,T,QKV) */
    float *datty;      /* (B,T,C) */
    float *dfch;       /* (B,T,FF1) */
    float *dfch_act;   /* (B,T,F) */
    float *dsub;       /* (B,T,max(C,F)) gradient of a SubLN output [subln] */
} bb_grad_scratch;

typedef struct {
    float lr, beta1, beta2, eps, weight_decay, grad_clip;
} bb_adamw;

typedef struct {
    bb_config cfg;
    const bb_backend *be;
    bb_tensor_spec specs[BB_N_PARAMS];
    size_t n_params;
    float *params_mem, *grads_mem, *m_mem, *v_mem;
    bb_param_ptrs params, grads, m, v;
    float *wq_mem;              /* fake-quant copies of the quantized linears (non-FP32) */
    bb_param_ptrs wq;           /* only qkvw, attprojw, fcw, fcprojw are set */
    float *head_q;              /* (V,C) fake-quant LM head (cfg.quant_head), else NULL: the head is the
                                   FP32 lm_head or, tied, wte */
    float *embed_q;             /* (V,C) fake-quant token embedding (cfg.quant_embed), else NULL; a tied
                                   head quantized too is the same matrix: embed_q == head_q */
    float quant_lambda;         /* BitNet warm-up: forward uses x + lambda (q(x) - x); 1 = full */
    uint8_t *packed_mem;        /* packed compute formats of the quantized linears (precision.h) */
    size_t *packed_off;         /* (4, L) byte offsets: qkvw, attprojw, fcw, fcprojw per layer */
    bool use_kernels;           /* forward through the packed kernels (default); false: sgemm on the
                                   fake-quant values, the reference path */
    bool frozen_quant;          /* packed weights loaded from an export: never requantized */
    bool fp32_acts;             /* keep every activation in fp32 even where bb_model_half_acts (tests:
                                   16-bit storage must not change a bit), but the attention probabilities
                                   (att_h); set before the first forward */
    bb_ckpt_mode ckpt_mode;     /* activation checkpointing (none, selective, block); set before the
                                   first forward */
    bool forward_only;          /* logits only (bb_model_opts): one layer slot of activations, no loss */
    bool logits_in_place;       /* a forward with targets writes the probabilities (which backward turns
                                   into dlogits) over the logits, B*T*V floats less; acts.logits then holds
                                   the probabilities. The training drivers set it (train, bench, the
                                   harness's methods); false keeps both, for callers that read the logits
                                   after such a forward (tests, parity dumps). Distillation keeps both
                                   either way: its backward reads both. */
    bb_mem_category mem_charge; /* BB_MEM_COUNT: every table in its own category; else all of them here */
    bool frozen_base;           /* LoRA (engine/lora.h): the base is frozen and held only packed: packed_mem
                                   has every quantized linear (fp32 included: its packed form is W), params
                                   only the other tensors (BB_MEM_FROZEN); no masters, grads or moments */
    struct bb_lora *lora;       /* the adapters of a frozen base, NULL without */
    int step;                  /* optimizer steps taken */
    /* activations, sized for (B, T) at first forward */
    int B, T;
    bool probs_apart;           /* the carved tables have probs apart from logits (ensure_acts) */
    float *acts_mem, *scratch_mem;
    uint16_t *acts_half_mem;    /* the 16-bit saved activations (bb_acts ln1_h ...) */
    size_t acts_half_cap;       /* in elements */
    bool acts_borrowed;         /* 16-bit storage in training: the forward's two fp32 working buffers are
                                   the backward's gradient scratch (ensure_acts, bb_model_backward) */
    size_t acts_cap, scratch_cap, io_cap;  /* capacities in elements (ensure_acts only grows) */
    bb_acts acts;
    bb_grad_scratch gs;
    float *rope_cos, *rope_sin; /* (max_seq, hd/2) llama */
    int *inputs, *targets;      /* (B,T) copies */
    float mean_loss;            /* of the last forward with targets; NAN if none */
    int n_valid_targets;
    /* knowledge distillation (bb_model_forward_kd): the teacher's logits (B,T,V) the last
     * forward used, NULL for the plain cross-entropy; backward reads them again */
    const float *kd_tlogits;
    float kd_alpha, kd_temp;
} bb_model;

/* How a model is allocated. training: gradients and AdamW moments. forward_only: a model
 * that only ever computes logits (a KD teacher): the activation tables hold one layer
 * (blocks run in place, nothing is kept for a backward) and no probabilities or losses;
 * excludes training. No model that cannot run backward (forward-only, or without
 * gradients and adapters) keeps attention probabilities. mem_charge: BB_MEM_COUNT charges each table to its own category;
 * another category takes all of them (BB_MEM_TEACHER), so the breakdown shows the model
 * on one line. */
typedef struct {
    bool training, forward_only;
    bb_mem_category mem_charge;
} bb_model_opts;

/* Builds the tables and allocates parameters (and, if training, grads and moments).
 * Returns 0 or -1 with a reason (invalid config). */
int bb_model_init(bb_model *m, const bb_config *cfg, const bb_backend *be, bool training, char *err, size_t err_len);
int bb_model_init_opts(bb_model *m, const bb_config *cfg, const bb_backend *be, const bb_model_opts *opts, char *err,
                       size_t err_len);
void bb_model_free(bb_model *m);
/* A frozen base (LoRA): packed quantized linears, to be filled with bb_model_pack_base
 * (or a loader), and FP32 frozen tensors; no gradients. Returns 0 or -1 with a reason. */
int bb_model_init_frozen(bb_model *m, const bb_config *cfg, const bb_backend *be, char *err, size_t err_len);
/* The quantized linears of a block, in the order k of bb_model_linear_forward. */
enum { BB_N_QUANTIZED = 4 };
extern const int bb_quantized_params[BB_N_QUANTIZED];
/* Packs w (OC, C), layer l of quantized linear k, into a frozen base's packed form. */
void bb_model_pack_base(bb_model *m, int k, int l, const float *w);
/* The packed bytes of layer l of quantized linear k. */
uint8_t *bb_model_packed_at(const bb_model *m, int k, int l);
/* GPT-2 initialisation (Radford et al. 2019; llm.c / nanoGPT): N(0, 0.02), residual
 * projections N(0, 0.02/sqrt(2L)), norm gains 1, biases 0. Deterministic from seed. */
void bb_model_init_weights(bb_model *m, uint64_t seed);
void bb_param_specs(const bb_config *cfg, bb_tensor_spec specs[BB_N_PARAMS]);

/* Whether the precision keeps the activations of its matmuls for backward in 16 bits
 * (fp16, bf16: autocast keeps the fp16 copy of a matmul input, and a linear's output is
 * fp16). Their SubLN-free block has six: the inputs ln1, atty, ln2, fch_act of the four
 * linears and the outputs qkv (the attention's matmul input) and fch (the MLP
 * activation's input), all exact in 16 bits. The model uses it where it takes fewer bytes
 * than fp32 (model.c ensure_acts: from 2 kept layers; with block checkpointing, which
 * keeps one, only for odd shapes such as llama with GQA and F near C): the two fp32
 * working buffers the layer computes in cost a little more than one layer's worth of
 * 16-bit storage. */
bool bb_model_half_acts(const bb_config *cfg);
/* The attention probabilities' format (backend.h): BB_ATT_F16 / BB_ATT_BF16 for the mixed
 * precisions (act_quant fp16/bf16: rounded before P V, as a half-precision matmul reads
 * them), BB_ATT_F32 otherwise. */
bb_att_fmt bb_model_att_fmt(const bb_config *cfg);

/* Recomputes wq from the masters (after init, load and every optimizer step). */
void bb_model_requantize(bb_model *m);

/* Forward over tokens (B,T). targets may be NULL (logits only); entries < 0 are ignored
 * by the loss (masked variant). Returns the mean loss over kept targets (NAN without). */
float bb_model_forward(bb_model *m, const int *inputs, const int *targets, int B, int T);
/* The same forward with the knowledge-distillation loss (backend.h kd_forward; Hinton et
 * al. 2015, spec evaluation.md §5.3) instead of the cross-entropy: the mean over kept
 * targets of alpha * CE + (1 - alpha) * temp^2 * KL(softmax(tlogits/temp) ||
 * softmax(logits/temp)); alpha weights the hard CE (torchdistill's convention). tlogits
 * (B,T,V) are the teacher's logits for the same inputs; they must stay unchanged until
 * bb_model_backward. The hook acts on the logits and the loss only. */
float bb_model_forward_kd(bb_model *m, const int *inputs, const int *targets, const float *tlogits, float alpha,
                          float temp, int B, int T);
void bb_model_zero_grad(bb_model *m);
/* Backward of the last forward; grad_scale multiplies the loss gradient (1/accum for
 * gradient accumulation). Accumulates into grads (a frozen base: into the adapters'
 * gradients only). zero_grad, step and grad_norm likewise act on the adapters there. */
void bb_model_backward(bb_model *m, float grad_scale);
/* Global grad-norm clipping (PyTorch clip_grad_norm_: coef = clip / (norm + 1e-6), only
 * when < 1) then one AdamW step at lr. Returns the pre-clip norm. */
float bb_model_step(bb_model *m, const bb_adamw *opt, float lr);
double bb_model_grad_norm(const bb_model *m);

/* Dynamic loss scaling, torch.amp.GradScaler defaults (specs §4): scale 2^16, x0.5 and
 * skip the step on inf/NaN gradients, x2 after growth_interval (2000) clean steps. */
typedef struct {
    bool enabled;
    float scale;
    int growth_interval, tracker;
    long skipped;
} bb_grad_scaler;

bb_grad_scaler bb_grad_scaler_default(bool enabled);
/* The loss-gradient multiplier to pass to bb_model_backward. */
float bb_grad_scaler_factor(const bb_grad_scaler *s);
/* Checks the grads for inf/NaN; on overflow skips the step and backs off (returns 0);
 * else unscales the grads, steps (clip + AdamW) and maybe grows the scale (returns 1).
 * *norm gets the unscaled pre-clip grad norm (NAN when skipped). */
int bb_model_step_scaled(bb_model *m, bb_grad_scaler *s, const bb_adamw *opt, float lr, float *norm);
/* Model FLOPs per token for forward+backward (6N + attention, PaLM appendix B). */
double bb_model_flops_per_token(const bb_config *cfg, int T);
