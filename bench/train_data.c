/* train_data.c — see train_data.h. */
#include "train_data.h"
#include "../common/check.h"
#include "../datasets/corpus.h"
#include "../datasets/loader.h"
#include "../datasets/tokenizer.h"
#include "../datasets/tokfile.h"
#include "../engine/alloc.h"
#include <math.h>

void bb_kjv_batches(int vocab, int B, int T, int S, long seed, int **inputs, int **targets) {
    bb_tokenizer tok;
    bb_tokenizer_open(&tok, NULL, BB_TOK_DEFAULT_VOCAB, true);
    if (tok.vocab_size > vocab) bb_user_error("model vocab %d < tokenizer %d", vocab, tok.vocab_size);
    char text_path[4096];
    bb_path_join(text_path, sizeof text_path, bb_data_dir(), "lm/train.txt");
    bb_tokens tk;
    bb_tokens_cached(&tok, text_path, "lm/train", &tk, false);
    bb_lm_loader loader;
    if (bb_lm_loader_init(&loader, tk.ids, tk.n, T, (uint64_t)seed) != 0) bb_user_error("training split too short");
    *inputs = bb_alloc(BB_MEM_DATA, (size_t)S * B * T * sizeof(int));
    *targets = bb_alloc(BB_MEM_DATA, (size_t)S * B * T * sizeof(int));
    for (int s = 0; s < S; s++)
        bb_lm_loader_batch(&loader, s, B, *inputs + (size_t)s * B * T, *targets + (size_t)s * B * T);
    bb_lm_loader_free(&loader);
    bb_tokens_free(&tk);
    bb_tokenizer_free(&tok);
}


double bb_mt_eval_loss(bb_model *m, const bb_mt_data *dev, int B, int *inputs, int *targets) {
    double sum = 0;
    long n = 0;
    for (int e0 = 0; e0 < dev->n; e0 += B) {
        int rows = dev->n - e0 < B ? dev->n - e0 : B, Tb = 0;
        for (int r = 0; r < rows; r++) Tb = bb_mt_row_len(dev, e0 + r) > Tb ? bb_mt_row_len(dev, e0 + r) : Tb;
        for (int r = 0; r < rows; r++) bb_mt_fill_row(dev, e0 + r, Tb, inputs + (size_t)r * Tb, targets + (size_t)r * Tb);
        float loss = bb_model_forward(m, inputs, targets, rows, Tb);
        sum += (double)loss * m->n_valid_targets;
        n += m->n_valid_targets;
    }
    return n ? sum / (double)n : NAN;
}
