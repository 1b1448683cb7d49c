/* bleu.c — see bleu.h. Floating point follows sacreBLEU's expression order so results are
 * bit-identical to Python 3.11 (math.log/exp are libm's; sum() adds left to right — note
 * Python >= 3.12 sums floats with compensation, which can move the last bit).
 * Smoothing (Chen & Cherry 2014, "A Systematic Comparison of Smoothing Techniques for
 * Sentence-Level BLEU"): exp = method 3 (NIST mteval-v13a), floor = method 1,
 * add-k = method 2 (Lin & Och 2004), none. */
#include "bleu.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include "ngram.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    double def;   /* NAN: the method takes no value */
} smooth_table[BB_SMOOTH_COUNT] = {
    [BB_SMOOTH_EXP] = {"exp", NAN},
    [BB_SMOOTH_FLOOR] = {"floor", 0.1},
    [BB_SMOOTH_ADD_K] = {"add-k", 1.0},
    [BB_SMOOTH_NONE] = {"none", NAN},
};

int bb_bleu_smooth_find(const char *name) {
    for (int k = 0; k < BB_SMOOTH_COUNT; k++)
        if (strcmp(smooth_table[k].name, name) == 0) return k;
    return -1;
}
const char *bb_bleu_smooth_name(bb_bleu_smooth s) { return smooth_table[s].name; }
const char *bb_bleu_smooth_names(void) { return "exp|floor|add-k|none"; }
double bb_bleu_smooth_default(bb_bleu_smooth s) { return smooth_table[s].def; }

bb_bleu_opts bb_bleu_corpus_defaults(void) {
    return (bb_bleu_opts){.tokenize = BB_TOK_13A, .smooth = BB_SMOOTH_EXP, .smooth_value = NAN,
                          .lowercase = false, .effective_order = false, .max_order = 4};
}

bb_bleu_opts bb_bleu_sentence_defaults(void) {
    bb_bleu_opts o = bb_bleu_corpus_defaults();
    o.effective_order = true;
    return o;
}

/* utils.my_log: log floored so that a zero precision drives the score to 0. */
static double my_log(double x) { return x == 0.0 ? -9999999999.0 : log(x); }

bb_bleu_score bb_bleu_compute(const bb_bleu_stats *s, bb_bleu_smooth smooth, double smooth_value,
                              bool effective_order, int max_order) {
    BB_CHECK(max_order >= 1 && max_order <= BB_BLEU_MAX_ORDER);
    BB_CHECK(smooth >= 0 && smooth < BB_SMOOTH_COUNT);
    if (isnan(smooth_value)) smooth_value = smooth_table[smooth].def;
    bb_bleu_score r = {.sys_len = s->sys_len, .ref_len = s->ref_len, .max_order = max_order, .bp = 1.0};
    if (s->sys_len < s->ref_len) r.bp = s->sys_len > 0 ? exp(1.0 - (double)s->ref_len / (double)s->sys_len) : 0.0;
    r.ratio = s->ref_len ? (double)s->sys_len / (double)s->ref_len : 0.0;
    bool any = false;
    for (int n = 0; n < max_order; n++) {
        r.counts[n] = (double)s->correct[n];
        r.totals[n] = (double)s->total[n];
        any = any || s->correct[n] != 0;
    }
    if (!any) return r;  /* #141: no match at all scores 0 (BP still reported) */

    double smooth_mteval = 1.0;
    int eff_order = max_order;
    for (int n = 1; n <= max_order; n++) {
        double *c = &r.counts[n - 1], *t = &r.totals[n - 1];
        if (smooth == BB_SMOOTH_ADD_K && n > 1) { *c += smooth_value; *t += smooth_value; }
        if (*t == 0) break;
        if (effective_order) eff_order = n;
        if (*c == 0) {
            if (smooth == BB_SMOOTH_EXP) {
                smooth_mteval *= 2;
                r.precisions[n - 1] = 100. / (smooth_mteval * *t);
            } else if (smooth == BB_SMOOTH_FLOOR) {
                r.precisions[n - 1] = 100. * smooth_value / *t;
            }
        } else {
            r.precisions[n - 1] = 100. * *c / *t;
        }
    }
    double sum = 0.0;
    for (int n = 0; n < eff_order; n++) sum += my_log(r.precisions[n]);
    r.score = r.bp * exp(sum / eff_order);
    return r;
}

/* --- segment statistics ------------------------------------------------------------------ */

struct bb_bleu_work {
    bb_tok_work tok;
    bb_textbuf lowered, hyp, ref;
    bb_units units;
    bb_ngrams hyp_ng[BB_BLEU_MAX_ORDER], ref_ng;
    uint32_t *max_ref[BB_BLEU_MAX_ORDER];  /* per distinct hyp n-gram: max count in any ref */
    size_t max_ref_cap[BB_BLEU_MAX_ORDER];
};

bb_bleu_work *bb_bleu_work_new(void) { return bb_alloc(BB_MEM_WORKSPACE, sizeof(bb_bleu_work)); }

void bb_bleu_work_free(bb_bleu_work *w) {
    if (!w) return;
    bb_tok_work_free(&w->tok);
    bb_textbuf_free(&w->lowered);
    bb_textbuf_free(&w->hyp);
    bb_textbuf_free(&w->ref);
    bb_units_free(&w->units);
    for (int n = 0; n < BB_BLEU_MAX_ORDER; n++) {
        bb_ngrams_free(&w->hyp_ng[n]);
        bb_free(w->max_ref[n]);
    }
    bb_ngrams_free(&w->ref_ng);
    bb_free(w);
}

/* BLEU._preprocess_segment: lower (optional), rstrip, tokenize. */
static void preprocess(const bb_bleu_opts *o, const char *s, bb_textbuf *out, bb_bleu_work *w) {
    size_t n = strlen(s);
    if (o->lowercase) {
        bb_textbuf_clear(&w->lowered);
        bb_uni_lower(s, n, &w->lowered);
        s = w->lowered.p;
        n = w->lowered.len;
    }
    bb_tokenize(o->tokenize, s, bb_uni_rstrip_len(s, n), out, &w->tok);
}

/* BLEU._get_closest_ref_len: the first strictly closer length wins, ties go shorter. */
static int64_t closest(int64_t hyp_len, int64_t best, int64_t ref_len, bool first) {
    int64_t d = llabs(hyp_len - ref_len), bd = llabs(hyp_len - best);
    if (first || d < bd || (d == bd && ref_len < best)) return ref_len;
    return best;
}

int bb_bleu_segment(const bb_bleu_opts *o, const char *hyp, const char *const *refs, int n_refs,
                    bb_bleu_stats *out, bb_bleu_work *w) {
    const int N = o->max_order;
    BB_CHECK(N >= 1 && N <= BB_BLEU_MAX_ORDER);
    preprocess(o, hyp, &w->hyp, w);
    bb_units_words(&w->units, w->hyp.p, w->hyp.len);
    memset(out, 0, sizeof *out);
    out->sys_len = (int64_t)w->units.n;
    for (int n = 0; n < N; n++) {
        bb_ngrams_build(&w->hyp_ng[n], w->hyp.p, &w->units, n + 1);
        if (w->hyp_ng[n].n > w->max_ref_cap[n]) {
            bb_free(w->max_ref[n]);
            w->max_ref_cap[n] = 2 * w->hyp_ng[n].n;
            w->max_ref[n] = bb_alloc(BB_MEM_WORKSPACE, w->max_ref_cap[n] * sizeof(uint32_t));
        }
        if (w->hyp_ng[n].n) memset(w->max_ref[n], 0, w->hyp_ng[n].n * sizeof(uint32_t));
    }
    int used = 0;
    for (int k = 0; k < n_refs; k++) {
        if (!refs[k]) continue;
        preprocess(o, refs[k], &w->ref, w);
        bb_units_words(&w->units, w->ref.p, w->ref.len);
        out->ref_len = closest(out->sys_len, out->ref_len, (int64_t)w->units.n, used == 0);
        used++;
        for (int n = 0; n < N; n++) {
            bb_ngrams_build(&w->ref_ng, w->ref.p, &w->units, n + 1);
            const bb_ngrams *h = &w->hyp_ng[n];
            for (size_t j = 0; j < h->n; j++) {
                uint32_t c = bb_ngrams_count(&w->ref_ng, h->v[j].p, h->v[j].len);
                if (c > w->max_ref[n][j]) w->max_ref[n][j] = c;
            }
        }
    }
    for (int n = 0; n < N; n++) {
        const bb_ngrams *h = &w->hyp_ng[n];
        out->total[n] = h->total;
        for (size_t j = 0; j < h->n; j++)
            out->correct[n] += h->v[j].count < w->max_ref[n][j] ? h->v[j].count : w->max_ref[n][j];
    }
    return used;
}

static bool check_utf8(const char *s, const char *what, size_t seg, char *err, size_t errlen) {
    size_t bad;
    if (bb_utf8_check(s, strlen(s), &bad)) return true;
    snprintf(err, errlen, "%s of segment %zu is not valid UTF-8 (byte %zu)", what, seg + 1, bad + 1);
    return false;
}

int bb_bleu_corpus(const bb_bleu_opts *o, const char *const *hyps, size_t n, const char *const *const *refs,
                   int n_streams, bb_bleu_score *score, bb_bleu_stats *total, int *nrefs, char *err, size_t errlen) {
    BB_CHECK(n_streams >= 1);
    bb_bleu_stats sum = {0}, seg;
    const char **seg_refs = bb_alloc(BB_MEM_WORKSPACE, (size_t)n_streams * sizeof *seg_refs);
    bb_bleu_work *w = bb_bleu_work_new();
    int count = 0, status = 0;
    for (size_t i = 0; i < n && status == 0; i++) {
        if (!check_utf8(hyps[i], "the hypothesis", i, err, errlen)) { status = -1; break; }
        for (int k = 0; k < n_streams && status == 0; k++) {
            seg_refs[k] = refs[k][i];
            if (seg_refs[k] && !check_utf8(seg_refs[k], "a reference", i, err, errlen)) status = -1;
        }
        if (status) break;
        int used = bb_bleu_segment(o, hyps[i], seg_refs, n_streams, &seg, w);
        if (used == 0) {
            snprintf(err, errlen, "segment %zu has no reference (all are NULL)", i + 1);
            status = -1;
            break;
        }
        count = (i == 0 || count == used) ? used : -1;
        sum.sys_len += seg.sys_len;
        sum.ref_len += seg.ref_len;
        for (int k = 0; k < o->max_order; k++) {
            sum.correct[k] += seg.correct[k];
            sum.total[k] += seg.total[k];
        }
    }
    bb_bleu_work_free(w);
    bb_free(seg_refs);
    if (status) return status;
    if (total) *total = sum;
    if (nrefs) *nrefs = count;
    if (score) *score = bb_bleu_compute(&sum, o->smooth, o->smooth_value, o->effective_order, o->max_order);
    return 0;
}

int bb_bleu_sentence(const bb_bleu_opts *o, const char *hyp, const char *const *refs, int n_refs,
                     bb_bleu_score *score, char *err, size_t errlen) {
    BB_CHECK(n_refs >= 1 && n_refs <= 64);
    const char *const *streams[64];
    for (int k = 0; k < n_refs; k++) streams[k] = &refs[k];
    return bb_bleu_corpus(o, &hyp, 1, streams, n_refs, score, NULL, NULL, err, errlen);
}

void bb_bleu_signature(const bb_bleu_opts *o, int nrefs, bool short_form, char *buf, size_t len) {
    bb_sig_item items[] = {{"case", "c", ""}, {"eff", "e", ""}, {"tok", "tok", ""}, {"smooth", "s", ""}};
    snprintf(items[0].value, sizeof items[0].value, "%s", o->lowercase ? "lc" : "mixed");
    snprintf(items[1].value, sizeof items[1].value, "%s", o->effective_order ? "yes" : "no");
    snprintf(items[2].value, sizeof items[2].value, "%s", bb_tok_name(o->tokenize));
    double def = smooth_table[o->smooth].def, v = isnan(o->smooth_value) ? def : o->smooth_value;
    if (isnan(def)) snprintf(items[3].value, sizeof items[3].value, "%s", smooth_table[o->smooth].name);
    else snprintf(items[3].value, sizeof items[3].value, "%s[%.2f]", smooth_table[o->smooth].name, v);
    bb_sig_format(items, 4, nrefs, short_form, buf, len);
}

void bb_bleu_verbose(const bb_bleu_score *s, char *buf, size_t len) {
    size_t at = 0;
    for (int n = 0; n < s->max_order && at < len; n++)
        at += (size_t)snprintf(buf + at, len - at, "%s%.1f", n ? "/" : "", s->precisions[n]);
    if (at < len)
        snprintf(buf + at, len - at, " (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)", s->bp, s->ratio,
                 (long long)s->sys_len, (long long)s->ref_len);
}
