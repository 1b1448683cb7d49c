/* model_args.c — see model_args.h. One thread count for both runtimes: OpenBLAS is the
 * OpenMP build, so both draw from libgomp's pool and never oversubscribe. */
#include "model_args.h"
#include "../common/args.h"
#include <cblas.h>
#include <omp.h>
#include <stdio.h>

void bb_set_threads(long threads) {
    if (threads <= 0) return;
    omp_set_num_threads((int)threads);
    openblas_set_num_threads((int)threads);
}

void bb_model_args_resolve(const bb_model_args *ma, const char *command, bb_config *cfg) {
    char err[400];
    if (bb_config_from_preset(cfg, ma->model, err, sizeof err) != 0) bb_usage_error(command, "%s", err);
    if (ma->family) {
        char spec[64];
        snprintf(spec, sizeof spec, "family=%s", ma->family);
        if (bb_config_override(cfg, spec, err, sizeof err) != 0) bb_usage_error(command, "--family: %s", err);
    }
    if (ma->overrides && bb_config_override(cfg, ma->overrides, err, sizeof err) != 0)
        bb_usage_error(command, "--set: %s", err);
    if (bb_config_validate(cfg, err, sizeof err) != 0) bb_usage_error(command, "invalid model: %s", err);
    bb_set_threads(ma->threads);
}
