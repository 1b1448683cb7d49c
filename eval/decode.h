/* decode.h — greedy and beam-search decoding over the KV cache (engine/kvcache.h).
 * Beam search keeps `beam` hypotheses by summed log-probability; a hypothesis that emits
 * EOS is finished and ranked by score / lp(len) with the GNMT length penalty
 * lp = ((5 + len) / 6)^alpha (Wu et al. 2016, eq. 14; alpha = 0: raw log-probability).
 * Search stops when `beam` hypotheses are finished or max_new tokens were generated; the
 * best finished one wins (the best live one if none finished). Ties break on the lower
 * token id and the lower beam index, so beam 1 is exactly greedy. */
#pragma once
#include "../engine/kvcache.h"

typedef struct {
    int beam;          /* 1 = greedy */
    int max_new;       /* tokens to generate at most */
    int eos;           /* stop token (not included in the output) */
    float length_penalty;
} bb_decode_opts;

/* Decodes after prompt (P tokens); writes at most opts->max_new tokens to out and
 * returns how many. kv must allow `beam` sequences and P + max_new positions. */
int bb_decode(bb_model *m, bb_kvcache *kv, const int *prompt, int P, const bb_decode_opts *opts, int *out);
/* The reference: greedy with a full forward over the whole sequence at every step. */
int bb_decode_greedy_recompute(bb_model *m, const int *prompt, int P, int max_new, int eos, int *out);
