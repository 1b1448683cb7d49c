/* json.c — see json.h. Numbers use %.17g so doubles round-trip exactly. */
#include "json.h"
#include "check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void bb_json_init(bb_json *j, FILE *f) {
    j->f = f;
    j->depth = 0;
    j->first[0] = true;
    j->after_key = false;
}

static void indent(bb_json *j) {
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++) fputs("  ", j->f);
}

/* Called before every value or key: writes the separator the position needs. */
static void before_item(bb_json *j) {
    if (j->after_key) { j->after_key = false; return; }
    if (!j->first[j->depth]) fputc(',', j->f);
    if (j->depth > 0) indent(j);
    j->first[j->depth] = false;
}

static void open(bb_json *j, char c) {
    before_item(j);
    fputc(c, j->f);
    BB_CHECK(j->depth + 1 < BB_JSON_MAX_DEPTH);
    j->first[++j->depth] = true;
}

static void close(bb_json *j, char c) {
    BB_CHECK(j->depth > 0);
    bool empty = j->first[j->depth];
    j->depth--;
    if (!empty) indent(j);
    fputc(c, j->f);
    if (j->depth == 0) fputc('\n', j->f);
}

void bb_json_obj_begin(bb_json *j) { open(j, '{'); }
void bb_json_obj_end(bb_json *j) { close(j, '}'); }
void bb_json_arr_begin(bb_json *j) { open(j, '['); }
void bb_json_arr_end(bb_json *j) { close(j, ']'); }

static void write_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}

void bb_json_key(bb_json *j, const char *key) {
    before_item(j);
    write_string(j->f, key);
    fputs(": ", j->f);
    j->after_key = true;
}

void bb_json_str(bb_json *j, const char *s) {
    before_item(j);
    if (s) write_string(j->f, s);
    else fputs("null", j->f);
}

void bb_json_int(bb_json *j, int64_t v) { before_item(j); fprintf(j->f, "%lld", (long long)v); }

void bb_json_num(bb_json *j, double v) {
    before_item(j);
    if (isfinite(v)) fprintf(j->f, "%.17g", v);
    else fputs("null", j->f);
}

/* Fixed notation for 1e-4 <= |v| < 1e16 (and 0), exponent otherwise, as float_repr_style
 * 'short' does; the fewest digits that round-trip. */
void bb_format_double_short(double v, char *buf, size_t len) {
    BB_CHECK(buf != NULL && len >= 32);
    double a = fabs(v);
    bool fixed = v == 0 || (a >= 1e-4 && a < 1e16);
    for (int p = 0; p <= 25; p++) {
        if (fixed) snprintf(buf, len, "%.*f", p, v);
        else snprintf(buf, len, "%.*e", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (fixed && !strchr(buf, '.') && strlen(buf) + 2 < len) strcat(buf, ".0");
}

void bb_json_num_short(bb_json *j, double v) {
    char buf[64];
    before_item(j);
    if (!isfinite(v)) { fputs("null", j->f); return; }
    bb_format_double_short(v, buf, sizeof buf);
    fputs(buf, j->f);
}

void bb_json_bool(bb_json *j, bool v) { before_item(j); fputs(v ? "true" : "false", j->f); }
void bb_json_null(bb_json *j) { before_item(j); fputs("null", j->f); }
