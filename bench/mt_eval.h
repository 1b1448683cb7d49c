/* mt_eval.h — translating the Greek side of an MT split with a model and scoring it with
 * sacreBLEU-exact BLEU and chrF: shared by `bitbench eval mt` and `bench quality`. */
#pragma once
#include "../datasets/bpe.h"
#include "../engine/model.h"
#include <stddef.h>

typedef struct {
    int n;                  /* sentences translated */
    char **src, **refs;     /* (n) lines of mt/<split>.el and .en (into the two buffers below) */
    char **hyps;            /* (n) after bb_mt_translate */
    char *src_text, *ref_text;
} bb_mt_set;

/* Reads mt/<split>.el and .en (split dev or test), the first `limit` lines (0: all); exits
 * with one clear sentence on unreadable or misaligned data. */
void bb_mt_set_load(bb_mt_set *s, const char *split, int limit);
void bb_mt_set_free(bb_mt_set *s);
/* Translates every source line: prompt BOS greek SEP, KV-cache greedy (beam 1) or beam
 * decoding to EOS, at most max_new tokens; returns the tokens generated. Shows progress
 * when show_progress. */
long bb_mt_translate(bb_model *m, bb_tokenizer *tok, bb_mt_set *s, int beam, float length_penalty, int max_new,
                     int show_progress);

typedef struct {
    double bleu, chrf;
    char bleu_signature[256], chrf_signature[256], chrf_name[32], bleu_verbose[256];
} bb_mt_score;

/* Corpus BLEU and chrF (sacreBLEU 2.6.0 defaults) of the hypotheses against the references. */
void bb_mt_score_set(const bb_mt_set *s, bb_mt_score *out);
