/* perplexity.c — see perplexity.h. Windows are gathered B at a time into one forward;
 * windows of different lengths (the last one) run in their own batch. */
#include "perplexity.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include <math.h>
#include <string.h>

static long token_bytes(const bb_tokenizer *tok, int id) {
    if (id == BB_TOK_EOS) return 1;
    if (id < BB_TOK_N_SPECIAL) return 0;
    return (long)tok->piece_len[id];
}

void bb_ppl_finish(bb_ppl_stats *s) {
    double n = (double)s->n_tokens;
    s->mean_loss = n > 0 ? s->sum_nll / n : NAN;
    s->perplexity = exp(s->mean_loss);
    double var = n > 0 ? s->sum_nll2 / n - s->mean_loss * s->mean_loss : NAN;
    s->perplexity_pm = n > 1 ? sqrt((var > 0 ? var : 0) / (n - 1)) * s->perplexity : NAN;
    s->bits_per_byte = s->n_bytes ? s->sum_nll / (log(2.0) * (double)s->n_bytes) : NAN;
}

/* One window: inputs ids[begin .. begin+len), targets ids[begin+1 ..], scoring targets
 * whose stream index is >= first_scored. */
typedef struct {
    size_t begin;
    int len;
    size_t first_scored;
} window;

static void run_batch(bb_model *m, const bb_tokenizer *tok, const uint32_t *ids, const window *w, int nb, int *in,
                      int *tg, bb_ppl_stats *s) {
    int T = w[0].len;
    for (int b = 0; b < nb; b++) {
        BB_CHECK(w[b].len == T);
        for (int t = 0; t < T; t++) {
            size_t target = w[b].begin + (size_t)t + 1;
            in[b * T + t] = (int)ids[w[b].begin + (size_t)t];
            tg[b * T + t] = target >= w[b].first_scored ? (int)ids[target] : -1;
        }
    }
    bb_model_forward(m, in, tg, nb, T);
    for (int i = 0; i < nb * T; i++) {
        if (tg[i] < 0) continue;
        double nll = m->acts.losses[i];
        s->sum_nll += nll;
        s->sum_nll2 += nll * nll;
        s->n_tokens++;
        if (tok) s->n_bytes += token_bytes(tok, tg[i]);
    }
}

void bb_eval_lm_mode(bb_model *m, const bb_tokenizer *tok, const uint32_t *ids, size_t n_ids, int B, int ctx,
                     int stride, bb_ppl_mode mode, long max_windows, bb_ppl_stats *out) {
    memset(out, 0, sizeof *out);
    if (stride <= 0 || stride > ctx) stride = ctx;
    /* list the windows */
    size_t cap = 64, n = 0;
    window *ws = bb_alloc(BB_MEM_WORKSPACE, cap * sizeof *ws);
    if (mode == BB_PPL_CHUNKS) {
        size_t n_chunks = n_ids / (size_t)ctx, first = (size_t)ctx / 2;
        for (size_t c = 0; c < n_chunks; c++) {
            if (n == cap) ws = bb_realloc(ws, (cap *= 2) * sizeof *ws);
            /* inputs: chunk positions 0 .. ctx-2; targets 1 .. ctx-1; scored from first+1 */
            ws[n++] = (window){c * (size_t)ctx, ctx - 1, c * (size_t)ctx + first + 1};
        }
    } else {
        size_t next = 1;  /* the first target not yet scored */
        for (size_t begin = 0; next < n_ids; begin += (size_t)stride) {
            size_t end = begin + (size_t)ctx < n_ids - 1 ? begin + (size_t)ctx : n_ids - 1;  /* inputs [begin, end) */
            if (n == cap) ws = bb_realloc(ws, (cap *= 2) * sizeof *ws);
            ws[n++] = (window){begin, (int)(end - begin), next};
            next = end + 1;
        }
    }
    if (max_windows > 0 && (size_t)max_windows < n) n = (size_t)max_windows;
    int *in = bb_alloc(BB_MEM_WORKSPACE, (size_t)B * ctx * sizeof(int));
    int *tg = bb_alloc(BB_MEM_WORKSPACE, (size_t)B * ctx * sizeof(int));
    for (size_t w0 = 0; w0 < n;) {
        int nb = 0;
        while (w0 + (size_t)nb < n && nb < B && ws[w0 + (size_t)nb].len == ws[w0].len) nb++;
        run_batch(m, tok, ids, ws + w0, nb, in, tg, out);
        w0 += (size_t)nb;
    }
    bb_free(in);
    bb_free(tg);
    bb_free(ws);
    bb_ppl_finish(out);
}

void bb_eval_lm(bb_model *m, const bb_tokenizer *tok, const uint32_t *ids, size_t n_ids, int B, int T,
                long max_windows, bb_ppl_stats *out) {
    bb_eval_lm_mode(m, tok, ids, n_ids, B, T, T, BB_PPL_STRIDE, max_windows, out);
}
