/* tokenize_intl.c — sacreBLEU 2.6.0 `intl` (tokenizer_intl.py, after mteval-v14.pl's
 * international tokenization): three regex-module substitutions on code points, then
 * ' '.join(line.split()):
 *   (\P{N})(\p{P}) -> '\1 \2 '   punctuation preceded by a non-number
 *   (\p{P})(\P{N}) -> ' \1 \2'   punctuation followed by a non-number
 *   (\p{S})        -> ' \1 '     every symbol
 * No padding is added (unlike 13a), so "2018." keeps its period, as in mteval-v14. The
 * P/S/N sets are those of the `regex` module (eval/unicode_tables.c). */
#include "tokenize.h"

static bool not_number(uint32_t c) { return !bb_uni_is_number(c); }

static const bb_tok_rule rules[] = {
    {not_number, bb_uni_is_punct, "\001 \002 "},
    {bb_uni_is_punct, not_number, " \001 \002"},
    {bb_uni_is_symbol, NULL, " \001 "},
};

void bb_tokenize_intl(const char *s, size_t n, bb_textbuf *out, bb_tok_work *w) {
    bb_textbuf *cur = &w->a, *next = &w->b, *t;
    bb_textbuf_clear(cur);
    bb_textbuf_put(cur, s, n);
    for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++) {
        bb_tok_apply(&rules[k], cur->p, cur->len, next);
        t = cur, cur = next, next = t;
    }
    bb_uni_split_join(cur->p, cur->len, out);
}
