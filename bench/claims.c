/* claims.c — see claims.h. */
#include "claims.h"
#include "../common/io.h"
#include "../engine/alloc.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void trim_copy(char *dst, size_t cap, const char *s, size_t n) {
    while (n && isspace((unsigned char)*s)) { s++; n--; }
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Copies s (trimmed, truncated to cap - 1 bytes) into dst. */
static void copyz(char *dst, size_t cap, const char *s) { trim_copy(dst, cap, s, strlen(s)); }

/* Splits a markdown table line "| a | b |" into cells; returns the count. */
static int split_row(const char *line, char cells[][384], int cap) {
    const char *p = strchr(line, '|');
    int n = 0;
    while (p && n < cap) {
        const char *q = strchr(p + 1, '|');
        if (!q) break;
        trim_copy(cells[n++], 384, p + 1, (size_t)(q - p - 1));
        p = q;
    }
    return n;
}

static int is_separator(const char *line) {
    for (const char *p = line; *p; p++)
        if (!strchr("|-: \t", *p)) return 0;
    return 1;
}

/* Splits the "Other claims:" paragraph at the commas that follow a closing quote. */
static void split_other(const char *text, bb_claims *c) {
    const char *p = strstr(text, "Other claims:");
    if (!p) return;
    p += strlen("Other claims:");
    int inq = 0;
    const char *start = p;
    for (; *p; p++) {
        if (*p == '"') inq = !inq;
        if (!inq && (*p == ',' || (*p == '.' && p[-1] == '"')) && p > start && p[-1] == '"') {
            if (c->n_other < BB_CLAIMS_MAX_ROWS) trim_copy(c->other[c->n_other++], 256, start, (size_t)(p - start));
            start = p + 1;
            if (*p == '.') break;
        }
    }
    /* newlines inside an item become spaces */
    for (int i = 0; i < c->n_other; i++)
        for (char *q = c->other[i]; *q; q++)
            if (*q == '\n') *q = ' ';
}

int bb_claims_parse(const char *text, bb_claims *c, char *err, size_t err_len) {
    memset(c, 0, sizeof *c);
    bb_claims_table *t = NULL;
    const char *p = text;
    char line[2048];
    while (*p) {
        size_t n = strcspn(p, "\n");
        trim_copy(line, sizeof line, p, n);
        p += n + (p[n] == '\n');
        if (strncmp(line, "## ", 3) == 0) {
            t = NULL;
            if (strncmp(line, "## Table ", 9) == 0 && c->n_tables < BB_CLAIMS_MAX_TABLES) {
                t = &c->tables[c->n_tables++];
                t->id = line[9];
                const char *title = line + 10;
                while (*title && (*title == ' ' || (unsigned char)*title >= 0x80 || *title == '-')) title++;  /* " — " */
                copyz(t->title, sizeof t->title, title);
            }
            continue;
        }
        if (!t) continue;
        if (line[0] == '|') {
            if (is_separator(line)) continue;
            char cells[BB_CLAIMS_MAX_COLS][384];
            int k = split_row(line, cells, BB_CLAIMS_MAX_COLS);
            if (t->n_cols == 0) {
                t->n_cols = k;
                for (int i = 0; i < k; i++) copyz(t->header[i], sizeof t->header[i], cells[i]);
            } else if (t->n_rows < BB_CLAIMS_MAX_ROWS) {
                for (int i = 0; i < k && i < t->n_cols; i++) copyz(t->cell[t->n_rows][i], 384, cells[i]);
                t->n_rows++;
            }
        } else if (strncmp(line, "- ", 2) == 0 && t->n_cols == 0 && !strstr(line, "Other claims")) {
            t->bullets = 1;
            if (t->n_rows < BB_CLAIMS_MAX_ROWS) copyz(t->cell[t->n_rows++][0], 384, line + 2);
        } else if (t->bullets && t->n_rows > 0 && line[0] && strncmp(line, "Other", 5) != 0) {
            /* a continuation line of the last bullet */
            char *last = t->cell[t->n_rows - 1][0];
            snprintf(last + strlen(last), 384 - strlen(last), " %s", line);
        }
    }
    split_other(text, c);
    if (c->n_tables == 0) {
        snprintf(err, err_len, "no '## Table X' section with a table or list found");
        return -1;
    }
    return 0;
}

int bb_claims_load(const char *path, bb_claims *c, char *err, size_t err_len) {
    char *text;
    size_t len;
    if (bb_read_file(path, &text, &len) != 0) {
        snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = bb_claims_parse(text, c, err, err_len);
    bb_free(text);
    if (rc != 0) {
        char e2[300];
        snprintf(e2, sizeof e2, "%s", err);
        snprintf(err, err_len, "%s: %s", path, e2);
    }
    return rc;
}

const bb_claims_table *bb_claims_table_find(const bb_claims *c, char id) {
    for (int i = 0; i < c->n_tables; i++)
        if (c->tables[i].id == id) return &c->tables[i];
    return NULL;
}

/* Reads a number at s (digits with optional ',' thousands and '.' decimals); returns the
 * characters read (0: none). */
static int read_number(const char *s, double *v) {
    char buf[64];
    int n = 0, k = 0;
    while ((isdigit((unsigned char)s[n]) || s[n] == '.' || (s[n] == ',' && isdigit((unsigned char)s[n + 1]) && n > 0)) &&
           k < 63) {
        if (s[n] != ',') buf[k++] = s[n];
        n++;
    }
    if (k == 0 || (k == 1 && buf[0] == '.')) return 0;
    while (n > 0 && s[n - 1] == '.') { n--; k--; }  /* a sentence's full stop */
    buf[k] = '\0';
    *v = atof(buf);
    return n;
}

int bb_claims_number(const char *s, double *lo, double *hi) {
    *lo = *hi = NAN;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) continue;
        int n = read_number(p, lo);
        if (!n) continue;
        const char *q = p + n;
        while (*q == ' ') q++;
        int dash = 0;
        if (*q == '-') dash = 1;
        else if ((unsigned char)q[0] == 0xE2 && (unsigned char)q[1] == 0x80 && (unsigned char)q[2] == 0x93) dash = 3;  /* – */
        if (dash) {
            q += dash;
            while (*q == ' ') q++;
            if (isdigit((unsigned char)*q) && read_number(q, hi)) return 2;
        }
        *hi = *lo;
        return 1;
    }
    return 0;
}

double bb_claims_number_before(const char *s, const char *unit) {
    const char *u = strstr(s, unit);
    if (!u) return NAN;
    const char *p = u;
    while (p > s && p[-1] == ' ') p--;
    const char *end = p;
    while (p > s && (isdigit((unsigned char)p[-1]) || p[-1] == '.' || p[-1] == ',')) p--;
    if (p == end) return NAN;
    double v;
    return read_number(p, &v) ? v : NAN;
}
