/* perplexity.h — causal-LM evaluation over a token stream (specs/evaluation.md §3).
 *
 * Modes:
 *   BB_PPL_STRIDE (default) windows of ctx inputs start every `stride` tokens; each window
 *     scores only targets not scored before, so every token after the first is scored
 *     exactly once. stride = ctx: disjoint windows, contexts 1..ctx; stride < ctx: every
 *     scored token (past the first window) sees at least ctx - stride tokens of context
 *     (the Hugging Face "perplexity of fixed-length models" scheme, shifted by one so the
 *     first token of a window is not lost).
 *   BB_PPL_CHUNKS: llama.cpp `llama-perplexity`: disjoint chunks of ctx tokens (tail
 *     dropped, >= 2 chunks), scoring the second half of each chunk: positions ctx/2 ..
 *     ctx-2 predict tokens ctx/2+1 .. ctx-1.
 * Why the default is STRIDE: it scores the whole split, so the perplexity and the bits per
 * byte describe every byte of it; the chunk mode exists to reproduce llama.cpp numbers.
 * Statistics (llama.cpp): mean = nll/count, sd = sqrt((nll2/count - mean^2)/(count-1)),
 * PPL = exp(mean) +/- sd * PPL. Bits per byte = sum NLL / (ln 2 * bytes of the scored
 * tokens), EOS counting as the '\n' it stands for. */
#pragma once
#include "../datasets/bpe.h"
#include "../engine/model.h"

typedef enum { BB_PPL_STRIDE, BB_PPL_CHUNKS } bb_ppl_mode;

typedef struct {
    double sum_nll, sum_nll2;  /* nats */
    long n_tokens;
    long n_bytes;              /* 0 when no tokenizer was given */
    double mean_loss, perplexity, perplexity_pm, bits_per_byte;
} bb_ppl_stats;

/* Evaluates at most max_windows windows (<= 0: all), B windows per forward.
 * stride <= 0 means stride = ctx. */
void bb_eval_lm_mode(bb_model *m, const bb_tokenizer *tok, const uint32_t *ids, size_t n_ids, int B, int ctx,
                     int stride, bb_ppl_mode mode, long max_windows, bb_ppl_stats *out);
/* The default: STRIDE with stride = ctx. */
void bb_eval_lm(bb_model *m, const bb_tokenizer *tok, const uint32_t *ids, size_t n_ids, int B, int T,
                long max_windows, bb_ppl_stats *out);
/* Fills the derived fields from sum_nll, sum_nll2, n_tokens, n_bytes. */
void bb_ppl_finish(bb_ppl_stats *s);
