/* safetensors.c — see safetensors.h. Reading validates the header the way the reference
 * does (safetensors/src/tensor.rs: read_metadata and Metadata::validate — sort by
 * data_offsets, each begins where the last ended, sizes equal numel * element size, the
 * last ends at the end of the file) and adds what serde's HashMap silently forgives:
 * duplicate names are an error here. Writing follows the reference's `prepare`: compact
 * JSON, "__metadata__" first, header padded with spaces to a multiple of 8. */
#include "safetensors.h"
#include "../common/io.h"
#include "../common/json_parse.h"
#include "alloc.h"
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c copies tensor bytes as they are: it assumes a little-endian host"
#endif

/* Names and sizes from the reference's Dtype enum (safetensors/src/tensor.rs). */
static const struct { const char *name; size_t size; } dtypes[BB_DT_COUNT] = {
    [BB_DT_F32] = {"F32", 4},   [BB_DT_F16] = {"F16", 2},   [BB_DT_BF16] = {"BF16", 2},
    [BB_DT_F64] = {"F64", 8},   [BB_DT_I32] = {"I32", 4},   [BB_DT_I64] = {"I64", 8},
    [BB_DT_I8] = {"I8", 1},     [BB_DT_U8] = {"U8", 1},     [BB_DT_BOOL] = {"BOOL", 1},
    [BB_DT_I16] = {"I16", 2},   [BB_DT_U16] = {"U16", 2},   [BB_DT_U32] = {"U32", 4},
    [BB_DT_U64] = {"U64", 8},   [BB_DT_F8_E4M3] = {"F8_E4M3", 1},
    [BB_DT_F8_E5M2] = {"F8_E5M2", 1},
};

const char *bb_dtype_name(bb_dtype dt) {
    return (unsigned)dt < BB_DT_COUNT ? dtypes[dt].name : "?";
}

size_t bb_dtype_size(bb_dtype dt) { return (unsigned)dt < BB_DT_COUNT ? dtypes[dt].size : 0; }

int bb_dtype_from_name(const char *name, size_t len) {
    for (int i = 0; i < BB_DT_COUNT; i++)
        if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, name, len) == 0) return i;
    return -1;
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_len, const char *fmt, ...) {
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* numel * element size without overflow; -1 on overflow or a negative dimension. */
static int tensor_nbytes(bb_dtype dt, int ndim, const int64_t *shape, size_t *out) {
    size_t n = bb_dtype_size(dt);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (uint64_t)shape[d] > SIZE_MAX) return -1;
        if (__builtin_mul_overflow(n, (size_t)shape[d], &n)) return -1;
    }
    *out = n;
    return 0;
}

/* Messages quote names at most this long, so a 100 MB name can't flood a terminal. */
#define NAME_MAX_SHOWN 96

/* ---------------------------------------------------------------- writing */

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < n + 1) cap *= 2;
        b->p = b->p ? bb_realloc(b->p, cap) : bb_alloc(BB_MEM_OTHER, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_fmt(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)n);
}

/* A JSON string literal (RFC 8259 section 7): quote, backslash and controls escaped,
 * other UTF-8 written as is. */
static void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"') sb_put(b, "\\\"", 2);
        else if (*p == '\\') sb_put(b, "\\\\", 2);
        else if (*p == '\n') sb_put(b, "\\n", 2);
        else if (*p == '\t') sb_put(b, "\\t", 2);
        else if (*p == '\r') sb_put(b, "\\r", 2);
        else if (*p < 0x20) sb_fmt(b, "\\u%04x", *p);
        else sb_put(b, (const char *)p, 1);
    }
    sb_put(b, "\"", 1);
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first string that occurs twice in s[0..n), or NULL. */
static const char *first_duplicate(const char *const *s, int n) {
    if (n < 2) return NULL;
    const char **sorted = bb_alloc(BB_MEM_OTHER, (size_t)n * sizeof *sorted);
    memcpy(sorted, s, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str_ptr);
    const char *dup = NULL;
    for (int i = 1; i < n && !dup; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) dup = sorted[i];
    bb_free(sorted);
    return dup;
}

/* Checks the arguments and builds the padded header; sizes[i] gets tensor i's bytes. */
static int build_header(sbuf *h, size_t *sizes, const char *path, const bb_st_tensor *t, int nt,
                        const char *const *mk, const char *const *mv, int nm, char *err,
                        size_t err_len) {
    if (nt < 0 || nm < 0 || (nt > 0 && !t) || (nm > 0 && (!mk || !mv)))
        return fail(err, err_len, "cannot write checkpoint '%s': bad tensor or metadata list",
                    path);
    const char **names = bb_alloc(BB_MEM_OTHER, ((size_t)nt + 1) * sizeof *names);
    int rc = 0;
    for (int i = 0; i < nt && rc == 0; i++) {
        const bb_st_tensor *x = &t[i];
        const char *nm_ = x->name ? x->name : "";
        if (!x->name || !bb_utf8_valid(x->name, strlen(x->name)))
            rc = fail(err, err_len, "cannot write checkpoint '%s': tensor %d has %s name", path,
                      i, x->name ? "a non-UTF-8" : "no");
        else if (strcmp(x->name, "__metadata__") == 0)
            rc = fail(err, err_len, "cannot write checkpoint '%s': '__metadata__' is reserved "
                      "and cannot name a tensor", path);
        else if ((unsigned)x->dtype >= BB_DT_COUNT)
            rc = fail(err, err_len, "cannot write checkpoint '%s': tensor '%.*s' has unknown "
                      "dtype %d", path, NAME_MAX_SHOWN, nm_, (int)x->dtype);
        else if (x->ndim < 0 || x->ndim > BB_ST_MAX_DIMS)
            rc = fail(err, err_len, "cannot write checkpoint '%s': tensor '%.*s' has %d "
                      "dimensions, expected 0 to %d", path, NAME_MAX_SHOWN, nm_, x->ndim,
                      BB_ST_MAX_DIMS);
        else if (tensor_nbytes(x->dtype, x->ndim, x->shape, &sizes[i]) != 0)
            rc = fail(err, err_len, "cannot write checkpoint '%s': tensor '%.*s' has a negative "
                      "or overflowing shape", path, NAME_MAX_SHOWN, nm_);
        else if (sizes[i] > 0 && !x->data)
            rc = fail(err, err_len, "cannot write checkpoint '%s': tensor '%.*s' has no data",
                      path, NAME_MAX_SHOWN, nm_);
        names[i] = x->name;
    }
    const char *dup = rc == 0 ? first_duplicate(names, nt) : NULL;
    if (dup)
        rc = fail(err, err_len, "cannot write checkpoint '%s': two tensors are named '%.*s'",
                  path, NAME_MAX_SHOWN, dup);
    bb_free(names);
    for (int i = 0; i < nm && rc == 0; i++)
        if (!mk[i] || !mv[i] || !bb_utf8_valid(mk[i], strlen(mk[i])) ||
            !bb_utf8_valid(mv[i], strlen(mv[i])))
            rc = fail(err, err_len, "cannot write checkpoint '%s': metadata entry %d is not a "
                      "pair of UTF-8 strings", path, i);
    if (rc == 0 && (dup = first_duplicate(mk, nm)))
        rc = fail(err, err_len, "cannot write checkpoint '%s': metadata key '%.*s' is given "
                  "twice", path, NAME_MAX_SHOWN, dup);
    if (rc) return rc;

    sb_put(h, "{", 1);
    if (nm > 0) {
        sb_str(h, "\"__metadata__\":{");
        for (int i = 0; i < nm; i++) {
            if (i) sb_put(h, ",", 1);
            sb_json_str(h, mk[i]);
            sb_put(h, ":", 1);
            sb_json_str(h, mv[i]);
        }
        sb_put(h, "}", 1);
    }
    size_t offset = 0;
    for (int i = 0; i < nt; i++) {
        if (nm > 0 || i) sb_put(h, ",", 1);
        sb_json_str(h, t[i].name);
        sb_fmt(h, ":{\"dtype\":\"%s\",\"shape\":[", dtypes[t[i].dtype].name);
        for (int d = 0; d < t[i].ndim; d++) sb_fmt(h, d ? ",%lld" : "%lld", (long long)t[i].shape[d]);
        if (__builtin_add_overflow(offset, sizes[i], &offset))
            return fail(err, err_len, "cannot write checkpoint '%s': tensors total more than "
                        "%zu bytes", path, SIZE_MAX);
        sb_fmt(h, "],\"data_offsets\":[%zu,%zu]}", offset - sizes[i], offset);
    }
    sb_put(h, "}", 1);
    while (h->len % 8) sb_put(h, " ", 1);
    if (h->len > BB_ST_MAX_HEADER)
        return fail(err, err_len, "cannot write checkpoint '%s': its header would be %zu bytes, "
                    "more than the %u-byte limit readers accept", path, h->len, BB_ST_MAX_HEADER);
    return 0;
}

int bb_safetensors_write(const char *path, const bb_st_tensor *tensors, int n_tensors,
                         const char *const *meta_keys, const char *const *meta_values, int n_meta,
                         char *err, size_t err_len) {
    sbuf h = {0};
    size_t *sizes = bb_alloc(BB_MEM_OTHER, ((size_t)(n_tensors > 0 ? n_tensors : 0) + 1) *
                                               sizeof *sizes);
    int rc = build_header(&h, sizes, path, tensors, n_tensors, meta_keys, meta_values, n_meta,
                          err, err_len);
    if (rc == 0) {
        bb_atomic_file af;
        FILE *f = bb_atomic_open(&af, path);
        if (!f) {
            rc = fail(err, err_len, "cannot write checkpoint '%s': %s", path, strerror(errno));
        } else {
            unsigned char n8[8];
            for (int i = 0; i < 8; i++) n8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
            bool ok = fwrite(n8, 1, 8, f) == 8 && fwrite(h.p, 1, h.len, f) == h.len;
            for (int i = 0; i < n_tensors && ok; i++)
                ok = sizes[i] == 0 || fwrite(tensors[i].data, 1, sizes[i], f) == sizes[i];
            if (!ok) {
                int e = errno;
                bb_atomic_abort(&af);
                rc = fail(err, err_len, "cannot write checkpoint '%s': %s", path, strerror(e));
            } else if (bb_atomic_commit(&af) != 0) {
                rc = fail(err, err_len, "cannot write checkpoint '%s': %s", path, strerror(errno));
            }
        }
    }
    bb_free(h.p);
    bb_free(sizes);
    return rc;
}

/* ---------------------------------------------------------------- reading */

void bb_safetensors_close(bb_safetensors *st) {
    for (int i = 0; i < st->n_tensors; i++) bb_free(st->tensors[i].name);
    for (int i = 0; i < st->n_meta; i++) {
        bb_free(st->meta_keys[i]);
        bb_free(st->meta_values[i]);
    }
    bb_free(st->tensors);
    bb_free(st->by_name);
    bb_free(st->meta_keys);
    bb_free(st->meta_values);
    bb_free(st->file);
    memset(st, 0, sizeof *st);
}

/* A string without NULs (from \u0000), copied; NULL if it has one. */
static char *dup_plain(const char *s, size_t len) {
    if (memchr(s, '\0', len)) return NULL;
    char *d = bb_alloc(BB_MEM_OTHER, len + 1);
    memcpy(d, s, len);
    return d;
}

/* A non-negative integer that fits size_t, else -1. */
static int as_size(const bb_json_node *n, size_t *out) {
    if (n->type != BB_JSON_NUMBER || !n->is_int || n->integer < 0 ||
        (uint64_t)n->integer > SIZE_MAX)
        return -1;
    *out = (size_t)n->integer;
    return 0;
}

/* Keys may hold NULs (from \u0000), so compare lengths too. */
static bool key_is(const bb_json_node *n, const char *key) {
    return n->key_len == strlen(key) && memcmp(n->key, key, n->key_len) == 0;
}

typedef struct {
    const char *label;
    char *err;
    size_t err_len;
} ctx;

/* Fills e from the header entry v (named e->name). */
static int read_entry(const ctx *c, const bb_json_node *v, bb_st_entry *e, size_t *end) {
    const char *L = c->label, *nm = e->name;
    int W = NAME_MAX_SHOWN;
    if (v->type != BB_JSON_OBJECT)
        return fail(c->err, c->err_len, "checkpoint '%s': entry '%.*s' is %s, expected an object "
                    "with dtype, shape and data_offsets", L, W, nm, bb_json_type_name(v->type));
    const bb_json_node *dt = NULL, *shape = NULL, *offs = NULL;
    for (const bb_json_node *f = v->child; f; f = f->next) {
        const bb_json_node **slot = NULL;
        if (key_is(f, "dtype")) slot = &dt;
        else if (key_is(f, "shape")) slot = &shape;
        else if (key_is(f, "data_offsets")) slot = &offs;
        if (!slot) continue;  /* unknown fields are ignored, as the reference (serde) does */
        if (*slot)
            return fail(c->err, c->err_len, "checkpoint '%s': tensor '%.*s' gives '%s' twice", L,
                        W, nm, f->key);
        *slot = f;
    }
    const char *missing = !dt ? "dtype" : !shape ? "shape" : !offs ? "data_offsets" : NULL;
    if (missing)
        return fail(c->err, c->err_len, "checkpoint '%s': tensor '%.*s' has no '%s'", L, W, nm,
                    missing);
    int code = dt->type == BB_JSON_STRING ? bb_dtype_from_name(dt->str, dt->str_len) : -1;
    if (dt->type != BB_JSON_STRING)
        return fail(c->err, c->err_len, "checkpoint '%s': tensor '%.*s' has a dtype that is %s, "
                    "expected a string", L, W, nm, bb_json_type_name(dt->type));
    if (code < 0)
        return fail(c->err, c->err_len, "checkpoint '%s': tensor '%.*s' has unsupported dtype "
                    "'%.*s'", L, W, nm, 32, dt->str);
    e->dtype = (bb_dtype)code;
    if (shape->type != BB_JSON_ARRAY)
        return fail(c->err, c->err_len, "checkpoint '%s': tensor '%.*s' has a shape that is %s, "
                    "expected an array of integers", L, W, nm, bb_json_type_name(shape->type));
    if (shape->n > BB_ST_MAX_DIMS)
        return fail(c->err, c->err_len, "checkpoint '%s': tensor '%.*s' has %zu dimensions, at "
                    "most %d are supported", L, W, nm, shape->n, BB_ST_MAX_DIMS);
    e->ndim = (int)shape->n;
    int d = 0;
    for (const bb_json_node *s = shape->child; s; s = s->next, d++) {
        size_t dim;
        if (as_size(s, &dim) != 0)
            return fail(c->err, c->err_len, "checkpoint '%s': tensor '%.*s' has shape entry %d "
                        "that is not a non-negative integer", L, W, nm, d);
        e->shape[d] = (int64_t)dim;
    }
    size_t begin = 0;
    if (offs->type != BB_JSON_ARRAY || offs->n != 2 || as_size(offs->child, &begin) != 0 ||
        as_size(offs->child->next, end) != 0)
        return fail(c->err, c->err_len, "checkpoint '%s': tensor '%.*s' has data_offsets that "
                    "are not a pair of non-negative integers", L, W, nm);
    if (*end < begin)
        return fail(c->err, c->err_len, "checkpoint '%s': tensor '%.*s' has data_offsets "
                    "[%zu, %zu] that end before they begin", L, W, nm, begin, *end);
    if (tensor_nbytes(e->dtype, e->ndim, e->shape, &e->nbytes) != 0)
        return fail(c->err, c->err_len, "checkpoint '%s': tensor '%.*s' has a shape whose size "
                    "in bytes overflows", L, W, nm);
    if (e->nbytes != *end - begin)
        return fail(c->err, c->err_len, "checkpoint '%s': tensor '%.*s' is %s with %zu bytes "
                    "of elements, but its data_offsets [%zu, %zu] span %zu bytes", L, W, nm,
                    dtypes[e->dtype].name, e->nbytes, begin, *end, *end - begin);
    e->offset = begin;
    return 0;
}

/* "__metadata__": null, or an object of strings. */
static int read_meta(const ctx *c, const bb_json_node *v, bb_safetensors *st) {
    if (v->type == BB_JSON_NULL) return 0;
    if (v->type != BB_JSON_OBJECT)
        return fail(c->err, c->err_len, "checkpoint '%s': __metadata__ is %s, expected an object "
                    "of strings", c->label, bb_json_type_name(v->type));
    st->meta_keys = bb_alloc(BB_MEM_OTHER, (v->n + 1) * sizeof(char *));
    st->meta_values = bb_alloc(BB_MEM_OTHER, (v->n + 1) * sizeof(char *));
    for (const bb_json_node *m = v->child; m; m = m->next) {
        if (m->type != BB_JSON_STRING)
            return fail(c->err, c->err_len, "checkpoint '%s': metadata '%.*s' is %s, expected a "
                        "string", c->label, NAME_MAX_SHOWN, m->key, bb_json_type_name(m->type));
        char *k = dup_plain(m->key, m->key_len), *val = k ? dup_plain(m->str, m->str_len) : NULL;
        if (!val) {
            bb_free(k);
            return fail(c->err, c->err_len, "checkpoint '%s': metadata '%.*s' contains a NUL "
                        "character", c->label, NAME_MAX_SHOWN, m->key);
        }
        st->meta_keys[st->n_meta] = k;
        st->meta_values[st->n_meta++] = val;
    }
    const char *dup = first_duplicate((const char *const *)st->meta_keys, st->n_meta);
    if (dup)
        return fail(c->err, c->err_len, "checkpoint '%s': metadata key '%.*s' appears twice",
                    c->label, NAME_MAX_SHOWN, dup);
    return 0;
}

static int cmp_offset(const void *a, const void *b) {
    const bb_st_entry *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);  /* only empty tensors tie; names make it total */
}

static int cmp_by_name(const void *a, const void *b, void *entries) {
    const bb_st_entry *e = entries;
    return strcmp(e[*(const int *)a].name, e[*(const int *)b].name);
}

/* Parses the header JSON and fills st's tables; the byte-buffer checks come after. */
static int read_header(const ctx *c, const char *text, size_t n, bb_safetensors *st) {
    char jerr[160];
    bb_json_doc *doc = bb_json_parse(text, n, jerr, sizeof jerr);
    if (!doc)
        return fail(c->err, c->err_len, "checkpoint '%s' has a corrupt header: %s", c->label,
                    jerr);
    const bb_json_node *root = bb_json_doc_root(doc);
    int rc = 0;
    if (root->type != BB_JSON_OBJECT)
        rc = fail(c->err, c->err_len, "checkpoint '%s' has a corrupt header: it is %s, expected "
                  "a JSON object", c->label, bb_json_type_name(root->type));
    else
        st->tensors = bb_alloc(BB_MEM_OTHER, (root->n + 1) * sizeof *st->tensors);
    bool seen_meta = false;
    for (const bb_json_node *v = rc ? NULL : root->child; v && rc == 0; v = v->next) {
        if (key_is(v, "__metadata__")) {
            if (seen_meta)
                rc = fail(c->err, c->err_len, "checkpoint '%s': __metadata__ appears twice",
                          c->label);
            else
                rc = read_meta(c, v, st);
            seen_meta = true;
            continue;
        }
        bb_st_entry *e = &st->tensors[st->n_tensors];
        if (!(e->name = dup_plain(v->key, v->key_len))) {
            rc = fail(c->err, c->err_len, "checkpoint '%s': a tensor name contains a NUL "
                      "character", c->label);
            break;
        }
        st->n_tensors++;
        size_t end;
        rc = read_entry(c, v, e, &end);
    }
    bb_json_doc_free(doc);
    if (rc) return rc;

    int nt = st->n_tensors;
    qsort(st->tensors, (size_t)nt, sizeof *st->tensors, cmp_offset);
    st->by_name = bb_alloc(BB_MEM_OTHER, ((size_t)nt + 1) * sizeof *st->by_name);
    for (int i = 0; i < nt; i++) st->by_name[i] = i;
    qsort_r(st->by_name, (size_t)nt, sizeof *st->by_name, cmp_by_name, st->tensors);
    for (int i = 1; i < nt; i++)
        if (strcmp(st->tensors[st->by_name[i - 1]].name, st->tensors[st->by_name[i]].name) == 0)
            return fail(c->err, c->err_len, "checkpoint '%s' has two tensors named '%.*s'",
                        c->label, NAME_MAX_SHOWN, st->tensors[st->by_name[i]].name);
    return 0;
}

int bb_safetensors_parse(bb_safetensors *st, const void *data, size_t len, const char *label,
                         char *err, size_t err_len) {
    memset(st, 0, sizeof *st);
    const unsigned char *b = data;
    if (!label) label = "(memory)";
    ctx c = {label, err, err_len};
    if (len < 8)
        return fail(err, err_len, "checkpoint '%s' is truncated: it has %zu bytes, fewer than "
                    "the 8 that give the header size", label, len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    if (n > BB_ST_MAX_HEADER)
        return fail(err, err_len, "checkpoint '%s' declares a %llu-byte header, more than the "
                    "%u-byte limit: the file is corrupt or not safetensors", label,
                    (unsigned long long)n, BB_ST_MAX_HEADER);
    if (n > len - 8)
        return fail(err, err_len, "checkpoint '%s' is truncated: header promises %llu bytes of "
                    "JSON header, file has %zu after the 8-byte size", label,
                    (unsigned long long)n, len - 8);
    if (read_header(&c, (const char *)b + 8, (size_t)n, st) != 0) {
        bb_safetensors_close(st);
        return -1;
    }
    st->header_len = (size_t)n;
    st->buffer = b + 8 + n;
    st->buffer_len = len - 8 - (size_t)n;
    size_t expect = 0;
    for (int i = 0; i < st->n_tensors; i++) {
        const bb_st_entry *e = &st->tensors[i], *prev = i ? &st->tensors[i - 1] : NULL;
        int rc = 0;
        if (e->offset > expect)
            rc = fail(err, err_len, "checkpoint '%s' has a hole: bytes [%zu, %zu) of the tensor "
                      "data belong to no tensor (the next is '%.*s')", label, expect, e->offset,
                      NAME_MAX_SHOWN, e->name);
        else if (e->offset < expect)
            rc = fail(err, err_len, "checkpoint '%s' has overlapping tensors: '%.*s' ends at "
                      "byte %zu of the tensor data, '%.*s' begins at %zu", label,
                      NAME_MAX_SHOWN, prev->name, expect, NAME_MAX_SHOWN, e->name, e->offset);
        if (rc) { bb_safetensors_close(st); return rc; }
        expect = e->offset + e->nbytes;  /* == its end, which fits size_t */
    }
    int rc = 0;
    if (expect > st->buffer_len)
        rc = fail(err, err_len, "checkpoint '%s' is truncated: header promises %zu bytes of "
                  "tensor data, file has %zu", label, expect, st->buffer_len);
    else if (expect < st->buffer_len)
        rc = fail(err, err_len, "checkpoint '%s' has %zu bytes after its last tensor that the "
                  "header does not describe", label, st->buffer_len - expect);
    if (rc) { bb_safetensors_close(st); return rc; }
    for (int i = 0; i < st->n_tensors; i++)
        st->tensors[i].data = st->buffer + st->tensors[i].offset;
    return 0;
}

int bb_safetensors_open(bb_safetensors *st, const char *path, char *err, size_t err_len) {
    memset(st, 0, sizeof *st);
    char *data;
    size_t len;
    if (bb_read_file(path, &data, &len) != 0)
        return fail(err, err_len, "cannot read checkpoint '%s': %s", path, strerror(errno));
    if (bb_safetensors_parse(st, data, len, path, err, err_len) != 0) {
        bb_free(data);
        return -1;
    }
    st->file = data;
    return 0;
}

const bb_st_entry *bb_safetensors_find(const bb_safetensors *st, const char *name) {
    int lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(st->tensors[st->by_name[mid]].name, name);
        if (c == 0) return &st->tensors[st->by_name[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *bb_safetensors_meta(const bb_safetensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}
