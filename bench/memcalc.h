/* memcalc.h — predicted memory of a training configuration by category, from the model
 * shapes alone (no allocation): what bitbench's engine would allocate for `full`
 * training (QAT for quantized precisions) at batch B and length T. The prediction is
 * validated against the tracked allocator (tests/test_memcalc.c). Not included: the
 * packed kernels' reusable activation cache (precisions/gemm.c, at most about
 * 1.25 x B*T x max(C, F) x 2 bytes) and transient buffers freed within an op. Only the
 * `full` method exists in the engine so far; LoRA and KD predictions come with them. */
#pragma once
#include "../engine/config.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    double parameters, packed, gradients, optimizer, activations, workspace;  /* bytes */
    double total;
    double packed_export;  /* bytes of the packed inference export of the quantized linears */
    double n_params;
} bb_memcalc;

void bb_memcalc_full(const bb_config *c, int B, int T, bool checkpointing, bb_memcalc *out);

/* The weights alone at the config's precision (a frozen base, e.g. nf4 under LoRA, or an
 * inference export): the quantized linears in their packed format (packed_size, exact, as
 * `bitbench export` writes them), everything else FP32 as the engine keeps it. */
typedef struct {
    double linear_params, other_params;  /* quantized linears; embeddings, head, norms, biases */
    double linear_bytes;                 /* the linears packed */
    double bits_per_weight;              /* 8 linear_bytes / linear_params */
    double engine_bytes;                 /* linear_bytes + 4 other_params */
    double all_at_bits_bytes;            /* every parameter at bits_per_weight: the convention of
                                          * specs/precisions.md §5.2's "weights only" table */
} bb_memcalc_weights;

void bb_memcalc_weights_of(const bb_config *c, bb_memcalc_weights *out);
