/* mt_eval.c — see mt_eval.h. */
#include "mt_eval.h"
#include "../common/check.h"
#include "../datasets/corpus.h"
#include "../datasets/tokenizer.h"
#include "../engine/alloc.h"
#include "../engine/kvcache.h"
#include "../eval/bleu.h"
#include "../eval/chrf.h"
#include "../eval/decode.h"
#include "progress.h"
#include <stdio.h>
#include <string.h>

/* Splits text into lines in place; returns the count (the last line ends with '\n'). */
static int split_lines(char *text, size_t len, char **lines, int cap) {
    int n = 0;
    for (char *p = text; p < text + len && n < cap;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        if (!nl) break;
        *nl = '\0';
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

void bb_mt_set_load(bb_mt_set *s, const char *split, int limit) {
    memset(s, 0, sizeof *s);
    char err[700], name[32];
    size_t src_len, ref_len;
    snprintf(name, sizeof name, "mt/%s.el", split);
    if (bb_corpus_read(name, &s->src_text, &src_len, err, sizeof err) != 0) bb_user_error("%s", err);
    snprintf(name, sizeof name, "mt/%s.en", split);
    if (bb_corpus_read(name, &s->ref_text, &ref_len, err, sizeof err) != 0) bb_user_error("%s", err);
    int cap = 1 << 16;
    s->src = bb_alloc(BB_MEM_DATA, (size_t)cap * sizeof(char *));
    s->refs = bb_alloc(BB_MEM_DATA, (size_t)cap * sizeof(char *));
    int n = split_lines(s->src_text, src_len, s->src, cap), nr = split_lines(s->ref_text, ref_len, s->refs, cap);
    if (n != nr) bb_user_error("mt/%s.el has %d lines but mt/%s.en has %d", split, n, split, nr);
    if (limit > 0 && limit < n) n = limit;
    s->n = n;
}

void bb_mt_set_free(bb_mt_set *s) {
    if (s->hyps)
        for (int i = 0; i < s->n; i++) bb_free(s->hyps[i]);
    bb_free(s->hyps);
    bb_free(s->src);
    bb_free(s->refs);
    bb_free(s->src_text);
    bb_free(s->ref_text);
    memset(s, 0, sizeof *s);
}

long bb_mt_translate(bb_model *m, bb_tokenizer *tok, bb_mt_set *s, int beam, float length_penalty, int max_new,
                     int show_progress) {
    char err[700];
    int T = m->cfg.max_seq, n = s->n;
    bb_kvcache kv;
    if (bb_kvcache_init(&kv, m, beam, T, err, sizeof err) != 0) bb_user_error("%s", err);
    s->hyps = bb_alloc(BB_MEM_DATA, (size_t)(n > 0 ? n : 1) * sizeof(char *));
    uint32_t *ids = NULL;
    size_t ids_cap = 0;
    int *prompt = bb_alloc(BB_MEM_DATA, (size_t)T * sizeof(int)), *outtok = bb_alloc(BB_MEM_DATA, (size_t)T * sizeof(int));
    bb_progress prog;
    bb_progress_init(&prog, n);
    double t0 = bb_now();
    long generated = 0;
    for (int i = 0; i < n; i++) {
        size_t n_ids = 0;
        bb_tokenizer_encode(tok, (const uint8_t *)s->src[i], strlen(s->src[i]), &ids, &n_ids, &ids_cap);
        int keep = (int)n_ids, room = T - 2 - 1;  /* BOS, SEP and at least one generated token */
        if (keep > room) keep = room;
        int P = 0;
        prompt[P++] = BB_TOK_BOS;
        for (int k = 0; k < keep; k++) prompt[P++] = (int)ids[k];
        prompt[P++] = BB_TOK_SEP;
        bb_decode_opts o = {.beam = beam, .max_new = max_new < T - P ? max_new : T - P, .eos = BB_TOK_EOS,
                            .length_penalty = length_penalty};
        int got = bb_decode(m, &kv, prompt, P, &o, outtok);
        generated += got;
        size_t cap_txt = 64 + (size_t)got * 64;
        s->hyps[i] = bb_alloc(BB_MEM_DATA, cap_txt);
        uint32_t *u = bb_alloc(BB_MEM_DATA, (size_t)(got + 1) * sizeof(uint32_t));
        for (int k = 0; k < got; k++) u[k] = outtok[k] < tok->vocab_size ? (uint32_t)outtok[k] : BB_TOK_PAD;
        size_t len = bb_tokenizer_decode(tok, u, (size_t)got, s->hyps[i], cap_txt, true);
        BB_CHECK(len < cap_txt);
        for (char *c = s->hyps[i]; *c; c++) if (*c == '\n') *c = ' ';  /* one line per hypothesis */
        bb_free(u);
        if (show_progress && (prog.tty || (i + 1) % 100 == 0 || i + 1 == n)) {
            char status[128];
            snprintf(status, sizeof status, "translated %d/%d  %.1f tokens/s", i + 1, n, generated / (bb_now() - t0));
            bb_progress_update(&prog, i + 1, status);
        }
    }
    if (show_progress) bb_progress_finish(&prog);
    bb_free(ids);
    bb_free(prompt);
    bb_free(outtok);
    bb_kvcache_free(&kv);
    return generated;
}

void bb_mt_score_set(const bb_mt_set *s, bb_mt_score *out) {
    char err[700];
    const char *const *ref_streams[1] = {(const char *const *)s->refs};
    bb_bleu_opts bo = bb_bleu_corpus_defaults();
    bb_bleu_score bleu;
    int nrefs;
    if (bb_bleu_corpus(&bo, (const char *const *)s->hyps, (size_t)s->n, ref_streams, 1, &bleu, NULL, &nrefs, err,
                       sizeof err) != 0)
        bb_user_error("BLEU: %s", err);
    bb_chrf_opts co = bb_chrf_defaults();
    if (bb_chrf_corpus(&co, (const char *const *)s->hyps, (size_t)s->n, ref_streams, 1, &out->chrf, NULL, &nrefs, err,
                       sizeof err) != 0)
        bb_user_error("chrF: %s", err);
    out->bleu = bleu.score;
    bb_bleu_signature(&bo, nrefs, false, out->bleu_signature, sizeof out->bleu_signature);
    bb_bleu_verbose(&bleu, out->bleu_verbose, sizeof out->bleu_verbose);
    bb_chrf_signature(&co, nrefs, false, out->chrf_signature, sizeof out->chrf_signature);
    bb_chrf_name(&co, out->chrf_name, sizeof out->chrf_name);
}
