/* cmd_quality.c — `bitbench bench quality` (issue #8): for each task x precision x method,
 * train the preset from the same seed with the same token budget (bench/methods.h says how
 * a method sets up and steps), then evaluate:
 *   lm: the KJV causal LM (lm/train), scored on lm/valid and lm/test: mean loss, perplexity,
 *       bits per byte (eval/perplexity.h, stride mode) and top-1 next-token accuracy;
 *   mt: Greek->English verse pairs (mt/train), masked loss on mt/dev, BLEU and chrF with
 *       their sacreBLEU signatures on the first N sentences of mt/test (bench/mt_eval.h).
 * Rows go to quality.csv, the training curves to loss_curves.csv (bench/schemas.c).
 *
 * Cache: a row is keyed by the SHA-256 of its whole configuration and the bitbench binary
 * (config_hash); a finished row and its curve are also kept in <cache>/quality/<hash>.csv
 * and .loss.csv, so a rerun (even into a new results folder) copies them instead of
 * training again, marked source=cache. Methods that need a base (LoRA base, KD teacher)
 * get the fp32 full model of the same task and budget, trained first and cached as a
 * checkpoint. */
#include "../common/args.h"
#include "../common/check.h"
#include "../common/io.h"
#include "../datasets/corpus.h"
#include "../datasets/loader.h"
#include "../datasets/mt.h"
#include "../datasets/tokenizer.h"
#include "../datasets/tokfile.h"
#include "../engine/alloc.h"
#include "../engine/checkpoint.h"
#include "../engine/schedule.h"
#include "../eval/perplexity.h"
#include "cli.h"
#include "csv.h"
#include "harness.h"
#include "methods.h"
#include "model_args.h"
#include "mt_eval.h"
#include "progress.h"
#include "results.h"
#include "schemas.h"
#include "stop.h"
#include "sweep.h"
#include "train_data.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *preset, *precisions, *methods, *tasks, *mt_split, *out;
    long lm_steps, lm_batch, lm_seq, mt_steps, mt_batch, warmup, seed, eval_windows, curve_windows, points;
    long mt_sentences, mt_max_new, beam, threads;
    double lr;
    bool fresh;
} q_args;

enum { TASK_LM, TASK_MT };
static const char *const task_names[] = {"lm", "mt"};

typedef struct {
    int task, prec;
    const bb_method *method;
    char config[2048], hash[17], base_hash[17];
    int base_prec;  /* the precision of the base checkpoint (fp32, or a SubLN precision's own for lora) */
} q_config;

/* Everything a training run reads, loaded once. */
typedef struct {
    bb_tokenizer tok;
    bool lm_loaded, mt_loaded;
    bb_tokens train, valid, test;
    bb_mt_data mt_train, mt_dev;
} q_data;

typedef struct {
    double final_loss, valid_loss, valid_bpb, valid_acc, test_loss, test_bpb, bleu, chrf, train_s, eval_s;
    long train_tokens;
    int mt_n;
    char bleu_sig[256], chrf_sig[256];
    /* the curve: one line per point (loss_curves.csv rows) */
    char **curve;
    int n_curve;
} q_result;

static void load_split(bb_tokenizer *tok, const char *split, bb_tokens *out) {
    char path[4096];
    const bb_corpus_file *cf = bb_corpus_find(split);
    BB_CHECK(cf != NULL);
    bb_path_join(path, sizeof path, bb_data_dir(), cf->file);
    bb_tokens_cached(tok, path, split, out, false);
}

static void cache_paths(const char *hash, char *row, char *loss, char *ckpt, size_t cap) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/quality", bb_cache_dir());
    if (bb_mkdir_p(dir) != 0) bb_user_error("cannot create %s: %s", dir, strerror(errno));
    snprintf(row, cap, "%s/%s.csv", dir, hash);
    snprintf(loss, cap, "%s/%s.loss.csv", dir, hash);
    snprintf(ckpt, cap, "%s/%s.safetensors", dir, hash);
}

/* Top-1 next-token accuracy (%) over the first `windows` windows of seq T. */
static double token_accuracy(bb_model *m, const bb_tokens *tk, int B, int T, long windows, int *in, int *tg) {
    bb_lm_loader l;
    if (bb_lm_loader_init(&l, tk->ids, tk->n, T, 0) != 0) return NAN;
    size_t nw = windows > 0 && (size_t)windows < l.n_windows ? (size_t)windows : l.n_windows;
    long hit = 0, total = 0;
    int V = m->cfg.vocab_size;
    for (size_t w0 = 0; w0 < nw; w0 += (size_t)B) {
        int rows = (int)(nw - w0 < (size_t)B ? nw - w0 : (size_t)B);
        for (int r = 0; r < rows; r++) bb_lm_loader_window(&l, w0 + (size_t)r, in + (size_t)r * T, tg + (size_t)r * T);
        bb_model_forward(m, in, NULL, rows, T);  /* logits only: a loss could write probabilities over them */
        for (long i = 0; i < (long)rows * T; i++) {
            const float *lg = m->acts.logits + (size_t)i * V;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (lg[v] > lg[best]) best = v;
            hit += best == tg[i];
            total++;
        }
    }
    bb_lm_loader_free(&l);
    return total ? 100.0 * (double)hit / (double)total : NAN;
}

/* Validation loss for a curve point: the first curve_windows LM windows, or the first
 * curve_windows * B dev pairs. */
static double curve_val(bb_model *m, q_data *d, int task, int B, int T, long curve_windows, int *in, int *tg) {
    if (task == TASK_LM) {
        bb_ppl_stats ps;
        bb_eval_lm(m, &d->tok, d->valid.ids, d->valid.n, B, T, curve_windows, &ps);
        return ps.mean_loss;
    }
    bb_mt_data sub = d->mt_dev;
    if (curve_windows > 0 && (long)sub.n > curve_windows * B) sub.n = (int)(curve_windows * B);
    return bb_mt_eval_loss(m, &sub, B, in, tg);
}

static void add_curve(q_result *res, const q_config *c, long step, double train_loss, double val, long tokens) {
    bb_csv_row r;
    char line[1024], err[300];
    bb_csv_row_init(&r, &bb_schema_loss_curves);
    bb_csv_row_str(&r, "config_hash", c->hash);
    bb_csv_row_fmt(&r, "step", "%ld", step);
    bb_csv_row_str(&r, "task", task_names[c->task]);
    bb_csv_row_str(&r, "precision", bb_precisions[c->prec].name);
    bb_csv_row_str(&r, "method", c->method->name);
    bb_csv_row_num(&r, "train_loss", train_loss, 6);
    bb_csv_row_num(&r, "val_loss", val, 6);
    bb_csv_row_fmt(&r, "train_tokens", "%ld", tokens);
    if (bb_csv_row_finish(&r, line, sizeof line, err, sizeof err) != 0) bb_fatal(__FILE__, __LINE__, "%s", err);
    size_t bytes = (size_t)(res->n_curve + 1) * sizeof(char *);
    res->curve = res->curve ? bb_realloc(res->curve, bytes) : bb_alloc(BB_MEM_OTHER, bytes);
    res->curve[res->n_curve++] = bb_strdup(line);
}

/* Trains and evaluates one configuration; returns 1 if a stop was requested. */
static int run_config(const q_config *c, const q_args *a, q_data *d, const char *base_ckpt, const char *save_ckpt,
                      bb_progress *prog, int index, int total, q_result *res) {
    char err[700], label[128];
    snprintf(label, sizeof label, "quality %d/%d  %s %s %s", index + 1, total, task_names[c->task], bb_precisions[c->prec].name,
             c->method->name);
    bb_config cfg;
    if (bb_config_from_preset(&cfg, a->preset, err, sizeof err) != 0) bb_usage_error("bench quality", "%s", err);
    if (bb_config_set_precision(&cfg, bb_precisions[c->prec].name, err, sizeof err) != 0) bb_user_error("%s", err);
    bool mt = c->task == TASK_MT;
    int B = (int)(mt ? a->mt_batch : a->lm_batch), T = mt ? cfg.max_seq : (int)a->lm_seq;
    long steps = mt ? a->mt_steps : a->lm_steps;
    if (!mt && T > cfg.max_seq) bb_usage_error("bench quality", "--lm-seq %d exceeds max_seq %d", T, cfg.max_seq);
    if (d->tok.vocab_size > cfg.vocab_size) bb_user_error("the tokenizer has more tokens than the model's vocabulary");
    bb_method_setup setup = {&cfg, &bb_backend_cpu, base_ckpt, (uint64_t)a->seed, BB_CKPT_NONE, bb_method_default_opt((float)a->lr),
                             (bb_precision)c->base_prec};
    bb_method_run r;
    if (c->method->init(&r, &setup, err, sizeof err) != 0) bb_user_error("%s", err);
    int *in = bb_alloc(BB_MEM_DATA, (size_t)B * cfg.max_seq * sizeof(int)), *tg = bb_alloc(BB_MEM_DATA, (size_t)B * cfg.max_seq * sizeof(int));
    bb_lm_loader lm = {0};
    bb_mt_loader mtl = {0};
    if (mt) bb_mt_loader_init(&mtl, &d->mt_train, B, (uint64_t)a->seed);
    else if (bb_lm_loader_init(&lm, d->train.ids, d->train.n, T, (uint64_t)a->seed) != 0) bb_user_error("training split too short");
    bb_schedule sched = {BB_SCHED_COSINE, (float)a->lr, 0.1f, (int)a->warmup, (int)steps};
    long every = steps / (a->points > 0 ? a->points : 1) > 0 ? steps / (a->points > 0 ? a->points : 1) : 1;
    long val_every = steps / 4 > 0 ? steps / 4 : 1;
    double *losses = bb_alloc(BB_MEM_OTHER, (size_t)steps * sizeof(double));
    add_curve(res, c, 0, NAN, curve_val(&r.model, d, c->task, B, T, a->curve_windows, in, tg), 0);
    double t0 = bb_now(), since = 0;
    long tokens = 0, n_since = 0;
    int stopped = 0;
    for (long s = 0; s < steps && !stopped; s++) {
        int Tb = T;
        if (mt) Tb = bb_mt_loader_batch(&mtl, s, in, tg);
        else bb_lm_loader_batch(&lm, s, B, in, tg);
        float loss = c->method->step(&r, in, tg, B, Tb, bb_schedule_lr(&sched, (int)s));
        if (!isfinite(loss)) bb_user_error("%s %s %s: the training loss became %f at step %ld", task_names[c->task],
                                           bb_precisions[c->prec].name, c->method->name, loss, s + 1);
        losses[s] = loss;
        tokens += (long)B * Tb;
        since += loss;
        n_since++;
        if ((s + 1) % every == 0 || s + 1 == steps) {
            bool val = (s + 1) % val_every == 0 || s + 1 == steps;
            add_curve(res, c, s + 1, since / n_since, val ? curve_val(&r.model, d, c->task, B, T, a->curve_windows, in, tg) : NAN,
                      tokens);
            since = 0;
            n_since = 0;
        }
        if (prog->tty || (s + 1) % (steps / 4 > 0 ? steps / 4 : 1) == 0) {
            char status[256];
            snprintf(status, sizeof status, "%s  step %ld/%ld  loss %.3f", label, s + 1, steps, loss);
            bb_progress_update(prog, (long)index * 100 + 80 * (s + 1) / steps, status);
        }
        stopped = bb_stop_requested();
    }
    res->train_s = bb_now() - t0;
    res->train_tokens = tokens;
    if (!stopped) {
        long tail = steps / 10 > 0 ? steps / 10 : 1;
        double sum = 0;
        for (long s = steps - tail; s < steps; s++) sum += losses[s];
        res->final_loss = sum / (double)tail;
        char status[256];
        snprintf(status, sizeof status, "%s  evaluating", label);
        bb_progress_update(prog, (long)index * 100 + 80, status);
        double e0 = bb_now();
        if (!mt) {
            bb_ppl_stats ps;
            bb_eval_lm(&r.model, &d->tok, d->valid.ids, d->valid.n, B, T, a->eval_windows, &ps);
            res->valid_loss = ps.mean_loss;
            res->valid_bpb = ps.bits_per_byte;
            bb_eval_lm(&r.model, &d->tok, d->test.ids, d->test.n, B, T, a->eval_windows, &ps);
            res->test_loss = ps.mean_loss;
            res->test_bpb = ps.bits_per_byte;
            res->valid_acc = token_accuracy(&r.model, &d->valid, B, T, a->eval_windows, in, tg);
            res->bleu = res->chrf = NAN;
        } else {
            res->valid_loss = bb_mt_eval_loss(&r.model, &d->mt_dev, B, in, tg);
            res->valid_bpb = res->valid_acc = res->test_loss = res->test_bpb = NAN;
            bb_mt_set set;
            bb_mt_set_load(&set, a->mt_split, (int)a->mt_sentences);
            bb_mt_translate(&r.model, &d->tok, &set, (int)a->beam, 0.6f, (int)a->mt_max_new, 0);
            bb_mt_score sc;
            bb_mt_score_set(&set, &sc);
            res->bleu = sc.bleu;
            res->chrf = sc.chrf;
            res->mt_n = set.n;
            snprintf(res->bleu_sig, sizeof res->bleu_sig, "%s", sc.bleu_signature);
            snprintf(res->chrf_sig, sizeof res->chrf_sig, "%s", sc.chrf_signature);
            bb_mt_set_free(&set);
        }
        res->eval_s = bb_now() - e0;
        if (save_ckpt) {
            bb_ckpt_info info = {.step = r.model.step, .seed = (uint64_t)a->seed};
            snprintf(info.tokenizer, sizeof info.tokenizer, "%s", d->tok.identity_hex);
            snprintf(info.producer, sizeof info.producer, "bitbench bench quality %s", c->hash);
            if (bb_checkpoint_save(&r.model, save_ckpt, &info, err, sizeof err) != 0) bb_user_error("%s", err);
        }
    }
    bb_free(losses);
    bb_free(in);
    bb_free(tg);
    if (mt) bb_mt_loader_free(&mtl);
    else bb_lm_loader_free(&lm);
    c->method->free(&r);
    return stopped;
}

/* The quality row of a result. */
static void result_row(const q_config *c, const q_args *a, const q_result *res, const char *cpu, const char *commit,
                       char *line, size_t cap) {
    bool mt = c->task == TASK_MT;
    bb_config cfg;
    char err[300];
    bb_config_from_preset(&cfg, a->preset, err, sizeof err);
    bb_csv_row r;
    bb_csv_row_init(&r, &bb_schema_quality);
    bb_csv_row_str(&r, "config_hash", c->hash);
    bb_csv_row_str(&r, "task", task_names[c->task]);
    bb_csv_row_str(&r, "preset", a->preset);
    bb_csv_row_str(&r, "precision", bb_precisions[c->prec].name);
    bb_csv_row_str(&r, "method", c->method->name);
    bb_csv_row_str(&r, "base_config_hash", c->base_hash);
    bb_csv_row_fmt(&r, "steps", "%ld", mt ? a->mt_steps : a->lm_steps);
    bb_csv_row_fmt(&r, "batch", "%ld", mt ? a->mt_batch : a->lm_batch);
    bb_csv_row_fmt(&r, "seq", "%ld", mt ? (long)cfg.max_seq : a->lm_seq);
    bb_csv_row_fmt(&r, "train_tokens", "%ld", res->train_tokens);
    bb_csv_row_fmt(&r, "lr", "%.9g", a->lr);
    bb_csv_row_fmt(&r, "seed", "%ld", a->seed);
    bb_csv_row_num(&r, "final_train_loss", res->final_loss, 6);
    bb_csv_row_num(&r, "valid_loss", res->valid_loss, 6);
    bb_csv_row_num(&r, "valid_ppl", exp(res->valid_loss), 4);
    bb_csv_row_num(&r, "valid_bits_per_byte", res->valid_bpb, 6);
    bb_csv_row_num(&r, "valid_token_accuracy_pct", res->valid_acc, 4);
    bb_csv_row_num(&r, "test_loss", res->test_loss, 6);
    bb_csv_row_num(&r, "test_ppl", exp(res->test_loss), 4);
    bb_csv_row_num(&r, "test_bits_per_byte", res->test_bpb, 6);
    bb_csv_row_fmt(&r, "eval_windows", "%ld", mt ? 0 : a->eval_windows);
    bb_csv_row_str(&r, "mt_split", mt ? a->mt_split : "");
    bb_csv_row_str(&r, "mt_sentences", "");
    if (mt) bb_csv_row_fmt(&r, "mt_sentences", "%d", res->mt_n);
    bb_csv_row_str(&r, "mt_beam", "");
    if (mt) bb_csv_row_fmt(&r, "mt_beam", "%ld", a->beam);
    bb_csv_row_num(&r, "bleu", res->bleu, 4);
    bb_csv_row_num(&r, "chrf", res->chrf, 4);
    bb_csv_row_str(&r, "bleu_signature", mt ? res->bleu_sig : "");
    bb_csv_row_str(&r, "chrf_signature", mt ? res->chrf_sig : "");
    bb_csv_row_num(&r, "train_seconds", res->train_s, 1);
    bb_csv_row_num(&r, "eval_seconds", res->eval_s, 1);
    bb_csv_row_str(&r, "source", "trained");
    bb_harness_row_machine(&r, cpu, commit);
    if (bb_csv_row_finish(&r, line, cap, err, sizeof err) != 0) bb_fatal(__FILE__, __LINE__, "%s", err);
}

/* Writes text (header + rows) to path atomically. */
static void write_lines(const char *path, const bb_csv_schema *s, char *const *rows, int n) {
    bb_atomic_file af;
    FILE *f = bb_atomic_open(&af, path);
    if (!f) bb_user_error("cannot write %s: %s", path, strerror(errno));
    for (int c = 0; c < s->n_cols; c++) fprintf(f, "%s%s", c ? "," : "", s->cols[c].name);
    fputc('\n', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", rows[i]);
    if (bb_atomic_commit(&af) != 0) bb_user_error("cannot write %s: %s", path, strerror(errno));
}

/* Copies a cached result into the run's tables (source=cache); false if not cached whole. */
static bool from_cache(const char *row_path, const char *loss_path, bb_csv_table *qt, bb_csv_table *lt, const char *hash) {
    if (!bb_file_exists(row_path) || !bb_file_exists(loss_path)) return false;
    bb_csv_doc q, l;
    char err[600];
    if (bb_csv_read(row_path, &q, NULL, err, sizeof err) != 0) return false;
    if (q.n_rows != 1 || q.n_cols != bb_schema_quality.n_cols || bb_csv_read(loss_path, &l, NULL, err, sizeof err) != 0) {
        bb_csv_doc_free(&q);
        return false;
    }
    bb_csv_row r;
    bb_csv_row_init(&r, &bb_schema_quality);
    for (int c = 0; c < q.n_cols; c++) bb_csv_row_str(&r, q.header[c], q.cells[c]);
    bb_csv_row_str(&r, "source", "cache");
    char line[8192], prefix[32];
    bool ok = bb_csv_row_finish(&r, line, sizeof line, err, sizeof err) == 0;
    char **rows = bb_alloc(BB_MEM_OTHER, (size_t)(l.n_rows + 1) * sizeof(char *));
    for (int i = 0; i < l.n_rows; i++) {
        size_t need = 1;
        for (int c = 0; c < l.n_cols; c++) need += strlen(l.cells[(size_t)i * l.n_cols + c]) + 1;
        rows[i] = bb_alloc(BB_MEM_OTHER, need);
        for (int c = 0; c < l.n_cols; c++) {
            if (c) strcat(rows[i], ",");
            strcat(rows[i], l.cells[(size_t)i * l.n_cols + c]);
        }
    }
    snprintf(prefix, sizeof prefix, "%s,", hash);
    if (ok && bb_csv_table_append(lt, (const char *const *)rows, l.n_rows, prefix, err, sizeof err) != 0) bb_user_error("%s", err);
    const char *one[1] = {line};
    if (ok && bb_csv_table_append(qt, one, 1, NULL, err, sizeof err) != 0) bb_user_error("%s", err);
    for (int i = 0; i < l.n_rows; i++) bb_free(rows[i]);
    bb_free(rows);
    bb_csv_doc_free(&q);
    bb_csv_doc_free(&l);
    return ok;
}

int bb_cmd_bench_quality(int argc, char **argv) {
    q_args a = {.preset = "small", .precisions = "all", .methods = "all", .tasks = "lm,mt", .mt_split = "test",
                .lm_steps = 200, .lm_batch = 8, .lm_seq = 256, .mt_steps = 200, .mt_batch = 16, .warmup = 20,
                .seed = 1337, .eval_windows = 0, .curve_windows = 8, .points = 20, .mt_sentences = 200,
                .mt_max_new = 96, .beam = 1, .threads = 0, .lr = 1e-3};
    const bb_arg args[] = {
        {"preset", BB_ARG_STR, &a.preset, "P", "model preset (tiny, small, gpt2-124m)", 0, -1},
        {"precisions", BB_ARG_STR, &a.precisions, "P,...", "fp32 fp16 bf16 int8 int4 b158, or all (fp32 first)", 0, -1},
        {"methods", BB_ARG_STR, &a.methods, "M,...", "full, lora, kd, or all (one not in this build is skipped)", 0, -1},
        {"tasks", BB_ARG_STR, &a.tasks, "T,...", "lm (KJV), mt (Greek->English), or both", 0, -1},
        {"lm-steps", BB_ARG_INT, &a.lm_steps, "N", "LM training steps", 1, 100000000},
        {"lm-batch", BB_ARG_INT, &a.lm_batch, "B", "LM sequences per step", 1, 65536},
        {"lm-seq", BB_ARG_INT, &a.lm_seq, "T", "LM tokens per sequence", 2, 1 << 20},
        {"mt-steps", BB_ARG_INT, &a.mt_steps, "N", "MT training steps", 1, 100000000},
        {"mt-batch", BB_ARG_INT, &a.mt_batch, "B", "MT pairs per step", 1, 65536},
        {"lr", BB_ARG_DOUBLE, &a.lr, "X", "peak learning rate (warm-up, cosine to 10 %)", 0, -1},
        {"warmup", BB_ARG_INT, &a.warmup, "N", "warm-up steps", 0, 100000000},
        {"seed", BB_ARG_INT, &a.seed, "N", "weights and data-order seed", 0, 2147483647},
        {"eval-windows", BB_ARG_INT, &a.eval_windows, "N", "LM windows scored per split (0: the whole split)", 0, 1 << 30},
        {"curve-windows", BB_ARG_INT, &a.curve_windows, "N", "LM windows (MT: batches of dev pairs) per curve point", 1, 1 << 30},
        {"points", BB_ARG_INT, &a.points, "N", "training-curve points per run", 1, 100000},
        {"mt-split", BB_ARG_STR, &a.mt_split, "NAME", "split translated for BLEU: dev or test", 0, -1},
        {"mt-sentences", BB_ARG_INT, &a.mt_sentences, "N", "sentences translated (the first N; 0: all)", 0, 1 << 30},
        {"mt-max-new", BB_ARG_INT, &a.mt_max_new, "N", "most tokens generated per sentence", 1, 1 << 20},
        {"beam", BB_ARG_INT, &a.beam, "K", "beam width for BLEU (1: greedy)", 1, 64},
        {"threads", BB_ARG_INT, &a.threads, "N", "threads (0: all cores)", 0, 1024},
        {"out", BB_ARG_STR, &a.out, "DIR", "results folder (default results/runs/<run id>-quality; resumed)", 0, -1},
        {"fresh", BB_ARG_FLAG, &a.fresh, NULL, "never resume: a new folder (-2, -3, ...)", 0, -1},
    };
    const bb_cmd_spec spec = {
        "bench quality",
        "Train each task x precision x method with one token budget and report perplexity, bits per byte,\n"
        "top-1 accuracy (KJV LM), BLEU and chrF with signatures (Greek->English MT) and the final training loss.",
        "[--preset small] [--precisions all] [--methods all] [--tasks lm,mt] [--lm-steps N] [--mt-steps N] [--out DIR]",
        args, (int)(sizeof args / sizeof args[0]), 0, 0,
        "Writes quality.csv and loss_curves.csv (bitbench bench schema). Results are cached by config hash in\n"
        "<cache>/quality/ (BITBENCH_CACHE, default .cache/): a rerun of the same build copies them."};
    bb_args_parse(&spec, argc, argv, NULL);
    if (strcmp(a.mt_split, "dev") != 0 && strcmp(a.mt_split, "test") != 0)
        bb_usage_error("bench quality", "--mt-split must be dev or test, got '%s'", a.mt_split);
    if (!(a.lr > 0)) bb_usage_error("bench quality", "--lr must be positive");
    bool want_task[2] = {false, false};
    {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", a.tasks);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (strcmp(t, "lm") == 0) want_task[TASK_LM] = true;
            else if (strcmp(t, "mt") == 0) want_task[TASK_MT] = true;
            else bb_usage_error("bench quality", "--tasks: unknown task '%s' (lm, mt)", t);
        }
    }
    bb_config pcfg;
    char err[700];
    if (bb_config_from_preset(&pcfg, a.preset, err, sizeof err) != 0) bb_usage_error("bench quality", "--preset: %s", err);
    for (int k = 0; k < bb_n_presets; k++)
        if (strcmp(bb_presets[k].name, a.preset) == 0 && !bb_presets[k].trainable_here)
            bb_usage_error("bench quality", "--preset %s is a shape for the calculator, too large to train here", a.preset);
    if (a.lm_seq > pcfg.max_seq) bb_usage_error("bench quality", "--lm-seq %ld exceeds max_seq %d", a.lm_seq, pcfg.max_seq);
    int prec[BB_PREC_COUNT], n_prec = bb_parse_precisions(a.precisions, "bench quality", prec);
    const bb_method *meth[16];
    int n_meth_in = bb_parse_methods(a.methods, "bench quality", meth), n_meth = 0;
    bool need_base = false, need_sub_base = false;
    for (int i = 0; i < n_meth_in; i++) {
        if (meth[i]->missing) {
            fprintf(stderr, "bench quality: method %s: not available in this build (%s)\n", meth[i]->name, meth[i]->missing);
            continue;
        }
        need_base |= meth[i]->needs_base;
        need_sub_base |= meth[i]->frozen_base;  /* lora on b158 trains over the b158 full model */
        meth[n_meth++] = meth[i];
    }
    /* full first: fp32 full of each task is the base of the methods that need one */
    if (need_base) {
        bool has_full = false;
        for (int i = 0; i < n_meth; i++) has_full |= strcmp(meth[i]->name, "full") == 0;
        if (!has_full) meth[n_meth++] = bb_method_find("full");
        for (int i = 0; i < n_meth; i++)
            if (strcmp(meth[i]->name, "full") == 0 && i > 0) { const bb_method *t = meth[0]; meth[0] = meth[i]; meth[i] = t; }
    }
    if (n_meth == 0) bb_user_error("bench quality: no method of --methods is available in this build");
    bb_stop_install();
    bb_set_threads(a.threads);
    q_config *cfgs = bb_alloc(BB_MEM_OTHER, (size_t)(2 * n_meth * n_prec) * sizeof *cfgs);
    int n = 0;
    const char *bin = bb_run_binary_hash();
    for (int t = 0; t < 2; t++) {
        if (!want_task[t]) continue;
        char base_hash[17] = "", full_hash[BB_PREC_COUNT][17] = {{0}};
        for (int mi = 0; mi < n_meth; mi++)
            for (int k = 0; k < n_prec; k++) {
                if (bb_precisions[prec[k]].base_only && !meth[mi]->frozen_base) continue;  /* nf4: a base only */
                q_config *c = &cfgs[n++];
                c->task = t;
                c->prec = prec[k];
                c->method = meth[mi];
                /* LoRA on a SubLN precision (b158) needs that precision's trained model as base */
                c->base_prec = meth[mi]->frozen_base && bb_precisions[prec[k]].subln ? prec[k] : BB_PREC_FP32;
                snprintf(c->base_hash, sizeof c->base_hash, "%s",
                         !meth[mi]->needs_base ? "" : c->base_prec != BB_PREC_FP32 ? full_hash[prec[k]] : base_hash);
                snprintf(c->config, sizeof c->config,
                         "quality/1;binary=%s;task=%s;preset=%s;precision=%s;method=%s;steps=%ld;batch=%ld;seq=%ld;"
                         "lr=%.9g;warmup=%ld;seed=%ld;eval_windows=%ld;curve_windows=%ld;points=%ld;mt_split=%s;"
                         "mt_sentences=%ld;mt_max_new=%ld;beam=%ld;base=%s",
                         bin, task_names[t], a.preset, bb_precisions[prec[k]].name, meth[mi]->name,
                         t == TASK_MT ? a.mt_steps : a.lm_steps, t == TASK_MT ? a.mt_batch : a.lm_batch,
                         t == TASK_MT ? (long)pcfg.max_seq : a.lm_seq, a.lr, a.warmup, a.seed, a.eval_windows,
                         a.curve_windows, a.points, a.mt_split, a.mt_sentences, a.mt_max_new, a.beam, c->base_hash);
                bb_config_hash(c->config, c->hash);
                if (prec[k] == BB_PREC_FP32 && strcmp(meth[mi]->name, "full") == 0)
                    snprintf(base_hash, sizeof base_hash, "%s", c->hash);
                if (strcmp(meth[mi]->name, "full") == 0) snprintf(full_hash[prec[k]], sizeof full_hash[0], "%s", c->hash);
            }
    }
    char config[1024];
    snprintf(config, sizeof config, "preset=%s;precisions=%s;methods=%s;tasks=%s;lm=%ldx%ldx%ld;mt=%ldx%ld;lr=%.9g;"
             "warmup=%ld;seed=%ld;eval_windows=%ld;mt=%s:%ld:%ld:beam%ld", a.preset, a.precisions, a.methods, a.tasks,
             a.lm_steps, a.lm_batch, a.lm_seq, a.mt_steps, a.mt_batch, a.lr, a.warmup, a.seed, a.eval_windows, a.mt_split,
             a.mt_sentences, a.mt_max_new, a.beam);
    bb_run run;
    bb_run_begin(&run, "quality", "bench quality", "quality", a.out, a.fresh, config, argc, argv);
    bb_csv_table qt, lt;
    if (bb_csv_table_open(&qt, run.dir, &bb_schema_quality, err, sizeof err) != 0) bb_user_error("%s", err);
    if (bb_csv_table_open(&lt, run.dir, &bb_schema_loss_curves, err, sizeof err) != 0) bb_user_error("%s", err);
    char cpu[256];
    bb_csv_clean(cpu, sizeof cpu, run.env.cpu_model);
    q_data d;
    memset(&d, 0, sizeof d);
    bool tok_open = false;
    bb_progress prog;
    bb_progress_init(&prog, (long)n * 100);
    int skipped = 0, cached = 0;
    printf("bench quality: %d runs into %s\n", n, run.dir);
    printf("%-22s %10s %10s %10s %8s %8s %8s\n", "run", "train loss", "valid loss", "valid ppl", "top-1 %", "BLEU", "chrF");
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        q_config *c = &cfgs[i];
        if (bb_stop_requested()) bb_stop_exit("rerun the same command to resume");
        char label[96], row_path[4200], loss_path[4200], ckpt_path[4200], base_path[4200], b1[4200], b2[4200];
        snprintf(label, sizeof label, "%s %s %s", task_names[c->task], bb_precisions[c->prec].name, c->method->name);
        cache_paths(c->hash, row_path, loss_path, ckpt_path, sizeof row_path);
        /* the base checkpoint is wanted when a later method needs one and it is not cached yet */
        bool is_base = strcmp(c->method->name, "full") == 0 && need_base &&
                       (c->prec == BB_PREC_FP32 || (bb_precisions[c->prec].subln && need_sub_base));
        if (bb_csv_table_has(&qt, c->hash) && (!is_base || bb_file_exists(ckpt_path))) {
            skipped++;
            continue;
        }
        if (!bb_csv_table_has(&qt, c->hash) && (!is_base || bb_file_exists(ckpt_path)) &&
            from_cache(row_path, loss_path, &qt, &lt, c->hash)) {
            cached++;
            bb_progress_clear(&prog);
            printf("%-22s copied from the cache (%s)\n", label, c->hash);
            fflush(stdout);
            continue;
        }
        if (!tok_open) {
            bb_tokenizer_open(&d.tok, NULL, BB_TOK_DEFAULT_VOCAB, true);
            tok_open = true;
        }
        if (c->task == TASK_LM && !d.lm_loaded) {
            load_split(&d.tok, "lm/train", &d.train);
            load_split(&d.tok, "lm/valid", &d.valid);
            load_split(&d.tok, "lm/test", &d.test);
            d.lm_loaded = true;
        }
        if (c->task == TASK_MT && !d.mt_loaded) {
            bb_mt_data_load(&d.mt_train, &d.tok, "train", pcfg.max_seq);
            bb_mt_data_load(&d.mt_dev, &d.tok, "dev", pcfg.max_seq);
            d.mt_loaded = true;
        }
        base_path[0] = '\0';
        if (c->method->needs_base) {
            cache_paths(c->base_hash, b1, b2, base_path, sizeof base_path);
            if (!bb_file_exists(base_path))
                bb_user_error("the %s full model (%s) that %s needs is not in the cache", bb_precisions[c->base_prec].name,
                              c->base_hash, label);
        }
        q_result res;
        memset(&res, 0, sizeof res);
        if (run_config(c, &a, &d, base_path[0] ? base_path : NULL, is_base ? ckpt_path : NULL, &prog, i, n, &res))
            bb_stop_exit("rerun the same command to resume");
        char line[8192], prefix[32];
        result_row(c, &a, &res, cpu, run.env.git_commit, line, sizeof line);
        char *one[1] = {line};
        write_lines(loss_path, &bb_schema_loss_curves, res.curve, res.n_curve);
        write_lines(row_path, &bb_schema_quality, one, 1);
        snprintf(prefix, sizeof prefix, "%s,", c->hash);
        if (bb_csv_table_append(&lt, (const char *const *)res.curve, res.n_curve, prefix, err, sizeof err) != 0) bb_user_error("%s", err);
        if (!bb_csv_table_has(&qt, c->hash) && bb_csv_table_append(&qt, (const char *const *)one, 1, NULL, err, sizeof err) != 0)
            bb_user_error("%s", err);
        for (int k = 0; k < res.n_curve; k++) bb_free(res.curve[k]);
        bb_free(res.curve);
        bb_progress_clear(&prog);
        printf("%-22s %10.4f %10.4f %10.2f %8.2f %8.2f %8.2f  (%.0f s + %.0f s eval)\n", label, res.final_loss, res.valid_loss,
               exp(res.valid_loss), res.valid_acc, res.bleu, res.chrf, res.train_s, res.eval_s);
        fflush(stdout);
    }
    bb_progress_update(&prog, (long)n * 100, "quality done");
    bb_progress_finish(&prog);
    if (skipped) printf("resumed: %d of %d rows were already in %s\n", skipped, n, qt.path);
    if (cached) printf("cache: %d of %d rows copied from %s/quality/\n", cached, n, bb_cache_dir());
    printf("results: %s, %s\n", qt.path, lt.path);
    if (tok_open) {
        if (d.lm_loaded) {
            bb_tokens_free(&d.train);
            bb_tokens_free(&d.valid);
            bb_tokens_free(&d.test);
        }
        if (d.mt_loaded) {
            bb_mt_data_free(&d.mt_train);
            bb_mt_data_free(&d.mt_dev);
        }
        bb_tokenizer_free(&d.tok);
    }
    bb_csv_table_close(&qt);
    bb_csv_table_close(&lt);
    bb_free(cfgs);
    return 0;
}
