/* methods.h — the training methods the harness compares (issue #8), as a table from a name
 * to how a run of it is set up, stepped, freed and predicted by the memory calculator.
 * bench throughput, bench memory and bench quality only call through this table, so adding
 * a method is one row here.
 *
 * A row whose engine support is not in this build has `missing` set (what is lacking) and
 * NULL functions: the drivers print "<name>: not available in this build (<missing>)" once
 * and measure the other methods. LoRA and KD are such rows until their engine support
 * (issue #7) is merged; to fill one in, write its init/step/free (and predict, once the
 * calculator knows it) and clear `missing`. */
#pragma once
#include "../engine/model.h"
#include "memcalc.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const bb_config *cfg;   /* the preset with the precision set */
    const bb_backend *be;   /* the device's backend (bench/sweep.h; cpu for quality) */
    const char *base_ckpt;  /* FP32 checkpoint of the same preset: LoRA base, KD teacher (needs_base) */
    uint64_t seed;
    bb_ckpt_mode ckpt_mode; /* activation checkpointing of the trained model (model.h) */
    bb_adamw opt;
    bb_precision base_precision;  /* the precision base_ckpt was trained at (fp32 unless bench quality
                                     hands a SubLN precision's own full model to lora) */
} bb_method_setup;

typedef struct {
    bb_model model;         /* the model trained and evaluated (the student; with adapters for LoRA) */
    bb_grad_scaler scaler;  /* dynamic loss scaling where the precision needs it (fp16) */
    bb_adamw opt;
    void *priv;             /* the method's own state: teacher, adapters, ... */
} bb_method_run;

typedef struct {
    const char *name;
    const char *summary;
    bool needs_base;        /* wants base_ckpt: the drivers make one (random FP32 for speed and memory,
                               the trained FP32 full model for quality) */
    bool frozen_base;       /* trains over a frozen base: base-only precisions (nf4) pair with it */
    const char *missing;    /* NULL: available in this build */
    /* Builds the run; returns 0 or -1 with a reason. */
    int (*init)(bb_method_run *r, const bb_method_setup *s, char *err, size_t err_len);
    /* One optimizer step on inputs/targets (B, T) at lr; returns the mean training loss. */
    float (*step)(bb_method_run *r, const int *inputs, const int *targets, int B, int T, float lr);
    void (*free)(bb_method_run *r);
    /* The memory calculator's prediction (NULL: the calculator does not know the method). */
    void (*predict)(const bb_config *c, int B, int T, bb_ckpt_mode ckpt, bb_memcalc *out);
} bb_method;

extern const bb_method bb_methods[];
extern const int bb_n_methods;
/* The row named name, or NULL. */
const bb_method *bb_method_find(const char *name);
/* The AdamW settings of every harness run (bench train-vs-torch's: lr from the caller). */
bb_adamw bb_method_default_opt(float lr);
