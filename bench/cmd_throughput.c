/* cmd_throughput.c — `bitbench bench throughput` (issue #8): training, prefill and decode
 * tokens/s over the sweep axes (bench/sweep.h: device x preset x method x batch x seq x
 * threads x checkpointing x precision). Per point: the method's run is built on random
 * weights (speed does not depend on their values), --warmup untimed training steps, then
 * --steps timed ones on KJV batches (median/min/max of the per-step tokens/s); then one
 * untimed and --repetitions timed prefill + greedy decode passes over the KV cache with the
 * trained model. Ratios are to the fp32 row of the same run and axes (fp32 always runs
 * first). Rows go to throughput.csv (bench/schemas.c) as they finish; a rerun resumes. */
#include "../common/args.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include "../engine/checkpoint.h"
#include "../engine/kvcache.h"
#include "cli.h"
#include "cpushare.h"
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

typedef struct {
    long warmup, steps, gen, prefill, reps, seed;
} tp_opts;

typedef struct {
    double train[3], prefill[3], decode[3];  /* median, min, max tokens/s */
    double step_ms;
    int prefill_tokens;
    float first_loss, last_loss;
    double other_share;
    size_t n_params;
} tp_result;

/* Runs one point; returns 0, or 1 when a stop was requested (the row is dropped). */
static int measure(const bb_sweep_point *p, const tp_opts *o, const char *base_ckpt, tp_result *res) {
    char err[600];
    bb_set_threads(p->threads);
    int B = p->batch, T = p->seq, S = (int)(o->warmup + o->steps);
    int *inputs, *targets;
    bb_kjv_batches(p->cfg.vocab_size, B, T, S, o->seed, &inputs, &targets);
    bb_method_setup setup = {&p->cfg, bb_devices[p->device].backend, base_ckpt, (uint64_t)o->seed, p->ckpt_mode, bb_method_default_opt(3e-4f),
                             BB_PREC_FP32};
    bb_method_run r;
    if (p->method->init(&r, &setup, err, sizeof err) != 0) bb_user_error("%s", err);
    res->n_params = r.model.n_params;
    bb_cpu_mark m0 = bb_cpu_mark_now();
    double *tps = bb_alloc(BB_MEM_OTHER, (size_t)(o->steps + o->reps + 1) * 2 * sizeof(double));
    int stopped = 0;
    for (int s = 0; s < S && !stopped; s++) {
        double t0 = bb_now();
        float loss = p->method->step(&r, inputs + (size_t)s * B * T, targets + (size_t)s * B * T, B, T, setup.opt.lr);
        double dt = bb_now() - t0;
        if (s == 0) res->first_loss = loss;
        res->last_loss = loss;
        if (s >= o->warmup) tps[s - o->warmup] = (double)B * T / dt;
        stopped = bb_stop_requested();
    }
    for (int i = 0; i < 3; i++) res->prefill[i] = res->decode[i] = NAN;
    if (!stopped) {
        bb_harness_stats(tps, (int)o->steps, res->train);
        res->step_ms = 1e3 * (double)B * T / res->train[0];
    }
    /* inference with the trained model (LoRA: the base plus unmerged adapters) */
    if (!stopped) {
        /* inference with the trained model: prompt from the first batch row */
        int G = (int)o->gen, P = o->prefill > 0 ? (int)o->prefill : T;
        if (P > T) P = T;
        if (P + G > p->cfg.max_seq) P = p->cfg.max_seq - G;
        res->prefill_tokens = P;
        bb_kvcache kv;
        if (bb_kvcache_init(&kv, &r.model, 1, P + G, err, sizeof err) != 0) bb_user_error("%s", err);
        double *pre = tps + o->steps, *dec = pre + o->reps + 1;
        for (long rep = 0; rep <= o->reps && !stopped; rep++) {  /* rep 0 warms up */
            double t0 = bb_now();
            const float *logits = bb_kvcache_prefill(&r.model, &kv, inputs, P);
            double t1 = bb_now();
            for (int g = 0; g < G; g++) {
                int best = 0;
                for (int v = 1; v < p->cfg.vocab_size; v++)
                    if (logits[v] > logits[best]) best = v;
                logits = bb_kvcache_step(&r.model, &kv, &best);
            }
            double t2 = bb_now();
            if (rep > 0) {
                pre[rep - 1] = P / (t1 - t0);
                dec[rep - 1] = G / (t2 - t1);
            }
            stopped = bb_stop_requested();
        }
        if (!stopped) {
            bb_harness_stats(pre, (int)o->reps, res->prefill);
            bb_harness_stats(dec, (int)o->reps, res->decode);
        }
        bb_kvcache_free(&kv);
    }
    res->other_share = bb_cpu_other_share(m0, bb_cpu_mark_now());
    bb_free(tps);
    p->method->free(&r);
    bb_free(inputs);
    bb_free(targets);
    return stopped;
}

/* Ratio of v to the fp32 row's column in the same run, NAN without one. */
static double ratio_to_fp32(const bb_csv_table *t, const bb_sweep_point *p, const char *col, double v) {
    char key[512], cell[64];
    bb_sweep_key(p, true, "fp32", key, sizeof key);
    if (!bb_csv_table_get(t, key, col, cell, sizeof cell) || !cell[0]) return NAN;
    double ref = atof(cell);
    return ref > 0 ? v / ref : NAN;
}

int bb_cmd_bench_throughput(int argc, char **argv) {
    bb_sweep_args sa = BB_SWEEP_ARGS_DEFAULT;
    tp_opts o = {.warmup = 1, .steps = 5, .gen = 32, .prefill = 0, .reps = 3, .seed = 1337};
    const char *out = NULL;
    bool fresh = false;
    const bb_arg args[] = {
        BB_SWEEP_ARG_ENTRIES(sa),
        {"warmup", BB_ARG_INT, &o.warmup, "N", "untimed training steps first", 0, 1000},
        {"steps", BB_ARG_INT, &o.steps, "N", "timed training steps (median, min, max)", 1, 100000},
        {"prefill", BB_ARG_INT, &o.prefill, "N", "prompt tokens (0: seq, capped at max_seq - gen)", 0, 1 << 20},
        {"gen", BB_ARG_INT, &o.gen, "N", "decoded tokens per repetition", 1, 1 << 20},
        {"repetitions", BB_ARG_INT, &o.reps, "N", "timed prefill + decode repetitions (after one untimed)", 1, 1000},
        {"seed", BB_ARG_INT, &o.seed, "N", "weights and data seed", 0, 2147483647},
        {"out", BB_ARG_STR, &out, "DIR", "results folder (default results/runs/<run id>-throughput; resumed)", 0, -1},
        {"fresh", BB_ARG_FLAG, &fresh, NULL, "never resume: a new folder (-2, -3, ...)", 0, -1},
    };
    const bb_cmd_spec spec = {
        "bench throughput",
        "Training, prefill and decode tokens/s per device x preset x precision x method x batch x seq x\n"
        "threads x checkpointing, with median/min/max and ratios to fp32 measured in the same run.",
        "[--preset small] [--precisions all] [--methods all] [--batch 8] [--seq 256] [--out DIR]", args,
        (int)(sizeof args / sizeof args[0]), 0, 0,
        "Writes throughput.csv (columns: bitbench bench schema throughput.csv) and manifest.json. Rows are\n"
        "appended as they finish; Ctrl-C keeps the finished rows and rerunning the command resumes."};
    bb_args_parse(&spec, argc, argv, NULL);
    bb_stop_install();
    bb_env env;
    bb_env_collect(&env);
    bb_sweep_point *pts;
    int n = bb_sweep_expand(&sa, "bench throughput", &env, &pts);
    if (n == 0) bb_user_error("bench throughput: nothing this machine and build can measure (see above)");
    char config[1024], err[600];
    bb_sweep_describe(&sa, config, sizeof config);
    snprintf(config + strlen(config), sizeof config - strlen(config), ";warmup=%ld;steps=%ld;prefill=%ld;gen=%ld;reps=%ld;seed=%ld",
             o.warmup, o.steps, o.prefill, o.gen, o.reps, o.seed);
    bb_run run;
    bb_run_begin(&run, "throughput", "bench throughput", "throughput", out, fresh, config, argc, argv);
    bb_csv_table t;
    if (bb_csv_table_open(&t, run.dir, &bb_schema_throughput, err, sizeof err) != 0) bb_user_error("%s", err);
    char cpu[256];
    bb_csv_clean(cpu, sizeof cpu, run.env.cpu_model);
    bb_progress prog;
    bb_progress_init(&prog, n);
    int done = 0, skipped = 0;
    printf("bench throughput: %d points into %s\n", n, run.dir);
    printf("%-34s %10s %8s %10s %10s %8s\n", "point", "train t/s", "vs fp32", "prefill", "decode", "ms/tok");
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        const bb_sweep_point *p = &pts[i];
        if (bb_stop_requested()) bb_stop_exit("rerun the same command to resume");
        char key[512], label[256], base[4300] = "";
        bb_sweep_key(p, true, NULL, key, sizeof key);
        bb_sweep_label(p, label, sizeof label);
        if (bb_csv_table_has(&t, key)) {
            skipped++;
            done++;
            continue;
        }
        char status[400];
        snprintf(status, sizeof status, "throughput %d/%d  %s", done + 1, n, label);
        bb_progress_update(&prog, done, status);
        if (p->method->needs_base) bb_harness_random_base(run.dir, &p->cfg, (uint64_t)o.seed, base, sizeof base);
        tp_result res;
        memset(&res, 0, sizeof res);
        if (measure(p, &o, base, &res)) bb_stop_exit("rerun the same command to resume");
        double tr = ratio_to_fp32(&t, p, "train_tokens_per_s_median", res.train[0]);
        double pr = ratio_to_fp32(&t, p, "prefill_tokens_per_s_median", res.prefill[0]);
        double dr = ratio_to_fp32(&t, p, "decode_tokens_per_s_median", res.decode[0]);
        if (p->cfg.precision == BB_PREC_FP32) tr = pr = dr = 1.0;
        bb_csv_row row;
        bb_csv_row_init(&row, &bb_schema_throughput);
        bb_csv_row_str(&row, "device", bb_devices[p->device].name);
        bb_csv_row_str(&row, "preset", p->preset);
        bb_csv_row_str(&row, "precision", bb_precisions[p->cfg.precision].name);
        bb_csv_row_str(&row, "method", p->method->name);
        bb_csv_row_fmt(&row, "batch", "%d", p->batch);
        bb_csv_row_fmt(&row, "seq", "%d", p->seq);
        bb_csv_row_fmt(&row, "threads", "%d", p->threads);
        bb_csv_row_str(&row, "checkpointing", bb_ckpt_names[p->ckpt_mode]);
        bb_csv_row_fmt(&row, "n_params", "%zu", res.n_params);
        bb_csv_row_fmt(&row, "warmup_steps", "%ld", o.warmup);
        bb_csv_row_fmt(&row, "timed_steps", "%ld", o.steps);
        bb_csv_row_num(&row, "step_ms_median", res.step_ms, 3);
        bb_csv_row_num(&row, "train_tokens_per_s_median", res.train[0], 2);
        bb_csv_row_num(&row, "train_tokens_per_s_min", res.train[1], 2);
        bb_csv_row_num(&row, "train_tokens_per_s_max", res.train[2], 2);
        bb_csv_row_num(&row, "train_ratio_to_fp32", tr, 4);
        bb_csv_row_fmt(&row, "prefill_tokens", "%d", res.prefill_tokens);
        bb_csv_row_num(&row, "prefill_tokens_per_s_median", res.prefill[0], 2);
        bb_csv_row_num(&row, "prefill_tokens_per_s_min", res.prefill[1], 2);
        bb_csv_row_num(&row, "prefill_tokens_per_s_max", res.prefill[2], 2);
        bb_csv_row_num(&row, "prefill_ratio_to_fp32", pr, 4);
        bb_csv_row_fmt(&row, "decode_tokens", "%ld", o.gen);
        bb_csv_row_num(&row, "decode_tokens_per_s_median", res.decode[0], 2);
        bb_csv_row_num(&row, "decode_tokens_per_s_min", res.decode[1], 2);
        bb_csv_row_num(&row, "decode_tokens_per_s_max", res.decode[2], 2);
        bb_csv_row_num(&row, "decode_ms_per_token_median", 1e3 / res.decode[0], 4);
        bb_csv_row_num(&row, "decode_ratio_to_fp32", dr, 4);
        bb_csv_row_fmt(&row, "inference_repetitions", "%ld", o.reps);
        bb_csv_row_num(&row, "first_loss", res.first_loss, 6);
        bb_csv_row_num(&row, "last_loss", res.last_loss, 6);
        bb_csv_row_num(&row, "other_cpu_share", res.other_share, 4);
        bb_csv_row_str(&row, "simd", run.env.simd_path);
        bb_harness_row_machine(&row, cpu, run.env.git_commit);
        bb_harness_append(&t, &row);
        done++;
        bb_progress_clear(&prog);
        printf("%-34s %10.1f %7.2fx %10.1f %10.1f %8.3f\n", label, res.train[0], tr, res.prefill[0], res.decode[0],
               1e3 / res.decode[0]);
        fflush(stdout);
    }
    bb_progress_update(&prog, n, "throughput done");
    bb_progress_finish(&prog);
    if (skipped) printf("resumed: %d of %d rows were already in %s\n", skipped, n, t.path);
    printf("results: %s\n", t.path);
    bb_csv_table_close(&t);
    bb_free(pts);
    return 0;
}
