/* model_args.h — the model and threading options shared by train, bench and friends:
 * --model PRESET, --set key=value[,...], --family gpt2|llama, --threads N. */
#pragma once
#include "../engine/config.h"

typedef struct {
    const char *model;
    const char *overrides;
    const char *family;
    long threads;
} bb_model_args;

#define BB_MODEL_ARGS_DEFAULT {"small", NULL, NULL, 0}
#define BB_MODEL_ARG_ENTRIES(ma)                                                                                   \
    {"model", BB_ARG_STR, &(ma).model, "PRESET", "tiny, small, gpt2-124m, llama-7b, llama-13b, llama-70b", 0, -1}, \
    {"set", BB_ARG_STR, &(ma).overrides, "K=V,...", "override config fields (n_layer, n_embd, n_head, ...; quant_head=on, quant_embed=on: the LM head, the token embedding quantized at --precision too, not FP32; half_residual=on: fp16/bf16 residual stream in 16 bits)", 0, -1}, \
    {"family", BB_ARG_STR, &(ma).family, "NAME", "gpt2 or llama (default: the preset's)", 0, -1},                 \
    {"threads", BB_ARG_INT, &(ma).threads, "N", "threads for OpenMP and OpenBLAS (0: all cores)", 0, 1024}

/* --nf4-double-quant on|off (QLoRA's double quantization of nf4's absmax constants, on by
 * default): the option entry, and its application to a config whose precision is set (a
 * usage error for a bad value or a precision other than nf4; NULL = not given). */
#define BB_NF4_DQ_ARG(var)                                                                                          \
    {"nf4-double-quant", BB_ARG_STR, &(var), "on|off",                                                              \
     "nf4: 8-bit double quantization of the block absmax constants (on: 4.127 bits/weight, QLoRA's default; "       \
     "off: fp32 constants, 4.5)", 0, -1}
void bb_nf4_dq_apply(const char *value, const char *command, bb_config *cfg);

/* Resolves the config (exits with a usage error on a bad preset/override) and applies
 * --threads to OpenMP and OpenBLAS. */
void bb_model_args_resolve(const bb_model_args *ma, const char *command, bb_config *cfg);
void bb_set_threads(long threads);

/* Loads a checkpoint or packed export for inference and the tokenizer (tok_path or the
 * cached default), refusing a tokenizer other than the one the checkpoint was trained
 * with. Exits with one clear sentence on any problem. */
#include "../datasets/bpe.h"
#include "../engine/checkpoint.h"
void bb_open_for_inference(bb_model *m, bb_ckpt_info *info, bb_tokenizer *tok, const char *ckpt, const char *tok_path);
