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
