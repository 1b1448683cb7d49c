/* cmd_memcalc.c — `bitbench memcalc`: predicted memory by category (bench/memcalc.h) for
 * a model, precision and batch, for full training, knowledge distillation (`--method kd`:
 * + the forward-only teacher) or LoRA on a frozen base (`--method lora`); `--fit` prints
 * which model and precision fits on which device, for full training, LoRA and packed
 * inference weights in this engine (fit.csv: full training and inference). */
#include "../common/args.h"
#include "../common/check.h"
#include "../engine/alloc.h"
#include "csv.h"
#include "memcalc.h"
#include "schemas.h"
#include "cli.h"
#include "model_args.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    double gib;
} device;

static const device devices[] = {
    {"RTX 3060 8 GB", 8}, {"RTX 3090 24 GB", 24}, {"RTX 4090 24 GB", 24},
    {"2x RTX 4090 (48 GB; not 96)", 48}, {"H100 80 GB", 80}, {"CPU 32 GB", 32},
};

/* the models the claims name (claims.md Table D) and the presets between them */
static const char *const fit_models[] = {"distilgpt2", "gpt2-124m", "gpt2-medium", "gpt2-large",
                                         "gptj-6b",    "llama-7b",  "llama-13b",   "llama-70b"};
#define N_FIT_MODELS ((int)(sizeof fit_models / sizeof fit_models[0]))
#define N_DEVICES ((int)(sizeof devices / sizeof devices[0]))

/* Predicted full-training and packed-inference GiB of a model at a precision. */
static void fit_row(const char *model, int p, long batch, long *seq, double *train, double *infer, double *n_params) {
    bb_config c;
    char err[200];
    BB_CHECK(bb_config_from_preset(&c, model, err, sizeof err) == 0);
    if (*seq > c.max_seq) *seq = c.max_seq;  /* GPT-2 models have 1,024 positions */
    bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err);
    bb_memcalc m;
    bb_memcalc_full(&c, (int)batch, (int)*seq, BB_CKPT_BLOCK, &m);
    *n_params = m.n_params;
    *train = m.total / (1u << 30);
    *infer = m.parameters / (1u << 30);
    if (p != BB_PREC_FP32) {  /* packed linears + FP32 rest */
        bb_tensor_spec s[BB_N_PARAMS];
        bb_param_specs(&c, s);
        double q = (double)(s[BB_P_QKVW].numel + s[BB_P_ATTPROJW].numel + s[BB_P_FCW].numel + s[BB_P_FCPROJW].numel);
        *infer = (m.parameters - 4 * q + m.packed_export) / (1u << 30);
    }
}

/* fit.csv and fit_devices.csv (bench/schemas.c) in dir, for the harness's chart. */
static void write_fit_csv(const char *dir, long batch, long seq) {
    char err[600], line[2048];
    bb_csv_table t;
    if (bb_csv_table_open(&t, dir, &bb_schema_fit, err, sizeof err) != 0) bb_user_error("%s", err);
    bb_csv_table_truncate(&t);
    char *rows[N_FIT_MODELS * BB_PREC_COUNT];
    int n = 0;
    for (int mi = 0; mi < N_FIT_MODELS; mi++)
        for (int p = 0; p < BB_PREC_COUNT; p++) {
            double train, infer, np;
            long T = seq;
            if (bb_precisions[p].base_only) {  /* a frozen-base format: weights only, no training row */
                bb_config c;
                char e2[200];
                bb_config_from_preset(&c, fit_models[mi], e2, sizeof e2);
                bb_config_set_precision(&c, bb_precisions[p].name, e2, sizeof e2);
                bb_memcalc_weights w;
                bb_memcalc_weights_of(&c, &w);
                train = NAN;
                infer = w.engine_bytes / (1u << 30);
                np = w.linear_params + w.other_params;
            } else {
                fit_row(fit_models[mi], p, batch, &T, &train, &infer, &np);
            }
            const char *smallest = "none";
            double best = 1e30;
            for (int d = 0; d < N_DEVICES; d++)
                if (devices[d].gib >= train && devices[d].gib < best) { best = devices[d].gib; smallest = devices[d].name; }
            bb_csv_row r;
            bb_csv_row_init(&r, &bb_schema_fit);
            bb_csv_row_str(&r, "model", fit_models[mi]);
            bb_csv_row_str(&r, "precision", bb_precisions[p].name);
            bb_csv_row_str(&r, "method", bb_precisions[p].base_only ? "frozen-base" : "full");
            bb_csv_row_fmt(&r, "n_params", "%.0f", np);
            bb_csv_row_fmt(&r, "batch", "%ld", batch);
            bb_csv_row_fmt(&r, "seq", "%ld", T);
            bb_csv_row_str(&r, "checkpointing", bb_ckpt_names[BB_CKPT_BLOCK]);
            bb_csv_row_num(&r, "train_gib", train, 4);
            bb_csv_row_num(&r, "infer_gib", infer, 4);
            bb_csv_row_str(&r, "smallest_device_for_training", smallest);
            if (bb_csv_row_finish(&r, line, sizeof line, err, sizeof err) != 0) bb_fatal(__FILE__, __LINE__, "%s", err);
            rows[n++] = bb_strdup(line);
        }
    if (bb_csv_table_append(&t, (const char *const *)rows, n, NULL, err, sizeof err) != 0) bb_user_error("%s", err);
    for (int i = 0; i < n; i++) bb_free(rows[i]);
    bb_csv_table_close(&t);
    /* devices, those with equal memory on one line (one reference line in the chart) */
    if (bb_csv_table_open(&t, dir, &bb_schema_fit_devices, err, sizeof err) != 0) bb_user_error("%s", err);
    bb_csv_table_truncate(&t);
    char *drows[N_DEVICES];
    int nd = 0;
    for (int d = 0; d < N_DEVICES; d++) {
        bool first = true;
        for (int e = 0; e < d; e++) first &= devices[e].gib != devices[d].gib;
        if (!first) continue;
        char names[256] = "", suffix[32];
        int group = 0;
        for (int e = d; e < N_DEVICES; e++) group += devices[e].gib == devices[d].gib;
        /* "RTX 3090 24 GB" + "RTX 4090 24 GB" -> "RTX 3090 / RTX 4090 24 GB" */
        snprintf(suffix, sizeof suffix, " %g GB", devices[d].gib);
        for (int e = d; e < N_DEVICES; e++) {
            if (devices[e].gib != devices[d].gib) continue;
            size_t l = strlen(devices[e].name), sl = strlen(suffix);
            bool strip = group > 1 && l > sl && strcmp(devices[e].name + l - sl, suffix) == 0;
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%.*s", names[0] ? " / " : "",
                     (int)(strip ? l - sl : l), devices[e].name);
        }
        if (group > 1 && strlen(names) + strlen(suffix) < sizeof names) strcat(names, suffix);
        bb_csv_row r;
        bb_csv_row_init(&r, &bb_schema_fit_devices);
        bb_csv_row_str(&r, "device", names);
        bb_csv_row_num(&r, "memory_gib", devices[d].gib, 1);
        if (bb_csv_row_finish(&r, line, sizeof line, err, sizeof err) != 0) bb_fatal(__FILE__, __LINE__, "%s", err);
        drows[nd++] = bb_strdup(line);
    }
    if (bb_csv_table_append(&t, (const char *const *)drows, nd, NULL, err, sizeof err) != 0) bb_user_error("%s", err);
    for (int i = 0; i < nd; i++) bb_free(drows[i]);
    bb_csv_table_close(&t);
    printf("fit: %s/fit.csv, %s/fit_devices.csv\n", dir, dir);
}

static void print_fit(long batch, long seq, const bb_lora_config *lc) {
    char targets[64];
    bb_lora_targets_name(lc->targets, targets, sizeof targets);
    printf("what fits where: full training in bitbench (FP32 masters + grads + Adam, QAT copies), LoRA on a frozen\n"
           "base packed at the precision (r=%d, targets %s, FP32 adapters + grads + Adam), both B=%ld T=%ld (or\n"
           "the model's context if shorter) with block checkpointing, and packed inference weights; each cell:\n"
           "what fits, and the device's headroom in GiB after it (after inference weights when nothing fits)\n\n",
           lc->r, targets, batch, seq);
    printf("%-10s %-5s %12s %12s %12s", "model", "prec", "train GiB", "lora GiB", "infer GiB");
    for (size_t d = 0; d < sizeof devices / sizeof devices[0]; d++) printf("  %-8.8s", devices[d].name);
    printf("\n");
    for (int mi = 0; mi < N_FIT_MODELS; mi++)
        for (int p = 0; p < BB_PREC_COUNT; p++) {
            bb_config c;
            char err[200];
            BB_CHECK(bb_config_from_preset(&c, fit_models[mi], err, sizeof err) == 0);
            bb_config_set_precision(&c, bb_precisions[p].name, err, sizeof err);
            long T = seq > c.max_seq ? c.max_seq : seq;  /* GPT-2 models have 1,024 positions */
            double train = INFINITY, infer, np;
            bool base_only = bb_precisions[p].base_only;  /* nf4: a frozen base only, no full training */
            if (base_only) {
                bb_memcalc_weights w;
                bb_memcalc_weights_of(&c, &w);
                infer = w.engine_bytes / (1u << 30);
            } else {
                long Tf = seq;
                fit_row(fit_models[mi], p, batch, &Tf, &train, &infer, &np);
            }
            bb_memcalc ml;
            bb_memcalc_lora(&c, lc, (int)batch, (int)T, BB_CKPT_BLOCK, &ml);
            double lora = ml.total / (1u << 30);
            char tcol[16];
            if (base_only) snprintf(tcol, sizeof tcol, "base-only");
            else snprintf(tcol, sizeof tcol, "%.2f", train);
            printf("%-10s %-5s %12s %12.2f %12.2f", fit_models[mi], bb_precisions[p].name, tcol, lora, infer);
            for (size_t d = 0; d < sizeof devices / sizeof devices[0]; d++) {
                char cell[16];
                double g = devices[d].gib, need = g >= train ? train : g >= lora ? lora : infer;
                snprintf(cell, sizeof cell, "%s%+.0f", g >= train ? "T" : g >= lora ? "L" : g >= infer ? "I" : "-",
                         g - need);
                printf("  %-8s", cell);
            }
            printf("\n");
        }
    printf("\nT = full training fits, L = only LoRA training fits, I = only inference fits, - = none.\n"
           "nf4 is a base-only format (a frozen QLoRA base): no full training.\n"
           "Predictions for this engine's `full` and `lora` methods (validated against the tracked allocator at\n"
           "tiny and small, tests/test_memcalc.c); `--method kd` adds a teacher.\n");
}

/* A base-only precision (nf4): the frozen base weights. Full training at it is not a thing;
 * LoRA over it (adapters, their optimizer states, activations) is predicted with LoRA. */
static void print_base_weights(const bb_config *c, const char *model) {
    bb_memcalc_weights w;
    bb_memcalc_weights_of(c, &w);
    char desc[256];
    bb_config_describe(c, desc, sizeof desc);
    printf("memcalc: %s (%s), %.4g parameters: the frozen base weights (%s is a base-only format)\n", model, desc,
           w.linear_params + w.other_params, bb_precisions[c->precision].name);
    printf("  %-52s %10.3f GB  %10.1f MiB\n", "quantized linears (qkv, attn proj, fc, fc proj)", w.linear_bytes / 1e9,
           w.linear_bytes / 1048576.0);
    printf("    %.4g weights at %.4f bits/weight (packed format, constants included)\n", w.linear_params,
           w.bits_per_weight);
    printf("  %-52s %10.3f GB  %10.1f MiB\n", "embeddings, head, norms (FP32 in bitbench)", 4 * w.other_params / 1e9,
           4 * w.other_params / 1048576.0);
    printf("  %-52s %10.3f GB  %10.1f MiB\n", "base weights as bitbench holds them", w.engine_bytes / 1e9,
           w.engine_bytes / 1048576.0);
    printf("  %-52s %10.3f GB  %10.1f MiB\n", "every parameter at that rate (precisions.md 5.2)", w.all_at_bits_bytes / 1e9,
           w.all_at_bits_bytes / 1048576.0);
    printf("Full training at %s is not predicted: it is a frozen-base format (QLoRA trains LoRA adapters over it:\n"
           "--method lora).\n", bb_precisions[c->precision].name);
}

int bb_cmd_memcalc(int argc, char **argv) {
    bb_model_args ma = BB_MODEL_ARGS_DEFAULT;
    const char *precision = "fp32", *method = "full", *ckpt = "none", *nf4_dq = NULL, *lora = NULL;
    const char *teacher_model = NULL, *teacher_set = NULL, *teacher_precision = NULL;
    long batch = 8, seq = 0;
    bool fit = false, quiet = false;
    const char *out = NULL;
    const bb_arg args[] = {
        BB_MODEL_ARG_ENTRIES(ma),
        {"precision", BB_ARG_STR, &precision, "P",
         "fp32, fp16, bf16, int8, int4 or b158; nf4 (base-only): the frozen base weights", 0, -1},
        BB_NF4_DQ_ARG(nf4_dq),
        {"method", BB_ARG_STR, &method, "M",
         "full, kd (full training of the student + a forward-only teacher) or lora (adapters on a frozen packed base)",
         0, -1},
        {"lora", BB_ARG_STR, &lora, "K=V,...",
         "LoRA config as in train --lora (r, alpha, dropout, targets, rslora; default r=8 on qkv); with --fit, "
         "default r=64 on all-linear (QLoRA)", 0, -1},
        {"teacher-model", BB_ARG_STR, &teacher_model, "PRESET", "kd: the teacher's preset (default: the student's)",
         0, -1},
        {"teacher-set", BB_ARG_STR, &teacher_set, "K=V,...", "kd: overrides of the teacher's config", 0, -1},
        {"teacher-precision", BB_ARG_STR, &teacher_precision, "P", "kd: the teacher's precision (default fp32)", 0, -1},
        {"batch", BB_ARG_INT, &batch, "B", "sequences per step", 1, 1 << 20},
        {"seq", BB_ARG_INT, &seq, "T", "sequence length (0: the model's max_seq)", 0, 1 << 20},
        {"checkpointing", BB_ARG_STR, &ckpt, "MODE",
         "none, selective (no attention probabilities kept) or block (one layer slot kept)", 0, -1},
        {"fit", BB_ARG_FLAG, &fit, NULL, "print the what-fits-where catalogue (B=1, T=--seq or 2048)", 0, -1},
        {"out", BB_ARG_STR, &out, "DIR", "with --fit: also write fit.csv and fit_devices.csv into DIR", 0, -1},
        {"quiet", BB_ARG_FLAG, &quiet, NULL, "with --fit --out: only write the CSVs", 0, -1},
    };
    const bb_cmd_spec spec = {"memcalc", "Predicted training memory by category for a model, precision and batch.",
                              "[--model P] [--precision P] [--method full|kd|lora] [--lora K=V,...] [--batch B] "
                              "[--seq T] [--checkpointing none|selective|block] [--fit]",
                              args, (int)(sizeof args / sizeof args[0]), 0, 0, NULL};
    bb_args_parse(&spec, argc, argv, NULL);
    bool kd = strcmp(method, "kd") == 0, is_lora = strcmp(method, "lora") == 0;
    if (strcmp(method, "full") != 0 && !kd && !is_lora)
        bb_usage_error("memcalc", "--method must be full, kd or lora, got '%s'", method);
    if (lora && !is_lora && !fit) bb_usage_error("memcalc", "--lora needs --method lora");
    bb_lora_config lc = bb_lora_config_default();
    char lerr[200];
    if (fit) {  /* QLoRA's setting for the catalogue (specs evaluation.md §5.2): r 64 on all linears */
        lc.r = 64;
        lc.alpha = 16.0f;
        lc.targets = BB_LORA_ALL;
    }
    if (lora && bb_lora_config_parse(&lc, lora, lerr, sizeof lerr) != 0) bb_usage_error("memcalc", "%s", lerr);
    if (!kd && (teacher_model || teacher_set || teacher_precision))
        bb_usage_error("memcalc", "--teacher-model, --teacher-set and --teacher-precision need --method kd");
    int ckpt_mode = bb_ckpt_parse(ckpt);
    if (ckpt_mode < 0) bb_usage_error("memcalc", "--checkpointing must be none, selective or block, got '%s'", ckpt);
    if (out && !fit) bb_usage_error("memcalc", "--out goes with --fit");
    if (fit) {
        if (!quiet || !out) print_fit(1, seq ? seq : 2048, &lc);
        if (out) write_fit_csv(out, 1, seq ? seq : 2048);
        return 0;
    }
    bb_config c;
    bb_model_args_resolve(&ma, "memcalc", &c);
    char err[200];
    if (bb_config_set_precision(&c, precision, err, sizeof err) != 0) bb_usage_error("memcalc", "%s", err);
    bb_nf4_dq_apply(nf4_dq, "memcalc", &c);
    /* the precision is final now: the engine's rules (quant_head/quant_embed need a quantized one) */
    if (bb_config_validate(&c, err, sizeof err) != 0) bb_usage_error("memcalc", "%s", err);
    if (is_lora && (c.quant_head || c.quant_embed))  /* as bb_model_init_frozen refuses them */
        bb_usage_error("memcalc", "--method lora: a frozen base keeps its head and embedding FP32 (no quant_head/quant_embed)");
    if (seq == 0) seq = c.max_seq;
    if (bb_precisions[c.precision].base_only && !is_lora) {
        if (kd) bb_usage_error("memcalc", "--method kd trains the student fully; %s is a base-only format",
                               bb_precisions[c.precision].name);
        print_base_weights(&c, ma.model);
        return 0;
    }
    bb_memcalc m;
    bb_config t = c;
    char desc[256];
    if (kd) {  /* the teacher: its own preset (default the student's), overrides and precision */
        bb_model_args ta = ma;
        ta.model = teacher_model ? teacher_model : ma.model;
        ta.overrides = teacher_set;
        ta.family = NULL;
        bb_model_args_resolve(&ta, "memcalc", &t);
        if (bb_config_set_precision(&t, teacher_precision ? teacher_precision : "fp32", err, sizeof err) != 0)
            bb_usage_error("memcalc", "--teacher-precision: %s", err);
        if (bb_config_validate(&t, err, sizeof err) != 0) bb_usage_error("memcalc", "the teacher: %s", err);
        if (t.vocab_size != c.vocab_size)
            bb_usage_error("memcalc", "the teacher's vocab_size %d differs from the student's %d", t.vocab_size,
                           c.vocab_size);
        if (seq > t.max_seq) bb_usage_error("memcalc", "--seq %ld exceeds the teacher's max_seq %d", seq, t.max_seq);
        bb_memcalc_kd(&c, &t, (int)batch, (int)seq, (bb_ckpt_mode)ckpt_mode, &m);
    } else if (is_lora) {
        bb_memcalc_lora(&c, &lc, (int)batch, (int)seq, (bb_ckpt_mode)ckpt_mode, &m);
    } else {
        bb_memcalc_full(&c, (int)batch, (int)seq, (bb_ckpt_mode)ckpt_mode, &m);
    }
    bb_config_describe(&c, desc, sizeof desc);
    printf("memcalc: %s (%s), %.4g parameters, %s, B=%ld T=%ld, checkpointing %s\n", ma.model, desc, m.n_params,
           kd ? "full training + KD teacher" : is_lora ? "LoRA training" : "full training", batch, seq, ckpt);
    if (is_lora) {
        char targets[64];
        bb_lora_targets_name(lc.targets, targets, sizeof targets);
        printf("LoRA r=%d on %s, dropout %g: %.4g trainable parameters (%.3g%% of the base)\n", lc.r, targets,
               (double)lc.dropout, m.n_trainable, 100.0 * m.n_trainable / m.n_params);
        const char *names[] = {"packed base (frozen)", "frozen FP32 params", "adapters", "adapter gradients",
                               "adapter optimizer (m, v)", "activations", "workspace"};
        double vals[] = {m.packed, m.frozen, m.adapters, m.adapter_grads, m.adapter_optim, m.activations, m.workspace};
        for (int i = 0; i < 7; i++)
            printf("  %-28s %12.3f GB  %10.1f MiB\n", names[i], vals[i] / 1e9, vals[i] / 1048576.0);
    }
    if (kd) {
        bb_config_describe(&t, desc, sizeof desc);
        printf("teacher: %s (%s), forward only\n", teacher_model ? teacher_model : ma.model, desc);
    }
    const char *names[] = {"parameters (FP32 masters)", "packed weights (QAT)", "gradients", "optimizer (AdamW m, v)",
                           "activations", "workspace", "teacher (KD, forward)"};
    double vals[] = {m.parameters, m.packed, m.gradients, m.optimizer, m.activations, m.workspace, m.teacher};
    for (int i = 0; !is_lora && i < (kd ? 7 : 6); i++)
        printf("  %-28s %12.3f GB  %10.1f MiB\n", names[i], vals[i] / 1e9, vals[i] / 1048576.0);
    printf("  %-28s %12.3f GB  %10.1f MiB\n", "total", m.total / 1e9, m.total / 1048576.0);
    if (!is_lora && m.activations_16bit > 0)
        printf("  of the activations, %.1f MiB are 16-bit copies kept for backward (%.1f MiB as fp32); %.1f MiB "
               "stay fp32 (residual stream, norm statistics, logits/probabilities)\n", m.activations_16bit / 1048576.0,
               2 * m.activations_16bit / 1048576.0, (m.activations - m.activations_16bit) / 1048576.0);
    if (m.packed_export > 0)
        printf("  packed export of the quantized linears%s: %.3f GB\n",
               c.quant_head && c.quant_embed ? ", head and embedding" : c.quant_head ? " and head"
               : c.quant_embed ? " and embedding" : "", m.packed_export / 1e9);
    printf("  not in the total: the CPU attention backward's transient row blocks, %.0f KiB per thread\n",
           m.att_scratch_per_thread / 1024.0);
    return 0;
}
