/* cmd_bench.c — `bitbench bench train-vs-torch`: our engine and PyTorch on the same
 * configuration, initial weights, batches (KJV training windows) and AdamW settings, one
 * after the other in one run, plus OpenBLAS sgemm GFLOP/s measured in the same run for
 * model-FLOP utilisation. PyTorch is measured at its best (torch.set_num_threads(N),
 * OMP_WAIT_POLICY=PASSIVE) and, for reference, untuned. Writes a results folder
 * (results.h) with train_vs_torch.csv. */
#include "../common/args.h"
#include "../common/check.h"
#include "../common/json_parse.h"
#include "../datasets/corpus.h"
#include "../datasets/loader.h"
#include "../datasets/tokenizer.h"
#include "../datasets/tokfile.h"
#include "../engine/alloc.h"
#include "../precisions/gemm.h"
#include "../engine/model.h"
#include "../engine/safetensors.h"
#include "../engine/checkpoint.h"
#include "../engine/kvcache.h"
#include "cli.h"
#include "compare.h"
#include "device_arg.h"
#include "../engine/cuda_backend.h"
#include "model_args.h"
#include "progress.h"
#include "results.h"
#include "schemas.h"
#include "sweep.h"
#include "train_data.h"
#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BB_SOURCE_ROOT
#define BB_SOURCE_ROOT "."
#endif

/* sgemm C(M,N) = A(M,K) B(K,N) repeated for at least min_s seconds; returns GFLOP/s. */
static double sgemm_gflops(int M, int N, int K, double min_s) {
    float *a = bb_alloc(BB_MEM_WORKSPACE, (size_t)M * K * sizeof(float));
    float *b = bb_alloc(BB_MEM_WORKSPACE, (size_t)K * N * sizeof(float));
    float *c = bb_alloc(BB_MEM_WORKSPACE, (size_t)M * N * sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 13) * 0.01f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 7) * 0.01f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    long reps = 0;
    double t0 = bb_now(), dt;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        reps++;
        dt = bb_now() - t0;
    } while (dt < min_s);
    bb_free(a); bb_free(b); bb_free(c);
    return 2.0 * M * N * K * (double)reps / dt / 1e9;
}

typedef struct {
    double tokens_per_s, seconds;
    float first_loss, last_loss;
    char detail[160];
    int ok;
} engine_result;

static void run_ours(const bb_config *cfg, const char *model_path, const int *inputs, const int *targets, int steps,
                     int warmup, int B, int T, const bb_adamw *opt, engine_result *r) {
    char err[600];
    bb_model m;
    bb_ckpt_info info;
    memset(r, 0, sizeof *r);
    if (bb_checkpoint_load(&m, model_path, &bb_backend_cpu, true, &info, err, sizeof err) != 0) bb_user_error("%s", err);
    m.logits_in_place = true;  /* as bitbench train */
    (void)cfg;
    double timed = 0;
    for (int s = 0; s < steps; s++) {
        double t0 = bb_now();
        float loss = bb_model_forward(&m, inputs + (size_t)s * B * T, targets + (size_t)s * B * T, B, T);
        bb_model_zero_grad(&m);
        bb_model_backward(&m, 1.0f);
        bb_model_step(&m, opt, opt->lr);
        double dt = bb_now() - t0;
        if (s >= warmup) timed += dt;
        if (s == 0) r->first_loss = loss;
        r->last_loss = loss;
    }
    r->seconds = timed;
    r->tokens_per_s = (double)B * T * (steps - warmup) / timed;
    r->ok = 1;
    bb_model_free(&m);
}

/* Runs torch_train.py with the given OMP_WAIT_POLICY (NULL: unset) and parses its JSON. */
static void run_torch(const char *model_path, const char *batches_path, long threads, int warmup,
                      const char *wait_policy, const bb_adamw *opt, engine_result *r) {
    memset(r, 0, sizeof *r);
    int fds[2];
    if (pipe(fds) != 0) bb_user_error("pipe: %s", strerror(errno));
    char th[16], wu[16], lr[32], wd[32], clip[32];
    snprintf(th, sizeof th, "%ld", threads);
    snprintf(wu, sizeof wu, "%d", warmup);
    snprintf(lr, sizeof lr, "%.9g", (double)opt->lr);
    snprintf(wd, sizeof wd, "%.9g", (double)opt->weight_decay);
    snprintf(clip, sizeof clip, "%.9g", (double)opt->grad_clip);
    const char *script = BB_SOURCE_ROOT "/bench/torch_train.py";
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (wait_policy) setenv("OMP_WAIT_POLICY", wait_policy, 1);
        else unsetenv("OMP_WAIT_POLICY");
        execlp(py, py, script, "--model", model_path, "--batches", batches_path, "--threads", th, "--warmup", wu,
               "--lr", lr, "--wd", wd, "--clip", clip, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", py, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    char buf[1 << 16];
    size_t n = 0;
    ssize_t k;
    while ((k = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)k;
    close(fds[0]);
    buf[n] = '\0';
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(r->detail, sizeof r->detail, "PyTorch run failed (exit %d); is python3-torch installed?",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return;
    }
    char err[200];
    const char *line = strrchr(buf, '{') ? strchr(buf, '{') : buf;
    bb_json_doc *doc = bb_json_parse(line, strlen(line), err, sizeof err);
    if (!doc) { snprintf(r->detail, sizeof r->detail, "cannot parse PyTorch output: %.100s", err); return; }
    const bb_json_node *root = bb_json_doc_root(doc), *tps = bb_json_get(root, "tokens_per_s");
    const bb_json_node *sec = bb_json_get(root, "seconds"), *losses = bb_json_get(root, "losses");
    const bb_json_node *ver = bb_json_get(root, "torch_version");
    if (tps && sec && losses && losses->n > 0) {
        r->tokens_per_s = tps->number;
        r->seconds = sec->number;
        r->first_loss = (float)losses->child->number;
        const bb_json_node *last = losses->child;
        while (last->next) last = last->next;
        r->last_loss = (float)last->number;
        snprintf(r->detail, sizeof r->detail, "torch %s", ver && ver->str ? ver->str : "?");
        r->ok = 1;
    }
    bb_json_doc_free(doc);
}

static int bench_train_vs_torch(int argc, char **argv) {
    bb_model_args ma = BB_MODEL_ARGS_DEFAULT;
    ma.threads = 2;
    long batch = 8, seq = 256, steps = 6, warmup = 1, seed = 1337;
    bool no_untuned = false, no_torch = false;
    const char *out = NULL;
    const bb_arg args[] = {
        BB_MODEL_ARG_ENTRIES(ma),
        {"batch", BB_ARG_INT, &batch, "B", "sequences per step", 1, 65536},
        {"seq", BB_ARG_INT, &seq, "T", "sequence length", 1, 1 << 20},
        {"steps", BB_ARG_INT, &steps, "N", "training steps per engine (the first --warmup are not timed)", 2, 100000},
        {"warmup", BB_ARG_INT, &warmup, "N", "untimed steps", 0, 1000},
        {"seed", BB_ARG_INT, &seed, "N", "weights and data seed", 0, 2147483647},
        {"no-untuned", BB_ARG_FLAG, &no_untuned, NULL, "skip the untuned PyTorch run", 0, -1},
        {"no-torch", BB_ARG_FLAG, &no_torch, NULL, "measure only our engine and sgemm", 0, -1},
        {"out", BB_ARG_STR, &out, "DIR", "results folder (default results/runs/<time>-train-vs-torch)", 0, -1},
    };
    const bb_cmd_spec spec = {
        "bench train-vs-torch",
        "Train the same model on the same batches in bitbench and in PyTorch (Debian's\n"
        "python3-torch) one after the other, and report tokens/s, the ratio, and model FLOP\n"
        "utilisation against OpenBLAS sgemm measured in the same run.",
        "[--model small] [--batch 8] [--seq 256] [--steps 6] [--threads 2]", args,
        (int)(sizeof args / sizeof args[0]), 0, 0,
        "PyTorch 'tuned' = torch.set_num_threads(threads) + OMP_WAIT_POLICY=PASSIVE."};
    bb_args_parse(&spec, argc, argv, NULL);
    if (warmup >= steps) bb_usage_error("bench train-vs-torch", "--warmup must be below --steps");
    bb_config cfg;
    bb_model_args_resolve(&ma, "bench train-vs-torch", &cfg);
    if (seq > cfg.max_seq) bb_usage_error("bench train-vs-torch", "--seq %ld exceeds max_seq %d", seq, cfg.max_seq);
    bb_run run;
    bb_run_create(&run, "train-vs-torch", out, argc, argv);
    int B = (int)batch, T = (int)seq, S = (int)steps;

    /* The shared inputs: initial weights (a checkpoint without optimizer state) and
     * S batches of KJV training windows. */
    char err[600], model_path[4200], batches_path[4200], desc[256];
    bb_model init;
    if (bb_model_init(&init, &cfg, &bb_backend_cpu, false, err, sizeof err) != 0) bb_user_error("%s", err);
    bb_model_init_weights(&init, (uint64_t)seed);
    snprintf(model_path, sizeof model_path, "%s/init.safetensors", run.dir);
    bb_ckpt_info info = {.seed = (uint64_t)seed};
    snprintf(info.producer, sizeof info.producer, "bitbench bench train-vs-torch");
    if (bb_checkpoint_save(&init, model_path, &info, err, sizeof err) != 0) bb_user_error("%s", err);
    bb_model_free(&init);
    int *inputs, *targets;
    bb_kjv_batches(cfg.vocab_size, B, T, S, seed, &inputs, &targets);
    snprintf(batches_path, sizeof batches_path, "%s/batches.safetensors", run.dir);
    bb_st_tensor bt[2] = {
        {.name = "inputs", .dtype = BB_DT_I32, .ndim = 3, .shape = {S, B, T}, .data = inputs},
        {.name = "targets", .dtype = BB_DT_I32, .ndim = 3, .shape = {S, B, T}, .data = targets}};
    if (bb_safetensors_write(batches_path, bt, 2, NULL, NULL, 0, err, sizeof err) != 0) bb_user_error("%s", err);

    bb_config_describe(&cfg, desc, sizeof desc);
    double flops_tok = bb_model_flops_per_token(&cfg, T);
    printf("train-vs-torch: %s (%s), B=%d T=%d, %d steps (%ld untimed), %ld threads\n", ma.model, desc, B, T, S,
           warmup, ma.threads);
    printf("machine: %s; OpenBLAS %s (%s); commit %s\n", run.env.cpu_model, run.env.openblas_core,
           run.env.openblas_threading, run.env.git_commit);
    fflush(stdout);
    bb_adamw opt = {3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    double peak = sgemm_gflops(2048, 2048, 2048, 1.0);
    double fc = sgemm_gflops(B * T, cfg.ffn_hidden, cfg.n_embd, 0.5);
    printf("sgemm 2048^3: %.1f GFLOP/s; model-shaped (%d x %d x %d): %.1f GFLOP/s\n", peak, B * T, cfg.ffn_hidden,
           cfg.n_embd, fc);
    fflush(stdout);

    enum { OURS, TORCH, TORCH_UNTUNED, N_ENGINES };
    const char *names[N_ENGINES] = {"bitbench", "pytorch-tuned", "pytorch-untuned"};
    engine_result res[N_ENGINES] = {0};
    fprintf(stderr, "running bitbench...\n");
    run_ours(&cfg, model_path, inputs, targets, S, (int)warmup, B, T, &opt, &res[OURS]);
    if (!no_torch) {
        fprintf(stderr, "running PyTorch (tuned)...\n");
        run_torch(model_path, batches_path, ma.threads, (int)warmup, "PASSIVE", &opt, &res[TORCH]);
        if (!no_untuned) {
            fprintf(stderr, "running PyTorch (untuned)...\n");
            run_torch(model_path, batches_path, ma.threads, (int)warmup, NULL, &opt, &res[TORCH_UNTUNED]);
        }
    }
    bb_atomic_file af;
    FILE *csv = bb_run_open(&run, "train_vs_torch.csv", &af);
    char cpu[256];
    bb_csv_clean(cpu, sizeof cpu, run.env.cpu_model);
    fprintf(csv, "engine,model,family,batch,seq,threads,steps_timed,tokens_per_s,model_gflops,mfu_vs_sgemm_peak,"
                 "sgemm_peak_gflops,sgemm_model_shape_gflops,first_loss,last_loss,ratio_vs_bitbench,cpu,commit\n");
    printf("\n%-16s %12s %12s %8s %12s %12s %s\n", "engine", "tokens/s", "GFLOP/s", "MFU", "first loss", "last loss",
           "bitbench/engine");
    for (int e = 0; e < N_ENGINES; e++) {
        if (!res[e].ok) {
            if (e != OURS && !no_torch && !(e == TORCH_UNTUNED && no_untuned))
                printf("%-16s not measured: %s\n", names[e], res[e].detail);
            continue;
        }
        double gf = res[e].tokens_per_s * flops_tok / 1e9, ratio = res[OURS].tokens_per_s / res[e].tokens_per_s;
        printf("%-16s %12.1f %12.1f %7.1f%% %12.5f %12.5f %.2fx\n", names[e], res[e].tokens_per_s, gf, 100 * gf / peak,
               res[e].first_loss, res[e].last_loss, ratio);
        fprintf(csv, "%s,%s,%s,%d,%d,%ld,%ld,%.2f,%.2f,%.4f,%.2f,%.2f,%.6f,%.6f,%.4f,%s,%s\n", names[e], ma.model,
                bb_family_name(cfg.family), B, T, ma.threads, steps - warmup, res[e].tokens_per_s, gf, gf / peak, peak,
                fc, res[e].first_loss, res[e].last_loss, ratio, cpu, run.env.git_commit);
    }
    bb_run_commit(&af);
    /* PyTorch "at its best" is whichever of its runs was faster on this machine. */
    int best = res[TORCH].ok && (!res[TORCH_UNTUNED].ok || res[TORCH].tokens_per_s >= res[TORCH_UNTUNED].tokens_per_s)
                   ? TORCH : res[TORCH_UNTUNED].ok ? TORCH_UNTUNED : -1;
    if (best >= 0)
        printf("\nbitbench / best PyTorch (%s) = %.2fx\n", names[best], res[OURS].tokens_per_s / res[best].tokens_per_s);
    printf("results: %s/train_vs_torch.csv\n", run.dir);
    remove(batches_path);
    remove(model_path);
    bb_free(inputs);
    bb_free(targets);
    return 0;
}

/* Training step time and memory per precision on the same weights and batches. */
/* The model bench precisions runs at precision p: the --set flags that p can take (an FP32
 * model has nothing to quantize the head or embedding to; half_residual is fp16/bf16's). */
static bb_config precision_config(const bb_config *base, bb_precision p) {
    bb_config cfg = *base;
    char err[200];
    if (bb_config_set_precision(&cfg, bb_precisions[p].name, err, sizeof err) != 0) bb_user_error("%s", err);
    if (p == BB_PREC_FP32) cfg.quant_head = cfg.quant_embed = false;
    if (cfg.act_quant != BB_ACTQ_FP16 && cfg.act_quant != BB_ACTQ_BF16) cfg.half_residual = false;
    return cfg;
}

static int bench_precisions(int argc, char **argv) {
    bb_model_args ma = BB_MODEL_ARGS_DEFAULT;
    long batch = 8, seq = 256, steps = 4, warmup = 1, seed = 1337, rounds = 3;
    const char *out = NULL, *list = "fp32,fp16,bf16,int8,int4,b158", *ckpt_mode = "none", *device = "cpu";
    const bb_arg args[] = {
        BB_MODEL_ARG_ENTRIES(ma),
        BB_DEVICE_ARG_ENTRY(device),
        {"precisions", BB_ARG_STR, &list, "P,P,...", "precisions to compare (fp32 is always measured first)", 0, -1},
        {"checkpointing", BB_ARG_STR, &ckpt_mode, "M,...",
         "none, selective, block as a comma list (each precision once per mode); all; both = none,block", 0, -1},
        {"batch", BB_ARG_INT, &batch, "B", "sequences per step", 1, 65536},
        {"seq", BB_ARG_INT, &seq, "T", "sequence length", 1, 1 << 20},
        {"steps", BB_ARG_INT, &steps, "N", "training steps per precision (the first --warmup are not timed)", 2, 100000},
        {"warmup", BB_ARG_INT, &warmup, "N", "untimed steps", 0, 1000},
        {"rounds", BB_ARG_INT, &rounds, "R",
         "rounds over all precisions; each precision's time is its median, its ratio the median of the "
         "rounds' ratios to that round's fp32 (paired, so a machine slowing down mid-run moves both)", 1, 100},
        {"seed", BB_ARG_INT, &seed, "N", "weights and data seed", 0, 2147483647},
        {"out", BB_ARG_STR, &out, "DIR", "results folder (default results/runs/<time>-precisions)", 0, -1},
    };
    const bb_cmd_spec spec = {
        "bench precisions",
        "Training step time of each precision as a ratio to fp32 measured in the same run, on the\n"
        "same initial weights and KJV batches, with each precision's memory by category.",
        "[--model small] [--batch 8] [--seq 256] [--precisions fp32,int8,...]", args,
        (int)(sizeof args / sizeof args[0]), 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    if (warmup >= steps) bb_usage_error("bench precisions", "--warmup must be below --steps");
    const bb_backend *be = bb_device_backend("bench precisions", device);
    bb_ckpt_mode modes[BB_CKPT_COUNT];
    int n_modes = bb_parse_ckpt_modes(ckpt_mode, "bench precisions", modes);
    bb_config base;
    bb_model_args_resolve(&ma, "bench precisions", &base);
    if (seq > base.max_seq)
        bb_usage_error("bench precisions", "--seq %ld exceeds the model's max_seq %d", seq, base.max_seq);
    int prec[BB_PREC_COUNT + 1], n_prec = 0;
    prec[n_prec++] = BB_PREC_FP32;
    char buf[256], err[600];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int p = bb_precision_parse(t);
        if (p < 0) bb_usage_error("bench precisions", "unknown precision '%s'", t);
        if (bb_precisions[p].base_only)
            bb_usage_error("bench precisions", "%s is a base-only format (a frozen base for LoRA): it has no full training to time",
                           t);
        if (p != BB_PREC_FP32 && n_prec <= BB_PREC_COUNT) prec[n_prec++] = p;
    }
    bb_run run;
    bb_run_create(&run, "precisions", out, argc, argv);
    int B = (int)batch, T = (int)seq, S = (int)steps;
    int *inputs, *targets;
    bb_kjv_batches(base.vocab_size, B, T, S, seed, &inputs, &targets);
    bb_adamw opt = {3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    bb_atomic_file af;
    FILE *csv = bb_run_open(&run, "precisions.csv", &af);
    char cpu[256], desc[256];
    bb_csv_clean(cpu, sizeof cpu, run.env.cpu_model);
    bb_config_describe(&base, desc, sizeof desc);
    printf("bench precisions: %s (%s), B=%d T=%d, %d steps (%ld untimed), %ld round%s, threads %d, backend %s\n", ma.model,
           desc, B, T, S, warmup, rounds, rounds > 1 ? "s" : "", run.env.omp_max_threads, be->name);
    if (base.quant_head || base.quant_embed)
        printf("the fp32 reference runs without quant_head/quant_embed (an FP32 model has nothing to quantize them to)\n");
    if (base.half_residual)
        printf("half_residual applies to fp16 and bf16; the other precisions keep the residual stream FP32\n");
    fprintf(csv, "precision,flags,checkpointing,model,batch,seq,steps_timed,rounds,step_ms,ratio_to_fp32,ratio_min,ratio_max,"
                 "tokens_per_s,first_loss,last_loss,mib_parameters,mib_packed,mib_gradients,mib_optimizer,mib_activations,"
                 "mib_workspace,simd,cpu,commit\n");
    /* every (precision, mode) once per round, fp32/first mode first: each round is a paired
     * comparison; the rounds' step times and ratios are then reduced by their medians */
    int n_cfg = n_prec * n_modes, R = (int)rounds;
    double *ms = bb_alloc(BB_MEM_OTHER, (size_t)R * n_cfg * sizeof *ms), *ratio = bb_alloc(BB_MEM_OTHER, (size_t)R * sizeof *ratio);
    bb_mem_stats *mem = bb_alloc(BB_MEM_OTHER, (size_t)n_cfg * sizeof *mem);
    float *first = bb_alloc(BB_MEM_OTHER, (size_t)n_cfg * sizeof *first), *last = bb_alloc(BB_MEM_OTHER, (size_t)n_cfg * sizeof *last);
    for (int r = 0; r < R; r++)
        for (int i = 0; i < n_cfg; i++) {
            int k = i / n_modes;
            bb_ckpt_mode ck = modes[i % n_modes];
            bb_config cfg = precision_config(&base, prec[k]);
            bb_model m;
            if (bb_model_init(&m, &cfg, be, true, err, sizeof err) != 0) bb_user_error("%s", err);
            bb_model_init_weights(&m, (uint64_t)seed);
            m.ckpt_mode = ck;
            m.logits_in_place = true;  /* as bitbench train */
            bb_grad_scaler scaler = bb_grad_scaler_default(bb_precisions[cfg.precision].loss_scaling);
            double timed = 0;
            float norm;
            for (int s = 0; s < S; s++) {
                double t0 = bb_now();
                float loss = bb_model_forward(&m, inputs + (size_t)s * B * T, targets + (size_t)s * B * T, B, T);
                bb_model_zero_grad(&m);
                bb_model_backward(&m, bb_grad_scaler_factor(&scaler));
                bb_model_step_scaled(&m, &scaler, &opt, opt.lr, &norm);
                double dt = bb_now() - t0;
                if (s >= warmup) timed += dt;
                if (s == 0 && r == 0) { first[i] = loss; mem[i] = bb_mem_stats_get(); }
                last[i] = loss;
            }
            ms[(size_t)r * n_cfg + i] = 1e3 * timed / (double)(S - warmup);
            if (R > 1)
                fprintf(stderr, "round %d/%d: %-6s %-9s %8.1f ms\n", r + 1, R, bb_precisions[prec[k]].name, bb_ckpt_names[ck],
                        ms[(size_t)r * n_cfg + i]);
            bb_model_free(&m);
            bb_gemm_scratch_release();  /* the packed kernels' process-wide cache: not the next precision's memory */
        }
    printf("%-6s %-9s %10s %9s %13s %10s %10s %10s | MiB: %8s %8s %8s %8s %8s\n", "prec", "ckpt", "step ms", "vs fp32",
           "range", "tok/s", "first", "last", "params", "packed", "grads", "optim", "acts");
    for (int i = 0; i < n_cfg; i++) {
        int k = i / n_modes;
        bb_ckpt_mode ck = modes[i % n_modes];
        double t[100];
        for (int r = 0; r < R; r++) {
            t[r] = ms[(size_t)r * n_cfg + i];
            ratio[r] = t[r] / ms[(size_t)r * n_cfg];
        }
        double med = bb_median(t, R), rmed = bb_median(ratio, R), rmin = ratio[0], rmax = ratio[0];
        for (int r = 1; r < R; r++) {
            rmin = ratio[r] < rmin ? ratio[r] : rmin;
            rmax = ratio[r] > rmax ? ratio[r] : rmax;
        }
        double mib[6];
        int cats[6] = {BB_MEM_PARAMS, BB_MEM_PACKED, BB_MEM_GRADS, BB_MEM_OPTIM, BB_MEM_ACTS, BB_MEM_WORKSPACE};
        for (int c = 0; c < 6; c++) mib[c] = mem[i].current[cats[c]] / 1048576.0;
        char range[32];
        snprintf(range, sizeof range, "%.2f-%.2f", rmin, rmax);
        printf("%-6s %-9s %10.1f %8.2fx %13s %10.0f %10.4f %10.4f | %13.1f %8.1f %8.1f %8.1f %8.1f\n",
               bb_precisions[prec[k]].name, bb_ckpt_names[ck], med, rmed, R > 1 ? range : "-", B * T / (med / 1e3), first[i],
               last[i], mib[0], mib[1], mib[2], mib[3], mib[4]);
        bb_config rc = precision_config(&base, prec[k]);
        char flags[64];
        snprintf(flags, sizeof flags, "%s%s%s", rc.quant_head ? "quant_head " : "", rc.quant_embed ? "quant_embed " : "",
                 rc.half_residual ? "half_residual " : "");
        size_t fl = strlen(flags);
        if (fl) flags[fl - 1] = '\0';
        fprintf(csv, "%s,%s,%s,%s,%d,%d,%d,%d,%.3f,%.4f,%.4f,%.4f,%.1f,%.6f,%.6f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%s,%s,%s\n",
                bb_precisions[prec[k]].name, fl ? flags : "-", bb_ckpt_names[ck], ma.model, B, T, S - (int)warmup, R, med, rmed, rmin, rmax,
                B * T / (med / 1e3), first[i], last[i], mib[0], mib[1], mib[2], mib[3], mib[4], mib[5], run.env.simd_path,
                cpu, run.env.git_commit);
    }
    fflush(stdout);
    bb_free(ms); bb_free(ratio); bb_free(mem); bb_free(first); bb_free(last);
    bb_run_commit(&af);
    if (be != &bb_backend_cpu) bb_cuda_mem_print(stdout); /* device scratch of the staged ops, cudaMemGetInfo */
    printf("results: %s/precisions.csv\n", run.dir);
    bb_free(inputs);
    bb_free(targets);
    return 0;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Inference speed: prefill (the prompt through the full forward) and per-token decode
 * over the KV cache, repeated; median, min and max of tokens/s. */
static int bench_infer(int argc, char **argv) {
    bb_model_args ma = BB_MODEL_ARGS_DEFAULT;
    const char *ckpt = NULL, *out = NULL, *device = "cpu";
    long prompt = 128, gen = 64, reps = 5, seed = 1;
    const bb_arg args[] = {
        {"ckpt", BB_ARG_STR, &ckpt, "FILE", "checkpoint to run (default: random weights of --model)", 0, -1},
        BB_MODEL_ARG_ENTRIES(ma),
        BB_DEVICE_ARG_ENTRY(device),
        {"prompt", BB_ARG_INT, &prompt, "N", "prompt tokens (prefill)", 1, 1 << 20},
        {"gen", BB_ARG_INT, &gen, "N", "generated tokens (decode steps)", 1, 1 << 20},
        {"repetitions", BB_ARG_INT, &reps, "N", "repetitions (median, min, max reported)", 1, 1000},
        {"seed", BB_ARG_INT, &seed, "N", "seed of the random prompt and weights", 0, 2147483647},
        {"out", BB_ARG_STR, &out, "DIR", "results folder (default results/runs/<time>-infer)", 0, -1},
    };
    const bb_cmd_spec spec = {"bench infer", "Prefill and decode tokens/s with the KV cache (greedy, one sequence).",
                              "[--ckpt FILE | --model PRESET] [--prompt N] [--gen N] [--repetitions N]", args,
                              (int)(sizeof args / sizeof args[0]), 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    const bb_backend *be = bb_device_backend("bench infer", device);
    char err[600], desc[256];
    bb_model m;
    if (ckpt) {
        bb_set_threads(ma.threads);
        bb_ckpt_info info;
        if (bb_checkpoint_load(&m, ckpt, be, false, &info, err, sizeof err) != 0) bb_user_error("%s", err);
    } else {
        bb_config cfg;
        bb_model_args_resolve(&ma, "bench infer", &cfg);
        if (bb_model_init(&m, &cfg, be, false, err, sizeof err) != 0) bb_user_error("%s", err);
        bb_model_init_weights(&m, (uint64_t)seed);
    }
    if (prompt + gen > m.cfg.max_seq)
        bb_usage_error("bench infer", "--prompt + --gen = %ld exceeds max_seq %d", prompt + gen, m.cfg.max_seq);
    bb_run run;
    bb_run_create(&run, "infer", out, argc, argv);
    bb_kvcache kv;
    if (bb_kvcache_init(&kv, &m, 1, (int)(prompt + gen), err, sizeof err) != 0) bb_user_error("%s", err);
    int *toks = bb_alloc(BB_MEM_DATA, (size_t)prompt * sizeof(int));
    for (long i = 0; i < prompt; i++) toks[i] = (int)((i * 7919 + seed) % (m.cfg.vocab_size < 4096 ? m.cfg.vocab_size : 4096));
    double *pre = bb_alloc(BB_MEM_OTHER, (size_t)reps * sizeof(double)), *dec = bb_alloc(BB_MEM_OTHER, (size_t)reps * sizeof(double));
    for (long r = 0; r < reps; r++) {
        double t0 = bb_now();
        const float *logits = bb_kvcache_prefill(&m, &kv, toks, (int)prompt);
        double t1 = bb_now();
        for (long g = 0; g < gen; g++) {
            int best = 0;
            for (int v = 1; v < m.cfg.vocab_size; v++) if (logits[v] > logits[best]) best = v;
            logits = bb_kvcache_step(&m, &kv, &best);
        }
        double t2 = bb_now();
        pre[r] = (double)prompt / (t1 - t0);
        dec[r] = (double)gen / (t2 - t1);
    }
    qsort(pre, (size_t)reps, sizeof(double), cmp_dbl);
    qsort(dec, (size_t)reps, sizeof(double), cmp_dbl);
    bb_config_describe(&m.cfg, desc, sizeof desc);
    printf("bench infer: %s (%s), prompt %ld, gen %ld, %ld repetitions, threads %d\n", ckpt ? ckpt : ma.model, desc,
           prompt, gen, reps, run.env.omp_max_threads);
    printf("%-8s %12s %12s %12s  (tokens/s)\n", "phase", "median", "min", "max");
    printf("%-8s %12.1f %12.1f %12.1f\n", "prefill", pre[reps / 2], pre[0], pre[reps - 1]);
    printf("%-8s %12.1f %12.1f %12.1f\n", "decode", dec[reps / 2], dec[0], dec[reps - 1]);
    bb_atomic_file af;
    FILE *csv = bb_run_open(&run, "infer.csv", &af);
    char cpu[256];
    bb_csv_clean(cpu, sizeof cpu, run.env.cpu_model);
    fprintf(csv, "phase,model,precision,prompt,gen,repetitions,median_tokens_per_s,min_tokens_per_s,max_tokens_per_s,cpu,commit\n");
    fprintf(csv, "prefill,%s,%s,%ld,%ld,%ld,%.2f,%.2f,%.2f,%s,%s\n", ckpt ? "checkpoint" : ma.model,
            bb_precisions[m.cfg.precision].name, prompt, gen, reps, pre[reps / 2], pre[0], pre[reps - 1], cpu, run.env.git_commit);
    fprintf(csv, "decode,%s,%s,%ld,%ld,%ld,%.2f,%.2f,%.2f,%s,%s\n", ckpt ? "checkpoint" : ma.model,
            bb_precisions[m.cfg.precision].name, prompt, gen, reps, dec[reps / 2], dec[0], dec[reps - 1], cpu, run.env.git_commit);
    bb_run_commit(&af);
    printf("results: %s/infer.csv\n", run.dir);
    bb_free(toks); bb_free(pre); bb_free(dec);
    bb_kvcache_free(&kv);
    bb_model_free(&m);
    return 0;
}

/* `bench schema [FILE] [--header]`: the documented columns of the harness CSVs. */
static int bench_schema(int argc, char **argv) {
    bool header = false;
    const bb_arg args[] = {{"header", BB_ARG_FLAG, &header, NULL, "print only FILE's header line", 0, -1}};
    const bb_cmd_spec spec = {"bench schema", "The columns of the harness CSVs (bench/schemas.c) as markdown, or one header.",
                              "[FILE.csv] [--header]", args, 1, 0, 1, NULL};
    char *pos[1] = {NULL};
    int n = bb_args_parse(&spec, argc, argv, pos);
    if (header && n == 0) bb_usage_error("bench schema", "--header needs a FILE.csv");
    for (int i = 0; i < bb_n_schemas; i++) {
        const bb_csv_schema *s = bb_schemas[i];
        if (n && strcmp(pos[0], s->file) != 0) continue;
        if (header) {
            for (int c = 0; c < s->n_cols; c++) printf("%s%s", c ? "," : "", s->cols[c].name);
            printf("\n");
        } else {
            bb_csv_schema_print_md(s, stdout);
        }
        if (n) return 0;
    }
    if (n) bb_usage_error("bench schema", "no CSV named '%s' (bitbench bench schema lists them)", pos[0]);
    return 0;
}

static const bb_command bench_commands[] = {
    {"schema", bench_schema, "the documented columns of the harness CSVs"},
    {"throughput", bb_cmd_bench_throughput, "training, prefill and decode tokens/s over precision x method x preset x ..."},
    {"quality", bb_cmd_bench_quality, "perplexity, bits/byte, top-1 (KJV) and BLEU/chrF (MT) per precision x method"},
    {"memory", bb_cmd_bench_memory, "measured memory by category beside the calculator's prediction, and peak RSS"},
    {"infer", bench_infer, "prefill and decode tokens/s with the KV cache"},
    {"precisions", bench_precisions, "training step time and memory of every precision vs fp32"},
    {"train-vs-torch", bench_train_vs_torch, "training tokens/s: bitbench vs PyTorch on the same model and data"},
    {"gemm", bb_cmd_bench_gemm, "packed-precision GEMM/GEMV kernels vs sgemm, STREAM triad and sgemv"},
    {"cuda-gemm", bb_cmd_bench_cuda_gemm, "GPU GEMM TFLOP/s of every precision at a model's shapes (CUDA events)"},
    {"kernels", bb_cmd_bench_kernels, "kernel benchmarks (Google Benchmark): GFLOP/s, GB/s, ratios to in-run references"},
    {"compare", bb_cmd_bench_compare, "compare two kernel runs (compare.py + U test); exit 1 on a regression"},
};

int bb_cmd_bench(int argc, char **argv) {
    return bb_dispatch("bench", bench_commands, (int)(sizeof bench_commands / sizeof bench_commands[0]), argc, argv);
}
