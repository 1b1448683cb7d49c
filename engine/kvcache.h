/* kvcache.h — incremental decoding with a key/value cache. Up to max_seqs sequences
 * (beam hypotheses) share one prompt: prefill runs the prompt once through the normal
 * forward and copies its keys/values (post-RoPE) into slot 0; replicate/reorder copy
 * slots for beam search; each step appends one token to every live sequence and returns
 * its logits. All sequences have the same length (beams grow together).
 * The step reuses the backend ops and the model's quantized-linear path, so FP32, QAT
 * (fake-quant) and loaded packed models decode the same way as they evaluate. */
#pragma once
#include "model.h"

typedef struct {
    int max_seqs, max_len;
    int len;               /* tokens cached per sequence */
    int n_seqs;            /* live sequences */
    float *k, *v;          /* (L, max_seqs, NKV, max_len, hd) */
    /* step scratch, (max_seqs, ...) */
    float *x, *h, *mean, *rstd, *qkv, *atty, *att_n, *att_rstd, *fch, *fch_act, *fch_n, *fch_rstd, *x2, *logits;
    float *scores;         /* (max_seqs * NH, max_len) */
    float *k_tmp, *v_tmp;  /* reorder scratch, one layer */
} bb_kvcache;

int bb_kvcache_init(bb_kvcache *kv, const bb_model *m, int max_seqs, int max_len, char *err, size_t err_len);
void bb_kvcache_free(bb_kvcache *kv);
/* Runs the prompt (P >= 1 tokens) into slot 0 (n_seqs = 1); returns the logits (V) of
 * its last position. */
const float *bb_kvcache_prefill(bb_model *m, bb_kvcache *kv, const int *tokens, int P);
/* Copies slot 0 into slots 0..S-1 (n_seqs = S). */
void bb_kvcache_replicate(bb_kvcache *kv, const bb_model *m, int S);
/* New slot i = old slot parent[i], i < S (n_seqs = S). */
void bb_kvcache_reorder(bb_kvcache *kv, const bb_model *m, const int *parent, int S);
/* Appends tokens[s] to every live sequence s; returns logits (n_seqs, V). */
const float *bb_kvcache_step(bb_model *m, bb_kvcache *kv, const int *tokens);
