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
    {"set", BB_ARG_STR, &(ma).overrides, "K=V,...", "override config fields (n_layer, n_embd, n_head, ...)", 0, -1}, \
    {"family", BB_ARG_STR, &(ma).family, "NAME", "gpt2 or llama (default: the preset's)", 0, -1},                 \
    {"threads", BB_ARG_INT, &(ma).threads, "N", "threads for OpenMP and OpenBLAS (0: all cores)", 0, 1024}

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
