/* gbench_json.c — see gbench_json.h. Field names and meanings: Google Benchmark 1.7.1
 * src/json_reporter.cc (shared/specs/evaluation.md §4.1). */
#include "gbench_json.h"
#include "../common/io.h"
#include "../common/json_parse.h"
#include "../engine/alloc.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

char *bb_gbench_sanitize(const char *text, size_t len, size_t *out_len) {
    /* "NaN" -> "null" grows by one byte per token, "Infinity" -> "1e999" shrinks. */
    char *out = bb_alloc(BB_MEM_DATA, len + len / 3 + 2);
    size_t o = 0;
    bool in_string = false;
    for (size_t i = 0; i < len;) {
        char c = text[i];
        if (in_string) {
            out[o++] = c;
            if (c == '\\' && i + 1 < len) out[o++] = text[++i];
            else if (c == '"') in_string = false;
            i++;
        } else if (c == '"') {
            in_string = true;
            out[o++] = c;
            i++;
        } else if (len - i >= 3 && memcmp(text + i, "NaN", 3) == 0) {
            memcpy(out + o, "null", 4), o += 4, i += 3;
        } else if (len - i >= 8 && memcmp(text + i, "Infinity", 8) == 0) {
            memcpy(out + o, "1e999", 5), o += 5, i += 8;
        } else {
            out[o++] = c;
            i++;
        }
    }
    out[o] = '\0';
    if (out_len) *out_len = o;
    return out;
}

static const char *str_or_null(const bb_json_node *n) { return n && n->type == BB_JSON_STRING ? n->str : NULL; }

/* A number, or NaN for null (a sanitized NaN) or anything else. */
static double num(const bb_json_node *n, bool *present) {
    if (present) *present = n && (n->type == BB_JSON_NUMBER || n->type == BB_JSON_NULL);
    return n && n->type == BB_JSON_NUMBER ? n->number : NAN;
}

void bb_gb_run_push(bb_gb_run *r, const bb_gb_entry *e) {
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->e = r->e ? bb_realloc(r->e, (size_t)r->cap * sizeof *r->e) : bb_alloc(BB_MEM_DATA, (size_t)r->cap * sizeof *r->e);
    }
    bb_gb_entry *d = &r->e[r->n++];
    *d = *e;
    d->name = e->name ? bb_strdup(e->name) : NULL;
    d->run_name = e->run_name ? bb_strdup(e->run_name) : NULL;
    d->label = e->label ? bb_strdup(e->label) : NULL;
    d->aggregate_name = e->aggregate_name ? bb_strdup(e->aggregate_name) : NULL;
}

int bb_gb_run_parse(bb_gb_run *r, const char *text, size_t len, char *err, size_t err_len) {
    memset(r, 0, sizeof *r);
    size_t clean_len;
    char *clean = bb_gbench_sanitize(text, len, &clean_len);
    bb_json_doc *doc = bb_json_parse(clean, clean_len, err, err_len);
    bb_free(clean);
    if (!doc) return -1;
    const bb_json_node *root = bb_json_doc_root(doc), *list = bb_json_get(root, "benchmarks");
    if (!list || list->type != BB_JSON_ARRAY) {
        snprintf(err, err_len, "not Google Benchmark JSON: no \"benchmarks\" array");
        bb_json_doc_free(doc);
        return -1;
    }
    const bb_json_node *ctx = bb_json_get(root, "context");
    if (ctx && ctx->type == BB_JSON_OBJECT && ctx->n) {
        r->ctx_keys = bb_alloc(BB_MEM_DATA, ctx->n * sizeof(char *));
        r->ctx_values = bb_alloc(BB_MEM_DATA, ctx->n * sizeof(char *));
        for (const bb_json_node *c = ctx->child; c; c = c->next)
            if (c->type == BB_JSON_STRING) {
                r->ctx_keys[r->n_ctx] = bb_strdup(c->key);
                r->ctx_values[r->n_ctx++] = bb_strdup(c->str);
            }
    }
    for (const bb_json_node *b = list->child; b; b = b->next) {
        const bb_json_node *name = bb_json_get(b, "name");
        if (b->type != BB_JSON_OBJECT || !name || name->type != BB_JSON_STRING) {
            snprintf(err, err_len, "benchmark entry %d has no \"name\" string", r->n + 1);
            bb_json_doc_free(doc);
            bb_gb_run_free(r);
            return -1;
        }
        bb_gb_entry e = {0};
        const bb_json_node *rt = bb_json_get(b, "run_type"), *tu = bb_json_get(b, "time_unit");
        const bb_json_node *eo = bb_json_get(b, "error_occurred");
        bool has_real, has_cpu;
        /* push() copies the strings, so pointing into the tree is fine until then */
        e.name = (char *)name->str;
        e.run_name = (char *)str_or_null(bb_json_get(b, "run_name"));
        e.label = (char *)str_or_null(bb_json_get(b, "label"));
        e.aggregate = rt && rt->type == BB_JSON_STRING && strcmp(rt->str, "aggregate") == 0;
        e.aggregate_name = e.aggregate ? (char *)str_or_null(bb_json_get(b, "aggregate_name")) : NULL;
        e.error = eo && eo->type == BB_JSON_BOOL && eo->boolean;
        e.real_time = num(bb_json_get(b, "real_time"), &has_real);
        e.cpu_time = num(bb_json_get(b, "cpu_time"), &has_cpu);
        e.iterations = num(bb_json_get(b, "iterations"), NULL);
        e.flops = num(bb_json_get(b, "flops"), NULL);
        e.bytes_per_second = num(bb_json_get(b, "bytes_per_second"), NULL);
        if (tu && tu->type == BB_JSON_STRING) snprintf(e.time_unit, sizeof e.time_unit, "%s", tu->str);
        e.has_times = has_real && has_cpu && tu && tu->type == BB_JSON_STRING;
        bb_gb_run_push(r, &e);
    }
    bb_json_doc_free(doc);
    return 0;
}

int bb_gb_run_load(bb_gb_run *r, const char *path, char *err, size_t err_len) {
    char *text;
    size_t len;
    if (bb_read_file(path, &text, &len) != 0) {
        snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char why[300];
    int rc = bb_gb_run_parse(r, text, len, why, sizeof why);
    bb_free(text);
    if (rc != 0) snprintf(err, err_len, "%s: %s", path, why);
    return rc;
}

void bb_gb_run_free(bb_gb_run *r) {
    for (int i = 0; i < r->n; i++) {
        bb_free(r->e[i].name);
        bb_free(r->e[i].run_name);
        bb_free(r->e[i].label);
        bb_free(r->e[i].aggregate_name);
    }
    bb_free(r->e);
    for (int i = 0; i < r->n_ctx; i++) {
        bb_free(r->ctx_keys[i]);
        bb_free(r->ctx_values[i]);
    }
    bb_free(r->ctx_keys);
    bb_free(r->ctx_values);
    memset(r, 0, sizeof *r);
}

const char *bb_gb_run_context(const bb_gb_run *r, const char *key) {
    for (int i = 0; i < r->n_ctx; i++)
        if (strcmp(r->ctx_keys[i], key) == 0) return r->ctx_values[i];
    return NULL;
}

double bb_gb_unit_seconds(const char *unit) {
    static const struct { const char *name; double s; } units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1.0}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].name) == 0) return units[i].s;
    return 0.0;
}
