/* perplexity.h — causal-LM evaluation over a token stream: every token after the first
 * is predicted exactly once, from the tokens before it in its window of T (windows at
 * stride T, the last one shorter). perplexity = exp(sum NLL / tokens); bits per byte =
 * sum NLL / (ln 2 * bytes), bytes being the UTF-8 bytes of the predicted tokens (EOS
 * counts as the '\n' it stands for) — see specs/evaluation.md. */
#pragma once
#include "../datasets/bpe.h"
#include "../engine/model.h"

typedef struct {
    double sum_nll;   /* nats */
    long n_tokens;
    long n_bytes;     /* 0 when no tokenizer was given */
    double mean_loss, perplexity, bits_per_byte;
} bb_ppl_stats;

/* Evaluates at most max_windows windows (<= 0: all), B windows per forward. */
void bb_eval_lm(bb_model *m, const bb_tokenizer *tok, const uint32_t *ids, size_t n_ids, int B, int T,
                long max_windows, bb_ppl_stats *out);
