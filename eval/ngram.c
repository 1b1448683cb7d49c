/* ngram.c — see ngram.h. Counting sorts the spans and collapses equal runs; lookups are
 * binary searches. Sentences are short, so this beats hashing on simplicity at equal cost. */
#include "ngram.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include "unicode.h"
#include <stdlib.h>
#include <string.h>

static void units_push(bb_units *u, size_t start, size_t end) {
    BB_CHECK(end <= UINT32_MAX);
    if (u->n == u->cap) {
        size_t cap = u->cap ? 2 * u->cap : 64;
        u->start = u->start ? bb_realloc(u->start, cap * sizeof *u->start)
                            : bb_alloc(BB_MEM_WORKSPACE, cap * sizeof *u->start);
        u->end = u->end ? bb_realloc(u->end, cap * sizeof *u->end) : bb_alloc(BB_MEM_WORKSPACE, cap * sizeof *u->end);
        u->cap = cap;
    }
    u->start[u->n] = (uint32_t)start;
    u->end[u->n++] = (uint32_t)end;
}

void bb_units_words(bb_units *u, const char *text, size_t len) {
    u->n = 0;
    for (size_t i = 0; i < len;) {
        if (text[i] == ' ') { i++; continue; }
        size_t j = i;
        while (j < len && text[j] != ' ') j++;
        units_push(u, i, j);
        i = j;
    }
}

void bb_units_chars(bb_units *u, const char *text, size_t len) {
    u->n = 0;
    for (size_t i = 0; i < len;) {
        int l;
        bb_utf8_decode(text + i, len - i, &l);
        units_push(u, i, i + (size_t)l);
        i += (size_t)l;
    }
}

void bb_units_free(bb_units *u) {
    bb_free(u->start);
    bb_free(u->end);
    *u = (bb_units){0};
}

static int cmp_key(const char *a, uint32_t alen, const char *b, uint32_t blen) {
    if (alen != blen) return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

static int cmp_ngram(const void *x, const void *y) {
    const bb_ngram *a = x, *b = y;
    return cmp_key(a->p, a->len, b->p, b->len);
}

void bb_ngrams_build(bb_ngrams *g, const char *text, const bb_units *u, int order) {
    BB_CHECK(order >= 1);
    size_t m = u->n >= (size_t)order ? u->n - (size_t)order + 1 : 0;
    if (m > g->cap) {
        bb_free(g->v);
        g->cap = m * 2;
        g->v = bb_alloc(BB_MEM_WORKSPACE, g->cap * sizeof *g->v);
    }
    for (size_t i = 0; i < m; i++)
        g->v[i] = (bb_ngram){text + u->start[i], u->end[i + (size_t)order - 1] - u->start[i], 1};
    if (m > 1) qsort(g->v, m, sizeof *g->v, cmp_ngram);
    size_t n = 0;
    for (size_t i = 0; i < m; i++) {
        if (n && cmp_ngram(&g->v[n - 1], &g->v[i]) == 0) g->v[n - 1].count++;
        else g->v[n++] = g->v[i];
    }
    g->n = n;
    g->total = (int64_t)m;
}

uint32_t bb_ngrams_count(const bb_ngrams *g, const char *p, uint32_t len) {
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key(g->v[mid].p, g->v[mid].len, p, len);
        if (c == 0) return g->v[mid].count;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

int64_t bb_ngrams_matches(const bb_ngrams *hyp, const bb_ngrams *ref) {
    int64_t m = 0;
    for (size_t i = 0; i < hyp->n; i++) {
        uint32_t r = bb_ngrams_count(ref, hyp->v[i].p, hyp->v[i].len);
        m += hyp->v[i].count < r ? hyp->v[i].count : r;
    }
    return m;
}

void bb_ngrams_free(bb_ngrams *g) {
    bb_free(g->v);
    *g = (bb_ngrams){0};
}
