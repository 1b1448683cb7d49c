/* tokenize.h — sacreBLEU's BLEU tokenizers (sacrebleu/tokenizers/, v2.6.0): `13a`
 * (default, mteval-v13a), `intl` (mteval-v14 international), `char` and `none`, looked up
 * by name from one table. Every tokenizer here writes its tokens joined by single spaces
 * with no leading or trailing space, i.e. ' '.join(tokenizer(line).split()) — exactly
 * what BLEU's n-gram extraction sees (for 13a and intl that is the tokenizer's own output).
 * Input must be valid UTF-8 (eval/unicode.h). */
#pragma once
#include "unicode.h"

typedef enum { BB_TOK_13A, BB_TOK_NONE, BB_TOK_INTL, BB_TOK_CHAR, BB_TOK_COUNT } bb_tok_kind;

/* Returns the tokenizer named name, or -1. */
int bb_tok_find(const char *name);
const char *bb_tok_name(bb_tok_kind kind);     /* also its signature string */
const char *bb_tok_names(void);                /* "13a|none|intl|char" for messages */

/* Scratch space reused across calls (bb_tok_work_free releases it). */
typedef struct {
    bb_textbuf a, b;
} bb_tok_work;
void bb_tok_work_free(bb_tok_work *w);

/* Replaces out's contents with the tokens of s[0..n). */
void bb_tokenize(bb_tok_kind kind, const char *s, size_t n, bb_textbuf *out, bb_tok_work *w);

/* --- shared by the implementations ------------------------------------------------------
 * A substitution like Python's re.sub for the patterns (A) or (A)(B), A and B single
 * characters: scanning left to right, a match emits the template (bytes \1 and \2 stand
 * for the two groups) and scanning resumes after it; matches never overlap. */
typedef bool (*bb_cp_pred)(uint32_t cp);
typedef struct {
    bb_cp_pred first, second;   /* second NULL: one-character pattern */
    const char *tmpl;           /* e.g. "\001 \002 " */
} bb_tok_rule;
void bb_tok_apply(const bb_tok_rule *r, const char *s, size_t n, bb_textbuf *out);

void bb_tokenize_13a(const char *s, size_t n, bb_textbuf *out, bb_tok_work *w);
void bb_tokenize_intl(const char *s, size_t n, bb_textbuf *out, bb_tok_work *w);
