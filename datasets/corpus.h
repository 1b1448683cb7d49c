/* corpus.h — the shipped corpora: where they are, what each split must contain, and
 * the checks behind `bitbench data verify` (specs/data.md). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *name;       /* "lm/train" */
    const char *file;       /* path relative to the data dir */
    int expected_lines;     /* specs/data.md counts */
    const char *role;       /* one-line description */
} bb_corpus_file;

extern const bb_corpus_file bb_corpus_files[];
extern const int bb_corpus_n_files;

/* Data dir: --data flag, else $BITBENCH_DATA, else <source root>/datasets.
 * Cache dir: $BITBENCH_CACHE, else <source root>/.cache. */
const char *bb_data_dir(void);
void bb_data_dir_set(const char *dir);
const char *bb_cache_dir(void);

/* Joins dir and file into out; exits with a clear error if it does not fit. */
void bb_path_join(char *out, size_t cap, const char *dir, const char *file);

const bb_corpus_file *bb_corpus_find(const char *name);

/* Reads a split; returns 0 or -1 (with reason in err). data is bb_alloc'd. */
int bb_corpus_read(const char *name, char **data, size_t *len, char *err, size_t err_len);

/* Checks every file against <data dir>/SHA256SUMS and the line counts. Prints one line
 * per file (OK or the mismatch) to stdout; returns the number of problems. */
int bb_corpus_verify(bool quiet);

/* Number of '\n'-terminated lines; -1 if the last line lacks its '\n'. */
long bb_count_lines(const char *data, size_t len);
