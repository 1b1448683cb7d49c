/* chrf.h — chrF (Popović 2015) and chrF++ (Popović 2017) exactly as sacreBLEU 2.6.0
 * (metrics/chrf.py; specs/evaluation.md §2). Characters are Unicode code points; unless
 * whitespace is kept, all whitespace is removed before character n-grams 1..char_order.
 * chrF++ adds word n-grams 1..word_order over whitespace-split words with one leading or
 * trailing ASCII punctuation mark split off. Per order the statistics are
 * [hyp n-grams (0 if the reference has none of that order), ref n-grams, clipped matches];
 * with several references a segment keeps the one with the best sentence F (first wins
 * ties); the corpus sums segment statistics. Default scoring averages precision and recall
 * over the orders both sides have (signature eff:yes); eps_smoothing averages per-order F
 * with 1e-16 for empty orders (chrF++.py / NLTK style, eff:no). */
#pragma once
#include "signature.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BB_CHRF_MAX_ORDER 32   /* char_order + word_order */

typedef struct {
    int char_order;      /* default 6 */
    int word_order;      /* 0: chrF, 2: chrF++ */
    int beta;            /* default 2: recall weighs beta^2 times precision */
    bool lowercase, whitespace, eps_smoothing;
} bb_chrf_opts;

bb_chrf_opts bb_chrf_defaults(void);   /* CHRF(): 6, 0, 2, all flags off */

typedef struct {
    int64_t v[3 * BB_CHRF_MAX_ORDER];  /* chars orders first, then word orders */
} bb_chrf_stats;

/* CHRF._compute_f_score over summed statistics; 0..100. */
double bb_chrf_f_score(const bb_chrf_opts *o, const bb_chrf_stats *s);

/* Corpus chrF; references as in bleu.h (refs[k][i], NULL = None). Returns 0, or -1 with
 * err set (invalid UTF-8, a segment without references). */
int bb_chrf_corpus(const bb_chrf_opts *o, const char *const *hyps, size_t n, const char *const *const *refs,
                   int n_streams, double *score, bb_chrf_stats *total, int *nrefs, char *err, size_t errlen);
int bb_chrf_sentence(const bb_chrf_opts *o, const char *hyp, const char *const *refs, int n_refs, double *score,
                     char *err, size_t errlen);

/* "chrF2", "chrF2++" */
void bb_chrf_name(const bb_chrf_opts *o, char *buf, size_t len);
/* "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0" */
void bb_chrf_signature(const bb_chrf_opts *o, int nrefs, bool short_form, char *buf, size_t len);
