/* cmd_train.c — `bitbench train`: training on the shipped corpora with AdamW, warmup +
 * cosine/linear schedule, gradient accumulation, clipping, periodic validation, atomic
 * checkpoints and bit-identical resume. Full training (QAT at a quantized precision);
 * knowledge distillation from a teacher checkpoint (--teacher, --kd; engine/distill.h); or
 * with --lora adapters on a frozen base (engine/lora.h) from --base at --precision. */
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
#include "../engine/distill.h"
#include "../engine/lora.h"
#include "../engine/model.h"
#include "../engine/schedule.h"
#include "../eval/perplexity.h"
#include "bb_version.h"
#include "cli.h"
#include "device_arg.h"
#include "../engine/cuda_backend.h"
#include "model_args.h"
#include "progress.h"
#include "train_data.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    bb_model_args ma;
    const char *data, *schedule, *save, *resume, *csv, *tok, *precision, *act_quant, *task, *checkpointing, *nf4_dq, *device;
    const char *lora, *base;
    const char *teacher, *kd_spec;
    bb_kd_settings kd;
    long steps, batch, seq, accum, warmup, seed, eval_every, eval_windows, save_every, log_every, stop_at;
    long group, lambda_warmup, scaler_interval;
    bool two_stage;
    double lr, min_lr_frac, wd, beta1, beta2, eps, clip;
} train_args;

static void load_split_tokens(bb_tokenizer *tok, const char *split, bb_tokens *out) {
    char path[4096];
    const bb_corpus_file *cf = bb_corpus_find(split);
    BB_CHECK(cf != NULL);
    bb_path_join(path, sizeof path, bb_data_dir(), cf->file);
    bb_tokens_cached(tok, path, split, out, false);
}

/* Validation loss: LM valid windows (the first `windows`), or the masked loss over every
 * MT dev pair (batches of B in order, each as long as its longest pair). */
static double validate(bb_model *m, bb_tokenizer *tok, bool mt, const bb_tokens *valid, const bb_mt_data *dev, int B,
                       int T, long windows, int *inputs, int *targets) {
    bb_lora_set_training(m, false);  /* LoRA dropout is off in evaluation */
    if (!mt) {
        bb_ppl_stats ps;
        bb_eval_lm(m, tok, valid->ids, valid->n, B, T, windows, &ps);
        return ps.mean_loss;
    }
    return bb_mt_eval_loss(m, dev, B, inputs, targets);
}

static void save_checkpoint(const bb_model *m, const char *path, const train_args *a, const bb_tokenizer *tok,
                            const char *base_sha) {
    char err[600];
    if (m->lora) {  /* the base is frozen: only the adapters are new */
        bb_lora_file_info fi = {.seed = (uint64_t)a->seed};
        snprintf(fi.base_sha256, sizeof fi.base_sha256, "%s", base_sha);
        snprintf(fi.tokenizer, sizeof fi.tokenizer, "%s", tok->identity_hex);
        snprintf(fi.producer, sizeof fi.producer, "bitbench %s", BB_GIT_COMMIT);
        if (bb_lora_save(m, path, &fi, m->step, err, sizeof err) != 0) bb_user_error("%s", err);
        return;
    }
    bb_ckpt_info info = {.step = m->step, .seed = (uint64_t)a->seed};
    snprintf(info.tokenizer, sizeof info.tokenizer, "%s", tok->identity_hex);
    snprintf(info.producer, sizeof info.producer, "bitbench %s", BB_GIT_COMMIT);
    snprintf(info.train_json, sizeof info.train_json,
             "{\"task\": \"%s\", \"data\": \"%s\", \"steps\": %ld, \"batch\": %ld, \"seq\": %ld, \"accum\": %ld, \"lr\": %.9g, "
             "\"min_lr_frac\": %.9g, \"warmup\": %ld, \"schedule\": \"%s\", \"weight_decay\": %.9g, \"beta1\": %.9g, "
             "\"beta2\": %.9g, \"eps\": %.9g, \"grad_clip\": %.9g}",
             a->task, a->data, a->steps, a->batch, a->seq, a->accum, a->lr, a->min_lr_frac, a->warmup, a->schedule, a->wd,
             a->beta1, a->beta2, a->eps, a->clip);
    if (a->teacher) {  /* the distillation settings; the path with JSON-unsafe characters replaced */
        char path[512];
        size_t n = 0;
        for (const char *c = a->teacher; *c && n + 1 < sizeof path; c++)
            path[n++] = (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) ? '_' : *c;
        path[n] = '\0';
        size_t len = strlen(info.train_json);
        snprintf(info.train_json + len - 1, sizeof info.train_json - len + 1,
                 ", \"kd\": {\"teacher\": \"%s\", \"alpha\": %.9g, \"T\": %.9g}}", path, (double)a->kd.alpha,
                 (double)a->kd.temp);
    }
    if (bb_checkpoint_save(m, path, &info, err, sizeof err) != 0) bb_user_error("%s", err);
}

int bb_cmd_train(int argc, char **argv) {
    train_args a = {.ma = BB_MODEL_ARGS_DEFAULT, .data = "kjv", .schedule = "cosine", .steps = 100, .batch = 8,
                    .seq = 0, .accum = 1, .warmup = 10, .seed = 1337, .eval_every = 0, .eval_windows = 16,
                    .save_every = 0, .log_every = 10, .stop_at = 0, .lr = 3e-4, .min_lr_frac = 0.1, .wd = 0.1, .beta1 = 0.9,
                    .beta2 = 0.95, .eps = 1e-8, .clip = 1.0,
                    .precision = NULL, .act_quant = NULL, .task = "lm", .checkpointing = "none", .device = "cpu", .group = 32, .lambda_warmup = 0, .scaler_interval = 2000};
    const bb_arg args[] = {
        BB_MODEL_ARG_ENTRIES(a.ma),
        BB_DEVICE_ARG_ENTRY(a.device),
        {"task", BB_ARG_STR, &a.task, "NAME", "lm (causal LM on --data) or mt (Greek->English pairs, loss on English)",
         0, -1},
        {"data", BB_ARG_STR, &a.data, "NAME", "LM corpus: kjv (the LM train split)", 0, -1},
        {"precision", BB_ARG_STR, &a.precision, "P",
         "fp32, fp16, bf16, int8, int4, b158 (quantized linears; with --lora the frozen base's) or nf4 (a "
         "base-only format: --lora only)", 0, -1},
        BB_NF4_DQ_ARG(a.nf4_dq),
        {"lora", BB_ARG_STR, &a.lora, "K=V,...",
         "LoRA adapters on a frozen base: r=8,alpha=8,dropout=0,targets=qkv (PEFT defaults; targets all-linear, attn, "
         "mlp, qkv, attproj, fc, fcproj or joined by +), rslora", 0, -1},
        {"base", BB_ARG_STR, &a.base, "CKPT",
         "with --lora: the base checkpoint or packed export (default: a random base from --seed)", 0, -1},
        {"checkpointing", BB_ARG_STR, &a.checkpointing, "MODE",
         "none; selective: keep no attention probabilities, recompute them in backward; block: keep only block "
         "outputs and recompute the rest in backward (same gradients in all three)", 0, -1},
        {"int4-group", BB_ARG_INT, &a.group, "G", "int4 weight group size: 32, 64 or 128", 32, 128},
        {"act-quant", BB_ARG_STR, &a.act_quant, "MODE", "int4 activations: token or block (per group)", 0, -1},
        {"lambda-warmup", BB_ARG_INT, &a.lambda_warmup, "N",
         "int8/int4/b158 quantization warm-up: lambda = min(step/N, 1) (HF 1.58-bit recipe; 0: off)", 0, 100000000},
        {"two-stage", BB_ARG_FLAG, &a.two_stage, NULL,
         "BitNet b1.58 two-stage recipe: at 50% the peak lr drops to 2/3 and weight decay to 0", 0, -1},
        {"loss-scale-interval", BB_ARG_INT, &a.scaler_interval, "N",
         "fp16 loss scaling: clean steps before the scale doubles (GradScaler default 2000)", 1, 100000000},
        {"steps", BB_ARG_INT, &a.steps, "N", "optimizer steps in the whole run", 1, 100000000},
        {"batch", BB_ARG_INT, &a.batch, "B", "sequences per micro-batch", 1, 65536},
        {"seq", BB_ARG_INT, &a.seq, "T", "sequence length (0: the model's max_seq)", 0, 1 << 20},
        {"accum", BB_ARG_INT, &a.accum, "N", "micro-batches per optimizer step", 1, 65536},
        {"lr", BB_ARG_DOUBLE, &a.lr, "X", "peak learning rate", 0, -1},
        {"min-lr-frac", BB_ARG_DOUBLE, &a.min_lr_frac, "X", "final lr as a fraction of the peak", 0, -1},
        {"warmup", BB_ARG_INT, &a.warmup, "N", "linear warmup steps", 0, 100000000},
        {"schedule", BB_ARG_STR, &a.schedule, "NAME", "cosine, linear or constant", 0, -1},
        {"wd", BB_ARG_DOUBLE, &a.wd, "X", "AdamW decoupled weight decay (matrices and embeddings)", 0, -1},
        {"beta1", BB_ARG_DOUBLE, &a.beta1, "X", "AdamW beta1", 0, -1},
        {"beta2", BB_ARG_DOUBLE, &a.beta2, "X", "AdamW beta2", 0, -1},
        {"eps", BB_ARG_DOUBLE, &a.eps, "X", "AdamW epsilon", 0, -1},
        {"clip", BB_ARG_DOUBLE, &a.clip, "X", "global grad-norm clip (0: off)", 0, -1},
        {"seed", BB_ARG_INT, &a.seed, "N", "seed for weights and data order", 0, 2147483647},
        {"eval-every", BB_ARG_INT, &a.eval_every, "N", "validate every N steps (0: only at the end)", 0, 100000000},
        {"eval-windows", BB_ARG_INT, &a.eval_windows, "N", "validation windows per evaluation (0: all)", 0, 100000000},
        {"save", BB_ARG_STR, &a.save, "FILE",
         "write a checkpoint here at the end (safetensors; with --lora the adapters, PEFT-like names)", 0, -1},
        {"save-every", BB_ARG_INT, &a.save_every, "N", "also checkpoint every N steps", 0, 100000000},
        {"stop-at", BB_ARG_INT, &a.stop_at, "N", "stop after step N (checkpoint with --save; resume later)", 0, 100000000},
        {"resume", BB_ARG_STR, &a.resume, "FILE", "continue from a checkpoint (same --steps/--schedule)", 0, -1},
        {"csv", BB_ARG_STR, &a.csv, "FILE", "per-step log as CSV", 0, -1},
        {"log-every", BB_ARG_INT, &a.log_every, "N", "log line interval when stderr is not a terminal", 1, 100000000},
        {"tok", BB_ARG_STR, &a.tok, "FILE", "tokenizer file (default: the cached 4,096-token one)", 0, -1},
        {"teacher", BB_ARG_STR, &a.teacher, "FILE",
         "knowledge distillation from this checkpoint (run forward only; same vocabulary; needs --kd)", 0, -1},
        {"kd", BB_ARG_STR, &a.kd_spec, "alpha=A,T=X",
         "distillation loss alpha*CE + (1-alpha)*T^2*KL(teacher||student) per token; alpha weights the hard CE "
         "(0..1, default 0.5), T > 0 (default 2); needs --teacher", 0, -1},
    };
    const bb_cmd_spec spec = {"train", "Train a model on the CPU and report loss, throughput and memory.",
                              "[--model PRESET] [--steps N] [--batch B] [--seq T] [--lr X] [--seed N] "
                              "[--teacher FILE --kd alpha=A,T=X] [--lora K=V,... --base CKPT] ...", args,
                              (int)(sizeof args / sizeof args[0]), 0, 0,
                              "Example: bitbench train --model small --data kjv --steps 200 --batch 8 --seq 256\n"
                              "Distillation: bitbench train --model tiny --precision b158 --teacher fp32.ckpt "
                              "--kd alpha=0.5,T=2\n(the logged loss is then the KD loss; val loss stays the student's "
                              "CE; the teacher's memory is its own line)\n"
                              "LoRA: bitbench train --lora r=8,alpha=16,dropout=0.05,targets=all-linear --base b.ckpt "
                              "--precision int8 --save a.lora (merge: bitbench lora merge)"};
    bb_args_parse(&spec, argc, argv, NULL);
    int sched = bb_sched_parse(a.schedule);
    if (sched < 0) bb_usage_error("train", "unknown --schedule '%s' (cosine, linear, constant)", a.schedule);
    if (strcmp(a.data, "kjv") != 0) bb_usage_error("train", "unknown --data '%s' (available: kjv)", a.data);
    bool mt = strcmp(a.task, "mt") == 0;
    int ckpt_mode = bb_ckpt_parse(a.checkpointing);
    if (ckpt_mode < 0)
        bb_usage_error("train", "--checkpointing must be none, selective or block, got '%s'", a.checkpointing);
    if (!mt && strcmp(a.task, "lm") != 0) bb_usage_error("train", "unknown --task '%s' (lm or mt)", a.task);
    if (a.teacher && !a.kd_spec) bb_usage_error("train", "--teacher needs --kd alpha=A,T=X");
    if (a.kd_spec && !a.teacher) bb_usage_error("train", "--kd needs --teacher CKPT");
    if (a.kd_spec) {
        char kerr[200];
        if (bb_kd_parse(a.kd_spec, &a.kd, kerr, sizeof kerr) != 0) bb_usage_error("train", "%s", kerr);
    }
    if (!(a.lr > 0) || a.min_lr_frac < 0 || a.min_lr_frac > 1 || a.wd < 0 || a.beta1 < 0 || a.beta1 >= 1 ||
        a.beta2 < 0 || a.beta2 >= 1 || !(a.eps > 0) || a.clip < 0)
        bb_usage_error("train", "optimizer settings out of range (lr > 0, 0 <= beta < 1, eps > 0, clip >= 0)");

    const bb_backend *be = bb_device_backend("train", a.device);
    bb_lora_config lcfg = bb_lora_config_default();
    char err[700], base_sha[65] = "", base_tok[65] = "";
    if (a.lora) {
        if (a.resume) bb_usage_error("train", "--resume does not continue LoRA runs (adapter files hold no optimizer state)");
        if (a.lambda_warmup) bb_usage_error("train", "--lambda-warmup is for full training (a LoRA base is frozen)");
        if (a.teacher) bb_usage_error("train", "--teacher with --lora is not supported yet (distill into a full student)");
        /* the adapters and backward_input run BLAS on host memory: the CPU backend only, for now */
        if (be != &bb_backend_cpu) bb_usage_error("train", "--lora runs on --device cpu only (no CUDA LoRA path yet)");
        if (bb_lora_config_parse(&lcfg, a.lora, err, sizeof err) != 0) bb_usage_error("train", "%s", err);
    } else if (a.base) {
        bb_usage_error("train", "--base needs --lora (full training continues with --resume)");
    }
    bb_model m;
    bb_config cfg;
    if (a.lora) {
        bb_prec_opts po = {.group = (int)a.group, .act = BB_ACTQ_INT8_TOKEN};
        int prec = a.precision ? bb_precision_parse(a.precision) : -1;
        if (a.precision && prec < 0) bb_usage_error("train", "unknown --precision '%s'", a.precision);
        if (prec >= 0) po.act = bb_precisions[prec].default_act;
        if (a.act_quant) {
            if (strcmp(a.act_quant, "block") == 0) po.act = BB_ACTQ_INT8_BLOCK;
            else if (strcmp(a.act_quant, "token") != 0) bb_usage_error("train", "--act-quant must be token or block");
        }
        bb_config dq = {.precision = prec >= 0 ? (bb_precision)prec : BB_PREC_FP32};
        bb_nf4_dq_apply(a.nf4_dq, "train", &dq);  /* nf4 (a base-only format): --nf4-double-quant */
        po.nf4_no_double_quant = dq.nf4_no_double_quant;
        if (a.base) {
            bb_set_threads(a.ma.threads);
            bb_ckpt_info info;
            if (bb_lora_load_base(&m, a.base, prec, &po, &bb_backend_cpu, &info, base_sha, err, sizeof err) != 0)
                bb_user_error("%s", err);
            snprintf(base_tok, sizeof base_tok, "%s", info.tokenizer);
        } else {  /* a random base from the seed: for memory and throughput measurements */
            bb_model_args_resolve(&a.ma, "train", &cfg);
            if (a.precision && bb_config_set_precision(&cfg, a.precision, err, sizeof err) != 0)
                bb_usage_error("train", "%s", err);
            cfg.group = po.group;
            cfg.act_quant = po.act;
            cfg.nf4_no_double_quant = po.nf4_no_double_quant;
            if (bb_config_validate(&cfg, err, sizeof err) != 0) bb_usage_error("train", "%s", err);
            bb_model src;
            if (bb_model_init(&src, &cfg, &bb_backend_cpu, false, err, sizeof err) != 0) bb_user_error("%s", err);
            bb_model_init_weights(&src, (uint64_t)a.seed);
            if (bb_lora_base_from_model(&m, &src, err, sizeof err) != 0) bb_user_error("%s", err);
            bb_model_free(&src);
            fprintf(stderr, "note: no --base: the frozen base is a random %s model from --seed\n", a.ma.model);
        }
        if (bb_lora_attach(&m, &lcfg, (uint64_t)a.seed, err, sizeof err) != 0) bb_user_error("%s", err);
        cfg = m.cfg;
    } else if (a.resume) {
        /* the checkpoint holds the model: a different shape or quantization cannot resume it */
        if (a.ma.overrides || a.ma.family)
            bb_usage_error("train", "--resume takes the model from the checkpoint: drop --%s", a.ma.overrides ? "set" : "family");
        bb_set_threads(a.ma.threads);
        bb_ckpt_info info;
        if (bb_checkpoint_load(&m, a.resume, be, true, &info, err, sizeof err) != 0)
            bb_user_error("%s", err);
        if (a.precision && bb_precision_parse(a.precision) != (int)m.cfg.precision)
            bb_usage_error("train", "--precision %s differs from the checkpoint's %s", a.precision,
                           bb_precisions[m.cfg.precision].name);
        if (info.seed != (uint64_t)a.seed)
            fprintf(stderr, "note: checkpoint seed %llu replaces --seed %ld\n", (unsigned long long)info.seed, a.seed);
        a.seed = (long)info.seed;
        cfg = m.cfg;
        if (m.step >= a.steps) bb_user_error("checkpoint is at step %d, not before --steps %ld", m.step, a.steps);
    } else {
        bb_model_args_resolve(&a.ma, "train", &cfg);
        if (a.precision && bb_config_set_precision(&cfg, a.precision, err, sizeof err) != 0)
            bb_usage_error("train", "%s", err);
        bb_nf4_dq_apply(a.nf4_dq, "train", &cfg);
        /* a frozen-base format: full training (QAT) of it is not a thing (QLoRA trains
         * adapters over it) */
        if (bb_precisions[cfg.precision].base_only)
            bb_usage_error("train", "%s is a base-only format: use it with --lora", bb_precisions[cfg.precision].name);
        cfg.group = (int)a.group;
        if (a.act_quant) {
            if (strcmp(a.act_quant, "block") == 0) cfg.act_quant = BB_ACTQ_INT8_BLOCK;
            else if (strcmp(a.act_quant, "token") != 0) bb_usage_error("train", "--act-quant must be token or block");
        }
        if (bb_config_validate(&cfg, err, sizeof err) != 0) bb_usage_error("train", "%s", err);
        if (bb_model_init(&m, &cfg, be, true, err, sizeof err) != 0) bb_user_error("%s", err);
        bb_model_init_weights(&m, (uint64_t)a.seed);
    }
    m.ckpt_mode = (bb_ckpt_mode)ckpt_mode;
    m.logits_in_place = true;  /* probabilities over the logits: nothing here reads logits after a loss */
    /* the warm-up blends quantization in, x + lambda (q(x) - x): values off the 16-bit grid,
     * which fp16/bf16 keep for backward in 16 bits (model.h bb_model_half_acts) */
    if (a.lambda_warmup && (cfg.act_quant == BB_ACTQ_FP16 || cfg.act_quant == BB_ACTQ_BF16))
        bb_usage_error("train", "--lambda-warmup is a warm-up for the integer precisions (int8, int4, b158), not %s",
                       bb_precisions[cfg.precision].name);
    if (a.seq == 0) a.seq = cfg.max_seq;
    if (a.seq > cfg.max_seq) bb_usage_error("train", "--seq %ld exceeds the model's max_seq %d", a.seq, cfg.max_seq);

    bb_tokenizer tok;
    bb_tokenizer_open(&tok, a.tok, BB_TOK_DEFAULT_VOCAB, true);
    if (base_tok[0] && strcmp(base_tok, tok.identity_hex) != 0)
        bb_user_error("the base was trained with tokenizer %.16s..., this tokenizer is %.16s...", base_tok,
                      tok.identity_hex);
    if (tok.vocab_size > cfg.vocab_size)
        bb_user_error("the tokenizer has %d tokens but the model's vocab_size is %d", tok.vocab_size, cfg.vocab_size);
    bb_tokens train_tok = {0}, valid_tok = {0};
    bb_lm_loader loader = {0};
    bb_mt_data mt_train = {0}, mt_dev = {0};
    bb_mt_loader mt_loader = {0};
    if (mt) {
        bb_mt_data_load(&mt_train, &tok, "train", (int)a.seq);
        bb_mt_data_load(&mt_dev, &tok, "dev", (int)a.seq);
        bb_mt_loader_init(&mt_loader, &mt_train, (int)a.batch, (uint64_t)a.seed);
        fprintf(stderr, "task mt: %d train pairs (%d truncated to %ld tokens, longest %d), %d dev pairs, %d batches/epoch\n",
                mt_train.n, mt_train.truncated, a.seq, mt_train.max_len, mt_dev.n, mt_loader.n_batches);
    } else {
        load_split_tokens(&tok, "lm/train", &train_tok);
        load_split_tokens(&tok, "lm/valid", &valid_tok);
        if (bb_lm_loader_init(&loader, train_tok.ids, train_tok.n, (int)a.seq, (uint64_t)a.seed) != 0)
            bb_user_error("the training split has %zu tokens, fewer than one window of %ld", train_tok.n, a.seq + 1);
    }

    char desc[256];
    bb_model teacher = {0};
    if (a.teacher) {
        bb_ckpt_info tinfo;
        if (bb_teacher_load(&teacher, a.teacher, &bb_backend_cpu, &tinfo, err, sizeof err) != 0) bb_user_error("%s", err);
        if (bb_teacher_check(&teacher.cfg, &cfg, (int)a.seq, err, sizeof err) != 0) bb_user_error("%s", err);
        if (tinfo.tokenizer[0] && strcmp(tinfo.tokenizer, tok.identity_hex) != 0)
            bb_user_error("the teacher was trained with tokenizer %.16s..., this run uses %.16s...: distillation needs "
                          "one vocabulary", tinfo.tokenizer, tok.identity_hex);
        bb_config_describe(&teacher.cfg, desc, sizeof desc);
        fprintf(stderr, "teacher %s (%s), %.2fM parameters, forward only; kd alpha %g (hard CE) T %g\n", a.teacher,
                desc, (double)teacher.n_params / 1e6, (double)a.kd.alpha, (double)a.kd.temp);
    }
    bb_config_describe(&cfg, desc, sizeof desc);
    if (m.lora) {
        double base_params = 0, packed = 0;
        bb_prec_opts po = bb_config_prec_opts(&cfg);
        for (int i = 0; i < BB_N_PARAMS; i++) base_params += (double)m.specs[i].numel;
        for (int k = 0; k < BB_N_QUANTIZED; k++) {
            const bb_tensor_spec *s = &m.specs[bb_quantized_params[k]];
            packed += cfg.n_layer * (double)bb_precisions[cfg.precision].packed_size((int)s->shape[1], (int)s->shape[2],
                                                                                       &po);
        }
        char targets[64];
        bb_lora_targets_name(lcfg.targets, targets, sizeof targets);
        fprintf(stderr, "base %s (%s), %.2fM parameters, frozen at %s: linears packed %.2f MiB, FP32 rest %.2f MiB\n",
                a.base ? a.base : a.ma.model, desc, base_params / 1e6, bb_precisions[cfg.precision].name,
                packed / 1048576.0, (double)m.n_params * 4 / 1048576.0);
        fprintf(stderr, "lora r=%d alpha=%g (scaling %g%s) dropout %g targets %s: %.4fM trainable parameters (%.2f%%)\n",
                lcfg.r, (double)lcfg.alpha, (double)m.lora->scaling, lcfg.rslora ? ", rsLoRA" : "",
                (double)lcfg.dropout, targets, (double)m.lora->n_params / 1e6,
                100.0 * (double)m.lora->n_params / base_params);
        fprintf(stderr, "precision %s (frozen base): weights %s; activations %s; adapters FP32\n",
                bb_precisions[cfg.precision].name, bb_precisions[cfg.precision].weights,
                bb_precisions[cfg.precision].activations);
    } else {
        fprintf(stderr, "model %s (%s), %.2fM parameters\n", a.ma.model, desc, (double)m.n_params / 1e6);
        fprintf(stderr, "precision %s: weights %s; activations %s%s\n", bb_precisions[cfg.precision].name,
                bb_precisions[cfg.precision].weights, bb_precisions[cfg.precision].activations,
                bb_precisions[cfg.precision].loss_scaling ? "; dynamic loss scaling" : "");
    }
    if (!mt)
        fprintf(stderr, "data %s: %zu train tokens, %zu windows of %ld; batch %ld x accum %ld; %s lr %.3g warmup %ld\n",
                a.data, train_tok.n, loader.n_windows, a.seq, a.batch, a.accum, a.schedule, a.lr, a.warmup);

    FILE *csv = NULL;
    bb_atomic_file csv_af;
    if (a.csv) {
        if (!(csv = bb_atomic_open(&csv_af, a.csv))) bb_user_error("cannot write %s: %s", a.csv, strerror(errno));
        fprintf(csv, "step,loss,lr,grad_norm,tokens_per_s,val_loss\n");
    }
    bb_schedule schedule = {(bb_sched_kind)sched, (float)a.lr, (float)a.min_lr_frac, (int)a.warmup, (int)a.steps};
    /* LoRA: the frozen base's gradients are FP32 (backward_input), so nothing underflows */
    bb_grad_scaler scaler = bb_grad_scaler_default(bb_precisions[cfg.precision].loss_scaling && !m.lora);
    scaler.growth_interval = (int)a.scaler_interval;
    bb_adamw opt = {(float)a.lr, (float)a.beta1, (float)a.beta2, (float)a.eps, (float)a.wd, (float)a.clip};
    int B = (int)a.batch, T = (int)a.seq;
    int *inputs = bb_alloc(BB_MEM_DATA, (size_t)B * T * sizeof(int)), *targets = bb_alloc(BB_MEM_DATA, (size_t)B * T * sizeof(int));
    bb_progress prog;
    long start_step = m.step, end_step = a.stop_at > 0 && a.stop_at < a.steps ? a.stop_at : a.steps;
    if (end_step <= start_step) bb_user_error("--stop-at %ld is not after the current step %ld", a.stop_at, start_step);
    bb_progress_init(&prog, end_step - start_step);
    if (start_step == 0) {
        double v0 = validate(&m, &tok, mt, &valid_tok, &mt_dev, B, T, a.eval_windows, inputs, targets);
        fprintf(stderr, "initial val loss %.4f\n", v0);
        if (csv) fprintf(csv, "0,,,,,%.9g\n", v0);
    }
    double tokens_done = 0, t_train = 0;
    float last_loss = NAN;
    for (long step = m.step; step < end_step; step++) {
        double t0 = bb_now();
        float lr = bb_schedule_lr(&schedule, (int)step);
        opt.weight_decay = (float)a.wd;
        if (a.two_stage && step >= a.steps / 2) {  /* BitNet b1.58 Tips PDF Table 2 */
            bb_schedule stage2 = schedule;
            stage2.lr = schedule.lr * (2.0f / 3.0f);
            stage2.warmup = 0;
            stage2.kind = BB_SCHED_LINEAR;
            stage2.total = (int)(a.steps - a.steps / 2);
            lr = bb_schedule_lr(&stage2, (int)(step - a.steps / 2));
            opt.weight_decay = 0.0f;
        }
        if (a.lambda_warmup > 0 && cfg.precision != BB_PREC_FP32) {
            float lambda = (float)step / (float)a.lambda_warmup;
            m.quant_lambda = lambda < 1.0f ? lambda : 1.0f;
            bb_model_requantize(&m);
        }
        bb_model_zero_grad(&m);
        bb_lora_set_training(&m, true);
        double loss_sum = 0, tokens_step = 0;
        for (long micro = 0; micro < a.accum; micro++) {
            int Tb = T;
            if (mt) Tb = bb_mt_loader_batch(&mt_loader, step * a.accum + micro, inputs, targets);
            else bb_lm_loader_batch(&loader, step * a.accum + micro, B, inputs, targets);
            if (a.teacher) {  /* the teacher's logits stay in its tables until its next forward */
                const float *tlogits = bb_teacher_logits(&teacher, inputs, B, Tb);
                loss_sum += bb_model_forward_kd(&m, inputs, targets, tlogits, a.kd.alpha, a.kd.temp, B, Tb);
            } else {
                loss_sum += bb_model_forward(&m, inputs, targets, B, Tb);
            }
            tokens_step += (double)B * Tb;
            bb_model_backward(&m, bb_grad_scaler_factor(&scaler) / (float)a.accum);
        }
        float norm;
        if (!bb_model_step_scaled(&m, &scaler, &opt, lr, &norm))
            fprintf(stderr, "step %ld: inf/NaN gradients, step skipped, loss scale now %g\n", step + 1,
                    (double)scaler.scale);
        double dt = bb_now() - t0;
        t_train += dt;
        tokens_done += tokens_step;
        last_loss = (float)(loss_sum / a.accum);
        if (!isfinite(last_loss)) bb_user_error("loss became %f at step %ld; lower --lr", last_loss, step);
        double val = NAN;
        bool last = step + 1 == end_step;
        if ((a.eval_every > 0 && (step + 1) % a.eval_every == 0) || last)
            val = validate(&m, &tok, mt, &valid_tok, &mt_dev, B, T, a.eval_windows, inputs, targets);
        char status[256];
        snprintf(status, sizeof status, "step %ld/%ld  loss %.4f  lr %.2e  norm %.3f  %.0f tok/s%s", step + 1, a.steps,
                 last_loss, lr, norm, tokens_step / dt, "");
        if (!isnan(val)) snprintf(status + strlen(status), sizeof status - strlen(status), "  val %.4f", val);
        if (prog.tty || (step - start_step) % a.log_every == 0 || last || !isnan(val))
            bb_progress_update(&prog, step + 1 - start_step, status);
        if (csv) {
            fprintf(csv, "%ld,%.9g,%.9g,%.9g,%.1f,", step + 1, last_loss, lr, norm, tokens_step / dt);
            if (!isnan(val)) fprintf(csv, "%.9g", val);
            fprintf(csv, "\n");
        }
        if (a.save && a.save_every > 0 && (step + 1) % a.save_every == 0 && !last) save_checkpoint(&m, a.save, &a, &tok, base_sha);
    }
    bb_progress_finish(&prog);
    if (a.save) {
        save_checkpoint(&m, a.save, &a, &tok, base_sha);
        fprintf(stderr, "%s written: %s (step %d)\n", m.lora ? "adapters" : "checkpoint", a.save, m.step);
    }
    if (csv && bb_atomic_commit(&csv_af) != 0) bb_user_error("cannot write %s: %s", a.csv, strerror(errno));
    printf("final train loss %.6f after %d steps; %.0f tokens/s over %ld steps (%.1f GFLOP/s of model FLOPs)\n",
           last_loss, m.step, tokens_done / t_train, end_step - start_step,
           tokens_done / t_train * (m.lora ? bb_lora_flops_per_token(&m, T) : bb_model_flops_per_token(&cfg, T)) / 1e9);
    bb_mem_print(stdout);
    if (be != &bb_backend_cpu) bb_cuda_mem_print(stdout);
    bb_free(inputs);
    bb_free(targets);
    if (mt) {
        bb_mt_loader_free(&mt_loader);
        bb_mt_data_free(&mt_train);
        bb_mt_data_free(&mt_dev);
    } else {
        bb_lm_loader_free(&loader);
    }
    bb_tokens_free(&train_tok);
    bb_tokens_free(&valid_tok);
    bb_tokenizer_free(&tok);
    if (a.teacher) bb_model_free(&teacher);
    bb_model_free(&m);
    return 0;
}
