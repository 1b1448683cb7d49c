/* claims.h — the claims the report re-measures, read from ../shared/specs/claims.md (or any
 * file of that shape): every "## Table X — title" section with its markdown table (header
 * and rows, cells verbatim) or its bullet list (Table C: one row per bullet, one cell),
 * and the "Other claims:" paragraph split into its quoted claims. Nothing is interpreted
 * here; bench/report.c maps rows to measurements by their first cell. */
#pragma once
#include <stddef.h>

#define BB_CLAIMS_MAX_TABLES 8
#define BB_CLAIMS_MAX_ROWS 16
#define BB_CLAIMS_MAX_COLS 8

typedef struct {
    char id;                  /* 'A', 'B', ... from "## Table A" */
    char title[256];          /* the heading after "Table A — " */
    int bullets;              /* 1: rows are bullets (one cell each), 0: a markdown table */
    int n_cols, n_rows;
    char header[BB_CLAIMS_MAX_COLS][128];
    char cell[BB_CLAIMS_MAX_ROWS][BB_CLAIMS_MAX_COLS][384];
} bb_claims_table;

typedef struct {
    int n_tables;
    bb_claims_table tables[BB_CLAIMS_MAX_TABLES];
    int n_other;
    char other[BB_CLAIMS_MAX_ROWS][256];  /* 'gradient checkpointing "saves 50 % ..."' */
} bb_claims;

/* Parses the text; returns 0, or -1 with a reason when no table is found. */
int bb_claims_parse(const char *text, bb_claims *c, char *err, size_t err_len);
/* Reads and parses a file. */
int bb_claims_load(const char *path, bb_claims *c, char *err, size_t err_len);
/* The table with this id, or NULL. */
const bb_claims_table *bb_claims_table_find(const bb_claims *c, char id);
/* The first number in s (digits, '.', ','-grouping) and, for a range "94–99" or "2-4",
 * the second; returns how many were found (0, 1 or 2). */
int bb_claims_number(const char *s, double *lo, double *hi);
/* The number written right before the first occurrence of `unit`, NAN
 * if there is none: ("0.2 (weight) + 0.2 (grad)", "(grad)") -> 0.2. */
double bb_claims_number_before(const char *s, const char *unit);
