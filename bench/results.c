/* results.c — see results.h. */
#include "results.h"
#include "../common/check.h"
#include "../common/json.h"
#include <errno.h>
#include <string.h>
#include <time.h>

#ifndef BB_SOURCE_ROOT
#define BB_SOURCE_ROOT "."
#endif

void bb_run_create(bb_run *run, const char *name, const char *out_dir, int argc, char **argv) {
    bb_env_collect(&run->env);
    if (out_dir) {
        snprintf(run->dir, sizeof run->dir, "%s", out_dir);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime(&now));
        snprintf(run->dir, sizeof run->dir, "%s/results/runs/%s-%s", BB_SOURCE_ROOT, stamp, name);
    }
    if (bb_mkdir_p(run->dir) != 0) bb_user_error("cannot create results folder %s: %s", run->dir, strerror(errno));
    bb_atomic_file af;
    FILE *f = bb_run_open(run, "manifest.json", &af);
    bb_json j;
    bb_json_init(&j, f);
    bb_json_obj_begin(&j);
    bb_json_key(&j, "run"); bb_json_str(&j, name);
    bb_json_key(&j, "command");
    bb_json_arr_begin(&j);
    bb_json_str(&j, "bitbench");
    for (int i = 0; i < argc; i++) bb_json_str(&j, argv[i]);
    bb_json_arr_end(&j);
    bb_json_key(&j, "env");
    bb_env_write_json(&run->env, &j);
    bb_json_obj_end(&j);
    bb_run_commit(&af);
}

FILE *bb_run_open(bb_run *run, const char *file, bb_atomic_file *af) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", run->dir, file);
    FILE *f = bb_atomic_open(af, path);
    if (!f) bb_user_error("cannot write %s: %s", path, strerror(errno));
    return f;
}

void bb_run_commit(bb_atomic_file *af) {
    if (bb_atomic_commit(af) != 0) bb_user_error("cannot write %s: %s", af->path, strerror(errno));
}

void bb_csv_clean(char *dst, size_t cap, const char *s) {
    size_t n = 0;
    for (; *s && n + 1 < cap; s++) dst[n++] = (*s == ',' || *s == '"' || *s == '\n') ? ' ' : *s;
    dst[n] = '\0';
}
