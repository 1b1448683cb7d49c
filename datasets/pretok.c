/* pretok.c — see pretok.h. */
#include "pretok.h"
#include <stdbool.h>

enum { CLS_LETTER, CLS_DIGIT, CLS_SPACE, CLS_OTHER };

static bool is_punct_codepoint(uint32_t cp) {
    return cp == 0xB7 || cp == 0x37E || cp == 0x387 || cp == 0xA0 || (cp >= 0x2000 && cp <= 0x206F);
}

/* Class of the character at pos; *clen receives its byte length. Malformed UTF-8
 * bytes are single-byte OTHER characters. */
static int char_class(const uint8_t *s, size_t len, size_t pos, size_t *clen) {
    uint8_t b = s[pos];
    *clen = 1;
    if (b < 0x80) {
        if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '\'') return CLS_LETTER;
        if (b >= '0' && b <= '9') return CLS_DIGIT;
        if (b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f') return CLS_SPACE;
        return CLS_OTHER;
    }
    size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
    if (n == 0 || b >= 0xF8 || pos + n > len) return CLS_OTHER;
    uint32_t cp = b & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[pos + i] & 0xC0) != 0x80) return CLS_OTHER;
        cp = cp << 6 | (s[pos + i] & 0x3F);
    }
    *clen = n;
    return is_punct_codepoint(cp) ? CLS_OTHER : CLS_LETTER;
}

/* Chunks are capped at BB_PRETOK_MAX_CHUNK bytes (at a character boundary) so that
 * BPE's per-chunk work stays bounded on pathological input (a megabyte of spaces). */
static size_t run_end(const uint8_t *s, size_t len, size_t start, size_t pos, int cls) {
    size_t clen;
    while (pos < len && char_class(s, len, pos, &clen) == cls &&
           pos + clen - start <= BB_PRETOK_MAX_CHUNK)
        pos += clen;
    return pos;
}

size_t bb_pretok_next(const uint8_t *s, size_t len, size_t pos) {
    size_t clen, nlen;
    int cls = char_class(s, len, pos, &clen);
    if (cls != CLS_SPACE) return run_end(s, len, pos, pos + clen, cls);
    if (s[pos] == ' ' && pos + 1 < len) {
        int next = char_class(s, len, pos + 1, &nlen);
        if (next != CLS_SPACE) return run_end(s, len, pos, pos + 1 + nlen, next);
    }
    /* A whitespace run; leave its final ' ' to the word that follows, as GPT-2 does. */
    size_t end = run_end(s, len, pos, pos, CLS_SPACE);
    if (end < len && end - pos > 1 && s[end - 1] == ' ') end--;
    return end;
}
