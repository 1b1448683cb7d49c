/* csv.c — see csv.h. */
#include "csv.h"
#include "../common/check.h"
#include "../common/io.h"
#include "../engine/alloc.h"
#include "stop.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* --- reading ------------------------------------------------------------------------ */

static int count_fields(const char *line, size_t len) {
    int n = 1;
    for (size_t i = 0; i < len; i++) n += line[i] == ',';
    return n;
}

int bb_csv_read(const char *path, bb_csv_doc *d, bool *dropped_tail, char *err, size_t err_len) {
    memset(d, 0, sizeof *d);
    if (dropped_tail) *dropped_tail = false;
    size_t len;
    if (bb_read_file(path, &d->text, &len) != 0) {
        snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (len > 0 && d->text[len - 1] != '\n') {  /* a torn last line: not a row */
        char *nl = strrchr(d->text, '\n');
        len = nl ? (size_t)(nl + 1 - d->text) : 0;
        d->text[len] = '\0';
        if (dropped_tail) *dropped_tail = true;
    }
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += d->text[i] == '\n';
    if (lines == 0) {
        snprintf(err, err_len, "%s is empty (no header line)", path);
        bb_csv_doc_free(d);
        return -1;
    }
    char *nl = strchr(d->text, '\n');
    d->n_cols = count_fields(d->text, (size_t)(nl - d->text));
    d->n_rows = lines - 1;
    d->header = bb_alloc(BB_MEM_DATA, (size_t)d->n_cols * sizeof(char *));
    d->cells = bb_alloc(BB_MEM_DATA, ((size_t)d->n_rows * d->n_cols + 1) * sizeof(char *));
    char *p = d->text;
    for (int l = 0; l < lines; l++) {
        char *end = strchr(p, '\n');
        *end = '\0';
        if (end > p && end[-1] == '\r') end[-1] = '\0';
        int nf = count_fields(p, strlen(p));
        if (nf != d->n_cols) {
            snprintf(err, err_len, "%s line %d has %d fields, the header has %d", path, l + 1, nf, d->n_cols);
            bb_csv_doc_free(d);
            return -1;
        }
        char **dst = l == 0 ? d->header : d->cells + (size_t)(l - 1) * d->n_cols;
        for (int f = 0; f < nf; f++) {
            dst[f] = p;
            char *c = strchr(p, ',');
            if (c) { *c = '\0'; p = c + 1; }
        }
        p = end + 1;
    }
    return 0;
}

void bb_csv_doc_free(bb_csv_doc *d) {
    bb_free(d->text);
    bb_free(d->header);
    bb_free(d->cells);
    memset(d, 0, sizeof *d);
}

int bb_csv_col_index(const bb_csv_doc *d, const char *name) {
    for (int c = 0; c < d->n_cols; c++)
        if (strcmp(d->header[c], name) == 0) return c;
    return -1;
}

const char *bb_csv_cell(const bb_csv_doc *d, int row, const char *col) {
    int c = bb_csv_col_index(d, col);
    return c < 0 || row < 0 || row >= d->n_rows ? "" : d->cells[(size_t)row * d->n_cols + c];
}

/* --- the keyed table -------------------------------------------------------------------- */

static void header_line(const bb_csv_schema *s, char *out, size_t cap) {
    size_t n = 0;
    for (int c = 0; c < s->n_cols; c++) n += (size_t)snprintf(out + n, cap - n, "%s%s", c ? "," : "", s->cols[c].name);
    BB_CHECK(n < cap);
}

void bb_csv_key_of(const char *line, int n_key, char *out, size_t cap) {
    const char *p = line;
    for (int k = 0; *p && *p != '\n'; p++)
        if (*p == ',' && ++k == n_key) break;
    size_t n = (size_t)(p - line);
    if (n >= cap) n = cap - 1;
    memcpy(out, line, n);
    out[n] = '\0';
}

static void reserve(bb_csv_table *t, size_t more) {
    if (t->len + more + 1 <= t->cap) return;
    size_t cap = (t->len + more + 1) * 2;
    t->text = t->text ? bb_realloc(t->text, cap) : bb_alloc(BB_MEM_DATA, cap);
    t->cap = cap;
}

static int write_out(bb_csv_table *t, char *err, size_t err_len) {
    bb_atomic_file af;
    FILE *f = bb_atomic_open(&af, t->path);
    if (!f) {
        snprintf(err, err_len, "cannot write %s: %s", t->path, strerror(errno));
        return -1;
    }
    if (fwrite(t->text, 1, t->len, f) != t->len) {
        int e = errno;
        bb_atomic_abort(&af);
        snprintf(err, err_len, "cannot write %s: %s", t->path, strerror(e));
        return -1;
    }
    if (bb_atomic_commit(&af) != 0) {
        snprintf(err, err_len, "cannot write %s: %s", t->path, strerror(errno));
        return -1;
    }
    return 0;
}

static int table_open(bb_csv_table *t, const char *dir, const bb_csv_schema *s, char *err, size_t err_len) {
    memset(t, 0, sizeof *t);
    t->s = s;
    BB_CHECK(s->n_cols <= 64 && s->n_key >= 1 && s->n_key <= s->n_cols);
    snprintf(t->path, sizeof t->path, "%s/%s", dir, s->file);
    char header[4096];
    header_line(s, header, sizeof header);
    if (!bb_file_exists(t->path)) {
        reserve(t, strlen(header) + 1);
        t->len = (size_t)sprintf(t->text, "%s\n", header);
        return write_out(t, err, err_len);
    }
    bb_csv_doc d;
    bool torn;
    if (bb_csv_read(t->path, &d, &torn, err, err_len) != 0) return -1;
    /* rebuild the text from the rows that were read whole */
    reserve(t, strlen(header) + 1);
    t->len = (size_t)sprintf(t->text, "%s\n", header);
    char got[4096];
    size_t n = 0;
    for (int c = 0; c < d.n_cols && n < sizeof got; c++) n += (size_t)snprintf(got + n, sizeof got - n, "%s%s", c ? "," : "", d.header[c]);
    if (strcmp(got, header) != 0) {
        snprintf(err, err_len, "%s has another header than this version writes (another bitbench version made it); "
                 "use a new results folder", t->path);
        bb_csv_doc_free(&d);
        return -1;
    }
    for (int r = 0; r < d.n_rows; r++) {
        for (int c = 0; c < d.n_cols; c++) {
            const char *v = d.cells[(size_t)r * d.n_cols + c];
            reserve(t, strlen(v) + 2);
            t->len += (size_t)sprintf(t->text + t->len, "%s%s", c ? "," : "", v);
        }
        t->text[t->len++] = '\n';
        t->text[t->len] = '\0';
    }
    t->n_rows = t->n_resumed = d.n_rows;
    bb_csv_doc_free(&d);
    if (torn) {
        fprintf(stderr, "note: %s ended in a partial line (a run was interrupted while writing); dropped it\n", t->path);
        return write_out(t, err, err_len);
    }
    return 0;
}

/* On failure nothing stays allocated. */
int bb_csv_table_open(bb_csv_table *t, const char *dir, const bb_csv_schema *s, char *err, size_t err_len) {
    if (table_open(t, dir, s, err, err_len) == 0) return 0;
    bb_free(t->text);
    t->text = NULL;
    return -1;
}

void bb_csv_table_close(bb_csv_table *t) {
    bb_free(t->text);
    memset(t, 0, sizeof *t);
}

void bb_csv_table_truncate(bb_csv_table *t) {
    t->len = (size_t)(strchr(t->text, '\n') - t->text) + 1;
    t->text[t->len] = '\0';
    t->n_rows = 0;
}

/* Finds the line of a key: the start of the line, or NULL. */
static const char *find_key(const bb_csv_table *t, const char *key, bool prefix) {
    size_t kl = strlen(key);
    const char *p = strchr(t->text, '\n');  /* skip the header */
    while (p && p[1]) {
        const char *line = p + 1;
        if (strncmp(line, key, kl) == 0 && (prefix || line[kl] == ',' || line[kl] == '\n')) return line;
        p = strchr(line, '\n');
    }
    return NULL;
}

bool bb_csv_table_has(const bb_csv_table *t, const char *key) {
    char k[1024];
    const char *line = find_key(t, key, false);
    if (!line) return false;
    bb_csv_key_of(line, t->s->n_key, k, sizeof k);  /* the key must be all n_key fields */
    return strcmp(k, key) == 0;
}

bool bb_csv_table_get(const bb_csv_table *t, const char *key, const char *col, char *out, size_t cap) {
    int ci = -1;
    for (int c = 0; c < t->s->n_cols; c++)
        if (strcmp(t->s->cols[c].name, col) == 0) ci = c;
    if (ci < 0 || !bb_csv_table_has(t, key)) return false;
    const char *p = find_key(t, key, false);
    for (int c = 0; c < ci; c++) p = strchr(p, ',') + 1;
    size_t n = strcspn(p, ",\n");
    if (n >= cap) n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

int bb_csv_table_append(bb_csv_table *t, const char *const *rows, int n, const char *replace_prefix, char *err,
                        size_t err_len) {
    for (int i = 0; i < n; i++) {
        int nf = count_fields(rows[i], strlen(rows[i]));
        if (strchr(rows[i], '\n') || nf != t->s->n_cols) {
            snprintf(err, err_len, "%s: a row with %d fields (the schema has %d): %.80s", t->path, nf, t->s->n_cols, rows[i]);
            return -1;
        }
    }
    if (replace_prefix && *replace_prefix) {  /* drop the rows of this group from an earlier try */
        const char *line;
        while ((line = find_key(t, replace_prefix, true)) != NULL) {
            const char *end = strchr(line, '\n');
            size_t off = (size_t)(line - t->text), cut = (size_t)(end + 1 - line);
            memmove(t->text + off, end + 1, t->len - off - cut + 1);
            t->len -= cut;
            t->n_rows--;
        }
    }
    for (int i = 0; i < n; i++) {
        char key[1024];
        bb_csv_key_of(rows[i], t->s->n_key, key, sizeof key);
        if (bb_csv_table_has(t, key)) {
            snprintf(err, err_len, "%s already holds a row with key %s", t->path, key);
            return -1;
        }
        reserve(t, strlen(rows[i]) + 2);
        t->len += (size_t)sprintf(t->text + t->len, "%s\n", rows[i]);
        t->n_rows++;
    }
    if (write_out(t, err, err_len) != 0) return -1;
    bb_stop_note_rows(t->path, n);
    return 0;
}

/* --- the row builder -------------------------------------------------------------------- */

void bb_csv_row_init(bb_csv_row *r, const bb_csv_schema *s) {
    memset(r, 0, sizeof *r);
    BB_CHECK(s->n_cols <= 64);
    r->s = s;
}

static int col_of(const bb_csv_schema *s, const char *col) {
    for (int c = 0; c < s->n_cols; c++)
        if (strcmp(s->cols[c].name, col) == 0) return c;
    bb_fatal(__FILE__, __LINE__, "column '%s' is not in the schema of %s", col, s->file);
}

void bb_csv_row_str(bb_csv_row *r, const char *col, const char *value) {
    int c = col_of(r->s, col);
    bb_free(r->fields[c]);
    r->fields[c] = bb_strdup(value ? value : "");
    for (char *p = r->fields[c]; *p; p++)
        if (*p == ',' || *p == '"' || *p == '\n' || *p == '\r') *p = ' ';
    r->set[c] = true;
}

void bb_csv_row_fmt(bb_csv_row *r, const char *col, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    bb_csv_row_str(r, col, buf);
}

void bb_csv_row_num(bb_csv_row *r, const char *col, double v, int decimals) {
    if (!isfinite(v)) bb_csv_row_str(r, col, "");
    else bb_csv_row_fmt(r, col, "%.*f", decimals, v);
}

int bb_csv_row_finish(bb_csv_row *r, char *out, size_t cap, char *err, size_t err_len) {
    int rc = 0;
    size_t n = 0;
    out[0] = '\0';
    for (int c = 0; c < r->s->n_cols; c++) {
        if (!r->set[c] && rc == 0) {
            snprintf(err, err_len, "%s: column %s was not set", r->s->file, r->s->cols[c].name);
            rc = -1;
        }
        if (rc == 0) {
            int w = snprintf(out + n, cap - n, "%s%s", c ? "," : "", r->fields[c]);
            if (w < 0 || (size_t)w >= cap - n) {
                snprintf(err, err_len, "%s: row longer than %zu bytes", r->s->file, cap);
                rc = -1;
            } else {
                n += (size_t)w;
            }
        }
        bb_free(r->fields[c]);
        r->fields[c] = NULL;
    }
    return rc;
}

void bb_csv_schema_print_md(const bb_csv_schema *s, FILE *f) {
    fprintf(f, "### `%s`\n\n%s Key: ", s->file, s->title);
    for (int c = 0; c < s->n_key; c++) fprintf(f, "%s`%s`", c ? ", " : "", s->cols[c].name);
    fprintf(f, ".\n\n");
    for (int c = 0; c < s->n_cols; c++) fprintf(f, "- `%s`: %s\n", s->cols[c].name, s->cols[c].doc);
    fprintf(f, "\n");
}
