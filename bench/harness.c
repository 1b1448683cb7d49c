/* harness.c — see harness.h. */
#include "harness.h"
#include "../common/check.h"
#include "../common/io.h"
#include "../engine/checkpoint.h"
#include "../engine/model.h"
#include "results.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bb_harness_stats(double *v, int n, double out[3]) {
    BB_CHECK(n > 0);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    out[0] = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    out[1] = v[0];
    out[2] = v[n - 1];
}

void bb_harness_row_machine(bb_csv_row *r, const char *cpu, const char *commit) {
    char now[32];
    bb_utc_now(now);
    bb_csv_row_str(r, "cpu", cpu);
    bb_csv_row_str(r, "commit", commit);
    bb_csv_row_str(r, "finished_utc", now);
}

void bb_harness_append(bb_csv_table *t, bb_csv_row *r) {
    char line[8192], err[600];
    if (bb_csv_row_finish(r, line, sizeof line, err, sizeof err) != 0) bb_fatal(__FILE__, __LINE__, "%s", err);
    const char *rows[1] = {line};
    if (bb_csv_table_append(t, rows, 1, NULL, err, sizeof err) != 0) bb_user_error("%s", err);
}

void bb_harness_random_base(const char *run_dir, const bb_config *cfg, uint64_t seed, char *path, size_t cap) {
    char dir[4200], err[600], desc[256];
    snprintf(dir, sizeof dir, "%s/bases", run_dir);
    if (bb_mkdir_p(dir) != 0) bb_user_error("cannot create %s: %s", dir, strerror(errno));
    bb_config c = *cfg;
    c.precision = BB_PREC_FP32;
    c.act_quant = BB_ACTQ_NONE;
    bb_config_describe(&c, desc, sizeof desc);
    char h[17];
    bb_config_hash(desc, h);
    snprintf(path, cap, "%s/random-fp32-%s-seed%llu.safetensors", dir, h, (unsigned long long)seed);
    if (bb_file_exists(path)) return;
    bb_model m;
    if (bb_model_init(&m, &c, &bb_backend_cpu, false, err, sizeof err) != 0) bb_user_error("%s", err);
    bb_model_init_weights(&m, seed);
    bb_ckpt_info info = {.seed = seed};
    snprintf(info.producer, sizeof info.producer, "bitbench harness random base");
    if (bb_checkpoint_save(&m, path, &info, err, sizeof err) != 0) bb_user_error("%s", err);
    bb_model_free(&m);
}
