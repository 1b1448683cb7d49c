/* mt.c — see mt.h. */
#include "mt.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include "corpus.h"
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void shuffle(int *a, int n, uint64_t *s) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(splitmix(s) % (uint64_t)(i + 1)), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

void bb_mt_data_load(bb_mt_data *d, bb_tokenizer *t, const char *split, int max_seq) {
    memset(d, 0, sizeof *d);
    d->max_seq = max_seq;
    char name_el[32], name_en[32], err[600];
    snprintf(name_el, sizeof name_el, "mt/%s.el", split);
    snprintf(name_en, sizeof name_en, "mt/%s.en", split);
    char *el, *en;
    size_t len_el, len_en;
    if (bb_corpus_read(name_el, &el, &len_el, err, sizeof err) != 0) bb_user_error("%s", err);
    if (bb_corpus_read(name_en, &en, &len_en, err, sizeof err) != 0) bb_user_error("%s", err);
    int cap = 1024;
    size_t ids_cap = 1 << 16, n_ids = 0;
    d->offset = bb_alloc(BB_MEM_DATA, (size_t)(cap + 1) * sizeof *d->offset);
    d->src_len = bb_alloc(BB_MEM_DATA, (size_t)cap * sizeof *d->src_len);
    d->ids = bb_alloc(BB_MEM_DATA, ids_cap * sizeof *d->ids);
    uint32_t *g = NULL, *e = NULL;
    size_t g_cap = 0, e_cap = 0;
    const char *pg = el, *pe = en;
    while (pg < el + len_el && pe < en + len_en) {
        const char *ng = memchr(pg, '\n', (size_t)(el + len_el - pg)), *ne = memchr(pe, '\n', (size_t)(en + len_en - pe));
        BB_CHECK(ng && ne);
        size_t ng_ids = 0, ne_ids = 0;
        bb_tokenizer_encode(t, (const uint8_t *)pg, (size_t)(ng - pg), &g, &ng_ids, &g_cap);
        bb_tokenizer_encode(t, (const uint8_t *)pe, (size_t)(ne - pe), &e, &ne_ids, &e_cap);
        /* BOS g SEP e EOS must fit in max_seq + 1 tokens (rows are length - 1) */
        size_t room = (size_t)max_seq + 1;
        if (ng_ids + ne_ids + 3 > room) {
            d->truncated++;
            if (ne_ids + 3 > room) ne_ids = room - 3 - 1;  /* keep at least one source token */
            ng_ids = room - 3 - ne_ids;
        }
        if (d->n == cap) {
            cap *= 2;
            d->offset = bb_realloc(d->offset, (size_t)(cap + 1) * sizeof *d->offset);
            d->src_len = bb_realloc(d->src_len, (size_t)cap * sizeof *d->src_len);
        }
        size_t need = n_ids + ng_ids + ne_ids + 3;
        if (need > ids_cap) {
            while (need > ids_cap) ids_cap *= 2;
            d->ids = bb_realloc(d->ids, ids_cap * sizeof *d->ids);
        }
        d->offset[d->n] = n_ids;
        d->src_len[d->n] = (int)ng_ids;
        d->ids[n_ids++] = BB_TOK_BOS;
        memcpy(d->ids + n_ids, g, ng_ids * sizeof *g);
        n_ids += ng_ids;
        d->ids[n_ids++] = BB_TOK_SEP;
        memcpy(d->ids + n_ids, e, ne_ids * sizeof *e);
        n_ids += ne_ids;
        d->ids[n_ids++] = BB_TOK_EOS;
        int L = (int)(n_ids - d->offset[d->n]);
        if (L > d->max_len) d->max_len = L;
        d->n++;
        pg = ng + 1;
        pe = ne + 1;
    }
    if (pg < el + len_el || pe < en + len_en) bb_user_error("mt/%s.el and mt/%s.en have different line counts", split, split);
    d->offset[d->n] = n_ids;
    bb_free(g); bb_free(e); bb_free(el); bb_free(en);
}

void bb_mt_data_free(bb_mt_data *d) {
    bb_free(d->ids); bb_free(d->offset); bb_free(d->src_len);
    memset(d, 0, sizeof *d);
}

int bb_mt_row_len(const bb_mt_data *d, int e) { return (int)(d->offset[e + 1] - d->offset[e]) - 1; }

void bb_mt_fill_row(const bb_mt_data *d, int e, int T, int *inputs, int *targets) {
    const uint32_t *s = d->ids + d->offset[e];
    int n = bb_mt_row_len(d, e), first_target = d->src_len[e] + 1;  /* the SEP position predicts English */
    BB_CHECK(n <= T);
    for (int j = 0; j < T; j++) {
        inputs[j] = j < n ? (int)s[j] : BB_TOK_PAD;
        targets[j] = j < n && j >= first_target ? (int)s[j + 1] : -1;
    }
}

enum { CHUNK_BATCHES = 64 };

static int cmp_len_desc(const void *a, const void *b, void *ctx) {
    const bb_mt_data *d = ctx;
    int la = bb_mt_row_len(d, *(const int *)a), lb = bb_mt_row_len(d, *(const int *)b);
    return la != lb ? lb - la : *(const int *)a - *(const int *)b;
}

void bb_mt_loader_init(bb_mt_loader *l, const bb_mt_data *d, int B, uint64_t seed) {
    memset(l, 0, sizeof *l);
    l->d = d;
    l->B = B;
    l->seed = seed;
    l->cached_epoch = -1;
    l->n_batches = (d->n + B - 1) / B;
    l->order = bb_alloc(BB_MEM_DATA, (size_t)d->n * sizeof(int));
    l->batch_order = bb_alloc(BB_MEM_DATA, (size_t)l->n_batches * sizeof(int));
}

void bb_mt_loader_free(bb_mt_loader *l) {
    bb_free(l->order);
    bb_free(l->batch_order);
    memset(l, 0, sizeof *l);
}

int bb_mt_loader_batch(bb_mt_loader *l, long step, int *inputs, int *targets) {
    const bb_mt_data *d = l->d;
    long epoch = step / l->n_batches;
    if (epoch != l->cached_epoch) {
        uint64_t s = l->seed * 0x9e3779b97f4a7c15ull ^ (uint64_t)epoch * 0xd1b54a32d192ed03ull;
        for (int i = 0; i < d->n; i++) l->order[i] = i;
        shuffle(l->order, d->n, &s);
        int chunk = CHUNK_BATCHES * l->B;
        for (int c0 = 0; c0 < d->n; c0 += chunk)
            qsort_r(l->order + c0, (size_t)(d->n - c0 < chunk ? d->n - c0 : chunk), sizeof(int), cmp_len_desc,
                    (void *)d);
        for (int b = 0; b < l->n_batches; b++) l->batch_order[b] = b;
        shuffle(l->batch_order, l->n_batches, &s);
        l->cached_epoch = epoch;
    }
    int b = l->batch_order[step % l->n_batches], first = b * l->B;
    int rows = d->n - first < l->B ? d->n - first : l->B, T = 0;
    for (int r = 0; r < rows; r++) {
        int len = bb_mt_row_len(d, l->order[first + r]);
        T = len > T ? len : T;
    }
    T = (T + 7) / 8 * 8;
    if (T > d->max_seq) T = d->max_seq;
    for (int r = 0; r < l->B; r++) {
        /* a short last batch repeats its first rows with all targets masked */
        if (r < rows) bb_mt_fill_row(d, l->order[first + r], T, inputs + (size_t)r * T, targets + (size_t)r * T);
        else {
            bb_mt_fill_row(d, l->order[first], T, inputs + (size_t)r * T, targets + (size_t)r * T);
            for (int j = 0; j < T; j++) targets[(size_t)r * T + j] = -1;
        }
    }
    return T;
}
