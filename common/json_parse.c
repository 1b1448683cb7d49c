/* json_parse.c — see json_parse.h. A recursive-descent parser over RFC 8259's grammar
 * (https://www.rfc-editor.org/rfc/rfc8259). Every read is guarded by `p < end`, so a
 * truncated or corrupt text is an error, never an out-of-bounds read. Nodes and decoded
 * strings are bump-allocated from an arena of bb_alloc'd chunks. */
#include "json_parse.h"
#include "../engine/alloc.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES 65536

typedef struct chunk {
    struct chunk *prev;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk;

struct bb_json_doc {
    chunk *top;
    bb_json_node *root;
};

typedef struct {
    const unsigned char *start, *p, *end;
    bb_json_doc *doc;
    char *err;
    size_t err_len;
} parser;

static void *arena_alloc(bb_json_doc *doc, size_t bytes) {
    bytes = (bytes + 15) & ~(size_t)15;
    chunk *c = doc->top;
    if (!c || c->cap - c->used < bytes) {
        size_t cap = bytes > CHUNK_BYTES ? bytes : CHUNK_BYTES;
        c = bb_alloc(BB_MEM_OTHER, sizeof(chunk) + cap);
        c->prev = doc->top;
        c->cap = cap;
        c->used = 0;
        doc->top = c;
    }
    void *out = c->data + c->used;
    c->used += bytes;
    return out;  /* zeroed: bb_alloc zeroes and the arena never reuses */
}

static int fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *ps, const char *fmt, ...) {
    if (ps->err && ps->err_len) {
        int n = snprintf(ps->err, ps->err_len, "JSON error at byte %zu: ",
                         (size_t)(ps->p - ps->start));
        if (n >= 0 && (size_t)n < ps->err_len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err + n, ps->err_len - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Length of the UTF-8 sequence at s (at most n bytes available), or 0 if ill-formed. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;  /* allowed range of the second byte (Table 3-7) */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;  /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;  /* nothing past U+10FFFF */
    } else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

bool bb_utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        size_t k = utf8_seq(p, (size_t)(end - p));
        if (!k) return false;
        p += k;
    }
    return true;
}

static int hex4(parser *ps, unsigned *out) {
    if (ps->end - ps->p < 4) return fail(ps, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = ps->p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return fail(ps, "bad hex digit in \\u escape");
        v = v * 16 + d;
    }
    ps->p += 4;
    *out = v;
    return 0;
}

static size_t put_utf8(unsigned char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* At the opening quote. Decoded text never outgrows the raw span, so one allocation of
 * the span's size holds it. */
static int parse_string(parser *ps, const char **out, size_t *out_len) {
    ps->p++;  /* '"' */
    const unsigned char *q = ps->p;
    while (q < ps->end && *q != '"') {
        if (*q == '\\' && ps->end - q < 2) { q = ps->end; break; }
        q += (*q == '\\') ? 2 : 1;
    }
    if (q >= ps->end) return fail(ps, "unterminated string");
    unsigned char *buf = arena_alloc(ps->doc, (size_t)(q - ps->p) + 1), *o = buf;
    while (*ps->p != '"') {
        unsigned c = *ps->p;
        if (c < 0x20) return fail(ps, "control character 0x%02x in string", c);
        if (c != '\\') {
            size_t k = utf8_seq(ps->p, (size_t)(ps->end - ps->p));
            if (!k) return fail(ps, "invalid UTF-8 in string");
            memcpy(o, ps->p, k);
            o += k;
            ps->p += k;
            continue;
        }
        ps->p++;  /* the scan above guarantees a byte after the backslash */
        c = *ps->p++;
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp = 0, lo = 0;
            if (hex4(ps, &cp)) return -1;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(ps, "lone low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
                    return fail(ps, "high surrogate not followed by a \\u low surrogate");
                ps->p += 2;
                if (hex4(ps, &lo)) return -1;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(ps, "high surrogate not followed by a low surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            o += put_utf8(o, cp);
            break;
        }
        default: return fail(ps, "invalid escape '\\%c'", c >= 0x20 && c < 0x7F ? (int)c : '?');
        }
    }
    ps->p++;  /* closing '"' */
    *o = '\0';
    *out = (const char *)buf;
    *out_len = (size_t)(o - buf);
    return 0;
}

static int parse_number(parser *ps, bb_json_node *n) {
    const unsigned char *s = ps->p, *e = ps->end, *q = s;
    bool neg = false, is_int = true;
    if (q < e && *q == '-') { neg = true; q++; }
    if (q >= e || *q < '0' || *q > '9') return fail(ps, "invalid number");
    uint64_t mag = 0;
    bool overflow = false;
    if (*q == '0') q++;
    else
        while (q < e && *q >= '0' && *q <= '9') {
            unsigned d = *q++ - '0';
            if (mag > (UINT64_MAX - d) / 10) overflow = true;
            else mag = mag * 10 + d;
        }
    if (q < e && *q == '.') {
        is_int = false;
        q++;
        if (q >= e || *q < '0' || *q > '9') return fail(ps, "digit expected after '.'");
        while (q < e && *q >= '0' && *q <= '9') q++;
    }
    if (q < e && (*q == 'e' || *q == 'E')) {
        is_int = false;
        q++;
        if (q < e && (*q == '+' || *q == '-')) q++;
        if (q >= e || *q < '0' || *q > '9') return fail(ps, "digit expected in exponent");
        while (q < e && *q >= '0' && *q <= '9') q++;
    }
    size_t len = (size_t)(q - s);
    char small[64], *tmp = len < sizeof small ? small : arena_alloc(ps->doc, len + 1);
    memcpy(tmp, s, len);  /* strtod needs a terminator the input may not have */
    tmp[len] = '\0';
    n->type = BB_JSON_NUMBER;
    n->number = strtod(tmp, NULL);
    if (is_int && !overflow && mag <= (uint64_t)INT64_MAX + neg) {
        n->is_int = true;
        n->integer = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    }
    ps->p = q;
    return 0;
}

static int literal(parser *ps, const char *word) {
    size_t k = strlen(word);
    if ((size_t)(ps->end - ps->p) < k || memcmp(ps->p, word, k) != 0)
        return fail(ps, "unexpected character");
    ps->p += k;
    return 0;
}

static int parse_value(parser *ps, bb_json_node *n, int depth);

static int parse_container(parser *ps, bb_json_node *n, int depth, bool object) {
    if (depth >= BB_JSON_PARSE_MAX_DEPTH)
        return fail(ps, "nesting deeper than %d levels", BB_JSON_PARSE_MAX_DEPTH);
    char close = object ? '}' : ']';
    n->type = object ? BB_JSON_OBJECT : BB_JSON_ARRAY;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) { ps->p++; return 0; }
    bb_json_node **link = &n->child;
    for (;;) {
        bb_json_node *c = arena_alloc(ps->doc, sizeof *c);
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "object key (a string) expected");
            if (parse_string(ps, &c->key, &c->key_len)) return -1;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "':' expected after object key");
            ps->p++;
        }
        if (parse_value(ps, c, depth + 1)) return -1;
        *link = c;
        link = &c->next;
        n->n++;
        skip_ws(ps);
        if (ps->p >= ps->end) return fail(ps, "unterminated %s", object ? "object" : "array");
        if (*ps->p == close) { ps->p++; return 0; }
        if (*ps->p != ',') return fail(ps, "',' or '%c' expected", close);
        ps->p++;
    }
}

static int parse_value(parser *ps, bb_json_node *n, int depth) {
    skip_ws(ps);
    if (ps->p >= ps->end) return fail(ps, "value expected, text ended");
    switch (*ps->p) {
    case '{': return parse_container(ps, n, depth, true);
    case '[': return parse_container(ps, n, depth, false);
    case '"': n->type = BB_JSON_STRING; return parse_string(ps, &n->str, &n->str_len);
    case 't': n->type = BB_JSON_BOOL; n->boolean = true; return literal(ps, "true");
    case 'f': n->type = BB_JSON_BOOL; return literal(ps, "false");
    case 'n': n->type = BB_JSON_NULL; return literal(ps, "null");
    default: return parse_number(ps, n);
    }
}

bb_json_doc *bb_json_parse(const char *text, size_t len, char *err, size_t err_len) {
    bb_json_doc *doc = bb_alloc(BB_MEM_OTHER, sizeof *doc);
    parser ps = {(const unsigned char *)text, (const unsigned char *)text,
                 (const unsigned char *)text + len, doc, err, err_len};
    doc->root = arena_alloc(doc, sizeof *doc->root);
    int rc = parse_value(&ps, doc->root, 0);
    if (rc == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end) rc = fail(&ps, "unexpected data after the JSON value");
    }
    if (rc != 0) { bb_json_doc_free(doc); return NULL; }
    return doc;
}

const bb_json_node *bb_json_doc_root(const bb_json_doc *doc) { return doc->root; }

void bb_json_doc_free(bb_json_doc *doc) {
    if (!doc) return;
    for (chunk *c = doc->top, *prev; c; c = prev) {
        prev = c->prev;
        bb_free(c);
    }
    bb_free(doc);
}

const bb_json_node *bb_json_get(const bb_json_node *obj, const char *key) {
    if (!obj || obj->type != BB_JSON_OBJECT) return NULL;
    size_t k = strlen(key);
    for (const bb_json_node *c = obj->child; c; c = c->next)
        if (c->key_len == k && memcmp(c->key, key, k) == 0) return c;
    return NULL;
}

const char *bb_json_type_name(bb_json_type t) {
    static const char *const names[] = {"null", "a boolean", "a number", "a string", "an array",
                                        "an object"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}
