/* perplexity.c — see perplexity.h. */
#include "perplexity.h"
#include "../engine/alloc.h"
#include <math.h>
#include <string.h>

static long token_bytes(const bb_tokenizer *tok, int id) {
    if (id == BB_TOK_EOS) return 1;
    if (id < BB_TOK_N_SPECIAL) return 0;
    return (long)tok->piece_len[id];
}

void bb_eval_lm(bb_model *m, const bb_tokenizer *tok, const uint32_t *ids, size_t n_ids, int B, int T,
                long max_windows, bb_ppl_stats *out) {
    memset(out, 0, sizeof *out);
    if (n_ids < 2) return;
    size_t n_pred = n_ids - 1, n_windows = (n_pred + (size_t)T - 1) / (size_t)T;
    if (max_windows > 0 && (size_t)max_windows < n_windows) n_windows = (size_t)max_windows;
    int *in = bb_alloc(BB_MEM_DATA, (size_t)B * T * sizeof(int)), *tg = bb_alloc(BB_MEM_DATA, (size_t)B * T * sizeof(int));
    for (size_t w0 = 0; w0 < n_windows;) {
        int nb = (int)(n_windows - w0 < (size_t)B ? n_windows - w0 : (size_t)B);
        /* the last window of the stream may be shorter: its batch runs at that length
         * (a shorter window never shares a batch with full ones since it is last) */
        size_t last_start = (w0 + (size_t)nb - 1) * (size_t)T;
        int Tb = (int)(n_pred - last_start < (size_t)T ? n_pred - last_start : (size_t)T);
        if (Tb < T && nb > 1) { nb--; Tb = T; }
        for (int b = 0; b < nb; b++) {
            size_t start = (w0 + (size_t)b) * (size_t)T;
            for (int t = 0; t < Tb; t++) {
                in[b * Tb + t] = (int)ids[start + (size_t)t];
                tg[b * Tb + t] = (int)ids[start + (size_t)t + 1];
            }
        }
        bb_model_forward(m, in, tg, nb, Tb);
        for (int i = 0; i < nb * Tb; i++) {
            out->sum_nll += m->acts.losses[i];
            out->n_tokens++;
            if (tok) out->n_bytes += token_bytes(tok, tg[i]);
        }
        w0 += (size_t)nb;  /* a window held back above runs in the next batch */
    }
    bb_free(in);
    bb_free(tg);
    out->mean_loss = out->n_tokens ? out->sum_nll / (double)out->n_tokens : NAN;
    out->perplexity = exp(out->mean_loss);
    out->bits_per_byte = out->n_bytes ? out->sum_nll / (log(2.0) * (double)out->n_bytes) : NAN;
}
