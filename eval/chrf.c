/* chrf.c — see chrf.h. Arithmetic follows CHRF._compute_f_score operation by operation. */
#include "chrf.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include "ngram.h"
#include "unicode.h"
#include <stdio.h>
#include <string.h>

bb_chrf_opts bb_chrf_defaults(void) {
    return (bb_chrf_opts){.char_order = 6, .word_order = 0, .beta = 2};
}

static int n_orders(const bb_chrf_opts *o) {
    int n = o->char_order + o->word_order;
    BB_CHECK(o->char_order >= 0 && o->word_order >= 0 && n >= 1 && n <= BB_CHRF_MAX_ORDER);
    return n;
}

double bb_chrf_f_score(const bb_chrf_opts *o, const bb_chrf_stats *s) {
    const double eps = 1e-16, factor = (double)o->beta * o->beta;
    const int order = n_orders(o);
    double score = 0.0, avg_prec = 0.0, avg_rec = 0.0;
    int effective_order = 0;
    for (int i = 0; i < order; i++) {
        int64_t n_hyp = s->v[3 * i], n_ref = s->v[3 * i + 1], n_match = s->v[3 * i + 2];
        double prec = n_hyp > 0 ? (double)n_match / (double)n_hyp : eps;
        double rec = n_ref > 0 ? (double)n_match / (double)n_ref : eps;
        double denom = factor * prec + rec;
        score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
        if (n_hyp > 0 && n_ref > 0) {
            avg_prec += prec;
            avg_rec += rec;
            effective_order++;
        }
    }
    if (o->eps_smoothing) return 100 * score / order;
    if (effective_order == 0) {
        avg_prec = avg_rec = 0.0;
    } else {
        avg_prec /= effective_order;
        avg_rec /= effective_order;
    }
    if (avg_prec + avg_rec == 0) return 0.0;
    score = (1 + factor) * avg_prec * avg_rec;
    score /= (factor * avg_prec) + avg_rec;
    return 100 * score;
}

/* --- segment statistics ------------------------------------------------------------------ */

typedef struct {
    bb_textbuf lowered, split, chars, words;  /* chars: for char n-grams; words: space-separated */
    bb_units cu, wu;
} side;

typedef struct {
    side hyp, ref;
    bb_ngrams hyp_ng[BB_CHRF_MAX_ORDER], ref_ng;
} work;

static void side_free(side *s) {
    bb_textbuf_free(&s->lowered);
    bb_textbuf_free(&s->split);
    bb_textbuf_free(&s->chars);
    bb_textbuf_free(&s->words);
    bb_units_free(&s->cu);
    bb_units_free(&s->wu);
}

static bool is_ascii_punct(char c) { return c && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) != NULL; }

/* CHRF._remove_punctuation: split(); a word longer than one character loses a trailing
 * punctuation mark, else a leading one, into its own word. The marks are ASCII, so a byte
 * test on the first/last byte is a code point test; a one-code-point word is never split
 * (a multi-byte one has no ASCII byte at either end). */
static void remove_punctuation(const char *s, size_t n, bb_textbuf *out, bb_textbuf *tmp) {
    bb_textbuf_clear(tmp);
    bb_uni_split_join(s, n, tmp);
    bb_textbuf_clear(out);
    for (size_t i = 0; i < tmp->len;) {
        size_t j = i;
        while (j < tmp->len && tmp->p[j] != ' ') j++;
        const char *w = tmp->p + i;
        size_t len = j - i;
        if (out->len) bb_textbuf_putc(out, ' ');
        if (len > 1 && is_ascii_punct(w[len - 1])) {
            bb_textbuf_put(out, w, len - 1);
            bb_textbuf_putc(out, ' ');
            bb_textbuf_putc(out, w[len - 1]);
        } else if (len > 1 && is_ascii_punct(w[0])) {
            bb_textbuf_putc(out, w[0]);
            bb_textbuf_putc(out, ' ');
            bb_textbuf_put(out, w + 1, len - 1);
        } else {
            bb_textbuf_put(out, w, len);
        }
        i = j + 1;
    }
}

static void prepare(const bb_chrf_opts *o, const char *s, side *d) {
    size_t n = strlen(s);
    if (o->lowercase) {
        bb_textbuf_clear(&d->lowered);
        bb_uni_lower(s, n, &d->lowered);
        s = d->lowered.p;
        n = d->lowered.len;
    }
    bb_textbuf_clear(&d->chars);
    if (o->whitespace) bb_textbuf_put(&d->chars, s, n);
    else bb_uni_remove_space(s, n, &d->chars);
    bb_units_chars(&d->cu, d->chars.p, d->chars.len);
    if (o->word_order > 0) {
        remove_punctuation(s, n, &d->words, &d->split);
        bb_units_words(&d->wu, d->words.p, d->words.len);
    }
}

static void build(const bb_chrf_opts *o, const side *d, int i, bb_ngrams *g) {
    if (i < o->char_order) bb_ngrams_build(g, d->chars.p, &d->cu, i + 1);
    else bb_ngrams_build(g, d->words.p, &d->wu, i - o->char_order + 1);
}

/* CHRF._compute_segment_statistics: the best-F reference's statistics. */
static int segment(const bb_chrf_opts *o, const char *hyp, const char *const *refs, int n_refs, bb_chrf_stats *best,
                   work *w) {
    const int order = n_orders(o);
    prepare(o, hyp, &w->hyp);
    for (int i = 0; i < order; i++) build(o, &w->hyp, i, &w->hyp_ng[i]);
    double best_f = -1.0;
    int used = 0;
    for (int k = 0; k < n_refs; k++) {
        if (!refs[k]) continue;
        used++;
        prepare(o, refs[k], &w->ref);
        bb_chrf_stats st = {0};
        for (int i = 0; i < order; i++) {
            build(o, &w->ref, i, &w->ref_ng);
            st.v[3 * i] = w->ref_ng.total > 0 ? w->hyp_ng[i].total : 0;
            st.v[3 * i + 1] = w->ref_ng.total;
            st.v[3 * i + 2] = bb_ngrams_matches(&w->hyp_ng[i], &w->ref_ng);
        }
        double f = bb_chrf_f_score(o, &st);
        if (f > best_f) {
            best_f = f;
            *best = st;
        }
    }
    return used;
}

int bb_chrf_corpus(const bb_chrf_opts *o, const char *const *hyps, size_t n, const char *const *const *refs,
                   int n_streams, double *score, bb_chrf_stats *total, int *nrefs, char *err, size_t errlen) {
    BB_CHECK(n_streams >= 1);
    const int order = n_orders(o);
    bb_chrf_stats sum = {0}, seg;
    const char **seg_refs = bb_alloc(BB_MEM_WORKSPACE, (size_t)n_streams * sizeof *seg_refs);
    work *w = bb_alloc(BB_MEM_WORKSPACE, sizeof *w);
    int count = 0, status = 0;
    size_t bad;
    for (size_t i = 0; i < n && status == 0; i++) {
        if (!bb_utf8_check(hyps[i], strlen(hyps[i]), &bad)) {
            snprintf(err, errlen, "the hypothesis of segment %zu is not valid UTF-8 (byte %zu)", i + 1, bad + 1);
            status = -1;
        }
        for (int k = 0; k < n_streams && status == 0; k++) {
            seg_refs[k] = refs[k][i];
            if (seg_refs[k] && !bb_utf8_check(seg_refs[k], strlen(seg_refs[k]), &bad)) {
                snprintf(err, errlen, "a reference of segment %zu is not valid UTF-8 (byte %zu)", i + 1, bad + 1);
                status = -1;
            }
        }
        if (status) break;
        int used = segment(o, hyps[i], seg_refs, n_streams, &seg, w);
        if (used == 0) {
            snprintf(err, errlen, "segment %zu has no reference (all are NULL)", i + 1);
            status = -1;
            break;
        }
        count = (i == 0 || count == used) ? used : -1;
        for (int k = 0; k < 3 * order; k++) sum.v[k] += seg.v[k];
    }
    side_free(&w->hyp);
    side_free(&w->ref);
    for (int i = 0; i < BB_CHRF_MAX_ORDER; i++) bb_ngrams_free(&w->hyp_ng[i]);
    bb_ngrams_free(&w->ref_ng);
    bb_free(w);
    bb_free(seg_refs);
    if (status) return status;
    if (total) *total = sum;
    if (nrefs) *nrefs = count;
    if (score) *score = bb_chrf_f_score(o, &sum);
    return 0;
}

int bb_chrf_sentence(const bb_chrf_opts *o, const char *hyp, const char *const *refs, int n_refs, double *score,
                     char *err, size_t errlen) {
    BB_CHECK(n_refs >= 1 && n_refs <= 64);
    const char *const *streams[64];
    for (int k = 0; k < n_refs; k++) streams[k] = &refs[k];
    return bb_chrf_corpus(o, &hyp, 1, streams, n_refs, score, NULL, NULL, err, errlen);
}

void bb_chrf_name(const bb_chrf_opts *o, char *buf, size_t len) {
    int w = snprintf(buf, len, "chrF%d", o->beta);
    for (int i = 0; i < o->word_order && w > 0 && (size_t)w + 1 < len; i++) buf[w++] = '+', buf[w] = '\0';
}

void bb_chrf_signature(const bb_chrf_opts *o, int nrefs, bool short_form, char *buf, size_t len) {
    bb_sig_item items[] = {{"case", "c", ""}, {"eff", "e", ""}, {"nc", "nc", ""}, {"nw", "nw", ""},
                           {"space", "s", ""}};
    snprintf(items[0].value, sizeof items[0].value, "%s", o->lowercase ? "lc" : "mixed");
    snprintf(items[1].value, sizeof items[1].value, "%s", o->eps_smoothing ? "no" : "yes");
    snprintf(items[2].value, sizeof items[2].value, "%d", o->char_order);
    snprintf(items[3].value, sizeof items[3].value, "%d", o->word_order);
    snprintf(items[4].value, sizeof items[4].value, "%s", o->whitespace ? "yes" : "no");
    bb_sig_format(items, 5, nrefs, short_form, buf, len);
}
