/* unicode.h — the slice of Python's str semantics that sacreBLEU's BLEU and chrF depend
 * on, over UTF-8 text: strict decoding (what Python's utf-8 codec accepts), the
 * whitespace set of str.split()/str.rstrip() (specs/evaluation.md §1.2), str.lower()
 * (full mapping incl. U+0130 -> "i\u0307" and the Final_Sigma rule of CPython's
 * unicodeobject.c), and the general categories P/S/N for the `intl` tokenizer.
 * Tables come from scripts/gen-unicode-tables (eval/unicode_tables.c), measured from
 * Python 3.11 / unicodedata 14.0 and the `regex` module; characters assigned in later
 * Unicode versions may lower or classify differently from a newer Python.
 * Invariant: every function here takes valid UTF-8 (check with bb_utf8_check first). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable, always NUL-terminated byte buffer (bb_alloc(BB_MEM_WORKSPACE)). */
typedef struct {
    char *p;
    size_t len, cap;
} bb_textbuf;

void bb_textbuf_reserve(bb_textbuf *b, size_t extra);
void bb_textbuf_put(bb_textbuf *b, const char *s, size_t n);
void bb_textbuf_clear(bb_textbuf *b);
void bb_textbuf_free(bb_textbuf *b);
static inline void bb_textbuf_putc(bb_textbuf *b, char c) {
    if (b->len + 2 > b->cap) bb_textbuf_reserve(b, 1);
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

/* Decodes the code point at s[0..n) (n >= 1, valid UTF-8); *len gets its byte count. */
uint32_t bb_utf8_decode(const char *s, size_t n, int *len);
/* Writes cp as UTF-8; returns the byte count (1..4). */
int bb_utf8_encode(uint32_t cp, char out[4]);
void bb_textbuf_put_cp(bb_textbuf *b, uint32_t cp);
/* Strict UTF-8 check (no overlongs, surrogates or values above U+10FFFF), like
 * common/json_parse.h bb_utf8_valid but telling where it fails. On failure
 * returns false and sets *bad to the offset of the first bad byte. */
bool bb_utf8_check(const char *s, size_t n, size_t *bad);

bool bb_uni_isspace(uint32_t cp);       /* Python str.isspace() */
bool bb_uni_is_punct(uint32_t cp);      /* regex \p{P} */
bool bb_uni_is_symbol(uint32_t cp);     /* regex \p{S} */
bool bb_uni_is_number(uint32_t cp);     /* regex \p{N} */
bool bb_uni_is_cased(uint32_t cp);
bool bb_uni_is_case_ignorable(uint32_t cp);
/* The one-code-point lowering of cp (cp itself if none); U+0130 is special in bb_uni_lower. */
uint32_t bb_uni_lower_cp(uint32_t cp);

/* Appends s.lower() to out. */
void bb_uni_lower(const char *s, size_t n, bb_textbuf *out);
/* Length of s.rstrip(). */
size_t bb_uni_rstrip_len(const char *s, size_t n);
/* Appends ' '.join(s.split()) to out (no separator is added before the first token). */
void bb_uni_split_join(const char *s, size_t n, bb_textbuf *out);
/* Appends ''.join(s.split()) to out: s without any whitespace. */
void bb_uni_remove_space(const char *s, size_t n, bb_textbuf *out);

/* Generated tables (eval/unicode_tables.c). */
extern const int32_t bb_uni_lower_runs[][4];
extern const int bb_uni_lower_runs_n;
extern const uint32_t bb_uni_cased[][2], bb_uni_case_ignorable[][2], bb_uni_punct[][2], bb_uni_symbol[][2],
    bb_uni_number[][2];
extern const int bb_uni_cased_n, bb_uni_case_ignorable_n, bb_uni_punct_n, bb_uni_symbol_n, bb_uni_number_n;
