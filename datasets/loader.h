/* loader.h — batches for causal LM training and evaluation from a token stream.
 *
 * Training: the stream is cut into windows of T+1 tokens at stride T (inputs are the
 * first T, targets the last T). Each epoch visits the windows in an order shuffled
 * from (seed, epoch). The batch of a step depends only on (seed, step), so resuming at
 * step s needs no loader state and continues bit-identically.
 * Evaluation: the same windows in order, every one exactly once. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint32_t *ids;
    size_t n_ids;
    int T;
    size_t n_windows;
    uint64_t seed;
    long cached_epoch;       /* epoch whose permutation is in perm, -1 = none */
    uint32_t *perm;          /* (n_windows) */
} bb_lm_loader;

/* Returns 0, or -1 if the stream is shorter than one window. */
int bb_lm_loader_init(bb_lm_loader *l, const uint32_t *ids, size_t n_ids, int T, uint64_t seed);
void bb_lm_loader_free(bb_lm_loader *l);
/* inputs/targets: (B, T). */
void bb_lm_loader_batch(bb_lm_loader *l, long step, int B, int *inputs, int *targets);
/* Window w in stream order (evaluation). */
void bb_lm_loader_window(const bb_lm_loader *l, size_t w, int *inputs, int *targets);
