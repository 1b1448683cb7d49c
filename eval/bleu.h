/* bleu.h — corpus and sentence BLEU exactly as sacreBLEU 2.6.0 (metrics/bleu.py;
 * specs/evaluation.md §1): per segment, lowercase (optional, str.lower()), rstrip,
 * tokenize, count n-grams 1..N; clip each hypothesis n-gram by its largest count in any
 * single reference; ref_len is the reference length closest to the hypothesis length
 * (ties -> shorter). The corpus sums these statistics and bb_bleu_compute turns them into
 * a score, so scores can also be recomputed from saved statistics. Scores are 0..100.
 * References come as streams, refs[k][i] = k-th reference of segment i; a NULL entry is
 * sacreBLEU's None (dropped; the signature says nrefs:var when counts differ), an empty
 * string is a real zero-length reference. Text must be valid UTF-8. */
#pragma once
#include "signature.h"
#include "tokenize.h"
#include <stdbool.h>
#include <stdint.h>

#define BB_BLEU_MAX_ORDER 9

typedef enum { BB_SMOOTH_EXP, BB_SMOOTH_FLOOR, BB_SMOOTH_ADD_K, BB_SMOOTH_NONE, BB_SMOOTH_COUNT } bb_bleu_smooth;

int bb_bleu_smooth_find(const char *name);        /* -1 if unknown */
const char *bb_bleu_smooth_name(bb_bleu_smooth s);
const char *bb_bleu_smooth_names(void);           /* "exp|floor|add-k|none" */
/* The method's default value (floor 0.1, add-k 1); NAN for exp and none (no value). */
double bb_bleu_smooth_default(bb_bleu_smooth s);

typedef struct {
    bb_tok_kind tokenize;
    bb_bleu_smooth smooth;
    double smooth_value;     /* NAN: the method's default */
    bool lowercase;
    bool effective_order;    /* geometric mean only over orders the hypothesis has */
    int max_order;           /* 1..BB_BLEU_MAX_ORDER */
} bb_bleu_opts;

/* BLEU(), corpus_bleu() and the sacrebleu CLI: 13a, exp, no effective order, N = 4. */
bb_bleu_opts bb_bleu_corpus_defaults(void);
/* sentence_bleu() and the CLI's --sentence-level: the same with effective order. */
bb_bleu_opts bb_bleu_sentence_defaults(void);

typedef struct {
    int64_t sys_len, ref_len;
    int64_t correct[BB_BLEU_MAX_ORDER], total[BB_BLEU_MAX_ORDER];
} bb_bleu_stats;

typedef struct {
    double score;                          /* 0..100; an exact match gives 100.00000000000004 */
    double counts[BB_BLEU_MAX_ORDER];      /* as used: add-k has added k for n > 1 (as BLEUScore) */
    double totals[BB_BLEU_MAX_ORDER];
    double precisions[BB_BLEU_MAX_ORDER];  /* percent */
    double bp, ratio;                      /* ratio = sys_len / ref_len (0 if ref_len is 0) */
    int64_t sys_len, ref_len;
    int max_order;
} bb_bleu_score;

/* BLEU.compute_bleu: score from sufficient statistics (sacreBLEU's own default smoothing
 * for this function is none). smooth_value NAN = the method's default. */
bb_bleu_score bb_bleu_compute(const bb_bleu_stats *s, bb_bleu_smooth smooth, double smooth_value,
                              bool effective_order, int max_order);

/* Reusable scratch for segment statistics. */
typedef struct bb_bleu_work bb_bleu_work;
bb_bleu_work *bb_bleu_work_new(void);
void bb_bleu_work_free(bb_bleu_work *w);

/* Statistics of one segment against its n_refs references (NULL entries skipped).
 * Returns the number of references used; 0 means none (no statistics: an error). */
int bb_bleu_segment(const bb_bleu_opts *o, const char *hyp, const char *const *refs, int n_refs,
                    bb_bleu_stats *out, bb_bleu_work *w);

/* Corpus BLEU of n hypotheses against n_streams reference streams. total (optional) gets
 * the summed statistics, nrefs (optional) the references per segment or -1 (var).
 * Returns 0, or -1 with a one-sentence message in err (invalid UTF-8, or a segment
 * whose references are all NULL). */
int bb_bleu_corpus(const bb_bleu_opts *o, const char *const *hyps, size_t n, const char *const *const *refs,
                   int n_streams, bb_bleu_score *score, bb_bleu_stats *total, int *nrefs, char *err, size_t errlen);

/* sentence_score(hyp, refs): one segment, each reference its own stream. */
int bb_bleu_sentence(const bb_bleu_opts *o, const char *hyp, const char *const *refs, int n_refs,
                     bb_bleu_score *score, char *err, size_t errlen);

/* "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0" (short: "#:2|c:mixed|...") */
void bb_bleu_signature(const bb_bleu_opts *o, int nrefs, bool short_form, char *buf, size_t len);
/* "82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)" */
void bb_bleu_verbose(const bb_bleu_score *s, char *buf, size_t len);
