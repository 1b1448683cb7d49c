/* decode.c — see decode.h. */
#include "decode.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include <math.h>
#include <string.h>

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

/* log_softmax of one row into out (double for the running sums). */
static void log_softmax(const float *z, int V, double *out) {
    float maxv = z[argmax(z, V)];
    double sum = 0;
    for (int v = 0; v < V; v++) sum += exp((double)z[v] - maxv);
    double lse = maxv + log(sum);
    for (int v = 0; v < V; v++) out[v] = (double)z[v] - lse;
}

static double length_penalty(int len, float alpha) { return alpha == 0.0f ? 1.0 : pow((5.0 + len) / 6.0, alpha); }

typedef struct {
    double logp;
    int beam, token;
} candidate;

int bb_decode(bb_model *m, bb_kvcache *kv, const int *prompt, int P, const bb_decode_opts *o, int *out) {
    int K = o->beam, V = m->cfg.vocab_size;
    BB_CHECK(K >= 1 && K <= kv->max_seqs && P + o->max_new <= kv->max_len);
    const float *logits = bb_kvcache_prefill(m, kv, prompt, P);
    int max_new = o->max_new;
    int *seqs = bb_alloc(BB_MEM_WORKSPACE, (size_t)K * (max_new + 1) * sizeof(int));
    int *next_seqs = bb_alloc(BB_MEM_WORKSPACE, (size_t)K * (max_new + 1) * sizeof(int));
    double *beam_logp = bb_alloc(BB_MEM_WORKSPACE, (size_t)K * sizeof(double));
    double *lp = bb_alloc(BB_MEM_WORKSPACE, (size_t)V * sizeof(double));
    candidate *cand = bb_alloc(BB_MEM_WORKSPACE, (size_t)K * K * sizeof(candidate));
    int *best_out = bb_alloc(BB_MEM_WORKSPACE, (size_t)(max_new + 1) * sizeof(int));
    int best_len = -1, n_finished = 0, live = 1, parent[K], tokens[K], step = 0;
    double best_score = -INFINITY;
    beam_logp[0] = 0;
    for (; step < max_new && live > 0; step++) {
        /* top-K continuations of each live beam, then the best K overall */
        int nc = 0;
        for (int b = 0; b < live; b++) {
            log_softmax(logits + (size_t)b * V, V, lp);
            for (int k = 0; k < K; k++) {
                int arg = -1;
                for (int v = 0; v < V; v++) {
                    bool taken = false;
                    for (int j = nc - k; j < nc; j++) taken |= cand[j].token == v;
                    if (!taken && (arg < 0 || lp[v] > lp[arg])) arg = v;
                }
                cand[nc++] = (candidate){beam_logp[b] + lp[arg], b, arg};
            }
        }
        /* selection sort by score (desc); ties: earlier beam, then lower token */
        for (int i = 0; i < nc; i++)
            for (int j = i + 1; j < nc; j++) {
                bool better = cand[j].logp > cand[i].logp ||
                              (cand[j].logp == cand[i].logp &&
                               (cand[j].beam < cand[i].beam || (cand[j].beam == cand[i].beam && cand[j].token < cand[i].token)));
                if (better) { candidate t = cand[i]; cand[i] = cand[j]; cand[j] = t; }
            }
        int next_live = 0;
        for (int i = 0; i < nc && next_live < K && n_finished < K; i++) {
            const candidate *c = &cand[i];
            if (c->token == o->eos) {  /* finished; its length excludes EOS */
                double score = c->logp / length_penalty(step, o->length_penalty);
                if (score > best_score) {
                    best_score = score;
                    best_len = step;
                    memcpy(best_out, seqs + (size_t)c->beam * (max_new + 1), (size_t)step * sizeof(int));
                }
                n_finished++;
                continue;
            }
            memcpy(next_seqs + (size_t)next_live * (max_new + 1), seqs + (size_t)c->beam * (max_new + 1),
                   (size_t)step * sizeof(int));
            next_seqs[(size_t)next_live * (max_new + 1) + step] = c->token;
            beam_logp[next_live] = c->logp;
            parent[next_live] = c->beam;
            tokens[next_live] = c->token;
            next_live++;
        }
        int *t = seqs; seqs = next_seqs; next_seqs = t;
        live = n_finished >= K ? 0 : next_live;
        if (live > 0 && step + 1 < max_new) {
            bb_kvcache_reorder(kv, m, parent, live);
            logits = bb_kvcache_step(m, kv, tokens);
        }
    }
    /* out of length: the live hypotheses compete as if finished */
    for (int b = 0; b < live && step == max_new; b++) {
        double score = beam_logp[b] / length_penalty(max_new, o->length_penalty);
        if (score > best_score) {
            best_score = score;
            best_len = max_new;
            memcpy(best_out, seqs + (size_t)b * (max_new + 1), (size_t)max_new * sizeof(int));
        }
    }
    if (best_len < 0) best_len = 0;
    memcpy(out, best_out, (size_t)best_len * sizeof(int));
    bb_free(seqs); bb_free(next_seqs); bb_free(beam_logp); bb_free(lp); bb_free(cand); bb_free(best_out);
    return best_len;
}

int bb_decode_greedy_recompute(bb_model *m, const int *prompt, int P, int max_new, int eos, int *out) {
    int V = m->cfg.vocab_size, n = 0;
    int *seq = bb_alloc(BB_MEM_WORKSPACE, (size_t)(P + max_new) * sizeof(int));
    memcpy(seq, prompt, (size_t)P * sizeof(int));
    for (; n < max_new; n++) {
        int len = P + n;
        bb_model_forward(m, seq, NULL, 1, len);
        int tok = argmax(m->acts.logits + (size_t)(len - 1) * V, V);
        if (tok == eos) break;
        out[n] = seq[len] = tok;
    }
    bb_free(seq);
    return n;
}
