/* tokenize_13a.h — sacreBLEU's default `13a` tokenizer (tokenizer_13a.py +
 * tokenizer_re.py, identical to mteval-v13a.pl NormalizeText without lowercasing); the
 * rules are listed in tokenize_13a.c and specs/evaluation.md §1.2. Declared here and in
 * tokenize.h (which holds the table of all tokenizers). */
#pragma once
#include "tokenize.h"

/* Appends the 13a tokens of s[0..n) (valid UTF-8) to out, joined by single spaces. */
void bb_tokenize_13a(const char *s, size_t n, bb_textbuf *out, bb_tok_work *w);
