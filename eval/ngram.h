/* ngram.h — n-gram multisets for BLEU and chrF (Python's Counter of tuples in sacreBLEU's
 * metrics/helpers.py). A text is cut into units (words or code points); an n-gram is n
 * consecutive units, held as the byte span from the first unit's start to the last one's
 * end. Units are laid out so that equal spans mean equal unit sequences: words separated
 * by exactly one space (words hold no whitespace), or code points back to back. Each
 * order is counted separately, so spans of different orders are never compared. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t *start, *end;   /* byte offsets of unit i: [start[i], end[i]) */
    size_t n, cap;
} bb_units;

/* Replace u's contents with the space-separated words / the code points of text. */
void bb_units_words(bb_units *u, const char *text, size_t len);
void bb_units_chars(bb_units *u, const char *text, size_t len);
void bb_units_free(bb_units *u);

typedef struct {
    const char *p;           /* into the counted text, which must outlive the set */
    uint32_t len, count;
} bb_ngram;

typedef struct {
    bb_ngram *v;             /* distinct n-grams, sorted by (len, bytes) */
    size_t n, cap;
    int64_t total;           /* sum of counts = max(0, units - order + 1) */
} bb_ngrams;

/* Replaces g's contents with the n-grams of the given order in text. */
void bb_ngrams_build(bb_ngrams *g, const char *text, const bb_units *u, int order);
/* Count of an n-gram given by its bytes (0 if absent). */
uint32_t bb_ngrams_count(const bb_ngrams *g, const char *p, uint32_t len);
/* Clipped matches: the sum over hyp's n-grams of min(count in hyp, count in ref). */
int64_t bb_ngrams_matches(const bb_ngrams *hyp, const bb_ngrams *ref);
void bb_ngrams_free(bb_ngrams *g);
