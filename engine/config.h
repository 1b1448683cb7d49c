/* config.h — model configuration and the named presets (issue #3).
 * Two families share one block code path (model.c); the family only picks the norm,
 * the MLP activation, the positional scheme, biases and head tying (family table in
 * model.c). Shapes: C = n_embd, NH = n_head, NKV = n_kv_head (grouped-query attention,
 * NH % NKV == 0), hd = C / NH, F = ffn_hidden. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "../precisions/precision.h"

typedef enum { BB_FAMILY_GPT2, BB_FAMILY_LLAMA, BB_FAMILY_COUNT } bb_family;

typedef struct {
    bb_family family;
    int n_layer;     /* L */
    int n_embd;      /* C */
    int n_head;      /* NH */
    int n_kv_head;   /* NKV (gpt2: = NH) */
    int vocab_size;  /* V */
    int max_seq;     /* T max (gpt2: rows of wpe; llama: RoPE table length) */
    int ffn_hidden;  /* F: gpt2 4C; llama the SwiGLU width */
    float norm_eps;  /* LayerNorm / RMSNorm epsilon */
    float rope_theta;
    /* Precision of the quantized linears (qkv, attention projection, MLP in and out);
     * embeddings, head, norms and the residual stream stay FP32 (BitNet's choice). */
    bb_precision precision;
    int group;               /* int4 group size */
    bb_act_quant act_quant;  /* activation quantization before quantized linears */
    bool nf4_no_double_quant; /* nf4: fp32 absmax constants (default false: QLoRA's double quantization) */
    /* The LM head as a linear of `precision` too (default false: FP32, as BitNet keeps it):
     * fake-quant weights with STE in training, its input quantized like the other linears'
     * (fp16/bf16: the logits rounded to 16 bits as well), packed in exports. */
    bool quant_head;
    /* The token embedding (wte) looked up from its fake-quant copy at `precision` (default
     * false: FP32); STE to the FP32 table; learned positions (wpe) stay FP32. */
    bool quant_embed;
    /* fp16/bf16: the residual stream in the model's 16-bit format (default false: FP32, as
     * BitNet and torch.autocast keep it). The embedding sum and every residual addition's
     * result are rounded to 16 bits, as Megatron-LM runs without --fp32-residual-connection,
     * and training keeps them for backward in 16 bits; backward passes gradients through
     * unchanged (the identity STE of the other roundings). */
    bool half_residual;
} bb_config;

typedef struct {
    const char *name;
    bb_config config;
    bool trainable_here;  /* false: shape only (memory calculator) */
} bb_preset;

extern const bb_preset bb_presets[];
extern const int bb_n_presets;

const char *bb_family_name(bb_family f);
/* Returns 0, or -1 with a reason. */
int bb_config_from_preset(bb_config *cfg, const char *name, char *err, size_t err_len);
/* Applies "key=value[,key=value...]" overrides (keys: family, n_layer, n_embd, n_head,
 * n_kv_head, vocab_size, max_seq, ffn_hidden, norm_eps, rope_theta, precision, group,
 * act_quant = token|block, nf4_double_quant = on|off, quant_head = on|off, quant_embed = on|off, half_residual = on|off). When family or
 * n_embd changes and ffn_hidden was not given, ffn_hidden follows the family rule. */
int bb_config_override(bb_config *cfg, const char *spec, char *err, size_t err_len);
/* Sets precision and its default activation quantization; -1 for an unknown name. */
int bb_config_set_precision(bb_config *cfg, const char *name, char *err, size_t err_len);
/* Checks divisibility and ranges; returns 0 or -1 with a reason. */
int bb_config_validate(const bb_config *cfg, char *err, size_t err_len);
/* The family's default F: gpt2 4C; llama 256 * ceil(8C/3 / 256) (Llama-2 rule). */
int bb_config_default_ffn(bb_family f, int n_embd);
void bb_config_describe(const bb_config *cfg, char *out, size_t cap);
/* The options of the precision's kernels (precision.h) that the config holds. */
bb_prec_opts bb_config_prec_opts(const bb_config *cfg);
