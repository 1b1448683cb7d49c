/* csv.h — the results CSVs of the harness drivers (issue #8): a schema per file (snake_case
 * column names with units, one documentation line per column), a reader, and a keyed table
 * that appends rows atomically so an interrupted run loses at most the row in flight and a
 * rerun resumes where it stopped.
 *
 * Invariants:
 * - The first line is the schema's header, exactly; a file with another header is never
 *   appended to (a run made by another version gets a new folder).
 * - A row's key is its first n_key fields joined by ','; a table holds each key once.
 * - Every append rewrites the file through a temp file + fsync + rename (common/io.h), so
 *   the file on disk is always the old or the new whole content, never half a row.
 * - Fields never contain ',', '"' or newlines (bb_csv_clean replaces them), so the files
 *   read with a plain split and with gnuplot's `set datafile separator comma`. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *name;  /* snake_case, units in the name: train_tokens_per_s_median, peak_rss_mib */
    const char *doc;   /* one line for results/README.md and `bitbench bench schema` */
} bb_csv_col;

typedef struct {
    const char *file;   /* "throughput.csv" */
    const char *title;  /* one line: what a row is */
    const bb_csv_col *cols;
    int n_cols;
    int n_key;          /* the first n_key columns identify a row */
} bb_csv_schema;

/* --- reading ------------------------------------------------------------------------ */
typedef struct {
    char *text;          /* the file, split in place */
    int n_cols, n_rows;
    char **header;       /* (n_cols) */
    char **cells;        /* (n_rows * n_cols) row-major */
} bb_csv_doc;

/* Reads a CSV whose every line has the header's field count. A last line without its
 * newline is dropped (*dropped_tail set) rather than read as a row. Returns 0, or -1 with
 * a reason naming the file and line. */
int bb_csv_read(const char *path, bb_csv_doc *d, bool *dropped_tail, char *err, size_t err_len);
void bb_csv_doc_free(bb_csv_doc *d);
/* Column index by name, -1 if absent. */
int bb_csv_col_index(const bb_csv_doc *d, const char *name);
/* Cell (row, column name); "" if the column is absent. */
const char *bb_csv_cell(const bb_csv_doc *d, int row, const char *col);

/* --- the keyed, atomically appended table -------------------------------------------- */
typedef struct {
    const bb_csv_schema *s;
    char path[4200];
    char *text;      /* the whole file as it is on disk */
    size_t len, cap;
    int n_rows;
    int n_resumed;   /* rows found when the table was opened */
} bb_csv_table;

/* Opens dir/s->file: creates it with the header, or loads it and checks the header.
 * Returns 0, or -1 with a reason (unreadable, other header, malformed row). */
int bb_csv_table_open(bb_csv_table *t, const char *dir, const bb_csv_schema *s, char *err, size_t err_len);
void bb_csv_table_close(bb_csv_table *t);
/* Whether a row with this key (first n_key fields joined by ',') is present. */
bool bb_csv_table_has(const bb_csv_table *t, const char *key);
/* Field `col` of the row with this key, copied into out; returns false if either is
 * absent. */
bool bb_csv_table_get(const bb_csv_table *t, const char *key, const char *col, char *out, size_t cap);
/* Appends rows (each a line without '\n', fields in schema order) in one atomic rewrite,
 * first removing every present row whose key starts with replace_prefix (NULL: none), so
 * appending a group of rows again after an interruption never duplicates them. Returns 0,
 * or -1 with a reason (a row with the wrong field count, a duplicate key, an I/O error). */
int bb_csv_table_append(bb_csv_table *t, const char *const *rows, int n, const char *replace_prefix, char *err,
                        size_t err_len);

/* Forgets every row in memory (the header stays); the next append rewrites the file with
 * only its rows. For tables that mirror another file. */
void bb_csv_table_truncate(bb_csv_table *t);

/* --- building a row by column name ----------------------------------------------------- */
typedef struct {
    const bb_csv_schema *s;
    char *fields[64];
    bool set[64];
} bb_csv_row;

void bb_csv_row_init(bb_csv_row *r, const bb_csv_schema *s);
/* Sets a column by name (the value is cleaned of ',', '"' and newlines); an unknown name
 * is an internal error (BB_CHECK). */
void bb_csv_row_str(bb_csv_row *r, const char *col, const char *value);
/* printf-formatted value; a non-finite double should be passed as an empty string instead. */
void bb_csv_row_fmt(bb_csv_row *r, const char *col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "%.*f" of v, or empty when v is not finite (no measurement). */
void bb_csv_row_num(bb_csv_row *r, const char *col, double v, int decimals);
/* The row as one line (no newline) in out; returns -1 (and names the first unset column
 * in err) if a column was never set. Frees the fields either way. */
int bb_csv_row_finish(bb_csv_row *r, char *out, size_t cap, char *err, size_t err_len);

/* The key of a line: its first n_key fields. */
void bb_csv_key_of(const char *line, int n_key, char *out, size_t cap);
/* The schema as a markdown section (header line, one bullet per column). */
void bb_csv_schema_print_md(const bb_csv_schema *s, FILE *f);
