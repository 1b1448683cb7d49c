/* checkpoint.h — model checkpoints in the safetensors format (engine/safetensors.h),
 * readable by the public safetensors library.
 *
 * Tensors: every present parameter under its table name (model.h), F32, its table
 * shape; for a training model also the AdamW moments "optim.m.<name>" and
 * "optim.v.<name>". Metadata (all strings):
 *   format     "bitbench-checkpoint/1"
 *   config     the model config as JSON (family, n_layer, ... rope_theta)
 *   tokenizer  the tokenizer identity (sha256 hex, bpe.h), or "" if none
 *   step       optimizer steps taken (AdamW's t; the schedule and the data loader
 *              resume from it)
 *   seed       the run's seed
 *   train      the training settings as JSON (free form, for the record)
 *   producer   "bitbench <git commit>"
 * Writes are atomic (temp + rename). Loading validates the file (safetensors.c), the
 * config and every tensor's presence, dtype and shape, with one clear sentence on
 * failure. */
#pragma once
#include "model.h"
#include <stdint.h>

typedef struct {
    char tokenizer[65];
    long step;
    uint64_t seed;
    char train_json[2048];
    char producer[128];
} bb_ckpt_info;

int bb_checkpoint_save(const bb_model *m, const char *path, const bb_ckpt_info *info, char *err, size_t err_len);
/* Initialises m from the file's config and tensors. With training, grads and moments are
 * allocated and the moments loaded when present (else zero, step 0). */
int bb_checkpoint_load(bb_model *m, const char *path, const bb_backend *be, bool training, bb_ckpt_info *info,
                       char *err, size_t err_len);
/* The same with the model's allocation options (model.h bb_model_opts: a forward-only KD
 * teacher charged to its own memory category). */
int bb_checkpoint_load_opts(bb_model *m, const char *path, const bb_backend *be, const bb_model_opts *opts,
                            bb_ckpt_info *info, char *err, size_t err_len);

/* Copies F32 tensor `name` of an opened safetensors file (bb_safetensors *) into dst after
 * checking its dtype and shape against s; -1 with one sentence naming path otherwise. */
int bb_checkpoint_read_tensor(const void *st, const char *path, const char *name, const bb_tensor_spec *s, float *dst,
                              char *err, size_t err_len);

void bb_config_to_json(const bb_config *c, char *out, size_t cap);
int bb_config_from_json(bb_config *c, const char *json, size_t len, char *err, size_t err_len);
