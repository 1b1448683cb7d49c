/* report_data.c — see report_data.h. */
#include "report_data.h"
#include "../common/io.h"
#include "../common/json_parse.h"
#include "../engine/alloc.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static bool load_csv(const char *dir, const char *file, bb_csv_doc *doc) {
    char path[4300], err[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (!bb_file_exists(path)) return false;
    if (bb_csv_read(path, doc, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "report: %s (left out)\n", err);
        return false;
    }
    return true;
}

static void str_of(const bb_json_node *obj, const char *key, char *out, size_t cap) {
    const bb_json_node *n = obj ? bb_json_get(obj, key) : NULL;
    snprintf(out, cap, "%s", n && n->type == BB_JSON_STRING ? n->str : "");
}

static double num_of(const bb_json_node *obj, const char *key) {
    const bb_json_node *n = obj ? bb_json_get(obj, key) : NULL;
    return n && n->type == BB_JSON_NUMBER ? n->number : NAN;
}

int bb_rdata_load(bb_rdata *d, const char *run_dir, char *err, size_t err_len) {
    memset(d, 0, sizeof *d);
    snprintf(d->run_dir, sizeof d->run_dir, "%s", run_dir);
    char path[4300], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/manifest.json", run_dir);
    if (bb_read_file(path, &text, &len) != 0) {
        snprintf(err, err_len, "%s is not a results folder: cannot read %s: %s", run_dir, path, strerror(errno));
        return -1;
    }
    bb_json_doc *doc = bb_json_parse(text, len, err, err_len);
    bb_free(text);
    if (!doc) return -1;
    const bb_json_node *root = bb_json_doc_root(doc), *env = bb_json_get(root, "env");
    str_of(root, "run_id", d->run_id, sizeof d->run_id);
    str_of(root, "created_utc", d->created, sizeof d->created);
    str_of(root, "binary_sha256", d->binary, sizeof d->binary);
    str_of(env, "cpu_model", d->cpu, sizeof d->cpu);
    str_of(env, "os", d->os, sizeof d->os);
    str_of(env, "hostname", d->host, sizeof d->host);
    str_of(env, "openblas", d->openblas, sizeof d->openblas);
    str_of(env, "compiler", d->compiler, sizeof d->compiler);
    str_of(env, "build_type", d->build_type, sizeof d->build_type);
    str_of(env, "build_flags", d->build_flags, sizeof d->build_flags);
    str_of(env, "git_commit", d->commit, sizeof d->commit);
    str_of(env, "simd_path", d->simd, sizeof d->simd);
    str_of(env ? bb_json_get(env, "cuda") : NULL, "status", d->cuda, sizeof d->cuda);
    d->cores = (int)num_of(env, "logical_cpus");
    d->mem_gib = num_of(env, "memory_gib");
    const bb_json_node *inv = bb_json_get(root, "invocations");
    if (inv && inv->type == BB_JSON_ARRAY)
        for (const bb_json_node *c = inv->child; c && d->n_commands < 32; c = c->next) {
            str_of(c, "stage", d->stages[d->n_commands], sizeof d->stages[0]);
            str_of(c, "command_line", d->commands[d->n_commands], sizeof d->commands[0]);
            d->n_commands++;
        }
    bb_json_doc_free(doc);

    d->has_tp = load_csv(run_dir, "throughput.csv", &d->tp);
    d->has_mem = load_csv(run_dir, "memory.csv", &d->mem);
    d->has_q = load_csv(run_dir, "quality.csv", &d->q);
    d->has_kern = load_csv(run_dir, "kernels.csv", &d->kern);
    /* the compared configuration: the first cpu row of method full without checkpointing */
    for (int r = 0; d->has_tp && r < d->tp.n_rows; r++)
        if (strcmp(bb_csv_cell(&d->tp, r, "device"), "cpu") == 0 && strcmp(bb_csv_cell(&d->tp, r, "method"), "full") == 0 &&
            strcmp(bb_csv_cell(&d->tp, r, "checkpointing"), "none") == 0) {
            snprintf(d->tp_preset, sizeof d->tp_preset, "%s", bb_csv_cell(&d->tp, r, "preset"));
            d->tp_batch = atoi(bb_csv_cell(&d->tp, r, "batch"));
            d->tp_seq = atoi(bb_csv_cell(&d->tp, r, "seq"));
            d->tp_threads = atoi(bb_csv_cell(&d->tp, r, "threads"));
            break;
        }
    for (int r = 0; d->has_mem && r < d->mem.n_rows; r++)
        if (strcmp(bb_csv_cell(&d->mem, r, "device"), "cpu") == 0 && strcmp(bb_csv_cell(&d->mem, r, "method"), "full") == 0 &&
            strcmp(bb_csv_cell(&d->mem, r, "checkpointing"), "none") == 0) {
            snprintf(d->mem_preset, sizeof d->mem_preset, "%s", bb_csv_cell(&d->mem, r, "preset"));
            d->mem_batch = atoi(bb_csv_cell(&d->mem, r, "batch"));
            d->mem_seq = atoi(bb_csv_cell(&d->mem, r, "seq"));
            break;
        }
    return 0;
}

void bb_rdata_free(bb_rdata *d) {
    if (d->has_tp) bb_csv_doc_free(&d->tp);
    if (d->has_mem) bb_csv_doc_free(&d->mem);
    if (d->has_q) bb_csv_doc_free(&d->q);
    if (d->has_kern) bb_csv_doc_free(&d->kern);
    memset(d, 0, sizeof *d);
}

static bool is(const bb_csv_doc *doc, int r, const char *col, const char *v) { return strcmp(bb_csv_cell(doc, r, col), v) == 0; }

int bb_rdata_tp(const bb_rdata *d, const char *prec, const char *method, const char *ckpt) {
    for (int r = 0; d->has_tp && r < d->tp.n_rows; r++)
        if (is(&d->tp, r, "device", "cpu") && is(&d->tp, r, "precision", prec) && is(&d->tp, r, "method", method) &&
            is(&d->tp, r, "checkpointing", ckpt) && is(&d->tp, r, "preset", d->tp_preset) &&
            atoi(bb_csv_cell(&d->tp, r, "batch")) == d->tp_batch && atoi(bb_csv_cell(&d->tp, r, "seq")) == d->tp_seq &&
            atoi(bb_csv_cell(&d->tp, r, "threads")) == d->tp_threads)
            return r;
    return -1;
}

int bb_rdata_mem(const bb_rdata *d, const char *prec, const char *method, const char *ckpt) {
    for (int r = 0; d->has_mem && r < d->mem.n_rows; r++)
        if (is(&d->mem, r, "device", "cpu") && is(&d->mem, r, "precision", prec) && is(&d->mem, r, "method", method) &&
            is(&d->mem, r, "checkpointing", ckpt) && is(&d->mem, r, "preset", d->mem_preset) &&
            atoi(bb_csv_cell(&d->mem, r, "batch")) == d->mem_batch && atoi(bb_csv_cell(&d->mem, r, "seq")) == d->mem_seq)
            return r;
    return -1;
}

int bb_rdata_q(const bb_rdata *d, const char *task, const char *prec, const char *method) {
    for (int r = 0; d->has_q && r < d->q.n_rows; r++)
        if (is(&d->q, r, "task", task) && is(&d->q, r, "precision", prec) && is(&d->q, r, "method", method)) return r;
    return -1;
}

double bb_rdata_num(const bb_csv_doc *doc, int row, const char *col) {
    if (row < 0) return NAN;
    const char *s = bb_csv_cell(doc, row, col);
    return *s ? atof(s) : NAN;
}

double bb_rdata_kernel_mean(const bb_rdata *d, const char *prec, const char *col) {
    double sum = 0;
    int n = 0;
    for (int r = 0; d->has_kern && r < d->kern.n_rows; r++) {
        double v = bb_rdata_num(&d->kern, r, col);
        if (is(&d->kern, r, "precision", prec) && isfinite(v)) { sum += v; n++; }
    }
    return n ? sum / n : NAN;
}

static void append(char *buf, size_t cap, int *count, const char *fmt, va_list ap) {
    size_t n = strlen(buf);
    if (*count > 0 && n + 2 < cap) { strcat(buf, "; "); n += 2; }
    vsnprintf(buf + n, cap - n, fmt, ap);
    (*count)++;
}

void bb_verdict_fail(bb_verdict *v, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    append(v->fail, sizeof v->fail, &v->n_fail, fmt, ap);
    va_end(ap);
}

void bb_verdict_hold(bb_verdict *v, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    append(v->hold, sizeof v->hold, &v->n_hold, fmt, ap);
    va_end(ap);
}

void bb_verdict_na(bb_verdict *v, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    append(v->na, sizeof v->na, &v->n_na, fmt, ap);
    va_end(ap);
}

void bb_verdict_text(const bb_verdict *v, char *out, size_t cap) {
    if (v->n_fail) snprintf(out, cap, "does not hold (%s)", v->fail);
    else if (v->n_hold && v->n_na) snprintf(out, cap, "holds (%s); the rest is not measurable here (%s)", v->hold, v->na);
    else if (v->n_hold) snprintf(out, cap, "holds (%s)", v->hold);
    else if (v->n_na) snprintf(out, cap, "not measurable here (%s)", v->na);
    else snprintf(out, cap, "not measurable here (needs a claim this report can read)");
}

static void md_cell(FILE *f, const char *s) {
    fputc(' ', f);
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n') fputc(' ', f);
        else fputc(*s, f);
    }
    fputs(" |", f);
}

void bb_md_header(FILE *f, int n, const char *const *cols) {
    fputc('|', f);
    for (int i = 0; i < n; i++) md_cell(f, cols[i]);
    fputs("\n|", f);
    for (int i = 0; i < n; i++) fputs("---|", f);
    fputc('\n', f);
}

void bb_md_row(FILE *f, int n, char (*cells)[700]) {
    fputc('|', f);
    for (int i = 0; i < n; i++) md_cell(f, cells[i]);
    fputc('\n', f);
}
