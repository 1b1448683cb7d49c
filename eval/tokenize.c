/* tokenize.c — the tokenizer table, `none` and `char`, and the re.sub-style rule engine
 * that `13a` (tokenize_13a.c) and `intl` (tokenize_intl.c) are written in. */
#include "tokenize.h"
#include <string.h>

/* sacrebleu/tokenizers/tokenizer_none.py: the line unchanged (BLEU then splits it). */
static void tok_none(const char *s, size_t n, bb_textbuf *out, bb_tok_work *w) {
    (void)w;
    bb_uni_split_join(s, n, out);
}

/* sacrebleu/tokenizers/tokenizer_char.py: " ".join(chars), so every non-whitespace code
 * point is one token. */
static void tok_char(const char *s, size_t n, bb_textbuf *out, bb_tok_work *w) {
    bb_textbuf_clear(&w->a);
    bb_uni_remove_space(s, n, &w->a);
    for (size_t i = 0; i < w->a.len;) {
        int len;
        bb_utf8_decode(w->a.p + i, w->a.len - i, &len);
        if (i) bb_textbuf_putc(out, ' ');
        bb_textbuf_put(out, w->a.p + i, (size_t)len);
        i += (size_t)len;
    }
}

static const struct {
    const char *name;
    void (*fn)(const char *s, size_t n, bb_textbuf *out, bb_tok_work *w);
} tokenizers[BB_TOK_COUNT] = {
    [BB_TOK_13A] = {"13a", bb_tokenize_13a},
    [BB_TOK_NONE] = {"none", tok_none},
    [BB_TOK_INTL] = {"intl", bb_tokenize_intl},
    [BB_TOK_CHAR] = {"char", tok_char},
};

int bb_tok_find(const char *name) {
    for (int k = 0; k < BB_TOK_COUNT; k++)
        if (strcmp(tokenizers[k].name, name) == 0) return k;
    return -1;
}

const char *bb_tok_name(bb_tok_kind kind) { return tokenizers[kind].name; }
const char *bb_tok_names(void) { return "13a|none|intl|char"; }

void bb_tok_work_free(bb_tok_work *w) {
    bb_textbuf_free(&w->a);
    bb_textbuf_free(&w->b);
}

void bb_tokenize(bb_tok_kind kind, const char *s, size_t n, bb_textbuf *out, bb_tok_work *w) {
    bb_textbuf_clear(out);
    tokenizers[kind].fn(s, n, out, w);
}

static void put_template(bb_textbuf *out, const char *tmpl, const char *g1, int l1, const char *g2, int l2) {
    for (const char *t = tmpl; *t; t++) {
        if (*t == '\001') bb_textbuf_put(out, g1, (size_t)l1);
        else if (*t == '\002') bb_textbuf_put(out, g2, (size_t)l2);
        else bb_textbuf_putc(out, *t);
    }
}

void bb_tok_apply(const bb_tok_rule *r, const char *s, size_t n, bb_textbuf *out) {
    bb_textbuf_clear(out);
    bb_textbuf_reserve(out, n + n / 2);
    for (size_t i = 0; i < n;) {
        int l1, l2 = 0;
        uint32_t c1 = bb_utf8_decode(s + i, n - i, &l1);
        if (r->first(c1)) {
            if (!r->second) {
                put_template(out, r->tmpl, s + i, l1, NULL, 0);
                i += (size_t)l1;
                continue;
            }
            if (i + (size_t)l1 < n) {
                uint32_t c2 = bb_utf8_decode(s + i + l1, n - i - (size_t)l1, &l2);
                if (r->second(c2)) {
                    put_template(out, r->tmpl, s + i, l1, s + i + l1, l2);
                    i += (size_t)(l1 + l2);
                    continue;
                }
            }
        }
        bb_textbuf_put(out, s + i, (size_t)l1);
        i += (size_t)l1;
    }
}
