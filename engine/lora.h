/* lora.h — LoRA adapters on a frozen base (Hu et al. 2021, arXiv 2106.09685), with the
 * conventions of Hugging Face PEFT (specs evaluation.md §5.1) and QLoRA's frozen quantized
 * base (§5.2; precisions.md §3.2: "gradients flow only into LoRA").
 *
 * On each targeted quantized linear k of every layer (0 qkv, 1 attention projection,
 * 2 MLP in, 3 MLP out; model.h), with input width in and output width out:
 *   A (r, in)   Kaiming-uniform U(-1/sqrt(in), 1/sqrt(in)) (PEFT init_lora_weights=True:
 *               kaiming_uniform_(a = sqrt(5)), the nn.Linear default), from the seed
 *   B (out, r)  zero, so training starts from the base model exactly
 *   y = base(x) + scaling * B (A dropout(x)),  scaling = alpha / r (rsLoRA: alpha / sqrt(r))
 * The base linear runs at its precision (packed kernel, activations quantized inside the
 * kernel); the adapter is FP32 and reads the unquantized x. Dropout is inverted dropout
 * (kept inputs scaled by 1/(1-p)), active only in training mode (bb_lora_set_training),
 * with a mask drawn from (seed, forward call, layer, linear) by a counter-based hash and
 * kept for backward; eval forwards see dropout as identity (PEFT's module.eval()).
 *
 * The base is frozen (model.h frozen_base): held only in its packed form, no FP32 master
 * of the quantized linears, no gradients or optimizer state for any base tensor. The
 * adapters (BB_MEM_ADAPTERS) get gradients (BB_MEM_ADAPTER_GRADS) and AdamW moments
 * (BB_MEM_ADAPTER_OPTIM). Biases of the base stay frozen (PEFT bias="none").
 *
 * Memory of one step, besides the base's activation table: per adapted linear and kept
 * layer h = A x (N, r) floats and, with dropout, the mask (N, in) bytes (BB_MEM_ACTS); a
 * scratch of N x (max in, with dropout) + N x r floats (BB_MEM_WORKSPACE). */
#pragma once
#include "checkpoint.h"
#include "model.h"
#include <stdbool.h>
#include <stdint.h>

/* Target bits: bit k = quantized linear k. */
enum { BB_LORA_QKV = 1, BB_LORA_ATTPROJ = 2, BB_LORA_FC = 4, BB_LORA_FCPROJ = 8, BB_LORA_ALL = 15 };

typedef struct {
    int r;
    float alpha;
    float dropout;  /* p in [0, 1) */
    bool rslora;    /* scaling alpha / sqrt(r) (Kalajdzievski 2023, PEFT use_rslora) */
    unsigned targets;
} bb_lora_config;

/* PEFT LoraConfig defaults (r 8, alpha 8, dropout 0, no rsLoRA) on qkv: the fused
 * attention input, PEFT's default target for GPT-2 (c_attn). */
bb_lora_config bb_lora_config_default(void);
/* Parses "r=8,alpha=16,dropout=0.05,targets=all-linear,rslora" over the defaults.
 * targets: all-linear | attn (qkv + projection) | mlp (in + out) | qkv | attproj | fc |
 * fcproj, or several joined by '+'. Returns 0 or -1 with one sentence. */
int bb_lora_config_parse(bb_lora_config *c, const char *spec, char *err, size_t err_len);
float bb_lora_scaling(const bb_lora_config *c);
/* "all-linear", "attn", ... or "qkv+fcproj" */
void bb_lora_targets_name(unsigned targets, char *out, size_t cap);

enum { BB_LORA_N_TENSORS = 2 * BB_N_QUANTIZED };

/* t[2k] = A of linear k (L, r, in_k), t[2k+1] = B (L, out_k, r); NULL when k has none. */
typedef struct {
    float *t[BB_LORA_N_TENSORS];
} bb_lora_ptrs;

typedef struct bb_lora {
    bb_lora_config cfg;
    float scaling;
    bb_tensor_spec specs[BB_LORA_N_TENSORS];  /* numel 0 for untargeted linears */
    size_t n_params;
    float *params_mem, *grads_mem, *m_mem, *v_mem;
    bb_lora_ptrs params, grads, m, v;
    bool training;     /* dropout on */
    uint64_t seed;     /* dropout masks */
    uint64_t calls;    /* training forwards so far: the mask of a call (recomputed alike by block checkpointing) */
    /* backward state, carved for (B, T) by bb_lora_ensure_acts; one layer slot with block checkpointing */
    float *acts_mem;
    size_t acts_cap;
    float *h[BB_N_QUANTIZED];  /* (Lk, N, r) */
    uint8_t *mask_mem;
    size_t mask_cap;
    uint8_t *mask[BB_N_QUANTIZED];  /* (Lk, N, in_k), 1 = kept; only with dropout */
    float *scratch;  /* N x max(in) (dropped input, its gradient) then N x r (dh) */
    size_t scratch_cap;
    float *infer_scratch;  /* forwards outside the (B, T) tables (the KV-cache decoder): h and scratch */
    size_t infer_cap;      /* in floats; grows only */
    int N;
} bb_lora;

/* Attaches adapters to a frozen base (bb_model_init_frozen or bb_lora_load_base): A from
 * seed, B = 0, gradients and moments zero. Returns 0 or -1 with a reason. */
int bb_lora_attach(bb_model *m, const bb_lora_config *c, uint64_t seed, char *err, size_t err_len);
void bb_lora_free(bb_lora *lo);
void bb_lora_set_training(bb_model *m, bool on);
size_t bb_lora_in_features(const bb_model *m, int k);
size_t bb_lora_out_features(const bb_model *m, int k);
/* Model FLOPs per token of a LoRA step: base forward and input gradient (4 per weight,
 * no weight gradient), adapters 6 per parameter, attention as bb_model_flops_per_token. */
double bb_lora_flops_per_token(const bb_model *m, int T);

/* The adapter of a single linear, on plain buffers (tested against the f64 reference
 * lora_ref.h): with mask (N, C) or NULL, keep_scale = 1/(1-p):
 *   forward   xd = mask ? x * mask * keep_scale : x (into xd_scratch), h = xd A^T,
 *             out += scaling h B^T
 *   backward  dB += scaling dy^T h, dh = scaling dy B, dA += dh^T xd, dx += (dh A) masked
 *             (dx may be NULL). scratch holds N * C + N * r floats. */
void bb_lora_linear_forward(float *out, float *h, const float *x, const float *A, const float *B, const uint8_t *mask,
                            float keep_scale, float scaling, float *scratch, int N, int C, int OC, int r);
void bb_lora_linear_backward(float *dx, float *dA, float *dB, const float *dy, const float *x, const float *h,
                             const float *A, const float *B, const uint8_t *mask, float keep_scale, float scaling,
                             float *scratch, int N, int C, int OC, int r);

/* Engine hooks (model.c). */
void bb_lora_ensure_acts(bb_model *m, int B, int T);
void bb_lora_begin_forward(bb_lora *lo);
void bb_lora_forward(bb_model *m, int k, int l, float *out, const float *x, int N, int C, int OC);
void bb_lora_backward(bb_model *m, int k, int l, float *dx, const float *dy, const float *x, int N, int C, int OC);
void bb_lora_zero_grad(bb_lora *lo);
double bb_lora_grad_norm(const bb_model *m);
/* Clip + AdamW on the adapters (bb_model_step semantics); returns the pre-clip norm. */
float bb_lora_step(bb_model *m, const bb_adamw *opt, float lr);

/* ---- files and merge (lora_io.c) -----------------------------------------------------
 * Adapter files are safetensors (engine/safetensors.h) with PEFT-like names, F32:
 *   gpt2   base_model.model.transformer.h.<l>.{attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj}
 *   llama  base_model.model.model.layers.<l>.{self_attn.qkv_proj, self_attn.o_proj,
 *          mlp.gate_up_proj, mlp.down_proj}   (fused as in Phi-3: our qkv and [gate | up])
 * each with .lora_A.weight (r, in) and .lora_B.weight (out, r), and metadata:
 *   format       "bitbench-lora/1"
 *   lora_config  PEFT adapter_config-like JSON: peft_type, r, lora_alpha, lora_dropout,
 *                use_rslora, bias "none", fan_in_fan_out false (tensors are (out, in) as
 *                nn.Linear), init_lora_weights, target_modules, scaling
 *   config       the base model config JSON, its precision = the frozen base's
 *   base_sha256  SHA-256 of the base file the adapters were trained on
 *   tokenizer, step, seed, producer as in checkpoints. */
typedef struct {
    char base_sha256[65];
    char tokenizer[65];
    char producer[128];
    uint64_t seed;
} bb_lora_file_info;

/* Loads a frozen base from a checkpoint or a packed export at `precision` (-1: the file's),
 * packing the quantized linears one layer matrix at a time straight from the file (the
 * model never holds an FP32 copy of them). A packed export keeps its exact codes and can
 * serve only at its own precision; another precision must keep the file's SubLN choice
 * (b158 models have SubLN gains, the others not) and takes opts (int4 group, activation
 * mode; NULL: the precision's defaults). sha_hex gets the file's SHA-256. */
int bb_lora_load_base(bb_model *m, const char *path, int precision, const bb_prec_opts *opts, const bb_backend *be,
                      bb_ckpt_info *info, char sha_hex[65], char *err, size_t err_len);
/* A frozen base packed from src's FP32 masters at src's precision (a base from the seed
 * when training has no --base; tests). */
int bb_lora_base_from_model(bb_model *m, const bb_model *src, char *err, size_t err_len);
int bb_lora_save(const bb_model *m, const char *path, const bb_lora_file_info *fi, long step, char *err,
                 size_t err_len);
/* Attaches the adapters of file path to the frozen base m, which must have the file's
 * shapes and precision. */
int bb_lora_load(bb_model *m, const char *path, bb_lora_file_info *fi, char *err, size_t err_len);
/* Folds adapters into the base checkpoint's FP32 weights, W += scaling B A (PEFT merge),
 * and writes an FP32 checkpoint (no optimizer state) whose config has the adapters' base
 * precision. A quantized base is merged in FP32 after dequantization: every quantized
 * linear becomes unpack(pack(W)) (the weights the adapters were trained against) plus the
 * delta, so the merged model equals the unmerged one only in FP32; run at a quantized
 * precision (or exported) it is quantized again, and W' = deq(W) + delta is not on the
 * quantization grid: re-export it and measure it again. The base file must be the one the
 * adapters were trained on (base_sha256). */
int bb_lora_merge(const char *base_path, const char *adapters_path, const char *out_path, const bb_backend *be,
                  char *err, size_t err_len);
