/* cmd_memory.c — `bitbench bench memory` (issue #8): for every point of the sweep axes
 * (bench/sweep.h), the tracked allocator's bytes by category after --steps training steps
 * (engine/alloc.h: measured, never estimated), the memory calculator's prediction for the
 * same configuration beside them (bench/memcalc.h, through the method table), and the
 * process's peak resident set size during the point.
 *
 * Measured = the growth of each category from before the run was built to after the
 * steps, with the packed kernels' reusable activation cache released first (it is not
 * predicted; it is reported as measured_kernel_scratch_mib), exactly as the calculator's
 * validation test measures (tests/test_memcalc.c). Peak RSS per point: Linux resets the
 * VmHWM counter when "5" is written to /proc/self/clear_refs (proc(5)); where that fails
 * the row says its peak covers the whole process (peak_rss_scope = process). */
#include "../common/args.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include "../precisions/gemm.h"
#include "cli.h"
#include "csv.h"
#include "harness.h"
#include "model_args.h"
#include "progress.h"
#include "results.h"
#include "schemas.h"
#include "stop.h"
#include "sweep.h"
#include "train_data.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* VmRSS or VmHWM of this process from /proc/self/status, in bytes (0 if unknown). */
static double proc_status_bytes(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    double v = 0;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') v = atof(line + fl + 1) * 1024.0;  /* kB */
    fclose(f);
    return v;
}

/* Resets the peak-RSS counter; returns whether the kernel accepted it. */
static bool reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    bool ok = fputs("5", f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok;
}

static const struct {
    bb_mem_category cat;
    const char *measured, *predicted;
} categories[] = {
    {BB_MEM_PARAMS, "measured_parameters_mib", "predicted_parameters_mib"},
    {BB_MEM_PACKED, "measured_packed_mib", "predicted_packed_mib"},
    {BB_MEM_GRADS, "measured_gradients_mib", "predicted_gradients_mib"},
    {BB_MEM_OPTIM, "measured_optimizer_mib", "predicted_optimizer_mib"},
    {BB_MEM_ACTS, "measured_activations_mib", "predicted_activations_mib"},
    {BB_MEM_WORKSPACE, "measured_workspace_mib", "predicted_workspace_mib"},
    {BB_MEM_TEACHER, "measured_teacher_mib", "predicted_teacher_mib"},
    {BB_MEM_FROZEN, "measured_frozen_mib", "predicted_frozen_mib"},
    {BB_MEM_ADAPTERS, "measured_adapters_mib", "predicted_adapters_mib"},
    {BB_MEM_ADAPTER_GRADS, "measured_adapter_gradients_mib", "predicted_adapter_gradients_mib"},
    {BB_MEM_ADAPTER_OPTIM, "measured_adapter_optimizer_mib", "predicted_adapter_optimizer_mib"},
};
#define N_CATS ((int)(sizeof categories / sizeof categories[0]))

static double predicted_of(const bb_memcalc *m, bb_mem_category c) {
    switch (c) {
    case BB_MEM_PARAMS: return m->parameters;
    case BB_MEM_PACKED: return m->packed;
    case BB_MEM_GRADS: return m->gradients;
    case BB_MEM_OPTIM: return m->optimizer;
    case BB_MEM_ACTS: return m->activations;
    case BB_MEM_WORKSPACE: return m->workspace;
    case BB_MEM_TEACHER: return m->teacher;
    case BB_MEM_FROZEN: return m->frozen;
    case BB_MEM_ADAPTERS: return m->adapters;
    case BB_MEM_ADAPTER_GRADS: return m->adapter_grads;
    case BB_MEM_ADAPTER_OPTIM: return m->adapter_optim;
    default: return NAN;
    }
}

typedef struct {
    double measured[N_CATS], measured_total, scratch, tracked_peak, baseline_rss, peak_rss;
    bool rss_per_row;
    size_t n_params;
} mem_result;

/* Returns 1 when a stop was requested during the point. */
static int measure(const bb_sweep_point *p, long steps, long seed, const char *base_ckpt, mem_result *res) {
    char err[600];
    bb_set_threads(p->threads);
    int B = p->batch, T = p->seq;
    int *inputs, *targets;
    bb_kjv_batches(p->cfg.vocab_size, B, T, (int)steps, seed, &inputs, &targets);
    bb_gemm_scratch_release();
    bb_mem_stats before = bb_mem_stats_get();
    res->rss_per_row = reset_peak_rss();
    res->baseline_rss = proc_status_bytes("VmRSS");
    bb_mem_reset_peaks();
    bb_method_setup setup = {&p->cfg, bb_devices[p->device].backend, base_ckpt, (uint64_t)seed, p->ckpt_mode, bb_method_default_opt(3e-4f),
                             BB_PREC_FP32};
    bb_method_run r;
    if (p->method->init(&r, &setup, err, sizeof err) != 0) bb_user_error("%s", err);
    res->n_params = r.model.n_params;
    int stopped = 0;
    for (long s = 0; s < steps && !stopped; s++) {
        p->method->step(&r, inputs + (size_t)s * B * T, targets + (size_t)s * B * T, B, T, setup.opt.lr);
        stopped = bb_stop_requested();
    }
    bb_mem_stats with_scratch = bb_mem_stats_get();
    bb_gemm_scratch_release();
    bb_mem_stats after = bb_mem_stats_get();
    res->scratch = (double)with_scratch.current[BB_MEM_WORKSPACE] - (double)after.current[BB_MEM_WORKSPACE];
    res->measured_total = 0;
    for (int c = 0; c < N_CATS; c++) {
        bb_mem_category k = categories[c].cat;
        res->measured[c] = (double)after.current[k] - (double)before.current[k];
        res->measured_total += res->measured[c];
    }
    res->tracked_peak = (double)after.peak_total - (double)before.current_total;
    double hwm = proc_status_bytes("VmHWM");
    res->peak_rss = hwm > 0 ? hwm : (double)bb_mem_peak_rss();
    p->method->free(&r);
    bb_free(inputs);
    bb_free(targets);
    return stopped;
}

int bb_cmd_bench_memory(int argc, char **argv) {
    bb_sweep_args sa = BB_SWEEP_ARGS_DEFAULT;
    long steps = 1, seed = 1337;
    const char *out = NULL;
    bool fresh = false;
    const bb_arg args[] = {
        BB_SWEEP_ARG_ENTRIES(sa),
        {"steps", BB_ARG_INT, &steps, "N", "training steps before measuring (one allocates everything)", 1, 1000},
        {"seed", BB_ARG_INT, &seed, "N", "weights and data seed", 0, 2147483647},
        {"out", BB_ARG_STR, &out, "DIR", "results folder (default results/runs/<run id>-memory; resumed)", 0, -1},
        {"fresh", BB_ARG_FLAG, &fresh, NULL, "never resume: a new folder (-2, -3, ...)", 0, -1},
    };
    const bb_cmd_spec spec = {
        "bench memory",
        "Measured training memory by category (tracked allocator), the calculator's prediction beside it,\n"
        "and the peak RSS, per device x preset x precision x method x batch x seq x checkpointing.",
        "[--preset small] [--precisions all] [--methods all] [--checkpointing none,selective,block] [--out DIR]", args,
        (int)(sizeof args / sizeof args[0]), 0, 0,
        "Writes memory.csv (columns: bitbench bench schema memory.csv) and manifest.json; resumes like\n"
        "bench throughput. --threads takes one value here (memory does not depend on it)."};
    bb_args_parse(&spec, argc, argv, NULL);
    if (strchr(sa.threads, ',')) bb_usage_error("bench memory", "--threads takes one value here");
    bb_stop_install();
    bb_env env;
    bb_env_collect(&env);
    bb_sweep_point *pts;
    int n = bb_sweep_expand(&sa, "bench memory", &env, &pts);
    if (n == 0) bb_user_error("bench memory: nothing this machine and build can measure (see above)");
    char config[1024], err[600], cpu[256];
    bb_sweep_describe(&sa, config, sizeof config);
    snprintf(config + strlen(config), sizeof config - strlen(config), ";steps=%ld;seed=%ld", steps, seed);
    bb_run run;
    bb_run_begin(&run, "memory", "bench memory", "memory", out, fresh, config, argc, argv);
    bb_csv_table t;
    if (bb_csv_table_open(&t, run.dir, &bb_schema_memory, err, sizeof err) != 0) bb_user_error("%s", err);
    bb_csv_clean(cpu, sizeof cpu, run.env.cpu_model);
    bb_progress prog;
    bb_progress_init(&prog, n);
    int done = 0, skipped = 0;
    printf("bench memory: %d points into %s (MiB)\n", n, run.dir);
    printf("%-34s %10s %10s %8s %10s %10s\n", "point", "measured", "predicted", "error", "acts", "peak RSS");
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        const bb_sweep_point *p = &pts[i];
        if (bb_stop_requested()) bb_stop_exit("rerun the same command to resume");
        char key[512], label[256], base[4300] = "", status[400];
        bb_sweep_key(p, false, NULL, key, sizeof key);
        bb_sweep_label(p, label, sizeof label);
        if (bb_csv_table_has(&t, key)) {
            skipped++;
            done++;
            continue;
        }
        snprintf(status, sizeof status, "memory %d/%d  %s", done + 1, n, label);
        bb_progress_update(&prog, done, status);
        if (p->method->needs_base) bb_harness_random_base(run.dir, &p->cfg, (uint64_t)seed, base, sizeof base);
        mem_result res;
        memset(&res, 0, sizeof res);
        if (measure(p, steps, seed, base, &res)) bb_stop_exit("rerun the same command to resume");
        bb_memcalc pred;
        bool has_pred = p->method->predict != NULL;
        if (has_pred) p->method->predict(&p->cfg, p->batch, p->seq, p->ckpt_mode, &pred);
        const double MiB = 1048576.0;
        bb_csv_row row;
        bb_csv_row_init(&row, &bb_schema_memory);
        bb_csv_row_str(&row, "device", bb_devices[p->device].name);
        bb_csv_row_str(&row, "preset", p->preset);
        bb_csv_row_str(&row, "precision", bb_precisions[p->cfg.precision].name);
        bb_csv_row_str(&row, "method", p->method->name);
        bb_csv_row_fmt(&row, "batch", "%d", p->batch);
        bb_csv_row_fmt(&row, "seq", "%d", p->seq);
        bb_csv_row_str(&row, "checkpointing", bb_ckpt_names[p->ckpt_mode]);
        bb_csv_row_fmt(&row, "n_params", "%zu", res.n_params);
        for (int c = 0; c < N_CATS; c++) {
            bb_csv_row_num(&row, categories[c].measured, res.measured[c] / MiB, 3);
            bb_csv_row_num(&row, categories[c].predicted, has_pred ? predicted_of(&pred, categories[c].cat) / MiB : NAN, 3);
        }
        bb_csv_row_num(&row, "measured_total_mib", res.measured_total / MiB, 3);
        bb_csv_row_num(&row, "measured_kernel_scratch_mib", res.scratch / MiB, 3);
        bb_csv_row_num(&row, "tracked_peak_mib", res.tracked_peak / MiB, 3);
        bb_csv_row_num(&row, "predicted_total_mib", has_pred ? pred.total / MiB : NAN, 3);
        double err_pct = has_pred ? 100.0 * (pred.total - res.measured_total) / res.measured_total : NAN;
        bb_csv_row_num(&row, "predicted_error_pct", err_pct, 3);
        bb_csv_row_num(&row, "baseline_rss_mib", res.baseline_rss / MiB, 2);
        bb_csv_row_num(&row, "peak_rss_mib", res.peak_rss / MiB, 2);
        bb_csv_row_str(&row, "peak_rss_scope", res.rss_per_row ? "row" : "process");
        bb_harness_row_machine(&row, cpu, run.env.git_commit);
        bb_harness_append(&t, &row);
        done++;
        bb_progress_clear(&prog);
        printf("%-34s %10.1f %10.1f %7.2f%% %10.1f %10.1f\n", label, res.measured_total / MiB,
               has_pred ? pred.total / MiB : NAN, err_pct, res.measured[4] / MiB, res.peak_rss / MiB);
        fflush(stdout);
    }
    bb_progress_update(&prog, n, "memory done");
    bb_progress_finish(&prog);
    if (skipped) printf("resumed: %d of %d rows were already in %s\n", skipped, n, t.path);
    printf("results: %s\n", t.path);
    bb_csv_table_close(&t);
    bb_free(pts);
    return 0;
}
