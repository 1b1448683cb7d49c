/* harness.h — small helpers the harness drivers share (issue #8). */
#pragma once
#include "../engine/config.h"
#include "csv.h"
#include <stddef.h>
#include <stdint.h>

/* median, min, max of v[0..n) into out[3] (v is reordered). */
void bb_harness_stats(double *v, int n, double out[3]);
/* Sets the machine columns every row ends with: cpu, commit, finished_utc (now). */
void bb_harness_row_machine(bb_csv_row *r, const char *cpu, const char *commit);
/* Finishes the row and appends it atomically; exits with the reason on failure. */
void bb_harness_append(bb_csv_table *t, bb_csv_row *r);
/* A random-weight FP32 checkpoint of cfg's shape in <run_dir>/bases/ (made once), for
 * methods that need a base or teacher when only speed or memory is measured. */
void bb_harness_random_base(const char *run_dir, const bb_config *cfg, uint64_t seed, char *path, size_t cap);
