/* unicode.c — see unicode.h. The lowering follows CPython's lower_ucs4() and
 * handle_capital_sigma() (Objects/unicodeobject.c): U+03A3 becomes final sigma U+03C2
 * when preceded by a cased letter and not followed by one, case-ignorable characters
 * being skipped in both directions, all judged on the input string. */
#include "unicode.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include <string.h>

void bb_textbuf_reserve(bb_textbuf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->p = b->p ? bb_realloc(b->p, cap) : bb_alloc(BB_MEM_WORKSPACE, cap);
    b->cap = cap;
}

void bb_textbuf_put(bb_textbuf *b, const char *s, size_t n) {
    bb_textbuf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void bb_textbuf_clear(bb_textbuf *b) {
    bb_textbuf_reserve(b, 0);
    b->len = 0;
    b->p[0] = '\0';
}

void bb_textbuf_free(bb_textbuf *b) {
    bb_free(b->p);
    *b = (bb_textbuf){0};
}

/* --- UTF-8 ---------------------------------------------------------------------------- */

uint32_t bb_utf8_decode(const char *s, size_t n, int *len) {
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80 || n < 2) { *len = 1; return u[0]; }
    if (u[0] < 0xE0) { *len = 2; return (uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F); }
    if (u[0] < 0xF0 || n < 4) {
        *len = 3;
        return (uint32_t)(u[0] & 0x0F) << 12 | (uint32_t)(u[1] & 0x3F) << 6 | (u[2] & 0x3F);
    }
    *len = 4;
    return (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3F) << 12 | (uint32_t)(u[2] & 0x3F) << 6 |
           (u[3] & 0x3F);
}

int bb_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

void bb_textbuf_put_cp(bb_textbuf *b, uint32_t cp) {
    char tmp[4];
    bb_textbuf_put(b, tmp, (size_t)bb_utf8_encode(cp, tmp));
}

/* Unicode Table 3-7 (well-formed byte sequences): the second byte's range depends on the
 * lead byte; later bytes are 80..BF. */
bool bb_utf8_check(const char *s, size_t n, size_t *bad) {
    const unsigned char *u = (const unsigned char *)s;
    static const struct { unsigned char lead_lo, lead_hi, len, second_lo, second_hi; } forms[] = {
        {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF}, {0xE1, 0xEC, 3, 0x80, 0xBF},
        {0xED, 0xED, 3, 0x80, 0x9F}, {0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
        {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F},
    };
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) { i++; continue; }
        int f = -1;
        for (int k = 0; k < (int)(sizeof forms / sizeof forms[0]); k++)
            if (u[i] >= forms[k].lead_lo && u[i] <= forms[k].lead_hi) f = k;
        bool ok = f >= 0 && i + forms[f].len <= n && u[i + 1] >= forms[f].second_lo && u[i + 1] <= forms[f].second_hi;
        for (int k = 2; ok && k < forms[f].len; k++) ok = (u[i + k] & 0xC0) == 0x80;
        if (!ok) { *bad = i; return false; }
        i += forms[f].len;
    }
    return true;
}

/* --- character classes ---------------------------------------------------------------- */

/* Python's str.isspace(); scripts/gen-unicode-tables asserts this list. */
bool bb_uni_isspace(uint32_t cp) {
    if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static bool in_ranges(const uint32_t (*r)[2], int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid][0]) hi = mid - 1;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return true;
    }
    return false;
}

bool bb_uni_is_punct(uint32_t cp) { return in_ranges(bb_uni_punct, bb_uni_punct_n, cp); }
bool bb_uni_is_symbol(uint32_t cp) { return in_ranges(bb_uni_symbol, bb_uni_symbol_n, cp); }
bool bb_uni_is_number(uint32_t cp) { return in_ranges(bb_uni_number, bb_uni_number_n, cp); }
bool bb_uni_is_cased(uint32_t cp) { return in_ranges(bb_uni_cased, bb_uni_cased_n, cp); }
bool bb_uni_is_case_ignorable(uint32_t cp) {
    return in_ranges(bb_uni_case_ignorable, bb_uni_case_ignorable_n, cp);
}

uint32_t bb_uni_lower_cp(uint32_t cp) {
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    int lo = 0, hi = bb_uni_lower_runs_n - 1, found = -1;
    while (lo <= hi) {  /* last run starting at or before cp */
        int mid = (lo + hi) / 2;
        if ((uint32_t)bb_uni_lower_runs[mid][0] <= cp) { found = mid; lo = mid + 1; }
        else hi = mid - 1;
    }
    if (found < 0) return cp;
    const int32_t *r = bb_uni_lower_runs[found];
    uint32_t off = cp - (uint32_t)r[0];
    if (off % (uint32_t)r[2] != 0 || off / (uint32_t)r[2] >= (uint32_t)r[1]) return cp;
    return (uint32_t)((int32_t)cp + r[3]);
}

/* --- str.lower(), rstrip(), split() ---------------------------------------------------- */

/* Start of the code point that ends just before byte offset i. */
static size_t prev_cp(const char *s, size_t i) {
    do i--;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80);
    return i;
}

static bool final_sigma(const char *s, size_t n, size_t at, size_t after) {
    uint32_t c = 0;
    bool found = false;
    for (size_t j = at; j > 0;) {
        j = prev_cp(s, j);
        int len;
        c = bb_utf8_decode(s + j, n - j, &len);
        if (!bb_uni_is_case_ignorable(c)) { found = true; break; }
    }
    if (!found || !bb_uni_is_cased(c)) return false;
    for (size_t j = after; j < n;) {
        int len;
        c = bb_utf8_decode(s + j, n - j, &len);
        if (!bb_uni_is_case_ignorable(c)) return !bb_uni_is_cased(c);
        j += (size_t)len;
    }
    return true;
}

void bb_uni_lower(const char *s, size_t n, bb_textbuf *out) {
    bb_textbuf_reserve(out, n);
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x80) { bb_textbuf_putc(out, (char)(b >= 'A' && b <= 'Z' ? b + 32 : b)); i++; continue; }
        int len;
        uint32_t cp = bb_utf8_decode(s + i, n - i, &len);
        if (cp == 0x130) {
            bb_textbuf_put(out, "i\xCC\x87", 3);  /* U+0069 U+0307 */
        } else if (cp == 0x3A3) {
            bb_textbuf_put_cp(out, final_sigma(s, n, i, i + (size_t)len) ? 0x3C2 : 0x3C3);
        } else {
            bb_textbuf_put_cp(out, bb_uni_lower_cp(cp));
        }
        i += (size_t)len;
    }
}

/* Byte length of the whitespace code point at s[i], or 0. */
static int space_at(const char *s, size_t n, size_t i) {
    unsigned char b = (unsigned char)s[i];
    if (b < 0x80) return bb_uni_isspace(b) ? 1 : 0;
    if (b != 0xC2 && b != 0xE1 && b != 0xE2 && b != 0xE3) return 0;  /* leads of the set */
    int len;
    uint32_t cp = bb_utf8_decode(s + i, n - i, &len);
    return bb_uni_isspace(cp) ? len : 0;
}

size_t bb_uni_rstrip_len(const char *s, size_t n) {
    while (n > 0) {
        size_t start = prev_cp(s, n);
        if (space_at(s, n, start) == 0) break;
        n = start;
    }
    return n;
}

static void split_join(const char *s, size_t n, bb_textbuf *out, bool with_space) {
    bb_textbuf_reserve(out, n);
    bool first = true, in_token = false;
    for (size_t i = 0; i < n;) {
        int sp = space_at(s, n, i);
        if (sp) { in_token = false; i += (size_t)sp; continue; }
        if (!in_token && !first && with_space) bb_textbuf_putc(out, ' ');
        in_token = true;
        first = false;
        bb_textbuf_putc(out, s[i++]);
    }
}

void bb_uni_split_join(const char *s, size_t n, bb_textbuf *out) { split_join(s, n, out, true); }
void bb_uni_remove_space(const char *s, size_t n, bb_textbuf *out) { split_join(s, n, out, false); }
