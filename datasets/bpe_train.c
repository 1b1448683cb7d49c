/* bpe_train.c — deterministic BPE training with incremental pair counts.
 *
 * Text is cut into pre-token chunks (pretok.h) and counted; each distinct chunk is a
 * "word" with a frequency. Pair counts are kept in a hash map, a max-heap with lazy
 * invalidation picks the most frequent pair, and each merge touches only the words
 * that contain the pair (found through per-pair occurrence lists), as in
 * HuggingFace tokenizers' BpeTrainer. No merge rescans the corpus.
 *
 * Why lazy invalidation is exact: a merge (a,b)->z only removes occurrences of pairs
 * of old ids and creates pairs that contain z. So counts of existing pairs only fall,
 * a heap entry's count is an upper bound, and a popped entry whose count is current
 * is the true maximum. Ties go to the smaller (left, right) key. */
#include "../engine/alloc.h"
#include "bpe.h"
#include "pretok.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    uint32_t *sym;    /* points into the symbol arena */
    uint32_t len;
    uint32_t stamp;   /* last merge that touched this word */
    int64_t count;
} word;

typedef struct {
    uint64_t key;
    int64_t count;
    uint32_t occ_head;   /* occurrence list: node index + 1, 0 = empty */
    uint32_t stamp;
} pair_stat;

typedef struct {
    uint32_t word, next;
} occ_node;

typedef struct {
    int64_t count;
    uint32_t pair;
} heap_entry;

typedef struct {
    word *words;
    size_t n_words;
    bb_u64map pair_index;   /* key -> index into pairs */
    pair_stat *pairs;
    size_t n_pairs, pairs_cap;
    occ_node *occ;
    size_t n_occ, occ_cap;
    heap_entry *heap;
    size_t heap_len, heap_cap;
    uint32_t *touched;      /* pairs containing the new id, to push after a merge */
    size_t n_touched, touched_cap;
} trainer;

static uint64_t key_of(uint32_t a, uint32_t b) { return (uint64_t)a << 32 | b; }

static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    p = p ? bb_realloc(p, c * elem) : bb_alloc(BB_MEM_DATA, c * elem);
    *cap = c;
    return p;
}

/* ---- heap: max by count, then min by pair key ------------------------------------- */

static int heap_before(const trainer *tr, heap_entry x, heap_entry y) {
    if (x.count != y.count) return x.count > y.count;
    return tr->pairs[x.pair].key < tr->pairs[y.pair].key;
}

static void heap_push(trainer *tr, int64_t count, uint32_t pair) {
    tr->heap = grow(tr->heap, &tr->heap_cap, tr->heap_len + 1, sizeof *tr->heap);
    size_t i = tr->heap_len++;
    heap_entry e = {count, pair};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_before(tr, e, tr->heap[parent])) break;
        tr->heap[i] = tr->heap[parent];
        i = parent;
    }
    tr->heap[i] = e;
}

static heap_entry heap_pop(trainer *tr) {
    heap_entry top = tr->heap[0], last = tr->heap[--tr->heap_len];
    size_t i = 0, n = tr->heap_len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(tr, tr->heap[c + 1], tr->heap[c])) c++;
        if (!heap_before(tr, tr->heap[c], last)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    if (n) tr->heap[i] = last;
    return top;
}

/* ---- pair statistics -------------------------------------------------------------- */

static uint32_t pair_get(trainer *tr, uint32_t a, uint32_t b) {
    uint32_t *idx = bb_u64map_upsert(&tr->pair_index, key_of(a, b), UINT32_MAX);
    if (*idx == UINT32_MAX) {
        tr->pairs = grow(tr->pairs, &tr->pairs_cap, tr->n_pairs + 1, sizeof *tr->pairs);
        *idx = (uint32_t)tr->n_pairs;
        tr->pairs[tr->n_pairs++] = (pair_stat){.key = key_of(a, b)};
    }
    return *idx;
}

/* Adds delta occurrences of each adjacent pair in w. When adding, w joins the pair's
 * occurrence list (once per word and merge: the list head is checked). */
static void count_word_pairs(trainer *tr, uint32_t w, int sign, uint32_t new_id, uint32_t stamp) {
    const word *wd = &tr->words[w];
    for (uint32_t i = 0; i + 1 < wd->len; i++) {
        uint32_t p = pair_get(tr, wd->sym[i], wd->sym[i + 1]);
        pair_stat *ps = &tr->pairs[p];
        ps->count += sign * wd->count;
        if (sign < 0) continue;
        if (!ps->occ_head || tr->occ[ps->occ_head - 1].word != w) {
            tr->occ = grow(tr->occ, &tr->occ_cap, tr->n_occ + 1, sizeof *tr->occ);
            tr->occ[tr->n_occ] = (occ_node){w, ps->occ_head};
            ps->occ_head = (uint32_t)++tr->n_occ;
            ps = &tr->pairs[p];
        }
        if ((wd->sym[i] == new_id || wd->sym[i + 1] == new_id) && ps->stamp != stamp) {
            ps->stamp = stamp;
            tr->touched = grow(tr->touched, &tr->touched_cap, tr->n_touched + 1, sizeof *tr->touched);
            tr->touched[tr->n_touched++] = p;
        }
    }
}

static int word_has_pair(const word *wd, uint32_t a, uint32_t b) {
    for (uint32_t i = 0; i + 1 < wd->len; i++)
        if (wd->sym[i] == a && wd->sym[i + 1] == b) return 1;
    return 0;
}

/* Counts pre-token chunks and turns each distinct chunk into a word of byte ids.
 * *arena_out receives the symbol storage the words point into. */
static word *collect_words(const char *const *texts, const size_t *lens, int n_texts,
                           size_t *n_words, uint32_t **arena_out) {
    bb_strmap chunks;
    bb_strmap_init(&chunks, 1 << 16);
    for (int k = 0; k < n_texts; k++) {
        const uint8_t *s = (const uint8_t *)texts[k];
        for (size_t pos = 0; pos < lens[k];) {
            size_t end = bb_pretok_next(s, lens[k], pos);
            chunks.vals[bb_strmap_upsert(&chunks, s + pos, end - pos, 0)]++;
            pos = end;
        }
    }
    *n_words = chunks.len;
    word *words = bb_alloc(BB_MEM_DATA, (chunks.len + 1) * sizeof *words);
    uint32_t *arena = bb_alloc(BB_MEM_DATA, (chunks.arena_len + 1) * sizeof *arena);
    for (size_t w = 0, off = 0; w < chunks.len; w++) {
        const uint8_t *key = bb_strmap_key(&chunks, w);
        word *wd = &words[w];
        wd->sym = arena + off;
        wd->len = chunks.key_len[w];
        wd->count = chunks.vals[w];
        for (uint32_t i = 0; i < wd->len; i++) wd->sym[i] = BB_TOK_BYTE0 + key[i];
        off += wd->len;
    }
    bb_strmap_free(&chunks);
    *arena_out = arena;
    return words;
}

static void merge_word(word *wd, uint32_t a, uint32_t b, uint32_t z) {
    uint32_t out = 0;
    for (uint32_t i = 0; i < wd->len; i++) {
        if (i + 1 < wd->len && wd->sym[i] == a && wd->sym[i + 1] == b) { wd->sym[out++] = z; i++; }
        else wd->sym[out++] = wd->sym[i];
    }
    wd->len = out;
}

static void apply_merge(trainer *tr, uint32_t p, uint32_t z, uint32_t stamp) {
    uint32_t a = (uint32_t)(tr->pairs[p].key >> 32), b = (uint32_t)tr->pairs[p].key;
    tr->n_touched = 0;
    for (uint32_t node = tr->pairs[p].occ_head; node; node = tr->occ[node - 1].next) {
        uint32_t w = tr->occ[node - 1].word;
        word *wd = &tr->words[w];
        if (wd->stamp == stamp || !word_has_pair(wd, a, b)) continue;
        wd->stamp = stamp;
        count_word_pairs(tr, w, -1, z, stamp);
        merge_word(wd, a, b, z);
        count_word_pairs(tr, w, +1, z, stamp);
    }
    for (size_t i = 0; i < tr->n_touched; i++) {
        uint32_t q = tr->touched[i];
        if (tr->pairs[q].count > 0) heap_push(tr, tr->pairs[q].count, q);
    }
}

/* The incremental trainer (see the top of this file). */
void bb_tokenizer_train(bb_tokenizer *t, const char *const *texts, const size_t *lens,
                        int n_texts, int vocab_size, bool verbose) {
    /* 1. Words from chunk counts. */
    trainer tr = {0};
    uint32_t *arena;
    tr.words = collect_words(texts, lens, n_texts, &tr.n_words, &arena);
    /* 2. Initial pair counts and heap. */
    bb_u64map_init(&tr.pair_index, 1 << 16);
    for (size_t w = 0; w < tr.n_words; w++) count_word_pairs(&tr, (uint32_t)w, +1, UINT32_MAX, 0);
    for (size_t p = 0; p < tr.n_pairs; p++) heap_push(&tr, tr.pairs[p].count, (uint32_t)p);
    /* 3. Merge until the vocabulary is full or no pair occurs twice. */
    int max_merges = vocab_size - BB_TOK_FIRST_MERGE;
    bb_bpe_merge *merges = bb_alloc(BB_MEM_DATA, (size_t)(max_merges + 1) * sizeof *merges);
    int n_merges = 0;
    while (n_merges < max_merges && tr.heap_len > 0) {
        heap_entry top = heap_pop(&tr);
        int64_t current = tr.pairs[top.pair].count;
        if (top.count != current) {           /* stale: re-queue with the true count */
            if (current > 0) heap_push(&tr, current, top.pair);
            continue;
        }
        if (current < 2) break;
        uint64_t key = tr.pairs[top.pair].key;
        merges[n_merges] = (bb_bpe_merge){(uint32_t)(key >> 32), (uint32_t)key};
        apply_merge(&tr, top.pair, BB_TOK_FIRST_MERGE + (uint32_t)n_merges, (uint32_t)n_merges + 1);
        n_merges++;
        if (verbose && (n_merges % 500 == 0 || n_merges == max_merges))
            fprintf(stderr, "  merges %d/%d (last pair count %lld)\n", n_merges, max_merges,
                    (long long)current);
    }
    if (verbose && n_merges < max_merges)
        fprintf(stderr, "  stopped at %d merges: no pair occurs twice\n", n_merges);
    bb_tokenizer_init(t, merges, n_merges);
    bb_free(merges);
    bb_free(arena);
    bb_free(tr.words);
    bb_u64map_free(&tr.pair_index);
    bb_free(tr.pairs); bb_free(tr.occ); bb_free(tr.heap); bb_free(tr.touched);
}

/* The scalar reference (DESIGN.md: every kernel keeps one): recount every pair of every
 * word before each merge. O(merges x corpus), only for tests; it must produce exactly
 * the merges of the incremental trainer. */
void bb_tokenizer_train_ref(bb_tokenizer *t, const char *const *texts, const size_t *lens,
                            int n_texts, int vocab_size) {
    size_t n_words;
    uint32_t *arena;
    word *words = collect_words(texts, lens, n_texts, &n_words, &arena);
    int max_merges = vocab_size - BB_TOK_FIRST_MERGE, n_merges = 0;
    bb_bpe_merge *merges = bb_alloc(BB_MEM_DATA, (size_t)(max_merges + 1) * sizeof *merges);
    while (n_merges < max_merges) {
        bb_u64map counts;
        bb_u64map_init(&counts, 1 << 16);
        int64_t *totals = NULL;  /* per pair; counts may exceed the map's u32 values */
        size_t n_tot = 0, cap_tot = 0;
        for (size_t w = 0; w < n_words; w++)
            for (uint32_t i = 0; i + 1 < words[w].len; i++) {
                uint32_t *idx = bb_u64map_upsert(&counts, key_of(words[w].sym[i], words[w].sym[i + 1]), UINT32_MAX);
                if (*idx == UINT32_MAX) {
                    totals = grow(totals, &cap_tot, n_tot + 1, sizeof *totals);
                    totals[n_tot] = 0;
                    *idx = (uint32_t)n_tot++;
                }
                totals[*idx] += words[w].count;
            }
        uint64_t best_key = 0;
        int64_t best = 0;
        for (size_t s = 0; s < counts.cap; s++) {
            if (!counts.used[s]) continue;
            int64_t c = totals[counts.vals[s]];
            if (c > best || (c == best && counts.keys[s] < best_key)) { best = c; best_key = counts.keys[s]; }
        }
        bb_u64map_free(&counts);
        bb_free(totals);
        if (best < 2) break;
        uint32_t a = (uint32_t)(best_key >> 32), b = (uint32_t)best_key;
        merges[n_merges] = (bb_bpe_merge){a, b};
        for (size_t w = 0; w < n_words; w++) merge_word(&words[w], a, b, BB_TOK_FIRST_MERGE + (uint32_t)n_merges);
        n_merges++;
    }
    bb_tokenizer_init(t, merges, n_merges);
    bb_free(merges);
    bb_free(arena);
    bb_free(words);
}
