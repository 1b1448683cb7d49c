/* report_data.h — what the report reads from a results folder (bench/report.c): the CSVs,
 * the manifest's machine, build and commands, lookups of the rows a claim is compared
 * with, and the verdict of a row assembled from its checked parts. Internal to the report. */
#pragma once
#include "csv.h"
#include <stdbool.h>
#include <stdio.h>

typedef struct {
    char run_dir[4096];
    bb_csv_doc tp, mem, q, kern;
    bool has_tp, has_mem, has_q, has_kern;
    /* the configuration the sweep tables are compared at: the first cpu row of method full
     * without checkpointing (a run may hold others; they are listed, not compared) */
    char tp_preset[64];
    int tp_batch, tp_seq, tp_threads;
    char mem_preset[64];
    int mem_batch, mem_seq;
    /* the machine and build, from manifest.json */
    char run_id[256], created[64], cpu[256], os[256], host[256], openblas[300], compiler[128], build_type[64],
        build_flags[600], commit[64], cuda[300], simd[32], binary[80];
    int cores;
    double mem_gib;
    int n_commands;
    char stages[32][64];
    char commands[32][2048];
} bb_rdata;

/* Loads what exists (absent CSVs are simply absent); -1 only without a manifest. */
int bb_rdata_load(bb_rdata *d, const char *run_dir, char *err, size_t err_len);
void bb_rdata_free(bb_rdata *d);

/* Row of throughput.csv at the compared configuration, -1 if none. */
int bb_rdata_tp(const bb_rdata *d, const char *prec, const char *method, const char *ckpt);
/* Row of memory.csv at the compared configuration, -1 if none. */
int bb_rdata_mem(const bb_rdata *d, const char *prec, const char *method, const char *ckpt);
/* Row of quality.csv (first of task, precision, method), -1 if none. */
int bb_rdata_q(const bb_rdata *d, const char *task, const char *prec, const char *method);
/* A numeric cell, NAN when the row is -1 or the cell empty. */
double bb_rdata_num(const bb_csv_doc *doc, int row, const char *col);
/* Mean of a kernels.csv column over the rows of a precision, NAN if none. */
double bb_rdata_kernel_mean(const bb_rdata *d, const char *prec, const char *col);

/* The verdict of one claim row: each checked part holds, fails, or cannot be measured
 * here (reason starts with "needs ..."). */
typedef struct {
    int n_fail, n_hold, n_na;
    char fail[700], hold[700], na[700];
} bb_verdict;

void bb_verdict_fail(bb_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bb_verdict_hold(bb_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bb_verdict_na(bb_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "does not hold (...)" if any part fails; else "holds (...)", with what could not be
 * measured after it; else "not measurable here (needs ...)". */
void bb_verdict_text(const bb_verdict *v, char *out, size_t cap);

/* A markdown table: header then rows, '|' in cells escaped. */
void bb_md_header(FILE *f, int n, const char *const *cols);
void bb_md_row(FILE *f, int n, char (*cells)[700]);
