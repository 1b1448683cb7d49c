/* tokenize_13a.c — sacreBLEU 2.6.0 `13a` (tokenizer_13a.py, tokenizer_re.py):
 *   1. str.replace '<skipped>' -> '', '-\n' -> '', '\n' -> ' ';
 *   2. only if the line holds '&': '&quot;' -> '"', '&amp;' -> '&', '&lt;' -> '<',
 *      '&gt;' -> '>' in that order (so '&amp;quot;' ends as '&quot;');
 *   3. pad with one space each side, then four re.sub rules in order (below);
 *   4. ' '.join(line.split()) with Python's Unicode whitespace.
 * Every class in the rules is ASCII, so matching them on code points (as Python does) or
 * on bytes gives the same result; the engine (tokenize.c) works on code points. */
#include "tokenize_13a.h"
#include <string.h>

typedef struct {
    const char *from, *to;
} replacement;

static const replacement always[] = {{"<skipped>", ""}, {"-\n", ""}, {"\n", " "}};
static const replacement entities[] = {{"&quot;", "\""}, {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}};

/* Python str.replace: non-overlapping, left to right, no rescanning of the output. */
static void replace(const char *s, size_t n, const replacement *r, bb_textbuf *out) {
    size_t flen = strlen(r->from), tlen = strlen(r->to);
    bb_textbuf_clear(out);
    for (size_t i = 0; i < n;) {
        if (i + flen <= n && memcmp(s + i, r->from, flen) == 0) {
            bb_textbuf_put(out, r->to, tlen);
            i += flen;
        } else {
            bb_textbuf_putc(out, s[i++]);
        }
    }
}

/* r'([\{-\~\[-\` -\&\(-\+\:-\@\/])': { | } ~  [ \ ] ^ _ `  space ! " # $ % &  ( ) * +
 * : ; < = > ? @  / — not apostrophe, hyphen, period, comma, digits or letters. */
static bool is_symbol(uint32_t c) {
    return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') || (c >= '(' && c <= '+') ||
           (c >= ':' && c <= '@') || c == '/';
}
static bool is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static bool not_digit(uint32_t c) { return !is_digit(c); }
static bool is_period_comma(uint32_t c) { return c == '.' || c == ','; }
static bool is_dash(uint32_t c) { return c == '-'; }

static const bb_tok_rule rules[] = {
    {is_symbol, NULL, " \001 "},                   /* split the symbols above */
    {not_digit, is_period_comma, "\001 \002 "},    /* period/comma unless preceded by a digit */
    {is_period_comma, not_digit, " \001 \002"},    /* period/comma unless followed by a digit */
    {is_digit, is_dash, "\001 \002 "},             /* dash when preceded by a digit */
};

void bb_tokenize_13a(const char *s, size_t n, bb_textbuf *out, bb_tok_work *w) {
    bb_textbuf *cur = &w->a, *next = &w->b, *t;
    bb_textbuf_clear(cur);
    bb_textbuf_put(cur, s, n);
    for (size_t k = 0; k < sizeof always / sizeof always[0]; k++) {
        replace(cur->p, cur->len, &always[k], next);
        t = cur, cur = next, next = t;
    }
    if (memchr(cur->p, '&', cur->len))
        for (size_t k = 0; k < sizeof entities / sizeof entities[0]; k++) {
            replace(cur->p, cur->len, &entities[k], next);
            t = cur, cur = next, next = t;
        }
    bb_textbuf_clear(next);
    bb_textbuf_putc(next, ' ');
    bb_textbuf_put(next, cur->p, cur->len);
    bb_textbuf_putc(next, ' ');
    t = cur, cur = next, next = t;
    for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++) {
        bb_tok_apply(&rules[k], cur->p, cur->len, next);
        t = cur, cur = next, next = t;
    }
    bb_uni_split_join(cur->p, cur->len, out);
}
