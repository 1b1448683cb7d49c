/* gbench_json.h — reading Google Benchmark JSON (shared/specs/evaluation.md §4.1) into a
 * flat list of benchmark entries, for `bench compare` and for the CSV of `bench kernels`.
 *
 * Google Benchmark prints non-finite doubles as bare NaN / Infinity / -Infinity, which
 * is not JSON; bb_gbench_sanitize rewrites those tokens (outside strings only) to null /
 * 1e999 / -1e999 so the strict parser (common/json_parse.h) accepts the text, and a null
 * number reads back as NaN. Entries keep the file's order; every string is copied into
 * the run, so the parse tree is freed at once. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *name;
    char *run_name;        /* NULL if absent */
    char *label;           /* NULL if absent */
    char *aggregate_name;  /* NULL unless an aggregate */
    char time_unit[8];     /* "" if absent */
    bool aggregate;        /* run_type == "aggregate" */
    bool has_times;        /* real_time, cpu_time and time_unit all present */
    bool error;            /* error_occurred */
    double real_time, cpu_time;   /* per iteration, in time_unit; NaN for null */
    double iterations;
    double flops;                 /* "flops" counter (FLOP/s), NaN if absent */
    double bytes_per_second;      /* NaN if absent */
} bb_gb_entry;

typedef struct {
    bb_gb_entry *e;
    int n, cap;
    /* the string-valued keys of "context" (e.g. bitbench_isa, bitbench_threads) */
    char **ctx_keys, **ctx_values;
    int n_ctx;
} bb_gb_run;

/* Returns a bb_alloc'd, NUL-terminated copy of text[0..len) with NaN/Infinity rewritten. */
char *bb_gbench_sanitize(const char *text, size_t len, size_t *out_len);
/* Parses a Google Benchmark JSON document. Returns 0, or -1 with a one-line reason. */
int bb_gb_run_parse(bb_gb_run *r, const char *text, size_t len, char *err, size_t err_len);
/* Reads and parses a file; the reason names the file. */
int bb_gb_run_load(bb_gb_run *r, const char *path, char *err, size_t err_len);
void bb_gb_run_free(bb_gb_run *r);
/* The context value of key, or NULL. */
const char *bb_gb_run_context(const bb_gb_run *r, const char *key);
/* Appends a copy of e (strings duplicated). */
void bb_gb_run_push(bb_gb_run *r, const bb_gb_entry *e);
/* Seconds per time unit ("ns", "us", "ms", "s"); 0 for anything else. */
double bb_gb_unit_seconds(const char *unit);
