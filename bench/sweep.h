/* sweep.h — the axes that bench throughput and bench memory sweep (issue #8): device x
 * preset x method x batch x seq x threads x checkpointing x precision, as comma lists.
 * Expansion validates every value (a bad one is a usage error, exit 2), measures fp32
 * first in every group so ratios to fp32 come from the same run, and drops what this
 * machine or build cannot run with one clear line each: a device it does not have, a
 * method not in this build. */
#pragma once
#include "../engine/config.h"
#include "env.h"
#include "methods.h"
#include <stdbool.h>

typedef struct {
    const char *devices, *presets, *precisions, *methods, *batches, *seqs, *threads, *checkpointing;
} bb_sweep_args;

#define BB_SWEEP_ARG_ENTRIES(sa)                                                                                       \
    {"device", BB_ARG_STR, &(sa).devices, "D,...", "devices: cpu, cuda (one the machine lacks is skipped)", 0, -1},   \
    {"preset", BB_ARG_STR, &(sa).presets, "P,...", "model presets (tiny, small, gpt2-124m)", 0, -1},                 \
    {"precisions", BB_ARG_STR, &(sa).precisions, "P,...", "fp32 fp16 bf16 int8 int4 b158, or all (fp32 is always "  \
     "measured first, for the ratios)", 0, -1},                                                                        \
    {"methods", BB_ARG_STR, &(sa).methods, "M,...", "full, lora, kd, or all (one not in this build is skipped)", 0, -1}, \
    {"batch", BB_ARG_STR, &(sa).batches, "B,...", "sequences per step", 0, -1},                                       \
    {"seq", BB_ARG_STR, &(sa).seqs, "T,...", "tokens per sequence (0: the preset's max_seq)", 0, -1},               \
    {"threads", BB_ARG_STR, &(sa).threads, "N,...", "threads (0: all cores)", 0, -1},                                 \
    {"checkpointing", BB_ARG_STR, &(sa).checkpointing, "C,...", "none, selective (recompute attention "          \
     "probabilities), block (recompute blocks), all", 0, -1}

#define BB_SWEEP_ARGS_DEFAULT {"cpu", "small", "all", "all", "8", "0", "0", "none"}

/* A device the harness can name; backend NULL: no training backend in this build. */
typedef struct {
    const char *name;
    const bb_backend *backend;
} bb_device;
extern const bb_device bb_devices[];
extern const int bb_n_devices;
/* NULL if device d can run here, else why not (one sentence). */
const char *bb_device_unavailable(int d, const bb_env *env, char *buf, size_t cap);
/* The index of a device name, -1 if unknown. */
int bb_device_find(const char *name);

typedef struct {
    int device;
    const char *preset;
    bb_config cfg;          /* the preset with the precision set */
    const bb_method *method;
    int batch, seq, threads;
    bb_ckpt_mode ckpt_mode;
} bb_sweep_point;

/* Expands the product; *out from bb_alloc (caller frees). Returns the number of points. */
int bb_sweep_expand(const bb_sweep_args *a, const char *command, const bb_env *env, bb_sweep_point **out);
/* The canonical text of the axes, for the config hash. */
void bb_sweep_describe(const bb_sweep_args *a, char *out, size_t cap);
/* The row key of a point in the schemas' key order; with_threads for throughput. */
void bb_sweep_key(const bb_sweep_point *p, bool with_threads, const char *precision, char *out, size_t cap);
/* "small int8 full B8 T256 threads 2 ckpt none" for progress lines. */
void bb_sweep_label(const bb_sweep_point *p, char *out, size_t cap);
/* Parses a precision list ("all" or names) into BB_PREC_* values, fp32 first; usage error
 * on an unknown name. Returns the count. */
int bb_parse_precisions(const char *list, const char *command, int *out);
/* Parses a checkpointing list (names of bb_ckpt_names; "all" = none,selective,block; "both"
 * = none,block, as bench precisions took it) into modes in the order given, without
 * repeats; usage error on an unknown name. Returns the count (at most BB_CKPT_COUNT). */
int bb_parse_ckpt_modes(const char *list, const char *command, bb_ckpt_mode *out);
/* Parses a method list ("all" or names) into table rows; usage error on an unknown name. */
int bb_parse_methods(const char *list, const char *command, const bb_method **out);
