/* results.h — a run's output folder: results/runs/<UTC time>-<name>/ (or --out DIR)
 * with manifest.json (the `bitbench env` object, the command line, the time) next to
 * the CSVs the run writes. Every CSV row also carries the CPU model and git commit, so
 * a CSV copied on its own still says where its numbers came from. All files are
 * written atomically. */
#pragma once
#include "../common/io.h"
#include "env.h"
#include <stdio.h>

typedef struct {
    char dir[4096];
    bb_env env;
} bb_run;

/* Creates the folder and writes manifest.json; exits with a clear error on failure. */
void bb_run_create(bb_run *run, const char *name, const char *out_dir, int argc, char **argv);
/* Opens <dir>/<file> for atomic writing; commit with bb_atomic_commit. */
FILE *bb_run_open(bb_run *run, const char *file, bb_atomic_file *af);
void bb_run_commit(bb_atomic_file *af);
/* CSV-safe copy of s (commas and quotes replaced) for the machine columns. */
void bb_csv_clean(char *dst, size_t cap, const char *s);
